"""In-process event bus: the embedded default (``make run``, tests, backtests).

Model (a small Kafka in a dict):

* every topic has ``partitions`` append-only logs; a message goes to partition
  ``crc32(key) % partitions`` (round robin when the key is None), so one key stays in one
  partition and in order;
* each consumer group keeps, per partition, the lowest unacknowledged offset, a cursor and
  the messages it has handed out but not yet seen acknowledged (in flight);
* the partitions of a topic are dealt round robin to the group's members in join order. A
  partition moves to its new owner only once the old owner's in-flight messages there are
  acknowledged or released, so a key is never processed by two members at once;
* a member that neither polls nor acknowledges for ``ack_timeout`` seconds is silent: at the
  next poll of any member it is evicted, its in-flight messages are released and delivered
  again (``delivery_count`` + 1) to whoever owns their partitions after the rebalance. An
  evicted member that polls again simply rejoins;
* ``close`` releases at once; ``kill`` leaves the member to be evicted by the timeout;
* independent groups each see every message; a new group starts at the oldest retained
  message. A partition keeps messages until every group that has subscribed to the topic
  acknowledged them, and never more than ``retention`` messages.

Buses opened with the same ``memory://NAME`` url share one in-process broker; an empty url
gives a private broker.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field

from alphaloop.common.bus.base import H_MESSAGE_ID, Bus, Message, Subscription
from alphaloop.common.clock import Clock
from alphaloop.common.errors import InvalidInputError

DEFAULT_PARTITIONS = 8
DEFAULT_ACK_TIMEOUT = 30.0
DEFAULT_RETENTION = 100_000
_TRIM_EVERY = 1024  # trim a partition log at most once per this many appends


@dataclass(slots=True)
class _Record:
    key: str | None
    value: bytes
    headers: dict[str, str]


@dataclass(slots=True)
class _Log:
    base: int = 0  # offset of records[0]
    records: list[_Record] = field(default_factory=list)
    appended_since_trim: int = 0

    @property
    def end(self) -> int:
        return self.base + len(self.records)


@dataclass(slots=True)
class _InFlight:
    member: str
    token: int


@dataclass(slots=True)
class _Progress:
    """One group's progress through one partition."""

    committed: int  # lowest offset not yet acknowledged
    cursor: int  # next offset to hand out
    acked: set[int] = field(default_factory=set)  # acknowledged offsets >= committed
    inflight: dict[int, _InFlight] = field(default_factory=dict)
    counts: dict[int, int] = field(default_factory=dict)  # deliveries of unacked offsets


@dataclass(slots=True)
class _Member:
    id: str
    topics: tuple[str, ...]
    ack_timeout: float
    seq: int
    last_seen: float


