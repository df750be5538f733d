"""Ingestion vocabulary: options, reject reasons, presets and the summary of a run.

The rules themselves (which value is impossible, which line is a return) are expressed here
as data; adapters compile them to SQL for the engine that runs the load.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from omnix.domain import contract as c
from omnix.domain.access import keyed_hash
from omnix.domain.errors import MappingError


class AnonymousPolicy(StrEnum):
    """What to do with a line that has no customer id (an anonymous shopper).

    keep:   store it; it counts for product-level statistics and is excluded from every
            customer analysis (customer analytics filter on a non-null customer id).
    reject: send it to the rejects file with reason `missing_customer_id`.
    """

    KEEP = "keep"
    REJECT = "reject"


class ExtraColumns(StrEnum):
    """Source columns the contract does not name: keep them as JSON attributes, or ignore."""

    KEEP = "keep"
    IGNORE = "ignore"


class RejectReason(StrEnum):
    """Why a row was not stored. Checked in this order; the first that applies is reported."""

    MALFORMED_ROW = "malformed_row"  # a CSV line with the wrong number of fields
    # the customer was erased (GDPR Art. 17) before: the row is counted, its content not kept
    ERASED_CUSTOMER = "erased_customer"
    MISSING_ORDER_ID = "missing_order_id"
    MISSING_PRODUCT_ID = "missing_product_id"
    MISSING_TS = "missing_ts"
    INVALID_TS = "invalid_ts"  # present but not a timestamp
    TS_OUT_OF_RANGE = "ts_out_of_range"  # before 1900 or more than a day in the future
    MISSING_CUSTOMER_ID = "missing_customer_id"  # only under AnonymousPolicy.REJECT
    INVALID_QUANTITY = "invalid_quantity"  # not a finite number
    ZERO_QUANTITY = "zero_quantity"
    INVALID_UNIT_PRICE = "invalid_unit_price"
    NEGATIVE_UNIT_PRICE = "negative_unit_price"
    # under currency signs: the price's sign names another currency than the line's ("€4.99", USD)
    CURRENCY_MISMATCH = "currency_mismatch"
    MISSING_KEY = "missing_key"  # products/customers tables: no key value
    DUPLICATE_KEY = "duplicate_key"  # products/customers tables: key repeated within a file


@dataclass(frozen=True, slots=True)
class ErasedCustomers:
    """The customers erased so far, as the erasure log knows them: keyed hashes of their
    source ids (`access.keyed_hash(secret, id, "erasure")`), never the ids. Ingest rejects a
    new file's lines of these customers, so a nightly full re-import does not bring an erased
    customer back; the rejected row keeps its number and reason, not its content."""

    secret: str
    hashes: frozenset[str]

    @classmethod
    def known(cls, secret: str | None, hashes: frozenset[str]) -> ErasedCustomers | None:
        """The erased customers to recognise, or None when there are none (or no secret)."""
        return cls(secret, hashes) if secret and hashes else None

    def among(self, ids: Iterable[str]) -> list[str]:
        """The ids (trimmed source ids) that belong to an erased customer: as written, or
        read as a whole number ("13085.0", a float id exported through pandas, is 13085, as
        erasure matches rejected rows and ingest reads a float column)."""
        return [i for i in ids if self.erased(i)]

    def erased(self, source_id: str) -> bool:
        return any(
            keyed_hash(self.secret, form, "erasure") in self.hashes
            for form in {source_id, whole_number_id(source_id)}
        )


_FLOAT_ZERO = re.compile(r"\.0+$")


def whole_number_id(text: str) -> str:
    """An id as a whole number when it was written as one with zero decimals: "13085.0" ->
    "13085" (pandas writes integer ids of a column with gaps as floats)."""
    return _FLOAT_ZERO.sub("", text)


@dataclass(frozen=True, slots=True)
class Preset:
    """A named mapping for a well-known foreign schema, plus its cleaning rules."""

    name: str
    description: str
    mapping: dict[str, str]  # source column -> contract column
    timezone: str | None = None  # how to read naive timestamps in this source
    null_values: tuple[str, ...] = ("",)
    cancellation_prefix: str | None = None  # order ids starting with it are cancellations
    non_product_pattern: str | None = None  # product ids matching it are fees, postage ...


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            name="online-retail-ii",
            description="UCI Online Retail II as published (Invoice, StockCode, ...).",
            mapping={
                "Invoice": c.ORDER_ID,
                "StockCode": c.PRODUCT_ID,
                "Description": c.PRODUCT_NAME,
                "Quantity": c.QUANTITY,
                "InvoiceDate": c.TS,
                "Price": c.UNIT_PRICE,
                "Customer ID": c.CUSTOMER_ID,
            },
            timezone="Europe/London",
            null_values=("", "nan", "NaN"),
            cancellation_prefix="C",
            non_product_pattern=(
                r"(?i)^(POST|DOT|M|C2|D|S|B|CRUK|PADS|AMAZONFEE|BANK CHARGES"
                r"|ADJUST[0-9]*|TEST[0-9]+|gift_.*)$"
            ),
        ),
    )
}


class NumberFormat(StrEnum):
    """How numbers written as text (CSV, JSON Lines) look; numbers typed in the file (Parquet)
    are as given. The two grouped formats are strict: under the decimal comma "1.5" is not a
    number (rejected with its reason), never silently read as 15; under the thousands comma
    "1,5" is not one either."""

    PLAIN = "plain"  # 1234.5, what the engine reads as a number (also 1e3)
    DECIMAL_COMMA = "decimal-comma"  # 1,50 and 1.234,50: most of continental Europe
    THOUSANDS_COMMA = "thousands-comma"  # 1,234.50: US/UK spreadsheets with grouping on


def number_format(decimal_comma: bool, thousands_comma: bool) -> NumberFormat:
    """The format the two options name (CLI flags, API form fields)."""
    if decimal_comma and thousands_comma:
        raise MappingError(
            "--decimal-comma and --thousands-comma exclude each other: a file's numbers use "
            "one of them"
        )
    if decimal_comma:
        return NumberFormat.DECIMAL_COMMA
    return NumberFormat.THOUSANDS_COMMA if thousands_comma else NumberFormat.PLAIN


@dataclass(frozen=True, slots=True)
class IngestOptions:
    """Everything that shapes one `omnix ingest` run."""

    kind: c.Kind = c.Kind.TRANSACTIONS
    mapping: dict[str, str] = field(default_factory=dict)  # source column -> contract column
    preset: Preset | None = None
    timezone: str = "UTC"
    anonymous: AnonymousPolicy = AnonymousPolicy.KEEP
    extra_columns: ExtraColumns = ExtraColumns.KEEP
    null_values: tuple[str, ...] = ("",)
    cancellation_prefix: str | None = None
    non_product_pattern: str | None = None
    ts_format: str | None = None  # strptime format for non-ISO timestamps, e.g. %d/%m/%Y %H:%M
    number_format: NumberFormat = NumberFormat.PLAIN  # how text numbers are written
    # Prices may carry one currency sign or ISO code ("$4.99", "4,99 €", "EUR 4.99"); an
    # unambiguous one fills an empty currency and must agree with a given one (CURRENCY_SIGNS).
    currency_signs: bool = False
    encoding: str = "utf-8"  # of text files (CSV, JSON Lines), e.g. cp1252; never guessed
    pseudonymize_key: str | None = None  # store customer ids as HMAC-SHA256(key, id)
    erased: ErasedCustomers | None = None  # their lines are rejected (transactions only)

    def effective_mapping(self) -> dict[str, str]:
        merged = dict(self.preset.mapping) if self.preset else {}
        merged.update(self.mapping)
        return merged

    def effective_timezone(self) -> str:
        if self.preset and self.preset.timezone and self.timezone == "UTC":
            return self.preset.timezone
        return self.timezone

    def effective_null_values(self) -> tuple[str, ...]:
        values = set(self.null_values) | (set(self.preset.null_values) if self.preset else set())
        return tuple(sorted(values))

    def effective_cancellation_prefix(self) -> str | None:
        if self.cancellation_prefix is not None:
            return self.cancellation_prefix or None
        return self.preset.cancellation_prefix if self.preset else None

    def effective_non_product_pattern(self) -> str | None:
        if self.non_product_pattern is not None:
            return self.non_product_pattern or None
        return self.preset.non_product_pattern if self.preset else None


def parse_mapping(pairs: list[str], kind: c.Kind = c.Kind.TRANSACTIONS) -> dict[str, str]:
    """Parse `--map SRC=DST` flags; DST must be a contract column of `kind`.

    >>> parse_mapping(["Invoice=order_id"])
    {'Invoice': 'order_id'}
    """
    names = c.CONTRACTS[kind].names
    mapping: dict[str, str] = {}
    for pair in pairs:
        src, sep, dst = pair.partition("=")
        if not sep or not src or not dst:
            raise MappingError(f"a column mapping is SRC=DST (--map), got {pair!r}")
        if dst not in names:
            raise MappingError(
                f"{pair}: {dst!r} is not a {kind.value} column (one of: {', '.join(names)})"
            )
        mapping[src] = dst
    return mapping


def preset_by_name(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        known = ", ".join(sorted(PRESETS))
        raise MappingError(f"unknown preset {name!r} (known: {known})") from None


def text_encoding(name: str) -> str:
    """The Python codec name of an encoding as a user writes it ("Windows-1252" -> "cp1252")."""
    import codecs

    try:
        info = codecs.lookup(name)
    except LookupError:
        raise MappingError(
            f"unknown encoding {name!r} (e.g. utf-8, cp1252 for Windows or Excel, latin-1)"
        ) from None
    if not getattr(info, "_is_text_encoding", True):
        raise MappingError(f"{name!r} is not a text encoding")
    return info.name


def validate_pattern(pattern: str | None) -> None:
    if pattern is None:
        return
    try:
        re.compile(pattern)
    except re.error as err:
        raise MappingError(f"non-product rule {pattern!r} is not a valid regex: {err}") from None


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    """How the columns of one source file land in the contract."""

    source_columns: tuple[str, ...]
    mapped: dict[str, str]  # contract column -> source column
    extras: tuple[str, ...]  # source columns kept as attributes (or ignored)
    extras_kept: bool
    # (source column, contract column): an extra whose name is usual for an unmapped column
    suggested: tuple[tuple[str, str], ...] = ()


def plan_columns(source_columns: list[str], options: IngestOptions) -> ColumnPlan:
    """Match source columns to the contract: explicit mapping first, then same-name columns,
    then names that differ only in case and separators ("Customer ID", "UNIT_PRICE") when
    exactly one column does. Extras that look like an unmapped contract column are named in
    `suggested` (never mapped: "Qty" may be a pack count).

    Missing required columns are a `MappingError` naming what is missing, what the file has
    and what to add to the command.
    """
    contract = c.CONTRACTS[options.kind]
    mapping = options.effective_mapping()
    mapped: dict[str, str] = {}
    for src in source_columns:
        dst = mapping.get(src)
        if dst is None and src in contract.names and src not in mapping.values():
            dst = src
        if dst is None:
            continue
        if dst in mapped:
            raise MappingError(f"columns {mapped[dst]!r} and {src!r} both map to {dst!r}")
        mapped[dst] = src
    free = [s for s in source_columns if s not in mapped.values() and s not in mapping]
    for dst in contract.names:
        if dst in mapped or dst in mapping.values():
            continue
        same = [s for s in free if _squash(s) == _squash(dst)]
        if len(same) == 1:
            mapped[dst] = same[0]
            free.remove(same[0])
    missing = [col for col in contract.required if col not in mapped]
    if missing:
        raise MappingError(
            f"{options.kind.value} file lacks required column(s) {', '.join(missing)}; "
            f"it has {', '.join(source_columns)} ({_suggest(missing, source_columns, free)})"
        )
    used = set(mapped.values())
    extras = tuple(s for s in source_columns if s not in used)
    suggested = tuple(
        (likely, dst)
        for dst in contract.names
        if dst not in mapped and (likely := _likely_source(dst, free)) is not None
    )
    return ColumnPlan(
        source_columns=tuple(source_columns),
        mapped=mapped,
        extras=extras,
        extras_kept=options.extra_columns is ExtraColumns.KEEP,
        suggested=suggested,
    )


# Names exports commonly give the contract's columns, compared squashed (lower case, letters
# and digits only; English, German, French): suggestions, never an automatic mapping.
_USUAL_NAMES: dict[str, frozenset[str]] = {
    c.CUSTOMER_ID: frozenset({"customer", "customerno", "customernumber", "client", "clientid",
                              "member", "memberid", "user", "userid", "loyaltyid", "kunde",
                              "kundennummer", "kundennr"}),
    c.ORDER_ID: frozenset({"order", "orderno", "ordernumber", "invoice", "invoiceno", "invoiceid",
                           "receipt", "receiptid", "transaction", "transactionid", "basket",
                           "basketid", "ticket", "ticketid", "bon", "bonnr", "beleg",
                           "belegnr", "commande"}),
    c.TS: frozenset({"timestamp", "date", "datetime", "time", "orderdate", "invoicedate",
                     "createdat", "purchasedate", "transactiondate", "datum", "zeit"}),
    c.PRODUCT_ID: frozenset({"product", "productno", "sku", "item", "itemid", "itemno", "article",
                             "articleid", "stockcode", "ean", "gtin", "upc", "artikel",
                             "artikelnr", "produit"}),
    c.PRODUCT_NAME: frozenset({"description", "name", "itemname", "title", "producttitle",
                               "bezeichnung", "artikelbezeichnung", "libelle"}),
    c.CATEGORY: frozenset({"department", "productcategory", "kategorie", "warengruppe",
                           "categorie", "rayon"}),
    c.BRAND: frozenset({"vendor", "manufacturer", "marke", "hersteller", "marque"}),
    c.QUANTITY: frozenset({"qty", "units", "pieces", "pcs", "menge", "anzahl", "quantite"}),
    c.UNIT_PRICE: frozenset({"price", "itemprice", "priceeach", "preis", "einzelpreis", "prix",
                             "prixunitaire"}),
    c.CURRENCY: frozenset({"currencycode", "wahrung", "wahrungscode", "devise"}),
    c.STORE_ID: frozenset({"store", "shop", "shopid", "location", "locationid", "branch",
                           "filiale", "markt", "magasin"}),
    c.CHANNEL: frozenset({"saleschannel", "kanal", "vertriebskanal", "canal"}),
}  # fmt: skip


def _squash(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.casefold())


def _likely_source(dst: str, free: list[str]) -> str | None:
    """The one free column whose name is usual for `dst` (_USUAL_NAMES); names that are
    dst's own, spelled differently, were mapped already (plan_columns)."""
    likely = [s for s in free if _squash(s) in _USUAL_NAMES.get(dst, ())]
    return likely[0] if len(likely) == 1 else None


