"""Token bucket, retry policy and call_with_retries under a SimulatedClock: every wait is
asserted against a hand-computed schedule."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from alphaloop.common.clock import SimulatedClock
from alphaloop.common.errors import PermissionDeniedError, UnauthenticatedError
from alphaloop.ingest.ratelimit import (
    RetryPolicy,
    Throttle,
    TokenBucket,
    call_with_retries,
    error_for_status,
    parse_retry_after,
)
from alphaloop.ingest.sources.base import (
    PermanentSymbolError,
    RateLimit,
    RateLimitedError,
    TransientSourceError,
)


class RecordingClock(SimulatedClock):
    """A SimulatedClock that also remembers every sleep it was asked for."""

    def __init__(self) -> None:
        super().__init__(datetime(2024, 1, 2, tzinfo=UTC))
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        super().sleep(seconds)


def admission_times(bucket: TokenBucket, clock: SimulatedClock, n: int) -> list[float]:
    start = clock.monotonic()
    times = []
    for _ in range(n):
        bucket.acquire()
        times.append(clock.monotonic() - start)
    return times


# -- TokenBucket ------------------------------------------------------------------------------


def test_bucket_admits_exactly_rate_requests_in_every_second_of_a_long_window():
    clock = SimulatedClock()
    times = admission_times(TokenBucket(rate=5, capacity=1, clock=clock), clock, 5000)

    assert times == pytest.approx([i / 5 for i in range(5000)], abs=1e-6)
    per_second = [0] * 1000
    for t in times:
        per_second[round(t * 1e6) // 1_000_000] += 1
    assert per_second == [5] * 1000


def test_bucket_allows_a_burst_of_capacity_then_the_steady_rate():
    clock = SimulatedClock()
    times = admission_times(TokenBucket(rate=2, capacity=3, clock=clock), clock, 9)
    # Hand-computed: 3 at once, then one every 1/2 s.
    assert times == pytest.approx([0, 0, 0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0], abs=1e-6)


def test_bucket_for_a_per_minute_limit_admits_the_documented_count_over_ten_minutes():
    clock = SimulatedClock()
    bucket = TokenBucket.for_limit(RateLimit(requests=200, per_seconds=60), clock)
    times = admission_times(bucket, clock, 2100)
    assert sum(t < 600 - 1e-6 for t in times) == 2000  # 200/min x 10 min
    assert times[1] == pytest.approx(0.3, abs=1e-6)


def test_bucket_refills_while_idle_but_never_beyond_capacity():
    clock = SimulatedClock()
    bucket = TokenBucket(rate=1, capacity=2, clock=clock)
    admission_times(bucket, clock, 2)  # empty now
    clock.sleep(100)  # idle: refills to 2, not 100
    assert admission_times(bucket, clock, 3) == pytest.approx([0, 0, 1.0], abs=1e-6)


def test_bucket_rejects_impossible_requests():
    clock = SimulatedClock()
    with pytest.raises(ValueError):
        TokenBucket(rate=0, capacity=1, clock=clock)
    with pytest.raises(ValueError):
        TokenBucket(rate=1, capacity=0.5, clock=clock)
    with pytest.raises(ValueError, match="capacity"):
        TokenBucket(rate=1, capacity=2, clock=clock).acquire(3)


# -- RetryPolicy and call_with_retries --------------------------------------------------------


def failing(errors):
    """fn raising each of ``errors`` in turn, then returning "ok"; counts its calls."""
    calls = []

    def fn():
        calls.append(len(calls) + 1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "ok"

    return fn, calls


def test_exponential_backoff_without_jitter_doubles_up_to_max_delay_then_gives_up():
    clock = RecordingClock()
    errors = [TransientSourceError(f"attempt {i}") for i in range(1, 7)]
    fn, calls = failing(errors)
    policy = RetryPolicy(max_attempts=6, base_delay=1.0, max_delay=10.0, jitter=0.0)

    with pytest.raises(TransientSourceError) as caught:
        call_with_retries(fn, policy, clock)

    assert caught.value is errors[-1]  # the last error, after max_attempts
    assert len(calls) == 6
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0, 10.0]


def test_full_jitter_draws_uniformly_below_the_exponential_cap_from_the_injected_rng():
    clock = RecordingClock()
    fn, _ = failing([TransientSourceError("x")] * 4)
    policy = RetryPolicy(
        max_attempts=5, base_delay=1.0, max_delay=5.0, jitter=1.0, rng=random.Random(42)
    )

    assert call_with_retries(fn, policy, clock) == "ok"

    reference = random.Random(42)  # full jitter: U(0, min(max_delay, base * 2**k))
    assert clock.sleeps == [reference.uniform(0, cap) for cap in (1.0, 2.0, 4.0, 5.0)]
    assert all(0 <= s <= cap for s, cap in zip(clock.sleeps, (1, 2, 4, 5), strict=True))


def test_partial_jitter_keeps_the_fixed_share_of_the_cap():
    clock = RecordingClock()
    fn, _ = failing([TransientSourceError("x")] * 2)
    policy = RetryPolicy(
        max_attempts=3, base_delay=2.0, max_delay=60.0, jitter=0.25, rng=random.Random(7)
    )
    call_with_retries(fn, policy, clock)
    reference = random.Random(7)
    expected = [cap * 0.75 + reference.uniform(0, cap * 0.25) for cap in (2.0, 4.0)]
    assert clock.sleeps == pytest.approx(expected, rel=1e-15)


def test_same_seed_gives_the_same_schedule():
    def schedule(seed):
        clock = RecordingClock()
        fn, _ = failing([TransientSourceError("x")] * 3)
        call_with_retries(fn, RetryPolicy(max_attempts=4, rng=random.Random(seed)), clock)
        return clock.sleeps

    assert schedule(1) == schedule(1) != schedule(2)


def test_retry_after_from_the_vendor_replaces_the_backoff():
    clock = RecordingClock()
    fn, calls = failing(
        [
            RateLimitedError("slow down", retry_after=7.0),
            RateLimitedError("slow down", retry_after=7.0),
        ]
    )
    seen = []
    policy = RetryPolicy(max_attempts=3, base_delay=1.0, jitter=0.0)

    result = call_with_retries(fn, policy, clock, on_retry=lambda *a: seen.append(a))

    assert result == "ok" and len(calls) == 3
    assert clock.sleeps == [7.0, 7.0]
    assert [(attempt, wait) for attempt, _, wait in seen] == [(1, 7.0), (2, 7.0)]


def test_a_rate_limit_without_retry_after_uses_the_backoff():
    clock = RecordingClock()
    fn, _ = failing([RateLimitedError("429"), TransientSourceError("503")])
    call_with_retries(fn, RetryPolicy(base_delay=3.0, jitter=0.0), clock)
    assert clock.sleeps == [3.0, 6.0]


def test_permanent_symbol_error_is_reraised_at_once():
    clock = RecordingClock()
    error = PermanentSymbolError("ZZZZ", "unknown ticker")
    fn, calls = failing([error])
    with pytest.raises(PermanentSymbolError) as caught:
        call_with_retries(fn, RetryPolicy(max_attempts=5), clock)
    assert caught.value is error and len(calls) == 1 and clock.sleeps == []


def test_errors_that_are_not_transient_are_not_retried():
    clock = RecordingClock()
    fn, calls = failing([UnauthenticatedError("bad key")])
    with pytest.raises(UnauthenticatedError):
        call_with_retries(fn, RetryPolicy(max_attempts=5), clock)
    assert len(calls) == 1 and clock.sleeps == []


def test_one_attempt_means_no_retry():
    clock = RecordingClock()
    fn, calls = failing([TransientSourceError("once")])
    with pytest.raises(TransientSourceError):
        call_with_retries(fn, RetryPolicy(max_attempts=1), clock)
    assert len(calls) == 1 and clock.sleeps == []


def test_policy_rejects_nonsense():
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(jitter=1.5)


def test_throttle_takes_a_token_for_every_attempt():
    clock = RecordingClock()
    start = clock.monotonic()
    throttle = Throttle(
        TokenBucket(rate=1, capacity=1, clock=clock),
        RetryPolicy(base_delay=0.25, jitter=0.0),
        clock,
    )
    fn, calls = failing([TransientSourceError("503")])

    assert throttle(fn) == "ok" and len(calls) == 2
    # Attempt 1 at 0; backoff 0.25; the bucket's next slot is 1.0, so it waits 0.75 more.
    assert clock.sleeps == pytest.approx([0.25, 0.75])
    assert clock.monotonic() - start == pytest.approx(1.0)


# -- classifying responses --------------------------------------------------------------------


def test_retry_after_parses_seconds_and_http_dates():
    now = datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None) is None and parse_retry_after("") is None


@pytest.mark.parametrize(
    ("status", "symbol", "expected"),
    [
        (429, "AAPL", RateLimitedError),
        (500, "AAPL", TransientSourceError),
        (503, None, TransientSourceError),
        (408, "AAPL", TransientSourceError),
        (401, "AAPL", UnauthenticatedError),
        (403, None, PermissionDeniedError),
        (403, "AAPL", PermanentSymbolError),
        (404, "AAPL", PermanentSymbolError),
        (422, "AAPL", PermanentSymbolError),
    ],
)
def test_http_status_classification(status, symbol, expected):
    error = error_for_status("vendor", status, "message", symbol=symbol, retry_after=3.0)
    assert type(error) is expected
    if expected is RateLimitedError:
        assert error.retry_after == 3.0
