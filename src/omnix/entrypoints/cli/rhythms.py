"""The rhythm engine's commands: backtest, predict, customer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from omnix.entrypoints.cli.common import DEFAULT_DIR as _DEFAULT_DIR
from omnix.entrypoints.cli.common import DataDir, JsonFlag
from omnix.entrypoints.cli.common import parse_date as _parse_date
from omnix.entrypoints.cli.common import progress_enabled as _progress_enabled
from omnix.entrypoints.cli.common import settings_for as _settings

if TYPE_CHECKING:
    from omnix.services.predict import Level


def backtest(
    cutoff: Annotated[
        str, typer.Option(help="History before this day, truth from it: YYYY-MM-DD.")
    ],
    horizon_days: Annotated[
        int, typer.Option(min=1, help="Length of the truth window in days.")
    ] = 30,
    k: Annotated[int, typer.Option(min=1, help="Basket size to score (recall@k ...).")] = 10,
    recommend: Annotated[
        bool, typer.Option("--recommend", help="Score the recommendation blend instead.")
    ] = False,
    data_dir: DataDir = _DEFAULT_DIR,
    as_json: JsonFlag = False,
) -> None:
    """Score next-basket baselines and repeat-purchase probabilities on the store's own history.

    History = lines before --cutoff; truth = [cutoff, cutoff + horizon). Customers with >= 3
    orders before and >= 1 in the window are evaluated on their first order in the window.

    Example: omnix backtest --cutoff 2011-09-01 --horizon-days 30 --json

    Example: omnix backtest --cutoff 2011-09-01 --recommend   (recommendations, repeat/explore)
    """
    from omnix.bootstrap import bootstrap
    from omnix.entrypoints.cli import render

    day = _parse_date(cutoff, "--cutoff")
    if recommend:
        from omnix.entrypoints.cli.recommend_cmd import backtest_recommend

        backtest_recommend(data_dir, day, horizon_days, k, as_json)
        return
    container = bootstrap(_settings(data_dir), create=False)
    try:
        report = container.backtest_service().run(day, horizon_days, k)
    finally:
        container.close()
    if as_json:
        typer.echo(json.dumps(report.to_dict(), default=str))
        return
    render.print_mapping(
        f"Backtest at {report.cutoff}, {report.horizon_days}-day window",
        {
            "customers evaluated": report.customers,
            "repeat pairs": report.pairs,
            "pairs bought again": report.pair_positive_rate,
        },
    )
    render.print_rows("Next basket", report.next_basket, list(report.next_basket[0]))
    cols = ["method", "auc", "brier", "ece", "mae_days"]
    render.print_rows("Repeat-purchase probability", report.pair_probabilities, cols)
    render.out_console.print("omnix's own rhythm model: not built yet (issue 3).")


def predict(
    as_of: Annotated[
        str, typer.Option(help="Use only transactions strictly before this day: YYYY-MM-DD.")
    ],
    out: Annotated[Path, typer.Option(help="Output file, .parquet or .csv.")],
    horizon_days: Annotated[
        int, typer.Option(min=1, help="Probability of a purchase within this many days.")
    ] = 30,
    top: Annotated[
        str, typer.Option(help="Keep each customer's K most likely products, or 'all'.")
    ] = "10",
    level: Annotated[
        str,
        typer.Option(help="product, or category: rhythms of a category (milk of any brand)."),
    ] = "product",
    data_dir: DataDir = _DEFAULT_DIR,
    as_json: JsonFlag = False,
) -> None:
    """Predict what each customer will buy next: one row per customer x product, ranked.

    Writes customer_id, product_id, rank, probability, expected_next_date, cycle_days,
    statement (and the rhythm behind them). --as-of reads only earlier transactions, so the
    output doubles as a backtest.

    Example: omnix predict --as-of 2011-12-01 --horizon-days 14 --top 10 --out next.parquet

    Example: omnix predict --as-of 2011-12-01 --level category --top all --out categories.csv
    """
    from omnix.bootstrap import bootstrap
    from omnix.entrypoints.cli import render
    from omnix.services.predict import write_table

    day = _parse_date(as_of, "--as-of")
    keep = _parse_top(top)
    container = bootstrap(_settings(data_dir), create=False)
    try:
        with render.spinner("Predicting", _progress_enabled(as_json)) as stage:
            service = container.predict_service()
            table, summary = service.predict(day, horizon_days, keep, stage, _level(level))
            stage("writing")
            write_table(table, out)
    finally:
        container.close()
    summary.out = str(out)
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), default=str))
        return
    render.print_mapping(f"Predictions as of {summary.as_of}", summary.to_dict())


def _level(value: str) -> Level:
    if value in ("product", "category"):
        return value  # type: ignore[return-value]
    from omnix.domain.errors import ConfigError

    raise ConfigError(f"--level expects product or category, got {value!r}")


def _parse_top(value: str) -> int | None:
    if value.lower() == "all":
        return None
    if value.isdigit() and int(value) >= 1:
        return int(value)
    from omnix.domain.errors import ConfigError

    raise ConfigError(f"--top expects a whole number >= 1 or 'all', got {value!r}")


def customer(
    customer_id: Annotated[str, typer.Argument(help="The customer's id as ingested.")],
    as_of: Annotated[
        str | None, typer.Option(help="Date to read rhythms at (default: day after last line).")
    ] = None,
    min_purchases: Annotated[
        int, typer.Option(min=2, help="Products bought at least this often.")
    ] = 2,
    level: Annotated[
        str,
        typer.Option(help="product, or category: rhythms of a category (milk of any brand)."),
    ] = "product",
    data_dir: DataDir = _DEFAULT_DIR,
    as_json: JsonFlag = False,
) -> None:
    """Show one customer: the 360 from the latest snapshot (segment, CLV, churn risk, spending
    profile; after `omnix analyze`), then their buying rhythms product by product in words.

    Example: omnix customer C000042 --as-of 2026-11-22

    Example: omnix customer C000042 --level category   (dairy of any brand, bread ...)
    """
    from omnix.bootstrap import bootstrap
    from omnix.domain.errors import NotFoundError
    from omnix.entrypoints.cli import render

    day = _parse_date(as_of, "--as-of") if as_of else None
    chosen = _level(level)
    container = bootstrap(_settings(data_dir), create=False)
    try:
        as_of_day, pairs = container.customer_service().rhythms(
            customer_id, day, min_purchases, chosen
        )
        try:
            view: dict[str, object] | None = container.snapshot_service().customer(customer_id)
        except NotFoundError as missing:
            view, why = None, str(missing)
    finally:
        container.close()
    rows: list[dict[str, object]] = []
    for p in pairs:
        item: dict[str, object] = (
            {"category": p.product_id}
            if chosen == "category"
            else {"product_id": p.product_id, "product_name": p.product_name}
        )
        rows.append(item | {
            "purchases": p.purchases,
            "every_days": round(p.interval_days, 1),
            "usual_days": (
                f"{p.usual_low:.0f}-{p.usual_high:.0f}"
                if p.usual_low is not None and p.usual_high is not None
                else ""
            ),
            "regularity": None if p.regularity is None else round(p.regularity, 2),
            "cycle_days_per_unit": round(p.cycle_days, 2),
            "last_purchase": p.last_purchase,
            "expected_next": p.expected_next,
            "days_overdue": p.days_overdue,
            "statement": p.statement(),
        })  # fmt: skip
    if as_json:
        payload = {
            "customer_id": customer_id, "as_of": as_of_day.isoformat(), "level": chosen,
            "rhythms": rows, "profile": view,
        }  # fmt: skip
        typer.echo(json.dumps(payload, default=str))
        return
    if view is not None:
        render.print_profile(view)
    else:
        render.out_console.print(f"No 360 view: {why}")
    name = "category" if chosen == "category" else "product_name"
    cols = [name, "purchases", "every_days", "usual_days", "last_purchase",
            "expected_next", "days_overdue"]  # fmt: skip
    render.print_rows(f"Customer {customer_id} as of {as_of_day}", rows, cols)
    for row in rows[:10]:
        render.out_console.print(f"- {row['statement']}")
