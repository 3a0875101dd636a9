"""Purged k-fold and combinatorial purged CV: a brute-force statement of purge + embargo checked
on random label layouts (hypothesis), hand-built leak cases, and agreement with purgedcv where
its definitions match ours (it keeps labels ending exactly at the test start; AFML purges them)."""

from __future__ import annotations

from math import comb

import numpy as np
import pandas as pd
import purgedcv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from alphaloop.ingest.quality import apply_gate
from alphaloop.ingest.sources import BytetheorySource
from alphaloop.models.cv import CombinatorialPurgedCV, PurgedKFold, backtest_paths
from alphaloop.models.labels import triple_barrier

BASE = pd.Timestamp("2024-01-01", tz="UTC")


@st.composite
def label_layouts(draw, min_n=4, max_n=70):
    """Sorted starts (ties allowed: pooled symbols), random durations (zero allowed), as
    integers or as tz-aware datetimes."""
    n = draw(st.integers(min_n, max_n))
    gaps = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    durations = np.array(draw(st.lists(st.integers(0, 15), min_size=n, max_size=n)))
    starts = np.cumsum(gaps)
    ends = starts + durations
    if draw(st.booleans()):
        return pd.Series(BASE + pd.to_timedelta(ends, "h"),
                         index=BASE + pd.to_timedelta(starts, "h"))
    return pd.Series(ends, index=starts)


def _numbers(values) -> list:
    return list(pd.Index(values).asi8) if isinstance(
        pd.Index(values), pd.DatetimeIndex) else [int(v) for v in values]


def _runs(positions):
    runs, current = [], [positions[0]]
    for p in positions[1:]:
        if p == current[-1] + 1:
            current.append(p)
        else:
            runs.append(current)
            current = [p]
    return runs + [current]


def extended_test_intervals(starts, ends, test, h):
    """Each test label [s, e], stretched after its contiguous test block to the start of the h-th
    sample that starts after the block's latest label end (AFML 7.4.2's embargo)."""
    out = []
    for block in _runs(sorted(test)):
        latest = max(ends[i] for i in block)
        after = [j for j in range(len(starts)) if starts[j] > latest]
        embargo_end = starts[after[min(h, len(after)) - 1]] if h > 0 and after else latest
        out += [(starts[i], max(ends[i], embargo_end)) for i in block]
    return out


def brute_force_train(starts, ends, test, h):
    """Every non-test sample whose [start, end] meets no extended test interval."""
    extended = extended_test_intervals(starts, ends, test, h)
    return [j for j in range(len(starts)) if j not in set(test)
            and all(not (starts[j] <= e and s <= ends[j]) for s, e in extended)]


def assert_purged_and_embargoed(t1, train, test, embargo_pct):
    starts, ends = _numbers(t1.index), _numbers(t1.array)
    h = int(len(t1) * embargo_pct)
    assert not set(train) & set(test)
    for j in train:
        for i in test:  # the plain leak statement: no train label shares a bar with a test label
            assert ends[j] < starts[i] or ends[i] < starts[j]
        for s, e in extended_test_intervals(starts, ends, test, h):
            assert ends[j] < s or e < starts[j]
    assert list(train) == brute_force_train(starts, ends, list(test), h)  # and nothing more


@settings(max_examples=150, deadline=None)
@given(t1=label_layouts(), data=st.data())
def test_purged_kfold_never_trains_on_a_label_overlapping_the_embargoed_test(t1, data):
    n_splits = data.draw(st.integers(2, min(10, len(t1))))
    embargo_pct = data.draw(st.floats(0.0, 0.2))
    folds = list(PurgedKFold(n_splits, embargo_pct).split(np.zeros(len(t1)), t1))
    assert len(folds) == n_splits
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == list(range(len(t1)))  # every sample in exactly one test fold
    for train, test in folds:
        assert list(test) == list(range(test[0], test[-1] + 1))  # contiguous in time
        assert_purged_and_embargoed(t1, train, test, embargo_pct)


@settings(max_examples=100, deadline=None)
@given(t1=label_layouts(min_n=8), data=st.data())
def test_cpcv_never_trains_on_a_label_overlapping_the_embargoed_test(t1, data):
    n_groups = data.draw(st.integers(2, min(8, len(t1))))
    k = data.draw(st.integers(1, n_groups - 1))
    embargo_pct = data.draw(st.floats(0.0, 0.2))
    cv = CombinatorialPurgedCV(n_groups, k, embargo_pct)
    splits = list(cv.split(np.zeros(len(t1)), t1))
    assert len(splits) == comb(n_groups, k) == cv.get_n_splits()
    groups = np.array_split(np.arange(len(t1)), n_groups)
    for (train, test), chosen in zip(splits, cv.test_groups, strict=True):
        assert list(test) == sorted(np.concatenate([groups[g] for g in chosen]))
        assert_purged_and_embargoed(t1, train, test, embargo_pct)


