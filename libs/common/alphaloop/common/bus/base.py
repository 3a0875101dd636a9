"""The event bus interface every backend implements (DESIGN.md, "Topics" and "Transports").

Delivery is at least once. Messages are keyed (by symbol); messages with the same key reach
one consumer of a group at a time and in publish order. A consumer acknowledges each message
after processing it; unacknowledged messages are delivered again (``delivery_count`` grows)
when their consumer closes, dies or stays silent longer than the backend's timeout.

``Subscription.run`` is the one consume loop services use: it processes messages in order,
retries a failing handler in place with a small backoff, and after ``max_attempts`` total
deliveries publishes the message to the group's dead-letter topic and acknowledges it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from google.protobuf.message import Message as ProtoMessage
from opentelemetry import trace

from alphaloop.common import topics as topic_names
from alphaloop.common.clock import Clock, LiveClock
from alphaloop.common.errors import InvalidInputError, UnavailableError
from alphaloop.common.metrics import BUS_MESSAGES
from alphaloop.common.tracing import extract_trace_context, inject_trace_context

log = logging.getLogger(__name__)

OCTET_STREAM = "application/octet-stream"

# Header names the bus writes.
H_MESSAGE_ID = "message-id"
H_CONTENT_TYPE = "content-type"
H_ORIGINAL_TOPIC = "x-original-topic"
H_ERROR = "x-error"
H_ATTEMPTS = "x-attempts"

Handler = Callable[["Message"], Any]


@dataclass(frozen=True)
class Message:
    """One delivered message.

    ``delivery_count`` is 1 on the first delivery and grows each time the backend hands the
    message out again (after a consumer closed, died or timed out without acknowledging it).
    ``receipt`` is the backend's private handle used by ``Subscription.ack``.
    """

    topic: str
    key: str | None
    value: bytes
    headers: dict[str, str]
    message_id: str
    delivery_count: int = 1
    receipt: Any = field(default=None, compare=False, repr=False)

    def __hash__(self) -> int:  # headers is a dict, so hash on the identifying fields
        return hash((self.topic, self.message_id, self.delivery_count))


def default_consumer_name() -> str:
    """A consumer name unique to this process and call: ``host-pid-random``."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _check_topic(topic: str) -> str:
    if not isinstance(topic, str) or not topic or any(c.isspace() for c in topic):
        raise InvalidInputError(
            "topic", f"must be a non-empty string without spaces, got {topic!r}"
        )
    return topic


def _check_key(key: str | None) -> str | None:
    if key is None or isinstance(key, str):
        return key
    raise InvalidInputError("key", f"must be a str or None, got {type(key).__name__}")


def _check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not name or not isinstance(value, str):
            raise InvalidInputError("headers", f"names and values must be strings: {name!r}")
        out[name] = value
    return out


def encode_value(value: bytes | ProtoMessage) -> tuple[bytes, str]:
    """Payload bytes and content type: a protobuf's full type name, else octet-stream."""
    if isinstance(value, ProtoMessage):
        return value.SerializeToString(), value.DESCRIPTOR.full_name
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value), OCTET_STREAM
    raise InvalidInputError(
        "value", f"must be bytes or a protobuf message, got {type(value).__name__}"
    )


def _normalize_topics(topics: str | Iterable[str]) -> tuple[str, ...]:
    names = (topics,) if isinstance(topics, str) else tuple(topics)
    if not names:
        raise InvalidInputError("topics", "subscribe to at least one topic")
    return tuple(dict.fromkeys(_check_topic(t) for t in names))


