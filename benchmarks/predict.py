"""Predict benchmark: `omnix predict` end to end on a generated store (issue 3 target: 10M lines
/ 100k customers in <= 60 s with peak RSS <= 4 GB).

    .venv/bin/python benchmarks/predict.py                      # 100k customers x 365 days
    .venv/bin/python benchmarks/predict.py --customers 10000

The store is generated and ingested once into bench-data/ (shared with benchmarks/segments.py;
not timed). The timed part is one `omnix predict --top 10` subprocess, as a user runs it: wall
time and the child's peak RSS. Results go to benchmarks/results/predict.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    from clv import machine  # benchmarks/clv.py
    from segments import store_for  # benchmarks/segments.py

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--as-of", default="2026-01-01")
    args = parser.parse_args()
    data, lines = store_for(args.customers, args.days)
    out = data / "predictions.parquet"
    cmd = [sys.executable, "-m", "omnix.entrypoints.cli.app", "predict", "--as-of", args.as_of,
           "--horizon-days", "30", "--top", "10", "--out", str(out),
           "--data-dir", str(data / "store"), "--json"]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    summary = json.loads(done.stdout)
    result = {
        "lines": lines,
        "customers": summary["customers"],
        "pairs": summary["pairs"],
        "rows_written": summary["rows"],
        "seconds_wall": round(wall, 1),
        "seconds": summary["seconds"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        "target_seconds": 60,
        "target_peak_rss_mb": 4096,
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "predict.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
