"""The overview analytics on a small hand-checked store (Ibis over the real DuckDB file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnix.domain.errors import EmptyStoreError
from tests.backends import StoreRef
from tests.integration.helpers import ingest, opened, write

ROWS = """customer_id,order_id,ts,product_id,product_name,quantity,unit_price
c1,o1,2024-01-05 10:00,milk,Milk,2,1.00
c1,o1,2024-01-05 10:00,POST,Postage,1,5.00
c1,o2,2024-02-07 10:00,milk,Milk,1,1.00
c1,Co2,2024-02-08 10:00,milk,Milk,-1,1.00
c2,o3,2024-02-09 10:00,bread,Bread,1,2.50
,o4,2024-02-10 10:00,bread,Bread,3,2.50
"""


def test_business_summary_nets_returns_and_excludes_fees_and_anonymous(
    tmp_path: Path, store: StoreRef
) -> None:
    data = store
    src = write(tmp_path / "t.csv", ROWS)
    ingest(data, src, cancellation_prefix="C", non_product_pattern="POST")
    with opened(data_dir=data) as container:
        analysis = container.analyse_service().analyse(top=5)
    b = analysis.business
    assert b["net_revenue"] == pytest.approx(2.0 + 1.0 - 1.0 + 2.5)
    assert b["returned_value"] == pytest.approx(1.0)
    assert b["net_units"] == pytest.approx(3.0)
    assert b["customers"] == 2
    assert b["repeat_customers"] == 1  # c1: o1, o2, Co2
    assert analysis.store["lines"] == 6
    assert analysis.store["anonymous_lines"] == 1
    assert analysis.store["non_product_lines"] == 1
    months = {m["month"].month: m["net_revenue"] for m in analysis.monthly}
    assert months == {1: pytest.approx(2.0), 2: pytest.approx(2.5)}
    top = analysis.top_products
    assert [p["product_id"] for p in top] == ["milk", "bread"]
    assert top[0]["net_units"] == pytest.approx(2.0)


def test_analyse_on_an_empty_store_says_what_to_do(tmp_path: Path, store: StoreRef) -> None:
    with (
        opened(data_dir=store) as container,
        pytest.raises(EmptyStoreError, match="omnix ingest"),
    ):
        container.analyse_service().analyse()
