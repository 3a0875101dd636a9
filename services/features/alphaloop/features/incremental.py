"""Incremental (streaming) feature engine: bars in one at a time, feature vectors out, equal
bit for bit to the batch ``alphaloop.features.compute`` on the same bars (NaN where batch is NaN).

How it stays exact
    Batch kernels are causal (the point-in-time test proves ``compute(prefix)`` equals
    ``compute(full)`` on the prefix rows), so the value at a symbol's newest bar is the last
    element of the kernel run over that symbol's history up to that bar. Many kernels are
    recursive (EMA, RSI, ADX, OBV, the regime index level) or keep running sums whose rounding
    depends on every earlier bar, so a bounded tail window would *not* give the same floats.
    The engine therefore keeps each symbol's **full** history (amortised-doubling float64
    buffers) and, when a date completes, runs every series kernel over the full history of each
    symbol that traded that date and keeps the last value.

Dates and completeness
    Panel features (cross-sectional ranks/z-scores, market regime, calendar) read every symbol
    of a date, so vectors are emitted per *date* (distinct bar timestamp), when the date is
    complete:

    * ``universe=None`` (default, a live feed delivering bars in time order): a date is
      complete when a bar with a later timestamp arrives;
    * ``universe={...}`` (a known symbol list, e.g. a bus whose partitions interleave symbols):
      a date is complete once every universe symbol has delivered a bar at or after it (each
      symbol's bars arrive in order, so none of them can still send one for that date). A
      universe symbol that stops sending holds dates back until ``flush()``;
    * ``flush()`` (end of stream) completes every pending date.

    Panel features are then run over a panel built from the full history of every symbol,
    with the series they depend on taken from the values already kept per bar (not
    recomputed), and the completed date's rows are read out.

Out-of-order and duplicate bars
    A bar for (symbol, timestamp) already seen is ignored (idempotent at-least-once delivery;
    a duplicate with different prices is ignored too, with a warning). A bar older than the
    symbol's last bar, or for a date already emitted, is rejected with a logged warning and
    counted in ``rejected``; it is never used.

Restart
    The history lives in memory only, so a restarted engine is seeded from the stored bars
    (:meth:`IncrementalEngine.seed`): dates whose vectors were already published become
    history silently (the dependency series that panel features read are computed in one
    kernel run per symbol, equal to the per-date runs because kernels are causal); later
    dates go through the normal path and are emitted when they complete. The vectors are
    then those of an engine that never stopped, and no date is lost.

Cost (S symbols, T bars each, F series features)
    Per completed date: O(F * T) per symbol that traded (kernels over the full history), plus
    O(S * T) to assemble the panel for the panel features. Over a whole stream that is
    O(F * S * T^2): fine for a live day-by-day feed and for tests (30 symbols x 1 year in a few
    seconds), quadratic for replaying years of history bar by bar; use the batch ``compute``
    for backfills. Memory: the full history (6 float64 columns + kept dependency series).
    A seed costs one kernel run per symbol and kept series over the silent history, O(S * T),
    plus the per-date cost for each date it replays.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.features.library.engine import (
    PRICE_VOLUME,
    Panel,
    SymbolBars,
    _bound,
    _check_params,
    _timestamps,
    select,
)
from alphaloop.features.library.registry import REGISTRY, FeatureSpec

logger = logging.getLogger("alphaloop.features.incremental")

_COLUMNS = (*PRICE_VOLUME, "vwap")


def feature_set_version(names: Iterable[str], params: Mapping[str, Mapping[str, Any]] | None = None
                        ) -> str:
    """A short stable id of the library version, the feature list and their parameters."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        lib = version("alphaloop")
    except PackageNotFoundError:  # not installed as a distribution (source checkout)
        lib = "0"
    payload = json.dumps(
        {"names": list(names),
         "params": {n: dict(REGISTRY[n].params) | dict((params or {}).get(n, {}))
                    for n in names}},
        sort_keys=True, default=str,
    )
    return f"{lib}+{hashlib.sha256(payload.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class FeatureRow:
    """One emitted vector: ``values[i]`` is feature ``names[i]`` at (symbol, ts)."""

    symbol: str
    ts: int  # ns since the epoch, UTC
    names: tuple[str, ...]
    values: np.ndarray

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.names, self.values.tolist(), strict=True))

    @property
    def timestamp(self) -> pd.Timestamp:
        return pd.Timestamp(self.ts, unit="ns", tz="UTC")


