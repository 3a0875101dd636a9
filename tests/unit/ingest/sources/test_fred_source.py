"""FredSource over httpx against the local server: close-only bars, '.' kept as NaN, offset
pagination, FRED's error bodies."""

from __future__ import annotations

import math
from datetime import date

import pytest

from alphaloop.common.clock import SimulatedClock
from alphaloop.common.errors import InvalidInputError, UnauthenticatedError
from alphaloop.ingest.ratelimit import RetryPolicy, call_with_retries
from alphaloop.ingest.sources.base import (
    BAR_COLUMNS,
    PermanentSymbolError,
    TransientSourceError,
)
from alphaloop.ingest.sources.fred import FredConfig, FredSource

OBSERVATIONS = "/fred/series/observations"
KEY = "abcdefghijklmnopqrstuvwxyz012345"


@pytest.fixture
def fred(vendor_server):
    return vendor_server("fred")


def make_source(server, page_size=4, **kwargs) -> FredSource:
    return FredSource(FredConfig(api_key=KEY, base_url=server.url, page_size=page_size), **kwargs)


def serve_dgs10(server) -> None:
    server.route(
        OBSERVATIONS, "observations_dgs10_page1.json", query={"series_id": "DGS10", "offset": "0"}
    )
    server.route(
        OBSERVATIONS, "observations_dgs10_page2.json", query={"series_id": "DGS10", "offset": "4"}
    )


def test_observations_become_close_only_bars_across_pages(fred):
    serve_dgs10(fred)

    bars = make_source(fred).fetch(["DGS10"], date(2024, 1, 1), date(2024, 1, 9))

    expected = [
        (o["date"], o["value"])
        for f in ("observations_dgs10_page1.json", "observations_dgs10_page2.json")
        for o in fred.load(f)["observations"]
    ]
    assert list(bars.columns) == BAR_COLUMNS
    assert [t.strftime("%Y-%m-%d") for t in bars["ts"]] == [d for d, _ in expected]
    for (_, value), close in zip(expected, bars["close"], strict=True):
        if value == ".":
            assert math.isnan(close)  # kept, not dropped: the quality gate quarantines it
        else:
            assert close == float(value)
    for column in ("open", "high", "low", "volume", "vwap"):
        assert bars[column].isna().all(), column
    assert set(bars["symbol"]) == {"DGS10"} and set(bars["source"]) == {"fred"}

    first, second = fred.requests
    assert (first.query["offset"], second.query["offset"]) == ("0", "4")
    for request in (first, second):
        assert request.query["api_key"] == KEY and request.query["file_type"] == "json"
        assert request.query["observation_start"] == "2024-01-01"
        assert request.query["observation_end"] == "2024-01-09"
        assert request.query["limit"] == "4" and "frequency" not in request.query


def test_weekly_interval_asks_fred_to_aggregate(fred):
    fred.route(OBSERVATIONS, "observations_dgs10_page2.json")
    make_source(fred, page_size=100).fetch(["DGS10"], interval="1w")
    assert fred.requests[0].query["frequency"] == "w"
    with pytest.raises(InvalidInputError, match="interval"):
        make_source(fred).fetch(["DGS10"], interval="1m")


def test_429_then_success_honours_retry_after(fred):
    serve_dgs10(fred)
    fred.fail_next(1, 429, "error_429.json", retry_after=3)
    clock = SimulatedClock()
    start = clock.monotonic()
    source = make_source(fred, clock=clock)

    bars = call_with_retries(lambda: source.fetch(["DGS10"]), RetryPolicy(jitter=0.0), clock)

    assert len(bars) == 7
    assert clock.monotonic() - start == pytest.approx(3.0)


def test_5xx_is_transient(fred):
    fred.fail_next(2, 500, "error_500.json")
    clock = SimulatedClock()
    with pytest.raises(TransientSourceError, match="HTTP 500"):
        call_with_retries(
            lambda: make_source(fred, clock=clock).fetch(["DGS10"]),
            RetryPolicy(max_attempts=2, jitter=0.0),
            clock,
        )


def test_unknown_series_is_permanent(fred):
    fred.route(OBSERVATIONS, "error_series_not_found.json", status=400)
    clock = SimulatedClock()
    with pytest.raises(PermanentSymbolError) as caught:
        call_with_retries(
            lambda: make_source(fred, clock=clock).fetch(["NOSUCHSERIES"]), RetryPolicy(), clock
        )
    assert caught.value.symbol == "NOSUCHSERIES" and len(fred.requests) == 1


def test_unregistered_key_is_unauthenticated(fred):
    fred.route(OBSERVATIONS, "error_bad_api_key.json", status=400)
    with pytest.raises(UnauthenticatedError, match="api_key"):
        make_source(fred).fetch(["DGS10"])
