"""The shared fill model (alphaloop.common.fills), against hand calculations. Each function is
checked both as compiled by numba and as its plain-Python source (``py_func``), since the
simulated venue may call either."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from alphaloop.common import fills
from alphaloop.common.fills import (
    NO_TRIGGER,
    REASON_STOP,
    REASON_TAKE_PROFIT,
    borrow_cost,
    bracket_fill_price,
    bracket_levels,
    bracket_trigger,
    commission,
    fill_price,
    participation_cap,
    round_to_lot,
    sqrt_impact,
)

BOTH = pytest.mark.parametrize("compiled", [True, False], ids=["numba", "python"])


def _f(func, compiled):
    return func if compiled else func.py_func


@BOTH
def test_fill_price_buy_pays_half_spread_and_impact(compiled):
    # 100 * (1 + 5 bps + 0.0005) = 100 * 1.001 = 100.1
    assert _f(fill_price, compiled)(1, 100.0, 5.0, 0.0005) == pytest.approx(100.1, rel=1e-14)


@BOTH
def test_fill_price_sell_receives_less(compiled):
    # 50 * (1 - 10 bps - 0.002) = 50 * 0.997 = 49.85
    assert _f(fill_price, compiled)(-1, 50.0, 10.0, 0.002) == pytest.approx(49.85, rel=1e-14)


@BOTH
def test_sqrt_impact_hand_value(compiled):
    # k=0.5, sigma=2%, 10,000 of 1,000,000 ADV: 0.5 * 0.02 * sqrt(0.01) = 0.001
    impact = _f(sqrt_impact, compiled)
    assert impact(0.5, 0.02, 10_000.0, 1_000_000.0) == pytest.approx(0.001, rel=1e-14)
    assert impact(0.5, 0.02, -10_000.0, 1_000_000.0) == pytest.approx(0.001, rel=1e-14)


@BOTH
def test_sqrt_impact_is_zero_when_off_and_nan_when_unknowable(compiled):
    impact = _f(sqrt_impact, compiled)
    assert impact(0.0, math.nan, 100.0, 0.0) == 0.0
    assert impact(0.5, 0.02, 0.0, 1e6) == 0.0
    assert math.isnan(impact(0.5, math.nan, 100.0, 1e6))
    assert math.isnan(impact(0.5, 0.02, 100.0, 0.0))
    assert math.isnan(impact(0.5, 0.02, 100.0, math.nan))


@BOTH
def test_commission_per_share_bps_and_minimum(compiled):
    fee = _f(commission, compiled)
    assert fee(100.0, 50.0, 0.005, 0.0, 1.0) == 1.0  # 0.50 per-share fee, lifted to the $1 min
    assert fee(-1000.0, 50.0, 0.005, 0.0, 1.0) == pytest.approx(5.0)  # 1000 * 0.005
    assert fee(1000.0, 50.0, 0.0, 2.0, 0.0) == pytest.approx(10.0)  # 2 bps of 50,000
    assert fee(1000.0, 50.0, 0.005, 2.0, 0.0) == pytest.approx(15.0)  # both add
    assert fee(0.0, 50.0, 0.005, 2.0, 1.0) == 0.0  # no fill, no minimum


@BOTH
def test_round_to_lot_rounds_toward_zero(compiled):
    lot = _f(round_to_lot, compiled)
    assert lot(257.9, 100.0) == 200.0
    assert lot(-257.9, 100.0) == -200.0
    assert lot(99.0, 100.0) == 0.0
    assert lot(300.0, 100.0) == 300.0
    assert lot(12.34, 0.0) == 12.34


@BOTH
def test_participation_cap_limits_to_share_of_bar_volume(compiled):
    cap = _f(participation_cap, compiled)
    assert cap(1000.0, 6000.0, 0.1, 0.0, 0.0) == pytest.approx(600.0)  # 10% of 6,000
    assert cap(-1000.0, 6000.0, 0.1, 0.0, 0.0) == pytest.approx(-600.0)
    assert cap(400.0, 6000.0, 0.1, 0.0, 0.0) == 400.0  # fits: unchanged
    assert cap(1000.0, 6000.0, 0.1, 250.0, 0.0) == pytest.approx(350.0)  # 250 already used
    assert cap(1000.0, 6000.0, 0.1, 600.0, 0.0) == 0.0  # bar's share used up
    assert cap(1000.0, 6550.0, 0.1, 0.0, 100.0) == 600.0  # 655 rounded down to whole lots
    assert cap(1000.0, 0.0, 0.1, 0.0, 0.0) == 0.0  # no volume, no fill
    assert cap(1000.0, 10.0, math.inf, 0.0, 0.0) == 1000.0  # no cap


@BOTH
def test_bracket_levels_long_and_short(compiled):
    levels = _f(bracket_levels, compiled)
    assert levels(1.0, 50.0, 0.1, 0.2) == pytest.approx((45.0, 60.0))
    assert levels(-1.0, 50.0, 0.1, 0.2) == pytest.approx((55.0, 40.0))
    stop, take = levels(1.0, 50.0, math.nan, 0.0)
    assert math.isnan(stop) and math.isnan(take)


# (side, open, high, low, stop, take) -> (reason, price); levels 45 / 60 for a long,
# 55 / 40 for a short.
TRIGGERS = [
    ((1, 50, 55, 46, 45, 60), (NO_TRIGGER, None)),  # inside both levels
    ((1, 50, 55, 44, 45, 60), (REASON_STOP, 45.0)),  # low through the stop
    ((1, 50, 61, 46, 45, 60), (REASON_TAKE_PROFIT, 60.0)),  # high through the take-profit
    ((1, 50, 61, 44, 45, 60), (REASON_STOP, 45.0)),  # both in one bar: the stop
    ((1, 40, 41, 39, 45, 60), (REASON_STOP, 40.0)),  # gap below the stop: the open
    ((1, 65, 66, 40, 45, 60), (REASON_TAKE_PROFIT, 65.0)),  # gap above the take: the open
    ((1, 50, 55, 45, 45, 60), (REASON_STOP, 45.0)),  # touching the level counts
    ((-1, 50, 54, 41, 55, 40), (NO_TRIGGER, None)),
    ((-1, 50, 56, 41, 55, 40), (REASON_STOP, 55.0)),  # high through a short's stop
    ((-1, 50, 54, 39, 55, 40), (REASON_TAKE_PROFIT, 40.0)),
    ((-1, 50, 56, 39, 55, 40), (REASON_STOP, 55.0)),  # both: the stop
    ((-1, 58, 59, 57, 55, 40), (REASON_STOP, 58.0)),  # gap above a short's stop
    ((-1, 38, 39, 37, 55, 40), (REASON_TAKE_PROFIT, 38.0)),
    ((1, 50, 70, 30, math.nan, math.nan), (NO_TRIGGER, None)),  # no levels
    ((1, 50, 70, 30, math.nan, 60), (REASON_TAKE_PROFIT, 60.0)),  # take-profit only
]


@BOTH
@pytest.mark.parametrize(("bar", "expected"), TRIGGERS)
def test_bracket_trigger(compiled, bar, expected):
    reason, price = _f(bracket_trigger, compiled)(*(float(x) for x in bar))
    assert reason == expected[0]
    if expected[1] is None:
        assert math.isnan(price)
    else:
        assert price == expected[1]


@BOTH
def test_bracket_fill_price_stop_pays_spread_take_profit_does_not(compiled):
    price = _f(bracket_fill_price, compiled)
    # selling a long out at a 45 stop with 10 bps half spread: 45 * 0.999 = 44.955
    assert price(-1.0, REASON_STOP, 45.0, 10.0, 0.0) == pytest.approx(44.955)
    assert price(-1.0, REASON_TAKE_PROFIT, 60.0, 10.0, 0.01) == 60.0


@BOTH
def test_borrow_cost_only_on_shorts(compiled):
    fee = _f(borrow_cost, compiled)
    # 100 shares short at 50, 25.2% a year over 252 bars: 5,000 * 0.001 = 5
    assert fee(-100.0, 50.0, 0.252, 252.0) == pytest.approx(5.0)
    assert fee(100.0, 50.0, 0.252, 252.0) == 0.0


def test_every_public_function_is_callable_from_numba_code():
    @njit
    def venue_step():
        imp = sqrt_impact(0.5, 0.02, 100.0, 1e4)
        px = fill_price(1, 10.0, 5.0, imp)
        q = participation_cap(500.0, 1000.0, 0.1, 0.0, 0.0)
        fee = commission(q, px, 0.01, 0.0, 1.0)
        stop, take = bracket_levels(1.0, px, 0.05, 0.1)
        reason, ref = bracket_trigger(1.0, px, px, stop - 1.0, stop, take)
        out = bracket_fill_price(-1.0, reason, ref, 5.0, imp)
        return out + fee + borrow_cost(-q, px, 0.01, 252.0) + round_to_lot(q, 10.0)

    assert np.isfinite(venue_step())
    assert fills.REASON_NAMES[REASON_STOP] == "stop"


@settings(max_examples=200, deadline=None)
@given(side=st.sampled_from([1.0, -1.0]),
       prices=st.lists(st.floats(1.0, 200.0), min_size=4, max_size=4),
       stop=st.floats(0.01, 0.5), take=st.floats(0.01, 0.5))
def test_bracket_trigger_compiled_matches_python_and_never_beats_the_bar(side, prices, stop,
                                                                          take):
    open_ = prices[0]
    high, low = max(prices), min(prices)
    stop_lvl, take_lvl = bracket_levels(side, 100.0, stop, take)
    got = bracket_trigger(side, open_, high, low, stop_lvl, take_lvl)
    ref = bracket_trigger.py_func(side, open_, high, low, stop_lvl, take_lvl)
    assert got[0] == ref[0] and (got[1] == ref[1] or (math.isnan(got[1]) and math.isnan(ref[1])))
    if got[0] != NO_TRIGGER:
        assert low <= got[1] <= high  # an exit price the bar actually traded


def test_fill_model_works_without_numba():
    # The execution extra does not install numba: the module must fall back to plain Python.
    import subprocess
    import sys

    code = ("import sys; sys.modules['numba'] = None\n"
            "from alphaloop.common import fills\n"
            "assert not hasattr(fills.fill_price, 'py_func')\n"
            "print(fills.fill_price(1, 100.0, 5.0, 0.0005), "
            "fills.bracket_trigger(1.0, 50.0, 61.0, 44.0, 45.0, 60.0))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["100.1", "(1,", "45.0)"]
