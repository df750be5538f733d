"""Use case: run every analysis that exists and return small, printable results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omnix.analytics import overview
from omnix.domain.errors import EmptyStoreError
from omnix.domain.ports import Warehouse


@dataclass(slots=True)
class Analysis:
    store: dict[str, Any]
    business: dict[str, Any]
    monthly: list[dict[str, Any]] = field(default_factory=list)
    top_products: list[dict[str, Any]] = field(default_factory=list)


def _rows(expr: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    return rows


@dataclass(slots=True)
class AnalyseService:
    warehouse: Warehouse

    def store_overview(self) -> dict[str, Any]:
        tx = self.warehouse.ibis().table("transactions")
        return _rows(overview.store_overview(tx))[0]

    def analyse(self, top: int = 10) -> Analysis:
        con = self.warehouse.ibis()
        tx = con.table("transactions")
        store = _rows(overview.store_overview(tx))[0]
        if not store["lines"]:
            raise EmptyStoreError("the store holds no transactions yet: run `omnix ingest FILE`")
        with self.warehouse.run("analyse"):
            return Analysis(
                store=store,
                business=_rows(overview.business_summary(tx))[0],
                monthly=_rows(overview.monthly(tx)),
                top_products=_rows(overview.top_products(tx, top)),
            )
