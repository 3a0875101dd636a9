"""Settings of the models service: environment variables ALPHALOOP_MODELS_<FIELD>.
Run ``alphaloop settings models`` for the full table with defaults."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from alphaloop.common.settings import ServiceSettings, service_config


class Settings(ServiceSettings):
    """Models service settings. Inherits the shared fields (ports, bus, store, logging, auth)."""

    service: ClassVar[str] = "models"
    model_config = service_config("models")

    # -- registry and serving ---------------------------------------------------------------
    tracking_uri: str = Field(
        "",
        description="MLflow tracking URI (e.g. http://mlflow:5000). Empty: the embedded sqlite "
        "store under <state_dir>/mlflow.db with artifacts in <state_dir>/mlartifacts.",
    )
    model_name: str = Field(
        "alphaloop-pooled", description="Registered model the service serves (Predict default)."
    )
    model_alias: str = Field(
        "champion", description="Registry alias served; a promotion moves it and the service "
        "picks the new version up at the next poll, without a restart.")
    poll_seconds: float = Field(
        30.0, gt=0, le=3600,
        description="Seconds between checks of the alias (new promotion) and of staleness.")
    strategy: str = Field(
        "ml", description="Strategy name stamped on signals when a request names none.")

    # -- staleness (model age since registration, rolling accuracy vs. held-out accuracy) ----
    aging_days: float = Field(
        7.0, gt=0, description="Model age (days since registration) above which it is AGING.")
    stale_days: float = Field(
        14.0, gt=0, description="Model age above which it is STALE (readiness NOT_SERVING).")
    critical_days: float = Field(
        30.0, gt=0, description="Model age above which it is CRITICAL (no new signals).")
    aging_accuracy_drop: float = Field(
        0.05, gt=0, lt=1, description="Rolling accuracy this far (fraction: 0.05 = 5 points) "
        "below the training (held-out test) accuracy makes the model AGING.")
    stale_accuracy_drop: float = Field(
        0.10, gt=0, lt=1, description="Accuracy drop above which the model is STALE.")
    critical_accuracy_drop: float = Field(
        0.20, gt=0, lt=1, description="Accuracy drop above which the model is CRITICAL.")
    accuracy_window: int = Field(
        200, ge=1, description="Realised outcomes in the rolling accuracy window.")
    accuracy_min_outcomes: int = Field(
        50, ge=1, description="Outcomes needed before rolling accuracy counts toward staleness.")

    # -- data staleness and the stream -------------------------------------------------------
    max_feature_age_seconds: float = Field(
        3 * 86400.0, gt=0,
        description="Feature vectors older than this (vs. the service clock) produce no signal, "
        "and when the newest feature seen is older, readiness is NOT_SERVING. The default "
        "(3 days) tolerates weekends on daily bars; intraday deployments should lower it.")
    stream_enabled: bool = Field(
        True, description="Consume alphaloop.features.v1 and publish alphaloop.signals.v1.")
    stream_group: str = Field(
        "models", description="Consumer group on the features topic.")
    outcomes_enabled: bool = Field(
        True, description="With stream_enabled, score each published signal on the bars topic "
        "once its horizon (the model's labels.vertical_bars) has passed, up when the close then "
        "is above the close at the signal bar, and feed the call's hit or miss to the rolling "
        "accuracy staleness compares with the training accuracy. Off: only the model's age "
        "drives staleness.")
    outcomes_group: str = Field(
        "models-outcomes", description="Consumer group of the outcome tracker on the signals "
        "and bars topics; replicas share it, each scoring the symbols whose partitions it holds.")
    outcomes_max_pending: int = Field(
        20_000, ge=1, description="Signals kept in memory while they wait for their horizon; "
        "past it the oldest is dropped (alphaloop_model_outcome_drops, reason pending_evicted).")

    @model_validator(mode="after")
    def _ordered_thresholds(self) -> Settings:
        if not self.aging_days <= self.stale_days <= self.critical_days:
            raise ValueError("aging_days <= stale_days <= critical_days must hold")
        if not (self.aging_accuracy_drop <= self.stale_accuracy_drop
                <= self.critical_accuracy_drop):
            raise ValueError("aging_accuracy_drop <= stale_accuracy_drop <= "
                             "critical_accuracy_drop must hold")
        return self
