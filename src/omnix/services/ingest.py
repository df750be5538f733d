"""Use cases: ingest files into the store, losing nothing; list and take out ingested files."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import structlog

from omnix.domain.contract import names_customers
from omnix.domain.errors import InputError, NotFoundError
from omnix.domain.ingest import (
    ErasedCustomers,
    IngestOptions,
    IngestSummary,
    mapping_hint,
    plan_columns,
    rejects_path,
)
from omnix.domain.ports import LoadProgress, PersonalData, SourceOpener, Warehouse

log = structlog.get_logger(__name__)

# (file, size in bytes, rows if known) -> a progress callback for that file
FileProgress = Callable[[Path, int, int | None], LoadProgress]


@dataclass(slots=True)
class IngestService:
    warehouse: Warehouse
    open_source: SourceOpener
    data_dir: Path
    pseudonymize_key: str | None = None  # OMNIX_PSEUDONYMIZE_KEY: applied to every file
    # OMNIX_SECRET_KEY and the erasure log: lines of customers erased before are rejected
    secret: str | None = None
    personal: PersonalData | None = None

    def ingest(
        self,
        paths: Sequence[Path],
        options: IngestOptions,
        progress: FileProgress | None = None,
    ) -> list[IngestSummary]:
        """Ingest each file in its own transaction; each summary is balanced.

        All files are opened (and their columns planned) before the first is loaded, so a
        typo in the last file's mapping fails before anything is written.
        """
        if self.pseudonymize_key and not options.pseudonymize_key:
            options = replace(options, pseudonymize_key=self.pseudonymize_key)
        if self.secret and self.personal is not None and names_customers(options.kind):
            erased = ErasedCustomers.known(self.secret, self.personal.erased_subjects())
            options = replace(options, erased=erased)
        nulls = options.effective_null_values()
        sources = [self.open_source(p, nulls, options.encoding) for p in paths]
        plans = [plan_columns(list(s.info.columns), options) for s in sources]
        summaries = []
        with self.warehouse.run("ingest", {"files": [str(p) for p in paths]}):
            for source, plan in zip(sources, plans, strict=True):
                info = source.info
                on_progress = progress(info.path, info.size, info.total_rows) if progress else None
                summary = self.warehouse.load(source, plan, options, on_progress)
                if (hint := mapping_hint(plan, info.path.name)) is not None:
                    summary.hints.append(hint)
                target = rejects_path(self.data_dir.resolve(), info.path.name, info.source_id)
                if summary.rejected:
                    summary.rejects_file = str(
                        self.warehouse.export_rejects(info.source_id, target)
                    )
                elif target.exists():
                    target.unlink()
                log.info("ingested", **summary.to_dict())
                summaries.append(summary)
        return summaries

    def sources(self) -> list[dict[str, Any]]:
        """Every ingested file, newest first (the `sources` table)."""
        return self.warehouse.recent("sources", "last_ingested_at", 0)

    def source(self, source_id: str) -> dict[str, Any]:
        """One ingested file by its whole source id."""
        for row in self.sources():
            if row["source_id"] == source_id:
                return row
        raise NotFoundError(f"no ingested file with the id {source_id!r}")

    def rejects_file(self, source_id: str) -> Path | None:
        """The rejects file of an ingested file, when its last ingest rejected rows."""
        row = self.source(source_id)
        path = rejects_path(self.data_dir.resolve(), row["name"], row["source_id"])
        return path if row["rejected"] and path.is_file() else None

    def remove(self, ref: str) -> dict[str, Any]:
        """Take out the ingested file that `ref` names (its file name, or its source id or
        the first 8 or more characters of it): its lines or records, its rejects and their
        file. Lines that a later file also held went in as that file's duplicates, so they
        leave with this one: ingesting the later file again brings them back."""
        hits = [
            row for row in self.sources()
            if ref in (row["name"], row["source_id"])
            or (len(ref) >= 8 and str(row["source_id"]).startswith(ref))
        ]  # fmt: skip
        if not hits:
            raise NotFoundError(f"no ingested file {ref!r} (omnix sources lists them)")
        if len(hits) > 1:
            ids = ", ".join(str(h["source_id"])[:12] for h in hits)
            raise InputError(f"{ref!r} names {len(hits)} ingested files; give one's id: {ids}")
        row = hits[0]
        with self.warehouse.run("sources remove", {"source_id": row["source_id"]}):
            deleted = self.warehouse.remove_source(row["source_id"])
        rejects_path(self.data_dir.resolve(), row["name"], row["source_id"]).unlink(missing_ok=True)
        log.info("source removed", source=row["name"], source_id=row["source_id"], **deleted)
        return {"name": row["name"], "source_id": row["source_id"], "kind": row["kind"],
                "path": row["path"], "deleted": deleted}  # fmt: skip
