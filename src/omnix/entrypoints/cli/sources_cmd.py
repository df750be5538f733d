"""`omnix sources list|remove`: the files ingested so far, and taking one out again (a file
ingested with the wrong mapping or options: re-ingesting it would only find duplicates)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from omnix.entrypoints.cli.common import DEFAULT_DIR, DataDir, JsonFlag, confirm_or_refuse
from omnix.entrypoints.cli.common import settings_for as _settings

app = typer.Typer(help="Ingested files: list them, take one out.", no_args_is_help=True)
_COLUMNS = ("name", "source_id", "kind", "read", "stored", "rejected")  # fits 80 columns
_JSON = (*_COLUMNS, "path", "first_ingested_at", "last_ingested_at")


@app.command("list")
def sources_list(data_dir: DataDir = DEFAULT_DIR, as_json: JsonFlag = False) -> None:
    """Every ingested file, newest first: name, source id, kind, lines read, stored, rejected.

    Example: omnix sources list --json
    """
    from omnix.bootstrap import bootstrap
    from omnix.entrypoints.cli import render

    container = bootstrap(_settings(data_dir), create=False)
    try:
        rows = container.ingest_service().sources()
    finally:
        container.close()
    if as_json:
        typer.echo(json.dumps([{k: r[k] for k in _JSON} for r in rows], default=str))
        return
    # 8 characters of the id: what `omnix sources remove` takes at least
    shown = [{k: r[k] for k in _COLUMNS} | {"source_id": str(r["source_id"])[:8]} for r in rows]
    render.print_rows("Ingested files", shown, _COLUMNS)


@app.command("remove")
def sources_remove(
    ref: Annotated[
        str, typer.Argument(help="The file's name, or its source id (8+ characters of it).")
    ],
    yes: Annotated[bool, typer.Option("--yes", help="Remove without asking.")] = False,
    data_dir: DataDir = DEFAULT_DIR,
    as_json: JsonFlag = False,
) -> None:
    """Take an ingested file out of the store: its lines (a products or customers file: the
    records it last wrote), its rejects and its rejects file, in one transaction. Then ingest
    it again, e.g. with the mapping it needed. Lines a later file also held leave with it
    (they went in as that file's duplicates): ingest that file again to bring them back.
    Snapshots, predictions and recommendations already made keep counting its lines until
    `omnix analyze` and `omnix recommend --all` run again.

    Example: omnix sources remove sales-2025-12.csv --yes
    """
    from omnix.bootstrap import bootstrap

    confirm_or_refuse(yes, "removing a file's lines", f"Take {ref} and its lines out?")
    container = bootstrap(_settings(data_dir), create=False)
    try:
        removed = container.ingest_service().remove(ref)
    finally:
        container.close()
    if as_json:
        typer.echo(json.dumps(removed))
        return
    counts = ", ".join(f"{t} {n:,}" for t, n in removed["deleted"].items() if n)
    typer.echo(f"removed {removed['name']} ({removed['source_id'][:12]}): {counts}")
    typer.echo("Run `omnix analyze` again for snapshots and predictions without its lines.")
