"""Client helpers: channels with a default deadline, bounded retries on transient failures
(gRPC's own retry policy, so retries respect the deadline), bearer tokens for privileged calls
and trace propagation."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

import grpc

from alphaloop.common.tracing import inject_trace_context

#: Codes worth retrying: the peer was not reachable or is shedding load. Never retry
#: INVALID_ARGUMENT / FAILED_PRECONDITION / PERMISSION_DENIED: they will not change.
RETRYABLE = ("UNAVAILABLE", "RESOURCE_EXHAUSTED")


def _service_config(max_attempts: int, initial_backoff: float, max_backoff: float) -> str:
    return json.dumps(
        {
            "methodConfig": [
                {
                    "name": [{}],  # every method of every service
                    "retryPolicy": {
                        "maxAttempts": max(2, min(max_attempts, 5)),
                        "initialBackoff": f"{initial_backoff}s",
                        "maxBackoff": f"{max_backoff}s",
                        "backoffMultiplier": 2,
                        "retryableStatusCodes": list(RETRYABLE),
                    },
                }
            ]
        }
    )


class _DefaultsInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
):
    """Adds a default deadline, the bearer token and W3C trace context to every call."""

    def __init__(self, deadline: float, token: str | None) -> None:
        self.deadline = deadline
        self.token = token

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        metadata = list(details.metadata or ())
        if self.token and not any(k == "authorization" for k, _ in metadata):
            metadata.append(("authorization", f"Bearer {self.token}"))
        # Carry the caller's trace context so the server's span joins the same trace.
        metadata.extend(inject_trace_context({}).items())
        return _CallDetails(
            details.method,
            details.timeout if details.timeout is not None else self.deadline,
            metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)


@dataclass(frozen=True)
class _CallDetails(grpc.ClientCallDetails):
    method: str
    timeout: float | None
    metadata: Sequence[tuple[str, str]] | None
    credentials: Any
    wait_for_ready: bool | None
    compression: Any


def make_channel(
    address: str,
    *,
    token: str | None = None,
    deadline: float = 10.0,
    max_attempts: int = 4,
    initial_backoff: float = 0.1,
    max_backoff: float = 2.0,
) -> grpc.Channel:
    """An insecure channel to ``address`` (in-cluster traffic; TLS is the mesh's job) with a
    default per-call deadline of ``deadline`` seconds and up to ``max_attempts`` tries."""
    channel = grpc.insecure_channel(
        address,
        options=[
            ("grpc.enable_retries", 1),
            ("grpc.service_config", _service_config(max_attempts, initial_backoff, max_backoff)),
        ],
    )
    return grpc.intercept_channel(channel, _DefaultsInterceptor(deadline, token))


class RpcClient:
    """A channel plus a stub, closed together: ``with RpcClient(addr, Stub) as c: c.stub.X()``."""

    def __init__(self, address: str, stub_cls: type, **channel_opts: Any) -> None:
        self.address = address
        self.channel = make_channel(address, **channel_opts)
        self.stub = stub_cls(self.channel)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