def _suggest(missing: list[str], columns: list[str], free: list[str]) -> str:
    """What to add to the command: a preset whose columns the file has, else a --map for each
    missing column that has one likely source, else the general advice."""
    have = set(columns)
    for preset in PRESETS.values():
        if set(missing) <= {dst for src, dst in preset.mapping.items() if src in have}:
            return f"try --preset {preset.name}"
    maps = [_map_flag(src, dst) for dst in missing if (src := _likely_source(dst, free))]
    return "try " + " ".join(maps) if maps else "use --map SRC=DST or --preset"


def _map_flag(src: str, dst: str) -> str:
    """The --map flag as a shell takes it: --map 'Order No=order_id'."""
    return f"--map {shlex.quote(f'{src}={dst}')}"


def mapping_hint(plan: ColumnPlan, source_name: str) -> str | None:
    """The summary's word on extra columns that look like contract columns left unmapped."""
    if not plan.suggested:
        return None
    pairs = ", ".join(f"{src!r} looks like {dst}" for src, dst in plan.suggested)
    maps = " ".join(_map_flag(src, dst) for src, dst in plan.suggested)
    verb = "kept as attributes" if plan.extras_kept else "ignored"
    return (
        f"extra columns {verb}, but {pairs}: if so, take the file out "
        f"(omnix sources remove {shlex.quote(source_name)} --yes) and ingest it again with {maps}"
    )


