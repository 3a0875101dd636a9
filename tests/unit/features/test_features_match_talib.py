"""Every feature that TA-Lib also computes agrees with TA-Lib, computed independently by
calling TA-Lib on each symbol's own arrays, on 20 real symbols (bundled S&P 500 bars).

Tolerance: relative 1e-8, with an absolute floor of 1e-12 for values that are zero up to
rounding (a slow stochastic of a close pinned to its low sums three ~1e-14 residues). Warm-up
is compared exactly: the feature is NaN on exactly the bars where TA-Lib gives NaN, and its
declared warm-up equals TA-Lib's lookback.
"""

from __future__ import annotations

import numpy as np
import pytest
import talib
from talib import abstract

from alphaloop import features

RTOL, ATOL = 1e-8, 1e-12

#: feature -> (TA-Lib function name, how to call it on a symbol's arrays)
TALIB = {
    "rsi_14": ("RSI", lambda a: talib.RSI(a["close"], 14)),
    "cmo_14": ("CMO", lambda a: talib.CMO(a["close"], 14)),
    "willr_14": ("WILLR", lambda a: talib.WILLR(a["high"], a["low"], a["close"], 14)),
    "cci_20": ("CCI", lambda a: talib.CCI(a["high"], a["low"], a["close"], 20)),
    "roc_10": ("ROC", lambda a: talib.ROC(a["close"], 10)),
    "mom_10": ("MOM", lambda a: talib.MOM(a["close"], 10)),
    "stoch_fastk_14": ("STOCHF", lambda a: talib.STOCHF(a["high"], a["low"], a["close"],
                                                        14, 1, 0)[0]),
    "stoch_k": ("STOCH", lambda a: talib.STOCH(a["high"], a["low"], a["close"],
                                               14, 3, 0, 3, 0)[0]),
    "stoch_d": ("STOCH", lambda a: talib.STOCH(a["high"], a["low"], a["close"],
                                               14, 3, 0, 3, 0)[1]),
    "mfi_14": ("MFI", lambda a: talib.MFI(a["high"], a["low"], a["close"], a["volume"], 14)),
    "bop": ("BOP", lambda a: talib.BOP(a["open"], a["high"], a["low"], a["close"])),
    "sma_10": ("SMA", lambda a: talib.SMA(a["close"], 10)),
    "sma_20": ("SMA", lambda a: talib.SMA(a["close"], 20)),
    "sma_50": ("SMA", lambda a: talib.SMA(a["close"], 50)),
    "sma_200": ("SMA", lambda a: talib.SMA(a["close"], 200)),
    "ema_12": ("EMA", lambda a: talib.EMA(a["close"], 12)),
    "ema_26": ("EMA", lambda a: talib.EMA(a["close"], 26)),
    "ema_50": ("EMA", lambda a: talib.EMA(a["close"], 50)),
    "macd": ("MACD", lambda a: talib.MACD(a["close"], 12, 26, 9)[0]),
    "macd_signal": ("MACD", lambda a: talib.MACD(a["close"], 12, 26, 9)[1]),
    "macd_hist": ("MACD", lambda a: talib.MACD(a["close"], 12, 26, 9)[2]),
    "plus_di_14": ("PLUS_DI", lambda a: talib.PLUS_DI(a["high"], a["low"], a["close"], 14)),
    "minus_di_14": ("MINUS_DI", lambda a: talib.MINUS_DI(a["high"], a["low"], a["close"], 14)),
    "adx_14": ("ADX", lambda a: talib.ADX(a["high"], a["low"], a["close"], 14)),
    "adxr_14": ("ADXR", lambda a: talib.ADXR(a["high"], a["low"], a["close"], 14)),
    "aroon_up_14": ("AROON", lambda a: talib.AROON(a["high"], a["low"], 14)[1]),
    "aroon_down_14": ("AROON", lambda a: talib.AROON(a["high"], a["low"], 14)[0]),
    "aroon_osc_14": ("AROONOSC", lambda a: talib.AROONOSC(a["high"], a["low"], 14)),
    "true_range": ("TRANGE", lambda a: talib.TRANGE(a["high"], a["low"], a["close"])),
    "atr_14": ("ATR", lambda a: talib.ATR(a["high"], a["low"], a["close"], 14)),
    "natr_14": ("NATR", lambda a: talib.NATR(a["high"], a["low"], a["close"], 14)),
    "stddev_20": ("STDDEV", lambda a: talib.STDDEV(a["close"], 20, 1)),
    "bb_upper_20": ("BBANDS", lambda a: talib.BBANDS(a["close"], 20, 2, 2, 0)[0]),
    "bb_lower_20": ("BBANDS", lambda a: talib.BBANDS(a["close"], 20, 2, 2, 0)[2]),
    "obv": ("OBV", lambda a: talib.OBV(a["close"], a["volume"])),
    "ad": ("AD", lambda a: talib.AD(a["high"], a["low"], a["close"], a["volume"])),
    "adosc_3_10": ("ADOSC", lambda a: talib.ADOSC(a["high"], a["low"], a["close"],
                                                  a["volume"], 3, 10)),
    "ret_1": ("ROCP", lambda a: talib.ROCP(a["close"], 1)),
    "ret_5": ("ROCP", lambda a: talib.ROCP(a["close"], 5)),
    "ret_10": ("ROCP", lambda a: talib.ROCP(a["close"], 10)),
    "ret_21": ("ROCP", lambda a: talib.ROCP(a["close"], 21)),
    "ret_63": ("ROCP", lambda a: talib.ROCP(a["close"], 63)),
}

