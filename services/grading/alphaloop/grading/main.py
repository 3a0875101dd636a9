"""``alphaloop serve grading``: build the grading service's gRPC server from its settings."""

from __future__ import annotations

from typing import Any

from alphaloop.common.rpc import ServiceServer
from alphaloop.common.settings import load_settings
from alphaloop.grading.api import GradingApi
from alphaloop.grading.config import Settings

#: RPCs that require the bearer token (promotion puts a model in charge of money).
PRIVILEGED: frozenset[str] = frozenset({'Promote'})


def load(**overrides: Any) -> Settings:
    """Settings from the environment (ALPHALOOP_GRADING_*), with explicit overrides."""
    return load_settings(Settings, **overrides)


def build(settings: Settings | None = None) -> ServiceServer:
    settings = settings or load()
    return ServiceServer("grading", settings, GradingApi(settings).register, PRIVILEGED)
