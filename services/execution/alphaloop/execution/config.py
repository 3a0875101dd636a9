"""Settings of the execution service: environment variables ALPHALOOP_EXECUTION_<FIELD>.
Run ``alphaloop settings execution`` for the full table with defaults."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from alphaloop.common.settings import ServiceSettings, service_config


class Settings(ServiceSettings):
    """Execution service settings. Inherits the shared fields (ports, bus, store, logging, auth)."""

    service: ClassVar[str] = "execution"
    model_config = service_config("execution")

    risk_address: str = Field(
        "127.0.0.1:50055",
        description="host:port of the risk service. Unreachable risk = no new orders (fail closed).",
    )
