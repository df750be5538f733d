"""PostgreSQL specifics of the store: Arrow -> CSV -> COPY keeps every value, rejected rows are
matched field by field as DuckDB matches them, and configuration errors are one clear line."""

from __future__ import annotations

import datetime as dt
import math
import sys
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from omnix.adapters.warehouse.duckdb_ops import _RAW_FIELDS
from omnix.adapters.warehouse.postgres_store import connect, copy_arrow, redact
from omnix.adapters.warehouse.records import raw_fields
from omnix.bootstrap import open_warehouse
from omnix.config import Settings
from omnix.domain.errors import MissingExtraError, StoreError
from tests.backends import StoreRef

UTC = dt.UTC


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_arrow_values_survive_the_copy(store: StoreRef) -> None:
    rows = pa.table({
        "s": ["plain", "", None, 'quote " comma , newline \n end', "ünïcödé"],
        "f": [0.1 + 0.2, 1e-300, math.nan, math.inf, -math.inf],
        "ts": pa.array([dt.datetime(2025, 1, 1, 10, 0, 0, 123456, tzinfo=UTC), None,
                        dt.datetime(1900, 1, 1, tzinfo=UTC), dt.datetime(2025, 6, 1, tzinfo=UTC),
                        dt.datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)],
                       pa.timestamp("us", "Europe/Berlin")),
        "d": pa.array([dt.date(2025, 1, 1), None, None, None, dt.date(1999, 12, 31)]),
        "b": [True, False, None, True, False],
        "i": pa.array([1, None, -3, 2**40, 0], pa.int64()),
    })  # fmt: skip
    assert store.url is not None
    with connect(store.url) as con, con.cursor() as cur:
        cur.execute("CREATE TABLE t (s TEXT, f DOUBLE PRECISION, ts TIMESTAMPTZ, d DATE, "
                    "b BOOLEAN, i BIGINT)")  # fmt: skip
        assert copy_arrow(cur, "t", rows) == 5
        got = cur.execute("SELECT * FROM t").fetchall()
    want = rows.to_pylist()
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g[0] == w["s"]
        assert (math.isnan(g[1]) and math.isnan(w["f"])) or g[1] == w["f"]
        assert g[2] == w["ts"] and g[3] == w["d"] and g[4] == w["b"] and g[5] == w["i"]


RAWS = [
    '{"customer_id": "C000001", "order_id": "X1"}',
    '{"customer_id": 13085.0, "ts": "bad"}',
    '{"customer_id": "C0000011"}',
    " C000001 ;o1;2024-01-01",
    'c1,"C000001",x',
    "C000001|a",
    "{not json, C000001",
    '{"nested": {"customer_id": "C000001"}, "n": null, "t": true}',
    "",
]


def test_rejected_rows_split_into_the_same_fields_in_python_and_duckdb() -> None:
    con = duckdb.connect()
    for raw in RAWS:
        (sql,) = con.execute(f"SELECT {_RAW_FIELDS} FROM (SELECT ? AS raw)", [raw]).fetchall()[0]
        assert raw_fields(raw) == [v for v in sql if v is not None], raw


def test_a_missing_postgres_extra_says_which_pip_install(monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, "omnix.adapters.warehouse.postgres_store", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'omnix\[postgres\]'"):
        open_warehouse(Settings(warehouse_url="postgresql://x@localhost/none"))


def test_an_unreachable_server_is_one_line_without_the_password(tmp_path: Any) -> None:
    url = "postgresql://omnix:s3cret@127.0.0.1:1/omnix"
    with pytest.raises(StoreError) as err:
        open_warehouse(Settings(data_dir=tmp_path, database_url=url))
    message = str(err.value)
    assert "s3cret" not in message and "omnix:***@127.0.0.1:1" in message
    assert "\n" not in message
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"


def test_two_different_store_urls_are_refused() -> None:
    from omnix.domain.errors import ConfigError

    settings = Settings(warehouse_url="duckdb:///a.duckdb", database_url="postgresql://h/db")
    with pytest.raises(ConfigError, match="name different stores"):
        settings.store_url()


def test_the_store_is_shown_without_its_password() -> None:
    settings = Settings(database_url="postgresql://omnix:s3cret@db:5432/omnix")
    assert settings.store_label() == "postgresql://omnix:***@db:5432/omnix"
    assert Settings(data_dir=Path("d")).store_label() == "duckdb://d/omnix.duckdb"
