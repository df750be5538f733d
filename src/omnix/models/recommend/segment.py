"""Segment-popular items: what the customer's segment or cluster buys that they have not.

A customer's group is given (the RFM segment or behavioural cluster of `omnix analyze`) or,
when none is known, found with K-means on a vector per customer (the blend passes the ALS
factors: customers with similar baskets). Popularity within a group is the recency-weighted
share of its customers who bought the item: each buyer counts 0.5 ** (days since their last
purchase of it / half_life_days).
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.exceptions import NotFittedError

from omnix.models.baskets import Baskets, FloatArray, IntArray
from omnix.models.recommend.candidates import (
    PairTable,
    Scored,
    contains,
    pair_table,
    scored,
    top_rows,
)


class SegmentSource:
    """Parameters: n_clusters for K-means when no groups are given (its centres learned on at
    most max_fit_customers customers with history, drawn at random); half_life_days of a
    purchase's weight; explore_only leaves out items the customer bought."""

    groups_: IntArray  # per customer code, -1 = none
    popularity_: FloatArray  # (n_groups + 1) x n_items; the last row is everyone
    ranked_: IntArray  # per group row, item codes by popularity
    bought_: IntArray  # sorted pair keys (candidates.pair_keys)
    n_items_: int

    def __init__(
        self,
        n_clusters: int = 12,
        half_life_days: float = 60.0,
        explore_only: bool = True,
        random_state: int = 0,
        max_fit_customers: int = 20_000,
    ) -> None:
        self.n_clusters = n_clusters
        self.max_fit_customers = max_fit_customers
        self.half_life_days = half_life_days
        self.explore_only = explore_only
        self.random_state = random_state

    def fit(
        self,
        history: Baskets,
        as_of_day: float,
        groups: IntArray | None = None,
        vectors: FloatArray | None = None,
        pairs: PairTable | None = None,
    ) -> SegmentSource:
        """Group the customers (given `groups`, else K-means on `vectors`) and rank each
        group's items (`pairs`: the history's PairTable, when the caller has it)."""
        pairs = pair_table(history) if pairs is None else pairs
        if groups is None:
            if vectors is None:
                raise ValueError("SegmentSource needs groups or vectors to cluster")
            groups = self._cluster(vectors, np.unique(pairs.customer))
        groups = np.asarray(groups, dtype=np.int64)
        n_groups = int(groups.max(initial=-1)) + 1
        c, i, last = pairs.customer, pairs.item, pairs.last_day
        w = 0.5 ** (np.maximum(as_of_day - last, 0.0) / self.half_life_days)
        g = np.where(groups[c] >= 0, groups[c], n_groups)
        pop = np.zeros((n_groups + 1, history.n_items))
        np.add.at(pop, (g, i), w)
        everyone = pop.sum(axis=0)
        sizes = np.bincount(np.where(groups >= 0, groups, n_groups), minlength=n_groups + 1)
        pop[:n_groups] /= np.maximum(sizes[:n_groups, None], 1)
        pop[n_groups] = everyone / max(groups.size, 1)
        self.groups_, self.popularity_ = groups, pop
        self.ranked_ = np.argsort(-pop, axis=1, kind="stable")
        self.bought_ = pairs.keys
        self.n_items_ = history.n_items
        return self

    def _cluster(self, vectors: FloatArray, has: IntArray) -> IntArray:
        """K-means groups of the customers `has` (with history; the others get group -1),
        centres learned on at most `max_fit_customers` of them."""
        groups = np.full(vectors.shape[0], -1, dtype=np.int64)
        if has.size == 0:
            return groups
        fit_on = has
        if has.size > self.max_fit_customers:
            rng = np.random.default_rng(self.random_state)
            fit_on = np.sort(rng.choice(has, self.max_fit_customers, replace=False))
        k = max(1, min(self.n_clusters, fit_on.size))
        km = KMeans(k, n_init=3, random_state=self.random_state).fit(vectors[fit_on])
        groups[has] = km.predict(vectors[has])
        return groups

    def _require(self) -> None:
        if not hasattr(self, "popularity_"):
            raise NotFittedError("This SegmentSource is not fitted yet: call fit() first.")

    def _row(self, customer: IntArray) -> IntArray:
        known = customer < self.groups_.size
        g = np.where(known, self.groups_[np.where(known, customer, 0)], -1)
        return np.where(g >= 0, g, self.popularity_.shape[0] - 1)

    def score(self, customer: IntArray, item: IntArray) -> FloatArray:
        """Popularity of the item in the customer's group (0..1)."""
        self._require()
        return np.asarray(self.popularity_[self._row(customer), item], dtype=np.float64)

    def top(self, customers: IntArray, n: int) -> Scored:
        """Each customer's group's n most popular items they have not bought."""
        self._require()
        rows = self._row(customers)
        span = min(self.ranked_.shape[1], n + 100)
        cand = self.ranked_[rows, :span]
        val = self.popularity_[rows[:, None], cand]
        if self.explore_only:
            c = np.repeat(customers, span)
            bought = contains(self.bought_, c, cand.ravel(), self.n_items_)
            val = np.where(bought.reshape(cand.shape), -np.inf, val)
        idx, best = top_rows(val, n)
        items = np.take_along_axis(cand, idx, axis=1)
        ok = np.isfinite(best.ravel()) & (best.ravel() > 0)
        c = np.repeat(customers, idx.shape[1])
        return scored(c[ok], items.ravel()[ok], best.ravel()[ok])

    def popular(self, group: int | None, k: int) -> tuple[IntArray, FloatArray]:
        """The k most popular items of a group (None = everyone) and their popularity."""
        self._require()
        row = self.popularity_.shape[0] - 1 if group is None else group
        items = self.ranked_[row, :k]
        return items.astype(np.int64), self.popularity_[row, items]
