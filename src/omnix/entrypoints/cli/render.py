"""Rich output for the CLI: progress bars, summaries and tables."""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from omnix.domain.ingest import IngestSummary
from omnix.entrypoints.numbers import unsigned_zero

err_console = Console(stderr=True)
out_console = Console()


class _FileBar:
    """One file's bar: reading (bytes), then the engine's validate and store phases."""

    def __init__(self, bar: Progress, name: str, size: int, rows: int | None) -> None:
        self.bar, self.name, self.size = bar, name, max(size, 1)
        self.lines = 0
        self.started = time.perf_counter()
        self.task: TaskID = bar.add_task(
            f"{name} read", total=100.0, lines=0, rate=0.0, elapsed="0:00"
        )

    def read(self, rows: int, position: int) -> None:
        self.lines += rows
        self.bar.update(
            self.task,
            completed=100.0 * position / self.size,
            lines=self.lines,
            rate=self._rate(),
            elapsed=self._elapsed(),
        )

    def phase(self, name: str, fraction: float) -> None:
        self.bar.update(
            self.task,
            description=f"{self.name} {name}",
            completed=100.0 * fraction,
            lines=self.lines,
            rate=self._rate(),
            elapsed=self._elapsed(),
        )

    def _rate(self) -> float:
        return self.lines / max(time.perf_counter() - self.started, 1e-6)

    def _elapsed(self) -> str:
        # our own clock: Rich's stops when the read phase reaches 100 %
        minutes, seconds = divmod(int(time.perf_counter() - self.started), 60)
        return f"{minutes}:{seconds:02d}"


@contextmanager
def ingest_progress(enabled: bool) -> Iterator[Callable[[Path, int, int | None], Any] | None]:
    """Per-file progress bars showing phase, lines and lines/s (on stderr)."""
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[lines]:>12,} lines"),
        TextColumn("{task.fields[rate]:>10,.0f} lines/s"),
        TextColumn("{task.fields[elapsed]:>6}"),
    )
    with Progress(*columns, console=err_console, transient=False) as bar:

        def for_file(path: Path, size: int, rows: int | None) -> _FileBar:
            return _FileBar(bar, path.name, size, rows)

        yield for_file


@contextmanager
def counting_progress(description: str, total: int | None, enabled: bool) -> Iterator[Any]:
    """A bar for a count of things (lines generated, ...); yields advance(n)."""
    if not enabled:
        yield lambda n: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:>12,.0f}"),
        TimeElapsedColumn(),
        console=err_console,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def print_ingest(summaries: Sequence[IngestSummary]) -> None:
    # Fits an 80-column terminal with 10M-line counts: light borders, unbroken numbers, the
    # kind in the title when every file has the same one, and `stored` (= new + duplicates)
    # and the seconds left to each file's line below, which also gives its name whole.
    kinds = sorted({s.kind for s in summaries})
    one_kind = len(kinds) == 1
    table = Table(title=f"Ingest: {kinds[0]}" if one_kind else "Ingest", box=box.SIMPLE_HEAD)
    table.add_column("file", overflow="fold", min_width=12)
    if not one_kind:
        table.add_column("kind", no_wrap=True)
    for col in ("read", "new", "duplicates", "rejected"):
        table.add_column(col, justify="right", no_wrap=True)
    for s in summaries:
        counts = (s.read, s.inserted, s.duplicates, s.rejected)
        table.add_row(
            Path(s.source).name,
            *([] if one_kind else [s.kind]),
            *(f"{n:,}" for n in counts),
        )
    out_console.print(table)
    for s in summaries:
        check = "[green]balanced[/]" if s.balanced else "[red]NOT balanced[/]"
        out_console.print(
            f"{Path(s.source).name}: read {s.read:,} = stored {s.stored:,} + rejected "
            f"{s.rejected:,} ({check}) in {s.seconds:.2f} s"
        )
        notes = []
        if s.returns:
            notes.append(f"{s.returns:,} return lines (negative quantity) kept, netted")
        if s.cancellations:
            notes.append(f"{s.cancellations:,} lines of cancelled orders kept and marked")
        if s.non_product:
            notes.append(f"{s.non_product:,} non-product lines kept, excluded from analytics")
        if s.anonymous:
            notes.append(f"{s.anonymous:,} anonymous lines kept for product statistics")
        if s.extra_columns:
            verb = "kept as attributes" if s.extra_columns_kept else "ignored"
            notes.append(f"extra columns {', '.join(s.extra_columns)} {verb}")
        for note in notes:
            out_console.print(f"  - {note}")
        if s.rejected:
            reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(s.reject_reasons.items()))
            out_console.print(f"  - rejected: {reasons}")
            out_console.print(f"  - rejects file: {s.rejects_file}", soft_wrap=True)
        for hint in s.hints:
            out_console.print(f"  - [yellow]hint:[/] {escape(hint)}")


