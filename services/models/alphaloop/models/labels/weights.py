"""Sample weights for overlapping labels (AFML ch. 4): concurrency of labels per bar (snippet
4.1), each label's average uniqueness (4.2), the sequential bootstrap (4.3-4.5), weights by
attributed absolute return (4.10) and time decay (4.11).

A label spans the bars ``t0 .. t1`` of its close index, both ends included, as in AFML (so the
return attributed to a label includes the bar-``t0`` return, as snippet 4.10 and mlfinpy do).
Labels are given as ``t1``: a series indexed by label start with the label end as values, or
a triple-barrier frame (its ``t1`` column). Both times must be bars of the index.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numba import njit


def label_spans(index: pd.Index, t1: pd.Series | pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Bar positions (start, end) of each label in ``index``."""
    t1 = _end_times(t1)
    start = index.get_indexer(t1.index)
    end = index.get_indexer(pd.Index(t1.array))
    missing = (start < 0) | (end < 0)
    if missing.any():
        raise KeyError(f"label times not in the index: {list(t1.index[missing][:5])}")
    if (end < start).any():
        raise ValueError("a label ends before it starts")
    return start.astype(np.int64), end.astype(np.int64)


def concurrency(index: pd.Index, t1: pd.Series | pd.DataFrame) -> pd.Series:
    """Number of labels whose span covers each bar of ``index`` (AFML snippet 4.1)."""
    start, end = label_spans(index, t1)
    return pd.Series(_counts(start, end, len(index)), index=index, name="concurrency")


def average_uniqueness(index: pd.Index, t1: pd.Series | pd.DataFrame) -> pd.Series:
    """Mean of 1 / concurrency over each label's bars (AFML snippet 4.2), indexed by label start."""
    start, end = label_spans(index, t1)
    counts = _counts(start, end, len(index))
    inverse = np.divide(1.0, counts, out=np.zeros(len(index)), where=counts > 0)
    total = np.r_[0.0, np.cumsum(inverse)]
    uniqueness = (total[end + 1] - total[start]) / (end - start + 1)
    return pd.Series(uniqueness, index=_end_times(t1).index, name="uniqueness")


def return_attribution_weights(close: pd.Series, t1: pd.Series | pd.DataFrame) -> pd.Series:
    """|sum of log returns / concurrency over each label's bars|, scaled to sum to the number of
    labels (AFML snippet 4.10): labels that share their returns with many others weigh less."""
    start, end = label_spans(close.index, t1)
    counts = _counts(start, end, len(close))
    log_ret = np.r_[0.0, np.diff(np.log(close.to_numpy(dtype=np.float64)))]
    share = np.divide(log_ret, counts, out=np.zeros(len(close)), where=counts > 0)
    total = np.r_[0.0, np.cumsum(share)]
    weights = np.abs(total[end + 1] - total[start])
    if weights.sum() > 0:
        weights *= len(weights) / weights.sum()
    return pd.Series(weights, index=_end_times(t1).index, name="return_weight")


def time_decay(uniqueness: pd.Series, last_weight: float = 1.0) -> pd.Series:
    """Piecewise-linear decay over cumulative uniqueness (AFML snippet 4.11): the newest label
    weighs 1, the oldest ``last_weight``; a negative ``last_weight`` zeroes the oldest
    ``-last_weight`` share of the (uniqueness-weighted) history."""
    cumulative = uniqueness.sort_index().cumsum()
    span = cumulative.iloc[-1]
    if last_weight >= 0:
        slope = (1.0 - last_weight) / span
    else:
        slope = 1.0 / ((last_weight + 1.0) * span)
    decayed = (1.0 - slope * span) + slope * cumulative
    return decayed.clip(lower=0.0).rename("time_decay")


def bootstrap_draw_probabilities(index: pd.Index, t1: pd.Series | pd.DataFrame,
                                 drawn: list[int] | np.ndarray = ()) -> np.ndarray:
    """Probability of drawing each label next in a sequential bootstrap, given the positions
    already drawn: proportional to its average uniqueness against them (AFML 4.5.3)."""
    start, end = label_spans(index, t1)
    counts = np.zeros(len(index))
    for i in np.asarray(drawn, dtype=np.int64):
        counts[start[i]:end[i] + 1] += 1.0
    score = _uniqueness_if_added(start, end, counts)
    return score / score.sum()


def sequential_bootstrap(index: pd.Index, t1: pd.Series | pd.DataFrame,
                         n_draws: int | None = None, seed: int | None = None) -> np.ndarray:
    """Label positions drawn with replacement by the sequential bootstrap (AFML snippet 4.5):
    each draw favours labels that overlap the ones already drawn the least."""
    start, end = label_spans(index, t1)
    n_draws = len(start) if n_draws is None else int(n_draws)
    uniforms = np.random.default_rng(seed).random(n_draws)
    return _sequential_bootstrap(start, end, len(index), uniforms)


def sample_weights_by_symbol(bars: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Average uniqueness and return-attribution weight of every label of a (symbol, ts)-indexed
    label frame (e.g. from :func:`triple_barrier_by_symbol`), computed per symbol on its bars."""
    parts = []
    closes = {s: g.set_index("ts")["close"].sort_index() for s, g in bars.groupby("symbol")}
    for symbol, group in labels.groupby(level="symbol", sort=False):
        t1 = group["t1"].droplevel("symbol")
        close = closes[symbol]
        parts.append(pd.DataFrame({
            "uniqueness": average_uniqueness(close.index, t1).to_numpy(),
            "return_weight": return_attribution_weights(close, t1).to_numpy(),
        }, index=group.index))
    if not parts:
        return pd.DataFrame(columns=["uniqueness", "return_weight"], index=labels.index)
    return pd.concat(parts).reindex(labels.index)


def _end_times(t1: pd.Series | pd.DataFrame) -> pd.Series:
    if isinstance(t1, pd.DataFrame):
        t1 = t1["t1"]
    if t1.isna().any():
        raise ValueError("every label needs an end time (drop unlabelled events first)")
    return t1


def _counts(start: np.ndarray, end: np.ndarray, n_bars: int) -> np.ndarray:
    delta = np.zeros(n_bars + 1, dtype=np.int64)
    np.add.at(delta, start, 1)
    np.add.at(delta, end + 1, -1)
    return np.cumsum(delta[:-1])


@njit(cache=True, nogil=True)
def _uniqueness_if_added(start, end, counts):
    out = np.empty(start.shape[0])
    for i in range(start.shape[0]):
        total = 0.0
        for t in range(start[i], end[i] + 1):
            total += 1.0 / (counts[t] + 1.0)
        out[i] = total / (end[i] - start[i] + 1)
    return out


@njit(cache=True, nogil=True)
def _sequential_bootstrap(start, end, n_bars, uniforms):
    counts = np.zeros(n_bars)
    drawn = np.empty(uniforms.shape[0], dtype=np.int64)
    for d in range(uniforms.shape[0]):
        score = _uniqueness_if_added(start, end, counts)
        target = uniforms[d] * score.sum()
        pick = score.shape[0] - 1
        cumulative = 0.0
        for i in range(score.shape[0]):
            cumulative += score[i]
            if target < cumulative:
                pick = i
                break
        drawn[d] = pick
        for t in range(start[pick], end[pick] + 1):
            counts[t] += 1.0
    return drawn
