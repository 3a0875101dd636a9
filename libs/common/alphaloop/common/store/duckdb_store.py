"""The embedded store: one DuckDB file (or ``:memory:``), the laptop default.

DuckDB allows one read-write process per file; inside the process every call goes through one
connection guarded by a lock, so a service's threads can share the store. Bulk writes register
the prepared Arrow table as a view and run one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE``.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from alphaloop.common.clock import Clock
from alphaloop.common.errors import UnavailableError
from alphaloop.common.store.base import Store
from alphaloop.common.store.schema import (
    TABLES,
    TableSpec,
    duckdb_add_column,
    duckdb_ddl,
    quote,
)

log = logging.getLogger("alphaloop.store")

MEMORY = ":memory:"


def duckdb_path(url: str) -> str:
    """``/path/file.duckdb``, ``duckdb:///path/file.duckdb``, ``duckdb://rel/file`` or
    ``:memory:`` (also ``''`` and ``duckdb://:memory:``) -> what ``duckdb.connect`` takes."""
    path = str(url or "").strip()
    path = path.removeprefix("duckdb://")
    return path or MEMORY


class DuckDBStore(Store):
    backend = "duckdb"
    placeholder = "?"

    def __init__(self, url: str = MEMORY, *, clock: Clock | None = None,
                 read_only: bool = False, threads: int | None = None) -> None:
        super().__init__(clock)
        self.path = duckdb_path(url)
        if self.path != MEMORY:
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self.path = str(Path(self.path).expanduser())
        config: dict[str, Any] = {}
        if threads:
            config["threads"] = int(threads)
        try:
            self._con = duckdb.connect(self.path, read_only=read_only, config=config)
        except duckdb.Error as exc:  # e.g. the file is locked by another process
            raise UnavailableError(f"DuckDB file {self.path} cannot be opened: {exc}") from exc
        # Results are normalised to UTC anyway; with ICU loaded, make the session agree.
        with contextlib.suppress(duckdb.Error):
            self._con.execute("SET TimeZone = 'UTC'")

    # --- primitives ---------------------------------------------------------------------------
    def ref(self, table: str) -> str:
        return quote(table)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        cur = self._con.execute(sql, list(params))
        if cur.description is None:
            return [], []
        return [d[0] for d in cur.description], cur.fetchall()

    def _arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        return self._con.sql(sql, params=list(params)).to_arrow_table()

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        row = self._con.execute(sql, list(params)).fetchone()
        return int(row[0]) if row else 0

    def _bulk_upsert(self, spec: TableSpec, table: pa.Table) -> int:
        view = f"_alphaloop_stage_{spec.name}_{uuid.uuid4().hex[:8]}"
        self._con.register(view, table)
        try:
            return self._execute(self.upsert_sql(spec, table.column_names, quote(view)))
        finally:
            self._con.unregister(view)

    # --- lifecycle ----------------------------------------------------------------------------
    def migrate(self) -> str:
        with self._lock:
            self._check_open()
            self._con.execute("BEGIN TRANSACTION")
            try:
                for spec in TABLES.values():
                    for statement in duckdb_ddl(spec):
                        self._con.execute(statement)
                    self._add_missing_columns(spec)
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
        if self.mode is None:
            log.info("store ready: DuckDB %s", self.path)
        self.mode = "duckdb"
        return self.mode

    def _add_missing_columns(self, spec: TableSpec) -> None:
        """Additive evolution: columns declared in the spec but absent from an older file."""
        _, rows = self._rows(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_catalog = current_database() AND table_schema = current_schema() "
            "AND table_name = ?",
            [spec.name],
        )
        present = {r[0] for r in rows}
        for col in spec.columns:
            if col.name not in present:
                self._con.execute(duckdb_add_column(spec, col))
                log.info("store: added column %s.%s", spec.name, col.name)

    def health(self) -> bool:
        with self._lock:
            if self._closed:
                return False
            try:
                return self._con.execute("SELECT 1").fetchone() == (1,)
            except duckdb.Error:
                return False

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._con.close()
