"""Trading metrics: win rate and profit factor, turnover, and capacity under square-root impact.

* ``win_rate = #(x > 0) / #(x != 0)`` and ``profit_factor = sum(x > 0) / |sum(x < 0)|``, where
  x are the net P&Ls of closed round trips when a trades frame is given (the backtester's
  ``net_pnl``; trips still open, ``exit_ts`` NaT, are marks, not outcomes, and are left out),
  else per-day returns. Flat outcomes
  (x = 0: days out of the market, scratch trades) count for neither side. ``profit_factor`` is
  inf with gains and no losses, NaN with neither.
* ``turnover`` (annualised, one-way): ``A / T * sum_t 1/2 sum_i |w_{i,t} - w_{i,t-1}|`` from the
  weights w (signed fractions of equity held after bar t's trades, ``w_{i,-1} = 0``: the book
  is built from cash, and that trade counts). Moving the whole book from one name to another
  is a turnover of 1. Weight changes from price drift between rebalances count as trading, a
  small overstatement for books that are not rebalanced every bar.
* Capacity. Trading notional X in a name with daily volatility sigma and average daily
  *dollar* volume ADV costs ``k sigma sqrt(X / ADV)`` of X (square-root impact, the law the
  backtester charges). At capital C, bar t trades ``C |dw_{i,t}|`` of name i, so the annual
  impact as a fraction of C is

      I(C) = sqrt(C) * B,   B = k * A / T * sum_{t,i} sigma_{i,t} |dw_{i,t}|^1.5 / sqrt(ADV_{i,t})

  and the capacity, the capital at which impact eats half the gross alpha ``alpha`` (annual
  arithmetic return before costs), solves I(C) = alpha / 2 in closed form:
  ``C* = (alpha / (2 B))^2``. For one name traded evenly (one-way annual turnover tau, so
  ``q = 2 tau / A`` of capital traded a bar) this is ``C* = ADV alpha^2 / (4 A^2 k^2 sigma^2 q^3)``.
  C* = 0 when alpha <= 0, inf when nothing is traded.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from alphaloop.grading.metrics._inputs import TRADING_DAYS, ArrayLike

Panel = pd.DataFrame | pd.Series


def _outcomes(values: ArrayLike) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    if not np.isfinite(x).all():
        raise ValueError("outcomes contain NaN or infinite values")
    return x


def win_rate(outcomes: ArrayLike) -> float:
    x = _outcomes(outcomes)
    decided = np.count_nonzero(x)
    return float(np.count_nonzero(x > 0) / decided) if decided else float("nan")


def profit_factor(outcomes: ArrayLike) -> float:
    x = _outcomes(outcomes)
    gains, losses = x[x > 0].sum(), -x[x < 0].sum()
    if losses == 0.0:
        return math.inf if gains > 0.0 else float("nan")
    return float(gains / losses)


def trade_outcomes(trades: pd.DataFrame) -> np.ndarray:
    """Net outcome of each closed trade: column ``net_pnl`` (the backtester's), else ``pnl``,
    else ``return``; rows whose ``exit_ts`` is NaT (open trips) are skipped."""
    if "exit_ts" in trades.columns:
        trades = trades[trades["exit_ts"].notna()]
    for column in ("net_pnl", "pnl", "return"):
        if column in trades.columns:
            return _outcomes(trades[column])
    raise ValueError("trades frame needs a 'net_pnl', 'pnl' or 'return' column")


def position_weights(shares: pd.DataFrame, close: pd.DataFrame, equity: pd.Series) -> pd.DataFrame:
    """Signed weights ``shares * close / equity`` (dates x symbols) from share positions held
    at each close, the close prices and the equity at each close."""
    prices = close.reindex(index=shares.index, columns=shares.columns)
    value = shares.fillna(0.0) * prices.where(shares.fillna(0.0) != 0.0, 0.0)
    return value.div(equity.reindex(shares.index), axis=0)


def _weights(positions: Panel) -> pd.DataFrame:
    frame = positions.to_frame() if isinstance(positions, pd.Series) else positions
    return frame.astype(float).fillna(0.0)


def weight_changes(positions: Panel) -> pd.DataFrame:
    """``|w_t - w_{t-1}|`` per bar and name, the first bar measured from cash."""
    w = _weights(positions)
    return w.diff().fillna(w).abs()


def turnover(positions: Panel, annualization: int = TRADING_DAYS) -> float:
    """Annualised one-way turnover of a weights panel (dates x symbols) or single series."""
    traded = weight_changes(positions)
    if len(traded) == 0:
        return float("nan")
    return float(0.5 * traded.to_numpy().sum() * annualization / len(traded))


def capacity(gross_alpha: float, turnover: float, adv: float, sigma: float, k: float = 1.0,
             annualization: int = TRADING_DAYS) -> float:
    """Capital at which square-root impact costs half of ``gross_alpha``, one name traded evenly
    (``turnover`` one-way annual, ``adv`` in currency, ``sigma`` daily)."""
    if gross_alpha <= 0.0:
        return 0.0
    q = 2.0 * turnover / annualization
    if q == 0.0 or sigma == 0.0 or k == 0.0:
        return math.inf
    return adv * gross_alpha**2 / (4.0 * annualization**2 * k**2 * sigma**2 * q**3)


def impact_coefficient(positions: Panel, adv: Panel | float, sigma: Panel | float,
                       k: float = 1.0, annualization: int = TRADING_DAYS) -> float:
    """B in ``I(C) = sqrt(C) B``: annual impact cost per unit capital at C = 1."""
    traded = weight_changes(positions)
    if isinstance(positions, pd.Series):  # one name: a Series of adv / sigma runs over dates
        adv, sigma = (v.to_frame(traded.columns[0]) if isinstance(v, pd.Series) else v
                      for v in (adv, sigma))
    adv_panel = _broadcast(adv, traded, "adv")
    sigma_panel = _broadcast(sigma, traded, "sigma")
    if (adv_panel.to_numpy() <= 0).any():
        raise ValueError("adv must be positive wherever the strategy trades")
    cost = sigma_panel * traded**1.5 / np.sqrt(adv_panel)
    return float(k * annualization / len(traded) * cost.to_numpy().sum())


def _broadcast(value: Panel | float, like: pd.DataFrame, name: str) -> pd.DataFrame:
    """A scalar, a per-symbol Series or a dates x symbols frame, as a frame shaped like ``like``.
    Only cells where something was traded need a value."""
    if isinstance(value, pd.DataFrame):
        frame = value.reindex(index=like.index, columns=like.columns).astype(float)
    elif isinstance(value, pd.Series):
        row = value.reindex(like.columns).to_numpy(dtype=float)
        frame = pd.DataFrame(np.tile(row, (len(like), 1)), index=like.index, columns=like.columns)
    else:
        frame = pd.DataFrame(float(value), index=like.index, columns=like.columns)
    missing = frame.isna() & (like > 0)
    if missing.to_numpy().any():
        raise ValueError(f"{name} is missing where the strategy trades")
    return frame.where(like > 0, 1.0)


def capacity_from_positions(gross_alpha: float, positions: Panel, adv: Panel | float,
                            sigma: Panel | float, k: float = 1.0,
                            annualization: int = TRADING_DAYS) -> float:
    """``C* = (gross_alpha / (2 B))^2`` for a weights panel, per-name ADV and volatility."""
    if gross_alpha <= 0.0:
        return 0.0
    b = impact_coefficient(positions, adv, sigma, k, annualization)
    return math.inf if b == 0.0 else (gross_alpha / (2.0 * b)) ** 2
