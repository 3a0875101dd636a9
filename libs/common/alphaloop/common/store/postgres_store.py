"""The cluster store: PostgreSQL, with TimescaleDB hypertables when the extension exists.

``migrate()`` detects TimescaleDB (``pg_available_extensions``) and enables it. With it, the
tables marked ``hypertable`` in schema.py become hypertables with compression (segmented by
symbol) and retention policies (defaults in ``schema.POLICIES``, overridable per store);
without it they stay plain tables with their secondary indexes (e.g. (symbol, ts)) and one log
line says so. Everything else (keys, upserts, reads) is the same in both modes.

Tables live in one namespace (``schema=``, default ``public``), which tests set to a throwaway
schema. Bulk writes COPY (binary) into a temporary table and run one
``INSERT ... SELECT ... ON CONFLICT (natural key) DO UPDATE``, in one transaction.

One connection guarded by a lock serves the process' threads (the store is I/O-light: bulk
statements, not chatty traffic). A dropped connection raises ``UnavailableError`` naming
host:port and is re-opened on the next call.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg import conninfo

from alphaloop.common.clock import Clock
from alphaloop.common.errors import UnavailableError
from alphaloop.common.store.base import Store
from alphaloop.common.store.schema import (
    POLICIES,
    TABLES,
    TableSpec,
    TimescalePolicy,
    postgres_add_column,
    postgres_ddl,
    quote,
)

log = logging.getLogger("alphaloop.store")

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PLAIN_MODE_MESSAGE = "TimescaleDB not available: using plain PostgreSQL tables"


def server_address(url: str) -> str:
    """``host:port`` of a libpq URL or DSN, for error messages (never the password)."""
    try:
        params = conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "<invalid PostgreSQL URL>"
    return f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}"


class PostgresStore(Store):
    backend = "postgres"
    placeholder = "%s"

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        schema: str = "public",
        clock: Clock | None = None,
        connect_timeout: float = 5.0,
        retention: Mapping[str, str | None] | None = None,
        compress_after: Mapping[str, str | None] | None = None,
        chunk_interval: Mapping[str, str] | None = None,
        application_name: str = "alphaloop",
    ) -> None:
        """``retention`` / ``compress_after`` / ``chunk_interval``: per hypertable, a PostgreSQL
        interval text (``'400 days'``) or None (no policy), overriding ``schema.POLICIES``.
        They only matter in TimescaleDB mode."""
        super().__init__(clock)
        quote(schema)  # validates the namespace name
        self.url = url
        self.schema = schema
        self.address = server_address(url)
        self.connect_timeout = connect_timeout
        self.application_name = application_name
        self.policies = _policies(retention, compress_after, chunk_interval)
        self.timescaledb: bool | None = None  # known after migrate()
        self._timescale_version: tuple[int, ...] = (0,)
        self._conn: psycopg.Connection | None = None
        self._connect()

    # --- connection ---------------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection:
        try:
            conn = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=max(1, round(self.connect_timeout)),
                application_name=self.application_name,
            )
            conn.execute("SET TIME ZONE 'UTC'")
        except psycopg.Error as exc:
            raise UnavailableError(
                f"PostgreSQL at {self.address} is unreachable: {str(exc).strip()}"
            ) from exc
        self._conn = conn
        return conn

    @contextlib.contextmanager
    def _guard(self) -> Iterator[psycopg.Connection]:
        """The live connection (re-opened if it was lost); a lost connection during the block
        becomes ``UnavailableError``. Callers hold the lock."""
        self._check_open()
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            conn = self._connect()
        try:
            yield conn
        except psycopg.Error as exc:
            if conn.closed or conn.broken:
                self._conn = None
                with contextlib.suppress(Exception):
                    conn.close()
                raise UnavailableError(
                    f"PostgreSQL at {self.address} connection lost: {str(exc).strip()}"
                ) from exc
            raise

    def ref(self, table: str) -> str:
        return f"{quote(self.schema)}.{quote(table)}"

    # --- primitives ---------------------------------------------------------------------------
    def _rows(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        with self._guard() as conn, conn.cursor() as cur:
            cur.execute(sql, list(params) if params else None)
            if cur.description is None:
                return [], []
            return [d.name for d in cur.description], cur.fetchall()

    def _arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        columns, rows = self._rows(sql, params)
        values = list(zip(*rows)) if rows else [() for _ in columns]
        return pa.table({c: pa.array(list(v)) for c, v in zip(columns, values)})

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._guard() as conn, conn.cursor() as cur:
            cur.execute(sql, list(params) if params else None)
            return max(cur.rowcount, 0)

    def _bulk_upsert(self, spec: TableSpec, table: pa.Table) -> int:
        columns = table.column_names
        cols = ", ".join(quote(c) for c in columns)
        stage = quote(f"_alphaloop_stage_{spec.name}")
        payload = _arrow_to_csv(table)
        with self._guard() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute(
                f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS "
                f"SELECT {cols} FROM {self.ref(spec.name)} WITH NO DATA"
            )
            # Arrow writes the CSV in C++; COPY parses it in the server: no per-row Python.
            with cur.copy(f"COPY {stage} ({cols}) FROM STDIN (FORMAT csv)") as copy:
                for start in range(0, len(payload), _COPY_CHUNK):
                    copy.write(payload[start:start + _COPY_CHUNK])
            cur.execute(self.upsert_sql(spec, columns, stage))
            return max(cur.rowcount, 0)

    # --- migrate ------------------------------------------------------------------------------
    def migrate(self) -> str:
        with self._lock, self._guard() as conn, conn.transaction():
            # Two pods starting at once must not race on CREATE ... IF NOT EXISTS.
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"alphaloop.migrate.{self.schema}"]
            )
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(self.schema)}")
            timescale_schema = self._enable_timescaledb(conn)
            for spec in TABLES.values():
                for statement in postgres_ddl(spec, self.schema):
                    conn.execute(statement)
                self._add_missing_columns(conn, spec)
            self._append_only_triggers(conn)
            if timescale_schema is not None:
                for spec in TABLES.values():
                    if spec.hypertable:
                        self._hypertable(conn, timescale_schema, spec)
        first = self.timescaledb is None
        self.timescaledb = timescale_schema is not None
        self.mode = "timescaledb" if self.timescaledb else "postgres"
        level = logging.INFO if first else logging.DEBUG
        if self.timescaledb:
            log.log(level, "TimescaleDB enabled: hypertables with compression and retention "
                    "policies in schema %s", self.schema)
        else:
            log.log(level, PLAIN_MODE_MESSAGE)
        return self.mode

    def _enable_timescaledb(self, conn: psycopg.Connection) -> str | None:
        """The extension's schema when TimescaleDB is (made) available, else None."""
        available = conn.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
        ).fetchone()
        if available is None:
            return None
        try:
            with conn.transaction():  # a savepoint: a refusal must not abort the migration
                conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        except psycopg.Error as exc:
            if conn.broken:
                raise
            log.warning("TimescaleDB is installed but cannot be enabled (%s): using plain "
                        "PostgreSQL tables", str(exc).strip())
            return None
        row = conn.execute(
            "SELECT n.nspname, e.extversion FROM pg_extension e "
            "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'timescaledb'"
        ).fetchone()
        if row is None:
            return None
        self._timescale_version = _version(row[1])
        return row[0]

    def _add_missing_columns(self, conn: psycopg.Connection, spec: TableSpec) -> None:
        present = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s",
                [self.schema, spec.name],
            ).fetchall()
        }
        for col in spec.columns:
            if col.name not in present:
                conn.execute(postgres_add_column(spec, col, self.schema))
                log.info("store: added column %s.%s", spec.name, col.name)

    def _append_only_triggers(self, conn: psycopg.Connection) -> None:
        function = f"{quote(self.schema)}.{quote('alphaloop_append_only')}"
        conn.execute(
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'table %.% is append-only', TG_TABLE_SCHEMA, TG_TABLE_NAME "
            "USING ERRCODE = 'insufficient_privilege'; END $$"
        )
        for spec in TABLES.values():
            if not spec.append_only:
                continue
            name = f"{spec.name}_append_only"
            exists = conn.execute(
                "SELECT 1 FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname = %s",
                [f"{quote(self.schema)}.{quote(spec.name)}", name],
            ).fetchone()
            if exists is None:
                conn.execute(
                    f"CREATE TRIGGER {quote(name)} BEFORE UPDATE OR DELETE ON "
                    f"{self.ref(spec.name)} FOR EACH ROW EXECUTE FUNCTION {function}()"
                )

    # --- TimescaleDB (only reached when the extension is enabled) ----------------------------
    def _hypertable(self, conn: psycopg.Connection, ts: str, spec: TableSpec) -> None:
        regclass = f"{quote(self.schema)}.{quote(spec.name)}"
        policy = self.policies.get(spec.name, TimescalePolicy())
        ts = '"' + ts.replace('"', '""') + '"'  # the extension's schema
        if self._timescale_version >= (2, 13):  # the generalized interface
            conn.execute(
                f"SELECT {ts}.create_hypertable(%s::regclass, "
                f"dimension => {ts}.by_range(%s::name, %s::interval), "
                "if_not_exists => TRUE, migrate_data => TRUE)",
                [regclass, spec.time_column, policy.chunk_interval],
            )
        else:  # the interface deprecated in 2.13
            conn.execute(
                f"SELECT {ts}.create_hypertable(%s::regclass, %s::name, "
                "chunk_time_interval => %s::interval, if_not_exists => TRUE, "
                "migrate_data => TRUE)",
                [regclass, spec.time_column, policy.chunk_interval],
            )
        row = conn.execute(
            "SELECT compression_enabled FROM timescaledb_information.hypertables "
            "WHERE hypertable_schema = %s AND hypertable_name = %s",
            [self.schema, spec.name],
        ).fetchone()
        compression_enabled = bool(row and row[0])
        if policy.compress_after is not None and not compression_enabled:
            options = ["timescaledb.compress",
                       f"timescaledb.compress_orderby = '{spec.time_column} DESC'"]
            if spec.segment_by:
                options.append(f"timescaledb.compress_segmentby = '{spec.segment_by}'")
            conn.execute(f"ALTER TABLE {self.ref(spec.name)} SET ({', '.join(options)})")
            compression_enabled = True
        if compression_enabled:
            self._policy(conn, ts, regclass, spec.name, "compression", policy.compress_after)
        self._policy(conn, ts, regclass, spec.name, "retention", policy.retention)

    def _policy(
        self, conn: psycopg.Connection, ts: str, regclass: str, table: str, kind: str,
        interval: str | None,
    ) -> None:
        """Converge one compression/retention policy on ``interval`` (None: no policy)."""
        proc, key = {
            "retention": ("policy_retention", "drop_after"),
            "compression": ("policy_compression", "compress_after"),
        }[kind]
        row = conn.execute(
            "SELECT config->>%s FROM timescaledb_information.jobs "
            "WHERE proc_name = %s AND hypertable_schema = %s AND hypertable_name = %s",
            [key, proc, self.schema, table],
        ).fetchone()
        if row is not None and interval is not None and row[0] is not None:
            same = conn.execute("SELECT %s::interval = %s::interval", [row[0], interval])
            if same.fetchone()[0]:
                return
        if row is not None:
            conn.execute(f"SELECT {ts}.remove_{kind}_policy(%s::regclass, if_exists => TRUE)",
                         [regclass])
        if interval is not None:
            conn.execute(f"SELECT {ts}.add_{kind}_policy(%s::regclass, %s::interval)",
                         [regclass, interval])
            log.info("TimescaleDB %s policy on %s: %s", kind, table, interval)

    # --- lifecycle ----------------------------------------------------------------------------
    def health(self) -> bool:
        with self._lock:
            if self._closed:
                return False
            try:
                with self._guard() as conn:
                    return conn.execute("SELECT 1").fetchone() == (1,)
            except Exception:  # noqa: BLE001 - health answers, it does not raise
                return False

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = None


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts) or (0,)


