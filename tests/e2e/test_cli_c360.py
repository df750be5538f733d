"""`omnix analyze`, `segments migration`, `export profiles`, `profile`, `consent` end to end
(a real subprocess, real files)."""

from __future__ import annotations

import calendar
import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.e2e.test_cli import generated_store, omnix

EXPORTED = ["customer_id", "segment", "rfm_score", "cluster", "clv", "p_alive",
            "expected_purchases_90d", "price_tier_index", "private_label_share",
            "promo_sensitivity"]  # fmt: skip


def omnix_env(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("OMNIX_")}
    return subprocess.run(
        [sys.executable, "-m", "omnix.entrypoints.cli.app", *args],
        capture_output=True, text=True, check=False, timeout=600,
        env={**base, "COLUMNS": "200", **env},
    )  # fmt: skip


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return generated_store(tmp_path_factory.mktemp("c360-cli"), 300, 240, 5)


@pytest.mark.parametrize("command", [["analyze"], ["profile"], ["export", "profiles"],
                                     ["consent", "set"], ["consent", "import"],
                                     ["segments", "migration"], ["due"]])  # fmt: skip
def test_help_has_an_example(command: list[str]) -> None:
    result = omnix(*command, "--help")
    assert result.returncode == 0 and "Example: omnix" in result.stdout


