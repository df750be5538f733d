"""The rhythm model on hand-made histories: aggregation, shrinkage, hazard, forecasts."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from omnix.models.baskets import Baskets
from omnix.models.rhythm import (
    RhythmModel,
    customer_rhythms,
    forecast,
    next_purchase_day,
    pair_history,
)


def baskets(rows: list[tuple[int, int, int, float, float]], n_items: int = 3) -> Baskets:
    """rows: (customer, basket, item, day, units), any order."""
    a = np.array(rows, dtype=np.float64)
    order = np.lexsort((a[:, 1], a[:, 0]))
    a = a[order]
    n_customers = int(a[:, 0].max()) + 1
    return Baskets(
        a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2].astype(np.int64),
        a[:, 3], n_customers, n_items, a[:, 4],
    )  # fmt: skip


def regular(customer: int, item: int, every: float, times: int, start: float = 0.0) -> list:
    return [(customer, b, item, start + b * every, 1.0) for b in range(times)]


def test_same_day_baskets_merge_and_gaps_are_per_unit() -> None:
    # two baskets on day 0 (1 + 1 units), then day 10 (1 unit), then day 15 (2 units)
    h = baskets([(0, 0, 1, 0.2, 1), (0, 1, 1, 0.7, 1), (0, 2, 1, 10.5, 1), (0, 3, 1, 15.1, 2)])
    p = pair_history(h)
    assert len(p) == 1
    assert p.n_baskets[0] == 4 and p.n_days[0] == 3
    assert p.units[0] == 5 and p.last_units[0] == 2
    assert (p.first_day[0], p.last_day[0]) == (0, 15)
    assert p.last_basket[0] == 3
    assert p.gap_mean[0] == pytest.approx((10 / 2 + 5 / 1) / 2)
    assert p.ratio_cycle[0] == pytest.approx(15 / 3)  # 15 days over the 3 units before day 15


def test_one_purchase_has_no_own_cycle_and_takes_the_prior() -> None:
    rows = [r for c in range(20) for r in regular(c, 0, 7.0, 10)]
    rows += [(20, 0, 0, 3.0, 1.0)]
    p = pair_history(baskets(rows, n_items=1))
    est = RhythmModel().fit(p, n_items=1).estimate(p, as_of_day=80.0, horizon_days=7.0)
    lone = np.flatnonzero(p.customer == 20)[0]
    assert np.isnan(p.ratio_cycle[lone])
    assert est.shrinkage[lone] == 0.0
    assert est.cycle_days[lone] == pytest.approx(7.0, rel=0.05)


def test_few_purchases_shrink_toward_the_population_many_do_not() -> None:
    """Customers' mean cycles spread around 10 days (log sd 0.4), gaps vary (CV 0.5)."""
    rng = np.random.default_rng(3)
    rows = []
    for c in range(300):
        mean = 10.0 * np.exp(rng.normal(0, 0.4))
        days = np.cumsum(rng.gamma(4.0, mean / 4.0, 12))
        rows += [(c, b, 0, float(d), 1.0) for b, d in enumerate(days)]
    rows += regular(300, 0, 30.0, 2)  # two purchases 30 days apart
    rows += regular(301, 0, 30.0, 20)  # twenty purchases 30 days apart
    p = pair_history(baskets(rows, n_items=1))
    est = RhythmModel().fit(p, n_items=1).estimate(p, as_of_day=700.0, horizon_days=7.0)
    thin, thick = (np.flatnonzero(p.customer == c)[0] for c in (300, 301))
    assert 10.0 < est.cycle_days[thin] < 20.0  # pulled most of the way back to ~10 days
    assert est.shrinkage[thin] < 0.5
    assert est.cycle_days[thick] == pytest.approx(30.0, rel=0.1)  # its own history wins
    assert est.shrinkage[thick] > 0.8


def test_two_packs_last_twice_as_long() -> None:
    # one unit on day 0, two on day 5, one on day 15: 5 days per unit throughout
    h = baskets([(0, 0, 0, 0.0, 1), (0, 1, 0, 5.0, 2), (0, 2, 0, 15.0, 1)], n_items=1)
    p = pair_history(h)
    assert p.ratio_cycle[0] == pytest.approx(5.0)
    assert p.observed_cv2[0] == pytest.approx(0.005)  # per-unit gaps 5 and 5: clockwork


