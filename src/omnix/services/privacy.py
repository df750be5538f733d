"""Use case: a customer's GDPR rights over everything the store holds about them.

- export (Art. 15 access, Art. 20 portability): every row about the customer, table by table,
  as one machine-readable document;
- erase (Art. 17): every such row deleted in one transaction, the rejects files rewritten
  without their rows, cached views dropped, and an audit record kept that holds no personal
  data: a keyed hash of the id (HMAC with OMNIX_SECRET_KEY), when, by which key, and how many
  rows per table;
- consent (Art. 7): the current decision per purpose and the log behind it.

"Everything" is the store's own list of customer tables (`PersonalData.customer_tables`: every
counted table with a customer_id column, plus rejected source rows matched field by field),
so a table added later (predictions, recommendations) is reached without a change here. With
pseudonymization on, the source id and its pseudonym are both matched: rejected rows keep the
id as the source file had it.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

from omnix.domain.access import keyed_hash
from omnix.domain.consent import Purpose, purpose_default
from omnix.domain.errors import InputError, NotFoundError
from omnix.domain.ingest import rejects_path
from omnix.domain.ports import PersonalData, ViewCache
from omnix.domain.pseudonym import pseudonym

REJECTS = "rejects"
MAX_ID = 200


class PrivacyStore(PersonalData, Protocol):
    def export_rejects(self, source_id: str, path: Path) -> Path: ...


@dataclass(slots=True)
class ErasureReport:
    erasure_id: str
    subject_hash: str  # HMAC-SHA256(secret, id): proves which erasure, reveals nobody
    erased_at: str
    rows_deleted: dict[str, int]
    files_rewritten: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.rows_deleted.values())


@dataclass(slots=True)
class PrivacyService:
    store: PrivacyStore
    cache: ViewCache
    secret: str
    data_dir: Path
    pseudonymize_key: str | None = None
    default_consent: bool = False

    def subject_ids(self, customer_id: str) -> list[str]:
        """The ids rows about this customer may carry: as given, and its pseudonym."""
        customer_id = customer_id.strip()
        if not customer_id or len(customer_id) > MAX_ID:
            raise InputError(f"a customer id has 1 to {MAX_ID} characters")
        ids = [customer_id]
        if self.pseudonymize_key:
            ids.append(pseudonym(self.pseudonymize_key, customer_id))
        return ids

    def export(self, customer_id: str) -> dict[str, Any]:
        """Everything held about the customer: {table: [rows]} plus consent per purpose.
        NotFoundError when nothing is held (never held, or erased)."""
        ids = self.subject_ids(customer_id)
        tables = {
            table: [_plain(row) for row in self.store.rows_about(table, how, ids)]
            for table, how in self.store.customer_tables()
        }
        if not any(tables.values()):
            raise NotFoundError(f"the store holds nothing about customer {customer_id!r}")
        return {
            "customer_id": customer_id,
            "generated_at": datetime.now(UTC).isoformat(),
            "matched_ids": ids,
            "consent": self._consent_now(tables.get("consents", [])),
            "tables": tables,
            "row_counts": {t: len(rows) for t, rows in tables.items()},
        }

    def erase(self, customer_id: str, requested_by: str = "cli") -> ErasureReport:
        """Delete every row about the customer (one transaction) and keep an audit record.
        NotFoundError when nothing is held, so a repeated erasure says so."""
        ids = self.subject_ids(customer_id)
        rejected = self.store.rows_about(REJECTS, "raw", ids)
        held = sum(len(self.store.rows_about(t, how, ids)) for t, how in self._data_tables())
        if not held and not rejected:
            raise NotFoundError(f"the store holds nothing about customer {customer_id!r}")
        now = datetime.now(UTC)
        erasure_id = uuid.uuid4().hex
        subject = keyed_hash(self.secret, customer_id.strip(), "erasure")
        audit: dict[str, Any] = {
            "erasure_id": erasure_id, "subject_hash": subject, "erased_at": now,
            "requested_by": requested_by,
        }  # fmt: skip
        deleted = self.store.erase_about(ids, audit)
        files = self._rewrite_rejects(rejected)
        for one in ids:
            self.cache.drop(one)
        return ErasureReport(erasure_id, subject, now.isoformat(), deleted, files)

    def compact(self) -> dict[str, int]:
        """Rewrite the store's files so erased rows leave no bytes in them (see
        PersonalData.compact); sizes in bytes before and after."""
        return self.store.compact()

    def was_erased(self, customer_id: str) -> list[dict[str, Any]]:
        """The audit records of erasures of this id (found by recomputing its keyed hash)."""
        wanted = keyed_hash(self.secret, customer_id.strip(), "erasure")
        return [e for e in self.store.erasures(10_000) if e["subject_hash"] == wanted]

    def consents(self, customer_id: str) -> dict[str, Any]:
        """Current decision per purpose (latest record; a tie is a denial; the default without
        one) and the log, oldest first."""
        ids = self.subject_ids(customer_id)
        log = [_plain(r) for r in self.store.rows_about("consents", "customer_id", ids)]
        log.sort(key=lambda r: str(r["recorded_at"]))
        return {"customer_id": customer_id, "purposes": self._consent_now(log), "log": log,
                "erased": bool(self.was_erased(customer_id))}  # fmt: skip

    def _consent_now(self, log: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for purpose in Purpose:
            rows = [r for r in log if r["purpose"] == purpose.value]
            if not rows:
                default = purpose_default(purpose, self.default_consent)
                out[purpose.value] = _decision(default, True, None, None)
                continue
            latest = max(rows, key=lambda r: (str(r["recorded_at"]), not r["granted"]))
            out[purpose.value] = _decision(
                bool(latest["granted"]), False, latest["recorded_at"], latest["source"]
            )
        return out

    def _data_tables(self) -> list[tuple[str, str]]:
        return [(t, how) for t, how in self.store.customer_tables() if t != REJECTS]

    def _rewrite_rejects(self, rejected: list[dict[str, Any]]) -> list[str]:
        """Rewrite each affected source's rejects file from the table (now without the
        customer's rows); remove it when nothing is left. Events have no file."""
        out = []
        sources = {(r["source_id"], r["source_file"]) for r in rejected}
        for source_id, source_file in sorted(sources, key=str):
            path = rejects_path(self.data_dir.resolve(), str(source_file), str(source_id))
            if not path.exists():
                continue
            self.store.export_rejects(str(source_id), path)
            with path.open(encoding="utf-8") as f:
                if sum(1 for _ in f) <= 1:  # the header alone
                    path.unlink()
            out.append(str(path))
        return out


def _decision(granted: bool, by_default: bool, when: Any, source: Any) -> dict[str, Any]:
    return {"granted": granted, "by_default": by_default, "recorded_at": when, "source": source}


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready values: dates as ISO 8601, JSON columns parsed."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, datetime | date):
            out[key] = value.isoformat()
        elif isinstance(value, float) and not math.isfinite(value):
            out[key] = None
        elif key == "attributes" and isinstance(value, str):
            try:
                out[key] = json.loads(value)
            except json.JSONDecodeError:
                out[key] = value
        else:
            out[key] = value
    return out
