"""The spending profile: what a customer's purchases say about how they spend, never who they
are (Ibis, any backend). One row per customer, each measure 0..1 with the categories that
contribute most to it.

Over purchase lines (sales of real products, quantity > 0, unit price > 0) before `as_of`,
leaving out the categories in `excluded` (protected attributes, domain/privacy.py):

- `price_tier_index`: mean over the customer's lines of the unit price's percent rank within
  its category (analytics/profiles.py `tiered_lines`: 0 = always the cheapest, 1 = always the
  dearest).
- `private_label_share`: share of spend on lines whose brand is known that went to private
  labels (a brand equal to a configured name, or starting with it and a space: "Omni" covers
  "Omni Finest"; case-insensitive). NULL when the customer bought no branded line or no
  private-label names are configured: unknown, not 0.
- `promo_sensitivity`: share of spend on lines priced at least `discount` (default 5 %) below
  the product's median unit price over all customers' purchase lines: discounts detected from
  the price history, since the contract has no promotion flag. Slow price drift (inflation)
  stays inside the 5 %; a 10 % promotion does not.
- `premium_category_share`: share of categorised spend in premium categories: those whose
  median unit price is in the top quintile of category medians (percent rank >= 0.8). NULL
  without categorised spend (a store without categories says nothing about premium).

`*_categories`: up to `top` categories adding most to each measure, as "a, b, c". A category's
contribution is its part of the measure's numerator over the same denominator (its lines' tiers
over all lines; its private-label, discounted or premium spend over the matching total), so the
contributions sum to the measure.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import ibis
from ibis import _

from omnix.analytics.profiles import KEY, purchase_lines, tiered_lines
from omnix.domain import contract as c

Table = Any  # ibis.Table
DISCOUNT = 0.05
PREMIUM_RANK = 0.8
TOP = 3
MEASURES = ("price_tier", "private_label", "promo", "premium")
COLUMNS = (
    "price_tier_index", "private_label_share", "promo_sensitivity", "premium_category_share",
    *(f"{m}_categories" for m in MEASURES),
)  # fmt: skip


def _brands(lines: Table, names: Sequence[str]) -> Table:
    """One row per distinct brand: `branded` (known, not blank) and `private` (1/0). String
    work on a few hundred brands instead of every line (it took 26 s at 10M lines)."""
    brands = lines.select(c.BRAND).distinct()
    b = brands[c.BRAND].strip().lower()
    known = brands[c.BRAND].notnull() & (b != "")
    private = ibis.literal(False)
    for name in names:
        n = name.strip().lower()
        private = private | (b == n) | b.startswith(n + " ")
    return brands.select(
        c.BRAND, branded=ibis.ifelse(known, 1, 0), private=ibis.ifelse(known & private, 1, 0)
    )


def _without(lines: Table, excluded: Sequence[str]) -> Table:
    if not excluded:
        return lines
    return lines.filter(lines[c.CATEGORY].isnull() | ~lines[c.CATEGORY].isin(excluded))


def flagged_lines(
    tx: Table,
    as_of: datetime,
    private_labels: Sequence[str] = (),
    excluded: Sequence[str] = (),
    discount: float = DISCOUNT,
) -> Table:
    """Priced purchase lines with `tier` (0..1), `discounted`, `branded`, `private` and
    `premium` flags (1/0) and `amount` (currency). Store-wide statistics (price ranks, typical
    product prices, premium categories) use every customer's lines."""
    priced = _without(purchase_lines(tx, as_of).filter(_[c.UNIT_PRICE] > 0), excluded)
    typical = priced.group_by(c.PRODUCT_ID).aggregate(typical_price=_[c.UNIT_PRICE].median())
    medians = (
        priced.filter(priced[c.CATEGORY].notnull())
        .group_by(c.CATEGORY)
        .aggregate(category_median=_[c.UNIT_PRICE].median())
    )
    ranked = medians.mutate(
        premium=ibis.ifelse(
            ibis.percent_rank().over(order_by="category_median") >= PREMIUM_RANK, 1, 0
        )
    ).select(c.CATEGORY, "premium")
    # ranks are within a category, so leaving whole categories out after ranking is the same
    lines = _without(tiered_lines(tx, as_of, (c.CATEGORY, c.BRAND, c.PRODUCT_ID, "amount")),
                     excluded)  # fmt: skip
    out = (
        lines.left_join(typical, c.PRODUCT_ID)
        .left_join(ranked, c.CATEGORY)
        .left_join(_brands(priced, private_labels), c.BRAND)
    )
    cheap = out[c.UNIT_PRICE] < out.typical_price * (1.0 - discount)
    return out.select(
        KEY, c.CATEGORY, "amount", "tier",
        discounted=ibis.ifelse(cheap, 1, 0),
        branded=out.branded.fill_null(0),  # NULL brand joins nothing: not branded
        private=out.private.fill_null(0),
        premium=out.premium.fill_null(0),
    )  # fmt: skip


