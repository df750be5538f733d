"""Small interfaces the services depend on; adapters implement them."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from omnix.domain.access import ApiKey
from omnix.domain.ingest import ColumnPlan, IngestOptions, IngestSummary
from omnix.domain.jobs import Job
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

    def remove_source(self, source_id: str) -> dict[str, int]:
        """Take one ingested file out in one transaction: its lines (or the products or
        customer records it last wrote), its rejects and its row in `sources`; rows deleted
        per table."""
        ...

    def run(
        self, command: str, detail: dict[str, Any] | None = None
    ) -> AbstractContextManager[str]: ...

    def write_snapshot(self, day: date, rows: Any, predictions: Any | None = None) -> int:
        """Replace the per-customer snapshot of `day` with `rows` and, when given, the
        predictions of `day` with `predictions` (pyarrow tables), in one transaction."""

    def record_consents(self, rows: Any) -> int:
        """Append consent records (pyarrow: customer_id, purpose, granted, recorded_at, source)."""

    def write_recommendations(
        self, as_of: date, tables: dict[str, Any], model: tuple[date, str] | None = None
    ) -> int:
        """Replace the precomputed recommendation tables (domain/recommend.py) atomically,
        with META_AS_OF and a new META_VERSION in the same transaction; `model` (the day it
        learned for, its serialized text), when given, replaces META_MODEL(_AS_OF) too."""

    def write_embeddings(self, rows: Any) -> int:
        """Cache product-text vectors (pyarrow: model, text_key, vector)."""

    def meta(self, key: str) -> str | None:
        """A value the store keeps about itself (e.g. the recommendations' as-of day)."""

    def trim_memory(self) -> None:
        """Release the engine's cached memory (before memory-heavy work in Python)."""

    def table_counts(self) -> dict[str, int]: ...

    def recent(self, table: str, order: str, limit: int = 5) -> list[dict[str, Any]]: ...

    def customer_rows(self, table: str, customer_id: str) -> list[dict[str, Any]]:
        """Every row of a customer table (one with a customer_id column, e.g. consents,
        reco_candidates) about one customer: a point read with a bound parameter, for
        request-time paths where building a query per call costs more than running it."""

    def ibis(self) -> Any: ...

    def reset(self) -> None:
        """Delete every row omnix stored (the schema stays)."""

    def for_thread(self) -> Warehouse:
        """A handle to the same store for the calling thread (a server's worker threads each
        use their own; writes are serialised by the adapter). Close it when the thread ends."""

    def close(self) -> None: ...


class KeyStore(Protocol):
    """API keys (hashes only): operational state beside the data."""

    def add_key(self, key: ApiKey) -> None: ...

    def get_key(self, key_id: str) -> ApiKey | None: ...

    def list_keys(self) -> list[ApiKey]: ...

    def revoke_key(self, key_id: str, when: datetime) -> bool:
        """Mark the key revoked; False when no active key has that id."""

    def touch_key(self, key_id: str, when: datetime) -> None:
        """Record that the key was used (callers throttle this: it is a write)."""


class JobStore(Protocol):
    """Tracked jobs, so their status outlives the request (and is readable after a restart)
    and every server process sees the same ones."""

    def create_job(self, job: Job) -> bool:
        """Store a new job unless a job of its kind is queued or running (in any process:
        False then, and nothing is stored)."""

    def save_job(self, job: Job) -> None:
        """Store the job's state; a cancellation asked for meanwhile is kept."""

    def get_job(self, job_id: str) -> Job | None: ...

    def list_jobs(self, limit: int) -> list[Job]: ...

    def request_cancel(self, job_id: str) -> bool:
        """Ask the job to stop (whichever process runs it); False when there is no such job."""

    def cancel_requested(self, job_id: str) -> bool: ...

    def hold_job(self, job_id: str) -> AbstractContextManager[None]:
        """The job is alive while the block runs: no process abandons it meanwhile."""

    def abandon_jobs(self, reason: str, when: datetime) -> int:
        """Mark jobs left queued or running by a process that ended as failed (jobs a live
        process holds are left alone)."""


class EventStore(Protocol):
    """Purchase events posted in batches, each message counted once."""

    def store_events(self, batch_id: str, lines: Any, rejects: Any) -> list[str]:
        """In one transaction: store `lines` (pyarrow, contract columns + message_id) and
        `rejects` (message_id, reason, detail, raw) whose message ids were never seen, and
        remember every new message id. Returns the ids that had been seen before."""

    def erased_subjects(self) -> frozenset[str]:
        """The erasure log's subject hashes: the events of these customers are rejected."""


class PersonalData(Protocol):
    """Everything the store holds about given customers, table by table: the privacy
    service walks it for export and erasure (GDPR Art. 15, 17, 20)."""

    def customer_tables(self) -> list[tuple[str, str]]:
        """(table, how rows name a customer): "customer_id" for a column, "raw" for rejected
        source rows (matched field by field). Every table of customer data is listed."""

    def rows_about(self, table: str, how: str, ids: Sequence[str]) -> list[dict[str, Any]]: ...

    def erase_about(self, ids: Sequence[str], audit: dict[str, Any]) -> dict[str, int]:
        """Delete every row about `ids` from every customer table and append `audit` (no
        personal data in it) to the erasure log, in one transaction; rows deleted per table."""

    def erasures(self, limit: int) -> list[dict[str, Any]]: ...

    def erased_subjects(self) -> frozenset[str]:
        """The erasure log's subject hashes: ingest rejects these customers' new lines."""

    def compact(self) -> dict[str, int]:
        """Rewrite the store's files so deleted rows (an erasure's) leave no bytes behind;
        {"bytes_before", "bytes_after"}."""


# (kind, ids) of a change another process committed: customers | all | snapshot | keys
ChangeHandler = Callable[[str, list[str]], None]


class ChangeFeed(Protocol):
    """Changes other processes commit to a shared store (PostgreSQL), so each server process
    can drop what it caches. The embedded store has one process and no feed."""

    def subscribe(self, handler: ChangeHandler) -> Callable[[], None]:
        """Start delivering changes to `handler`; returns the function that stops it."""


class ViewCache(Protocol):
    """Hot per-customer views (serialised JSON), dropped when that customer's data changes."""

    def get(self, customer_id: str, view: str) -> bytes | None: ...

    def put(self, customer_id: str, view: str, value: bytes) -> None: ...

    def drop(self, customer_id: str) -> None: ...

    def drop_many(self, customer_ids: Collection[str]) -> None:
        """Drop several customers' views at once (one round trip for a shared cache)."""

    def clear(self) -> None: ...


class TextEncoder(Protocol):
    """Product text -> vectors for content similarity (adapters/embeddings.py)."""

    name: str
    cacheable: bool  # a text's vector depends on that text alone: the store may cache it

    def encode(self, texts: list[str]) -> Any:
        """(len(texts) x d) L2-normalised rows, dense float32 or sparse."""


SourceOpener = Callable[[Path, tuple[str, ...], str], Source]  # path, null values, encoding


class ClusterNamer(Protocol):
    """Gives a behavioural cluster a name and a sentence. The default is rule-based
    (models/clusters.py); the insights layer can pass an LLM-backed one instead."""

    def name(self, cluster: ClusterProfile) -> ClusterLabel: ...
