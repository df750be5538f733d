"""Use case: lifetime value and churn — fit BG/NBD, Pareto/NBD and Gamma-Gamma on a calibration
period and score the holdout period after it, next to two naive baselines.

The store computes one compact RFM row per customer (analytics/clv.py); only those rows reach
Python. Times are converted from days to `time_unit_days` (weeks by default, as in the
literature, so parameters compare with published ones). The holdout is scored per customer:
predicted vs actual repeat purchase days, total, MAE and Pearson correlation.

Baselines:
- `calibration_rate`: the customer's own repeat rate x / T, carried over the holdout length;
- `recent_rate`: repeat purchases in the last `recent_days` of calibration, as a rate.

Churn is scored on "any purchase in the holdout" (AUC, Brier; overall, for one-time buyers and
for repeat buyers), two ways:
- `alive`: P(alive) of BG/NBD, Pareto/NBD and their combination (models/clv.AliveModel: BG/NBD
  for repeat buyers, Pareto/NBD for one-time buyers). A customer alive at the end of
  calibration may still not buy in the holdout, so its Brier score measures P(alive) against a
  stricter event; AUC is the fairer comparison.
- `purchase`: P(at least one purchase within the holdout's length) of the same models, the
  event itself, and of the two baselines' rates as Poisson processes (1 - exp(-expected)).
  One minus the combined model's is omnix's churn risk (over 90 days in snapshots).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np

from omnix.analytics import clv as rfm
from omnix.domain import contract as c
from omnix.domain.errors import ConfigError, EmptyStoreError
from omnix.domain.ports import Warehouse
from omnix.evaluation.counts import mae, pearson
from omnix.evaluation.metrics import auc, brier
from omnix.models.clv import (
    AliveModel,
    BetaGeoModel,
    FloatArray,
    GammaGammaModel,
    ParetoNBDModel,
    clv,
)
from omnix.services.consent import analysable

DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True, slots=True)
class ClvOptions:
    """How the report fits and values customers."""

    months: int = 12  # CLV horizon
    monthly_discount: float = 0.01  # discount rate per month
    margin: float = 1.0  # gross margin rate applied to expected spend (1.0 = revenue)
    time_unit_days: float = 7.0  # model time unit: weeks
    recent_days: int = 90  # window of the recent-rate baseline
    chunk_size: int = 250_000  # customers per partition when fitting and scoring


@dataclass(slots=True)
class Summary:
    """The RFM rows of the store as arrays; times already in the model's unit."""

    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    monetary: FloatArray
    recent: FloatArray
    holdout: FloatArray
    returned_value: float


@dataclass(slots=True)
class ClvReport:
    calibration_end: str
    holdout_end: str
    time_unit: str
    holdout_length: float  # in time units
    customers: int
    repeat_customers: int
    params: dict[str, float]
    log_likelihood: float
    holdout: dict[str, Any]
    baselines: dict[str, dict[str, Any]]
    model: str = "bgnbd"
    pareto_nbd: dict[str, Any] = field(default_factory=dict)
    gamma_gamma: dict[str, Any] | None = None
    clv: dict[str, Any] | None = None
    alive: dict[str, Any] = field(default_factory=dict)
    purchase: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, **asdict(self)}


def score(predicted: FloatArray, actual: FloatArray) -> dict[str, Any]:
    """Holdout accuracy: totals, MAE per customer (purchases) and Pearson correlation."""
    return {
        "predicted": float(predicted.sum()),
        "actual": float(actual.sum()),
        "mae": mae(predicted, actual),
        "corr": pearson(predicted, actual),
    }


