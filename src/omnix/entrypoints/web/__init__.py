"""The dashboard: server-rendered pages at `/`, served by `omnix serve` beside the API.

`install(app, settings)` adds the page routers (left out of the OpenAPI document), the static
files (CSS, a little JavaScript, the vendored htmx) and the signed session cookie. Pages call
services (never SQL) and render Jinja templates (`templates/`: atoms, molecules, organisms,
pages); charts are Vega-Lite rendered to SVG on the server (charts.py).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from omnix.config import Settings


class _Static(StaticFiles):
    """Static files a browser may keep for an hour (everything else is no-store)."""

    def file_response(self, *args: Any, **kwargs: Any) -> Any:
        response = super().file_response(*args, **kwargs)
        response.headers["cache-control"] = "public, max-age=3600"
        return response


def _prime(app: FastAPI, stop: threading.Event) -> None:
    """Warm the chart renderer and the page templates, then the overview's and the segments'
    aggregates and charts and the board's first read (each step skipped once the server is
    stopping)."""
    from omnix.domain.errors import OmnixError
    from omnix.entrypoints.web import charts
    from omnix.entrypoints.web.cache import store_version

    charts.warm_up().join()
    _compile_templates()
    try:
        wired = app.state.omnix.wired()
        version = store_version(wired.here())
        for step in (_prime_overview, _prime_segments, _prime_board):
            if stop.is_set():
                return
            step(wired, app.state.omnix_pages, version, stop)
    except OmnixError:  # an empty store, or no snapshot yet: the pages say so when asked
        pass


def _compile_templates() -> None:
    """Compile every page's template once (Jinja keeps them): a page's first view then pays
    for its data only, not for a tenth of a second of template compiling."""
    from omnix.entrypoints.web import render

    env = render.environment()
    for name in env.list_templates(filter_func=lambda n: n.startswith("pages/")):
        env.get_template(name)


def _prime_overview(wired: Any, cache: Any, version: Any, stop: threading.Event) -> None:
    from omnix.entrypoints.web import overview

    data = cache.get(("overview",), version, wired.dashboard_service().overview)
    for chart in overview.overview_charts(data):
        str(chart.svg)


def _prime_segments(wired: Any, cache: Any, version: Any, stop: threading.Event) -> None:
    from omnix.entrypoints.web import segments

    views, service = wired.views(), wired.dashboard_service()
    cache.get(("snapshot-dates",), version, views.snapshot_dates)
    summary = cache.get(("segments", None), version, lambda: views.segments(None))
    charts = [segments.share_chart(summary["segments"])]
    for group in summary["segments"]:
        if stop.is_set():
            return
        name = group["segment"]
        build = functools.partial(service.top_categories, name)
        charts.append(
            segments.category_chart(name, cache.get(("categories", name), version, build))
        )
    for chart in charts:
        if chart is not None:
            str(chart.svg)


def _prime_board(wired: Any, cache: Any, version: Any, stop: threading.Event) -> None:
    """The board's first page, as its route caches it (its version adds the consent log)."""
    from omnix.entrypoints.web import replenishment as board
    from omnix.entrypoints.web.cache import store_version

    query = board.BoardQuery()
    service = wired.prediction_service()
    cache.get(("board", query), store_version(wired.here(), *board.BOARD_VERSION),
              lambda: board.due_page(service, query, query.per_page, query.offset))  # fmt: skip


def install(app: FastAPI, settings: Settings) -> None:
    from omnix.entrypoints.web import (
        auth,
        customers,
        data,
        health,
        overview,
        replenishment,
        segments,
    )
    from omnix.entrypoints.web.cache import PageCache
    from omnix.entrypoints.web.session import COOKIE, MAX_AGE, cookie_secret

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        # the chart renderer's first start takes about a second, the overview's queries a few
        # tenths: done in the background now, so the first person to look waits for neither
        stop = threading.Event()
        thread = threading.Thread(target=_prime, args=(app, stop), name="omnix-web-prime")
        thread.start()
        try:
            yield
        finally:  # the store closes after this: the warm-up must not be mid-query then
            stop.set()
            thread.join(60)

    app.state.omnix_pages = PageCache()
    pages = APIRouter(lifespan=lifespan, include_in_schema=False)
    for module in (auth, overview, segments, customers, replenishment, health, data):
        pages.include_router(module.router)
    app.include_router(pages)
    app.mount("/static", _Static(packages=[("omnix.entrypoints.web", "static")]), name="static")
    app.add_middleware(
        SessionMiddleware,
        secret_key=cookie_secret(settings.secret_key.get_secret_value()),
        session_cookie=COOKIE,
        max_age=MAX_AGE,
        same_site="lax",
        https_only=settings.env == "production",
    )
