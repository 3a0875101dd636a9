"""Training on a slice of the real bundled bars with tiny models: config loading, out-of-fold
predictions and CV metrics (recomputed here with scikit-learn), the final calibrated model,
determinism, every model class, and per-symbol and pooled (per CV fold) checkpoint / resume."""

import pickle

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

from alphaloop.common.errors import InvalidInputError
from alphaloop.ingest.quality import apply_gate
from alphaloop.ingest.sources import BytetheorySource
from alphaloop.models.calibration import calibrate
from alphaloop.models.training import (
    DEFAULT_CONFIG_PATH,
    TrainConfig,
    load_config,
    make_classifier,
    pipeline,
    train,
)

FEATURES = ["ret_5", "ret_21", "rsi_14", "rvol_21", "cs_rank_ret_5", "dist_sma_20", "bb_pctb_20"]
TINY = {
    "lightgbm": {"n_estimators": 25, "num_leaves": 7, "min_child_samples": 20},
    "xgboost": {"n_estimators": 20, "max_depth": 3},
    "catboost": {"iterations": 20, "depth": 3},
}


def _config(**overrides) -> TrainConfig:
    base = {
        "name": "test", "threads": 1, "features": FEATURES, "params": TINY,
        "labels": {"pt_sl": [1.5, 1.5], "vertical_bars": 5, "vol_span": 20},
        "cv": {"n_splits": 4, "embargo_pct": 0.01}, "test_fraction": 0.25,
        "min_symbol_events": 40,
    }
    return TrainConfig.model_validate({**base, **overrides})


@pytest.fixture(scope="module")
def universe():
    source = BytetheorySource()
    bars = apply_gate(source.load()).good
    symbols = sorted(bars["symbol"].unique())[:12]
    return bars[bars["symbol"].isin(symbols)].reset_index(drop=True), source.sectors()


@pytest.fixture(scope="module")
def pooled(universe):
    bars, sectors = universe
    return train(_config(), bars, sectors=sectors)


# -- config ------------------------------------------------------------------------------------

def test_the_shipped_default_config_is_valid_and_small():
    config = load_config()
    assert DEFAULT_CONFIG_PATH.name == "default.yaml" and DEFAULT_CONFIG_PATH.is_file()
    assert (config.model, config.mode, config.calibration.method) == ("lightgbm", "pooled", "auto")
    assert config.params["lightgbm"]["n_estimators"] <= 300
    assert config.threads == 2
    assert config.registry_name == "alphaloop-pooled"


def test_config_from_yaml_with_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"model": "xgboost", "features": ["ret_5"],
                                    "labels": {"pt_sl": [1, 2], "vertical_bars": 7},
                                    "calibration": {"method": "platt"}}))
    config = load_config(path, mode="per_symbol")
    assert config.model == "xgboost" and config.mode == "per_symbol"
    assert config.labels.pt_sl == (1.0, 2.0) and config.labels.vertical_bars == 7
    assert config.registry_name == "alphaloop-per-symbol"
    assert load_config(path).digest() != config.digest()


@pytest.mark.parametrize("bad", [{"modle": "lightgbm"}, {"model": "randomforest"},
                                 {"params": {"svm": {}}}, {"cv": {"n_splits": 1}},
                                 {"calibration": {"method": "beta"}}, {"test_fraction": 1.5}])
def test_invalid_configs_fail_loudly(tmp_path, bad):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(InvalidInputError):
        load_config(path)


# -- pooled ------------------------------------------------------------------------------------

def test_oof_covers_every_training_event_once_in_time_ordered_folds(pooled):
    oof = pooled.oof
    assert len(oof) == pooled.split.n_train
    assert sorted(oof["fold"].unique()) == [0, 1, 2, 3]
    assert oof["p_raw"].between(0, 1).all()
    assert (oof.groupby("fold")["t0"].min().diff().dropna() > pd.Timedelta(0)).all()
    assert (oof["t1"] < pooled.split.test_start).all()