def _policies(
    retention: Mapping[str, str | None] | None,
    compress_after: Mapping[str, str | None] | None,
    chunk_interval: Mapping[str, str] | None,
) -> dict[str, TimescalePolicy]:
    hypertables = {name for name, spec in TABLES.items() if spec.hypertable}
    out = {name: POLICIES.get(name, TimescalePolicy()) for name in hypertables}
    for option, overrides in (("retention", retention), ("compress_after", compress_after),
                              ("chunk_interval", chunk_interval)):
        for table, value in (overrides or {}).items():
            if table not in hypertables:
                raise ValueError(
                    f"{option}: {table!r} is not a hypertable; choose from {sorted(hypertables)}"
                )
            if option == "chunk_interval" and value is None:
                raise ValueError(f"chunk_interval: {table} needs an interval")
            current = out[table]
            out[table] = TimescalePolicy(
                chunk_interval=value if option == "chunk_interval" else current.chunk_interval,
                compress_after=value if option == "compress_after" else current.compress_after,
                retention=value if option == "retention" else current.retention,
            )
    return out



_COPY_CHUNK = 1 << 20


def _arrow_to_csv(table: pa.Table) -> memoryview:
    """CSV for COPY: timestamps at microsecond precision (PostgreSQL's), strings always quoted
    so an empty string stays '' while a null is an unquoted empty field (NULL to COPY)."""
    columns = []
    for field, column in zip(table.schema, table.columns):
        if pa.types.is_timestamp(field.type):
            column = column.cast(pa.timestamp("us", tz="UTC"))
        columns.append(column)
    table = pa.Table.from_arrays(columns, names=table.column_names)
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=False))
    return memoryview(sink.getvalue())
