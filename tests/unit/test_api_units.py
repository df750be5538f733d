"""Units of the API: roles, keys, rate buckets, problem types, event rules, pseudonyms,
cursors, the view cache."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest

from omnix.adapters.cache.memory import MemoryViewCache
from omnix.domain import errors as e
from omnix.domain.access import Role, allows, hash_key, key_id_of, new_key, roles_below, same_hash
from omnix.domain.events import check
from omnix.domain.ingest import RejectReason
from omnix.domain.pseudonym import pseudonym
from omnix.entrypoints.api import problems
from omnix.entrypoints.api.security import TokenBuckets
from omnix.services.views import decode_cursor, encode_cursor


def test_roles_are_not_a_ladder() -> None:
    assert allows(Role.ANALYST, Role.VIEWER) and allows(Role.ADMIN, Role.PRIVACY_OFFICER)
    assert not allows(Role.INGEST, Role.VIEWER)
    assert not allows(Role.PRIVACY_OFFICER, Role.ANALYST)
    assert not allows(Role.ANALYST, Role.INGEST)
    assert roles_below(Role.ADMIN) == [r for r in Role if r is not Role.ADMIN]
    assert roles_below(Role.VIEWER) == [Role.INGEST, Role.PRIVACY_OFFICER]


def test_key_format_and_hash() -> None:
    key_id, token = new_key()
    assert key_id_of(token) == key_id and len(token) > 50
    assert key_id_of("omx_nothex_abc") is None and key_id_of("Bearer x") is None
    assert key_id_of(f"omx_{key_id}_") is None
    h = hash_key("s" * 32, token)
    assert h != hash_key("t" * 32, token)  # keyed: another secret, another hash
    assert same_hash(h, hash_key("s" * 32, token)) and token not in h


def test_token_buckets_refill_at_the_rate() -> None:
    buckets = TokenBuckets(rate=10.0, burst=2)
    assert buckets.take("k") == 0 and buckets.take("k") == 0
    wait = buckets.take("k")
    assert 0 < wait <= 0.1
    assert buckets.take("other") == 0
    time.sleep(0.12)
    assert buckets.take("k") == 0


def test_every_omnix_error_has_a_problem_type() -> None:
    def subclasses(cls: type) -> list[type]:
        return [cls, *(s for sub in cls.__subclasses__() for s in subclasses(sub))]

    for cls in subclasses(e.OmnixError):
        slug = problems.slug_for(cls.__new__(cls))
        assert slug in problems.TYPES, cls
    assert problems.slug_for(e.StoreLockedError("x")) == "store-locked"
    assert problems.slug_for(e.NotFoundError("x")) == "not-found"
    assert problems.slug_for(e.InputError("x")) == "invalid-input"
    assert problems.TYPES["rate-limited"].status == 429


def test_event_rules_match_the_file_rules() -> None:
    now = datetime(2025, 6, 1, tzinfo=UTC)
    good = {"order_id": "o", "product_id": "p", "ts_text": "x", "ts": now, "quantity": 1.0}
    assert check(good, now) is None
    assert check(good | {"order_id": " "}, now) == (RejectReason.MISSING_ORDER_ID, "")
    assert check(good | {"ts": None}, now) == (RejectReason.INVALID_TS, "x")
    assert check(good | {"ts": datetime(1800, 1, 1, tzinfo=UTC)}, now)[0] is (  # type: ignore[index]
        RejectReason.TS_OUT_OF_RANGE
    )
    assert check(good | {"quantity": 0.0}, now) == (RejectReason.ZERO_QUANTITY, "0")
    assert check(good | {"unit_price": -1.0}, now) == (RejectReason.NEGATIVE_UNIT_PRICE, "-1.0")
    assert check(good | {"quantity": float("nan")}, now)[0] is RejectReason.INVALID_QUANTITY  # type: ignore[index]


def test_pseudonym_is_hmac_sha256_cut_to_128_bits() -> None:
    key = "k" * 32
    expected = hmac.new(key.encode(), b"C42", hashlib.sha256).hexdigest()[:32]
    assert pseudonym(key, "C42") == expected
    assert pseudonym(key, "C42") != pseudonym("j" * 32, "C42")


def test_cursor_round_trip_and_garbage() -> None:
    day = datetime(2025, 1, 2).date()
    assert decode_cursor(encode_cursor(day, "C9")) == (day, "C9")
    for bad in ("garbage", "", "e30", "!!!"):
        with pytest.raises(e.InputError):
            decode_cursor(bad)


def test_view_cache_is_per_customer_lru_with_ttl() -> None:
    cache = MemoryViewCache(max_customers=2, ttl=60)
    cache.put("a", "360", b"1")
    cache.put("a", "value", b"2")
    cache.put("b", "360", b"3")
    cache.get("a", "360")  # a is now the most recent
    cache.put("c", "360", b"4")
    assert cache.get("b", "360") is None and cache.get("a", "value") == b"2"
    cache.drop("a")
    assert cache.get("a", "360") is None and len(cache) == 1
    short = MemoryViewCache(ttl=0.01)
    short.put("x", "360", b"1")
    time.sleep(0.02)
    assert short.get("x", "360") is None
