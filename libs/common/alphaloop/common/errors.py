"""Domain errors that carry their gRPC status, so one server interceptor maps them and
servicers hold no try/except ladders (the Feast habit)."""

from __future__ import annotations

import grpc


class AlphaLoopError(Exception):
    """Base class of every error AlphaLoop raises on purpose."""

    status: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def grpc_status_code(self) -> grpc.StatusCode:
        return self.status


class InvalidInputError(AlphaLoopError):
    """A request or argument is malformed. ``field`` names the offending field."""

    status = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class NotFoundError(AlphaLoopError):
    status = grpc.StatusCode.NOT_FOUND


class ConflictError(AlphaLoopError):
    status = grpc.StatusCode.ALREADY_EXISTS


class FailedPreconditionError(AlphaLoopError):
    """The system is in a state that forbids the request (e.g. trading is halted)."""

    status = grpc.StatusCode.FAILED_PRECONDITION


class UnavailableError(AlphaLoopError):
    """A backend (broker, database, peer service) cannot be reached."""

    status = grpc.StatusCode.UNAVAILABLE


class PermissionDeniedError(AlphaLoopError):
    status = grpc.StatusCode.PERMISSION_DENIED


class UnauthenticatedError(AlphaLoopError):
    status = grpc.StatusCode.UNAUTHENTICATED


class SettingsError(AlphaLoopError):
    """A setting is invalid. The message names the environment variable to fix."""

    status = grpc.StatusCode.FAILED_PRECONDITION
