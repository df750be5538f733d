"""The purchase-history generator: files, formats, determinism, and truth against data."""

from __future__ import annotations

import datetime
import json
import pathlib
from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq
import pytest

from omnix.domain.contract import (
    CUSTOMER_ID,
    CUSTOMERS,
    LINE_ID,
    ORDER_ID,
    PRODUCT_ID,
    PRODUCTS,
    QUANTITY,
    TRANSACTIONS,
    TS,
    UNIT_PRICE,
)
from omnix.domain.errors import ConfigError
from omnix.generate import (
    ARCHETYPES,
    FORMATS,
    GenerateResult,
    GeneratorConfig,
    generate,
    iter_batches,
)
from omnix.generate.sinks import open_sink

START = datetime.date(2025, 1, 1)
DAYS = 365
BIG = GeneratorConfig(customers=2_000, days=DAYS, seed=11, start=START)
SMALL = GeneratorConfig(customers=150, days=60, seed=3, start=START)


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> GenerateResult:
    return generate(BIG, tmp_path_factory.mktemp("big") / "history.parquet")


@pytest.fixture(scope="module")
def db(big: GenerateResult) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name, path in big.files.items():
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
    yield con
    con.close()


def one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    """The single value `sql` returns."""
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


# --- files and formats -------------------------------------------------------------


def test_result_counts_match_the_files(big: GenerateResult) -> None:
    assert pq.read_metadata(big.files["transactions"]).num_rows == big.lines
    assert pq.read_metadata(big.files["customers"]).num_rows == big.customers == BIG.customers
    assert pq.read_metadata(big.files["products"]).num_rows == big.products
    assert 300 <= big.products <= 2_000
    assert 80 <= big.lines / BIG.customers <= 140  # the documented ~105-110 lines a year


def test_transaction_schema_is_the_contract_without_line_id(big: GenerateResult) -> None:
    schema = pq.read_schema(big.files["transactions"])
    assert schema.names == [n for n in TRANSACTIONS.names if n != LINE_ID]
    assert schema.field(TS).type == pa.timestamp("us", tz="UTC")
    assert schema.field(QUANTITY).type == pa.float64()
    assert schema.field(UNIT_PRICE).type == pa.float64()
    strings = set(schema.names) - {TS, QUANTITY, UNIT_PRICE}
    assert all(schema.field(n).type == pa.string() for n in strings)


def test_products_and_customers_follow_their_contracts(big: GenerateResult) -> None:
    assert pq.read_schema(big.files["products"]).names == list(PRODUCTS.names)
    customers = pq.read_schema(big.files["customers"]).names
    assert customers == [n for n in CUSTOMERS.names if n in customers]
    assert {CUSTOMER_ID, "first_seen", "country", "region"} <= set(customers)


@pytest.mark.parametrize("suffix", FORMATS)
def test_every_format_round_trips(tmp_path: pathlib.Path, suffix: str) -> None:
    out = tmp_path / f"small{suffix}"
    result = generate(SMALL, out)
    if suffix == ".parquet":
        back = pq.read_table(out)
    elif suffix == ".jsonl":
        back = pa_json.read_json(out)
    else:
        back = pa_csv.read_csv(out)  # gzip / zstd picked from the extension
    assert back.num_rows == result.lines > 0
    assert back.column_names == [n for n in TRANSACTIONS.names if n != LINE_ID]
    with duckdb.connect() as con:
        [(count, units)] = con.execute(f"SELECT count(*), sum({QUANTITY}) FROM '{out}'").fetchall()
    assert count == result.lines
    assert units == pytest.approx(pc.sum(back[QUANTITY]).as_py())
    for role in ("truth", "products", "customers"):
        assert result.files[role] == out.with_name(f"{out.name}.{role}.parquet")
        assert result.files[role].exists()


