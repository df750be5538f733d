"""The PostgreSQL store's operational tables and its personal-data walk.

The same methods as the embedded store's (duckdb_ops.py), for several server processes at
once:
- one open analysis job across processes: a partial unique index on `jobs` refuses a second;
- a running job is held by a session advisory lock on a connection of its own, so a process
  that starts (and recovers jobs left open) abandons only jobs whose process died;
- cancellation is a column any process sets and the running job reads;
- event message ids are claimed with `INSERT ... ON CONFLICT DO NOTHING RETURNING` in the
  transaction that stores the lines, so two processes given the same retried batch store it
  once.

Personal data: every counted table with a `customer_id` column is matched on it; rejected rows
(`rejects.raw`) are prefiltered in SQL (the id appears in the text) and matched field by field
in Python (records.raw_fields), as DuckDB matches them in SQL.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any, Final

import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from omnix.adapters.warehouse.postgres_notify import announce
from omnix.adapters.warehouse.records import job_from, job_record, raw_fields
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
JOB_LOCK_CLASS: Final = 0x6F6D6E79  # pg_advisory_lock(class, hashtext(job_id)) while it runs
_OPEN = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


class PostgresOperational:
    """Mixin for PostgresStore: needs `con`, `url` and `writing()`."""

    con: psycopg.Connection[Any]
    url: str

    def writing(self, exclusive: bool = False) -> AbstractContextManager[psycopg.Cursor[Any]]:
        raise NotImplementedError  # PostgresStore.writing

    # ------------------------------------------------------------------ keys
    def add_key(self, key: ApiKey) -> None:
        self.con.execute(
            f"INSERT INTO {API_KEYS} VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (key.key_id, key.name, key.role.value, key.key_hash, key.created_at,
             key.revoked_at, key.last_used_at),
        )  # fmt: skip

    def get_key(self, key_id: str) -> ApiKey | None:
        rows = self._keys("WHERE key_id = %s", (key_id,))
        return rows[0] if rows else None

    def list_keys(self) -> list[ApiKey]:
        return self._keys("ORDER BY created_at", ())

    def revoke_key(self, key_id: str, when: datetime) -> bool:
        with self.con.transaction(), self.con.cursor() as cur:
            cur.execute(
                f"UPDATE {API_KEYS} SET revoked_at = %s WHERE key_id = %s "
                "AND revoked_at IS NULL RETURNING key_id",
                (when, key_id),
            )
            revoked = bool(cur.fetchall())
            if revoked:  # other server processes forget the key now, not after their TTL
                announce(cur, "keys", [key_id])
        return revoked

    def touch_key(self, key_id: str, when: datetime) -> None:
        self.con.execute(
            f"UPDATE {API_KEYS} SET last_used_at = %s WHERE key_id = %s", (when, key_id)
        )

    def _keys(self, where: str, params: tuple[Any, ...]) -> list[ApiKey]:
        rows = self.con.execute(
            "SELECT key_id, name, role, key_hash, created_at, revoked_at, last_used_at "
            f"FROM {API_KEYS} {where}".encode(),
            params,
        ).fetchall()
        return [ApiKey(r[0], r[1], Role(r[2]), r[3], r[4], r[5], r[6]) for r in rows]

    # ------------------------------------------------------------------ jobs
    def create_job(self, job: Job) -> bool:
        rows = self.con.execute(
            f"INSERT INTO {JOBS} VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING "
            "RETURNING job_id",
            (job.job_id, job.kind, job.status.value, job.created_at, job_record(job),
             job.cancel_requested),
        ).fetchall()  # fmt: skip
        return bool(rows)

    def save_job(self, job: Job) -> None:
        self.con.execute(
            f"INSERT INTO {JOBS} VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (job_id) DO UPDATE "
            "SET status = excluded.status, record = excluded.record, cancel_requested = "
            f"coalesce({JOBS}.cancel_requested, FALSE) OR excluded.cancel_requested",
            (job.job_id, job.kind, job.status.value, job.created_at, job_record(job),
             job.cancel_requested),
        )  # fmt: skip

    def get_job(self, job_id: str) -> Job | None:
        found = self.con.execute(
            f"SELECT record, cancel_requested FROM {JOBS} WHERE job_id = %s", (job_id,)
        ).fetchall()
        return job_from(*found[0]) if found else None

    def list_jobs(self, limit: int) -> list[Job]:
        rows = self.con.execute(
            f"SELECT record, cancel_requested FROM {JOBS} ORDER BY created_at DESC LIMIT %s",
            (int(limit),),
        ).fetchall()
        return [job_from(*r) for r in rows]

    def request_cancel(self, job_id: str) -> bool:
        rows = self.con.execute(
            f"UPDATE {JOBS} SET cancel_requested = TRUE WHERE job_id = %s RETURNING job_id",
            (job_id,),
        ).fetchall()
        return bool(rows)

    def cancel_requested(self, job_id: str) -> bool:
        rows = self.con.execute(
            f"SELECT cancel_requested FROM {JOBS} WHERE job_id = %s", (job_id,)
        ).fetchall()
        return bool(rows and rows[0][0])

    @contextmanager
    def hold_job(self, job_id: str) -> Iterator[None]:
        """A session advisory lock on a connection of its own: it ends with the process."""
        from omnix.adapters.warehouse.postgres_store import connect

        holder = connect(self.url)
        try:
            holder.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (JOB_LOCK_CLASS, job_id))
            yield
        finally:
            # at once: a closed session's locks go only when its backend has ended
            with contextlib.suppress(psycopg.Error):
                holder.execute(
                    "SELECT pg_advisory_unlock(%s, hashtext(%s))", (JOB_LOCK_CLASS, job_id)
                )
            holder.close()

    def abandon_jobs(self, reason: str, when: datetime) -> int:
        """Fail open jobs nobody holds: their process ended without finishing them."""
        rows = self.con.execute(
            f"SELECT record, cancel_requested FROM {JOBS} WHERE status IN (%s, %s)", _OPEN
        ).fetchall()
        abandoned = 0
        for record, cancel in rows:
            job = job_from(record, cancel)
            (free,) = self.con.execute(
                "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (JOB_LOCK_CLASS, job.job_id)
            ).fetchone() or (False,)
            if not free:
                continue
            try:
                job.status, job.error, job.finished_at = JobStatus.FAILED, reason, when
                self.save_job(job)
                abandoned += 1
            finally:
                self.con.execute(
                    "SELECT pg_advisory_unlock(%s, hashtext(%s))", (JOB_LOCK_CLASS, job.job_id)
                )
        return abandoned

    # ------------------------------------------------------------------ events
    def store_events(self, batch_id: str, lines: Any, rejects: Any) -> list[str]:
        """See ports.EventStore: message ids claimed through the primary key, then only
        new messages' rows, in one transaction."""
        from omnix.adapters.warehouse.postgres_store import copy_arrow

        ids = pa.concat_arrays([
            lines["message_id"].combine_chunks().cast(pa.string()),
            rejects["message_id"].combine_chunks().cast(pa.string()),
        ]).to_pylist()  # fmt: skip
        outcomes = ["stored"] * lines.num_rows + ["rejected"] * rejects.num_rows
        with self.writing() as cur:
            cur.execute(
                f"INSERT INTO {EVENT_MESSAGES} SELECT m, %s, now(), o "
                "FROM unnest(%s::text[], %s::text[]) AS u(m, o) "
                "ON CONFLICT DO NOTHING RETURNING message_id",
                (batch_id, ids, outcomes),
            )
            fresh = pa.array([r[0] for r in cur.fetchall()], pa.string())
            keep = lines.filter(pc.is_in(lines["message_id"], value_set=fresh))
            bad = rejects.filter(pc.is_in(rejects["message_id"], value_set=fresh))
            copy_arrow(cur, "transactions", keep.drop_columns(["message_id"]))
            names = ["source_id", "source_file", "row_number", "reason", "detail", "raw"]
            copy_arrow(cur, REJECTS, bad.select(names))
            announce(cur, "customers", {i for i in keep[c.CUSTOMER_ID].to_pylist() if i})
        seen = set(fresh.to_pylist())
        return [m for m in ids if m not in seen]

    # ------------------------------------------------------------------ personal data
    def customer_tables(self) -> list[tuple[str, str]]:
        with_column = {
            r[0]
            for r in self.con.execute(
                "SELECT table_name FROM information_schema.columns "
                "WHERE column_name = %s AND table_schema = current_schema()",
                (c.CUSTOMER_ID,),
            ).fetchall()
        }
        out = [(t, BY_COLUMN) for t in COUNTED_TABLES if t in with_column]
        return [*out, (REJECTS, BY_RAW)]

    def rows_about(self, table: str, how: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        known = _known(self, table)
        with self.con.cursor() as cur:
            if how == BY_COLUMN:
                cur.execute(
                    f"SELECT * FROM {known} WHERE {c.CUSTOMER_ID} = ANY(%s)".encode(),
                    (list(ids),),
                )
                cols = [d.name for d in cur.description or []]
                return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
            rows = self._rejects_naming(cur, ids)
            return [row for _, row in rows]

    def _rejects_naming(
        self, cur: psycopg.Cursor[Any], ids: Sequence[str], lock: bool = False
    ) -> list[tuple[Any, dict[str, Any]]]:
        """(ctid, row) of rejected rows with a field equal to one of `ids`."""
        wanted = {str(i) for i in ids}
        cur.execute(
            f"SELECT ctid, * FROM {REJECTS} WHERE raw IS NOT NULL AND "
            "EXISTS (SELECT 1 FROM unnest(%s::text[]) AS w(id) WHERE strpos(raw, w.id) > 0)"
            + (" FOR UPDATE" if lock else ""),
            (sorted(wanted),),
        )
        cols = [d.name for d in cur.description or []][1:]
        out = []
        for ctid, *values in cur.fetchall():
            row = dict(zip(cols, values, strict=True))
            if wanted.intersection(raw_fields(row["raw"])):
                out.append((ctid, row))
        return out

    def erase_about(self, ids: Sequence[str], audit: dict[str, Any]) -> dict[str, int]:
        deleted: dict[str, int] = {}
        tables = self.customer_tables()
        try:
            with self.writing(exclusive=True) as cur:
                for table, how in tables:
                    if how == BY_COLUMN:
                        cur.execute(
                            f"DELETE FROM {table} WHERE {c.CUSTOMER_ID} = ANY(%s)".encode(),
                            (list(ids),),
                        )
                        deleted[table] = cur.rowcount
                    else:
                        ctids = [ct for ct, _ in self._rejects_naming(cur, ids, lock=True)]
                        cur.execute(f"DELETE FROM {REJECTS} WHERE ctid = ANY(%s::tid[])", (ctids,))
                        deleted[table] = cur.rowcount
                cur.execute(
                    f"INSERT INTO {ERASURES} VALUES (%s, %s, %s, %s, %s)",
                    (audit["erasure_id"], audit["subject_hash"], audit["erased_at"],
                     audit.get("requested_by"), json.dumps(deleted)),
                )  # fmt: skip
                announce(cur, "customers", [str(i) for i in ids])
        except psycopg.Error as err:
            raise StoreError(f"erasure failed, nothing was deleted: {err}") from None
        # deleted rows' space is reclaimed now (their bytes leave the tables' live pages),
        # not at autovacuum's next visit
        touched = [t for t, n in deleted.items() if n]
        if touched:
            self.con.execute(f"VACUUM {', '.join(touched)}".encode())
        return deleted

    def compact(self) -> dict[str, int]:
        """VACUUM FULL of every table of customer data: each is rewritten into new files and
        the old ones are removed, so deleted rows' bytes leave the tables (plain VACUUM, run
        after each erasure, only marks their space free). Takes each table's exclusive lock
        while it is rewritten: readers wait. Sizes in bytes, before and after."""
        tables = [t for t, _ in self.customer_tables()]
        size = " + ".join(f"pg_total_relation_size('{t}')" for t in tables)
        ((before,),) = self.con.execute(f"SELECT {size}".encode()).fetchall()
        self.con.execute(f"VACUUM FULL {', '.join(tables)}".encode())
        ((after,),) = self.con.execute(f"SELECT {size}".encode()).fetchall()
        return {"bytes_before": int(before), "bytes_after": int(after)}

    def erased_subjects(self) -> frozenset[str]:
        with self.con.cursor() as cur:
            cur.execute(f"SELECT DISTINCT subject_hash FROM {ERASURES}")
            return frozenset(str(r[0]) for r in cur.fetchall())

    def erasures(self, limit: int) -> list[dict[str, Any]]:
        with self.con.cursor() as cur:
            cur.execute(f"SELECT * FROM {ERASURES} ORDER BY erased_at DESC LIMIT %s", (int(limit),))
            cols = [d.name for d in cur.description or []]
            return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def _known(store: PostgresOperational, table: str) -> str:
    if table not in {t for t, _ in store.customer_tables()}:
        raise ValueError(f"{table!r} is not a customer table")  # never a user-supplied name
    return table
