"""The trained artefact that is served: the booster(s), the calibrator fitted on out-of-fold
predictions and the feature list, behind ``predict(frame) -> calibrated p(up)``. This object is
what the MLflow pyfunc wrapper pickles, so a model loaded from the registry predicts exactly what
the in-memory one does."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from alphaloop.common.errors import InvalidInputError
from alphaloop.models.calibration import Calibrator, IdentityCalibrator
from alphaloop.models.training.classifiers import ProbabilisticClassifier


@dataclass
class CalibratedModel:
    """Pooled: one classifier for every symbol. Per-symbol: one classifier per symbol, and the
    input must carry a ``symbol`` column (rows of symbols without a model get NaN)."""

    feature_names: list[str]
    mode: str  # pooled | per_symbol
    model_class: str
    classifier: ProbabilisticClassifier | None = None
    per_symbol: dict[str, ProbabilisticClassifier] = field(default_factory=dict)
    calibrator: Calibrator = field(default_factory=IdentityCalibrator)

    def predict_raw(self, frame: pd.DataFrame) -> np.ndarray:
        """Uncalibrated p(up) for each row of ``frame`` (feature columns, + symbol)."""
        missing = [n for n in self.feature_names if n not in frame.columns]
        if missing:
            raise InvalidInputError("features", f"missing feature columns: {', '.join(missing)}")
        X = frame[self.feature_names].astype(np.float64)
        if self.mode == "pooled":
            return self.classifier.predict_proba(X)
        if "symbol" not in frame.columns:
            raise InvalidInputError("symbol", "a per-symbol model needs a symbol column")
        out = np.full(len(frame), np.nan)
        symbols = frame["symbol"].astype(str).to_numpy()
        for symbol in np.unique(symbols):
            model = self.per_symbol.get(symbol)
            if model is not None:
                rows = symbols == symbol
                out[rows] = model.predict_proba(X[rows])
        return out

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated p(up) for each row of ``frame``."""
        raw = self.predict_raw(frame)
        known = np.isfinite(raw)
        out = np.full(raw.shape[0], np.nan)
        if known.any():
            out[known] = self.calibrator.transform(raw[known])
        return out

    @property
    def symbols(self) -> list[str]:
        return sorted(self.per_symbol)
