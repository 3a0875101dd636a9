"""Combinatorial purged cross-validation (AFML ch. 12): the time-ordered samples are cut into
``n_groups`` contiguous groups; every choice of ``n_test_groups`` of them is a test set (C(N, k)
splits), trained on the rest after purging and embargo as in :mod:`alphaloop.models.cv.purged`.

Each group is tested in C(N-1, k-1) splits, so the out-of-sample predictions assemble into
phi = k / N * C(N, k) = C(N-1, k-1) complete backtest paths (AFML 12.4, figure 12.2): path j takes,
for every group, the group's j-th test occurrence in split order.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from math import comb

import numpy as np
import pandas as pd

from alphaloop.models.cv.purged import (
    _check_embargo_pct,
    _check_lengths,
    label_intervals,
    n_embargo_samples,
    purged_train_indices,
    resolve_t1,
)


def split_test_groups(n_groups: int, n_test_groups: int) -> list[tuple[int, ...]]:
    """The test groups of each split, in split order (lexicographic combinations)."""
    return list(combinations(range(n_groups), n_test_groups))


def backtest_paths(n_groups: int, n_test_groups: int) -> list[list[tuple[int, int]]]:
    """For each of the C(N-1, k-1) backtest paths, the (group, split index) whose test
    predictions fill each group, groups in time order (AFML figure 12.2)."""
    occurrences: list[list[int]] = [[] for _ in range(n_groups)]
    for split, groups in enumerate(split_test_groups(n_groups, n_test_groups)):
        for group in groups:
            occurrences[group].append(split)
    n_paths = comb(n_groups - 1, n_test_groups - 1)
    return [[(group, occurrences[group][path]) for group in range(n_groups)]
            for path in range(n_paths)]


def group_positions(n_samples: int, n_groups: int) -> list[np.ndarray]:
    """Contiguous sample positions of each group (the first ``n % N`` groups get one more)."""
    return np.array_split(np.arange(n_samples), n_groups)


class CombinatorialPurgedCV:
    """All C(N, k) purged, embargoed train/test splits over N contiguous groups (AFML ch. 12).

    ``split(X, t1)`` yields (train, test) position arrays, the test groups of split ``i`` being
    ``test_groups[i]``; :meth:`backtest_paths` says how their test predictions form the paths.
    As with :class:`PurgedKFold`, ``t1`` may be bound at construction for scikit-learn.
    """

    def __init__(self, n_groups: int = 6, n_test_groups: int = 2, embargo_pct: float = 0.0, *,
                 t1: pd.Series | pd.DataFrame | None = None) -> None:
        if int(n_groups) < 2:
            raise ValueError(f"n_groups must be >= 2, got {n_groups}")
        if not 1 <= int(n_test_groups) < int(n_groups):
            raise ValueError(f"n_test_groups must be in [1, {int(n_groups) - 1}], "
                             f"got {n_test_groups}")
        _check_embargo_pct(embargo_pct)
        self.n_groups = int(n_groups)
        self.n_test_groups = int(n_test_groups)
        self.embargo_pct = float(embargo_pct)
        self.t1 = t1

    @property
    def test_groups(self) -> list[tuple[int, ...]]:
        return split_test_groups(self.n_groups, self.n_test_groups)

    @property
    def n_paths(self) -> int:
        """phi = k / N * C(N, k) = C(N-1, k-1)."""
        return comb(self.n_groups - 1, self.n_test_groups - 1)

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return comb(self.n_groups, self.n_test_groups)

    def backtest_paths(self) -> list[list[tuple[int, int]]]:
        return backtest_paths(self.n_groups, self.n_test_groups)

    def split(self, X, t1=None, groups=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        starts, ends = label_intervals(resolve_t1(self.t1, t1))
        n = _check_lengths(X, starts)
        if self.n_groups > n:
            raise ValueError(f"n_groups={self.n_groups} exceeds n_samples={n}")
        blocks = group_positions(n, self.n_groups)
        h = n_embargo_samples(n, self.embargo_pct)
        for chosen in self.test_groups:
            test = np.concatenate([blocks[g] for g in chosen])
            yield purged_train_indices(test, starts, ends, h), test

    def path_predictions(self, fold_predictions: list[np.ndarray], n_samples: int) -> np.ndarray:
        """Assemble per-split test predictions (in ``split`` order, aligned with each split's
        test positions) into an (n_paths, n_samples) array of out-of-sample paths."""
        blocks = group_positions(n_samples, self.n_groups)
        splits = self.test_groups
        if len(fold_predictions) != len(splits):
            raise ValueError(f"expected {len(splits)} fold predictions, "
                             f"got {len(fold_predictions)}")
        out = np.full((self.n_paths, n_samples), np.nan)
        for path, members in enumerate(self.backtest_paths()):
            for group, split in members:
                offset = sum(len(blocks[g]) for g in splits[split] if g < group)
                values = np.asarray(fold_predictions[split], dtype=np.float64)
                out[path, blocks[group]] = values[offset:offset + len(blocks[group])]
        return out
