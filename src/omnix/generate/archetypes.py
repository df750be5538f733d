"""Who shops: segment archetypes, stores and regions, and the customers of one chunk."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from omnix.domain.errors import ConfigError
from omnix.generate.seasons import Calendar

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]


class Archetype(StrEnum):
    """Customer segments the generator draws from (the truth file names them)."""

    LOYAL = "loyal_weekly"
    BULK = "bulk_buyer"
    LAPSING = "lapsing"
    BARGAIN = "bargain_hunter"
    PREMIUM = "premium"
    OCCASIONAL = "occasional"


@dataclass(frozen=True, slots=True)
class Profile:
    """How one archetype shops. Ranges are drawn uniformly per customer or per product.

    trips_per_week: shopping trips per week before weekday and holiday effects.
    repertoire: how many products the customer buys regularly.
    shape: gamma shape of the consumption intervals (higher = more regular).
    cycle_factor: multiplies consumption cycles (e.g. occasional shoppers also buy elsewhere).
    min_units: least units per purchase (bulk buyers buy several packs at once).
    extra_unit: chance of one more unit than usual on a purchase.
    promo_units: mean extra units (Poisson) when the product is on promotion.
    impulse: mean unplanned lines per trip.
    tier_affinity: budget, standard, premium weights when choosing products.
    churn: chance the customer stops shopping at some point.
    """

    share: float
    trips_per_week: tuple[float, float]
    repertoire: tuple[int, int]
    shape: tuple[float, float]
    cycle_factor: float
    min_units: int
    extra_unit: float
    promo_units: float
    impulse: float
    tier_affinity: tuple[float, float, float]
    churn: float


PROFILES: dict[Archetype, Profile] = {
    Archetype.LOYAL: Profile(0.25, (0.8, 1.6), (4, 9), (5, 20), 1.0, 1, 0.04, 0.15, 0.8,
                             (1.0, 1.2, 0.6), 0.05),
    Archetype.BULK: Profile(0.10, (0.3, 0.6), (4, 8), (3, 10), 1.0, 2, 0.25, 0.3, 2.5,
                            (1.3, 1.0, 0.4), 0.05),
    Archetype.LAPSING: Profile(0.14, (0.6, 1.4), (3, 8), (2.5, 8), 1.2, 1, 0.04, 0.15, 0.8,
                               (1.0, 1.0, 0.6), 1.0),
    Archetype.BARGAIN: Profile(0.16, (0.8, 1.6), (3, 8), (2, 6), 1.1, 1, 0.04, 2.0, 0.6,
                               (3.0, 1.0, 0.2), 0.05),
    Archetype.PREMIUM: Profile(0.12, (0.8, 1.6), (3, 8), (4, 14), 1.1, 1, 0.04, 0.1, 1.2,
                               (0.2, 1.0, 3.0), 0.05),
    Archetype.OCCASIONAL: Profile(0.23, (0.15, 0.45), (2, 5), (1.3, 4), 2.0, 1, 0.06, 0.15, 2.0,
                                  (1.0, 1.0, 0.8), 0.15),
}  # fmt: skip
ARCHETYPES: tuple[Archetype, ...] = tuple(PROFILES)


def profile_array(field: str) -> F64:
    """One Profile field as an array indexed by archetype code."""
    return np.array([getattr(PROFILES[a], field) for a in ARCHETYPES], dtype=np.float64)


CHANNELS = ("store", "online", "app")
_CHANNEL_P = np.array([0.72, 0.18, 0.10])
_CHANNEL_P_PREMIUM = np.array([0.55, 0.30, 0.15])
_BABY_P, _PET_P = 0.12, 0.35
_CHURN_MEAN_DAYS = {True: 120.0, False: 200.0}  # lapsing, others
_EXISTING_WINDOW = 14  # existing customers are first seen within this many days
_HOUSEHOLD_LOG_MEAN = 0.3  # the median household takes 1.35x the template's days per pack

REGIONS: dict[str, tuple[str, ...]] = {
    "DE": ("Bavaria", "Berlin", "Hamburg", "North Rhine-Westphalia", "Baden-Württemberg",
           "Saxony"),
    "FR": ("Île-de-France", "Auvergne-Rhône-Alpes", "Provence-Alpes-Côte d'Azur"),
    "NL": ("North Holland", "South Holland", "Utrecht"),
    "BE": ("Flanders", "Brussels", "Wallonia"),
    "AT": ("Vienna", "Tyrol"),
}  # fmt: skip
_COUNTRY_P = np.array([0.45, 0.2, 0.15, 0.12, 0.08])


@dataclass(frozen=True, slots=True)
class Stores:
    """Physical stores 0..n-1 followed by one web shop per country."""

    store_id: tuple[str, ...]
    country: tuple[str, ...]
    region: tuple[str, ...]
    web: I64  # per physical store: index of its country's web shop
    weight: F64  # per physical store: share of customers

    @property
    def physical(self) -> int:
        return len(self.weight)


def build_stores(n: int, rng: np.random.Generator) -> Stores:
    countries = list(REGIONS)
    picks = rng.choice(len(countries), size=n, p=_COUNTRY_P)
    picks[: min(n, len(countries))] = np.arange(min(n, len(countries)))
    country = [countries[k] for k in picks.tolist()]
    region = [REGIONS[c][int(rng.integers(len(REGIONS[c])))] for c in country]
    width = max(3, len(str(n)))
    web_ids = [f"WEB-{c}" for c in countries]
    return Stores(
        store_id=(*[f"S{k + 1:0{width}d}" for k in range(n)], *web_ids),
        country=(*country, *countries),
        region=(*region, *["online"] * len(countries)),
        web=np.array([n + countries.index(c) for c in country], dtype=np.int64),
        weight=rng.lognormal(0.0, 0.6, size=n),
    )


@dataclass(frozen=True, slots=True)
class Cohort:
    """The customers of one chunk, as parallel arrays (local index 0..n-1)."""

    first: int  # global number of customer 0
    archetype: I64  # index into ARCHETYPES
    arrival: I64  # day of the first trip (an open day)
    end: I64  # first day without activity: churn day, or `days` if still active
    churned: B  # churn happened within the history (end < days)
    trips: F64  # trips per week
    household: F64  # multiplies consumption cycles
    baby: B
    pet: B
    weekday: I64  # preferred shopping day
    channel: I64  # index into CHANNELS
    store: I64  # home store

    @property
    def size(self) -> int:
        return len(self.archetype)


def _arrival(n: int, share_new: float, cal: Calendar, rng: np.random.Generator) -> I64:
    new = rng.random(n) < share_new
    window = min(_EXISTING_WINDOW, cal.days)
    day = np.where(new, rng.integers(0, cal.days, n), rng.integers(0, window, n))
    open_days = np.flatnonzero(cal.is_open)
    if open_days.size == 0:
        raise ConfigError("the history has no open shopping day: make `days` longer")
    slot = np.minimum(np.searchsorted(open_days, day), open_days.size - 1)
    return open_days[slot].astype(np.int64)


def _churn(arch: I64, arrival: I64, days: int, rng: np.random.Generator) -> I64:
    lapsing = arch == ARCHETYPES.index(Archetype.LAPSING)
    churns = rng.random(arch.size) < profile_array("churn")[arch]
    mean = np.where(lapsing, _CHURN_MEAN_DAYS[True], _CHURN_MEAN_DAYS[False])
    day = arrival + 21 + np.floor(rng.exponential(mean)).astype(np.int64)
    return np.where(churns, np.minimum(day, days), days)


def draw_cohort(
    first: int, n: int, share_new: float, cal: Calendar, stores: Stores, rng: np.random.Generator
) -> Cohort:
    """Customers `first` .. `first + n - 1`: segment, lifetime, habits, home store."""
    shares = profile_array("share")
    arch = rng.choice(len(ARCHETYPES), size=n, p=shares / shares.sum())
    arrival = _arrival(n, share_new, cal, rng)
    end = _churn(arch, arrival, cal.days, rng)
    lo, hi = (np.array([PROFILES[a].trips_per_week[k] for a in ARCHETYPES]) for k in (0, 1))
    premium = arch == ARCHETYPES.index(Archetype.PREMIUM)
    channel_u = rng.random(n)
    channel = np.where(
        premium,
        np.searchsorted(np.cumsum(_CHANNEL_P_PREMIUM), channel_u * 0.999999),
        np.searchsorted(np.cumsum(_CHANNEL_P), channel_u * 0.999999),
    )
    store_p = stores.weight / stores.weight.sum()
    return Cohort(
        first=first,
        archetype=arch.astype(np.int64),
        arrival=arrival,
        end=end,
        churned=end < cal.days,
        trips=rng.uniform(lo[arch], hi[arch]),
        household=rng.lognormal(_HOUSEHOLD_LOG_MEAN, 0.35, n),
        baby=rng.random(n) < _BABY_P,
        pet=rng.random(n) < _PET_P,
        weekday=rng.choice(7, size=n, p=np.array([1, 1, 1, 1, 1.2, 1.5, 0.3]) / 7.0),
        channel=channel.astype(np.int64),
        store=rng.choice(stores.physical, size=n, p=store_p).astype(np.int64),
    )
