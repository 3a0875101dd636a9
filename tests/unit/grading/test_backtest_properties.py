"""Properties of the backtester's timing over random bars, decisions and cost settings
(hypothesis): no fill ever happens on the bar that produced its signal, and nothing after a
bar can change what happened up to it."""

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alphaloop.grading.backtest import BacktestConfig, backtest

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def scenarios(draw):
    n_bars = draw(st.integers(3, 25))
    n_sym = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    kind = draw(st.sampled_from(["weights", "shares"]))
    config = BacktestConfig(
        half_spread_bps=draw(st.sampled_from([0.0, 5.0])),
        impact_k=draw(st.sampled_from([0.0, 0.5])),
        volatility_window=3, adv_window=3, min_history=2,
        commission_per_share=draw(st.sampled_from([0.0, 0.01])),
        commission_min=draw(st.sampled_from([0.0, 1.0])),
        max_participation=draw(st.sampled_from([None, 0.01, 0.2])),
        lot_size=draw(st.sampled_from([0.0, 10.0])),
        stop_loss=draw(st.sampled_from([None, 0.02, 0.1])),
        take_profit=draw(st.sampled_from([None, 0.03, 0.2])),
        borrow_rate_annual=draw(st.sampled_from([0.0, 0.05])),
    )
    rng = np.random.default_rng(seed)
    ts = pd.bdate_range("2020-01-01", periods=n_bars, tz="UTC")
    frames = []
    for j in range(n_sym):
        close = 50 * np.exp(np.cumsum(rng.normal(0, 0.03, n_bars)))
        open_ = close * np.exp(rng.normal(0, 0.02, n_bars))
        high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.04, n_bars))
        low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.04, n_bars))
        volume = rng.choice([0.0, 2_000.0, 50_000.0], n_bars, p=[0.1, 0.3, 0.6])
        frame = pd.DataFrame({"symbol": f"S{j}", "ts": ts, "open": open_, "high": high,
                              "low": low, "close": close, "volume": volume})
        keep = rng.random(n_bars) > 0.1  # some symbols miss some bars
        keep[0] = True
        frames.append(frame[keep])
    bars = pd.concat(frames, ignore_index=True)
    scale = 0.4 if kind == "weights" else 500
    values = rng.uniform(-scale, scale, (n_bars, n_sym))
    targets = pd.DataFrame(np.where(rng.random((n_bars, n_sym)) < 0.4, values, np.nan),
                           index=ts, columns=[f"S{j}" for j in range(n_sym)])
    targets = targets.loc[targets.index.isin(bars["ts"])]  # decisions only at bar closes
    cut = draw(st.integers(0, len(targets) - 1))
    return bars, targets, kind, config, cut, rng


def _run(bars, targets, kind, config):
    return backtest(bars, targets, kind=kind, config=config, initial_capital=100_000)


@SETTINGS
@given(scenarios())
def test_no_fill_on_the_signal_bar(case):
    bars, targets, kind, config, _, _ = case
    res = _run(bars, targets, kind, config)
    assert (res.fills["ts"] > res.fills["decision_ts"]).all()
    first_decision = targets.apply(lambda col: col.first_valid_index())
    for symbol, first_fill in res.fills.groupby("symbol")["ts"].min().items():
        assert first_fill > first_decision[symbol]


@SETTINGS
@given(scenarios())
def test_changing_the_decision_at_bar_t_changes_nothing_up_to_bar_t(case):
    # If any fill happened on the bar that produced its signal, rewriting that bar's decisions
    # would change the bar's position or equity.
    bars, targets, kind, config, t, rng = case
    other = targets.copy()
    other.iloc[t] = rng.uniform(-1, 1, other.shape[1]) * (0.4 if kind == "weights" else 500)
    a, b = _run(bars, targets, kind, config), _run(bars, other, kind, config)
    pd.testing.assert_frame_equal(a.positions.iloc[:t + 1], b.positions.iloc[:t + 1])
    pd.testing.assert_frame_equal(a.equity.iloc[:t + 1], b.equity.iloc[:t + 1])
    upto = a.positions.index[t]
    pd.testing.assert_frame_equal(a.fills[a.fills["ts"] <= upto].reset_index(drop=True),
                                  b.fills[b.fills["ts"] <= upto].reset_index(drop=True))


@SETTINGS
@given(scenarios())
def test_bars_after_t_do_not_change_anything_up_to_t(case):
    bars, targets, kind, config, t, _ = case
    end = targets.index[t]
    full = _run(bars, targets, kind, config)
    cut = _run(bars[bars["ts"] <= end], targets.loc[:end], kind, config)
    pd.testing.assert_frame_equal(full.positions.loc[:end], cut.positions)
    pd.testing.assert_frame_equal(full.equity.loc[:end], cut.equity)
    pd.testing.assert_frame_equal(full.fills[full.fills["ts"] <= end].reset_index(drop=True),
                                  cut.fills)


@SETTINGS
@given(scenarios())
def test_round_trips_and_costs_reconcile_with_the_equity_curve(case):
    bars, targets, kind, config, _, _ = case
    res = _run(bars, targets, kind, config)
    pnl = res.equity["equity"].iloc[-1] - res.initial_capital
    assert abs(res.trades["net_pnl"].sum() - pnl) <= 1e-8 * max(1.0, abs(pnl)) + 1e-6
    for cost in ("spread_cost", "impact_cost", "commission", "borrow_cost"):
        assert abs(res.trades[cost].sum() - res.equity[cost].sum()) <= 1e-6
    for cost in ("spread_cost", "impact_cost", "commission"):
        assert abs(res.fills[cost].sum() - res.equity[cost].sum()) <= 1e-6
    # the last fill of each symbol leaves the position the positions frame shows at the end
    last = res.fills.groupby("symbol")["position"].last()
    assert (res.positions.iloc[-1][last.index] == last).all()
