"""`omnix serve --workers 2` on PostgreSQL over real HTTP: every process serves the same
store, one analysis at a time across them, a shared rate limit through Redis, the CLI
writing beside the running server; the embedded store refuses several workers."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.backends import StoreRef
from tests.e2e.test_api_serve import _free_port

OMNIX = [sys.executable, "-m", "omnix.entrypoints.cli.app"]


def _env(store: StoreRef, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIX_")}
    return env | {"OMNIX_DATABASE_URL": store.url or "", **extra}


def _cli(store: StoreRef, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*OMNIX, *args, "--data-dir", str(store.data_dir)],
        capture_output=True, text=True, env=_env(store, **extra), timeout=600, check=False,
    )  # fmt: skip


@pytest.fixture
def served(
    store: StoreRef,
    cache_url: str,
    tmp_path: Path,
) -> Iterator[tuple[str, dict[str, str], StoreRef]]:
    demo = _cli(store, "demo", "--customers", "40", "--days", "90", "--no-serve")
    assert demo.returncode == 0, demo.stderr
    created = _cli(store, "keys", "create", "--role", "admin", "--json")
    key = json.loads(created.stdout)["key"]
    port = _free_port()
    extra = {"OMNIX_CACHE_URL": cache_url, "OMNIX_API_RATE_PER_SECOND": "0.5",
             "OMNIX_API_RATE_BURST": "60"}  # fmt: skip
    proc = subprocess.Popen(
        [*OMNIX, "serve", "--workers", "2", "--port", str(port),
         "--data-dir", str(store.data_dir)],
        env=_env(store, **extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc)
        yield base, {"Authorization": f"Bearer {key}"}, store
    finally:
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=60)[0]
        assert proc.returncode == 0, out


def _wait_ready(base: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not become ready")


def _fresh(base: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A request on a new connection (the kernel hands connections to either worker)."""
    with httpx.Client(base_url=base, timeout=30) as client:
        return client.request(method, path, **kwargs)


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_two_workers_share_the_store_jobs_limits_and_cache(served: Any) -> None:
    base, auth, store = served
    pids = {_fresh(base, "GET", "/metrics", headers=auth).status_code for _ in range(6)}
    assert pids == {200}
    started = _fresh(base, "POST", "/v1/analysis-runs", json={}, headers=auth)
    assert started.status_code == 202
    others = [_fresh(base, "POST", "/v1/analysis-runs", json={}, headers=auth).status_code
              for _ in range(4)]  # fmt: skip
    assert set(others) <= {202, 409}
    runs: list[dict[str, Any]] = []
    for _ in range(300):  # every worker reads the runs' progress from the store
        runs = _fresh(base, "GET", "/v1/analysis-runs", headers=auth).json()["items"]
        if all(r["status"] in ("succeeded", "failed", "cancelled") for r in runs):
            break
        time.sleep(0.5)
    assert len(runs) == 1 + others.count(202)
    assert all(r["status"] == "succeeded" for r in runs), runs
    spans = sorted((r["created_at"], r["finished_at"]) for r in runs)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))  # never two at once
    # the CLI writes beside the running server: its events reach the views of every worker
    first = _fresh(base, "GET", "/v1/customers/C000001", headers=auth).json()
    assert first["customer_id"] == "C000001"
    erased = _cli(store, "privacy", "erase", "C000001", "--yes", "--json")
    assert erased.returncode == 0, erased.stderr
    for _ in range(4):
        assert _fresh(base, "GET", "/v1/customers/C000001", headers=auth).status_code == 404
    # one bucket for both workers: a fresh key gets its burst of 60 whichever worker answers
    created = _cli(store, "keys", "create", "--role", "viewer", "--json")
    fresh = {"Authorization": f"Bearer {json.loads(created.stdout)['key']}"}
    seen = [_fresh(base, "GET", "/v1/segments", headers=fresh).status_code for _ in range(80)]
    assert 429 in seen and 60 <= seen.index(429) <= 70, seen
