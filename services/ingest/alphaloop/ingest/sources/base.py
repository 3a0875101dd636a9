"""The adapter template every market data source implements.

| member | kind | what it must do |
|---|---|---|
| ``name`` | class attribute | short id used in settings, checkpoints and the bars' ``source`` column |
| ``license`` | class attribute | where the data comes from and under what terms |
| ``rate_limit`` | class attribute | the vendor's documented limit, as a :class:`RateLimit` |
| ``batch_size`` | class attribute | symbols per hydration batch (and per checkpoint) |
| ``symbols()`` | method | a frame of ``symbol, name, sector, industry`` (empty strings where unknown) |
| ``fetch(symbols, start, end, interval)`` | method | bars in :data:`BAR_COLUMNS` layout, unfiltered (the quality gate judges), ``ts`` UTC |

``fetch`` raises :class:`PermanentSymbolError` for a symbol the vendor will never serve
(unknown ticker, no entitlement): hydration records it and moves on. It raises
:class:`TransientSourceError` (or :class:`RateLimitedError`) for failures worth retrying
(HTTP 429 / 5xx, timeouts): the caller retries with exponential backoff and jitter.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import pandas as pd

BAR_COLUMNS = [
    "symbol", "interval", "ts", "open", "high", "low", "close", "volume",
    "vwap", "trade_count", "source",
]
SYMBOL_COLUMNS = ["symbol", "name", "sector", "industry"]


@dataclass(frozen=True)
class RateLimit:
    """``requests`` per ``per_seconds``, from the vendor's documentation."""

    requests: int
    per_seconds: float

    @property
    def rate(self) -> float:
        return self.requests / self.per_seconds


class SourceError(Exception):
    """Base of every error a source raises."""


class PermanentSymbolError(SourceError):
    def __init__(self, symbol: str, reason: str) -> None:
        self.symbol = symbol
        self.reason = reason
        super().__init__(f"{symbol}: {reason}")


class TransientSourceError(SourceError):
    """Worth retrying: the vendor or the network failed, not the request."""


class RateLimitedError(TransientSourceError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class BarSource(ABC):
    name: str = ""
    license: str = ""
    rate_limit: RateLimit = RateLimit(requests=1_000_000, per_seconds=1.0)
    batch_size: int = 50

    @abstractmethod
    def symbols(self) -> pd.DataFrame:
        """symbol, name, sector, industry for every symbol the source can serve."""

    @abstractmethod
    def fetch(
        self,
        symbols: Sequence[str],
        start: date | None = None,
        end: date | None = None,
        interval: str = "1d",
    ) -> pd.DataFrame:
        """Bars for ``symbols`` with start <= ts.date() <= end, in BAR_COLUMNS layout."""
