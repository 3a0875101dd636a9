"""Settings of the ingest service: environment variables ALPHALOOP_INGEST_<FIELD>.
Run ``alphaloop settings ingest`` for the full table with defaults."""

from __future__ import annotations

from typing import ClassVar

from alphaloop.common.settings import ServiceSettings, service_config


class Settings(ServiceSettings):
    """Ingest service settings. Inherits the shared fields (ports, bus, store, logging, auth)."""

    service: ClassVar[str] = "ingest"
    model_config = service_config("ingest")