@dataclass(slots=True)
class IngestSummary:
    """What one file's ingest did. Invariant: read == stored + rejected.

    `stored` counts lines of this file that are in the store after the run, whether this
    run inserted them (`inserted`) or an earlier run had (`duplicates`).
    """

    source: str
    kind: str
    read: int = 0
    stored: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejects_file: str | None = None
    reject_reasons: dict[str, int] = field(default_factory=dict)
    anonymous: int = 0
    returns: int = 0
    cancellations: int = 0
    non_product: int = 0
    extra_columns: list[str] = field(default_factory=list)
    extra_columns_kept: bool = True
    seconds: float = 0.0
    hints: list[str] = field(default_factory=list)  # what an option might fix, in words

    @property
    def balanced(self) -> bool:
        return self.read == self.stored + self.rejected and self.stored == (
            self.inserted + self.duplicates
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "read": self.read,
            "stored": self.stored,
            "inserted": self.inserted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "rejects_file": self.rejects_file,
            "reject_reasons": dict(sorted(self.reject_reasons.items())),
            "anonymous": self.anonymous,
            "returns": self.returns,
            "cancellations": self.cancellations,
            "non_product": self.non_product,
            "extra_columns": self.extra_columns,
            "extra_columns_kept": self.extra_columns_kept,
            "balanced": self.balanced,
            "seconds": round(self.seconds, 3),
            "hints": list(self.hints),
        }


