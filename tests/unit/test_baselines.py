from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from omnix.models.baselines import (
    TIFUKNN,
    ConstantRatePoisson,
    GTopFreq,
    PoissonGamma,
    PTopFreq,
    powers,
)
from omnix.models.baskets import Baskets


def make_baskets(
    customers: Sequence[Sequence[set[int]]],
    n_items: int,
    days: Sequence[Sequence[float]] | None = None,
    n_customers: int | None = None,
) -> Baskets:
    """Baskets from one list of item sets per customer, oldest first (day = basket index)."""
    rows: list[tuple[int, int, int, float]] = []
    for c, baskets in enumerate(customers):
        for b, items in enumerate(baskets):
            day = float(days[c][b]) if days is not None else float(b)
            rows.extend((c, b, i, day) for i in sorted(items))
    c_, b_, i_, d_ = (np.array(col) for col in zip(*rows, strict=True))
    return Baskets(
        customer=c_.astype(np.int64),
        basket=b_.astype(np.int64),
        item=i_.astype(np.int64),
        day=d_.astype(np.float64),
        n_customers=n_customers if n_customers is not None else len(customers),
        n_items=n_items,
    )


# Global distinct-basket counts: items 1, 3, 4, 5, 7 in 2 baskets; 2, 9 in 1; 0, 6, 8 never.
# G-TopFreq ranking (ties: lower code first) = [1, 3, 4, 5, 7, 2, 9].
FREQ_HISTORY = [
    [{5, 7}, {7, 2, 9}, {5, 3}, {3}],  # customer 0
    [{1, 4}, {1, 4}],  # customer 1
]


def test_gtopfreq_ranks_by_distinct_baskets_and_pads_with_minus_one() -> None:
    model = GTopFreq().fit(make_baskets(FREQ_HISTORY, n_items=10))
    rec = model.recommend(np.array([0, 1, 2]), k=9)
    assert rec.shape == (3, 9)
    # only 7 items were ever bought, so the last two slots stay empty
    np.testing.assert_array_equal(rec, np.tile([1, 3, 4, 5, 7, 2, 9, -1, -1], (3, 1)))


def test_gtopfreq_counts_an_item_once_per_basket() -> None:
    history = make_baskets([[{1}, {1}], [{2}]], n_items=3)
    doubled = Baskets(
        customer=np.r_[history.customer, 1, 1],
        basket=np.r_[history.basket, 0, 0],
        item=np.r_[history.item, 2, 2],
        day=np.r_[history.day, 0.0, 0.0],
        n_customers=2,
        n_items=3,
    )  # item 2 on three lines of one basket: still 1 basket < 2 baskets of item 1
    np.testing.assert_array_equal(GTopFreq().fit(doubled).recommend(np.array([0]), 2), [[1, 2]])


def test_ptopfreq_breaks_ties_by_recency_then_code_and_pads_with_gtopfreq() -> None:
    model = PTopFreq().fit(make_baskets(FREQ_HISTORY, n_items=10, n_customers=3))
    rec = model.recommend(np.array([0, 1, 2]), k=7)
    # customer 0: 3, 5, 7 each in 2 baskets, last bought in basket 3, 2, 1 -> 3, 5, 7;
    # 2 and 9 both once, last in basket 1 -> lower code first; then G-TopFreq not bought: 1, 4.
    np.testing.assert_array_equal(rec[0], [3, 5, 7, 2, 9, 1, 4])
    # customer 1: 1 and 4 tie on count and recency -> 1, 4; then 3, 5, 7, 2, 9 from G-TopFreq.
    np.testing.assert_array_equal(rec[1], [1, 4, 3, 5, 7, 2, 9])
    # customer 2 has no history: plain G-TopFreq.
    np.testing.assert_array_equal(rec[2], [1, 3, 4, 5, 7, 2, 9])


def test_ptopfreq_truncates_own_items_to_k() -> None:
    model = PTopFreq().fit(make_baskets(FREQ_HISTORY, n_items=10))
    np.testing.assert_array_equal(model.recommend(np.array([0]), k=2), [[3, 5]])


