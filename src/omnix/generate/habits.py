"""Shopping trips, repertoires and the consumption clocks behind repeat purchases.

Trips: a customer shops on day d (inside their active window [arrival, end)) with chance
``trips_per_week / 7 * weekday weight * holiday traffic``, the weekday weight favouring
Fridays, Saturdays and the customer's own preferred day. The arrival day is always a trip.

Consumption clock: each (customer, repertoire product) pair runs a renewal process in
continuous time t (days). After a purchase of q units at clock time t_k the next need
arises at ``t_{k+1} = t_k + q * cycle_days * G_k`` with ``G_k ~ Gamma(shape, 1 / shape)``
(mean 1, coefficient of variation 1 / sqrt(shape)). The purchase happens on the first trip
on or after ``floor(t_k)``; the clock itself is never moved by that snapping. Because every
purchase date is its clock time plus a bounded, identically distributed wait for the next
trip, gaps between purchase dates telescope: their mean equals the mean clock gap,
``mean_quantity * cycle_days``. If two needs fall before the same trip they become one
purchase of their summed units (a shopper who ran out twice buys two packs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from omnix.generate.archetypes import ARCHETYPES, PROFILES, Cohort, profile_array
from omnix.generate.catalog import KIND_BABY, KIND_PET, Catalog
from omnix.generate.seasons import WEEKDAY_WEIGHT, Calendar

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

_PREFERRED_DAY_BOOST = 2.0
_MAX_TRIP_CHANCE = 0.95
_MAX_BASE_UNITS = 8
_CYCLE_NOISE = 0.25  # lognormal sigma of a pair's cycle around the household's norm


@dataclass(frozen=True, slots=True)
class Trips:
    """Trip days of a cohort. Trip k is (customer[k], day[k]), sorted by customer, day."""

    width: int  # days + 1; column `days` of next_trip means "no trip left"
    next_trip: npt.NDArray[np.int32]  # (customers * width): first trip day >= d
    customer: I64
    day: I64

    def next(self, customer: I64, day: I64) -> I64:
        """First trip day on or after `day` (`width - 1` when there is none)."""
        col = np.minimum(day, self.width - 1)
        return self.next_trip[customer * self.width + col].astype(np.int64)

    def index(self, customer: I64, day: I64) -> I64:
        """Trip number of (customer, day) pairs that are trips."""
        return np.searchsorted(self.customer * self.width + self.day, customer * self.width + day)


def draw_trips(cohort: Cohort, cal: Calendar, rng: np.random.Generator) -> Trips:
    n, days = cohort.size, cal.days
    boost = 1.0 + _PREFERRED_DAY_BOOST * (cal.weekday[None, :] == cohort.weekday[:, None])
    week_mean = (7.0 + _PREFERRED_DAY_BOOST * WEEKDAY_WEIGHT[cohort.weekday]) / 7.0
    chance = WEEKDAY_WEIGHT[cal.weekday][None, :] * boost / week_mean[:, None]
    chance *= (cohort.trips / 7.0)[:, None] * cal.traffic[None, :]
    np.minimum(chance, _MAX_TRIP_CHANCE, out=chance)
    day = np.arange(days)
    active = (day[None, :] >= cohort.arrival[:, None]) & (day[None, :] < cohort.end[:, None])
    trip = (rng.random((n, days)) < chance) & active
    trip[np.arange(n), cohort.arrival] = True
    ahead = np.where(trip, day[None, :], days).astype(np.int32)
    ahead = np.minimum.accumulate(ahead[:, ::-1], axis=1)[:, ::-1]
    next_trip = np.concatenate([ahead, np.full((n, 1), days, np.int32)], axis=1)
    rows, cols = np.nonzero(trip)
    return Trips(days + 1, next_trip.ravel(), rows.astype(np.int64), cols.astype(np.int64))


@dataclass(frozen=True, slots=True)
class Pairs:
    """Repertoire: one row per (customer, product) bought regularly."""

    customer: I64
    product: I64
    cycle: F64  # true mean days one unit lasts
    shape: F64  # gamma shape of the consumption intervals
    base_units: I64  # usual units per purchase
    extra_unit: F64  # chance of one unit more
    promo_units: F64  # mean extra units (Poisson) when on promotion

    @property
    def size(self) -> int:
        return len(self.customer)

    @property
    def mean_units(self) -> F64:
        """Expected units of a purchase at list price."""
        return self.base_units + self.extra_unit


def _first_unique(cand: I64, keep: I64) -> npt.NDArray[np.bool_]:
    """Per row, mark the first `keep[row]` distinct values, in draw order."""
    order = np.argsort(cand, axis=1, kind="stable")
    ranked = np.take_along_axis(cand, order, axis=1)
    dup = np.zeros(cand.shape, dtype=np.bool_)
    np.put_along_axis(dup, order[:, 1:], ranked[:, 1:] == ranked[:, :-1], axis=1)
    valid = ~dup
    return valid & (np.cumsum(valid, axis=1) <= keep[:, None])


def _choose_products(cohort: Cohort, catalog: Catalog, rng: np.random.Generator) -> tuple[I64, I64]:
    """Repertoire (customer, product) rows: weighted by popularity, tier taste, household."""
    lo, hi = (np.array([PROFILES[a].repertoire[k] for a in ARCHETYPES]) for k in (0, 1))
    want = rng.integers(lo[cohort.archetype], hi[cohort.archetype] + 1)
    group = cohort.archetype * 4 + cohort.baby * 2 + cohort.pet
    customers, products = [], []
    for g in np.unique(group).tolist():
        members = np.flatnonzero(group == g)
        taste = np.array(PROFILES[ARCHETYPES[g // 4]].tier_affinity)[catalog.tier]
        allowed = catalog.repertoire_ok & ((catalog.kind != KIND_BABY) | bool(g & 2))
        allowed &= (catalog.kind != KIND_PET) | bool(g & 1)
        cdf = np.cumsum(catalog.popularity * taste * allowed)
        draws = 3 * int(want[members].max()) + 5
        u = rng.random((members.size, draws)) * cdf[-1]
        cand = np.minimum(np.searchsorted(cdf, u, side="right"), catalog.size - 1)
        rows, cols = np.nonzero(_first_unique(cand, want[members]))
        customers.append(members[rows])
        products.append(cand[rows, cols])
    customer, product = np.concatenate(customers), np.concatenate(products)
    order = np.lexsort((product, customer))
    return customer[order].astype(np.int64), product[order].astype(np.int64)


def draw_repertoire(cohort: Cohort, catalog: Catalog, rng: np.random.Generator) -> Pairs:
    customer, product = _choose_products(cohort, catalog, rng)
    arch = cohort.archetype[customer]
    n = customer.size
    cycle = catalog.cycle[product] * cohort.household[customer] * profile_array("cycle_factor")[arch]
    cycle = np.clip(cycle * rng.lognormal(0.0, _CYCLE_NOISE, n), 1.0, 400.0)
    lo, hi = (np.array([PROFILES[a].shape[k] for a in ARCHETYPES]) for k in (0, 1))
    shape = np.exp(rng.uniform(np.log(lo[arch]), np.log(hi[arch])))
    spacing = 7.0 / cohort.trips[customer]
    units = np.clip(np.rint(spacing / cycle), 1, _MAX_BASE_UNITS).astype(np.int64)
    units = np.maximum(units, profile_array("min_units")[arch].astype(np.int64))
    return Pairs(
        customer=customer,
        product=product,
        cycle=cycle,
        shape=shape,
        base_units=units,
        extra_unit=profile_array("extra_unit")[arch],
        promo_units=profile_array("promo_units")[arch],
    )


@dataclass(frozen=True, slots=True)
class Purchases:
    """Repeat purchases, sorted by pair then day; at most one per pair and day."""

    pair: I64
    day: I64
    units: I64


def run_clocks(
    pairs: Pairs, cohort: Cohort, trips: Trips, cal: Calendar, rng: np.random.Generator
) -> Purchases:
    """Advance every pair's consumption clock to the end of its customer's window."""
    idx = np.arange(pairs.size)
    t = cohort.arrival[pairs.customer].astype(np.float64)
    t += rng.random(pairs.size) * pairs.mean_units * pairs.cycle  # stationary phase
    out_pair, out_day, out_units = [], [], []
    while idx.size:
        day = trips.next(pairs.customer[idx], t.astype(np.int64))
        alive = day < trips.width - 1
        idx, t, day = idx[alive], t[alive], day[alive]
        units = pairs.base_units[idx] + (rng.random(idx.size) < pairs.extra_unit[idx])
        promo = cal.discount[pairs.product[idx], day] > 0
        units += np.where(promo, rng.poisson(pairs.promo_units[idx]), 0)
        out_pair.append(idx)
        out_day.append(day)
        out_units.append(units)
        t += units * pairs.cycle[idx] * rng.gamma(pairs.shape[idx]) / pairs.shape[idx]
    return _merge_same_day(np.concatenate(out_pair), np.concatenate(out_day), np.concatenate(out_units))


def _merge_same_day(pair: I64, day: I64, units: I64) -> Purchases:
    order = np.argsort(pair, kind="stable")  # keeps each pair's steps in clock order
    pair, day, units = pair[order], day[order], units[order]
    start = np.ones(pair.size, dtype=np.bool_)
    start[1:] = (pair[1:] != pair[:-1]) | (day[1:] != day[:-1])
    first = np.flatnonzero(start)
    summed = np.add.reduceat(units, first) if first.size else units
    return Purchases(pair[first], day[first], summed.astype(np.int64))
