"""Resumable hydration: fetch a source's universe in batches of symbols, pass every bar through
the quality gate, upsert the good bars, quarantine the rest, publish the good bars on the bars
topic, and checkpoint each finished batch in the store.

Checkpoints (table ``hydration_checkpoints``):

* the job name is derived from what is fetched: ``hydrate/<source>/<interval>/<start>..<end>/
  <universe>`` (``universe`` is ``all`` or a hash of an explicit symbol list; an open end is
  resolved to today's date, so a nightly job is a new job each day);
* batch ``_run`` holds the run id in its status column: the quality report of a run that was
  interrupted and resumed is filed under one id, and ``restart`` starts a new one;
* batch ``00000``, ``00001``, ... holds ``running`` / ``done`` / ``failed`` and its symbols.
  A batch counts as done only if its stored symbols equal the planned ones (a changed batch
  size or universe re-does the batches that no longer match; upserts make that harmless).

A batch is written in this order: bars, quarantine, report rows, bus, then ``done``. A process
killed anywhere before ``done`` re-does the whole batch on the next run; every write is an
upsert on a natural key, so the store ends up equal to an uninterrupted run, and a finished job
re-run writes nothing. Bars may be published twice (the bus is at-least-once).

Each batch is one ``fetch`` request (a source's ``batch_size`` is what one request carries),
paced by a token bucket at the source's documented rate and retried with exponential backoff
and jitter on :class:`TransientSourceError`. A :class:`PermanentSymbolError` is recorded (audit
log and quality report) and the request repeated without that symbol; retries running out stop
the job (the batch is marked ``failed``; run again to resume).
"""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

import pandas as pd

from alphaloop.common.bus import Bus
from alphaloop.common.clock import Clock, LiveClock
from alphaloop.common.errors import InvalidInputError, UnavailableError
from alphaloop.common.logging import log_event
from alphaloop.common.store import Store
from alphaloop.ingest.quality import NO_DATA, PERMANENT_ERROR, GateConfig, apply_gate
from alphaloop.ingest.ratelimit import RetryPolicy, Throttle, TokenBucket, direct
from alphaloop.ingest.sources.base import (
    BAR_COLUMNS,
    BarSource,
    PermanentSymbolError,
    TransientSourceError,
)
from alphaloop.ingest.stream import publish_bars
from alphaloop.v1 import ingest_service_pb2

log = logging.getLogger("alphaloop.ingest.hydration")

RUN_BATCH = "_run"
_KEY = ["symbol", "interval", "ts"]
_UNIT_SECONDS = {"m": 60, "min": 60, "h": 3600, "d": 86_400, "w": 604_800}


@dataclass(frozen=True)
class Batch:
    id: str
    symbols: tuple[str, ...]


@dataclass(frozen=True)
class HydrationPlan:
    job: str
    source: str
    interval: str
    start: date | None
    end: date
    symbols: tuple[str, ...]
    batches: tuple[Batch, ...]
    sectors: int = 0


@dataclass
class HydrationSummary:
    """What one invocation did (``bars_*`` count this invocation's batches only) and the
    quality ``report`` of the whole run, read back from the store (symbol, rule, count)."""

    job: str
    run_id: str
    source: str
    interval: str
    start: date | None
    end: date
    symbols: int
    sectors: int = 0
    batches: int = 0
    batches_skipped: int = 0
    symbols_skipped: int = 0
    bars_read: int = 0
    bars_good: int = 0
    bars_quarantined: int = 0
    new_bars: int = 0
    bars_published: int = 0
    retries: int = 0
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None
    failed: dict[str, str] = field(default_factory=dict)  # symbol -> permanent error
    empty: list[str] = field(default_factory=list)  # symbols the source had no bars for
    quality_counts: dict[str, int] = field(default_factory=dict)
    report: pd.DataFrame = field(default_factory=pd.DataFrame)
    seconds: float = 0.0


