"""What every candidate source shares: scored (customer, item) rows and fast per-customer top-n.

Rows are parallel NumPy arrays; `evidence` names the item behind a score (the bought item a
content neighbour resembles, the basket item a complement goes with), -1 when there is none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from omnix.models.baskets import Baskets, FloatArray, IntArray
from omnix.models.ranks import runs, top_n_within_runs


@dataclass(frozen=True, slots=True)
class Scored:
    """Scored (customer, item) rows, sorted by (customer, item) when built by `scored`."""

    customer: IntArray
    item: IntArray
    score: FloatArray
    evidence: IntArray

    def __len__(self) -> int:
        return len(self.customer)

    def take(self, rows: IntArray) -> Scored:
        return Scored(self.customer[rows], self.item[rows], self.score[rows], self.evidence[rows])


def scored(
    customer: IntArray, item: IntArray, score: FloatArray, evidence: IntArray | None = None
) -> Scored:
    """Rows sorted by (customer, item); `evidence` -1 when not given."""
    ev = np.full(customer.size, -1, dtype=np.int64) if evidence is None else evidence
    order = np.lexsort((item, customer))
    return Scored(
        customer[order].astype(np.int64),
        item[order].astype(np.int64),
        np.asarray(score, dtype=np.float64)[order],
        ev[order].astype(np.int64),
    )


def rows_of(rows: Scored, customers: IntArray) -> IntArray:
    """Positions of the rows of these customers, in row order: what
    `np.flatnonzero(np.isin(rows.customer, customers))` gives, found by binary search when
    the rows are sorted by customer (a chunk of customers out of millions of rows)."""
    c = rows.customer
    if c.size and not bool(np.all(c[1:] >= c[:-1])):
        return np.flatnonzero(np.isin(c, customers))
    want = np.unique(customers)
    lo = np.searchsorted(c, want, side="left")
    n = np.searchsorted(c, want, side="right") - lo
    return (np.repeat(lo - (np.cumsum(n) - n), n) + np.arange(int(n.sum()))).astype(np.int64)


def top_per_customer(rows: Scored, n: int) -> Scored:
    """Each customer's n highest-scoring rows with a positive score (ties: lower item code),
    sorted by (customer, item). Rows already sorted by (customer, item), as every source
    builds them, take a faster path with the same result (see `top_in_runs`)."""
    if not by_pair(rows):
        return _top_per_customer_any(rows, n)
    positive = np.flatnonzero(rows.score > 0)
    return rows.take(positive[top_in_runs(rows.customer[positive], rows.score[positive], n)])


def _top_per_customer_any(rows: Scored, n: int) -> Scored:
    keep = rows.score > 0
    rows = rows.take(np.flatnonzero(keep))
    order = np.lexsort((rows.item, -rows.score, rows.customer))
    c = rows.customer[order]
    start = np.searchsorted(c, c, side="left")
    rank = np.arange(c.size) - start
    chosen = order[rank < n]
    return rows.take(chosen[np.lexsort((rows.item[chosen], rows.customer[chosen]))])


def by_pair(rows: Scored) -> bool:
    """Whether the rows are strictly increasing by (customer, item), as `scored` sorts them."""
    c, i = rows.customer, rows.item
    if c.size < 2:
        return True
    return bool(np.all((c[1:] > c[:-1]) | ((c[1:] == c[:-1]) & (i[1:] > i[:-1]))))


def top_in_runs(group: IntArray, value: FloatArray, n: int) -> IntArray:
    """Positions of the n largest values of each run of equal `group` values (ties: the
    earlier row), in row order. With rows sorted by (customer, item) and group = customer,
    these are each customer's top n with ties to the lower item code. Runs of at most n
    rows are kept whole without sorting."""
    _, length = runs(group)
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    long = length > n
    if not long.any():
        return np.arange(group.size, dtype=np.int64)
    keep = ~np.repeat(long, length)
    at = np.flatnonzero(~keep)  # the rows of the long runs, still in runs
    long_length = length[long]
    long_start = np.cumsum(long_length) - long_length
    keep[at[top_n_within_runs(long_start, long_length, value[at], n)]] = True
    return np.flatnonzero(keep)


def lookup(rows: Scored, customer: IntArray, item: IntArray, n_items: int) -> IntArray:
    """Position of each (customer, item) in `rows` (sorted by customer, item); -1 if absent.
    Only the rows of the asked customers' range are searched: a chunk of customers, not the
    millions of rows of every customer."""
    want = customer * n_items + item
    if rows.customer.size == 0 or want.size == 0:
        return np.full(want.size, -1, dtype=np.int64)
    lo = int(np.searchsorted(rows.customer, customer.min(), side="left"))
    hi = int(np.searchsorted(rows.customer, customer.max(), side="right"))
    key = rows.customer[lo:hi] * n_items + rows.item[lo:hi]
    if key.size == 0:
        return np.full(want.size, -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(key, want), key.size - 1)
    return np.where(key[pos] == want, pos + lo, -1).astype(np.int64)


def gather(values: npt.NDArray[Any], at: IntArray, fill: float) -> npt.NDArray[Any]:
    """values[at] where at >= 0 (see `lookup`), `fill` elsewhere; safe on empty `values`."""
    if values.size == 0:
        return np.full(at.size, fill, dtype=np.result_type(values.dtype, type(fill)))
    return np.where(at >= 0, values[np.maximum(at, 0)], fill)


@dataclass(frozen=True, slots=True)
class PairTable:
    """Every distinct (customer, item) of a history, sorted by customer * n_items + item:
    the lines that hold it and the last day it was bought. One sort of the history gives what
    the sources each used to aggregate on their own (pair keys, the customer x item counts,
    the last purchase day), so fitting them sorts 10M lines once instead of five times."""

    keys: IntArray
    lines: FloatArray
    last_day: FloatArray
    n_customers: int
    n_items: int

    @property
    def customer(self) -> IntArray:
        return self.keys // self.n_items

    @property
    def item(self) -> IntArray:
        return self.keys % self.n_items

    def counts(self) -> sparse.csr_array:
        """(n_customers x n_items) lines per pair, CSR with sorted indices."""
        indptr = np.r_[0, np.cumsum(np.bincount(self.customer, minlength=self.n_customers))]
        return sparse.csr_array(
            (self.lines, self.item, indptr), shape=(self.n_customers, self.n_items)
        )


def pair_table(history: Baskets) -> PairTable:
    """The PairTable of `history`."""
    key = history.customer * history.n_items + history.item
    order = np.argsort(key, kind="stable")
    k = key[order]
    start = np.flatnonzero(np.r_[True, k[1:] != k[:-1]]) if k.size else np.zeros(0, np.int64)
    lines = np.diff(np.r_[start, k.size]).astype(np.float64)
    last = (
        np.maximum.reduceat(np.asarray(history.day, dtype=np.float64)[order], start)
        if k.size
        else np.zeros(0)
    )
    return PairTable(k[start].astype(np.int64), lines, last, history.n_customers, history.n_items)


def customer_items(history: Baskets) -> sparse.csr_array:
    """(n_customers x n_items) lines holding each item, CSR (a pair's distinct baskets when,
    as loaded from the store, a basket lists an item once)."""
    return pair_table(history).counts()


_EXPAND_CUSTOMERS = 4096  # customers expanded at once: bounds the rows sorted together


def expand_max(user: sparse.csr_array, neighbours: sparse.csr_array, customers: IntArray) -> Scored:
    """For each customer c and item i: max over j of user[c, j] * neighbours[j, i], with the
    arg-max j as evidence. Both matrices hold only a few entries per row (the customer's top
    items, each item's top neighbours), so the expansion stays small. Sorted, distinct
    customers are expanded a block at a time (the rows of one block sort alone and the blocks
    come out in order); the result is the same."""
    customers = np.asarray(customers, dtype=np.int64)
    blocks = customers.size > _EXPAND_CUSTOMERS and bool(np.all(customers[1:] > customers[:-1]))
    if not blocks:
        return _expand_max(user, sparse.csr_array(neighbours), customers)
    nb = sparse.csr_array(neighbours)
    parts = [
        _expand_max(user, nb, customers[s : s + _EXPAND_CUSTOMERS])
        for s in range(0, customers.size, _EXPAND_CUSTOMERS)
    ]
    return Scored(*(np.concatenate([getattr(p, f) for p in parts])
                    for f in ("customer", "item", "score", "evidence")))  # fmt: skip


def _expand_max(user: sparse.csr_array, nb: sparse.csr_array, customers: IntArray) -> Scored:
    u = sparse.csr_array(user[customers])
    per_row = np.diff(u.indptr)
    rows = np.repeat(customers, per_row)
    j, w = u.indices.astype(np.int64), u.data
    fan = np.diff(nb.indptr)[j]
    c = np.repeat(rows, fan)
    ev = np.repeat(j, fan)
    starts = np.repeat(nb.indptr[j], fan)
    offs = np.arange(int(fan.sum())) - np.repeat(np.cumsum(fan) - fan, fan)
    i = nb.indices[starts + offs].astype(np.int64)
    value = np.repeat(w, fan) * nb.data[starts + offs]
    n_items = nb.shape[1]
    key = c * n_items + i
    pick = _first_max(key, value)
    # in (customer, item) order already: the keys are distinct and sorted
    return Scored(c[pick].astype(np.int64), i[pick], np.asarray(value[pick], dtype=np.float64),
                  ev[pick].astype(np.int64))  # fmt: skip


def _first_max(key: IntArray, value: FloatArray) -> IntArray:
    """Per distinct key (ascending), the position of its largest value, the earliest such
    position on ties: what `np.lexsort((-value, key))` then the first row of each key gives,
    with one sort of the integer keys instead of a sort by two keys."""
    if key.size == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(key, kind="stable")
    k, v = key[order], value[order]
    new = np.empty(k.size, dtype=bool)
    new[0] = True
    np.not_equal(k[1:], k[:-1], out=new[1:])
    start = np.flatnonzero(new)
    group = np.cumsum(new) - 1  # a cumulative sum, not np.repeat: 1.2M runs of ~1 row
    at_max = np.flatnonzero(v == np.maximum.reduceat(v, start)[group])
    g = group[at_max]
    return order[at_max[np.r_[True, g[1:] != g[:-1]]]].astype(np.int64)


def top_rows(scores: FloatArray, n: int) -> tuple[IntArray, FloatArray]:
    """Column indices and values of each row's n largest entries (unordered within a row)."""
    n = min(n, scores.shape[1])
    if n == 0:
        empty = np.zeros((scores.shape[0], 0))
        return empty.astype(np.int64), empty
    idx = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    return idx.astype(np.int64), np.take_along_axis(scores, idx, axis=1).astype(np.float64)


def distinct(keys: IntArray) -> IntArray:
    """`np.unique(keys)` of integer keys, by one sort: NumPy 2.4's np.unique hashes, which
    took 0.8 s for the 3.2M (customer, item) keys of the 30k-customer store; the sort 0.02 s."""
    out = np.sort(keys)
    return out[np.r_[True, out[1:] != out[:-1]]] if out.size else out


def pair_keys(history: Baskets) -> IntArray:
    """Sorted distinct customer * n_items + item keys of the pairs bought in `history`."""
    return pair_table(history).keys


def contains(
    keys: IntArray, customer: IntArray, item: IntArray, n_items: int
) -> npt.NDArray[np.bool_]:
    """Whether each (customer, item) is among the sorted pair `keys` (see pair_keys)."""
    want = customer * n_items + item
    if keys.size == 0:
        return np.zeros(want.size, dtype=bool)
    pos = np.minimum(np.searchsorted(keys, want), keys.size - 1)
    return np.asarray(keys[pos] == want)


def item_popularity(history: Baskets) -> FloatArray:
    """Share of customers who bought each item (0..1)."""
    m = customer_items(history)
    buyers = np.bincount(m.indices, minlength=history.n_items).astype(np.float64)
    return buyers / max(int((np.diff(m.indptr) > 0).sum()), 1)
