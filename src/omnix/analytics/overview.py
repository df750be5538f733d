"""What the store holds and how the business looks, as Ibis expressions (any backend).

Analytics never see returns as purchases: revenue and units are netted (return lines carry
negative quantity), and `customer_lines` leaves out anonymous shoppers and non-product lines.
"""

from __future__ import annotations

from typing import Any

import ibis
from ibis import _

from omnix.domain import contract as c

Table = Any  # ibis.Table; Ibis ships no stubs mypy can check


def product_lines(tx: Table) -> Table:
    """Lines of real products (postage, fees excluded), anonymous shoppers included."""
    return tx.filter(tx[c.IS_PRODUCT])


def customer_lines(tx: Table) -> Table:
    """Lines customer analytics use: known customers, real products."""
    return product_lines(tx).filter(tx[c.CUSTOMER_ID].notnull())


def with_amount(tx: Table) -> Table:
    """Adds `amount` = quantity x unit_price (negative for returns; 0 when no price): what
    per-customer models sum. Reports of revenue use `with_priced_amount` instead."""
    return tx.mutate(amount=(tx[c.QUANTITY] * tx[c.UNIT_PRICE].fill_null(0)))


def with_priced_amount(tx: Table) -> Table:
    """Adds `amount` = quantity x unit_price, NULL on a line without a price: a sum of it is
    NULL (unknown) for a group none of whose lines has a price. Data without prices (the
    Instacart export) has no revenue to report, which is not a revenue of 0."""
    return tx.mutate(amount=tx[c.QUANTITY] * tx[c.UNIT_PRICE])


def store_overview(tx: Table) -> Table:
    """One row: lines, orders, customers, products, first/last ts, returns, non-product, anon."""
    return tx.aggregate(
        lines=_.count(),
        orders=_[c.ORDER_ID].nunique(),
        customers=_[c.CUSTOMER_ID].nunique(),
        products=_[c.PRODUCT_ID].nunique(),
        first_ts=_[c.TS].min(),
        last_ts=_[c.TS].max(),
        # as `omnix ingest` counts them: lines giving goods back (a cancelled order's lines are
        # marked as such too, and one with a positive quantity is no return)
        return_lines=(_[c.QUANTITY] < 0).sum(),
        non_product_lines=(~_[c.IS_PRODUCT]).sum(),
        anonymous_lines=_[c.CUSTOMER_ID].isnull().sum(),
    )


def business_summary(tx: Table) -> Table:
    """One row of netted KPIs over customer lines: revenue, orders, basket value, repeat share.
    The revenue figures are NULL when no line has a price."""
    lines = with_priced_amount(customer_lines(tx))
    per_customer = lines.group_by(c.CUSTOMER_ID).aggregate(
        orders=_[c.ORDER_ID].nunique(), revenue=_.amount.sum()
    )
    totals = lines.aggregate(
        net_revenue=_.amount.sum(),
        gross_revenue=(_.amount.clip(lower=0)).sum(),
        returned_value=(-_.amount.clip(upper=0)).sum(),
        net_units=_[c.QUANTITY].sum(),
        orders=_[c.ORDER_ID].nunique(),
        customers=_[c.CUSTOMER_ID].nunique(),
    )
    repeat = per_customer.aggregate(
        # PostgreSQL sums integers to NUMERIC: cast, or the share arrives as a Decimal
        repeat_customers=(per_customer.orders >= 2).sum().cast("int64"),
        median_customer_revenue=per_customer.revenue.median(),
    )
    return totals.cross_join(repeat).mutate(
        avg_order_value=_.net_revenue / _.orders.nullif(0).cast("float64"),
        repeat_share=_.repeat_customers.cast("float64") / _.customers.nullif(0),
    )


def monthly(tx: Table) -> Table:
    """Net revenue (NULL for a month without a priced line), orders and active customers per
    calendar month (UTC)."""
    lines = with_priced_amount(customer_lines(tx))
    lines = lines.mutate(month=lines[c.TS].truncate("M"))
    return (
        lines.group_by("month")
        .aggregate(
            net_revenue=_.amount.sum(),
            orders=_[c.ORDER_ID].nunique(),
            customers=_[c.CUSTOMER_ID].nunique(),
        )
        .order_by("month")
    )


def top_products(tx: Table, n: int = 10) -> Table:
    """Best sellers by net units, with net revenue and the number of distinct buyers."""
    lines = with_priced_amount(customer_lines(tx))
    name = lines[c.PRODUCT_NAME].max()
    return (
        lines.group_by(c.PRODUCT_ID)
        .aggregate(
            product_name=name,
            net_units=_[c.QUANTITY].sum(),
            net_revenue=_.amount.sum(),
            buyers=_[c.CUSTOMER_ID].nunique(),
        )
        .order_by(ibis.desc("net_units"))
        .limit(n)
    )