# TIFU-KNN hand example: one customer, 5 baskets (oldest first), m = 2 -> k_g = ceil(5/2) = 3
# groups, the oldest holding the remainder: g1 = {b1}, g2 = {b2, b3}, g3 = {b4, b5}.
TIFU_CUSTOMER = [{0}, {1}, {0, 2}, {1}, {0, 3}]


def tifu_expected_vector() -> np.ndarray:
    r_b, r_g = 0.9, 0.7
    g1 = {0: 1.0}  # (1/1) * r_b^0 * b1
    g2 = {1: r_b / 2, 0: 1 / 2, 2: 1 / 2}  # (1/2) * (r_b^1 * b2 + r_b^0 * b3)
    g3 = {1: r_b / 2, 0: 1 / 2, 3: 1 / 2}  # (1/2) * (r_b^1 * b4 + r_b^0 * b5)
    u = np.zeros(4)
    for weight, group in ((r_g**2, g1), (r_g, g2), (1.0, g3)):
        for item, value in group.items():
            u[item] += weight * value / 3  # (1/k_g) * r_g^(k_g - i) * group vector
    return u


def test_tifu_user_vector_matches_hand_computation() -> None:
    # u0 = (0.49 * 1 + 0.7 * 0.5 + 0.5) / 3 = 1.34 / 3;   u1 = (0.7 * 0.45 + 0.45) / 3 = 0.765 / 3
    # u2 = 0.7 * 0.5 / 3 = 0.35 / 3;                        u3 = 0.5 / 3
    hand = np.array([1.34, 0.765, 0.35, 0.5]) / 3
    np.testing.assert_allclose(tifu_expected_vector(), hand)
    model = TIFUKNN(m=2, r_b=0.9, r_g=0.7, k=1, alpha=1.0).fit(
        make_baskets([TIFU_CUSTOMER], n_items=4)
    )
    np.testing.assert_allclose(model.user_vectors_.toarray()[0], hand)


def test_tifu_alpha_one_ranks_by_user_vector_then_pads() -> None:
    history = make_baskets([TIFU_CUSTOMER, [{6}, {6, 5}]], n_items=7)
    model = TIFUKNN(m=2, k=1, alpha=1.0).fit(history)
    rec = model.recommend(np.array([0]), k=6)
    # own items by u: 0 (1.34/3), 1 (0.765/3), 3 (0.5/3), 2 (0.35/3); G-TopFreq is
    # [0 (3 baskets), 1 (2), 6 (2), 2, 3, 5 (1 each)], of which 6 and 5 are not yet in the row.
    np.testing.assert_array_equal(rec, [[0, 1, 3, 2, 6, 5]])


def test_tifu_neighbours_influence_when_alpha_below_one() -> None:
    twin = [*TIFU_CUSTOMER[:-1], {0, 3, 5}]  # customer 0 plus item 5 in the last basket
    far = [{8}, {8, 9}]
    history = make_baskets([TIFU_CUSTOMER, twin, far], n_items=10)
    model = TIFUKNN(m=2, k=1, alpha=0.5).fit(history)
    u = model.user_vectors_.toarray()
    p = model.scores(np.array([0])).toarray()[0]
    # the nearest other customer of 0 is 1 (customer 0 itself is excluded)
    np.testing.assert_allclose(p, 0.5 * u[0] + 0.5 * u[1])
    rec = model.recommend(np.array([0]), k=5)
    # item 5 only enters through the neighbour: 0.5 * 0.5 / 3 = 0.0833 < u2 part 0.1167
    np.testing.assert_array_equal(rec, [[0, 1, 3, 2, 5]])
    # without neighbours the fifth slot is padding: G-TopFreq [0, 1, 2, 3, 8, ...] -> 8
    alone = TIFUKNN(m=2, k=1, alpha=1.0).fit(history).recommend(np.array([0]), k=5)
    np.testing.assert_array_equal(alone, [[0, 1, 3, 2, 8]])


