"""Ingest against both real stores (the DuckDB file, a PostgreSQL database): validation,
loss-free accounting, idempotency, formats."""

from __future__ import annotations

import csv
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from structlog.testing import capture_logs

from omnix.adapters.warehouse.duckdb_load import POSITION
from omnix.domain import contract as c
from omnix.domain.errors import (
    ConfigError,
    InputError,
    MappingError,
    NotFoundError,
    SourceNotFoundError,
)
from omnix.domain.ingest import (
    AnonymousPolicy,
    ExtraColumns,
    IngestOptions,
    IngestSummary,
    NumberFormat,
    preset_by_name,
)
from tests.backends import StoreRef
from tests.integration.helpers import ingest, opened, query, write

HEADER = "customer_id,order_id,ts,product_id,quantity,unit_price,Country\n"
# every line's position within its order, as written or derived (both engines)
POSITIONS = f"SELECT order_id, {POSITION} AS p FROM transactions"

# One row per reject reason, each failing exactly one rule, plus good rows around them.
BAD_ROWS = {
    "missing_order_id": "c1,,2024-01-01 10:00,p1,1,1.0,UK",
    "missing_product_id": "c1,o2,2024-01-01 10:00,,1,1.0,UK",
    "missing_ts": "c1,o3,,p1,1,1.0,UK",
    "invalid_ts": "c1,o4,2024-13-45 99:00,p1,1,1.0,UK",
    "ts_out_of_range": "c1,o5,1850-01-01 10:00,p1,1,1.0,UK",
    "invalid_quantity": "c1,o6,2024-01-01 10:00,p1,two,1.0,UK",
    "zero_quantity": "c1,o7,2024-01-01 10:00,p1,0,1.0,UK",
    "invalid_unit_price": "c1,o8,2024-01-01 10:00,p1,1,1.0.0,UK",
    "negative_unit_price": "c1,o9,2024-01-01 10:00,p1,1,-2,UK",
    "malformed_row": "c1,o10,2024-01-01 10:00",
}
GOOD_ROWS = [
    "c1,g1,2024-01-01 10:00,p1,2,1.5,UK",
    "c1,g1,2024-01-01 10:00,p2,1,3.0,UK",
    "c2,g2,2024-01-02T08:00:00Z,p1,,1.5,FR",  # empty quantity = 1
    ",g3,2024-01-03,p3,1,2.0,FR",  # anonymous shopper
    "c2,g4,2024-01-04 12:00,p1,-1,1.5,FR",  # a return
]


def mixed_csv(tmp_path: Path) -> Path:
    return write(tmp_path / "mixed.csv", HEADER + "\n".join([*GOOD_ROWS, *BAD_ROWS.values()]))


def test_every_reject_reason_is_reported_with_row_and_original(
    tmp_path: Path, store: StoreRef
) -> None:
    data = store
    (s,) = ingest(data, mixed_csv(tmp_path))
    assert s.reject_reasons == dict.fromkeys(BAD_ROWS, 1)
    assert (s.read, s.stored, s.rejected) == (15, 5, 10)
    assert s.balanced
    assert s.rejects_file is not None
    with Path(s.rejects_file).open() as fh:
        rows = {r["reason"]: r for r in csv.DictReader(fh)}
    assert set(rows) == set(BAD_ROWS)
    # row numbers are 1-based data rows: the bad rows follow the 5 good ones, in order
    for offset, reason in enumerate(BAD_ROWS, start=len(GOOD_ROWS) + 1):
        assert int(rows[reason]["row_number"]) == offset, reason
        assert rows[reason]["source_file"] == "mixed.csv"
    assert json.loads(rows["invalid_ts"]["raw"])["ts"] == "2024-13-45 99:00"
    assert rows["invalid_ts"]["detail"] == "2024-13-45 99:00"
    assert rows["malformed_row"]["raw"] == BAD_ROWS["malformed_row"]


def test_stored_lines_are_typed_and_marked(tmp_path: Path, store: StoreRef) -> None:
    data = store
    (s,) = ingest(data, mixed_csv(tmp_path))
    assert (s.anonymous, s.returns) == (1, 1)
    rows = query(
        data,
        f"SELECT order_id, product_id, quantity, line_type, {POSITION}, attributes->>'Country', "
        "customer_id FROM transactions ORDER BY row_number",
    )
    assert rows[0] == ("g1", "p1", 2.0, "sale", 1, "UK", "c1")
    assert rows[2][2] == 1.0  # default quantity
    assert rows[3][6] is None  # anonymous kept
    assert rows[4][3] == "return"
    (ts,) = query(data, "SELECT ts FROM transactions WHERE order_id = 'g2'")[0]
    assert ts == datetime(2024, 1, 2, 8, 0, tzinfo=UTC)


def test_reingest_changes_nothing(tmp_path: Path, store: StoreRef) -> None:
    data = store
    source = mixed_csv(tmp_path)
    (first,) = ingest(data, source)
    before = query(data, "SELECT count(*), sum(quantity) FROM transactions")
    (second,) = ingest(data, source)
    assert second.inserted == 0
    assert second.duplicates == first.stored == second.stored
    assert second.rejected == first.rejected
    assert query(data, "SELECT count(*), sum(quantity) FROM transactions") == before
    assert query(data, "SELECT count(*) FROM rejects") == [(first.rejected,)]
    assert query(data, "SELECT count(*) FROM sources") == [(1,)]


def test_overlapping_export_only_adds_new_lines(tmp_path: Path, store: StoreRef) -> None:
    data = store
    rows = [f"c{i % 3},o{i // 2},2024-01-0{1 + i % 5} 10:00,p{i % 4},1,1.0,UK" for i in range(20)]
    ingest(data, write(tmp_path / "a.csv", HEADER + "\n".join(rows[:12])))
    (s,) = ingest(data, write(tmp_path / "b.csv", HEADER + "\n".join(rows[6:])))
    assert (s.inserted, s.duplicates) == (8, 6)
    assert query(data, "SELECT count(*) FROM transactions") == [(20,)]


