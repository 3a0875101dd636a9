"""Triple-barrier labels (AFML ch. 3, snippets 3.1-3.5): volatility-scaled profit-taking and
stop-loss barriers plus a vertical barrier ``vertical_bars`` bars ahead; the first barrier the
price path touches sets the label, the touch time and the return.

Conventions (AFML's unless said otherwise):

- The path of an event starting at bar ``t0`` is the closes ``t0 .. t0 + vertical_bars`` (both
  ends included); its return at bar ``t`` is ``(close[t] / close[t0] - 1) * side``.
- The upper barrier is ``pt * trgt`` and the lower ``-sl * trgt`` where ``trgt`` is the
  volatility at ``t0``; a touch is a strict crossing (``ret > pt * trgt`` or ``ret < -sl * trgt``)
  as in snippet 3.2. A multiplier of 0 disables that barrier. Unlike snippet 3.6 the multipliers
  are used as given when ``side`` is None (AFML silently makes them symmetric).
- ``label`` is +1 for a profit-taking touch and -1 for a stop-loss touch. At a vertical touch it
  is the sign of the return (``vertical_label="sign"``, AFML snippet 3.5, so 0 only when the
  return is exactly 0) or always 0 (``vertical_label="zero"``, AFML exercise 3.3 / snippet 3.9).
  A horizontal touch on the vertical bar itself counts as the horizontal barrier.
- ``ret`` and ``label`` are side-adjusted: with a primary model's side, +1 means its trade won.
- Events are dropped when their volatility is NaN or ``<= min_ret`` (snippet 3.3), when their
  side is NaN or 0 (no trade), and when the data end before the vertical barrier without a
  horizontal touch: the outcome is not known yet, so there is no label (snippet 3.3 drops them too).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numba import njit

VERTICAL_LABELS = ("sign", "zero")
BARRIERS = ("pt", "sl", "vertical")
_NONE, _PT, _SL, _VERTICAL = -1, 0, 1, 2
COLUMNS = ["t1", "label", "ret", "barrier", "trgt", "side"]
ONE_DAY = pd.Timedelta(days=1)


def daily_volatility(close: pd.Series, span: int = 100,
                     lookback: pd.Timedelta | int = ONE_DAY) -> pd.Series:
    """EWM standard deviation of returns over ``lookback`` (AFML snippet 3.1), indexed like close.

    The return at ``t`` is against the last bar at or before ``t - lookback`` (an int lookback
    counts bars). AFML takes the last bar strictly before ``t - 1 day``, which on daily bars spans
    two sessions on most days; "at or before" makes it the close-to-close return on daily bars and
    the 24-hour return on intraday bars. Bars without a bar ``lookback`` earlier are NaN.
    """
    _check_close(close)
    values = close.to_numpy(dtype=np.float64)
    n = values.shape[0]
    if isinstance(lookback, pd.Timedelta):
        if not isinstance(close.index, pd.DatetimeIndex):
            raise TypeError("a Timedelta lookback needs a DatetimeIndex; pass an int (bars)")
        prev = close.index.searchsorted(close.index - lookback, side="right") - 1
    else:
        if int(lookback) < 1:
            raise ValueError(f"lookback must be >= 1 bar, got {lookback}")
        prev = np.arange(n) - int(lookback)
    ret = np.full(n, np.nan)
    has_prev = prev >= 0
    ret[has_prev] = values[has_prev] / values[prev[has_prev]] - 1.0
    return pd.Series(ret, index=close.index, name="volatility").ewm(span=span).std()


def daily_volatility_rows(ts_ns: np.ndarray, close: np.ndarray, codes: np.ndarray,
                          span: int = 100, lookback: pd.Timedelta | int = ONE_DAY) -> np.ndarray:
    """:func:`daily_volatility` of many symbols in one pass: rows sorted by (symbol, time),
    ``codes`` the symbol of each row (each symbol's rows contiguous), ``ts_ns`` integer
    nanoseconds. Equal to calling :func:`daily_volatility` on each symbol's rows (one pandas
    grouped EWM instead of one call per symbol)."""
    n = close.shape[0]
    if n == 0:
        return np.empty(0)
    codes = np.asarray(codes, dtype=np.int64)
    boundary = np.r_[True, codes[1:] != codes[:-1]]
    first = np.flatnonzero(boundary)[np.cumsum(boundary) - 1].astype(np.int64)
    if isinstance(lookback, pd.Timedelta):
        prev = _prev_rows(np.asarray(ts_ns, dtype=np.int64), first, int(lookback.value))
    else:
        if int(lookback) < 1:
            raise ValueError(f"lookback must be >= 1 bar, got {lookback}")
        prev = np.arange(n) - int(lookback)
        prev[prev < first] = -1
    ret = np.full(n, np.nan)
    has_prev = prev >= 0
    ret[has_prev] = close[has_prev] / close[prev[has_prev]] - 1.0
    run = np.cumsum(boundary) - 1  # 0, 1, 2 ... in row order, so the grouped result keeps it
    return (pd.Series(ret).groupby(run, sort=True).ewm(span=span).std()
            .to_numpy(dtype=np.float64))


@njit(cache=True, nogil=True)
def _prev_rows(ts, first, lookback):
    """For each row, the last row of its symbol at or before ``ts - lookback`` (-1: none)."""
    out = np.empty(ts.shape[0], np.int64)
    for i in range(ts.shape[0]):
        target = ts[i] - lookback
        lo, hi = first[i], i + 1  # count of rows in [first, i] with ts <= target
        while lo < hi:
            mid = (lo + hi) // 2
            if ts[mid] <= target:
                lo = mid + 1
            else:
                hi = mid
        out[i] = lo - 1 if lo > first[i] else -1
    return out


def _ns(ts: pd.Series) -> np.ndarray:
    values = pd.to_datetime(ts, utc=True)
    return values.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]").view(np.int64)


@njit(cache=True, nogil=True, error_model="numpy")
def first_touch(close, start, horizon, upper, lower, side):
    """Scan each event's path for the first strict barrier crossing (AFML snippet 3.2).

    ``close``: one array of closes (several symbols may be concatenated; ``horizon`` keeps each
    path inside its own symbol). For event i the path is bars ``start[i] + 1 .. horizon[i]``
    (bar ``start[i]`` has return 0 and cannot cross a positive barrier). Returns the touch bar
    (-1 when none) and which barrier (0 pt, 1 sl, -1 none). ``upper = inf`` / ``lower = -inf``
    disable a barrier.
    """
    m = start.shape[0]
    touch = np.full(m, -1, dtype=np.int64)
    kind = np.full(m, -1, dtype=np.int8)
    for i in range(m):
        p0 = start[i]
        c0 = close[p0]
        s = side[i]
        up = upper[i]
        lo = lower[i]
        for k in range(p0 + 1, horizon[i] + 1):
            r = (close[k] / c0 - 1.0) * s
            if r > up:
                touch[i] = k
                kind[i] = 0
                break
            if r < lo:
                touch[i] = k
                kind[i] = 1
                break
    return touch, kind


def label_positions(close: np.ndarray, start: np.ndarray, last: np.ndarray, trgt: np.ndarray,
                    side: np.ndarray, pt_sl: Sequence[float], vertical_bars: int | None,
                    vertical_label: str = "sign") -> dict[str, np.ndarray]:
    """Triple-barrier outcome of events given as bar positions into ``close``.

    ``last[i]`` is the last bar of event i's symbol. Returns arrays ``keep`` (events with a
    known outcome), and for the kept events ``start``, ``touch``, ``barrier`` (codes into
    ``BARRIERS``), ``ret``, ``label``, ``trgt``, ``side``.
    """
    pt, sl = _check_pt_sl(pt_sl)
    if vertical_label not in VERTICAL_LABELS:
        raise ValueError(f"vertical_label must be one of {VERTICAL_LABELS}, got {vertical_label!r}")
    if vertical_bars is None:
        vertical = np.full(start.shape[0], np.iinfo(np.int64).max)
        horizon = last
    else:
        if int(vertical_bars) < 1:
            raise ValueError(f"vertical_bars must be >= 1, got {vertical_bars}")
        vertical = start + int(vertical_bars)
        horizon = np.minimum(vertical, last)
    upper = trgt * pt if pt > 0 else np.full(trgt.shape[0], np.inf)
    lower = -sl * trgt if sl > 0 else np.full(trgt.shape[0], -np.inf)
    touch, kind = first_touch(close, start, horizon, upper, lower, side)
    at_vertical = (kind == _NONE) & (vertical <= last)
    touch = np.where(at_vertical, vertical, touch)
    kind = np.where(at_vertical, _VERTICAL, kind).astype(np.int8)
    keep = kind != _NONE
    start, touch, kind, trgt, side = start[keep], touch[keep], kind[keep], trgt[keep], side[keep]
    ret = (close[touch] / close[start] - 1.0) * side
    label = np.where(kind == _PT, 1, np.where(kind == _SL, -1, np.sign(ret))).astype(np.int64)
    if vertical_label == "zero":
        label[kind == _VERTICAL] = 0
    return {"keep": keep, "start": start, "touch": touch, "barrier": kind, "ret": ret,
            "label": label, "trgt": trgt, "side": side}


def triple_barrier(close: pd.Series, events, pt_sl: Sequence[float], vertical_bars: int | None,
                   volatility: pd.Series | float, min_ret: float = 0.0,
                   side: pd.Series | None = None, *, vertical_label: str = "sign") -> pd.DataFrame:
    """Triple-barrier labels of one symbol's close series (AFML snippets 3.2-3.5).

    ``events``: event start times (labels in ``close.index``; None = every bar).
    ``pt_sl``: (profit-taking, stop-loss) multipliers of the volatility at the event start.
    ``vertical_bars``: bars from the start to the vertical barrier (None = no vertical barrier).
    ``volatility``: a series on close's index (e.g. :func:`daily_volatility`) or one number.
    ``side``: the primary model's side (+1 long, -1 short) at each event start, or None (long).

    Returns a frame indexed by event start with ``t1`` (touch time), ``label``, ``ret``
    (side-adjusted return from start to touch), ``barrier`` ('pt' | 'sl' | 'vertical'),
    ``trgt`` (volatility at the start) and ``side``; see the module docstring for conventions.
    """
    _check_close(close)
    if min_ret < 0:
        raise ValueError(f"min_ret must be >= 0, got {min_ret}")
    index = close.index
    if events is None:
        positions = np.arange(len(index), dtype=np.int64)
    else:
        events = pd.Index(events.index if isinstance(events, (pd.Series, pd.DataFrame)) else events)
        positions = index.get_indexer(events)
        if (positions < 0).any():
            raise KeyError(f"event starts not in close.index: {list(events[positions < 0][:5])}")
        positions = np.unique(positions).astype(np.int64)
    starts = index[positions]
    if isinstance(volatility, pd.Series):
        trgt = volatility.reindex(starts).to_numpy(dtype=np.float64)
    else:
        trgt = np.full(positions.shape[0], float(volatility))
    sides = _side_at(side, starts)
    usable = (trgt > min_ret) & (sides != 0)
    positions, trgt, sides = positions[usable], trgt[usable], sides[usable]
    last = np.full(positions.shape[0], len(index) - 1, dtype=np.int64)
    out = label_positions(close.to_numpy(dtype=np.float64), positions, last, trgt, sides, pt_sl,
                          vertical_bars, vertical_label)
    return _frame(out, index[out["start"]], index[out["touch"]])


def triple_barrier_by_symbol(bars: pd.DataFrame, pt_sl: Sequence[float], vertical_bars: int | None,
                             *, span: int = 100, min_ret: float = 0.0,
                             event_column: str | None = None, side_column: str | None = None,
                             volatility_column: str | None = None,
                             vertical_label: str = "sign") -> pd.DataFrame:
    """:func:`triple_barrier` for every symbol of a long bars frame (columns symbol, ts, close).

    Volatility is :func:`daily_volatility` per symbol with ``span`` unless ``volatility_column``
    names one; events are every bar, or the rows where ``event_column`` is true; the side is 1 or
    ``side_column``. Barriers never look across symbols. Returns a frame indexed by
    (symbol, ts) of the event start, sorted by symbol then time, with the same columns.
    """
    if min_ret < 0:
        raise ValueError(f"min_ret must be >= 0, got {min_ret}")
    frame = bars.sort_values(["symbol", "ts"], kind="stable").reset_index(drop=True)
    if frame.duplicated(["symbol", "ts"]).any():
        raise ValueError("bars hold duplicate (symbol, ts) rows")
    close = frame["close"].to_numpy(dtype=np.float64)
    if not np.isfinite(close).all() or (close <= 0).any():
        raise ValueError("close must be finite and positive")
    codes, _ = pd.factorize(frame["symbol"], sort=False)
    boundary = codes[1:] != codes[:-1]
    run = np.cumsum(np.r_[True, boundary]) - 1
    last = np.flatnonzero(np.r_[boundary, True])[run].astype(np.int64)
    if volatility_column is not None:
        vol = frame[volatility_column].to_numpy(dtype=np.float64)
    else:
        vol = daily_volatility_rows(_ns(frame["ts"]), close, codes, span)
    if event_column is None:
        is_event = np.ones(len(frame), dtype=bool)
    else:
        flags = frame[event_column]
        is_event = (flags.notna() & flags.astype(bool)).to_numpy()
    sides = (np.ones(len(frame)) if side_column is None
             else _check_sides(frame[side_column].to_numpy(dtype=np.float64)))
    positions = np.flatnonzero(is_event & (vol > min_ret) & (sides != 0)).astype(np.int64)
    out = label_positions(close, positions, last[positions], vol[positions], sides[positions],
                          pt_sl, vertical_bars, vertical_label)
    ts = frame["ts"].array
    index = pd.MultiIndex.from_arrays(
        [frame["symbol"].to_numpy()[out["start"]], ts[out["start"]]], names=["symbol", "ts"])
    return _frame(out, index, ts[out["touch"]])


def _frame(out: dict[str, np.ndarray], index: pd.Index, t1) -> pd.DataFrame:
    frame = pd.DataFrame({
        "t1": pd.Index(t1).array,
        "label": out["label"],
        "ret": out["ret"],
        "barrier": pd.Categorical.from_codes(out["barrier"], categories=list(BARRIERS)),
        "trgt": out["trgt"],
        "side": out["side"].astype(np.int64),
    }, index=index)
    if not isinstance(index, pd.MultiIndex) and index.name is None:
        frame.index.name = "t0"
    return frame


def _check_close(close: pd.Series) -> None:
    if not isinstance(close, pd.Series):
        raise TypeError("close must be a pandas Series indexed by time")
    if not close.index.is_monotonic_increasing or not close.index.is_unique:
        raise ValueError("close.index must be strictly increasing")
    values = close.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all() or (values <= 0).any():
        raise ValueError("close must be finite and positive (clean bars with the quality gate)")


def _check_pt_sl(pt_sl: Sequence[float]) -> tuple[float, float]:
    if len(pt_sl) != 2:
        raise ValueError(f"pt_sl must be (profit_taking, stop_loss), got {pt_sl!r}")
    pt, sl = float(pt_sl[0]), float(pt_sl[1])
    if pt < 0 or sl < 0 or not (np.isfinite(pt) and np.isfinite(sl)):
        raise ValueError(f"pt_sl multipliers must be finite and >= 0 (0 disables), got {pt_sl!r}")
    return pt, sl


def _side_at(side: pd.Series | None, starts: pd.Index) -> np.ndarray:
    if side is None:
        return np.ones(len(starts))
    return _check_sides(side.reindex(starts).to_numpy(dtype=np.float64))


def _check_sides(values: np.ndarray) -> np.ndarray:
    values = np.where(np.isnan(values), 0.0, values)
    if not np.isin(values, (-1.0, 0.0, 1.0)).all():
        raise ValueError("side must be +1 (long), -1 (short), 0 or NaN (no trade)")
    return values
