"""What routes share: the app's state, the caller's key, and each route's role declaration.

Every route is declared with `secured(Role.X)` or `public()`: the role lands in the OpenAPI
document (`x-required-role`) and, for secured routes, in a dependency that refuses a key whose
role does not cover it (403). Authentication itself happened before (security.Guard).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Annotated, Any, Final

from fastapi import Depends, Request

from omnix.bootstrap import Container
from omnix.config import Settings
from omnix.domain.access import ApiKey, Role, allows
from omnix.domain.errors import AuthenticationError, PermissionDeniedError, StoreError
from omnix.entrypoints.api.metrics import Metrics
from omnix.entrypoints.api.security import KEY_SCOPE

ROLE_FIELD: Final = "x-required-role"
PUBLIC: Final = "public"


@dataclass(slots=True)
class ApiState:
    settings: Settings
    container: Container | None = None
    metrics: Metrics = field(default_factory=Metrics)
    warmed: int = 0  # customers whose 360 the last warm-up cached
    warming: threading.Thread | None = None

    def wired(self) -> Container:
        if self.container is None:
            raise StoreError("the server is starting: the store is not open yet")
        return self.container


def state(request: Request) -> ApiState:
    found: ApiState = request.app.state.omnix
    return found


async def container(request: Request) -> Container:
    """(async, like every dependency here: a sync one would cost a thread hop per request)"""
    return state(request).wired()


async def caller(request: Request) -> ApiKey:
    return current_key(request)


def current_key(request: Request) -> ApiKey:
    key: ApiKey | None = request.scope.get(KEY_SCOPE)
    if key is None:  # a secured route outside the Guard's paths: refuse, never serve
        raise AuthenticationError("missing, unknown or revoked API key")
    return key


class RequireRole:
    """Dependency: the caller's key must cover `role`."""

    def __init__(self, role: Role) -> None:
        self.role = role

    async def __call__(self, request: Request) -> ApiKey:
        key = current_key(request)
        if not allows(key.role, self.role):
            raise PermissionDeniedError(
                f"this route needs the {self.role.value} role; the key has {key.role.value}"
            )
        return key


Wired = Annotated[Container, Depends(container)]
CallerKey = Annotated[ApiKey, Depends(caller)]
_AUTH_ERRORS = {
    401: {"description": "no valid API key"},
    403: {"description": "the key's role does not cover this route"},
    429: {"description": "rate limit of this key exceeded (see Retry-After)"},
}


def secured(
    role: Role, extra: dict[int | str, Any] | None = None, **responses: str
) -> dict[str, Any]:
    """Route keyword arguments for a route that needs `role`; `responses`: error statuses by
    name (`not_found="no such customer"`), `extra`: more OpenAPI responses."""
    return {
        "dependencies": [Depends(RequireRole(role))],
        "openapi_extra": {ROLE_FIELD: role.value},
        "responses": {**_AUTH_ERRORS, **_statuses(responses), **(extra or {})},
    }


def public(extra: dict[int | str, Any] | None = None, **responses: str) -> dict[str, Any]:
    return {
        "openapi_extra": {ROLE_FIELD: PUBLIC},
        "responses": {**_statuses(responses), **(extra or {})},
    }


def _statuses(responses: dict[str, str]) -> dict[int | str, Any]:
    """`not_found="..."` style keywords -> {404: {"description": ...}}."""
    codes = {
        "bad_request": 400,
        "not_found": 404,
        "conflict": 409,
        "too_large": 413,
        "unsupported": 415,
        "invalid": 422,
    }
    return {codes[k]: {"description": v} for k, v in responses.items()}
