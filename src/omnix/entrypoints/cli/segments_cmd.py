"""`omnix segments` (segments and clusters now) and `omnix segments migration` (between two
stored snapshots)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from omnix.entrypoints.cli.common import DEFAULT_DIR, DataDir, JsonFlag, parse_date
from omnix.entrypoints.cli.common import progress_enabled as _progress_enabled
from omnix.entrypoints.cli.common import settings_for as _settings

app = typer.Typer(no_args_is_help=False)  # help: the callback's docstring (with examples)

KMin = Annotated[int, typer.Option(min=2, help="Fewest behavioural clusters to try.")]
KMax = Annotated[int, typer.Option(min=2, help="Most behavioural clusters to try.")]
Rules = Annotated[
    Path | None,
    typer.Option(
        help="TOML/JSON RFM segment rule table (default: OMNIX_SEGMENT_RULES or built-in)."
    ),
]


def segment_options(settings: Any, k_min: int, k_max: int, rules: Path | None) -> Any:
    """SegmentOptions from the flags and settings (rules file: flag, then OMNIX_SEGMENT_RULES)."""
    from omnix.services.segments import SegmentOptions, check_range, load_rules

    check_range(k_min, k_max)
    options = SegmentOptions(k_min=k_min, k_max=k_max)
    rules_file = rules or settings.segment_rules
    if rules_file is not None:
        options = replace(options, rules=load_rules(rules_file))
    return options


@app.callback(invoke_without_command=True)
def segments(
    ctx: typer.Context,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="Analyse purchases before this day: YYYY-MM-DD (default: day after last line)."
        ),
    ] = None,
    k_min: KMin = 3,
    k_max: KMax = 8,
    rules: Rules = None,
    data_dir: DataDir = DEFAULT_DIR,
    as_json: JsonFlag = False,
) -> None:
    """Group customers: RFM segments (with a reason each) and behavioural clusters, each with
    customers, revenue share, average 12-month CLV and churn risk (P(no purchase in the next
    90 days), from BG/NBD and Pareto/NBD).

    Example: omnix segments --as-of 2011-12-01 --json

    Example: omnix segments migration --from 2011-09-01 --to 2011-12-01
    """
    if ctx.invoked_subcommand is not None:
        return
    from omnix.bootstrap import bootstrap
    from omnix.entrypoints.cli import render

    day = parse_date(as_of, "--as-of") if as_of else None
    settings = _settings(data_dir)
    options = segment_options(settings, k_min, k_max, rules)
    container = bootstrap(settings, create=False)
    try:
        with render.spinner("profiling and segmenting customers", _progress_enabled(as_json)):
            report = container.segment_service(options).report(day)
    finally:
        container.close()
    if as_json:
        typer.echo(json.dumps(report.to_dict(), default=str))
        return
    render.print_segments(report)


@app.command()
def migration(
    from_: Annotated[str, typer.Option("--from", help="Earlier snapshot date: YYYY-MM-DD.")],
    to: Annotated[str, typer.Option("--to", help="Later snapshot date: YYYY-MM-DD.")],
    movers: Annotated[int, typer.Option(min=0, help="How many movers to list.")] = 20,
    from_segment: Annotated[
        str | None, typer.Option(help="Only movers leaving this segment, e.g. Champions.")
    ] = None,
    to_segment: Annotated[
        str | None, typer.Option(help="Only movers entering this segment, e.g. 'At Risk'.")
    ] = None,
    data_dir: DataDir = DEFAULT_DIR,
    as_json: JsonFlag = False,
) -> None:
    """Segment migration between two snapshots (`omnix analyze --as-of DATE` stores them):
    the transition matrix in customers and in revenue between the dates, and who moved.

    Example: omnix segments migration --from 2011-09-01 --to 2011-12-01 --from-segment Champions
    """
    from omnix.bootstrap import bootstrap
    from omnix.entrypoints.cli import render

    start, end = parse_date(from_, "--from"), parse_date(to, "--to")
    container = bootstrap(_settings(data_dir), create=False)
    try:
        report = container.snapshot_service("denied").migration(
            start, end, movers, from_segment, to_segment
        )
    finally:
        container.close()
    if as_json:
        typer.echo(json.dumps(report.to_dict(), default=str))
        return
    render.print_migration(report)
