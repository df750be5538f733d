"""Per-customer recency / frequency / monetary summaries for lifetime-value models (Ibis, any
backend), defined the way the buy-till-you-die literature defines them.

- A *purchase day* is a UTC calendar day with at least one purchase line (a sale of a real
  product with quantity > 0, known customer) and positive net units that day: several orders
  on one day are one transaction, and a return on the same day is netted against it. Its
  value is the day's net amount (quantity x unit price over every product line of the day,
  returns and cancellations included, so they reduce it). Returns on later days do not
  rewrite earlier purchase days; `returned_value` reports them.
- Calibration = purchase days up to and including `calibration_end`. Per customer with a
  purchase day in calibration: `frequency` x = repeat purchase days (the first excluded),
  `recency` t_x = days from the first to the last purchase day, `T` = days from the first
  purchase day to `calibration_end`, `monetary` = mean value of the repeat purchase days
  (0 when x = 0).
- Holdout = purchase days in (calibration_end, holdout_end]: `holdout_frequency`.
- `recent_frequency` = repeat purchase days in the last `recent_days` days of calibration
  (a naive baseline uses it).

Everything is counted in whole days, so times are exact integers stored as float64.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import ibis
from ibis import _

from omnix.analytics.overview import customer_lines, with_amount
from omnix.domain import contract as c

Table = Any  # ibis.Table
SECONDS_PER_DAY = 86_400


def epoch_day(day: date) -> int:
    """Days since 1970-01-01 (UTC) of a calendar date: the day numbers the builders use."""
    return (day - date(1970, 1, 1)).days


def _end_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


def purchase_days(tx: Table, until: date) -> Table:
    """(customer_id, day, value): one row per purchase day on or before `until` (inclusive).

    `day` counts days since 1970 (UTC); `value` is the day's net amount (currency).
    """
    lines = with_amount(customer_lines(tx)).filter(_[c.TS] < ibis.literal(_end_of(until)))
    bought = (lines[c.LINE_TYPE] == "sale") & (lines[c.QUANTITY] > 0)
    day = (lines[c.TS].epoch_seconds() / SECONDS_PER_DAY).floor().cast("int64")
    per_day = (
        lines.mutate(day=day, bought=ibis.ifelse(bought, 1, 0))  # PostgreSQL: no bool -> int
        .group_by([c.CUSTOMER_ID, "day"])
        .aggregate(value=_.amount.sum(), units=_[c.QUANTITY].sum(), bought=_.bought.max())
    )
    return per_day.filter((per_day.bought == 1) & (per_day.units > 0)).select(
        c.CUSTOMER_ID, "day", "value"
    )


def _calibration(days: Table, cal_day: int, recent_days: int) -> Table:
    window = ibis.window(group_by=c.CUSTOMER_ID)
    cal = days.filter(days.day <= cal_day)
    cal = cal.mutate(first_day=cal.day.min().over(window))
    repeat = cal.day > cal.first_day
    recent = repeat & (cal.day > cal_day - recent_days)
    return cal.group_by(c.CUSTOMER_ID).aggregate(
        first_day=_.first_day.min(),
        last_day=_.day.max(),
        frequency=ibis.ifelse(repeat, 1, 0).sum().cast("int64"),
        recent_frequency=ibis.ifelse(recent, 1, 0).sum().cast("int64"),
        repeat_value=ibis.ifelse(repeat, cal.value, 0.0).sum(),
    )


def _later_returns(tx: Table, cal_day: int) -> Table:
    """Value returned on days that are not purchase days, up to calibration end (>= 0)."""
    lines = with_amount(customer_lines(tx))
    day = (lines[c.TS].epoch_seconds() / SECONDS_PER_DAY).floor().cast("int64")
    lines = lines.mutate(day=day).filter(_.day <= cal_day)
    per_day = lines.group_by([c.CUSTOMER_ID, "day"]).aggregate(
        units=_[c.QUANTITY].sum(), value=_.amount.sum()
    )
    returns = per_day.filter(per_day.units <= 0)
    return returns.group_by(c.CUSTOMER_ID).aggregate(returned_value=-_.value.sum())


def rfm_summary(
    tx: Table, calibration_end: date, holdout_end: date | None = None, recent_days: int = 90
) -> Table:
    """One row per customer whose first purchase day is on or before `calibration_end`.

    Columns: customer_id, frequency, recency, T (days), monetary (currency per repeat
    purchase day), recent_frequency, returned_value (currency), holdout_frequency (0 without a
    holdout). Example: `rfm_summary(tx, date(1997, 9, 30), date(1998, 6, 30))`.
    """
    cal_day = epoch_day(calibration_end)
    days = purchase_days(tx, holdout_end or calibration_end)
    per = _calibration(days, cal_day, recent_days)
    hold = (
        days.filter(days.day > cal_day)
        .group_by(c.CUSTOMER_ID)
        .aggregate(holdout_frequency=_.count().cast("int64"))
    )
    out = per.left_join(hold, c.CUSTOMER_ID).left_join(_later_returns(tx, cal_day), c.CUSTOMER_ID)
    return out.select(
        c.CUSTOMER_ID,
        frequency=out.frequency,
        recency=(out.last_day - out.first_day).cast("float64"),
        T=(ibis.literal(cal_day) - out.first_day).cast("float64"),
        monetary=ibis.ifelse(
            out.frequency > 0, out.repeat_value / out.frequency.cast("float64"), 0.0
        ),
        recent_frequency=out.recent_frequency,
        returned_value=out.returned_value.fill_null(0.0),
        holdout_frequency=out.holdout_frequency.fill_null(0).cast("int64"),
    )
