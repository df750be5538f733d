"""The same Ibis analytics on DuckDB and on the real PostgreSQL server give the same results.

`make test` makes sure PostgreSQL runs (scripts/ensure-postgres.sh); a missing server fails
here loudly instead of skipping. URL: OMNIX_TEST_PG_URL (default postgres://postgres@localhost:5432/test).
"""

from __future__ import annotations

import datetime
import math
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import ibis
import pyarrow as pa
import pytest

from omnix.analytics import backtest as bt
from omnix.analytics import (
    clv,
    consent,
    kpis,
    overview,
    predictions,
    profiles,
    snapshots,
    spending,
)
from omnix.bootstrap import bootstrap
from omnix.config import Settings
from omnix.domain.consent import Purpose
from omnix.generate import GeneratorConfig, generate
from tests.integration.helpers import ingest, write

PG_URL = os.environ.get("OMNIX_TEST_PG_URL", "postgres://postgres@localhost:5432/test")
UTC = datetime.UTC
AS_OF = datetime.datetime(2025, 7, 1, tzinfo=UTC)
CUT = datetime.datetime(2025, 5, 1, tzinfo=UTC)
END = CUT + datetime.timedelta(days=30)

EXTRA = """customer_id,order_id,ts,product_id,quantity,unit_price
X1,x1,2025-02-01 10:00,P-MILK,2,1.0
X1,x1,2025-02-01 10:00,POST,1,4.5
X1,Cx1,2025-02-02 10:00,P-MILK,-1,1.0
,x2,2025-02-03 10:00,P-MILK,1,1.0
"""

Builder = Callable[[Any], Any]
BUILDERS: dict[str, Builder] = {
    "store_overview": overview.store_overview,
    "business_summary": overview.business_summary,
    "monthly": overview.monthly,
    "top_products": lambda t: overview.top_products(t, 15),
    "history_baskets": lambda t: bt.history_baskets(t, CUT),
    "evaluated_customers": lambda t: bt.evaluated_customers(t, CUT, END),
    "next_baskets": lambda t: bt.next_baskets(t, CUT, END),
    "window_purchases": lambda t: bt.window_purchases(t, CUT, END),
    "product_attributes": lambda t: bt.product_attributes(t, CUT),
    "rfm_summary": lambda t: clv.rfm_summary(t, CUT.date(), END.date()),
    "profiles": lambda t: profiles.profiles(t, AS_OF),
    "profiles_local_time": lambda t: profiles.habits(t, AS_OF, "America/New_York"),
    "top_categories": lambda t: profiles.top_categories(t, AS_OF, 5),
    "category_shares": lambda t: profiles.category_shares(t, AS_OF, ["dairy", "bakery"]),
    "main_currency": profiles.main_currency,
    "tiered_lines": lambda t: profiles.tiered_lines(t, AS_OF),
    "flagged_lines": lambda t: spending.flagged_lines(t, AS_OF, ["Omni"], ["baby"]),
    "spending_profile": lambda t: spending.spending_profile(
        t, AS_OF, t.filter(t.customer_id < "C000060"), ["Omni", "Everyday Basics"], ["pet"]
    ),
    "spending_no_labels": lambda t: spending.spending_profile(t, AS_OF),
    "period_kpis": lambda t: kpis.period_kpis(t, CUT, END),
    "category_mix": lambda t: kpis.category_mix(
        t, t.filter(t.customer_id < "C000060").select("customer_id"), CUT, END, 5
    ),
}


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    root = tmp_path_factory.mktemp("portability")
    config = GeneratorConfig(customers=120, days=180, seed=4, start=datetime.date(2025, 1, 1))
    result = generate(config, root / "g.parquet")
    store = root / "store"
    ingest(store, result.files["transactions"])
    ingest(store, write(root / "x.csv", EXTRA), cancellation_prefix="C", non_product_pattern="POST")
    try:
        pg = ibis.connect(PG_URL)
    except Exception as err:  # the server is part of the test setup: fail, never skip
        pytest.fail(
            f"PostgreSQL at {PG_URL} is not reachable ({err}); run scripts/ensure-postgres.sh"
        )
    container = bootstrap(Settings(data_dir=store))
    duck = container.warehouse.ibis().table("transactions")
    name = f"omnix_port_{uuid.uuid4().hex[:10]}"
    pg_table = pg.create_table(name, duck.drop("attributes").to_pyarrow())
    try:
        yield duck, pg_table
    finally:
        pg.drop_table(name)
        container.close()


