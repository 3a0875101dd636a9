"""Price dynamics: simple and log returns over several horizons and realised volatility from
close-to-close, Parkinson (1980) and Garman-Klass (1980) estimators. Volatilities are per bar
(not annualised), so they mean the same thing for any bar interval."""

from __future__ import annotations

import numpy as np

from alphaloop.features.library.registry import define
from alphaloop.features.library.rolling import NAN, kernel, log_return, rolling_std, shift_return

FAMILY = "price"
RETURN_HORIZONS = (1, 5, 10, 21, 63)
LOG_RETURN_HORIZONS = (1, 5, 21)
VOL_WINDOWS = (21, 63)

_LN2 = np.log(2.0)


@kernel
def parkinson_vol(high, low, n):
    """sqrt( sum_{last n} ln(H/L)^2 / (4 ln 2 * n) )."""
    m = high.shape[0]
    out = np.full(m, NAN)
    total = 0.0
    nans = 0
    sq = np.empty(m)
    for i in range(m):
        r = np.log(high[i] / low[i])
        sq[i] = r * r
        if sq[i] == sq[i]:
            total += sq[i]
        else:
            nans += 1
        if i >= n - 1:
            if nans == 0:
                out[i] = np.sqrt(max(total, 0.0) / (4.0 * _LN2 * n))
            old = sq[i - n + 1]
            if not np.isnan(old):
                total -= old
            else:
                nans -= 1
    return out


@kernel
def garman_klass_vol(open_, high, low, close, n):
    """sqrt( mean_{last n} [ 0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2 ] )."""
    m = close.shape[0]
    out = np.full(m, NAN)
    term = np.empty(m)
    c = 2.0 * _LN2 - 1.0
    total = 0.0
    nans = 0
    for i in range(m):
        hl = np.log(high[i] / low[i])
        co = np.log(close[i] / open_[i])
        term[i] = 0.5 * hl * hl - c * co * co
        if term[i] == term[i]:
            total += term[i]
        else:
            nans += 1
        if i >= n - 1:
            if nans == 0:
                out[i] = np.sqrt(max(total, 0.0) / n)
            old = term[i - n + 1]
            if not np.isnan(old):
                total -= old
            else:
                nans -= 1
    return out


def _log_returns_1(b):
    return b.memo("logret_1", lambda: log_return(b.close, 1))


for _n in RETURN_HORIZONS:
    define(f"ret_{_n}", lambda b, n=_n: shift_return(b.close, n), family=FAMILY,
           inputs=("close",), warmup=_n, talib=f"ROCP(close, {_n})",
           doc=f"Simple return over {_n} bar(s): C[t] / C[t-{_n}] - 1.")

for _n in LOG_RETURN_HORIZONS:
    define(f"logret_{_n}", lambda b, n=_n: log_return(b.close, n), family=FAMILY,
           inputs=("close",), warmup=_n,
           doc=f"Log return over {_n} bar(s): ln(C[t] / C[t-{_n}]).")

for _n in VOL_WINDOWS:
    define(f"rvol_{_n}", lambda b, n=_n: rolling_std(_log_returns_1(b), n, 1), family=FAMILY,
           inputs=("close",), warmup=_n,
           doc=f"Realised volatility per bar over {_n} bars: sample standard deviation "
               f"(ddof=1) of r[t] = ln(C[t] / C[t-1]) over the last {_n} returns.")

define("parkinson_vol_21", lambda b: parkinson_vol(b.high, b.low, 21), family=FAMILY,
       inputs=("high", "low"), warmup=20,
       doc="Parkinson (1980) range volatility per bar over 21 bars: "
           "sqrt( sum_{i=t-20..t} ln(H[i]/L[i])^2 / (4 ln 2 * 21) ).")

define("garman_klass_vol_21", lambda b: garman_klass_vol(b.open, b.high, b.low, b.close, 21),
       family=FAMILY, inputs=("open", "high", "low", "close"), warmup=20,
       doc="Garman-Klass (1980) volatility per bar over 21 bars: sqrt( (1/21) sum_{i=t-20..t} "
           "[ 0.5 ln(H[i]/L[i])^2 - (2 ln 2 - 1) ln(C[i]/O[i])^2 ] ).")
