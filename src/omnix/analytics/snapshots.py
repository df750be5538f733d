"""Customer migration between two snapshot dates, as Ibis expressions (any backend).

A customer on both dates moves from their segment on the first to their segment on the second;
one only on the second date comes from "(new)", one only on the first goes to "(gone)" (an
erased customer). `revenue` is the net revenue a customer brought between the two dates
(currency): lifetime net revenue on the second date minus that on the first (all of it for a
new customer, 0 for a gone one).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import ibis
from ibis import _

from omnix.domain import contract as c
from omnix.domain.snapshots import GONE, NEW, SNAPSHOT_DATE

Table = Any  # ibis.Table


def on(snapshots: Table, day: date) -> Table:
    """The snapshot rows of one date."""
    return snapshots.filter(snapshots[SNAPSHOT_DATE] == ibis.literal(day))


def transitions(snapshots: Table, start: date, end: date) -> Table:
    """One row per customer on either date: from/to segment and cluster, revenue between the
    dates, and lifetime revenue, CLV and P(alive) on each date."""
    a = on(snapshots, start).select(
        c.CUSTOMER_ID, from_segment="segment", from_cluster="cluster_id",
        revenue_from="net_revenue", clv_from="clv",
    )  # fmt: skip
    b = on(snapshots, end).select(
        key_to=c.CUSTOMER_ID, to_segment=_.segment, to_cluster=_.cluster_id,
        revenue_to=_.net_revenue, clv_to=_.clv, p_alive_to=_.p_alive,
    )  # fmt: skip
    joined = a.outer_join(b, a[c.CUSTOMER_ID] == b.key_to)
    return joined.select(
        customer_id=ibis.coalesce(joined[c.CUSTOMER_ID], joined.key_to),
        from_segment=joined.from_segment.fill_null(NEW),
        to_segment=joined.to_segment.fill_null(GONE),
        from_cluster=joined.from_cluster,
        to_cluster=joined.to_cluster,
        revenue=ibis.coalesce(joined.revenue_to, joined.revenue_from, 0.0)
        - ibis.coalesce(joined.revenue_from, 0.0),
        revenue_from=joined.revenue_from,
        clv_from=joined.clv_from,
        clv_to=joined.clv_to,
        p_alive_to=joined.p_alive_to,
    )


def matrix(snapshots: Table, start: date, end: date) -> Table:
    """(from_segment, to_segment, customers, revenue): the transition matrix as cells."""
    return (
        transitions(snapshots, start, end)
        .group_by(["from_segment", "to_segment"])
        .aggregate(customers=_.count().cast("int64"), revenue=_.revenue.sum())
    )


def movers(snapshots: Table, start: date, end: date) -> Table:
    """Customers whose segment changed, the most valuable on the first date first."""
    rows = transitions(snapshots, start, end)
    moved = rows.filter(rows.from_segment != rows.to_segment)
    return moved.order_by([ibis.desc(moved.revenue_from.fill_null(0.0)), moved.customer_id])
