"""The job runner's stage logic on an in-memory job store: progress per stage, and a cancel
that arrives after the analysis is stored skips only the optional recommendations stage."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from omnix.domain.jobs import Job, JobStatus
from omnix.services.jobs import RECOMMENDATIONS, JobRunner

STAGES = ("rhythms", "snapshot")


class MemoryJobs:
    """The JobStore port in a dict (unit tests only; the real ones are tested in
    tests/integration on DuckDB and PostgreSQL)."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.cancels: set[str] = set()

    def create_job(self, job: Job) -> bool:
        if any(not j.status.finished for j in self.jobs.values()):
            return False
        self.save_job(job)
        return True

    def save_job(self, job: Job) -> None:
        self.jobs[job.job_id] = job

    def get_job(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def list_jobs(self, limit: int) -> list[Job]:
        return sorted(self.jobs.values(), key=lambda j: j.created_at, reverse=True)[:limit]

    def request_cancel(self, job_id: str) -> bool:
        self.cancels.add(job_id)
        return job_id in self.jobs

    def cancel_requested(self, job_id: str) -> bool:
        return job_id in self.cancels

    @contextmanager
    def hold_job(self, job_id: str) -> Iterator[None]:
        yield

    def abandon_jobs(self, reason: str, when: datetime) -> int:
        return 0


def runner(store: MemoryJobs, body: Callable[[Job, Callable[[str], bool]], dict[str, Any]]) -> Any:
    """A runner whose analysis calls `body(job, on_stage)` (the job: the store's newest)."""

    def analyze(params: dict[str, Any]) -> Any:
        def run(as_of: date | None, on_stage: Callable[[str], bool]) -> dict[str, Any]:
            return body(store.list_jobs(1)[0], on_stage)

        return run

    return JobRunner(lambda: store, analyze, STAGES)  # type: ignore[arg-type]


def test_the_recommendations_stage_is_added_only_when_asked_for() -> None:
    store = MemoryJobs()
    seen: list[bool] = []

    def body(job: Job, on_stage: Callable[[str], bool]) -> dict[str, Any]:
        seen.extend(on_stage(s) for s in job.stages)
        return {"as_of": "2025-05-01"}

    jobs = runner(store, body)
    for params, stages in (
        ({}, list(STAGES)),
        ({RECOMMENDATIONS: True}, [*STAGES, RECOMMENDATIONS]),
    ):
        seen.clear()
        job = jobs.start(params)
        jobs.wait(10)
        assert job.stages == stages
        assert job.status is JobStatus.SUCCEEDED and seen == [True] * len(stages)
        assert set(job.stage_seconds) == set(stages) and job.stages_done == len(stages)


def test_a_cancel_after_the_analysis_skips_only_the_recommendations() -> None:
    store = MemoryJobs()

    def body(job: Job, on_stage: Callable[[str], bool]) -> dict[str, Any]:
        for stage in STAGES:
            on_stage(stage)
        store.request_cancel(job.job_id)  # asked for while the snapshot was written
        report: dict[str, Any] = {"as_of": "2025-05-01"}
        if on_stage(RECOMMENDATIONS):
            report[RECOMMENDATIONS] = {"customers": 1}
        return report

    jobs = runner(store, body)
    job = jobs.start({RECOMMENDATIONS: True})
    jobs.wait(10)
    assert job.status is JobStatus.SUCCEEDED and job.cancel_requested
    assert job.result == {"as_of": "2025-05-01"}  # the analysis stands, without them
    assert RECOMMENDATIONS not in job.stage_seconds and set(job.stage_seconds) == set(STAGES)


def test_a_cancel_before_the_snapshot_cancels_the_run() -> None:
    store = MemoryJobs()

    def body(job: Job, on_stage: Callable[[str], bool]) -> dict[str, Any]:
        on_stage("rhythms")
        store.request_cancel(job.job_id)
        on_stage("snapshot")  # raises: nothing was stored yet
        raise AssertionError("the run went on after a cancel")

    jobs = runner(store, body)
    job = jobs.start({RECOMMENDATIONS: True})
    jobs.wait(10)
    assert job.status is JobStatus.CANCELLED and job.result is None
    assert job.error is None
