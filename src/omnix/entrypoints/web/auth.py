"""Sign in with an API key, sign out (both CSRF-protected forms)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from omnix.domain.access import Role
from omnix.domain.errors import AccessError, AuthenticationError
from omnix.entrypoints.web.session import check_csrf, safe_next, sign_in, sign_out
from omnix.entrypoints.web.site import Site, WebRoute, first_page

router = APIRouter(route_class=WebRoute, include_in_schema=False)
MAX_KEY = 200


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(
    request: Request, next: Annotated[str | None, Query(max_length=2000)] = None
) -> Response:
    site = Site(request)
    return site.page("sign_in.html", "Sign in", target=safe_next(next), error=None)


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in_submit(
    request: Request,
    key: Annotated[str, Form(max_length=MAX_KEY)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    site = Site(request)
    target = safe_next(next)
    try:
        check_csrf(request, csrf)
        user = sign_in(request, site.wired.keys_service(), key)
    except AccessError as err:
        status = 401 if isinstance(err, AuthenticationError) else 403
        return site.page("sign_in.html", "Sign in", status=status, target=target, error=str(err))
    if target == "/" and not user.may(Role.VIEWER):  # e.g. a privacy officer: customers
        target = first_page(user)
    return RedirectResponse(target, status_code=303)


@router.post("/sign-out")
def sign_out_submit(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_csrf(request, csrf)
    sign_out(request)
    return RedirectResponse("/sign-in", status_code=303)
