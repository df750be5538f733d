"""Writing data (ingest role): a transactions/products/customers file, or a batch of purchase
events each with a client message_id (a retried message is counted once)."""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile

from omnix.domain import contract as c
from omnix.domain.access import Role
from omnix.domain.errors import ConfigError, InputError
from omnix.domain.ingest import (
    AnonymousPolicy,
    ExtraColumns,
    IngestOptions,
    number_format,
    parse_mapping,
    preset_by_name,
    text_encoding,
    validate_pattern,
)
from omnix.entrypoints.api.deps import Wired, secured, state
from omnix.entrypoints.api.models_ops import (
    EventBatch,
    EventBatchResult,
    EventReject,
    IngestedFile,
    IngestedFileList,
    IngestResult,
    RemovedFile,
)

if TYPE_CHECKING:
    from omnix.bootstrap import Container

router = APIRouter(prefix="/v1", tags=["ingest"])
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
COPY_CHUNK = 1024 * 1024


@router.post(
    "/ingest/files",
    response_model=IngestResult,
    **secured(
        Role.INGEST,
        too_large="file above OMNIX_API_MAX_UPLOAD_BYTES",
        unsupported="not CSV, Parquet or JSON Lines",
        invalid="unreadable or bad mapping",
    ),
)
def ingest_file(
    wired: Wired,
    file: Annotated[UploadFile, File(description="CSV (.gz/.zst), Parquet or JSON Lines")],
    kind: Annotated[c.Kind, Form()] = c.Kind.TRANSACTIONS,
    preset: Annotated[str | None, Form(max_length=100)] = None,
    map_: Annotated[list[str] | None, Form(alias="map", description="SRC=DST")] = None,
    timezone: Annotated[str | None, Form(max_length=64)] = None,
    anonymous: Annotated[AnonymousPolicy | None, Form()] = None,
    extra_columns: Annotated[ExtraColumns, Form()] = ExtraColumns.KEEP,
    non_product: Annotated[str | None, Form(max_length=500)] = None,
    cancel_prefix: Annotated[str | None, Form(max_length=20)] = None,
    ts_format: Annotated[str | None, Form(max_length=64)] = None,
    decimal_comma: Annotated[bool, Form(description="text numbers as 1,50 or 1.234,50")] = False,
    thousands_comma: Annotated[bool, Form(description="text numbers as 1,234.50")] = False,
    currency_signs: Annotated[
        bool, Form(description="prices may carry a currency sign or code: $4.99, 4,99 €")
    ] = False,
    encoding: Annotated[str, Form(max_length=40, description="of CSV/JSONL, e.g. cp1252")] = (
        "utf-8"
    ),
) -> IngestResult:
    """Load one file like `omnix ingest`: idempotent (lines already stored count as
    duplicates), atomic, nothing dropped silently (read = stored + rejected; rejected rows
    are kept with a reason). Options mean what the CLI flags of the same name mean."""
    settings = wired.settings
    validate_pattern(non_product)
    options = IngestOptions(
        kind=kind,
        mapping=parse_mapping(map_ or [], kind),
        preset=preset_by_name(preset) if preset else None,
        timezone=timezone or settings.timezone,
        anonymous=anonymous or settings.anonymous_policy,
        extra_columns=extra_columns,
        cancellation_prefix=cancel_prefix,
        non_product_pattern=non_product,
        ts_format=ts_format,
        number_format=number_format(decimal_comma, thousands_comma),
        currency_signs=currency_signs,
        encoding=text_encoding(encoding),
    )
    return IngestResult.model_validate(ingest_upload(wired, file, options))


def ingest_upload(wired: Container, file: UploadFile, options: IngestOptions) -> dict[str, Any]:
    """Ingest an uploaded file (the API's and the dashboard's upload): kept under the data
    directory's uploads/ only while it loads. The summary (`IngestSummary.to_dict`) names
    the file by its own name, not where the server kept it meanwhile (uploads/<uuid>/...)."""
    folder = wired.settings.data_dir / "uploads" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    try:
        path = folder / _safe_name(file.filename)
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, COPY_CHUNK)
        (summary,) = wired.ingest_service().ingest([path], options)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    wired.view_cache().clear()
    return summary.to_dict() | {"source": path.name}


@router.get("/sources", response_model=IngestedFileList, **secured(Role.INGEST))
def list_sources(wired: Wired) -> IngestedFileList:
    """Every ingested file, newest first, with what its last ingest counted."""
    rows = wired.ingest_service().sources()
    return IngestedFileList(items=[IngestedFile.model_validate(r) for r in rows])


@router.delete(
    "/sources/{source_id}",
    response_model=RemovedFile,
    **secured(
        Role.INGEST,
        not_found="no ingested file with this id",
        invalid="the id prefix names more than one file",
    ),
)
def remove_source(wired: Wired, source_id: str) -> RemovedFile:
    """Take an ingested file out, like `omnix sources remove`: its lines (a products or
    customers file: the records it last wrote), its rejects and their file, in one
    transaction; `source_id` whole or its first 8+ characters. Lines a later file also held
    leave with it (they went in as that file's duplicates): upload that file again to bring
    them back. Stored snapshots, predictions and recommendations change with the next
    analysis run."""
    removed = wired.ingest_service().remove(source_id)
    wired.view_cache().clear()
    return RemovedFile.model_validate(removed)


def _safe_name(name: str | None) -> str:
    base = Path(name or "").name
    safe = _SAFE.sub("_", base).strip("._")
    if not safe:
        raise InputError("the upload needs a file name with its type, e.g. sales.csv.gz")
    if len(safe) > 200:
        raise ConfigError("file name too long (at most 200 characters)")
    return safe


@router.post(
    "/events",
    response_model=EventBatchResult,
    **secured(Role.INGEST, too_large="batch above OMNIX_API_MAX_BODY_BYTES"),
)
def post_events(request: Request, wired: Wired, batch: EventBatch) -> EventBatchResult:
    """Store a batch of purchase events (up to 10,000). Each `message_id` is counted once:
    a message seen before (or twice in the batch) is reported in `duplicate_ids` and not
    stored again. Events breaking a contract rule are rejected one by one with a reason;
    the rest are stored. received = stored + duplicates + rejected."""
    out = wired.event_service().ingest([e.model_dump(exclude_none=True) for e in batch.events])
    counter = state(request).metrics.events
    for outcome, n in (
        ("stored", out.stored),
        ("duplicate", out.duplicates),
        ("rejected", out.rejected),
    ):
        counter.labels(outcome).inc(n)
    return EventBatchResult(
        received=out.received,
        stored=out.stored,
        duplicates=out.duplicates,
        rejected=out.rejected,
        duplicate_ids=out.duplicate_ids,
        rejects=[
            EventReject(message_id=r.message_id, reason=r.reason.value, detail=r.detail)
            for r in out.rejects
        ],
    )
