"""Request and response schemas of the operational routes: problems, health, ingest, events,
analysis runs, privacy and API keys; each with an example."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from omnix.domain.access import Role
from omnix.domain.consent import Purpose
from omnix.domain.events import MAX_MESSAGE_ID
from omnix.domain.jobs import JobStatus
from omnix.entrypoints.api.models_read import example, example_of

MAX_EVENTS = 10_000  # per batch


class Problem(BaseModel):
    """An error, as RFC 9457 application/problem+json. `type` is stable per kind of error."""

    model_config = example(
        {
            "type": "/problems/not-found",
            "title": "Not found",
            "status": 404,
            "detail": "customer 'C999' is not in the snapshot of 2025-12-01",
            "instance": "/v1/customers/C999",
        }
    )
    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="validation-failed: where and why the request is invalid"
    )
    retry_after: int | None = Field(default=None, description="rate-limited: seconds to wait")


class ProblemTypeInfo(BaseModel):
    model_config = example(
        {
            "type": "/problems/rate-limited",
            "status": 429,
            "title": "Too many requests",
            "description": "This API key sent more requests than its rate allows; retry after "
            "the seconds in the Retry-After header.",
        }
    )
    type: str
    status: int
    title: str
    description: str


class Health(BaseModel):
    model_config = example({"status": "ok", "version": "0.1.0"})
    status: Literal["ok"]
    version: str


class AnalysisState(BaseModel):
    """The latest `omnix analyze`, the lines the store held then and holds now, and whether
    files came or went since."""

    model_config = example(
        {"finished_at": "2025-12-01T06:10:00Z", "lines": 1080600, "lines_now": 1080627,
         "lines_since": 27, "files_changed": True}
    )  # fmt: skip
    finished_at: dt.datetime | None = None
    lines: int | None = Field(None, description="lines the analysis saw (null: not recorded)")
    lines_now: int
    lines_since: int | None = Field(
        None, description="lines added since (negative: taken out); results do not count them"
    )
    files_changed: bool | None = Field(
        None,
        description="a file was ingested or taken out since (null: not recorded); true with "
        "lines_since 0 when the lines netted out",
    )


class Readiness(BaseModel):
    model_config = example(
        {
            "status": "ready",
            "store": "duckdb",
            "schema_version": "4",
            "latest_snapshot": "2025-12-01",
            "warm_views": 2000,
            "tables": {"transactions": 1080627},
            "analysis": {
                "finished_at": "2025-12-01T06:10:00Z",
                "lines": 1080600,
                "lines_now": 1080627,
                "lines_since": 27,
                "files_changed": True,
            },
        }
    )
    status: Literal["ready"]
    store: str
    schema_version: str | None = None
    latest_snapshot: dt.date | None = None
    warm_views: int = Field(description="customers whose 360 the last warm-up cached")
    tables: dict[str, int]
    analysis: AnalysisState | None = Field(None, description="null: never analysed")


class IngestResult(BaseModel):
    """One file's ingest: read = stored + rejected; stored = inserted + duplicates."""

    model_config = example(
        {
            "source": "sales-2025-12.csv",
            "kind": "transactions",
            "read": 10000,
            "stored": 9998,
            "inserted": 9998,
            "duplicates": 0,
            "rejected": 2,
            "reject_reasons": {"negative_unit_price": 2},
            "anonymous": 0,
            "returns": 12,
            "cancellations": 0,
            "non_product": 0,
            "extra_columns": ["loyalty_tier"],
            "extra_columns_kept": True,
            "seconds": 0.41,
            "balanced": True,
            "hints": [],
        }
    )
    source: str
    kind: str
    read: int
    stored: int
    inserted: int
    duplicates: int
    rejected: int
    reject_reasons: dict[str, int]
    anonymous: int
    returns: int
    cancellations: int
    non_product: int
    extra_columns: list[str]
    extra_columns_kept: bool
    seconds: float
    balanced: bool
    hints: list[str] = Field(
        default_factory=list,
        description="What an option might fix, e.g. numbers rejected for a decimal comma",
    )


class IngestedFile(BaseModel):
    """One ingested file (`omnix sources list`): what its last ingest counted."""

    model_config = example(
        {
            "source_id": "6192db62b2c4f3e1a0d9c8b7a6f5e4d3",
            "name": "sales-2025-12.csv",
            "kind": "transactions",
            "format": "csv",
            "size": 1480213,
            "read": 10000,
            "stored": 9998,
            "inserted": 9998,
            "duplicates": 0,
            "rejected": 2,
            "first_ingested_at": "2026-01-02T06:00:00Z",
            "last_ingested_at": "2026-01-02T06:00:00Z",
        }
    )
    source_id: str = Field(description="the file's content fingerprint")
    name: str
    kind: str
    format: str
    size: int
    read: int
    stored: int
    inserted: int
    duplicates: int
    rejected: int
    first_ingested_at: dt.datetime
    last_ingested_at: dt.datetime


class IngestedFileList(BaseModel):
    model_config = example({"items": [example_of(IngestedFile)]})
    items: list[IngestedFile]


