"""Collaborative filtering on implicit feedback: ALS from the `implicit` library.

The customer x item matrix holds log(1 + distinct baskets) scaled by `alpha` (the confidence
of Hu, Koren and Volinsky 2008); ALS factorises it and a customer's score for an item is the
dot product of their factors: high for what customers with similar baskets buy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse
from sklearn.exceptions import NotFittedError
from threadpoolctl import threadpool_limits

from omnix.models.baskets import Baskets, FloatArray, IntArray
from omnix.models.recommend.candidates import (
    PairTable,
    Scored,
    customer_items,
    scored,
    top_rows,
)

_BATCH = 4096  # customers scored against every item at once: bounds a dense block
_PAIRS = 65_536  # (customer, item) pairs scored at once: bounds the gathered factors
_FOLD_IN_CG_STEPS = 12  # conjugate-gradient steps of a fold-in, starting from zero factors


class CollaborativeSource:
    """ALS (implicit 0.7). Parameters: factors, regularization, iterations, alpha
    (confidence scale), explore_only = never propose items the customer already bought,
    max_fit_customers: with more customers than this, the item factors are learned from that
    many drawn at random and every customer's factors are then solved exactly against them
    (implicit's `recalculate_user`, the fold-in of Hu, Koren and Volinsky), so the fit does
    not grow with the customer count."""

    user_factors_: FloatArray
    item_factors_: FloatArray
    bought_: Any  # CSR customer x item

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        iterations: int = 15,
        alpha: float = 10.0,
        explore_only: bool = True,
        random_state: int = 0,
        n_threads: int = 1,
        max_fit_customers: int = 30_000,
    ) -> None:
        self.max_fit_customers = max_fit_customers
        self.factors = factors
        self.regularization = regularization
        self.iterations = iterations
        self.alpha = alpha
        self.explore_only = explore_only
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(self, history: Baskets, pairs: PairTable | None = None) -> CollaborativeSource:
        """Factorise the history's customer x item matrix (`pairs`: its PairTable, when the
        caller has it already)."""
        from implicit.cpu.als import AlternatingLeastSquares

        counts = customer_items(history) if pairs is None else pairs.counts()
        weights = sparse.csr_matrix(counts, dtype=np.float32)
        weights.data = (self.alpha * np.log1p(weights.data)).astype(np.float32)
        # only customers with history: an empty row costs solves and gets no factors anyway
        active = np.flatnonzero(np.diff(weights.indptr) > 0)
        fit_on = active
        if active.size > self.max_fit_customers:
            rng = np.random.default_rng(self.random_state)
            fit_on = np.sort(rng.choice(active, self.max_fit_customers, replace=False))
        # no more factors than items: the matrix has no higher rank, and a surplus left
        # implicit's solver dividing by zero (NaN factors: CDNOW's one-product catalogue)
        factors = max(1, min(self.factors, weights.shape[1]))
        # implicit warns when BLAS runs threads of its own beside its OpenMP loop
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=factors, regularization=self.regularization,
                iterations=self.iterations, random_state=self.random_state,
                num_threads=self.n_threads,
            )  # fmt: skip
            model.fit(weights[fit_on], show_progress=False)
            self.user_factors_ = np.zeros((counts.shape[0], factors), dtype=np.float64)
            self.user_factors_[fit_on] = model.user_factors
            others = np.setdiff1d(active, fit_on, assume_unique=True)
            if others.size:  # fold the others in: each one's least-squares solve
                self.user_factors_[others] = _fold_in(model, weights[others], self.n_threads)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float64)
        self.bought_ = counts
        return self

    def _require(self) -> None:
        if not hasattr(self, "user_factors_"):
            raise NotFittedError("This CollaborativeSource is not fitted yet: call fit() first.")

    def score(self, customer: IntArray, item: IntArray) -> FloatArray:
        """The ALS preference of each (customer, item) pair (about 0..1)."""
        self._require()
        out = np.empty(customer.size, dtype=np.float64)
        for s in range(0, customer.size, _PAIRS):  # gathered factors of 64k pairs: 32 MB
            e = s + _PAIRS
            u, v = self.user_factors_[customer[s:e]], self.item_factors_[item[s:e]]
            out[s:e] = np.einsum("ij,ij->i", u, v)
        return out

    def top(self, customers: IntArray, n: int, pool: IntArray | None = None) -> Scored:
        """Each customer's n best items among `pool` (default all), leaving out what they
        bought when explore_only."""
        self._require()
        n_items = self.item_factors_.shape[0]
        pool = np.arange(n_items) if pool is None else pool
        at = np.full(n_items, -1, dtype=np.int64)  # item code -> column in the pool
        at[pool] = np.arange(pool.size)
        pool_factors = self.item_factors_[pool].T
        parts: list[Scored] = []
        for start in range(0, customers.size, _BATCH):
            batch = customers[start : start + _BATCH]
            s = self.user_factors_[batch] @ pool_factors
            if self.explore_only:  # bought items leave (a row slice of the CSR, no densify)
                m = sparse.csr_array(self.bought_[batch])
                row = np.repeat(np.arange(batch.size), np.diff(m.indptr))
                col = at[m.indices]
                hit = (col >= 0) & (m.data > 0)
                s[row[hit], col[hit]] = -np.inf
            idx, val = top_rows(s, n)
            rows = np.repeat(batch, idx.shape[1])
            ok = np.isfinite(val.ravel())
            parts.append(scored(rows[ok], pool[idx.ravel()[ok]], val.ravel()[ok]))
        return _concat(parts)

    def recommend(self, customers: IntArray, k: int) -> IntArray:
        """ALS alone as a next-basket recommender (bought items included): (n, k) codes."""
        self._require()
        out = np.full((customers.size, k), -1, dtype=np.int64)
        for start in range(0, customers.size, _BATCH):
            batch = customers[start : start + _BATCH]
            s = self.user_factors_[batch] @ self.item_factors_.T
            idx, val = top_rows(s, k)
            order = np.argsort(-val, axis=1, kind="stable")
            out[start : start + batch.size, : idx.shape[1]] = np.take_along_axis(idx, order, 1)
        return out

    def group_vectors(self) -> FloatArray:
        """Unit-length customer factors: what the segment source clusters when no segment
        is given."""
        self._require()
        norm = np.linalg.norm(self.user_factors_, axis=1, keepdims=True)
        return np.asarray(self.user_factors_ / np.maximum(norm, 1e-12), dtype=np.float64)


def _fold_in(model: Any, weights: Any, threads: int) -> FloatArray:
    """Factors of customers the model did not learn from: each solves the same regularised
    least squares against the item factors as an ALS user step, by implicit's own
    conjugate-gradient solver from zero. implicit's `recalculate_user` solves it exactly
    (Cholesky per customer, 3.7 s for 70k customers of the 100k store); 12 steps of CG
    reach the same factors to 1.2e-6 relative error (every customer's top 20 the same) in
    a third of the time (docs/DECISIONS_LOG.md)."""
    folded = np.zeros((weights.shape[0], model.factors), dtype=np.float32)
    steps, model.cg_steps = model.cg_steps, _FOLD_IN_CG_STEPS
    try:
        model.solver(weights, folded, model.item_factors, model.regularization, num_threads=threads)
    finally:
        model.cg_steps = steps  # the model's own fit keeps its 3 steps per iteration
    return folded


def _concat(parts: list[Scored]) -> Scored:
    if not parts:
        e = np.zeros(0, dtype=np.int64)
        return Scored(e, e, np.zeros(0), e)
    return Scored(
        np.concatenate([p.customer for p in parts]),
        np.concatenate([p.item for p in parts]),
        np.concatenate([p.score for p in parts]),
        np.concatenate([p.evidence for p in parts]),
    )
