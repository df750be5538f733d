from __future__ import annotations

from pathlib import Path
from typing import Any

from omnix.bootstrap import bootstrap
from omnix.config import Settings
from omnix.domain.ingest import IngestOptions, IngestSummary


def ingest(data_dir: Path, *files: Path, **options: Any) -> list[IngestSummary]:
    container = bootstrap(Settings(data_dir=data_dir))
    try:
        return container.ingest_service().ingest(list(files), IngestOptions(**options))
    finally:
        container.close()


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
