"""Trend: simple and exponential moving averages and the close's distance to them, MACD
(Appel), the directional movement system (+DI, -DI, ADX, ADXR; Wilder 1978), moving-average
crossovers and Aroon (Chande 1995). Definitions follow TA-Lib exactly, including MACD seeding
its fast EMA at the slow EMA's first bar."""

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
    ratio_minus_one,
    rolling_mean,
    sign_of_difference,
)

FAMILY = "trend"
SMA_WINDOWS = (10, 20, 50, 200)
EMA_WINDOWS = (12, 26, 50)
_ZERO = 1e-14


@fused_kernel
def macd(close, fast, slow, signal):
    """TA-Lib MACD in one pass: line = EMA_fast - EMA_slow where both EMAs are seeded (with
    their SMA) at bar slow - 1; signal = EMA_signal(line) seeded with the mean of its first
    ``signal`` values; histogram = line - signal. All three start at bar slow + signal - 2."""
    m = close.shape[0]
    first = slow - 1
    start = first + signal - 1
    line = nan_head(m, start)
    sig = nan_head(m, start)
    hist = nan_head(m, start)
    if m <= start:
        return line, sig, hist
    kf = 2.0 / (fast + 1)
    ks = 2.0 / (slow + 1)
    kg = 2.0 / (signal + 1)
    ef = 0.0
    for i in range(first - fast + 1, first + 1):
        ef += close[i]
    ef /= fast
    es = 0.0
    for i in range(first + 1):
        es += close[i]
    es /= slow
    seed = ef - es
    for i in range(first + 1, start + 1):
        x = close[i]
        ef = (x - ef) * kf + ef
        es = (x - es) * ks + es
        seed += ef - es
    value = ef - es
    sg = seed / signal
    line[start] = value
    sig[start] = sg
    hist[start] = value - sg
    for i in range(start + 1, m):
        x = close[i]
        ef = (x - ef) * kf + ef
        es = (x - es) * ks + es
        value = ef - es
        sg = (value - sg) * kg + sg
        line[i] = value
        sig[i] = sg
        hist[i] = value - sg
    return line, sig, hist


@kernel
def _dmi(high, low, close, n, want):
    """TA-Lib's directional movement system in one pass; ``want`` is a bit mask of the outputs
    to write (1 +DI, 2 -DI, 4 ADX, 8 ADXR), the others come back empty. +DM = H[t] - H[t-1]
    when it is positive and larger than -DM = L[t-1] - L[t] (and symmetrically). Sums of DM
    and true range over the first n-1 moves, then Wilder's S[t] = S[t-1] - S[t-1]/n + x[t].
    +DI = 100 +DM_s / TR_s (from bar n; 0 while TR_s is 0), DX = 100 |+DI - -DI| / (+DI + -DI),
    ADX = mean of the first n DX (at bar 2n-1) then (ADX (n-1) + DX) / n,
    ADXR = (ADX[t] + ADX[t-(n-1)]) / 2 (from bar 3n-2)."""
    m = close.shape[0]
    w_pdi = (want & 1) != 0
    w_mdi = (want & 2) != 0
    w_adxr = (want & 8) != 0
    w_adx = (want & 4) != 0 or w_adxr
    pdi = nan_head(m if w_pdi else 0, n)
    mdi = nan_head(m if w_mdi else 0, n)
    adx = nan_head(m if w_adx else 0, 2 * n - 1)
    adxr = nan_head(m if w_adxr else 0, 3 * n - 2)
    if m <= n:
        return pdi, mdi, adx, adxr
    p_dm = 0.0
    m_dm = 0.0
    tr = 0.0
    for t in range(1, n):
        dp = high[t] - high[t - 1]
        dm = low[t - 1] - low[t]
        if dm > 0 and dp < dm:
            m_dm += dm
        elif dp > 0 and dp > dm:
            p_dm += dp
        tr += _tr(high[t], low[t], close[t - 1])
    dx_sum = 0.0
    adx_prev = 0.0
    for t in range(n, m):
        dp = high[t] - high[t - 1]
        dm = low[t - 1] - low[t]
        p_dm -= p_dm / n
        m_dm -= m_dm / n
        if dm > 0 and dp < dm:
            m_dm += dm
        elif dp > 0 and dp > dm:
            p_dm += dp
        tr = tr - tr / n + _tr(high[t], low[t], close[t - 1])
        plus = 0.0
        minus = 0.0
        dx = NAN
        if tr > 0.0:
            plus = 100.0 * (p_dm / tr)
            minus = 100.0 * (m_dm / tr)
            s = minus + plus
            if not (-_ZERO < s < _ZERO):
                dx = 100.0 * (abs(minus - plus) / s)
        if w_pdi:
            pdi[t] = plus
        if w_mdi:
            mdi[t] = minus
        if not w_adx:
            continue
        if t < 2 * n:
            if not np.isnan(dx):
                dx_sum += dx
            if t == 2 * n - 1:
                adx_prev = dx_sum / n
                adx[t] = adx_prev
        else:
            if not np.isnan(dx):
                adx_prev = (adx_prev * (n - 1) + dx) / n
            adx[t] = adx_prev
            if w_adxr and t >= 3 * n - 2:
                adxr[t] = (adx_prev + adx[t - (n - 1)]) / 2.0
    return pdi, mdi, adx, adxr


