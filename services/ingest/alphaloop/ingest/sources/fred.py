"""FRED economic series (``GET /fred/series/observations``) over plain HTTP (httpx).

FRED series ids (DGS10, VIXCLS, SP500, CPIAUCSL, ...) are the "symbols". A series is one
number per date, so a bar carries it as ``close`` and nothing else: open, high, low, volume
and vwap are NaN, never copies of the close. FRED marks a missing observation with ``"."``;
it is kept as a NaN close (not dropped) so the quality gate quarantines it visibly. Pages of
``page_size`` observations are followed with ``offset`` until ``count`` is reached.

Errors: FRED answers an unknown series with HTTP 400 "The series does not exist." ->
:class:`PermanentSymbolError`; 400 about ``api_key`` -> bad key; 429 ->
:class:`RateLimitedError`; 5xx -> :class:`TransientSourceError`. Limit: 120 requests/minute.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import httpx
import pandas as pd
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from alphaloop.common.clock import Clock, LiveClock
from alphaloop.common.errors import InvalidInputError, SettingsError, UnauthenticatedError
from alphaloop.ingest.ratelimit import direct, error_for_status, retry_after_from
from alphaloop.ingest.sources.base import (
    SYMBOL_COLUMNS,
    BarSource,
    PermanentSymbolError,
    RateLimit,
    TransientSourceError,
)
from alphaloop.ingest.sources.files_source import to_bar_frame

#: interval -> FRED ``frequency`` (None: the series' native frequency, whatever it is).
FREQUENCIES = {"1d": None, "1w": "w", "1mo": "m", "1q": "q", "1y": "a"}


class FredConfig(BaseSettings):
    """Settings of the FRED source. Environment: ``ALPHALOOP_INGEST_FRED_<FIELD>``
    (``symbols`` as a JSON list of series ids)."""

    model_config = SettingsConfigDict(
        env_prefix="ALPHALOOP_INGEST_FRED_", frozen=True, extra="forbid"
    )

    api_key: SecretStr | None = Field(None, description="FRED API key (32 lower-case chars).")
    base_url: str = Field(
        "https://api.stlouisfed.org", description="API root (tests: a local server)."
    )
    units: str = Field("lin", description="FRED units transformation; lin = levels.")
    requests_per_minute: int = Field(120, ge=1, description="Documented limit: 120/min.")
    page_size: int = Field(
        100_000, ge=1, le=100_000, description="Observations per request (max 100,000)."
    )
    symbols: tuple[str, ...] = Field((), description="Series ids to hydrate (symbols()).")
    timeout_seconds: float = Field(30.0, gt=0, description="Per-request HTTP timeout.")


class FredSource(BarSource):
    """Economic time series from FRED, as close-only bars."""

    name = "fred"
    license = (
        "FRED, Federal Reserve Bank of St. Louis terms of use; some series are "
        "copyrighted by their sources (see each series' notes)"
    )
    rate_limit = RateLimit(requests=120, per_seconds=60.0)
    batch_size = 1  # one series per request

    def __init__(
        self,
        config: FredConfig | None = None,
        *,
        throttle: Callable[[Callable[[], Any]], Any] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config or FredConfig()
        if self.config.api_key is None:
            raise SettingsError("the FRED source needs ALPHALOOP_INGEST_FRED_API_KEY")
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
        if interval not in FREQUENCIES:
            raise InvalidInputError(
                "interval", f"FRED frequencies are {', '.join(FREQUENCIES)}, not {interval!r}"
            )
        frames = []
        for series_id in symbols:
            observations = self._observations(series_id, start, end, FREQUENCIES[interval])
            values = pd.to_numeric(
                pd.Series([o["value"] for o in observations], dtype=object), errors="coerce"
            )  # "." (missing) -> NaN, kept
            frames.append(
                to_bar_frame(
                    {
                        "symbol": [series_id] * len(observations),
                        "ts": pd.to_datetime(
                            [o["date"] for o in observations], format="%Y-%m-%d", utc=True
                        ),
                        "close": values.to_numpy(dtype="float64"),
                    },
                    source=self.name,
                    interval=interval,
                )
            )
        if not frames:
            return to_bar_frame({"symbol": [], "ts": []}, source=self.name, interval=interval)
        return pd.concat(frames, ignore_index=True)

    def _observations(
        self, series_id: str, start: date | None, end: date | None, frequency: str | None
    ) -> list[dict[str, str]]:
        params: dict[str, Any] = {
            "series_id": series_id,
            "file_type": "json",
            "sort_order": "asc",
            "units": self.config.units,
            "limit": self.config.page_size,
            "api_key": self.config.api_key.get_secret_value(),
        }
        if start is not None:
            params["observation_start"] = start.isoformat()
        if end is not None:
            params["observation_end"] = end.isoformat()
        if frequency is not None:
            params["frequency"] = frequency
        observations: list[dict[str, str]] = []
        while True:
            page = self._get({**params, "offset": len(observations)}, series_id)
            batch = page.get("observations", [])
            observations.extend(batch)
            if not batch or len(observations) >= int(page.get("count", 0)):
                return observations

    def _get(self, params: dict[str, Any], series_id: str) -> dict[str, Any]:
        def once() -> dict[str, Any]:
            try:
                response = self._http.get("/fred/series/observations", params=params)
            except httpx.TransportError as exc:
                raise TransientSourceError(f"fred: {type(exc).__name__}: {exc}") from exc
            if response.status_code != 200:
                raise self._error(response, series_id)
            try:
                return response.json()
            except ValueError as exc:
                raise TransientSourceError(f"fred: answer is not JSON: {exc}") from exc

        return self._throttle(once)

    def _error(self, response: httpx.Response, series_id: str) -> Exception:
        try:
            message = str(response.json().get("error_message", response.text))
        except (ValueError, AttributeError):
            message = response.text[:300]
        status = response.status_code
        if status == 400 and "api_key" in message:
            return UnauthenticatedError(f"fred HTTP 400: {message}")
        if status in (400, 404) and "series does not exist" in message.lower():
            return PermanentSymbolError(series_id, f"fred HTTP {status}: {message}")
        if status == 400:
            return InvalidInputError("request", f"fred HTTP 400: {message}")
        return error_for_status(
            "fred",
            status,
            message,
            symbol=series_id,
            retry_after=retry_after_from(response.headers, self._clock),
        )
