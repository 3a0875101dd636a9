"""Cross-validation for labels that span time: purged k-fold with embargo (AFML 7.4) and
combinatorial purged CV with its backtest paths (AFML ch. 12)."""

from alphaloop.models.cv.combinatorial import (
    CombinatorialPurgedCV,
    backtest_paths,
    group_positions,
    split_test_groups,
)
from alphaloop.models.cv.purged import (
    PurgedKFold,
    embargo_mask,
    label_intervals,
    overlaps_any,
    purged_train_indices,
)

__all__ = [
    "CombinatorialPurgedCV",
    "PurgedKFold",
    "backtest_paths",
    "embargo_mask",
    "group_positions",
    "label_intervals",
    "overlaps_any",
    "purged_train_indices",
    "split_test_groups",
]