def test_same_product_twice_in_an_order_is_two_lines(tmp_path: Path, store: StoreRef) -> None:
    data = store
    text = HEADER + "c1,o1,2024-01-01,p1,1,1,UK\nc1,o1,2024-01-01,p1,1,1,UK\n"
    (s,) = ingest(data, write(tmp_path / "t.csv", text))
    assert (s.stored, s.inserted) == (2, 2)
    assert query(data, f"SELECT array_agg(p ORDER BY p) FROM ({POSITIONS}) AS s") == [([1, 2],)]


def test_padded_order_ids_give_the_positions_and_identity_of_clean_ones(
    tmp_path: Path, store: StoreRef
) -> None:
    """Order ids are trimmed before they are grouped for positions: " g1", "g1" and "g1  " are
    one order, and a clean export of the same lines has the same line identity."""
    lines = [
        "c1, g1,2024-01-01,p1,1,1,UK",
        "c1,g1,2024-01-01,p2,1,1,UK",
        "c1,g1  ,2024-01-01,p1,1,1,UK",
        "c2,g2,2024-01-02,p1,1,1,UK",
    ]
    padded = write(tmp_path / "padded.csv", HEADER + "\n".join(lines))
    clean = write(
        tmp_path / "clean.csv", HEADER + "\n".join(lines).replace(" g1", "g1").replace("g1  ", "g1")
    )
    (first,) = ingest(store, padded)
    assert (first.stored, first.inserted) == (4, 4)
    positions = (
        f"SELECT order_id, array_agg(p ORDER BY p) FROM ({POSITIONS}) AS s GROUP BY 1 ORDER BY 1"
    )
    assert query(store, positions) == [("g1", [1, 2, 3]), ("g2", [1])]
    (again,) = ingest(store, clean)
    assert (again.stored, again.inserted, again.duplicates) == (4, 0, 4)
    assert query(store, positions) == [("g1", [1, 2, 3]), ("g2", [1])]


def test_an_order_whose_first_row_was_rejected_keeps_its_positions(
    tmp_path: Path, store: StoreRef
) -> None:
    """Positions count from an order's first row in the file, rejected or not: the export
    corrected later (row 1 now good) adds that one line and repeats the other three."""
    bad = [
        "c1,o1,2024-01-01,p0,1,-2,UK",  # negative price: rejected
        "c1,o1,2024-01-01,p1,1,1,UK",
        "c1,o1,2024-01-01,p2,1,1,UK",
        "c2,o2,2024-01-02,p1,1,1,UK",
    ]
    (first,) = ingest(store, write(tmp_path / "bad.csv", HEADER + "\n".join(bad)))
    assert (first.stored, first.rejected) == (3, 1)
    positions = f"SELECT order_id, array_agg(p ORDER BY p) FROM ({POSITIONS}) AS s GROUP BY 1"
    assert sorted(query(store, positions)) == [("o1", [2, 3]), ("o2", [1])]
    fixed = write(tmp_path / "fixed.csv", HEADER + "\n".join(bad).replace(",-2,", ",2,"))
    (again,) = ingest(store, fixed)
    assert (again.stored, again.inserted, again.duplicates) == (4, 1, 3)
    assert sorted(query(store, positions)) == [("o1", [1, 2, 3]), ("o2", [1])]


def test_a_first_file_stores_derived_positions_that_later_files_match(tmp_path: Path) -> None:
    """Into an empty DuckDB store a file's positions are derived, not computed (line_seq
    NULL); the next file that repeats some of its orders writes them and matches them."""
    rows = [f"c{i % 3},o{i // 3},2024-01-0{1 + i % 5} 10:00,p{i % 2},1,1.0,UK" for i in range(30)]
    data = tmp_path / "data"
    ingest(data, write(tmp_path / "a.csv", HEADER + "\n".join(rows[:18])))
    assert query(data, "SELECT count(*) FILTER (WHERE line_seq IS NULL) FROM transactions") == [
        (18,)
    ]
    assert sorted(
        query(data, f"SELECT order_id, p FROM ({POSITIONS}) AS s WHERE order_id = 'o1'")
    ) == [("o1", 1), ("o1", 2), ("o1", 3)]
    (b,) = ingest(data, write(tmp_path / "b.csv", HEADER + "\n".join(rows[9:])))
    assert (b.inserted, b.duplicates) == (12, 9)
    written = (
        "SELECT DISTINCT order_id FROM transactions JOIN sources USING (source_id) "
        "WHERE line_seq IS NOT NULL AND name = 'a.csv'"
    )
    assert sorted(o for (o,) in query(data, written)) == ["o3", "o4", "o5"]
    assert query(data, f"SELECT count(DISTINCT (order_id, p)) FROM ({POSITIONS}) AS s") == [(30,)]


def test_line_id_defines_identity_when_given(tmp_path: Path, store: StoreRef) -> None:
    data = store
    head = "customer_id,order_id,ts,product_id,line_id\n"
    text = head + "c1,o1,2024-01-01,p1,L1\nc1,o1,2024-01-01,p1,L2\nc1,o1,2024-01-01,p1,L1\n"
    (s,) = ingest(data, write(tmp_path / "t.csv", text))
    assert (s.stored, s.inserted, s.duplicates) == (3, 2, 1)
    assert query(data, "SELECT count(*) FROM transactions") == [(2,)]


def test_lines_with_and_without_line_ids_deduplicate_by_their_own_identity(
    tmp_path: Path, store: StoreRef
) -> None:
    data = store
    head = "customer_id,order_id,ts,product_id,line_id\n"
    first = head + "c1,o1,2024-01-01,p1,L1\nc1,o1,2024-01-01,p2,\nc1,o2,2024-01-02,p1,\n"
    (s,) = ingest(data, write(tmp_path / "a.csv", first))
    assert (s.stored, s.inserted) == (3, 3)
    (s,) = ingest(data, write(tmp_path / "a.csv", first))
    assert (s.inserted, s.duplicates) == (0, 3)
    # L1 again under another order (same id: a duplicate); o2/p1 again at position 1 (a
    # duplicate); L9 and o3/p1 are new
    second = head + "c1,o9,2024-01-03,p5,L1\nc1,o2,2024-01-02,p1,\nc1,o3,2024-01-04,p1,\n"
    second += "c1,o2,2024-01-02,p7,L9\n"
    (s,) = ingest(data, write(tmp_path / "b.csv", second))
    assert (s.stored, s.inserted, s.duplicates) == (4, 2, 2)
    assert query(data, "SELECT count(*), count(line_id) FROM transactions") == [(5, 2)]


