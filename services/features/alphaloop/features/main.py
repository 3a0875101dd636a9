"""``alphaloop serve features``: build the features service's gRPC server from its settings,
with the streaming engine (bars topic -> features topic) beside it when settings ask for it.

The stream is seeded from the store before the server binds (``seed_from_store``, see
``alphaloop.features.recovery``): a restarted pod carries on with the full history and
publishes the dates that were pending when it stopped. A store that cannot be read fails
start-up with one line naming the settings (the pod restarts until the store answers), rather
than serve a stream whose first vectors would come from a few bars; readiness NOT_SERVING
would not do, since it keeps gRPC traffic away but not the stream's output.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from alphaloop.common.rpc import ServiceServer
from alphaloop.common.settings import load_settings
from alphaloop.common.store import Store
from alphaloop.features.api import FeaturesApi
from alphaloop.features.config import Settings

log = logging.getLogger("alphaloop.features")

#: RPCs that require the bearer token (none of this service's RPCs changes trading state).
PRIVILEGED: frozenset[str] = frozenset()


def load(**overrides: Any) -> Settings:
    """Settings from the environment (ALPHALOOP_FEATURES_*), with explicit overrides."""
    return load_settings(Settings, **overrides)


def stream_enabled(settings: Settings) -> bool:
    if settings.stream == "auto":
        return settings.bus_backend != "memory"
    return settings.stream == "on"


@dataclass
class FeaturesServer(ServiceServer):
    """The gRPC server plus, when enabled, the streaming engine on its own thread."""

    api: FeaturesApi | None = field(default=None, repr=False)
    _stream: Any = field(default=None, repr=False)

    def start(self, *, grpc_port: int | None = None, metrics_port: int | None = None) -> int:
        settings = self.settings
        if isinstance(settings, Settings) and stream_enabled(settings):
            self._stream = self._seeded_stream(settings)  # before binding: may fail start-up
        try:
            port = super().start(grpc_port=grpc_port, metrics_port=metrics_port)
        except BaseException:
            self._close_stream()
            raise
        if self._stream is not None:
            self._stream.start()
            log.info("features stream consuming bars (group %s)", settings.stream_group)
        return port

    def _seeded_stream(self, settings: Settings) -> Any:
        from alphaloop.common.bus import open_bus
        from alphaloop.features.incremental import IncrementalEngine
        from alphaloop.features.recovery import seeded_stream
        from alphaloop.features.stream import FeatureStream

        engine = IncrementalEngine(settings.stream_features or None,
                                   universe=settings.stream_universe or None)
        bus = open_bus(settings.bus_backend, settings.effective_bus_url)
        api = self.api or FeaturesApi(settings)
        try:
            return seeded_stream(FeatureStream(bus, engine, group=settings.stream_group),
                                 lambda: api.store, settings)
        except BaseException:
            bus.close()
            raise

    @property
    def stream(self) -> Any:
        """The running ``FeatureStream`` (None when the stream is off or stopped)."""
        return self._stream

    def _close_stream(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.bus.close()
            self._stream = None

    def stop(self, grace: float | None = None) -> None:
        self._close_stream()
        super().stop(grace)


def build(settings: Settings | None = None, *, store: Store | None = None) -> ServiceServer:
    """The server; ``store`` may be injected (tests, embedding), else it is opened from
    settings when first needed (a stored-range request, or the stream's seed)."""
    settings = settings or load()
    api = FeaturesApi(settings, store=store)
    return FeaturesServer("features", settings, api.register, PRIVILEGED, api=api)
