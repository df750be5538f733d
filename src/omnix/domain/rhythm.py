"""A customer's rhythm for one product, and how omnix says it in words, e.g.

Buys Whole Milk 1L about every 5 days (usually 4 to 6); last bought 3 days ago;
next expected around Thu 27 Nov.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True, slots=True)
class PairRhythm:
    """Rhythm of one customer x product as of a date.

    cycle_days is the mean days ONE unit lasts; a purchase of the usual quantity lasts
    `interval_days` = cycle_days x units_per_purchase. usual_low/high bound the interval
    between purchases (days). regularity is 0 (erratic) to 1 (clockwork).
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

    @property
    def interval_days(self) -> float:
        return self.cycle_days * self.units_per_purchase

    @property
    def expected_next(self) -> date:
        return self.last_purchase + timedelta(days=round(self.interval_days))

    @property
    def days_since_last(self) -> int:
        return (self.as_of - self.last_purchase).days

    @property
    def days_overdue(self) -> int:
        """Days past the expected next purchase (0 when not yet due)."""
        return max((self.as_of - self.expected_next).days, 0)

    def statement(self) -> str:
        name = self.product_name or self.product_id
        text = f"Buys {name} about every {_days(self.interval_days)}"
        if self.usual_low is not None and self.usual_high is not None:
            low, high = round(self.usual_low), round(self.usual_high)
            if high > low:
                text += f" (usually {low} to {high})"
        text += f"; last bought {_ago(self.days_since_last)}"
        if self.days_overdue:
            return (
                text + f"; expected {_days(self.days_overdue)} ago ({_when(self.expected_next)})."
            )
        return text + f"; next expected around {_when(self.expected_next)}."


def _days(days: float) -> str:
    n = round(days)
    return "1 day" if n == 1 else f"{n} days"


def _ago(days: int) -> str:
    return "today" if days == 0 else f"{_days(days)} ago"


def _when(day: date) -> str:
    return day.strftime("%a %d %b").replace(" 0", " ")
