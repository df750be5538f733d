from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from omnix.bootstrap import Container, bootstrap
from omnix.config import Settings
from omnix.domain.ingest import IngestOptions, IngestSummary
from omnix.generate import GeneratorConfig, generate
from tests.backends import StoreRef, new_store

SMALL_GENERATED = {"customers": 300, "days": 240, "seed": 8, "start": date(2025, 1, 1)}


@contextmanager
def opened(**settings: Any) -> Iterator[Container]:
    """The wired container for these settings (e.g. data_dir=... or store=StoreRef),
    closed afterwards."""
    ref = settings.pop("store", None)
    if isinstance(settings.get("data_dir"), StoreRef):
        ref = settings.pop("data_dir")
    container = bootstrap(ref.settings(**settings) if ref else Settings(**settings))
    try:
        yield container
    finally:
        container.close()


def _ref(data: Path | StoreRef) -> StoreRef:
    return data if isinstance(data, StoreRef) else StoreRef(data)


def ingest(data: Path | StoreRef, *files: Path, **options: Any) -> list[IngestSummary]:
    with opened(store=_ref(data)) as container:
        return container.ingest_service().ingest(list(files), IngestOptions(**options))


def query(data: Path | StoreRef, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of `sql` on the store (SQL both engines read; `?` placeholders)."""
    return _ref(data).query(sql, params)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@contextmanager
def generated_store(backend: str, root: Path, **config: Any) -> Iterator[StoreRef]:
    """A new store of `backend` holding a generated history (SMALL_GENERATED unless `config`
    says otherwise), dropped afterwards."""
    result = generate(GeneratorConfig(**{**SMALL_GENERATED, **config}), root / "g.parquet")
    store = new_store(backend, root / "d")
    try:
        ingest(store, result.files["transactions"])
        yield store
    finally:
        store.drop()
