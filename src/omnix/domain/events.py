"""Purchase events: one order line per message, posted in batches (POST /v1/events).

Each event carries a client `message_id`; a retried message is counted once (the store keeps
the ids it has seen). An event that breaks a rule of the contract is rejected with the same
reasons a file's row would get (`domain/ingest.RejectReason`), kept in the rejects table with
its raw JSON, and the rest of the batch is stored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from omnix.domain.ingest import RejectReason

MAX_MESSAGE_ID: Final = 200  # characters
EVENTS_SOURCE: Final = "api-events"  # the source_id prefix of lines that came as events
EARLIEST: Final = datetime(1900, 1, 1, tzinfo=UTC)
FUTURE_SLACK: Final = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Rejected:
    message_id: str
    reason: RejectReason
    detail: str


@dataclass(slots=True)
class EventOutcome:
    """What became of one batch: received = stored + duplicates + rejected."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    duplicate_ids: list[str] = field(default_factory=list)
    rejects: list[Rejected] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return self.received == self.stored + self.duplicates + self.rejected


def parse_ts(value: str, default_tz: Any = UTC) -> datetime | None:
    """An ISO 8601 timestamp (naive values in `default_tz`), or None."""
    try:
        ts = datetime.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        return None
    return ts.replace(tzinfo=default_tz) if ts.tzinfo is None else ts


def check(event: dict[str, Any], now: datetime) -> tuple[RejectReason, str] | None:
    """The first contract rule an event breaks, with the offending value; None when good.

    `event` has the contract's column names; `ts` is already parsed (or None when the text
    was not a timestamp: `ts_text` holds what was sent)."""
    for key, reason in (
        ("order_id", RejectReason.MISSING_ORDER_ID),
        ("product_id", RejectReason.MISSING_PRODUCT_ID),
    ):
        if not (event.get(key) or "").strip():
            return reason, ""
    if not event.get("ts_text"):
        return RejectReason.MISSING_TS, ""
    ts = event.get("ts")
    if ts is None:
        return RejectReason.INVALID_TS, str(event["ts_text"])
    if ts < EARLIEST or ts > now + FUTURE_SLACK:
        return RejectReason.TS_OUT_OF_RANGE, str(event["ts_text"])
    quantity = event.get("quantity")
    if quantity is not None and not math.isfinite(quantity):
        return RejectReason.INVALID_QUANTITY, str(quantity)
    if quantity == 0:
        return RejectReason.ZERO_QUANTITY, "0"
    price = event.get("unit_price")
    if price is not None and not math.isfinite(price):
        return RejectReason.INVALID_UNIT_PRICE, str(price)
    if price is not None and price < 0:
        return RejectReason.NEGATIVE_UNIT_PRICE, str(price)
    return None
