"""Settings -> wired services. The one place that names concrete adapters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omnix.config import Settings
from omnix.domain.errors import ConfigError
from omnix.domain.ports import Warehouse

if TYPE_CHECKING:
    from omnix.services.analyse import AnalyseService
    from omnix.services.analyze import AnalyzeService
    from omnix.services.backtest import BacktestService
    from omnix.services.clv import ClvOptions, ClvService
    from omnix.services.consent import ConsentService
    from omnix.services.customer import CustomerService
    from omnix.services.demo import DemoService
    from omnix.services.ingest import IngestService
    from omnix.services.predict import PredictService
    from omnix.services.predictions import PredictionService
    from omnix.services.reco_backtest import RecommendBacktest
    from omnix.services.recommend import RecommendService
    from omnix.services.segments import SegmentOptions, SegmentService
    from omnix.services.snapshots import SnapshotService


@dataclass(slots=True)
class Container:
    settings: Settings
    warehouse: Warehouse

    def ingest_service(self) -> IngestService:
        from omnix.adapters.sources import SourceFile
        from omnix.services.ingest import IngestService

        def open_source(path: Path, null_values: tuple[str, ...]) -> Any:
            return SourceFile(path, null_values)

        return IngestService(self.warehouse, open_source, self.settings.data_dir)

    def analyse_service(self) -> AnalyseService:
        from omnix.services.analyse import AnalyseService  # imports Ibis: only when asked

        return AnalyseService(self.warehouse)

    def backtest_service(self) -> BacktestService:
        from omnix.services.backtest import BacktestService  # imports Ibis and scikit-learn

        return BacktestService(self.warehouse)

    def clv_service(self, options: ClvOptions | None = None) -> ClvService:
        from omnix.services.clv import ClvOptions, ClvService  # imports SciPy, scikit-learn

        return ClvService(self.warehouse, options or ClvOptions())

    def segment_service(self, options: SegmentOptions | None = None) -> SegmentService:
        """Profiles, RFM segments, clusters and CLV (imports scikit-learn, SciPy, Ibis)."""
        from omnix.services.segments import SegmentOptions, SegmentService

        return SegmentService(
            self.warehouse, options or SegmentOptions(), timezone=self.settings.timezone
        )

    def predict_service(self) -> PredictService:
        from omnix.services.predict import PredictService  # imports Ibis and scikit-learn

        return PredictService(self.warehouse)

    def recommend_service(
        self, encoder: str = "auto", default_consent: str | None = None
    ) -> RecommendService:
        """Recommendations (imports implicit, scikit-learn; the sentence model only when
        product text is embedded). encoder: auto | sentence | tfidf."""
        from omnix.adapters.embeddings import text_encoder
        from omnix.services.recommend import RecommendService

        return RecommendService(
            self.warehouse,
            lambda: text_encoder(encoder),
            default_consent=self.settings.profiling_default(default_consent),
        )

    def recommend_backtest(self, encoder: str = "auto") -> RecommendBacktest:
        """`omnix backtest --recommend`: the blend against the baselines."""
        from omnix.adapters.embeddings import text_encoder
        from omnix.services.reco_backtest import RecommendBacktest

        return RecommendBacktest(self.warehouse, lambda: text_encoder(encoder))

    def consent_service(self) -> ConsentService:
        from omnix.services.consent import ConsentService

        return ConsentService(self.warehouse)

    def analyze_service(
        self,
        options: SegmentOptions | None = None,
        default_consent: str | None = None,
        horizon_days: int | None = None,
        top: int | None = None,
    ) -> AnalyzeService:
        """The whole pipeline into a dated snapshot and its predictions. `default_consent`
        (granted|denied) overrides OMNIX_DEFAULT_CONSENT; EU mode refuses granted
        (ConfigError). `horizon_days` / `top`: of the persisted predictions."""
        from omnix.services.analyze import HORIZON_DAYS, TOP, AnalyzeService

        return AnalyzeService(
            self.warehouse,
            self.segment_service(options),
            default_consent=self.settings.profiling_default(default_consent),
            private_labels=self.settings.private_label_names(),
            horizon_days=horizon_days or HORIZON_DAYS,
            top=top or TOP,
        )

    def snapshot_service(self, default_consent: str | None = None) -> SnapshotService:
        """Migration, 360 view and export over stored snapshots (consent applied at read)."""
        from omnix.services.snapshots import SnapshotService

        return SnapshotService(
            self.warehouse,
            default_consent=self.settings.profiling_default(default_consent),
            timezone=self.settings.timezone,
        )

    def prediction_service(self, default_consent: str | None = None) -> PredictionService:
        """Who is due for what, from stored predictions (personalization consent applied)."""
        from omnix.services.predictions import PredictionService

        return PredictionService(
            self.warehouse, default_consent=self.settings.profiling_default(default_consent)
        )

    def customer_service(self) -> CustomerService:
        from omnix.services.customer import CustomerService

        return CustomerService(self.warehouse)

    def demo_service(self) -> DemoService:
        from omnix.services.demo import DemoService

        return DemoService(
            self.warehouse,
            self.ingest_service(),
            self.analyse_service(),
            # generated people, not real ones: profile them unless EU mode forbids the default
            self.analyze_service(default_consent=None if self.settings.eu_mode else "granted"),
            self.predict_service(),
            self.settings.data_dir,
        )

    def close(self) -> None:
        self.warehouse.close()


def open_warehouse(settings: Settings) -> Warehouse:
    """Pick the warehouse adapter by URL scheme; import it only when chosen."""
    url = settings.store_url()
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(f"warehouse URL {url!r} has no scheme (e.g. duckdb:///omnix.duckdb)")
    if scheme == "duckdb":
        from omnix.adapters.warehouse.duckdb_store import DuckDBStore

        path = Path(rest)  # duckdb://relative/path or duckdb:///absolute/path
        return DuckDBStore.open(
            path,
            memory_limit=settings.memory_limit,
            threads=settings.threads,
        )
    raise ConfigError(
        f"warehouse {scheme!r} is not supported yet (this release stores in DuckDB: duckdb:///...)"
    )


def bootstrap(settings: Settings) -> Container:
    return Container(settings, open_warehouse(settings))
