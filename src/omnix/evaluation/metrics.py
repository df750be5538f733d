"""Evaluation metrics for next-basket recommendation and repurchase probabilities.

Ranking metrics take `recommended`, an (n_customers, k) int array of item codes best first
(-1 = empty slot), and `truth`, one collection of item codes per row (the items of the
customer's next basket). Customers whose truth is empty are left out of every ranking mean;
when no customer is left the metric is NaN.

Probability metrics take binary labels (0/1 or bool) and predicted probabilities in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from typing import TypedDict

import numpy as np
import numpy.typing as npt
from sklearn.metrics import brier_score_loss, roc_auc_score

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Truth = Sequence[AbstractSet[int] | Sequence[int] | IntArray]


# ---------------------------------------------------------------- ranking


def _truth_arrays(truth: Truth) -> list[IntArray]:
    arrays = []
    for items in truth:
        values = list(items) if isinstance(items, AbstractSet) else items
        arrays.append(np.unique(np.asarray(values, dtype=np.int64)))
    if any(a.size and a[0] < 0 for a in arrays):
        raise ValueError("truth item codes must be non-negative")
    return arrays


def _relevance(recommended: IntArray, truth: Truth) -> tuple[BoolArray, IntArray]:
    """Binary relevance (n, k) of each recommended slot and |truth| per customer.

    A slot is relevant when its item is in the customer's truth and did not already appear
    higher in the same row (so a repeated item cannot count twice); -1 slots never are.
    """
    rec = np.asarray(recommended, dtype=np.int64)
    if rec.ndim != 2 or rec.shape[1] == 0:
        raise ValueError(f"recommended must be an (n, k) array with k >= 1, got shape {rec.shape}")
    if len(truth) != rec.shape[0]:
        raise ValueError(f"truth has {len(truth)} customers, recommended has {rec.shape[0]} rows")
    sets = _truth_arrays(truth)
    n_truth = np.array([a.size for a in sets], dtype=np.int64)
    truth_items = np.concatenate([*sets, np.zeros(0, dtype=np.int64)])
    base = int(max(rec.max(initial=0), truth_items.max(initial=0))) + 1
    rows = np.arange(rec.shape[0], dtype=np.int64)
    truth_codes = np.repeat(rows, n_truth) * base + truth_items
    rec_codes = (rows[:, None] * base + rec).ravel()
    hits = np.flatnonzero(np.isin(rec_codes, truth_codes) & (rec.ravel() >= 0))
    _, first = np.unique(rec_codes[hits], return_index=True)
    relevant = np.zeros(rec.size, dtype=bool)
    relevant[hits[first]] = True
    return relevant.reshape(rec.shape), n_truth


def _mean_over_evaluable(values: npt.ArrayLike, n_truth: IntArray) -> float:
    evaluable = n_truth > 0
    per_customer = np.asarray(values, dtype=np.float64)
    return float(per_customer[evaluable].mean()) if evaluable.any() else float("nan")


def recall_at_k(recommended: IntArray, truth: Truth) -> float:
    """Mean over customers of |top-k ∩ truth| / |truth|.

    >>> recall_at_k(np.array([[1, 2], [3, -1]]), [{1, 5}, {4}])   # (1/2 + 0/1) / 2
    0.25
    """
    relevant, n_truth = _relevance(recommended, truth)
    hits = relevant.sum(axis=1).astype(np.float64)
    return _mean_over_evaluable(hits / np.maximum(n_truth, 1), n_truth)


def ndcg_at_k(recommended: IntArray, truth: Truth) -> float:
    """Mean NDCG@k with binary relevance.

    DCG = sum over ranks i = 1..k of rel_i / log2(i + 1); IDCG is the DCG of min(|truth|, k)
    relevant items at the top.
    """
    relevant, n_truth = _relevance(recommended, truth)
    k = relevant.shape[1]
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = relevant @ discount
    ideal = np.r_[0.0, np.cumsum(discount)][np.minimum(n_truth, k)]
    return _mean_over_evaluable(dcg / np.where(ideal > 0, ideal, 1.0), n_truth)


def phr_at_k(recommended: IntArray, truth: Truth) -> float:
    """Personal hit rate: share of customers with at least one truth item in their top k."""
    relevant, n_truth = _relevance(recommended, truth)
    return _mean_over_evaluable(relevant.any(axis=1).astype(np.float64), n_truth)


# ---------------------------------------------------------------- probabilities


def _check_binary(labels: npt.ArrayLike, probs: npt.ArrayLike) -> tuple[IntArray, FloatArray]:
    y = np.asarray(labels)
    p = np.asarray(probs, dtype=np.float64)
    if y.ndim != 1 or y.shape != p.shape:
        raise ValueError(
            f"labels and probabilities must be 1-D of equal length: {y.shape}, {p.shape}"
        )
    if not np.isin(y, [0, 1]).all():
        raise ValueError("labels must be binary (0/1 or bool)")
    if not (np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()):
        raise ValueError("probabilities must be finite and within [0, 1]")
    return y.astype(np.int64), p


def auc(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """ROC AUC (scikit-learn); NaN when only one class is present, where it is undefined."""
    y = np.asarray(labels)
    if np.unique(y).size < 2:
        return float("nan")
    return float(roc_auc_score(y, np.asarray(scores, dtype=np.float64)))


def brier(labels: npt.ArrayLike, probs: npt.ArrayLike) -> float:
    """Brier score: mean squared difference between probability and outcome (0 is perfect)."""
    y, p = _check_binary(labels, probs)
    return float(brier_score_loss(y, p))


class ReliabilityBin(TypedDict):
    """One row of a reliability table; mean_predicted and observed_rate are NaN when empty."""

    lower: float
    upper: float
    count: int
    mean_predicted: float
    observed_rate: float


def _bin_totals(
    labels: npt.ArrayLike, probs: npt.ArrayLike, bins: int
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Per equal-width bin over [0, 1]: count, sum of probabilities, sum of labels.

    Bins are [i/bins, (i+1)/bins), the last one closed so p = 1 lands in it.
    """
    if int(bins) != bins or bins < 1:
        raise ValueError(f"bins must be an integer >= 1, got {bins!r}")
    y, p = _check_binary(labels, probs)
    index = np.minimum(np.floor(p * bins).astype(np.int64), bins - 1)
    counts = np.bincount(index, minlength=bins).astype(np.int64)
    sum_p = np.bincount(index, weights=p, minlength=bins).astype(np.float64)
    sum_y = np.bincount(index, weights=y.astype(np.float64), minlength=bins).astype(np.float64)
    return counts, sum_p, sum_y


