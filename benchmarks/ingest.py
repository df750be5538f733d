"""Ingest benchmark: lines/s and peak RSS for generated data, from Parquet and from CSV.

Each run is a fresh `omnix ingest` subprocess into an empty store, so the numbers are what a
user sees, start-up included. Peak RSS is the child's maximum resident set (getrusage).

    .venv/bin/python benchmarks/ingest.py                 # 1M and 10M lines
    .venv/bin/python benchmarks/ingest.py --lines 1000000 --formats parquet
    .venv/bin/python benchmarks/ingest.py --repeat 3     # median of 3 interleaved rounds
    .venv/bin/python benchmarks/ingest.py --repeat 3 --fast-host 0.57 --wait-minutes 120

Each run records the host's speed just before it (`host_loop_seconds`, clv.host_speed): the
shared host runs in spells that move the numbers by up to 3x.

Results go to benchmarks/results/ingest.json and print as a Markdown table for the README.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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


# Runs a command and reports its peak RSS and CPU seconds: a fresh parent per run, so
# getrusage's running maximum over children belongs to exactly that run. CPU seconds (user +
# sys) are the steadier number on a shared machine, where wall time depends on the neighbours.
_MEASURE = (
    "import json, resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
    "r = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(json.dumps({'rc': p.returncode, 'peak_kb': r.ru_maxrss, "
    "'cpu': r.ru_utime + r.ru_stime}), file=sys.stderr)"
)


def run_ingest(source: Path) -> dict[str, float]:
    data = WORK / "store"
    shutil.rmtree(data, ignore_errors=True)
    load = os.getloadavg()[0]
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
        "cpu_seconds": round(measured["cpu"], 2),
        "peak_rss_mb": round(measured["peak_kb"] / 1024),
        "load_before": round(load, 2),  # 1-minute load average when the run started
    }


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run with the median wall time, with the spread of the others beside it."""
    ordered = sorted(runs, key=lambda r: r["wall_seconds"])
    mid = dict(ordered[len(ordered) // 2])
    mid["repeats"] = len(runs)
    mid["wall_seconds_min"] = ordered[0]["wall_seconds"]
    mid["cpu_seconds_median"] = sorted(r["cpu_seconds"] for r in runs)[len(runs) // 2]
    mid["peak_rss_mb_max"] = max(r["peak_rss_mb"] for r in runs)
    loops = [r["host_loop_seconds"] for r in runs]
    mid["host_loop_seconds_range"] = [min(loops), max(loops)]
    return mid


def wait_for_fast_host(probe: Any, under: float, minutes: float) -> None:
    """Return once two probes in a row take under `under` seconds; exit after `minutes`."""
    deadline = time.monotonic() + minutes * 60
    while True:
        first, second = probe(), probe()
        print(f"{time.strftime('%H:%M:%S')} host loop {first} / {second} s", flush=True)
        if max(first, second) < under:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"the host stayed slower than {under} s for {minutes} minutes")
        time.sleep(40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--formats", nargs="+", default=["parquet", "csv"])
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds over all cases; the median is reported"
    )
    parser.add_argument(
        "--fast-host",
        type=float,
        metavar="SECONDS",
        help="first wait until the host's loop (clv.host_speed) takes under SECONDS twice in "
        "a row, e.g. 0.57 for a fast spell; checked every 40 s",
    )
    parser.add_argument(
        "--wait-minutes", type=float, default=60, help="how long --fast-host may wait"
    )
    args = parser.parse_args()
    cases = [(lines, fmt, dataset(lines, fmt)) for lines in args.lines for fmt in args.formats]
    runs: dict[tuple[int, str], list[dict[str, float]]] = {}
    from clv import host_speed, machine  # benchmarks/clv.py

    if args.fast_host is not None:
        wait_for_fast_host(host_speed, args.fast_host, args.wait_minutes)
    for _ in range(args.repeat):  # rounds interleave the cases: neighbours' load hits all alike
        for lines, fmt, source in cases:
            speed = host_speed()  # the host's spell just before the run
            result = {**run_ingest(source), "host_loop_seconds": speed}
            runs.setdefault((lines, fmt), []).append(result)
            print(json.dumps({"format": fmt, **result}), flush=True)
    rows = []
    for lines, fmt, source in cases:
        size = {"format": fmt, "file_mb": round(source.stat().st_size / 2**20)}
        rows.append({**size, **median_run(runs[(lines, fmt)])})
    RESULTS.mkdir(parents=True, exist_ok=True)
    loops = [r["host_loop_seconds"] for rs in runs.values() for r in rs]
    report = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "host_loop_seconds": [min(loops), max(loops)],
        "runs": rows,
    }
    (RESULTS / "ingest.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nMachine: {report['machine']}")
    low, high = report["host_loop_seconds"]
    print(f"Host speed: a Python loop of 10^7 additions {low}-{high} s before the runs\n")
    print("| format | lines | file MB | seconds (wall) | lines/s | CPU s | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['format']} | {r['lines']:,} | {r['file_mb']} | {r['wall_seconds']:.1f} | "
            f"{r['lines_per_second']:,} | {r['cpu_seconds_median']:.1f} | {r['peak_rss_mb_max']} |"
        )


if __name__ == "__main__":
    main()
