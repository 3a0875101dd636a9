"""The grade: scores hand-computed from the band table in grade.py's docstring, level
boundaries, and how missing metrics count for ML and benchmark strategies."""

import math

import pandas as pd
import pytest

from alphaloop.grading.grade import COMPONENTS, GradeLevel, grade
from alphaloop.grading.metrics import compute_metrics

# One value per component, each placed so its band score is easy to read off by hand.
MIXED = {
    "sharpe": 0.75,  # between 0.5 -> 0.4 and 1 -> 0.7: 0.55, x14 = 7.70
    "sortino": 1.5,  # anchor: 0.7, x6 = 4.20
    "calmar": 0.5,  # anchor: 0.5, x5 = 2.50
    "max_drawdown": -0.15,  # between -0.2 -> 0.5 and -0.1 -> 0.8: 0.65, x10 = 6.50
    "win_rate": 0.52,  # 0.5 + 0.3 * 0.4 = 0.62, x4 = 2.48
    "profit_factor": 1.2,  # anchor: 0.5, x5 = 2.50
    "auc": 0.535,  # halfway 0.4 -> 0.7: 0.55, x8 = 4.40
    "accuracy": 0.51,  # anchor: 0.4, x4 = 1.60
    "probabilistic_sharpe": 0.95,  # anchor: 1, x5 = 5.00
    "deflated_sharpe": 0.725,  # halfway 0.5 -> 0.95: 0.5, x10 = 5.00
    "alpha_half_life": 5.0,  # anchor: 0.6, x4 = 2.40
    "regime_consistency": 2 / 3,  # 2/3, x6 = 4.00
    "conviction_accuracy_corr": 0.05,  # halfway 0 -> 0.6: 0.3, x4 = 1.20
    "tail_capture": 0.25,  # halfway 1 -> 0.5: 0.75, x5 = 3.75
    "crowding": 0.35,  # halfway 1 -> 0.5: 0.75, x4 = 3.00
    "capacity": 1e6,  # log10 = 6, anchor: 0.5, x6 = 3.00
}
MIXED_SCORE = 59.23
SIGNAL_METRICS = ("auc", "accuracy", "alpha_half_life", "conviction_accuracy_corr")
SIGNAL_POINTS = 4.40 + 1.60 + 2.40 + 1.20


def test_weights_sum_to_100():
    assert sum(c.weight for c in COMPONENTS) == 100


def test_mixed_metrics_score_the_hand_computed_total():
    g = grade(MIXED)
    assert g.score == pytest.approx(MIXED_SCORE, abs=1e-9)
    assert g.level is GradeLevel.DEVELOPING
    assert g.components["sharpe"].score == pytest.approx(0.55, abs=1e-12)
    assert g.components["max_drawdown"].points == pytest.approx(6.5, abs=1e-12)
    assert g.components["capacity"].score == pytest.approx(0.5, abs=1e-12)
    assert g.metrics == MIXED and g.missing == () and g.excluded == ()


def test_every_metric_at_its_best_anchor_or_beyond_scores_100():
    best = {"sharpe": 2.0, "sortino": 5.0, "calmar": 2.0, "max_drawdown": 0.0, "win_rate": 0.6,
            "profit_factor": math.inf, "auc": 0.7, "accuracy": 0.56, "probabilistic_sharpe": 1.0,
            "deflated_sharpe": 0.99, "alpha_half_life": math.inf, "regime_consistency": 1.0,
            "conviction_accuracy_corr": 0.3, "tail_capture": -0.2, "crowding": 0.0,
            "capacity": math.inf}
    g = grade(best)
    assert g.score == pytest.approx(100.0, abs=1e-9)
    assert g.level is GradeLevel.ELITE


def test_every_metric_at_its_worst_anchor_or_beyond_scores_0():
    worst = {"sharpe": -1.0, "sortino": 0.0, "calmar": -0.5, "max_drawdown": -0.6, "win_rate": 0.3,
             "profit_factor": 0.8, "auc": 0.45, "accuracy": 0.5, "probabilistic_sharpe": 0.2,
             "deflated_sharpe": 0.5, "alpha_half_life": 0.0, "regime_consistency": 0.0,
             "conviction_accuracy_corr": -0.1, "tail_capture": 1.3, "crowding": 0.95,
             "capacity": 0.0}
    g = grade(worst)
    assert g.score == 0.0
    assert g.level is GradeLevel.FAILED


def test_a_benchmark_strategy_is_graded_on_the_components_it_has():
    benchmark = {k: v for k, v in MIXED.items() if k not in SIGNAL_METRICS}
    g = grade(benchmark, ml=False)
    # 80 weight points remain; the non-signal points are renormalised to 100.
    assert g.score == pytest.approx((MIXED_SCORE - SIGNAL_POINTS) / 80 * 100, abs=1e-9)
    assert g.score == pytest.approx(62.0375, abs=1e-9)
    assert set(g.excluded) == {"auc", "accuracy", "alpha_half_life", "calibration"}
    assert sum(c.weight for c in g.components.values()) == pytest.approx(100.0)


def test_an_ml_strategy_without_its_signal_metrics_scores_zero_on_them():
    g = grade({k: v for k, v in MIXED.items() if k not in SIGNAL_METRICS}, ml=True)
    assert g.score == pytest.approx(MIXED_SCORE - SIGNAL_POINTS, abs=1e-9)  # 49.63
    assert g.level is GradeLevel.INADEQUATE
    assert set(g.missing) == {"auc", "accuracy", "alpha_half_life", "calibration"}


def test_nan_counts_as_missing_even_for_benchmarks_outside_the_signal_group():
    g = grade(MIXED | {"calmar": float("nan"), "auc": float("nan")}, ml=False)
    # calmar (5 points of weight) scores 0; auc is left out: 92 weight points remain.
    expected = (MIXED_SCORE - 2.5 - 4.4) / 92 * 100
    assert g.score == pytest.approx(expected, abs=1e-9)
    assert g.missing == ("calmar",) and g.excluded == ("auc",)


@pytest.mark.parametrize(("score", "level"), [
    (100.0, GradeLevel.ELITE), (85.0, GradeLevel.ELITE),
    (84.999, GradeLevel.BATTLE_READY), (70.0, GradeLevel.BATTLE_READY),
    (69.999, GradeLevel.DEVELOPING), (50.0, GradeLevel.DEVELOPING),
    (49.999, GradeLevel.INADEQUATE), (30.0, GradeLevel.INADEQUATE),
    (29.999, GradeLevel.FAILED), (0.0, GradeLevel.FAILED),
])
def test_level_boundaries(score, level):
    assert GradeLevel.from_score(score) is level


def test_grade_of_computed_metrics_runs_end_to_end():
    returns = pd.Series([0.004, -0.002, 0.003, -0.001, 0.002] * 50)
    g = grade(compute_metrics(returns), ml=False)
    assert 0.0 <= g.score <= 100.0
    assert "crowding" in g.missing  # no benchmark given: what was not measured earns nothing
