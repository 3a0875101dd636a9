"""Train through the real models gRPC server on ephemeral ports, with a DuckDB store holding
two dozen symbols of the bundled real data and the embedded sqlite MLflow store, both in a
temporary folder: a trained version shows up in ListModels with the reported run id, the
reply's metrics are the run's MLflow metrics (and agree with the logged folds and test
predictions), the champion alias does not move; a bad config is INVALID_ARGUMENT naming the
field, an empty store (or one too short to label) FAILED_PRECONDITION, and a Train arriving
during another is ABORTED."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn.metrics import log_loss, roc_auc_score

from alphaloop.common.store import open_store
from alphaloop.ingest.quality import apply_gate
from alphaloop.ingest.sources import BytetheorySource
from alphaloop.models.api import ModelsApi
from alphaloop.models.main import build, load
from alphaloop.v1 import models_service_pb2, models_service_pb2_grpc

NAME = "train-rpc-test"
N_SYMBOLS = 24
CONFIG = {
    "name": "train-rpc-test", "threads": 1, "registered_model": NAME,
    "features": ["ret_5", "ret_21", "rsi_14", "rvol_21", "dist_sma_20", "cs_rank_ret_5"],
    "params": {"lightgbm": {"n_estimators": 10, "num_leaves": 7, "min_child_samples": 20}},
    "labels": {"pt_sl": [1.5, 1.5], "vertical_bars": 5},
    "cv": {"n_splits": 3}, "test_fraction": 0.25,
}
#: The reply's metric keys (named as the run's MLflow metrics).
REPLY_KEYS = {"cv_auc_mean", "cv_accuracy_mean", "cv_log_loss_mean",
              "test_auc", "test_accuracy", "test_log_loss"}


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    good = apply_gate(BytetheorySource().load()).good
    symbols = sorted(good["symbol"].unique())[:N_SYMBOLS]
    return good[good["symbol"].isin(symbols)].reset_index(drop=True)


def _fill_store(state, bars=None) -> None:
    with open_store("duckdb", str(state / "alphaloop.duckdb")) as store:
        store.migrate()
        if bars is not None:
            store.write_bars(bars)


@pytest.fixture
def state(tmp_path, bars):
    """A state folder whose DuckDB store holds the bars (and no MLflow store yet)."""
    folder = tmp_path / "state"
    folder.mkdir()
    _fill_store(folder, bars)
    return folder


def _settings(state_dir):
    return load(state_dir=state_dir, store_backend="duckdb", store_url="", model_name=NAME,
                stream_enabled=False, poll_seconds=3600)


def _start(state_dir, api=None):
    settings = _settings(state_dir)
    server = build(settings, api=api or ModelsApi(settings))
    server.start(grpc_port=0, metrics_port=0)
    return server


@pytest.fixture
def started():
    servers = []

    def start(state_dir, api=None):
        servers.append(_start(state_dir, api))
        return servers[-1]

    yield start
    for s in servers:
        s.stop(grace=0)


@pytest.fixture(scope="module")
def idle(tmp_path_factory):
    """A server whose state folder has no store at all (and so nothing to train on)."""
    state = tmp_path_factory.mktemp("idle")
    server = _start(state)
    yield server, state
    server.stop(grace=0)


def _stub(server):
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    return channel, models_service_pb2_grpc.ModelServiceStub(channel)


def _mlflow(state) -> MlflowClient:
    """A client of the run's store built here, not taken from the service."""
    uri = f"sqlite:///{state.resolve() / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _text_request(**overrides) -> models_service_pb2.TrainRequest:
    return models_service_pb2.TrainRequest(config_text=json.dumps({**CONFIG, **overrides}))


def _check_metrics_are_the_runs(client: MlflowClient, reply, tmp_path) -> None:
    logged = client.get_run(reply.run_id).data.metrics
    assert set(reply.metrics) == REPLY_KEYS
    for key in REPLY_KEYS:
        assert reply.metrics[key] == logged[key], key
    # the CV means are the means of the logged folds
    for score in ("auc", "accuracy", "log_loss"):
        folds = [logged[f"cv_{score}_fold_{k}"] for k in range(CONFIG["cv"]["n_splits"])]
        assert reply.metrics[f"cv_{score}_mean"] == pytest.approx(np.mean(folds), rel=1e-12)
    # the test metrics score the logged held-out predictions of the calibrated model
    local = client.download_artifacts(reply.run_id, "predictions/test.parquet", str(tmp_path))
    test = pd.read_parquet(local)
    y, p = test["y"].to_numpy(), test["p_cal"].to_numpy()
    assert reply.metrics["test_auc"] == pytest.approx(roc_auc_score(y, p), rel=1e-12)
    assert reply.metrics["test_accuracy"] == pytest.approx(np.mean((p > 0.5) == (y == 1)),
                                                           rel=1e-12)
    assert reply.metrics["test_log_loss"] == pytest.approx(log_loss(y, p, labels=[0, 1]),
                                                           rel=1e-12)
    assert 0.0 < reply.metrics["cv_auc_mean"] < 1.0


