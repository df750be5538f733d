"""The next-need model on simulated renewal histories: it learns, ranks and stays bounded."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import NotFittedError

from omnix.evaluation import metrics as m
from omnix.models.baskets import Baskets
from omnix.models.next_need import NextNeedModel, _fit_head


def simulate(n_customers: int = 300, days: int = 360, seed: int = 0) -> Baskets:
    """Each customer shops every 3-5 days and buys each of 8 items when its gamma clock rings;
    items 0-3 run on 7-day cycles, items 4-7 on 30-day ones. Some customers stop at day 200."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[int, int, int, float]] = []
    for c in range(n_customers):
        end = 200 if c % 5 == 0 else days
        trips = np.cumsum(rng.uniform(3, 5, days))
        trips = trips[trips < end]
        due = rng.uniform(0, 30, 8)
        cycles = np.r_[np.full(4, 7.0), np.full(4, 30.0)] * np.exp(rng.normal(0, 0.2, 8))
        for b, day in enumerate(trips):
            bought = np.flatnonzero(due <= day)
            if bought.size == 0:
                bought = np.array([rng.integers(8)])
            for i in bought:
                rows.append((c, b, int(i), float(day)))
                due[i] = day + rng.gamma(9.0, cycles[i] / 9.0)
    a = np.array(rows)
    return Baskets(
        a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2].astype(np.int64),
        a[:, 3], n_customers, 8,
    )  # fmt: skip


@pytest.fixture(scope="module")
def history() -> Baskets:
    return simulate()


def test_probabilities_are_sharp_and_calibrated_on_the_next_window(history: Baskets) -> None:
    as_of, horizon = 330.0, 7.0
    model = NextNeedModel(horizon_days=horizon).fit(history.before(as_of), as_of)
    pred = model.predict(history.before(as_of), as_of)
    window = (history.day >= as_of) & (history.day < as_of + horizon)
    bought = set(zip(history.customer[window].tolist(), history.item[window].tolist(), strict=True))
    labels = np.array(
        [(c, i) in bought for c, i in zip(pred.pairs.customer, pred.pairs.item, strict=True)]
    ).astype(np.int64)
    assert m.auc(labels, pred.probability) > 0.85
    assert m.expected_calibration_error(labels, pred.probability) < 0.05
    churned = pred.pairs.customer % 5 == 0  # stopped shopping at day 200
    assert pred.p_active[churned].max() < 0.2 < pred.p_active[~churned].min()
    assert np.all((pred.probability >= 0) & (pred.probability <= 1))


def test_recommend_ranks_by_the_next_basket_score(history: Baskets) -> None:
    as_of = 330.0
    model = NextNeedModel(horizon_days=7.0).fit(history.before(as_of), as_of)
    pred = model.predict(history.before(as_of), as_of)
    customers = np.array([1, 2, 299])
    top = model.recommend(pred, customers, k=10)
    assert top.shape == (3, 10)
    for c, row in zip(customers, top, strict=True):
        mine = pred.pairs.customer == c
        score = dict(zip(pred.pairs.item[mine].tolist(), pred.next_score[mine], strict=True))
        ranked = [score[i] for i in row[:8]]
        assert ranked == sorted(ranked, reverse=True)
        assert row[8:].tolist() == [-1, -1]  # only 8 items exist at all


def test_a_history_too_short_to_cut_is_refused() -> None:
    h = simulate(n_customers=5, days=20)
    with pytest.raises(ValueError, match="too short"):
        NextNeedModel(horizon_days=30.0).fit(h, as_of_day=20.0)


def test_single_class_labels_fall_back_to_a_constant() -> None:
    """A head whose training window held no purchase (or only purchases) cannot be boosted;
    it predicts the observed rate instead of failing the whole fit."""
    x = np.zeros((5, 3), dtype=np.float32)
    head = _fit_head(x, np.zeros(5, dtype=np.int64), seed=0)
    assert head.predict_proba(x)[:, 1].tolist() == [0.0] * 5
    head = _fit_head(x, np.ones(5, dtype=np.int64), seed=0)
    assert head.predict_proba(x[:2]).tolist() == [[0.0, 1.0], [0.0, 1.0]]
    mixed = _fit_head(np.zeros((10, 3), np.float32), np.r_[[0] * 5, [1] * 5], seed=0)
    assert isinstance(mixed, HistGradientBoostingClassifier)  # both classes: a real head


def test_unfitted_model_refuses_to_predict(history: Baskets) -> None:
    with pytest.raises(NotFittedError):
        NextNeedModel().predict(history, 100.0)


def test_probabilities_only_skip_the_next_basket_head(history: Baskets) -> None:
    """fit_predict(next_basket=False) (what predict and analyze ask for) fits no next-basket
    head and gives the same probabilities."""
    as_of, past = 330.0, history.before(330.0)
    full = NextNeedModel(horizon_days=7.0, n_threads=1).fit_predict(past, as_of)
    model = NextNeedModel(horizon_days=7.0, n_threads=1)
    lean = model.fit_predict(past, as_of, next_basket=False)
    assert model.next_head_ is None
    assert np.array_equal(lean.probability, full.probability)
    assert np.array_equal(lean.next_score, lean.p_item)
    with pytest.raises(NotFittedError, match="probabilities only"):
        model.predict(past, as_of)


def test_the_ranking_score_alone_skips_the_probability_heads(history: Baskets) -> None:
    """fit(probabilities=False) (what the recommendation blend asks for) fits only the
    next-basket head: the same ranking score, no probabilities."""
    as_of, past = 330.0, history.before(330.0)
    full = NextNeedModel(horizon_days=7.0, n_threads=1).fit(past, as_of).predict(past, as_of)
    model = NextNeedModel(horizon_days=7.0, n_threads=1).fit(past, as_of, probabilities=False)
    lean = model.predict(past, as_of)
    assert model.item_head_ is None and model.active_head_ is None
    assert np.array_equal(lean.next_score, full.next_score)
    assert np.isnan(lean.probability).all() and np.isnan(lean.p_item).all()
