"""Redis Streams backend.

Layout (all keys live in the one Redis database of the url):

* a topic is sharded into N streams ``<topic>:<shard>`` (``XADD ... MAXLEN ~ maxlen``); a
  message goes to shard ``crc32(key) % N`` (random when the key is None). N is fixed per
  topic by the first client that touches it and stored at ``alphaloop.bus:partitions:<topic>``,
  so every client agrees whatever its own default;
* every consumer group is a stream consumer group on each shard (``XGROUP CREATE ... 0``: a
  new group starts at the oldest retained entry).

Per-key order with load sharing: shards are dealt to group members, and a member reads a
shard only while it holds the shard's lease.

* Members heartbeat into ``alphaloop.bus:members:<group>:<topic>``, a sorted set scored by
  expiry time (Redis server clock). A member that has not heartbeated for ``ack_timeout``
  seconds drops out. Heartbeats happen on ``poll`` and ``ack``, at most every
  ``min(ack_timeout / 3, 1 s)``.
* Sorting the live members by name, shard ``s`` belongs to member ``s % len(members)``. The
  owner takes the lease ``alphaloop.bus:lease:<group>:<topic>:<shard>`` (``SET NX PX
  ack_timeout``) and renews it with each heartbeat. A member that should give a shard up
  keeps its lease until it has acknowledged everything it read from that shard, then
  deletes it; the new owner takes it on its next heartbeat. So at any moment at most one
  member reads a shard: a key's messages stay with one consumer at a time.
* Before reading new entries (``XREADGROUP >``) from a shard, the lease holder claims the
  entries other consumers left pending for at least ``ack_timeout`` (``XAUTOCLAIM``,
  delivery counts from ``XPENDING``), and reads nothing new while another consumer still
  has younger pending entries there, so redelivered messages come before newer ones.

A consumer dies when it stops polling and acknowledging: its lease and membership expire
after ``ack_timeout`` and the next owner claims its pending entries (``delivery_count`` from
the stream's pending list, so it counts toward ``run``'s ``max_attempts``). ``close`` marks
its pending entries idle (``XCLAIM ... IDLE ... JUSTID``, which does not count a delivery)
and releases its leases, so the hand-over is immediate. Consumer names must be unique
among live members of a group (the default name is).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from alphaloop.common.bus.base import H_MESSAGE_ID, Bus, Message, Subscription
from alphaloop.common.clock import Clock
from alphaloop.common.errors import InvalidInputError, UnavailableError

log = logging.getLogger(__name__)

DEFAULT_URL = "redis://127.0.0.1:6379/0"
NAMESPACE = "alphaloop.bus"
DEFAULT_PARTITIONS = 8
DEFAULT_ACK_TIMEOUT = 30.0
DEFAULT_MAXLEN = 1_000_000

# KEYS[1] = members zset, KEYS[2..] = lease keys of shards 0..N-1.
# ARGV = member, ttl_ms, mask ('1' at position s: nothing unacknowledged from shard s).
# Returns shard s when held and owned, -1-s when held only to drain it.
_REBALANCE_LUA = """
local me = ARGV[1]
local ttl = tonumber(ARGV[2])
local mask = ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + ttl, me)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], math.max(ttl * 10, 600000))
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
table.sort(members)
local rank = 0
for i, m in ipairs(members) do
  if m == me then rank = i - 1 end
end
local n = #members
local held = {}
for s = 0, #KEYS - 2 do
  local key = KEYS[s + 2]
  local cur = redis.call('GET', key)
  if s % n == rank then
    if not cur then
      redis.call('SET', key, me, 'PX', ttl)
      table.insert(held, s)
    elseif cur == me then
      redis.call('PEXPIRE', key, ttl)
      table.insert(held, s)
    end
  elseif cur == me then
    if string.sub(mask, s + 1, s + 1) == '1' then
      redis.call('DEL', key)
    else
      redis.call('PEXPIRE', key, ttl)
      table.insert(held, -1 - s)
    end
  end
end
return held
"""

# KEYS[1] = members zset, KEYS[2..] = lease keys. ARGV[1] = member.
_LEAVE_LUA = """
redis.call('ZREM', KEYS[1], ARGV[1])
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return 1
"""


def safe_url(url: str) -> str:
    """``url`` without its password, for error messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class _Receipt:
    sub: int  # id() of the subscription that delivered it
    stream: str
    entry_id: str