@kernel
def dmi(high, low, close, n):
    """(+DI, -DI, ADX, ADXR) over n bars, TA-Lib's definitions (see ``_dmi``)."""
    return _dmi(high, low, close, n, 15)


@kernel
def plus_di(high, low, close, n):
    return _dmi(high, low, close, n, 1)[0]


@kernel
def minus_di(high, low, close, n):
    return _dmi(high, low, close, n, 2)[1]


@kernel
def adx(high, low, close, n):
    return _dmi(high, low, close, n, 4)[2]


@kernel
def adxr(high, low, close, n):
    return _dmi(high, low, close, n, 8)[3]


@kernel
def _aroon(high, low, n, want):
    """TA-Lib AROON over n + 1 bars: up = 100 (n - bars since the highest high) / n, down
    likewise with the lowest low (ties go to the latest bar); osc = 100 (i_high - i_low) / n.
    ``want``: 1 up and down, 2 osc, 3 all. Outputs from bar n."""
    m = high.shape[0]
    w_ud = (want & 1) != 0
    w_osc = (want & 2) != 0
    up = nan_head(m if w_ud else 0, n)
    down = nan_head(m if w_ud else 0, n)
    osc = nan_head(m if w_osc else 0, n)
    factor = 100.0 / n
    hi_idx = -1
    lo_idx = -1
    highest = 0.0
    lowest = 0.0
    for t in range(n, m):
        trailing = t - n
        if lo_idx < trailing:
            lo_idx = trailing
            lowest = low[lo_idx]
            for i in range(lo_idx + 1, t + 1):
                if low[i] <= lowest:
                    lo_idx = i
                    lowest = low[i]
        elif low[t] <= lowest:
            lo_idx = t
            lowest = low[t]
        if hi_idx < trailing:
            hi_idx = trailing
            highest = high[hi_idx]
            for i in range(hi_idx + 1, t + 1):
                if high[i] >= highest:
                    hi_idx = i
                    highest = high[i]
        elif high[t] >= highest:
            hi_idx = t
            highest = high[t]
        if w_ud:
            up[t] = factor * (n - (t - hi_idx))
            down[t] = factor * (n - (t - lo_idx))
        if w_osc:
            osc[t] = factor * (hi_idx - lo_idx)
    return up, down, osc


@kernel
def aroon(high, low, n):
    """(Aroon up, Aroon down, Aroon oscillator) over n + 1 bars (see ``_aroon``)."""
    return _aroon(high, low, n, 3)


@kernel
def aroon_updown(high, low, n):
    up, down, _ = _aroon(high, low, n, 1)
    return up, down


@kernel
def aroon_osc(high, low, n):
    return _aroon(high, low, n, 2)[2]


def _sma(b, n):
    return b.memo(("sma", n), lambda: rolling_mean(b.close, n))


def _ema(b, n):
    return b.memo(("ema", n), lambda: ema(b.close, n))


def _macd(b):
    return b.memo("macd", lambda: macd(b.close, 12, 26, 9))


def _dmi_of(b):
    return b.memo("dmi14", lambda: dmi(b.high, b.low, b.close, 14))


def _aroon_of(b):
    return b.memo("aroon14", lambda: aroon(b.high, b.low, 14))


HLC = ("high", "low", "close")

for _n in SMA_WINDOWS:
    define(f"sma_{_n}", lambda b, n=_n: _sma(b, n), family=FAMILY, inputs=("close",),
           warmup=_n - 1, talib=f"SMA(close, {_n})",
           doc=f"Simple moving average of the close over {_n} bars: (1/{_n}) sum C[t-{_n - 1}..t].")
    define(f"dist_sma_{_n}", lambda b, n=_n: ratio_minus_one(b.close, _sma(b, n)),
           family=FAMILY, inputs=("close",), warmup=_n - 1,
           doc=f"Close's distance to its {_n}-bar SMA: C / SMA{_n} - 1.")

