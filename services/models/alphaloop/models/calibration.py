"""Probability calibration of a classifier's p(up): isotonic regression and Platt scaling
(scikit-learn), chosen and fitted on out-of-fold (OOF) predictions only, never on the test period;
plus the scores that judge calibration.

Scores (all unweighted; ``y`` is 0/1):

- Brier score: ``mean((p - y)**2)`` (Brier 1950), the same as ``sklearn.metrics.brier_score_loss``.
- Expected calibration error (ECE; Naeini et al. 2015, Guo et al. 2017): ``N`` equal-width bins
  on [0, 1] (``DEFAULT_N_BINS = 10``: [0, 0.1), [0.1, 0.2), ..., [0.9, 1.0], the last bin closed),
  ``ECE = sum_b (n_b / n) * |mean(y in b) - mean(p in b)|``; empty bins add nothing.

Choosing the method (``auto``): isotonic regression minimises the squared error among all
monotone maps, so on the data it was fitted to it always beats Platt and the identity. The
choice is therefore cross-fitted: for each CV fold, each candidate (identity, Platt, isotonic) is
fitted on the other folds' OOF predictions and scored on this fold's; the candidate with the
lowest pooled Brier score wins (Brier rather than log loss because isotonic maps can output
exactly 0 or 1, where log loss is infinite). Ties go to the simpler method (none, then Platt).
The winner is then refitted on all OOF predictions and applied to the test predictions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from alphaloop.common.errors import InvalidInputError

Method = Literal["none", "platt", "isotonic"]
METHODS: tuple[str, ...] = ("none", "platt", "isotonic")
DEFAULT_N_BINS = 10
#: Platt works on logit(p); probabilities are clipped this far from 0 and 1 first.
_EPS = 1e-6


# -- scores -----------------------------------------------------------------------------------

def brier_score(y: np.ndarray, p: np.ndarray) -> float:
    y, p = _check(y, p)
    return float(np.mean((p - y) ** 2))


def calibration_bins(y: np.ndarray, p: np.ndarray, n_bins: int = DEFAULT_N_BINS) -> list[dict]:
    """Per equal-width bin: its edges, count, mean predicted probability and observed frequency
    of ``y = 1`` (None for an empty bin). This is the reliability diagram (calibration curve)."""
    y, p = _check(y, p)
    if n_bins < 1:
        raise InvalidInputError("n_bins", f"must be >= 1, got {n_bins}")
    which = _bin_index(p, n_bins)
    count = np.bincount(which, minlength=n_bins)
    sum_p = np.bincount(which, weights=p, minlength=n_bins)
    sum_y = np.bincount(which, weights=y, minlength=n_bins)
    bins = []
    for b in range(n_bins):
        n = int(count[b])
        bins.append({
            "lower": b / n_bins, "upper": (b + 1) / n_bins, "count": n,
            "mean_predicted": float(sum_p[b] / n) if n else None,
            "fraction_positive": float(sum_y[b] / n) if n else None,
        })
    return bins


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = DEFAULT_N_BINS) -> float:
    y, p = _check(y, p)
    if len(y) == 0:
        return float("nan")
    total = 0.0
    for b in calibration_bins(y, p, n_bins):
        if b["count"]:
            total += b["count"] * abs(b["fraction_positive"] - b["mean_predicted"])
    return total / len(y)


def _bin_index(p: np.ndarray, n_bins: int) -> np.ndarray:
    # floor(p * n) puts p = 1.0 in bin n; it belongs to the last (closed) bin.
    return np.minimum((p * n_bins).astype(np.int64), n_bins - 1)


# -- calibrators ------------------------------------------------------------------------------

class Calibrator:
    """A fitted monotone map from raw p(up) to calibrated p(up)."""

    method: str = "none"

    def fit(self, p: np.ndarray, y: np.ndarray) -> Calibrator:
        return self

    def transform(self, p: np.ndarray) -> np.ndarray:
        return np.asarray(p, dtype=np.float64).copy()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class IdentityCalibrator(Calibrator):
    method = "none"


class PlattCalibrator(Calibrator):
    """Platt scaling (Platt 1999): ``sigmoid(a * logit(p) + b)``, ``a, b`` by unpenalised
    logistic regression of ``y`` on ``logit(p)``.

    A calibrator must not reverse the model's ranking: if the fitted slope ``a`` is negative
    (the raw scores were anti-informative on the data it saw) the map falls back to the base
    rate, ``a = 0`` and ``b = logit(mean(y))``, as isotonic regression would."""

    method = "platt"

    def fit(self, p: np.ndarray, y: np.ndarray) -> PlattCalibrator:
        y, p = _check(y, p)
        if np.unique(y).shape[0] < 2:
            self.slope, self.intercept = 0.0, float(_logit(np.array([y.mean()]))[0])
            return self
        model = LogisticRegression(C=np.inf, solver="lbfgs", max_iter=1000)
        model.fit(_logit(p)[:, None], y.astype(np.int64))
        self.slope = float(model.coef_[0, 0])
        self.intercept = float(model.intercept_[0])
        if self.slope < 0:
            self.slope, self.intercept = 0.0, float(_logit(np.array([y.mean()]))[0])
        return self

    def transform(self, p: np.ndarray) -> np.ndarray:
        z = self.slope * _logit(np.asarray(p, dtype=np.float64)) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def __repr__(self) -> str:
        return f"PlattCalibrator(slope={self.slope:.6g}, intercept={self.intercept:.6g})"


class IsotonicCalibrator(Calibrator):
    """Isotonic regression (Zadrozny & Elkan 2002): the best non-decreasing step map in squared
    error; inputs outside the fitted range are clipped to it."""

    method = "isotonic"

    def fit(self, p: np.ndarray, y: np.ndarray) -> IsotonicCalibrator:
        y, p = _check(y, p)
        self._model = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True,
                                         out_of_bounds="clip")
        self._model.fit(p, y)
        return self

    def transform(self, p: np.ndarray) -> np.ndarray:
        return self._model.predict(np.asarray(p, dtype=np.float64))


_CALIBRATORS: dict[str, type[Calibrator]] = {
    "none": IdentityCalibrator, "platt": PlattCalibrator, "isotonic": IsotonicCalibrator,
}


def make_calibrator(method: str) -> Calibrator:
    try:
        return _CALIBRATORS[method]()
    except KeyError:
        raise InvalidInputError("method", f"unknown calibration {method!r}; one of "
                                          f"{', '.join(METHODS)} or auto") from None


# -- choose, fit, report ----------------------------------------------------------------------

@dataclass
class CalibrationReport:
    """What calibration did: the method, the cross-fitted Brier score of each candidate on the
    OOF data, and Brier/ECE before and after on OOF (after = cross-fitted) and on test."""

    method: str
    n_bins: int
    candidates: dict[str, float] = field(default_factory=dict)
    oof: dict[str, float] = field(default_factory=dict)
    test: dict[str, float] = field(default_factory=dict)
    curve: dict[str, list[dict]] = field(default_factory=dict)

    def metrics(self) -> dict[str, float]:
        """Flat ``{oof_brier_before: ..., test_ece_after: ...}`` for tracking."""
        out = {f"oof_{k}": v for k, v in self.oof.items()}
        out.update({f"test_{k}": v for k, v in self.test.items()})
        out.update({f"calibration_cv_brier_{k}": v for k, v in self.candidates.items()})
        return out

    def as_dict(self) -> dict:
        return {"method": self.method, "n_bins": self.n_bins, "candidates": self.candidates,
                "oof": self.oof, "test": self.test, "curve": self.curve}


def cross_fitted(method: str, p: np.ndarray, y: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Calibrated OOF probabilities where each fold's values come from a ``method`` calibrator
    fitted on the other folds (an honest "after" on the OOF data)."""
    y, p = _check(y, p)
    folds = np.asarray(folds)
    out = np.empty_like(p)
    unique = np.unique(folds)
    if unique.shape[0] < 2:
        raise InvalidInputError("folds", "cross-fitting needs at least two folds")
    for f in unique:
        test = folds == f
        out[test] = make_calibrator(method).fit(p[~test], y[~test]).transform(p[test])
    return out


