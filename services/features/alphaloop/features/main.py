"""``alphaloop serve features``: build the features service's gRPC server from its settings,
with the streaming engine (bars topic -> features topic) beside it when settings ask for it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from alphaloop.common.rpc import ServiceServer
from alphaloop.common.settings import load_settings
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

    _stream: Any = field(default=None, repr=False)

    def start(self, *, grpc_port: int | None = None, metrics_port: int | None = None) -> int:
        port = super().start(grpc_port=grpc_port, metrics_port=metrics_port)
        settings = self.settings
        if isinstance(settings, Settings) and stream_enabled(settings):
            from alphaloop.common.bus import open_bus
            from alphaloop.features.incremental import IncrementalEngine
            from alphaloop.features.stream import FeatureStream

            engine = IncrementalEngine(settings.stream_features or None,
                                       universe=settings.stream_universe or None)
            bus = open_bus(settings.bus_backend, settings.effective_bus_url)
            self._stream = FeatureStream(bus, engine, group=settings.stream_group).start()
            log.info("features stream consuming bars (group %s)", settings.stream_group)
        return port

    def stop(self, grace: float | None = None) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.bus.close()
            self._stream = None
        super().stop(grace)


def build(settings: Settings | None = None) -> ServiceServer:
    settings = settings or load()
    return FeaturesServer("features", settings, FeaturesApi(settings).register, PRIVILEGED)