class RedisBus(Bus):
    """Redis Streams bus. ``url`` like ``redis://[:password@]host:6379/0``.

    Options: ``partitions`` (shards per new topic, default 8), ``maxlen`` (approximate
    entries kept per shard, default 1,000,000), ``connect_timeout`` and ``socket_timeout``
    (seconds, default 5 and 10), ``clock``. Raises ``UnavailableError`` naming the url when
    Redis cannot be reached.
    """

    backend = "redis"

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        partitions: int = DEFAULT_PARTITIONS,
        maxlen: int = DEFAULT_MAXLEN,
        connect_timeout: float = 5.0,
        socket_timeout: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(clock=clock)
        if partitions < 1:
            raise InvalidInputError("partitions", "must be at least 1")
        self.url = url or DEFAULT_URL
        self.safe_url = safe_url(self.url)
        self.partitions = partitions
        self.maxlen = maxlen
        self.socket_timeout = socket_timeout
        self._partitions_cache: dict[str, int] = {}
        try:
            self.redis = redis.Redis.from_url(
                self.url,
                socket_connect_timeout=connect_timeout,
                socket_timeout=socket_timeout,
            )
            self.redis.ping()
        except (RedisError, OSError) as exc:
            raise UnavailableError(f"redis unreachable at {self.safe_url}: {exc}") from exc
        except ValueError as exc:
            raise InvalidInputError("url", f"{self.safe_url}: {exc}") from exc
        self.rebalance_script = self.redis.register_script(_REBALANCE_LUA)
        self.leave_script = self.redis.register_script(_LEAVE_LUA)

    def unavailable(self, exc: Exception, what: str) -> UnavailableError:
        return UnavailableError(f"redis at {self.safe_url}: {what} failed: {exc}")

    def partitions_of(self, topic: str) -> int:
        n = self._partitions_cache.get(topic)
        if n is None:
            key = f"{NAMESPACE}:partitions:{topic}"
            try:
                pipe = self.redis.pipeline(transaction=False)
                pipe.set(key, self.partitions, nx=True)
                pipe.get(key)
                n = int(pipe.execute()[1])
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                raise self.unavailable(exc, f"reading partitions of {topic!r}") from exc
            self._partitions_cache[topic] = n
        return n

    def _publish(self, topic: str, key: str | None, value: bytes, headers: dict[str, str]) -> None:
        n = self.partitions_of(topic)
        shard = zlib.crc32(key.encode()) % n if key is not None else random.randrange(n)
        fields: dict[bytes, bytes] = {b"v": value, b"h": json.dumps(headers).encode()}
        if key is not None:
            fields[b"k"] = key.encode()
        try:
            self.redis.xadd(f"{topic}:{shard}", fields, maxlen=self.maxlen, approximate=True)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise self.unavailable(exc, f"publish to {topic!r}") from exc

    def _subscribe(
        self,
        topics: tuple[str, ...],
        group: str,
        consumer: str,
        *,
        ack_timeout: float = DEFAULT_ACK_TIMEOUT,
    ) -> RedisSubscription:
        return RedisSubscription(self, topics, group, consumer, ack_timeout=ack_timeout)

    def _close(self) -> None:
        try:
            self.redis.close()
        except Exception:  # pragma: no cover - best effort
            log.debug("closing redis client failed", exc_info=True)


