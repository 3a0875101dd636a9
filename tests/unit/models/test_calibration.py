"""Calibration: ECE and Brier against hand calculations and scikit-learn; isotonic and Platt
repair a known miscalibration; the method is chosen out of fold; the test period never
influences the calibrator."""

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

from alphaloop.common.errors import InvalidInputError
from alphaloop.models.calibration import (
    DEFAULT_N_BINS,
    IsotonicCalibrator,
    PlattCalibrator,
    brier_score,
    calibrate,
    calibration_bins,
    choose_method,
    cross_fitted,
    expected_calibration_error,
)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _logit(p):
    return np.log(p / (1.0 - p))


def _miscalibrated_sample(n: int, seed: int):
    """Raw scores p_raw whose true probability is sigmoid(2 * logit(p_raw)): the model is
    underconfident (true odds are the square of its odds)."""
    rng = np.random.default_rng(seed)
    p_raw = rng.uniform(0.05, 0.95, n)
    p_true = _sigmoid(2.0 * _logit(p_raw))
    y = (rng.uniform(size=n) < p_true).astype(np.int64)
    return p_raw, y


def test_ece_of_a_hand_built_example_matches_the_hand_calculation():
    # Bins of width 0.1. Bin [0.1, 0.2): p = 0.10, 0.15, y = 0, 1 -> |0.5 - 0.125| = 0.375, n=2
    # Bin [0.6, 0.7): p = 0.60, 0.65, 0.69, y = 1, 1, 0 -> |2/3 - 0.6466...| = 0.02, n=3
    # Bin [0.9, 1.0]: p = 0.95, 1.0, y = 1, 1 -> |1 - 0.975| = 0.025, n=2
    p = np.array([0.10, 0.15, 0.60, 0.65, 0.69, 0.95, 1.00])
    y = np.array([0, 1, 1, 1, 0, 1, 1])
    by_hand = (2 * 0.375 + 3 * abs(2 / 3 - (0.60 + 0.65 + 0.69) / 3) + 2 * 0.025) / 7
    assert expected_calibration_error(y, p) == pytest.approx(by_hand, abs=1e-12)
    assert DEFAULT_N_BINS == 10


def test_ece_is_zero_when_every_bin_is_exactly_calibrated():
    p = np.array([0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75])
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    assert expected_calibration_error(y, p) == pytest.approx(0.0, abs=1e-15)


def test_probability_one_falls_in_the_last_bin_and_bin_edges_go_up():
    bins = calibration_bins(np.array([1, 0, 1]), np.array([1.0, 0.1, 0.9]), n_bins=10)
    assert [b["count"] for b in bins] == [0, 1, 0, 0, 0, 0, 0, 0, 0, 2]
    assert bins[1]["lower"] == pytest.approx(0.1)
    assert bins[9]["mean_predicted"] == pytest.approx(0.95)


def test_curve_agrees_with_sklearn_calibration_curve():
    p, y = _miscalibrated_sample(5000, seed=3)
    frac, mean = calibration_curve(y, p, n_bins=10, strategy="uniform")
    ours = [b for b in calibration_bins(y, p, 10) if b["count"]]
    assert np.allclose([b["fraction_positive"] for b in ours], frac)
    assert np.allclose([b["mean_predicted"] for b in ours], mean)


def test_brier_score_equals_sklearn():
    p, y = _miscalibrated_sample(2000, seed=1)
    assert brier_score(y, p) == pytest.approx(brier_score_loss(y, p), abs=1e-15)


@pytest.mark.parametrize("calibrator", [IsotonicCalibrator, PlattCalibrator])
def test_calibration_reduces_ece_on_a_known_miscalibration(calibrator):
    p_fit, y_fit = _miscalibrated_sample(20000, seed=11)
    p_new, y_new = _miscalibrated_sample(20000, seed=12)
    fitted = calibrator().fit(p_fit, y_fit)
    before = expected_calibration_error(y_new, p_new)
    after = expected_calibration_error(y_new, fitted.transform(p_new))
    assert before > 0.05
    assert after < before / 3
    assert brier_score(y_new, fitted.transform(p_new)) < brier_score(y_new, p_new)


