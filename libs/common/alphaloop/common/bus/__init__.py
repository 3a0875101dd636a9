"""The event bus: one interface (``Bus``, ``Subscription``, ``Message``) over an in-process
memory bus (embedded default), Redis Streams and Apache Kafka.

    bus = open_bus("kafka", "kafka-0.kafka:9092")
    bus.publish(str(Topic.BARS), "AAPL", bar)            # protobuf or bytes
    sub = bus.subscribe(str(Topic.BARS), group="features")
    sub.run(handle_bar, max_attempts=5, stop=stop_event)

Delivery is at least once, per key in order; see ``base`` for the contract and each backend
module for what it means there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alphaloop.common.bus.base import Bus, Handler, Message, Subscription
from alphaloop.common.bus.memory import MemoryBus, MemorySubscription

if TYPE_CHECKING:  # the cluster backends import their client libraries on demand
    from alphaloop.common.bus.kafka import KafkaBus, KafkaSubscription
    from alphaloop.common.bus.redis_streams import RedisBus, RedisSubscription

BACKENDS = ("memory", "redis", "kafka")


def open_bus(backend: str, url: str = "", **opts: Any) -> Bus:
    """Open a bus. ``backend``: memory | redis | kafka; ``url``: backend address ('' means
    the backend's default: a private in-process broker, redis://127.0.0.1:6379/0,
    127.0.0.1:9092). ``opts`` go to the backend's constructor. Raises ``ValueError`` for an
    unknown backend and ``UnavailableError`` when the broker cannot be reached."""
    name = (backend or "").strip().lower()
    if name == "memory":
        return MemoryBus(url, **opts)
    if name == "redis":
        from alphaloop.common.bus.redis_streams import RedisBus

        return RedisBus(url, **opts)
    if name == "kafka":
        from alphaloop.common.bus.kafka import KafkaBus

        return KafkaBus(url, **opts)
    raise ValueError(f"unknown bus backend {backend!r}: choose one of {', '.join(BACKENDS)}")


_LAZY = {
    "RedisBus": "alphaloop.common.bus.redis_streams",
    "RedisSubscription": "alphaloop.common.bus.redis_streams",
    "KafkaBus": "alphaloop.common.bus.kafka",
    "KafkaSubscription": "alphaloop.common.bus.kafka",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "BACKENDS",
    "Bus",
    "Handler",
    "KafkaBus",
    "KafkaSubscription",
    "MemoryBus",
    "MemorySubscription",
    "Message",
    "RedisBus",
    "RedisSubscription",
    "Subscription",
    "open_bus",
]
