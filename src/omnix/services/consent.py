"""Use case: record consent per customer and purpose, and answer who may be processed.

`permitted(warehouse, purpose, default)` is the one answer to "which customers may be
profiled" (or personalised, or sent to an LLM): every feature that processes a person's data
for a purpose filters on it, so a withdrawal recorded here reaches all of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from omnix.analytics import consent as rules
from omnix.analytics.overview import customer_lines
from omnix.domain import contract as c
from omnix.domain.consent import ConsentRecord, Purpose, parse_purpose, purpose_default
from omnix.domain.errors import InputError, SourceNotFoundError, UnsupportedFormatError
from omnix.domain.ports import Warehouse
from omnix.domain.privacy import sensitive_categories
from omnix.domain.pseudonym import pseudonym

_TRUE = {"true", "1", "yes", "y", "granted", "t"}
_FALSE = {"false", "0", "no", "n", "denied", "f"}


def parse_granted(value: Any, where: str) -> bool:
    """A consent flag from a file cell: true/false, 1/0, yes/no, granted/denied."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InputError(f"{where}: granted must be true or false, got {value!r}")


def permitted(
    warehouse: Warehouse, purpose: Purpose, default: bool, customers: Any | None = None
) -> Any:
    """The customer_ids (an Ibis table) whose consent covers `purpose`: their latest record,
    or `default` without one. `customers`: the candidates (default: every customer with a
    product line in the store)."""
    con = warehouse.ibis()
    if customers is None:
        customers = customer_lines(con.table("transactions")).select(c.CUSTOMER_ID)
    granted = purpose_default(purpose, default)
    return rules.permitted(customers, con.table(rules.CONSENTS), purpose, granted)


def analysable(warehouse: Warehouse) -> Any:
    """The transactions per-customer analytics read (segments, lifetime value, churn,
    rhythms, predictions): every line but those of customers who objected to analytics (their
    latest `analytics` record is a denial; without one they count as granted, see
    `domain.consent.OPT_OUT`). Store-level figures (revenue, product statistics) read every
    line: they are the retailer's books, as anonymous lines are. An Ibis table."""
    return without_objectors(warehouse, warehouse.ibis().table("transactions"))


def without_objectors(warehouse: Warehouse, rows: Any) -> Any:
    """`rows` (an Ibis table with customer_id) without the customers who objected to
    analytics: for reads of what an earlier analysis stored about each person (snapshot rows
    listed, shown or exported), so an objection takes effect at once, not at the next run."""
    gone = _objectors(warehouse)
    if not gone.count().to_pyarrow().as_py():  # the usual case: no join for nobody
        return rows
    return rows.anti_join(gone, c.CUSTOMER_ID)


def describable(warehouse: Warehouse, tx: Any | None = None) -> Any:
    """`tx` (default: every line) with a protected category (`domain.privacy`: health,
    religion, ethnicity ...) read as no category, for whatever describes a customer or a group
    of them: a profile's top categories, the category shares clusters are built on, a
    segment's categories. A customer's top category was "Health/Pregnancy" even with profiling
    denied; the spending profile already left such categories out. Store-level figures keep
    them. One query of the store's distinct categories; no change when none is protected."""
    import ibis

    lines = warehouse.ibis().table("transactions")
    tx = lines if tx is None else tx
    names = lines.select(c.CATEGORY).distinct().to_pyarrow()[c.CATEGORY].to_pylist()
    protected = sensitive_categories(str(n) for n in names if n is not None)
    if not protected:
        return tx
    masked = ibis.ifelse(tx[c.CATEGORY].isin(protected), ibis.null("string"), tx[c.CATEGORY])
    return tx.mutate(**{c.CATEGORY: masked})


def objected_to_analytics(warehouse: Warehouse, customer_id: str) -> bool:
    """Whether the customer's latest analytics decision is a denial (see `analysable`)."""
    gone = _objectors(warehouse)
    found = gone.filter(gone[c.CUSTOMER_ID] == customer_id).count().to_pyarrow().as_py()
    return bool(found)


def _objectors(warehouse: Warehouse) -> Any:
    return rules.objected(warehouse.ibis().table(rules.CONSENTS), Purpose.ANALYTICS)


@dataclass(frozen=True, slots=True)
class ConsentImport:
    recorded: int
    unknown_customers: int  # decisions for ids the store holds no line of (yet)


