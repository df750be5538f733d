"""A customer's rhythm for one product, and how omnix says it in words, e.g.

Buys Whole Milk 1L about every 5 days (usually 4 to 6); last bought 3 days ago;
next expected around Tue 25 Nov.

or, when the last purchase was of an unusual size and has run out:

Buys Lunch Bag about every 45 days (usually 10 to 91); last bought 9 days ago (1 unit,
usually 49), 8 days overdue; next expected around Fri 10 Dec.

(overdue by three intervals or more, the forecast is said as what it is: "...; if still buying
it, next expected around ..."), and for a product bought once, whose cycle is what its buyers
typically take:

Bought Alarm Clock once, 9 days ago; typically rebought about every 40 days; next expected
around Sun 9 Jan.

The numbers come from the rhythm model (models/rhythm.py); `services/statements.py` writes the
same sentence for millions of pairs at once and is tested to agree with `statement()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# the last purchase's size is named when it is outside this band around the usual size
SIZE_BAND = (0.8, 1.25)
# overdue by this many of its intervals, a rhythm has likely lapsed: the forecast date is then
# said as what it is, the date if the customer still buys the product (P(buy) says how likely)
LAPSED_INTERVALS = 3.0


@dataclass(frozen=True, slots=True)
class PairRhythm:
    """Rhythm of one customer x product as of a date.

    cycle_days is the mean days ONE unit lasts; a purchase of the usual quantity lasts
    `interval_days` = cycle_days x units_per_purchase. usual_low/high bound that interval (the
    10th and 90th percentiles, days). regularity is 0 (erratic) to 1 (clockwork).
    expected_next is the model's forecast given no purchase until as_of (never before as_of);
    days_overdue counts the days past what the last purchase lasts (cycle_days x last_units;
    last_units None: the usual quantity). probability, when known, is the calibrated chance
    of a purchase within the horizon of the prediction run.
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
    last_units: float | None = None

    @property
    def interval_days(self) -> float:
        return self.cycle_days * self.units_per_purchase

    @property
    def days_since_last(self) -> int:
        return (self.as_of - self.last_purchase).days

    def statement(self) -> str:
        name = self.product_name or self.product_id
        if self.purchases <= 1:  # no rhythm of its own yet: the cycle is its buyers' prior
            text = (
                f"Bought {name} once, {ago(self.days_since_last)}; typically rebought about "
                f"every {days(self.interval_days)}"
            )
            if self.days_overdue > 0:
                text += f", {days(self.days_overdue)} overdue"
            return text + self._next()
        text = f"Buys {name} about every {days(self.interval_days)}"
        if self.usual_low is not None and self.usual_high is not None:
            low, high = round(self.usual_low), round(self.usual_high)
            if high > low:
                text += f" (usually {low} to {high})"
        text += f"; last bought {ago(self.days_since_last)}"
        if self.last_units is not None and unusual_size(self.last_units, self.units_per_purchase):
            # a smaller or larger purchase than usual runs out sooner or later: say why
            usual = units(self.units_per_purchase).removesuffix(" units").removesuffix(" unit")
            text += f" ({units(self.last_units)}, usually {usual})"
        if self.days_overdue > 0:  # past what the last purchase lasts
            text += f", {days(self.days_overdue)} overdue"
        return text + self._next()

    def _next(self) -> str:
        lapsed = self.days_overdue >= LAPSED_INTERVALS * self.interval_days
        lead = (
            "; if still buying it, next expected around " if lapsed else "; next expected around "
        )
        return f"{lead}{when(self.expected_next)}."


def unusual_size(last: float, usual: float) -> bool:
    """Whether the sentence names the last purchase's size: outside 0.8 to 1.25 times the
    usual, and different once written."""
    ratio = last / usual
    return (ratio < SIZE_BAND[0] or ratio > SIZE_BAND[1]) and units(last) != units(usual)


def units(n: float) -> str:
    """'1 unit', '1.5 units', '49 units': tenths below 10, whole units from 10 on."""
    if n >= 9.95:
        return f"{round(n)} units"
    tenths = round(n * 10)
    text = str(tenths // 10) if tenths % 10 == 0 else f"{tenths // 10}.{tenths % 10}"
    return "1 unit" if text == "1" else f"{text} units"


def days(n_days: float) -> str:
    n = round(n_days)
    return "1 day" if n == 1 else f"{n} days"


def ago(n_days: int) -> str:
    return "today" if n_days == 0 else f"{days(n_days)} ago"


def when(day: date) -> str:
    """'Tue 25 Nov': weekday, day of month without a leading zero, month."""
    return f"{day:%a} {day.day} {day:%b}"
