"""The service commands: `omnix serve`, `omnix keys create|list|revoke`,
`omnix privacy export|erase`, `omnix openapi`.

The embedded store (a DuckDB file) belongs to one process at a time: while `omnix serve`
runs, manage keys and privacy requests over the API (admin, privacy_officer roles).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from omnix.entrypoints.cli.common import (
    DEFAULT_DIR,
    DataDir,
    DefaultConsent,
    JsonFlag,
    confirm_or_refuse,
)
from omnix.entrypoints.cli.common import settings_for as _settings

keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)
privacy_app = typer.Typer(
    help="GDPR requests: export or erase everything held about a customer.", no_args_is_help=True
)
Host = Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0: every interface).")]
Port = Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")]


def serve(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="Processes (PostgreSQL store only; the embedded DuckDB store allows 1)."
        ),
    ] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
    default_consent: DefaultConsent = None,
    data_dir: DataDir = DEFAULT_DIR,
) -> None:
    """Serve the dashboard (at /) and the REST API (OpenAPI docs at /docs) until interrupted.

    The embedded store is one process: one worker, many threads. On PostgreSQL
    (OMNIX_DATABASE_URL=postgresql://...) several worker processes may serve it; set
    OMNIX_CACHE_URL=redis://... so they share hot views and rate limits. Every /v1 route
    needs an API key: create one first with `omnix keys create --role admin`.

    Example: OMNIX_DATABASE_URL=postgresql://omnix@db/omnix omnix serve --workers 4
    """
    from omnix.bootstrap import bootstrap
    from omnix.domain.errors import ConfigError

    settings = _settings(data_dir)
    if default_consent is not None:
        settings.profiling_default(default_consent)  # checked: EU mode refuses granted
        settings = settings.model_copy(update={"default_consent": default_consent})
        os.environ["OMNIX_DEFAULT_CONSENT"] = default_consent  # for worker processes
    if workers > 1 and settings.embedded():
        raise ConfigError(
            "the embedded DuckDB store belongs to one process: use --workers 1 "
            "(several workers need the PostgreSQL store: OMNIX_DATABASE_URL=postgresql://...)"
        )
    container = bootstrap(settings)  # opened (and migrated) once before any worker starts
    try:
        if not container.keys_service().list():
            typer.echo(
                "note: no API key yet; every /v1 route will answer 401. "
                "Stop the server and run `omnix keys create --role admin`.",
                err=True,
            )
        if not settings.profiling_default() and not container.consent_service().recorded():
            typer.echo(
                "note: no customer has a consent record and the default is denied, so "
                "personalised views (due lists, recommendations, spending profiles) withhold "
                "everyone. Record consents (`omnix consent import`) or serve with "
                "--default-consent granted.",
                err=True,
            )
        if workers == 1:
            run_server(container, host, port, log_level)
            return
    finally:
        container.close()
    run_workers(settings, host, port, workers, log_level)


def run_server(container: Any, host: str, port: int, log_level: str = "warning") -> None:
    """Serve `container`'s store on host:port (blocks until interrupted)."""
    import uvicorn

    from omnix.entrypoints.api.app import create_app

    typer.echo(
        f"omnix dashboard on http://{host}:{port}/  (API docs: http://{host}:{port}/docs)",
        err=True,
    )
    uvicorn.run(
        create_app(container), host=host, port=port, log_level=log_level, access_log=False,
        loop="uvloop" if sys.platform != "win32" else "asyncio", http="httptools",
        server_header=False,
    )  # fmt: skip


def run_workers(settings: Any, host: str, port: int, workers: int, log_level: str) -> None:
    """Serve with `workers` processes (uvicorn's supervisor restarts one that dies); each
    builds its app from the environment, so the settings travel there."""
    import os

    import uvicorn

    os.environ["OMNIX_DATA_DIR"] = str(settings.data_dir)
    os.environ["OMNIX_WAREHOUSE_URL"] = settings.store_url()
    os.environ["OMNIX_API_WORKERS"] = str(workers)
    os.environ.pop("OMNIX_DATABASE_URL", None)
    typer.echo(
        f"omnix API on http://{host}:{port} with {workers} workers  "
        f"(docs: http://{host}:{port}/docs)",
        err=True,
    )
    uvicorn.run(
        "omnix.entrypoints.api.app:serve_app", factory=True, workers=workers, host=host,
        port=port, log_level=log_level, access_log=False,
        loop="uvloop" if sys.platform != "win32" else "asyncio", http="httptools",
        server_header=False,
    )  # fmt: skip


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="viewer, analyst, ingest, privacy_officer or admin.")],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "",
    data_dir: DataDir = DEFAULT_DIR,
    as_json: JsonFlag = False,
) -> None:
    """Create an API key with a role. The key is printed once; only its keyed hash is stored.

    Example: omnix keys create --role analyst --name "CRM sync"
    """
    from omnix.bootstrap import bootstrap
    from omnix.domain.access import parse_role

    chosen = parse_role(role)
    container = bootstrap(_settings(data_dir))
    try:
        record, token = container.keys_service().create(chosen, name)
    finally:
        container.close()
    if as_json:
        typer.echo(json.dumps(_key_dict(record) | {"key": token}, default=str))
        return
    typer.echo(f"{record.role.value} key {record.key_id} ({record.name}), shown once:")
    typer.echo(token)


