"""The omnix data contract: every column name and type, defined once.

Ingestion maps foreign files onto these tables, analytics read them, the generator
writes them. Nothing else in the code base spells a contract column as a literal.

Transactions (one row per order line)::

    customer_id  str | None   pseudonymous customer key; None = anonymous shopper
    order_id     str          basket / invoice id
    ts           timestamptz  when the order happened (naive input read in settings.timezone)
    product_id   str          SKU / article key
    product_name str | None
    category     str | None
    brand        str | None
    quantity     float        default 1; negative = return
    unit_price   float | None price per unit in `currency`
    currency     str | None   ISO 4217 code
    store_id     str | None
    channel      str | None   e.g. store, online, app
    line_id      str | None   the source's own line identity, when it has one

Columns omnix adds when it stores a line::

    line_seq     int          with order_id and product_id the line's identity when line_id
                              is absent. From a file: the line's position within its order
                              (its row minus the order's first row, plus 1); from an event
                              batch: the occurrence of this product within its order (1, 2 ...).
                              The embedded store may hold NULL: derived from row_number until
                              a later file repeats the order (adapters/warehouse/duckdb_load)
    line_type    str          sale | return | cancellation
    is_product   bool         False for postage, fees and other non-product lines
    attributes   JSON | None  extra source columns the contract does not name
    source_id    str          fingerprint of the file the line came from
    row_number   int          1-based data row within that file
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Kind(StrEnum):
    """Which table a file loads into (`omnix ingest --kind`)."""

    TRANSACTIONS = "transactions"
    PRODUCTS = "products"
    CUSTOMERS = "customers"


class LineType(StrEnum):
    SALE = "sale"
    RETURN = "return"
    CANCELLATION = "cancellation"


class DType(StrEnum):
    """Logical column types; adapters translate them to engine types."""

    STRING = "string"
    FLOAT = "float"
    TIMESTAMP = "timestamp"
    BOOL = "bool"
    INT = "int"
    JSON = "json"
    DATE = "date"  # a calendar day (results such as a predicted next purchase date)


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    dtype: DType
    required: bool = False
    doc: str = ""


@dataclass(frozen=True, slots=True)
class TableContract:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


# Column names, for code that needs one by name.
CUSTOMER_ID: Final = "customer_id"
ORDER_ID: Final = "order_id"
TS: Final = "ts"
PRODUCT_ID: Final = "product_id"
PRODUCT_NAME: Final = "product_name"
CATEGORY: Final = "category"
BRAND: Final = "brand"
QUANTITY: Final = "quantity"
UNIT_PRICE: Final = "unit_price"
CURRENCY: Final = "currency"
STORE_ID: Final = "store_id"
CHANNEL: Final = "channel"
LINE_ID: Final = "line_id"
PACK_SIZE: Final = "pack_size"
FIRST_SEEN: Final = "first_seen"
COUNTRY: Final = "country"
REGION: Final = "region"
POSTCODE: Final = "postcode"
# Added by omnix on storage.
LINE_SEQ: Final = "line_seq"
LINE_TYPE: Final = "line_type"
IS_PRODUCT: Final = "is_product"
ATTRIBUTES: Final = "attributes"
SOURCE_ID: Final = "source_id"
ROW_NUMBER: Final = "row_number"

S, F, T = DType.STRING, DType.FLOAT, DType.TIMESTAMP

TRANSACTIONS: Final = TableContract(
    name="transactions",
    columns=(
        Column(CUSTOMER_ID, S, True, "customer key; empty = anonymous shopper"),
        Column(ORDER_ID, S, True, "basket / invoice id"),
        Column(TS, T, True, "order time; naive values are read in the configured timezone"),
        Column(PRODUCT_ID, S, True, "SKU / article key"),
        Column(PRODUCT_NAME, S),
        Column(CATEGORY, S),
        Column(BRAND, S),
        Column(QUANTITY, F, False, "units; default 1; negative = return"),
        Column(UNIT_PRICE, F, False, "price per unit, >= 0"),
        Column(CURRENCY, S),
        Column(STORE_ID, S),
        Column(CHANNEL, S),
        Column(LINE_ID, S, False, "the source's own line id; defines line identity when given"),
    ),
    key=(LINE_ID,),  # or (order_id, product_id, line_seq) when line_id is absent
)

PRODUCTS: Final = TableContract(
    name="products",
    columns=(
        Column(PRODUCT_ID, S, True),
        Column(PRODUCT_NAME, S),
        Column(CATEGORY, S),
        Column(BRAND, S),
        Column(PACK_SIZE, F, False, "units per pack, for consumption per unit"),
        Column(UNIT_PRICE, F, False, "list price"),
        Column(CURRENCY, S),
    ),
    key=(PRODUCT_ID,),
)

CUSTOMERS: Final = TableContract(
    name="customers",
    columns=(
        Column(CUSTOMER_ID, S, True),
        Column(FIRST_SEEN, T),
        Column(COUNTRY, S),
        Column(REGION, S),
        Column(POSTCODE, S),
        Column(STORE_ID, S, False, "home store"),
        Column(CHANNEL, S, False, "preferred channel"),
    ),
    key=(CUSTOMER_ID,),
)

CONTRACTS: Final[dict[Kind, TableContract]] = {
    Kind.TRANSACTIONS: TRANSACTIONS,
    Kind.PRODUCTS: PRODUCTS,
    Kind.CUSTOMERS: CUSTOMERS,
}


def names_customers(kind: Kind) -> bool:
    """Whether a table of this kind holds customer ids (transactions, customer records):
    what erasure, consent and pseudonymization reach."""
    return CUSTOMER_ID in CONTRACTS[kind].names


# Stored transaction columns, in table order: the contract plus what omnix adds.
STORED_TRANSACTION_COLUMNS: Final = (
    *TRANSACTIONS.names,
    LINE_SEQ,
    LINE_TYPE,
    IS_PRODUCT,
    ATTRIBUTES,
    SOURCE_ID,
    ROW_NUMBER,
)
