"""Latency of the predictions and recommendations routes on a demo store, in-process.

    .venv/bin/python benchmarks/api_next.py                   # 2,000 customers x 365 days
    .venv/bin/python benchmarks/api_next.py --customers 500 --repeat 30

Builds the demo store (generate, ingest, analyze, recommend --all: not timed), starts the app
in-process (FastAPI's TestClient, so the figures include the client's own ~1 ms) and requests
each route `repeat` times after one untimed call, with different customers where the route
takes one. Reports the median and the 95th percentile in milliseconds, the load average
before and after, and the machine. Results go to benchmarks/results/api_next.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    from clv import machine  # benchmarks/clv.py

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="omnix-api-next-bench-") as tmp:
        routes = measure(Path(tmp), args.customers, args.days, args.repeat)
    result = {
        "customers": args.customers,
        "days": args.days,
        "repeat": args.repeat,
        "routes": routes,
        "machine": machine(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "api_next.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


def measure(tmp: Path, customers: int, days: int, repeat: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from omnix.bootstrap import bootstrap
    from omnix.config import Settings
    from omnix.domain.access import Role
    from omnix.entrypoints.api.app import create_app
    from omnix.generate import GeneratorConfig

    container = bootstrap(Settings(data_dir=tmp / "store", default_consent="granted"))
    try:
        start = datetime.now(UTC).date() - timedelta(days=days)
        config = GeneratorConfig(customers=customers, days=days, seed=42, start=start)
        container.demo_service().run(config)
        _, token = container.keys_service().create(Role.ANALYST, "bench")
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app(container)) as client:
            due = client.get("/v1/predictions/due?limit=1000", headers=headers).json()
            who = sorted({row["customer_id"] for row in due["items"]})
            assert who, "no predictions due on the demo store"
            body = {"k": 10, "context": {"channel": "web", "max_per_category": 2}}
            calls: dict[str, Callable[[int], Any]] = {
                "GET /v1/predictions/due (100 rows)": lambda n: client.get(
                    "/v1/predictions/due?within_days=14&limit=100", headers=headers
                ),
                "GET /v1/predictions/due (min_probability 0.5)": lambda n: client.get(
                    "/v1/predictions/due?within_days=7&min_probability=0.5", headers=headers
                ),
                "GET /v1/customers/{id}/predictions": lambda n: client.get(
                    f"/v1/customers/{who[n % len(who)]}/predictions", headers=headers
                ),
                "POST /v1/customers/{id}/recommendations": lambda n: client.post(
                    f"/v1/customers/{who[n % len(who)]}/recommendations",
                    json=body,
                    headers=headers,
                ),
            }
            return {name: _time(call, repeat) for name, call in calls.items()}
    finally:
        container.close()


def _time(call: Callable[[int], Any], repeat: int) -> dict[str, float]:
    assert call(0).status_code == 200  # untimed: first-use costs
    times = []
    for n in range(repeat):
        started = time.perf_counter()
        response = call(n + 1)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    times.sort()
    return {
        "median_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 2),
    }


if __name__ == "__main__":
    main()
