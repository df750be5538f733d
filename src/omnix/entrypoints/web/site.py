"""What every dashboard page shares: the route class (clock, sign-in redirect, HTML error
pages), the signed-in user, the navigation their role allows, and the page response.

Pages are plain functions over services (never SQL). A sync page runs in the server's thread
pool with its own store handle (`Container.here()`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Hashable
from dataclasses import dataclass
from typing import Any, Final, TypeVar
from urllib.parse import quote

import structlog
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute

from omnix.bootstrap import Container
from omnix.domain.access import Role
from omnix.domain.errors import OmnixError
from omnix.entrypoints.api import problems
from omnix.entrypoints.api.deps import state
from omnix.entrypoints.web import render
from omnix.entrypoints.web.cache import PageCache, store_version
from omnix.entrypoints.web.session import (
    SignInRequired,
    User,
    csrf_token,
    current_user,
    require,
)

log = structlog.get_logger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class NavItem:
    path: str
    label: str
    roles: tuple[Role, ...]


NAV: Final = (
    NavItem("/", "Overview", (Role.VIEWER,)),
    NavItem("/segments", "Segments", (Role.VIEWER,)),
    NavItem("/customers", "Customers", (Role.ANALYST, Role.PRIVACY_OFFICER)),
    NavItem("/replenishment", "Replenishment", (Role.ANALYST,)),
    NavItem("/model-health", "Model health", (Role.VIEWER,)),
    NavItem("/data", "Data", (Role.INGEST,)),
)


def first_page(user: User) -> str:
    """Where a user lands after signing in: the first page of the navigation they may see."""
    return next((n.path for n in NAV if any(user.may(r) for r in n.roles)), "/")


class WebRoute(APIRoute):
    """Starts the page clock first; turns "sign in first" into a redirect and omnix errors
    into an HTML page with the status the API would give (problems.py)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            render.start_clock(request)
            try:
                return await handler(request)
            except SignInRequired:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/sign-in?next={quote(target, safe='')}", 303)
            except OmnixError as err:
                return error_page(request, err)

        return run


class Site:
    """One request's view of the dashboard: the wired container and who is signed in."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.wired: Container = state(request).wired()
        self.user: User | None = current_user(request, self.wired.keys_service())

    def require(self, needed: Role | tuple[Role, ...]) -> User:
        return require(self.user, needed)

    def cached(self, key: Hashable, build: Callable[[], T], *also: str) -> T:
        """Aggregates from the page cache while the store is unchanged (cache.py); `also`:
        tables whose row counts are part of the version (e.g. "consents")."""
        cache: PageCache = self.request.app.state.omnix_pages
        return cache.get(key, store_version(self.wired.here(), *also), build)

    def may(self, needed: Role) -> bool:
        return self.user is not None and self.user.may(needed)

    def page(self, template: str, title: str, status: int = 200, **context: Any) -> HTMLResponse:
        return render.page(
            self.request, template, status=status, title=title, user=self.user,
            nav=self.nav(), csrf=csrf_token(self.request), may=self.may, **context,
        )  # fmt: skip

    def nav(self) -> list[dict[str, Any]]:
        if self.user is None:
            return []
        path = self.request.url.path
        return [
            {"path": n.path, "label": n.label,
             "current": path == n.path or (n.path != "/" and path.startswith(n.path + "/"))}
            for n in NAV if any(self.user.may(r) for r in n.roles)
        ]  # fmt: skip


def error_page(request: Request, err: OmnixError) -> HTMLResponse:
    kind = problems.TYPES[problems.slug_for(err)]
    try:
        site = Site(request)
    except OmnixError:  # the store itself is unavailable: a page without navigation
        return render.page(request, "error.html", status=kind.status, title=kind.title,
                           user=None, nav=[], csrf="", may=lambda r: False,
                           message=str(err), kind=kind)  # fmt: skip
    if kind.status >= 500:
        log.warning("dashboard page failed", path=request.url.path, error=str(err))
    return site.page("error.html", kind.title, status=kind.status, message=str(err), kind=kind)
