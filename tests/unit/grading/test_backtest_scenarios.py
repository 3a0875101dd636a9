"""Hand-built bar scenarios for the backtester: every expected fill, cost and P&L below is
computed by hand in the comments, never read back from the code."""

import math

import numpy as np
import pandas as pd
import pytest

from alphaloop.common.errors import InvalidInputError
from alphaloop.grading.backtest import BacktestConfig, backtest

TS = pd.bdate_range("2024-01-01", periods=8, tz="UTC")


def bars_of(symbol="X", *, open_, high=None, low=None, close=None, volume=1e9):
    n = len(open_)
    open_ = np.asarray(open_, float)
    close = open_ if close is None else np.asarray(close, float)
    high = np.maximum(open_, close) if high is None else np.asarray(high, float)
    low = np.minimum(open_, close) if low is None else np.asarray(low, float)
    return pd.DataFrame({"symbol": symbol, "ts": TS[:n], "open": open_, "high": high,
                         "low": low, "close": close,
                         "volume": np.broadcast_to(np.asarray(volume, float), (n,))})


def targets_of(values, symbol="X"):
    return pd.DataFrame({symbol: np.asarray(values, float)}, index=TS[:len(values)])


NAN = math.nan


def test_buy_at_bar_3_close_fills_at_bar_4_open_with_spread_impact_and_commission():
    # Bars 0..5. Closes 100, 101, 99.99, 99.99 give returns +1%, -1%, 0% through bar 3:
    # mean 0, sample sd sqrt((1e-4 + 1e-4 + 0) / 2) = 1%. Volumes of bars 1..3 average 100,000.
    # Target +1,000 shares decided at bar 3's close; fills at bar 4's open (100):
    #   impact = 0.5 * 0.01 * sqrt(1,000 / 100,000) = 0.0005 (5 bps)
    #   price  = 100 * (1 + 5 bps spread + 5 bps impact) = 100.10
    #   spread cost 1,000 * 100 * 0.0005 = 50, impact cost 50, commission 1,000 * 0.005 = 5
    #   cash   = 1,000,000 - 100,100 - 5 = 899,895
    # Equity: bar 4 close 101 -> 899,895 + 101,000 = 1,000,895; bar 5 close 102 -> 1,001,895.
    bars = bars_of(open_=[100, 101, 99.99, 99.99, 100, 101.5],
                   close=[100, 101, 99.99, 99.99, 101, 102],
                   volume=[50_000, 90_000, 100_000, 110_000, 100_000, 100_000])
    cfg = BacktestConfig(half_spread_bps=5, impact_k=0.5, volatility_window=3, adv_window=3,
                         min_history=3, commission_per_share=0.005, commission_min=1.0)
    res = backtest(bars, targets_of([NAN, NAN, NAN, 1000, NAN, NAN]), kind="shares", config=cfg)

    assert len(res.fills) == 1
    fill = res.fills.iloc[0]
    assert fill["ts"] == TS[4] and fill["decision_ts"] == TS[3]
    assert fill["qty"] == 1000 and fill["reference_price"] == 100.0
    assert fill["price"] == pytest.approx(100.10, rel=1e-9)
    assert fill["spread_cost"] == pytest.approx(50.0, rel=1e-9)
    assert fill["impact_cost"] == pytest.approx(50.0, rel=1e-6)
    assert fill["commission"] == pytest.approx(5.0)
    assert res.positions["X"].tolist() == [0, 0, 0, 0, 1000, 1000]
    assert res.equity["equity"].iloc[:4].tolist() == [1e6] * 4
    assert res.equity["equity"].iloc[4] == pytest.approx(1_000_895.0, rel=1e-12, abs=1e-3)
    assert res.equity["equity"].iloc[5] == pytest.approx(1_001_895.0, rel=1e-12, abs=1e-3)
    # Bar 4: net +895 on 1,000,000; costs 105; gross = (895 + 105) / 1e6 = +1,000 / 1e6.
    assert res.equity["total_cost"].iloc[4] == pytest.approx(105.0, rel=1e-6)
    assert res.equity["net_return"].iloc[4] == pytest.approx(895 / 1e6, rel=1e-6)
    assert res.equity["gross_return"].iloc[4] == pytest.approx(1000 / 1e6, rel=1e-6)
    # returns start at the bar after the first decision (bar 4)
    assert list(res.returns.index) == list(TS[4:6])


