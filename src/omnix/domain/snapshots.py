"""What an analysis run stores per date: the per-customer snapshot, one row per
(snapshot_date, customer), and the next-need predictions, one row per (snapshot_date,
customer, product) kept.

Columns are named here once; the store adds `snapshot_date` (the run's as-of day) and keys
the tables on (snapshot_date, customer_id[, product_id]). Both are replaced together per date.
"""

from __future__ import annotations

from datetime import date
from typing import Final

from omnix.domain.contract import DType
from omnix.domain.errors import NotFoundError

SNAPSHOTS: Final = "customer_snapshots"
SNAPSHOT_DATE: Final = "snapshot_date"
NEW, GONE = "(new)", "(gone)"  # migration rows for customers missing on one of the dates

S, F, N, B, D = DType.STRING, DType.FLOAT, DType.INT, DType.BOOL, DType.DATE
SNAPSHOT_COLUMNS: Final[tuple[tuple[str, DType], ...]] = (
    ("customer_id", S),
    ("segment", S),
    ("rfm_score", S),  # "R F M", e.g. "545"
    ("reason", S),
    ("cluster_id", N),
    ("clv", F),  # currency, discounted, the run's CLV horizon
    ("p_alive", F),  # 0..1
    ("churn_risk_90d", F),  # 0..1, P(no purchase in the next 90 days): the churn risk shown
    ("expected_purchases_90d", F),  # BG/NBD repeat purchase days in the next 90 days
    ("net_revenue", F),  # currency, lifetime up to the snapshot date
    ("orders", N),
    ("recency_days", F),
    ("rhythm_products", N),  # products bought on >= 2 days: they have a rhythm
    ("rhythm_regularity", F),  # 0..1, the profile's regularity (services/rhythms.py)
    ("regular_products", N),  # products bought on >= 3 days; 0 = regularity is the prior
    ("due_14d", N),  # products whose next purchase is expected within 14 days
    ("next_due_days", F),  # days from the snapshot date to the earliest expected purchase
    ("profiling_consent", B),
    ("price_tier_index", F),  # 0..1; NULL without profiling consent
    ("private_label_share", F),
    ("promo_sensitivity", F),
    ("premium_category_share", F),
    ("price_tier_categories", S),
    ("private_label_categories", S),
    ("promo_categories", S),
    ("premium_categories", S),
)
SPENDING_COLUMNS: Final = (
    "price_tier_index", "private_label_share", "promo_sensitivity", "premium_category_share",
    "price_tier_categories", "private_label_categories", "promo_categories", "premium_categories",
)  # fmt: skip
# what `omnix export profiles` writes, in order (cluster_id is exported as "cluster")
EXPORT_COLUMNS: Final = (
    "customer_id", "segment", "rfm_score", "cluster", "clv", "p_alive",
    "expected_purchases_90d", "price_tier_index", "private_label_share", "promo_sensitivity",
    "premium_category_share", "price_tier_categories", "private_label_categories",
    "promo_categories", "premium_categories", "churn_risk_90d",
)  # fmt: skip

PREDICTIONS: Final = "predictions"
HORIZON: Final = "horizon_days"
# `omnix predict`'s contract columns, then category and the horizon the probability is for
PREDICTION_COLUMNS: Final[tuple[tuple[str, DType], ...]] = (
    ("customer_id", S),
    ("product_id", S),
    ("rank", N),  # 1 = the customer's most likely product within the horizon
    ("probability", F),  # calibrated P(a purchase in [snapshot_date, + horizon_days))
    ("expected_next_date", D),  # median next purchase day given none so far
    ("cycle_days", F),  # days one unit lasts
    ("statement", S),  # the rhythm in words
    ("product_name", S),
    ("purchases", N),  # purchase days before the snapshot date
    ("interval_days", F),  # usual days between purchases at the usual quantity
    ("cycle_p10", F),
    ("cycle_p90", F),
    ("regularity", F),  # 0..1, 1 - CV of the gaps (shrunk)
    ("last_purchase", D),
    ("days_overdue", N),  # days past the usual interval
    ("p_active", F),  # P(the customer shops within the horizon)
    ("category", S),
    (HORIZON, N),
)


def pick_date(day: date | None, known: list[date], what: str) -> date:
    """`day` when `known` (ascending) holds it, the latest when `day` is None; otherwise a
    NotFoundError naming `what` ("snapshot", "predictions") and the latest dates there are."""
    if not known:
        raise NotFoundError(f"the store holds no {what} yet: run `omnix analyze`")
    if day is None:
        return known[-1]
    if day not in known:
        listed = ", ".join(d.isoformat() for d in known[-10:])
        raise NotFoundError(f"no {what} dated {day} (dates: {listed})")
    return day
