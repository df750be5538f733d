"""Who may be processed for a purpose, as Ibis expressions (any backend).

The consents table is a log: (customer_id, purpose, granted, recorded_at, source). A customer's
consent for a purpose is their latest record for it (at equal times a denial wins); customers
without one get the default.
"""

from __future__ import annotations

from typing import Any

import ibis

from omnix.domain import contract as c
from omnix.domain.consent import Purpose

Table = Any  # ibis.Table
CONSENTS = "consents"


def latest(consents: Table, purpose: Purpose) -> Table:
    """(customer_id, granted): each customer's latest consent record for `purpose`."""
    rows = consents.filter(consents.purpose == purpose.value)
    order = [ibis.desc("recorded_at"), "granted"]  # False sorts first: a tie is a denial
    window = ibis.window(group_by=c.CUSTOMER_ID, order_by=order)
    ranked = rows.mutate(rank=ibis.row_number().over(window))
    return ranked.filter(ranked["rank"] == 0).select(c.CUSTOMER_ID, "granted")


def with_consent(customers: Table, consents: Table, purpose: Purpose, default: bool) -> Table:
    """`customers` (a table with customer_id) plus `granted` (bool) for `purpose`."""
    keys = customers.select(c.CUSTOMER_ID).distinct()
    joined = keys.left_join(latest(consents, purpose), c.CUSTOMER_ID)
    return joined.select(c.CUSTOMER_ID, granted=joined.granted.fill_null(ibis.literal(default)))


def permitted(customers: Table, consents: Table, purpose: Purpose, default: bool) -> Table:
    """The customer_ids of `customers` whose consent covers `purpose`. Profiling,
    personalization and AI insights all use what analytics derived, so a customer who
    objected to analytics is permitted none of them, whatever their record for the purpose
    (stored predictions and recommendations stopped only at the next analysis before)."""
    rows = with_consent(customers, consents, purpose, default)
    allowed = rows.filter(rows.granted).select(c.CUSTOMER_ID)
    if purpose is Purpose.ANALYTICS:
        return allowed
    return allowed.anti_join(objected(consents, Purpose.ANALYTICS), c.CUSTOMER_ID)


def objected(consents: Table, purpose: Purpose) -> Table:
    """(customer_id): customers whose latest record for `purpose` is a denial."""
    rows = latest(consents, purpose)
    return rows.filter(~rows.granted).select(c.CUSTOMER_ID)
