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
    within_days: int | None,
    category: str | None = None,
    segment: str | None = None,
    min_probability: float | None = None,
    customer_id: str | None = None,
) -> Table:
    """The predictions of `day` due within `within_days` (every stored one when None), with
    the customer's segment on that date, optionally of one category, one segment, one
    customer and at least `min_probability`; most likely first (then customer and product,
    so pages are stable)."""
    rows = predictions.filter(predictions[SNAPSHOT_DATE] == ibis.literal(day))
    if within_days is not None:
        end = ibis.literal(day + timedelta(days=within_days))
        rows = rows.filter(rows.expected_next_date < end)
    if category is not None:
        rows = rows.filter(rows[c.CATEGORY] == category)
    if min_probability is not None:
        rows = rows.filter(rows.probability >= min_probability)
    if customer_id is not None:
        rows = rows.filter(rows[c.CUSTOMER_ID] == customer_id)
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
ALIASES = {"expected_date": "expected_next_date"}  # the API's and CLI's name for it
# the natural direction of each key when none is asked for: likeliest, most overdue first;
# dates and names ascending
_DESCENDING = frozenset({"probability", "days_overdue"})


def sort_key(key: str) -> str:
    """`key` as a column of the due rows (an alias resolved); ValueError for anything else."""
    key = ALIASES.get(key, key)
    if key not in SORTABLE:
        names = ", ".join(sorted(SORTABLE | set(ALIASES)))
        raise ValueError(f"sort by one of {names}, not {key!r}")
    return key


def ordered(rows: Table, key: str = "probability", descending: bool | None = None) -> Table:
    """Due rows by `key` (`sort_key`; nulls last; `descending` None: the key's natural
    direction), then likeliest, then customer and product, so pages are stable. Apply it
    last, for the reason `most_likely_first` gives."""
    key = sort_key(key)
    if descending is None:
        descending = key in _DESCENDING
    if key == "probability" and descending:
        return most_likely_first(rows)
    first = rows[key].desc(nulls_first=False) if descending else rows[key].asc()
    ties = [ibis.desc("probability")] if key != "probability" else []
    return rows.order_by([first, *ties, *(k for k in (c.CUSTOMER_ID, c.PRODUCT_ID) if k != key)])


def most_likely_first(rows: Table) -> Table:
    """Due rows' order: likeliest first, then customer and product (stable pages). Apply it
    last: PostgreSQL keeps no order through a later join (a subquery is a set)."""
    return rows.order_by([ibis.desc("probability"), c.CUSTOMER_ID, c.PRODUCT_ID])
