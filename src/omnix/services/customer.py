"""Use case: one customer's rhythms, product by product, in numbers and in words.

This first version reads the rhythm features directly (ratio cycle estimate, empirical spread of
this customer's own gaps). The rhythm model of issue 3 will replace the estimates with shrunk,
calibrated ones; the output shape stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from omnix.analytics import rhythm
from omnix.domain import contract as c
from omnix.domain.errors import NotFoundError
from omnix.domain.ports import Warehouse
from omnix.domain.rhythm import PairRhythm

EPOCH = date(1970, 1, 1)


@dataclass(slots=True)
class CustomerService:
    warehouse: Warehouse

    def rhythms(
        self, customer_id: str, as_of: date | None = None, min_purchases: int = 2
    ) -> tuple[date, list[PairRhythm]]:
        """Rhythms of every product the customer bought >= min_purchases times before as_of.

        as_of defaults to the day after the store's last line, so historical data reads
        naturally. Sorted by the next expected purchase.
        """
        tx = self.warehouse.ibis().table("transactions")
        mine = tx.filter(tx[c.CUSTOMER_ID] == customer_id)
        if as_of is None:
            last = tx[c.TS].max().to_pyarrow().as_py()
            if last is None:
                raise NotFoundError("the store holds no transactions yet: run `omnix ingest`")
            as_of = last.astimezone(UTC).date() + timedelta(days=1)
        moment = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)
        features = rhythm.pair_rhythms(mine, moment).to_pyarrow().to_pylist()
        if not features:
            raise NotFoundError(f"no purchases of customer {customer_id!r} before {as_of}")
        spread = {r[c.PRODUCT_ID]: r for r in _rows(rhythm.gap_quantiles(mine, moment))}
        names = mine.group_by(c.PRODUCT_ID).aggregate(name=mine[c.PRODUCT_NAME].max())
        name_of = {r[c.PRODUCT_ID]: r["name"] for r in _rows(names)}
        out = [
            _pair(customer_id, row, spread.get(row[c.PRODUCT_ID], {}), name_of, as_of)
            for row in features
            if row["n_purchases"] >= min_purchases and row["cycle_days"] is not None
        ]
        return as_of, sorted(out, key=lambda r: (r.expected_next, r.product_id))


def _rows(expr: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    return rows


def _pair(
    customer_id: str,
    row: dict[str, Any],
    spread: dict[str, Any],
    names: dict[str, str | None],
    as_of: date,
) -> PairRhythm:
    per_purchase = row["units"] / row["n_purchases"]
    mean, std = row["unit_gap_mean"], row["unit_gap_std"]
    regularity = None if not mean or std is None else min(max(1.0 - std / mean, 0.0), 1.0)
    low, high = spread.get("unit_gap_p10"), spread.get("unit_gap_p90")
    return PairRhythm(
        customer_id=customer_id,
        product_id=row[c.PRODUCT_ID],
        product_name=names.get(row[c.PRODUCT_ID]),
        purchases=int(row["n_purchases"]),
        units_per_purchase=per_purchase,
        cycle_days=float(row["cycle_days"]),
        usual_low=None if low is None else low * per_purchase,
        usual_high=None if high is None else high * per_purchase,
        regularity=regularity,
        last_purchase=EPOCH + timedelta(days=int(row["last_day"])),
        as_of=as_of,
    )
