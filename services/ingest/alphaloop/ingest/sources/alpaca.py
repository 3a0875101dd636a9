"""Alpaca market data v2 (``GET /v2/stocks/bars``, many symbols per request) through alpaca-py.

alpaca-py's ``StockHistoricalDataClient`` follows ``next_page_token`` itself. Its own retry
(3 attempts, 3 s of ``time.sleep`` on 429/504) is bypassed: every HTTP request instead goes
through the source's throttle (token bucket + backoff on the injected clock), so a failed page
is retried alone and pagination resumes where it stopped. Error mapping: 429 ->
:class:`RateLimitedError` (with ``Retry-After`` when sent); 5xx -> :class:`TransientSourceError`;
"invalid symbol: X" (400/422) -> :class:`PermanentSymbolError` for X; 401 -> bad keys; 403 ->
the plan does not cover the feed (e.g. recent SIP data on the free plan). A well-formed symbol
Alpaca has no bars for is simply absent from the response (no bars, no error).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

import pandas as pd
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
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

TIMEFRAMES = {
    "1m": TimeFrame(1, TimeFrameUnit.Minute),
    "5m": TimeFrame(5, TimeFrameUnit.Minute),
    "15m": TimeFrame(15, TimeFrameUnit.Minute),
    "30m": TimeFrame(30, TimeFrameUnit.Minute),
    "1h": TimeFrame(1, TimeFrameUnit.Hour),
    "1d": TimeFrame(1, TimeFrameUnit.Day),
}
_INVALID_SYMBOL = re.compile(r"invalid symbols?:\s*([A-Za-z0-9.\-/_$^]+)", re.IGNORECASE)


class AlpacaConfig(BaseSettings):
    """Settings of the Alpaca source. Environment: ``ALPHALOOP_INGEST_ALPACA_<FIELD>``
    (``symbols`` as a JSON list)."""

    model_config = SettingsConfigDict(
        env_prefix="ALPHALOOP_INGEST_ALPACA_", frozen=True, extra="forbid"
    )

    api_key: SecretStr | None = Field(None, description="API key id (APCA-API-KEY-ID).")
    secret_key: SecretStr | None = Field(None, description="API secret (APCA-API-SECRET-KEY).")
    base_url: str = Field(
        "https://data.alpaca.markets", description="Market data API root (tests: a local server)."
    )
    feed: Literal["iex", "sip", "delayed_sip", "otc"] = Field(
        "iex",
        description="Data feed: iex on the free plan; sip needs a subscription for "
        "the last 15 minutes.",
    )
    adjustment: Literal["raw", "split", "dividend", "all"] = Field(
        "all", description="Corporate action adjustment of prices and volumes."
    )
    requests_per_minute: int = Field(
        200,
        ge=1,
        description="Documented limit: 200/min on the free plan, 10,000 on Algo Trader Plus.",
    )
    batch_size: int = Field(100, ge=1, le=1000, description="Symbols per request and batch.")
    symbols: tuple[str, ...] = Field((), description="Universe to hydrate (symbols()).")
    default_start: date = Field(
        date(2016, 1, 1), description="Start when none is given (Alpaca history begins 2016)."
    )
    timeout_seconds: float = Field(30.0, gt=0, description="Per-request HTTP timeout.")


class AlpacaSource(BarSource):
    """US equity bars from Alpaca's market data API."""

    name = "alpaca"
    license = "Alpaca Market Data (IEX feed on the free plan); Alpaca's terms, not redistributable"
    rate_limit = RateLimit(requests=200, per_seconds=60.0)
    batch_size = 100

    def __init__(
        self,
        config: AlpacaConfig | None = None,
        *,
        throttle: Callable[[Callable[[], Any]], Any] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config or AlpacaConfig()
        if self.config.api_key is None or self.config.secret_key is None:
            raise SettingsError(
                "the Alpaca source needs ALPHALOOP_INGEST_ALPACA_API_KEY and "
                "ALPHALOOP_INGEST_ALPACA_SECRET_KEY"
            )
        self.rate_limit = RateLimit(self.config.requests_per_minute, 60.0)
        self.batch_size = self.config.batch_size
        self._clock = clock or LiveClock()
        self._client = _PacedStockClient(
            throttle=throttle or direct,
            clock=self._clock,
            timeout=self.config.timeout_seconds,
            api_key=self.config.api_key.get_secret_value(),
            secret_key=self.config.secret_key.get_secret_value(),
            url_override=self.config.base_url.rstrip("/"),
            raw_data=True,
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
        if interval not in TIMEFRAMES:
            raise InvalidInputError(
                "interval", f"Alpaca bars come in {', '.join(TIMEFRAMES)}, not {interval!r}"
            )
        symbols = list(symbols)
        start = start or self.config.default_start
        request = StockBarsRequest(
            symbol_or_symbols=symbols,
            timeframe=TIMEFRAMES[interval],
            start=datetime.combine(start, time(0), UTC),
            end=None if end is None else datetime.combine(end + timedelta(days=1), time(0), UTC),
            adjustment=Adjustment(self.config.adjustment),
            feed=DataFeed(self.config.feed),
        )
        raw = self._client.get_stock_bars(request)
        return self._to_frame(raw, symbols, start, end, interval)

    def _to_frame(
        self,
        raw: dict[str, list[dict[str, Any]]],
        symbols: list[str],
        start: date,
        end: date | None,
        interval: str,
    ) -> pd.DataFrame:
        rows = [(symbol, bar) for symbol in symbols for bar in raw.get(symbol, [])]
        data = {
            "symbol": [s for s, _ in rows],
            "ts": [b["t"] for _, b in rows],
            "open": [b.get("o") for _, b in rows],
            "high": [b.get("h") for _, b in rows],
            "low": [b.get("l") for _, b in rows],
            "close": [b.get("c") for _, b in rows],
            "volume": [b.get("v") for _, b in rows],
            "vwap": [b.get("vw") for _, b in rows],
            "trade_count": [b.get("n") for _, b in rows],
        }
        for key in ("open", "high", "low", "close", "volume", "vwap", "trade_count"):
            data[key] = [float("nan") if v is None else v for v in data[key]]
        bars = to_bar_frame(
            data, source=self.name, interval=interval, session_tz="America/New_York"
        )
        mask = bars["ts"] >= pd.Timestamp(start, tz="UTC")
        if end is not None:
            mask &= bars["ts"] < pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)
        return bars[mask].sort_values(["symbol", "ts"], kind="stable").reset_index(drop=True)


class _PacedStockClient(StockHistoricalDataClient):
    """alpaca-py's client with each HTTP request paced, retried and its errors translated.

    ``_one_request`` is alpaca-py's single-request hook (alpaca/common/rest.py); passing
    ``retry=0`` to it turns its built-in 429/504 sleep-and-retry into an ``APIError``.
    """

    def __init__(
        self,
        *,
        throttle: Callable[[Callable[[], Any]], Any],
        clock: Clock,
        timeout: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._throttle = throttle
        self._clock = clock
        self._timeout = timeout

    def _one_request(self, method: str, url: str, opts: dict, retry: int) -> dict:
        opts = {**opts, "timeout": self._timeout}
        return self._throttle(lambda: self._translated(method, url, opts))

    def _translated(self, method: str, url: str, opts: dict) -> dict:
        try:
            return super()._one_request(method, url, opts, 0)
        except APIError as exc:
            params = opts.get("params") or {}
            raise self._error(exc, str(params.get("symbols", "")).split(",")) from exc
        except requests.RequestException as exc:
            raise TransientSourceError(f"alpaca: {type(exc).__name__}: {exc}") from exc

    def _error(self, exc: APIError, symbols: list[str]) -> Exception:
        status = exc.status_code or 0
        text = str(exc)
        try:
            message = str(json.loads(text).get("message", text))
        except (ValueError, AttributeError):
            message = text
        if status in (400, 404, 422):
            named = _INVALID_SYMBOL.search(message)
            if named and named.group(1) in symbols:
                return PermanentSymbolError(named.group(1), f"alpaca HTTP {status}: {message}")
            if status == 404 and len(symbols) == 1:
                return PermanentSymbolError(symbols[0], f"alpaca HTTP 404: {message}")
            return InvalidInputError("request", f"alpaca HTTP {status}: {message}")
        headers = exc.response.headers if exc.response is not None else None
        return error_for_status(
            "alpaca",
            status,
            message,
            symbol=None,
            retry_after=retry_after_from(headers, self._clock),
        )
