"""Apache Kafka backend (kafka-python; tested against the Tansu Kafka-compatible broker).

* The message key is the Kafka record key, so the partitioner keeps one key in one
  partition and in order; headers travel as record headers (UTF-8 values).
* Topics are created with ``partitions`` partitions through ``KafkaAdminClient`` the first
  time this bus publishes or subscribes to them.
* Consumers run with ``enable_auto_commit=False``. ``ack`` only records the offset; the
  highest contiguous acknowledged offset per partition is committed at the next ``poll``,
  on ``close`` and when a rebalance revokes the partition. Nothing is committed that was
  not acknowledged.
* Delivery counts: Kafka keeps none, so each subscription records, per partition, the
  offset just past the highest record it has handed out, as the committed offset of a
  companion group ``<group>.delivered`` (plain offset commits: no broker feature beyond
  consumer groups is needed). A record below that mark that is fetched again after a
  rebalance has been delivered before: ``delivery_count`` is 2. Kafka cannot tell how many
  times it was delivered, so redeliveries count as 2, never more.
* Unreachable broker: the bus opens a TCP connection to a bootstrap server before it builds
  any client and raises ``UnavailableError`` naming the address if none answers within
  ``connect_timeout``. Clients get explicit ``request_timeout_ms``, ``max_block_ms`` and
  bootstrap timeouts, so a broker that dies later gives ``UnavailableError`` in bounded time.

A consumer dies when its process stops heartbeating (``kill``): the broker evicts it after
``session_timeout_ms`` and gives its partitions to the remaining members, who resume at the
last committed offset. A consumer that keeps heartbeating but does not poll for
``ack_timeout`` seconds (``max_poll_interval_ms``) leaves the group the same way. ``close``
commits what was acknowledged and leaves the group at once.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import kafka.errors as kerrors
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.structs import OffsetAndMetadata

from alphaloop.common.bus.base import H_MESSAGE_ID, Bus, Message, Subscription
from alphaloop.common.clock import Clock
from alphaloop.common.errors import InvalidInputError, UnavailableError

try:  # kafka-python >= 3: listeners run on the client's IO thread and must not block it
    from kafka import AsyncConsumerRebalanceListener as _ListenerBase

    _ASYNC_LISTENER = True
except ImportError:  # pragma: no cover - kafka-python 2.x
    from kafka import ConsumerRebalanceListener as _ListenerBase  # type: ignore[assignment]

    _ASYNC_LISTENER = False

log = logging.getLogger(__name__)

DEFAULT_URL = "127.0.0.1:9092"
DEFAULT_PARTITIONS = 8
DEFAULT_ACK_TIMEOUT = 300.0
MARKS_SUFFIX = ".delivered"


def parse_bootstrap(url: str) -> list[tuple[str, int]]:
    """``kafka://h1:9092,h2:9092`` or ``h1:9092,h2`` -> [(host, port), ...]."""
    raw = url.removeprefix("kafka://").strip().rstrip("/")
    out = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        host, sep, port = part.rpartition(":")
        if not sep:
            host, port = part, "9092"
        host = host.strip("[]")  # [::1]:9092
        try:
            out.append((host, int(port)))
        except ValueError:
            raise InvalidInputError("url", f"bad kafka bootstrap address {part!r}") from None
    if not out:
        raise InvalidInputError("url", f"no kafka bootstrap address in {url!r}")
    return out


def check_reachable(servers: list[tuple[str, int]], timeout: float, url: str) -> None:
    """Raise ``UnavailableError`` unless one bootstrap server accepts a TCP connection."""
    errors = []
    deadline = time.monotonic() + timeout
    for host, port in servers:
        left = deadline - time.monotonic()
        if left <= 0:
            errors.append(f"{host}:{port}: no time left")
            continue
        try:
            socket.create_connection((host, port), timeout=left).close()
            return
        except OSError as exc:
            errors.append(f"{host}:{port}: {exc}")
    raise UnavailableError(f"kafka broker unreachable at {url}: {'; '.join(errors)}")


