from datetime import UTC, datetime, timedelta

import pytest

from alphaloop.common import topics
from alphaloop.common.clock import Clock, LiveClock, SimulatedClock


def test_simulated_clock_moves_only_when_told():
    start = datetime(2010, 1, 4, 14, 30, tzinfo=UTC)
    clock = SimulatedClock(start)
    assert clock.now() == start
    clock.sleep(90)
    assert clock.now() == start + timedelta(seconds=90)
    # 2010-01-04T14:31:30Z is 1262615490 s after the epoch (date -d @1262615490 -u).
    assert clock.timestamp_ns() == 1_262_615_490 * 1_000_000_000


def test_simulated_clock_refuses_to_go_backwards_or_be_naive():
    clock = SimulatedClock(datetime(2010, 1, 4, tzinfo=UTC))
    with pytest.raises(ValueError):
        clock.set(datetime(2009, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError):
        SimulatedClock(datetime(2010, 1, 4))


def test_both_clocks_satisfy_the_clock_protocol():
    assert isinstance(LiveClock(), Clock)
    assert isinstance(SimulatedClock(), Clock)
    assert LiveClock().now().tzinfo is not None


def test_topic_names_follow_the_design():
    assert [t.value for t in topics.Topic] == [
        "alphaloop.bars.v1", "alphaloop.features.v1", "alphaloop.signals.v1",
        "alphaloop.orders.v1", "alphaloop.executions.v1", "alphaloop.control.v1",
        "alphaloop.grades.v1",
    ]
    assert f"{topics.Topic.BARS}" == "alphaloop.bars.v1"


def test_dead_letter_topic_per_group_and_group_names_are_checked():
    assert topics.dead_letter("risk-signals") == "alphaloop.deadletter.risk-signals.v1"
    assert topics.is_dead_letter(topics.dead_letter("g"))
    with pytest.raises(ValueError):
        topics.dead_letter("Bad Group!")