class _History:
    """One symbol's bars (and kept dependency series) in time order, in doubling buffers."""

    __slots__ = ("cols", "kept", "n", "ts")

    def __init__(self, kept_names: Iterable[str]) -> None:
        self.n = 0
        self.ts = np.empty(16, np.int64)
        self.cols = {c: np.empty(16) for c in _COLUMNS}
        self.kept = {k: np.empty(16) for k in kept_names}

    def _grow(self, need: int) -> None:
        cap = self.ts.shape[0]
        while cap < need:
            cap *= 2
        self.ts = np.resize(self.ts, cap)
        for d in (self.cols, self.kept):
            for k in d:
                d[k] = np.resize(d[k], cap)

    def append(self, ts: int, values: Mapping[str, float]) -> None:
        if self.n == self.ts.shape[0]:
            self._grow(self.n + 1)
        self.ts[self.n] = ts
        for c in _COLUMNS:
            self.cols[c][self.n] = values[c]
        for k in self.kept:
            self.kept[k][self.n] = np.nan
        self.n += 1

    def extend(self, ts: np.ndarray, cols: Mapping[str, np.ndarray]) -> None:
        """Append many bars at once (in time order, after the last one); kept values NaN."""
        lo, hi = self.n, self.n + ts.shape[0]
        if hi > self.ts.shape[0]:
            self._grow(hi)
        self.ts[lo:hi] = ts
        for c in _COLUMNS:
            self.cols[c][lo:hi] = cols[c]
        for k in self.kept:
            self.kept[k][lo:hi] = np.nan
        self.n = hi

    def contains(self, ts: int) -> bool:
        i = int(np.searchsorted(self.ts[: self.n], ts))
        return i < self.n and int(self.ts[i]) == ts


def _bar_values(bar: Any) -> tuple[str, int, dict[str, float]]:
    """(symbol, ts ns, columns) of an ``alphaloop.v1.Bar`` or a mapping with symbol,
    timestamp/ts and the price columns. A proto's vwap of 0 means unknown (NaN)."""
    if hasattr(bar, "DESCRIPTOR"):
        vwap = float(bar.vwap) or np.nan
        return bar.symbol, int(bar.timestamp.ToNanoseconds()), {
            "open": bar.open, "high": bar.high, "low": bar.low, "close": bar.close,
            "volume": bar.volume, "vwap": vwap}
    ts = bar["timestamp"] if "timestamp" in bar else bar["ts"]
    stamp = pd.Timestamp(ts)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    values = {}
    for c in _COLUMNS:
        v = bar.get(c, np.nan) if hasattr(bar, "get") else np.nan
        values[c] = np.nan if v is None or v is pd.NA else float(v)
    return str(bar["symbol"]), int(stamp.value), values


