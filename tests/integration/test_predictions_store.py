"""Predictions `omnix analyze` persists per date, and who is due for what, through a real
DuckDB store."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from omnix.domain.consent import Purpose
from omnix.domain.errors import ConfigError, NotFoundError
from omnix.domain.snapshots import PREDICTION_COLUMNS, SNAPSHOT_COLUMNS
from tests.backends import BACKENDS, StoreRef
from tests.integration.helpers import generated_store, ingest, opened, query

DAY = datetime.date(2025, 6, 1)


@pytest.fixture(scope="module", params=BACKENDS)
def generated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StoreRef]:
    with generated_store(request.param, tmp_path_factory.mktemp("predictions")) as store:
        yield store


def analyze(data: Path | StoreRef, day: datetime.date, **options: Any) -> Any:
    with opened(data_dir=data) as container:
        return container.analyze_service(default_consent="granted", **options).run(day)


def stored(data: Path | StoreRef, day: datetime.date) -> list[dict[str, Any]]:
    names = ["customer_id", "product_id", "rank", "probability", "expected_next_date",
             "purchases", "category", "horizon_days", "statement"]  # fmt: skip
    rows = query(data, f"SELECT {', '.join(names)} FROM predictions WHERE snapshot_date = "
                       f"'{day}' ORDER BY customer_id, product_id")  # fmt: skip
    return [dict(zip(names, r, strict=True)) for r in rows]


def test_analyze_keeps_the_top_and_everything_due_and_is_idempotent(generated: Path) -> None:
    report = analyze(generated, DAY)
    rows = stored(generated, DAY)
    assert report.predictions == len(rows) > 300 and report.horizon_days == 14
    horizon_end = DAY + datetime.timedelta(days=14)
    for r in rows:
        due = r["purchases"] >= 2 and r["expected_next_date"] < horizon_end
        assert r["rank"] <= 10 or due, r  # bounded: top 10 plus what is due
        assert 0 <= r["probability"] <= 1 and r["expected_next_date"] >= DAY
        assert r["horizon_days"] == 14 and r["category"]
        # a product bought once has no rhythm of its own: "Bought X once, ..."
        assert r["statement"].startswith("Bought " if r["purchases"] == 1 else "Buys "), r
    assert len({(r["customer_id"], r["product_id"]) for r in rows}) == len(rows)  # unique
    ranks: dict[str, set[int]] = {}
    for r in rows:
        ranks.setdefault(r["customer_id"], set()).add(r["rank"])
    assert all(set(range(1, min(10, max(k)) + 1)) <= k for k in ranks.values())
    assert any(r["rank"] > 10 for r in rows)  # due beyond the top 10 are kept too
    again = analyze(generated, DAY)
    rerun = stored(generated, DAY)
    assert again.predictions == len(rerun)
    assert [(r["customer_id"], r["product_id"], r["rank"]) for r in rerun] == [
        (r["customer_id"], r["product_id"], r["rank"]) for r in rows
    ]
    assert [r["probability"] for r in rerun] == pytest.approx([r["probability"] for r in rows])


def test_the_horizon_and_top_are_options(generated: Path) -> None:
    day = datetime.date(2025, 7, 1)
    analyze(generated, day, horizon_days=7, top=3)
    rows = stored(generated, day)
    end = day + datetime.timedelta(days=7)
    assert rows and all(r["horizon_days"] == 7 for r in rows)
    assert all(r["rank"] <= 3 or r["expected_next_date"] < end for r in rows)


def test_a_failed_write_keeps_the_previous_snapshot_and_predictions(generated: Path) -> None:
    analyze(generated, DAY)
    before_snapshot = query(generated, f"SELECT count(*), sum(clv) FROM customer_snapshots "
                                       f"WHERE snapshot_date = '{DAY}'")  # fmt: skip
    before = stored(generated, DAY)
    good = pa.table({"customer_id": ["X"], "segment": ["Lost"]})
    bad = pa.table({"customer_id": ["A"], "product_id": ["P"], "probability": ["high"]})
    with opened(data_dir=generated) as container, pytest.raises(Exception):  # noqa: B017
        container.warehouse.write_snapshot(DAY, good, bad)
    after = query(generated, f"SELECT count(*), sum(clv) FROM customer_snapshots "
                             f"WHERE snapshot_date = '{DAY}'")  # fmt: skip
    assert after == before_snapshot and stored(generated, DAY) == before


def hand_made(store: StoreRef) -> StoreRef:
    """Two snapshot dates by hand: customers A (Champions), B (Loyal), C (At Risk)."""
    day, earlier = datetime.date(2025, 3, 1), datetime.date(2025, 2, 1)
    people = {"A": "Champions", "B": "Loyal", "C": "At Risk"}
    snap: dict[str, Any] = {name: [None] * 3 for name, _ in SNAPSHOT_COLUMNS}
    snap["customer_id"], snap["segment"] = list(people), list(people.values())
    d = datetime.date

    def preds(rows: list[tuple[str, str, float, datetime.date, str]]) -> pa.Table:
        cols: dict[str, Any] = {name: [None] * len(rows) for name, _ in PREDICTION_COLUMNS}
        for k, key in enumerate(("customer_id", "product_id", "probability",
                                 "expected_next_date", "category")):  # fmt: skip
            cols[key] = [r[k] for r in rows]
        cols["horizon_days"] = [14] * len(rows)
        cols["rank"] = [1] * len(rows)
        return pa.table(cols)

    march = preds([
        ("A", "MILK", 0.9, d(2025, 3, 2), "dairy"), ("A", "WINE", 0.3, d(2025, 3, 6), "wine"),
        ("B", "MILK", 0.8, d(2025, 3, 1), "dairy"), ("B", "BREAD", 0.7, d(2025, 3, 12), "bakery"),
        ("C", "MILK", 0.5, d(2025, 3, 3), "dairy"), ("C", "EGGS", 0.4, d(2025, 3, 4), "dairy"),
    ])  # fmt: skip
    february = preds([("A", "MILK", 0.2, d(2025, 2, 2), "dairy")])
    data = store
    with opened(data_dir=data) as container:
        container.warehouse.write_snapshot(earlier, pa.table(snap), february)
        container.warehouse.write_snapshot(day, pa.table(snap), march)
    return data


def due(data: Path | StoreRef, default: str = "granted", **query_args: Any) -> Any:
    with opened(data_dir=data) as container:
        return container.prediction_service(default).due(**query_args)


def keys(page: Any) -> list[str]:
    return [f"{r['customer_id']}:{r['product_id']}" for r in page.rows]


def test_due_within_n_days_by_category_and_segment_paged(tmp_path: Path, store: StoreRef) -> None:
    data = hand_made(store)
    week = due(data, within_days=7)
    assert week.snapshot_date == "2025-03-01" and week.horizon_days == 14  # the latest date
    assert keys(week) == ["A:MILK", "B:MILK", "C:MILK", "C:EGGS", "A:WINE"]  # likeliest first
    assert week.total == 5 and week.withheld == 0 and week.rows[0]["segment"] == "Champions"
    assert keys(due(data, within_days=3)) == ["A:MILK", "B:MILK", "C:MILK"]  # before 4 March
    assert keys(due(data, within_days=7, category="dairy")) == [
        "A:MILK",
        "B:MILK",
        "C:MILK",
        "C:EGGS",
    ]
    assert keys(due(data, within_days=30, segment="Loyal")) == ["B:MILK", "B:BREAD"]
    page = due(data, within_days=7, limit=2, offset=2)
    assert keys(page) == ["C:MILK", "C:EGGS"] and page.total == 5
    old = due(data, within_days=7, day=datetime.date(2025, 2, 1))
    assert keys(old) == ["A:MILK"] and old.rows[0]["probability"] == 0.2


def test_due_lists_only_customers_whose_consent_covers_personalization(
    tmp_path: Path, store: StoreRef
) -> None:
    data = hand_made(store)
    nobody = due(data, "denied", within_days=7)
    assert nobody.rows == [] and nobody.total == 0 and nobody.withheld == 5
    with opened(data_dir=data) as container:
        container.consent_service().set("A", Purpose.PERSONALIZATION, True)
        container.consent_service().set("B", Purpose.PERSONALIZATION, False)
        container.consent_service().set("C", Purpose.PROFILING, True)  # another purpose
    assert keys(due(data, "denied", within_days=7)) == ["A:MILK", "A:WINE"]
    granted = due(data, "granted", within_days=7)  # B said no
    assert keys(granted) == ["A:MILK", "C:MILK", "C:EGGS", "A:WINE"] and granted.withheld == 1


def test_due_refuses_bad_pages_and_missing_dates(tmp_path: Path, store: StoreRef) -> None:
    with pytest.raises(NotFoundError, match="no predictions yet"):
        due(tmp_path / "empty", within_days=7)
    data = hand_made(store)
    with pytest.raises(NotFoundError, match="no predictions dated 2024-01-01"):
        due(data, within_days=7, day=datetime.date(2024, 1, 1))
    for bad in ({"within_days": 0}, {"within_days": 7, "limit": 0},
                {"within_days": 7, "offset": -1}):  # fmt: skip
        with pytest.raises(ConfigError):
            due(data, **bad)


def test_a_history_too_short_to_calibrate_still_gets_a_snapshot(
    tmp_path: Path, store: StoreRef
) -> None:
    """Ten days of history and a 14-day horizon: no earlier cut to learn from, so no
    predictions (none stored, none left over), but the rhythms and the snapshot are there."""
    lines = ["customer_id,order_id,ts,product_id,quantity,unit_price"]
    lines += [f"C{c},o{c}-{d},2025-01-{d:02d} 10:00,MILK,1,1.0" for c in range(12)
              for d in (2, 5, 9)]  # fmt: skip
    (tmp_path / "h.csv").write_text("\n".join(lines) + "\n")
    ingest(store, tmp_path / "h.csv")
    report = analyze(store, datetime.date(2025, 1, 12))
    assert report.predictions == 0 and report.snapshot_rows == 12
    assert query(store, "SELECT count(*) FROM predictions") == [(0,)]
    rows = query(store, "SELECT regular_products, rhythm_regularity FROM "
                                 "customer_snapshots")  # fmt: skip
    assert all(r == (1, rows[0][1]) and 0 < r[1] <= 1 for r in rows)


def test_trimming_the_engines_memory_keeps_its_limit(tmp_path: Path) -> None:
    with opened(data_dir=tmp_path / "d", memory_limit="512MB") as container:
        store: Any = container.warehouse
        before = store.con.execute("SELECT current_setting('memory_limit')").fetchall()
        container.warehouse.trim_memory()
        assert store.con.execute("SELECT current_setting('memory_limit')").fetchall() == before


def test_due_after_an_analysis_too_short_to_predict_says_so(
    tmp_path: Path, store: StoreRef
) -> None:
    """Two weeks of history: analyze stores a snapshot but no predictions. `omnix due` then
    said "the store holds no predictions yet: run `omnix analyze`", sending the user in a
    loop; it now names the analysis and why it stored none."""
    rows = "\n".join(
        f"{who},o{who}{k},2025-01-{1 + k * 6 + n:02d} 10:00,MILK,1,1.0"
        for n, who in enumerate("AB") for k in range(3)
    )  # fmt: skip
    path = tmp_path / "short.csv"
    path.write_text("customer_id,order_id,ts,product_id,quantity,unit_price\n" + rows + "\n")
    ingest(store, path)
    with opened(data_dir=store) as container:
        with pytest.raises(NotFoundError, match="no predictions yet"):
            container.prediction_service(default_consent="granted").due()
        report = container.analyze_service(default_consent="granted").run(None)
        assert report.predictions == 0 and report.snapshot_rows == 2
        with pytest.raises(NotFoundError, match=r"as of 2025-01-15 stored no predictions"):
            container.prediction_service(default_consent="granted").due()
