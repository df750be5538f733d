"""The API's data routes on the real store: events counted once, customer paging, 360 cache,
segments, analysis runs with progress and cancellation, uploads, metrics."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from pytest import approx

from omnix.domain.access import Role
from omnix.domain.pseudonym import pseudonym
from omnix.models.segments import DEFAULT_RULES
from tests.api_support import AS_OF, api
from tests.backends import StoreRef
from tests.integration.helpers import query

KEY = "p" * 40
DEFAULT_NAMES = [r.name for r in DEFAULT_RULES]


def _event(mid: str, customer: str = "C000005", **extra: Any) -> dict[str, Any]:
    return {"message_id": mid, "customer_id": customer, "order_id": f"E-{mid}",
            "ts": "2025-04-20T10:00:00Z", "product_id": "P00001", "quantity": 1,
            "unit_price": 2.5} | extra  # fmt: skip


def _wait(a: Any, run_id: str) -> dict[str, Any]:
    for _ in range(600):
        run: dict[str, Any] = a.client.get(f"/v1/analysis-runs/{run_id}", headers=a.auth()).json()
        if run["status"] in ("succeeded", "failed", "cancelled"):
            return run
        time.sleep(0.1)
    raise AssertionError("analysis run did not finish")


def test_duplicate_message_ids_are_counted_and_stored_once(api_store: StoreRef) -> None:
    before = query(api_store, "SELECT count(*) FROM transactions")[0][0]
    with api(api_store) as a:
        h = a.auth(Role.INGEST)
        batch = [_event("m1"), _event("m2"), _event("m1"), _event("bad", unit_price=-1)]
        first = a.client.post("/v1/events", json={"events": batch}, headers=h).json()
        assert (first["received"], first["stored"], first["duplicates"], first["rejected"]) == (
            4, 2, 1, 1)  # fmt: skip
        assert first["duplicate_ids"] == ["m1"]
        assert first["rejects"] == [
            {"message_id": "bad", "reason": "negative_unit_price", "detail": "-1.0"}
        ]
        retry = a.client.post("/v1/events", json={"events": batch}, headers=h).json()
        assert (retry["stored"], retry["duplicates"], retry["rejected"]) == (0, 4, 0)
        assert sorted(retry["duplicate_ids"]) == ["bad", "m1", "m1", "m2"]
        bad = a.client.post("/v1/events", json={"events": [{"message_id": "x", "quantity": "two"}]},
                            headers=h)  # fmt: skip
        assert bad.status_code == 422  # a wrong JSON type refuses the batch, nothing stored
    assert query(api_store, "SELECT count(*) FROM transactions")[0][0] == before + 2
    rows = query(api_store, "SELECT count(*), min(line_type) FROM transactions "
                            "WHERE source_id LIKE 'api-events:%'")  # fmt: skip
    assert rows == [(2, "sale")]
    assert query(api_store, "SELECT count(*) FROM rejects WHERE source_file = 'api-events'") == [
        (1,)
    ]
    assert query(api_store, "SELECT count(*) FROM event_messages") == [(3,)]


def test_events_drop_the_customers_cached_views(api_store: StoreRef) -> None:
    with api(api_store) as a:
        a.client.get("/v1/customers/C000005", headers=a.auth())
        cache = a.container.view_cache()
        assert cache.get("C000005", "360") is not None
        a.client.post("/v1/events", json={"events": [_event("n1")]}, headers=a.auth(Role.INGEST))
        assert cache.get("C000005", "360") is None


def test_events_are_pseudonymized_with_a_key(api_store: StoreRef) -> None:
    with api(api_store, pseudonymize_key=KEY) as a:
        r = a.client.post("/v1/events", json={"events": [_event("k1", "SRC-77")]},
                          headers=a.auth(Role.INGEST))  # fmt: skip
        assert r.json()["stored"] == 1
        doc = a.client.get("/v1/privacy/customers/SRC-77/export",
                           headers=a.auth(Role.PRIVACY_OFFICER)).json()  # fmt: skip
    assert query(api_store, "SELECT count(*) FROM transactions WHERE customer_id = 'SRC-77'") == [
        (0,)
    ]
    stored = query(api_store, "SELECT DISTINCT customer_id FROM transactions "
                              "WHERE source_id LIKE 'api-events:%'")  # fmt: skip
    assert stored == [(pseudonym(KEY, "SRC-77"),)]
    assert doc["row_counts"]["transactions"] == 1  # export by the source id finds the pseudonym


def test_events_of_an_erased_customer_are_rejected_without_content(api_store: StoreRef) -> None:
    """After an erasure, a purchase event for that customer must not bring them back."""
    with api(api_store) as a:
        officer, h = a.auth(Role.PRIVACY_OFFICER), a.auth(Role.INGEST)
        assert a.client.delete("/v1/privacy/customers/C000005", headers=officer).status_code == 200
        batch = [_event("e1"), _event("e2", " C000005 "), _event("e3", "C000006")]
        r = a.client.post("/v1/events", json={"events": batch}, headers=h).json()
        assert (r["received"], r["stored"], r["rejected"]) == (3, 1, 2)
        assert {x["reason"] for x in r["rejects"]} == {"erased_customer"}
        assert a.client.get("/v1/customers/C000005", headers=a.auth()).status_code == 404
    assert query(api_store, "SELECT count(*) FROM transactions WHERE customer_id = 'C000005'") == [
        (0,)
    ]
    kept = query(api_store, "SELECT reason, raw FROM rejects WHERE source_file = 'api-events'")
    assert kept == [("erased_customer", None), ("erased_customer", None)]


def test_paging_visits_every_customer_once(api_template: StoreRef) -> None:
    with api(api_template) as a:
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 7} | ({"cursor": cursor} if cursor else {})
            page = a.client.get("/v1/customers", params=params, headers=a.auth()).json()
            seen += [c["customer_id"] for c in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        total = a.client.get("/v1/segments", headers=a.auth()).json()["customers"]
        assert len(seen) == len(set(seen)) == total and seen == sorted(seen)
        found = a.client.get("/v1/customers", params={"q": "00001"}, headers=a.auth()).json()
        assert {c["customer_id"] for c in found["items"]} >= {"C000001", "C000010"}
        risky = a.client.get("/v1/customers", params={"max_p_alive": 0.5}, headers=a.auth()).json()
        assert all(c["p_alive"] <= 0.5 for c in risky["items"])
        everyone = a.client.get("/v1/customers", params={"limit": 1000}, headers=a.auth()).json()
        slipping = a.client.get("/v1/customers", params={"min_churn_risk": 0.5, "limit": 1000},
                                headers=a.auth()).json()["items"]  # fmt: skip
        assert slipping and all(c["churn_risk_90d"] >= 0.5 for c in slipping)
        assert len(slipping) < len(everyone["items"])  # the filter did leave customers out
        assert all(c["churn_risk_90d"] >= 1 - c["p_alive"] for c in risky["items"])


def test_customer_views_and_segments(api_template: StoreRef) -> None:
    with api(api_template, default_consent="granted") as a:
        h = a.auth(Role.ANALYST)
        view = a.client.get("/v1/customers/C000003", headers=h).json()
        assert view["snapshot"]["segment"] and view["profile"]["orders"] > 0
        assert view["profile"]["channel_mix"]  # e.g. "store 80%, online 20%"
        assert view == a.client.get("/v1/customers/C000003", headers=h).json()  # cached: same
        value = a.client.get("/v1/customers/C000003/value", headers=h).json()
        # churn risk = P(no purchase in 90 days): at least the chance of being gone
        assert value["churn_risk_90d"] == view["snapshot"]["churn_risk_90d"]
        assert 1 - value["p_alive"] <= value["churn_risk_90d"] <= 1
        assert value["history"][-1]["churn_risk_90d"] == value["churn_risk_90d"]
        # the old name stays, with the same figure, until a v2 (marked deprecated in the spec)
        assert value["churn_risk"] == value["history"][-1]["churn_risk"] == value["churn_risk_90d"]
        regular = a.client.get("/v1/customers", params={"limit": 1000}, headers=h).json()["items"]
        best = max(regular, key=lambda c: c["orders"] or 0)["customer_id"]
        rhythms = a.client.get(f"/v1/customers/{best}/rhythms", headers=h).json()
        assert rhythms["rhythms"] and rhythms["rhythms"][0]["statement"].startswith("Buys ")
        for r in rhythms["rhythms"]:  # cycle_days is per unit; the statement says the interval
            assert r["interval_days"] == approx(r["cycle_days"] * r["units_per_purchase"])
        by_category = a.client.get(
            f"/v1/customers/{best}/rhythms", params={"level": "category"}, headers=h
        ).json()  # cached apart from the product view
        assert by_category["level"] == "category" and by_category["rhythms"]
        assert {r["product_id"] for r in by_category["rhythms"]} == {None}
        for r in by_category["rhythms"]:
            assert r["category"] and r["category"] in r["statement"]
        summary = a.client.get("/v1/segments", headers=a.auth(Role.VIEWER)).json()
        assert sum(s["customers"] for s in summary["segments"]) == summary["customers"]
        assert abs(sum(s["share"] for s in summary["clusters"]) - 1) < 1e-9
        champions = summary["segments"][0]["key"]
        members = a.client.get(f"/v1/segments/{champions}/members", headers=h).json()
        assert {m["segment"] for m in members["items"]} == {champions}
        # the median beside the mean: a few large customers can carry a group's mean
        snapshots = a.container.warehouse.ibis().table("customer_snapshots")
        day = dt.date.fromisoformat(summary["snapshot_date"])
        for group in summary["segments"]:
            mine = snapshots.filter(
                (snapshots.snapshot_date == day) & (snapshots.segment == group["key"])
            )
            clvs = sorted(v for v in mine.clv.to_pyarrow().to_pylist() if v is not None)
            n = len(clvs)
            median = (clvs[(n - 1) // 2] + clvs[n // 2]) / 2 if n else None
            assert group["median_clv"] == (median if median is None else approx(median))


def test_unknown_segments_and_customers_are_errors_not_empty_pages(
    api_template: StoreRef,
) -> None:
    """A typo or the wrong case read as an empty segment ("champions": 200, no items), and an
    unknown customer as one with nothing due."""
    with api(api_template, default_consent="granted") as a:
        h = a.auth(Role.ANALYST)
        dates = a.client.get("/v1/snapshots", headers=h).json()["dates"]
        for path, params in [
            ("/v1/customers", {"segment": "champions"}),
            ("/v1/segments/Nope/members", {}),
            ("/v1/predictions/due", {"segment": "Nope"}),
            ("/v1/segments/migration/movers",
             {"from": dates[0], "to": dates[-1], "from_segment": "Nope"}),
        ]:  # fmt: skip
            r = a.client.get(path, params=params, headers=h)
            assert r.status_code == 422, (path, r.text)
            assert "Champions" in r.json()["detail"], path  # the names it could have been
        backwards = a.client.get("/v1/segments/migration", headers=h,
                                 params={"from": dates[-1], "to": dates[0]})  # fmt: skip
        assert backwards.status_code == 400 and "must be before" in backwards.json()["detail"]
        assert "--" not in backwards.json()["detail"]  # no CLI flag names in the API
        unknown = a.client.get("/v1/customers/NOPE/predictions", headers=h)
        assert unknown.status_code == 404 and "NOPE" in unknown.json()["detail"]
        # a known segment whose filtered page is empty is an empty page, as is any rule's name
        for name in ("Champions", *DEFAULT_NAMES):
            r = a.client.get("/v1/customers", params={"segment": name, "q": "zz"}, headers=h)
            assert r.status_code == 200 and r.json()["items"] == [], name


def test_analysis_runs_progress_conflict_cancel_and_migration(api_store: StoreRef) -> None:
    earlier = AS_OF - dt.timedelta(days=30)
    with api(api_store) as a:
        h = a.auth(Role.ANALYST)
        future = a.client.post("/v1/analysis-runs", json={"as_of": "2030-01-01"}, headers=h)
        assert future.status_code == 400 and "after the data" in future.json()["detail"]
        started = a.client.post("/v1/analysis-runs", json={"as_of": str(earlier)}, headers=h)
        assert started.status_code == 202
        second = a.client.post("/v1/analysis-runs", json={}, headers=h)
        assert second.status_code == 409 and second.json()["type"] == "/problems/conflict"
        run = _wait(a, started.json()["id"])
        assert run["status"] == "succeeded" and run["progress"] == 1.0
        assert all(s["status"] == "done" and s["seconds"] is not None for s in run["stages"])
        assert run["result"]["snapshot_rows"] > 0
        dates = a.client.get("/v1/snapshots", headers=h).json()["dates"]
        assert dates[0] == str(earlier) and dates[-1] == str(AS_OF)  # the demo's two, and this
        moves = a.client.get("/v1/segments/migration", params={"from": dates[0], "to": dates[-1]},
                             headers=a.auth(Role.VIEWER)).json()  # fmt: skip
        assert (
            moves["customers"] >= 1
            and sum(c["customers"] for c in moves["cells"]) == moves["customers"]
        )
        # cancelled at the next stage boundary: no snapshot for its date
        other = a.client.post("/v1/analysis-runs", json={"as_of": "2025-03-01"}, headers=h).json()
        cancel = a.client.post(f"/v1/analysis-runs/{other['id']}/cancel", headers=h)
        assert cancel.json()["cancel_requested"] is True, (other, cancel.json())
        assert _wait(a, other["id"])["status"] == "cancelled"
        assert "2025-03-01" not in a.client.get("/v1/snapshots", headers=h).json()["dates"]
        listed = a.client.get("/v1/analysis-runs", headers=h).json()["items"]
        assert [r["id"] for r in listed[:2]] == [other["id"], run["id"]]


def test_an_analysis_run_can_refresh_the_recommendations_too(api_store: StoreRef) -> None:
    earlier = AS_OF - dt.timedelta(days=30)
    with api(api_store) as a:
        h = a.auth(Role.ANALYST)
        path = "/v1/customers/C000001/recommendations"
        assert a.client.post(path, headers=h).json()["as_of"] != str(earlier)
        body = {"as_of": str(earlier), "recommendations": True, "default_consent": "granted"}
        started = a.client.post("/v1/analysis-runs", json=body, headers=h)
        assert started.status_code == 202, started.text
        run = _wait(a, started.json()["id"])
        assert run["status"] == "succeeded", run
        assert run["stages"][-1]["name"] == "recommendations"
        assert all(s["status"] == "done" and s["seconds"] is not None for s in run["stages"])
        reco = run["result"]["recommendations"]
        assert reco["as_of"] == str(earlier) and reco["customers"] > 0  # the run's consent
        # the served candidates are the new ones
        assert a.client.post(path, headers=h).json()["as_of"] == str(earlier)


def test_file_upload_ingests_like_the_cli(api_store: StoreRef) -> None:
    text = "customer_id,order_id,ts,product_id,unit_price\nC000009,U1,2025-04-02,P00002,1.5\n"
    with api(api_store) as a:
        files = {"file": ("more sales.csv", text.encode(), "text/csv")}
        r = a.client.post("/v1/ingest/files", files=files, headers=a.auth(Role.INGEST))
        assert r.status_code == 200, r.text
        assert (r.json()["read"], r.json()["inserted"], r.json()["balanced"]) == (1, 1, True)
        assert r.json()["source"] == "more_sales.csv"  # not the server's upload path
        again = a.client.post("/v1/ingest/files", files=files, headers=a.auth(Role.INGEST))
        assert (again.json()["inserted"], again.json()["duplicates"]) == (0, 1)
        eu = "customer_id;order_id;ts;product_id;unit_price\nC000009;U2;2025-04-02;P00002;1,25\n"
        files = {"file": ("eu.csv", eu.encode(), "text/csv")}
        r = a.client.post("/v1/ingest/files", files=files, headers=a.auth(Role.INGEST))
        assert r.json()["rejected"] == 1 and "--decimal-comma" in r.json()["hints"][0]
        r = a.client.post("/v1/ingest/files", files=files, data={"decimal_comma": "true"},
                          headers=a.auth(Role.INGEST))  # fmt: skip
        assert (r.json()["inserted"], r.json()["rejected"], r.json()["hints"]) == (1, 0, [])
        us = 'customer_id,order_id,ts,product_id,unit_price\nC000009,U4,2025-04-02,P7,"$1,250.50"\n'
        files = {"file": ("us.csv", us.encode(), "text/csv")}
        both = {"thousands_comma": "true", "decimal_comma": "true"}
        r = a.client.post("/v1/ingest/files", files=files, data=both, headers=a.auth(Role.INGEST))
        assert r.status_code == 422 and "exclude each other" in r.text
        r = a.client.post("/v1/ingest/files", files=files, headers=a.auth(Role.INGEST))
        assert r.json()["rejected"] == 1 and "--currency-signs" in " ".join(r.json()["hints"])
        us_options = {"thousands_comma": "true", "currency_signs": "true"}
        r = a.client.post("/v1/ingest/files", files=files, data=us_options,
                          headers=a.auth(Role.INGEST))  # fmt: skip
        assert (r.json()["inserted"], r.json()["rejected"], r.json()["hints"]) == (1, 0, [])
        excel = "customer_id,order_id,ts,product_id,product_name\nC000009,U3,2025-04-02,P9,Café\n"
        files = {"file": ("excel.csv", excel.encode("cp1252"), "text/csv")}
        r = a.client.post("/v1/ingest/files", files=files, headers=a.auth(Role.INGEST))
        assert r.status_code == 422 and "--encoding cp1252" in r.text
        r = a.client.post("/v1/ingest/files", files=files, data={"encoding": "cp1252"},
                          headers=a.auth(Role.INGEST))  # fmt: skip
        assert r.json()["inserted"] == 1, r.text
        listed = a.client.get("/v1/sources", headers=a.auth(Role.INGEST)).json()["items"]
        assert [f["name"] for f in listed[:3]] == ["excel.csv", "us.csv", "eu.csv"]
        assert "path" not in listed[0]  # where the server kept the upload is its own business
        assert a.client.get("/v1/sources", headers=a.auth(Role.VIEWER)).status_code == 403
        gone = a.client.delete(f"/v1/sources/{listed[0]['source_id'][:8]}",
                               headers=a.auth(Role.INGEST))  # fmt: skip
        assert gone.status_code == 200 and gone.json()["deleted"]["transactions"] == 1
        again = a.client.delete(f"/v1/sources/{listed[0]['source_id']}",
                                headers=a.auth(Role.INGEST))  # fmt: skip
        assert again.status_code == 404 and again.json()["type"] == "/problems/not-found"
        r = a.client.post("/v1/ingest/files", files=files, data={"encoding": "cp1252"},
                          headers=a.auth(Role.INGEST))  # fmt: skip
        assert r.json()["inserted"] == 1, r.text  # taken out, it loads again
        odd = {"file": ("notes.docx", b"hello", "application/octet-stream")}
        r = a.client.post("/v1/ingest/files", files=odd, headers=a.auth(Role.INGEST))
        assert r.status_code == 415 and r.json()["type"] == "/problems/unsupported-format"
    assert not any((api_store / "uploads").iterdir())  # uploads are not kept
    assert query(api_store, "SELECT unit_price FROM transactions WHERE order_id = 'U2'") == [
        (1.25,)
    ]
    assert query(api_store, "SELECT product_name FROM transactions WHERE order_id = 'U3'") == [
        ("Café",)
    ]


def test_metrics_report_latency_stages_and_model_quality(api_template: StoreRef) -> None:
    quality = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "backtest.json"
    with api(api_template, model_quality_file=quality) as a:
        a.client.get("/v1/segments", headers=a.auth())
        text = a.client.get("/metrics", headers=a.auth(Role.VIEWER)).text
    assert 'omnix_http_request_duration_seconds_count{method="GET",route="/v1/segments"' in text
    assert 'omnix_pipeline_stage_seconds{stage="clusters"}' in text
    # the demo store's own backtest wins over the file (which serves stores without one)
    line = (
        'omnix_model_quality{dataset="store",method="omnix",metric="recall@10",task="next_basket"}'
    )
    assert line in text and 'dataset="instacart_sample"' not in text


def test_the_warmed_360_equals_the_one_built_on_demand(api_template: StoreRef) -> None:
    with api(api_template, default_consent="granted") as a:
        for _ in range(300):
            if a.client.get("/readyz").json()["warm_views"] == 60:
                break
            time.sleep(0.1)
        cache = a.container.view_cache()
        warmed = cache.get("C000007", "360")
        assert warmed is not None
        cache.drop("C000007")
        on_demand = a.client.get("/v1/customers/C000007", headers=a.auth())
        assert json.loads(warmed) == on_demand.json()
        assert on_demand.json()["profile"]["orders"] > 0


def test_file_ingest_pseudonymizes_like_events(api_store: StoreRef) -> None:
    long_key = "L" * 80  # longer than SHA-256's block: HMAC hashes it first
    for key in (KEY, long_key):
        text = f"customer_id,order_id,ts,product_id\nSRC-9,F-{len(key)},2025-04-02,P00002\n"
        with api(api_store, pseudonymize_key=key) as a:
            files = {"file": (f"pseudo{len(key)}.csv", text.encode(), "text/csv")}
            r = a.client.post("/v1/ingest/files", files=files, headers=a.auth(Role.INGEST))
            assert r.json()["inserted"] == 1
            doc = a.client.get("/v1/privacy/customers/SRC-9/export",
                               headers=a.auth(Role.PRIVACY_OFFICER)).json()  # fmt: skip
        stored = query(
            api_store, f"SELECT customer_id FROM transactions WHERE order_id = 'F-{len(key)}'"
        )
        assert stored == [(pseudonym(key, "SRC-9"),)]
        assert doc["row_counts"]["transactions"] == 1


def test_readiness_says_how_many_lines_the_latest_analysis_does_not_count(
    api_store: StoreRef,
) -> None:
    with api(api_store) as a:
        ready = a.client.get("/readyz").json()
        analysis = ready["analysis"]
        assert analysis["lines"] == analysis["lines_now"] == ready["tables"]["transactions"]
        assert analysis["lines_since"] == 0 and analysis["finished_at"]
        assert analysis["files_changed"] is False
        text = "customer_id,order_id,ts,product_id\nC000001,late-1,2025-04-30,P00001\n"
        files = {"file": ("late.csv", text.encode(), "text/csv")}
        r = a.client.post("/v1/ingest/files", files=files, headers=a.auth(Role.INGEST))
        assert r.json()["inserted"] == 1, r.text
        analysis = a.client.get("/readyz").json()["analysis"]
        assert (analysis["lines_since"], analysis["files_changed"]) == (1, True)
        source = a.client.get("/v1/sources", headers=a.auth(Role.INGEST)).json()["items"][0]
        removed = a.client.delete(f"/v1/sources/{source['source_id']}", headers=a.auth(Role.INGEST))
        assert removed.status_code == 200, removed.text
        analysis = a.client.get("/readyz").json()["analysis"]
        assert (analysis["lines_since"], analysis["files_changed"]) == (0, False)
