"""Model health (viewer): the last backtest against the baselines with a calibration plot,
data freshness, and the latest pipeline runs with their stage timings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from omnix.domain.access import Role
from omnix.entrypoints.web import charts
from omnix.entrypoints.web.site import Site, WebRoute
from omnix.services.model_health import Backtest

router = APIRouter(route_class=WebRoute, include_in_schema=False)
NEXT_BASKET = ("recall@10", "ndcg@10", "phr@10")
PAIRS = ("auc", "brier", "ece", "mae_days")


@router.get("/model-health", response_class=HTMLResponse)
def model_health_page(request: Request) -> HTMLResponse:
    site = Site(request)
    site.require(Role.VIEWER)
    service = site.wired.model_health_service()
    backtests = site.cached(("backtests",), service.backtests)
    return site.page(
        "model_health.html", "Model health", backtests=backtests,
        calibration=[_calibration(b) for b in backtests], freshness=service.freshness(),
        runs=service.runs(), next_basket_keys=NEXT_BASKET, pair_keys=PAIRS,
    )  # fmt: skip


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
