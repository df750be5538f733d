"""Use case: what each customer will need next, as of a date, written to a file.

`omnix predict --as-of D --horizon-days H --top K|all --out FILE` reads only transactions
strictly before D, fits the next-need model (models/next_need.py) on that history and writes
one row per (customer, product) bought before D:

    customer_id, product_id, rank (1 = most likely within the customer), probability (of a
    purchase in [D, D + H)), expected_next_date, cycle_days, statement,
    then product_name, purchases, interval_days, cycle_p10, cycle_p90, regularity,
    last_purchase, days_overdue, p_active

The file is written beside its final name and renamed into place, so a killed run never leaves
half a file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from omnix.analytics import backtest as bt
from omnix.domain import contract as c
from omnix.domain.errors import EmptyStoreError, InputError
from omnix.domain.ports import Warehouse
from omnix.models.baskets import IntArray
from omnix.models.next_need import NextNeedModel, NextNeedPredictions
from omnix.models.ranks import rank_within
from omnix.models.rhythm import expected_day, forecast
from omnix.services.consent import analysable
from omnix.services.encode import (
    EncodedHistory,
    category_codes,
    category_names,
    codes,
    day_number,
    encode_history,
)
from omnix.services.statements import statements

Stage = Callable[[str], None]
Level = Literal["product", "category"]
SUFFIXES = (".parquet", ".csv")


@dataclass(frozen=True, slots=True)
class StoreHistory:
    """The store's purchase history before a day, coded, with product attributes per code."""

    encoded: EncodedHistory
    item_category: IntArray
    item_names: pa.Array  # product_name, or product_id where no name is known
    as_of_day: float
    category_names: pa.Array  # category code k >= 1 is category_names[k - 1]

    def by_category(self) -> StoreHistory:
        """The same history with products replaced by their categories (milk of any brand):
        products without a category are left out."""
        if len(self.category_names) == 0:
            raise InputError(
                "no product has a category: category-level rhythms need a category column"
            )
        baskets = self.encoded.baskets.regroup(self.item_category - 1, len(self.category_names))
        encoded = EncodedHistory(baskets, self.encoded.customers, self.category_names)
        no_hierarchy = np.zeros(len(self.category_names), dtype=np.int64)
        return replace(self, encoded=encoded, item_category=no_hierarchy,
                       item_names=self.category_names)  # fmt: skip


def load_history(warehouse: Warehouse, as_of: date) -> StoreHistory:
    """Purchases strictly before `as_of`, as integer-coded baskets (one query each)."""
    start = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)
    tx = analysable(warehouse)  # not customers who objected to analytics
    history = bt.history_baskets(tx, start).to_pyarrow()
    if history.num_rows == 0:
        raise EmptyStoreError(f"no purchases before {as_of}: ingest data or pick a later --as-of")
    encoded = _net_returns(encode_history(history), bt.returned_units(tx, start).to_pyarrow())
    attributes = bt.product_attributes(tx, start).to_pyarrow()
    at = codes(attributes[c.PRODUCT_ID], encoded.items)
    row_of_item = np.full(len(encoded.items), -1, dtype=np.int64)
    row_of_item[at[at >= 0]] = np.flatnonzero(at >= 0)
    rows = pa.array(row_of_item, mask=row_of_item < 0)
    names = pc.take(attributes["product_name"], rows)
    return StoreHistory(
        encoded=encoded,
        item_category=category_codes(attributes, encoded.items),
        item_names=pc.coalesce(names, encoded.items),
        category_names=category_names(attributes),
        as_of_day=day_number(as_of),
    )


def _net_returns(encoded: EncodedHistory, returns: pa.Table) -> EncodedHistory:
    """Returned units come off the purchase they undo (see Baskets.net_returns)."""
    if returns.num_rows == 0:
        return encoded
    customer = codes(returns[c.CUSTOMER_ID], encoded.customers)
    item = codes(returns[c.PRODUCT_ID], encoded.items)
    known = (customer >= 0) & (item >= 0)
    day = np.asarray(returns["day"].to_numpy(), dtype=np.float64)[known]
    units = np.asarray(returns["units"].to_numpy(), dtype=np.float64)[known]
    baskets = encoded.baskets.net_returns(customer[known], item[known], day, units)
    return replace(encoded, baskets=baskets)


