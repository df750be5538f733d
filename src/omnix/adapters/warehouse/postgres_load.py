"""Loading one file into PostgreSQL with the embedded store's rules and guarantees.

Validation is not written twice: the file is staged and validated exactly as the DuckDB store
does it (`duckdb_load.FileLoad`, the SQL of `validation.py`), on a scratch in-memory DuckDB
that holds only this file's typed lines and rejects (it spills to the data directory's .tmp
beyond its memory limit). Reject reasons, `read = stored + rejected`, line identity and line
sequence numbers therefore equal the embedded store's by construction.

Then, in one PostgreSQL transaction: the file's old rejects are replaced, its lines are
streamed (Arrow batches -> CSV -> COPY) into a temporary table and inserted where their
identity is not stored yet (line_id when given, else order, product and line_seq: the same
anti-join as DuckDB's), and the source is recorded. A killed process leaves the store as
before that file (PostgreSQL rolls back an unfinished transaction when its connection ends).
Loads are serialised by an advisory lock, so two processes loading overlapping files cannot
both insert a line.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import duckdb
import psycopg
import structlog

from omnix.adapters.sources import SourceFile
from omnix.adapters.warehouse import schema as s
from omnix.adapters.warehouse import validation as v
from omnix.adapters.warehouse.duckdb_load import FileLoad
from omnix.adapters.warehouse.postgres_notify import announce
from omnix.domain import contract as c
from omnix.domain.errors import ConfigError, StoreError
from omnix.domain.ingest import ColumnPlan, IngestOptions, IngestSummary
from omnix.domain.ports import LoadProgress

if TYPE_CHECKING:
    from omnix.adapters.warehouse.postgres_store import PostgresStore

log = structlog.get_logger(__name__)
INGEST_LOCK: Final = 2  # advisory lock id (class postgres_store.LOCK_CLASS): one file at a time
BATCH_ROWS: Final = 200_000
FILE_TABLES: Final = ("transactions", "products", "customers", s.REJECTS)


def load_file(
    store: PostgresStore,
    source: SourceFile,
    plan: ColumnPlan,
    options: IngestOptions,
    progress: LoadProgress | None = None,
) -> IngestSummary:
    info = source.info
    summary = IngestSummary(source=str(info.path), kind=options.kind.value)
    summary.extra_columns = list(plan.extras)
    summary.extra_columns_kept = plan.extras_kept
    started = time.perf_counter()
    scratch = _scratch(store.tmp_dir, options.effective_timezone(), **store._load_config)
    try:
        ts_source = plan.mapped.get(c.TS) if options.kind is c.Kind.TRANSACTIONS else None
        staged = source.stage(
            store.tmp_dir,
            progress.read if progress else None,
            None if options.ts_format else ts_source,
        )
        try:
            load = FileLoad(
                scratch, staged, plan, options, info.source_id,
                progress.phase if progress else None,
            )  # fmt: skip
            load.run(summary, info.path.name)
        finally:
            staged.cleanup()
        log.info("validated", source=info.path.name, seconds=_since(started))
        try:
            _store(store, scratch, source, options, summary, progress, started)
        except psycopg.Error as err:  # rolled back: the store is as before this file
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise StoreError(
                f"{info.path.name} was not stored (nothing of it was kept): {first}"
            ) from None
    finally:
        scratch.close()
    return summary


def _store(
    store: PostgresStore,
    scratch: duckdb.DuckDBPyConnection,
    source: SourceFile,
    options: IngestOptions,
    summary: IngestSummary,
    progress: LoadProgress | None,
    started: float,
) -> None:
    from omnix.adapters.warehouse.postgres_store import LOCK_CLASS, copy_reader

    info = source.info
    with store.writing() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS, INGEST_LOCK))
        # a small file against a large store: index lookups per line beat hashing the store
        cur.execute("SET LOCAL enable_nestloop = on")
        cur.execute(f"DELETE FROM {s.REJECTS} WHERE source_id = %s", (info.source_id,))
        copy_reader(cur, s.REJECTS, _read(scratch, s.REJECTS))
        if progress:
            progress.phase("copy", 0.0)
        if summary.stored == 0:
            summary.inserted = 0
        elif options.kind is c.Kind.TRANSACTIONS:
            summary.inserted = _insert_lines(cur, scratch)
        else:
            summary.inserted = _upsert_dimension(cur, scratch, c.CONTRACTS[options.kind])
        summary.duplicates = summary.stored - summary.inserted
        summary.seconds = time.perf_counter() - started
        _record_source(cur, source, options, summary)
        if summary.inserted or summary.rejected:
            announce(cur, "all")  # any customer's lines or rejects may have changed
    # fresh statistics now: the planner otherwise takes a bulk-loaded table for empty and
    # picks nested loops (profiles of 60 customers: 9 s instead of 0.1 s)
    if summary.inserted:
        store.analyze(c.CONTRACTS[options.kind].name)
    if progress:
        progress.phase("copy", 1.0)
    log.info("committed", source=info.path.name, seconds=_since(started))


def _insert_lines(cur: psycopg.Cursor[Any], scratch: duckdb.DuckDBPyConnection) -> int:
    """COPY the file's lines into a temporary table, insert those not stored yet."""
    from omnix.adapters.warehouse.postgres_store import copy_reader

    cur.execute("CREATE TEMP TABLE _omnix_lines (LIKE transactions) ON COMMIT DROP")
    copy_reader(cur, "_omnix_lines", _read(scratch, "transactions"))
    cur.execute("ANALYZE _omnix_lines")
    cur.execute(
        "INSERT INTO transactions SELECT s.* FROM _omnix_lines s WHERE "
        "(s.line_id IS NOT NULL OR NOT EXISTS (SELECT 1 FROM transactions t "
        "WHERE t.order_id = s.order_id AND t.product_id = s.product_id "
        "AND t.line_seq = s.line_seq)) AND (s.line_id IS NULL OR NOT EXISTS "
        "(SELECT 1 FROM transactions t WHERE t.line_id = s.line_id))"
    )
    return int(cur.rowcount)


