"""Bus wiring of the features service: consume ``alphaloop.v1.Bar`` (or ``BarBatch``) from the
bars topic, feed the :class:`~alphaloop.features.incremental.IncrementalEngine`, publish one
``alphaloop.v1.FeatureVector`` per bar on the features topic, keyed by symbol, as each date
completes (see the engine for when that is).

Delivery: a bar is acknowledged once the engine took it and the vectors it completed are
published. Bars of a date that is still pending are acknowledged before their vectors exist,
and the engine's history is in memory only, so a restart must not start from an empty
engine: :meth:`FeatureStream.seed` loads the history from the store first and publishes the
dates that were pending at the crash (``alphaloop.features.recovery`` reads the store and
keeps the watermark ``checkpoint`` records: the newest date whose vectors were published).
Delivery of vectors is at least once: a date may be published again after a restart, with
the same values; consumers dedupe on (symbol, timestamp).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from alphaloop.common.bus import Bus, Message
from alphaloop.common.topics import Topic
from alphaloop.features.incremental import FeatureRow, IncrementalEngine
from alphaloop.v1 import features_pb2, market_data_pb2

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("alphaloop.features.stream")

_BATCH = market_data_pb2.BarBatch.DESCRIPTOR.full_name


def to_proto(row: FeatureRow, version: str) -> features_pb2.FeatureVector:
    vector = features_pb2.FeatureVector(symbol=row.symbol, feature_set_version=version)
    vector.timestamp.FromNanoseconds(row.ts)
    vector.values.update(row.as_dict())
    return vector


def decode_bars(message: Message) -> list[market_data_pb2.Bar]:
    if message.headers.get("content-type") == _BATCH:
        return list(market_data_pb2.BarBatch.FromString(message.value).bars)
    return [market_data_pb2.Bar.FromString(message.value)]


class FeatureStream:
    """``run(stop)`` consumes until ``stop`` is set; ``start()``/``stop()`` do it on a thread;
    ``flush()`` completes the pending dates (end of a replay) and publishes them; ``seed()``
    restores a restarted stream's history before it consumes.

    ``checkpoint``, when given, is called with the engine's newest emitted date each time it
    advances, after that date's vectors are published (so it may lag, never lead: a restart
    seeded from it publishes again rather than skips). A failing checkpoint is logged, not
    raised: the bars are taken and the vectors out, and a lagging watermark costs duplicates
    only.
    """

    def __init__(
        self,
        bus: Bus,
        engine: IncrementalEngine | None = None,
        *,
        group: str = "features",
        bars_topic: str = str(Topic.BARS),
        features_topic: str = str(Topic.FEATURES),
        checkpoint: Callable[[pd.Timestamp], Any] | None = None,
    ) -> None:
        self.bus = bus
        self.engine = engine or IncrementalEngine()
        self.group = group
        self.bars_topic = bars_topic
        self.features_topic = features_topic
        self.checkpoint = checkpoint
        self.published = 0
        self._recorded: pd.Timestamp | None = None
        self._lock = threading.Lock()  # the engine is not thread-safe: run() vs flush()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sub = None

    def handle(self, message: Message) -> None:
        with self._lock:
            rows = self.engine.add_many(decode_bars(message))
            self._publish(rows)

    def flush(self) -> int:
        with self._lock:
            return self._publish(self.engine.flush())

    def seed(self, bars: pd.DataFrame, *, emitted_through: Any = None) -> int:
        """Load a fresh engine's history from stored ``bars`` and publish the vectors of the
        dates that completes (see ``IncrementalEngine.seed``); returns how many. Call before
        consuming."""
        with self._lock:
            return self._publish(self.engine.seed(bars, emitted_through=emitted_through))

    def _publish(self, rows: Iterable[FeatureRow]) -> int:
        count = 0
        for row in rows:
            self.bus.publish(self.features_topic, row.symbol,
                             to_proto(row, self.engine.version))
            count += 1
        self.published += count
        self._record()
        return count

    def _record(self) -> None:
        through = self.engine.emitted_through
        if self.checkpoint is None or through is None or through == self._recorded:
            return
        try:
            self.checkpoint(through)
        except Exception:  # a lagging watermark costs duplicates after a restart, not vectors
            log.warning("cannot record that vectors are published through %s", through,
                        exc_info=True)
            return
        self._recorded = through

    def run(self, stop: threading.Event | None = None, *, poll_timeout: float = 0.2) -> None:
        stop = stop or self._stop
        self._sub = self.bus.subscribe(self.bars_topic, group=self.group)
        try:
            self._sub.run(self.handle, stop=stop, poll_timeout=poll_timeout)
        finally:
            self._sub.close()

    def start(self) -> FeatureStream:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="features-stream", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