@given(n_groups=st.integers(2, 10), data=st.data())
def test_cpcv_paths_cover_every_group_once(n_groups, data):
    k = data.draw(st.integers(1, n_groups - 1))
    paths = backtest_paths(n_groups, k)
    test_groups = CombinatorialPurgedCV(n_groups, k).test_groups
    assert len(paths) == k * comb(n_groups, k) // n_groups == comb(n_groups - 1, k - 1)
    assert k * comb(n_groups, k) % n_groups == 0
    used = []
    for path in paths:
        assert [group for group, _ in path] == list(range(n_groups))
        for group, split in path:
            assert group in test_groups[split]
        used += path
    # every (group, split) test occurrence feeds exactly one path
    occurrences = [(g, s) for s, chosen in enumerate(test_groups) for g in chosen]
    assert sorted(used) == sorted(occurrences)


def test_afml_figure_12_2_paths_for_six_groups_two_test_groups():
    # splits in order: (0,1) (0,2) (0,3) (0,4) (0,5) (1,2) (1,3) ... (4,5); path 1 takes each
    # group's first test occurrence: G1 S1, G2 S1, G3 S2, G4 S3, G5 S4, G6 S5 (1-based)
    cv = CombinatorialPurgedCV(6, 2)
    assert cv.get_n_splits() == 15 and cv.n_paths == 5
    assert cv.backtest_paths()[0] == [(0, 0), (1, 0), (2, 1), (3, 2), (4, 3), (5, 4)]
    assert cv.backtest_paths()[4] == [(0, 4), (1, 8), (2, 11), (3, 13), (4, 14), (5, 14)]


def test_a_label_ending_exactly_at_the_test_start_is_purged():
    t1 = pd.Series(BASE + pd.to_timedelta([2, 3, 4, 5, 6, 7], "D"),
                   index=BASE + pd.to_timedelta([0, 1, 2, 3, 4, 5], "D"))
    # sample 1 spans days 1..3; the test fold (samples 3..5) starts on day 3
    train, test = list(PurgedKFold(2).split(np.zeros(6), t1))[1]
    assert list(test) == [3, 4, 5]
    assert list(train) == [0]  # 1 ends on the test start, 2 ends inside it
    ref = purgedcv.PurgedKFold(2, prediction_times=t1.index, evaluation_times=t1.array)
    kept_by_purgedcv = list(ref.split(np.zeros(6)))[1][0]
    assert list(kept_by_purgedcv) == [0, 1]  # half-open intervals: purgedcv keeps sample 1


def test_purges_against_every_test_label_not_only_the_last_ones_end():
    # The leaky shortcut purges up to the end of the test fold's LAST label. Here the fold's
    # first label is the long one: it runs to 12, past the last test label's end (7).
    starts = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    ends = [0, 1, 2, 3, 12, 5, 6, 7, 8, 9, 10, 11]
    t1 = pd.Series(ends, index=starts)
    train, test = list(PurgedKFold(3).split(np.zeros(12), t1))[1]
    assert list(test) == [4, 5, 6, 7]
    assert list(train) == [0, 1, 2, 3]  # 8..11 start inside test label 4's [4, 12]


def test_embargo_by_hand():
    # 20 one-bar labels [i, i+1], embargo 10% = 2 samples after each test fold
    t1 = pd.Series(np.arange(20) + 1, index=np.arange(20))
    folds = list(PurgedKFold(4, 0.1).split(np.zeros(20), t1))
    train, test = folds[1]
    assert list(test) == [5, 6, 7, 8, 9]
    # purged: 4 (ends at 5 = test start) and 10 (starts at 10 = last test end);
    # embargoed: the 2 samples starting after 10, i.e. 11 and 12
    assert list(train) == [0, 1, 2, 3] + list(range(13, 20))


def test_embargo_takes_every_symbol_sharing_the_boundary_time():
    # a pooled panel: two symbols per time step, one-step labels
    starts = np.repeat(np.arange(10), 2)
    t1 = pd.Series(starts + 1, index=starts)
    train, test = next(PurgedKFold(2, 0.05).split(np.zeros(20), t1))  # h = 1 sample
    assert list(test) == list(range(10))  # times 0..4, latest end 5
    # purged: both symbols at time 5; embargoed: the first sample after 5 and its twin at 6
    assert list(train) == list(range(14, 20))


