"""Compile the contract's validation rules into one SQL SELECT over a raw batch.

The SELECT turns raw source columns (strings from CSV/JSONL, native types from Parquet) into
typed contract columns plus `reason` (NULL when the row is good), `detail` (the offending
value) and `raw` (the original row as JSON, only for rejected rows). Written in the SQL subset
DuckDB and PostgreSQL share where possible; engine-specific bits are marked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from omnix.adapters.sources import ROW_NUMBER_COL, TS_NAIVE_COL, TS_UTC_COL
from omnix.domain import contract as c
from omnix.domain.ingest import (
    CURRENCY_SIGNS,
    PRICE_WITH_SIGN,
    AnonymousPolicy,
    ColumnPlan,
    IngestOptions,
    NumberFormat,
    RejectReason,
)

SQL_TYPES = {
    c.DType.STRING: "VARCHAR",
    c.DType.FLOAT: "DOUBLE",
    c.DType.TIMESTAMP: "TIMESTAMPTZ",
    c.DType.BOOL: "BOOLEAN",
    c.DType.INT: "BIGINT",
    c.DType.JSON: "JSON",
    c.DType.DATE: "DATE",
}


def q(name: str) -> str:
    """Quote an identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """Quote a string literal."""
    return "'" + value.replace("'", "''") + "'"


def hmac_sql(expr: str, key: str) -> str:
    """HMAC-SHA256(key, expr) as 32 hex characters, in SQL: equal to
    `domain.pseudonym.pseudonym(key, value)` (RFC 2104 from the engine's sha256)."""
    block = key.encode().ljust(64, b"\0") if len(key.encode()) <= 64 else b""
    if not block:
        import hashlib

        block = hashlib.sha256(key.encode()).digest().ljust(64, b"\0")
    ipad = bytes(b ^ 0x36 for b in block).hex()
    opad = bytes(b ^ 0x5C for b in block).hex()
    inner = f"unhex(sha256(unhex('{ipad}') || encode({expr})))"
    return f"sha256(unhex('{opad}') || {inner})[:32]"


@dataclass(frozen=True, slots=True)
class Check:
    reason: str
    condition: str  # SQL over the inner select's columns
    detail: str = "NULL"
    keep_raw: bool = True  # False: the rejected row's content is not kept (erased customers)


# Identifiers are trimmed (" 123" and "123" are one customer); free text is kept as given.
_ID_COLUMNS = frozenset({c.CUSTOMER_ID, c.ORDER_ID, c.PRODUCT_ID, c.LINE_ID, c.STORE_ID})


def _clean_string(src: str, arrow_type: pa.DataType, is_id: bool = True) -> str:
    """Empty -> NULL, ids trimmed. Null tokens ('nan', ...) are mapped by the readers."""
    if pa.types.is_floating(arrow_type):
        # ids exported through pandas arrive as 13085.0; store them as 13085
        return (
            f"CASE WHEN {src} = trunc({src}) THEN CAST(CAST({src} AS BIGINT) AS VARCHAR) "
            f"ELSE CAST({src} AS VARCHAR) END"
        )
    text = f"CAST({src} AS VARCHAR)" if not pa.types.is_string(arrow_type) else src
    if is_id:
        text = f"trim({text})"
    return f"NULLIF({text}, '')"


def customer_id_expr(plan: ColumnPlan, schema: pa.Schema) -> str | None:
    """The cleaned source customer id of a raw row, before any pseudonymization (None when
    the file has no customer id column)."""
    src = plan.mapped.get(c.CUSTOMER_ID)
    if src is None:
        return None
    return _clean_string(q(src), schema.field(src).type, is_id=True)


def order_id_expr(plan: ColumnPlan, schema: pa.Schema) -> str:
    """The cleaned order id of a raw row (what `build_select` calls order_id)."""
    src = plan.mapped[c.ORDER_ID]
    return _clean_string(q(src), schema.field(src).type, is_id=True)


def _parse_ts(
    src: str, arrow_type: pa.DataType, ts_format: str | None, preparsed: bool = False
) -> str:
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return f"CAST({src} AS TIMESTAMPTZ)"  # naive values are read in the session time zone
    if ts_format:
        return f"CAST(TRY_STRPTIME(CAST({src} AS VARCHAR), {lit(ts_format)}) AS TIMESTAMPTZ)"
    parsed = f"TRY_CAST(trim(CAST({src} AS VARCHAR)) AS TIMESTAMPTZ)"
    if preparsed:  # see SourceFile.stage: the engine parses only what Arrow could not
        return f"COALESCE(CAST({q(TS_NAIVE_COL)} AS TIMESTAMPTZ), {q(TS_UTC_COL)}, {parsed})"
    return parsed