def test_probability_is_conditional_on_the_time_elapsed() -> None:
    rows = [r for c in range(50) for r in regular(c, 0, 10.0, 15)]
    p = pair_history(baskets(rows, n_items=1))
    model = RhythmModel().fit(p, n_items=1)
    last = p.last_day[0]
    early = model.estimate(p, as_of_day=last + 2, horizon_days=3.0).probability[0]
    due = model.estimate(p, as_of_day=last + 9, horizon_days=3.0).probability[0]
    assert early < 0.05  # 2 days after a 10-day cycle, nobody buys within 3 days
    assert due > 0.9  # 9 days after, the next purchase is due within 3
    assert model.estimate(p, last + 9, 0.0).probability[0] == 0.0


def test_forecast_interval_brackets_the_cycle_and_never_lies_in_the_past() -> None:
    rows = [r for c in range(50) for r in regular(c, c % 3, 6.0 + c % 4, 9)]
    p = pair_history(baskets(rows))
    est = RhythmModel().fit(p).estimate(p, as_of_day=200.0, horizon_days=7.0)  # long overdue
    f = forecast(est)
    assert np.all(f.cycle_p10 < est.cycle_days) and np.all(est.cycle_days < f.cycle_p90)
    assert np.all(f.expected_next_day >= 200.0)
    assert np.all(est.days_overdue > 0)
    rows_only = forecast(est, np.array([3, 1]))
    assert rows_only.cycle_p10 == pytest.approx(f.cycle_p10[[3, 1]])


def test_customer_regularity_weighs_staples_and_falls_back_to_the_prior() -> None:
    """Customer 0: a clockwork staple (12 days) and an erratic one (4 days); customer 1 buys
    one product twice; customer 2 once. Only products bought on >= 3 days show a spread."""
    erratic = [(0, 20 + b, 1, d, 1.0) for b, d in enumerate((1.0, 3.0, 30.0, 34.0))]
    rows = regular(0, 0, 7.0, 12) + erratic + regular(1, 0, 7.0, 2) + [(2, 0, 2, 5.0, 1.0)]
    rows += [r for c in range(3, 40) for r in regular(c, 0, 7.0, 6)]  # a population
    p = pair_history(baskets(rows))
    model = RhythmModel().fit(p, n_items=3)
    est = model.estimate(p, as_of_day=90.0, horizon_days=7.0)
    r = customer_rhythms(p, est, next_purchase_day(est), 40, 90.0, 14.0, model.prior_regularity_)
    mine = np.flatnonzero(p.customer == 0)
    weights = p.n_days[mine].astype(float)
    assert r.regularity[0] == pytest.approx(np.average(est.regularity[mine], weights=weights))
    steady, wobbly = est.regularity[mine]
    assert steady > r.regularity[0] > wobbly  # the staple bought 12 times counts most
    assert (r.products[0], r.regular_products[0]) == (2, 2)
    assert (r.products[1], r.regular_products[1]) == (1, 0)  # two purchases: no spread yet
    assert (r.products[2], r.regular_products[2]) == (0, 0)
    prior = model.prior_regularity_
    assert 0 < prior < 1 and r.regularity[1] == r.regularity[2] == prior  # not 0
    assert np.isnan(r.next_due_day[2]) and np.isfinite(r.next_due_day[0])


def test_next_purchase_day_is_the_forecasts() -> None:
    rows = [r for c in range(10) for r in regular(c, 0, 5.0 + c, 8)]
    p = pair_history(baskets(rows, n_items=1))
    est = RhythmModel().fit(p, n_items=1).estimate(p, as_of_day=80.0, horizon_days=7.0)
    some = np.array([1, 4, 7])
    assert np.array_equal(next_purchase_day(est), forecast(est).expected_next_day)
    assert np.array_equal(next_purchase_day(est, some), forecast(est, some).expected_next_day)


def test_unfitted_model_refuses_to_estimate() -> None:
    p = pair_history(baskets(regular(0, 0, 5.0, 3), n_items=1))
    with pytest.raises(NotFittedError):
        RhythmModel().estimate(p, 20.0, 7.0)


def test_regroup_merges_the_items_of_a_group_within_a_basket() -> None:
    # items 0 and 1 are one category (0), item 2 another (1); item 2 has no category below
    h = baskets([(0, 0, 0, 1.0, 1), (0, 0, 1, 1.0, 2), (0, 1, 1, 5.0, 1), (1, 0, 2, 2.0, 3)])
    by_group = h.regroup(np.array([0, 0, 1]), 2)
    assert by_group.n_items == 2
    rows = sorted(
        zip(by_group.customer.tolist(), by_group.basket.tolist(), by_group.item.tolist(),
            by_group.unit_counts().tolist(), strict=True)
    )  # fmt: skip
    assert rows == [(0, 0, 0, 3.0), (0, 1, 0, 1.0), (1, 0, 1, 3.0)]
    dropped = h.regroup(np.array([0, 0, -1]), 1)
    assert dropped.customer.tolist() == [0, 0]


