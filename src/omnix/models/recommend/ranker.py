"""The learned blend: a gradient-boosted classifier over every source's score for a candidate.

Trained on a time split (blend.py): candidates and features as of a cut, label 1 when the item
is in the customer's first basket after the cut. The probability it returns ranks a customer's
candidates; `attribute` names the source a reason should quote.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import NotFittedError

from omnix.models.baskets import FloatArray, IntArray

FEATURES = (
    "rep_next",  # replenishment: P(in next basket | shops)
    "rep_log_days",  # log(1 + purchase days)
    "rep_log_overdue",  # log(days since / usual interval)
    "is_repeat",
    "collaborative",  # ALS preference
    "collaborative_rank",  # log(1 + rank among the customer's candidates)
    "content",  # cosine to a favourite, times its weight
    "segment",  # recency-weighted share of the group buying it
    "complement",  # confidence of the best rule from the last basket
    "complement_lift",
    "item_popularity",  # share of customers buying it
    "item_repeat_share",  # share of its buyers who bought it again
    "c_log_baskets",
    "c_log_items",
)
SOURCES = ("replenishment", "collaborative", "content", "segment", "complements")
# which feature column speaks for each explore source in `attribute`
_SOURCE_COLUMN = {
    name: FEATURES.index(column)
    for name, column in (("collaborative", "collaborative"), ("content", "content"),
                         ("segment", "segment"), ("complements", "complement"))
}  # fmt: skip

Matrix = npt.NDArray[np.float32]


class _Constant:
    def __init__(self, rate: float) -> None:
        self.rate = rate

    def predict_proba(self, x: Matrix) -> FloatArray:
        return np.tile([1.0 - self.rate, self.rate], (len(x), 1))


REPEAT_TERMS = ("collaborative", "complement", "segment", "content", "item_popularity")
EXPLORE_TERMS = (
    "collaborative", "collaborative_rank", "content", "segment", "complement",
    "complement_lift", "item_popularity", "item_repeat_share", "c_log_baskets", "c_log_items",
)  # fmt: skip
_REPEAT = [FEATURES.index(f) for f in REPEAT_TERMS]
_EXPLORE = [FEATURES.index(f) for f in EXPLORE_TERMS]
_IS_REPEAT = FEATURES.index("is_repeat")


def _logit(p: npt.NDArray[np.floating[Any]]) -> FloatArray:
    q = np.clip(np.asarray(p, dtype=np.float64), 1e-4, 1 - 1e-4)
    return np.asarray(np.log(q / (1 - q)), dtype=np.float64)


def _repeat_design(x: Matrix) -> FloatArray:
    return np.column_stack([_logit(x[:, 0]), x[:, _REPEAT].astype(np.float64)])


def _count_at_most(ref: FloatArray, v: FloatArray) -> IntArray:
    """`np.searchsorted(ref, v, side="right")`, searched in ascending order of v: ascending
    needles walk the (million-row) reference in order and stay in cache, about ten times
    faster than the candidates' own order even with the sort."""
    order = np.argsort(v)
    out = np.empty(v.size, dtype=np.int64)
    out[order] = np.searchsorted(ref, v[order], side="right")
    return out


def _positive_proba(model: Any, x: npt.NDArray[np.floating[Any]]) -> FloatArray:
    """`model.predict_proba(x)[:, 1]`. For a binary HistGradientBoostingClassifier the trees
    are read from the binned features (one byte per value) instead of float64 rows, with the
    same leaves: scikit-learn sets a split's threshold to the upper edge of its bin, so a value
    goes left exactly when its bin does (NaN to the missing-value bin, as in the split). Small
    trees (the explore head's 7 leaves) are evaluated as tables (`_TreeTables`), big ones by
    scikit-learn's own walk. These are scikit-learn internals (1.9): anything else, or
    internals that changed, takes the public method; a unit test compares the two."""
    booster = model if isinstance(model, HistGradientBoostingClassifier) else None
    plain = booster is not None and booster.n_trees_per_iteration_ == 1
    if booster is None or not plain or booster.is_categorical_ is not None:
        return np.asarray(model.predict_proba(x)[:, 1], dtype=np.float64)
    try:
        values = booster._preprocess_X(x, reset=False)
        binned = booster._bin_mapper.transform(values)
        base = booster._baseline_prediction
        raw = np.zeros((values.shape[0], 1), dtype=base.dtype, order="F")
        raw += base
        tables = _TreeTables.of(booster)
        if tables is not None:
            tables.add_to(raw[:, 0], np.ascontiguousarray(binned.T))
        else:
            from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

            booster._predict_iterations(
                np.ascontiguousarray(binned), booster._predictors, raw, True,
                _openmp_effective_n_threads(),
            )  # fmt: skip
        return np.asarray(booster._loss.predict_proba(raw)[:, 1], dtype=np.float64)
    except (AttributeError, ImportError, KeyError, TypeError, ValueError):
        return np.asarray(model.predict_proba(x)[:, 1], dtype=np.float64)


