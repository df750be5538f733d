"""Use case: analysis runs as tracked in-process jobs (start, watch, cancel).

One job runs at a time across every server process: the store refuses a second open job
(`JobStore.create_job`). It runs in a worker thread of the process that accepted it, on its
own store handle, holding the job (`hold_job`) so no other process takes it for abandoned. Its
record (status, current stage, stages done, seconds per stage, result or error) is saved at
every stage, so `GET /v1/analysis-runs/{id}` reads progress from any process while it runs
and the outcome after a restart; a job a dead process left open is marked failed at the next
start. Cancellation is a flag in the store, asked for by any process and read by the running
job at its next stage boundary (see domain/jobs.py).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import structlog

from omnix.domain.errors import ConflictError, NotFoundError, OmnixError
from omnix.domain.jobs import Job, JobCancelled, JobStatus
from omnix.domain.ports import JobStore

log = structlog.get_logger(__name__)

ANALYZE = "analyze"
RECOMMENDATIONS = "recommendations"  # the optional last stage: `omnix recommend --all`
# (as_of, on_stage hook) -> the run's report as a dict; runs on the job's thread. The hook
# raises JobCancelled at a stage boundary after a cancel; at the optional last stage, after
# the analysis is stored, it returns False instead (the run succeeds without that stage).
AnalyzeRun = Callable[[date | None, Callable[[str], bool]], dict[str, Any]]
StageObserver = Callable[[str, float], None]


def _ignore(stage: str, seconds: float) -> None:
    """The default observer: no metrics."""


@dataclass(slots=True)
class JobRunner:
    """`store` gives the calling thread's handle; `analyze(params)` builds the run for a job
    (on the job's thread); `stages` are the names the run reports, in order, and a job whose
    params ask for `recommendations` reports one more stage of that name at the end."""

    store: Callable[[], JobStore]
    analyze: Callable[[dict[str, Any]], AnalyzeRun]
    stages: tuple[str, ...]
    on_finished: Callable[[Job], None] = lambda job: None
    observe_stage: StageObserver = _ignore
    _active: Job | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def recover(self) -> int:
        """Mark jobs a previous process left unfinished as failed; returns how many."""
        return self.store().abandon_jobs("interrupted: the server stopped", datetime.now(UTC))

    def start(self, params: dict[str, Any]) -> Job:
        """Queue an analysis run; ConflictError while another is queued or running (in this
        process or any other on the same store)."""
        with self._lock:
            if self._active is not None and not self._active.status.finished:
                raise ConflictError(
                    f"analysis run {self._active.job_id} is still {self._active.status.value}; "
                    "wait for it or cancel it"
                )
            if self._thread is not None:  # finished: its last save may still be under way
                self._thread.join(timeout=30)
            stages = [*self.stages, *([RECOMMENDATIONS] if params.get(RECOMMENDATIONS) else [])]
            job = Job(uuid.uuid4().hex, ANALYZE, JobStatus.QUEUED, datetime.now(UTC),
                      params=params, stages=stages)  # fmt: skip
            store, hold = self.store(), ExitStack()
            hold.enter_context(store.hold_job(job.job_id))
            try:
                # a job left open by a process that died blocks the store: recover, try again
                if not store.create_job(job) and not (self.recover() and store.create_job(job)):
                    raise ConflictError(
                        "another analysis run is queued or running; wait for it or cancel it"
                    )
            except BaseException:
                hold.close()
                raise
            self._active = job
            self._thread = threading.Thread(
                target=self._run, args=(job, hold), name=f"omnix-job-{job.job_id[:8]}",
                daemon=True,
            )  # fmt: skip
            self._thread.start()
        return job

    def get(self, job_id: str) -> Job:
        active = self._active
        if active is not None and active.job_id == job_id:
            return active
        job = self.store().get_job(job_id)
        if job is None:
            raise NotFoundError(f"no analysis run {job_id!r}")
        return job

    def list(self, limit: int = 20) -> list[Job]:
        jobs = self.store().list_jobs(limit)
        active = self._active
        return [active if active and j.job_id == active.job_id else j for j in jobs]

    def cancel(self, job_id: str) -> Job:
        """Ask the job to stop at its next stage boundary (a finished job is returned as is);
        the process running it reads the flag from the store."""
        job = self.get(job_id)
        if job.status.finished:
            return job
        job.cancel_requested = True
        self.store().request_cancel(job_id)
        return job

    def wait(self, timeout: float | None = None) -> None:
        """Block until the current job's thread ends (tests, shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def shutdown(self, timeout: float = 30.0) -> None:
        active = self._active
        if active is not None and not active.status.finished:
            self.cancel(active.job_id)
        self.wait(timeout)

    # ------------------------------------------------------------------ the job's thread
    def _run(self, job: Job, hold: ExitStack) -> None:
        with hold:
            self._run_held(job)

    def _run_held(self, job: Job) -> None:
        store = self.store()
        clock: dict[str, Any] = {"stage": None, "t": time.perf_counter()}

        def cancelled() -> bool:
            """Asked here or by another process (the flag is only ever set, never cleared:
            a request thread may set it meanwhile)."""
            if not job.cancel_requested and store.cancel_requested(job.job_id):
                job.cancel_requested = True
            return job.cancel_requested

        def on_stage(stage: str) -> bool:
            self._stage_done(job, clock)
            if cancelled():
                if stage == RECOMMENDATIONS:  # the analysis is stored: it stands
                    return False
                raise JobCancelled
            clock["stage"], clock["t"] = stage, time.perf_counter()
            job.stage = stage
            store.save_job(job)
            return True

        try:
            if cancelled():
                raise JobCancelled
            job.status, job.started_at = JobStatus.RUNNING, datetime.now(UTC)
            store.save_job(job)
            as_of = date.fromisoformat(job.params["as_of"]) if job.params.get("as_of") else None
            job.result = self.analyze(job.params)(as_of, on_stage)
            self._stage_done(job, clock)
            job.status = JobStatus.SUCCEEDED
        except JobCancelled:
            job.status = JobStatus.CANCELLED
        except OmnixError as err:
            job.status, job.error = JobStatus.FAILED, str(err)
        except Exception as err:  # a job must always end with a status
            log.exception("analysis run failed", job_id=job.job_id)
            job.status, job.error = JobStatus.FAILED, f"internal error ({type(err).__name__})"
        job.stage = None
        job.finished_at = datetime.now(UTC)
        store.save_job(job)
        self.on_finished(job)

    def _stage_done(self, job: Job, clock: dict[str, Any]) -> None:
        stage = clock["stage"]
        if stage is None:
            return
        seconds = round(time.perf_counter() - clock["t"], 3)
        job.stage_seconds[stage] = seconds
        job.stages_done = min(len(job.stages), job.stages.index(stage) + 1)
        self.observe_stage(stage, seconds)
        clock["stage"] = None
