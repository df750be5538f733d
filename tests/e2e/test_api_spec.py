"""API-first: the committed OpenAPI document is the one the app serves, and it keeps its
promises (operation ids, examples, roles, problem+json); the docs work offline."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from fastapi.testclient import TestClient

from omnix.config import Settings
from omnix.entrypoints.api.app import create_app
from omnix.entrypoints.api.deps import ROLE_FIELD

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "openapi" / "omnix.yaml"
METHODS = {"get", "post", "put", "delete", "patch"}


def _spec() -> dict:  # type: ignore[type-arg]
    return create_app(settings=Settings()).openapi()


def test_committed_document_is_the_served_one() -> None:
    committed = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    assert committed == _spec(), "openapi/omnix.yaml is stale: run `make openapi`"
    assert committed["openapi"] == "3.1.0"


def test_operation_ids_are_stable_snake_case_and_unique() -> None:
    ids = [op["operationId"] for path in _spec()["paths"].values()
           for method, op in path.items() if method in METHODS]  # fmt: skip
    assert len(ids) == len(set(ids)) >= 25
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids)
    assert {"get_customer", "post_events", "erase_customer", "start_analysis_run"} <= set(ids)


def test_every_schema_has_an_example() -> None:
    schemas = _spec()["components"]["schemas"]
    missing = [name for name, s in schemas.items() if not s.get("examples")]
    assert missing == []
    assert "HTTPValidationError" not in schemas


def test_every_operation_declares_a_role_and_errors_are_problem_json() -> None:
    for path, item in _spec()["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            role = op[ROLE_FIELD]
            assert (role == "public") == ("security" not in op), (method, path)
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"]
            if role != "public":
                assert {"401", "403", "429"} <= set(op["responses"]), (method, path)


def test_docs_are_served_offline() -> None:
    client = TestClient(create_app(settings=Settings()))
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert not re.search(r"(src|href)=\"https?://", html), page
        for asset in re.findall(r"/docs/assets/[\w.-]+", html):
            r = client.get(asset)
            assert r.status_code == 200 and len(r.content) > 1000, asset
    assert client.get("/openapi.json").json()["info"]["title"] == "omnix"
