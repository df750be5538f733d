"""The next-basket backtest protocol as Ibis expressions (any backend).

History = purchase lines before the cutoff; the window = [cutoff, cutoff + horizon). Evaluated
customers have >= 3 orders before the cutoff and >= 1 order in the window; their next basket is
their first order in the window. A purchase is a sale line of a real product with quantity > 0
(returns, cancellations, fees and anonymous lines never make a basket). An order's time is its
earliest line's time.

Every builder takes the transactions table and returns a small table; nothing here executes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import ibis
from ibis import _

from omnix.analytics.overview import customer_lines
from omnix.domain import contract as c

Table = Any  # ibis.Table
SECONDS_PER_DAY = 86_400


def purchases(tx: Table) -> Table:
    """Lines that put a product in a basket: known customer, real product, a sale, quantity > 0."""
    lines = customer_lines(tx)
    return lines.filter(lines[c.LINE_TYPE] == "sale", lines[c.QUANTITY] > 0)


def orders(tx: Table) -> Table:
    """One row per (customer, order) with the order's time and its day number since 1970."""
    return (
        purchases(tx)
        .group_by([c.CUSTOMER_ID, c.ORDER_ID])
        .aggregate(order_ts=_[c.TS].min())
        .mutate(day=_.order_ts.epoch_seconds() / SECONDS_PER_DAY)
    )


def history_orders(tx: Table, cutoff: datetime) -> Table:
    """Orders before the cutoff with `basket` = 0, 1, ... per customer, oldest first."""
    before = orders(tx).filter(_.order_ts < ibis.literal(cutoff))
    rank = ibis.row_number().over(group_by=c.CUSTOMER_ID, order_by=["order_ts", c.ORDER_ID])
    return before.mutate(basket=rank)


def window_orders(tx: Table, cutoff: datetime, end: datetime) -> Table:
    o = orders(tx)
    return o.filter(o.order_ts >= ibis.literal(cutoff), o.order_ts < ibis.literal(end))


def evaluated_customers(tx: Table, cutoff: datetime, end: datetime, min_orders: int = 3) -> Table:
    """Customers with >= min_orders orders before the cutoff and >= 1 in the window."""
    counts = history_orders(tx, cutoff).group_by(c.CUSTOMER_ID).aggregate(n_orders=_.count())
    active = window_orders(tx, cutoff, end).select(c.CUSTOMER_ID).distinct()
    return counts.filter(counts.n_orders >= min_orders).semi_join(active, c.CUSTOMER_ID)


def history_baskets(tx: Table, cutoff: datetime) -> Table:
    """Distinct (customer, basket, product) before the cutoff, with the basket's day number
    and the units of the product in it."""
    items = purchases(tx).filter(_[c.TS] < ibis.literal(cutoff))
    items = items.group_by([c.CUSTOMER_ID, c.ORDER_ID, c.PRODUCT_ID]).aggregate(
        units=_[c.QUANTITY].sum().cast("float64")
    )
    hist = history_orders(tx, cutoff).select(c.CUSTOMER_ID, c.ORDER_ID, "basket", "day")
    return items.join(hist, [c.CUSTOMER_ID, c.ORDER_ID]).select(
        c.CUSTOMER_ID, "basket", c.PRODUCT_ID, "day", "units"
    )


def returned_units(tx: Table, cutoff: datetime) -> Table:
    """(customer, product, day, units) of every line with a negative quantity before the cutoff
    (returns and cancellations); units are positive, day is the line's day number."""
    lines = customer_lines(tx)
    lines = lines.filter(lines[c.QUANTITY] < 0, lines[c.TS] < ibis.literal(cutoff))
    return lines.select(
        c.CUSTOMER_ID,
        c.PRODUCT_ID,
        day=lines[c.TS].epoch_seconds() / SECONDS_PER_DAY,
        units=(-lines[c.QUANTITY]).cast("float64"),
    )


def product_attributes(tx: Table, cutoff: datetime) -> Table:
    """(product, category, product_name) of products bought before the cutoff; NULL when the
    lines never said."""
    items = purchases(tx).filter(_[c.TS] < ibis.literal(cutoff))
    return items.group_by(c.PRODUCT_ID).aggregate(
        category=_[c.CATEGORY].max(), product_name=_[c.PRODUCT_NAME].max()
    )


def next_baskets(tx: Table, cutoff: datetime, end: datetime) -> Table:
    """(customer, product) of each evaluated customer's first order in the window."""
    rank = ibis.row_number().over(group_by=c.CUSTOMER_ID, order_by=["order_ts", c.ORDER_ID])
    first = window_orders(tx, cutoff, end).mutate(rk=rank).filter(_.rk == 0)
    first = first.semi_join(evaluated_customers(tx, cutoff, end), c.CUSTOMER_ID)
    lines = purchases(tx).select(c.CUSTOMER_ID, c.ORDER_ID, c.PRODUCT_ID)
    return (
        lines.join(first.select(c.CUSTOMER_ID, c.ORDER_ID), [c.CUSTOMER_ID, c.ORDER_ID])
        .select(c.CUSTOMER_ID, c.PRODUCT_ID)
        .distinct()
    )


def window_purchases(tx: Table, cutoff: datetime, end: datetime) -> Table:
    """(customer, product, first day bought) for everything bought in the window."""
    p = purchases(tx)
    p = p.filter(p[c.TS] >= ibis.literal(cutoff), p[c.TS] < ibis.literal(end))
    return p.group_by([c.CUSTOMER_ID, c.PRODUCT_ID]).aggregate(
        first_day=(_[c.TS].min().epoch_seconds() / SECONDS_PER_DAY)
    )
