"""The store: bars, quarantine, records and the audit log behind one interface.

``open_store('duckdb', '.alphaloop/alphaloop.duckdb')`` is the embedded default;
``open_store('postgres', 'postgresql://user@host:5432/db', schema='alphaloop')`` is the cluster
backend (TimescaleDB hypertables when the extension exists, plain tables otherwise). Call
``migrate()`` once after opening. The schema is declared once in :mod:`.schema`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alphaloop.common.store.base import Store
from alphaloop.common.store.schema import (
    BAR_COLUMNS,
    POLICIES,
    QUARANTINE_COLUMNS,
    TABLES,
    Column,
    TableSpec,
    TimescalePolicy,
)

if TYPE_CHECKING:
    import pandas as pd

BACKENDS = ("duckdb", "postgres")


def open_store(backend: str, url: str, **opts: Any) -> Store:
    """Open a store. ``backend``: ``'duckdb'`` (``url`` = file path or ``':memory:'``; options
    ``clock``, ``read_only``, ``threads``) or ``'postgres'`` (``url`` = libpq URL; options
    ``schema``, ``clock``, ``connect_timeout``, ``retention``, ``compress_after``,
    ``chunk_interval``, ``application_name``). An unknown backend raises ValueError; a server
    that cannot be reached raises ``UnavailableError`` naming host:port."""
    if backend == "duckdb":
        from alphaloop.common.store.duckdb_store import DuckDBStore

        return DuckDBStore(url, **opts)
    if backend in ("postgres", "postgresql", "timescaledb"):
        from alphaloop.common.store.postgres_store import PostgresStore

        return PostgresStore(url, **opts)
    raise ValueError(f"unknown store backend {backend!r}; choose one of {', '.join(BACKENDS)}")


def stored_bars(backend: str, url: str) -> pd.DataFrame:
    """Every bar in the store at ``backend`` / ``url`` (migrated first): what ``alphaloop train``,
    ``alphaloop grade`` and the Train RPC read. ``FailedPreconditionError`` saying to run
    ``alphaloop hydrate`` when there is no DuckDB file or no bar at all."""
    from pathlib import Path

    from alphaloop.common.errors import FailedPreconditionError

    where = f"{backend} {url}"
    if backend == "duckdb" and not Path(url).exists():
        raise FailedPreconditionError(f"no store at {where}: run `alphaloop hydrate` first")
    with open_store(backend, url) as store:
        store.migrate()
        bars = store.read_bars()
    if bars.empty:
        raise FailedPreconditionError(f"no bars in {where}: run `alphaloop hydrate` first")
    return bars


def __getattr__(name: str) -> Any:
    # Backends import their drivers lazily: DuckDB-only installs need no psycopg.
    if name == "DuckDBStore":
        from alphaloop.common.store.duckdb_store import DuckDBStore

        return DuckDBStore
    if name == "PostgresStore":
        from alphaloop.common.store.postgres_store import PostgresStore

        return PostgresStore
    raise AttributeError(name)


__all__ = [
    "BACKENDS",
    "BAR_COLUMNS",
    "POLICIES",
    "QUARANTINE_COLUMNS",
    "TABLES",
    "Column",
    "DuckDBStore",
    "PostgresStore",
    "Store",
    "TableSpec",
    "TimescalePolicy",
    "open_store",
]
