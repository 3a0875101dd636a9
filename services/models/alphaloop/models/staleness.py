"""Model and data staleness (issue 4 item 6; DESIGN.md "Graceful degradation").

Model staleness has two independent signals; the level is the worse of the two:

* **age** since the version was registered (trained), read off the injected clock:

  ====================  =========
  age (days)            level
  ====================  =========
  <= 7                  FRESH
  > 7 and <= 14         AGING
  > 14 and <= 30        STALE
  > 30                  CRITICAL
  ====================  =========

* **accuracy drop**: the training accuracy (the run's held-out ``test_accuracy``) minus the
  rolling accuracy of realised outcomes, in accuracy fractions (0.05 = 5 points):
  drop <= 0.05 FRESH, > 0.05 AGING, > 0.10 STALE, > 0.20 CRITICAL. Until the rolling window
  holds ``min_outcomes`` outcomes (or the training accuracy is unknown) this signal says FRESH:
  there is no evidence yet.

Boundaries are exclusive: exactly 7 days or exactly a 5-point drop is still FRESH.

What the levels do (``alphaloop.models.serving`` / ``main``): FRESH and AGING serve normally;
STALE and CRITICAL set readiness NOT_SERVING for ``alphaloop.v1.ModelService`` while the
overall ``""`` status stays SERVING, so Kubernetes stops routing new work to the pod but the
liveness probe does not restart it (a restart would load the same stale model). CRITICAL
also stops signals: the stream publishes nothing and Predict on the champion answers
FAILED_PRECONDITION.

Data staleness: when the newest feature timestamp seen is older than ``max_age`` on the
clock, the stream emits no new signals and readiness is NOT_SERVING.

Everything here is pure or takes a clock; the gauge ``alphaloop_model_staleness{model}``
(0 FRESH .. 3 CRITICAL) lives in the shared registry.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum

from prometheus_client import Gauge

from alphaloop.common.clock import Clock
from alphaloop.common.metrics import REGISTRY

MODEL_STALENESS = Gauge(
    "alphaloop_model_staleness",
    "Staleness of the served model: 0 FRESH, 1 AGING, 2 STALE, 3 CRITICAL.",
    ("model",),
    registry=REGISTRY,
)
DATA_STALE = Gauge(
    "alphaloop_model_data_stale",
    "1 while the newest feature vector seen is older than the allowed age, else 0.",
    ("model",),
    registry=REGISTRY,
)


class Level(IntEnum):
    FRESH = 0
    AGING = 1
    STALE = 2
    CRITICAL = 3

    @property
    def proto(self) -> int:
        """The ``alphaloop.v1.Staleness`` enum value (STALENESS_FRESH = 1 ...)."""
        return int(self) + 1

    @property
    def ready(self) -> bool:
        """FRESH and AGING keep readiness SERVING; STALE and CRITICAL do not."""
        return self <= Level.AGING


@dataclass(frozen=True)
class Thresholds:
    """Age limits in days and accuracy drops in fractions (0.05 = 5 accuracy points); each
    limit is exclusive (a value equal to it stays in the lower level)."""

    aging_days: float = 7.0
    stale_days: float = 14.0
    critical_days: float = 30.0
    aging_drop: float = 0.05
    stale_drop: float = 0.10
    critical_drop: float = 0.20
    window: int = 200
    min_outcomes: int = 50

    @classmethod
    def from_settings(cls, s) -> Thresholds:
        return cls(s.aging_days, s.stale_days, s.critical_days, s.aging_accuracy_drop,
                   s.stale_accuracy_drop, s.critical_accuracy_drop, s.accuracy_window,
                   s.accuracy_min_outcomes)


@dataclass(frozen=True)
class Assessment:
    level: Level
    age_level: Level
    accuracy_level: Level
    age_days: float
    rolling_accuracy: float | None
    reference_accuracy: float | None

    @property
    def accuracy_drop(self) -> float | None:
        if self.rolling_accuracy is None or self.reference_accuracy is None:
            return None
        return self.reference_accuracy - self.rolling_accuracy

    def describe(self) -> str:
        drop = self.accuracy_drop
        acc = "n/a" if drop is None else f"{drop * 100:+.1f} points"
        return (f"{self.level.name} (age {self.age_days:.1f} days: {self.age_level.name}; "
                f"accuracy drop {acc}: {self.accuracy_level.name})")


def _band(value: float, aging: float, stale: float, critical: float) -> Level:
    if value > critical:
        return Level.CRITICAL
    if value > stale:
        return Level.STALE
    if value > aging:
        return Level.AGING
    return Level.FRESH


def age_level(age: timedelta, t: Thresholds = Thresholds()) -> Level:
    days = age.total_seconds() / 86400.0
    return _band(days, t.aging_days, t.stale_days, t.critical_days)


def accuracy_level(rolling: float | None, reference: float | None,
                   t: Thresholds = Thresholds()) -> Level:
    if rolling is None or reference is None or math.isnan(rolling) or math.isnan(reference):
        return Level.FRESH
    # round away float noise so a drop of exactly 5 points (0.6 - 0.55) sits on the boundary
    drop = round(reference - rolling, 12)
    return _band(drop, t.aging_drop, t.stale_drop, t.critical_drop)


def classify(age: timedelta, rolling_accuracy: float | None, reference_accuracy: float | None,
             thresholds: Thresholds = Thresholds()) -> Assessment:
    """The pure staleness function: the worse of the age level and the accuracy level."""
    a = age_level(age, thresholds)
    b = accuracy_level(rolling_accuracy, reference_accuracy, thresholds)
    return Assessment(max(a, b), a, b, age.total_seconds() / 86400.0, rolling_accuracy,
                      reference_accuracy)


class AccuracyTracker:
    """Rolling hit rate of realised outcomes: ``record(p_up, outcome)`` with ``outcome`` 1
    when the price went up over the horizon; a call is right when ``(p_up > 0.5) == outcome``
    (the same rule as the training ``accuracy``). Thread-safe."""

    def __init__(self, window: int = 200, min_outcomes: int = 50) -> None:
        self._hits: deque[bool] = deque(maxlen=window)
        self.min_outcomes = min_outcomes
        self._lock = threading.Lock()

    def record(self, p_up: float, outcome: int | bool) -> None:
        with self._lock:
            self._hits.append((p_up > 0.5) == bool(outcome))

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()

    def __len__(self) -> int:
        return len(self._hits)

    def accuracy(self) -> float | None:
        """Rolling accuracy, or None while fewer than ``min_outcomes`` are recorded."""
        with self._lock:
            if len(self._hits) < self.min_outcomes:
                return None
            return sum(self._hits) / len(self._hits)


class StalenessTracker:
    """Staleness of one served model version: registration time + training accuracy + the
    rolling accuracy of outcomes, on the injected clock; updates the gauge on ``assess``."""

    def __init__(self, model: str, clock: Clock, thresholds: Thresholds = Thresholds()) -> None:
        self.model = model
        self.clock = clock
        self.thresholds = thresholds
        self.outcomes = AccuracyTracker(thresholds.window, thresholds.min_outcomes)
        self.registered_at: datetime | None = None
        self.reference_accuracy: float | None = None

    def reset(self, registered_at: datetime, reference_accuracy: float | None) -> None:
        """A new version is served: its age and accuracy start over."""
        self.registered_at = registered_at
        self.reference_accuracy = reference_accuracy
        self.outcomes.reset()

    def record_outcome(self, p_up: float, outcome: int | bool) -> None:
        self.outcomes.record(p_up, outcome)

    def assess(self) -> Assessment | None:
        if self.registered_at is None:
            return None
        age = max(self.clock.now() - self.registered_at, timedelta(0))
        result = classify(age, self.outcomes.accuracy(), self.reference_accuracy,
                          self.thresholds)
        MODEL_STALENESS.labels(self.model).set(int(result.level))
        return result


class DataFreshness:
    """Newest feature timestamp seen vs. the clock. Nothing seen yet counts as fresh (there is
    nothing to emit either way)."""

    def __init__(self, max_age: timedelta, clock: Clock, model: str = "") -> None:
        self.max_age = max_age
        self.clock = clock
        self.model = model
        self.latest: datetime | None = None
        self._lock = threading.Lock()

    def observe(self, ts: datetime) -> None:
        with self._lock:
            if self.latest is None or ts > self.latest:
                self.latest = ts

    def is_too_old(self, ts: datetime) -> bool:
        return self.clock.now() - ts > self.max_age

    def stale(self) -> bool:
        with self._lock:
            latest = self.latest
        out = latest is not None and self.is_too_old(latest)
        DATA_STALE.labels(self.model).set(1 if out else 0)
        return out
