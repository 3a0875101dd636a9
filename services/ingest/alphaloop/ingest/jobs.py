"""Jobs the CLI runs: ``alphaloop hydrate`` (the overnight CronJob) and the data stage of
``alphaloop run`` (the embedded main job)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from alphaloop.common.errors import InvalidInputError
from alphaloop.common.store import Store, open_store
from alphaloop.ingest.quality import apply_gate
from alphaloop.ingest.sources import BytetheorySource

SOURCES = {"bundled": BytetheorySource}


@dataclass
class HydrationSummary:
    source: str
    symbols: int
    bars_read: int
    bars_good: int
    bars_quarantined: int
    new_bars: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    sectors: int
    quality_counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def hydrate(store: Store, source_name: str = "bundled") -> HydrationSummary:
    """Load a source, pass every bar through the quality gate, upsert the good bars and
    quarantine the rest. Re-running writes no duplicates (upserts on natural keys)."""
    if source_name not in SOURCES:
        raise InvalidInputError("source", f"unknown source {source_name!r}; choose {sorted(SOURCES)}")
    started = time.perf_counter()  # duration of this job, not domain time
    source = SOURCES[source_name]()
    bars = source.load()
    gate = apply_gate(bars)
    store.migrate()
    before = store.bar_count()
    store.write_bars(gate.good)
    if len(gate.quarantined):
        store.write_quarantine(gate.quarantined)
    after = store.bar_count()
    return HydrationSummary(
        source=f"{source.name} ({source.license})",
        symbols=int(gate.good["symbol"].nunique()),
        bars_read=len(bars),
        bars_good=len(gate.good),
        bars_quarantined=int(gate.quarantined[["symbol", "interval", "ts"]].drop_duplicates().shape[0]),
        new_bars=after - before,
        first=gate.good["ts"].min() if len(gate.good) else None,
        last=gate.good["ts"].max() if len(gate.good) else None,
        sectors=int(source.sectors()["sector"].nunique()),
        quality_counts=dict(gate.counts),
        seconds=time.perf_counter() - started,
    )


def print_summary(console: Console, summary: HydrationSummary, store_label: str) -> None:
    table = Table(title=f"hydrated into {store_label}")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("source", summary.source)
    table.add_row("symbols", f"{summary.symbols:,}")
    table.add_row("sectors", f"{summary.sectors:,}")
    if summary.first is not None:
        table.add_row("date range", f"{summary.first:%Y-%m-%d} .. {summary.last:%Y-%m-%d}")
    table.add_row("bars read", f"{summary.bars_read:,}")
    table.add_row("bars stored as good", f"{summary.bars_good:,}")
    table.add_row("bars quarantined", f"{summary.bars_quarantined:,}")
    for rule, count in summary.quality_counts.items():
        if count:
            table.add_row(f"  caught by {rule}", f"{count:,}")
    table.add_row("new bars this run", f"{summary.new_bars:,}")
    table.add_row("seconds", f"{summary.seconds:.1f}")
    console.print(table)


def run_embedded(state_dir: Path, console: Console) -> HydrationSummary:
    """The embedded main job's data stage: DuckDB under ``state_dir``, bundled real data."""
    path = state_dir / "alphaloop.duckdb"
    with open_store("duckdb", str(path)) as store:
        summary = hydrate(store, "bundled")
    print_summary(console, summary, f"duckdb {path}")
    return summary


def hydrate_command(source: str, console: Console) -> HydrationSummary:
    """``alphaloop hydrate``: the store comes from the ingest service's settings."""
    from alphaloop.ingest.main import load

    settings = load()
    with open_store(settings.store_backend, settings.effective_store_url) as store:
        summary = hydrate(store, source)
    print_summary(console, summary, f"{settings.store_backend} {settings.effective_store_url}")
    return summary
