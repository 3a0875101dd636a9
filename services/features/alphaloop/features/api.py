"""gRPC surface of the features service (ComputeFeatures, DescribeFeatures): parse the request, call the domain,
build the reply. The domain (the point-in-time feature library) lands with the issue that owns it; until then each
RPC answers UNIMPLEMENTED from the generated base class, and no test pretends otherwise."""

from __future__ import annotations

import grpc

from alphaloop.features.config import Settings
from alphaloop.v1 import features_service_pb2, features_service_pb2_grpc


class FeaturesApi(features_service_pb2_grpc.FeatureServiceServicer):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def register(self, server: grpc.Server) -> list[str]:
        """Add this servicer to ``server``; return its full service name (for reflection)."""
        features_service_pb2_grpc.add_FeatureServiceServicer_to_server(self, server)
        return [features_service_pb2.DESCRIPTOR.services_by_name["FeatureService"].full_name]
