"""Run the next-basket backtest on both real datasets in ../shared/data, in one go.

    .venv/bin/python benchmarks/backtest_real.py

Each dataset is ingested into its own fresh store under bench-data/, then `omnix backtest` runs
with the protocol of shared/data/README.md. Results go to benchmarks/results/backtest.json and
print as Markdown for the README, next to the reference numbers of an independent implementation.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
WORK = ROOT / "bench-data"
RESULTS = ROOT / "benchmarks" / "results"

RUNS = [
    ("instacart_sample", "2020-07-01", 30),
    ("uci_online_retail_ii", "2011-09-01", 30),
]
# shared/data/README.md: G-TopFreq R@10, P-TopFreq R@10 / NDCG@10, TIFU-KNN R@10 / NDCG@10,
# constant-rate Poisson AUC / Brier
REFERENCE = {
    "instacart_sample": {"users": 775, "G-TopFreq": (0.073, None), "P-TopFreq": (0.399, 0.471),
                         "TIFU-KNN": (0.425, 0.495), "Poisson": (0.713, 0.2065)},
    "uci_online_retail_ii": {"users": 935, "G-TopFreq": (0.043, None), "P-TopFreq": (0.192, 0.298),
                             "TIFU-KNN": (0.189, 0.304), "Poisson": (0.670, 0.1347)},
}  # fmt: skip


def omnix(*args: str) -> str:
    cmd = [sys.executable, "-m", "omnix.entrypoints.cli.app", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def main() -> None:
    reports = {}
    for name, cutoff, horizon in RUNS:
        store = WORK / f"backtest-{name}"
        shutil.rmtree(store, ignore_errors=True)
        omnix("ingest", str(DATA / f"{name}.parquet"), "--data-dir", str(store), "--json")
        started = time.perf_counter()
        out = omnix("backtest", "--cutoff", cutoff, "--horizon-days", str(horizon),
                    "--data-dir", str(store), "--json")  # fmt: skip
        report = json.loads(out)
        report["wall_seconds"] = round(time.perf_counter() - started, 2)
        reports[name] = report
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "backtest.json").write_text(json.dumps(reports, indent=2) + "\n")
    print("| dataset | users | method | R@10 | NDCG@10 | PHR@10 | reference R@10 / NDCG@10 |")
    print("|---|---:|---|---:|---:|---:|---|")
    for name, r in reports.items():
        ref = REFERENCE[name]
        for row in r["next_basket"]:
            rr, rn = ref.get(row["method"], (None, None))
            ref_s = "-" if rr is None else f"{rr:.3f} / " + ("-" if rn is None else f"{rn:.3f}")
            print(f"| {name} | {r['customers']} (ref {ref['users']}) | {row['method']} | "
                  f"{row['recall@10']:.3f} | {row['ndcg@10']:.3f} | {row['phr@10']:.3f} | "
                  f"{ref_s} |")  # fmt: skip
    print("\n| dataset | pairs | method | AUC | Brier | ECE | MAE days | reference AUC / Brier |")
    print("|---|---:|---|---:|---:|---:|---:|---|")
    for name, r in reports.items():
        auc, brier = REFERENCE[name]["Poisson"]
        for row in r["pair_probabilities"]:
            constant = row["method"] == "Poisson (constant rate)"
            ref_s = f"{auc:.3f} / {brier:.4f}" if constant else "-"
            print(f"| {name} | {r['pairs']} | {row['method']} | {row['auc']:.3f} | "
                  f"{row['brier']:.4f} | {row['ece']:.3f} | {row['mae_days']:.1f} | "
                  f"{ref_s} |")  # fmt: skip


if __name__ == "__main__":
    main()
