"""gRPC surface of the grading service (Grade, Backtest, ListGrades, Promote): parse the request, call the domain,
build the reply. The domain (metrics, the grade, the promotion gate and the backtester) lands with the issue that owns it; until then each
RPC answers UNIMPLEMENTED from the generated base class, and no test pretends otherwise."""

from __future__ import annotations

import grpc

from alphaloop.grading.config import Settings
from alphaloop.v1 import grading_service_pb2, grading_service_pb2_grpc


class GradingApi(grading_service_pb2_grpc.GradingServiceServicer):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def register(self, server: grpc.Server) -> list[str]:
        """Add this servicer to ``server``; return its full service name (for reflection)."""
        grading_service_pb2_grpc.add_GradingServiceServicer_to_server(self, server)
        return [grading_service_pb2.DESCRIPTOR.services_by_name["GradingService"].full_name]