@keys_app.command("list")
def keys_list(data_dir: DataDir = DEFAULT_DIR, as_json: JsonFlag = False) -> None:
    """Every key: id, name, role, created, revoked, last used (never the key itself).

    Example: omnix keys list --json
    """
    from omnix.bootstrap import bootstrap
    from omnix.entrypoints.cli import render

    container = bootstrap(_settings(data_dir), create=False)
    try:
        rows = [_key_dict(k) for k in container.keys_service().list()]
    finally:
        container.close()
    if as_json:
        typer.echo(json.dumps(rows, default=str))
        return
    columns = ("key_id", "name", "role", "created_at", "revoked_at", "last_used_at")
    render.print_rows("API keys", rows, columns)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from `omnix keys list`).")],
    data_dir: DataDir = DEFAULT_DIR,
    as_json: JsonFlag = False,
) -> None:
    """Revoke a key: it is refused from then on.

    Example: omnix keys revoke 3f2a9c1b7d4e
    """
    from omnix.bootstrap import bootstrap

    container = bootstrap(_settings(data_dir), create=False)
    try:
        record = container.keys_service().revoke(key_id)
    finally:
        container.close()
    if as_json:
        typer.echo(json.dumps(_key_dict(record), default=str))
        return
    typer.echo(f"revoked {record.key_id} ({record.name})")


def _key_dict(key: Any) -> dict[str, Any]:
    return {"key_id": key.key_id, "name": key.name, "role": key.role.value,
            "created_at": key.created_at, "revoked_at": key.revoked_at,
            "last_used_at": key.last_used_at}  # fmt: skip


