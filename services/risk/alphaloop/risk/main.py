"""``alphaloop serve risk``: build the risk service's gRPC server from its settings."""

from __future__ import annotations

from typing import Any

from alphaloop.common.rpc import ServiceServer
from alphaloop.common.settings import load_settings
from alphaloop.risk.api import RiskApi
from alphaloop.risk.config import Settings

#: RPCs that require the bearer token (they stop or restart trading).
PRIVILEGED: frozenset[str] = frozenset({'Halt', 'Resume'})


def load(**overrides: Any) -> Settings:
    """Settings from the environment (ALPHALOOP_RISK_*), with explicit overrides."""
    return load_settings(Settings, **overrides)


def build(settings: Settings | None = None) -> ServiceServer:
    settings = settings or load()
    return ServiceServer("risk", settings, RiskApi(settings).register, PRIVILEGED)
