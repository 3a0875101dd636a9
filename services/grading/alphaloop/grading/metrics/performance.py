"""Return-based performance metrics of a daily, out-of-sample, after-cost return series.

Conventions (the same as empyrical-reloaded, which the tests use as the reference):

* returns are simple per-bar returns, taken as excess returns (risk-free rate 0: pass
  ``r - rf`` to measure against cash);
* annualisation uses ``A = 252`` bars a year: mean x A, volatility x sqrt(A);
* standard deviations are sample ones (``ddof=1``);
* wealth starts at 1 before the first bar, so a loss on the first bar is a drawdown.

==========================  ===================================================================
metric                      formula (``r_1..r_n``, wealth ``W_t = prod_{s<=t} (1 + r_s)``, W_0 = 1)
==========================  ===================================================================
total_return                ``W_n - 1``
annual_return (CAGR)        ``W_n ** (A / n) - 1``
annual_volatility           ``std(r, ddof=1) * sqrt(A)``
sharpe                      ``mean(r) / std(r, ddof=1) * sqrt(A)``
downside_risk               ``sqrt(mean(min(r, 0) ** 2)) * sqrt(A)`` (all n bars in the mean)
sortino                     ``mean(r) * A / downside_risk``
max_drawdown                ``min_t (W_t / max_{s<=t} W_s - 1)``, a number <= 0
calmar                      ``annual_return / |max_drawdown|`` (NaN without a drawdown)
max_drawdown_duration       bars underwater in the spell that holds the deepest drawdown: from
                            the first bar below the peak to the last bar before wealth gets back
                            to it (to the last bar if it never does)
longest_drawdown_duration   the longest such underwater spell, in bars
value_at_risk               5th percentile of r (linear interpolation, ``np.percentile``)
conditional_value_at_risk   mean of the ``k = int((n - 1) * 0.05) + 1`` worst returns
beta, alpha                 ``beta = cov(r, b) / var(b)`` (population moments);
                            ``alpha = (1 + mean(r - beta b)) ** A - 1``
==========================  ===================================================================
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alphaloop.grading.metrics._inputs import TRADING_DAYS, ArrayLike, align, as_returns


def total_return(returns: ArrayLike) -> float:
    r = as_returns(returns).to_numpy()
    return float(np.prod(1.0 + r) - 1.0)


def annual_return(returns: ArrayLike, annualization: int = TRADING_DAYS) -> float:
    """Compound annual growth rate."""
    r = as_returns(returns).to_numpy()
    return float(np.prod(1.0 + r) ** (annualization / r.size) - 1.0)


def annual_volatility(returns: ArrayLike, annualization: int = TRADING_DAYS) -> float:
    r = as_returns(returns, min_length=2).to_numpy()
    return float(np.std(r, ddof=1) * np.sqrt(annualization))


def sharpe_ratio(returns: ArrayLike, annualization: int = TRADING_DAYS) -> float:
    """Annualised Sharpe ratio; +-inf for a constant non-zero series, NaN for all zeros."""
    r = as_returns(returns, min_length=2).to_numpy()
    # A constant series has a float std of ~1e-18, not 0; call it 0 so the ratio is honest.
    std = 0.0 if r.max() == r.min() else np.std(r, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.mean(r) / std * np.sqrt(annualization))


def downside_risk(returns: ArrayLike, annualization: int = TRADING_DAYS) -> float:
    r = as_returns(returns).to_numpy()
    return float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2)) * np.sqrt(annualization))


def sortino_ratio(returns: ArrayLike, annualization: int = TRADING_DAYS) -> float:
    """Annualised mean over annualised downside deviation (target return 0)."""
    r = as_returns(returns, min_length=2).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.mean(r) * annualization / downside_risk(r, annualization))


def drawdown_series(returns: ArrayLike) -> pd.Series:
    """``W_t / max_{s<=t} W_s - 1`` for every bar (<= 0), with the peak anchored at W_0 = 1."""
    series = as_returns(returns)
    wealth = np.cumprod(1.0 + series.to_numpy())
    peak = np.maximum.accumulate(np.maximum(wealth, 1.0))
    return pd.Series(wealth / peak - 1.0, index=series.index)


def max_drawdown(returns: ArrayLike) -> float:
    return float(min(drawdown_series(returns).min(), 0.0))


def _underwater_spells(drawdown: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start (inclusive) and end (exclusive) positions of every run of bars below the peak."""
    under = np.concatenate(([False], drawdown < 0.0, [False])).astype(np.int8)
    edges = np.diff(under)
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def max_drawdown_duration(returns: ArrayLike) -> int:
    """Bars underwater in the spell that contains the deepest drawdown (0 if none)."""
    dd = drawdown_series(returns).to_numpy()
    if dd.min() >= 0.0:
        return 0
    trough = int(np.argmin(dd))
    starts, ends = _underwater_spells(dd)
    spell = np.flatnonzero((starts <= trough) & (trough < ends))[0]
    return int(ends[spell] - starts[spell])


def longest_drawdown_duration(returns: ArrayLike) -> int:
    """Bars in the longest underwater spell (0 if wealth never fell below its peak)."""
    starts, ends = _underwater_spells(drawdown_series(returns).to_numpy())
    return int((ends - starts).max()) if starts.size else 0


def calmar_ratio(returns: ArrayLike, annualization: int = TRADING_DAYS) -> float:
    mdd = max_drawdown(returns)
    if mdd >= 0.0:
        return float("nan")
    return annual_return(returns, annualization) / abs(mdd)


def value_at_risk(returns: ArrayLike, cutoff: float = 0.05) -> float:
    return float(np.percentile(as_returns(returns).to_numpy(), 100.0 * cutoff))


def tail_size(n: int, cutoff: float) -> int:
    """How many of ``n`` observations make the worst ``cutoff`` tail: ``int((n-1) c) + 1``."""
    return int((n - 1) * cutoff) + 1


def conditional_value_at_risk(returns: ArrayLike, cutoff: float = 0.05) -> float:
    """Expected shortfall: mean of the worst ``tail_size(n, cutoff)`` returns."""
    r = as_returns(returns).to_numpy()
    return float(np.sort(r)[: tail_size(r.size, cutoff)].mean())


def alpha_beta(returns: ArrayLike, benchmark: ArrayLike,
               annualization: int = TRADING_DAYS) -> tuple[float, float]:
    """CAPM alpha (annualised, compounded from the mean daily residual) and beta to
    ``benchmark``, on the days both have."""
    r, b = align(as_returns(returns), as_returns(benchmark, "benchmark"))
    r_arr, b_arr = r.to_numpy(), b.to_numpy()
    b_centred = b_arr - b_arr.mean()
    var_b = np.mean(b_centred**2)
    if r_arr.size < 2 or var_b < 1e-30:
        return float("nan"), float("nan")
    beta = float(np.mean(b_centred * r_arr) / var_b)
    alpha = float((1.0 + np.mean(r_arr - beta * b_arr)) ** annualization - 1.0)
    return alpha, beta
