"""The store's tables, named once for both engines (DuckDB and PostgreSQL).

Column names and types come from the domain where it names them (`domain/contract.py`,
`domain/snapshots.py`, `domain/recommend.py`); this module adds the store's own columns and
tables, and renders each table's `CREATE TABLE` in either engine's types. The versioned
migrations (`migrations.py`) create and extend tables from these definitions, so a fresh
store and an upgraded one end with the same columns (tested on both engines).

Types are the contract's (`DType` values) plus two the store alone uses: `int32` (line_seq)
and `vector` (an embedding: DuckDB FLOAT[], PostgreSQL REAL[]). JSON is `JSON` in both: the
text is kept as given (PostgreSQL's JSONB would reorder keys).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from omnix.domain import contract as c
from omnix.domain import recommend as reco
from omnix.domain.snapshots import (
    PREDICTION_COLUMNS,
    PREDICTIONS,
    SNAPSHOT_COLUMNS,
    SNAPSHOT_DATE,
    SNAPSHOTS,
)

Dialect = Literal["duckdb", "postgres"]
DUCKDB: Final = "duckdb"
POSTGRES: Final = "postgres"
INT32: Final = "int32"
VECTOR: Final = "vector"

TYPES: Final[dict[str, dict[str, str]]] = {
    DUCKDB: {
        "string": "VARCHAR", "float": "DOUBLE", "timestamp": "TIMESTAMPTZ", "bool": "BOOLEAN",
        "int": "BIGINT", "json": "JSON", "date": "DATE", INT32: "INTEGER", VECTOR: "FLOAT[]",
    },
    POSTGRES: {
        "string": "TEXT", "float": "DOUBLE PRECISION", "timestamp": "TIMESTAMPTZ",
        "bool": "BOOLEAN", "int": "BIGINT", "json": "JSON", "date": "DATE", INT32: "INTEGER",
        VECTOR: "REAL[]",
    },
}  # fmt: skip

API_KEYS, JOBS, EVENT_MESSAGES, ERASURES = "api_keys", "jobs", "event_messages", "erasures"
# what one ingested file left, by its source_id (`remove_source`); `sources` last
SOURCE_TABLES: Final = ("transactions", "products", "customers", "rejects", "sources")
REJECTS = "rejects"
MIGRATIONS = "schema_migrations"


def q(name: str) -> str:
    """Quote an identifier (the same in both engines)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: str  # a key of TYPES[dialect]
    not_null: bool = False


