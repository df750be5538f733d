"""Behavioural clusters: k selection, stable ids across runs, words from centroids."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.metrics import adjusted_rand_score

from omnix.domain.segments import ClusterProfile
from omnix.models.clusters import BehaviourClusters, RuleClusterNamer, behaviour_features, traits

NAMES = ["log_monetary", "frequency", "recency", "basket_size"]
CENTRES = np.array([[8.0, 3.0, 1.0, 2.0], [4.0, 0.5, 5.0, 1.0], [6.0, 1.0, 2.0, 3.5],
                    [5.0, 2.0, 3.0, 0.5]])  # fmt: skip


def blobs(seed: int = 0, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(len(CENTRES)), n)
    return CENTRES[truth] + rng.normal(0, 0.25, (len(truth), 4)), truth


def test_k_is_chosen_by_silhouette_and_stability() -> None:
    X, truth = blobs()
    model = BehaviourClusters(k_range=(2, 6)).fit(X, NAMES)
    assert model.k_ == 4
    assert [s.k for s in model.selection_] == [2, 3, 4, 5, 6]
    best = max(model.selection_, key=lambda s: s.silhouette)
    assert best.k == 4 and best.stability > 0.95
    assert adjusted_rand_score(truth, model.labels_) > 0.95
    assert np.array_equal(model.predict(X), model.labels_)


def test_default_ids_follow_the_first_feature() -> None:
    X, _ = blobs()
    model = BehaviourClusters(k_range=(4, 4)).fit(X, NAMES)
    assert np.all(np.diff(model.centroids_[:, 0]) < 0)  # id 0 = highest log spend
    assert np.allclose(np.sort(model.centroids_, axis=0), np.sort(CENTRES, axis=0), atol=0.1)


def test_permuted_previous_centroids_map_back() -> None:
    X, _ = blobs()
    first = BehaviourClusters(k_range=(4, 4)).fit(X, NAMES)
    perm = np.array([2, 0, 3, 1])
    previous = first.centroids_[perm]  # previous id j held today's cluster perm[j]
    X2, _ = blobs(seed=1)
    again = BehaviourClusters(k_range=(4, 4), random_state=7).fit(X2, NAMES)
    again.match_previous(previous)
    assert np.allclose(again.centroids_, previous, atol=0.1)
    # a customer keeps the cluster of the previous run, under the previous ids
    relabel = np.argsort(perm)
    assert adjusted_rand_score(relabel[first.labels_], again.predict(X)) == 1.0
    assert np.array_equal(again.predict(X), relabel[first.labels_])


def test_new_clusters_get_new_ids() -> None:
    X, _ = blobs()
    model = BehaviourClusters(k_range=(4, 4)).fit(X, NAMES)
    left_out = model.centroids_[3].copy()
    previous = model.centroids_[[2, 0, 1]]
    model.match_previous(previous)
    assert model.cluster_ids_.tolist() == [0, 1, 2, 3]
    assert np.allclose(model.centroids_[:3], previous)
    assert np.allclose(model.centroids_[3], left_out)  # no previous partner: next free id
    with pytest.raises(ValueError, match="one column per feature"):
        model.match_previous(previous[:, :2])


def test_describe_words_from_centroids() -> None:
    X, _ = blobs()
    model = BehaviourClusters(k_range=(4, 4)).fit(X, NAMES)
    profiles = model.describe()
    assert [p.customers for p in profiles] == [400] * 4
    top = profiles[0]  # high spend, frequent, recent
    assert top.traits[:3] == ("high spend", "frequent", "recent")
    assert "lapsed" in profiles[-1].traits and "low spend" in profiles[-1].traits
    assert sum(p.share for p in profiles) == pytest.approx(1.0)


def test_traits_and_rule_namer() -> None:
    z = {"log_monetary": 1.2, "frequency": 0.8, "recency": -0.9, "share:dairy": 0.7, "x": 3.0}
    assert traits(z) == ("high spend", "recent", "frequent", "buys much dairy")
    assert traits({"log_monetary": 0.1}) == ()
    cluster = ClusterProfile(0, 10, 0.25, ("high spend", "recent"), segment="Champions",
                             segment_share=0.6)  # fmt: skip
    label = RuleClusterNamer().name(cluster)
    assert label.name == "High spend · recent"
    assert label.description == (
        "25% of customers: high spend, recent; closest RFM segment Champions (60% of them)."
    )


def test_refuses_unfitted_and_bad_input() -> None:
    with pytest.raises(NotFittedError):
        BehaviourClusters().predict(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="finite"):
        BehaviourClusters().fit(np.full((50, 2), np.nan))
    with pytest.raises(ValueError, match="more than 8"):
        BehaviourClusters().fit(np.zeros((5, 2)))


def test_behaviour_features() -> None:
    cols = {
        "net_revenue": np.array([100.0, -5.0]), "orders": np.array([10.0, 1.0]),
        "tenure_days": np.array([300.0, 3.0]), "recency_days": np.array([2.0, 100.0]),
        "avg_basket_size": np.array([3.0, 1.0]), "regularity": np.array([0.5, np.nan]),
        "price_tier": np.array([np.nan, 0.2]), "category_share_0": np.array([0.5, np.nan]),
        "category_share_1": np.array([0.1, 0.0]),
    }  # fmt: skip
    X, names, weights = behaviour_features(cols, ["dairy", "bakery"])
    assert names[-2:] == ["share:dairy", "share:bakery"]
    assert X[1, 0] == 0.0  # negative net spend counts as none
    assert X[0, 1] == pytest.approx(np.log1p(1.0)) and X[1, 1] == pytest.approx(np.log1p(1.0))
    assert X[1, 4] == 0.5 and X[0, 5] == 0.2 and X[1, 6] == 0.0
    assert weights.tolist()[-2:] == pytest.approx([2**-0.5] * 2)
