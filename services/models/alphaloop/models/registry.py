"""Experiment tracking and the model registry (MLflow).

Embedded default: tracking URI ``sqlite:///<state_dir>/mlflow.db`` with artifacts under
``<state_dir>/mlartifacts``; in the cluster, pass the tracking server's URI (from settings).
Every training run logs its parameters, metrics (CV, test, Brier/ECE before and after
calibration), the feature list, the data fingerprint (tag and param), feature importances, the
calibration curve, the OOF and test predictions (with ``p_meta`` when a meta-label model was
trained; its metrics are the ``meta_*`` ones), and the model: an ``mlflow.pyfunc`` model
wrapping the booster(s) and the calibrator, so a model loaded back from the registry returns
calibrated probabilities, registered under a name with versions and aliases
(``champion`` / ``challenger``).

MLflow keeps its tracking URI in process-global state; :class:`Tracking` sets it only for the
duration of each call and restores it after, so two instances with different stores can be used
one after the other (not from two threads at once). Usage telemetry is off unless the environment
sets ``MLFLOW_DISABLE_TELEMETRY=false``: a trading platform should not phone home by default.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from alphaloop.common.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from alphaloop.models.training import CalibratedModel, TrainResult

DEFAULT_EXPERIMENT = "alphaloop-training"
CHAMPION, CHALLENGER = "champion", "challenger"
MODEL_ARTIFACT = "model"
_PICKLE_KEY = "calibrated_model"
TAG_PREFIX = "alphaloop."
#: The "models from code" file that MLflow stores with each model (see pyfunc_entry.py).
_PYFUNC_ENTRY = Path(__file__).resolve().parent / "training" / "pyfunc_entry.py"


def embedded_tracking_uri(state_dir: str | Path) -> str:
    """``sqlite:///<absolute state_dir>/mlflow.db``."""
    return f"sqlite:///{Path(state_dir).resolve() / 'mlflow.db'}"


class CalibratedPyfuncModel(mlflow.pyfunc.PythonModel):
    """The pyfunc face of a :class:`CalibratedModel`: ``predict(frame)`` -> calibrated p(up) as
    a float64 array (feature columns; a per-symbol model also needs ``symbol``)."""

    def load_context(self, context) -> None:
        with open(context.artifacts[_PICKLE_KEY], "rb") as fh:
            self.model: CalibratedModel = pickle.load(fh)

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None):
        return self.model.predict(model_input)


@dataclass(frozen=True)
class ModelVersionInfo:
    name: str
    version: str
    run_id: str | None
    aliases: tuple[str, ...]
    created_ms: int
    tags: dict[str, str]


@dataclass(frozen=True)
class LoggedRun:
    run_id: str
    model_name: str | None
    model_version: str | None
    model_uri: str


