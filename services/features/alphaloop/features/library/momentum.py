"""Momentum oscillators with TA-Lib's exact definitions (Wilder smoothing seeded with simple
means, TA-Lib's zero-denominator conventions), so values agree with TA-Lib after warm-up:
RSI and CMO (Wilder 1978, Chande 1994), Williams %R, CCI (Lambert 1980), ROC, momentum,
stochastic %K/%D (Lane), MFI and balance of power."""

from __future__ import annotations

import numpy as np

from alphaloop.features.library.registry import define
from alphaloop.features.library.rolling import (
    _has_nan,
    kernel,
    nan_head,
    rolling_max,
    rolling_min,
)

FAMILY = "momentum"
_ZERO = 1e-14  # TA-Lib's TA_IS_ZERO threshold


@kernel
def wilder_oscillator(close, n, cmo):
    """RSI (cmo=False) or CMO (cmo=True) as TA-Lib 0.8 computes them: average gain G and loss
    L start as the mean of the first n moves, then G[t] = (G[t-1] (n-1) + gain[t]) / n;
    RSI = 100 G / (G + L), CMO = 100 (G - L) / (G + L), 0 when G + L is 0. TA-Lib scales
    RSI's step by 1/n and CMO's by a division; both are kept, so values agree to the bit."""
    m = close.shape[0]
    out = nan_head(m, n)
    if m <= n:
        return out
    inv = 1.0 / n
    gain = 0.0
    loss = 0.0
    for i in range(1, n + 1):
        d = close[i] - close[i - 1]
        if cmo:
            if d < 0:
                loss -= d
            else:
                gain += d
        else:
            g = max(0.0, d)
            gain += g
            loss += g - d
    if cmo:
        loss /= n
        gain /= n
    else:
        loss *= inv
        gain *= inv
    out[n] = _osc(gain, loss, cmo)
    for i in range(n + 1, m):
        d = close[i] - close[i - 1]
        loss *= n - 1
        gain *= n - 1
        if cmo:
            if d < 0:
                loss -= d
            else:
                gain += d
            loss /= n
            gain /= n
        else:
            g = max(0.0, d)
            gain += g
            loss += g - d
            loss *= inv
            gain *= inv
        out[i] = _osc(gain, loss, cmo)
    return out


@kernel
def _osc(gain, loss, cmo):
    s = gain + loss
    if not s > 0.0:
        return 0.0
    return 100.0 * ((gain - loss) / s) if cmo else 100.0 * (gain / s)


@kernel
def rsi(close, n):
    return wilder_oscillator(close, n, False)


@kernel
def cmo(close, n):
    return wilder_oscillator(close, n, True)


@kernel
def range_position(high, low, close, n, willr):
    """Where the close sits in the n-bar high-low range. willr=False gives the fast
    stochastic %K = 100 (C - LL) / (HH - LL), 0 when HH - LL is within 1e-14 (|HH| + |LL|)
    (TA-Lib's scaled dead-zone); willr=True gives Williams %R = -100 (HH - C) / (HH - LL),
    0 when HH == LL. HH, LL: highest high and lowest low of the last n bars, by a
    van Herk / Gil-Werman block scan fused with the output (see ``rolling._rolling_extreme``)."""
    m = close.shape[0]
    out = nan_head(m, n - 1)
    if m < n:
        return out
    if _has_nan(high) or _has_nan(low):
        hh = rolling_max(high, n)
        ll = rolling_min(low, n)
        for t in range(n - 1, m):
            out[t] = _position(hh[t], ll[t], close[t], willr)
        return out
    suf_h = np.empty(n)
    suf_l = np.empty(n)
    for start in range(0, m, n):
        end = min(start + n, m)
        ph = -np.inf
        pl = np.inf
        for t in range(start, end):
            ph = max(ph, high[t])
            pl = min(pl, low[t])
            if t >= n - 1:
                j = t - start + 1
                hh = max(suf_h[j], ph) if j < n else ph
                ll = min(suf_l[j], pl) if j < n else pl
                out[t] = _position(hh, ll, close[t], willr)
        if end - start == n:
            sh = -np.inf
            sl = np.inf
            for i in range(end - 1, start - 1, -1):
                sh = max(sh, high[i])
                sl = min(sl, low[i])
                suf_h[i - start] = sh
                suf_l[i - start] = sl
    return out


@kernel
def _position(hh, ll, c, willr):
    if willr:
        diff = (hh - ll) / -100.0
        return (hh - c) / diff if diff != 0.0 else 0.0
    diff = (hh - ll) / 100.0
    if abs(hh - ll) <= _ZERO * (abs(hh) + abs(ll)):
        return 0.0
    return (c - ll) / diff


