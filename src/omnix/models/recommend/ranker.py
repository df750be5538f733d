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
from omnix.models.boosting import positive_proba

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
            out[~repeat] = positive_proba(self.explore_, explore)
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
