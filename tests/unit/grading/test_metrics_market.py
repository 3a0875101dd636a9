"""Market-relative metrics: regimes and regime consistency and tail survival by hand, the tail
against empyrical's CVaR, factor returns against a loop written here, crowding on real bars."""

import math

import empyrical
import numpy as np
import pandas as pd
import pytest

from alphaloop.grading import metrics
from alphaloop.ingest.quality import apply_gate
from alphaloop.ingest.sources import BytetheorySource


@pytest.fixture(scope="module")
def bars():
    good = apply_gate(BytetheorySource().load()).good
    close = good.pivot(index="ts", columns="symbol", values="close")
    volume = good.pivot(index="ts", columns="symbol", values="volume")
    return close, volume


def test_regimes_are_labelled_from_the_trailing_index_return_only():
    # Window 2, threshold 5%. Trailing return at t uses bars t-2, t-1:
    # t=2: 1.1*1.0-1 = +10% bull; t=3: 1.0*0.9-1 = -10% bear; t=4: 0.9*0.9-1 bear;
    # t=5: 0.9*1.0-1 bear; t=6: 1.0*1.03-1 = +3% sideways; t=7: 1.03^2-1 = +6.09% bull.
    index = [0.1, 0.0, -0.1, -0.1, 0.0, 0.03, 0.03, 0.0]
    labels = metrics.market_regimes(index, window=2, threshold=0.05)
    assert labels.tolist() == [None, None, "bull", "bear", "bear", "bear", "sideways", "bull"]
    # Changing bar t never changes the label of bar t (point in time).
    shocked = list(index)
    shocked[5] = -0.5
    assert metrics.market_regimes(shocked, 2, 0.05).iloc[5] == "bear"


def test_regime_consistency_is_the_share_of_regimes_that_made_money():
    index = [0.1, 0.0, -0.1, -0.1, 0.0, 0.03, 0.03, 0.0]
    strategy = [0.5, 0.5, 0.01, -0.02, 0.01, 0.02, -0.01, -0.01]
    # bull days 2 and 7: 1.01 * 0.99 - 1 = -0.0001 (lost); bear days 3-5: 0.98 * 1.01 * 1.02
    # - 1 = +0.9596% (made); sideways day 6: -1% (lost). Days 0-1 have no regime.
    table = metrics.regime_returns(strategy, index, window=2, threshold=0.05)
    assert table.loc["bull", "compounded_return"] == pytest.approx(-0.0001, abs=1e-15)
    assert table.loc["bear", "compounded_return"] == pytest.approx(0.98 * 1.01 * 1.02 - 1,
                                                                   abs=1e-15)
    assert table["days"].to_dict() == {"bear": 3, "bull": 2, "sideways": 1}
    assert metrics.regime_consistency(strategy, index, 2, 0.05) == pytest.approx(1 / 3)


def test_regimes_use_index_history_from_before_the_strategy_started():
    dates = pd.date_range("2024-01-01", periods=8, freq="B")
    index = pd.Series([0.1, 0.0, -0.1, -0.1, 0.0, 0.03, 0.03, 0.0], index=dates)
    strategy = pd.Series([0.01, -0.02, 0.01], index=dates[2:5])  # bull, bear, bear
    table = metrics.regime_returns(strategy, index, window=2, threshold=0.05)
    assert table["days"].to_dict() == {"bear": 2, "bull": 1}
    assert metrics.regime_consistency(strategy, index, 2, 0.05) == 0.5


def test_tail_survival_by_hand():
    # n = 21 market days -> k = int(20 * 0.05) + 1 = 2 worst days: -5% and -3%.
    m = np.zeros(21)
    m[[3, 10]] = [-0.05, -0.03]
    m[[4, 5]] = [0.02, -0.01]
    s = np.full(21, 0.001)
    s[[3, 10]] = [0.01, -0.02]
    mean, capture = metrics.tail_survival(s, m)
    assert mean == pytest.approx(-0.005, rel=1e-12)
    assert capture == pytest.approx(-0.005 / -0.04, rel=1e-12)


def test_the_tail_is_the_one_empyrical_cvar_averages(bars):
    close, _ = bars
    index = close.pct_change(fill_method=None).mean(axis=1).iloc[1:]
    mean, capture = metrics.tail_survival(index, index)
    assert mean == pytest.approx(empyrical.conditional_value_at_risk(index), rel=1e-12)
    assert capture == pytest.approx(1.0, rel=1e-12)


