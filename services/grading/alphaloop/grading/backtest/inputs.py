"""From frames to the core's dense arrays: bars pivoted to a (ts x symbol) grid, decisions
aligned to it, and the point-in-time volatility and ADV the impact model reads."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numba import njit

from alphaloop.common.errors import InvalidInputError

BAR_FIELDS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class BarGrid:
    """Bars on a dense grid: ``ts`` (sorted, unique) x ``symbols`` (sorted); NaN where a symbol
    has no bar at a timestamp."""

    ts: pd.DatetimeIndex
    symbols: pd.Index
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


def bar_grid(bars: pd.DataFrame) -> BarGrid:
    missing = {"symbol", "ts", *BAR_FIELDS} - set(bars.columns)
    if missing:
        raise InvalidInputError("bars", f"missing columns {sorted(missing)}")
    if bars.empty:
        raise InvalidInputError("bars", "no bars")
    t_codes, ts = pd.factorize(bars["ts"], sort=True)
    s_codes, symbols = pd.factorize(bars["symbol"], sort=True)
    shape = (len(ts), len(symbols))
    if np.bincount(t_codes * shape[1] + s_codes).max() > 1:
        raise InvalidInputError("bars", "more than one bar for a (symbol, ts)")
    fields = {}
    for name in BAR_FIELDS:
        grid = np.full(shape, np.nan)
        grid[t_codes, s_codes] = bars[name].to_numpy(dtype=float, na_value=np.nan)
        fields[name] = grid
    return BarGrid(ts=pd.DatetimeIndex(ts), symbols=pd.Index(symbols), **fields)


def align_decisions(frame: pd.DataFrame | None, grid: BarGrid, field: str,
                    value: str = "target") -> np.ndarray | None:
    """A (T, N) array of per-decision values from a wide frame (index ts, columns symbols) or a
    long one (columns symbol, ts, ``value``); NaN where nothing was decided. Every decision
    (non-NaN value) must sit at a timestamp of the grid (decisions are taken at bar closes) and
    name a symbol that has bars."""
    if frame is None:
        return None
    if {"symbol", "ts"} <= set(frame.columns):
        if value not in frame.columns:
            raise InvalidInputError(field, f"long frame needs a {value!r} column")
        if frame.duplicated(["symbol", "ts"]).any():
            raise InvalidInputError(field, "more than one value for a (symbol, ts)")
        vals = _numeric(frame[value], field)
        decided = ~np.isnan(vals)
        ts = pd.DatetimeIndex(frame["ts"])[decided]
        sym = pd.Index(frame["symbol"])[decided]
        rows, cols = _positions(grid, ts, sym, field)
        out = np.full((len(grid.ts), len(grid.symbols)), np.nan)
        out[rows, cols] = vals[decided]
        return out
    if frame.index.has_duplicates or frame.columns.has_duplicates:
        raise InvalidInputError(field, "duplicate timestamps or symbols")
    vals = _numeric(frame, field).reshape(frame.shape)
    decided = ~np.isnan(vals)
    rows, cols = _positions(grid, pd.DatetimeIndex(frame.index), pd.Index(frame.columns), field,
                            decided.any(axis=1), decided.any(axis=0))
    out = np.full((len(grid.ts), len(grid.symbols)), np.nan)
    keep_r, keep_c = rows >= 0, cols >= 0
    out[np.ix_(rows[keep_r], cols[keep_c])] = vals[np.ix_(keep_r, keep_c)]
    return out


def _numeric(values: pd.Series | pd.DataFrame, field: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(field, f"values must be numbers ({exc})") from None


def _positions(grid: BarGrid, ts: pd.DatetimeIndex, sym: pd.Index, field: str,
               ts_used: np.ndarray | None = None, sym_used: np.ndarray | None = None):
    """Grid rows of ``ts`` and columns of ``sym`` (-1 where absent); absent ones that carry a
    decision (``*_used``, default all) are an error."""
    rows = grid.ts.get_indexer(ts)
    cols = grid.symbols.get_indexer(sym)
    bad_ts = (rows < 0) if ts_used is None else (rows < 0) & ts_used
    bad_sym = (cols < 0) if sym_used is None else (cols < 0) & sym_used
    if bad_ts.any():
        raise InvalidInputError(field, f"timestamps without bars (decisions are taken at bar "
                                       f"closes), e.g. {ts[bad_ts][:3].tolist()}")
    if bad_sym.any():
        raise InvalidInputError(field, f"symbols without bars, e.g. "
                                       f"{sym[bad_sym].unique()[:3].tolist()}")
    return rows, cols


def lagged_statistics(grid: BarGrid, volatility_window: int, adv_window: int,
                      min_history: int) -> tuple[np.ndarray, np.ndarray]:
    """(sigma, adv) as known before each bar opens: the rolling standard deviation (ddof 1) of
    simple close-to-close returns over the last ``volatility_window`` rows and the rolling mean
    volume over the last ``adv_window`` rows, both through the symbol's previous bar. Missing
    bars are skipped (the return after a gap spans it) and count against the window; NaN until
    ``min_history`` observations are in the window (pandas ``rolling(w, min_periods)``)."""
    # one symbol per row while computing: each symbol's history is contiguous in memory
    sigma, adv = _lagged_statistics(np.ascontiguousarray(grid.close.T),
                                    np.ascontiguousarray(grid.volume.T), volatility_window,
                                    adv_window, min_history)
    return np.ascontiguousarray(sigma.T), np.ascontiguousarray(adv.T)


@njit(cache=True, error_model="numpy")
def _lagged_statistics(close, volume, vol_window, adv_window, min_history):
    """On (symbol, time) arrays; returns (symbol, time) arrays."""
    n_sym, n_bars = close.shape
    returns = np.full(n_bars, np.nan)
    sigma = np.full((n_sym, n_bars), np.nan)
    adv = np.full((n_sym, n_bars), np.nan)
    for j in range(n_sym):
        last = np.nan
        for s in range(n_bars):
            c = close[j, s]
            returns[s] = np.nan if math.isnan(c) else c / last - 1.0
            if not math.isnan(c):
                last = c
        known_sigma = np.nan
        known_adv = np.nan
        for s in range(n_bars):
            if s > 0:
                sigma[j, s] = known_sigma
                adv[j, s] = known_adv
            if math.isnan(close[j, s]):
                continue  # no bar: what is known stays what it was
            known_sigma = _window_std(returns, s, vol_window, min_history)
            known_adv = _window_mean(volume[j], s, adv_window, min_history)
    return sigma, adv


@njit(cache=True, error_model="numpy")
def _window_mean(x, end, window, min_count):
    total = 0.0
    n = 0
    for k in range(max(0, end - window + 1), end + 1):
        if not math.isnan(x[k]):
            total += x[k]
            n += 1
    return total / n if n >= min_count else np.nan


@njit(cache=True, error_model="numpy")
def _window_std(x, end, window, min_count):
    mean = _window_mean(x, end, window, min_count)
    if math.isnan(mean):
        return np.nan
    acc = 0.0
    n = 0
    for k in range(max(0, end - window + 1), end + 1):
        if not math.isnan(x[k]):
            acc += (x[k] - mean) ** 2
            n += 1
    return np.sqrt(acc / (n - 1))
