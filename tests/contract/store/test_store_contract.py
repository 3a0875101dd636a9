"""The store contract: every behaviour here holds on DuckDB and on PostgreSQL alike (the
``store`` / ``open_backend`` fixtures run each test on both). Values are hand-built so a
failure points at the store, not at a generator."""

from __future__ import annotations

import logging
import math
import re
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from alphaloop.common.clock import SimulatedClock
from alphaloop.common.errors import InvalidInputError, UnavailableError
from alphaloop.common.store import BAR_COLUMNS, TABLES, Store, open_store


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def bars_frame(rows: list[tuple]) -> pd.DataFrame:
    """Bars from (symbol, ts, open, high, low, close, volume, vwap, trade_count) tuples."""
    return pd.DataFrame(
        {
            "symbol": [r[0] for r in rows],
            "interval": "1d",
            "ts": pd.to_datetime([r[1] for r in rows], utc=True),
            "open": [r[2] for r in rows],
            "high": [r[3] for r in rows],
            "low": [r[4] for r in rows],
            "close": [r[5] for r in rows],
            "volume": [r[6] for r in rows],
            "vwap": [r[7] for r in rows],
            "trade_count": pd.array([r[8] for r in rows], dtype="Int64"),
            "source": "test",
        }
    )


SAMPLE = [
    # deliberately unsorted: the store sorts by symbol, ts
    ("MSFT", "2010-01-05", 30.85, 31.10, 30.64, 30.96, 58_700_000.0, 30.91, 151_000),
    ("AAPL", "2010-01-05", 214.60, 215.59, 211.25, 214.38, 21_500_000.0, None, None),
    ("AAPL", "2010-01-04", 213.43, 214.50, 212.38, 214.01, 17_600_000.0, 213.70, 120_500),
    ("MSFT", "2010-01-04", 30.62, 31.10, 30.59, 30.95, 38_400_000.0, None, 98_000),
]


def expected_sample() -> pd.DataFrame:
    """SAMPLE as the store must return it, written out by hand."""
    return pd.DataFrame(
        {
            "symbol": ["AAPL", "AAPL", "MSFT", "MSFT"],
            "interval": ["1d"] * 4,
            "ts": pd.DatetimeIndex(
                ["2010-01-04", "2010-01-05", "2010-01-04", "2010-01-05"], tz="UTC"
            ).astype("datetime64[ns, UTC]"),
            "open": [213.43, 214.60, 30.62, 30.85],
            "high": [214.50, 215.59, 31.10, 31.10],
            "low": [212.38, 211.25, 30.59, 30.64],
            "close": [214.01, 214.38, 30.95, 30.96],
            "volume": [17_600_000.0, 21_500_000.0, 38_400_000.0, 58_700_000.0],
            "vwap": [213.70, math.nan, math.nan, 30.91],
            "trade_count": pd.array([120_500, None, 98_000, 151_000], dtype="Int64"),
            "source": ["test"] * 4,
        }
    )


# ---------------------------------------------------------------------------------------------
# migrate, lifecycle
# ---------------------------------------------------------------------------------------------

def test_migrate_twice_is_fine_and_reports_the_mode(store: Store, backend: str) -> None:
    first = store.migrate()
    second = store.migrate()
    assert first == second == store.mode
    assert store.mode in ({"duckdb"} if backend == "duckdb" else {"postgres", "timescaledb"})
    store.write_bars(bars_frame(SAMPLE))
    store.migrate()  # migrating again keeps the data
    assert store.bar_count() == 4


def test_data_survives_reopening(open_backend) -> None:
    with open_backend() as first:
        first.migrate()
        first.write_bars(bars_frame(SAMPLE))
    with open_backend() as second:
        second.migrate()
        assert second.bar_count() == 4
        pd.testing.assert_frame_equal(second.read_bars(), expected_sample())


def test_health_and_close(open_backend) -> None:
    store = open_backend()
    store.migrate()
    assert store.health() is True
    store.close()
    store.close()  # idempotent
    assert store.health() is False
    with pytest.raises(UnavailableError):
        store.bar_count()


