"""Point-in-time training sets from bars: features (``alphaloop.features.compute``) at each event
bar, triple-barrier labels from the bars after it (AFML ch. 3), label end times ``t1`` for purged
CV, and sample-uniqueness weights (AFML ch. 4); then a time-based train/test split purged of
labels that reach into the test period.

Pooled (the default): every symbol's events stacked in one frame sorted by (event time, symbol),
with the symbol-level features a cross-sectional model needs (the sector code here; the
``cs_rank_*`` / ``cs_z_*`` cross-sectional features come from the feature library). Per-symbol
models read the same frame one symbol at a time (:meth:`TrainingSet.by_symbol`).

Nothing is filled. An event whose label is not known by the end of its symbol's data is
dropped; with ``drop_truncated`` (default) so is every event whose vertical barrier lies past
the data end, even if it touched a horizontal barrier before: keeping only those early touches
near the end of the data would over-represent large moves in the newest labels.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numba import njit
from pydantic import BaseModel, ConfigDict, Field, field_validator

from alphaloop.common.errors import InvalidInputError

#: Columns of :attr:`TrainingSet.frame` that are not features.
META_COLUMNS = ("symbol", "t0", "t1", "label", "ret", "barrier", "trgt", "y", "weight")
SECTOR_FEATURE = "sector_code"


class LabelSettings(BaseModel):
    """Triple-barrier label settings (see ``alphaloop.models.labels.triple_barrier``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pt_sl: tuple[float, float] = Field((1.0, 1.0), description="Profit-taking and stop-loss "
                                       "barriers as multiples of the volatility at the event.")
    vertical_bars: int = Field(10, ge=1, description="Bars from the event to the vertical barrier.")
    vol_span: int = Field(20, ge=2, description="EWM span of the daily volatility.")
    min_ret: float = Field(0.0, ge=0.0, description="Skip events whose volatility is at or below.")
    drop_truncated: bool = Field(True, description="Drop events whose vertical barrier is past "
                                 "the data end even when a horizontal barrier was touched.")
    relative_to: Literal["none", "universe"] = Field(
        "none", description="none: label the symbol's own price path; universe: label its path "
        "relative to the equal-weighted universe index (close / index), so 'up' means "
        "'beat the universe', the target of a cross-sectional model.")


class DatasetSettings(BaseModel):
    """How events are chosen and which symbol-level features are added."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    events: Literal["all", "cusum"] = Field("all", description="all: every bar after warm-up; "
                                            "cusum: the symmetric CUSUM filter (AFML 2.5.2.1).")
    cusum_threshold: float = Field(1.0, gt=0, description="CUSUM threshold as a multiple of the "
                                   "symbol's daily volatility at that bar (causal).")
    warmup_bars: int | Literal["auto"] = Field("auto", description="Bars per symbol before the "
                                               "first event; auto: the largest warm-up of the "
                                               "chosen features, capped at max_warmup_bars.")
    max_warmup_bars: int = Field(63, ge=0)
    sector_feature: bool = Field(True, description="Add sector_code when sectors are given.")
    chunk_symbols: int = Field(0, ge=0, description="Compute the per-symbol features this "
                               "many symbols at a time (0: all at once); bounds memory on large "
                               "universes, same values.")
    feature_dtype: Literal["float64", "float32"] = Field(
        "float64", description="dtype of the kept feature values; float32 halves their memory.")
    weights: Literal["uniqueness", "return", "none"] = Field(
        "uniqueness", description="Sample weights: average uniqueness (AFML 4.2), "
                                  "return attribution (AFML 4.10) or none (all 1).")

    @field_validator("warmup_bars")
    @classmethod
    def _non_negative(cls, v: int | str) -> int | str:
        if isinstance(v, int) and v < 0:
            raise ValueError("warmup_bars must be >= 0 or 'auto'")
        return v


@dataclass(frozen=True)
class SplitInfo:
    """Where the time split fell. ``train_end`` is the last label end of a training row;
    rows whose labels straddle ``test_start`` were purged (``n_purged``)."""

    train_start: pd.Timestamp
    train_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    n_train: int
    n_test: int
    n_purged: int
    test_fraction: float

    def as_dict(self) -> dict[str, str | int | float]:
        return {k: (v.isoformat() if isinstance(v, pd.Timestamp) else v)
                for k, v in self.__dict__.items()}


@dataclass
class TrainingSet:
    """Labelled events: ``frame`` has the :data:`META_COLUMNS` and one column per feature, one
    row per (symbol, event time), sorted by (t0, symbol), with a fresh RangeIndex."""

    frame: pd.DataFrame
    feature_names: list[str]

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def X(self) -> pd.DataFrame:
        return self.frame[self.feature_names]

    @property
    def y(self) -> np.ndarray:
        return self.frame["y"].to_numpy(dtype=np.int64)

    @property
    def weight(self) -> np.ndarray:
        return self.frame["weight"].to_numpy(dtype=np.float64)

    @property
    def t1(self) -> pd.Series:
        """Label end by label start, in row order: the ``t1`` argument of purged CV."""
        return pd.Series(self.frame["t1"].array, index=pd.DatetimeIndex(self.frame["t0"]),
                         name="t1")

    @property
    def symbols(self) -> list[str]:
        return sorted(self.frame["symbol"].unique().tolist())

    def subset(self, mask: np.ndarray | pd.Series) -> TrainingSet:
        return TrainingSet(self.frame[np.asarray(mask)].reset_index(drop=True),
                           list(self.feature_names))

    def by_symbol(self) -> Iterator[tuple[str, TrainingSet]]:
        symbols = self.frame["symbol"].to_numpy()
        for symbol in self.symbols:
            yield symbol, self.subset(symbols == symbol)

    def split(self, test_fraction: float) -> tuple[TrainingSet, TrainingSet, SplitInfo]:
        """Hold out the last ``test_fraction`` of event dates as the test period; train on the
        events whose labels end strictly before it starts (AFML's purge: a label that ends on
        the test period's first bar shares that bar with the test labels)."""
        if not 0.0 < test_fraction < 1.0:
            raise InvalidInputError("test_fraction", f"must be in (0, 1), got {test_fraction}")
        dates = pd.DatetimeIndex(self.frame["t0"]).unique().sort_values()
        if len(dates) < 2:
            raise InvalidInputError("bars", "need events on at least two dates to split")
        n_test = min(max(1, math.ceil(len(dates) * test_fraction)), len(dates) - 1)
        test_start = dates[-n_test]
        is_test = (self.frame["t0"] >= test_start).to_numpy()
        is_train = (self.frame["t1"] < test_start).to_numpy()
        train, test = self.subset(is_train), self.subset(is_test)
        if not len(train):
            raise InvalidInputError("test_fraction", "no training events are left before the "
                                                     "test period; lower test_fraction")
        info = SplitInfo(
            train_start=_ts(train.frame["t0"].min()), train_end=_ts(train.frame["t1"].max()),
            test_start=_ts(test_start), test_end=_ts(test.frame["t1"].max()),
            n_train=len(train), n_test=len(test), n_purged=int((~is_test & ~is_train).sum()),
            test_fraction=float(test_fraction),
        )
        return train, test, info


def build_training_set(
    bars: pd.DataFrame,
    features: Sequence[str] | Literal["all"] = "all",
    labels: LabelSettings | None = None,
    settings: DatasetSettings | None = None,
    sectors: pd.DataFrame | Mapping[str, str] | None = None,
    *,
    threads: int | None = None,
) -> TrainingSet:
    """Features + triple-barrier labels + weights for every event of ``bars`` (columns symbol,
    ts or timestamp, open, high, low, close, volume; clean them with the quality gate first).

    ``sectors``: a frame with ``symbol`` and ``sector`` columns (e.g.
    ``BytetheorySource().sectors()``) or a symbol -> sector mapping; adds ``sector_code``, the
    sector's position in the sorted list of sector names (NaN when unknown).

    Memory: features are computed for all bars but only the event rows are kept. With
    ``settings.chunk_symbols`` the per-symbol features are computed that many symbols at a
    time (the cross-sectional and regime features, which read every symbol on a date, on the
    whole universe), so a large universe never holds every feature of every bar at once; the
    result is identical to the unchunked one. ``settings.feature_dtype`` float32 halves the
    memory of the kept features (the values are then rounded to float32).
    """
    from alphaloop.features import describe
    from alphaloop.features.library.engine import plan
    from alphaloop.models.labels.triple_barrier import daily_volatility_rows, label_positions

    labels = labels or LabelSettings()
    settings = settings or DatasetSettings()
    frame = _normalise_bars(bars)
    names = None if features == "all" else list(features)
    specs = plan(frame, names)
    feature_names = [s.name for s in specs]
    if not feature_names:
        raise InvalidInputError("features", "no feature could be computed from these bars")

    codes, position, length = _positions(frame)
    last = (np.arange(len(frame)) - position + length - 1).astype(np.int64)
    warmup = _warmup(settings, feature_names, describe())
    eligible = position >= warmup
    if labels.drop_truncated:
        eligible &= position + labels.vertical_bars <= length - 1

    ts_ns = frame["ts"].dt.tz_convert(None).to_numpy(dtype="datetime64[ns]").view(np.int64)
    close = frame["close"].to_numpy(dtype=np.float64)
    if not np.isfinite(close).all() or (close <= 0).any():
        raise InvalidInputError("bars", "close must be finite and positive (clean bars with "
                                        "the quality gate first)")
    vol = daily_volatility_rows(ts_ns, close, codes, labels.vol_span)
    if settings.events == "cusum":
        eligible &= _cusum(close, vol, codes, settings.cusum_threshold)
    path = _label_path(frame, close, labels)
    if labels.relative_to == "universe":
        vol = daily_volatility_rows(ts_ns, path, codes, labels.vol_span)
    candidates = np.flatnonzero(eligible & (vol > labels.min_ret)).astype(np.int64)
    found = label_positions(path, candidates, last[candidates], vol[candidates],
                            np.ones(candidates.shape[0]), labels.pt_sl, labels.vertical_bars)
    rows, touch = found["start"], found["touch"]
    if rows.shape[0] == 0:
        raise InvalidInputError("bars", "no labelled events: too few bars for the warm-up "
                                        "and the vertical barrier")
    weights = _weights(path, codes, rows, touch, settings.weights)

    # (t0, symbol) order: symbol codes follow the sorted symbol names (the frame is sorted)
    order = np.lexsort((codes[rows], ts_ns[rows]))
    rows, touch, weights = rows[order], touch[order], weights[order]
    values = _feature_matrix(frame, codes, specs, rows, settings, threads)
    ts = frame["ts"].array
    out = pd.DataFrame({
        "symbol": frame["symbol"].to_numpy()[rows], "t0": ts[rows], "t1": ts[touch],
        "label": found["label"][order], "ret": found["ret"][order],
        "barrier": np.asarray(BARRIER_NAMES, dtype=object)[found["barrier"][order]],
        "trgt": found["trgt"][order],
        "y": (found["label"][order] > 0).astype(np.int64), "weight": weights,
    })
    block = pd.DataFrame(values.T, columns=feature_names, copy=False)
    if sectors is not None and settings.sector_feature:
        block[SECTOR_FEATURE] = _sector_codes(out["symbol"], sectors).astype(values.dtype)
        feature_names.append(SECTOR_FEATURE)
    out = pd.concat([out, block], axis=1)
    return TrainingSet(out, feature_names)


#: Names of ``label_positions``' barrier codes (``alphaloop.models.labels.BARRIERS``).
BARRIER_NAMES = ("pt", "sl", "vertical")


def label_path(bars: pd.DataFrame, labels: LabelSettings | None = None
               ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """What the labels of :func:`build_training_set` are read from, to label its events again
    with another side (meta-labels): the bars as it reads them (sorted by symbol, then time),
    the price path of each row (the close, or with ``relative_to="universe"`` the close over the
    equal-weighted universe index) and the row of each row's symbol's last bar."""
    labels = labels or LabelSettings()
    frame = _normalise_bars(bars)
    _, position, length = _positions(frame)
    last = (np.arange(len(frame)) - position + length - 1).astype(np.int64)
    return frame, _label_path(frame, frame["close"].to_numpy(dtype=np.float64), labels), last


def _label_path(frame: pd.DataFrame, close: np.ndarray, labels: LabelSettings) -> np.ndarray:
    if labels.relative_to == "universe":
        return close / _universe_index(frame)
    return close


def _feature_matrix(frame: pd.DataFrame, codes: np.ndarray, specs, rows: np.ndarray,
                    settings: DatasetSettings, threads: int | None) -> np.ndarray:
    """The features of ``frame``'s rows ``rows`` (in that order) as one (features x rows)
    C-contiguous array of ``settings.feature_dtype`` (its transpose is the row-major view a
    DataFrame takes without copying), computed whole or per chunk of symbols."""
    from alphaloop.features import compute

    dtype = np.dtype(settings.feature_dtype)
    names = [s.name for s in specs]
    n_symbols = int(codes[-1]) + 1 if len(codes) else 0  # codes run 0, 1, ... in row order
    chunk = settings.chunk_symbols
    out = np.empty((len(names), rows.shape[0]), dtype=dtype)

    def fill(which: list[int], part: pd.DataFrame, at: np.ndarray, take: np.ndarray) -> None:
        # compute's frame wraps a (features x bars) array: gather row by row of it
        values = compute(part, [names[i] for i in which], threads=threads).to_numpy().T
        for k, i in enumerate(which):
            out[i, at] = values[k].take(take)

    if not chunk or n_symbols <= chunk:
        fill(list(range(len(names))), frame, slice(None), rows)
        return out
    panel = [i for i, s in enumerate(specs) if s.kind == "panel"]
    series = [i for i, s in enumerate(specs) if s.kind != "panel"]
    if panel:
        fill(panel, frame, slice(None), rows)
    if series:
        bounds = np.r_[np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]), len(frame)]
        by_row = np.argsort(rows, kind="stable")
        sorted_rows = rows[by_row]
        for a in range(0, n_symbols, chunk):
            lo, hi = bounds[a], bounds[min(a + chunk, n_symbols)]
            i, j = np.searchsorted(sorted_rows, [lo, hi])
            if i < j:
                fill(series, frame.iloc[lo:hi], by_row[i:j], sorted_rows[i:j] - lo)
    return out


# -- helpers ----------------------------------------------------------------------------------

def _normalise_bars(bars: pd.DataFrame) -> pd.DataFrame:
    if "ts" not in bars.columns and "timestamp" in bars.columns:
        bars = bars.rename(columns={"timestamp": "ts"})
    missing = [c for c in ("symbol", "ts", "close") if c not in bars.columns]
    if missing:
        raise InvalidInputError("bars", f"missing columns: {', '.join(missing)}")
    keep = [c for c in ("symbol", "ts", "open", "high", "low", "close", "volume", "vwap")
            if c in bars.columns]
    frame = bars[keep].copy()
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame["symbol"] = frame["symbol"].astype(str)
    frame = frame.sort_values(["symbol", "ts"], kind="mergesort", ignore_index=True)
    if frame.duplicated(["symbol", "ts"]).any():
        raise InvalidInputError("bars", "duplicate (symbol, ts) rows")
    return frame


def _positions(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's symbol code (codes follow the frame's symbol order), its bar number within
    its symbol, and its symbol's bar count; the frame is sorted by (symbol, ts)."""
    codes = frame["symbol"].factorize(sort=False)[0].astype(np.int64)
    boundary = np.r_[True, codes[1:] != codes[:-1]]
    first = np.flatnonzero(boundary)
    sizes = np.diff(np.r_[first, len(frame)])
    run = np.cumsum(boundary) - 1
    return codes, np.arange(len(frame)) - first[run], sizes[run]


def _warmup(settings: DatasetSettings, names: list[str], specs) -> int:
    if settings.warmup_bars != "auto":
        return int(settings.warmup_bars)
    by_name = {s.name: s.warmup for s in specs}
    return min(max((by_name.get(n, 0) for n in names), default=0), settings.max_warmup_bars)


def _universe_index(frame: pd.DataFrame) -> np.ndarray:
    """The equal-weighted universe index at each row's date: ``I[d] = I[d-1] * (1 + mean of
    the one-bar returns of the symbols trading on d and the bar before)``, ``I`` = 1 on the
    first date. Only used for labels, which look ahead by construction."""
    ret = frame.groupby("symbol", sort=False)["close"].pct_change()
    daily = ret.groupby(frame["ts"]).mean().sort_index().fillna(0.0)
    level = (1.0 + daily).cumprod()
    return frame["ts"].map(level).to_numpy(dtype=np.float64)


def _cusum(close: np.ndarray, vol: np.ndarray, codes: np.ndarray,
           threshold: float) -> np.ndarray:
    """Symmetric CUSUM filter on log returns (AFML snippet 2.4) with a causal threshold:
    ``threshold`` times the symbol's EWM volatility at that bar (rows sorted by symbol, time;
    the sums restart at each symbol's first bar)."""
    return _cusum_kernel(np.log(close), vol, codes, float(threshold))


@njit(cache=True, nogil=True)
def _cusum_kernel(log_close, vol, codes, threshold):
    out = np.zeros(log_close.shape[0], dtype=np.bool_)
    s_pos = s_neg = 0.0
    for i in range(log_close.shape[0]):
        if i == 0 or codes[i] != codes[i - 1]:
            s_pos = s_neg = 0.0
            continue
        h = threshold * vol[i]
        if not np.isfinite(h):
            continue
        r = log_close[i] - log_close[i - 1]
        s_pos = max(0.0, s_pos + r)
        s_neg = min(0.0, s_neg + r)
        if s_pos > h:
            s_pos = 0.0
            out[i] = True
        elif s_neg < -h:
            s_neg = 0.0
            out[i] = True
    return out


def _weights(path: np.ndarray, codes: np.ndarray, start: np.ndarray, end: np.ndarray,
             kind: str) -> np.ndarray:
    """Sample weights of labels spanning rows ``start .. end`` (inclusive) of one symbol each:
    average uniqueness (AFML 4.2) or return attribution (AFML 4.10, scaled per symbol to sum to
    its label count, as ``sample_weights_by_symbol``); then divided by their mean. Labels never
    cross symbols, so one concurrency count over all rows equals the per-symbol counts."""
    if kind == "none":
        return np.ones(start.shape[0])
    n = path.shape[0]
    delta = np.zeros(n + 1, dtype=np.int64)
    np.add.at(delta, start, 1)
    np.add.at(delta, end + 1, -1)
    counts = np.cumsum(delta[:-1])
    if kind == "uniqueness":
        inverse = np.divide(1.0, counts, out=np.zeros(n), where=counts > 0)
        total = np.r_[0.0, np.cumsum(inverse)]
        w = (total[end + 1] - total[start]) / (end - start + 1)
    else:
        log_ret = np.r_[0.0, np.diff(np.log(path))]
        log_ret[np.r_[True, codes[1:] != codes[:-1]]] = 0.0
        share = np.divide(log_ret, counts, out=np.zeros(n), where=counts > 0)
        total = np.r_[0.0, np.cumsum(share)]
        w = np.abs(total[end + 1] - total[start])
        label_codes = codes[start]
        sums = np.bincount(label_codes, weights=w)
        per = np.bincount(label_codes).astype(np.float64)
        scale = np.divide(per, sums, out=np.ones_like(sums), where=sums > 0)
        w = w * scale[label_codes]
    mean = w.mean()
    return w / mean if mean > 0 else np.ones(w.shape[0])


def _sector_codes(symbols: pd.Series, sectors: pd.DataFrame | Mapping[str, str]) -> np.ndarray:
    if isinstance(sectors, pd.DataFrame):
        mapping = dict(zip(sectors["symbol"].astype(str), sectors["sector"].astype(str)))
    else:
        mapping = {str(k): str(v) for k, v in sectors.items()}
    names = sorted({v for v in mapping.values() if v})
    code = {name: float(i) for i, name in enumerate(names)}
    return symbols.map(lambda s: code.get(mapping.get(s, ""), np.nan)).to_numpy(np.float64)


def _ts(value) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts
