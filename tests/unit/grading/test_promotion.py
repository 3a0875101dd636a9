"""Promotion decides from the ML strategies the served model trades: a pass of ``ml`` or
``ml_long_only`` promotes; a pass of ``ml_meta`` alone does not (the meta filter is graded,
not served), nor does a benchmark's."""

import pandas as pd
import pytest

from alphaloop.grading.pipeline import GradingOutcome, StrategyOutcome
from alphaloop.grading.promotion import promote
from alphaloop.models.registry import CHALLENGER, CHAMPION


class _Aliases:
    """What promote needs of tracking: read and set an alias (a dict, not MLflow)."""

    def __init__(self):
        self.aliases = {}

    def alias_version(self, name, alias):
        return self.aliases[(name, alias)]

    def set_alias(self, name, version, alias):
        self.aliases[(name, alias)] = version


def _outcome(passing):
    empty = pd.Series(dtype=float)
    strategies = {
        name: StrategyOutcome(name=name, ml=name.startswith("ml"), metrics={}, score=50.0,
                              level="DEVELOPING", passed_gate=name in passing,
                              gate_failures=[] if name in passing else ["sharpe"],
                              promoted=False, returns=empty, equity=empty,
                              gross_total_return=0.0, costs=0.0, n_trades=0, description="")
        for name in ("ml", "ml_long_only", "ml_meta", "momentum", "buy_and_hold")}
    ts = pd.Timestamp("2020-01-01", tz="UTC")
    return GradingOutcome(strategies, (ts, ts), 6, None)


@pytest.mark.parametrize(("passing", "alias"), [
    ({"ml"}, CHAMPION), ({"ml_long_only"}, CHAMPION), ({"ml", "ml_meta"}, CHAMPION),
    ({"ml_meta"}, CHALLENGER), ({"momentum"}, CHALLENGER), (set(), CHALLENGER),
])
def test_only_served_ml_strategies_promote(passing, alias):
    tracking = _Aliases()
    outcome = _outcome(passing)
    decision = promote(outcome, tracking, "m", "3")
    assert decision["alias"] == alias
    assert tracking.aliases[("m", alias)] == "3"
    promoted = {n for n, s in outcome.strategies.items() if s.promoted}
    assert promoted == (passing & {"ml", "ml_long_only"} if alias == CHAMPION else set())
