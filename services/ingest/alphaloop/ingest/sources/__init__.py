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

__all__ = [
    "BAR_COLUMNS", "SYMBOL_COLUMNS", "BarSource", "BytetheorySource", "PermanentSymbolError",
    "RateLimit", "RateLimitedError", "SourceError", "TransientSourceError",
]
