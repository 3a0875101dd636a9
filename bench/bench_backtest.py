"""Backtester throughput: bar-steps (bars x symbols) per second of ``alphaloop.grading.backtest``
against backtrader running the same strategy on the same bars in the same run.

Strategy: an SMA(10) / SMA(30) crossover on closes, long a fixed share count when fast > slow,
short it when fast < slow, flat during warm-up; the signals are computed once in pandas and
both engines receive them, so they trade identical orders (market orders at the next bar's
open, backtrader's ``order_target_size``). Two cost cases: none, and $0.005 a share with a $1
minimum per fill (backtrader: a custom ``CommInfoBase``); no spread, no impact, no slippage.

Cross-check: final equity (and, for us, every bar's equity against backtrader's recorded
``broker.getvalue()``) must agree to 1e-9 relative. Convention notes: backtrader's value is
cash + position x close with short proceeds in cash (``shortcash=True``), as ours; backtrader
trades whole shares, so targets are integers; backtrader refuses buys it cannot pay for, so
capital is large enough that it never has to.

Data: seeded synthetic bars (a lognormal random walk with overnight gaps; synthetic, not
market data), 50 symbols x 2,520 daily bars. Our rate is measured end to end (long frame in,
result frames out) and for the numba core alone; the first call (numba compile, or loading its
on-disk cache, plus one run) is excluded and reported apart.
"""

from __future__ import annotations

import sys
import time
import types

import numpy as np
import pandas as pd

from alphaloop.grading.backtest import BacktestConfig, backtest, core
from alphaloop.grading.backtest.inputs import align_decisions, bar_grid, lagged_statistics
from alphaloop.grading.backtest.run import pack_params

N_SYMBOLS = 50
N_BARS = 2_520
FAST, SLOW = 10, 30
CAPITAL = 100_000_000.0
PER_SHARE, MINIMUM = 0.005, 1.0
REPEATS = 5
SCALE_SYMBOLS = 1_000  # our engine alone, to show how it scales


def synthetic_bars(n_symbols: int, n_bars: int, seed: int = 20240601) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = pd.bdate_range("2010-01-04", periods=n_bars, tz="UTC")
    log_ret = rng.normal(0.0002, 0.015, (n_bars, n_symbols))
    close = 20 + 80 * rng.random(n_symbols) * np.exp(np.cumsum(log_ret, axis=0))
    prev = np.vstack([close[:1], close[:-1]])
    open_ = prev * np.exp(rng.normal(0, 0.005, close.shape))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, close.shape))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, close.shape))
    volume = rng.lognormal(13, 0.5, close.shape).round()
    symbols = [f"SYN{i:04d}" for i in range(n_symbols)]
    return pd.DataFrame({
        "symbol": np.repeat(symbols, n_bars),
        "ts": np.tile(ts, n_symbols),
        **{name: arr.T.ravel() for name, arr in
           (("open", open_), ("high", high), ("low", low), ("close", close), ("volume", volume))},
    })


def crossover_targets(bars: pd.DataFrame) -> pd.DataFrame:
    """Target shares decided at each close: +/- a fixed size per symbol (about $20,000 at the
    first close), 0 before the slow average exists."""
    close = bars.pivot(index="ts", columns="symbol", values="close")
    fast, slow = close.rolling(FAST).mean(), close.rolling(SLOW).mean()
    size = np.floor(20_000 / close.iloc[0])
    side = np.sign(fast - slow).where(slow.notna(), 0.0)
    return side * size


def _ours(bars, targets, config):
    return backtest(bars, targets, kind="shares", initial_capital=CAPITAL, config=config)


def _best_of(func, repeats=REPEATS):
    best = float("inf")
    out = None
    for _ in range(repeats):
        started = time.perf_counter()
        out = func()
        best = min(best, time.perf_counter() - started)
    return best, out


def _core_args(bars, targets, config):
    grid = bar_grid(bars)
    sigma, adv = lagged_statistics(grid, config.volatility_window, config.adv_window,
                                   config.min_history)
    target = align_decisions(targets, grid, "targets")
    nan = np.full(target.shape, np.nan)
    return (grid.open, grid.high, grid.low, grid.close, grid.volume, sigma, adv, target, nan,
            nan, False, CAPITAL, pack_params(config))


def _backtrader(bars: pd.DataFrame, targets: pd.DataFrame, commission: bool,
                record: bool) -> tuple[float, float, list[float]]:
    import backtrader as bt

    class PerShareWithMinimum(bt.CommInfoBase):
        params = (("stocklike", True), ("commtype", bt.CommInfoBase.COMM_FIXED),
                  ("per_share", PER_SHARE), ("minimum", MINIMUM))

        def _getcommission(self, size, price, pseudoexec):
            return max(abs(size) * self.p.per_share, self.p.minimum)

    signal = targets.to_numpy()
    columns = list(targets.columns)

    class PrecomputedSignal(bt.Strategy):
        def __init__(self):
            self.values = []

        def next(self):
            t = len(self) - 1
            for j, data in enumerate(self.datas):
                self.order_target_size(data=data, target=float(signal[t, j]))
            if record:
                self.values.append(self.broker.getvalue())

    # backtrader's metaclasses look a class's module up in sys.modules; run_all.py loads this
    # file from its path without registering it there.
    sys.modules.setdefault(__name__, types.ModuleType(__name__))
    cerebro = bt.Cerebro(stdstats=False, preload=True, runonce=True)
    for symbol in columns:
        frame = bars[bars["symbol"] == symbol].set_index("ts")[
            ["open", "high", "low", "close", "volume"]]
        frame.index = frame.index.tz_localize(None)
        cerebro.adddata(bt.feeds.PandasData(dataname=frame, openinterest=None), name=symbol)
    cerebro.addstrategy(PrecomputedSignal)
    cerebro.broker.setcash(CAPITAL)
    if commission:
        cerebro.broker.addcommissioninfo(PerShareWithMinimum())
    started = time.perf_counter()
    strategy = cerebro.run()[0]
    seconds = time.perf_counter() - started
    return seconds, cerebro.broker.getvalue(), strategy.values