@privacy_app.command("export")
def privacy_export(
    customer_id: Annotated[str, typer.Argument(help="The customer's id as ingested.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the JSON here.")] = None,
    data_dir: DataDir = DEFAULT_DIR,
) -> None:
    """Everything the store holds about a customer, as one JSON document (GDPR Art. 15/20).

    Example: omnix privacy export C000042 --out c000042.json
    """
    from omnix.bootstrap import bootstrap

    container = bootstrap(_settings(data_dir), create=False)
    try:
        document = container.privacy_service().export(customer_id)
    finally:
        container.close()
    text = json.dumps(document, default=str, indent=2)
    if out is None:
        typer.echo(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    counts = ", ".join(f"{t} {n}" for t, n in document["row_counts"].items() if n)
    typer.echo(f"wrote {out} ({counts})")


@privacy_app.command("erase")
def privacy_erase(
    customer_id: Annotated[str, typer.Argument(help="The customer's id as ingested.")],
    yes: Annotated[bool, typer.Option("--yes", help="Erase without asking.")] = False,
    compact: Annotated[
        bool, typer.Option("--compact", help="Then rewrite the store's files (privacy compact).")
    ] = False,
    data_dir: DataDir = DEFAULT_DIR,
    as_json: JsonFlag = False,
) -> None:
    """Erase every row about a customer from every table and rejects file (GDPR Art. 17);
    an audit record without personal data is kept, and later ingests reject the customer's
    lines (reason erased_customer). Cannot be undone. The deleted rows' bytes stay in the
    store's free space until `omnix privacy compact` (or --compact) rewrites its files; files
    you wrote with --out (predict, recommend --all, export profiles) are yours to delete.

    Example: omnix privacy erase C000042 --yes --compact
    """
    from omnix.bootstrap import bootstrap

    question = f"Erase everything about {customer_id}? This cannot be undone"
    confirm_or_refuse(yes, "erasure", question)
    container = bootstrap(_settings(data_dir), create=False)
    try:
        privacy = container.privacy_service()
        report = privacy.erase(customer_id, requested_by="cli")
        sizes = privacy.compact() if compact else None
    finally:
        container.close()
    payload = {"erasure_id": report.erasure_id, "subject_hash": report.subject_hash,
               "erased_at": report.erased_at, "rows_deleted": report.rows_deleted,
               "files_rewritten": report.files_rewritten, "compacted": sizes}  # fmt: skip
    if as_json:
        typer.echo(json.dumps(payload))
        return
    counts = ", ".join(f"{t} {n}" for t, n in report.rows_deleted.items() if n)
    typer.echo(f"erased {report.total} rows ({counts}); audit record {report.erasure_id}")
    typer.echo("Later ingests and events reject this customer's lines (erased_customer).")
    if sizes is None:
        typer.echo(
            "Their bytes stay in the store's free space until `omnix privacy compact`; files "
            "you wrote with --out or export are yours to delete."
        )
    else:
        typer.echo(_sizes_line(sizes))


@privacy_app.command("compact")
def privacy_compact(data_dir: DataDir = DEFAULT_DIR, as_json: JsonFlag = False) -> None:
    """Rewrite the store's files so erased (deleted) rows leave no bytes behind: the embedded
    store copies every table into a new database file that replaces the old one (stop any
    `omnix serve` on it first); PostgreSQL runs VACUUM FULL on its customer tables.

    Example: omnix privacy compact
    """
    from omnix.bootstrap import bootstrap

    container = bootstrap(_settings(data_dir), create=False)
    try:
        sizes = container.privacy_service().compact()
    finally:
        container.close()
    if as_json:
        typer.echo(json.dumps(sizes))
        return
    typer.echo(_sizes_line(sizes))


def _sizes_line(sizes: dict[str, int]) -> str:
    mb = {k: v / 1e6 for k, v in sizes.items()}
    return f"compacted: {mb['bytes_before']:,.1f} MB -> {mb['bytes_after']:,.1f} MB"


def openapi_cmd(
    out: Annotated[Path, typer.Option("--out", help="Where the document goes.")] = Path(
        "openapi/omnix.yaml"
    ),
    check: Annotated[
        bool, typer.Option("--check", help="Only compare: exit 1 when the file differs.")
    ] = False,
) -> None:
    """Write the API's OpenAPI 3.1 document (YAML), or check the committed one is current.

    Example: omnix openapi --check
    """
    from omnix.config import Settings
    from omnix.entrypoints.api import openapi
    from omnix.entrypoints.api.app import create_app

    app = create_app(settings=Settings())  # the document needs no store
    if check:
        if openapi.differs(app, out):
            typer.echo(f"{out} differs from the app's document: run `omnix openapi`", err=True)
            raise typer.Exit(1)
        typer.echo(f"{out} is current")
        return
    openapi.write(app, out)
    typer.echo(f"wrote {out}")