@dataclass(frozen=True)
class HydrationProgress:
    """One progress event; the fields of ``alphaloop.v1.HydrateProgress``. The last event of a
    run has ``finished=True`` and carries the summary."""

    symbols_done: int
    symbols_total: int
    bars_written: int = 0
    bars_quarantined: int = 0
    symbols_per_second: float = 0.0
    eta_seconds: float = 0.0
    current_symbol: str = ""
    message: str = ""
    finished: bool = False
    batch_done: bool = False
    summary: HydrationSummary | None = field(default=None, compare=False, repr=False)

    def to_proto(self) -> ingest_service_pb2.HydrateProgress:
        return ingest_service_pb2.HydrateProgress(
            symbols_done=self.symbols_done, symbols_total=self.symbols_total,
            bars_written=self.bars_written, bars_quarantined=self.bars_quarantined,
            symbols_per_second=self.symbols_per_second, eta_seconds=self.eta_seconds,
            current_symbol=self.current_symbol, message=self.message, finished=self.finished,
        )


def interval_seconds(interval: str) -> float:
    digits = "".join(ch for ch in interval if ch.isdigit()) or "1"
    unit = interval[len(digits):] if interval.startswith(digits) else "d"
    return int(digits) * _UNIT_SECONDS.get(unit, 86_400)


