from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omnix.bootstrap import Container, bootstrap
from omnix.config import Settings
from omnix.domain.ingest import IngestOptions, IngestSummary
from tests.backends import StoreRef


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
