"""Request-time recommendations from the precomputed tables (see services/recommend.py).

`Serving.load` reads the small model tables once (products, popular items, rules, context
lifts); each request then reads one customer's consent and stored candidates with point reads
(`Warehouse.customer_rows`: a bound parameter, no query building, served by the
customer_id index) and re-ranks them with the context (models/recommend/rerank.py). Reading
per request, rather than holding every customer's candidates in memory, keeps a revoked
consent and an erasure effective at once and the server's memory independent of the
customer count.

`ServingCache` keeps the loaded tables for a whole process (the API's and the dashboard's
threads share it): a request checks the tables' version in the store's meta table (one point
read) and reloads only when a newer `recommend --all` run has written them, from this process
or another. The cached tables hold no customer data (products, popular items per group,
association rules, context lifts), so an erasure has nothing to evict there.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from omnix.analytics import consent as consent_rules
from omnix.domain import recommend as reco
from omnix.domain.consent import Purpose, covers
from omnix.domain.errors import NotFoundError
from omnix.domain.ports import Warehouse
from omnix.models.recommend import rerank

_EMPTY = np.zeros(0, dtype=object)


def _obj(values: Any) -> np.ndarray[Any, Any]:
    return np.asarray(values, dtype=object)


@dataclass(slots=True)
class Serving:
    warehouse: Warehouse
    default_consent: bool
    as_of: str
    product_row: dict[str, int]
    name: np.ndarray[Any, Any]
    category: np.ndarray[Any, Any]
    brand: np.ndarray[Any, Any]
    popular: dict[int, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]  # group -> ids, scores
    rules: dict[str, tuple[list[str], list[float]]]  # antecedent -> consequents, confidences
    lifts: dict[tuple[str, str], dict[str, float]]  # (dimension, value) -> product -> lift

    @classmethod
    def load(cls, warehouse: Warehouse, default_consent: bool) -> Serving:
        as_of = warehouse.meta(reco.META_AS_OF)
        if as_of is None:
            raise NotFoundError("no recommendations computed yet: run `omnix recommend --all`")
        con = warehouse.ibis()
        products = con.table(reco.PRODUCTS).to_pyarrow()
        popular = con.table(reco.POPULAR).order_by(ibis.desc("score")).to_pyarrow()
        groups: dict[int, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]] = {}
        gid = np.asarray(popular["group_id"].to_numpy())
        for g in np.unique(gid).tolist():
            rows = np.flatnonzero(gid == g)
            groups[int(g)] = (
                _obj(popular["product_id"].to_numpy(zero_copy_only=False))[rows],
                np.asarray(popular["score"].to_numpy())[rows],
            )
        rules: dict[str, tuple[list[str], list[float]]] = {}
        table = con.table(reco.RULES).to_pyarrow().to_pylist()
        for r in table:
            out = rules.setdefault(r["antecedent"], ([], []))
            out[0].append(r["consequent"])
            out[1].append(r["confidence"])
        lifts: dict[tuple[str, str], dict[str, float]] = {}
        for r in con.table(reco.CONTEXT).to_pyarrow().to_pylist():
            lifts.setdefault((r["dimension"], r["value"]), {})[r["product_id"]] = r["lift"]
        ids = products["product_id"].to_pylist()
        return cls(
            warehouse, default_consent, as_of, {p: k for k, p in enumerate(ids)},
            _obj(products["product_name"].to_pylist()), _obj(products["category"].to_pylist()),
            _obj(products["brand"].to_pylist()), groups, rules, lifts,
        )  # fmt: skip

    # ---------------------------------------------------------------- per request
    def permitted(self, customer_id: str) -> bool:
        rows = self.warehouse.customer_rows(consent_rules.CONSENTS, customer_id)
        return covers(rows, Purpose.PERSONALIZATION, self.default_consent)

    def _attrs(self, products: np.ndarray[Any, Any]) -> tuple[Any, Any, Any]:
        rows = np.array([self.product_row.get(p, -1) for p in products.tolist()], dtype=np.int64)

        def pick(col: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
            out = np.full(rows.size, None, dtype=object)
            out[rows >= 0] = col[rows[rows >= 0]]
            return out

        return pick(self.name), pick(self.category), pick(self.brand)

    def _personal(self, customer_id: str) -> tuple[rerank.Slate, list[dict[str, float]]]:
        rows = self.warehouse.customer_rows(reco.CANDIDATES, customer_id)
        products = _obj([r["product_id"] for r in rows])
        _, cat, brand = self._attrs(products)
        scores = [{s: float(r[s]) for s in reco.SOURCES} for r in rows]
        slate = rerank.Slate(
            products, np.array([r["score"] for r in rows], dtype=np.float64),
            _obj([r["source"] for r in rows]), _obj([r["reason"] for r in rows]), cat, brand,
        )  # fmt: skip
        return slate, scores

    def _group(self, customer_id: str) -> int | None:
        rows = self.warehouse.customer_rows(reco.GROUPS, customer_id)
        return int(rows[0]["group_id"]) if rows else None

    def _popular(self, group: int | None) -> rerank.Slate:
        key = -1 if group is None or group not in self.popular else group
        products, score = self.popular.get(key, (_EMPTY, np.zeros(0)))
        _, cat, brand = self._attrs(products)
        why = "popular with customers in your segment" if key >= 0 else "popular with all customers"
        source = "segment" if key >= 0 else "popular"
        n = products.size
        return rerank.Slate(products, score.astype(np.float64), np.full(n, source, dtype=object),
                            np.full(n, why, dtype=object), cat, brand)  # fmt: skip

    def _complements(self, basket: tuple[str, ...]) -> rerank.Complements:
        best: dict[str, tuple[float, str]] = {}
        for a in basket:
            cons, conf = self.rules.get(a, ([], []))
            for product, value in zip(cons, conf, strict=True):
                if value > best.get(product, (0.0, ""))[0]:
                    best[product] = (value, a)
        products = _obj(list(best))
        _, cat, brand = self._attrs(products)
        ant = _obj([best[p][1] for p in best])
        ant_names, _, _ = self._attrs(ant)
        names = _obj([n if n is not None else a for n, a in zip(ant_names, ant, strict=True)])
        return rerank.Complements(products, np.array([best[p][0] for p in best]), names, cat, brand)

    def _context_weights(
        self, slate: rerank.Slate, ctx: reco.RecommendContext
    ) -> np.ndarray[Any, Any]:
        keys: list[tuple[str, str]] = []
        if ctx.at is not None:
            keys += [("daypart", reco.daypart(ctx.at.hour)), ("weekday", str(ctx.at.weekday()))]
        if ctx.channel:
            keys.append(("channel", ctx.channel))
        if ctx.store_id:
            keys.append(("store_id", ctx.store_id))
        w = np.ones(len(slate))
        for key in keys:
            table = self.lifts.get(key)
            if table:
                w *= np.sqrt([table.get(p, 1.0) for p in slate.product.tolist()])
        return w

    def recommend(
        self, customer_id: str, k: int, ctx: reco.RecommendContext
    ) -> reco.RecommendationResult:
        personal = self.permitted(customer_id)
        scores: list[dict[str, float]] = []
        basis = "personal"
        if personal:
            slate, scores = self._personal(customer_id)
            if len(slate) == 0:
                group = self._group(customer_id)
                slate, basis = self._popular(group), "segment" if group is not None else "popular"
        else:
            slate, basis = self._popular(None), "popular"
        by_product = dict(zip(slate.product.tolist(), scores, strict=False)) if scores else {}
        if ctx.basket:
            slate = rerank.with_basket(slate, set(ctx.basket), self._complements(ctx.basket))
        slate = rerank.without(slate, set(ctx.exclude))
        slate = rerank.weighted(slate, self._context_weights(slate, ctx))
        rules: list[tuple[str, str, float]] = [(r.field, r.value, r.weight) for r in ctx.rules]
        slate = rerank.weighted(slate, rerank.rule_weights(slate, rules))
        slate = rerank.top_diverse(slate, k, ctx.max_per_category)
        names, _, _ = self._attrs(slate.product)
        items = tuple(
            reco.Recommendation(
                rank=n + 1, product_id=p, product_name=names[n], category=slate.category[n],
                brand=slate.brand[n], score=float(slate.score[n]), source=slate.source[n],
                reason=slate.reason[n],
                source_scores=by_product.get(p, {str(slate.source[n]): float(slate.score[n])}),
            )
            for n, p in enumerate(slate.product.tolist())
        )  # fmt: skip
        return reco.RecommendationResult(
            customer_id=customer_id, as_of=self.as_of, personalized=personal and basis != "popular",
            basis=basis, items=items,
        )  # fmt: skip


@dataclass(slots=True)
class ServingCache:
    """One process's loaded `Serving` tables, keyed by the version of the stored tables."""

    _loaded: Serving | None = None
    _version: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    loads: int = 0  # how many times the tables were read

    def get(self, warehouse: Warehouse, default_consent: bool) -> Serving:
        """The current tables, bound to the calling thread's store handle."""
        # stores written before versions existed have only the as-of day
        version = warehouse.meta(reco.META_VERSION) or warehouse.meta(reco.META_AS_OF)
        loaded = self._loaded
        if loaded is None or self._version != version:
            with self._lock:  # one thread reloads; the others wait for its tables
                if self._loaded is None or self._version != version:
                    # the version was read before the tables: a run landing in between makes
                    # the next request reload, never keeps newer tables under an older key
                    self._loaded = Serving.load(warehouse, default_consent)
                    self._version = version
                    self.loads += 1
                loaded = self._loaded
        return replace(loaded, warehouse=warehouse, default_consent=default_consent)


