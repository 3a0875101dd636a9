"""Market data sources. Each source returns bars in the store's column layout."""

from alphaloop.ingest.sources.bundled import BAR_COLUMNS, BytetheorySource

__all__ = ["BAR_COLUMNS", "BytetheorySource"]
