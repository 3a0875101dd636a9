"""The event bus contract, run unchanged against every backend (memory, Redis Streams, Kafka).

What "a consumer dies" means here (``Subscription.kill``):
* memory: the member stops polling and acknowledging; the group evicts it after
  ``ack_timeout`` seconds of silence and hands its unacknowledged messages on;
* redis: the member stops heartbeating; its shard leases and membership expire after
  ``ack_timeout`` and the new owner claims its pending entries (XAUTOCLAIM);
* kafka: the member's connections drop without a LeaveGroup or a commit, as when a process
  crashes; the broker evicts it after ``session_timeout_ms`` and reassigns its partitions.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from opentelemetry.sdk.trace import TracerProvider

from alphaloop.common import topics
from alphaloop.common.bus import Bus, Message, Subscription, open_bus
from alphaloop.common.errors import UnavailableError
from alphaloop.common.metrics import REGISTRY

pytestmark = [
    pytest.mark.timeout(150),
    # kafka-python 3.0 loads its protocol schemas with deprecated importlib.resources calls
    pytest.mark.filterwarnings("ignore:read_text is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:open_text is deprecated:DeprecationWarning"),
]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


class Drainer:
    """Polls one subscription on its own thread, collecting (and by default acking)."""

    def __init__(self, sub: Subscription, ack: bool = True) -> None:
        self.sub = sub
        self.ack = ack
        self._messages: list[Message] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                batch = self.sub.poll(timeout=0.2, max_messages=50)
                with self._lock:
                    self._messages.extend(batch)
                if self.ack:
                    for m in batch:
                        self.sub.ack(m)
        except Exception as exc:  # noqa: BLE001 - surfaced by stop() and .messages
            self.error = exc

    @property
    def messages(self) -> list[Message]:
        if self.error is not None:
            raise self.error
        with self._lock:
            return list(self._messages)

    def __len__(self) -> int:
        return len(self.messages)

    def stop(self) -> list[Message]:
        self._stop.set()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "consumer thread did not stop"
        return self.messages


def publish_keyed(bus: Bus, topic: str, n_keys: int, per_key: int) -> dict[str, list[bytes]]:
    """Publish ``per_key`` values for each of ``n_keys`` keys, interleaved by key."""
    sent: dict[str, list[bytes]] = {f"SYM{k}": [] for k in range(n_keys)}
    for i in range(per_key):
        for key, values in sent.items():
            value = f"{key}:{i}".encode()
            bus.publish(topic, key, value)
            values.append(value)
    return sent


def by_key(messages: list[Message]) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = defaultdict(list)
    for m in messages:
        assert m.key is not None
        out[m.key].append(m.value)
    return dict(out)


def test_per_key_order(bus: Bus, names: Any, sub_opts: dict[str, Any]) -> None:
    topic, group = names.topic("order"), names.group("order")
    sub = bus.subscribe([topic], group, **sub_opts)
    sent = publish_keyed(bus, topic, n_keys=6, per_key=20)
    total = sum(len(v) for v in sent.values())

    d = Drainer(sub)
    wait_until(lambda: len(d) >= total, 60, f"{total} messages")
    got = d.stop()

    assert len(got) == total
    assert by_key(got) == sent  # every key's values in publish order
    assert all(m.delivery_count == 1 for m in got)


def test_unacked_messages_are_redelivered_after_consumer_dies(
    bus: Bus, names: Any, sub_opts: dict[str, Any]
) -> None:
    topic, group = names.topic("redeliver"), names.group("redeliver")
    a = bus.subscribe([topic], group, consumer="consumer-a", **sub_opts)
    sent = publish_keyed(bus, topic, n_keys=4, per_key=3)
    total = sum(len(v) for v in sent.values())

    da = Drainer(a, ack=False)
    wait_until(lambda: len(da) >= total, 60, "consumer A to receive everything")
    assert all(m.delivery_count == 1 for m in da.stop())
    a.kill()  # dies holding every message unacknowledged

    b = bus.subscribe([topic], group, consumer="consumer-b", **sub_opts)
    db = Drainer(b)
    wait_until(lambda: len(db) >= total, 90, "consumer B to receive the abandoned messages")
    time.sleep(0.3)  # let any duplicate show up
    got = db.stop()

    assert len(got) == total
    assert by_key(got) == sent
    assert all(m.delivery_count >= 2 for m in got), [m.delivery_count for m in got]


def test_close_hands_unacked_messages_to_the_group_at_once(
    bus: Bus, names: Any, sub_opts: dict[str, Any]
) -> None:
    # A long ack_timeout: only a graceful hand-over can deliver within the wait below.
    opts = {**sub_opts, "ack_timeout": 120.0}
    topic, group = names.topic("handover"), names.group("handover")
    a = bus.subscribe([topic], group, consumer="consumer-a", **opts)
    sent = publish_keyed(bus, topic, n_keys=3, per_key=3)
    total = sum(len(v) for v in sent.values())

    da = Drainer(a, ack=False)
    wait_until(lambda: len(da) >= total, 60, "consumer A to receive everything")
    da.stop()
    a.close()

    b = bus.subscribe([topic], group, consumer="consumer-b", **opts)
    db = Drainer(b)
    wait_until(lambda: len(db) >= total, 30, "consumer B to receive the released messages")
    got = db.stop()

    assert by_key(got) == sent
    assert all(m.delivery_count >= 2 for m in got)


def test_deliveries_to_a_dead_consumer_count_toward_max_attempts(
    bus: Bus, names: Any, sub_opts: dict[str, Any]
) -> None:
    topic, group = names.topic("counted"), names.group("counted")
    a = bus.subscribe([topic], group, consumer="consumer-a", **sub_opts)
    bus.publish(topic, "AAPL", b"crashes-its-consumer")
    da = Drainer(a, ack=False)
    wait_until(lambda: len(da) >= 1, 60, "consumer A to receive the message")
    da.stop()
    a.kill()

    b = bus.subscribe([topic], group, consumer="consumer-b", **sub_opts)
    dlt = bus.subscribe([topics.dead_letter(group)], names.group("dlt-reader"), **sub_opts)
    dd = Drainer(dlt)
    calls: list[int] = []

    def handler(message: Message) -> None:
        calls.append(message.delivery_count)
        raise RuntimeError("still broken")

    stop = threading.Event()
    runner = threading.Thread(
        target=b.run,
        args=(handler,),
        kwargs={"max_attempts": 2, "stop": stop, "poll_timeout": 0.2},
        daemon=True,
    )
    runner.start()
    wait_until(lambda: len(dd) >= 1, 90, "the dead-lettered message")
    stop.set()
    runner.join(timeout=30)
    dead = dd.stop()

    assert calls == [2]  # the delivery to A was the first attempt
    assert dead[0].headers["x-attempts"] == "2"
    assert dead[0].value == b"crashes-its-consumer"


def test_load_sharing_between_consumers_of_one_group(
    bus: Bus, names: Any, sub_opts: dict[str, Any]
) -> None:
    topic, group = names.topic("share"), names.group("share")
    a = bus.subscribe([topic], group, consumer="consumer-a", **sub_opts)
    b = bus.subscribe([topic], group, consumer="consumer-b", **sub_opts)
    da, db = Drainer(a), Drainer(b)
    wait_until(
        lambda: (
            bool(a.assignment()) and bool(b.assignment()) and not (a.assignment() & b.assignment())
        ),
        60,
        "both consumers to own partitions",
    )

    sent = publish_keyed(bus, topic, n_keys=16, per_key=5)
    total = sum(len(v) for v in sent.values())
    wait_until(lambda: len(da) + len(db) >= total, 60, f"{total} messages")
    time.sleep(0.5)  # let any duplicate show up
    got_a, got_b = da.stop(), db.stop()

    assert got_a and got_b, (len(got_a), len(got_b))
    ids = [m.message_id for m in got_a + got_b]
    assert len(ids) == len(set(ids)) == total  # union is everything, no duplicates
    assert not (set(by_key(got_a)) & set(by_key(got_b)))  # a key stays with one consumer
    assert by_key(got_a + got_b) == sent


def test_independent_groups_each_see_every_message(
    bus: Bus, names: Any, sub_opts: dict[str, Any]
) -> None:
    topic = names.topic("fanout")
    s1 = bus.subscribe([topic], names.group("risk"), **sub_opts)
    s2 = bus.subscribe([topic], names.group("audit"), **sub_opts)
    sent = publish_keyed(bus, topic, n_keys=5, per_key=6)
    total = sum(len(v) for v in sent.values())

    d1, d2 = Drainer(s1), Drainer(s2)
    wait_until(lambda: len(d1) >= total and len(d2) >= total, 60, "both groups")
    time.sleep(0.3)
    got1, got2 = d1.stop(), d2.stop()

    assert by_key(got1) == sent
    assert by_key(got2) == sent


def test_failing_message_goes_to_dead_letter_after_max_attempts(
    bus: Bus, names: Any, sub_opts: dict[str, Any]
) -> None:
    topic, group = names.topic("poison"), names.group("poison")
    sub = bus.subscribe([topic], group, **sub_opts)
    dlt = bus.subscribe([topics.dead_letter(group)], names.group("dlt-reader"), **sub_opts)
    dd = Drainer(dlt)

    calls: list[int] = []

    def handler(message: Message) -> None:
        calls.append(message.delivery_count)
        raise RuntimeError("boom: cannot parse bar")

    stop = threading.Event()
    runner = threading.Thread(
        target=sub.run,
        args=(handler,),
        kwargs={"max_attempts": 3, "stop": stop, "poll_timeout": 0.2},
        daemon=True,
    )
    runner.start()
    message_id = bus.publish(topic, "AAPL", b"poison", headers={"x-source": "test"})

    wait_until(lambda: len(dd) >= 1, 60, "the dead-lettered message")
    stop.set()
    runner.join(timeout=30)
    assert not runner.is_alive()
    time.sleep(0.3)
    dead = dd.stop()

    assert len(dead) == 1
    m = dead[0]
    assert m.topic == topics.dead_letter(group)
    assert (m.key, m.value) == ("AAPL", b"poison")
    assert m.headers["x-attempts"] == "3"
    assert m.headers["x-original-topic"] == topic
    assert "boom" in m.headers["x-error"]
    assert m.headers["x-source"] == "test"  # original headers kept
    assert m.message_id == message_id
    assert len(calls) == 3

    # Prometheus counters saw it: topic names are unique to this test, so counts are exact.
    def count(t: str, outcome: str) -> float:
        value = REGISTRY.get_sample_value(
            "alphaloop_bus_messages_total", {"topic": t, "outcome": outcome}
        )
        return value or 0.0

    assert count(topic, "published") == 1
    assert count(topic, "retried") == 2
    assert count(topic, "dead_lettered") == 1
    assert count(topic, "acked") == 0
    assert count(topics.dead_letter(group), "published") == 1

    # It was acknowledged: a new member of the group does not get it again.
    sub.close()
    again = bus.subscribe([topic], group, **sub_opts)
    da = Drainer(again)
    wait_until(lambda: bool(again.assignment()), 60, "the new member to own partitions")
    time.sleep(1.0)
    assert da.stop() == []


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket closes


@pytest.mark.parametrize(
    "backend_name",
    [
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("kafka", marks=pytest.mark.kafka),
    ],
)
@pytest.mark.timeout(30)
def test_unreachable_broker_raises_unavailable_quickly(backend_name: str) -> None:
    port = closed_port()
    url = {"redis": f"redis://127.0.0.1:{port}/0", "kafka": f"127.0.0.1:{port}"}[backend_name]
    started = time.monotonic()
    with pytest.raises(UnavailableError) as excinfo:
        bus = open_bus(backend_name, url)
        try:
            bus.publish("test.bus.unreachable", "AAPL", b"x")
        finally:
            bus.close()
    assert time.monotonic() - started < 15
    assert f"127.0.0.1:{port}" in str(excinfo.value)


def test_headers_carry_message_id_and_trace_context(
    bus: Bus, names: Any, sub_opts: dict[str, Any]
) -> None:
    topic, group = names.topic("headers"), names.group("headers")
    sub = bus.subscribe([topic], group, **sub_opts)
    tracer = TracerProvider().get_tracer("bus-contract-test")
    with tracer.start_as_current_span("publish bar") as span:
        message_id = bus.publish(
            topic, "AAPL", Timestamp(seconds=1_700_000_000), headers={"x-source": "test"}
        )
        trace_id = format(span.get_span_context().trace_id, "032x")
    plain_id = bus.publish(topic, "AAPL", b"raw")  # no span active

    d = Drainer(sub)
    wait_until(lambda: len(d) >= 2, 60, "two messages")
    traced, plain = d.stop()

    assert traced.message_id == traced.headers["message-id"] == message_id
    assert len(message_id) == 32 and int(message_id, 16) >= 0  # uuid4 hex
    assert traced.headers["traceparent"].split("-")[1] == trace_id
    assert traced.headers["content-type"] == "google.protobuf.Timestamp"
    assert Timestamp.FromString(traced.value).seconds == 1_700_000_000
    assert traced.headers["x-source"] == "test"
    assert plain.message_id == plain_id != message_id
    assert plain.headers["content-type"] == "application/octet-stream"
    assert "traceparent" not in plain.headers


def test_unknown_backend_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="nats"):
        open_bus("nats")