class IncrementalEngine:
    """Feed bars with :meth:`add` (or :meth:`add_many`), collect :class:`FeatureRow` s as dates
    complete, call :meth:`flush` at end of stream; after a restart, :meth:`seed` the new engine
    from the stored bars first. See the module docstring for the rules.

    ``names``/``params``/``market_index`` mean what they mean for ``compute``. ``inputs`` are
    the bar columns the stream carries (default OHLCV); features needing others are left out
    with a logged note, as batch does for columns the bars lack.
    """

    def __init__(
        self,
        names: Iterable[str] | str | None = None,
        *,
        params: Mapping[str, Mapping[str, Any]] | None = None,
        market_index: pd.Series | None = None,
        universe: Iterable[str] | None = None,
        inputs: Iterable[str] = PRICE_VOLUME,
    ) -> None:
        self.params = _check_params(params or {})
        available = {*inputs, "timestamp"}
        specs = select(names)
        dropped = [f"{s.name} (needs {', '.join(c for c in s.inputs if c not in available)})"
                   for s in specs if not set(s.inputs) <= available]
        if dropped:
            logger.warning("features left out because the bars lack their inputs: %s",
                           "; ".join(dropped))
        self.specs: list[FeatureSpec] = [s for s in specs if set(s.inputs) <= available]
        self.names: tuple[str, ...] = tuple(s.name for s in self.specs)
        self._available = available
        self.market_index = market_index
        self.universe = frozenset(universe) if universe is not None else None
        self.version = feature_set_version(self.names, self.params)

        series = [s.name for s in self.specs if s.kind == "series"]
        deps = [d for s in self.specs if s.kind == "panel" for d in s.depends]
        self._kept_names = tuple(dict.fromkeys(deps))
        # (feature, bound function, output column or None, kept or not)
        col = {n: i for i, n in enumerate(self.names)}
        self._series_jobs = [
            (name, _bound(REGISTRY[name], self.params), col.get(name), name in self._kept_names)
            for name in dict.fromkeys([*series, *self._kept_names])
        ]
        self._panel_jobs = [(col[s.name], _bound(s, self.params))
                            for s in self.specs if s.kind == "panel"]

        self._hist: dict[str, _History] = {}
        self._pending: dict[int, dict[str, dict[str, float]]] = {}
        self._last_ts: dict[str, int] = {}  # newest accepted bar per symbol (pending or not)
        self._emitted_through: int | None = None
        self.accepted = 0  # bars taken by add() (a seed's replayed bars included)
        self.seeded = 0  # bars a seed loaded as history without emitting
        self.duplicates = 0
        self.rejected = 0

    # -- input ----------------------------------------------------------------------------
    def add(self, bar: Any) -> list[FeatureRow]:
        """Take one bar; return the vectors of every date this bar completed (often none)."""
        return self._take(*_bar_values(bar))

    def _take(self, symbol: str, ts: int, values: dict[str, float]) -> list[FeatureRow]:
        if not self._accept(symbol, ts, values):
            return []
        self._pending.setdefault(ts, {})[symbol] = values
        self._last_ts[symbol] = ts
        self.accepted += 1
        return self._emit(self._complete_through(ts))

    def add_many(self, bars: Iterable[Any]) -> list[FeatureRow]:
        out: list[FeatureRow] = []
        for bar in bars:
            out.extend(self.add(bar))
        return out

    def flush(self) -> list[FeatureRow]:
        """Complete every pending date (end of stream); return their vectors."""
        if not self._pending:
            return []
        return self._emit(max(self._pending))

    @property
    def pending_dates(self) -> int:
        return len(self._pending)

    @property
    def emitted_through(self) -> pd.Timestamp | None:
        """The newest date whose vectors were emitted (or seeded as emitted); None: none."""
        if self._emitted_through is None:
            return None
        return pd.Timestamp(self._emitted_through, unit="ns", tz="UTC")

    # -- restart ----------------------------------------------------------------------------
    def seed(self, bars: pd.DataFrame, *, emitted_through: Any = None) -> list[FeatureRow]:
        """Load a restarted engine's history from stored bars; return the vectors this emits.

        ``bars``: the store's layout (``symbol``, ``ts`` or ``timestamp``, OHLCV, optional
        ``vwap``), one interval, any row order. ``emitted_through``: the newest date whose
        vectors were published before the restart (the stream's watermark), None if unknown.

        Dates up to ``emitted_through`` (unknown: every date strictly before the newest date
        of ``bars``) become history without emitting a vector: theirs went out before the
        restart. The later dates go through :meth:`add`, so their vectors are emitted when
        they complete (right away, or when the bus brings the bars that complete them), as if
        the engine had never stopped: the dates pending at the crash, whose bars the bus had
        acknowledged, are emitted after all. Vectors equal the batch ``compute`` over the
        whole history bit for bit, as without a restart.

        Delivery is at least once: the newest date may have been published just before the
        crash and is then published twice. Downstream dedupes on the bar: a vector is
        identified by (symbol, timestamp), the models service derives a signal's id from
        (model, version, symbol, timestamp, strategy) and the order's client id from the
        signal id, so a second vector for a bar yields the same signal and order ids.

        Bars the bus delivers again that the seed holds are ignored as duplicates; a bar for a
        silently loaded date that the store lacked is rejected as late (``rejected``). Only a
        fresh engine can be seeded (``RuntimeError`` otherwise).
        """
        if self._hist or self._pending or self._emitted_through is not None:
            raise RuntimeError("seed() needs a fresh engine: this one already holds bars")
        symbols, ts, cols = _stored_bars(bars)
        if ts.shape[0] == 0:
            return []
        if emitted_through is None:
            dates = np.unique(ts)
            cut = int(dates[-2]) if dates.shape[0] > 1 else None
        else:
            cut = _ns(emitted_through)
        silent = ts <= cut if cut is not None else np.zeros(ts.shape[0], bool)
        if silent.any():
            self._load_history(symbols[silent], ts[silent],
                               {c: v[silent] for c, v in cols.items()})
            logger.info("seeded %d bars of %d symbols as history through %s (vectors already "
                        "published)", self.seeded, len(self._hist), _iso(self._emitted_through))
        replay = np.flatnonzero(~silent)
        replay = replay[np.lexsort((symbols[replay], ts[replay]))]  # date by date
        rows: list[FeatureRow] = []
        for i in replay:
            rows.extend(self._take(str(symbols[i]), int(ts[i]),
                                   {c: float(cols[c][i]) for c in _COLUMNS}))
        if replay.shape[0]:
            logger.info("replayed %d stored bars of %d later dates: %d vectors emitted, %d dates "
                        "pending", replay.shape[0], np.unique(ts[replay]).shape[0], len(rows),
                        self.pending_dates)
        return rows

    def _load_history(self, symbols: np.ndarray, ts: np.ndarray,
                      cols: Mapping[str, np.ndarray]) -> None:
        """Bars sorted by (symbol, ts) become history; the kept dependency series are computed
        in one kernel run per symbol (causal kernels: equal to the per-date runs)."""
        starts = np.flatnonzero(np.r_[True, symbols[1:] != symbols[:-1]])
        ends = np.r_[starts[1:], symbols.shape[0]]
        for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
            h = self._hist[str(symbols[lo])] = _History(self._kept_names)
            h.extend(ts[lo:hi], {c: v[lo:hi] for c, v in cols.items()})
            self._last_ts[str(symbols[lo])] = int(ts[hi - 1])
        has_vwap = bool(np.any(~np.isnan(cols["vwap"])))
        keep_jobs = [(name, fn) for name, fn, _col, keep in self._series_jobs if keep]
        for h in self._hist.values() if keep_jobs else ():
            sb = SymbolBars({c: (h.cols[c] if (c in self._available or (c == "vwap" and has_vwap))
                                 else None) for c in _COLUMNS}, h.ts, 0, h.n)
            for name, fn in keep_jobs:
                h.kept[name][: h.n] = fn(sb)
        self._emitted_through = int(ts.max())
        self.seeded += int(ts.shape[0])

    def _accept(self, symbol: str, ts: int, values: Mapping[str, float]) -> bool:
        pending = self._pending.get(ts, {}).get(symbol)
        hist = self._hist.get(symbol)
        if pending is not None or (hist is not None and hist.contains(ts)):
            self.duplicates += 1
            if pending is not None and not _same(pending, values):
                logger.warning("bar %s at %s delivered again with different values; the first "
                               "one is kept", symbol, _iso(ts))
            else:
                logger.debug("duplicate bar %s at %s ignored", symbol, _iso(ts))
            return False
        last = self._last_ts.get(symbol)
        if last is not None and ts < last:
            self.rejected += 1
            logger.warning("bar %s at %s is older than that symbol's last bar (%s): rejected",
                           symbol, _iso(ts), _iso(last))
            return False
        if self._emitted_through is not None and ts <= self._emitted_through:
            self.rejected += 1
            logger.warning("bar %s at %s arrived after that date's vectors were emitted "
                           "(through %s): rejected", symbol, _iso(ts), _iso(self._emitted_through))
            return False
        return True

    def _complete_through(self, newest: int) -> int | None:
        """The latest pending date that is now complete (None: none is)."""
        if self.universe is None:
            earlier = [d for d in self._pending if d < newest]
            return max(earlier) if earlier else None
        if any(s not in self._last_ts for s in self.universe):
            return None
        return min(self._last_ts[s] for s in self.universe)

    # -- computation -----------------------------------------------------------------------
    def _emit(self, through: int | None) -> list[FeatureRow]:
        if through is None:
            return []
        out: list[FeatureRow] = []
        for date in sorted(d for d in self._pending if d <= through):
            out.extend(self._compute_date(date, self._pending.pop(date)))
            self._emitted_through = date
        return out

    def _compute_date(self, date: int, bars: dict[str, dict[str, float]]) -> list[FeatureRow]:
        symbols = sorted(bars)
        for s in symbols:
            hist = self._hist.get(s)
            if hist is None:
                hist = self._hist[s] = _History(self._kept_names)
            hist.append(date, bars[s])
        has_vwap = any(np.any(~np.isnan(h.cols["vwap"][: h.n])) for h in self._hist.values())
        rows = np.full((len(symbols), len(self.names)), np.nan)

        for i, s in enumerate(symbols):  # series features: kernels over the full history
            h = self._hist[s]
            cols = {c: (h.cols[c] if (c in self._available or (c == "vwap" and has_vwap))
                        else None) for c in _COLUMNS}
            sb = SymbolBars(cols, h.ts, 0, h.n)
            for name, fn, col, keep in self._series_jobs:
                value = fn(sb)[-1]
                if col is not None:
                    rows[i, col] = value
                if keep:
                    h.kept[name][h.n - 1] = value

        if self._panel_jobs:
            panel, last_rows = self._panel(symbols, has_vwap)
            for col, fn in self._panel_jobs:
                rows[:, col] = np.asarray(fn(panel))[last_rows]
        return [FeatureRow(s, date, self.names, rows[i]) for i, s in enumerate(symbols)]

    def _panel(self, symbols: list[str], has_vwap: bool) -> tuple[Panel, np.ndarray]:
        """Every symbol's full history as a batch ``Panel`` (sorted by symbol, then time), the
        dependency series filled from kept values; and the rows of ``symbols``' newest bars."""
        names = sorted(self._hist)
        hists = [self._hist[s] for s in names]
        offsets = np.zeros(len(names) + 1, np.int64)
        np.cumsum([h.n for h in hists], out=offsets[1:])
        ts = np.concatenate([h.ts[: h.n] for h in hists])
        columns: dict[str, np.ndarray | None] = {}
        for c in _COLUMNS:
            present = c in self._available or (c == "vwap" and has_vwap)
            columns[c] = np.concatenate([h.cols[c][: h.n] for h in hists]) if present else None
        panel = Panel(columns, ts, offsets, np.asarray(names), self.params, self.market_index)
        for k in self._kept_names:
            panel.keep_series(k, np.concatenate([h.kept[k][: h.n] for h in hists]))
        position = {s: i for i, s in enumerate(names)}
        last_rows = np.array([offsets[position[s] + 1] - 1 for s in symbols], np.int64)
        return panel, last_rows


