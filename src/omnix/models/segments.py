"""RFM scores (quintiles 1..5) and the named RFM segments, with a reason in words per customer.

Scores: every customer gets R, F and M from 1 to 5 by quintile of the customer base, from the
share of customers with a strictly lower value: score = 1 + floor(5 x percent rank), where
percent rank = (customers strictly below) / (n - 1). Equal values get equal scores (so many
one-order customers all get F = 1 and a score may stay empty), and recency is scored so 5 =
most recent. FM is the mean of F and M (1, 1.5, ..., 5).

Segments come from a rule table, data not code: each rule names a segment, an R range and an
FM range (inclusive); the first rule that matches wins. `DEFAULT_RULES` is the 11-segment
R x FM map popularised by Putler's RFM analysis guide (https://www.putler.com/rfm-analysis/,
also reproduced by e.g. https://docs.churned.io/ .../rfm-model). Its published ranges overlap;
each rule here keeps a rectangle inside the published one and the table is ordered so that the
result is a partition of all 125 (R, F, M) combinations (tested); docs/DECISIONS_LOG.md shows
the grid. A table can be passed in or loaded from TOML/JSON (`rules_from_mapping`).

    >>> scores = rfm_scores(recency_days, orders, revenue)           # doctest: +SKIP
    >>> names = assign(scores, DEFAULT_RULES)                         # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from omnix.domain.errors import ConfigError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
SCORES = 5


@dataclass(frozen=True, slots=True)
class SegmentRule:
    """A named segment: customers with R in [r_min, r_max] and FM in [fm_min, fm_max]."""

    name: str
    r_min: int
    r_max: int
    fm_min: float
    fm_max: float
    description: str = ""

    def matches(self, r: IntArray, fm: FloatArray) -> npt.NDArray[np.bool_]:
        return (r >= self.r_min) & (r <= self.r_max) & (fm >= self.fm_min) & (fm <= self.fm_max)


# fmt: off
DEFAULT_RULES: tuple[SegmentRule, ...] = (
    SegmentRule("Champions", 4, 5, 4.0, 5.0, "bought recently, buy often and spend the most"),
    SegmentRule("Loyal", 3, 5, 3.5, 5.0, "buy regularly and spend well, still recent"),
    SegmentRule("Potential Loyalist", 4, 5, 2.0, 3.0, "recent, with a few orders and fair spend"),
    SegmentRule("New", 5, 5, 1.0, 1.5, "bought very recently, for the first times"),
    SegmentRule("Promising", 4, 4, 1.0, 1.5, "fairly recent shoppers who have not spent much"),
    SegmentRule("Need Attention", 3, 3, 2.0, 3.0, "average recency, frequency and spend"),
    SegmentRule("About to Sleep", 3, 3, 1.0, 1.5, "below-average recency, few orders, low spend"),
    SegmentRule("Can't Lose Them", 1, 1, 4.0, 5.0, "used to buy often and spend big, long ago"),
    SegmentRule("At Risk", 1, 2, 2.5, 5.0, "bought often and spent well, but not lately"),
    SegmentRule("Hibernating", 2, 2, 1.0, 2.0, "low spend, few orders, last purchase long ago"),
    SegmentRule("Lost", 1, 1, 1.0, 2.0, "lowest recency, frequency and spend"),
)
# fmt: on


@dataclass(frozen=True, slots=True)
class RfmScores:
    """Per-customer scores (1..5) and the values they came from."""

    recency_days: FloatArray
    orders: FloatArray
    monetary: FloatArray
    r: IntArray
    f: IntArray
    m: IntArray

    @property
    def fm(self) -> FloatArray:
        return (self.f + self.m) / 2.0


def quintile_scores(values: npt.ArrayLike) -> IntArray:
    """1..5 from the share of values strictly below each value; ties get the same score.

    Example: quintile_scores([1, 1, 1, 2, 9]) -> [1, 1, 1, 4, 5].
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return np.zeros(0, dtype=np.int64)
    below = np.searchsorted(np.sort(v), v, side="left")
    rank = below / max(v.size - 1, 1)
    scores: IntArray = np.clip(1 + np.floor(SCORES * rank), 1, SCORES).astype(np.int64)
    return scores


def rfm_scores(
    recency_days: npt.ArrayLike, orders: npt.ArrayLike, monetary: npt.ArrayLike
) -> RfmScores:
    """Score recency (days since the last purchase: fewer = higher), orders and net spend."""
    rec = np.asarray(recency_days, dtype=np.float64)
    freq = np.asarray(orders, dtype=np.float64)
    mon = np.asarray(monetary, dtype=np.float64)
    if not len(rec) == len(freq) == len(mon):
        raise ValueError("recency_days, orders and monetary must have the same length")
    return RfmScores(
        recency_days=rec, orders=freq, monetary=mon,
        r=quintile_scores(-rec), f=quintile_scores(freq), m=quintile_scores(mon),
    )  # fmt: skip