@kernel
def willr(high, low, close, n):
    return range_position(high, low, close, n, True)


@kernel
def stoch(high, low, close, fastk, slowk, slowd):
    """TA-Lib STOCH with SMA smoothing: slow %K = SMA(fast %K, slowk), %D = SMA(slow %K,
    slowd), running sums in TA-Lib's order; both start at bar fastk + slowk + slowd - 3."""
    fast = range_position(high, low, close, fastk, False)
    m = fast.shape[0]
    first = fastk + slowk + slowd - 3
    k = nan_head(m, first)
    d = nan_head(m, first)
    start_k = fastk + slowk - 2
    ktot = 0.0
    for i in range(fastk - 1, min(start_k, m)):
        ktot += fast[i]
    ring = np.empty(slowd)
    dtot = 0.0
    for i in range(start_k, m):
        ktot += fast[i]
        kv = ktot / slowk
        ktot -= fast[i - slowk + 1]
        j = i - start_k
        ring[j % slowd] = kv
        dtot += kv
        if j >= slowd - 1:
            k[i] = kv
            d[i] = dtot / slowd
            dtot -= ring[(j + 1) % slowd]
    return k, d


@kernel
def cci(high, low, close, n):
    """TA-Lib CCI: TP = (H + L + C) / 3, CCI = (TP - SMA_n(TP)) / (0.015 MD) with MD the mean
    absolute deviation of TP from its SMA over the window; 0 when either part is within
    1e-14 |SMA| of 0 (TA-Lib's scaled flatness test). Sums run in TA-Lib's circular-buffer
    order (bar j sits in slot j mod n), so values agree to the bit."""
    m = close.shape[0]
    out = nan_head(m, n - 1)
    ring = np.empty(n)
    slot = 0
    for t in range(m):
        last = (high[t] + low[t] + close[t]) / 3.0
        ring[slot] = last
        slot = slot + 1 if slot + 1 < n else 0
        if t < n - 1:
            continue
        avg = 0.0
        for j in range(n):
            avg += ring[j]
        avg /= n
        dev = 0.0
        for j in range(n):
            dev += abs(ring[j] - avg)
        dev /= n
        x = last - avg
        scale = _ZERO * abs(avg)
        out[t] = x / (0.015 * dev) if (abs(x) > scale and abs(dev) > scale) else 0.0
    return out


@kernel
def roc(close, n):
    """TA-Lib ROC: 100 (C[t] / C[t-n] - 1), 0 when C[t-n] is 0."""
    m = close.shape[0]
    out = nan_head(m, n)
    if m <= n:
        return out
    now, then, dest = close[n:], close[: m - n], out[n:]
    for i in range(m - n):
        prev = then[i]
        dest[i] = ((now[i] / prev) - 1.0) * 100.0 if prev != 0.0 else 0.0
    return out


@kernel
def mom(close, n):
    """TA-Lib MOM: C[t] - C[t-n]."""
    m = close.shape[0]
    out = nan_head(m, n)
    if m <= n:
        return out
    now, then, dest = close[n:], close[: m - n], out[n:]
    for i in range(m - n):
        dest[i] = now[i] - then[i]
    return out


@kernel
def mfi(high, low, close, volume, n):
    """TA-Lib MFI: TP = (H + L + C) / 3, raw flow TP * V counted positive when TP rises and
    negative when it falls; a move within 1e-14 (|TP[t]| + |TP[t-1]|) counts as no move
    (TA-Lib's scaled dead-zone). MFI = 100 P / (P + N) over the last n moves, P clamped to
    [0, P + N] against rounding drift, 0 for an empty window; the sums restart at exactly 0
    after n flowless bars."""
    m = close.shape[0]
    out = nan_head(m, n)
    if m <= n:
        return out
    pos = np.zeros(n)  # ring buffers of the last n flows
    neg = np.zeros(n)
    prev = (high[0] + low[0] + close[0]) / 3.0
    pos_sum = 0.0
    neg_sum = 0.0
    null_run = 0
    slot = 0
    for i in range(1, m):
        if i > n:
            pos_sum -= pos[slot]
            neg_sum -= neg[slot]
        tp = (high[i] + low[i] + close[i]) / 3.0
        d = tp - prev
        scale = abs(tp) + abs(prev)
        prev = tp
        flow = 0.0 if abs(d) <= _ZERO * scale else tp * volume[i]
        pf = 0.0 if d < 0.0 else flow
        nf = flow if d < 0.0 else 0.0
        pos[slot] = pf
        neg[slot] = nf
        pos_sum += pf
        neg_sum += nf
        null_run = null_run + 1 if flow == 0.0 else 0
        if null_run >= n:
            null_run = n
            pos_sum = 0.0
            neg_sum = 0.0
        slot += 1
        if slot == n:
            slot = 0
        if i >= n:
            total = pos_sum + neg_sum
            p = 0.0 if pos_sum < 0.0 else (min(pos_sum, total))
            out[i] = 0.0 if total <= 0.0 else 100.0 * (p / total)
    return out


