"""Lifetime value on real data through the store: the RFM builder's definitions on a small
hand-made history, the published CDNOW fits on the 1/10th sample, and sane fits on the full
23,570-customer CDNOW cohort (../shared/data/cdnow.parquet)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from omnix.analytics.clv import rfm_summary
from omnix.domain.ingest import preset_by_name
from omnix.services.clv import ClvReport
from tests.backends import BACKENDS, StoreRef, new_store
from tests.conftest import shared_file
from tests.integration.helpers import ingest, opened, write
from tests.lifetimes_data import cdnow_sample_ids

CAL, HOLD = datetime.date(1997, 9, 30), datetime.date(1998, 6, 30)

HISTORY = """customer_id,order_id,ts,product_id,quantity,unit_price
A,o1,2025-01-01 10:00,P1,2,5.0
A,o2,2025-01-01 15:00,P2,1,4.0
A,o2,2025-01-01 15:00,POST,1,4.5
A,o3,2025-01-10 09:00,P1,3,5.0
A,Co3,2025-01-10 18:00,P1,-1,5.0
A,o4,2025-01-20 09:00,P1,1,6.0
A,Co4,2025-01-25 09:00,P1,-1,6.0
A,o5,2025-02-05 09:00,P1,1,5.0
A,o6,2025-02-05 11:00,P2,1,4.0
A,o7,2025-02-20 09:00,P1,1,5.0
A,o8,2025-03-05 09:00,P1,1,5.0
B,o9,2025-01-31 23:30,P1,1,5.0
C,o10,2025-02-02 09:00,P1,1,5.0
,o11,2025-01-05 09:00,P1,1,5.0
"""


def report_for(data: Path | StoreRef) -> ClvReport:
    with opened(data_dir=data) as container:
        return container.clv_service().report(CAL, HOLD)


def test_rfm_summary_follows_the_literature_definitions(tmp_path: Path, store: StoreRef) -> None:
    data = store
    ingest(data, write(tmp_path / "h.csv", HISTORY), cancellation_prefix="C",
           non_product_pattern="POST")  # fmt: skip
    with opened(data_dir=data) as container:
        tx = container.warehouse.ibis().table("transactions")
        jan31, feb28 = datetime.date(2025, 1, 31), datetime.date(2025, 2, 28)
        rows = {r["customer_id"]: r for r in rfm_summary(tx, jan31, feb28).to_pyarrow().to_pylist()}
        recent = rfm_summary(tx, jan31, feb28, recent_days=15).to_pyarrow().to_pylist()
    assert set(rows) == {"A", "B"}  # C starts after calibration; anonymous lines never count
    a = rows["A"]
    # Jan 1 (two orders, one day), Jan 10 (3 bought, 1 returned the same day), Jan 20
    assert (a["frequency"], a["recency"], a["T"]) == (2, 19.0, 30.0)
    assert a["monetary"] == pytest.approx((10.0 + 6.0) / 2)  # postage excluded, netted
    assert a["returned_value"] == pytest.approx(6.0)  # the later return on Jan 25
    assert a["holdout_frequency"] == 2  # Feb 5 (two orders) and Feb 20; Mar 5 is after
    assert a["recent_frequency"] == 2
    assert {r["customer_id"]: r["recent_frequency"] for r in recent}["A"] == 1
    b = rows["B"]
    assert (b["frequency"], b["recency"], b["T"], b["monetary"]) == (0, 0.0, 0.0, 0.0)
    assert b["holdout_frequency"] == 0


@pytest.fixture(scope="module", params=BACKENDS)
def sample_report(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ClvReport]:
    root = tmp_path_factory.mktemp("cdnow-sample")
    store = new_store(request.param, root / "d")
    table = pq.read_table(shared_file("cdnow.parquet"))
    ids = sorted(cdnow_sample_ids())
    sample = table.filter(pc.is_in(table["customer_id"], value_set=pc.cast(ids, "large_string")))
    pq.write_table(sample, root / "sample.parquet")
    ingest(store, root / "sample.parquet")
    yield report_for(store)
    store.drop()


def test_the_published_cdnow_fits_are_reproduced_through_the_store(
    sample_report: ClvReport,
) -> None:
    r = sample_report
    assert r.customers == 2357
    for name, value in {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}.items():
        assert r.params[name] == pytest.approx(value, abs=0.001), name
    assert r.log_likelihood == pytest.approx(-9582.4, abs=0.1)
    for name, value in {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}.items():
        assert r.pareto_nbd["params"][name] == pytest.approx(value, abs=0.005), name
    assert r.pareto_nbd["log_likelihood"] == pytest.approx(-9595.0, abs=0.1)
    assert r.gamma_gamma is not None
    for name, value in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert r.gamma_gamma["params"][name] == pytest.approx(value, abs=0.01), name


def test_the_published_holdout_is_reproduced(sample_report: ClvReport) -> None:
    assert sample_report.holdout["actual"] == 1882
    assert sample_report.holdout["predicted"] == pytest.approx(1653, abs=1)


@pytest.fixture(scope="module")
def full_report(tmp_path_factory: pytest.TempPathFactory) -> ClvReport:
    data = tmp_path_factory.mktemp("cdnow") / "d"
    ingest(data, shared_file("cdnow.parquet"))
    return report_for(data)


def test_full_cohort_fits_have_the_published_shape(full_report: ClvReport) -> None:
    r = full_report
    assert r.customers == 23570
    assert r.time_unit == "weeks" and r.holdout_length == 39.0
    assert r.params["r"] == pytest.approx(0.243, abs=0.03)
    assert r.params["alpha"] == pytest.approx(4.414, rel=0.15)
    assert r.params["a"] == pytest.approx(0.793, abs=0.1)
    assert r.params["b"] == pytest.approx(2.426, rel=0.15)
    pareto = r.pareto_nbd["params"]
    assert pareto["r"] == pytest.approx(0.553, rel=0.15)
    assert pareto["s"] == pytest.approx(0.606, rel=0.2)
    assert r.gamma_gamma is not None
    assert r.gamma_gamma["params"]["p"] == pytest.approx(6.25, rel=0.05)


def test_full_cohort_holdout_prediction_is_close_and_beats_the_baselines(
    full_report: ClvReport,
) -> None:
    hold = full_report.holdout
    assert hold["actual"] == 19684
    assert abs(hold["predicted"] - hold["actual"]) / hold["actual"] <= 0.15
    assert hold["corr"] > 0.6
    for name, baseline in full_report.baselines.items():
        assert hold["mae"] < baseline["mae"], name
    assert full_report.pareto_nbd["holdout"]["mae"] < full_report.baselines["recent_rate"]["mae"]


def test_full_cohort_clv_is_sane(full_report: ClvReport) -> None:
    value = full_report.clv
    assert value is not None
    assert 0 < value["mean"] < 200  # dollars per customer over 12 months
    assert 0.3 < value["top_decile_share"] < 0.9  # value is concentrated, as in the literature
    assert 0 < value["mean_p_alive"] < 1


def test_churn_p_alive_is_the_measured_better_combination(full_report: ClvReport) -> None:
    """P(alive) as a predictor of any purchase in the 39-week holdout (measured: BG/NBD AUC
    0.319 overall because every one-time buyer gets 1; Pareto/NBD 0.722; the combination
    0.718 with the best Brier 0.185, and BG/NBD's 0.700 among repeat buyers)."""
    alive = full_report.alive
    bg, pareto, omnix = alive["bgnbd"], alive["pareto_nbd"], alive["omnix"]
    assert omnix["all"]["customers"] == 23570 and omnix["one_time"]["customers"] == 14119
    assert bg["one_time"]["mean_p_alive"] == pytest.approx(1.0)  # the flaw being fixed
    assert omnix["one_time"]["mean_p_alive"] < 0.5
    assert omnix["all"]["auc"] > 0.7 > bg["all"]["auc"] + 0.3
    assert omnix["all"]["brier"] < min(bg["all"]["brier"], pareto["all"]["brier"])
    assert omnix["repeat"]["auc"] == pytest.approx(bg["repeat"]["auc"])
    assert omnix["repeat"]["auc"] >= pareto["repeat"]["auc"]


def test_churn_risk_as_no_purchase_beats_p_alive_and_the_baselines(full_report: ClvReport) -> None:
    """P(a purchase within the 39-week holdout), scored on the event itself (measured: AUC
    .761 / Brier .167 against P(alive)'s .718 / .185; Poisson baselines .754 / .216 and
    .675 / .223; recency alone AUC .759). omnix's churn risk is one minus it over 90 days."""
    buy, alive = full_report.purchase, full_report.alive
    omnix = buy["omnix"]["all"]
    assert omnix["auc"] > alive["omnix"]["all"]["auc"] + 0.03
    assert omnix["brier"] < alive["omnix"]["all"]["brier"] - 0.01
    for name in ("baseline: calibration_rate", "baseline: recent_rate"):
        assert omnix["auc"] > buy[name]["all"]["auc"], name
        assert omnix["brier"] < buy[name]["all"]["brier"] - 0.04, name
    recency = buy["baseline: recency"]["all"]
    assert recency["brier"] is None and "mean_probability" not in recency  # a ranking only
    assert omnix["auc"] >= recency["auc"]
    # CDNOW's holdout has more buyers than both models expect (their totals are 12-14 % low)
    assert 0.18 < omnix["mean_probability"] < omnix["bought_in_holdout"] < 0.32


def test_online_retail_heavy_buyers_get_finite_forecasts_that_beat_the_baselines(
    tmp_path: Path,
) -> None:
    """Online Retail II has wholesale customers with 100+ repeat purchases in half a year:
    SciPy's hypergeometric forms gave NaN expected purchases for some of them, so the BG/NBD
    holdout prediction and the CLV total were NaN (docs/DECISIONS_LOG.md, session 8)."""
    data = tmp_path / "d"
    ingest(data, shared_file("online_retail_II_2009-2010_raw.csv.gz"),
           preset=preset_by_name("online-retail-ii"))  # fmt: skip
    with opened(data_dir=data) as container:
        report = container.clv_service().report(
            datetime.date(2010, 6, 30), datetime.date(2010, 12, 9)
        )
    assert report.customers == 2944 and report.repeat_customers == 1611
    hold = report.holdout
    assert hold["actual"] == 6215
    assert abs(hold["predicted"] - hold["actual"]) / hold["actual"] <= 0.1  # 5846 measured
    for name, baseline in report.baselines.items():
        assert hold["mae"] < baseline["mae"], name
    assert report.pareto_nbd["holdout"]["predicted"] == pytest.approx(hold["predicted"], rel=0.01)
    assert report.clv is not None
    assert 0 < report.clv["mean"] < 100_000 and 0.3 < report.clv["top_decile_share"] < 0.9