@dataclass(slots=True)
class _Group:
    name: str
    members: dict[str, _Member] = field(default_factory=dict)
    progress: dict[tuple[str, int], _Progress] = field(default_factory=dict)
    owner: dict[tuple[str, int], str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Receipt:
    sub_id: str
    group: str
    topic: str
    partition: int
    offset: int
    token: int


class MemoryBroker:
    """The shared state of in-process buses. All methods hold one lock."""

    def __init__(self, partitions: int = DEFAULT_PARTITIONS, retention: int = DEFAULT_RETENTION):
        if partitions < 1:
            raise InvalidInputError("partitions", "must be at least 1")
        if retention < 1:
            raise InvalidInputError("retention", "must be at least 1")
        self.partitions = partitions
        self.retention = retention
        self._cond = threading.Condition(threading.RLock())
        self._topics: dict[str, list[_Log]] = {}
        self._groups: dict[str, _Group] = {}
        self._seq = itertools.count()
        self._tokens = itertools.count(1)
        self._round_robin = itertools.count()

    # -- topics ---------------------------------------------------------------------------
    def _logs(self, topic: str) -> list[_Log]:
        logs = self._topics.get(topic)
        if logs is None:
            logs = self._topics[topic] = [_Log() for _ in range(self.partitions)]
        return logs

    def partition_for(self, key: str | None, n: int) -> int:
        if key is None:
            return next(self._round_robin) % n
        return zlib.crc32(key.encode()) % n

    def append(self, topic: str, key: str | None, value: bytes, headers: dict[str, str]) -> None:
        with self._cond:
            logs = self._logs(topic)
            p = self.partition_for(key, len(logs))
            log_ = logs[p]
            log_.records.append(_Record(key, value, headers))
            log_.appended_since_trim += 1
            if log_.appended_since_trim >= _TRIM_EVERY or len(log_.records) > self.retention:
                self._trim(topic, p)
            self._cond.notify_all()

    def _trim(self, topic: str, p: int) -> None:
        log_ = self._topics[topic][p]
        log_.appended_since_trim = 0
        committed = [
            g.progress[(topic, p)].committed
            for g in self._groups.values()
            if (topic, p) in g.progress
        ]
        cutoff = min(committed) if committed else log_.base
        cutoff = max(cutoff, log_.end - self.retention)
        if cutoff <= log_.base:
            return
        del log_.records[: cutoff - log_.base]
        log_.base = cutoff
        for g in self._groups.values():  # groups the retention cap overtook skip ahead
            pr = g.progress.get((topic, p))
            if pr is None or pr.committed >= cutoff:
                continue
            pr.committed = cutoff
            pr.cursor = max(pr.cursor, cutoff)
            pr.acked = {o for o in pr.acked if o >= cutoff}
            pr.counts = {o: c for o, c in pr.counts.items() if o >= cutoff}
            pr.inflight = {o: f for o, f in pr.inflight.items() if o >= cutoff}

    # -- membership -----------------------------------------------------------------------
    def join(
        self, group: str, member_id: str, topics: tuple[str, ...], ack_timeout: float, now: float
    ) -> None:
        with self._cond:
            g = self._groups.setdefault(group, _Group(group))
            for t in topics:
                for p, log_ in enumerate(self._logs(t)):
                    g.progress.setdefault((t, p), _Progress(log_.base, log_.base))
            g.members[member_id] = _Member(member_id, topics, ack_timeout, next(self._seq), now)
            self._rebalance(g)
            self._cond.notify_all()

    def leave(self, group: str, member_id: str) -> None:
        with self._cond:
            g = self._groups.get(group)
            if g is not None and member_id in g.members:
                self._evict(g, member_id)
                self._cond.notify_all()

    def _evict(self, g: _Group, member_id: str) -> None:
        g.members.pop(member_id, None)
        for pr in g.progress.values():
            mine = [o for o, f in pr.inflight.items() if f.member == member_id]
            for o in mine:
                del pr.inflight[o]
            if mine:
                pr.cursor = min(pr.cursor, min(mine))
        self._rebalance(g)

    def _rebalance(self, g: _Group) -> None:
        g.owner.clear()
        by_topic: dict[str, list[_Member]] = {}
        for m in sorted(g.members.values(), key=lambda m: m.seq):
            for t in m.topics:
                by_topic.setdefault(t, []).append(m)
        for t, members in by_topic.items():
            for p in range(len(self._logs(t))):
                g.owner[(t, p)] = members[p % len(members)].id

    def _expire(self, g: _Group, now: float) -> None:
        silent = [m.id for m in g.members.values() if now - m.last_seen > m.ack_timeout]
        for member_id in silent:
            self._evict(g, member_id)

    def assignment(self, group: str, member_id: str) -> frozenset[tuple[str, int]]:
        with self._cond:
            g = self._groups.get(group)
            if g is None:
                return frozenset()
            return frozenset(tp for tp, owner in g.owner.items() if owner == member_id)

    # -- delivery -------------------------------------------------------------------------
    def poll(self, sub: MemorySubscription, timeout: float, max_messages: int) -> list[Message]:
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cond:
            while True:
                now = sub.clock.monotonic()
                g = self._groups[sub.group]
                self._expire(g, now)
                member = g.members.get(sub.member_id)
                if member is None:  # evicted while silent: come back as a new member
                    self.join(sub.group, sub.member_id, sub.topics, sub.ack_timeout, now)
                    member = g.members[sub.member_id]
                member.last_seen = now
                out = self._take(g, sub, max_messages)
                remaining = deadline - time.monotonic()
                if out or remaining <= 0:
                    return out
                # Wake at least every 0.25 s to notice silent members.
                self._cond.wait(min(remaining, 0.25))

    def _take(self, g: _Group, sub: MemorySubscription, max_messages: int) -> list[Message]:
        out: list[Message] = []
        mine = sorted(tp for tp, owner in g.owner.items() if owner == sub.member_id)
        if not mine:
            return out
        start = sub.next_start % len(mine)
        sub.next_start += 1
        for tp in mine[start:] + mine[:start]:
            pr = g.progress[tp]
            if any(f.member != sub.member_id for f in pr.inflight.values()):
                continue  # still draining from its previous owner
            log_ = self._topics[tp[0]][tp[1]]
            pr.cursor = max(pr.cursor, log_.base)
            while pr.cursor < log_.end and len(out) < max_messages:
                o = pr.cursor
                pr.cursor += 1
                if o < pr.committed or o in pr.acked or o in pr.inflight:
                    continue
                rec = log_.records[o - log_.base]
                count = pr.counts.get(o, 0) + 1
                pr.counts[o] = count
                token = next(self._tokens)
                pr.inflight[o] = _InFlight(sub.member_id, token)
                out.append(
                    Message(
                        topic=tp[0],
                        key=rec.key,
                        value=rec.value,
                        headers=dict(rec.headers),
                        message_id=rec.headers.get(H_MESSAGE_ID) or f"{tp[0]}-{tp[1]}-{o}",
                        delivery_count=count,
                        receipt=_Receipt(sub.member_id, g.name, tp[0], tp[1], o, token),
                    )
                )
            if len(out) >= max_messages:
                break
        return out

    def ack(self, sub: MemorySubscription, r: _Receipt) -> None:
        with self._cond:
            g = self._groups.get(r.group)
            if g is None:
                return
            member = g.members.get(sub.member_id)
            if member is not None:
                member.last_seen = sub.clock.monotonic()
            pr = g.progress.get((r.topic, r.partition))
            if pr is None:
                return
            f = pr.inflight.get(r.offset)
            if f is None or f.token != r.token:
                return  # stale: redelivered to someone else, who will ack it
            del pr.inflight[r.offset]
            pr.counts.pop(r.offset, None)
            pr.acked.add(r.offset)
            while pr.committed in pr.acked:
                pr.acked.discard(pr.committed)
                pr.committed += 1
            self._cond.notify_all()


_named_brokers: dict[str, MemoryBroker] = {}
_named_lock = threading.Lock()


def _broker_for(url: str, partitions: int, retention: int) -> MemoryBroker:
    if not url:
        return MemoryBroker(partitions, retention)
    if not url.startswith("memory://"):
        raise InvalidInputError("url", f"memory bus url must be '' or memory://NAME, got {url!r}")
    name = url[len("memory://") :]
    with _named_lock:
        broker = _named_brokers.get(name)
        if broker is None:
            broker = _named_brokers[name] = MemoryBroker(partitions, retention)
        return broker


class MemoryBus(Bus):
    """In-process bus. ``url``: '' for a private broker, ``memory://NAME`` to share one.

    Options: ``partitions`` (per topic, default 8), ``retention`` (messages kept per
    partition at most, default 100000), ``clock`` (for ``ack_timeout`` bookkeeping).
    """

    backend = "memory"

    def __init__(
        self,
        url: str = "",
        *,
        partitions: int = DEFAULT_PARTITIONS,
        retention: int = DEFAULT_RETENTION,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(clock=clock)
        self.url = url
        self.broker = _broker_for(url, partitions, retention)

    def _publish(self, topic: str, key: str | None, value: bytes, headers: dict[str, str]) -> None:
        self.broker.append(topic, key, value, headers)

    def _subscribe(
        self,
        topics: tuple[str, ...],
        group: str,
        consumer: str,
        *,
        ack_timeout: float = DEFAULT_ACK_TIMEOUT,
    ) -> MemorySubscription:
        return MemorySubscription(self, topics, group, consumer, ack_timeout=ack_timeout)

    def _close(self) -> None:
        pass


class MemorySubscription(Subscription):
    """Options: ``ack_timeout`` (seconds of silence, no poll and no ack, after which this
    member is evicted and its unacknowledged messages go to other members; default 30)."""

    def __init__(
        self,
        bus: MemoryBus,
        topics: tuple[str, ...],
        group: str,
        consumer: str,
        *,
        ack_timeout: float = DEFAULT_ACK_TIMEOUT,
    ) -> None:
        if ack_timeout <= 0:
            raise InvalidInputError("ack_timeout", "must be positive")
        super().__init__(bus, topics, group, consumer)
        self.ack_timeout = float(ack_timeout)
        self.clock = bus.clock
        self.member_id = f"{consumer}#{uuid.uuid4().hex[:8]}"
        self.next_start = 0
        self._broker = bus.broker
        self._broker.join(group, self.member_id, topics, self.ack_timeout, self.clock.monotonic())

    def poll(self, timeout: float = 1.0, max_messages: int = 100) -> list[Message]:
        self._check_open()
        if max_messages < 1:
            raise InvalidInputError("max_messages", "must be at least 1")
        return self._broker.poll(self, timeout, max_messages)

    def ack(self, message: Message) -> None:
        r = message.receipt
        if not isinstance(r, _Receipt) or r.sub_id != self.member_id:
            raise InvalidInputError("message", "was not delivered by this subscription")
        if self._closed:
            return
        self._broker.ack(self, r)

    def assignment(self) -> frozenset[tuple[str, int]]:
        if self._closed:
            return frozenset()
        return self._broker.assignment(self.group, self.member_id)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._broker.leave(self.group, self.member_id)

    def kill(self) -> None:
        """Stop without leaving: the member stays registered, holding its unacknowledged
        messages, until the group notices ``ack_timeout`` seconds of silence."""
        self._closed = True
