"""Spending profiles, consent gating, snapshots and migration through a real DuckDB store."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from omnix.analytics.spending import spending_profile
from omnix.domain.consent import Purpose
from omnix.domain.privacy import protected_attribute
from omnix.domain.snapshots import SNAPSHOT_COLUMNS, SPENDING_COLUMNS
from omnix.services.consent import permitted
from tests.backends import BACKENDS, StoreRef
from tests.integration.helpers import generated_store, ingest, opened, query, write

UTC = datetime.UTC
AS_OF = datetime.datetime(2025, 2, 1, tzinfo=UTC)

# MILK's median price is 1.0, so A's 0.8 line is a discount (> 5 % below). Category medians:
# dairy 1.0, bakery 2.0, wine 20 -> wine is the premium category. "Pharmacy & Health" is a
# protected attribute (health) and must leave no trace.
SPEND = """customer_id,order_id,ts,product_id,category,brand,quantity,unit_price
A,o1,2025-01-06 10:00,MILK,dairy,Omni,2,1.0
A,o1,2025-01-06 10:00,CHEESE,dairy,Alpenhof,1,6.0
A,o2,2025-01-13 10:00,MILK,dairy,Omni,1,0.8
B,o3,2025-01-07 10:00,MILK,dairy,Omni,1,1.0
B,o3,2025-01-07 10:00,WINE,wine,,1,20.0
B,o4,2025-01-08 10:00,BREAD,bakery,Bakehouse,1,2.0
C,o5,2025-01-09 10:00,PILLS,Pharmacy & Health,Omni Finest,1,5.0
C,o5,2025-01-09 10:00,BREAD,bakery,Bakehouse,2,2.0
D,o6,2025-01-10 10:00,WINE,wine,,1,20.0
E,o7,2025-01-11 10:00,SOAP,,,1,3.0
"""


def spending(data: Path, labels: tuple[str, ...] = ("Omni",), only: Any = None) -> dict[str, Any]:
    with opened(data_dir=data) as container:
        tx = container.warehouse.ibis().table("transactions")
        allowed = None if only is None else tx.filter(tx.customer_id.isin(only))
        expr = spending_profile(tx, AS_OF, allowed, labels, excluded=["Pharmacy & Health"])
        return {r["customer_id"]: r for r in expr.to_pyarrow().to_pylist()}


@pytest.fixture
def spend_store(tmp_path: Path, store: StoreRef) -> StoreRef:
    ingest(store, write(tmp_path / "s.csv", SPEND))
    return store


def test_spending_profile_known_answers(spend_store: Path) -> None:
    rows = spending(spend_store)
    a, b, c, d = rows["A"], rows["B"], rows["C"], rows["D"]
    # dairy tiers: 0.8 -> 0, 1.0 (x2, tied) -> 1/3, 6.0 -> 1
    assert a["price_tier_index"] == pytest.approx((1 / 3 + 1 + 0) / 3)
    assert a["private_label_share"] == pytest.approx(2.8 / 8.8)
    assert a["promo_sensitivity"] == pytest.approx(0.8 / 8.8)
    assert a["premium_category_share"] == 0.0
    assert a["price_tier_categories"] == "dairy" and a["promo_categories"] == "dairy"
    assert a["premium_categories"] is None
    assert b["price_tier_index"] == pytest.approx(1 / 9)
    assert b["private_label_share"] == pytest.approx(1 / 3)  # the wine has no brand
    assert b["promo_sensitivity"] == 0.0 and b["promo_categories"] is None
    assert b["premium_category_share"] == pytest.approx(20 / 23)
    assert b["premium_categories"] == "wine" and b["private_label_categories"] == "dairy"
    assert c["price_tier_index"] == 0.0 and c["private_label_share"] == 0.0
    assert d["private_label_share"] is None  # brand unknown: NULL, not 0
    assert d["premium_category_share"] == 1.0
    e = rows["E"]  # nothing categorised or branded: unknown, not 0
    assert e["premium_category_share"] is None and e["private_label_share"] is None
    assert e["price_tier_index"] == 0.0 and e["price_tier_categories"] is None


def test_protected_category_leaves_no_trace(spend_store: Path) -> None:
    rows = spending(spend_store)
    # C bought "Omni Finest" pills: counted, that would make C's private-label share 5 / 9
    assert rows["C"]["private_label_share"] == 0.0
    for row in rows.values():
        for key, value in row.items():
            assert protected_attribute(key) is None
            if key.endswith("_categories") and value:
                assert all(protected_attribute(n) is None for n in value.split(", ")), value


def test_without_private_labels_the_share_is_unknown(spend_store: Path) -> None:
    rows = spending(spend_store, labels=())
    assert all(r["private_label_share"] is None for r in rows.values())
    assert all(r["private_label_categories"] is None for r in rows.values())


def test_only_permitted_customers_are_profiled(spend_store: Path) -> None:
    rows = spending(spend_store, only=["A", "D"])
    assert set(rows) == {"A", "D"}
    everyone = spending(spend_store)
    assert rows["A"] == everyone["A"]  # store-wide price ranks still use every line


def test_consent_log_latest_record_wins(spend_store: Path, tmp_path: Path) -> None:
    with opened(data_dir=spend_store) as container:
        consent = container.consent_service()
        consent.set("A", Purpose.PROFILING, True)
        consent.set("B", Purpose.PROFILING, True)
        consent.set("B", Purpose.PROFILING, False)  # withdrawn
        consent.set("C", Purpose.ANALYTICS, True)  # another purpose
        file = write(tmp_path / "c.csv", "customer_id,purpose,granted\nD,profiling,no\n")
        assert consent.import_file(file).recorded == 1
        assert consent.import_file(file).unknown_customers == 0
        assert consent.without_lines(["A", "Z", "Z", "a"]) == ["Z", "a"]

        def ids(default: bool) -> set[str]:
            expr = permitted(container.warehouse, Purpose.PROFILING, default)
            return set(expr.to_pyarrow()["customer_id"].to_pylist())

        assert ids(False) == {"A"}
        assert ids(True) == {"A", "C", "E"}  # no profiling record; B and D said no


@pytest.fixture(scope="module", params=BACKENDS)
def generated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StoreRef]:
    with generated_store(request.param, tmp_path_factory.mktemp("c360")) as store:
        yield store


def analyze(data: Path, day: datetime.date, default: str) -> Any:
    with opened(data_dir=data, private_labels="Everyday Basics,Omni") as container:
        return container.analyze_service(default_consent=default).run(day)


def snapshot(data: Path, day: str) -> list[tuple[Any, ...]]:
    return query(data, f"SELECT * FROM customer_snapshots WHERE snapshot_date = '{day}' "
                       "ORDER BY customer_id")  # fmt: skip


def assert_same(got: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]) -> None:
    """Equal rows; floats to 1e-6 relative: parallel sums may add in another order (1e-16),
    and the BG/NBD fit's stopping point moves with them (measured: CLV 2.5e-9 apart)."""
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        for gv, ev in zip(g, e, strict=True):
            assert gv == (pytest.approx(ev, rel=1e-6) if isinstance(ev, float) else ev)