class Bus(ABC):
    """A connection to one event bus. Thread-safe: any thread may publish.

    Subscriptions created by a bus are closed (gracefully) when the bus closes.
    """

    backend: ClassVar[str] = "abstract"

    def __init__(self, *, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or LiveClock()
        self._closed = False
        self._subs: weakref.WeakSet[Subscription] = weakref.WeakSet()
        self._subs_lock = threading.Lock()

    # -- publishing -------------------------------------------------------------------------
    def publish(
        self,
        topic: str,
        key: str | None,
        value: bytes | ProtoMessage,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Publish one message; returns its message id once the backend has accepted it.

        Protobuf values are serialized. Headers gain ``message-id`` (uuid4 hex unless given),
        ``content-type`` (protobuf full type name or application/octet-stream, unless given)
        and the W3C trace context of the current span. Raises ``UnavailableError`` when the
        backend cannot be reached.
        """
        self._check_open()
        _check_topic(topic)
        _check_key(key)
        payload, content_type = encode_value(value)
        hdrs = _check_headers(headers)
        if not hdrs.get(H_MESSAGE_ID):
            hdrs[H_MESSAGE_ID] = uuid.uuid4().hex
        hdrs.setdefault(H_CONTENT_TYPE, content_type)
        inject_trace_context(hdrs)
        self._publish(topic, key, payload, hdrs)
        BUS_MESSAGES.labels(topic, "published").inc()
        return hdrs[H_MESSAGE_ID]

    @abstractmethod
    def _publish(self, topic: str, key: str | None, value: bytes, headers: dict[str, str]) -> None:
        """Hand one encoded message to the backend (synchronously: durable on return)."""

    # -- consuming --------------------------------------------------------------------------
    def subscribe(
        self,
        topics: str | Iterable[str],
        group: str,
        consumer: str | None = None,
        **opts: Any,
    ) -> Subscription:
        """Join consumer ``group`` on ``topics`` as ``consumer`` (default: host-pid-random).

        A new group starts from the oldest message the backend still holds. Backend options
        (``ack_timeout`` and friends) are documented on each backend's subscription class;
        unknown options raise ``TypeError``.
        """
        self._check_open()
        names = _normalize_topics(topics)
        try:
            topic_names.validate_group(group)
        except ValueError as exc:
            raise InvalidInputError("group", str(exc)) from exc
        if consumer is not None and (not isinstance(consumer, str) or not consumer):
            raise InvalidInputError("consumer", "must be a non-empty string")
        sub = self._subscribe(names, group, consumer or default_consumer_name(), **opts)
        with self._subs_lock:
            self._subs.add(sub)
        return sub

    @abstractmethod
    def _subscribe(
        self, topics: tuple[str, ...], group: str, consumer: str, **opts: Any
    ) -> Subscription: ...

    # -- lifecycle --------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} is closed")

    def close(self) -> None:
        """Close every open subscription of this bus (gracefully), then the connection."""
        if self._closed:
            return
        self._closed = True
        with self._subs_lock:
            subs = list(self._subs)
        for sub in subs:
            try:
                sub.close()
            except Exception:  # closing must not stop the rest from closing
                log.warning("closing subscription %s failed", sub, exc_info=True)
        self._close()

    @abstractmethod
    def _close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Subscription(ABC):
    """One consumer's membership in a group.

    ``poll`` must be called from one thread at a time; ``ack`` may be called from any thread.
    """

    # Retry backoff of ``run``: first delay and cap, in seconds (doubles per attempt).
    retry_backoff: ClassVar[tuple[float, float]] = (0.05, 1.0)
    # Backoff while the backend is unavailable inside ``run``: first delay and cap.
    unavailable_backoff: ClassVar[tuple[float, float]] = (0.5, 30.0)

    def __init__(self, bus: Bus, topics: tuple[str, ...], group: str, consumer: str) -> None:
        self.bus = bus
        self.topics = topics
        self.group = group
        self.consumer = consumer
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(topics={list(self.topics)}, group={self.group!r}, "
            f"consumer={self.consumer!r})"
        )

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")

    @abstractmethod
    def poll(self, timeout: float = 1.0, max_messages: int = 100) -> list[Message]:
        """Up to ``max_messages`` messages, waiting at most about ``timeout`` seconds.

        Messages of one key come in publish order. Each must be acknowledged with ``ack``.
        """

    @abstractmethod
    def ack(self, message: Message) -> None:
        """Acknowledge ``message``: it will not be delivered to this group again.

        Acknowledging a message this consumer no longer owns (it was handed to another
        member after a timeout) is ignored: that member will process and acknowledge it.
        """

    @abstractmethod
    def close(self) -> None:
        """Leave the group gracefully: unacknowledged messages go to other members."""

    @abstractmethod
    def kill(self) -> None:
        """Simulate a crash (tests, chaos drills): stop at once, acknowledge and commit
        nothing, say no goodbye. The group notices only through its timeouts."""

    @abstractmethod
    def assignment(self) -> frozenset[tuple[str, int]]:
        """The (topic, partition) pairs this consumer owned at its last poll."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the consume loop ---------------------------------------------------------------------
    def run(
        self,
        handler: Handler,
        *,
        max_attempts: int = 5,
        stop: threading.Event | None = None,
        poll_timeout: float = 1.0,
    ) -> None:
        """Process messages in order until ``stop`` is set (forever when ``stop`` is None).

        A message is acknowledged after ``handler`` returns. When the handler raises, it is
        retried in place with a small backoff until the message's total deliveries (the
        backend's ``delivery_count`` plus in-place retries) reach ``max_attempts``; then the
        message goes to ``topics.dead_letter(group)`` with its original headers plus
        ``x-original-topic``, ``x-error`` and ``x-attempts``, and is acknowledged. A message
        that arrives with ``delivery_count > max_attempts`` (earlier consumers died on it) is
        dead-lettered without calling the handler again.

        ``UnavailableError`` (from the bus, or raised by the handler because a dependency is
        down) is not the message's fault: it is retried with backoff and does not count as an
        attempt. Whatever is unacknowledged when ``stop`` is set is delivered again later
        (close the subscription to hand it to the rest of the group at once).
        """
        if max_attempts < 1:
            raise InvalidInputError("max_attempts", "must be at least 1")
        stop = stop or threading.Event()
        tracer = trace.get_tracer("alphaloop.bus")
        first, cap = self.unavailable_backoff
        delay = first
        while not stop.is_set():
            try:
                batch = self.poll(timeout=poll_timeout)
            except UnavailableError as exc:
                log.warning("%r: bus unavailable, retrying in %.1fs: %s", self, delay, exc)
                stop.wait(delay)
                delay = min(delay * 2, cap)
                continue
            delay = first
            for message in batch:
                if stop.is_set() or not self._process(message, handler, max_attempts, stop, tracer):
                    return

    def _process(
        self,
        message: Message,
        handler: Handler,
        max_attempts: int,
        stop: threading.Event,
        tracer: trace.Tracer,
    ) -> bool:
        """Handle one message to completion. False when ``stop`` interrupted it (the message
        stays unacknowledged and is delivered again)."""
        attempts = message.delivery_count
        ctx = extract_trace_context(message.headers)
        with tracer.start_as_current_span(
            f"{message.topic} process",
            context=ctx,
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.destination.name": message.topic,
                "messaging.consumer.group.name": self.group,
                "messaging.message.id": message.message_id,
                "messaging.message.delivery_count": message.delivery_count,
            },
        ):
            if attempts > max_attempts:
                return self._dead_letter(
                    message,
                    f"delivered {attempts} times without acknowledgement "
                    f"(max_attempts={max_attempts}); earlier consumers died or timed out",
                    attempts - 1,
                    stop,
                )
            first, cap = self.retry_backoff
            delay = first
            while True:
                try:
                    handler(message)
                except UnavailableError as exc:
                    # A dependency is down, not the message's fault: wait, do not count it.
                    log.warning("%r: handler cannot reach a dependency: %s", self, exc)
                    if stop.wait(self.unavailable_backoff[0]):
                        return False
                    continue
                except Exception as exc:
                    if attempts >= max_attempts:
                        log.warning(
                            "%r: %s %s failed %d times, dead-lettering",
                            self,
                            message.topic,
                            message.message_id,
                            attempts,
                            exc_info=True,
                        )
                        return self._dead_letter(
                            message, f"{type(exc).__name__}: {exc}", attempts, stop
                        )
                    log.info(
                        "%r: handler failed on %s %s (attempt %d/%d): %s",
                        self,
                        message.topic,
                        message.message_id,
                        attempts,
                        max_attempts,
                        exc,
                    )
                    BUS_MESSAGES.labels(message.topic, "retried").inc()
                    if stop.wait(delay):
                        return False
                    delay = min(delay * 2, cap)
                    attempts += 1
                    continue
                settled = self._settle(lambda: self.ack(message), stop)
                if settled:
                    BUS_MESSAGES.labels(message.topic, "acked").inc()
                return settled

    def _dead_letter(
        self, message: Message, error: str, attempts: int, stop: threading.Event
    ) -> bool:
        headers = dict(message.headers)
        headers[H_ORIGINAL_TOPIC] = message.topic
        headers[H_ERROR] = error[:2000]
        headers[H_ATTEMPTS] = str(attempts)
        dlt = topic_names.dead_letter(self.group)
        published = self._settle(
            lambda: self.bus.publish(dlt, message.key, message.value, headers), stop
        )
        settled = published and self._settle(lambda: self.ack(message), stop)
        if settled:
            BUS_MESSAGES.labels(message.topic, "dead_lettered").inc()
        return settled

    def _settle(self, action: Callable[[], object], stop: threading.Event) -> bool:
        """Run ``action`` (an ack or a dead-letter publish) until the backend takes it, so
        the loop never moves past an unsettled message. False if ``stop`` came first."""
        first, cap = self.unavailable_backoff
        delay = first
        while True:
            try:
                action()
                return True
            except UnavailableError as exc:
                log.warning("%r: bus unavailable, retrying in %.1fs: %s", self, delay, exc)
                if stop.wait(delay):
                    return False
                delay = min(delay * 2, cap)
