"""Use case: who the customers are — profiles, RFM segments and behavioural clusters, each
group with its customers, revenue share, average CLV and churn risk.

One pass of the store builds a profile row per customer (analytics/profiles.py) joined with
the CLV summary (analytics/clv.py) and the category shares; only those rows reach Python.
The rhythm engine's per-customer view (services/rhythms.py: regularity, products with a
rhythm, what is due) joins them: `omnix analyze` passes the one it computed for the snapshot,
`omnix segments` computes it here.
Then: RFM scores and named segments with a reason per customer (models/segments.py),
K-means clusters (models/clusters.py), and P(alive) (BG/NBD for repeat buyers, Pareto/NBD for
one-time buyers: models/clv.AliveModel) and BG/NBD x Gamma-Gamma CLV fitted on the same history
(everything before `as_of`; the CLV calibration ends the day before it).
Churn risk = P(no purchase in the next 90 days) from the same models (models/clv.AliveModel:
P(alive) alone stays near 1 for long-lapsed customers when the fit sees little dropout). The
per-customer table (`SegmentReport.customers_table`) is what
`omnix analyze` stores in the dated snapshot (services/analyze.py).
"""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import structlog

from omnix.analytics import clv as rfm
from omnix.analytics import profiles as prof
from omnix.domain import contract as c
from omnix.domain.errors import ConfigError, EmptyStoreError, InputError
from omnix.domain.ports import ClusterNamer, Warehouse
from omnix.domain.segments import ClusterProfile
from omnix.models.clusters import BehaviourClusters, RuleClusterNamer, behaviour_features
from omnix.models.clv import AliveModel, FloatArray, GammaGammaModel, clv
from omnix.models.segments import (
    DEFAULT_RULES,
    RfmScores,
    SegmentRule,
    assign,
    currency_prefix,
    reasons,
    rfm_scores,
    rules_from_mapping,
)
from omnix.services.clv import DAYS_PER_MONTH, ClvOptions
from omnix.services.consent import analysable, describable
from omnix.services.rhythms import customer_table, store_rhythms

log = structlog.get_logger(__name__)
IntArray = npt.NDArray[np.int64]
StageHook = Callable[[str], None]  # told the name of each stage as it starts
EXPECTED_DAYS = 90  # horizon of `expected_purchases_90d` and `churn_risk_90d`, days


def _quiet(stage: str) -> None:
    """The default stage hook: nobody is watching."""


@dataclass(frozen=True, slots=True)
class SegmentOptions:
    """How customers are grouped. k_min..k_max: clusters tried; categories: the store's top
    categories whose spend shares become cluster features."""

    k_min: int = 3
    k_max: int = 8
    categories: int = 6
    rules: tuple[SegmentRule, ...] = DEFAULT_RULES
    clv: ClvOptions = field(default_factory=ClvOptions)
    random_state: int = 0
    selection_sample: int = 20_000
    silhouette_sample: int = 5_000


@dataclass(slots=True)
class GroupSummary:
    """One segment or cluster: size, revenue share, mean and median CLV (currency, `clv.months`
    months; the median because a few very large customers can make a group's mean the
    highest of all) and mean churn risk (P(no purchase in the next 90 days), 0..1; None when
    no CLV model could be fitted)."""

    name: str
    description: str
    customers: int
    customer_share: float
    revenue: float | None  # None with no revenue at all (data without prices)
    revenue_share: float | None
    avg_clv: float | None
    avg_churn_risk: float | None
    median_clv: float | None = None
    cluster_id: int | None = None
    segment: str | None = None
    segment_share: float | None = None
    traits: list[str] = field(default_factory=list)
    centroid: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class SegmentReport:
    as_of: str
    customers: int
    currency: str | None
    clv_months: int
    timezone: str  # of the profiles' preferred weekday and hour
    segments: list[GroupSummary]
    clusters: list[GroupSummary]
    k: int | None
    k_selection: list[dict[str, float]]
    seconds: dict[str, float] = field(default_factory=dict)
    customers_table: pa.Table | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("customers_table")
        return out


