"""Blend the candidate sources into one ranking, learned on a time split.

    cut = as_of - H
    fit:   the next-need model learns on the history before the cut (its own heads on earlier
           cuts); every other source is fitted on the history before the cut (of at most
           `max_source_customers` customers: the training sample and others); candidates of a
           sample of customers who shop in [cut, cut + H) get features as of the cut, label 1
           when the item is in their first basket after it; the ranker learns from them.
    serve: the sources are fitted again on the whole history (the next-need model is reused,
           scoring as of `as_of`), and the ranker scores each customer's candidates.

Candidates per customer: their `n_repeat` best repeat items (next-need score) and up to
`n_explore` items each from collaborative filtering, content similarity, their segment and
complements of their last basket.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from sklearn.exceptions import NotFittedError
from threadpoolctl import threadpool_limits

from omnix.models.baselines import ranking_by_frequency, top_k_per_customer
from omnix.models.baskets import Baskets, FloatArray, IntArray
from omnix.models.next_need import idle_cores
from omnix.models.ranks import rank_in_runs
from omnix.models.recommend.candidates import (
    PairTable,
    Scored,
    contains,
    distinct,
    gather,
    lookup,
    pair_table,
    rows_of,
    top_per_customer,
)
from omnix.models.recommend.collaborative import CollaborativeSource
from omnix.models.recommend.complements import ComplementSource, last_baskets
from omnix.models.recommend.content import ContentSource
from omnix.models.recommend.ranker import FEATURES, BlendRanker, Matrix
from omnix.models.recommend.replenishment import ReplenishmentSource
from omnix.models.recommend.segment import SegmentSource

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BlendCandidates:
    """Scored candidates, sorted by (customer, item)."""

    customer: IntArray
    item: IntArray
    x: Matrix  # FEATURES
    score: FloatArray  # the ranker's P(in the next basket)
    source: npt.NDArray[np.str_]  # the source a reason quotes (ranker.attribute)
    evidence: IntArray  # item behind a content or complement reason, else -1

    def feature(self, name: str) -> FloatArray:
        return np.asarray(self.x[:, FEATURES.index(name)], dtype=np.float64)


@dataclass(slots=True)
class FittedSources:
    """Every source fitted as of one day, and the customer / item facts the ranker reads."""

    collaborative: CollaborativeSource
    content: ContentSource
    segment: SegmentSource
    complements: ComplementSource
    complement_rows: Scored  # complements of each prepared customer's last basket
    bought: IntArray  # pair keys
    popularity: FloatArray
    repeat_share: FloatArray
    c_log_baskets: FloatArray
    c_log_items: FloatArray
    n_items: int
    pool: IntArray  # items with at least min_buyers buyers: what ALS may propose


def _item_stats(
    history: Baskets, pairs: PairTable
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    m = pairs.counts()
    n_customers = max(int((np.diff(m.indptr) > 0).sum()), 1)
    buyers = np.bincount(m.indices, minlength=history.n_items).astype(np.float64)
    repeaters = np.bincount(m.indices, weights=(m.data >= 2), minlength=history.n_items)
    new_basket = np.r_[True, (history.customer[1:] != history.customer[:-1])
                       | (history.basket[1:] != history.basket[:-1])]  # fmt: skip
    baskets = np.bincount(history.customer[new_basket], minlength=history.n_customers)
    return (
        buyers / n_customers,
        repeaters / np.maximum(buyers, 1.0),
        np.log1p(baskets.astype(np.float64)),
        np.log1p(np.diff(m.indptr).astype(np.float64)),
    )


class BlendRecommender:
    """See the module docstring. `vectors` (n_items x d, L2-normalised rows) drive the content
    source; `groups` (per customer code, -1 unknown) the segment source, else K-means on the
    ALS factors."""

    replenishment_: ReplenishmentSource
    ranker_: BlendRanker
    fitted_as_of_: float  # the day the next-need model and the ranker learned for
    sources_: FittedSources
    ranking_: IntArray

    def __init__(
        self,
        horizon_days: float = 30.0,
        n_repeat: int = 30,
        n_explore: int = 20,
        max_train_customers: int = 10_000,
        max_source_customers: int = 30_000,
        factors: int = 64,
        n_clusters: int = 12,
        min_buyers: int = 2,
        random_state: int = 0,
        n_threads: int | None = None,
    ) -> None:
        self.horizon_days = horizon_days
        self.n_repeat = n_repeat
        self.n_explore = n_explore
        self.max_train_customers = max_train_customers
        self.max_source_customers = max_source_customers
        self.factors = factors
        self.n_clusters = n_clusters
        self.min_buyers = min_buyers
        self.random_state = random_state
        self.n_threads = n_threads

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        history: Baskets,
        as_of_day: float,
        vectors: Any,
        item_category: IntArray | None = None,
        groups: IntArray | None = None,
    ) -> BlendRecommender:
        cut = as_of_day - self.horizon_days
        past = history.before(cut)
        if past.customer.size == 0:
            raise ValueError("the history is too short to learn from: nothing before the cut")
        # Two independent halves run side by side on two cores, one core each. The side
        # thread: the next-need model (fit, scores of the training customers at the cut, then
        # every pair's scores as of the day, on a copy). This thread: the other sources at the
        # cut, then as of the day (they wait for nothing of the side's), then the training
        # candidates and the ranker. The side's work is the longer (about 26 against 25 s on
        # 100k customers); when the serving sources came after the ranker, this thread waited
        # for the side before the candidates and the side for it at the end. Most of either
        # half is single-threaded NumPy, which releases the GIL; each half's results do not
        # depend on its thread count or on the order, so the blend is the same as when run one
        # after the other.
        each, parallel = self._halves()
        train = self._training_customers(history, cut)

        def replenishment() -> ReplenishmentSource:
            r = ReplenishmentSource(self.horizon_days, random_state=self.random_state,
                                    n_threads=each).fit(past, cut, item_category)  # fmt: skip
            return r.prepare(_only(past, train), cut)

        def scores_as_of_day() -> ReplenishmentSource:  # a copy: the cut's scores stay
            return at_cut.result().learned().prepare(history, as_of_day)

        with ThreadPoolExecutor(max_workers=1) as side, _one_blas_thread(parallel):
            at_cut = _beside(side, parallel, replenishment)
            served = _beside(side, parallel, scores_as_of_day)  # queued behind it
            src = self._fit_sources(
                self._source_history(past, train), cut, vectors, groups, train, each
            )
            self.sources_ = self._fit_sources(history, as_of_day, vectors, groups, None, each)
            rep = at_cut.result()
            cand_c, cand_i = self._candidates(src, rep, train)
            x = self._features_and_evidence(src, rep, cand_c, cand_i)[0]
            y = _labels(history, cut, self.horizon_days, cand_c, cand_i)
            del src, rep
            with threadpool_limits(each):
                self.ranker_ = BlendRanker(random_state=self.random_state).fit(x, y)
            self.train_rows_ = (x, y)
            self.replenishment_ = served.result()
        self.fitted_as_of_ = as_of_day
        self.ranking_ = ranking_by_frequency(self.sources_.popularity)
        return self

    def serve_at(
        self,
        history: Baskets,
        as_of_day: float,
        vectors: Any,
        groups: IntArray | None = None,
    ) -> BlendRecommender:
        """Fit the sources on `history` (which ends before `as_of_day`) and score its pairs
        with the learned next-need model, keeping the learned ranker: the serving half of
        `fit`, also what a stored model (`learned`, then `with_items`) is brought up to date
        with on a later day."""
        if not hasattr(self, "ranker_"):
            raise NotFittedError("This BlendRecommender is not fitted yet: call fit() first.")
        return self._serve(history, as_of_day, vectors, groups, self._halves())

    def _serve(
        self,
        history: Baskets,
        as_of_day: float,
        vectors: Any,
        groups: IntArray | None,
        halves: tuple[int, bool],
    ) -> BlendRecommender:
        """The next-need scores as of the day on the side thread beside the other sources;
        `halves` as `_halves` gives."""
        each, parallel = halves
        with ThreadPoolExecutor(max_workers=1) as side, _one_blas_thread(parallel):
            served = _beside(side, parallel,
                             lambda: self.replenishment_.prepare(history, as_of_day))  # fmt: skip
            self.sources_ = self._fit_sources(history, as_of_day, vectors, groups, None, each)
            served.result()
        self.ranking_ = ranking_by_frequency(self.sources_.popularity)
        return self

    def _halves(self) -> tuple[int, bool]:
        """(threads per half, whether the two halves run side by side), from the idle cores
        sampled once."""
        threads = self.n_threads or idle_cores()
        return (1, True) if threads >= 2 else (threads, False)

    def learned(self) -> BlendRecommender:
        """A copy holding only what was learned (the next-need model, the ranker, the
        settings): no customer's sources or scores, small enough to store and bring up to
        date on a later day with `serve_at`."""
        if not hasattr(self, "ranker_"):
            raise NotFittedError("This BlendRecommender is not fitted yet: call fit() first.")
        copy = BlendRecommender.__new__(BlendRecommender)
        copy.__dict__.update(
            {k: v for k, v in self.__dict__.items() if not (k.endswith("_") or k[0] == "_")}
        )
        copy.replenishment_ = self.replenishment_.learned()
        copy.ranker_ = self.ranker_.compact()
        copy.fitted_as_of_ = self.fitted_as_of_
        return copy

    def with_items(self, old_code: IntArray) -> BlendRecommender:
        """The learned model for a new item coding: `old_code[i]` is item i's code when the
        model learned (-1 for an item new since), as item codes follow each run's history."""
        self.replenishment_ = self.replenishment_.with_items(old_code)
        return self

    def _training_customers(self, history: Baskets, cut: float) -> IntArray:
        before = np.unique(history.customer[history.day < cut])
        window = (history.day >= cut) & (history.day < cut + self.horizon_days)
        shoppers = np.intersect1d(before, np.unique(history.customer[window]))
        if shoppers.size > self.max_train_customers:
            rng = np.random.default_rng(self.random_state)
            shoppers = np.sort(rng.choice(shoppers, self.max_train_customers, replace=False))
        return shoppers.astype(np.int64)

    def _source_history(self, past: Baskets, train: IntArray) -> Baskets:
        """What the sources learn from at the training cut: the training customers and others
        drawn at random, at most max_source_customers in all (the whole history when it holds
        fewer). The ranker only reads these sources' scores of the training customers, and
        what ALS, the clusters and item popularity learn from a random 30k customers is what
        they learn from all of them, at a fraction of the time."""
        shoppers = np.unique(past.customer)
        if shoppers.size <= self.max_source_customers:
            return past
        others = np.setdiff1d(shoppers, train, assume_unique=True)
        rng = np.random.default_rng(self.random_state + 1)
        extra = rng.choice(others, max(self.max_source_customers - train.size, 0), replace=False)
        return _only(past, np.union1d(train, extra))

    def _fit_sources(
        self,
        history: Baskets,
        as_of_day: float,
        vectors: Any,
        groups: IntArray | None,
        customers: IntArray | None,
        threads: int,
    ) -> FittedSources:
        """Every non-replenishment source on `history`, prepared for `customers` (None: all
        customers with history); `threads` for ALS and K-means."""
        pairs = pair_table(history)  # one aggregation of the history for every source
        popularity, repeat_share, c_baskets, c_items = _item_stats(history, pairs)
        buyers = popularity * max(int((c_baskets > 0).sum()), 1)
        pool = np.flatnonzero(buyers >= self.min_buyers)
        pool = pool if pool.size else np.arange(history.n_items)
        # ALS solves each customer's (and item's) factors on their own, so any thread count
        # gives the same factors; a second thread on a busy core spun without shortening the
        # fit (docs/DECISIONS_LOG.md)
        collab = CollaborativeSource(
            factors=self.factors, random_state=self.random_state, n_threads=threads,
        ).fit(history, pairs)  # fmt: skip
        with threadpool_limits(threads):  # K-means' OpenMP threads
            segment = SegmentSource(self.n_clusters, random_state=self.random_state).fit(
                history, as_of_day, groups,
                None if groups is not None else collab.group_vectors(), pairs,
            )  # fmt: skip
        who = np.unique(pairs.customer) if customers is None else customers
        content = ContentSource().fit(history, vectors, pool, pairs).prepare(who)
        complements = ComplementSource(random_state=self.random_state).fit(history)
        comp_rows = complements.for_baskets(last_baskets(history), who)
        return FittedSources(
            collab, content, segment, complements, comp_rows, pairs.keys,
            popularity, repeat_share, c_baskets, c_items, history.n_items, pool,
        )  # fmt: skip

    def _candidates(
        self, src: FittedSources, rep: ReplenishmentSource, customers: IntArray
    ) -> tuple[IntArray, IntArray]:
        n = self.n_explore
        parts = [
            rep.top(customers, self.n_repeat),
            src.collaborative.top(customers, n, src.pool),
            src.content.top(customers, n),
            src.segment.top(customers, n),
            top_per_customer(
                src.complement_rows.take(rows_of(src.complement_rows, customers)),
                n,
            ),
        ]
        key = distinct(np.concatenate([p.customer * src.n_items + p.item for p in parts]))
        return key // src.n_items, key % src.n_items

    def _features_and_evidence(
        self, src: FittedSources, rep: ReplenishmentSource, c: IntArray, i: IntArray
    ) -> tuple[Matrix, IntArray, IntArray]:
        """The FEATURES of candidates (c, i) sorted by (customer, item), and the item behind
        their content and complement scores (-1 where none), looked up once for both."""
        repeat = rep.features(c, i)
        collab = src.collaborative.score(c, i)
        content, content_ev = src.content.score(c, i)
        at = lookup(src.complement_rows, c, i, src.n_items)
        comp = gather(src.complement_rows.score, at, 0.0)
        comp_ev = gather(src.complement_rows.evidence, at, -1)
        antecedent = np.maximum(comp_ev, 0)
        lift = np.where(at >= 0, src.complements.lift(antecedent, i), 0.0)
        columns = [
            *repeat,
            contains(src.bought, c, i, src.n_items),
            collab,
            np.log1p(rank_in_runs(c, collab)),
            content,
            src.segment.score(c, i),
            comp,
            lift,
            src.popularity[i],
            src.repeat_share[i],
            src.c_log_baskets[c],
            src.c_log_items[c],
        ]
        x = np.empty((c.size, len(columns)), dtype=np.float32)  # no float64 copy in between
        for k, col in enumerate(columns):
            x[:, k] = col
        return x, content_ev, comp_ev

    # ------------------------------------------------------------------ serving
    def _require(self) -> None:
        if not hasattr(self, "sources_"):
            raise NotFittedError("This BlendRecommender is not fitted yet: call fit() first.")

    def predict(self, customers: IntArray, n_threads: int | None = None) -> BlendCandidates:
        """Every candidate of these customers (codes with history), scored and attributed.
        `n_threads`: the ranker's threads (default: the model's, else the idle cores); 1 when
        the caller scores chunks on threads of its own."""
        self._require()
        src = self.sources_
        c, i = self._candidates(src, self.replenishment_, customers)
        x, content_ev, comp_ev = self._features_and_evidence(src, self.replenishment_, c, i)
        with threadpool_limits(n_threads or self.n_threads or idle_cores()):
            score = self.ranker_.predict_proba(x)
        source = self.ranker_.attribute(x)
        evidence = np.where(source == "content", content_ev,
                            np.where(source == "complements", comp_ev, -1))  # fmt: skip
        return BlendCandidates(c, i, x, score, source, evidence.astype(np.int64))

    def recommend(self, customers: IntArray, k: int) -> IntArray:
        """Top-k item codes per customer by the blend, padded with popular items: (n, k)."""
        cand = self.predict(customers)
        return top_k_per_customer(cand.customer, cand.item, cand.score, customers, k,
                                  self.ranking_)  # fmt: skip

    def recommend_by(self, source: str, customers: IntArray, k: int) -> IntArray:
        """One source alone (its own top items), padded with popular items: (n, k)."""
        self._require()
        src = self.sources_
        rows = {
            "replenishment": lambda: self.replenishment_.top(customers, k),
            "collaborative": lambda: src.collaborative.top(customers, k, src.pool),
            "content": lambda: src.content.top(customers, k),
            "segment": lambda: src.segment.top(customers, k),
            "complements": lambda: top_per_customer(src.complement_rows, k),
        }[source]()
        return top_k_per_customer(rows.customer, rows.item, rows.score, customers, k,
                                  self.ranking_)  # fmt: skip


