"""Client helpers retry transient failures a bounded number of times and enforce deadlines;
trace context crosses the gRPC hop; logs are JSON lines in the cluster."""

import io
import json
import logging
import threading
import time

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from alphaloop.cli.app import service_module
from alphaloop.common.errors import UnavailableError
from alphaloop.common.logging import JsonFormatter
from alphaloop.common.rpc import ServiceServer, make_channel
from alphaloop.v1 import risk_service_pb2, risk_service_pb2_grpc


class _FlakyRisk(risk_service_pb2_grpc.RiskServiceServicer):
    def __init__(self, failures: int, delay: float = 0.0) -> None:
        self.failures = failures
        self.delay = delay
        self.calls = 0
        self.trace_ids: list[int] = []
        self.lock = threading.Lock()

    def GetStatus(self, request, context):
        with self.lock:
            self.calls += 1
            call = self.calls
        self.trace_ids.append(trace.get_current_span().get_span_context().trace_id)
        if self.delay:
            time.sleep(self.delay)
        if call <= self.failures:
            raise UnavailableError("store down")
        return risk_service_pb2.GetStatusResponse()


@pytest.fixture
def flaky_server():
    servers = []

    def start(servicer):
        def register(server):
            risk_service_pb2_grpc.add_RiskServiceServicer_to_server(servicer, server)
            return ["alphaloop.v1.RiskService"]

        server = ServiceServer("risk", service_module("risk").load(), register)
        server.start(grpc_port=0, metrics_port=0)
        servers.append(server)
        return server.port

    yield start
    for server in servers:
        server.stop(grace=0)


def _status(port, **opts):
    with make_channel(f"127.0.0.1:{port}", initial_backoff=0.01, max_backoff=0.05, **opts) as ch:
        return risk_service_pb2_grpc.RiskServiceStub(ch).GetStatus(risk_service_pb2.GetStatusRequest())


def test_transient_unavailable_is_retried_until_it_succeeds(flaky_server):
    servicer = _FlakyRisk(failures=2)
    _status(flaky_server(servicer), max_attempts=4)
    assert servicer.calls == 3


def test_retries_are_bounded(flaky_server):
    servicer = _FlakyRisk(failures=100)
    with pytest.raises(grpc.RpcError) as err:
        _status(flaky_server(servicer), max_attempts=3)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert servicer.calls == 3


def test_default_deadline_cuts_a_slow_call(flaky_server):
    servicer = _FlakyRisk(failures=0, delay=2.0)
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as err:
        _status(flaky_server(servicer), deadline=0.3)
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 1.5


def test_trace_context_crosses_the_grpc_hop(flaky_server):
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider = trace.get_tracer_provider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    servicer = _FlakyRisk(failures=0)
    port = flaky_server(servicer)
    with trace.get_tracer("test").start_as_current_span("client-call") as span:
        _status(port)
        client_trace = span.get_span_context().trace_id
    assert servicer.trace_ids == [client_trace]


def test_json_log_lines_carry_structured_fields():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("risk"))
    logger = logging.getLogger("alphaloop.test.json")
    logger.addHandler(handler)
    logger.propagate = False
    logger.warning("halted", extra={"fields": {"operator": "alice", "reason": "drill"}})
    record = json.loads(stream.getvalue())
    assert record["msg"] == "halted" and record["level"] == "warning"
    assert record["service"] == "risk" and record["operator"] == "alice"
    assert record["reason"] == "drill"
