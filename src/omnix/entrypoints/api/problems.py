"""Errors as RFC 9457 problem details (application/problem+json), one stable `type` each.

The one mapping from the `domain/errors.py` tree (and the web layer's own failures) to HTTP:
`ERRORS` is searched most specific first, so a new subclass inherits its parent's problem
until it is given its own. `GET /problems/{slug}` describes each type.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Final

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from omnix.domain import errors as e

log = structlog.get_logger(__name__)
MEDIA_TYPE: Final = "application/problem+json"
PREFIX: Final = "/problems/"


@dataclass(frozen=True, slots=True)
class ProblemType:
    slug: str
    status: int
    title: str
    description: str

    @property
    def uri(self) -> str:
        return PREFIX + self.slug


_TYPES = (
    ProblemType(
        "validation-failed",
        422,
        "Request validation failed",
        "A parameter or the body does not match the OpenAPI document; `errors` lists "
        "where and why.",
    ),
    ProblemType(
        "invalid-input",
        422,
        "Invalid input",
        "The request is well-formed but its content cannot be used (e.g. an unreadable "
        "file or a cursor this API did not issue).",
    ),
    ProblemType(
        "invalid-mapping",
        422,
        "Invalid column mapping",
        "A column map or preset does not fit the uploaded file.",
    ),
    ProblemType(
        "unsupported-format",
        415,
        "Unsupported format",
        "omnix cannot read this kind of file (CSV, Parquet or JSON Lines).",
    ),
    ProblemType(
        "invalid-option",
        400,
        "Invalid option",
        "Options that cannot work together, e.g. a migration whose start is after its end.",
    ),
    ProblemType(
        "not-found",
        404,
        "Not found",
        "The store does not know this customer, snapshot, run or key, or the path does not exist.",
    ),
    ProblemType(
        "conflict",
        409,
        "Conflict",
        "The request clashes with work in progress, e.g. an analysis run is already running.",
    ),
    ProblemType(
        "empty-store",
        409,
        "Nothing ingested yet",
        "The store holds no data this request could use: ingest first.",
    ),
    ProblemType("store-locked", 503, "Store in use", "Another process holds the embedded store."),
    ProblemType(
        "store-unavailable",
        503,
        "Store unavailable",
        "The store could not do what was asked; retry later.",
    ),
    ProblemType(
        "unauthenticated",
        401,
        "Authentication required",
        "Send an API key: `Authorization: Bearer omx_...` or `X-API-Key: omx_...`.",
    ),
    ProblemType(
        "forbidden",
        403,
        "Not allowed for this role",
        "The API key is valid but its role does not cover this route.",
    ),
    ProblemType(
        "rate-limited",
        429,
        "Too many requests",
        "This API key sent more requests than its rate allows; retry after the "
        "seconds in the Retry-After header.",
    ),
    ProblemType(
        "payload-too-large",
        413,
        "Payload too large",
        "The request body is larger than this route accepts.",
    ),
    ProblemType(
        "method-not-allowed",
        405,
        "Method not allowed",
        "This path does not accept this HTTP method.",
    ),
    ProblemType(
        "missing-extra",
        501,
        "Not installed",
        "The feature needs an optional extra that is not installed.",
    ),
    ProblemType("bad-request", 400, "Bad request", "The request could not be understood."),
    ProblemType(
        "internal-error",
        500,
        "Internal error",
        "Something failed inside omnix; the server log has the details.",
    ),
)
TYPES: Final[dict[str, ProblemType]] = {t.slug: t for t in _TYPES}

# Most specific first: the first class an error is an instance of gives its problem.
ERRORS: Final[tuple[tuple[type[e.OmnixError], str], ...]] = (
    (e.AuthenticationError, "unauthenticated"),
    (e.PermissionDeniedError, "forbidden"),
    (e.RateLimitedError, "rate-limited"),
    (e.PayloadTooLargeError, "payload-too-large"),
    (e.NotFoundError, "not-found"),
    (e.SourceNotFoundError, "not-found"),
    (e.UnsupportedFormatError, "unsupported-format"),
    (e.MappingError, "invalid-mapping"),
    (e.InputError, "invalid-input"),
    (e.ConfigError, "invalid-option"),
    (e.ConflictError, "conflict"),
    (e.EmptyStoreError, "empty-store"),
    (e.StoreLockedError, "store-locked"),
    (e.StoreError, "store-unavailable"),
    (e.MissingExtraError, "missing-extra"),
    (e.OmnixError, "bad-request"),
)
_BY_STATUS: Final = {
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
    401: "unauthenticated",
    403: "forbidden",
    429: "rate-limited",
}


def slug_for(err: e.OmnixError) -> str:
    for cls, slug in ERRORS:
        if isinstance(err, cls):
            return slug
    return "bad-request"  # unreachable: OmnixError is last


def problem(slug: str, detail: str | None, instance: str | None = None, **extra: Any) -> Response:
    """The problem+json response for `slug` (headers for 401 and 429 included)."""
    kind = TYPES[slug]
    body: dict[str, Any] = {"type": kind.uri, "title": kind.title, "status": kind.status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {}
    if slug == "unauthenticated":
        headers["WWW-Authenticate"] = 'Bearer realm="omnix"'
    if "retry_after" in body:
        headers["Retry-After"] = str(body["retry_after"])
    content = json.dumps(body, default=str).encode()
    return Response(content, status_code=kind.status, media_type=MEDIA_TYPE, headers=headers)


def for_error(err: e.OmnixError, instance: str | None) -> Response:
    retry = None
    if isinstance(err, e.RateLimitedError):
        retry = max(1, math.ceil(err.retry_after))
    return problem(slug_for(err), str(err), instance, retry_after=retry)


def install(app: FastAPI) -> None:
    """Register the handlers: omnix errors, request validation, HTTP errors, anything else."""

    async def omnix_error(request: Request, err: Exception) -> Response:
        assert isinstance(err, e.OmnixError)
        return for_error(err, request.url.path)

    async def invalid(request: Request, err: Exception) -> Response:
        assert isinstance(err, RequestValidationError)
        errors = [
            {"loc": list(x.get("loc", ())), "msg": x.get("msg", ""), "type": x.get("type", "")}
            for x in err.errors()
        ]  # the offending input is not echoed: it may be personal data
        return problem(
            "validation-failed", f"{len(errors)} invalid field(s)", request.url.path, errors=errors
        )

    async def http_error(request: Request, err: Exception) -> Response:
        assert isinstance(err, StarletteHTTPException)
        slug = _BY_STATUS.get(
            err.status_code, "bad-request" if err.status_code < 500 else "internal-error"
        )
        detail = err.detail if isinstance(err.detail, str) else None
        return problem(slug, detail, request.url.path)

    async def crash(request: Request, err: Exception) -> Response:
        log.exception("unhandled error", path=request.url.path)
        return problem("internal-error", None, request.url.path)

    app.add_exception_handler(e.OmnixError, omnix_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, crash)
