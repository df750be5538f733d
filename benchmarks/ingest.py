"""Ingest benchmark: lines/s and peak RSS for generated data, from Parquet and from CSV.

Each run is a fresh `omnix ingest` subprocess into an empty store, so the numbers are what a
user sees, start-up included. Peak RSS is the child's maximum resident set (getrusage).

    .venv/bin/python benchmarks/ingest.py                 # 1M and 10M lines
    .venv/bin/python benchmarks/ingest.py --lines 1000000 --formats parquet

Results go to benchmarks/results/ingest.json and print as a Markdown table for the README.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench-data"
RESULTS = ROOT / "benchmarks" / "results"
LINES_PER_CUSTOMER_YEAR = 100  # rough density of the generator, refined by what it writes


def omnix(*args: str) -> list[str]:
    return [sys.executable, "-m", "omnix.entrypoints.cli.app", *args]


def dataset(lines: int, fmt: str) -> Path:
    """A generated file of about `lines` lines (cached in bench-data/)."""
    customers = max(lines // LINES_PER_CUSTOMER_YEAR, 10)
    out = WORK / f"gen-{customers}c.{fmt}"
    if not out.exists():
        WORK.mkdir(exist_ok=True)
        subprocess.run(
            omnix(
                "generate",
                "--customers",
                str(customers),
                "--days",
                "365",
                "--seed",
                "1",
                "--out",
                str(out),
                "--json",
            ),
            check=True,
            capture_output=True,
        )
    return out


# Runs a command and reports its peak RSS: a fresh parent per run, so getrusage's
# running maximum over children belongs to exactly that run.
_MEASURE = (
    "import json, resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
    "print(json.dumps({'rc': p.returncode, "
    "'peak_kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}), file=sys.stderr)"
)


def run_ingest(source: Path) -> dict[str, float]:
    data = WORK / "store"
    shutil.rmtree(data, ignore_errors=True)
    started = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _MEASURE,
            *omnix("ingest", str(source), "--data-dir", str(data), "--json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    measured = json.loads(proc.stderr.strip().splitlines()[-1])
    if measured["rc"] != 0:
        raise SystemExit(f"ingest failed: {proc.stderr}")
    summary = json.loads(proc.stdout)
    return {
        "lines": summary["read"],
        "stored": summary["stored"],
        "rejected": summary["rejected"],
        "ingest_seconds": summary["seconds"],
        "wall_seconds": round(wall, 3),
        "lines_per_second": round(summary["read"] / wall),
        "peak_rss_mb": round(measured["peak_kb"] / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--formats", nargs="+", default=["parquet", "csv"])
    args = parser.parse_args()
    rows = []
    for lines in args.lines:
        for fmt in args.formats:
            source = dataset(lines, fmt)
            result = {
                "format": fmt,
                "file_mb": round(source.stat().st_size / 2**20),
                **run_ingest(source),
            }
            rows.append(result)
            print(json.dumps(result), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    from clv import machine  # benchmarks/clv.py

    report = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "runs": rows}
    (RESULTS / "ingest.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nMachine: {report['machine']}\n")
    print("| format | lines | file MB | seconds (wall) | lines/s | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['format']} | {r['lines']:,} | {r['file_mb']} | {r['wall_seconds']:.1f} | "
            f"{r['lines_per_second']:,} | {r['peak_rss_mb']} |"
        )


if __name__ == "__main__":
    main()