def fmt(value: Any, key: str = "") -> str:
    if isinstance(value, float):
        if "units" in key and value.is_integer():
            return f"{value:,.0f}"
        if key.endswith("days"):  # 314.5 days, not 314.51
            return f"{value:,.1f}"
        return unsigned_zero(f"{value:,.2f}")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, datetime):
        if key == "month":
            return value.strftime("%Y-%m")
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):  # e.g. seconds per stage: "read 0.39, embed 41.72"
        return ", ".join(f"{k} {fmt(v, k)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v, key) for v in value)
    return "" if value is None else str(value)


def _is_text(value: Any) -> bool:
    """Words read from the left; numbers, dates and times line up on the right."""
    return isinstance(value, (str, bool, dict, list, tuple))


def _one_short_word(cells: list[str]) -> bool:
    """Every cell a single word of at most 14 characters (a kind, a status, a channel)."""
    return all(len(cell) <= 14 and " " not in cell for cell in cells)


def print_mapping(title: str, data: dict[str, Any]) -> None:
    table = Table(title=title, show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    for key, value in data.items():
        text = fmt(value, key)
        cell: str | Text = text
        if not text:
            cell = Text("—", style="dim", justify="left")  # not known, rather than a blank
        elif _is_text(value):
            cell = Text(text, justify="left")
        table.add_row(key.replace("_", " "), cell)
    out_console.print(table)


def print_line(text: str) -> None:
    """One sentence to standard output, as written (no markup, no highlighting)."""
    out_console.print(text, markup=False, highlight=False)


def print_rows(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    table = Table(title=title)
    for col in columns:
        first = next((row[col] for row in rows if row.get(col) is not None), None)
        if _is_text(first) and _one_short_word([fmt(row.get(col), col) for row in rows]):
            # a word such as "transactions" stays whole ("transaction" over "s" read badly)
            table.add_column(col.replace("_", " "), no_wrap=True)
        elif _is_text(first):  # folded where too narrow, never cut off: a file name is kept in full
            table.add_column(col.replace("_", " "), overflow="fold")
        else:  # numbers and dates stay whole, under a header of a word a line
            table.add_column(col.replace("_", "\n"), justify="right", no_wrap=True)
    for row in rows:
        table.add_row(*(fmt(row.get(col), col) for col in columns))
    out_console.print(table)


@contextmanager
def spinner(description: str, enabled: bool) -> Iterator[Callable[[str], None]]:
    """A spinner with elapsed time on stderr for work without a countable total.

    Yields a function that renames the current stage, e.g. stage("scoring pairs").
    """
    if not enabled:
        yield lambda _: None
        return
    from rich.progress import SpinnerColumn

    with Progress(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), TimeElapsedColumn(),
        console=err_console, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task(description, total=None)
        yield lambda text: bar.update(task, description=f"{description}: {text}")


def _params(params: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in params.items())


def _corr(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def print_clv(report: Any) -> None:
    """Fits, holdout accuracy against the baselines, and CLV of an `omnix clv-report`."""
    fits = Table(title=f"Fits on purchases up to {report.calibration_end} ({report.time_unit})")
    for col in ("model", "parameters", "log-likelihood"):
        fits.add_column(col, justify="right" if col == "log-likelihood" else "left")
    fits.add_row("BG/NBD", _params(report.params), f"{report.log_likelihood:,.1f}")
    pareto = report.pareto_nbd
    fits.add_row("Pareto/NBD", _params(pareto["params"]), f"{pareto['log_likelihood']:,.1f}")
    if report.gamma_gamma:
        gg = report.gamma_gamma
        fits.add_row("Gamma-Gamma", _params(gg["params"]), f"{gg['log_likelihood']:,.1f}")
    out_console.print(fits)
    out_console.print(
        f"{report.customers:,} customers, {report.repeat_customers:,} with repeat purchases"
    )
    rows = [("BG/NBD", report.holdout), ("Pareto/NBD", pareto["holdout"])]
    rows += [(f"baseline: {name.replace('_', ' ')}", s) for name, s in report.baselines.items()]
    actual = report.holdout["actual"]
    title = (
        f"Holdout {report.calibration_end} .. {report.holdout_end} "
        f"({report.holdout_length:.1f} {report.time_unit}): repeat purchases"
    )
    table = Table(title=title)
    table.add_column("method")  # wraps first: the numbers and their headers stay whole
    for col in ("predicted", "actual", "error %", "MAE per\ncustomer", "correlation"):
        table.add_column(col, justify="right", no_wrap=True)
    for name, s in rows:
        error = 100.0 * (s["predicted"] - actual) / actual if actual else float("nan")
        table.add_row(
            name, f"{s['predicted']:,.0f}", f"{actual:,.0f}", f"{error:+.1f}",
            f"{s['mae']:.3f}", _corr(s["corr"]),
        )  # fmt: skip
    out_console.print(table)
    _print_scores(
        report.alive,
        "P(alive) vs any purchase in the holdout: AUC / Brier",
        "omnix uses BG/NBD for repeat buyers, Pareto/NBD for one-time buyers",
    )
    _print_scores(
        report.purchase,
        "P(a purchase within the holdout's length) vs any purchase in it: AUC / Brier",
        "omnix's churn risk is 1 - this over 90 days; baselines: the rates above as Poisson "
        "processes, and recency alone (a ranking: AUC only)",
    )
    if report.clv:
        v = report.clv
        print_mapping(
            f"Lifetime value, next {v['months']} months (BG/NBD x Gamma-Gamma)",
            {
                "total": v["total"],
                "mean per customer": v["mean"],
                "top 10% share": f"{100 * v['top_decile_share']:.1f}%",
                "mean P(alive)": f"{v['mean_p_alive']:.3f}",
                "P(alive) < 0.5": v["likely_churned"],
                "monthly discount": f"{100 * v['monthly_discount']:.2f}%",
                "margin": f"{100 * v['margin']:.0f}%",
            },
        )


def _print_scores(scores: dict[str, Any], title: str, caption: str) -> None:
    """A probability as a predictor of any purchase in the holdout, per model and customer
    group."""
    if not scores:
        return
    names = {"bgnbd": "BG/NBD", "pareto_nbd": "Pareto/NBD", "omnix": "omnix (combined)"}
    table = Table(title=title, caption=caption)
    table.add_column("model", no_wrap=True)
    for col in ("all", "one-time buyers", "repeat buyers"):
        table.add_column(col, justify="right")

    def cell(s: dict[str, Any]) -> str:
        area = "n/a" if s["auc"] is None else f"{s['auc']:.3f}"
        return area + " / " + ("n/a" if s["brier"] is None else f"{s['brier']:.3f}")

    for key, groups in scores.items():
        name = names.get(key, key.replace("_", " "))
        table.add_row(name, *(cell(groups[g]) for g in ("all", "one_time", "repeat")))
    out_console.print(table)


def _money(value: float | None, currency: str) -> str:
    return "n/a" if value is None else f"{currency}{value:,.0f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def print_segments(report: Any) -> None:
    """RFM segments and behavioural clusters of an `omnix segments` report."""
    from omnix.models.segments import currency_prefix

    cur = currency_prefix(report.currency)
    heads = ("customers", "share", "revenue", f"CLV {report.clv_months}m", "median", "churn risk")
    table = Table(title=f"RFM segments, {report.customers:,} customers, as of {report.as_of}")
    table.add_column("segment", overflow="fold")  # wraps: the numbers stay whole at 80
    for col in heads:
        table.add_column(col, justify="right", no_wrap=True)
    for g in report.segments:
        table.add_row(g.name, *_group_cells(g, cur))
    out_console.print(table)
    if not report.clusters:
        out_console.print("Too few customers for behavioural clusters.")
        return
    clusters = Table(title=f"Behavioural clusters (k = {report.k}: silhouette and stability)")
    clusters.add_column("id", justify="right")
    clusters.add_column("name", overflow="fold")
    for col in heads:
        clusters.add_column(col, justify="right", no_wrap=True)
    for g in report.clusters:
        clusters.add_row(str(g.cluster_id), g.name, *_group_cells(g, cur))
    out_console.print(clusters)
    for g in report.clusters:
        out_console.print(f"- {g.cluster_id} {g.name}: {g.description}")
    unpriced = any(g.revenue_share is None for g in report.segments)
    out_console.print(
        (
            "revenue = n/a: the data holds no prices"
            if unpriced
            else "revenue = share of net revenue"
        )
        + "; CLV = mean discounted value (BG/NBD x Gamma-Gamma), median beside it; "
        "churn risk = mean P(no purchase in the next 90 days) (BG/NBD for repeat buyers, "
        "Pareto/NBD for one-time buyers)."
    )


def _group_cells(g: Any, cur: str) -> tuple[str, ...]:
    return (
        f"{g.customers:,}", _pct(g.customer_share), _pct(g.revenue_share),
        _money(g.avg_clv, cur), _money(g.median_clv, cur), _pct(g.avg_churn_risk),
    )  # fmt: skip


@contextmanager
def stage_progress(stages: Sequence[str], enabled: bool) -> Iterator[Callable[[str], None]]:
    """A bar over the pipeline's stages (on stderr); yields on_stage(name). A finished stage
    is printed with its seconds."""
    if not enabled:
        yield lambda name: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} stages"), TimeElapsedColumn(),
        console=err_console,
    ) as bar:  # fmt: skip
        task = bar.add_task("starting", total=len(stages))
        clock: dict[str, Any] = {"name": None, "started": time.perf_counter(), "done": 0}

        def on_stage(name: str) -> None:
            now = time.perf_counter()
            if clock["name"] is not None:
                bar.console.print(f"  {clock['name']:<10} {now - clock['started']:6.1f} s")
                clock["done"] += 1
            clock["name"], clock["started"] = name, now
            bar.update(task, description=name, completed=clock["done"])

        yield on_stage
        on_stage("done")
        bar.update(task, completed=len(stages))


def print_analyze(report: Any) -> None:
    """What `omnix analyze` did: stage seconds, consent coverage, and the segment table."""
    seconds = ", ".join(f"{k} {v:.1f}s" for k, v in report.seconds.items())
    print_mapping(
        f"Analysis as of {report.as_of} (snapshot stored)",
        {
            "customers": report.customers,
            "snapshot rows": report.snapshot_rows,
            f"predictions ({report.horizon_days}-day horizon; omnix due)": report.predictions,
            "spending profiles (profiling consent)": report.profiled,
            "default consent": report.default_consent,
            "categories left out (protected attributes)": ", ".join(report.excluded_categories)
            or "none",
            "seconds": seconds,
        },
    )
    if report.segments is not None:
        print_segments(report.segments)


def print_migration(report: Any) -> None:
    """The transition matrix twice (customers, revenue between the dates) and the movers.
    Columns are numbered like the rows, so the matrix fits a terminal."""
    cells = {(r["from_segment"], r["to_segment"]): r for r in report.cells}
    rows = [n for n in report.segments if any(k[0] == n for k in cells)]
    cols = [n for n in report.segments if any(k[1] == n for k in cells)]
    number = {name: k + 1 for k, name in enumerate(report.segments)}
    for what, key in (("customers", "customers"), ("revenue between the dates", "revenue")):
        grid = [
            [_compact(v) if (v := cells.get((a, b), {}).get(key)) else "" for b in cols]
            for a in rows
        ]
        table = Table(title=f"Segment migration {report.from_date} -> {report.to_date}: {what}")
        # numbers are never cut ("1…" could not be read in 80 columns): each column is as
        # wide as its widest cell, and the segment names fold instead
        table.add_column("from \\ to", overflow="fold")
        for k, name in enumerate(cols):
            width = max([len(str(number[name]))] + [len(line[k]) for line in grid])
            table.add_column(str(number[name]), justify="right", no_wrap=True, min_width=width)
        for a, shown in zip(rows, grid, strict=True):
            table.add_row(f"{number[a]} {a}", *shown)
        out_console.print(table)
    out_console.print(
        f"{report.moved:,} of {report.customers:,} customers changed segment "
        f"(rows: segment on {report.from_date}; columns: on {report.to_date}, same numbers)."
    )
    keys = ["customer_id", "from_segment", "to_segment", "revenue_from", "revenue", "clv_to"]
    if report.movers:
        print_rows("Movers (most valuable first)", report.movers, keys)


def _compact(value: float) -> str:
    """1234 -> "1.2k", 2500000 -> "2.5M": matrix cells stay narrow."""
    for size, unit in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}"


def print_profile(view: dict[str, Any]) -> None:
    """`omnix profile ID`: the snapshot row, spending profile, history and habits."""
    row = view["snapshot"]
    keys = ("segment", "reason", "rfm_score", "cluster_id", "clv", "p_alive", "churn_risk_90d",
            "expected_purchases_90d", "net_revenue", "orders", "recency_days")  # fmt: skip
    print_mapping(
        f"Customer {view['customer_id']} (snapshot {view['snapshot_date']})",
        {k: row.get(k) for k in keys},
    )
    if row.get("profiling_consent"):
        from omnix.domain.snapshots import SPENDING_COLUMNS

        print_mapping("Spending profile", {k: row.get(k) for k in SPENDING_COLUMNS})
    elif row.get("profiling_consent_now"):
        out_console.print(
            "Spending profile: not in this snapshot (profiling consent came after it); "
            "run `omnix analyze` to produce it."
        )
    else:
        out_console.print("Spending profile: not produced (consent does not cover profiling).")
    print_rows("Over time", view["history"], ("snapshot_date", "segment", "cluster_id", "clv",
                                               "p_alive", "churn_risk_90d"))  # fmt: skip
    if view["profile"]:
        zone = view.get("timezone", "UTC")
        habits = dict(view["profile"])
        day = habits.get("preferred_weekday")
        if isinstance(day, int) and 0 <= day < len(calendar.day_name):  # 0 = Monday
            habits["preferred_weekday"] = calendar.day_name[day]
        print_mapping(f"Habits (hours in {zone})", habits)


def print_due(page: Any) -> None:
    """`omnix due`: one page of who is due for what, and what was withheld."""
    where = "".join(
        f", {label} {value}"
        for label, value in (("category", page.category), ("segment", page.segment))
        if value
    )
    title = (
        f"Expected to buy within {page.within_days} days of {page.snapshot_date}{where}: "
        f"{page.offset + 1 if page.rows else 0}-{page.offset + len(page.rows)} of {page.total:,}"
    )
    table = Table(title=title)
    numbers = ("P(buy)", "every", "overdue")
    for col in ("customer", "segment", "product", *numbers[:1], "expected", *numbers[1:]):
        table.add_column(col, overflow="fold", justify="right" if col in numbers else "left")
    for r in page.rows:
        table.add_row(
            str(r["customer_id"]), str(r.get("segment") or ""),
            str(r.get("product_name") or r["product_id"]), f"{r['probability']:.0%}",
            str(r["expected_next_date"]), f"{r['interval_days']:.0f} d",
            f"{r['days_overdue']} d" if r["days_overdue"] else "",
        )  # fmt: skip
    out_console.print(table)
    out_console.print(
        f"expected = the next purchase by the customer's rhythm; P(buy) = calibrated probability "
        f"of a purchase within {page.horizon_days} days of {page.snapshot_date} (the horizon "
        "`omnix predict` stored); every = usual days between purchases; --json adds each rhythm "
        "in words."
    )
    if page.withheld:
        out_console.print(
            f"{page.withheld:,} more rows withheld: those customers' consent does not cover "
            "personalization (record it with `omnix consent`, or --default-consent granted)."
        )
