"""Use cases behind the dashboard's aggregate pages: the overview (KPIs of the last period
against the one before, monthly trend, predicted revenue), a segment's members (sorted,
filtered, paged by offset) and its top categories.

Everything is read from the store through Ibis (any backend) or from the stored snapshots;
nothing is fitted here, so a page costs a few small queries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import ibis

from omnix.analytics import kpis, overview
from omnix.analytics import snapshots as snap
from omnix.domain import contract as c
from omnix.domain.errors import EmptyStoreError, InputError
from omnix.domain.ports import Warehouse
from omnix.domain.snapshots import SNAPSHOTS
from omnix.services.consent import describable, without_objectors
from omnix.services.snapshots import SnapshotService

PERIOD_DAYS: Final = 30
CATEGORY_DAYS: Final = 90  # a segment's top categories: its spend in the 90 days before
MEMBER_COLUMNS: Final = (
    "customer_id", "segment", "clv", "p_alive", "churn_risk_90d", "net_revenue", "orders",
    "recency_days", "next_due_days",
)  # fmt: skip
SORTABLE: Final = frozenset(MEMBER_COLUMNS) - {"segment"}
MAX_PER_PAGE: Final = 200


@dataclass(frozen=True, slots=True)
class Kpi:
    """One headline figure and its value in the period before (None when unknown)."""

    key: str
    label: str
    value: float | None
    previous: float | None
    unit: str  # "count", "currency", "share"
    note: str = ""

    @property
    def change(self) -> float | None:
        """Relative change against the previous value (0.25 = +25 %); for a share, the
        difference in points (0.772 -> 0.832: 0.06, "+6.0 points", not "+7.7 %"). None when
        undefined."""
        if self.value is None or self.previous is None:
            return None
        if self.unit == "share":
            return self.value - self.previous
        if self.previous == 0:
            return None
        return (self.value - self.previous) / abs(self.previous)


@dataclass(slots=True)
class Overview:
    as_of: date  # the day after the store's last line: periods end here (exclusive)
    period_days: int
    kpis: list[Kpi]
    monthly: list[dict[str, Any]]  # month, net_revenue, orders, customers (active)
    snapshot_date: date | None = None
    previous_snapshot_date: date | None = None


@dataclass(frozen=True, slots=True)
class MemberQuery:
    """A page of a segment's members: `q` matches part of the id; `min_churn_risk` keeps
    customers whose churn risk (P(no purchase in the next 90 days)) is at least that; sorted
    by `sort` (a MEMBER_COLUMNS name)."""

    segment: str | None = None
    q: str | None = None
    min_clv: float | None = None
    min_churn_risk: float | None = None
    sort: str = "clv"
    descending: bool = True
    page: int = 1
    per_page: int = 25

    def checked(self) -> MemberQuery:
        if self.sort not in SORTABLE:
            raise InputError(f"sort by one of {', '.join(sorted(SORTABLE))}, not {self.sort!r}")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise InputError(f"per page must be between 1 and {MAX_PER_PAGE}")
        if self.page < 1:
            raise InputError("pages start at 1")
        return self


@dataclass(slots=True)
class MemberPage:
    snapshot_date: date
    query: MemberQuery
    total: int
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.query.per_page))


@dataclass(slots=True)
class DashboardService:
    warehouse: Warehouse
    default_consent: bool = False

    # ------------------------------------------------------------------ overview
    def overview(self, period_days: int = PERIOD_DAYS) -> Overview:
        """KPIs of the last `period_days` before the day after the last line, against the
        `period_days` before them; monthly revenue and active customers; predicted revenue
        of the next 30 days from the latest snapshot against the snapshot before it."""
        tx = self._tx()
        last = tx[c.TS].max().to_pyarrow().as_py()
        if last is None:
            raise EmptyStoreError("the store holds no transactions yet: run `omnix ingest`")
        as_of = last.astimezone(UTC).date() + timedelta(days=1)
        end = _midnight(as_of)
        span = timedelta(days=period_days)
        now = _row(kpis.period_kpis(tx, end - span, end))
        before = _row(kpis.period_kpis(tx, end - 2 * span, end - span))
        dates = self.snapshots().dates()
        latest = dates[-1] if dates else None
        previous = dates[-2] if len(dates) > 1 else None
        predicted = self._predicted(latest), self._predicted(previous)
        figures = _kpis(now, before, predicted, previous)
        monthly = [
            {**r, "month": r["month"].date() if isinstance(r["month"], datetime) else r["month"]}
            for r in overview.monthly(tx).to_pyarrow().to_pylist()
        ]
        return Overview(as_of, period_days, figures, monthly, latest, previous)

    def _predicted(self, day: date | None) -> float | None:
        """Expected net revenue in the 30 days after a snapshot (currency): per customer,
        BG/NBD's expected purchases in 90 days / 3 x their average order value. The
        expectation is concave in time, so a third of 90 days slightly understates 30. None
        when the snapshot's customers spent nothing priced (data without prices)."""
        if day is None:
            return None
        rows = snap.on(self._snapshots(), day).filter(ibis._.orders > 0)
        value = (rows.expected_purchases_90d / 3.0) * (rows.net_revenue / rows.orders)
        sums = rows.aggregate(total=value.sum(), spent=rows.net_revenue.sum())
        total, spent = _row(sums).values()
        return float(total) if total is not None and spent else None

    # ------------------------------------------------------------------ segments
    def members(self, query: MemberQuery, day: date | None = None) -> MemberPage:
        """One page of a snapshot's customers (latest by default), narrowed and sorted."""
        query = query.checked()
        day = self.snapshots().resolve(day)
        rows = without_objectors(self.warehouse, snap.on(self._snapshots(), day))
        if query.segment:
            rows = rows.filter(rows.segment == query.segment)
        if query.q:
            rows = rows.filter(rows[c.CUSTOMER_ID].lower().contains(query.q.strip().lower()))
        if query.min_clv is not None:
            rows = rows.filter(rows.clv >= query.min_clv)
        if query.min_churn_risk is not None:
            rows = rows.filter(rows.churn_risk_90d >= query.min_churn_risk)
        total = int(rows.count().to_pyarrow().as_py())
        key = rows[query.sort]
        order = [key.desc(nulls_first=False) if query.descending else key.asc()]
        if query.sort != c.CUSTOMER_ID:
            order.append(rows[c.CUSTOMER_ID])  # ties in a stable order across pages
        offset = (query.page - 1) * query.per_page
        page = rows.select(*MEMBER_COLUMNS).order_by(order).limit(query.per_page, offset=offset)
        return MemberPage(day, query, total, page.to_pyarrow().to_pylist())

    def top_categories(
        self, segment: str, day: date | None = None, n: int = 8
    ) -> list[dict[str, Any]]:
        """The categories a segment's members spent most on in the CATEGORY_DAYS before the
        snapshot date: category, net_revenue, items, buyers, share of the segment's spend (of
        its items, `basis` "items", when the data has no prices)."""
        day = self.snapshots().resolve(day)
        members = snap.on(self._snapshots(), day).filter(ibis._.segment == segment)
        end = _midnight(day)
        start = end - timedelta(days=CATEGORY_DAYS)
        # a group's categories describe its members: no protected category (2 buyers of
        # "Health/Pregnancy" made it a segment's top category, pointing at individuals)
        expr = kpis.category_mix(describable(self.warehouse, self._tx()), members, start, end, n)
        rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
        return rows

    def categories(self) -> list[str]:
        """Every product category in the store, sorted (the board's category filter)."""
        tx = self._tx()
        found = tx.filter(tx[c.CATEGORY].notnull()).select(c.CATEGORY).distinct()
        names = found.order_by(c.CATEGORY).to_pyarrow()[c.CATEGORY].to_pylist()
        return [str(n) for n in names]

    # ------------------------------------------------------------------ one customer
    def purchases(self, customer_id: str, limit: int = 500) -> list[dict[str, Any]]:
        """The customer's orders, newest first: order_id, ts, lines, units and net value
        (currency; returns netted on their own lines; None for an order without prices)."""
        lines = overview.with_priced_amount(overview.customer_lines(self._tx()))
        mine = lines.filter(lines[c.CUSTOMER_ID] == customer_id)
        orders = mine.group_by(c.ORDER_ID).aggregate(
            ts=ibis._[c.TS].min(),
            lines=ibis._.count(),
            units=ibis._[c.QUANTITY].sum(),
            net_value=ibis._.amount.sum(),
        )
        rows: list[dict[str, Any]] = (
            orders.order_by([ibis.desc("ts"), c.ORDER_ID]).limit(limit).to_pyarrow().to_pylist()
        )
        return rows

    def snapshots(self) -> SnapshotService:
        return SnapshotService(self.warehouse, default_consent=self.default_consent)

    def _tx(self) -> Any:
        return self.warehouse.ibis().table("transactions")

    def _snapshots(self) -> Any:
        return self.warehouse.ibis().table(SNAPSHOTS)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _row(expr: Any) -> dict[str, Any]:
    rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    return rows[0]


