"""Fractional differentiation with a fixed-width window (FFD, AFML ch. 5.5): the series keeps
memory while becoming stationary. The order d is chosen on training data only
(:class:`FracDiffSelector`, the smallest d on a grid whose FFD series passes an ADF test), then
passed to the point-in-time feature as a parameter:
``compute(bars, params={"ffd_log_close": {"d": selector.d_}})``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from alphaloop.common.errors import InvalidInputError
from alphaloop.features.library.registry import define
from alphaloop.features.library.rolling import NAN, kernel, nan_head

FAMILY = "fracdiff"
DEFAULT_D = 0.4
DEFAULT_THRESHOLD = 1e-4
SHORT_THRESHOLD = 1e-3
_MAX_WIDTH = 100_000

logger = logging.getLogger("alphaloop.features")


def ffd_weights(d: float, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """FFD weights, newest first (AFML snippet 5.3): w[0] = 1, w[k] = -w[k-1] (d - k + 1) / k,
    stopping before the first |w[k]| < threshold. Read-only (cached)."""
    if not 0.0 <= d <= 2.0:
        raise InvalidInputError("d", f"expected 0 <= d <= 2, got {d}")
    if not threshold > 0.0:
        raise InvalidInputError("threshold", f"expected a positive threshold, got {threshold}")
    return _ffd_weights(float(d), float(threshold))


@lru_cache(maxsize=256)
def _ffd_weights(d: float, threshold: float) -> np.ndarray:
    w = [1.0]
    k = 1
    while k < _MAX_WIDTH:
        nxt = -w[-1] * (d - k + 1) / k
        if abs(nxt) < threshold:
            break
        w.append(nxt)
        k += 1
    out = np.array(w)
    out.flags.writeable = False
    return out


@kernel
def ffd(x, weights):
    """out[t] = sum_k w[k] x[t-k] for t >= len(w) - 1 (NaN before, and where x has a NaN).
    Loops run weight-outer, bar-inner: each out[t] still sums its terms in k order (so the
    value is the plain dot product's), and the inner loop vectorises."""
    m = x.shape[0]
    width = weights.shape[0]
    out = nan_head(m, width - 1)
    if m < width:
        return out
    acc = out[width - 1:]
    for i in range(acc.shape[0]):
        acc[i] = 0.0
    for k in range(width):
        w = weights[k]
        src = x[width - 1 - k: m - k]
        for i in range(acc.shape[0]):
            acc[i] += w * src[i]
    return out


@kernel
def _log(x):
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = np.log(x[i]) if x[i] > 0.0 else NAN
    return out


def ffd_series(close: np.ndarray, d: float, threshold: float = DEFAULT_THRESHOLD,
               log: bool = True) -> np.ndarray:
    """FFD of ln(close) (or of close when ``log`` is False) with weights ``ffd_weights``."""
    x = np.ascontiguousarray(close, dtype=np.float64)
    return ffd(_log(x) if log else x, ffd_weights(d, threshold))


@dataclass
class FracDiffSelector:
    """Choose the smallest d on ``grid`` whose FFD of the training series is stationary by an
    ADF test (constant, ``max_lag`` lags, AFML ch. 5.6) at ``significance``. Orders whose FFD
    window leaves fewer than ``min_obs`` values are skipped (reported in ``results_``).
    Fit on training data only; the chosen ``d_`` then parametrises the point-in-time feature."""

    threshold: float = DEFAULT_THRESHOLD
    grid: Sequence[float] = tuple(round(0.05 * i, 2) for i in range(21))
    significance: float = 0.05
    max_lag: int = 1
    log: bool = True
    min_obs: int = 30
    d_: float | None = field(default=None, init=False)
    results_: pd.DataFrame | None = field(default=None, init=False, repr=False)

    def fit(self, close_train: pd.Series | np.ndarray | Sequence[float]) -> float:
        x = np.asarray(close_train, dtype=np.float64)
        if x.ndim != 1 or x.shape[0] < self.min_obs:
            raise InvalidInputError("close_train", f"need a 1-d series of at least "
                                                   f"{self.min_obs} prices")
        rows, chosen = [], None
        for d in sorted(self.grid):
            series = ffd_series(x, d, self.threshold, self.log)
            series = series[np.isfinite(series)]
            row = {"d": d, "width": len(ffd_weights(d, self.threshold)), "n_obs": len(series),
                   "adf_stat": np.nan, "p_value": np.nan, "stationary": False}
            if len(series) >= self.min_obs and np.ptp(series) > 0:
                stat, p_value = adf_test(series, self.max_lag)
                row.update(adf_stat=stat, p_value=p_value, stationary=p_value < self.significance)
                if row["stationary"] and chosen is None:
                    chosen = d
            rows.append(row)
        self.results_ = pd.DataFrame(rows)
        if chosen is None:
            chosen = float(max(self.grid))
            logger.warning("no d on the grid made the training series stationary; using d=%s",
                           chosen)
        self.d_ = float(chosen)
        return self.d_

    def params(self) -> dict[str, float]:
        """Parameters for ``compute(..., params={"ffd_log_close": selector.params()})``."""
        if self.d_ is None:
            raise InvalidInputError("d", "FracDiffSelector.fit has not been called")
        return {"d": self.d_, "threshold": self.threshold}


def adf_test(series: np.ndarray, max_lag: int) -> tuple[float, float]:
    """Augmented Dickey-Fuller with a constant and ``max_lag`` lags: (statistic, p-value)."""
    from statsmodels.tsa.stattools import adfuller  # heavy import, only when fitting

    try:
        result = adfuller(series, maxlag=max_lag, regression="c", autolag=None,
                          result_object=False)
    except TypeError:  # statsmodels before result_object existed
        result = adfuller(series, maxlag=max_lag, regression="c", autolag=None)
    return float(result[0]), float(result[1])


def _ffd_feature(b, d, threshold):
    return ffd(b.memo("log_close", lambda: _log(b.close)), ffd_weights(d, threshold))


define("ffd_log_close", _ffd_feature, family=FAMILY, inputs=("close",),
       warmup=len(ffd_weights(DEFAULT_D, DEFAULT_THRESHOLD)) - 1,
       params={"d": DEFAULT_D, "threshold": DEFAULT_THRESHOLD},
       doc="Fixed-width fractional difference of ln C (AFML 5.5): sum_{k<K} w[k] ln C[t-k], "
           "w[0] = 1, w[k] = -w[k-1] (d - k + 1) / k, K the first k with |w[k]| < threshold "
           f"(defaults d={DEFAULT_D}, threshold={DEFAULT_THRESHOLD:g}: K = "
           f"{len(ffd_weights(DEFAULT_D, DEFAULT_THRESHOLD))}). Choose d with "
           "FracDiffSelector on training data and pass it as params.")
define("ffd_log_close_short", lambda b, d, threshold: _ffd_feature(b, d, threshold),
       family=FAMILY, inputs=("close",),
       warmup=len(ffd_weights(DEFAULT_D, SHORT_THRESHOLD)) - 1,
       params={"d": DEFAULT_D, "threshold": SHORT_THRESHOLD},
       doc="ffd_log_close with a coarser weight threshold (default 1e-3: K = "
           f"{len(ffd_weights(DEFAULT_D, SHORT_THRESHOLD))} bars), usable on about a year of "
           "daily bars.")
