"""Point-in-time guarantee: every feature computed on the full history equals, bit for bit,
the same feature computed on the history truncated at a cut date, on every bar up to and
including the cut (NaN equal to NaN). Cut dates are drawn with a fixed seed. Any feature that
fails is a look-ahead bug."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop import features

SEED = 20240605
CUTS = 5


def _cut_dates(bars: pd.DataFrame, ts_col: str, skip: int) -> list[pd.Timestamp]:
    dates = np.sort(bars[ts_col].unique())
    rng = np.random.default_rng(SEED)
    return [pd.Timestamp(d) for d in np.sort(rng.choice(dates[skip:-1], CUTS, replace=False))]


def _assert_prefix_identical(full: pd.DataFrame, bars: pd.DataFrame, ts_col: str,
                             cut: pd.Timestamp, **kwargs) -> None:
    past = bars[bars[ts_col] <= cut]
    truncated = features.compute(past, **kwargs)
    assert list(truncated.columns) == list(full.columns)
    expected = full.loc[past.index]
    at_cut = (past[ts_col] == cut).to_numpy()
    assert at_cut.any()
    for name in full.columns:
        a, b = truncated[name].to_numpy(), expected[name].to_numpy()
        # the cut date first (the guarantee as stated), then every earlier bar
        np.testing.assert_array_equal(a[at_cut], b[at_cut], err_msg=f"{name} at {cut}")
        np.testing.assert_array_equal(a, b, err_msg=f"{name} before {cut}")


@pytest.fixture(scope="module")
def full_real(real_bars):
    return features.compute(real_bars)


def test_every_feature_is_computed_on_the_real_universe(full_real, real_bars):
    assert full_real.shape == (len(real_bars), len(features.describe()))
    assert real_bars["symbol"].nunique() == 524


@pytest.mark.parametrize("cut_number", range(CUTS))
def test_features_at_a_random_cut_date_ignore_everything_after_it(
        cut_number, full_real, real_bars):
    cut = _cut_dates(real_bars, "ts", skip=30)[cut_number]
    _assert_prefix_identical(full_real, real_bars, "ts", cut)


@pytest.mark.parametrize("cut_number", range(CUTS))
def test_long_warmup_features_are_point_in_time_on_years_of_history(cut_number, long_bars):
    # bokeh's AAPL/IBM/MSFT/GOOG/FB give the 252-bar anchor and the 282-bar FFD real values
    params = {"ffd_log_close": {"d": 0.35}}
    full = features.compute(long_bars, params=params)
    assert full["anchor_52w_high"].notna().sum() > 10_000
    assert full["ffd_log_close"].notna().sum() > 10_000
    cut = _cut_dates(long_bars, "timestamp", skip=400)[cut_number]
    _assert_prefix_identical(full, long_bars, "timestamp", cut, params=params)


def test_a_given_index_series_is_read_as_of_each_date(real_bars):
    # an index series that starts earlier and has dates the bars lack: the as-of lookup
    # must not read past the bar's date, so truncating the index at the cut changes nothing
    closes = (real_bars.groupby("ts")["close"].mean())
    index = closes.rename(lambda t: t + pd.Timedelta(hours=12)).cumsum()
    names = [s.name for s in features.describe("regime")]
    full = features.compute(real_bars, names, market_index=index)
    cut = _cut_dates(real_bars, "ts", skip=60)[0]
    past = real_bars[real_bars["ts"] <= cut]
    truncated = features.compute(past, names, market_index=index[index.index <= cut])
    pd.testing.assert_frame_equal(truncated, full.loc[past.index])


def test_a_missing_value_after_the_cut_changes_nothing_before_it(real_bars):
    # kernels take a NaN-aware path when a series holds a NaN anywhere; a gap that comes
    # after the cut must not change a single earlier value
    cut = _cut_dates(real_bars, "ts", skip=30)[2]
    symbols = real_bars["symbol"].unique()[:40]
    bars = real_bars[real_bars["symbol"].isin(symbols)].copy()
    later = bars.index[(bars["ts"] > cut + pd.Timedelta(days=5))]
    bars.loc[later[::97], "close"] = np.nan
    bars.loc[later[5::89], "high"] = np.nan
    bars.loc[later[7::83], "volume"] = np.nan
    full = features.compute(bars)
    past = bars[bars["ts"] <= cut]
    truncated = features.compute(past)
    pd.testing.assert_frame_equal(truncated, full.loc[past.index])
