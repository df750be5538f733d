"""Stored next-need predictions (analyst): who is due for what across customers, and one
customer's predictions. Both read what `omnix analyze` stored (services/predictions.py, the
same query as `omnix due`); customers whose consent does not cover personalization are
withheld and counted."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from omnix.domain.access import Role
from omnix.domain.errors import InputError
from omnix.entrypoints.api.deps import Wired, secured
from omnix.entrypoints.api.models_next import DuePage
from omnix.entrypoints.api.routers.customers import CustomerId
from omnix.services import predictions as service
from omnix.services.views import MAX_PAGE, decode_cursor, encode_cursor

router = APIRouter(prefix="/v1", tags=["predictions"])
NOT_FOUND = "no predictions stored yet (run `omnix analyze`), or none of that date"
AsOf = Annotated[
    dt.date | None, Query(description="date of the stored predictions (default: the latest)")
]
Limit = Annotated[int, Query(ge=1, le=min(MAX_PAGE, service.MAX_LIMIT))]
Cursor = Annotated[str | None, Query(max_length=500, description="next_cursor of a page")]


@router.get(
    "/predictions/due",
    response_model=DuePage,
    **secured(Role.ANALYST, not_found=NOT_FOUND, invalid="bad cursor or filter"),
)
def list_due_predictions(
    wired: Wired,
    within_days: Annotated[int, Query(ge=1, le=366, description="days from the date")] = 7,
    category: Annotated[str | None, Query(max_length=200)] = None,
    segment: Annotated[str | None, Query(max_length=100, description="RFM segment")] = None,
    min_probability: Annotated[float | None, Query(ge=0, le=1)] = None,
    sort: Annotated[Literal["expected_date", "probability"], Query()] = "expected_date",
    as_of: AsOf = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> DuePage:
    """Customer x product pairs expected to be bought within `within_days` of the predictions'
    date, soonest first then likeliest (`sort=probability`: likeliest first), a page at a
    time: pass `next_cursor` back as `cursor` (it pins the date the paging started on)."""
    day, offset = _position(as_of, cursor)
    page = wired.prediction_service().due(
        within_days, day, category, segment, limit, offset,
        min_probability=min_probability, sort=sort,
    )  # fmt: skip
    return _page(page)


@router.get(
    "/customers/{customer_id}/predictions",
    response_model=DuePage,
    **secured(Role.ANALYST, not_found=NOT_FOUND, invalid="bad cursor"),
)
def list_customer_predictions(
    wired: Wired,
    customer_id: CustomerId,
    as_of: AsOf = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> DuePage:
    """Every prediction stored for the customer on the date (its most likely products and
    all it is due for within the horizon), likeliest first. Empty, with `withheld`, when
    the customer's consent does not cover personalization."""
    day, offset = _position(as_of, cursor)
    page = wired.prediction_service().due(
        None, day, limit=limit, offset=offset, customer_id=customer_id
    )
    return _page(page)


def _position(as_of: dt.date | None, cursor: str | None) -> tuple[dt.date | None, int]:
    """(date, offset) of the page asked for: a cursor carries both."""
    if not cursor:
        return as_of, 0
    day, after = decode_cursor(cursor)
    if not after.isdigit():
        raise InputError("cursor is not one this API returned")
    return day, int(after)


def _page(page: service.DuePage) -> DuePage:
    end = page.offset + len(page.rows)
    more = end < page.total
    day = dt.date.fromisoformat(page.snapshot_date)
    return DuePage.model_validate(
        {
            "snapshot_date": day,
            "within_days": page.within_days,
            "horizon_days": page.horizon_days,
            "total": page.total,
            "withheld": page.withheld,
            "items": page.rows,
            "next_cursor": encode_cursor(day, str(end)) if more else None,
        }
    )
