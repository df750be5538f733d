"""Use case: the rhythm engine's view of every customer, computed once per analysis.

One `RhythmRun` (the store's purchase history before a day, the rhythm model fitted on all of
it, every customer x product estimate and forecast) serves three readers:

- the profile's `regularity` and the clustering feature of the same name (services/segments),
- the snapshot's rhythm columns (services/analyze),
- with `calibrated=True`, the next-need predictions `omnix analyze` persists per date: the
  calibrated model (models/next_need.py) fits the same rhythm model on the same pairs, so the
  rhythms come out of that one fit instead of a second one.

Per customer (`customer_table`): `rhythm_products` (products bought on >= 2 days),
`regular_products` (bought on >= 3 days), `regularity` (0..1: the purchase-weighted rhythm
regularity of those, or the model's prior regularity without any: see
models/rhythm.customer_rhythms), `due_14d` and `next_due_days`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import structlog

from omnix.domain import contract as c
from omnix.domain.ports import Warehouse
from omnix.domain.snapshots import HORIZON, PREDICTION_COLUMNS
from omnix.models.baskets import FloatArray
from omnix.models.next_need import NextNeedModel, NextNeedPredictions
from omnix.models.rhythm import (
    PairHistory,
    RhythmEstimates,
    RhythmModel,
    customer_rhythms,
    expected_day,
    next_purchase_day,
    pair_history,
)
from omnix.services.encode import codes
from omnix.services.predict import StoreHistory, load_history, predictions_table

log = structlog.get_logger(__name__)
DUE_DAYS = 14.0  # horizon of the snapshot's `due_14d`


@dataclass(frozen=True, slots=True)
class RhythmRun:
    """Everything the rhythm engine knows as of `history.as_of_day`."""

    history: StoreHistory
    pairs: PairHistory
    rhythm: RhythmEstimates
    next_day: FloatArray | None  # forecast next purchase day of the pairs bought on >= 2
    # days (NaN for the others; None when not asked for)
    prior_regularity: float  # what the model assumes for a pair without gaps of its own
    predictions: NextNeedPredictions | None = None  # calibrated, when asked for


def rhythm_run(
    h: StoreHistory, horizon_days: float = DUE_DAYS, forecast_all: bool = True
) -> RhythmRun:
    """The rhythm model alone (no calibration heads): what `omnix customer` and the segment
    report use. forecast_all=False skips the forecast of every pair (the slowest step at
    millions of pairs) for a caller that needs a few."""
    pairs = pair_history(h.encoded.baskets)
    model = RhythmModel().fit(pairs, h.item_category, h.encoded.baskets.n_items)
    est = model.estimate(pairs, h.as_of_day, horizon_days)
    days = _next_days(pairs, est) if forecast_all else None
    return RhythmRun(h, pairs, est, days, model.prior_regularity_)


def calibrated_run(h: StoreHistory, horizon_days: float) -> RhythmRun:
    """The calibrated next-need model, whose fit includes the rhythm model. A history too
    short to hold an earlier cut of `horizon_days` has nothing to calibrate on: then the
    rhythm model alone (no predictions) and a warning."""
    model = NextNeedModel(horizon_days=horizon_days)
    try:
        pred = model.fit_predict(h.encoded.baskets, h.as_of_day, h.item_category, next_basket=False)
    except ValueError as exc:
        log.warning("no calibrated predictions", reason=str(exc))
        return rhythm_run(h, horizon_days)
    est = pred.rhythm
    days = _next_days(pred.pairs, est)
    return RhythmRun(h, pred.pairs, est, days, model.rhythm_.prior_regularity_, pred)


def _next_days(pairs: PairHistory, est: RhythmEstimates) -> FloatArray:
    """The next purchase day of the pairs with a rhythm (bought on >= 2 days), NaN elsewhere:
    what the customer table and "due within the horizon" read."""
    rows = np.flatnonzero(pairs.n_days >= 2)
    days = np.full(len(pairs), np.nan)
    days[rows] = next_purchase_day(est, rows)
    return days


def store_rhythms(warehouse: Warehouse, as_of: date) -> RhythmRun:
    """The rhythm model on the store's purchases before `as_of`."""
    return rhythm_run(load_history(warehouse, as_of))


def customer_table(run: RhythmRun, due_days: float = DUE_DAYS) -> pa.Table:
    """One row per customer in the history: the rhythm columns of the module docstring."""
    h = run.history
    assert run.next_day is not None, "customer_table needs the next purchase days"
    r = customer_rhythms(
        run.pairs, run.rhythm, run.next_day, h.encoded.baskets.n_customers, h.as_of_day,
        due_days, run.prior_regularity,
    )  # fmt: skip
    return pa.table(
        {
            c.CUSTOMER_ID: h.encoded.customers,
            "rhythm_products": pa.array(r.products.astype(np.int64)),
            "regular_products": pa.array(r.regular_products.astype(np.int64)),
            "regularity": pa.array(r.regularity),
            "due_14d": pa.array(r.due.astype(np.int64)),
            "next_due_days": pa.array(r.next_due_day - h.as_of_day, from_pandas=True),
        }
    )


def due_predictions(run: RhythmRun, top: int, horizon_days: int) -> pa.Table:
    """The calibrated predictions worth keeping: each customer's `top` most likely products,
    plus every product with a rhythm (bought on >= 2 days) whose next purchase is expected
    within `horizon_days`. Columns: PREDICTION_COLUMNS (`predictions_table`'s, then
    `category` and `horizon_days`). Empty (same columns) without calibrated predictions."""
    pred, h = run.predictions, run.history
    if pred is None or run.next_day is None:
        return _empty_predictions()
    with np.errstate(invalid="ignore"):  # NaN: no rhythm, never due
        due = expected_day(run.next_day) < h.as_of_day + horizon_days
    table = predictions_table(h, pred, top, also=due)
    item = codes(table[c.PRODUCT_ID], h.encoded.items)
    category = h.item_category[item]  # 0 = none, k = category_names[k - 1]
    names = pc.take(h.category_names, pa.array(category - 1, mask=category == 0))
    table = table.append_column(c.CATEGORY, names.cast(pa.string()))
    return table.append_column(HORIZON, pa.array(np.full(table.num_rows, horizon_days)))


def _empty_predictions() -> pa.Table:
    """No rows, the stored columns (the store casts them to their types)."""
    return pa.table({name: pa.nulls(0) for name, _ in PREDICTION_COLUMNS})
