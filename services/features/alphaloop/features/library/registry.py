"""The feature registry: every feature is registered once, with its family, the bar columns it
reads, its warm-up and the function that computes it. ``describe()`` reads this table and the
engine (``engine.compute``) runs it."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

#: Bar columns a feature may read. ``timestamp`` is always present.
BAR_INPUTS = ("open", "high", "low", "close", "volume", "timestamp")

FAMILIES = (
    "price", "momentum", "trend", "volatility", "volume", "microstructure", "fracdiff",
    "calendar", "cross_sectional", "regime", "behavioural",
)

Kind = Literal["series", "panel"]


@dataclass(frozen=True)
class FeatureSpec:
    """One feature.

    ``kind`` says how the engine calls ``function``: a ``series`` feature is
    ``function(bars: SymbolBars, **params) -> ndarray`` over one symbol's time-sorted rows; a
    ``panel`` feature is ``function(panel: Panel, **params) -> ndarray`` over every row in the
    panel's (symbol, time) order and may read other symbols on the same date.
    ``warmup`` is the number of leading bars without a value on clean input. ``talib`` names
    the TA-Lib call the feature reproduces exactly, when there is one.
    """

    name: str
    family: str
    inputs: tuple[str, ...]
    warmup: int
    description: str
    function: Callable[..., Any] = field(repr=False, compare=False)
    kind: Kind = "series"
    params: Mapping[str, Any] = field(default_factory=dict)
    depends: tuple[str, ...] = ()
    talib: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "family": self.family, "inputs": list(self.inputs),
            "warmup": self.warmup, "kind": self.kind, "params": dict(self.params),
            "talib": self.talib, "description": self.description,
        }


_REGISTRY: dict[str, FeatureSpec] = {}
#: Read-only view of every registered feature, in registration order.
REGISTRY: Mapping[str, FeatureSpec] = MappingProxyType(_REGISTRY)


def register(spec: FeatureSpec) -> FeatureSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"feature {spec.name!r} is registered twice")
    if spec.family not in FAMILIES:
        raise ValueError(f"feature {spec.name!r}: unknown family {spec.family!r}")
    unknown = set(spec.inputs) - set(BAR_INPUTS)
    if unknown:
        raise ValueError(f"feature {spec.name!r}: unknown inputs {sorted(unknown)}")
    if not spec.description:
        raise ValueError(f"feature {spec.name!r} has no formula in its docstring")
    _REGISTRY[spec.name] = spec
    return spec


def define(
    name: str,
    function: Callable[..., Any],
    *,
    family: str,
    inputs: tuple[str, ...],
    warmup: int,
    doc: str | None = None,
    kind: Kind = "series",
    params: Mapping[str, Any] | None = None,
    depends: tuple[str, ...] = (),
    talib: str | None = None,
) -> FeatureSpec:
    """Register ``function`` as feature ``name``. ``doc`` (the formula) becomes the function's
    docstring when given, so loop-made features carry their own formula too."""
    if doc is not None:
        function.__doc__ = doc
        function.__name__ = function.__qualname__ = name
    return register(FeatureSpec(
        name=name, family=family, inputs=tuple(inputs), warmup=int(warmup),
        description=inspect.getdoc(function) or "", function=function, kind=kind,
        params=MappingProxyType(dict(params or {})), depends=tuple(depends), talib=talib,
    ))


def feature(
    name: str,
    *,
    family: str,
    inputs: tuple[str, ...],
    warmup: int,
    kind: Kind = "series",
    params: Mapping[str, Any] | None = None,
    depends: tuple[str, ...] = (),
    talib: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator form of :func:`define`; the decorated function's docstring is the formula."""

    def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
        define(name, function, family=family, inputs=inputs, warmup=warmup, kind=kind,
               params=params, depends=depends, talib=talib)
        return function

    return wrap
