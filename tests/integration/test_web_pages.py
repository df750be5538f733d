"""The dashboard over HTTP (TestClient on the real analysed store): sign-in into a session,
roles (a viewer sees aggregates only), CSRF on every form, revocation, privacy actions, the
response headers (CSP, Server-Timing) and that pages stay out of the OpenAPI document."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from omnix.domain.access import Role
from omnix.entrypoints.web.segments import SORT_LABELS
from tests.api_support import Api, api

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def site(api_store: Path) -> Iterator[Api]:
    # no bulk 360 warm-up thread: these short-lived apps close the store right away
    with api(api_store, api_cache_entries=0) as a:
        yield a


def csrf(client: TestClient, path: str = "/sign-in") -> str:
    found = CSRF.search(client.get(path).text)
    assert found, path
    return found.group(1)


def signed_in(site: Api, role: Role) -> TestClient:
    client = site.client
    client.cookies.clear()
    token = csrf(client)
    r = client.post("/sign-in", data={"key": site.keys[role], "csrf": token, "next": "/"},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    return client


def a_customer(site: Api) -> str:
    return str(site.container.dashboard_service().members(_query()).items[0]["customer_id"])


def _query() -> object:
    from omnix.services.dashboard import MemberQuery

    return MemberQuery()


def test_pages_redirect_to_sign_in_and_back(site: Api) -> None:
    r = site.client.get("/segments?date=x", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/sign-in?next=%2Fsegments%3Fdate%3Dx"
    token = csrf(site.client)
    r = site.client.post("/sign-in", data={"key": site.keys[Role.VIEWER], "csrf": token,
                         "next": "/model-health"}, follow_redirects=False)  # fmt: skip
    assert (r.status_code, r.headers["location"]) == (303, "/model-health")
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert site.keys[Role.VIEWER] not in r.headers["set-cookie"]  # only the key's id


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil"])
def test_no_open_redirect_after_sign_in(site: Api, target: str) -> None:
    token = csrf(site.client)
    r = site.client.post("/sign-in", data={"key": site.keys[Role.VIEWER], "csrf": token,
                         "next": target}, follow_redirects=False)  # fmt: skip
    assert r.headers["location"] == "/"


def test_bad_keys_and_roles_without_pages_are_refused(site: Api) -> None:
    token = csrf(site.client)
    r = site.client.post("/sign-in", data={"key": "omx_000000000000_nope", "csrf": token})
    assert r.status_code == 401 and "unknown or revoked" in r.text


def test_forms_need_the_session_csrf_token(site: Api) -> None:
    csrf(site.client)
    r = site.client.post("/sign-in", data={"key": site.keys[Role.ADMIN], "csrf": "forged"})
    assert r.status_code == 403 and "expired" in r.text
    client = signed_in(site, Role.ADMIN)
    customer = a_customer(site)
    r = client.post(f"/customers/{customer}/consents",
                    data={"purpose": "profiling", "granted": "no"})  # fmt: skip
    assert r.status_code == 403
    token = csrf(client, f"/customers/{customer}")
    r = client.post(f"/customers/{customer}/consents",
                    data={"purpose": "profiling", "granted": "no", "csrf": token},
                    headers={"origin": "https://evil.example"})  # fmt: skip
    assert r.status_code == 403 and "another site" in r.text
    assert site.container.privacy_service().consents(customer)["log"] == []


def test_viewer_sees_aggregates_only(site: Api) -> None:
    client = signed_in(site, Role.VIEWER)
    for path in ("/", "/segments", "/model-health"):
        assert client.get(path).status_code == 200, path
    day = site.container.views().snapshot_dates()[-1]
    same = client.get(f"/segments?from={day}&to={day}")  # was a whole-page 400
    assert same.status_code == 200 and f"({day} is not before {day})" in same.text
    assert 'id="migration-heading"' in same.text and "Share of net revenue" in same.text
    segment = site.container.views().segments(None)["segments"][0]["segment"]
    page = client.get(f"/segments/{segment}")
    assert page.status_code == 200
    assert "need an analyst key" in page.text and 'id="members"' not in page.text
    customer = a_customer(site)
    assert customer not in page.text
    r = client.get(f"/customers/{customer}")
    assert r.status_code == 403 and "analyst or privacy_officer" in r.text
    assert client.get("/customers").status_code == 403
    nav = re.findall(r'<nav class="site-nav".*?</nav>', client.get("/").text, re.S)[0]
    assert "/customers" not in nav and "/segments" in nav


def test_analyst_sees_customers_but_no_privacy_actions(site: Api) -> None:
    client = signed_in(site, Role.ANALYST)
    customer = a_customer(site)
    page = client.get(f"/customers/{customer}")
    assert page.status_code == 200
    assert 'id="rhythm-heading"' in page.text and 'id="privacy"' not in page.text
    assert re.search(r"<dt>Channels</dt><dd>[^<]+ \d+%", page.text)  # the whole mix, shares
    assert client.get(f"/customers/{customer}/export.json").status_code == 403
    members = client.get("/customers?sort=orders&dir=asc&q=C0000")
    assert members.status_code == 200 and 'aria-sort="ascending"' in members.text
    for key in SORT_LABELS:  # every header link sorts ("customer_id" was a 500)
        for way in ("asc", "desc"):
            r = client.get(f"/customers?sort={key}&dir={way}")
            assert r.status_code == 200 and 'aria-sort="' in r.text, (key, way)
    # the churn filter asks for percent, as the table shows it (0 to 1 read 50 as 5,000 %)
    risky = client.get("/customers?min_churn_pct=50&sort=churn_risk_90d&dir=asc").text
    cells = re.findall(r'<td class="num">([\d.]+) %</td>', risky)[1::2]  # P(alive), churn
    assert cells and all(float(v) >= 50 for v in cells) and 'value="50.0"' in risky
    past = client.get("/customers?page=999").text
    assert "Page 999 is past the last page" in past and "No customer matches" not in past
    by_id = client.get("/customers?sort=customer_id&dir=desc&q=C0000").text
    ids = re.findall(r'href="/customers/(C0000\d+)"', by_id)
    assert len(ids) > 1 and ids == sorted(ids, reverse=True)


def test_privacy_officer_consent_export_and_erasure(site: Api) -> None:
    client = signed_in(site, Role.PRIVACY_OFFICER)
    customer = a_customer(site)
    page = client.get(f"/customers/{customer}")
    assert 'id="privacy"' in page.text and 'id="rhythm-heading"' not in page.text
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    r = client.post(f"/customers/{customer}/consents",
                    data={"purpose": "profiling", "granted": "no", "csrf": token},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    decision = site.container.privacy_service().consents(customer)["purposes"]["profiling"]
    assert decision["granted"] is False and decision["by_default"] is False
    export = client.get(f"/customers/{customer}/export.json")
    assert export.status_code == 200 and "attachment" in export.headers["content-disposition"]
    assert export.json()["row_counts"]["transactions"] > 0
    r = client.post(f"/customers/{customer}/erase", data={"csrf": token, "confirm": "wrong"})
    assert r.status_code == 422
    r = client.post(f"/customers/{customer}/erase", data={"csrf": token, "confirm": customer})
    assert r.status_code == 200 and "Erased" in r.text
    with pytest.raises(Exception, match="holds nothing"):
        site.container.privacy_service().export(customer)


def test_ingest_key_lists_files_downloads_rejects_and_removes_a_file(site: Api) -> None:
    client = site.client
    client.cookies.clear()
    token = csrf(client)
    r = client.post("/sign-in", data={"key": site.keys[Role.INGEST], "csrf": token, "next": "/"},
                    follow_redirects=False)  # fmt: skip
    assert (r.status_code, r.headers["location"]) == (303, "/data")  # its one page
    page = client.get("/data")
    assert page.status_code == 200 and 'href="/data"' in page.text
    assert 'href="/customers"' not in page.text and 'href="/model-health"' not in page.text
    assert client.get("/").status_code == 403
    files = site.container.ingest_service().sources()
    for f in files:
        assert f["name"] in page.text and f"/data/{f['source_id']}/remove" in page.text
    with_rejects = next(f for f in files if f["rejected"])
    csv = client.get(f"/data/{with_rejects['source_id']}/rejects.csv")
    assert csv.status_code == 200 and "attachment" in csv.headers["content-disposition"]
    assert csv.text.count("\n") == with_rejects["rejected"] + 1  # header + one row each
    clean = next(f for f in files if not f["rejected"])  # the template's generated files
    assert client.get(f"/data/{clean['source_id']}/rejects.csv").status_code == 404
    assert client.get("/data/0123456789abcdef/remove").status_code == 404

    target = next(f for f in files if f["kind"] == "transactions" and f["stored"])
    form = client.get(f"/data/{target['source_id']}/remove")
    assert form.status_code == 200 and "Type the file's name to confirm" in form.text
    token = CSRF.search(form.text).group(1)  # type: ignore[union-attr]
    path = f"/data/{target['source_id']}/remove"
    assert client.post(path, data={"confirm": target["name"]}).status_code == 403  # no token
    r = client.post(path, data={"csrf": token, "confirm": "another.csv"})
    assert r.status_code == 422 and "name exactly to confirm its removal" in r.text
    assert target["source_id"] in {
        f["source_id"] for f in site.container.ingest_service().sources()
    }
    r = client.post(path, data={"csrf": token, "confirm": target["name"]})
    assert r.status_code == 200 and f"Removed {target['name']}" in r.text
    assert "Run the analysis" not in r.text  # an ingest key may not start one
    page = client.get("/data").text  # the data page says the results lag behind now
    assert f"The store holds {target['stored']:,} lines fewer than the latest analysis" in page
    assert "They follow with the next analysis" in page
    assert f"{target['stored']:,} rows deleted" in r.text
    left = site.container.ingest_service().sources()
    assert target["source_id"] not in {f["source_id"] for f in left}
    stored = site.container.here().table_counts()["transactions"]
    assert stored == sum(f["stored"] for f in left if f["kind"] == "transactions")


def test_ingest_key_adds_a_file_from_the_data_page(site: Api) -> None:
    client = signed_in(site, Role.INGEST)
    page = client.get("/data").text
    assert 'enctype="multipart/form-data"' in page and 'value="decimal-comma"' in page
    token = CSRF.search(page).group(1)  # type: ignore[union-attr]
    text = "customer_id;order_id;ts;product_id;unit_price\nC000001;W1;2025-04-02;P00001;1,25\n"
    text += "C000001;W1;2025-04-02;P00002;2,50\n;W2;no date;P00003;1\n"
    files = {"file": ("kasse 1.csv", text.encode(), "text/csv")}
    assert client.post("/data/upload", files=files).status_code == 403  # no CSRF token
    r = client.post("/data/upload", files=files, data={"csrf": token})
    assert r.status_code == 200, r.text
    assert "Read 3 = stored 0 + rejected 3 (balanced)" in r.text
    assert "invalid unit price" in r.text and "--decimal-comma" in r.text
    assert "Ingested kasse_1.csv" in r.text
    link = re.search(r'href="(/data/[0-9a-f]+/rejects\.csv)"', r.text)
    assert link and client.get(link.group(1)).text.count("\n") == 4  # header + 3 rows
    r = client.post("/data/upload", files=files, data={"csrf": token, "numbers": "decimal-comma"})
    assert "Read 3 = stored 2 + rejected 1 (balanced)" in r.text and "rejects.csv" in r.text
    prices = site.container.here().customer_rows("transactions", "C000001")
    assert {row["unit_price"] for row in prices if row["order_id"] == "W1"} == {1.25, 2.5}
    r = client.post("/data/upload", files=files, data={"csrf": token, "encoding": "klingon"})
    assert r.status_code == 422 and "unknown encoding" in r.text


def test_data_page_maps_a_foreign_files_columns(site: Api) -> None:
    client = signed_in(site, Role.INGEST)
    page = client.get("/data").text
    assert '<textarea id="f-mapping" name="mapping"' in page
    token = CSRF.search(page).group(1)  # type: ignore[union-attr]
    text = "Kunde,Beleg,Datum,Artikel,Preis\nC000001,M1,2025-04-02,P00001,1.25\n"
    files = {"file": ("kasse.csv", text.encode(), "text/csv")}
    r = client.post("/data/upload", files=files, data={"csrf": token})
    assert r.status_code == 422 and "customer_id" in r.text
    assert not any(f["name"] == "kasse.csv" for f in site.container.ingest_service().sources())
    bad = {"csrf": token, "mapping": "Kunde=kunde_id"}
    r = client.post("/data/upload", files=files, data=bad)
    assert r.status_code == 422 and "kunde_id&#39; is not a transactions column" in r.text
    mapping = "Kunde = customer_id\r\nBeleg=order_id\n\n Datum=ts\nArtikel=product_id\n"
    mapping += "Preis=unit_price"
    r = client.post("/data/upload", files=files, data={"csrf": token, "mapping": mapping})
    assert r.status_code == 200, r.text
    assert "Read 1 = stored 1 + rejected 0 (balanced)" in r.text
    rows = site.container.here().customer_rows("transactions", "C000001")
    assert any(row["order_id"] == "M1" and row["unit_price"] == 1.25 for row in rows)
    assert "Run the analysis" not in r.text
    admin = signed_in(site, Role.ADMIN)  # who may also analyse is pointed to the run
    token = CSRF.search(admin.get("/data").text).group(1)  # type: ignore[union-attr]
    r = admin.post("/data/upload", files=files, data={"csrf": token, "mapping": mapping})
    assert r.status_code == 200 and 'href="/model-health#analyse-heading"' in r.text
    page = admin.get("/data").text
    assert "The store holds 1 line more than the latest analysis saw" in page
    assert '<a href="/model-health#analyse-heading">Run the analysis</a> to bring' in page


def test_model_health_says_when_the_store_changed_after_the_analysis(site: Api) -> None:
    client = signed_in(site, Role.VIEWER)
    page = client.get("/model-health").text
    assert "Latest analysis" in page and "than the latest analysis saw" not in page
    files = site.container.ingest_service().sources()
    target = next(f for f in files if f["kind"] == "transactions" and f["stored"])
    site.container.ingest_service().remove(target["source_id"])
    page = client.get("/model-health").text
    assert f"The store holds {target['stored']:,} lines fewer than the latest analysis saw" in page
    assert "Files were added or taken out" not in page
    assert 'href="#analyse-heading"' not in page  # a viewer may not run it
    # an analysis that saw as many lines as now, but other files (one out, one of the same
    # size in): the page says the files changed
    lines = site.container.here().table_counts()["transactions"]
    with site.container.here().run("analyze", {"lines": lines, "files": "0" * 32}):
        pass
    page = client.get("/model-health").text
    assert "than the latest analysis saw" not in page
    assert "Files were added or taken out since the latest analysis" in page


def test_analyst_runs_follows_and_cancels_the_analysis_from_model_health(site: Api) -> None:
    import datetime as dt

    from omnix.domain.jobs import Job, JobStatus
    from omnix.entrypoints.web.render import day

    assert "Run the analysis now" not in signed_in(site, Role.VIEWER).get("/model-health").text
    client = signed_in(site, Role.ANALYST)
    page = client.get("/model-health").text
    assert "Run the analysis now" in page and 'action="/model-health/analysis-runs"' in page
    token = CSRF.search(page).group(1)  # type: ignore[union-attr]
    assert client.post("/model-health/analysis-runs").status_code == 403  # no CSRF token
    # a run another server process has open: followed, not started twice, cancellable
    runner, store = site.container.job_runner(), site.container.here()
    other = Job("0f" * 16, "analyze", JobStatus.QUEUED, dt.datetime.now(dt.UTC),
                stages=list(runner.stages))  # fmt: skip
    assert store.create_job(other)
    page = client.get("/model-health").text
    assert "An analysis run is queued" in page and "Run the analysis now" not in page
    run_page = client.get(f"/model-health/analysis-runs/{other.job_id}").text
    n = len(runner.stages)
    assert 'hx-trigger="every 2s"' in run_page and f"0 of {n} stages done" in run_page
    assert "Cancel the run" in run_page
    path = f"/model-health/analysis-runs/{other.job_id}/cancel"
    assert client.post(path).status_code == 403
    r = client.post(path, data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and store.cancel_requested(other.job_id)
    assert "cancel requested" in client.get(r.headers["location"]).text
    assert runner.recover() == 1  # that process is gone: its run is marked failed
    # a run of its own: started, then its page tells the outcome and stops polling
    page = client.get("/model-health").text  # the way is free again
    assert 'name="recommendations" value="true"' in page
    form = {"csrf": token, "recommendations": "true"}  # then recommend --all too
    r = client.post("/model-health/analysis-runs", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    job_id = r.headers["location"].rsplit("/", 1)[1]
    runner.wait(300)
    job = runner.get(job_id)
    assert job.status is JobStatus.SUCCEEDED and job.result
    done = client.get(r.headers["location"]).text
    assert "Succeeded" in done and 'hx-trigger="every 2s"' not in done
    assert f"{job.result['snapshot_rows']:,} snapshot rows" in done
    n += 1  # the recommendations stage
    assert f"{n} of {n} stages done" in done and "Cancel the run" not in done
    reco = job.result["recommendations"]
    assert f"Recommendations refreshed as of {day(reco['as_of'])}" in done
    page = client.get("/model-health").text
    assert "The last run from here or the API: succeeded" in page
    assert client.get("/model-health/analysis-runs/" + "ab" * 16).status_code == 404


def test_a_run_page_says_what_a_late_cancel_or_failure_left(site: Api) -> None:
    import datetime as dt

    from omnix.domain.jobs import Job, JobStatus

    client, runner = signed_in(site, Role.ANALYST), site.container.job_runner()
    stages, now = [*runner.stages, "recommendations"], dt.datetime.now(dt.UTC)
    ran = dict.fromkeys(runner.stages, 0.1)  # the analysis' stages done, then stored
    report = {"as_of": "2025-05-01", "customers": 60, "profiled": 60, "snapshot_rows": 60,
              "predictions": 500}  # fmt: skip
    skipped = Job("cd" * 16, "analyze", JobStatus.SUCCEEDED, now, stages=stages,
                  params={"recommendations": True}, stage_seconds=ran, result=report,
                  cancel_requested=True)  # fmt: skip
    failed = Job("ef" * 16, "analyze", JobStatus.FAILED, now, stages=stages, stage_seconds=ran,
                 params={"recommendations": True}, error="out of memory")  # fmt: skip
    early = Job("ab" * 16, "analyze", JobStatus.FAILED, now, stages=stages, error="disk full",
                stage_seconds={"rhythms": 0.1})  # fmt: skip
    for job in (skipped, failed, early):
        site.container.here().save_job(job)
    page = client.get(f"/model-health/analysis-runs/{skipped.job_id}").text
    assert "Recommendations were not refreshed" in page and "Succeeded" in page
    assert f"{len(ran)} of {len(stages)} stages done" in page  # the skipped one is not done
    assert "500 next-need predictions" in page
    page = client.get(f"/model-health/analysis-runs/{failed.job_id}").text
    assert "The analysis was stored, but refreshing the recommendations failed" in page
    assert "out of memory" in page
    page = client.get(f"/model-health/analysis-runs/{early.job_id}").text
    assert "The run failed: disk full. The results stay as they were." in page


def test_only_ingest_keys_see_the_data_page(site: Api) -> None:
    for role in (Role.VIEWER, Role.ANALYST, Role.PRIVACY_OFFICER):
        client = signed_in(site, role)
        assert client.get("/data").status_code == 403, role
        assert (
            'href="/data"'
            not in client.get(
                "/model-health" if role != Role.PRIVACY_OFFICER else "/customers"
            ).text
        )
    assert signed_in(site, Role.ADMIN).get("/data").status_code == 200


def test_revoked_key_ends_the_session(site: Api) -> None:
    client = signed_in(site, Role.VIEWER)
    assert client.get("/").status_code == 200
    site.container.keys_service().revoke(site.keys[Role.VIEWER].split("_")[1])
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in")


def test_sign_out_needs_csrf_and_ends_the_session(site: Api) -> None:
    client = signed_in(site, Role.VIEWER)
    token = csrf(client, "/")
    assert client.post("/sign-out", data={}).status_code == 403
    r = client.post("/sign-out", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303


def test_page_headers_and_openapi(site: Api) -> None:
    client = signed_in(site, Role.ADMIN)
    r = client.get("/")
    assert re.fullmatch(r"app;dur=[\d.]+, tpl;dur=[\d.]+", r.headers["server-timing"])
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert client.get("/v1/segments").status_code == 401  # the session is no API key
    paths = site.client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if not p.startswith(("/v1", "/healthz", "/readyz", "/metrics",
                                                      "/problems"))]  # fmt: skip
    css = client.get("/static/omnix.css")
    assert css.status_code == 200 and "max-age" in css.headers["cache-control"]


def test_unknown_customer_and_segment_are_html_404s(site: Api) -> None:
    client = signed_in(site, Role.ADMIN)
    r = client.get("/customers/nobody-here")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert client.get("/segments/Nope").status_code == 422


def test_customer_page_loads_recommendations_after_itself(api_store: Path) -> None:
    with api(api_store, api_cache_entries=10) as cached:  # a view cache: built once, kept
        _recommendations_after_the_page(cached)


def _recommendations_after_the_page(site: Api) -> None:
    client = signed_in(site, Role.ANALYST)
    customer = a_customer(site)
    page = client.get(f"/customers/{customer}")
    link = f'href="/customers/{customer}/recommendations"'
    assert 'id="reco-slot"' in page.text and link in page.text  # htmx, and a plain link
    assert f'hx-get="/customers/{customer}/recommendations"' in page.text
    assert 'id="rhythm-heading"' in page.text
    panel = client.get(f"/customers/{customer}/recommendations")
    assert panel.status_code == 200 and 'id="reco-panel"' in panel.text
    assert '<th scope="col">Why</th>' in panel.text or "Nothing to recommend" in panel.text
    again = client.get(f"/customers/{customer}")  # built once: now part of the page
    assert 'id="reco-panel"' in again.text and 'id="reco-slot"' not in again.text
    # no page for an id the snapshot does not hold (unknown, or erased), as for the customer
    assert client.get("/customers/NOPE999/recommendations").status_code == 404
    assert site.container.views().cache.get("NOPE999", "web-recommendations") is None
    viewer = signed_in(site, Role.VIEWER)
    assert viewer.get(f"/customers/{customer}/recommendations").status_code == 403


def test_customer_rhythms_come_from_the_stored_predictions(
    site: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omnix.services.views import Views

    def no_fit(*args: object, **kwargs: object) -> None:
        raise AssertionError("the customer page fitted the rhythm model")

    monkeypatch.setattr(Views, "rhythms", no_fit)
    client = signed_in(site, Role.ANALYST)
    found = None
    for row in site.container.prediction_service("granted").due(14, limit=200).rows:
        if row["purchases"] >= 2:
            found = row
            break
    assert found is not None
    page = client.get(f"/customers/{found['customer_id']}")
    from markupsafe import escape

    assert str(escape(found["statement"])) in page.text  # the stored sentence, not a refit
