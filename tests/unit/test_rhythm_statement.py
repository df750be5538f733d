"""The rhythm sentence: the one-pair domain version and the vectorized one must agree."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pytest

from omnix.domain.rhythm import PairRhythm
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
        "last bought 15 days ago, 10 days later than usual; next expected around Tue 9 Dec."
    )


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
    last = 20_000 + rng.integers(0, 400, n)
    expected = last + since + rng.integers(0, 30, n)
    names = [f"Item {i}" for i in range(n)]
    got = statements(pa.array(names), interval, low, high, since, overdue, expected).to_pylist()
    for i in range(n):
        last_day = EPOCH + timedelta(days=int(last[i]))
        want = PairRhythm(
            customer_id="c",
            product_id="p",
            product_name=names[i],
            purchases=3,
            units_per_purchase=1.0,
            cycle_days=float(interval[i]),
            usual_low=float(low[i]),
            usual_high=float(high[i]),
            regularity=0.5,
            last_purchase=last_day,
            as_of=last_day + timedelta(days=int(since[i])),
            expected_next=EPOCH + timedelta(days=int(expected[i])),
            days_overdue=int(overdue[i]),
        ).statement()
        assert got[i] == want
