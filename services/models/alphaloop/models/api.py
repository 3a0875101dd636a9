"""gRPC surface of the models service (Train, Predict, ListModels): parse the request, call the
domain, build the reply. Errors are domain exceptions that the shared interceptor maps to
status codes (InvalidInputError -> INVALID_ARGUMENT, FailedPreconditionError ->
FAILED_PRECONDITION, NotFoundError -> NOT_FOUND).

* Predict scores a batch of FeatureVectors with the served champion (or an explicitly named
  model/version) and returns one Signal per vector, in order. The champion at CRITICAL
  staleness answers FAILED_PRECONDITION (no new signals from it); naming a version explicitly
  bypasses that (research, replays). Data staleness is not applied here: Predict scores the
  vectors it is given, whatever their time; the stream is what refuses stale market data.
* ListModels lists registered versions with aliases, run metrics and staleness (the served
  version's includes its rolling accuracy; the others are judged on age alone).
* Train trains on the bars in the configured store with the config the request gives
  (``config_path``: a YAML/JSON file the service can read; ``config_text``: the YAML/JSON
  itself; neither, or an empty string: the shipped ``default.yaml``), logs the run to MLflow
  and registers a new version, as ``alphaloop train`` does. No alias moves: promotion is the
  grading service's job, so the served champion is unchanged. One training at a time per
  process: a Train arriving while one runs answers ABORTED (not RESOURCE_EXHAUSTED, which the
  shared client retries by itself and so would queue a second training). A caller whose
  deadline passes does not cancel the run: it still registers its version. The reply's
  metrics (:data:`TRAIN_METRICS`) carry the run's own MLflow metric names: ``cv_auc_mean``,
  ``cv_accuracy_mean``, ``cv_log_loss_mean`` (mean over the purged CV folds, raw fold models)
  and ``test_auc``, ``test_accuracy``, ``test_log_loss`` (held-out test period, the
  calibrated model that would be served).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc

from alphaloop.common.clock import Clock, LiveClock
from alphaloop.common.errors import (
    AlphaLoopError,
    FailedPreconditionError,
    InvalidInputError,
    NotFoundError,
)
from alphaloop.common.store import stored_bars
from alphaloop.models.config import Settings
from alphaloop.models.registry import Tracking
from alphaloop.models.serving import ModelServer, ServedModel, make_signal
from alphaloop.models.staleness import Thresholds, classify
from alphaloop.models.training import TrainConfig, TrainResult, load_config, train
from alphaloop.models.training.config import parse_config_text
from alphaloop.models.training.pipeline import SCORES
from alphaloop.v1 import models_service_pb2, models_service_pb2_grpc

SERVICE_NAME = models_service_pb2.DESCRIPTOR.services_by_name["ModelService"].full_name

#: Metrics of the Train reply, named as the run logs them in MLflow.
TRAIN_METRICS = (*(f"cv_{s}_mean" for s in SCORES), *(f"test_{s}" for s in SCORES))

#: One training per process, whatever the number of servicers: a run holds the whole bar
#: history and the training set in memory and uses the configured threads.
_TRAINING_SLOT = threading.Lock()


class TrainingInProgressError(AlphaLoopError):
    """A Train arrived while this process was already training."""

    status = grpc.StatusCode.ABORTED


def train_config(request: models_service_pb2.TrainRequest) -> TrainConfig:
    """The TrainConfig a TrainRequest names; bad input is INVALID_ARGUMENT naming the field
    (``config_path`` or ``config_text``)."""
    which = request.WhichOneof("config")
    if which == "config_text" and request.config_text.strip():
        return parse_config_text(request.config_text, "config_text")
    if which == "config_path" and request.config_path:
        try:
            return load_config(request.config_path)
        except InvalidInputError as exc:
            raise InvalidInputError("config_path", exc.problem) from exc
    return load_config()


def make_model_server(settings: Settings, clock: Clock | None = None) -> ModelServer:
    """The ModelServer the settings describe (tracking URI or embedded store, model, alias,
    poll interval, staleness thresholds)."""
    tracking = Tracking.from_settings(settings, settings.tracking_uri)
    return ModelServer(tracking, settings.model_name, settings.model_alias, clock or LiveClock(),
                       settings.poll_seconds, thresholds=Thresholds.from_settings(settings),
                       max_feature_age=timedelta(seconds=settings.max_feature_age_seconds))


class ModelsApi(models_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, settings: Settings, server: ModelServer | None = None,
                 clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or LiveClock()
        self.server = server or make_model_server(settings, self.clock)

    def register(self, server: grpc.Server) -> list[str]:
        """Add this servicer to ``server``; return its full service name (for reflection)."""
        models_service_pb2_grpc.add_ModelServiceServicer_to_server(self, server)
        return [SERVICE_NAME]

    # -- Train --------------------------------------------------------------------------------
    def Train(self, request, context):
        config = train_config(request)
        if not _TRAINING_SLOT.acquire(blocking=False):
            raise TrainingInProgressError(
                "a training run is already in progress in this service; retry when it has "
                "finished (ListModels then shows the version it registered)")
        try:
            result = self._train(config)
        finally:
            _TRAINING_SLOT.release()
        logged = result.metrics()
        return models_service_pb2.TrainResponse(
            run_id=result.run_id, model_id=config.registry_name,
            model_version=result.model_version, metrics={k: logged[k] for k in TRAIN_METRICS})

    def _train(self, config: TrainConfig) -> TrainResult:
        """Train on the stored bars, then log and register the run in the served registry.
        Logging points MLflow's process-global URI at the store, so it holds the registry lock
        (the poll and Predict wait for that part, not for the training)."""
        bars = stored_bars(self.settings.store_backend, self.settings.effective_store_url)
        try:
            result = train(config, bars, run_dir=Path(self.settings.state_dir) / "training")
        except InvalidInputError as exc:
            if exc.field != "bars":
                raise
            # the request is fine; the store holds too little for this config
            raise FailedPreconditionError(f"the stored bars cannot be trained on: {exc.problem}"
                                          ) from exc
        with self.server._registry_lock:
            self.server.tracking.log_training(result)
        return result

    # -- Predict ------------------------------------------------------------------------------
    def Predict(self, request, context):
        model = self._model_for(request.model_id, request.model_version)
        probs, model = self.server.predict_vectors(list(request.features), model)
        strategy = request.strategy or self.settings.strategy
        reply = models_service_pb2.PredictResponse(model_id=model.name,
                                                   model_version=model.version)
        reply.signals.extend(make_signal(v, float(p), model, strategy)
                             for v, p in zip(request.features, probs, strict=True))
        return reply

    def _model_for(self, model_id: str, version: str) -> ServedModel:
        srv = self.server
        if (not model_id or model_id == srv.model_name) and not version:
            served = srv.require()
            allowed, reason = srv.signals_allowed()
            if not allowed:
                raise FailedPreconditionError(f"no new signals: {reason}")
            return served
        name = model_id or srv.model_name
        with srv._registry_lock:
            if not version:
                version = srv.tracking.alias_version(name, srv.alias)
            else:
                srv.tracking._check_version(name, version)
        return srv.load(name, version)

    # -- ListModels -----------------------------------------------------------------------------
    def ListModels(self, request, context):
        srv = self.server
        tracking = srv.tracking
        with srv._registry_lock:
            if request.name:
                names = [request.name]
            else:
                names = sorted(m.name for m in tracking.client.search_registered_models())
            rows = []
            for name in names:
                versions = tracking.list_versions(name)
                if request.name and not versions:
                    raise NotFoundError(f"no registered model named {name!r}")
                for v in versions:
                    metrics = {}
                    if v.run_id:
                        metrics = dict(tracking.client.get_run(v.run_id).data.metrics)
                    rows.append((v, metrics))
        current = srv.current
        served_assessment = srv.assess()
        now = self.clock.now()
        reply = models_service_pb2.ListModelsResponse()
        for v, metrics in rows:
            trained = datetime.fromtimestamp(v.created_ms / 1000.0, tz=UTC)
            if (current is not None and served_assessment is not None
                    and (v.name, v.version) == (current.name, current.version)):
                assessment = served_assessment
            else:
                assessment = classify(max(now - trained, timedelta(0)), None, None,
                                      srv.staleness.thresholds)
            info = models_service_pb2.ModelInfo(
                name=v.name, version=v.version, aliases=list(v.aliases),
                metrics={k: float(x) for k, x in metrics.items()},
                staleness=assessment.level.proto, run_id=v.run_id or "")
            info.trained_at.FromDatetime(trained)
            reply.models.append(info)
        return reply
