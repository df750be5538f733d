"""Store-side inputs of the recommender, as Ibis expressions (any backend).

- product_text: each product's name, category and brand (the content source embeds them);
- context_lifts: how much more (or less) of a product sells in a context than overall, per
  time of day, weekday, channel and store: lift = P(product | context value) / P(product).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import ibis
from ibis import _

from omnix.analytics.backtest import purchases
from omnix.domain import contract as c
from omnix.domain.recommend import DAYPARTS

Table = Any  # ibis.Table
MIN_PRODUCT_LINES = 20  # a lift from fewer lines is noise
MIN_VALUE_LINES = 200
LIFT_RANGE = (0.25, 4.0)


def product_text(tx: Table, cutoff: datetime) -> Table:
    """(product_id, product_name, category, brand) of products bought before the cutoff."""
    items = purchases(tx).filter(_[c.TS] < ibis.literal(cutoff))
    return items.group_by(c.PRODUCT_ID).aggregate(
        product_name=_[c.PRODUCT_NAME].max(), category=_[c.CATEGORY].max(),
        brand=_[c.BRAND].max(),
    )  # fmt: skip


def _dimensions(lines: Table) -> dict[str, Any]:
    """Each context dimension of a line, as a small key that is cheap to group by: the
    daypart's index in DAYPARTS (6 hours each), the weekday (0 = Monday), channel, store."""
    return {
        "daypart": (lines[c.TS].hour() // 6).cast("int8"),
        "weekday": lines[c.TS].day_of_week.index().cast("int8"),
        "channel": lines[c.CHANNEL],
        "store_id": lines[c.STORE_ID],
    }


def _value_name(name: str, key: Any) -> Any:
    """The dimension's value as request-time context names it (reco.daypart, str(weekday))."""
    if name == "daypart":
        return ibis.cases(*((key == k, part) for k, part in enumerate(DAYPARTS)))
    return key.cast("string")


def context_lifts(tx: Table, cutoff: datetime) -> Table:
    """(dimension, value, product_id, lift) over purchase lines before the cutoff; products
    with at least MIN_PRODUCT_LINES lines, values with MIN_VALUE_LINES, lift clipped.

    The lines are counted once per (product, daypart, weekday, channel, store); each
    dimension's counts add those up, instead of reading every line four times per
    dimension."""
    lines = purchases(tx).filter(_[c.TS] < ibis.literal(cutoff))
    dims = _dimensions(lines)
    counted = lines.group_by(
        [lines[c.PRODUCT_ID], *(value.name(name) for name, value in dims.items())]
    ).aggregate(lines=_.count())
    parts = []
    for name in dims:
        tagged = counted.filter(counted[name].notnull()).select(
            c.PRODUCT_ID, "lines", value=_value_name(name, counted[name])
        )
        total = tagged.lines.sum()
        per_value = tagged.group_by("value").aggregate(n_value=_.lines.sum())
        per_product = tagged.group_by(c.PRODUCT_ID).aggregate(n_product=_.lines.sum())
        both = tagged.group_by(["value", c.PRODUCT_ID]).aggregate(n=_.lines.sum())
        joined = both.join(per_value, "value").join(per_product, c.PRODUCT_ID)
        joined = joined.filter(
            joined.n_product >= MIN_PRODUCT_LINES, joined.n_value >= MIN_VALUE_LINES
        )
        lift = (joined.n / joined.n_product) / (joined.n_value / total)
        parts.append(
            joined.select(
                dimension=ibis.literal(name),
                value=joined.value,
                product_id=joined[c.PRODUCT_ID],
                lift=lift.clip(lower=LIFT_RANGE[0], upper=LIFT_RANGE[1]).cast("float64"),
            )
        )
    return ibis.union(*parts)
