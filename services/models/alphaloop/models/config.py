"""Settings of the models service: environment variables ALPHALOOP_MODELS_<FIELD>.
Run ``alphaloop settings models`` for the full table with defaults."""

from __future__ import annotations

from typing import ClassVar

from alphaloop.common.settings import ServiceSettings, service_config


class Settings(ServiceSettings):
    """Models service settings. Inherits the shared fields (ports, bus, store, logging, auth)."""

    service: ClassVar[str] = "models"
    model_config = service_config("models")
