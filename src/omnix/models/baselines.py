"""Next-basket baselines: what any learned recommender has to beat.

All four are fitted on a `Baskets` history whose customer and item ids are integer codes:

    GTopFreq              the same globally most bought items for everyone
    PTopFreq              a customer's own most bought items, padded with GTopFreq
    TIFUKNN               Hu et al., SIGIR 2020: time-decayed personal item frequencies blended
                          with those of the customer's nearest neighbours
    ConstantRatePoisson   P(a customer buys an item again within h days) at a constant rate
    PoissonGamma          the same with each pair's rate shrunk toward its item's gamma prior
                          (empirical Bayes, the family of Bhagat et al., KDD 2018)

`recommend(customers, k)` returns an int64 array of shape (len(customers), k) holding item codes,
best first; -1 fills a slot only when fewer than k items were ever bought in the history.
Frequencies count distinct baskets, so an item on two lines of one basket counts once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import NearestNeighbors

from omnix.models.baskets import Baskets, FloatArray, IntArray

# Requested customers scored together by TIFUKNN: bounds the neighbour-mean matrix (sparse, but
# nearly full with many neighbours) to _BATCH x n_items, whatever the number of customers asked.
_BATCH = 256


# ---------------------------------------------------------------- shared helpers


def _require_fitted(estimator: object, attribute: str) -> None:
    if not hasattr(estimator, attribute):
        name = type(estimator).__name__
        raise NotFittedError(f"This {name} is not fitted yet: call fit(history) before using it.")


def _as_codes(values: IntArray, what: str) -> IntArray:
    """Validate a 1-D array of non-negative integer codes and return it as int64."""
    codes = np.asarray(values)
    if codes.ndim != 1:
        raise ValueError(f"{what} must be a 1-D array of integer codes, got shape {codes.shape}")
    if codes.size and not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"{what} must hold integer codes, got dtype {codes.dtype}")
    codes = codes.astype(np.int64, copy=False)
    if codes.size and codes.min() < 0:
        raise ValueError(f"{what} must be non-negative codes")
    return codes


def _check_k(k: int) -> int:
    if int(k) != k or k < 0:
        raise ValueError(f"k must be a non-negative integer, got {k!r}")
    return int(k)


def _distinct_rows(history: Baskets) -> tuple[IntArray, IntArray, IntArray, FloatArray]:
    """(customer, basket, item, day) sorted by (customer, basket, item), duplicate lines dropped."""
    customer = np.asarray(history.customer, dtype=np.int64)
    basket = np.asarray(history.basket, dtype=np.int64)
    item = np.asarray(history.item, dtype=np.int64)
    order = np.lexsort((item, basket, customer))
    c, b, i = customer[order], basket[order], item[order]
    keep = np.ones(len(order), dtype=bool)
    keep[1:] = (np.diff(c) != 0) | (np.diff(b) != 0) | (np.diff(i) != 0)
    day = np.asarray(history.day, dtype=np.float64)[order]
    return c[keep], b[keep], i[keep], day[keep]


def _global_ranking(history: Baskets) -> IntArray:
    """Item codes bought at least once, by distinct-basket count (desc), then item code (asc)."""
    _, _, item, _ = _distinct_rows(history)
    return ranking_by_frequency(np.bincount(item, minlength=history.n_items))


def ranking_by_frequency(freq: npt.NDArray[np.floating[Any]] | IntArray) -> IntArray:
    """Item codes with freq > 0, most frequent first, ties to the lower code (as GTopFreq)."""
    order = np.lexsort((np.arange(len(freq)), -freq))
    return order[freq[order] > 0].astype(np.int64)


def top_k_per_customer(
    customer: IntArray,
    item: IntArray,
    score: FloatArray,
    customers: IntArray,
    k: int,
    ranking: IntArray,
) -> IntArray:
    """Each requested customer's k items with the highest score (ties: lower code), padded with
    `ranking` items they do not have; shape (len(customers), k), -1 where nothing is left."""
    order = np.lexsort((item, -score, customer))
    indptr = np.searchsorted(customer[order], np.arange(int(customer.max(initial=-1)) + 2))
    out, counts = _gather(indptr.astype(np.int64), item[order], customers, k)
    return _pad(out, counts, ranking)


def _pad(out: IntArray, counts: IntArray, ranking: IntArray) -> IntArray:
    """Fill each row's slots after its first `counts` items with `ranking` items not yet in it.

    Only ranking[:k] is needed: a row holding c items excludes at most c of them, which leaves
    at least the k - c items the row still needs (or all there are).
    """
    n, k = out.shape
    top = ranking[:k]
    if n == 0 or k == 0 or top.size == 0:
        return out
    base = int(max(out.max(), top.max())) + 1
    row_offset = np.arange(n, dtype=np.int64)[:, None] * base
    taken = (row_offset + out)[out >= 0]
    available = ~np.isin(row_offset + top[None, :], taken)
    slot = counts[:, None] + np.cumsum(available, axis=1) - 1
    rows, cols = np.nonzero(available & (slot < k))
    out[rows, slot[rows, cols]] = top[cols]
    return out


def _gather(
    indptr: IntArray, values: IntArray, customers: IntArray, k: int
) -> tuple[IntArray, IntArray]:
    """First k of values[indptr[c]:indptr[c+1]] per customer into an (n, k) array padded with -1.

    Customers beyond the fitted range have no history and get an empty row. Returns (rows, counts).
    """
    n = len(customers)
    known = customers < len(indptr) - 1
    starts = np.zeros(n, dtype=np.int64)
    counts = np.zeros(n, dtype=np.int64)
    starts[known] = indptr[customers[known]]
    counts[known] = np.minimum(indptr[customers[known] + 1] - starts[known], k)
    rows = np.repeat(np.arange(n), counts)
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    out = np.full((n, k), -1, dtype=np.int64)
    out[rows, offsets] = values[starts[rows] + offsets]
    return out, counts


@dataclass(frozen=True, slots=True)
class _PairStats:
    """One entry per (customer, item) bought, sorted by key = customer * n_items + item."""

    key: IntArray
    customer: IntArray
    item: IntArray
    n_baskets: IntArray  # distinct baskets containing the item
    last_basket: IntArray  # highest basket index containing it
    first_day: FloatArray  # day of the first basket containing it


def _pair_stats(history: Baskets) -> _PairStats:
    c, b, i, day = _distinct_rows(history)
    key = c * history.n_items + i
    order = np.lexsort((b, key))
    key, b, day = key[order], b[order], day[order]
    if key.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return _PairStats(empty, empty, empty, empty, empty, np.zeros(0))
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    ends = np.r_[starts[1:], key.size] - 1
    pair_key = key[starts]
    return _PairStats(
        key=pair_key,
        customer=pair_key // history.n_items,
        item=pair_key % history.n_items,
        n_baskets=(ends - starts + 1).astype(np.int64),
        last_basket=b[ends],
        first_day=np.minimum.reduceat(day, starts),
    )


# ---------------------------------------------------------------- frequency baselines


class GTopFreq:
    """Recommend the globally most frequent items to everyone.

    Frequency = number of distinct baskets containing the item; ties go to the lower item code.

    >>> GTopFreq().fit(history).recommend(np.array([0, 5]), k=3)   # doctest: +SKIP
    array([[4, 1, 7], [4, 1, 7]])
    """

    ranking_: IntArray

    def fit(self, history: Baskets) -> GTopFreq:
        """Learn `ranking_`: every item bought at least once, most frequent first."""
        self.ranking_ = _global_ranking(history)
        return self

    def recommend(self, customers: IntArray, k: int) -> IntArray:
        """The same top-k item codes for each customer, shape (len(customers), k); -1 pads."""
        _require_fitted(self, "ranking_")
        customers, k = _as_codes(customers, "customers"), _check_k(k)
        row = np.full(k, -1, dtype=np.int64)
        top = self.ranking_[:k]
        row[: top.size] = top
        return np.tile(row, (len(customers), 1))


class PTopFreq:
    """Recommend a customer's own most frequently bought items, padded with GTopFreq.

    Own items rank by number of distinct baskets containing them, ties by the most recent purchase
    (higher last basket index first), then by lower item code. Remaining slots take the globally
    most frequent items the customer has not bought; customers without history get GTopFreq.
    """

    ranking_: IntArray
    indptr_: IntArray
    items_: IntArray

    def fit(self, history: Baskets) -> PTopFreq:
        """Learn each customer's ranked items as CSR-like `indptr_` / `items_`."""
        stats = _pair_stats(history)
        order = np.lexsort((stats.item, -stats.last_basket, -stats.n_baskets, stats.customer))
        self.items_ = stats.item[order]
        self.indptr_ = np.searchsorted(
            stats.customer[order], np.arange(history.n_customers + 1)
        ).astype(np.int64)
        self.ranking_ = _global_ranking(history)
        return self

    def recommend(self, customers: IntArray, k: int) -> IntArray:
        """Top-k item codes per customer, shape (len(customers), k); -1 pads."""
        _require_fitted(self, "items_")
        customers, k = _as_codes(customers, "customers"), _check_k(k)
        out, counts = _gather(self.indptr_, self.items_, customers, k)
        return _pad(out, counts, self.ranking_)


