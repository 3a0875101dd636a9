"""Quality of the signals behind a strategy: classification skill of its probabilities
(AUC, accuracy, conviction-accuracy correlation) and how fast its predictive power decays
(alpha half-life from the information coefficient at horizons 1..H).

Definitions:

* positive class = realised ``label > 0``; predicted positive = ``p > 0.5`` (what an
  argmax over ``[1 - p, p]`` predicts; a tie at 0.5 is a negative call);
* ``auc``: Mann-Whitney form, ``(sum of ranks of positives - n1 (n1 + 1) / 2) / (n1 n0)``,
  ties at average rank (equal to ``sklearn.metrics.roc_auc_score``); NaN with one class;
* ``accuracy``: share of calls that were right;
* ``conviction_accuracy_corr``: Pearson correlation between conviction ``|p - 0.5|`` and
  correctness (1 right, 0 wrong). Positive means the model is right more often when it is
  surer: the calibration property position sizing relies on. NaN if either is constant;
* ``information_coefficients``: IC(h), h = 1..H, is the mean over dates t of the cross-sectional
  Spearman correlation between the signal at t (known at t's close) and the one-bar return
  h bars later (``close_{t+h} / close_{t+h-1} - 1``: the marginal return of bar h, so IC(h)
  measures what the signal still knows about bar h, not the cumulative move). Dates with fewer
  than ``min_names`` paired names are skipped. A one-column signal is a single time series: its
  IC(h) is the Spearman correlation over time;
* ``alpha_half_life``: fit ``IC(h) = a exp(-lambda h)`` by least squares over h = 1..H;
  half-life = ``ln 2 / lambda`` bars. 0 when the signal has no positive predictive power to
  decay (IC(1) <= 0 or fitted a <= 0); inf when the IC does not fall with the horizon (its
  least-squares slope on h is >= 0: the SSE gradient at lambda = 0 is ``2 a n cov(h, IC)``,
  so lambda = 0 is then the constrained optimum exactly, not a number the optimiser nears).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import optimize, stats

from alphaloop.grading.metrics._inputs import ArrayLike, as_probabilities, binary_labels


def _calls(probabilities: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = binary_labels(labels)
    p = as_probabilities(probabilities, y.size)
    if y.size == 0:
        raise ValueError("no predictions to score")
    return p, y


def auc(probabilities: ArrayLike, labels: ArrayLike) -> float:
    p, y = _calls(probabilities, labels)
    n_pos = y.sum()
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = stats.rankdata(p)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def accuracy(probabilities: ArrayLike, labels: ArrayLike) -> float:
    p, y = _calls(probabilities, labels)
    return float(np.mean((p > 0.5) == (y == 1)))


def conviction_accuracy_correlation(probabilities: ArrayLike, labels: ArrayLike) -> float:
    p, y = _calls(probabilities, labels)
    conviction = np.abs(p - 0.5)
    correct = ((p > 0.5) == (y == 1)).astype(float)
    if conviction.max() == conviction.min() or correct.max() == correct.min():
        return float("nan")
    return float(np.corrcoef(conviction, correct)[0, 1])


def _row_spearman(x: pd.DataFrame, y: pd.DataFrame, min_names: int) -> pd.Series:
    """Spearman correlation across columns, per row, on the cells present in both frames."""
    both = x.notna() & y.notna()
    xr = x.where(both).rank(axis=1)
    yr = y.where(both).rank(axis=1)
    xr = xr.sub(xr.mean(axis=1), axis=0)
    yr = yr.sub(yr.mean(axis=1), axis=0)
    num = (xr * yr).sum(axis=1)
    den = np.sqrt((xr**2).sum(axis=1) * (yr**2).sum(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        ic = num / den
    return ic.where((both.sum(axis=1) >= min_names) & (den > 0))


def information_coefficients(signal: pd.DataFrame | pd.Series,
                             asset_returns: pd.DataFrame | pd.Series,
                             horizons: Iterable[int] = range(1, 11),
                             min_names: int = 5) -> pd.Series:
    """IC(h) for each horizon (index: h). Both frames are dates x symbols, aligned by label;
    ``asset_returns`` row t holds the return of bar t."""
    sig = signal.to_frame() if isinstance(signal, pd.Series) else signal
    ret = asset_returns.to_frame() if isinstance(asset_returns, pd.Series) else asset_returns
    ret = ret.reindex(index=sig.index, columns=sig.columns)
    out = {}
    for h in horizons:
        forward = ret.shift(-h)
        if sig.shape[1] == 1:
            pair = pd.concat([sig.iloc[:, 0], forward.iloc[:, 0]], axis=1).dropna()
            out[h] = (float(stats.spearmanr(pair.iloc[:, 0], pair.iloc[:, 1]).statistic)
                      if len(pair) >= 3 else float("nan"))
        else:
            out[h] = float(_row_spearman(sig, forward, min_names).mean())
    return pd.Series(out, name="ic", dtype=float).rename_axis("horizon")


def _exponential(h: np.ndarray, a: float, decay: float) -> np.ndarray:
    return a * np.exp(-decay * h)


def alpha_half_life(ic: pd.Series) -> float:
    """Half-life in bars of the fitted exponential decay of ``ic`` (index: horizon in bars)."""
    ic = ic.dropna()
    if len(ic) < 2:
        return float("nan")
    h = ic.index.to_numpy(dtype=float)
    values = ic.to_numpy(dtype=float)
    if values[np.argmin(h)] <= 0.0:
        return 0.0
    if np.cov(h, values)[0, 1] >= 0.0:
        return math.inf
    start = (values[np.argmin(h)] * math.exp(0.1 * h.min()), 0.1)
    try:
        (a, decay), _ = optimize.curve_fit(_exponential, h, values, p0=start,
                                           bounds=([-np.inf, 0.0], [np.inf, np.inf]))
    except RuntimeError:  # no convergence: an IC curve too ragged to have a half-life
        return float("nan")
    if a <= 0.0:
        return 0.0
    return math.inf if decay <= 1e-12 else math.log(2.0) / decay
