"""Use cases over stored snapshots: migration between two dates, one customer's 360 view,
and the per-customer export.

Spending-profile fields are shown or exported only while the customer's consent still covers
profiling: a consent withdrawn after the snapshot blanks them at read time too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import ibis

from omnix.analytics import profiles as prof
from omnix.analytics import snapshots as snap
from omnix.domain import contract as c
from omnix.domain.consent import Purpose
from omnix.domain.errors import ConfigError, InputError, NotFoundError, UnsupportedFormatError
from omnix.domain.ports import Warehouse
from omnix.domain.snapshots import (
    EXPORT_COLUMNS,
    GONE,
    NEW,
    SNAPSHOT_DATE,
    SNAPSHOTS,
    SPENDING_COLUMNS,
    pick_date,
)
from omnix.models.segments import DEFAULT_RULES
from omnix.services.consent import (
    describable,
    objected_to_analytics,
    permitted,
    without_objectors,
)

PROFILE_KEYS = (
    "orders", "net_revenue", "avg_basket_value", "tenure_days", "recency_days",
    "typical_gap_days", "preferred_weekday", "preferred_hour", "main_channel", "main_store",
    "channel_mix", "store_mix", "top_category_1", "top_category_2", "top_category_3",
)  # fmt: skip


@dataclass(slots=True)
class MigrationReport:
    """Segment transitions between two snapshot dates. `cells`: one per (from, to) pair with
    customers and revenue between the dates (currency); `movers`: who changed segment."""

    from_date: str
    to_date: str
    customers: int
    moved: int
    segments: list[str]
    cells: list[dict[str, Any]]
    movers: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class ExportSummary:
    path: str
    snapshot_date: str
    rows: int
    profiled: int
    # consent covers profiling now, but the snapshot holds no profile of them: the analysis
    # ran before they consented, or with consent denied by default; the next one adds them
    awaiting_analysis: int = 0


@dataclass(slots=True)
class SnapshotService:
    warehouse: Warehouse
    default_consent: bool = False
    segment_order: tuple[str, ...] = tuple(r.name for r in DEFAULT_RULES)
    timezone: str = "UTC"  # the retailer's: the live profile's preferred weekday and hour

    def dates(self) -> list[date]:
        """Snapshot dates in the store, oldest first."""
        table = self._table().select(SNAPSHOT_DATE).distinct().order_by(SNAPSHOT_DATE)
        return [d for d in table.to_pyarrow()[SNAPSHOT_DATE].to_pylist() if d is not None]

    def check_segment(self, segment: str | None, day: date) -> None:
        """Refuse a segment name that is neither a default rule's nor in the snapshot of `day`
        (a typo or the wrong case, which would otherwise read as an empty segment)."""
        if not segment or segment in self.segment_order:
            return
        rows = snap.on(self._table(), day)
        if rows.filter(rows.segment == segment).count().to_pyarrow().as_py():
            return
        found = rows.select("segment").distinct().to_pyarrow()["segment"].to_pylist()
        names = ", ".join(sorted(str(n) for n in found if n is not None))
        raise InputError(f"no segment {segment!r} in the snapshot of {day} (segments: {names})")

    def resolve(self, day: date | None) -> date:
        """`day` if a snapshot has it, else the latest snapshot's date when `day` is None."""
        return pick_date(day, self.dates(), "snapshot")

    def migration(
        self,
        start: date,
        end: date,
        limit: int = 20,
        from_segment: str | None = None,
        to_segment: str | None = None,
    ) -> MigrationReport:
        """The transition matrix between two snapshot dates and up to `limit` movers (the
        most valuable first), optionally only from / to one segment."""
        if start >= end:
            raise ConfigError(f"the from date ({start}) must be before the to date ({end})")
        table = self._table()
        start, end = self.resolve(start), self.resolve(end)
        cells = snap.matrix(table, start, end).to_pyarrow().to_pylist()
        movers = snap.movers(table, start, end)
        if from_segment:
            movers = movers.filter(movers.from_segment == from_segment)
        if to_segment:
            movers = movers.filter(movers.to_segment == to_segment)
        names = {r["from_segment"] for r in cells} | {r["to_segment"] for r in cells}
        order = [NEW, *self.segment_order, GONE]
        ranked = sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n))
        cells.sort(key=lambda r: (ranked.index(r["from_segment"]), ranked.index(r["to_segment"])))
        return MigrationReport(
            from_date=start.isoformat(), to_date=end.isoformat(),
            customers=sum(r["customers"] for r in cells),
            moved=sum(r["customers"] for r in cells if r["from_segment"] != r["to_segment"]),
            segments=ranked, cells=cells, movers=movers.limit(limit).to_pyarrow().to_pylist(),
        )  # fmt: skip

    def gated(self, day: date) -> Any:
        """The snapshot rows of `day` with spending fields blanked for every customer whose
        consent does not cover profiling now (an Ibis table). `profiling_consent`: the
        profile is shown (consent then and now); `profiling_consent_now`: consent now, so a
        customer who consented after the snapshot gets a profile at the next analysis."""
        # an objection to analytics since the snapshot takes the customer out at once
        rows = without_objectors(self.warehouse, snap.on(self._table(), day))
        allowed = permitted(self.warehouse, Purpose.PROFILING, self.default_consent, rows)
        joined = rows.left_join(allowed.mutate(consent_now=ibis.literal(True)), c.CUSTOMER_ID)
        ok = joined.consent_now.fill_null(False) & joined.profiling_consent.fill_null(False)
        blanked = {
            name: ibis.ifelse(ok, joined[name], ibis.null(joined[name].type()))
            for name in SPENDING_COLUMNS
        }
        now = joined.consent_now.fill_null(False)
        return joined.mutate(profiling_consent=ok, profiling_consent_now=now, **blanked).drop(
            f"{c.CUSTOMER_ID}_right", "consent_now"
        )

    def export(self, out: Path, day: date | None = None) -> ExportSummary:
        """Write one row per customer of the snapshot (latest by default) to .parquet or .csv,
        spending fields empty where consent is missing. Replaced atomically."""
        suffix = out.suffix.lower()
        if suffix not in {".parquet", ".csv"}:
            raise UnsupportedFormatError(f"export to .parquet or .csv, got {out.name}")
        day = self.resolve(day)
        rows = self.gated(day).rename(cluster="cluster_id")
        import pyarrow.compute as pc

        # one read: the export's columns plus whether each is waiting for the next analysis
        waits = rows.profiling_consent_now & ~rows.profiling_consent
        pulled = rows.select(*EXPORT_COLUMNS, waits=waits).order_by(c.CUSTOMER_ID).to_pyarrow()
        waiting = int(pc.sum(pulled["waits"]).as_py() or 0)
        table = pulled.drop_columns(["waits"])
        _write(table, out, suffix)
        profiled = table.num_rows - table["price_tier_index"].null_count
        return ExportSummary(str(out), day.isoformat(), table.num_rows, profiled, waiting)

    def customer(self, customer_id: str, day: date | None = None) -> dict[str, Any]:
        """One customer's 360 view: the snapshot row, segment history over every snapshot and
        the live behavioural profile (habits, category mix) at the snapshot date."""
        day = self.resolve(day)
        row = self.gated(day).filter(_is(customer_id)).to_pyarrow().to_pylist()
        if not row:
            if objected_to_analytics(self.warehouse, customer_id):
                raise NotFoundError(
                    f"customer {customer_id!r} objected to analytics: not in any new snapshot"
                )
            raise NotFoundError(f"customer {customer_id!r} is not in the snapshot of {day}")
        history = (
            self._table().filter(_is(customer_id))
            .select(SNAPSHOT_DATE, "segment", "cluster_id", "clv", "p_alive", "churn_risk_90d")
            .order_by(SNAPSHOT_DATE).to_pyarrow().to_pylist()
        )  # fmt: skip
        return {
            "customer_id": customer_id,
            "snapshot_date": day.isoformat(),
            "snapshot": row[0],
            "history": history,
            "profile": self._live(customer_id, day),
            "timezone": self.timezone,
        }

    def _live(self, customer_id: str, day: date) -> dict[str, Any]:
        """The profile columns that need no other customer (price tier does: see the
        snapshot's price_tier_index instead)."""
        tx = describable(self.warehouse)  # no protected category among top categories
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        mine = tx.filter(_is(customer_id))
        rows = prof.profiles(mine, moment, timezone=self.timezone).to_pyarrow().to_pylist()
        return {k: rows[0].get(k) for k in PROFILE_KEYS} if rows else {}

    def _table(self) -> Any:
        return self.warehouse.ibis().table(SNAPSHOTS)


def _is(customer_id: str) -> Any:
    return ibis._[c.CUSTOMER_ID] == customer_id


def _write(table: Any, out: Path, suffix: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, tmp)
    else:
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, tmp)
    tmp.replace(out)
