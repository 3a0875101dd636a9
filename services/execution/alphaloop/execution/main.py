"""``alphaloop serve execution``: build the execution service's gRPC server from its settings."""

from __future__ import annotations

from typing import Any

from alphaloop.common.rpc import ServiceServer
from alphaloop.common.settings import load_settings
from alphaloop.execution.api import ExecutionApi
from alphaloop.execution.config import Settings

#: RPCs that require the bearer token (it sends orders to a venue).
PRIVILEGED: frozenset[str] = frozenset({'SubmitOrder'})


def load(**overrides: Any) -> Settings:
    """Settings from the environment (ALPHALOOP_EXECUTION_*), with explicit overrides."""
    return load_settings(Settings, **overrides)


def build(settings: Settings | None = None) -> ServiceServer:
    settings = settings or load()
    return ServiceServer("execution", settings, ExecutionApi(settings).register, PRIVILEGED)
