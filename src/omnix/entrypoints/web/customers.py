"""Customers: search (analyst), one customer's page (analyst: profile, segment and reason,
CLV and churn, purchase timeline, rhythms in words) and their privacy actions (privacy
officer: consent per purpose, export, erasure)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from omnix.domain.access import Role
from omnix.domain.consent import Purpose
from omnix.domain.errors import InputError, NotFoundError
from omnix.entrypoints.api.routers.customers import serialise_360
from omnix.entrypoints.web import charts
from omnix.entrypoints.web.render import money
from omnix.entrypoints.web.segments import SORT_LABELS, member_query
from omnix.entrypoints.web.session import check_csrf
from omnix.entrypoints.web.site import Site, WebRoute
from omnix.services.dashboard import MEMBER_COLUMNS

router = APIRouter(route_class=WebRoute, include_in_schema=False)
CustomerId = Annotated[str, Path(min_length=1, max_length=200)]
CUSTOMER_PAGE = (Role.ANALYST, Role.PRIVACY_OFFICER)
Csrf = Annotated[str, Form(max_length=200)]
RECOMMENDED = 5  # recommendations shown on a customer's page


@router.get("/customers", response_class=HTMLResponse)
def customers_page(request: Request) -> Response:
    site = Site(request)
    site.require(CUSTOMER_PAGE)
    query = member_query(request, None)
    wanted = (request.query_params.get("id") or "").strip()
    if wanted:  # "open by id": straight to the page
        return RedirectResponse(f"/customers/{_quote(wanted)}", 303)
    members = None
    if site.may(Role.ANALYST):
        members = site.wired.dashboard_service().members(query)
    return site.page(
        "customers.html", "Customers", members=members, query=query, columns=MEMBER_COLUMNS,
        sort_labels=SORT_LABELS,
    )  # fmt: skip


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer_page(request: Request, customer_id: CustomerId) -> HTMLResponse:
    site = Site(request)
    site.require(CUSTOMER_PAGE)
    context: dict[str, Any] = {"customer_id": customer_id, "profile": None, "privacy": None}
    if site.may(Role.ANALYST):
        context.update(_analytics(site, customer_id))
    if site.may(Role.PRIVACY_OFFICER):
        context["privacy"] = site.wired.privacy_service().consents(customer_id)
        context["purposes"] = [p.value for p in Purpose]
    context["done"] = request.query_params.get("done")
    return site.page("customer.html", f"Customer {customer_id}", **context)


def _analytics(site: Site, customer_id: str) -> dict[str, Any]:
    views = site.wired.views()

    def built(view: str, build: Any) -> Any:
        raw = views.cached(customer_id, view, lambda: json.dumps(build(), default=str).encode())
        return json.loads(raw)

    # the API's cached 360 (warmed in bulk at start and after each analysis run)
    raw = views.cached(customer_id, "360", lambda: serialise_360(views.customer(customer_id)))
    profile = json.loads(raw)
    try:
        found = built("web-rhythms", lambda: views.rhythms(customer_id))
        rhythms = [r | {"due": _due(r, found["as_of"])} for r in found["rhythms"]]
    except NotFoundError:
        rhythms = []
    orders = built("web-orders", lambda: site.wired.dashboard_service().purchases(customer_id))
    recommended = built(
        "web-recommendations",
        lambda: site.wired.recommend_service().recommend(customer_id, RECOMMENDED).model_dump(),
    )
    return {
        "profile": profile,
        "rhythms": rhythms,
        "orders": orders,
        "timeline": _timeline(customer_id, orders),
        "recommended": recommended,
    }


def _due(rhythm: dict[str, Any], as_of: str) -> str:
    """ "due in 2 days", "due today", "overdue by 3 days" (from the expected next date)."""
    days = (date.fromisoformat(str(rhythm["expected_next"])[:10]) - date.fromisoformat(as_of)).days
    overdue = int(rhythm.get("days_overdue") or 0)
    if overdue > 0:
        return f"overdue by {overdue} day{'s' if overdue != 1 else ''}"
    if days <= 0:
        return "due today"
    return f"due in {days} day{'s' if days != 1 else ''}"


def _timeline(customer_id: str, orders: list[dict[str, Any]]) -> charts.Chart | None:
    if not orders:
        return None
    by_month: dict[str, float] = defaultdict(float)
    for o in orders:
        by_month[str(o["ts"])[:7] + "-01"] += float(o["net_value"] or 0.0)
    names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    rows = [
        {"month": f"{names[int(m[5:7]) - 1]} {m[:4]}", "net_value": v}
        for m, v in sorted(by_month.items())
    ]
    first, last = str(orders[-1]["ts"])[:10], str(orders[0]["ts"])[:10]
    return charts.time_series(
        "Spend by month", rows, "month", "net_value", "Month", "Net spend",
        f"{len(orders)} orders from {first} to {last}, net "
        f"{money(sum(r['net_value'] for r in rows))} in all, over {len(rows)} months.",
        mark="bar", y_format="money",
    )  # fmt: skip


@router.post("/customers/{customer_id}/consents")
def set_consent(
    request: Request,
    customer_id: CustomerId,
    csrf: Csrf = "",
    purpose: Annotated[str, Form(max_length=50)] = "",
    granted: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    site = Site(request)
    user = site.require(Role.PRIVACY_OFFICER)
    check_csrf(request, csrf)
    try:
        chosen = Purpose(purpose)
    except ValueError:
        raise InputError(f"unknown purpose {purpose!r}") from None
    if granted not in {"yes", "no"}:
        raise InputError("choose granted or withdrawn")
    source = f"dashboard:{user.key_id}"
    site.wired.consent_service().set(customer_id, chosen, granted == "yes", source=source)
    site.wired.view_cache().drop(customer_id)
    return RedirectResponse(
        f"/customers/{_quote(customer_id)}?done=consent#privacy", status_code=303
    )


@router.get("/customers/{customer_id}/export.json")
def export_customer(request: Request, customer_id: CustomerId) -> Response:
    site = Site(request)
    site.require(Role.PRIVACY_OFFICER)
    document = site.wired.privacy_service().export(customer_id)
    body = json.dumps(document, default=str, indent=2).encode()
    name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in customer_id)[:80]
    return Response(
        body,
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="omnix-export-{name}.json"'},
    )


@router.post("/customers/{customer_id}/erase", response_class=HTMLResponse)
def erase_customer(
    request: Request,
    customer_id: CustomerId,
    csrf: Csrf = "",
    confirm: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    site = Site(request)
    user = site.require(Role.PRIVACY_OFFICER)
    check_csrf(request, csrf)
    if confirm.strip() != customer_id:
        raise InputError("type the customer id exactly to confirm the erasure")
    report = site.wired.privacy_service().erase(customer_id, f"dashboard:{user.key_id}")
    return site.page("erased.html", "Customer erased", customer_id=customer_id, report=report)


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")
