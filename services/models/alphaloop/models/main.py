"""``alphaloop serve models``: build the models service's gRPC server from its settings."""

from __future__ import annotations

from typing import Any

from alphaloop.common.rpc import ServiceServer
from alphaloop.common.settings import load_settings
from alphaloop.models.api import ModelsApi
from alphaloop.models.config import Settings

#: RPCs that require the bearer token (none of this service's RPCs changes trading state).
PRIVILEGED: frozenset[str] = frozenset()


def load(**overrides: Any) -> Settings:
    """Settings from the environment (ALPHALOOP_MODELS_*), with explicit overrides."""
    return load_settings(Settings, **overrides)


def build(settings: Settings | None = None) -> ServiceServer:
    settings = settings or load()
    return ServiceServer("models", settings, ModelsApi(settings).register, PRIVILEGED)
