"""Realised outcomes of the served model's signals: the feed of the rolling accuracy that
staleness compares with the training accuracy (``alphaloop.models.staleness``).

A signal on symbol S at bar T with horizon h (``Signal.horizon_bars``: the model's
``labels.vertical_bars``) is resolved at the h-th bar of S after T. Its realised outcome is
``up = close[T + h] > close[T]`` (a flat horizon is "not up"), and the call was right when
``(p_up > 0.5) == up``, the rule of the training ``accuracy``.

Why the sign of the horizon return stands in for the training label: the model was trained on
triple-barrier labels (AFML ch. 3; ``y = label > 0``), where a profit-taking or stop-loss touch
before the vertical barrier sets the label, and only paths that touch neither are labelled by
the sign of the return at the vertical barrier. Recomputing those labels online would need the
barrier settings and the volatility estimate at T; the horizon sign needs two closes. A drift
monitor needs a level comparable with the training accuracy, not the label itself. If the
label and the horizon sign disagree on a fraction d of events, independently of whether the
call was right, a model with label accuracy a scores ``a - d * (2a - 1)`` on horizon signs:
the bias vanishes at a = 0.5 and is small near it. On the bundled data d is 0.26 with the
default barriers (1x/1x volatility, 10 bars) and 0.04-0.07 with 1.5x/1.5x and 5 bars, so a
0.55 model reads 2.6 points low and a 0.60 model 5.2 points (AGING, still served); STALE
(> 10 points) needs a > 0.69 under the default barriers. (Measured on the bundled data's
held-out window, first 150 symbols: the default model scores 53.0% on labels and 54.6% on
horizon signs.) Universe-relative labels (``labels.relative_to = "universe"``) are still
judged on the symbol's own close.

Bookkeeping (:class:`HorizonOutcomes`, pure): the newest ``history_bars`` closes of each symbol
are kept, keyed by (symbol, bar timestamp), so a redelivered bar (the bus delivers at least
once) is recognised and counted once, and a signal that arrives after its bars (the signals and
bars topics are not ordered against each other) is resolved from them. Bars of one symbol are
assumed to arrive in timestamp order, as the bus keeps one key's order; one bar interval per
bars topic, as the features stream assumes. At most ``max_pending`` signals wait for their
horizon; beyond that the oldest is dropped and counted.

The shell (:class:`OutcomeTracker`) reads both topics in its own consumer group. Signals and
bars are both keyed by symbol, and every backend deals the partitions of each topic to a
group's members alike (Kafka's default range assignor included), so with equal partition
counts replicas sharing the group hold the same symbols on both topics and each resolves the
signals of its symbols. Only signals of the version being
served count: when the champion changes, waiting signals are dropped, and
``ModelServer.record_outcome(..., version=)`` refuses an outcome of a version no longer served
(the staleness reset on a promotion is then clean). A CRITICAL model publishes no signals, so
its rolling accuracy stays where it is until a new champion is promoted.
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from prometheus_client import Counter

from alphaloop.common.bus import Bus, Message, Subscription
from alphaloop.common.bus.base import H_CONTENT_TYPE
from alphaloop.common.bus.consumer import GroupConsumer
from alphaloop.common.metrics import REGISTRY
from alphaloop.common.topics import Topic
from alphaloop.models.serving import ModelServer, timestamp_ns
from alphaloop.v1 import market_data_pb2, orders_pb2, signals_pb2

log = logging.getLogger(__name__)

OUTCOMES = Counter(
    "alphaloop_model_outcomes",
    "Realised signal outcomes recorded into the served model's rolling accuracy, by whether "
    "the call was right.",
    ("model", "call"),
    registry=REGISTRY,
)
OUTCOME_DROPS = Counter(
    "alphaloop_model_outcome_drops",
    "Signals and bars the outcome tracker did not score, by reason (pending_evicted, "
    "superseded, not_served, other_model, no_horizon, duplicate_signal, late_signal, "
    "duplicate_bar, late_bar, bad_bar).",
    ("model", "reason"),
    registry=REGISTRY,
)

_BATCH = market_data_pb2.BarBatch.DESCRIPTOR.full_name
_Key = tuple[str, str, int]  # (model version, symbol, signal bar timestamp in ns)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One resolved signal: ``up`` when the close ``horizon`` bars after the signal bar is
    above the close at the signal bar."""

    version: str
    symbol: str
    ts: int  # signal bar timestamp, ns since the epoch
    p_up: float
    entry_close: float
    exit_close: float

    @property
    def up(self) -> bool:
        return self.exit_close > self.entry_close

    @property
    def right(self) -> bool:
        return (self.p_up > 0.5) == self.up


