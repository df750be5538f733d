"""The shop calendar: opening days, weekday and holiday seasonality, promotions, prices.

Days are numbered 0..days-1 from `GeneratorConfig.start`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from omnix.generate.catalog import Catalog

# Monday .. Sunday; mean 1. Fridays and Saturdays are busy, most stores close on Sunday.
WEEKDAY_WEIGHT = np.array([0.9, 0.9, 0.95, 1.05, 1.3, 1.45, 0.45])
CLOSED = ((12, 25), (1, 1))
INFLATION_PER_YEAR = 0.025
_PROMO_START = 0.02  # chance a product starts a promotion in a given week
_PROMO_LONG = 0.3  # share of promotions that run two weeks instead of one
_DISCOUNTS = np.array([0.10, 0.15, 0.20, 0.25, 0.30, 0.33, 0.40])
_DISCOUNT_P = np.array([0.15, 0.2, 0.25, 0.15, 0.12, 0.08, 0.05])

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Calendar:
    days: int
    epoch_day: int  # `start` as days since 1970-01-01
    weekday: I64  # 0 = Monday
    month: I64  # 1..12
    is_open: npt.NDArray[np.bool_]
    traffic: F64  # multiplies the chance of a shopping trip (December peak)
    basket: F64  # multiplies impulse buying
    discount: npt.NDArray[np.float32]  # (products, days): promotional discount, 0 = none

    def price(self, catalog: Catalog, product: I64, day: I64) -> F64:
        """Shelf price paid on `day`: list price, inflation, promotion; in cents."""
        index = 1.0 + INFLATION_PER_YEAR * day / 365.0
        paid: F64 = catalog.list_price[product] * index * (1.0 - self.discount[product, day])
        return np.round(paid, 2)


def _dates(start: datetime.date, days: int) -> tuple[I64, I64, I64]:
    """Month, day of month and weekday of each day of the history."""
    first = np.datetime64(start, "D")
    stamps = first + np.arange(days)
    months = stamps.astype("datetime64[M]")
    month = months.astype(np.int64) % 12 + 1
    mday = (stamps - months.astype("datetime64[D]")).astype(np.int64) + 1
    weekday = (start.weekday() + np.arange(days)) % 7
    return month, mday, weekday.astype(np.int64)


def _traffic(month: I64, mday: I64) -> tuple[F64, F64]:
    """Trip and basket multipliers: the run-up to Christmas is the peak of the year."""
    trips = np.ones(month.shape)
    basket = np.ones(month.shape)
    dec = month == 12
    trips[dec & (mday <= 17)] = 1.2
    trips[dec & (mday >= 18) & (mday <= 23)] = 1.6
    trips[dec & (mday == 24)] = 1.4
    trips[dec & (mday == 31)] = 1.3
    trips[(month == 1) & (mday <= 10)] = 0.9
    trips[(month == 7) | (month == 8)] = 0.92
    basket[dec] = 1.4
    basket[dec & (mday >= 18) & (mday <= 24)] = 1.8
    basket[month == 11] = 1.1
    return trips, basket


def _promotions(
    catalog: Catalog, weekday0: int, days: int, rng: np.random.Generator
) -> npt.NDArray[np.float32]:
    """Week-long (sometimes two-week) discounts starting on Mondays."""
    week_of_day = (weekday0 + np.arange(days)) // 7
    weeks = int(week_of_day[-1]) + 2
    chance = np.where(catalog.repertoire_ok, _PROMO_START, _PROMO_START / 4)
    starts = rng.random((catalog.size, weeks)) < chance[:, None]
    depth = rng.choice(_DISCOUNTS, size=(catalog.size, weeks), p=_DISCOUNT_P)
    weekly = np.where(starts, depth, 0.0)
    long = starts & (rng.random((catalog.size, weeks)) < _PROMO_LONG)
    weekly[:, 1:] = np.maximum(weekly[:, 1:], np.where(long, depth, 0.0)[:, :-1])
    return weekly[:, week_of_day].astype(np.float32)


def build_calendar(
    start: datetime.date, days: int, catalog: Catalog, rng: np.random.Generator
) -> Calendar:
    month, mday, weekday = _dates(start, days)
    is_open = np.ones(days, dtype=np.bool_)
    for m, d in CLOSED:
        is_open &= ~((month == m) & (mday == d))
    traffic, basket = _traffic(month, mday)
    # Seasonal products sell only in their months.
    discount = _promotions(catalog, start.weekday(), days, rng)
    discount *= catalog.on_sale[:, month - 1]
    return Calendar(
        days=days,
        epoch_day=(start - datetime.date(1970, 1, 1)).days,
        weekday=weekday,
        month=month,
        is_open=is_open,
        traffic=traffic * is_open,
        basket=basket,
        discount=discount,
    )
