"""Realised outcomes of signals, resolved by hand: each outcome below was worked out from the
closes in the test (close ``horizon`` bars after the signal bar vs the close at it), and the
rolling accuracies from those outcomes; redelivered bars and signals count once; the pending
cap drops the oldest; a model whose calls turn wrong on realised bars walks FRESH -> AGING ->
STALE -> CRITICAL at the staleness thresholds."""

from datetime import UTC, datetime

import pytest

from alphaloop.common.clock import SimulatedClock
from alphaloop.common.metrics import REGISTRY
from alphaloop.models.outcomes import HorizonOutcomes, p_up_of
from alphaloop.models.staleness import AccuracyTracker, Level, StalenessTracker, Thresholds
from alphaloop.v1 import orders_pb2, signals_pb2

DAY_NS = 86_400 * 10**9


def d(n: int) -> int:
    """Bar timestamp of day n, ns."""
    return n * DAY_NS


def drops(model: str, reason: str) -> float:
    return REGISTRY.get_sample_value("alphaloop_model_outcome_drops_total",
                                     {"model": model, "reason": reason}) or 0.0


def summary(outcomes):
    return [(o.symbol, o.ts // DAY_NS, o.entry_close, o.exit_close, o.up, o.right)
            for o in outcomes]


def test_hand_fed_signals_and_bars_resolve_to_hand_computed_outcomes_and_accuracy():
    book = HorizonOutcomes("unit-hand")
    accuracy = AccuracyTracker(window=5, min_outcomes=3)
    resolved = []

    def bar(symbol, day, close):
        out = book.add_bar(symbol, d(day), close)
        resolved.extend(out)
        for o in out:
            accuracy.record(o.p_up, o.up)
        return out

    def signal(symbol, day, p_up):
        out = book.add_signal("1", symbol, d(day), p_up, horizon=2)
        if out is not None:
            resolved.append(out)
            accuracy.record(out.p_up, out.up)
        return out

    bar("A", 1, 100.0)
    assert signal("A", 1, 0.7) is None    # up call; A closes 100 -> 99 two bars on: wrong
    bar("B", 1, 50.0)
    assert signal("B", 1, 0.3) is None    # down call; B 50 -> 48: right
    assert bar("A", 2, 101.0) == []       # one bar after A@1: not yet
    assert signal("A", 2, 0.4) is None    # down call; A 101 -> 103: wrong
    bar("B", 2, 49.0)
    assert signal("B", 2, 0.55) is None   # up call; B 49 -> 51: right
    assert len(book) == 4
    assert summary(bar("A", 3, 99.0)) == [("A", 1, 100.0, 99.0, False, False)]
    assert summary(bar("B", 3, 48.0)) == [("B", 1, 50.0, 48.0, False, True)]
    assert accuracy.accuracy() is None    # two outcomes, three needed
    assert summary(bar("A", 4, 103.0)) == [("A", 2, 101.0, 103.0, True, False)]
    assert accuracy.accuracy() == pytest.approx(1 / 3)
    assert summary(bar("B", 4, 51.0)) == [("B", 2, 49.0, 51.0, True, True)]
    bar("A", 5, 104.0)
    # a signal that reaches the tracker after its bars: resolved from the history at once
    late = signal("A", 3, 0.6)            # up call; A 99 -> 104: right
    assert summary([late]) == [("A", 3, 99.0, 104.0, True, True)]
    # a signal that arrives before its own bar waits for it
    assert signal("A", 6, 0.2) is None    # down call; A 102 -> 100: right
    assert bar("A", 6, 102.0) == [] and bar("A", 7, 101.0) == []
    assert summary(bar("A", 8, 100.0)) == [("A", 6, 102.0, 100.0, False, True)]
    assert len(book) == 0
    # outcomes in order: wrong, right, wrong, right, right, right; the window of 5 holds the
    # last five: 4 right of 5
    assert [o.right for o in resolved] == [False, True, False, True, True, True]
    assert accuracy.accuracy() == pytest.approx(4 / 5)


def test_redelivered_bars_and_signals_count_once():
    model = "unit-dup"
    book = HorizonOutcomes(model)
    dup_bars, dup_signals = drops(model, "duplicate_bar"), drops(model, "duplicate_signal")
    assert book.add_signal("1", "A", d(1), 0.8, horizon=3) is None  # up call
    assert book.add_bar("A", d(1), 100.0) == []
    assert book.add_bar("A", d(2), 105.0) == []
    assert book.add_bar("A", d(3), 106.0) == []
    # redeliveries of days 2 and 3: were they counted, the third bar after day 1 would be
    # reached here and the outcome taken from a 105/106 close (up: a right call)
    assert book.add_bar("A", d(2), 105.0) == []
    assert book.add_bar("A", d(3), 106.0) == []
    assert book.add_signal("1", "A", d(1), 0.8, horizon=3) is None  # redelivered signal
    assert len(book) == 1
    # the real third bar after day 1 closes at 95 < 100: down, so the up call was wrong
    assert summary(book.add_bar("A", d(4), 95.0)) == [("A", 1, 100.0, 95.0, False, False)]
    assert book.add_bar("A", d(4), 95.0) == []                      # redelivered again
    assert book.add_signal("1", "A", d(1), 0.8, horizon=3) is None  # already scored
    assert drops(model, "duplicate_bar") - dup_bars == 3
    assert drops(model, "duplicate_signal") - dup_signals == 2
    # the same bar time under another version is another prediction
    assert book.add_signal("2", "A", d(1), 0.8, horizon=3) is not None


def test_pending_signals_are_capped_dropping_the_oldest():
    model = "unit-cap"
    book = HorizonOutcomes(model, max_pending=2)
    evicted = drops(model, "pending_evicted")
    for day in (1, 2, 3):
        assert book.add_signal("1", "A", d(day), 0.9, horizon=1) is None
    assert len(book) == 2 and drops(model, "pending_evicted") - evicted == 1
    for day, close in ((1, 10.0), (2, 11.0), (3, 12.0)):
        book.add_bar("A", d(day), close)
    # day 1's signal was dropped; day 2 resolves at day 3 (11 -> 12, up); day 3 waits
    assert len(book) == 1
    assert summary(book.add_bar("A", d(4), 11.5)) == [("A", 3, 12.0, 11.5, False, False)]


def test_bars_older_than_the_history_are_late_not_new():
    model = "unit-late"
    book = HorizonOutcomes(model, history_bars=3)
    late_bars, late_signals = drops(model, "late_bar"), drops(model, "late_signal")
    for day in range(1, 6):
        book.add_bar("A", d(day), 100.0 + day)
    # days 1 and 2 left the history: a redelivered day-1 bar cannot be told from a new one
    assert book.add_bar("A", d(1), 101.0) == []
    assert book.add_signal("1", "A", d(2), 0.9, horizon=1) is None
    assert len(book) == 0
    assert drops(model, "late_bar") - late_bars == 1
    assert drops(model, "late_signal") - late_signals == 1
    # day 3 is still held: its signal resolves at day 4 (103 -> 104)
    assert summary([book.add_signal("1", "A", d(3), 0.9, horizon=1)]) == [
        ("A", 3, 103.0, 104.0, True, True)]


def test_signals_without_a_horizon_and_bad_bars_are_skipped():
    model = "unit-skip"
    book = HorizonOutcomes(model)
    before = drops(model, "no_horizon"), drops(model, "bad_bar")
    assert book.add_signal("1", "A", d(1), 0.9, horizon=0) is None
    assert book.add_bar("A", d(1), float("nan")) == [] and book.add_bar("A", d(2), 0.0) == []
    assert len(book) == 0
    assert (drops(model, "no_horizon") - before[0], drops(model, "bad_bar") - before[1]) == (
        1, 2)


def test_p_up_is_recovered_from_the_signal_side():
    buy = signals_pb2.Signal(side=orders_pb2.SIDE_BUY, probability=0.7)
    sell = signals_pb2.Signal(side=orders_pb2.SIDE_SELL, probability=0.75)
    assert p_up_of(buy) == 0.7
    assert p_up_of(sell) == pytest.approx(0.25)


def test_calls_that_turn_wrong_on_realised_bars_walk_the_model_from_fresh_to_critical():
    """Reference (training) accuracy 0.60, window and minimum 10 outcomes. A rising tape,
    one bar per day, horizon 1: ten up calls are right, then every call is a down call and
    wrong. After k wrong calls the window holds 10 - k right of 10: the drop is
    0.60 - (10 - k) / 10, i.e. k = 4: 0.0 FRESH, k = 5: 0.10 AGING (the bound is exclusive),
    k = 6: 0.20 STALE, k = 7: 0.30 CRITICAL."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    staleness = StalenessTracker("unit-walk", SimulatedClock(start),
                                 Thresholds(window=10, min_outcomes=10))
    staleness.reset(start, reference_accuracy=0.60)
    book = HorizonOutcomes("unit-walk")
    levels = []
    for day in range(1, 18):
        p_up = 0.7 if day <= 10 else 0.3
        book.add_signal("1", "A", d(day), p_up, horizon=1)
        for outcome in book.add_bar("A", d(day), 100.0 + day):  # day's bar resolves day - 1
            staleness.record_outcome(outcome.p_up, outcome.up)
        a = staleness.assess()
        levels.append((day, a.rolling_accuracy, a.level))
    # day 1 resolves nothing; day n resolves the signal of day n - 1
    assert [lv for _, _, lv in levels[:10]] == [Level.FRESH] * 10
    assert levels[9][1] is None                       # 9 outcomes: no evidence yet
    assert levels[10][1:] == (1.0, Level.FRESH)       # day 11: ten right calls
    wrong = {day: (acc, lv) for day, acc, lv in levels[11:]}  # day 12 on: k = day - 11 wrong
    assert wrong[15] == (pytest.approx(0.6), Level.FRESH)
    assert wrong[16] == (pytest.approx(0.5), Level.AGING)
    assert wrong[17] == (pytest.approx(0.4), Level.STALE)
    book.add_signal("1", "A", d(18), 0.3, horizon=1)
    for outcome in book.add_bar("A", d(18), 118.0):
        staleness.record_outcome(outcome.p_up, outcome.up)
    assert staleness.assess().rolling_accuracy == pytest.approx(0.3)
    assert staleness.assess().level is Level.CRITICAL