def runs_of(data: Path, command: str) -> int:
    return int(query(data, f"SELECT count(*) FROM runs WHERE command = '{command}'")[0][0])


def test_snapshot_is_idempotent_and_complete(generated: Path) -> None:
    segment_runs = runs_of(generated, "segments")
    first = analyze(generated, datetime.date(2025, 6, 1), "granted")
    rows = snapshot(generated, "2025-06-01")
    assert len(rows) == first.customers == first.snapshot_rows == first.profiled > 250
    again = analyze(generated, datetime.date(2025, 6, 1), "granted")
    assert again.snapshot_rows == first.snapshot_rows
    assert_same(snapshot(generated, "2025-06-01"), rows)  # same date twice -> same rows
    assert list(first.seconds) == [
        "rhythms",
        "predictions",
        "profiles",
        "segments",
        "clv",
        "clusters",
        "spending",
        "snapshot",
    ]  # rhythms come first
    runs = query(generated, "SELECT detail FROM runs WHERE command = 'analyze' "
                            "AND status = 'ok'")  # fmt: skip
    assert len(runs) == 2 and '"spending"' in runs[0][0]
    # an analysis is one run: its segments stage used to be listed as a second one
    assert runs_of(generated, "segments") == segment_runs


def test_snapshot_carries_each_customers_rhythms(generated: Path) -> None:
    """The rhythm stage: products with a rhythm, their regularity (the one the clusters used),
    what is due in 14 days."""
    report = analyze(generated, datetime.date(2025, 6, 1), "granted")
    columns = "rhythm_products, rhythm_regularity, due_14d, next_due_days, regular_products"
    sql = f"SELECT {columns} FROM customer_snapshots WHERE snapshot_date = '2025-06-01'"
    rows = query(generated, sql)
    with_rhythm = [r for r in rows if r[0] > 0]
    assert len(with_rhythm) > 0.8 * len(rows)
    assert all(0 <= r[2] <= r[0] for r in rows)  # due products are products with a rhythm
    assert all(r[3] is not None and r[3] >= 0 for r in with_rhythm)  # never in the past
    assert any(r[2] > 0 for r in rows)
    assert all(0 <= r[4] <= r[0] for r in rows)  # bought on >= 3 days: bought on >= 2 days
    assert all(r[1] is not None and 0 < r[1] <= 1 for r in rows)  # known for everyone
    # without a product bought on >= 3 days, every customer gets the same prior, not 0
    assert len({r[1] for r in rows if r[4] == 0}) == 1
    assert report.segments is not None and report.segments.customers_table is not None
    profile = dict(
        zip(
            report.segments.customers_table["customer_id"].to_pylist(),
            report.segments.customers_table["regularity"].to_pylist(),
            strict=True,
        )
    )
    stored = dict(query(generated, "SELECT customer_id, rhythm_regularity FROM "
                        "customer_snapshots WHERE snapshot_date = '2025-06-01'"))  # fmt: skip
    assert stored == profile  # one computation for the profile, the clusters and the snapshot


