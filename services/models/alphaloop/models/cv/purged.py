"""Purged k-fold cross-validation with an embargo (AFML 7.4), for labels that span time.

Each sample is a label interval ``[start, t1]`` (closed, as in AFML: a training label that ends
exactly when a test label starts shares that bar's information and is purged). For a test set:

- purge: drop every training sample whose interval overlaps ANY test interval, checked against
  all test intervals (merged), not against the test block's first start and last end only;
- embargo: after each contiguous block of test samples, let ``T`` be the latest end of its
  labels; drop training samples that start after ``T`` up to and including the start time of the
  ``h``-th sample after ``T``, where ``h = int(n_samples * embargo_pct)`` (AFML 7.4.2). Samples
  sharing that start time (other symbols of a pooled panel) are embargoed with it.

Samples must be in time order (non-decreasing starts); test folds are contiguous in time.
Times may be datetimes (tz-aware or not), timedeltas or numbers, the same kind for both ends.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd


def label_intervals(t1: pd.Series | pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of each sample as comparable numbers; ``t1`` maps start (index) -> end
    (values), or is a frame with a ``t1`` column (e.g. triple-barrier labels)."""
    if isinstance(t1, pd.DataFrame):
        t1 = t1["t1"]
    if not isinstance(t1, pd.Series):
        raise TypeError("t1 must be a Series indexed by label start with the label end as values")
    if isinstance(t1.index, pd.MultiIndex):
        raise TypeError("t1 must be indexed by label start only; for a (symbol, ts) panel use "
                        "labels.reset_index('symbol').sort_index(kind='stable')")
    start_index, end_index = t1.index, pd.Index(t1.array)
    if _time_kind(start_index) != _time_kind(end_index):
        raise TypeError(f"label starts ({start_index.dtype}) and ends ({end_index.dtype}) must be "
                        "the same kind of time (both tz-aware, both naive, or both numbers)")
    starts = _as_numbers(start_index, "label starts")
    ends = _as_numbers(end_index, "label ends (t1)")
    if (np.diff(starts) < 0).any():
        raise ValueError("samples must be sorted by label start (sort X and t1 by time)")
    if (ends < starts).any():
        raise ValueError("a label ends before it starts")
    return starts, ends


def purged_train_indices(test: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                         n_embargo: int = 0) -> np.ndarray:
    """Training positions for the test positions ``test``: every other sample, minus those whose
    interval overlaps a test interval (purge) or that start in an embargo window."""
    n = starts.shape[0]
    is_test = np.zeros(n, dtype=bool)
    is_test[test] = True
    if not is_test.any():
        return np.flatnonzero(~is_test)
    overlaps = overlaps_any(starts, ends, starts[is_test], ends[is_test])
    embargoed = embargo_mask(is_test, starts, ends, n_embargo)
    return np.flatnonzero(~is_test & ~overlaps & ~embargoed)


def overlaps_any(starts: np.ndarray, ends: np.ndarray, test_starts: np.ndarray,
                 test_ends: np.ndarray) -> np.ndarray:
    """Mask of intervals ``[starts, ends]`` that intersect any closed test interval."""
    merged_starts, merged_ends = _merge_closed(test_starts, test_ends)
    # The only merged interval that can reach back to a sample is the last one starting no
    # later than the sample's end (merged intervals are disjoint and sorted).
    candidate = np.searchsorted(merged_starts, ends, side="right") - 1
    hit = np.zeros(starts.shape[0], dtype=bool)
    valid = candidate >= 0
    hit[valid] = merged_ends[candidate[valid]] >= starts[valid]
    return hit


def embargo_mask(is_test: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                 n_embargo: int) -> np.ndarray:
    """Mask of samples inside the embargo window after each contiguous block of test samples."""
    n = starts.shape[0]
    out = np.zeros(n, dtype=bool)
    if n_embargo <= 0:
        return out
    for block in contiguous_blocks(np.flatnonzero(is_test)):
        latest_end = ends[block].max()
        first_after = np.searchsorted(starts, latest_end, side="right")
        if first_after >= n:
            continue
        embargo_until = starts[min(first_after + n_embargo - 1, n - 1)]
        last_in = np.searchsorted(starts, embargo_until, side="right")
        out[first_after:last_in] = True
    return out


