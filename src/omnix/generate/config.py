"""Generator settings and the sizes derived from them."""

from __future__ import annotations

import datetime
import pathlib
from dataclasses import dataclass

from omnix.domain.errors import ConfigError

MAX_PRODUCTS = 2_000
MIN_PRODUCTS = 300
MIN_EXPLICIT_PRODUCTS = 20  # fewer cannot fill repertoires and impulse baskets apart
# Cells of the per-chunk customer x day matrices; bounds memory whatever `days` is.
_CHUNK_CELLS = 2_000_000
_MAX_CHUNK_CUSTOMERS = 5_000


@dataclass(frozen=True, slots=True)
class GeneratorConfig:
    """What to generate. The same config always gives the same data.

    customers: how many customers the history covers (all of them buy at least once).
    days: length of the history in days, starting on `start`.
    seed: master seed; every random draw derives from it.
    currency: ISO 4217 code written on every price (prices are EUR-like levels).
    products: catalog size (>= 20); None scales it with customers (300 .. 2,000).
    stores: physical stores; None scales it with customers (4 .. 200).
    return_rate: share of purchase lines returned later (negative quantity lines).
    new_customer_share: share of customers whose first visit falls anywhere in the
        history; the others are existing customers first seen in its first two weeks.
    chunk_customers: customers simulated per batch; None derives it from `days`. Each chunk
        has its own random stream, so a different chunk size gives different (equally valid)
        data; leave it None for data that depends on customers, days, seed and start only.
    """

    customers: int = 1_000
    days: int = 365
    seed: int = 0
    start: datetime.date = datetime.date(2025, 1, 1)
    currency: str = "EUR"
    products: int | None = None
    stores: int | None = None
    return_rate: float = 0.01
    new_customer_share: float = 0.35
    chunk_customers: int | None = None

    def __post_init__(self) -> None:
        if self.customers < 1:
            raise ConfigError(f"customers must be >= 1, got {self.customers}")
        if self.days < 1:
            raise ConfigError(f"days must be >= 1, got {self.days}")
        if self.seed < 0:
            raise ConfigError(f"seed must be >= 0, got {self.seed}")
        if not 0.0 <= self.return_rate < 0.5:
            raise ConfigError(f"return_rate must be in [0, 0.5), got {self.return_rate}")
        if not 0.0 <= self.new_customer_share <= 1.0:
            raise ConfigError("new_customer_share must be in [0, 1]")
        if self.products is not None and self.products < MIN_EXPLICIT_PRODUCTS:
            raise ConfigError(f"products must be >= {MIN_EXPLICIT_PRODUCTS}, got {self.products}")

    @property
    def n_products(self) -> int:
        """Catalog size asked for (the catalog may hold fewer if the templates run out)."""
        if self.products is not None:
            return self.products
        return min(MAX_PRODUCTS, max(MIN_PRODUCTS, 150 + self.customers // 50))

    @property
    def n_stores(self) -> int:
        if self.stores is not None:
            return max(1, self.stores)
        return min(200, max(4, self.customers // 1_000))

    @property
    def chunk_size(self) -> int:
        """Customers per simulated batch."""
        if self.chunk_customers is not None:
            return max(1, self.chunk_customers)
        return max(64, min(_MAX_CHUNK_CUSTOMERS, _CHUNK_CELLS // (self.days + 1)))


@dataclass(frozen=True, slots=True)
class GenerateResult:
    """What `generate` wrote: counts, wall time in seconds, and the files by role."""

    lines: int
    orders: int
    customers: int
    products: int
    seconds: float
    files: dict[str, pathlib.Path]