def test_platt_recovers_the_slope_of_the_miscalibration():
    p, y = _miscalibrated_sample(50000, seed=5)
    platt = PlattCalibrator().fit(p, y)
    assert platt.slope == pytest.approx(2.0, rel=0.05)
    assert platt.intercept == pytest.approx(0.0, abs=0.05)


def test_platt_never_reverses_the_ranking():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.1, 0.9, 4000)
    y = (rng.uniform(size=p.size) < 1 - p).astype(np.int64)  # anti-informative scores
    platt = PlattCalibrator().fit(p, y)
    assert platt.slope == 0.0
    assert np.allclose(platt.transform(p), y.mean())


def test_isotonic_output_is_non_decreasing_and_clipped_outside_the_fitted_range():
    p, y = _miscalibrated_sample(3000, seed=2)
    iso = IsotonicCalibrator().fit(p, y)
    grid = np.linspace(0, 1, 501)
    out = iso.transform(grid)
    assert np.all(np.diff(out) >= 0)
    assert out[0] == iso.transform(np.array([p.min()]))[0]


def test_cross_fitted_values_come_from_calibrators_fitted_on_other_folds():
    p, y = _miscalibrated_sample(4000, seed=4)
    folds = np.repeat(np.arange(4), 1000)
    out = cross_fitted("platt", p, y, folds)
    fold0 = PlattCalibrator().fit(p[folds != 0], y[folds != 0]).transform(p[folds == 0])
    assert np.array_equal(out[folds == 0], fold0)


def test_auto_prefers_a_calibrator_over_none_when_raw_scores_are_miscalibrated():
    p, y = _miscalibrated_sample(10000, seed=6)
    method, candidates = choose_method(p, y, np.arange(p.size) % 5)
    assert set(candidates) == {"none", "platt", "isotonic"}
    assert method in ("platt", "isotonic")
    assert candidates[method] < candidates["none"]


def test_auto_keeps_raw_scores_that_are_already_calibrated():
    rng = np.random.default_rng(7)
    p = rng.uniform(0.05, 0.95, 20000)
    y = (rng.uniform(size=p.size) < p).astype(np.int64)
    method, _ = choose_method(p, y, np.arange(p.size) % 5)
    assert method in ("none", "platt")  # Platt with slope ~1 is the identity


def test_calibrate_reports_before_and_after_and_ignores_test_outcomes():
    p, y = _miscalibrated_sample(12000, seed=8)
    p_oof, y_oof, folds = p[:9000], y[:9000], np.arange(9000) % 5
    p_test, y_test = p[9000:], y[9000:]
    cal, report, p_oof_cal = calibrate(p_oof, y_oof, folds, "auto", 10, p_test, y_test)
    assert report.oof["ece_after"] < report.oof["ece_before"]
    assert report.test["ece_after"] < report.test["ece_before"]
    assert report.test["brier_before"] == pytest.approx(brier_score_loss(y_test, p_test))
    assert report.test["brier_after"] == pytest.approx(
        brier_score_loss(y_test, cal.transform(p_test)))
    assert p_oof_cal.shape == p_oof.shape
    assert set(report.curve) == {"oof_before", "oof_after", "test_before", "test_after"}
    # Flipping every test outcome changes the scores but not the calibrator.
    cal2, report2, _ = calibrate(p_oof, y_oof, folds, "auto", 10, p_test, 1 - y_test)
    assert np.array_equal(cal.transform(p_test), cal2.transform(p_test))
    assert report2.method == report.method
    assert report2.test["brier_after"] != report.test["brier_after"]


def test_invalid_inputs_are_rejected():
    with pytest.raises(InvalidInputError):
        brier_score(np.array([0, 2]), np.array([0.1, 0.2]))
    with pytest.raises(InvalidInputError):
        brier_score(np.array([0, 1]), np.array([0.1, 1.2]))
    with pytest.raises(InvalidInputError):
        calibrate(np.array([0.1, 0.2]), np.array([0, 1]), np.array([0, 1]), method="beta")
