"""Who may call what: roles, API keys and their hashes.

Roles, from least to most trusted for each kind of data::

    viewer           aggregates only (segment summaries, migration cells, metrics)
    analyst          viewer + customer-level reads (360, rhythms, CLV, members), analysis runs
    ingest           writes data (file uploads, event batches); reads nothing about customers
    privacy_officer  consent, export and erasure of one customer's data
    admin            everything, including API keys

Every API route names the one role it needs; `allows(role, needed)` says whether a key's role
covers it. Roles are not a ladder: an ingest key cannot read customers, a privacy officer
cannot run analyses; admin covers all.

A key reads `omx_<key_id>_<secret>`. Only the key id (public, shown in lists) and a keyed
hash of the whole key are stored: HMAC-SHA256 with OMNIX_SECRET_KEY. API keys carry 256 bits
of randomness, so a fast keyed hash is enough (no password hashing needed), and a stolen
store alone does not let anyone check a guessed key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from omnix.domain.errors import ConfigError

KEY_PREFIX: Final = "omx"
KEY_ID_BYTES: Final = 6  # 12 hex characters: unique enough for a lookup, not a secret
SECRET_BYTES: Final = 32


class Role(StrEnum):
    VIEWER = "viewer"
    ANALYST = "analyst"
    INGEST = "ingest"
    PRIVACY_OFFICER = "privacy_officer"
    ADMIN = "admin"


# needed role -> every role that covers it
_COVERED_BY: Final[dict[Role, frozenset[Role]]] = {
    Role.VIEWER: frozenset({Role.VIEWER, Role.ANALYST, Role.ADMIN}),
    Role.ANALYST: frozenset({Role.ANALYST, Role.ADMIN}),
    Role.INGEST: frozenset({Role.INGEST, Role.ADMIN}),
    Role.PRIVACY_OFFICER: frozenset({Role.PRIVACY_OFFICER, Role.ADMIN}),
    Role.ADMIN: frozenset({Role.ADMIN}),
}


def allows(role: Role, needed: Role) -> bool:
    """Whether a key with `role` may call a route that needs `needed`.

    >>> allows(Role.ANALYST, Role.VIEWER), allows(Role.INGEST, Role.VIEWER)
    (True, False)
    """
    return role in _COVERED_BY[needed]


def roles_below(needed: Role) -> list[Role]:
    """Every role that may not call a route needing `needed` (the auth matrix tests them)."""
    return [r for r in Role if r not in _COVERED_BY[needed]]


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ConfigError(f"role must be one of {allowed}, got {value!r}") from None


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key: never the key itself."""

    key_id: str
    name: str
    role: Role
    key_hash: str  # hex HMAC-SHA256(secret, whole key)
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def new_key() -> tuple[str, str]:
    """(key_id, the whole key) for a fresh key; the whole key is shown once."""
    key_id = secrets.token_hex(KEY_ID_BYTES)
    return key_id, f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(SECRET_BYTES)}"


def key_id_of(token: str) -> str | None:
    """The key id inside a presented key, or None when it is not shaped like an omnix key."""
    prefix, sep, rest = token.partition("_")
    key_id, sep2, secret = rest.partition("_")
    if prefix != KEY_PREFIX or not sep or not sep2 or not secret:
        return None
    if len(key_id) != 2 * KEY_ID_BYTES or not all(ch in "0123456789abcdef" for ch in key_id):
        return None
    return key_id


def keyed_hash(secret: str, value: str, purpose: str) -> str:
    """Hex HMAC-SHA256 of `value` under `secret`, separated by `purpose` so a key hash can
    never equal an audit hash of the same text."""
    message = f"{purpose}\x00{value}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def hash_key(secret: str, token: str) -> str:
    return keyed_hash(secret, token, "api-key")


def same_hash(a: str, b: str) -> bool:
    """Constant-time comparison of two hex digests."""
    return hmac.compare_digest(a.encode(), b.encode())
