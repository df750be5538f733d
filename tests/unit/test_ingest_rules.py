from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from omnix.adapters.sources import Format, _int64_array, _row_numbers, detect
from omnix.domain import contract as c
from omnix.domain.errors import MappingError, UnsupportedFormatError
from omnix.domain.ingest import (
    CURRENCY_SIGNS,
    PRICE_WITH_SIGN,
    IngestOptions,
    IngestSummary,
    NumberFormat,
    number_format,
    parse_mapping,
    plan_columns,
    preset_by_name,
    rejects_path,
    validate_pattern,
)


def test_parse_mapping_accepts_contract_columns() -> None:
    assert parse_mapping(["Invoice=order_id", "Sku=product_id"]) == {
        "Invoice": "order_id",
        "Sku": "product_id",
    }


@pytest.mark.parametrize("pair", ["Invoice", "=order_id", "Invoice=", "Invoice=invoice_no"])
def test_parse_mapping_rejects_bad_pairs(pair: str) -> None:
    with pytest.raises(MappingError):
        parse_mapping([pair])


def test_plan_uses_same_names_and_mapping_and_keeps_extras() -> None:
    options = IngestOptions(mapping={"Invoice": c.ORDER_ID})
    plan = plan_columns(["Invoice", "customer_id", "ts", "product_id", "Country"], options)
    assert plan.mapped[c.ORDER_ID] == "Invoice"
    assert plan.mapped[c.CUSTOMER_ID] == "customer_id"
    assert plan.extras == ("Country",)
    assert plan.extras_kept


def test_plan_names_missing_required_columns() -> None:
    with pytest.raises(MappingError, match=r"lacks required column\(s\) order_id, ts"):
        plan_columns(["customer_id", "product_id"], IngestOptions())


def test_plan_refuses_two_sources_for_one_column() -> None:
    options = IngestOptions(mapping={"Invoice": c.ORDER_ID, "Bon": c.ORDER_ID})
    with pytest.raises(MappingError, match="both map"):
        plan_columns(["Invoice", "Bon", "customer_id", "ts", "product_id"], options)


def test_preset_maps_the_uci_columns() -> None:
    preset = preset_by_name("online-retail-ii")
    options = IngestOptions(preset=preset)
    columns = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price",
               "Customer ID", "Country"]  # fmt: skip
    plan = plan_columns(columns, options)
    assert plan.mapped[c.CUSTOMER_ID] == "Customer ID"
    assert plan.extras == ("Country",)
    assert options.effective_timezone() == "Europe/London"
    assert options.effective_cancellation_prefix() == "C"
    with pytest.raises(MappingError, match="unknown preset"):
        preset_by_name("nope")


def test_explicit_options_override_the_preset() -> None:
    options = IngestOptions(
        preset=preset_by_name("online-retail-ii"),
        timezone="Europe/Berlin",
        cancellation_prefix="",
    )
    assert options.effective_timezone() == "Europe/Berlin"
    assert options.effective_cancellation_prefix() is None


def test_invalid_regex_is_a_mapping_error() -> None:
    with pytest.raises(MappingError):
        validate_pattern("(unclosed")


def test_summary_balance() -> None:
    s = IngestSummary(source="f", kind="transactions", read=10, stored=7, inserted=5,
                      duplicates=2, rejected=3)  # fmt: skip
    assert s.balanced
    s.rejected = 2
    assert not s.balanced
    assert set(s.to_dict()) >= {"read", "stored", "rejected", "duplicates", "rejects_file",
                                "seconds"}  # fmt: skip


def test_rejects_path_is_beside_the_store_and_safe() -> None:
    path = rejects_path(Path("/d"), "my file?.csv", "abcdef1234")
    assert path == Path("/d/rejects/my_file_.csv.abcdef12.rejects.csv")


@pytest.mark.parametrize(
    ("name", "fmt", "compression"),
    [
        ("a.csv", Format.CSV, None),
        ("a.CSV.GZ", Format.CSV, "gzip"),
        ("a.csv.zst", Format.CSV, "zstd"),
        ("a.tsv", Format.CSV, None),
        ("a.parquet", Format.PARQUET, None),
        ("a.jsonl.gz", Format.JSONL, "gzip"),
    ],
)
def test_detect(name: str, fmt: Format, compression: str | None) -> None:
    assert detect(Path(name)) == (fmt, compression)


@pytest.mark.parametrize("name", ["a.xlsx", "a.parquet.gz", "noext"])
def test_detect_refuses_unknown(name: str) -> None:
    with pytest.raises(UnsupportedFormatError):
        detect(Path(name))


def test_row_numbers_skip_malformed_lines() -> None:
    assert _row_numbers(1, 4, [2, 4]).tolist() == [1, 3, 5, 6]
    assert _row_numbers(10, 3, []).tolist() == [10, 11, 12]
    assert _row_numbers(1, 0, [1]).dtype == np.int64


def test_row_numbers_become_an_int64_arrow_column_without_a_copy() -> None:
    numbers = _row_numbers(1, 4, [2, 4])
    column = _int64_array(numbers)
    assert column.type == pa.int64()
    assert column.to_pylist() == [1, 3, 5, 6]
    assert column.null_count == 0
    assert column.buffers()[1].address == numbers.ctypes.data  # the same memory
    # a strided view or another integer type is copied into a contiguous int64 buffer
    assert _int64_array(np.arange(10, dtype=np.int32)[::3]).to_pylist() == [0, 3, 6, 9]


def test_number_formats_exclude_each_other() -> None:
    with pytest.raises(MappingError, match="exclude each other"):
        number_format(decimal_comma=True, thousands_comma=True)
    assert number_format(False, False) is NumberFormat.PLAIN
    assert number_format(True, False) is NumberFormat.DECIMAL_COMMA
    assert number_format(False, True) is NumberFormat.THOUSANDS_COMMA


@pytest.mark.parametrize(
    ("text", "groups"),
    [
        ("$4.99", ("", "$", "4.99", None)),
        ("-$4.99", ("-", "$", "4.99", None)),
        ("$-4.99", ("", "$", "-4.99", None)),
        ("4,99\u00a0€", ("", None, "4,99", "€")),
        ("EUR 4.99", ("", "EUR", "4.99", None)),
        ("US$1,299.00", ("", "US$", "1,299.00", None)),  # the longer sign wins over "$"
        ("kr 12,50", ("", "kr", "12,50", None)),
        ("4.99", ("", None, "4.99", None)),
        ("$4.99€", ("", "$", "4.99", "€")),  # matched, and refused for its two signs
        ("abc4", None),
        ("eur 4.99", None),  # a code is three capitals
        ("4.99e3", None),
        ("$", None),
    ],
)
def test_price_with_sign_pattern(text: str, groups: tuple[str | None, ...] | None) -> None:
    match = re.fullmatch(PRICE_WITH_SIGN, text)
    assert (match.groups() if match else None) == groups


def test_only_signs_of_one_currency_name_it() -> None:
    named = {sign: code for sign, code in CURRENCY_SIGNS.items() if code}
    assert named["€"] == "EUR" and named["£"] == "GBP" and named["R$"] == "BRL"
    assert {"$", "¥", "kr"} <= {sign for sign, code in CURRENCY_SIGNS.items() if code is None}
    assert all(re.fullmatch("[A-Z]{3}", code) for code in named.values())