class Hydrator:
    """Hydrates ``source`` into ``store`` (and onto ``bus`` when given), resumably.

    ``rate_limiter`` overrides the token bucket built from ``source.rate_limit``;
    ``retry_policy`` the backoff on transient errors; ``batch_size`` the source's symbols per
    batch (and per request); ``gate`` the quality thresholds. ``source_paces_itself``: the
    source was built with its own ``Throttle`` (pacing every HTTP request, pages included),
    so ``fetch`` is called directly and attempts do not multiply.
    """

    def __init__(
        self,
        source: BarSource,
        store: Store,
        bus: Bus | None = None,
        *,
        clock: Clock | None = None,
        rate_limiter: TokenBucket | None = None,
        retry_policy: RetryPolicy | None = None,
        batch_size: int | None = None,
        gate: GateConfig | None = None,
        interval: str = "1d",
        actor: str = "ingest",
        source_paces_itself: bool = False,
    ) -> None:
        self.source = source
        self.store = store
        self.bus = bus
        self.clock = clock or LiveClock()
        self.batch_size = int(batch_size or source.batch_size)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.gate = gate or GateConfig()
        self.interval = interval
        self.actor = actor
        self._retries = 0
        bucket = rate_limiter or TokenBucket.for_limit(source.rate_limit, self.clock)
        #: Paces and retries requests to the source; hand it to a source built with a
        #: ``DeferredThrottle`` when ``source_paces_itself``.
        self.throttle = Throttle(bucket, retry_policy or RetryPolicy(), self.clock,
                                 self._on_retry)
        self._call: Callable = direct if source_paces_itself else self.throttle

    # -- planning ---------------------------------------------------------------------------
    def plan(
        self, symbols: Sequence[str] | None = None, start: date | None = None,
        end: date | None = None,
    ) -> HydrationPlan:
        """The job name and its batches. ``symbols`` None means the source's universe."""
        end = end or self.clock.now().date()
        if start is not None and start > end:
            raise InvalidInputError("start", f"{start} is after end {end}")
        listing = self.source.symbols()
        if symbols:
            universe = tuple(sorted({s.strip().upper() for s in symbols if s.strip()}))
            digest = hashlib.sha1(",".join(universe).encode()).hexdigest()[:10]
            scope = f"sym-{digest}"
        else:
            universe = tuple(sorted(set(listing["symbol"].astype(str))))
            scope = "all"
        known = listing[listing["symbol"].isin(universe)]
        sectors = int(known.loc[known["sector"].astype(str) != "", "sector"].nunique()) \
            if "sector" in known else 0
        job = (f"hydrate/{self.source.name}/{self.interval}/"
               f"{start.isoformat() if start else 'earliest'}..{end.isoformat()}/{scope}")
        size = self.batch_size
        batches = tuple(
            Batch(f"{i:05d}", universe[k : k + size])
            for i, k in enumerate(range(0, len(universe), size))
        )
        return HydrationPlan(job, self.source.name, self.interval, start, end, universe,
                             batches, sectors)

    # -- running ----------------------------------------------------------------------------
    def run(
        self, symbols: Sequence[str] | None = None, start: date | None = None,
        end: date | None = None, *, restart: bool = False,
        on_progress: Callable[[HydrationProgress], None] | None = None,
    ) -> HydrationSummary:
        """Hydrate to completion (resuming a stopped run) and return the summary."""
        last = None
        for event in self.progress(symbols, start, end, restart=restart):
            if on_progress is not None:
                on_progress(event)
            last = event
        assert last is not None and last.summary is not None
        return last.summary

    def progress(
        self, symbols: Sequence[str] | None = None, start: date | None = None,
        end: date | None = None, *, restart: bool = False,
    ) -> Iterator[HydrationProgress]:
        """Hydrate, yielding a progress event when it starts, before each batch's request and
        after each batch is stored; the last event is ``finished`` and carries the summary. Closing the iterator early leaves
        the current batch undone (it is redone by the next run)."""
        plan = self.plan(symbols, start, end)
        store = self.store
        store.migrate()
        if restart:
            removed = store.clear_checkpoints(plan.job)
            log_event(log, "hydrate restart: checkpoints cleared", job=plan.job, batches=removed)
        saved = {r["batch"]: r for r in store.fetch("hydration_checkpoints", {"job": plan.job})}
        if RUN_BATCH in saved:
            run_id = saved[RUN_BATCH]["status"]
        else:
            run_id = f"{plan.source}-{self.clock.now():%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
            store.set_checkpoint(plan.job, RUN_BATCH, run_id)
        done = {
            b.id for b in plan.batches
            if saved.get(b.id, {}).get("status") == "done"
            and tuple(saved[b.id].get("symbols") or ()) == b.symbols
        }
        summary = HydrationSummary(
            job=plan.job, run_id=run_id, source=f"{self.source.name} ({self.source.license})",
            interval=plan.interval, start=plan.start, end=plan.end, symbols=len(plan.symbols),
            sectors=plan.sectors, batches=len(plan.batches), batches_skipped=len(done),
            symbols_skipped=sum(len(b.symbols) for b in plan.batches if b.id in done),
        )
        started = self.clock.monotonic()
        self._retries = 0
        tracker = _Tracker(len(plan.symbols), summary.symbols_skipped, started, self.clock)
        log_event(log, "hydrate start", job=plan.job, run_id=run_id, symbols=len(plan.symbols),
                  batches=len(plan.batches), batches_done=len(done))
        yield tracker.event(summary, message=(
            f"resuming {plan.job}: {len(done)} of {len(plan.batches)} batches already done"
            if done else f"starting {plan.job}: {len(plan.batches)} batches"))
        for batch in plan.batches:
            if batch.id in done:
                continue
            store.set_checkpoint(plan.job, batch.id, "running", batch.symbols)
            first, last = batch.symbols[0], batch.symbols[-1]
            yield tracker.event(summary, current_symbol=first if first == last
                                else f"{first}..{last}")
            frames = self._fetch_batch(plan, batch, summary, run_id)
            tracker.done += len(batch.symbols)
            self._store_batch(plan, batch, frames, summary, run_id)
            store.set_checkpoint(plan.job, batch.id, "done", batch.symbols)
            event = tracker.event(summary, batch_done=True,
                                  message=f"batch {int(batch.id) + 1} of {len(plan.batches)} done")
            log_event(log, "hydrate progress", job=plan.job, batch=batch.id,
                      symbols_done=event.symbols_done, symbols_total=event.symbols_total,
                      bars_written=event.bars_written, bars_quarantined=event.bars_quarantined,
                      symbols_per_second=round(event.symbols_per_second, 2),
                      eta_seconds=round(event.eta_seconds, 1))
            yield event
        summary.retries = self._retries
        summary.seconds = self.clock.monotonic() - started
        summary.report = load_report(store, run_id)
        store.audit(self.actor, "hydrate.finished", plan.job, {
            "run_id": run_id, "batches_run": len(plan.batches) - len(done),
            "new_bars": summary.new_bars, "bars_quarantined": summary.bars_quarantined,
            "failed_symbols": sorted(summary.failed),
        })
        log_event(log, "hydrate finished", job=plan.job, run_id=run_id,
                  new_bars=summary.new_bars, bars_good=summary.bars_good,
                  bars_quarantined=summary.bars_quarantined, failed=len(summary.failed),
                  seconds=round(summary.seconds, 2))
        final = tracker.event(summary, message=_final_message(summary))
        yield replace(final, finished=True, eta_seconds=0.0, summary=summary)

    # -- one symbol, one batch ----------------------------------------------------------------
    def _fetch_batch(self, plan: HydrationPlan, batch: Batch, summary: HydrationSummary,
                     run_id: str) -> list[pd.DataFrame]:
        """Bars of the batch's symbols: one paced, retried request for the whole batch (the
        source's ``batch_size`` is what one request can carry). A symbol that fails
        permanently is recorded and the request repeated without it; when the error does not
        say which symbol it was, the remaining symbols are fetched one at a time."""
        remaining = list(batch.symbols)
        frames: list[pd.DataFrame] = []
        while remaining:
            try:
                frames.append(self._request(plan, batch, remaining))
                break
            except PermanentSymbolError as exc:
                if exc.symbol in remaining:
                    self._record_failure(plan, run_id, summary, exc.symbol, exc.reason)
                    remaining.remove(exc.symbol)
                    continue
                if len(remaining) == 1:
                    self._record_failure(plan, run_id, summary, remaining[0], str(exc))
                    break
            for symbol in remaining:  # the culprit is unknown: isolate it
                try:
                    frames.append(self._request(plan, batch, [symbol]))
                except PermanentSymbolError as exc:
                    self._record_failure(plan, run_id, summary, symbol, str(exc))
            break
        got = set().union(*(set(f["symbol"].unique()) for f in frames)) if frames else set()
        summary.empty.extend(s for s in batch.symbols if s not in got and s not in summary.failed)
        return frames

    def _request(self, plan: HydrationPlan, batch: Batch, symbols: list[str]) -> pd.DataFrame:
        def call() -> pd.DataFrame:
            return self.source.fetch(list(symbols), plan.start, plan.end, plan.interval)

        try:
            frame = self._call(call)
        except PermanentSymbolError:
            raise
        except TransientSourceError as exc:
            self._mark_failed(plan, batch, str(exc))
            raise UnavailableError(
                f"source {self.source.name}: {exc} (retries exhausted on batch {batch.id}, "
                f"{symbols[0]}..{symbols[-1]}; run again to resume from this batch)"
            ) from exc
        except BaseException as exc:
            self._mark_failed(plan, batch, repr(exc))
            raise
        if frame is None or frame.empty:
            return pd.DataFrame(columns=BAR_COLUMNS)
        # Only what was asked for: a stray symbol would escape its own batch's checkpoint.
        return frame[frame["symbol"].isin(symbols)]

    def _record_failure(self, plan: HydrationPlan, run_id: str, summary: HydrationSummary,
                        symbol: str, reason: str) -> None:
        summary.failed[symbol] = reason
        self.store.audit(self.actor, "hydrate.symbol_failed", symbol,
                         {"job": plan.job, "run_id": run_id, "reason": reason})
        log_event(log, "hydrate: symbol skipped", logging.WARNING, job=plan.job,
                  symbol=symbol, reason=reason)

    def _mark_failed(self, plan: HydrationPlan, batch: Batch, why: str) -> None:
        try:
            self.store.set_checkpoint(plan.job, batch.id, "failed", batch.symbols)
            self.store.audit(self.actor, "hydrate.batch_failed", plan.job,
                             {"batch": batch.id, "error": why})
        except Exception:  # the original error matters more than the bookkeeping
            log.warning("could not record the failure of batch %s", batch.id, exc_info=True)

    def _store_batch(self, plan: HydrationPlan, batch: Batch, frames: list[pd.DataFrame],
                     summary: HydrationSummary, run_id: str) -> None:
        store = self.store
        frames = [f for f in frames if len(f)]
        bars = pd.concat(frames, ignore_index=True) if frames else None
        report_rows = [
            {"symbol": s, "rule": PERMANENT_ERROR, "count": 1}
            for s in batch.symbols if s in summary.failed
        ] + [{"symbol": s, "rule": NO_DATA, "count": 1} for s in batch.symbols
             if s in summary.empty]
        if bars is not None:
            result = apply_gate(bars, self.gate, self._history(plan, batch))
            summary.bars_read += len(bars)
            summary.bars_good += len(result.good)
            distinct_bad = len(result.quarantined.drop_duplicates(_KEY))
            summary.bars_quarantined += distinct_bad
            for rule, count in result.counts.items():
                summary.quality_counts[rule] = summary.quality_counts.get(rule, 0) + count
            summary.new_bars += store.write_bars(result.good)
            if len(result.quarantined):
                store.write_quarantine(result.quarantined)
            report_rows += result.report.to_dict("records")
            if len(result.good):
                first, last = result.good["ts"].min(), result.good["ts"].max()
                summary.first = first if summary.first is None else min(summary.first, first)
                summary.last = last if summary.last is None else max(summary.last, last)
            if self.bus is not None and len(result.good):
                summary.bars_published += publish_bars(self.bus, result.good)
        if report_rows:
            now = self.clock.now()
            store.upsert("quality_reports", [
                {"run_id": run_id, "created_at": now, **row} for row in report_rows
            ])

    def _history(self, plan: HydrationPlan, batch: Batch) -> pd.DataFrame | None:
        """Good bars stored just before ``start``: context for the series rules."""
        if plan.start is None:
            return None
        span = max(self.gate.spike_window + 1, self.gate.stale_bars)
        days = math.ceil(span * interval_seconds(plan.interval) / 86_400 * 2) + 10
        first = pd.Timestamp(plan.start, tz="UTC")
        history = self.store.read_bars(
            list(batch.symbols), start=first - pd.Timedelta(days=days),
            end=first - pd.Timedelta(microseconds=1), interval=plan.interval,
        )
        return history if len(history) else None

    def _on_retry(self, attempt: int, error: Exception, wait: float) -> None:
        self._retries += 1
        log_event(log, "hydrate: transient source error, retrying", logging.WARNING,
                  source=self.source.name, attempt=attempt, wait_seconds=round(wait, 3),
                  error=str(error))