def test_a_failed_write_leaves_the_previous_snapshot(generated: Path) -> None:
    analyze(generated, datetime.date(2025, 5, 1), "granted")
    before = snapshot(generated, "2025-05-01")
    names = [n for n, _ in SNAPSHOT_COLUMNS]
    bad = pa.table({n: pa.array(["x", "x"]) for n in names})  # duplicate key, text as numbers
    with (
        opened(data_dir=generated) as container,
        pytest.raises(Exception),  # noqa: B017 - the engine's own error
    ):
        container.warehouse.write_snapshot(datetime.date(2025, 5, 1), bad)
    assert_same(snapshot(generated, "2025-05-01"), before)


def test_denied_customers_get_no_spending_profile(generated: Path, tmp_path: Path) -> None:
    with opened(data_dir=generated) as container:
        container.consent_service().set("C000001", Purpose.PROFILING, True)
        container.consent_service().set("C000002", Purpose.PROFILING, False)
    report = analyze(generated, datetime.date(2025, 7, 1), "denied")
    assert report.profiled == 1 and report.default_consent == "denied"
    columns = ", ".join(SPENDING_COLUMNS)
    rows = query(generated, f"SELECT customer_id, profiling_consent, {columns} FROM "
                            "customer_snapshots WHERE snapshot_date = '2025-07-01'")  # fmt: skip
    consented = [r for r in rows if r[1]]
    assert [r[0] for r in consented] == ["C000001"] and consented[0][2] is not None
    assert all(v is None for r in rows if not r[1] for v in r[2:])
    # granted default, but C000002 said no; then C000001 withdraws after the snapshot
    analyze(generated, datetime.date(2025, 7, 1), "granted")
    with opened(data_dir=generated) as container:
        container.consent_service().set("C000001", Purpose.PROFILING, False)
        summary = container.snapshot_service("granted").export(tmp_path / "p.parquet")
    import pyarrow.parquet as pq

    out = {r["customer_id"]: r for r in pq.read_table(tmp_path / "p.parquet").to_pylist()}
    assert summary.rows == len(out) and summary.profiled == len(out) - 2
    for who in ("C000001", "C000002"):
        assert all(out[who][k] is None for k in SPENDING_COLUMNS)
        assert out[who]["segment"] and out[who]["clv"] is not None


