"""Integer coding of basket tables: sorted dictionaries, rows in (customer, basket) order."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from omnix.services.encode import encode_history


def test_codes_follow_sorted_dictionaries_and_rows_decode_to_the_input() -> None:
    rng = np.random.default_rng(0)
    n = 5000
    customers = np.array([f"c{k:03d}" for k in rng.integers(0, 300, n)])
    products = np.array([f"p{k:02d}" for k in rng.integers(0, 40, n)])
    basket = rng.integers(0, 20, n)
    day = rng.random(n) * 100
    units = rng.integers(1, 4, n).astype(np.float64)
    table = pa.table({"customer_id": customers, "basket": basket, "product_id": products,
                      "day": day, "units": units})  # fmt: skip
    e = encode_history(table)
    b = e.baskets
    assert e.customers.to_pylist() == sorted(set(customers))
    assert e.items.to_pylist() == sorted(set(products))
    assert (b.n_customers, b.n_items) == (len(e.customers), len(e.items))
    key = b.customer * (basket.max() + 1) + b.basket
    assert np.all(np.diff(key) >= 0)  # sorted by customer, then basket
    names, items = np.asarray(e.customers), np.asarray(e.items)
    decoded = pa.table({
        "customer_id": names[b.customer], "basket": b.basket,
        "product_id": items[b.item], "day": b.day, "units": b.unit_counts(),
    })  # fmt: skip
    by = [(col, "ascending") for col in table.column_names]
    original = table.sort_by(by).to_pylist()
    decoded = decoded.sort_by(by).to_pylist()
    assert decoded == original
