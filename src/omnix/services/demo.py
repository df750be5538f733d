"""Use case: the demo. Generate a history, ingest it, analyse it — on a store of its own data."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from omnix.domain import contract as c
from omnix.domain.errors import ConfigError, EmptyStoreError
from omnix.domain.ingest import IngestOptions, IngestSummary
from omnix.domain.ports import Warehouse
from omnix.generate import GenerateResult, GeneratorConfig, generate
from omnix.services.analyse import AnalyseService, Analysis
from omnix.services.analyze import AnalyzeReport, AnalyzeService
from omnix.services.backtest import BacktestService
from omnix.services.ingest import FileProgress, IngestService
from omnix.services.predict import PredictService, PredictSummary, write_table
from omnix.services.recommend import RecommendService

DEMO_HORIZON_DAYS = 14
EARLIER_SNAPSHOT_DAYS = 28  # a second, earlier snapshot: the dashboard shows migration
BACKTEST_DAYS = 28  # the backtest's window: the dashboard's model health has real figures


@dataclass(slots=True)
class DemoResult:
    generated: GenerateResult
    ingested: list[IngestSummary]
    analysis: Analysis
    pipeline: AnalyzeReport
    predictions: PredictSummary
    due_soon: list[dict[str, Any]]  # the most likely purchases in the horizon, one per customer


@dataclass(slots=True)
class DemoService:
    warehouse: Warehouse
    ingest: IngestService
    analyse: AnalyseService
    analyze: AnalyzeService
    predict: PredictService
    data_dir: Path
    backtest: BacktestService | None = None
    recommend: RecommendService | None = None  # candidates with reasons for the dashboard

    @property
    def demo_dir(self) -> Path:
        return self.data_dir / "demo"

    def prepare_store(self) -> None:
        """Start from an empty store, but never empty one that holds the user's own data.

        Re-running the demo on another day generates other dates; mixing two demo histories
        would be confusing, so a store that holds only demo files is emptied first.
        """
        demo_dir = self.demo_dir.resolve()
        paths = [Path(s["path"]) for s in self.warehouse.recent("sources", "last_ingested_at", 0)]
        foreign = [p for p in paths if demo_dir not in p.parents]
        if foreign:
            raise ConfigError(
                f"the store in {self.data_dir} holds other data ({foreign[0].name}); "
                "run the demo with another --data-dir"
            )
        if paths:
            self.warehouse.reset()

    def run(
        self,
        config: GeneratorConfig,
        on_generated: Callable[[int], None] | None = None,
        progress: FileProgress | None = None,
    ) -> DemoResult:
        self.prepare_store()
        out = self.demo_dir / "demo-transactions.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        generated = generate(config, out, progress=on_generated)
        summaries: list[IngestSummary] = []
        for kind, key in (
            (c.Kind.TRANSACTIONS, "transactions"),
            (c.Kind.PRODUCTS, "products"),
            (c.Kind.CUSTOMERS, "customers"),
        ):
            files: list[Path] = [generated.files[key]]
            summaries += self.ingest.ingest(files, IngestOptions(kind=kind), progress)
        as_of = config.start + timedelta(days=config.days)
        if config.days > 2 * EARLIER_SNAPSHOT_DAYS:
            self.analyze.run(as_of - timedelta(days=EARLIER_SNAPSHOT_DAYS))
        pipeline = self.analyze.run(as_of)
        if self.backtest is not None and config.days > 2 * BACKTEST_DAYS:
            # too few repeat customers in a tiny demo: no backtest, and no failure
            with suppress(EmptyStoreError):
                self.backtest.run(as_of - timedelta(days=BACKTEST_DAYS), BACKTEST_DAYS)
        table, predictions = self.predict.predict(as_of, DEMO_HORIZON_DAYS, top=10)
        if self.recommend is not None:
            with suppress(EmptyStoreError):  # a history too short to learn from: popular only
                self.recommend.precompute(as_of)
        target = self.demo_dir / "predictions.parquet"
        write_table(table, target)
        predictions.out = str(target)
        best = table.filter(pc.equal(table["rank"], 1)).sort_by([("probability", "descending")])
        due_soon = best.select([c.CUSTOMER_ID, "probability", "statement"]).slice(0, 5)
        return DemoResult(
            generated,
            summaries,
            self.analyse.analyse(),
            pipeline,
            predictions,
            due_soon.to_pylist(),
        )
