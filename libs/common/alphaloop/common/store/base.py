"""The ``Store`` interface: bars, quarantine, records and the audit log, on DuckDB (embedded
default) or PostgreSQL / TimescaleDB (cluster). One contract test suite runs against both.

Everything generic lives here: input coercion to the schema's logical types, name validation,
SQL for reads, filters and upserts. A backend supplies five primitives (run a query, run a
query into Arrow, execute a statement, bulk-upsert an Arrow table, migrate).

Conventions:

* Timestamps come back timezone-aware UTC. Naive timestamps given to the store are taken as UTC.
* A float NaN is stored as NULL (pandas' missing value), and NULL floats read back as NaN in
  DataFrames and as ``None`` from :meth:`Store.fetch`.
* Writes are upserts on the table's natural key: rows with a key already stored replace its
  non-key columns (only the columns supplied). Within one batch the last row of a key wins.
  They return the number of rows inserted or changed (a re-write of identical rows returns 0).
* Writes are bulk statements, never one INSERT per row.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC
from typing import Any, Self

import numpy as np
import pandas as pd
import pyarrow as pa

from alphaloop.common.clock import Clock, LiveClock
from alphaloop.common.errors import InvalidInputError, UnavailableError
from alphaloop.common.store.schema import (
    AUDIT_LOG,
    BAR_COLUMNS,
    BARS,
    HYDRATION_CHECKPOINTS,
    QUARANTINED_BARS,
    TABLES,
    TableSpec,
    quote,
)

log = logging.getLogger("alphaloop.store")

Records = Sequence[Mapping[str, Any]] | pd.DataFrame

_ARROW_TYPES = {
    "text": pa.string(),
    "float": pa.float64(),
    "int": pa.int64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "json": pa.string(),
    "serial": pa.int64(),
}
_PANDAS_DTYPES = {
    "float": "float64",
    "int": "Int64",
    "serial": "Int64",
    "bool": "boolean",
    "timestamp": "datetime64[ns, UTC]",
}


# ---------------------------------------------------------------------------------------------
# Coercion helpers (shared by both backends, so both store exactly the same values)
# ---------------------------------------------------------------------------------------------

def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, np.floating):
        return bool(np.isnan(value))
    if isinstance(value, np.datetime64):
        return bool(np.isnat(value))
    return False


def spec_for(table: str) -> TableSpec:
    """The spec of ``table``; an unknown name raises :class:`InvalidInputError` naming it."""
    spec = TABLES.get(table) if isinstance(table, str) else None
    if spec is None:
        raise InvalidInputError(
            "table", f"unknown table {table!r}; known tables: {', '.join(sorted(TABLES))}"
        )
    return spec


def check_column(spec: TableSpec, column: Any) -> str:
    if not isinstance(column, str) or not spec.has(column):
        raise InvalidInputError(
            str(column),
            f"unknown column {column!r} of table {spec.name}; "
            f"columns: {', '.join(spec.column_names)}",
        )
    return column


def to_utc_timestamp(value: Any, field: str = "ts") -> pd.Timestamp:
    """A scalar date/time (datetime, date, pandas Timestamp, ISO string, epoch ns) as an aware
    UTC Timestamp; naive values are taken as UTC."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(field, f"not a timestamp: {value!r}") from exc
    if ts is pd.NaT:
        raise InvalidInputError(field, "timestamp is missing")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _json_text(value: Any, field: str) -> str | None:
    if _is_missing(value):
        return None
    if isinstance(value, (bytes, bytearray)):
        value = value.decode()
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError as exc:
            raise InvalidInputError(field, f"not valid JSON text: {value[:80]!r}") from exc
        return value
    try:
        return json.dumps(value, sort_keys=True, default=str, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(field, f"cannot encode as JSON: {exc}") from exc


def _to_arrow_column(series: pd.Series, logical: str, field: str) -> pa.Array:
    try:
        if logical == "timestamp":
            if not pd.api.types.is_datetime64_any_dtype(series.dtype):
                series = pd.to_datetime(series, utc=True, format="mixed")
            elif series.dt.tz is None:
                series = series.dt.tz_localize("UTC")
            else:
                series = series.dt.tz_convert("UTC")
            arr = pa.Array.from_pandas(series)
            return arr.cast(_ARROW_TYPES["timestamp"], safe=False)
        if logical == "float":
            values = pd.to_numeric(series, errors="raise").astype("float64")
            return pa.Array.from_pandas(values, type=pa.float64())
        if logical in ("int", "serial"):
            return pa.Array.from_pandas(pd.array(series, dtype="Int64"))
        if logical == "bool":
            return pa.Array.from_pandas(pd.array(series, dtype="boolean"))
        if logical == "text":
            if pd.api.types.is_string_dtype(series.dtype) and series.dtype != object:
                return pa.Array.from_pandas(series.astype(object), type=pa.string())
            try:  # the common case, all str / None / NaN, converted in C++
                return pa.array(series, type=pa.string(), from_pandas=True)
            except (pa.ArrowTypeError, pa.ArrowInvalid):
                values = [None if _is_missing(v) else v if isinstance(v, str) else str(v)
                          for v in series.tolist()]
                return pa.array(values, type=pa.string())
        if logical == "json":
            return pa.array([_json_text(v, field) for v in series.tolist()], type=pa.string())
    except InvalidInputError:
        raise
    except (ValueError, TypeError, OverflowError, pa.ArrowException) as exc:
        raise InvalidInputError(field, f"cannot convert to {logical}: {exc}") from exc
    raise AssertionError(f"unknown logical type {logical}")


def to_frame(data: Records | Mapping[str, Any], what: str) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, Mapping):
        data = [data]
    if not isinstance(data, Sequence) or isinstance(data, (str, bytes)):
        raise InvalidInputError(what, "expected a DataFrame or a list of dicts")
    if not data:
        return pd.DataFrame()
    columns: dict[str, None] = {}
    for row in data:
        if not isinstance(row, Mapping):
            raise InvalidInputError(what, f"expected dict records, got {type(row).__name__}")
        columns.update(dict.fromkeys(row))
    # Build column-wise from Python objects so nothing is inferred across columns.
    return pd.DataFrame(
        {c: pd.Series([row.get(c) for row in data], dtype=object) for c in columns}
    )


