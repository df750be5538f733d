"""Per customer x product purchase rhythm features, as Ibis expressions (any backend).

The rhythm model (issue 3) fits on these; they are also useful on their own.

- A *purchase day* is a UTC calendar day on which a customer's net units of a product are
  positive: lines of one day are merged (two lines of milk on one trip are one purchase of two
  units) and a return on the same day is netted against it. Returns on later days are counted
  in `returned_units` but do not rewrite earlier purchase days (yet).
- Consumption is per unit: after buying q units the next purchase is expected about q cycles
  later. The interval after each purchase is divided by the units bought then (`unit_gap`).
- `cycle_days` is the ratio estimator total days / units consumed: (last day - first day) /
  (units bought before the last purchase). For a renewal process where q units last q * cycle
  on average this is consistent for the mean cycle and, unlike the median of gaps, not biased
  low by skewed gaps (see docs/DECISIONS_LOG.md for the comparison on generated truth).
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
PAIR = [c.CUSTOMER_ID, c.PRODUCT_ID]


def purchase_days(tx: Table, as_of: datetime) -> Table:
    """(customer, product, day, units): net units per UTC day, days with net units > 0."""
    lines = customer_lines(tx).filter(_[c.TS] < ibis.literal(as_of))
    day = (lines[c.TS].epoch_seconds() / SECONDS_PER_DAY).floor().cast("int64")
    per_day = lines.mutate(day=day).group_by([*PAIR, "day"]).aggregate(units=_[c.QUANTITY].sum())
    return per_day.filter(per_day.units > 0)


def pair_gaps(tx: Table, as_of: datetime) -> Table:
    """One row per consecutive pair of purchase days: gap in days and gap per unit bought."""
    days = purchase_days(tx, as_of)
    window = ibis.window(group_by=PAIR, order_by="day")
    with_prev = days.mutate(
        prev_day=days.day.lag().over(window), prev_units=days.units.lag().over(window)
    )
    gaps = with_prev.filter(with_prev.prev_day.notnull())
    gap = (gaps.day - gaps.prev_day).cast("float64")
    return gaps.mutate(gap=gap, unit_gap=gap / gaps.prev_units)


def pair_rhythms(tx: Table, as_of: datetime) -> Table:
    """Per (customer, product): purchases, units, first/last day, cycle estimates, spread.

    Columns: n_purchases, units, last_units, first_day, last_day (days since 1970, UTC),
    returned_units, cycle_days (ratio estimator; NULL with one purchase), unit_gap_mean,
    unit_gap_std.
    """
    days = purchase_days(tx, as_of)
    base = days.group_by(PAIR).aggregate(
        n_purchases=_.count(),
        units=_.units.sum(),
        last_units=_.units.argmax(_.day),
        first_day=_.day.min(),
        last_day=_.day.max(),
    )
    consumed = base.units - base.last_units
    base = base.mutate(
        cycle_days=ibis.ifelse(
            (base.n_purchases >= 2) & (consumed > 0),
            (base.last_day - base.first_day).cast("float64") / consumed,
            ibis.null("float64"),
        )
    )
    # Streaming aggregates only: exact per-group median/quantiles buffer every value and ran
    # out of a 1 GB memory limit at 10M lines (see gap_quantiles for small populations).
    gaps = (
        pair_gaps(tx, as_of)
        .group_by(PAIR)
        .aggregate(
            unit_gap_mean=_.unit_gap.mean(),
            unit_gap_std=_.unit_gap.std(),
        )
    )
    returns = customer_lines(tx).filter(_[c.TS] < ibis.literal(as_of), _[c.QUANTITY] < 0)
    returns = returns.group_by(PAIR).aggregate(returned_units=-_[c.QUANTITY].sum())
    out = base.left_join(gaps, PAIR).left_join(returns, PAIR)
    return out.select(
        *PAIR,
        "n_purchases",
        "units",
        "last_units",
        "first_day",
        "last_day",
        returned_units=out.returned_units.fill_null(0),
        cycle_days=out.cycle_days,
        unit_gap_mean=out.unit_gap_mean,
        unit_gap_std=out.unit_gap_std,
    )


def gap_quantiles(tx: Table, as_of: datetime) -> Table:
    """Empirical per-unit gap median, p10 and p90 per pair. Exact quantiles buffer every gap of
    a group, so run this on a filtered population (a customer, a segment), not on everything."""
    return (
        pair_gaps(tx, as_of)
        .group_by(PAIR)
        .aggregate(
            unit_gap_median=_.unit_gap.median(),
            unit_gap_p10=_.unit_gap.quantile(0.1),
            unit_gap_p90=_.unit_gap.quantile(0.9),
        )
    )