# ---------------------------------------------------------------- TIFU-KNN


def _basket_positions(customer: IntArray, basket: IntArray) -> tuple[IntArray, IntArray]:
    """Per line: its basket's position within the customer (0 = oldest) and the customer's
    number of baskets. Lines must be sorted by (customer, basket); ids need not be contiguous.
    """
    if customer.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    new_customer = np.r_[True, customer[1:] != customer[:-1]]
    basket_seq = np.cumsum(np.r_[True, new_customer[1:] | (basket[1:] != basket[:-1])]) - 1
    run = np.cumsum(new_customer) - 1
    starts = np.flatnonzero(new_customer)
    ends = np.r_[starts[1:], customer.size] - 1
    first, last = basket_seq[starts], basket_seq[ends]
    return basket_seq - first[run], (last - first + 1)[run]


def tifu_user_vectors(history: Baskets, m: int, r_b: float, r_g: float) -> sparse.csr_array:
    """TIFU-KNN user vectors u as a CSR (n_customers x n_items) matrix.

    A customer's n baskets (oldest first) form ceil(n / m) groups of consecutive baskets; the
    newest groups hold m baskets, the oldest holds the remainder. Within a group of size |g|,
    basket j (1 = oldest) weighs r_b^(|g|-j) / |g|; group i of k_g (1 = oldest) weighs
    r_g^(k_g-i) / k_g. Both sums are linear, so each line gets the product of its two weights
    and the sparse constructor adds them up per (customer, item) with no loop.
    """
    c, b, i, _ = _distinct_rows(history)
    shape = (history.n_customers, history.n_items)
    return sparse.csr_array((tifu_row_weights(c, b, m, r_b, r_g), (c, i)), shape=shape)