def holdout_score(
    p: FloatArray, s: Summary, mean_key: str | None = "mean_p_alive"
) -> dict[str, Any]:
    """How well a probability (P(alive), or of a purchase) predicts any purchase in the holdout:
    AUC and Brier score for all customers, one-time buyers (x = 0) and repeat buyers (None
    where undefined), and its mean under `mean_key`. `mean_key=None`: a score that is not a
    probability (a ranking such as recency), scored by AUC alone."""
    bought = (s.holdout > 0).astype(np.int64)
    out: dict[str, Any] = {}
    for name, rows in (("all", np.ones(len(s.x), dtype=bool)), ("one_time", s.x == 0),
                       ("repeat", s.x > 0)):  # fmt: skip
        y, q = bought[rows], p[rows]
        area = auc(y, q) if y.size else float("nan")
        out[name] = {
            "customers": int(rows.sum()),
            "bought_in_holdout": float(y.mean()) if y.size else None,
            "auc": None if not np.isfinite(area) else area,
            "brier": brier(y, q) if y.size and mean_key else None,
        }
        if mean_key:
            out[name][mean_key] = float(q.mean()) if y.size else None
    return out


def baselines(s: Summary, length: float, recent_length: float) -> dict[str, FloatArray]:
    """Naive holdout predictions: the calibration repeat rate and the recent repeat rate."""
    rate = np.divide(s.x, s.T, out=np.zeros_like(s.x), where=s.T > 0)
    window = np.minimum(s.T, recent_length)
    recent = np.divide(s.recent, window, out=np.zeros_like(s.x), where=window > 0)
    return {"calibration_rate": rate * length, "recent_rate": recent * length}


