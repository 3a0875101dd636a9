"""gRPC surface of the ingest service: Hydrate (server-streamed progress), GetBars and
ListSymbols. Each RPC parses its request, calls the domain (``hydration``, the store) and builds
the reply; domain errors carry their status (an invalid field answers INVALID_ARGUMENT naming
it) and the server's interceptor maps them."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import grpc
import pandas as pd
from google.protobuf.timestamp_pb2 import Timestamp

from alphaloop.common.bus import Bus, open_bus
from alphaloop.common.clock import Clock, LiveClock
from alphaloop.common.errors import FailedPreconditionError, InvalidInputError
from alphaloop.common.store import Store, open_store
from alphaloop.common.store.base import to_utc_timestamp
from alphaloop.ingest.config import Settings
from alphaloop.ingest.jobs import ALIASES, build_hydrator, check_source_name
from alphaloop.ingest.stream import bars_to_protos
from alphaloop.v1 import ingest_service_pb2, ingest_service_pb2_grpc

_INTERVAL = re.compile(r"^[1-9][0-9]*(m|min|h|d|w|mo)$")
_ONE_TICK = pd.Timedelta(microseconds=1)  # the store keeps microseconds


class IngestApi(ingest_service_pb2_grpc.IngestServiceServicer):
    """``store`` and ``bus`` may be injected (tests, embedding); otherwise the store is opened
    from settings on first use, and bars are published only to a Redis or Kafka bus (on the
    in-process memory bus nobody outside this process could read them)."""

    def __init__(
        self, settings: Settings, store: Store | None = None, bus: Bus | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or LiveClock()
        self._store = store
        self._bus = bus
        self._bus_opened = bus is not None
        self._lock = threading.Lock()
        self._running: set[tuple[str, str]] = set()

    def register(self, server: grpc.Server) -> list[str]:
        """Add this servicer to ``server``; return its full service name (for reflection)."""
        ingest_service_pb2_grpc.add_IngestServiceServicer_to_server(self, server)
        return [ingest_service_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name]

    # -- dependencies, opened on first use --------------------------------------------------
    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                store = open_store(self.settings.store_backend, self.settings.effective_store_url)
                store.migrate()
                self._store = store
            return self._store

    @property
    def bus(self) -> Bus | None:
        with self._lock:
            if not self._bus_opened:
                self._bus_opened = True
                if self.settings.bus_backend != "memory":
                    self._bus = open_bus(self.settings.bus_backend, self.settings.effective_bus_url)
            return self._bus

    # -- RPCs ----------------------------------------------------------------------------------
    def Hydrate(self, request, context) -> Iterator[ingest_service_pb2.HydrateProgress]:
        source_name = check_source_name(request.source or self.settings.source)
        interval = _interval(request.interval)
        symbols = _symbols(request.symbols)
        start = _timestamp(request, "start")
        end = _timestamp(request, "end")
        _check_range(start, end)
        start_day = start.date() if start is not None else None
        end_day = (end - _ONE_TICK).date() if end is not None else None
        key = (ALIASES.get(source_name, source_name), interval)
        with self._lock:
            if key in self._running:
                raise FailedPreconditionError(
                    f"a hydration of {key[0]} {interval} is already running on this server"
                )
            self._running.add(key)
        try:
            hydrator = build_hydrator(source_name, self.store, self.bus, self.settings,
                                      self.clock, interval=interval)
            events = hydrator.progress(symbols or None, start_day, end_day,
                                       restart=request.restart)
            try:
                for event in events:
                    yield event.to_proto()
                    if not context.is_active():  # the client went away: stop between symbols
                        break
            finally:
                events.close()
        finally:
            with self._lock:
                self._running.discard(key)

    def GetBars(self, request, context) -> ingest_service_pb2.GetBarsResponse:
        interval = _interval(request.interval)
        symbols = _symbols(request.symbols)
        start = _timestamp(request, "start")
        end = _timestamp(request, "end")
        _check_range(start, end)
        bars = self.store.read_bars(
            symbols or None, start=start,
            end=end - _ONE_TICK if end is not None else None, interval=interval,
        )
        limit = self.settings.max_bars_per_response
        if len(bars) > limit:
            raise InvalidInputError(
                "symbols",
                f"the request matches {len(bars):,} bars, more than the {limit:,} one reply may "
                "hold (ALPHALOOP_INGEST_MAX_BARS_PER_RESPONSE); ask for fewer symbols or a "
                "shorter range",
            )
        return ingest_service_pb2.GetBarsResponse(bars=bars_to_protos(bars))

    def ListSymbols(self, request, context) -> ingest_service_pb2.ListSymbolsResponse:
        interval = _interval(request.interval) if request.interval else None
        store = self.store
        clauses, params = [], []
        if interval is not None:
            clauses.append(f'"interval" = {store.placeholder}')
            params.append(interval)
        if request.source:
            clauses.append(f'"source" = {store.placeholder}')
            params.append(request.source)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        # The Store has no coverage query; this one aggregate is plain SQL both backends run.
        _, rows = store._locked_rows(
            'SELECT "symbol", "interval", MAX("source"), MIN("ts"), MAX("ts"), COUNT(*) '
            f'FROM {store.ref("bars")}{where} GROUP BY "symbol", "interval" '
            'ORDER BY "symbol", "interval"',
            params,
        )
        return ingest_service_pb2.ListSymbolsResponse(symbols=[
            ingest_service_pb2.SymbolInfo(
                symbol=symbol, interval=ivl, source=src or "",
                first_timestamp=_proto_time(first), last_timestamp=_proto_time(last),
                bar_count=int(count),
            )
            for symbol, ivl, src, first, last, count in rows
        ])


# -- request parsing ---------------------------------------------------------------------------

def _interval(value: str) -> str:
    value = (value or "1d").strip()
    if not _INTERVAL.match(value):
        raise InvalidInputError("interval", f"expected a bar length like 1m, 1h or 1d, got {value!r}")
    return value


def _symbols(values) -> list[str]:
    symbols = [s.strip() for s in values]
    if any(not s for s in symbols):
        raise InvalidInputError("symbols", "contains an empty symbol")
    return list(dict.fromkeys(symbols))


def _timestamp(request, field: str) -> pd.Timestamp | None:
    if not request.HasField(field):
        return None
    stamp: Timestamp = getattr(request, field)
    if not 0 <= stamp.nanos < 1_000_000_000:
        raise InvalidInputError(field, f"nanos out of range: {stamp.nanos}")
    return pd.Timestamp(stamp.seconds * 1_000_000_000 + stamp.nanos, unit="ns", tz="UTC")


def _check_range(start: pd.Timestamp | None, end: pd.Timestamp | None) -> None:
    if start is not None and end is not None and end <= start:
        raise InvalidInputError(
            "end", f"must be after start (start={start.isoformat()}, end={end.isoformat()})"
        )


def _proto_time(value) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(int(to_utc_timestamp(value).value))
    return stamp

