"""What ends up in a basket besides repeat purchases: impulse and seasonal items, returns;
and when, where and through which channel each order happens."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from omnix.generate.archetypes import CHANNELS, Cohort, Stores, profile_array
from omnix.generate.catalog import Catalog
from omnix.generate.habits import Pairs, Trips
from omnix.generate.seasons import Calendar

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

_IMPULSE_FLATTEN = 0.7  # popularity ** this: a longer tail than repeat purchases
_IMPULSE_EXTRA_UNIT = 0.08
_REDRAWS = 8
# Chance an impulse line is a seasonal product, by month (1..12).
_SEASONAL_SHARE = np.array([0, 0, 0, 0.04, 0.04, 0.03, 0.03, 0.03, 0.03, 0, 0.03, 0.06, 0.12])
_RETURN_DELAY_DAYS = 14  # returns come back on a trip 1..14 days after the purchase
_FULL_RETURN = 0.7  # otherwise one unit comes back
_STAY_ON_CHANNEL = 0.9
_STORE_HOURS = np.array([0.3, 0.6, 1.0, 1.3, 1.4, 1.3, 1.1, 1.0, 1.1, 1.4, 1.6, 1.5, 1.0, 0.6, 0.3])
_ONLINE_HOURS = np.array(
    [0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.0, 0.9, 0.9, 1.0, 1.2, 1.5, 1.7, 1.6, 1.2, 0.7]
)
_FIRST_HOUR = 6  # UTC; the last hour keeps every order on its own calendar day
_US_PER_HOUR = 3_600_000_000
US_PER_DAY = 24 * _US_PER_HOUR


@dataclass(frozen=True, slots=True)
class Basket:
    """Lines that are not repeat purchases: trip index, product, units (float)."""

    trip: I64
    product: I64
    units: F64


def _seasonal(catalog: Catalog) -> Mask:
    seasonal: Mask = ~np.asarray(catalog.on_sale.all(axis=1), dtype=np.bool_)
    return seasonal


def _draw_products(day: I64, catalog: Catalog, cal: Calendar, rng: np.random.Generator) -> I64:
    seasonal = _seasonal(catalog)
    weight = catalog.popularity**_IMPULSE_FLATTEN * ~seasonal
    cdf = np.cumsum(weight if weight.sum() > 0 else np.ones(catalog.size))
    u = rng.random(day.size) * cdf[-1]
    product = np.minimum(np.searchsorted(cdf, u, side="right"), catalog.size - 1)
    month = cal.month[day]
    in_season = rng.random(day.size) < _SEASONAL_SHARE[month]
    for m in np.unique(month[in_season]).tolist():
        offer = np.flatnonzero(seasonal & catalog.on_sale[:, m - 1])
        rows = np.flatnonzero(in_season & (month == m))
        if offer.size:
            product[rows] = offer[rng.integers(0, offer.size, rows.size)]
    chosen: I64 = product.astype(np.int64)
    return chosen


def _repertoire_clash(customer: I64, product: I64, pairs: Pairs, n_products: int) -> Mask:
    """Whether each (customer, product) is in the repertoire."""
    key = customer * n_products + product
    if pairs.size == 0:
        return np.zeros(key.size, dtype=np.bool_)
    taken = np.sort(pairs.customer * n_products + pairs.product)
    at = np.minimum(np.searchsorted(taken, key), taken.size - 1)
    clash: Mask = taken[at] == key
    return clash


def draw_impulse(
    cohort: Cohort,
    trips: Trips,
    planned: I64,
    pairs: Pairs,
    catalog: Catalog,
    cal: Calendar,
    rng: np.random.Generator,
) -> Basket:
    """Unplanned lines; never a product of the customer's own repertoire, so the truth's
    purchase counts stay exact. Trips without a planned purchase get at least one line.

    planned: number of repeat purchases on each trip.
    """
    arch = cohort.archetype[trips.customer]
    count = rng.poisson(profile_array("impulse")[arch] * cal.basket[trips.day])
    count = np.where((count == 0) & (planned == 0), 1, count)
    trip = np.repeat(np.arange(trips.day.size), count)
    day, customer = trips.day[trip], trips.customer[trip]
    product = _draw_products(day, catalog, cal, rng)
    clash = _repertoire_clash(customer, product, pairs, catalog.size)
    for _ in range(_REDRAWS):
        if not clash.any():
            break
        product[clash] = _draw_products(day[clash], catalog, cal, rng)
        clash = _repertoire_clash(customer, product, pairs, catalog.size)
    _, first = np.unique(trip * catalog.size + product, return_index=True)
    keep = first[~clash[first]]
    trip, product = trip[keep], product[keep]
    arch = cohort.archetype[trips.customer[trip]]
    units = 1 + (rng.random(keep.size) < _IMPULSE_EXTRA_UNIT).astype(np.int64)
    promo = cal.discount[product, trips.day[trip]] > 0
    units += np.where(promo, rng.poisson(profile_array("promo_units")[arch]), 0)
    return Basket(trip, product, units.astype(np.float64))


def draw_returns(
    trips: Trips, trip: I64, product: I64, units: F64, rate: float, rng: np.random.Generator
) -> tuple[I64, I64, F64, I64]:
    """Some purchase lines come back on a later trip of the same customer.

    Returns (trip, product, negative units, index of the purchase line returned).
    """
    source = np.flatnonzero(rng.random(trip.size) < rate)
    customer = trips.customer[trip[source]]
    later = trips.day[trip[source]] + rng.integers(1, _RETURN_DELAY_DAYS + 1, source.size)
    day = trips.next(customer, later)
    ok = day < trips.width - 1
    source, customer, day = source[ok], customer[ok], day[ok]
    bought = units[source]
    back = np.where(rng.random(source.size) < _FULL_RETURN, bought, np.minimum(bought, 1.0))
    return trips.index(customer, day), product[source], -back, source


@dataclass(frozen=True, slots=True)
class Orders:
    """Per trip: timestamp (microseconds since the epoch, UTC), channel and store."""

    ts_us: I64
    channel: I64
    store: I64


def _hours(weights: F64, n: int, rng: np.random.Generator) -> I64:
    cdf = np.cumsum(weights) / weights.sum()
    return _FIRST_HOUR + np.minimum(np.searchsorted(cdf, rng.random(n)), weights.size - 1)


def draw_orders(
    cohort: Cohort, trips: Trips, stores: Stores, cal: Calendar, rng: np.random.Generator
) -> Orders:
    n = trips.day.size
    home = cohort.channel[trips.customer]
    other = (home + rng.integers(1, len(CHANNELS), n)) % len(CHANNELS)
    channel = np.where(rng.random(n) < _STAY_ON_CHANNEL, home, other)
    in_store = channel == CHANNELS.index("store")
    home_store = cohort.store[trips.customer]
    store = np.where(in_store, home_store, stores.web[home_store])
    hour = np.where(in_store, _hours(_STORE_HOURS, n, rng), _hours(_ONLINE_HOURS, n, rng))
    within = rng.integers(0, _US_PER_HOUR, n)
    ts = (cal.epoch_day + trips.day) * US_PER_DAY + hour * _US_PER_HOUR + within
    return Orders(ts.astype(np.int64), channel.astype(np.int64), store.astype(np.int64))
