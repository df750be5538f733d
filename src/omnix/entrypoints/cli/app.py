"""The `omnix` command line (Typer + Rich).

Errors are one line on stderr with a meaningful exit code (see domain/errors.py); `--debug`
shows the traceback. Every command takes `--data-dir` (or OMNIX_DATA_DIR); given before the
command (`omnix --data-dir X status`) it applies to whichever command follows.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from omnix.domain import contract as c
from omnix.domain.errors import OmnixError
from omnix.entrypoints.cli import c360, recommend_cmd, rhythms, segments_cmd, serve, sources_cmd
from omnix.entrypoints.cli.common import DEFAULT_DIR as _DEFAULT_DIR
from omnix.entrypoints.cli.common import DataDir, JsonFlag
from omnix.entrypoints.cli.common import parse_date as _parse_date
from omnix.entrypoints.cli.common import progress_enabled as _progress_enabled
from omnix.entrypoints.cli.common import settings_for as _settings

if TYPE_CHECKING:
    from omnix.services.model_health import Analysis

app = typer.Typer(
    name="omnix",
    help=(
        "Customer analytics for retailers: ingest purchase history, then learn each customer's"
        " buying rhythms, segments, lifetime value and churn risk, and recommend what they need"
        " next; a dashboard and a REST API serve it all.\n\nStart with: omnix demo"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state: dict[str, bool] = {"debug": False}


# Commands that give freed memory back to the kernel: those that serve requests for hours, and
# ingest, whose streaming bounds its memory (kept, it only raised the peak: adapters/memory.py).
_GIVES_BACK = frozenset({"serve", "demo", "ingest"})


@app.callback()
def _root(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    log_json: Annotated[bool, typer.Option("--log-json", help="Structured JSON logs.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Directory of the store for the command that follows (its own --data-dir wins).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """omnix: self-hostable customer analytics. Start with `omnix demo`."""
    from omnix.logs import configure

    if data_dir is not None:
        # Click builds the command's context after this callback, so its --data-dir option
        # reads this as its environment default: the command's own flag still wins.
        os.environ["OMNIX_DATA_DIR"] = str(data_dir)
    _state["debug"] = debug
    configure(level="DEBUG" if debug else "INFO" if verbose else "WARNING", json_logs=log_json)
    if keeps_freed_memory(ctx.invoked_subcommand):
        from omnix.adapters.memory import keep_freed_memory

        keep_freed_memory()


def keeps_freed_memory(command: str | None) -> bool:
    """Whether this command's process keeps the memory it frees for its own reuse
    (adapters/memory.py): short-lived batch commands do, unless OMNIX_KEEP_FREED_MEMORY=0."""
    if command is None or command in _GIVES_BACK:
        return False
    from omnix.config import Settings

    return Settings().keep_freed_memory


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(help="CSV (.gz/.zst), Parquet or JSONL files.")],
    data_dir: DataDir = _DEFAULT_DIR,
    kind: Annotated[c.Kind, typer.Option(help="Which table the files load into.")] = (
        c.Kind.TRANSACTIONS
    ),
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="Map a source column: SRC=DST (repeatable)."),
    ] = None,
    preset: Annotated[
        str | None, typer.Option(help="A known source schema, e.g. online-retail-ii.")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="Time zone of naive timestamps (default UTC / preset's).")
    ] = None,
    anonymous: Annotated[
        str | None,
        typer.Option(help="Lines without customer id: keep (product stats only) or reject."),
    ] = None,
    extra_columns: Annotated[
        str, typer.Option(help="Columns outside the contract: keep (as attributes) or ignore.")
    ] = "keep",
    non_product: Annotated[
        str | None, typer.Option(help="Regex of product ids that are fees/postage (not products).")
    ] = None,
    cancel_prefix: Annotated[
        str | None, typer.Option(help="Order ids starting with this are cancellations.")
    ] = None,
    ts_format: Annotated[
        str | None, typer.Option(help="strptime format for non-ISO timestamps, e.g. %d/%m/%Y.")
    ] = None,
    decimal_comma: Annotated[
        bool,
        typer.Option(
            "--decimal-comma", help="Numbers in the text use a decimal comma: 1,50 or 1.234,50."
        ),
    ] = False,
    thousands_comma: Annotated[
        bool,
        typer.Option("--thousands-comma", help="Numbers in the text group thousands: 1,234.50."),
    ] = False,
    currency_signs: Annotated[
        bool,
        typer.Option(
            "--currency-signs",
            help="Prices may carry a currency sign or code: $4.99, 4,99 €, EUR 4.99.",
        ),
    ] = False,
    encoding: Annotated[
        str, typer.Option(help="Encoding of CSV/JSONL text, e.g. cp1252 for an Excel export.")
    ] = "utf-8",
    as_json: JsonFlag = False,
) -> None:
    """Load files into the store, idempotently; bad rows go to a rejects file with a reason.

    Example: omnix ingest sales.csv.gz --map Invoice=order_id --map Sku=product_id

    Example: omnix ingest online_retail_II.csv.gz --preset online-retail-ii --json

    Example: omnix ingest verkauf.csv --encoding cp1252 --decimal-comma --ts-format "%d.%m.%Y"

    Example: omnix ingest orders-us.csv --thousands-comma --currency-signs
    """
    from omnix.bootstrap import bootstrap
    from omnix.domain.ingest import (
        AnonymousPolicy,
        ExtraColumns,
        IngestOptions,
        number_format,
        parse_mapping,
        preset_by_name,
        text_encoding,
        validate_pattern,
    )
    from omnix.entrypoints.cli import render

    settings = _settings(data_dir)
    validate_pattern(non_product)
    options = IngestOptions(
        kind=kind,
        mapping=parse_mapping(map_ or [], kind),
        preset=preset_by_name(preset) if preset else None,
        timezone=timezone or settings.timezone,
        anonymous=_choice(AnonymousPolicy, anonymous or settings.anonymous_policy, "--anonymous"),
        extra_columns=_choice(ExtraColumns, extra_columns, "--extra-columns"),
        cancellation_prefix=cancel_prefix,
        non_product_pattern=non_product,
        ts_format=ts_format,
        number_format=number_format(decimal_comma, thousands_comma),
        currency_signs=currency_signs,
        encoding=text_encoding(encoding),
    )
    container = bootstrap(settings)
    try:
        with render.ingest_progress(_progress_enabled(as_json)) as progress:
            summaries = container.ingest_service().ingest(files, options, progress)
    finally:
        container.close()
    if as_json:
        out = [s.to_dict() for s in summaries]
        typer.echo(json.dumps(out[0] if len(out) == 1 else _combine(out)))
    else:
        render.print_ingest(summaries)


def _choice(enum: Any, value: Any, flag: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        from omnix.domain.errors import ConfigError

        allowed = ", ".join(e.value for e in enum)
        raise ConfigError(f"{flag} must be one of {allowed}, got {value!r}") from None


def _combine(out: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("read", "stored", "inserted", "duplicates", "rejected", "seconds")
    total: dict[str, Any] = {k: sum(o[k] for o in out) for k in keys}
    total["rejects_file"] = [o["rejects_file"] for o in out if o["rejects_file"]] or None
    total["balanced"] = all(o["balanced"] for o in out)
    total["files"] = out
    return total


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="Output: .parquet, .csv(.gz|.zst), .jsonl")],
    customers: Annotated[int, typer.Option(min=1, help="Number of customers.")] = 1_000,
    days: Annotated[int, typer.Option(min=1, help="Days of history.")] = 365,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 0,
    start: Annotated[
        str | None, typer.Option(help="First day YYYY-MM-DD (default 2025-01-01).")
    ] = None,
    data_dir: DataDir = _DEFAULT_DIR,
    as_json: JsonFlag = False,
) -> None:
    """Write a realistic grocery purchase history with its ground truth beside it.

    Also writes FILE.truth.parquet (true cycles, churn dates, archetypes), FILE.products.parquet
    and FILE.customers.parquet.

    Example: omnix generate --customers 10000 --days 365 --seed 7 --out demo.parquet
    """
    from omnix.entrypoints.cli import render
    from omnix.generate import GeneratorConfig
    from omnix.generate import generate as run_generate

    config = GeneratorConfig(customers=customers, days=days, seed=seed)
    if start:
        config = replace(config, start=_parse_date(start, "--start"))
    estimate = customers * days * 100 // 365
    with render.counting_progress("generating lines", estimate, _progress_enabled(as_json)) as adv:
        result = run_generate(config, out, progress=adv)
    files = {k: str(v) for k, v in result.files.items()}
    payload: dict[str, Any] = {
        "lines": result.lines,
        "orders": result.orders,
        "customers": result.customers,
        "products": result.products,
        "seconds": round(result.seconds, 3),
        "files": files,
    }
    if as_json:
        typer.echo(json.dumps(payload))
    else:
        render.print_mapping(f"Generated {out}", payload | {"files": ", ".join(files.values())})


@app.command()
def status(data_dir: DataDir = _DEFAULT_DIR, as_json: JsonFlag = False) -> None:
    """Show what the store holds: lines, customers, products, dates, rejects, last runs.

    Example: omnix status --json
    """
    from omnix.bootstrap import bootstrap
    from omnix.entrypoints.cli import render
    from omnix.services.model_health import latest_analysis

    container = bootstrap(_settings(data_dir), create=False)
    try:
        wh = container.warehouse
        counts = wh.table_counts()
        store = container.analyse_service().store_overview()
        sources = wh.recent("sources", "last_ingested_at", 10)
        runs = wh.recent("runs", "started_at", 5)
        analysis = latest_analysis(wh, counts["transactions"])
    finally:
        container.close()
    payload: dict[str, Any] = {
        "store": container.settings.store_label(),
        "tables": counts,
        "transactions": store,
        "sources": [{k: s[k] for k in _SOURCE_KEYS} for s in sources],
        "runs": [{k: r[k] for k in ("command", "started_at", "status")} for r in runs],
        "analysis": analysis.to_dict() if analysis else None,
    }
    if as_json:
        typer.echo(json.dumps(payload, default=str))
        return
    rows = {f"{table} table rows": n for table, n in counts.items()}
    render.print_mapping(f"Store {payload['store']}", {**rows, **store})
    render.print_rows("Sources", payload["sources"], _SOURCE_KEYS)
    render.print_rows("Last runs", payload["runs"], ("command", "started_at", "status"))
    render.print_line(_analysis_line(analysis))


def _analysis_line(analysis: Analysis | None) -> str:
    """Whether the stored results count every line the store holds now."""
    if analysis is None:
        return "Not analysed yet: run omnix analyze."
    since, at = analysis.lines_since, analysis.finished_at
    when = f"{at:%Y-%m-%d %H:%M} UTC" if at else "time unknown"
    if not since and analysis.files_changed:
        return (
            f"Files were added or taken out since the latest analysis ({when}): segments, "
            "predictions and recommendations may not reflect them yet; run omnix analyze."
        )
    if not since:
        known = "" if since is None else f", over all {analysis.lines_now:,} lines held now"
        return f"Latest analysis {when}{known}."
    n = abs(since)
    change = f"{n:,} line{'s' if n != 1 else ''} {'more' if since > 0 else 'fewer'}"
    return (
        f"The store holds {change} than the latest analysis ({when}) saw: segments, "
        "predictions and recommendations do not count them yet; run omnix analyze."
    )


_SOURCE_KEYS = ("name", "kind", "read", "stored", "rejected", "last_ingested_at")


@app.command()
def summary(
    data_dir: DataDir = _DEFAULT_DIR,
    top: Annotated[int, typer.Option(min=1, help="How many top products.")] = 10,
    as_json: JsonFlag = False,
) -> None:
    """The business at a glance: net revenue, orders and customers, by month, top products.

    Over the lines of known customers, returns netted. Stores no results (`omnix analyze`
    runs the models and stores what they find).

    Example: omnix summary --top 5
    """
    from omnix.bootstrap import bootstrap

    container = bootstrap(_settings(data_dir), create=False)
    try:
        analysis = container.analyse_service().analyse(top)
    finally:
        container.close()
    _print_analysis(analysis, as_json)


def _print_analysis(analysis: Any, as_json: bool) -> None:
    from omnix.entrypoints.cli import render

    if as_json:
        typer.echo(json.dumps(asdict(analysis), default=str))
        return
    render.print_mapping("Store", analysis.store)
    render.print_mapping("Business (net of returns, known customers)", analysis.business)
    render.print_rows("By month", analysis.monthly, ("month", "net_revenue", "orders", "customers"))
    render.print_rows(
        "Top products",
        analysis.top_products,
        ("product_id", "product_name", "net_units", "net_revenue", "buyers"),
    )
    if analysis.business["net_revenue"] is None:
        typer.echo("Revenue is unknown: no line in the store has a price.")


@app.command("clv-report")
def clv_report(
    calibration_end: Annotated[
        str, typer.Option(help="Last day of the calibration period (inclusive): YYYY-MM-DD.")
    ],
    holdout_end: Annotated[
        str, typer.Option(help="Last day of the holdout period (inclusive): YYYY-MM-DD.")
    ],
    months: Annotated[int, typer.Option(min=1, help="CLV horizon in months.")] = 12,
    monthly_discount: Annotated[
        float, typer.Option(min=0.0, help="Discount rate per month for CLV.")
    ] = 0.01,
    margin: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Gross margin rate (1.0 = revenue).")
    ] = 1.0,
    data_dir: DataDir = _DEFAULT_DIR,
    as_json: JsonFlag = False,
) -> None:
    """Fit BG/NBD, Pareto/NBD and Gamma-Gamma on the calibration period; score the holdout.

    Prints fitted parameters, log-likelihood, predicted vs actual repeat purchases in the
    holdout (total, MAE and correlation per customer) against two naive baselines, and CLV.

    Example: omnix clv-report --calibration-end 1997-09-30 --holdout-end 1998-06-30 --json
    """
    from omnix.bootstrap import bootstrap
    from omnix.entrypoints.cli import render
    from omnix.services.clv import ClvOptions

    cal = _parse_date(calibration_end, "--calibration-end")
    hold = _parse_date(holdout_end, "--holdout-end")
    options = ClvOptions(months=months, monthly_discount=monthly_discount, margin=margin)
    container = bootstrap(_settings(data_dir), create=False)
    try:
        with render.spinner("fitting lifetime-value models", _progress_enabled(as_json)):
            report = container.clv_service(options).report(cal, hold)
    finally:
        container.close()
    if as_json:
        typer.echo(json.dumps(report.to_dict(), default=str))
        return
    render.print_clv(report)


@app.command()
def demo(
    data_dir: DataDir = _DEFAULT_DIR,
    customers: Annotated[int, typer.Option(min=10, help="Demo customers.")] = 2_000,
    days: Annotated[int, typer.Option(min=30, help="Days of history, ending yesterday.")] = 365,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="End by serving the API on the demo data.")
    ] = True,
    host: serve.Host = "127.0.0.1",
    port: serve.Port = 8000,
) -> None:
    """Generate a demo dataset, ingest it, run every analysis, print a summary, then serve
    the dashboard and the API on it (their URLs and a demo API key printed; Ctrl-C stops).

    Example: omnix demo --data-dir ./omnix-data --customers 5000 --no-serve
    """
    from omnix.bootstrap import bootstrap
    from omnix.entrypoints.cli import render
    from omnix.generate import GeneratorConfig

    settings = _settings(data_dir)
    if not settings.eu_mode:  # generated people: their profiles are shown (as the demo stores)
        settings = settings.model_copy(update={"default_consent": "granted"})
    start = datetime.now(UTC).date() - timedelta(days=days)
    config = GeneratorConfig(customers=customers, days=days, seed=seed, start=start)
    show = _progress_enabled(False)
    container = bootstrap(settings)
    try:
        estimate = customers * days * 100 // 365
        with (
            render.counting_progress("generating", estimate, show) as on_generated,
            render.ingest_progress(show) as progress,
        ):
            result = container.demo_service().run(config, on_generated, progress)
        _print_demo(result, settings)
        token = _demo_key(container)
        render.out_console.print(f"Demo API key (admin; shown once): {token}")
        if serve_api:
            render.out_console.print(
                f"Dashboard: http://{host}:{port}/  (sign in with the demo key above)",
                soft_wrap=True,
            )
            render.out_console.print(
                f"API docs: http://{host}:{port}/docs  -  try: curl -H 'Authorization: Bearer "
                f"{token}' http://{host}:{port}/v1/segments  (Ctrl-C stops)"
            )
            serve.run_server(container, host, port)
    finally:
        container.close()


def _demo_key(container: Any) -> str:
    """A fresh admin key named "demo"; earlier demo keys are revoked."""
    from omnix.domain.access import Role

    keys = container.keys_service()
    for key in keys.list():
        if key.name == "demo" and key.active:
            keys.revoke(key.key_id)
    _, token = keys.create(Role.ADMIN, "demo")
    return str(token)


def _print_demo(result: Any, settings: Any) -> None:
    from omnix.entrypoints.cli import render

    g = result.generated
    render.out_console.print(
        f"Generated {g.lines:,} lines for {g.customers:,} customers in {g.seconds:.1f}s"
    )
    render.print_ingest(result.ingested)
    analysis = result.analysis
    _print_analysis(analysis, False)
    render.print_analyze(result.pipeline)
    p = result.predictions
    render.print_rows(
        f"Due in the next {p.horizon_days} days (as of {p.as_of}; all {p.rows:,} rows in {p.out})",
        result.due_soon,
        ["customer_id", "probability", "statement"],
    )
    render.out_console.print(
        f"\nStore: {settings.store_label()}  -  try `omnix status --data-dir {settings.data_dir}`"
    )


app.command("backtest")(rhythms.backtest)
app.command("predict")(rhythms.predict)
app.command("customer")(rhythms.customer)
app.add_typer(segments_cmd.app, name="segments")
app.add_typer(sources_cmd.app, name="sources")
app.command("analyze")(c360.analyze)
app.command("profile")(c360.profile)
app.command("due")(c360.due)
app.add_typer(c360.export_app, name="export")
app.add_typer(c360.consent_app, name="consent")
app.command("serve")(serve.serve)
app.add_typer(serve.keys_app, name="keys")
app.add_typer(serve.privacy_app, name="privacy")
app.command("openapi")(serve.openapi_cmd)
app.command("recommend")(recommend_cmd.recommend)


def _reflow_help(typer_app: typer.Typer) -> None:
    """Join each help paragraph's lines, so the terminal wraps them at its width.

    In Rich mode Typer 0.29 keeps a docstring's line breaks: the list of commands broke
    summaries mid-sentence, and in an 80-column terminal every paragraph wrapped twice (at
    80 and at the docstring's ~95). Paragraphs marked with \\b keep their lines; an explicit
    `help=` is reflowed like a docstring."""
    for command in typer_app.registered_commands:
        command.help = _reflowed(command.help, command.callback)
    for info in typer_app.registered_groups:
        group = info.typer_instance
        assert group is not None
        _reflow_help(group)
        own = group.registered_callback
        if own is not None:
            own.help = _reflowed(own.help, own.callback)
        info.help = _reflowed(info.help if isinstance(info.help, str) else group.info.help, None)


def _reflowed(given: object, callback: Any) -> Any:
    text = given if isinstance(given, str) else inspect.getdoc(callback)
    if not text:
        return given  # Typer's `Default` placeholder: nothing to reflow
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split()) for p in paragraphs)


_reflow_help(app)


def main() -> None:
    """Console entry point: one-line errors with exit codes; tracebacks only with --debug."""
    try:
        app(standalone_mode=False)
    except OmnixError as err:
        if _state["debug"]:
            raise
        typer.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except typer.Abort:
        sys.exit(1)
    except typer.TyperException as err:  # usage errors: Typer's own (vendored) Click raises them
        show = getattr(err, "show", None)
        if show is not None:
            show()  # the usage line, "Try 'omnix X --help'", then "Error: ..."
        else:
            typer.echo(f"error: {err.format_message()}", err=True)
        sys.exit(err.exit_code)
    except Exception as err:
        if _state["debug"]:
            raise
        typer.echo(f"error: unexpected {type(err).__name__}: {err} (rerun with --debug)", err=True)
        sys.exit(70)


if __name__ == "__main__":
    main()