# A number written with a decimal comma: digits, or digits grouped by dots in threes, then
# an optional comma and decimals ("-1.234,50"). Anything else is not a number.
DECIMAL_COMMA_NUMBER = r"[+-]?([0-9]+|[0-9]{1,3}(\.[0-9]{3})+)(,[0-9]+)?"
# The same with the roles swapped: "-1,234.50", "1234.5", ".5" is not one.
THOUSANDS_COMMA_NUMBER = r"[+-]?([0-9]+|[0-9]{1,3}(,[0-9]{3})+)(\.[0-9]+)?"


def _parse_float(src: str, fmt: NumberFormat = NumberFormat.PLAIN) -> str:
    if fmt is NumberFormat.DECIMAL_COMMA:
        pattern, plain = DECIMAL_COMMA_NUMBER, f"replace(replace({src}, '.', ''), ',', '.')"
    elif fmt is NumberFormat.THOUSANDS_COMMA:
        pattern, plain = THOUSANDS_COMMA_NUMBER, f"replace({src}, ',', '')"
    else:
        return f"TRY_CAST({src} AS DOUBLE)"
    return (
        f"CASE WHEN regexp_full_match({src}, {lit(pattern)}) THEN TRY_CAST({plain} AS DOUBLE) END"
    )


@dataclass(frozen=True, slots=True)
class SignedPrice:
    """SQL over a price's text (trimmed, NULL when blank) under `currency_signs`
    (domain.ingest.PRICE_WITH_SIGN): the number without its currency sign (the text as it is
    when it has no single sign), the sign (NULL: none, or one on each side) and the ISO code
    it names (NULL also when several currencies write it)."""

    number: str
    sign: str
    currency: str

    @classmethod
    def of(cls, text: str) -> SignedPrice:
        parts = f"regexp_extract({text}, {lit('^' + PRICE_WITH_SIGN + '$')}, {_PRICE_PARTS})"
        minus, before, number, after = (f"{parts}.{name}" for name in _PRICE_PARTS_NAMES)
        single = (
            f"regexp_full_match({text}, {lit(PRICE_WITH_SIGN)}) AND ({before} = '' OR {after} = '')"
        )
        sign = f"CASE WHEN {single} THEN NULLIF({before} || {after}, '') END"
        named = " ".join(f"WHEN {lit(s)} THEN {lit(code)}" for s, code in CURRENCY_SIGNS.items()
                         if code)  # fmt: skip
        iso = f"CASE WHEN regexp_full_match({sign}, '[A-Z]{{3}}') THEN {sign} END"
        return cls(
            number=f"CASE WHEN {single} THEN {minus} || {number} ELSE {text} END",
            sign=sign,
            currency=f"CASE {sign} {named} ELSE {iso} END",
        )


_PRICE_PARTS_NAMES = ("minus", "before", "number", "after")
_PRICE_PARTS = "[" + ", ".join(lit(n) for n in _PRICE_PARTS_NAMES) + "]"


@dataclass(frozen=True, slots=True)
class Validated:
    """The validating SELECT; `check_no` (NULL = good) indexes `reasons`."""

    sql: str
    reasons: list[str]