def test_anonymous_policy_reject(tmp_path: Path, store: StoreRef) -> None:
    (s,) = ingest(store, mixed_csv(tmp_path), anonymous=AnonymousPolicy.REJECT)
    assert s.reject_reasons["missing_customer_id"] == 1
    assert s.anonymous == 0
    assert s.balanced


def test_extra_columns_can_be_ignored_and_summary_says_so(tmp_path: Path, store: StoreRef) -> None:
    data = store
    (s,) = ingest(data, mixed_csv(tmp_path), extra_columns=ExtraColumns.IGNORE)
    assert s.extra_columns == ["Country"]
    assert not s.extra_columns_kept
    assert query(data, "SELECT count(*) FROM transactions WHERE attributes IS NOT NULL") == [(0,)]


def test_naive_times_are_read_in_the_configured_zone(tmp_path: Path, store: StoreRef) -> None:
    data = store
    text = HEADER + "c1,o1,2024-07-01 10:00,p1,1,1,UK\nc1,o2,2024-07-01T10:00:00+02:00,p1,1,1,UK\n"
    ingest(data, write(tmp_path / "t.csv", text), timezone="Europe/London")
    rows = dict(query(data, "SELECT order_id, ts FROM transactions"))
    assert rows["o1"] == datetime(2024, 7, 1, 9, 0, tzinfo=UTC)  # BST = UTC+1
    assert rows["o2"] == datetime(2024, 7, 1, 8, 0, tzinfo=UTC)  # explicit offset wins


def test_unknown_timezone_is_a_clear_error(tmp_path: Path, store: StoreRef) -> None:
    with pytest.raises(ConfigError, match="unknown time zone"):
        ingest(store, mixed_csv(tmp_path), timezone="Mars/Olympus")


def test_custom_timestamp_format(tmp_path: Path, store: StoreRef) -> None:
    data = store
    text = HEADER + "c1,o1,25/12/2024 18:30,p1,1,1,UK\n"
    (s,) = ingest(data, write(tmp_path / "t.csv", text), ts_format="%d/%m/%Y %H:%M")
    assert s.stored == 1
    assert query(data, "SELECT ts FROM transactions")[0][0] == datetime(
        2024, 12, 25, 18, 30, tzinfo=UTC
    )


EU_HEADER = "customer_id;order_id;ts;product_id;quantity;unit_price\n"


def test_decimal_comma_numbers_are_rejected_with_a_hint_then_read_with_the_option(
    tmp_path: Path, store: StoreRef
) -> None:
    """A continental-European export: ';' between fields, ',' before the decimals, '.' between
    thousands. Without the option its comma numbers are rejected (never misread) and the
    summary names the option; with it the same file stores every line."""
    text = EU_HEADER + (
        "c0;o0;2024-01-01;p0;3;2\n"  # the same under both readings
        "c1;o1;2024-01-01;p1;2;1,50\n"
        "c1;o1;2024-01-01;p2;1;1.234,5\n"
        "c2;o2;2024-01-02;p1;-1;0,99\n"
        "c2;o3;2024-01-02;p3;1,5;2\n"  # a fractional quantity (kg)
    )
    path = write(tmp_path / "eu.csv", text)
    (plain,) = ingest(store, path)
    assert (plain.read, plain.stored, plain.rejected) == (5, 1, 4)
    assert plain.reject_reasons == {"invalid_unit_price": 3, "invalid_quantity": 1}
    (hint,) = plain.hints
    assert "4 rejected number(s)" in hint and "'0,99'" in hint and "--decimal-comma" in hint

    (eu,) = ingest(store, path, number_format=NumberFormat.DECIMAL_COMMA)
    assert (eu.read, eu.stored, eu.inserted, eu.duplicates, eu.rejected) == (5, 5, 4, 1, 0)
    assert eu.hints == [] and eu.to_dict()["hints"] == []
    rows = query(store, "SELECT order_id, product_id, quantity, unit_price FROM transactions")
    assert {(o, p): (qty, price) for o, p, qty, price in rows} == {
        ("o0", "p0"): (3.0, 2.0),
        ("o1", "p1"): (2.0, 1.5),
        ("o1", "p2"): (1.0, 1234.5),
        ("o2", "p1"): (-1.0, 0.99),
        ("o3", "p3"): (1.5, 2.0),
    }
    assert query(store, "SELECT count(*) FROM rejects")[0][0] == 0


def test_decimal_comma_reading_is_strict(tmp_path: Path, store: StoreRef) -> None:
    """Under the decimal comma a dot only groups thousands: "1.5" or "12.34,5" is not a
    number (rejected with its reason), never read as 15 or 1234.5."""
    prices = {"g1": " 2,5 ", "g2": "+3,0", "g3": "-1.000.000", "g4": "7",
              "b1": "1.5", "b2": "1,2,3", "b3": "12.34,5", "b4": "1.23", "b5": "2,5e3"}  # fmt: skip
    text = EU_HEADER + "".join(f"c1;{o};2024-01-01;p1;1;{v}\n" for o, v in prices.items())
    (s,) = ingest(store, write(tmp_path / "eu.csv", text), number_format=NumberFormat.DECIMAL_COMMA)
    assert s.reject_reasons == {"invalid_unit_price": 5, "negative_unit_price": 1}
    stored = dict(query(store, "SELECT order_id, unit_price FROM transactions"))
    assert stored == {"g1": 2.5, "g2": 3.0, "g4": 7.0}
    details = dict(query(store, "SELECT row_number, detail FROM rejects"))
    assert sorted(details.values()) == sorted(
        ["-1.000.000", "1.5", "1,2,3", "12.34,5", "1.23", "2,5e3"]
    )
    assert s.hints == []  # the option is on: nothing to suggest


US_HEADER = "customer_id,order_id,ts,product_id,quantity,unit_price\n"


