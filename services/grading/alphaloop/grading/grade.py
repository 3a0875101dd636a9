"""The grade: one 0-100 score of a strategy's out-of-sample metrics, and its level.

Each component maps one metric to [0, 1] by linear interpolation between anchors
(value -> component score), flat beyond the first and last anchor; the score is
``100 * sum(weight * component) / sum(weight)`` over the components that count.

======================  ==========================  =====================================  ======
component               metric                      anchors (metric -> component score)    weight
======================  ==========================  =====================================  ======
sharpe                  sharpe                      0 -> 0, 0.5 -> 0.4, 1 -> 0.7, 2 -> 1       14
sortino                 sortino                     0 -> 0, 0.75 -> 0.4, 1.5 -> 0.7, 3 -> 1     6
calmar                  calmar                      0 -> 0, 0.5 -> 0.5, 1 -> 0.75, 2 -> 1       5
max_drawdown            max_drawdown (<= 0)         -0.4 -> 0, -0.2 -> 0.5, -0.1 -> 0.8,       10
                                                    -0.05 -> 1
win_rate                win_rate                    0.4 -> 0, 0.5 -> 0.5, 0.55 -> 0.8,          4
                                                    0.6 -> 1
profit_factor           profit_factor               1 -> 0, 1.2 -> 0.5, 1.5 -> 0.8, 2 -> 1      5
auc *                   auc                         0.5 -> 0, 0.52 -> 0.4, 0.55 -> 0.7,         8
                                                    0.6 -> 1
accuracy *              accuracy                    0.5 -> 0, 0.51 -> 0.4, 0.53 -> 0.7,         4
                                                    0.56 -> 1
probabilistic_sharpe    probabilistic_sharpe        0.5 -> 0, 0.95 -> 1                         5
deflated_sharpe         deflated_sharpe             0.5 -> 0, 0.95 -> 1                        10
alpha_half_life *       alpha_half_life (bars)      1 -> 0, 5 -> 0.6, 20 -> 1                   4
regime_consistency      regime_consistency          0 -> 0, 1 -> 1                              6
calibration *           conviction_accuracy_corr    0 -> 0, 0.1 -> 0.6, 0.2 -> 1                4
tail_survival           tail_capture                0 -> 1, 0.5 -> 0.5, 1 -> 0                  5
crowding                crowding (max abs corr)     0.2 -> 1, 0.5 -> 0.5, 0.9 -> 0              4
capacity                log10(capacity, currency)   5 -> 0, 6 -> 0.5, 7 -> 0.8, 8 -> 1          6
======================  ==========================  =====================================  ======

The weights sum to 100. A metric that is absent or NaN scores 0 (what was not measured earns
nothing), except the signal components marked * for a strategy graded with ``ml=False``
(momentum, mean reversion, buy-and-hold: no probabilities, no model signal): those are left out
and the remaining weights renormalised, so benchmarks stay comparable on what they have.

Levels (by the unrounded score): ELITE >= 85, BATTLE_READY >= 70, DEVELOPING >= 50,
INADEQUATE >= 30, FAILED below 30.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np


class GradeLevel(StrEnum):
    ELITE = "ELITE"
    BATTLE_READY = "BATTLE_READY"
    DEVELOPING = "DEVELOPING"
    INADEQUATE = "INADEQUATE"
    FAILED = "FAILED"

    @classmethod
    def from_score(cls, score: float) -> GradeLevel:
        for floor, level in LEVEL_FLOORS:
            if score >= floor:
                return level
        return cls.FAILED


LEVEL_FLOORS: tuple[tuple[float, GradeLevel], ...] = (
    (85.0, GradeLevel.ELITE),
    (70.0, GradeLevel.BATTLE_READY),
    (50.0, GradeLevel.DEVELOPING),
    (30.0, GradeLevel.INADEQUATE),
)


@dataclass(frozen=True)
class Component:
    """One row of the table: ``anchors`` are (metric value, component score) pairs in
    increasing metric order; ``log10`` interpolates on log10 of the metric."""

    name: str
    metric: str
    anchors: tuple[tuple[float, float], ...]
    weight: float
    signal: bool = False  # needs a model's probabilities / signal: optional when ml=False
    log10: bool = False

    def score(self, value: float) -> float:
        x = value
        if self.log10:
            x = math.log10(value) if value > 0 else -math.inf
        xs, ys = zip(*self.anchors, strict=True)
        if math.isinf(x):  # np.interp is not defined at +-inf; the curve is flat out there
            return float(ys[-1] if x > 0 else ys[0])
        return float(np.interp(x, xs, ys))


COMPONENTS: tuple[Component, ...] = (
    Component("sharpe", "sharpe", ((0, 0), (0.5, 0.4), (1, 0.7), (2, 1)), 14),
    Component("sortino", "sortino", ((0, 0), (0.75, 0.4), (1.5, 0.7), (3, 1)), 6),
    Component("calmar", "calmar", ((0, 0), (0.5, 0.5), (1, 0.75), (2, 1)), 5),
    Component("max_drawdown", "max_drawdown",
              ((-0.4, 0), (-0.2, 0.5), (-0.1, 0.8), (-0.05, 1)), 10),
    Component("win_rate", "win_rate", ((0.4, 0), (0.5, 0.5), (0.55, 0.8), (0.6, 1)), 4),
    Component("profit_factor", "profit_factor", ((1, 0), (1.2, 0.5), (1.5, 0.8), (2, 1)), 5),
    Component("auc", "auc", ((0.5, 0), (0.52, 0.4), (0.55, 0.7), (0.6, 1)), 8, signal=True),
    Component("accuracy", "accuracy", ((0.5, 0), (0.51, 0.4), (0.53, 0.7), (0.56, 1)), 4,
              signal=True),
    Component("probabilistic_sharpe", "probabilistic_sharpe", ((0.5, 0), (0.95, 1)), 5),
    Component("deflated_sharpe", "deflated_sharpe", ((0.5, 0), (0.95, 1)), 10),
    Component("alpha_half_life", "alpha_half_life", ((1, 0), (5, 0.6), (20, 1)), 4, signal=True),
    Component("regime_consistency", "regime_consistency", ((0, 0), (1, 1)), 6),
    Component("calibration", "conviction_accuracy_corr", ((0, 0), (0.1, 0.6), (0.2, 1)), 4,
              signal=True),
    Component("tail_survival", "tail_capture", ((0, 1), (0.5, 0.5), (1, 0)), 5),
    Component("crowding", "crowding", ((0.2, 1), (0.5, 0.5), (0.9, 0)), 4),
    Component("capacity", "capacity", ((5, 0), (6, 0.5), (7, 0.8), (8, 1)), 6, log10=True),
)


@dataclass(frozen=True)
class ComponentScore:
    name: str
    metric: str
    value: float  # the metric (NaN when missing)
    score: float  # 0..1
    weight: float  # weight after renormalisation, out of 100
    points: float  # weight * score: this component's share of the 0-100 score


@dataclass(frozen=True)
class Grade:
    score: float
    level: GradeLevel
    components: dict[str, ComponentScore]
    metrics: dict[str, float]
    missing: tuple[str, ...] = ()  # components whose metric was absent or NaN (scored 0)
    excluded: tuple[str, ...] = ()  # signal components left out of a non-ML grade
    ml: bool = field(default=True)


def _value(metrics: Mapping[str, float], key: str) -> float:
    value = metrics.get(key)
    return float("nan") if value is None else float(value)


def grade(metrics: Mapping[str, float], *, ml: bool = True,
          components: tuple[Component, ...] = COMPONENTS) -> Grade:
    """Score ``metrics`` (as from ``compute_metrics``). ``ml``: the strategy trades a model's
    probabilities, so its signal components are required."""
    counted, missing, excluded = [], [], []
    for component in components:
        value = _value(metrics, component.metric)
        if math.isnan(value) and component.signal and not ml:
            excluded.append(component.name)
            continue
        if math.isnan(value):
            missing.append(component.name)
        counted.append((component, value, 0.0 if math.isnan(value) else component.score(value)))
    total_weight = sum(c.weight for c, _, _ in counted)
    scores = {}
    for component, value, s in counted:
        weight = 100.0 * component.weight / total_weight
        scores[component.name] = ComponentScore(component.name, component.metric, value, s,
                                                weight, weight * s)
    score = min(100.0, max(0.0, sum(c.points for c in scores.values())))  # float dust only
    return Grade(score, GradeLevel.from_score(score), scores, dict(metrics), tuple(missing),
                 tuple(excluded), ml)
