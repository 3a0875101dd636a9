"""Every service starts, answers grpc.health.v1 and reflection, maps domain errors, guards
privileged RPCs with the bearer token, and answers UNIMPLEMENTED for RPCs not built yet."""

import os
import signal
import socket
import subprocess
import sys

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from alphaloop.cli.app import service_module
from alphaloop.common.errors import InvalidInputError
from alphaloop.common.rpc import ServiceServer, make_channel
from alphaloop.common.settings import SERVICES
from alphaloop.v1 import risk_service_pb2, risk_service_pb2_grpc

SERVICE_NAMES = {
    "ingest": "alphaloop.v1.IngestService",
    "features": "alphaloop.v1.FeatureService",
    "models": "alphaloop.v1.ModelService",
    "grading": "alphaloop.v1.GradingService",
    "risk": "alphaloop.v1.RiskService",
    "execution": "alphaloop.v1.ExecutionService",
}


@pytest.fixture
def start_service(tmp_path):
    started: list[ServiceServer] = []

    def start(name: str, **overrides) -> ServiceServer:
        mod = service_module(name)
        overrides.setdefault("state_dir", tmp_path / name)
        server = mod.build(mod.load(**overrides))
        server.start(grpc_port=0, metrics_port=0)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop(grace=0)


def test_all_six_services_answer_health_serving_on_ephemeral_ports(start_service):
    servers = {name: start_service(name) for name in SERVICES}
    assert len({s.port for s in servers.values()}) == 6
    for name, server in servers.items():
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for svc in ("", SERVICE_NAMES[name]):
                reply = health.Check(health_pb2.HealthCheckRequest(service=svc), timeout=5)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING, (name, svc)


@pytest.mark.parametrize("name", SERVICES)
def test_reflection_lists_the_service_and_health(start_service, name):
    server = start_service(name)
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        services = set(ProtoReflectionDescriptorDatabase(channel).get_services())
    assert {SERVICE_NAMES[name], "grpc.health.v1.Health"} <= services


def test_metrics_endpoint_counts_rpcs(start_service):
    import urllib.request

    server = start_service("risk")
    with make_channel(f"127.0.0.1:{server.port}") as channel, pytest.raises(grpc.RpcError):
        risk_service_pb2_grpc.RiskServiceStub(channel).GetStatus(
            risk_service_pb2.GetStatusRequest()
        )
    text = urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=5).read()
    assert b'alphaloop_grpc_requests_total{code="UNIMPLEMENTED",method="GetStatus",service="risk"}' in text


def test_unbuilt_rpc_answers_unimplemented(start_service):
    server = start_service("risk")
    with make_channel(f"127.0.0.1:{server.port}") as channel, \
            pytest.raises(grpc.RpcError) as err:
        risk_service_pb2_grpc.RiskServiceStub(channel).GetStatus(
            risk_service_pb2.GetStatusRequest()
        )
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED


def _halt(port: int, token: str | None):
    with make_channel(f"127.0.0.1:{port}", token=token) as channel:
        return risk_service_pb2_grpc.RiskServiceStub(channel).Halt(
            risk_service_pb2.HaltRequest(reason="test", operator="pytest")
        )


def test_privileged_rpc_without_token_is_unauthenticated(start_service):
    server = start_service("risk", auth_token="right-token")
    with pytest.raises(grpc.RpcError) as err:
        _halt(server.port, None)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_privileged_rpc_with_wrong_token_is_denied(start_service):
    server = start_service("risk", auth_token="right-token")
    with pytest.raises(grpc.RpcError) as err:
        _halt(server.port, "wrong-token")
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_privileged_rpc_with_right_token_passes_the_interceptor(start_service):
    server = start_service("risk", auth_token="right-token")
    with pytest.raises(grpc.RpcError) as err:
        _halt(server.port, "right-token")
    # Past the token check: the halt body itself is not built yet.
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_privileged_rpc_is_refused_when_no_token_is_configured(start_service):
    server = start_service("risk")
    with pytest.raises(grpc.RpcError) as err:
        _halt(server.port, "anything")
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "no auth token configured" in err.value.details()


def test_unprivileged_rpc_needs_no_token(start_service):
    server = start_service("risk", auth_token="right-token")
    with make_channel(f"127.0.0.1:{server.port}") as channel, \
            pytest.raises(grpc.RpcError) as err:
        risk_service_pb2_grpc.RiskServiceStub(channel).CheckOrder(
            risk_service_pb2.CheckOrderRequest()
        )
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED


class _RejectingRisk(risk_service_pb2_grpc.RiskServiceServicer):
    def CheckOrder(self, request, context):
        raise InvalidInputError("quantity", "must be positive, got 0")

    def GetStatus(self, request, context):
        raise RuntimeError("secret internal detail")


def test_domain_errors_map_to_status_codes_naming_the_field():
    mod = service_module("risk")

    def register(server):
        risk_service_pb2_grpc.add_RiskServiceServicer_to_server(_RejectingRisk(), server)
        return [SERVICE_NAMES["risk"]]

    server = ServiceServer("risk", mod.load(), register)
    server.start(grpc_port=0, metrics_port=0)
    try:
        with make_channel(f"127.0.0.1:{server.port}") as channel:
            stub = risk_service_pb2_grpc.RiskServiceStub(channel)
            with pytest.raises(grpc.RpcError) as err:
                stub.CheckOrder(risk_service_pb2.CheckOrderRequest())
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert err.value.details() == "quantity: must be positive, got 0"
            with pytest.raises(grpc.RpcError) as err:
                stub.GetStatus(risk_service_pb2.GetStatusRequest())
            assert err.value.code() == grpc.StatusCode.INTERNAL
            assert "secret internal detail" not in err.value.details()
    finally:
        server.stop(grace=0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alphaloop(*args, env=None, **kw):
    exe = os.path.join(os.path.dirname(sys.executable), "alphaloop")
    return subprocess.Popen([exe, *args], env={**os.environ, **(env or {})}, **kw)


def test_serve_command_stops_cleanly_on_sigterm(tmp_path):
    port, mport = _free_port(), _free_port()
    proc = _alphaloop("serve", "risk", "--port", str(port), "--metrics-port", str(mport),
                      env={"ALPHALOOP_RISK_STATE_DIR": str(tmp_path)},
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert f"grpc={port}" in line, line + proc.stderr.read()
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    # The port is free again: the server really stopped.
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"ALPHALOOP_RISK_BUS_BACKEND": "zeromq"}, "ALPHALOOP_RISK_BUS_BACKEND"),
        ({"ALPHALOOP_RISK_GRPC_PORT": "99999"}, "ALPHALOOP_RISK_GRPC_PORT"),
        ({"ALPHALOOP_RISK_STORE_BACKEND": "postgres",
          "ALPHALOOP_RISK_STORE_URL": "postgresql://host:port/db"}, "ALPHALOOP_RISK_STORE_URL"),
    ],
)
def test_serve_with_bad_settings_fails_at_start_up_with_one_clear_line(env, needle):
    proc = _alphaloop("serve", "risk", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert needle in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


def test_unknown_service_is_a_clear_error():
    proc = _alphaloop("serve", "billing", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "unknown service 'billing'" in err
    assert "Traceback" not in err
