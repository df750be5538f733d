"""Who is signed in to the dashboard, and the CSRF guard of its forms.

Sign-in takes an API key once: the key is checked like an API request's (KeyService), then
only its id goes into the session. The session is Starlette's signed cookie (itsdangerous,
HMAC under a key derived from OMNIX_SECRET_KEY): HttpOnly, SameSite=Lax, Secure in
production, 8 hours. Every page looks the key id up again (cached for seconds), so a revoked
key signs its sessions out at their next click.

Every form that changes something (sign-in, sign-out, consent, erasure) carries the session's
CSRF token (synchronizer token, compared in constant time), and a cross-site Origin is
refused as well.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from fastapi import Request

from omnix.domain.access import ApiKey, Role, allows, keyed_hash
from omnix.domain.errors import PermissionDeniedError
from omnix.services.keys import KeyService

COOKIE: Final = "omnix_session"
MAX_AGE: Final = 8 * 3600  # seconds
KEY_ID: Final = "key_id"
CSRF: Final = "csrf"
# the roles that have dashboard pages: aggregates (viewer and up) or privacy requests
DASHBOARD_ROLES: Final = (Role.VIEWER, Role.PRIVACY_OFFICER, Role.INGEST)


def cookie_secret(secret_key: str) -> str:
    """The session-signing key: derived, so a session cookie never reveals a hash that
    is used anywhere else."""
    return keyed_hash(secret_key, "dashboard-session", "web-session")


@dataclass(frozen=True, slots=True)
class User:
    key_id: str
    name: str
    role: Role

    def may(self, needed: Role) -> bool:
        return allows(self.role, needed)


class SignInRequired(Exception):  # noqa: N818 - a redirect to the sign-in page, not an error
    """Raised by a page when nobody (or a revoked key) is signed in."""


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = request.session.get(CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[CSRF] = token
    return token


def check_csrf(request: Request, submitted: str | None) -> None:
    """Refuse a state-changing form without this session's token or from another origin."""
    expected = request.session.get(CSRF)
    if not isinstance(expected, str) or not submitted:
        raise PermissionDeniedError("the form has expired: reload the page and try again")
    if not hmac.compare_digest(expected.encode(), submitted.encode()):
        raise PermissionDeniedError("the form has expired: reload the page and try again")
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.url.netloc:
        raise PermissionDeniedError("a form from another site was refused")


def sign_in(request: Request, keys: KeyService, token: str) -> User:
    """Check the key and start a fresh session for it (a new CSRF token too)."""
    key = keys.authenticate(token)
    if not any(allows(key.role, r) for r in DASHBOARD_ROLES):
        raise PermissionDeniedError(
            f"a {key.role.value} key has no dashboard pages: sign in with a viewer, analyst, "
            "ingest, privacy_officer or admin key"
        )
    request.session.clear()
    request.session[KEY_ID] = key.key_id
    request.session[CSRF] = secrets.token_urlsafe(32)
    return _user(key)


def sign_out(request: Request) -> None:
    request.session.clear()


def current_user(request: Request, keys: KeyService) -> User | None:
    key_id = request.session.get(KEY_ID)
    if not isinstance(key_id, str):
        return None
    key = keys.active(key_id)
    if key is None:  # revoked since: the session ends
        request.session.pop(KEY_ID, None)
        return None
    return _user(key)


def require(user: User | None, needed: Role | tuple[Role, ...]) -> User:
    """The signed-in user if their role covers `needed` (any of them, for a tuple)."""
    if user is None:
        raise SignInRequired
    wanted = needed if isinstance(needed, tuple) else (needed,)
    if not any(user.may(r) for r in wanted):
        names = " or ".join(r.value for r in wanted)
        raise PermissionDeniedError(
            f"this page needs the {names} role; you are signed in as {user.role.value}"
        )
    return user


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _user(key: ApiKey) -> User:
    return User(key.key_id, key.name, key.role)
