"""Replenishment: the items a customer buys again, ranked by the next-need model.

A thin estimator over `models/next_need.NextNeedModel`, fitted for its next-basket head alone
(the blend reads no other head): its calibrated next-basket score ranks the customer's own
items, and the rhythm behind it (cycle, days since, overdue) becomes the reason ("you buy this
about every 7 days and it is due").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import NotFittedError

from omnix.models.baskets import Baskets, FloatArray, IntArray
from omnix.models.next_need import NextNeedModel
from omnix.models.recommend.candidates import (
    Scored,
    gather,
    lookup,
    rows_of,
    scored,
    top_per_customer,
)

DUE_WITHIN_DAYS = 7.0  # "due" in a reason: expected within a week of the as-of day


@dataclass(frozen=True, slots=True)
class Rhythm:
    """Per candidate row, the rhythm a reason quotes (NaN / 0 for items never bought)."""

    interval_days: FloatArray  # usual days between purchases
    days_since: FloatArray
    days_until_due: FloatArray  # negative = overdue
    purchases: FloatArray  # purchase days


@dataclass(frozen=True, slots=True)
class _Served:
    """What serving reads of the next-need predictions, per scored pair (the rows' order):
    a quarter of the predictions' arrays, which the batch would otherwise hold to the end."""

    next_score: FloatArray
    purchases: FloatArray  # purchase days
    days_since: FloatArray
    interval_days: FloatArray


class ReplenishmentSource:
    """Due and overdue repeat items. Parameters: horizon_days of the next-need model and its
    other settings (see NextNeedModel); n_threads None = the idle cores."""

    model_: NextNeedModel
    served_: _Served
    rows_: Scored
    n_items_: int

    def __init__(
        self,
        horizon_days: float = 30.0,
        n_splits: int = 3,
        max_train_lines: int = 750_000,
        random_state: int = 0,
        n_threads: int | None = None,
    ) -> None:
        self.horizon_days = horizon_days
        self.n_splits = n_splits
        self.max_train_lines = max_train_lines
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(
        self, history: Baskets, as_of_day: float, item_category: IntArray | None = None
    ) -> ReplenishmentSource:
        """Learn the next-need model on `history` (which ends before `as_of_day`)."""
        self.model_ = NextNeedModel(
            horizon_days=self.horizon_days, n_splits=self.n_splits,
            max_train_lines=self.max_train_lines, random_state=self.random_state,
            n_threads=self.n_threads,
        ).fit(history, as_of_day, item_category, probabilities=False)  # fmt: skip
        return self

    def prepare(self, history: Baskets, as_of_day: float) -> ReplenishmentSource:
        """Score every pair bought in `history` as of `as_of_day` (the fitted model may have
        been fitted on an earlier cut: the blend learns on one and serves on the next)."""
        if not hasattr(self, "model_"):
            raise NotFittedError("This ReplenishmentSource is not fitted yet: call fit() first.")
        pred = self.model_.predict(history, as_of_day)
        r = pred.rhythm
        self.served_ = _Served(pred.next_score, pred.pairs.n_days.astype(np.float64),
                               r.days_since_last, r.interval_days)  # fmt: skip
        self.rows_ = scored(pred.pairs.customer, pred.pairs.item, pred.next_score)
        self.n_items_ = history.n_items
        return self

    def learned(self) -> ReplenishmentSource:
        """A copy with the fitted next-need model and no customer's scores."""
        if not hasattr(self, "model_"):
            raise NotFittedError("This ReplenishmentSource is not fitted yet: call fit() first.")
        copy = ReplenishmentSource(self.horizon_days, self.n_splits, self.max_train_lines,
                                   self.random_state, self.n_threads)  # fmt: skip
        copy.model_ = self.model_
        return copy

    def with_items(self, old_code: IntArray) -> ReplenishmentSource:
        """Re-code the model's per-item priors (see NextNeedModel.with_items)."""
        self.model_ = self.model_.with_items(old_code)
        return self

    def _require(self) -> None:
        if not hasattr(self, "served_"):
            raise NotFittedError("call fit() then prepare() before scoring")

    def top(self, customers: IntArray, n: int) -> Scored:
        """Each customer's n repeat items with the highest next-basket score."""
        self._require()
        rows = self.rows_.take(rows_of(self.rows_, customers))
        return top_per_customer(rows, n)

    def score(self, customer: IntArray, item: IntArray) -> FloatArray:
        """P(item in the next basket | the customer shops); 0 for items never bought."""
        self._require()
        at = lookup(self.rows_, customer, item, self.n_items_)
        return gather(self.rows_.score, at, 0.0)

    def features(self, customer: IntArray, item: IntArray) -> tuple[FloatArray, ...]:
        """(next-basket score, log purchase days, log overdue ratio) per pair; zeros for
        pairs never bought."""
        self._require()
        s = self.served_
        at = lookup(self.rows_, customer, item, self.n_items_)

        def pick(values: FloatArray) -> FloatArray:
            return gather(values, at, 0.0)

        ratio = (s.days_since + 0.5) / np.maximum(s.interval_days, 0.5)
        return pick(s.next_score), pick(np.log1p(s.purchases)), pick(np.log(ratio))

    def rhythm(self, customer: IntArray, item: IntArray) -> Rhythm:
        """The rhythm facts a reason quotes, per pair (NaN for pairs never bought)."""
        self._require()
        s = self.served_
        at = lookup(self.rows_, customer, item, self.n_items_)

        def pick(values: FloatArray) -> FloatArray:
            return gather(values, at, np.nan)

        interval, since = pick(s.interval_days), pick(s.days_since)
        return Rhythm(interval, since, interval - since, pick(s.purchases))
