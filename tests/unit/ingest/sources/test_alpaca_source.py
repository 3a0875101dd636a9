"""AlpacaSource drives alpaca-py's real StockHistoricalDataClient against the local server."""

from __future__ import annotations

import math
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from alphaloop.common.clock import SimulatedClock
from alphaloop.common.errors import InvalidInputError, SettingsError, UnauthenticatedError
from alphaloop.ingest.ratelimit import RetryPolicy, Throttle, TokenBucket, call_with_retries
from alphaloop.ingest.sources.alpaca import AlpacaConfig, AlpacaSource
from alphaloop.ingest.sources.base import (
    BAR_COLUMNS,
    PermanentSymbolError,
    RateLimitedError,
    TransientSourceError,
)

BARS = "/v2/stocks/bars"
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def alpaca(vendor_server):
    return vendor_server("alpaca")


def make_source(server, **kwargs) -> AlpacaSource:
    config = AlpacaConfig(api_key="AKTESTKEY", secret_key="s3cr3t", base_url=server.url)
    return AlpacaSource(config, **kwargs)


def expected_rows(*payloads: dict) -> list[tuple]:
    """(symbol, session date, o, h, l, c, v, vw, n) straight from the JSON files."""
    rows = []
    for payload in payloads:
        for symbol, bars in payload["bars"].items():
            for bar in bars:
                session = datetime.fromisoformat(bar["t"])
                rows.append(
                    (
                        symbol,
                        session.astimezone(NEW_YORK).date(),
                        bar["o"],
                        bar["h"],
                        bar["l"],
                        bar["c"],
                        bar["v"],
                        bar["vw"],
                        bar["n"],
                    )
                )
    return sorted(rows, key=lambda r: (r[0], r[1]))


def test_fetch_follows_next_page_token_and_returns_every_bar_as_sent(alpaca):
    alpaca.route(BARS, "bars_page1.json")
    token = alpaca.load("bars_page1.json")["next_page_token"]
    alpaca.route(BARS, "bars_page2.json", query={"page_token": token})

    bars = make_source(alpaca).fetch(["AAPL", "MSFT"], date(2024, 1, 2), date(2024, 1, 4))

    assert list(bars.columns) == BAR_COLUMNS
    got = [
        (r.symbol, r.ts.date(), r.open, r.high, r.low, r.close, r.volume, r.vwap, r.trade_count)
        for r in bars.itertuples()
    ]
    assert got == expected_rows(alpaca.load("bars_page1.json"), alpaca.load("bars_page2.json"))
    assert (bars["ts"].dt.hour == 0).all() and str(bars["ts"].dt.tz) == "UTC"
    assert set(bars["source"]) == {"alpaca"} and set(bars["interval"]) == {"1d"}

    first, second = alpaca.requests_to(BARS)
    assert "page_token" not in first.query and second.query["page_token"] == token
    for request in (first, second):
        assert request.headers["apca-api-key-id"] == "AKTESTKEY"
        assert request.headers["apca-api-secret-key"] == "s3cr3t"
        assert request.query["symbols"] == "AAPL,MSFT"
        assert request.query["timeframe"] == "1Day"
        assert request.query["feed"] == "iex" and request.query["adjustment"] == "all"
    assert first.query["start"].startswith("2024-01-02T00:00:00")


def test_fetch_drops_bars_outside_the_requested_dates(alpaca):
    alpaca.route(BARS, "bars_single_page.json")
    bars = make_source(alpaca).fetch(["AAPL"], date(2024, 1, 3), date(2024, 1, 3))
    assert [d.date() for d in bars["ts"]] == [date(2024, 1, 3)]


def test_429_then_success_waits_exactly_retry_after_via_call_with_retries(alpaca):
    alpaca.route(BARS, "bars_single_page.json")
    alpaca.fail_next(1, 429, "error_429.json", retry_after=7)
    clock = SimulatedClock()
    start = clock.monotonic()
    source = make_source(alpaca, clock=clock)
    policy = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=30.0, jitter=0.0)
    seen: list[Exception] = []

    bars = call_with_retries(
        lambda: source.fetch(["AAPL"], date(2024, 1, 2)),
        policy,
        clock,
        on_retry=lambda attempt, exc, wait: seen.append(exc),
    )

    assert len(bars) == 2
    assert clock.monotonic() - start == pytest.approx(7.0)
    assert isinstance(seen[0], RateLimitedError) and seen[0].retry_after == 7.0
    assert len(alpaca.requests_to(BARS)) == 2


