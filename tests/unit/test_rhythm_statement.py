"""The rhythm sentence: the one-pair domain version and the vectorized one must agree."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pytest

from omnix.domain.rhythm import PairRhythm, units
from omnix.services.statements import statements

EPOCH = date(1970, 1, 1)


def pair(**changes: object) -> PairRhythm:
    base: dict[str, object] = {
        "customer_id": "C1",
        "product_id": "P1",
        "product_name": "Whole Milk 1L",
        "purchases": 12,
        "units_per_purchase": 1.0,
        "cycle_days": 5.0,
        "usual_low": 4.0,
        "usual_high": 6.0,
        "regularity": 0.8,
        "last_purchase": date(2025, 11, 22),
        "as_of": date(2025, 11, 25),
        "expected_next": date(2025, 11, 27),
        "days_overdue": 0,
    }
    base.update(changes)
    return PairRhythm(**base)  # type: ignore[arg-type]


def test_statement_reads_like_the_product_brief() -> None:
    assert pair().statement() == (
        "Buys Whole Milk 1L about every 5 days (usually 4 to 6); last bought 3 days ago; "
        "next expected around Thu 27 Nov."
    )


def test_two_packs_last_twice_as_long() -> None:
    p = pair(units_per_purchase=2.0, usual_low=None, usual_high=None)
    assert p.interval_days == 10
    assert p.statement().startswith("Buys Whole Milk 1L about every 10 days; last bought")


def test_overdue_is_said() -> None:
    p = pair(as_of=date(2025, 12, 7), expected_next=date(2025, 12, 9), days_overdue=10)
    assert p.statement().endswith(
        "last bought 15 days ago, 10 days overdue; next expected around Tue 9 Dec."
    )


def test_a_long_lapsed_rhythm_says_its_forecast_is_conditional() -> None:
    """CDNOW: "about every 10 days ...; last bought 545 days ago ..., 539 days overdue; next
    expected around Mon 6 Jul" read as a confident forecast for a customer gone 18 months.
    From three intervals overdue the date is said as what it is (P(buy) says how likely)."""
    gone = pair(cycle_days=10.0, as_of=date(2027, 5, 20), days_overdue=539)
    assert gone.statement().endswith(
        "539 days overdue; if still buying it, next expected around Thu 27 Nov."
    )
    edge = pair(as_of=date(2025, 12, 12), days_overdue=15)  # 3 intervals of 5 days
    assert "; if still buying it, next expected" in edge.statement()
    assert "; next expected" in pair(as_of=date(2025, 12, 11), days_overdue=14).statement()
    once = pair(purchases=1, cycle_days=91.0, as_of=date(2026, 11, 22), days_overdue=274)
    assert once.statement().endswith("274 days overdue; if still buying it, next expected "
                                     "around Thu 27 Nov.")  # fmt: skip


def test_a_smaller_last_purchase_is_said_with_its_overdue_days() -> None:
    """Online Retail II: "about every 45 days ...; last bought 9 days ago, 8 days later than
    usual" contradicted itself; the last purchase (1 unit of the usual 49) lasts 1 day."""
    p = pair(units_per_purchase=49.0, cycle_days=45 / 49, usual_low=10.0, usual_high=91.0,
             as_of=date(2025, 12, 1), last_units=1.0, days_overdue=8)  # fmt: skip
    assert p.statement() == (
        "Buys Whole Milk 1L about every 45 days (usually 10 to 91); last bought 9 days ago "
        "(1 unit, usually 49), 8 days overdue; next expected around Thu 27 Nov."
    )
    bigger = pair(units_per_purchase=1.5, last_units=3.0).statement()
    assert "last bought 3 days ago (3 units, usually 1.5); next" in bigger
    for near in (1.0, 1.2, 0.85):  # about the usual size: unsaid
        assert "(" not in pair(units_per_purchase=1.0, last_units=near).statement().split(";")[1]


def test_a_product_bought_once_is_not_said_to_have_a_rhythm() -> None:
    """Online Retail II's API said 'Buys ALARM CLOCK BAKELIKE GREEN about every 40 days' for
    a clock bought once: the cycle is its buyers' prior, not the customer's habit."""
    p = pair(purchases=1, cycle_days=40.0, as_of=date(2025, 12, 1), days_overdue=0)
    assert p.statement() == (
        "Bought Whole Milk 1L once, 9 days ago; typically rebought about every 40 days; "
        "next expected around Thu 27 Nov."
    )
    late = pair(purchases=1, cycle_days=4.0, as_of=date(2025, 12, 1), days_overdue=5)
    assert "typically rebought about every 4 days, 5 days overdue; next" in late.statement()


@pytest.mark.parametrize(
    ("n", "text"),
    [(1.0, "1 unit"), (1.04, "1 unit"), (1.5, "1.5 units"), (2.0, "2 units"), (9.94, "9.9 units"),
     (9.96, "10 units"), (48.7, "49 units")],
)  # fmt: skip
def test_units(n: float, text: str) -> None:
    assert units(n) == text


@pytest.mark.parametrize(
    ("as_of", "text"), [(date(2025, 11, 22), "today"), (date(2025, 11, 23), "1 day ago")]
)
def test_recent_purchases(as_of: date, text: str) -> None:
    assert f"last bought {text};" in pair(as_of=as_of).statement()


def test_falls_back_to_the_product_id_without_a_name() -> None:
    assert pair(product_name=None).statement().startswith("Buys P1 about every 5 days")


def test_vectorized_statements_equal_the_domain_sentence() -> None:
    rng = np.random.default_rng(7)
    n = 400
    interval = rng.uniform(0.5, 60, n).round(1)
    low = interval * rng.uniform(0.3, 1.0, n)
    high = interval * rng.uniform(1.0, 2.5, n)
    since = rng.integers(0, 90, n)
    overdue = np.where(rng.random(n) < 0.3, rng.integers(1, 40, n), 0)
    overdue = np.where(rng.random(n) < 0.1, rng.integers(40, 400, n), overdue)  # lapsed too
    last = 20_000 + rng.integers(0, 400, n)
    expected = last + since + rng.integers(0, 30, n)
    names = [f"Item {i}" for i in range(n)]
    per_purchase = rng.choice([1.0, 1.5, 2.0, 9.95, 12.25, 48.7], n)
    others = rng.choice([1.0, 0.5, 0.8, 1.2, 1.25, 3.0, 49.0], n)
    last_units = np.where(rng.random(n) < 0.3, per_purchase, others)
    cycle = interval / per_purchase
    interval = cycle * per_purchase  # as the services compute it (rounding included)
    purchases = rng.integers(1, 5, n)
    got = statements(
        pa.array(names), interval, low, high, since, overdue, expected, per_purchase, last_units,
        purchases,
    ).to_pylist()  # fmt: skip
    for i in range(n):
        last_day = EPOCH + timedelta(days=int(last[i]))
        want = PairRhythm(
            customer_id="c",
            product_id="p",
            product_name=names[i],
            purchases=int(purchases[i]),
            units_per_purchase=float(per_purchase[i]),
            cycle_days=float(cycle[i]),
            usual_low=float(low[i]),
            usual_high=float(high[i]),
            regularity=0.5,
            last_purchase=last_day,
            as_of=last_day + timedelta(days=int(since[i])),
            expected_next=EPOCH + timedelta(days=int(expected[i])),
            days_overdue=int(overdue[i]),
            last_units=float(last_units[i]),
        ).statement()
        assert got[i] == want
