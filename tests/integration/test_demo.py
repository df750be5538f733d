"""The demo keeps to its own data: it rebuilds a demo-only store and refuses a user's store."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from omnix.domain.errors import ConfigError
from omnix.generate import GeneratorConfig
from tests.backends import StoreRef
from tests.integration.helpers import ingest, opened, query, write


def run_demo(data: Path, start: datetime.date) -> None:
    with opened(data_dir=data) as container:
        config = GeneratorConfig(customers=30, days=40, seed=5, start=start)
        container.demo_service().run(config)


def test_rerun_on_another_day_replaces_the_demo_history(tmp_path: Path, store: StoreRef) -> None:
    data = store
    run_demo(data, datetime.date(2026, 1, 1))
    first = query(data, "SELECT count(*), min(ts) FROM transactions")[0]
    run_demo(data, datetime.date(2026, 2, 1))
    second = query(data, "SELECT count(*), min(ts) FROM transactions")[0]
    assert second[1].date() >= datetime.date(2026, 2, 1)  # nothing left of the January history
    assert first[0] > 0 and second[0] > 0
    assert query(data, "SELECT count(*) FROM sources") == [(3,)]


def test_demo_refuses_a_store_with_user_data(tmp_path: Path, store: StoreRef) -> None:
    data = store
    header = "customer_id,order_id,ts,product_id\n"
    ingest(data, write(tmp_path / "mine.csv", header + "c1,o1,2024-01-01,p1\n"))
    with pytest.raises(ConfigError, match=r"holds other data \(mine.csv\)"):
        run_demo(data, datetime.date(2026, 1, 1))
    assert query(data, "SELECT count(*) FROM transactions") == [(1,)]
