"""Serving against a real sqlite MLflow store and the real models gRPC server: Predict returns
exactly the registered pyfunc model's calibrated probabilities with the champion's version; a
promotion is picked up without a restart (explicit refresh and the background poll);
missing features and a missing champion map to INVALID_ARGUMENT / FAILED_PRECONDITION;
ListModels reports versions, aliases, metrics and staleness; staleness drives readiness and
the gauge; the stream turns FeatureVectors on a memory bus into Signals with deterministic ids."""

import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import grpc
import numpy as np
import pandas as pd
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from alphaloop.common.bus import open_bus
from alphaloop.common.clock import SimulatedClock
from alphaloop.common.topics import Topic
from alphaloop.ingest.quality import apply_gate
from alphaloop.ingest.sources import BytetheorySource
from alphaloop.models.api import ModelsApi, make_model_server
from alphaloop.models.dataset import build_training_set
from alphaloop.models.main import build, load
from alphaloop.models.registry import CHAMPION, Tracking
from alphaloop.models.serving import signal_id
from alphaloop.models.stream import SignalStream
from alphaloop.models.training import TrainConfig, train
from alphaloop.v1 import (
    features_pb2,
    models_service_pb2,
    models_service_pb2_grpc,
    orders_pb2,
    signals_pb2,
)

FEATURES = ["ret_5", "ret_21", "rsi_14", "rvol_21", "dist_sma_20"]
NAME = "serving-test"
SERVICE = "alphaloop.v1.ModelService"


