"""How a strategy behaves against the market it trades in: regime consistency, tail survival
and crowding (correlation with the market and with common factors built from the bars).

* Regimes (point in time): on day t the index is in a ``bull`` regime if its compounded return
  over the ``window`` bars *before* t (t-window .. t-1, known at t's open) exceeds
  ``+threshold``, ``bear`` below ``-threshold``, ``sideways`` otherwise; the first ``window``
  bars have no regime. Defaults: 63 bars (a quarter) and 5% (about +-20% a year).
* ``regime_consistency``: among the regime types that occur on the strategy's days, the share
  in which the strategy's compounded return over those days was positive (0, 1/3, ... 1).
* Tail days: the ``k = int((n - 1) * 0.05) + 1`` worst market days (the tail empyrical's CVaR
  averages). ``tail_mean_return`` is the strategy's mean return on them; ``tail_capture`` is
  that over the market's mean return on them (1 falls with the market, 0 unmoved, < 0 gains).
* Factors (``factor_returns``), each a daily return, formed at t-1's close and earned over t:
  ``market`` the equal-weighted mean return; ``momentum`` top minus bottom third by the return
  from t-1-lookback to t-1-skip (defaults 126 and 21 bars: the bundled year is too short for
  12-1 months); ``size`` bottom minus top third by trailing mean dollar volume (close x volume
  over 21 bars: a liquidity-size proxy, as the bars carry no market capitalisation).
* ``crowding``: the largest absolute Pearson correlation of the strategy's returns with the
  market and each factor.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alphaloop.grading.metrics._inputs import ArrayLike, align, as_returns
from alphaloop.grading.metrics.performance import tail_size

BULL, BEAR, SIDEWAYS = "bull", "bear", "sideways"


def market_regimes(index_returns: ArrayLike, window: int = 63,
                   threshold: float = 0.05) -> pd.Series:
    """Regime label of each bar (object Series, None before the window fills)."""
    b = as_returns(index_returns, "index_returns")
    wealth = np.concatenate(([1.0], np.cumprod(1.0 + b.to_numpy())))  # wealth[j]: after j bars
    labels = np.full(len(b), None, dtype=object)
    t = np.arange(window, len(b))
    trailing = wealth[t] / wealth[t - window] - 1.0  # bars t-window .. t-1
    labels[t] = np.where(trailing > threshold, BULL,
                         np.where(trailing < -threshold, BEAR, SIDEWAYS))
    return pd.Series(labels, index=b.index, dtype=object, name="regime")


def regime_returns(returns: ArrayLike, index_returns: ArrayLike, window: int = 63,
                   threshold: float = 0.05) -> pd.DataFrame:
    """Per regime: number of strategy days and the strategy's compounded return over them.
    Regimes come from the whole index history, so it may start before the strategy does."""
    r = as_returns(returns)
    regimes = market_regimes(index_returns, window, threshold)
    if isinstance(r.index, pd.RangeIndex) or isinstance(regimes.index, pd.RangeIndex):
        if len(r) != len(regimes):
            raise ValueError("unlabelled returns and index returns must have equal lengths")
        regimes = pd.Series(regimes.to_numpy(), index=r.index)
    else:
        regimes = regimes.reindex(r.index)
    frame = pd.DataFrame({"r": r, "regime": regimes}).dropna()
    grouped = frame.groupby("regime")["r"]
    return pd.DataFrame({"days": grouped.size(),
                         "compounded_return": grouped.apply(lambda x: np.prod(1.0 + x) - 1.0)})


def regime_consistency(returns: ArrayLike, index_returns: ArrayLike, window: int = 63,
                       threshold: float = 0.05) -> float:
    table = regime_returns(returns, index_returns, window, threshold)
    if table.empty:
        return float("nan")
    return float((table["compounded_return"] > 0).mean())


def tail_survival(returns: ArrayLike, market_returns: ArrayLike,
                  cutoff: float = 0.05) -> tuple[float, float]:
    """``(tail_mean_return, tail_capture)`` on the worst ``cutoff`` share of market days."""
    r, m = align(as_returns(returns), as_returns(market_returns, "market_returns"))
    if len(r) == 0:
        return float("nan"), float("nan")
    worst = np.argsort(m.to_numpy(), kind="stable")[: tail_size(len(m), cutoff)]
    strategy_mean = float(r.to_numpy()[worst].mean())
    market_mean = float(m.to_numpy()[worst].mean())
    capture = strategy_mean / market_mean if market_mean < 0 else float("nan")
    return strategy_mean, capture


def _long_short(asset_returns: pd.DataFrame, score: pd.DataFrame, fraction: float,
                min_names: int) -> pd.Series:
    """Equal-weighted top-``fraction`` minus bottom-``fraction`` return, ranked by ``score``."""
    score = score.where(asset_returns.notna())
    pct = score.rank(axis=1, pct=True)
    top = asset_returns.where(pct > 1.0 - fraction).mean(axis=1)
    bottom = asset_returns.where(pct <= fraction).mean(axis=1)
    return (top - bottom).where(score.notna().sum(axis=1) >= min_names)


def factor_returns(close: pd.DataFrame, volume: pd.DataFrame, momentum_lookback: int = 126,
                   momentum_skip: int = 21, size_window: int = 21, fraction: float = 1 / 3,
                   min_names: int = 6) -> pd.DataFrame:
    """Daily ``market``, ``momentum`` and ``size`` factor returns from wide close / volume
    frames (dates x symbols). Rows lacking history are NaN."""
    asset_returns = close.pct_change(fill_method=None)
    momentum_score = (close.shift(momentum_skip) / close.shift(momentum_lookback) - 1.0).shift(1)
    dollar_volume = (close * volume).rolling(size_window, min_periods=size_window).mean().shift(1)
    return pd.DataFrame({
        "market": asset_returns.mean(axis=1).where(asset_returns.notna().sum(axis=1) > 0),
        "momentum": _long_short(asset_returns, momentum_score, fraction, min_names),
        "size": _long_short(asset_returns, -dollar_volume, fraction, min_names),
    })


def factor_correlations(returns: ArrayLike, factors: pd.DataFrame) -> dict[str, float]:
    """Pearson correlation of the strategy's returns with each factor column, on shared days."""
    r = as_returns(returns)
    out = {}
    for name in factors.columns:
        a, b = align(r, factors[name].astype(float))
        ok = len(a) >= 3 and a.max() > a.min() and b.max() > b.min()  # not std: float dust
        out[str(name)] = float(np.corrcoef(a, b)[0, 1]) if ok else float("nan")
    return out


def crowding(correlations: dict[str, float]) -> float:
    """Largest absolute correlation with any common return stream (NaN if none is known)."""
    values = [abs(v) for v in correlations.values() if np.isfinite(v)]
    return max(values) if values else float("nan")
