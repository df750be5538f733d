"""Segments benchmark: profiles + RFM segments + behavioural clusters (+ CLV) on a generated store.

    .venv/bin/python benchmarks/segments.py                      # 100,000 customers x 365 days
    .venv/bin/python benchmarks/segments.py --customers 10000

The store is generated and ingested once into bench-data/ (cached; not timed). The timed part
runs `SegmentService.report()` in a fresh process — what `omnix segments` does: the rhythm
model (regularity), the profile query in DuckDB, RFM scores and reasons, BG/NBD + Pareto/NBD +
Gamma-Gamma CLV and K-means with k chosen from 3..8 — and reports wall and CPU seconds, seconds
per stage, the peak RSS of that process and the machine's load average when it started.
Results go to benchmarks/results/segments.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench-data"
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "benchmarks"))


def store_for(customers: int, days: int) -> tuple[Path, int]:
    """A store holding a generated history (built once, cached); its directory and lines."""
    from omnix.bootstrap import bootstrap
    from omnix.config import Settings
    from omnix.domain.ingest import IngestOptions
    from omnix.generate import GeneratorConfig, generate

    data = WORK / f"segments-{customers}x{days}"
    done = data / "lines.txt"
    if done.exists():
        return data, int(done.read_text())
    data.mkdir(parents=True, exist_ok=True)
    result = generate(GeneratorConfig(customers=customers, days=days, seed=3), data / "g.parquet")
    container = bootstrap(Settings(data_dir=data / "store"))
    try:
        container.ingest_service().ingest([result.files["transactions"]], IngestOptions())
    finally:
        container.close()
    done.write_text(str(result.lines))
    return data, result.lines


def timed_run(store: Path) -> dict[str, Any]:
    """Runs in the child process: the segment report, wall time and peak RSS."""
    from omnix.bootstrap import bootstrap
    from omnix.config import Settings

    started = time.perf_counter()
    container = bootstrap(Settings(data_dir=store))
    try:
        report = container.segment_service().report()
    finally:
        container.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "seconds_total": round(time.perf_counter() - started, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "seconds": report.seconds,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "customers": report.customers,
        "k": report.k,
        "k_selection": report.k_selection,
        "segments": {g.name: g.customers for g in report.segments},
        "clusters": [
            {"id": g.cluster_id, "name": g.name, "customers": g.customers} for g in report.clusters
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(timed_run(args.child)))
        return
    from clv import machine  # benchmarks/clv.py

    data, lines = store_for(args.customers, args.days)
    child = [sys.executable, __file__, "--child", str(data / "store")]
    load = os.getloadavg()[0]  # other processes on the machine slow the wall time down
    out = subprocess.run(child, check=True, capture_output=True, text=True).stdout
    result = {"lines": lines, **json.loads(out.splitlines()[-1]), "machine": machine()}
    result["load_average_at_start"] = round(load, 2)
    result |= {"target_seconds": 90, "target_peak_rss_mb": 4096}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "segments.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
