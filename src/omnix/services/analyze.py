"""Use case: the whole customer analysis at one date, stored as a dated snapshot.

Stages, in order (`STAGES`):
- rhythms: the calibrated next-need model (models/next_need.py, which fits the rhythm model)
  on every customer x product bought before the date, summarised per customer (products with
  a rhythm, regularity, what is due in 14 days: services/rhythms.py);
- predictions: each customer's `top` most likely products within `horizon_days`, plus every
  product with a rhythm expected within the horizon;
- profiles, RFM segments, CLV / P(alive), behavioural clusters (SegmentService, given the
  rhythm table, so the profile's and the clusters' regularity is the rhythm engine's);
- spending profiles for customers whose consent covers profiling;
- snapshot: one row per customer in `customer_snapshots` and the predictions in
  `predictions`, replacing that date's rows of both in one transaction.
Each stage's seconds are logged and kept in the run's record (`runs.detail`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import structlog

from omnix.analytics import spending as sp
from omnix.domain import contract as c
from omnix.domain.consent import Purpose
from omnix.domain.ports import Warehouse
from omnix.domain.privacy import sensitive_categories
from omnix.domain.snapshots import SNAPSHOT_COLUMNS
from omnix.services.consent import analysable, permitted
from omnix.services.model_health import files_fingerprint
from omnix.services.predict import load_history
from omnix.services.rhythms import calibrated_run, customer_table, due_predictions
from omnix.services.segments import SegmentReport, SegmentService, analysis_day

log = structlog.get_logger(__name__)

# What a person watching sees, in order; SegmentService reports profiles .. clusters itself.
STAGES = ("rhythms", "predictions", "profiles", "segments", "clv", "clusters", "spending",
          "snapshot")  # fmt: skip
HORIZON_DAYS = 14  # of the persisted predictions' probability
TOP = 10  # predictions kept per customer, besides everything due within the horizon
StageHook = Callable[[str], None]


def _quiet(stage: str) -> None:
    """The default stage hook: nobody is watching."""


@dataclass(slots=True)
class AnalyzeReport:
    as_of: str
    customers: int
    profiled: int  # customers whose consent covers profiling and who have a spending profile
    default_consent: str
    excluded_categories: list[str]
    snapshot_rows: int
    predictions: int  # customer x product rows stored (0: history too short to calibrate)
    horizon_days: int
    seconds: dict[str, float] = field(default_factory=dict)
    segments: SegmentReport | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "segments"}
        if self.segments is not None:
            out["segments"] = self.segments.to_dict()
        return out


@dataclass(slots=True)
class _Run:
    """What the stages hand each other."""

    as_of: date
    report: SegmentReport | None = None
    spending: pa.Table | None = None
    rhythms: pa.Table | None = None  # per customer: services/rhythms.customer_table
    predictions: pa.Table | None = None  # services/rhythms.due_predictions
    consented: pa.Array | None = None  # customer_ids whose consent covers profiling
    excluded: list[str] = field(default_factory=list)
    rows: int = 0


@dataclass(slots=True)
class _Clock:
    """Seconds per stage: a stage ends when the next one starts."""

    hook: StageHook
    seconds: dict[str, float] = field(default_factory=dict)
    current: str | None = None
    started: float = 0.0

    def __call__(self, stage: str) -> None:
        self.stop()
        self.current, self.started = stage, time.perf_counter()
        self.hook(stage)

    def stop(self) -> None:
        if self.current is not None:
            took = round(time.perf_counter() - self.started, 3)
            self.seconds[self.current] = took
            log.info("stage done", stage=self.current, seconds=took)
        self.current = None


@dataclass(slots=True)
class AnalyzeService:
    warehouse: Warehouse
    segments: SegmentService
    default_consent: bool = False  # may customers without a consent record be profiled
    private_labels: tuple[str, ...] = ()
    horizon_days: int = HORIZON_DAYS
    top: int = TOP

    def stages(self) -> list[tuple[str, Callable[[_Run, _Clock], None]]]:
        """The pipeline, in order: rhythms first, so segments and clusters use them."""
        return [
            ("rhythms", self._rhythms),
            ("segments", self._segments),
            ("spending", self._spending),
            ("snapshot", self._snapshot),
        ]

    def run(self, as_of: date | None = None, on_stage: StageHook = _quiet) -> AnalyzeReport:
        """Analyse every customer with a purchase before `as_of` (default: the day after the
        last line) and store the snapshot dated `as_of`."""
        clock = _Clock(on_stage)
        detail: dict[str, Any] = {"as_of": str(as_of) if as_of else None}
        with self.warehouse.run("analyze", detail):
            tx = self.warehouse.ibis().table("transactions")
            state = _Run(analysis_day(tx, as_of))
            detail["as_of"] = state.as_of.isoformat()
            # the store's size and files it saw: `model_health.latest_analysis` tells a
            # later change
            detail["lines"] = int(tx.count().to_pyarrow().as_py())
            detail["files"] = files_fingerprint(self.warehouse)
            for _name, stage in self.stages():
                stage(state, clock)
            clock.stop()
            detail["seconds"] = clock.seconds
            detail["centroids"] = _centroids(state.report)
        return self._report(state, clock.seconds)

    def check_day(self, as_of: date) -> None:
        """Refuse an analysis date too far past the data now, before a run is queued for it."""
        analysis_day(self.warehouse.ibis().table("transactions"), as_of)

    def _rhythms(self, state: _Run, clock: _Clock) -> None:
        """Rhythms and calibrated predictions from one fit on everyone's history before as_of;
        only the per-customer table and the kept predictions outlive this stage."""
        clock("rhythms")
        history = load_history(self.warehouse, state.as_of)
        self.warehouse.trim_memory()  # the fit below is the run's memory peak
        run = calibrated_run(history, self.horizon_days)
        state.rhythms = customer_table(run)
        clock("predictions")
        state.predictions = due_predictions(run, self.top, self.horizon_days)

    def _segments(self, state: _Run, clock: _Clock) -> None:
        previous = self._previous_centroids()
        state.report = self.segments.report(
            state.as_of, previous, on_stage=clock, rhythms=state.rhythms, own_run=False
        )

    def _spending(self, state: _Run, clock: _Clock) -> None:
        clock("spending")
        tx = analysable(self.warehouse)  # not customers who objected to analytics
        moment = datetime(state.as_of.year, state.as_of.month, state.as_of.day, tzinfo=UTC)
        categories = tx.select(c.CATEGORY).distinct().to_pyarrow()[c.CATEGORY].to_pylist()
        state.excluded = sensitive_categories(str(v) for v in categories if v is not None)
        allowed = permitted(self.warehouse, Purpose.PROFILING, self.default_consent)
        state.consented = allowed.to_pyarrow()[c.CUSTOMER_ID].combine_chunks()
        per = sp.per_category(
            tx, moment, allowed, private_labels=self.private_labels, excluded=state.excluded
        ).cache()  # read five times below: compute the line pass once
        try:
            expr = sp.from_categories(per, bool(self.private_labels))
            state.spending = expr.to_pyarrow()
        finally:
            per.release()

    def _snapshot(self, state: _Run, clock: _Clock) -> None:
        clock("snapshot")
        assert state.report is not None and state.spending is not None
        assert state.consented is not None
        rows = _snapshot_rows(state.report, state.spending, state.consented)
        state.rows = self.warehouse.write_snapshot(state.as_of, rows, state.predictions)

    def _previous_centroids(self) -> Any:
        """The cluster centroids of the last successful analysis, so cluster ids stay put."""
        for run in self.warehouse.recent("runs", "started_at", 50):
            if run["command"] != "analyze" or run["status"] != "ok":
                continue
            detail = json.loads(run["detail"]) if isinstance(run["detail"], str) else {}
            stored = detail.get("centroids")
            if stored:
                return np.array(stored["values"], dtype=np.float64)
        return None

    def _report(self, state: _Run, seconds: dict[str, float]) -> AnalyzeReport:
        assert state.report is not None and state.spending is not None
        return AnalyzeReport(
            as_of=state.as_of.isoformat(), customers=state.report.customers,
            profiled=state.spending.num_rows,
            default_consent="granted" if self.default_consent else "denied",
            excluded_categories=state.excluded, snapshot_rows=state.rows,
            predictions=0 if state.predictions is None else state.predictions.num_rows,
            horizon_days=self.horizon_days, seconds=seconds, segments=state.report,
        )  # fmt: skip


def _centroids(report: SegmentReport | None) -> dict[str, Any] | None:
    if report is None or not report.clusters:
        return None
    names = list(report.clusters[0].centroid)
    return {"features": names, "values": [[g.centroid[k] for k in names] for g in report.clusters]}


def _snapshot_rows(report: SegmentReport, spending: pa.Table, consented: pa.Array) -> pa.Table:
    """The segment report's per-customer table (profiles with the rhythm columns) joined with
    the spending profiles, in the snapshot's columns. Customers without a spending profile (no
    consent, or nothing priced) get NULLs there; `profiling_consent` says which is which."""
    table = report.customers_table
    assert table is not None
    table = table.append_column("rhythm_regularity", table["regularity"])
    joined = table.join(spending, c.CUSTOMER_ID, join_type="left outer")
    flags = pc.is_in(joined[c.CUSTOMER_ID], value_set=consented)
    joined = joined.append_column("profiling_consent", flags)
    names = [name for name, _ in SNAPSHOT_COLUMNS]
    missing = [n for n in names if n not in joined.column_names]
    if missing:
        raise ValueError(f"snapshot columns missing: {missing}")  # a bug, not a user error
    return joined.select(names)
