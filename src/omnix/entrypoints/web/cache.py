"""Aggregates the dashboard shows, kept in memory until the store changes.

A page's data is built once per store version and reused for at most `ttl` seconds. The
version is the latest entry of the runs table (every ingest, analyze, predict and backtest
writes one) and the number of transaction lines (purchase events posted over the API add
lines without a run): one cheap query per page view.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from omnix.domain.ports import Warehouse

T = TypeVar("T")


def store_version(warehouse: Warehouse, *tables: str) -> Hashable:
    """The latest run and the number of transaction lines (and of rows in `tables`: a page
    that lists customers by consent adds `consents`, an append-only log, so a consent change
    is a new version)."""
    last = warehouse.recent("runs", "started_at", 1)
    run = (last[0]["run_id"], last[0]["status"]) if last else None
    counts = warehouse.table_counts()
    return run, counts.get("transactions"), *(counts.get(t) for t in tables)


@dataclass(slots=True)
class PageCache:
    ttl: float = 60.0
    entries: int = 256
    _items: OrderedDict[Hashable, tuple[float, Hashable, Any]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: Hashable, version: Hashable, build: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] > now and hit[1] == version:
                self._items.move_to_end(key)
                value: T = hit[2]
                return value
        value = build()
        with self._lock:
            self._items[key] = (now + self.ttl, version, value)
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
