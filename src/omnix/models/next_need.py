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

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import NotFittedError

from omnix.models.baselines import _global_ranking, _pad, tifu_user_vectors
from omnix.models.baskets import Baskets, FloatArray, IntArray
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


def _customer_matrix(ch: CustomerHistory, as_of_day: float, horizon: float) -> FloatArray:
    gap = np.where(
        ch.n_baskets > 1, (ch.last_day - ch.first_day) / np.maximum(ch.n_baskets - 1, 1), np.nan
    )
    gap = np.maximum(
        np.nan_to_num(gap, nan=np.nanmedian(gap) if np.isfinite(gap).any() else 30), 0.5
    )
    since = np.maximum(as_of_day - ch.last_day, 0.0)
    return np.column_stack(
        [
            np.log1p(ch.n_baskets),
            np.log(gap),
            np.log1p(np.nan_to_num(since, nan=1e4)),
            horizon / gap,
            np.log1p(ch.n_items),
            ch.lines / np.maximum(ch.n_baskets, 1),
        ]
    )


def _tifu_at(u: object, customers: IntArray, items: IntArray) -> FloatArray:
    coo = u.tocoo()  # type: ignore[attr-defined]
    n_items = int(u.shape[1])  # type: ignore[attr-defined]
    key = coo.row.astype(np.int64) * n_items + coo.col
    order = np.argsort(key)
    key, val = key[order], coo.data[order]
    want = customers * n_items + items
    pos = np.minimum(np.searchsorted(key, want), max(key.size - 1, 0))
    found = key.size > 0
    return np.where(found & (key[pos] == want), val[pos], 0.0) if key.size else np.zeros(len(want))


def _decayed_frequencies(history: Baskets, pairs: PairHistory, ch: CustomerHistory) -> FloatArray:
    """Per pair and decay d: sum of d ** (baskets ago) over baskets holding the item, divided by
    the same sum over all the customer's baskets (1 = in every basket, recent ones weigh more)."""
    n_baskets = ch.n_baskets[history.customer]
    age = n_baskets - 1 - history.basket
    key = history.customer * history.n_items + history.item
    pair_key = pairs.customer * history.n_items + pairs.item
    at = np.searchsorted(pair_key, key)
    out = np.empty((len(pairs), len(DECAYS)))
    n = ch.n_baskets[pairs.customer]
    for j, d in enumerate(DECAYS):
        total = np.bincount(at, weights=d**age, minlength=len(pairs))
        out[:, j] = total * (1 - d) / (1 - d**n)
    return out


def _rank_within(customer: IntArray, value: FloatArray) -> FloatArray:
    """0 for the customer's highest value, 1, 2, ... below it (pairs sorted by customer)."""
    order = np.lexsort((-value, customer))
    starts = np.searchsorted(customer[order], customer[order], side="left")
    rank = np.empty(customer.size)
    rank[order] = np.arange(customer.size) - starts
    return np.log1p(rank)


def _max_within(customer: IntArray, value: FloatArray) -> FloatArray:
    top = np.zeros(int(customer.max(initial=-1)) + 1)
    np.maximum.at(top, customer, value)
    return top[customer]


def _pair_matrix(
    history: Baskets,
    pairs: PairHistory,
    est: RhythmEstimates,
    ch: CustomerHistory,
    as_of_day: float,
    horizon: float,
) -> FloatArray:
    c_baskets = ch.n_baskets[pairs.customer]
    first = ch.first_day[pairs.customer]
    days_obs = np.maximum(as_of_day - first, 1.0)
    poisson = -np.expm1(-pairs.n_baskets / days_obs * horizon)
    buyers = np.bincount(pairs.item, minlength=history.n_items).astype(np.float64)
    repeaters = np.bincount(pairs.item, weights=(pairs.n_days >= 2), minlength=history.n_items)
    n_cust = max(float((ch.n_baskets > 0).sum()), 1.0)
    tifu = tifu_user_vectors(history, 3, 0.9, 0.7)
    per_purchase = pairs.units / np.maximum(pairs.n_days, 1)
    tifu_value = _tifu_at(tifu, pairs.customer, pairs.item)
    return np.column_stack(
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
            _rank_within(pairs.customer, tifu_value),
            tifu_value / np.maximum(_max_within(pairs.customer, tifu_value), 1e-12),
            _rank_within(pairs.customer, pairs.n_baskets + pairs.last_basket * 1e-6),
            buyers[pairs.item] / n_cust,
            repeaters[pairs.item] / np.maximum(buyers[pairs.item], 1.0),
            _decayed_frequencies(history, pairs, ch),
            pairs.last_basket == c_baskets - 1,
        ]
    )


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """Everything known as of one day: pairs, their rhythm, and the feature matrices."""

    pairs: PairHistory
    rhythm: RhythmEstimates
    customers: CustomerHistory
    pair_x: FloatArray
    customer_x: FloatArray


