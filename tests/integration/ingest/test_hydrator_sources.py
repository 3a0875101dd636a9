"""The Hydrator against sources that misbehave: a permanent error for one symbol is recorded
and skipped, transient errors are retried with backoff, requests are paced at the source's
documented rate, retries running out stop the job resumably, a crash mid-run resumes to the
same store; good bars are published on the bus keyed by symbol. All on a SimulatedClock, so
the waits take no time and can be asserted exactly."""

from collections import Counter
from datetime import UTC, datetime

import pandas as pd
import pytest

from alphaloop.common.bus import open_bus
from alphaloop.common.clock import SimulatedClock
from alphaloop.common.errors import UnavailableError
from alphaloop.common.store import open_store
from alphaloop.common.topics import Topic
from alphaloop.ingest.hydration import Hydrator
from alphaloop.ingest.ratelimit import RetryPolicy
from alphaloop.ingest.sources import (
    BarSource,
    BytetheorySource,
    PermanentSymbolError,
    RateLimit,
    TransientSourceError,
)
from alphaloop.v1 import market_data_pb2

REAL = ["AAPL", "DHR", "GIS", "IBM", "MSFT"]
START = datetime(2024, 1, 2, tzinfo=UTC)  # "today" for the hydrator: after all bundled data
NO_JITTER = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=60.0, jitter=0.0)


class FlakySource(BarSource):
    """Real bundled bars for REAL; 'BAD' is an unknown ticker; ``transient`` maps a symbol to
    how many 503s a request for it answers before it works; ``crash_on`` dies (like a killed
    process) at the n-th request. One request carries up to ``batch_size`` symbols."""

    name = "flaky"
    license = "test"
    rate_limit = RateLimit(requests=2, per_seconds=1.0)
    batch_size = 2

    def __init__(self, transient=None, crash_on=None):
        self.bundled = BytetheorySource()
        self.transient = dict(transient or {})
        self.crash_on = crash_on
        self.requests = []

    @property
    def calls(self):
        return Counter(s for request in self.requests for s in request)

    def symbols(self):
        return pd.DataFrame({"symbol": [*REAL, "BAD"], "name": "", "sector": "", "industry": ""})

    def fetch(self, symbols, start=None, end=None, interval="1d"):
        self.requests.append(tuple(symbols))
        if self.crash_on is not None and len(self.requests) == self.crash_on:
            raise KeyboardInterrupt
        if "BAD" in symbols:
            raise PermanentSymbolError("BAD", "unknown ticker (HTTP 404)")
        for symbol in symbols:
            if self.transient.get(symbol, 0) > 0:
                self.transient[symbol] -= 1
                raise TransientSourceError("HTTP 503 Service Unavailable")
        return self.bundled.fetch(symbols, start, end, interval).assign(source=self.name)


@pytest.fixture
def store():
    with open_store("duckdb", ":memory:") as s:
        yield s


def _hydrator(source, store, bus=None, clock=None):
    return Hydrator(source, store, bus, clock=clock or SimulatedClock(START), retry_policy=NO_JITTER)


def test_permanent_error_is_recorded_and_transient_errors_are_retried(store):
    clock = SimulatedClock(START)
    source = FlakySource(transient={"IBM": 2})
    summary = _hydrator(source, store, clock=clock).run()

    assert summary.failed == {"BAD": "unknown ticker (HTTP 404)"}
    # Batches AAPL+BAD, DHR+GIS, IBM+MSFT. BAD is dropped from its request, never retried.
    assert source.requests == [("AAPL", "BAD"), ("AAPL",), ("DHR", "GIS"), ("IBM", "MSFT"),
                               ("IBM", "MSFT"), ("IBM", "MSFT")]
    assert summary.retries == 2
    assert sorted(store.symbols()) == REAL  # IBM stored after its two 503s
    audit = store.fetch("audit_log", {"action": "hydrate.symbol_failed"})
    assert [(a["target"], a["details"]["reason"]) for a in audit] == [
        ("BAD", "unknown ticker (HTTP 404)")
    ]
    report = summary.report.set_index(["symbol", "rule"])["count"]
    assert report[("BAD", "permanent_error")] == 1
    # Pacing and backoff on the simulated clock. The 2/s bucket spaces requests 0.5 s apart:
    # 0, 0.5, 1.0, then IBM+MSFT at 1.5 fails and backs off 1 s (retry at 2.5; the bucket's
    # slot 2.0 has passed), fails again and backs off 2 s: the last request at 4.5 s.
    assert clock.monotonic() - SimulatedClock(START).monotonic() == pytest.approx(4.5)


def test_requests_are_paced_at_the_sources_documented_rate(store):
    clock = SimulatedClock(START)

    class OnePerRequest(FlakySource):
        batch_size = 1

        def symbols(self):
            return super().symbols().iloc[:5]

    source = OnePerRequest()
    _hydrator(source, store, clock=clock).run()
    # 5 requests at 2 per second: the first is free, each next one waits 0.5 s.
    assert len(source.requests) == 5
    assert clock.monotonic() - SimulatedClock(START).monotonic() == pytest.approx(2.0)


