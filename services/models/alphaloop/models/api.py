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
* Train stays UNIMPLEMENTED here (training runs as the overnight job, ``alphaloop run``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc

from alphaloop.common.clock import Clock, LiveClock
from alphaloop.common.errors import FailedPreconditionError, NotFoundError
from alphaloop.models.config import Settings
from alphaloop.models.registry import Tracking
from alphaloop.models.serving import ModelServer, ServedModel, make_signal
from alphaloop.models.staleness import Thresholds, classify
from alphaloop.v1 import models_service_pb2, models_service_pb2_grpc

SERVICE_NAME = models_service_pb2.DESCRIPTOR.services_by_name["ModelService"].full_name


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
