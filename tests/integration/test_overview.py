"""The overview analytics on a small hand-checked store (Ibis over the real DuckDB file)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from omnix.analytics import kpis
from omnix.domain.access import Role
from omnix.domain.errors import EmptyStoreError
from tests.api_support import api
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


UNPRICED = """customer_id,order_id,ts,product_id,quantity,unit_price
c1,o1,2024-01-05 10:00,milk,2,
c1,o2,2024-01-12 10:00,milk,1,
c1,o3,2024-01-19 10:00,milk,1,
c2,o4,2024-02-09 10:00,bread,1,
c2,o5,2024-02-16 10:00,bread,1,
"""


def test_data_without_prices_reports_revenue_as_unknown_not_zero(
    tmp_path: Path, store: StoreRef
) -> None:
    """The Instacart export has no prices: the overview showed a net revenue of 0, every
    segment's share of revenue as 0.0 % and a predicted revenue of 0. Unknown, not 0."""
    ingest(store, write(tmp_path / "u.csv", UNPRICED))
    with opened(data_dir=store) as container:
        analysis = container.analyse_service().analyse(top=5)
        container.analyze_service(default_consent="granted").run(datetime.date(2024, 2, 20))
        overview = container.dashboard_service().overview(period_days=30)
        summary = container.views().segments()
        orders = container.dashboard_service().purchases("c1")
    b = analysis.business
    assert b["net_revenue"] is None and b["avg_order_value"] is None
    assert b["median_customer_revenue"] is None
    assert b["net_units"] == pytest.approx(6.0) and b["orders"] == 5  # what is known stays
    assert [m["net_revenue"] for m in analysis.monthly] == [None, None]
    assert [p["net_revenue"] for p in analysis.top_products] == [None, None]
    kpi = {k.key: k for k in overview.kpis}
    assert kpi["net_revenue"].value is None and kpi["net_revenue"].previous is None
    assert "no prices" in kpi["net_revenue"].note
    assert kpi["predicted_revenue_30d"].value is None
    assert "no prices" in kpi["predicted_revenue_30d"].note
    assert kpi["active_customers"].value == 2  # the 30 days before Feb 17: c1 Jan 19, c2
    assert summary["net_revenue"] is None
    groups = summary["segments"] + summary["clusters"]
    assert groups and all(g["revenue_share"] is None and g["net_revenue"] is None for g in groups)
    assert [o["net_value"] for o in orders] == [None, None, None]
    with api(store, api_cache_entries=0) as site:
        client = site.client
        form = client.get("/sign-in").text
        token = form.split('name="csrf" value="')[1].split('"')[0]
        signed = client.post("/sign-in", data={"key": site.keys[Role.VIEWER], "csrf": token,
                             "next": "/"}, follow_redirects=False)  # fmt: skip
        assert signed.status_code == 303
        home, segments = client.get("/").text, client.get("/segments").text
    assert home.count("unknown: the data holds no prices") == 2  # net and predicted revenue
    assert "Net revenue by month" not in home and "Active customers by month" in home
    assert "revenue unknown (the data holds no prices)" in segments
    assert "Share of net revenue by segment" not in segments


def test_a_quiet_period_of_priced_data_has_revenue_zero(tmp_path: Path, store: StoreRef) -> None:
    """Unknown means no price anywhere; a period without sales in priced data is 0."""
    ingest(store, write(tmp_path / "t.csv", ROWS))
    start = datetime.datetime(2024, 3, 1, tzinfo=datetime.UTC)
    with opened(data_dir=store) as container:
        tx = container.warehouse.ibis().table("transactions")
        quiet = kpis.period_kpis(tx, start, start + datetime.timedelta(days=30))
        busy = kpis.period_kpis(tx, start - datetime.timedelta(days=60), start)
        (quiet_row,), (busy_row,) = quiet.to_pyarrow().to_pylist(), busy.to_pyarrow().to_pylist()
    assert quiet_row["net_revenue"] == 0.0 and quiet_row["orders"] == 0
    assert busy_row["net_revenue"] == pytest.approx(2.0 + 5.0 + 1.0 - 1.0 + 2.5)