def run() -> dict:
    bars = synthetic_bars(N_SYMBOLS, N_BARS)
    targets = crossover_targets(bars)
    steps = N_SYMBOLS * N_BARS
    free = BacktestConfig()
    charged = BacktestConfig(commission_per_share=PER_SHARE, commission_min=MINIMUM)

    started = time.perf_counter()
    _ours(bars, targets, charged)  # compiles the core, or loads numba's on-disk cache
    warmup_s = time.perf_counter() - started

    ours_s, ours_free = _best_of(lambda: _ours(bars, targets, free))
    _, ours_charged = _best_of(lambda: _ours(bars, targets, charged), repeats=1)
    args = _core_args(bars, targets, free)
    core_s, _ = _best_of(lambda: core.run_core(*args), repeats=REPEATS * 4)

    bt_s, bt_free_value, bt_curve = _backtrader(bars, targets, commission=False, record=False)
    bt_charged_s, bt_charged_value, bt_curve = _backtrader(bars, targets, commission=True,
                                                           record=True)

    curve_gap = float(np.max(np.abs(np.asarray(bt_curve) / ours_charged.equity["equity"]
                                    .to_numpy() - 1.0)))
    free_gap = abs(ours_free.equity["equity"].iloc[-1] / bt_free_value - 1.0)
    charged_gap = abs(ours_charged.equity["equity"].iloc[-1] / bt_charged_value - 1.0)
    assert free_gap < 1e-9 and charged_gap < 1e-9 and curve_gap < 1e-9, (
        free_gap, charged_gap, curve_gap)

    modelled = BacktestConfig(half_spread_bps=2.0, impact_k=0.5, commission_per_share=PER_SHARE,
                              commission_min=MINIMUM, max_participation=0.01, stop_loss=0.05,
                              take_profit=0.1, borrow_rate_annual=0.01)
    full_model_s, _ = _best_of(lambda: _ours(bars, targets, modelled))

    big = synthetic_bars(SCALE_SYMBOLS, N_BARS, seed=7)
    big_targets = crossover_targets(big)
    big_s, _ = _best_of(lambda: _ours(big, big_targets, free), repeats=2)

    ours_rate = steps / ours_s
    core_rate = steps / core_s
    bt_rate = steps / bt_s
    return {
        "what": "backtest bar-steps (bars x symbols) per second: alphaloop vs backtrader, same "
                "strategy, same bars, same run",
        "data": f"synthetic seeded random-walk OHLCV (not market data), {N_SYMBOLS} symbols x "
                f"{N_BARS} daily bars = {steps} bar-steps",
        "strategy": f"precomputed SMA({FAST})/SMA({SLOW}) crossover, long/short a fixed share "
                    "count, market orders at the next open (backtrader order_target_size)",
        "alphaloop_bar_steps_per_s": round(ours_rate),
        "alphaloop_seconds": round(ours_s, 4),
        "alphaloop_core_only_bar_steps_per_s": round(core_rate),
        "alphaloop_first_call_seconds": round(warmup_s, 2),
        "alphaloop_full_cost_model_bar_steps_per_s": round(steps / full_model_s),
        "full_cost_model": "spread 2 bps, impact k=0.5 (rolling sigma/ADV computed), commission, "
                           "1% participation cap, 5% stop / 10% take-profit, 1% borrow",
        "backtrader_bar_steps_per_s": round(bt_rate),
        "backtrader_seconds": round(bt_s, 3),
        "backtrader_with_commission_seconds": round(bt_charged_s, 3),
        "speedup_end_to_end": round(ours_rate / bt_rate, 1),
        "speedup_core_only": round(core_rate / bt_rate, 1),
        "target_speedup": 100,
        "fills": len(ours_free.fills),
        "cross_check": {
            "zero_cost_final_equity": {"alphaloop": round(ours_free.equity["equity"].iloc[-1], 4),
                                       "backtrader": round(bt_free_value, 4),
                                       "relative_gap": free_gap},
            "commission_final_equity": {
                "alphaloop": round(ours_charged.equity["equity"].iloc[-1], 4),
                "backtrader": round(bt_charged_value, 4), "relative_gap": charged_gap},
            "commission_max_relative_gap_any_bar": curve_gap,
            "commission": f"${PER_SHARE}/share, ${MINIMUM} minimum per fill",
        },
        "scale": {
            "data": f"synthetic, {SCALE_SYMBOLS} symbols x {N_BARS} bars (alphaloop only)",
            "alphaloop_bar_steps_per_s": round(SCALE_SYMBOLS * N_BARS / big_s),
        },
        "timing": f"best of {REPEATS} (alphaloop), one run (backtrader: preload, runonce, "
                  "stdstats off)",
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