def _per_category(lines: Table) -> Table:
    """Per (customer, category): the numerators of every measure and their totals."""
    spent = lines.amount
    per = lines.group_by([KEY, c.CATEGORY]).aggregate(
        n=_.count().cast("float64"),
        tier_sum=_.tier.sum(),
        spend=spent.sum(),
        branded_spend=ibis.ifelse(lines.branded == 1, spent, 0.0).sum(),
        private_spend=ibis.ifelse(lines.private == 1, spent, 0.0).sum(),
        promo_spend=ibis.ifelse(lines.discounted == 1, spent, 0.0).sum(),
        premium_spend=ibis.ifelse(lines.premium == 1, spent, 0.0).sum(),
    )
    w = ibis.window(group_by=KEY)
    return per.mutate(
        n_total=per.n.sum().over(w),
        spend_total=per.spend.sum().over(w),
        branded_total=per.branded_spend.sum().over(w),
        categorised_total=ibis.ifelse(per[c.CATEGORY].notnull(), per.spend, 0.0).sum().over(w),
    )


def _contributions(per: Table) -> Table:
    """Long table (customer, measure, category, contribution) of categorised rows."""
    per = per.filter(per[c.CATEGORY].notnull())
    parts = {
        "price_tier": per.tier_sum / per.n_total,
        "private_label": per.private_spend / per.branded_total.nullif(0.0),
        "promo": per.promo_spend / per.spend_total.nullif(0.0),
        "premium": per.premium_spend / per.categorised_total.nullif(0.0),
    }
    rows = [
        per.select(KEY, c.CATEGORY, measure=ibis.literal(name), contribution=value)
        for name, value in parts.items()
    ]
    return ibis.union(*rows)


def _top_lists(per: Table, top: int) -> Table:
    """Per customer: `<measure>_categories` = its `top` biggest contributors, "a, b, c"."""
    long = _contributions(per)
    long = long.filter(long.contribution > 0)
    order = [ibis.desc("contribution"), c.CATEGORY]
    ranked = long.mutate(
        rank=ibis.row_number().over(ibis.window(group_by=[KEY, "measure"], order_by=order))
    )
    ranked = ranked.filter(ranked["rank"] < top)
    cells: dict[str, Any] = {}
    for m in MEASURES:
        for k in range(top):
            hit = (ranked.measure == m) & (ranked["rank"] == k)
            cells[f"{m}_{k}"] = ibis.ifelse(hit, ranked[c.CATEGORY], None).max()
    wide = ranked.group_by(KEY).aggregate(**cells)
    lists: dict[str, Any] = {}
    for m in MEASURES:
        text = wide[f"{m}_0"]
        for k in range(1, top):
            text = text + (ibis.literal(", ") + wide[f"{m}_{k}"]).fill_null("")
        lists[f"{m}_categories"] = text
    return wide.select(KEY, **lists)


def per_category(
    tx: Table,
    as_of: datetime,
    permitted: Table | None = None,
    private_labels: Sequence[str] = (),
    excluded: Sequence[str] = (),
    discount: float = DISCOUNT,
) -> Table:
    """Per (customer in `permitted`, category): line count, tier sum and spend by kind, with
    the customer's totals. Customers outside `permitted` (a table with customer_id; None =
    everyone) are filtered out before any per-customer aggregation. Small (customers x
    categories): a service may materialise it before `from_categories` reads it several times."""
    lines = flagged_lines(tx, as_of, private_labels, excluded, discount)
    if permitted is not None:
        lines = lines.semi_join(permitted.select(KEY), KEY)
    return _per_category(lines)


def from_categories(per: Table, has_labels: bool, top: int = TOP) -> Table:
    """The spending profile (module docstring) from `per_category`'s rows. `has_labels`: were
    private-label names configured (without them the share is unknown: NULL)."""
    totals = per.group_by(KEY).aggregate(
        tier_sum=_.tier_sum.sum(), n=_.n.sum(), spend=_.spend.sum(),
        branded=_.branded_spend.sum(), private=_.private_spend.sum(),
        promo=_.promo_spend.sum(), premium=_.premium_spend.sum(),
        categorised=ibis.ifelse(_[c.CATEGORY].notnull(), _.spend, 0.0).sum(),
    )  # fmt: skip
    private_share = (
        totals.private / totals.branded.nullif(0.0) if has_labels else ibis.null("float64")
    )
    measures = totals.select(
        KEY,
        price_tier_index=totals.tier_sum / totals.n,
        private_label_share=private_share,
        promo_sensitivity=totals.promo / totals.spend.nullif(0.0),
        premium_category_share=totals.premium / totals.categorised.nullif(0.0),
    )
    out = measures.left_join(_top_lists(per, top), KEY).drop(f"{KEY}_right")
    if not has_labels:
        out = out.mutate(private_label_categories=ibis.null("string"))
    return out.select(KEY, *COLUMNS)


def spending_profile(
    tx: Table,
    as_of: datetime,
    permitted: Table | None = None,
    private_labels: Sequence[str] = (),
    excluded: Sequence[str] = (),
    discount: float = DISCOUNT,
    top: int = TOP,
) -> Table:
    """One row per customer in `permitted` (None = everyone) with priced purchases before
    `as_of`: the measures and category lists of the module docstring.

    Example: `spending_profile(tx, datetime(2025, 7, 1, tzinfo=UTC), private_labels=["Omni"])`.
    """
    per = per_category(tx, as_of, permitted, private_labels, excluded, discount)
    return from_categories(per, bool(private_labels), top)
