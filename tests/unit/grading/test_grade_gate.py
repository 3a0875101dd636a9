"""The promotion gate: defaults, pass / fail at the boundaries, failure lines, missing metrics."""

import dataclasses

import numpy as np
import pytest

from alphaloop.grading.gate import PromotionGate
from alphaloop.grading.grade import GradeLevel, grade
from alphaloop.grading.metrics import compute_metrics

PASSING = {"auc": 0.55, "accuracy": 0.52, "sharpe": 1.1, "max_drawdown": -0.12,
           "deflated_sharpe": 0.8}


def test_defaults_are_the_operating_guides_plus_dsr():
    gate = PromotionGate()
    assert (gate.min_auc, gate.min_accuracy, gate.min_sharpe, gate.max_drawdown,
            gate.min_deflated_sharpe) == (0.52, 0.51, 0.5, 0.20, 0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        gate.min_sharpe = 0.0


def test_a_strategy_clearing_every_floor_passes():
    result = PromotionGate().evaluate(PASSING)
    assert result.passed and result.failures == () and result.skipped == ()


def test_each_failure_is_one_line_with_value_and_threshold():
    metrics = {"auc": 0.49, "accuracy": 0.505, "sharpe": 0.31, "max_drawdown": -0.25,
               "deflated_sharpe": 0.42}
    result = PromotionGate().evaluate(metrics)
    assert not result.passed
    assert result.failures == (
        "auc 0.49 < 0.52",
        "accuracy 0.505 < 0.510",  # 0.505 would print as 0.51: one more decimal tells them apart
        "sharpe 0.31 < 0.50",
        "max_drawdown -0.25 < -0.20",
        "deflated_sharpe 0.42 <= 0.50",
    )


def test_boundaries_inclusive_floors_and_a_strict_dsr():
    at_floor = {"auc": 0.52, "accuracy": 0.51, "sharpe": 0.5, "max_drawdown": -0.2,
                "deflated_sharpe": 0.5}
    result = PromotionGate().evaluate(at_floor)
    assert result.failures == ("deflated_sharpe 0.5 <= 0.5",)
    assert PromotionGate().evaluate(at_floor | {"deflated_sharpe": 0.5001}).passed


def test_missing_metrics_fail_an_ml_strategy():
    metrics = {k: v for k, v in PASSING.items() if k != "auc"} | {"accuracy": float("nan")}
    result = PromotionGate().evaluate(metrics, ml=True)
    assert result.failures == ("auc missing", "accuracy missing")


def test_missing_signal_metrics_are_skipped_for_a_benchmark_strategy():
    metrics = {k: v for k, v in PASSING.items() if k not in ("auc", "accuracy")}
    result = PromotionGate().evaluate(metrics, ml=False)
    assert result.passed and result.skipped == ("auc", "accuracy")
    # Present signal metrics are still checked, and a missing Sharpe fails any strategy.
    result = PromotionGate().evaluate(metrics | {"auc": 0.4, "sharpe": None}, ml=False)
    assert result.failures == ("auc 0.40 < 0.52", "sharpe missing")


def test_thresholds_are_configurable_and_none_disables_a_check():
    gate = PromotionGate(min_sharpe=1.5, min_auc=None, max_drawdown=0.10)
    result = gate.evaluate(PASSING | {"auc": 0.3})
    assert result.failures == ("sharpe 1.10 < 1.50", "max_drawdown -0.12 < -0.10")


def test_a_strategy_that_never_traded_is_graded_failed_and_refused():
    m = compute_metrics(np.zeros(100), benchmark=np.linspace(-0.01, 0.01, 100))
    assert np.isnan(m["sharpe"]) and np.isnan(m["deflated_sharpe"])
    assert grade(m, ml=False).level is GradeLevel.FAILED
    assert PromotionGate().evaluate(m, ml=False).failures == ("sharpe missing",
                                                               "deflated_sharpe missing")
