"""Each recommendation source on small hand-made histories: it proposes what it should."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from sklearn.exceptions import NotFittedError

from omnix.models.baskets import Baskets
from omnix.models.recommend.candidates import (
    Scored,
    contains,
    expand_max,
    pair_keys,
    pair_table,
    rows_of,
    scored,
)
from omnix.models.recommend.collaborative import CollaborativeSource
from omnix.models.recommend.complements import ComplementSource, last_baskets
from omnix.models.recommend.content import ContentSource
from omnix.models.recommend.segment import SegmentSource


def baskets(rows: list[tuple[int, int, int, float]], n_customers: int, n_items: int) -> Baskets:
    a = np.array(sorted(rows), dtype=np.float64)
    return Baskets(a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2].astype(np.int64),
                   a[:, 3], n_customers, n_items)  # fmt: skip


def two_tribes(n: int = 40) -> Baskets:
    """Customers 0..n/2-1 buy items 0-2, the others items 3-5; customer 0 never bought item 2
    and the last customer never bought item 5."""
    rows = []
    for c in range(n):
        items = [0, 1, 2] if c < n // 2 else [3, 4, 5]
        if c == 0:
            items = [0, 1]
        if c == n - 1:
            items = [3, 4]
        for b in range(4):
            rows += [(c, b, i, 10.0 * b) for i in items]
    return baskets(rows, n, 6)


def test_collaborative_proposes_what_similar_customers_buy() -> None:
    h = two_tribes()
    cf = CollaborativeSource(factors=4, iterations=20).fit(h)
    top = cf.top(np.array([0, 39]), 1)
    assert dict(zip(top.customer.tolist(), top.item.tolist(), strict=True)) == {0: 2, 39: 5}
    assert cf.score(np.array([0]), np.array([2]))[0] > cf.score(np.array([0]), np.array([5]))[0]


def test_a_one_product_catalogue_fits_instead_of_failing() -> None:
    """CDNOW holds one product: 64 factors for a rank-1 matrix made implicit's solver return
    NaN ("ModelFitError: NaN encountered in factors") and `recommend --all` exit 70. The
    factors are now capped at the item count (at this many customers the old fit failed)."""
    n = 23_570
    k = np.minimum(np.random.default_rng(0).geometric(0.5, n), 200)  # baskets per customer
    customer = np.repeat(np.arange(n), k)
    basket = np.concatenate([np.arange(x) for x in k])
    h = Baskets(customer, basket, np.zeros(customer.size, np.int64), 30.0 * basket, n, 1)
    cf = CollaborativeSource().fit(h)
    assert cf.user_factors_.shape == (n, 1) and cf.item_factors_.shape == (1, 1)
    assert np.isfinite(cf.user_factors_).all() and np.isfinite(cf.item_factors_).all()
    assert np.isfinite(cf.score(np.arange(5), np.zeros(5, np.int64))).all()


def test_customers_folded_in_get_the_exact_least_squares_factors() -> None:
    """With more customers than max_fit_customers, those left out of the fit are folded in
    by conjugate gradient: the factors implicit's exact (Cholesky) fold-in gives."""
    rng = np.random.default_rng(3)
    rows = [(c, b, int(i), 10.0 * b) for c in range(300) for b in range(3)
            for i in rng.choice(30, int(rng.integers(1, 8)), replace=False)]  # fmt: skip
    h = baskets(rows, 300, 30)
    cf = CollaborativeSource(factors=8, max_fit_customers=100).fit(h)
    weights = sparse.csr_matrix(cf.bought_, dtype=np.float32)
    weights.data = (cf.alpha * np.log1p(weights.data)).astype(np.float32)
    fitted = np.flatnonzero(np.abs(cf.user_factors_).sum(axis=1) > 0)
    from implicit.cpu.als import AlternatingLeastSquares

    exact = AlternatingLeastSquares(factors=8, regularization=cf.regularization)
    exact.item_factors = cf.item_factors_.astype(np.float32)
    folded = np.setdiff1d(np.arange(300), np.sort(
        np.random.default_rng(0).choice(300, 100, replace=False)))  # fmt: skip
    want = exact.recalculate_user(folded, weights[folded])
    assert fitted.size == 300
    np.testing.assert_allclose(cf.user_factors_[folded], want, rtol=1e-3, atol=1e-5)


