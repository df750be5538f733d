"""Use case: ingest files into the store, losing nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import structlog

from omnix.domain.contract import names_customers
from omnix.domain.ingest import (
    ErasedCustomers,
    IngestOptions,
    IngestSummary,
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