def normalise(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.astimezone(UTC) if value.tzinfo else value
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def rows(expr: Any) -> list[tuple[Any, ...]]:
    table = expr.to_pyarrow()
    out = [tuple(normalise(v) for v in row.values()) for row in table.to_pylist()]
    return sorted(out, key=lambda r: tuple((v is None, str(v)) for v in r))


@pytest.mark.parametrize("name", list(BUILDERS))
def test_duckdb_and_postgres_agree(tables: tuple[Any, Any], name: str) -> None:
    duck, pg = tables
    expected, got = rows(BUILDERS[name](duck)), rows(BUILDERS[name](pg))
    assert len(got) == len(expected) > 0
    for e, g in zip(expected, got, strict=True):
        assert len(e) == len(g)
        for ev, gv in zip(e, g, strict=True):
            if isinstance(ev, float) or isinstance(gv, float):
                assert gv == pytest.approx(ev, rel=1e-9, abs=1e-9), (name, e, g)
            else:
                assert gv == ev, (name, e, g)


CONSENTS = pa.table({
    "customer_id": ["A", "A", "B", "C", "C"],
    "purpose": ["profiling", "profiling", "profiling", "profiling", "analytics"],
    "granted": [True, False, True, False, True],
    "recorded_at": pa.array([datetime.datetime(2025, 1, d, tzinfo=UTC) for d in (1, 2, 1, 1, 3)],
                            pa.timestamp("us", "UTC")),
    "source": ["t"] * 5,
})  # fmt: skip
SNAPSHOTS = pa.table({
    "snapshot_date": [datetime.date(2025, 1, 1)] * 3 + [datetime.date(2025, 2, 1)] * 3,
    "customer_id": ["A", "B", "C", "A", "B", "D"],
    "segment": ["Champions", "Loyal", "Lost", "At Risk", "Loyal", "New"],
    "cluster_id": [0, 1, 2, 1, 1, 0],
    "net_revenue": [100.0, 50.0, 5.0, 110.0, 80.0, 7.5],
    "clv": [10.0, 5.0, 0.5, 3.0, 6.0, 2.0],
    "p_alive": [0.9, 0.8, 0.1, 0.4, 0.9, 1.0],
})  # fmt: skip
D1, D2 = datetime.date(2025, 2, 1), datetime.date(2025, 2, 5)
PREDICTIONS = pa.table({
    "snapshot_date": [datetime.date(2025, 2, 1)] * 4 + [datetime.date(2025, 1, 1)],
    "customer_id": ["A", "A", "B", "D", "A"],
    "product_id": ["MILK", "WINE", "MILK", "BREAD", "MILK"],
    "probability": [0.9, 0.2, 0.6, 0.6, 0.5],
    "expected_next_date": [D2, datetime.date(2025, 3, 1), D1, D2, D2],
    "category": ["dairy", "wine", "dairy", None, "dairy"],
})  # fmt: skip
OTHER: dict[str, Callable[[Any, Any], Any]] = {
    "consent_latest": lambda c, s: consent.latest(c, Purpose.PROFILING),
    "consent_permitted_default_granted": lambda c, s: consent.permitted(
        s, c, Purpose.PROFILING, True
    ),
    "consent_with_denied_default": lambda c, s: consent.with_consent(
        s, c, Purpose.PROFILING, False
    ),
    "migration_matrix": lambda c, s: snapshots.matrix(
        s, datetime.date(2025, 1, 1), datetime.date(2025, 2, 1)
    ),
    "migration_movers": lambda c, s: snapshots.movers(
        s, datetime.date(2025, 1, 1), datetime.date(2025, 2, 1)
    ),
    "due_within_7_days": lambda p, s: predictions.due(p, s, D1, 7),
    "due_dairy_at_risk": lambda p, s: predictions.due(p, s, D1, 7, "dairy", "At Risk"),
}
WITH_PREDICTIONS = {"due_within_7_days", "due_dairy_at_risk"}


@pytest.mark.parametrize("name", list(OTHER))
def test_consent_and_migration_agree(name: str) -> None:
    suffix = uuid.uuid4().hex[:10]
    results = []
    for con in (ibis.duckdb.connect(), ibis.connect(PG_URL)):
        first = PREDICTIONS if name in WITH_PREDICTIONS else CONSENTS
        c = con.create_table(f"omnix_first_{suffix}", first, temp=True)
        s = con.create_table(f"omnix_snapshots_{suffix}", SNAPSHOTS, temp=True)
        results.append(rows(OTHER[name](c, s)))
        con.disconnect()
    assert results[0] == results[1] and len(results[0]) > 0
