"""Probabilities of a fitted binary HistGradientBoostingClassifier of small trees, computed
faster than its public `predict_proba` and equal to it to the last bit: the blend's explore
head scores millions of candidates per run. Built on scikit-learn internals (1.9), with the
public method as the fallback; unit tests compare the two.

Bigger trees take the public method. The next-need heads (31 leaves, ~25 features) do, in
blocks of 65,536 rows: scikit-learn's walk over binned features cost more there than it saved
(binning each block; 1M rows: 2.9 against 2.0 CPU s)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingClassifier

FloatArray = npt.NDArray[np.float64]


def positive_proba(model: Any, x: npt.NDArray[np.floating[Any]]) -> FloatArray:
    """`model.predict_proba(x)[:, 1]`: a binary HistGradientBoostingClassifier of small trees
    (the explore head's 7 leaves) is evaluated as tables (`TreeTables`); anything else, or
    scikit-learn internals that changed, takes the public method."""
    tables = None
    if isinstance(model, HistGradientBoostingClassifier):
        plain = model.n_trees_per_iteration_ == 1 and model.is_categorical_ is None
        try:
            tables = TreeTables.of(model) if plain else None
        except (AttributeError, KeyError, TypeError, ValueError):  # internals that changed
            tables = None
    rows = np.asarray(x)
    if tables is None or rows.ndim != 2 or rows.shape[1] != model.n_features_in_:
        return np.asarray(model.predict_proba(x)[:, 1], dtype=np.float64)  # says what is wrong
    base = model._baseline_prediction
    raw = np.zeros((rows.shape[0], 1), dtype=base.dtype, order="F")
    raw += base
    tables.add_to(raw[:, 0], rows)
    return np.asarray(model._loss.predict_proba(raw)[:, 1], dtype=np.float64)


class TreeTables:
    """A boosted model of small trees as lookup tables: each row's answers to a tree's K
    split tests are K bits, and a table of 2^K leaf values, filled by walking the tree once per
    bit pattern, gives its leaf. A test is scikit-learn's own (`value <= threshold` in float64,
    NaN where the split sends missing values), vectorised over one feature of a block of rows,
    with no branch per row: scikit-learn walks each row down each tree, and those branches the
    processor cannot predict. On the rows as they are, nothing is binned. The explore head's
    100 trees of 7 leaves over 1.5M rows: 0.61 CPU s, against 3.4 for `predict_proba`. The
    values are added tree by tree in the order scikit-learn adds them, so the sums
    are the same to the last bit."""

    MAX_TESTS = 8  # a tree with more splits (2^8 table entries) is walked by scikit-learn
    BLOCK = 1 << 16  # rows per block: the block's features and sums stay in cache

    def __init__(self, trees: list[tuple[list[tuple[int, float, bool]], FloatArray]]) -> None:
        self.trees = trees
        self.missing_left = any(m for tests, _ in trees for _, _, m in tests)

    @classmethod
    def of(cls, booster: HistGradientBoostingClassifier) -> TreeTables | None:
        trees = []
        for (predictor,) in booster._predictors:
            nodes = predictor.nodes
            leaf = nodes["is_leaf"].astype(bool)
            internal = np.flatnonzero(~leaf)
            if internal.size > cls.MAX_TESTS or nodes["is_categorical"].any():
                return None
            bit = {int(n): k for k, n in enumerate(internal)}
            table = np.empty(1 << internal.size, dtype=np.float64)
            for pattern in range(table.size):
                node = 0
                while not leaf[node]:
                    left = pattern >> bit[node] & 1
                    node = int(nodes["left"][node] if left else nodes["right"][node])
                table[pattern] = nodes["value"][node]
            tests = [
                (int(nodes["feature_idx"][n]), float(nodes["num_threshold"][n]),
                 bool(nodes["missing_go_to_left"][n]))
                for n in internal
            ]  # fmt: skip
            trees.append((tests, table))
        return cls(trees)

    def add_to(self, raw: FloatArray, rows: npt.NDArray[np.floating[Any]]) -> None:
        """raw += every tree's leaf value for `rows` (rows x features)."""
        n = rows.shape[0]
        pattern = np.empty(min(n, self.BLOCK), dtype=np.uint8)
        left = np.empty(pattern.size, dtype=np.bool_)
        shifted = np.empty(pattern.size, dtype=np.uint8)
        for start in range(0, n, self.BLOCK):
            # features x rows in float64, as scikit-learn compares them
            block = np.array(rows[start : start + self.BLOCK].T, dtype=np.float64, order="C")
            missing = np.isnan(block) if self.missing_left else np.zeros(block.shape, bool)
            sums = raw[start : start + self.BLOCK]
            m = sums.size
            p, go, sh = pattern[:m], left[:m], shifted[:m]
            for tests, table in self.trees:
                p[:] = 0
                for k, (feature, threshold, missing_left) in enumerate(tests):
                    np.less_equal(block[feature], threshold, out=go)  # NaN: False, right
                    if missing_left:
                        go |= missing[feature]
                    np.left_shift(go.view(np.uint8), k, out=sh)
                    p |= sh
                sums += table[p]