def _stored_bars(bars: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(symbols, ts ns, columns) of a bar frame, sorted by (symbol, ts); a missing column (vwap)
    is NaN. Two bars of one symbol at one timestamp (two intervals mixed) are an error."""
    if len(bars) == 0:
        return np.array([], str), np.array([], np.int64), {}
    ts_col = "ts" if "ts" in bars.columns else "timestamp"
    symbols = bars["symbol"].astype(str).to_numpy(dtype=str)
    ts = _timestamps(bars[ts_col])
    order = np.lexsort((ts, symbols))
    symbols, ts = symbols[order], ts[order]
    dup = (symbols[1:] == symbols[:-1]) & (ts[1:] == ts[:-1])
    if dup.any():
        at = int(np.argmax(dup))
        raise ValueError(f"seed bars hold two bars of {symbols[at]} at {_iso(int(ts[at]))} "
                         "(read one interval)")
    cols = {c: (bars[c].to_numpy(dtype=np.float64, na_value=np.nan)[order] if c in bars.columns
                else np.full(ts.shape[0], np.nan)) for c in _COLUMNS}
    cols["vwap"][cols["vwap"] == 0.0] = np.nan  # as off the bus, where 0 means unknown
    return symbols, ts, cols


def _ns(when: Any) -> int:
    stamp = pd.Timestamp(when)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value)


def _same(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    return all(a[c] == b[c] or (a[c] != a[c] and b[c] != b[c]) for c in _COLUMNS)


def _iso(ts: int) -> str:
    return pd.Timestamp(ts, unit="ns", tz="UTC").isoformat()


def rows_to_frame(rows: Iterable[FeatureRow]) -> pd.DataFrame:
    """Emitted rows as a frame indexed by (symbol, timestamp), one column per feature."""
    rows = list(rows)
    if not rows:
        return pd.DataFrame()
    index = pd.MultiIndex.from_arrays(
        [[r.symbol for r in rows], pd.to_datetime([r.ts for r in rows], utc=True)],
        names=["symbol", "timestamp"])
    return pd.DataFrame(np.vstack([r.values for r in rows]), index=index,
                        columns=list(rows[0].names))
