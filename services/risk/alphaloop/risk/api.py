"""gRPC surface of the risk service (CheckOrder, GetStatus, Halt, Resume): parse the request, call the domain,
build the reply. The domain (pre-trade checks, sizing, breakers and the kill switch) lands with the issue that owns it; until then each
RPC answers UNIMPLEMENTED from the generated base class, and no test pretends otherwise."""

from __future__ import annotations

import grpc

from alphaloop.risk.config import Settings
from alphaloop.v1 import risk_service_pb2, risk_service_pb2_grpc


class RiskApi(risk_service_pb2_grpc.RiskServiceServicer):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def register(self, server: grpc.Server) -> list[str]:
        """Add this servicer to ``server``; return its full service name (for reflection)."""
        risk_service_pb2_grpc.add_RiskServiceServicer_to_server(self, server)
        return [risk_service_pb2.DESCRIPTOR.services_by_name["RiskService"].full_name]