def test_collaborative_refuses_to_score_before_fit() -> None:
    with pytest.raises(NotFittedError):
        CollaborativeSource().score(np.array([0]), np.array([0]))


def test_content_proposes_the_item_most_like_a_favourite() -> None:
    h = baskets([(0, 0, 0, 1.0), (0, 1, 0, 5.0), (1, 0, 2, 1.0)], 2, 3)
    vectors = np.array([[1.0, 0.0], [0.96, 0.28], [0.0, 1.0]])  # 1 reads like 0; 2 like neither
    content = (
        ContentSource(n_neighbours=2, min_similarity=0.5).fit(h, vectors).prepare(np.array([0]))
    )
    top = content.top(np.array([0]), 5)
    assert top.item.tolist() == [1]
    score, evidence = content.score(np.array([0, 0]), np.array([1, 2]))
    assert score[0] == pytest.approx(0.96) and score[1] == 0.0
    assert evidence.tolist() == [0, -1]  # "similar to item 0 you buy"


def test_segment_proposes_the_groups_favourite_the_customer_lacks() -> None:
    h = two_tribes()
    seg = SegmentSource().fit(h, 40.0, groups=np.array([0] * 20 + [1] * 20))
    top = seg.top(np.array([0, 39]), 1)
    assert top.item.tolist() == [2, 5]
    assert seg.score(np.array([0]), np.array([2]))[0] > seg.score(np.array([0]), np.array([5]))[0]
    # without groups it clusters the vectors it is given
    vectors = np.r_[np.tile([1.0, 0.0], (20, 1)), np.tile([0.0, 1.0], (20, 1))]
    found = SegmentSource(n_clusters=2).fit(h, 40.0, vectors=vectors).groups_
    assert len(set(found[:20])) == 1 and found[0] != found[39]


def test_complements_learn_support_confidence_and_lift() -> None:
    # pasta (0) and sauce (1) go together in 8 of 10 baskets; milk (2) is everywhere
    rows = []
    for b in range(10):
        items = [0, 1, 2] if b < 8 else [2, 3]
        rows += [(b, 0, i, float(b)) for i in items]
    h = baskets(rows, 10, 4)
    comp = ComplementSource(min_count=2).fit(h)
    r = comp.rules_
    at = int(np.flatnonzero((r.antecedent == 0) & (r.consequent == 1))[0])
    assert r.support[at] == pytest.approx(0.8)
    assert r.confidence[at] == pytest.approx(1.0)
    assert r.lift[at] == pytest.approx(1.0 / 0.8)
    assert not ((r.antecedent == 0) & (r.consequent == 2)).any()  # lift 1: no rule
    basket = sparse.csr_array(([1.0], ([0], [0])), shape=(1, 4))
    found = comp.for_baskets(basket, np.array([0]))
    assert found.item.tolist() == [1] and found.evidence.tolist() == [0]


def test_complements_without_any_rule_propose_nothing() -> None:
    """One product (CDNOW): no rule, and the basket lookup of no rows raised "truth value of
    an array ... is ambiguous", which `recommend --all` reported as too little history."""
    h = baskets([(c, b, 0, float(b)) for c in range(3) for b in range(6)], 3, 1)
    comp = ComplementSource(min_count=2).fit(h)
    found = comp.for_baskets(last_baskets(h), np.arange(3))
    assert comp.rules_.antecedent.size == 0 and found.customer.size == 0


def test_last_baskets_hold_only_the_newest_basket() -> None:
    h = baskets([(0, 0, 0, 1.0), (0, 1, 1, 2.0), (0, 1, 2, 2.0), (1, 0, 3, 1.0)], 2, 4)
    m = last_baskets(h).toarray()
    assert m[0].tolist() == [0, 1, 1, 0] and m[1].tolist() == [0, 0, 0, 1]