def test_thousands_comma_numbers_are_rejected_with_a_hint_then_read_with_the_option(
    tmp_path: Path, store: StoreRef
) -> None:
    """A US spreadsheet export with grouping on: quoted "1,299.00". Without the option the
    grouped prices are rejected (never misread as 1.299) and the summary names the option."""
    text = US_HEADER + (
        'c1,o1,2024-01-01,p1,1,"1,299.00"\n'
        'c1,o1,2024-01-01,p2,2,"12,500.5"\n'
        "c1,o2,2024-01-02,p1,-1,999.99\n"
        'c2,o3,2024-01-02,p3,"1,200",2\n'  # grouped without decimals: a quantity of 1200
    )
    path = write(tmp_path / "us.csv", text)
    (plain,) = ingest(store, path)
    assert plain.reject_reasons == {"invalid_unit_price": 2, "invalid_quantity": 1}
    decimal, thousands = plain.hints  # "1,200" reads either way: both options are named
    assert "1 rejected number(s)" in decimal and "'1,200'" in decimal
    assert "--decimal-comma" in decimal
    assert "2 rejected number(s)" in thousands and "'1,299.00'" in thousands
    assert "--thousands-comma" in thousands

    (us,) = ingest(store, path, number_format=NumberFormat.THOUSANDS_COMMA)
    assert (us.read, us.stored, us.inserted, us.rejected, us.hints) == (4, 4, 3, 0, [])
    rows = query(store, "SELECT order_id, product_id, quantity, unit_price FROM transactions")
    assert {(o, p): (qty, price) for o, p, qty, price in rows} == {
        ("o1", "p1"): (1.0, 1299.0),
        ("o1", "p2"): (2.0, 12500.5),
        ("o2", "p1"): (-1.0, 999.99),
        ("o3", "p3"): (1200.0, 2.0),
    }


def test_thousands_comma_reading_is_strict(tmp_path: Path, store: StoreRef) -> None:
    """Under the thousands comma a comma only groups three digits: "1,5" or "12,34.5" is not
    a number, and a decimal-comma file read this way is rejected with a hint, not misread."""
    prices = {"g1": "2.5", "g2": "+1,000,000.25", "g3": "7", "b1": "1,5", "b2": "12,34.5",
              "b3": "1,2345.0", "b4": "1.234,50", "b5": "1e3"}  # fmt: skip
    text = US_HEADER + "".join(f'c1,{o},2024-01-01,p1,1,"{v}"\n' for o, v in prices.items())
    (s,) = ingest(store, write(tmp_path / "us.csv", text),
                  number_format=NumberFormat.THOUSANDS_COMMA)  # fmt: skip
    assert s.reject_reasons == {"invalid_unit_price": 5}
    stored = dict(query(store, "SELECT order_id, unit_price FROM transactions"))
    assert stored == {"g1": 2.5, "g2": 1000000.25, "g3": 7.0}
    (hint,) = s.hints
    assert "--decimal-comma" in hint and "2 rejected number(s)" in hint  # 1,5 and 1.234,50


SIGNS_HEADER = "customer_id,order_id,ts,product_id,quantity,unit_price,currency\n"


def test_prices_with_currency_signs_are_read_with_the_option(
    tmp_path: Path, store: StoreRef
) -> None:
    """ "$4.99", "4,99 €", "EUR 4.99": without the option rejected with a hint; with it the
    number is read, an unambiguous sign fills an empty currency, and a sign that names
    another currency than the line's is rejected as currency_mismatch."""
    lines = {  # order -> (price, currency)
        "o1": ("$4.99", ""),  # "$" names several currencies: currency stays empty
        "o2": ("£3.50", ""),
        "o3": ("EUR 2.00", ""),
        "o4": ("2.50\u00a0€", "EUR"),  # the no-break space of a spreadsheet
        "o5": ("$1.00", "CAD"),  # "$" agrees with any dollar
        "o6": ("US$10", "usd"),
        "o7": ("1.25", "GBP"),  # no sign: as without the option
        "o8": ("€4.99", "USD"),  # contradicts the line's currency
        "o9": ("$4.99€", ""),  # a sign on each side: not a price
        "o10": ("4.99 abc", ""),
        "o11": ("-$1.00", ""),  # the number is read, and a price below zero is rejected
    }
    text = SIGNS_HEADER + "".join(
        f"c1,{o},2024-01-01,p1,1,{price},{cur}\n" for o, (price, cur) in lines.items()
    )
    path = write(tmp_path / "signs.csv", text)
    (plain,) = ingest(store, path)
    assert plain.reject_reasons == {"invalid_unit_price": 10}
    (hint,) = plain.hints
    assert "8 rejected price(s) carry a currency sign" in hint and "--currency-signs" in hint

    (signed,) = ingest(store, path, currency_signs=True)
    assert signed.reject_reasons == {
        "currency_mismatch": 1,
        "invalid_unit_price": 2,
        "negative_unit_price": 1,
    }
    assert (signed.read, signed.stored, signed.inserted, signed.hints) == (11, 7, 6, [])
    rows = query(store, "SELECT order_id, unit_price, currency FROM transactions")
    assert {o: (price, cur) for o, price, cur in rows} == {
        "o1": (4.99, None),
        "o2": (3.5, "GBP"),
        "o3": (2.0, "EUR"),
        "o4": (2.5, "EUR"),
        "o5": (1.0, "CAD"),
        "o6": (10.0, "usd"),
        "o7": (1.25, "GBP"),
    }
    details = query(store, "SELECT reason, detail FROM rejects")  # the file's latest
    assert sorted(details) == [
        ("currency_mismatch", "€4.99 vs USD"),
        ("invalid_unit_price", "$4.99€"),
        ("invalid_unit_price", "4.99 abc"),
        ("negative_unit_price", "-$1.00"),
    ]


def test_a_currency_sign_fills_the_currency_of_a_file_without_one(
    tmp_path: Path, store: StoreRef
) -> None:
    text = US_HEADER + 'c1,o1,2024-01-01,p1,1,€4.99\nc1,o1,2024-01-01,p2,1,"$1,250.00"\n'
    path = write(tmp_path / "shop.csv", text)
    (s,) = ingest(store, path, currency_signs=True)
    assert s.reject_reasons == {"invalid_unit_price": 1}
    (hint,) = s.hints  # the sign is read; the grouping still needs its own option
    assert "'$1,250.00'" in hint and "--thousands-comma" in hint
    (s,) = ingest(store, path, currency_signs=True, number_format=NumberFormat.THOUSANDS_COMMA)
    assert (s.stored, s.inserted, s.rejected) == (2, 1, 0)
    rows = query(store, "SELECT product_id, unit_price, currency FROM transactions")
    assert sorted(rows) == [("p1", 4.99, "EUR"), ("p2", 1250.0, None)]


