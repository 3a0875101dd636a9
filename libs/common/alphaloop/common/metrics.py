"""Prometheus metrics: one registry per process, an HTTP /metrics endpoint per service, and the
metric families every service shares (gRPC requests, bus traffic, health)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

REGISTRY = CollectorRegistry(auto_describe=True)

GRPC_REQUESTS = Counter(
    "alphaloop_grpc_requests",
    "gRPC requests handled, by service, method and status code.",
    ("service", "method", "code"),
    registry=REGISTRY,
)
GRPC_LATENCY = Histogram(
    "alphaloop_grpc_request_seconds",
    "gRPC request handling time in seconds.",
    ("service", "method"),
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BUS_MESSAGES = Counter(
    "alphaloop_bus_messages",
    "Bus messages by topic and outcome (published, acked, retried, dead_lettered).",
    ("topic", "outcome"),
    registry=REGISTRY,
)
SERVICE_UP = Gauge(
    "alphaloop_service_serving",
    "1 while the service reports SERVING on grpc.health.v1, else 0.",
    ("service",),
    registry=REGISTRY,
)


@dataclass
class MetricsServer:
    port: int
    _server: object
    _thread: threading.Thread

    def stop(self) -> None:
        shutdown = getattr(self._server, "shutdown", None)
        if shutdown:
            shutdown()


def start_metrics_server(host: str, port: int) -> MetricsServer:
    """Serve ``REGISTRY`` at http://host:port/metrics in a daemon thread. Port 0 picks a free
    port (tests); the bound port is returned."""
    server, thread = start_http_server(port, addr=host, registry=REGISTRY)
    return MetricsServer(port=server.server_address[1], _server=server, _thread=thread)
