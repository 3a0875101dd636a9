"""``alphaloop serve ingest``: build the ingest service's gRPC server from its settings."""

from __future__ import annotations

from typing import Any

from alphaloop.common.rpc import ServiceServer
from alphaloop.common.settings import load_settings
from alphaloop.ingest.api import IngestApi
from alphaloop.ingest.config import Settings

#: RPCs that require the bearer token (none of this service's RPCs changes trading state).
PRIVILEGED: frozenset[str] = frozenset()


def load(**overrides: Any) -> Settings:
    """Settings from the environment (ALPHALOOP_INGEST_*), with explicit overrides."""
    return load_settings(Settings, **overrides)


def build(settings: Settings | None = None, **deps: Any) -> ServiceServer:
    """The ingest gRPC server. ``deps``: ``store``, ``bus``, ``clock`` to inject into the API
    (otherwise the store and bus are opened from settings on first use)."""
    settings = settings or load()
    return ServiceServer("ingest", settings, IngestApi(settings, **deps).register, PRIVILEGED)
