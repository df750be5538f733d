"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from omnix import __version__
from omnix.domain.access import Role
from omnix.entrypoints.api.deps import public, secured, state
from omnix.entrypoints.api.models_ops import AnalysisState, Health, Readiness
from omnix.services.model_health import latest_analysis

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, **public())
def healthz() -> Health:
    """Liveness: the process answers. Needs no key."""
    return Health(status="ok", version=__version__)


@router.get("/readyz", response_model=Readiness, **public())
def readyz(request: Request) -> Readiness:
    """Readiness: the store is open and answers (503 problem otherwise), its tables, and
    how many lines it gained or lost, and whether files came or went, since the latest
    analysis. Needs no key."""
    api = state(request)
    container = api.wired()
    store = container.here()
    counts = store.table_counts()
    meta = {r["key"]: r["value"] for r in store.recent("meta", "key", 0)}
    dates = container.views().snapshot_dates() if counts.get("customer_snapshots") else []
    analysis = latest_analysis(store, counts["transactions"])
    return Readiness(
        status="ready",
        store=container.settings.store_url().partition("://")[0],
        schema_version=meta.get("schema_version"),
        latest_snapshot=dates[-1] if dates else None,
        warm_views=api.warmed,
        tables=counts,
        analysis=AnalysisState.model_validate(analysis.to_dict()) if analysis else None,
    )


_TEXT: dict[int | str, Any] = {
    200: {
        "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
        "description": "Prometheus text exposition format",
    }
}


@router.get("/metrics", response_class=Response, **secured(Role.VIEWER, _TEXT))
def metrics(request: Request) -> Response:
    """Request latency histograms, pipeline stage timings, model quality of the last
    backtest, rows per table. Needs a viewer key (Prometheus: `authorization` credentials)."""
    registry = state(request).metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
