"""Behavioural clusters: K-means on standardized per-customer features (scikit-learn conventions).

- Features are standardized (StandardScaler), then multiplied by per-feature weights, so a
  block of related features (category shares) can count as much as one feature together.
- k is chosen from `k_range` on a sample of at most `selection_sample` customers: for every k,
  the silhouette (on at most `silhouette_sample` of them: it costs O(n^2)) and the stability,
  the mean adjusted Rand index between the sample's labels and those of `refits` K-means fits
  on bootstrap resamples. The chosen k has the best silhouette among the k whose stability is
  at least `min_stability` (the most stable k if none is). The final fit uses every customer.
- Cluster ids: by default 0 is the cluster with the highest first feature (log spend in omnix),
  and so on down. `match_previous(previous_centroids)` instead gives each cluster the id of the
  nearest previous centroid (Hungarian algorithm on standardized distances), so ids stay stable
  across re-runs; clusters without a previous partner get new ids after the old ones.
- `describe()` turns centroids into words; `RuleClusterNamer` names a cluster from them (the
  `ClusterNamer` port lets the LLM insights layer replace it).

    >>> model = BehaviourClusters(k_range=(3, 8)).fit(X, names)    # doctest: +SKIP
    >>> model.labels_, model.k_, model.selection_                  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.exceptions import NotFittedError
from threadpoolctl import threadpool_limits

from omnix.domain.segments import ClusterLabel, ClusterProfile

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
TRAIT_Z = 0.5  # a centroid this many standard deviations from the mean earns a word
MAX_TRAITS = 4

# feature name -> (word when high, word when low)
WORDS: dict[str, tuple[str, str]] = {
    "log_monetary": ("high spend", "low spend"),
    "frequency": ("frequent", "infrequent"),
    "recency": ("lapsed", "recent"),
    "basket_size": ("big baskets", "small baskets"),
    "regularity": ("regular", "irregular"),
    "price_tier": ("premium prices", "budget prices"),
}
CATEGORY_PREFIX = "share:"


@dataclass(frozen=True, slots=True)
class Selection:
    """Measurements of one candidate k."""

    k: int
    silhouette: float
    stability: float
    inertia: float


class BehaviourClusters:
    """StandardScaler + KMeans with k chosen by silhouette and bootstrap stability."""

    def __init__(
        self,
        k_range: tuple[int, int] = (3, 8),
        n_init: int = 4,
        random_state: int = 0,
        weights: Sequence[float] | FloatArray | None = None,
        selection_sample: int = 20_000,
        silhouette_sample: int = 5_000,
        refits: int = 3,
        min_stability: float = 0.8,
    ) -> None:
        self.k_range = k_range
        self.n_init = n_init
        self.random_state = random_state
        self.weights = weights
        self.selection_sample = selection_sample
        self.silhouette_sample = silhouette_sample
        self.refits = refits
        self.min_stability = min_stability

    def fit(
        self, X: npt.ArrayLike, feature_names: Sequence[str] | None = None
    ) -> BehaviourClusters:
        """Standardize, choose k on a sample, fit K-means on all rows; returns self.

        Runs single-threaded: on 2 cores OpenMP + OpenBLAS threads made K-means 6x slower
        (measured 0.49 s vs 2.98 s for 100k x 12, k = 6; docs/DECISIONS_LOG.md)."""
        with threadpool_limits(1):
            return self._fit(_matrix(X), feature_names)

    def _fit(self, data: FloatArray, feature_names: Sequence[str] | None) -> BehaviourClusters:
        from sklearn.preprocessing import StandardScaler

        lo, hi = self.k_range
        if lo < 2 or hi < lo:
            raise ValueError(f"k_range must satisfy 2 <= low <= high, got {self.k_range}")
        if len(data) <= hi:
            raise ValueError(f"need more than {hi} customers to try k up to {hi}, got {len(data)}")
        self.feature_names_ = list(feature_names or [f"x{i}" for i in range(data.shape[1])])
        self.weights_ = self._weights(data.shape[1])
        self.scaler_ = StandardScaler().fit(data)
        z = self._space(data)
        rng = np.random.default_rng(self.random_state)
        self.selection_ = [self._measure(k, _sample(z, self.selection_sample, rng), rng)
                           for k in range(lo, hi + 1)]  # fmt: skip
        self.k_ = _choose(self.selection_, self.min_stability)
        self.kmeans_ = self._kmeans(self.k_, self.random_state).fit(z)
        self.ids_ = _rank_ids(self.kmeans_.cluster_centers_[:, 0])
        self.labels_ = self.ids_[self.kmeans_.labels_]
        return self

    def predict(self, X: npt.ArrayLike) -> IntArray:
        """Stable cluster id of each row."""
        self._check_fitted()
        with threadpool_limits(1):
            return np.asarray(self.ids_[self.kmeans_.predict(self._space(_matrix(X)))])

    @property
    def centroids_(self) -> FloatArray:
        """Centroids in the features' own units, row i = cluster id i (ids are 0..k-1 unless
        matching a previous run left gaps: then rows follow `cluster_ids_`)."""
        self._check_fitted()
        z = self.kmeans_.cluster_centers_ / self.weights_
        return np.asarray(self.scaler_.inverse_transform(z)[np.argsort(self.ids_)], np.float64)

    @property
    def cluster_ids_(self) -> IntArray:
        """The cluster ids in ascending order (the rows of `centroids_`)."""
        self._check_fitted()
        return np.sort(self.ids_)

    def match_previous(self, previous_centroids: npt.ArrayLike) -> BehaviourClusters:
        """Renumber clusters so each takes the id (row index) of the nearest previous centroid
        (features' own units, same columns); returns self."""
        from scipy.optimize import linear_sum_assignment

        self._check_fitted()
        prev = _matrix(previous_centroids)
        if prev.shape[1] != len(self.feature_names_):
            raise ValueError("previous centroids must have one column per feature")
        here = self.kmeans_.cluster_centers_
        cost = np.linalg.norm(here[:, None, :] - self._space(prev)[None, :, :], axis=2)
        rows, cols = linear_sum_assignment(cost)
        ids = np.full(len(here), -1, dtype=np.int64)
        ids[rows] = cols
        fresh = np.flatnonzero(ids < 0)
        ids[fresh] = len(prev) + np.arange(len(fresh))
        self.ids_ = ids
        self.labels_ = ids[self.kmeans_.labels_]
        return self

    def zscores(self) -> FloatArray:
        """Centroids in standard deviations from the mean (unweighted), rows as `centroids_`."""
        self._check_fitted()
        z = self.kmeans_.cluster_centers_ / self.weights_
        return np.asarray(z[np.argsort(self.ids_)], dtype=np.float64)

    def describe(self) -> list[ClusterProfile]:
        """One profile per cluster (id order): size, share and the words its centroid earns."""
        self._check_fitted()
        counts = np.bincount(self.labels_, minlength=int(self.ids_.max()) + 1)
        names, n = self.feature_names_, len(self.labels_)
        out = []
        for cid, z, centre in zip(self.cluster_ids_.tolist(), self.zscores(), self.centroids_,
                                  strict=True):  # fmt: skip
            out.append(
                ClusterProfile(
                    cluster_id=cid,
                    customers=int(counts[cid]),
                    share=float(counts[cid] / n),
                    traits=traits(dict(zip(names, z.tolist(), strict=True))),
                    zscores={k: round(float(v), 3) for k, v in zip(names, z, strict=True)},
                    centroid={k: float(v) for k, v in zip(names, centre, strict=True)},
                )
            )
        return out

    def _weights(self, n: int) -> FloatArray:
        w = np.ones(n) if self.weights is None else np.asarray(self.weights, dtype=np.float64)
        if w.shape != (n,) or np.any(w <= 0):
            raise ValueError(f"weights must be {n} positive numbers")
        return w

    def _space(self, data: FloatArray) -> FloatArray:
        return np.asarray(self.scaler_.transform(data) * self.weights_, dtype=np.float64)

    def _kmeans(self, k: int, seed: int) -> Any:
        from sklearn.cluster import KMeans

        return KMeans(n_clusters=k, n_init=self.n_init, random_state=seed)

    def _measure(self, k: int, z: FloatArray, rng: np.random.Generator) -> Selection:
        from sklearn.metrics import adjusted_rand_score, silhouette_score

        base = self._kmeans(k, self.random_state).fit(z)
        size = min(self.silhouette_sample, len(z))
        sil = silhouette_score(z, base.labels_, sample_size=size, random_state=self.random_state)
        aris = []
        for b in range(self.refits):
            boot = z[rng.integers(0, len(z), len(z))]
            refit = self._kmeans(k, self.random_state + b + 1).fit(boot)
            aris.append(adjusted_rand_score(base.labels_, refit.predict(z)))
        stability = float(np.mean(aris)) if aris else 1.0
        return Selection(k, float(sil), stability, float(base.inertia_))

    def _check_fitted(self) -> None:
        if not hasattr(self, "kmeans_"):
            raise NotFittedError("BehaviourClusters is not fitted yet: call fit(X) first")


def _matrix(X: npt.ArrayLike) -> FloatArray:
    data = np.asarray(X, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"X must be 2-D (customers x features), got shape {data.shape}")
    if not np.all(np.isfinite(data)):
        raise ValueError("X must be finite: fill missing features before clustering")
    return data


def _sample(z: FloatArray, n: int, rng: np.random.Generator) -> FloatArray:
    if len(z) <= n:
        return z
    return z[rng.choice(len(z), size=n, replace=False)]


def _choose(selection: Sequence[Selection], min_stability: float) -> int:
    stable = [s for s in selection if s.stability >= min_stability]
    if stable:
        return max(stable, key=lambda s: (s.silhouette, -s.k)).k
    return max(selection, key=lambda s: (s.stability, -s.k)).k


def _rank_ids(first_feature: FloatArray) -> IntArray:
    """Id 0 for the cluster with the highest value of the first feature, and so on."""
    order = np.argsort(-first_feature, kind="stable")
    ids = np.empty(len(order), dtype=np.int64)
    ids[order] = np.arange(len(order))
    return ids


def traits(zscores: dict[str, float], threshold: float = TRAIT_Z) -> tuple[str, ...]:
    """Words for the features a centroid stands out on (|z| >= threshold), strongest first.

    Example: traits({"log_monetary": 1.2, "frequency": 0.8, "recency": -0.9})
    -> ("high spend", "recent", "frequent").
    """
    words = []
    for name, z in sorted(zscores.items(), key=lambda kv: -abs(kv[1])):
        if abs(z) < threshold:
            break
        if name in WORDS:
            words.append(WORDS[name][0 if z > 0 else 1])
        elif name.startswith(CATEGORY_PREFIX) and z > 0:
            words.append(f"buys much {name.removeprefix(CATEGORY_PREFIX)}")
    return tuple(words[:MAX_TRAITS])


class RuleClusterNamer:
    """Default `ClusterNamer`: a name from the two strongest traits and a plain sentence."""

    def name(self, cluster: ClusterProfile) -> ClusterLabel:
        if not cluster.traits:
            title, said = "Average shoppers", "average on every measure"
        else:
            title = " · ".join(cluster.traits[:2]).capitalize()
            said = ", ".join(cluster.traits)
        text = f"{cluster.share:.0%} of customers: {said}"
        if cluster.segment:
            share = cluster.segment_share or 0.0
            text += f"; closest RFM segment {cluster.segment} ({share:.0%} of them)"
        return ClusterLabel(name=title, description=text + ".")


def behaviour_features(
    columns: dict[str, FloatArray], categories: Sequence[str]
) -> tuple[FloatArray, list[str], FloatArray]:
    """The clustering matrix from per-customer profile columns, its feature names and weights.

    Uses net_revenue (currency), orders, tenure_days, recency_days, avg_basket_size (units),
    regularity (0..1, NaN when unknown), price_tier (0..1, NaN when unknown) and
    category_share_0.. (0..1). Features: log spend, orders per 30 days of tenure (at least 30
    days counted), log days since the last purchase, log units per basket, regularity and price
    tier (unknown = the median), and the category shares, weighted 1/sqrt(count) so the block
    counts as one feature.
    """
    tenure = np.maximum(columns["tenure_days"], 30.0)
    base = {
        "log_monetary": np.log1p(np.maximum(columns["net_revenue"], 0.0)),
        "frequency": np.log1p(30.0 * columns["orders"] / tenure),
        "recency": np.log1p(np.maximum(columns["recency_days"], 0.0)),
        "basket_size": np.log1p(np.maximum(columns["avg_basket_size"], 0.0)),
        "regularity": _fill_median(columns["regularity"]),
        "price_tier": _fill_median(columns["price_tier"]),
    }
    names = list(base)
    blocks = list(base.values())
    for k, category in enumerate(categories):
        names.append(f"{CATEGORY_PREFIX}{category}")
        blocks.append(np.nan_to_num(columns[f"category_share_{k}"], nan=0.0))
    weights = np.ones(len(names))
    if categories:
        weights[len(base) :] = 1.0 / np.sqrt(len(categories))
    return np.column_stack(blocks).astype(np.float64), names, weights


def _fill_median(values: FloatArray) -> FloatArray:
    v = np.asarray(values, dtype=np.float64)
    known = v[np.isfinite(v)]
    fill = float(np.median(known)) if known.size else 0.0
    return np.where(np.isfinite(v), v, fill)