def test_weights_are_sized_against_equity_at_the_fill_open():
    # Capital 10,000, weight 0.5 decided at bar 0; bar 1 opens at 50 -> 0.5 * 10,000 / 50 = 100.
    bars = bars_of(open_=[40, 50, 55], close=[45, 52, 56])
    res = backtest(bars, targets_of([0.5, NAN, NAN]), initial_capital=10_000)
    assert res.positions["X"].tolist() == [0, 100, 100]
    # equity: 10,000 - 5,000 + 100 * 52 = 10,200; then + 100 * 4 = 10,600
    assert res.equity["equity"].tolist() == pytest.approx([10_000, 10_200, 10_600])


# Stop/take-profit scenarios: 100 shares bought at bar 1's close, filled at bar 2's open (50);
# stop 10% -> 45, take-profit 20% -> 60. No costs unless stated.
BRACKET = BacktestConfig(stop_loss=0.10, take_profit=0.20)
ENTRY = [NAN, 100, NAN, NAN, NAN]


def test_stop_loss_hit_on_a_later_bars_low():
    # Bar 2 (the entry bar) dips to 44 after the open: brackets are checked from the next bar
    # on, so nothing happens. Bar 3 opens at 48 and its low (44.5) crosses 45: out at 45.
    # P&L = (45 - 50) * 100 = -500.
    bars = bars_of(open_=[50, 50, 50, 48, 47], high=[50, 50, 51, 49, 48],
                   low=[50, 50, 44, 44.5, 46], close=[50, 50, 50, 46, 47])
    res = backtest(bars, targets_of(ENTRY), kind="shares", config=BRACKET)
    assert res.positions["X"].tolist() == [0, 0, 100, 0, 0]
    exit_ = res.fills.iloc[1]
    assert (exit_["ts"], exit_["price"], exit_["reason"]) == (TS[3], 45.0, "stop")
    trade = res.trades.iloc[0]
    assert (trade["entry_price"], trade["exit_price"], trade["reason"]) == (50.0, 45.0, "stop")
    assert trade["gross_pnl"] == -500.0 and trade["net_pnl"] == -500.0
    assert res.equity["equity"].iloc[-1] == 1e6 - 500


def test_stop_and_take_profit_touched_in_one_bar_assumes_the_stop():
    # Bar 3: low 44 <= 45 and high 61 >= 60. Stop first: exit 45, P&L -500 (not +1,000).
    bars = bars_of(open_=[50, 50, 50, 50, 50], high=[50, 50, 51, 61, 50],
                   low=[50, 50, 49, 44, 50])
    res = backtest(bars, targets_of(ENTRY), kind="shares", config=BRACKET)
    assert res.fills["reason"].tolist() == ["signal", "stop"]
    assert res.fills["price"].tolist() == [50.0, 45.0]
    assert res.trades["net_pnl"].tolist() == [-500.0]


def test_short_stop_and_take_profit_in_one_bar_assumes_the_stop():
    # Short 100 at 50: stop 55, take-profit 40. Bar 3 spans 39..56: stop at 55, P&L -500.
    bars = bars_of(open_=[50, 50, 50, 50, 50], high=[50, 50, 51, 56, 50],
                   low=[50, 50, 49, 39, 50])
    res = backtest(bars, targets_of([NAN, -100, NAN, NAN, NAN]), kind="shares", config=BRACKET)
    assert res.fills["price"].tolist() == pytest.approx([50.0, 55.0], rel=1e-14)
    assert res.trades.iloc[0]["reason"] == "stop"
    assert res.trades.iloc[0]["net_pnl"] == pytest.approx(-500.0, rel=1e-12)


def test_gap_through_the_stop_fills_at_the_open():
    # Bar 3 opens at 40, below the 45 stop: the stop fills at the open, 40. P&L -1,000.
    bars = bars_of(open_=[50, 50, 50, 40, 41], high=[50, 50, 51, 42, 41],
                   low=[50, 50, 49, 39, 41])
    res = backtest(bars, targets_of(ENTRY), kind="shares", config=BRACKET)
    assert res.fills.iloc[1][["ts", "price", "reason"]].tolist() == [TS[3], 40.0, "stop"]
    assert res.trades.iloc[0]["net_pnl"] == -1000.0


