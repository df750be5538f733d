"""What the CLI and the web pages share when they write a number for a person."""

from __future__ import annotations


def unsigned_zero(text: str) -> str:
    """'-0' or '-0.00' (a tiny negative sum, e.g. a purchase returned in full) -> '0'."""
    return text[1:] if text.startswith("-") and not any(d in text for d in "123456789") else text
