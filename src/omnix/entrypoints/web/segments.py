"""Segments: size, revenue share, average CLV and churn risk per segment, migration between
two snapshots (viewer); a segment's top categories (viewer) and its members, sorted, filtered
and paged (analyst)."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from omnix.domain.access import Role
from omnix.domain.errors import InputError
from omnix.entrypoints.web import charts
from omnix.entrypoints.web.render import percent
from omnix.entrypoints.web.site import Site, WebRoute
from omnix.services.dashboard import MEMBER_COLUMNS, MemberQuery

router = APIRouter(route_class=WebRoute, include_in_schema=False)
SORT_LABELS = {
    "customer_id": "Customer", "clv": "CLV", "p_alive": "P(alive)",
    "churn_risk_90d": "Churn risk (90 days)", "net_revenue": "Net revenue",
    "orders": "Orders", "recency_days": "Days since last purchase",
    "next_due_days": "Next need in (days)",
}  # fmt: skip


@router.get("/segments", response_class=HTMLResponse)
def segments_page(request: Request) -> HTMLResponse:
    site = Site(request)
    site.require(Role.VIEWER)
    params = request.query_params
    views = site.wired.views()
    dates = site.cached(("snapshot-dates",), views.snapshot_dates)
    day = _date(params.get("date"))
    summary = site.cached(("segments", day), lambda: views.segments(day))
    rows = summary["segments"]
    start, end = _date(params.get("from")), _date(params.get("to"))
    if start is None and end is None and len(dates) > 1:
        start, end = dates[-2], dates[-1]
    migration, problem = None, None
    if start and end and start >= end:  # said beside the form, not as an error page
        problem = f"Pick a “From” snapshot before the “To” one ({start} is not before {end})."
    elif start and end:
        migration = site.cached(("migration", start, end), lambda: views.migration(start, end))
    return site.page(
        "segments.html", "Segments", summary=summary, rows=rows, dates=dates,
        migration=migration, matrix=_matrix(migration), chart=share_chart(rows),
        start=start, end=end, migration_problem=problem,
    )  # fmt: skip


@router.get("/segments/{segment}", response_class=HTMLResponse)
def segment_page(request: Request, segment: str) -> HTMLResponse:
    site = Site(request)
    site.require(Role.VIEWER)
    views = site.wired.views()
    summary = site.cached(("segments", None), lambda: views.segments(None))
    found = [g for g in summary["segments"] if g["segment"] == segment]
    if not found:
        names = ", ".join(g["segment"] for g in summary["segments"])
        raise InputError(f"no segment {segment!r} in the latest snapshot (segments: {names})")
    service = site.wired.dashboard_service()
    categories = site.cached(("categories", segment), lambda: service.top_categories(segment))
    members = None
    query = member_query(request, segment)
    if site.may(Role.ANALYST):
        members = service.members(query)
    return site.page(
        "segment.html", segment, segment=found[0], snapshot_date=summary["snapshot_date"],
        categories=categories, category_chart=category_chart(segment, categories),
        members=members, query=query, columns=MEMBER_COLUMNS, sort_labels=SORT_LABELS,
    )  # fmt: skip


def member_query(request: Request, segment: str | None) -> MemberQuery:
    p = request.query_params
    sort = p.get("sort", "clv")
    return MemberQuery(
        segment=segment,
        q=(p.get("q") or "").strip()[:100] or None,
        min_clv=_float(p.get("min_clv")),
        min_churn_risk=_share(_float(p.get("min_churn_pct"))),
        sort=sort if sort in SORT_LABELS else "clv",
        descending=p.get("dir", "desc") != "asc",
        page=max(1, _int(p.get("page")) or 1),
    )


def share_chart(rows: list[dict[str, Any]]) -> charts.Chart | None:
    if not rows or any(r["revenue_share"] is None for r in rows):
        return None  # none, or data without prices: no revenue to share
    data = [{"segment": r["segment"], "revenue_share": r["revenue_share"]} for r in rows]
    top = max(rows, key=lambda r: r["revenue_share"])
    return charts.bars(
        "Share of net revenue by segment",
        data,
        "segment",
        "revenue_share",
        "Segment",
        "Share of net revenue",
        f"{top['segment']} brings the largest share of net revenue, "
        f"{percent(top['revenue_share'])}, from {percent(top['share'])} of customers.",
        value_format="percent",
    )


def category_chart(segment: str, rows: list[dict[str, Any]]) -> charts.Chart | None:
    if not rows:
        return None
    data = [{"category": r["category"], "share": r["share"]} for r in rows]
    top, share = rows[0]["category"], percent(rows[0]["share"])
    when = f"In the 90 days before the snapshot, {segment}"
    if rows[0].get("basis") == "items":  # the data has no prices
        axis = "Share of the segment's items"
        summary = f"{when} bought most in {top} ({share} of its items; the data has no prices)."
    else:
        axis = "Share of the segment's spend"
        summary = f"{when} spent most on {top} ({share} of its net spend)."
    return charts.bars(
        f"Top categories of {segment}",
        data,
        "category",
        "share",
        "Category",
        axis,
        summary,
        value_format="percent",
    )


def _matrix(report: Any) -> dict[str, Any] | None:
    """Cells as rows (from) x columns (to), customers in each."""
    if report is None:
        return None
    cells = {(c["from_segment"], c["to_segment"]): c for c in report.cells}
    froms = [s for s in report.segments if any(k[0] == s for k in cells)]
    tos = [s for s in report.segments if any(k[1] == s for k in cells)]
    rows = [
        {"segment": f, "cells": [cells.get((f, t), {}).get("customers", 0) for t in tos],
         "total": sum(cells.get((f, t), {}).get("customers", 0) for t in tos)}
        for f in froms
    ]  # fmt: skip
    return {"columns": tos, "rows": rows}


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"not a date (YYYY-MM-DD): {value[:20]!r}") from None


def _float(value: str | None) -> float | None:
    try:
        number = float(value) if value not in (None, "") else None
    except ValueError:
        return None
    return number if number is None or math.isfinite(number) else None


def _share(percent: float | None) -> float | None:
    """The form asks for percent, as the table shows it: 50 -> 0.5."""
    return None if percent is None else percent / 100.0


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None
