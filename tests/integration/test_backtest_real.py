"""The backtest protocol and its baselines on real Instacart data, against the reference
numbers of an independent implementation (../shared/data/README.md)."""

from __future__ import annotations

import datetime

import pytest

from omnix.bootstrap import bootstrap
from omnix.config import Settings
from omnix.services.backtest import BacktestReport
from tests.conftest import shared_file
from tests.integration.helpers import ingest


@pytest.fixture(scope="module")
def instacart_report(tmp_path_factory: pytest.TempPathFactory) -> BacktestReport:
    data = tmp_path_factory.mktemp("instacart")
    ingest(data, shared_file("instacart_sample.parquet"))
    container = bootstrap(Settings(data_dir=data))
    try:
        return container.backtest_service().run(datetime.date(2020, 7, 1), 30, k=10)
    finally:
        container.close()


def by_method(report: BacktestReport) -> dict[str, dict[str, float]]:
    return {row["method"]: row for row in report.next_basket}


def test_protocol_selects_the_reference_population(instacart_report: BacktestReport) -> None:
    assert instacart_report.customers == 775


@pytest.mark.parametrize(
    ("method", "recall", "ndcg"),
    [("G-TopFreq", 0.073, None), ("P-TopFreq", 0.399, 0.471), ("TIFU-KNN", 0.425, 0.495)],
)
def test_baselines_match_the_reference(
    instacart_report: BacktestReport, method: str, recall: float, ndcg: float | None
) -> None:
    row = by_method(instacart_report)[method]
    assert row["recall@10"] == pytest.approx(recall, abs=0.005)
    if ndcg is not None:
        assert row["ndcg@10"] == pytest.approx(ndcg, abs=0.005)


def test_tifu_knn_beats_p_topfreq_as_published(instacart_report: BacktestReport) -> None:
    rows = by_method(instacart_report)
    assert rows["TIFU-KNN"]["recall@10"] > rows["P-TopFreq"]["recall@10"]


def test_poisson_pair_probabilities_match_the_reference(instacart_report: BacktestReport) -> None:
    (poisson,) = instacart_report.pair_probabilities
    assert poisson["auc"] == pytest.approx(0.713, abs=0.003)
    assert poisson["brier"] == pytest.approx(0.2065, abs=0.002)
    table = poisson["reliability"]
    assert len(table) == 10
    assert sum(b["count"] for b in table) == instacart_report.pairs