def test_unknown_backend_is_a_value_error_naming_it() -> None:
    with pytest.raises(ValueError, match="mongodb"):
        open_store("mongodb", "mongodb://localhost")


# ---------------------------------------------------------------------------------------------
# bars
# ---------------------------------------------------------------------------------------------

def test_written_bars_read_back_equal(store: Store) -> None:
    assert store.write_bars(bars_frame(SAMPLE)) == 4
    got = store.read_bars()
    assert list(got.columns) == BAR_COLUMNS
    pd.testing.assert_frame_equal(got, expected_sample())
    assert str(got["ts"].dtype) == "datetime64[ns, UTC]"
    assert store.bar_count() == 4
    assert store.symbols() == ["AAPL", "MSFT"]


def test_bulk_path_keeps_full_float_precision_nulls_and_odd_strings(store: Store) -> None:
    tricky = pd.DataFrame({
        "symbol": ['BRK"B', "X,Y"], "interval": "1d",
        "ts": pd.to_datetime(["2010-01-04 14:30:00.123456", "2010-01-05 00:00:00.000000"], utc=True),
        "open": [0.1 + 0.2, 1 / 3], "high": [1e300, 2.0], "low": [1e-300, 1 / 7],
        "close": [123456789.12345679, 0.5], "volume": [0.0, 1.0],
        "vwap": [math.nan, 2.0 / 3], "trade_count": pd.array([None, 7], dtype="Int64"),
        "source": ["", "src\nline"],
    })
    assert store.write_bars(tricky) == 2
    got = store.read_bars().sort_values("symbol").reset_index(drop=True)
    want = tricky.sort_values("symbol").reset_index(drop=True)
    for col in ("open", "high", "low", "close", "volume"):
        assert got[col].tolist() == want[col].tolist(), col  # exact, not approximate
    assert math.isnan(got.loc[got.symbol == 'BRK"B', "vwap"].item())
    assert got.loc[got.symbol == "X,Y", "vwap"].item() == 2.0 / 3
    assert got["symbol"].tolist() == want["symbol"].tolist()
    assert got["source"].tolist() == want["source"].tolist()
    assert got["ts"].tolist() == want["ts"].tolist()


def test_rewriting_is_idempotent_and_updates_replace(store: Store) -> None:
    store.write_bars(bars_frame(SAMPLE))
    assert store.write_bars(bars_frame(SAMPLE)) == 0  # nothing inserted or changed
    assert store.bar_count() == 4

    corrected = bars_frame([
        ("AAPL", "2010-01-04", 213.43, 214.50, 212.38, 214.02, 17_600_001.0, 213.71, 120_501),
    ])
    assert store.write_bars(corrected) == 1
    assert store.bar_count() == 4
    row = store.read_bars("AAPL", start="2010-01-04", end="2010-01-04").iloc[0]
    assert (row["close"], row["volume"], row["vwap"], row["trade_count"]) == (
        214.02, 17_600_001.0, 213.71, 120_501
    )
    # the other bars are untouched
    expected = expected_sample()
    expected.loc[0, ["close", "volume", "vwap"]] = [214.02, 17_600_001.0, 213.71]
    expected.loc[0, "trade_count"] = 120_501
    pd.testing.assert_frame_equal(store.read_bars(), expected)


def test_duplicate_keys_in_one_batch_keep_the_last(store: Store) -> None:
    rows = [SAMPLE[2], SAMPLE[2][:5] + (999.0,) + SAMPLE[2][6:]]
    assert store.write_bars(bars_frame(rows)) == 1
    assert store.read_bars()["close"].tolist() == [999.0]


