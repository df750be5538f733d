"""The production store: PostgreSQL through psycopg 3 (`pip install 'omnix[postgres]'`).

The same tables as the embedded store (`schema.py`, created by the same numbered migrations),
the same guarantees: a file is loaded in one PostgreSQL transaction (a killed process leaves
the store as before that file), snapshots and recommendations are replaced atomically, and
the analytics are the same Ibis expressions, run here by Ibis's PostgreSQL backend on the
store's own connection.

Each thread uses its own connection (`for_thread`); unlike DuckDB, several processes may use
the store at once (`omnix serve --workers N`). Writes that add or replace customer data take
a shared advisory lock and an erasure takes it exclusively, so an erasure never interleaves
with an ingest, an event batch or a snapshot write (the embedded store's one write lock gives
the same).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import structlog
from psycopg.types.string import TextLoader

from omnix.adapters.warehouse import schema as s
from omnix.adapters.warehouse.migrations import migrate
from omnix.adapters.warehouse.postgres_notify import ChangeListener, announce
from omnix.adapters.warehouse.postgres_ops import PostgresOperational
from omnix.domain import contract as c
from omnix.domain import recommend as reco
from omnix.domain.errors import StoreError
from omnix.domain.ingest import ColumnPlan, IngestOptions, IngestSummary
from omnix.domain.ports import ChangeHandler, LoadProgress
from omnix.domain.snapshots import (
    PREDICTION_COLUMNS,
    PREDICTIONS,
    SNAPSHOT_COLUMNS,
    SNAPSHOT_DATE,
    SNAPSHOTS,
)

log = structlog.get_logger(__name__)

# advisory lock keys (class, id): writers of customer data share it, erasure takes it alone
LOCK_CLASS: Final = 0x6F6D6E78
DATA_LOCK: Final = 1
COPY_BATCH_ROWS: Final = 100_000


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at or ":" not in creds:
        return url
    return f"{scheme}{sep}{creds.split(':', 1)[0]}:***@{host}"


def connect(url: str) -> psycopg.Connection[Any]:
    """An autocommit connection (explicit transactions only), JSON read as text like DuckDB
    hands it, session time zone UTC, no nested-loop joins (see below)."""
    try:
        con = psycopg.connect(url, autocommit=True)
    except psycopg.Error as err:
        reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise StoreError(f"cannot connect to PostgreSQL at {redact(url)}: {reason}") from None
    for name in ("json", "jsonb"):
        con.adapters.register_loader(name, TextLoader)
    con.execute("SET TimeZone = 'UTC'")
    # The analytics are wide Ibis queries whose CTEs PostgreSQL estimates at a few hundred
    # rows: it then nests loops over 20,000 x 20,000 customers (profiles of 1.1M lines: 74 s;
    # without nested loops 17 s). Point reads still use their indexes; a file load turns them
    # back on for its anti-join (postgres_load.py).
    con.execute("SET enable_nestloop = off")
    return con


class PostgresStore(PostgresOperational):
    """The PostgreSQL warehouse. Open it with `PostgresStore.open(url, tmp_dir)`."""

    dialect = s.POSTGRES

    def __init__(self, url: str, con: psycopg.Connection[Any], tmp_dir: Path, **load: Any) -> None:
        self.url = url
        self.con = con
        self.tmp_dir = tmp_dir
        self._load_config = load  # memory_limit, threads of the validating DuckDB
        self._ibis: Any = None

    @classmethod
    def open(cls, url: str, tmp_dir: Path, **load: Any) -> PostgresStore:
        """Connect and apply the schema steps the database lacks. Staged files go to a
        directory of this process under `tmp_dir` (several processes may share it); those
        of processes that ended are removed."""
        remove_stale_stages(tmp_dir)
        store = cls(url, connect(url), tmp_dir / f"pg-{os.getpid()}", **load)
        try:
            store.migrate()
        except psycopg.Error as err:
            store.close()
            raise StoreError(f"cannot prepare the PostgreSQL store: {err}") from None
        return store

    def for_thread(self) -> PostgresStore:
        """A handle for another thread: its own connection to the same database."""
        return PostgresStore(self.url, connect(self.url), self.tmp_dir, **self._load_config)

    def close(self) -> None:
        self.con.close()

    # ------------------------------------------------------------------ schema
    def migrate(self, upto: int | None = None) -> list[int]:
        return migrate(self, upto)

    def execute_sql(self, sql: str) -> list[tuple[Any, ...]]:
        with self.con.cursor() as cur:
            cur.execute(sql.encode())
            return cur.fetchall() if cur.description is not None else []

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.con.transaction():
            yield

    @contextmanager
    def writing(self, exclusive: bool = False) -> Iterator[psycopg.Cursor[Any]]:
        """A transaction holding the customer-data lock (shared by writers, exclusive for an
        erasure); rolled back when the block raises."""
        lock = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        with self.con.transaction(), self.con.cursor() as cur:
            cur.execute(f"SELECT {lock}(%s, %s)", (LOCK_CLASS, DATA_LOCK))
            yield cur

    def analyze(self, *tables: str) -> None:
        """Refresh the planner's statistics of tables just bulk-written (autovacuum would,
        but only after its next nap, and queries run right after a load)."""
        self.con.execute(f"ANALYZE {', '.join(tables)}".encode())

    def subscribe(self, handler: ChangeHandler) -> Callable[[], None]:
        """Deliver changes other processes commit (postgres_notify.py); returns `stop`."""
        listener = ChangeListener(lambda: connect(self.url), handler).start()
        return listener.stop

    def ibis(self) -> Any:
        """Ibis's PostgreSQL backend on this handle's connection (made once per handle)."""
        if self._ibis is None:
            import ibis

            self._ibis = ibis.postgres.from_connection(self.con)
            self.con.execute("SET TimeZone = 'UTC'")
        return self._ibis

    # ------------------------------------------------------------------ ingest
    def load(
        self,
        source: Any,
        plan: ColumnPlan,
        options: IngestOptions,
        progress: LoadProgress | None = None,
    ) -> IngestSummary:
        """Validate one file (with DuckDB, as the embedded store does) and store it in one
        PostgreSQL transaction; returns its balanced summary."""
        from omnix.adapters.warehouse.postgres_load import load_file

        return load_file(self, source, plan, options, progress)

    def export_rejects(self, source_id: str, path: Path) -> Path:
        """Write one source's rejects to a CSV beside the store (atomically replaced)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        sql = (
            "COPY (SELECT source_file, row_number, reason, detail, raw FROM rejects "
            "WHERE source_id = %s ORDER BY row_number) TO STDOUT (FORMAT csv, HEADER)"
        )
        with self.con.cursor() as cur, cur.copy(sql, (source_id,)) as copy, tmp.open("wb") as f:
            for chunk in copy:
                f.write(chunk)
        tmp.replace(path)
        return path

    def remove_source(self, source_id: str) -> dict[str, int]:
        from omnix.adapters.warehouse.postgres_load import INGEST_LOCK

        deleted: dict[str, int] = {}
        with self.writing() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS, INGEST_LOCK))
            for table in s.SOURCE_TABLES:
                cur.execute(f"DELETE FROM {table} WHERE source_id = %s".encode(), (source_id,))
                deleted[table] = cur.rowcount
            announce(cur, "all")  # any customer's lines may have gone
        return deleted

    # ------------------------------------------------------------------ results
    def write_snapshot(self, day: date, rows: Any, predictions: Any | None = None) -> int:
        """Replace the snapshot of `day` with `rows` (pyarrow, SNAPSHOT_COLUMNS) and, when
        given, its predictions (PREDICTION_COLUMNS), in one transaction. Returns the number of
        snapshot rows stored."""
        tables = [(SNAPSHOTS, SNAPSHOT_COLUMNS, rows)]
        if predictions is not None:
            tables.append((PREDICTIONS, PREDICTION_COLUMNS, predictions))
        with self.writing() as cur:
            for name, columns, table in tables:
                dated = table.select([n for n, _ in columns]).append_column(
                    SNAPSHOT_DATE, pa.array([day] * table.num_rows, pa.date32())
                )
                cur.execute(f"DELETE FROM {name} WHERE {SNAPSHOT_DATE} = %s".encode(), (day,))
                copy_arrow(cur, name, dated)
            announce(cur, "snapshot")
        self.analyze(*(name for name, _, _ in tables))
        return int(rows.num_rows)

    def record_consents(self, rows: Any) -> int:
        names = ["customer_id", "purpose", "granted", "recorded_at", "source"]
        try:
            with self.writing() as cur:
                copy_arrow(cur, "consents", rows.select(names))
                announce(cur, "customers", set(rows["customer_id"].to_pylist()))
        except (psycopg.Error, KeyError) as err:
            raise StoreError(f"cannot record consents: {err}") from None
        return int(rows.num_rows)

    def write_recommendations(
        self, as_of: date, tables: dict[str, Any], model: tuple[date, str] | None = None
    ) -> int:
        """Replace the precomputed recommendation tables in one transaction."""
        with self.writing() as cur:
            for name, columns in reco.TABLE_COLUMNS.items():
                cur.execute(f"TRUNCATE {name}")
                copy_arrow(cur, name, tables[name].select([col for col, _ in columns]))
            _put_meta(cur, reco.META_AS_OF, as_of.isoformat())
            _put_meta(cur, reco.META_VERSION, reco.new_version(as_of))
            if model is not None:
                _put_meta(cur, reco.META_MODEL_AS_OF, model[0].isoformat())
                _put_meta(cur, reco.META_MODEL, model[1])
        self.analyze(*reco.TABLE_COLUMNS)
        return int(tables[reco.CANDIDATES].num_rows)

    def write_embeddings(self, rows: Any) -> int:
        """Add (model, text_key, vector) rows, keeping vectors already stored for a key."""
        table = s.TABLES[reco.EMBEDDINGS]
        with self.con.transaction(), self.con.cursor() as cur:
            cur.execute("CREATE TEMP TABLE _omnix_vectors (LIKE product_embeddings) ON COMMIT DROP")
            sql = "COPY _omnix_vectors (model, text_key, vector) FROM STDIN"
            with cur.copy(sql) as copy:
                for model, key, vector in zip(
                    rows["model"].to_pylist(), rows["text_key"].to_pylist(),
                    rows["vector"].to_pylist(), strict=True,
                ):  # fmt: skip
                    copy.write_row((model, key, vector))
            cur.execute(
                f"INSERT INTO {table.name} SELECT * FROM _omnix_vectors ON CONFLICT DO NOTHING"
            )
        return int(rows.num_rows)

    def trim_memory(self) -> None:
        """Nothing to release: PostgreSQL's buffers live in the server, not this process."""

    def meta(self, key: str) -> str | None:
        found = self.con.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchall()
        return str(found[0][0]) if found else None

    # ------------------------------------------------------------------ runs and status
    @contextmanager
    def run(self, command: str, detail: dict[str, Any] | None = None) -> Iterator[str]:
        """Record a run of `command` (started, finished, status) for `omnix status`."""
        run_id = f"{command}-{time.time_ns()}"
        detail = detail if detail is not None else {}
        self.con.execute(
            "INSERT INTO runs VALUES (%s, %s, %s, NULL, 'running', %s)",
            (run_id, command, datetime.now(UTC), json.dumps(detail, default=str)),
        )
        status = "failed"
        try:
            yield run_id
            status = "ok"
        finally:
            self.con.execute(
                "UPDATE runs SET finished_at = %s, status = %s, detail = %s WHERE run_id = %s",
                (datetime.now(UTC), status, json.dumps(detail, default=str), run_id),
            )

    def reset(self) -> None:
        """Delete every row omnix stored (keys and the erasure log stay), in one transaction."""
        with self.writing(exclusive=True) as cur:
            cur.execute(f"TRUNCATE {', '.join(s.DATA_TABLES)}")
            announce(cur, "all")

    def table_counts(self) -> dict[str, int]:
        sql = " UNION ALL ".join(
            f"SELECT {i}, count(*) FROM {t}" for i, t in enumerate(s.COUNTED_TABLES)
        )
        counts = dict(self.con.execute(sql.encode()).fetchall())
        return {t: int(counts[i]) for i, t in enumerate(s.COUNTED_TABLES)}

    def recent(self, table: str, order: str, limit: int = 5) -> list[dict[str, Any]]:
        """Newest rows of `table` by `order`; limit 0 means all."""
        if table not in s.TABLES or order not in s.TABLES[table].names:
            raise ValueError(f"unknown table or column {table}.{order}")  # a bug, not input
        cap = f" LIMIT {int(limit)}" if limit else ""
        with self.con.cursor() as cur:
            cur.execute(f"SELECT * FROM {table} ORDER BY {s.q(order)} DESC{cap}".encode())
            cols = [d.name for d in cur.description or []]
            return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def customer_rows(self, table: str, customer_id: str) -> list[dict[str, Any]]:
        if table not in s.COUNTED_TABLES or c.CUSTOMER_ID not in s.TABLES[table].names:
            raise ValueError(f"{table!r} is not a customer table")  # a bug, not input
        with self.con.cursor() as cur:
            cur.execute(
                f"SELECT * FROM {table} WHERE {c.CUSTOMER_ID} = %s".encode(), (customer_id,)
            )
            cols = [d.name for d in cur.description or []]
            return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def remove_stale_stages(tmp_dir: Path) -> None:
    """Staging directories of omnix processes (on this host) that no longer run."""
    import psutil

    for stale in tmp_dir.glob("pg-*"):
        pid = stale.name.removeprefix("pg-")
        if pid.isdigit() and int(pid) != os.getpid() and not psutil.pid_exists(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


def copy_arrow(cur: psycopg.Cursor[Any], table: str, rows: pa.Table) -> int:
    """COPY an Arrow table into `table` (its columns by name) as CSV written by Arrow: C
    speed both ways, NULL as an unquoted empty field, empty text quoted."""
    if rows.num_rows == 0:
        return 0
    cols = ", ".join(s.q(n) for n in rows.column_names)
    options = pacsv.WriteOptions(include_header=False, batch_size=COPY_BATCH_ROWS)
    with cur.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT csv)".encode()) as copy:
        for batch in rows.to_batches(COPY_BATCH_ROWS):
            buf = io.BytesIO()
            pacsv.write_csv(batch, buf, options)
            copy.write(buf.getvalue())
    return int(rows.num_rows)


def copy_reader(cur: psycopg.Cursor[Any], table: str, reader: pa.RecordBatchReader) -> int:
    """COPY a stream of record batches into `table` (its columns by name); rows copied."""
    cols = ", ".join(s.q(name) for name in reader.schema.names)
    options = pacsv.WriteOptions(include_header=False)
    n = 0
    with cur.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT csv)".encode()) as copy:
        for batch in reader:
            if batch.num_rows:
                buf = io.BytesIO()
                pacsv.write_csv(batch, buf, options)
                copy.write(buf.getvalue())
                n += batch.num_rows
    return n


def _put_meta(cur: psycopg.Cursor[Any], key: str, value: str) -> None:
    cur.execute(
        "INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
