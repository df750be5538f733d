"""The embedded view cache: per-customer serialised views in this process, LRU and TTL.

Keyed by customer, so everything cached about one customer is dropped at once when new data
for them arrives, their consent changes, or they are erased. A Redis adapter with the same
four methods serves several API workers (issue 6 item 5, on PostgreSQL).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Collection


class MemoryViewCache:
    """At most `max_customers` customers, each entry valid for `ttl` seconds (0: off)."""

    def __init__(self, max_customers: int = 100_000, ttl: float = 300.0) -> None:
        self.max_customers = max_customers
        self.ttl = ttl
        self._items: OrderedDict[str, dict[str, tuple[float, bytes]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, customer_id: str, view: str) -> bytes | None:
        with self._lock:
            views = self._items.get(customer_id)
            if views is None or view not in views:
                return None
            expires, value = views[view]
            if expires < time.monotonic():
                del views[view]
                return None
            self._items.move_to_end(customer_id)
            return value

    def put(self, customer_id: str, view: str, value: bytes) -> None:
        if self.max_customers <= 0 or self.ttl <= 0:
            return
        with self._lock:
            views = self._items.setdefault(customer_id, {})
            views[view] = (time.monotonic() + self.ttl, value)
            self._items.move_to_end(customer_id)
            while len(self._items) > self.max_customers:
                self._items.popitem(last=False)

    def drop(self, customer_id: str) -> None:
        with self._lock:
            self._items.pop(customer_id, None)

    def drop_many(self, customer_ids: Collection[str]) -> None:
        with self._lock:
            for customer_id in customer_ids:
                self._items.pop(customer_id, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
