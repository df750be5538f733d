"""What both stores write the same way: a job's record, and the fields of a rejected row.

A job is stored as one JSON record (plus its status and cancellation flag as columns, so the
store can query them). A rejected source row (`rejects.raw`) names a customer when one of its
fields equals the customer's id: the JSON values of a rejected JSON row, or the delimited
fields of a malformed line, trimmed, with "13085.0" read as 13085 as ingest reads float ids.
DuckDB matches in SQL (duckdb_ops._RAW_FIELDS); PostgreSQL prefilters in SQL and matches
here (`raw_fields`): the tests check both agree.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from omnix.domain.ingest import whole_number_id
from omnix.domain.jobs import Job, JobStatus

_DELIMITERS = re.compile(r"[,;\t|]")


def raw_fields(raw: str | None) -> list[str]:
    """The fields of a rejected row as ingest would read its ids."""
    if raw is None:
        return []
    values: list[Any] | None = None
    if raw.lstrip().startswith("{"):
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            values = [
                v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
                for v in parsed.values()
                if v is not None
            ]
    if values is None:
        values = _DELIMITERS.split(raw)
    return [whole_number_id(str(v).strip().strip('"')) for v in values]


def job_record(job: Job) -> str:
    return json.dumps(
        {
            "job_id": job.job_id, "kind": job.kind, "status": job.status.value,
            "created_at": job.created_at.isoformat(), "params": job.params,
            "stages": job.stages, "stage": job.stage, "stages_done": job.stages_done,
            "stage_seconds": job.stage_seconds,
            "started_at": job.started_at.isoformat() if job.started_at else None,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None,
            "cancel_requested": job.cancel_requested, "error": job.error, "result": job.result,
        },
        default=str,
    )  # fmt: skip


def job_from(record: str, cancel_requested: bool | None = None) -> Job:
    d = json.loads(record)

    def when(key: str) -> datetime | None:
        return datetime.fromisoformat(d[key]) if d.get(key) else None

    created = when("created_at")
    assert created is not None
    return Job(
        job_id=d["job_id"], kind=d["kind"], status=JobStatus(d["status"]), created_at=created,
        params=d.get("params") or {}, stages=d.get("stages") or [], stage=d.get("stage"),
        stages_done=int(d.get("stages_done") or 0), stage_seconds=d.get("stage_seconds") or {},
        started_at=when("started_at"), finished_at=when("finished_at"),
        cancel_requested=bool(d.get("cancel_requested") or cancel_requested),
        error=d.get("error"),
        result=d.get("result"),
    )  # fmt: skip
