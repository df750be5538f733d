"""One behavioural profile row per customer, as Ibis expressions (any backend).

Everything is computed where the data lives; only one compact row per customer leaves the store.
Definitions (all before `as_of`, an exclusive UTC instant; days are UTC calendar days, except
the preferred weekday and hour, which are the retailer's local time):

- *Purchase line*: a sale of a real product with quantity > 0 by a known customer. An *order*
  is an order id with at least one purchase line. Return and cancellation lines are not
  orders, but their (negative) amounts are netted into revenue and units.
- `net_revenue` (currency) and `items` (units) are net of returns; `avg_basket_value` =
  net_revenue / orders, `avg_basket_size` = items / orders (units).
- `tenure_days` = as_of - first purchase, `recency_days` = as_of - last purchase (days,
  fractional), so a purchase yesterday at noon is 1.5 days ago at midnight.
- Gaps are days between consecutive *purchase days* (several orders on one day are one visit):
  `typical_gap_days` is their median. (The profile's `regularity` comes from the rhythm engine,
  not from these gaps: services/rhythms.py joins it.)
- `preferred_weekday` (0 = Monday) and `preferred_hour` (0..23) in the retailer's time zone
  (`timezone`, an IANA name such as Europe/London, default UTC; daylight saving applied): the
  most frequent over orders, ties to the earliest; no hour for a customer whose every order
  is at 00:00:00 (dates without a time of day). `main_channel` / `main_store` likewise,
  with the share of orders; `channel_mix` / `store_mix` list every channel / store with its
  share of the customer's orders, most frequent first ("store 75%, online 25%").
- Category mix: `top_category_1..3` by purchase spend with `top_category_k_share` of the
  customer's purchase spend (0..1); lines without a category are left out of the mix. A
  customer whose purchases carry no price (data without prices, e.g. Instacart's) is mixed by
  items bought instead, rather than by a spend of 0 that would rank categories alphabetically.
- `repeat_share`: share of (product, purchase day) purchases that repeat a product the
  customer bought on an earlier day (0..1).
- `price_tier`: per purchase line, the unit price's percent rank among all purchase lines of
  its category (of its product when it has no category), averaged over the customer's lines:
  0 = always the cheapest, 1 = always the dearest.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.datatypes as dt
from ibis import _

from omnix.analytics.overview import customer_lines, with_amount
from omnix.domain import contract as c
from omnix.domain.errors import ConfigError

Table = Any  # ibis.Table
SECONDS_PER_DAY = 86_400
TOP_CATEGORIES = 3
KEY = c.CUSTOMER_ID


def _timezone(zone: str, ts: Any) -> Any:
    """timezone(zone, timestamptz): the local wall-clock time as a naive timestamp. The same
    function, with the same meaning, in DuckDB (ICU) and PostgreSQL."""


_wall_clock: Any = ibis.udf.scalar.builtin(
    _timezone, name="timezone", signature=((dt.string, dt.Timestamp(timezone="UTC")), dt.timestamp)
)


def check_timezone(zone: str) -> str:
    """`zone` if it is an IANA time zone name, else a ConfigError (one line)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown time zone {zone!r} (OMNIX_TIMEZONE takes an IANA name like Europe/Berlin)"
        ) from None
    return zone


def local_time(ts: Any, zone: str) -> Any:
    """A UTC timestamp column as wall-clock time in `zone` (naive). Example:
    local_time(tx.ts, "Europe/Berlin").hour() is the hour a Berlin shop saw."""
    return _wall_clock(check_timezone(zone), ts)


def lines_before(tx: Table, as_of: datetime) -> Table:
    """Customer product lines before `as_of` with `amount`, `day` (days since 1970, UTC) and
    `purchase` (1 for a sale with quantity > 0, else 0)."""
    lines = with_amount(customer_lines(tx)).filter(_[c.TS] < ibis.literal(as_of))
    bought = (lines[c.LINE_TYPE] == "sale") & (lines[c.QUANTITY] > 0)
    return lines.mutate(
        day=(lines[c.TS].epoch_seconds() / SECONDS_PER_DAY).floor().cast("int64"),
        purchase=ibis.ifelse(bought, 1, 0),  # PostgreSQL: no bool -> int
    )


