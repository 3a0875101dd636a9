"""Settings of the grading service: environment variables ALPHALOOP_GRADING_<FIELD>.
Run ``alphaloop settings grading`` for the full table with defaults."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from alphaloop.common.settings import ServiceSettings, service_config


class Settings(ServiceSettings):
    """Grading service settings. Inherits the shared fields (ports, bus, store, logging, auth)."""

    service: ClassVar[str] = "grading"
    model_config = service_config("grading")

    tracking_uri: str = Field(
        "",
        description="MLflow tracking URI (e.g. http://mlflow:5000) where models are registered "
        "and promoted. Empty: the embedded sqlite store under <state_dir>/mlflow.db.",
    )