class RemovedFile(BaseModel):
    """An ingested file taken out: rows deleted per table, in one transaction."""

    model_config = example(
        {
            "source_id": "6192db62b2c4f3e1a0d9c8b7a6f5e4d3",
            "name": "sales-2025-12.csv",
            "kind": "transactions",
            "deleted": {"transactions": 9998, "products": 0, "customers": 0, "rejects": 2,
                        "sources": 1},
        }
    )  # fmt: skip
    source_id: str
    name: str
    kind: str
    deleted: dict[str, int]


class PurchaseEvent(BaseModel):
    """One order line. `ts`: ISO 8601 (naive = UTC). Rule violations reject only this event
    (see `rejects` in the result); a wrong JSON type refuses the batch."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "message_id": "pos-7-000123-1",
                    "customer_id": "C000042",
                    "order_id": "O-000123",
                    "ts": "2025-12-01T17:42:10+01:00",
                    "product_id": "P0007",
                    "product_name": "Whole Milk 1L",
                    "category": "Dairy",
                    "quantity": 2,
                    "unit_price": 1.19,
                    "currency": "EUR",
                    "store_id": "S01",
                    "channel": "store",
                }
            ]
        },
    )
    message_id: str = Field(min_length=1, max_length=MAX_MESSAGE_ID)
    customer_id: str | None = Field(default=None, max_length=200)
    order_id: str | None = Field(default=None, max_length=200)
    ts: str | None = Field(default=None, max_length=64)
    product_id: str | None = Field(default=None, max_length=200)
    product_name: str | None = Field(default=None, max_length=500)
    category: str | None = Field(default=None, max_length=200)
    brand: str | None = Field(default=None, max_length=200)
    quantity: float | None = None
    unit_price: float | None = None
    currency: str | None = Field(default=None, max_length=8)
    store_id: str | None = Field(default=None, max_length=200)
    channel: str | None = Field(default=None, max_length=50)
    line_id: str | None = Field(default=None, max_length=200)
    attributes: dict[str, str | int | float | bool | None] | None = None

    @model_validator(mode="after")
    def _no_nul(self) -> PurchaseEvent:
        """NUL characters are refused: PostgreSQL text cannot hold them, and both stores
        must accept the same events."""
        texts = [v for v in self.__dict__.values() if isinstance(v, str)]
        for key, value in (self.attributes or {}).items():
            texts += [key, value] if isinstance(value, str) else [key]
        if any("\x00" in t for t in texts):
            raise ValueError("text must not contain NUL (U+0000) characters")
        return self


class EventBatch(BaseModel):
    model_config = example({"events": [example_of(PurchaseEvent)]})
    events: list[PurchaseEvent] = Field(min_length=1, max_length=MAX_EVENTS)


class EventReject(BaseModel):
    model_config = example(
        {"message_id": "pos-7-000124-1", "reason": "negative_unit_price", "detail": "-1.19"}
    )
    message_id: str
    reason: str
    detail: str


class EventBatchResult(BaseModel):
    """received = stored + duplicates + rejected; a duplicate is a message id seen before."""

    model_config = example(
        {
            "received": 3,
            "stored": 1,
            "duplicates": 1,
            "rejected": 1,
            "duplicate_ids": ["pos-7-000122-1"],
            "rejects": [example_of(EventReject)],
        }
    )
    received: int
    stored: int
    duplicates: int
    rejected: int
    duplicate_ids: list[str]
    rejects: list[EventReject]


class AnalysisRunCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"as_of": "2025-12-01", "default_consent": "denied", "recommendations": True}
            ]
        },
    )
    as_of: dt.date | None = Field(
        default=None,
        description="analyse purchases before this day (default: the day after "
        "the last line); the snapshot is stored under it",
    )
    default_consent: Literal["granted", "denied"] | None = Field(
        default=None, description="consent of customers without a record (EU mode: denied)"
    )
    recommendations: bool = Field(
        default=False,
        description="then refresh every customer's recommendations as of the same day "
        "(`omnix recommend --all`), as a last stage named recommendations; a cancel asked "
        "for once the analysis is stored skips it and the run still succeeds",
    )


class StageState(BaseModel):
    model_config = example({"name": "segments", "status": "done", "seconds": 1.92})
    name: str
    status: Literal["pending", "running", "done"]
    seconds: float | None = None


class AnalysisRun(BaseModel):
    model_config = example(
        {
            "id": "6f1c0d3e9b2a4c7d8e9f0a1b2c3d4e5f",
            "status": "running",
            "stage": "clusters",
            "progress": 0.43,
            "params": {"as_of": "2025-12-01"},
            "stages": [
                {"name": "profiles", "status": "done", "seconds": 0.8},
                {"name": "clusters", "status": "running", "seconds": None},
            ],
            "created_at": "2025-12-01T09:00:00Z",
            "started_at": "2025-12-01T09:00:00Z",
            "finished_at": None,
            "cancel_requested": False,
            "error": None,
            "result": None,
        }
    )
    id: str
    status: JobStatus
    stage: str | None = None
    progress: float = Field(description="stages done / stages, 0..1")
    params: dict[str, Any]
    stages: list[StageState]
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    cancel_requested: bool
    error: str | None = None
    result: dict[str, Any] | None = Field(
        default=None, description="the analysis report (as `omnix analyze --json`)"
    )


class AnalysisRunList(BaseModel):
    model_config = example({"items": [example_of(AnalysisRun)]})
    items: list[AnalysisRun]


class ConsentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"granted": False}]})
    granted: bool


class ConsentDecision(BaseModel):
    model_config = example(
        {
            "granted": False,
            "by_default": False,
            "recorded_at": "2025-12-01T09:00:00+00:00",
            "source": "api:3f2a9c1b7d4e",
        }
    )
    granted: bool
    by_default: bool = Field(description="no record: the configured default applies")
    recorded_at: dt.datetime | None = None
    source: str | None = None


class ConsentRecordOut(BaseModel):
    model_config = example(
        {
            "customer_id": "C000042",
            "purpose": "profiling",
            "granted": False,
            "recorded_at": "2025-12-01T09:00:00+00:00",
            "source": "api:3f2a9c1b7d4e",
        }
    )
    customer_id: str
    purpose: str
    granted: bool
    recorded_at: dt.datetime
    source: str | None = None


class CustomerConsents(BaseModel):
    model_config = example(
        {
            "customer_id": "C000042",
            "purposes": {
                p.value: {"granted": False, "by_default": True, "recorded_at": None, "source": None}
                for p in Purpose
            },
            "log": [],
            "erased": False,
        }
    )
    customer_id: str
    purposes: dict[str, ConsentDecision]
    log: list[ConsentRecordOut]
    erased: bool = Field(
        default=False,
        description="the customer was erased: the decisions shown are the defaults, and "
        "later ingests and events reject their lines",
    )


class CustomerExport(BaseModel):
    """Everything the store holds about one customer (GDPR Art. 15 and 20)."""

    model_config = example(
        {
            "customer_id": "C000042",
            "generated_at": "2025-12-01T09:00:00+00:00",
            "matched_ids": ["C000042"],
            "consent": {
                "profiling": {
                    "granted": False,
                    "by_default": True,
                    "recorded_at": None,
                    "source": None,
                }
            },
            "tables": {
                "transactions": [
                    {
                        "customer_id": "C000042",
                        "order_id": "O-000123",
                        "product_id": "P0007",
                        "quantity": 2.0,
                    }
                ],
                "consents": [],
                "rejects": [],
            },
            "row_counts": {"transactions": 1, "consents": 0, "rejects": 0},
        }
    )
    customer_id: str
    generated_at: dt.datetime
    matched_ids: list[str]
    consent: dict[str, ConsentDecision]
    tables: dict[str, list[dict[str, Any]]]
    row_counts: dict[str, int]


class Erasure(BaseModel):
    """The audit record of an erasure: no personal data (subject_hash is a keyed hash)."""

    model_config = example(
        {
            "erasure_id": "0b5e3c1f9a8d4e2b",
            "subject_hash": "9c1f...e2",
            "erased_at": "2025-12-01T09:00:00+00:00",
            "rows_deleted": {"transactions": 812, "rejects": 1},
            "files_rewritten": ["omnix-data/rejects/sales.csv.1a2b3c4d.rejects.csv"],
        }
    )
    erasure_id: str
    subject_hash: str
    erased_at: dt.datetime
    rows_deleted: dict[str, int]
    files_rewritten: list[str] = Field(default_factory=list)


class ErasureLog(BaseModel):
    model_config = example(
        {
            "items": [
                {
                    "erasure_id": "0b5e3c1f9a8d4e2b",
                    "subject_hash": "9c1f...e2",
                    "erased_at": "2025-12-01T09:00:00+00:00",
                    "rows_deleted": {"transactions": 812},
                    "requested_by": "key:3f2a9c1b7d4e",
                }
            ]
        }
    )
    items: list[dict[str, Any]]


class KeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"role": "analyst", "name": "CRM sync"}]}
    )
    role: Role
    name: str = Field(default="", max_length=100)


class KeyInfo(BaseModel):
    model_config = example(
        {
            "key_id": "3f2a9c1b7d4e",
            "name": "CRM sync",
            "role": "analyst",
            "created_at": "2025-12-01T09:00:00+00:00",
            "revoked_at": None,
            "last_used_at": None,
        }
    )
    key_id: str
    name: str
    role: Role
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None


class KeyCreated(KeyInfo):
    model_config = example(
        {
            "key_id": "3f2a9c1b7d4e",
            "name": "CRM sync",
            "role": "analyst",
            "created_at": "2025-12-01T09:00:00+00:00",
            "revoked_at": None,
            "last_used_at": None,
            "key": "omx_3f2a9c1b7d4e_Jw0...shown-once...",
        }
    )
    key: str = Field(description="the key itself: shown once, never stored")


class KeyList(BaseModel):
    model_config = example({"items": [example_of(KeyInfo)]})
    items: list[KeyInfo]