def build_select(
    plan: ColumnPlan,
    schema: pa.Schema,
    options: IngestOptions,
    batch: str,
    erased: Sequence[str] = (),
) -> Validated:
    """The validating SELECT over the raw relation `batch` (rows with ROW_NUMBER_COL).
    `erased`: customer ids as stored (pseudonyms when pseudonymizing) of erased customers
    found in the file; their rows are rejected first, without their content."""
    contract = c.CONTRACTS[options.kind]
    signed = _signed_price(plan, schema, options)
    inner: list[str] = [f"{q(ROW_NUMBER_COL)} AS rn"]
    for col in contract.columns:
        inner += _typed(col, plan, schema, options, signed)
    if signed:
        inner.append(f"{signed.currency} AS {q(_PRICE_CURRENCY)}")
    inner.append(f"{_attributes(plan)} AS attributes")
    # Source columns pass through (no copy) so the raw row is built only for rejected rows.
    inner += [f"{q(s)} AS {q('__src_' + s)}" for s in plan.source_columns]
    checks = _checks(options)
    if signed:
        price, currency = q(_PRICE_CURRENCY), q(c.CURRENCY)
        detail = f"{_value(c.UNIT_PRICE)} || ' vs ' || {currency}"
        mismatch = f"{price} IS NOT NULL AND upper({currency}) <> {price}"
        checks.append(Check(RejectReason.CURRENCY_MISMATCH, mismatch, detail))
    if erased:
        listed = ", ".join(lit(i) for i in erased)
        erasure = Check(RejectReason.ERASED_CUSTOMER, f"{q(c.CUSTOMER_ID)} IN ({listed})",
                        keep_raw=False)  # fmt: skip
        checks.insert(0, erasure)
    check_no = "CASE " + " ".join(f"WHEN {k.condition} THEN {i}" for i, k in enumerate(checks))
    details = " ".join(f"WHEN {i} THEN {k.detail}" for i, k in enumerate(checks))
    reasons = [k.reason for k in checks]
    names = ", ".join(lit(r) for r in reasons)
    cols = ", ".join(q(n) for n in ["rn", *contract.names, "attributes"])
    # Filter and group on check_no itself: an expression over it (such as the reason name)
    # gets inlined by the optimizer, repeating the whole CASE chain once per branch.
    select = (
        f"SELECT {cols}, check_no, ([{names}])[check_no + 1] AS reason, "
        f"CASE check_no {details} END AS detail, "
        f"CASE WHEN {_keeps_raw(checks)} THEN {_raw_json(plan)} END AS raw "
        f"FROM (SELECT *, {check_no} END AS check_no "
        f"FROM (SELECT {', '.join(inner)} FROM {batch}) AS typed) AS checked"
    )
    return Validated(select, reasons)


def _typed(
    col: c.Column,
    plan: ColumnPlan,
    schema: pa.Schema,
    options: IngestOptions,
    signed: SignedPrice | None,
) -> list[str]:
    """The contract column `col` typed from its source column, and its raw value where a
    check or a rejected row's detail needs it (`__raw_<name>`)."""
    src_name, raw = plan.mapped.get(col.name), q(f"__raw_{col.name}")
    if src_name is None:
        default = "1.0" if col.name == c.QUANTITY else "NULL"
        if col.name == c.CURRENCY and signed:
            default = signed.currency
        return [f"CAST({default} AS {SQL_TYPES[col.dtype]}) AS {q(col.name)}", f"NULL AS {raw}"]
    src, arrow_type = q(src_name), schema.field(src_name).type
    if col.dtype is c.DType.STRING:
        clean = _clean_string(src, arrow_type, col.name in _ID_COLUMNS)
        if col.name == c.CUSTOMER_ID and options.pseudonymize_key:
            clean = hmac_sql(clean, options.pseudonymize_key)
        if col.name == c.CURRENCY and signed:
            clean = f"COALESCE({clean}, {signed.currency})"
        return [f"{clean} AS {q(col.name)}", f"NULL AS {raw}"]
    if col.dtype is c.DType.TIMESTAMP:
        preparsed = TS_NAIVE_COL in schema.names and col.name == c.TS
        parsed = _parse_ts(src, arrow_type, options.ts_format, preparsed)
        # The source value as it is: cleaned (_ts_text) only where a check or a rejected
        # row's detail needs it, i.e. for rows whose timestamp did not parse.
        return [f"{parsed} AS {q(col.name)}", f"{src} AS {raw}"]
    numeric = pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)
    numeric = numeric or pa.types.is_decimal(arrow_type)
    clean = src if numeric else _clean_string(src, arrow_type)
    text = signed.number if signed and col.name == c.UNIT_PRICE else clean
    parsed = f"CAST({src} AS DOUBLE)" if numeric else _parse_float(text, options.number_format)
    if col.name == c.QUANTITY:
        parsed = f"COALESCE({parsed}, CASE WHEN {clean} IS NULL THEN 1.0 END)"
    return [f"{parsed} AS {q(col.name)}", f"{clean} AS {raw}"]


_PRICE_CURRENCY = "__price_currency"  # the code a price's currency sign names