def _client_config(cls: type, **config: Any) -> dict[str, Any]:
    """Keep only the settings this kafka-python version knows (its names changed in 3.0)."""
    known = getattr(cls, "DEFAULT_CONFIG", None)
    return {k: v for k, v in config.items() if known is None or k in known}


@dataclass(frozen=True, slots=True)
class _Receipt:
    sub: int
    tp: TopicPartition
    offset: int
    epoch: int


@dataclass(slots=True)
class _Partition:
    epoch: int
    next_commit: int | None = None  # first offset not yet committed (set by first fetch)
    mark: int | None = None  # offsets below it were handed out before (companion group)
    acked: set[int] = field(default_factory=set)
    committed_sent: int | None = None


class KafkaBus(Bus):
    """Kafka bus. ``url``: ``host:port[,host:port...]`` (``kafka://`` prefix optional).

    Options: ``partitions`` (for topics this bus creates, default 8), ``replication_factor``
    (default 1), ``connect_timeout`` (seconds for the up-front TCP check, default 5),
    ``request_timeout_ms`` (default 10000), ``send_timeout`` (seconds publish waits for the
    broker's acknowledgement, default 10), ``client_id``, ``clock``.
    """

    backend = "kafka"

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        partitions: int = DEFAULT_PARTITIONS,
        replication_factor: int = 1,
        connect_timeout: float = 5.0,
        request_timeout_ms: int = 10_000,
        send_timeout: float = 10.0,
        client_id: str = "alphaloop",
        clock: Clock | None = None,
    ) -> None:
        super().__init__(clock=clock)
        if partitions < 1:
            raise InvalidInputError("partitions", "must be at least 1")
        self.url = url or DEFAULT_URL
        self.servers = parse_bootstrap(self.url)
        self.bootstrap = [f"{h}:{p}" for h, p in self.servers]
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.connect_timeout = connect_timeout
        self.request_timeout_ms = int(request_timeout_ms)
        self.send_timeout = float(send_timeout)
        self.client_id = client_id
        self._topics: set[str] = set()
        self._topics_lock = threading.Lock()
        self._admin: KafkaAdminClient | None = None
        self._producer: KafkaProducer | None = None
        check_reachable(self.servers, connect_timeout, self.url)
        boot_ms = int(max(connect_timeout, 1.0) * 1000)
        try:
            self._admin = KafkaAdminClient(
                **_client_config(
                    KafkaAdminClient,
                    bootstrap_servers=self.bootstrap,
                    client_id=f"{client_id}-admin",
                    request_timeout_ms=self.request_timeout_ms,
                    bootstrap_timeout_ms=boot_ms,
                    api_version_auto_timeout_ms=boot_ms,
                )
            )
            self._producer = KafkaProducer(
                **_client_config(
                    KafkaProducer,
                    bootstrap_servers=self.bootstrap,
                    client_id=client_id,
                    acks="all",
                    linger_ms=0,
                    request_timeout_ms=self.request_timeout_ms,
                    max_block_ms=int(self.send_timeout * 1000),
                    delivery_timeout_ms=int(self.send_timeout * 1000) + self.request_timeout_ms,
                    bootstrap_timeout_ms=boot_ms,
                    api_version_auto_timeout_ms=boot_ms,
                )
            )
        except kerrors.KafkaError as exc:
            self._close()
            raise UnavailableError(f"kafka broker unreachable at {self.url}: {exc}") from exc

    def consumer_config(self) -> dict[str, Any]:
        boot_ms = int(max(self.connect_timeout, 1.0) * 1000)
        return {
            "bootstrap_servers": self.bootstrap,
            "bootstrap_timeout_ms": boot_ms,
            "api_version_auto_timeout_ms": boot_ms,
        }

    def unavailable(self, exc: Exception, what: str) -> UnavailableError:
        return UnavailableError(f"kafka at {self.url}: {what} failed: {exc}")

    def ensure_topics(self, topics: tuple[str, ...] | list[str]) -> None:
        """Create missing topics with ``partitions`` partitions (idempotent, cached)."""
        with self._topics_lock:
            for topic in topics:
                if topic in self._topics:
                    continue
                try:
                    assert self._admin is not None
                    self._admin.create_topics(
                        [NewTopic(topic, self.partitions, self.replication_factor)],
                        timeout_ms=self.request_timeout_ms,
                    )
                except kerrors.TopicAlreadyExistsError:
                    pass
                except kerrors.InvalidTopicError as exc:
                    raise InvalidInputError("topic", f"{topic!r}: {exc}") from exc
                except kerrors.KafkaError as exc:
                    raise self.unavailable(exc, f"creating topic {topic!r}") from exc
                self._topics.add(topic)

    def _publish(self, topic: str, key: str | None, value: bytes, headers: dict[str, str]) -> None:
        self.ensure_topics([topic])
        assert self._producer is not None
        try:
            future = self._producer.send(
                topic,
                key=key.encode() if key is not None else None,
                value=value,
                headers=[(k, v.encode()) for k, v in headers.items()],
            )
            future.get(timeout=self.send_timeout)
        except kerrors.KafkaError as exc:
            raise self.unavailable(exc, f"publish to {topic!r}") from exc

    def _subscribe(
        self, topics: tuple[str, ...], group: str, consumer: str, **opts: Any
    ) -> KafkaSubscription:
        self.ensure_topics(topics)
        return KafkaSubscription(self, topics, group, consumer, **opts)

    def _close(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=self.send_timeout)
            except Exception:  # pragma: no cover - best effort
                log.debug("closing kafka producer failed", exc_info=True)
        if self._admin is not None:
            try:
                self._admin.close()
            except Exception:  # pragma: no cover - best effort
                log.debug("closing kafka admin failed", exc_info=True)


