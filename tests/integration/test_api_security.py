"""API security on the real store: every route's role, keys, rate and size limits, headers,
problem+json errors, CORS off by default, secrets refused outside development."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount

from omnix.config import Settings
from omnix.domain.access import Role, roles_below
from omnix.domain.errors import ConfigError
from omnix.entrypoints.api.app import api_routes
from omnix.entrypoints.api.deps import PUBLIC, ROLE_FIELD
from omnix.entrypoints.api.problems import MEDIA_TYPE
from tests.api_support import api, opened
from tests.backends import StoreRef


@pytest.fixture(scope="module")
def secured_store(
    api_template: StoreRef, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StoreRef]:
    """This module's own copy of the template: its tests store an event and create keys,
    and the session's shared template must not depend on whether they ran first."""
    ref = api_template.copy(tmp_path_factory.mktemp("security") / "store")
    yield ref
    ref.drop()


PUBLIC_PATHS = {"/healthz", "/readyz", "/docs", "/redoc", "/problems/{slug}"}


def _routes(app: object) -> list[APIRoute]:
    del app  # FastAPI 0.165 keeps included routers as nodes: walk the routers themselves
    return api_routes()


def _concrete(path: str) -> str:
    """A request path for a route template (any value will do: auth comes first)."""
    return re.sub(r"\{[^}]+\}", "x1", path)


def test_every_route_declares_its_role(secured_store: StoreRef) -> None:
    with api(secured_store) as a:
        routes = _routes(a.client.app)
        assert len(routes) >= 25
        undeclared = [r.path for r in routes if ROLE_FIELD not in (r.openapi_extra or {})]
        assert undeclared == []
        public = {r.path for r in routes if r.openapi_extra[ROLE_FIELD] == PUBLIC}  # type: ignore[index]
        assert public == PUBLIC_PATHS
        mounts = [r.path for r in a.client.app.routes if isinstance(r, Mount)]  # type: ignore[attr-defined]
        # static docs assets and the dashboard's CSS / JS: the only other public paths
        assert mounts == ["/docs/assets", "/static"]


def test_every_secured_route_refuses_no_key_a_bad_key_and_every_lower_role(
    secured_store: StoreRef,
) -> None:
    with api(secured_store) as a:
        checked = 0
        for route in _routes(a.client.app):
            needed = route.openapi_extra[ROLE_FIELD]  # type: ignore[index]
            if needed == PUBLIC:
                continue
            path = _concrete(route.path)
            for method in route.methods:
                r = a.client.request(method, path)
                assert r.status_code == 401, (method, path)
                assert r.headers["content-type"] == MEDIA_TYPE
                assert r.headers["www-authenticate"].startswith("Bearer")
                bogus = {"Authorization": "Bearer omx_0123456789ab_not-a-real-secret"}
                assert a.client.request(method, path, headers=bogus).status_code == 401
                for low in roles_below(Role(needed)):
                    r = a.client.request(method, path, headers=a.auth(low))
                    assert r.status_code == 403, (method, path, low)
                    assert r.json()["type"] == "/problems/forbidden"
                    checked += 1
        assert checked >= 60


def test_a_route_answers_the_role_it_declares(secured_store: StoreRef) -> None:
    with api(secured_store) as a:
        assert a.client.get("/v1/segments", headers=a.auth(Role.VIEWER)).status_code == 200
        assert a.client.get("/v1/customers", headers=a.auth(Role.ANALYST)).status_code == 200
        assert a.client.get("/v1/customers", headers=a.auth(Role.VIEWER)).status_code == 403
        assert a.client.get("/v1/customers", headers=a.auth(Role.INGEST)).status_code == 403
        x_api_key = {"X-API-Key": a.keys[Role.ANALYST]}
        assert a.client.get("/v1/customers?limit=1", headers=x_api_key).status_code == 200


def test_revoked_key_is_refused_at_once_and_keys_are_stored_hashed(api_store: StoreRef) -> None:
    with api(api_store) as a:
        token = a.keys[Role.ANALYST]
        key_id = token.split("_")[1]
        assert a.client.get("/v1/snapshots", headers=a.auth(Role.ANALYST)).status_code == 200
        r = a.client.delete(f"/v1/keys/{key_id}", headers=a.auth())
        assert r.status_code == 200 and r.json()["revoked_at"]
        assert a.client.get("/v1/snapshots", headers=a.auth(Role.ANALYST)).status_code == 401
        stored = a.container.here().list_keys()  # type: ignore[attr-defined]
    secret = token.split("_", 2)[2]  # the secret itself may hold "_" (URL-safe base64)
    assert all(token not in str(k) and secret not in k.key_hash for k in stored)
    assert [k.revoked_at is not None for k in stored if k.key_id == key_id] == [True]


