"""Buy-till-you-die models for lifetime value and churn, with scikit-learn conventions.

- `BetaGeoModel` (BG/NBD) and `ParetoNBDModel`: how many repeat purchases a customer makes and
  whether they are still "alive", from `x` repeat purchases, recency `t_x` and age `T`.
- `AliveModel`: P(alive) and churn risk (no purchase within a horizon), BG/NBD for repeat
  buyers and Pareto/NBD for one-time buyers (measured choice, see the class).
- `GammaGammaModel`: how much a customer spends per purchase, from `x` and the mean value `m`.
- `clv(...)`: discounted expected margin over a horizon of months.

Time is in one unit of the caller's choice (omnix's service uses weeks, as the literature
does); `alpha` and `beta` are in that unit. Fitting maximises the likelihood
(`models/clv_likelihoods.py`) over log-parameters with L-BFGS; customers with identical
(x, t_x, T) are fitted once with a weight, and every pass over customers runs in partitions of
`chunk_size`, so temporaries stay bounded whatever the number of customers.

    >>> model = BetaGeoModel().fit(x, t_x, T)            # doctest: +SKIP
    >>> model.expected_purchases(39.0, x, t_x, T)        # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import structlog
from scipy.optimize import minimize
from sklearn.exceptions import NotFittedError
from threadpoolctl import threadpool_limits

from omnix.models import clv_likelihoods as lik
from omnix.models.clv_likelihoods import compress

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike
DEFAULT_CHUNK = 250_000
log = structlog.get_logger(__name__)


def _as_float(values: ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def check_rfm(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> tuple[FloatArray, ...]:
    """Validate (x, t_x, T): same length, x >= 0, 0 <= t_x <= T, t_x = 0 where x = 0."""
    xs, txs, Ts = _as_float(x, "x"), _as_float(t_x, "t_x"), _as_float(T, "T")
    if not len(xs) == len(txs) == len(Ts):
        raise ValueError("x, t_x and T must have the same length")
    if np.any(xs < 0) or np.any(txs < 0):
        raise ValueError("x and t_x must be >= 0")
    if np.any(txs > Ts):
        raise ValueError("recency t_x cannot exceed age T")
    if np.any((xs == 0) & (txs > 0)):
        raise ValueError("t_x must be 0 for customers without repeat purchases (x = 0)")
    return xs, txs, Ts


def in_partitions(
    fn: Callable[..., FloatArray], columns: Sequence[FloatArray], chunk_size: int
) -> FloatArray:
    """fn applied to consecutive slices of `chunk_size` rows, results concatenated."""
    n = len(columns[0])
    out = np.empty(n, dtype=np.float64)
    for start in range(0, n, chunk_size):
        part = slice(start, start + chunk_size)
        out[part] = fn(*(c[part] for c in columns))
    return out


def per_distinct_row(
    fn: Callable[..., FloatArray], columns: Sequence[FloatArray], chunk_size: int
) -> FloatArray:
    """fn computed once per distinct row of `columns` (in partitions), expanded to every row.

    Summaries at day resolution repeat a lot (1M customers: about 190k distinct (x, t_x, T)),
    so scoring distinct rows saves most of the special-function work.
    """
    unique, _, inverse = compress(*columns)
    return in_partitions(fn, unique, chunk_size)[inverse]


class _MaximumLikelihood:
    """Shared fitting machinery: weighted, partitioned log-likelihood maximised with L-BFGS."""

    param_names: ClassVar[tuple[str, ...]] = ()
    has_gradient: ClassVar[bool] = False
    params_: dict[str, float]
    log_likelihood_: float
    n_customers_: int

    def __init__(self, chunk_size: int = DEFAULT_CHUNK, max_iter: int = 500) -> None:
        self.chunk_size = chunk_size
        self.max_iter = max_iter

    def _loglik(self, params: tuple[float, ...], cols: Any) -> Any:
        raise NotImplementedError

    def _prepare(self, cols: list[FloatArray]) -> Any:
        """What `_loglik` reads for one partition of customers, built once per fit (by
        default the columns themselves)."""
        return cols

    def _maximise(self, cols: list[FloatArray], weights: FloatArray) -> None:
        total = float(weights.sum())
        grad_on = self.has_gradient
        parts = [slice(start, start + self.chunk_size)
                 for start in range(0, len(weights), self.chunk_size)]  # fmt: skip
        prepared = [self._prepare([c[part] for c in cols]) for part in parts]

        def objective(log_params: FloatArray) -> Any:
            # NumPy scalars: a parameter that under- or overflows gives inf / nan (and the
            # line search steps back) instead of a ZeroDivisionError on a tiny data set
            value, grad = 0.0, np.zeros(len(log_params))
            with np.errstate(all="ignore"):
                params = tuple(np.exp(log_params))
                for part, chunk in zip(parts, prepared, strict=True):
                    out = self._loglik(params, chunk)
                    ll = out[0] if grad_on else out
                    value += float(weights[part] @ ll)
                    if grad_on:
                        grad += out[1] @ weights[part]
            if not np.isfinite(value):
                return (np.inf, grad) if grad_on else np.inf
            return (-value / total, -grad / total) if grad_on else -value / total

        x0 = np.zeros(len(self.param_names))
        options = {"maxiter": self.max_iter, "ftol": 1e-13, "gtol": 1e-9}
        # BLAS threads only add overhead to products of a few vectors (measured: 4x slower)
        # (finite differences of an infinite value, far from the optimum, are NaN: no warning)
        with threadpool_limits(limits=1, user_api="blas"), np.errstate(invalid="ignore"):
            res = minimize(objective, x0, jac=grad_on, method="L-BFGS-B", options=options)
        final = float(res.fun)
        if not np.isfinite(final):
            raise ValueError(f"{type(self).__name__}: the likelihood could not be maximised")
        if not res.success:
            log.warning("clv_fit_not_converged", model=type(self).__name__, message=res.message)
        self.params_ = dict(zip(self.param_names, np.exp(res.x).tolist(), strict=True))
        self.log_likelihood_ = -final * total
        self.n_customers_ = int(total)

    def _params(self) -> tuple[float, ...]:
        if not hasattr(self, "params_"):
            name = type(self).__name__
            raise NotFittedError(f"This {name} is not fitted yet: call fit(...) before using it.")
        return tuple(self.params_[k] for k in self.param_names)


class _PurchaseModel(_MaximumLikelihood):
    """BG/NBD and Pareto/NBD share inputs, fitting and the two prediction methods."""

    def _p_alive(self, params: Any, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        raise NotImplementedError

    def _expected(
        self, params: Any, t: float, x: FloatArray, t_x: FloatArray, T: FloatArray
    ) -> FloatArray:
        raise NotImplementedError

    def _purchase_if_alive(self, params: Any, t: float, x: FloatArray, T: FloatArray) -> FloatArray:
        raise NotImplementedError

    def fit(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Any:
        """Maximum-likelihood fit on calibration summaries; returns self."""
        cols = check_rfm(x, t_x, T)
        if not np.any(cols[0] > 0):
            raise ValueError("no customer has a repeat purchase: the model cannot be fitted")
        unique, weights, _ = compress(*cols)
        self._maximise(unique, weights)
        return self

    def p_alive(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
        """Probability that each customer is still active at the end of calibration (0..1)."""
        params = self._params()
        cols = check_rfm(x, t_x, T)
        return per_distinct_row(lambda *c: self._p_alive(params, *c), cols, self.chunk_size)

    def expected_purchases(
        self, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """Expected repeat purchases in the next `t` time units, per customer."""
        params = self._params()
        if not (np.isfinite(t) and t >= 0):
            raise ValueError(f"t must be a finite time >= 0, got {t!r}")
        cols = check_rfm(x, t_x, T)
        return per_distinct_row(lambda *c: self._expected(params, t, *c), cols, self.chunk_size)

    def p_purchase(self, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
        """Probability of at least one purchase in the next `t` time units, per customer:
        P(alive) times the chance that a customer alive now buys within `t`. One minus it is
        the churn risk over that horizon, an event a holdout can check (P(alive) alone is not:
        a customer can be alive and still not buy for a year)."""
        params = self._params()
        if not (np.isfinite(t) and t >= 0):
            raise ValueError(f"t must be a finite time >= 0, got {t!r}")

        def one_partition(xs: FloatArray, txs: FloatArray, Ts: FloatArray) -> FloatArray:
            alive = self._p_alive(params, xs, txs, Ts)
            return alive * self._purchase_if_alive(params, t, xs, Ts)

        return per_distinct_row(one_partition, check_rfm(x, t_x, T), self.chunk_size)


class BetaGeoModel(_PurchaseModel):
    """BG/NBD (Fader, Hardie & Lee 2005): Poisson purchases at a gamma(r, alpha) rate; after
    each purchase the customer drops out with a beta(a, b) probability."""

    param_names = ("r", "alpha", "a", "b")
    has_gradient = True

    def _loglik(self, params: Any, cols: Sequence[FloatArray]) -> Any:
        return lik.bgnbd_loglik_grad(params, *cols)

    def _p_alive(self, params: Any, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        return lik.bgnbd_p_alive(params, x, t_x, T)

    def _expected(
        self, params: Any, t: float, x: FloatArray, t_x: FloatArray, T: FloatArray
    ) -> FloatArray:
        return lik.bgnbd_expected(params, t, x, t_x, T)

    def _purchase_if_alive(self, params: Any, t: float, x: FloatArray, T: FloatArray) -> FloatArray:
        return lik.bgnbd_purchase_if_alive(params, t, x, T)


class ParetoNBDModel(_PurchaseModel):
    """Pareto/NBD (Schmittlein, Morrison & Colombo 1987): Poisson purchases at a gamma(r, alpha)
    rate, an exponential lifetime at a gamma(s, beta) rate. Gradient by finite differences;
    each likelihood evaluation computes A0's hypergeometric terms once per distinct (x, t)
    (lik.ParetoRows), which made the fit of 1M customers about 2.5x faster."""

    param_names = ("r", "alpha", "s", "beta")

    def _prepare(self, cols: list[FloatArray]) -> lik.ParetoRows:
        return lik.pareto_rows(*cols)

    def _loglik(self, params: Any, rows: lik.ParetoRows) -> Any:
        return lik.pareto_loglik_rows(params, rows)

    def _p_alive(self, params: Any, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        return lik.pareto_p_alive(params, x, t_x, T)

    def _expected(
        self, params: Any, t: float, x: FloatArray, t_x: FloatArray, T: FloatArray
    ) -> FloatArray:
        return lik.pareto_expected(params, t, x, t_x, T)

    def _purchase_if_alive(self, params: Any, t: float, x: FloatArray, T: FloatArray) -> FloatArray:
        return lik.pareto_purchase_if_alive(params, t, x, T)


class AliveModel:
    """P(alive) and churn risk: BG/NBD for customers with a repeat purchase, Pareto/NBD for
    one-time buyers (x = 0).

    BG/NBD lets a customer drop out only right after a repeat purchase, so it gives every
    one-time buyer P(alive) = 1 however long ago they bought; Pareto/NBD's lifetime runs in
    continuous time and does not. Measured on CDNOW and Online Retail II (any purchase in the
    holdout as the label; docs/DECISIONS_LOG.md): this combination had the best Brier score
    overall, Pareto/NBD's discrimination among one-time buyers and BG/NBD's among repeat
    buyers, where BG/NBD was the better of the two.

    >>> alive = AliveModel().fit(x, t_x, T)       # doctest: +SKIP
    >>> alive.p_alive(x, t_x, T)                  # doctest: +SKIP
    """

    bg_: BetaGeoModel
    pareto_: ParetoNBDModel | None

    def __init__(self, chunk_size: int = DEFAULT_CHUNK) -> None:
        self.chunk_size = chunk_size

    @classmethod
    def of(cls, bg: BetaGeoModel, pareto: ParetoNBDModel | None) -> AliveModel:
        """The combination of two models already fitted on the same customers."""
        model = cls(chunk_size=bg.chunk_size)
        model.bg_, model.pareto_ = bg, pareto
        return model

    def fit(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> AliveModel:
        """Fit BG/NBD, and Pareto/NBD when there are one-time buyers; returns self."""
        xs, txs, Ts = check_rfm(x, t_x, T)
        self.bg_ = BetaGeoModel(chunk_size=self.chunk_size).fit(xs, txs, Ts)
        self.pareto_ = None
        if np.any(xs == 0):
            self.pareto_ = ParetoNBDModel(chunk_size=self.chunk_size).fit(xs, txs, Ts)
        return self

    def p_alive(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
        """Probability that each customer is still active at the end of calibration (0..1)."""
        return self._combined("p_alive", (), x, t_x, T)

    def p_purchase(self, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
        """Probability of at least one purchase in the next `t` time units (0..1)."""
        return self._combined("p_purchase", (t,), x, t_x, T)

    def churn_risk(self, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
        """Probability of no purchase in the next `t` time units (0..1): what omnix shows as
        churn risk. Measured against P(alive) on CDNOW and Online Retail II holdouts
        (docs/DECISIONS_LOG.md, "session 10"): better ranked and far better calibrated."""
        return 1.0 - self.p_purchase(t, x, t_x, T)

    def _combined(
        self, method: str, args: tuple[float, ...], x: ArrayLike, t_x: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """BG/NBD's `method` for everyone, Pareto/NBD's for one-time buyers when fitted."""
        if not hasattr(self, "bg_"):
            raise NotFittedError("This AliveModel is not fitted yet: call fit(...) first.")
        xs, txs, Ts = check_rfm(x, t_x, T)
        out: FloatArray = getattr(self.bg_, method)(*args, xs, txs, Ts)
        once = xs == 0
        if self.pareto_ is not None and np.any(once):
            out[once] = getattr(self.pareto_, method)(*args, xs[once], txs[once], Ts[once])
        return out


class GammaGammaModel(_MaximumLikelihood):
    """Gamma-Gamma spend model (Fader, Hardie & Lee 2005): a customer's purchase values are
    gamma(p, nu) with nu ~ gamma(q, gamma). Fitted on customers with x >= 1 and m > 0 only."""

    param_names = ("p", "q", "gamma")
    has_gradient = True

    def _loglik(self, params: Any, cols: Sequence[FloatArray]) -> Any:
        return lik.gamma_gamma_loglik_grad(params, *cols)

    def fit(self, x: ArrayLike, m: ArrayLike) -> GammaGammaModel:
        """Fit on repeat customers' (x, mean repeat value m); others are left out."""
        xs, ms = _as_float(x, "x"), _as_float(m, "m")
        keep = (xs > 0) & (ms > 0)
        if not np.any(keep):
            raise ValueError("no customer has a repeat purchase with a positive value")
        unique, weights, _ = compress(xs[keep], ms[keep])
        self._maximise(unique, weights)
        return self

    def expected_spend(self, x: ArrayLike, m: ArrayLike) -> FloatArray:
        """Expected value of each customer's future purchases (currency per purchase).

        Customers without a repeat purchase (x = 0) get the population mean p gamma / (q - 1).
        """
        params = self._params()
        if params[1] <= 1:
            raise ValueError("q <= 1: the fitted spend distribution has no finite mean")
        xs, ms = _as_float(x, "x"), _as_float(m, "m")
        ms = np.where(xs > 0, ms, 0.0)
        p, q, gamma = params
        return in_partitions(
            lambda a, b: lik.gamma_gamma_expected_spend((p, q, gamma), a, b),
            [xs, ms],
            self.chunk_size,
        )


