"""`CustomerService.rhythms` over a real store: numbers, words, defaults and errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from omnix.domain.errors import EmptyStoreError, NotFoundError
from omnix.domain.rhythm import PairRhythm
from tests.backends import StoreRef
from tests.integration.helpers import ingest, opened, write

# Milk every 5 days, 2 units on the first trip; bread bought once.
ROWS = """customer_id,order_id,ts,product_id,product_name,quantity
c1,o1,2025-11-01 09:00,milk,Whole Milk 1L,2
c1,o2,2025-11-11 09:00,milk,Whole Milk 1L,1
c1,o3,2025-11-16 09:00,milk,Whole Milk 1L,1
c1,o4,2025-11-21 09:00,milk,Whole Milk 1L,1
c1,o4,2025-11-21 09:00,bread,Bread,1
c2,o5,2025-11-23 09:00,milk,Whole Milk 1L,1
"""


def rhythms(data: Path, customer: str, as_of: date | None) -> tuple[date, list[PairRhythm]]:
    with opened(data_dir=data) as container:
        return container.customer_service().rhythms(customer, as_of)


def test_rhythm_numbers_and_statement(tmp_path: Path, store: StoreRef) -> None:
    data = store
    ingest(data, write(tmp_path / "t.csv", ROWS))
    as_of, pairs = rhythms(data, "c1", date(2025, 11, 24))
    assert as_of == date(2025, 11, 24)
    (milk,) = pairs  # bread was bought once: no rhythm yet
    assert milk.purchases == 4
    # 20 days over 4 units before Nov 21; the only other milk buyer has one purchase, so the
    # product's prior is this customer's own rhythm and shrinkage barely moves it
    assert milk.cycle_days == pytest.approx(20 / 4, rel=0.01)
    assert milk.units_per_purchase == pytest.approx(5 / 4)
    assert milk.last_purchase == date(2025, 11, 21)
    # per-unit gaps are 10/2, 5, 5: clockwork, so the usual range is narrow
    assert milk.usual_low is not None and milk.usual_high is not None
    assert 5.0 < milk.usual_low < milk.interval_days < milk.usual_high < 7.5
    assert milk.regularity is not None and milk.regularity > 0.9
    assert milk.expected_next == date(2025, 11, 26)  # one unit bought on Nov 21 lasts 5 days
    assert milk.days_overdue == 0
    assert milk.statement() == (
        "Buys Whole Milk 1L about every 6 days (usually 6 to 7); last bought 3 days ago; "
        "next expected around Wed 26 Nov."
    )


def test_as_of_defaults_to_the_day_after_the_last_line(tmp_path: Path, store: StoreRef) -> None:
    data = store
    ingest(data, write(tmp_path / "t.csv", ROWS))
    as_of, _ = rhythms(data, "c1", None)
    assert as_of == date(2025, 11, 24)  # the store's last line is c2's on Nov 23


def test_unknown_customer_is_a_clear_error(tmp_path: Path, store: StoreRef) -> None:
    data = store
    ingest(data, write(tmp_path / "t.csv", ROWS))
    with pytest.raises(NotFoundError, match="no purchases of customer 'nobody'"):
        rhythms(data, "nobody", None)


def test_an_empty_store_is_an_empty_store_error(store: StoreRef) -> None:
    """As every other command says it (exit 4), not "not found" (exit 3)."""
    with pytest.raises(EmptyStoreError, match="no transactions yet"):
        rhythms(store, "c1", None)


def test_a_return_comes_off_the_purchase_it_undoes(tmp_path: Path, store: StoreRef) -> None:
    rows = """customer_id,order_id,ts,product_id,product_name,quantity
c3,o1,2025-11-01 09:00,milk,Whole Milk 1L,2
c3,r1,2025-11-03 09:00,milk,Whole Milk 1L,-1
c3,o2,2025-11-11 09:00,milk,Whole Milk 1L,1
c3,o3,2025-11-21 09:00,milk,Whole Milk 1L,1
"""
    data = store
    ingest(data, write(tmp_path / "t.csv", rows))
    _, (milk,) = rhythms(data, "c3", date(2025, 11, 24))
    assert milk.purchases == 3
    assert milk.units_per_purchase == pytest.approx(1.0)  # 2 - 1 kept on Nov 1
    assert milk.cycle_days == pytest.approx(10.0, rel=0.01)  # not 20 days / 3 units


# Milk and oat drink on alternate trips five days apart: each product every 10 days, dairy
# (any product) every 5.
CATEGORY_ROWS = """customer_id,order_id,ts,product_id,product_name,category,quantity
c1,o1,2025-11-01 09:00,milk,Whole Milk 1L,dairy,1
c1,o2,2025-11-06 09:00,oat,Oat Drink 1L,dairy,1
c1,o3,2025-11-11 09:00,milk,Whole Milk 1L,dairy,1
c1,o4,2025-11-16 09:00,oat,Oat Drink 1L,dairy,1
c1,o5,2025-11-21 09:00,milk,Whole Milk 1L,dairy,1
c1,o5,2025-11-21 09:00,bread,Bread,bakery,1
c2,o6,2025-11-23 09:00,milk,Whole Milk 1L,dairy,1
"""


def test_category_rhythms_count_any_product_of_the_category(
    tmp_path: Path, store: StoreRef
) -> None:
    ingest(store, write(tmp_path / "t.csv", CATEGORY_ROWS))
    with opened(data_dir=store) as container:
        service = container.customer_service()
        _, products = service.rhythms("c1", date(2025, 11, 24))
        _, categories = service.rhythms("c1", date(2025, 11, 24), level="category")
        view = container.views().rhythms("c1", date(2025, 11, 24), level="category")
    assert {p.product_id for p in products} == {"milk", "oat"}
    assert all(p.interval_days > 8 for p in products)  # each product every 10 days
    (dairy,) = categories  # bread (bakery) was bought once
    assert (dairy.product_id, dairy.product_name, dairy.purchases) == ("dairy", "dairy", 5)
    assert 4.5 < dairy.interval_days < 6
    assert dairy.statement().startswith("Buys dairy about every 5 days")
    assert view["level"] == "category"
    (row,) = view["rhythms"]
    assert (row["category"], row["product_id"], row["product_name"]) == ("dairy", None, None)
