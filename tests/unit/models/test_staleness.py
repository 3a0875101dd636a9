"""Staleness levels at their documented boundaries (exclusive: a value equal to a limit stays in
the lower level), the worse-of-two rule, the rolling accuracy tracker and data freshness."""

from datetime import UTC, datetime, timedelta

import pytest

from alphaloop.common.clock import SimulatedClock
from alphaloop.models.staleness import (
    AccuracyTracker,
    DataFreshness,
    Level,
    StalenessTracker,
    Thresholds,
    accuracy_level,
    age_level,
    classify,
)

DAY = timedelta(days=1)
EPS = timedelta(seconds=1)


@pytest.mark.parametrize(("age", "level"), [
    (timedelta(0), Level.FRESH),
    (7 * DAY, Level.FRESH),
    (7 * DAY + EPS, Level.AGING),
    (14 * DAY, Level.AGING),
    (14 * DAY + EPS, Level.STALE),
    (30 * DAY, Level.STALE),
    (30 * DAY + EPS, Level.CRITICAL),
    (400 * DAY, Level.CRITICAL),
])
def test_age_boundaries(age, level):
    assert age_level(age) is level


@pytest.mark.parametrize(("rolling", "reference", "level"), [
    (0.60, 0.60, Level.FRESH),
    (0.65, 0.60, Level.FRESH),   # better than training is fine
    (0.55, 0.60, Level.FRESH),   # exactly 5 points
    (0.549, 0.60, Level.AGING),
    (0.50, 0.60, Level.AGING),   # exactly 10 points
    (0.499, 0.60, Level.STALE),
    (0.40, 0.60, Level.STALE),   # exactly 20 points
    (0.399, 0.60, Level.CRITICAL),
    (None, 0.60, Level.FRESH),   # no evidence yet
    (0.30, None, Level.FRESH),   # no training accuracy recorded
    (float("nan"), 0.6, Level.FRESH),
])
def test_accuracy_drop_boundaries(rolling, reference, level):
    assert accuracy_level(rolling, reference) is level


def test_level_is_the_worse_of_age_and_accuracy():
    a = classify(3 * DAY, 0.45, 0.60)
    assert (a.age_level, a.accuracy_level, a.level) == (Level.FRESH, Level.STALE, Level.STALE)
    b = classify(31 * DAY, 0.60, 0.60)
    assert (b.age_level, b.accuracy_level, b.level) == (Level.CRITICAL, Level.FRESH,
                                                        Level.CRITICAL)
    assert b.accuracy_drop == pytest.approx(0.0) and b.age_days == pytest.approx(31)
    assert "CRITICAL" in b.describe()


def test_custom_thresholds():
    t = Thresholds(aging_days=1, stale_days=2, critical_days=3, aging_drop=0.01,
                   stale_drop=0.02, critical_drop=0.03)
    assert classify(DAY + EPS, None, None, t).level is Level.AGING
    assert classify(DAY, 0.575, 0.60, t).level is Level.STALE
    assert classify(DAY, 0.565, 0.60, t).level is Level.CRITICAL


def test_levels_map_to_proto_and_readiness():
    from alphaloop.v1 import models_service_pb2 as pb

    assert [lv.proto for lv in Level] == [pb.STALENESS_FRESH, pb.STALENESS_AGING,
                                         pb.STALENESS_STALE, pb.STALENESS_CRITICAL]
    assert [lv.ready for lv in Level] == [True, True, False, False]


def test_accuracy_tracker_rolls_and_waits_for_enough_outcomes():
    tr = AccuracyTracker(window=4, min_outcomes=3)
    tr.record(0.7, 1)
    tr.record(0.3, 0)
    assert tr.accuracy() is None
    tr.record(0.7, 0)  # wrong
    assert tr.accuracy() == pytest.approx(2 / 3)
    tr.record(0.5, 0)  # p == 0.5 is a "down" call, outcome down: right
    tr.record(0.2, 1)  # wrong; the first (right) call rolls out of the window
    assert len(tr) == 4 and tr.accuracy() == pytest.approx(2 / 4)


def test_tracker_uses_the_injected_clock_and_resets_on_a_new_version():
    start = datetime(2024, 1, 1, tzinfo=UTC)
    clock = SimulatedClock(start)
    tracker = StalenessTracker("m", clock, Thresholds(window=10, min_outcomes=10))
    assert tracker.assess() is None
    tracker.reset(start, reference_accuracy=0.6)
    assert tracker.assess().level is Level.FRESH
    for _ in range(10):
        tracker.record_outcome(0.9, 0)  # all wrong: drop of 60 points
    assert tracker.assess().level is Level.CRITICAL
    clock.advance(8 * DAY)
    tracker.reset(clock.now(), reference_accuracy=0.6)  # a new champion: clean slate
    a = tracker.assess()
    assert a.level is Level.FRESH and a.rolling_accuracy is None
    clock.advance(15 * DAY)
    assert tracker.assess().level is Level.STALE


def test_data_freshness():
    clock = SimulatedClock(datetime(2024, 1, 10, tzinfo=UTC))
    data = DataFreshness(timedelta(days=3), clock, "m")
    assert not data.stale()  # nothing seen yet
    data.observe(datetime(2024, 1, 7, tzinfo=UTC))
    assert not data.stale()  # exactly the limit
    data.observe(datetime(2024, 1, 5, tzinfo=UTC))  # older vector does not move it back
    assert data.latest == datetime(2024, 1, 7, tzinfo=UTC)
    clock.advance(EPS)
    assert data.stale()
    assert data.is_too_old(datetime(2024, 1, 7, tzinfo=UTC))
    data.observe(clock.now())
    assert not data.stale()