def purchase_lines(tx: Table, as_of: datetime) -> Table:
    """The purchase lines (sales, quantity > 0) of `lines_before`."""
    lines = lines_before(tx, as_of)
    return lines.filter(lines.purchase == 1)


def orders(tx: Table, as_of: datetime) -> Table:
    """One row per (customer, order with a purchase line): ts, day, channel, store."""
    return (
        purchase_lines(tx, as_of)
        .group_by([KEY, c.ORDER_ID])
        .aggregate(
            ts=_[c.TS].min(), day=_.day.min(), channel=_[c.CHANNEL].max(), store=_[c.STORE_ID].max()
        )
    )


def _days_between(later: Any, earlier: Any) -> Any:
    return (later.epoch_seconds() - earlier.epoch_seconds()).cast("float64") / SECONDS_PER_DAY


def totals(tx: Table, as_of: datetime) -> Table:
    """Per customer with an order: first/last purchase, tenure, recency, orders, net money."""
    order_rows = orders(tx, as_of)
    per_orders = order_rows.group_by(KEY).aggregate(
        first_purchase=_.ts.min(),
        last_purchase=_.ts.max(),
        orders=_.count().cast("int64"),
        channels=_.channel.nunique().cast("int64"),
        stores=_.store.nunique().cast("int64"),
    )
    money = (
        lines_before(tx, as_of)
        .group_by(KEY)
        .aggregate(net_revenue=_.amount.sum(), items=_[c.QUANTITY].sum())
    )
    joined = per_orders.inner_join(money, KEY)
    moment = ibis.literal(as_of)
    n = joined.orders.cast("float64")
    # a sum of prices carries float noise (a purchase returned in full: 7.1e-15 or -1.8e-15,
    # shown as "-0"); rounded to a millionth, and + 0.0 turns -0.0 into 0.0
    net = joined.net_revenue.round(6) + 0.0
    return joined.select(
        KEY, "first_purchase", "last_purchase", "orders", "channels", "stores",
        tenure_days=_days_between(moment, joined.first_purchase),
        recency_days=_days_between(moment, joined.last_purchase),
        items=joined["items"], net_revenue=net,
        avg_basket_value=net / n, avg_basket_size=joined["items"] / n,
    )  # fmt: skip


def gaps(tx: Table, as_of: datetime) -> Table:
    """Per customer: purchase days and the typical (median) gap between them in days."""
    days = orders(tx, as_of).select(KEY, "day").distinct()
    window = ibis.window(group_by=KEY, order_by="day")
    rows = days.mutate(gap=(days.day - days.day.lag().over(window)).cast("float64"))
    return rows.group_by(KEY).aggregate(
        purchase_days=_.count().cast("int64"), typical_gap_days=_.gap.median()
    )


def _mode(order_rows: Table, column: str, name: str, mix: str | None = None) -> Table:
    """Per customer: the most frequent non-null value of `column` over orders (ties: smallest)
    and the share of the customer's orders that have it; with `mix`, also every value with its
    share of orders in one readable column, most frequent first ("store 75%, online 25%")."""
    totals_ = order_rows.group_by(KEY).aggregate(n_orders=_.count())
    counts = (
        order_rows.filter(order_rows[column].notnull())
        .group_by([KEY, column])
        .aggregate(n=_.count())
    )
    window = ibis.window(group_by=KEY, order_by=[ibis.desc("n"), column])
    ranked = counts.mutate(rank=ibis.row_number().over(window)).inner_join(totals_, KEY)
    share = ranked.n.cast("float64") / ranked.n_orders
    top = ranked.filter(ranked["rank"] == 0)
    out = top.select(KEY, **{name: top[column], f"{name}_share": share})
    if mix is None:
        return out
    # half up on every engine (DuckDB rounds half to even, PostgreSQL away from zero)
    percent = (share * 100 + 0.5).floor().cast("int64").cast("string")
    label = ranked[column].cast("string") + " " + percent + "%"
    mixes = ranked.group_by(KEY).aggregate(
        **{mix: label.group_concat(", ", order_by=[ranked["rank"]])}
    )
    return out.inner_join(mixes, KEY)


