"""Alpha Vantage daily bars (``GET /query?function=TIME_SERIES_DAILY``) over plain HTTP (httpx).

Alpha Vantage reports most failures with HTTP 200 and a one-key JSON body, so the body is
classified, not just the status: ``"Note"`` (the per-minute throttle) and ``"Information"``
about request rates -> :class:`RateLimitedError` (retry after 60 s; for the daily quota no
retry time, since waiting minutes does not help); ``"Information"`` about a premium endpoint or
feature -> ``PermissionDeniedError``; ``"Error Message"`` -> :class:`PermanentSymbolError`
(an unknown symbol), or ``UnauthenticatedError`` when it is about the API key.

Limits (free key): 5 requests per minute and 25 per day. The token bucket paces the per-minute
limit; the daily quota is not paced here (25 symbols a day is the free plan's real ceiling).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, Literal

import httpx
import pandas as pd
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from alphaloop.common.clock import Clock, LiveClock
from alphaloop.common.errors import (
    InvalidInputError,
    PermissionDeniedError,
    SettingsError,
    UnauthenticatedError,
)
from alphaloop.ingest.ratelimit import direct, error_for_status, retry_after_from
from alphaloop.ingest.sources.base import (
    SYMBOL_COLUMNS,
    BarSource,
    PermanentSymbolError,
    RateLimit,
    RateLimitedError,
    TransientSourceError,
)
from alphaloop.ingest.sources.files_source import to_bar_frame

SERIES_KEY = "Time Series (Daily)"


class AlphaVantageConfig(BaseSettings):
    """Settings of the Alpha Vantage source. Environment:
    ``ALPHALOOP_INGEST_ALPHAVANTAGE_<FIELD>`` (``symbols`` as a JSON list)."""

    model_config = SettingsConfigDict(
        env_prefix="ALPHALOOP_INGEST_ALPHAVANTAGE_", frozen=True, extra="forbid"
    )

    api_key: SecretStr | None = Field(None, description="API key (the apikey query parameter).")
    base_url: str = Field(
        "https://www.alphavantage.co", description="API root (tests: a local server)."
    )
    function: Literal["TIME_SERIES_DAILY", "TIME_SERIES_DAILY_ADJUSTED"] = Field(
        "TIME_SERIES_DAILY",
        description="TIME_SERIES_DAILY (raw prices) or TIME_SERIES_DAILY_ADJUSTED (premium; "
        "open/high/low/close scaled by adjusted close / close, volume as traded).",
    )
    outputsize: Literal["compact", "full"] = Field(
        "full",
        description="full: the whole history (may need a premium key: the API then "
        "answers with a premium notice, raised as PermissionDeniedError); compact: the "
        "latest 100 sessions.",
    )
    requests_per_minute: int = Field(5, ge=1, description="Documented limit: 5/min free.")
    requests_per_day: int = Field(
        25, ge=1, description="Documented daily quota of a free key (informational)."
    )
    symbols: tuple[str, ...] = Field((), description="Universe to hydrate (symbols()).")
    timeout_seconds: float = Field(30.0, gt=0, description="Per-request HTTP timeout.")


class AlphaVantageSource(BarSource):
    """Daily equity bars from Alpha Vantage."""

    name = "alphavantage"
    license = "Alpha Vantage terms of service (free key: 25 requests/day); not redistributable"
    rate_limit = RateLimit(requests=5, per_seconds=60.0)
    batch_size = 1  # one symbol per request

    def __init__(
        self,
        config: AlphaVantageConfig | None = None,
        *,
        throttle: Callable[[Callable[[], Any]], Any] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config or AlphaVantageConfig()
        if self.config.api_key is None:
            raise SettingsError(
                "the Alpha Vantage source needs ALPHALOOP_INGEST_ALPHAVANTAGE_API_KEY"
            )
        self.rate_limit = RateLimit(self.config.requests_per_minute, 60.0)
        self._throttle = throttle or direct
        self._clock = clock or LiveClock()
        self._http = httpx.Client(
            base_url=self.config.base_url.rstrip("/"), timeout=self.config.timeout_seconds
        )

    def close(self) -> None:
        self._http.close()

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
        if interval != "1d":
            raise InvalidInputError(
                "interval", f"Alpha Vantage daily series are 1d, not {interval}"
            )
        frames = [self._to_frame(symbol, self._series(symbol)) for symbol in symbols]
        bars = pd.concat(frames, ignore_index=True) if frames else self._to_frame("", {})
        mask = pd.Series(True, index=bars.index)
        if start is not None:
            mask &= bars["ts"] >= pd.Timestamp(start, tz="UTC")
        if end is not None:
            mask &= bars["ts"] < pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)
        return bars[mask].sort_values(["symbol", "ts"], kind="stable").reset_index(drop=True)

    def _series(self, symbol: str) -> dict[str, dict[str, str]]:
        params = {
            "function": self.config.function,
            "symbol": symbol,
            "outputsize": self.config.outputsize,
            "datatype": "json",
            "apikey": self.config.api_key.get_secret_value(),
        }

        def once() -> dict[str, dict[str, str]]:
            try:
                response = self._http.get("/query", params=params)
            except httpx.TransportError as exc:
                raise TransientSourceError(f"alphavantage: {type(exc).__name__}: {exc}") from exc
            if response.status_code != 200:
                raise error_for_status(
                    "alphavantage",
                    response.status_code,
                    response.text[:300],
                    symbol=symbol,
                    retry_after=retry_after_from(response.headers, self._clock),
                )
            try:
                body = response.json()
            except ValueError as exc:
                raise TransientSourceError(f"alphavantage: answer is not JSON: {exc}") from exc
            return _series_or_raise(body, symbol)

        return self._throttle(once)

    def _to_frame(self, symbol: str, series: dict[str, dict[str, str]]) -> pd.DataFrame:
        days = sorted(series)
        adjusted = self.config.function == "TIME_SERIES_DAILY_ADJUSTED"
        volume_key = "6. volume" if adjusted else "5. volume"

        def column(key: str) -> list[float]:
            return [float(series[d][key]) if key in series[d] else float("nan") for d in days]

        close = column("4. close")
        scale = (
            [
                a / c if c else float("nan")
                for a, c in zip(column("5. adjusted close"), close, strict=True)
            ]
            if adjusted
            else [1.0] * len(days)
        )
        data = {
            "symbol": [symbol] * len(days),
            "ts": pd.to_datetime(days, format="%Y-%m-%d", utc=True),
            "volume": column(volume_key),
        }
        for field, key in (
            ("open", "1. open"),
            ("high", "2. high"),
            ("low", "3. low"),
            ("close", "4. close"),
        ):
            data[field] = [v * s for v, s in zip(column(key), scale, strict=True)]
        return to_bar_frame(data, source=self.name, interval="1d")


def _series_or_raise(body: Any, symbol: str) -> dict[str, dict[str, str]]:
    """The daily series from an HTTP 200 body, or the error its one-key message means.

    The order of the checks matters: the burst notice also mentions premium endpoints and
    the daily quota, and the daily-quota notice also mentions the API key.
    """
    if not isinstance(body, dict):
        raise TransientSourceError(f"alphavantage: unexpected answer for {symbol}: {body!r:.200}")
    if SERIES_KEY in body:
        return body[SERIES_KEY]
    if "Error Message" in body:
        message = str(body["Error Message"])
        if "apikey" in message.lower().replace(" ", ""):
            raise UnauthenticatedError(f"alphavantage: {message}")
        raise PermanentSymbolError(symbol, f"alphavantage: {message}")
    if "Note" in body:  # the classic per-minute throttle notice
        raise RateLimitedError(f"alphavantage: {body['Note']}", retry_after=60.0)
    if "Information" not in body:
        raise TransientSourceError(
            f"alphavantage: no {SERIES_KEY!r} in the answer for {symbol}; keys {sorted(body)}"
        )
    message = str(body["Information"])
    text = message.lower()
    if any(k in text for k in ("spreading out", "per second", "burst")):
        raise RateLimitedError(f"alphavantage: {message}", retry_after=60.0)
    if "is a premium" in text or "premium feature" in text:
        raise PermissionDeniedError(f"alphavantage: {message}")
    if "per day" in text or "daily" in text:
        raise RateLimitedError(f"alphavantage daily quota exhausted: {message}", retry_after=None)
    if any(k in text for k in ("rate limit", "per minute", "call frequency")):
        raise RateLimitedError(f"alphavantage: {message}", retry_after=60.0)
    if "api key" in text or "apikey" in text:
        raise UnauthenticatedError(f"alphavantage: {message}")
    raise TransientSourceError(f"alphavantage: {message}")
