"""The embedded store: one DuckDB file under the data directory.

Holds transactions, products, customers, rejects, the record of ingested sources and of runs.
Each file is loaded in one DuckDB transaction: a process killed mid-load leaves the store as
it was before that file (DuckDB discards the uncommitted transaction on the next open), and
re-running the command completes it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from omnix.adapters.sources import SourceBatch, SourceFile
from omnix.adapters.warehouse import validation as v
from omnix.domain import contract as c
from omnix.domain.errors import ConfigError, StoreError, StoreLockedError
from omnix.domain.ingest import ColumnPlan, IngestOptions, IngestSummary

SCHEMA_VERSION = 1
STAGE = "_omnix_stage"
BATCH = "_omnix_batch"
Progress = Callable[[int, int], None]  # (rows just read, bytes position)

_PID = re.compile(r"PID (\d+)")


def _table_ddl(contract: c.TableContract, extra: list[str], pk: str | None) -> str:
    cols = [f"{v.q(col.name)} {v.SQL_TYPES[col.dtype]}" for col in contract.columns]
    cols += extra
    if pk:
        cols.append(f"PRIMARY KEY ({v.q(pk)})")
    return f"CREATE TABLE IF NOT EXISTS {contract.name} ({', '.join(cols)})"


DDL = [
    _table_ddl(
        c.TRANSACTIONS,
        [
            f"{c.LINE_SEQ} INTEGER NOT NULL",
            f"{c.LINE_TYPE} VARCHAR NOT NULL",
            f"{c.IS_PRODUCT} BOOLEAN NOT NULL",
            f"{c.ATTRIBUTES} JSON",
            f"{c.SOURCE_ID} VARCHAR NOT NULL",
            f"{v.q(c.ROW_NUMBER)} BIGINT NOT NULL",
        ],
        None,
    ),
    _table_ddl(c.PRODUCTS, ["attributes JSON", "source_id VARCHAR"], c.PRODUCT_ID),
    _table_ddl(c.CUSTOMERS, ["attributes JSON", "source_id VARCHAR"], c.CUSTOMER_ID),
    """CREATE TABLE IF NOT EXISTS rejects (source_id VARCHAR NOT NULL, source_file VARCHAR,
        row_number BIGINT, reason VARCHAR NOT NULL, detail VARCHAR, raw VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS sources (source_id VARCHAR PRIMARY KEY, kind VARCHAR,
        path VARCHAR, name VARCHAR, format VARCHAR, size BIGINT, read BIGINT, stored BIGINT,
        inserted BIGINT, duplicates BIGINT, rejected BIGINT, first_ingested_at TIMESTAMPTZ,
        last_ingested_at TIMESTAMPTZ, seconds DOUBLE, summary JSON)""",
    """CREATE TABLE IF NOT EXISTS runs (run_id VARCHAR PRIMARY KEY, command VARCHAR,
        started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, status VARCHAR, detail JSON)""",
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
]


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


class DuckDBStore:
    """The embedded warehouse. Open it with `DuckDBStore.open(path)`; close when done."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path) -> None:
        self.con = con
        self.path = path

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        read_only: bool = False,
        memory_limit: str = "1GB",
        threads: int | None = None,
    ) -> DuckDBStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        if read_only and not path.exists():
            raise StoreError(f"no store at {path} yet: run `omnix ingest` first")
        config: dict[str, Any] = {
            "memory_limit": memory_limit,
            "temp_directory": str(path.parent / ".tmp"),
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
        store = cls(con, path)
        if not read_only:
            store.migrate()
        return store

    def close(self) -> None:
        self.con.close()

    def migrate(self) -> None:
        for ddl in DDL:
            self.con.execute(ddl)
        self.con.execute(
            "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
        )

    def ibis(self) -> Any:
        """An Ibis backend over this connection, for analytics."""
        import ibis

        return ibis.duckdb.from_connection(self.con)

    # ---------------------------------------------------------------- ingest
    def load(
        self,
        source: SourceFile,
        plan: ColumnPlan,
        options: IngestOptions,
        progress: Progress | None = None,
    ) -> IngestSummary:
        """Validate and store one file atomically; returns its balanced summary."""
        info = source.info
        summary = IngestSummary(source=str(info.path), kind=options.kind.value)
        summary.extra_columns = list(plan.extras)
        summary.extra_columns_kept = plan.extras_kept
        started = time.perf_counter()
        con = self.con
        self._set_timezone(options.effective_timezone())
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"DROP TABLE IF EXISTS {STAGE}")
            con.execute(v.stage_ddl(options.kind, STAGE))
            malformed = self._stage_batches(source.batches(), plan, options, progress)
            con.execute("DELETE FROM rejects WHERE source_id = ?", [info.source_id])
            self._store_malformed(malformed, info.source_id, info.path.name)
            con.execute(
                "INSERT INTO rejects SELECT ?, ?, rn, reason, detail, raw FROM "
                f"{STAGE} WHERE reason IS NOT NULL",
                [info.source_id, info.path.name],
            )
            self._count(summary, len(malformed))
            if options.kind is c.Kind.TRANSACTIONS:
                self._insert_transactions(options, info.source_id, summary)
            else:
                summary.inserted = self._upsert_dimension(options.kind, info.source_id)
            summary.duplicates = summary.stored - summary.inserted
            summary.seconds = time.perf_counter() - started
            self._record_source(source, options, summary)
            con.execute(f"DROP TABLE {STAGE}")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return summary

    def _set_timezone(self, tz: str) -> None:
        try:
            self.con.execute(f"SET TimeZone = {v.lit(tz)}")
        except duckdb.Error:
            raise ConfigError(
                f"unknown time zone {tz!r} (use an IANA name like Europe/Berlin)"
            ) from None

    def _stage_batches(
        self,
        batches: Iterator[SourceBatch],
        plan: ColumnPlan,
        options: IngestOptions,
        progress: Progress | None,
    ) -> list[Any]:
        malformed: list[Any] = []
        select: str | None = None
        for sb in batches:
            malformed.extend(sb.malformed)
            if sb.batch.num_rows:
                batch = sb.batch.append_column(v.ROW_NUMBER_COL, pa.array(sb.row_numbers))
                if select is None:
                    select, _ = v.build_select(plan, batch.schema, options, BATCH)
                self.con.register(BATCH, pa.Table.from_batches([batch]))
                try:
                    self.con.execute(f"INSERT INTO {STAGE} {select}")
                finally:
                    self.con.unregister(BATCH)
            if progress:
                progress(sb.batch.num_rows + len(sb.malformed), sb.bytes_done)
        return malformed

    def _store_malformed(self, malformed: list[Any], source_id: str, name: str) -> None:
        if not malformed:
            return
        table = pa.table(
            {
                "source_id": [source_id] * len(malformed),
                "source_file": [name] * len(malformed),
                "row_number": pa.array([m.row_number for m in malformed], pa.int64()),
                "reason": ["malformed_row"] * len(malformed),
                "detail": [m.detail for m in malformed],
                "raw": [m.text for m in malformed],
            }
        )
        self.con.register("_omnix_malformed", table)
        self.con.execute("INSERT INTO rejects SELECT * FROM _omnix_malformed")
        self.con.unregister("_omnix_malformed")

    def _count(self, summary: IngestSummary, malformed: int) -> None:
        reasons = self.con.execute(
            f"SELECT reason, count(*) FROM {STAGE} WHERE reason IS NOT NULL GROUP BY reason"
        ).fetchall()
        summary.reject_reasons = {str(r): int(n) for r, n in reasons}
        if malformed:
            summary.reject_reasons["malformed_row"] = malformed
        summary.rejected = sum(summary.reject_reasons.values())
        if summary.kind != c.Kind.TRANSACTIONS:
            (good,) = self.con.execute(
                f"SELECT count(*) FROM {STAGE} WHERE reason IS NULL"
            ).fetchall()[0]
            summary.stored = int(good)
            summary.read = summary.stored + summary.rejected
            return
        row = self.con.execute(
            f"""SELECT count(*), count(*) FILTER (WHERE customer_id IS NULL),
                count(*) FILTER (WHERE quantity < 0) FROM {STAGE} WHERE reason IS NULL"""
        ).fetchall()[0]
        summary.stored, summary.anonymous, summary.returns = (int(x) for x in row)
        summary.read = summary.stored + summary.rejected

    def _insert_transactions(
        self, options: IngestOptions, source_id: str, summary: IngestSummary
    ) -> None:
        prefix = options.effective_cancellation_prefix()
        pattern = options.effective_non_product_pattern()
        cancel = f"starts_with(order_id, {v.lit(prefix)})" if prefix else "FALSE"
        line_type = (
            f"CASE WHEN {cancel} THEN 'cancellation' WHEN quantity < 0 THEN 'return' "
            "ELSE 'sale' END"
        )
        is_product = f"NOT regexp_full_match(product_id, {v.lit(pattern)})" if pattern else "TRUE"
        names = ", ".join(v.q(n) for n in c.TRANSACTIONS.names)
        sql = (
            f"INSERT INTO transactions SELECT {names}, line_seq, {line_type}, {is_product}, "
            f"attributes, {v.lit(source_id)}, rn FROM ({self._identified()}) AS s"
        )
        if self._has_rows("transactions"):
            sql += f" WHERE {self._not_stored()}"
        summary.inserted = int(self.con.execute(sql).fetchall()[0][0])
        cancellations, non_product = self.con.execute(
            f"SELECT count(*) FILTER (WHERE {cancel}), count(*) FILTER (WHERE NOT ({is_product}))"
            f" FROM {STAGE} WHERE reason IS NULL"
        ).fetchall()[0]
        summary.cancellations, summary.non_product = int(cancellations), int(non_product)

    def _identified(self) -> str:
        """Good stage rows with line_seq; a line_id repeated within the file kept once."""
        seq = "row_number() OVER (PARTITION BY order_id, product_id ORDER BY rn) AS line_seq"
        good = f"SELECT *, {seq} FROM {STAGE} WHERE reason IS NULL"
        if not self._stage_has_line_ids():
            return good
        return (
            f"{good} QUALIFY line_id IS NULL OR "
            "row_number() OVER (PARTITION BY line_id ORDER BY rn) = 1"
        )

    def _not_stored(self) -> str:
        """Line identity: line_id when given, else (order_id, product_id, line_seq)."""
        by_position = (
            "(s.line_id IS NOT NULL OR NOT EXISTS (SELECT 1 FROM transactions t "
            "WHERE t.order_id = s.order_id AND t.product_id = s.product_id "
            "AND t.line_seq = s.line_seq))"
        )
        if not self._stage_has_line_ids():
            return by_position
        return (
            f"{by_position} AND (s.line_id IS NULL OR NOT EXISTS "
            "(SELECT 1 FROM transactions t WHERE t.line_id = s.line_id))"
        )

    def _stage_has_line_ids(self) -> bool:
        rows = self.con.execute(
            f"SELECT 1 FROM {STAGE} WHERE line_id IS NOT NULL LIMIT 1"
        ).fetchall()
        return bool(rows)

    def _has_rows(self, table: str) -> bool:
        return bool(self.con.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchall())

    def _upsert_dimension(self, kind: c.Kind, source_id: str) -> int:
        contract = c.CONTRACTS[kind]
        key = v.q(contract.key[0])
        names = ", ".join(v.q(n) for n in contract.names)
        (new,) = self.con.execute(
            f"SELECT count(DISTINCT {key}) FROM {STAGE} s WHERE reason IS NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {contract.name} d WHERE d.{key} = s.{key})"
        ).fetchall()[0]
        self.con.execute(
            f"""INSERT OR REPLACE INTO {contract.name}
            SELECT {names}, attributes, {v.lit(source_id)} FROM {STAGE} WHERE reason IS NULL
            QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY rn DESC) = 1"""
        )
        return int(new)

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

    # ---------------------------------------------------------------- runs and status
    @contextmanager
    def run(self, command: str, detail: dict[str, Any] | None = None) -> Iterator[str]:
        """Record a run of `command` (started, finished, status) for `omnix status`."""
        run_id = f"{command}-{time.time_ns()}"
        self.con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, NULL, 'running', ?)",
            [run_id, command, datetime.now(UTC), json.dumps(detail or {})],
        )
        status = "failed"
        try:
            yield run_id
            status = "ok"
        finally:
            self.con.execute(
                "UPDATE runs SET finished_at = ?, status = ? WHERE run_id = ?",
                [datetime.now(UTC), status, run_id],
            )

    def table_counts(self) -> dict[str, int]:
        out = {}
        for table in ("transactions", "products", "customers", "rejects", "sources"):
            out[table] = int(self.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
        return out

    def recent(self, table: str, order: str, limit: int = 5) -> list[dict[str, Any]]:
        rel = self.con.execute(f"SELECT * FROM {table} ORDER BY {order} DESC LIMIT {int(limit)}")
        cols = [d[0] for d in rel.description]
        return [dict(zip(cols, row, strict=True)) for row in rel.fetchall()]
