from __future__ import annotations

from datetime import date

import pytest

from omnix.domain.rhythm import PairRhythm


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
    assert p.expected_next == date(2025, 12, 2)
    assert p.statement() == (
        "Buys Whole Milk 1L about every 10 days; last bought 3 days ago; "
        "next expected around Tue 2 Dec."
    )


def test_overdue_is_said_and_counted() -> None:
    p = pair(as_of=date(2025, 12, 7))
    assert p.days_overdue == 10
    assert p.statement().endswith("last bought 15 days ago; expected 10 days ago (Thu 27 Nov).")


@pytest.mark.parametrize(
    ("as_of", "text"), [(date(2025, 11, 22), "today"), (date(2025, 11, 23), "1 day ago")]
)
def test_recent_purchases(as_of: date, text: str) -> None:
    assert f"last bought {text};" in pair(as_of=as_of).statement()


def test_falls_back_to_the_product_id_without_a_name() -> None:
    assert pair(product_name=None).statement().startswith("Buys P1 about every 5 days")
