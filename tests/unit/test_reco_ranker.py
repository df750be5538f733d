"""The blend ranker, the learned blend on a simulated history, and the reasons in words."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pyarrow as pa
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import NotFittedError

from omnix.evaluation import metrics as m
from omnix.models.baselines import PTopFreq
from omnix.models.boosting import TreeTables, positive_proba
from omnix.models.recommend.blend import BlendRecommender
from omnix.models.recommend.ranker import (
    _EXPLORE,
    FEATURES,
    BlendRanker,
    _count_at_most,
)
from omnix.models.recommend.replenishment import Rhythm
from omnix.services.reco_reasons import reasons, replenishment_reasons
from tests.unit.test_next_need import simulate

F = {name: k for k, name in enumerate(FEATURES)}


def rows(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Repeat rows whose label follows rep_next, explore rows whose label follows the
    collaborative score."""
    rng = np.random.default_rng(seed)
    x = np.zeros((2 * n, len(FEATURES)), dtype=np.float32)
    x[:n, F["is_repeat"]] = 1
    x[:n, F["rep_next"]] = rng.uniform(0.01, 0.9, n)
    x[n:, F["collaborative"]] = rng.uniform(0, 1, n)
    y = np.r_[rng.random(n) < x[:n, F["rep_next"]], rng.random(n) < 0.2 * x[n:, F["collaborative"]]]
    return x, y.astype(np.int64)


def test_ranker_learns_both_heads_and_keeps_their_order() -> None:
    x, y = rows(4000)
    ranker = BlendRanker().fit(x, y)
    p = ranker.predict_proba(x)
    n = 4000
    rep_order = np.argsort(x[:n, F["rep_next"]])
    assert np.all(np.diff(p[:n][rep_order]) >= -1e-9)  # monotone in the next-need score
    exp_low = p[n:][x[n:, F["collaborative"]] < 0.2].mean()
    exp_high = p[n:][x[n:, F["collaborative"]] > 0.8].mean()
    assert exp_high > exp_low + 0.05
    assert p[n:].mean() == pytest.approx(y[n:].mean(), abs=0.02)  # calibrated


def test_attribution_names_the_source_a_reason_quotes() -> None:
    x, y = rows(500)
    ranker = BlendRanker().fit(x, y)
    probe = np.zeros((3, len(FEATURES)), dtype=np.float32)
    probe[0, F["is_repeat"]] = 1
    probe[1, F["collaborative"]] = 0.9
    assert ranker.attribute(probe).tolist() == ["replenishment", "collaborative", "popular"]


def reference_attribute(ranker: BlendRanker, x: np.ndarray) -> np.ndarray:
    """attribute as it was: every row's percentile in every source, names by np.where."""
    columns = (F["collaborative"], F["content"], F["segment"], F["complement"])
    pct = np.zeros((x.shape[0], 4))
    for k, (col, ref) in enumerate(zip(columns, ranker.reference_, strict=True)):
        v = x[:, col].astype(np.float64)
        rank = np.searchsorted(ref, v, side="right") / max(ref.size, 1)
        pct[:, k] = np.where(v > 0, rank + 1e-9, 0.0)
    names = np.array(["collaborative", "content", "segment", "complements"])
    out = np.where(pct.max(axis=1) > 0, names[pct.argmax(axis=1)], "popular")
    return np.where(x[:, F["is_repeat"]] > 0, "replenishment", out)


def test_attribution_equals_the_all_rows_version() -> None:
    rng = np.random.default_rng(3)
    x, y = rows(500)
    for col in ("content", "segment", "complement"):
        x[:, F[col]] = rng.choice([0.0, 0.1, 0.5, 0.9, -0.2], x.shape[0])
    ranker = BlendRanker().fit(x, y)
    probe = rng.choice([0.0, 0.1, 0.5, 0.9, -0.2, np.nan], (3000, len(FEATURES)))
    probe = probe.astype(np.float32)
    got = ranker.attribute(probe)
    assert got.dtype == reference_attribute(ranker, probe).dtype
    np.testing.assert_array_equal(got, reference_attribute(ranker, probe))
    assert set(got) == {"replenishment", "collaborative", "content", "segment", "complements",
                        "popular"}  # fmt: skip
    assert ranker.attribute(probe[:0]).size == 0