def test_range_symbol_and_interval_filters(store: Store) -> None:
    store.write_bars(bars_frame(SAMPLE))
    hourly = bars_frame([("AAPL", "2010-01-04 15:00", 1.0, 2.0, 0.5, 1.5, 10.0, None, None)])
    hourly["interval"] = "1h"
    store.write_bars(hourly)

    assert store.read_bars("MSFT")["symbol"].unique().tolist() == ["MSFT"]
    assert len(store.read_bars(["AAPL", "MSFT"])) == 4
    assert len(store.read_bars(["NOPE"])) == 0
    empty = store.read_bars([])
    assert list(empty.columns) == BAR_COLUMNS and len(empty) == 0
    assert str(empty["ts"].dtype) == "datetime64[ns, UTC]"

    # start and end are inclusive; strings, dates and aware datetimes all work
    only_5th = store.read_bars(start="2010-01-05")
    assert only_5th["ts"].dt.day.tolist() == [5, 5]
    assert store.read_bars(end=pd.Timestamp("2010-01-04", tz="UTC"))["ts"].dt.day.tolist() == [4, 4]
    window = store.read_bars("AAPL", start=utc(2010, 1, 4), end=utc(2010, 1, 4, 23))
    assert window["close"].tolist() == [214.01]
    # a naive bound is UTC
    assert len(store.read_bars(start=datetime(2010, 1, 5, 0, 0))) == 2

    got = store.read_bars("AAPL", interval="1h")
    assert got["ts"].tolist() == [pd.Timestamp("2010-01-04 15:00", tz="UTC")]
    assert len(store.read_bars(interval=None)) == 5
    assert store.bar_count() == 5 and store.bar_count("1h") == 1
    assert store.symbols("1h") == ["AAPL"]


def test_naive_timestamps_are_taken_as_utc(store: Store) -> None:
    frame = bars_frame(SAMPLE[:1])
    frame["ts"] = frame["ts"].dt.tz_localize(None)
    store.write_bars(frame)
    assert store.read_bars()["ts"].tolist() == [pd.Timestamp("2010-01-05", tz="UTC")]


def test_bars_with_a_missing_required_value_are_refused(store: Store) -> None:
    bad = bars_frame(SAMPLE[:1])
    bad.loc[0, "close"] = math.nan
    with pytest.raises(InvalidInputError, match="close"):
        store.write_bars(bad)
    with pytest.raises(InvalidInputError, match="adj_close"):
        store.write_bars(bars_frame(SAMPLE[:1]).assign(adj_close=1.0))
    assert store.bar_count() == 0


def test_bulk_write_of_50000_bars(store: Store) -> None:
    symbols = [f"S{i:02d}" for i in range(50)]
    days = pd.date_range("2000-01-03", periods=1000, freq="D", tz="UTC")
    n = len(symbols) * len(days)
    close = 100.0 + np.arange(n) / 1000.0
    frame = pd.DataFrame(
        {
            "symbol": np.repeat(symbols, len(days)),
            "interval": "1d",
            "ts": np.tile(days, len(symbols)),
            "open": close - 0.5,
            "high": close + 1.0,
            "low": close - 1.0,
            "close": close,
            "volume": np.full(n, 1_000.0),
            "vwap": close,
            "trade_count": np.arange(n),
            "source": "synthetic",
        }
    )
    assert n == 50_000
    started = time.perf_counter()
    assert store.write_bars(frame) == 50_000
    elapsed = time.perf_counter() - started
    assert store.bar_count() == 50_000
    assert len(store.symbols()) == 50
    one = store.read_bars("S07")
    assert len(one) == 1000
    assert one["close"].iloc[10] == 100.0 + (7 * 1000 + 10) / 1000.0
    assert one["trade_count"].iloc[10] == 7 * 1000 + 10
    assert store.write_bars(frame) == 0
    assert store.bar_count() == 50_000
    assert elapsed < 60, f"bulk write of 50,000 bars took {elapsed:.1f}s"


# ---------------------------------------------------------------------------------------------
# quarantine
# ---------------------------------------------------------------------------------------------

def test_quarantined_bars_keep_their_rule(store: Store) -> None:
    bad = bars_frame([
        ("XOM", "2010-03-01", math.nan, 70.0, 69.0, 69.5, 1_000.0, None, None),
        ("XOM", "2010-03-01", math.nan, 70.0, 69.0, 69.5, 1_000.0, None, None),
        ("XOM", "2010-03-02", 69.0, 68.0, 68.5, 69.5, -5.0, None, None),
    ])
    bad["rule"] = ["non_positive_price", "high_low_bracket", "negative_volume"]
    bad["detail"] = ["o=nan", "o=nan h=70.0", "volume=-5.0"]
    assert store.write_quarantine(bad) == 3
    assert store.write_quarantine(bad) == 0
    rows = store.fetch("quarantined_bars", order_by=["ts", "rule"])
    assert [(r["ts"].day, r["rule"], r["detail"]) for r in rows] == [
        (1, "high_low_bracket", "o=nan h=70.0"),
        (1, "non_positive_price", "o=nan"),
        (2, "negative_volume", "volume=-5.0"),
    ]
    assert rows[0]["open"] is None and rows[0]["high"] == 70.0
    assert rows[2]["volume"] == -5.0
    assert store.bar_count() == 0  # quarantine never leaks into good bars
    with pytest.raises(InvalidInputError, match="rule"):
        store.write_quarantine(bars_frame(SAMPLE[:1]))