@st.composite
def tie_free_layouts(draw):
    """Starts on even seconds, ends on odd ones: no label ends exactly where another starts,
    so closed (AFML) and half-open (purgedcv) intervals purge the same samples."""
    n = draw(st.integers(6, 60))
    starts = np.cumsum(draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))) * 2
    ends = starts + 2 * np.array(draw(st.lists(st.integers(0, 8), min_size=n, max_size=n))) + 1
    return (pd.Series(BASE + pd.to_timedelta(ends, "s"), index=BASE + pd.to_timedelta(starts, "s")))


@settings(max_examples=60, deadline=None)
@given(t1=tie_free_layouts(), data=st.data())
def test_purged_kfold_matches_purgedcv_without_boundary_ties(t1, data):
    n_splits = data.draw(st.integers(2, min(8, len(t1))))
    ours = list(PurgedKFold(n_splits).split(np.zeros(len(t1)), t1))
    ref = purgedcv.PurgedKFold(n_splits, prediction_times=t1.index, evaluation_times=t1.array)
    theirs = list(ref.split(np.zeros(len(t1))))
    for (train, test), (ref_train, ref_test) in zip(ours, theirs, strict=True):
        assert list(test) == list(ref_test)
        assert list(train) == list(ref_train)


@settings(max_examples=60, deadline=None)
@given(t1=tie_free_layouts(), data=st.data())
def test_cpcv_splits_and_paths_match_purgedcv_without_boundary_ties(t1, data):
    n = len(t1)
    n_groups = data.draw(st.integers(2, min(7, n)))
    k = data.draw(st.integers(1, n_groups - 1))
    cv = CombinatorialPurgedCV(n_groups, k)
    ref = purgedcv.CombinatorialPurgedCV(n_groups, k, prediction_times=t1.index,
                                         evaluation_times=t1.array)
    ours, theirs = list(cv.split(np.zeros(n), t1)), list(ref.split(np.zeros(n)))
    assert cv.get_n_splits() == ref.get_n_splits() == len(ours) == len(theirs)
    for (train, test), (ref_train, ref_test) in zip(ours, theirs, strict=True):
        assert list(test) == list(ref_test)
        assert list(train) == list(ref_train)
    # a prediction that records (split, sample) shows which split fills each path and sample
    predictions = [split * 1000.0 + test for split, (_, test) in enumerate(ours)]
    expected = ref.reconstruct_paths(predictions)
    assert cv.n_paths == expected.shape[0]
    np.testing.assert_array_equal(cv.path_predictions(predictions, n), expected)


def test_cpcv_on_real_triple_barrier_labels_has_no_leak():
    bars = apply_gate(BytetheorySource().load()).good
    close = bars[bars["symbol"] == "AAPL"].set_index("ts")["close"]
    labels = triple_barrier(close, None, (2.0, 2.0), 10, close.pct_change().ewm(span=20).std())
    cv = CombinatorialPurgedCV(6, 2, embargo_pct=0.02)
    for train, test in cv.split(labels, labels["t1"]):
        assert_purged_and_embargoed(labels["t1"], train, test, 0.02)
        assert len(train) > 0


def test_splitters_work_inside_scikit_learn_with_t1_bound():
    rng = np.random.default_rng(1)
    t1 = pd.Series(np.arange(200) + 5, index=np.arange(200))
    x, y = rng.normal(size=(200, 3)), rng.integers(0, 2, 200)
    for cv in (PurgedKFold(5, 0.01, t1=t1), CombinatorialPurgedCV(5, 2, 0.01, t1=t1)):
        scores = cross_val_score(LogisticRegression(), x, y, cv=cv)
        assert len(scores) == cv.get_n_splits()


def test_rejects_unsorted_samples_and_bad_settings():
    t1 = pd.Series([5, 6, 7], index=[2, 1, 3])
    with pytest.raises(ValueError, match="sorted"):
        list(PurgedKFold(2).split(np.zeros(3), t1))
    with pytest.raises(ValueError):
        PurgedKFold(1)
    with pytest.raises(ValueError):
        CombinatorialPurgedCV(4, 4)
    with pytest.raises(ValueError):
        list(PurgedKFold(2).split(np.zeros(4), t1))
