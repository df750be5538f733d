"""Simulate customers chunk by chunk and turn each chunk into Arrow record batches.

Random streams: the catalog, the calendar, the stores and every chunk draw from their
own generator seeded by ``(seed, stream[, chunk])``, so a config always gives the same data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from omnix.domain.contract import (
    BRAND,
    CATEGORY,
    CHANNEL,
    COUNTRY,
    CURRENCY,
    CUSTOMER_ID,
    FIRST_SEEN,
    ORDER_ID,
    PRODUCT_ID,
    PRODUCT_NAME,
    QUANTITY,
    REGION,
    STORE_ID,
    TS,
    UNIT_PRICE,
)
from omnix.domain.errors import ConfigError
from omnix.generate import tables as t
from omnix.generate.archetypes import (
    ARCHETYPES,
    CHANNELS,
    Cohort,
    Stores,
    build_stores,
    draw_cohort,
)
from omnix.generate.baskets import Orders, draw_impulse, draw_orders, draw_returns
from omnix.generate.catalog import Catalog, build_catalog
from omnix.generate.config import GeneratorConfig
from omnix.generate.habits import Pairs, Purchases, Trips, draw_repertoire, draw_trips, run_clocks
from omnix.generate.seasons import Calendar, build_calendar
from omnix.generate.templates import TIER_NAMES

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

FIRST_ORDER_NUMBER = 10_000_000


@dataclass(frozen=True, slots=True)
class World:
    """What every chunk shares: the catalog, the calendar and the stores."""

    config: GeneratorConfig
    catalog: Catalog
    calendar: Calendar
    stores: Stores


def build_world(config: GeneratorConfig) -> World:
    catalog = build_catalog(config.n_products, np.random.default_rng([config.seed, 0]))
    calendar = build_calendar(
        config.start, config.days, catalog, np.random.default_rng([config.seed, 1])
    )
    if not calendar.is_open.any():
        raise ConfigError(
            f"the history ({config.start}, {config.days} days) has no open shopping day"
        )
    stores = build_stores(config.n_stores, np.random.default_rng([config.seed, 2]))
    return World(config, catalog, calendar, stores)


@dataclass(frozen=True, slots=True)
class Chunk:
    lines: pa.RecordBatch
    truth: pa.RecordBatch
    customers: pa.RecordBatch
    orders: int


@dataclass(frozen=True, slots=True)
class _Lines:
    trip: I64
    product: I64
    units: F64
    price: F64
    is_return: npt.NDArray[np.bool_]


def _lines(
    world: World,
    cohort: Cohort,
    trips: Trips,
    pairs: Pairs,
    bought: Purchases,
    rng: np.random.Generator,
) -> _Lines:
    cat, cal = world.catalog, world.calendar
    planned_trip = trips.index(pairs.customer[bought.pair], bought.day)
    planned = np.bincount(planned_trip, minlength=trips.day.size)
    extra = draw_impulse(cohort, trips, planned, pairs, cat, cal, rng)
    trip = np.concatenate([planned_trip, extra.trip])
    product = np.concatenate([pairs.product[bought.pair], extra.product])
    units = np.concatenate([bought.units.astype(np.float64), extra.units])
    price = cal.price(cat, product, trips.day[trip])
    r_trip, r_product, r_units, source = draw_returns(
        trips, trip, product, units, world.config.return_rate, rng
    )
    return _Lines(
        trip=np.concatenate([trip, r_trip]),
        product=np.concatenate([product, r_product]),
        units=np.concatenate([units, r_units]),
        price=np.concatenate([price, price[source]]),
        is_return=np.concatenate([np.zeros(trip.size, np.bool_), np.ones(r_trip.size, np.bool_)]),
    )


def _order_numbers(trips: Trips, orders: Orders, used: npt.NDArray[np.bool_], offset: int) -> I64:
    """Order number per trip (-1 if the trip has no line), increasing with time."""
    trip = np.flatnonzero(used)
    by_time = trip[np.lexsort((trips.customer[trip], orders.ts_us[trip]))]
    number = np.full(used.size, -1, dtype=np.int64)
    number[by_time] = offset + np.arange(by_time.size)
    return number


def _customer_ids(world: World, cohort: Cohort) -> pa.Array:
    width = max(6, len(str(world.config.customers)))
    first = cohort.first + 1
    return pa.array([f"C{g:0{width}d}" for g in range(first, first + cohort.size)], pa.string())


def _timestamps(us: I64) -> pa.Array:
    return pa.array(us, type=pa.timestamp("us", tz="UTC"))


def _transactions(
    world: World, ids: pa.Array, trips: Trips, orders: Orders, number: I64, lines: _Lines
) -> pa.RecordBatch:
    """Lines in order-number order; within an order by aisle (products are numbered in
    aisle order), returns last."""
    cat = world.catalog
    key = (number[lines.trip] * 2 + lines.is_return) * cat.size + lines.product
    order = np.argsort(key, kind="stable")
    trip, product = lines.trip[order], lines.product[order]
    used = np.flatnonzero(number >= 0)
    order_ids = pa.array(FIRST_ORDER_NUMBER + number[used]).cast(pa.string())
    slot = np.cumsum(number >= 0)[trip] - 1  # rank of each line's order among used trips
    store_ids = pa.array(world.stores.store_id, pa.string())
    columns = {
        CUSTOMER_ID: ids.take(trips.customer[trip]),
        ORDER_ID: order_ids.take(slot),
        TS: _timestamps(orders.ts_us[trip]),
        PRODUCT_ID: cat.product_id.take(product),
        PRODUCT_NAME: cat.name.take(product),
        CATEGORY: cat.category.take(product),
        BRAND: cat.brand.take(product),
        QUANTITY: pa.array(lines.units[order]),
        UNIT_PRICE: pa.array(lines.price[order]),
        CURRENCY: pa.repeat(pa.scalar(world.config.currency, pa.string()), trip.size),
        STORE_ID: store_ids.take(orders.store[trip]),
        CHANNEL: pa.array(CHANNELS, pa.string()).take(orders.channel[trip]),
    }
    schema = t.transactions_schema()
    return pa.RecordBatch.from_arrays([columns[n] for n in schema.names], schema=schema)


def _first_trip(trips: Trips, used: npt.NDArray[np.bool_], n: int) -> I64:
    """Per customer, the first trip with a line (-1 if none)."""
    trip = np.flatnonzero(used)
    customer, at = np.unique(trips.customer[trip], return_index=True)
    first = np.full(n, -1, dtype=np.int64)
    first[customer] = trip[at]
    return first


def _customers(world: World, ids: pa.Array, cohort: Cohort, first_ts: I64) -> pa.RecordBatch:
    stores = world.stores
    home = cohort.store.tolist()
    columns = {
        CUSTOMER_ID: ids,
        FIRST_SEEN: pa.array(first_ts, type=pa.timestamp("us", tz="UTC"), mask=first_ts < 0),
        COUNTRY: pa.array([stores.country[s] for s in home], pa.string()),
        REGION: pa.array([stores.region[s] for s in home], pa.string()),
        STORE_ID: pa.array([stores.store_id[s] for s in home], pa.string()),
        CHANNEL: pa.array(CHANNELS, pa.string()).take(cohort.channel),
    }
    schema = t.customers_schema()
    return pa.RecordBatch.from_arrays([columns[n] for n in schema.names], schema=schema)


def _dates(world: World, day: I64, missing: npt.NDArray[np.bool_]) -> pa.Array:
    epoch = (world.calendar.epoch_day + day).astype(np.int32)
    return pa.array(epoch, mask=missing).view(pa.date32())


def _truth(
    world: World, ids: pa.Array, cohort: Cohort, first_day: I64, pairs: Pairs, bought: Purchases
) -> pa.RecordBatch:
    cat, c = world.catalog, pairs.customer
    count = np.bincount(bought.pair, minlength=pairs.size).astype(np.int64)
    units = np.bincount(bought.pair, bought.units, minlength=pairs.size).astype(np.float64)
    usual = pairs.base_units + pairs.extra_unit
    arch = pa.array([a.value for a in ARCHETYPES], pa.string())
    columns = {
        CUSTOMER_ID: ids.take(c),
        PRODUCT_ID: cat.product_id.take(pairs.product),
        CATEGORY: cat.category.take(pairs.product),
        t.ARCHETYPE: arch.take(cohort.archetype[c]),
        t.PRICE_TIER: pa.array(TIER_NAMES, pa.string()).take(cat.tier[pairs.product]),
        FIRST_SEEN: _dates(world, first_day[c], first_day[c] < 0),
        t.CHURN_DATE: _dates(world, cohort.end[c], ~cohort.churned[c]),
        t.CYCLE_DAYS: pa.array(pairs.cycle),
        t.REGULARITY: pa.array(np.clip(1.0 - 1.0 / np.sqrt(pairs.shape), 0.0, 1.0)),
        t.MEAN_QUANTITY: pa.array(np.where(count > 0, units / np.maximum(count, 1), usual)),
        t.N_PURCHASES: pa.array(count),
        t.N_UNITS: pa.array(units),
        t.GAMMA_SHAPE: pa.array(pairs.shape),
    }
    schema = t.truth_schema()
    return pa.RecordBatch.from_arrays([columns[n] for n in schema.names], schema=schema)


def simulate_chunk(world: World, index: int, first: int, n: int, order_offset: int) -> Chunk:
    """Customers `first` .. `first + n - 1`; their order numbers start at `order_offset`."""
    rng = np.random.default_rng([world.config.seed, 3, index])
    cal = world.calendar
    cohort = draw_cohort(first, n, world.config.new_customer_share, cal, world.stores, rng)
    trips = draw_trips(cohort, cal, rng)
    pairs = draw_repertoire(cohort, world.catalog, rng)
    bought = run_clocks(pairs, cohort, trips, cal, rng)
    lines = _lines(world, cohort, trips, pairs, bought, rng)
    orders = draw_orders(cohort, trips, world.stores, cal, rng)
    used = np.bincount(lines.trip, minlength=trips.day.size) > 0
    number = _order_numbers(trips, orders, used, order_offset)
    first_trip = _first_trip(trips, used, n)
    seen = first_trip >= 0
    first_day = np.where(seen, trips.day[first_trip], -1)
    first_ts = np.where(seen, orders.ts_us[first_trip], -1)
    ids = _customer_ids(world, cohort)
    return Chunk(
        lines=_transactions(world, ids, trips, orders, number, lines),
        truth=_truth(world, ids, cohort, first_day, pairs, bought),
        customers=_customers(world, ids, cohort, first_ts),
        orders=int(used.sum()),
    )


def iter_chunks(config: GeneratorConfig, world: World | None = None) -> Iterator[Chunk]:
    """Simulate all customers, `config.chunk_size` at a time, in customer order."""
    world = world or build_world(config)
    offset = 0
    for index, first in enumerate(range(0, config.customers, config.chunk_size)):
        n = min(config.chunk_size, config.customers - first)
        chunk = simulate_chunk(world, index, first, n, offset)
        offset += chunk.orders
        yield chunk


def iter_batches(config: GeneratorConfig) -> Iterator[pa.RecordBatch]:
    """The transaction lines, one record batch per customer chunk (bounded memory).

    Lines of an order are contiguous; orders are in time order within a batch.
    """
    for chunk in iter_chunks(config):
        yield chunk.lines
