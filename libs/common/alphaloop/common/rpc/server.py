"""The server bootstrap every service uses: gRPC health and reflection, the interceptor chain
(metrics -> tracing -> bearer token -> error mapping), the /metrics endpoint, and graceful
shutdown on SIGTERM (report NOT_SERVING, stop accepting, drain in-flight RPCs, exit)."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterable
from concurrent import futures
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from alphaloop.common.errors import UnavailableError
from alphaloop.common.metrics import SERVICE_UP, MetricsServer, start_metrics_server
from alphaloop.common.rpc.interceptors import (
    BearerTokenInterceptor,
    ErrorMappingInterceptor,
    MetricsInterceptor,
)
from alphaloop.common.settings import ServiceSettings

log = logging.getLogger(__name__)

#: Registers servicers on a server; returns the full names of the services it added.
Registrar = Callable[[grpc.Server], Iterable[str]]


@dataclass
class ServiceServer:
    """One service's gRPC server. ``start()`` binds; ``port`` / ``metrics_port`` are the bound
    ports (useful when settings ask for port 0 in tests)."""

    name: str
    settings: ServiceSettings
    register: Registrar
    privileged: frozenset[str] = frozenset()
    max_workers: int = 16
    port: int = 0
    metrics_port: int = 0
    _server: grpc.Server | None = field(default=None, repr=False)
    _health: health.HealthServicer | None = field(default=None, repr=False)
    _metrics: MetricsServer | None = field(default=None, repr=False)
    _service_names: list[str] = field(default_factory=list, repr=False)
    _stopped: threading.Event = field(default_factory=threading.Event, repr=False)

    def start(self, *, grpc_port: int | None = None, metrics_port: int | None = None) -> int:
        s = self.settings
        gport = s.effective_grpc_port if grpc_port is None else grpc_port
        mport = s.effective_metrics_port if metrics_port is None else metrics_port
        interceptors: list[grpc.ServerInterceptor] = [MetricsInterceptor(self.name)]
        interceptors.append(_tracing_interceptor())
        interceptors.append(BearerTokenInterceptor(self.privileged, s.token()))
        interceptors.append(ErrorMappingInterceptor())
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix=self.name),
            interceptors=[i for i in interceptors if i is not None],
            options=[("grpc.so_reuseport", 0)],
        )
        self._service_names = list(self.register(server))
        self._health = health.HealthServicer(experimental_non_blocking=True)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (*self._service_names, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        address = f"{s.host}:{gport}"
        try:
            self.port = server.add_insecure_port(address)
        except RuntimeError as exc:
            raise UnavailableError(
                f"{s.env_name('grpc_port')}: cannot bind gRPC on {address}: {exc}"
            ) from None
        if self.port == 0:
            raise UnavailableError(
                f"{s.env_name('grpc_port')}: cannot bind gRPC on {address} (port in use?)"
            )
        try:
            self._metrics = start_metrics_server(s.host, mport)
        except OSError as exc:
            server.stop(0)
            raise UnavailableError(
                f"{s.env_name('metrics_port')}: cannot bind /metrics on {s.host}:{mport}: "
                f"{exc.strerror}"
            ) from None
        self.metrics_port = self._metrics.port
        server.start()
        self._server = server
        self.set_serving(True)
        log.info(
            "%s serving", self.name,
            extra={"fields": {"grpc_port": self.port, "metrics_port": self.metrics_port}},
        )
        return self.port

    def set_serving(self, serving: bool, service: str | None = None) -> None:
        """Report SERVING / NOT_SERVING for one service name, or overall and all of them."""
        if self._health is None:
            return
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        names = [service] if service is not None else ["", *self._service_names]
        for name in names:
            self._health.set(name, status)
        if service is None:
            SERVICE_UP.labels(self.name).set(1 if serving else 0)

    def stop(self, grace: float | None = None) -> None:
        """Stop accepting, let in-flight RPCs finish within ``grace`` seconds, then close."""
        if self._server is None or self._stopped.is_set():
            return
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        if self._health is not None:
            self._health.enter_graceful_shutdown()
        SERVICE_UP.labels(self.name).set(0)
        self._server.stop(grace).wait(grace + 1)
        if self._metrics is not None:
            self._metrics.stop()
        self._stopped.set()
        log.info("%s stopped", self.name)

    def wait(self) -> None:
        self._stopped.wait()

    def serve_forever(self) -> None:
        """Start, then block until SIGTERM/SIGINT, then shut down gracefully."""
        if self._server is None:
            self.start()

        def on_signal(signum, _frame):
            log.info("received %s: draining", signal.Signals(signum).name)
            threading.Thread(target=self.stop, name="shutdown", daemon=True).start()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        self.wait()


def _tracing_interceptor() -> grpc.ServerInterceptor | None:
    """OpenTelemetry's gRPC server interceptor: a span per RPC with the caller's context."""
    try:
        from opentelemetry.instrumentation.grpc import server_interceptor
    except ImportError:  # pragma: no cover - dependency is in the core set
        return None
    return server_interceptor()