def load_rules(path: Path) -> tuple[SegmentRule, ...]:
    """A segment rule table from a .toml or .json file (see models/segments.py for the shape)."""
    if not path.exists():
        raise InputError(f"segment rules file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"segment rules file {path} cannot be parsed: {err}") from None
    return rules_from_mapping(data)


@dataclass(slots=True)
class SegmentService:
    warehouse: Warehouse
    options: SegmentOptions = field(default_factory=SegmentOptions)
    namer: ClusterNamer = field(default_factory=RuleClusterNamer)
    timezone: str = "UTC"  # the retailer's: preferred weekday and hour are local

    def report(
        self,
        as_of: date | None = None,
        previous_centroids: FloatArray | None = None,
        on_stage: StageHook = _quiet,
        rhythms: pa.Table | None = None,
        own_run: bool = True,
    ) -> SegmentReport:
        """Segments and clusters of every customer with a purchase before `as_of` (default:
        the day after the store's last line), recorded as a "segments" run unless `own_run`
        is false (a caller whose run this is part of: `omnix analyze`, which `omnix status`
        listed twice). `previous_centroids` keeps cluster ids stable; `rhythms`: the
        per-customer rhythm table (services/rhythms.customer_table) when the caller has it,
        else it is computed here; `on_stage` hears "rhythms" (only then), "profiles",
        "segments", "clv" and "clusters" as each starts."""
        if own_run:
            with self.warehouse.run("segments", {"as_of": str(as_of) if as_of else None}):
                return self.report(as_of, previous_centroids, on_stage, rhythms, own_run=False)
        timings: dict[str, float] = {}
        prof.check_timezone(self.timezone)
        as_of = analysis_day(self.warehouse.ibis().table("transactions"), as_of)
        # not customers who objected to analytics; no protected category describes anyone
        tx = describable(self.warehouse, analysable(self.warehouse))
        if rhythms is None:
            on_stage("rhythms")
            started = time.perf_counter()
            rhythms = customer_table(store_rhythms(self.warehouse, as_of))
            timings["rhythms"] = time.perf_counter() - started
        on_stage("profiles")
        started = time.perf_counter()
        table, categories, currency = self._fetch(tx, as_of, rhythms)
        timings["profiles"] = time.perf_counter() - started
        report = self._analyse(
            table, categories, currency, as_of, previous_centroids, timings, on_stage
        )
        report.seconds = {k: round(v, 3) for k, v in timings.items()}
        return report

    def _fetch(
        self, tx: Any, as_of: date, rhythms: pa.Table
    ) -> tuple[pa.Table, list[str], str | None]:
        moment = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)
        top = prof.top_categories(tx, moment, self.options.categories).to_pyarrow()
        categories = [str(v) for v in top[c.CATEGORY].to_pylist()]
        summary = rfm.rfm_summary(tx, as_of - timedelta(days=1))
        summary = summary.select(
            c.CUSTOMER_ID, clv_x=summary.frequency, clv_t_x=summary.recency, clv_T=summary.T,
            clv_m=summary.monetary,
        )  # fmt: skip
        expr = prof.profiles(tx, moment, timezone=self.timezone)
        for part in (summary, prof.category_shares(tx, moment, categories)):
            expr = expr.left_join(part, c.CUSTOMER_ID).drop(f"{c.CUSTOMER_ID}_right")
        table = expr.to_pyarrow()
        if table.num_rows == 0:
            raise EmptyStoreError(
                f"no customer bought anything before {as_of}: ingest data or pick a later --as-of"
            )
        # every profiled customer is in the rhythm history (the same purchase lines)
        table = table.join(rhythms, c.CUSTOMER_ID, join_type="left outer")
        return table.sort_by(c.CUSTOMER_ID), categories, _main_currency(tx)

    def _analyse(
        self,
        table: pa.Table,
        categories: list[str],
        currency: str | None,
        as_of: date,
        previous: FloatArray | None,
        timings: dict[str, float],
        on_stage: StageHook = _quiet,
    ) -> SegmentReport:
        col = _columns(table)
        o = self.options
        on_stage("segments")
        started = time.perf_counter()
        # without a price anywhere every spend is 0 and M would be 1 for everyone (no Champions):
        # the monetary score is then of net items bought
        by_items = not np.any(col["net_revenue"] != 0)
        monetary = col["items"] if by_items else col["net_revenue"]
        scores = rfm_scores(col["recency_days"], col["orders"], monetary)
        index = assign(scores, o.rules)
        why = reasons(scores, index, o.rules, currency_prefix(currency), by_items)
        timings["rfm"] = time.perf_counter() - started
        on_stage("clv")
        started = time.perf_counter()
        p_alive, churn, value, expected = self._clv(col)
        timings["clv"] = time.perf_counter() - started
        on_stage("clusters")
        started = time.perf_counter()
        model = self._clusters(col, categories, previous)
        timings["clusters"] = time.perf_counter() - started
        labels = model.labels_ if model is not None else np.full(table.num_rows, -1)
        groups = _Groups(col["net_revenue"], value, churn)
        segments = [
            groups.summary(index == k, rule.name, rule.description)
            for k, rule in enumerate(o.rules)
        ]
        clusters = self._cluster_rows(model, groups, index) if model is not None else []
        names = [o.rules[k].name for k in index.tolist()]
        out = _per_customer(table, scores, names, why, labels, {
            "clv": value, "p_alive": p_alive, f"churn_risk_{EXPECTED_DAYS}d": churn,
            f"expected_purchases_{EXPECTED_DAYS}d": expected,
        })  # fmt: skip
        return SegmentReport(
            as_of=as_of.isoformat(), customers=table.num_rows, currency=currency,
            clv_months=o.clv.months, timezone=self.timezone, segments=segments, clusters=clusters,
            k=None if model is None else model.k_,
            k_selection=[] if model is None else [asdict(s) for s in model.selection_],
            customers_table=out,
        )  # fmt: skip

    def _clv(
        self, col: dict[str, FloatArray]
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Per customer P(alive) and the churn risk over 90 days (AliveModel: BG/NBD for repeat
        buyers, Pareto/NBD for one-time buyers), CLV (currency, BG/NBD x Gamma-Gamma) and
        BG/NBD's expected repeat purchase days in the next 90 days (NaN where the store has no
        CLV summary or no model can be fitted: nobody bought twice)."""
        o = self.options.clv
        n = len(col["orders"])
        p_alive, churn, value, expected = (np.full(n, np.nan) for _ in range(4))
        ok = np.isfinite(col["clv_x"])
        unit = o.time_unit_days
        x, t_x, T, m = (
            col["clv_x"][ok],
            col["clv_t_x"][ok] / unit,
            col["clv_T"][ok] / unit,
            col["clv_m"][ok],
        )
        if not np.any(x > 0):
            return p_alive, churn, value, expected
        try:
            alive = AliveModel(chunk_size=o.chunk_size).fit(x, t_x, T)
        except ValueError as exc:  # e.g. a handful of customers: the likelihood has no maximum
            log.warning("no CLV model", reason=str(exc))
            return p_alive, churn, value, expected
        bg = alive.bg_
        p_alive[ok] = alive.p_alive(x, t_x, T)
        churn[ok] = alive.churn_risk(EXPECTED_DAYS / unit, x, t_x, T)
        expected[ok] = bg.expected_purchases(EXPECTED_DAYS / unit, x, t_x, T)
        if np.any((x > 0) & (m > 0)):
            gg = GammaGammaModel(chunk_size=o.chunk_size).fit(x, m)
            spend = gg.expected_spend(x, m)
            value[ok] = clv(
                bg, x, t_x, T, spend, months=o.months, monthly_discount=o.monthly_discount,
                margin=o.margin, month_length=DAYS_PER_MONTH / unit,
            )  # fmt: skip
        return p_alive, churn, value, expected

    def _clusters(
        self, col: dict[str, FloatArray], categories: list[str], previous: FloatArray | None
    ) -> BehaviourClusters | None:
        o = self.options
        n = len(col["orders"])
        hi = min(o.k_max, n // 10)
        if hi < 2:
            return None  # too few customers to cluster
        X, names, weights = behaviour_features(col, categories)
        model = BehaviourClusters(
            k_range=(min(o.k_min, hi), hi), random_state=o.random_state, weights=weights,
            selection_sample=o.selection_sample, silhouette_sample=o.silhouette_sample,
        ).fit(X, names)  # fmt: skip
        if previous is not None and previous.shape[1] == X.shape[1]:  # same features
            model.match_previous(previous)
        return model

    def _cluster_rows(
        self, model: BehaviourClusters, groups: _Groups, index: IntArray
    ) -> list[GroupSummary]:
        rules = self.options.rules
        rows = []
        for profile in model.describe():
            members = model.labels_ == profile.cluster_id
            counts = np.bincount(index[members], minlength=len(rules))
            top = int(np.argmax(counts))
            share = float(counts[top] / max(members.sum(), 1))
            named = ClusterProfile(**{**asdict(profile), "segment": rules[top].name,
                                      "segment_share": share})  # fmt: skip
            label = self.namer.name(named)
            row = groups.summary(members, label.name, label.description)
            row.cluster_id, row.segment, row.segment_share = (
                profile.cluster_id,
                rules[top].name,
                share,
            )
            row.traits, row.centroid = list(profile.traits), profile.centroid
            rows.append(row)
        return rows


@dataclass(slots=True)
class _Groups:
    revenue: FloatArray
    value: FloatArray
    churn: FloatArray

    def summary(self, members: Any, name: str, description: str) -> GroupSummary:
        n, total = int(members.sum()), float(self.revenue.sum())
        # no revenue at all (data without prices): the group's revenue and share are unknown
        revenue = float(self.revenue[members].sum()) if total else None
        return GroupSummary(
            name=name, description=description, customers=n,
            customer_share=n / max(len(self.revenue), 1), revenue=revenue,
            revenue_share=revenue / total if revenue is not None else None,
            avg_clv=_mean(self.value[members]),
            avg_churn_risk=_mean(self.churn[members]),
            median_clv=_median(self.value[members]),
        )  # fmt: skip


def _per_customer(
    table: pa.Table,
    scores: RfmScores,
    segment: list[str],
    why: list[str],
    labels: IntArray,
    values: dict[str, FloatArray],
) -> pa.Table:
    """The profile columns plus r, f, m, rfm_score ("545"), segment, reason, cluster_id and
    `values` (clv, p_alive, churn_risk_90d, expected_purchases_90d): one row per customer,
    what a snapshot stores."""
    keep = [n for n in table.column_names if not n.startswith(("clv_", "category_share_"))]
    score = [f"{r}{f}{m}" for r, f, m in zip(scores.r.tolist(), scores.f.tolist(),
                                              scores.m.tolist(), strict=True)]  # fmt: skip
    added = {
        "r": pa.array(scores.r), "f": pa.array(scores.f), "m": pa.array(scores.m),
        "rfm_score": pa.array(score, pa.string()),
        "segment": pa.array(segment), "reason": pa.array(why),
        "cluster_id": pa.array(labels, pa.int64()),
        **{name: pa.array(v, from_pandas=True) for name, v in values.items()},
    }  # fmt: skip
    out = table.select(keep)
    for name, column in added.items():
        out = out.append_column(name, column)
    return out


def _mean(values: FloatArray) -> float | None:
    known = values[np.isfinite(values)]
    return float(known.mean()) if known.size else None


def _median(values: FloatArray) -> float | None:
    known = values[np.isfinite(values)]
    return float(np.median(known)) if known.size else None


def _columns(table: pa.Table) -> dict[str, FloatArray]:
    """Numeric columns as float arrays (NULL -> NaN)."""
    out = {}
    for name in table.column_names:
        column = table[name]
        if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
            out[name] = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
    return out


def day_after_last(tx: Any) -> date:
    """The day after the store's last line (UTC): the default as-of day of an analysis."""
    last = tx[c.TS].max().to_pyarrow().as_py()
    if last is None:
        raise EmptyStoreError("the store holds no transactions yet: run `omnix ingest`")
    day: date = last.astimezone(UTC).date() + timedelta(days=1)
    return day


