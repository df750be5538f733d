"""The fast candidate helpers give exactly what the plain NumPy versions they replaced gave,
on random rows full of ties, zeros, NaN and infinities."""

from __future__ import annotations

import numpy as np
import pytest

from omnix.models import ranks
from omnix.models.ranks import rank_in_runs, rank_within
from omnix.models.recommend.candidates import (
    Scored,
    by_pair,
    distinct,
    lookup,
    scored,
    top_in_runs,
    top_per_customer,
)

SEEDS = range(40)


def reference_top(rows: Scored, n: int) -> Scored:
    """top_per_customer as it was: a 3-key lexsort, then a 2-key one."""
    rows = rows.take(np.flatnonzero(rows.score > 0))
    order = np.lexsort((rows.item, -rows.score, rows.customer))
    c = rows.customer[order]
    rank = np.arange(c.size) - np.searchsorted(c, c, side="left")
    chosen = order[rank < n]
    return rows.take(chosen[np.lexsort((rows.item[chosen], rows.customer[chosen]))])


def reference_lookup(rows: Scored, customer: np.ndarray, item: np.ndarray, n: int) -> np.ndarray:
    key = rows.customer * n + rows.item
    want = customer * n + item
    if key.size == 0:
        return np.full(want.size, -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(key, want), key.size - 1)
    return np.where(key[pos] == want, pos, -1).astype(np.int64)


def tied_scores(rng: np.random.Generator, size: int, seed: int) -> np.ndarray:
    if seed % 2:
        return rng.choice([0.0, -1.0, 0.125, 0.25, 0.5, 1.0, np.nan, np.inf], size)
    return np.round(rng.random(size) - 0.1, 2)


def random_rows(seed: int, distinct: bool) -> Scored:
    rng = np.random.default_rng(seed)
    m = int(rng.integers(0, 1500))
    c, i = rng.integers(0, int(rng.integers(1, 60)), m), rng.integers(0, 40, m)
    if distinct:
        c, i = np.unique(np.c_[c, i], axis=0).T
    ev = rng.integers(-1, 40, c.size)
    return Scored(c.astype(np.int64), i.astype(np.int64), tied_scores(rng, c.size, seed), ev)