@dataclass(frozen=True, slots=True)
class Index:
    """A secondary index. `where`: a partial index's predicate; `engines`: where it is made
    (DuckDB's ART indexes slow its bulk loads and its scans need none)."""

    name: str
    columns: tuple[str, ...]
    unique: bool = False
    where: str | None = None
    engines: tuple[str, ...] = (POSTGRES,)

    def create_sql(self, table: str) -> str:
        cols = ", ".join(q(col) for col in self.columns)
        unique = "UNIQUE " if self.unique else ""
        where = f" WHERE {self.where}" if self.where else ""
        return f"CREATE {unique}INDEX IF NOT EXISTS {self.name} ON {table} ({cols}){where}"


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    indexes: tuple[Index, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(col.name for col in self.columns)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")

    def create_sql(self, dialect: str) -> list[str]:
        """`CREATE TABLE IF NOT EXISTS` and the table's indexes for `dialect`."""
        types = TYPES[dialect]
        parts = [
            f"{q(col.name)} {types[col.kind]}{' NOT NULL' if col.not_null else ''}"
            for col in self.columns
        ]
        if self.primary_key:
            parts.append(f"PRIMARY KEY ({', '.join(q(k) for k in self.primary_key)})")
        out = [f"CREATE TABLE IF NOT EXISTS {self.name} ({', '.join(parts)})"]
        return out + [i.create_sql(self.name) for i in self.indexes if dialect in i.engines]

    def add_column_sql(self, name: str, dialect: str) -> str:
        col = self.column(name)
        return (
            f"ALTER TABLE {self.name} ADD COLUMN IF NOT EXISTS {q(col.name)} "
            f"{TYPES[dialect][col.kind]}"
        )


def _cols(*spec: tuple[str, str] | tuple[str, str, bool]) -> tuple[Column, ...]:
    return tuple(Column(*s) for s in spec)


def _contract(contract: c.TableContract, *extra: Column) -> tuple[Column, ...]:
    return tuple(Column(col.name, col.dtype.value) for col in contract.columns) + extra


S, F, T, B, N, J = "string", "float", "timestamp", "bool", "int", "json"

TRANSACTIONS = Table(
    c.TRANSACTIONS.name,
    _contract(
        c.TRANSACTIONS,
        Column(c.LINE_SEQ, INT32),  # NULL: derived (duckdb_load.POSITION)
        Column(c.LINE_TYPE, S, True),
        Column(c.IS_PRODUCT, B, True),
        Column(c.ATTRIBUTES, J),
        Column(c.SOURCE_ID, S, True),
        Column(c.ROW_NUMBER, N, True),
    ),
    indexes=(
        # line identity (ingest's duplicate check) and per-customer reads; not unique: lines
        # that came as events are counted once by message id, and two batches may each hold
        # an order's first line of a product (docs/DECISIONS_LOG.md)
        Index("transactions_line_position", (c.ORDER_ID, c.PRODUCT_ID, c.LINE_SEQ)),
        Index("transactions_line_id", (c.LINE_ID,), where=f"{c.LINE_ID} IS NOT NULL"),
        Index("transactions_customer", (c.CUSTOMER_ID,)),
    ),
)
PRODUCTS = Table(
    c.PRODUCTS.name,
    _contract(c.PRODUCTS, Column(c.ATTRIBUTES, J), Column(c.SOURCE_ID, S)),
    (c.PRODUCT_ID,),
)
CUSTOMERS = Table(
    c.CUSTOMERS.name,
    _contract(c.CUSTOMERS, Column(c.ATTRIBUTES, J), Column(c.SOURCE_ID, S)),
    (c.CUSTOMER_ID,),
)
REJECTS_TABLE = Table(
    REJECTS,
    _cols(("source_id", S, True), ("source_file", S), ("row_number", N), ("reason", S, True),
          ("detail", S), ("raw", S)),
    indexes=(Index("rejects_source", ("source_id",)),),
)  # fmt: skip
SOURCES = Table(
    "sources",
    _cols(("source_id", S), ("kind", S), ("path", S), ("name", S), ("format", S),
          ("size", N), ("read", N), ("stored", N), ("inserted", N), ("duplicates", N),
          ("rejected", N), ("first_ingested_at", T), ("last_ingested_at", T), ("seconds", F),
          ("summary", J)),
    ("source_id",),
)  # fmt: skip
RUNS = Table(
    "runs",
    _cols(("run_id", S), ("command", S), ("started_at", T), ("finished_at", T),
          ("status", S), ("detail", J)),
    ("run_id",),
)  # fmt: skip
META = Table("meta", _cols(("key", S), ("value", S)), ("key",))
CONSENTS = Table(
    "consents",
    _cols(("customer_id", S, True), ("purpose", S, True), ("granted", B, True),
          ("recorded_at", T, True), ("source", S)),
    indexes=(Index("consents_customer", ("customer_id", "purpose")),),
)  # fmt: skip
CUSTOMER_SNAPSHOTS = Table(
    SNAPSHOTS,
    (Column(SNAPSHOT_DATE, "date", True), *(Column(n, t.value) for n, t in SNAPSHOT_COLUMNS)),
    (SNAPSHOT_DATE, c.CUSTOMER_ID),
    (Index("customer_snapshots_customer", (c.CUSTOMER_ID,)),),
)
# One row per (snapshot_date, customer_id, product_id) by construction (a date's rows are
# replaced whole). No primary key: on DuckDB its index cost 9 of 12 s and 160 of 370 MB per
# million rows written; PostgreSQL gets a plain index for per-customer and per-date reads.
PREDICTIONS_TABLE = Table(
    PREDICTIONS,
    (Column(SNAPSHOT_DATE, "date", True), *(Column(n, t.value) for n, t in PREDICTION_COLUMNS)),
    indexes=(Index("predictions_day_customer", (SNAPSHOT_DATE, c.CUSTOMER_ID)),),
)
RECO_TABLES = tuple(
    Table(
        name,
        tuple(Column(col, dtype.value) for col, dtype in columns),
        indexes=(
            (Index(f"{name}_customer", (c.CUSTOMER_ID,)),) if name in reco.CUSTOMER_TABLES else ()
        ),
    )
    for name, columns in reco.TABLE_COLUMNS.items()
)
EMBEDDINGS = Table(
    reco.EMBEDDINGS,
    _cols(("model", S, True), ("text_key", S, True), ("vector", VECTOR, True)),
    ("model", "text_key"),
)
API_KEYS_TABLE = Table(
    API_KEYS,
    _cols(("key_id", S), ("name", S, True), ("role", S, True), ("key_hash", S, True),
          ("created_at", T, True), ("revoked_at", T), ("last_used_at", T)),
    ("key_id",),
)  # fmt: skip
JOBS_TABLE = Table(
    JOBS,
    _cols(("job_id", S), ("kind", S, True), ("status", S, True), ("created_at", T, True),
          ("record", J, True), ("cancel_requested", B)),
    ("job_id",),
    # one open analysis at a time, across every server process (PostgreSQL; DuckDB has one)
    (Index("jobs_one_open", ("kind",), unique=True, where="status IN ('queued', 'running')"),),
)  # fmt: skip
EVENT_MESSAGES_TABLE = Table(
    EVENT_MESSAGES,
    _cols(("message_id", S), ("batch_id", S, True), ("received_at", T, True),
          ("outcome", S, True)),
    ("message_id",),
)  # fmt: skip
ERASURES_TABLE = Table(
    ERASURES,
    _cols(("erasure_id", S), ("subject_hash", S, True), ("erased_at", T, True),
          ("requested_by", S), ("rows_deleted", J, True)),
    ("erasure_id",),
)  # fmt: skip
MIGRATIONS_TABLE = Table(
    MIGRATIONS,
    _cols(("version", "int32"), ("name", S, True), ("applied_at", T, True)),
    ("version",),
)

TABLES: Final[dict[str, Table]] = {
    t.name: t
    for t in (
        TRANSACTIONS, PRODUCTS, CUSTOMERS, REJECTS_TABLE, SOURCES, RUNS, META, CONSENTS,
        CUSTOMER_SNAPSHOTS, PREDICTIONS_TABLE, *RECO_TABLES, EMBEDDINGS, API_KEYS_TABLE, JOBS_TABLE,
        EVENT_MESSAGES_TABLE, ERASURES_TABLE, MIGRATIONS_TABLE,
    )
}  # fmt: skip

# What status counts, and everything reset empties (the run log too). Every table holding
# customer data is listed, so erasure reaches it.
COUNTED_TABLES: Final = (
    "transactions", "products", "customers", REJECTS, "sources", "consents", SNAPSHOTS,
    PREDICTIONS, *reco.CUSTOMER_TABLES,
)  # fmt: skip
# Cleared with the data by reset (a demo re-run); keys and the erasure log are kept.
RESET_WITH_DATA: Final = (EVENT_MESSAGES, JOBS)
DATA_TABLES: Final = (*COUNTED_TABLES, *reco.MODEL_TABLES, "runs", *RESET_WITH_DATA)
