"""Complements from market-basket association rules: what goes with what is in a basket.

For a rule j -> i over the baskets of the history (at most `max_baskets`, sampled, to bound
the co-occurrence count):

    support(j, i)    = baskets holding both / baskets
    confidence(j->i) = baskets holding both / baskets holding j      = P(i in basket | j)
    lift(j -> i)     = confidence / (baskets holding i / baskets)    > 1: bought together more
                                                                       than chance would say

Each antecedent keeps its `n_rules` consequents of highest confidence among rules seen in at
least `min_count` baskets with lift above `min_lift`. A basket's complements take, per item, the
best rule from any of its items (that item is the evidence: "goes with the pasta in your basket").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.exceptions import NotFittedError

from omnix.models.baskets import Baskets, FloatArray, IntArray
from omnix.models.recommend.candidates import Scored, expand_max, gather, lookup, top_per_customer


@dataclass(frozen=True, slots=True)
class Rules:
    """Association rules as parallel arrays, sorted by (antecedent, consequent)."""

    antecedent: IntArray
    consequent: IntArray
    support: FloatArray
    confidence: FloatArray
    lift: FloatArray


def basket_matrix(history: Baskets, max_baskets: int, seed: int) -> sparse.csr_array:
    """(baskets x items) 0/1 CSR; a random `max_baskets` of the baskets when there are more."""
    new = np.r_[True, (history.customer[1:] != history.customer[:-1])
                | (history.basket[1:] != history.basket[:-1])]  # fmt: skip
    basket_id = np.cumsum(new) - 1
    n_baskets = int(basket_id[-1]) + 1 if basket_id.size else 0
    if n_baskets > max_baskets:
        chosen = np.random.default_rng(seed).permutation(n_baskets)[:max_baskets]
        keep_basket = np.zeros(n_baskets, dtype=bool)
        keep_basket[chosen] = True
        rows = keep_basket[basket_id]
        renumber = np.cumsum(keep_basket) - 1
        basket_id, items = renumber[basket_id[rows]], history.item[rows]
        n_baskets = max_baskets
    else:
        items = history.item
    m = sparse.csr_array(
        (np.ones(items.size, dtype=np.float32), (basket_id, items)),
        shape=(n_baskets, history.n_items),
    )
    m.data[:] = 1.0  # an item on two lines of a basket counts once
    return m


class ComplementSource:
    """Parameters: n_rules per antecedent, min_count baskets, min_lift, max_baskets sampled."""

    rules_: Rules
    confidence_: sparse.csr_array  # antecedent x consequent
    n_items_: int

    def __init__(
        self,
        n_rules: int = 20,
        min_count: int = 5,
        min_lift: float = 1.0,
        max_baskets: int = 300_000,
        random_state: int = 0,
    ) -> None:
        self.n_rules = n_rules
        self.min_count = min_count
        self.min_lift = min_lift
        self.max_baskets = max_baskets
        self.random_state = random_state

    def fit(self, history: Baskets) -> ComplementSource:
        """Count co-occurrences and keep each antecedent's best rules."""
        b = basket_matrix(history, self.max_baskets, self.random_state)
        n = max(b.shape[0], 1)
        count = np.asarray(b.sum(axis=0)).ravel()
        both = sparse.coo_array(b.T @ b)
        j, i, nij = both.row.astype(np.int64), both.col.astype(np.int64), both.data
        conf = nij / np.maximum(count[j], 1)
        lift = conf / np.maximum(count[i] / n, 1e-12)
        ok = (j != i) & (nij >= self.min_count) & (lift > self.min_lift)
        best = top_per_customer(
            Scored(j[ok], i[ok], conf[ok], np.arange(ok.sum(), dtype=np.int64)), self.n_rules
        )
        at = best.evidence
        self.rules_ = Rules(best.customer, best.item, (nij[ok] / n)[at], best.score,
                            lift[ok][at])  # fmt: skip
        self.confidence_ = sparse.csr_array(
            (best.score, (best.customer, best.item)), shape=(history.n_items, history.n_items)
        )
        self.n_items_ = history.n_items
        return self

    def _require(self) -> None:
        if not hasattr(self, "rules_"):
            raise NotFittedError("This ComplementSource is not fitted yet: call fit() first.")

    def for_baskets(self, basket: sparse.csr_array, customers: IntArray) -> Scored:
        """Complements of each customer's basket (row c of `basket`: 1 for items in it):
        per item the best confidence from any basket item, which is the evidence."""
        self._require()
        rows = expand_max(basket, self.confidence_, customers)
        if not rows.customer.size:  # no rules (one product): SciPy's empty fancy index is
            return rows  # a sparse 0 x 0 matrix, which `> 0` cannot turn into a mask
        in_basket = np.asarray(basket[rows.customer, rows.item]).ravel() > 0
        return rows.take(np.flatnonzero(~in_basket))

    def lift(self, antecedent: IntArray, consequent: IntArray) -> FloatArray:
        """Lift of each kept rule (0 where no rule was kept)."""
        self._require()
        r = self.rules_
        found = Scored(r.antecedent, r.consequent, r.lift, r.antecedent)
        at = lookup(found, antecedent, consequent, self.n_items_)
        return gather(r.lift, at, 0.0)


def last_baskets(history: Baskets) -> sparse.csr_array:
    """(customers x items) 1 for the items of each customer's most recent basket."""
    if history.customer.size == 0:
        return sparse.csr_array((history.n_customers, history.n_items))
    last = np.full(history.n_customers, -1, dtype=np.int64)
    np.maximum.at(last, history.customer, history.basket)
    rows = history.basket == last[history.customer]
    m = sparse.csr_array(
        (np.ones(int(rows.sum())), (history.customer[rows], history.item[rows])),
        shape=(history.n_customers, history.n_items),
    )
    m.data[:] = 1.0
    return m
