"""Server interceptors: domain errors -> status codes, bearer token for privileged RPCs, and
request metrics. Servicers stay thin: they raise domain errors, never call context.abort."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import grpc

from alphaloop.common.errors import AlphaLoopError
from alphaloop.common.metrics import GRPC_LATENCY, GRPC_REQUESTS

log = logging.getLogger(__name__)

Behaviour = Callable[[Any, grpc.ServicerContext], Any]


def _wrap_handler(
    handler: grpc.RpcMethodHandler, wrap: Callable[[Behaviour, bool], Behaviour]
) -> grpc.RpcMethodHandler:
    """Return ``handler`` with its behaviour wrapped; ``wrap(fn, streaming_response)``."""
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            wrap(handler.unary_unary, False),
            handler.request_deserializer,
            handler.response_serializer,
        )
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            wrap(handler.unary_stream, True),
            handler.request_deserializer,
            handler.response_serializer,
        )
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(
            wrap(handler.stream_unary, False),
            handler.request_deserializer,
            handler.response_serializer,
        )
    return grpc.stream_stream_rpc_method_handler(
        wrap(handler.stream_stream, True),
        handler.request_deserializer,
        handler.response_serializer,
    )


def _split(method: str) -> tuple[str, str]:
    # "/alphaloop.v1.RiskService/Halt" -> ("alphaloop.v1.RiskService", "Halt")
    service, _, name = method.lstrip("/").partition("/")
    return service, name


class ErrorMappingInterceptor(grpc.ServerInterceptor):
    """Maps :class:`AlphaLoopError` to its status code with its message; anything else becomes
    INTERNAL with the traceback logged (and not leaked to the caller)."""

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method

        def wrap(fn: Behaviour, streaming: bool) -> Behaviour:
            def abort(exc: BaseException, context: grpc.ServicerContext):
                if isinstance(exc, AlphaLoopError):
                    context.abort(exc.grpc_status_code(), str(exc))
                preset = context.code()
                if isinstance(preset, grpc.StatusCode) and preset is not grpc.StatusCode.OK:
                    # The servicer chose a status before raising (the generated base class does
                    # this for UNIMPLEMENTED): keep it rather than report INTERNAL.
                    context.abort(preset, context.details() or preset.name)
                log.exception("unhandled error in %s", method)
                context.abort(grpc.StatusCode.INTERNAL, f"internal error in {method}")

            if streaming:

                def stream_behaviour(request, context):
                    try:
                        yield from fn(request, context)
                    except grpc.RpcError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - this is the mapping point
                        abort(exc, context)

                return stream_behaviour

            def unary_behaviour(request, context):
                try:
                    return fn(request, context)
                except grpc.RpcError:
                    raise
                except Exception as exc:  # noqa: BLE001
                    abort(exc, context)

            return unary_behaviour

        return _wrap_handler(handler, wrap)


class BearerTokenInterceptor(grpc.ServerInterceptor):
    """Privileged RPCs (halt, resume, submit order, promote) need ``authorization: Bearer <t>``.

    With no token configured the privileged RPCs are refused outright: fail closed, so a
    misconfigured deployment cannot trade or un-halt without credentials.
    """

    def __init__(self, privileged: Iterable[str], token: str | None) -> None:
        self.privileged = frozenset(privileged)
        self._token = token.encode() if token else None

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or _split(handler_call_details.method)[1] not in self.privileged:
            return handler
        metadata = dict(handler_call_details.invocation_metadata or ())
        supplied = metadata.get("authorization", "")
        if self._token is None:
            return _denied(handler, grpc.StatusCode.UNAUTHENTICATED,
                           "privileged RPC refused: the server has no auth token configured "
                           "(set ALPHALOOP_<SERVICE>_AUTH_TOKEN or _AUTH_TOKEN_FILE)")
        if not supplied.startswith("Bearer "):
            return _denied(handler, grpc.StatusCode.UNAUTHENTICATED,
                           "privileged RPC needs an 'authorization: Bearer <token>' header")
        if not hmac.compare_digest(supplied[len("Bearer "):].encode(), self._token):
            return _denied(handler, grpc.StatusCode.PERMISSION_DENIED, "invalid bearer token")
        return handler


def _denied(handler: grpc.RpcMethodHandler, code: grpc.StatusCode, message: str):
    def wrap(_fn: Behaviour, streaming: bool) -> Behaviour:
        if streaming:
            def deny_stream(request, context):
                context.abort(code, message)
                yield  # pragma: no cover - abort raises

            return deny_stream

        def deny(request, context):
            context.abort(code, message)

        return deny

    return _wrap_handler(handler, wrap)


class MetricsInterceptor(grpc.ServerInterceptor):
    """Counts requests by status code and records latency for every RPC."""

    def __init__(self, service: str) -> None:
        self.service = service

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        _, method = _split(handler_call_details.method)
        service = self.service

        def record(context: grpc.ServicerContext, started: float) -> None:
            code = context.code() if hasattr(context, "code") else None
            name = code.name if isinstance(code, grpc.StatusCode) else "OK"
            GRPC_REQUESTS.labels(service, method, name).inc()
            GRPC_LATENCY.labels(service, method).observe(time.perf_counter() - started)

        def wrap(fn: Behaviour, streaming: bool) -> Behaviour:
            if streaming:
                def stream_behaviour(request, context):
                    started = time.perf_counter()
                    try:
                        yield from fn(request, context)
                    finally:
                        record(context, started)

                return stream_behaviour

            def unary_behaviour(request, context):
                started = time.perf_counter()
                try:
                    return fn(request, context)
                finally:
                    record(context, started)

            return unary_behaviour

        return _wrap_handler(handler, wrap)