class _Listener(_ListenerBase):  # type: ignore[misc, valid-type]
    """Commits acknowledged offsets of revoked partitions before they move."""

    def __init__(self, sub: KafkaSubscription) -> None:
        self.sub = sub

    if _ASYNC_LISTENER:

        async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
            offsets = self.sub._revoke(revoked)
            if offsets:
                try:
                    await self.sub._consumer.commit_async(offsets)
                except kerrors.KafkaError as exc:
                    log.warning("%r: commit on revoke failed: %s", self.sub, exc)

        async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
            self.sub._assign(assigned)

    else:  # pragma: no cover - kafka-python 2.x

        def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
            offsets = self.sub._revoke(revoked)
            if offsets:
                try:
                    self.sub._consumer.commit(offsets)
                except kerrors.KafkaError as exc:
                    log.warning("%r: commit on revoke failed: %s", self.sub, exc)

        def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
            self.sub._assign(assigned)


class KafkaSubscription(Subscription):
    """Options: ``ack_timeout`` (seconds a member may go without polling before the group
    takes its partitions; sets ``max_poll_interval_ms``, default 300), ``session_timeout_ms``
    (crash detection, default 10000), ``heartbeat_interval_ms`` (default 3000),
    ``max_poll_interval_ms`` (overrides ``ack_timeout``), ``auto_offset_reset`` (where a new
    group starts, default ``earliest``), ``fetch_max_wait_ms`` (default 100)."""

    def __init__(
        self,
        bus: KafkaBus,
        topics: tuple[str, ...],
        group: str,
        consumer: str,
        *,
        ack_timeout: float = DEFAULT_ACK_TIMEOUT,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 3_000,
        max_poll_interval_ms: int | None = None,
        auto_offset_reset: str = "earliest",
        fetch_max_wait_ms: int = 100,
    ) -> None:
        if ack_timeout <= 0:
            raise InvalidInputError("ack_timeout", "must be positive")
        super().__init__(bus, topics, group, consumer)
        self._bus = bus
        self._lock = threading.Lock()
        self._parts: dict[TopicPartition, _Partition] = {}
        self._epoch = 0
        self._assignment: frozenset[tuple[str, int]] = frozenset()
        poll_ms = max_poll_interval_ms or int(ack_timeout * 1000)
        request_ms = max(bus.request_timeout_ms, fetch_max_wait_ms + 1000)
        common = bus.consumer_config()
        try:
            self._consumer = KafkaConsumer(
                **_client_config(
                    KafkaConsumer,
                    group_id=group,
                    client_id=consumer,
                    enable_auto_commit=False,
                    auto_offset_reset=auto_offset_reset,
                    session_timeout_ms=session_timeout_ms,
                    heartbeat_interval_ms=heartbeat_interval_ms,
                    max_poll_interval_ms=poll_ms,
                    request_timeout_ms=request_ms,
                    fetch_max_wait_ms=fetch_max_wait_ms,
                    **common,
                )
            )
            # Never subscribes: it only commits and reads the delivered-up-to marks.
            self._marks = KafkaConsumer(
                **_client_config(
                    KafkaConsumer,
                    group_id=group + MARKS_SUFFIX,
                    client_id=f"{consumer}-marks",
                    enable_auto_commit=False,
                    request_timeout_ms=request_ms,
                    **common,
                )
            )
            self._consumer.subscribe(list(topics), listener=_Listener(self))
        except kerrors.KafkaError as exc:
            raise bus.unavailable(exc, f"joining group {group!r}") from exc

    # -- rebalance callbacks (client IO thread) -------------------------------------------
    def _assign(self, assigned: set[TopicPartition]) -> None:
        with self._lock:
            self._epoch += 1
            for tp in assigned:
                if tp not in self._parts:
                    self._parts[tp] = _Partition(epoch=self._epoch)
            self._assignment = frozenset((tp.topic, tp.partition) for tp in self._parts)

    def _revoke(self, revoked: set[TopicPartition]) -> dict[TopicPartition, OffsetAndMetadata]:
        with self._lock:
            offsets = self._advance(revoked)
            for tp in revoked:
                self._parts.pop(tp, None)
            self._assignment = frozenset((tp.topic, tp.partition) for tp in self._parts)
        return offsets

    def _advance(self, tps: Any = None) -> dict[TopicPartition, OffsetAndMetadata]:
        """Offsets to commit: the highest contiguous acknowledged offset + 1 (lock held)."""
        offsets = {}
        for tp in list(tps if tps is not None else self._parts):
            st = self._parts.get(tp)
            if st is None or st.next_commit is None:
                continue
            while st.next_commit in st.acked:
                st.acked.discard(st.next_commit)
                st.next_commit += 1
            if st.next_commit != st.committed_sent:
                offsets[tp] = OffsetAndMetadata(st.next_commit, "", -1)
                st.committed_sent = st.next_commit
        return offsets

    def _commit_acked(self) -> None:
        with self._lock:
            offsets = self._advance()
        if not offsets:
            return
        try:
            self._consumer.commit(offsets)
        except kerrors.KafkaError as exc:  # e.g. rebalanced meanwhile: redelivered later
            log.warning("%r: offset commit failed (messages may be redelivered): %s", self, exc)
            with self._lock:  # try again at the next poll if we still own the partition
                for tp, committed in offsets.items():
                    st = self._parts.get(tp)
                    if st is not None and st.committed_sent == committed.offset:
                        st.committed_sent = None

    # -- consuming --------------------------------------------------------------------------
    def poll(self, timeout: float = 1.0, max_messages: int = 100) -> list[Message]:
        self._check_open()
        if max_messages < 1:
            raise InvalidInputError("max_messages", "must be at least 1")
        self._commit_acked()
        try:
            batches = self._consumer.poll(
                timeout_ms=int(max(0.0, timeout) * 1000), max_records=max_messages
            )
        except (kerrors.KafkaConnectionError, kerrors.KafkaTimeoutError) as exc:
            raise self._bus.unavailable(exc, f"poll of group {self.group!r}") from exc
        if not batches:
            return []
        # Marks of partitions fetched for the first time since they were assigned.
        with self._lock:
            fresh = [
                tp for tp in batches if self._parts.get(tp) is None or self._parts[tp].mark is None
            ]
        marks = {tp: self._read_mark(tp) for tp in fresh}
        out: list[Message] = []
        new_marks: dict[TopicPartition, OffsetAndMetadata] = {}
        with self._lock:
            for tp, records in batches.items():
                st = self._parts.get(tp)
                if st is None:  # assigned without a callback (should not happen)
                    st = self._parts[tp] = _Partition(epoch=self._epoch)
                if st.mark is None:
                    st.mark = marks.get(tp, 0)
                if st.next_commit is None and records:
                    st.next_commit = st.committed_sent = records[0].offset
                for rec in records:
                    out.append(self._message(tp, rec, st))
                top = records[-1].offset + 1 if records else 0
                if top > st.mark:
                    st.mark = top
                    new_marks[tp] = OffsetAndMetadata(top, "", -1)
            self._assignment = frozenset((tp.topic, tp.partition) for tp in self._parts)
        if new_marks:  # record what was handed out before the caller sees it
            try:
                self._marks.commit(new_marks)
            except kerrors.KafkaError as exc:
                log.warning("%r: recording delivery marks failed: %s", self, exc)
        return out

    def _read_mark(self, tp: TopicPartition) -> int:
        try:
            mark = self._marks.committed(tp)
        except kerrors.KafkaError as exc:
            log.warning("%r: reading delivery mark of %s failed: %s", self, tp, exc)
            return 0
        return int(mark) if mark is not None and mark >= 0 else 0

    def _message(self, tp: TopicPartition, rec: Any, st: _Partition) -> Message:
        headers = {
            k: (v.decode(errors="replace") if v is not None else "") for k, v in rec.headers or []
        }
        return Message(
            topic=tp.topic,
            key=rec.key.decode(errors="replace") if rec.key is not None else None,
            value=rec.value if rec.value is not None else b"",
            headers=headers,
            message_id=headers.get(H_MESSAGE_ID) or f"{tp.topic}-{tp.partition}-{rec.offset}",
            delivery_count=2 if st.mark is not None and rec.offset < st.mark else 1,
            receipt=_Receipt(id(self), tp, rec.offset, st.epoch),
        )

    def ack(self, message: Message) -> None:
        r = message.receipt
        if not isinstance(r, _Receipt) or r.sub != id(self):
            raise InvalidInputError("message", "was not delivered by this subscription")
        with self._lock:
            st = self._parts.get(r.tp)
            if st is None or st.epoch != r.epoch or st.next_commit is None:
                return  # partition moved on: its new owner processes the message again
            if r.offset >= st.next_commit:
                st.acked.add(r.offset)

    def assignment(self) -> frozenset[tuple[str, int]]:
        return frozenset() if self._closed else self._assignment

    def close(self) -> None:
        if self._closed:
            return
        try:
            self._commit_acked()
        finally:
            self._closed = True
            self._assignment = frozenset()
            for client in (self._consumer, self._marks):
                try:
                    client.close(autocommit=False)
                except Exception:  # pragma: no cover - best effort
                    log.debug("closing kafka consumer failed", exc_info=True)

    def kill(self) -> None:
        """Drop the connections without committing or leaving the group, as a crashed
        process would: the broker evicts the member after ``session_timeout_ms``."""
        if self._closed:
            return
        self._closed = True
        self._assignment = frozenset()
        try:  # kafka-python internals: stop heartbeating, then drop every connection
            self._consumer._coordinator._close_heartbeat()
            self._consumer._client.close()
        except AttributeError:  # pragma: no cover - other kafka-python versions
            log.warning("%r: cannot simulate a crash; leaving the group instead", self)
            self._consumer.close(autocommit=False)
        try:
            self._marks.close(autocommit=False)
        except kerrors.KafkaError:  # pragma: no cover - best effort
            log.debug("closing the delivery-marks consumer failed", exc_info=True)


__all__ = ["KafkaBus", "KafkaSubscription"]