def _one_blas_thread(parallel: bool) -> AbstractContextManager[object]:
    """BLAS at one thread for a section run on two threads. BLAS's thread count is one
    setting for the whole process: each half's own `threadpool_limits` restores it on leaving,
    which, while the other half was inside a product, changed how that product split its
    sums (the factors then differed in the last bits, and near-tied ranks flipped: seen as a
    flaky equality test). Set once here, every nested limit restores the same value."""
    return threadpool_limits(1, user_api="blas") if parallel else nullcontext()


def _beside(side: ThreadPoolExecutor, parallel: bool, task: Callable[[], T]) -> Future[T]:
    """`task` on the side thread when running in parallel, else run now (a done future)."""
    if parallel:
        return side.submit(task)
    done: Future[T] = Future()
    done.set_result(task())
    return done


def _only(history: Baskets, customers: IntArray) -> Baskets:
    rows = np.isin(history.customer, customers)
    units = None if history.units is None else history.units[rows]
    return Baskets(history.customer[rows], history.basket[rows], history.item[rows],
                   history.day[rows], history.n_customers, history.n_items, units)  # fmt: skip


def _labels(
    history: Baskets, cut: float, horizon: float, customer: IntArray, item: IntArray
) -> IntArray:
    """1 where the item is in the customer's first basket in [cut, cut + horizon)."""
    window = (history.day >= cut) & (history.day < cut + horizon)
    wc, wb, wi = history.customer[window], history.basket[window], history.item[window]
    first = np.full(history.n_customers, np.iinfo(np.int64).max)
    np.minimum.at(first, wc, wb)
    nxt = np.unique((wc * history.n_items + wi)[wb == first[wc]])
    return np.isin(customer * history.n_items + item, nxt).astype(np.int64)
