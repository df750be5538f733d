"""The replenishment board over HTTP (TestClient on the real analysed store, both stores):
an analyst sees who is due for what, filtered, sorted and paged; the CSV export holds exactly
the filtered rows in the page's order; a viewer neither sees the board in the navigation nor
opens it; without stored predictions the page says to run an analysis."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from omnix.domain.access import Role
from tests.api_support import Api, api
from tests.integration.test_web_pages import signed_in

ROW = re.compile(r'<tr>\s*<th scope="row"><a href="/customers/[^"]+">([^<]+)</a></th>')
TOTAL = re.compile(r'<h2 id="board-heading"[^>]*>Due within (\d+) days: ([\d,]+)</h2>')


@pytest.fixture
def site(api_store: Path) -> Iterator[Api]:
    # the board lists customers whose consent covers personalization: granted by default here
    with api(api_store, api_cache_entries=0, default_consent="granted") as a:
        yield a


def _csv(client: TestClient, query: str) -> list[dict[str, str]]:
    r = client.get(f"/replenishment.csv?{query}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(r.text)))


def _busiest_category(site: Api) -> str:
    rows = site.container.prediction_service().due(14, limit=1000).rows
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["category"]] = counts.get(r["category"], 0) + 1
    return max(counts, key=lambda k: counts[k])


def test_analyst_sees_the_board_in_the_navigation_with_rows(site: Api) -> None:
    client = signed_in(site, Role.ANALYST)
    nav = re.findall(r'<nav class="site-nav".*?</nav>', client.get("/").text, re.S)[0]
    assert 'href="/replenishment"' in nav
    page = client.get("/replenishment")
    assert page.status_code == 200
    within, total = TOTAL.search(page.text).groups()  # type: ignore[union-attr]
    expected = site.container.prediction_service().due(14, limit=1)
    assert (int(within), int(total.replace(",", ""))) == (14, expected.total) and expected.total
    assert len(ROW.findall(page.text)) == min(25, expected.total)
    assert re.search(r"(due in \d+ days?|due today|overdue by \d+ days?)", page.text)
    assert 'href="/replenishment.csv?' in page.text


def test_csv_holds_exactly_the_filtered_rows_in_the_page_order(site: Api) -> None:
    client = signed_in(site, Role.ANALYST)
    category = _busiest_category(site)
    query = f"within=14&category={category}&sort=customer_id&dir=asc"
    page = client.get(f"/replenishment?{query}")
    shown = ROW.findall(page.text)
    total = int(TOTAL.search(page.text).group(2).replace(",", ""))  # type: ignore[union-attr]
    rows = _csv(client, query)
    assert len(rows) == total and shown
    assert [r["customer_id"] for r in rows[: len(shown)]] == shown
    assert {r["category"] for r in rows} == {category}
    assert [r["customer_id"] for r in rows] == sorted(r["customer_id"] for r in rows)
    service = site.container.prediction_service().due(14, category=category, limit=1000)
    assert sorted((r["customer_id"], r["product_id"]) for r in rows) == sorted(
        (r["customer_id"], r["product_id"]) for r in service.rows
    )
    # within one customer, likeliest first (the tie order of every sort)
    ranked = [(r["customer_id"], -float(r["probability"])) for r in rows]
    assert ranked == sorted(ranked)
    assert set(rows[0]) >= {"product_name", "segment", "expected_date", "probability",
                            "statement"}  # fmt: skip
    assert all(0.0 <= float(r["probability"]) <= 1.0 for r in rows)


def test_segment_filter_window_and_sorting(site: Api) -> None:
    client = signed_in(site, Role.ANALYST)
    segment = site.container.prediction_service().due(14, limit=1).rows[0]["segment"]
    rows = _csv(client, f"segment={segment}&within=7&sort=days_overdue&dir=desc")
    assert rows and {r["segment"] for r in rows} == {segment}
    overdue = [int(r["days_overdue"]) for r in rows]
    assert overdue == sorted(overdue, reverse=True)
    assert len(rows) <= len(_csv(client, f"segment={segment}&within=14"))
    page = client.get(f"/replenishment?segment={segment}&sort=days_overdue&dir=asc")
    assert 'aria-sort="ascending"' in page.text
    assert client.get("/replenishment?sort=nope&within=99&page=x").status_code == 200


def test_paging_walks_through_every_row(site: Api) -> None:
    client = signed_in(site, Role.ANALYST)
    first = client.get("/replenishment?within=14")
    total = int(TOTAL.search(first.text).group(2).replace(",", ""))  # type: ignore[union-attr]
    if total <= 25:
        pytest.skip("one page only in this store")
    second = client.get("/replenishment?within=14&page=2")
    assert 'rel="prev"' in second.text
    ids = ROW.findall(first.text) + ROW.findall(second.text)
    assert ids == [r["customer_id"] for r in _csv(client, "within=14")][: len(ids)]


def test_customers_without_personalization_consent_are_withheld(site: Api) -> None:
    from omnix.domain.consent import Purpose

    client = signed_in(site, Role.ANALYST)
    row = site.container.prediction_service().due(14, limit=1, sort="customer_id",
                                                  descending=False).rows[0]  # fmt: skip
    customer = row["customer_id"]
    before = client.get("/replenishment?sort=customer_id&dir=asc")  # the page is now cached
    assert "withheld" not in before.text and f">{customer}</a>" in before.text
    site.container.consent_service().set(customer, Purpose.PERSONALIZATION, False, source="t")
    page = client.get("/replenishment?sort=customer_id&dir=asc")  # a consent change: rebuilt
    assert "withheld: those customers have not consented" in page.text
    assert f">{customer}</a>" not in page.text
    assert customer not in {r["customer_id"] for r in _csv(client, "within=14")}


def test_viewer_neither_sees_nor_opens_the_board(site: Api) -> None:
    client = signed_in(site, Role.VIEWER)
    nav = re.findall(r'<nav class="site-nav".*?</nav>', client.get("/").text, re.S)[0]
    assert "/replenishment" not in nav
    r = client.get("/replenishment")
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    assert "analyst" in r.text
    assert client.get("/replenishment.csv").status_code == 403
    privacy = signed_in(site, Role.PRIVACY_OFFICER)
    assert privacy.get("/replenishment").status_code == 403


def test_without_predictions_the_board_says_to_run_an_analysis(site: Api) -> None:
    site.container.here().ibis().raw_sql("DELETE FROM predictions")
    client = signed_in(site, Role.ANALYST)
    page = client.get("/replenishment")
    assert page.status_code == 200
    assert "No predictions stored yet" in page.text and "omnix analyze" in page.text
    assert 'id="board"' not in page.text
    assert client.get("/replenishment.csv").status_code == 404


def test_the_board_keeps_only_likely_rows_when_asked(site: Api) -> None:
    """Most rows of a long history are lapsed customers with P(buy) near 0 (19,834 of 21,959
    on the Instacart sample): 'Likelihood: at least 50 %' leaves them out, CSV included."""
    client = signed_in(site, Role.ANALYST)
    service = site.container.prediction_service()
    everyone, likely = service.due(14, limit=1).total, service.due(14, limit=1, min_probability=0.5)
    assert 0 < likely.total < everyone  # the filter has something to leave out
    page = client.get("/replenishment?likely=50").text
    assert f"at least 50 % likely: {likely.total:,}</h2>" in page
    assert '<option value="50" selected>at least 50 %</option>' in page
    rows = _csv(client, "likely=50")
    assert len(rows) == likely.total and all(float(r["probability"]) >= 0.5 for r in rows)
    ignored = client.get("/replenishment?likely=33").text  # not an offered choice: all rows
    assert f"Due within 14 days: {everyone:,}</h2>" in ignored