def test_train_registers_a_version_and_leaves_the_champion_alone(state, started, tmp_path):
    server = started(state)
    client = _mlflow(state)
    channel, stub = _stub(server)
    with channel:
        first = stub.Train(_text_request(), timeout=300)
        assert (first.model_id, first.model_version) == (NAME, "1")
        # the grading service promotes; here by hand, straight in the registry
        client.set_registered_model_alias(NAME, "champion", first.model_version)
        assert server.model_server.refresh() is True

        path = tmp_path / "seed7.yaml"
        path.write_text("\n".join(f"{k}: {json.dumps(v)}"
                                  for k, v in {**CONFIG, "seed": 7}.items()))
        second = stub.Train(models_service_pb2.TrainRequest(config_path=str(path)),
                            timeout=300)
        assert (second.model_id, second.model_version) == (NAME, "2")
        assert second.run_id != first.run_id
        listed = stub.ListModels(models_service_pb2.ListModelsRequest(name=NAME), timeout=30)

    assert [(m.version, m.run_id, list(m.aliases)) for m in listed.models] == [
        ("1", first.run_id, ["champion"]), ("2", second.run_id, [])]
    for reply in (first, second):
        assert client.get_model_version(NAME, reply.model_version).run_id == reply.run_id
        _check_metrics_are_the_runs(client, reply, tmp_path / reply.model_version)
    # each run trained with the config its request gave
    assert client.get_run(first.run_id).data.params["seed"] == "42"
    assert client.get_run(second.run_id).data.params["seed"] == "7"
    # no alias moved and the server still serves version 1
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "1"
    assert server.model_server.refresh() is False
    assert server.model_server.current.version == "1"


@pytest.mark.parametrize(("field", "value", "mentions"), [
    ("config_text", "name: typo\nn_estimators: 5\n", "n_estimators"),
    ("config_text", '{"model": "lightgbm", "cv": {"n_splitz": 3}}', "n_splitz"),
    ("config_text", "model: [lightgbm", "not valid YAML"),
    ("config_text", "- lightgbm\n- xgboost\n", "mapping"),
    ("config_path", "/nonexistent/alphaloop-train.yaml", "cannot read"),
])
def test_bad_config_is_invalid_argument_naming_the_field(idle, field, value, mentions):
    server, state = idle
    channel, stub = _stub(server)
    with channel, pytest.raises(grpc.RpcError) as err:
        stub.Train(models_service_pb2.TrainRequest(**{field: value}), timeout=60)
    # the config is checked before the store: there is none here
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details().startswith(f"{field}: ")
    assert mentions in err.value.details()
    assert _mlflow(state).search_registered_models() == []


def test_no_store_is_failed_precondition(idle):
    server, state = idle
    channel, stub = _stub(server)
    with channel, pytest.raises(grpc.RpcError) as err:
        stub.Train(models_service_pb2.TrainRequest(), timeout=60)  # the default config
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "no store at" in err.value.details()
    assert "alphaloop hydrate" in err.value.details()
    assert _mlflow(state).search_registered_models() == []


def test_store_without_bars_is_failed_precondition(tmp_path, started):
    _fill_store(tmp_path)
    server = started(tmp_path)
    channel, stub = _stub(server)
    with channel, pytest.raises(grpc.RpcError) as err:
        stub.Train(models_service_pb2.TrainRequest(config_text=json.dumps(CONFIG)), timeout=60)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "no bars in" in err.value.details()
    assert "alphaloop hydrate" in err.value.details()
    assert _mlflow(tmp_path).search_registered_models() == []


def test_too_few_stored_bars_is_failed_precondition(tmp_path, started, bars):
    # 40 bars of one symbol: shorter than the default config's 63-bar warm-up
    _fill_store(tmp_path, bars[bars["symbol"] == bars["symbol"].iloc[0]].head(40))
    server = started(tmp_path)
    channel, stub = _stub(server)
    with channel, pytest.raises(grpc.RpcError) as err:
        stub.Train(models_service_pb2.TrainRequest(), timeout=60)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "too few bars" in err.value.details()
    assert _mlflow(tmp_path).search_registered_models() == []


class _HeldTraining(ModelsApi):
    """Holds each training at its start until released, so a second Train certainly arrives
    while the first is running."""

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.entered, self.release = threading.Event(), threading.Event()

    def _train(self, config):
        self.entered.set()
        if not self.release.wait(120):
            raise TimeoutError("the test never released the training")
        return super()._train(config)


def test_a_train_during_another_is_aborted_and_trains_nothing(state, started):
    api = _HeldTraining(_settings(state))
    server = started(state, api=api)
    channel, stub = _stub(server)
    with channel, ThreadPoolExecutor(1) as pool:
        try:
            running = pool.submit(stub.Train, _text_request(), timeout=300)
            assert api.entered.wait(60)
            with pytest.raises(grpc.RpcError) as err:
                stub.Train(_text_request(seed=7), timeout=60)
            assert err.value.code() == grpc.StatusCode.ABORTED
            assert "already in progress" in err.value.details()
        finally:
            api.release.set()
        first = running.result(timeout=300)
        assert first.model_version == "1"
        versions = _mlflow(state).search_model_versions(f"name = '{NAME}'")
        assert [str(v.version) for v in versions] == ["1"]
        # the slot is free again once the run is over
        again = stub.Train(_text_request(seed=7), timeout=300)
    assert again.model_version == "2"
    assert _mlflow(state).get_run(again.run_id).data.params["seed"] == "7"
