"""Schemas of what a customer will need next: stored predictions (who is due for what) and
recommendations with request-time context.

The recommendation request reuses the domain's context (`domain.recommend.RecommendContext`)
and the response is the domain's result, so the API, `omnix recommend --context` and the
service accept and return the same fields; this module only adds their examples.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from omnix.domain import recommend as reco
from omnix.entrypoints.api.models_read import example, example_of

MAX_K = 100


class DuePrediction(BaseModel):
    """One customer x product prediction: P(a purchase within the horizon) and when."""

    model_config = example(
        {
            "customer_id": "C000042",
            "product_id": "P0007",
            "product_name": "Whole Milk 1L",
            "category": "Dairy",
            "segment": "Champions",
            "rank": 1,
            "probability": 0.83,
            "expected_next_date": "2025-12-03",
            "cycle_days": 5.1,
            "interval_days": 5.0,
            "cycle_p10": 4.0,
            "cycle_p90": 6.3,
            "regularity": 0.78,
            "purchases": 21,
            "last_purchase": "2025-11-28",
            "days_overdue": 0,
            "p_active": 0.97,
            "statement": "Buys Whole Milk 1L about every 5 days (usually 4 to 6); last bought "
            "3 days ago; next expected around Wed 3 Dec.",
        }
    )
    customer_id: str
    product_id: str
    product_name: str | None = None
    category: str | None = None
    segment: str | None = None  # the customer's RFM segment on the predictions' date
    rank: int | None = None  # 1 = the customer's most likely product
    probability: float | None = None  # 0..1, within horizon_days of the date
    expected_next_date: dt.date | None = None
    cycle_days: float | None = None
    interval_days: float | None = None
    cycle_p10: float | None = None
    cycle_p90: float | None = None
    regularity: float | None = None
    purchases: int | None = None
    last_purchase: dt.date | None = None
    days_overdue: int | None = None
    p_active: float | None = None
    statement: str | None = None


class DuePage(BaseModel):
    """A page of predictions. `total` rows match and may be shown; `withheld` more match but
    their customer's consent does not cover personalization (so they are never listed)."""

    model_config = example(
        {
            "snapshot_date": "2025-12-01",
            "within_days": 7,
            "horizon_days": 14,
            "total": 412,
            "withheld": 9,
            "items": [example_of(DuePrediction)],
            "next_cursor": "eyJkIjoiMjAyNS0xMi0wMSIsImEiOiIxMDAifQ",
        }
    )
    snapshot_date: dt.date
    within_days: int | None = None  # None: every stored prediction of the date
    horizon_days: int | None = None  # the horizon the probabilities are for
    total: int
    withheld: int
    items: list[DuePrediction]
    next_cursor: str | None = None


_RULE: dict[str, Any] = {"field": "brand", "value": "Acme", "weight": 2.0}
_CONTEXT: dict[str, Any] = {
    "at": "2025-12-01T17:30:00Z",
    "channel": "web",
    "store_id": "S01",
    "basket": ["P0012"],
    "exclude": ["P0007"],
    "max_per_category": 2,
    "rules": [_RULE, {"field": "category", "value": "Tobacco", "weight": 0.0}],
}
_ITEM: dict[str, Any] = {
    "rank": 1,
    "product_id": "P0031",
    "product_name": "Sourdough Loaf",
    "category": "Bakery",
    "brand": "Acme",
    "score": 0.42,
    "source": "replenishment",
    "reason": "you buy Sourdough Loaf about every 6 days; last bought 5 days ago",
    "source_scores": {"replenishment": 0.61, "collaborative": 0.22, "content": 0.05},
}


class BusinessRule(reco.BusinessRule):
    model_config = example(_RULE)


class RecommendContext(reco.RecommendContext):
    """What the request knows now (every field optional): when (`at`: its time of day and
    weekday weigh products), channel, store, the current basket (its complements rise),
    products to exclude (out of stock), at most N per category, and boost (weight > 1) or
    bury (weight < 1; 0 removes) rules on a category or brand."""

    model_config = example(_CONTEXT)
    rules: tuple[BusinessRule, ...] = ()


class RecommendationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", **example({"k": 10, "context": _CONTEXT}))
    k: int = Field(default=10, ge=1, le=MAX_K, description="how many products")
    context: RecommendContext = Field(default_factory=RecommendContext)

    def domain_context(self) -> reco.RecommendContext:
        """The context as the service takes it (the same fields, without the examples)."""
        return reco.RecommendContext.model_validate(self.context.model_dump())


class Recommendation(reco.Recommendation):
    """One product: rank, blended score after context weights, the source that ranked it,
    the reason in words, and each source's score behind it."""

    model_config = example(_ITEM)


class Recommendations(reco.RecommendationResult):
    """`basis`: personal (the customer's own candidates), segment or popular (no consent to
    personalization, or too little history); `as_of`: the day the candidates were computed."""

    model_config = example(
        {
            "customer_id": "C000042",
            "as_of": "2025-12-01",
            "personalized": True,
            "basis": "personal",
            "items": [_ITEM],
        }
    )
    items: tuple[Recommendation, ...]

    @classmethod
    def of(cls, result: reco.RecommendationResult) -> Recommendations:
        data: dict[str, Any] = result.model_dump()
        return cls.model_validate(data)
