"""How the Backtest RPC reads its two cost fields (negative: the graded cost model, 0: none,
positive: that many bps), against configs written out by hand from the documented rule and
the pipeline's documented costs (5 bps half spread, k = 0.1, $0.005 a share with a $1 minimum,
1% a year borrow)."""

import dataclasses
import math

import pytest

from alphaloop.common.errors import InvalidInputError
from alphaloop.grading.api import request_costs
from alphaloop.grading.backtest import BacktestConfig

SPREAD_AND_IMPACT = {"half_spread_bps": 5.0, "impact_k": 0.1}
COMMISSION = {"commission_per_share": 0.005, "commission_min": 1.0}
BORROW = {"borrow_rate_annual": 0.01}


@pytest.mark.parametrize(("commission_bps", "slippage_bps", "expected"), [
    (-1.0, -1.0, BacktestConfig(**SPREAD_AND_IMPACT, **COMMISSION, **BORROW)),
    (-0.001, -250.0, BacktestConfig(**SPREAD_AND_IMPACT, **COMMISSION, **BORROW)),
    (0.0, 0.0, BacktestConfig()),
    (3.0, 7.5, BacktestConfig(half_spread_bps=7.5, commission_bps=3.0)),
    (-1.0, 0.0, BacktestConfig(**COMMISSION, **BORROW)),
    (0.0, -1.0, BacktestConfig(**SPREAD_AND_IMPACT, **BORROW)),
    (-1.0, 2.0, BacktestConfig(half_spread_bps=2.0, **COMMISSION, **BORROW)),
    (4.0, -1.0, BacktestConfig(**SPREAD_AND_IMPACT, commission_bps=4.0, **BORROW)),
])
def test_each_field_is_default_when_negative_zero_when_zero_else_its_bps(
        commission_bps, slippage_bps, expected):
    assert request_costs(commission_bps, slippage_bps) == expected


def test_both_negative_is_the_graded_model_and_both_zero_frictionless():
    from alphaloop.grading.pipeline import COSTS, FRICTIONLESS

    assert request_costs(-1.0, -1.0) == COSTS
    assert request_costs(0.0, 0.0) == FRICTIONLESS


@pytest.mark.parametrize(("commission_bps", "slippage_bps", "field"), [
    (math.nan, 0.0, "commission_bps"),
    (0.0, math.inf, "slippage_bps"),
    (-math.inf, 0.0, "commission_bps"),
])
def test_non_finite_cost_is_invalid_input_naming_the_field(commission_bps, slippage_bps, field):
    with pytest.raises(InvalidInputError) as err:
        request_costs(commission_bps, slippage_bps)
    assert err.value.field == field


def test_every_cost_field_of_the_backtester_is_reported_by_the_rpc():
    """The reply's ``cost_*`` metrics name every cost of BacktestConfig: a new cost field must
    be added to the reply (and to this list) so a caller can see it."""
    costs = {"half_spread_bps", "impact_k", "commission_bps", "commission_per_share",
             "commission_min", "borrow_rate_annual"}
    fill_rules = {"volatility_window", "adv_window", "min_history", "max_participation",
                  "lot_size", "stop_loss", "take_profit", "periods_per_year"}
    assert {f.name for f in dataclasses.fields(BacktestConfig)} == costs | fill_rules
