"""Integer coding of the store's compact basket tables for the NumPy models.

The store builds (customer, basket, product, day, units) rows (analytics/backtest.py); the models
work on integer codes. Codes come from *sorted* dictionaries so that codes, and so every tie
broken by code, do not depend on the order the store returned rows in.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from omnix.domain import contract as c
from omnix.models.baskets import Baskets, IntArray

NO_CODE = -1


def day_number(day: date) -> float:
    """Days since 1970-01-01 of midnight UTC at the start of `day`: the models' time axis."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() / 86_400


def flat(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def sorted_unique(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Distinct values in sorted order."""
    distinct = flat(pc.unique(values))
    return distinct.take(pc.sort_indices(distinct))


def codes(values: pa.Array | pa.ChunkedArray, dictionary: pa.Array) -> IntArray:
    """Position of each value in `dictionary`; NO_CODE (-1) for values not in it."""
    found = pc.index_in(flat(values), value_set=dictionary).fill_null(NO_CODE)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)


@dataclass(frozen=True, slots=True)
class EncodedHistory:
    """A basket history in codes, with the dictionaries that decode it."""

    baskets: Baskets
    customers: pa.Array  # code -> customer_id
    items: pa.Array  # code -> product_id


def dense_codes(values: pa.Array | pa.ChunkedArray) -> tuple[IntArray, pa.Array]:
    """(codes, sorted dictionary) in one hashing pass: dictionary-encode, then renumber the
    dictionary in sorted order (it is small; the values may be tens of millions)."""
    encoded = pc.dictionary_encode(flat(values))
    order = np.asarray(pc.sort_indices(encoded.dictionary).to_numpy(), dtype=np.int64)
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    indices = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    return rank[indices], encoded.dictionary.take(pa.array(order))


def encode_history(history: pa.Table) -> EncodedHistory:
    """Code a (customer_id, basket, product_id, day, units) table, sorted by customer, basket.

    The product codes are made on a second thread while this one codes the customers and
    sorts (Arrow's hashing and NumPy's sort release the GIL): 10.5M lines, customer and product
    codes 1.35 s one after the other, 0.8 s side by side; the codes are the same."""
    with ThreadPoolExecutor(max_workers=1) as side:
        products = side.submit(dense_codes, history[c.PRODUCT_ID])
        cust, customers = dense_codes(history[c.CUSTOMER_ID])
        basket = np.asarray(history["basket"].to_numpy(), dtype=np.int64)
        # One int64 key sorts faster than a two-key lexsort (0.6 s against 2.2 s at 10M lines).
        order = np.argsort(cust * (int(basket.max(initial=0)) + 1) + basket)
        item, items = products.result()
    day = np.asarray(history["day"].to_numpy(), dtype=np.float64)
    units = np.asarray(history["units"].to_numpy(), dtype=np.float64)
    baskets = Baskets(
        cust[order],
        basket[order],
        item[order],
        day[order],
        len(customers),
        len(items),
        units[order],
    )
    return EncodedHistory(baskets, customers, items)


def category_names(categories: pa.Table) -> pa.Array:
    """Category code k (k >= 1) is names[k - 1]; see category_codes."""
    return sorted_unique(categories["category"].drop_null())


def category_codes(categories: pa.Table, items: pa.Array) -> IntArray:
    """Per item code, a category code from a (product_id, category) table (0 = unknown)."""
    names = category_names(categories)
    out = np.zeros(len(items), dtype=np.int64)
    at = codes(categories[c.PRODUCT_ID], items)
    known = at != NO_CODE
    out[at[known]] = codes(categories["category"], names)[known] + 1
    return out
