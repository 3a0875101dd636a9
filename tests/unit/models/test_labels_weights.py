"""Sample-uniqueness weights (AFML ch. 4) on hand-computed label layouts, the book's sequential
bootstrap example (section 4.5.3) and its Monte Carlo claim (4.5.4)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from alphaloop.ingest.quality import apply_gate
from alphaloop.ingest.sources import BytetheorySource
from alphaloop.models.labels import (
    average_uniqueness,
    bootstrap_draw_probabilities,
    concurrency,
    return_attribution_weights,
    sample_weights_by_symbol,
    sequential_bootstrap,
    time_decay,
    triple_barrier_by_symbol,
)

INDEX = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC")
# Four labels over six bars: A = bars 0-2, B = 2-4, C = 3-5, D = 5-5.
T1 = pd.Series(INDEX[[2, 4, 5, 5]], index=INDEX[[0, 2, 3, 5]])


def test_concurrency_counts_labels_covering_each_bar():
    # bar: 0 (A), 1 (A), 2 (A, B), 3 (B, C), 4 (B, C), 5 (C, D)
    assert concurrency(INDEX, T1).tolist() == [1, 1, 2, 2, 2, 2]


def test_average_uniqueness_by_hand():
    # A: (1 + 1 + 1/2) / 3;  B: (1/2 + 1/2 + 1/2) / 3;  C: same;  D: 1/2
    expected = [5 / 6, 1 / 2, 1 / 2, 1 / 2]
    np.testing.assert_allclose(average_uniqueness(INDEX, T1).to_numpy(), expected)


def test_return_attribution_weights_by_hand():
    close = pd.Series([100.0, 110.0, 99.0, 99.0, 108.9, 98.01], index=INDEX)
    up, down = math.log(1.1), math.log(0.9)  # log returns of bars 1..5: up, down, 0, up, down
    raw = [abs(up / 1 + down / 2),             # A: bars 0-2 (bar 0 has no return)
           abs(down / 2 + 0 / 2 + up / 2),     # B: bars 2-4
           abs(0 / 2 + up / 2 + down / 2),     # C: bars 3-5
           abs(down / 2)]                       # D: bar 5
    expected = np.array(raw) * 4 / sum(raw)
    weights = return_attribution_weights(close, T1)
    np.testing.assert_allclose(weights.to_numpy(), expected)
    assert weights.sum() == pytest.approx(4.0)


def test_time_decay_by_hand():
    uniqueness = pd.Series(1.0, index=INDEX[:4])
    # cumulative uniqueness 1..4; newest weighs 1, oldest-side intercept at last_weight
    np.testing.assert_allclose(time_decay(uniqueness, 0.5), [0.625, 0.75, 0.875, 1.0])
    np.testing.assert_allclose(time_decay(uniqueness, 1.0), [1.0, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(time_decay(uniqueness, -0.5), [0.0, 0.0, 0.5, 1.0])


def test_sequential_bootstrap_probabilities_match_afml_4_5_3():
    # AFML: t1 = pd.Series([2, 3, 5], index=[0, 2, 4]) on bars 0..5
    index = pd.RangeIndex(6)
    t1 = pd.Series([2, 3, 5], index=[0, 2, 4])
    np.testing.assert_allclose(bootstrap_draw_probabilities(index, t1), [1 / 3] * 3)
    # after drawing the second label: {5/14, 3/14, 6/14}
    np.testing.assert_allclose(bootstrap_draw_probabilities(index, t1, [1]),
                               [5 / 14, 3 / 14, 6 / 14])


def _uniqueness_of_sample(starts, ends, drawn, n_bars):
    counts = np.zeros(n_bars)
    for i in drawn:
        counts[starts[i]:ends[i] + 1] += 1
    return np.mean([np.mean(1 / counts[starts[i]:ends[i] + 1]) for i in drawn])


def test_sequential_bootstrap_draws_more_unique_samples_than_the_standard_one():
    # AFML 4.5.4 Monte Carlo: random labels, sequential vs standard bootstrap
    rng = np.random.default_rng(0)
    seq, std = [], []
    for trial in range(150):
        starts = np.sort(rng.integers(0, 100, 10))
        ends = np.minimum(starts + rng.integers(1, 6, 10), 99)
        t1 = pd.Series(ends, index=starts)
        seq.append(_uniqueness_of_sample(starts, ends, sequential_bootstrap(
            pd.RangeIndex(100), t1, seed=trial), 100))
        std.append(_uniqueness_of_sample(starts, ends, rng.integers(0, 10, 10), 100))
    assert np.median(seq) > np.median(std)
    assert np.mean(seq) > np.mean(std) + 0.02


def test_sequential_bootstrap_is_reproducible_with_a_seed():
    a = sequential_bootstrap(INDEX, T1, n_draws=20, seed=3)
    assert a.tolist() == sequential_bootstrap(INDEX, T1, n_draws=20, seed=3).tolist()
    assert set(a) <= {0, 1, 2, 3}


def test_weights_by_symbol_on_real_bars_match_each_symbol_alone():
    bars = apply_gate(BytetheorySource().load()).good
    bars = bars[bars["symbol"].isin(["AAPL", "XOM"])]
    labels = triple_barrier_by_symbol(bars, (1.0, 1.0), 10, span=20)
    weights = sample_weights_by_symbol(bars, labels)
    assert weights.index.equals(labels.index)
    close = bars[bars["symbol"] == "XOM"].set_index("ts")["close"]
    t1 = labels.loc["XOM", "t1"]
    np.testing.assert_allclose(weights.loc["XOM", "uniqueness"],
                               average_uniqueness(close.index, t1))
    assert 0 < weights["uniqueness"].min() and weights["uniqueness"].max() <= 1
    assert weights.loc["AAPL", "return_weight"].sum() == pytest.approx(len(labels.loc["AAPL"]))


def test_labels_outside_the_index_are_rejected():
    with pytest.raises(KeyError):
        concurrency(INDEX[:3], T1)
