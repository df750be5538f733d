"""Use case: who is due for what in the next N days, from the predictions `omnix analyze`
stored (the replenishment board, the API and `omnix due` read this).

Targeting a person with what they will need is personalization: only customers whose consent
covers `personalization` (their latest record, or the configured default without one) are
listed; the page says how many rows were withheld for want of it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from omnix.analytics import predictions as pred
from omnix.domain import contract as c
from omnix.domain.consent import Purpose
from omnix.domain.errors import ConfigError, NotFoundError
from omnix.domain.ports import Warehouse
from omnix.domain.snapshots import HORIZON, PREDICTIONS, SNAPSHOT_DATE, SNAPSHOTS, pick_date
from omnix.services.consent import permitted
from omnix.services.snapshots import SnapshotService

MAX_LIMIT = 1_000


@dataclass(slots=True)
class DuePage:
    """One page of due predictions, most likely first. `total` rows match (consented);
    `withheld` more match but their customer's consent does not cover personalization."""

    snapshot_date: str
    within_days: int | None  # None: every stored prediction of the date
    horizon_days: int | None  # the horizon the stored probabilities are for
    category: str | None
    segment: str | None
    total: int
    withheld: int
    offset: int
    limit: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class PredictionService:
    warehouse: Warehouse
    default_consent: bool = False  # personalization consent of customers without a record

    def dates(self) -> list[date]:
        """Dates with stored predictions, oldest first."""
        return list(self._horizons())

    def _check_names(self, day: date, segment: str | None, customer_id: str | None) -> None:
        """Nothing matched: refuse a segment or customer the store does not know, rather than
        answer with an empty page as if they had nothing due."""
        SnapshotService(self.warehouse).check_segment(segment, day)
        if customer_id is not None:
            tx = self.warehouse.ibis().table("transactions")
            if not tx.filter(tx[c.CUSTOMER_ID] == customer_id).count().to_pyarrow().as_py():
                raise NotFoundError(f"no customer {customer_id!r} in the store")

    def _horizons(self) -> dict[date, int | None]:
        """Per stored date (oldest first), the horizon its probabilities are for (days)."""
        t = self._table()
        found = t.group_by(SNAPSHOT_DATE).aggregate(horizon=t[HORIZON].max())
        rows = found.order_by(SNAPSHOT_DATE).to_pyarrow().to_pylist()
        return {r[SNAPSHOT_DATE]: r["horizon"] for r in rows if r[SNAPSHOT_DATE] is not None}

    def _check_any(self, horizons: dict[date, int | None]) -> None:
        """No predictions after an analysis that stored none (a history too short to
        calibrate on): say so, rather than send the user to run the analysis again."""
        if horizons:
            return
        analysed = SnapshotService(self.warehouse).dates()
        if analysed:
            raise NotFoundError(
                f"the analysis as of {analysed[-1]} stored no predictions: the history is too "
                "short to calibrate them (it needs purchases before an earlier cut of the "
                "horizon); ingest more history, then run `omnix analyze` again"
            )

    def due(
        self,
        within_days: int | None = 7,
        day: date | None = None,
        category: str | None = None,
        segment: str | None = None,
        limit: int = 50,
        offset: int = 0,
        *,
        min_probability: float | None = None,
        customer_id: str | None = None,
        sort: str = "probability",
        descending: bool | None = None,
    ) -> DuePage:
        """Customer x product rows expected within `within_days` of the predictions' date
        (`day`, default the latest; None: every stored row), optionally of one category /
        segment / customer and at least `min_probability`; paged, by `sort` (a column of
        analytics/predictions.SORTABLE or "expected_date"; `descending` None: the key's
        natural direction, likeliest and most overdue first, dates ascending), then likeliest.

        Example: due(7, category="Dairy", min_probability=0.5, sort="expected_date")"""
        _check_page(within_days, limit, offset)
        _check_filters(min_probability, sort)
        # three queries (dates with horizons, both counts, the page): Ibis compiles each in
        # ~40 ms here, more than the store takes to run it
        horizons = self._horizons()
        self._check_any(horizons)
        day = pick_date(day, list(horizons), "predictions")
        con = self.warehouse.ibis()
        rows = pred.due(
            self._table(), con.table(SNAPSHOTS), day, within_days, category, segment,
            min_probability, customer_id,
        )  # fmt: skip
        allowed = permitted(
            self.warehouse, Purpose.PERSONALIZATION, self.default_consent,
            rows.select(c.CUSTOMER_ID),
        )  # fmt: skip
        shown = pred.ordered(rows.semi_join(allowed, c.CUSTOMER_ID), sort, descending)
        # ifelse, not a cast: PostgreSQL has no boolean -> integer cast
        ok = rows[c.CUSTOMER_ID].isin(allowed[c.CUSTOMER_ID]).ifelse(1, 0)
        counts = rows.aggregate(matching=rows.count(), total=ok.sum()).to_pyarrow().to_pylist()[0]
        matching, total = int(counts["matching"]), int(counts["total"] or 0)
        if matching == 0:
            self._check_names(day, segment, customer_id)
        page = shown.drop(SNAPSHOT_DATE, HORIZON).limit(limit, offset=offset)
        return DuePage(
            snapshot_date=day.isoformat(), within_days=within_days,
            horizon_days=horizons[day], category=category, segment=segment,
            total=total, withheld=matching - total, offset=offset, limit=limit,
            rows=page.to_pyarrow().to_pylist(),
        )  # fmt: skip

    def rhythms(self, customer_id: str) -> tuple[date, list[dict[str, Any]]] | None:
        """The customer's stored rhythms of the latest predictions: the rows of products
        bought on >= 2 days (their top products and all due within the horizon), soonest
        first, with the statement in words. None when no predictions are stored or none
        for this customer: then the caller fits the rhythm model itself."""
        table = self._table()
        latest = table[SNAPSHOT_DATE].max().to_pyarrow().as_py()
        if latest is None:
            return None
        mine = table.filter(
            (table[SNAPSHOT_DATE] == latest)
            & (table[c.CUSTOMER_ID] == customer_id)
            & (table.purchases >= 2)
        )
        rows = mine.order_by(["expected_next_date", c.PRODUCT_ID]).to_pyarrow().to_pylist()
        return (latest, rows) if rows else None

    def _table(self) -> Any:
        return self.warehouse.ibis().table(PREDICTIONS)


def _check_filters(min_probability: float | None, sort: str) -> None:
    if min_probability is not None and not 0.0 <= min_probability <= 1.0:
        raise ConfigError(f"--min-probability must be between 0 and 1, got {min_probability}")
    try:
        pred.sort_key(sort)
    except ValueError as err:
        raise ConfigError(str(err)) from None


def _check_page(within_days: int | None, limit: int, offset: int) -> None:
    if within_days is not None and within_days < 1:
        raise ConfigError(f"--within must be at least 1 day, got {within_days}")
    if not 1 <= limit <= MAX_LIMIT:
        raise ConfigError(f"--limit must be between 1 and {MAX_LIMIT}, got {limit}")
    if offset < 0:
        raise ConfigError(f"--offset must be >= 0, got {offset}")
