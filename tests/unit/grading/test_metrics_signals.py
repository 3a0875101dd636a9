"""Signal metrics: AUC and accuracy against scikit-learn, conviction-accuracy correlation by
hand, information coefficients against scipy's Spearman on real bars, half-life by construction."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score, roc_auc_score

from alphaloop.grading import metrics
from alphaloop.ingest.quality import apply_gate
from alphaloop.ingest.sources import BytetheorySource


@pytest.fixture(scope="module")
def panel():
    bars = apply_gate(BytetheorySource().load()).good
    close = bars.pivot(index="ts", columns="symbol", values="close")
    return close, close.pct_change(fill_method=None)


def test_auc_and_accuracy_agree_with_sklearn_including_ties():
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2, 2000)
    probabilities = np.clip(0.5 + 0.1 * (labels - 0.5) + rng.normal(0, 0.15, 2000), 0, 1)
    probabilities = np.round(probabilities, 2)  # many ties
    assert metrics.auc(probabilities, labels) == pytest.approx(
        roc_auc_score(labels, probabilities), rel=1e-12)
    assert metrics.accuracy(probabilities, labels) == pytest.approx(
        accuracy_score(labels, probabilities > 0.5), rel=1e-12)


def test_triple_barrier_labels_count_only_upper_touches_as_positive():
    labels = np.array([1, 0, -1, 1, -1])
    probabilities = np.array([0.7, 0.6, 0.2, 0.55, 0.5])
    assert metrics.auc(probabilities, labels) == pytest.approx(
        roc_auc_score(labels > 0, probabilities), rel=1e-12)
    assert metrics.accuracy(probabilities, labels) == 0.8  # 0.6 on a 0 label is the one miss


def test_auc_with_one_class_is_undefined():
    assert math.isnan(metrics.auc([0.6, 0.7], [1, 1]))


def test_conviction_accuracy_correlation_by_hand():
    # Calls: 0.9 -> 1 right, 0.6 -> 1 wrong, 0.4 -> 0 right, 0.2 -> 0 right.
    # Conviction 0.4, 0.1, 0.1, 0.3 vs correct 1, 0, 1, 1: cov 0.125, ss 0.0675 and 0.75,
    # r = 0.125 / sqrt(0.0675 * 0.75) = 0.125 / 0.225 = 5/9.
    r = metrics.conviction_accuracy_correlation([0.9, 0.6, 0.4, 0.2], [1, 0, 0, 0])
    assert r == pytest.approx(5 / 9, rel=1e-12)
    assert math.isnan(metrics.conviction_accuracy_correlation([0.9, 0.1], [1, 0]))  # all right


def test_cross_sectional_ic_agrees_with_scipy_spearman_per_date(panel):
    close, asset = panel
    signal = -close.pct_change(5, fill_method=None)
    ic = metrics.information_coefficients(signal, asset, horizons=[1, 3], min_names=5)
    for h in (1, 3):
        forward = asset.shift(-h)
        per_date = []
        for date in signal.index:
            pair = pd.concat([signal.loc[date], forward.loc[date]], axis=1).dropna()
            if len(pair) >= 5:
                per_date.append(stats.spearmanr(pair.iloc[:, 0], pair.iloc[:, 1]).statistic)
        assert ic[h] == pytest.approx(np.mean(per_date), rel=1e-10)


def test_single_series_ic_is_the_time_series_spearman(panel):
    close, asset = panel
    signal = -close["AAPL"].pct_change(3, fill_method=None)
    ic = metrics.information_coefficients(signal, asset["AAPL"], horizons=[2])
    pair = pd.concat([signal, asset["AAPL"].shift(-2)], axis=1).dropna()
    assert ic[2] == pytest.approx(stats.spearmanr(pair.iloc[:, 0], pair.iloc[:, 1]).statistic,
                                  rel=1e-12)


def test_half_life_recovers_an_exact_exponential_decay():
    h = np.arange(1, 11)
    ic = pd.Series(0.05 * np.exp(-math.log(2) * h / 4.0), index=h)
    assert metrics.alpha_half_life(ic) == pytest.approx(4.0, rel=1e-6)


def test_half_life_is_zero_without_predictive_power_and_infinite_without_decay():
    h = np.arange(1, 6)
    assert metrics.alpha_half_life(pd.Series([-0.01, 0.02, 0.01, 0.0, 0.0], index=h)) == 0.0
    assert metrics.alpha_half_life(pd.Series(0.03, index=h)) == math.inf


def test_compute_metrics_reports_signal_metrics_only_with_their_inputs(panel):
    close, asset = panel
    returns = asset.mean(axis=1).iloc[1:]
    assert "auc" not in metrics.compute_metrics(returns)
    signal = -close.pct_change(5, fill_method=None)
    m = metrics.compute_metrics(returns, probabilities=[0.6, 0.4, 0.7], labels=[1, 0, 0],
                                signal=signal, asset_returns=asset)
    assert m["auc"] == pytest.approx(roc_auc_score([1, 0, 0], [0.6, 0.4, 0.7]), rel=1e-12)
    assert m["ic_1"] == pytest.approx(
        metrics.information_coefficients(signal, asset, [1])[1], rel=1e-12)
    assert m["alpha_half_life"] >= 0.0