def test_json_lines_escape_strings_and_write_nulls(tmp_path: pathlib.Path) -> None:
    names = ["plain", 'say "hi"', "back\\slash", "two\nlines", None]
    values = [1.0, 2.5, float("nan"), None, -3.0]
    when = pa.array([0, 1, 2, 3, None], pa.timestamp("us", tz="UTC"))
    batch = pa.RecordBatch.from_pydict({"name": names, "value": values, "ts": when})
    sink = open_sink(tmp_path / "odd.jsonl", batch.schema)
    sink.write(batch)
    sink.close()
    rows = [json.loads(line) for line in (tmp_path / "odd.jsonl").read_text().splitlines()]
    assert [r["name"] for r in rows] == names
    assert [r["value"] for r in rows] == [1.0, 2.5, None, None, -3.0]
    assert rows[1]["ts"] == "1970-01-01T00:00:00.000001Z" and rows[4]["ts"] is None
    assert '"value":1.0,' in (tmp_path / "odd.jsonl").read_text()  # floats stay floats


def test_unknown_suffix_is_refused(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ConfigError, match="unsupported"):
        generate(SMALL, tmp_path / "history.xlsx")
    assert not list(tmp_path.iterdir())  # refused before writing anything


def test_impossible_config_is_refused(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ConfigError, match="customers"):
        GeneratorConfig(customers=0)
    christmas = GeneratorConfig(customers=5, days=1, start=datetime.date(2025, 12, 25))
    with pytest.raises(ConfigError, match="no open shopping day"):
        generate(christmas, tmp_path / "closed.parquet")
    assert not list(tmp_path.iterdir())


def test_progress_reports_every_line(tmp_path: pathlib.Path) -> None:
    seen: list[int] = []
    result = generate(
        GeneratorConfig(customers=300, days=30, chunk_customers=100), tmp_path / "p.parquet",
        progress=seen.append,
    )  # fmt: skip
    assert len(seen) == 3
    assert sum(seen) == result.lines
    lines = pq.read_table(result.files["transactions"], columns=[ORDER_ID, CUSTOMER_ID])
    per_order = lines.group_by(ORDER_ID).aggregate([(CUSTOMER_ID, "count_distinct")])
    assert per_order.num_rows == result.orders  # order ids stay unique across chunks
    assert pc.max(per_order[f"{CUSTOMER_ID}_count_distinct"]).as_py() == 1


# --- determinism ---------------------------------------------------------------------


def _tables(result: GenerateResult) -> dict[str, pa.Table]:
    return {role: pq.read_table(path) for role, path in result.files.items()}


def test_same_seed_gives_identical_files(tmp_path: pathlib.Path) -> None:
    first = _tables(generate(SMALL, tmp_path / "a.parquet"))
    second = _tables(generate(SMALL, tmp_path / "b.parquet"))
    for role, table in first.items():
        assert table.equals(second[role]), role
    batches = pa.Table.from_batches(list(iter_batches(SMALL)))
    assert batches.equals(first["transactions"])


def test_other_seed_gives_other_data(tmp_path: pathlib.Path) -> None:
    first = pq.read_table(generate(SMALL, tmp_path / "a.parquet").files["transactions"])
    other = GeneratorConfig(customers=SMALL.customers, days=SMALL.days, seed=SMALL.seed + 1)
    second = pq.read_table(generate(other, tmp_path / "b.parquet").files["transactions"])
    assert not first.equals(second)


# --- orders --------------------------------------------------------------------------


def test_orders_are_unique_contiguous_and_in_time_order(db: duckdb.DuckDBPyConnection) -> None:
    per_order = """SELECT order_id, count(DISTINCT customer_id) c, count(DISTINCT ts) t
                   FROM transactions GROUP BY order_id"""
    assert one(db, f"SELECT max(c) + max(t) FROM ({per_order})") == 2
    runs = """SELECT order_id, rn - row_number() OVER (PARTITION BY order_id ORDER BY rn) grp
              FROM (SELECT order_id, row_number() OVER () rn FROM transactions)"""
    contiguous = f"SELECT count(DISTINCT (order_id, grp)) = count(DISTINCT order_id) FROM ({runs})"
    assert one(db, contiguous) is True
    in_file = """SELECT ts, customer_id, lag(ts) OVER () prev, lag(customer_id) OVER () pc
                 FROM transactions"""
    assert one(db, f"SELECT count(*) FROM ({in_file}) WHERE customer_id = pc AND ts < prev") == 0


