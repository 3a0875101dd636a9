"""``alphaloop serve models``: build the models service's gRPC server from its settings.

Besides the gRPC surface the server runs the champion poll (``ModelServer``) and, with
``stream_enabled``, the features -> signals stream and (``outcomes_enabled``) the outcome
tracker that scores published signals on later bars for the rolling-accuracy staleness
signal (``alphaloop.models.outcomes``). Health: the overall ``""`` status stays
SERVING while the process works (liveness); ``alphaloop.v1.ModelService`` goes NOT_SERVING
(readiness) when the served model is STALE/CRITICAL or the market data is stale, so the pod is
taken out of rotation without being restarted. No model promoted yet is not a readiness
failure: the service answers and Predict says FAILED_PRECONDITION.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from alphaloop.common.bus import Bus, open_bus
from alphaloop.common.rpc import ServiceServer
from alphaloop.common.settings import load_settings
from alphaloop.models.api import SERVICE_NAME, ModelsApi
from alphaloop.models.config import Settings
from alphaloop.models.outcomes import OutcomeTracker
from alphaloop.models.serving import ModelServer
from alphaloop.models.stream import SignalStream

log = logging.getLogger(__name__)

#: RPCs that require the bearer token (none of this service's RPCs changes trading state).
PRIVILEGED: frozenset[str] = frozenset()


def load(**overrides: Any) -> Settings:
    """Settings from the environment (ALPHALOOP_MODELS_*), with explicit overrides."""
    return load_settings(Settings, **overrides)


@dataclass
class ModelsServiceServer(ServiceServer):
    """The shared ServiceServer plus the champion poll, the stream, the outcome tracker and
    readiness."""

    api: ModelsApi | None = field(default=None, repr=False)
    bus: Bus | None = field(default=None, repr=False)
    stream: SignalStream | None = field(default=None, repr=False)
    outcomes: OutcomeTracker | None = field(default=None, repr=False)
    _ready: bool | None = field(default=None, repr=False)
    _stream_stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _stream_thread: threading.Thread | None = field(default=None, repr=False)
    _outcomes_thread: threading.Thread | None = field(default=None, repr=False)
    _bus_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def model_server(self) -> ModelServer:
        assert self.api is not None
        return self.api.server

    def start(self, *, grpc_port: int | None = None, metrics_port: int | None = None) -> int:
        port = super().start(grpc_port=grpc_port, metrics_port=metrics_port)
        self.model_server.on_health = self._on_health
        self.model_server.start()
        settings: Settings = self.settings  # type: ignore[assignment]
        if settings.stream_enabled:
            self._stream_stop.clear()
            self._stream_thread = threading.Thread(target=self._run_stream, name="models-stream",
                                                   daemon=True)
            self._stream_thread.start()
            if settings.outcomes_enabled:
                self._outcomes_thread = threading.Thread(
                    target=self._run_outcomes, name="models-outcomes", daemon=True)
                self._outcomes_thread.start()
        return port

    def _open_bus(self) -> Bus:
        """The one bus the stream and the outcome tracker share (opened by whichever thread
        gets there first, so an unreachable broker never blocks start-up)."""
        settings: Settings = self.settings  # type: ignore[assignment]
        with self._bus_lock:
            if self.bus is None:
                self.bus = open_bus(settings.bus_backend, settings.effective_bus_url)
            return self.bus

    def _run_stream(self) -> None:
        settings: Settings = self.settings  # type: ignore[assignment]
        try:
            self.stream = SignalStream(self._open_bus(), self.model_server,
                                       strategy=settings.strategy, group=settings.stream_group,
                                       max_attempts=settings.bus_max_attempts)
            self.stream.run(self._stream_stop)
        except Exception:
            log.exception("models stream stopped")

    def _run_outcomes(self) -> None:
        settings: Settings = self.settings  # type: ignore[assignment]
        try:
            self.outcomes = OutcomeTracker(self._open_bus(), self.model_server,
                                           group=settings.outcomes_group,
                                           max_attempts=settings.bus_max_attempts,
                                           max_pending=settings.outcomes_max_pending)
            self.outcomes.run(self._stream_stop)
        except Exception:
            log.exception("models outcome tracker stopped")

    def _on_health(self, ready: bool, reason: str) -> None:
        if ready == self._ready:
            return
        self._ready = ready
        self.set_serving(ready, service=SERVICE_NAME)
        (log.info if ready else log.warning)("readiness %s: %s",
                                             "SERVING" if ready else "NOT_SERVING", reason)

    def stop(self, grace: float | None = None) -> None:
        self._stream_stop.set()
        if self.api is not None:
            self.model_server.stop()
        for thread in (self._stream_thread, self._outcomes_thread):
            if thread is not None:
                thread.join(5)
        for consumer in (self.stream, self.outcomes):
            if consumer is not None:
                consumer.close()
        super().stop(grace)


def build(settings: Settings | None = None, *, bus: Bus | None = None,
          api: ModelsApi | None = None) -> ModelsServiceServer:
    settings = settings or load()
    api = api or ModelsApi(settings)
    return ModelsServiceServer("models", settings, api.register, PRIVILEGED, api=api, bus=bus)