def _upsert_dimension(
    cur: psycopg.Cursor[Any], scratch: duckdb.DuckDBPyConnection, contract: c.TableContract
) -> int:
    """Products or customers: the file's latest row per key replaces the stored one."""
    from omnix.adapters.warehouse.postgres_store import copy_reader

    table, key = contract.name, s.q(contract.key[0])
    cur.execute(f"CREATE TEMP TABLE _omnix_rows (LIKE {table}) ON COMMIT DROP".encode())
    copy_reader(cur, "_omnix_rows", _read(scratch, table))
    cur.execute(
        f"SELECT count(*) FROM _omnix_rows r WHERE NOT EXISTS "
        f"(SELECT 1 FROM {table} d WHERE d.{key} = r.{key})".encode()
    )
    row = cur.fetchone()
    names = s.TABLES[table].names
    updates = ", ".join(f"{s.q(n)} = excluded.{s.q(n)}" for n in names if n != contract.key[0])
    cur.execute(
        f"INSERT INTO {table} SELECT * FROM _omnix_rows ON CONFLICT ({key}) "
        f"DO UPDATE SET {updates}".encode()
    )
    return int(row[0]) if row else 0


def _record_source(
    cur: psycopg.Cursor[Any], source: SourceFile, options: IngestOptions, summary: IngestSummary
) -> None:
    info = source.info
    now = datetime.now(UTC)
    cur.execute(
        "INSERT INTO sources VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (source_id) DO UPDATE SET path = excluded.path, read = excluded.read, "
        "stored = excluded.stored, inserted = excluded.inserted, "
        "duplicates = excluded.duplicates, rejected = excluded.rejected, "
        "last_ingested_at = excluded.last_ingested_at, seconds = excluded.seconds, "
        "summary = excluded.summary",
        (info.source_id, options.kind.value, str(info.path.resolve()), info.path.name,
         info.format.value, info.size, summary.read, summary.stored, summary.inserted,
         summary.duplicates, summary.rejected, now, now, summary.seconds,
         json.dumps(summary.to_dict())),
    )  # fmt: skip


def _scratch(
    tmp_dir: Path, timezone: str, memory_limit: str = "1GB", threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the file tables, spilling under `tmp_dir`."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "memory_limit": memory_limit,
        "temp_directory": str(tmp_dir / "duckdb-scratch"),
        "preserve_insertion_order": False,
    }
    if threads:
        config["threads"] = threads
    con = duckdb.connect(":memory:", config=config)
    for setting in ("enable_progress_bar = true", "enable_progress_bar_print = false",
                    "progress_bar_time = 0"):  # fmt: skip
        con.execute(f"SET {setting}")
    try:
        con.execute(f"SET TimeZone = {v.lit(timezone)}")
    except duckdb.Error:
        con.close()
        raise ConfigError(
            f"unknown time zone {timezone!r} (use an IANA name like Europe/Berlin)"
        ) from None
    for table in FILE_TABLES:
        for sql in s.TABLES[table].create_sql(s.DUCKDB):
            con.execute(sql)
    return con


def _read(scratch: duckdb.DuckDBPyConnection, table: str) -> Any:
    """A scratch table as Arrow batches, JSON as text (Arrow's CSV writer has no JSON)."""
    cols = ", ".join(
        f"CAST({s.q(col.name)} AS VARCHAR) AS {s.q(col.name)}"
        if col.kind == "json"
        else s.q(col.name)
        for col in s.TABLES[table].columns
    )
    return scratch.sql(f"SELECT {cols} FROM {table}").to_arrow_reader(BATCH_ROWS)


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 3)
