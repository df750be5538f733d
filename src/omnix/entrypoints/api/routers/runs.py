"""Analysis runs (analyst role): `omnix analyze` as a tracked job with progress per stage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from omnix.domain.access import Role
from omnix.domain.jobs import Job
from omnix.entrypoints.api.deps import Wired, secured
from omnix.entrypoints.api.models_ops import (
    AnalysisRun,
    AnalysisRunCreate,
    AnalysisRunList,
    StageState,
)

router = APIRouter(prefix="/v1/analysis-runs", tags=["analysis runs"])
RunId = Annotated[str, Path(min_length=1, max_length=64)]


def _public(job: Job) -> AnalysisRun:
    stages = []
    for k, name in enumerate(job.stages):
        status = "done" if k < job.stages_done else "running" if name == job.stage else "pending"
        stages.append(StageState(name=name, status=status, seconds=job.stage_seconds.get(name)))  # type: ignore[arg-type]
    return AnalysisRun(
        id=job.job_id,
        status=job.status,
        stage=job.stage,
        progress=round(job.progress, 4),
        params=job.params,
        stages=stages,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        cancel_requested=job.cancel_requested,
        error=job.error,
        result=job.result,
    )


@router.post(
    "",
    response_model=AnalysisRun,
    status_code=202,
    **secured(
        Role.ANALYST,
        conflict="another run is queued or running",
        bad_request="as_of is over 30 days past the store's data, or the consent default is "
        "refused",
    ),
)
def start_analysis_run(wired: Wired, body: AnalysisRunCreate) -> AnalysisRun:
    """Start the whole analysis (profiles, segments, CLV, clusters, rhythms, spending,
    snapshot) in the background; poll the returned run for progress. One run at a time."""
    wired.settings.profiling_default(body.default_consent)  # EU mode refuses granted: 400 now
    if body.as_of is not None:
        wired.analyze_service().check_day(body.as_of)  # too far past the data: 400 now
    params = body.model_dump(mode="json", exclude_none=True)
    return _public(wired.job_runner().start(params))


@router.get("", response_model=AnalysisRunList, **secured(Role.ANALYST))
def list_analysis_runs(
    wired: Wired, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> AnalysisRunList:
    """The latest runs, newest first."""
    return AnalysisRunList(items=[_public(j) for j in wired.job_runner().list(limit)])


@router.get(
    "/{run_id}", response_model=AnalysisRun, **secured(Role.ANALYST, not_found="no such run")
)
def get_analysis_run(wired: Wired, run_id: RunId) -> AnalysisRun:
    """Status, current stage, progress (stages done / stages), seconds per stage, and the
    report once it succeeded."""
    return _public(wired.job_runner().get(run_id))


@router.post(
    "/{run_id}/cancel", response_model=AnalysisRun, **secured(Role.ANALYST, not_found="no such run")
)
def cancel_analysis_run(wired: Wired, run_id: RunId) -> AnalysisRun:
    """Ask a run to stop at its next stage boundary (the previous snapshot stays as it was);
    a finished run is returned unchanged."""
    return _public(wired.job_runner().cancel(run_id))
