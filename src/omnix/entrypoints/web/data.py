"""The data page (ingest role): adding a file (the upload of /v1/ingest/files with the
options a spreadsheet export needs), every ingested file with what its last ingest counted,
its rejects file to download, and taking a file out again (confirmed by typing its name), as
`omnix ingest`, `omnix sources` and /v1/sources do."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, Response

from omnix.domain import contract as c
from omnix.domain.access import Role
from omnix.domain.errors import InputError, NotFoundError
from omnix.domain.ingest import (
    PRESETS,
    IngestOptions,
    NumberFormat,
    parse_mapping,
    preset_by_name,
    text_encoding,
)
from omnix.entrypoints.api.routers.ingest import ingest_upload
from omnix.entrypoints.web.session import check_csrf
from omnix.entrypoints.web.site import Site, WebRoute
from omnix.services.model_health import latest_analysis

router = APIRouter(route_class=WebRoute, include_in_schema=False)
SourceId = Annotated[str, Path(min_length=1, max_length=64, pattern="^[0-9a-f]+$")]


@router.get("/data", response_class=HTMLResponse)
def data_page(request: Request) -> HTMLResponse:
    site = Site(request)
    site.require(Role.INGEST)
    return site.page("data.html", "Data", files=site.wired.ingest_service().sources(),
                     analysis=latest_analysis(site.wired.here()),
                     can_analyse=site.may(Role.ANALYST), **_form_choices())  # fmt: skip


def _form_choices() -> dict[str, Any]:
    return {
        "kinds": [(k.value, k.value) for k in c.Kind],
        "presets": [(p.name, f"{p.name}: {p.description}") for p in PRESETS.values()],
        "number_formats": [
            (NumberFormat.PLAIN.value, "1234.50 (a decimal point)"),
            (NumberFormat.DECIMAL_COMMA.value, "1.234,50 (a decimal comma)"),
            (NumberFormat.THOUSANDS_COMMA.value, "1,234.50 (commas group thousands)"),
        ],
    }


@router.post("/data/upload", response_class=HTMLResponse)
def upload_file(
    request: Request,
    file: Annotated[UploadFile, File()],
    csrf: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[c.Kind, Form()] = c.Kind.TRANSACTIONS,
    preset: Annotated[str, Form(max_length=100)] = "",
    mapping: Annotated[str, Form(max_length=4000)] = "",
    numbers: Annotated[NumberFormat, Form()] = NumberFormat.PLAIN,
    currency_signs: Annotated[bool, Form()] = False,
    encoding: Annotated[str, Form(max_length=40)] = "utf-8",
    ts_format: Annotated[str, Form(max_length=64)] = "",
) -> HTMLResponse:
    """Ingest one uploaded file with the options a spreadsheet export needs; the page shows
    its summary (read = stored + rejected, the reasons, the hints). `mapping`: SRC=DST
    lines, as `--map` takes them."""
    site = Site(request)
    site.require(Role.INGEST)
    check_csrf(request, csrf)
    options = IngestOptions(
        kind=kind,
        mapping=parse_mapping(_mapping_lines(mapping), kind),
        preset=preset_by_name(preset) if preset else None,
        timezone=site.wired.settings.timezone,
        anonymous=site.wired.settings.anonymous_policy,
        ts_format=ts_format.strip() or None,
        number_format=numbers,
        currency_signs=currency_signs,
        encoding=text_encoding(encoding.strip() or "utf-8"),
    )
    summary = ingest_upload(site.wired, file, options)
    files = site.wired.ingest_service().sources()  # newest first: this file's row leads
    row = next(f for f in files if f["name"] == summary["source"])
    return site.page("file_ingested.html", f"Ingested {summary['source']}", summary=summary,
                     source_id=row["source_id"], can_analyse=site.may(Role.ANALYST))  # fmt: skip


def _mapping_lines(text: str) -> list[str]:
    """The form's mapping, one SRC=DST a line, spaces around the names and blank lines
    dropped: "Invoice = order_id" is Invoice=order_id."""
    pairs = []
    for line in text.splitlines():
        src, sep, dst = line.partition("=")
        if line.strip():
            pairs.append(f"{src.strip()}{sep}{dst.strip()}")
    return pairs


@router.get("/data/{source_id}/rejects.csv")
def rejects_download(request: Request, source_id: SourceId) -> Response:
    site = Site(request)
    site.require(Role.INGEST)
    service = site.wired.ingest_service()
    path = service.rejects_file(source_id)
    if path is None:
        raise NotFoundError(f"{service.source(source_id)['name']} has no rejected rows")
    return FileResponse(path, media_type="text/csv", filename=path.name)


@router.get("/data/{source_id}/remove", response_class=HTMLResponse)
def remove_form(request: Request, source_id: SourceId) -> HTMLResponse:
    site = Site(request)
    site.require(Role.INGEST)
    row = site.wired.ingest_service().source(source_id)
    return site.page("remove_file.html", f"Remove {row['name']}", file=row)


@router.post("/data/{source_id}/remove", response_class=HTMLResponse)
def remove_file(
    request: Request,
    source_id: SourceId,
    csrf: Annotated[str, Form(max_length=200)] = "",
    confirm: Annotated[str, Form(max_length=300)] = "",
) -> HTMLResponse:
    site = Site(request)
    site.require(Role.INGEST)
    check_csrf(request, csrf)
    service = site.wired.ingest_service()
    if confirm.strip() != service.source(source_id)["name"]:
        raise InputError("type the file's name exactly to confirm its removal")
    removed = service.remove(source_id)
    site.wired.view_cache().clear()
    return site.page("file_removed.html", f"Removed {removed['name']}", removed=removed,
                     can_analyse=site.may(Role.ANALYST))  # fmt: skip
