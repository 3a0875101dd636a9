"""PolygonSource drives polygon-api-client's real RESTClient against the local server."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from alphaloop.common.clock import SimulatedClock
from alphaloop.common.errors import PermissionDeniedError, SettingsError, UnauthenticatedError
from alphaloop.ingest.ratelimit import RetryPolicy, Throttle, call_with_retries
from alphaloop.ingest.sources.base import (
    BAR_COLUMNS,
    PermanentSymbolError,
    RateLimitedError,
    TransientSourceError,
)
from alphaloop.ingest.sources.polygon import PolygonConfig, PolygonSource

AAPL_AGGS = re.compile(r"/v2/aggs/ticker/AAPL/range/1/day/[^/]+/[^/]+")
FIRST_PAGE = "/v2/aggs/ticker/AAPL/range/1/day/2024-01-02/2024-01-05"
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def polygon(vendor_server):
    return vendor_server("polygon")


def make_source(server, **kwargs) -> PolygonSource:
    config = PolygonConfig(api_key="pk_test_123", base_url=server.url)
    return PolygonSource(config, **kwargs)


def serve_two_pages(server) -> str:
    server.route(FIRST_PAGE, "aggs_aapl_page1.json")
    next_url = server.load("aggs_aapl_page1.json")["next_url"]
    cursor = next_url.split("cursor=")[1]
    server.route(AAPL_AGGS, "aggs_aapl_page2.json", query={"cursor": cursor})
    return cursor


def expected_rows(server, *files: str) -> list[tuple]:
    rows = []
    for file in files:
        for a in server.load(file)["results"]:
            session = datetime.fromtimestamp(a["t"] / 1000, UTC).astimezone(NEW_YORK).date()
            rows.append(("AAPL", session, a["o"], a["h"], a["l"], a["c"], a["v"], a["vw"], a["n"]))
    return rows


def test_fetch_follows_next_url_and_returns_every_aggregate_as_sent(polygon):
    cursor = serve_two_pages(polygon)

    bars = make_source(polygon).fetch(["AAPL"], date(2024, 1, 2), date(2024, 1, 5))

    assert list(bars.columns) == BAR_COLUMNS
    got = [
        (r.symbol, r.ts.date(), r.open, r.high, r.low, r.close, r.volume, r.vwap, r.trade_count)
        for r in bars.itertuples()
    ]
    assert got == expected_rows(polygon, "aggs_aapl_page1.json", "aggs_aapl_page2.json")
    assert (bars["ts"].dt.hour == 0).all() and set(bars["source"]) == {"polygon"}

    first, second = polygon.requests
    assert first.path == FIRST_PAGE
    assert first.query["adjusted"] == "true" and first.query["sort"] == "asc"
    assert second.query == {"cursor": cursor}
    assert second.path == "/v2/aggs/ticker/AAPL/range/1/day/1704344400000/2024-01-05"
    for request in (first, second):
        assert request.headers["authorization"] == "Bearer pk_test_123"


def test_429_then_success_via_call_with_retries_uses_backoff_without_retry_after(polygon):
    polygon.route(AAPL_AGGS, "aggs_aapl_page2.json")
    polygon.fail_next(1, 429, "error_429.json")
    clock = SimulatedClock()
    start = clock.monotonic()
    source = make_source(polygon, clock=clock)
    policy = RetryPolicy(max_attempts=3, base_delay=2.0, max_delay=60.0, jitter=0.0)
    errors: list[Exception] = []

    bars = call_with_retries(
        lambda: source.fetch(["AAPL"], date(2024, 1, 4), date(2024, 1, 5)),
        policy,
        clock,
        on_retry=lambda n, exc, wait: errors.append(exc),
    )

    assert len(bars) == 2
    assert isinstance(errors[0], RateLimitedError) and "maximum requests" in str(errors[0])
    assert clock.monotonic() - start == pytest.approx(2.0)
    assert len(polygon.requests) == 2


def test_the_free_tier_throttle_spaces_requests_twelve_seconds_apart(polygon):
    serve_two_pages(polygon)
    clock = SimulatedClock()
    start = clock.monotonic()
    source = make_source(polygon, clock=clock)
    throttle = Throttle.for_limit(source.rate_limit, clock, RetryPolicy(jitter=0.0))
    source = make_source(polygon, clock=clock, throttle=throttle)

    source.fetch(["AAPL"], date(2024, 1, 2), date(2024, 1, 5))

    assert len(polygon.requests) == 2
    assert clock.monotonic() - start == pytest.approx(12.0)  # 5/min: the second page waits 12 s


def test_5xx_is_transient(polygon):
    polygon.fail_next(3, 500, "error_500.json")
    clock = SimulatedClock()
    source = make_source(polygon, clock=clock)
    with pytest.raises(TransientSourceError, match="HTTP 500"):
        call_with_retries(
            lambda: source.fetch(["AAPL"], date(2024, 1, 2), date(2024, 1, 5)),
            RetryPolicy(max_attempts=3, jitter=0.0),
            clock,
        )
    assert len(polygon.requests) == 3


def test_unknown_ticker_is_permanent_after_one_reference_lookup(polygon):
    polygon.route(re.compile(r"/v2/aggs/ticker/ZZZZQ/.*"), "aggs_empty.json")
    polygon.route("/v3/reference/tickers/ZZZZQ", "ticker_not_found.json", status=404)
    clock = SimulatedClock()
    source = make_source(polygon, clock=clock)

    with pytest.raises(PermanentSymbolError) as caught:
        call_with_retries(
            lambda: source.fetch(["ZZZZQ"], date(2024, 1, 2), date(2024, 1, 5)),
            RetryPolicy(max_attempts=5),
            clock,
        )

    assert caught.value.symbol == "ZZZZQ" and "Ticker not found" in caught.value.reason
    assert [r.path for r in polygon.requests] == [
        "/v2/aggs/ticker/ZZZZQ/range/1/day/2024-01-02/2024-01-05",
        "/v3/reference/tickers/ZZZZQ",
    ]


def test_a_known_ticker_without_bars_in_range_is_an_empty_frame(polygon):
    polygon.route(AAPL_AGGS, "aggs_empty.json")
    polygon.route("/v3/reference/tickers/AAPL", "ticker_details_aapl.json")
    bars = make_source(polygon).fetch(["AAPL"], date(2024, 1, 6), date(2024, 1, 7))
    assert bars.empty and list(bars.columns) == BAR_COLUMNS


def test_bad_key_and_missing_entitlement_stop_instead_of_blaming_the_symbol(polygon):
    polygon.fail_next(1, 401, "error_401.json")
    polygon.fail_next(1, 403, "error_403.json")
    source = make_source(polygon)
    with pytest.raises(UnauthenticatedError, match="Unknown API Key"):
        source.fetch(["AAPL"], date(2024, 1, 2), date(2024, 1, 5))
    with pytest.raises(PermissionDeniedError, match="not entitled"):
        source.fetch(["AAPL"], date(2024, 1, 2), date(2024, 1, 5))


def test_missing_key_names_the_environment_variable(monkeypatch):
    monkeypatch.delenv("ALPHALOOP_INGEST_POLYGON_API_KEY", raising=False)
    with pytest.raises(SettingsError, match="ALPHALOOP_INGEST_POLYGON_API_KEY"):
        PolygonSource()