class Tracking:
    """One MLflow store. ``Tracking()`` is the embedded default under ``.alphaloop/``;
    ``Tracking("http://mlflow:5000")`` uses a tracking server (artifacts where it says)."""

    def __init__(self, tracking_uri: str | None = None, *, state_dir: str | Path = ".alphaloop",
                 experiment: str = DEFAULT_EXPERIMENT, registry_uri: str | None = None) -> None:
        self.artifact_location: str | None = None
        if not tracking_uri:
            state = Path(state_dir).resolve()
            state.mkdir(parents=True, exist_ok=True)
            tracking_uri = embedded_tracking_uri(state)
            self.artifact_location = (state / "mlartifacts").as_uri()
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri or tracking_uri
        self.experiment = experiment
        self.client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri)
        self._experiment_id: str | None = None

    @classmethod
    def from_settings(cls, settings: Any, tracking_uri: str = "", **kwargs: Any) -> Tracking:
        """Embedded under ``settings.state_dir`` unless ``tracking_uri`` names a server."""
        return cls(tracking_uri or None, state_dir=settings.state_dir, **kwargs)

    @property
    def experiment_id(self) -> str:
        if self._experiment_id is None:
            found = self.client.get_experiment_by_name(self.experiment)
            if found is not None:
                self._experiment_id = found.experiment_id
            else:
                self._experiment_id = self.client.create_experiment(
                    self.experiment, artifact_location=self.artifact_location)
        return self._experiment_id

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Point MLflow's global fluent API at this store for the duration of the block."""
        previous = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.registry_uri)
        try:
            yield
        finally:
            mlflow.set_tracking_uri(previous[0])
            mlflow.set_registry_uri(previous[1])

    # -- logging ------------------------------------------------------------------------------

    def log_training(self, result: TrainResult, register: bool = True) -> LoggedRun:
        """Log ``result`` as one run and (``register``) register its model under
        ``result.config.registry_name``; sets ``result.run_id`` and ``result.model_version``."""
        config, fp = result.config, result.fingerprint
        name = config.registry_name if register else None
        with self.active(), tempfile.TemporaryDirectory(prefix="alphaloop-run-") as tmp:
            folder = Path(tmp)
            run_name = f"{config.name}-{config.model}-{config.mode}-{fp.short}"
            with mlflow.start_run(experiment_id=self.experiment_id, run_name=run_name) as run:
                mlflow.log_params(_params(result))
                mlflow.set_tags(_tags(result))
                mlflow.log_metrics(result.metrics())
                _write_artifacts(result, folder / "files")
                mlflow.log_artifacts(str(folder / "files"))
                info = self._log_model(result, folder / "model", name)
                run_id = run.info.run_id
        version = None if info.registered_model_version is None \
            else str(info.registered_model_version)
        if version is not None:
            for key, value in {"run_id": run_id, "data_fingerprint": fp.sha256,
                               "model_class": config.model, "mode": config.mode}.items():
                self.client.set_model_version_tag(name, version, TAG_PREFIX + key, value)
        result.run_id, result.model_version = run_id, version
        return LoggedRun(run_id, name, version, info.model_uri)

    def _log_model(self, result: TrainResult, folder: Path, name: str | None):
        folder.mkdir(parents=True)
        with (folder / "calibrated_model.pkl").open("wb") as fh:
            pickle.dump(result.model, fh, protocol=pickle.HIGHEST_PROTOCOL)
        example = _input_example(result)
        signature = infer_signature(example, result.model.predict(example))
        return mlflow.pyfunc.log_model(
            name=MODEL_ARTIFACT, python_model=str(_PYFUNC_ENTRY),
            artifacts={_PICKLE_KEY: str(folder / "calibrated_model.pkl")},
            signature=signature, input_example=example, registered_model_name=name,
            pip_requirements=_pip_requirements(), await_registration_for=0,
        )

    # -- registry -----------------------------------------------------------------------------

    def set_alias(self, name: str, version: str | int, alias: str) -> None:
        """Point ``alias`` (e.g. ``champion``) of model ``name`` at ``version`` (moving it)."""
        self._check_version(name, version)
        self.client.set_registered_model_alias(name, alias, str(version))

    def delete_alias(self, name: str, alias: str) -> None:
        self.client.delete_registered_model_alias(name, alias)

    def alias_version(self, name: str, alias: str) -> str:
        try:
            return str(self.client.get_model_version_by_alias(name, alias).version)
        except mlflow.exceptions.MlflowException as exc:
            raise NotFoundError(f"model {name!r} has no alias {alias!r}") from exc

    def load_alias(self, name: str, alias: str) -> tuple[Any, str]:
        """The pyfunc model behind ``name@alias`` and its version. The version is resolved
        first and that exact version loaded, so the pair is consistent even if the alias moves
        in between."""
        version = self.alias_version(name, alias)
        return self.load_version(name, version), version

    def load_version(self, name: str, version: str | int) -> Any:
        with self.active():
            return mlflow.pyfunc.load_model(f"models:/{name}/{version}")

    def load_calibrated_model(self, name: str, version: str | int) -> CalibratedModel:
        """The in-process :class:`CalibratedModel` of a version (no pyfunc wrapper)."""
        return self.load_version(name, version).unwrap_python_model().model

    def list_versions(self, name: str) -> list[ModelVersionInfo]:
        """Every version of ``name``, oldest first, with its aliases."""
        versions = self.client.search_model_versions(f"name = '{_quote(name)}'")
        # search results do not carry aliases on every backend; the registered model does.
        try:
            by_alias = self.client.get_registered_model(name).aliases or {}
        except mlflow.exceptions.MlflowException:
            by_alias = {}
        aliases: dict[str, list[str]] = {}
        for alias, version in by_alias.items():
            aliases.setdefault(str(version), []).append(alias)
        out = [ModelVersionInfo(name=v.name, version=str(v.version), run_id=v.run_id,
                                aliases=tuple(sorted(aliases.get(str(v.version), ()))),
                                created_ms=int(v.creation_timestamp or 0), tags=dict(v.tags))
               for v in versions]
        return sorted(out, key=lambda v: int(v.version))

    def _check_version(self, name: str, version: str | int) -> None:
        try:
            self.client.get_model_version(name, str(version))
        except mlflow.exceptions.MlflowException as exc:
            raise NotFoundError(f"model {name!r} has no version {version}") from exc


# -- module-level conveniences (embedded store unless a tracking URI is given) ----------------