class DeferredThrottle:
    """A throttle a vendor source can be built with before the real one exists: the pacing
    depends on ``source.rate_limit``, which the source only knows once built from its config.
    ``bind`` it to ``Hydrator.throttle`` before the first request."""

    def __init__(self) -> None:
        self._target: Callable | None = None

    def bind(self, throttle: Callable) -> None:
        self._target = throttle

    def __call__(self, fn: Callable):
        if self._target is None:
            raise RuntimeError("DeferredThrottle used before bind()")
        return self._target(fn)


class _Tracker:
    """Symbols done, throughput and ETA on the hydrator's clock. Throughput counts only the
    symbols this invocation fetched, not the batches skipped as already done."""

    def __init__(self, total: int, skipped: int, started: float, clock: Clock) -> None:
        self.total, self.skipped, self.started, self.clock = total, skipped, started, clock
        self.done = 0

    def event(self, summary: HydrationSummary, **fields) -> HydrationProgress:
        elapsed = self.clock.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 and self.done else 0.0
        remaining = self.total - self.skipped - self.done
        return HydrationProgress(
            symbols_done=self.skipped + self.done, symbols_total=self.total,
            bars_written=summary.new_bars, bars_quarantined=summary.bars_quarantined,
            symbols_per_second=rate, eta_seconds=remaining / rate if rate > 0 else 0.0,
            **fields,
        )


def load_report(store: Store, run_id: str) -> pd.DataFrame:
    """The quality report of one run: symbol, rule, count."""
    rows = store.fetch("quality_reports", {"run_id": run_id}, order_by=["symbol", "rule"])
    frame = pd.DataFrame(rows, columns=["run_id", "symbol", "rule", "count", "created_at"])
    return frame[["symbol", "rule", "count"]].astype({"count": "int64"})


def _final_message(s: HydrationSummary) -> str:
    text = (f"finished {s.job}: {s.new_bars:,} new bars, {s.bars_quarantined:,} quarantined, "
            f"{s.batches_skipped} of {s.batches} batches already done")
    if s.failed:
        text += f"; {len(s.failed)} symbols failed permanently: {', '.join(sorted(s.failed))}"
    return text