def test_a_product_list_with_currency_signs_and_grouped_prices(
    tmp_path: Path, store: StoreRef
) -> None:
    text = "product_id,product_name,unit_price,currency\n"
    text += 'tv,TV 55","€1.299,00",\nmilk,Milk 1L,"0,99 €",EUR\ntea,Tea,£2,EUR\n'
    (s,) = ingest(store, write(tmp_path / "catalog.csv", text), kind=c.Kind.PRODUCTS,
                  currency_signs=True, number_format=NumberFormat.DECIMAL_COMMA)  # fmt: skip
    assert (s.read, s.stored, s.reject_reasons) == (3, 2, {"currency_mismatch": 1})
    rows = query(store, "SELECT product_id, unit_price, currency FROM products")
    assert sorted(rows) == [("milk", 0.99, "EUR"), ("tv", 1299.0, "EUR")]


def test_rejected_timestamps_hint_at_the_ts_format_that_reads_them(
    tmp_path: Path, store: StoreRef
) -> None:
    uk = HEADER + "c1,o1,25/12/2024 18:30,p1,1,1,UK\nc1,o2,3/1/2024 08:05,p1,1,1,UK\n"
    (s,) = ingest(store, write(tmp_path / "uk.csv", uk))
    assert s.reject_reasons == {"invalid_ts": 2}
    (hint,) = s.hints
    assert "2 rejected timestamp(s)" in hint and "'25/12/2024 18:30'" in hint
    assert hint.endswith("--ts-format '%d/%m/%Y %H:%M'")  # day first: the 25th settles it
    either = HEADER + "c1,o3,12/11/2024,p1,1,1,UK\n"
    (s,) = ingest(store, write(tmp_path / "either.csv", either))
    assert "'%d/%m/%Y' or '%m/%d/%Y'" in s.hints[0] and "check which" in s.hints[0]
    (s,) = ingest(store, write(tmp_path / "uk2.csv", uk + "c1,o4,junk,p1,1,1,UK\n"))
    assert s.hints == []  # no layout reads every one of them: nothing to suggest
    (s,) = ingest(store, write(tmp_path / "uk3.csv", uk), ts_format="%d/%m/%Y %H:%M")
    assert (s.stored, s.hints) == (2, [])


def test_cancellations_and_non_product_rule(tmp_path: Path, store: StoreRef) -> None:
    data = store
    text = HEADER + (
        "c1,o1,2024-01-01,p1,2,1,UK\nc1,o1,2024-01-01,POST,1,5,UK\nc1,Co1,2024-01-02,p1,-2,1,UK\n"
    )
    (s,) = ingest(
        data, write(tmp_path / "t.csv", text), cancellation_prefix="C", non_product_pattern="POST"
    )
    assert (s.cancellations, s.non_product, s.returns) == (1, 1, 1)
    rows = query(data, "SELECT order_id, product_id, line_type, is_product FROM transactions")
    assert ("Co1", "p1", "cancellation", True) in rows
    assert ("o1", "POST", "sale", False) in rows


def test_ingest_and_status_count_returns_alike(tmp_path: Path, store: StoreRef) -> None:
    """A cancelled order's line with a positive quantity (Online Retail II has one) is marked a
    cancellation but gives nothing back: the ingest summary and `omnix status` both leave it
    out of the return lines (they once said 12,326 and 12,327 for the same file)."""
    text = HEADER + (
        "c1,o1,2024-01-01,p1,2,1,UK\nc1,Co1,2024-01-02,p1,-2,1,UK\n"
        "c1,Co2,2024-01-03,p2,1,1,UK\nc2,o3,2024-01-04,p3,-1,1,UK\n"
    )
    (s,) = ingest(store, write(tmp_path / "t.csv", text), cancellation_prefix="C")
    assert (s.returns, s.cancellations) == (2, 2)
    with opened(store=store) as container:
        overview = container.analyse_service().store_overview()
    assert overview["return_lines"] == s.returns


def test_one_pass_and_counting_pass_agree(tmp_path: Path) -> None:
    """A clean new file is stored first and counted from what it stored; a re-run (its lines
    already there) and a file with a bad row count the file itself. Counts must agree."""
    rows = [
        "c1,o1,2024-01-01,p1,2,1,UK",
        "c1,o1,2024-01-01,POST,1,5,UK",
        "c1,Co1,2024-01-02,p1,-2,1,UK",
        ",o2,2024-01-03,p2,-1,1,UK",
        "c2,o3,2024-01-04,p3,1,1,UK",
    ]
    clean = write(tmp_path / "clean.csv", HEADER + "\n".join(rows))
    options = {"cancellation_prefix": "C", "non_product_pattern": "POST"}
    bad = write(tmp_path / "bad.csv", HEADER + "\n".join([*rows, "c3,o4,2024-01-05,p1,0,1,UK"]))
    summaries, phases = [], []
    for data, source in (("a", clean), ("a", clean), ("b", bad)):
        with capture_logs() as logs:
            summaries += ingest(tmp_path / data, source, **options)
        phases.append([e["phase"] for e in logs if e["event"] == "load phase"])
    # positions: the re-run first writes the derived positions of the lines it repeats; the
    # bad file's order o4 starts with its rejected row (o4 has no other line: nothing to write)
    assert phases == [
        ["store", "count"],
        ["validate", "positions", "store"],
        ["store", "validate", "rejects", "positions"],
    ]
    first, again, counted = summaries

    def marks(s: IngestSummary) -> tuple[int, ...]:
        return (s.stored, s.anonymous, s.returns, s.cancellations, s.non_product)

    assert marks(first) == marks(again) == marks(counted) == (5, 1, 2, 1, 1)
    assert (first.inserted, again.inserted, counted.inserted) == (5, 0, 5)
    assert (first.rejected, again.rejected, counted.rejected) == (0, 0, 1)
    assert first.balanced and again.balanced and counted.balanced


def test_optimizer_settings_are_restored_after_a_load(tmp_path: Path) -> None:
    """The insert runs with filter pushdown off; later queries on the connection must not."""
    with opened(data_dir=tmp_path / "d") as container:
        con = container.warehouse.con  # type: ignore[attr-defined]
        con.execute("SET disabled_optimizers = 'compressed_materialization'")
        container.ingest_service().ingest([mixed_csv(tmp_path)], IngestOptions())
        setting = con.execute("SELECT current_setting('disabled_optimizers')").fetchall()
    assert setting == [("compressed_materialization",)]