@kernel
def bop(open_, high, low, close):
    """TA-Lib BOP: (C - O) / (H - L), 0 when H - L <= 0."""
    m = close.shape[0]
    out = np.empty(m)
    for i in range(m):
        r = high[i] - low[i]
        out[i] = (close[i] - open_[i]) / r if r > 0.0 else 0.0
    return out


HLC = ("high", "low", "close")


def _stoch(b):
    return b.memo("stoch_14_3_3", lambda: stoch(b.high, b.low, b.close, 14, 3, 3))


define("rsi_14", lambda b: rsi(b.close, 14), family=FAMILY, inputs=("close",), warmup=14,
       talib="RSI(close, 14)",
       doc="Relative strength index, Wilder smoothing over 14 bars: RSI = 100 G / (G + L) with "
           "G, L the average gain and loss; G[t] = (13 G[t-1] + max(dC, 0)) / 14, seeded with "
           "the mean of the first 14 moves.")
define("cmo_14", lambda b: cmo(b.close, 14), family=FAMILY, inputs=("close",), warmup=14,
       talib="CMO(close, 14)",
       doc="Chande momentum oscillator (TA-Lib form, Wilder-smoothed): 100 (G - L) / (G + L) "
           "with G, L as in rsi_14.")
define("willr_14", lambda b: willr(b.high, b.low, b.close, 14), family=FAMILY, inputs=HLC,
       warmup=13, talib="WILLR(high, low, close, 14)",
       doc="Williams %R over 14 bars: -100 (HH14 - C) / (HH14 - LL14), HH/LL the highest high "
           "and lowest low of the last 14 bars; 0 when HH14 == LL14.")
define("cci_20", lambda b: cci(b.high, b.low, b.close, 20), family=FAMILY, inputs=HLC,
       warmup=19, talib="CCI(high, low, close, 20)",
       doc="Commodity channel index over 20 bars: (TP - SMA20(TP)) / (0.015 MD20), "
           "TP = (H + L + C) / 3, MD20 = mean |TP[i] - SMA20(TP)| over the window.")
define("roc_10", lambda b: roc(b.close, 10), family=FAMILY, inputs=("close",), warmup=10,
       talib="ROC(close, 10)", doc="Rate of change: 100 (C[t] / C[t-10] - 1).")
define("mom_10", lambda b: mom(b.close, 10), family=FAMILY, inputs=("close",), warmup=10,
       talib="MOM(close, 10)", doc="Momentum in price units: C[t] - C[t-10].")
define("stoch_fastk_14", lambda b: range_position(b.high, b.low, b.close, 14, False),
       family=FAMILY, inputs=HLC, warmup=13, talib="STOCHF(high, low, close, 14)[fastk]",
       doc="Fast stochastic %K: 100 (C - LL14) / (HH14 - LL14); 0 when HH14 == LL14.")
define("stoch_k", lambda b: _stoch(b)[0], family=FAMILY, inputs=HLC, warmup=17,
       talib="STOCH(high, low, close, 14, 3, SMA, 3, SMA)[slowk]",
       doc="Slow stochastic %K (14, 3): SMA3 of the fast %K = 100 (C - LL14) / (HH14 - LL14).")
define("stoch_d", lambda b: _stoch(b)[1], family=FAMILY, inputs=HLC, warmup=17,
       talib="STOCH(high, low, close, 14, 3, SMA, 3, SMA)[slowd]",
       doc="Stochastic %D (14, 3, 3): SMA3 of the slow %K.")
define("mfi_14", lambda b: mfi(b.high, b.low, b.close, b.volume, 14), family=FAMILY,
       inputs=("high", "low", "close", "volume"), warmup=14,
       talib="MFI(high, low, close, volume, 14)",
       doc="Money flow index over 14 bars: 100 P / (P + N), P (N) the sum of TP * V over bars "
           "whose typical price TP = (H + L + C) / 3 rose (fell) from the bar before (moves "
           "within 1e-14 (|TP[t]| + |TP[t-1]|) count as none, as in TA-Lib 0.6+); 0 when "
           "P + N is 0.")
define("bop", lambda b: bop(b.open, b.high, b.low, b.close), family=FAMILY,
       inputs=("open", "high", "low", "close"), warmup=0,
       talib="BOP(open, high, low, close)",
       doc="Balance of power: (C - O) / (H - L), 0 when H <= L.")