def _config(**overrides) -> TrainConfig:
    return TrainConfig.model_validate({
        "name": "serving-test", "threads": 1, "features": FEATURES, "registered_model": NAME,
        "params": {"lightgbm": {"n_estimators": 10, "num_leaves": 7, "min_child_samples": 20}},
        "labels": {"pt_sl": [1.5, 1.5], "vertical_bars": 5},
        "cv": {"n_splits": 2}, "test_fraction": 0.25, **overrides,
    })


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two versions of one model in a temporary sqlite store, and held-out rows to score."""
    store = tmp_path_factory.mktemp("state")
    source = BytetheorySource()
    bars = apply_gate(source.load()).good
    symbols = sorted(bars["symbol"].unique())[:6]
    bars = bars[bars["symbol"].isin(symbols)].reset_index(drop=True)
    sectors = source.sectors()
    tracking = Tracking(state_dir=store)
    first = train(_config(), bars, tracking, sectors=sectors)
    second = train(_config(seed=7, params={"lightgbm": {"n_estimators": 15, "num_leaves": 5}}),
                   bars, tracking, sectors=sectors)
    assert (first.model_version, second.model_version) == ("1", "2")
    config = first.config
    data = build_training_set(bars, config.features, config.labels, config.dataset, sectors)
    _, test_set, _ = data.split(config.test_fraction)
    rows = test_set.frame.tail(40).reset_index(drop=True)
    return {"store": store, "tracking": tracking, "rows": rows,
            "features": first.feature_names}


def _vectors(rows: pd.DataFrame, features: list[str]) -> list:
    out = []
    for row in rows.itertuples(index=False):
        v = features_pb2.FeatureVector(symbol=row.symbol, feature_set_version="test")
        v.timestamp.FromDatetime(pd.Timestamp(row.t0).to_pydatetime())
        for f in features:
            v.values[f] = float(getattr(row, f))
        out.append(v)
    return out


def _expected(trained, version) -> np.ndarray:
    model = trained["tracking"].load_version(NAME, version)
    return np.asarray(model.predict(trained["rows"][trained["features"]]), dtype=np.float64)


def _check_signals(signals, rows, p_up, version):
    assert len(signals) == len(rows)
    for sig, row, p in zip(signals, rows.itertuples(index=False), p_up, strict=True):
        assert sig.symbol == row.symbol
        assert sig.model_id == NAME and sig.model_version == version
        if p >= 0.5:
            assert sig.side == orders_pb2.SIDE_BUY and sig.probability == p
        else:
            assert sig.side == orders_pb2.SIDE_SELL and sig.probability == 1.0 - p
        assert sig.horizon_bars == 5
        ts = pd.Timestamp(row.t0)
        assert sig.timestamp.ToDatetime(tzinfo=UTC) == ts.to_pydatetime()
        assert sig.signal_id == signal_id(NAME, version, row.symbol, ts.value, sig.strategy)


@pytest.fixture
def started():
    servers = []

    def start(trained, api=None, **overrides):
        settings = load(**{"state_dir": trained["store"], "model_name": NAME,
                           "stream_enabled": False, "poll_seconds": 3600, **overrides})
        server = build(settings, api=api)
        server.start(grpc_port=0, metrics_port=0)
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop(grace=0)


def _stub(server):
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    return channel, models_service_pb2_grpc.ModelServiceStub(channel)


def _health(server, service):
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        return health_pb2_grpc.HealthStub(ch).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=5).status


def test_predict_matches_the_pyfunc_model_and_follows_a_promotion(trained, started):
    tracking, rows = trained["tracking"], trained["rows"]
    tracking.set_alias(NAME, 1, CHAMPION)
    server = started(trained)
    channel, stub = _stub(server)
    with channel:
        request = models_service_pb2.PredictRequest(features=_vectors(rows, trained["features"]))
        reply = stub.Predict(request, timeout=30)
        assert (reply.model_id, reply.model_version) == (NAME, "1")
        p1 = _expected(trained, 1)
        assert 0.0 < p1.min() < p1.max() < 1.0
        _check_signals(reply.signals, rows, p1, "1")
        assert {s.strategy for s in reply.signals} == {"ml"}

        # promote version 2: no restart, one explicit refresh
        tracking.set_alias(NAME, 2, CHAMPION)
        assert server.model_server.refresh() is True
        reply2 = stub.Predict(request, timeout=30)
        assert reply2.model_version == "2"
        p2 = _expected(trained, 2)
        assert not np.array_equal(p1, p2)
        _check_signals(reply2.signals, rows, p2, "2")
        # the same vector under a new version is a new signal
        assert reply2.signals[0].signal_id != reply.signals[0].signal_id

        # an explicit version is served without moving the champion
        old = stub.Predict(models_service_pb2.PredictRequest(
            features=request.features, model_version="1", strategy="s1"), timeout=30)
        assert old.model_version == "1" and old.signals[0].strategy == "s1"
        _check_signals(old.signals, rows, p1, "1")
        assert server.model_server.current.version == "2"
        with pytest.raises(grpc.RpcError) as err:
            stub.Predict(models_service_pb2.PredictRequest(
                features=request.features[:1], model_version="99"), timeout=30)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_background_poll_picks_up_a_promotion(trained, started):
    tracking, rows = trained["tracking"], trained["rows"]
    tracking.set_alias(NAME, 1, CHAMPION)
    server = started(trained, poll_seconds=0.2)
    channel, stub = _stub(server)
    request = models_service_pb2.PredictRequest(features=_vectors(rows.head(3),
                                                                  trained["features"]))
    with channel:
        assert stub.Predict(request, timeout=30).model_version == "1"
        tracking.set_alias(NAME, 2, CHAMPION)
        deadline = time.monotonic() + 20
        while stub.Predict(request, timeout=30).model_version != "2":
            assert time.monotonic() < deadline, "promotion not picked up by the poll"
            time.sleep(0.1)


def test_missing_feature_is_invalid_argument_naming_it(trained, started):
    trained["tracking"].set_alias(NAME, 1, CHAMPION)
    server = started(trained)
    vectors = _vectors(trained["rows"].head(2), trained["features"])
    del vectors[1].values["rsi_14"]
    channel, stub = _stub(server)
    with channel, pytest.raises(grpc.RpcError) as err:
        stub.Predict(models_service_pb2.PredictRequest(features=vectors), timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "rsi_14" in err.value.details() and "features[1]" in err.value.details()


def test_no_champion_is_failed_precondition_and_health_still_serving(trained, started):
    server = started(trained, model_name="nobody-promoted-this")
    assert _health(server, "") == health_pb2.HealthCheckResponse.SERVING
    assert _health(server, SERVICE) == health_pb2.HealthCheckResponse.SERVING
    channel, stub = _stub(server)
    with channel, pytest.raises(grpc.RpcError) as err:
        stub.Predict(models_service_pb2.PredictRequest(
            features=_vectors(trained["rows"].head(1), trained["features"])), timeout=30)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "champion" in err.value.details() and "nobody-promoted-this" in err.value.details()


def test_list_models_reports_versions_aliases_metrics_and_staleness(trained, started):
    tracking = trained["tracking"]
    tracking.set_alias(NAME, 2, CHAMPION)
    tracking.set_alias(NAME, 1, "challenger")
    server = started(trained)
    channel, stub = _stub(server)
    with channel:
        reply = stub.ListModels(models_service_pb2.ListModelsRequest(name=NAME), timeout=30)
        every = stub.ListModels(models_service_pb2.ListModelsRequest(), timeout=30)
    assert [(m.name, m.version) for m in reply.models] == [(NAME, "1"), (NAME, "2")]
    assert [list(m.aliases) for m in reply.models] == [["challenger"], ["champion"]]
    for m, version in zip(reply.models, tracking.list_versions(NAME), strict=True):
        run = tracking.client.get_run(version.run_id)
        assert m.run_id == version.run_id
        assert m.metrics["test_accuracy"] == run.data.metrics["test_accuracy"]
        assert m.staleness == models_service_pb2.STALENESS_FRESH
        assert abs(m.trained_at.ToDatetime(tzinfo=UTC) - datetime.now(UTC)) < timedelta(hours=1)
    assert {(m.name, m.version) for m in every.models} >= {(NAME, "1"), (NAME, "2")}


def _gauge(server) -> str:
    text = urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics",
                                  timeout=5).read().decode()
    return next(line for line in text.splitlines()
            if line.startswith(f'alphaloop_model_staleness{{model="{NAME}"}}'))


def test_staleness_drives_readiness_the_gauge_and_stops_signals(trained, started):
    trained["tracking"].set_alias(NAME, 1, CHAMPION)
    clock = SimulatedClock(datetime.now(UTC))
    settings = load(state_dir=trained["store"], model_name=NAME, stream_enabled=False)
    api = ModelsApi(settings, make_model_server(settings, clock), clock)
    server = started(trained, api=api)
    msrv = server.model_server
    msrv.refresh()
    assert _health(server, SERVICE) == health_pb2.HealthCheckResponse.SERVING
    assert _gauge(server).endswith(" 0.0")
    request = models_service_pb2.PredictRequest(
        features=_vectors(trained["rows"].head(2), trained["features"]))
    channel, stub = _stub(server)
    with channel:
        clock.advance(timedelta(days=15))  # STALE: out of rotation, still alive, still answers
        msrv.refresh()
        assert _health(server, SERVICE) == health_pb2.HealthCheckResponse.NOT_SERVING
        assert _health(server, "") == health_pb2.HealthCheckResponse.SERVING
        assert _gauge(server).endswith(" 2.0")
        assert stub.Predict(request, timeout=30).model_version == "1"
        listed = stub.ListModels(models_service_pb2.ListModelsRequest(name=NAME), timeout=30)
        assert listed.models[0].staleness == models_service_pb2.STALENESS_STALE

        clock.advance(timedelta(days=16))  # CRITICAL: no new signals from the champion
        msrv.refresh()
        assert _gauge(server).endswith(" 3.0")
        with pytest.raises(grpc.RpcError) as err:
            stub.Predict(request, timeout=30)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "CRITICAL" in err.value.details()

        # promoting version 2 (registered at the same real time, so just as old on this
        # clock) swaps the model but not the verdict
        trained["tracking"].set_alias(NAME, 2, CHAMPION)
        msrv.refresh()
        assert msrv.assess().level.name == "CRITICAL"


def test_accuracy_drop_makes_the_model_stale(trained):
    trained["tracking"].set_alias(NAME, 1, CHAMPION)
    settings = load(state_dir=trained["store"], model_name=NAME, accuracy_min_outcomes=20,
                    accuracy_window=20)
    msrv = make_model_server(settings)
    msrv.refresh()
    reference = msrv.current.reference_accuracy
    assert reference is not None and 0 < reference <= 1
    assert msrv.assess().level.name == "FRESH"
    for _ in range(20):
        msrv.record_outcome(0.9, 0)  # every call wrong
    assert reference > 0.2  # so all-wrong outcomes are a drop of more than 20 points
    assert msrv.assess().level.name == "CRITICAL"
    assert msrv.readiness()[0] is False


def test_stream_publishes_signals_with_deterministic_ids(trained):
    tracking, rows = trained["tracking"], trained["rows"].head(12)
    tracking.set_alias(NAME, 1, CHAMPION)
    latest = pd.Timestamp(rows["t0"].max()).to_pydatetime()
    clock = SimulatedClock(latest + timedelta(hours=1))
    settings = load(state_dir=trained["store"], model_name=NAME)
    msrv = make_model_server(settings, clock)
    bus = open_bus("memory")
    stream = SignalStream(bus, msrv, strategy="ml")
    out = bus.subscribe(str(Topic.SIGNALS), group="risk-test")
    stream.subscribe()
    stop = threading.Event()
    worker = threading.Thread(target=stream.run, args=(stop,), kwargs={"poll_timeout": 0.05})
    worker.start()
    try:
        vectors = _vectors(rows, trained["features"])
        for v in vectors:
            bus.publish(str(Topic.FEATURES), v.symbol, v)
        bus.publish(str(Topic.FEATURES), vectors[3].symbol, vectors[3])  # a redelivery
        stale = features_pb2.FeatureVector()
        stale.CopyFrom(vectors[0])
        stale.timestamp.FromDatetime(latest - timedelta(days=10))  # old market data: no signal
        bus.publish(str(Topic.FEATURES), stale.symbol, stale)

        got: list[tuple[str, signals_pb2.Signal]] = []
        deadline = time.monotonic() + 30
        while len(got) < len(vectors) + 1:
            assert time.monotonic() < deadline, f"only {len(got)} signals"
            for m in out.poll(timeout=0.2):
                got.append((m.key, signals_pb2.Signal.FromString(m.value)))
                out.ack(m)
        time.sleep(0.3)
        assert out.poll(timeout=0.2) == []  # the stale vector made nothing
    finally:
        stop.set()
        worker.join(10)
        bus.close()

    p_up = np.asarray(tracking.load_version(NAME, 1).predict(rows[trained["features"]]))
    by_key: dict[tuple[str, str], list[signals_pb2.Signal]] = {}
    for key, sig in got:
        assert key == sig.symbol
        by_key.setdefault((sig.symbol, str(sig.timestamp.ToDatetime())), []).append(sig)
    ordered = [by_key[(r.symbol, str(pd.Timestamp(r.t0).to_pydatetime().replace(tzinfo=None)))]
               for r in rows.itertuples(index=False)]
    _check_signals([s[0] for s in ordered], rows, p_up, "1")
    dup = ordered[3]
    assert len(dup) == 2 and dup[0] == dup[1]  # redelivery -> identical signal, same id
    assert sum(len(s) for s in ordered) == len(vectors) + 1
    assert len({s[0].signal_id for s in ordered}) == len(rows)
    # the stale vector pushed no signal; readiness is judged on the newest data seen
    assert msrv.data.latest == latest
    assert msrv.readiness()[0] is True
    clock.advance(timedelta(days=4))
    ready, reason = msrv.readiness()
    assert not ready and "market data stale" in reason
