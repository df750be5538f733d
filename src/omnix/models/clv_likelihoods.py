"""Log-likelihoods and conditional expectations of the buy-till-you-die models, vectorized.

Inputs per customer, in one time unit of the caller's choice (days, weeks):
`x` repeat purchases in calibration, `t_x` time from first to last purchase (recency),
`T` time from first purchase to the end of calibration (age); for Gamma-Gamma `m` the mean
value of the repeat purchases (currency). Parameters arrive as one tuple per model.

Formulas and their stable forms:
- BG/NBD: Fader, Hardie & Lee (2005), "Counting your customers the easy way", eq. 6 and 10.
  The conditional expectation's hypergeometric term is rewritten with Pfaff's transformation,
  so ((alpha+T)/(alpha+T+t))^(r+x) cancels exactly and nothing overflows for large x.
- Pareto/NBD: Fader & Hardie (2005), "A note on deriving the Pareto/NBD model and related
  expressions", eq. 22 (A0 with the alpha >= beta / alpha < beta cases), 18 and 19; every term
  in log space, 2F1(a, b; a+1; z) through Euler's transformation as
  (1-z)^(1-b) 2F1(1, a+1-b; a+1; z), a series of positive terms.

SciPy's `hyp2f1` is not reliable for the large parameters of frequent buyers (r + x in the
hundreds, the argument beyond -1 or near 1): it returns NaN, infinity or a wrong finite value
(on Online Retail II, BG/NBD's expected purchases came out NaN and a Pareto/NBD P(alive) of
1e-114 came out as 1). Both models therefore also have their terms as integrals, computed by
Gauss-Legendre quadrature, which the closed forms are checked against (docs/DECISIONS_LOG.md,
"session 8"):
- BG/NBD's expected purchases of a customer alive at T are a mean over the posterior dropout
  probability p ~ beta(a, b+x) of (1 - (1 + p t/(alpha+T))^-(r+x)) / p, taken at p's quantiles.
- Pareto/NBD's A0 is (r+s+x) times the integral over tau in (t_x, T] of
  (alpha+tau)^-(r+x) (beta+tau)^-(s+1): the chance of dying at tau after the last purchase.
- Gamma-Gamma: Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves", eq. 1-3.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import betaincinv, betaln, digamma, gammaln, hyp2f1

FloatArray = npt.NDArray[np.float64]
Params4 = tuple[float, float, float, float]
Params3 = tuple[float, float, float]
MAX_TABLE = 100_000  # largest count looked up in a table rather than computed per row
QUADRATURE_BLOCK = 8192  # rows per block of a quadrature (rows x nodes floats at a time)
AGREE = 1e-4  # relative difference up to which a closed form and its quadrature agree


def _gauss_legendre(edges: tuple[float, ...], points: int) -> tuple[FloatArray, FloatArray]:
    """Nodes and weights of composite Gauss-Legendre quadrature on the panels between edges."""
    g, w = np.polynomial.legendre.leggauss(points)
    lo, hi = np.array(edges[:-1]), np.array(edges[1:])
    half = (hi - lo)[:, None] / 2.0
    return (lo[:, None] + half * (g + 1.0)).ravel(), (half * w).ravel()


# A mean over a distribution as the integral over w in (0, 1) of f(quantile(w)): panels finer
# toward both ends, where a beta distribution's quantiles move fastest.
_QUANTILES, _QUANTILE_WEIGHTS = _gauss_legendre(
    (0.0, 1e-4, 1e-2, 0.1, 0.5, 0.9, 0.99, 0.9999, 1.0), 12
)
# A0's integral after tau = t_x + L (e^(vV) - 1), v in (0, 1): see _pareto_log_a0_quadrature
_LIFETIME, _LIFETIME_WEIGHTS = _gauss_legendre(tuple(np.linspace(0.0, 1.0, 5)), 12)
# A mean over w in (0, 1) of a smooth function that bends most toward w = 1: see
# pareto_purchase_if_alive
_TO_END, _TO_END_WEIGHTS = _gauss_legendre((0.0, 0.5, 0.9, 0.99, 0.999, 1.0), 12)
# Beyond this argument SciPy sums Euler's series term by term, about 1/(1-z) terms when b is
# small (10-20 us a value against 0.1-0.3): such terms are left to the quadrature (0.35 us a row)
EULER_SLOW = 0.99


def per_count(fn: Callable[[FloatArray], FloatArray], x: FloatArray) -> FloatArray:
    """fn(x) for whole-number counts x, computed once per count value and looked up.

    Special functions of r + x, b + x ... dominate a likelihood evaluation; customers share
    a few hundred distinct counts, so a table of fn(0..max x) is much cheaper than fn per row.
    Falls back to fn(x) for non-integer or very large counts.
    """
    if len(x) > 256:
        top = float(x.max())
        if top < MAX_TABLE and np.array_equal(x, np.floor(x)):
            with np.errstate(divide="ignore", invalid="ignore"):  # counts absent from x (0 ...)
                table: FloatArray = fn(np.arange(top + 1.0))
            return table[x.astype(np.intp)]
    return fn(x)


def compress(*columns: FloatArray) -> tuple[list[FloatArray], FloatArray, npt.NDArray[np.intp]]:
    """Distinct rows of the columns, how often each occurs (the weights of a fit), and for
    every input row the index of its distinct row (to expand per-row results back)."""
    n = len(columns[0])
    if n == 0:
        return [c.copy() for c in columns], np.zeros(0), np.zeros(0, dtype=np.intp)
    order = np.lexsort(columns[::-1])
    ordered = [c[order] for c in columns]
    new = np.zeros(n, dtype=bool)
    new[0] = True
    for c in ordered:
        new[1:] |= c[1:] != c[:-1]
    starts = np.flatnonzero(new)
    weights = np.diff(np.append(starts, n)).astype(np.float64)
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = np.cumsum(new) - 1
    return [c[starts] for c in ordered], weights, inverse


# ---------------------------------------------------------------- BG/NBD


def _bgnbd_terms(
    params: Params4, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(common part, log A3, log A4) of the BG/NBD likelihood; A4 is -inf where x = 0."""
    r, alpha, a, b = params
    by_x = per_count(lambda k: gammaln(r + k) + betaln(a, b + k), x)
    common = by_x - gammaln(r) + r * np.log(alpha) - betaln(a, b)
    log_a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    b_x1 = np.where(repeat, b + x - 1.0, 1.0)  # x = 0 would take log of b - 1 (< 0 when b < 1)
    log_a4 = np.where(repeat, np.log(a) - np.log(b_x1) - (r + x) * np.log(alpha + t_x), -np.inf)
    return common, log_a3, log_a4


