"""What will each customer need next: the rhythm model's features, calibrated on a time split.

The renewal model (models/rhythm.py) knows *when* an item is due but not whether the customer
still buys it at all, nor how likely they are to shop in the horizon. This model learns both
from the history itself, the way it will be used: it cuts the history at earlier dates
(as_of - H, as_of - 2H, ...), computes every feature as of each cut, and learns from what
happened in the following H days. Three gradient-boosted heads (scikit-learn
HistGradientBoostingClassifier, log loss, so their probabilities are calibrated in-sample):

    active      P(customer places an order within H days)               per customer
    item        P(customer buys the item within H days | they shop)     per (customer, item)
    next        P(item is in the customer's next basket | they shop)    ranking score

`probability` = active x item is the unconditional chance of a purchase within H days.
Candidates are the items a customer has bought before; `recommend` pads customers with fewer
than k such items with the most popular items they have not bought.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import NotFittedError
from threadpoolctl import threadpool_limits

from omnix.models.baselines import (
    powers,
    ranking_by_frequency,
    tifu_row_weights,
    top_k_per_customer,
)
from omnix.models.baskets import Baskets, FloatArray, IntArray
from omnix.models.ranks import rank_within
from omnix.models.rhythm import PairHistory, RhythmEstimates, RhythmModel, pair_history

PAIR_FEATURES = (
    "log_baskets",
    "basket_share",
    "baskets_since",
    "log_days_since",
    "log_elapsed_ratio",
    "log_cycle",
    "regularity",
    "renewal_p",
    "shrinkage",
    "poisson_p",
    "stock_up",
    "tifu",
    "tifu_rank",
    "tifu_rel",
    "freq_rank",
    "item_buyer_share",
    "item_repeat_share",
    "decay_50",
    "decay_80",
    "decay_95",
    "in_last_basket",
)
DECAYS = (0.5, 0.8, 0.95)
LEARNING_RATE, ROUNDS = 0.1, 60
CUSTOMER_FEATURES = (
    "c_log_baskets",
    "c_log_order_gap",
    "c_log_days_since",
    "c_orders_due",
    "c_log_items",
    "c_basket_size",
)


@dataclass(frozen=True, slots=True)
class CustomerHistory:
    """Per customer code: baskets, first / last basket day, distinct items."""

    n_baskets: FloatArray
    first_day: FloatArray
    last_day: FloatArray
    n_items: FloatArray
    lines: FloatArray  # (basket, item) rows: basket size x baskets


def customer_history(history: Baskets, pairs: PairHistory) -> CustomerHistory:
    n = history.n_customers
    new_basket = np.r_[
        True,
        (history.customer[1:] != history.customer[:-1])
        | (history.basket[1:] != history.basket[:-1]),
    ]
    cust = history.customer[new_basket]
    day = history.day[new_basket]
    first = np.full(n, np.nan)
    last = np.full(n, np.nan)
    if cust.size:
        np.fmin.at(first, cust, day)
        np.fmax.at(last, cust, day)
    return CustomerHistory(
        n_baskets=np.bincount(cust, minlength=n).astype(np.float64),
        first_day=first,
        last_day=last,
        n_items=np.bincount(pairs.customer, minlength=n).astype(np.float64),
        lines=np.bincount(history.customer, minlength=n).astype(np.float64),
    )


Matrix = npt.NDArray[np.float32]


def idle_cores(sample_seconds: float = 0.2) -> int:
    """Cores less than half busy over a short sample (at least 1)."""
    import psutil

    busy = psutil.cpu_percent(interval=sample_seconds, percpu=True)
    return max(1, sum(1 for load in busy if load < 50.0))


def _stack(columns: list[npt.ArrayLike]) -> Matrix:
    """Columns (1-D) and blocks (2-D) side by side as float32, without a float64 copy."""
    arrays = [np.asarray(col) for col in columns]
    width = sum(1 if a.ndim == 1 else a.shape[1] for a in arrays)
    out = np.empty((len(arrays[0]), width), dtype=np.float32)
    at = 0
    for a in arrays:
        if a.ndim == 1:
            out[:, at] = a
            at += 1
        else:
            out[:, at : at + a.shape[1]] = a
            at += a.shape[1]
    return out


def _customer_matrix(ch: CustomerHistory, as_of_day: float, horizon: float) -> Matrix:
    gap = np.where(
        ch.n_baskets > 1, (ch.last_day - ch.first_day) / np.maximum(ch.n_baskets - 1, 1), np.nan
    )
    gap = np.maximum(
        np.nan_to_num(gap, nan=np.nanmedian(gap) if np.isfinite(gap).any() else 30), 0.5
    )
    since = np.maximum(as_of_day - ch.last_day, 0.0)
    return _stack(
        [
            np.log1p(ch.n_baskets),
            np.log(gap),
            np.log1p(np.nan_to_num(since, nan=1e4)),
            horizon / gap,
            np.log1p(ch.n_items),
            ch.lines / np.maximum(ch.n_baskets, 1),
        ]
    )


def _basket_features(history: Baskets, pairs: PairHistory, ch: CustomerHistory) -> FloatArray:
    """Per pair, sums over the baskets holding the item, added up with one bincount each:

    - the item's weight in the customer's TIFU-KNN user vector (m=3, r_b=0.9, r_g=0.7);
    - for each decay d in DECAYS, sum of d ** (baskets ago) divided by the same sum over all
      the customer's baskets (1 = in every basket, recent ones weigh more).

    History lines are distinct (customer, basket, item) rows sorted by (customer, basket), as
    the store builds them.
    """
    key = history.customer * history.n_items + history.item
    at = np.searchsorted(pairs.customer * history.n_items + pairs.item, key)
    age = ch.n_baskets[history.customer] - 1 - history.basket
    n = ch.n_baskets[pairs.customer]
    out = np.empty((len(pairs), 1 + len(DECAYS)))
    tifu = tifu_row_weights(history.customer, history.basket, 3, 0.9, 0.7)
    out[:, 0] = np.bincount(at, weights=tifu, minlength=len(pairs))
    for j, d in enumerate(DECAYS, start=1):
        total = np.bincount(at, weights=powers(d, age), minlength=len(pairs))
        out[:, j] = total * (1 - d) / (1 - powers(d, n))
    return out


def _max_within(customer: IntArray, value: FloatArray) -> FloatArray:
    top = np.zeros(int(customer.max(initial=-1)) + 1)
    np.maximum.at(top, customer, value)
    return top[customer]


def _pair_matrix(
    history: Baskets,
    pairs: PairHistory,
    est: RhythmEstimates,
    ch: CustomerHistory,
    customer_x: Matrix,
    as_of_day: float,
    horizon: float,
) -> Matrix:
    """PAIR_FEATURES then the pair's customer's CUSTOMER_FEATURES, one float32 matrix."""
    c_baskets = ch.n_baskets[pairs.customer]
    first = ch.first_day[pairs.customer]
    days_obs = np.maximum(as_of_day - first, 1.0)
    poisson = -np.expm1(-pairs.n_baskets / days_obs * horizon)
    buyers = np.bincount(pairs.item, minlength=history.n_items).astype(np.float64)
    repeaters = np.bincount(pairs.item, weights=(pairs.n_days >= 2), minlength=history.n_items)
    n_cust = max(float((ch.n_baskets > 0).sum()), 1.0)
    per_purchase = pairs.units_per_purchase
    basket = _basket_features(history, pairs, ch)
    tifu_value = basket[:, 0]
    return _stack(
        [
            np.log1p(pairs.n_baskets),
            pairs.n_baskets / np.maximum(c_baskets, 1),
            c_baskets - 1 - pairs.last_basket,
            np.log1p(est.days_since_last),
            np.log((est.days_since_last + 0.5) / np.maximum(est.interval_days, 0.5)),
            np.log(est.cycle_days),
            est.regularity,
            est.probability,
            est.shrinkage,
            poisson,
            pairs.last_units / np.maximum(per_purchase, 1e-9),
            tifu_value,
            np.log1p(rank_within(pairs.customer, tifu_value)),
            tifu_value / np.maximum(_max_within(pairs.customer, tifu_value), 1e-12),
            np.log1p(rank_within(pairs.customer, pairs.n_baskets + pairs.last_basket * 1e-6)),
            buyers[pairs.item] / n_cust,
            repeaters[pairs.item] / np.maximum(buyers[pairs.item], 1.0),
            basket[:, 1:],
            pairs.last_basket == c_baskets - 1,
            customer_x[pairs.customer],
        ]
    )


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """Everything known as of one day: pairs, their rhythm, and the feature matrices."""

    pairs: PairHistory
    rhythm: RhythmEstimates
    customers: CustomerHistory
    pair_x: Matrix  # pair features, then the customer's
    customer_x: Matrix


class _ConstantHead:
    """Stands in for a head whose training labels were all one class (a tiny history)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def predict_proba(self, x: npt.NDArray[np.floating[Any]]) -> FloatArray:
        return np.tile([1.0 - self.rate, self.rate], (len(x), 1))


