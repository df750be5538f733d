from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends import BACKENDS, StoreRef, new_store

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("OMNIX_"):
            monkeypatch.delenv(key)


def shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI needs ../shared/data beside the project")
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreRef]:
    """An empty store of each kind: the DuckDB file in a fresh data directory, and a
    PostgreSQL database of its own (dropped afterwards)."""
    ref = new_store(request.param, tmp_path / "data")
    yield ref
    ref.drop()


@pytest.fixture(scope="session", params=BACKENDS)
def api_template(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StoreRef]:
    """An analysed demo store (60 customers, with rejected rows) of each kind, built once
    per session."""
    from tests.api_support import build_store

    root = tmp_path_factory.mktemp(f"api-template-{request.param}")
    ref = build_store(new_store(request.param, root / "store"), root)
    yield ref
    ref.drop()


@pytest.fixture
def api_store(api_template: StoreRef, tmp_path: Path) -> Iterator[StoreRef]:
    """A private copy of the template store for a test that writes."""
    ref = api_template.copy(tmp_path / "store")
    yield ref
    ref.drop()


REDIS_URL = os.environ.get("OMNIX_TEST_REDIS_URL", "redis://localhost:6379/0")


@pytest.fixture
def cache_url() -> Iterator[str]:
    """The test server's Redis with a prefix of this test's own (its keys removed after)."""
    import redis

    prefix = f"omnix-test-{uuid.uuid4().hex[:10]}:"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as err:
        pytest.fail(f"Redis at {REDIS_URL} is not reachable ({err}); run scripts/ensure-redis.sh")
    yield f"{REDIS_URL}?prefix={prefix}"
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()