def test_shop_calendar(db: duckdb.DuckDBPyConnection) -> None:
    by_day = "SELECT ts::DATE d, count(*) n FROM transactions GROUP BY 1"
    closed = f"SELECT count(*) FROM ({by_day}) WHERE month(d) * 100 + day(d) IN (1225, 101)"
    assert one(db, closed) == 0
    weekday = dict(db.execute(f"SELECT isodow(d), avg(n) FROM ({by_day}) GROUP BY 1").fetchall())
    assert weekday[6] > 1.2 * weekday[2] > 1.2 * weekday[7]  # Saturday > Tuesday > Sunday
    nov = one(db, f"SELECT avg(n) FROM ({by_day}) WHERE month(d) = 11")
    dec = one(db, f"SELECT avg(n) FROM ({by_day}) WHERE month(d) = 12 AND day(d) < 24")
    assert isinstance(nov, float) and isinstance(dec, float) and dec > 1.2 * nov


def test_promotions_make_bargain_hunters_buy_more(db: duckdb.DuckDBPyConnection) -> None:
    promo = """SELECT t.quantity q, t.unit_price < 0.97 * p.unit_price AS on_promo, a.archetype
               FROM transactions t JOIN products p USING (product_id)
               JOIN (SELECT DISTINCT customer_id, archetype FROM truth) a USING (customer_id)
               WHERE t.quantity > 0 AND t.ts < TIMESTAMPTZ '2025-03-01'"""
    rows = db.execute(f"SELECT archetype, on_promo, avg(q) FROM ({promo}) GROUP BY ALL").fetchall()
    mean = {(a, p): q for a, p, q in rows}
    assert mean[("bargain_hunter", True)] > 1.5 * mean[("bargain_hunter", False)]
    assert mean[("loyal_weekly", True)] < mean[("bargain_hunter", True)]


# --- truth against data --------------------------------------------------------------


def test_all_archetypes_are_present(db: duckdb.DuckDBPyConnection) -> None:
    found = {r[0] for r in db.execute("SELECT DISTINCT archetype FROM truth").fetchall()}
    assert found == {a.value for a in ARCHETYPES}


def test_truth_purchase_counts_match_the_data(db: duckdb.DuckDBPyConnection) -> None:
    counts = """SELECT customer_id, product_id, count(*) n FROM transactions
                WHERE quantity > 0 GROUP BY ALL"""
    joined = f"""SELECT t.n_purchases, coalesce(c.n, 0) n FROM truth t
                 LEFT JOIN ({counts}) c USING (customer_id, product_id)"""
    assert one(db, "SELECT count(*) FROM truth") > 5_000
    assert one(db, f"SELECT count(*) FROM ({joined}) WHERE n_purchases <> n") == 0
    repeat = one(db, "SELECT sum(n_purchases) / (SELECT count(*) FROM transactions) FROM truth")
    assert isinstance(repeat, float) and repeat > 0.5  # most lines are repeat purchases


def test_truth_first_seen_is_the_first_purchase(db: duckdb.DuckDBPyConnection) -> None:
    first = "SELECT customer_id, min(ts)::DATE d FROM transactions GROUP BY 1"
    joined = f"SELECT DISTINCT t.first_seen, f.d FROM truth t JOIN ({first}) f USING (customer_id)"
    assert one(db, f"SELECT count(*) FROM ({joined}) WHERE first_seen <> d") == 0
    late = one(db, f"SELECT avg((d > DATE '2025-03-01')::INT) FROM ({first})")
    assert isinstance(late, float) and 0.15 < late < 0.5  # new customers arrive all year


