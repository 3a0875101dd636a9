"""Microstructure estimates from daily bars (AFML ch. 19): Amihud (2002) illiquidity, Roll
(1984) effective spread, Corwin-Schultz (2012) high-low spread and Kyle's (1985) lambda as a
rolling regression of returns on signed dollar volume (tick rule for the sign)."""

from __future__ import annotations

import numpy as np

from alphaloop.features.library.registry import define
from alphaloop.features.library.rolling import NAN, kernel, rolling_mean

FAMILY = "microstructure"
WINDOW = 21
_CS_DEN = 3.0 - 2.0 * np.sqrt(2.0)


@kernel
def rolling_cov_var(x, y, n):
    """Sample covariance of (x, y) and sample variance of x over the last n bars, from running
    sums; NaN while a NaN is in the window. Returns (cov, var_x)."""
    m = x.shape[0]
    cov = np.full(m, NAN)
    var = np.full(m, NAN)
    sx = 0.0
    sy = 0.0
    sxy = 0.0
    sxx = 0.0
    nans = 0
    for i in range(m):
        a = x[i]
        b = y[i]
        if not np.isnan(a) and not np.isnan(b):
            sx += a
            sy += b
            sxy += a * b
            sxx += a * a
        else:
            nans += 1
        if i >= n - 1:
            if nans == 0:
                cov[i] = (sxy - sx * sy / n) / (n - 1)
                var[i] = (sxx - sx * sx / n) / (n - 1)
            a = x[i - n + 1]
            b = y[i - n + 1]
            if not np.isnan(a) and not np.isnan(b):
                sx -= a
                sy -= b
                sxy -= a * b
                sxx -= a * a
            else:
                nans -= 1
    return cov, var


@kernel
def amihud(close, volume, n):
    """1e6 * mean over n bars of |C[t] / C[t-1] - 1| / (C[t] V[t]) (NaN where C V <= 0)."""
    m = close.shape[0]
    term = np.full(m, NAN)
    for i in range(1, m):
        dv = close[i] * volume[i]
        if dv > 0.0:
            term[i] = abs(close[i] / close[i - 1] - 1.0) / dv * 1e6
    return rolling_mean(term, n)


@kernel
def roll_spread(close, n):
    """2 sqrt(-cov(r[t], r[t-1])) over n pairs of log returns, 0 when the autocovariance is
    not negative."""
    m = close.shape[0]
    r = np.full(m, NAN)
    lag = np.full(m, NAN)
    for i in range(1, m):
        r[i] = np.log(close[i] / close[i - 1])
    for i in range(2, m):
        lag[i] = r[i - 1]
    cov, _ = rolling_cov_var(r, lag, n)
    out = np.full(m, NAN)
    for i in range(m):
        c = cov[i]
        if not np.isnan(c):
            out[i] = 2.0 * np.sqrt(-c) if c < 0.0 else 0.0
    return out


@kernel
def corwin_schultz(high, low, n):
    """Mean over n bars of the two-bar Corwin-Schultz spread S = 2 (e^a - 1) / (1 + e^a),
    floored at 0, with b = ln(H[t]/L[t])^2 + ln(H[t-1]/L[t-1])^2,
    g = ln(max(H[t], H[t-1]) / min(L[t], L[t-1]))^2,
    a = (sqrt(2b) - sqrt(b)) / (3 - 2 sqrt 2) - sqrt(g / (3 - 2 sqrt 2))."""
    m = high.shape[0]
    s = np.full(m, NAN)
    for i in range(1, m):
        h0 = np.log(high[i] / low[i])
        h1 = np.log(high[i - 1] / low[i - 1])
        beta = h0 * h0 + h1 * h1
        g = np.log(max(high[i], high[i - 1]) / min(low[i], low[i - 1]))
        gamma = g * g
        alpha = (np.sqrt(2.0 * beta) - np.sqrt(beta)) / _CS_DEN - np.sqrt(gamma / _CS_DEN)
        e = np.exp(alpha)
        v = 2.0 * (e - 1.0) / (1.0 + e)
        s[i] = v if v > 0.0 or np.isnan(v) else 0.0
    return rolling_mean(s, n)


@kernel
def kyle_lambda(close, volume, n):
    """Slope of r[t] = ln(C[t]/C[t-1]) on signed dollar volume x[t] = b[t] C[t] V[t] / 1e6 over
    n bars (cov(x, r) / var(x)); b[t] the tick rule: sign of r[t], the previous sign when
    r[t] == 0. Return per $1M of signed volume; NaN when var(x) is 0."""
    m = close.shape[0]
    r = np.full(m, NAN)
    x = np.full(m, NAN)
    sign = 0.0
    for i in range(1, m):
        ri = np.log(close[i] / close[i - 1])
        if ri > 0.0:
            sign = 1.0
        elif ri < 0.0:
            sign = -1.0
        r[i] = ri
        x[i] = sign * close[i] * volume[i] / 1e6
    cov, var = rolling_cov_var(x, r, n)
    out = np.full(m, NAN)
    for i in range(m):
        if var[i] > 0.0:
            out[i] = cov[i] / var[i]
    return out


define("amihud_21", lambda b: amihud(b.close, b.volume, WINDOW), family=FAMILY,
       inputs=("close", "volume"), warmup=WINDOW,
       doc="Amihud illiquidity: 1e6 * mean_{21 bars} |r[t]| / (C[t] V[t]), r the simple "
           "return (absolute return per $1M traded).")
define("roll_spread_21", lambda b: roll_spread(b.close, WINDOW), family=FAMILY,
       inputs=("close",), warmup=WINDOW + 1,
       doc="Roll effective spread: 2 sqrt(max(0, -cov(r[t], r[t-1]))) over 21 pairs of log "
           "returns (sample covariance).")
define("corwin_schultz_21", lambda b: corwin_schultz(b.high, b.low, WINDOW), family=FAMILY,
       inputs=("high", "low"), warmup=WINDOW,
       doc="Corwin-Schultz spread, 21-bar mean of S = 2 (e^a - 1) / (1 + e^a) floored at 0; "
           "a = (sqrt(2 b) - sqrt(b)) / (3 - 2 sqrt 2) - sqrt(g / (3 - 2 sqrt 2)), "
           "b = ln(H[t]/L[t])^2 + ln(H[t-1]/L[t-1])^2, "
           "g = ln(max(H[t], H[t-1]) / min(L[t], L[t-1]))^2.")
define("kyle_lambda_21", lambda b: kyle_lambda(b.close, b.volume, WINDOW), family=FAMILY,
       inputs=("close", "volume"), warmup=WINDOW,
       doc="Kyle's lambda: OLS slope of r[t] = ln(C[t]/C[t-1]) on signed dollar volume "
           "b[t] C[t] V[t] / 1e6 over 21 bars, b the tick-rule sign (sign of r, carried "
           "forward on zero moves): cov(x, r) / var(x).")