def contiguous_blocks(positions: np.ndarray) -> list[np.ndarray]:
    """Split sorted positions into runs of consecutive integers."""
    if positions.shape[0] == 0:
        return []
    breaks = np.flatnonzero(np.diff(positions) > 1) + 1
    return np.split(positions, breaks)


def n_embargo_samples(n_samples: int, embargo_pct: float) -> int:
    """AFML's embargo size: ``int(n_samples * embargo_pct)`` samples."""
    return int(n_samples * embargo_pct)


class PurgedKFold:
    """K-fold over time-ordered samples whose labels span ``[start, t1]``: contiguous test folds,
    training purged of overlapping labels and embargoed after each test fold (AFML 7.4).

    ``split(X, t1)`` yields (train, test) position arrays. ``t1`` may instead be bound at
    construction, which makes the splitter usable by scikit-learn's ``cross_val_score`` (then the
    second argument of ``split`` is scikit-learn's ``y`` and is ignored).
    """

    def __init__(self, n_splits: int = 5, embargo_pct: float = 0.0, *,
                 t1: pd.Series | pd.DataFrame | None = None) -> None:
        if int(n_splits) < 2:
            raise ValueError(f"n_splits must be >= 2, got {n_splits}")
        _check_embargo_pct(embargo_pct)
        self.n_splits = int(n_splits)
        self.embargo_pct = float(embargo_pct)
        self.t1 = t1

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return self.n_splits

    def split(self, X, t1=None, groups=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        starts, ends = label_intervals(resolve_t1(self.t1, t1))
        n = _check_lengths(X, starts)
        if self.n_splits > n:
            raise ValueError(f"n_splits={self.n_splits} exceeds n_samples={n}")
        h = n_embargo_samples(n, self.embargo_pct)
        for test in np.array_split(np.arange(n), self.n_splits):
            yield purged_train_indices(test, starts, ends, h), test


def resolve_t1(bound, passed):
    """The label ends to use: those bound at construction win (the passed value is then
    scikit-learn's ``y``); otherwise the ones passed to ``split``."""
    t1 = bound if bound is not None else passed
    if t1 is None:
        raise ValueError("label end times are required: split(X, t1) or the t1= constructor arg")
    return t1


def _check_lengths(X, starts: np.ndarray) -> int:
    n = starts.shape[0]
    if X is not None and len(X) != n:
        raise ValueError(f"X has {len(X)} rows but t1 has {n} labels")
    return n


def _check_embargo_pct(embargo_pct: float) -> None:
    if not 0.0 <= float(embargo_pct) < 1.0:
        raise ValueError(f"embargo_pct must be in [0, 1), got {embargo_pct}")


def _time_kind(values: pd.Index) -> str:
    if isinstance(values, pd.DatetimeIndex):
        return "datetime-tz" if values.tz is not None else "datetime-naive"
    if isinstance(values, pd.TimedeltaIndex):
        return "timedelta"
    return "number"


def _as_numbers(values: pd.Index, what: str) -> np.ndarray:
    if isinstance(values, (pd.DatetimeIndex, pd.TimedeltaIndex)):
        if values.hasnans:
            raise ValueError(f"{what} contain NaT")
        return values.asi8
    if values.dtype == object:
        raise TypeError(f"{what} must be datetimes, timedeltas or numbers, not {values.dtype}")
    numbers = values.to_numpy(dtype=np.float64)
    if np.isnan(numbers).any():
        raise ValueError(f"{what} contain NaN")
    return numbers


def _merge_closed(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union of closed intervals as disjoint sorted intervals."""
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    running_end = np.maximum.accumulate(ends)
    # A new merged interval begins where a start lies beyond every earlier end.
    new = np.r_[True, starts[1:] > running_end[:-1]]
    first = np.flatnonzero(new)
    last = np.r_[first[1:] - 1, starts.shape[0] - 1]
    return starts[first], running_end[last]
