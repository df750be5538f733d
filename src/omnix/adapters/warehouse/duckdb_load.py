"""Loading one staged source file into DuckDB: validate, identify, insert, count, reject.

Each step is one SQL scan over the staged Parquet (DuckDB reads it in parallel): no temporary
table that could spill, no row pulled into Python. `DuckDBStore.load` runs them inside one
transaction. A clean new file takes one scan (plus the identity aggregate): its good lines are
inserted first and counted from the store; the file itself is counted when some rows did not
go in (rejects, duplicates) and for files with line ids (see `FileLoad._count_and_store`).

Line identity: `line_id` when the source has one, else (order_id, product_id, line_seq) where
line_seq is the line's position within its order: its row number minus the order's first row
number, plus one. For the usual export (an order's lines together) that is 1, 2, 3 ...; for an
interleaved file it is still unique and the same on every re-read of the file. Measured on 10.6M
lines: 10.7 s to insert with this join against 17-20 s with a ROW_NUMBER window, whose sort has
to carry every column.

Derived positions: a file loaded into a store that holds no lines yet cannot repeat a stored
line, so its positions are not computed then (the order's first row is an aggregate over the
whole file, about a fifth of the load). Its lines are stored with `line_seq` NULL, which means
"row_number minus the smallest row_number stored for the same source and order, plus 1"
(`POSITION`). That equals the computed position as long as the order's first row in the file
is stored: a file with rejects gets the explicit positions of the orders whose first row was
rejected (`FileLoad._settle_rejected_heads`), and before lines are compared with a later file
or deleted by an erasure, the derived positions of the orders concerned are written
(`settle_positions`). A (source, order) therefore never mixes derived and written positions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Final

import duckdb
import pyarrow as pa
import structlog

from omnix.adapters.sources import ROW_NUMBER_COL, Malformed, Staged
from omnix.adapters.warehouse import validation as v
from omnix.adapters.warehouse.records import raw_fields
from omnix.domain import contract as c
from omnix.domain.ingest import (
    LOOKS_DECIMAL_COMMA,
    LOOKS_THOUSANDS_COMMA,
    TS_FORMAT_GUESSES,
    ColumnPlan,
    IngestOptions,
    IngestSummary,
    NumberFormat,
    RejectReason,
    currency_sign_hint,
    decimal_comma_hint,
    thousands_comma_hint,
    ts_format_hint,
)
from omnix.domain.pseudonym import pseudonym

log = structlog.get_logger(__name__)

# Pushing the good-row filter (check_no IS NULL) below the typed projection inlines the cleaned
# identifiers into it: trim() then ran 2-3 times per id column (10.6M lines: 4.6 -> 3.0 CPU s
# for the insert's scan, validation and identity join with it off). Off for the insert only.
_NO_FILTER_PUSHDOWN = "filter_pushdown"

# A stored line's position within its order, written or derived (see the module's doc); SQL for
# a query over `transactions` that holds every line of the orders it reads.
POSITION: Final = (
    f"coalesce({c.LINE_SEQ}, CAST({c.ROW_NUMBER} - min({c.ROW_NUMBER}) OVER "
    f"(PARTITION BY {c.SOURCE_ID}, {c.ORDER_ID}) + 1 AS INTEGER))"
)

# (phase, fraction done 0..1) while the engine works on a file
PhaseProgress = Callable[[str, float], None]


@dataclass(slots=True)
class Scan:
    """The staged file as SQL: raw relation, validated relation, and rule expressions."""

    raw: str
    validated: str
    reasons: list[str]
    cancel: str
    is_product: str


def raw_relation(staged: Staged) -> str:
    """The staged file as SQL, each row with its 1-based number (ROW_NUMBER_COL)."""
    path = v.lit(str(staged.path))
    if staged.row_number_col is None:
        return (
            f"(SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS {v.q(ROW_NUMBER_COL)}"
            f" FROM read_parquet({path}, file_row_number = true)) AS src"
        )
    return f"read_parquet({path}) AS src"


def scan_for(
    staged: Staged, plan: ColumnPlan, options: IngestOptions, erased: Sequence[str] = ()
) -> Scan:
    raw = raw_relation(staged)
    schema = staged.schema.append(pa.field(ROW_NUMBER_COL, pa.int64()))
    validated = v.build_select(plan, schema, options, raw, erased)
    prefix = options.effective_cancellation_prefix()
    pattern = options.effective_non_product_pattern()
    return Scan(
        raw=raw,
        validated=validated.sql,
        reasons=validated.reasons,
        cancel=f"starts_with(order_id, {v.lit(prefix)})" if prefix else "FALSE",
        is_product=f"NOT regexp_full_match(product_id, {v.lit(pattern)})" if pattern else "TRUE",
    )


@dataclass(slots=True)
class Counts:
    reasons: dict[str, int] = field(default_factory=dict)
    good: int = 0
    anonymous: int = 0
    returns: int = 0
    cancellations: int = 0
    non_product: int = 0
    line_ids: int = 0


class FileLoad:
    """The SQL steps of one file's load, on a connection already inside a transaction."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        staged: Staged,
        plan: ColumnPlan,
        options: IngestOptions,
        source_id: str,
        progress: PhaseProgress | None = None,
        derive_positions: bool = False,
    ) -> None:
        self.con = con
        self.staged = staged
        self.plan = plan
        self.options = options
        self.source_id = source_id
        self.progress = progress
        # may lines go in with derived positions (the DuckDB store; not a scratch whose lines
        # are copied elsewhere), and did this file's
        self.derive_positions = derive_positions
        self.derived = False
        self.scan = scan_for(staged, plan, options, self._erased()) if staged.rows else None

    def _erased(self) -> list[str]:
        """Customer ids (as they will be stored) of erased customers in this file: one scan
        of its distinct customer ids, only when some customer was ever erased. Transactions
        and customer records alike: a re-imported customers file brought an erased
        customer's name and phone back."""
        erased = self.options.erased
        if erased is None or not c.names_customers(self.options.kind):
            return []
        schema = self.staged.schema
        expr = v.customer_id_expr(self.plan, schema)
        if expr is None:
            return []
        rows = self.con.execute(
            f"SELECT DISTINCT {expr} AS id FROM {raw_relation(self.staged)} WHERE id IS NOT NULL"
        ).fetchall()
        found = erased.among(str(r[0]) for r in rows)
        key = self.options.pseudonymize_key
        return [pseudonym(key, i) for i in found] if key else found

    def run(self, summary: IngestSummary, source_name: str) -> None:
        counts, inserted = self._count_and_store()
        self.con.execute("DELETE FROM rejects WHERE source_id = ?", [self.source_id])
        malformed, of_erased = self._split_erased(self.staged.malformed)
        self._store_malformed(malformed, source_name)
        self._store_malformed(of_erased, source_name, RejectReason.ERASED_CUSTOMER)
        if counts.reasons:
            with self._watch("rejects"):
                self._store_rejects(source_name)
        if self.derived and inserted < (self.staged.rows or 0):
            self._settle_rejected_heads()
        summary.reject_reasons = dict(counts.reasons)
        for reason, rows in ((RejectReason.MALFORMED_ROW, malformed),
                             (RejectReason.ERASED_CUSTOMER, of_erased)):  # fmt: skip
            if rows:
                seen = summary.reject_reasons.get(reason.value, 0)
                summary.reject_reasons[reason.value] = seen + len(rows)
        summary.rejected = sum(summary.reject_reasons.values())
        summary.stored = counts.good
        summary.read = summary.stored + summary.rejected
        summary.anonymous, summary.returns = counts.anonymous, counts.returns
        summary.cancellations, summary.non_product = counts.cancellations, counts.non_product
        summary.inserted = inserted
        summary.duplicates = summary.stored - inserted
        summary.hints = self._hints(summary.reject_reasons)

    def _hints(self, reasons: dict[str, int]) -> list[str]:
        """A word on rejected rows that an option would have read: numbers with a decimal
        comma or grouped by commas, prices with a currency sign, timestamps in a layout that
        --ts-format names."""
        ts = self._ts_hint(reasons)
        return self._number_hints(reasons) + ([ts] if ts else [])

    def _number_hints(self, reasons: dict[str, int]) -> list[str]:
        """Rejected text numbers in a format an option reads (looked at without a currency
        sign, which has its own option)."""
        columns = c.CONTRACTS[self.options.kind].columns
        numeric = [f"invalid_{col.name}" for col in columns if col.dtype is c.DType.FLOAT]
        numeric = [reason for reason in numeric if reasons.get(reason)]
        if not numeric:
            return []
        fmt, signed = self.options.number_format, v.SignedPrice.of("detail")
        price = v.lit(RejectReason.INVALID_UNIT_PRICE.value)
        looks = [  # (SQL over a rejected number, what to say), for the options not given
            (f"regexp_full_match(number, {v.lit(LOOKS_DECIMAL_COMMA)})", decimal_comma_hint)
            if fmt is not NumberFormat.DECIMAL_COMMA else None,
            (f"regexp_full_match(number, {v.lit(LOOKS_THOUSANDS_COMMA)})", thousands_comma_hint)
            if fmt is not NumberFormat.THOUSANDS_COMMA else None,
            (f"reason = {price} AND {signed.sign} IS NOT NULL", currency_sign_hint)
            if not self.options.currency_signs else None,
        ]  # fmt: skip
        asked = [look for look in looks if look]
        if not asked:
            return []
        counted = ", ".join(
            f"count(*) FILTER (WHERE {cond}), min(detail) FILTER (WHERE {cond})"
            for cond, _ in asked
        )
        ((*found,),) = self.con.execute(
            f"SELECT {counted} FROM (SELECT reason, detail, {signed.number} AS number "
            "FROM rejects WHERE source_id = ? AND list_contains(?, reason)) AS r",
            [self.source_id, numeric],
        ).fetchall()
        return [
            say(int(n), str(example))
            for (_, say), n, example in zip(asked, found[::2], found[1::2], strict=True)
            if n
        ]

    def _ts_hint(self, reasons: dict[str, int], sample: int = 10_000) -> str | None:
        """The layouts (TS_FORMAT_GUESSES) that read every sampled rejected timestamp as a
        date from 1900 on; none when --ts-format was given."""
        count = reasons.get(RejectReason.INVALID_TS.value, 0)
        if self.options.ts_format or not count:
            return None
        fits = ", ".join(
            f"count(*) FILTER (WHERE year(try_strptime(detail, {v.lit(f)})) >= 1900)"
            for f in TS_FORMAT_GUESSES
        )
        ((n, example, *read),) = self.con.execute(
            f"SELECT count(*), min(detail), {fits} FROM (SELECT detail FROM rejects "
            "WHERE source_id = ? AND reason = ? LIMIT ?) AS s",
            [self.source_id, RejectReason.INVALID_TS.value, sample],
        ).fetchall()
        formats = [f for f, k in zip(TS_FORMAT_GUESSES, read, strict=True) if n and k == n]
        return ts_format_hint(count, str(example), formats) if formats else None

    def _count_and_store(self) -> tuple[Counts, int]:
        """Count the file's rows by outcome and store its good lines: (counts, inserted).

        A new transactions file is inserted first: when every staged row went in (no
        rejects, no duplicates: the usual case) its counts come from the lines just stored,
        which saves a validating pass over the file. Otherwise, and for files with line ids
        or dimension tables, the file is counted first as before.
        """
        if self._insert_first():
            inserted = self.insert_transactions(has_line_ids=False)
            if inserted == self.staged.rows:
                return self._count_stored(inserted), inserted
            return self.count(), inserted
        counts = self.count()
        if counts.good == 0:
            return counts, 0
        if self.options.kind is c.Kind.TRANSACTIONS:
            return counts, self.insert_transactions(has_line_ids=counts.line_ids > 0)
        return counts, self.upsert_dimension()

    def _insert_first(self) -> bool:
        # line ids need the count first: a window over an all-NULL line_id is one partition
        return (
            self.scan is not None
            and self.options.kind is c.Kind.TRANSACTIONS
            and c.LINE_ID not in self.plan.mapped
            and not self._source_has_lines()
        )

    def _source_has_lines(self) -> bool:
        rows = self.con.execute(
            "SELECT 1 FROM transactions WHERE source_id = ? LIMIT 1", [self.source_id]
        ).fetchall()
        return bool(rows)

    def _count_stored(self, stored: int) -> Counts:
        """Counts of a file all of whose rows were just stored (it had none stored before)."""
        with self._watch("count"):
            ((anonymous, returns, cancellations, non_product),) = self.con.execute(
                "SELECT count(*) FILTER (WHERE customer_id IS NULL), "
                "count(*) FILTER (WHERE quantity < 0), "
                f"count(*) FILTER (WHERE line_type = {v.lit(c.LineType.CANCELLATION.value)}), "
                "count(*) FILTER (WHERE NOT is_product) FROM transactions WHERE source_id = ?",
                [self.source_id],
            ).fetchall()
        return Counts(
            good=stored,
            anonymous=int(anonymous),
            returns=int(returns),
            cancellations=int(cancellations),
            non_product=int(non_product),
        )

    def count(self) -> Counts:
        """One scan: reject reasons, and what the good lines are (anonymous, returns ...)."""
        counts = Counts()
        if self.scan is None:
            return counts
        s = self.scan
        tx = self.options.kind is c.Kind.TRANSACTIONS
        extra = (
            f", count(*) FILTER (WHERE customer_id IS NULL), count(*) FILTER (WHERE quantity < 0),"
            f" count(*) FILTER (WHERE {s.cancel}), count(*) FILTER (WHERE NOT ({s.is_product})),"
            " count(line_id)"
            if tx
            else ", 0, 0, 0, 0, 0"
        )
        with self._watch("validate"):
            rows = self.con.execute(
                f"SELECT check_no, count(*){extra} FROM ({s.validated}) AS v GROUP BY check_no"
            ).fetchall()
        for check_no, n, anon, returns, cancels, non_product, line_ids in rows:
            if check_no is None:
                counts.good = int(n)
                counts.anonymous, counts.returns = int(anon), int(returns)
                counts.cancellations, counts.non_product = int(cancels), int(non_product)
                counts.line_ids = int(line_ids)
            else:
                counts.reasons[s.reasons[check_no]] = int(n)
        return counts

    def _store_rejects(self, source_name: str) -> None:
        assert self.scan is not None
        self.con.execute(
            "INSERT INTO rejects SELECT ?, ?, rn, reason, detail, raw "
            f"FROM ({self.scan.validated}) AS v WHERE check_no IS NOT NULL",
            [self.source_id, source_name],
        )

    def _split_erased(self, malformed: list[Malformed]) -> tuple[list[Malformed], list[Malformed]]:
        """(malformed lines, those of them that name an erased customer). A line the parser
        could not split into the file's columns is matched field by field, as erasure matches
        rejected rows: an erased customer's malformed line came back with its full text."""
        erased = self.options.erased
        if erased is None or not malformed or not c.names_customers(self.options.kind):
            return malformed, []
        named = [bool(erased.among(raw_fields(m.text))) for m in malformed]
        return (
            [m for m, hit in zip(malformed, named, strict=True) if not hit],
            [m for m, hit in zip(malformed, named, strict=True) if hit],
        )

    def _store_malformed(
        self,
        malformed: list[Malformed],
        source_name: str,
        reason: RejectReason = RejectReason.MALFORMED_ROW,
    ) -> None:
        """Store malformed lines as rejects; an erased customer's without detail or text."""
        if not malformed:
            return
        n = len(malformed)
        keep = reason is RejectReason.MALFORMED_ROW
        table = pa.table(
            {
                "source_id": [self.source_id] * n,
                "source_file": [source_name] * n,
                "row_number": pa.array([m.row_number for m in malformed], pa.int64()),
                "reason": [reason.value] * n,
                "detail": pa.array([m.detail if keep else None for m in malformed], pa.string()),
                "raw": pa.array([m.text if keep else None for m in malformed], pa.string()),
            }
        )
        self.con.register("_omnix_malformed", table)
        try:
            self.con.execute("INSERT INTO rejects SELECT * FROM _omnix_malformed")
        finally:
            self.con.unregister("_omnix_malformed")

    def insert_transactions(self, has_line_ids: bool) -> int:
        assert self.scan is not None
        s = self.scan
        order = v.order_id_expr(self.plan, self.staged.schema)
        first_rows = (
            f"SELECT {order} AS order_id, min({v.q(ROW_NUMBER_COL)}) AS first_rn "
            f"FROM {s.raw} GROUP BY 1"
        )
        line_type = (
            f"CASE WHEN {s.cancel} THEN 'cancellation' WHEN quantity < 0 THEN 'return' "
            "ELSE 'sale' END"
        )
        stored_before = self._has_rows("transactions")
        self.derived = self.derive_positions and not has_line_ids and not stored_before
        if self.derived:
            identified = (
                f"SELECT g.*, CAST(NULL AS INTEGER) AS line_seq FROM ({s.validated}) AS g "
                "WHERE g.check_no IS NULL"
            )
        else:
            identified = (
                f"SELECT g.*, g.rn - f.first_rn + 1 AS line_seq FROM ({s.validated}) AS g "
                f"JOIN ({first_rows}) AS f USING (order_id) WHERE g.check_no IS NULL"
            )
        if has_line_ids:
            first_of_id = "row_number() OVER (PARTITION BY line_id ORDER BY rn) = 1"
            identified += f" QUALIFY line_id IS NULL OR {first_of_id}"
        names = ", ".join(v.q(n) for n in c.TRANSACTIONS.names)
        if stored_before:
            orders = f"SELECT {order} FROM {s.raw}"
            if has_derived_positions(self.con):
                with self._watch("positions"):
                    settle_positions(self.con, orders)
            identified = _not_stored(identified, has_line_ids, orders)
        sql = (
            f"INSERT INTO transactions SELECT {names}, line_seq, {line_type}, {s.is_product}, "
            f"attributes, {v.lit(self.source_id)}, rn FROM ({identified}) AS s"
        )
        with self._watch("store"), self._optimizers_off(_NO_FILTER_PUSHDOWN):
            return int(self.con.execute(sql).fetchall()[0][0])

    def _settle_rejected_heads(self) -> None:
        """Write the positions of this file's orders whose first row was rejected: derived
        from the stored lines they would start one or more rows too early."""
        assert self.scan is not None
        rn = v.q(ROW_NUMBER_COL)
        order = v.order_id_expr(self.plan, self.staged.schema)
        heads = (
            f"WITH r AS MATERIALIZED (SELECT {order} AS order_id, min({rn}) AS first_rn "
            f"FROM {self.scan.raw} WHERE {rn} IN "
            "(SELECT row_number FROM rejects WHERE source_id = $source) GROUP BY 1) "
            "SELECT $source AS source_id, r.order_id, r.first_rn FROM r JOIN (SELECT order_id, "
            "min(row_number) AS m FROM transactions WHERE source_id = $source AND order_id IN "
            "(SELECT order_id FROM r) GROUP BY 1) AS st USING (order_id) WHERE r.first_rn < st.m"
        )
        with self._watch("positions"):
            _write_positions(self.con, heads, {"source": self.source_id})

    def upsert_dimension(self) -> int:
        assert self.scan is not None
        contract = c.CONTRACTS[self.options.kind]
        key = v.q(contract.key[0])
        names = ", ".join(v.q(n) for n in contract.names)
        latest = (
            f"SELECT * FROM ({self.scan.validated}) AS g WHERE check_no IS NULL "
            f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY rn DESC) = 1"
        )
        (new,) = self.con.execute(
            f"SELECT count(*) FROM ({latest}) AS s WHERE NOT EXISTS "
            f"(SELECT 1 FROM {contract.name} d WHERE d.{key} = s.{key})"
        ).fetchall()[0]
        self.con.execute(
            f"INSERT OR REPLACE INTO {contract.name} "
            f"SELECT {names}, attributes, {v.lit(self.source_id)} FROM ({latest}) AS s"
        )
        return int(new)

    @contextmanager
    def _optimizers_off(self, names: str) -> Iterator[None]:
        """Disable DuckDB optimizers (comma-separated) for the statements inside."""
        ((before,),) = self.con.execute("SELECT current_setting('disabled_optimizers')").fetchall()
        merged = ",".join(n for n in (before, names) if n)
        self.con.execute(f"SET disabled_optimizers = {v.lit(merged)}")
        try:
            yield
        finally:
            self.con.execute(f"SET disabled_optimizers = {v.lit(before)}")

    def _has_rows(self, table: str) -> bool:
        return bool(self.con.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchall())

    @contextmanager
    def _watch(self, phase: str) -> Iterator[None]:
        """Time a phase (logged) and report DuckDB's progress of it as (phase, fraction)."""
        started = time.perf_counter()
        try:
            with self._polled(phase):
                yield
        finally:
            log.info("load phase", phase=phase, seconds=round(time.perf_counter() - started, 3))

    @contextmanager
    def _polled(self, phase: str) -> Iterator[None]:
        if self.progress is None:
            yield
            return
        report, stop = self.progress, threading.Event()

        def poll() -> None:
            while not stop.wait(0.2):
                try:
                    pct = self.con.query_progress()
                except duckdb.Error:
                    return
                if pct >= 0:
                    report(phase, min(pct / 100.0, 1.0))

        report(phase, 0.0)
        thread = threading.Thread(target=poll, name="omnix-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            report(phase, 1.0)


def has_derived_positions(con: duckdb.DuckDBPyConnection) -> bool:
    sql = f"SELECT 1 FROM transactions WHERE {c.LINE_SEQ} IS NULL LIMIT 1"
    return bool(con.execute(sql).fetchall())


def settle_positions(
    con: duckdb.DuckDBPyConnection,
    orders: str,
    params: Sequence[object] = (),
    lines: str = "TRUE",
    rewrite: bool = False,
) -> None:
    """Write the derived positions (`line_seq` NULL) of the stored lines of `orders` (SQL
    giving order ids), every line of a (source, order) at once: before those lines are
    compared with another file's or some of them are deleted (then `lines`, a condition on
    `transactions` whose `?` come after those of `orders`, names the lines that stay).
    Callers check `has_derived_positions` first (one cheap scan). `rewrite`: the
    lines are deleted and inserted again rather than updated: DuckDB refuses a CHECKPOINT
    after an UPDATE while another connection's transaction is open (not after a DELETE or
    INSERT), and an erasure checkpoints at once.

    Written once rather than derived in every comparison: re-ingesting the whole 10.6M-line
    file over its derived positions took 17-23 s writing them against 11-13 s with written
    ones, and about as long deriving them in the anti-join, but every time."""
    heads = (
        "SELECT source_id, order_id, min(row_number) AS first_rn FROM transactions "
        f"WHERE line_seq IS NULL AND order_id IN ({orders}) GROUP BY ALL"
    )
    if not rewrite:
        _write_positions(con, heads, list(params), lines)
        return
    con.execute(
        "CREATE TEMP TABLE _omnix_settled AS SELECT transactions.* REPLACE "
        "(CAST(transactions.row_number - h.first_rn + 1 AS INTEGER) AS line_seq) "
        f"FROM transactions JOIN ({heads}) AS h ON transactions.source_id = h.source_id "
        "AND transactions.order_id = h.order_id WHERE transactions.line_seq IS NULL "
        f"AND ({lines})",
        list(params),
    )
    try:
        # a file's row numbers are unique within its source; event lines are never derived
        con.execute(
            "DELETE FROM transactions WHERE line_seq IS NULL AND (source_id, row_number) IN "
            "(SELECT (source_id, row_number) FROM _omnix_settled)"
        )
        con.execute("INSERT INTO transactions SELECT * FROM _omnix_settled")
    finally:
        con.execute("DROP TABLE _omnix_settled")


def _write_positions(
    con: duckdb.DuckDBPyConnection,
    heads: str,
    params: Sequence[object] | dict[str, object],
    lines: str = "TRUE",
) -> None:
    """Write the derived positions of the lines whose (source_id, order_id) `heads` names
    with the order's first row (first_rn), among those `lines` selects."""
    con.execute(
        "UPDATE transactions SET line_seq = CAST(transactions.row_number - h.first_rn + 1 "
        f"AS INTEGER) FROM ({heads}) AS h WHERE transactions.line_seq IS NULL "
        "AND transactions.source_id = h.source_id AND transactions.order_id = h.order_id "
        f"AND ({lines})",
        params,
    )


def _not_stored(identified: str, has_line_ids: bool, orders: str) -> str:
    """The identified lines that are not stored yet, by line identity: `line_id` when a line
    has one, else its position. Written as anti-joins: `NOT EXISTS` was decorrelated into a
    materialized copy of every incoming line plus a mark join (re-ingesting 10.6M lines:
    29 CPU s, 3.3 GB spilled).

    By position, only the stored lines of the file's `orders` (SQL giving order ids) are
    compared: the anti-join's hash table held every stored line before. A new 10.6M-line
    file into a 10.6M-line store: 13.8-15.8 s against 27-33 s; 10,000 new lines 1.5 against
    1.7 s; the same file again, where every order is stored, 12.1-12.7 s against 10.5-11.8."""
    stored = (
        f"(SELECT order_id, product_id, line_seq FROM transactions WHERE order_id IN ({orders}))"
    )
    by_position = (
        f"SELECT s.* FROM ({identified}) AS s ANTI JOIN {stored} AS t "
        "ON t.order_id = s.order_id AND t.product_id = s.product_id AND t.line_seq = s.line_seq"
    )
    if not has_line_ids:
        return by_position
    return (
        f"{by_position} WHERE s.line_id IS NULL UNION ALL "
        f"SELECT s.* FROM ({identified}) AS s ANTI JOIN transactions AS t "
        "ON t.line_id = s.line_id WHERE s.line_id IS NOT NULL"
    )
