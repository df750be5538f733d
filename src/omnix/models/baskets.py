"""Compact basket histories: the input every next-basket model and baseline is fitted on.

Built in the store (analytics/backtest.py) and handed over as integer-coded NumPy arrays, one row
per distinct (customer, basket, item): a few bytes per line, never the transaction table itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Baskets:
    """Purchase history as parallel arrays, sorted by (customer, basket).

    customer: 0 .. n_customers-1            basket: 0 .. (that customer's baskets)-1, oldest first
    item:     0 .. n_items-1                day:    days since 1970-01-01 of that basket (float)
    units:    units of the item in that basket (None = one each; quantity-aware models use it)
    """

    customer: IntArray
    basket: IntArray
    item: IntArray
    day: FloatArray
    n_customers: int
    n_items: int
    units: FloatArray | None = None

    def __post_init__(self) -> None:
        n = len(self.customer)
        if not (len(self.basket) == len(self.item) == len(self.day) == n):
            raise ValueError("Baskets arrays must have equal lengths")
        if self.units is not None and len(self.units) != n:
            raise ValueError("Baskets units must have the same length as the other arrays")

    def unit_counts(self) -> FloatArray:
        """Units per row (1.0 each when the history carries no quantities)."""
        return np.ones(len(self.customer)) if self.units is None else self.units

    def before(self, day: float) -> Baskets:
        """The history strictly before `day`: the same codes, later baskets dropped.

        Basket indices stay 0, 1, ... per customer because only the newest baskets go.
        """
        keep = self.day < day
        units = None if self.units is None else self.units[keep]
        return Baskets(
            self.customer[keep],
            self.basket[keep],
            self.item[keep],
            self.day[keep],
            self.n_customers,
            self.n_items,
            units,
        )

    def regroup(self, group: IntArray, n_groups: int) -> Baskets:
        """The same baskets with each item replaced by its group (e.g. its category): items of
        one group in one basket merge into one row, their units added up.

        group[item] is the item's group code in 0 .. n_groups-1; rows whose group is negative
        are dropped (items without a group).
        """
        g = group[self.item]
        keep = g >= 0
        customer, basket, day, g = self.customer[keep], self.basket[keep], self.day[keep], g[keep]
        units = self.unit_counts()[keep]
        new_basket = np.r_[True, (customer[1:] != customer[:-1]) | (basket[1:] != basket[:-1])]
        basket_seq = np.cumsum(new_basket) - 1
        key, first, inverse = np.unique(
            basket_seq * n_groups + g, return_index=True, return_inverse=True
        )
        return Baskets(
            customer[first],
            basket[first],
            key % n_groups,
            day[first],
            self.n_customers,
            n_groups,
            np.bincount(inverse, weights=units, minlength=key.size).astype(np.float64),
        )

    def net_returns(
        self, customer: IntArray, item: IntArray, day: FloatArray, units: FloatArray
    ) -> Baskets:
        """Subtract returned units from the pair's latest purchase on or before the return's
        day (a pack brought back was not consumed; of purchases at the same time, the later
        basket); purchases left with no units are dropped. Returns of pairs with no earlier
        purchase change nothing.

        Only the purchases of returned pairs take part: they are found by one search in the
        returned pairs' sorted keys, then sorted with the returns by (pair, day) exactly,
        purchases before returns of the same day (docs/DECISIONS_LOG.md, session 7)."""
        n = self.n_items
        pair = self.customer * n + self.item
        returned = np.asarray(customer, dtype=np.int64) * n + np.asarray(item, dtype=np.int64)
        wanted = np.unique(returned)
        rows = np.zeros(0, dtype=np.int64)
        if wanted.size:
            at = np.minimum(np.searchsorted(wanted, pair), wanted.size - 1)
            rows = np.flatnonzero(wanted[at] == pair)
        m = rows.size
        key = np.r_[pair[rows], returned]
        when = np.r_[self.day[rows], np.asarray(day, dtype=np.float64)]
        is_return = np.r_[np.zeros(m, dtype=np.int8), np.ones(returned.size, dtype=np.int8)]
        order = np.lexsort((is_return, when, key))  # stable: same-time purchases in row order
        seen = np.where(order < m, np.arange(order.size), -1)
        last_purchase = np.maximum.accumulate(seen)
        at_return = np.flatnonzero(order >= m)
        before = last_purchase[at_return]
        hit = before >= 0
        hit[hit] = key[order[before[hit]]] == key[order[at_return[hit]]]
        which = order[at_return[hit]] - m  # the returns that undo a purchase, in return order
        by_return = np.argsort(which, kind="stable")
        net = self.unit_counts().copy()
        np.subtract.at(net, rows[order[before[hit]]][by_return], units[which][by_return])
        keep = net > 1e-9
        customer, basket = self.customer[keep], self.basket[keep]
        return Baskets(
            customer, _renumber(customer, basket), self.item[keep], self.day[keep],
            self.n_customers, self.n_items, net[keep],
        )  # fmt: skip


def _renumber(customer: IntArray, basket: IntArray) -> IntArray:
    """Basket indices 0, 1, ... per customer again after whole baskets were dropped (rows
    sorted by customer, basket)."""
    if customer.size == 0:
        return basket
    new_customer = np.r_[True, customer[1:] != customer[:-1]]
    new_basket = new_customer | np.r_[True, basket[1:] != basket[:-1]]
    seq = np.cumsum(new_basket) - 1
    first = seq[np.flatnonzero(new_customer)]
    return np.asarray(seq - first[np.cumsum(new_customer) - 1], dtype=np.int64)
