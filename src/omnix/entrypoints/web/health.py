"""Model health (viewer): the last backtest against the baselines with a calibration plot,
data freshness, and the latest pipeline runs with their stage timings. An analyst also starts
the analysis here (the job of POST /v1/analysis-runs) and follows or cancels it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from omnix.domain.access import Role
from omnix.entrypoints.web import charts
from omnix.entrypoints.web.session import check_csrf
from omnix.entrypoints.web.site import Site, WebRoute
from omnix.services.model_health import Backtest

router = APIRouter(route_class=WebRoute, include_in_schema=False)
RunId = Annotated[str, Path(min_length=1, max_length=64, pattern="^[0-9a-f]+$")]
RUNS_PATH = "/model-health/analysis-runs"
NEXT_BASKET = ("recall@10", "ndcg@10", "phr@10")
PAIRS = ("auc", "brier", "ece", "mae_days")


@router.get("/model-health", response_class=HTMLResponse)
def model_health_page(request: Request) -> HTMLResponse:
    site = Site(request)
    site.require(Role.VIEWER)
    service = site.wired.model_health_service()
    backtests = site.cached(("backtests",), service.backtests)
    can_run = site.may(Role.ANALYST)
    latest = site.wired.job_runner().list(1) if can_run else []
    return site.page(
        "model_health.html", "Model health", backtests=backtests,
        calibration=[_calibration(b) for b in backtests], freshness=service.freshness(),
        runs=service.runs(), next_basket_keys=NEXT_BASKET, pair_keys=PAIRS,
        can_run=can_run, latest_job=latest[0] if latest else None,
    )  # fmt: skip


@router.post(RUNS_PATH)
def start_analysis(
    request: Request,
    csrf: Annotated[str, Form(max_length=200)] = "",
    recommendations: Annotated[bool, Form()] = False,
) -> Response:
    """Start `omnix analyze` over everything the store holds (the settings' consent default,
    the day after the last line), and with `recommendations` then `omnix recommend --all`,
    as POST /v1/analysis-runs does; one run at a time."""
    site = Site(request)
    site.require(Role.ANALYST)
    check_csrf(request, csrf)
    job = site.wired.job_runner().start({"recommendations": True} if recommendations else {})
    return RedirectResponse(f"{RUNS_PATH}/{job.job_id}", status_code=303)


@router.get(RUNS_PATH + "/{run_id}", response_class=HTMLResponse)
def analysis_run_page(request: Request, run_id: RunId) -> HTMLResponse:
    """A run's status, stages and outcome; while it runs the page's run region polls this
    page (htmx), and without JavaScript a link reloads it."""
    site = Site(request)
    site.require(Role.ANALYST)
    runner = site.wired.job_runner()
    job = runner.get(run_id)
    stored = all(stage in job.stage_seconds for stage in runner.stages)  # the analysis' own
    return site.page("analysis_run.html", "Analysis run", job=job, analysis_stored=stored)


@router.post(RUNS_PATH + "/{run_id}/cancel")
def cancel_analysis(
    request: Request, run_id: RunId, csrf: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """Ask the run to stop at its next stage boundary; the results stay as they were."""
    site = Site(request)
    site.require(Role.ANALYST)
    check_csrf(request, csrf)
    site.wired.job_runner().cancel(run_id)
    return RedirectResponse(f"{RUNS_PATH}/{run_id}", status_code=303)


def _calibration(backtest: Backtest) -> charts.Chart | None:
    rows: list[dict[str, Any]] = [
        {**b, "method": p["method"]}
        for p in backtest.pair_probabilities
        for b in p.get("reliability") or []
    ]
    if not rows:
        return None
    eces: dict[str, float] = {
        p["method"]: float(p["ece"])
        for p in backtest.pair_probabilities
        if p.get("ece") is not None
    }
    best = min(eces, key=eces.__getitem__, default=None)
    words = (
        f"The closer a curve runs to the dashed diagonal, the better calibrated the method; "
        f"{best} is closest (expected calibration error {eces[best]:.3f})."
        if best
        else "Predicted probability against the observed rate, per method."
    )
    return charts.calibration(f"Calibration ({backtest.source})", rows, words)
