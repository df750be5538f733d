"""Tracked jobs: long work (an analysis run) started over the API and watched while it runs.

A job is queued, then running with a current stage and a progress fraction (stages done /
stages), then exactly one of succeeded, failed or cancelled. Cancellation is cooperative: it
takes effect at the next stage boundary, and the stage that writes results (the snapshot)
is the analysis's last, so a cancelled run leaves the previous results as they were. A run
may add a recommendations stage after it (`omnix recommend --all`); a cancel that reaches
that boundary skips it and the run succeeds, since the analysis is already stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}


@dataclass(slots=True)
class Job:
    job_id: str
    kind: str  # "analyze"
    status: JobStatus
    created_at: datetime
    params: dict[str, Any] = field(default_factory=dict)
    stages: list[str] = field(default_factory=list)
    stage: str | None = None
    stages_done: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    cancel_requested: bool = False
    error: str | None = None
    result: dict[str, Any] | None = None

    @property
    def progress(self) -> float:
        """Fraction of stages done, 0..1 (1 only when succeeded)."""
        if self.status is JobStatus.SUCCEEDED:
            return 1.0
        return self.stages_done / len(self.stages) if self.stages else 0.0


class JobCancelled(Exception):  # noqa: N818 - a signal between the job runner and its job
    """Raised inside a job at a stage boundary after cancellation was asked for."""