class Head(Protocol):
    def predict_proba(self, x: npt.NDArray[np.floating[Any]]) -> FloatArray: ...


def _fit_head(x: Matrix, y: IntArray, seed: int) -> Head:
    if y.size == 0 or y.min() == y.max():
        return _ConstantHead(float(y.mean()) if y.size else 0.0)
    head: Head = _head(seed).fit(x, y)
    return head


PREDICT_ROWS = 65_536  # rows a head scores at a time


def _proba(head: Head, x: Matrix) -> FloatArray:
    """`head.predict_proba(x)[:, 1]`, PREDICT_ROWS rows at a time. scikit-learn walks one
    tree over every row before the next tree and casts the rows to float64 first: on millions
    of rows each of the 60 trees then re-reads a gigabyte from memory, where a block of rows
    stays in cache for all of them (4.5M pairs: 12.6 -> 8.3 CPU s, the same numbers)."""
    out = np.empty(len(x))
    for start in range(0, len(x), PREDICT_ROWS):
        block = x[start : start + PREDICT_ROWS]
        out[start : start + PREDICT_ROWS] = head.predict_proba(block)[:, 1]
    return out


def _head(seed: int) -> HistGradientBoostingClassifier:
    # A fixed number of rounds: early stopping holds out a random 15% of rows, which made
    # recall@10 move by +-0.003 between seeds on the Instacart sample (docs/DECISIONS_LOG.md).
    return HistGradientBoostingClassifier(
        learning_rate=LEARNING_RATE, max_iter=ROUNDS, max_leaf_nodes=31, min_samples_leaf=40,
        l2_regularization=1.0, early_stopping=False, random_state=seed,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class NextNeedPredictions:
    """One entry per (customer, item) bought before as_of, sorted by (customer, item)."""

    pairs: PairHistory
    rhythm: RhythmEstimates
    p_active: FloatArray  # P(the customer shops within H days)
    p_item: FloatArray  # P(buys the item within H days | shops)
    probability: FloatArray  # p_active * p_item
    next_score: FloatArray  # P(in the next basket | shops): the ranking score


class NextNeedModel:
    """Calibrated next-need probabilities and rankings; see the module docstring.

    Parameters: horizon_days H; n_splits earlier cuts to learn from; max_train_lines caps the
    basket lines the heads learn from (customers are sampled to stay under it, so time and
    memory stay bounded); n_threads for the gradient boosting, None = the cores idle right now
    (OpenMP threads competing with other work for a busy core made a fit 2-5x slower, and a
    second idle core made it 1.5x faster: see docs/DECISIONS_LOG.md).
    """

    rhythm_: RhythmModel
    active_head_: Head | None  # None when fitted for the ranking score only (fit)
    item_head_: Head | None
    next_head_: Head | None  # None when fitted for probabilities only (fit_predict)
    ranking_: IntArray

    def __init__(
        self,
        horizon_days: float = 30.0,
        n_splits: int = 3,
        max_train_lines: int = 750_000,
        random_state: int = 0,
        n_threads: int | None = None,
    ) -> None:
        self.n_threads = n_threads
        self.horizon_days = horizon_days
        self.n_splits = n_splits
        self.max_train_lines = max_train_lines
        self.random_state = random_state

    def _snapshot(
        self, history: Baskets, as_of_day: float, pairs: PairHistory | None = None
    ) -> _Snapshot:
        pairs = pair_history(history) if pairs is None else pairs
        est = self.rhythm_.estimate(pairs, as_of_day, self.horizon_days)
        ch = customer_history(history, pairs)
        customer_x = _customer_matrix(ch, as_of_day, self.horizon_days)
        pair_x = _pair_matrix(history, pairs, est, ch, customer_x, as_of_day, self.horizon_days)
        return _Snapshot(pairs, est, ch, pair_x, customer_x)

    def fit(
        self,
        history: Baskets,
        as_of_day: float,
        item_category: IntArray | None = None,
        probabilities: bool = True,
    ) -> NextNeedModel:
        """Learn the rhythm priors on the whole history and the heads on earlier cuts.
        probabilities=False fits the next-basket head alone (two thirds of the heads' time
        less): predictions then carry the ranking score, and NaN probabilities."""
        with threadpool_limits(self.n_threads or idle_cores()):
            return self._fit(
                history, as_of_day, item_category, pair_history(history),
                with_probabilities=probabilities,
            )  # fmt: skip

    def fit_predict(
        self,
        history: Baskets,
        as_of_day: float,
        item_category: IntArray | None = None,
        next_basket: bool = True,
    ) -> NextNeedPredictions:
        """fit, then predict as of the same day, aggregating the history into pairs once.
        next_basket=False neither fits nor applies the next-basket head (a third of the
        heads' fitting time): the model then serves probabilities only."""
        pairs = pair_history(history)
        with threadpool_limits(self.n_threads or idle_cores()):
            self._fit(history, as_of_day, item_category, pairs, with_next=next_basket)
            return self._predict(history, as_of_day, next_basket, pairs)

    def _fit(
        self,
        history: Baskets,
        as_of_day: float,
        item_category: IntArray | None,
        pairs: PairHistory,
        with_next: bool = True,
        with_probabilities: bool = True,
    ) -> NextNeedModel:
        self.rhythm_ = RhythmModel().fit(pairs, item_category, history.n_items)
        self.ranking_ = ranking_by_frequency(
            np.bincount(pairs.item, weights=pairs.n_baskets, minlength=history.n_items)
        )
        rng = np.random.default_rng(self.random_state)
        sample = _sample_customers(history, self.max_train_lines, rng)
        px, py, pn, cx, cy = [], [], [], [], []
        for split in range(1, self.n_splits + 1):
            cut = as_of_day - split * self.horizon_days
            past = sample.before(cut)
            if len(past.customer) == 0:
                break
            snap = self._snapshot(past, cut)
            shopped, in_window, in_next = _labels(sample, snap.pairs, cut, self.horizon_days)
            has = snap.customers.n_baskets > 0
            cx.append(snap.customer_x[has])
            cy.append(shopped[has])
            active = shopped[snap.pairs.customer].astype(bool)
            px.append(snap.pair_x[active])
            py.append(in_window[active])
            pn.append(in_next[active])
        if not px:
            raise ValueError("the history is too short to learn from: no earlier cut holds data")
        x, y_item, y_next = np.vstack(px), np.concatenate(py), np.concatenate(pn)
        self.active_head_ = self.item_head_ = None
        if with_probabilities:
            self.active_head_ = _fit_head(np.vstack(cx), np.concatenate(cy), self.random_state)
            self.item_head_ = _fit_head(x, y_item, self.random_state)
        self.next_head_ = _fit_head(x, y_next, self.random_state) if with_next else None
        return self

    def predict(
        self, history: Baskets, as_of_day: float, next_basket: bool = True
    ) -> NextNeedPredictions:
        """Score every pair bought before `as_of_day` (history must end before it).

        next_basket=False skips the next-basket head (next_score is then p_item): a third of
        the scoring time when only the probabilities are wanted.
        """
        if not hasattr(self, "next_head_"):
            raise NotFittedError("This NextNeedModel is not fitted yet: call fit() first.")
        with threadpool_limits(self.n_threads or idle_cores()):
            return self._predict(history, as_of_day, next_basket)

    def _predict(
        self,
        history: Baskets,
        as_of_day: float,
        next_basket: bool,
        pairs: PairHistory | None = None,
    ) -> NextNeedPredictions:
        if next_basket and self.next_head_ is None:
            raise NotFittedError("fitted for probabilities only: no next-basket head to apply")
        snap = self._snapshot(history, as_of_day, pairs)
        x = snap.pair_x
        if self.active_head_ is None or self.item_head_ is None:  # the ranking score only
            p_active = p_item = np.full(len(snap.pairs.customer), np.nan)
        else:
            p_active = _proba(self.active_head_, snap.customer_x)[snap.pairs.customer]
            p_item = _proba(self.item_head_, x)
        return NextNeedPredictions(
            pairs=snap.pairs,
            rhythm=snap.rhythm,
            p_active=p_active,
            p_item=p_item,
            probability=p_active * p_item,
            next_score=(
                _proba(self.next_head_, x)
                if next_basket and self.next_head_ is not None
                else p_item
            ),
        )

    def with_items(self, old_code: IntArray) -> NextNeedModel:
        """This model for another item coding: `old_code[i]` is item i's code when the model
        was fitted, -1 for an item it never saw (which then gets the global cycle prior, as
        an item without pairs does). The heads read features, not codes."""
        if not hasattr(self, "rhythm_"):
            raise NotFittedError("This NextNeedModel is not fitted yet: call fit() first.")
        self.rhythm_ = self.rhythm_.with_items(old_code)
        new_code = np.full(int(old_code.max(initial=-1)) + 1, -1, dtype=np.int64)
        known = np.flatnonzero(old_code >= 0)
        new_code[old_code[known]] = known
        ranked = new_code[self.ranking_[self.ranking_ < new_code.size]]
        self.ranking_ = ranked[ranked >= 0]
        return self

    def recommend(self, predictions: NextNeedPredictions, customers: IntArray, k: int) -> IntArray:
        """Top-k item codes per customer by next-basket score, padded with popular items."""
        pairs = predictions.pairs
        return top_k_per_customer(
            pairs.customer, pairs.item, predictions.next_score, customers, k, self.ranking_
        )


def _sample_customers(history: Baskets, max_lines: int, rng: np.random.Generator) -> Baskets:
    """The history of a random subset of customers holding about max_lines basket lines."""
    if len(history.customer) <= max_lines:
        return history
    keep_share = max_lines / len(history.customer)
    chosen = rng.random(history.n_customers) < keep_share
    rows = chosen[history.customer]
    units = None if history.units is None else history.units[rows]
    return Baskets(
        history.customer[rows], history.basket[rows], history.item[rows], history.day[rows],
        history.n_customers, history.n_items, units,
    )  # fmt: skip


def _labels(
    history: Baskets, pairs: PairHistory, cut: float, horizon: float
) -> tuple[IntArray, IntArray, IntArray]:
    """What happened in [cut, cut + H): per customer shopped; per pair bought, in next basket."""
    window = (history.day >= cut) & (history.day < cut + horizon)
    wc, wb, wi = history.customer[window], history.basket[window], history.item[window]
    shopped = np.zeros(history.n_customers, dtype=np.int64)
    shopped[wc] = 1
    first_basket = np.full(history.n_customers, np.iinfo(np.int64).max)
    np.minimum.at(first_basket, wc, wb)
    key = pairs.customer * history.n_items + pairs.item
    bought_key = np.unique(wc * history.n_items + wi)
    next_key = np.unique((wc * history.n_items + wi)[wb == first_basket[wc]])
    return (
        shopped,
        np.isin(key, bought_key).astype(np.int64),
        np.isin(key, next_key).astype(np.int64),
    )