# How far past the store's last line an analysis may be dated: a live store analysed today
# may not have sold since the day before yesterday, but an analysis years past the data reads
# the silence as every customer lapsing (as of 2030 on data ending in 2021, 'Champions' had
# bought 3,327 days before).
MAX_DAYS_PAST_DATA = 30


def analysis_day(tx: Any, as_of: date | None) -> date:
    """`as_of`, by default the day after the store's last line; refused when more than
    MAX_DAYS_PAST_DATA days after it."""
    after = day_after_last(tx)
    if as_of is None:
        return after
    if (as_of - after).days > MAX_DAYS_PAST_DATA:
        raise ConfigError(
            f"as-of {as_of} is after the data: the store's last line is on "
            f"{after - timedelta(days=1)}, and an analysis may be dated at most "
            f"{MAX_DAYS_PAST_DATA} days past it ({after + timedelta(days=MAX_DAYS_PAST_DATA)})"
        )
    return as_of


def _main_currency(tx: Any) -> str | None:
    rows = prof.main_currency(tx).to_pyarrow().to_pylist()
    return str(rows[0][c.CURRENCY]) if rows else None


def check_range(k_min: int, k_max: int) -> None:
    if k_min < 2 or k_max < k_min:
        raise ConfigError(
            f"cluster range must satisfy 2 <= --k-min <= --k-max, got {k_min}..{k_max}"
        )
