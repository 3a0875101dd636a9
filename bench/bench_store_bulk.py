"""Bulk bar writes (Arrow into DuckDB, binary COPY into PostgreSQL, then one upsert statement)
against the row-by-row reference: the same upsert sent one row at a time through the same
driver (``executemany``), into the same engine, in the same run.

Figure: ``speedup`` = bulk rows/s / row-by-row rows/s. Data: seeded synthetic daily bars
(a random walk; synthetic, not market data), so the figure measures the write path only.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from alphaloop.common.store import open_store
from alphaloop.common.store.base import spec_for
from alphaloop.common.store.schema import duckdb_ddl, postgres_ddl

BULK_ROWS = 200_000
#: Row-by-row is slow on DuckDB (hundreds of rows/s), so its sample is smaller; rates compare.
REFERENCE_ROWS = {"duckdb": 2_000, "postgres": 5_000}
PG_URL = os.environ.get("ALPHALOOP_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
COLUMNS = ["symbol", "interval", "ts", "open", "high", "low", "close", "volume", "source"]


def synthetic_bars(rows: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    symbols = 200
    days = rows // symbols
    ts = pd.bdate_range("2000-01-03", periods=days, tz="UTC")
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, (symbols, days)), axis=1))
    frame = pd.DataFrame({
        "symbol": np.repeat([f"SYN{i:04d}" for i in range(symbols)], days),
        "interval": "1d",
        "ts": np.tile(ts, symbols),
        "close": close.ravel(),
    })
    frame["open"] = frame["close"] * (1 + rng.normal(0, 0.002, len(frame)))
    frame["high"] = frame[["open", "close"]].max(axis=1) * 1.01
    frame["low"] = frame[["open", "close"]].min(axis=1) * 0.99
    frame["volume"] = rng.integers(1e4, 1e6, len(frame)).astype(float)
    frame["source"] = "synthetic"
    return frame[COLUMNS]


def _upsert_row_sql(param: str, table: str) -> str:
    cols = ", ".join(COLUMNS)
    marks = ", ".join([param] * len(COLUMNS))
    updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[3:])
    return (f"INSERT INTO {table} ({cols}) VALUES ({marks}) "
            f"ON CONFLICT (symbol, interval, ts) DO UPDATE SET {updates}")


def _rows(frame: pd.DataFrame) -> list[tuple]:
    ts = [t.to_pydatetime() for t in frame["ts"]]
    return [(*row[:2], t, *row[3:]) for row, t in zip(frame.itertuples(index=False, name=None), ts)]


def _bench_duckdb(bulk: pd.DataFrame, ref: pd.DataFrame, folder: Path) -> dict:
    import duckdb

    with open_store("duckdb", str(folder / "bulk.duckdb")) as store:
        store.migrate()
        started = time.perf_counter()
        store.write_bars(bulk)
        bulk_s = time.perf_counter() - started
        assert store.bar_count() == len(bulk)
    conn = duckdb.connect(str(folder / "ref.duckdb"))
    for stmt in duckdb_ddl(spec_for("bars")):
        conn.execute(stmt)
    rows = _rows(ref)
    started = time.perf_counter()
    conn.executemany(_upsert_row_sql("?", "bars"), rows)
    ref_s = time.perf_counter() - started
    assert conn.execute("select count(*) from bars").fetchone()[0] == len(ref)
    conn.close()
    return _figures(len(bulk), bulk_s, len(ref), ref_s)


def _bench_postgres(bulk: pd.DataFrame, ref: pd.DataFrame) -> dict:
    import psycopg

    schema = f"alphaloop_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        with open_store("postgres", PG_URL, schema=schema) as store:
            store.migrate()
            started = time.perf_counter()
            store.write_bars(bulk)
            bulk_s = time.perf_counter() - started
            assert store.bar_count() == len(bulk)
        admin.execute(f'CREATE SCHEMA "{schema}_ref"')
        for stmt in postgres_ddl(spec_for("bars"), f"{schema}_ref"):
            admin.execute(stmt)
        sql = _upsert_row_sql("%s", f'"{schema}_ref".bars')
        rows = _rows(ref)
        with psycopg.connect(PG_URL, connect_timeout=5) as conn:
            # Row by row: one statement and one round trip per bar, one transaction.
            started = time.perf_counter()
            with conn.cursor() as cur:
                for row in rows[: REFERENCE_ROWS["postgres"]]:
                    cur.execute(sql, row)
            conn.commit()
            ref_s = time.perf_counter() - started
            # psycopg 3's executemany pipelines statements (no round trip per row): reported
            # too, because it is what a careful hand-written loader would use.
            admin.execute(f'TRUNCATE "{schema}_ref".bars')
            started = time.perf_counter()
            with conn.cursor() as cur:
                cur.executemany(sql, rows)
            conn.commit()
            pipelined_s = time.perf_counter() - started
    finally:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}_ref" CASCADE')
        admin.close()
    figures = _figures(len(bulk), bulk_s, REFERENCE_ROWS["postgres"], ref_s)
    figures["pipelined_executemany_rows_per_s"] = round(len(rows) / pipelined_s)
    figures["speedup_vs_pipelined_executemany"] = round(len(bulk) / bulk_s * pipelined_s / len(rows), 2)
    return figures


def _figures(bulk_rows: int, bulk_s: float, ref_rows: int, ref_s: float) -> dict:
    bulk_rate, ref_rate = bulk_rows / bulk_s, ref_rows / ref_s
    return {
        "bulk_rows": bulk_rows,
        "bulk_rows_per_s": round(bulk_rate),
        "row_by_row_rows": ref_rows,
        "row_by_row_rows_per_s": round(ref_rate),
        "speedup": round(bulk_rate / ref_rate, 1),
    }


def run() -> dict:
    bulk = synthetic_bars(BULK_ROWS)
    with tempfile.TemporaryDirectory() as tmp:
        duck = _bench_duckdb(bulk, synthetic_bars(REFERENCE_ROWS["duckdb"], seed=8), Path(tmp))
    return {
        "what": "bar upsert throughput: bulk path vs row-by-row executemany, same engine, same run",
        "data": "synthetic seeded random-walk bars (not market data)",
        "duckdb": duck,
        "postgres": _bench_postgres(bulk, synthetic_bars(BULK_ROWS, seed=8)),
    }
