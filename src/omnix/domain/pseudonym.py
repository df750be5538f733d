"""Keyed pseudonymization of source customer ids (optional, OMNIX_PSEUDONYMIZE_KEY).

With a key set, ingest stores HMAC-SHA256(key, source id) as hex, cut to 32 characters (128
bits), instead of the retailer's id: the store then holds no directly identifying key, the
same source id always maps to the same pseudonym (so histories join up across files and
events), and nobody without the key can map an id back or test a guess. The mapping is
GDPR pseudonymization (Art. 4(5)), not anonymization: whoever holds the key can re-link.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

PSEUDONYM_CHARS: Final = 32


def pseudonym(key: str, customer_id: str) -> str:
    """The stored id for `customer_id` under `key`.

    >>> pseudonym("k" * 32, "C42")[:8]
    '27aca6f8'
    """
    digest = hmac.new(key.encode(), customer_id.encode(), hashlib.sha256).hexdigest()
    return digest[:PSEUDONYM_CHARS]
