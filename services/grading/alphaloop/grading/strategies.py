"""Strategies graded side by side: inputs in, target weights per (ts, symbol) out.

Every function returns a wide frame (index ``ts``, one column per symbol) of target weights
(fractions of equity, signed; shorts negative) for ``alphaloop.grading.backtest(kind="weights")``.
A row is a decision taken at that bar's close with what was known then (closes up to and
including ``t``); the backtester fills it at the next bar's open or later. Rows of NaN mean "no
new decision" (non-rebalance bars): the previous target stands and nothing is re-sized.

Rebalance schedule: every ``rebalance_every`` bars (default 5) of the decision window, starting
at its first bar, to limit turnover; buy-and-hold decides once, at the first bar.

============================  ==================================================================
strategy                      rule at a rebalance close ``t``
============================  ==================================================================
``ml_signal``                 calibrated probability ``p`` of the event starting at ``t``; long
                              the names with ``p - 0.5 > threshold`` (at most the top
                              ``quantile`` of the cross-section), short those with
                              ``0.5 - p > threshold`` (at most the bottom ``quantile``); each side
                              gets ``gross / 2`` split equally (long-only: the long side gets
                              ``gross``). An optional meta-label probability filters trades whose
                              meta probability is below ``meta_threshold``.
``momentum``                  12-1 style cross-sectional momentum scaled to the data length:
                              score ``close[t - skip] / close[t - lookback] - 1`` (default
                              63-5 bars); long the top decile, short the bottom decile.
``mean_reversion``            short-term reversal: score ``close[t] / close[t - lookback] - 1``
                              (default 5 bars); long the bottom decile (losers), short the top
                              decile (winners).
``buy_and_hold``              equal weights ``1 / N`` over the universe at the first bar, then
                              held (no re-sizing: the index drifts with prices). The universe is
                              the symbols with a bar on every date of the window, so the
                              benchmark never trades on a missing bar.
============================  ==================================================================

Deciles: ``k = max(1, floor(quantile * n))`` names per side among the ``n`` symbols with a score
at ``t`` (a bar at ``t`` and at the lookback dates); ties are broken by symbol name. Long-short
strategies are dollar-neutral with gross exposure ``gross`` (default 1: 50% long, 50% short).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

DEFAULT_REBALANCE_EVERY = 5


def close_panel(bars: pd.DataFrame, field: str = "close") -> pd.DataFrame:
    """``bars`` (long: symbol, ts, ...) as a wide ts x symbol frame of ``field``.

    Equal to ``bars.pivot_table(index=ts, columns="symbol", values=field, aggfunc="last")``
    (dates and symbols without any value left out, sorted), without its group-by: one
    placement into a dense array, which matters at 20 million bars. A repeated
    (symbol, ts) keeps its last non-NaN value in row order, as ``last`` does."""
    ts = "ts" if "ts" in bars.columns else "timestamp"
    values = bars[field].to_numpy(dtype=np.float64, na_value=np.nan)
    have = ~np.isnan(values)
    t_codes, stamps = pd.factorize(bars[ts].array[have], sort=True)
    s_codes, symbols = pd.factorize(bars["symbol"].to_numpy()[have], sort=True)
    grid = np.full((len(stamps), len(symbols)), np.nan)
    grid[t_codes, s_codes] = values[have]  # repeated keys: numpy keeps the last assignment
    return pd.DataFrame(grid, index=pd.Index(stamps, name="ts"),
                        columns=pd.Index(symbols, name="symbol"), copy=False)


def rebalance_dates(dates: Sequence[pd.Timestamp] | pd.DatetimeIndex,
                    every: int = DEFAULT_REBALANCE_EVERY) -> pd.DatetimeIndex:
    """Every ``every``-th date of ``dates`` (sorted), starting with the first."""
    if every < 1:
        raise ValueError("rebalance_every must be at least 1")
    idx = pd.DatetimeIndex(sorted(pd.DatetimeIndex(dates).unique()))
    return idx[::every]


def _window(panel: pd.DataFrame, start, end) -> pd.DatetimeIndex:
    idx = panel.index
    mask = np.ones(len(idx), dtype=bool)
    if start is not None:
        mask &= idx >= pd.Timestamp(start)
    if end is not None:
        mask &= idx <= pd.Timestamp(end)
    return idx[mask]


def rank_long_short(scores: pd.Series, quantile: float = 0.1, gross: float = 1.0,
                    long_only: bool = False) -> pd.Series:
    """Weights from one date's scores: long the top ``quantile``, short the bottom (equal
    weights, ``gross / 2`` per side; long-only: ``gross`` on the long side). NaN scores get 0."""
    valid = scores.dropna()
    out = pd.Series(0.0, index=scores.index)
    n = len(valid)
    k = max(1, math.floor(quantile * n)) if n else 0
    if n < (1 if long_only else 2):
        return out
    top = _top(valid, k)
    if long_only:
        out[top] = gross / k
    else:
        out[top] = gross / 2 / k
        out[_top(-valid, k)] = -gross / 2 / k
    return out


def _cross_sectional(panel: pd.DataFrame, score: pd.DataFrame, start, end, every: int,
                     quantile: float, gross: float) -> pd.DataFrame:
    dates = rebalance_dates(_window(panel, start, end), every)
    targets = pd.DataFrame(np.nan, index=_window(panel, start, end), columns=panel.columns)
    for t in dates:
        targets.loc[t] = rank_long_short(score.loc[t].rename("score"), quantile, gross)
    targets.index.name, targets.columns.name = "ts", "symbol"
    return targets


def momentum(bars: pd.DataFrame, *, lookback: int = 63, skip: int = 5, start=None, end=None,
             rebalance_every: int = DEFAULT_REBALANCE_EVERY, quantile: float = 0.1,
             gross: float = 1.0) -> pd.DataFrame:
    """Cross-sectional momentum: score ``close[t-skip] / close[t-lookback] - 1`` (rows of the
    symbol's own bar history are the panel's dates: a symbol without a bar at one of the three
    dates has no score); long the top decile, short the bottom decile."""
    if not 0 <= skip < lookback:
        raise ValueError("need 0 <= skip < lookback")
    close = close_panel(bars)
    score = close.shift(skip) / close.shift(lookback) - 1.0
    score = score.where(close.notna())
    return _cross_sectional(close, score, start, end, rebalance_every, quantile, gross)


def mean_reversion(bars: pd.DataFrame, *, lookback: int = 5, start=None, end=None,
                   rebalance_every: int = DEFAULT_REBALANCE_EVERY, quantile: float = 0.1,
                   gross: float = 1.0) -> pd.DataFrame:
    """Short-term reversal: long the ``lookback``-bar losers (bottom decile of
    ``close[t] / close[t-lookback] - 1``), short the winners (top decile)."""
    if lookback < 1:
        raise ValueError("lookback must be at least 1")
    close = close_panel(bars)
    score = -(close / close.shift(lookback) - 1.0)
    return _cross_sectional(close, score, start, end, rebalance_every, quantile, gross)


def buy_and_hold_universe(bars: pd.DataFrame, start=None, end=None) -> list[str]:
    """Symbols with a bar on every date of the window (the benchmark's index members)."""
    close = close_panel(bars)
    window = close.loc[_window(close, start, end)]
    return sorted(window.columns[window.notna().all()].tolist())


def buy_and_hold(bars: pd.DataFrame, *, start=None, end=None) -> pd.DataFrame:
    """Equal-weighted index of the universe, bought at the first bar of the window's next open
    and held: one decision row (``1 / N``) at the first date, NaN after."""
    close = close_panel(bars)
    dates = _window(close, start, end)
    members = buy_and_hold_universe(bars, start, end)
    targets = pd.DataFrame(np.nan, index=dates, columns=close.columns)
    if len(dates) and members:
        targets.iloc[0] = 0.0
        targets.loc[dates[0], members] = 1.0 / len(members)
    targets.index.name, targets.columns.name = "ts", "symbol"
    return targets


def ml_signal(predictions: pd.DataFrame, bars: pd.DataFrame, *, threshold: float = 0.02,
              quantile: float = 0.1, gross: float = 1.0, long_only: bool = False,
              rebalance_every: int = DEFAULT_REBALANCE_EVERY, probability: str = "p_cal",
              meta: str | None = None, meta_threshold: float = 0.5) -> pd.DataFrame:
    """Target weights from out-of-sample model probabilities.

    ``predictions``: one row per event with ``symbol``, ``t0`` (the decision close) and the
    ``probability`` column (calibrated by default); optionally a ``meta`` column (a meta-label
    model's probability that trading the side pays), below ``meta_threshold`` -> no trade.
    Decision dates are the prediction dates, every ``rebalance_every``-th one."""
    close = close_panel(bars)
    p = predictions.pivot_table(index="t0", columns="symbol", values=probability, aggfunc="last")
    p = p.reindex(columns=close.columns)
    dates = pd.DatetimeIndex(sorted(p.index))
    if meta is not None:
        m = predictions.pivot_table(index="t0", columns="symbol", values=meta, aggfunc="last")
        p = p.where(m.reindex_like(p) >= meta_threshold)
    targets = pd.DataFrame(np.nan, index=_window(close, dates.min() if len(dates) else None,
                                                 dates.max() if len(dates) else None),
                           columns=close.columns)
    for t in rebalance_dates(dates, rebalance_every):
        # Probabilities equal to 1e-9 are equal: float noise must not pick names.
        row = (p.loc[t] - 0.5).round(9)
        longs = row[row > threshold].rename("score")
        shorts = row[row < -threshold].rename("score")
        n = int(row.notna().sum())
        k = max(1, math.floor(quantile * n)) if n else 0
        w = pd.Series(0.0, index=close.columns)
        long_names = _top_untied(longs, k)
        short_names = [] if long_only else _top_untied(-shorts, k)
        long_gross = gross if long_only else gross / 2
        if long_names:
            w[long_names] = long_gross / len(long_names)
        if short_names:
            w[short_names] = -(gross / 2) / len(short_names)
        targets.loc[t] = w
    targets.index.name, targets.columns.name = "ts", "symbol"
    return targets


def _top_untied(scores: pd.Series, k: int) -> list[str]:
    """The ``k`` largest scores' symbols, leaving out any group of names tied across the cut:
    a model that scores names equally has no view on which of them to trade, so none is
    picked by name order. (A model with constant probabilities therefore takes no position.)"""
    if k <= 0 or scores.empty:
        return []
    ordered = scores.sort_values(ascending=False)
    if len(ordered) <= k:
        return ordered.index.astype(str).tolist()
    cut = ordered.iloc[k]
    return ordered.iloc[:k][ordered.iloc[:k] != cut].index.astype(str).tolist()


def _top(scores: pd.Series, k: int) -> list[str]:
    """The ``k`` largest scores' symbols (ties by symbol name)."""
    if k <= 0 or scores.empty:
        return []
    frame = pd.DataFrame({"symbol": scores.index.astype(str), "score": scores.to_numpy()})
    frame = frame.sort_values(["score", "symbol"], ascending=[False, True])
    return frame["symbol"].head(k).tolist()