def write_formats(tmp_path: Path) -> dict[str, Path]:
    rows = [r.split(",") for r in GOOD_ROWS]
    names = HEADER.strip().split(",")
    out = {}
    text = HEADER + "\n".join(GOOD_ROWS) + "\n"
    out["csv"] = write(tmp_path / "f.csv", text)
    out["semicolon"] = write(tmp_path / "f2.csv", text.replace(",", ";"))
    out["tsv"] = write(tmp_path / "f.tsv", text.replace(",", "\t"))
    with gzip.open(tmp_path / "f.csv.gz", "wt") as fh:
        fh.write(text)
    out["gzip"] = tmp_path / "f.csv.gz"
    with pa.output_stream(str(tmp_path / "f.csv.zst"), compression="zstd") as zs:
        zs.write(text.encode())
    out["zstd"] = tmp_path / "f.csv.zst"
    jsonl = tmp_path / "f.jsonl"
    jsonl.write_text(
        "\n".join(json.dumps({k: v for k, v in zip(names, r, strict=True) if v}) for r in rows)
    )
    out["jsonl"] = jsonl
    table = pa.table(
        {
            "customer_id": [r[0] or None for r in rows],
            "order_id": [r[1] for r in rows],
            "ts": pa.array(
                [datetime(2024, 1, 1 + i, 10, tzinfo=UTC) for i in range(len(rows))],
                pa.timestamp("us", tz="UTC"),
            ),
            "product_id": [r[3] for r in rows],
            "quantity": [float(r[4]) if r[4] else None for r in rows],
            "unit_price": [float(r[5]) for r in rows],
        }
    )
    pq.write_table(table, tmp_path / "f.parquet")
    out["parquet"] = tmp_path / "f.parquet"
    return out


@pytest.mark.parametrize("fmt", ["csv", "semicolon", "tsv", "gzip", "zstd", "jsonl", "parquet"])
def test_every_format_loads_the_same_lines(tmp_path: Path, store: StoreRef, fmt: str) -> None:
    data = store
    (s,) = ingest(data, write_formats(tmp_path)[fmt])
    assert (s.read, s.stored, s.rejected) == (5, 5, 0)
    assert query(data, "SELECT sum(quantity), count(DISTINCT customer_id) FROM transactions") == [
        (4.0, 2)
    ]


def test_jsonl_bad_lines_are_rejected_with_line_numbers(tmp_path: Path, store: StoreRef) -> None:
    data = store
    good = json.dumps({"customer_id": "c1", "order_id": "o1", "ts": "2024-01-01", "product_id": 1})
    path = write(tmp_path / "f.jsonl", f"{good}\n{{not json\n[1,2]\n")
    (s,) = ingest(data, path)
    assert (s.stored, s.rejected) == (1, 2)
    assert query(data, "SELECT row_number, reason FROM rejects ORDER BY 1") == [
        (2, "malformed_row"),
        (3, "malformed_row"),
    ]
    assert query(data, "SELECT product_id FROM transactions") == [("1",)]


def test_products_and_customers_tables(tmp_path: Path, store: StoreRef) -> None:
    data = store
    products = write(
        tmp_path / "p.csv",
        "product_id,product_name,category,pack_size\np1,Milk,dairy,1\np2,Eggs,dairy,six\n"
        "p1,Whole Milk 1L,dairy,1\n,Nameless,x,1\n",
    )
    (s,) = ingest(data, products, kind=c.Kind.PRODUCTS)
    assert s.reject_reasons == {"invalid_pack_size": 1, "missing_key": 1}
    assert (s.read, s.stored, s.inserted, s.duplicates) == (4, 2, 1, 1)
    assert query(data, "SELECT product_id, product_name FROM products") == [("p1", "Whole Milk 1L")]
    customers = write(tmp_path / "c.csv", "customer_id,country\nc1,DE\nc2,FR\n")
    (s,) = ingest(data, customers, kind=c.Kind.CUSTOMERS)
    assert s.inserted == 2
    (s,) = ingest(data, customers, kind=c.Kind.CUSTOMERS)
    assert (s.inserted, s.duplicates) == (0, 2)
    assert query(data, "SELECT count(*) FROM customers") == [(2,)]


def test_blank_timestamps_are_missing_and_bad_ones_keep_their_text(
    tmp_path: Path, store: StoreRef
) -> None:
    """Raw timestamps are cleaned only for rows that did not parse: a blank one is missing (an
    absent optional first_seen is fine), a bad one is rejected with its trimmed text."""
    data = store
    text = HEADER + "c1,o1,   ,p1,1,1,UK\nc1,o2, soon ,p1,1,1,UK\nc1,o3, 2024-01-01 ,p1,1,1,UK\n"
    (s,) = ingest(data, write(tmp_path / "t.csv", text))
    assert s.reject_reasons == {"missing_ts": 1, "invalid_ts": 1}
    assert query(data, "SELECT detail FROM rejects WHERE reason = 'invalid_ts'") == [("soon",)]
    customers = "customer_id,first_seen\nc1,  \nc2,later\nc3,2024-02-01\n"
    (s,) = ingest(data, write(tmp_path / "c.csv", customers), kind=c.Kind.CUSTOMERS)
    assert (s.stored, s.reject_reasons) == (2, {"invalid_first_seen": 1})
    assert query(data, "SELECT detail FROM rejects WHERE reason = 'invalid_first_seen'") == [
        ("later",)
    ]


def test_missing_file_and_bad_mapping_fail_before_writing(tmp_path: Path, store: StoreRef) -> None:
    data = store
    with pytest.raises(SourceNotFoundError):
        ingest(data, mixed_csv(tmp_path), tmp_path / "missing.csv")
    bad = write(tmp_path / "bad.csv", "a,b\n1,2\n")
    with pytest.raises(MappingError):
        ingest(data, mixed_csv(tmp_path), bad)
    assert query(data, "SELECT count(*) FROM transactions") == [(0,)]


