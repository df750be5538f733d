"""The `omnix` command end to end, as a user runs it (a real subprocess, real files)."""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

COMMANDS = [
    "ingest", "generate", "status", "summary", "backtest", "predict", "customer", "demo",
]  # fmt: skip


def omnix(
    *args: str, cwd: Path | None = None, columns: int = 200
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIX_")}
    env["COLUMNS"] = str(columns)
    return subprocess.run(
        [sys.executable, "-m", "omnix.entrypoints.cli.app", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=env,
        timeout=600,
    )


def generated_store(root: Path, customers: int, days: int, seed: int) -> str:
    """Generate a history starting 2025-01-01 with `omnix generate`, ingest it into root/d."""
    out = root / "g.parquet"
    args = ["--customers", str(customers), "--days", str(days), "--seed", str(seed)]
    assert omnix("generate", *args, "--start", "2025-01-01", "--out", str(out)).returncode == 0
    data = str(root / "d")
    assert omnix("ingest", str(out), "--data-dir", data).returncode == 0
    return data


def test_help_lists_every_command() -> None:
    result = omnix("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout
    assert "Start with: omnix demo" in result.stdout  # where a newcomer begins


# Renders `--help` for every command and subcommand, read from the app itself (a new one
# cannot be missed), in a child process: the CLI's root callback configures logging to the
# stream it runs with, which in this process would be a test runner's closed buffer.
_EVERY_HELP = """
import json
import typer
from typer.testing import CliRunner
from omnix.entrypoints.cli.app import app

def walk(command, path):
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield path
        return
    for name, sub in subcommands.items():
        yield from walk(sub, [*path, name])

helps = {}
for path in walk(typer.main.get_command(app), []):
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
    helps[" ".join(path)] = [result.exit_code, result.stdout]
print(json.dumps(helps))
"""


def test_every_subcommand_has_help_with_an_example() -> None:
    child = subprocess.run(
        [sys.executable, "-c", _EVERY_HELP], capture_output=True, text=True, check=True
    )
    helps = json.loads(child.stdout)
    assert {"privacy erase", "segments migration", "ingest", "recommend"} <= set(helps)
    for path, (exit_code, text) in helps.items():
        assert exit_code == 0, path
        _assert_prose_wrapped_at_the_width(text, 80)
        assert re.search(r"Example: (\S+=\S+ )*omnix " + path, text), path
        if path != "openapi":  # writes the API's document: no store involved
            assert "--data-dir" in text, path


def _assert_prose_wrapped_at_the_width(text: str, width: int) -> None:
    """The text above the option panels: a paragraph's lines run to near the width but its
    last (the docstring's own line breaks would leave short lines mid-paragraph)."""
    prose = text.split("╭", maxsplit=1)[0].splitlines()
    for line, below in itertools.pairwise(prose):
        if line.strip() and below.strip() and not below.strip().startswith(("Usage", "Example")):
            assert len(line.rstrip()) > width - 20, line


def test_command_list_wraps_summaries_only_at_the_width() -> None:
    result = omnix("--help")  # 200 columns
    rows = [line for line in result.stdout.splitlines() if line.startswith("│ ")]
    assert any(row.startswith("│ demo ") for row in rows)
    for row, below in itertools.pairwise(rows):
        if below[2] == " " and below.strip("│ "):  # a continuation of `row`'s summary
            assert len(row.rstrip(" │")) > 170, row  # not broken at a docstring line break
    demo = next(row for row in rows if row.startswith("│ demo "))
    assert "print a summary, then serve the dashboard" in demo


def test_errors_are_one_line_with_exit_codes(tmp_path: Path) -> None:
    missing = omnix("ingest", str(tmp_path / "nope.csv"), "--data-dir", str(tmp_path / "d"))
    assert missing.returncode == 3
    assert missing.stderr.strip().count("\n") == 0
    assert missing.stderr.startswith("error: ") and "no such file" in missing.stderr
    bad_map = omnix("ingest", "x.csv", "--map", "a=nonsense", "--data-dir", str(tmp_path / "d"))
    assert bad_map.returncode == 3
    assert "not a transactions column" in bad_map.stderr
    assert "Traceback" not in bad_map.stderr
    debug = omnix("--debug", "ingest", str(tmp_path / "nope.csv"), "--data-dir", str(tmp_path))
    assert "Traceback" in debug.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["profile"], "Missing argument 'customer_id'"),
        (["ingest"], "Missing argument"),
        (["segments", "--bogus"], "No such option: --bogus"),
        (["nosuch"], "No such command 'nosuch'"),
        (["due", "--limit", "many"], "Invalid value for '--limit'"),
    ],
)
def test_usage_errors_say_what_is_wrong_with_exit_code_2(args: list[str], says: str) -> None:
    """They said "error: unexpected MissingParameter ..." with exit code 70: Typer raises its
    own (vendored) Click's exceptions, which the handler did not recognise."""
    result = omnix(*args)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr and "--help" in result.stderr
    assert "unexpected" not in result.stderr and "Traceback" not in result.stderr