def test_churned_customers_buy_nothing_after_churn(db: duckdb.DuckDBPyConnection) -> None:
    churned = "SELECT DISTINCT customer_id, churn_date FROM truth WHERE churn_date IS NOT NULL"
    assert one(db, f"SELECT count(*) FROM ({churned})") > 100
    after = f"""SELECT count(*) FROM transactions JOIN ({churned}) USING (customer_id)
                WHERE ts::DATE >= churn_date"""
    assert one(db, after) == 0


def test_cycle_days_is_the_mean_gap_of_one_unit_pairs(db: duckdb.DuckDBPyConnection) -> None:
    pairs = """SELECT customer_id, product_id, count(*) n, max(quantity) top,
                      date_diff('day', min(ts)::DATE, max(ts)::DATE) / (count(*) - 1) gap
               FROM transactions WHERE quantity > 0 GROUP BY ALL"""
    ratios = f"""SELECT p.gap / t.cycle_days r
                 FROM ({pairs}) p JOIN truth t USING (customer_id, product_id)
                 WHERE p.top = 1 AND p.n >= 5 AND t.regularity >= 0.5"""
    assert one(db, f"SELECT count(*) FROM ({ratios})") > 300
    assert one(db, f"SELECT median(r) FROM ({ratios})") == pytest.approx(1.0, abs=0.05)


def test_a_purchase_of_two_units_lasts_twice_as_long(db: duckdb.DuckDBPyConnection) -> None:
    last_day = START + datetime.timedelta(days=DAYS - 1)
    gaps = """SELECT customer_id, product_id, quantity q, ts::DATE d,
                     lead(ts::DATE) OVER (PARTITION BY customer_id, product_id ORDER BY ts) nd
              FROM transactions WHERE quantity > 0"""
    # Only gaps that start early enough to end inside the history: no censoring bias.
    scaled = f"""SELECT g.q, date_diff('day', g.d, g.nd) / t.cycle_days x
                 FROM ({gaps}) g JOIN truth t USING (customer_id, product_id)
                 WHERE g.nd IS NOT NULL AND t.churn_date IS NULL AND t.mean_quantity < 1.5
                   AND date_diff('day', g.d, DATE '{last_day}') > 6 * g.q * t.cycle_days"""
    mean = dict(db.execute(f"SELECT q, avg(x) FROM ({scaled}) GROUP BY q").fetchall())
    assert mean[1.0] == pytest.approx(1.0, abs=0.05)
    assert mean[2.0] / mean[1.0] == pytest.approx(2.0, abs=0.2)


def test_returns_are_negative_and_follow_a_purchase(db: duckdb.DuckDBPyConnection) -> None:
    returns = "SELECT * FROM transactions WHERE quantity < 0"
    n = one(db, f"SELECT count(*) FROM ({returns})")
    lines = one(db, "SELECT count(*) FROM transactions")
    assert isinstance(n, int) and isinstance(lines, int) and 0.002 * lines < n < 0.03 * lines
    orphan = f"""SELECT count(*) FROM ({returns}) r WHERE NOT EXISTS (
                   SELECT 1 FROM transactions s WHERE s.customer_id = r.customer_id
                   AND s.product_id = r.product_id AND s.ts < r.ts
                   AND s.quantity >= -r.quantity AND s.unit_price = r.unit_price)"""
    assert one(db, orphan) == 0


def test_keys_are_well_formed(db: duckdb.DuckDBPyConnection) -> None:
    nulls = f"SELECT count(*) FROM transactions WHERE {CUSTOMER_ID} IS NULL OR {ORDER_ID} IS NULL"
    assert one(db, nulls) == 0
    unknown = f"""SELECT count(*) FROM transactions t ANTI JOIN products p USING ({PRODUCT_ID})"""
    assert one(db, unknown) == 0
    cheapest = one(db, "SELECT min(unit_price) FROM transactions")
    assert isinstance(cheapest, float) and cheapest > 0
