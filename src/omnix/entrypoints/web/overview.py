"""The overview page: KPIs against the previous period, revenue and active customers by month
(viewer: aggregates only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from omnix.domain.access import Role
from omnix.entrypoints.web import charts
from omnix.entrypoints.web.render import money, number
from omnix.entrypoints.web.site import Site, WebRoute
from omnix.services.dashboard import Overview

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request) -> HTMLResponse:
    site = Site(request)
    site.require(Role.VIEWER)
    data = site.cached(("overview",), site.wired.dashboard_service().overview)
    return site.page("overview.html", "Overview", overview=data, charts=overview_charts(data))


def overview_charts(data: Overview) -> list[charts.Chart]:
    months = [{**m, "month": m["month"].isoformat()} for m in data.monthly]
    for m in months:
        m["label"] = _month(m)
    if not months:
        return []
    last = months[-1]
    top = max(months, key=lambda m: m["customers"] or 0)
    active = charts.time_series(
        "Active customers by month",
        months, "label", "customers", "Month", "Active customers",
        f"Customers with at least one purchase per calendar month: most in {_month(top)} "
        f"({number(top['customers'])}); {number(last['customers'])} in {_month(last)}.",
        mark="bar",
    )  # fmt: skip
    if all(m["net_revenue"] is None for m in months):
        return [active]  # data without prices: no revenue to draw
    best = max(months, key=lambda m: m["net_revenue"] or 0.0)
    revenue = charts.time_series(
        "Net revenue by month",
        months, "label", "net_revenue", "Month", "Net revenue",
        f"Net revenue per calendar month over {len(months)} months: highest in "
        f"{_month(best)} ({money(best['net_revenue'])}); {money(last['net_revenue'])} in "
        f"{_month(last)}, the latest (possibly partial) month.",
        y_format="money",
    )  # fmt: skip
    return [revenue, active]


def _month(row: dict[str, Any]) -> str:
    year, month = row["month"][:4], row["month"][5:7]
    names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    return f"{names[int(month) - 1]} {year}"
