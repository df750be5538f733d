"""Customer-level reads (analyst role): list and search, 360, CLV and churn, spending profile,
rhythms. The 360 is served from the view cache when hot (see services/views.py).

Not built yet, and the place for them: `GET /v1/customers/{id}/recommendations` (with
request-time context, over RecommendService) and `GET /v1/predictions/due-soon` (over the
`predictions` table `omnix analyze` is gaining) join this router and predictions.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from omnix.domain.access import Role
from omnix.entrypoints.api.deps import Wired, secured
from omnix.entrypoints.api.models_read import (
    Customer360,
    CustomerPage,
    CustomerRhythms,
    CustomerValue,
    SpendingProfile,
)
from omnix.services.views import MAX_PAGE, CustomerFilter

router = APIRouter(prefix="/v1/customers", tags=["customers"])
CustomerId = Annotated[str, Path(min_length=1, max_length=200, description="as stored")]
NOT_FOUND = "no such customer in the latest snapshot, or no snapshot yet"


@router.get(
    "",
    response_model=CustomerPage,
    **secured(Role.ANALYST, not_found="no snapshot yet", invalid="bad cursor or filter"),
)
def list_customers(
    wired: Wired,
    q: Annotated[str | None, Query(max_length=200, description="part of the id")] = None,
    segment: Annotated[str | None, Query(max_length=100)] = None,
    cluster_id: Annotated[int | None, Query(ge=0, le=1000)] = None,
    min_clv: Annotated[float | None, Query(description="currency")] = None,
    max_p_alive: Annotated[float | None, Query(ge=0, le=1, description="P(alive) at most")] = None,
    min_churn_risk: Annotated[
        float | None,
        Query(ge=0, le=1, description="churn risk (P(no purchase in 90 days)) at least"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> CustomerPage:
    """Customers of the latest snapshot, ordered by id, a page at a time: pass `next_cursor`
    back as `cursor` for the next page (it pins the snapshot the paging started on)."""
    where = CustomerFilter(q, segment, cluster_id, min_clv, max_p_alive, min_churn_risk)
    page = wired.views().customers(where, limit, cursor)
    return CustomerPage.model_validate(page, from_attributes=True)


@router.get(
    "/{customer_id}", response_model=Customer360, **secured(Role.ANALYST, not_found=NOT_FOUND)
)
async def get_customer(wired: Wired, customer_id: CustomerId) -> Response:
    """The customer's 360 from the latest snapshot: segment and reason, cluster, CLV,
    P(alive), rhythm summary, spending profile (only with profiling consent), segment
    history over all snapshots, and habits. Served from memory once read."""
    body = wired.view_cache().get(customer_id, "360")
    if body is None:
        body = await run_in_threadpool(_build_360, wired, customer_id)
    return Response(body, media_type="application/json")


def _build_360(wired: Wired, customer_id: str) -> bytes:
    views = wired.views()
    return views.cached(customer_id, "360", lambda: serialise_360(views.customer(customer_id)))


def serialise_360(view: dict[str, Any]) -> bytes:
    """A 360 view as the JSON the route serves (validated against its schema)."""
    return Customer360.model_validate(view).model_dump_json().encode()


@router.get(
    "/{customer_id}/value",
    response_model=CustomerValue,
    **secured(Role.ANALYST, not_found=NOT_FOUND),
)
def get_customer_value(wired: Wired, customer_id: CustomerId) -> CustomerValue:
    """Lifetime value and churn: CLV, P(alive), churn risk (P(no purchase in the next 90
    days)), expected purchases in 90 days, and how they moved over the snapshots."""
    return CustomerValue.model_validate(wired.views().value(customer_id))


@router.get(
    "/{customer_id}/spending",
    response_model=SpendingProfile,
    **secured(Role.ANALYST, not_found=NOT_FOUND),
)
def get_customer_spending(wired: Wired, customer_id: CustomerId) -> SpendingProfile:
    """The spending profile (price tier, private label, promotions, premium categories), with
    the customer's current consent applied: all null unless it covers profiling."""
    return SpendingProfile.model_validate(wired.views().spending(customer_id))


@router.get(
    "/{customer_id}/rhythms",
    response_model=CustomerRhythms,
    **secured(Role.ANALYST, not_found="no purchases of this customer"),
)
def get_customer_rhythms(
    wired: Wired,
    customer_id: CustomerId,
    as_of: Annotated[dt.date | None, Query(description="default: day after the last line")] = None,
    level: Annotated[
        Literal["product", "category"],
        Query(description="category: rhythms of each category (milk of any brand)"),
    ] = "product",
) -> Response:
    """Per product (or, with level=category, per category) bought on two days or more:
    cycle, usual range, regularity, last and next expected purchase, in numbers and words.
    Fits the rhythm model on the store's history (seconds on a large store for the first
    read; cached per customer afterwards)."""
    views = wired.views()
    key = f"rhythms:{as_of}" if level == "product" else f"rhythms:{as_of}:{level}"
    body = views.cached(
        customer_id,
        key,
        lambda: (
            CustomerRhythms.model_validate(views.rhythms(customer_id, as_of, level))
            .model_dump_json()
            .encode()
        ),
    )
    return Response(body, media_type="application/json")
