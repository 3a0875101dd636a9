"""PSR and DSR against the published formulas, written out here from the papers (Bailey &
Lopez de Prado 2012 eq. 7 and 2014 eq. 2), against the 2014 paper's numerical example, and
against purgedcv's implementation under purgedcv's estimator conventions."""

import math

import numpy as np
import pandas as pd
import purgedcv
import pytest
from scipy.stats import norm

from alphaloop.grading import metrics
from alphaloop.grading.metrics import significance
from alphaloop.ingest.quality import apply_gate
from alphaloop.ingest.sources import BytetheorySource

EULER_GAMMA = 0.5772156649015329


@pytest.fixture(scope="module")
def universe():
    bars = apply_gate(BytetheorySource().load()).good
    close = bars.pivot(index="ts", columns="symbol", values="close")
    return close, close.pct_change(fill_method=None).iloc[1:]


def _reversal(close: pd.DataFrame, asset: pd.DataFrame, lookback: int, tail: float) -> pd.Series:
    score = -close.pct_change(lookback, fill_method=None)
    pct = score.rank(axis=1, pct=True)
    weights = (pct > 1 - tail).div((pct > 1 - tail).sum(axis=1), axis=0) - (pct <= tail).div(
        (pct <= tail).sum(axis=1), axis=0)
    return (weights.fillna(0.0).shift(1) * asset).sum(axis=1).iloc[lookback + 1:]


@pytest.fixture(scope="module")
def trials(universe):
    """Every configuration tried: 5 lookbacks x 4 tail sizes of a reversal strategy."""
    close, asset = universe
    return {(lb, tail): _reversal(close, asset, lb, tail)
            for lb in (1, 2, 3, 5, 10) for tail in (0.05, 0.1, 0.2, 0.3)}


def paper_moments(r: np.ndarray) -> tuple[float, float, float]:
    """SR (ddof=1, the ``sharpe`` metric per bar), skewness and kurtosis as the 2012 paper
    defines them: standardised third and fourth central moments (kurtosis 3 for a normal)."""
    mu = r.mean()
    m2 = np.mean((r - mu) ** 2)
    return mu / r.std(ddof=1), np.mean((r - mu) ** 3) / m2**1.5, np.mean((r - mu) ** 4) / m2**2


def paper_psr(sr: float, sr_star: float, t: int, g3: float, g4: float) -> float:
    z = (sr - sr_star) * math.sqrt(t - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    return norm.cdf(z)


def paper_sr0(n: int, variance: float) -> float:
    return math.sqrt(variance) * ((1 - EULER_GAMMA) * norm.ppf(1 - 1 / n)
                                  + EULER_GAMMA * norm.ppf(1 - 1 / (n * math.e)))


def test_dsr_reproduces_the_numerical_example_of_the_2014_paper():
    # Bailey & Lopez de Prado (2014), section 4: N = 100 trials, V[SR_n] = 1/2 annualised,
    # 250 days a year, T = 1250, best SR = 2.5 annualised, skew -3, kurtosis 10:
    # SR0 = 0.1132 per day and DSR = 0.9004.
    sr0 = metrics.expected_max_sharpe(100, 0.5 / 250)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    dsr = metrics.psr_from_moments(2.5 / math.sqrt(250), 1250, -3.0, 10.0, sr0)
    assert dsr == pytest.approx(0.9004, abs=5e-5)


@pytest.mark.parametrize("config", [(1, 0.1), (5, 0.1), (10, 0.3)])
@pytest.mark.parametrize("sr_star", [0.0, 0.05, -0.02])
def test_psr_matches_the_2012_formula_on_real_strategies(trials, config, sr_star):
    r = trials[config].to_numpy()
    sr, g3, g4 = paper_moments(r)
    expected = paper_psr(sr, sr_star, r.size, g3, g4)
    assert metrics.probabilistic_sharpe_ratio(r, sr_star) == pytest.approx(expected, rel=1e-10)


def test_dsr_matches_the_2014_formula_counting_every_configuration(trials):
    sharpes = np.array([metrics.sharpe_ratio(r) for r in trials.values()])  # annualised
    best = max(trials, key=lambda key: metrics.sharpe_ratio(trials[key]))
    r = trials[best].to_numpy()
    sr, g3, g4 = paper_moments(r)
    sr0 = paper_sr0(len(trials), np.var(sharpes, ddof=1) / 252)
    expected = paper_psr(sr, sr0, r.size, g3, g4)
    dsr = metrics.deflated_sharpe_ratio(r, n_trials=len(trials), trial_sharpes=sharpes)
    assert dsr == pytest.approx(expected, rel=1e-10)
    assert dsr < metrics.probabilistic_sharpe_ratio(r)  # selection always costs confidence
    m = metrics.compute_metrics(trials[best], n_trials=len(trials), trial_sharpes=sharpes)
    assert m["deflated_sharpe"] == pytest.approx(expected, rel=1e-10)
    assert m["n_trials"] == 20
    assert m["expected_max_sharpe"] == pytest.approx(sr0 * math.sqrt(252), rel=1e-10)


def test_more_trials_than_sharpes_kept_deflates_further(trials):
    r = trials[(5, 0.1)]
    sharpes = [metrics.sharpe_ratio(t) for t in trials.values()]
    kept = metrics.deflated_sharpe_ratio(r, n_trials=20, trial_sharpes=sharpes)
    tried = metrics.deflated_sharpe_ratio(r, n_trials=500, trial_sharpes=sharpes)
    assert tried < kept


def test_dsr_without_trial_sharpes_assumes_zero_skill_dispersion(trials):
    r = trials[(5, 0.1)].to_numpy()
    sr, g3, g4 = paper_moments(r)
    expected = paper_psr(sr, paper_sr0(50, 1 / (r.size - 1)), r.size, g3, g4)
    assert metrics.deflated_sharpe_ratio(r, n_trials=50) == pytest.approx(expected, rel=1e-10)


def test_one_trial_makes_dsr_the_psr_against_zero(trials):
    r = trials[(3, 0.2)]
    assert metrics.deflated_sharpe_ratio(r, 1) == metrics.probabilistic_sharpe_ratio(r, 0.0)


@pytest.mark.parametrize("config", [(1, 0.05), (2, 0.1), (10, 0.3)])
def test_psr_and_dsr_match_purgedcv_under_its_conventions(trials, config):
    # purgedcv: SR with ddof=0, bias-corrected (bias=False) skewness and kurtosis.
    r = trials[config].to_numpy()
    for sr_star in (0.0, 0.03):
        ours = metrics.probabilistic_sharpe_ratio(r, sr_star, ddof=0, bias=False)
        assert ours == pytest.approx(purgedcv.probabilistic_sharpe_ratio(r, sr_star), rel=1e-12)
    sharpes = np.array([metrics.sharpe_ratio(t) for t in trials.values()])
    ours = metrics.deflated_sharpe_ratio(r, 20, sharpes, ddof=0, bias=False)
    reference = purgedcv.deflated_sharpe_ratio(r, 20, float(np.var(sharpes, ddof=1)),
                                               bars_per_year=252)
    assert ours == pytest.approx(reference, rel=1e-12)
    assert significance.expected_max_sharpe(20, 0.01) == pytest.approx(
        purgedcv.deflated_sharpe_ratio_full(r, 20, 0.01).sr_star, rel=1e-12)
