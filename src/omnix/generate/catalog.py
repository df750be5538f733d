"""The product catalog: templates crossed with packs, variants and brands.

Every item of `templates.ITEMS` gets at least one product; the rest of the requested
size is filled by a popularity-weighted draw without replacement, so small catalogs
keep the staples and large ones gain brands, pack sizes and flavours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from omnix.domain.contract import (
    BRAND,
    CATEGORY,
    CURRENCY,
    PACK_SIZE,
    PRODUCT_ID,
    PRODUCT_NAME,
    PRODUCTS,
    UNIT_PRICE,
)
from omnix.generate.templates import (
    BABY,
    BRANDS,
    CATEGORIES,
    IMPULSE_ONLY,
    ITEMS,
    PET,
    STORE_BRANDS,
    Item,
)

_TIER_PRICE = (0.72, 1.0, 1.45)
_TIER_POPULARITY = (0.9, 1.0, 0.5)

# Product kinds, for households that do or do not buy them.
KIND_GENERAL, KIND_BABY, KIND_PET = 0, 1, 2

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Catalog:
    """Products as parallel arrays, indexed by product number 0..size-1."""

    product_id: pa.Array
    name: pa.Array
    category: pa.Array
    brand: pa.Array
    aisle: I64  # index into CATEGORIES
    tier: I64  # templates.BUDGET | STANDARD | PREMIUM
    kind: I64  # KIND_GENERAL | KIND_BABY | KIND_PET
    pack_size: F64  # pack amount in the item's natural unit (kg, L or pieces)
    list_price: F64  # at the start of the history
    cycle: F64  # days a typical household takes to use up one pack
    popularity: F64
    on_sale: npt.NDArray[np.bool_]  # (size, 12): sold in month m+1
    repertoire_ok: npt.NDArray[np.bool_]  # may be bought regularly

    @property
    def size(self) -> int:
        return len(self.product_id)

    def table(self, currency: str) -> pa.Table:
        """The products file, in PRODUCTS contract order."""
        columns = {
            PRODUCT_ID: self.product_id,
            PRODUCT_NAME: self.name,
            CATEGORY: self.category,
            BRAND: self.brand,
            PACK_SIZE: pa.array(self.pack_size),
            UNIT_PRICE: pa.array(self.list_price),
            CURRENCY: pa.array([currency] * self.size, pa.string()),
        }
        return pa.table([columns[n] for n in PRODUCTS.names], names=list(PRODUCTS.names))


@dataclass(frozen=True, slots=True)
class _Combo:
    item: int
    pack: int
    variant: int
    brand: str
    tier: int


def _brands(item: Item) -> tuple[tuple[str, int], ...]:
    if item.brands:
        return item.brands
    own = BRANDS[item.category]
    if item.category in IMPULSE_ONLY:
        return (*own, STORE_BRANDS[-1])
    return (*own, *STORE_BRANDS)


def _combos() -> list[_Combo]:
    out: list[_Combo] = []
    for i, item in enumerate(ITEMS):
        for brand, tier in _brands(item):
            for p in range(len(item.packs)):
                for v in range(len(item.variants)):
                    out.append(_Combo(i, p, v, brand, tier))
    return out


def _combo_weight(c: _Combo) -> float:
    item = ITEMS[c.item]
    store = 1.3 if c.brand in {b for b, _ in STORE_BRANDS} else 1.0
    return (
        item.popularity
        * _TIER_POPULARITY[c.tier]
        * store
        * (0.6 if c.pack else 1.0)
        * (0.6 if c.variant else 1.0)
    )


def _pick(combos: list[_Combo], n: int, rng: np.random.Generator) -> list[int]:
    """Indices of the chosen combos: one per item first, then by weighted draw."""
    weights = np.array([_combo_weight(c) for c in combos])
    keys = np.log(weights) + rng.gumbel(size=len(combos))
    best_per_item: dict[int, int] = {}
    for k in np.argsort(-keys, kind="stable").tolist():
        best_per_item.setdefault(combos[k].item, k)
    first = sorted(best_per_item.values(), key=lambda k: -keys[k])[:n]
    chosen = set(first)
    rest = [k for k in np.argsort(-keys, kind="stable").tolist() if k not in chosen]
    return sorted(first + rest[: max(0, n - len(first))])


def _charm(price: float) -> float:
    """Round to a .x9 shelf price, e.g. 0.78 -> 0.79, 2.43 -> 2.49."""
    return round(max(0.19, math.floor(price * 10) / 10 + 0.09), 2)


def build_catalog(n_products: int, rng: np.random.Generator) -> Catalog:
    """A catalog of up to `n_products` products (fewer if the templates run out)."""
    combos = _combos()
    picked = [combos[k] for k in _pick(combos, min(n_products, len(combos)), rng)]
    picked.sort(key=lambda c: (CATEGORIES.index(ITEMS[c.item].category), c.item, c.tier, c.brand))
    noise = rng.lognormal(0.0, 0.07, size=len(picked))
    tail = rng.lognormal(0.0, 0.6, size=len(picked))
    names, prices, cycles, packs, pops = [], [], [], [], []
    on_sale = np.ones((len(picked), 12), dtype=np.bool_)
    for k, c in enumerate(picked):
        item = ITEMS[c.item]
        label, amount = item.packs[c.pack]
        ratio = amount / item.packs[0][1]
        variant = item.variants[c.variant]
        names.append(" ".join(s for s in (c.brand, variant, item.name, label) if s))
        prices.append(_charm(item.price * _TIER_PRICE[c.tier] * ratio**0.88 * noise[k]))
        cycles.append(item.cycle * ratio)
        packs.append(amount)
        pops.append(_combo_weight(c) * tail[k])
        if item.months:
            on_sale[k] = [m + 1 in item.months for m in range(12)]
    categories = [ITEMS[c.item].category for c in picked]
    kinds = [KIND_BABY if g == BABY else KIND_PET if g == PET else KIND_GENERAL for g in categories]
    width = max(5, len(str(len(picked))))
    return Catalog(
        product_id=pa.array([f"P{k + 1:0{width}d}" for k in range(len(picked))], pa.string()),
        name=pa.array(names, pa.string()),
        category=pa.array(categories, pa.string()),
        brand=pa.array([c.brand for c in picked], pa.string()),
        aisle=np.array([CATEGORIES.index(g) for g in categories], dtype=np.int64),
        tier=np.array([c.tier for c in picked], dtype=np.int64),
        kind=np.array(kinds, dtype=np.int64),
        pack_size=np.array(packs, dtype=np.float64),
        list_price=np.array(prices, dtype=np.float64),
        cycle=np.array(cycles, dtype=np.float64),
        popularity=np.array(pops, dtype=np.float64),
        on_sale=on_sale,
        repertoire_ok=np.array([g not in IMPULSE_ONLY for g in categories], dtype=np.bool_),
    )
