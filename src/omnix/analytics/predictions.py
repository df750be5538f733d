"""Who is due for what: the stored next-need predictions of one date, as Ibis expressions
(any backend).

`predictions` holds, per analysis date, each customer's most likely products and every product
with a rhythm expected within the horizon (services/rhythms.due_predictions). A product is
*due within N days* of the date D when its expected next purchase date is before D + N days
(the expected date is never before D).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import ibis

from omnix.domain import contract as c
from omnix.domain.snapshots import SNAPSHOT_DATE

Table = Any  # ibis.Table


def due(
    predictions: Table,
    snapshots: Table,
    day: date,
    within_days: int,
    category: str | None = None,
    segment: str | None = None,
) -> Table:
    """The predictions of `day` due within `within_days`, with the customer's segment on that
    date, optionally of one category and one segment; most likely first (then customer and
    product, so pages are stable)."""
    rows = predictions.filter(
        (predictions[SNAPSHOT_DATE] == ibis.literal(day))
        & (predictions.expected_next_date < ibis.literal(day + timedelta(days=within_days)))
    )
    if category is not None:
        rows = rows.filter(rows[c.CATEGORY] == category)
    people = snapshots.filter(snapshots[SNAPSHOT_DATE] == ibis.literal(day)).select(
        c.CUSTOMER_ID, "segment"
    )
    joined = rows.left_join(people, c.CUSTOMER_ID).drop(f"{c.CUSTOMER_ID}_right")
    if segment is not None:
        joined = joined.filter(joined.segment == segment)
    return most_likely_first(joined)


SORTABLE = frozenset(
    {"probability", "expected_next_date", "days_overdue", c.CUSTOMER_ID, "product_name",
     c.CATEGORY, "segment"}
)  # fmt: skip


def ordered(rows: Table, key: str = "probability", descending: bool = True) -> Table:
    """Due rows by `key` (nulls last), then customer and product (stable pages); the default
    is `most_likely_first`. Apply it last, for the same reason."""
    if key not in SORTABLE:
        raise ValueError(f"sort by one of {', '.join(sorted(SORTABLE))}, not {key!r}")
    if key == "probability" and descending:
        return most_likely_first(rows)
    first = rows[key].desc(nulls_first=False) if descending else rows[key].asc()
    return rows.order_by([first, *(k for k in (c.CUSTOMER_ID, c.PRODUCT_ID) if k != key)])


def most_likely_first(rows: Table) -> Table:
    """Due rows' order: likeliest first, then customer and product (stable pages). Apply it
    last: PostgreSQL keeps no order through a later join (a subquery is a set)."""
    return rows.order_by([ibis.desc("probability"), c.CUSTOMER_ID, c.PRODUCT_ID])