@dataclass(slots=True)
class _Call:
    """A signal waiting for its horizon: its bar's close and the first ``horizon`` later bars."""

    version: str
    symbol: str
    ts: int
    p_up: float
    horizon: int
    entry_close: float | None = None
    later: list[tuple[int, float]] = field(default_factory=list)  # (ts, close), ascending

    def observe(self, ts: int, close: float) -> None:
        if ts == self.ts:
            self.entry_close = close
        elif ts > self.ts and (len(self.later) < self.horizon or ts < self.later[-1][0]):
            bisect.insort(self.later, (ts, close))
            del self.later[self.horizon:]

    def outcome(self) -> Outcome | None:
        if self.entry_close is None or len(self.later) < self.horizon:
            return None
        return Outcome(self.version, self.symbol, self.ts, self.p_up, self.entry_close,
                       self.later[self.horizon - 1][1])


class HorizonOutcomes:
    """Pending signals and recent closes; ``add_signal`` and ``add_bar`` return the outcomes
    they resolve. Thread-safe. Counts what it drops in ``alphaloop_model_outcome_drops``."""

    def __init__(self, model: str = "", *, max_pending: int = 20_000,
                 history_bars: int = 64) -> None:
        if max_pending < 1 or history_bars < 1:
            raise ValueError("max_pending and history_bars must be at least 1")
        self.model = model
        self.max_pending = max_pending
        self.history_bars = history_bars
        self._pending: OrderedDict[_Key, _Call] = OrderedDict()  # oldest first
        self._by_symbol: dict[str, dict[_Key, _Call]] = {}
        self._done: OrderedDict[_Key, None] = OrderedDict()  # resolved, to ignore redeliveries
        self._closes: dict[str, dict[int, float]] = {}  # symbol -> {bar ts: close}, newest bars
        self._floor: dict[str, int] = {}  # symbol -> newest bar ts evicted from _closes
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Signals waiting for their horizon."""
        return len(self._pending)

    def add_signal(self, version: str, symbol: str, ts: int, p_up: float,
                   horizon: int) -> Outcome | None:
        """Remember a signal made at bar ``ts``; its outcome at once when the bars it needs
        have already been seen."""
        key = (version, symbol, ts)
        with self._lock:
            if horizon < 1:
                return self._drop("no_horizon")
            if key in self._pending or key in self._done:
                return self._drop("duplicate_signal")
            if ts <= self._floor.get(symbol, -1):
                return self._drop("late_signal")  # its bar is out of the history already
            call = _Call(version, symbol, ts, p_up, horizon)
            for bar_ts, close in sorted(self._closes.get(symbol, {}).items()):
                call.observe(bar_ts, close)
            outcome = call.outcome()
            if outcome is not None:
                self._mark_done(key)
                return outcome
            self._pending[key] = call
            self._by_symbol.setdefault(symbol, {})[key] = call
            while len(self._pending) > self.max_pending:
                old_key, _ = self._pending.popitem(last=False)
                self._unindex(old_key)
                self._drop("pending_evicted")
            return None

    def add_bar(self, symbol: str, ts: int, close: float) -> list[Outcome]:
        """Take one bar; a bar already seen (same symbol and timestamp) is ignored."""
        with self._lock:
            if not math.isfinite(close) or close <= 0:
                self._drop("bad_bar")
                return []
            closes = self._closes.setdefault(symbol, {})
            if ts in closes:
                self._drop("duplicate_bar")
                return []
            if ts <= self._floor.get(symbol, -1):
                self._drop("late_bar")  # older than the history: cannot tell it was seen
                return []
            closes[ts] = close
            if len(closes) > self.history_bars:
                oldest = min(closes)
                del closes[oldest]
                self._floor[symbol] = max(self._floor.get(symbol, oldest), oldest)
            resolved = []
            for key, call in list(self._by_symbol.get(symbol, {}).items()):
                call.observe(ts, close)
                outcome = call.outcome()
                if outcome is not None:
                    del self._pending[key]
                    self._unindex(key)
                    self._mark_done(key)
                    resolved.append(outcome)
            return resolved

    def clear(self) -> int:
        """Forget every waiting signal (a new version is served); returns how many."""
        with self._lock:
            n = len(self._pending)
            self._pending.clear()
            self._by_symbol.clear()
            self._done.clear()
            return n

    def _unindex(self, key: _Key) -> None:
        calls = self._by_symbol.get(key[1])
        if calls is not None:
            calls.pop(key, None)
            if not calls:
                del self._by_symbol[key[1]]

    def _mark_done(self, key: _Key) -> None:
        self._done[key] = None
        while len(self._done) > self.max_pending:
            self._done.popitem(last=False)

    def _drop(self, reason: str) -> None:
        OUTCOME_DROPS.labels(self.model, reason).inc()


def p_up_of(signal: signals_pb2.Signal) -> float:
    """The calibrated p(up) a signal was made from (``make_signal`` stores p(up) on a BUY and
    1 - p(up) on a SELL)."""
    if signal.side == orders_pb2.SIDE_BUY:
        return signal.probability
    return 1.0 - signal.probability


def decode_bars(message: Message) -> list[market_data_pb2.Bar]:
    """The bars of one bars-topic message (a ``Bar`` or a ``BarBatch``)."""
    if message.headers.get(H_CONTENT_TYPE) == _BATCH:
        return list(market_data_pb2.BarBatch.FromString(message.value).bars)
    return [market_data_pb2.Bar.FromString(message.value)]


class OutcomeTracker(GroupConsumer):
    """Consumes the signals and bars topics and feeds realised outcomes of the served
    version's signals to ``ModelServer.record_outcome``. ``handle`` is the bus handler (usable
    directly in tests); ``run`` is the consume loop until ``stop`` is set."""

    def __init__(self, bus: Bus, server: ModelServer, *, group: str = "models-outcomes",
                 max_attempts: int = 5, max_pending: int = 20_000, history_bars: int = 64,
                 bars_topic: str = str(Topic.BARS),
                 signals_topic: str = str(Topic.SIGNALS)) -> None:
        self.bus = bus
        self.server = server
        self.group = group
        self.max_attempts = max_attempts
        self.bars_topic = bars_topic
        self.signals_topic = signals_topic
        self.book = HorizonOutcomes(server.model_name, max_pending=max_pending,
                                    history_bars=history_bars)
        self._version: str | None = None
        self._sub: Subscription | None = None

    def handle(self, message: Message) -> int:
        """Process one message; returns the outcomes it recorded."""
        if message.topic == self.signals_topic:
            return self.on_signal(signals_pb2.Signal.FromString(message.value))
        return sum(self.on_bar(bar) for bar in decode_bars(message))

    def on_signal(self, signal: signals_pb2.Signal) -> int:
        version = self._served_version()
        if signal.model_id != self.server.model_name:
            OUTCOME_DROPS.labels(self.server.model_name, "other_model").inc()
            return 0
        if version is None or signal.model_version != version:
            OUTCOME_DROPS.labels(self.server.model_name, "not_served").inc()
            return 0
        outcome = self.book.add_signal(version, signal.symbol, timestamp_ns(signal.timestamp),
                                       p_up_of(signal), signal.horizon_bars)
        return self._record([] if outcome is None else [outcome])

    def on_bar(self, bar: market_data_pb2.Bar) -> int:
        self._served_version()
        return self._record(self.book.add_bar(bar.symbol, timestamp_ns(bar.timestamp),
                                              bar.close))

    def _served_version(self) -> str | None:
        current = self.server.current
        version = None if current is None else current.version
        if version != self._version:
            dropped = self.book.clear()
            if dropped:
                OUTCOME_DROPS.labels(self.server.model_name, "superseded").inc(dropped)
            log.info("scoring outcomes of %s version %s; %d signals of version %s dropped",
                     self.server.model_name, version, dropped, self._version)
            self._version = version
        return version

    def _record(self, outcomes: list[Outcome]) -> int:
        model = self.server.model_name
        recorded = 0
        for o in outcomes:
            if self.server.record_outcome(o.p_up, o.up, version=o.version):
                OUTCOMES.labels(model, "right" if o.right else "wrong").inc()
                recorded += 1
            else:
                OUTCOME_DROPS.labels(model, "superseded").inc()
        return recorded

    @property
    def consumed_topics(self) -> list[str]:
        return [self.signals_topic, self.bars_topic]
