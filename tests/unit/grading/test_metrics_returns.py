"""Return-based metrics agree with empyrical-reloaded on strategy returns built from the bundled
real bars (S&P 500 names, 2009-08 to 2010-08), and drawdown durations match hand counts."""

import empyrical
import numpy as np
import pandas as pd
import pytest

from alphaloop.grading import metrics
from alphaloop.ingest.quality import apply_gate
from alphaloop.ingest.sources import BytetheorySource

REL = 1e-10


@pytest.fixture(scope="module")
def strategies() -> dict[str, pd.Series]:
    bars = apply_gate(BytetheorySource().load()).good
    close = bars.pivot(index="ts", columns="symbol", values="close")
    asset = close.pct_change(fill_method=None).iloc[1:]
    # Short-term reversal, long the worst decile of the last 5 days and short the best, paying
    # 10 bps on traded notional: an after-cost long-short track record.
    score = -close.pct_change(5, fill_method=None)
    pct = score.rank(axis=1, pct=True)
    weights = (pct > 0.9).div((pct > 0.9).sum(axis=1), axis=0) - (pct <= 0.1).div(
        (pct <= 0.1).sum(axis=1), axis=0)
    weights = weights.fillna(0.0)
    gross = (weights.shift(1) * asset).sum(axis=1).iloc[6:]
    costs = 0.001 * weights.diff().abs().sum(axis=1).reindex(gross.index)
    out = {
        "equal_weight": asset.mean(axis=1),
        "reversal_after_costs": gross - costs,
    }
    for symbol in ("AAPL", "XOM", "JPM", "GE"):
        out[symbol] = asset[symbol].dropna()
    return out


NAMES = ["equal_weight", "reversal_after_costs", "AAPL", "XOM", "JPM", "GE"]


@pytest.mark.parametrize("name", NAMES)
def test_each_return_metric_agrees_with_empyrical(strategies, name):
    r = strategies[name]
    assert len(r) > 200
    pairs = {
        "total_return": (metrics.total_return(r), empyrical.cum_returns_final(r)),
        "annual_return": (metrics.annual_return(r), empyrical.annual_return(r)),
        "cagr": (metrics.annual_return(r), empyrical.cagr(r)),
        "annual_volatility": (metrics.annual_volatility(r), empyrical.annual_volatility(r)),
        "sharpe": (metrics.sharpe_ratio(r), empyrical.sharpe_ratio(r)),
        "sortino": (metrics.sortino_ratio(r), empyrical.sortino_ratio(r)),
        "downside_risk": (metrics.downside_risk(r), empyrical.downside_risk(r)),
        "max_drawdown": (metrics.max_drawdown(r), empyrical.max_drawdown(r)),
        "calmar": (metrics.calmar_ratio(r), empyrical.calmar_ratio(r)),
        "value_at_risk": (metrics.value_at_risk(r), empyrical.value_at_risk(r)),
        "cvar": (metrics.conditional_value_at_risk(r), empyrical.conditional_value_at_risk(r)),
    }
    for metric, (ours, reference) in pairs.items():
        assert ours == pytest.approx(float(reference), rel=REL), metric
    drawdowns = metrics.drawdown_series(r)
    np.testing.assert_allclose(drawdowns.to_numpy(), empyrical.stats.drawdown_series(r).to_numpy(),
                               rtol=REL, atol=1e-15)


@pytest.mark.parametrize("name", ["reversal_after_costs", "AAPL", "XOM"])
def test_alpha_and_beta_agree_with_empyrical(strategies, name):
    r = strategies[name]
    index = strategies["equal_weight"]
    r_aligned, index_aligned = r.align(index, join="inner")
    alpha, beta = metrics.alpha_beta(r, index)
    ref_alpha, ref_beta = empyrical.alpha_beta(r_aligned, index_aligned)
    assert beta == pytest.approx(ref_beta, rel=REL)
    assert alpha == pytest.approx(ref_alpha, rel=REL)


@pytest.mark.parametrize("name", NAMES)
def test_compute_metrics_reports_the_empyrical_values(strategies, name):
    r = strategies[name]
    m = metrics.compute_metrics(r)
    assert m["sharpe"] == pytest.approx(empyrical.sharpe_ratio(r), rel=REL)
    assert m["sortino"] == pytest.approx(empyrical.sortino_ratio(r), rel=REL)
    assert m["calmar"] == pytest.approx(empyrical.calmar_ratio(r), rel=REL)
    assert m["max_drawdown"] == pytest.approx(empyrical.max_drawdown(r), rel=REL)
    assert m["annual_return"] == pytest.approx(empyrical.annual_return(r), rel=REL)
    assert m["annual_volatility"] == pytest.approx(empyrical.annual_volatility(r), rel=REL)
    assert m["total_return"] == pytest.approx(empyrical.cum_returns_final(r), rel=REL)


def test_drawdown_durations_count_bars_underwater_by_hand():
    # Wealth: 0.5, 1.0, 0.875, 0.765625, 0.765625, 1.1484375 (all exact in binary).
    # Underwater spells: bar 0 (depth -50%, the deepest) and bars 2-4 (3 bars), recovered at 5.
    r = [-0.5, 1.0, -0.125, -0.125, 0.0, 0.5]
    assert metrics.max_drawdown(r) == -0.5
    assert metrics.max_drawdown_duration(r) == 1
    assert metrics.longest_drawdown_duration(r) == 3


def test_an_unrecovered_drawdown_runs_to_the_last_bar():
    # Wealth 1.1, 1.045, 0.99275, 1.1913, 1.179387, 0.5896935, 0.64866285: spells of 2 and 3
    # bars; the deepest (bar 5) is in the second, which never recovers.
    r = [0.10, -0.05, -0.05, 0.20, -0.01, -0.5, 0.1]
    assert metrics.max_drawdown_duration(r) == 3
    assert metrics.longest_drawdown_duration(r) == 3
    assert metrics.max_drawdown(r) == pytest.approx(0.5896935 / 1.1913 - 1, rel=1e-12)


def test_a_series_that_never_falls_has_no_drawdown_and_no_calmar():
    r = [0.01, 0.0, 0.02]
    assert metrics.max_drawdown(r) == 0.0
    assert metrics.max_drawdown_duration(r) == 0
    assert np.isnan(metrics.calmar_ratio(r))


def test_returns_with_a_gap_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        metrics.sharpe_ratio([0.01, np.nan, 0.02])