class _TreeTables:
    """A boosted model of small trees as lookup tables: each row's answers to a tree's K
    split tests are K bits, and a table of 2^K leaf values, filled by walking the tree once per
    bit pattern, gives its leaf. The tests are vectorised comparisons of one feature's bins
    over a block of rows, with no branch per row: about six times faster than scikit-learn's
    walk row by row, whose branches the processor cannot predict (the explore head's 100
    trees of 7 leaves over 1.5M rows: 0.5 against 3.1 CPU s). The values are added tree by tree
    in the order scikit-learn adds them, so the sums are the same to the last bit."""

    MAX_TESTS = 8  # a tree with more splits (2^8 table entries) is walked by scikit-learn
    BLOCK = 1 << 16  # rows per block: one feature's bins and the block's sums stay in cache

    def __init__(
        self, trees: list[tuple[list[tuple[int, int, bool]], FloatArray]], missing_bin: int
    ) -> None:
        self.trees = trees
        self.missing_bin = missing_bin

    @classmethod
    def of(cls, booster: HistGradientBoostingClassifier) -> _TreeTables | None:
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
                (int(nodes["feature_idx"][n]), int(nodes["bin_threshold"][n]),
                 bool(nodes["missing_go_to_left"][n]))
                for n in internal
            ]  # fmt: skip
            trees.append((tests, table))
        return cls(trees, int(booster._bin_mapper.missing_values_bin_idx_))

    def add_to(self, raw: FloatArray, bins: npt.NDArray[np.uint8]) -> None:
        """raw += every tree's leaf value; `bins` is features x rows (C order)."""
        n = bins.shape[1]
        pattern = np.empty(min(n, self.BLOCK), dtype=np.uint8)
        left = np.empty(pattern.size, dtype=np.bool_)
        shifted = np.empty(pattern.size, dtype=np.uint8)
        for start in range(0, n, self.BLOCK):
            block, sums = bins[:, start : start + self.BLOCK], raw[start : start + self.BLOCK]
            m = sums.size
            p, go, sh = pattern[:m], left[:m], shifted[:m]
            for tests, table in self.trees:
                p[:] = 0
                for k, (feature, threshold, missing_left) in enumerate(tests):
                    column = block[feature]
                    np.less_equal(column, threshold, out=go)
                    if missing_left:  # the missing bin is above every threshold
                        go |= column == self.missing_bin
                    np.left_shift(go.view(np.uint8), k, out=sh)
                    p |= sh
                sums += table[p]


def _fit_or_constant(model: Any, x: npt.NDArray[np.floating[Any]], y: IntArray) -> Any:
    if y.size == 0 or y.min() == y.max():
        return _Constant(float(y.mean()) if y.size else 0.0)
    return model.fit(x, y)


