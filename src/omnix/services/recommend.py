"""Use case: recommendations with reasons, precomputed in batch and re-ranked per request.

`precompute(as_of)` (`omnix recommend --all`) reads only purchases before `as_of`, fits the
blend (models/recommend/blend.py) and stores, for every customer whose consent covers
personalization, their best candidates with the source scores and the reason; plus the small
tables a request needs (products, popular items per group, association rules, context lifts).
`recommend(customer_id, k, context)` re-ranks one customer's stored candidates with the
request context (models/recommend/rerank.py): no model runs at request time.
"""

from __future__ import annotations

import base64
import hashlib
import pickle
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import structlog
from threadpoolctl import threadpool_limits

from omnix.analytics import recommend as ra
from omnix.domain import contract as c
from omnix.domain import recommend as reco
from omnix.domain.consent import Purpose
from omnix.domain.errors import EmptyStoreError
from omnix.domain.ports import TextEncoder, Warehouse
from omnix.domain.privacy import protected_attribute
from omnix.domain.snapshots import SNAPSHOT_DATE, SNAPSHOTS
from omnix.models.baselines import top_k_per_customer
from omnix.models.baskets import Baskets, IntArray
from omnix.models.next_need import idle_cores
from omnix.models.recommend.blend import BlendCandidates, BlendRecommender
from omnix.models.recommend.candidates import Scored, top_per_customer
from omnix.services import reco_reasons
from omnix.services.encode import codes
from omnix.services.predict import StoreHistory, load_history

log = structlog.get_logger(__name__)
Stage = Callable[[str], None]
KEEP = 40  # candidates stored per customer: room for exclusions and diversity
POPULAR_KEEP = 100
_CHUNK = 20_000  # customers scored at once: bounds the feature matrix


@dataclass(slots=True)
class RecommendSummary:
    as_of: str
    customers: int  # with personalized candidates
    not_permitted: int  # no personalization consent: popular items only
    candidates: int
    encoder: str
    model: str = "fitted"  # fitted on this run, or reused from an earlier one
    model_as_of: str = ""  # the day the next-need model and the ranker learned for
    seconds: dict[str, float] = field(default_factory=dict)
    out: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _text_key(model: str, text: str) -> str:
    return hashlib.sha1(f"{model}\x00{text}".encode()).hexdigest()


def product_vectors(warehouse: Warehouse, texts: list[str], encoder: Any) -> Any:
    """Vectors of the product texts; with a cacheable encoder, read from and added to the
    store's cache keyed by (model, text), so re-runs embed only new or renamed products."""
    if not encoder.cacheable:
        return encoder.encode(texts)
    keys = [_text_key(encoder.name, t) for t in texts]
    table = warehouse.ibis().table(reco.EMBEDDINGS)
    cached = table.filter(table.model == encoder.name).select("text_key", "vector").to_pyarrow()
    found = dict(zip(cached["text_key"].to_pylist(), range(cached.num_rows), strict=True))
    at = np.array([found.get(k, -1) for k in keys], dtype=np.int64)
    missing = np.flatnonzero(at < 0)
    vectors: np.ndarray[Any, Any] | None = None
    if cached.num_rows and (at >= 0).any():
        flat = pc.list_flatten(cached["vector"]).to_numpy()
        stored = np.asarray(flat, dtype=np.float32).reshape(cached.num_rows, -1)
        vectors = np.zeros((len(texts), stored.shape[1]), dtype=np.float32)
        vectors[at >= 0] = stored[at[at >= 0]]
    if missing.size:
        new = np.asarray(encoder.encode([texts[k] for k in missing]), dtype=np.float32)
        if vectors is None:
            vectors = np.zeros((len(texts), new.shape[1]), dtype=np.float32)
        vectors[missing] = new
        warehouse.write_embeddings(pa.table({
            "model": [encoder.name] * missing.size,
            "text_key": [keys[k] for k in missing],
            "vector": pa.array(list(new), pa.list_(pa.float32())),
        }))  # fmt: skip
    assert vectors is not None
    return vectors


