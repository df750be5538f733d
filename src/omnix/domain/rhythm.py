"""A customer's rhythm for one product, and how omnix says it in words, e.g.

Buys Whole Milk 1L about every 5 days (usually 4 to 6); last bought 3 days ago;
next expected around Tue 25 Nov.

The numbers come from the rhythm model (models/rhythm.py); `services/statements.py` writes the
same sentence for millions of pairs at once and is tested to agree with `statement()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class PairRhythm:
    """Rhythm of one customer x product as of a date.

    cycle_days is the mean days ONE unit lasts; a purchase of the usual quantity lasts
    `interval_days` = cycle_days x units_per_purchase. usual_low/high bound that interval (the
    10th and 90th percentiles, days). regularity is 0 (erratic) to 1 (clockwork).
    expected_next is the model's forecast given no purchase until as_of (never before as_of);
    days_overdue counts the days past the usual interval. probability, when known, is the
    calibrated chance of a purchase within the horizon of the prediction run.
    """

    customer_id: str
    product_id: str
    product_name: str | None
    purchases: int
    units_per_purchase: float
    cycle_days: float
    usual_low: float | None
    usual_high: float | None
    regularity: float | None
    last_purchase: date
    as_of: date
    expected_next: date
    days_overdue: int
    probability: float | None = None

    @property
    def interval_days(self) -> float:
        return self.cycle_days * self.units_per_purchase

    @property
    def days_since_last(self) -> int:
        return (self.as_of - self.last_purchase).days

    def statement(self) -> str:
        name = self.product_name or self.product_id
        text = f"Buys {name} about every {days(self.interval_days)}"
        if self.usual_low is not None and self.usual_high is not None:
            low, high = round(self.usual_low), round(self.usual_high)
            if high > low:
                text += f" (usually {low} to {high})"
        text += f"; last bought {ago(self.days_since_last)}"
        if self.days_overdue > 0:
            text += f", {days(self.days_overdue)} later than usual"
        return text + f"; next expected around {when(self.expected_next)}."


def days(n_days: float) -> str:
    n = round(n_days)
    return "1 day" if n == 1 else f"{n} days"


def ago(n_days: int) -> str:
    return "today" if n_days == 0 else f"{days(n_days)} ago"


def when(day: date) -> str:
    """'Tue 25 Nov': weekday, day of month without a leading zero, month."""
    return f"{day:%a} {day.day} {day:%b}"
