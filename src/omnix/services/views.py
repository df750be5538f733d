"""Use cases behind the API's read routes: customers (list and search, 360, CLV and churn,
spending profile, rhythms) and segments (summary, members, migration), over the latest
snapshot unless a date is given.

All reads are Ibis expressions over the snapshot table (any backend). Lists page with an
opaque cursor (the snapshot date and the last customer id, ordered by id), so a page is
stable while new snapshots are written. Per-customer views are cached (`ViewCache`): the
first read costs queries over the store, later ones are served from memory until that
customer's data, consent or snapshot changes.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

import ibis

from omnix.analytics import profiles as prof
from omnix.analytics import snapshots as snap
from omnix.domain import contract as c
from omnix.domain.errors import InputError, NotFoundError
from omnix.domain.ports import ViewCache, Warehouse
from omnix.domain.snapshots import SNAPSHOT_DATE, SNAPSHOTS, SPENDING_COLUMNS
from omnix.services.consent import describable, without_objectors
from omnix.services.customer import CustomerService
from omnix.services.predict import Level
from omnix.services.snapshots import PROFILE_KEYS, MigrationReport, SnapshotService

LIST_COLUMNS = (
    "customer_id", "segment", "cluster_id", "clv", "p_alive", "churn_risk_90d", "net_revenue",
    "orders", "recency_days",
)  # fmt: skip
MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class CustomerFilter:
    """What a customer list may be narrowed by. `q`: part of the id (case-insensitive)."""

    q: str | None = None
    segment: str | None = None
    cluster_id: int | None = None
    min_clv: float | None = None
    max_p_alive: float | None = None  # P(alive) at most this
    min_churn_risk: float | None = None  # P(no purchase in the next 90 days) at least this


@dataclass(slots=True)
class Page:
    snapshot_date: str
    items: list[dict[str, Any]]
    next_cursor: str | None


def encode_cursor(day: date, after: str) -> str:
    raw = json.dumps({"d": day.isoformat(), "a": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[date, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return date.fromisoformat(data["d"]), str(data["a"])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InputError("cursor is not one this API returned") from None


@dataclass(slots=True)
class Views:
    warehouse: Warehouse
    cache: ViewCache
    default_consent: bool = False

    # ------------------------------------------------------------------ customers
    def customers(
        self, where: CustomerFilter, limit: int = 100, cursor: str | None = None,
        day: date | None = None,
    ) -> Page:  # fmt: skip
        """One page of customers of a snapshot (latest by default), ordered by id."""
        if not 1 <= limit <= MAX_PAGE:
            raise InputError(f"limit must be between 1 and {MAX_PAGE}")
        after = None
        if cursor:
            day, after = decode_cursor(cursor)
        day = self.snapshots().resolve(day)
        rows = without_objectors(self.warehouse, snap.on(self._snapshots(), day))
        rows = _narrow(rows, where)
        if after is not None:
            rows = rows.filter(rows[c.CUSTOMER_ID] > after)
        found = (
            rows.select(*LIST_COLUMNS).order_by(c.CUSTOMER_ID).limit(limit + 1).to_pyarrow()
        ).to_pylist()
        if not found and after is None:
            self.snapshots().check_segment(where.segment, day)
        more = len(found) > limit
        items = found[:limit]
        token = encode_cursor(day, items[-1][c.CUSTOMER_ID]) if more and items else None
        return Page(day.isoformat(), items, token)

    def cached(self, customer_id: str, view: str, build: Callable[[], bytes]) -> bytes:
        """`view` of the customer from the cache, else built (and cached)."""
        hit = self.cache.get(customer_id, view)
        if hit is None:
            hit = build()
            self.cache.put(customer_id, view, hit)
        return hit

    def customer(self, customer_id: str) -> dict[str, Any]:
        """The 360: latest snapshot row (consent applied), segment history, live habits."""
        return self.snapshots().customer(customer_id)

    def warm(self, serialise: Callable[[dict[str, Any]], bytes], limit: int) -> int:
        """Build the 360 of up to `limit` customers of the latest snapshot in three bulk
        queries (instead of four per customer) and cache them; returns how many. The views
        equal `customer(id)`'s: the habits need no other customer's lines."""
        snaps = self.snapshots()
        day = snaps.resolve(None)
        rows = snaps.gated(day).order_by(c.CUSTOMER_ID).limit(limit).to_pyarrow().to_pylist()
        if not rows:
            return 0
        last = rows[-1][c.CUSTOMER_ID]
        history: dict[str, list[dict[str, Any]]] = {}
        table = self._snapshots()
        past = table.filter(table[c.CUSTOMER_ID] <= last).select(
            c.CUSTOMER_ID,
            SNAPSHOT_DATE,
            "segment",
            "cluster_id",
            "clv",
            "p_alive",
            "churn_risk_90d",
        )
        for h in past.order_by([c.CUSTOMER_ID, SNAPSHOT_DATE]).to_pyarrow().to_pylist():
            history.setdefault(h.pop(c.CUSTOMER_ID), []).append(h)
        tx = describable(self.warehouse)  # no protected category among top categories
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        habits = prof.profiles(tx.filter(tx[c.CUSTOMER_ID] <= last), moment)
        live = {
            h.pop(c.CUSTOMER_ID): h
            for h in habits.select(c.CUSTOMER_ID, *PROFILE_KEYS).to_pyarrow().to_pylist()
        }
        for row in rows:
            cid = row[c.CUSTOMER_ID]
            view = {"customer_id": cid, "snapshot_date": day.isoformat(), "snapshot": row,
                    "history": history.get(cid, []), "profile": live.get(cid, {})}  # fmt: skip
            self.cache.put(cid, "360", serialise(view))
        return len(rows)

    def value(self, customer_id: str) -> dict[str, Any]:
        """CLV and churn: the latest snapshot's figures and their history over snapshots."""
        view = self.snapshots().customer(customer_id)
        row = view["snapshot"]
        return {
            "customer_id": customer_id,
            "snapshot_date": view["snapshot_date"],
            "clv": row.get("clv"),
            "p_alive": row.get("p_alive"),
            "churn_risk_90d": row.get("churn_risk_90d"),
            "churn_risk": row.get("churn_risk_90d"),  # the deprecated name of the API's v1
            "expected_purchases_90d": row.get("expected_purchases_90d"),
            "segment": row.get("segment"),
            "history": [
                {
                    **{k: h.get(k) for k in (SNAPSHOT_DATE, "segment", "clv", "p_alive")},
                    "churn_risk_90d": h.get("churn_risk_90d"),
                    "churn_risk": h.get("churn_risk_90d"),
                }
                for h in view["history"]
            ],
        }

    def spending(self, customer_id: str) -> dict[str, Any]:
        """The spending profile, only while consent covers profiling (blank otherwise)."""
        snaps = self.snapshots()
        day = snaps.resolve(None)
        rows = snaps.gated(day).filter(ibis._[c.CUSTOMER_ID] == customer_id)
        found = rows.select("profiling_consent", *SPENDING_COLUMNS).to_pyarrow().to_pylist()
        if not found:
            raise NotFoundError(f"customer {customer_id!r} is not in the snapshot of {day}")
        return {"customer_id": customer_id, "snapshot_date": day.isoformat(), **found[0]}

    def rhythms(
        self, customer_id: str, as_of: date | None = None, level: Level = "product"
    ) -> dict[str, Any]:
        """Per product (or category) the customer buys again: cycle, range, regularity, next
        date, words. At category level a rhythm names its `category`; product_id and
        product_name are null."""
        day, rows = CustomerService(self.warehouse).rhythms(customer_id, as_of, level=level)
        out = [asdict(r) | {"interval_days": r.interval_days, "statement": r.statement()}
               for r in rows]  # fmt: skip
        if level == "category":
            out = [r | {"category": r["product_id"], "product_id": None, "product_name": None}
                   for r in out]  # fmt: skip
        return {"customer_id": customer_id, "as_of": day.isoformat(), "level": level,
                "rhythms": out}  # fmt: skip

    # ------------------------------------------------------------------ segments
    def snapshot_dates(self) -> list[date]:
        return self.snapshots().dates()

    def segments(self, day: date | None = None) -> dict[str, Any]:
        """Per RFM segment and per cluster: customers, share, revenue, average CLV and P(alive)."""
        day = self.snapshots().resolve(day)
        rows = snap.on(self._snapshots(), day)
        total = rows.count().to_pyarrow().as_py()
        # None when the customers spent nothing priced (data without prices): no revenue to share
        revenue = rows.net_revenue.sum().to_pyarrow().as_py() or None
        return {
            "snapshot_date": day.isoformat(),
            "customers": total,
            "net_revenue": revenue,
            "segments": _groups(rows, "segment", total, revenue),
            "clusters": _groups(rows, "cluster_id", total, revenue),
        }

    def migration(self, start: date, end: date) -> MigrationReport:
        """The transition matrix between two snapshot dates (cells only: aggregates)."""
        report = self.snapshots().migration(start, end, limit=0)
        report.movers = []
        return report

    def movers(
        self, start: date, end: date, limit: int, from_segment: str | None = None,
        to_segment: str | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Customers who changed segment between the dates, the most valuable first."""
        if not 1 <= limit <= MAX_PAGE:
            raise InputError(f"limit must be between 1 and {MAX_PAGE}")
        snapshots = self.snapshots()
        report = snapshots.migration(start, end, limit, from_segment, to_segment)
        movers: list[dict[str, Any]] = report.movers
        if not movers:
            snapshots.check_segment(from_segment, start)
            snapshots.check_segment(to_segment, end)
        return movers

    def snapshots(self) -> SnapshotService:
        return SnapshotService(self.warehouse, default_consent=self.default_consent)

    def _snapshots(self) -> Any:
        return self.warehouse.ibis().table(SNAPSHOTS)


def _narrow(rows: Any, where: CustomerFilter) -> Any:
    if where.q:
        rows = rows.filter(rows[c.CUSTOMER_ID].lower().contains(where.q.lower()))
    if where.segment:
        rows = rows.filter(rows.segment == where.segment)
    if where.cluster_id is not None:
        rows = rows.filter(rows.cluster_id == where.cluster_id)
    if where.min_clv is not None:
        rows = rows.filter(rows.clv >= where.min_clv)
    if where.max_p_alive is not None:
        rows = rows.filter(rows.p_alive <= where.max_p_alive)
    if where.min_churn_risk is not None:
        rows = rows.filter(rows.churn_risk_90d >= where.min_churn_risk)
    return rows


def _groups(rows: Any, key: str, total: int, revenue: float | None) -> list[dict[str, Any]]:
    grouped: list[dict[str, Any]] = (
        rows.group_by(key)
        .aggregate(
            customers=ibis._.count(),
            net_revenue=ibis._.net_revenue.sum(),
            avg_clv=ibis._.clv.mean(),
            median_clv=ibis._.clv.median(),
            avg_p_alive=ibis._.p_alive.mean(),
            avg_churn_risk=ibis._.churn_risk_90d.mean(),
        )
        .order_by([ibis.desc("customers"), key])
        .to_pyarrow()
        .to_pylist()
    )
    for g in grouped:
        g["share"] = g["customers"] / total if total else 0.0
        if revenue is None:
            g["net_revenue"] = g["revenue_share"] = None
        else:
            g["revenue_share"] = (g["net_revenue"] or 0.0) / revenue
    return grouped
