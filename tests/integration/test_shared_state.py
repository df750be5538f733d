"""What several API processes share: the Redis view cache and rate limit (real Redis on
6379, a key prefix per test), changes announced by the PostgreSQL store to other processes,
and analysis jobs held across processes. `make test` starts Redis (scripts/ensure-redis.sh)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from omnix.domain.access import Role
from omnix.domain.jobs import Job, JobStatus
from tests.api_support import api
from tests.backends import StoreRef

WHO = "C000005"


def test_redis_views_are_kept_dropped_per_customer_and_cleared(cache_url: str) -> None:
    from omnix.adapters.cache.redis import RedisViewCache

    one, other = RedisViewCache(cache_url, ttl=60), RedisViewCache(cache_url, ttl=60)
    one.put("A", "360", b"a")
    one.put("A", "value", b"v")
    one.put("B", "360", b"b")
    assert other.get("A", "360") == b"a" and len(other) == 2  # shared by processes
    other.drop("A")
    assert one.get("A", "360") is None and one.get("A", "value") is None
    assert one.get("B", "360") == b"b"
    one.put("C", "360", b"c")
    other.drop_many(["C", "nobody"])
    assert one.get("C", "360") is None and one.get("B", "360") == b"b"
    one.clear()
    assert other.get("B", "360") is None and len(one) == 0
    assert one.claim("warm", 5) and not other.claim("warm", 5)


def test_redis_views_expire(cache_url: str) -> None:
    from omnix.adapters.cache.redis import RedisViewCache

    cache = RedisViewCache(cache_url, ttl=1)
    cache.put("A", "360", b"a")
    time.sleep(2.2)
    assert cache.get("A", "360") is None


def test_the_redis_rate_limit_is_one_bucket_for_every_process(cache_url: str) -> None:
    from omnix.adapters.cache.redis import RedisBuckets

    async def takes() -> list[float]:
        first, second = RedisBuckets(cache_url, 0.5, 3), RedisBuckets(cache_url, 0.5, 3)
        return [await b.take("key1") for b in (first, second, first, second)]

    waits = asyncio.run(takes())
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 1.0 < waits[3] <= 2.0  # the 4th request of a burst of 3 waits ~2 s at 0.5/s


def test_events_drop_the_view_in_redis(api_store: StoreRef, cache_url: str) -> None:
    with api(api_store, cache_url=cache_url) as a:
        assert a.client.get(f"/v1/customers/{WHO}", headers=a.auth()).status_code == 200
        cache = a.container.view_cache()
        assert cache.get(WHO, "360") is not None
        event = {"message_id": "r1", "customer_id": WHO, "order_id": "R1",
                 "ts": "2025-04-20T10:00:00Z", "product_id": "P00001"}  # fmt: skip
        r = a.client.post("/v1/events", json={"events": [event]}, headers=a.auth(Role.INGEST))
        assert r.json()["stored"] == 1
        assert cache.get(WHO, "360") is None


def test_rate_limit_through_redis_answers_429(api_store: StoreRef, cache_url: str) -> None:
    with api(api_store, cache_url=cache_url, api_rate_per_second=0.2, api_rate_burst=3) as a:
        codes = [a.client.get("/v1/segments", headers=a.auth()).status_code for _ in range(4)]
    assert codes[:3] == [200, 200, 200] and codes[3] == 429


# ---------------------------------------------------------------- other processes (PostgreSQL)
def _in_another_process(store: StoreRef, code: str) -> None:
    """Run `code` with `container` opened on the store in a separate Python process."""
    script = (
        "from omnix.bootstrap import bootstrap\nfrom omnix.config import Settings\n"
        f"container = bootstrap(Settings(data_dir={str(store.data_dir)!r}, "
        f"warehouse_url={store.url!r}))\n{code}\ncontainer.close()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIX_")}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=120)


def _eventually(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


@pytest.mark.parametrize("api_template", ["postgres"], indirect=True)
def test_another_process_changes_reach_this_servers_cache_and_keys(api_store: StoreRef) -> None:
    with api(api_store) as a:
        assert a.client.get(f"/v1/customers/{WHO}", headers=a.auth()).status_code == 200
        cache = a.container.view_cache()
        assert cache.get(WHO, "360") is not None and cache.get("C000006", "360") is not None
        _in_another_process(
            api_store,
            "from omnix.domain.consent import Purpose\n"
            f"container.consent_service().set({WHO!r}, Purpose.PROFILING, False, 'other')",
        )
        assert _eventually(lambda: cache.get(WHO, "360") is None)
        assert cache.get("C000006", "360") is not None  # only that customer's views
        key_id = a.keys[Role.ANALYST].split("_")[1]
        assert a.client.get("/v1/segments", headers=a.auth(Role.ANALYST)).status_code == 200
        _in_another_process(api_store, f"container.keys_service().revoke({key_id!r})")
        assert _eventually(
            lambda: a.client.get("/v1/segments", headers=a.auth(Role.ANALYST)).status_code == 401,
            3.0,  # well under the key cache's 10 s
        )


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_a_job_held_by_a_live_process_is_not_abandoned(store: StoreRef, tmp_path: Path) -> None:
    from omnix.bootstrap import open_warehouse

    wh: Any = open_warehouse(store.settings())
    try:
        job = Job("j-live", "analyze", JobStatus.RUNNING, datetime.now(UTC))
        dead = Job("j-dead", "other", JobStatus.RUNNING, datetime.now(UTC))
        with wh.hold_job(job.job_id):
            assert wh.create_job(job)
            assert not wh.create_job(Job("j-2", "analyze", JobStatus.QUEUED, datetime.now(UTC)))
            assert wh.create_job(dead)  # its process "died": nobody holds it
            assert wh.abandon_jobs("interrupted", datetime.now(UTC)) == 1
            assert wh.get_job("j-live").status is JobStatus.RUNNING
            assert wh.get_job("j-dead").status is JobStatus.FAILED
            assert wh.request_cancel("j-live") and wh.cancel_requested("j-live")
            job.stage = "profiles"
            wh.save_job(job)  # the runner's own save keeps the cancellation
            assert wh.get_job("j-live").cancel_requested
        assert wh.abandon_jobs("interrupted", datetime.now(UTC)) == 1  # released: abandoned
    finally:
        wh.close()
