"""One test suite, both stores: the embedded DuckDB file and the real PostgreSQL server.

A test that takes the `store` fixture (tests/conftest.py) runs once per backend. Each
PostgreSQL store is a database of its own (`omnix_t_<random>`), created for the test and
dropped after it, so parallel runs never collide. The server comes from OMNIX_TEST_PG_URL
(default postgres://postgres@localhost:5432/test: the database the fixture connects to in
order to create its own); `make test` starts or installs it (scripts/ensure-postgres.sh).
A server that cannot be reached fails the tests, it never skips them.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from omnix.config import Settings

PG_URL = os.environ.get("OMNIX_TEST_PG_URL", "postgres://postgres@localhost:5432/test")
BACKENDS = ("duckdb", "postgres")


def database_url(name: str) -> str:
    """PG_URL with its database replaced by `name` (scheme postgresql://)."""
    parts = urlsplit(PG_URL)
    return urlunsplit(("postgresql", parts.netloc, f"/{name}", parts.query, ""))


def admin() -> Any:
    """An autocommit connection to PG_URL's database; fails the test when unreachable."""
    import psycopg

    try:
        return psycopg.connect(PG_URL, autocommit=True, connect_timeout=10)
    except psycopg.Error as err:
        pytest.fail(
            f"PostgreSQL at {PG_URL} is not reachable ({err}); run scripts/ensure-postgres.sh"
        )


def create_database(template: str | None = None) -> str:
    """A new empty database (or a copy of `template`); its name."""
    name = f"omnix_t_{uuid.uuid4().hex[:12]}"
    sql = f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else "")
    with admin() as con:
        for attempt in range(50):
            try:
                con.execute(sql)
                break
            except Exception as err:  # a closed session may linger a moment on the template
                if "being accessed" not in str(err) or attempt == 49:
                    raise
                time.sleep(0.1)
    return name


def drop_database(name: str) -> None:
    with admin() as con:
        con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@dataclass(frozen=True)
class StoreRef:
    """Where a test's store lives: a data directory (rejects files, staged files, the DuckDB
    file) and, for PostgreSQL, a database of its own."""

    data_dir: Path
    database: str | None = None

    @property
    def kind(self) -> str:
        return "duckdb" if self.database is None else "postgres"

    @property
    def url(self) -> str | None:
        return None if self.database is None else database_url(self.database)

    def settings(self, **overrides: Any) -> Settings:
        return Settings(**{"data_dir": self.data_dir, "warehouse_url": self.url, **overrides})

    def __truediv__(self, other: str) -> Path:
        return self.data_dir / other

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of `sql` (written for both engines: `?` placeholders) on the store."""
        if self.database is None:
            import duckdb

            con = duckdb.connect(str(self.data_dir / "omnix.duckdb"), read_only=True)
            try:
                return con.execute(sql, list(params)).fetchall()
            finally:
                con.close()
        import psycopg
        from psycopg.types.string import TextLoader

        with psycopg.connect(self.url or "", autocommit=True) as con:
            for name in ("json", "jsonb"):  # JSON as text, as DuckDB returns it
                con.adapters.register_loader(name, TextLoader)
            con.execute("SET TimeZone = 'UTC'")
            if not params:
                return con.execute(sql.encode()).fetchall()
            return con.execute(sql.replace("?", "%s").encode(), params).fetchall()

    def copy(self, to: Path) -> StoreRef:
        """A private copy (the data directory, and the database as a template copy)."""
        if self.data_dir.exists():
            shutil.copytree(self.data_dir, to)
        if self.database is None:
            return StoreRef(to)
        return StoreRef(to, create_database(template=self.database))

    def drop(self) -> None:
        if self.database is not None:
            drop_database(self.database)


def new_store(kind: str, data_dir: Path) -> StoreRef:
    if kind == "duckdb":
        return StoreRef(data_dir)
    return StoreRef(data_dir, create_database())