def prepare(spec: TableSpec, data: Records | Mapping[str, Any]) -> pa.Table:
    """Validate and coerce ``data`` to ``spec``: known columns only, every NOT NULL column
    present and non-null, values converted to the logical types, duplicate keys collapsed
    (last wins). The result is what both backends write."""
    frame = to_frame(data, spec.name)
    if frame.columns.duplicated().any():
        dup = frame.columns[frame.columns.duplicated()][0]
        raise InvalidInputError(str(dup), f"column given twice for table {spec.name}")
    for col in frame.columns:
        check_column(spec, col)
        if spec.column(col).type == "serial":
            raise InvalidInputError(col, f"{spec.name}.{col} is assigned by the store")
    required = [c.name for c in spec.columns if not c.nullable and c.type != "serial"]
    missing = [c for c in required if c not in frame.columns]
    if missing and len(frame):
        raise InvalidInputError(
            missing[0], f"table {spec.name} needs column(s) {', '.join(missing)}"
        )
    columns = [c for c in spec.column_names if c in frame.columns]
    if not len(frame):
        return pa.table(
            {c: pa.array([], type=_ARROW_TYPES[spec.column(c).type]) for c in columns or required}
        )
    arrays = {}
    for col in columns:
        logical = spec.column(col).type
        arr = _to_arrow_column(frame[col].reset_index(drop=True), logical, f"{spec.name}.{col}")
        if not spec.column(col).nullable and arr.null_count:
            raise InvalidInputError(
                col, f"{spec.name}.{col} cannot be null ({arr.null_count} missing values)"
            )
        arrays[col] = arr
    table = pa.table(arrays)
    if table.num_rows > 1:
        keys = table.select(list(spec.key)).to_pandas()
        last = ~keys.duplicated(keep="last").to_numpy()
        if not last.all():
            table = table.filter(pa.array(last))
    return table


def arrow_to_frame(spec: TableSpec, table: pa.Table) -> pd.DataFrame:
    """An Arrow result as a DataFrame with the dtypes of the logical types (see schema.py)."""
    frame = table.to_pandas()
    for col in frame.columns:
        column = spec.column(col)
        if column is None:
            continue
        if column.type == "timestamp":
            values = frame[col]
            if not pd.api.types.is_datetime64_any_dtype(values.dtype):
                values = pd.to_datetime(values, utc=True)
            elif values.dt.tz is None:
                values = values.dt.tz_localize("UTC")
            frame[col] = values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
        elif column.type in _PANDAS_DTYPES:
            frame[col] = frame[col].astype(_PANDAS_DTYPES[column.type])
        else:
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return frame


