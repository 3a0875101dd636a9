"""Injected clocks. Domain code takes a ``Clock`` and never reads wall time itself, so a
backtest, a paper replay and live trading run the same code (NautilusTrader's TestClock /
LiveClock split)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """Current time as a timezone-aware UTC datetime."""

    def timestamp_ns(self) -> int:
        """Current time as nanoseconds since the Unix epoch."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for timeouts and rates)."""

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""


class LiveClock:
    """Wall-clock time. The only place in AlphaLoop that reads the system clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def timestamp_ns(self) -> int:
        return time.time_ns()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class SimulatedClock:
    """A clock that only moves when told to: backtests, replays and tests.

    ``sleep`` advances simulated time instantly, so code that waits (rate limiters, retry
    backoff) runs at full speed under simulation.
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2000, 1, 1, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("SimulatedClock start must be timezone-aware")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def timestamp_ns(self) -> int:
        now = self.now()
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        delta = now - epoch
        return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000

    def monotonic(self) -> float:
        return self.timestamp_ns() / 1e9

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(timedelta(seconds=seconds))

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += delta
            return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("time must be timezone-aware")
        with self._lock:
            when = when.astimezone(UTC)
            if when < self._now:
                raise ValueError("a clock cannot go backwards")
            self._now = when
