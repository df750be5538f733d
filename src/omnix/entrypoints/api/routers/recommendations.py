"""Recommendations with request-time context (analyst): the customer's precomputed candidates
(`omnix recommend --all`) re-ranked for what the request knows now, the
same service and context as `omnix recommend CUSTOMER_ID --context JSON`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from omnix.domain.access import Role
from omnix.entrypoints.api.deps import Wired, secured
from omnix.entrypoints.api.models_next import RecommendationRequest, Recommendations
from omnix.entrypoints.api.routers.customers import CustomerId

router = APIRouter(prefix="/v1/customers", tags=["recommendations"])
NOT_FOUND = "no recommendations computed yet: run `omnix recommend --all`"


@router.post(
    "/{customer_id}/recommendations",
    response_model=Recommendations,
    **secured(Role.ANALYST, not_found=NOT_FOUND),
)
def recommend_for_customer(
    wired: Wired,
    customer_id: CustomerId,
    request: Annotated[RecommendationRequest, Body()] = RecommendationRequest(),  # noqa: B008
) -> Recommendations:
    """The customer's top `k` products, each with its rank, score, source, reason and the
    source scores behind it, re-ranked for the context: basket complements rise, excluded
    products go, boost / bury rules and time of day, channel and store weigh in, at most
    `max_per_category` per category. Without consent to personalization (or for a customer
    with too little history) the items are the segment's or everyone's most popular."""
    result = wired.recommend_service().recommend(customer_id, request.k, request.domain_context())
    return Recommendations.of(result)
