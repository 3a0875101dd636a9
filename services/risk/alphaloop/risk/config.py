"""Settings of the risk service: environment variables ALPHALOOP_RISK_<FIELD>.
Run ``alphaloop settings risk`` for the full table with defaults."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from alphaloop.common.settings import ServiceSettings, service_config


class Settings(ServiceSettings):
    """Risk service settings. Inherits the shared fields (ports, bus, store, logging, auth)."""

    service: ClassVar[str] = "risk"
    model_config = service_config("risk")

    models_address: str = Field(
        "127.0.0.1:50053", description="host:port of the models service (signals, staleness)."
    )
