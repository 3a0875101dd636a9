"""Strategies on hand-built panels: target weights computed by hand."""

import numpy as np
import pandas as pd
import pytest

from alphaloop.grading import strategies as S


def _bars(closes: dict[str, list[float]]) -> pd.DataFrame:
    ts = pd.date_range("2024-01-01", periods=len(next(iter(closes.values()))), freq="D", tz="UTC")
    rows = [{"symbol": s, "ts": t, "open": c, "high": c, "low": c, "close": c, "volume": 1e6}
            for s, cs in closes.items() for t, c in zip(ts, cs) if not np.isnan(c)]
    return pd.DataFrame(rows)


CLOSES = {  # 5 bars, 4 symbols
    "A": [100, 110, 120, 130, 100],
    "B": [100, 90, 80, 70, 120],
    "C": [100, 100, 101, 102, 103],
    "D": [100, 105, 100, 95, 90],
}


def test_momentum_hand_computed():
    bars = _bars(CLOSES)
    # lookback 3, skip 1, at t = bar 3: score = close[2] / close[0] - 1
    # A 0.20, B -0.20, C 0.01, D 0.00 -> long A (top quarter), short B (bottom quarter)
    w = S.momentum(bars, lookback=3, skip=1, quantile=0.25, rebalance_every=2,
                   start=bars.ts.unique()[3])
    t3, t4 = w.index
    assert w.loc[t3].to_dict() == {"A": 0.5, "B": -0.5, "C": 0.0, "D": 0.0}
    assert w.loc[t4].isna().all()  # not a rebalance bar: no new decision


def test_momentum_at_bar_4():
    bars = _bars(CLOSES)
    # at t = bar 4: close[3] / close[1] - 1: A 130/110-1=0.18, B 70/90-1=-0.22, C 0.02,
    # D 95/105-1=-0.095 -> long A, short B
    w = S.momentum(bars, lookback=3, skip=1, quantile=0.25, start=bars.ts.unique()[4])
    assert w.iloc[0].to_dict() == {"A": 0.5, "B": -0.5, "C": 0.0, "D": 0.0}


def test_momentum_without_history_is_flat():
    bars = _bars(CLOSES)
    w = S.momentum(bars, lookback=3, skip=1, quantile=0.25)
    assert (w.iloc[0] == 0).all()  # bar 0: no score for anyone


def test_mean_reversion_hand_computed():
    bars = _bars(CLOSES)
    # lookback 1 at bar 4: returns A 100/130-1=-0.23, B 120/70-1=+0.71, C +0.0098, D -0.053
    # losers long: A (worst); winners short: B (best)
    w = S.mean_reversion(bars, lookback=1, quantile=0.25, start=bars.ts.unique()[4])
    assert w.iloc[0].to_dict() == {"A": 0.5, "B": -0.5, "C": 0.0, "D": 0.0}
    # with half the names per side (quantile 0.5): long A, D; short B, C at 0.25 each
    w = S.mean_reversion(bars, lookback=1, quantile=0.5, start=bars.ts.unique()[4])
    assert w.iloc[0].to_dict() == {"A": 0.25, "B": -0.25, "C": -0.25, "D": 0.25}


def test_buy_and_hold_equal_weights_on_members_once():
    closes = dict(CLOSES)
    closes["E"] = [100, np.nan, 100, 100, 100]  # misses a bar in the window: not a member
    bars = _bars(closes)
    w = S.buy_and_hold(bars, start=bars.ts.unique()[0])
    assert w.iloc[0].to_dict() == {"A": 0.25, "B": 0.25, "C": 0.25, "D": 0.25, "E": 0.0}
    assert w.iloc[1:].isna().all().all()
    assert S.buy_and_hold_universe(bars) == ["A", "B", "C", "D"]


def test_ml_signal_thresholds_and_sides():
    bars = _bars(CLOSES)
    ts = bars.ts.unique()
    preds = pd.DataFrame({"symbol": ["A", "B", "C", "D"], "t0": [ts[1]] * 4,
                          "p_cal": [0.60, 0.40, 0.51, 0.49]})
    # threshold 0.02: A long (0.10), B short (-0.10); C, D inside the band
    w = S.ml_signal(preds, bars, threshold=0.02, quantile=0.5)
    assert w.loc[ts[1]].to_dict() == {"A": 0.5, "B": -0.5, "C": 0.0, "D": 0.0}
    w = S.ml_signal(preds, bars, threshold=0.02, quantile=0.5, long_only=True)
    assert w.loc[ts[1]].to_dict() == {"A": 1.0, "B": 0.0, "C": 0.0, "D": 0.0}
    # a meta-label filter removes A
    preds["meta"] = [0.4, 0.9, 0.9, 0.9]
    w = S.ml_signal(preds, bars, threshold=0.02, quantile=0.5, meta="meta")
    assert w.loc[ts[1]].to_dict() == {"A": 0.0, "B": -0.5, "C": 0.0, "D": 0.0}


def test_rebalance_dates_every_k():
    idx = pd.date_range("2024-01-01", periods=11, freq="D")
    assert list(S.rebalance_dates(idx, 5)) == [idx[0], idx[5], idx[10]]
    with pytest.raises(ValueError):
        S.rebalance_dates(idx, 0)


def test_ml_signal_takes_no_position_among_names_the_model_scores_equally():
    # Hand-built: 20 names, all with p = 0.60 (+ float noise) except two clear views.
    from alphaloop.grading.strategies import ml_signal

    ts = pd.Timestamp("2010-01-04", tz="UTC")
    symbols = [f"S{i:02d}" for i in range(20)]
    bars = pd.DataFrame({"symbol": symbols, "ts": ts, "open": 10.0, "high": 10.0, "low": 10.0,
                         "close": 10.0, "volume": 1e6})
    p = [0.60 + (i % 3) * 1e-13 for i in range(20)]
    p[5], p[7] = 0.90, 0.10
    preds = pd.DataFrame({"symbol": symbols, "t0": ts, "p_cal": p})
    w = ml_signal(preds, bars, quantile=0.1, threshold=0.02).loc[ts]
    # k = floor(0.1 * 20) = 2 per side. Longs: S05 (0.90) then 18 names tied at 0.60 across
    # the cut -> only S05. Shorts: only S07 is below 0.48.
    assert w["S05"] == 0.5 and w["S07"] == -0.5
    assert (w.drop(["S05", "S07"]) == 0).all()

    constant = preds.assign(p_cal=[0.5648 + (i % 2) * 1e-13 for i in range(20)])
    assert (ml_signal(constant, bars).loc[ts] == 0).all()


def test_close_panel_equals_pandas_pivot_table_last():
    """The dense placement equals pivot_table(aggfunc="last") on unsorted bars with missing
    values, a symbol without any close (left out) and a date without any close (left out)."""
    from alphaloop.grading.strategies import close_panel
    from alphaloop.ingest.sources import SyntheticSource

    bars = SyntheticSource(12, 60, 3).generate().sample(frac=1.0, random_state=2)
    bars.loc[bars.index[:25], "close"] = np.nan
    bars.loc[bars["symbol"] == bars["symbol"].iloc[0], "close"] = np.nan
    bars.loc[bars["ts"] == bars["ts"].min(), "close"] = np.nan
    expected = bars.pivot_table(index="ts", columns="symbol", values="close",
                                aggfunc="last").sort_index()
    expected.index.name, expected.columns.name = "ts", "symbol"
    got = close_panel(bars)
    assert got.shape == (59, 11)
    pd.testing.assert_frame_equal(got, expected, check_freq=False)
