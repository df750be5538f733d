"""Customers: search (analyst), one customer's page (analyst: profile, segment and reason,
CLV and churn, purchase timeline, rhythms in words) and their privacy actions (privacy
officer: consent per purpose, export, erasure)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from omnix.domain.access import Role
from omnix.domain.consent import Purpose
from omnix.domain.errors import InputError, NotFoundError
from omnix.entrypoints.api.routers.customers import serialise_360
from omnix.entrypoints.web import charts
from omnix.entrypoints.web.render import due_words, money
from omnix.entrypoints.web.segments import SORT_LABELS, member_query
from omnix.entrypoints.web.session import check_csrf
from omnix.entrypoints.web.site import Site, WebRoute
from omnix.services.dashboard import MEMBER_COLUMNS

router = APIRouter(route_class=WebRoute, include_in_schema=False)
CustomerId = Annotated[str, Path(min_length=1, max_length=200)]
CUSTOMER_PAGE = (Role.ANALYST, Role.PRIVACY_OFFICER)
Csrf = Annotated[str, Form(max_length=200)]
RECOMMENDED = 5  # recommendations shown on a customer's page
RECOMMENDATIONS = "web-recommendations"  # their view in the view cache


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

    profile = json.loads(_the_360(views, customer_id))
    rhythms = built("web-rhythm-rows", lambda: _rhythms(site, customer_id))
    orders = built("web-orders", lambda: site.wired.dashboard_service().purchases(customer_id))
    # recommendations are the slowest part of a first view: shown here when already built,
    # else the page asks for them once it is on screen (htmx; a link without JavaScript)
    held = views.cache.get(customer_id, RECOMMENDATIONS)
    recommended = json.loads(held) if held is not None else None
    return {
        "profile": profile,
        "rhythms": rhythms,
        "orders": orders,
        "timeline": _timeline(customer_id, orders),
        "recommended": recommended,
    }


@router.get("/customers/{customer_id}/recommendations", response_class=HTMLResponse)
def recommendations_page(request: Request, customer_id: CustomerId) -> HTMLResponse:
    """The customer's recommendations with their reasons: a page of its own without
    JavaScript, the customer page's #reco-panel with it."""
    site = Site(request)
    site.require(Role.ANALYST)
    views = site.wired.views()
    # the page of a customer the snapshot holds, as the customer page is: an unknown or
    # erased id was answered with everyone's popular items and cached under that id
    _the_360(views, customer_id)

    def build() -> bytes:
        found = site.wired.recommend_service().recommend(customer_id, RECOMMENDED)
        return json.dumps(found.model_dump(), default=str).encode()

    recommended = json.loads(views.cached(customer_id, RECOMMENDATIONS, build))
    return site.page(
        "recommendations.html", f"Recommended for customer {customer_id}",
        customer_id=customer_id, recommended=recommended,
    )  # fmt: skip


def _the_360(views: Any, customer_id: str) -> bytes:
    """The API's cached 360 (warmed in bulk at start and after each analysis run); NotFound
    for a customer the latest snapshot does not hold."""
    raw: bytes = views.cached(
        customer_id, "360", lambda: serialise_360(views.customer(customer_id))
    )
    return raw


def _rhythms(site: Site, customer_id: str) -> list[dict[str, Any]]:
    """Rhythm rows in words, soonest first: from the stored predictions of the latest analysis
    when they hold this customer (a lookup), else fitted now (the rhythm model over the whole
    store's history: about half a second on the demo data)."""
    stored = site.wired.prediction_service().rhythms(customer_id)
    if stored is not None:
        day, rows = stored
        return [
            {"product_id": r["product_id"], "product_name": r["product_name"],
             "statement": r["statement"], "expected_next": r["expected_next_date"],
             "due": due_words(r["expected_next_date"], day, r["days_overdue"])}
            for r in rows
        ]  # fmt: skip
    try:
        found = site.wired.views().rhythms(customer_id)
    except NotFoundError:
        return []
    as_of = found["as_of"]
    return [
        r | {"due": due_words(r["expected_next"], as_of, r.get("days_overdue"))}
        for r in found["rhythms"]
    ]


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