class RedisSubscription(Subscription):
    """Options: ``ack_timeout`` (seconds; default 30): how long a silent member keeps its
    shards, and the min-idle time after which its pending entries are claimed by others.
    Every member of a group should use the same value."""

    def __init__(
        self,
        bus: RedisBus,
        topics: tuple[str, ...],
        group: str,
        consumer: str,
        *,
        ack_timeout: float = DEFAULT_ACK_TIMEOUT,
    ) -> None:
        if ack_timeout <= 0:
            raise InvalidInputError("ack_timeout", "must be positive")
        super().__init__(bus, topics, group, consumer)
        self._bus = bus
        self._r = bus.redis
        self.ack_timeout = float(ack_timeout)
        self._ttl_ms = max(1, int(ack_timeout * 1000))
        self._interval = max(0.05, min(ack_timeout / 3, 1.0))
        self._max_block = max(0.05, min(1.0, bus.socket_timeout / 2))
        self._me = consumer
        self._lock = threading.RLock()
        # Held by poll for a whole heartbeat-claim-read cycle, so a heartbeat from an ack on
        # another thread never gives a shard away while poll is reading it.
        self._io_lock = threading.RLock()
        self._next_maint = 0.0
        self._shards = {t: bus.partitions_of(t) for t in topics}
        self._inflight: dict[str, dict[str, None]] = {}  # stream -> ordered entry ids
        self._buffer: deque[Message] = deque()
        self._owned: frozenset[tuple[str, int]] = frozenset()
        self._draining: frozenset[tuple[str, int]] = frozenset()
        try:
            pipe = self._r.pipeline(transaction=False)
            for t, n in self._shards.items():
                for s in range(n):
                    pipe.xgroup_create(f"{t}:{s}", group, id="0", mkstream=True)
            for res in pipe.execute(raise_on_error=False):
                if isinstance(res, Exception) and "BUSYGROUP" not in str(res):
                    raise res
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise bus.unavailable(exc, f"creating group {group!r}") from exc

    # -- keys -------------------------------------------------------------------------------
    def _members_key(self, topic: str) -> str:
        return f"{NAMESPACE}:members:{self.group}:{topic}"

    def _lease_keys(self, topic: str) -> list[str]:
        return [f"{NAMESPACE}:lease:{self.group}:{topic}:{s}" for s in range(self._shards[topic])]

    # -- membership and leases ----------------------------------------------------------------
    def _maintain(self) -> None:
        """Heartbeat, take and renew leases, give up shards that moved (when drained)."""
        if time.monotonic() < self._next_maint:
            return
        if not self._io_lock.acquire(blocking=False):
            return  # poll is mid-cycle on another thread and heartbeats itself
        try:
            with self._lock:
                masks = {
                    t: "".join("0" if self._inflight.get(f"{t}:{s}") else "1" for s in range(n))
                    for t, n in self._shards.items()
                }
            pipe = self._r.pipeline(transaction=False)
            for t in self._shards:
                self._bus.rebalance_script(
                    keys=[self._members_key(t), *self._lease_keys(t)],
                    args=[self._me, self._ttl_ms, masks[t]],
                    client=pipe,
                )
            results = pipe.execute()
            owned: set[tuple[str, int]] = set()
            draining: set[tuple[str, int]] = set()
            for t, held in zip(self._shards, results):
                for s in held:
                    s = int(s)
                    if s >= 0:
                        owned.add((t, s))
                    else:
                        draining.add((t, -1 - s))
            self._owned, self._draining = frozenset(owned), frozenset(draining)
            self._next_maint = time.monotonic() + self._interval
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise self._bus.unavailable(exc, f"heartbeat of group {self.group!r}") from exc
        finally:
            self._io_lock.release()

    # -- delivery -------------------------------------------------------------------------
    def _message(
        self, stream: str, entry_id: str, fields: dict[bytes, bytes], count: int
    ) -> Message:
        headers = json.loads(fields.get(b"h", b"{}"))
        key = fields.get(b"k")
        return Message(
            topic=stream.rsplit(":", 1)[0],
            key=key.decode() if key is not None else None,
            value=fields.get(b"v", b""),
            headers=headers,
            message_id=headers.get(H_MESSAGE_ID) or f"{stream}-{entry_id}",
            delivery_count=count,
            receipt=_Receipt(id(self), stream, entry_id),
        )

    def _claim(self, stream: str, count: int) -> list[Message]:
        """Claim entries pending for at least ack_timeout (others', or orphans of ours)."""
        with self._lock:
            local = set(self._inflight.get(stream, {}))
        claimed: list[tuple[str, dict[bytes, bytes]]] = []
        start = "0-0"
        while len(claimed) < count:
            res = self._r.xautoclaim(
                stream, self.group, self._me, self._ttl_ms, start_id=start, count=count
            )
            start = _s(res[0])
            for entry_id, fields in res[1]:
                entry_id = _s(entry_id)
                if fields and entry_id not in local:
                    claimed.append((entry_id, fields))
            if start == "0-0":
                break
        if not claimed:
            return []
        details = self._r.xpending_range(
            stream,
            self.group,
            claimed[0][0],
            claimed[-1][0],
            len(claimed) + len(local) + 16,
            consumername=self._me,
        )
        counts = {_s(d["message_id"]): int(d["times_delivered"]) for d in details}
        out = []
        with self._lock:
            ids = self._inflight.setdefault(stream, {})
            for entry_id, fields in claimed:
                ids[entry_id] = None
                out.append(self._message(stream, entry_id, fields, max(2, counts.get(entry_id, 2))))
        return out

    def _readable(self, max_messages: int) -> list[str]:
        """Owned shards that may be read with '>' (after claiming abandoned entries)."""
        streams = [f"{t}:{s}" for t, s in sorted(self._owned)]
        if not streams:
            return []
        pipe = self._r.pipeline(transaction=False)
        for stream in streams:
            pipe.xpending(stream, self.group)
        summaries = pipe.execute()
        readable = []
        for stream, summary in zip(streams, summaries):
            if summary["pending"] and self._abandoned(stream, summary):
                self._buffer.extend(self._claim(stream, max_messages))
                if self._abandoned(stream, self._r.xpending(stream, self.group)):
                    continue  # abandoned entries not idle long enough yet: wait, keep order
            readable.append(stream)
        return readable

    def _abandoned(self, stream: str, summary: dict[str, Any]) -> bool:
        """Whether ``stream`` has pending entries this subscription is not processing:
        another consumer's, or ours from an earlier incarnation with the same name."""
        me = self._me.encode()
        mine = sum(int(c["pending"]) for c in summary["consumers"] if c["name"] == me)
        with self._lock:
            local = len(self._inflight.get(stream, {}))
        return summary["pending"] > mine or mine > local

    def poll(self, timeout: float = 1.0, max_messages: int = 100) -> list[Message]:
        self._check_open()
        if max_messages < 1:
            raise InvalidInputError("max_messages", "must be at least 1")
        deadline = time.monotonic() + max(0.0, timeout)
        try:
            while True:
                if not self._buffer:
                    with self._io_lock:
                        self._maintain()
                        readable = self._readable(max_messages)
                        if not self._buffer:
                            self._read_new(readable, max_messages, deadline)
                if self._buffer:
                    n = min(max_messages, len(self._buffer))
                    return [self._buffer.popleft() for _ in range(n)]
                if time.monotonic() >= deadline:
                    return []
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise self._bus.unavailable(exc, f"poll of group {self.group!r}") from exc

    def _read_new(self, streams: list[str], max_messages: int, deadline: float) -> None:
        wait = min(
            deadline - time.monotonic(), self._next_maint - time.monotonic(), self._max_block
        )
        block_ms = int(max(0.0, wait) * 1000)
        if not streams:
            if block_ms > 0:
                time.sleep(block_ms / 1000)
            return
        # BLOCK 0 would mean forever: pass None for a non-blocking read.
        resp = self._r.xreadgroup(
            self.group,
            self._me,
            {s: ">" for s in streams},
            count=max_messages,
            block=block_ms or None,
        )
        if isinstance(resp, dict):  # RESP3
            resp = list(resp.items())
        with self._lock:
            for stream, entries in resp or []:
                stream = _s(stream)
                ids = self._inflight.setdefault(stream, {})
                for entry_id, fields in entries:
                    entry_id = _s(entry_id)
                    ids[entry_id] = None
                    self._buffer.append(self._message(stream, entry_id, fields or {}, 1))

    def ack(self, message: Message) -> None:
        r = message.receipt
        if not isinstance(r, _Receipt) or r.sub != id(self):
            raise InvalidInputError("message", "was not delivered by this subscription")
        with self._lock:
            if self._closed:
                return
            ids = self._inflight.get(r.stream)
            if ids is not None:
                ids.pop(r.entry_id, None)
        try:
            self._r.xack(r.stream, self.group, r.entry_id)
            self._maintain()  # a busy consumer that acks is alive: keep its leases
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise self._bus.unavailable(exc, f"ack on {r.stream!r}") from exc

    def assignment(self) -> frozenset[tuple[str, int]]:
        return frozenset() if self._closed else self._owned

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pending = {s: list(ids) for s, ids in self._inflight.items() if ids}
            self._inflight.clear()
            self._buffer.clear()
        try:
            pipe = self._r.pipeline(transaction=False)
            for stream, ids in pending.items():
                # Make them claimable now without counting a delivery (JUSTID).
                pipe.xclaim(
                    stream, self.group, self._me, 0, ids, idle=self._ttl_ms * 10, justid=True
                )
            for t in self._shards:
                self._bus.leave_script(
                    keys=[self._members_key(t), *self._lease_keys(t)],
                    args=[self._me],
                    client=pipe,
                )
            pipe.execute()
        except (RedisError, OSError):
            log.warning(
                "%r: leaving the group failed; others take over after ack_timeout",
                self,
                exc_info=True,
            )
        self._owned = self._draining = frozenset()

    def kill(self) -> None:
        """Stop at once: leases and membership stay in Redis until ``ack_timeout`` expires,
        then another member claims the pending entries."""
        with self._lock:
            self._closed = True
            self._inflight.clear()
            self._buffer.clear()
        self._owned = self._draining = frozenset()
