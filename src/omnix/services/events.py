"""Use case: purchase events posted in batches, each message counted once.

A batch is checked event by event with the contract's rules (`domain/events.check`); good
events become transaction lines, bad ones go to the rejects table with their raw JSON and a
reason (an erased customer's event without its content: it stays erased), and the store
remembers every message id, so a retried message (in a later batch or twice in one) is
reported as a duplicate and stored once. Lines are marked like a file's: negative quantity =
return; `line_seq` numbers repeats of a product within an order in the batch. Hot views of
the customers concerned are dropped from the cache.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from omnix.domain import contract as c
from omnix.domain.events import EVENTS_SOURCE, EventOutcome, Rejected, check, parse_ts
from omnix.domain.ingest import AnonymousPolicy, ErasedCustomers, RejectReason
from omnix.domain.ports import EventStore, ViewCache
from omnix.domain.pseudonym import pseudonym

_TEXT = (c.PRODUCT_NAME, c.CATEGORY, c.BRAND, c.CURRENCY, c.STORE_ID, c.CHANNEL, c.LINE_ID)
_IDS = (c.CUSTOMER_ID, c.ORDER_ID, c.PRODUCT_ID, c.STORE_ID, c.LINE_ID)


@dataclass(slots=True)
class EventService:
    store: EventStore
    cache: ViewCache
    pseudonymize_key: str | None = None
    anonymous: AnonymousPolicy = AnonymousPolicy.KEEP
    secret: str | None = None  # OMNIX_SECRET_KEY: recognises erased customers' events

    def ingest(self, events: list[dict[str, Any]]) -> EventOutcome:
        """Store a batch (dicts with message_id and the contract's columns, ts as ISO 8601
        text, optional `attributes`). received = stored + duplicates + rejected."""
        out = EventOutcome(received=len(events))
        batch_id = uuid.uuid4().hex
        now = datetime.now(UTC)
        firsts: dict[str, dict[str, Any]] = {}
        for event in events:
            mid = str(event["message_id"])
            if mid in firsts:
                out.duplicate_ids.append(mid)  # twice in one batch: the first counts
            else:
                firsts[mid] = event
        good: list[dict[str, Any]] = []
        bad: list[tuple[int, dict[str, Any] | None, Rejected]] = []
        erased = self._erased()
        for row, event in enumerate(firsts.values(), start=1):
            line = self._line(event)
            if erased and erased.among([str(event.get(c.CUSTOMER_ID) or "").strip()]):
                # an erased customer: counted, and nothing of the event kept
                bad.append(
                    (row, None, Rejected(line["message_id"], RejectReason.ERASED_CUSTOMER, ""))
                )
                continue
            problem = check(line, now) or self._anonymous(line)
            if problem:
                raw = {**event, c.CUSTOMER_ID: line[c.CUSTOMER_ID]}  # pseudonymized too
                bad.append((row, raw, Rejected(line["message_id"], *problem)))
            else:
                line[c.ROW_NUMBER] = row
                good.append(line)
        source = f"{EVENTS_SOURCE}:{batch_id}"
        seen = self.store.store_events(
            batch_id, _lines_table(good, source), _rejects_table(bad, source)
        )
        seen_set = set(seen)
        out.duplicate_ids += seen
        out.duplicates = len(out.duplicate_ids)
        out.rejects = [r for _, _, r in bad if r.message_id not in seen_set]
        out.rejected = len(out.rejects)
        out.stored = len(good) - sum(1 for g in good if g["message_id"] in seen_set)
        self.cache.drop_many({g[c.CUSTOMER_ID] for g in good if g[c.CUSTOMER_ID]})
        return out

    def _line(self, event: dict[str, Any]) -> dict[str, Any]:
        line: dict[str, Any] = {"message_id": str(event["message_id"])}
        for key in (c.CUSTOMER_ID, c.ORDER_ID, c.PRODUCT_ID, *_TEXT):
            value = event.get(key)
            text = None if value is None else str(value)
            if text is not None and key in _IDS:
                text = text.strip()
            line[key] = text or None
        if line[c.CUSTOMER_ID] and self.pseudonymize_key:
            line[c.CUSTOMER_ID] = pseudonym(self.pseudonymize_key, line[c.CUSTOMER_ID])
        ts_text = event.get(c.TS)
        line["ts_text"] = ts_text
        line[c.TS] = parse_ts(str(ts_text)) if ts_text else None
        quantity = event.get(c.QUANTITY)
        line[c.QUANTITY] = 1.0 if quantity is None else float(quantity)
        price = event.get(c.UNIT_PRICE)
        line[c.UNIT_PRICE] = None if price is None else float(price)
        attributes = event.get("attributes")
        line[c.ATTRIBUTES] = json.dumps(attributes) if attributes else None
        return line

    def _erased(self) -> ErasedCustomers | None:
        if not self.secret:
            return None
        return ErasedCustomers.known(self.secret, self.store.erased_subjects())

    def _anonymous(self, line: dict[str, Any]) -> tuple[RejectReason, str] | None:
        if line[c.CUSTOMER_ID] is None and self.anonymous is AnonymousPolicy.REJECT:
            return RejectReason.MISSING_CUSTOMER_ID, ""
        return None


def _lines_table(lines: list[dict[str, Any]], source: str) -> pa.Table:
    seq: Counter[tuple[str, str]] = Counter()
    for line in lines:
        key = (line[c.ORDER_ID], line[c.PRODUCT_ID])
        seq[key] += 1
        line[c.LINE_SEQ] = seq[key]
        line[c.LINE_TYPE] = "return" if line[c.QUANTITY] < 0 else "sale"

    def col(name: str, kind: pa.DataType) -> pa.Array:
        return pa.array([line[name] for line in lines], kind)

    strings = (c.CUSTOMER_ID, c.ORDER_ID, c.PRODUCT_ID, *_TEXT, c.LINE_TYPE, c.ATTRIBUTES)
    columns: dict[str, pa.Array] = {name: col(name, pa.string()) for name in strings}
    columns[c.TS] = col(c.TS, pa.timestamp("us", "UTC"))
    columns[c.QUANTITY] = col(c.QUANTITY, pa.float64())
    columns[c.UNIT_PRICE] = col(c.UNIT_PRICE, pa.float64())
    columns[c.LINE_SEQ] = col(c.LINE_SEQ, pa.int32())
    columns[c.ROW_NUMBER] = col(c.ROW_NUMBER, pa.int64())
    columns[c.IS_PRODUCT] = pa.array([True] * len(lines), pa.bool_())
    columns[c.SOURCE_ID] = pa.array([source] * len(lines), pa.string())
    columns["message_id"] = col("message_id", pa.string())
    return pa.table(columns)


def _rejects_table(bad: list[tuple[int, dict[str, Any] | None, Rejected]], source: str) -> pa.Table:
    return pa.table({
        "message_id": pa.array([r.message_id for _, _, r in bad], pa.string()),
        "source_id": pa.array([source] * len(bad), pa.string()),
        "source_file": pa.array([EVENTS_SOURCE] * len(bad), pa.string()),
        "row_number": pa.array([row for row, _, _ in bad], pa.int64()),
        "reason": pa.array([r.reason.value for _, _, r in bad], pa.string()),
        "detail": pa.array([r.detail for _, _, r in bad], pa.string()),
        "raw": pa.array(
            [None if e is None else json.dumps(e, default=str) for _, e, _ in bad], pa.string()
        ),
    })  # fmt: skip