def batch_table(warehouse: Warehouse, k: int) -> pa.Table:
    """customer_id, product_id, rank, score, source, reason: each customer's k best stored
    candidates; customers without any (no consent, no history before the as-of day, listed
    only in the customers table) get the most popular products."""
    con = warehouse.ibis()
    t = con.table(reco.CANDIDATES)
    window = ibis.window(group_by="customer_id", order_by=[ibis.desc("score"), "product_id"])
    ranked = t.mutate(rank=ibis.row_number().over(window) + 1)
    personal = ranked.filter(ranked["rank"] <= k).select(
        "customer_id", "product_id", "rank", "score", "source", "reason"
    ).order_by(["customer_id", "rank"]).to_pyarrow()  # fmt: skip
    groups, customers = con.table(reco.GROUPS), con.table("customers")
    known = groups.select(customer_id=groups.customer_id.cast("string")).union(
        customers.select(customer_id=customers.customer_id.cast("string"))
    ).distinct().to_pyarrow()["customer_id"]  # fmt: skip
    rest = pc.filter(known, pc.invert(pc.is_in(known, personal["customer_id"])))
    pop = con.table(reco.POPULAR).filter(ibis._.group_id == -1).order_by(
        [ibis.desc("score"), "product_id"]).limit(k).to_pyarrow()  # fmt: skip
    n, m = len(rest), pop.num_rows
    cold = pa.table({
        "customer_id": pa.array(np.repeat(_obj(rest.to_pylist()), m).tolist(), pa.string()),
        "product_id": pa.array(np.tile(_obj(pop["product_id"].to_pylist()), n).tolist(),
                               pa.string()),
        "rank": pa.array(np.tile(np.arange(1, m + 1), n), pa.int64()),
        "score": np.tile(np.asarray(pop["score"].to_numpy(), dtype=np.float64), n),
        "source": pa.array(["popular"] * (n * m), pa.string()),
        "reason": pa.array(["popular with all customers"] * (n * m), pa.string()),
    })  # fmt: skip
    out = pa.concat_tables([personal.cast(cold.schema), cold])
    return out.sort_by([("customer_id", "ascending"), ("rank", "ascending")])