def _signed_price(
    plan: ColumnPlan, schema: pa.Schema, options: IngestOptions
) -> SignedPrice | None:
    """The price read with its currency sign, when the option asks for it and the file's
    prices are text (a typed number has no sign)."""
    src = plan.mapped.get(c.UNIT_PRICE)
    if not options.currency_signs or src is None or not pa.types.is_string(schema.field(src).type):
        return None
    return SignedPrice.of(_clean_string(q(src), schema.field(src).type))


def _keeps_raw(checks: list[Check]) -> str:
    """SQL: the row was rejected by a check whose rows keep their content."""
    hidden = [str(i) for i, k in enumerate(checks) if not k.keep_raw]
    if not hidden:
        return "check_no IS NOT NULL"
    return f"check_no IS NOT NULL AND check_no NOT IN ({', '.join(hidden)})"


def _raw_json(plan: ColumnPlan) -> str:
    args = ", ".join(f"{lit(s)}, {q('__src_' + s)}" for s in plan.source_columns)
    return f"CAST(json_object({args}) AS VARCHAR)"


def _attributes(plan: ColumnPlan) -> str:
    if not plan.extras or not plan.extras_kept:
        return "CAST(NULL AS JSON)"
    args = ", ".join(f"{lit(s)}, {q(s)}" for s in plan.extras)
    return f"json_object({args})"


def _value(col: str) -> str:
    return f"CAST({q('__raw_' + col)} AS VARCHAR)"


def _ts_text(col: str) -> str:
    """The raw timestamp as trimmed text, NULL when blank: only for rows that need it
    (a trim of every timestamp string cost about 0.3 CPU s per 10M lines)."""
    return f"NULLIF(trim({_value(col)}), '')"


def _checks(options: IngestOptions) -> list[Check]:
    if options.kind is c.Kind.TRANSACTIONS:
        return _transaction_checks(options)
    contract = c.CONTRACTS[options.kind]
    checks = [Check(RejectReason.MISSING_KEY, f"{q(k)} IS NULL") for k in contract.key]
    for col in contract.columns:
        if col.dtype is c.DType.FLOAT:
            raw = q("__raw_" + col.name)
            bad = f"{raw} IS NOT NULL AND {q(col.name)} IS NULL"
            bad += f" OR NOT isfinite({q(col.name)}) OR {q(col.name)} < 0"
            checks.append(Check(f"invalid_{col.name}", bad, _value(col.name)))
        elif col.dtype is c.DType.TIMESTAMP:
            bad = f"{q(col.name)} IS NULL AND {_ts_text(col.name)} IS NOT NULL"
            checks.append(Check(f"invalid_{col.name}", bad, _ts_text(col.name)))
    return checks


def _transaction_checks(options: IngestOptions) -> list[Check]:
    r = RejectReason
    ts, qty, price = q(c.TS), q(c.QUANTITY), q(c.UNIT_PRICE)
    out_of_range = f"{ts} < TIMESTAMPTZ '1900-01-01 00:00:00+00' OR {ts} > now() + INTERVAL 1 DAY"
    checks = [
        Check(r.MISSING_ORDER_ID, f"{q(c.ORDER_ID)} IS NULL"),
        Check(r.MISSING_PRODUCT_ID, f"{q(c.PRODUCT_ID)} IS NULL"),
        Check(r.MISSING_TS, f"{ts} IS NULL AND {_ts_text(c.TS)} IS NULL"),
        Check(r.INVALID_TS, f"{ts} IS NULL", _ts_text(c.TS)),
        Check(r.TS_OUT_OF_RANGE, out_of_range, _ts_text(c.TS)),
    ]
    if options.anonymous is AnonymousPolicy.REJECT:
        checks.append(Check(r.MISSING_CUSTOMER_ID, f"{q(c.CUSTOMER_ID)} IS NULL"))
    checks += [
        Check(r.INVALID_QUANTITY, f"{qty} IS NULL OR NOT isfinite({qty})", _value(c.QUANTITY)),
        Check(r.ZERO_QUANTITY, f"{qty} = 0", _value(c.QUANTITY)),
        Check(
            r.INVALID_UNIT_PRICE,
            f"{q('__raw_unit_price')} IS NOT NULL AND ({price} IS NULL OR NOT isfinite({price}))",
            _value(c.UNIT_PRICE),
        ),
        Check(r.NEGATIVE_UNIT_PRICE, f"{price} < 0", _value(c.UNIT_PRICE)),
    ]
    return checks
