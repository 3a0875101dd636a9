"""The promotion gate: the hard floor a strategy's out-of-sample metrics must clear before its
model can become ``champion``. The score ranks strategies; the gate decides.

Defaults (the original operating guides, plus the deflated Sharpe): AUC >= 0.52,
accuracy >= 0.51, Sharpe >= 0.5, max drawdown no deeper than 20% (``max_drawdown >= -0.20``:
the metric is <= 0), deflated Sharpe > 0.5. A threshold set to ``None`` switches its check off.

Missing metrics (absent or NaN):

* for an ML strategy (``ml=True``) every missing metric is a failure ("auc missing"): a model
  whose probabilities were not scored has not shown it can be trusted with money;
* for a benchmark strategy (``ml=False``: momentum, mean reversion, buy-and-hold) the signal
  checks (AUC, accuracy) are skipped when their metric is missing, and reported as skipped;
  a missing Sharpe, drawdown or deflated Sharpe is a failure for every strategy.

Failure lines read ``<metric> <value> <violated relation> <threshold>``, e.g.
"sharpe 0.31 < 0.50", "max_drawdown -0.25 < -0.20", "deflated_sharpe 0.42 <= 0.50", with two
decimals, or as many more as it takes to tell the value from the threshold.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    metric: str
    threshold: float
    passes: Callable[[float, float], bool]
    violation: str  # the relation a failing value has to the threshold
    signal: bool  # a check on model predictions: skipped for benchmark strategies


@dataclass(frozen=True)
class GateResult:
    passed: bool
    failures: tuple[str, ...]
    skipped: tuple[str, ...] = ()  # signal checks skipped for a benchmark strategy


@dataclass(frozen=True)
class PromotionGate:
    """Thresholds of the gate; ``None`` disables a check."""

    min_auc: float | None = 0.52
    min_accuracy: float | None = 0.51
    min_sharpe: float | None = 0.5
    max_drawdown: float | None = 0.20  # deepest drawdown allowed, as a positive fraction
    min_deflated_sharpe: float | None = 0.5  # strict: the DSR must exceed it

    def checks(self) -> tuple[Check, ...]:
        at_least, above = operator.ge, operator.gt
        candidates = (
            (self.min_auc, lambda t: Check("auc", t, at_least, "<", signal=True)),
            (self.min_accuracy, lambda t: Check("accuracy", t, at_least, "<", signal=True)),
            (self.min_sharpe, lambda t: Check("sharpe", t, at_least, "<", signal=False)),
            (self.max_drawdown, lambda t: Check("max_drawdown", -t, at_least, "<", signal=False)),
            (self.min_deflated_sharpe,
             lambda t: Check("deflated_sharpe", t, above, "<=", signal=False)),
        )
        return tuple(make(threshold) for threshold, make in candidates if threshold is not None)

    def evaluate(self, metrics: Mapping[str, float], *, ml: bool = True) -> GateResult:
        """Check ``metrics``; ``ml``: the strategy trades a model's probabilities."""
        failures, skipped = [], []
        for check in self.checks():
            raw = metrics.get(check.metric)
            value = float("nan") if raw is None else float(raw)
            if math.isnan(value):
                if check.signal and not ml:
                    skipped.append(check.metric)
                else:
                    failures.append(f"{check.metric} missing")
            elif not check.passes(value, check.threshold):
                shown, limit = _format_pair(value, check.threshold)
                failures.append(f"{check.metric} {shown} {check.violation} {limit}")
        return GateResult(not failures, tuple(failures), tuple(skipped))


def _format_pair(value: float, threshold: float) -> tuple[str, str]:
    """Two decimals, or more until the value no longer reads as the threshold."""
    for decimals in range(2, 10):
        shown, limit = f"{value:.{decimals}f}", f"{threshold:.{decimals}f}"
        if shown != limit:
            return shown, limit
    return f"{value:.10g}", f"{threshold:.10g}"