def set_alias(name: str, version: str | int, alias: str, *, tracking_uri: str | None = None,
              state_dir: str | Path = ".alphaloop") -> None:
    Tracking(tracking_uri, state_dir=state_dir).set_alias(name, version, alias)


def load_alias(name: str, alias: str, *, tracking_uri: str | None = None,
               state_dir: str | Path = ".alphaloop") -> tuple[Any, str]:
    return Tracking(tracking_uri, state_dir=state_dir).load_alias(name, alias)


def list_versions(name: str, *, tracking_uri: str | None = None,
                  state_dir: str | Path = ".alphaloop") -> list[ModelVersionInfo]:
    return Tracking(tracking_uri, state_dir=state_dir).list_versions(name)


# -- what a run logs --------------------------------------------------------------------------

def _params(result: TrainResult) -> dict[str, str]:
    params = result.config.flat_params()
    fp, split = result.fingerprint, result.split
    params.update({
        "data_fingerprint": fp.sha256, "data_first_ts": fp.first_ts, "data_last_ts": fp.last_ts,
        "data_n_symbols": str(fp.n_symbols), "data_n_bars": str(fp.n_bars),
        "split_train_start": split.train_start.isoformat(),
        "split_train_end": split.train_end.isoformat(),
        "split_test_start": split.test_start.isoformat(),
        "split_test_end": split.test_end.isoformat(),
        "calibration_chosen": result.calibration.method,
    })
    # MLflow caps a param value at 6000 characters.
    return {k: v[:6000] for k, v in params.items()}


def _tags(result: TrainResult) -> dict[str, str]:
    fp = result.fingerprint
    return {TAG_PREFIX + k: str(v) for k, v in {
        "data_fingerprint": fp.sha256, "data_range": f"{fp.first_ts}/{fp.last_ts}",
        "data_n_symbols": fp.n_symbols, "model_class": result.config.model,
        "mode": result.config.mode, "config_name": result.config.name,
        "config_digest": result.config.digest(), "calibration": result.calibration.method,
    }.items()}


def _write_artifacts(result: TrainResult, folder: Path) -> None:
    folder.mkdir(parents=True)
    _json(folder / "features.json", {"features": result.feature_names,
                                     "count": len(result.feature_names)})
    _json(folder / "data_fingerprint.json", result.fingerprint.as_dict())
    result.importances.to_csv(folder / "feature_importances.csv", index=False)
    _json(folder / "feature_importances.json", result.importances.to_dict(orient="records"))
    _json(folder / "calibration_curve.json", result.calibration.as_dict())
    result.cv_folds.to_csv(folder / "cv_folds.csv", index=False)
    _json(folder / "summary.json", result.summary())
    (folder / "config.json").write_text(result.config.model_dump_json(indent=2))
    predictions = folder / "predictions"
    predictions.mkdir()
    result.oof.to_parquet(predictions / "oof.parquet", index=False)
    result.test.to_parquet(predictions / "test.parquet", index=False)
    if result.per_symbol is not None:
        result.per_symbol.to_csv(folder / "per_symbol.csv", index=False)
    if result.meta is not None:  # its p_meta is in the predictions above
        result.meta.cv_folds.to_csv(folder / "meta_cv_folds.csv", index=False)
        importances = result.meta.importances().rename_axis("feature").reset_index()
        importances.to_csv(folder / "meta_feature_importances.csv", index=False)
    _plot_calibration(result, folder / "calibration_curve.png")


def _plot_calibration(result: TrainResult, path: Path) -> None:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:  # the PNG is optional; the JSON curve is always logged
        return
    fig = Figure(figsize=(5, 5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
    for key, curve in result.calibration.curve.items():
        points = [(b["mean_predicted"], b["fraction_positive"]) for b in curve if b["count"]]
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="o", label=key.replace("_", " "))
    ax.set_xlabel("predicted p(up)")
    ax.set_ylabel("observed frequency of up")
    ax.set_title(f"calibration ({result.calibration.method})")
    ax.legend(loc="upper left", fontsize="small")
    fig.savefig(path, dpi=80)


def _input_example(result: TrainResult) -> pd.DataFrame:
    if result.input_example is not None and len(result.input_example):
        return result.input_example
    example = pd.DataFrame({c: [0.0] for c in result.feature_names})
    if result.model.mode == "per_symbol":
        example.insert(0, "symbol", result.model.symbols[:1])
    return example


def _pip_requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for package in ("lightgbm", "xgboost-cpu", "catboost", "scikit-learn", "pandas", "numpy"):
        try:
            out.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            continue
    return out


def _json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, default=_json_default, allow_nan=True))


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _quote(name: str) -> str:
    if "'" in name:
        raise InvalidInputError("name", "model names may not contain a single quote")
    return name
