"""What omnix never infers: protected attributes (GDPR Art. 9 special categories).

The spending profile describes what is bought, never who the person is. Categories whose name
points at health, religion, ethnicity, sexual life or orientation, or political views are left
out of every spending measure and list, so a profile can neither show nor be driven by them.
The terms are matched as word prefixes, case-insensitively ("pharmacy" matches "Pharmacy &
Health"). Recommendations offer such products only to customers who bought them before
(services/recommend.OwnPurchasesOnly): never inferred from other customers or similar products.
See docs/DECISIONS_LOG.md (GDPR Art. 22 and Recital 71).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

# One entry per protected attribute, the words that reveal it in a category or column name.
PROTECTED_TERMS: Final[dict[str, tuple[str, ...]]] = {
    "health": (
        "health", "pharma", "medic", "drug", "prescription", "vitamin", "supplement",
        "diabet", "gluten", "lactose", "allerg", "incontinen", "pregnan", "fertility",
        "contracep", "diet", "slimming", "hearing", "disab", "mobility aid",
    ),
    "religion": ("religio", "halal", "kosher", "church", "prayer", "christian", "muslim",
                 "islam", "jewish", "hindu", "buddh"),
    "ethnicity": ("ethnic", "race", "racial", "afro", "asian", "african", "latino",
                  "hispanic", "world food", "international food"),
    "sexual_orientation": ("sexual", "sex ", "lgbt", "gay", "lesbian", "pride", "condom",
                           "adult", "erotic", "lubricant"),
    "politics": ("politic", "party", "election", "campaign", "union", "activis"),
}  # fmt: skip

_PATTERN: Final = re.compile(
    r"\b(" + "|".join(re.escape(t) for ts in PROTECTED_TERMS.values() for t in ts) + ")",
    re.IGNORECASE,
)


def protected_attribute(name: str) -> str | None:
    """The protected attribute a category or column name points at, or None.

    Example: `protected_attribute("Pharmacy & Health")` -> "health".
    """
    match = _PATTERN.search(name.replace("_", " "))
    if match is None:
        return None
    word = match.group(1).lower()
    return next(k for k, ts in PROTECTED_TERMS.items() if any(word == t.lower() for t in ts))


def sensitive_categories(categories: Iterable[str]) -> list[str]:
    """The categories to leave out of spending profiles (sorted)."""
    return sorted({c for c in categories if protected_attribute(c) is not None})