def python_row(spec: TableSpec, columns: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
    """One fetched row as a dict: aware UTC datetimes, decoded JSON, plain Python scalars."""
    out: dict[str, Any] = {}
    for col, value in zip(columns, row):
        logical = spec.column(col).type
        if value is None:
            out[col] = None
        elif logical == "timestamp":
            if isinstance(value, pd.Timestamp):
                value = value.to_pydatetime()
            out[col] = (value.replace(tzinfo=UTC) if value.tzinfo is None
                        else value.astimezone(UTC))
        elif logical == "json":
            out[col] = json.loads(value)
        elif logical == "float":
            out[col] = float(value)
        elif logical in ("int", "serial"):
            out[col] = int(value)
        elif logical == "bool":
            out[col] = bool(value)
        else:
            out[col] = value
    return out


def _scalar_param(spec: TableSpec, column: str, value: Any) -> Any:
    logical = spec.column(column).type
    field = f"{spec.name}.{column}"
    if logical == "timestamp":
        return to_utc_timestamp(value, field).to_pydatetime()
    if logical == "json":
        return _json_text(value, field)
    if logical == "text":
        return value if isinstance(value, str) else str(value)
    if logical == "float":
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(field, f"not a number: {value!r}") from exc
    if logical in ("int", "serial"):
        if isinstance(value, bool) or not float(value).is_integer():
            raise InvalidInputError(field, f"not an integer: {value!r}")
        return int(value)
    if logical == "bool":
        if not isinstance(value, (bool, np.bool_)):
            raise InvalidInputError(field, f"not a boolean: {value!r}")
        return bool(value)
    return value


# ---------------------------------------------------------------------------------------------
# The interface
# ---------------------------------------------------------------------------------------------

class Store(ABC):
    """Bars, quarantine, records and the audit log. Thread-safe: one instance may be shared by a
    service's threads. Use as a context manager or call :meth:`close`."""

    backend: str = ""
    placeholder: str = "?"

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or LiveClock()
        self.mode: str | None = None  # set by migrate(): 'duckdb', 'postgres' or 'timescaledb'
        self._lock = threading.RLock()
        self._closed = False

    # --- backend primitives -----------------------------------------------------------------
    @abstractmethod
    def migrate(self) -> str:
        """Create or update every table (idempotent, safe to run at every start). Returns the
        mode: ``'duckdb'``, ``'postgres'`` (plain tables) or ``'timescaledb'`` (hypertables)."""

    @abstractmethod
    def health(self) -> bool:
        """True when the backend answers a trivial query now."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection. Idempotent."""

    @abstractmethod
    def ref(self, table: str) -> str:
        """The quoted (and, on PostgreSQL, schema-qualified) name of ``table``."""

    @abstractmethod
    def _rows(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        """Run a statement; its column names and rows (empty for statements without rows)."""

    @abstractmethod
    def _arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """Run a query; its result as an Arrow table."""

    @abstractmethod
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; the number of rows it affected."""

    @abstractmethod
    def _bulk_upsert(self, spec: TableSpec, table: pa.Table) -> int:
        """Upsert a prepared Arrow table in one bulk statement; rows inserted or changed."""

    # --- shared SQL ---------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise UnavailableError(f"{self.backend} store is closed")

    def upsert_sql(self, spec: TableSpec, columns: Sequence[str], source: str) -> str:
        """``INSERT ... SELECT ... ON CONFLICT (key) DO UPDATE`` from relation ``source``.
        Rows whose values are unchanged are not rewritten (no dead tuples on re-hydration)."""
        cols = ", ".join(quote(c) for c in columns)
        key = ", ".join(quote(k) for k in spec.key)
        sql = (
            f"INSERT INTO {self.ref(spec.name)} AS t ({cols}) SELECT {cols} FROM {source} "
            f"ON CONFLICT ({key}) DO "
        )
        values = [c for c in columns if c not in spec.key]
        if not values:
            return sql + "NOTHING"
        assign = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in values)
        if len(values) == 1:
            old, new = f"t.{quote(values[0])}", f"EXCLUDED.{quote(values[0])}"
        else:
            old = "(" + ", ".join(f"t.{quote(c)}" for c in values) + ")"
            new = "(" + ", ".join(f"EXCLUDED.{quote(c)}" for c in values) + ")"
        return sql + f"UPDATE SET {assign} WHERE {old} IS DISTINCT FROM {new}"

    def _where(
        self, spec: TableSpec, where: Mapping[str, Any] | None
    ) -> tuple[str, list[Any]]:
        if where is None:
            return "", []
        if not isinstance(where, Mapping):
            raise InvalidInputError("where", "expected a dict of column -> value")
        clauses, params = [], []
        for column, value in where.items():
            check_column(spec, column)
            q = quote(column)
            if isinstance(value, (list, tuple, set, frozenset, pd.Index, np.ndarray, pd.Series)):
                values = [v for v in value]
                if not values:
                    clauses.append("FALSE")
                    continue
                clauses.append(f"{q} IN ({', '.join([self.placeholder] * len(values))})")
                params.extend(_scalar_param(spec, column, v) for v in values)
            elif _is_missing(value):
                clauses.append(f"{q} IS NULL")
            else:
                clauses.append(f"{q} = {self.placeholder}")
                params.append(_scalar_param(spec, column, value))
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    @staticmethod
    def _order_by(spec: TableSpec, order_by: str | Sequence[str] | None) -> str:
        if order_by is None:
            return " ORDER BY " + ", ".join(quote(k) for k in spec.key)
        items = [order_by] if isinstance(order_by, str) else list(order_by)
        parts = []
        for item in items:
            if not isinstance(item, str):
                raise InvalidInputError("order_by", f"expected column names, got {item!r}")
            text = item.strip()
            direction = "ASC"
            if text.startswith("-"):
                text, direction = text[1:].strip(), "DESC"
            else:
                words = text.split()
                if len(words) == 2 and words[1].upper() in ("ASC", "DESC"):
                    text, direction = words[0], words[1].upper()
            check_column(spec, text)
            parts.append(f"{quote(text)} {direction}")
        return (" ORDER BY " + ", ".join(parts)) if parts else ""

    # --- bars -----------------------------------------------------------------------------------
    def write_bars(self, bars: pd.DataFrame) -> int:
        """Upsert bars (columns of ``schema.BARS``; ``vwap``/``trade_count`` optional) on
        (symbol, interval, ts) in one bulk statement. Returns rows inserted or changed."""
        return self._write(BARS, bars)

    def write_quarantine(self, bars: pd.DataFrame) -> int:
        """Upsert quarantined bars (bar columns + ``rule`` + ``detail``) on
        (symbol, interval, ts, rule). Bar values may be missing here."""
        return self._write(QUARANTINED_BARS, bars)

    def read_bars(
        self,
        symbols: str | Iterable[str] | None = None,
        start: Any = None,
        end: Any = None,
        interval: str | None = "1d",
    ) -> pd.DataFrame:
        """Bars sorted by symbol, ts (then interval when ``interval`` is None: all intervals).
        ``start`` and ``end`` are inclusive; dates and naive times are taken as UTC. ``ts`` is
        ``datetime64[ns, UTC]``, prices float64, ``trade_count`` Int64."""
        clauses, params = [], []
        if interval is not None:
            clauses.append(f'"interval" = {self.placeholder}')
            params.append(str(interval))
        if symbols is not None:
            wanted = [symbols] if isinstance(symbols, str) else [str(s) for s in symbols]
            if not wanted:
                return self._empty_bars()
            clauses.append(f'"symbol" IN ({", ".join([self.placeholder] * len(wanted))})')
            params.extend(wanted)
        if start is not None:
            clauses.append(f'"ts" >= {self.placeholder}')
            params.append(to_utc_timestamp(start, "start").to_pydatetime())
        if end is not None:
            clauses.append(f'"ts" <= {self.placeholder}')
            params.append(to_utc_timestamp(end, "end").to_pydatetime())
        sql = (
            f"SELECT {', '.join(quote(c) for c in BAR_COLUMNS)} FROM {self.ref('bars')}"
            + (" WHERE " + " AND ".join(clauses) if clauses else "")
            + ' ORDER BY "symbol", "ts", "interval"'
        )
        with self._lock:
            self._check_open()
            table = self._arrow(sql, params)
        return arrow_to_frame(BARS, table)[BAR_COLUMNS]

    def _empty_bars(self) -> pd.DataFrame:
        empty = pa.table({c.name: pa.array([], type=_ARROW_TYPES[c.type]) for c in BARS.columns})
        return arrow_to_frame(BARS, empty)

    def bar_count(self, interval: str | None = None) -> int:
        """Number of stored bars (of one interval, or all)."""
        where = f' WHERE "interval" = {self.placeholder}' if interval is not None else ""
        _, rows = self._locked_rows(
            f"SELECT COUNT(*) FROM {self.ref('bars')}{where}",
            [interval] if interval is not None else [],
        )
        return int(rows[0][0])

    def symbols(self, interval: str | None = None) -> list[str]:
        """Sorted distinct symbols with stored bars (of one interval, or all)."""
        where = f' WHERE "interval" = {self.placeholder}' if interval is not None else ""
        _, rows = self._locked_rows(
            f'SELECT DISTINCT "symbol" FROM {self.ref("bars")}{where} ORDER BY "symbol"',
            [interval] if interval is not None else [],
        )
        return [r[0] for r in rows]

    # --- generic records --------------------------------------------------------------------
    def upsert(self, table: str, records: Records | Mapping[str, Any]) -> int:
        """Insert or replace ``records`` (list of dicts or a DataFrame) on ``table``'s natural
        key, in one bulk statement. Returns rows inserted or changed. Columns absent from the
        records are left untouched on existing rows; NOT NULL columns are required."""
        spec = spec_for(table)
        if spec.append_only:
            raise InvalidInputError("table", f"{table} is append-only: use audit()")
        return self._write(spec, records)

    def _write(self, spec: TableSpec, data: Records | Mapping[str, Any]) -> int:
        table = prepare(spec, data)
        if table.num_rows == 0:
            return 0
        with self._lock:
            self._check_open()
            return self._bulk_upsert(spec, table)

    def fetch(
        self,
        table: str,
        where: Mapping[str, Any] | None = None,
        order_by: str | Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of ``table`` as dicts. ``where`` maps column -> value (equality; a list means
        IN, None means IS NULL). ``order_by``: column names, ``'-col'`` or ``'col desc'`` for
        descending; default the natural key. Every name is checked against the schema and every
        value is a bound parameter."""
        spec = spec_for(table)
        clause, params = self._where(spec, where)
        sql = (
            f"SELECT {', '.join(quote(c) for c in spec.column_names)} FROM {self.ref(spec.name)}"
            f"{clause}{self._order_by(spec, order_by)}"
        )
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 0:
                raise InvalidInputError("limit", f"expected a non-negative integer, got {limit!r}")
            sql += f" LIMIT {int(limit)}"
        columns, rows = self._locked_rows(sql, params)
        return [python_row(spec, columns, row) for row in rows]

    def _delete(self, spec: TableSpec, where: Mapping[str, Any]) -> int:
        if spec.append_only:
            raise InvalidInputError("table", f"{spec.name} is append-only")
        clause, params = self._where(spec, where)
        if not clause:
            raise InvalidInputError("where", "refusing to delete every row")
        with self._lock:
            self._check_open()
            return self._execute(f"DELETE FROM {self.ref(spec.name)}{clause}", params)

    def _locked_rows(self, sql: str, params: Sequence[Any]) -> tuple[list[str], list[tuple]]:
        with self._lock:
            self._check_open()
            return self._rows(sql, params)

    # --- resumable jobs -----------------------------------------------------------------------
    def set_checkpoint(
        self, job: str, batch: str | int, status: str, symbols: Iterable[str] = ()
    ) -> None:
        """Record ``status`` (e.g. 'running', 'done', 'failed') of ``batch`` of ``job``."""
        self._write(
            HYDRATION_CHECKPOINTS,
            [{
                "job": job,
                "batch": str(batch),
                "status": status,
                "symbols": [str(s) for s in symbols],
                "updated_at": self.clock.now(),
            }],
        )

    def get_checkpoints(self, job: str) -> dict[str, str]:
        """batch -> status for every recorded batch of ``job`` (batch ids come back as str)."""
        rows = self.fetch("hydration_checkpoints", {"job": job}, order_by="batch")
        return {r["batch"]: r["status"] for r in rows}

    def clear_checkpoints(self, job: str) -> int:
        """Forget every batch of ``job`` (a fresh run starts over). Returns batches removed."""
        return self._delete(HYDRATION_CHECKPOINTS, {"job": job})

    # --- audit ----------------------------------------------------------------------------------
    def audit(
        self, actor: str, action: str, target: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> int:
        """Append one audit record stamped with the store's clock; returns its id. The log is
        append-only: identical calls make distinct rows, nothing updates or deletes them."""
        row = prepare(AUDIT_LOG, [{
            "ts": self.clock.now(), "actor": actor, "action": action, "target": target,
            "details": dict(details or {}),
        }])
        cols = row.column_names
        values = [row.column(c)[0].as_py() for c in cols]
        sql = (
            f"INSERT INTO {self.ref('audit_log')} ({', '.join(quote(c) for c in cols)}) "
            f"VALUES ({', '.join([self.placeholder] * len(cols))}) RETURNING \"id\""
        )
        _, rows = self._locked_rows(sql, values)
        return int(rows[0][0])

    # --- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} mode={self.mode}>"