def choose_method(p: np.ndarray, y: np.ndarray, folds: np.ndarray,
                  candidates: tuple[str, ...] = METHODS) -> tuple[str, dict[str, float]]:
    """The candidate with the lowest cross-fitted Brier score, and every candidate's score."""
    scores = {m: brier_score(y, cross_fitted(m, p, y, folds)) for m in candidates}
    best = min(candidates, key=lambda m: (round(scores[m], 12), candidates.index(m)))
    return best, scores


def calibrate(p_oof: np.ndarray, y_oof: np.ndarray, folds: np.ndarray, method: str = "auto",
              n_bins: int = DEFAULT_N_BINS, p_test: np.ndarray | None = None,
              y_test: np.ndarray | None = None) -> tuple[Calibrator, CalibrationReport, np.ndarray]:
    """Choose (``auto``) or take ``method``, fit it on all OOF predictions, and report Brier and
    ECE before and after on OOF (cross-fitted) and, when given, on test (the final calibrator
    applied to ``p_test``; ``y_test`` only scores it). Returns the calibrator, the report and
    the cross-fitted calibrated OOF probabilities."""
    y_oof, p_oof = _check(y_oof, p_oof)
    if method == "auto":
        chosen, scores = choose_method(p_oof, y_oof, folds)
    else:
        make_calibrator(method)  # validates the name
        chosen, scores = method, {}
    calibrator = make_calibrator(chosen).fit(p_oof, y_oof)
    p_oof_cal = cross_fitted(chosen, p_oof, y_oof, folds) if chosen != "none" else p_oof.copy()
    report = CalibrationReport(chosen, n_bins, scores)
    report.oof = _before_after(y_oof, p_oof, p_oof_cal, n_bins)
    report.curve["oof_before"] = calibration_bins(y_oof, p_oof, n_bins)
    report.curve["oof_after"] = calibration_bins(y_oof, p_oof_cal, n_bins)
    if p_test is not None and y_test is not None and len(p_test):
        y_test, p_test = _check(y_test, p_test)
        p_test_cal = calibrator.transform(p_test)
        report.test = _before_after(y_test, p_test, p_test_cal, n_bins)
        report.curve["test_before"] = calibration_bins(y_test, p_test, n_bins)
        report.curve["test_after"] = calibration_bins(y_test, p_test_cal, n_bins)
    return calibrator, report, p_oof_cal


def _before_after(y: np.ndarray, before: np.ndarray, after: np.ndarray,
                  n_bins: int) -> dict[str, float]:
    return {
        "brier_before": brier_score(y, before), "brier_after": brier_score(y, after),
        "ece_before": expected_calibration_error(y, before, n_bins),
        "ece_after": expected_calibration_error(y, after, n_bins),
    }


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1.0 - _EPS)
    return np.log(p / (1.0 - p))


def _check(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64).ravel()
    p = np.asarray(p, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise InvalidInputError("p", f"{p.shape[0]} probabilities for {y.shape[0]} outcomes")
    if not np.isin(y, (0.0, 1.0)).all():
        raise InvalidInputError("y", "outcomes must be 0 or 1")
    if not (np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()):
        raise InvalidInputError("p", "probabilities must be finite and in [0, 1]")
    return y, p
