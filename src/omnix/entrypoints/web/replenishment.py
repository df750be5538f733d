"""The replenishment board (analyst): who is due or overdue for what in the next N days, from
the predictions `omnix analyze` stored (services/predictions), filtered by category and
segment, sorted and paged like a segment's members; the same rows as a CSV for a campaign.

Only customers whose consent covers personalization are listed (the service applies it); the
page says how many rows that withholds.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import date
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from omnix.domain.access import Role
from omnix.domain.errors import NotFoundError
from omnix.entrypoints.web import render
from omnix.entrypoints.web.segments import _int
from omnix.entrypoints.web.site import Site, WebRoute
from omnix.services.predictions import MAX_LIMIT, DuePage, PredictionService

router = APIRouter(route_class=WebRoute, include_in_schema=False)
WINDOWS: Final = (3, 7, 14)  # days ahead a person may choose; 14 = the stored horizon
# "at least N % likely": most rows of a long history are lapsed customers with a P(buy) near 0
# (Instacart sample: 19,834 of 21,959 below 1 %), which a campaign list leaves out
LIKELIHOODS: Final = (10, 25, 50)
DEFAULT_WINDOW: Final = 14
PER_PAGE: Final = 25
BOARD_VERSION: Final = ("consents", "predictions")  # besides the latest run and the lines
SORT_LABELS: Final = {
    "customer_id": "Customer", "product_name": "Product", "category": "Category",
    "segment": "Segment", "expected_next_date": "Expected", "probability": "Probability",
    "days_overdue": "Days overdue",
}  # fmt: skip
CSV_COLUMNS: Final = (
    "customer_id", "product_id", "product_name", "category", "segment", "expected_date",
    "probability", "days_overdue", "statement",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class BoardQuery:
    """What the board shows: due within `within` days, optionally one category / segment,
    sorted by a SORT_LABELS column, one page of PER_PAGE rows."""

    within: int = DEFAULT_WINDOW
    category: str | None = None
    segment: str | None = None
    likely: int | None = None  # percent, one of LIKELIHOODS: P(buy) at least that
    sort: str = "probability"
    descending: bool = True
    page: int = 1
    per_page: int = PER_PAGE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def min_probability(self) -> float | None:
        return None if self.likely is None else self.likely / 100.0

    def link(self, path: str, **changes: Any) -> str:
        """`path` with this query (and `changes`) as its query string, blanks left out."""
        values = {
            "within": self.within, "category": self.category or "", "segment": self.segment or "",
            "likely": self.likely or "", "sort": self.sort,
            "dir": "desc" if self.descending else "asc", "page": self.page,
        } | changes  # fmt: skip
        return f"{path}?{urlencode({k: v for k, v in values.items() if v not in ('', None)})}"


def board_query(request: Request) -> BoardQuery:
    p = request.query_params
    within, likely = _int(p.get("within")), _int(p.get("likely"))
    sort = p.get("sort", "probability")
    return BoardQuery(
        within=within if within in WINDOWS else DEFAULT_WINDOW,
        likely=likely if likely in LIKELIHOODS else None,
        category=(p.get("category") or "").strip()[:200] or None,
        segment=(p.get("segment") or "").strip()[:200] or None,
        sort=sort if sort in SORT_LABELS else "probability",
        descending=p.get("dir", "desc") != "asc",
        page=max(1, _int(p.get("page")) or 1),
    )


@router.get("/replenishment", response_class=HTMLResponse)
def board_page(request: Request) -> HTMLResponse:
    site = Site(request)
    site.require(Role.ANALYST)
    query = board_query(request)
    service = site.wired.prediction_service()
    try:  # kept until a run, new lines, a consent change or an erasure (BOARD_VERSION)
        found = site.cached(
            ("board", query), lambda: due_page(service, query, query.per_page, query.offset),
            *BOARD_VERSION,
        )  # fmt: skip
    except NotFoundError:  # no predictions stored yet: the empty state says what to run
        found = None
    dashboard, views = site.wired.dashboard_service(), site.wired.views()
    categories = site.cached(("categories-all",), dashboard.categories)
    segments = site.cached(("segments", None), lambda: views.segments(None)) if found else None
    names = [g["segment"] for g in segments["segments"]] if segments else []
    return site.page(
        "replenishment.html", "Replenishment", board=found, query=query,
        rows=[_row(r, found.snapshot_date) for r in found.rows] if found else [],
        pages=max(1, math.ceil(found.total / query.per_page)) if found else 1,
        windows=[(d, f"{d} days") for d in WINDOWS], categories=categories, segments=names,
        likelihoods=[(n, f"at least {n} %") for n in LIKELIHOODS], sort_labels=SORT_LABELS,
    )  # fmt: skip


@router.get("/replenishment.csv")
def board_csv(request: Request) -> Response:
    """Every row of the board's current filter and order (not only its page) as CSV."""
    site = Site(request)
    site.require(Role.ANALYST)
    query = board_query(request)
    service = site.wired.prediction_service()
    first = due_page(service, query, MAX_LIMIT, 0)  # raises "run omnix analyze" when empty
    pages = [first]
    while sum(len(p.rows) for p in pages) < first.total:
        pages.append(due_page(service, query, MAX_LIMIT, sum(len(p.rows) for p in pages)))
    name = f"omnix-due-{first.snapshot_date}-within-{query.within}d.csv"
    return Response(
        _csv(pages), media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )  # fmt: skip


def due_page(service: PredictionService, query: BoardQuery, limit: int, offset: int) -> DuePage:
    return service.due(
        query.within, None, query.category, query.segment, limit, offset,
        min_probability=query.min_probability, sort=query.sort, descending=query.descending,
    )  # fmt: skip


def _row(row: dict[str, Any], as_of: str) -> dict[str, Any]:
    """A due row with its timing in words ("due in 2 days", "overdue by 3 days")."""
    return row | {"when": render.due_words(row["expected_next_date"], as_of, row["days_overdue"])}


def _csv(pages: list[DuePage]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for page in pages:
        for r in page.rows:
            expected = r["expected_next_date"]
            writer.writerow(
                [_cell(r["customer_id"]), _cell(r["product_id"]), _cell(r["product_name"]),
                 _cell(r["category"]), _cell(r["segment"]),
                 expected.isoformat() if isinstance(expected, date) else expected,
                 f"{r['probability']:.4f}" if r["probability"] is not None else "",
                 r["days_overdue"], _cell(r["statement"])]
            )  # fmt: skip
    return out.getvalue()


def _cell(value: Any) -> str:
    """Text as a spreadsheet shows it, never as a formula (OWASP's CSV injection advice:
    a leading = + - @ tab or carriage return gets a quote in front)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