def test_tifu_ties_go_to_lower_item_code() -> None:
    # items 4 and 1 share every basket, so their scores are equal; item 2 is older, lower
    history = make_baskets([[{2}, {4, 1}, {4, 1}]], n_items=5)
    model = TIFUKNN(m=2, k=1, alpha=1.0).fit(history)
    np.testing.assert_array_equal(model.recommend(np.array([0]), k=3), [[1, 4, 2]])
    np.testing.assert_array_equal(model.recommend(np.array([0]), k=1), [[1]])


def reference_user_vector(baskets: Sequence[set[int]], n_items: int, m: int) -> np.ndarray:
    """Straight from the paper's formula with explicit loops, r_b = 0.9, r_g = 0.7."""
    n = len(baskets)
    k_g = math.ceil(n / m)
    remainder = n - (k_g - 1) * m
    groups = [baskets[:remainder]] + [
        baskets[remainder + i * m : remainder + (i + 1) * m] for i in range(k_g - 1)
    ]
    u = np.zeros(n_items)
    for i, group in enumerate(groups, start=1):
        vec = np.zeros(n_items)
        for j, items in enumerate(group, start=1):
            vec[list(items)] += 0.9 ** (len(group) - j)
        u += 0.7 ** (k_g - i) * vec / len(group)
    return u / k_g


def test_tifu_matches_loop_reference_on_random_histories() -> None:
    rng = np.random.default_rng(7)
    n_items = 15
    customers = [
        [
            set(rng.choice(n_items, size=rng.integers(1, 5), replace=False).tolist())
            for _ in range(rng.integers(1, 9))
        ]
        for _ in range(12)
    ]
    model = TIFUKNN(m=3, k=11, alpha=0.7).fit(make_baskets(customers, n_items))
    ref = np.array([reference_user_vector(c, n_items, 3) for c in customers])
    np.testing.assert_allclose(model.user_vectors_.toarray(), ref, atol=1e-12)
    # k = 11 = every other customer: the neighbour mean is the mean of the other 11 vectors
    others = (ref.sum(axis=0) - ref) / 11
    expected = 0.7 * ref + 0.3 * others
    np.testing.assert_allclose(model.scores(np.arange(12)).toarray(), expected, atol=1e-12)


def test_tifu_customer_without_history_gets_gtopfreq() -> None:
    history = make_baskets([TIFU_CUSTOMER, [{6}, {6, 5}]], n_items=7, n_customers=3)
    model = TIFUKNN(m=2, k=1).fit(history)
    gtop = GTopFreq().fit(history).recommend(np.array([2, 9]), k=4)
    np.testing.assert_array_equal(model.recommend(np.array([2, 9]), k=4), gtop)


def test_tifu_scores_refuse_customers_without_history_and_empty_history_works() -> None:
    history = make_baskets([TIFU_CUSTOMER], n_items=4, n_customers=2)
    with pytest.raises(ValueError, match="without history"):
        TIFUKNN(m=2, k=1).fit(history).scores(np.array([1]))
    empty = Baskets(
        customer=np.zeros(0, dtype=np.int64),
        basket=np.zeros(0, dtype=np.int64),
        item=np.zeros(0, dtype=np.int64),
        day=np.zeros(0),
        n_customers=2,
        n_items=4,
    )
    np.testing.assert_array_equal(TIFUKNN().fit(empty).recommend(np.array([0, 1]), 2), -1)


def test_tifu_rejects_bad_parameters_at_fit() -> None:
    history = make_baskets([TIFU_CUSTOMER], n_items=4)
    for bad in (TIFUKNN(m=0), TIFUKNN(r_b=0.0), TIFUKNN(alpha=1.5), TIFUKNN(k=0)):
        with pytest.raises(ValueError):
            bad.fit(history)


# Poisson: customer 0 buys item 1 on days 10, 20, 40 and item 2 on day 20; customer 1 buys
# item 3 once on day 49.5. Cutoff as_of_day = 50, horizon h = 14 days.
POISSON_HISTORY = make_baskets(
    [[{1}, {1, 2}, {1}], [{3}]], n_items=4, days=[[10.0, 20.0, 40.0], [49.5]]
)


