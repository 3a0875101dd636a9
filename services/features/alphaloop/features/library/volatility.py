"""Volatility bands and ranges: true range and ATR/NATR (Wilder 1978), Bollinger bands with
%B and bandwidth (Bollinger 2001), standard deviation, and Keltner channels (EMA20 +- 2 ATR10,
the Raschke form). TA-Lib's definitions throughout, including TA-Lib 0.8's cancellation-free
variance (shifted sums with re-anchoring) behind BBANDS and STDDEV."""

from __future__ import annotations

import numpy as np

from alphaloop.features.library.registry import define
from alphaloop.features.library.rolling import (
    NAN,
    _tr,
    ema,
    fused_kernel,
    kernel,
    nan_head,
    true_range,
    wilder_atr,
)

FAMILY = "volatility"
_ZERO = 1e-14


@fused_kernel
def natr(high, low, close, n):
    """TA-Lib NATR: 100 ATR_n / C, 0 when C is 0 (ATR as ``wilder_atr``, fused)."""
    m = close.shape[0]
    out = nan_head(m, n)
    if m <= n:
        return out
    total = 0.0
    for i in range(1, n + 1):
        total += _tr(high[i], low[i], close[i - 1])
    prev = total / n
    beta = (n - 1) / n
    alpha = 1.0 - beta
    for i in range(n, m):
        if i > n:
            prev = alpha * _tr(high[i], low[i], close[i - 1]) + beta * prev
        c = close[i]
        out[i] = (prev / c) * 100.0 if c != 0.0 else 0.0
    return out


@kernel
def _reseed(x, start, end, inv):
    """Fresh two-pass sums over x[start..end] around the window mean: (shift, S1, S2, var),
    var floored to exactly 0 below 1e-12 S2/n (TA-Lib's flat-window rule)."""
    acc = 0.0
    for j in range(start, end + 1):
        acc += x[j]
    shift = acc * inv
    s1 = 0.0
    s2 = 0.0
    for j in range(start, end + 1):
        d = x[j] - shift
        s1 += d
        s2 += d * d
    mean1 = s1 * inv
    var = s2 * inv - mean1 * mean1
    if var < 0.000000000001 * (s2 * inv):
        var = 0.0
    d = x[start] - shift
    return shift, s1 - d, s2 - d * d, var


@kernel
def _shifted_variance(x, n, k, root):
    """TA-Lib 0.8's cancellation-free rolling population variance: running sums of deviations
    from a shift K (first value of the window) so var = S2/n - (S1/n)^2 never cancels two
    mean^2-sized terms; K is re-anchored to the window mean (``_reseed``) when
    var < 1e-6 S2/n, when a departing value dwarfs S2, or every 32 n bars. Writes var, or
    k sqrt(var) when ``root``."""
    m = x.shape[0]
    first = n - 1
    out = nan_head(m, first)
    if m < n:
        return out
    inv = 1.0 / n
    shift = x[0]
    s1 = 0.0
    s2 = 0.0
    for j in range(first):
        d = x[j] - shift
        s1 += d
        s2 += d * d
    since = 32 * n
    for i in range(first, m):
        d = x[i] - shift
        s1 += d
        s2 += d * d
        mean1 = s1 * inv
        var = s2 * inv - mean1 * mean1
        d = x[i - first] - shift
        s1 -= d
        d *= d
        s2 -= d
        since -= 1
        if var < 0.000001 * (s2 * inv) or d > 1000000.0 * s2 or since <= 0:
            since = 32 * n
            shift, s1, s2, var = _reseed(x, i - first, i, inv)
        out[i] = np.sqrt(var) * k if root else var
    return out


@kernel
def variance(x, n):
    """TA-Lib VAR(n): population variance (see ``_shifted_variance``)."""
    return _shifted_variance(x, n, 1.0, False)


@kernel
def stddev(close, n, k):
    """TA-Lib STDDEV: k sqrt(VAR_n)."""
    return _shifted_variance(close, n, k, True)


@kernel
def bbands(close, n, k):
    """TA-Lib BBANDS with an SMA middle band, fused as TA-Lib fuses it: the SMA by TA-Lib's
    running total and sd = sqrt(VAR_n) (``_shifted_variance``) in one pass; upper and lower
    = SMA +- k sd. Returns (upper, middle, lower)."""
    x = close
    m = x.shape[0]
    first = n - 1
    upper = nan_head(m, first)
    mid = nan_head(m, first)
    lower = nan_head(m, first)
    if m < n:
        return upper, mid, lower
    inv = 1.0 / n
    shift = x[0]
    s1 = 0.0
    s2 = 0.0
    total = 0.0
    for j in range(first):
        d = x[j] - shift
        s1 += d
        s2 += d * d
        total += x[j]
    since = 32 * n
    for i in range(first, m):
        total += x[i]
        d = x[i] - shift
        s1 += d
        s2 += d * d
        mean1 = s1 * inv
        var = s2 * inv - mean1 * mean1
        sma = total / n
        old = x[i - first]
        total -= old
        d = old - shift
        s1 -= d
        d *= d
        s2 -= d
        since -= 1
        if var < 0.000001 * (s2 * inv) or d > 1000000.0 * s2 or since <= 0:
            since = 32 * n
            shift, s1, s2, var = _reseed(x, i - first, i, inv)
        width = (np.sqrt(var) if var != 0.0 else 0.0) * k
        upper[i] = sma + width
        mid[i] = sma
        lower[i] = sma - width
    return upper, mid, lower


