"""Use case: the next-basket backtest — every method on the same history, in one run.

The store computes the protocol's small tables (analytics/backtest.py); this module encodes them
as integer arrays, fits each method on the history, and scores them:
- next basket: recall@k, NDCG@k, PHR@k over each evaluated customer's first order in the window;
- pairs bought in >= 2 baskets before the cutoff: AUC, Brier, reliability table, ECE, and the MAE
  in days of the expected next purchase for pairs bought again.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from omnix.analytics import backtest as bt
from omnix.domain import contract as c
from omnix.domain.errors import EmptyStoreError
from omnix.domain.ports import Warehouse
from omnix.evaluation import metrics as m
from omnix.models.baselines import (
    TIFUKNN,
    ConstantRatePoisson,
    GTopFreq,
    PoissonGamma,
    PTopFreq,
)
from omnix.models.baskets import Baskets, FloatArray, IntArray
from omnix.models.next_need import NextNeedModel, NextNeedPredictions
from omnix.models.rhythm import forecast
from omnix.services.encode import NO_CODE, category_codes, codes, day_number, encode_history


@dataclass(slots=True)
class Protocol:
    """The evaluated population, encoded: who, what they bought next, and the repeat pairs."""

    history: Baskets
    customers: IntArray  # evaluated customers' codes
    truth: list[set[int]]  # their next basket (items unseen in history: codes >= n_items)
    pair_customer: IntArray
    pair_item: IntArray
    pair_baskets: IntArray  # distinct baskets with the item before the cutoff (>= 2)
    pair_last_day: FloatArray
    pair_label: IntArray  # 1 = bought again in the window
    pair_next_day: FloatArray  # first day bought in the window (NaN if not)
    cutoff_day: float
    item_category: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


@dataclass(slots=True)
class BacktestReport:
    cutoff: str
    horizon_days: int
    k: int
    customers: int
    pairs: int
    pair_positive_rate: float
    next_basket: list[dict[str, Any]] = field(default_factory=list)
    pair_probabilities: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def quality_summary(report: BacktestReport) -> dict[str, Any]:
    """The figures per method, with the reliability bins (the dashboard's calibration plot),
    for the run's record; NaN (an empty bin) becomes None."""

    def finite(row: dict[str, Any]) -> dict[str, Any]:
        return {
            k: [finite(b) for b in v]
            if k == "reliability"
            else None
            if isinstance(v, float) and not math.isfinite(v)
            else v
            for k, v in row.items()
        }

    return {
        "next_basket": [finite(r) for r in report.next_basket],
        "pair_probabilities": [finite(r) for r in report.pair_probabilities],
    }


def encode(tables: dict[str, pa.Table], cutoff_day: float) -> Protocol:
    """Integer-code the protocol tables fetched from the store."""
    encoded = encode_history(tables["history"])
    customers, items = encoded.customers, encoded.items
    evaluated = codes(tables["evaluated"][c.CUSTOMER_ID], customers)
    truth = _truth(tables["next"], customers, items, evaluated)
    p = _with_pairs(
        encoded.baskets, evaluated, truth, tables["window"], customers, items, cutoff_day
    )
    p.item_category = category_codes(tables["categories"], items)
    return p


def _truth(
    next_t: pa.Table, customers: pa.Array, items: pa.Array, evaluated: IntArray
) -> list[set[int]]:
    cust = codes(next_t[c.CUSTOMER_ID], customers)
    item = codes(next_t[c.PRODUCT_ID], items)
    unseen = np.flatnonzero(item == NO_CODE)
    item[unseen] = len(items) + np.arange(len(unseen))  # ids no method can recommend
    by_customer: dict[int, set[int]] = {int(x): set() for x in evaluated}
    for cu, it in zip(cust.tolist(), item.tolist(), strict=True):
        by_customer.setdefault(cu, set()).add(it)
    return [by_customer[int(x)] for x in evaluated]


def _with_pairs(
    h: Baskets,
    evaluated: IntArray,
    truth: list[set[int]],
    window: pa.Table,
    customers: pa.Array,
    items: pa.Array,
    cutoff_day: float,
) -> Protocol:
    keep = np.isin(h.customer, evaluated)
    key = h.customer[keep] * h.n_items + h.item[keep]
    pairs, counts = np.unique(key, return_counts=True)
    last_day = np.full(len(pairs), -np.inf)
    np.maximum.at(last_day, np.searchsorted(pairs, key), h.day[keep])
    repeat = counts >= 2
    pairs, counts, last_day = pairs[repeat], counts[repeat], last_day[repeat]
    w_key = codes(window[c.CUSTOMER_ID], customers) * h.n_items + codes(window[c.PRODUCT_ID], items)
    w_day = np.asarray(window["first_day"].to_numpy(), dtype=np.float64)
    found = np.isin(pairs, w_key)
    next_day = np.full(len(pairs), np.nan)
    order = np.argsort(w_key)
    pos = np.searchsorted(w_key[order], pairs[found])
    next_day[found] = w_day[order][pos]
    return Protocol(
        history=h,
        customers=evaluated,
        truth=truth,
        pair_customer=pairs // h.n_items,
        pair_item=pairs % h.n_items,
        pair_baskets=counts.astype(np.int64),
        pair_last_day=last_day,
        pair_label=found.astype(np.int64),
        pair_next_day=next_day,
        cutoff_day=cutoff_day,
    )


def score_next_basket(name: str, recommended: IntArray, truth: list[set[int]]) -> dict[str, Any]:
    k = recommended.shape[1]
    return {
        "method": name,
        f"recall@{k}": m.recall_at_k(recommended, truth),
        f"ndcg@{k}": m.ndcg_at_k(recommended, truth),
        f"phr@{k}": m.phr_at_k(recommended, truth),
    }


def score_pairs(name: str, p: Protocol, probs: FloatArray, next_day: FloatArray) -> dict[str, Any]:
    labels = p.pair_label
    bought = labels == 1
    return {
        "method": name,
        "auc": m.auc(labels, probs),
        "brier": m.brier(labels, probs),
        "ece": m.expected_calibration_error(labels, probs),
        "mae_days": m.mae_days(next_day[bought], p.pair_next_day[bought]),
        "reliability": m.reliability_table(labels, probs),
    }


@dataclass(slots=True)
class BacktestService:
    warehouse: Warehouse

    def fetch(self, cutoff: date, horizon_days: int) -> dict[str, pa.Table]:
        start = datetime(cutoff.year, cutoff.month, cutoff.day, tzinfo=UTC)
        end = start + timedelta(days=horizon_days)
        tx = self.warehouse.ibis().table("transactions")
        return {
            "history": bt.history_baskets(tx, start).to_pyarrow(),
            "evaluated": bt.evaluated_customers(tx, start, end).to_pyarrow(),
            "next": bt.next_baskets(tx, start, end).to_pyarrow(),
            "window": bt.window_purchases(tx, start, end).to_pyarrow(),
            "categories": bt.product_attributes(tx, start).to_pyarrow(),
        }

    def run(self, cutoff: date, horizon_days: int, k: int = 10) -> BacktestReport:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        detail: dict[str, Any] = {"cutoff": cutoff.isoformat(), "horizon": horizon_days}
        with self.warehouse.run("backtest", detail):
            tables = self.fetch(cutoff, horizon_days)
            cutoff_day = day_number(cutoff)
            if tables["evaluated"].num_rows == 0:
                raise EmptyStoreError(
                    f"no customer has >= 3 orders before {cutoff} and one in the {horizon_days} "
                    "days after it: pick another --cutoff"
                )
            p = encode(tables, cutoff_day)
            timings["prepare"] = time.perf_counter() - t0
            report = BacktestReport(
                cutoff=cutoff.isoformat(),
                horizon_days=horizon_days,
                k=k,
                customers=len(p.customers),
                pairs=len(p.pair_label),
                pair_positive_rate=float(p.pair_label.mean()) if len(p.pair_label) else 0.0,
            )
            self._next_basket(p, k, report, timings)
            self._pairs(p, horizon_days, report, timings)
            self._omnix(p, horizon_days, k, report, timings)
            detail.update(quality_summary(report))  # what GET /metrics reports as model quality
        report.seconds = {key: round(v, 3) for key, v in timings.items()}
        return report

    def _next_basket(
        self, p: Protocol, k: int, report: BacktestReport, t: dict[str, float]
    ) -> None:
        methods: list[tuple[str, Any]] = [
            ("G-TopFreq", GTopFreq()),
            ("P-TopFreq", PTopFreq()),
            ("TIFU-KNN", TIFUKNN()),
        ]
        for name, model in methods:
            started = time.perf_counter()
            recommended = model.fit(p.history).recommend(p.customers, k)
            report.next_basket.append(score_next_basket(name, recommended, p.truth))
            t[name] = time.perf_counter() - started

    def _pairs(
        self, p: Protocol, horizon: int, report: BacktestReport, t: dict[str, float]
    ) -> None:
        if not len(p.pair_label):
            return
        started = time.perf_counter()
        poisson = ConstantRatePoisson().fit(p.history, as_of_day=p.cutoff_day)
        probs = poisson.predict_proba(p.pair_customer, p.pair_item, float(horizon))
        first_day = _first_day(p)
        mean_gap = np.maximum(p.cutoff_day - first_day, 1.0) / p.pair_baskets
        report.pair_probabilities.append(
            score_pairs("Poisson (constant rate)", p, probs, p.pair_last_day + mean_gap)
        )
        t["Poisson"] = time.perf_counter() - started
        started = time.perf_counter()
        gamma = PoissonGamma().fit(p.history, as_of_day=p.cutoff_day)
        probs = gamma.predict_proba(p.pair_customer, p.pair_item, float(horizon))
        report.pair_probabilities.append(
            score_pairs("Poisson-Gamma (Bhagat et al.)", p, probs, p.pair_last_day + mean_gap)
        )
        t["Poisson-Gamma"] = time.perf_counter() - started

    def _omnix(
        self, p: Protocol, horizon: int, k: int, report: BacktestReport, t: dict[str, float]
    ) -> None:
        """omnix's own model, fitted on the same history: ranking and both probabilities.

        The protocol only evaluates customers who shop in the window, so the probability to
        compare is P(item | the customer shops); the unconditional one (x P(shops)) is what
        `omnix predict` writes and is reported beside it.
        """
        started = time.perf_counter()
        model = NextNeedModel(horizon_days=float(horizon)).fit(
            p.history, p.cutoff_day, p.item_category
        )
        pred = model.predict(p.history, p.cutoff_day)
        recommended = model.recommend(pred, p.customers, k)
        report.next_basket.append(score_next_basket("omnix", recommended, p.truth))
        if len(p.pair_label):
            at = _pair_positions(pred, p)
            expected = forecast(pred.rhythm, at).expected_next_day
            for name, probs in (
                ("omnix (given the customer shops)", pred.p_item[at]),
                ("omnix (unconditional)", pred.probability[at]),
            ):
                report.pair_probabilities.append(score_pairs(name, p, probs, expected))
        t["omnix"] = time.perf_counter() - started


def _pair_positions(pred: NextNeedPredictions, p: Protocol) -> IntArray:
    """Index into the model's pairs (sorted by customer, item) of each protocol pair."""
    n_items = p.history.n_items
    key = pred.pairs.customer * n_items + pred.pairs.item
    return np.searchsorted(key, p.pair_customer * n_items + p.pair_item).astype(np.int64)


def _first_day(p: Protocol) -> FloatArray:
    """Day of each pair's customer's first basket (the constant-rate model's observed span)."""
    h = p.history
    first = np.full(h.n_customers, np.inf)
    np.minimum.at(first, h.customer, h.day)
    return first[p.pair_customer]
