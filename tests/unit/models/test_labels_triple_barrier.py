"""Triple-barrier labels against a plain-pandas transcription of AFML snippets 3.2-3.5 on real
bundled bars (mlfinpy cannot share this venv), and against hand-computed tiny paths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.ingest.quality import apply_gate
from alphaloop.ingest.sources import BytetheorySource
from alphaloop.models.labels import (
    daily_volatility,
    meta_labels,
    meta_labels_by_symbol,
    triple_barrier,
    triple_barrier_by_symbol,
)

SYMBOLS = ["AAPL", "XOM", "JPM", "GE", "AMZN"]


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return apply_gate(BytetheorySource().load()).good


def _close(bars: pd.DataFrame, symbol: str) -> pd.Series:
    return bars[bars["symbol"] == symbol].set_index("ts")["close"].sort_index()


def afml_reference(close, t_events, pt_sl, vertical_bars, trgt, min_ret=0.0, side=None):
    """AFML snippets 3.4 (vertical barrier, counted in bars), 3.3 (getEvents), 3.2
    (applyPtSlOnT1) and 3.5/3.7 (getBins), one event at a time. Returns t1, ret, sign label and
    the barrier whose touch time is t1."""
    # 3.4: vertical barrier vertical_bars bars ahead; events past the data get none (NaN)
    t1 = close.index.searchsorted(t_events) + vertical_bars
    t1 = t1[t1 < close.shape[0]]
    t1 = pd.Series(close.index[t1], index=t_events[:t1.shape[0]])
    # 3.3: target at the events, above min_ret
    trgt = trgt.loc[t_events]
    trgt = trgt[trgt > min_ret]
    side_ = pd.Series(1.0, index=trgt.index) if side is None else side.loc[trgt.index]
    events = pd.concat({"t1": t1, "trgt": trgt, "side": side_}, axis=1).dropna(subset=["trgt"])
    # 3.2: first touch of each horizontal barrier on the path close[t0:t1]
    pt = pt_sl[0] * events["trgt"] if pt_sl[0] > 0 else pd.Series(np.nan, index=events.index)
    sl = -pt_sl[1] * events["trgt"] if pt_sl[1] > 0 else pd.Series(np.nan, index=events.index)
    rows = {}
    for loc, vertical in events["t1"].fillna(close.index[-1]).items():
        path = close[loc:vertical]
        path = (path / close[loc] - 1) * events.at[loc, "side"]
        rows[loc] = {"t1": events.at[loc, "t1"],
                     "sl": path[path < sl[loc]].index.min(),
                     "pt": path[path > pt[loc]].index.min()}
    out = pd.DataFrame.from_dict(rows, orient="index").apply(pd.to_datetime, utc=True)
    touched = out.dropna(how="all")
    first = touched.min(axis=1)
    # 3.5 / 3.7: return to the first touch, its sign as the label
    ret = close.loc[first.to_numpy()].to_numpy() / close.loc[first.index].to_numpy() - 1
    ret = ret * events.loc[first.index, "side"].to_numpy()
    barrier = np.where(touched["pt"] == first, "pt", np.where(touched["sl"] == first, "sl",
                                                             "vertical"))
    return pd.DataFrame({"t1": first, "ret": ret, "label": np.sign(ret).astype(int),
                         "barrier": barrier}, index=first.index)


def _momentum_side(close: pd.Series) -> pd.Series:
    return np.sign(close.pct_change(5)).replace(0, np.nan)


CASES = [  # (pt_sl, vertical_bars, min_ret, events every k bars)
    ((1.0, 1.0), 10, 0.0, 1),
    ((2.0, 1.0), 5, 0.005, 1),
    ((1.0, 0.0), 20, 0.0, 3),
    ((0.0, 1.5), 10, 0.0, 2),
    ((0.5, 3.0), 3, 0.01, 1),
]


@pytest.mark.parametrize("pt_sl, vertical_bars, min_ret, every", CASES)
def test_triple_barrier_agrees_with_afml_snippets_on_real_bars(bars, pt_sl, vertical_bars,
                                                               min_ret, every):
    for symbol in SYMBOLS:
        close = _close(bars, symbol)
        trgt = close.pct_change().ewm(span=20).std()
        t_events = close.index[1::every]
        expected = afml_reference(close, t_events, pt_sl, vertical_bars, trgt, min_ret)
        ours = triple_barrier(close, t_events, pt_sl, vertical_bars, trgt, min_ret)
        assert len(expected) > 50
        assert ours.index.equals(expected.index), symbol
        assert (ours["t1"] == expected["t1"]).all(), symbol
        assert (ours["label"] == expected["label"]).all(), symbol
        assert (ours["barrier"].astype(str) == expected["barrier"]).all(), symbol
        np.testing.assert_allclose(ours["ret"], expected["ret"], rtol=0, atol=1e-15)


def test_triple_barrier_with_side_agrees_with_afml_snippets_on_real_bars(bars):
    for symbol in SYMBOLS:
        close = _close(bars, symbol)
        trgt = close.pct_change().ewm(span=20).std()
        side = _momentum_side(close)
        t_events = side.dropna().index
        expected = afml_reference(close, t_events, (1.0, 2.0), 10, trgt, side=side)
        ours = triple_barrier(close, t_events, (1.0, 2.0), 10, trgt, side=side)
        assert ours.index.equals(expected.index)
        assert (ours["t1"] == expected["t1"]).all()
        assert (ours["label"] == expected["label"]).all()
        assert (ours["barrier"].astype(str) == expected["barrier"]).all()
        np.testing.assert_allclose(ours["ret"], expected["ret"], rtol=0, atol=1e-15)
        # AFML 3.7 meta-label: bin = sign(ret * side), then 0 where ret <= 0
        meta = meta_labels(close, side, (1.0, 2.0), 10, trgt)
        assert meta.index.equals(expected.index)
        assert (meta["label"].to_numpy() == (expected["ret"].to_numpy() > 0)).all()


def test_zero_vertical_label_convention_on_real_bars(bars):
    close = _close(bars, "MSFT")
    trgt = close.pct_change().ewm(span=20).std()
    expected = afml_reference(close, close.index[1:], (2.0, 2.0), 5, trgt)
    expected.loc[expected["barrier"] == "vertical", "label"] = 0  # AFML exercise 3.3
    ours = triple_barrier(close, close.index[1:], (2.0, 2.0), 5, trgt, vertical_label="zero")
    assert (expected["barrier"] == "vertical").sum() > 20
    assert (ours["label"] == expected["label"]).all()


def test_by_symbol_equals_each_symbol_alone_and_never_reads_the_next_symbol(bars):
    subset = bars[bars["symbol"].isin(SYMBOLS)]
    panel = triple_barrier_by_symbol(subset, (1.0, 1.0), 10, span=20)
    assert panel.index.names == ["symbol", "ts"]
    for symbol in SYMBOLS:
        close = _close(bars, symbol)
        alone = triple_barrier(close, None, (1.0, 1.0), 10, daily_volatility(close, 20))
        pd.testing.assert_frame_equal(panel.loc[symbol], alone, check_names=False)
        assert (panel.loc[symbol, "t1"] <= close.index[-1]).all()


def test_by_symbol_events_and_sides_equal_each_symbol_alone(bars):
    subset = bars[bars["symbol"].isin(SYMBOLS[:3])].sort_values(["symbol", "ts"]).copy()
    subset["event"] = np.where(np.arange(len(subset)) % 3 == 0, True, None)
    subset["side"] = np.sign(subset.groupby("symbol")["close"].pct_change(5))
    panel = meta_labels_by_symbol(subset, "side", (1.0, 2.0), 10, span=20, event_column="event")
    for symbol in SYMBOLS[:3]:
        rows = subset[subset["symbol"] == symbol].set_index("ts")
        close = rows["close"]
        events = rows.index[rows["event"].notna()]
        alone = meta_labels(close, rows["side"], (1.0, 2.0), 10, daily_volatility(close, 20),
                            events=events)
        pd.testing.assert_frame_equal(panel.loc[symbol], alone, check_names=False)


def test_daily_volatility_is_ewm_std_of_close_to_close_returns_on_daily_bars(bars):
    close = _close(bars, "AAPL")
    expected = close.pct_change().ewm(span=50).std()
    pd.testing.assert_series_equal(daily_volatility(close, 50), expected, check_names=False)


def test_daily_volatility_on_intraday_bars_uses_the_last_bar_a_day_earlier():
    index = pd.DatetimeIndex(["2024-01-01 10:00", "2024-01-01 16:00", "2024-01-02 10:00",
                              "2024-01-02 15:00", "2024-01-03 12:00"], tz="UTC")
    close = pd.Series([100.0, 101.0, 102.0, 104.0, 103.0], index=index)
    # 01-02 10:00 -> 01-01 10:00; 01-02 15:00 -> 01-01 10:00; 01-03 12:00 -> 01-02 10:00
    returns = pd.Series([np.nan, np.nan, 102 / 100 - 1, 104 / 100 - 1, 103 / 102 - 1],
                        index=index)
    pd.testing.assert_series_equal(daily_volatility(close, 10), returns.ewm(span=10).std(),
                                   check_names=False)


# Six bars: returns from bar 0 are +1%, +3%, -1%, -4%, +4%.
HAND_CLOSE = [100.0, 101.0, 103.0, 99.0, 96.0, 104.0]


def _hand(pt_sl, vertical_bars, trgt, **kwargs):
    index = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC")
    close = pd.Series(HAND_CLOSE, index=index)
    events = kwargs.pop("events", index)
    return index, triple_barrier(close, events, pt_sl, vertical_bars, trgt, **kwargs)


def test_hand_computed_first_touches_with_two_percent_barriers():
    index, out = _hand((1.0, 1.0), 4, 0.02)
    # t0=0: +1%, +3% > 2% at bar 2.        t0=1: 103/101-1=+1.98%, 99/101-1=-1.98%, 96/101-1=-4.95%
    # t0=2: 99/103-1=-3.9% at bar 3.       t0=3: 96/99-1=-3.0% at bar 4.   t0=4: 104/96-1=+8.3%
    # t0=5: no later bar, vertical barrier beyond the data: outcome unknown, dropped.
    assert list(out.index) == list(index[:5])
    assert list(out["t1"]) == [index[2], index[4], index[3], index[4], index[5]]
    assert list(out["barrier"].astype(str)) == ["pt", "sl", "sl", "sl", "pt"]
    assert list(out["label"]) == [1, -1, -1, -1, 1]
    np.testing.assert_allclose(out["ret"], [0.03, 96 / 101 - 1, 99 / 103 - 1, 96 / 99 - 1,
                                            104 / 96 - 1])


def test_hand_computed_vertical_touches_and_unknown_outcomes_with_six_percent_barriers():
    index, out = _hand((3.0, 3.0), 4, 0.02)
    # t0=0: path to bar 4 stays within +-6% -> vertical at bar 4, ret -4%.
    # t0=1: path to bar 5 within +-6% -> vertical at bar 5, ret 104/101-1 = +2.97%.
    # t0=2: vertical at bar 6 is past the data, but 96/103-1 = -6.8% touches sl at bar 4: kept.
    # t0=3: 96/99-1 = -3.0%, 104/99-1 = +5.1%, then the data end before its vertical: dropped.
    # t0=4: 104/96-1 = +8.3% > 6% at bar 5: kept.   t0=5: no later bar: dropped.
    assert list(out.index) == list(index[[0, 1, 2, 4]])
    assert list(out["t1"]) == list(index[[4, 5, 4, 5]])
    assert list(out["barrier"].astype(str)) == ["vertical", "vertical", "sl", "pt"]
    assert list(out["label"]) == [-1, 1, -1, 1]
    _, zero = _hand((3.0, 3.0), 4, 0.02, vertical_label="zero")
    assert list(zero["label"]) == [0, 0, -1, 1]


def test_hand_computed_disabled_stop_loss_and_a_touch_on_the_vertical_bar():
    index, out = _hand((1.0, 0.0), 4, 0.02, events=index_at([1]))
    # t0=1: +1.98%, -1.98%, -4.95% (no stop), then +2.97% > 2% on bar 5, the vertical bar itself:
    # a horizontal touch wins over the vertical barrier.
    assert list(out["t1"]) == [index[5]]
    assert list(out["barrier"].astype(str)) == ["pt"]
    assert list(out["label"]) == [1]


def test_hand_computed_short_side_flips_returns():
    index, out = _hand((1.0, 1.0), 4, 0.02, events=index_at([0]),
                       side=pd.Series(-1.0, index=index_at(range(6))))
    # short from 100: side-adjusted returns -1%, -3% < -2% -> stop-loss at bar 2
    assert list(out["t1"]) == [index[2]]
    assert list(out["barrier"].astype(str)) == ["sl"]
    assert list(out["label"]) == [-1]
    np.testing.assert_allclose(out["ret"], [-0.03])


def test_touch_must_cross_the_barrier_strictly():
    index = pd.date_range("2024-01-01", periods=3, freq="D", tz="UTC")
    close = pd.Series([100.0, 125.0, 75.0], index=index)  # exactly +25% then exactly -25%
    out = triple_barrier(close, index[:1], (1.0, 1.0), 2, 0.25)
    assert out["barrier"].astype(str).tolist() == ["vertical"]
    assert out["label"].tolist() == [-1]


def test_events_below_min_ret_or_without_volatility_or_side_are_dropped():
    index = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC")
    close = pd.Series(HAND_CLOSE, index=index)
    vol = pd.Series([np.nan, 0.001, 0.02, 0.02, 0.02, 0.02], index=index)
    side = pd.Series([1, 1, 0, 1, np.nan, 1], index=index, dtype=float)
    out = triple_barrier(close, index, (1.0, 1.0), 2, vol, min_ret=0.005, side=side)
    assert list(out.index) == [index[3]]


def test_rejects_events_outside_the_close_index_and_bad_inputs():
    index = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC")
    close = pd.Series(HAND_CLOSE, index=index)
    with pytest.raises(KeyError):
        triple_barrier(close, [index[0] + pd.Timedelta(hours=1)], (1, 1), 2, 0.02)
    with pytest.raises(ValueError):
        triple_barrier(close, None, (1, -1), 2, 0.02)
    with pytest.raises(ValueError):
        triple_barrier(close.iloc[::-1], None, (1, 1), 2, 0.02)
    with pytest.raises(ValueError):
        triple_barrier(close, None, (1, 1), 2, 0.02, side=pd.Series(2.0, index=index))


def index_at(positions) -> pd.DatetimeIndex:
    return pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC")[list(positions)]
