"""Coinbase Exchange candles (``GET /products/{product_id}/candles``) over plain HTTP (httpx).

Public endpoint, no key. A candle is ``[time, low, high, open, close, volume]`` (note the
order: low and high come before open), newest first, at most 300 per request: a longer range
is walked forward in windows of ``max_candles`` buckets. Candles are stamped at the bucket
start in UTC; daily candles start at 00:00 UTC, which already is the house convention.
Crypto trades every day, so daily bars include weekends.

Errors: 404 (unknown product) -> :class:`PermanentSymbolError`; 429 ->
:class:`RateLimitedError`; 5xx -> :class:`TransientSourceError`; 400 (e.g. a bad
granularity) -> ``InvalidInputError``. Limit: 10 requests/second per IP, bursts up to 15.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pandas as pd
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from alphaloop.common.clock import Clock, LiveClock
from alphaloop.common.errors import InvalidInputError
from alphaloop.ingest.ratelimit import direct, error_for_status, retry_after_from
from alphaloop.ingest.sources.base import (
    SYMBOL_COLUMNS,
    BarSource,
    PermanentSymbolError,
    RateLimit,
    TransientSourceError,
)
from alphaloop.ingest.sources.files_source import to_bar_frame

#: interval -> granularity in seconds (the only values the API accepts).
GRANULARITIES = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "6h": 21600, "1d": 86400}


class CoinbaseConfig(BaseSettings):
    """Settings of the Coinbase source. Environment: ``ALPHALOOP_INGEST_COINBASE_<FIELD>``
    (``symbols`` as a JSON list of product ids such as ``["BTC-USD", "ETH-USD"]``)."""

    model_config = SettingsConfigDict(
        env_prefix="ALPHALOOP_INGEST_COINBASE_", frozen=True, extra="forbid"
    )

    base_url: str = Field(
        "https://api.exchange.coinbase.com", description="Exchange API root (tests: local)."
    )
    requests_per_second: int = Field(10, ge=1, description="Documented public limit: 10/s.")
    burst: int = Field(15, ge=1, description="Documented burst (a token bucket capacity).")
    max_candles: int = Field(300, ge=1, le=300, description="Candles per request (max 300).")
    symbols: tuple[str, ...] = Field((), description="Product ids to hydrate (symbols()).")
    default_start: date = Field(
        date(2015, 7, 20), description="Start when none is given (BTC-USD's first day)."
    )
    timeout_seconds: float = Field(30.0, gt=0, description="Per-request HTTP timeout.")


class CoinbaseSource(BarSource):
    """Crypto candles from Coinbase Exchange's public market data."""

    name = "coinbase"
    license = "Coinbase Exchange public market data; Coinbase's terms of service"
    rate_limit = RateLimit(requests=10, per_seconds=1.0)
    batch_size = 1  # one product per request series

    def __init__(
        self,
        config: CoinbaseConfig | None = None,
        *,
        throttle: Callable[[Callable[[], Any]], Any] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config or CoinbaseConfig()
        self.rate_limit = RateLimit(self.config.requests_per_second, 1.0)
        self._throttle = throttle or direct
        self._clock = clock or LiveClock()
        self._http = httpx.Client(
            base_url=self.config.base_url.rstrip("/"),
            timeout=self.config.timeout_seconds,
            headers={"User-Agent": "alphaloop-ingest"},
        )

    def close(self) -> None:
        self._http.close()

    def symbols(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"symbol": list(self.config.symbols), "name": "", "sector": "crypto", "industry": ""},
            columns=SYMBOL_COLUMNS,
        )

    def fetch(
        self,
        symbols: Sequence[str],
        start: date | None = None,
        end: date | None = None,
        interval: str = "1d",
    ) -> pd.DataFrame:
        if interval not in GRANULARITIES:
            raise InvalidInputError(
                "interval", f"Coinbase candles come in {', '.join(GRANULARITIES)}, not {interval!r}"
            )
        step = GRANULARITIES[interval]
        first = _epoch(datetime.combine(start or self.config.default_start, time(0), UTC))
        stop = _epoch(
            datetime.combine((end or self._clock.now().date()) + timedelta(days=1), time(0), UTC)
        )
        frames = [self._product(p, first, stop, step, interval) for p in symbols]
        if not frames:
            return to_bar_frame({"symbol": [], "ts": []}, source=self.name, interval=interval)
        return pd.concat(frames, ignore_index=True)

    def _product(
        self, product: str, first: int, stop: int, step: int, interval: str
    ) -> pd.DataFrame:
        candles: dict[int, list[float]] = {}
        window = step * self.config.max_candles
        for lo in range(first, stop, window):
            hi = min(lo + window, stop) - step  # last bucket start: exactly max_candles buckets
            for candle in self._get(product, lo, hi, step):
                t = int(candle[0])
                if lo <= t <= hi:  # the API may return buckets before start
                    candles[t] = candle
        times = sorted(candles)
        rows = [candles[t] for t in times]
        data = {
            "symbol": [product] * len(rows),
            "ts": pd.to_datetime(times, unit="s", utc=True),
            "low": [r[1] for r in rows],
            "high": [r[2] for r in rows],
            "open": [r[3] for r in rows],
            "close": [r[4] for r in rows],
            "volume": [r[5] for r in rows],
        }
        return to_bar_frame(data, source=self.name, interval=interval)

    def _get(self, product: str, lo: int, hi: int, step: int) -> list[list[float]]:
        params = {"granularity": step, "start": _iso(lo), "end": _iso(hi)}

        def once() -> list[list[float]]:
            try:
                response = self._http.get(f"/products/{product}/candles", params=params)
            except httpx.TransportError as exc:
                raise TransientSourceError(f"coinbase: {type(exc).__name__}: {exc}") from exc
            if response.status_code != 200:
                raise self._error(response, product)
            try:
                body = response.json()
            except ValueError as exc:
                raise TransientSourceError(f"coinbase: answer is not JSON: {exc}") from exc
            if not isinstance(body, list):
                raise TransientSourceError(f"coinbase: expected a list of candles: {body!r:.200}")
            return body

        return self._throttle(once)

    def _error(self, response: httpx.Response, product: str) -> Exception:
        try:
            message = str(response.json().get("message", response.text))
        except (ValueError, AttributeError):
            message = response.text[:300]
        status = response.status_code
        if status == 404:
            return PermanentSymbolError(product, f"coinbase HTTP 404: {message}")
        if status == 400:
            return InvalidInputError("request", f"coinbase HTTP 400: {message}")
        return error_for_status(
            "coinbase",
            status,
            message,
            symbol=product,
            retry_after=retry_after_from(response.headers, self._clock),
        )


def _epoch(when: datetime) -> int:
    return int(when.timestamp())


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