@kernel
def band_position(close, upper, lower):
    """(C - lower) / (upper - lower); NaN when the band has no width."""
    m = close.shape[0]
    out = np.full(m, NAN)
    for i in range(m):
        w = upper[i] - lower[i]
        if w > 0.0:
            out[i] = (close[i] - lower[i]) / w
    return out


@kernel
def keltner(high, low, close, n_ema, n_atr, k):
    """Keltner channel: EMA_{n_ema}(C) +- k ATR_{n_atr}. Returns (upper, lower)."""
    mid = ema(close, n_ema)
    atr = wilder_atr(high, low, close, n_atr)
    m = close.shape[0]
    upper = np.empty(m)
    lower = np.empty(m)
    for i in range(m):
        upper[i] = mid[i] + k * atr[i]
        lower[i] = mid[i] - k * atr[i]
    return upper, lower


@kernel
def bandwidth(upper, middle, lower):
    m = middle.shape[0]
    out = np.empty(m)
    for i in range(m):
        out[i] = (upper[i] - lower[i]) / middle[i]
    return out


def _bb(b):
    return b.memo("bb20", lambda: bbands(b.close, 20, 2.0))


def _kc(b):
    return b.memo("kc20", lambda: keltner(b.high, b.low, b.close, 20, 10, 2.0))


HLC = ("high", "low", "close")

define("true_range", lambda b: true_range(b.high, b.low, b.close), family=FAMILY, inputs=HLC,
       warmup=1, talib="TRANGE(high, low, close)",
       doc="True range: max(H - L, |H - C[t-1]|, |L - C[t-1]|).")
define("atr_14", lambda b: b.memo("atr14", lambda: wilder_atr(b.high, b.low, b.close, 14)),
       family=FAMILY, inputs=HLC, warmup=14, talib="ATR(high, low, close, 14)",
       doc="Average true range, Wilder: ATR[t] = (13 ATR[t-1] + TR[t]) / 14, seeded with the "
           "mean of the first 14 true ranges.")
define("natr_14", lambda b: natr(b.high, b.low, b.close, 14), family=FAMILY, inputs=HLC,
       warmup=14, talib="NATR(high, low, close, 14)",
       doc="Normalised ATR: 100 ATR14 / C.")
define("stddev_20", lambda b: stddev(b.close, 20, 1.0), family=FAMILY, inputs=("close",),
       warmup=19, talib="STDDEV(close, 20, 1)",
       doc="Population standard deviation of the close over 20 bars: "
           "sqrt((1/20) sum (C[i] - mean(C))^2), computed from shifted running sums.")
define("bb_upper_20", lambda b: _bb(b)[0], family=FAMILY, inputs=("close",), warmup=19,
       talib="BBANDS(close, 20, 2, 2, SMA)[upperband]",
       doc="Bollinger upper band: SMA20 + 2 sd20 (sd population, over the same 20 closes).")
define("bb_lower_20", lambda b: _bb(b)[2], family=FAMILY, inputs=("close",), warmup=19,
       talib="BBANDS(close, 20, 2, 2, SMA)[lowerband]",
       doc="Bollinger lower band: SMA20 - 2 sd20 (sd20 as in bb_upper_20).")
define("bb_pctb_20", lambda b: band_position(b.close, _bb(b)[0], _bb(b)[2]), family=FAMILY,
       inputs=("close",), warmup=19,
       doc="Bollinger %B: (C - lower) / (upper - lower); NaN when the bands have no width.")
define("bb_width_20", lambda b: bandwidth(*_bb(b)), family=FAMILY, inputs=("close",), warmup=19,
       doc="Bollinger bandwidth: (upper - lower) / SMA20 = 4 sd20 / SMA20.")
define("kc_upper_20", lambda b: _kc(b)[0], family=FAMILY, inputs=HLC, warmup=19,
       doc="Keltner upper channel: EMA20(C) + 2 ATR10 (TA-Lib EMA and ATR).")
define("kc_lower_20", lambda b: _kc(b)[1], family=FAMILY, inputs=HLC, warmup=19,
       doc="Keltner lower channel: EMA20(C) - 2 ATR10.")
define("kc_pos_20", lambda b: band_position(b.close, _kc(b)[0], _kc(b)[1]), family=FAMILY,
       inputs=HLC, warmup=19,
       doc="Position in the Keltner channel: (C - lower) / (upper - lower).")
