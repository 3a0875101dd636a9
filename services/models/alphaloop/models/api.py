"""gRPC surface of the models service (Train, Predict, ListModels): parse the request, call the domain,
build the reply. The domain (labels, purged CV, training, calibration and serving) lands with the issue that owns it; until then each
RPC answers UNIMPLEMENTED from the generated base class, and no test pretends otherwise."""

from __future__ import annotations

import grpc

from alphaloop.models.config import Settings
from alphaloop.v1 import models_service_pb2, models_service_pb2_grpc


class ModelsApi(models_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def register(self, server: grpc.Server) -> list[str]:
        """Add this servicer to ``server``; return its full service name (for reflection)."""
        models_service_pb2_grpc.add_ModelServiceServicer_to_server(self, server)
        return [models_service_pb2.DESCRIPTOR.services_by_name["ModelService"].full_name]