#: features built from TA-Lib outputs by a stated formula: feature -> formula on TA-Lib
DERIVED = {
    "bb_pctb_20": lambda a: _pctb(a["close"], *talib.BBANDS(a["close"], 20, 2, 2, 0)),
    "bb_width_20": lambda a: _width(*talib.BBANDS(a["close"], 20, 2, 2, 0)),
    "dist_sma_50": lambda a: a["close"] / talib.SMA(a["close"], 50) - 1.0,
    "dist_ema_26": lambda a: a["close"] / talib.EMA(a["close"], 26) - 1.0,
    "kc_upper_20": lambda a: talib.EMA(a["close"], 20) + 2 * talib.ATR(
        a["high"], a["low"], a["close"], 10),
    "kc_lower_20": lambda a: talib.EMA(a["close"], 20) - 2 * talib.ATR(
        a["high"], a["low"], a["close"], 10),
    "sma_cross_10_50": lambda a: np.sign(talib.SMA(a["close"], 10) - talib.SMA(a["close"], 50)),
}


def _pctb(close, upper, middle, lower):
    return (close - lower) / (upper - lower)


def _width(upper, middle, lower):
    return (upper - lower) / middle


@pytest.fixture(scope="module")
def sample(real_bars, sample_symbols):
    bars = real_bars[real_bars["symbol"].isin(sample_symbols)]
    return bars, features.compute(bars, [*TALIB, *DERIVED])


def test_the_sample_is_twenty_real_symbols_with_a_year_each(sample, sample_symbols):
    bars, _ = sample
    assert len(sample_symbols) == 20
    assert bars.groupby("symbol").size().min() >= 240


@pytest.mark.parametrize("name", sorted(TALIB))
def test_feature_agrees_with_talib_on_real_data(name, sample, sample_symbols, arrays_of):
    bars, out = sample
    _, call = TALIB[name]
    for symbol in sample_symbols:
        index, arrays = arrays_of(bars, symbol)
        ours = out.loc[index, name].to_numpy()
        ref = call(arrays)
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref), err_msg=f"{name} {symbol}")
        valid = ~np.isnan(ref)
        assert valid.sum() > 0
        np.testing.assert_allclose(ours[valid], ref[valid], rtol=RTOL, atol=ATOL,
                                   err_msg=f"{name} {symbol}")


@pytest.mark.parametrize("name", sorted(DERIVED))
def test_feature_built_from_talib_outputs_agrees(name, sample, sample_symbols, arrays_of):
    bars, out = sample
    for symbol in sample_symbols:
        index, arrays = arrays_of(bars, symbol)
        ours = out.loc[index, name].to_numpy()
        ref = DERIVED[name](arrays)
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref), err_msg=f"{name} {symbol}")
        valid = ~np.isnan(ref)
        np.testing.assert_allclose(ours[valid], ref[valid], rtol=1e-8, atol=1e-12,
                                   err_msg=f"{name} {symbol}")


@pytest.mark.parametrize("name", sorted(TALIB))
def test_declared_warmup_equals_talib_lookback(name):
    spec = next(s for s in features.describe() if s.name == name)
    function, _ = TALIB[name]
    ta = abstract.Function(function)
    ta.set_parameters(_talib_params(name))
    assert spec.warmup == ta.lookback, (name, spec.warmup, ta.lookback)
    assert spec.talib is not None and spec.talib.startswith(function)


def _talib_params(name: str) -> dict:
    digits = [int(p) for p in name.split("_") if p.isdigit()]
    if name.startswith(("stoch_k", "stoch_d")):
        return {"fastk_period": 14, "slowk_period": 3, "slowd_period": 3}
    if name.startswith("stoch_fastk"):
        return {"fastk_period": 14, "fastd_period": 1}
    if name.startswith("macd"):
        return {"fastperiod": 12, "slowperiod": 26, "signalperiod": 9}
    if name.startswith("adosc"):
        return {"fastperiod": 3, "slowperiod": 10}
    if name.startswith(("bb_", "stddev")):
        return {"timeperiod": 20}
    return {"timeperiod": digits[-1]} if digits else {}