def test_a_throttle_retries_only_the_failed_page_and_paces_every_request(alpaca):
    alpaca.route(BARS, "bars_page1.json")
    token = alpaca.load("bars_page1.json")["next_page_token"]
    alpaca.route(BARS, "bars_page2.json", query={"page_token": token})
    alpaca.fail_next(1, 429, "error_429.json", query={"page_token": token})
    clock = SimulatedClock()
    start = clock.monotonic()
    policy = RetryPolicy(max_attempts=3, base_delay=0.5, max_delay=30.0, jitter=0.0)
    throttle = Throttle(TokenBucket(rate=200 / 60, capacity=1, clock=clock), policy, clock)
    source = make_source(alpaca, clock=clock, throttle=throttle)

    bars = source.fetch(["AAPL", "MSFT"], date(2024, 1, 2), date(2024, 1, 4))

    assert len(bars) == 6
    tokens = [r.query.get("page_token") for r in alpaca.requests_to(BARS)]
    assert tokens == [None, token, token]  # page 1 once, page 2 twice
    # Hand-computed: 200/min = one request per 0.3 s. Page 1 at 0.0, page 2 at 0.3 (429),
    # backoff 0.5 -> 0.8; the bucket's next slot (0.6) has passed, so the retry goes at 0.8.
    assert clock.monotonic() - start == pytest.approx(0.8, abs=1e-6)


def test_5xx_is_transient_and_gives_up_after_max_attempts(alpaca):
    alpaca.fail_next(5, 500, "error_500.json")
    clock = SimulatedClock()
    start = clock.monotonic()
    source = make_source(alpaca, clock=clock)
    policy = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=30.0, jitter=0.0)

    with pytest.raises(TransientSourceError, match="HTTP 500"):
        call_with_retries(lambda: source.fetch(["AAPL"], date(2024, 1, 2)), policy, clock)

    assert len(alpaca.requests) == 3
    assert clock.monotonic() - start == pytest.approx(1.0 + 2.0)


@pytest.mark.parametrize("status", [400, 422])
def test_invalid_symbol_is_permanent_and_never_retried(alpaca, status):
    alpaca.route(BARS, "error_invalid_symbol.json", status=status)
    clock = SimulatedClock()
    start = clock.monotonic()
    source = make_source(alpaca, clock=clock)

    with pytest.raises(PermanentSymbolError) as caught:
        call_with_retries(
            lambda: source.fetch(["AAPL", "CSP1"], date(2024, 1, 2)),
            RetryPolicy(max_attempts=5, jitter=0.0),
            clock,
        )

    assert caught.value.symbol == "CSP1"
    assert len(alpaca.requests) == 1 and clock.monotonic() == start


def test_bad_keys_raise_unauthenticated_not_a_symbol_error(alpaca):
    alpaca.route(BARS, "error_401.json", status=401)
    with pytest.raises(UnauthenticatedError):
        make_source(alpaca).fetch(["AAPL"], date(2024, 1, 2))


def test_missing_keys_name_the_environment_variables(monkeypatch):
    monkeypatch.delenv("ALPHALOOP_INGEST_ALPACA_API_KEY", raising=False)
    monkeypatch.delenv("ALPHALOOP_INGEST_ALPACA_SECRET_KEY", raising=False)
    with pytest.raises(SettingsError, match="ALPHALOOP_INGEST_ALPACA_API_KEY"):
        AlpacaSource(AlpacaConfig())


def test_keys_and_universe_come_from_the_environment(monkeypatch, alpaca):
    monkeypatch.setenv("ALPHALOOP_INGEST_ALPACA_API_KEY", "AKENV")
    monkeypatch.setenv("ALPHALOOP_INGEST_ALPACA_SECRET_KEY", "envsecret")
    monkeypatch.setenv("ALPHALOOP_INGEST_ALPACA_BASE_URL", alpaca.url)
    monkeypatch.setenv("ALPHALOOP_INGEST_ALPACA_SYMBOLS", '["AAPL", "MSFT"]')
    alpaca.route(BARS, "bars_single_page.json")

    source = AlpacaSource()
    source.fetch(["AAPL"], date(2024, 1, 2))

    assert list(source.symbols()["symbol"]) == ["AAPL", "MSFT"]
    assert alpaca.requests[0].headers["apca-api-key-id"] == "AKENV"


def test_unsupported_interval_is_invalid_input(alpaca):
    with pytest.raises(InvalidInputError, match="interval"):
        make_source(alpaca).fetch(["AAPL"], interval="2d")


def test_missing_optional_fields_become_nan_not_zero(alpaca):
    alpaca.route(
        BARS,
        body={
            "bars": {
                "AAPL": [
                    {"t": "2024-01-02T05:00:00Z", "o": 1.0, "h": 2.0, "l": 0.5, "c": 1.5, "v": 10}
                ]
            },
            "next_page_token": None,
        },
    )
    bars = make_source(alpaca).fetch(["AAPL"], date(2024, 1, 2))
    assert math.isnan(bars["vwap"].iloc[0]) and bars["trade_count"].isna().iloc[0]
    assert bars["ts"].iloc[0] == pd.Timestamp("2024-01-02", tz="UTC")
