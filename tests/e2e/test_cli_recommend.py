"""`omnix recommend` and `omnix backtest --recommend` end to end (real subprocess, real store)."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow.parquet as pq
import pytest

from tests.e2e.test_cli import generated_store, omnix
from tests.e2e.test_cli_c360 import omnix_env

COLUMNS = ["customer_id", "product_id", "rank", "score", "source", "reason"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, object]:
    root = tmp_path_factory.mktemp("reco-cli")
    data = generated_store(root, 300, 240, 7)
    out = root / "recs.parquet"
    done = omnix("recommend", "--all", "--as-of", "2025-08-01", "--k", "5", "--out", str(out),
                 "--encoder", "tfidf", "--default-consent", "granted", "--data-dir", data,
                 "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    return data, (out, json.loads(done.stdout))


def test_help_has_examples() -> None:
    result = omnix("recommend", "--help")
    assert result.returncode == 0 and "Example: omnix recommend --all" in result.stdout
    assert "--recommend" in omnix("backtest", "--help").stdout


def test_all_writes_every_customer_ranked_with_reasons(store: tuple[str, object]) -> None:
    _, (out, summary) = store
    table = pq.read_table(out)
    assert table.column_names == COLUMNS
    assert summary["customers"] > 250 and summary["encoder"] == "tfidf"
    rows = table.to_pylist()
    per_customer: dict[str, list[int]] = {}
    for r in rows:
        per_customer.setdefault(r["customer_id"], []).append(r["rank"])
        assert r["reason"]
    assert all(ranks == list(range(1, 6)) for ranks in per_customer.values())
    assert {r["source"] for r in rows} & {"replenishment"}


def test_one_customer_with_context(store: tuple[str, object]) -> None:
    data, (out, _) = store
    rows = pq.read_table(out).to_pylist()
    customer = rows[0]["customer_id"]
    plain = json.loads(omnix("recommend", customer, "--k", "5", "--data-dir", data,
                             "--default-consent", "granted", "--json").stdout)  # fmt: skip
    assert plain["basis"] == "personal" and len(plain["items"]) == 5
    first = plain["items"][0]
    assert first["reason"] and set(first["source_scores"]) >= {"replenishment", "collaborative"}
    ctx = json.dumps({"exclude": [first["product_id"]]})
    excluded = json.loads(omnix("recommend", customer, "--k", "5", "--context", ctx,
                                "--default-consent", "granted", "--data-dir", data,
                                "--json").stdout)  # fmt: skip
    assert first["product_id"] not in [i["product_id"] for i in excluded["items"]]
    table = omnix_env("recommend", customer, "--data-dir", data, OMNIX_DEFAULT_CONSENT="granted")
    assert table.returncode == 0 and "Recommendations for" in table.stdout


def test_without_consent_a_customer_gets_popular_items(store: tuple[str, object]) -> None:
    data, (out, _) = store
    customer = pq.read_table(out).to_pylist()[0]["customer_id"]
    assert omnix("consent", "set", customer, "--purpose", "personalization", "--denied",
                 "--data-dir", data).returncode == 0  # fmt: skip
    got = json.loads(omnix("recommend", customer, "--default-consent", "granted", "--json",
                           "--data-dir", data).stdout)  # fmt: skip
    assert got["basis"] == "popular" and not got["personalized"]
    assert {i["source"] for i in got["items"]} == {"popular"}


def test_bad_input_is_one_line(store: tuple[str, object]) -> None:
    data, _ = store
    bad = omnix("recommend", "X", "--context", '{"max_per_category": 0}', "--data-dir", data)
    assert bad.returncode != 0 and bad.stderr.strip().startswith("error: --context")
    assert len(bad.stderr.strip().splitlines()) == 1
    neither = omnix("recommend", "--data-dir", data)
    assert neither.returncode != 0 and "CUSTOMER_ID, or --all" in neither.stderr


def test_backtest_recommend_reports_every_method(store: tuple[str, object]) -> None:
    data, _ = store
    done = omnix("backtest", "--cutoff", "2025-07-01", "--recommend", "--data-dir", data,
                 "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    methods = {r["method"]: r for r in json.loads(done.stdout)["methods"]}
    assert {"P-TopFreq", "TIFU-KNN", "ALS alone", "omnix blend"} <= set(methods)
    for row in methods.values():
        assert 0 <= row["recall@10"] <= 1 and 0 <= row["coverage"] <= 1
        assert "explore_recall@10" in row and "diversity" in row


def test_a_run_days_later_reuses_the_model_unless_told_to_refit(
    store: tuple[str, object], tmp_path: object
) -> None:
    data, (_, first) = store
    assert first["model"] == "fitted" and first["model_as_of"] == "2025-08-01"
    args = ("recommend", "--all", "--as-of", "2025-08-03", "--k", "5", "--encoder", "tfidf",
            "--default-consent", "granted", "--data-dir", data, "--json")  # fmt: skip
    out = f"{tmp_path}/later.parquet"
    later = json.loads(omnix(*args, "--out", out).stdout)
    assert (later["model"], later["model_as_of"]) == ("reused", "2025-08-01")
    assert later["rows"] == first["rows"] and pq.read_table(out).num_rows == later["rows"]
    refit = json.loads(omnix(*args, "--out", out, "--refit").stdout)
    assert (refit["model"], refit["model_as_of"]) == ("fitted", "2025-08-03")


def test_all_defaults_to_the_analysis_day_and_may_only_store(store: tuple[str, object]) -> None:
    # last in this module: it moves the stored candidates (and the model) to a later day
    data, _ = store
    last = json.loads(omnix("status", "--data-dir", data, "--json").stdout)["transactions"]
    day_after = dt.date.fromisoformat(last["last_ts"][:10]) + dt.timedelta(days=1)
    done = omnix("recommend", "--all", "--encoder", "tfidf", "--default-consent", "granted",
                 "--data-dir", data, "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["as_of"] == day_after.isoformat() and summary["customers"] > 250
    assert (summary["out"], summary["rows"]) == ("", None)  # stored, no file asked for
    one = json.loads(omnix("recommend", "C000001", "--default-consent", "granted", "--json",
                           "--data-dir", data).stdout)  # fmt: skip
    assert one["as_of"] == day_after.isoformat()
