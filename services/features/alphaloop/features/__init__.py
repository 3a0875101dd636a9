"""AlphaLoop features: a point-in-time feature library (numba kernels, TA-Lib definitions).

``compute(bars, names=None)`` returns one float64 column per feature, indexed like ``bars``;
``describe()`` lists every feature with its family, inputs, warm-up and formula. The library
(and numba) loads on first use, so importing the service's settings stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    import pandas as pd

    from alphaloop.features.library import FeatureSpec, FracDiffSelector

__all__ = ["FeatureSpec", "FracDiffSelector", "compute", "describe"]


def compute(
    bars: pd.DataFrame,
    names: Iterable[str] | str | None = None,
    *,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    market_index: pd.Series | None = None,
    threads: int | None = None,
) -> pd.DataFrame:
    """Features for ``bars``: one float64 column per feature, same index and row order.

    ``bars`` has ``symbol``, ``timestamp`` (or ``ts``) and ``close``, and any of ``open``,
    ``high``, ``low``, ``volume`` (and ``vwap``); rows may come in any order. Each symbol's
    rows are processed in time order; cross-sectional features use every symbol on a date.
    ``names`` picks features (default: all). A feature whose inputs the bars lack is left out,
    with one logged warning naming it and what it needs; unknown names raise
    ``InvalidInputError("names", ...)``. ``params`` overrides a feature's parameters, e.g.
    ``{"ffd_log_close": {"d": 0.35}}``. ``market_index`` (close by timestamp) replaces the
    equal-weighted universe index of the regime features. ``threads`` defaults to the CPUs
    available (one thread for small inputs).
    """
    from alphaloop.features.library import compute as _compute

    return _compute(bars, names, params=params, market_index=market_index, threads=threads)


def describe(family: str | None = None) -> list[FeatureSpec]:
    """Every feature as a :class:`FeatureSpec` (name, family, inputs, warmup, description with
    the formula, ...), in registration order; ``family`` filters."""
    from alphaloop.features.library import describe as _describe

    return _describe(family)


def __getattr__(name: str) -> Any:
    if name in ("FeatureSpec", "FracDiffSelector"):
        from alphaloop.features import library

        return getattr(library, name)
    raise AttributeError(f"module 'alphaloop.features' has no attribute {name!r}")
