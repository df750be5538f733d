"""Small interfaces the services depend on; adapters implement them."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from omnix.domain.ingest import ColumnPlan, IngestOptions, IngestSummary
from omnix.domain.segments import ClusterLabel, ClusterProfile


class LoadProgress(Protocol):
    """What a load reports while it works on one file."""

    def read(self, rows: int, position: int) -> None:
        """`rows` more rows read; `position` = bytes of the file read so far."""

    def phase(self, name: str, fraction: float) -> None:
        """The engine is in phase `name` (validate, store), `fraction` done (0..1)."""


class Source(Protocol):
    """A readable input file."""

    info: Any  # path, columns, size, source_id, total_rows (adapters.sources.SourceInfo)

    def stage(
        self,
        tmp_dir: Path,
        progress: Callable[[int, int], None] | None = None,
        ts_column: str | None = None,
    ) -> Any: ...


class Warehouse(Protocol):
    """Where lines are stored and analytics run."""

    def load(
        self,
        source: Any,
        plan: ColumnPlan,
        options: IngestOptions,
        progress: LoadProgress | None = None,
    ) -> IngestSummary: ...

    def export_rejects(self, source_id: str, path: Path) -> Path: ...

    def run(
        self, command: str, detail: dict[str, Any] | None = None
    ) -> AbstractContextManager[str]: ...

    def write_snapshot(self, day: date, rows: Any, predictions: Any | None = None) -> int:
        """Replace the per-customer snapshot of `day` with `rows` and, when given, the
        predictions of `day` with `predictions` (pyarrow tables), in one transaction."""

    def record_consents(self, rows: Any) -> int:
        """Append consent records (pyarrow: customer_id, purpose, granted, recorded_at, source)."""

    def write_recommendations(self, as_of: date, tables: dict[str, Any]) -> int:
        """Replace the precomputed recommendation tables (domain/recommend.py) atomically."""

    def write_embeddings(self, rows: Any) -> int:
        """Cache product-text vectors (pyarrow: model, text_key, vector)."""

    def meta(self, key: str) -> str | None:
        """A value the store keeps about itself (e.g. the recommendations' as-of day)."""

    def trim_memory(self) -> None:
        """Release the engine's cached memory (before memory-heavy work in Python)."""

    def table_counts(self) -> dict[str, int]: ...

    def recent(self, table: str, order: str, limit: int = 5) -> list[dict[str, Any]]: ...

    def ibis(self) -> Any: ...

    def reset(self) -> None:
        """Delete every row omnix stored (the schema stays)."""

    def close(self) -> None: ...


class TextEncoder(Protocol):
    """Product text -> vectors for content similarity (adapters/embeddings.py)."""

    name: str
    cacheable: bool  # a text's vector depends on that text alone: the store may cache it

    def encode(self, texts: list[str]) -> Any:
        """(len(texts) x d) L2-normalised rows, dense float32 or sparse."""


SourceOpener = Callable[[Path, tuple[str, ...]], Source]


class ClusterNamer(Protocol):
    """Gives a behavioural cluster a name and a sentence. The default is rule-based
    (models/clusters.py); the insights layer can pass an LLM-backed one instead."""

    def name(self, cluster: ClusterProfile) -> ClusterLabel: ...