def _products(warehouse: Warehouse, h: StoreHistory, as_of: date) -> pa.Table:
    """product_id, product_name, category, brand per item code (nulls where unknown)."""
    start = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)
    attrs = ra.product_text(warehouse.ibis().table("transactions"), start).to_pyarrow()
    at = codes(attrs[c.PRODUCT_ID], h.encoded.items)
    row = np.full(len(h.encoded.items), -1, dtype=np.int64)
    row[at[at >= 0]] = np.flatnonzero(at >= 0)
    take = pa.array(row, mask=row < 0)
    return pa.table({
        "product_id": h.encoded.items,
        "product_name": pc.take(attrs["product_name"], take),
        "category": pc.take(attrs["category"], take),
        "brand": pc.take(attrs["brand"], take),
    })  # fmt: skip


def product_texts(products: pa.Table) -> list[str]:
    """'name. category. brand' per product (the parts that are known)."""
    parts = [products[col].to_pylist() for col in ("product_name", "category", "brand")]
    ids = products["product_id"].to_pylist()
    return [
        ". ".join(p for p in row if p) or str(pid) for pid, *row in zip(ids, *parts, strict=True)
    ]


def snapshot_groups(
    warehouse: Warehouse, h: StoreHistory, as_of: date
) -> np.ndarray[Any, Any] | None:
    """Each customer's cluster in the latest `omnix analyze` snapshot on or before as_of
    (-1 where absent); None when there is no such snapshot."""
    snaps = warehouse.ibis().table(SNAPSHOTS)
    dated = snaps.filter(snaps[SNAPSHOT_DATE] <= as_of)
    # not an aggregate: PostgreSQL's max over no rows is a NULL ibis refuses to cast
    newest = dated.select(SNAPSHOT_DATE).order_by(ibis.desc(SNAPSHOT_DATE)).limit(1)
    found = newest.to_pyarrow()[SNAPSHOT_DATE]
    if len(found) == 0:
        return None
    latest = found[0].as_py()
    rows = dated.filter(dated[SNAPSHOT_DATE] == latest).select("customer_id", "cluster_id")
    table = rows.to_pyarrow()
    groups = np.full(h.encoded.baskets.n_customers, -1, dtype=np.int64)
    at = codes(table["customer_id"], h.encoded.customers)
    cluster = np.asarray(pc.fill_null(table["cluster_id"], -1).to_numpy(), dtype=np.int64)
    groups[at[at >= 0]] = cluster[at >= 0]
    return groups if (groups >= 0).any() else None


def _permitted_mask(warehouse: Warehouse, h: StoreHistory, default: bool) -> np.ndarray[Any, Any]:
    from omnix.services.consent import permitted

    ids = permitted(warehouse, Purpose.PERSONALIZATION, default).to_pyarrow()["customer_id"]
    mask = np.zeros(h.encoded.baskets.n_customers, dtype=bool)
    at = codes(ids, h.encoded.customers)
    mask[at[at >= 0]] = True
    return mask


