"""Recommendations: the request context, the result, and the tables that precompute them.

`omnix recommend --all` (RecommendService.precompute) stores each customer's scored candidates
and the small model tables a request needs; a single request (`recommend(customer_id, k,
context)`) only re-ranks those rows with the context below, so it stays within milliseconds.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from omnix.domain.contract import DType

CANDIDATES: Final = "reco_candidates"  # per customer: scored candidates (customer data)
GROUPS: Final = "reco_customers"  # per customer: the group the segment source used
PRODUCTS: Final = "reco_products"  # per product: name, category, brand, popularity
POPULAR: Final = "reco_popular"  # per group (-1 = everyone): most popular products
RULES: Final = "reco_rules"  # association rules: antecedent -> consequent
CONTEXT: Final = "reco_context"  # per (dimension, value, product): lift of its share
EMBEDDINGS: Final = "product_embeddings"  # text vectors, keyed by (model, product text)
CUSTOMER_TABLES: Final = (CANDIDATES, GROUPS)
MODEL_TABLES: Final = (PRODUCTS, POPULAR, RULES, CONTEXT, EMBEDDINGS)

SOURCES: Final = ("replenishment", "collaborative", "content", "segment", "complements")
S, F, N = DType.STRING, DType.FLOAT, DType.INT
TABLE_COLUMNS: Final[dict[str, tuple[tuple[str, DType], ...]]] = {
    CANDIDATES: (
        ("customer_id", S), ("product_id", S), ("score", F), ("source", S), ("reason", S),
        ("evidence_id", S), *((name, F) for name in SOURCES),
    ),
    GROUPS: (("customer_id", S), ("group_id", N)),
    PRODUCTS: (("product_id", S), ("product_name", S), ("category", S), ("brand", S),
               ("popularity", F)),
    POPULAR: (("group_id", N), ("product_id", S), ("score", F)),
    RULES: (("antecedent", S), ("consequent", S), ("support", F), ("confidence", F),
            ("lift", F)),
    CONTEXT: (("dimension", S), ("value", S), ("product_id", S), ("lift", F)),
}  # fmt: skip
# EMBEDDINGS (model, text_key, vector FLOAT[]) is declared by the store: a list type
META_AS_OF: Final = "reco_as_of"  # meta key: the as-of day of the stored candidates
META_VERSION: Final = "reco_version"  # meta key: changes with every write of the tables
META_MODEL: Final = "reco_model"  # meta key: the learned blend (services/recommend.py)
META_MODEL_AS_OF: Final = "reco_model_as_of"  # meta key: the day that model learned for
MODEL_MAX_AGE_DAYS: Final = 7  # a later run reuses a model at most this many days old


def new_version(as_of: date) -> str:
    """A value for META_VERSION that no earlier write of the tables had."""
    return f"{as_of.isoformat()}/{uuid.uuid4().hex}"


DAYPARTS: Final = ("night", "morning", "afternoon", "evening")  # 0-6, 6-12, 12-18, 18-24 h


def daypart(hour: int) -> str:
    """The part of the day an hour falls in: night (0-5), morning, afternoon, evening."""
    return DAYPARTS[hour // 6]


class BusinessRule(BaseModel):
    """Boost (weight > 1) or bury (weight < 1; 0 removes) a category or brand."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: Literal["category", "brand"]
    value: str = Field(min_length=1)
    weight: float = Field(ge=0.0, le=100.0)


class RecommendContext(BaseModel):
    """What the request knows now. Every field is optional.

    Example: {"basket": ["P12"], "exclude": ["P7"], "max_per_category": 2, "channel": "web",
    "rules": [{"field": "brand", "value": "Acme", "weight": 2}]}
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: datetime | None = None  # when: its time of day and weekday weigh products
    channel: str | None = None
    store_id: str | None = None
    basket: tuple[str, ...] = ()  # products in the current basket: their complements rise
    exclude: tuple[str, ...] = ()  # out of stock or otherwise not to show
    max_per_category: int | None = Field(default=None, ge=1)
    rules: tuple[BusinessRule, ...] = ()

    @field_validator("basket", "exclude", mode="before")
    @classmethod
    def _listish(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value


class Recommendation(BaseModel):
    """One recommended product with the reason in words and the scores behind it."""

    model_config = ConfigDict(frozen=True)

    rank: int
    product_id: str
    product_name: str | None
    category: str | None
    brand: str | None
    score: float  # the blend's P(in the next basket), after context weights
    source: str  # replenishment | collaborative | content | segment | complements | popular
    reason: str
    source_scores: dict[str, float]


class RecommendationResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    customer_id: str
    as_of: str | None  # the day the candidates were computed for
    personalized: bool  # False: no consent to personalization, or a customer never seen
    basis: str  # personal | segment | popular
    items: tuple[Recommendation, ...]