def _reference_factors(close, volume, lookback, skip, window, fraction, min_names):
    """The factor definitions of ``market``, one date at a time."""
    rets = close.pct_change(fill_method=None)
    rows = {}
    for i, date in enumerate(close.index):
        r = rets.iloc[i]
        row = {"market": r.mean() if r.notna().any() else np.nan}
        for name in ("momentum", "size"):
            if name == "momentum":
                j = i - 1
                ok = j - lookback >= 0
                score = close.iloc[j - skip] / close.iloc[j - lookback] - 1 if ok else None
            else:
                ok = i - 1 - (window - 1) >= 0
                dv = (close * volume).iloc[i - window:i] if ok else None
                score = -dv.mean(skipna=False) if ok else None
            if score is None:
                row[name] = np.nan
                continue
            score = score[r.notna() & score.notna()]
            if len(score) < min_names:
                row[name] = np.nan
                continue
            pct = score.rank(pct=True)
            top, bottom = pct.index[pct > 1 - fraction], pct.index[pct <= fraction]
            row[name] = r[top].mean() - r[bottom].mean()
        rows[date] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def test_factor_returns_match_a_date_by_date_construction(bars):
    close, volume = bars
    names = close.columns[:40]
    c, v = close[names].iloc[:60], volume[names].iloc[:60]
    ours = metrics.factor_returns(c, v, momentum_lookback=10, momentum_skip=2, size_window=5,
                                  min_names=6)
    reference = _reference_factors(c, v, 10, 2, 5, 1 / 3, 6)
    for column in ("market", "momentum", "size"):
        pd.testing.assert_series_equal(ours[column], reference[column], check_names=False,
                                       rtol=1e-12, atol=1e-15)
    assert ours["momentum"].iloc[:11].isna().all() and ours["momentum"].iloc[11:].notna().all()


def test_crowding_is_the_largest_absolute_correlation_with_market_and_factors(bars):
    close, volume = bars
    asset = close.pct_change(fill_method=None)
    factors = metrics.factor_returns(close, volume)
    index = asset.mean(axis=1).iloc[1:]
    strategy = asset["XOM"].dropna()
    m = metrics.compute_metrics(strategy, benchmark=index, factors=factors)
    frame = pd.concat([strategy.rename("s"), index.rename("b"), factors], axis=1)
    frame = frame.dropna(subset=["s"])
    expected = {
        "benchmark_correlation": frame["s"].corr(frame["b"]),
        "market_correlation": frame["s"].corr(frame["market"]),
        "momentum_correlation": frame["s"].corr(frame["momentum"]),
        "size_correlation": frame["s"].corr(frame["size"]),
    }
    for key, value in expected.items():
        assert m[key] == pytest.approx(value, rel=1e-10), key
    assert m["crowding"] == pytest.approx(max(abs(v) for v in expected.values()), rel=1e-12)
    assert m["beta"] > 0.5  # an oil major moves with the market


def test_compute_metrics_on_a_long_short_strategy_against_the_index(bars):
    close, volume = bars
    asset = close.pct_change(fill_method=None)
    index = asset.mean(axis=1).iloc[1:]
    score = -close.pct_change(5, fill_method=None)
    pct = score.rank(axis=1, pct=True)
    weights = ((pct > 0.9).div((pct > 0.9).sum(axis=1), axis=0)
               - (pct <= 0.1).div((pct <= 0.1).sum(axis=1), axis=0)).fillna(0.0)
    returns = (weights.shift(1) * asset).sum(axis=1).iloc[6:]
    adv = (close * volume).rolling(21, min_periods=1).mean().ffill().bfill()
    m = metrics.compute_metrics(returns, benchmark=index, positions=weights.loc[returns.index],
                                adv=adv.loc[returns.index], asset_returns=asset, signal=score,
                                factors=metrics.factor_returns(close, volume), n_trials=20)
    for key in ("regime_consistency", "tail_mean_return", "tail_capture", "crowding", "turnover",
                "capacity", "alpha_half_life", "deflated_sharpe", "probabilistic_sharpe"):
        assert np.isfinite(m[key]), key
    assert 0.0 <= m["regime_consistency"] <= 1.0
    assert m["deflated_sharpe"] < m["probabilistic_sharpe"]
    assert abs(m["beta"]) < 0.5  # dollar-neutral
    assert "auc" not in m and not math.isnan(m["win_rate"])
