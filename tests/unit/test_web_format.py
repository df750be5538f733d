"""The dashboard's small pieces: number and date formats, the chart palette's contrast in both
themes, the sign-in redirect guard, the page cache, and the vendored htmx matching its pin."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path

import pytest

from omnix.entrypoints.web import charts, render
from omnix.entrypoints.web.cache import PageCache
from omnix.entrypoints.web.session import safe_next

ROOT = Path(__file__).resolve().parents[2]
CSS = ROOT / "src/omnix/entrypoints/web/static/omnix.css"


def luminance(hex_colour: str) -> float:
    """WCAG relative luminance of #rrggbb."""
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("colour", charts.PALETTE)
def test_chart_colours_have_3_to_1_contrast_on_both_themes(colour: str) -> None:
    assert contrast(colour, charts.LIGHT_BG) >= 3.0
    assert contrast(colour, charts.DARK_BG) >= 3.0


def _theme(css: str, dark: bool) -> dict[str, str]:
    block = css.split("@media (prefers-color-scheme: dark)")[1 if dark else 0]
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6})", block.split("}")[0]))


@pytest.mark.parametrize("dark", [False, True])
def test_theme_text_colours_reach_4_5_to_1(dark: bool) -> None:
    css = CSS.read_text(encoding="utf-8")
    theme = _theme(css, dark)
    for bg in ("bg", "surface"):
        for fg in ("fg", "muted", "link", "up", "down"):
            assert contrast(theme[fg], theme[bg]) >= 4.5, (dark, fg, bg)
    assert contrast(theme["button-fg"], theme["button-bg"]) >= 4.5
    assert contrast(theme["border"], theme["bg"]) >= 3.0  # input borders (WCAG 1.4.11)
    assert contrast(theme["focus"], theme["bg"]) >= 3.0
    assert theme["bg"] == (charts.DARK_BG if dark else charts.LIGHT_BG)


def test_formats() -> None:
    assert render.number(1234567.4) == "1,234,567"
    assert render.number(None) == "–" and render.number(float("nan")) == "–"
    assert render.money(-1.8e-15) == "0" and render.number(-0.004, 2) == "0.00"  # not "-0"
    assert render.money(-0.6) == "-1" and render.number(-0.05, 1) == "-0.1"
    assert render.percent(0.2534) == "25.3 %"
    assert render.signed_percent(-0.1) == "\u221210.0 %"
    assert render.signed_percent(0.05) == "+5.0 %"
    assert render.day(date(2025, 11, 25)) == "Tue 25 Nov 2025"
    assert render.day("2025-11-25T10:00:00") == "Tue 25 Nov 2025"
    assert render.days(1) == "1 day" and render.days(12.4) == "12 days"
    assert render.ago(0.01) == "less than an hour ago" and render.ago(5 / 24) == "5 hours ago"
    assert render.ago(1.2) == "1 day ago" and render.ago(2160.1) == "2,160 days ago"
    assert render.days_ago(0.3) == "yesterday" and render.days_ago(2.4) == "3 days ago"
    assert render.days_ago(3.0) == "3 days ago"  # calendar days, as the rhythm sentences
    assert render.moment(datetime(2025, 1, 2, 3, 4)) == "2025-01-02 03:04 UTC"
    assert render.weekday(0) == "Monday" and render.weekday(None) == "–"


