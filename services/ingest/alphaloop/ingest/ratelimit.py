"""Client-side rate limiting and retries for market data vendors.

A :class:`TokenBucket` paces requests at the vendor's documented rate; :func:`call_with_retries`
retries what is worth retrying (HTTP 429 / 5xx, timeouts: :class:`TransientSourceError`) with
exponential backoff and full jitter (Brooker, "Exponential Backoff And Jitter", AWS Architecture
Blog, 2015), honours a vendor's ``Retry-After``, and gives up at once on a
:class:`PermanentSymbolError`. :class:`Throttle` puts the two around every single HTTP request a
source makes. Every wait goes through the injected clock, so under a ``SimulatedClock`` the
whole schedule runs instantly and can be asserted exactly.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from alphaloop.common.clock import Clock
from alphaloop.common.errors import PermissionDeniedError, UnauthenticatedError
from alphaloop.ingest.sources.base import (
    PermanentSymbolError,
    RateLimit,
    RateLimitedError,
    TransientSourceError,
)

T = TypeVar("T")

#: on_retry(attempt that failed (1-based), the error, seconds about to be slept)
RetryCallback = Callable[[int, Exception, float], None]


class TokenBucket:
    """Admits ``rate`` requests per second on average and at most ``capacity`` at once.

    Implemented as the generic cell rate algorithm (virtual scheduling, ITU-T I.371), which is
    exactly a token bucket that starts full: it keeps one number, the theoretical arrival time
    of the next request, so long simulated runs accumulate no rounding drift. ``acquire``
    reserves its slot under a lock and then sleeps on the clock, so concurrent callers queue
    in arrival order.
    """

    def __init__(self, rate: float, capacity: float, clock: Clock) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1 request, got {capacity}")
        self.rate = float(rate)
        self.capacity = float(capacity)
        self._clock = clock
        self._origin = clock.monotonic()
        self._tat = 0.0  # theoretical arrival time, seconds after _origin
        self._lock = threading.Lock()

    @classmethod
    def for_limit(cls, limit: RateLimit, clock: Clock, capacity: float = 1.0) -> TokenBucket:
        """A bucket for a vendor's documented limit. ``capacity=1`` spaces requests evenly,
        which never trips a vendor that counts over a sliding window."""
        return cls(limit.rate, capacity, clock)

    def acquire(self, n: float = 1.0) -> float:
        """Take ``n`` tokens, sleeping on the clock until they are available.

        Returns the seconds waited.
        """
        if n <= 0:
            return 0.0
        if n > self.capacity:
            raise ValueError(f"cannot take {n} tokens from a bucket of capacity {self.capacity}")
        with self._lock:
            now = self._clock.monotonic() - self._origin
            tat = max(self._tat, now)
            new_tat = tat + n / self.rate
            allowed_at = new_tat - self.capacity / self.rate
            self._tat = new_tat
        wait = allowed_at - now
        if wait > 0:
            self._clock.sleep(wait)
            return wait
        return 0.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a :class:`TransientSourceError`.

    The n-th retry waits ``min(max_delay, base_delay * 2**(n-1))`` scaled by jitter:
    ``jitter=1`` is full jitter (uniform between 0 and that cap), ``jitter=0`` no jitter,
    values between keep ``1 - jitter`` of the cap fixed and randomise the rest. A
    :class:`RateLimitedError` that carries ``retry_after`` waits exactly that long instead:
    the vendor said when to come back. ``rng`` is the random source (inject a seeded
    ``random.Random`` for reproducible schedules).
    """

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    jitter: float = 1.0
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter}")

    def backoff(self, retry: int) -> float:
        """Seconds before the ``retry``-th retry (1-based), ignoring any Retry-After."""
        cap = min(self.max_delay, self.base_delay * 2.0 ** (retry - 1))
        if self.jitter == 0.0:
            return cap
        return cap * (1.0 - self.jitter) + self.rng.uniform(0.0, cap * self.jitter)

    def delay(self, retry: int, error: Exception) -> float:
        retry_after = getattr(error, "retry_after", None)
        if isinstance(error, RateLimitedError) and retry_after is not None:
            return max(0.0, float(retry_after))
        return self.backoff(retry)


