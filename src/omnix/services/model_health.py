"""Use case: how healthy the models and the data are, for the dashboard's model-health page.

- the last backtest (`omnix backtest`, recorded in the runs table): omnix against the baselines
  on next-basket ranking and pair probabilities, with each method's reliability table (the
  calibration plot); without one, OMNIX_MODEL_QUALITY_FILE (benchmarks/results/backtest.json
  shape) when configured;
- data freshness: the last purchase line, the last ingest, the latest snapshot, in days ago,
  and how many lines the store gained or lost, and whether files came or went, since the
  latest analysis;
- pipeline runs: the latest command runs with their status and seconds per stage.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

from omnix.domain import contract as c
from omnix.domain.ports import Warehouse
from omnix.domain.snapshots import SNAPSHOT_DATE, SNAPSHOTS

RUNS_SHOWN: Final = 20
_RUNS_FIRST_READ: Final = 50


@dataclass(slots=True)
class Backtest:
    source: str  # "store" (the last `omnix backtest` run) or the quality file's dataset name
    cutoff: str | None
    horizon_days: int | None
    next_basket: list[dict[str, Any]] = field(default_factory=list)
    pair_probabilities: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Analysis:
    """The latest successful `omnix analyze` and the store's lines and files then and now:
    snapshots, predictions and recommendations count none of the lines ingested, streamed in
    or taken out since, nor the product or customer records of files added since."""

    finished_at: datetime | None
    lines: int | None  # None: a run from before omnix recorded it
    lines_now: int
    files: str | None = None  # `files_fingerprint` then; None: not recorded
    files_now: str | None = None

    @property
    def lines_since(self) -> int | None:
        """Lines added (negative: taken out) since the analysis; None when unknown."""
        return None if self.lines is None else self.lines_now - self.lines

    @property
    def files_changed(self) -> bool | None:
        """Whether a file was ingested or taken out since the analysis (its lines may net to
        no change in the count: one file out, another of the same size in); None: unknown."""
        return None if self.files is None else self.files != self.files_now

    def to_dict(self) -> dict[str, Any]:
        return {"finished_at": self.finished_at, "lines": self.lines,
                "lines_now": self.lines_now, "lines_since": self.lines_since,
                "files_changed": self.files_changed}  # fmt: skip


def files_fingerprint(warehouse: Warehouse) -> str:
    """One digest of the ingested files the store holds lines or records of (their content
    ids, `sources`): another such file in, or one taken out, changes it; ingesting a file
    again does not, nor does a file whose every row was rejected."""
    sources = warehouse.ibis().table("sources")
    ids = sources.filter(sources.stored > 0).select("source_id").to_pyarrow()["source_id"]
    digest = hashlib.blake2b(digest_size=16)
    for source_id in sorted(str(i) for i in ids.to_pylist()):
        digest.update(source_id.encode() + b"\n")
    return digest.hexdigest()


def latest_analysis(warehouse: Warehouse, lines_now: int | None = None) -> Analysis | None:
    """None when the store was never analysed; `lines_now`: the transactions count, when
    the caller has it. Reads the latest runs first (readiness probes call this often), all
    of them only when no analysis is among those."""
    latest = warehouse.recent("runs", "started_at", _RUNS_FIRST_READ)
    run = next((r for r in latest if _is_analysis(r)), None)
    if run is None and len(latest) == _RUNS_FIRST_READ:
        run = next((r for r in warehouse.recent("runs", "started_at", 0) if _is_analysis(r)), None)
    if run is None:
        return None
    detail = _detail(run)
    lines, files = detail.get("lines"), detail.get("files")
    if lines_now is None:
        lines_now = int(warehouse.ibis().table("transactions").count().to_pyarrow().as_py())
    return Analysis(
        _utc(run["finished_at"]),
        None if lines is None else int(lines),
        lines_now,
        None if files is None else str(files),
        None if files is None else files_fingerprint(warehouse),
    )


def _is_analysis(run: dict[str, Any]) -> bool:
    return bool(run["command"] == "analyze" and run["status"] == "ok")


@dataclass(slots=True)
class Freshness:
    now: datetime
    last_purchase: datetime | None
    last_ingest: datetime | None
    latest_snapshot: date | None
    analysis: Analysis | None = None

    def days_since(self, moment: datetime | date | None) -> float | None:
        if moment is None:
            return None
        if not isinstance(moment, datetime):
            moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
        return (self.now - moment).total_seconds() / 86400.0


@dataclass(slots=True)
class Run:
    command: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    stages: dict[str, float]  # seconds per stage, when the command records them

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(slots=True)
class ModelHealthService:
    warehouse: Warehouse
    quality_file: Path | None = None

    def backtests(self) -> list[Backtest]:
        """The last backtest in the store, else those of the quality file, else none."""
        for run in self.warehouse.recent("runs", "started_at", 0):
            if run["command"] == "backtest" and run["status"] == "ok":
                d = _detail(run)
                if d.get("next_basket") or d.get("pair_probabilities"):
                    return [_backtest("store", d)]
        return self._from_file()

    def _from_file(self) -> list[Backtest]:
        path = self.quality_file
        if path is None or not path.exists():
            return []
        data = json.loads(path.read_text(encoding="utf-8"))
        reports = {"file": data} if "next_basket" in data else data
        return [_backtest(name, report) for name, report in reports.items()]

    def freshness(self) -> Freshness:
        con = self.warehouse.ibis()
        last = con.table("transactions")[c.TS].max().to_pyarrow().as_py()
        ingest = con.table("sources").last_ingested_at.max().to_pyarrow().as_py()
        snap = con.table(SNAPSHOTS)[SNAPSHOT_DATE].max().to_pyarrow().as_py()
        analysis = latest_analysis(self.warehouse)
        return Freshness(datetime.now(UTC), _utc(last), _utc(ingest), snap, analysis)

    def runs(self, limit: int = RUNS_SHOWN) -> list[Run]:
        out = []
        for run in self.warehouse.recent("runs", "started_at", limit):
            seconds = _detail(run).get("seconds")
            stages = {str(k): float(v) for k, v in (seconds or {}).items()}
            started, finished = _utc(run["started_at"]), _utc(run["finished_at"])
            out.append(Run(run["command"], run["status"], started, finished, stages))
        return out


def _detail(run: dict[str, Any]) -> dict[str, Any]:
    raw = run.get("detail")
    parsed = json.loads(raw) if isinstance(raw, str) else raw
    return parsed if isinstance(parsed, dict) else {}


def _backtest(source: str, d: dict[str, Any]) -> Backtest:
    return Backtest(
        source=source,
        cutoff=d.get("cutoff"),
        horizon_days=d.get("horizon") or d.get("horizon_days"),
        next_basket=[_finite(r) for r in d.get("next_basket") or []],
        pair_probabilities=[_finite(r) for r in d.get("pair_probabilities") or []],
    )


def _finite(row: dict[str, Any]) -> dict[str, Any]:
    """NaN (a JSON file may hold them) becomes None, in reliability bins too."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, float) and not math.isfinite(v):
            out[k] = None
        elif k == "reliability" and isinstance(v, list):
            out[k] = [_finite(b) for b in v]
        else:
            out[k] = v
    return out


def _utc(moment: Any) -> datetime | None:
    if not isinstance(moment, datetime):
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
