"""Load benchmark of the REST API on loopback with wrk (Debian's; installed when missing).

1. builds a store: generated history (--customers, --days), ingested and analysed;
2. starts `omnix serve` (one uvicorn process, the embedded store) on a free loopback port;
3. waits until the server has built every customer's 360 in bulk (its warm-up after start),
   then `wrk` rotates through --hot customers' 360 (served from the view cache);
4. `wrk` posts event batches (--batch events each, every message id new) for ingest speed.

Targets (issue 6): 360 reads >= 2,000 requests/s with p99 <= 25 ms; ingest >= 10,000
events/s. Results go to benchmarks/results/api_load.json with the machine and its load.
Bounded: every wrk run lasts --seconds, against 127.0.0.1 only.

On PostgreSQL: `--database-url postgresql://.../db` (an empty database: the store is built
there; results to api_load_postgres.json), `--workers N` server processes, `--cache-url
redis://...` to share the view cache between them.

    .venv/bin/python benchmarks/api_load.py --customers 20000 --seconds 20
    .venv/bin/python benchmarks/api_load.py --database-url postgresql://postgres@localhost/b \
        --workers 2 --cache-url redis://localhost:6379/0?prefix=bench:
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "api_load.json"

READ_LUA = """
local paths = {}
for line in io.lines("%(ids)s") do paths[#paths + 1] = "/v1/customers/" .. line end
local n = 0
wrk.headers["Authorization"] = "Bearer %(key)s"
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1])
end
%(done)s
"""
EVENTS_LUA = """
local thread_no = 0
local counter = 0
setup = function(thread) thread_no = thread_no + 1; thread:set("tid", thread_no) end
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer %(key)s"
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  local parts = {}
  for i = 1, %(batch)d do
    local c = (counter * 7 + i) %% %(customers)d + 1
    parts[i] = string.format('{"message_id":"w%%d-%%d-%%d","customer_id":"C%%06d",' ..
      '"order_id":"W%%d-%%d","ts":"%(ts)s","product_id":"P%%05d","quantity":1,"unit_price":1.5}',
      tid, counter, i, c, tid, counter, (i %% 300) + 1)
  end
  return wrk.format(nil, nil, nil, '{"events":[' .. table.concat(parts, ",") .. ']}')