def test_returns_come_off_the_purchase_they_undo() -> None:
    # milk: 2 units on day 0, 1 returned on day 2, 1 unit on day 10; eggs bought and returned
    h = baskets([(0, 0, 0, 0.2, 2), (0, 1, 1, 5.0, 1), (0, 2, 0, 10.3, 1)])
    net = h.net_returns(
        customer=np.array([0, 0, 0]), item=np.array([0, 1, 2]),
        day=np.array([2.5, 5.5, 1.0]), units=np.array([1.0, 1.0, 3.0]),
    )  # fmt: skip
    assert net.item.tolist() == [0, 0]  # the eggs' only basket is gone; item 2 never bought
    assert net.unit_counts().tolist() == [1.0, 1.0]
    assert net.basket.tolist() == [0, 1]  # renumbered: no empty basket in between
    p = pair_history(net)
    assert p.ratio_cycle[0] == pytest.approx(10.0)  # one kept unit lasted 10 days, not 5


def _net_by_loops(h: Baskets, c: list[int], i: list[int], d: list[float], u: list[float]) -> list:
    """net_returns spelled out: each return, in order, off the latest purchase of its pair on
    or before its day, the later row of purchases at the same time."""
    net = h.unit_counts().copy()
    for rc, ri, rd, ru in zip(c, i, d, u, strict=True):
        rows = [r for r in range(len(net))
                if h.customer[r] == rc and h.item[r] == ri and h.day[r] <= rd]  # fmt: skip
        if rows:
            latest = max(h.day[r] for r in rows)
            net[max(r for r in rows if h.day[r] == latest)] -= ru
    keep = net > 1e-9
    return sorted(zip(h.customer[keep].tolist(), h.item[keep].tolist(), h.day[keep].tolist(),
                      net[keep].tolist(), strict=True))  # fmt: skip


@pytest.mark.parametrize("seed", range(8))
def test_returns_match_the_loop_definition(seed: int) -> None:
    """Random histories with same-time purchases of one pair in two baskets, returns on a
    purchase's very day, before any purchase and of pairs never bought."""
    rng = np.random.default_rng(seed)
    rows = []
    for cust in range(6):
        days = np.sort(rng.choice([0.0, 1.5, 1.5, 3.0, 4.25, 7.0], size=5))
        for b, day in enumerate(days):
            for it in rng.choice(4, size=int(rng.integers(1, 4)), replace=False):
                rows.append((cust, b, int(it), float(day), float(rng.integers(1, 4))))
    h = baskets(rows, n_items=4)
    k = 25
    c, i = rng.integers(0, 6, k).tolist(), rng.integers(0, 4, k).tolist()
    d = rng.choice([-1.0, 0.0, 1.5, 2.0, 4.25, 9.0], size=k).tolist()
    u = rng.integers(1, 3, k).astype(float).tolist()
    net = h.net_returns(np.array(c), np.array(i), np.array(d), np.array(u))
    got = sorted(zip(net.customer.tolist(), net.item.tolist(), net.day.tolist(),
                     net.unit_counts().tolist(), strict=True))  # fmt: skip
    assert got == _net_by_loops(h, c, i, d, u)
    assert got != sorted(zip(h.customer.tolist(), h.item.tolist(), h.day.tolist(),
                             h.unit_counts().tolist(), strict=True))  # fmt: skip


def test_priors_follow_items_into_a_new_coding() -> None:
    """Items 0 (every 7 days) and 1 (every 30) swap codes and a new item 2 arrives: the
    priors follow the items, the newcomer takes the global prior."""
    rows = [r for c in range(10) for r in regular(c, 0, 7.0, 8)]
    rows += [r for c in range(10, 20) for r in regular(c, 1, 30.0, 8)]
    model = RhythmModel().fit(pair_history(baskets(rows, n_items=2)), n_items=2)
    moved = model.with_items(np.array([1, 0, -1]))
    assert moved.item_log_cycle_[0] == model.item_log_cycle_[1]
    assert moved.item_log_cycle_[1] == model.item_log_cycle_[0]
    assert moved.item_log_cycle_[2] == model.global_log_cycle_ and moved.item_pairs_[2] == 0
    assert model.item_log_cycle_.size == 2  # the fitted model is left as it was
