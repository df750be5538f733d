"""The API's outer layers, as plain ASGI middleware (cheap on every request):

- `Guard`: authentication and per-key rate limiting before any body is read. Everything under
  /v1 and /metrics needs an API key (`Authorization: Bearer omx_...` or `X-API-Key`); the key
  found is put in the request scope, where each route's role check (deps.py) reads it.
- `BodyLimit`: refuses bodies above the configured size (413), by Content-Length at once and
  by counting streamed bytes otherwise.
- `SecurityHeaders`: nosniff, no framing, no referrer, no caching of responses, a
  Content-Security-Policy (`default-src 'none'` for data; the docs pages get their own).
"""

from __future__ import annotations

import asyncio
import inspect
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Final

import structlog

from omnix.domain.errors import (
    AuthenticationError,
    OmnixError,
    PayloadTooLargeError,
    RateLimitedError,
)
from omnix.entrypoints.api import problems
from omnix.services.keys import KeyService

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = structlog.get_logger(__name__)
KEY_SCOPE: Final = "omnix.key"
PROTECTED: Final = ("/v1/", "/metrics")
UPLOAD_PATHS: Final = ("/v1/ingest/files", "/data/upload")  # the dashboard's upload too
DOCS_PATHS: Final = ("/docs", "/redoc")


def protected(path: str) -> bool:
    return path.startswith(PROTECTED[0]) or path == PROTECTED[1]


async def _send_problem(send: Send, scope: Scope, err: OmnixError) -> None:
    response = problems.for_error(err, scope.get("path"))
    await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:  # pragma: no cover - responses never read the request
    return {"type": "http.disconnect"}


@dataclass(slots=True)
class TokenBuckets:
    """Per-key token buckets: `rate` requests per second, bursts up to `burst`."""

    rate: float
    burst: int
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # key: tokens, when

    def take(self, key: str) -> float:
        """0 when the request may pass, else the seconds until one token is back."""
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens - 1.0, now)
        return 0.0


class Guard:
    """Authenticate, rate-limit, then pass on (runs on the event loop: no lock needed)."""

    def __init__(self, app: ASGIApp, keys: Callable[[], KeyService], buckets: Any):
        self.app, self.keys, self.buckets = app, keys, buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not protected(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            token = _token(scope)
            keys = self.keys()
            key = keys.authenticate(token)
            wait = self.buckets.take(key.key_id)
            if inspect.isawaitable(wait):  # a bucket shared through Redis
                wait = await wait
            if wait > 0:
                raise RateLimitedError(
                    f"more than {self.buckets.rate:g} requests/s for this key", math.ceil(wait)
                )
        except OmnixError as err:
            await _send_problem(send, scope, err)
            return
        if keys.should_touch(key.key_id):  # off the event loop: it is a store write
            asyncio.get_running_loop().run_in_executor(None, _touch, keys, key.key_id)
        scope[KEY_SCOPE] = key
        await self.app(scope, receive, send)


def _touch(keys: KeyService, key_id: str) -> None:
    """Record "last used"; a failure (the store closing at shutdown) loses only that."""
    try:
        keys.touch(key_id)
    except Exception:
        log.debug("could not record key use", key_id=key_id, exc_info=True)


def _token(scope: Scope) -> str:
    bearer: str | None = None
    api_key: str | None = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, rest = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                bearer = rest.strip()
        elif name == b"x-api-key":
            api_key = value.decode("latin-1").strip()
    token = bearer or api_key
    if not token:
        raise AuthenticationError("missing, unknown or revoked API key")
    return token


class BodyLimit:
    """413 for bodies above `limit` bytes (`upload_limit` on the file upload route)."""

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int) -> None:
        self.app, self.limit, self.upload_limit = app, limit, upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_limit if scope["path"] in UPLOAD_PATHS else self.limit
        too_big = PayloadTooLargeError(f"the request body is larger than {limit:,} bytes")
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _send_problem(send, scope, too_big)
                return
        seen, started, exceeded = 0, False, False

        async def counted() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    exceeded = True
                    raise too_big
            return message

        async def watch(message: Message) -> None:
            # the app may have turned the failed read into its own error (FastAPI answers
            # 400 "error parsing the body"): the caller gets the 413 it is owed instead
            nonlocal started
            if exceeded:
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await _send_problem(send, scope, too_big)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watch)
        except PayloadTooLargeError as err:
            if started:
                return
            await _send_problem(send, scope, err)


_DATA_CSP = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI and ReDoc: scripts and styles from this server only, plus the inline bootstrap
# script FastAPI's docs page uses; images from this server and data: URIs.
_DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'"
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp, hsts: bool) -> None:
        self.app = app
        self.base = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-resource-policy", b"same-origin"),
            (b"cache-control", b"no-store"),
        ]
        if hsts:
            self.base.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        docs = path.startswith(DOCS_PATHS)
        csp = (_DOCS_CSP if docs else _DATA_CSP).encode()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {n.lower() for n, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in self.base if n not in names]
                if docs and path.startswith("/docs/assets"):
                    extra = [(n, v) for n, v in extra if n != b"cache-control"]
                if b"content-security-policy" not in names:  # the dashboard sets its own
                    extra.append((b"content-security-policy", csp))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)
