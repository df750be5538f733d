"""The FastAPI app factory: `create_app(container)` wires routers, problems, security and
metrics. Nothing is created at import time; without a container the store is opened when
the server starts (lifespan) and closed when it stops.

Middleware, outermost first: security headers -> request metrics -> CORS (only when origins
are configured) -> body size limit -> authentication and rate limit -> routes.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from omnix import __version__
from omnix.bootstrap import Container
from omnix.config import Settings
from omnix.domain.errors import OmnixError
from omnix.entrypoints import web
from omnix.entrypoints.api import openapi, problems
from omnix.entrypoints.api.deps import ApiState
from omnix.entrypoints.api.metrics import RequestMetrics, StoreCollector
from omnix.entrypoints.api.routers import (
    customers,
    docs,
    health,
    ingest,
    keys,
    predictions,
    privacy,
    recommendations,
    runs,
    segments,
)
from omnix.entrypoints.api.security import BodyLimit, Guard, SecurityHeaders, TokenBuckets

log = structlog.get_logger(__name__)
TAGS = [
    {"name": "customers", "description": "Customer-level reads (analyst)."},
    {
        "name": "predictions",
        "description": "Who is due for what, from stored predictions (analyst).",
    },
    {
        "name": "recommendations",
        "description": "Recommendations with request-time context (analyst).",
    },
    {"name": "segments", "description": "Segments, snapshots and migration."},
    {"name": "ingest", "description": "Files and purchase events (ingest)."},
    {"name": "analysis runs", "description": "`omnix analyze` as a tracked job (analyst)."},
    {"name": "privacy", "description": "Consent, export and erasure (privacy_officer)."},
    {"name": "keys", "description": "API keys (admin)."},
    {"name": "health", "description": "Liveness, readiness, Prometheus metrics."},
    {"name": "docs", "description": "What each problem type means."},
]


ROUTERS: tuple[APIRouter, ...] = tuple(
    m.router
    for m in (
        customers,
        predictions,
        recommendations,
        segments,
        ingest,
        runs,
        privacy,
        keys,
        health,
        docs,
    )
)


def api_routes() -> list[APIRoute]:
    """Every route the app serves (the auth matrix test walks them)."""
    return [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]


def create_app(container: Container | None = None, *, settings: Settings | None = None) -> FastAPI:
    """The omnix API. With `container` the caller owns the store (tests, `omnix demo`);
    without one the app opens it from `settings` at startup and closes it at shutdown."""
    settings = container.settings if container is not None else settings or Settings()
    api = ApiState(settings, container)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = api.container is None
        if owned:
            from omnix.bootstrap import bootstrap

            api.container = bootstrap(settings)
        wired = api.wired()
        _limit_threads(settings)
        runner = wired.job_runner()
        runner.observe_stage = lambda stage, s: api.metrics.stages.labels(stage).observe(s)
        runner.on_finished = lambda job: _rewarm(api)
        feed = wired.change_feed()
        stop_feed = feed.subscribe(lambda kind, ids: _changed(api, kind, ids)) if feed else None
        _rewarm(api)
        abandoned = runner.recover()
        if abandoned:
            log.warning("analysis runs interrupted by a restart", runs=abandoned)
        try:
            yield
        finally:
            if stop_feed is not None:
                stop_feed()
            runner.shutdown()
            if api.warming is not None:  # its queries must end before the store closes
                api.warming.join(timeout=120)
            if owned:
                wired.close()
                api.container = None

    app = FastAPI(
        title="omnix",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        openapi_tags=TAGS,
        lifespan=lifespan,
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.omnix = api
    problems.install(app)
    for router in ROUTERS:
        app.include_router(router)
    docs.mount_assets(app)
    web.install(app, settings)  # the dashboard at / (its pages stay out of the OpenAPI document)
    _watch_store(api)

    def spec() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi.build(app)
        return app.openapi_schema

    app.openapi = spec  # type: ignore[method-assign]
    _middleware(app, api)
    return app


def _limit_threads(settings: Settings) -> None:
    """Request threads of this process (each holds a store handle: on PostgreSQL a
    connection, so processes x threads must stay under the server's max_connections)."""
    import anyio.to_thread

    threads = settings.api_threads or (40 if settings.embedded() else 16)
    anyio.to_thread.current_default_thread_limiter().total_tokens = threads


def _changed(api: ApiState, kind: str, ids: list[str]) -> None:
    """Another process changed the store (PostgreSQL): drop what this one caches about it."""
    wired = api.wired()
    if kind == "customers":
        wired.view_cache().drop_many(ids)
    elif kind == "all":
        wired.view_cache().clear()
    elif kind == "snapshot":
        _rewarm(api)
    elif kind == "keys":
        wired.keys_service().forget(ids)


def _rewarm(api: ApiState) -> None:
    """Empty the view cache and fill it again from the latest snapshot, in the background
    (hot customers' 360 then never pays the per-customer queries)."""
    wired = api.wired()
    cache = wired.view_cache()
    claim = getattr(cache, "claim", None)
    if claim is not None and not claim("warm", 5.0):
        return  # a shared cache another process is warming right now
    cache.clear()
    limit = api.settings.api_cache_entries
    if limit <= 0 or api.settings.api_cache_seconds <= 0:
        return

    def warm() -> None:
        try:
            api.warmed = wired.views().warm(customers.serialise_360, limit)
            log.info("360 views warmed", customers=api.warmed)
        except OmnixError as err:  # no snapshot yet: nothing to warm
            log.info("360 views not warmed", reason=str(err))
        except Exception:  # never take the server down for a cache
            log.exception("warming the 360 views failed")

    if api.warming is not None:
        api.warming.join()  # one warm-up at a time: the latest snapshot wins
    api.warming = threading.Thread(target=warm, name="omnix-warm-views", daemon=True)
    api.warming.start()


def _buckets(api: ApiState) -> Any:
    """The per-key rate limit: one bucket in Redis shared by every API process when a cache
    URL is set; else each of the N processes keeps its own with 1/N of the rate and burst
    (requests spread over the processes, so the sum approximates the limit)."""
    s = api.settings
    if s.cache_url:
        from omnix.bootstrap import Container

        shared = Container.shared_rate_limit_for(s)
        if shared is not None:
            return shared
    n = s.api_workers
    return TokenBuckets(s.api_rate_per_second / n, max(1, s.api_rate_burst // n))


def _middleware(app: FastAPI, api: ApiState) -> None:
    """Added innermost first (Starlette wraps each new one around the previous)."""
    s = api.settings
    buckets = _buckets(api)
    app.add_middleware(Guard, keys=lambda: api.wired().keys_service(), buckets=buckets)
    app.add_middleware(BodyLimit, limit=s.api_max_body_bytes, upload_limit=s.api_max_upload_bytes)
    origins = s.cors_origins()
    if origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
        )
    app.add_middleware(RequestMetrics, metrics=api.metrics)
    app.add_middleware(SecurityHeaders, hsts=s.env == "production")


def _watch_store(api: ApiState) -> None:
    def runs() -> list[dict[str, Any]]:
        return api.wired().here().recent("runs", "started_at", 200)

    def counts() -> dict[str, int]:
        return api.wired().here().table_counts()

    def cached() -> int:
        return len(api.wired().view_cache())  # type: ignore[arg-type]

    api.metrics.watch(StoreCollector(runs, counts, api.settings.model_quality_file, cached))


def serve_app() -> FastAPI:
    """Factory for `uvicorn --factory omnix.entrypoints.api.app:serve_app` (settings from the
    environment)."""
    return create_app(settings=Settings())
