"""gRPC surface of the ingest service (Hydrate (streamed progress), GetBars, ListSymbols): parse the request, call the domain,
build the reply. The domain (sources, the quality gate and resumable hydration) lands with the issue that owns it; until then each
RPC answers UNIMPLEMENTED from the generated base class, and no test pretends otherwise."""

from __future__ import annotations

import grpc

from alphaloop.ingest.config import Settings
from alphaloop.v1 import ingest_service_pb2, ingest_service_pb2_grpc


class IngestApi(ingest_service_pb2_grpc.IngestServiceServicer):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def register(self, server: grpc.Server) -> list[str]:
        """Add this servicer to ``server``; return its full service name (for reflection)."""
        ingest_service_pb2_grpc.add_IngestServiceServicer_to_server(self, server)
        return [ingest_service_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name]