for _n in EMA_WINDOWS:
    define(f"ema_{_n}", lambda b, n=_n: _ema(b, n), family=FAMILY, inputs=("close",),
           warmup=_n - 1, talib=f"EMA(close, {_n})",
           doc=f"Exponential moving average, k = 2/{_n + 1}: E[t] = E[t-1] + k (C[t] - E[t-1]), "
               f"seeded with the SMA of the first {_n} closes (TA-Lib).")
    define(f"dist_ema_{_n}", lambda b, n=_n: ratio_minus_one(b.close, _ema(b, n)),
           family=FAMILY, inputs=("close",), warmup=_n - 1,
           doc=f"Close's distance to its {_n}-bar EMA: C / EMA{_n} - 1.")

define("macd", lambda b: _macd(b)[0], family=FAMILY, inputs=("close",), warmup=33,
       talib="MACD(close, 12, 26, 9)[macd]",
       doc="MACD line: EMA12(C) - EMA26(C), both seeded at bar 25 (TA-Lib).")
define("macd_signal", lambda b: _macd(b)[1], family=FAMILY, inputs=("close",), warmup=33,
       talib="MACD(close, 12, 26, 9)[macdsignal]",
       doc="MACD signal: S[t] = S[t-1] + (2/10) (M[t] - S[t-1]) over the MACD line M, seeded "
           "with the mean of its first 9 values.")
define("macd_hist", lambda b: _macd(b)[2], family=FAMILY, inputs=("close",), warmup=33,
       talib="MACD(close, 12, 26, 9)[macdhist]",
       doc="MACD histogram: (EMA12 - EMA26) - signal.")
define("plus_di_14", lambda b: _dmi_of(b)[0], family=FAMILY, inputs=HLC, warmup=14,
       talib="PLUS_DI(high, low, close, 14)",
       doc="+DI = 100 W14(+DM) / W14(TR); +DM = H[t] - H[t-1] if that exceeds both 0 and "
           "L[t-1] - L[t], else 0; W14 Wilder's running sum S - S/14 + x.")
define("minus_di_14", lambda b: _dmi_of(b)[1], family=FAMILY, inputs=HLC, warmup=14,
       talib="MINUS_DI(high, low, close, 14)",
       doc="-DI = 100 W14(-DM) / W14(TR); -DM = L[t-1] - L[t] if that exceeds both 0 and "
           "H[t] - H[t-1], else 0.")
define("adx_14", lambda b: _dmi_of(b)[2], family=FAMILY, inputs=HLC, warmup=27,
       talib="ADX(high, low, close, 14)",
       doc="Average directional index: Wilder average (n=14) of DX = 100 |+DI - -DI| / "
           "(+DI + -DI), seeded with the mean of the first 14 DX.")
define("adxr_14", lambda b: _dmi_of(b)[3], family=FAMILY, inputs=HLC, warmup=40,
       talib="ADXR(high, low, close, 14)",
       doc="ADX rating: (ADX[t] + ADX[t-13]) / 2.")
define("sma_cross_10_50", lambda b: sign_of_difference(_sma(b, 10), _sma(b, 50)),
       family=FAMILY, inputs=("close",), warmup=49,
       doc="Moving-average crossover state: sign(SMA10 - SMA50) in {-1, 0, +1}.")
define("sma_cross_50_200", lambda b: sign_of_difference(_sma(b, 50), _sma(b, 200)),
       family=FAMILY, inputs=("close",), warmup=199,
       doc="Golden/death cross state: sign(SMA50 - SMA200) in {-1, 0, +1}.")
define("aroon_up_14", lambda b: _aroon_of(b)[0], family=FAMILY, inputs=("high", "low"),
       warmup=14,
       talib="AROON(high, low, 14)[aroonup]",
       doc="Aroon up: 100 (14 - bars since the highest high of the last 15 bars) / 14.")
define("aroon_down_14", lambda b: _aroon_of(b)[1], family=FAMILY, inputs=("high", "low"),
       warmup=14,
       talib="AROON(high, low, 14)[aroondown]",
       doc="Aroon down: 100 (14 - bars since the lowest low of the last 15 bars) / 14.")
define("aroon_osc_14", lambda b: _aroon_of(b)[2], family=FAMILY, inputs=("high", "low"),
       warmup=14, talib="AROONOSC(high, low, 14)",
       doc="Aroon oscillator: aroon_up_14 - aroon_down_14 = 100 (i_high - i_low) / 14.")