def habits(tx: Table, as_of: datetime, timezone: str = "UTC") -> Table:
    """Per customer: preferred weekday (0 = Monday) and hour (0..23) in `timezone`, main
    channel and store, and the channel and store mix."""
    rows = orders(tx, as_of)
    local = local_time(rows.ts, timezone)
    # a date without a time of day is read as midnight: a customer all of whose orders are
    # at 00:00:00 has no known hour (CDNOW's "preferred hour 0"), not a habit of midnight
    midnight = (local.hour() == 0) & (local.minute() == 0) & (local.second() == 0)
    rows = rows.mutate(weekday=local.day_of_week.index(), hour=local.hour(), timed=~midnight)
    keys = rows.group_by(KEY).aggregate(timed=_.timed.any())
    out = keys
    for column, name, mix in (("weekday", "preferred_weekday", None),
                              ("hour", "preferred_hour", None),
                              ("channel", "main_channel", "channel_mix"),
                              ("store", "main_store", "store_mix")):  # fmt: skip
        mode = _mode(rows, column, name, mix)
        out = out.left_join(mode, KEY).drop(f"{KEY}_right")
    hour = ibis.ifelse(out.timed, out.preferred_hour, ibis.null(out.preferred_hour.type()))
    return out.mutate(preferred_hour=hour).drop(
        ["timed", "preferred_weekday_share", "preferred_hour_share"]
    )


def category_mix(tx: Table, as_of: datetime, top: int = TOP_CATEGORIES) -> Table:
    """Per customer with categorised purchases: `top` categories by spend and their shares
    (by items bought when none of the customer's purchases has a price)."""
    lines = purchase_lines(tx, as_of).filter(_[c.CATEGORY].notnull())
    per = lines.group_by([KEY, c.CATEGORY]).aggregate(
        spend=_.amount.sum(), items=_[c.QUANTITY].sum().cast("float64")
    )
    window = ibis.window(group_by=KEY)
    per = per.mutate(priced=per.spend.sum().over(window) > 0)
    weighed = per.mutate(weight=ibis.ifelse(per.priced, per.spend, per["items"]))
    ranked = weighed.mutate(
        total=weighed.weight.sum().over(window),
        rank=ibis.row_number().over(
            ibis.window(group_by=KEY, order_by=[ibis.desc("weight"), c.CATEGORY])
        ),
    )
    ranked = ranked.filter(ranked["rank"] < top)
    share = ranked.weight / ranked.total.nullif(0.0)
    columns: dict[str, Any] = {}
    for k in range(top):
        hit = ranked["rank"] == k
        columns[f"top_category_{k + 1}"] = ibis.ifelse(hit, ranked[c.CATEGORY], None).max()
        columns[f"top_category_{k + 1}_share"] = ibis.ifelse(hit, share, None).max()
    return ranked.group_by(KEY).aggregate(**columns)


def repeat_share(tx: Table, as_of: datetime) -> Table:
    """Per customer: share of (product, day) purchases repeating an earlier day's product.

    Of n (product, day) purchases of d distinct products, d are first purchases, so the share
    is 1 - d / n (no window needed)."""
    pairs = (
        purchase_lines(tx, as_of)
        .group_by([KEY, c.PRODUCT_ID])
        .aggregate(days=_.day.nunique().cast("int64"))
    )
    per = pairs.group_by(KEY).aggregate(
        products=_.count().cast("int64"), product_days=_.days.sum().cast("int64")
    )
    return per.select(
        KEY, "products",
        repeat_share=1.0 - per.products.cast("float64") / per.product_days.cast("float64"),
    )  # fmt: skip


