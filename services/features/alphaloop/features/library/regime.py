"""Market regime: the trend and volatility state of the market, read from an equal-weighted
index of the universe built point in time from the bars (on each date, the mean one-bar return
of the symbols trading that date), or from an index series the caller passes
(``compute(bars, market_index=series)``, looked up as of each date). Every row of a date gets
that date's values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alphaloop.features.library.cross_sectional import date_mean
from alphaloop.features.library.registry import define
from alphaloop.features.library.rolling import (
    NAN,
    kernel,
    rolling_mean,
    rolling_std,
    shift_return,
)

FAMILY = "regime"
TREND_WINDOW = 50
SHORT_VOL = 21
LONG_VOL = 126


@kernel
def level_from_returns(r):
    """Index level: L[0] = 1, L[t] = L[t-1] (1 + r[t]), dates without a return carried flat."""
    out = np.empty(r.shape[0])
    level = 1.0
    for i in range(r.shape[0]):
        if r[i] == r[i]:
            level *= 1.0 + r[i]
        out[i] = level
    return out


@kernel
def regime_table(level, r, trend_window, short_vol, long_vol):
    """Per-date columns: trend (L / SMA(L) - 1), trend state (its sign), 21-date index return,
    short volatility, short/long volatility ratio, high-volatility state (ratio > 1)."""
    n = level.shape[0]
    out = np.full((6, n), NAN)
    sma = rolling_mean(level, trend_window)
    ret = shift_return(level, short_vol)
    vs = rolling_std(r, short_vol, 1)
    vl = rolling_std(r, long_vol, 1)
    for i in range(n):
        trend = level[i] / sma[i] - 1.0
        out[0, i] = trend
        if not np.isnan(trend):
            out[1, i] = 1.0 if trend > 0.0 else (-1.0 if trend < 0.0 else 0.0)
        out[2, i] = ret[i]
        out[3, i] = vs[i]
        if vl[i] > 0.0:
            ratio = vs[i] / vl[i]
            out[4, i] = ratio
            out[5, i] = 1.0 if ratio > 1.0 else 0.0
    return out


def market_returns(panel) -> np.ndarray:
    """One-bar index return per panel date: the given index as of each date, else the mean
    one-bar return of the symbols trading that date."""
    if panel.market_index is None:
        return date_mean(panel.series("ret_1"), *panel.by_date)
    index = panel.market_index.dropna().sort_index()
    stamps = pd.to_datetime(index.index, utc=True).tz_convert(None)
    stamps = stamps.to_numpy(dtype="datetime64[ns]").view(np.int64)
    pos = np.searchsorted(stamps, panel.dates, side="right") - 1
    closes = np.where(pos >= 0, index.to_numpy(dtype=np.float64)[np.maximum(pos, 0)], np.nan)
    r = np.full(closes.shape[0], np.nan)
    r[1:] = closes[1:] / closes[:-1] - 1.0
    return r


def _table(panel) -> np.ndarray:
    """The per-date regime columns, built once per panel (the features run on threads)."""
    with panel.lock:
        cached = getattr(panel, "_regime_table", None)
        if cached is None:
            r = np.ascontiguousarray(market_returns(panel))
            cached = regime_table(level_from_returns(r), r, TREND_WINDOW, SHORT_VOL, LONG_VOL)
            panel._regime_table = cached
    return cached


def _column(i: int):
    return lambda p: _table(p)[i][p.date_codes]


_COMMON = {"family": FAMILY, "inputs": ("close",), "kind": "panel", "depends": ("ret_1",)}
_INDEX = ("I = the equal-weighted universe index (L[t] = L[t-1] (1 + mean_i r_i[t]), r_i the "
          "one-bar returns of the symbols trading on date t) or the given index series")

define("regime_trend_50", _column(0), warmup=TREND_WINDOW - 1, **_COMMON,
       doc=f"Index trend: I[t] / SMA50(I)[t] - 1 over dates; {_INDEX}.")
define("regime_trend_state", _column(1), warmup=TREND_WINDOW - 1, **_COMMON,
       doc=f"Index trend state: sign(I[t] - SMA50(I)[t]) in {{-1, 0, +1}}; {_INDEX}.")
define("regime_ret_21", _column(2), warmup=SHORT_VOL, **_COMMON,
       doc=f"Index return over 21 dates: I[t] / I[t-21] - 1; {_INDEX}.")
define("regime_vol_21", _column(3), warmup=SHORT_VOL, **_COMMON,
       doc=f"Index volatility: sample sd of the index's one-bar returns over 21 dates; {_INDEX}.")
define("regime_vol_ratio", _column(4), warmup=LONG_VOL, **_COMMON,
       doc="Index volatility regime: sd(21 dates) / sd(126 dates) of the index's one-bar "
           f"returns; {_INDEX}.")
define("regime_high_vol", _column(5), warmup=LONG_VOL, **_COMMON,
       doc="High-volatility state: 1[sd21 / sd126 > 1] of the index's one-bar returns "
           "(regime_vol_ratio above 1), else 0.")