def test_cv_metrics_agree_with_sklearn_on_the_oof_predictions(pooled):
    for fold, rows in pooled.oof.groupby("fold"):
        row = pooled.cv_folds.set_index("fold").loc[fold]
        y, p = rows["y"].to_numpy(), rows["p_raw"].to_numpy()
        assert row["auc"] == pytest.approx(roc_auc_score(y, p))
        assert row["accuracy"] == pytest.approx(accuracy_score(y, p > 0.5))
        assert row["log_loss"] == pytest.approx(log_loss(y, p))
        assert row["n_test"] == len(rows)
    assert pooled.cv_mean()["auc"] == pytest.approx(pooled.cv_folds["auc"].mean())


def test_test_period_predictions_come_from_the_final_model_and_oof_calibrator(pooled, universe):
    test = pooled.test
    assert len(test) == pooled.split.n_test
    assert (test["t0"] >= pooled.split.test_start).all()
    oof = pooled.oof
    calibrator, report, _ = calibrate(oof["p_raw"].to_numpy(), oof["y"].to_numpy(),
                                      oof["fold"].to_numpy(), "auto", 10)
    assert report.method == pooled.calibration.method
    np.testing.assert_array_equal(calibrator.transform(test["p_raw"].to_numpy()),
                                  test["p_cal"].to_numpy())
    metrics = pooled.test_metrics()
    assert metrics["auc_raw"] == pytest.approx(roc_auc_score(test["y"], test["p_raw"]))


def test_the_served_model_reproduces_the_test_predictions(pooled, universe):
    from alphaloop.models.dataset import build_training_set

    bars, sectors = universe
    config = pooled.config
    data = build_training_set(bars, config.features, config.labels, config.dataset, sectors)
    _, test_set, _ = data.split(config.test_fraction)
    np.testing.assert_array_equal(pooled.model.predict(test_set.X),
                                  pooled.test["p_cal"].to_numpy())
    np.testing.assert_array_equal(pooled.model.predict_raw(test_set.X),
                                  pooled.test["p_raw"].to_numpy())


def test_importances_metrics_and_calibration_report(pooled):
    imp = pooled.importances
    assert set(imp["feature"]) == set(pooled.feature_names) == {*FEATURES, "sector_code"}
    assert imp["importance"].sum() == pytest.approx(1.0)
    assert imp["importance"].is_monotonic_decreasing
    metrics = pooled.metrics()
    for key in ("cv_auc_mean", "cv_accuracy_mean", "cv_log_loss_mean", "cv_auc_fold_0",
                "test_auc", "test_auc_raw", "oof_ece_before", "oof_ece_after",
                "oof_brier_before", "oof_brier_after", "test_ece_before", "test_ece_after",
                "test_brier_before", "test_brier_after"):
        assert key in metrics and np.isfinite(metrics[key]), key
    assert pooled.calibration.method in ("none", "platt", "isotonic")


def test_training_is_deterministic_for_a_seed(pooled, universe, tmp_path):
    bars, sectors = universe
    # A fresh run_dir: the same config and bars would otherwise load ``pooled``'s checkpoints.
    again = train(_config(), bars.sample(frac=1.0, random_state=5), sectors=sectors,
                  run_dir=tmp_path)
    np.testing.assert_array_equal(again.oof["p_raw"].to_numpy(), pooled.oof["p_raw"].to_numpy())
    np.testing.assert_array_equal(again.test["p_cal"].to_numpy(),
                                  pooled.test["p_cal"].to_numpy())
    assert again.fingerprint == pooled.fingerprint


@pytest.mark.parametrize("model", ["xgboost", "catboost"])
def test_other_model_classes_train(universe, model):
    bars, sectors = universe
    result = train(_config(model=model, calibration={"method": "platt"}), bars, sectors=sectors)
    assert result.model.model_class == model
    assert result.calibration.method == "platt"
    assert result.oof["p_raw"].between(0, 1).all() and len(result.test) > 0


def test_ensemble_is_the_mean_of_its_three_members(universe):
    bars, sectors = universe
    result = train(_config(model="ensemble", calibration={"method": "none"}), bars,
                   sectors=sectors)
    ensemble = result.model.classifier
    assert [m.name for m in ensemble.members] == ["lightgbm", "xgboost", "catboost"]
    X = result.input_example
    expected = np.mean([m.predict_proba(X) for m in ensemble.members], axis=0)
    np.testing.assert_allclose(result.model.predict(X), expected, rtol=0, atol=1e-15)