def test_status_on_an_empty_directory_says_what_to_do(tmp_path: Path) -> None:
    result = omnix("summary", "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 4
    assert "omnix ingest" in result.stderr


@pytest.mark.parametrize(
    "args",
    [["status"], ["segments"], ["due"], ["profile", "k1"], ["privacy", "export", "k1"]],
)
def test_a_reading_command_on_a_mistyped_data_dir_creates_nothing(
    tmp_path: Path, args: list[str]
) -> None:
    """A typo in --data-dir used to create a new empty store there and answer from it
    ("0 lines", "no snapshot yet") as if the real one were empty."""
    typo = tmp_path / "omnix-dta"
    result = omnix(*args, "--data-dir", str(typo))
    assert result.returncode == 4, result.stderr
    assert f"no store at {typo / 'omnix.duckdb'}" in result.stderr
    assert "--data-dir" in result.stderr
    assert not typo.exists()


def test_ingest_json_summary_and_status(tmp_path: Path) -> None:
    src = tmp_path / "t.csv"
    src.write_text(
        "Kunde,Bon,Zeit,Artikel,Menge\nk1,b1,2024-03-01 10:00,a1,2\nk1,b1,2024-03-01 10:00,a2,x\n"
    )
    data = str(tmp_path / "d")
    maps = ["--map", "Kunde=customer_id", "--map", "Bon=order_id", "--map", "Zeit=ts"]
    maps += ["--map", "Artikel=product_id", "--map", "Menge=quantity"]
    result = omnix("ingest", str(src), *maps, "--data-dir", data, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    for key in ("read", "stored", "rejected", "duplicates", "rejects_file", "seconds"):
        assert key in summary
    assert (summary["read"], summary["stored"], summary["rejected"]) == (2, 1, 1)
    assert Path(summary["rejects_file"]).is_file()
    status = json.loads(omnix("status", "--data-dir", data, "--json").stdout)
    assert status["tables"]["transactions"] == 1
    assert status["transactions"]["customers"] == 1
    assert status["sources"][0]["rejected"] == 1
    assert status["runs"][0]["command"] == "ingest"
    text = omnix("ingest", str(src), *maps, "--data-dir", data)
    assert "read 2 = stored 1 + rejected 1 (balanced)" in text.stdout


def test_ingest_suggests_the_decimal_comma_option_then_reads_with_it(tmp_path: Path) -> None:
    src = tmp_path / "verkauf.csv"
    src.write_text("Kunde;Bon;Zeit;Artikel;Preis\nk1;b1;01.03.2024 10:00;a1;1.299,90\n")
    data = str(tmp_path / "d")
    maps = ["--map", "Kunde=customer_id", "--map", "Bon=order_id", "--map", "Zeit=ts"]
    maps += ["--map", "Artikel=product_id", "--map", "Preis=unit_price"]
    maps += ["--ts-format", "%d.%m.%Y %H:%M", "--data-dir", data]
    first = omnix("ingest", str(src), *maps)
    assert "rejected 1" in first.stdout and "hint:" in first.stdout
    assert "--decimal-comma" in first.stdout
    again = json.loads(omnix("ingest", str(src), *maps, "--decimal-comma", "--json").stdout)
    assert (again["inserted"], again["rejected"], again["hints"]) == (1, 0, [])
    status = json.loads(omnix("status", "--data-dir", data, "--json").stdout)
    assert status["tables"]["transactions"] == 1


def test_ingest_reads_a_us_export_with_grouping_and_currency_signs(tmp_path: Path) -> None:
    src = tmp_path / "orders-us.csv"
    src.write_text(
        "customer_id,order_id,ts,product_id,unit_price\n"
        'c1,o1,2024-03-01,tv,"$1,299.00"\nc1,o1,2024-03-01,cable,€9.99\n'
    )
    data = ["--data-dir", str(tmp_path / "d")]
    first = omnix("ingest", str(src), *data)
    assert "rejected 2" in first.stdout
    assert "--thousands-comma" in first.stdout and "--currency-signs" in first.stdout
    both = omnix("ingest", str(src), *data, "--thousands-comma", "--decimal-comma")
    assert both.returncode == 3 and "exclude each other" in both.stderr  # bad input
    again = omnix("ingest", str(src), *data, "--thousands-comma", "--currency-signs", "--json")
    summary = json.loads(again.stdout)
    assert (summary["inserted"], summary["rejected"], summary["hints"]) == (2, 0, [])


def test_sources_lists_files_and_takes_one_out(tmp_path: Path) -> None:
    src = tmp_path / "shop.csv"
    src.write_text("customer_id,order_id,ts,product_id,Qty\nc1,o1,2024-03-01,a1,3\n")
    data = str(tmp_path / "d")
    first = omnix("ingest", str(src), "--data-dir", data)
    assert "'Qty' looks like quantity" in first.stdout
    listed = json.loads(omnix("sources", "list", "--data-dir", data, "--json").stdout)
    assert [(r["name"], r["stored"]) for r in listed] == [("shop.csv", 1)]
    unconfirmed = omnix("sources", "remove", "shop.csv", "--data-dir", data)
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
    removed = omnix("sources", "remove", listed[0]["source_id"][:8], "--data-dir", data, "--yes")
    assert removed.returncode == 0 and "transactions 1" in removed.stdout
    again = omnix("ingest", str(src), "--map", "Qty=quantity", "--data-dir", data, "--json")
    assert (json.loads(again.stdout)["inserted"], json.loads(again.stdout)["hints"]) == (1, [])
    status = json.loads(omnix("status", "--data-dir", data, "--json").stdout)
    assert status["tables"]["transactions"] == 1
    assert [r["command"] for r in status["runs"][:2]] == ["ingest", "sources remove"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_clean_ingest_does_not_import_pandas(tmp_path: Path, fmt: str) -> None:
    """pandas costs 0.25-0.3 s and about 35 MB to import; nothing on the path of a clean
    CSV or Parquet file needs it (pyarrow imports it on its first `pa.array`)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    rows = pa.table({
        "customer_id": ["k1", "k1", "k2"], "order_id": ["b1", "b1", "b2"],
        "ts": ["2024-03-01 10:00", "2024-03-01 10:00", "2024-03-02 09:00"],
        "product_id": ["a1", "a2", "a1"], "quantity": [2, 1, 3],
    })  # fmt: skip
    src = tmp_path / f"t.{fmt}"
    if fmt == "csv":
        pacsv.write_csv(rows, src)
    else:
        pq.write_table(rows, src)
    run_in_process = (
        "import sys\n"
        "from omnix.entrypoints.cli.app import app\n"
        "try:\n"
        "    app(['ingest', sys.argv[1], '--data-dir', sys.argv[2], '--json'])\n"
        "except SystemExit as done:\n"
        "    assert not done.code, done.code\n"
        "print('pandas imported' if 'pandas' in sys.modules else 'no pandas', file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIX_")}
    child = subprocess.run(
        [sys.executable, "-c", run_in_process, str(src), str(tmp_path / "d")],
        capture_output=True, text=True, check=False, env=env, timeout=600,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout)["stored"] == 3
    assert child.stderr.strip().splitlines()[-1] == "no pandas"


def test_data_dir_before_the_command_applies_to_it(tmp_path: Path) -> None:
    src = tmp_path / "t.csv"
    src.write_text("customer_id,order_id,ts,product_id\nk1,b1,2024-03-01,a1\nk2,b2,2024-03-02,a1\n")
    root, own = tmp_path / "root", tmp_path / "own"
    assert omnix("--data-dir", str(root), "ingest", str(src)).returncode == 0
    assert (root / "omnix.duckdb").is_file()
    status = json.loads(omnix("--data-dir", str(root), "status", "--json").stdout)
    assert status["tables"]["transactions"] == 2
    # the command's own flag wins over the one before it
    both = omnix("--data-dir", str(root), "ingest", str(src), "--data-dir", str(own))
    assert both.returncode == 0, both.stderr
    assert (own / "omnix.duckdb").is_file()
    assert "--data-dir" in omnix("--help").stdout


def test_demo_generates_ingests_and_summarises(tmp_path: Path) -> None:
    data = tmp_path / "d"
    args = ("--customers", "60", "--days", "60", "--no-serve")
    result = omnix("demo", "--data-dir", str(data), *args)
    assert result.returncode == 0, result.stderr
    for heading in ("Ingest", "Business", "By month", "Top products", "Due in the next 14 days"):
        assert heading in result.stdout
    assert "Buys " in result.stdout  # the rhythm statements of the most likely purchases
    assert (data / "demo" / "predictions.parquet").stat().st_size > 0
    assert result.stdout.count("(balanced)") == 3  # transactions, products, customers
    status = json.loads(omnix("status", "--data-dir", str(data), "--json").stdout)
    assert status["tables"]["transactions"] > 500
    assert status["tables"]["products"] > 0
    assert status["tables"]["customers"] == 60
    commands = {r["command"] for r in status["runs"]}  # the latest five runs
    # the demo ends with a backtest (the dashboard's model health) and recommendations
    assert {"analyse", "predict", "backtest", "recommend"} <= commands


def test_generate_writes_data_and_truth_deterministically(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    outs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.parquet"
        args = ["--customers", "40", "--days", "90", "--seed", "3", "--out", str(out)]
        result = omnix("generate", *args, "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["lines"] > 100
        outs.append(out)
    assert pq.read_table(outs[0]).equals(pq.read_table(outs[1]))
    truth = pq.read_table(str(outs[0]) + ".truth.parquet")
    assert {"customer_id", "product_id", "cycle_days", "churn_date"} <= set(truth.column_names)


def test_backtest_on_generated_history(tmp_path: Path) -> None:
    data = generated_store(tmp_path, customers=150, days=120, seed=2)
    result = omnix("backtest", "--cutoff", "2025-04-01", "--horizon-days", "14", "--data-dir", data)
    assert result.returncode == 0, result.stderr
    for text in ("Next basket", "TIFU-KNN", "P-TopFreq", "omnix", "Repeat-purchase probability"):
        assert text in result.stdout
    report = json.loads(
        omnix("backtest", "--cutoff", "2025-04-01", "--data-dir", data, "--json").stdout
    )
    assert report["customers"] > 50
    assert 0 < report["next_basket"][1]["recall@10"] <= 1
    too_early = omnix("backtest", "--cutoff", "2025-01-02", "--data-dir", data)
    assert too_early.returncode == 4
    assert "pick another --cutoff" in too_early.stderr


def test_customer_command_prints_rhythms_in_words(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    args = ("--customers", "40", "--days", "120", "--no-serve")
    assert omnix("demo", "--data-dir", data, *args).returncode == 0
    result = omnix("customer", "C000003", "--data-dir", data)
    assert result.returncode == 0, result.stderr
    assert "Buys " in result.stdout and "about every" in result.stdout
    payload = json.loads(omnix("customer", "C000003", "--data-dir", data, "--json").stdout)
    assert payload["rhythms"] and {"statement", "expected_next", "days_overdue"} <= set(
        payload["rhythms"][0]
    )
    # the demo stored a snapshot, so the 360 comes with the rhythms
    assert payload["profile"]["snapshot"]["segment"] in result.stdout
    assert "rhythm_products" in payload["profile"]["snapshot"]
    missing = omnix("customer", "nobody", "--data-dir", data)
    assert missing.returncode == 3
    assert "no purchases of customer 'nobody'" in missing.stderr
    by_category = omnix("customer", "C000003", "--level", "category", "--data-dir", data, "--json")
    assert by_category.returncode == 0, by_category.stderr
    categories = json.loads(by_category.stdout)
    assert categories["level"] == "category" and categories["rhythms"]
    assert "category" in categories["rhythms"][0] and "product_id" not in categories["rhythms"][0]
    assert omnix("customer", "C000003", "--level", "brand", "--data-dir", data).returncode == 2


def test_predict_writes_the_contract_file(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    data = generated_store(tmp_path, customers=200, days=200, seed=4)
    target = tmp_path / "next.parquet"
    flags = ["--as-of", "2025-06-01", "--horizon-days", "14", "--data-dir", data]
    result = omnix("predict", *flags, "--top", "5", "--out", str(target), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    table = pq.read_table(target)
    assert table.num_rows == summary["rows"] > 0
    assert table.column_names[:7] == [
        "customer_id", "product_id", "rank", "probability", "expected_next_date",
        "cycle_days", "statement",
    ]  # fmt: skip
    assert max(table.column("rank").to_pylist()) == 5
    assert table.column("statement")[0].as_py().startswith("Buys ")
    csv = omnix("predict", *flags, "--top", "all", "--out", str(tmp_path / "all.csv"))
    assert csv.returncode == 0, csv.stderr
    assert (tmp_path / "all.csv").read_text().count("\n") - 1 == int(
        json.loads(omnix("predict", *flags, "--top", "all", "--out", str(tmp_path / "a.parquet"),
                         "--json").stdout)["pairs"]
    )  # fmt: skip
    by_category = omnix("predict", *flags, "--level", "category", "--out", str(tmp_path / "c.csv"))
    assert by_category.returncode == 0, by_category.stderr
    assert (tmp_path / "c.csv").read_text().startswith('"customer_id","category","rank"')
    unknown = omnix("predict", *flags, "--level", "brand", "--out", str(target))
    assert unknown.returncode == 2 and "--level expects" in unknown.stderr
    bad = omnix("predict", *flags, "--top", "none", "--out", str(target))
    assert bad.returncode == 2 and "--top expects" in bad.stderr
    wrong = omnix("predict", *flags, "--out", str(tmp_path / "next.xlsx"))
    assert wrong.returncode == 3 and ".parquet or .csv" in wrong.stderr


def test_ingest_summary_fits_an_80_column_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from omnix.domain.ingest import IngestSummary
    from omnix.entrypoints.cli import render

    console = Console(width=80, record=True, file=io.StringIO())
    monkeypatch.setattr(render, "out_console", console)
    path = "/data/online_retail_II_2009-2010_raw.csv.gz"
    rejects = "/d/rejects/online_retail_II_2009-2010_raw.csv.gz.6192db62.rejects.csv"
    big = IngestSummary(path, "transactions", read=10_592_424, stored=10_592_421,
                        inserted=10_592_421, rejected=3, reject_reasons={"invalid_ts": 3},
                        rejects_file=rejects, seconds=123.45)  # fmt: skip
    render.print_ingest([big])
    text = console.export_text()
    assert _widest(text) <= 80
    for unbroken in ("duplicates", "rejected", "10,592,424", "10,592,421", "in 123.45 s"):
        assert unbroken in text
    assert "Ingest: transactions" in text
    assert f"rejects file: {rejects}" in text  # whole, to copy
    products = IngestSummary("p.csv", "products", read=7, stored=7, inserted=7)
    render.print_ingest([big, products])
    text = console.export_text()
    assert "products" in text and "transactions" in text  # a kind column when kinds differ
    assert _widest(text) <= 80 and "10,592,424" in text


def _widest(text: str) -> int:
    """The widest line, but the rejects file's path (printed whole, to be copied)."""
    return max(len(line) for line in text.splitlines() if "rejects file:" not in line)


def test_tables_keep_numbers_and_dates_whole_at_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import date

    from rich.console import Console

    from omnix.entrypoints.cli import render

    console = Console(width=80, record=True, file=io.StringIO())
    monkeypatch.setattr(render, "out_console", console)
    name = "LUNCHBOX WITH CUTLERY FAIRY CAKES AND A VERY LONG DESCRIPTION"
    row = {"product_name": name, "purchases": 12, "every_days": 18.5, "usual_days": "4-38",
           "last_purchase": date(2009, 12, 3), "expected_next": date(2010, 12, 15),
           "days_overdue": 359}  # fmt: skip
    render.print_rows("Customer c1", [row], list(row))
    text = console.export_text()
    assert _widest(text) <= 80
    for whole in ("2009-12-03", "2010-12-15", "18.5", "359", "purchases", "overdue"):
        assert whole in text
    assert "18.50" not in text  # days to one decimal
    render.print_mapping("Habits", {"main channel": None, "segment": "Champions", "orders": 6,
                                    "recency_days": 314.51, "net_revenue": -1.8e-15,
                                    "seconds": {"read": 0.388, "embed": 41.718}})  # fmt: skip
    habits = console.export_text().splitlines()
    assert any("main channel" in line and "—" in line for line in habits)  # not a blank
    segment = next(line for line in habits if "segment" in line)
    assert "│ Champions " in segment  # words read from the left
    assert any("│ read 0.39, embed 41.72 " in line for line in habits)  # not "{'read': 0.388"
    assert any("recency days" in line and line.endswith(" 314.5 │") for line in habits)
    assert any("net revenue" in line and line.endswith(" 0.00 │") for line in habits)


def test_text_too_wide_for_80_columns_is_folded_not_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    """`omnix status`'s sources at 80 columns showed "instacart_s…" and "transactio…"."""
    from datetime import datetime

    from rich.console import Console

    from omnix.entrypoints.cli import render

    console = Console(width=80, record=True, file=io.StringIO())
    monkeypatch.setattr(render, "out_console", console)
    when = datetime(2026, 11, 30, 8, 12)
    row = {"name": "instacart_sample.parquet", "kind": "transactions", "read": 305_366,
           "stored": 305_366, "rejected": 0, "last_ingested_at": when}  # fmt: skip
    render.print_rows("Sources", [row], list(row))
    text = console.export_text()
    assert _widest(text) <= 80 and "…" not in text
    body = [line.split("│") for line in text.splitlines() if line.startswith("│")]
    assert "".join(cells[1].strip() for cells in body) == row["name"]
    assert body[0][2].strip() == row["kind"]  # a single word stays on one line


def test_a_migration_matrix_keeps_its_numbers_whole_at_80_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CDNOW's 10 x 10 matrix at 80 columns showed cells as "1…" and "2.…": the segment names
    would not wrap, so the numbers were cut. Names fold now; no number is cut."""
    from types import SimpleNamespace

    from rich.console import Console

    from omnix.entrypoints.cli import render

    console = Console(width=80, record=True, file=io.StringIO())
    monkeypatch.setattr(render, "out_console", console)
    names = ["Champions", "Loyal", "Potential Loyalist", "Promising", "Need Attention",
             "About to Sleep", "Can't Lose Them", "At Risk", "Hibernating", "Lost"]  # fmt: skip
    cells = [
        {"from_segment": a, "to_segment": b, "customers": 1000 + 37 * i + j, "revenue": 5.0}
        for i, a in enumerate(names) for j, b in enumerate(names)
    ]  # fmt: skip
    report = SimpleNamespace(from_date="1998-01-01", to_date="1998-07-01", segments=names,
                             cells=cells, moved=10, customers=100, movers=[])  # fmt: skip
    render.print_migration(report)
    text = console.export_text()
    assert _widest(text) <= 80 and "…" not in text
    assert "1.3k" in text and "Potential" in text and "Loyalist" in text


def test_segment_tables_keep_their_numbers_whole_at_80_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the median CLV beside the mean, the unwrapping segment names cut shares to
    "21.…" and headers to "CLV 1…" at 80 columns; names fold now."""
    from types import SimpleNamespace

    from rich.console import Console

    from omnix.entrypoints.cli import render
    from omnix.services.segments import GroupSummary

    console = Console(width=80, record=True, file=io.StringIO())
    monkeypatch.setattr(render, "out_console", console)
    group = GroupSummary("Potential Loyalist", "", 123_456, 0.214, 1e6, 0.374, 12_345.0, 0.842,
                         median_clv=9_876.0)  # fmt: skip
    cluster = GroupSummary("Big baskets · irregular", "big baskets", 123_456, 0.214, 1e6,
                           0.374, 12_345.0, 0.842, cluster_id=1, median_clv=9_876.0)  # fmt: skip
    report = SimpleNamespace(customers=1_234_567, as_of="2026-11-30", currency="EUR",
                             clv_months=12, k=3, segments=[group], clusters=[cluster])  # fmt: skip
    render.print_segments(report)
    text = console.export_text()
    assert _widest(text) <= 80 and "…" not in text
    for whole in ("123,456", "21.4%", "37.4%", "€12,345", "€9,876", "84.2%", "CLV 12m", "median"):
        assert whole in text


def test_privacy_erase_can_compact_the_store(tmp_path: Path) -> None:
    src = tmp_path / "t.csv"
    src.write_text("customer_id,order_id,ts,product_id,product_name\n"
                   "k1,b1,2024-03-01,a1,Zanzibar Tea\nk2,b2,2024-03-02,a2,Milk\n")  # fmt: skip
    data = str(tmp_path / "d")
    assert omnix("ingest", str(src), "--data-dir", data).returncode == 0
    plain = omnix("privacy", "erase", "k1", "--yes", "--data-dir", data)
    assert plain.returncode == 0, plain.stderr
    assert "until `omnix privacy compact`" in plain.stdout
    compacted = omnix("privacy", "compact", "--data-dir", data, "--json")
    assert compacted.returncode == 0, compacted.stderr
    assert set(json.loads(compacted.stdout)) == {"bytes_before", "bytes_after"}
    assert b"Zanzibar" not in (tmp_path / "d" / "omnix.duckdb").read_bytes()
    both = omnix("privacy", "erase", "k2", "--yes", "--compact", "--data-dir", data)
    assert both.returncode == 0 and "compacted:" in both.stdout
    status = json.loads(omnix("status", "--data-dir", data, "--json").stdout)
    assert status["tables"]["transactions"] == 0