def test_reset_erases_consents_and_snapshots(tmp_path: Path, spend_store: Path) -> None:
    with opened(data_dir=spend_store) as container:
        container.consent_service().set("A", Purpose.PROFILING, True)
        container.analyze_service(default_consent="granted").run(AS_OF.date())
        counts = container.warehouse.table_counts()
        assert counts["consents"] == 1 and counts["customer_snapshots"] == 5
        assert counts["predictions"] > 0
        container.warehouse.reset()
        counts = container.warehouse.table_counts()
        assert counts["consents"] == 0 and counts["customer_snapshots"] == 0
        assert counts["predictions"] == 0


def snapshot_table(rows: list[tuple[str, str, float]]) -> pa.Table:
    """Snapshot rows (customer, segment, lifetime net revenue); other columns filled in."""
    n = len(rows)
    columns: dict[str, Any] = {name: [None] * n for name, _ in SNAPSHOT_COLUMNS}
    columns["customer_id"] = [r[0] for r in rows]
    columns["segment"] = [r[1] for r in rows]
    columns["net_revenue"] = [r[2] for r in rows]
    columns["cluster_id"] = [0] * n
    columns["clv"] = [r[2] / 2 for r in rows]
    return pa.table({k: pa.array(v, pa.float64() if k in {"net_revenue", "clv"} else None)
                     for k, v in columns.items()})  # fmt: skip


def test_migration_matrix_by_hand(tmp_path: Path, store: StoreRef) -> None:
    june = [("X", "Champions", 100.0), ("Y", "Champions", 50.0), ("Z", "Lost", 10.0),
            ("W", "Loyal", 30.0), ("U", "Champions", 40.0)]  # fmt: skip
    july = [("X", "Champions", 150.0), ("Y", "At Risk", 50.0), ("Z", "Lost", 10.0),
            ("V", "New", 5.0), ("U", "At Risk", 45.0)]  # fmt: skip
    with opened(data_dir=store) as container:
        container.warehouse.write_snapshot(datetime.date(2025, 6, 1), snapshot_table(june))
        container.warehouse.write_snapshot(datetime.date(2025, 7, 1), snapshot_table(july))
        service = container.snapshot_service()
        report = service.migration(datetime.date(2025, 6, 1), datetime.date(2025, 7, 1))
        only = service.migration(datetime.date(2025, 6, 1), datetime.date(2025, 7, 1),
                                 from_segment="Champions", to_segment="At Risk")  # fmt: skip
    cells = {(r["from_segment"], r["to_segment"]): (r["customers"], r["revenue"])
             for r in report.cells}  # fmt: skip
    assert cells == {
        ("Champions", "Champions"): (1, 50.0),  # X spent 50 more
        ("Champions", "At Risk"): (2, 5.0),  # Y nothing, U 5
        ("Lost", "Lost"): (1, 0.0),
        ("Loyal", "(gone)"): (1, 0.0),  # W erased: nothing known after June
        ("(new)", "New"): (1, 5.0),  # V's whole revenue is new
    }
    assert report.customers == 6 and report.moved == 4
    assert report.segments == ["(new)", "Champions", "Loyal", "New", "At Risk", "Lost", "(gone)"]
    assert [m["customer_id"] for m in report.movers] == ["Y", "U", "W", "V"]  # by June revenue
    assert [m["customer_id"] for m in only.movers] == ["Y", "U"]


def test_no_protected_category_describes_a_customer_or_a_segment(spend_store: Path) -> None:
    """C's top category was "Pharmacy & Health" (5.0 of pills against 4.0 of bread) in the
    profile, the snapshot and the customer page, even with profiling denied; a segment's
    categories named it too. Only the spending profile left it out."""
    with opened(data_dir=spend_store) as container:
        container.analyze_service(default_consent="denied").run(datetime.date(2025, 2, 1))
        view = container.snapshot_service().customer("C")
        live = container.views().customer("C")
        segment = view["snapshot"]["segment"]
        categories = container.dashboard_service().top_categories(segment)
    assert view["profile"]["top_category_1"] == "bakery"
    assert view["profile"]["top_category_2"] is None  # pills are no category to describe C
    text = json.dumps([view, live, categories], default=str)
    assert "Pharmacy" not in text and "Health" not in text
    assert {r["category"] for r in categories} <= {"bakery", "dairy", "wine"}