def test_gap_through_the_take_profit_fills_at_the_better_open():
    bars = bars_of(open_=[50, 50, 50, 65, 66], high=[50, 50, 51, 67, 66],
                   low=[50, 50, 49, 64, 66])
    res = backtest(bars, targets_of(ENTRY), kind="shares", config=BRACKET)
    assert res.fills.iloc[1][["price", "reason"]].tolist() == [65.0, "take_profit"]
    assert res.trades.iloc[0]["net_pnl"] == 1500.0  # (65 - 50) * 100


def test_take_profit_is_a_limit_no_spread_stop_pays_spread():
    # Half spread 10 bps, commission $1 minimum. Entry: 50 * 1.001 = 50.05, so the levels are
    # take 50.05 * 1.2 = 60.06 and stop 50.05 * 0.9 = 45.045. Bar 3's high 61 takes profit at
    # 60.06 exactly (a limit pays no spread). Net = (60.06 - 50.05) * 100 - 2 * $1 = 999.
    cfg = BacktestConfig(stop_loss=0.10, take_profit=0.20, half_spread_bps=10,
                         commission_min=1.0)
    bars = bars_of(open_=[50, 50, 50, 55, 55], high=[50, 50, 51, 61, 55],
                   low=[50, 50, 49, 54, 55])
    res = backtest(bars, targets_of(ENTRY), kind="shares", config=cfg)
    assert res.fills["price"].tolist() == pytest.approx([50.05, 60.06])
    assert res.fills["spread_cost"].tolist() == pytest.approx([5.0, 0.0])
    trade = res.trades.iloc[0]
    assert trade["gross_pnl"] == pytest.approx((60.06 - 50.0) * 100)  # at reference prices
    assert trade["net_pnl"] == pytest.approx(999.0)
    # The same with a stop: bar 3 low 45 -> stop 45.045 sold at 45.045 * 0.999 = 44.999955.
    bars = bars_of(open_=[50, 50, 50, 50, 50], high=[50, 50, 51, 50, 50],
                   low=[50, 50, 49, 45, 50])
    res = backtest(bars, targets_of(ENTRY), kind="shares", config=cfg)
    assert res.fills["price"].tolist() == pytest.approx([50.05, 44.999955])
    # net = (44.999955 - 50.05) * 100 - 2 = -507.0045
    assert res.trades.iloc[0]["net_pnl"] == pytest.approx(-507.0045)


def test_after_a_stop_the_same_target_does_not_re_enter_a_new_one_does():
    # Target 100 at every close. Stopped on bar 3 (low 44); re-sent 100s stay flat; a target
    # of 150 decided at bar 5's close enters at bar 6's open.
    bars = bars_of(open_=[50] * 8, high=[50] * 8, low=[50, 50, 50, 44, 50, 50, 50, 50])
    res = backtest(bars, targets_of([NAN, 100, 100, 100, 100, 150, NAN, NAN]), kind="shares",
                   config=BRACKET)
    assert res.positions["X"].tolist() == [0, 0, 100, 0, 0, 0, 150, 150]


def test_a_capped_stop_sells_the_rest_at_the_next_open():
    # 10% cap. Long 1,000 at 50 (bar 2 traded 100,000). Bar 3 hits the 45 stop but traded only
    # 5,000: 500 go at 45, the other 500 at bar 4's open (43), still for the stop.
    # Exit average (500 * 45 + 500 * 43) / 1,000 = 44; P&L (44 - 50) * 1,000 = -6,000.
    bars = bars_of(open_=[50, 50, 50, 48, 43], low=[50, 50, 50, 44, 43],
                   volume=[1e5, 1e5, 1e5, 5000, 1e5])
    cfg = BacktestConfig(stop_loss=0.10, max_participation=0.1)
    res = backtest(bars, targets_of([NAN, 1000, NAN, NAN, NAN]), kind="shares", config=cfg)
    assert res.fills["qty"].tolist() == [1000, -500, -500]
    assert res.fills["price"].tolist() == [50.0, 45.0, 43.0]
    assert res.fills["reason"].tolist() == ["signal", "stop", "stop"]
    trade = res.trades.iloc[0]
    assert (trade["exit_price"], trade["gross_pnl"], trade["reason"]) == (44.0, -6000.0, "stop")
    assert trade["exit_ts"] == TS[4]


