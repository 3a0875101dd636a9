"""AlphaVantageSource over httpx against the local server, including Alpha Vantage's habit of
reporting throttling and errors with HTTP 200. (TIME_SERIES_DAILY has no pagination: one
request returns the whole series.)"""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from alphaloop.common.clock import SimulatedClock
from alphaloop.common.errors import PermissionDeniedError, UnauthenticatedError
from alphaloop.ingest.ratelimit import RetryPolicy, call_with_retries
from alphaloop.ingest.sources.alphavantage import AlphaVantageConfig, AlphaVantageSource
from alphaloop.ingest.sources.base import (
    BAR_COLUMNS,
    PermanentSymbolError,
    RateLimitedError,
    TransientSourceError,
)

QUERY = "/query"


@pytest.fixture
def av(vendor_server):
    return vendor_server("alphavantage")


def make_source(server, **kwargs) -> AlphaVantageSource:
    config_fields = {k: kwargs.pop(k) for k in ("function", "outputsize") if k in kwargs}
    config = AlphaVantageConfig(api_key="TESTKEY123", base_url=server.url, **config_fields)
    return AlphaVantageSource(config, **kwargs)


def retrying(source, clock, policy=None, symbol="IBM"):
    policy = policy or RetryPolicy(max_attempts=3, base_delay=5.0, max_delay=60.0, jitter=0.0)
    return call_with_retries(lambda: source.fetch([symbol]), policy, clock)


def test_daily_series_is_parsed_oldest_first_with_the_files_numbers(av):
    av.route(QUERY, "daily_ibm.json", query={"function": "TIME_SERIES_DAILY", "symbol": "IBM"})

    bars = make_source(av).fetch(["IBM"])

    series = av.load("daily_ibm.json")["Time Series (Daily)"]
    expected = [
        (
            d,
            float(v["1. open"]),
            float(v["2. high"]),
            float(v["3. low"]),
            float(v["4. close"]),
            float(v["5. volume"]),
        )
        for d, v in sorted(series.items())
    ]
    got = [
        (r.ts.strftime("%Y-%m-%d"), r.open, r.high, r.low, r.close, r.volume)
        for r in bars.itertuples()
    ]
    assert got == expected
    assert list(bars.columns) == BAR_COLUMNS and set(bars["symbol"]) == {"IBM"}
    assert bars["vwap"].isna().all() and bars["trade_count"].isna().all()
    assert (bars["ts"] == pd.to_datetime([e[0] for e in expected], utc=True)).all()

    (request,) = av.requests
    assert request.query == {
        "function": "TIME_SERIES_DAILY",
        "symbol": "IBM",
        "outputsize": "full",
        "datatype": "json",
        "apikey": "TESTKEY123",
    }


def test_start_and_end_are_inclusive_dates(av):
    av.route(QUERY, "daily_ibm.json")
    bars = make_source(av).fetch(["IBM"], date(2024, 1, 3), date(2024, 1, 4))
    assert [t.date() for t in bars["ts"]] == [date(2024, 1, 3), date(2024, 1, 4)]


def test_adjusted_series_scales_prices_by_adjusted_close_over_close(av):
    av.route(QUERY, "daily_adjusted_ibm.json", query={"function": "TIME_SERIES_DAILY_ADJUSTED"})

    bars = make_source(av, function="TIME_SERIES_DAILY_ADJUSTED").fetch(["IBM"])

    day = av.load("daily_adjusted_ibm.json")["Time Series (Daily)"]["2024-01-02"]
    factor = 156.7902 / 161.5  # hand-computed from the file: adjusted close / close
    first = bars.iloc[0]
    assert first["open"] == pytest.approx(162.83 * factor, rel=1e-12)
    assert first["close"] == pytest.approx(float(day["5. adjusted close"]), rel=1e-12)
    assert first["volume"] == float(day["6. volume"])


def test_note_with_http_200_is_rate_limited_and_retried_after_a_minute(av):
    av.route(QUERY, "daily_ibm.json")
    av.fail_next(1, 200, "note_rate_limit.json")
    clock = SimulatedClock()
    start = clock.monotonic()

    bars = retrying(make_source(av, clock=clock), clock)

    assert len(bars) == 4 and len(av.requests) == 2
    assert clock.monotonic() - start == pytest.approx(60.0)


def test_burst_information_is_rate_limited_not_a_premium_refusal(av):
    av.route(QUERY, "daily_ibm.json")
    av.fail_next(1, 200, "information_burst.json")
    clock = SimulatedClock()
    start = clock.monotonic()
    assert len(retrying(make_source(av, clock=clock), clock)) == 4
    assert clock.monotonic() - start == pytest.approx(60.0)


def test_daily_quota_is_rate_limited_without_a_retry_time(av):
    av.fail_next(3, 200, "information_daily_limit.json")
    clock = SimulatedClock()
    start = clock.monotonic()

    with pytest.raises(RateLimitedError, match="daily quota") as caught:
        retrying(make_source(av, clock=clock), clock)

    assert caught.value.retry_after is None
    assert clock.monotonic() - start == pytest.approx(5.0 + 10.0)  # plain backoff, 3 attempts


def test_premium_endpoint_is_refused_without_retrying(av):
    av.route(QUERY, "information_premium.json")
    clock = SimulatedClock()
    with pytest.raises(PermissionDeniedError, match="premium endpoint"):
        retrying(make_source(av, clock=clock), clock)
    assert len(av.requests) == 1


def test_http_503_is_transient(av):
    av.route(QUERY, "daily_ibm.json")
    av.fail_next(1, 503, body="Service Unavailable")
    clock = SimulatedClock()
    assert len(retrying(make_source(av, clock=clock), clock)) == 4
    assert len(av.requests) == 2

    av.fail_next(3, 503, body="Service Unavailable")
    with pytest.raises(TransientSourceError, match="HTTP 503"):
        retrying(make_source(av, clock=clock), clock)


def test_error_message_for_an_unknown_symbol_is_permanent(av):
    av.route(QUERY, "error_invalid_symbol.json")
    clock = SimulatedClock()
    with pytest.raises(PermanentSymbolError) as caught:
        retrying(make_source(av, clock=clock), clock, symbol="NOSUCH")
    assert caught.value.symbol == "NOSUCH" and "Invalid API call" in caught.value.reason
    assert len(av.requests) == 1


def test_error_message_about_the_key_is_unauthenticated(av):
    av.route(QUERY, "error_invalid_key.json")
    with pytest.raises(UnauthenticatedError, match="apikey"):
        make_source(av).fetch(["IBM"])


def test_a_series_without_volume_keeps_nan_not_zero(av):
    av.route(
        QUERY,
        body={
            "Time Series (Daily)": {
                "2024-01-02": {
                    "1. open": "1.0",
                    "2. high": "2.0",
                    "3. low": "0.5",
                    "4. close": "1.5",
                }
            }
        },
    )
    bars = make_source(av).fetch(["IBM"])
    assert math.isnan(bars["volume"].iloc[0])
