"""Settings -> wired services. The one place that names concrete adapters."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from omnix.config import Settings
from omnix.domain.errors import ConfigError, MissingExtraError
from omnix.domain.ports import ChangeFeed, ViewCache, Warehouse

if TYPE_CHECKING:
    from omnix.services.analyse import AnalyseService
    from omnix.services.analyze import AnalyzeService
    from omnix.services.backtest import BacktestService
    from omnix.services.clv import ClvOptions, ClvService
    from omnix.services.consent import ConsentService
    from omnix.services.customer import CustomerService
    from omnix.services.dashboard import DashboardService
    from omnix.services.demo import DemoService
    from omnix.services.events import EventService
    from omnix.services.ingest import IngestService
    from omnix.services.jobs import JobRunner
    from omnix.services.keys import KeyService
    from omnix.services.model_health import ModelHealthService
    from omnix.services.predict import PredictService
    from omnix.services.predictions import PredictionService
    from omnix.services.privacy import PrivacyService
    from omnix.services.reco_backtest import RecommendBacktest
    from omnix.services.reco_serving import ServingCache
    from omnix.services.recommend import RecommendService
    from omnix.services.segments import SegmentOptions, SegmentService
    from omnix.services.snapshots import SnapshotService
    from omnix.services.views import Views


@dataclass(slots=True)
class Container:
    """The wired application. `warehouse` is the handle of the thread that opened the store;
    a server's threads use `here()` (their own handle on the same store) and share the
    stateful pieces made once here: the view cache, API keys, the job runner."""

    settings: Settings
    warehouse: Warehouse
    _local: threading.local = field(default_factory=threading.local)
    _owner: int = field(default_factory=threading.get_ident)
    _cache: ViewCache | None = None
    _keys: KeyService | None = None
    _jobs: JobRunner | None = None
    _serving: ServingCache | None = None
    _handles: list[Warehouse] = field(default_factory=list)
    _handles_lock: threading.Lock = field(default_factory=threading.Lock)

    def here(self) -> Warehouse:
        """The calling thread's handle on the store (the opener's own on its thread)."""
        if threading.get_ident() == self._owner:
            return self.warehouse
        handle: Warehouse | None = getattr(self._local, "warehouse", None)
        if handle is None:
            handle = self.warehouse.for_thread()
            self._local.warehouse = handle
            with self._handles_lock:  # closed with the container (a connection each)
                self._handles.append(handle)
        return handle

    def view_cache(self) -> ViewCache:
        """Hot customer views: in Redis when OMNIX_CACHE_URL is set (shared by every API
        process), else in this process."""
        if self._cache is None:
            s = self.settings
            if s.cache_url:
                from omnix.adapters.cache.redis import RedisViewCache

                self._cache = RedisViewCache(
                    s.cache_url, s.api_cache_seconds, enabled=s.api_cache_entries > 0
                )
            else:
                from omnix.adapters.cache.memory import MemoryViewCache

                self._cache = MemoryViewCache(s.api_cache_entries, s.api_cache_seconds)
        return self._cache

    @staticmethod
    def shared_rate_limit_for(s: Settings) -> Any | None:
        """Per-key token buckets in Redis (every API process draws on the same bucket), or
        None when there is no shared cache (each process then keeps its own)."""
        if not s.cache_url:
            return None
        from omnix.adapters.cache.redis import RedisBuckets

        return RedisBuckets(s.cache_url, s.api_rate_per_second, s.api_rate_burst)

    def change_feed(self) -> ChangeFeed | None:
        """Changes other processes commit to the store (PostgreSQL); None for the embedded
        store, which one process owns."""
        return self.warehouse if hasattr(self.warehouse, "subscribe") else None  # type: ignore[return-value]

    def keys_service(self) -> KeyService:
        if self._keys is None:
            from omnix.services.keys import KeyService

            secret = self.settings.secret_key.get_secret_value()
            self._keys = KeyService(lambda: cast(Any, self.here()), secret)
        return self._keys

    def event_service(self) -> EventService:
        from omnix.services.events import EventService

        return EventService(
            cast(Any, self.here()), self.view_cache(), self._pseudonymize_key(),
            self.settings.anonymous_policy, self.settings.secret_key.get_secret_value(),
        )  # fmt: skip

    def privacy_service(self) -> PrivacyService:
        from omnix.services.privacy import PrivacyService

        return PrivacyService(
            cast(Any, self.here()), self.view_cache(),
            self.settings.secret_key.get_secret_value(), self.settings.data_dir,
            self._pseudonymize_key(), self.settings.profiling_default(),
        )  # fmt: skip

    def views(self) -> Views:
        from omnix.services.views import Views

        return Views(self.here(), self.view_cache(), self.settings.profiling_default())

    def dashboard_service(self) -> DashboardService:
        """The dashboard's aggregate reads (overview, segment members and categories)."""
        from omnix.services.dashboard import DashboardService

        return DashboardService(self.here(), self.settings.profiling_default())

    def model_health_service(self) -> ModelHealthService:
        from omnix.services.model_health import ModelHealthService

        return ModelHealthService(self.here(), self.settings.model_quality_file)

    def job_runner(self) -> JobRunner:
        """Analysis runs in a worker thread (one at a time); made once per container."""
        if self._jobs is None:
            from omnix.services.analyze import STAGES
            from omnix.services.jobs import JobRunner

            self._jobs = JobRunner(
                lambda: cast(Any, self.here()), self._analysis_run, STAGES,
                on_finished=lambda job: self.view_cache().clear(),
            )  # fmt: skip
        return self._jobs

    def _analysis_run(self, params: dict[str, Any]) -> Any:
        """The analysis a job runs, wired on the job's thread (its own store handle)."""
        from datetime import date

        from omnix.services.jobs import RECOMMENDATIONS

        here = Container(self.settings, self.here())
        consent = params.get("default_consent")
        service = here.analyze_service(default_consent=consent)

        def run(as_of: Any, on_stage: Any) -> dict[str, Any]:
            report: dict[str, Any] = service.run(as_of, on_stage).to_dict()
            # as `omnix recommend --all --as-of` that day; skipped when cancelled by now
            if params.get(RECOMMENDATIONS) and on_stage(RECOMMENDATIONS):
                reco = here.recommend_service(default_consent=consent)
                summary = reco.precompute(date.fromisoformat(report["as_of"]))
                report[RECOMMENDATIONS] = summary.to_dict()
            return report

        return run

    def _pseudonymize_key(self) -> str | None:
        key = self.settings.pseudonymize_key
        return key.get_secret_value() if key is not None else None

    def ingest_service(self) -> IngestService:
        from omnix.adapters.sources import SourceFile
        from omnix.services.ingest import IngestService

        def open_source(path: Path, null_values: tuple[str, ...], encoding: str) -> Any:
            return SourceFile(path, null_values, encoding)

        store = self.here()
        return IngestService(
            store, open_source, self.settings.data_dir, self._pseudonymize_key(),
            self.settings.secret_key.get_secret_value(), cast(Any, store),
        )  # fmt: skip

    def analyse_service(self) -> AnalyseService:
        from omnix.services.analyse import AnalyseService  # imports Ibis: only when asked

        return AnalyseService(self.here())

    def backtest_service(self) -> BacktestService:
        from omnix.services.backtest import BacktestService  # imports Ibis and scikit-learn

        return BacktestService(self.here())

    def clv_service(self, options: ClvOptions | None = None) -> ClvService:
        from omnix.services.clv import ClvOptions, ClvService  # imports SciPy, scikit-learn

        return ClvService(self.here(), options or ClvOptions())

    def segment_service(self, options: SegmentOptions | None = None) -> SegmentService:
        """Profiles, RFM segments, clusters and CLV (imports scikit-learn, SciPy, Ibis)."""
        from omnix.services.segments import SegmentOptions, SegmentService

        return SegmentService(
            self.here(), options or SegmentOptions(), timezone=self.settings.timezone
        )

    def predict_service(self) -> PredictService:
        from omnix.services.predict import PredictService  # imports Ibis and scikit-learn

        return PredictService(self.here())

    def recommend_service(
        self, encoder: str = "auto", default_consent: str | None = None
    ) -> RecommendService:
        """Recommendations (imports implicit, scikit-learn; the sentence model only when
        product text is embedded). encoder: auto | sentence | tfidf."""
        from omnix.adapters.embeddings import text_encoder
        from omnix.services.recommend import RecommendService

        return RecommendService(
            self.here(),
            lambda: text_encoder(encoder),
            default_consent=self.settings.profiling_default(default_consent),
            serving=self.serving_cache(),
        )

    def serving_cache(self) -> ServingCache:
        """The request-time model tables, loaded once and shared by every thread (reloaded
        when a newer `recommend --all` run lands)."""
        if self._serving is None:
            from omnix.services.reco_serving import ServingCache

            with self._handles_lock:
                if self._serving is None:
                    self._serving = ServingCache()
        return self._serving

    def recommend_backtest(self, encoder: str = "auto") -> RecommendBacktest:
        """`omnix backtest --recommend`: the blend against the baselines."""
        from omnix.adapters.embeddings import text_encoder
        from omnix.services.reco_backtest import RecommendBacktest

        return RecommendBacktest(self.here(), lambda: text_encoder(encoder))

    def consent_service(self) -> ConsentService:
        from omnix.services.consent import ConsentService

        return ConsentService(self.here(), self._pseudonymize_key())

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
            self.here(),
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
            self.here(),
            default_consent=self.settings.profiling_default(default_consent),
            timezone=self.settings.timezone,
        )

    def prediction_service(self, default_consent: str | None = None) -> PredictionService:
        """Who is due for what, from stored predictions (personalization consent applied)."""
        from omnix.services.predictions import PredictionService

        return PredictionService(
            self.here(), default_consent=self.settings.profiling_default(default_consent)
        )

    def customer_service(self) -> CustomerService:
        from omnix.services.customer import CustomerService

        return CustomerService(self.here())

    def demo_service(self) -> DemoService:
        from omnix.services.demo import DemoService

        return DemoService(
            self.here(),
            self.ingest_service(),
            self.analyse_service(),
            # generated people, not real ones: profile them unless EU mode forbids the default
            self.analyze_service(default_consent=None if self.settings.eu_mode else "granted"),
            self.predict_service(),
            self.settings.data_dir,
            self.backtest_service(),
            self.recommend_service(default_consent=None if self.settings.eu_mode else "granted"),
        )

    def close(self) -> None:
        with self._handles_lock:
            handles, self._handles = self._handles, []
        for handle in handles:
            handle.close()
        close_cache = getattr(self._cache, "close", None)
        if close_cache is not None:
            close_cache()
        self.warehouse.close()


POSTGRES_SCHEMES = ("postgresql", "postgres")


def open_warehouse(settings: Settings, *, create: bool = True) -> Warehouse:
    """Pick the warehouse adapter by URL scheme; import it only when chosen. Without
    `create`, an embedded store that does not exist yet is an error (a server database
    always exists: opening it migrates its schema)."""
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
            create=create,
        )
    if scheme in POSTGRES_SCHEMES:
        try:
            from omnix.adapters.warehouse.postgres_store import PostgresStore
        except ImportError as err:
            raise MissingExtraError("the PostgreSQL store", "postgres") from err
        return PostgresStore.open(
            url,
            settings.data_dir / ".tmp",  # staged files and the validating DuckDB's spill
            memory_limit=settings.memory_limit,
            threads=settings.threads,
        )
    raise ConfigError(
        f"warehouse {scheme!r} is not supported (duckdb:///path/omnix.duckdb or "
        "postgresql://user@host:5432/database)"
    )


def bootstrap(settings: Settings, *, create: bool = True) -> Container:
    """The container over the configured store; `create=False` for commands that only read
    what was ingested (see `open_warehouse`)."""
    settings.check_secrets()
    return Container(settings, open_warehouse(settings, create=create))
