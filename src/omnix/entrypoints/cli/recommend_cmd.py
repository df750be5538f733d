"""`omnix recommend`: one customer's recommendations with reasons, or every customer's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from omnix.entrypoints.cli.common import DEFAULT_DIR as _DEFAULT_DIR
from omnix.entrypoints.cli.common import DataDir, DefaultConsent, JsonFlag
from omnix.entrypoints.cli.common import parse_date as _parse_date
from omnix.entrypoints.cli.common import progress_enabled as _progress_enabled
from omnix.entrypoints.cli.common import settings_for as _settings


def _context(text: str | None) -> Any:
    from pydantic import ValidationError

    from omnix.domain.errors import InputError
    from omnix.domain.recommend import RecommendContext

    if not text:
        return RecommendContext()
    try:
        return RecommendContext.model_validate_json(text)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "context"
        raise InputError(f"--context: {where}: {first['msg']}") from None


def recommend(
    customer_id: Annotated[
        str | None, typer.Argument(help="The customer's id (omit with --all).")
    ] = None,
    k: Annotated[int, typer.Option("--k", min=1, max=200, help="How many products.")] = 10,
    context: Annotated[
        str | None,
        typer.Option(
            help='Request context as JSON, e.g. \'{"basket": ["P1"], "exclude": ["P2"]}\'.'
        ),
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Compute and store every customer's candidates.")
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="With --all: use only purchases before this day (default: the day after the "
            "store's last line, as omnix analyze)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="With --all: also write the top k per customer (.parquet/.csv)."),
    ] = None,
    encoder: Annotated[
        str, typer.Option(help="Product text vectors: auto, sentence or tfidf.")
    ] = "auto",
    refit: Annotated[
        bool,
        typer.Option(
            "--refit",
            help="With --all: learn the ranker afresh even when the last run's model (at most "
            "7 days older than --as-of) could be reused.",
        ),
    ] = False,
    default_consent: DefaultConsent = None,
    data_dir: DataDir = _DEFAULT_DIR,
    as_json: JsonFlag = False,
) -> None:
    """Recommend what a customer needs next, each with a reason in words.

    --all fits the sources and the ranker on purchases before --as-of, stores each permitted
    customer's candidates (so single requests only re-rank them) and, with --out, writes
    customer_id, product_id, rank, score, source, reason for every customer to a file. A run
    within 7 days after the last one reuses its learned ranker and next-need model (a nightly
    batch between weekly refits) and refits only the sources; --refit learns everything
    afresh.

    Without personalization consent (`omnix consent`, or --default-consent for customers
    without a record) a customer gets popular products, never a profile-based list.

    Example: omnix recommend --all --as-of 2011-09-01 --k 10 --out recs.parquet

    Example: omnix analyze && omnix recommend --all   (a nightly refresh of both)

    Example: omnix recommend 12347 --k 5 --context '{"basket": ["22423"], "max_per_category": 2}'
    """
    from omnix.bootstrap import bootstrap
    from omnix.domain.errors import ConfigError

    if encoder not in ("auto", "sentence", "tfidf"):
        raise ConfigError(f"--encoder expects auto, sentence or tfidf, got {encoder!r}")
    if all_:
        if customer_id is not None:
            raise ConfigError("give a CUSTOMER_ID or --all, not both")
        day = _parse_date(as_of, "--as-of") if as_of is not None else None
        _all(data_dir, day, k, out, (encoder, default_consent), as_json, refit)
        return
    if customer_id is None:
        raise ConfigError("give a CUSTOMER_ID, or --all")
    ctx = _context(context)
    container = bootstrap(_settings(data_dir), create=False)
    try:
        service = container.recommend_service(encoder, default_consent)
        result = service.recommend(customer_id, k, ctx)
    finally:
        container.close()
    if as_json:
        typer.echo(result.model_dump_json())
        return
    _print(result)


def _all(
    data_dir: Path,
    day: Any,
    k: int,
    out: Path | None,
    how: tuple[str, str | None],
    as_json: bool,
    refit: bool = False,
) -> None:
    """`day` None: the day after the store's last line; `out` None: store only."""
    from omnix.bootstrap import bootstrap
    from omnix.entrypoints.cli import render
    from omnix.services.predict import write_table
    from omnix.services.segments import day_after_last

    container = bootstrap(_settings(data_dir), create=False)
    rows = None
    try:
        if day is None:
            day = day_after_last(container.warehouse.ibis().table("transactions"))
        with render.spinner("Recommending", _progress_enabled(as_json)) as stage:
            service = container.recommend_service(*how)
            summary = service.precompute(day, stage, refit=refit)
            if out is not None:
                stage("writing")
                table = service.batch(k)
                write_table(table, out)
                rows = table.num_rows
    finally:
        container.close()
    summary.out = "" if out is None else str(out)
    payload = {**summary.to_dict(), "rows": rows}
    if as_json:
        typer.echo(json.dumps(payload, default=str))
        return
    render.print_mapping(f"Recommendations as of {summary.as_of}", payload)


def _print(result: Any) -> None:
    from omnix.entrypoints.cli import render

    basis = {
        "personal": "personal",
        "segment": "their segment (no history of their own)",
        "popular": "popular items (no personalization consent, or a new customer)",
    }
    rows = [
        {
            "rank": r.rank,
            "product": r.product_name or r.product_id,
            "score": round(r.score, 3),
            "source": r.source,
            "reason": r.reason,
        }
        for r in result.items
    ]
    title = f"Recommendations for {result.customer_id} as of {result.as_of}: {basis[result.basis]}"
    render.print_rows(title, rows, ["rank", "product", "score", "source", "reason"])


def backtest_recommend(data_dir: Path, day: Any, horizon_days: int, k: int, as_json: bool) -> None:
    """`omnix backtest --recommend`: the blend, its sources and the baselines in one run."""
    from omnix.bootstrap import bootstrap
    from omnix.entrypoints.cli import render

    container = bootstrap(_settings(data_dir), create=False)
    try:
        with render.spinner("Backtesting recommendations", _progress_enabled(as_json)):
            report = container.recommend_backtest().run(day, horizon_days, k)
    finally:
        container.close()
    if as_json:
        typer.echo(json.dumps(report.to_dict(), default=str))
        return
    render.print_mapping(
        f"Recommendation backtest at {report.cutoff}, {report.horizon_days}-day window",
        {"customers evaluated": report.customers,
         "with a new item in the next basket": report.customers_with_explore,
         "product text vectors": report.encoder},
    )  # fmt: skip
    cols = ["method", f"recall@{k}", f"ndcg@{k}", f"phr@{k}", f"repeat_recall@{k}",
            f"explore_recall@{k}", "coverage", "diversity"]  # fmt: skip
    rows = [{c: (round(v, 4) if isinstance(v, float) else v) for c, v in r.items()}
            for r in report.methods]  # fmt: skip
    render.print_rows("Next basket: whole / repeat / explore items", rows, cols)
