"""Versioned schema migrations on both stores: a fresh store gets every step, an old one is
upgraded keeping its rows, re-running applies nothing, and concurrent openers apply each step
once (PostgreSQL)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import duckdb
import pytest

from omnix.adapters.warehouse import migrations as m
from omnix.adapters.warehouse import schema as s
from omnix.bootstrap import open_warehouse
from omnix.domain.snapshots import SNAPSHOTS
from tests.backends import StoreRef


def columns(store: StoreRef) -> dict[str, set[str]]:
    """Columns per table of the store."""
    if store.kind == "duckdb":
        sql = "SELECT table_name, column_name FROM duckdb_columns()"
    else:
        sql = (
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema()"
        )
    out: dict[str, set[str]] = {}
    for table, column in store.query(sql):
        out.setdefault(table, set()).add(column)
    return out


def unmigrated(store: StoreRef) -> Any:
    """A handle on the store that has applied no step yet."""
    if store.kind == "duckdb":
        from omnix.adapters.warehouse.duckdb_store import DuckDBStore

        store.data_dir.mkdir(parents=True, exist_ok=True)
        path = store.data_dir / "omnix.duckdb"
        return DuckDBStore(duckdb.connect(str(path)), path)
    from omnix.adapters.warehouse.postgres_store import PostgresStore, connect

    assert store.url is not None
    return PostgresStore(store.url, connect(store.url), store.data_dir / ".tmp")


def test_a_fresh_store_has_every_step_and_every_defined_column(store: StoreRef) -> None:
    open_warehouse(store.settings()).close()
    versions = [v for (v,) in store.query(f"SELECT version FROM {s.MIGRATIONS} ORDER BY 1")]
    assert versions == [step.version for step in m.STEPS]
    assert store.query("SELECT value FROM meta WHERE key = 'schema_version'") == [(str(m.LATEST),)]
    found = columns(store)
    for table in s.TABLES.values():
        assert found.get(table.name) == set(table.names), table.name


def test_an_old_store_is_upgraded_and_keeps_its_rows(store: StoreRef) -> None:
    old = unmigrated(store)
    assert old.migrate(upto=2) == [1, 2]
    old.execute_sql(
        f"INSERT INTO {SNAPSHOTS} (snapshot_date, customer_id, segment) "
        "VALUES ('2025-01-01', 'A', 'Loyal')"
    )
    old.close()
    before = columns(store)
    assert "due_14d" in before[SNAPSHOTS]  # created in its current shape ...
    assert s.JOBS not in before  # ... but the later steps' tables are not there yet
    open_warehouse(store.settings()).close()  # opening applies steps 3, 4, 5
    versions = [v for (v,) in store.query(f"SELECT version FROM {s.MIGRATIONS} ORDER BY 1")]
    assert versions == [step.version for step in m.STEPS]
    after = columns(store)
    assert after[s.JOBS] == set(s.TABLES[s.JOBS].names)
    assert store.query(f"SELECT customer_id, segment FROM {SNAPSHOTS}") == [("A", "Loyal")]


def test_a_dropped_column_comes_back_from_its_step(store: StoreRef) -> None:
    """A store at step 2 whose snapshots lack a later column (as stores made before the
    rhythm columns did) gains it from step 3."""
    old = unmigrated(store)
    old.migrate(upto=2)
    old.execute_sql(f"ALTER TABLE {SNAPSHOTS} DROP COLUMN due_14d")
    old.close()
    open_warehouse(store.settings()).close()
    assert "due_14d" in columns(store)[SNAPSHOTS]


def test_reopening_applies_nothing(store: StoreRef) -> None:
    open_warehouse(store.settings()).close()
    first = store.query(f"SELECT version, applied_at FROM {s.MIGRATIONS} ORDER BY 1")
    handle = open_warehouse(store.settings())
    try:
        assert handle.migrate() == []  # type: ignore[attr-defined]
    finally:
        handle.close()
    assert store.query(f"SELECT version, applied_at FROM {s.MIGRATIONS} ORDER BY 1") == first


def test_a_duckdb_store_from_before_versioned_migrations_runs_every_step(tmp_path: Path) -> None:
    """Such a store kept only meta.schema_version; every step is idempotent, so all run."""
    path = tmp_path / "d" / "omnix.duckdb"
    path.parent.mkdir()
    con = duckdb.connect(str(path))
    for table in ("transactions", "meta", "consents", SNAPSHOTS):
        for sql in s.TABLES[table].create_sql(s.DUCKDB):
            con.execute(sql)
    con.execute(f"ALTER TABLE {SNAPSHOTS} DROP COLUMN next_due_days")
    con.execute("INSERT INTO meta VALUES ('schema_version', '3')")
    con.execute("INSERT INTO consents VALUES ('A', 'profiling', true, now(), 'x')")
    con.close()
    ref = StoreRef(tmp_path / "d")
    open_warehouse(ref.settings()).close()
    found = columns(ref)
    assert all(found.get(t.name) == set(t.names) for t in s.TABLES.values())
    assert ref.query("SELECT count(*) FROM consents") == [(1,)]


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_concurrent_openers_apply_each_step_once(store: StoreRef) -> None:
    """Several server processes start at once: the advisory lock lets one migrate."""
    applied: list[list[int]] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            handle = unmigrated(store)
            try:
                applied.append(handle.migrate())
            finally:
                handle.close()
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(v for versions in applied for v in versions) == [st.version for st in m.STEPS]
    assert store.query(f"SELECT count(*) FROM {s.MIGRATIONS}") == [(len(m.STEPS),)]
