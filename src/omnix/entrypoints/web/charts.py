"""Charts: Vega-Lite specs (altair) rendered to SVG on the server (vl-convert), so pages need
no chart library in the browser and work offline.

Every chart comes with what a person who cannot see it needs: a one-sentence summary (the
figure's caption and the SVG's accessible name) and its data as a table. The SVG is inlined
with Vega's own ARIA attributes removed (the summary and the table say it better) and
`role="img"` on the root: HTML has no element that names an inline SVG graphic.

Colours come from PALETTE: each mark colour has >= 3:1 contrast against both the light and
the dark page background (WCAG 1.4.11; tested); text and axes follow the theme through CSS.
Rendering costs about 0.03-0.07 s per chart after a one-off start of about 1 s (`warm_up`);
identical specs are served from an LRU cache.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import count
from typing import Any, Final

from markupsafe import Markup

# Tableau 10's blue, red, green, purple, brown: relative luminance 0.1-0.3, so >= 3:1 on
# white and on the dark theme's #14171c (tests/unit/test_web_format.py checks it)
PALETTE: Final = ("#4c78a8", "#e45756", "#54a24b", "#b279a2", "#9d755d")
LIGHT_BG: Final = "#ffffff"
DARK_BG: Final = "#14171c"
WIDTH, HEIGHT = 560, 220
_ARIA = re.compile(r'\s(?:role|aria-[a-z]+)="[^"]*"')
_ids = count(1)


@dataclass(slots=True)
class Column:
    key: str
    label: str
    format: str = "text"  # text | number | money | percent | day


@dataclass(slots=True)
class Chart:
    """An SVG chart with its text alternative and its data as a table."""

    title: str
    summary: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    spec: dict[str, Any] = field(repr=False, default_factory=dict)
    ident: str = field(default_factory=lambda: f"chart-{next(_ids)}")

    @property
    def svg(self) -> Markup:
        return Markup(_accessible(render_svg(json.dumps(self.spec, sort_keys=True)), self.ident))


@lru_cache(maxsize=256)
def render_svg(spec_json: str) -> str:
    import vl_convert as vlc

    svg: str = vlc.vegalite_to_svg(json.loads(spec_json))
    return svg


def _accessible(svg: str, ident: str) -> str:
    svg = _ARIA.sub("", svg)
    return svg.replace(
        "<svg ", f'<svg role="img" aria-labelledby="{ident}-title {ident}-summary" ', 1
    )


def warm_up() -> threading.Thread:
    """Start the renderer in the background (its first chart takes about a second)."""

    def run() -> None:
        data = [{"x": 1, "y": 1}, {"x": 2, "y": 2}]
        render_svg(json.dumps(_finish(_base(data).mark_line().encode(x="x:Q", y="y:Q"))))

    thread = threading.Thread(target=run, name="omnix-chart-warm-up", daemon=True)
    thread.start()
    return thread


def _base(rows: list[dict[str, Any]]) -> Any:
    import altair as alt

    data = alt.Data(values=rows)  # type: ignore[no-untyped-call]
    return alt.Chart(data).properties(width=WIDTH, height=HEIGHT)


def _finish(chart: Any) -> dict[str, Any]:
    spec: dict[str, Any] = chart.to_dict()
    spec["config"] = {
        "aria": False,
        "background": "transparent",
        "font": "sans-serif",
        "range": {"category": list(PALETTE)},
        "axis": {"labelFontSize": 12, "titleFontSize": 12},
        "legend": {"labelFontSize": 12, "titleFontSize": 12, "orient": "bottom"},
        "line": {"strokeWidth": 2.5},
    }
    return spec


def time_series(
    title: str, rows: list[dict[str, Any]], x: str, y: str, x_title: str, y_title: str,
    summary: str, mark: str = "line", y_format: str = "number",
) -> Chart:  # fmt: skip
    """Values per period (month) as a line with points, or as bars. `x` holds each period's
    label ("Jan 2025"), in order: an ordinal axis, so labels never depend on a time zone."""
    import altair as alt

    base = _base(rows)
    drawn = base.mark_line(point=True) if mark == "line" else base.mark_bar()
    spec = _finish(
        drawn.encode(
            x=alt.X(f"{x}:O", title=x_title, sort=None, axis=alt.Axis(labelAngle=-40)),
            y=alt.Y(f"{y}:Q", title=y_title),
            color=alt.value(PALETTE[0]),
        )
    )
    columns = [Column(x, x_title), Column(y, y_title, y_format)]
    return Chart(title, summary, columns, rows, spec)


def bars(
    title: str, rows: list[dict[str, Any]], category: str, value: str, category_title: str,
    value_title: str, summary: str, value_format: str = "number",
) -> Chart:  # fmt: skip
    """Horizontal bars, one per category, in the rows' order."""
    import altair as alt

    order = [r[category] for r in rows]
    height = max(60, 26 * len(rows))
    axis_format = ".0%" if value_format == "percent" else ",.0f"
    spec = _finish(
        _base(rows)
        .mark_bar()
        .encode(
            y=alt.Y(f"{category}:N", title=category_title, sort=order),
            x=alt.X(f"{value}:Q", title=value_title, axis=alt.Axis(format=axis_format)),
            color=alt.value(PALETTE[0]),
        )
        .properties(height=height)
    )
    columns = [Column(category, category_title), Column(value, value_title, value_format)]
    return Chart(title, summary, columns, rows, spec)


def calibration(title: str, rows: list[dict[str, Any]], summary: str) -> Chart:
    """Reliability diagram: per method, mean predicted probability against the observed
    rate in each probability band, with the diagonal of perfect calibration."""
    import altair as alt

    points = [r for r in rows if r["mean_predicted"] is not None and r["count"]]
    diagonal = alt.Chart(alt.Data(values=[{"p": 0.0}, {"p": 1.0}]))  # type: ignore[no-untyped-call]
    line = diagonal.mark_line(strokeDash=[4, 4], color="#767676").encode(
        x=alt.X("p:Q"), y=alt.Y("p:Q")
    )
    methods = sorted({r["method"] for r in points})
    curves = (
        _base(points)
        .mark_line(point=True)
        .encode(
            x=alt.X("mean_predicted:Q", title="Predicted probability",
                    scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("observed_rate:Q", title="Observed rate", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("method:N", title="Method", scale=alt.Scale(domain=methods)),
            shape=alt.Shape("method:N", title="Method", scale=alt.Scale(domain=methods)),
        )
    )  # fmt: skip
    spec = _finish(alt.layer(line, curves).properties(width=WIDTH, height=300))
    columns = [
        Column("method", "Method"),
        Column("band", "Probability band"),
        Column("count", "Pairs", "number"),
        Column("mean_predicted", "Mean predicted", "percent"),
        Column("observed_rate", "Observed rate", "percent"),
    ]
    table = [{**r, "band": f"{r['lower']:.1f}–{r['upper']:.1f}"} for r in rows if r["count"]]
    return Chart(title, summary, columns, table, spec)