def tiered_lines(tx: Table, as_of: datetime, columns: Sequence[str] = ()) -> Table:
    """Purchase lines with a positive price and their `tier`: the unit price's percent rank
    (0 = cheapest .. 1 = dearest) among all purchase lines of the same category (of the same
    product when uncategorised). Keeps customer_id, `price_group` and `columns`."""
    lines = purchase_lines(tx, as_of).filter(_[c.UNIT_PRICE] > 0)
    group = lines[c.CATEGORY].fill_null(ibis.literal("product:") + lines[c.PRODUCT_ID])
    lines = lines.select(KEY, c.UNIT_PRICE, *columns, price_group=group)
    # percent_rank = lines priced below / (lines in the group - 1), from the distinct prices:
    # the same numbers as a percent_rank() window over every line, without sorting 10M lines
    # with their payload (22 s at 10M lines vs about 2 s)
    prices = lines.group_by(["price_group", c.UNIT_PRICE]).aggregate(n=_.count())
    upto = ibis.cumulative_window(group_by="price_group", order_by=c.UNIT_PRICE)
    ranked = prices.mutate(
        below=prices.n.sum().over(upto) - prices.n,
        total=prices.n.sum().over(ibis.window(group_by="price_group")),
    )
    tier = ibis.ifelse(
        ranked.total > 1, ranked.below.cast("float64") / (ranked.total - 1).cast("float64"), 0.0
    )
    ranks = ranked.select("price_group", c.UNIT_PRICE, tier=tier)
    return lines.inner_join(ranks, ["price_group", c.UNIT_PRICE])


def price_tier(tx: Table, as_of: datetime) -> Table:
    """Per customer: mean percent rank (0..1) of the unit prices paid within their category
    (or product, when uncategorised), over purchase lines with a positive price."""
    return tiered_lines(tx, as_of).group_by(KEY).aggregate(price_tier=_.tier.mean())


def profiles(tx: Table, as_of: datetime, top: int = TOP_CATEGORIES, timezone: str = "UTC") -> Table:
    """One row per customer with an order before `as_of`: every column the module docstring
    defines. Example: `profiles(tx, datetime(2025, 7, 1, tzinfo=UTC)).to_pyarrow()`."""
    out = totals(tx, as_of)
    for part in (
        gaps(tx, as_of),
        habits(tx, as_of, timezone),
        category_mix(tx, as_of, top),
        repeat_share(tx, as_of),
        price_tier(tx, as_of),
    ):
        out = out.left_join(part, KEY).drop(f"{KEY}_right")
    return out


def top_categories(tx: Table, as_of: datetime, n: int) -> Table:
    """The store's `n` categories with the most purchase spend before `as_of` (category, spend),
    then the most items bought (what ranks them when the data has no prices)."""
    lines = purchase_lines(tx, as_of).filter(_[c.CATEGORY].notnull())
    return (
        lines.group_by(c.CATEGORY)
        .aggregate(spend=_.amount.sum(), items=_[c.QUANTITY].sum())
        .order_by([ibis.desc("spend"), ibis.desc("items"), c.CATEGORY])
        .limit(n)
        .drop("items")
    )


def category_shares(tx: Table, as_of: datetime, categories: Sequence[str]) -> Table:
    """Per customer with purchases: share of purchase spend in each of `categories`, as
    columns `category_share_0 ..` in the given order (0..1; 0 when none); share of items
    bought for a customer none of whose purchases has a price."""
    lines = purchase_lines(tx, as_of)
    columns: dict[str, Any] = {}
    total = lines.amount.sum()
    items = lines[c.QUANTITY].sum().cast("float64")
    for k, name in enumerate(categories):
        mine = lines[c.CATEGORY] == name
        spent = ibis.ifelse(mine, lines.amount, 0.0).sum()
        bought = ibis.ifelse(mine, lines[c.QUANTITY], 0.0).sum().cast("float64")
        share = ibis.ifelse(total > 0, spent / total.nullif(0.0), bought / items.nullif(0.0))
        columns[f"category_share_{k}"] = share.fill_null(0.0)
    if not columns:
        return lines.group_by(KEY).aggregate(purchase_spend=total)
    return lines.group_by(KEY).aggregate(**columns)


def main_currency(tx: Table) -> Table:
    """The currency code on most lines (one row; none when no line has a currency)."""
    known = tx.filter(tx[c.CURRENCY].notnull())
    return (
        known.group_by(c.CURRENCY)
        .aggregate(n=_.count())
        .order_by([ibis.desc("n"), c.CURRENCY])
        .limit(1)
    )
