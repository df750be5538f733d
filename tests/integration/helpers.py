from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omnix.bootstrap import Container, bootstrap
from omnix.config import Settings
from omnix.domain.ingest import IngestOptions, IngestSummary


@contextmanager
def opened(**settings: Any) -> Iterator[Container]:
    """The wired container for these settings (e.g. data_dir=...), closed afterwards."""
    container = bootstrap(Settings(**settings))
    try:
        yield container
    finally:
        container.close()


def ingest(data_dir: Path, *files: Path, **options: Any) -> list[IngestSummary]:
    with opened(data_dir=data_dir) as container:
        return container.ingest_service().ingest(list(files), IngestOptions(**options))


def query(data_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    import duckdb

    con = duckdb.connect(str(data_dir / "omnix.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
