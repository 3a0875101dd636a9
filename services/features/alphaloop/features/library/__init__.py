"""The feature library: one module per family registers its features (numba kernels on one
symbol's float64 arrays) in :mod:`.registry`; :mod:`.engine` computes them point in time."""

from __future__ import annotations

from alphaloop.features.library import (  # noqa: F401  (importing registers the features)
    behavioural,
    calendar,
    cross_sectional,
    fracdiff,
    microstructure,
    momentum,
    price,
    regime,
    trend,
    volatility,
    volume,
)
from alphaloop.features.library.engine import Panel, SymbolBars, compute
from alphaloop.features.library.fracdiff import FracDiffSelector, ffd_series, ffd_weights
from alphaloop.features.library.registry import FAMILIES, REGISTRY, FeatureSpec


def describe(family: str | None = None) -> list[FeatureSpec]:
    """Every registered feature (or one family's), in registration order."""
    return [s for s in REGISTRY.values() if family is None or s.family == family]


__all__ = [
    "FAMILIES", "REGISTRY", "FeatureSpec", "FracDiffSelector", "Panel", "SymbolBars", "compute",
    "describe", "ffd_series", "ffd_weights",
]
