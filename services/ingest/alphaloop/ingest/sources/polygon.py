"""Polygon.io aggregates (``GET /v2/aggs/ticker/{T}/range/{n}/{span}/{from}/{to}``) through
polygon-api-client's ``RESTClient``, one ticker per request, following ``next_url``.

The client's urllib3 pool retries 429/5xx on its own with wall-clock sleeps and reports a
failure only as ``BadResponse(body)``, dropping the status. The source wraps the pool so that
each HTTP request goes through the source's throttle (token bucket + backoff on the injected
clock) with urllib3's retries off, and errors are mapped from the status: 429 ->
:class:`RateLimitedError`, 5xx -> :class:`TransientSourceError`, 404 ->
:class:`PermanentSymbolError`, 401 -> bad key, 403 -> plan not entitled. Polygon answers an
unknown ticker's aggregates with an empty ``OK``; when that happens the source asks the ticker
reference (``/v3/reference/tickers/{T}``) once, and its 404 makes the ticker permanent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import pandas as pd
import urllib3
from polygon import RESTClient
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from alphaloop.common.clock import Clock, LiveClock
from alphaloop.common.errors import InvalidInputError, SettingsError
from alphaloop.ingest.ratelimit import direct, error_for_status, retry_after_from
from alphaloop.ingest.sources.base import (
    SYMBOL_COLUMNS,
    BarSource,
    PermanentSymbolError,
    RateLimit,
    TransientSourceError,
)
from alphaloop.ingest.sources.files_source import to_bar_frame

TIMESPANS = {
    "1m": (1, "minute"),
    "5m": (5, "minute"),
    "15m": (15, "minute"),
    "30m": (30, "minute"),
    "1h": (1, "hour"),
    "1d": (1, "day"),
}
_TICKER_IN_PATH = re.compile(r"/(?:v2/aggs/ticker|v3/reference/tickers)/([^/?]+)")


class PolygonConfig(BaseSettings):
    """Settings of the Polygon source. Environment: ``ALPHALOOP_INGEST_POLYGON_<FIELD>``
    (``symbols`` as a JSON list)."""

    model_config = SettingsConfigDict(
        env_prefix="ALPHALOOP_INGEST_POLYGON_", frozen=True, extra="forbid"
    )

    api_key: SecretStr | None = Field(None, description="API key (sent as a Bearer token).")
    base_url: str = Field("https://api.polygon.io", description="API root (tests: a local server).")
    adjusted: bool = Field(True, description="Split-adjusted aggregates.")
    requests_per_minute: int = Field(
        5, ge=1, description="Documented limit: 5/min on the free tier; paid plans unlimited."
    )
    page_limit: int = Field(
        50_000, ge=1, le=50_000, description="Base aggregates per page (max 50,000)."
    )
    verify_empty: bool = Field(
        True,
        description="On an empty answer, ask the ticker reference whether the ticker "
        "exists (one extra request) so an unknown ticker becomes a permanent error.",
    )
    symbols: tuple[str, ...] = Field((), description="Universe to hydrate (symbols()).")
    default_start: date = Field(
        date(2004, 1, 1), description="Start when none is given (the free tier keeps 2 years)."
    )
    timeout_seconds: float = Field(30.0, gt=0, description="Per-request HTTP timeout.")


class PolygonSource(BarSource):
    """US equity aggregates from Polygon.io."""

    name = "polygon"
    license = "Polygon.io market data; Polygon's terms, not redistributable"
    rate_limit = RateLimit(requests=5, per_seconds=60.0)
    batch_size = 1  # one ticker per request: a batch per ticker keeps retries and checkpoints tight

    def __init__(
        self,
        config: PolygonConfig | None = None,
        *,
        throttle: Callable[[Callable[[], Any]], Any] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config or PolygonConfig()
        if self.config.api_key is None:
            raise SettingsError("the Polygon source needs ALPHALOOP_INGEST_POLYGON_API_KEY")
        self.rate_limit = RateLimit(self.config.requests_per_minute, 60.0)
        self._clock = clock or LiveClock()
        self._client = RESTClient(
            api_key=self.config.api_key.get_secret_value(),
            base=self.config.base_url.rstrip("/"),
            retries=0,
            pagination=True,
            connect_timeout=self.config.timeout_seconds,
            read_timeout=self.config.timeout_seconds,
        )
        self._client.client = _PacedPool(
            self._client.client,
            throttle or direct,
            self._clock,
            urllib3.Timeout(connect=self.config.timeout_seconds, read=self.config.timeout_seconds),
        )

    def symbols(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"symbol": list(self.config.symbols), "name": "", "sector": "", "industry": ""},
            columns=SYMBOL_COLUMNS,
        )

    def fetch(
        self,
        symbols: Sequence[str],
        start: date | None = None,
        end: date | None = None,
        interval: str = "1d",
    ) -> pd.DataFrame:
        if interval not in TIMESPANS:
            raise InvalidInputError(
                "interval", f"Polygon aggregates come in {', '.join(TIMESPANS)}, not {interval!r}"
            )
        multiplier, timespan = TIMESPANS[interval]
        start = start or self.config.default_start
        end = end or self._clock.now().date()
        frames = []
        for symbol in symbols:
            aggs = list(
                self._client.list_aggs(
                    symbol,
                    multiplier,
                    timespan,
                    start.isoformat(),
                    end.isoformat(),
                    adjusted=self.config.adjusted,
                    sort="asc",
                    limit=self.config.page_limit,
                )
            )
            if not aggs and self.config.verify_empty:
                self._client.get_ticker_details(symbol, date=end.isoformat())
            frames.append(self._to_frame(symbol, aggs, interval))
        bars = pd.concat(frames, ignore_index=True) if frames else self._to_frame("", [], interval)
        mask = bars["ts"] >= pd.Timestamp(start, tz="UTC")
        mask &= bars["ts"] < pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)
        return bars[mask].sort_values(["symbol", "ts"], kind="stable").reset_index(drop=True)

    def _to_frame(self, symbol: str, aggs: list, interval: str) -> pd.DataFrame:
        def values(attr: str) -> list[float]:
            return [float("nan") if getattr(a, attr) is None else getattr(a, attr) for a in aggs]

        data = {
            "symbol": [symbol] * len(aggs),
            "ts": pd.to_datetime([a.timestamp for a in aggs], unit="ms", utc=True),
            "open": values("open"),
            "high": values("high"),
            "low": values("low"),
            "close": values("close"),
            "volume": values("volume"),
            "vwap": values("vwap"),
            "trade_count": values("transactions"),
        }
        return to_bar_frame(
            data, source=self.name, interval=interval, session_tz="America/New_York"
        )


class _PacedPool:
    """Stands in for the client's urllib3 ``PoolManager``: paces, retries and classifies."""

    def __init__(
        self,
        pool: urllib3.PoolManager,
        throttle: Callable[[Callable[[], Any]], Any],
        clock: Clock,
        timeout: urllib3.Timeout,
    ) -> None:
        self._pool = pool
        self._throttle = throttle
        self._clock = clock
        self._timeout = timeout

    def request(self, method: str, url: str, **kwargs: Any) -> urllib3.BaseHTTPResponse:
        def once() -> urllib3.BaseHTTPResponse:
            try:
                response = self._pool.request(
                    method, url, retries=False, timeout=self._timeout, **kwargs
                )
            except urllib3.exceptions.HTTPError as exc:
                raise TransientSourceError(f"polygon: {type(exc).__name__}: {exc}") from exc
            if response.status != 200:
                raise self._error(response, url)
            return response

        return self._throttle(once)

    def _error(self, response: urllib3.BaseHTTPResponse, url: str) -> Exception:
        text = response.data.decode("utf-8", "replace")
        try:
            body = json.loads(text)
            message = str(body.get("error") or body.get("message") or text)
        except (ValueError, AttributeError):
            message = text
        ticker = _TICKER_IN_PATH.search(url)
        symbol = ticker.group(1) if ticker else None
        status = response.status
        if status == 404 and symbol is not None:
            return PermanentSymbolError(symbol, f"polygon HTTP 404: {message}")
        if status in (400, 404):
            return InvalidInputError("request", f"polygon HTTP {status}: {message}")
        return error_for_status(
            "polygon",
            status,
            message,
            symbol=None,
            retry_after=retry_after_from(dict(response.headers), self._clock),
        )