def test_a_key_name_with_a_nul_character_is_refused_on_both_stores(
    secured_store: StoreRef,
) -> None:
    with api(secured_store) as a:  # PostgreSQL text cannot hold NUL: a 422, never a 500
        r = a.client.post("/v1/keys", json={"role": "viewer", "name": "a\x00b"}, headers=a.auth())
        assert r.status_code == 422 and r.json()["type"] == "/problems/invalid-input"
        assert "NUL" in r.json()["detail"]


def test_rate_limit_answers_429_with_retry_after(secured_store: StoreRef) -> None:
    with api(secured_store, api_rate_per_second=0.5, api_rate_burst=3) as a:
        codes = [a.client.get("/v1/snapshots", headers=a.auth()).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = a.client.get("/v1/snapshots", headers=a.auth())
        assert r.status_code == 429 and r.headers["content-type"] == MEDIA_TYPE
        assert int(r.headers["retry-after"]) >= 1
        assert r.json()["retry_after"] == int(r.headers["retry-after"])
        # per key: another key still passes
        assert a.client.get("/v1/snapshots", headers=a.auth(Role.VIEWER)).status_code == 200


def test_bodies_above_the_limit_are_refused_with_413(secured_store: StoreRef) -> None:
    with api(secured_store, api_max_body_bytes=2048) as a:
        event = {"message_id": "m", "order_id": "o", "ts": "2025-01-01", "product_id": "p"}
        big = {"events": [event | {"message_id": f"m{i}"} for i in range(100)]}
        r = a.client.post("/v1/events", json=big, headers=a.auth(Role.INGEST))
        assert r.status_code == 413 and r.json()["type"] == "/problems/payload-too-large"

        def chunks() -> object:  # no Content-Length: the streamed bytes are counted
            yield b'{"events": ['
            for i in range(100):
                yield (b"," if i else b"") + b'{"message_id": "c%d", "order_id": "o"}' % i
            yield b"]}"

        headers = a.auth(Role.INGEST) | {"Content-Type": "application/json"}
        r = a.client.post("/v1/events", content=chunks(), headers=headers)  # type: ignore[arg-type]
        assert r.status_code == 413
        small = a.client.post("/v1/events", json={"events": [event]}, headers=a.auth(Role.INGEST))
        assert small.status_code == 200


def test_errors_are_problem_json_with_a_stable_type(secured_store: StoreRef) -> None:
    with api(secured_store) as a:
        cases = {
            "/v1/customers/NOBODY": (404, "/problems/not-found"),
            "/v1/customers?limit=0": (422, "/problems/validation-failed"),
            "/v1/customers?cursor=garbage": (422, "/problems/invalid-input"),
            "/v1/segments/migration?from=2025-05-01&to=2025-01-01": (
                400,
                "/problems/invalid-option",
            ),
            "/no/such/path": (404, "/problems/not-found"),
        }
        for path, (status, kind) in cases.items():
            r = a.client.get(path, headers=a.auth())
            assert (r.status_code, r.json()["type"]) == (status, kind), path
            assert r.headers["content-type"] == MEDIA_TYPE
            body = r.json()
            assert body["status"] == status and body["title"] and body["instance"]
        r = a.client.delete("/healthz")
        assert r.status_code == 405 and r.json()["type"] == "/problems/method-not-allowed"
        described = a.client.get("/problems/rate-limited").json()
        assert described["status"] == 429


def test_security_headers_and_cors_off_by_default(secured_store: StoreRef) -> None:
    with api(secured_store) as a:
        r = a.client.get("/v1/snapshots", headers=a.auth() | {"Origin": "https://evil.example"})
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in r.headers["content-security-policy"]
        assert "access-control-allow-origin" not in r.headers
        pre = a.client.options(
            "/v1/snapshots",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in pre.headers


def test_cors_only_for_configured_origins(secured_store: StoreRef) -> None:
    with api(secured_store, api_cors_origins="https://crm.example") as a:
        ok = a.client.get("/healthz", headers={"Origin": "https://crm.example"})
        assert ok.headers["access-control-allow-origin"] == "https://crm.example"
        other = a.client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_default_secret_refused_outside_development(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="OMNIX_SECRET_KEY"):
        Settings(env="production").check_secrets()
    with pytest.raises(ConfigError, match="OMNIX_SECRET_KEY"):
        Settings(env="test", secret_key="short").check_secrets()  # type: ignore[arg-type]
    with pytest.raises(ConfigError), opened(tmp_path / "d", env="production"):
        pass
    Settings(env="production", secret_key="x" * 40).check_secrets()  # type: ignore[arg-type]
    Settings().check_secrets()  # development keeps its default