def tifu_row_weights(
    customer: IntArray, basket: IntArray, m: int, r_b: float, r_g: float
) -> FloatArray:
    """Each line's weight in its customer's TIFU-KNN user vector (see tifu_user_vectors).

    Lines must be distinct (customer, basket, item) rows sorted by (customer, basket).
    """
    position, n = _basket_positions(customer, basket)
    age = n - 1 - position  # 0 = newest basket
    n_groups = -(-n // m)
    group_age = age // m  # 0 = newest group
    size = np.where(group_age == n_groups - 1, n - (n_groups - 1) * m, m)
    return np.asarray(
        powers(r_b, age % m) / size * powers(r_g, group_age) / n_groups, dtype=np.float64
    )


def powers(base: float, exponent: IntArray | FloatArray) -> FloatArray:
    """`base ** exponent` for whole-number exponents (counts such as baskets ago): looked up in
    a table of base ** 0 .. max (a gather instead of a pow per element: 10.5M lines, 0.07-0.2
    -> 0.015 s each, the same numbers); computed when they are negative, large or fractional."""
    with np.errstate(invalid="ignore"):  # NaN or inf: not whole, computed below
        k = np.asarray(exponent, dtype=np.int64)
    whole = np.issubdtype(exponent.dtype, np.integer) or bool(np.array_equal(k, exponent))
    if k.size == 0 or not whole or int(k.min()) < 0 or int(k.max()) > 100_000:
        return np.asarray(np.power(base, exponent), dtype=np.float64)
    return np.power(base, np.arange(int(k.max()) + 1))[k]


def _row_thresholds(scores: sparse.csr_array, k: int) -> FloatArray:
    """Per row, the k-th largest stored score (0 when the row stores fewer than k).

    np.partition over the rows' stored values laid side by side is linear in the stored entries;
    sorting every entry of a batch (thousands per row with many neighbours) took seconds.
    """
    n = scores.shape[0]
    per_row = np.diff(scores.indptr)
    width = int(per_row.max(initial=0))
    if width < k or k == 0:
        return np.zeros(n)
    rows = np.repeat(np.arange(n), per_row)
    packed = np.zeros((n, width))
    packed[rows, np.arange(rows.size) - scores.indptr[rows]] = scores.data
    return np.asarray(-np.partition(-packed, k - 1, axis=1)[:, k - 1], dtype=np.float64)


def _top_k_sparse(scores: sparse.csr_array, k: int) -> tuple[IntArray, IntArray]:
    """Per row, the k column codes with the highest positive score (ties: lower code).

    Returns (rows padded with -1, number of real items per row).
    """
    scores = sparse.csr_array(scores)
    n = scores.shape[0]
    per_row = np.diff(scores.indptr).astype(np.int64)
    rows = np.repeat(np.arange(n), per_row)
    # Only entries at or above the row's k-th largest score can make the top k (ties included).
    keep = (scores.data > 0) & (scores.data >= _row_thresholds(scores, k)[rows])
    rows, cols, values = rows[keep], scores.indices[keep], scores.data[keep]
    order = np.lexsort((cols, -values, rows))
    rows, cols = rows[order], cols[order]
    starts = np.searchsorted(rows, np.arange(n))
    rank = np.arange(rows.size) - starts[rows]
    top = rank < k
    out = np.full((n, k), -1, dtype=np.int64)
    out[rows[top], rank[top]] = cols[top]
    return out, np.bincount(rows[top], minlength=n).astype(np.int64)


class TIFUKNN:
    """TIFU-KNN next-basket recommender (Hu et al., SIGIR 2020).

    "Modeling Personalized Item Frequency Information for Next-basket Recommendation": a user
    vector of time-decayed item frequencies (see `tifu_user_vectors`) blended with the mean user
    vector of the customer's k nearest neighbours (Euclidean, as in the authors' code):

        p = alpha * u + (1 - alpha) * mean(u of the k nearest other customers)

    Parameters: m baskets per group, r_b within-group decay, r_g between-group decay, k
    neighbours (not the k of `recommend`), alpha weight of the customer's own vector.
    Neighbours are searched among customers with at least one basket in the fitted history.
    """

    user_vectors_: sparse.csr_array
    candidates_: IntArray
    neighbours_: NearestNeighbors | None  # None when the history is empty
    ranking_: IntArray

    def __init__(
        self, m: int = 3, r_b: float = 0.9, r_g: float = 0.7, k: int = 300, alpha: float = 0.9
    ) -> None:
        self.m = m
        self.r_b = r_b
        self.r_g = r_g
        self.k = k
        self.alpha = alpha

    def _validate_params(self) -> None:
        if int(self.m) != self.m or self.m < 1:
            raise ValueError(f"m (baskets per group) must be an integer >= 1, got {self.m!r}")
        if int(self.k) != self.k or self.k < 1:
            raise ValueError(f"k (neighbours) must be an integer >= 1, got {self.k!r}")
        for name in ("r_b", "r_g"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(
                    f"{name} (decay rate) must be in (0, 1], got {getattr(self, name)!r}"
                )
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha!r}")

    def fit(self, history: Baskets) -> TIFUKNN:
        """Learn `user_vectors_` and a neighbour index over customers with history."""
        self._validate_params()
        self.user_vectors_ = tifu_user_vectors(history, int(self.m), self.r_b, self.r_g)
        self.candidates_ = np.flatnonzero(np.diff(self.user_vectors_.indptr)).astype(np.int64)
        self.neighbours_ = None
        if self.candidates_.size:
            self.neighbours_ = NearestNeighbors().fit(self.user_vectors_[self.candidates_])
        self.ranking_ = _global_ranking(history)
        return self

    def _neighbour_weights(self, customers: IntArray) -> sparse.csr_array:
        """(len(customers) x n_customers) matrix averaging each customer's k nearest others."""
        assert self.neighbours_ is not None  # only customers with history are scored
        n_query = min(int(self.k) + 1, self.candidates_.size)
        _, found = self.neighbours_.kneighbors(self.user_vectors_[customers], n_neighbors=n_query)
        found = self.candidates_[found]
        keep = found != customers[:, None]
        # Duplicate user vectors can push the customer out of its own k + 1 list: drop the farthest.
        keep[keep.all(axis=1), -1] = False
        counts = keep.sum(axis=1)
        rows = np.repeat(np.arange(len(customers)), counts)
        weights = 1.0 / np.maximum(counts, 1)[rows]
        shape = (len(customers), self.user_vectors_.shape[0])
        return sparse.csr_array((weights, (rows, found[keep])), shape=shape)

    def scores(self, customers: IntArray) -> sparse.csr_array:
        """Prediction vectors p (sparse, len(customers) x n_items) of customers with history.

        Raises ValueError for customers with no basket in the fitted history: they have no
        user vector to find neighbours for (`recommend` gives them GTopFreq instead).
        """
        _require_fitted(self, "user_vectors_")
        customers = _as_codes(customers, "customers")
        has_history = np.isin(customers, self.candidates_)
        if not has_history.all():
            missing = customers[~has_history][:5].tolist()
            raise ValueError(f"customers without history in the fitted baskets: {missing}")
        own = self.user_vectors_[customers]
        if self.alpha == 1.0:
            return own
        neighbour_mean = self._neighbour_weights(customers) @ self.user_vectors_
        return sparse.csr_array(self.alpha * own + (1.0 - self.alpha) * neighbour_mean)

    def recommend(self, customers: IntArray, k: int) -> IntArray:
        """Top-k items by p per customer (ties: lower item code), padded with GTopFreq items.

        Customers without history in the fitted baskets get GTopFreq. Shape (len(customers), k).
        """
        _require_fitted(self, "user_vectors_")
        customers, k = _as_codes(customers, "customers"), _check_k(k)
        out = np.full((len(customers), k), -1, dtype=np.int64)
        counts = np.zeros(len(customers), dtype=np.int64)
        known = customers < self.user_vectors_.shape[0]
        known[known] = np.diff(self.user_vectors_.indptr)[customers[known]] > 0
        scored = np.flatnonzero(known)
        for start in range(0, scored.size, _BATCH):
            rows = scored[start : start + _BATCH]
            out[rows], counts[rows] = _top_k_sparse(self.scores(customers[rows]), k)
        return _pad(out, counts, self.ranking_)


# ---------------------------------------------------------------- repurchase probability


class ConstantRatePoisson:
    """P(customer buys item at least once within h days) under a constant purchase rate.

        p = 1 - exp(-n / days_observed * h)

    n is the number of distinct baskets of the customer containing the item in the history
    (which should end before `as_of_day`; it is not filtered here).
    days_observed (days, floored at 1) runs up to `as_of_day` from:

    - observed_from="customer" (default): the customer's first basket. The rate is the item's
      share of the customer's whole tenure, so a newly adopted item starts with a low rate.
    - observed_from="pair": the customer's first purchase of that item. The rate is measured
      only since adoption; higher for newly adopted items, and n >= 1 by construction.

    Pairs never bought get p = 0.
    """

    as_of_day_: float
    pair_key_: IntArray
    pair_n_: IntArray
    pair_start_day_: FloatArray
    n_items_: int

    def __init__(self, observed_from: Literal["customer", "pair"] = "customer") -> None:
        self.observed_from = observed_from

    def fit(self, history: Baskets, as_of_day: float) -> ConstantRatePoisson:
        """Count baskets per (customer, item); `as_of_day` is days since 1970-01-01 (the cutoff)."""
        if self.observed_from not in ("customer", "pair"):
            raise ValueError(
                f"observed_from must be 'customer' or 'pair', got {self.observed_from!r}"
            )
        if not np.isfinite(as_of_day):
            raise ValueError(f"as_of_day must be a finite number of days, got {as_of_day!r}")
        stats = _pair_stats(history)
        if self.observed_from == "pair":
            start = stats.first_day
        else:
            customer_first = np.full(history.n_customers, np.inf)
            np.minimum.at(customer_first, stats.customer, stats.first_day)
            start = customer_first[stats.customer]
        self.as_of_day_ = float(as_of_day)
        self.pair_key_, self.pair_n_, self.pair_start_day_ = stats.key, stats.n_baskets, start
        self.n_items_ = history.n_items
        return self

    def predict_rate(self, customers: IntArray, items: IntArray) -> FloatArray:
        """Purchases per day for each (customers[j], items[j]) pair; 0 for pairs never bought."""
        _require_fitted(self, "pair_key_")
        customers, items = _as_codes(customers, "customers"), _as_codes(items, "items")
        if customers.shape != items.shape:
            raise ValueError("customers and items must have the same length")
        key = customers * self.n_items_ + items
        rate = np.zeros(key.size)
        if self.pair_key_.size == 0:
            return rate
        pos = np.minimum(np.searchsorted(self.pair_key_, key), self.pair_key_.size - 1)
        # items beyond n_items would alias another customer's key
        found = (items < self.n_items_) & (self.pair_key_[pos] == key)
        days = np.maximum(self.as_of_day_ - self.pair_start_day_[pos[found]], 1.0)
        rate[found] = self.pair_n_[pos[found]] / days
        return rate

    def predict_proba(
        self, customers: IntArray, items: IntArray, horizon_days: float
    ) -> FloatArray:
        """P(at least one purchase in the next `horizon_days` days) per (customer, item) pair."""
        _require_fitted(self, "pair_key_")
        if not (np.isfinite(horizon_days) and horizon_days >= 0):
            raise ValueError(f"horizon_days must be a finite number >= 0, got {horizon_days!r}")
        rate = self.predict_rate(customers, items)
        return np.asarray(-np.expm1(-rate * horizon_days), dtype=np.float64)


def _gamma_prior(n: FloatArray, exposure: FloatArray) -> tuple[float, float]:
    """Method-of-moments gamma prior (shape, rate) for Poisson rates n / exposure."""
    mean = float(n.sum() / exposure.sum())
    var = float(np.var(n / exposure) - mean * np.mean(1.0 / exposure))
    var = max(var, mean**2 / 100.0)  # at most a shape of 100: never a point mass
    return mean**2 / var, mean / var


class PoissonGamma:
    """P(customer buys item at least once within h days) with a Poisson-Gamma model.

    Each pair's purchase rate has a gamma prior fitted per item by the method of moments over
    the item's buyers (the global prior for items with fewer than `min_pairs` buyers); the
    posterior after n purchases in T days of exposure is Gamma(a + n, b + T), whose predictive
    P(no purchase in h days) is ((b + T) / (b + T + h)) ** (a + n). Exposure runs from the
    customer's first basket to `as_of_day`, as in ConstantRatePoisson.
    """

    pair_key_: IntArray
    shape_: FloatArray  # per pair: a + n
    rate_: FloatArray  # per pair: b + T
    n_items_: int

    def __init__(self, min_pairs: int = 20) -> None:
        self.min_pairs = min_pairs

    def fit(self, history: Baskets, as_of_day: float) -> PoissonGamma:
        stats = _pair_stats(history)
        first = np.full(history.n_customers, np.inf)
        np.minimum.at(first, stats.customer, stats.first_day)
        exposure = np.maximum(as_of_day - first[stats.customer], 1.0)
        n = stats.n_baskets.astype(np.float64)
        a = np.empty(history.n_items)
        b = np.empty(history.n_items)
        a[:], b[:] = _gamma_prior(n, exposure) if n.size else (1.0, 1.0)
        order = np.argsort(stats.item, kind="stable")
        starts = np.searchsorted(stats.item[order], np.arange(history.n_items))
        ends = np.searchsorted(stats.item[order], np.arange(history.n_items), side="right")
        for item in np.flatnonzero(ends - starts >= self.min_pairs):
            rows = order[starts[item] : ends[item]]
            a[item], b[item] = _gamma_prior(n[rows], exposure[rows])
        self.pair_key_ = stats.key
        self.shape_ = a[stats.item] + n
        self.rate_ = b[stats.item] + exposure
        self.n_items_ = history.n_items
        return self

    def predict_proba(
        self, customers: IntArray, items: IntArray, horizon_days: float
    ) -> FloatArray:
        """P(at least one purchase in the next `horizon_days` days); 0 for pairs never bought."""
        _require_fitted(self, "pair_key_")
        key = _as_codes(customers, "customers") * self.n_items_ + _as_codes(items, "items")
        out = np.zeros(key.size)
        if self.pair_key_.size == 0:
            return out
        pos = np.minimum(np.searchsorted(self.pair_key_, key), self.pair_key_.size - 1)
        found = self.pair_key_[pos] == key
        shape, rate = self.shape_[pos[found]], self.rate_[pos[found]]
        out[found] = -np.expm1(shape * np.log(rate / (rate + horizon_days)))
        return out
