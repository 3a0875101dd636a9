"""Fixed-width fractional differentiation (AFML ch. 5) against a hand computation of the
weights and against fracdiff-modern's fixed-window implementation; the order d is chosen on
training data only and the feature stays point in time."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.special import binom

from alphaloop import features
from alphaloop.features.library.fracdiff import (
    FracDiffSelector,
    adf_test,
    ffd_series,
    ffd_weights,
)


def _fracdiff_fdiff():
    """fracdiff-modern's ``fdiff``, loaded from its module file: the package's __init__ also
    imports its scikit-learn wrappers, which need scikit-learn (not installed here)."""
    spec = importlib.util.find_spec("fracdiff")
    path = Path(next(iter(spec.submodule_search_locations))) / "fdiff.py"
    module_spec = importlib.util.spec_from_file_location("_fracdiff_fdiff", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.fdiff


def _fdiff(x: np.ndarray, d: float, window: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # it reaches into numpy.core
        return _fracdiff_fdiff()(x, d, window=window, mode="valid")


@pytest.fixture(scope="module")
def aapl_log_close(long_bars) -> np.ndarray:
    rows = long_bars[long_bars["symbol"] == "AAPL"].sort_values("timestamp")
    return np.log(rows["close"].to_numpy())


def test_weights_follow_the_afml_recursion_worked_by_hand():
    # w0 = 1, w_k = -w_{k-1} (d - k + 1) / k, worked out on paper:
    # d = 0.5: -0.5, -(-0.5)(-0.5)/2, -(-0.125)(-1.5)/3, -(-0.0625)(-2.5)/4, ...
    np.testing.assert_allclose(ffd_weights(0.5, 1e-4)[:6],
                               [1.0, -0.5, -0.125, -0.0625, -0.0390625, -0.02734375], rtol=1e-15)
    # d = 0.3: -0.3, -(-0.3)(-0.7)/2, -(-0.105)(-1.7)/3, -(-0.0595)(-2.7)/4
    np.testing.assert_allclose(ffd_weights(0.3, 1e-4)[:5],
                               [1.0, -0.3, -0.105, -0.0595, -0.0401625], rtol=1e-14)


@pytest.mark.parametrize("d", [0.1, 0.3, 0.45, 0.5, 0.8])
@pytest.mark.parametrize("threshold", [1e-3, 1e-4])
def test_weights_equal_the_binomial_series_and_stop_at_the_threshold(d, threshold):
    w = ffd_weights(d, threshold)
    k = np.arange(len(w))
    np.testing.assert_allclose(w, (-1.0) ** k * binom(d, k), rtol=1e-10, atol=1e-15)
    assert np.all(np.abs(w) >= threshold)
    following = (-1.0) ** len(w) * binom(d, len(w))
    assert abs(following) < threshold


def test_integer_orders_give_the_series_and_its_first_difference():
    np.testing.assert_array_equal(ffd_weights(0.0, 1e-4), [1.0])
    np.testing.assert_array_equal(ffd_weights(1.0, 1e-4), [1.0, -1.0])


@pytest.mark.parametrize("d", [0.25, 0.4, 0.6])
def test_ffd_series_agrees_with_fracdiff_modern_fixed_window(d, aapl_log_close):
    width = len(ffd_weights(d, 1e-4))
    ours = ffd_series(np.exp(aapl_log_close), d, 1e-4)
    ref = _fdiff(aapl_log_close, d, width)
    assert np.isnan(ours[: width - 1]).all()
    assert len(ref) == len(ours) - (width - 1) > 2000
    np.testing.assert_allclose(ours[width - 1:], ref, rtol=1e-9, atol=1e-12)


def test_ffd_feature_takes_d_as_a_parameter_and_matches_fracdiff(long_bars):
    bars = long_bars[long_bars["symbol"].isin(["AAPL", "IBM"])]
    out = features.compute(bars, ["ffd_log_close"], params={"ffd_log_close": {"d": 0.35}})
    width = len(ffd_weights(0.35, 1e-4))
    for symbol in ("AAPL", "IBM"):
        rows = bars[bars["symbol"] == symbol].sort_values("timestamp")
        ours = out.loc[rows.index, "ffd_log_close"].to_numpy()
        ref = _fdiff(np.log(rows["close"].to_numpy()), 0.35, width)
        np.testing.assert_allclose(ours[width - 1:], ref, rtol=1e-9, atol=1e-12)
        assert np.isnan(ours[: width - 1]).all()


def test_selector_picks_the_smallest_stationary_d_on_training_data_only(aapl_log_close):
    train = np.exp(aapl_log_close[:2000])
    selector = FracDiffSelector(threshold=1e-4)
    d = selector.fit(train)
    assert d in selector.grid and 0.0 < d < 1.0
    # checked on fracdiff-modern's series: d passes ADF at 5%, the grid's next-smaller d
    # does not (statsmodels ADF, constant and one lag, AFML 5.6)
    log_train = np.log(train)

    def p_value(order: float) -> float:
        return adf_test(_fdiff(log_train, order, len(ffd_weights(order, 1e-4))), 1)[1]

    assert p_value(d) < 0.05
    assert p_value(round(d - 0.05, 2)) >= 0.05
    table = selector.results_.set_index("d")
    assert table.loc[d, "stationary"] and not table.loc[:d - 0.01, "stationary"].any()
    # the test period never enters the choice: the selector only ever sees ``train``
    assert FracDiffSelector(threshold=1e-4).fit(train.copy()) == d


def test_selected_d_feeds_the_point_in_time_feature(long_bars):
    bars = long_bars[long_bars["symbol"] == "MSFT"].sort_values("timestamp")
    train = bars.iloc[:1500]
    selector = FracDiffSelector()
    selector.fit(train["close"])
    params = {"ffd_log_close": selector.params()}
    full = features.compute(bars, ["ffd_log_close"], params=params)
    past = features.compute(train, ["ffd_log_close"], params=params)
    np.testing.assert_array_equal(full.loc[train.index, "ffd_log_close"].to_numpy(),
                                  past["ffd_log_close"].to_numpy())
