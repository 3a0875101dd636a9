"""Training: a YAML config (:class:`TrainConfig`) and ``train(config, bars, tracking)`` ->
:class:`TrainResult` (purged-CV out-of-fold probabilities, CV metrics, a final calibrated model,
held-out test predictions). Boosters sit behind :class:`ProbabilisticClassifier`."""

from alphaloop.models.training.classifiers import (
    DEFAULT_PARAMS,
    MODEL_CLASSES,
    CatBoostClassifier,
    LightGBMClassifier,
    ProbabilisticClassifier,
    SoftVotingEnsemble,
    XGBoostClassifier,
    make_classifier,
)
from alphaloop.models.training.config import (
    DEFAULT_CONFIG_PATH,
    CalibrationSettings,
    CVSettings,
    TrainConfig,
    load_config,
)
from alphaloop.models.training.model import CalibratedModel
from alphaloop.models.training.pipeline import TrainResult, scores, train

__all__ = [
    "DEFAULT_CONFIG_PATH", "DEFAULT_PARAMS", "MODEL_CLASSES", "CVSettings", "CalibratedModel",
    "CalibrationSettings", "CatBoostClassifier", "LightGBMClassifier", "ProbabilisticClassifier",
    "SoftVotingEnsemble", "TrainConfig", "TrainResult", "XGBoostClassifier", "load_config",
    "make_classifier", "scores", "train",
]