class BlendRanker:
    """Two heads that both predict P(the candidate is in the customer's next basket), so one
    ranking merges them:

    - repeat items: logistic regression on the logit of the next-need score plus the other
      sources' scores. The next-need score is already calibrated on several earlier cuts;
      six coefficients learn from one cut without overfitting (a boosted head over every
      feature ranked repeat items worse: docs/DECISIONS_LOG.md).
    - explore items (never bought): gradient boosting (7 leaves, 100 rounds of 0.1) over
      collaborative, content, segment and complement scores and item popularity.
    """

    repeat_: Any
    explore_: Any
    reference_: list[FloatArray]  # per explore source, its sorted positive training scores

    def __init__(
        self, rounds: int = 100, learning_rate: float = 0.1, random_state: int = 0
    ) -> None:
        self.rounds = rounds
        self.learning_rate = learning_rate
        self.random_state = random_state

    def fit(self, x: Matrix, y: IntArray) -> BlendRanker:
        if x.shape[1] != len(FEATURES):
            raise ValueError(f"expected {len(FEATURES)} feature columns, got {x.shape[1]}")
        from sklearn.linear_model import LogisticRegression

        repeat = x[:, _IS_REPEAT] > 0
        self.repeat_ = _fit_or_constant(
            LogisticRegression(C=1.0, max_iter=1000), _repeat_design(x[repeat]), y[repeat]
        )
        booster = HistGradientBoostingClassifier(
            learning_rate=self.learning_rate, max_iter=self.rounds, max_leaf_nodes=7,
            min_samples_leaf=40, l2_regularization=1.0, early_stopping=False,
            random_state=self.random_state,
        )  # fmt: skip
        self.explore_ = _fit_or_constant(booster, x[~repeat][:, _EXPLORE], y[~repeat])
        self.reference_ = [
            np.sort(x[:, col][x[:, col] > 0].astype(np.float64)) for col in _SOURCE_COLUMN.values()
        ]
        return self

    def compact(self, points: int = 10_001) -> BlendRanker:
        """A copy whose reference scores are at most `points` quantiles each (attribution
        percentiles then move by at most 1 / points): what is stored between runs."""
        copy = BlendRanker(self.rounds, self.learning_rate, self.random_state)
        copy.__dict__.update(self.__dict__)
        copy.reference_ = [
            ref if ref.size <= points else np.quantile(ref, np.linspace(0.0, 1.0, points))
            for ref in self.reference_
        ]
        return copy

    def predict_proba(self, x: Matrix) -> FloatArray:
        """P(the candidate is in the customer's next basket)."""
        if not hasattr(self, "repeat_"):
            raise NotFittedError("This BlendRanker is not fitted yet: call fit() first.")
        out = np.zeros(x.shape[0])
        repeat = x[:, _IS_REPEAT] > 0
        if repeat.any():
            out[repeat] = self.repeat_.predict_proba(_repeat_design(x[repeat]))[:, 1]
        if (~repeat).any():
            explore = x[np.ix_(np.flatnonzero(~repeat), np.asarray(_EXPLORE))]
            out[~repeat] = _positive_proba(self.explore_, explore)
        return out

    def attribute(self, x: Matrix) -> npt.NDArray[np.str_]:
        """The source a reason quotes per row: replenishment for repeat items, else the explore
        source whose score stands highest among its own training scores (percentile), or
        'popular' when no source scored the item."""
        if not hasattr(self, "reference_"):
            raise NotFittedError("This BlendRanker is not fitted yet: call fit() first.")
        names = np.array([*_SOURCE_COLUMN, "popular", "replenishment"])
        code = np.full(x.shape[0], len(_SOURCE_COLUMN) + 1, dtype=np.int8)  # replenishment
        # percentiles only where they can matter: explore rows, sources that scored the row
        explore = np.flatnonzero(~(x[:, _IS_REPEAT] > 0))
        pct = np.zeros((explore.size, len(_SOURCE_COLUMN)))
        for k, (col, ref) in enumerate(zip(_SOURCE_COLUMN.values(), self.reference_, strict=True)):
            v = x[explore, col].astype(np.float64)
            scored = np.flatnonzero(v > 0)
            rank = _count_at_most(ref, v[scored]) / max(ref.size, 1)
            pct[scored, k] = rank + 1e-9
        best = pct.argmax(axis=1) if explore.size else np.zeros(0, dtype=np.int64)
        code[explore] = np.where(pct.max(axis=1, initial=0.0) > 0, best, len(_SOURCE_COLUMN))
        return names[code]
