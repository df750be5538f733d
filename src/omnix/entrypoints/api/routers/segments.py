"""Segments and snapshots: summaries and migration cells are aggregates (viewer); members and
movers name customers (analyst)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query

from omnix.domain.access import Role
from omnix.entrypoints.api.deps import Wired, secured
from omnix.entrypoints.api.models_read import (
    CustomerPage,
    Migration,
    Movers,
    SegmentSummary,
    SnapshotDates,
)
from omnix.services.views import MAX_PAGE, CustomerFilter

router = APIRouter(prefix="/v1", tags=["segments"])
Day = Annotated[dt.date | None, Query(description="snapshot date (default: the latest)")]
From = Annotated[dt.date, Query(alias="from", description="earlier snapshot date")]
To = Annotated[dt.date, Query(alias="to", description="later snapshot date")]
NOT_FOUND = "no snapshot (of that date)"


@router.get("/snapshots", response_model=SnapshotDates, **secured(Role.VIEWER))
def list_snapshots(wired: Wired) -> SnapshotDates:
    """Dates of the stored snapshots (one per analysis run date), oldest first."""
    return SnapshotDates(dates=wired.views().snapshot_dates())


@router.get("/segments", response_model=SegmentSummary, **secured(Role.VIEWER, not_found=NOT_FOUND))
def get_segments(wired: Wired, date: Day = None) -> SegmentSummary:
    """Per RFM segment and per behavioural cluster: customers, share, net revenue and its
    share, average CLV and P(alive)."""
    summary = wired.views().segments(date)
    for group, key in (("segments", "segment"), ("clusters", "cluster_id")):
        for row in summary[group]:
            row["key"] = str(row.pop(key))
    return SegmentSummary.model_validate(summary)


@router.get(
    "/segments/migration",
    response_model=Migration,
    **secured(Role.VIEWER, not_found=NOT_FOUND, bad_request="from is not before to"),
)
def get_migration(wired: Wired, from_: From, to: To) -> Migration:
    """The transition matrix between two snapshot dates: customers and net revenue per
    (from segment, to segment) cell."""
    report = wired.views().migration(from_, to)
    return Migration.model_validate(report, from_attributes=True)


@router.get(
    "/segments/migration/movers",
    response_model=Movers,
    **secured(
        Role.ANALYST,
        not_found=NOT_FOUND,
        bad_request="from is not before to",
        invalid="an unknown segment",
    ),
)
def list_movers(
    wired: Wired,
    from_: From,
    to: To,
    from_segment: Annotated[str | None, Query(max_length=100)] = None,
    to_segment: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> Movers:
    """Customers who changed segment between the dates, the most valuable first."""
    items = wired.views().movers(from_, to, limit, from_segment, to_segment)
    return Movers(from_date=from_, to_date=to, items=items)  # type: ignore[arg-type]


@router.get(
    "/segments/{segment}/members",
    response_model=CustomerPage,
    **secured(Role.ANALYST, not_found=NOT_FOUND, invalid="bad cursor"),
)
def list_segment_members(
    wired: Wired,
    segment: Annotated[str, Path(min_length=1, max_length=100)],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> CustomerPage:
    """The customers of one RFM segment in the latest snapshot, paged like /v1/customers."""
    page = wired.views().customers(CustomerFilter(segment=segment), limit, cursor)
    return CustomerPage.model_validate(page, from_attributes=True)