def test_gap_through_the_stop_then_a_new_decision_fills_at_the_same_open():
    # Long 100 from bar 2 (50, stop 45). At bar 2's close the strategy flips to -100. Bar 3
    # gaps to 40: the stop sells the 100 at the open (40), then the new order shorts 100 there.
    bars = bars_of(open_=[50, 50, 50, 40, 40])
    res = backtest(bars, targets_of([NAN, 100, -100, NAN, NAN]), kind="shares",
                   config=BacktestConfig(stop_loss=0.10))
    assert res.fills["qty"].tolist() == [100, -100, -100]
    assert res.fills["reason"].tolist() == ["signal", "stop", "signal"]
    assert res.fills["price"].tolist() == [50.0, 40.0, 40.0]
    assert res.positions["X"].tolist() == [0, 0, 100, -100, -100]


def test_participation_cap_partial_fill_completes_next_bar():
    # 10% cap. Order for 1,000 decided at bar 1. Bar 2 traded 6,000 -> 600 fill at its open
    # (50); bar 3 traded 5,000 -> room 500, the remaining 400 fill at bar 3's open (52).
    # Commission: $1 minimum per fill (per-share 0.001 is below it) -> $2 in all.
    # Cash = 1e6 - 600 * 50 - 400 * 52 - 2 = 949,198; bar 4 close 53: equity = 1,002,198.
    bars = bars_of(open_=[50, 50, 50, 52, 53], volume=[1e4, 1e4, 6000, 5000, 1e4])
    cfg = BacktestConfig(max_participation=0.1, commission_per_share=0.001, commission_min=1.0)
    res = backtest(bars, targets_of([NAN, 1000, NAN, NAN, NAN]), kind="shares", config=cfg)
    assert res.fills["qty"].tolist() == [600, 400]
    assert res.fills["ts"].tolist() == [TS[2], TS[3]]
    assert res.fills["commission"].tolist() == [1.0, 1.0]
    assert res.positions["X"].tolist() == [0, 0, 600, 1000, 1000]
    assert res.equity["equity"].iloc[-1] == pytest.approx(1_002_198.0)
    trade = res.trades.iloc[0]
    assert trade["entry_price"] == pytest.approx((600 * 50 + 400 * 52) / 1000)  # 50.8
    assert trade["reason"] == "open" and pd.isna(trade["exit_ts"])


def test_new_decision_replaces_an_unfilled_remainder():
    # Cap leaves 400 of 1,000 unfilled after bar 2; a target of 700 decided at bar 2's close
    # replaces it: bar 3 buys only 100 more.
    bars = bars_of(open_=[50] * 5, volume=[1e4, 1e4, 6000, 1e4, 1e4])
    cfg = BacktestConfig(max_participation=0.1)
    res = backtest(bars, targets_of([NAN, 1000, 700, NAN, NAN]), kind="shares", config=cfg)
    assert res.fills["qty"].tolist() == [600, 100]
    assert res.positions["X"].tolist() == [0, 0, 600, 700, 700]


def test_short_pays_borrow_on_each_close_held():
    # Short 100 decided at bar 0, sold at bar 1's open (50): cash +5,000. Covered by a target of
    # 0 at bar 3's close, bought back at bar 4's open (47). Held short at the closes of bars 1,
    # 2, 3 (50, 49, 48). Borrow 25.2% a year / 252 = 0.1% a bar of the close value:
    #   100 * (50 + 49 + 48) * 0.001 = 14.7.   P&L = (50 - 47) * 100 - 14.7 = 285.3
    bars = bars_of(open_=[50, 50, 49, 48, 47], close=[50, 50, 49, 48, 47])
    cfg = BacktestConfig(borrow_rate_annual=0.252, periods_per_year=252)
    res = backtest(bars, targets_of([-100, NAN, NAN, 0, NAN]), kind="shares", config=cfg)
    assert res.equity["borrow_cost"].tolist() == pytest.approx([0, 5.0, 4.9, 4.8, 0])
    trade = res.trades.iloc[0]
    assert trade["side"] == -1 and trade["qty"] == -100
    assert trade["borrow_cost"] == pytest.approx(14.7)
    assert trade["gross_pnl"] == pytest.approx(300.0)
    assert trade["net_pnl"] == pytest.approx(285.3)
    assert res.equity["equity"].iloc[-1] == pytest.approx(1e6 + 285.3)


