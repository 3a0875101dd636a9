"""``alphaloop status``: what the configured store holds, and each service's health."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rich.console import Console
from rich.table import Table

from alphaloop.common.errors import AlphaLoopError
from alphaloop.common.settings import SERVICES


def service_health(address: str, timeout: float) -> str:
    """SERVING / NOT_SERVING / UNKNOWN from grpc.health.v1, or DOWN if nothing answers."""
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout
            )
        except grpc.RpcError as exc:
            return "DOWN" if exc.code() in (
                grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED
            ) else exc.code().name
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def print_status(console: Console, timeout: float = 1.0) -> None:
    from alphaloop.cli.app import service_module
    from alphaloop.common.store import open_store

    ingest = service_module("ingest").load()
    store_table = Table(title=f"store: {ingest.store_backend} {ingest.effective_store_url}")
    store_table.add_column("what")
    store_table.add_column("value", justify="right")
    try:
        with open_store(ingest.store_backend, ingest.effective_store_url) as store:
            store.migrate()
            symbols = store.symbols()
            store_table.add_row("symbols", f"{len(symbols):,}")
            store_table.add_row("bars", f"{store.bar_count():,}")
    except AlphaLoopError as exc:
        store_table.add_row("error", str(exc))
    console.print(store_table)

    table = Table(title="services")
    for col in ("service", "address", "health"):
        table.add_column(col)
    for name in SERVICES:
        settings = service_module(name).load()
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
        address = f"{host}:{settings.effective_grpc_port}"
        state = service_health(address, timeout)
        colour = {"SERVING": "green", "DOWN": "red"}.get(state, "yellow")
        table.add_row(name, address, f"[{colour}]{state}[/{colour}]")
    console.print(table)