def test_raw_uci_file_every_line_stored_or_rejected(tmp_path: Path, store: StoreRef) -> None:
    from tests.conftest import shared_file

    raw = shared_file("online_retail_II_2009-2010_raw.csv.gz")
    data = store
    (s,) = ingest(data, raw, preset=preset_by_name("online-retail-ii"))
    assert s.read == 525_461
    assert s.stored + s.rejected == 525_461
    assert s.reject_reasons == {"negative_unit_price": 3}  # the "Adjust bad debt" lines
    assert s.cancellations == 10_206  # invoices starting with C
    assert s.anonymous == 107_924
    assert s.non_product > 2_000
    assert query(data, "SELECT count(*) FROM rejects") == [(3,)]
    ((lines, cancelled),) = query(
        data,
        "SELECT count(*), count(*) FILTER (WHERE line_type = 'cancellation') FROM transactions",
    )
    assert (lines, cancelled) == (525_458, 10_206)


@pytest.mark.parametrize(
    ("values", "expected_hours"),
    [
        (["2024-07-01 10:00:00", "2024-01-15 10:00"], [9, 10]),  # naive: London BST / GMT
        (["2024-07-01T10:00:00Z", "2024-07-01 10:00:00+02:00"], [10, 8]),  # explicit offsets
    ],
)
def test_uniform_timestamp_batches_match_the_engine(
    tmp_path: Path, store: StoreRef, values: list[str], expected_hours: list[int]
) -> None:
    """Staging pre-parses uniform batches with Arrow; results equal DuckDB's own reading."""
    data = store
    rows = "".join(f"c1,o{i},{v},p1,1,1,UK\n" for i, v in enumerate(values))
    ingest(data, write(tmp_path / "t.csv", HEADER + rows), timezone="Europe/London")
    got = query(data, "SELECT order_id, ts FROM transactions ORDER BY order_id")
    assert [ts.astimezone(UTC).hour for _, ts in got] == expected_hours


def test_header_only_and_all_malformed_files(tmp_path: Path, store: StoreRef) -> None:
    data = store
    (empty,) = ingest(data, write(tmp_path / "empty.csv", HEADER))
    assert (empty.read, empty.stored, empty.rejected) == (0, 0, 0)
    (bad,) = ingest(data, write(tmp_path / "bad.csv", HEADER + "a,b\nc\n"))
    assert (bad.read, bad.stored, bad.rejected) == (2, 0, 2)
    assert bad.reject_reasons == {"malformed_row": 2}
    assert query(data, "SELECT row_number FROM rejects ORDER BY 1") == [(1,), (2,)]
    assert not list((data / ".tmp").glob("stage-*"))


def test_exports_with_a_byte_order_mark_or_old_line_ends_ingest(
    tmp_path: Path, store: StoreRef
) -> None:
    """Excel's "CSV UTF-8" starts with a byte order mark, which was read as part of the
    first column's name ("lacks required column customer_id; it has \\ufeffcustomer_id"); a
    file with CR-only line ends (old Mac exports) stopped with "unexpected Error: new-line
    character seen in unquoted field". Both now ingest like a plain file."""
    rows = ["c1,o1,2025-01-06 10:00,p1,2,1.5,UK", "c2,o2,2025-01-07 10:00,p2,1,3.0,UK"]
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + (HEADER + "\n".join(rows) + "\n").encode())
    mac = tmp_path / "mac.csv"
    later = [r.replace(",o", ",m") for r in rows]  # other orders: not duplicates of bom.csv
    mac.write_bytes((HEADER.replace("\n", "\r") + "\r".join(later) + "\r").encode())
    for path in (bom, mac):
        (summary,) = ingest(store, path)
        assert (summary.read, summary.stored, summary.rejected) == (2, 2, 0), path.name
    got = query(store, "SELECT order_id, customer_id, quantity FROM transactions ORDER BY 1")
    assert got == [("m1", "c1", 2.0), ("m2", "c2", 1.0), ("o1", "c1", 2.0), ("o2", "c2", 1.0)]


def test_a_file_that_is_not_utf8_is_refused_with_what_to_do(
    tmp_path: Path, store: StoreRef
) -> None:
    """A Latin-1 export ("Caf\\xe9") stopped with "unexpected ArrowInvalid ... exit 70"."""
    path = tmp_path / "latin.csv"
    path.write_bytes((HEADER + "c1,o1,2025-01-06 10:00,Caf").encode() + b"\xe9,1,1,UK\n")
    with pytest.raises(InputError, match=r"not UTF-8 text.*--encoding cp1252.*iconv"):
        ingest(store, path)
    assert query(store, "SELECT count(*) FROM transactions") == [(0,)]


def test_a_named_encoding_reads_a_windows_export(tmp_path: Path, store: StoreRef) -> None:
    """An Excel export in cp1252 (é, è, the euro sign at 0x80), CSV and JSON Lines alike."""
    name = "Café crème €"
    header = "customer_id;order_id;ts;product_id;product_name;unit_price\n"
    csv_path = tmp_path / "excel.csv"
    csv_path.write_bytes(f"{header}c1;o1;2025-01-06 10:00;p1;{name};2\n".encode("cp1252"))
    jsonl = tmp_path / "excel.jsonl"
    row = {"customer_id": "c2", "order_id": "o2", "ts": "2025-01-07", "product_id": "p1",
           "product_name": name}  # fmt: skip
    jsonl.write_bytes((json.dumps(row, ensure_ascii=False) + "\n").encode("cp1252"))
    (s, j) = ingest(store, csv_path, jsonl, encoding="cp1252")
    assert (s.stored, j.stored) == (1, 1)
    assert query(store, "SELECT DISTINCT product_name FROM transactions") == [(name,)]


def test_text_invalid_in_its_encoding_is_refused_not_altered(
    tmp_path: Path, store: StoreRef
) -> None:
    """JSON Lines were decoded with replacement characters: a Latin-1 "p\xe9" was stored as
    the id "p\ufffd". A byte cp1252 leaves undefined (0x81) stopped with exit 70."""
    jsonl = tmp_path / "latin.jsonl"
    jsonl.write_bytes(
        b'{"customer_id":"c1","order_id":"o1","ts":"2025-01-06","product_id":"p\xe9"}\n'
    )
    with pytest.raises(InputError, match=r"latin.jsonl is not UTF-8 text.*--encoding cp1252"):
        ingest(store, jsonl)
    (s,) = ingest(store, jsonl, encoding="latin-1")
    assert s.stored == 1 and query(store, "SELECT product_id FROM transactions") == [("pé",)]
    odd = tmp_path / "odd.csv"
    odd.write_bytes(HEADER.encode() + b"c1,o2,2025-01-06,p\x81,1,1,UK\n")
    with pytest.raises(InputError, match=r"odd.csv is not cp1252 text.*name the encoding"):
        ingest(store, odd, encoding="cp1252")
    assert query(store, "SELECT count(*) FROM transactions") == [(1,)]


