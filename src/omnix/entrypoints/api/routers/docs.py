"""Interactive documentation, offline: Swagger UI 5 and ReDoc served from this server (assets
from the fastapi-offline package; no CDN), and a page per problem type."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI
from fastapi import Path as PathParam
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from omnix.domain.errors import NotFoundError
from omnix.entrypoints.api import problems
from omnix.entrypoints.api.deps import public
from omnix.entrypoints.api.models_ops import ProblemTypeInfo

router = APIRouter(tags=["docs"])
ASSETS = "/docs/assets"


def mount_assets(app: FastAPI) -> None:
    static = Path(str(files("fastapi_offline"))) / "static"
    app.mount(ASSETS, StaticFiles(directory=static), name="docs-assets")


@router.get("/docs", include_in_schema=False, **public())
def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="omnix API",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon.png",
        swagger_ui_parameters={"persistAuthorization": False, "tryItOutEnabled": True},
    )


@router.get("/redoc", include_in_schema=False, **public())
def redoc() -> HTMLResponse:
    return get_redoc_html(
        openapi_url="/openapi.json",
        title="omnix API",
        redoc_js_url=f"{ASSETS}/redoc.standalone.js",
        redoc_favicon_url=f"{ASSETS}/favicon.png",
        with_google_fonts=False,
    )


@router.get(
    "/problems/{slug}", response_model=ProblemTypeInfo, **public(not_found="no such problem type")
)
def get_problem_type(slug: Annotated[str, PathParam(max_length=64)]) -> ProblemTypeInfo:
    """What a problem `type` means (the `type` of every error response points here)."""
    kind = problems.TYPES.get(slug)
    if kind is None:
        raise NotFoundError(f"no problem type {slug!r}")
    return ProblemTypeInfo(
        type=kind.uri, status=kind.status, title=kind.title, description=kind.description
    )
