"""Settings of the features service: environment variables ALPHALOOP_FEATURES_<FIELD>.
Run ``alphaloop settings features`` for the full table with defaults."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from alphaloop.common.settings import ServiceSettings, service_config


class Settings(ServiceSettings):
    """Features service settings. Inherits the shared fields (ports, bus, store, logging, auth)."""

    service: ClassVar[str] = "features"
    model_config = service_config("features")

    stream: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Run the streaming engine (bars topic -> features topic) beside the gRPC "
        "server: auto runs it on a Redis or Kafka bus only (on the in-process memory bus no "
        "other process could publish bars).",
    )
    stream_group: str = Field(
        "features", description="Consumer group of the streaming engine on the bars topic."
    )
    stream_universe: list[str] = Field(
        default_factory=list,
        description="Symbols the stream waits for before it completes a date (a date is "
        "complete once each of them sent a bar at or after it); empty: a date is complete "
        "when a bar with a later timestamp arrives.",
    )
    stream_features: list[str] = Field(
        default_factory=list,
        description="Features the stream publishes; empty means every feature.",
    )
    seed_from_store: bool = Field(
        True,
        description="At start-up, load the stream's bar history from the store (store_backend, "
        "store_url) and publish the dates whose vectors were not yet published (the stream "
        "records the newest published date in the store's job checkpoints), so a restarted "
        "stream continues exactly where it stopped. An empty store starts empty; a store that "
        "cannot be read fails start-up (rather than publish vectors computed from a few bars). "
        "false: start empty and record nothing.",
    )
    seed_interval: str = Field(
        "1d", min_length=1,
        description="Bar interval the start-up seed reads from the store: the interval of the "
        "bars on the bars topic.",
    )
    seed_lookback_days: int = Field(
        0, ge=0,
        description="Calendar days of stored history the seed loads, counted back from the "
        "newest published date (else the newest stored bar); 0 loads all of it. Any bound "
        "breaks bit-equality with the batch "
        "library: recursive and cumulative features (EMA, RSI, ADX, OBV, ...) depend on every "
        "earlier bar and long warm-ups come back NaN, hence the default.",
    )
    max_bars_per_request: int = Field(
        2_000_000, ge=1,
        description="Most bars one ComputeFeatures request may carry or select from the store.",
    )
