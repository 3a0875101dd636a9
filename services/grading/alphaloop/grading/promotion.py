"""Promotion: a model gets the MLflow alias ``champion`` only if one of its ML strategies that
the served model trades (``ml``, ``ml_long_only``; not ``ml_meta``, whose meta-label filter is
graded but not served) passed the promotion gate out of sample; otherwise it is registered as
``challenger``. The decision
(either way) goes to the store's append-only audit log, and every strategy's grade to the
``grades`` table (key: strategy, model id, model version, graded_at)."""

from __future__ import annotations

from typing import Any

from alphaloop.models.registry import CHALLENGER, CHAMPION


def grade_rows(outcome: Any, model_id: str, model_version: str, graded_at) -> list[dict]:
    """One ``grades`` row per strategy of a ``GradingOutcome``."""
    from alphaloop.grading.pipeline import _clean

    rows = []
    for name, s in outcome.strategies.items():
        rows.append({"strategy": name, "model_id": model_id if s.ml else "",
                     "model_version": str(model_version) if s.ml else "",
                     "graded_at": graded_at, "score": s.score, "level": s.level,
                     "metrics": {**_clean(s.metrics), "gate_failures": list(s.gate_failures),
                                 "oos_start": outcome.window[0].isoformat(),
                                 "oos_end": outcome.window[1].isoformat()},
                     "promoted": bool(s.promoted), "passed_gate": bool(s.passed_gate)})
    return rows


def promote(outcome: Any, tracking: Any, model_name: str, model_version: str | None, *,
            store: Any = None, actor: str = "alphaloop", clock: Any = None) -> dict[str, Any]:
    """Decide and apply the alias of ``model_name`` v``model_version`` from ``outcome``; mark
    the passing ML strategies ``promoted``; audit and store the grades. Returns the decision."""
    from alphaloop.common.clock import LiveClock

    clock = clock or LiveClock()
    from alphaloop.grading.pipeline import PROMOTABLE_STRATEGIES

    passing = [n for n, s in outcome.strategies.items()
               if s.ml and s.passed_gate and n in PROMOTABLE_STRATEGIES]
    alias = CHAMPION if passing else CHALLENGER
    previous = None
    if tracking is not None and model_version is not None:
        try:
            previous = tracking.alias_version(model_name, CHAMPION)
        except Exception:  # noqa: BLE001 - no champion yet
            previous = None
        tracking.set_alias(model_name, model_version, alias)
    for name in passing:
        outcome.strategies[name].promoted = alias == CHAMPION
    failures = {n: s.gate_failures for n, s in outcome.strategies.items() if s.ml}
    decision = {"model": model_name, "version": model_version, "alias": alias,
                "previous_champion": previous, "passing_strategies": passing,
                "gate_failures": failures}
    if store is not None:
        now = clock.now()
        store.upsert("grades", grade_rows(outcome, model_name, model_version or "", now))
        store.audit(actor, "promote" if alias == CHAMPION else "register_challenger",
                    f"{model_name}/{model_version}", decision)
    return decision
