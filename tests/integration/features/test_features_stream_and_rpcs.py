"""The features service end to end: bars published on a memory bus go through the streaming
engine and come back as FeatureVectors equal to the batch ``compute``; the gRPC server on
ephemeral ports answers ComputeFeatures (values equal to ``compute`` in the test),
DescribeFeatures (the whole catalogue) and INVALID_ARGUMENT for an unknown feature."""

from __future__ import annotations

import threading
import time

import grpc
import numpy as np
import pandas as pd
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from alphaloop import features
from alphaloop.common.bus import open_bus
from alphaloop.common.topics import Topic
from alphaloop.features import main
from alphaloop.features.incremental import IncrementalEngine
from alphaloop.features.stream import FeatureStream
from alphaloop.ingest.quality import apply_gate
from alphaloop.ingest.sources import BytetheorySource
from alphaloop.ingest.stream import bars_to_protos
from alphaloop.v1 import (
    features_pb2,
    features_service_pb2,
    features_service_pb2_grpc,
    market_data_pb2,
)

N_SYMBOLS = 12
N_DATES = 80


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    good = apply_gate(BytetheorySource().load()).good
    symbols = sorted(good["symbol"].unique())[::40][:N_SYMBOLS]
    sub = good[good["symbol"].isin(symbols)]
    dates = np.sort(sub["ts"].unique())[:N_DATES]
    sub = sub[sub["ts"].isin(dates)]
    return sub.sort_values(["symbol", "ts"], kind="stable").reset_index(drop=True)


def _batch(bars: pd.DataFrame, names=None) -> pd.DataFrame:
    out = features.compute(bars, names)
    out.index = pd.MultiIndex.from_arrays(
        [bars["symbol"], pd.to_datetime(bars["ts"], utc=True).astype("int64")])
    return out


def _assert_vectors_equal(vectors, want: pd.DataFrame) -> None:
    assert len(vectors) == len(want)
    seen = set()
    for v in vectors:
        key = (v.symbol, v.timestamp.ToNanoseconds())
        seen.add(key)
        row = want.loc[key]
        assert set(v.values) == set(want.columns)
        got = np.array([v.values[n] for n in want.columns])
        np.testing.assert_array_equal(got, row.to_numpy(), err_msg=str(key))
    assert len(seen) == len(want)


def test_stream_publishes_feature_vectors_equal_to_batch(bars):
    want = _batch(bars)
    bus = open_bus("memory")
    try:
        # published symbol by symbol (as ingest does): the stream waits for the universe
        for bar in bars_to_protos(bars):
            bus.publish(str(Topic.BARS), bar.symbol, bar)
        # a redelivered bar is ignored
        first = bars_to_protos(bars.head(1))[0]
        bus.publish(str(Topic.BARS), first.symbol, first)
        engine = IncrementalEngine(universe=sorted(bars["symbol"].unique()))
        stream = FeatureStream(bus, engine, group="features-test")
        out = bus.subscribe(str(Topic.FEATURES), group="collector")
        stop = threading.Event()
        worker = threading.Thread(target=stream.run, args=(stop,), daemon=True)
        worker.start()
        deadline = time.monotonic() + 30
        # Wait for every vector but the last date's AND for the redelivered bar (published
        # last) to be consumed, else stopping early would race it.
        while ((stream.published < len(bars) - N_SYMBOLS or engine.duplicates < 1)
               and time.monotonic() < deadline):
            time.sleep(0.05)
        stop.set()
        worker.join(10)
        stream.flush()  # end of stream: the last date
        vectors = []
        while True:
            batch = out.poll(timeout=0.2, max_messages=1000)
            if not batch:
                break
            for m in batch:
                vectors.append(features_pb2.FeatureVector.FromString(m.value))
                assert m.key == vectors[-1].symbol
                out.ack(m)
        assert engine.duplicates == 1 and engine.rejected == 0
        assert {v.feature_set_version for v in vectors} == {engine.version}
        _assert_vectors_equal(vectors, want)
    finally:
        bus.close()


@pytest.fixture(scope="module")
def server():
    srv = main.build(main.load())
    srv.start(grpc_port=0, metrics_port=0)
    yield srv
    srv.stop(grace=0)


@pytest.fixture(scope="module")
def stub(server):
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield features_service_pb2_grpc.FeatureServiceStub(channel)


def test_server_starts_with_defaults_and_answers_health(server):
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="alphaloop.v1.FeatureService"), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_compute_features_with_bars_equals_compute(stub, bars):
    request = features_service_pb2.ComputeFeaturesRequest(
        bars=market_data_pb2.BarBatch(bars=bars_to_protos(bars)))
    reply = stub.ComputeFeatures(request, timeout=60)
    want = _batch(bars)
    assert [(v.symbol, v.timestamp.ToNanoseconds()) for v in reply.vectors] == list(want.index)
    assert reply.feature_set_version
    _assert_vectors_equal(reply.vectors, want)


def test_compute_features_names_filter(stub, bars):
    names = ["rsi_14", "cs_z_ret_5", "regime_vol_21"]
    request = features_service_pb2.ComputeFeaturesRequest(
        bars=market_data_pb2.BarBatch(bars=bars_to_protos(bars)), names=names)
    reply = stub.ComputeFeatures(request, timeout=60)
    _assert_vectors_equal(reply.vectors, _batch(bars, names))


def test_compute_features_from_a_stored_range(bars, tmp_path):
    from alphaloop.common.store import open_store
    from alphaloop.features.api import FeaturesApi

    store = open_store("duckdb", str(tmp_path / "bars.duckdb"))
    store.migrate()
    store.write_bars(bars)
    api = FeaturesApi(main.load(), store=store)
    symbols = sorted(bars["symbol"].unique())[:3]
    request = features_service_pb2.ComputeFeaturesRequest(
        range=market_data_pb2.BarRange(symbols=symbols, interval="1d"), names=["rsi_14", "obv"])
    reply = api.ComputeFeatures(request, None)
    subset = bars[bars["symbol"].isin(symbols)].reset_index(drop=True)
    _assert_vectors_equal(reply.vectors, _batch(subset, ["rsi_14", "obv"]))


def test_describe_features_lists_every_feature(stub):
    reply = stub.DescribeFeatures(features_service_pb2.DescribeFeaturesRequest(), timeout=10)
    assert len(reply.features) == len(features.describe())
    by_name = {f.name: f for f in reply.features}
    for spec in features.describe():
        got = by_name[spec.name]
        assert (got.family, list(got.inputs), got.warmup_bars) == (
            spec.family, list(spec.inputs), spec.warmup)
        assert got.description
    assert [f.name for f in reply.features] == sorted(by_name)


def test_unknown_feature_is_invalid_argument_naming_it(stub, bars):
    request = features_service_pb2.ComputeFeaturesRequest(
        bars=market_data_pb2.BarBatch(bars=bars_to_protos(bars.head(5))),
        names=["rsi_14", "no_such_feature"])
    with pytest.raises(grpc.RpcError) as err:
        stub.ComputeFeatures(request, timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no_such_feature" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        stub.DescribeFeatures(
            features_service_pb2.DescribeFeaturesRequest(names=["no_such_feature"]), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no_such_feature" in err.value.details()
