"""Versioned schema migrations, the same numbered steps for DuckDB and PostgreSQL.

Each step has a number and a name, runs in its own transaction together with the row that
records it in `schema_migrations`, and is applied when a store opens (`migrate`). Re-running
is a no-op: applied steps are skipped. Steps are written to be idempotent as well (`CREATE ...
IF NOT EXISTS`, `ADD COLUMN IF NOT EXISTS`), which is what lets a DuckDB store made before
versioned migrations (it only kept `meta.schema_version`) run them all once.

A step that creates a table creates it in its current shape (`schema.TABLES`); a step that
adds a column later adds it only where it is missing. So a fresh store and an old one that
is upgraded end with the same columns; `tests/integration/test_migrations.py` checks both on
both engines. A change that cannot be said that way (a rename, a type change) is a `Sql`
step with a text per engine.

On PostgreSQL several server processes may open the store at once: the runner holds an
advisory lock while it reads and applies steps, so exactly one applies each step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from omnix.adapters.warehouse import schema as s
from omnix.domain import recommend as reco
from omnix.domain.snapshots import PREDICTIONS, SNAPSHOT_COLUMNS, SNAPSHOTS

# pg_advisory_lock key: "omnx" in ASCII, the same for every omnix process on a database
ADVISORY_KEY: Final = 0x6F6D6E78


class SqlTarget(Protocol):
    """What the runner needs of a store: its dialect, statements, and transactions."""

    dialect: str

    def execute_sql(self, sql: str) -> list[tuple[Any, ...]]: ...

    def transaction(self) -> AbstractContextManager[None]: ...


Render = Callable[[str], list[str]]


@dataclass(frozen=True, slots=True)
class Step:
    version: int
    name: str
    render: Render  # dialect -> statements

    def statements(self, dialect: str) -> list[str]:
        return self.render(dialect)


def create(*tables: str) -> Render:
    return lambda dialect: [sql for t in tables for sql in s.TABLES[t].create_sql(dialect)]


def add_columns(table: str, names: Sequence[str]) -> Render:
    return lambda dialect: [s.TABLES[table].add_column_sql(n, dialect) for n in names]


def both(*renders: Render) -> Render:
    return lambda dialect: [sql for r in renders for sql in r(dialect)]


def indexes(table: str) -> Render:
    """A table's indexes (made with the table on new stores; for stores made before)."""
    t = s.TABLES[table]
    return lambda dialect: [i.create_sql(t.name) for i in t.indexes if dialect in i.engines]


STEPS: Final[tuple[Step, ...]] = (
    Step(1, "core tables", create(
        "transactions", "products", "customers", s.REJECTS, "sources", "runs", "meta")),
    Step(2, "consents and customer snapshots", create("consents", SNAPSHOTS)),
    Step(3, "rhythm columns in customer snapshots",
         add_columns(SNAPSHOTS, [name for name, _ in SNAPSHOT_COLUMNS])),
    Step(4, "recommendations and the API's tables", create(
        *reco.TABLE_COLUMNS, reco.EMBEDDINGS, s.API_KEYS, s.JOBS, s.EVENT_MESSAGES,
        s.ERASURES)),
    Step(5, "jobs: cancellation flag, one open analysis across processes",
         both(add_columns(s.JOBS, ["cancel_requested"]), indexes(s.JOBS))),
    Step(6, "predictions; regular_products in customer snapshots",
         both(create(PREDICTIONS), add_columns(SNAPSHOTS, [n for n, _ in SNAPSHOT_COLUMNS]))),
    Step(7, "churn risk over 90 days in customer snapshots",
         add_columns(SNAPSHOTS, ["churn_risk_90d"])),
    Step(8, "a line's position may be derived from its row (line_seq NULL)",
         lambda dialect: ["ALTER TABLE transactions ALTER COLUMN line_seq DROP NOT NULL"]),
)  # fmt: skip
LATEST: Final = STEPS[-1].version


def applied(target: SqlTarget) -> dict[int, datetime]:
    """Steps recorded in the store (empty before the first migration)."""
    rows = target.execute_sql(f"SELECT version, applied_at FROM {s.MIGRATIONS}")
    return {int(v): at for v, at in rows}


def migrate(target: SqlTarget, upto: int | None = None) -> list[int]:
    """Apply the steps not yet recorded, in order (up to `upto`, for tests of upgrades);
    returns the versions applied now (empty when the store was up to date)."""
    with _exclusive(target):
        for sql in s.MIGRATIONS_TABLE.create_sql(target.dialect):
            target.execute_sql(sql)
        done = applied(target)
        now: list[int] = []
        for step in STEPS:
            if step.version in done or (upto is not None and step.version > upto):
                continue
            with target.transaction():
                for sql in step.statements(target.dialect):
                    target.execute_sql(sql)
                target.execute_sql(
                    f"INSERT INTO {s.MIGRATIONS} VALUES ({step.version}, "
                    f"{_lit(step.name)}, {_lit(datetime.now(UTC).isoformat())})"
                )
                target.execute_sql(
                    "DELETE FROM meta WHERE key = 'schema_version'"
                )  # kept for readers of meta (GET /readyz): the latest applied step
                target.execute_sql(f"INSERT INTO meta VALUES ('schema_version', '{step.version}')")
            now.append(step.version)
        return now


@contextmanager
def _exclusive(target: SqlTarget) -> Iterator[None]:
    """PostgreSQL: one migrating process at a time (a DuckDB file has one process)."""
    if target.dialect != s.POSTGRES:
        yield
        return
    target.execute_sql(f"SELECT pg_advisory_lock({ADVISORY_KEY})")
    try:
        yield
    finally:
        target.execute_sql(f"SELECT pg_advisory_unlock({ADVISORY_KEY})")


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