end
%(done)s
"""
DONE_LUA = """
done = function(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"non_2xx":%d,"socket_errors":%d,' ..
    '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f}\\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk (apt-get)", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False)
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk") or "wrk"


def build_store(data: Path, customers: int, days: int, url: str | None) -> dict[str, Any]:
    from omnix.bootstrap import bootstrap
    from omnix.config import Settings
    from omnix.domain.access import Role
    from omnix.domain.ingest import IngestOptions
    from omnix.generate import GeneratorConfig, generate

    started = time.perf_counter()
    start = date(2025, 1, 1)
    out = data.parent / "history.parquet"
    result = generate(GeneratorConfig(customers=customers, days=days, seed=11, start=start), out)
    container = bootstrap(Settings(data_dir=data, warehouse_url=url))
    try:
        if container.warehouse.table_counts()["transactions"]:
            raise SystemExit(f"the store at {url} is not empty: give an empty database")
        container.ingest_service().ingest([out], IngestOptions())
        container.analyze_service().run(start + timedelta(days=days))
        _, reader = container.keys_service().create(Role.ANALYST, "bench reader")
        _, writer = container.keys_service().create(Role.INGEST, "bench writer")
    finally:
        container.close()
    return {
        "lines": result.lines,
        "customers": customers,
        "days": days,
        "reader": reader,
        "writer": writer,
        "seconds": round(time.perf_counter() - started, 1),
    }


def serve(
    data: Path, port: int, url: str | None, workers: int, cache_url: str | None
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIX_")}
    if url:
        env["OMNIX_WAREHOUSE_URL"] = url
    if cache_url:
        env["OMNIX_CACHE_URL"] = cache_url
    env |= {
        "OMNIX_DATA_DIR": str(data),
        "OMNIX_API_RATE_PER_SECOND": "1000000",
        "OMNIX_API_RATE_BURST": "1000000",
        "OMNIX_API_MAX_BODY_BYTES": str(64 << 20),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "omnix.entrypoints.cli.app",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("omnix serve did not start")


def wrk(
    binary: str, script: str, url: str, threads: int, conns: int, seconds: int
) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    out = subprocess.run(
        [binary, f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "-s", f.name, url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    found: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    found["requests_per_s"] = round(found["requests"] / (found["duration_us"] / 1e6), 1)
    found |= {"threads": threads, "connections": conns, "seconds": seconds}
    return found


def wait_warm(port: int, customers: int, cache_url: str | None) -> float:
    """Seconds until the server has cached every customer's 360 (GET /readyz tells; with a
    shared Redis cache, the number of customers cached there)."""
    started = time.perf_counter()
    while time.perf_counter() - started < 1800:
        if cache_url:
            from omnix.adapters.cache.redis import RedisViewCache

            warm = len(RedisViewCache(cache_url))
        else:
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=30).json()
            warm = ready["warm_views"]
        if warm >= customers:
            return round(time.perf_counter() - started, 1)
        time.sleep(0.5)
    raise SystemExit("the 360 views were not warmed within 30 minutes")


def say(text: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {text}", file=sys.stderr, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=180)
    ap.add_argument("--hot", type=int, default=2_000, help="customers read in the 360 run")
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--connections", type=int, nargs="+", default=[8, 16])
    ap.add_argument("--batch", type=int, default=1_000)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--database-url", default=None, help="postgresql://... (an empty database)")
    ap.add_argument("--workers", type=int, default=1, help="server processes (PostgreSQL)")
    ap.add_argument("--cache-url", default=None, help="redis://... shared view cache")
    args = ap.parse_args()
    if args.out is None:
        args.out = RESULTS.with_name("api_load_postgres.json") if args.database_url else RESULTS
    binary = ensure_wrk()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="omnix-api-bench-") as tmp:
        data = Path(tmp) / "data"
        say("building the store")
        store = build_store(data, args.customers, args.days, args.database_url)
        say(f"store: {store['lines']:,} lines in {store['seconds']} s; starting omnix serve")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = serve(data, port, args.database_url, args.workers, args.cache_url)
        try:
            ids = [f"C{k:06d}" for k in range(1, args.hot + 1)]
            say("waiting for the 360 warm-up")
            warm_s = wait_warm(port, args.customers, args.cache_url)
            say(f"warm after {warm_s} s; wrk reads")
            id_file = Path(tmp) / "ids.txt"
            id_file.write_text("\n".join(ids) + "\n")
            url = f"http://127.0.0.1:{port}"
            script = READ_LUA % {"ids": id_file, "key": store["reader"], "done": DONE_LUA}
            reads = [wrk(binary, script, url, 1, n, args.seconds) for n in args.connections]
            say(f"reads: {reads}; wrk events")
            events = wrk(
                binary,
                EVENTS_LUA
                % {
                    "key": store["writer"],
                    "batch": args.batch,
                    "customers": args.customers,
                    "ts": "2025-06-01T10:00:00Z",
                    "done": DONE_LUA,
                },
                f"{url}/v1/events",
                1,
                4,
                args.seconds,
            )
            events["events_per_s"] = round(events["requests_per_s"] * args.batch, 1)
            parent = psutil.Process(proc.pid)
            rss = sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu": _cpu(),
            "cores": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "note": "shared with other sessions while measured",
        },
        "store": {k: store[k] for k in ("lines", "customers", "days", "seconds")},
        "server": {
            "process": f"omnix serve ({args.workers} uvicorn process(es), uvloop + httptools)",
            "store": "postgresql (PostgreSQL 15, same machine)" if args.database_url else "duckdb",
            "view_cache": "redis (shared)" if args.cache_url else "in process",
            "rss_mb_after": round(rss / 2**20),
        },
        "customer_360_warm_up_seconds": warm_s,
        "customer_360_warm": [r | {"hot_customers": args.hot} for r in reads],
        "events": events | {"batch": args.batch},
        "targets": {"reads_per_s": 2000, "read_p99_ms": 25, "events_per_s": 10000},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


if __name__ == "__main__":
    main()
