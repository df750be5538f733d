"""The OpenAPI 3.1 document: generated from the app, tidied, committed at openapi/omnix.yaml.

Tidying: every error response is application/problem+json with the Problem schema (FastAPI's
own validation-error schemas are dropped); the API-key security schemes are declared and
attached to each secured operation; the upload form gets a stable name and an example.
`omnix openapi --check` (and tests/e2e/test_api_spec.py) fail when the committed document and
the running app differ; `omnix openapi` (or `make openapi`) regenerates it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import yaml
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from omnix.entrypoints.api.deps import PUBLIC, ROLE_FIELD

SPEC_PATH: Final = Path("openapi") / "omnix.yaml"
_DROP: Final = ("HTTPValidationError", "ValidationError")
_UPLOAD_EXAMPLE: Final = {
    "file": "(binary) sales-2025-12.csv.gz",
    "kind": "transactions",
    "preset": None,
    "map": ["Bon=order_id", "Kunde=customer_id"],
    "timezone": "Europe/Berlin",
}
DESCRIPTION: Final = """Customer analytics for retailers over HTTP: ingest purchase history
(files or event batches), read each customer's 360 view, rhythms, lifetime value and churn,
segments and their migration, run analyses, and exercise GDPR rights.

**Authentication**: every `/v1` route and `/metrics` needs an API key, sent as
`Authorization: Bearer omx_...` or `X-API-Key: omx_...` (create one with
`omnix keys create --role ROLE`). Each operation names the role it needs in
`x-required-role`: viewer (aggregates), analyst (customer-level reads), ingest (writes),
privacy_officer (consent, export, erasure), admin (everything).

**Errors** are RFC 9457 `application/problem+json`; `type` is stable per kind of error and
resolves to `/problems/{slug}`. Lists page with an opaque `cursor`."""


def build(app: FastAPI) -> dict[str, Any]:
    spec = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version="3.1.0",
        description=DESCRIPTION,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name in _DROP:
        schemas.pop(name, None)
    _rename_upload(spec, schemas)
    for enum in (s for s in schemas.values() if "enum" in s and not s.get("examples")):
        enum["examples"] = [enum["enum"][0]]  # enums (roles, purposes ...): their first value
    spec["components"]["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "an omnix API key"},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
    for path in spec["paths"].values():
        for operation in path.values():
            _tidy(operation)
    # a plain-JSON round trip: the committed YAML and the served JSON compare equal
    loaded: dict[str, Any] = json.loads(json.dumps(spec))
    return loaded


def _unwrap(text: str) -> str:
    """Paragraphs as single lines (the YAML then keeps them readable)."""
    return "\n\n".join(" ".join(p.split("\n")) for p in text.split("\n\n"))


def _tidy(operation: dict[str, Any]) -> None:
    for status, response in operation.get("responses", {}).items():
        if status.isdigit() and int(status) >= 400:
            response["content"] = {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            }
    if operation.get(ROLE_FIELD) not in (None, PUBLIC):
        operation["security"] = [{"bearer": []}, {"apiKey": []}]


def _rename_upload(spec: dict[str, Any], schemas: dict[str, Any]) -> None:
    old, new = "Body_ingest_file", "IngestFileUpload"
    if old not in schemas:
        return
    schemas[new] = schemas.pop(old) | {"title": new, "examples": [_UPLOAD_EXAMPLE]}
    text = json.dumps(spec["paths"]).replace(
        f"#/components/schemas/{old}", f"#/components/schemas/{new}"
    )
    spec["paths"] = json.loads(text)


def to_yaml(spec: dict[str, Any]) -> str:
    text: str = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100)
    return text


def write(app: FastAPI, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_yaml(app.openapi()), encoding="utf-8")
    return path


def differs(app: FastAPI, path: Path) -> bool:
    """Whether the committed document at `path` is not the one the app serves."""
    if not path.exists():
        return True
    committed = yaml.safe_load(path.read_text(encoding="utf-8"))
    return bool(committed != app.openapi())
