"""The seeded synthetic universe: deterministic, consistent OHLC, per-symbol streams, fat tails,
volatility regimes, volume tied to moves, and the 5,000 x 2,520 scale."""

from __future__ import annotations

import exchange_calendars as xcals
import numpy as np
import pandas as pd
import pytest

from alphaloop.common.errors import InvalidInputError
from alphaloop.ingest.sources.base import BAR_COLUMNS, PermanentSymbolError
from alphaloop.ingest.sources.synthetic import SECTORS, SyntheticSource


@pytest.fixture(scope="module")
def universe() -> tuple[SyntheticSource, pd.DataFrame]:
    source = SyntheticSource(n_symbols=200, n_bars=2520, seed=11)
    return source, source.generate()


def log_returns(bars: pd.DataFrame) -> np.ndarray:
    close = bars["close"].to_numpy().reshape(-1, bars["ts"].nunique())
    return np.diff(np.log(close), axis=1)


def test_layout_shape_symbols_and_license(universe):
    source, bars = universe
    assert list(bars.columns) == BAR_COLUMNS
    assert bars.shape == (200 * 2520, 11)
    assert list(bars["symbol"].unique()) == [f"SYN{i:05d}" for i in range(1, 201)]
    assert set(bars["source"]) == {"synthetic"} and set(bars["interval"]) == {"1d"}
    assert source.license == "synthetic (seeded), not market data"
    assert bars["trade_count"].dtype == "Int64" and str(bars["ts"].dt.tz) == "UTC"
    symbols = source.symbols()
    assert list(symbols.columns) == ["symbol", "name", "sector", "industry"]
    assert set(symbols["sector"]) <= set(SECTORS) and symbols["sector"].nunique() >= 8


def test_timestamps_are_the_exchange_sessions_from_start(universe):
    _, bars = universe
    expected = xcals.get_calendar("XNYS", start="2000-01-03").sessions[:2520]
    first = bars[bars["symbol"] == "SYN00001"]["ts"]
    assert list(first.dt.tz_localize(None)) == list(expected)
    assert first.iloc[0] == pd.Timestamp("2000-01-03", tz="UTC")
    assert pd.Timestamp("2000-01-17", tz="UTC") not in set(first)  # MLK day: no session
    assert (first.dt.dayofweek < 5).all()


def test_plain_business_days_without_a_calendar():
    bars = SyntheticSource(2, 10, seed=1, start="2024-01-01", calendar=None).generate()
    assert list(bars["ts"].iloc[:10].dt.strftime("%Y-%m-%d")) == list(
        pd.bdate_range("2024-01-01", periods=10).strftime("%Y-%m-%d")
    )


def test_ohlc_is_consistent_on_every_bar(universe):
    _, bars = universe
    o, h, lo, c = (bars[k].to_numpy() for k in ("open", "high", "low", "close"))
    assert (h >= np.maximum(o, c)).all()
    assert (lo <= np.minimum(o, c)).all()
    assert (lo > 0).all() and np.isfinite(h).all()
    assert ((bars["vwap"] >= bars["low"]) & (bars["vwap"] <= bars["high"])).all()
    assert (bars["volume"] > 0).all() and (bars["trade_count"] >= 1).all()
    assert (bars["volume"] == bars["volume"].round()).all()  # whole shares


def test_same_seed_same_universe_other_seed_other_universe():
    a = SyntheticSource(20, 300, seed=5).generate()
    b = SyntheticSource(20, 300, seed=5).generate()
    c = SyntheticSource(20, 300, seed=6).generate()
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["close"], c["close"])


def test_a_symbols_series_does_not_depend_on_how_many_symbols_were_asked_for():
    small = SyntheticSource(10, 500, seed=3)
    large = SyntheticSource(3000, 500, seed=3)
    from_small = small.generate().query("symbol == 'SYN00007'").reset_index(drop=True)
    pd.testing.assert_frame_equal(large.fetch(["SYN00007"]), from_small)
    pd.testing.assert_frame_equal(small.fetch(["SYN00007"]), from_small)
    assert small.symbols().iloc[6].to_dict() == large.symbols().iloc[6].to_dict()


def test_returns_have_fat_tails_from_jumps_and_regimes(universe):
    r = log_returns(universe[1])
    centred = r - r.mean(axis=1, keepdims=True)
    kurtosis = (centred**4).mean(axis=1) / (centred**2).mean(axis=1) ** 2  # normal: 3
    assert (kurtosis > 3).mean() > 0.95 and np.median(kurtosis) > 4


def test_volatility_switches_between_two_regimes_and_clusters(universe):
    source, bars = universe
    regime = source.simulate([1])["regime"][1:]
    assert set(np.unique(regime)) == {0, 1} and 0.05 < regime.mean() < 0.5
    r = log_returns(bars)
    ratio = r[:, regime == 1].std(axis=1) / r[:, regime == 0].std(axis=1)
    assert np.median(ratio) > 1.5  # stressed sessions are clearly more volatile
    a = np.abs(r - r.mean(axis=1, keepdims=True))
    lag1 = [np.corrcoef(row[:-1], row[1:])[0, 1] for row in a]
    assert np.median(lag1) > 0.05  # |r| autocorrelates: volatility clustering


def test_volume_rises_with_the_size_of_the_move(universe):
    _, bars = universe
    r = np.abs(log_returns(bars))
    volume = np.log(bars["volume"].to_numpy().reshape(r.shape[0], -1)[:, 1:])
    corr = [np.corrcoef(v, m)[0, 1] for v, m in zip(volume, r, strict=True)]
    assert np.median(corr) > 0.2
    typical = bars.groupby("symbol")["volume"].median()
    assert typical.max() / typical.min() > 10  # lognormal spread of liquidity across names


def test_fetch_filters_dates_and_refuses_unknown_symbols_and_intervals():
    source = SyntheticSource(5, 50, seed=2)
    bars = source.fetch(
        ["SYN00002"], pd.Timestamp("2000-01-10").date(), pd.Timestamp("2000-01-12").date()
    )
    assert list(bars["ts"].dt.strftime("%m-%d")) == ["01-10", "01-11", "01-12"]
    for symbol in ("SYN00006", "AAPL", "SYN0001"):
        with pytest.raises(PermanentSymbolError):
            source.fetch([symbol])
    with pytest.raises(InvalidInputError, match="interval"):
        source.fetch(["SYN00001"], interval="1h")


def test_too_many_bars_for_the_calendar_is_a_clear_error():
    with pytest.raises(InvalidInputError, match="calendar=None"):
        SyntheticSource(1, 100_000, seed=1).sessions()


def test_five_thousand_symbols_by_ten_years_is_generated():
    source = SyntheticSource(n_symbols=5000, n_bars=2520, seed=1)
    bars = source.generate()
    assert bars.shape == (5000 * 2520, 11)
    assert bars["symbol"].iloc[-1] == "SYN05000"
    assert np.isfinite(bars["close"].to_numpy()).all()
