"""Dashboard benchmark: the server's render time of every page on the demo data.

    .venv/bin/python benchmarks/web.py                  # 2,000 customers x 365 days, as `make demo`
    .venv/bin/python benchmarks/web.py --customers 500
    .venv/bin/python benchmarks/web.py --store /tmp/web-store  # build once, reuse after

Builds the demo store (generate, ingest, analyze twice, backtest, predict: not timed), starts
the app in-process, signs in with an admin key and requests every page. "first" is the first
request of a page after start (the start-up warm-up has rendered the overview and segments;
other pages build their data then), "warm" the median of the next five (page data and chart
SVG served from memory until the store changes). Times are the Server-Timing `app` duration:
from the route's start to the rendered HTML, in milliseconds. The load average at the start is
recorded: the machine may be shared. Results go to benchmarks/results/web.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "benchmarks"))
TIMING = re.compile(r"app;dur=([\d.]+)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--store", type=Path, help="Keep the demo store here; reuse it if built.")
    args = parser.parse_args()
    from clv import machine  # benchmarks/clv.py

    load = os.getloadavg()[0]
    if args.store is not None:
        pages = measure(args.store, args.customers, args.days, args.repeat)
    else:
        with tempfile.TemporaryDirectory(prefix="omnix-web-bench-") as tmp:
            pages = measure(Path(tmp) / "store", args.customers, args.days, args.repeat)
    result = {
        "customers": args.customers,
        "days": args.days,
        "pages": pages,
        "max_first_ms": max(p["first_ms"] for p in pages.values()),
        "max_warm_ms": max(p["warm_median_ms"] for p in pages.values()),
        "target_ms": 300,
        "machine": machine(),
        "load_average_at_start": round(load, 2),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "web.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


def measure(store: Path, customers: int, days: int, repeat: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from omnix.bootstrap import bootstrap
    from omnix.config import Settings
    from omnix.domain.access import Role
    from omnix.entrypoints.api.app import create_app
    from omnix.generate import GeneratorConfig

    built = (store / "omnix.duckdb").exists()
    settings = Settings(data_dir=store, default_consent="granted")
    container = bootstrap(settings)
    try:
        if not built:
            start = datetime.now(UTC).date() - timedelta(days=days)
            config = GeneratorConfig(customers=customers, days=days, seed=42, start=start)
            container.demo_service().run(config)
        _, token = container.keys_service().create(Role.ADMIN, "bench")
        member = container.dashboard_service().members(_query()).items[0]["customer_id"]
        segment = container.views().segments(None)["segments"][0]["segment"]
        paths = {
            "overview": "/", "segments": "/segments", "segment": f"/segments/{segment}",
            "customers": "/customers", "customer": f"/customers/{member}",
            "model-health": "/model-health", "replenishment": "/replenishment",
            "replenishment-filtered": (
                f"/replenishment?within=7&segment={segment}&sort=days_overdue"
            ),
            # loaded by the customer page after it is shown (htmx), unless already cached
            "customer-recommendations": f"/customers/{member}/recommendations",
        }  # fmt: skip
        with TestClient(create_app(container)) as client:
            _sign_in(client, token)
            time.sleep(5)  # the start-up warm-up (chart renderer, overview, segments)
            return {name: _time(client, path, repeat) for name, path in paths.items()}
    finally:
        container.close()


def _query() -> Any:
    from omnix.services.dashboard import MemberQuery

    return MemberQuery()


def _sign_in(client: Any, token: str) -> None:
    page = client.get("/sign-in").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    r = client.post("/sign-in", data={"key": token, "csrf": csrf.group(1)}, follow_redirects=False)
    assert r.status_code == 303, r.text


def _time(client: Any, path: str, repeat: int) -> dict[str, Any]:
    times = []
    for _ in range(repeat + 1):
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code)
        found = TIMING.search(r.headers["server-timing"])
        assert found is not None
        times.append(float(found.group(1)))
    return {
        "path": path,
        "first_ms": round(times[0], 1),
        "warm_median_ms": round(statistics.median(times[1:]), 1),
        "bytes": len(r.content),
    }


if __name__ == "__main__":
    main()