@dataclass(frozen=True, slots=True)
class OwnPurchasesOnly:
    """Products of a protected category (`domain.privacy`: health, religion, ethnicity, sexual
    life, politics) are recommended to a customer only when they bought that very product
    before ("buy it again" reads their own history). Never inferred: not from other customers
    (collaborative, popular, segment, complements) nor from similar products (content), which
    would tell a customer, and whoever sends the campaign, what omnix guessed about them."""

    item: np.ndarray[Any, np.dtype[np.bool_]]  # per item code: its category is protected
    bought: np.ndarray[Any, Any]  # customer * n_items + item of protected purchases

    @classmethod
    def of(cls, b: Baskets, item_category: IntArray, category_names: pa.Array) -> OwnPurchasesOnly:
        """From a history, its items' category codes and the names of the codes (code k >= 1
        is category_names[k - 1], 0 = none)."""
        flagged = [False] + [n is not None and protected_attribute(str(n)) is not None
                             for n in category_names.to_pylist()]  # fmt: skip
        item = np.asarray(flagged, dtype=bool)[item_category]
        mine = item[b.item]
        key = b.customer[mine].astype(np.int64) * b.n_items + b.item[mine]
        return cls(item, np.unique(key))

    def withheld(
        self, customer: np.ndarray[Any, Any], item: np.ndarray[Any, Any]
    ) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Per (customer, item) row: a protected product this customer never bought."""
        out: np.ndarray[Any, np.dtype[np.bool_]] = self.item[item]
        rows = np.flatnonzero(out)
        key = customer[rows].astype(np.int64) * self.item.size + item[rows]
        out[rows] = ~np.isin(key, self.bought)
        return out

    def top_k(self, model: BlendRecommender, customers: IntArray, k: int) -> IntArray:
        """The blend's top k item codes per customer under this rule, padded with popular
        products that are not protected: (n, k), as `BlendRecommender.recommend` gives them."""
        cand = model.predict(customers)
        ok = np.flatnonzero(~self.withheld(cand.customer, cand.item))
        ranking = model.ranking_[~self.item[model.ranking_]]
        return top_k_per_customer(cand.customer[ok], cand.item[ok], cand.score[ok], customers, k,
                                  ranking)  # fmt: skip


def _candidate_table(
    model: BlendRecommender,
    h: StoreHistory,
    cand: BlendCandidates,
    keep: int,
    own: OwnPurchasesOnly | None = None,
) -> pa.Table:
    """Each customer's `keep` best candidates as stored rows, with reasons; `own`: protected
    products only where the customer bought them (a zero score leaves a row out)."""
    score = cand.score
    if own is not None:
        score = np.where(own.withheld(cand.customer, cand.item), 0.0, score)
    best = top_per_customer(Scored(cand.customer, cand.item, score, np.arange(score.size)), keep)
    rows = best.evidence
    cu, it = cand.customer[rows], cand.item[rows]
    source = pa.array(cand.source[rows].astype(str))
    ev = cand.evidence[rows]
    ev_ids = pc.take(h.encoded.items, pa.array(ev, mask=ev < 0))
    ev_names = pc.take(h.item_names, pa.array(ev, mask=ev < 0))
    replen = reco_reasons.replenishment_reasons(model.replenishment_.rhythm(cu, it))
    x = {name: cand.feature(col)[rows] for name, col in (
        ("replenishment", "rep_next"), ("collaborative", "collaborative"),
        ("content", "content"), ("segment", "segment"), ("complements", "complement"),
    )}  # fmt: skip
    return pa.table({
        "customer_id": pc.take(h.encoded.customers, pa.array(cu)),
        "product_id": pc.take(h.encoded.items, pa.array(it)),
        "score": cand.score[rows],
        "source": source,
        "reason": reco_reasons.reasons(source, ev_names, replen),
        "evidence_id": ev_ids,
        **x,
    })  # fmt: skip


def score_candidates(
    model: BlendRecommender,
    h: StoreHistory,
    who: np.ndarray[Any, Any],
    keep: int = KEEP,
    workers: int | None = None,
    own: OwnPurchasesOnly | None = None,
) -> pa.Table:
    """The stored candidate rows of customers `who` (sorted codes), at most `_CHUNK`
    customers at a time on `workers` threads (default: the idle cores; a single chunk gives
    them to the ranker instead), in equal chunks whose count the workers divide, so no
    worker scores the last chunk alone while the others wait. NumPy's sorts and searches
    and the ranker's trees release the GIL, so two chunks score side by side; each worker
    keeps to one OpenMP and one BLAS thread so they do not oversubscribe the cores, and only
    `workers` chunks' intermediate arrays are alive at once. The rows come out in chunk
    order, as one thread gives them. `own`: see `_candidate_table`."""
    if not who.size:
        return _empty_candidates()
    cores = workers or idle_cores()  # sampled once: each sample waits 0.2 s
    rounds = -(-who.size // (max(cores, 1) * _CHUNK))
    size = -(-who.size // (max(cores, 1) * rounds))
    starts = range(0, who.size, size)
    if cores <= 1 or len(starts) == 1:  # the ranker's own threads use the cores
        return pa.concat_tables([
            _candidate_table(model, h, model.predict(who[s : s + size], cores), keep, own)
            for s in starts
        ])  # fmt: skip

    def chunk(s: int) -> pa.Table:
        with threadpool_limits(1, user_api="openmp"):  # OpenMP settings are per thread
            return _candidate_table(model, h, model.predict(who[s : s + size], 1), keep, own)

    # BLAS (OpenBLAS) threads are one process-wide setting: set once, around every worker
    threads = min(cores, len(starts))
    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
        return pa.concat_tables(list(pool.map(chunk, starts)))


def _model_tables(
    model: BlendRecommender,
    h: StoreHistory,
    products: pa.Table,
    lifts: pa.Table,
    own: OwnPurchasesOnly,
) -> dict[str, pa.Table]:
    """The tables a request reads besides its customer's candidates. Popular lists and
    complements hold no protected product (`own`): they would be inferred for whoever gets
    them."""
    src = model.sources_
    seg = src.segment
    n_groups = seg.popularity_.shape[0] - 1
    groups, items, scores = [], [], []
    for g in [*range(n_groups), None]:
        it, sc = seg.popular(g, POPULAR_KEEP + int(own.item.sum()))
        keep = np.flatnonzero((sc > 0) & ~own.item[it])[:POPULAR_KEEP]
        groups.append(np.full(keep.size, -1 if g is None else g))
        items.append(it[keep])
        scores.append(sc[keep])
    r = src.complements.rules_
    ok = np.flatnonzero(~own.item[r.consequent])
    ids = h.encoded.items
    has = np.flatnonzero(np.bincount(h.encoded.baskets.customer,
                                     minlength=h.encoded.baskets.n_customers) > 0)  # fmt: skip
    return {
        reco.GROUPS: pa.table({
            "customer_id": pc.take(h.encoded.customers, pa.array(has)),
            "group_id": seg.groups_[has],
        }),
        reco.PRODUCTS: products.append_column("popularity", pa.array(src.popularity)),
        reco.POPULAR: pa.table({
            "group_id": np.concatenate(groups),
            "product_id": pc.take(ids, pa.array(np.concatenate(items))),
            "score": np.concatenate(scores),
        }),
        reco.RULES: pa.table({
            "antecedent": pc.take(ids, pa.array(r.antecedent[ok])),
            "consequent": pc.take(ids, pa.array(r.consequent[ok])),
            "support": r.support[ok], "confidence": r.confidence[ok], "lift": r.lift[ok],
        }),
        reco.CONTEXT: lifts,
    }  # fmt: skip


@dataclass(slots=True)
class RecommendService:
    """Batch precompute and request-time recommendations. `default_consent`: whether
    customers without a consent record may be personalised (Settings.profiling_default)."""

    warehouse: Warehouse
    encoder: Callable[[], TextEncoder]  # the content source's text vectors (bootstrap picks)
    default_consent: bool = False
    serving: Any = None  # a shared ServingCache (the container's); None: load per service
    _serving: Any = None

    def precompute(
        self,
        as_of: date,
        stage: Stage | None = None,
        keep: int = KEEP,
        refit: bool = False,
        max_model_age_days: int = reco.MODEL_MAX_AGE_DAYS,
    ) -> RecommendSummary:
        """Fit on purchases before `as_of` and store every permitted customer's candidates.

        The learned part of the blend (the next-need model and the ranker: no customer's
        data) is stored with the candidates. A later run within `max_model_age_days` of it
        reuses it and only brings the sources up to date, as a nightly batch does between
        weekly refits; `refit` (or an older, or a later-dated, model) learns afresh."""
        note = stage or (lambda _: None)
        t: dict[str, float] = {}
        started = time.perf_counter()

        def lap(name: str) -> None:
            t[name] = round(time.perf_counter() - started - sum(t.values()), 3)

        detail: dict[str, Any] = {"as_of": as_of.isoformat()}  # the run's record (runs)
        with self.warehouse.run("recommend", detail):
            note("reading history")
            h = load_history(self.warehouse, as_of)
            products = _products(self.warehouse, h, as_of)
            groups = snapshot_groups(self.warehouse, h, as_of)
            allowed = _permitted_mask(self.warehouse, h, self.default_consent)
            lap("read")
            note("embedding product text")
            encoder = self.encoder()
            vectors = product_vectors(self.warehouse, product_texts(products), encoder)
            lap("embed")
            stored = None if refit else _stored_model(self.warehouse, h, as_of,
                                                      max_model_age_days, encoder.name)  # fmt: skip
            if stored is None:
                note("fitting sources and the ranker")
                model, model_as_of = _fit(h, vectors, groups), as_of
                packed: tuple[date, str] | None = (as_of, _pack(model, h, encoder.name))
            else:
                note("updating the sources (the ranker of an earlier run)")
                model, model_as_of = stored
                model.serve_at(h.encoded.baskets, h.as_of_day, vectors, groups)
                packed = None
            detail.update(model="fitted" if packed else "reused",
                          model_as_of=model_as_of.isoformat())  # fmt: skip
            lap("fit")
            note("scoring candidates")
            b = h.encoded.baskets
            has = np.bincount(b.customer, minlength=b.n_customers) > 0
            who = np.flatnonzero(has & allowed)
            own = OwnPurchasesOnly.of(h.encoded.baskets, h.item_category, h.category_names)
            table = score_candidates(model, h, who, keep, own=own)
            lap("score")
            note("storing")
            start = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)
            lifts = ra.context_lifts(self.warehouse.ibis().table("transactions"), start)
            tables = _model_tables(model, h, products, lifts.to_pyarrow(), own)
            tables[reco.CANDIDATES] = table
            self.warehouse.write_recommendations(as_of, tables, packed)
            lap("store")
        self._serving = None  # the next request reads the new tables
        return RecommendSummary(
            as_of=as_of.isoformat(), customers=int(who.size),
            not_permitted=int((has & ~allowed).sum()), candidates=table.num_rows,
            encoder=encoder.name, model="fitted" if packed else "reused",
            model_as_of=model_as_of.isoformat(), seconds=t,
        )  # fmt: skip

    def batch(self, k: int) -> pa.Table:
        """customer_id, product_id, rank, score, source, reason for every customer the store
        knows: stored candidates re-ranked without context, popular items for the rest."""
        from omnix.services.reco_serving import batch_table

        return batch_table(self.warehouse, k)

    def recommend(
        self, customer_id: str, k: int = 10, context: reco.RecommendContext | None = None
    ) -> reco.RecommendationResult:
        """One customer's top k with reasons, re-ranked for the request context."""
        from omnix.services.reco_serving import Serving

        if self.serving is not None:
            serving = self.serving.get(self.warehouse, self.default_consent)
        else:
            if self._serving is None:
                self._serving = Serving.load(self.warehouse, self.default_consent)
            serving = self._serving
        result: reco.RecommendationResult = serving.recommend(
            customer_id, k, context or reco.RecommendContext()
        )
        return result


