"""Market data sources behind one interface (see ``base.BarSource`` for the template)."""

from alphaloop.ingest.sources.base import (
    BAR_COLUMNS,
    SYMBOL_COLUMNS,
    BarSource,
    PermanentSymbolError,
    RateLimit,
    RateLimitedError,
    SourceError,
    TransientSourceError,
)
from alphaloop.ingest.sources.bundled import BytetheorySource
from alphaloop.ingest.sources.files_source import FilesConfig, FilesSource, to_bar_frame
from alphaloop.ingest.sources.registry import SOURCES, make_source
from alphaloop.ingest.sources.synthetic import SyntheticConfig, SyntheticSource

# The vendor sources (Alpaca, Polygon, ...) load their client libraries on first use:
# see __getattr__ below.
__all__ = [
    "BAR_COLUMNS",
    "SOURCES",
    "SYMBOL_COLUMNS",
    "AlpacaConfig",
    "AlpacaSource",
    "AlphaVantageConfig",
    "AlphaVantageSource",
    "BarSource",
    "BytetheorySource",
    "CoinbaseConfig",
    "CoinbaseSource",
    "FilesConfig",
    "FilesSource",
    "FredConfig",
    "FredSource",
    "PermanentSymbolError",
    "PolygonConfig",
    "PolygonSource",
    "RateLimit",
    "RateLimitedError",
    "SourceError",
    "SyntheticConfig",
    "SyntheticSource",
    "TransientSourceError",
    "make_source",
    "to_bar_frame",
]

_VENDOR_MODULES = {
    "AlpacaConfig": "alpaca",
    "AlpacaSource": "alpaca",
    "AlphaVantageConfig": "alphavantage",
    "AlphaVantageSource": "alphavantage",
    "CoinbaseConfig": "coinbase",
    "CoinbaseSource": "coinbase",
    "FredConfig": "fred",
    "FredSource": "fred",
    "PolygonConfig": "polygon",
    "PolygonSource": "polygon",
}


def __getattr__(name: str):
    # alpaca-py alone takes ~0.5 s to import: load a vendor module only when it is asked for.
    if name in _VENDOR_MODULES:
        from importlib import import_module

        module = import_module(f"alphaloop.ingest.sources.{_VENDOR_MODULES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
