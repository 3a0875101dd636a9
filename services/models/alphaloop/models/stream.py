"""The streaming path: alphaloop.features.v1 (FeatureVector) -> champion -> alphaloop.signals.v1
(Signal, keyed by symbol).

Per message: note the vector's timestamp for data freshness; drop it (acknowledged, no signal)
when it is older than the allowed feature age, when no champion is promoted, or when the
champion is CRITICAL; otherwise score it and publish one Signal whose ``signal_id`` (also the
bus ``message-id``) is derived from (model, version, symbol, timestamp, strategy). Delivery is
at least once: a redelivered vector scored by the same version republishes the same id, which
downstream consumers treat as a duplicate. A vector missing a feature the model needs fails
the handler and, after the bus's retries, goes to the group's dead-letter topic.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter

from alphaloop.common.bus import Bus, Message, Subscription
from alphaloop.common.bus.base import H_MESSAGE_ID
from alphaloop.common.bus.consumer import GroupConsumer
from alphaloop.common.metrics import REGISTRY
from alphaloop.common.topics import Topic
from alphaloop.models.serving import ModelServer, make_signal, timestamp_datetime
from alphaloop.v1 import features_pb2, signals_pb2

log = logging.getLogger(__name__)

STREAM_VECTORS = Counter(
    "alphaloop_model_stream_vectors",
    "Feature vectors handled by the models stream, by outcome (signalled, stale_data, "
    "no_model, critical_model).",
    ("model", "outcome"),
    registry=REGISTRY,
)


class SignalStream(GroupConsumer):
    """Consumes feature vectors and publishes signals. ``handle`` is the bus handler (usable
    directly in tests); ``run`` is the consume loop until ``stop`` is set."""

    def __init__(self, bus: Bus, server: ModelServer, *, strategy: str = "ml",
                 group: str = "models", max_attempts: int = 5,
                 features_topic: str = str(Topic.FEATURES),
                 signals_topic: str = str(Topic.SIGNALS)) -> None:
        self.bus = bus
        self.server = server
        self.strategy = strategy
        self.group = group
        self.max_attempts = max_attempts
        self.features_topic = features_topic
        self.signals_topic = signals_topic
        self._sub: Subscription | None = None

    def handle(self, message: Message) -> signals_pb2.Signal | None:
        vector = features_pb2.FeatureVector.FromString(message.value)
        return self.process(vector)

    def process(self, vector: features_pb2.FeatureVector) -> signals_pb2.Signal | None:
        srv = self.server
        ts = timestamp_datetime(vector.timestamp)
        srv.observe_features(ts)
        if srv.data.is_too_old(ts):
            return self._skip("stale_data", vector, f"bar time {ts} older than "
                              f"{srv.data.max_age} on the service clock")
        if srv.current is None:
            try:
                srv.refresh()
            except Exception as exc:  # noqa: BLE001 - registry trouble: nothing to score with
                log.warning("cannot load %s@%s: %s", srv.model_name, srv.alias, exc)
            if srv.current is None:
                return self._skip("no_model", vector, f"no {srv.alias} for {srv.model_name}")
        allowed, reason = srv.signals_allowed()
        if not allowed:
            return self._skip("critical_model", vector, reason)
        probs, model = srv.predict_vectors([vector])
        signal = make_signal(vector, float(probs[0]), model, self.strategy)
        self.bus.publish(self.signals_topic, signal.symbol, signal,
                         headers={H_MESSAGE_ID: signal.signal_id})
        STREAM_VECTORS.labels(srv.model_name, "signalled").inc()
        srv._report_health()  # fresh data may lift a data-staleness NOT_SERVING at once
        return signal

    def _skip(self, outcome: str, vector: features_pb2.FeatureVector, why: str) -> None:
        STREAM_VECTORS.labels(self.server.model_name, outcome).inc()
        log.info("no signal for %s: %s", vector.symbol, why)
        self.server._report_health()

    @property
    def consumed_topics(self) -> str:
        return self.features_topic
