"""The embedded store's operational tables and its personal-data walk.

API keys (hashes only), tracked jobs, the message ids of posted events, and the erasure log
live in the same DuckDB file as the data. `DuckDBStore` inherits these methods; each write
takes the store's write lock, so a server's threads never race one another into a DuckDB
transaction conflict.

Personal data: every table in `COUNTED_TABLES` that has a `customer_id` column is matched on
it; `rejects` holds raw source rows and is matched field by field (the JSON values of a
rejected row, or the delimited fields of a malformed line), so a customer id inside another
value (id 12 in "123") never matches.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from omnix.adapters.warehouse.duckdb_load import (
    POSITION,
    has_derived_positions,
    settle_positions,
)
from omnix.adapters.warehouse.records import job_from, job_record
from omnix.adapters.warehouse.schema import (
    API_KEYS,
    COUNTED_TABLES,
    ERASURES,
    EVENT_MESSAGES,
    JOBS,
    REJECTS,
)
from omnix.domain import contract as c
from omnix.domain.access import ApiKey, Role
from omnix.domain.errors import StoreError
from omnix.domain.jobs import Job, JobStatus

BY_COLUMN, BY_RAW = "customer_id", "raw"
# jobs this process is running (hold_job): never abandoned by recovery
_HELD: set[str] = set()
_HELD_LOCK = threading.Lock()

# A rejected row's fields: JSON values when it is a JSON object, else the delimited fields of
# the line; trimmed, and "13085.0" read as 13085 as ingest reads float ids.
_RAW_FIELDS = (
    "list_transform(CASE WHEN json_valid(raw) AND starts_with(ltrim(raw), '{') "
    "THEN json_extract_string(raw, '$.*') ELSE regexp_split_to_array(raw, '[,;\\t|]') END, "
    "lambda x: regexp_replace(trim(trim(x), '\"'), '\\.0+$', ''))"
)


class OperationalTables:
    """Mixin for DuckDBStore: needs `con` (a DuckDB connection) and `lock` (an RLock shared
    by every handle on the same store)."""

    con: duckdb.DuckDBPyConnection
    lock: threading.RLock

    # ------------------------------------------------------------------ keys
    def add_key(self, key: ApiKey) -> None:
        with self.lock:
            self.con.execute(
                f"INSERT INTO {API_KEYS} VALUES (?, ?, ?, ?, ?, ?, ?)",
                [key.key_id, key.name, key.role.value, key.key_hash, key.created_at,
                 key.revoked_at, key.last_used_at],
            )  # fmt: skip

    def get_key(self, key_id: str) -> ApiKey | None:
        rows = self._keys("WHERE key_id = ?", [key_id])
        return rows[0] if rows else None

    def list_keys(self) -> list[ApiKey]:
        return self._keys("ORDER BY created_at", [])

    def revoke_key(self, key_id: str, when: datetime) -> bool:
        with self.lock:
            rows = self.con.execute(
                f"UPDATE {API_KEYS} SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL "
                "RETURNING key_id",
                [when, key_id],
            ).fetchall()
        return bool(rows)

    def touch_key(self, key_id: str, when: datetime) -> None:
        with self.lock:
            self.con.execute(
                f"UPDATE {API_KEYS} SET last_used_at = ? WHERE key_id = ?", [when, key_id]
            )

    def _keys(self, where: str, params: list[Any]) -> list[ApiKey]:
        rows = self.con.execute(
            "SELECT key_id, name, role, key_hash, created_at, revoked_at, last_used_at "
            f"FROM {API_KEYS} {where}",
            params,
        ).fetchall()
        return [ApiKey(r[0], r[1], Role(r[2]), r[3], r[4], r[5], r[6]) for r in rows]

    # ------------------------------------------------------------------ jobs
    def create_job(self, job: Job) -> bool:
        with self.lock:
            if self.con.execute(
                f"SELECT 1 FROM {JOBS} WHERE kind = ? AND status IN (?, ?)",
                [job.kind, JobStatus.QUEUED.value, JobStatus.RUNNING.value],
            ).fetchall():
                return False
            self.save_job(job)
        return True

    def save_job(self, job: Job) -> None:
        """Insert or update; a cancellation asked for meanwhile (request_cancel) is kept."""
        with self.lock:
            self.con.execute(
                f"INSERT INTO {JOBS} VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (job_id) DO UPDATE "
                "SET status = excluded.status, record = excluded.record, cancel_requested = "
                f"coalesce({JOBS}.cancel_requested, FALSE) OR excluded.cancel_requested",
                [job.job_id, job.kind, job.status.value, job.created_at, job_record(job),
                 job.cancel_requested],
            )  # fmt: skip

    def get_job(self, job_id: str) -> Job | None:
        found = self.con.execute(
            f"SELECT record, cancel_requested FROM {JOBS} WHERE job_id = ?", [job_id]
        ).fetchall()
        return job_from(*found[0]) if found else None

    def list_jobs(self, limit: int) -> list[Job]:
        rows = self.con.execute(
            f"SELECT record, cancel_requested FROM {JOBS} ORDER BY created_at DESC LIMIT ?",
            [int(limit)],
        ).fetchall()
        return [job_from(*r) for r in rows]

    def request_cancel(self, job_id: str) -> bool:
        with self.lock:
            rows = self.con.execute(
                f"UPDATE {JOBS} SET cancel_requested = TRUE WHERE job_id = ? RETURNING job_id",
                [job_id],
            ).fetchall()
        return bool(rows)

    def cancel_requested(self, job_id: str) -> bool:
        rows = self.con.execute(
            f"SELECT cancel_requested FROM {JOBS} WHERE job_id = ?", [job_id]
        ).fetchall()
        return bool(rows and rows[0][0])

    @contextmanager
    def hold_job(self, job_id: str) -> Iterator[None]:
        """One process holds the file, so being alive is being in this process's set."""
        with _HELD_LOCK:
            _HELD.add(job_id)
        try:
            yield
        finally:
            with _HELD_LOCK:
                _HELD.discard(job_id)

    def abandon_jobs(self, reason: str, when: datetime) -> int:
        open_ = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
        jobs = [
            job_from(*r)
            for r in self.con.execute(
                f"SELECT record, cancel_requested FROM {JOBS} WHERE status IN (?, ?)",
                list(open_),
            ).fetchall()
        ]
        with _HELD_LOCK:
            jobs = [job for job in jobs if job.job_id not in _HELD]
        for job in jobs:
            job.status, job.error, job.finished_at = JobStatus.FAILED, reason, when
            self.save_job(job)
        return len(jobs)

    # ------------------------------------------------------------------ events
    def store_events(self, batch_id: str, lines: Any, rejects: Any) -> list[str]:
        """See ports.EventStore. Message ids go in first (ON CONFLICT DO NOTHING ... RETURNING
        tells which are new, through the primary-key index), then only new messages' rows."""
        ids = pa.table({
            "message_id": pa.concat_arrays([
                lines["message_id"].combine_chunks().cast(pa.string()),
                rejects["message_id"].combine_chunks().cast(pa.string()),
            ]),
            "outcome": pa.array(["stored"] * lines.num_rows + ["rejected"] * rejects.num_rows),
        })  # fmt: skip
        with self.lock, _Registered(self.con, _ids=ids) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                new = con.execute(
                    f"INSERT INTO {EVENT_MESSAGES} SELECT message_id, ?, now(), outcome "
                    "FROM _ids ON CONFLICT DO NOTHING RETURNING message_id",
                    [batch_id],
                ).fetchall()
                fresh = pa.array([r[0] for r in new], pa.string())
                keep = lines.filter(pc.is_in(lines["message_id"], value_set=fresh))
                bad = rejects.filter(pc.is_in(rejects["message_id"], value_set=fresh))
                self._insert_event_rows(con, keep, bad)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        seen = set(fresh.to_pylist())
        return [m for m in ids["message_id"].to_pylist() if m not in seen]

    @staticmethod
    def _insert_event_rows(con: duckdb.DuckDBPyConnection, lines: Any, rejects: Any) -> None:
        if lines.num_rows:
            con.register("_event_lines", lines.drop_columns(["message_id"]))
            try:
                con.execute("INSERT INTO transactions BY NAME SELECT * FROM _event_lines")
            finally:
                con.unregister("_event_lines")
        if rejects.num_rows:
            con.register("_event_rejects", rejects)
            try:
                con.execute(
                    "INSERT INTO rejects SELECT source_id, source_file, row_number, reason, "
                    "detail, raw FROM _event_rejects"
                )
            finally:
                con.unregister("_event_rejects")

    # ------------------------------------------------------------------ personal data
    def customer_tables(self) -> list[tuple[str, str]]:
        with_column = {
            r[0]
            for r in self.con.execute(
                "SELECT table_name FROM information_schema.columns "
                "WHERE column_name = ? AND table_schema = current_schema()",
                [c.CUSTOMER_ID],
            ).fetchall()
        }
        out = [(t, BY_COLUMN) for t in COUNTED_TABLES if t in with_column]
        return [*out, (REJECTS, BY_RAW)]

    def rows_about(self, table: str, how: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        where = _about(how)
        if table == c.TRANSACTIONS.name:  # positions as written or derived, over whole orders
            rel = self.con.execute(
                f"SELECT * REPLACE ({POSITION} AS {c.LINE_SEQ}) FROM transactions "
                f"WHERE {c.ORDER_ID} IN (SELECT {c.ORDER_ID} FROM transactions WHERE {where}) "
                f"QUALIFY {where}",
                [list(ids), list(ids)],
            )
        else:
            rel = self.con.execute(
                f"SELECT * FROM {_known(self, table)} WHERE {where}", [list(ids)]
            )
        cols = [d[0] for d in rel.description]
        return [dict(zip(cols, row, strict=True)) for row in rel.fetchall()]

    def erase_about(self, ids: Sequence[str], audit: dict[str, Any]) -> dict[str, int]:
        deleted: dict[str, int] = {}
        with self.lock:
            self.con.execute("BEGIN TRANSACTION")
            try:
                if has_derived_positions(self.con):  # lines that stay keep their positions
                    settle_positions(
                        self.con,
                        f"SELECT {c.ORDER_ID} FROM transactions WHERE {_about(BY_COLUMN)}",
                        [list(ids), list(ids)],
                        f"{c.CUSTOMER_ID} IS NULL OR NOT ({_about(BY_COLUMN)})",
                        rewrite=True,
                    )
                for table, how in self.customer_tables():
                    rows = self.con.execute(
                        f"DELETE FROM {table} WHERE {_about(how)}", [list(ids)]
                    ).fetchall()
                    deleted[table] = int(rows[0][0]) if rows else 0
                self.con.execute(
                    f"INSERT INTO {ERASURES} VALUES (?, ?, ?, ?, ?)",
                    [audit["erasure_id"], audit["subject_hash"], audit["erased_at"],
                     audit.get("requested_by"), json.dumps(deleted)],
                )  # fmt: skip
                self.con.execute("COMMIT")
            except duckdb.Error as err:
                self.con.execute("ROLLBACK")
                raise StoreError(f"erasure failed, nothing was deleted: {err}") from None
            # deleted rows leave the write-ahead log now, not at some later checkpoint
            self.con.execute("CHECKPOINT")
        return deleted

    def erased_subjects(self) -> frozenset[str]:
        rows = self.con.execute(f"SELECT DISTINCT subject_hash FROM {ERASURES}").fetchall()
        return frozenset(str(r[0]) for r in rows)

    def erasures(self, limit: int) -> list[dict[str, Any]]:
        rel = self.con.execute(
            f"SELECT * FROM {ERASURES} ORDER BY erased_at DESC LIMIT ?", [int(limit)]
        )
        cols = [d[0] for d in rel.description]
        return [dict(zip(cols, row, strict=True)) for row in rel.fetchall()]


def _about(how: str) -> str:
    if how == BY_COLUMN:
        return f"{c.CUSTOMER_ID} = ANY(?::VARCHAR[])"
    if how == BY_RAW:
        return f"raw IS NOT NULL AND list_has_any({_RAW_FIELDS}, ?::VARCHAR[])"
    raise ValueError(f"unknown match {how!r}")  # a bug, not a user error


def _known(store: OperationalTables, table: str) -> str:
    if table not in {t for t, _ in store.customer_tables()}:
        raise ValueError(f"{table!r} is not a customer table")  # never a user-supplied name
    return table


class _Registered:
    """Register Arrow tables on a connection for the duration of a block."""

    def __init__(self, con: duckdb.DuckDBPyConnection, **tables: Any) -> None:
        self.con, self.tables = con, tables

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        for name, table in self.tables.items():
            self.con.register(name, table)
        return self.con

    def __exit__(self, *exc: object) -> None:
        for name in self.tables:
            self.con.unregister(name)