# ---------------------------------------------------------------------------------------------
# records: upsert / fetch on natural keys
# ---------------------------------------------------------------------------------------------

T0 = utc(2024, 3, 1, 14, 30)

RECORDS = {
    "signals": (
        {"signal_id": "sig-1", "symbol": "AAPL", "ts": T0, "model_id": "lgbm",
         "model_version": "3", "probability": 0.61, "side": "buy", "horizon_bars": 5,
         "strategy": "momo"},
        {"probability": 0.64, "side": "sell"},
    ),
    "orders": (
        {"client_order_id": "sig-1-o", "symbol": "AAPL", "side": "buy", "quantity": 100.0,
         "order_type": "limit", "limit_price": 170.25, "status": "new", "venue": "sim",
         "created_at": T0, "updated_at": T0},
        {"order_id": "V-9", "status": "filled", "filled_qty": 100.0, "avg_fill_price": 170.2,
         "updated_at": T0 + timedelta(seconds=3)},
    ),
    "executions": (
        {"fill_id": "f-1", "order_id": "V-9", "client_order_id": "sig-1-o", "symbol": "AAPL",
         "side": "buy", "quantity": 60.0, "price": 170.2, "commission": 0.3, "venue": "sim",
         "ts": T0 + timedelta(seconds=2)},
        {"quantity": 60.0, "price": 170.19, "commission": 0.29},
    ),
    "positions": (
        {"account": "paper", "symbol": "AAPL", "quantity": 100.0, "avg_price": 170.2,
         "realized_pnl": 0.0, "updated_at": T0},
        {"quantity": 40.0, "realized_pnl": 12.5, "updated_at": T0 + timedelta(minutes=5)},
    ),
    "grades": (
        {"strategy": "momo", "model_id": "lgbm", "model_version": "3", "graded_at": T0,
         "score": 72.5, "level": "BATTLE_READY",
         "metrics": {"sharpe": 1.1, "auc": 0.55, "max_drawdown": 0.12},
         "promoted": False, "passed_gate": True},
        {"promoted": True, "metrics": {"sharpe": 1.2, "auc": 0.55, "max_drawdown": 0.12}},
    ),
}
KEYS = {
    "signals": ("signal_id",),
    "orders": ("client_order_id",),
    "executions": ("fill_id",),
    "positions": ("account", "symbol"),
    "grades": ("strategy", "model_id", "model_version", "graded_at"),
}


@pytest.mark.parametrize("table", sorted(RECORDS))
def test_upsert_and_fetch_replace_on_the_natural_key(store: Store, table: str) -> None:
    record, change = RECORDS[table]
    key = {k: record[k] for k in KEYS[table]}
    columns = TABLES[table].column_names

    assert store.upsert(table, [record]) == 1
    got = store.fetch(table, where=key)
    assert got == [{c: record.get(c) for c in columns}]
    assert store.upsert(table, [record]) == 0  # identical: nothing changed

    changed = {**record, **change}
    assert store.upsert(table, pd.DataFrame([changed])) == 1  # DataFrames work too
    got = store.fetch(table, where=key)
    assert got == [{c: changed.get(c) for c in columns}]
    assert len(store.fetch(table)) == 1

    other = dict(record)
    other[KEYS[table][0]] = record[KEYS[table][0]] + "-2"
    store.upsert(table, [other])
    assert len(store.fetch(table)) == 2
    assert store.fetch(table, where=key) == got


