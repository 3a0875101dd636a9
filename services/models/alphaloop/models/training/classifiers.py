"""The gradient-boosted classifiers behind one small interface: ``fit(X, y, w)`` and
``predict_proba(X) -> p(up)``, plus normalised feature importances. LightGBM is the default;
XGBoost and CatBoost are selectable; ``ensemble`` soft-votes the three (mean of p(up)).

Every model is seeded and single-configuration deterministic: LightGBM runs with
``deterministic=True`` and row-wise histograms, XGBoost with the CPU ``hist`` method, CatBoost
with a fixed ``random_seed``; thread counts are fixed by the caller.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.common.errors import InvalidInputError

MODEL_CLASSES = ("lightgbm", "xgboost", "catboost", "ensemble")

#: Small, fast defaults (the default training config repeats them); a config's params override
#: these key by key.
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "lightgbm": {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 15,
                 "min_child_samples": 100, "subsample": 0.8, "subsample_freq": 1,
                 "colsample_bytree": 0.8, "reg_lambda": 1.0},
    "xgboost": {"n_estimators": 200, "learning_rate": 0.05, "max_depth": 4,
                "min_child_weight": 10.0, "subsample": 0.8, "colsample_bytree": 0.8,
                "reg_lambda": 1.0},
    "catboost": {"iterations": 200, "learning_rate": 0.1, "depth": 4, "l2_leaf_reg": 3.0},
}


class ProbabilisticClassifier(ABC):
    """A binary classifier of "the label is up". ``w`` are sample weights (None: all 1)."""

    name: str = ""

    def __init__(self, params: dict[str, Any] | None = None, seed: int = 0,
                 threads: int = 1) -> None:
        self.params = {**DEFAULT_PARAMS.get(self.name, {}), **(params or {})}
        self.seed = int(seed)
        self.threads = int(threads)
        self.feature_names: list[str] = []
        self._constant: float | None = None

    def fit(self, X: pd.DataFrame, y: np.ndarray, w: np.ndarray | None = None
            ) -> ProbabilisticClassifier:
        y = np.asarray(y, dtype=np.int64)
        w = np.ones(len(y)) if w is None else np.asarray(w, dtype=np.float64)
        if len(y) != len(X) or len(w) != len(X):
            raise InvalidInputError("X", f"{len(X)} rows, {len(y)} labels, {len(w)} weights")
        if len(y) == 0:
            raise InvalidInputError("X", "no training rows")
        self.feature_names = list(X.columns)
        if np.unique(y).shape[0] < 2:
            # One class only (a tiny per-symbol fold): the honest prediction is its frequency.
            self._constant = float(y[0])
            return self
        self._constant = None
        self._fit(X, y, w)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        X = X[self.feature_names]
        if self._constant is not None:
            return np.full(len(X), self._constant)
        return np.asarray(self._predict(X), dtype=np.float64).ravel()

    def feature_importances(self) -> pd.Series:
        """Importance per feature, non-negative, summing to 1 (all 0 for a constant model)."""
        if self._constant is not None:
            raw = np.zeros(len(self.feature_names))
        else:
            raw = np.asarray(self._importances(), dtype=np.float64)
        total = raw.sum()
        values = raw / total if total > 0 else raw
        return pd.Series(values, index=self.feature_names, name="importance")

    @abstractmethod
    def _fit(self, X: pd.DataFrame, y: np.ndarray, w: np.ndarray) -> None: ...

    @abstractmethod
    def _predict(self, X: pd.DataFrame) -> np.ndarray: ...

    @abstractmethod
    def _importances(self) -> np.ndarray: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}(seed={self.seed}, params={self.params})"


class LightGBMClassifier(ProbabilisticClassifier):
    """LightGBM; importances are total split gain."""

    name = "lightgbm"

    def _fit(self, X, y, w):
        import lightgbm as lgb

        self._model = lgb.LGBMClassifier(
            objective="binary", random_state=self.seed, n_jobs=self.threads,
            deterministic=True, force_row_wise=True, verbose=-1, **self.params)
        self._model.fit(X, y, sample_weight=w)

    def _predict(self, X):
        return self._model.predict_proba(X)[:, 1]

    def _importances(self):
        return self._model.booster_.feature_importance(importance_type="gain")


class XGBoostClassifier(ProbabilisticClassifier):
    """XGBoost (CPU ``hist``); importances are total gain (0 for features never split on)."""

    name = "xgboost"

    def _fit(self, X, y, w):
        import xgboost as xgb

        self._model = xgb.XGBClassifier(
            objective="binary:logistic", tree_method="hist", random_state=self.seed,
            n_jobs=self.threads, verbosity=0, **self.params)
        self._model.fit(X, y, sample_weight=w)

    def _predict(self, X):
        return self._model.predict_proba(X)[:, 1]

    def _importances(self):
        gain = self._model.get_booster().get_score(importance_type="total_gain")
        return np.array([gain.get(name, 0.0) for name in self.feature_names])


class CatBoostClassifier(ProbabilisticClassifier):
    """CatBoost; importances are its default PredictionValuesChange."""

    name = "catboost"

    def _fit(self, X, y, w):
        import catboost as cb

        self._model = cb.CatBoostClassifier(
            loss_function="Logloss", random_seed=self.seed, thread_count=self.threads,
            verbose=False, allow_writing_files=False, **self.params)
        self._model.fit(X, y, sample_weight=w)

    def _predict(self, X):
        return self._model.predict_proba(X)[:, 1]

    def _importances(self):
        return self._model.get_feature_importance()


class SoftVotingEnsemble(ProbabilisticClassifier):
    """Mean p(up) of LightGBM, XGBoost and CatBoost; importances are the members' mean."""

    name = "ensemble"

    def __init__(self, params: dict[str, dict[str, Any]] | None = None, seed: int = 0,
                 threads: int = 1) -> None:
        super().__init__({}, seed, threads)
        params = params or {}
        self.members = [cls(params.get(cls.name), seed, threads)
                        for cls in (LightGBMClassifier, XGBoostClassifier, CatBoostClassifier)]

    def _fit(self, X, y, w):
        for member in self.members:
            member.fit(X, y, w)

    def _predict(self, X):
        return np.mean([m.predict_proba(X) for m in self.members], axis=0)

    def _importances(self):
        return np.mean([m.feature_importances().to_numpy() for m in self.members], axis=0)


_CLASSES: dict[str, type[ProbabilisticClassifier]] = {
    "lightgbm": LightGBMClassifier, "xgboost": XGBoostClassifier,
    "catboost": CatBoostClassifier, "ensemble": SoftVotingEnsemble,
}


def make_classifier(model: str, params: dict[str, dict[str, Any]] | None = None, seed: int = 0,
                    threads: int = 1) -> ProbabilisticClassifier:
    """A fresh classifier of class ``model``; ``params`` maps class name -> parameters (the
    ensemble reads all three, the others their own)."""
    try:
        cls = _CLASSES[model]
    except KeyError:
        raise InvalidInputError("model", f"unknown model class {model!r}; one of "
                                         f"{', '.join(MODEL_CLASSES)}") from None
    params = params or {}
    if cls is SoftVotingEnsemble:
        return SoftVotingEnsemble(params, seed, threads)
    return cls(params.get(model), seed, threads)
