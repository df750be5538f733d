"""The embedded store: one DuckDB file under the data directory.

Holds transactions, products, customers, rejects, the record of ingested sources and of runs,
consents (a log per customer and purpose) and dated per-customer snapshots of analysis runs.
Each file is loaded in one DuckDB transaction: a process killed mid-load leaves the store as
it was before that file (DuckDB discards the uncommitted transaction on the next open), and
re-running the command completes it.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import structlog

from omnix.adapters.sources import SourceFile
from omnix.adapters.warehouse import schema as s
from omnix.adapters.warehouse import validation as v
from omnix.adapters.warehouse.duckdb_load import FileLoad
from omnix.adapters.warehouse.duckdb_ops import OperationalTables
from omnix.adapters.warehouse.migrations import migrate
from omnix.adapters.warehouse.schema import COUNTED_TABLES, DATA_TABLES, DUCKDB, TABLES
from omnix.domain import contract as c
from omnix.domain import recommend as reco
from omnix.domain.errors import ConfigError, StoreError, StoreLockedError
from omnix.domain.ingest import ColumnPlan, IngestOptions, IngestSummary
from omnix.domain.ports import LoadProgress
from omnix.domain.snapshots import (
    PREDICTION_COLUMNS,
    PREDICTIONS,
    SNAPSHOT_COLUMNS,
    SNAPSHOT_DATE,
    SNAPSHOTS,
)

log = structlog.get_logger(__name__)

_PID = re.compile(r"PID (\d+)")


F = TypeVar("F", bound=Callable[..., Any])


def _serialised(method: F) -> F:
    """Run a writing method under the store's write lock (shared by every thread's handle)."""

    @functools.wraps(method)
    def locked(self: DuckDBStore, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            return method(self, *args, **kwargs)

    return locked  # type: ignore[return-value]


def describe_holder(message: str) -> str:
    """'PID 123 (omnix ingest x.csv)' from DuckDB's lock message, as far as it can be known."""
    match = _PID.search(message)
    if not match:
        return "another process"
    pid = int(match.group(1))
    try:
        import psutil

        cmd = " ".join(psutil.Process(pid).cmdline()) or "?"
    except Exception:  # the holder may have exited since
        cmd = "?"
    return f"PID {pid} ({cmd[:120]})"


def _connect(
    path: Path, read_only: bool, memory_limit: str, threads: int | None
) -> duckdb.DuckDBPyConnection:
    config: dict[str, Any] = {
        "memory_limit": memory_limit,
        "temp_directory": str(path.parent / ".tmp" / "duckdb"),
        "preserve_insertion_order": False,
    }
    if threads:
        config["threads"] = threads
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as err:
        if "lock" in str(err).lower():
            raise StoreLockedError(
                f"the store {path} is in use by {describe_holder(str(err))}; "
                "wait for it to finish or stop it"
            ) from None
        raise StoreError(f"cannot open the store {path}: {err}") from None
    # lets a second thread read query_progress(), without DuckDB printing its own bar
    for setting in ("enable_progress_bar = true", "enable_progress_bar_print = false",
                    "progress_bar_time = 0"):  # fmt: skip
        con.execute(f"SET {setting}")
    return con


def _compacted(path: Path) -> Path:
    """Where `compact` writes the new file before it replaces the store's."""
    return path.with_name(path.name + ".compact")


