"""Beyond accuracy: catalogue coverage and intra-list diversity of recommendation lists, and
ranking metrics restricted to repeat or explore (never bought before) items.

`recommended` is an (n_customers, k) array of item codes, -1 for empty slots, as in metrics.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from omnix.evaluation.metrics import IntArray, Truth


def coverage(recommended: IntArray, n_items: int) -> float:
    """Share of the catalogue (n_items) that appears in at least one list."""
    shown = np.unique(recommended[recommended >= 0])
    return float(shown.size / n_items) if n_items else float("nan")


def intra_list_diversity(recommended: IntArray, vectors: Any) -> float:
    """Mean over lists of the mean pairwise cosine distance (1 - cos) between their items;
    `vectors` holds one L2-normalised row per item code (dense or sparse). Lists with fewer
    than two items are left out."""
    values = []
    for row in recommended:
        items = row[row >= 0]
        if items.size < 2:
            continue
        v = vectors[items]
        gram = v @ v.T
        gram = gram.toarray() if sparse.issparse(gram) else np.asarray(gram)
        n = items.size
        off = (gram.sum() - np.trace(gram)) / (n * (n - 1))
        values.append(1.0 - float(off))
    return float(np.mean(values)) if values else float("nan")


def split_truth(
    truth: Truth, customers: IntArray, bought: IntArray, n_items: int
) -> tuple[list[set[int]], list[set[int]]]:
    """Each customer's truth split into repeat items (bought before: their customer * n_items +
    item key is in the sorted `bought` keys) and explore items (everything else)."""
    repeat, explore = [], []
    for cust, items in zip(customers.tolist(), truth, strict=True):
        codes = np.asarray(sorted(items), dtype=np.int64)
        seen = codes < n_items
        keys = int(cust) * n_items + codes[seen]
        pos = np.minimum(np.searchsorted(bought, keys), max(bought.size - 1, 0))
        hit = np.zeros(codes.size, dtype=bool)
        if bought.size:
            hit[np.flatnonzero(seen)] = bought[pos] == keys
        repeat.append(set(codes[hit].tolist()))
        explore.append(set(codes[~hit].tolist()))
    return repeat, explore
