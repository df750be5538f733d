"""`omnix segments` end to end, as a user runs it (a real subprocess, real files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_cli import generated_store, omnix


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return generated_store(tmp_path_factory.mktemp("segments-cli"), 400, 240, 6)


def test_help_has_an_example() -> None:
    result = omnix("segments", "--help")
    assert result.returncode == 0
    assert "Example: omnix segments" in result.stdout and "--as-of" in result.stdout
    assert "segments" in omnix("--help").stdout


def test_json_has_segments_and_clusters(store: str) -> None:
    result = omnix("segments", "--data-dir", store, "--json", "--as-of", "2025-08-01")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["as_of"] == "2025-08-01"
    assert 300 < report["customers"] <= 400
    assert len(report["segments"]) == 11
    assert sum(s["customers"] for s in report["segments"]) == report["customers"]
    for seg in report["segments"]:
        assert {"name", "customers", "revenue_share", "avg_clv", "avg_churn_risk"} <= set(seg)
    assert 3 <= report["k"] <= 8 and len(report["clusters"]) == report["k"]
    cluster = report["clusters"][0]
    assert cluster["cluster_id"] == 0 and cluster["description"] and cluster["segment"]
    assert set(cluster["centroid"]) >= {"log_monetary", "frequency", "recency", "price_tier"}
    assert report["currency"] == "EUR"
    assert "customers_table" not in report


def test_tables_rules_file_and_one_line_errors(store: str, tmp_path: Path) -> None:
    result = omnix("segments", "--data-dir", store)
    assert result.returncode == 0, result.stderr
    for text in ("RFM segments", "Champions", "Behavioural clusters", "churn risk"):
        assert text in result.stdout
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[segments]]\nname = "Active"\nr = [3, 5]\nfm = [1, 5]\n\n'
        '[[segments]]\nname = "Dormant"\nr = [1, 2]\nfm = [1, 5]\n'
    )
    custom = omnix("segments", "--data-dir", store, "--json", "--rules", str(rules))
    assert custom.returncode == 0, custom.stderr
    assert [s["name"] for s in json.loads(custom.stdout)["segments"]] == ["Active", "Dormant"]
    rules.write_text('[[segments]]\nname = "Active"\nr = [3, 5]\nfm = [1, 5]\n')
    gap = omnix("segments", "--data-dir", store, "--rules", str(rules))
    assert gap.returncode == 2 and "leave 50 score combinations out" in gap.stderr
    early = omnix("segments", "--data-dir", store, "--as-of", "2024-01-01")
    assert early.returncode == 4 and early.stderr.strip().count("\n") == 0
    bad = omnix("segments", "--data-dir", store, "--as-of", "01/08/2025")
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
    backwards = omnix("segments", "--data-dir", store, "--k-min", "6", "--k-max", "4")
    assert backwards.returncode == 2 and "Traceback" not in backwards.stderr