def test_poisson_customer_mode() -> None:
    model = ConstantRatePoisson().fit(POISSON_HISTORY, as_of_day=50.0)
    p = model.predict_proba(np.array([0, 0, 1, 1]), np.array([1, 2, 3, 0]), horizon_days=14.0)
    expected = [
        1 - math.exp(-3 / 40 * 14),  # n = 3, observed 50 - 10 = 40 days
        1 - math.exp(-1 / 40 * 14),  # item 2: still the customer's 40 days
        1 - math.exp(-1 / 1 * 14),  # 50 - 49.5 = 0.5 days, floored at 1
        0.0,  # never bought
    ]
    np.testing.assert_allclose(p, expected)


def test_poisson_pair_mode_counts_from_first_purchase_of_item() -> None:
    model = ConstantRatePoisson(observed_from="pair").fit(POISSON_HISTORY, as_of_day=50.0)
    p = model.predict_proba(np.array([0, 0]), np.array([1, 2]), horizon_days=14.0)
    # item 1 first bought day 10 -> 40 days; item 2 first bought day 20 -> 30 days
    np.testing.assert_allclose(p, [1 - math.exp(-3 / 40 * 14), 1 - math.exp(-1 / 30 * 14)])


def test_poisson_rejects_unknown_mode() -> None:
    with pytest.raises(ValueError, match="observed_from"):
        ConstantRatePoisson(observed_from="basket").fit(POISSON_HISTORY, 50.0)  # type: ignore[arg-type]


def test_estimators_refuse_to_predict_before_fit() -> None:
    customers = np.array([0])
    for model in (GTopFreq(), PTopFreq(), TIFUKNN()):
        with pytest.raises(NotFittedError, match="fit"):
            model.recommend(customers, 3)
    with pytest.raises(NotFittedError, match="fit"):
        ConstantRatePoisson().predict_proba(customers, customers, 7.0)


def test_poisson_gamma_shrinks_a_thin_history_toward_its_items_buyers() -> None:
    """30 customers buy item 0 about weekly for 70 days; one bought it once in 70 days. Its
    Poisson-Gamma probability sits between its own constant rate and the population's."""
    weekly = [[{0} if d % 7 == 0 else {1} for d in range(70)] for _ in range(30)]
    once = [{0}] + [{1}] * 69
    h = make_baskets([*weekly, once], n_items=2)
    customers, items = np.array([30, 0]), np.array([0, 0])
    pg = PoissonGamma(min_pairs=10).fit(h, as_of_day=70.0)
    flat = ConstantRatePoisson().fit(h, as_of_day=70.0)
    p_pg, p_flat = (
        pg.predict_proba(customers, items, 7.0),
        flat.predict_proba(customers, items, 7.0),
    )
    assert p_flat[0] < p_pg[0] < p_flat[1]  # the thin pair is pulled up toward weekly buyers
    assert p_pg[1] == pytest.approx(p_flat[1], abs=0.05)  # ten purchases mostly speak for it
    assert pg.predict_proba(np.array([30]), np.array([1]), 7.0)[0] > 0.99  # bought every day
    assert pg.predict_proba(np.array([0]), np.array([0]), 0.0)[0] == 0.0


def test_powers_from_a_table_equal_the_pow_of_each_element() -> None:
    rng = np.random.default_rng(2)
    ints = rng.integers(0, 400, 10_000)
    for base in (0.5, 0.7, 0.9, 0.95):
        np.testing.assert_array_equal(powers(base, ints), base**ints)
        np.testing.assert_array_equal(powers(base, ints.astype(np.float64)), base**ints)
    # negative, fractional, huge, NaN and empty exponents are computed, not looked up
    odd = np.array([-3.0, 0.5, 2.25, 1e6, np.nan, np.inf, 4.0])
    np.testing.assert_array_equal(powers(0.9, odd), 0.9**odd)
    np.testing.assert_array_equal(powers(0.9, np.array([-2, 3])), 0.9 ** np.array([-2.0, 3.0]))
    assert powers(0.9, np.zeros(0, dtype=np.int64)).size == 0
