"""Changes committed to the PostgreSQL store, announced to every server process.

Several processes serve one PostgreSQL store, and the command line may write to it while they
run (`omnix ingest`, `omnix analyze`). Each keeps hot views and known API keys in memory, so
each must hear what another process changed. The store sends `NOTIFY omnix_changes` inside
the writing transaction (PostgreSQL delivers it only if that transaction commits), and each
server listens on a connection of its own (`ChangeListener`).

A message is JSON: [sender, kind, ids]. `sender` identifies the process (it already applied
its own change and ignores the echo); kinds are `customers` (their data changed: ids), `all`
(any customer's may have: a file, a reset), `snapshot` (an analysis stored a new one), `keys`
(API keys revoked: ids). Long id lists are split so each payload stays under PostgreSQL's
8,000-byte limit.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Final

import psycopg
import structlog

from omnix.domain.ports import ChangeHandler

log = structlog.get_logger(__name__)
CHANNEL: Final = "omnix_changes"
SENDER: Final = uuid.uuid4().hex[:12]  # this process
MAX_PAYLOAD: Final = 7_000  # bytes, under PostgreSQL's 8,000


def payloads(kind: str, ids: Iterable[str] = ()) -> list[str]:
    """The messages announcing `kind` for `ids` (one when there are none)."""
    out: list[str] = []
    chunk: list[str] = []
    size = 0
    for i in ids:
        cost = len(json.dumps(i)) + 1
        if chunk and size + cost > MAX_PAYLOAD:
            out.append(json.dumps([SENDER, kind, chunk]))
            chunk, size = [], 0
        chunk.append(i)
        size += cost
    if chunk or not out:
        out.append(json.dumps([SENDER, kind, chunk]))
    return out


def announce(cur: psycopg.Cursor[Any], kind: str, ids: Iterable[str] = ()) -> None:
    """Queue the change's messages in the current transaction (sent when it commits)."""
    for payload in payloads(kind, ids):
        cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))


class ChangeListener:
    """A daemon thread on its own connection that hands other processes' changes to
    `handler(kind, ids)`. `stop()` ends it."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], handler: ChangeHandler):
        self._connect, self._handler = connect, handler
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="omnix-changes", daemon=True)

    def start(self) -> ChangeListener:
        self._thread.start()
        self._ready.wait(10)  # listening before the caller goes on: no change is missed
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self._connect() as con:
                    con.execute(f"LISTEN {CHANNEL}")
                    self._ready.set()
                    while not self._stop.is_set():
                        for note in con.notifies(timeout=0.5, stop_after=100):
                            self._deliver(note.payload)
            except psycopg.Error:  # the server restarted: listen again
                log.warning("change listener reconnecting", exc_info=True)
                self._ready.set()
                self._stop.wait(1.0)

    def _deliver(self, payload: str) -> None:
        try:
            sender, kind, ids = json.loads(payload)
        except ValueError:
            return
        if sender == SENDER:
            return
        try:
            self._handler(str(kind), [str(i) for i in ids])
        except Exception:  # a cache must never take the listener down
            log.exception("applying a store change failed", kind=kind)