class DuckDBStore(OperationalTables):
    """The embedded warehouse. Open it with `DuckDBStore.open(path)`; close when done.

    One process holds the file. Inside it each thread uses its own handle (`for_thread`: a
    DuckDB cursor on the same database) and writes are serialised by one lock shared by all
    handles, so concurrent API requests and a running analysis never conflict."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        lock: threading.RLock | None = None,
        memory_limit: str = "1GB",
        threads: int | None = None,
    ) -> None:
        self.con = con
        self.path = path
        self.lock = lock or threading.RLock()
        self.memory_limit = memory_limit
        self.threads = threads
        self._ibis: Any = None

    def for_thread(self) -> DuckDBStore:
        """A handle for another thread: a cursor on the same database, the same write lock."""
        return DuckDBStore(self.con.cursor(), self.path, self.lock, self.memory_limit, self.threads)

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        read_only: bool = False,
        memory_limit: str = "1GB",
        threads: int | None = None,
        create: bool = True,
    ) -> DuckDBStore:
        """Open (with `create`, make) the store at `path`. A read-only open, or one with
        `create` false, refuses a path that holds no store and creates nothing there: a
        mistyped --data-dir on a reading command would otherwise answer from a new empty
        store as if nothing had been ingested."""
        if (read_only or not create) and not path.exists():
            raise StoreError(
                f"no store at {path}: check --data-dir (or OMNIX_DATA_DIR), "
                "or run `omnix ingest FILE` to create one"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        # DuckDB creates its spill directory but not missing parents: a query that spills
        # right after opening (no ingest has made .tmp yet) failed with an IO error
        (path.parent / ".tmp").mkdir(exist_ok=True)
        con = _connect(path, read_only, memory_limit, threads)
        store = cls(con, path, memory_limit=memory_limit, threads=threads)
        if not read_only:
            store.migrate()
            store.remove_stale_stages()
            _compacted(path).unlink(missing_ok=True)  # left by a killed `privacy compact`
        return store

    @_serialised
    def compact(self) -> dict[str, int]:
        """Rewrite the database file with only the rows it holds now. DuckDB reuses the
        blocks of deleted rows but does not clear them, so an erased customer's name stayed
        readable in the file (`strings omnix.duckdb`) until new data happened to overwrite
        it. Every table is copied into a new file (COPY FROM DATABASE: schema, constraints
        and rows), which then replaces the old one atomically: a killed process leaves the
        old file or the new one. Needs the only handle on the store (`omnix privacy
        compact`; a running server holds the file). Sizes in bytes, before and after."""
        before = self.path.stat().st_size
        target = _compacted(self.path)
        target.unlink(missing_ok=True)
        ((database,),) = self.con.execute("SELECT current_database()").fetchall()
        self.con.execute("CHECKPOINT")
        self.con.execute(f"ATTACH {v.lit(str(target))} AS omnix_compacted")
        try:
            self.con.execute(f"COPY FROM DATABASE {v.q(database)} TO omnix_compacted")
        finally:
            self.con.execute("DETACH omnix_compacted")
        self.con.close()
        target.replace(self.path)
        self.con = _connect(self.path, False, self.memory_limit, self.threads)
        self._ibis = None
        return {"bytes_before": before, "bytes_after": self.path.stat().st_size}

    @property
    def tmp_dir(self) -> Path:
        return self.path.parent / ".tmp"

    def remove_stale_stages(self) -> None:
        """Staged files left by a killed ingest. Safe: we hold the store's write lock, so no
        other omnix process can be staging into this directory."""
        for stale in self.tmp_dir.glob("stage-*.parquet"):
            stale.unlink(missing_ok=True)

    def close(self) -> None:
        self.con.close()

    @_serialised
    def migrate(self, upto: int | None = None) -> list[int]:
        """Apply the schema steps this store lacks (migrations.py); the versions applied."""
        return migrate(self, upto)

    # the migration runner's view of the store (migrations.SqlTarget)
    dialect = DUCKDB

    def execute_sql(self, sql: str) -> list[tuple[Any, ...]]:
        return self.con.execute(sql).fetchall()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def ibis(self) -> Any:
        """An Ibis backend over this connection, for analytics (made once per handle)."""
        if self._ibis is None:
            import ibis

            self._ibis = ibis.duckdb.from_connection(self.con)
        return self._ibis

    # ---------------------------------------------------------------- ingest
    @_serialised
    def load(
        self,
        source: SourceFile,
        plan: ColumnPlan,
        options: IngestOptions,
        progress: LoadProgress | None = None,
    ) -> IngestSummary:
        """Validate and store one file atomically; returns its balanced summary."""
        info = source.info
        summary = IngestSummary(source=str(info.path), kind=options.kind.value)
        summary.extra_columns = list(plan.extras)
        summary.extra_columns_kept = plan.extras_kept
        started = time.perf_counter()
        self._set_timezone(options.effective_timezone())
        ts_source = plan.mapped.get(c.TS) if options.kind is c.Kind.TRANSACTIONS else None
        staged = source.stage(
            self.tmp_dir,
            progress.read if progress else None,
            None if options.ts_format else ts_source,
        )
        log.info("staged", source=info.path.name, seconds=round(time.perf_counter() - started, 3))
        try:
            self.con.execute("BEGIN TRANSACTION")
            try:
                load = FileLoad(
                    self.con,
                    staged,
                    plan,
                    options,
                    info.source_id,
                    progress.phase if progress else None,
                    derive_positions=True,
                )
                load.run(summary, info.path.name)
                summary.seconds = time.perf_counter() - started
                self._record_source(source, options, summary)
                self.con.execute("COMMIT")
                log.info(
                    "committed",
                    source=info.path.name,
                    seconds=round(time.perf_counter() - started, 3),
                )
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
        finally:
            staged.cleanup()
        return summary

    def _set_timezone(self, tz: str) -> None:
        try:
            self.con.execute(f"SET TimeZone = {v.lit(tz)}")
        except duckdb.Error:
            raise ConfigError(
                f"unknown time zone {tz!r} (use an IANA name like Europe/Berlin)"
            ) from None

    def _record_source(
        self, source: SourceFile, options: IngestOptions, summary: IngestSummary
    ) -> None:
        info = source.info
        now = datetime.now(UTC)
        self.con.execute(
            """INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (source_id) DO UPDATE SET path = excluded.path,
            read = excluded.read, stored = excluded.stored, inserted = excluded.inserted,
            duplicates = excluded.duplicates, rejected = excluded.rejected,
            last_ingested_at = excluded.last_ingested_at, seconds = excluded.seconds,
            summary = excluded.summary""",
            [
                info.source_id,
                options.kind.value,
                str(info.path.resolve()),
                info.path.name,
                info.format.value,
                info.size,
                summary.read,
                summary.stored,
                summary.inserted,
                summary.duplicates,
                summary.rejected,
                now,
                now,
                summary.seconds,
                json.dumps(summary.to_dict()),
            ],
        )

    def export_rejects(self, source_id: str, path: Path) -> Path:
        """Write one source's rejects to a CSV beside the store (atomically replaced)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        self.con.execute(
            f"COPY (SELECT source_file, row_number, reason, detail, raw FROM rejects "
            f"WHERE source_id = {v.lit(source_id)} ORDER BY row_number) "
            f"TO {v.lit(str(tmp))} (HEADER, DELIMITER ',')"
        )
        tmp.replace(path)
        return path

    @_serialised
    def remove_source(self, source_id: str) -> dict[str, int]:
        deleted: dict[str, int] = {}
        with self.transaction():
            for table in s.SOURCE_TABLES:
                rows = self.con.execute(
                    f"DELETE FROM {table} WHERE source_id = ?", [source_id]
                ).fetchall()
                deleted[table] = int(rows[0][0]) if rows else 0
        self.con.execute("CHECKPOINT")  # the deleted lines leave the write-ahead log now
        return deleted

    # ---------------------------------------------------------------- snapshots, consents
    @_serialised
    def write_snapshot(self, day: date, rows: Any, predictions: Any | None = None) -> int:
        """Replace the snapshot of `day` with `rows` (a pyarrow table with SNAPSHOT_COLUMNS)
        and, when given, its predictions with `predictions` (PREDICTION_COLUMNS), all in one
        transaction: re-running a date is idempotent and a killed run leaves the previous
        results of that date as they were. Returns the number of snapshot rows stored."""
        tables = [(SNAPSHOTS, SNAPSHOT_COLUMNS, rows)]
        if predictions is not None:
            tables.append((PREDICTIONS, PREDICTION_COLUMNS, predictions))
        self.con.execute("BEGIN TRANSACTION")
        try:
            for name, columns, table in tables:
                self._replace_day(name, columns, day, table)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return int(rows.num_rows)

    def _replace_day(
        self, table: str, columns: tuple[tuple[str, c.DType], ...], day: date, rows: Any
    ) -> None:
        """Inside a transaction: delete `table`'s rows of `day`, insert `rows` (pyarrow)
        cast to the columns' types."""
        names = ", ".join(v.q(name) for name, _ in columns)
        values = ", ".join(f"CAST({v.q(name)} AS {v.SQL_TYPES[dtype]})" for name, dtype in columns)
        view = f"_{table}_rows"
        self.con.register(view, rows)
        try:
            self.con.execute(f"DELETE FROM {table} WHERE {SNAPSHOT_DATE} = ?", [day])
            self.con.execute(
                f"INSERT INTO {table} ({SNAPSHOT_DATE}, {names}) "
                f"SELECT CAST(? AS DATE), {values} FROM {view}",
                [day],
            )
        finally:
            self.con.unregister(view)

    @_serialised
    def record_consents(self, rows: Any) -> int:
        """Append consent records (a pyarrow table: customer_id, purpose, granted,
        recorded_at, source) in one transaction; returns how many."""
        self.con.register("_consent_rows", rows)
        try:
            self.con.execute(
                "INSERT INTO consents SELECT CAST(customer_id AS VARCHAR), "
                "CAST(purpose AS VARCHAR), CAST(granted AS BOOLEAN), "
                "CAST(recorded_at AS TIMESTAMPTZ), CAST(source AS VARCHAR) FROM _consent_rows"
            )
        except duckdb.Error as err:
            raise StoreError(f"cannot record consents: {err}") from None
        finally:
            self.con.unregister("_consent_rows")
        return int(rows.num_rows)

    def write_recommendations(
        self, as_of: date, tables: dict[str, Any], model: tuple[date, str] | None = None
    ) -> int:
        """Replace the precomputed recommendation tables (reco.TABLE_COLUMNS; pyarrow tables,
        candidates sorted by customer) in one transaction: a killed run leaves the previous
        ones. Returns the number of candidate rows."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            for name, columns in reco.TABLE_COLUMNS.items():
                cols = ", ".join(v.q(col) for col, _ in columns)
                cast = ", ".join(f"CAST({v.q(col)} AS {v.SQL_TYPES[t]})" for col, t in columns)
                self.con.register("_reco_rows", tables[name])
                try:
                    self.con.execute(f"DELETE FROM {name}")
                    self.con.execute(f"INSERT INTO {name} ({cols}) SELECT {cast} FROM _reco_rows")
                finally:
                    self.con.unregister("_reco_rows")
            for key, value in _reco_meta(as_of, model):
                self.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return int(tables[reco.CANDIDATES].num_rows)

    def write_embeddings(self, rows: Any) -> int:
        """Add (model, text_key, vector) rows, keeping vectors already stored for a key."""
        self.con.register("_embedding_rows", rows)
        try:
            self.con.execute(
                f"INSERT OR IGNORE INTO {reco.EMBEDDINGS} SELECT CAST(model AS VARCHAR), "
                "CAST(text_key AS VARCHAR), CAST(vector AS FLOAT[]) FROM _embedding_rows"
            )
        finally:
            self.con.unregister("_embedding_rows")
        return int(rows.num_rows)

    def meta(self, key: str) -> str | None:
        """A value of the store's meta table (None when unset)."""
        found = self.con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
        return str(found[0][0]) if found else None

    # ---------------------------------------------------------------- runs and status
    @contextmanager
    def run(self, command: str, detail: dict[str, Any] | None = None) -> Iterator[str]:
        """Record a run of `command` (started, finished, status) for `omnix status`.

        `detail` is stored at the start and again at the end, so a caller may add results to
        the same dict while it runs (stage timings, for instance)."""
        run_id = f"{command}-{time.time_ns()}"
        detail = detail if detail is not None else {}
        with self.lock:
            self.con.execute(
                "INSERT INTO runs VALUES (?, ?, ?, NULL, 'running', ?)",
                [run_id, command, datetime.now(UTC), json.dumps(detail, default=str)],
            )
        status = "failed"
        try:
            yield run_id
            status = "ok"
        finally:
            with self.lock:
                self.con.execute(
                    "UPDATE runs SET finished_at = ?, status = ?, detail = ? WHERE run_id = ?",
                    [datetime.now(UTC), status, json.dumps(detail, default=str), run_id],
                )

    @_serialised
    def reset(self) -> None:
        self.con.execute("BEGIN TRANSACTION")
        for table in DATA_TABLES:
            self.con.execute(f"DELETE FROM {table}")
        self.con.execute("COMMIT")
        self.con.execute("CHECKPOINT")  # give the space back now, not at some later checkpoint

    @_serialised
    def trim_memory(self) -> None:
        """Give the engine's cached buffers back before memory-heavy work in Python: after
        the history query of 10M lines DuckDB kept about 460 MB that a moment at a low
        memory limit frees (measured); the limit is then restored. The low limit leaves room
        for the small queries of other threads (API requests); if the engine cannot shrink
        now (memory in use), nothing is trimmed."""
        try:
            self.con.execute("SET memory_limit = '256MB'")
        except duckdb.Error:
            log.info("memory not trimmed: in use")
        finally:
            self.con.execute(f"SET memory_limit = {v.lit(self.memory_limit)}")

    def table_counts(self) -> dict[str, int]:
        return {
            table: int(self.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
            for table in COUNTED_TABLES
        }

    def recent(self, table: str, order: str, limit: int = 5) -> list[dict[str, Any]]:
        """Newest rows of `table` by `order`; limit 0 means all."""
        cap = f" LIMIT {int(limit)}" if limit else ""
        rel = self.con.execute(f"SELECT * FROM {table} ORDER BY {order} DESC{cap}")
        cols = [d[0] for d in rel.description]
        return [dict(zip(cols, row, strict=True)) for row in rel.fetchall()]

    def customer_rows(self, table: str, customer_id: str) -> list[dict[str, Any]]:
        rel = self.con.execute(
            f"SELECT * FROM {_customer_table(table)} WHERE {c.CUSTOMER_ID} = ?", [customer_id]
        )
        cols = [d[0] for d in rel.description]
        return [dict(zip(cols, row, strict=True)) for row in rel.fetchall()]


def _customer_table(table: str) -> str:
    """`table` when it is a customer table (never a user-supplied name: a bug otherwise)."""
    if table not in COUNTED_TABLES or c.CUSTOMER_ID not in TABLES[table].names:
        raise ValueError(f"{table!r} is not a customer table")
    return table


def _reco_meta(as_of: date, model: tuple[date, str] | None) -> list[tuple[str, str]]:
    """The meta rows written with the recommendation tables."""
    rows = [(reco.META_AS_OF, as_of.isoformat()), (reco.META_VERSION, reco.new_version(as_of))]
    if model is not None:
        rows += [(reco.META_MODEL_AS_OF, model[0].isoformat()), (reco.META_MODEL, model[1])]
    return rows
