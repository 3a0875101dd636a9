"""CoinbaseSource over httpx against the local server: the [time, low, high, open, close,
volume] array format, 300-candle windows walked forward, and Coinbase's error bodies."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from alphaloop.common.clock import SimulatedClock
from alphaloop.ingest.ratelimit import RetryPolicy, Throttle, TokenBucket, call_with_retries
from alphaloop.ingest.sources.base import (
    BAR_COLUMNS,
    PermanentSymbolError,
    TransientSourceError,
)
from alphaloop.ingest.sources.coinbase import CoinbaseConfig, CoinbaseSource

CANDLES = "/products/BTC-USD/candles"
WINDOWS = {  # start of each 2-candle window -> file
    "2024-01-01T00:00:00Z": "candles_btc_usd_window1.json",
    "2024-01-03T00:00:00Z": "candles_btc_usd_window2.json",
    "2024-01-05T00:00:00Z": "candles_btc_usd_window3.json",
}


@pytest.fixture
def coinbase(vendor_server):
    server = vendor_server("coinbase")
    for start, file in WINDOWS.items():
        server.route(CANDLES, file, query={"start": start})
    return server


def make_source(server, max_candles=2, **kwargs) -> CoinbaseSource:
    return CoinbaseSource(CoinbaseConfig(base_url=server.url, max_candles=max_candles), **kwargs)


def test_candles_map_low_high_open_close_and_windows_are_walked_forward(coinbase):
    bars = make_source(coinbase).fetch(["BTC-USD"], date(2024, 1, 1), date(2024, 1, 5))

    # Independent reading of the files: each window keeps only its own buckets.
    expected = {}
    for start, file in WINDOWS.items():
        lo = datetime.fromisoformat(start).timestamp()
        for t, low, high, open_, close, volume in coinbase.load(file):
            if lo <= t < lo + 2 * 86400:
                expected[t] = (open_, high, low, close, volume)
    got = {
        int(r.ts.timestamp()): (r.open, r.high, r.low, r.close, r.volume) for r in bars.itertuples()
    }
    assert got == expected and len(got) == 5
    assert list(bars["ts"]) == sorted(bars["ts"])
    assert bars["ts"].iloc[0] == datetime(2024, 1, 1, tzinfo=UTC)
    assert list(bars.columns) == BAR_COLUMNS and set(bars["source"]) == {"coinbase"}
    assert bars["vwap"].isna().all() and bars["trade_count"].isna().all()

    assert [(r.query["start"], r.query["end"]) for r in coinbase.requests] == [
        ("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"),
        ("2024-01-03T00:00:00Z", "2024-01-04T00:00:00Z"),
        ("2024-01-05T00:00:00Z", "2024-01-05T00:00:00Z"),
    ]
    assert {r.query["granularity"] for r in coinbase.requests} == {"86400"}


def test_429_then_success_via_call_with_retries(coinbase):
    coinbase.fail_next(1, 429, "error_429.json")
    clock = SimulatedClock()
    start = clock.monotonic()
    source = make_source(coinbase, max_candles=300, clock=clock)
    policy = RetryPolicy(max_attempts=3, base_delay=0.25, max_delay=5.0, jitter=0.0)

    bars = call_with_retries(
        lambda: source.fetch(["BTC-USD"], date(2024, 1, 1), date(2024, 1, 2)), policy, clock
    )

    assert len(bars) == 2 and len(coinbase.requests) == 2
    assert clock.monotonic() - start == pytest.approx(0.25)


def test_the_public_limit_paces_windows_at_ten_per_second(coinbase):
    clock = SimulatedClock()
    start = clock.monotonic()
    throttle = Throttle(TokenBucket(rate=10, capacity=1, clock=clock), RetryPolicy(), clock)
    make_source(coinbase, clock=clock, throttle=throttle).fetch(
        ["BTC-USD"], date(2024, 1, 1), date(2024, 1, 5)
    )
    assert len(coinbase.requests) == 3
    assert clock.monotonic() - start == pytest.approx(0.2)  # requests at 0.0, 0.1, 0.2


def test_5xx_is_transient(coinbase):
    coinbase.fail_next(3, 500, "error_500.json")
    clock = SimulatedClock()
    with pytest.raises(TransientSourceError, match="HTTP 500"):
        call_with_retries(
            lambda: make_source(coinbase, clock=clock).fetch(
                ["BTC-USD"], date(2024, 1, 1), date(2024, 1, 2)
            ),
            RetryPolicy(max_attempts=3, jitter=0.0),
            clock,
        )


def test_unknown_product_is_permanent(coinbase):
    coinbase.route("/products/NOPE-USD/candles", "error_not_found.json", status=404)
    clock = SimulatedClock()
    with pytest.raises(PermanentSymbolError) as caught:
        call_with_retries(
            lambda: make_source(coinbase, clock=clock).fetch(
                ["NOPE-USD"], date(2024, 1, 1), date(2024, 1, 2)
            ),
            RetryPolicy(),
            clock,
        )
    assert caught.value.symbol == "NOPE-USD" and "NotFound" in caught.value.reason
    assert len(coinbase.requests) == 1


def test_end_defaults_to_the_clocks_today(coinbase):
    clock = SimulatedClock(datetime(2024, 1, 2, 15, 30, tzinfo=UTC))
    bars = make_source(coinbase, clock=clock).fetch(["BTC-USD"], date(2024, 1, 1))
    assert len(coinbase.requests) == 1 and len(bars) == 2
