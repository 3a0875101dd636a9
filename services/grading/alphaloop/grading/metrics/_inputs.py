"""Input checks shared by the metric modules: one place decides what a return series is."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: Bars per year used to annualise daily figures everywhere in grading.
TRADING_DAYS = 252

ArrayLike = pd.Series | np.ndarray | Sequence[float]


def as_returns(returns: ArrayLike, name: str = "returns", min_length: int = 1) -> pd.Series:
    """``returns`` as a float Series (its index kept; a RangeIndex for arrays).

    Simple (not log) per-bar returns. NaN or infinite values raise: a gap in an out-of-sample
    track record is a bug upstream, and silently treating it as a flat day would flatter the
    volatility.
    """
    if isinstance(returns, pd.DataFrame):
        raise TypeError(f"{name} must be one series, got a DataFrame")
    series = returns.astype(float) if isinstance(returns, pd.Series) else pd.Series(
        np.asarray(returns, dtype=float).ravel())
    if len(series) < min_length:
        raise ValueError(f"{name} needs at least {min_length} observations, got {len(series)}")
    if not np.isfinite(series.to_numpy()).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return series


def align(left: pd.Series, right: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Pair two series by index when both carry labels; by position when either came from an
    array (then the lengths must match). Only rows present and finite in both are kept."""
    if isinstance(left.index, pd.RangeIndex) or isinstance(right.index, pd.RangeIndex):
        if len(left) != len(right):
            raise ValueError(
                f"unlabelled series must have equal lengths ({len(left)} != {len(right)})")
        left, right = left.reset_index(drop=True), right.reset_index(drop=True)
    frame = pd.concat([left.rename("a"), right.rename("b")], axis=1, join="inner")
    frame = frame[np.isfinite(frame.to_numpy(dtype=float)).all(axis=1)]
    return frame["a"], frame["b"]


def binary_labels(labels: ArrayLike) -> np.ndarray:
    """Realised labels as 0/1: the positive class is ``label > 0``, so {0, 1} labels and the
    {-1, 0, +1} labels of a triple barrier (AFML ch. 3) both work (0 and -1 are negatives)."""
    arr = np.asarray(labels, dtype=float).ravel()
    if not np.isfinite(arr).all():
        raise ValueError("labels contain NaN or infinite values")
    return (arr > 0).astype(float)


def as_probabilities(probabilities: ArrayLike, n: int | None = None) -> np.ndarray:
    arr = np.asarray(probabilities, dtype=float).ravel()
    if not np.isfinite(arr).all() or (arr < 0).any() or (arr > 1).any():
        raise ValueError("probabilities must be finite and within [0, 1]")
    if n is not None and arr.size != n:
        raise ValueError(f"probabilities and labels differ in length ({arr.size} != {n})")
    return arr