def reliability_table(
    labels: npt.ArrayLike, probs: npt.ArrayLike, bins: int = 10
) -> list[ReliabilityBin]:
    """Calibration table over `bins` equal-width bins of [0, 1], every bin listed, low to high."""
    counts, sum_p, sum_y = _bin_totals(labels, probs, bins)
    table: list[ReliabilityBin] = []
    for i in range(int(bins)):
        n = int(counts[i])
        table.append(
            ReliabilityBin(
                lower=i / bins,
                upper=(i + 1) / bins,
                count=n,
                mean_predicted=float(sum_p[i] / n) if n else float("nan"),
                observed_rate=float(sum_y[i] / n) if n else float("nan"),
            )
        )
    return table


def expected_calibration_error(
    labels: npt.ArrayLike, probs: npt.ArrayLike, bins: int = 10
) -> float:
    """ECE: count-weighted mean of |observed rate - mean predicted| over non-empty bins."""
    counts, sum_p, sum_y = _bin_totals(labels, probs, bins)
    total = int(counts.sum())
    if total == 0:
        return float("nan")
    return float(np.abs(sum_y - sum_p).sum() / total)


# ---------------------------------------------------------------- timing


def mae_days(predicted_days: npt.ArrayLike, actual_days: npt.ArrayLike) -> float:
    """Mean absolute error in days (e.g. predicted vs actual days to next purchase)."""
    predicted = np.asarray(predicted_days, dtype=np.float64)
    actual = np.asarray(actual_days, dtype=np.float64)
    if predicted.shape != actual.shape:
        raise ValueError(
            f"predicted and actual must have the same shape: {predicted.shape}, {actual.shape}"
        )
    if predicted.size == 0:
        return float("nan")
    return float(np.abs(predicted - actual).mean())
