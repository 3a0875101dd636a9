"""Fixtures for the store contract suite: every test that takes ``store`` (or ``open_backend``)
runs once on DuckDB (a temporary file) and once on PostgreSQL (127.0.0.1:5432, database
``test``, a schema unique to this test session and dropped at the end).

PostgreSQL that cannot be reached fails the postgres tests (it is not a skip): the design says a
backend that cannot be reached in a test run is a failure. Override the server with
``ALPHALOOP_TEST_PG_URL``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from alphaloop.common.store import TABLES, Store, open_store

PG_URL = os.environ.get("ALPHALOOP_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_connect():
    import psycopg

    try:
        return psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        pytest.fail(f"PostgreSQL for the store contract tests is unreachable ({PG_URL}): {exc}")


@pytest.fixture(scope="session")
def pg_url() -> str:
    return PG_URL


@pytest.fixture(scope="session")
def pg_connect() -> Callable:
    """Opens an independent autocommit psycopg connection to the test server (not through the
    store), for checks made behind the store's back."""
    return _pg_connect


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    """A PostgreSQL schema for this test session, dropped (with everything in it) afterwards."""
    name = f"alphaloop_test_{uuid.uuid4().hex[:10]}"
    with _pg_connect() as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        with _pg_connect() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def _factory(backend: str, request: pytest.FixtureRequest, tmp_path: Path, opened: list[Store]):
    if backend == "duckdb":
        # A folder that does not exist yet: the store creates its parent directory.
        location = str(tmp_path / "state" / "alphaloop.duckdb")

        def factory(**opts) -> Store:
            store = open_store("duckdb", location, **opts)
            opened.append(store)
            return store

        return factory

    schema = request.getfixturevalue("pg_schema")
    fresh = [True]

    def factory(**opts) -> Store:
        store = open_store("postgres", PG_URL, schema=schema, **opts)
        opened.append(store)
        if fresh[0]:  # every test starts from empty tables in the session schema
            fresh[0] = False
            store.migrate()
            tables = ", ".join(f'"{schema}"."{t}"' for t in TABLES)
            with _pg_connect() as conn:
                conn.execute(f"TRUNCATE {tables} RESTART IDENTITY")
        return store

    return factory


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def open_backend(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., Store]]:
    """Opens (and later closes) stores on this test's backend location; reopening sees the same
    data. The first call starts from empty tables."""
    opened: list[Store] = []
    try:
        yield _factory(backend, request, tmp_path, opened)
    finally:
        for store in opened:
            store.close()


@pytest.fixture
def store(open_backend: Callable[..., Store]) -> Store:
    """A migrated, empty store on the backend under test."""
    s = open_backend()
    s.migrate()
    return s


@pytest.fixture
def duckdb_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty DuckDB store (for DuckDB-specific checks)."""
    opened: list[Store] = []
    store = _factory("duckdb", request, tmp_path, opened)()
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def pg_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty PostgreSQL store (for PostgreSQL-specific checks)."""
    opened: list[Store] = []
    store = _factory("postgres", request, tmp_path, opened)()
    yield store
    store.close()