@pytest.mark.parametrize(
    ("target", "expected"),
    [("/segments?date=2025-01-01", "/segments?date=2025-01-01"), (None, "/"),
     ("//evil.example", "/"), ("https://evil.example", "/"), ("/\\evil.example", "/"),
     ("segments", "/")],
)  # fmt: skip
def test_sign_in_goes_back_to_this_site_only(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_page_cache_rebuilds_when_the_store_changes() -> None:
    cache = PageCache(ttl=60)
    built: list[int] = []

    def build() -> int:
        built.append(1)
        return len(built)

    assert cache.get("k", "v1", build) == 1
    assert cache.get("k", "v1", build) == 1
    assert cache.get("k", "v2", build) == 2  # a new run or new lines: built again
    expired = PageCache(ttl=0)
    expired.get("k", "v", build)
    assert expired.get("k", "v", build) == 4


def test_chart_svg_is_named_by_its_caption_and_carries_no_vega_aria() -> None:
    rows = [{"s": "A", "v": 0.5}, {"s": "B", "v": 0.25}]
    chart = charts.bars(
        "Share", rows, "s", "v", "Segment", "Share", "A has twice B's share.", "percent"
    )
    svg = str(chart.svg)
    assert svg.startswith(f'<svg role="img" aria-labelledby="{chart.ident}-title ')
    assert "aria-roledescription" not in svg and "graphics-symbol" not in svg
    assert " style=" not in svg  # the CSP allows no inline styles
    assert [c.key for c in chart.columns] == ["s", "v"]


def test_vendored_htmx_is_the_pinned_release() -> None:
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    version = lock["packages"]["node_modules/htmx.org"]["version"]
    vendored = ROOT / f"src/omnix/entrypoints/web/static/vendor/htmx-{version}.min.js"
    assert vendored.exists(), f"vendor htmx {version} (package-lock.json) into {vendored}"
    installed = ROOT / "node_modules/htmx.org/dist/htmx.min.js"
    if installed.exists():  # after `npm ci` (make test): the very file npm installed
        assert installed.read_bytes() == vendored.read_bytes()


def test_due_words() -> None:
    assert render.due_words("2025-05-03", "2025-05-01") == "due in 2 days"
    assert render.due_words(date(2025, 5, 2), date(2025, 5, 1), 0) == "due in 1 day"
    assert render.due_words("2025-05-01", "2025-05-01", None) == "due today"
    assert render.due_words("2025-05-01", "2025-05-01", 3) == "overdue by 3 days"
    assert render.due_words("2025-05-01", "2025-05-01", 1) == "overdue by 1 day"


def test_csv_cells_are_never_formulas() -> None:
    from omnix.entrypoints.web.replenishment import _cell

    assert _cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert [_cell(v) for v in ("+1", "-1", "@a", "\tx")] == ["'+1", "'-1", "'@a", "'\tx"]
    assert _cell("Whole milk 1L") == "Whole milk 1L" and _cell(None) == ""


def test_segment_category_chart_says_what_its_shares_are_of() -> None:
    """Without prices a segment's category shares are of items bought, and the chart's text
    alternative and axis say so instead of "spent ... of its net spend" (was "– of")."""
    from omnix.entrypoints.web.segments import category_chart

    spend = category_chart("Lost", [{"category": "dairy", "share": 0.4, "basis": "spend"}])
    items = category_chart("Lost", [{"category": "dairy", "share": 0.75, "basis": "items"}])
    assert spend is not None and items is not None
    assert "spent most on dairy (40.0 % of its net spend)" in spend.summary
    assert "bought most in dairy (75.0 % of its items; the data has no prices)" in items.summary
    assert [c.label for c in items.columns][-1] == "Share of the segment's items"


def test_a_share_changes_in_points_not_percent() -> None:
    """ "Repeat rate 83.2 % ▲ +7.7 %" was a relative change: 77.2 % -> 83.2 % is 6.0 points."""
    from omnix.services.dashboard import Kpi

    rate = Kpi("repeat_rate", "Repeat rate", 0.832, 0.772, "share")
    assert rate.change == pytest.approx(0.06)
    assert Kpi("repeat_rate", "Repeat rate", 0.1, 0.0, "share").change == pytest.approx(0.1)
    assert Kpi("customers", "Customers", 120, 100, "count").change == pytest.approx(0.2)
    assert Kpi("customers", "Customers", 120, 0, "count").change is None
    assert render.signed_points(-0.013) == "\u22121.3 points"
    card = render.environment().from_string(
        '{% from "molecules/kpi_card.html" import kpi_card %}{{ kpi_card(k, "vs before") }}'
    )
    text = card.render(k=rate)
    assert "up +6.0 points" in text and "83.2 %" in text and "before: 77.2 %" in text
    assert "up +20.0 %" in card.render(k=Kpi("customers", "Customers", 120, 100, "count"))


def test_unknown_revenue_shows_why_and_draws_no_revenue_chart() -> None:
    """Data without prices: a KPI card with no value says why instead of "no earlier figure",
    and neither the monthly revenue chart nor the revenue-share chart is drawn."""
    import datetime as dt

    from omnix.entrypoints.web.overview import overview_charts
    from omnix.entrypoints.web.segments import share_chart
    from omnix.services.dashboard import Kpi, Overview

    card = render.environment().from_string(
        '{% from "molecules/kpi_card.html" import kpi_card %}{{ kpi_card(k, "vs before") }}'
    )
    note = "unknown: the data holds no prices"
    text = card.render(k=Kpi("net_revenue", "Net revenue", None, None, "currency", note))
    assert note in text and "no earlier figure" not in text and "vs before" not in text
    months = [
        {"month": dt.date(2024, m, 1), "net_revenue": None, "orders": 3, "customers": 2}
        for m in (1, 2)
    ]
    data = Overview(dt.date(2024, 3, 1), 30, [], months, None, None)
    assert [c.title for c in overview_charts(data)] == ["Active customers by month"]
    priced = [{**m, "net_revenue": 10.0} for m in months]
    charts = overview_charts(Overview(dt.date(2024, 3, 1), 30, [], priced, None, None))
    assert [c.title for c in charts] == ["Net revenue by month", "Active customers by month"]
    rows = [{"segment": "Loyal", "share": 1.0, "revenue_share": None}]
    assert share_chart(rows) is None
    assert share_chart([{**rows[0], "revenue_share": 1.0}]) is not None
