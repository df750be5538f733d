"""Use case: API keys. Created with a role, shown once, stored as a keyed hash, revocable.

`authenticate` runs on every API request, so known keys are cached in memory for a few
seconds (a revocation through this service takes effect at once; one made by another process
on PostgreSQL as soon as its announcement arrives (`forget`), at worst within `ttl` seconds),
and "last used" is written at most once a minute per key.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from omnix.domain.access import ApiKey, Role, hash_key, key_id_of, new_key, same_hash
from omnix.domain.errors import AuthenticationError, InputError, NotFoundError
from omnix.domain.ports import KeyStore

TOUCH_EVERY = 60.0  # seconds between "last used" writes per key
MAX_NAME = 100


@dataclass(slots=True)
class KeyService:
    """`store` gives the calling thread's handle on the key store."""

    store: Callable[[], KeyStore]
    secret: str
    ttl: float = 10.0
    _known: dict[str, tuple[float, ApiKey | None]] = field(default_factory=dict)
    _touched: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, role: Role, name: str = "") -> tuple[ApiKey, str]:
        """A new key with `role`: (its record, the key itself; shown once, never stored)."""
        name = name.strip() or f"{role.value} key"
        if len(name) > MAX_NAME:
            raise InputError(f"a key name has at most {MAX_NAME} characters")
        if "\x00" in name:  # PostgreSQL text cannot hold it; refused on both stores alike
            raise InputError("a key name must not contain NUL (U+0000) characters")
        key_id, token = new_key()
        record = ApiKey(key_id, name, role, hash_key(self.secret, token), datetime.now(UTC))
        self.store().add_key(record)
        return record, token

    def list(self) -> list[ApiKey]:
        return self.store().list_keys()

    def revoke(self, key_id: str) -> ApiKey:
        if not self.store().revoke_key(key_id, datetime.now(UTC)):
            raise NotFoundError(f"no active API key with id {key_id!r}")
        with self._lock:
            self._known.pop(key_id, None)
        record = self.store().get_key(key_id)
        assert record is not None
        return record

    def authenticate(self, token: str) -> ApiKey:
        """The active key `token` belongs to; AuthenticationError otherwise (one message for
        every failure, so a caller learns nothing about which part was wrong)."""
        key_id = key_id_of(token.strip())
        record = self._lookup(key_id) if key_id else None
        if (
            record is None
            or not record.active
            or not same_hash(record.key_hash, hash_key(self.secret, token.strip()))
        ):
            raise AuthenticationError("missing, unknown or revoked API key")
        return record

    def forget(self, key_ids: Sequence[str]) -> None:
        """Drop cached keys (another process revoked them): the next request reads the store."""
        with self._lock:
            for key_id in key_ids:
                self._known.pop(key_id, None)

    def active(self, key_id: str) -> ApiKey | None:
        """The active key with this id, else None (the dashboard's session holds only the
        id: the key itself was checked once, at sign-in). Cached like `authenticate`."""
        record = self._lookup(key_id)
        return record if record is not None and record.active else None

    def should_touch(self, key_id: str) -> bool:
        """True at most once per TOUCH_EVERY seconds per key (the caller then writes)."""
        now = time.monotonic()
        with self._lock:
            if now - self._touched.get(key_id, -TOUCH_EVERY) < TOUCH_EVERY:
                return False
            self._touched[key_id] = now
            return True

    def touch(self, key_id: str) -> None:
        self.store().touch_key(key_id, datetime.now(UTC))

    def _lookup(self, key_id: str) -> ApiKey | None:
        now = time.monotonic()
        with self._lock:
            hit = self._known.get(key_id)
        if hit and hit[0] > now:
            return hit[1]
        record = self.store().get_key(key_id)
        if record is not None:  # unknown ids are not cached: nobody can fill memory with them
            with self._lock:
                self._known[key_id] = (now + self.ttl, record)
        return record