def test_a_classifier_given_one_class_predicts_its_frequency():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    clf = make_classifier("lightgbm").fit(X, np.array([1, 1, 1]))
    assert clf.predict_proba(X).tolist() == [1.0, 1.0, 1.0]


# -- per symbol --------------------------------------------------------------------------------

class _Interrupted(Exception):
    pass


def test_per_symbol_training_resumes_after_an_interruption_with_the_same_result(
        universe, tmp_path):
    bars, sectors = universe
    bars = bars[bars["symbol"].isin(sorted(bars["symbol"].unique())[:5])]
    config = _config(mode="per_symbol", calibration={"method": "platt"})

    uninterrupted = train(config, bars, sectors=sectors, run_dir=tmp_path / "a")

    trained = []

    def stop_after_two(symbol, done, total):
        trained.append(symbol)
        if len(trained) == 2:
            raise _Interrupted

    with pytest.raises(_Interrupted):
        train(config, bars, sectors=sectors, run_dir=tmp_path / "b",
              on_symbol_done=stop_after_two)
    assert len(list((tmp_path / "b" / "checkpoints").glob("*/*.pkl"))) == 2

    resumed_now = []
    resumed = train(config, bars, sectors=sectors, run_dir=tmp_path / "b",
                    on_symbol_done=lambda s, d, t: resumed_now.append(s))
    assert set(resumed_now).isdisjoint(trained)
    assert len(trained) + len(resumed_now) == 5

    for frame in ("oof", "test"):
        pd.testing.assert_frame_equal(getattr(resumed, frame), getattr(uninterrupted, frame))
    pd.testing.assert_frame_equal(resumed.cv_folds, uninterrupted.cv_folds)
    X = uninterrupted.input_example
    np.testing.assert_array_equal(resumed.model.predict(X), uninterrupted.model.predict(X))
    assert resumed.model.symbols == uninterrupted.model.symbols
    assert len(resumed.per_symbol) + len(resumed.skipped_symbols) == 5
    assert len(resumed.per_symbol) >= 4

    # A third run trains nothing.
    third = []
    train(config, bars, sectors=sectors, run_dir=tmp_path / "b",
          on_symbol_done=lambda s, d, t: third.append(s))
    assert third == []


def test_per_symbol_model_needs_symbols_and_leaves_unknown_ones_nan(universe, tmp_path):
    bars, sectors = universe
    bars = bars[bars["symbol"].isin(sorted(bars["symbol"].unique())[:3])]
    result = train(_config(mode="per_symbol"), bars, sectors=sectors, run_dir=tmp_path)
    X = result.input_example.copy()
    assert np.isfinite(result.model.predict(X)).all()
    X["symbol"] = "NOT-A-SYMBOL"
    assert np.isnan(result.model.predict(X)).all()
    with pytest.raises(InvalidInputError):
        result.model.predict(X.drop(columns="symbol"))


# -- pooled checkpoints ------------------------------------------------------------------------

@pytest.fixture
def fits(monkeypatch):
    """How many classifiers training builds: one per fitted CV fold, one for the final fit."""
    made = []
    real = pipeline.make_classifier

    def counting(*args, **kwargs):
        made.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "make_classifier", counting)
    return made


def _steps(run_dir):
    """Checkpoint files per key folder, by step name."""
    return {folder.name: sorted(p.stem for p in folder.glob("*.pkl") if p.stem[0] != ".")
            for folder in (run_dir / "checkpoints").iterdir()}


def _assert_same_result(a, b):
    for frame in ("oof", "test"):
        pd.testing.assert_frame_equal(getattr(a, frame), getattr(b, frame), check_exact=True)
        for column in ("p_raw", "p_cal"):  # bit for bit, not merely close
            np.testing.assert_array_equal(getattr(a, frame)[column].to_numpy(),
                                          getattr(b, frame)[column].to_numpy())
    pd.testing.assert_frame_equal(a.cv_folds, b.cv_folds, check_exact=True)
    pd.testing.assert_frame_equal(a.importances, b.importances, check_exact=True)
    X = a.input_example
    np.testing.assert_array_equal(a.model.predict(X), b.model.predict(X))