def _share(part: Any, whole: Any) -> float | None:
    return float(part) / float(whole) if whole else None


def _kpis(
    now: dict[str, Any],
    before: dict[str, Any],
    predicted: tuple[float | None, float | None],
    previous_snapshot: date | None,
) -> list[Kpi]:
    since = f"vs snapshot of {previous_snapshot}" if previous_snapshot else "one snapshot so far"
    unpriced = now["net_revenue"] is None  # no line has a price: revenue is unknown, not 0
    no_prices = "unknown: the data holds no prices"
    return [
        Kpi("customers", "Customers", now["customers"], before["customers"], "count",
            "bought at least once"),
        Kpi("active_customers", "Active customers", now["active_customers"],
            before["active_customers"], "count", "bought in the period"),
        Kpi("net_revenue", "Net revenue", now["net_revenue"], before["net_revenue"], "currency",
            no_prices if unpriced else "returns netted"),
        Kpi("repeat_rate", "Repeat rate",
            _share(now["returning_customers"], now["active_customers"]),
            _share(before["returning_customers"], before["active_customers"]), "share",
            "active customers who had bought before"),
        Kpi("predicted_revenue_30d", "Predicted revenue, next 30 days", predicted[0],
            predicted[1], "currency", no_prices if unpriced else since),
    ]  # fmt: skip