def test_a_permanent_error_that_names_no_known_symbol_is_isolated_symbol_by_symbol(store):
    class Vague(FlakySource):
        def fetch(self, symbols, start=None, end=None, interval="1d"):
            if "BAD" in symbols and len(symbols) > 1:
                self.requests.append(tuple(symbols))
                raise PermanentSymbolError("?", "HTTP 404 for this request")
            return super().fetch(symbols, start, end, interval)

    source = Vague()
    summary = _hydrator(source, store).run()
    assert source.requests[:3] == [("AAPL", "BAD"), ("AAPL",), ("BAD",)]
    assert list(summary.failed) == ["BAD"] and sorted(store.symbols()) == REAL


def test_bars_are_published_on_the_bus_keyed_by_symbol(store):
    with open_bus("memory", "") as bus:
        summary = _hydrator(FlakySource(), store, bus).run()
        sub = bus.subscribe(str(Topic.BARS), group="test")
        messages = []
        while batch := sub.poll(timeout=0.2, max_messages=1000):
            messages.extend(batch)
            for m in batch:
                sub.ack(m)
    assert len(messages) == store.bar_count() == summary.bars_good == summary.bars_published
    last_seen: dict[str, int] = {}
    for m in messages:
        bar = market_data_pb2.Bar.FromString(m.value)
        assert m.key == bar.symbol and bar.source == "flaky" and bar.interval == "1d"
        ns = bar.timestamp.ToNanoseconds()
        assert ns > last_seen.get(m.key, -1)  # per symbol, in time order
        last_seen[m.key] = ns
    assert sorted(last_seen) == REAL
    # The first AAPL bar on the wire is the first stored one, value for value.
    first = store.read_bars("AAPL").iloc[0]
    bar = next(market_data_pb2.Bar.FromString(m.value) for m in messages if m.key == "AAPL")
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (
        first.open, first.high, first.low, first.close, first.volume)


def test_retries_running_out_stop_the_job_and_a_rerun_resumes(store):
    source = FlakySource(transient={"IBM": 10})
    with pytest.raises(UnavailableError, match="HTTP 503.*retries exhausted on batch 00002, IBM..MSFT"):
        _hydrator(source, store).run()
    plan = _hydrator(source, store).plan()
    states = store.get_checkpoints(plan.job)
    # Batches of 2 over AAPL BAD DHR GIS IBM MSFT: the first two are done, IBM's failed.
    assert [states.get(b.id) for b in plan.batches] == ["done", "done", "failed"]
    assert source.requests.count(("IBM", "MSFT")) == NO_JITTER.max_attempts

    source.transient.clear()
    before = len(source.requests)
    summary = _hydrator(source, store).run()
    assert (summary.batches_skipped, summary.symbols_skipped) == (2, 4)
    assert source.requests[before:] == [("IBM", "MSFT")]  # the done batches are not fetched
    assert sorted(store.symbols()) == REAL


def test_crash_mid_run_then_rerun_equals_an_uninterrupted_run(store):
    # Requests: AAPL+BAD (BAD fails), AAPL, DHR+GIS, then death on IBM+MSFT.
    with pytest.raises(KeyboardInterrupt):
        _hydrator(FlakySource(crash_on=4), store).run()
    assert sorted(store.symbols()) == ["AAPL", "DHR", "GIS"]
    summary = _hydrator(FlakySource(), store).run()
    assert summary.batches_skipped == 2

    with open_store("duckdb", ":memory:") as reference:
        _hydrator(FlakySource(), reference).run()
        pd.testing.assert_frame_equal(store.read_bars(), reference.read_bars())
        key = ["symbol", "ts", "rule"]
        pd.testing.assert_frame_equal(
            pd.DataFrame(store.fetch("quarantined_bars"))[key],
            pd.DataFrame(reference.fetch("quarantined_bars"))[key],
        )

    rerun = _hydrator(FlakySource(), store).run()
    assert rerun.new_bars == 0 and rerun.batches_skipped == rerun.batches == 3


def test_incremental_run_judges_new_bars_against_stored_history(store):
    from datetime import date

    source = FlakySource()
    _hydrator(source, store).run(["DHR"], end=date(2010, 6, 10))
    # DHR's unadjusted 2-for-1 split prints on 2010-06-14: fetched alone from 06-11, the
    # spike rule still sees the stored returns before it and catches it.
    summary = _hydrator(source, store).run(["DHR"], start=date(2010, 6, 11), end=date(2010, 6, 30))
    spikes = store.fetch("quarantined_bars", {"symbol": "DHR", "rule": "spike"})
    assert [str(s["ts"].date()) for s in spikes] == ["2010-06-14"]
    assert summary.quality_counts["spike"] == 1
