"""`omnix analyze` benchmark: the whole pipeline into a dated snapshot on a generated store.

    .venv/bin/python benchmarks/analyze.py                      # 100,000 customers x 365 days
    .venv/bin/python benchmarks/analyze.py --customers 10000

The store is the one benchmarks/segments.py generates and ingests into bench-data/ (cached; not
timed). The timed part runs `omnix analyze --json --default-consent granted` as a subprocess,
end to end as a user runs it (profiles, segments, CLV, clusters, spending profiles for every
customer, predictions, snapshot write), with the generator's private labels configured; wall
seconds, CPU seconds, the per-stage seconds omnix reports, the peak RSS of the process
(getrusage of children) and the machine's load average when it started.
Results go to benchmarks/results/analyze.json.
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

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "benchmarks"))
PRIVATE_LABELS = "Everyday Basics,Omni"  # the generator's store brands (generate/templates.py)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    from clv import machine  # benchmarks/clv.py
    from segments import store_for  # benchmarks/segments.py

    data, lines = store_for(args.customers, args.days)
    omnix = Path(sys.executable).parent / "omnix"
    command = [str(omnix), "analyze", "--data-dir", str(data / "store"), "--json",
               "--default-consent", "granted"]  # fmt: skip
    env = {**os.environ, "OMNIX_PRIVATE_LABELS": PRIVATE_LABELS}
    load = os.getloadavg()[0]  # other processes on the machine slow the wall time down
    started = time.perf_counter()
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = usage.ru_maxrss / 1024
    report = json.loads(out)
    result = {
        "lines": lines,
        "customers": report["customers"],
        "profiled": report["profiled"],
        "snapshot_rows": report["snapshot_rows"],
        "seconds_total": round(seconds, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "load_average_at_start": round(load, 2),
        "predictions": report["predictions"],
        "seconds": report["seconds"],
        "peak_rss_mb": round(peak, 1),
        "machine": machine(),
        "target_seconds": 90,
        "target_peak_rss_mb": 4096,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "analyze.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
