"""The batch engine behind ``alphaloop.features.compute``: validate the bars, sort them once by
(symbol, time), run every per-symbol kernel on each symbol's contiguous block (symbols spread
over threads; the numba kernels release the GIL), run the panel features (cross-sectional,
regime) over all symbols, and write the values back in the caller's row order.

Point in time by construction: series kernels are causal and see one symbol's time-sorted
rows; panel features read, on each date, only values of that date or earlier.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property, partial
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.common.errors import InvalidInputError
from alphaloop.features.library.registry import REGISTRY, FeatureSpec
from alphaloop.features.library.rolling import kernel

logger = logging.getLogger("alphaloop.features")

PRICE_VOLUME = ("open", "high", "low", "close", "volume")
#: Below this many rows one thread is faster than two (thread start-up and chunking).
_THREADED_MIN_ROWS = 200_000


class SymbolBars:
    """One symbol's bars in time order, as float64 arrays (``None`` for a missing column).
    ``ts`` is int64 nanoseconds since the epoch (UTC). ``memo`` shares one kernel's several
    outputs (MACD line/signal/histogram, +DI/-DI/ADX) between the features that read them."""

    __slots__ = ("_memo", "close", "high", "low", "open", "ts", "volume", "vwap")

    def __init__(self, columns: Mapping[str, np.ndarray | None], ts: np.ndarray,
                 lo: int, hi: int) -> None:
        for name in ("open", "high", "low", "close", "volume", "vwap"):
            col = columns.get(name)
            setattr(self, name, None if col is None else col[lo:hi])
        self.ts = ts[lo:hi]
        self._memo: dict[Any, Any] = {}

    def memo(self, key: Any, make: Callable[[], Any]) -> Any:
        try:
            return self._memo[key]
        except KeyError:
            value = self._memo[key] = make()
            return value


class Panel:
    """Every symbol's bars sorted by (symbol, time), with the date structure that panel
    features need: ``date_codes`` (row -> index into ``dates``) and rows grouped by date."""

    def __init__(self, columns: dict[str, np.ndarray | None], ts: np.ndarray,
                 offsets: np.ndarray, symbols: np.ndarray,
                 params: Mapping[str, Mapping[str, Any]],
                 market_index: pd.Series | None = None) -> None:
        self.columns = columns
        self.ts = ts
        self.offsets = offsets
        self.symbols = symbols
        self.params = params
        self.market_index = market_index
        self.n_rows = int(ts.shape[0])
        self._series: dict[str, np.ndarray] = {}
        #: Serialises one-off shared computations that panel features (on threads) memoise.
        self.lock = threading.Lock()

    @property
    def n_symbols(self) -> int:
        return int(self.offsets.shape[0] - 1)

    def symbol_bars(self, s: int) -> SymbolBars:
        return SymbolBars(self.columns, self.ts, int(self.offsets[s]), int(self.offsets[s + 1]))

    @cached_property
    def _dates(self) -> tuple[np.ndarray, np.ndarray]:
        codes, uniques = pd.factorize(self.ts)  # hashing: no sort of every row
        order = np.argsort(uniques, kind="stable")
        rank = np.empty(order.shape[0], np.int64)
        rank[order] = np.arange(order.shape[0])
        return np.asarray(uniques)[order], rank[codes]

    @property
    def dates(self) -> np.ndarray:
        """Distinct timestamps, ascending (int64 ns, UTC)."""
        return self._dates[0]

    @property
    def date_codes(self) -> np.ndarray:
        return self._dates[1]

    @cached_property
    def by_date(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows ordered by date then symbol, offsets of each date's block)."""
        return group_rows(self.date_codes, self.dates.shape[0])

    def series(self, name: str) -> np.ndarray:
        """Values of series feature ``name`` for every row, in panel order (memoised)."""
        if name not in self._series:
            spec = REGISTRY[name]
            fn = _bound(spec, self.params)
            out = np.empty(self.n_rows)
            for s in range(self.n_symbols):
                lo, hi = self.offsets[s], self.offsets[s + 1]
                out[lo:hi] = fn(self.symbol_bars(s))
            self._series[name] = out
        return self._series[name]

    def keep_series(self, name: str, values: np.ndarray) -> None:
        self._series[name] = values


@kernel
def group_rows(codes, n_groups):
    """Counting sort: rows grouped by code, each group in row order (so, in a panel, by
    symbol), and the offsets of each group's block. O(rows)."""
    offsets = np.zeros(n_groups + 1, np.int64)
    for c in codes:
        offsets[c + 1] += 1
    for g in range(n_groups):
        offsets[g + 1] += offsets[g]
    fill = offsets[:-1].copy()
    order = np.empty(codes.shape[0], np.int64)
    for r in range(codes.shape[0]):
        c = codes[r]
        order[fill[c]] = r
        fill[c] += 1
    return order, offsets