def clv(
    model: _PurchaseModel,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    spend: ArrayLike,
    *,
    months: int = 12,
    monthly_discount: float = 0.01,
    margin: float = 1.0,
    month_length: float = 30.0,
) -> FloatArray:
    """Discounted expected margin per customer over the next `months` months (currency).

    CLV = sum over months i of margin x spend x (E[Y(i L)] - E[Y((i-1) L)]) / (1 + d)^i,
    with L = `month_length` in the model's time unit (30 for days, 30/7 for weeks) and d the
    monthly discount rate. `spend` is the expected value per purchase (GammaGammaModel).
    """
    if months < 1:
        raise ValueError(f"months must be >= 1, got {months}")
    if monthly_discount < 0 or not 0 <= margin <= 1:
        raise ValueError("monthly_discount must be >= 0 and margin in [0, 1]")
    cols = check_rfm(x, t_x, T)
    spends = _as_float(spend, "spend")
    params = model._params()
    step = model.chunk_size

    def one_partition(xs: FloatArray, txs: FloatArray, Ts: FloatArray) -> FloatArray:
        value, before = np.zeros(len(xs)), np.zeros(len(xs))
        for i in range(1, months + 1):
            upto = model._expected(params, i * month_length, xs, txs, Ts)
            value += (upto - before) / (1.0 + monthly_discount) ** i
            before = upto
        return value

    return margin * spends * per_distinct_row(one_partition, cols, step)
