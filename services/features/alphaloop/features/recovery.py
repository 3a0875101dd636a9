"""Restart recovery of the features stream: seed a fresh engine from the store's bars, and keep
in the store the watermark that tells the seed which dates' vectors were already published,
so a restart re-publishes the dates that were pending at the crash instead of losing them.

Why a watermark and not just "all but the newest stored date"
    Ingest writes bars to the store before it publishes them, and the engine may hold several
    dates pending (a universe symbol that lags), so the store can be dates ahead of what the
    stream had published. Without the watermark the seed would load those dates silently and
    their vectors would never go out; that rule remains the fallback when no watermark exists
    (first start of a consumer group).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import pandas as pd

from alphaloop.common.errors import UnavailableError
from alphaloop.common.store import Store
from alphaloop.features.config import Settings
from alphaloop.features.stream import FeatureStream

log = logging.getLogger("alphaloop.features.recovery")

#: Checkpoint batch that holds a stream's watermark (job ``features-stream/<group>``).
WATERMARK_BATCH = "emitted_through"


class PublishedWatermark:
    """The newest date whose vectors a stream (one consumer group) published, kept in the
    store's resumable-job checkpoints: job ``features-stream/<group>``, batch
    ``emitted_through``, status the date in ISO 8601. Written after the vectors are published,
    so it may lag the truth but never lead it: a restart publishes again, never skips."""

    def __init__(self, store: Store, group: str) -> None:
        self.store = store
        self.job = f"features-stream/{group}"

    def read(self) -> pd.Timestamp | None:
        value = self.store.get_checkpoints(self.job).get(WATERMARK_BATCH)
        if value is None:
            return None
        try:
            return _utc(value)
        except (TypeError, ValueError):
            log.warning("checkpoint %s/%s holds %r, not a date: ignored (the seed falls back to "
                        "re-publishing the newest stored date only)", self.job, WATERMARK_BATCH,
                        value)
            return None

    def write(self, through: pd.Timestamp) -> None:
        self.store.set_checkpoint(self.job, WATERMARK_BATCH, through.isoformat())


def read_seed_bars(store: Store, *, interval: str = "1d", symbols: Iterable[str] | None = None,
                   lookback_days: int = 0,
                   emitted_through: pd.Timestamp | None = None) -> pd.DataFrame:
    """The stored bars a seed needs (of ``symbols``, default all): every one with
    ``lookback_days`` 0, else those from ``lookback_days`` calendar days before
    ``emitted_through`` (unknown: before the newest stored bar) on, which keeps every date
    still to publish."""
    wanted = sorted(set(symbols)) if symbols is not None else None
    start = None
    if lookback_days:
        anchor = emitted_through
        if anchor is None:
            where = {"interval": interval} | ({"symbol": wanted} if wanted is not None else {})
            newest = store.fetch("bars", where, order_by="-ts", limit=1)
            if not newest:
                return store.read_bars(wanted, interval=interval)  # empty
            anchor = _utc(newest[0]["ts"])
        start = anchor - pd.Timedelta(days=lookback_days)
    return store.read_bars(wanted, start=start, interval=interval)


def seed_stream(stream: FeatureStream, store: Store, *, interval: str = "1d",
                symbols: Iterable[str] | None = None, lookback_days: int = 0) -> int:
    """Seed ``stream``'s fresh engine from ``store`` and publish the vectors that completes;
    returns how many. An empty store leaves the engine empty (one log line). A store that
    cannot be read raises ``UnavailableError``."""
    try:
        watermark = PublishedWatermark(store, stream.group).read()
        bars = read_seed_bars(store, interval=interval, symbols=symbols,
                              lookback_days=lookback_days, emitted_through=watermark)
    except UnavailableError:
        raise
    except Exception as exc:  # the driver's own errors (duckdb.Error, psycopg.Error, ...)
        raise UnavailableError(f"cannot read the bars to seed from the {store.backend} store: "
                               f"{exc}") from exc
    if bars.empty:
        log.info("the store holds no %s bars: the features stream starts empty", interval)
        return 0
    log.info("seeding the features stream from %d stored %s bars (%s); vectors published "
             "through %s", len(bars), interval,
             f"last {lookback_days} days" if lookback_days else "all history",
             watermark.isoformat() if watermark is not None else "unknown")
    return stream.seed(bars, emitted_through=watermark)


def seeded_stream(stream: FeatureStream, store_of: Callable[[], Store],
                  settings: Settings) -> FeatureStream:
    """Wire ``stream`` for restarts per ``settings`` (``seed_from_store``): seed it from the
    store and record its watermark there. ``store_of()`` opens the store. A store that cannot
    be opened or read raises ``UnavailableError`` naming the settings to check: start-up fails
    rather than publish vectors computed from an empty history."""
    if not settings.seed_from_store:
        log.info("seed_from_store is off: the features stream starts empty")
        return stream
    try:
        store = store_of()
    except Exception as exc:
        raise _cannot_seed(f"cannot open the {settings.store_backend} store: {exc}") from exc
    stream.checkpoint = PublishedWatermark(store, stream.group).write
    try:
        seed_stream(stream, store, interval=settings.seed_interval,
                    symbols=settings.stream_universe or None,
                    lookback_days=settings.seed_lookback_days)
    except UnavailableError as exc:
        raise _cannot_seed(str(exc)) from exc
    return stream


def _cannot_seed(problem: str) -> UnavailableError:
    env = Settings.env_name
    return UnavailableError(
        f"features stream: {problem}. Start-up stops rather than publish vectors computed from "
        f"an empty history: check {env('store_backend')} and {env('store_url')}, or set "
        f"{env('seed_from_store')}=false to start empty")


def _utc(value: object) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
