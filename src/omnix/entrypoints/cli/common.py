"""What every command shares: the --data-dir and --json options, settings, date parsing."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="OMNIX_DATA_DIR",
        help="Directory of the store (default ./omnix-data).",
        show_default=False,
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
DefaultConsent = Annotated[
    str | None,
    typer.Option(
        help="Consent of customers without a record: granted or denied "
        "(default: OMNIX_DEFAULT_CONSENT, else denied; EU mode refuses granted)."
    ),
]
DEFAULT_DIR = Path("omnix-data")


def settings_for(data_dir: Path) -> Any:
    """Settings from the environment, with --data-dir when it was given."""
    from omnix.config import Settings

    overrides: dict[str, Any] = {}
    if data_dir != DEFAULT_DIR:
        overrides["data_dir"] = data_dir
    return Settings(**overrides)


def confirm_or_refuse(yes: bool, cannot: str, question: str) -> None:
    """Go on after --yes or the person's yes at a terminal; without a terminal, refuse
    (exit 2) saying what `cannot` be undone, since nobody can answer the question."""
    if yes:
        return
    if not sys.stdin.isatty():
        from omnix.domain.errors import ConfigError

        raise ConfigError(f"{cannot} cannot be undone: pass --yes to confirm")
    typer.confirm(question, abort=True)


def progress_enabled(as_json: bool) -> bool:
    return not as_json and sys.stderr.isatty()


def parse_date(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        from omnix.domain.errors import ConfigError

        raise ConfigError(f"{flag} expects YYYY-MM-DD, got {value!r}") from None
