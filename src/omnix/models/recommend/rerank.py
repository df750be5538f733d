"""Request-time re-ranking of one customer's precomputed candidates with the context.

Pure functions over small arrays (a customer's few dozen candidates), in this order:

1. basket: complements of the basket's products join or rise, combined with the stored
   score as two chances of the same event: 1 - (1 - score) x (1 - confidence); products
   already in the basket are dropped;
2. exclusions (out of stock ...) are dropped;
3. context: each known context value (time of day, weekday, channel, store) multiplies a
   product's score by sqrt(lift), lift = its share of sales there / overall (damped: the
   ranker never learned it);
4. business rules multiply the score of a category's or brand's products (0 removes them);
5. diversity: best first, at most `max_per_category` products of one category.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from omnix.models.baskets import FloatArray

StrArray = npt.NDArray[np.object_]


@dataclass(frozen=True, slots=True)
class Slate:
    """One customer's candidates: parallel arrays, any order."""

    product: StrArray
    score: FloatArray
    source: StrArray
    reason: StrArray
    category: StrArray  # None where unknown
    brand: StrArray

    def take(self, rows: npt.NDArray[np.int64]) -> Slate:
        return Slate(self.product[rows], self.score[rows], self.source[rows],
                     self.reason[rows], self.category[rows], self.brand[rows])  # fmt: skip

    def __len__(self) -> int:
        return len(self.product)


@dataclass(frozen=True, slots=True)
class Complements:
    """Best rule into each consequent from the basket: confidence, and the basket product."""

    product: StrArray
    confidence: FloatArray
    antecedent_name: StrArray
    category: StrArray
    brand: StrArray


def with_basket(slate: Slate, basket: set[str], comp: Complements) -> Slate:
    """Step 1: complements of the basket join (or lift) the slate; basket products leave."""
    index = {p: k for k, p in enumerate(slate.product.tolist())}
    score = slate.score.copy()
    source, reason = slate.source.copy(), slate.reason.copy()
    extra: list[int] = []
    for j, product in enumerate(comp.product.tolist()):
        conf = float(comp.confidence[j])
        why = f"goes with the {comp.antecedent_name[j]} in your basket"
        k = index.get(product)
        if k is None:
            extra.append(j)
            continue
        if conf > score[k]:
            source[k], reason[k] = "complements", why
        score[k] = 1.0 - (1.0 - score[k]) * (1.0 - conf)
    add = np.asarray(extra, dtype=np.int64)
    names = comp.antecedent_name[add]
    merged = Slate(
        np.concatenate([slate.product, comp.product[add]]),
        np.concatenate([score, comp.confidence[add]]),
        np.concatenate([source, np.full(add.size, "complements", dtype=object)]),
        np.concatenate([reason, np.array([f"goes with the {n} in your basket" for n in names],
                                         dtype=object)]),
        np.concatenate([slate.category, comp.category[add]]),
        np.concatenate([slate.brand, comp.brand[add]]),
    )  # fmt: skip
    keep = ~np.isin(merged.product, list(basket))
    return merged.take(np.flatnonzero(keep))


def without(slate: Slate, excluded: set[str]) -> Slate:
    """Step 2: drop excluded products."""
    return slate.take(np.flatnonzero(~np.isin(slate.product, list(excluded))))


def weighted(slate: Slate, weights: FloatArray) -> Slate:
    """Steps 3-4: multiply scores; products weighted 0 leave."""
    keep = np.flatnonzero(weights > 0)
    return replace(slate.take(keep), score=slate.score[keep] * weights[keep])


def rule_weights(slate: Slate, rules: list[tuple[str, str, float]]) -> FloatArray:
    """Product of the weights of the (field, value, weight) rules each product matches;
    values compare case-insensitively."""
    w = np.ones(len(slate))
    for field, value, weight in rules:
        column = slate.category if field == "category" else slate.brand
        hit = np.array([str(v).casefold() == value.casefold() if v is not None else False
                        for v in column.tolist()], dtype=bool)  # fmt: skip
        w[hit] *= weight
    return w


def top_diverse(slate: Slate, k: int, max_per_category: int | None) -> Slate:
    """Step 5: the k best (ties: product id), at most max_per_category of one category;
    products without a category are never held back."""
    order = np.lexsort((slate.product.astype(str), -slate.score))
    chosen: list[int] = []
    seen: dict[str, int] = {}
    for row in order.tolist():
        if len(chosen) == k:
            break
        cat = slate.category[row]
        if max_per_category is not None and cat is not None:
            if seen.get(cat, 0) >= max_per_category:
                continue
            seen[cat] = seen.get(cat, 0) + 1
        chosen.append(row)
    return slate.take(np.asarray(chosen, dtype=np.int64))
