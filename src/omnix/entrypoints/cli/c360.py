"""The customer-360 commands: `omnix analyze`, `omnix profile ID`, `omnix due`,
`omnix export profiles`, `omnix consent import|set`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from omnix.entrypoints.cli.common import DEFAULT_DIR, DataDir, DefaultConsent, JsonFlag, parse_date
from omnix.entrypoints.cli.common import progress_enabled as _progress_enabled
from omnix.entrypoints.cli.common import settings_for as _settings
from omnix.entrypoints.cli.segments_cmd import KMax, KMin, Rules, segment_options

export_app = typer.Typer(help="Write per-customer results to files.", no_args_is_help=True)
consent_app = typer.Typer(
    help="Record customers' consent per purpose (analytics, profiling, personalization, "
    "ai_insights).",
    no_args_is_help=True,
)

SnapshotDate = Annotated[
    str | None, typer.Option("--date", help="Snapshot date YYYY-MM-DD (default: the latest).")
]


def analyze(
    as_of: Annotated[
        str | None,
        typer.Option(
            help="Analyse purchases before this day: YYYY-MM-DD (default: day after "
            "the last line). The snapshot is stored under this date."
        ),
    ] = None,
    default_consent: DefaultConsent = None,
    horizon_days: Annotated[
        int,
        typer.Option(
            min=1, max=365, help="Horizon of the stored predictions' probability, in days."
        ),
    ] = 14,
    top: Annotated[
        int,
        typer.Option(
            min=1,
            help="Predictions kept per customer (besides every product due within the horizon).",
        ),
    ] = 10,
    k_min: KMin = 3,
    k_max: KMax = 8,
    rules: Rules = None,
    data_dir: DataDir = DEFAULT_DIR,
    as_json: JsonFlag = False,
) -> None:
    """Run the whole analysis and store a dated snapshot per customer: rhythms, profiles, RFM
    segments, CLV and P(alive), behavioural clusters, spending profiles (only where consent
    covers profiling), and the next-need predictions (`omnix due` reads them). Re-running a
    date replaces that date's snapshot and predictions.

    Example: omnix analyze --as-of 2011-12-01 --default-consent denied
    """
    from omnix.bootstrap import bootstrap
    from omnix.entrypoints.cli import render
    from omnix.services.analyze import STAGES

    day = parse_date(as_of, "--as-of") if as_of else None
    settings = _settings(data_dir)
    options = segment_options(settings, k_min, k_max, rules)
    container = bootstrap(settings, create=False)
    try:
        service = container.analyze_service(options, default_consent, horizon_days, top)
        with render.stage_progress(STAGES, _progress_enabled(as_json)) as on_stage:
            report = service.run(day, on_stage)
    finally:
        container.close()
    if as_json:
        typer.echo(json.dumps(report.to_dict(), default=str))
        return
    render.print_analyze(report)


def profile(
    customer_id: Annotated[str, typer.Argument(help="The customer's id as ingested.")],
    day: SnapshotDate = None,
    default_consent: DefaultConsent = None,
    data_dir: DataDir = DEFAULT_DIR,
    as_json: JsonFlag = False,
) -> None:
    """One customer's 360 view from the stored snapshot: segment and reason, cluster, CLV,
    P(alive), churn risk, expected purchases, spending profile (if consent covers profiling),
    segment history over all snapshots, and habits.

    Example: omnix profile C000042 --json
    """
    from omnix.bootstrap import bootstrap
    from omnix.entrypoints.cli import render

    when = parse_date(day, "--date") if day else None
    container = bootstrap(_settings(data_dir), create=False)
    try:
        view = container.snapshot_service(default_consent).customer(customer_id, when)
    finally:
        container.close()
    if as_json:
        typer.echo(json.dumps(view, default=str))
        return
    render.print_profile(view)


def due(
    within: Annotated[
        int, typer.Option("--within", help="Days from the predictions' date (default 7).")
    ] = 7,
    category: Annotated[str | None, typer.Option(help="Only products of this category.")] = None,
    segment: Annotated[
        str | None, typer.Option(help="Only customers in this RFM segment, e.g. Champions.")
    ] = None,
    min_probability: Annotated[
        float | None, typer.Option(help="Only rows at least this likely (0..1).")
    ] = None,
    sort: Annotated[
        str,
        typer.Option(
            help="probability (likeliest first), expected_date (soonest first), days_overdue, "
            "customer_id, product_name, category or segment; ties: likeliest first."
        ),
    ] = "probability",
    limit: Annotated[int, typer.Option(help="Rows per page (1..1000).")] = 50,
    offset: Annotated[int, typer.Option(help="Rows to skip (the next page).")] = 0,
    day: SnapshotDate = None,
    default_consent: DefaultConsent = None,
    data_dir: DataDir = DEFAULT_DIR,
    as_json: JsonFlag = False,
) -> None:
    """Who is due for what: the customer x product pairs `omnix analyze` predicted to be bought
    within --within days of its date, most likely first, paged. Only customers whose consent
    covers personalization are listed.

    Example: omnix due --within 7 --category dairy --segment Champions --limit 20
    """
    from omnix.bootstrap import bootstrap
    from omnix.entrypoints.cli import render

    when = parse_date(day, "--date") if day else None
    container = bootstrap(_settings(data_dir), create=False)
    try:
        page = container.prediction_service(default_consent).due(
            within, when, category, segment, limit, offset,
            min_probability=min_probability, sort=sort,
        )  # fmt: skip
    finally:
        container.close()
    if as_json:
        typer.echo(json.dumps(page.to_dict(), default=str))
        return
    render.print_due(page)


@export_app.command("profiles")
def export_profiles(
    out: Annotated[Path, typer.Option("--out", help="Output file: .parquet or .csv.")],
    day: SnapshotDate = None,
    default_consent: DefaultConsent = None,
    data_dir: DataDir = DEFAULT_DIR,
    as_json: JsonFlag = False,
) -> None:
    """One row per customer of a snapshot: customer_id, segment, rfm_score, cluster, clv,
    p_alive, churn_risk_90d, expected_purchases_90d, spending profile (empty where consent is
    missing now).

    Example: omnix export profiles --out profiles.parquet
    """
    from dataclasses import asdict

    from omnix.bootstrap import bootstrap
    from omnix.entrypoints.cli import render

    when = parse_date(day, "--date") if day else None
    container = bootstrap(_settings(data_dir), create=False)
    try:
        summary = container.snapshot_service(default_consent).export(out, when)
    finally:
        container.close()
    if as_json:
        typer.echo(json.dumps(asdict(summary)))
        return
    render.print_mapping(f"Exported {out}", asdict(summary))
    if n := summary.awaiting_analysis:
        who = "1 customer consents" if n == 1 else f"{n:,} customers consent"
        render.err_console.print(
            f"note: {who} to profiling now but the "
            f"snapshot of {summary.snapshot_date} holds no spending profile for them (it was "
            "analysed before they consented, or with consent denied by default): run "
            "`omnix analyze` to add them."
        )


@consent_app.command("import")
def consent_import(
    file: Annotated[Path, typer.Argument(help="CSV or JSONL: customer_id, purpose, granted.")],
    data_dir: DataDir = DEFAULT_DIR,
    as_json: JsonFlag = False,
) -> None:
    """Append consent decisions from a file (all rows or none); the latest per customer and
    purpose counts. Optional column recorded_at (ISO 8601, default now).

    Example: omnix consent import consents.csv
    """
    from omnix.bootstrap import bootstrap
    from omnix.entrypoints.cli import render

    container = bootstrap(_settings(data_dir))
    try:
        result = container.consent_service().import_file(file)
    finally:
        container.close()
    n, unknown = result.recorded, result.unknown_customers
    if as_json:
        typer.echo(json.dumps({"recorded": n, "unknown_customers": unknown, "file": str(file)}))
        return
    render.out_console.print(f"Recorded {n:,} consent decisions from {file.name}.")
    if unknown:
        render.err_console.print(
            f"note: {unknown:,} of its customer ids have no purchase in the store; their "
            "decisions are kept and apply to lines ingested later (check the ids if that is "
            "unexpected)."
        )


@consent_app.command("set")
def consent_set(
    customer_id: Annotated[str, typer.Argument(help="The customer's id as ingested.")],
    purpose: Annotated[
        str, typer.Option(help="analytics, profiling, personalization or ai_insights.")
    ],
    granted: Annotated[bool, typer.Option("--granted/--denied", help="The customer's decision.")],
    data_dir: DataDir = DEFAULT_DIR,
    as_json: JsonFlag = False,
) -> None:
    """Record one customer's decision for one purpose, now.

    Example: omnix consent set C000042 --purpose profiling --denied
    """
    from omnix.bootstrap import bootstrap
    from omnix.domain.consent import parse_purpose
    from omnix.entrypoints.cli import render

    chosen = parse_purpose(purpose)
    container = bootstrap(_settings(data_dir))
    try:
        consents = container.consent_service()
        record = consents.set(customer_id, chosen, granted)
        known = not consents.without_lines([record.customer_id])
    finally:
        container.close()
    payload = {
        "customer_id": record.customer_id,
        "purpose": record.purpose.value,
        "granted": record.granted,
        "recorded_at": record.recorded_at.isoformat(),
        "known_customer": known,
    }
    if as_json:
        typer.echo(json.dumps(payload))
        return
    verb = "granted" if record.granted else "denied"
    render.out_console.print(f"{customer_id}: {record.purpose.value} {verb}.")
    if not known:
        render.err_console.print(
            f"note: the store holds no purchase of {customer_id}; the decision is kept and "
            "applies to their lines when they are ingested (check the id if that is unexpected)."
        )