def test_a_file_taken_out_leaves_the_store_as_if_it_never_came(
    tmp_path: Path, store: StoreRef
) -> None:
    """`omnix sources remove`: a file's lines, rejects and rejects file go; a later file's
    line that was a duplicate of it goes too and comes back when that file is ingested again."""
    a = write(tmp_path / "a.csv", HEADER + "c1,o1,2025-01-06,p1,1,1,UK\n"
              "c1,o2,2025-01-07,p1,1,1,UK\nc2,,2025-01-07,p1,1,1,UK\n")  # fmt: skip
    b = write(
        tmp_path / "b.csv", HEADER + "c1,o2,2025-01-07,p1,1,1,UK\nc3,o3,2025-01-08,p2,2,1,UK\n"
    )
    sa, sb = ingest(store, a, b)
    assert (sa.inserted, sa.rejected, sb.inserted, sb.duplicates) == (2, 1, 1, 1)
    assert sa.rejects_file is not None and Path(sa.rejects_file).is_file()
    with opened(store=store) as container:
        service = container.ingest_service()
        assert [r["name"] for r in service.sources()] == ["b.csv", "a.csv"]
        removed = service.remove("a.csv")
        assert removed["deleted"] == {"transactions": 2, "products": 0, "customers": 0,
                                      "rejects": 1, "sources": 1}  # fmt: skip
        with pytest.raises(NotFoundError, match=r"no ingested file 'a\.csv'"):
            service.remove("a.csv")
    assert not Path(sa.rejects_file).exists()
    assert query(store, "SELECT order_id FROM transactions") == [("o3",)]
    assert query(store, "SELECT count(*) FROM rejects") == [(0,)]
    (again,) = ingest(store, b)
    assert (again.inserted, again.duplicates) == (1, 1)
    (back,) = ingest(store, a)
    assert (back.inserted, back.duplicates, back.rejected) == (1, 1, 1)
    orders = query(store, "SELECT order_id, count(*) FROM transactions GROUP BY 1 ORDER BY 1")
    assert orders == [("o1", 1), ("o2", 1), ("o3", 1)]
    (tmp_path / "x").mkdir()
    other = write(tmp_path / "x" / "a.csv", HEADER + "c9,o9,2025-01-09,p1,1,1,UK\n")
    ingest(store, other)
    with opened(store=store) as container:
        with pytest.raises(InputError, match="names 2 ingested files"):
            container.ingest_service().remove("a.csv")
        source_id = container.ingest_service().sources()[0]["source_id"]
        assert container.ingest_service().remove(source_id[:8])["deleted"]["transactions"] == 1


def test_extra_columns_that_look_like_contract_columns_are_named(
    tmp_path: Path, store: StoreRef
) -> None:
    """ "Customer ID" and "Unit Price" map themselves; "Qty" is only named: a silent
    quantity of 1 per line is what the hint is there to catch."""
    text = "Customer ID,Order No,Date,SKU,Qty,Unit Price\nc1,o1,2025-01-06,p1,3,1.5\n"
    path = write(tmp_path / "shop.csv", text)
    with pytest.raises(MappingError, match=r"try --map 'Order No=order_id' --map Date=ts"):
        ingest(store, path)
    maps = {"Order No": c.ORDER_ID, "Date": c.TS, "SKU": c.PRODUCT_ID}
    (s,) = ingest(store, path, mapping=maps)
    assert s.extra_columns == ["Qty"]
    (hint,) = s.hints
    assert "'Qty' looks like quantity" in hint and "--map Qty=quantity" in hint
    assert "omnix sources remove shop.csv" in hint
    assert query(store, "SELECT customer_id, quantity, unit_price FROM transactions") == [
        ("c1", 1.0, 1.5)
    ]


def test_an_unknown_encoding_is_a_clear_error() -> None:
    from omnix.domain.ingest import text_encoding

    assert text_encoding("Windows-1252") == "cp1252" and text_encoding("UTF8") == "utf-8"
    with pytest.raises(MappingError, match="unknown encoding 'klingon'"):
        text_encoding("klingon")
    with pytest.raises(MappingError, match="not a text encoding"):
        text_encoding("base64")


def test_an_unclosed_quote_that_swallows_rows_is_rejected_with_them(
    tmp_path: Path, store: StoreRef
) -> None:
    """A value opened with a quote and never closed made the parser read to the end of the
    file: 4 data lines read as 2, the last two stored inside o2's product name, and the
    summary balanced. The swallowing row is now rejected with every swallowed line in its
    raw text; a quoted value that only spans two lines stays a value."""
    header = "customer_id,order_id,ts,product_id,product_name\n"
    rows = [
        'c1,o1,2025-01-01,p1,"Oat drink\nunsweetened"',  # a two-line value, correctly quoted
        'c1,o2,2025-01-02,p2,"Bread',  # never closed
        "c2,o3,2025-01-03,p1,Milk",
        "c2,o4,2025-01-04,p1,Milk",
    ]
    (summary,) = ingest(store, write(tmp_path / "q.csv", header + "\n".join(rows) + "\n"))
    assert (summary.read, summary.stored, summary.rejected) == (2, 1, 1)
    assert summary.reject_reasons == {"malformed_row": 1}
    stored = query(store, "SELECT order_id, product_name FROM transactions")
    assert stored == [("o1", "Oat drink\nunsweetened")]
    ((number, detail, raw),) = query(store, "SELECT row_number, detail, raw FROM rejects")
    assert number == 2
    assert "'product_name' runs over 2 more line(s)" in detail and "unclosed quote" in detail
    assert "c2,o3,2025-01-03,p1,Milk" in raw and "c2,o4,2025-01-04,p1,Milk" in raw
