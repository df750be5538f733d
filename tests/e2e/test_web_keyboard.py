"""A keyboard-only walk through the dashboard's main flows in Chromium: sign in, overview ->
segments -> a segment -> filter its members -> a customer; every stop has a visible focus
indicator, and the skip link leads to the main content."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from omnix.domain.access import Role
from tests.backends import StoreRef
from tests.web_support import LiveServer, browser, served_copy

# the keyboard walk checks pages, not the store: the embedded one (test_web_pages runs on both)
pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.parametrize("api_template", ["duckdb"], indirect=True),
]
MAX_TABS = 80
FOCUS = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const s = getComputedStyle(e);
  return {tag: e.tagName, id: e.id, text: (e.innerText || e.value || '').trim().slice(0, 80),
          href: e.getAttribute('href'), outline: s.outlineStyle, width: parseFloat(s.outlineWidth)};
}"""


@pytest.fixture(scope="module")
def server(
    api_template: StoreRef, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with served_copy(api_template, tmp_path_factory.mktemp("web-keys")) as live:
        yield live


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    with browser(tmp_path / "home") as chromium:
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        yield context.new_page()
        context.close()


def tab_to(page: Any, wanted: Any, what: str) -> dict[str, Any]:
    """Press Tab until `wanted(focused)` holds; every element on the way shows its focus."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUS)
        if focused is None:
            continue
        assert focused["outline"] != "none" and focused["width"] >= 2, (what, focused)
        if wanted(focused):
            return dict(focused)
    raise AssertionError(f"{what}: not reached with {MAX_TABS} presses of Tab")


def sign_in_with_enter(page: Any, server: LiveServer) -> None:
    """An analyst's key typed in and sent with Enter; lands on the overview."""
    page.goto(server.url + "/sign-in")
    page.fill("#f-key", server.keys[Role.ANALYST])
    page.keyboard.press("Enter")
    page.wait_for_url(server.url + "/")


def test_keyboard_walk_sign_in_to_customer(server: LiveServer, page: Any) -> None:
    page.goto(server.url + "/")
    assert page.url.startswith(server.url + "/sign-in")
    first = tab_to(page, lambda f: True, "first stop")
    assert first["text"] == "Skip to main content"
    tab_to(page, lambda f: f["id"] == "f-key", "API key field")
    page.keyboard.type(server.keys[Role.ANALYST])
    page.keyboard.press("Enter")
    page.wait_for_url(server.url + "/")
    assert page.locator("main h1").inner_text() == "Overview"

    skip = tab_to(page, lambda f: True, "skip link")
    assert skip["text"] == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    page.keyboard.press("Shift+Tab")  # back up to the page top, then along the navigation
    tab_to(page, lambda f: f["href"] == "/segments", "Segments in the navigation")
    page.keyboard.press("Enter")
    page.wait_for_url(server.url + "/segments")

    link = tab_to(page, lambda f: (f["href"] or "").startswith("/segments/"), "a segment")
    page.keyboard.press("Enter")
    page.wait_for_url(server.url + link["href"].replace(" ", "%20"))
    assert page.locator("main h1").inner_text() == link["text"]

    member = page.locator("#members tbody th a").first.inner_text()
    tab_to(page, lambda f: f["id"] == "f-q", "the member filter")
    page.keyboard.type(member)
    page.keyboard.press("Enter")
    expect(page.locator("#members tbody tr")).to_have_count(1)
    assert "q=" in page.url  # the filtered view has its own address
    assert page.evaluate("document.activeElement.id") == "members-heading"
    assert page.locator("#live-status").inner_text().startswith("Showing page 1 of 1")

    tab_to(page, lambda f: f["text"] == member, "the member")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server.url}/customers/{member}")
    assert page.locator("main h1").inner_text() == f"Customer {member}"
    assert page.locator("#rhythm-heading").count() == 1
    # the recommendations arrive after the page (htmx, CSP-clean), with their reasons
    expect(page.locator("#reco-panel")).to_be_visible()


def test_sorting_and_paging_by_keyboard(server: LiveServer, page: Any) -> None:
    sign_in_with_enter(page, server)
    page.goto(server.url + "/customers")
    tab_to(page, lambda f: f["text"].startswith("Orders"), "sort by orders")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "sort=orders" in url)
    header = page.locator("th[aria-sort]")
    assert header.inner_text().startswith("Orders")
    assert header.get_attribute("aria-sort") == "descending"
    heads = page.locator("#members thead th").all_inner_texts()
    col = next(i for i, h in enumerate(heads, start=1) if h.startswith("Orders"))
    cells = page.locator(f"#members tbody tr > :nth-child({col})").all_inner_texts()
    orders = [int(t.replace(",", "")) for t in cells]
    assert orders == sorted(orders, reverse=True) and orders


def test_keyboard_walk_through_the_replenishment_board(server: LiveServer, page: Any) -> None:
    sign_in_with_enter(page, server)
    tab_to(page, lambda f: f["href"] == "/replenishment", "Replenishment in the navigation")
    page.keyboard.press("Enter")
    page.wait_for_url(server.url + "/replenishment")
    assert page.locator("main h1").inner_text() == "Replenishment"

    tab_to(page, lambda f: f["id"] == "f-within", "the window")
    page.keyboard.press("ArrowUp")  # 14 -> 7 days (a closed select changes with the arrows)
    tab_to(page, lambda f: f["id"] == "f-category", "the category filter")
    page.keyboard.press("ArrowDown")  # the first category
    category = page.locator("#f-category").input_value()
    assert category
    tab_to(page, lambda f: f["text"] == "Filter", "the filter button")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "category=" in url and "within=7" in url)
    expect(page.locator("#board-heading")).to_contain_text("Due within 7 days")
    assert page.evaluate("document.activeElement.id") == "board-heading"
    cells = page.locator("#board tbody tr td:nth-child(3)").all_inner_texts()
    assert cells and set(cells) == {category}

    if page.locator("#board a[rel=next]").count():
        tab_to(page, lambda f: f["text"] == "Next page", "the next page")
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url: "page=2" in url)
        assert page.evaluate("document.activeElement.id") == "board-heading"

    tab_to(page, lambda f: f["id"] == "export-csv", "the CSV export")
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    lines = text.strip().splitlines()
    total = page.locator("#board-heading").inner_text().rsplit(": ", 1)[1].replace(",", "")
    assert lines[0].startswith("customer_id,product_id") and len(lines) - 1 == int(total)


def test_an_analysis_run_started_by_keyboard_updates_itself(server: LiveServer, page: Any) -> None:
    sign_in_with_enter(page, server)
    page.goto(server.url + "/model-health")
    tab_to(page, lambda f: f["text"] == "Run the analysis now", "the run button")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/model-health/analysis-runs/" in url)
    assert page.locator("main h1").inner_text() == "Analysis run"
    # the run region polls and swaps itself: the outcome arrives without a reload, is
    # announced in the live region, and no swap moves the focus
    expect(page.locator("#run-state")).to_contain_text("Succeeded", timeout=120_000)
    expect(page.locator("#live-status")).to_have_text("Analysis run succeeded.")
    assert page.evaluate("document.activeElement === document.body")
    assert page.locator("#run-state[hx-trigger]").count() == 0  # the polling stopped
    stages = str(len(server.container.job_runner().stages))
    expect(page.locator("#run-progress")).to_have_attribute("value", stages)