def assert_same(a: Scored, b: Scored) -> None:
    for name in ("customer", "item", "score", "evidence"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("seed", SEEDS)
def test_top_per_customer_equals_the_lexsort_version(seed: int) -> None:
    sorted_rows = random_rows(seed, distinct=True)  # the fast path
    assert by_pair(sorted_rows)
    duplicated = random_rows(seed, distinct=False)
    for rows in (sorted_rows, duplicated, scored(*(getattr(duplicated, f) for f in (
            "customer", "item", "score", "evidence")))):  # fmt: skip
        for n in (0, 1, 2, 5, 20, 2000):
            assert_same(top_per_customer(rows, n), reference_top(rows, n))


@pytest.mark.parametrize("seed", SEEDS)
def test_ranks_within_runs_and_the_lexsort_agree(seed: int) -> None:
    rows = random_rows(seed, distinct=True)
    lexsort = ranks._rank_by_lexsort(rows.customer, rows.score, None)
    np.testing.assert_array_equal(rank_in_runs(rows.customer, rows.score), lexsort)
    # rank_within takes the runs for rows sorted by customer (and by the tie within one)
    np.testing.assert_array_equal(rank_within(rows.customer, rows.score), lexsort)
    np.testing.assert_array_equal(rank_within(rows.customer, rows.score, rows.item), lexsort)
    # and the lexsort when they are not: shuffled rows, or a tie that runs against row order
    shuffle = np.random.default_rng(seed).permutation(rows.customer.size)
    np.testing.assert_array_equal(
        rank_within(rows.customer[shuffle], rows.score[shuffle], rows.item[shuffle]),
        lexsort[shuffle],
    )
    np.testing.assert_array_equal(
        rank_within(rows.customer, rows.score, -rows.item),
        ranks._rank_by_lexsort(rows.customer, rows.score, -rows.item),
    )
    for n in (1, 3, 20):
        assert_same(top_per_customer(rows, n), reference_top(rows, n))


@pytest.mark.parametrize("seed", SEEDS)
def test_ranks_in_padded_blocks_equal_the_lexsort(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rank_in_runs sorts padded blocks of runs: the same ranks as the lexsort with ties,
    -0.0, +-inf and NaN (the padding is NaN, after a run's own NaNs), whole blocks and
    blocks of one run."""
    rows = random_rows(seed, distinct=True)
    finite = np.where(np.isnan(rows.score), -np.inf, rows.score)
    finite[::7] = -0.0
    for cells in (ranks._CELLS, 64, 1):
        monkeypatch.setattr(ranks, "_CELLS", cells)
        for value in (finite, rows.score):
            np.testing.assert_array_equal(
                rank_in_runs(rows.customer, value),
                ranks._rank_by_lexsort(rows.customer, value, None),
            )


def test_top_in_runs_keeps_the_earlier_row_of_a_tie() -> None:
    group = np.array([7, 7, 7, 7, 9, 9])
    value = np.array([0.5, 0.9, 0.5, 0.5, 0.1, 0.2])
    np.testing.assert_array_equal(top_in_runs(group, value, 2), [0, 1, 4, 5])
    np.testing.assert_array_equal(rank_in_runs(group, value), [1, 0, 2, 3, 1, 0])


@pytest.mark.parametrize("seed", SEEDS)
def test_top_n_within_runs_picks_what_sorting_every_run_picks(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The padded-block selection against the first n of each run in sorted order: ties,
    -0.0 against 0.0, infinities like the padding, NaN (the sorting path), runs just longer
    than n and many times longer, blocks of one run and blocks cut mid-width."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 12))
    length = rng.integers(n + 1, n + 2 + int(rng.integers(1, 90)), size=int(rng.integers(1, 60)))
    start = np.cumsum(length) - length
    values = [
        rng.integers(0, 4, int(length.sum())).astype(np.float64),
        rng.choice([-np.inf, np.inf, 0.0, -0.0, 1.0], int(length.sum())),
        np.where(rng.random(int(length.sum())) < 0.1, np.nan, rng.normal(size=int(length.sum()))),
    ]
    for cells in (ranks._CELLS, 64, 1):
        monkeypatch.setattr(ranks, "_CELLS", cells)
        for value in values:
            run = np.repeat(np.arange(start.size), length)
            order = np.lexsort((-value, run))  # NaN last, ties in row order
            np.testing.assert_array_equal(ranks.by_value_within_runs(start, length, value), order)
            first_n = order[np.arange(value.size) - np.repeat(start, length) < n]
            got = ranks.top_n_within_runs(start, length, value, n)
            np.testing.assert_array_equal(got, np.sort(first_n))
            assert np.all(np.bincount(np.searchsorted(start, got, side="right") - 1) == n)


@pytest.mark.parametrize("seed", SEEDS)
def test_lookup_searches_only_the_asked_customers_range(seed: int) -> None:
    rows = random_rows(seed, distinct=True)
    rng = np.random.default_rng(seed)
    customer, item = rng.integers(0, 65, 300), rng.integers(0, 40, 300)
    np.testing.assert_array_equal(
        lookup(rows, customer, item, 40), reference_lookup(rows, customer, item, 40)
    )
    chunk = np.sort(customer[:50])
    np.testing.assert_array_equal(
        lookup(rows, chunk, item[:50], 40), reference_lookup(rows, chunk, item[:50], 40)
    )
    assert lookup(rows, customer[:0], item[:0], 40).size == 0


@pytest.mark.parametrize("seed", SEEDS)
def test_distinct_equals_np_unique(seed: int) -> None:
    rng = np.random.default_rng(seed)
    keys = rng.integers(-5, int(rng.integers(1, 10_000)), int(rng.integers(0, 3000)))
    got = distinct(keys)
    assert got.dtype == np.unique(keys).dtype
    np.testing.assert_array_equal(got, np.unique(keys))