@dataclass(slots=True)
class ConsentService:
    warehouse: Warehouse
    # OMNIX_PSEUDONYMIZE_KEY: decisions are stored under the id the lines carry (the
    # pseudonym), or a consent given by the retailer's id would match no stored line
    pseudonymize_key: str | None = None

    def set(
        self, customer_id: str, purpose: Purpose, granted: bool, source: str = "cli"
    ) -> ConsentRecord:
        """Record one decision, now."""
        if not customer_id.strip():
            raise InputError("a consent needs a customer id")
        stored = self._stored_id(customer_id)
        record = ConsentRecord(stored, purpose, granted, datetime.now(UTC), source)
        self.warehouse.record_consents(_table([record]))
        return record

    def import_file(self, path: Path) -> ConsentImport:
        """Append the decisions of a CSV or JSON Lines file with customer_id, purpose, granted
        (and optional recorded_at, ISO 8601; default now). All rows or none are stored."""
        rows = _read(path)
        now = datetime.now(UTC)
        records = [_record(row, k + 2, path.name, now) for k, row in enumerate(rows)]
        stored = [replace(r, customer_id=self._stored_id(r.customer_id)) for r in records]
        recorded = self.warehouse.record_consents(_table(stored))
        return ConsentImport(recorded, len(self.without_lines([r.customer_id for r in stored])))

    def without_lines(self, stored_ids: list[str]) -> list[str]:
        """Those of `stored_ids` (as stored: pseudonyms when pseudonymizing) with no line in
        the store. Their decisions are kept and apply to lines ingested later, which is
        right for a sign-up before a first purchase; a mistyped id looks the same, so the
        entry points say so instead of succeeding silently."""
        import ibis

        given = sorted(set(stored_ids))
        if not given:
            return []
        tx = self.warehouse.ibis().table("transactions")
        ids = ibis.memtable({c.CUSTOMER_ID: given}, schema={c.CUSTOMER_ID: "string"})
        missing = ids.anti_join(tx, ids[c.CUSTOMER_ID] == tx[c.CUSTOMER_ID])
        return sorted(missing.to_pyarrow()[c.CUSTOMER_ID].to_pylist())

    def _stored_id(self, customer_id: str) -> str:
        key = self.pseudonymize_key
        return pseudonym(key, customer_id.strip()) if key else customer_id

    def permitted(self, purpose: Purpose, default: bool) -> Any:
        return permitted(self.warehouse, purpose, default)

    def recorded(self) -> int:
        """How many consent decisions the store holds."""
        table = self.warehouse.ibis().table(rules.CONSENTS)
        return int(table.count().to_pyarrow().as_py())


def _read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise SourceNotFoundError(f"consent file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        import pyarrow.csv as pcsv

        options = pcsv.ConvertOptions(column_types={"customer_id": pa.string()})
        try:
            table = pcsv.read_csv(path, convert_options=options)
        except pa.ArrowInvalid as err:  # empty, not UTF-8, ragged rows
            raise InputError(f"{path.name}: cannot read as CSV ({err})") from None
        missing = {"customer_id", "purpose", "granted"} - set(table.column_names)
        if missing:
            raise InputError(
                f"{path.name}: no {', '.join(sorted(missing))} column (it has "
                f"{', '.join(table.column_names)}); the header is customer_id,purpose,granted"
            )
        rows: list[dict[str, Any]] = table.to_pylist()
        return rows
    if suffix in {".jsonl", ".ndjson"}:
        lines = path.read_text(encoding="utf-8").splitlines()
        try:
            return [json.loads(line) for line in lines if line.strip()]
        except json.JSONDecodeError as err:
            raise InputError(f"{path.name}: not JSON Lines ({err})") from None
    raise UnsupportedFormatError(f"consent files are .csv or .jsonl, got {path.name}")


def _record(row: dict[str, Any], line: int, source: str, now: datetime) -> ConsentRecord:
    where = f"{source} row {line}"
    missing = [k for k in ("customer_id", "purpose", "granted") if row.get(k) in (None, "")]
    if missing:
        raise InputError(f"{where}: missing {', '.join(missing)}")
    try:
        purpose = parse_purpose(str(row["purpose"]))
    except Exception as err:
        raise InputError(f"{where}: {err}") from None
    when = row.get("recorded_at") or now
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when)
        except ValueError:
            raise InputError(f"{where}: recorded_at is not ISO 8601: {when!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    granted = parse_granted(row["granted"], where)
    return ConsentRecord(str(row["customer_id"]), purpose, granted, when, f"file:{source}")


def _table(records: list[ConsentRecord]) -> pa.Table:
    return pa.table({
        "customer_id": pa.array([r.customer_id for r in records], pa.string()),
        "purpose": pa.array([r.purpose.value for r in records], pa.string()),
        "granted": pa.array([r.granted for r in records], pa.bool_()),
        "recorded_at": pa.array([r.recorded_at for r in records], pa.timestamp("us", "UTC")),
        "source": pa.array([r.source for r in records], pa.string()),
    })  # fmt: skip
