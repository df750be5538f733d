"""Rich output for the CLI: progress bars, summaries and tables."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from omnix.domain.ingest import IngestSummary

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
    table = Table(title="Ingest", show_lines=False)
    for col in ("file", "kind", "read", "stored", "new", "duplicates", "rejected", "seconds"):
        left = col in ("file", "kind")
        table.add_column(col, justify="left" if left else "right", overflow="fold")
    for s in summaries:
        table.add_row(
            Path(s.source).name,
            s.kind,
            f"{s.read:,}",
            f"{s.stored:,}",
            f"{s.inserted:,}",
            f"{s.duplicates:,}",
            f"{s.rejected:,}",
            f"{s.seconds:.2f}",
        )
    out_console.print(table)
    for s in summaries:
        check = "[green]balanced[/]" if s.balanced else "[red]NOT balanced[/]"
        out_console.print(
            f"{Path(s.source).name}: read {s.read:,} = stored {s.stored:,} + rejected "
            f"{s.rejected:,} ({check})"
        )
        notes = []
        if s.returns or s.cancellations:
            notes.append(f"{s.returns:,} return lines ({s.cancellations:,} cancellations) kept")
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
            out_console.print(f"  - rejects file: {s.rejects_file}")


def fmt(value: Any, key: str = "") -> str:
    if isinstance(value, float):
        if "units" in key and value.is_integer():
            return f"{value:,.0f}"
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, datetime):
        if key == "month":
            return value.strftime("%Y-%m")
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def print_mapping(title: str, data: dict[str, Any]) -> None:
    table = Table(title=title, show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    for key, value in data.items():
        table.add_row(key.replace("_", " "), fmt(value, key))
    out_console.print(table)


def print_rows(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    table = Table(title=title)
    for col in columns:
        table.add_column(col.replace("_", " "), justify="left" if col.endswith("name") else "right")
    for row in rows:
        table.add_row(*(fmt(row.get(col), col) for col in columns))
    out_console.print(table)