@dataclass(slots=True)
class ClvService:
    warehouse: Warehouse
    options: ClvOptions = field(default_factory=ClvOptions)

    def fetch(self, calibration_end: date, holdout_end: date) -> Summary:
        """The per-customer RFM summary from the store, in model time units."""
        tx = analysable(self.warehouse)  # not customers who objected to analytics
        expr = rfm.rfm_summary(tx, calibration_end, holdout_end, self.options.recent_days)
        table = expr.drop(c.CUSTOMER_ID).to_pyarrow()

        def col(name: str) -> FloatArray:
            return np.asarray(table[name].to_numpy(), dtype=np.float64)

        unit = self.options.time_unit_days
        return Summary(
            x=col("frequency"),
            t_x=col("recency") / unit,
            T=col("T") / unit,
            monetary=col("monetary"),
            recent=col("recent_frequency"),
            holdout=col("holdout_frequency"),
            returned_value=float(col("returned_value").sum()),
        )

    def report(self, calibration_end: date, holdout_end: date) -> ClvReport:
        """Fit on purchases up to `calibration_end` (inclusive), score (cal end, holdout end]."""
        if holdout_end <= calibration_end:
            raise ConfigError(
                f"--holdout-end ({holdout_end}) must be after --calibration-end ({calibration_end})"
            )
        detail = {"calibration_end": str(calibration_end), "holdout_end": str(holdout_end)}
        timings: dict[str, float] = {}
        with self.warehouse.run("clv-report", detail):
            started = time.perf_counter()
            s = self.fetch(calibration_end, holdout_end)
            timings["summary"] = time.perf_counter() - started
            _check_fittable(s, calibration_end)
            report = self._fit_and_score(s, calibration_end, holdout_end, timings)
        report.seconds = {k: round(v, 3) for k, v in timings.items()}
        return report

    def _fit_and_score(
        self, s: Summary, cal_end: date, hold_end: date, timings: dict[str, float]
    ) -> ClvReport:
        o = self.options
        length = (hold_end - cal_end).days / o.time_unit_days
        started = time.perf_counter()
        bg = BetaGeoModel(chunk_size=o.chunk_size).fit(s.x, s.t_x, s.T)
        timings["bgnbd"] = time.perf_counter() - started
        naive = baselines(s, length, o.recent_days / o.time_unit_days)
        report = ClvReport(
            calibration_end=cal_end.isoformat(),
            holdout_end=hold_end.isoformat(),
            time_unit="weeks" if o.time_unit_days == 7 else f"{o.time_unit_days:g} days",
            holdout_length=length,
            customers=len(s.x),
            repeat_customers=int(np.count_nonzero(s.x)),
            params=bg.params_,
            log_likelihood=bg.log_likelihood_,
            holdout=score(bg.expected_purchases(length, s.x, s.t_x, s.T), s.holdout),
            baselines={
                name: {k: v for k, v in score(pred, s.holdout).items() if k != "actual"}
                for name, pred in naive.items()
            },
        )
        started = time.perf_counter()
        pareto = ParetoNBDModel(chunk_size=o.chunk_size).fit(s.x, s.t_x, s.T)
        report.pareto_nbd = {
            "params": pareto.params_,
            "log_likelihood": pareto.log_likelihood_,
            "holdout": score(pareto.expected_purchases(length, s.x, s.t_x, s.T), s.holdout),
        }
        timings["pareto_nbd"] = time.perf_counter() - started
        alive = AliveModel.of(bg, pareto)
        p_alive = {
            "bgnbd": bg.p_alive(s.x, s.t_x, s.T),
            "pareto_nbd": pareto.p_alive(s.x, s.t_x, s.T),
            "omnix": alive.p_alive(s.x, s.t_x, s.T),
        }
        report.alive = {name: holdout_score(p, s) for name, p in p_alive.items()}
        p_buy = {
            "bgnbd": bg.p_purchase(length, s.x, s.t_x, s.T),
            "pareto_nbd": pareto.p_purchase(length, s.x, s.t_x, s.T),
            "omnix": alive.p_purchase(length, s.x, s.t_x, s.T),
            **{f"baseline: {name}": -np.expm1(-pred) for name, pred in naive.items()},
        }
        report.purchase = {
            name: holdout_score(p, s, "mean_probability") for name, p in p_buy.items()
        }
        # the hiatus heuristic's ranking (Wuebben & Wangenheim 2008): the more recent, the likelier
        report.purchase["baseline: recency"] = holdout_score(s.t_x - s.T, s, None)
        started = time.perf_counter()
        report.gamma_gamma, report.clv = self._value(bg, s, p_alive["omnix"])
        timings["gamma_gamma_clv"] = time.perf_counter() - started
        return report

    def _value(
        self, bg: BetaGeoModel, s: Summary, p_alive: FloatArray
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Gamma-Gamma spend and CLV; (None, None) when no repeat purchase has a value.
        `p_alive`: the churn-risk P(alive) (AliveModel) summarised beside the value."""
        o = self.options
        if not np.any((s.x > 0) & (s.monetary > 0)):
            return None, None
        gg = GammaGammaModel(chunk_size=o.chunk_size).fit(s.x, s.monetary)
        spend = gg.expected_spend(s.x, s.monetary)
        value = clv(
            bg, s.x, s.t_x, s.T, spend,
            months=o.months, monthly_discount=o.monthly_discount, margin=o.margin,
            month_length=DAYS_PER_MONTH / o.time_unit_days,
        )  # fmt: skip
        gamma = {
            "params": gg.params_,
            "log_likelihood": gg.log_likelihood_,
            "customers": gg.n_customers_,
            "mean_expected_spend": float(spend.mean()),
        }
        summary = {
            "months": o.months,
            "monthly_discount": o.monthly_discount,
            "margin": o.margin,
            "total": float(value.sum()),
            "mean": float(value.mean()),
            "top_decile_share": _top_decile_share(value),
            "mean_p_alive": float(p_alive.mean()),
            "likely_churned": int(np.count_nonzero(p_alive < 0.5)),
            "returned_value": s.returned_value,
        }
        return gamma, summary


def _top_decile_share(value: FloatArray) -> float:
    """Share of total CLV held by the 10 % most valuable customers (0..1)."""
    total = float(value.sum())
    if total <= 0:
        return 0.0
    k = max(len(value) // 10, 1)
    return float(np.partition(value, len(value) - k)[-k:].sum() / total)


def _check_fittable(s: Summary, calibration_end: date) -> None:
    if not len(s.x):
        raise EmptyStoreError(
            f"no purchases on or before {calibration_end}: ingest data or pick a later "
            "--calibration-end"
        )
    if not np.any(s.x > 0):
        raise EmptyStoreError(
            f"no customer bought again on a later day by {calibration_end}: the models need "
            "repeat purchases, pick a later --calibration-end"
        )
