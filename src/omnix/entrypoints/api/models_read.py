"""Response schemas of the read routes (customers, segments), each with an example.

Fields are the snapshot's and the services' names (docs/architecture.md), snake_case; money
in the store's currency, days as numbers of days, probabilities 0..1.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


def example(value: dict[str, Any]) -> ConfigDict:
    """A model config whose JSON schema carries `value` as its example."""
    return ConfigDict(json_schema_extra={"examples": [value]})


def example_of(model: type[BaseModel]) -> dict[str, Any]:
    """The example a model was declared with (to nest it in another's)."""
    extra: Any = model.model_config.get("json_schema_extra")
    found: dict[str, Any] = extra["examples"][0]
    return found


class CustomerSummary(BaseModel):
    model_config = example(
        {
            "customer_id": "C000042",
            "segment": "Champions",
            "cluster_id": 2,
            "clv": 812.4,
            "p_alive": 0.97,
            "churn_risk_90d": 0.02,
            "net_revenue": 1530.2,
            "orders": 48,
            "recency_days": 3.0,
        }
    )
    customer_id: str
    segment: str | None = None
    cluster_id: int | None = None
    clv: float | None = None
    p_alive: float | None = None
    churn_risk_90d: float | None = Field(
        default=None, description="churn risk: P(no purchase in the next 90 days)"
    )
    net_revenue: float | None = None
    orders: int | None = None
    recency_days: float | None = None


class CustomerPage(BaseModel):
    model_config = example(
        {
            "snapshot_date": "2025-12-01",
            "items": [example_of(CustomerSummary)],
            "next_cursor": "eyJkIjoiMjAyNS0xMi0wMSIsImEiOiJDMDAwMDQyIn0",
        }
    )
    snapshot_date: dt.date
    items: list[CustomerSummary]
    next_cursor: str | None = None


_SNAPSHOT_EXAMPLE: dict[str, Any] = {
    "snapshot_date": "2025-12-01",
    "customer_id": "C000042",
    "segment": "Champions",
    "rfm_score": "555",
    "reason": "bought 3 days ago (R=5), 48 orders (F=5), 1530 spent (M=5)",
    "cluster_id": 2,
    "clv": 812.4,
    "p_alive": 0.97,
    "churn_risk_90d": 0.02,
    "expected_purchases_90d": 11.2,
    "net_revenue": 1530.2,
    "orders": 48,
    "recency_days": 3.0,
    "rhythm_products": 14,
    "rhythm_regularity": 0.71,
    "due_14d": 5,
    "next_due_days": 1.0,
    "profiling_consent": True,
    "price_tier_index": 0.58,
    "private_label_share": 0.31,
    "promo_sensitivity": 0.12,
    "premium_category_share": 0.2,
    "price_tier_categories": "Dairy 0.21, Bakery 0.12",
    "private_label_categories": "Dairy 0.15",
    "promo_categories": "Snacks 0.07",
    "premium_categories": "Wine 0.2",
}


class CustomerSnapshot(BaseModel):
    """One customer's row of a snapshot; spending fields are null without profiling consent."""

    model_config = example(_SNAPSHOT_EXAMPLE)
    snapshot_date: dt.date
    customer_id: str
    segment: str | None = None
    rfm_score: str | None = None
    reason: str | None = None
    cluster_id: int | None = None
    clv: float | None = None
    p_alive: float | None = None
    churn_risk_90d: float | None = Field(
        default=None, description="churn risk: P(no purchase in the next 90 days)"
    )
    expected_purchases_90d: float | None = None
    net_revenue: float | None = None
    orders: int | None = None
    recency_days: float | None = None
    rhythm_products: int | None = None
    rhythm_regularity: float | None = None
    due_14d: int | None = None
    next_due_days: float | None = None
    profiling_consent: bool | None = None
    profiling_consent_now: bool | None = Field(
        default=None,
        description="profiling consent now: true with profiling_consent false means consent "
        "came after this snapshot (the next analysis adds the spending fields)",
    )
    price_tier_index: float | None = None
    private_label_share: float | None = None
    promo_sensitivity: float | None = None
    premium_category_share: float | None = None
    price_tier_categories: str | None = None
    private_label_categories: str | None = None
    promo_categories: str | None = None
    premium_categories: str | None = None


class SegmentHistoryEntry(BaseModel):
    model_config = example(
        {
            "snapshot_date": "2025-11-01",
            "segment": "Loyal",
            "cluster_id": 2,
            "clv": 790.0,
            "p_alive": 0.95,
            "churn_risk_90d": 0.04,
        }
    )
    snapshot_date: dt.date
    segment: str | None = None
    cluster_id: int | None = None
    clv: float | None = None
    p_alive: float | None = None
    churn_risk_90d: float | None = None


class CustomerHabits(BaseModel):
    """Live behaviour at the snapshot date, from the transactions."""

    model_config = example(
        {
            "orders": 48,
            "net_revenue": 1530.2,
            "avg_basket_value": 31.9,
            "tenure_days": 330.0,
            "recency_days": 3.0,
            "typical_gap_days": 6.0,
            "preferred_weekday": 5,
            "preferred_hour": 17,
            "main_channel": "store",
            "main_store": "S01",
            "channel_mix": "store 75%, online 25%",
            "store_mix": "S01 75%, WEB 25%",
            "top_category_1": "Dairy",
            "top_category_2": "Bakery",
            "top_category_3": "Produce",
        }
    )
    orders: int | None = None
    net_revenue: float | None = None
    avg_basket_value: float | None = None
    tenure_days: float | None = None
    recency_days: float | None = None
    typical_gap_days: float | None = None
    preferred_weekday: int | None = None
    preferred_hour: int | None = None
    main_channel: str | None = None
    main_store: str | None = None
    channel_mix: str | None = None  # every channel with its share of orders, most first
    store_mix: str | None = None
    top_category_1: str | None = None
    top_category_2: str | None = None
    top_category_3: str | None = None


class Customer360(BaseModel):
    model_config = example(
        {
            "customer_id": "C000042",
            "snapshot_date": "2025-12-01",
            "snapshot": _SNAPSHOT_EXAMPLE,
            "history": [
                {
                    "snapshot_date": "2025-12-01",
                    "segment": "Champions",
                    "cluster_id": 2,
                    "clv": 812.4,
                    "p_alive": 0.97,
                }
            ],
            "profile": {"orders": 48, "net_revenue": 1530.2, "main_channel": "store"},
        }
    )
    customer_id: str
    snapshot_date: dt.date
    snapshot: CustomerSnapshot
    history: list[SegmentHistoryEntry]
    profile: CustomerHabits


# /value called it churn_risk while every other resource says churn_risk_90d (snapshots,
# members, predictions): both are sent until a v2 drops the old name
_CHURN_RISK_RENAMED = "deprecated: the same figure as churn_risk_90d, the name the others use"


class ValuePoint(BaseModel):
    model_config = example(
        {
            "snapshot_date": "2025-12-01",
            "segment": "Champions",
            "clv": 812.4,
            "p_alive": 0.97,
            "churn_risk_90d": 0.02,
        }
    )
    snapshot_date: dt.date
    segment: str | None = None
    clv: float | None = None
    p_alive: float | None = None
    churn_risk_90d: float | None = Field(
        default=None, description="P(no purchase in the next 90 days)"
    )
    churn_risk: float | None = Field(
        default=None, deprecated=_CHURN_RISK_RENAMED, description=_CHURN_RISK_RENAMED
    )


class CustomerValue(BaseModel):
    """Lifetime value and churn: CLV (discounted, currency), P(alive), and churn risk =
    P(no purchase in the next 90 days) from the same models (null in snapshots made before
    it was stored)."""

    model_config = example(
        {
            "customer_id": "C000042",
            "snapshot_date": "2025-12-01",
            "clv": 812.4,
            "p_alive": 0.97,
            "churn_risk_90d": 0.02,
            "expected_purchases_90d": 11.2,
            "segment": "Champions",
            "history": [
                {
                    "snapshot_date": "2025-12-01",
                    "segment": "Champions",
                    "clv": 812.4,
                    "p_alive": 0.97,
                    "churn_risk_90d": 0.02,
                }
            ],
        }
    )
    customer_id: str
    snapshot_date: dt.date
    clv: float | None = None
    p_alive: float | None = None
    churn_risk_90d: float | None = Field(
        default=None, description="P(no purchase in the next 90 days)"
    )
    churn_risk: float | None = Field(
        default=None, deprecated=_CHURN_RISK_RENAMED, description=_CHURN_RISK_RENAMED
    )
    expected_purchases_90d: float | None = None
    segment: str | None = None
    history: list[ValuePoint]


class SpendingProfile(BaseModel):
    """What is bought, never who the person is; null without profiling consent."""

    model_config = example(
        {
            "customer_id": "C000042",
            "snapshot_date": "2025-12-01",
            "profiling_consent": True,
            "price_tier_index": 0.58,
            "private_label_share": 0.31,
            "promo_sensitivity": 0.12,
            "premium_category_share": 0.2,
            "price_tier_categories": "Dairy 0.21, Bakery 0.12",
            "private_label_categories": "Dairy 0.15",
            "promo_categories": "Snacks 0.07",
            "premium_categories": "Wine 0.2",
        }
    )
    customer_id: str
    snapshot_date: dt.date
    profiling_consent: bool | None = None
    price_tier_index: float | None = None
    private_label_share: float | None = None
    promo_sensitivity: float | None = None
    premium_category_share: float | None = None
    price_tier_categories: str | None = None
    private_label_categories: str | None = None
    promo_categories: str | None = None
    premium_categories: str | None = None


class Rhythm(BaseModel):
    model_config = example(
        {
            "customer_id": "C000042",
            "product_id": "P0007",
            "product_name": "Whole Milk 1L",
            "purchases": 21,
            "units_per_purchase": 1.0,
            "cycle_days": 5.1,
            "interval_days": 5.1,
            "usual_low": 4.0,
            "usual_high": 6.3,
            "regularity": 0.78,
            "last_purchase": "2025-11-28",
            "as_of": "2025-12-01",
            "expected_next": "2025-12-03",
            "days_overdue": 0,
            "probability": None,
            "statement": "Buys Whole Milk 1L about every 5 days (usually 4 to 6); last bought "
            "3 days ago; next expected around Wed 3 Dec.",
        }
    )
    customer_id: str
    product_id: str | None = Field(description="null at level=category")
    product_name: str | None = None
    category: str | None = Field(default=None, description="set at level=category only")
    purchases: int
    units_per_purchase: float
    cycle_days: float = Field(
        description="days ONE unit lasts; a purchase of the usual size lasts interval_days"
    )
    interval_days: float = Field(
        description="days between purchases of the usual size (cycle_days x "
        "units_per_purchase): what the statement's 'about every N days' says"
    )
    usual_low: float | None = None
    usual_high: float | None = None
    regularity: float | None = None
    last_purchase: dt.date
    as_of: dt.date
    expected_next: dt.date
    days_overdue: int
    probability: float | None = None
    statement: str


class CustomerRhythms(BaseModel):
    model_config = example(
        {
            "customer_id": "C000042",
            "as_of": "2025-12-01",
            "rhythms": [example_of(Rhythm)],
        }
    )
    customer_id: str
    as_of: dt.date
    level: Literal["product", "category"] = "product"
    rhythms: list[Rhythm]


class SnapshotDates(BaseModel):
    model_config = example({"dates": ["2025-11-01", "2025-12-01"]})
    dates: list[dt.date]


class Group(BaseModel):
    """One segment or cluster of a snapshot; shares are of customers and of net revenue."""

    model_config = example(
        {
            "key": "Champions",
            "customers": 312,
            "share": 0.156,
            "net_revenue": 210500.0,
            "revenue_share": 0.41,
            "avg_clv": 702.3,
            "median_clv": 455.0,
            "avg_p_alive": 0.96,
            "avg_churn_risk": 0.05,
        }
    )
    key: str
    customers: int
    share: float
    net_revenue: float | None = Field(
        default=None, description="null when the data holds no prices (revenue unknown)"
    )
    revenue_share: float | None = Field(
        default=None, description="of the snapshot's net revenue; null without prices"
    )
    avg_clv: float | None = None
    median_clv: float | None = Field(
        default=None,
        description="median CLV: a few very large customers can make avg_clv misleading",
    )
    avg_p_alive: float | None = None
    avg_churn_risk: float | None = Field(
        default=None, description="mean P(no purchase in the next 90 days)"
    )


class SegmentSummary(BaseModel):
    model_config = example(
        {
            "snapshot_date": "2025-12-01",
            "customers": 2000,
            "net_revenue": 513000.0,
            "segments": [example_of(Group)],
            "clusters": [
                {
                    "key": "2",
                    "customers": 540,
                    "share": 0.27,
                    "net_revenue": 190000.0,
                    "revenue_share": 0.37,
                    "avg_clv": 512.0,
                    "median_clv": 301.5,
                    "avg_p_alive": 0.9,
                    "avg_churn_risk": 0.12,
                }
            ],
        }
    )
    snapshot_date: dt.date
    customers: int
    net_revenue: float | None = None
    segments: list[Group]
    clusters: list[Group]


class MigrationCell(BaseModel):
    model_config = example(
        {"from_segment": "Loyal", "to_segment": "Champions", "customers": 41, "revenue": 9120.5}
    )
    from_segment: str
    to_segment: str
    customers: int
    revenue: float | None = None


class Migration(BaseModel):
    """Customers (and net revenue between the dates) moving from one segment to another;
    "(new)" and "(gone)" stand for customers on one date only."""

    model_config = example(
        {
            "from_date": "2025-11-01",
            "to_date": "2025-12-01",
            "customers": 2000,
            "moved": 388,
            "segments": ["(new)", "Champions", "Loyal", "(gone)"],
            "cells": [example_of(MigrationCell)],
        }
    )
    from_date: dt.date
    to_date: dt.date
    customers: int
    moved: int
    segments: list[str]
    cells: list[MigrationCell]


class Mover(BaseModel):
    model_config = example(
        {
            "customer_id": "C000042",
            "from_segment": "Loyal",
            "to_segment": "At Risk",
            "from_cluster": 2,
            "to_cluster": 4,
            "revenue": 12.0,
            "revenue_from": 1530.2,
            "clv_from": 812.4,
            "clv_to": 401.0,
            "p_alive_to": 0.41,
        }
    )
    customer_id: str
    from_segment: str
    to_segment: str
    from_cluster: int | None = None
    to_cluster: int | None = None
    revenue: float | None = None
    revenue_from: float | None = None
    clv_from: float | None = None
    clv_to: float | None = None
    p_alive_to: float | None = None


class Movers(BaseModel):
    model_config = example(
        {
            "from_date": "2025-11-01",
            "to_date": "2025-12-01",
            "items": [example_of(Mover)],
        }
    )
    from_date: dt.date
    to_date: dt.date
    items: list[Mover]
