"""Settings of the features service: environment variables ALPHALOOP_FEATURES_<FIELD>.
Run ``alphaloop settings features`` for the full table with defaults."""

from __future__ import annotations

from typing import ClassVar

from alphaloop.common.settings import ServiceSettings, service_config


class Settings(ServiceSettings):
    """Features service settings. Inherits the shared fields (ports, bus, store, logging, auth)."""

    service: ClassVar[str] = "features"
    model_config = service_config("features")