def test_consent_set_and_import(store: str, tmp_path: Path) -> None:
    result = omnix("consent", "set", "C000002", "--purpose", "profiling", "--denied",
                   "--data-dir", store, "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["granted"] is False
    assert json.loads(result.stdout)["known_customer"] is True
    file = tmp_path / "c.jsonl"
    lines = [
        '{"customer_id": "C000003", "purpose": "profiling", "granted": false}',
        '{"customer_id": "C000004", "purpose": "ai_insights", "granted": true}',
        '{"customer_id": "C0000004", "purpose": "ai_insights", "granted": true}',
    ]
    file.write_text("\n".join(lines) + "\n")
    result = omnix("consent", "import", str(file), "--data-dir", store, "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout) | {"file": ""} == {
        "recorded": 3,
        "unknown_customers": 1,
        "file": "",
    }
    text = omnix("consent", "import", str(file), "--data-dir", store)
    assert "1 of its customer ids have no purchase in the store" in text.stderr
    # an id the store holds no line of (a typo, or a sign-up before a first purchase) is
    # recorded, and said so: it succeeded silently
    typo = omnix("consent", "set", "C00002", "--purpose", "profiling", "--denied",
                 "--data-dir", store)  # fmt: skip
    assert typo.returncode == 0, typo.stderr
    assert "the store holds no purchase of C00002" in typo.stderr
    as_json = omnix("consent", "set", "C00002", "--purpose", "profiling", "--denied",
                    "--data-dir", store, "--json")  # fmt: skip
    assert json.loads(as_json.stdout)["known_customer"] is False
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,purpose,granted\nC1,marketing,true\n")
    result = omnix("consent", "import", str(bad), "--data-dir", store)
    assert result.returncode == 3 and "row 2" in result.stderr and "Traceback" not in result.stderr
    wrong = omnix("consent", "set", "C1", "--purpose", "spying", "--granted", "--data-dir", store)
    assert wrong.returncode == 2


def test_analyze_migration_export_profile(store: str, tmp_path: Path) -> None:
    for day in ("2025-06-01", "2025-08-01"):
        result = omnix("analyze", "--data-dir", store, "--as-of", day, "--json",
                       "--default-consent", "granted")  # fmt: skip
        assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["as_of"] == "2025-08-01" and report["snapshot_rows"] == report["customers"]
    assert report["profiled"] == report["customers"] - 2  # C000002, C000003 said no
    assert len(report["segments"]["segments"]) == 11
    moved = omnix("segments", "migration", "--from", "2025-06-01", "--to", "2025-08-01",
                  "--data-dir", store, "--json", "--movers", "5")  # fmt: skip
    assert moved.returncode == 0, moved.stderr
    m = json.loads(moved.stdout)
    assert m["customers"] == report["customers"] == sum(c["customers"] for c in m["cells"])
    assert 0 < m["moved"] < m["customers"] and len(m["movers"]) == 5
    assert all(r["from_segment"] != r["to_segment"] for r in m["movers"])
    out = tmp_path / "profiles.csv"
    exported = omnix("export", "profiles", "--out", str(out), "--data-dir", store,
                     "--default-consent", "granted")  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    with out.open() as f:
        rows = {r["customer_id"]: r for r in csv.DictReader(f)}
    assert list(next(iter(rows.values())))[: len(EXPORTED)] == EXPORTED
    assert rows["C000002"]["price_tier_index"] == "" and rows["C000002"]["segment"]
    # churn risk (no purchase in 90 days) is exported for everyone: it needs no profiling consent
    assert rows["C000001"]["price_tier_index"] != "" and all(
        0 <= float(r["churn_risk_90d"]) <= 1 for r in rows.values()
    )
    # the default flag matters at read time too: denied blanks everyone without a record
    parquet = tmp_path / "p.parquet"
    assert omnix("export", "profiles", "--out", str(parquet), "--data-dir", store).returncode == 0
    assert pq.read_table(parquet)["price_tier_index"].null_count == report["customers"]
    view = omnix("profile", "C000001", "--data-dir", store, "--json", "--default-consent",
                 "granted")  # fmt: skip
    assert view.returncode == 0, view.stderr
    v = json.loads(view.stdout)
    assert [h["snapshot_date"] for h in v["history"]] == ["2025-06-01", "2025-08-01"]
    assert v["snapshot"]["price_tier_index"] is not None and v["profile"]["orders"] > 0
    text = omnix("profile", "C000002", "--data-dir", store, "--default-consent", "granted")
    assert "not produced (consent" in text.stdout
    missing = omnix("segments", "migration", "--from", "2025-01-01", "--to", "2025-08-01",
                    "--data-dir", store)  # fmt: skip
    assert missing.returncode == 3 and "no snapshot dated 2025-01-01" in missing.stderr
    assert v["timezone"] == "UTC"  # the zone of the preferred weekday and hour
    due = omnix("due", "--within", "7", "--limit", "3", "--data-dir", store, "--json",
                "--default-consent", "granted")  # fmt: skip
    assert due.returncode == 0, due.stderr
    page = json.loads(due.stdout)
    assert page["snapshot_date"] == "2025-08-01" and page["horizon_days"] == 14
    assert len(page["rows"]) == 3 and page["total"] >= 3 and page["withheld"] == 0
    assert all(r["expected_next_date"] < "2025-08-08" for r in page["rows"])
    assert [r["probability"] for r in page["rows"]] == sorted(
        (r["probability"] for r in page["rows"]), reverse=True
    )
    soon = omnix("due", "--within", "7", "--min-probability", "0.3", "--sort", "expected_date",
                 "--limit", "1000", "--data-dir", store, "--json",
                 "--default-consent", "granted")  # fmt: skip
    rows = json.loads(soon.stdout)["rows"]
    assert rows and all(r["probability"] >= 0.3 for r in rows)
    assert [r["expected_next_date"] for r in rows] == sorted(r["expected_next_date"] for r in rows)
    bad_sort = omnix("due", "--sort", "price", "--data-dir", store)
    assert bad_sort.returncode == 2 and "sort by one of" in bad_sort.stderr
    text = omnix("due", "--within", "7", "--data-dir", store)  # default consent: denied
    # the title's window (--within) is not the probability's horizon: both are named
    assert (
        text.returncode == 0
        and "withheld" in text.stdout
        and (
            "Expected to buy within 7 days of 2025-08-01" in text.stdout
            and "within 14 days of 2025-08-01 (the horizon" in " ".join(text.stdout.split())
        )
    )
    bad = omnix("due", "--within", "0", "--data-dir", store)
    assert bad.returncode == 2 and "--within" in bad.stderr


def test_profile_names_the_preferred_weekday(store: str) -> None:
    # after test_analyze_migration_export_profile (the module's store is analysed by then)
    text = omnix("profile", "C000001", "--data-dir", store, "--default-consent", "granted")
    assert text.returncode == 0, text.stderr
    days = "|".join(calendar.day_name)
    assert re.search(rf"preferred weekday\s+│\s+({days})\s", text.stdout), text.stdout


def test_segments_still_runs_without_a_subcommand(store: str) -> None:
    result = omnix("segments", "--data-dir", store, "--json", "--as-of", "2025-08-01")
    assert result.returncode == 0 and json.loads(result.stdout)["as_of"] == "2025-08-01"


def test_eu_mode_refuses_a_granted_default(store: str) -> None:
    flag = omnix_env("analyze", "--data-dir", store, "--default-consent", "granted",
                     OMNIX_EU_MODE="true")  # fmt: skip
    assert flag.returncode == 2 and "EU_MODE" in flag.stderr
    env = omnix_env("analyze", "--data-dir", store, OMNIX_EU_MODE="true",
                    OMNIX_DEFAULT_CONSENT="granted")  # fmt: skip
    assert env.returncode == 2 and "Traceback" not in env.stderr


def test_an_analysis_date_after_the_data_is_refused(store: str) -> None:
    """An analysis as of 2030 on data ending in August 2025 (240 days from 2025-01-01) made
    every customer look lapsed and became the latest snapshot; the API refuses it too
    (test_api_data)."""
    for command in (["analyze"], ["segments"]):
        result = omnix(*command, "--as-of", "2030-01-01", "--data-dir", store)
        assert result.returncode == 2, result.stderr
        assert "as-of 2030-01-01 is after the data" in result.stderr
    # a live store analysed today may not have sold for a few days: that is accepted
    recent = omnix("segments", "--as-of", "2025-09-10", "--json", "--data-dir", store)
    assert recent.returncode == 0, recent.stderr


def test_consent_given_after_the_snapshot_is_named(store: str) -> None:
    """C000002 said no before the analyses (above), then yes: the profile said "consent
    does not cover profiling", which was no longer true; it now says what to run."""
    granted = omnix("consent", "set", "C000002", "--purpose", "profiling", "--granted",
                    "--data-dir", store)  # fmt: skip
    assert granted.returncode == 0, granted.stderr
    text = omnix("profile", "C000002", "--data-dir", store, "--default-consent", "granted")
    assert "consent came after it" in text.stdout and "omnix analyze" in text.stdout
    # the export says so too: it reported fewer profiled customers without a word
    out = str(Path(store) / "p.csv")
    args = ("export", "profiles", "--out", out, "--data-dir", store, "--default-consent", "granted")
    summary = json.loads(omnix(*args, "--json").stdout)
    assert summary["awaiting_analysis"] == 1
    assert "1 customer consents to profiling now" in omnix(*args).stderr


def test_status_says_when_the_store_changed_after_the_analysis(tmp_path: Path) -> None:
    store = generated_store(tmp_path, 120, 120, 3)
    status = json.loads(omnix("status", "--data-dir", store, "--json").stdout)
    assert status["analysis"] is None
    assert "Not analysed yet" in omnix("status", "--data-dir", store).stdout
    analysed = omnix("analyze", "--data-dir", store, "--default-consent", "granted")
    assert analysed.returncode == 0, analysed.stderr
    status = json.loads(omnix("status", "--data-dir", store, "--json").stdout)
    lines = status["tables"]["transactions"]
    assert (status["analysis"]["lines"], status["analysis"]["lines_since"]) == (lines, 0)
    assert f"over all {lines:,} lines held now" in omnix("status", "--data-dir", store).stdout
    more = tmp_path / "more.csv"
    more.write_text("customer_id,order_id,ts,product_id\nC000001,late-1,2025-04-30,P00001\n")
    assert omnix("ingest", str(more), "--data-dir", store).returncode == 0
    text = omnix("status", "--data-dir", store).stdout
    assert "The store holds 1 line more than the latest analysis" in text
    assert "run omnix analyze" in text
    removed = omnix("sources", "remove", "more.csv", "--yes", "--data-dir", store)
    assert removed.returncode == 0, removed.stderr
    status = json.loads(omnix("status", "--data-dir", store, "--json").stdout)
    assert status["analysis"]["lines_since"] == 0
    assert status["analysis"]["files_changed"] is False  # the same files as then
    # one file out and another of the same size in: the count is the same, the data is not
    assert omnix("ingest", str(more), "--data-dir", store).returncode == 0
    analysed = omnix("analyze", "--data-dir", store, "--default-consent", "granted")
    assert analysed.returncode == 0, analysed.stderr
    assert omnix("sources", "remove", "more.csv", "--yes", "--data-dir", store).returncode == 0
    swap = tmp_path / "swap.csv"
    swap.write_text("customer_id,order_id,ts,product_id\nC000002,swap-1,2025-04-30,P00002\n")
    assert omnix("ingest", str(swap), "--data-dir", store).returncode == 0
    status = json.loads(omnix("status", "--data-dir", store, "--json").stdout)
    assert (status["analysis"]["lines_since"], status["analysis"]["files_changed"]) == (0, True)
    text = omnix("status", "--data-dir", store).stdout
    assert "Files were added or taken out since the latest analysis" in text
