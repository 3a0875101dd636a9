"""gRPC surface of the execution service (SubmitOrder, CancelAll, GetPositions, Reconcile): parse the request, call the domain,
build the reply. The domain (the order state machine, venues and execution algorithms) lands with the issue that owns it; until then each
RPC answers UNIMPLEMENTED from the generated base class, and no test pretends otherwise."""

from __future__ import annotations

import grpc

from alphaloop.execution.config import Settings
from alphaloop.v1 import execution_service_pb2, execution_service_pb2_grpc


class ExecutionApi(execution_service_pb2_grpc.ExecutionServiceServicer):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def register(self, server: grpc.Server) -> list[str]:
        """Add this servicer to ``server``; return its full service name (for reflection)."""
        execution_service_pb2_grpc.add_ExecutionServiceServicer_to_server(self, server)
        return [execution_service_pb2.DESCRIPTOR.services_by_name["ExecutionService"].full_name]