@pytest.mark.parametrize("seed", range(20))
def test_count_at_most_equals_searchsorted(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = np.sort(np.round(rng.random(int(rng.integers(0, 500))), 2))
    v = np.round(rng.random(int(rng.integers(0, 500))), 2)
    np.testing.assert_array_equal(_count_at_most(ref, v), np.searchsorted(ref, v, side="right"))


def test_boosted_head_on_binned_features_gives_the_public_probabilities() -> None:
    rng = np.random.default_rng(5)
    x, y = rows(3000)
    explore = slice(3000, None)  # NaN only where the boosted head reads
    for col in ("content", "segment", "complement", "c_log_items"):
        x[explore, F[col]] = np.where(rng.random(3000) < 0.3, np.nan, rng.random(3000))
    ranker = BlendRanker().fit(x, y)
    booster = ranker.explore_
    edges = np.concatenate(booster._bin_mapper.bin_thresholds_)  # values on a split's edge
    probe = rng.choice(np.r_[edges, np.nan, np.inf, -np.inf, 0.0, 1e9], (5000, len(_EXPLORE)))
    probe = np.vstack([probe, x[:, _EXPLORE]]).astype(np.float32)
    expected = booster.predict_proba(probe)[:, 1]
    # the tables ran on the rows as they are, not the public fallback (internals renamed by a
    # new scikit-learn), scikit-learn's walk or its binning; a probe longer than a block
    # crosses block edges
    public = mock.patch.object(type(booster), "predict_proba", side_effect=AssertionError)
    walk = mock.patch.object(type(booster), "_predict_iterations", side_effect=AssertionError)
    binning = mock.patch.object(type(booster._bin_mapper), "transform", side_effect=AssertionError)
    with public, walk, binning, mock.patch.object(TreeTables, "BLOCK", 1000):
        np.testing.assert_array_equal(positive_proba(booster, probe), expected)
    # trees with more splits than a table holds take the public method
    big = HistGradientBoostingClassifier(max_iter=20, max_leaf_nodes=15, random_state=0)
    big.fit(x[:, _EXPLORE], y)
    assert TreeTables.of(big) is None
    expected = big.predict_proba(probe)[:, 1]
    with mock.patch.object(type(big), "predict_proba", wraps=big.predict_proba) as public:
        np.testing.assert_array_equal(positive_proba(big, probe), expected)
    assert public.call_count == 1
    logistic = ranker.repeat_  # anything else takes the public method
    design = rng.random((10, logistic.coef_.shape[1]))
    np.testing.assert_array_equal(
        positive_proba(logistic, design), logistic.predict_proba(design)[:, 1]
    )


def test_ranker_refuses_before_fit_and_wrong_width() -> None:
    with pytest.raises(NotFittedError):
        BlendRanker().predict_proba(np.zeros((1, len(FEATURES)), dtype=np.float32))
    with pytest.raises(ValueError, match="feature columns"):
        BlendRanker().fit(np.zeros((2, 3), dtype=np.float32), np.array([0, 1]))


@pytest.fixture(scope="module")
def fitted() -> tuple[BlendRecommender, object]:
    h = simulate(n_customers=200, days=300)
    vectors = np.eye(8)
    model = BlendRecommender(horizon_days=30, n_threads=1).fit(h, 300.0, vectors)
    return model, h


def test_blend_recommends_at_least_as_well_as_own_frequency(fitted: tuple) -> None:
    _, h = fitted
    past = h.before(270.0)
    truth_model = BlendRecommender(horizon_days=30, n_threads=1).fit(past, 270.0, np.eye(8))
    customers = np.unique(past.customer)
    window = (h.day >= 270) & (h.day < 300)
    first = {}
    for c, b, i in zip(h.customer[window], h.basket[window], h.item[window], strict=True):
        first.setdefault(int(c), (b, set()))
        if first[int(c)][0] == b:
            first[int(c)][1].add(int(i))
    keep = np.array([c for c in customers if c in first])
    truth = [first[int(c)][1] for c in keep]
    blend = m.recall_at_k(truth_model.recommend(keep, 3), truth)
    freq = m.recall_at_k(PTopFreq().fit(past).recommend(keep, 3), truth)
    assert blend > freq


def test_blend_predict_scores_and_attributes_every_candidate(fitted: tuple) -> None:
    model, _ = fitted
    cand = model.predict(np.array([0, 1, 2]))
    assert set(np.unique(cand.customer).tolist()) == {0, 1, 2}
    assert ((cand.score >= 0) & (cand.score <= 1)).all()
    repeat = cand.feature("is_repeat") > 0
    assert (cand.source[repeat] == "replenishment").all()
    assert model.recommend(np.array([0, 1]), 4).shape == (2, 4)
    for source in ("replenishment", "collaborative", "content", "segment", "complements"):
        assert model.recommend_by(source, np.array([0]), 3).shape == (1, 3)


def test_blend_fitted_on_two_cores_side_by_side_equals_one_core(fitted: tuple) -> None:
    """n_threads=2 runs the next-need half beside the other sources: the same blend."""
    one, h = fitted
    two = BlendRecommender(horizon_days=30, n_threads=2).fit(h, 300.0, np.eye(8))
    customers = np.unique(h.customer)
    a, b = one.predict(customers), two.predict(customers)
    assert np.array_equal(a.customer, b.customer) and np.array_equal(a.item, b.item)
    assert np.allclose(a.score, b.score, rtol=1e-9, atol=0)
    assert np.allclose(a.x, b.x, rtol=1e-6, atol=0)
    assert np.array_equal(a.source, b.source) and np.array_equal(a.evidence, b.evidence)


def test_a_stored_blend_brought_up_to_date_scores_like_the_fitted_one(fitted: tuple) -> None:
    """learned() keeps the next-need model and the ranker (no customer's scores); pickled and
    served on the same history it gives the fitted blend's candidates and scores."""
    import pickle

    model, h = fitted
    stored = pickle.dumps(model.learned())
    assert len(stored) < len(pickle.dumps(model)) / 2
    again = pickle.loads(stored)
    assert not hasattr(again, "sources_") and again.fitted_as_of_ == 300.0
    again.with_items(np.arange(h.n_items)).serve_at(h, 300.0, np.eye(8))
    customers = np.unique(h.customer)
    a, b = model.predict(customers), again.predict(customers)
    assert np.array_equal(a.item, b.item) and np.allclose(a.score, b.score, rtol=1e-9, atol=0)


def test_blend_refuses_a_history_with_nothing_before_the_cut() -> None:
    h = simulate(n_customers=5, days=20)
    with pytest.raises(ValueError, match="too short"):
        BlendRecommender(horizon_days=30, n_threads=1).fit(h, 20.0, np.eye(8))


def test_reasons_read_as_words() -> None:
    r = Rhythm(
        interval_days=np.array([7.0, 30.0, np.nan]),
        days_since=np.array([6.0, 3.0, np.nan]),
        days_until_due=np.array([1.0, 27.0, np.nan]),
        purchases=np.array([5.0, 3.0, 1.0]),
    )
    assert replenishment_reasons(r).to_pylist() == [
        "you buy this about every 7 days and it is due",
        "you buy this about every 30 days; next due in 27 days",
        "you bought this before",
    ]
    source = pa.array(["replenishment", "collaborative", "content", "segment", "complements",
                       "popular"])  # fmt: skip
    names = pa.array([None, None, "penne", None, "pasta", None])
    replen = pa.array(["you buy this about every 7 days and it is due"] * 6)
    assert reasons(source, names, replen).to_pylist() == [
        "you buy this about every 7 days and it is due",
        "customers like you also buy this",
        "similar to the penne you buy",
        "popular with customers in your segment",
        "goes with the pasta in your last basket",
        "popular with all customers",
    ]
