"""Templates to HTML: one Jinja environment (autoescaped, strict about undefined names), the
number and date formats every page shares, and the response headers of a page: its
Content-Security-Policy and a Server-Timing header with the server's time for it.

Templates live in `templates/`: `atoms/` (the smallest parts: numbers, badges, buttons),
`molecules/` (a KPI card, a form field, a pager), `organisms/` (the site header, a data table,
a chart figure with its text and table), `pages/` (one per route), all on `base.html`.
"""

from __future__ import annotations

import math
import time
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Final

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from omnix import __version__
from omnix.entrypoints.numbers import unsigned_zero

# Scripts and styles from this server only; charts are inline SVG (attributes, no inline
# style); forms post here only; nothing may frame the dashboard.
CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
CLOCK: Final = "omnix_started"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("omnix.entrypoints.web", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        number=number, money=money, percent=percent, signed_percent=signed_percent,
        signed_points=signed_points, ago=ago, days_ago=days_ago,
        day=day, moment=moment, days=days, dict_merge=lambda a, b: {**a, **b},
        zip_pairs=lambda xs: [(x, x) for x in xs], weekday=weekday,
    )  # fmt: skip
    env.globals["version"] = __version__
    return env


def start_clock(request: Request) -> None:
    request.state.__setattr__(CLOCK, time.perf_counter())


def elapsed_ms(request: Request) -> float:
    started = getattr(request.state, CLOCK, None)
    return (time.perf_counter() - started) * 1000.0 if started is not None else 0.0


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render `pages/<template>` with the shared context; Server-Timing: app;dur=ms."""
    rendered = time.perf_counter()
    html = environment().get_template(f"pages/{template}").render(request=request, **context)
    render_ms = (time.perf_counter() - rendered) * 1000.0
    response = HTMLResponse(html, status_code=status)
    headers(response, request, render_ms)
    return response


def headers(response: Any, request: Request, render_ms: float | None = None) -> None:
    """The dashboard's own response headers (the API's security headers add the rest)."""
    timing = f"app;dur={elapsed_ms(request):.1f}"
    if render_ms is not None:
        timing += f", tpl;dur={render_ms:.1f}"
    response.headers["server-timing"] = timing
    response.headers["content-security-policy"] = CSP


# ---------------------------------------------------------------------- formats
def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def number(value: Any, digits: int = 0) -> str:
    """12,345 (digits after the point on request); an en dash for unknown; never "-0"."""
    if _missing(value):
        return "–"
    return unsigned_zero(f"{float(value):,.{digits}f}")


def money(value: Any, digits: int = 0) -> str:
    """Store currency, unlabelled (the store may hold several): 1,234 or -56."""
    return number(value, digits)


def percent(value: Any, digits: int = 1) -> str:
    """0.253 -> 25.3 %."""
    if _missing(value):
        return "–"
    return f"{float(value) * 100:.{digits}f} %"


def signed_percent(value: Any, digits: int = 1) -> str:
    """0.05 -> +5.0 %, -0.1 -> -10.0 % (a real minus sign)."""
    if _missing(value):
        return "–"
    text = f"{float(value) * 100:+.{digits}f} %"
    return text.replace("-", "\u2212")


def signed_points(value: Any, digits: int = 1) -> str:
    """A change of a share in percentage points: 0.06 -> +6.0 points (a real minus sign)."""
    if _missing(value):
        return "–"
    return f"{float(value) * 100:+.{digits}f} points".replace("-", "\u2212")


def day(value: Any) -> str:
    """2025-11-25 as "Tue 25 Nov 2025"."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        return "–"
    return str(value.strftime("%a %d %b %Y"))


def moment(value: Any) -> str:
    """A timestamp in UTC to the minute."""
    if not isinstance(value, datetime):
        return "–"
    return value.strftime("%Y-%m-%d %H:%M UTC")


WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def weekday(value: Any) -> str:
    """0 -> Monday (the profiles' convention)."""
    if isinstance(value, int) and 0 <= value < len(WEEKDAYS):
        return WEEKDAYS[value]
    return "–"


def due_words(expected: Any, as_of: Any, days_overdue: Any = 0) -> str:
    """When a product is needed, from its expected next date seen on `as_of`: "due in 2
    days", "due today", "overdue by 3 days" (days past the usual interval)."""
    overdue = int(days_overdue or 0)
    if overdue > 0:
        return f"overdue by {overdue} day{'s' if overdue != 1 else ''}"
    ahead = (date.fromisoformat(str(expected)[:10]) - date.fromisoformat(str(as_of)[:10])).days
    if ahead <= 0:
        return "due today"
    return f"due in {ahead} day{'s' if ahead != 1 else ''}"


def days_ago(value: Any) -> str:
    """A recency in calendar days, as the segment reasons say it: 2.4 -> "3 days ago"."""
    if _missing(value):
        return "–"
    from omnix.models.segments import days_ago as words

    return words(float(value))


def ago(value: Any) -> str:
    """How long ago, from a number of days: "less than an hour ago", "5 hours ago",
    "1 day ago", "2,160 days ago"."""
    if _missing(value):
        return "–"
    hours = float(value) * 24
    if hours < 1:
        return "less than an hour ago"
    if hours < 23.5:
        n = round(hours)
        return f"{n} hour{'s' if n != 1 else ''} ago"
    return f"{days(value)} ago"


def days(value: Any, digits: int = 0) -> str:
    """A number of days in words: "1 day", "12 days"."""
    if _missing(value):
        return "–"
    n = round(float(value), digits) if digits else round(float(value))
    unit = "day" if abs(float(n)) == 1 else "days"
    return f"{number(n, digits)} {unit}"
