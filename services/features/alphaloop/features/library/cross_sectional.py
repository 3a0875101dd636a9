"""Cross-sectional features: on each date, a symbol's percentile rank and z-score among every
symbol that has a value on that date. A date's values read only that date's rows, so they are
point in time whenever the underlying per-symbol features are."""

from __future__ import annotations

import numpy as np

from alphaloop.features.library.registry import define
from alphaloop.features.library.rolling import NAN, kernel

FAMILY = "cross_sectional"

#: (underlying series feature, its inputs, its warm-up)
UNDERLYING = (
    ("ret_5", ("close",), 5),
    ("ret_21", ("close",), 21),
    ("rvol_21", ("close",), 21),
    ("vol_ratio_20", ("volume",), 19),
    ("dist_sma_50", ("close",), 49),
)


def cs_rank(values: np.ndarray, order: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Percentile rank on each date: (average rank among the date's finite values - 1) /
    (count - 1), in [0, 1], ties sharing their mean rank; NaN with fewer than 2 values.
    ``order`` lists rows date by date, ``offsets`` delimits each date's block."""
    out = np.full(values.shape[0], np.nan)  # NumPy's allocator: a whole panel is long
    _cs_rank(values, order, offsets, out)
    return out


def cs_zscore(values: np.ndarray, order: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(x - mean) / sd on each date over the date's finite values, sd with ddof = 1; NaN with
    fewer than 2 values or sd = 0."""
    out = np.full(values.shape[0], np.nan)
    _cs_zscore(values, order, offsets, out)
    return out


@kernel
def _cs_rank(values, order, offsets, out):
    widest = 0
    for g in range(offsets.shape[0] - 1):
        widest = max(widest, offsets[g + 1] - offsets[g])
    buf = np.empty(widest)
    rows = np.empty(widest, np.int64)
    for g in range(offsets.shape[0] - 1):
        cnt = 0
        for j in range(offsets[g], offsets[g + 1]):
            r = order[j]
            v = values[r]
            if not np.isnan(v):
                buf[cnt] = v
                rows[cnt] = r
                cnt += 1
        if cnt < 2:
            continue
        idx = np.argsort(buf[:cnt])
        i = 0
        while i < cnt:
            j = i
            while j + 1 < cnt and buf[idx[j + 1]] == buf[idx[i]]:
                j += 1
            pct = ((i + j) / 2.0) / (cnt - 1)  # mean 0-based rank of the tie block
            for k in range(i, j + 1):
                out[rows[idx[k]]] = pct
            i = j + 1
    return out


@kernel
def _cs_zscore(values, order, offsets, out):
    for g in range(offsets.shape[0] - 1):
        cnt = 0
        s = 0.0
        for j in range(offsets[g], offsets[g + 1]):
            v = values[order[j]]
            if not np.isnan(v):
                s += v
                cnt += 1
        if cnt < 2:
            continue
        mean = s / cnt
        ss = 0.0
        for j in range(offsets[g], offsets[g + 1]):
            v = values[order[j]]
            if not np.isnan(v):
                ss += (v - mean) * (v - mean)
        sd = np.sqrt(ss / (cnt - 1))
        if sd > 0.0:
            for j in range(offsets[g], offsets[g + 1]):
                r = order[j]
                v = values[r]
                if not np.isnan(v):
                    out[r] = (v - mean) / sd
    return out


@kernel
def date_mean(values, order, offsets):
    """Mean of each date's finite values (NaN when it has none): one value per date."""
    n_dates = offsets.shape[0] - 1
    out = np.full(n_dates, NAN)
    for g in range(n_dates):
        cnt = 0
        s = 0.0
        for j in range(offsets[g], offsets[g + 1]):
            v = values[order[j]]
            if not np.isnan(v):
                s += v
                cnt += 1
        if cnt > 0:
            out[g] = s / cnt
    return out


@kernel
def date_abs_deviation(values, centre, order, offsets, min_count):
    """Mean over each date's finite values of |x - centre[date]| (NaN below ``min_count``)."""
    n_dates = offsets.shape[0] - 1
    out = np.full(n_dates, NAN)
    for g in range(n_dates):
        cnt = 0
        s = 0.0
        c = centre[g]
        for j in range(offsets[g], offsets[g + 1]):
            v = values[order[j]]
            if not np.isnan(v):
                s += abs(v - c)
                cnt += 1
        if cnt >= min_count:
            out[g] = s / cnt
    return out


def _make(base: str, transform):
    return lambda p: transform(p.series(base), *p.by_date)


for _base, _inputs, _warmup in UNDERLYING:
    define(f"cs_rank_{_base}", _make(_base, cs_rank), family=FAMILY, inputs=_inputs,
           warmup=_warmup, kind="panel", depends=(_base,),
           doc=f"Cross-sectional percentile rank of {_base} on each date: (mean rank - 1) / "
               "(N - 1) in [0, 1] over the N symbols with a value that date (ties share "
               "their mean rank).")
    define(f"cs_z_{_base}", _make(_base, cs_zscore), family=FAMILY, inputs=_inputs,
           warmup=_warmup, kind="panel", depends=(_base,),
           doc=f"Cross-sectional z-score of {_base} on each date: (x - mean) / sd over the "
               "symbols with a value that date (sd with ddof = 1).")
