"""Feature library speed against TA-Lib, in the same run.

(a) Every indicator the library shares with TA-Lib, on one seeded synthetic 1,000,000-bar
OHLCV series (a geometric random walk; synthetic, not market data): ``ratio`` = our kernel's
best time / TA-Lib's best time over ``REPEATS`` runs, and the geometric mean of the ratios
(target <= 1.5). Each row also reports the largest relative difference from TA-Lib, so a fast
but wrong kernel shows.
(b) The whole library (``alphaloop.features.compute``, every feature) on a seeded synthetic
universe of 5,000 symbols x 2,520 daily bars (target: under 60 s on 2 cores): from
``alphaloop.ingest.sources.synthetic.SyntheticSource`` when that module exists, else a seeded
GBM generated here. Either way the figures are from SYNTHETIC data.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

BARS = 1_000_000
REPEATS = 5
UNIVERSE_SYMBOLS = 5_000
UNIVERSE_BARS = 2_520
SEED = 20240601


def synthetic_ohlcv(n: int, seed: int = SEED) -> dict[str, np.ndarray]:
    """A seeded geometric random walk with consistent OHLC and positive volume."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = close * np.exp(rng.normal(0.0, 0.003, n))
    top = np.maximum(open_, close)
    bottom = np.minimum(open_, close)
    high = top * (1.0 + np.abs(rng.normal(0.0, 0.004, n)))
    low = bottom * (1.0 - np.abs(rng.normal(0.0, 0.004, n)))
    volume = rng.integers(10_000, 1_000_000, n).astype(np.float64)
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume}


def _pairs(d: dict[str, np.ndarray]) -> list[tuple[str, Callable, Callable]]:
    import talib

    from alphaloop.features.library import momentum as mo
    from alphaloop.features.library import rolling as ro
    from alphaloop.features.library import trend as tr
    from alphaloop.features.library import volatility as vo
    from alphaloop.features.library import volume as vl

    o, h, lo, c, v = d["open"], d["high"], d["low"], d["close"], d["volume"]
    return [
        ("SMA(20)", lambda: ro.rolling_mean(c, 20), lambda: talib.SMA(c, 20)),
        ("EMA(12)", lambda: ro.ema(c, 12), lambda: talib.EMA(c, 12)),
        ("RSI(14)", lambda: mo.rsi(c, 14), lambda: talib.RSI(c, 14)),
        ("CMO(14)", lambda: mo.cmo(c, 14), lambda: talib.CMO(c, 14)),
        ("WILLR(14)", lambda: mo.willr(h, lo, c, 14), lambda: talib.WILLR(h, lo, c, 14)),
        ("CCI(20)", lambda: mo.cci(h, lo, c, 20), lambda: talib.CCI(h, lo, c, 20)),
        ("ROC(10)", lambda: mo.roc(c, 10), lambda: talib.ROC(c, 10)),
        ("ROCP(10)", lambda: ro.shift_return(c, 10), lambda: talib.ROCP(c, 10)),
        ("MOM(10)", lambda: mo.mom(c, 10), lambda: talib.MOM(c, 10)),
        ("STOCHF(14)", lambda: mo.range_position(h, lo, c, 14, False),
         lambda: talib.STOCHF(h, lo, c, 14, 1, 0)[0]),
        ("STOCH(14,3,3)", lambda: mo.stoch(h, lo, c, 14, 3, 3)[0],
         lambda: talib.STOCH(h, lo, c, 14, 3, 0, 3, 0)[0]),
        ("MFI(14)", lambda: mo.mfi(h, lo, c, v, 14), lambda: talib.MFI(h, lo, c, v, 14)),
        ("BOP", lambda: mo.bop(o, h, lo, c), lambda: talib.BOP(o, h, lo, c)),
        ("MACD(12,26,9)", lambda: tr.macd(c, 12, 26, 9)[0], lambda: talib.MACD(c, 12, 26, 9)[0]),
        ("ADXR(14)", lambda: tr.adxr(h, lo, c, 14), lambda: talib.ADXR(h, lo, c, 14)),
        ("ADX(14)", lambda: tr.adx(h, lo, c, 14), lambda: talib.ADX(h, lo, c, 14)),
        ("PLUS_DI(14)", lambda: tr.plus_di(h, lo, c, 14), lambda: talib.PLUS_DI(h, lo, c, 14)),
        ("MINUS_DI(14)", lambda: tr.minus_di(h, lo, c, 14), lambda: talib.MINUS_DI(h, lo, c, 14)),
        ("AROON(14)", lambda: tr.aroon_updown(h, lo, 14)[0], lambda: talib.AROON(h, lo, 14)[1]),
        ("AROONOSC(14)", lambda: tr.aroon_osc(h, lo, 14), lambda: talib.AROONOSC(h, lo, 14)),
        ("TRANGE", lambda: ro.true_range(h, lo, c), lambda: talib.TRANGE(h, lo, c)),
        ("ATR(14)", lambda: ro.wilder_atr(h, lo, c, 14), lambda: talib.ATR(h, lo, c, 14)),
        ("NATR(14)", lambda: vo.natr(h, lo, c, 14), lambda: talib.NATR(h, lo, c, 14)),
        ("STDDEV(20)", lambda: vo.stddev(c, 20, 1.0), lambda: talib.STDDEV(c, 20, 1)),
        ("BBANDS(20,2)", lambda: vo.bbands(c, 20, 2.0)[0],
         lambda: talib.BBANDS(c, 20, 2, 2, 0)[0]),
        ("OBV", lambda: vl.obv(c, v), lambda: talib.OBV(c, v)),
        ("AD", lambda: vl.ad(h, lo, c, v), lambda: talib.AD(h, lo, c, v)),
        ("ADOSC(3,10)", lambda: vl.adosc(h, lo, c, v, 3, 10),
         lambda: talib.ADOSC(h, lo, c, v, 3, 10)),
    ]


