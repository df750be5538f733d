"""Content similarity: items whose product text (name, category, brand) reads like what the
customer buys.

The item vectors come from outside (a sentence-embedding model, or TF-IDF when that extra is
not installed; see adapters/embeddings.py), one L2-normalised row per item code. Fitting keeps
each item's `n_neighbours` most similar items among the `pool` (by default every item); a
customer's score for an item is max over their favourite items j of
weight(j) x cosine(j, item), and that j is the evidence a reason names ("like the pasta you buy").
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse
from sklearn.exceptions import NotFittedError

from omnix.models.baskets import Baskets, FloatArray, IntArray
from omnix.models.recommend.candidates import (
    PairTable,
    Scored,
    contains,
    customer_items,
    expand_max,
    gather,
    lookup,
    pair_table,
    rows_of,
    top_per_customer,
    top_rows,
)

_BATCH = 2048


def favourites(history: Baskets, n: int, pairs: PairTable | None = None) -> sparse.csr_array:
    """Each customer's n most bought items weighted by baskets / their top item's baskets."""
    m = (customer_items(history) if pairs is None else pairs.counts()).tocoo()
    rows = Scored(
        m.row.astype(np.int64), m.col.astype(np.int64), m.data.astype(np.float64),
        np.full(m.nnz, -1, dtype=np.int64),
    )  # fmt: skip
    top = top_per_customer(rows, n)
    best = np.zeros(history.n_customers)
    np.maximum.at(best, top.customer, top.score)
    weight = top.score / np.maximum(best[top.customer], 1e-12)
    shape = (history.n_customers, history.n_items)
    return sparse.csr_array((weight, (top.customer, top.item)), shape=shape)


def neighbours(vectors: Any, pool: IntArray, n: int, min_similarity: float) -> sparse.csr_array:
    """(n_items x n_items) CSR: each item's n most similar pool items (cosine, itself left
    out), only those at least `min_similarity`."""
    n_items = vectors.shape[0]
    rows_out, cols_out, vals_out = [], [], []
    pool_vectors = vectors[pool]
    for start in range(0, n_items, _BATCH):
        block = vectors[start : start + _BATCH] @ pool_vectors.T
        sims = np.asarray(block.toarray() if sparse.issparse(block) else block, dtype=np.float64)
        own = np.arange(start, start + sims.shape[0])
        sims[pool[None, :] == own[:, None]] = -1.0
        idx, val = top_rows(sims, n)
        rows = np.repeat(own, idx.shape[1])
        keep = val.ravel() >= min_similarity
        rows_out.append(rows[keep])
        cols_out.append(pool[idx.ravel()[keep]])
        vals_out.append(val.ravel()[keep])
    return sparse.csr_array(
        (np.concatenate(vals_out), (np.concatenate(rows_out), np.concatenate(cols_out))),
        shape=(n_items, n_items),
    )


class ContentSource:
    """Parameters: n_neighbours kept per item, n_favourites per customer, min_similarity
    (cosine) below which two items are not called alike, explore_only."""

    neighbours_: sparse.csr_array
    favourites_: sparse.csr_array
    rows_: Scored
    n_items_: int
    bought_: IntArray

    def __init__(
        self,
        n_neighbours: int = 20,
        n_favourites: int = 15,
        min_similarity: float = 0.3,
        explore_only: bool = True,
    ) -> None:
        self.n_neighbours = n_neighbours
        self.n_favourites = n_favourites
        self.min_similarity = min_similarity
        self.explore_only = explore_only

    def fit(
        self,
        history: Baskets,
        vectors: Any,
        pool: IntArray | None = None,
        pairs: PairTable | None = None,
    ) -> ContentSource:
        """Learn item neighbours from `vectors` (n_items x d, rows L2-normalised, dense or
        sparse) and each customer's favourites from `history` (`pairs`: its PairTable)."""
        if vectors.shape[0] != history.n_items:
            raise ValueError(f"vectors has {vectors.shape[0]} rows for {history.n_items} items")
        pool = np.arange(history.n_items) if pool is None else pool
        self.neighbours_ = neighbours(vectors, pool, self.n_neighbours, self.min_similarity)
        pairs = pair_table(history) if pairs is None else pairs
        self.favourites_ = favourites(history, self.n_favourites, pairs)
        self.n_items_ = history.n_items
        self.bought_ = pairs.keys
        return self

    def prepare(self, customers: IntArray) -> ContentSource:
        """Score these customers' neighbour items (what `top` and `score` read)."""
        if not hasattr(self, "neighbours_"):
            raise NotFittedError("This ContentSource is not fitted yet: call fit() first.")
        rows = expand_max(self.favourites_, self.neighbours_, np.unique(customers))
        if self.explore_only and len(rows):
            bought = contains(self.bought_, rows.customer, rows.item, self.n_items_)
            rows = rows.take(np.flatnonzero(~bought))
        self.rows_ = rows
        return self

    def _require(self) -> None:
        if not hasattr(self, "rows_"):
            raise NotFittedError("call fit() then prepare(customers) before scoring")

    def top(self, customers: IntArray, n: int) -> Scored:
        self._require()
        rows = self.rows_.take(rows_of(self.rows_, customers))
        return top_per_customer(rows, n)

    def score(self, customer: IntArray, item: IntArray) -> tuple[FloatArray, IntArray]:
        """(similarity score, the favourite item behind it or -1) per pair."""
        self._require()
        at = lookup(self.rows_, customer, item, self.n_items_)
        return gather(self.rows_.score, at, 0.0), gather(self.rows_.evidence, at, -1)
