"""Volume: on-balance volume (Granville 1963), the Chaikin accumulation/distribution line and
oscillator, Chaikin money flow, rolling VWAP distance and relative volume. OBV and A/D are
cumulative from a symbol's first bar, as TA-Lib defines them."""

from __future__ import annotations

import numpy as np

from alphaloop.features.library.registry import define
from alphaloop.features.library.rolling import (
    NAN,
    fused_kernel,
    kernel,
    nan_head,
    rolling_mean,
    rolling_sum,
)

FAMILY = "volume"


@kernel
def obv(close, volume):
    """TA-Lib OBV: starts at V[0]; adds V[t] when C rises, subtracts it when C falls."""
    m = close.shape[0]
    out = np.empty(m)
    if m == 0:
        return out
    total = volume[0]
    prev = close[0]
    for i in range(m):
        c = close[i]
        if c > prev:
            total += volume[i]
        elif c < prev:
            total -= volume[i]
        out[i] = total
        prev = c
    return out


@kernel
def _clv_flow(h, lo, c, v):
    r = h - lo
    if r > 0.0:
        return (((c - lo) - (h - c)) / r) * v
    return 0.0


@kernel
def ad(high, low, close, volume):
    """TA-Lib AD: cumulative sum of ((C - L) - (H - C)) / (H - L) * V (0 when H == L)."""
    m = close.shape[0]
    out = np.empty(m)
    total = 0.0
    for i in range(m):
        total += _clv_flow(high[i], low[i], close[i], volume[i])
        out[i] = total
    return out


@fused_kernel
def adosc(high, low, close, volume, fast, slow):
    """TA-Lib ADOSC: EMA_fast(AD) - EMA_slow(AD), both EMAs seeded with the first A/D value
    (not an SMA) and updated as k AD + (1 - k) EMA; output from bar slow - 1."""
    m = close.shape[0]
    first = max(fast, slow) - 1
    out = nan_head(m, first)
    if m == 0:
        return out
    kf = 2.0 / (fast + 1)
    kf1 = 1.0 - kf
    ks = 2.0 / (slow + 1)
    ks1 = 1.0 - ks
    total = _clv_flow(high[0], low[0], close[0], volume[0])
    ef = total
    es = total
    for i in range(1, m):
        total += _clv_flow(high[i], low[i], close[i], volume[i])
        ef = (kf * total) + (kf1 * ef)
        es = (ks * total) + (ks1 * es)
        if i >= first:
            out[i] = ef - es
    if first == 0:
        out[0] = 0.0
    return out


@kernel
def money_flow_volume(high, low, close, volume):
    """Per-bar Chaikin money flow volume: ((C - L) - (H - C)) / (H - L) * V."""
    m = close.shape[0]
    out = np.empty(m)
    for i in range(m):
        out[i] = _clv_flow(high[i], low[i], close[i], volume[i])
    return out


@kernel
def rolling_vwap_distance(price, close, volume, n):
    """C / VWAP_n - 1 with VWAP_n = sum(P V) / sum(V) over the last n bars."""
    pv = np.empty(close.shape[0])
    for i in range(close.shape[0]):
        pv[i] = price[i] * volume[i]
    num = rolling_sum(pv, n)
    den = rolling_sum(volume, n)
    out = np.full(close.shape[0], NAN)
    for i in range(close.shape[0]):
        if den[i] > 0.0:
            out[i] = close[i] / (num[i] / den[i]) - 1.0
    return out


@kernel
def typical_price(high, low, close, vwap, use_vwap):
    """The bar's own VWAP where ``use_vwap`` and it is known, else (H + L + C) / 3."""
    m = close.shape[0]
    out = np.empty(m)
    for i in range(m):
        if use_vwap and vwap[i] == vwap[i]:
            out[i] = vwap[i]
        else:
            out[i] = (high[i] + low[i] + close[i]) / 3.0
    return out


@kernel
def ratio(a, b):
    m = a.shape[0]
    out = np.full(m, NAN)
    for i in range(m):
        if b[i] > 0.0:
            out[i] = a[i] / b[i]
    return out


@kernel
def log_dollar_volume(close, volume, n):
    """ln of the mean of C V over the last n bars (NaN when that mean is not positive)."""
    dv = np.empty(close.shape[0])
    for i in range(close.shape[0]):
        dv[i] = close[i] * volume[i]
    mean = rolling_mean(dv, n)
    out = np.full(close.shape[0], NAN)
    for i in range(close.shape[0]):
        if mean[i] > 0.0:
            out[i] = np.log(mean[i])
    return out


def _vwap_dist(b):
    vwap = b.vwap if b.vwap is not None else b.close
    price = typical_price(b.high, b.low, b.close, vwap, b.vwap is not None)
    return rolling_vwap_distance(price, b.close, b.volume, 20)


def _vol_mean(b, n):
    return b.memo(("vol_mean", n), lambda: rolling_mean(b.volume, n))


HLCV = ("high", "low", "close", "volume")

define("obv", lambda b: obv(b.close, b.volume), family=FAMILY, inputs=("close", "volume"),
       warmup=0, talib="OBV(close, volume)",
       doc="On-balance volume: OBV[0] = V[0]; OBV[t] = OBV[t-1] + sign(C[t] - C[t-1]) V[t]. "
           "Cumulative from the symbol's first bar.")
define("ad", lambda b: ad(b.high, b.low, b.close, b.volume), family=FAMILY, inputs=HLCV,
       warmup=0, talib="AD(high, low, close, volume)",
       doc="Chaikin accumulation/distribution line: cumulative sum of "
           "((C - L) - (H - C)) / (H - L) * V, terms with H == L counted as 0.")
define("adosc_3_10", lambda b: adosc(b.high, b.low, b.close, b.volume, 3, 10), family=FAMILY,
       inputs=HLCV, warmup=9, talib="ADOSC(high, low, close, volume, 3, 10)",
       doc="Chaikin A/D oscillator: EMA3(AD) - EMA10(AD), EMAs seeded with AD[0] (TA-Lib).")
define("cmf_20",
       lambda b: ratio(rolling_sum(money_flow_volume(b.high, b.low, b.close, b.volume), 20),
                       rolling_sum(b.volume, 20)),
       family=FAMILY, inputs=HLCV, warmup=19,
       doc="Chaikin money flow: sum_20 ((C - L) - (H - C)) / (H - L) * V / sum_20 V.")
define("vwap_dist_20", _vwap_dist, family=FAMILY, inputs=HLCV, warmup=19,
       doc="Distance to the rolling 20-bar VWAP: C / VWAP20 - 1, VWAP20 = sum(P V) / sum(V) "
           "over the last 20 bars, P the bar's own vwap where the bars carry one, else the "
           "typical price (H + L + C) / 3.")
define("vol_ratio_20", lambda b: ratio(b.volume, _vol_mean(b, 20)), family=FAMILY,
       inputs=("volume",), warmup=19,
       doc="Relative volume: V[t] / mean(V[t-19..t]).")
define("vol_ratio_5_63", lambda b: ratio(_vol_mean(b, 5), _vol_mean(b, 63)), family=FAMILY,
       inputs=("volume",), warmup=62,
       doc="Short over long volume: mean(V, 5 bars) / mean(V, 63 bars).")
define("log_dollar_volume_21", lambda b: log_dollar_volume(b.close, b.volume, 21),
       family=FAMILY, inputs=("close", "volume"), warmup=20,
       doc="Liquidity level: ln( mean(C V over the last 21 bars) ).")
