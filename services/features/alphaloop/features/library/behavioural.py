"""Behavioural features, each a concrete formula on price and volume: a fear/greed composite,
a panic score (a volatility-scaled fall on abnormal volume), herding (cross-sectional return
dispersion below its recent norm; Chang, Cheng and Khorana 2000), anchoring to the 52-week
high (George and Hwang 2004) and loss-aversion asymmetry (downside over upside
semi-variance)."""

from __future__ import annotations

import numpy as np

from alphaloop.features.library.cross_sectional import date_abs_deviation, date_mean
from alphaloop.features.library.momentum import rsi
from alphaloop.features.library.registry import define
from alphaloop.features.library.rolling import (
    NAN,
    kernel,
    log_return,
    rolling_max,
    rolling_mean,
    rolling_std,
    rolling_sum,
)

FAMILY = "behavioural"
HERDING_WINDOW = 63


@kernel
def _clip1(x):
    return min(1.0, max(-1.0, x))


@kernel
def fear_greed(close, volume):
    """Mean of four components, each in [-1, 1]: (RSI14 - 50) / 50; clip((C / SMA125 - 1) /
    0.10); clip(1 - sd21 / sd126) of log returns; and (U - D) / (U + D) with U (D) the volume
    of up (down) bars over 21 bars (0 when both are 0)."""
    m = close.shape[0]
    out = np.full(m, NAN)
    r14 = rsi(close, 14)
    sma = rolling_mean(close, 125)
    r = log_return(close, 1)
    s21 = rolling_std(r, 21, 1)
    s126 = rolling_std(r, 126, 1)
    up = np.zeros(m)
    down = np.zeros(m)
    for i in range(1, m):
        if close[i] > close[i - 1]:
            up[i] = volume[i]
        elif close[i] < close[i - 1]:
            down[i] = volume[i]
    su = rolling_sum(up, 21)
    sd = rolling_sum(down, 21)
    for i in range(m):
        c1 = (r14[i] - 50.0) / 50.0
        c2 = _clip1((close[i] / sma[i] - 1.0) / 0.10)
        c3 = _clip1(1.0 - s21[i] / s126[i]) if s126[i] > 0.0 else NAN
        tot = su[i] + sd[i]
        c4 = (su[i] - sd[i]) / tot if tot > 0.0 else (0.0 if tot == 0.0 else NAN)
        out[i] = (c1 + c2 + c3 + c4) / 4.0
    return out


@kernel
def panic_score(close, volume, n):
    """max(0, -r[t] / sd[t-1]) * V[t] / mean(V[t-n..t-1]); r the log return, sd[t-1] the
    sample sd of the n log returns up to t-1: a fall measured in recent volatility, scaled by
    abnormal volume."""
    m = close.shape[0]
    out = np.full(m, NAN)
    r = log_return(close, 1)
    sd = rolling_std(r, n, 1)
    vm = rolling_mean(volume, n)
    for i in range(1, m):
        s = sd[i - 1]
        v = vm[i - 1]
        if s > 0.0 and v > 0.0 and r[i] == r[i]:
            out[i] = max(0.0, -r[i] / s) * volume[i] / v
    return out


@kernel
def anchor_high(close, high, n):
    """C[t] / max(H[t-n+1..t])."""
    mx = rolling_max(high, n)
    out = np.empty(close.shape[0])
    for i in range(close.shape[0]):
        out[i] = close[i] / mx[i]
    return out


@kernel
def loss_aversion(close, n):
    """sum(r^2 for r < 0) / sum(r^2 for r > 0) over the last n log returns (NaN without an
    up move)."""
    m = close.shape[0]
    r = log_return(close, 1)
    dn = np.full(m, NAN)
    upv = np.full(m, NAN)
    for i in range(1, m):
        x = r[i]
        dn[i] = x * x if x < 0.0 else 0.0
        upv[i] = x * x if x > 0.0 else 0.0
        if np.isnan(x):
            dn[i] = NAN
            upv[i] = NAN
    sdn = rolling_sum(dn, n)
    sup = rolling_sum(upv, n)
    out = np.full(m, NAN)
    for i in range(m):
        if sup[i] > 0.0:
            out[i] = sdn[i] / sup[i]
    return out


@kernel
def herding_by_date(csad, n):
    """1 - CSAD[t] / mean(CSAD over the last n dates)."""
    mean = rolling_mean(csad, n)
    out = np.full(csad.shape[0], NAN)
    for i in range(csad.shape[0]):
        if mean[i] > 0.0:
            out[i] = 1.0 - csad[i] / mean[i]
    return out


def _herding(panel) -> np.ndarray:
    order, offsets = panel.by_date
    r = panel.series("ret_1")
    centre = date_mean(r, order, offsets)
    csad = date_abs_deviation(r, centre, order, offsets, 2)
    return herding_by_date(csad, HERDING_WINDOW)[panel.date_codes]


define("fear_greed", lambda b: fear_greed(b.close, b.volume), family=FAMILY,
       inputs=("close", "volume"), warmup=126,
       doc="Fear/greed composite in [-1, 1] (greed > 0): the mean of (RSI14 - 50) / 50, "
           "clip((C / SMA125 - 1) / 0.10, -1, 1), clip(1 - sd21 / sd126, -1, 1) of one-bar log "
           "returns (calm is greed), and volume breadth (U - D) / (U + D) with U, D the volume "
           "on up and down bars over 21 bars.")
define("panic_score", lambda b: panic_score(b.close, b.volume, 21), family=FAMILY,
       inputs=("close", "volume"), warmup=22,
       doc="Panic score: max(0, -r[t] / sd21[t-1]) * V[t] / mean21(V)[t-1]; r the log return, "
           "sd21 and mean21 over the 21 bars before t. Large when a fall several recent "
           "standard deviations deep comes on heavy volume.")
define("anchor_52w_high", lambda b: anchor_high(b.close, b.high, 252), family=FAMILY,
       inputs=("close", "high"), warmup=251,
       doc="Anchoring to the 52-week high: C[t] / max(H[t-251..t]) (252 bars).")
define("loss_aversion_63", lambda b: loss_aversion(b.close, 63), family=FAMILY,
       inputs=("close",), warmup=63,
       doc="Loss-aversion asymmetry: downside over upside semi-variance of one-bar log returns "
           "over 63 bars, sum(r^2 [r < 0]) / sum(r^2 [r > 0]).")
define("herding", _herding, family=FAMILY, inputs=("close",), warmup=HERDING_WINDOW,
       kind="panel", depends=("ret_1",),
       doc="Herding proxy (inverted dispersion): 1 - CSAD[t] / mean(CSAD over the last 63 "
           "dates), CSAD[t] = mean_i |r_i[t] - mean_j r_j[t]| over the symbols trading on t "
           "(one-bar simple returns; NaN with fewer than 2). Positive when returns cluster "
           "more tightly than usual.")
