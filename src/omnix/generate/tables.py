"""Arrow schemas of the generated files.

Transactions, products and customers follow `omnix.domain.contract`; the truth file is
the generator's own: one row per (customer, repertoire product), see `simulate`.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

from omnix.domain.contract import (
    CATEGORY,
    CHANNEL,
    COUNTRY,
    CUSTOMER_ID,
    CUSTOMERS,
    FIRST_SEEN,
    LINE_ID,
    PRODUCT_ID,
    PRODUCTS,
    REGION,
    STORE_ID,
    TRANSACTIONS,
    Column,
    DType,
)

# Truth columns.
ARCHETYPE: Final = "archetype"
PRICE_TIER: Final = "price_tier"
CHURN_DATE: Final = "churn_date"
CYCLE_DAYS: Final = "cycle_days"
REGULARITY: Final = "regularity"
MEAN_QUANTITY: Final = "mean_quantity"
N_PURCHASES: Final = "n_purchases"
N_UNITS: Final = "n_units"
GAMMA_SHAPE: Final = "gamma_shape"

ARROW_TYPES: Final[dict[DType, pa.DataType]] = {
    DType.STRING: pa.string(),
    DType.FLOAT: pa.float64(),
    DType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    DType.BOOL: pa.bool_(),
    DType.INT: pa.int64(),
    DType.JSON: pa.string(),
}


def _field(column: Column) -> pa.Field:
    return pa.field(column.name, ARROW_TYPES[column.dtype], nullable=not column.required)


def transactions_schema() -> pa.Schema:
    """The TRANSACTIONS contract without `line_id` (exports such as UCI's have none)."""
    return pa.schema([_field(c) for c in TRANSACTIONS.columns if c.name != LINE_ID])


def products_schema() -> pa.Schema:
    return pa.schema([_field(c) for c in PRODUCTS.columns])


def customers_schema() -> pa.Schema:
    """The CUSTOMERS contract columns the generator fills (no postcode)."""
    produced = {CUSTOMER_ID, FIRST_SEEN, COUNTRY, REGION, STORE_ID, CHANNEL}
    return pa.schema([_field(c) for c in CUSTOMERS.columns if c.name in produced])


def truth_schema() -> pa.Schema:
    """Ground truth, one row per (customer, repertoire product).

    archetype / price_tier: the customer's segment; the product's budget|standard|premium.
    first_seen: date of the customer's first order.
    churn_date: first day the customer no longer shops (no line on or after it); null when
        still active at the end of the history.
    cycle_days: true mean days ONE unit lasts; gaps after a q-unit purchase average q times it.
    regularity: 1 - coefficient of variation of the consumption interval, clipped to 0..1
        (of the consumption clock; purchase dates add the wait for a shopping trip).
    mean_quantity: mean units per purchase line generated (the usual units if none).
    n_purchases / n_units: purchase lines / units of the pair actually generated.
    gamma_shape: shape of the gamma interval distribution (regularity = 1 - 1/sqrt(shape)).
    """
    return pa.schema(
        [
            pa.field(CUSTOMER_ID, pa.string(), nullable=False),
            pa.field(PRODUCT_ID, pa.string(), nullable=False),
            pa.field(CATEGORY, pa.string()),
            pa.field(ARCHETYPE, pa.string()),
            pa.field(PRICE_TIER, pa.string()),
            pa.field(FIRST_SEEN, pa.date32()),
            pa.field(CHURN_DATE, pa.date32()),
            pa.field(CYCLE_DAYS, pa.float64()),
            pa.field(REGULARITY, pa.float64()),
            pa.field(MEAN_QUANTITY, pa.float64()),
            pa.field(N_PURCHASES, pa.int64()),
            pa.field(N_UNITS, pa.float64()),
            pa.field(GAMMA_SHAPE, pa.float64()),
        ]
    )
