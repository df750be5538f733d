"""Rhythm features over a real DuckDB store: exact on a hand-made case, accurate on truth."""

from __future__ import annotations

import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from omnix.analytics import rhythm
from omnix.bootstrap import bootstrap
from omnix.config import Settings
from omnix.generate import GeneratorConfig, generate
from tests.integration.helpers import ingest, write

AS_OF = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)

# milk: 2 units on Jan 1 (two lines, one trip), 1 on Jan 11, then Jan 17: buys 2, returns 1.
ROWS = """customer_id,order_id,ts,product_id,quantity
c1,o1,2025-01-01 09:00,milk,1
c1,o1,2025-01-01 09:00,milk,1
c1,o2,2025-01-11 18:00,milk,1
c1,o3,2025-01-17 10:00,milk,2
c1,o4,2025-01-17 16:00,milk,-1
c1,o5,2025-01-20 10:00,eggs,6
c1,o6,2026-02-01 10:00,milk,1
"""


def rhythms(data: Path) -> dict[tuple[str, str], dict[str, float]]:
    container = bootstrap(Settings(data_dir=data))
    try:
        tx = container.warehouse.ibis().table("transactions")
        rows = rhythm.pair_rhythms(tx, AS_OF).to_pyarrow().to_pylist()
    finally:
        container.close()
    return {(r["customer_id"], r["product_id"]): r for r in rows}


def test_same_day_lines_merge_returns_net_and_gaps_are_per_unit(tmp_path: Path) -> None:
    data = tmp_path / "d"
    ingest(data, write(tmp_path / "t.csv", ROWS))
    milk = rhythms(data)[("c1", "milk")]
    assert milk["n_purchases"] == 3  # Jan 1 (2 units), Jan 11 (1), Jan 17 (2 - 1 = 1)
    assert milk["units"] == 4
    assert milk["last_units"] == 1
    assert milk["cycle_days"] == pytest.approx(16 / 3)  # 16 days, 3 units consumed before Jan 17
    assert milk["unit_gap_mean"] == pytest.approx((10 / 2 + 6 / 1) / 2)
    assert milk["returned_units"] == 1
    eggs = rhythms(data)[("c1", "eggs")]
    assert eggs["n_purchases"] == 1
    assert eggs["cycle_days"] is None  # one purchase has no rhythm yet


def test_gap_quantiles_on_a_filtered_population(tmp_path: Path) -> None:
    data = tmp_path / "d"
    ingest(data, write(tmp_path / "t.csv", ROWS))
    container = bootstrap(Settings(data_dir=data))
    try:
        tx = container.warehouse.ibis().table("transactions")
        one = tx.filter(tx.customer_id == "c1")
        (row,) = rhythm.gap_quantiles(one, AS_OF).to_pyarrow().to_pylist()
    finally:
        container.close()
    assert row["unit_gap_median"] == pytest.approx(5.5)  # unit gaps 5 and 6
    assert row["unit_gap_p10"] == pytest.approx(5.1)
    assert row["unit_gap_p90"] == pytest.approx(5.9)


def test_cycle_estimate_recovers_the_generators_truth(tmp_path: Path) -> None:
    """Median absolute percentage error of cycle_days <= 10 % for pairs with >= 4 purchases."""
    result = generate(GeneratorConfig(customers=1_500, days=365, seed=11), tmp_path / "g.parquet")
    data = tmp_path / "d"
    ingest(data, result.files["transactions"])
    truth = {
        (r["customer_id"], r["product_id"]): r["cycle_days"]
        for r in pq.read_table(result.files["truth"]).to_pylist()
    }
    errors, ratios = [], []
    for key, row in rhythms(data).items():
        if row["n_purchases"] >= 4 and key in truth:
            errors.append(abs(row["cycle_days"] - truth[key]) / truth[key])
            ratios.append(row["cycle_days"] / truth[key])
    errors.sort()
    ratios.sort()
    assert len(errors) > 3_000
    assert errors[len(errors) // 2] <= 0.10
    assert 0.95 <= ratios[len(ratios) // 2] <= 1.05  # no systematic bias
