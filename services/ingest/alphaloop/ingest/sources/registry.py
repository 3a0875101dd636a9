"""Every market data source by name: ``make_source("alpaca", api_key=..., ...)``.

A factory takes the source's config fields as keyword arguments (anything not given comes
from ``ALPHALOOP_INGEST_<SOURCE>_<FIELD>`` environment variables), or a ready ``config=``,
plus the runtime collaborators ``throttle=`` and ``clock=`` for the vendor clients. Vendor
modules are imported only when their source is made, so listing sources needs neither
alpaca-py nor polygon-api-client.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from alphaloop.ingest.sources.base import BarSource

_RUNTIME = ("throttle", "clock")


def _vendor(module: str, source: str, config: str) -> Callable[..., BarSource]:
    def make(**kwargs: Any) -> BarSource:
        mod = import_module(f"alphaloop.ingest.sources.{module}")
        runtime = {k: kwargs.pop(k) for k in _RUNTIME if k in kwargs}
        cfg = kwargs.pop("config", None)
        if cfg is None:
            cfg = getattr(mod, config)(**kwargs)
        elif kwargs:
            raise TypeError(f"pass either config= or config fields, not both: {sorted(kwargs)}")
        return getattr(mod, source)(cfg, **runtime)

    make.__doc__ = f"{source}({config}(**fields), throttle=..., clock=...)"
    return make


def _files(**kwargs: Any) -> BarSource:
    from alphaloop.ingest.sources.files_source import FilesConfig, FilesSource

    cfg = kwargs.pop("config", None)
    return FilesSource(cfg if cfg is not None else FilesConfig(**kwargs))


def _synthetic(**kwargs: Any) -> BarSource:
    from alphaloop.ingest.sources.synthetic import SyntheticConfig, SyntheticSource

    cfg = kwargs.pop("config", None)
    return SyntheticSource.from_config(cfg if cfg is not None else SyntheticConfig(**kwargs))


def _bytetheory(**kwargs: Any) -> BarSource:
    from alphaloop.ingest.sources.bundled import BytetheorySource

    if kwargs:
        raise TypeError(f"the bundled source takes no settings, got {sorted(kwargs)}")
    return BytetheorySource()


#: name -> factory(**config) returning a BarSource. The name is the source's ``name``.
SOURCES: dict[str, Callable[..., BarSource]] = {
    "bytetheory": _bytetheory,
    "files": _files,
    "synthetic": _synthetic,
    "alpaca": _vendor("alpaca", "AlpacaSource", "AlpacaConfig"),
    "polygon": _vendor("polygon", "PolygonSource", "PolygonConfig"),
    "alphavantage": _vendor("alphavantage", "AlphaVantageSource", "AlphaVantageConfig"),
    "fred": _vendor("fred", "FredSource", "FredConfig"),
    "coinbase": _vendor("coinbase", "CoinbaseSource", "CoinbaseConfig"),
}


def make_source(name: str, **config: Any) -> BarSource:
    """The source called ``name``, built from ``config`` (its config class's fields)."""
    try:
        factory = SOURCES[name]
    except KeyError:
        raise ValueError(
            f"unknown source {name!r}; choose from {', '.join(sorted(SOURCES))}"
        ) from None
    return factory(**config)