def compute(
    bars: pd.DataFrame,
    names: Iterable[str] | str | None = None,
    *,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    market_index: pd.Series | None = None,
    threads: int | None = None,
) -> pd.DataFrame:
    """Compute features for ``bars`` (see ``alphaloop.features.compute``)."""
    ts_col = _check_bars(bars)
    params = _check_params(params or {})
    available = _available(bars)
    specs = _drop_missing_inputs(select(names), available)

    panel, order = _build_panel(bars, ts_col, available, params, market_index)
    out = np.empty((len(specs), panel.n_rows))
    identity = bool(order.shape[0] == 0 or (order[0] == 0 and np.all(np.diff(order) == 1)))
    _run_series(panel, order, identity, specs, out, params, threads)
    _run_panel(panel, order, identity, specs, out, params, threads)
    return pd.DataFrame(out.T, index=bars.index, columns=[s.name for s in specs], copy=False)


def plan(bars: pd.DataFrame, names: Iterable[str] | str | None = None, *,
         warn: bool = True) -> list[FeatureSpec]:
    """The features :func:`compute` would return for ``bars`` and ``names``, in its column
    order: the asked ones minus those whose inputs the bars lack (logged when ``warn``). Lets a
    caller split the work, e.g. per-symbol (``kind == "series"``) features chunk by chunk of
    symbols and ``panel`` features on the whole universe, with exactly the same values."""
    _check_bars(bars)
    specs = select(names)
    if warn:
        return _drop_missing_inputs(specs, _available(bars))
    available = _available(bars)
    return [s for s in specs if all(c in available for c in s.inputs)]


def _available(bars: pd.DataFrame) -> set[str]:
    # a column that is present but holds no value at all is as missing as an absent one
    available = {c for c in PRICE_VOLUME
                 if c in bars.columns and (bars.empty or bars[c].notna().any())}
    available.add("timestamp")
    return available


def select(names: Iterable[str] | str | None) -> list[FeatureSpec]:
    """Specs for ``names`` (all when None), in the order asked, duplicates dropped."""
    if names is None:
        return list(REGISTRY.values())
    if isinstance(names, str):
        names = [names]
    wanted = list(dict.fromkeys(names))
    unknown = [n for n in wanted if n not in REGISTRY]
    if unknown:
        raise InvalidInputError("names", f"unknown features: {', '.join(map(str, unknown))} "
                                         "(alphaloop.features.describe() lists them)")
    return [REGISTRY[n] for n in wanted]


def _check_bars(bars: pd.DataFrame) -> str:
    if not isinstance(bars, pd.DataFrame):
        raise InvalidInputError("bars", f"expected a pandas DataFrame, got {type(bars).__name__}")
    ts_col = "timestamp" if "timestamp" in bars.columns else "ts" if "ts" in bars.columns else None
    missing = [c for c, ok in (("symbol", "symbol" in bars.columns), ("timestamp", ts_col),
                               ("close", "close" in bars.columns)) if not ok]
    if missing:
        raise InvalidInputError("bars", f"missing columns: {', '.join(missing)} "
                                        "(timestamp may also be called ts)")
    return ts_col


