"""The training configuration: one YAML file says which model, with which parameters, on
which features and labels, validated how, calibrated how. The shipped configs are package data
in ``alphaloop/models/configs/`` (``default.yaml``, ``universe.yaml``), so any install and
every service image carries them; :func:`load_config` reads one by name or any file,
:func:`parse_config_text` reads the same YAML or JSON given as text (the Train RPC)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alphaloop.common.errors import InvalidInputError
from alphaloop.models.dataset import DatasetSettings, LabelSettings
from alphaloop.models.training.classifiers import MODEL_CLASSES

#: The shipped configs: package data next to this package (any install, editable or not).
CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
DEFAULT_CONFIG_PATH = CONFIG_DIR / "default.yaml"


class CVSettings(BaseModel):
    """Purged k-fold on the training period (AFML 7.4)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_splits: int = Field(5, ge=2, description="Contiguous folds over time.")
    embargo_pct: float = Field(0.01, ge=0.0, lt=1.0,
                               description="Embargo after each test fold, share of samples.")


class CalibrationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["auto", "isotonic", "platt", "none"] = Field(
        "auto", description="auto: the lowest cross-fitted Brier score on the OOF predictions.")
    n_bins: int = Field(10, ge=2, le=100, description="Equal-width bins of ECE and the curve.")


class MetaSettings(BaseModel):
    """Meta-labelling (AFML 3.6): a secondary classifier of whether trading the primary model's
    side pays, trained on the primary's out-of-fold probabilities (see
    ``alphaloop.models.training.meta``). Its probability ``p_meta`` filters the ML strategy
    (grading's ``ml_meta``). Off by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(False, description="Train the meta-label model and add p_meta to the "
                          "predictions (grading then also grades ml_meta).")
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="ml_meta trades an event only "
                             "when p_meta >= threshold; also the cut of the meta accuracy and "
                             "precision.")
    min_edge: float = Field(0.0, ge=0.0, lt=0.5, description="The primary takes a side only "
                            "where |p_cal - 0.5| > min_edge; other events get no side, no meta "
                            "label and no p_meta (0: every event not exactly at 0.5).")
    model: Literal["lightgbm", "xgboost", "catboost", "ensemble"] | None = Field(
        None, description="Meta classifier class; null: the primary's model class.")
    params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Meta classifier parameters per model class; they "
        "override the built-in defaults key by key (not the primary's params).")

    @field_validator("params")
    @classmethod
    def _known_classes(cls, v: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return _check_param_classes(v)


def _check_param_classes(v: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    unknown = set(v) - set(MODEL_CLASSES[:3])
    if unknown:
        raise ValueError(f"params for unknown model classes {sorted(unknown)}; "
                         "use lightgbm, xgboost, catboost")
    return v


class TrainConfig(BaseModel):
    """Everything that decides a trained model. Unknown keys are errors (typos fail loudly)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("default", description="Name of this configuration (logged as a tag).")
    model: Literal["lightgbm", "xgboost", "catboost", "ensemble"] = "lightgbm"
    params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Parameters per model class (lightgbm, xgboost, "
        "catboost); they override the built-in small defaults key by key.")
    features: list[str] | Literal["all"] = Field("all", description="Feature names or 'all'.")
    labels: LabelSettings = Field(default_factory=LabelSettings)
    dataset: DatasetSettings = Field(default_factory=DatasetSettings)
    cv: CVSettings = Field(default_factory=CVSettings)
    calibration: CalibrationSettings = Field(default_factory=CalibrationSettings)
    meta: MetaSettings = Field(default_factory=MetaSettings,
                               description="Meta-label model (AFML 3.6); off by default.")
    seed: int = Field(42, description="Seed of every model (and so of the whole run).")
    threads: int = Field(2, ge=1, description="Threads per model fit.")
    mode: Literal["pooled", "per_symbol"] = Field(
        "pooled", description="pooled: one cross-sectional model; per_symbol: one per symbol.")
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0,
                                 description="Last share of event dates held out as the test.")
    min_symbol_events: int = Field(60, ge=2, description="per_symbol: symbols with fewer "
                                   "training events get no model.")
    registered_model: str | None = Field(
        None, description="Model Registry name; default alphaloop-pooled / alphaloop-per-symbol.")

    @field_validator("params")
    @classmethod
    def _known_classes(cls, v: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return _check_param_classes(v)

    @property
    def registry_name(self) -> str:
        return self.registered_model or f"alphaloop-{self.mode.replace('_', '-')}"

    def digest(self) -> str:
        """sha256 of the canonical JSON of this config (keys sorted): equal configs agree. A
        default (disabled) ``meta`` section is left out, so configs written before it existed
        keep their digest (and their per-symbol checkpoints)."""
        exclude = {"meta"} if self.meta == MetaSettings() else None
        return hashlib.sha256(self.model_dump_json(exclude=exclude).encode()).hexdigest()

    def flat_params(self) -> dict[str, str]:
        """Dotted ``key: value`` strings for experiment tracking (``labels.pt_sl: [1.0, 1.0]``)."""
        out: dict[str, str] = {}

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, dict) and value:
                for k in sorted(value):
                    walk(f"{prefix}.{k}" if prefix else str(k), value[k])
            else:
                out[prefix] = str(value)

        data = self.model_dump(mode="json")
        if isinstance(data["features"], list):
            data["features"] = f"{len(data['features'])} listed (see features.json)"
        walk("", data)
        return out


def shipped_configs() -> list[str]:
    """Names of the configs shipped with the package (``alphaloop/models/configs/*.yaml``)."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def load_config(path: str | Path | None = None, **overrides: Any) -> TrainConfig:
    """Read a YAML training config: a file path, or the name of a shipped config
    (``default``, ``universe``: :func:`shipped_configs`) when no such file exists; default
    ``default``. ``overrides`` replace top-level keys (e.g. ``model="xgboost"``)."""
    path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    if not path.exists() and path.parent == Path(".") and path.stem in shipped_configs():
        path = CONFIG_DIR / f"{path.stem}.yaml"
    try:
        text = path.read_text()
    except OSError as exc:
        raise InvalidInputError("config", f"cannot read {path}: {exc}") from exc
    return _parse(text, "config", str(path), overrides)


def parse_config_text(text: str, field: str = "config_text") -> TrainConfig:
    """A training config given as YAML or JSON text (JSON is YAML), validated like a file:
    unknown keys are errors. Like a file it is complete: keys it leaves out take the
    :class:`TrainConfig` defaults, not ``default.yaml``'s. Bad text raises
    ``InvalidInputError(field, ...)``."""
    return _parse(text, field, None, {})


def _parse(text: str, field: str, path: str | None, overrides: dict[str, Any]) -> TrainConfig:
    where = f"{path}: " if path else ""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise InvalidInputError(field, f"{path or 'the text'} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidInputError(field, f"{where}expected a mapping at the top level")
    data.update(overrides)
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        raise InvalidInputError(field, f"{where}{exc}") from exc
