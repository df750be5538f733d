"""Every request-time context rule changes the slate as it should (models/recommend/rerank.py)."""

from __future__ import annotations

import numpy as np
import pytest

from omnix.models.recommend import rerank


def obj(*values: object) -> np.ndarray:
    return np.array(values, dtype=object)


@pytest.fixture
def slate() -> rerank.Slate:
    return rerank.Slate(
        product=obj("milk", "bread", "cheese", "yogurt", "beer"),
        score=np.array([0.9, 0.8, 0.7, 0.6, 0.5]),
        source=obj(*["replenishment"] * 5),
        reason=obj(*["you buy this"] * 5),
        category=obj("dairy", "bakery", "dairy", "dairy", None),
        brand=obj("Acme", "Bake", "Acme", "Moo", "Hops"),
    )


def products(s: rerank.Slate) -> list[str]:
    return list(rerank.top_diverse(s, 10, None).product)


def test_basket_adds_complements_raises_them_and_drops_basket_items(slate: rerank.Slate) -> None:
    comp = rerank.Complements(
        product=obj("pasta sauce", "yogurt"), confidence=np.array([0.95, 0.8]),
        antecedent_name=obj("penne", "penne"), category=obj("pantry", "dairy"),
        brand=obj(None, "Moo"),
    )  # fmt: skip
    out = rerank.with_basket(slate, {"bread", "penne"}, comp)
    got = dict(zip(out.product, out.score, strict=True))
    assert "bread" not in got  # already in the basket
    assert got["pasta sauce"] == pytest.approx(0.95)
    assert got["yogurt"] == pytest.approx(1 - 0.4 * 0.2)  # two chances of the same event
    row = list(out.product).index("pasta sauce")
    assert out.reason[row] == "goes with the penne in your basket"
    assert out.source[row] == "complements"
    assert products(out)[0] == "pasta sauce"


def test_exclusions_remove_products(slate: rerank.Slate) -> None:
    assert products(rerank.without(slate, {"milk", "beer"})) == ["bread", "cheese", "yogurt"]


def test_diversity_caps_each_category(slate: rerank.Slate) -> None:
    top = rerank.top_diverse(slate, 4, max_per_category=1)
    assert list(top.product) == ["milk", "bread", "beer"]  # one dairy; no category: not capped
    assert list(rerank.top_diverse(slate, 2, None).product) == ["milk", "bread"]


def test_rules_boost_and_bury_categories_and_brands(slate: rerank.Slate) -> None:
    boosted = rerank.weighted(slate, rerank.rule_weights(slate, [("brand", "hops", 3.0)]))
    assert products(boosted)[0] == "beer"
    buried = rerank.weighted(slate, rerank.rule_weights(slate, [("category", "dairy", 0.1)]))
    assert products(buried)[:2] == ["bread", "beer"]
    removed = rerank.weighted(slate, rerank.rule_weights(slate, [("category", "Dairy", 0.0)]))
    assert products(removed) == ["bread", "beer"]


def test_context_weights_reorder(slate: rerank.Slate) -> None:
    w = np.array([1.0, 1.0, 1.0, 1.0, 4.0])  # beer sells 16x more in this context: sqrt -> 4
    assert products(rerank.weighted(slate, w))[0] == "beer"
