"""A features pod that restarts loses nothing: the real service wiring (``main.build`` with the
stream on, a DuckDB store file, the in-process bus) consumes bundled real bars, "crashes" with
a date pending whose bars were acknowledged, and a new pod seeded from the store carries on.
Every (symbol, date) gets exactly one vector, equal bit for bit to the batch ``compute`` over
the whole history. An empty or missing store starts empty; an unreadable one fails start-up."""

from __future__ import annotations

import logging
import time
import uuid

import numpy as np
import pandas as pd
import pytest

from alphaloop import features
from alphaloop.common.bus import open_bus
from alphaloop.common.errors import UnavailableError
from alphaloop.common.store import open_store
from alphaloop.common.topics import Topic
from alphaloop.features import main
from alphaloop.features.recovery import PublishedWatermark, read_seed_bars
from alphaloop.ingest.quality import apply_gate
from alphaloop.ingest.sources import BytetheorySource
from alphaloop.ingest.stream import publish_bars
from alphaloop.v1 import features_pb2

N_SYMBOLS = 12
N_DATES = 100
PENDING = 60  # index of the date pending at the crash


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    good = apply_gate(BytetheorySource().load()).good
    symbols = sorted(good["symbol"].unique())[::40][:N_SYMBOLS]
    sub = good[good["symbol"].isin(symbols)]
    dates = np.sort(sub["ts"].unique())[:N_DATES]
    sub = sub[sub["ts"].isin(dates)]
    return sub.sort_values(["symbol", "ts"], kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def want(bars) -> pd.DataFrame:
    out = features.compute(bars)
    out.index = pd.MultiIndex.from_arrays(
        [bars["symbol"], pd.to_datetime(bars["ts"], utc=True).astype("int64")])
    return out


@pytest.fixture
def settings(tmp_path, bars):
    def make(**overrides):
        return main.load(**{
            "stream": "on", "bus_backend": "memory",
            "bus_url": f"memory://restart-{uuid.uuid4().hex[:8]}",
            "store_url": str(tmp_path / "alphaloop.duckdb"), "state_dir": tmp_path,
            "stream_universe": sorted(bars["symbol"].unique()), **overrides})
    return make


@pytest.fixture
def servers():
    started = []

    def start(settings):
        server = main.build(settings)
        server.start(grpc_port=0, metrics_port=0)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop(grace=0)


def _wait_consumed(server, count: int) -> None:
    engine = server.stream.engine
    deadline = time.monotonic() + 30
    while (engine.accepted + engine.duplicates + engine.rejected < count
           and time.monotonic() < deadline):
        time.sleep(0.02)
    assert engine.accepted + engine.duplicates + engine.rejected == count


def _published(bus, group: str) -> list[features_pb2.FeatureVector]:
    """Vectors on the features topic that ``group`` has not read yet."""
    sub = bus.subscribe(str(Topic.FEATURES), group=group)
    vectors = []
    try:
        while batch := sub.poll(timeout=0.2, max_messages=1000):
            for m in batch:
                vectors.append(features_pb2.FeatureVector.FromString(m.value))
                sub.ack(m)
    finally:
        sub.close()
    return vectors


def _keys(vectors) -> list[tuple[str, int]]:
    return [(v.symbol, v.timestamp.ToNanoseconds()) for v in vectors]


def _assert_equal_to_batch(vectors, want: pd.DataFrame) -> None:
    for v in vectors:
        key = (v.symbol, v.timestamp.ToNanoseconds())
        got = np.array([v.values[n] for n in want.columns])
        np.testing.assert_array_equal(got, want.loc[key].to_numpy(), err_msg=str(key))


@pytest.mark.parametrize("store_ahead", [False, True],
                         ids=["store-as-consumed", "store-ahead-of-the-stream"])
def test_a_restarted_stream_publishes_every_vector_exactly(bars, want, settings, servers,
                                                           store_ahead):
    config = settings()
    dates = np.sort(bars["ts"].unique())
    symbols = sorted(bars["symbol"].unique())
    pending = dates[PENDING]
    first = bars[(bars["ts"] < pending)
                 | ((bars["ts"] == pending) & bars["symbol"].isin(symbols[:6]))]
    rest = bars.drop(index=first.index)
    store = open_store("duckdb", config.store_url)
    store.migrate()
    bus = open_bus("memory", config.bus_url)

    # pod 1 starts on a new store, then ingest writes bars to the store and publishes them
    pod1 = servers(config)
    store.write_bars(first)
    if store_ahead:  # ingest already stored two more dates, not yet published
        store.write_bars(bars[bars["ts"] <= dates[PENDING + 2]])
    publish_bars(bus, first)
    _wait_consumed(pod1, len(first))
    before = _published(bus, "collector")
    assert {pd.Timestamp(ts, tz="UTC") for _, ts in _keys(before)} == set(dates[:PENDING])
    assert pod1.stream.engine.pending_dates == 1  # half the pending date's bars were acked
    assert PublishedWatermark(store, config.stream_group).read() == dates[PENDING - 1]

    # pod 1 goes away: its in-memory history and the pending date with it (those bars were
    # acknowledged, so the bus will not bring them again); pod 2 is seeded from the store
    pod1.stop(grace=0)
    pod2 = servers(config)
    replayed = pod2.stream.engine.accepted  # stored bars after the watermark
    at_seed = _published(bus, "collector")
    assert pod2.stream.engine.seeded == (bars["ts"] < pending).sum()
    if store_ahead:  # the stored dates after the watermark were complete: published now
        assert {pd.Timestamp(ts, tz="UTC") for _, ts in _keys(at_seed)} == set(
            dates[PENDING:PENDING + 3])
    else:
        assert at_seed == []

    # ingest carries on; the bus also delivers again bars the seed already holds
    store.write_bars(rest)
    again = bars[(bars["ts"] >= dates[PENDING - 2]) & (bars["ts"] <= pending)]
    publish_bars(bus, again)
    publish_bars(bus, rest)
    _wait_consumed(pod2, replayed + len(again) + len(rest))
    pod2.stream.flush()
    after = _published(bus, "collector")

    vectors = before + at_seed + after
    keys = _keys(vectors)
    assert len(keys) == len(set(keys)) == len(bars)  # every (symbol, date) exactly once
    assert set(keys) == set(want.index)
    assert pod2.stream.engine.rejected == 0
    _assert_equal_to_batch(vectors, want)
    store.close()


@pytest.mark.parametrize("state", ["missing", "empty"])
def test_a_missing_or_empty_store_starts_the_stream_empty(settings, servers, caplog, state):
    config = settings()
    if state == "empty":
        with open_store("duckdb", config.store_url) as store:
            store.migrate()
    with caplog.at_level(logging.INFO, logger="alphaloop.features.recovery"):
        pod = servers(config)
    engine = pod.stream.engine
    assert engine.seeded == engine.pending_dates == pod.stream.published == 0
    assert engine.emitted_through is None
    assert "the store holds no 1d bars: the features stream starts empty" in caplog.text


def test_an_unreadable_store_fails_start_up_loudly(settings, tmp_path):
    path = tmp_path / "alphaloop.duckdb"
    path.write_bytes(b"not a duckdb database" * 100)
    server = main.build(settings(store_url=str(path)))
    with pytest.raises(UnavailableError, match="ALPHALOOP_FEATURES_SEED_FROM_STORE=false"):
        server.start(grpc_port=0, metrics_port=0)
    assert server.stream is None and server.port == 0  # nothing serves


def test_seed_off_starts_empty_whatever_the_store_holds(bars, settings, servers):
    config = settings(seed_from_store=False)
    with open_store("duckdb", config.store_url) as store:
        store.migrate()
        store.write_bars(bars)
    pod = servers(config)
    assert pod.stream.engine.seeded == 0 and pod.stream.checkpoint is None


def test_a_bounded_lookback_reads_days_before_the_first_date_to_publish(bars, tmp_path):
    dates = np.sort(bars["ts"].unique())
    with open_store("duckdb", str(tmp_path / "s.duckdb")) as store:
        store.migrate()
        store.write_bars(bars)
        newest = read_seed_bars(store, lookback_days=10)
        assert newest["ts"].min() >= dates[-1] - pd.Timedelta(days=10)
        assert newest["ts"].max() == dates[-1]
        watermark = pd.Timestamp(dates[50])
        after = read_seed_bars(store, lookback_days=10, emitted_through=watermark)
        assert after["ts"].min() == min(d for d in dates if d >= watermark - pd.Timedelta(days=10))
        assert len(read_seed_bars(store)) == len(bars)