def test_expand_max_keeps_the_best_path_and_its_evidence() -> None:
    user = sparse.csr_array(([1.0, 0.5], ([0, 0], [0, 1])), shape=(1, 3))
    nb = sparse.csr_array(([0.4, 0.9], ([0, 1], [2, 2])), shape=(3, 3))
    rows = expand_max(user, nb, np.array([0]))
    assert rows.item.tolist() == [2]
    assert rows.score[0] == pytest.approx(0.45) and rows.evidence[0] == 1


def test_contains_finds_bought_pairs() -> None:
    h = baskets([(0, 0, 1, 1.0), (1, 0, 0, 1.0)], 2, 2)
    got = contains(pair_keys(h), np.array([0, 0, 1]), np.array([0, 1, 0]), 2)
    assert got.tolist() == [False, True, True]


def test_rows_of_finds_a_chunk_of_customers_like_isin() -> None:
    rng = np.random.default_rng(0)
    for _ in range(100):
        n = int(rng.integers(0, 200))
        rows = scored(rng.integers(0, 40, n), rng.integers(0, 20, n), rng.random(n))
        wanted = rng.integers(-2, 45, int(rng.integers(0, 25)))  # repeats, unknown codes
        expected = np.flatnonzero(np.isin(rows.customer, wanted))
        np.testing.assert_array_equal(rows_of(rows, wanted), expected)
    unsorted = Scored(
        np.array([3, 1, 3, 2]), np.zeros(4, np.int64), np.ones(4), -np.ones(4, np.int64)
    )
    np.testing.assert_array_equal(rows_of(unsorted, np.array([3])), [0, 2])


def test_expand_max_in_blocks_equals_all_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from omnix.models.recommend import candidates

    user = sparse.random(40, 30, density=0.2, random_state=0, format="csr")
    user.data = np.round(user.data, 1)  # ties: the first favourite in order wins both ways
    near = sparse.random(30, 30, density=0.3, random_state=1, format="csr")
    near.data = np.round(near.data, 1)
    customers = np.arange(0, 40, 2)
    whole = expand_max(user, near, customers)
    monkeypatch.setattr(candidates, "_EXPAND_CUSTOMERS", 3)
    blocks = expand_max(user, near, customers)
    assert len(whole) > 50
    for field in ("customer", "item", "score", "evidence"):
        np.testing.assert_array_equal(getattr(blocks, field), getattr(whole, field))
    key = whole.customer * 30 + whole.item
    assert np.all(key[1:] > key[:-1])  # sorted by (customer, item), distinct


def test_pair_table_aggregates_like_unique_and_a_summed_sparse_matrix() -> None:
    rng = np.random.default_rng(5)
    n_customers, n_items, n = 50, 30, 4000
    customer = np.sort(rng.integers(0, n_customers - 1, n))  # the last customer buys nothing
    item = rng.integers(0, n_items, n)
    day = rng.uniform(0, 300, n)
    h = Baskets(customer, np.zeros(n, dtype=np.int64), item, day, n_customers, n_items)
    t = pair_table(h)
    key = customer * n_items + item
    assert np.array_equal(t.keys, np.unique(key))
    summed = sparse.coo_array((np.ones(n), (customer, item)), shape=(n_customers, n_items)).tocsr()
    assert np.array_equal(t.counts().toarray(), summed.toarray())
    last = {k: max(day[key == k]) for k in np.unique(key).tolist()}
    assert t.last_day.tolist() == [last[k] for k in t.keys.tolist()]
    assert np.array_equal(t.customer * n_items + t.item, t.keys)
    assert t.counts().shape == (n_customers, n_items)


def test_first_max_equals_a_two_key_sort_with_ties() -> None:
    from omnix.models.recommend.candidates import _first_max

    rng = np.random.default_rng(11)
    key = rng.integers(0, 300, 5000)
    value = rng.integers(0, 4, 5000).astype(np.float64)  # many ties
    order = np.lexsort((-value, key))
    k = key[order]
    expected = order[np.r_[True, k[1:] != k[:-1]]]
    assert np.array_equal(_first_max(key, value), expected)
    assert _first_max(np.zeros(0, dtype=np.int64), np.zeros(0)).size == 0
