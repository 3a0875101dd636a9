"""MLflow tracking and registry against the real sqlite backend in a temporary folder: a run's
params, metrics, tags and artifacts are all there; registering twice gives versions 1 and 2;
aliases move; the loaded champion predicts exactly what the in-memory calibrated model does."""

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from alphaloop.common.errors import NotFoundError
from alphaloop.ingest.quality import apply_gate
from alphaloop.ingest.sources import BytetheorySource
from alphaloop.models.fingerprint import fingerprint
from alphaloop.models.registry import (
    CHALLENGER,
    CHAMPION,
    Tracking,
    embedded_tracking_uri,
    list_versions,
    load_alias,
    set_alias,
)
from alphaloop.models.training import TrainConfig, train

FEATURES = ["ret_5", "ret_21", "rsi_14", "rvol_21", "cs_rank_ret_5", "dist_sma_20"]


def _config(**overrides) -> TrainConfig:
    return TrainConfig.model_validate({
        "name": "mlflow-test", "threads": 1, "features": FEATURES,
        "params": {"lightgbm": {"n_estimators": 20, "num_leaves": 7, "min_child_samples": 20}},
        "labels": {"pt_sl": [1.5, 1.5], "vertical_bars": 5},
        "cv": {"n_splits": 3}, "test_fraction": 0.25, "min_symbol_events": 40, **overrides,
    })


@pytest.fixture(scope="module")
def universe():
    source = BytetheorySource()
    bars = apply_gate(source.load()).good
    symbols = sorted(bars["symbol"].unique())[:10]
    return bars[bars["symbol"].isin(symbols)].reset_index(drop=True), source.sectors()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def tracking(store):
    return Tracking(state_dir=store)


@pytest.fixture(scope="module")
def first(universe, tracking):
    bars, sectors = universe
    return train(_config(), bars, tracking, sectors=sectors)


@pytest.fixture(scope="module")
def second(universe, tracking, first):
    bars, sectors = universe
    return train(_config(seed=7), bars, tracking, sectors=sectors)


def test_embedded_store_is_sqlite_under_the_state_dir(store, tracking, first):
    assert tracking.tracking_uri == f"sqlite:///{store.resolve()}/mlflow.db"
    assert tracking.tracking_uri == embedded_tracking_uri(store)
    assert (store / "mlflow.db").is_file()
    run = tracking.client.get_run(first.run_id)
    assert run.info.artifact_uri.startswith((store / "mlartifacts").resolve().as_uri())


def test_a_run_logs_params_metrics_tags_and_artifacts(universe, tracking, first):
    bars, _ = universe
    run = tracking.client.get_run(first.run_id)
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags

    fp = fingerprint(bars)
    assert params["data_fingerprint"] == fp.sha256 == tags["alphaloop.data_fingerprint"]
    assert params["data_first_ts"] == fp.first_ts and params["data_last_ts"] == fp.last_ts
    assert params["data_n_symbols"] == "10"
    assert params["model"] == "lightgbm" and params["mode"] == "pooled"
    assert params["params.lightgbm.n_estimators"] == "20"
    assert params["labels.pt_sl"] == "[1.5, 1.5]" and params["cv.n_splits"] == "3"
    assert params["seed"] == "42"
    assert tags["alphaloop.model_class"] == "lightgbm"
    assert tags["alphaloop.config_digest"] == first.config.digest()

    expected = first.metrics()
    for key in ("cv_auc_mean", "cv_accuracy_mean", "cv_log_loss_mean", "cv_auc_fold_2",
                "oof_ece_before", "oof_ece_after", "oof_brier_before", "oof_brier_after",
                "test_ece_before", "test_ece_after", "test_brier_before", "test_brier_after",
                "test_auc", "test_accuracy", "test_log_loss"):
        assert metrics[key] == pytest.approx(expected[key], rel=1e-12), key

    files = {a.path for a in tracking.client.list_artifacts(first.run_id)}
    assert {"features.json", "feature_importances.csv", "feature_importances.json",
            "calibration_curve.json", "calibration_curve.png", "data_fingerprint.json",
            "cv_folds.csv", "config.json", "summary.json", "predictions"} <= files

    folder = mlflow.artifacts.download_artifacts(run_id=first.run_id,
                                                 tracking_uri=tracking.tracking_uri)
    features = json.loads(Path(folder, "features.json").read_text())
    assert features["features"] == first.feature_names == [*FEATURES, "sector_code"]
    importances = pd.read_csv(f"{folder}/feature_importances.csv")
    assert importances["importance"].sum() == pytest.approx(1.0)
    curve = json.loads(Path(folder, "calibration_curve.json").read_text())
    assert curve["method"] == first.calibration.method and curve["n_bins"] == 10
    assert len(curve["curve"]["test_after"]) == 10
    assert sum(b["count"] for b in curve["curve"]["oof_before"]) == len(first.oof)
    oof = pd.read_parquet(f"{folder}/predictions/oof.parquet")
    np.testing.assert_array_equal(oof["p_raw"].to_numpy(), first.oof["p_raw"].to_numpy())


