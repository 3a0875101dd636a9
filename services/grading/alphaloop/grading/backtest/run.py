"""``backtest(...)``: frames in, frames out; the simulation itself runs in ``core.run_core``.
The conventions are in the package docstring (``alphaloop.grading.backtest``)."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd

from alphaloop.common.errors import InvalidInputError
from alphaloop.grading.backtest import core
from alphaloop.grading.backtest.config import BacktestConfig
from alphaloop.grading.backtest.inputs import (
    BarGrid,
    align_decisions,
    bar_grid,
    lagged_statistics,
)
from alphaloop.grading.backtest.result import (
    BacktestResult,
    equity_frame,
    fills_frame,
    trades_frame,
)

TargetKind = Literal["weights", "shares"]


def pack_params(config: BacktestConfig) -> np.ndarray:
    """The cost parameters in the core's ``P_*`` order."""
    params = np.empty(core.N_PARAMS)
    params[core.P_HALF_SPREAD] = config.half_spread_bps
    params[core.P_IMPACT_K] = config.impact_k
    params[core.P_PER_SHARE] = config.commission_per_share
    params[core.P_COMM_BPS] = config.commission_bps
    params[core.P_COMM_MIN] = config.commission_min
    params[core.P_MAX_PART] = config.participation
    params[core.P_LOT] = config.lot_size
    params[core.P_BORROW] = config.borrow_rate_annual
    params[core.P_PERIODS] = config.periods_per_year
    return params


def _bracket_fractions(frame: pd.DataFrame | None, default: float | None, field: str,
                       grid, shape: tuple[int, int]) -> np.ndarray:
    if frame is None:
        return np.full(shape, np.nan if default is None else float(default))
    values = align_decisions(frame, grid, field, value=field)
    if (values[~np.isnan(values)] <= 0).any():
        raise InvalidInputError(field, "fractions of the entry price must be > 0 (NaN: none)")
    return values


def backtest(
    bars: pd.DataFrame | BarGrid,
    targets: pd.DataFrame,
    *,
    kind: TargetKind = "weights",
    initial_capital: float = 1_000_000.0,
    config: BacktestConfig | None = None,
    stop_loss: pd.DataFrame | None = None,
    take_profit: pd.DataFrame | None = None,
) -> BacktestResult:
    """Simulate trading ``targets`` on ``bars`` with the fills and costs of ``config``.

    Args:
        bars: one row per bar: ``symbol, ts, open, high, low, close, volume`` (other columns
            are ignored), e.g. the quality gate's ``good`` bars; or their :func:`bar_grid`,
            to run many backtests on one universe without pivoting it each time.
        targets: the decision taken at each bar's close, either wide (index ``ts``, one column
            per symbol) or long (columns ``symbol, ts, target``). NaN or absent means no new
            decision: the previous target stands (and a partly filled order keeps working).
        kind: ``"weights"``: targets are fractions of equity (signed; shorts negative), sized
            into shares at the symbol's first open after the decision, against the equity
            marked at that open; ``"shares"``: targets are signed share counts.
        initial_capital: cash at the start.
        config: costs, fills and brackets (default: frictionless, no brackets).
        stop_loss, take_profit: optional per-decision bracket fractions, shaped like
            ``targets`` (long frames name the value column ``stop_loss`` / ``take_profit``);
            they replace ``config.stop_loss`` / ``config.take_profit``. NaN: no level.
    """
    config = config or BacktestConfig()
    if kind not in ("weights", "shares"):
        raise InvalidInputError("kind", f"'weights' or 'shares', got {kind!r}")
    if not (math.isfinite(initial_capital) and initial_capital > 0):
        raise InvalidInputError("initial_capital", "must be a finite number > 0")
    grid = bars if isinstance(bars, BarGrid) else bar_grid(bars)
    shape = (len(grid.ts), len(grid.symbols))
    target = align_decisions(targets, grid, "targets")
    if np.isinf(target).any():
        raise InvalidInputError("targets", "infinite target")
    stop = _bracket_fractions(stop_loss, config.stop_loss, "stop_loss", grid, shape)
    take = _bracket_fractions(take_profit, config.take_profit, "take_profit", grid, shape)
    if config.impact_k > 0:
        sigma, adv = lagged_statistics(grid, config.volatility_window, config.adv_window,
                                       config.min_history)
    else:  # only impact reads them
        sigma = adv = np.full(shape, np.nan)
    positions, equity, equity_open, cash, costs, fills, trades = core.run_core(
        grid.open, grid.high, grid.low, grid.close, grid.volume, sigma, adv, target, stop, take,
        kind == "weights", float(initial_capital), pack_params(config))
    curve = equity_frame(grid, positions, equity, equity_open, cash, costs, initial_capital)
    decided = np.flatnonzero(~np.isnan(target).all(axis=1))
    returns = curve["net_return"].iloc[decided[0] + 1:] if len(decided) else curve[
        "net_return"].iloc[0:0]
    return BacktestResult(
        fills=fills_frame(fills, grid),
        trades=trades_frame(trades, grid),
        positions=pd.DataFrame(positions, index=grid.ts.rename("ts"),
                               columns=grid.symbols.rename("symbol")),
        equity=curve,
        returns=returns.rename("returns"),
        config=config,
        initial_capital=float(initial_capital),
    )
