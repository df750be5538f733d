"""Use case: `omnix backtest --recommend` — the recommendation blend against the baselines.

Same protocol and population as the next-basket backtest (services/backtest.py): history before
the cutoff, each evaluated customer's first order in the window as truth. Every method is scored
on recall, NDCG and PHR at k over the whole basket, over its repeat items (bought before the
cutoff) and over its explore items (never bought), plus catalogue coverage and intra-list
diversity (cosine distance of the product-text vectors). The last row is the blend as it is
served: products of a protected category only to customers who bought them
(services/recommend.OwnPurchasesOnly).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from omnix.analytics import recommend as ra
from omnix.domain.errors import EmptyStoreError
from omnix.domain.ports import TextEncoder, Warehouse
from omnix.evaluation import beyond
from omnix.evaluation import metrics as m
from omnix.models.baselines import TIFUKNN, PTopFreq
from omnix.models.recommend.blend import BlendRecommender
from omnix.models.recommend.candidates import pair_keys
from omnix.services.backtest import BacktestService, Protocol, encode
from omnix.services.encode import category_names, codes, day_number, encode_history
from omnix.services.recommend import OwnPurchasesOnly, product_texts, product_vectors

SINGLE_SOURCES = ("replenishment", "collaborative", "content", "segment", "complements")
SERVED = "omnix blend, protected own-only"  # the blend under the protected-category rule


@dataclass(slots=True)
class RecommendBacktestReport:
    cutoff: str
    horizon_days: int
    k: int
    customers: int
    customers_with_explore: int  # evaluated customers whose next basket holds a new item
    encoder: str
    methods: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_lists(
    name: str, rec: Any, p: Protocol, split: tuple[list[set[int]], list[set[int]]], vectors: Any
) -> dict[str, Any]:
    """Every metric of one method's (n, k) lists."""
    k = rec.shape[1]
    row: dict[str, Any] = {"method": name}
    for label, truth in (("", p.truth), ("repeat_", split[0]), ("explore_", split[1])):
        row[f"{label}recall@{k}"] = m.recall_at_k(rec, truth)
        row[f"{label}ndcg@{k}"] = m.ndcg_at_k(rec, truth)
        row[f"{label}phr@{k}"] = m.phr_at_k(rec, truth)
    row["coverage"] = beyond.coverage(rec, p.history.n_items)
    row["diversity"] = beyond.intra_list_diversity(rec, vectors)
    return row


@dataclass(slots=True)
class RecommendBacktest:
    warehouse: Warehouse
    encoder: Callable[[], TextEncoder]

    def _vectors(self, tables: dict[str, Any], cutoff: date) -> tuple[Any, str]:
        items = encode_history(tables["history"]).items
        start = datetime(cutoff.year, cutoff.month, cutoff.day, tzinfo=UTC)
        attrs = ra.product_text(self.warehouse.ibis().table("transactions"), start).to_pyarrow()
        at = codes(attrs["product_id"], items)
        order = np.argsort(at[at >= 0])
        rows = attrs.filter(at >= 0).take(order)
        encoder = self.encoder()
        return product_vectors(self.warehouse, product_texts(rows), encoder), encoder.name

    def run(self, cutoff: date, horizon_days: int, k: int = 10) -> RecommendBacktestReport:
        t: dict[str, float] = {}
        started = time.perf_counter()

        def lap(name: str) -> None:
            t[name] = round(time.perf_counter() - started - sum(t.values()), 3)

        with self.warehouse.run("backtest-recommend", {"cutoff": cutoff.isoformat()}):
            tables = BacktestService(self.warehouse).fetch(cutoff, horizon_days)
            if tables["evaluated"].num_rows == 0:
                raise EmptyStoreError(f"no customer to evaluate at {cutoff}: pick another --cutoff")
            p = encode(tables, day_number(cutoff))
            vectors, encoder_name = self._vectors(tables, cutoff)
            lap("prepare")
            split = beyond.split_truth(p.truth, p.customers, pair_keys(p.history),
                                       p.history.n_items)  # fmt: skip
            report = RecommendBacktestReport(
                cutoff=cutoff.isoformat(), horizon_days=horizon_days, k=k,
                customers=len(p.customers), customers_with_explore=sum(1 for s in split[1] if s),
                encoder=encoder_name,
            )  # fmt: skip
            for name, model in (("P-TopFreq", PTopFreq()), ("TIFU-KNN", TIFUKNN())):
                rec = model.fit(p.history).recommend(p.customers, k)
                report.methods.append(score_lists(name, rec, p, split, vectors))
                lap(name)
            blend = BlendRecommender(horizon_days=float(horizon_days)).fit(
                p.history, p.cutoff_day, vectors, p.item_category
            )
            lap("blend fit")
            als = blend.sources_.collaborative.recommend(p.customers, k)
            report.methods.append(score_lists("ALS alone", als, p, split, vectors))
            for source in SINGLE_SOURCES:
                rec = blend.recommend_by(source, p.customers, k)
                report.methods.append(score_lists(f"source: {source}", rec, p, split, vectors))
            rec = blend.recommend(p.customers, k)
            report.methods.append(score_lists("omnix blend", rec, p, split, vectors))
            # what is served: protected categories' products only to their buyers
            names = category_names(tables["categories"])
            own = OwnPurchasesOnly.of(p.history, p.item_category, names)
            rec = own.top_k(blend, p.customers, k)
            report.methods.append(score_lists(SERVED, rec, p, split, vectors))
            lap("blend score")
        report.seconds = t
        return report