def test_registering_twice_gives_versions_one_and_two(tracking, first, second):
    assert (first.model_version, second.model_version) == ("1", "2")
    versions = tracking.list_versions("alphaloop-pooled")
    assert [v.version for v in versions] == ["1", "2"]
    assert [v.run_id for v in versions] == [first.run_id, second.run_id]
    assert versions[0].tags["alphaloop.data_fingerprint"] == first.fingerprint.sha256


def test_aliases_move_between_versions(tracking, first, second):
    name = "alphaloop-pooled"
    tracking.set_alias(name, 1, CHAMPION)
    tracking.set_alias(name, 2, CHALLENGER)
    assert tracking.alias_version(name, CHAMPION) == "1"
    assert tracking.alias_version(name, CHALLENGER) == "2"
    tracking.set_alias(name, 2, CHAMPION)  # promote the challenger
    assert tracking.alias_version(name, CHAMPION) == "2"
    aliases = {v.version: v.aliases for v in tracking.list_versions(name)}
    assert aliases == {"1": (), "2": (CHALLENGER, CHAMPION)}
    tracking.set_alias(name, 1, CHAMPION)  # and roll back
    assert tracking.alias_version(name, CHAMPION) == "1"
    with pytest.raises(NotFoundError):
        tracking.set_alias(name, 9, CHAMPION)
    with pytest.raises(NotFoundError):
        tracking.alias_version(name, "no-such-alias")


def test_loaded_champion_predicts_exactly_the_in_memory_calibrated_model(
        universe, tracking, first, second):
    from alphaloop.models.dataset import build_training_set

    bars, sectors = universe
    config = first.config
    data = build_training_set(bars, config.features, config.labels, config.dataset, sectors)
    _, test_set, _ = data.split(config.test_fraction)
    tracking.set_alias("alphaloop-pooled", 1, CHAMPION)
    model, version = tracking.load_alias("alphaloop-pooled", CHAMPION)
    assert version == "1"
    served = np.asarray(model.predict(test_set.X))
    np.testing.assert_array_equal(served, first.model.predict(test_set.X))
    np.testing.assert_array_equal(served, first.test["p_cal"].to_numpy())
    v2 = tracking.load_version("alphaloop-pooled", 2)
    np.testing.assert_array_equal(np.asarray(v2.predict(test_set.X)),
                                  second.model.predict(test_set.X))


def test_module_functions_use_the_embedded_store(store, first, second):
    set_alias("alphaloop-pooled", 2, CHALLENGER, state_dir=store)
    model, version = load_alias("alphaloop-pooled", CHALLENGER, state_dir=store)
    assert version == "2" and model is not None
    assert [v.version for v in list_versions("alphaloop-pooled", state_dir=store)] == ["1", "2"]
    # An explicit tracking URI (the cluster's) reaches the same store.
    uri = embedded_tracking_uri(store)
    assert [v.version for v in list_versions("alphaloop-pooled", tracking_uri=uri)] == ["1", "2"]


def test_per_symbol_models_register_under_their_own_name(universe, tracking, tmp_path):
    bars, sectors = universe
    bars = bars[bars["symbol"].isin(sorted(bars["symbol"].unique())[:3])]
    result = train(_config(mode="per_symbol"), bars, tracking, sectors=sectors, run_dir=tmp_path)
    assert result.model_version == "1"
    model = tracking.load_version("alphaloop-per-symbol", 1)
    X = result.input_example
    assert "symbol" in X.columns
    np.testing.assert_array_equal(np.asarray(model.predict(X)), result.model.predict(X))
    assert tracking.client.get_run(result.run_id).data.params["mode"] == "per_symbol"