def test_fetch_filters_orders_and_limits(store: Store) -> None:
    base = RECORDS["orders"][0]
    store.upsert("orders", [
        {**base, "client_order_id": f"o-{i}", "status": status,
         "created_at": T0 + timedelta(minutes=i), "limit_price": None if i == 2 else 170.0}
        for i, status in enumerate(["new", "filled", "cancelled", "filled"])
    ])
    ids = [r["client_order_id"] for r in store.fetch("orders", order_by="-created_at")]
    assert ids == ["o-3", "o-2", "o-1", "o-0"]
    ids = [r["client_order_id"]
           for r in store.fetch("orders", {"status": ["new", "filled"]}, "created_at desc", 2)]
    assert ids == ["o-3", "o-1"]
    assert [r["client_order_id"] for r in store.fetch("orders", {"limit_price": None})] == ["o-2"]
    assert store.fetch("orders", {"status": []}) == []
    assert len(store.fetch("orders", limit=0)) == 0
    # values are bound parameters, never SQL
    assert store.fetch("orders", {"status": "x' OR '1'='1"}) == []
    assert len(store.fetch("orders")) == 4


def test_feature_sets_and_quality_reports_round_trip(store: Store) -> None:
    fs = {"name": "momentum", "version": "1", "family": "trend", "inputs": ["close", "volume"],
          "warmup": 20, "description": "RSI, ROC", "created_at": T0}
    store.upsert("feature_sets", fs)
    assert store.fetch("feature_sets") == [fs]
    reports = [{"run_id": "r1", "symbol": s, "rule": "high_low_bracket", "count": n,
                "created_at": T0} for s, n in (("A", 2), ("B", 0))]
    assert store.upsert("quality_reports", reports) == 2
    assert [r["count"] for r in store.fetch("quality_reports", {"run_id": "r1"})] == [2, 0]


# ---------------------------------------------------------------------------------------------
# names are validated against the schema
# ---------------------------------------------------------------------------------------------

def test_unknown_table_or_column_is_invalid_input_naming_it(store: Store) -> None:
    with pytest.raises(InvalidInputError, match="no_such_table"):
        store.fetch("no_such_table")
    with pytest.raises(InvalidInputError, match="bars; DROP TABLE bars"):
        store.fetch("bars; DROP TABLE bars")
    with pytest.raises(InvalidInputError, match="colour") as exc:
        store.fetch("orders", where={"colour": "red"})
    assert exc.value.field == "colour"
    with pytest.raises(InvalidInputError, match="nope"):
        store.fetch("orders", order_by="nope desc")
    with pytest.raises(InvalidInputError, match="limit"):
        store.fetch("orders", limit=-1)
    with pytest.raises(InvalidInputError, match="no_such_table"):
        store.upsert("no_such_table", [{"a": 1}])
    with pytest.raises(InvalidInputError, match="colour"):
        store.upsert("orders", [{**RECORDS["orders"][0], "colour": "red"}])
    with pytest.raises(InvalidInputError, match="status"):
        store.upsert("orders", [{k: v for k, v in RECORDS["orders"][0].items() if k != "status"}])
    assert store.bar_count() == 0  # nothing was dropped


# ---------------------------------------------------------------------------------------------
# checkpoints and audit
# ---------------------------------------------------------------------------------------------

def test_checkpoints_set_get_clear(open_backend) -> None:
    clock = SimulatedClock(utc(2024, 1, 2, 3))
    store = open_backend(clock=clock)
    store.migrate()
    assert store.get_checkpoints("hydrate") == {}
    store.set_checkpoint("hydrate", 0, "running", ["AAPL", "MSFT"])
    store.set_checkpoint("hydrate", 1, "done", ["XOM"])
    store.set_checkpoint("other", 0, "failed")
    assert store.get_checkpoints("hydrate") == {"0": "running", "1": "done"}
    clock.advance(timedelta(minutes=1))
    store.set_checkpoint("hydrate", 0, "done", ["AAPL", "MSFT"])
    assert store.get_checkpoints("hydrate") == {"0": "done", "1": "done"}
    row = store.fetch("hydration_checkpoints", {"job": "hydrate", "batch": 0})[0]
    assert row["symbols"] == ["AAPL", "MSFT"]
    assert row["updated_at"] == utc(2024, 1, 2, 3, 1)
    assert store.clear_checkpoints("hydrate") == 2
    assert store.get_checkpoints("hydrate") == {}
    assert store.get_checkpoints("other") == {"0": "failed"}


