"""Service settings (pydantic-settings).

Each service has one ``Settings`` class, a subclass of :class:`ServiceSettings`, with the env
prefix ``ALPHALOOP_<SERVICE>_``. Sources, highest priority first: keyword arguments given in
code, environment variables, then the documented defaults. The defaults are the embedded mode:
in-process bus, DuckDB under ``.alphaloop/``, no servers, no keys. An invalid value fails at
start-up with a :class:`SettingsError` naming the environment variable to fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from alphaloop.common.errors import SettingsError

SERVICES: tuple[str, ...] = ("ingest", "features", "models", "grading", "risk", "execution")

#: Default gRPC and metrics ports per service (gRPC 50051.., metrics 9101..).
DEFAULT_GRPC_PORTS = {name: 50051 + i for i, name in enumerate(SERVICES)}
DEFAULT_METRICS_PORTS = {name: 9101 + i for i, name in enumerate(SERVICES)}

BusBackend = Literal["memory", "redis", "kafka"]
StoreBackend = Literal["duckdb", "postgres"]


def env_prefix(service: str) -> str:
    return f"ALPHALOOP_{service.upper()}_"


class ServiceSettings(BaseSettings):
    """Fields every service shares. Subclasses set ``service`` and ``model_config``."""

    service: ClassVar[str] = "common"
    model_config = SettingsConfigDict(env_prefix="ALPHALOOP_", extra="ignore", frozen=True)

    host: str = Field(
        "127.0.0.1",
        description="Address the gRPC and metrics servers bind to. The Helm chart sets 0.0.0.0.",
    )
    grpc_port: int = Field(0, description="gRPC port; 0 means the service's default port.")
    metrics_port: int = Field(
        0, description="Prometheus /metrics HTTP port; 0 means the service's default port."
    )
    bus_backend: BusBackend = Field(
        "memory", description="Event bus: memory (in-process, embedded default), redis, kafka."
    )
    bus_url: str = Field(
        "",
        description="Bus address: redis://host:port/db for redis, kafka://host:port[,host:port] "
        "for kafka. Empty for memory.",
    )
    bus_max_attempts: int = Field(
        5, ge=1, le=100, description="Deliveries of a failing message before it is dead-lettered."
    )
    store_backend: StoreBackend = Field(
        "duckdb", description="Store: duckdb (embedded file, default) or postgres (TimescaleDB)."
    )
    store_url: str = Field(
        "",
        description="Store address: a file path for duckdb (empty: <state_dir>/alphaloop.duckdb), "
        "postgresql://user@host:port/db for postgres.",
    )
    state_dir: Path = Field(
        Path(".alphaloop"), description="Folder for embedded state (DuckDB file, MLflow, runs)."
    )
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto: readable on a terminal, JSON otherwise (in the cluster)."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    auth_token: SecretStr | None = Field(
        None,
        description="Bearer token that privileged RPCs (halt, resume, submit order, promote) "
        "require. Prefer auth_token_file in the cluster.",
    )
    auth_token_file: Path | None = Field(
        None, description="File holding the bearer token (a mounted Kubernetes secret)."
    )
    otel_exporter: Literal["none", "console", "otlp"] = Field(
        "none", description="Where traces go: none, console (stderr) or otlp."
    )
    otel_endpoint: str = Field(
        "http://127.0.0.1:4317", description="OTLP collector endpoint when otel_exporter=otlp."
    )
    shutdown_grace_seconds: float = Field(
        10.0, ge=0, le=600, description="On SIGTERM, seconds in-flight RPCs get to finish."
    )

    @field_validator("grpc_port", "metrics_port")
    @classmethod
    def _port_in_range(cls, v: int) -> int:
        if not 0 <= v <= 65535:
            raise ValueError(f"port must be between 1 and 65535 (0 = default), got {v}")
        return v

    @model_validator(mode="after")
    def _urls_match_backends(self) -> ServiceSettings:
        if self.bus_backend == "redis":
            _check_url(self.bus_url or "redis://127.0.0.1:6379/0", ("redis", "rediss"), "bus_url")
        elif self.bus_backend == "kafka":
            _check_url(self.bus_url or "kafka://127.0.0.1:9092", ("kafka",), "bus_url")
        if self.store_backend == "postgres":
            _check_url(
                self.store_url or "postgresql://postgres@127.0.0.1:5432/postgres",
                ("postgres", "postgresql"),
                "store_url",
            )
        return self

    # -- derived values ---------------------------------------------------------------
    @property
    def effective_grpc_port(self) -> int:
        return self.grpc_port or DEFAULT_GRPC_PORTS.get(self.service, 50050)

    @property
    def effective_metrics_port(self) -> int:
        return self.metrics_port or DEFAULT_METRICS_PORTS.get(self.service, 9100)

    @property
    def effective_bus_url(self) -> str:
        return self.bus_url or {
            "redis": "redis://127.0.0.1:6379/0",
            "kafka": "kafka://127.0.0.1:9092",
        }.get(self.bus_backend, "")

    @property
    def effective_store_url(self) -> str:
        if self.store_url:
            return self.store_url
        if self.store_backend == "duckdb":
            return str(self.state_dir / "alphaloop.duckdb")
        return "postgresql://postgres@127.0.0.1:5432/postgres"

    def token(self) -> str | None:
        """The privileged-RPC bearer token, read from the secret file if one is set."""
        if self.auth_token_file is not None:
            try:
                value = self.auth_token_file.read_text().strip()
            except OSError as exc:
                raise SettingsError(
                    f"{self.env_name('auth_token_file')}: cannot read {self.auth_token_file}: "
                    f"{exc.strerror}"
                ) from exc
            if not value:
                raise SettingsError(
                    f"{self.env_name('auth_token_file')}: {self.auth_token_file} is empty"
                )
            return value
        return self.auth_token.get_secret_value() if self.auth_token else None

    @classmethod
    def env_name(cls, field: str) -> str:
        return f"{cls.model_config.get('env_prefix', '')}{field}".upper()

    @classmethod
    def describe(cls) -> list[tuple[str, str, str]]:
        """(environment variable, default, description) for every field: the docs table."""
        rows = []
        for name, info in cls.model_fields.items():
            default = info.default
            shown = "" if default is None else str(default)
            rows.append((cls.env_name(name), shown, info.description or ""))
        return rows


def _check_url(url: str, schemes: tuple[str, ...], field: str) -> None:
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a non-numeric or out-of-range port
    except ValueError as exc:
        raise ValueError(f"{field}: malformed URL {url!r}: {exc}") from None
    if parts.scheme not in schemes:
        raise ValueError(
            f"{field}: URL {url!r} must start with {' or '.join(s + '://' for s in schemes)}"
        )
    if not parts.hostname:
        raise ValueError(f"{field}: URL {url!r} has no host")
    del port


S = TypeVar("S", bound=ServiceSettings)


def service_config(service: str) -> SettingsConfigDict:
    """``model_config`` for a service's Settings: env prefix ALPHALOOP_<SERVICE>_."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    return SettingsConfigDict(env_prefix=env_prefix(service), extra="ignore", frozen=True)


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Build settings, turning pydantic's validation report into one clear line per problem
    that names the environment variable to fix."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p]
            msg = err.get("msg", "invalid value").removeprefix("Value error, ")
            if loc:
                field = loc[0]
                problems.append(f"{cls.env_name(field)}: {msg} (got {err.get('input')!r})")
            else:  # model-level validators put the field name in the message
                field, _, rest = msg.partition(": ")
                name = cls.env_name(field) if field in cls.model_fields else field
                problems.append(f"{name}: {rest or msg}")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
