from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from omnix.evaluation.metrics import (
    auc,
    brier,
    expected_calibration_error,
    mae_days,
    ndcg_at_k,
    phr_at_k,
    recall_at_k,
    reliability_table,
)

# Four customers, k = 3. The last one has an empty truth and is left out of every mean.
RECOMMENDED = np.array([[1, 2, 3], [4, 5, -1], [7, 8, 9], [1, 2, 3]])
TRUTH: list[set[int]] = [{1, 3, 6}, {9}, {8, 10, 11, 12}, set()]


def test_recall_golden() -> None:
    # c0: hits {1, 3} of 3 -> 2/3;  c1: 0/1;  c2: hit {8} of 4 -> 1/4
    # mean = (2/3 + 0 + 1/4) / 3 = 11/36
    assert recall_at_k(RECOMMENDED, TRUTH) == pytest.approx(11 / 36)


def test_ndcg_golden() -> None:
    # discounts 1/log2(2), 1/log2(3), 1/log2(4) = 1, 0.6309, 0.5; IDCG(3) = 2.1309
    # c0: rel [1, 0, 1] -> DCG 1.5 -> 1.5 / 2.1309 = 0.7039
    # c1: 0;   c2: rel [0, 1, 0] -> DCG 0.6309, IDCG over min(4, 3) = 3 -> 0.2961
    # mean = (0.7039 + 0 + 0.2961) / 3 = 1/3 (the two DCGs happen to add up to IDCG)
    idcg = 1 + 1 / math.log2(3) + 0.5
    expected = (1.5 / idcg + 0 + (1 / math.log2(3)) / idcg) / 3
    assert ndcg_at_k(RECOMMENDED, TRUTH) == pytest.approx(expected)
    assert ndcg_at_k(RECOMMENDED, TRUTH) == pytest.approx(1 / 3)


def test_ndcg_ideal_uses_min_of_truth_size_and_k() -> None:
    # truth {7} has one item: IDCG = 1; the hit at rank 3 gives DCG = 1/log2(4) = 0.5
    assert ndcg_at_k(np.array([[5, 6, 7]]), [{7}]) == pytest.approx(0.5)
    assert ndcg_at_k(np.array([[7, 6, 5]]), [{7}]) == pytest.approx(1.0)


def test_phr_golden() -> None:
    # c0 and c2 have a hit, c1 none, c3 excluded -> 2/3
    assert phr_at_k(RECOMMENDED, TRUTH) == pytest.approx(2 / 3)


def test_ranking_metrics_accept_arrays_and_ignore_repeats_and_padding() -> None:
    # item 1 twice counts once: recall 1/2;  -1 never matches
    truth = [np.array([1, 2])]
    assert recall_at_k(np.array([[1, 1, -1]]), truth) == pytest.approx(0.5)
    assert phr_at_k(np.array([[-1, -1, -1]]), truth) == 0.0


def test_ranking_metrics_nan_when_no_customer_has_truth() -> None:
    assert math.isnan(recall_at_k(np.array([[1, 2]]), [set()]))


def test_ranking_metrics_reject_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="truth"):
        recall_at_k(RECOMMENDED, TRUTH[:2])


def test_auc_and_brier_equal_scikit_learn() -> None:
    labels = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    probs = np.array([0.1, 0.8, 0.35, 0.4, 0.9, 0.2, 0.65, 0.7])
    assert auc(labels, probs) == pytest.approx(roc_auc_score(labels, probs))
    assert brier(labels, probs) == pytest.approx(brier_score_loss(labels, probs))
    # by hand: positives 0.8, 0.35, 0.9, 0.7 vs negatives 0.1, 0.4, 0.2, 0.65;
    # pairs ranked right: 4 + 2 + 4 + 4 = 14 of 16
    assert auc(labels, probs) == pytest.approx(14 / 16)


def test_auc_nan_with_one_class() -> None:
    assert math.isnan(auc(np.array([1, 1, 1]), np.array([0.2, 0.5, 0.9])))


def test_brier_rejects_probabilities_outside_unit_interval() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        brier(np.array([0, 1]), np.array([0.5, 1.2]))


LABELS = np.array([0, 0, 1, 1, 1, 0])
PROBS = np.array([0.05, 0.15, 0.12, 0.8, 0.95, 1.0])


def test_reliability_table_golden() -> None:
    table = reliability_table(LABELS, PROBS, bins=5)
    assert [(row["lower"], row["upper"]) for row in table] == [
        (0.0, 0.2),
        (0.2, 0.4),
        (0.4, 0.6),
        (0.6, 0.8),
        (0.8, 1.0),
    ]
    assert [row["count"] for row in table] == [3, 0, 0, 0, 3]
    # bin [0, 0.2): 0.05, 0.15, 0.12 -> mean 0.32/3, outcomes 0, 0, 1 -> 1/3
    assert table[0]["mean_predicted"] == pytest.approx(0.32 / 3)
    assert table[0]["observed_rate"] == pytest.approx(1 / 3)
    # bin [0.8, 1.0] (closed, so 1.0 lands here): 0.8, 0.95, 1.0 -> 2.75/3; outcomes 1, 1, 0
    assert table[4]["mean_predicted"] == pytest.approx(2.75 / 3)
    assert table[4]["observed_rate"] == pytest.approx(2 / 3)
    assert math.isnan(table[2]["mean_predicted"])


def test_expected_calibration_error_golden() -> None:
    # 3/6 * |1/3 - 0.32/3| + 3/6 * |2/3 - 2.75/3| = 0.5 * 0.22667 + 0.5 * 0.25 = 0.238333
    expected = 0.5 * abs(1 / 3 - 0.32 / 3) + 0.5 * abs(2 / 3 - 2.75 / 3)
    assert expected_calibration_error(LABELS, PROBS, bins=5) == pytest.approx(expected)
    assert expected == pytest.approx(0.2383333, abs=1e-6)


def test_mae_days_golden() -> None:
    # |10 - 12| + |20 - 20| + |30 - 25| = 7 over 3
    assert mae_days(np.array([10.0, 20.0, 30.0]), np.array([12.0, 20.0, 25.0])) == pytest.approx(
        7 / 3
    )