def _check_params(params: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    checked: dict[str, dict[str, Any]] = {}
    for name, values in params.items():
        if name not in REGISTRY:
            raise InvalidInputError("params", f"unknown feature {name!r}")
        extra = set(values) - set(REGISTRY[name].params)
        if extra:
            raise InvalidInputError("params", f"{name} takes no parameter(s) {sorted(extra)}; "
                                              f"it takes {sorted(REGISTRY[name].params)}")
        checked[name] = dict(values)
    return checked


def _drop_missing_inputs(specs: list[FeatureSpec], available: set[str]) -> list[FeatureSpec]:
    kept, notes = [], []
    for spec in specs:
        missing = [c for c in spec.inputs if c not in available]
        if missing:
            notes.append(f"{spec.name} (needs {', '.join(missing)})")
        else:
            kept.append(spec)
    if notes:
        logger.warning("features left out because the bars lack their inputs: %s",
                       "; ".join(notes))
    return kept


def _bound(spec: FeatureSpec, params: Mapping[str, Mapping[str, Any]]) -> Callable[..., Any]:
    chosen = {**spec.params, **params.get(spec.name, {})}
    return partial(spec.function, **chosen) if chosen else spec.function


def _timestamps(column: pd.Series) -> np.ndarray:
    try:
        ts = pd.to_datetime(column, utc=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError("bars", f"timestamp: not datetimes ({exc})") from exc
    if ts.isna().any():
        raise InvalidInputError("bars", "timestamp: missing values")
    return ts.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]").view(np.int64)


def _build_panel(bars: pd.DataFrame, ts_col: str, available: set[str],
                 params: Mapping[str, Mapping[str, Any]],
                 market_index: pd.Series | None) -> tuple[Panel, np.ndarray]:
    codes, symbols = pd.factorize(bars["symbol"], sort=True)
    if (codes < 0).any():
        raise InvalidInputError("bars", "symbol: missing values")
    ts = _timestamps(bars[ts_col])
    codes = codes.astype(np.int64)
    if _is_sorted(codes, ts):
        order = np.arange(codes.shape[0], dtype=np.int64)
    else:
        order = np.lexsort((ts, codes)).astype(np.int64)
        codes, ts = codes[order], ts[order]
    dup = (codes[1:] == codes[:-1]) & (ts[1:] == ts[:-1])
    if dup.any():
        at = int(np.argmax(dup))
        raise InvalidInputError("bars", f"duplicate rows for symbol {symbols[codes[at]]} at "
                                        f"{pd.Timestamp(ts[at], tz='UTC')}")
    counts = np.bincount(codes, minlength=len(symbols))
    offsets = np.zeros(len(symbols) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    columns: dict[str, np.ndarray | None] = {}
    for name in (*PRICE_VOLUME, "vwap"):
        present = name in available or (name == "vwap" and name in bars.columns
                                         and bars[name].notna().any())
        columns[name] = (np.ascontiguousarray(
            bars[name].to_numpy(dtype=np.float64, na_value=np.nan)[order]) if present else None)
    panel = Panel(columns, ts, offsets, np.asarray(symbols), params, market_index)
    return panel, order


def _is_sorted(codes: np.ndarray, ts: np.ndarray) -> bool:
    if codes.shape[0] < 2:
        return True
    dc = np.diff(codes)
    return bool(np.all(dc >= 0) and np.all((dc > 0) | (np.diff(ts) > 0)))


def _run_series(panel: Panel, order: np.ndarray, identity: bool, specs: list[FeatureSpec],
                out: np.ndarray, params: Mapping[str, Mapping[str, Any]],
                threads: int | None) -> None:
    """Run every series feature (and the series that panel features read) symbol by symbol."""
    wanted = {s.name: row for row, s in enumerate(specs) if s.kind == "series"}
    needed = [d for s in specs if s.kind == "panel" for d in s.depends]
    kept = {name: np.empty(panel.n_rows) for name in dict.fromkeys(needed)}
    jobs = [(_bound(REGISTRY[name], params), wanted.get(name), kept.get(name))
            for name in dict.fromkeys([*wanted, *kept])]
    if not jobs:
        return
    offsets = panel.offsets
    breaks = np.concatenate([[0], np.cumsum(np.diff(order) != 1)]) if not identity else None

    def destination(lo: int, hi: int) -> slice | np.ndarray:
        if identity:
            return slice(lo, hi)
        if breaks[hi - 1] == breaks[lo]:  # the symbol's rows are one ascending run
            return slice(int(order[lo]), int(order[lo]) + hi - lo)
        return order[lo:hi]

    def run(symbols: np.ndarray) -> None:
        for s in symbols:
            lo, hi = int(offsets[s]), int(offsets[s + 1])
            if hi == lo:
                continue
            bars = SymbolBars(panel.columns, panel.ts, lo, hi)
            dest = destination(lo, hi)
            for fn, row, keep in jobs:
                values = fn(bars)
                if row is not None:
                    out[row, dest] = values
                if keep is not None:
                    keep[lo:hi] = values

    workers = _threads(threads, panel.n_rows)
    symbols = np.arange(panel.n_symbols)
    if workers == 1:
        run(symbols)
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="features") as pool:
            list(pool.map(run, np.array_split(symbols, workers * 8)))
    for name, values in kept.items():
        panel.keep_series(name, values)


def _run_panel(panel: Panel, order: np.ndarray, identity: bool, specs: list[FeatureSpec],
               out: np.ndarray, params: Mapping[str, Mapping[str, Any]],
               threads: int | None) -> None:
    """Panel features after the series they read are kept; independent of one another, so
    they run side by side (their kernels release the GIL)."""
    jobs = [(row, _bound(spec, params)) for row, spec in enumerate(specs) if spec.kind == "panel"]
    if not jobs:
        return
    _ = panel.by_date  # build the shared date structure once, before the threads start

    def run(job: tuple[int, Callable[..., Any]]) -> None:
        row, fn = job
        values = fn(panel)
        if identity:
            out[row] = values
        else:
            out[row, order] = values

    workers = _threads(threads, panel.n_rows)
    if workers == 1 or len(jobs) == 1:
        for job in jobs:
            run(job)
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="features-panel") as pool:
            list(pool.map(run, jobs))


def _threads(threads: int | None, rows: int) -> int:
    if threads is not None:
        return max(1, int(threads))
    if rows < _THREADED_MIN_ROWS:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))
