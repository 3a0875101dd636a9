"""Win rate, profit factor, turnover and capacity on small cases computed by hand."""

import math

import numpy as np
import pandas as pd
import pytest

from alphaloop.grading import metrics
from alphaloop.grading.metrics import trading


def test_win_rate_and_profit_factor_over_days_ignore_flat_days():
    days = [0.01, -0.02, 0.0, 0.03, -0.01]
    assert metrics.win_rate(days) == 0.5  # 2 wins of 4 decided days
    assert metrics.profit_factor(days) == pytest.approx(0.04 / 0.03, rel=1e-12)


def test_compute_metrics_uses_trades_when_given_and_days_otherwise():
    days = pd.Series([0.01, -0.02, 0.0, 0.03, -0.01])
    trades = pd.DataFrame({"pnl": [100.0, -50.0, 0.0, 25.0]})
    by_day = metrics.compute_metrics(days)
    by_trade = metrics.compute_metrics(days, trades=trades)
    assert by_day["win_rate"] == 0.5 and "n_trades" not in by_day
    assert by_trade["win_rate"] == pytest.approx(2 / 3, rel=1e-12)
    assert by_trade["profit_factor"] == 2.5  # 125 / 50
    assert by_trade["n_trades"] == 4


def test_profit_factor_without_losses_is_infinite_and_without_trades_undefined():
    assert metrics.profit_factor([0.01, 0.0]) == math.inf
    assert math.isnan(metrics.profit_factor([0.0, 0.0]))
    assert math.isnan(metrics.win_rate([0.0]))


def test_turnover_of_a_book_moved_from_one_name_to_another():
    # Bar 0 builds A from cash (1/2 of |dw| = 0.5), bar 2 moves A -> B (1.0): 1.5 over 4 bars.
    weights = pd.DataFrame({"A": [1.0, 1.0, 0.0, 0.0], "B": [0.0, 0.0, 1.0, 1.0]})
    assert metrics.turnover(weights) == pytest.approx(1.5 * 252 / 4, rel=1e-12)


def test_turnover_of_one_name_going_long_short_flat():
    # |dw| = 0.5, 0, 1.0, 0.5 -> one-way 1.0 over 4 bars.
    assert metrics.turnover(pd.Series([0.5, 0.5, -0.5, 0.0])) == pytest.approx(63.0, rel=1e-12)


def test_capacity_by_hand():
    # alpha 10%/yr, one-way turnover 12.6/yr -> q = 2 * 12.6 / 252 = 0.1 of capital a day;
    # ADV $1m, sigma 2%/day, k = 1: C* = 1e6 * 0.1^2 / (4 * 252^2 * 0.02^2 * 0.1^3).
    c = metrics.capacity(0.10, 12.6, 1e6, 0.02, k=1.0)
    assert c == pytest.approx(1e4 / (4 * 63504 * 0.0004 * 0.001), rel=1e-12)
    assert c == pytest.approx(98418.99, rel=1e-6)
    # At that capital the impact really eats half the alpha: 252 days * q * k sigma sqrt(C q/ADV).
    assert 252 * 0.1 * 0.02 * math.sqrt(c * 0.1 / 1e6) == pytest.approx(0.05, rel=1e-12)


def test_capacity_from_positions_equals_the_closed_form_for_one_name_traded_evenly():
    weights = pd.Series([0.1, 0.0] * 126)  # |dw| = 0.1 every bar, turnover 12.6 a year
    assert metrics.turnover(weights) == pytest.approx(12.6, rel=1e-12)
    c = metrics.capacity_from_positions(0.10, weights, adv=1e6, sigma=0.02)
    assert c == pytest.approx(metrics.capacity(0.10, 12.6, 1e6, 0.02), rel=1e-12)


def test_capacity_is_set_by_the_least_liquid_names():
    dates = pd.RangeIndex(4)
    weights = pd.DataFrame({"LIQ": [0.5, -0.5, 0.5, -0.5], "ILLIQ": [0.5, -0.5, 0.5, -0.5]},
                           index=dates)
    adv = pd.Series({"LIQ": 1e9, "ILLIQ": 1e6})
    sigma = pd.Series({"LIQ": 0.02, "ILLIQ": 0.02})
    # |dw| = 0.5, 1, 1, 1 per name; B = k * 252/4 * sigma * sum |dw|^1.5 * (1/sqrt(ADV) summed).
    b = 252 / 4 * 0.02 * (0.5**1.5 + 3.0) * (1 / math.sqrt(1e9) + 1 / math.sqrt(1e6))
    assert trading.impact_coefficient(weights, adv, sigma) == pytest.approx(b, rel=1e-12)
    assert metrics.capacity_from_positions(0.2, weights, adv, sigma) == pytest.approx(
        (0.2 / (2 * b)) ** 2, rel=1e-12)


def test_capacity_edge_cases():
    assert metrics.capacity(-0.01, 10.0, 1e6, 0.02) == 0.0
    assert metrics.capacity(0.1, 0.0, 1e6, 0.02) == math.inf
    flat = pd.DataFrame({"A": [0.0, 0.0]})
    assert metrics.capacity_from_positions(0.1, flat, 1e6, 0.02) == math.inf
    with pytest.raises(ValueError, match="adv is missing"):
        metrics.capacity_from_positions(0.1, pd.DataFrame({"A": [1.0, 0.0]}),
                                        pd.Series({"B": 1e6}), 0.02)


def test_compute_metrics_reports_turnover_and_capacity_from_gross_alpha():
    returns = pd.Series(np.r_[0.002, -0.001] * 126)
    gross = returns + 0.0005
    weights = pd.Series([0.1, 0.0] * 126)
    m = metrics.compute_metrics(returns, positions=weights, gross_returns=gross, adv=1e6,
                                sigma=0.02)
    alpha = gross.mean() * 252
    assert m["turnover"] == pytest.approx(12.6, rel=1e-12)
    assert m["capacity"] == pytest.approx(metrics.capacity(alpha, 12.6, 1e6, 0.02), rel=1e-12)


def test_backtester_trades_count_closed_round_trips_by_net_pnl():
    # The backtester's trades frame: net_pnl after costs; an open trip (exit_ts NaT) is a mark.
    trades = pd.DataFrame({
        "gross_pnl": [120.0, -40.0, 10.0, 500.0],
        "net_pnl": [100.0, -60.0, -5.0, 480.0],
        "exit_ts": pd.to_datetime(["2010-01-05", "2010-01-08", "2010-01-12", None]),
    })
    m = metrics.compute_metrics(pd.Series([0.01, -0.01, 0.02]), trades=trades)
    assert m["n_trades"] == 3
    assert m["win_rate"] == pytest.approx(1 / 3, rel=1e-12)  # the 10 gross became -5 net
    assert m["profit_factor"] == pytest.approx(100 / 65, rel=1e-12)


def test_position_weights_from_shares():
    dates = pd.RangeIndex(2)
    shares = pd.DataFrame({"A": [10.0, 0.0], "B": [-5.0, 20.0]}, index=dates)
    close = pd.DataFrame({"A": [50.0, np.nan], "B": [20.0, 25.0]}, index=dates)
    equity = pd.Series([1000.0, 2000.0], index=dates)
    weights = metrics.position_weights(shares, close, equity)
    # bar 0: 500 / 1000 and -100 / 1000; bar 1: A is flat (its missing price does not matter).
    expected = pd.DataFrame({"A": [0.5, 0.0], "B": [-0.1, 0.25]}, index=dates)
    pd.testing.assert_frame_equal(weights, expected)
