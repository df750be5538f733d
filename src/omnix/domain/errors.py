"""Every error omnix raises on purpose, as one tree.

    OmnixError                    base: a clear one-line message for a person
    ├── ConfigError               settings or options that cannot work together
    ├── InputError                what the user handed us cannot be read
    │   ├── SourceNotFoundError   a file that does not exist
    │   ├── UnsupportedFormatError  a file type omnix cannot read
    │   ├── MappingError          a column map or preset that does not fit the file
    │   └── NotFoundError         a customer, product ... the store does not know
    ├── StoreError                the store cannot do what was asked
    │   ├── StoreLockedError      another process holds the database
    │   ├── EmptyStoreError       nothing ingested yet
    │   └── ConflictError         the request clashes with work in progress (a running job)
    ├── AccessError               who is asking may not do this
    │   ├── AuthenticationError   no API key, or one omnix does not know (or revoked)
    │   └── PermissionDeniedError a known key whose role does not allow this
    ├── LimitError                a limit protecting the service was hit
    │   ├── RateLimitedError      too many requests for this key; retry after `retry_after` s
    │   └── PayloadTooLargeError  a request body above the configured size
    └── MissingExtraError         an optional dependency is not installed

Vendor exceptions (DuckDB, pyarrow, ...) stop at the adapter that caught them and are
re-raised as one of these, so entry points map one hierarchy to exit codes and HTTP.
"""

from __future__ import annotations


class OmnixError(Exception):
    """Base of all omnix errors; `str(err)` is a one-line message for a person."""

    exit_code: int = 1


class ConfigError(OmnixError):
    exit_code = 2


class InputError(OmnixError):
    exit_code = 3


class SourceNotFoundError(InputError):
    pass


class UnsupportedFormatError(InputError):
    pass


class MappingError(InputError):
    pass


class NotFoundError(InputError):
    pass


class StoreError(OmnixError):
    exit_code = 4


class StoreLockedError(StoreError):
    exit_code = 5


class EmptyStoreError(StoreError):
    pass


class ConflictError(StoreError):
    pass


class AccessError(OmnixError):
    exit_code = 6


class AuthenticationError(AccessError):
    pass


class PermissionDeniedError(AccessError):
    pass


class LimitError(OmnixError):
    exit_code = 7


class RateLimitedError(LimitError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds until a request would be allowed


class PayloadTooLargeError(LimitError):
    pass


class MissingExtraError(OmnixError):
    exit_code = 2

    def __init__(self, feature: str, extra: str) -> None:
        super().__init__(f"{feature} needs an optional extra: pip install 'omnix[{extra}]'")
        self.extra = extra