def test_audit_log_is_append_only(open_backend, backend: str, request) -> None:
    clock = SimulatedClock(utc(2024, 5, 6, 7))
    store = open_backend(clock=clock)
    store.migrate()
    first = store.audit("ops@desk", "halt", "risk", {"reason": "drawdown"})
    second = store.audit("ops@desk", "halt", "risk", {"reason": "drawdown"})
    assert second > first
    rows = store.fetch("audit_log", order_by="id")
    assert [(r["id"], r["actor"], r["action"], r["target"], r["details"], r["ts"]) for r in rows] == [
        (first, "ops@desk", "halt", "risk", {"reason": "drawdown"}, utc(2024, 5, 6, 7)),
        (second, "ops@desk", "halt", "risk", {"reason": "drawdown"}, utc(2024, 5, 6, 7)),
    ]
    with pytest.raises(InvalidInputError, match="append-only"):
        store.upsert("audit_log", [{"ts": T0, "actor": "x", "action": "y"}])
    if backend == "postgres":  # the database itself refuses to rewrite history
        import psycopg

        pg_connect = request.getfixturevalue("pg_connect")
        with pg_connect() as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f'UPDATE "{store.schema}"."audit_log" SET "actor" = %s', ["mallory"])
        with pg_connect() as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f'DELETE FROM "{store.schema}"."audit_log"')
    assert len(store.fetch("audit_log")) == 2


# ---------------------------------------------------------------------------------------------
# concurrency and the bulk path
# ---------------------------------------------------------------------------------------------

def test_threads_can_share_a_store(store: Store) -> None:
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            rows = [(f"T{i}", f"2011-01-{d:02d}", 1.0, 2.0, 0.5, 1.5, 10.0, None, None)
                    for d in range(1, 21)]
            store.write_bars(bars_frame(rows))
            store.audit(f"worker-{i}", "wrote", f"T{i}", {"n": 20})
            assert len(store.read_bars(f"T{i}")) == 20
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert store.bar_count() == 160
    assert len(store.fetch("audit_log")) == 8


def _bulk_frame(n_days: int) -> pd.DataFrame:
    days = pd.date_range("2001-01-01", periods=n_days, freq="D")
    return bars_frame([("BULK", d, 1.0, 2.0, 0.5, 1.5, 10.0, 1.2, 3) for d in days])


@pytest.mark.postgres
def test_postgres_bulk_write_uses_copy_not_row_inserts(pg_store: Store, monkeypatch) -> None:
    import psycopg

    store = pg_store
    calls: list[tuple[str, str]] = []
    real_execute, real_copy, real_many = (
        psycopg.Cursor.execute, psycopg.Cursor.copy, psycopg.Cursor.executemany
    )

    def as_text(query) -> str:
        return query if isinstance(query, str) else query.as_string(None)

    def execute(self, query, params=None, **kw):
        calls.append(("execute", as_text(query)))
        return real_execute(self, query, params, **kw)

    def executemany(self, query, params_seq, **kw):
        calls.append(("executemany", as_text(query)))
        return real_many(self, query, params_seq, **kw)

    def copy(self, statement, params=None, **kw):
        calls.append(("copy", as_text(statement)))
        return real_copy(self, statement, params, **kw)

    monkeypatch.setattr(psycopg.Cursor, "execute", execute)
    monkeypatch.setattr(psycopg.Cursor, "executemany", executemany)
    monkeypatch.setattr(psycopg.Cursor, "copy", copy)

    assert store.write_bars(_bulk_frame(2_000)) == 2_000
    monkeypatch.undo()

    kinds = [k for k, _ in calls]
    assert "executemany" not in kinds
    copies = [sql for k, sql in calls if k == "copy"]
    assert len(copies) == 1 and "FROM STDIN" in copies[0]
    inserts = [sql for _, sql in calls if "INSERT" in sql.upper()]
    assert len(inserts) == 1, inserts
    assert "SELECT" in inserts[0] and "ON CONFLICT" in inserts[0] and "VALUES" not in inserts[0]
    assert len(calls) <= 4, calls  # a handful of statements for 2,000 bars
    assert store.bar_count() == 2_000


