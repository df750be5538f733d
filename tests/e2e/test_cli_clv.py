"""`omnix clv-report` end to end, as a user runs it (a real subprocess, real files)."""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_cli import _widest, generated_store, omnix


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return generated_store(tmp_path_factory.mktemp("clv-cli"), 300, 180, 5)


def test_help_has_an_example() -> None:
    result = omnix("clv-report", "--help")
    assert result.returncode == 0
    assert "Example: omnix clv-report" in result.stdout and "--data-dir" in result.stdout
    assert "clv-report" in omnix("--help").stdout


def test_json_has_the_contract_keys(store: str) -> None:
    dates = ["--calibration-end", "2025-04-30", "--holdout-end", "2025-06-29"]
    result = omnix("clv-report", *dates, "--data-dir", store, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["model"] == "bgnbd"
    assert 200 < report["customers"] <= 300  # those who had bought by the calibration end
    assert set(report["params"]) == {"r", "alpha", "a", "b"}
    assert all(v > 0 for v in report["params"].values())
    assert report["log_likelihood"] < 0
    assert set(report["holdout"]) == {"predicted", "actual", "mae", "corr"}
    assert report["holdout"]["actual"] > 0
    assert set(report["baselines"]) == {"calibration_rate", "recent_rate"}
    for baseline in report["baselines"].values():
        assert set(baseline) == {"predicted", "mae", "corr"}
    assert set(report["pareto_nbd"]["params"]) == {"r", "alpha", "s", "beta"}
    assert set(report["gamma_gamma"]["params"]) == {"p", "q", "gamma"}
    assert report["clv"]["total"] > 0


def test_tables_and_one_line_errors(store: str) -> None:
    dates = ["--calibration-end", "2025-04-30", "--holdout-end", "2025-06-29"]
    result = omnix("clv-report", *dates, "--data-dir", store, columns=80)
    assert result.returncode == 0, result.stderr
    for text in ("BG/NBD", "Pareto/NBD", "Gamma-Gamma", "baseline: recent rate", "Lifetime value",
                 "predicted", "customer", "correlation", "baseline: recency"):  # fmt: skip
        assert text in result.stdout
    # at 80 columns nothing is cut ("predic…", "custom…", "calibration_r…" before)
    assert "…" not in result.stdout
    assert _widest(result.stdout) <= 80
    backwards = omnix("clv-report", "--calibration-end", "2025-04-30", "--holdout-end",
                      "2025-04-01", "--data-dir", store)  # fmt: skip
    assert backwards.returncode == 2
    assert (
        backwards.stderr.startswith("error: --holdout-end") and "Traceback" not in backwards.stderr
    )
    early = omnix("clv-report", "--calibration-end", "2024-01-01", "--holdout-end", "2024-06-01",
                  "--data-dir", store)  # fmt: skip
    assert early.returncode == 4
    assert early.stderr.strip().count("\n") == 0 and "--calibration-end" in early.stderr
    bad = omnix("clv-report", "--calibration-end", "30/04/2025", "--holdout-end", "2025-06-01",
                "--data-dir", store)  # fmt: skip
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