def _fit(h: StoreHistory, vectors: Any, groups: Any) -> BlendRecommender:
    try:
        return BlendRecommender().fit(
            h.encoded.baskets, h.as_of_day, vectors, h.item_category, groups
        )
    except ValueError as exc:
        raise EmptyStoreError(
            f"not enough history before the as-of date to learn from ({exc}): pick a later --as-of"
        ) from exc


_MODEL_FORMAT = 1  # bump when what _pack stores changes: an older model is then refitted


def _pack(model: BlendRecommender, h: StoreHistory, encoder: str) -> str:
    """The learned blend and the product ids its item codes stand for, as text for the
    store's meta table. Pickle: the store is trusted as the code is (whoever can write the
    store can already change every recommendation); docs/security.md."""
    payload = {"format": _MODEL_FORMAT, "items": h.encoded.items.to_pylist(), "encoder": encoder,
               "blend": model.learned()}  # fmt: skip
    return base64.b64encode(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)).decode()


def _stored_model(
    warehouse: Warehouse, h: StoreHistory, as_of: date, max_age_days: int, encoder: str
) -> tuple[BlendRecommender, date] | None:
    """The stored blend re-coded for this run's items, when it learned for a day at most
    `max_age_days` before `as_of` (never after it: it would have seen later purchases)."""
    day = warehouse.meta(reco.META_MODEL_AS_OF)
    if day is None:
        return None
    learned_for = date.fromisoformat(day)
    if not 0 <= (as_of - learned_for).days <= max_age_days:
        return None
    text = warehouse.meta(reco.META_MODEL)
    try:  # the store is trusted (see _pack); a model of other library versions may not load
        payload = pickle.loads(base64.b64decode(text)) if text else None
    except Exception as err:  # any failure means: learn afresh
        log.warning("stored recommendation model unreadable, refitting", error=str(err))
        return None
    if not isinstance(payload, dict) or payload.get("format") != _MODEL_FORMAT:
        return None
    if payload.get("encoder") != encoder:  # the ranker weighed the other vectors' scores
        return None
    at = {p: k for k, p in enumerate(payload["items"])}
    old_code = np.array([at.get(p, -1) for p in h.encoded.items.to_pylist()], dtype=np.int64)
    blend: BlendRecommender = payload["blend"]
    return blend.with_items(old_code), learned_for


def _empty_candidates() -> pa.Table:
    return pa.table({name: pa.array([], pa.string() if dtype == "string" else pa.float64())
                     for name, dtype in reco.TABLE_COLUMNS[reco.CANDIDATES]})  # fmt: skip