def _best(fn: Callable, repeats: int = REPEATS) -> float:
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def _max_rel_diff(ours: np.ndarray, ref: np.ndarray) -> float:
    both = ~np.isnan(ref) & ~np.isnan(ours)
    if not both.any():
        return float("nan")
    scale = np.maximum(np.abs(ref[both]), 1e-9)
    return float(np.max(np.abs(ours[both] - ref[both]) / scale))


def bench_indicators() -> dict:
    data = synthetic_ohlcv(BARS)
    rows = {}
    for name, ours, ref in _pairs(data):
        ours()  # compile (or load the numba cache) outside the timing
        ref()
        t_ours, t_ref = _best(ours), _best(ref)
        rows[name] = {"ours_ms": round(t_ours * 1e3, 3), "talib_ms": round(t_ref * 1e3, 3),
                      "ratio": round(t_ours / t_ref, 3),
                      "max_rel_diff": _max_rel_diff(np.asarray(ours()), np.asarray(ref()))}
    ratios = [r["ratio"] for r in rows.values()]
    return {"bars": BARS, "data": "synthetic seeded geometric random walk", "repeats": REPEATS,
            "indicators": rows,
            "geometric_mean_ratio": round(float(np.exp(np.mean(np.log(ratios)))), 3),
            "target_geometric_mean_ratio": 1.5}


def synthetic_universe(n_symbols: int, n_bars: int, seed: int = SEED) -> tuple[pd.DataFrame, str]:
    """The project's seeded synthetic universe (GBM with jumps and volatility regimes)."""
    from alphaloop.ingest.sources.synthetic import SyntheticSource

    bars = SyntheticSource(n_symbols, n_bars, seed).generate()
    return bars, "alphaloop.ingest.sources.synthetic.SyntheticSource (synthetic, not market data)"


def bench_library() -> dict:
    from alphaloop import features

    # compile (or load) every kernel, including the long-array paths, before timing
    warm, _ = synthetic_universe(30, UNIVERSE_BARS, seed=1)
    features.compute(warm)
    del warm
    bars, source = synthetic_universe(UNIVERSE_SYMBOLS, UNIVERSE_BARS)
    started = time.perf_counter()
    out = features.compute(bars)
    seconds = time.perf_counter() - started
    rows = len(bars)
    result = {"symbols": UNIVERSE_SYMBOLS, "bars_per_symbol": UNIVERSE_BARS, "rows": rows,
              "features": int(out.shape[1]), "data": f"SYNTHETIC: {source}",
              "seconds": round(seconds, 2), "bars_per_second": round(rows / seconds),
              "feature_values_per_second": round(rows * out.shape[1] / seconds),
              "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
              "target_seconds": 60}
    del out, bars
    return result


def run() -> dict:
    return {"indicators_vs_talib": bench_indicators(), "whole_library": bench_library()}


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
