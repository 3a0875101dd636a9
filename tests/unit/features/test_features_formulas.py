"""Features TA-Lib does not compute, checked against independent pandas / numpy versions of
the formulas in their docstrings, on real bars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib

from alphaloop import features

LN2 = np.log(2.0)


@pytest.fixture(scope="module")
def sample(real_bars, sample_symbols):
    bars = real_bars[real_bars["symbol"].isin(sample_symbols[:8])].sort_values(["symbol", "ts"])
    return bars, features.compute(bars)


def _per_symbol(bars: pd.DataFrame, fn) -> pd.Series:
    return pd.concat([fn(g) for _, g in bars.groupby("symbol", sort=False)])


def _check(ours: pd.Series, ref: pd.Series, rtol: float = 1e-9, atol: float = 1e-12) -> None:
    ref = ref.reindex(ours.index)
    np.testing.assert_array_equal(ours.isna().to_numpy(), ref.isna().to_numpy())
    valid = ref.notna().to_numpy()
    assert valid.any()
    np.testing.assert_allclose(ours.to_numpy()[valid], ref.to_numpy()[valid], rtol=rtol,
                               atol=atol)


def _log_ret(g):
    return np.log(g["close"] / g["close"].shift(1))


REFERENCES = {
    "logret_5": lambda g: np.log(g["close"] / g["close"].shift(5)),
    "rvol_21": lambda g: _log_ret(g).rolling(21).std(ddof=1),
    "rvol_63": lambda g: _log_ret(g).rolling(63).std(ddof=1),
    "parkinson_vol_21": lambda g: np.sqrt(
        (np.log(g["high"] / g["low"]) ** 2).rolling(21).sum() / (4 * LN2 * 21)),
    "garman_klass_vol_21": lambda g: np.sqrt((
        0.5 * np.log(g["high"] / g["low"]) ** 2
        - (2 * LN2 - 1) * np.log(g["close"] / g["open"]) ** 2).rolling(21).mean()),
    "vol_ratio_20": lambda g: g["volume"] / g["volume"].rolling(20).mean(),
    "vol_ratio_5_63": lambda g: g["volume"].rolling(5).mean() / g["volume"].rolling(63).mean(),
    "log_dollar_volume_21": lambda g: np.log((g["close"] * g["volume"]).rolling(21).mean()),
    "vwap_dist_20": lambda g: g["close"] / (
        ((g["high"] + g["low"] + g["close"]) / 3 * g["volume"]).rolling(20).sum()
        / g["volume"].rolling(20).sum()) - 1,
    "cmf_20": lambda g: (((g["close"] - g["low"]) - (g["high"] - g["close"]))
                         / (g["high"] - g["low"]) * g["volume"]).rolling(20).sum()
    / g["volume"].rolling(20).sum(),
    "amihud_21": lambda g: (1e6 * (g["close"].pct_change().abs() / (g["close"] * g["volume"]))
                            ).rolling(21).mean(),
    "roll_spread_21": lambda g: 2 * np.sqrt(np.maximum(
        0.0, -_log_ret(g).rolling(21).cov(_log_ret(g).shift(1)))),
    "loss_aversion_63": lambda g: (_log_ret(g).clip(upper=0) ** 2).rolling(63).sum()
    / (_log_ret(g).clip(lower=0) ** 2).rolling(63).sum(),
    "panic_score": lambda g: np.maximum(0.0, -_log_ret(g) / _log_ret(g).rolling(21).std().shift(1))
    * g["volume"] / g["volume"].rolling(21).mean().shift(1),
    "dist_sma_200": lambda g: g["close"] / g["close"].rolling(200).mean() - 1,
    "sma_cross_50_200": lambda g: np.sign(g["close"].rolling(50).mean()
                                          - g["close"].rolling(200).mean()),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_feature_matches_its_docstring_formula(name, sample):
    bars, out = sample
    _check(out[name], _per_symbol(bars, REFERENCES[name]), rtol=1e-8)


def _corwin_schultz(g):
    hl = np.log(g["high"] / g["low"]) ** 2
    beta = hl + hl.shift(1)
    gamma = np.log(np.maximum(g["high"], g["high"].shift(1))
                   / np.minimum(g["low"], g["low"].shift(1))) ** 2
    den = 3 - 2 * np.sqrt(2)
    alpha = (np.sqrt(2 * beta) - np.sqrt(beta)) / den - np.sqrt(gamma / den)
    spread = (2 * (np.exp(alpha) - 1) / (1 + np.exp(alpha))).clip(lower=0)
    return spread.rolling(21).mean()


def test_corwin_schultz_spread(sample):
    bars, out = sample
    _check(out["corwin_schultz_21"], _per_symbol(bars, _corwin_schultz), rtol=1e-8)


def test_kyles_lambda_is_the_ols_slope_of_returns_on_signed_dollar_volume(sample):
    bars, out = sample
    for symbol, g in list(bars.groupby("symbol"))[:3]:
        r = _log_ret(g).to_numpy()
        sign = pd.Series(np.sign(r)).replace(0.0, np.nan).ffill().fillna(0.0).to_numpy()
        x = sign * g["close"].to_numpy() * g["volume"].to_numpy() / 1e6
        ours = out.loc[g.index, "kyle_lambda_21"].to_numpy()
        for t in range(21, len(g), 17):
            slope = np.polyfit(x[t - 20: t + 1], r[t - 20: t + 1], 1)[0]
            assert ours[t] == pytest.approx(slope, rel=1e-7), (symbol, t)
        assert np.isnan(ours[:21]).all()


def test_fear_greed_is_the_mean_of_its_four_clipped_components(sample):
    bars, out = sample

    def reference(g):
        c, v = g["close"], g["volume"]
        r = _log_ret(g)
        c1 = (pd.Series(talib.RSI(c.to_numpy(), 14), index=g.index) - 50) / 50
        c2 = ((c / c.rolling(125).mean() - 1) / 0.10).clip(-1, 1)
        c3 = (1 - r.rolling(21).std() / r.rolling(126).std()).clip(-1, 1)
        up = v.where(c.diff() > 0, 0.0).rolling(21).sum()
        down = v.where(c.diff() < 0, 0.0).rolling(21).sum()
        c4 = ((up - down) / (up + down)).fillna(0.0).where(up.notna())
        return (c1 + c2 + c3 + c4) / 4

    _check(out["fear_greed"], _per_symbol(bars, reference), rtol=1e-8)


def test_anchoring_to_the_52_week_high(long_bars):
    out = features.compute(long_bars, ["anchor_52w_high"])
    ref = _per_symbol(long_bars.sort_values(["symbol", "timestamp"]),
                      lambda g: g["close"] / g["high"].rolling(252).max())
    _check(out["anchor_52w_high"], ref, rtol=1e-15)


def test_calendar_fields_match_pandas(sample):
    bars, out = sample
    ts = bars["ts"].dt.tz_convert(None)
    np.testing.assert_array_equal(out["day_of_week"], ts.dt.dayofweek)
    np.testing.assert_array_equal(out["day_of_month"], ts.dt.day)
    np.testing.assert_array_equal(out["month"], ts.dt.month)
    month_start = ts.dt.to_period("M").dt.start_time
    month_end = ts.dt.to_period("M").dt.end_time.dt.normalize()
    upto = [len(pd.bdate_range(a, b)) for a, b in zip(month_start, ts)]
    after = [len(pd.bdate_range(a, b)) - 1 for a, b in zip(ts, month_end)]
    np.testing.assert_array_equal(out["weekdays_to_month_end"], after)
    tom = (np.array(upto) <= 3) | (np.array(after) == 0)
    np.testing.assert_array_equal(out["turn_of_month"], tom.astype(float))


def test_cross_sectional_rank_and_zscore_use_every_symbol_on_the_date(real_bars):
    out = features.compute(real_bars, ["ret_21", "cs_rank_ret_21", "cs_z_ret_21"])
    frame = real_bars[["ts"]].assign(x=out["ret_21"])
    by_date = frame.groupby("ts")["x"]
    rank = (by_date.rank(method="average") - 1) / (by_date.transform("count") - 1)
    z = (frame["x"] - by_date.transform("mean")) / by_date.transform("std")
    _check(out["cs_rank_ret_21"], rank, rtol=1e-12)
    _check(out["cs_z_ret_21"], z, rtol=1e-9, atol=1e-12)


def test_regime_and_herding_read_an_equal_weighted_universe_index(real_bars):
    names = ["regime_trend_50", "regime_ret_21", "regime_vol_21", "regime_vol_ratio", "herding"]
    out = features.compute(real_bars, names)
    ret = real_bars.assign(r=real_bars.groupby("symbol")["close"].pct_change())
    daily = ret.groupby("ts")["r"]
    index_ret = daily.mean()
    level = (1 + index_ret.fillna(0.0)).cumprod()
    per_date = pd.DataFrame({
        "regime_trend_50": level / level.rolling(50).mean() - 1,
        "regime_ret_21": level / level.shift(21) - 1,
        "regime_vol_21": index_ret.rolling(21).std(),
        "regime_vol_ratio": index_ret.rolling(21).std() / index_ret.rolling(126).std(),
    })
    csad = (ret["r"] - ret["ts"].map(index_ret)).abs().groupby(ret["ts"]).mean()
    per_date["herding"] = 1 - csad / csad.rolling(63).mean()
    for name in names:
        _check(out[name], real_bars["ts"].map(per_date[name]), rtol=1e-8, atol=1e-12)


def test_vwap_distance_uses_the_bars_own_vwap_when_they_carry_one(sample):
    bars, _ = sample
    with_vwap = bars.assign(vwap=bars["close"] * 1.001)
    out = features.compute(with_vwap, ["vwap_dist_20"])
    ref = _per_symbol(with_vwap, lambda g: g["close"] / (
        (g["vwap"] * g["volume"]).rolling(20).sum() / g["volume"].rolling(20).sum()) - 1)
    _check(out["vwap_dist_20"], ref, rtol=1e-8)


def test_gaps_in_one_symbol_leave_the_other_symbols_alone(sample):
    bars, out = sample
    gappy = bars.copy()
    first = gappy["symbol"].iloc[0]
    rows = gappy.index[gappy["symbol"] == first]
    gappy.loc[rows[50:53], ["close", "high"]] = np.nan
    again = features.compute(gappy)
    series = [s.name for s in features.describe() if s.kind == "series"]
    others = gappy["symbol"] != first
    pd.testing.assert_frame_equal(again.loc[others, series], out.loc[others, series])
    # the gap shows as missing values, never as made-up ones
    assert again.loc[rows[50:53], "ret_1"].isna().all()
    assert again.loc[rows[52:62], "sma_10"].isna().all()  # while the gap is in the window
    assert again.loc[rows[62:], "sma_10"].notna().all()  # then the window recovers