def test_duckdb_bulk_write_is_one_insert_select_over_arrow(duckdb_store: Store) -> None:
    import pyarrow as pa

    store = duckdb_store
    real = store._con
    calls: list[tuple[str, object]] = []

    class Spy:  # duckdb's connection type cannot be patched; wrap the store's connection
        def __getattr__(self, name):
            attr = getattr(real, name)
            if not callable(attr):
                return attr

            def recorded(*args, **kwargs):
                calls.append((name, args[1] if name == "register" else args[0] if args else ""))
                return attr(*args, **kwargs)

            return recorded

    store._con = Spy()
    try:
        assert store.write_bars(_bulk_frame(2_000)) == 2_000
    finally:
        store._con = real
    names = [n for n, _ in calls]
    assert "executemany" not in names
    registered = [obj for n, obj in calls if n == "register"]
    assert len(registered) == 1 and isinstance(registered[0], pa.Table)
    assert registered[0].num_rows == 2_000
    statements = [sql for n, sql in calls if n in ("execute", "sql")]
    assert len(statements) == 1
    assert statements[0].startswith("INSERT INTO") and "SELECT" in statements[0]
    assert "ON CONFLICT" in statements[0] and "VALUES" not in statements[0]


# ---------------------------------------------------------------------------------------------
# PostgreSQL specifics: unreachable server, TimescaleDB detection
# ---------------------------------------------------------------------------------------------

@pytest.mark.postgres
def test_unreachable_postgres_is_unavailable_fast_naming_host_and_port() -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    url = f"postgresql://postgres@127.0.0.1:{port}/test"
    with pytest.raises(UnavailableError) as exc:  # noqa: SIM117 - the raise may come from either
        with open_store("postgres", url, schema="alphaloop_unreachable") as store:
            store.migrate()
    assert time.monotonic() - started < 10
    assert f"127.0.0.1:{port}" in str(exc.value)


@pytest.mark.postgres
def test_postgres_mode_matches_timescaledb_availability(
    pg_url: str, pg_schema: str, pg_connect, caplog: pytest.LogCaptureFixture
) -> None:
    from alphaloop.common.store.postgres_store import PLAIN_MODE_MESSAGE, PostgresStore

    with pg_connect() as conn:
        available = conn.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
        ).fetchone() is not None

    caplog.set_level(logging.INFO, logger="alphaloop.store")
    with PostgresStore(pg_url, schema=pg_schema) as store:
        store.migrate()
        store.migrate()
        assert store.timescaledb is available
        plain_lines = [r for r in caplog.records if r.getMessage() == PLAIN_MODE_MESSAGE]
        with pg_connect() as conn:
            indexes = {r[0] for r in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = 'bars'",
                [pg_schema],
            ).fetchall()}
            if available:
                hypertables = {r[0] for r in conn.execute(
                    "SELECT hypertable_name FROM timescaledb_information.hypertables "
                    "WHERE hypertable_schema = %s", [pg_schema],
                ).fetchall()}
        if available:
            assert store.mode == "timescaledb"
            assert {"bars", "quarantined_bars", "audit_log"} <= hypertables
            assert plain_lines == []
        else:
            assert store.mode == "postgres"
            assert len(plain_lines) == 1  # one line, however often migrate runs
            assert "bars_symbol_ts_idx" in indexes and "bars_pkey" in indexes


@pytest.mark.postgres
def test_postgres_lost_connection_is_unavailable_then_reconnects(
    pg_store: Store, pg_connect
) -> None:
    pg_store.write_bars(bars_frame(SAMPLE))
    pid = pg_store._conn.info.backend_pid
    with pg_connect() as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", [pid])
    with pytest.raises(UnavailableError, match=re.escape(pg_store.address)):
        pg_store.bar_count()
    assert pg_store.bar_count() == 4  # the next call opens a new connection
    assert pg_store.health() is True