# A rejected text number that a decimal comma would explain: "1,50", "-1.234,5".
LOOKS_DECIMAL_COMMA = r"[+-]?[0-9]+(\.[0-9]{3})*,[0-9]+"


def decimal_comma_hint(count: int, example: str) -> str:
    return (
        f"{count:,} rejected number(s) are written with a comma, e.g. {example!r}: if the file "
        "uses decimal commas, ingest it again with the decimal comma option (--decimal-comma)"
    )


# A rejected text number that commas grouping thousands would explain: "1,299.00". Without
# the decimals ("1,299") it is as likely a decimal comma, which LOOKS_DECIMAL_COMMA names.
LOOKS_THOUSANDS_COMMA = r"[+-]?[0-9]{1,3}(,[0-9]{3})+\.[0-9]+"


def thousands_comma_hint(count: int, example: str) -> str:
    return (
        f"{count:,} rejected number(s) group thousands with commas, e.g. {example!r}: ingest "
        "the file again with the thousands comma option (--thousands-comma)"
    )


# Currency signs a price may carry under `currency_signs`, with the ISO 4217 code each names
# (None: more than one currency writes it, so it fills nothing and contradicts nothing). Any
# three capital letters ("EUR 4.99") are read as the code itself.
CURRENCY_SIGNS: dict[str, str | None] = {
    "$": None, "¥": None, "kr": None, "C$": None,  # dollars, yen/yuan, crowns, CAD/NIO
    "€": "EUR", "£": "GBP", "₹": "INR", "₩": "KRW", "₺": "TRY", "₽": "RUB", "₪": "ILS",
    "₫": "VND", "฿": "THB", "₱": "PHP", "₴": "UAH", "₦": "NGN", "₡": "CRC", "₲": "PYG",
    "₸": "KZT", "₼": "AZN", "₾": "GEL", "zł": "PLN", "Kč": "CZK", "Ft": "HUF", "R$": "BRL",
    "US$": "USD", "CA$": "CAD", "A$": "AUD", "AU$": "AUD", "NZ$": "NZD", "HK$": "HKD",
    "S$": "SGD", "MX$": "MXN",
}  # fmt: skip