def bgnbd_loglik(params: Params4, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
    """Per-customer BG/NBD log-likelihood (FHL 2005, eq. 6)."""
    common, log_a3, log_a4 = _bgnbd_terms(params, x, t_x, T)
    return common + np.logaddexp(log_a3, log_a4)


def bgnbd_loglik_grad(
    params: Params4, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per-customer log-likelihood and its gradient w.r.t. (log r, log alpha, log a, log b).

    The gradient is analytic (digamma terms; the mixture weights of A3 and A4 come from the
    same log-sum-exp), so one evaluation costs about two likelihoods and L-BFGS needs no
    finite differences. Returns (ll of shape (n,), grad of shape (4, n)).
    """
    r, alpha, a, b = params
    common, log_a3, log_a4 = _bgnbd_terms(params, x, t_x, T)
    tail = np.logaddexp(log_a3, log_a4)
    w3, w4 = np.exp(log_a3 - tail), np.exp(log_a4 - tail)
    repeat = x > 0
    b_x1 = np.where(repeat, b + x - 1.0, 1.0)
    psi_ab_x = per_count(lambda k: digamma(a + b + k), x)
    d_r = (
        per_count(lambda k: digamma(r + k), x)
        - digamma(r)
        + np.log(alpha)
        - w3 * np.log(alpha + T)
        - w4 * np.log(alpha + t_x)
    )
    d_alpha = r / alpha - (r + x) * (w3 / (alpha + T) + w4 / (alpha + t_x))
    d_a = digamma(a + b) - psi_ab_x + w4 / a
    psi_b_x = per_count(lambda k: digamma(b + k), x)
    d_b = psi_b_x - psi_ab_x - digamma(b) + digamma(a + b) - w4 / b_x1
    grad = np.stack([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
    return common + tail, grad


def bgnbd_log_odds_dead(
    params: Params4, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> FloatArray:
    """log of (a / (b+x-1)) ((alpha+T)/(alpha+t_x))^(r+x): P(alive) = 1 / (1 + exp(this))."""
    r, alpha, a, b = params
    repeat = x > 0
    b_x1 = np.where(repeat, b + x - 1.0, 1.0)
    odds = np.log(a) - np.log(b_x1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.where(repeat, odds, -np.inf)


def bgnbd_p_alive(params: Params4, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
    """P(alive at T | x, t_x, T) under BG/NBD (FHL 2005, eq. 11); 1 for customers with x = 0."""
    return _logistic_of_minus(bgnbd_log_odds_dead(params, x, t_x, T))


def bgnbd_expected(
    params: Params4, t: float, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> FloatArray:
    """E[purchases in (T, T + t] | x, t_x, T] under BG/NBD (FHL 2005, eq. 10): the rate of a
    customer alive at T (bgnbd_alive_rate) times P(alive at T).

    The rate's closed form is in Pfaff's form: 2F1(r+x, b+x; a+b+x-1; z) with
    z = t/(alpha+T+t) equals (1-z)^-(r+x) times 2F1(r+x, a-1; a+b+x-1; -t/(alpha+T)), and
    (1-z)^(r+x) is the factor in front of it.
    """
    if t == 0:
        return np.zeros_like(x)
    (xs, Ts), _, at = compress(x, T)  # the rate depends on (x, T) alone
    return bgnbd_alive_rate(params, t, xs, Ts)[at] * bgnbd_p_alive(params, x, t_x, T)


def bgnbd_alive_rate(params: Params4, t: float, x: FloatArray, T: FloatArray) -> FloatArray:
    """E[purchases in (T, T + t] | alive at T, x, T] under BG/NBD: FHL 2005 eq. 10 without its
    P(alive) factor. The closed form where it agrees with the quadrature, else the quadrature."""
    u = t / (params[1] + T)
    closed = _bgnbd_alive_rate_closed(params, u, x)
    by_quadrature = _bgnbd_alive_rate_quadrature(params, u, x)
    agree = np.abs(closed - by_quadrature) <= AGREE * by_quadrature  # False where NaN
    return np.where(agree, closed, by_quadrature)


def _bgnbd_alive_rate_closed(params: Params4, u: FloatArray, x: FloatArray) -> FloatArray:
    """The rate's closed form (a+b+x-1)/(a-1) (1 - 2F1(r+x, a-1; a+b+x-1; -u)), u = t/(alpha+T);
    NaN, infinite or wrong where SciPy's hyp2f1 fails."""
    r, _, a, b = params
    with np.errstate(all="ignore"):
        hyp = hyp2f1(r + x, a - 1.0, a + b + x - 1.0, -u)
        closed: FloatArray = (a + b + x - 1.0) / (a - 1.0) * (1.0 - hyp)
    return closed


def _bgnbd_alive_rate_quadrature(params: Params4, u: FloatArray, x: FloatArray) -> FloatArray:
    """Mean over p ~ beta(a, b+x) of (1 - (1 + p u)^-(r+x)) / p (its limit (r+x) u at p = 0),
    taken at p's quantiles (computed once per distinct x)."""
    r, _, a, b = params
    counts, at = np.unique(x, return_inverse=True)
    quantiles = betaincinv(a, b + counts[:, None], _QUANTILES)
    out = np.empty(len(x))
    for start in range(0, len(x), QUADRATURE_BLOCK):
        part = slice(start, start + QUADRATURE_BLOCK)
        p = quantiles[at[part]]
        rate = ((r + x[part]) * u[part])[:, None]  # (r+x) u: the rate without dropout
        with np.errstate(divide="ignore", invalid="ignore"):
            mean_left = -np.expm1(-(r + x[part])[:, None] * np.log1p(p * u[part, None])) / p
        out[part] = np.where(p > 0.0, mean_left, rate) @ _QUANTILE_WEIGHTS
    return out


def bgnbd_purchase_if_alive(params: Params4, t: float, x: FloatArray, T: FloatArray) -> FloatArray:
    """P(a purchase in (T, T + t] | alive at T, x, T) under BG/NBD:
    1 - ((alpha+T)/(alpha+T+t))^(r+x).

    Given alive at T the rate is gamma(r+x, alpha+T) (FHL 2005), and a customer drops out only
    right after a purchase, so one alive at T who buys nothing in the window is still alive
    through it: no purchase has probability E[exp(-lambda t)].
    """
    r, alpha, _, _ = params
    return -np.expm1(-(r + x) * np.log1p(t / (alpha + T)))


def _logistic_of_minus(log_odds: FloatArray) -> FloatArray:
    """1 / (1 + exp(log_odds)) without overflow."""
    return np.exp(-np.logaddexp(0.0, log_odds))


# ---------------------------------------------------------------- Pareto/NBD


@dataclass(frozen=True, slots=True)
class ParetoRows:
    """Customers' (x, t_x, T) plus the distinct (x, t) over t in t_x and T.

    A0's two hypergeometric terms are one function of (x, t) evaluated at t = t_x and t = T.
    Customers share far fewer (x, t) than (x, t_x, T) (1M simulated customers: 188k distinct
    rows, 13k distinct (x, t)), so each term is computed once per distinct (x, t) and looked
    up: the likelihood costs a fifth as much and the values are the same.
    """

    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    pair_x: FloatArray
    pair_t: FloatArray
    at_t_x: npt.NDArray[np.intp]  # row of (x, t_x) in pair_x, pair_t
    at_age: npt.NDArray[np.intp]  # row of (x, T)


def pareto_rows(x: FloatArray, t_x: FloatArray, T: FloatArray) -> ParetoRows:
    """Index (x, t_x, T) rows by their distinct (x, t) pairs (see ParetoRows)."""
    (pair_x, pair_t), _, inverse = compress(np.concatenate([x, x]), np.concatenate([t_x, T]))
    n = len(x)
    return ParetoRows(x, t_x, T, pair_x, pair_t, inverse[:n], inverse[n:])


def _log_hyp2f1_c_a1(a: FloatArray, b: FloatArray, z: FloatArray) -> FloatArray:
    """log 2F1(a, b; a + 1; z) for 0 <= z < 1, via Euler: (1-b) log(1-z) + log 2F1(1, a+1-b;
    a+1; z). (Pfaff's form, 2F1(1, b; a+1; z/(z-1)), came out NaN or wrong for large a.)"""
    hyp: FloatArray = hyp2f1(1.0, a + 1.0 - b, a + 1.0, z)
    return (1.0 - b) * np.log1p(-z) + np.log(hyp)


def _log_a0_term(params: Params4, x: FloatArray, t: FloatArray) -> FloatArray:
    """log of 2F1(r+s+x, b; r+s+x+1; |alpha-beta| / (max+t)) / (max+t)^(r+s+x): A0's term at t."""
    r, alpha, s, beta = params
    rsx = r + s + x
    if alpha >= beta:
        big, b_arg = alpha, s + 1.0 + np.zeros_like(x)
    else:
        big, b_arg = beta, r + x
    z = abs(alpha - beta) / (big + t)
    slow = z > EULER_SLOW  # NaN: the rows that need this term take the quadrature instead
    term = _log_hyp2f1_c_a1(rsx, b_arg, np.where(slow, 0.0, z)) - rsx * np.log(big + t)
    return np.where(slow, np.nan, term)


def pareto_log_a0_rows(params: Params4, rows: ParetoRows) -> FloatArray:
    """log A0 of the Pareto/NBD likelihood (Fader & Hardie 2005 note, eq. 22); -inf if t_x = T.

    The closed form where it is finite and inside A0's bounds, else the quadrature."""
    closed = _pareto_log_a0_closed(params, rows)
    with np.errstate(all="ignore"):
        low, high = _pareto_log_a0_bounds(params, rows.x, rows.t_x, rows.T)
        slack = 1e-9 * np.maximum(np.abs(closed), 1.0)
        # a row with t_x < T has A0 > 0: its log must be finite (NaN compares False)
        inside = np.isfinite(closed) & (closed >= low - slack) & (closed <= high + slack)
    lived = rows.t_x < rows.T
    wrong = lived & ~inside
    out = np.where(lived, closed, -np.inf)
    if wrong.any():
        out[wrong] = _pareto_log_a0_quadrature(
            params, rows.x[wrong], rows.t_x[wrong], rows.T[wrong]
        )
    return out


def _pareto_log_a0_closed(params: Params4, rows: ParetoRows) -> FloatArray:
    """log A0 from the hypergeometric terms at t_x and T (-inf where t_x = T); NaN where a
    term is left to the quadrature (EULER_SLOW) or SciPy's hyp2f1 fails."""
    with np.errstate(all="ignore"):
        term = _log_a0_term(params, rows.pair_x, rows.pair_t)
        l1, l2 = term[rows.at_t_x], term[rows.at_age]
        positive = l2 < l1
        diff = np.where(positive, l2 - l1, -1.0)  # A0 is an integral over (t_x, T]: >= 0
        closed: FloatArray = np.where(positive, l1 + np.log(-np.expm1(diff)), -np.inf)
    return closed


def _log_lifetime_integrand(params: Params4, tau: FloatArray, rx: FloatArray) -> FloatArray:
    """log f(tau) = -(r+x) log(alpha+tau) - (s+1) log(beta+tau): A0's integrand (rx = r+x)."""
    _, alpha, s, beta = params
    out: FloatArray = -rx * np.log(alpha + tau) - (s + 1.0) * np.log(beta + tau)
    return out


def _pareto_log_a0_parts(
    params: Params4, x: FloatArray, t_x: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """log(r+s+x) + log f(t_x), and the scale L = -1 / (log f)'(t_x)."""
    r, alpha, s, beta = params
    scale = 1.0 / ((r + x) / (alpha + t_x) + (s + 1.0) / (beta + t_x))
    return np.log(r + s + x) + _log_lifetime_integrand(params, t_x, r + x), scale


def _pareto_log_a0_bounds(
    params: Params4, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Bounds on log A0: f decreases, so the integral is at most (T - t_x) f(t_x); log f is
    convex, so f stays above its tangent at t_x and the integral is at least
    L f(t_x) (1 - exp(-(T - t_x) / L))."""
    head, scale = _pareto_log_a0_parts(params, x, t_x)
    span = T - t_x
    low: FloatArray = head + np.log(scale) + np.log(-np.expm1(-span / scale))
    high: FloatArray = head + np.log(span)
    return low, high


def _pareto_log_a0_quadrature(
    params: Params4, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> FloatArray:
    """log A0 = log(r+s+x) + log of the integral of f over (t_x, T], with tau = t_x +
    L (e^(vV) - 1) for v in (0, 1) and V = log(1 + (T - t_x)/L): the integrand then falls
    smoothly over v whatever r + x (Gauss-Legendre, 4 panels of 12 points; 1e-11 against
    mpmath on heavy buyers)."""
    r = params[0]
    head, scale = _pareto_log_a0_parts(params, x, t_x)
    reach = np.log1p((T - t_x) / scale)
    out = np.empty(len(x))
    for start in range(0, len(x), QUADRATURE_BLOCK):
        part = slice(start, start + QUADRATURE_BLOCK)
        v = reach[part, None] * _LIFETIME
        tau = t_x[part, None] + scale[part, None] * np.expm1(v)
        rx = (r + x[part])[:, None]
        log_f = _log_lifetime_integrand(params, tau, rx)
        exponent = log_f - _log_lifetime_integrand(params, t_x[part, None], rx) + v
        top = exponent.max(axis=1, keepdims=True)
        total = np.exp(exponent - top) @ _LIFETIME_WEIGHTS
        out[part] = top[:, 0] + np.log(total) + np.log(reach[part]) + np.log(scale[part])
    return head + out


def pareto_log_a0(params: Params4, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
    """log A0 per customer (see pareto_log_a0_rows)."""
    return pareto_log_a0_rows(params, pareto_rows(x, t_x, T))


def pareto_loglik_rows(params: Params4, rows: ParetoRows) -> FloatArray:
    """Per-customer Pareto/NBD log-likelihood (Fader & Hardie 2005 note, eq. 22)."""
    r, alpha, s, beta = params
    x, T = rows.x, rows.T
    head = per_count(lambda k: gammaln(r + k), x) - gammaln(r) + r * np.log(alpha)
    head = head + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    died = np.log(s) - np.log(r + s + x) + pareto_log_a0_rows(params, rows)
    out: FloatArray = head + np.logaddexp(alive, died)
    return out


def pareto_loglik(params: Params4, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
    """Per-customer Pareto/NBD log-likelihood (see pareto_loglik_rows)."""
    return pareto_loglik_rows(params, pareto_rows(x, t_x, T))


def pareto_p_alive(params: Params4, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
    """P(alive at T | x, t_x, T) under Pareto/NBD (Fader & Hardie 2005 note, eq. 18)."""
    r, alpha, s, beta = params
    log_odds = (
        np.log(s)
        - np.log(r + s + x)
        + (r + x) * np.log(alpha + T)
        + s * np.log(beta + T)
        + pareto_log_a0(params, x, t_x, T)
    )
    return _logistic_of_minus(log_odds)


def pareto_expected(
    params: Params4, t: float, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> FloatArray:
    """E[purchases in (T, T + t] | x, t_x, T] under Pareto/NBD (note, eq. 19)."""
    r, alpha, s, beta = params
    log_ratio = np.log(beta + T) - np.log(beta + T + t)  # <= 0
    # at s = 1, (1 - ratio^(s-1)) / (s-1) is its limit -log(ratio)
    near_one = abs(s - 1.0) < 1e-9
    horizon = -log_ratio if near_one else -np.expm1((s - 1.0) * log_ratio) / (s - 1.0)
    rate = (r + x) * (beta + T) / (alpha + T)
    return rate * horizon * pareto_p_alive(params, x, t_x, T)


def pareto_purchase_if_alive(params: Params4, t: float, x: FloatArray, T: FloatArray) -> FloatArray:
    """P(a purchase in (T, T + t] | alive at T, x, T) under Pareto/NBD, by quadrature.

    Given alive at T, lambda ~ gamma(r+x, A) and mu ~ gamma(s, B) independently, A = alpha+T,
    B = beta+T. The first purchase comes at rate lambda unless the customer dies first, so
    P = integral over u in (0, t] of E[lambda e^(-lambda u)] E[e^(-mu u)]
      = integral of (r+x)/A (1+u/A)^-(r+x+1) (1+u/B)^-s du.
    With z = 1 - (1+u/A)^-(r+x), the chance of a purchase by u without death, this is the
    integral over z in (0, Z] of (1 + (A/B)((1-z)^(-1/(r+x)) - 1))^-s, Z = BG/NBD's answer
    above: a smooth integrand in (0, 1] whatever the purchase count, computed by Gauss-Legendre
    on panels finer toward Z (checked against the `lifetimes` package's formula, a 30-digit
    mpmath integral and simulation in tests/unit/test_clv_models.py).
    """
    r, alpha, s, beta = params
    k, A = r + x, alpha + T
    ratio = (A / (beta + T))[:, None]
    Z = -np.expm1(-k * np.log1p(t / A))
    out = np.empty(len(x))
    for start in range(0, len(x), QUADRATURE_BLOCK):
        part = slice(start, start + QUADRATURE_BLOCK)
        z = Z[part, None] * _TO_END
        growth = np.expm1(-np.log1p(-z) / k[part, None])  # (1+u/A) - 1 at that z
        survive = np.exp(-s * np.log1p(ratio[part] * growth))
        out[part] = Z[part] * (survive @ _TO_END_WEIGHTS)
    return out


# ---------------------------------------------------------------- Gamma-Gamma


def _gg_parts(
    params: Params3, x: FloatArray, m: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    p, q, gamma = params
    px = p * x
    log_total = np.log(gamma + m * x)
    by_x = per_count(lambda k: gammaln(p * k + q) - gammaln(p * k) + p * k * np.log(k), x)
    ll = by_x - gammaln(q) + q * np.log(gamma) + (px - 1.0) * np.log(m) - (px + q) * log_total
    return ll, px, log_total


def gamma_gamma_loglik(params: Params3, x: FloatArray, m: FloatArray) -> FloatArray:
    """Per-customer log density of the mean spend m over x >= 1 repeat purchases (FHL 2005)."""
    return _gg_parts(params, x, m)[0]


def gamma_gamma_loglik_grad(
    params: Params3, x: FloatArray, m: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Log-likelihood per customer and its gradient w.r.t. log p, log q, log gamma: (3, n)."""
    p, q, gamma = params
    ll, px, log_total = _gg_parts(params, x, m)
    psi = per_count(lambda k: digamma(p * k + q), x)
    by_x = per_count(lambda k: -digamma(p * k) + np.log(k), x)
    d_p = x * (psi + by_x + np.log(m) - log_total)
    d_q = psi - digamma(q) + np.log(gamma) - log_total
    d_gamma = q / gamma - (px + q) / (gamma + m * x)
    return ll, np.stack([d_p * p, d_q * q, d_gamma * gamma])


def gamma_gamma_expected_spend(params: Params3, x: FloatArray, m: FloatArray) -> FloatArray:
    """E[spend per purchase | x, m] (FHL 2005 eq. 3): a weighted mean of the population mean
    p gamma / (q - 1) and the customer's own mean m; the population mean where x = 0."""
    p, q, gamma = params
    return (gamma + m * x) * p / (p * x + q - 1.0)