def call_with_retries(
    fn: Callable[[], T],
    policy: RetryPolicy,
    clock: Clock,
    on_retry: RetryCallback | None = None,
) -> T:
    """Call ``fn`` until it succeeds, retrying :class:`TransientSourceError` per ``policy``.

    A :class:`PermanentSymbolError` (and any error that is not transient) propagates at once;
    after ``policy.max_attempts`` failed attempts the last transient error is raised.
    """
    attempt = 1
    while True:
        try:
            return fn()
        except PermanentSymbolError:
            raise
        except TransientSourceError as exc:
            if attempt >= policy.max_attempts:
                raise
            wait = policy.delay(attempt, exc)
            if on_retry is not None:
                on_retry(attempt, exc, wait)
            clock.sleep(wait)
            attempt += 1


class Throttle:
    """Paces and retries each request a source makes: ``throttle(fn)`` takes a token from the
    bucket before every attempt (a retried request is a request too) and retries ``fn`` per
    the policy. Sources accept one as ``throttle=``; hand a source either a throttle or wrap
    its ``fetch`` in :func:`call_with_retries`, not both, or the attempts multiply.
    """

    def __init__(
        self,
        bucket: TokenBucket,
        policy: RetryPolicy,
        clock: Clock,
        on_retry: RetryCallback | None = None,
    ) -> None:
        self.bucket = bucket
        self.policy = policy
        self.clock = clock
        self.on_retry = on_retry

    @classmethod
    def for_limit(
        cls,
        limit: RateLimit,
        clock: Clock,
        policy: RetryPolicy | None = None,
        capacity: float = 1.0,
        on_retry: RetryCallback | None = None,
    ) -> Throttle:
        return cls(
            TokenBucket.for_limit(limit, clock, capacity), policy or RetryPolicy(), clock, on_retry
        )

    def __call__(self, fn: Callable[[], T]) -> T:
        def paced() -> T:
            self.bucket.acquire()
            return fn()

        return call_with_retries(paced, self.policy, self.clock, self.on_retry)


def direct(fn: Callable[[], T]) -> T:
    """The no-op throttle: call once, no pacing, no retries (the caller handles them)."""
    return fn()


# -- classifying vendor responses -------------------------------------------------------------


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP-date (RFC 9110 10.2.3).

    ``now`` (from the injected clock) is needed only for the HTTP-date form.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or now is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def retry_after_from(headers: Mapping[str, str] | None, clock: Clock) -> float | None:
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    return parse_retry_after(lowered.get("retry-after"), clock.now())


def error_for_status(
    vendor: str,
    status: int,
    message: str,
    *,
    symbol: str | None,
    retry_after: float | None = None,
) -> Exception:
    """The AlphaLoop error for an HTTP error status, by the usual REST conventions.

    429 -> :class:`RateLimitedError`; 408 and 5xx -> :class:`TransientSourceError`;
    401 -> ``UnauthenticatedError`` (bad key: stop, do not blame the symbol); 403 -> the
    symbol is not entitled (:class:`PermanentSymbolError`) when the request was about one
    symbol, else ``PermissionDeniedError``; other 4xx -> :class:`PermanentSymbolError`.
    Vendors whose conventions differ map those cases before calling this.
    """
    text = f"{vendor} HTTP {status}: {message}".strip()
    if status == 429:
        return RateLimitedError(text, retry_after=retry_after)
    if status == 408 or status >= 500:
        return TransientSourceError(text)
    if status == 401:
        return UnauthenticatedError(text)
    if status == 403 and symbol is None:
        return PermissionDeniedError(text)
    return PermanentSymbolError(symbol or "?", text)