_SIGN = "|".join(
    [re.escape(s) for s in sorted(CURRENCY_SIGNS, key=len, reverse=True)] + ["[A-Z]{3}"]
)
# A price with at most a sign before or after its number, matched whole (RE2 and Python):
# groups 1 minus, 2 sign before, 3 number, 4 sign after. Both signs present: not a price.
_SPACE = "[ \u00a0\u202f]*"  # spreadsheets put a no-break space between "4,99" and "€"
PRICE_WITH_SIGN = (
    rf"([+-]?){_SPACE}(?:({_SIGN}){_SPACE})?([+-]?[.,]?[0-9][0-9.,]*){_SPACE}({_SIGN})?"
)


def currency_sign_hint(count: int, example: str) -> str:
    return (
        f"{count:,} rejected price(s) carry a currency sign, e.g. {example!r}: ingest the file "
        "again with the currency signs option (--currency-signs); a sign such as € also fills "
        "an empty currency"
    )


# Timestamp layouts tried on a file's rejected timestamps, to name the --ts-format that
# reads them (day-first and month-first both, when the values allow either).
TS_FORMAT_GUESSES: tuple[str, ...] = tuple(
    f"{date}{time}"
    for date in ("%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%Y/%m/%d",
                 "%d/%m/%y", "%m/%d/%y", "%d.%m.%y")
    for time in (" %H:%M", " %H:%M:%S", "")
)  # fmt: skip


def ts_format_hint(count: int, example: str, formats: list[str]) -> str:
    """What to tell about `count` rejected timestamps that every one of `formats` reads."""
    said = " or ".join(f"'{f}'" for f in formats)
    which = "" if len(formats) == 1 else " (the values fit either: check which the file uses)"
    return (
        f"{count:,} rejected timestamp(s) are not ISO 8601, e.g. {example!r}: they read as "
        f"--ts-format {said}{which}"
    )


def rejects_path(data_dir: Path, source_name: str, source_id: str) -> Path:
    """Rejects file for one source, beside the store: <data>/rejects/<name>.<id8>.rejects.csv."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", source_name)
    return data_dir / "rejects" / f"{safe}.{source_id[:8]}.rejects.csv"
