"""The dashboard in a real browser (Debian's Chromium through Playwright): every page at 360
and 1280 px wide, light and dark, has zero serious or critical axe-core violations, no
horizontal scrolling at 360 px, no console errors (CSP included); screenshots of each are kept
in test-artifacts/screenshots/ (git-ignored)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from omnix.domain.access import Role
from tests.backends import StoreRef
from tests.web_support import (
    ARTIFACTS,
    WIDTHS,
    LiveServer,
    axe_violations,
    browser,
    served_copy,
    sign_in,
)

# the browser checks pages, not the store: the embedded one (test_web_pages runs on both)
pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.parametrize("api_template", ["duckdb"], indirect=True),
]


@pytest.fixture(scope="module")
def server(
    api_template: StoreRef, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with served_copy(api_template, tmp_path_factory.mktemp("web")) as live:
        yield live


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with browser(tmp_path_factory.mktemp("chromium-home")) as b:
        yield b


def _customer(server: LiveServer) -> str:
    page = server.container.views().customers(_filter(), 1)
    return str(page.items[0]["customer_id"])


def _filter() -> Any:
    from omnix.services.views import CustomerFilter

    return CustomerFilter()


def _segment(server: LiveServer) -> str:
    return str(server.container.views().segments(None)["segments"][0]["segment"])


def _analysis_run(server: LiveServer) -> str:
    """The id of a finished analysis run on the served store (one is run the first time)."""
    runner = server.container.job_runner()
    if not runner.list(1):
        runner.start({})
        runner.wait(300)
    return runner.list(1)[0].job_id


def _pages(server: LiveServer) -> list[tuple[str, str]]:
    customer, segment = _customer(server), _segment(server)
    source = server.container.ingest_service().sources()[0]["source_id"]
    run = _analysis_run(server)
    return [
        ("overview", "/"),
        ("segments", "/segments"),
        ("segment", f"/segments/{segment}"),
        ("customers", "/customers"),
        ("customer", f"/customers/{customer}"),
        ("model-health", "/model-health"),
        ("analysis-run", f"/model-health/analysis-runs/{run}"),
        ("replenishment", "/replenishment"),
        ("replenishment-filtered", f"/replenishment?within=7&segment={segment}&sort=days_overdue"),
        ("data", "/data"),
        ("data-remove", f"/data/{source}/remove"),
        ("not-found", "/customers/no-such-customer"),
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_is_accessible_at_both_widths(
    server: LiveServer, chromium: Any, scheme: str
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    failures: dict[str, Any] = {}
    for width in WIDTHS:
        context = chromium.new_context(
            viewport={"width": width, "height": 800}, color_scheme=scheme,
            reduced_motion="reduce" if width == WIDTHS[0] else "no-preference",
        )  # fmt: skip
        page = context.new_page()
        errors: list[str] = []
        page.on("console", _collector(errors))
        page.goto(f"{server.url}/sign-in")
        _check(page, f"sign-in-{width}-{scheme}", width, failures)
        sign_in(page, server, Role.ADMIN)
        for name, path in _pages(server):
            page.goto(server.url + path)
            _check(page, f"{name}-{width}-{scheme}", width, failures)
            # the details elements hold the charts' data tables: check them open too
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            problems = axe_violations(page)
            if problems:
                failures[f"{name}-{width}-{scheme} (tables open)"] = problems
        context.close()
        assert not [e for e in errors if "404" not in e], errors
    assert not failures, failures


def _collector(errors: list[str]) -> Any:
    def collect(message: Any) -> None:
        if message.type == "error":
            errors.append(message.text)

    return collect


def _check(page: Any, label: str, width: int, failures: dict[str, Any]) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{label}.png"), full_page=True)
    problems = axe_violations(page)
    if problems:
        failures[label] = problems
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        failures[f"{label} scrolls sideways"] = overflow
    assert page.locator("main h1").count() == 1, label
    assert page.locator("a.skip-link[href='#main']").count() == 1, label


def test_screenshots_exist_for_every_page_and_width(server: LiveServer) -> None:
    names = ["sign-in", *(n for n, _ in _pages(server))]
    missing = [
        f"{n}-{w}-light.png" for n in names for w in WIDTHS
        if not (ARTIFACTS / f"{n}-{w}-light.png").exists()
    ]  # fmt: skip
    assert not missing, missing
