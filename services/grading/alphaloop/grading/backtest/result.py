"""What a backtest returns: fills, round-trip trades, positions and the equity curve as frames,
built from the core's arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from alphaloop.common.fills import REASON_NAMES
from alphaloop.grading.backtest import core
from alphaloop.grading.backtest.config import BacktestConfig
from alphaloop.grading.backtest.inputs import BarGrid


@dataclass(frozen=True)
class BacktestResult:
    """The outcome of ``backtest(...)``.

    Attributes:
        fills: one row per execution: ``ts, symbol, qty`` (signed shares), ``price`` (paid or
            received, spread and impact included), ``reference_price`` (the open, or the
            bracket level), ``spread_cost, impact_cost, commission`` (currency, >= 0),
            ``reason`` (signal / stop / take_profit), ``position`` (shares after the fill) and
            ``decision_ts`` (the close of the decision in force when the fill happened: the one
            the order executes, or for a bracket exit the latest one behind the position).
        trades: one row per round trip, flat to flat (a flip closes one trip and opens the
            next): ``symbol, side`` (+1 long / -1 short), ``qty`` (peak signed position),
            ``entry_ts, exit_ts`` (NaT while open), ``entry_price`` (average price of the
            fills that grew the position), ``exit_price`` (of those that shrank it), ``entry_qty,
            exit_qty``, ``spread_cost, impact_cost, commission, borrow_cost``, ``gross_pnl`` (at
            reference prices, open trips marked at the last close), ``net_pnl`` (gross minus
            every cost) and ``reason`` of the closing fill (signal / stop / take_profit, or
            ``open``).
        positions: shares held at each close, ts x symbol.
        equity: per bar: ``equity`` (cash + positions at the close, net of every cost),
            ``equity_open`` (marked at the open, before that bar's trades), ``cash``,
            ``gross_exposure, net_exposure`` (at the close), costs ``spread_cost, impact_cost,
            commission, borrow_cost, total_cost``, ``traded_value`` (notional filled),
            ``net_return`` (equity over the previous close's, the first bar over the initial
            capital) and ``gross_return`` (the same bar's P&L with its costs added back, over
            the same starting equity).
        returns: ``net_return`` from the first bar that can trade (the bar after the first
            decision) to the end: out-of-sample when the caller passed only out-of-sample
            decisions. Empty when there was no decision.
    """

    fills: pd.DataFrame
    trades: pd.DataFrame
    positions: pd.DataFrame
    equity: pd.DataFrame
    returns: pd.Series
    config: BacktestConfig
    initial_capital: float


def _ts_at(ts: pd.DatetimeIndex, bars: np.ndarray) -> pd.DatetimeIndex:
    idx = bars.astype(np.int64)
    out = ts[np.clip(idx, 0, len(ts) - 1)]
    return out.where(idx >= 0, pd.NaT) if len(idx) else out


def fills_frame(raw: np.ndarray, grid: BarGrid) -> pd.DataFrame:
    return pd.DataFrame({
        "ts": _ts_at(grid.ts, raw[:, core.F_BAR]),
        "symbol": grid.symbols[raw[:, core.F_SYM].astype(np.int64)],
        "qty": raw[:, core.F_QTY],
        "price": raw[:, core.F_PRICE],
        "reference_price": raw[:, core.F_REF],
        "spread_cost": raw[:, core.F_SPREAD],
        "impact_cost": raw[:, core.F_IMPACT],
        "commission": raw[:, core.F_COMM],
        "reason": pd.Categorical.from_codes(raw[:, core.F_REASON].astype(np.int64),
                                            categories=list(REASON_NAMES)),
        "position": raw[:, core.F_POS],
        "decision_ts": _ts_at(grid.ts, raw[:, core.F_DECISION]),
    })


def trades_frame(raw: np.ndarray, grid: BarGrid) -> pd.DataFrame:
    col = {name: raw[:, getattr(core, f"T_{name.upper()}")] for name in (
        "side", "peak", "in_qty", "in_val", "out_qty", "out_val", "spread", "impact", "comm",
        "borrow", "gross")}
    with np.errstate(invalid="ignore", divide="ignore"):
        entry_price = col["in_val"] / col["in_qty"]
        exit_price = np.where(col["out_qty"] > 0, col["out_val"] / col["out_qty"], np.nan)
    costs = col["spread"] + col["impact"] + col["comm"] + col["borrow"]
    reason = raw[:, core.T_REASON].astype(np.int64)
    names = np.array([*REASON_NAMES, "open"])
    frame = pd.DataFrame({
        "symbol": grid.symbols[raw[:, core.T_SYM].astype(np.int64)],
        "side": col["side"].astype(np.int64),
        "qty": col["peak"],
        "entry_ts": _ts_at(grid.ts, raw[:, core.T_ENTRY_BAR]),
        "exit_ts": _ts_at(grid.ts, raw[:, core.T_EXIT_BAR]),
        "entry_price": entry_price,
        "exit_price": exit_price,
        "entry_qty": col["in_qty"],
        "exit_qty": col["out_qty"],
        "spread_cost": col["spread"],
        "impact_cost": col["impact"],
        "commission": col["comm"],
        "borrow_cost": col["borrow"],
        "gross_pnl": col["gross"],
        "net_pnl": col["gross"] - costs,
        "reason": pd.Categorical(names[reason], categories=list(names)),
    })
    return frame.sort_values(["entry_ts", "symbol"], kind="stable").reset_index(drop=True)


def equity_frame(grid: BarGrid, positions: np.ndarray, equity: np.ndarray,
                 equity_open: np.ndarray, cash: np.ndarray, costs: np.ndarray,
                 capital: float) -> pd.DataFrame:
    marks = pd.DataFrame(grid.close).ffill().to_numpy()
    value = np.where(positions != 0.0, positions * marks, 0.0)
    previous = np.concatenate([[capital], equity[:-1]])
    total_cost = costs[:, :core.C_TRADED].sum(axis=1)
    return pd.DataFrame({
        "equity": equity,
        "equity_open": equity_open,
        "cash": cash,
        "gross_exposure": np.abs(value).sum(axis=1),
        "net_exposure": value.sum(axis=1),
        "spread_cost": costs[:, core.C_SPREAD],
        "impact_cost": costs[:, core.C_IMPACT],
        "commission": costs[:, core.C_COMM],
        "borrow_cost": costs[:, core.C_BORROW],
        "total_cost": total_cost,
        "traded_value": costs[:, core.C_TRADED],
        "gross_return": (equity - previous + total_cost) / previous,
        "net_return": equity / previous - 1.0,
    }, index=grid.ts.rename("ts"))
