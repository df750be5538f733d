"""Business KPIs of one period and the category mix of a group of customers, as Ibis
expressions (any backend). The dashboard's overview and segment pages read these.

Periods are half-open, [start, end), in UTC. Revenue is netted (returns are negative lines) and
counts known customers' product lines only (`overview.customer_lines`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import ibis
from ibis import _

from omnix.analytics.overview import customer_lines, with_amount, with_priced_amount
from omnix.domain import contract as c

Table = Any  # ibis.Table


def period_kpis(tx: Table, start: datetime, end: datetime) -> Table:
    """One row for [start, end): `customers` (bought at least once before `end`),
    `active_customers` (bought in the period), `returning_customers` (active and had bought
    before `start`), `orders`, `net_revenue` (currency) in the period: 0 for a quiet period,
    NULL (unknown) when no line before `end` has a price.

    >>> # period_kpis(tx, datetime(2025, 11, 1, tzinfo=UTC), datetime(2025, 12, 1, tzinfo=UTC))
    """
    lines = with_priced_amount(customer_lines(tx))
    lines = lines.filter(lines[c.TS] < end)
    in_period = lines[c.TS] >= start
    priced = lines[c.UNIT_PRICE].notnull().any()
    totals = lines.aggregate(
        customers=_[c.CUSTOMER_ID].nunique(),
        active_customers=_[c.CUSTOMER_ID].nunique(where=in_period),
        orders=_[c.ORDER_ID].nunique(where=in_period),
        net_revenue=ibis.ifelse(priced, _.amount.sum(where=in_period).fill_null(0.0), None),
    )
    per_customer = lines.group_by(c.CUSTOMER_ID).aggregate(
        first_ts=_[c.TS].min(), last_ts=_[c.TS].max()
    )
    returning = per_customer.aggregate(
        # cast: PostgreSQL sums booleans-as-integers to NUMERIC
        returning_customers=((per_customer.last_ts >= start) & (per_customer.first_ts < start))
        .sum()
        .cast("int64")
    )
    return totals.cross_join(returning)


def category_mix(tx: Table, members: Table, start: datetime, end: datetime, n: int) -> Table:
    """The `n` categories the customers in `members` (a table with customer_id) spent most
    on in [start, end): category, net_revenue (currency), items (net), buyers, and `share` of
    the group's revenue. Lines without a category are grouped as NULL and left out. When the
    group's lines carry no revenue (data without prices) categories rank by items and `share`
    is of the group's items; `basis` says which ("spend" or "items")."""
    lines = with_amount(customer_lines(tx))
    lines = lines.filter((lines[c.TS] >= start) & (lines[c.TS] < end))
    ids = members.select(member_id=members[c.CUSTOMER_ID]).distinct()
    joined = lines.inner_join(ids, lines[c.CUSTOMER_ID] == ids.member_id)
    spend = joined.amount.sum().as_scalar()
    items = joined[c.QUANTITY].sum().as_scalar()
    grouped = (
        joined.filter(joined[c.CATEGORY].notnull())
        .group_by(c.CATEGORY)
        .aggregate(
            net_revenue=_.amount.sum(),
            items=_[c.QUANTITY].sum().cast("float64"),
            buyers=_[c.CUSTOMER_ID].nunique(),
        )
    )
    priced = spend != 0
    return (
        grouped.mutate(
            basis=ibis.ifelse(priced, "spend", "items"),
            share=ibis.ifelse(
                priced, grouped.net_revenue / spend.nullif(0), grouped["items"] / items.nullif(0)
            ),
        )
        .order_by([ibis.desc("net_revenue"), ibis.desc("items"), c.CATEGORY])
        .limit(n)
    )