def assign(scores: RfmScores, rules: Sequence[SegmentRule] = DEFAULT_RULES) -> IntArray:
    """Index into `rules` of each customer's segment (first match wins).

    Raises ConfigError when a customer matches no rule: a table must cover every score."""
    fm = scores.fm
    out = np.full(len(scores.r), -1, dtype=np.int64)
    for k, rule in enumerate(rules):
        out[(out < 0) & rule.matches(scores.r, fm)] = k
    if np.any(out < 0):
        i = int(np.flatnonzero(out < 0)[0])
        raise ConfigError(
            f"the segment rules cover no rule for R={scores.r[i]}, FM={fm[i]:g}: "
            "add a rule (or widen one) so every score combination has a segment"
        )
    return out


def uncovered(rules: Sequence[SegmentRule]) -> list[tuple[int, int, int]]:
    """(R, F, M) combinations no rule matches; empty for a usable table."""
    grid = np.array([(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)])
    r, fm = grid[:, 0], (grid[:, 1] + grid[:, 2]) / 2.0
    hit = np.zeros(len(grid), dtype=bool)
    for rule in rules:
        hit |= rule.matches(r, fm)
    return [(int(a), int(b), int(c)) for a, b, c in grid[~hit]]


def rules_from_mapping(data: Mapping[str, Any]) -> tuple[SegmentRule, ...]:
    """A rule table from parsed TOML/JSON: {"segments": [{"name", "r": [lo, hi], "fm": [lo, hi],
    "description"}, ...]} in priority order. Refuses a table that leaves a combination out."""
    try:
        rules = tuple(
            SegmentRule(
                name=str(item["name"]),
                r_min=int(item["r"][0]),
                r_max=int(item["r"][1]),
                fm_min=float(item["fm"][0]),
                fm_max=float(item["fm"][1]),
                description=str(item.get("description", "")),
            )
            for item in data["segments"]
        )
    except (KeyError, IndexError, TypeError, ValueError) as err:
        raise ConfigError(
            f"segment rules need [[segments]] with name, r = [lo, hi], fm = [lo, hi] ({err})"
        ) from None
    gaps = uncovered(rules)
    if gaps:
        shown = ", ".join(f"R{r}F{f}M{m}" for r, f, m in gaps[:5])
        raise ConfigError(f"segment rules leave {len(gaps)} score combinations out, e.g. {shown}")
    return rules


def days_ago(days: float) -> str:
    """A recency (days before the as-of midnight) in calendar days, as the rhythm sentences
    count them: 0.3 (17:00 the evening before) is "yesterday", 2.4 is "3 days ago"."""
    whole = math.ceil(days - 1e-6)
    if whole <= 0:
        return "today"
    return "yesterday" if whole == 1 else f"{whole:,} days ago"


def _days(days: float) -> str:
    return f"bought {days_ago(days)}"


def reason(
    rule: SegmentRule,
    recency_days: float,
    orders: float,
    monetary: float,
    r: int,
    f: int,
    m: int,
    currency: str = "",
    by_items: bool = False,
) -> str:
    """Why a customer is in a segment, e.g.
    "bought 3 days ago (R=5), 12 orders (F=5), spent £840 (M=4): Champions";
    `by_items`: the monetary score is of items bought ("412 items (M=5)"), for data without
    prices."""
    n = round(orders)
    if by_items:
        k = round(monetary)
        value = f"{k:,} item{'s' if k != 1 else ''}"
    else:
        value = f"spent {'-' if round(monetary) < 0 else ''}{currency}{abs(monetary):,.0f}"
    return (
        f"{_days(recency_days)} (R={r}), {n:,} order{'s' if n != 1 else ''} (F={f}), "
        f"{value} (M={m}): {rule.name}"
    )


def reasons(
    scores: RfmScores,
    index: IntArray,
    rules: Sequence[SegmentRule],
    currency: str = "",
    by_items: bool = False,
) -> list[str]:
    """`reason` for every customer (index from `assign`)."""
    return [
        reason(rules[k], d, o, mo, r, f, m, currency, by_items)
        for k, d, o, mo, r, f, m in zip(
            index.tolist(), scores.recency_days.tolist(), scores.orders.tolist(),
            scores.monetary.tolist(), scores.r.tolist(), scores.f.tolist(), scores.m.tolist(),
            strict=True,
        )
    ]  # fmt: skip


CURRENCY_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$", "JPY": "¥"}


def currency_prefix(code: str | None) -> str:
    """'£' for GBP ..., 'CHF ' for other codes, '' when unknown."""
    if not code:
        return ""
    return CURRENCY_SYMBOLS.get(code.upper(), f"{code.upper()} ")
