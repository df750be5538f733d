"""A small analysed store and API clients over it, shared by the API tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from omnix.bootstrap import Container, bootstrap
from omnix.domain.access import Role
from omnix.domain.ingest import IngestOptions
from omnix.entrypoints.api.app import create_app
from omnix.generate import GeneratorConfig
from tests.backends import StoreRef

START = dt.date(2025, 1, 1)
DAYS = 120
AS_OF = START + dt.timedelta(days=DAYS)
# a file whose rejected rows name customers: C000001 (also stored by the demo) and C0000011,
# whose id contains the first one's (erasure must match whole values only)
REJECTS_CSV = (
    "customer_id,order_id,ts,product_id,unit_price\n"
    "C000001,X1,2025-02-01T10:00:00,P00001,-1\n"
    "C0000011,X2,2025-02-01T10:00:00,P00001,-1\n"
    "C000002,X3,not-a-time,P00001,1\n"
)


def build_store(data: StoreRef, root: Path) -> StoreRef:
    """Generate, ingest and analyse 60 customers over 120 days; add a file with rejects."""
    with opened(data) as container:
        config = GeneratorConfig(customers=60, days=DAYS, seed=3, start=START)
        container.demo_service().run(config)
        bad = root / "with-rejects.csv"
        bad.write_text(REJECTS_CSV)
        container.ingest_service().ingest([bad], IngestOptions())
    return data


@contextmanager
def opened(data: Path | StoreRef, **settings: Any) -> Iterator[Container]:
    """The wired container on a store (a data directory means the DuckDB file in it)."""
    ref = data if isinstance(data, StoreRef) else StoreRef(data)
    container = bootstrap(ref.settings(**settings))
    try:
        yield container
    finally:
        container.close()


@dataclass
class Api:
    client: TestClient
    container: Container
    keys: dict[Role, str]

    def auth(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


@contextmanager
def api(data: Path | StoreRef, **settings: Any) -> Iterator[Api]:
    """A TestClient on the store at `data`, with one key per role."""
    with opened(data, **settings) as container:
        keys = {role: container.keys_service().create(role, f"test {role}")[1] for role in Role}
        app = create_app(container)
        with TestClient(app, raise_server_exceptions=False) as client:
            warming = app.state.omnix.warming
            if warming is not None:  # tests start from a warmed cache, as a server settles
                warming.join(timeout=120)
            yield Api(client, container, keys)
