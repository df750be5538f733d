"""The data page (ingest role): every ingested file with what its last ingest counted, its
rejects file to download, and taking a file out again (confirmed by typing its name), as
`omnix sources` and /v1/sources do."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from omnix.domain.access import Role
from omnix.domain.errors import InputError, NotFoundError
from omnix.entrypoints.web.session import check_csrf
from omnix.entrypoints.web.site import Site, WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)
SourceId = Annotated[str, Path(min_length=1, max_length=64, pattern="^[0-9a-f]+$")]


@router.get("/data", response_class=HTMLResponse)
def data_page(request: Request) -> HTMLResponse:
    site = Site(request)
    site.require(Role.INGEST)
    return site.page("data.html", "Data", files=site.wired.ingest_service().sources())


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
    return site.page("file_removed.html", f"Removed {removed['name']}", removed=removed)
