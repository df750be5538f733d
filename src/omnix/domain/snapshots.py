"""The per-customer snapshot an analysis run stores: one row per (snapshot_date, customer).

Columns are named here once; the store adds `snapshot_date` (the run's as-of day) and keys
the table on (snapshot_date, customer_id).
"""

from __future__ import annotations

from typing import Final

from omnix.domain.contract import DType

SNAPSHOTS: Final = "customer_snapshots"
SNAPSHOT_DATE: Final = "snapshot_date"
NEW, GONE = "(new)", "(gone)"  # migration rows for customers missing on one of the dates

S, F, N, B = DType.STRING, DType.FLOAT, DType.INT, DType.BOOL
SNAPSHOT_COLUMNS: Final[tuple[tuple[str, DType], ...]] = (
    ("customer_id", S),
    ("segment", S),
    ("rfm_score", S),  # "R F M", e.g. "545"
    ("reason", S),
    ("cluster_id", N),
    ("clv", F),  # currency, discounted, the run's CLV horizon
    ("p_alive", F),  # 0..1
    ("expected_purchases_90d", F),  # BG/NBD repeat purchase days in the next 90 days
    ("net_revenue", F),  # currency, lifetime up to the snapshot date
    ("orders", N),
    ("recency_days", F),
    ("rhythm_products", N),  # products bought on >= 2 days: they have a rhythm
    ("rhythm_regularity", F),  # 0..1, purchase-weighted over products bought on >= 3 days
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
    "promo_categories", "premium_categories",
)  # fmt: skip