def test_pooled_training_resumes_after_the_third_fold_with_the_same_result(
        universe, tmp_path, fits):
    bars, sectors = universe
    config = _config(calibration={"method": "platt"})  # 4 folds + the final fit = 5 steps
    uninterrupted = train(config, bars, sectors=sectors, run_dir=tmp_path / "a")
    assert len(fits) == 5

    fits.clear()
    reported = []

    def stop_after_the_third_fold(step, done, total):
        reported.append((step, done, total))
        if step == "fold-2":
            raise _Interrupted

    with pytest.raises(_Interrupted):
        train(config, bars, sectors=sectors, run_dir=tmp_path / "b",
              on_step_done=stop_after_the_third_fold)
    assert reported == [("fold-0", 1, 5), ("fold-1", 2, 5), ("fold-2", 3, 5)]
    assert len(fits) == 3
    assert list(_steps(tmp_path / "b").values()) == [["fold-0", "fold-1", "fold-2"]]

    fits.clear()
    reported.clear()
    resumed = train(config, bars, sectors=sectors, run_dir=tmp_path / "b",
                    on_step_done=lambda *step: reported.append(step))
    assert reported == [("fold-3", 4, 5), ("final", 5, 5)]  # folds 0-2 were loaded
    assert len(fits) == 2
    _assert_same_result(resumed, uninterrupted)

    # A third run fits nothing and still gives the same result.
    fits.clear()
    again = train(config, bars, sectors=sectors, run_dir=tmp_path / "b",
                  on_step_done=lambda *step: reported.append(step))
    assert fits == [] and len(reported) == 2
    _assert_same_result(again, uninterrupted)


def test_pooled_checkpoints_are_not_reused_for_another_seed_other_bars_or_sectors(
        universe, tmp_path, fits):
    bars, sectors = universe
    config = _config()
    train(config, bars, sectors=sectors, run_dir=tmp_path)
    other_bars = bars.copy()
    row = other_bars.index[len(other_bars) // 2]
    other_bars.loc[row, "close"] *= 1.0001  # one close moved by one basis point
    other_sectors = sectors.copy()
    other_sectors.loc[other_sectors["symbol"] == bars["symbol"].iloc[0], "sector"] = "Other"
    for run_config, run_bars, run_sectors in [(_config(seed=7), bars, sectors),
                                              (config, other_bars, sectors),
                                              (config, bars, other_sectors)]:
        fits.clear()
        train(run_config, run_bars, sectors=run_sectors, run_dir=tmp_path)
        assert len(fits) == 5
    steps = _steps(tmp_path)
    assert len(steps) == 4  # one key folder per distinct (config, bars, training set)
    assert all(names == ["final", "fold-0", "fold-1", "fold-2", "fold-3"]
               for names in steps.values())


def test_a_corrupt_or_stale_pooled_checkpoint_is_refitted_not_a_crash(universe, tmp_path, fits):
    bars, sectors = universe
    config = _config()
    first = train(config, bars, sectors=sectors, run_dir=tmp_path)
    (folder,) = (tmp_path / "checkpoints").iterdir()
    fold_1 = folder / "fold-1.pkl"
    fold_1.write_bytes(fold_1.read_bytes()[:100])  # truncated
    (folder / "final.pkl").write_bytes(b"not a pickle")
    with (folder / "fold-2.pkl").open("rb") as fh:
        saved = pickle.load(fh)
    with (folder / "fold-2.pkl").open("wb") as fh:  # readable, but for other rows
        pickle.dump({**saved, "rows": saved["rows"][1:], "p": saved["p"][1:]}, fh)
    with (folder / "fold-3.pkl").open("wb") as fh:  # readable, but another step's
        pickle.dump({**saved, "step": "fold-2"}, fh)
    (folder / ".tmp-killed.pkl").write_bytes(b"half a fi")  # a write killed before rename

    fits.clear()
    again = train(config, bars, sectors=sectors, run_dir=tmp_path)
    assert len(fits) == 4  # folds 1, 2, 3 and the final fit; fold 0 was loaded
    _assert_same_result(again, first)