@dataclass(slots=True)
class PredictSummary:
    as_of: str
    horizon_days: int
    top: int | None
    customers: int
    pairs: int
    rows: int
    mean_probability: float
    out: str = ""
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def predictions_table(
    h: StoreHistory,
    pred: NextNeedPredictions,
    top: int | None,
    also: npt.NDArray[np.bool_] | None = None,
) -> pa.Table:
    """The output rows (contract columns first), best first within each customer: each
    customer's `top` pairs (all when None), plus the pairs where `also` is true."""
    pairs, r = pred.pairs, pred.rhythm
    rank = rank_within(pairs.customer, pred.probability, pairs.item) + 1  # 1 = most likely
    wanted = rank <= (top if top is not None else rank.size)
    keep = np.flatnonzero(wanted if also is None else wanted | also)
    keep = keep[np.lexsort((rank[keep], pairs.customer[keep]))]
    per_purchase = pairs.units_per_purchase[keep]
    interval = r.cycle_days[keep] * per_purchase
    f = forecast(r, keep)
    low, high = f.cycle_p10 * per_purchase, f.cycle_p90 * per_purchase
    expected = expected_day(f.expected_next_day).astype(np.int64)
    since = r.days_since_last[keep].astype(np.int64)
    overdue = np.floor(r.days_overdue[keep]).astype(np.int64)
    names = pc.take(h.item_names, pa.array(pairs.item[keep]))
    last_units = pairs.last_units[keep]
    purchases = pairs.n_days[keep]
    sentences = statements(
        names, interval, low, high, since, overdue, expected, per_purchase, last_units, purchases
    )
    customers = pc.take(h.encoded.customers, pa.array(pairs.customer[keep]))
    last = pairs.last_day[keep].astype(np.int64)
    return pa.table(
        {
            c.CUSTOMER_ID: customers,
            c.PRODUCT_ID: pc.take(h.encoded.items, pa.array(pairs.item[keep])),
            "rank": pa.array(rank[keep], pa.int32()),
            "probability": pred.probability[keep],
            "expected_next_date": pa.array(expected.astype("datetime64[D]")),
            "cycle_days": r.cycle_days[keep],
            "statement": sentences,
            c.PRODUCT_NAME: names,
            "purchases": pa.array(purchases, pa.int32()),
            "interval_days": interval,
            "cycle_p10": f.cycle_p10,
            "cycle_p90": f.cycle_p90,
            "regularity": r.regularity[keep],
            "last_purchase": pa.array(last.astype("datetime64[D]")),
            "days_overdue": pa.array(overdue, pa.int32()),
            "p_active": pred.p_active[keep],
        }
    )


def write_table(table: pa.Table, out: Path) -> None:
    """Write .parquet or .csv atomically (temporary file, then rename)."""
    suffix = out.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"--out must end in .parquet or .csv, got {out.name!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, partial)
    else:
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, partial)
    partial.replace(out)


@dataclass(slots=True)
class PredictService:
    warehouse: Warehouse

    def predict(
        self,
        as_of: date,
        horizon_days: int,
        top: int | None,
        stage: Stage | None = None,
        level: Level = "product",
    ) -> tuple[pa.Table, PredictSummary]:
        """Fit on history before `as_of`, score every pair, keep each customer's `top`.

        level="category" models customer x category rhythms instead (any product of the
        category counts as a purchase); the output then has `category` where `product_id` was.
        """
        note = stage or (lambda _: None)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        with self.warehouse.run("predict", {"as_of": as_of.isoformat(), "horizon": horizon_days}):
            note("reading history")
            h = load_history(self.warehouse, as_of)
            self.warehouse.trim_memory()  # the fit below is the command's memory peak
            if level == "category":
                h = h.by_category()
            timings["read"] = time.perf_counter() - started
            note("learning rhythms and scoring pairs")
            pred = _fit_predict(h, horizon_days)
            timings["model"] = time.perf_counter() - started - sum(timings.values())
            note("writing statements")
            table = predictions_table(h, pred, top)
            if level == "category":
                table = table.drop_columns([c.PRODUCT_NAME])
                table = table.rename_columns(
                    [c.CATEGORY if n == c.PRODUCT_ID else n for n in table.column_names]
                )
            timings["table"] = time.perf_counter() - started - sum(timings.values())
        summary = PredictSummary(
            as_of=as_of.isoformat(),
            horizon_days=horizon_days,
            top=top,
            customers=int(np.unique(pred.pairs.customer).size),
            pairs=len(pred.pairs),
            rows=table.num_rows,
            mean_probability=float(pred.probability.mean()),
            seconds={k: round(v, 3) for k, v in timings.items()},
        )
        return table, summary


def _fit_predict(h: StoreHistory, horizon_days: int) -> NextNeedPredictions:
    try:
        return NextNeedModel(horizon_days=float(horizon_days)).fit_predict(
            h.encoded.baskets, h.as_of_day, h.item_category, next_basket=False
        )
    except ValueError as exc:
        raise EmptyStoreError(
            f"not enough history before the as-of date to learn from ({exc}): "
            "pick a later --as-of or a shorter --horizon-days"
        ) from exc
