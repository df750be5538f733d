"""CLV benchmark: fit and score BG/NBD, Pareto/NBD and Gamma-Gamma for 1M customers.

    .venv/bin/python benchmarks/clv.py                  # 1,000,000 customers
    .venv/bin/python benchmarks/clv.py --customers 200000

Customers are drawn from the BG/NBD process itself (numpy, seeded), with known parameters, at
day resolution like real summaries (T and t_x whole days, expressed in weeks): purchase rate
lambda ~ gamma(r, alpha), dropout p ~ beta(a, b) after each repeat purchase, first purchases
spread over a year; spend per purchase gamma(p, nu) with nu ~ gamma(q, gamma). The timed part
is what `omnix analyze` does after the store's summary: BG/NBD and Pareto/NBD fits (the
churn-risk P(alive) combines them: models/clv.AliveModel), Gamma-Gamma fit, and for every
customer P(alive), expected purchases over 39 weeks and 12-month CLV.
Results go to benchmarks/results/clv.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from omnix.models.clv import AliveModel, BetaGeoModel, GammaGammaModel, ParetoNBDModel, clv

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TRUE_BG = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
TRUE_GG = {"p": 6.0, "q": 4.0, "gamma": 15.0}
WEEK = 7.0


def simulate(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """(x, t_x, T in weeks, mean repeat value m) for n customers drawn from BG/NBD x Gamma-Gamma."""
    rng = np.random.default_rng(seed)
    T_days = rng.integers(1, 366, n).astype(np.float64)
    lam = rng.gamma(TRUE_BG["r"], 1.0 / TRUE_BG["alpha"], n) / WEEK  # per day
    p = rng.beta(TRUE_BG["a"], TRUE_BG["b"], n)
    arrivals = rng.poisson(lam * T_days)
    dies_after = rng.geometric(p)  # repeat purchases until dropout
    x = np.minimum(arrivals, dies_after)
    k = np.maximum(x, 1)
    order_stat = rng.beta(k, np.maximum(arrivals - k + 1, 1))  # k-th of `arrivals` uniforms
    t_x_days = np.where(x > 0, np.floor(order_stat * T_days), 0.0)
    nu = rng.gamma(TRUE_GG["q"], 1.0 / TRUE_GG["gamma"], n)
    m = np.where(x > 0, rng.gamma(TRUE_GG["p"] * k, 1.0 / (nu * k)), 0.0)
    return {"x": x.astype(np.float64), "t_x": t_x_days / WEEK, "T": T_days / WEEK, "m": m}


def machine() -> str:
    """CPU model, cores, RAM and Python version, as this machine reports them."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines()
                 if ln.startswith("model name")]  # fmt: skip
        cpu = names[0] if names else cpu
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem_gib:.0f} GiB RAM, Python {platform.python_version()}"
    )


def host_speed() -> float:
    """Seconds for a pure-Python loop of 10^7 additions at module level (`python -c`, the form
    every note and DECISIONS_LOG entry quotes): how fast this host is right now.

    The shared host runs in spells (the loop 0.47-0.55 s fast, 0.6-0.8 s medium, over 1 s slow)
    that move every benchmark by up to 3x and that no load average or steal counter shows;
    numbers compare only within a spell, so benchmarks record this beside them."""
    loop = (
        "import time\nt = time.perf_counter()\ns = 0\nfor i in range(10**7): s += i\n"
        "print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", loop], capture_output=True, text=True, check=True)
    return round(float(out.stdout), 3)


def timed(fn: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def run(n: int) -> dict[str, Any]:
    d = simulate(n)
    x, t_x, T, m = d["x"], d["t_x"], d["T"], d["m"]
    rss_data = peak_rss_mb()
    started = time.perf_counter()
    bg, t_bg = timed(lambda: BetaGeoModel().fit(x, t_x, T))
    pareto, t_pareto_fit = timed(lambda: ParetoNBDModel().fit(x, t_x, T))
    gg, t_gg = timed(lambda: GammaGammaModel().fit(x, m))

    def score() -> float:
        AliveModel.of(bg, pareto).p_alive(x, t_x, T)
        bg.expected_purchases(39.0, x, t_x, T)
        spend = gg.expected_spend(x, m)
        return float(clv(bg, x, t_x, T, spend, months=12, month_length=365.25 / 12 / WEEK).sum())

    total_clv, t_score = timed(score)
    seconds = time.perf_counter() - started
    _, t_pareto_score = timed(lambda: pareto.expected_purchases(39.0, x, t_x, T))
    return {
        "customers": n,
        "repeat_customers": int(np.count_nonzero(x)),
        "distinct_rfm_rows": len(np.unique(np.stack([x, t_x, T]), axis=1).T),
        "seconds_fit_and_score": round(seconds, 2),
        "seconds": {
            "bgnbd_fit": round(t_bg, 2),
            "gamma_gamma_fit": round(t_gg, 2),
            "pareto_nbd_fit": round(t_pareto_fit, 2),
            "score_p_alive_expected_clv": round(t_score, 2),
            "pareto_nbd_expected_purchases_untimed": round(t_pareto_score, 2),
        },
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_after_data_mb": round(rss_data, 1),
        "true": {"bgnbd": TRUE_BG, "gamma_gamma": TRUE_GG},
        "fitted": {"bgnbd": bg.params_, "gamma_gamma": gg.params_, "pareto_nbd": pareto.params_},
        "total_clv_12_months": round(total_clv, 2),
        "machine": machine(),
        "target_seconds": 20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args()
    result = run(args.customers)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "clv.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
