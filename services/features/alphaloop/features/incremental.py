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

Cost (S symbols, T bars each, F series features)
    Per completed date: O(F * T) per symbol that traded (kernels over the full history), plus
    O(S * T) to assemble the panel for the panel features. Over a whole stream that is
    O(F * S * T^2): fine for a live day-by-day feed and for tests (30 symbols x 1 year in a few
    seconds), quadratic for replaying years of history bar by bar; use the batch ``compute``
    for backfills. Memory: the full history (6 float64 columns + kept dependency series).
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

    def _grow(self) -> None:
        cap = self.ts.shape[0] * 2
        self.ts = np.resize(self.ts, cap)
        for d in (self.cols, self.kept):
            for k in d:
                d[k] = np.resize(d[k], cap)

    def append(self, ts: int, values: Mapping[str, float]) -> None:
        if self.n == self.ts.shape[0]:
            self._grow()
        self.ts[self.n] = ts
        for c in _COLUMNS:
            self.cols[c][self.n] = values[c]
        for k in self.kept:
            self.kept[k][self.n] = np.nan
        self.n += 1

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
    complete, call :meth:`flush` at end of stream. See the module docstring for the rules.

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
        self.duplicates = 0
        self.rejected = 0

    # -- input ----------------------------------------------------------------------------
    def add(self, bar: Any) -> list[FeatureRow]:
        """Take one bar; return the vectors of every date this bar completed (often none)."""
        symbol, ts, values = _bar_values(bar)
        if not self._accept(symbol, ts, values):
            return []
        self._pending.setdefault(ts, {})[symbol] = values
        self._last_ts[symbol] = ts
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