def _head(seed: int) -> HistGradientBoostingClassifier:
    # A fixed number of rounds: early stopping holds out a random 15% of rows, which made
    # recall@10 move by +-0.003 between seeds on the Instacart sample (docs/DECISIONS_LOG.md).
    return HistGradientBoostingClassifier(
        learning_rate=0.05, max_iter=150, max_leaf_nodes=31, min_samples_leaf=40,
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

    Parameters: horizon_days H; n_splits earlier cuts to learn from; max_train_pairs caps the
    training rows (customers are sampled to stay under it, so memory stays bounded).
    """

    rhythm_: RhythmModel
    active_head_: HistGradientBoostingClassifier
    item_head_: HistGradientBoostingClassifier
    next_head_: HistGradientBoostingClassifier
    ranking_: IntArray

    def __init__(
        self,
        horizon_days: float = 30.0,
        n_splits: int = 3,
        max_train_pairs: int = 1_500_000,
        random_state: int = 0,
    ) -> None:
        self.horizon_days = horizon_days
        self.n_splits = n_splits
        self.max_train_pairs = max_train_pairs
        self.random_state = random_state

    def _snapshot(self, history: Baskets, as_of_day: float) -> _Snapshot:
        pairs = pair_history(history)
        est = self.rhythm_.estimate(pairs, as_of_day, self.horizon_days)
        ch = customer_history(history, pairs)
        return _Snapshot(
            pairs,
            est,
            ch,
            _pair_matrix(history, pairs, est, ch, as_of_day, self.horizon_days),
            _customer_matrix(ch, as_of_day, self.horizon_days),
        )

    def fit(
        self, history: Baskets, as_of_day: float, item_category: IntArray | None = None
    ) -> NextNeedModel:
        """Learn the rhythm priors on the whole history and the heads on earlier cuts."""
        self.rhythm_ = RhythmModel().fit(pair_history(history), item_category, history.n_items)
        self.ranking_ = _global_ranking(history)
        rng = np.random.default_rng(self.random_state)
        sample = _sample_customers(history, self.max_train_pairs, self.n_splits, rng)
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
            px.append(np.hstack([snap.pair_x, snap.customer_x[snap.pairs.customer]])[active])
            py.append(in_window[active])
            pn.append(in_next[active])
        if not px:
            raise ValueError("the history is too short to learn from: no earlier cut holds data")
        x, y_item, y_next = np.vstack(px), np.concatenate(py), np.concatenate(pn)
        self.active_head_ = _head(self.random_state).fit(np.vstack(cx), np.concatenate(cy))
        self.item_head_ = _head(self.random_state).fit(x, y_item)
        self.next_head_ = _head(self.random_state).fit(x, y_next)
        return self

    def predict(self, history: Baskets, as_of_day: float) -> NextNeedPredictions:
        """Score every pair bought before `as_of_day` (history must end before it)."""
        if not hasattr(self, "item_head_"):
            raise NotFittedError("This NextNeedModel is not fitted yet: call fit() first.")
        snap = self._snapshot(history, as_of_day)
        x = np.hstack([snap.pair_x, snap.customer_x[snap.pairs.customer]])
        p_active = self.active_head_.predict_proba(snap.customer_x)[:, 1][snap.pairs.customer]
        p_item = self.item_head_.predict_proba(x)[:, 1]
        return NextNeedPredictions(
            pairs=snap.pairs,
            rhythm=snap.rhythm,
            p_active=p_active,
            p_item=p_item,
            probability=p_active * p_item,
            next_score=self.next_head_.predict_proba(x)[:, 1],
        )

    def recommend(self, predictions: NextNeedPredictions, customers: IntArray, k: int) -> IntArray:
        """Top-k item codes per customer by next-basket score, padded with popular items."""
        pairs = predictions.pairs
        order = np.lexsort((pairs.item, -predictions.next_score, pairs.customer))
        ranked_c, ranked_i = pairs.customer[order], pairs.item[order]
        start = np.searchsorted(ranked_c, customers)
        end = np.searchsorted(ranked_c, customers, side="right")
        counts = np.minimum(end - start, k)
        out = np.full((len(customers), k), -1, dtype=np.int64)
        rows = np.repeat(np.arange(len(customers)), counts)
        offs = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        out[rows, offs] = ranked_i[start[rows] + offs]
        return _pad(out, counts.astype(np.int64), self.ranking_)


def _sample_customers(
    history: Baskets, max_pairs: int, n_splits: int, rng: np.random.Generator
) -> Baskets:
    """The history of a random subset of customers, so n_splits cuts stay under max_pairs."""
    budget = max_pairs / max(n_splits, 1)
    if len(history.customer) <= budget:
        return history
    keep_share = budget / len(history.customer)
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