def test_flip_closes_one_trip_and_opens_another_with_costs_split():
    # Long 100 at 50 (bar 1), flip to -100 decided at bar 1 -> sell 200 at bar 2's open (55).
    # Commission $0.01 a share: 1.00 on the entry, 2.00 on the flip, split 1.00 / 1.00.
    bars = bars_of(open_=[50, 50, 55, 52])
    cfg = BacktestConfig(commission_per_share=0.01)
    res = backtest(bars, targets_of([100, -100, NAN, NAN]), kind="shares", config=cfg)
    assert res.fills["qty"].tolist() == [100, -200]
    long_, short = res.trades.iloc[0], res.trades.iloc[1]
    assert (long_["side"], long_["reason"], long_["exit_ts"]) == (1, "signal", TS[2])
    assert long_["commission"] == pytest.approx(2.0)  # 1.00 entry + half of the flip's 2.00
    assert long_["net_pnl"] == pytest.approx(500 - 2.0)
    assert (short["side"], short["entry_ts"], short["reason"]) == (-1, TS[2], "open")
    assert short["commission"] == pytest.approx(1.0)
    assert short["gross_pnl"] == pytest.approx(300.0)  # marked at the last close, 52


def test_lot_size_rounds_toward_zero():
    # weight 0.5 of 10,000 at an open of 30 -> 166.67 shares -> 100 with lots of 100
    bars = bars_of(open_=[30, 30, 30])
    res = backtest(bars, targets_of([0.5, NAN, NAN]), initial_capital=10_000,
                   config=BacktestConfig(lot_size=100))
    assert res.positions["X"].tolist() == [0, 100, 100]


def test_a_symbol_without_a_bar_fills_at_its_next_bar():
    # Y has no bar at bar 1: its order decided at bar 0 fills at bar 2's open.
    x = bars_of("X", open_=[10, 10, 10, 10])
    y = bars_of("Y", open_=[20, 20, 21, 22]).drop(index=1)
    targets = pd.DataFrame({"X": [10, NAN, NAN, NAN], "Y": [10, NAN, NAN, NAN]}, index=TS[:4])
    res = backtest(pd.concat([x, y]), targets, kind="shares")
    assert res.positions["X"].tolist() == [0, 10, 10, 10]
    assert res.positions["Y"].tolist() == [0, 0, 10, 10]
    assert res.fills.set_index("symbol")["price"].to_dict() == {"X": 10.0, "Y": 21.0}


def test_orders_wait_while_impact_cannot_be_modelled():
    # impact on, min_history 3: sigma needs 3 returns, known before bar 4 at the earliest.
    bars = bars_of(open_=[10, 11, 10, 11, 10, 11], volume=1e6)
    cfg = BacktestConfig(impact_k=0.1, volatility_window=3, adv_window=3, min_history=3)
    res = backtest(bars, targets_of([5, NAN, NAN, NAN, NAN, NAN]), kind="shares", config=cfg)
    assert res.fills["ts"].tolist() == [TS[4]]


def test_long_frame_targets_and_per_decision_brackets():
    bars = bars_of(open_=[50, 50, 50, 50, 50], low=[50, 50, 50, 47, 50])
    long = pd.DataFrame({"symbol": ["X"], "ts": [TS[1]], "target": [100.0]})
    stops = pd.DataFrame({"symbol": ["X"], "ts": [TS[1]], "stop_loss": [0.05]})  # 47.5
    res = backtest(bars, long, kind="shares", stop_loss=stops)
    assert res.fills["price"].tolist() == [50.0, 47.5]


def test_inputs_are_validated():
    bars = bars_of(open_=[10, 10])
    with pytest.raises(InvalidInputError, match="timestamps without bars"):
        backtest(bars, pd.DataFrame({"X": [1.0]}, index=[TS[5]]))
    with pytest.raises(InvalidInputError, match="symbols without bars"):
        backtest(bars, pd.DataFrame({"Z": [1.0]}, index=[TS[0]]))
    with pytest.raises(InvalidInputError, match="missing columns"):
        backtest(bars.drop(columns="volume"), targets_of([1.0]))
    with pytest.raises(ValueError):
        BacktestConfig(stop_loss=1.5)
