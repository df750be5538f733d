"""BG/NBD, Pareto/NBD and Gamma-Gamma against the published CDNOW numbers (golden), against the
`lifetimes` package as an independent implementation, and for their basic properties.

Input: Fader and Hardie's own calibration summary of the 2,357-customer 1/10th CDNOW sample
(x, t_x, T in weeks, mean repeat spend), as shipped in the `lifetimes` wheel (dev extra).
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
from scipy.optimize import approx_fprime
from sklearn.exceptions import NotFittedError

from omnix.models import clv_likelihoods as lik
from omnix.models.clv import (
    AliveModel,
    BetaGeoModel,
    GammaGammaModel,
    ParetoNBDModel,
    clv,
    compress,
)
from tests.lifetimes_data import lifetimes_dataset

Arrays = dict[str, np.ndarray]


@pytest.fixture(scope="module")
def cdnow() -> Arrays:
    with lifetimes_dataset("cdnow_customers_summary_with_transactions.csv").open() as f:
        rows = list(csv.DictReader(f))
    cols = {k: np.array([float(r[k]) for r in rows]) for k in ("x", "t_x", "T", "zbar")}
    assert len(rows) == 2357
    return cols


@pytest.fixture(scope="module")
def bg(cdnow: Arrays) -> BetaGeoModel:
    return BetaGeoModel().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])


@pytest.fixture(scope="module")
def pareto(cdnow: Arrays) -> ParetoNBDModel:
    return ParetoNBDModel().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])


def test_bgnbd_reproduces_the_published_cdnow_fit(bg: BetaGeoModel) -> None:
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert bg.params_[name] == pytest.approx(value, abs=0.001), name
    assert bg.log_likelihood_ == pytest.approx(-9582.4, abs=0.1)
    assert bg.n_customers_ == 2357


def test_bgnbd_predicts_the_published_holdout_total(bg: BetaGeoModel, cdnow: Arrays) -> None:
    predicted = bg.expected_purchases(39.0, cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert predicted.sum() == pytest.approx(1653, abs=1)


def test_pareto_nbd_reproduces_the_published_cdnow_fit(pareto: ParetoNBDModel) -> None:
    published = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
    for name, value in published.items():
        assert pareto.params_[name] == pytest.approx(value, abs=0.005), name
    assert pareto.log_likelihood_ == pytest.approx(-9595.0, abs=0.1)


def test_gamma_gamma_reproduces_the_published_cdnow_fit(cdnow: Arrays) -> None:
    gg = GammaGammaModel().fit(cdnow["x"], cdnow["zbar"])
    assert gg.n_customers_ == 946  # repeat customers only
    for name, value in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert gg.params_[name] == pytest.approx(value, abs=0.01), name


def test_bgnbd_gradient_is_the_derivative_of_the_likelihood(cdnow: Arrays) -> None:
    cols = (cdnow["x"], cdnow["t_x"], cdnow["T"])
    at = np.log([0.3, 4.0, 0.9, 2.0])

    def total(lp: np.ndarray) -> float:
        return float(lik.bgnbd_loglik(tuple(np.exp(lp)), *cols).sum())

    _, grad = lik.bgnbd_loglik_grad(tuple(np.exp(at)), *cols)
    assert grad.sum(axis=1) == pytest.approx(approx_fprime(at, total, 1e-7), rel=1e-4)


def test_gamma_gamma_gradient_is_the_derivative_of_the_likelihood(cdnow: Arrays) -> None:
    keep = cdnow["x"] > 0
    x, m = cdnow["x"][keep], cdnow["zbar"][keep]
    at = np.log([5.0, 3.0, 12.0])

    def total(lp: np.ndarray) -> float:
        return float(lik.gamma_gamma_loglik(tuple(np.exp(lp)), x, m).sum())

    _, grad = lik.gamma_gamma_loglik_grad(tuple(np.exp(at)), x, m)
    assert grad.sum(axis=1) == pytest.approx(approx_fprime(at, total, 1e-7), rel=1e-4)


def test_predictions_match_lifetimes_at_the_same_parameters(
    bg: BetaGeoModel, pareto: ParetoNBDModel, cdnow: Arrays
) -> None:
    from lifetimes import BetaGeoFitter, ParetoNBDFitter

    x, t_x, T = cdnow["x"], cdnow["t_x"], cdnow["T"]
    for ours, theirs in ((bg, BetaGeoFitter()), (pareto, ParetoNBDFitter())):
        import pandas as pd

        theirs.params_ = pd.Series(ours.params_)
        assert ours.p_alive(x, t_x, T) == pytest.approx(
            theirs.conditional_probability_alive(x, t_x, T), abs=1e-9
        )
        expected = theirs.conditional_expected_number_of_purchases_up_to_time(39.0, x, t_x, T)
        assert ours.expected_purchases(39.0, x, t_x, T) == pytest.approx(expected, rel=1e-7)


def test_clv_matches_lifetimes(bg: BetaGeoModel, cdnow: Arrays) -> None:
    import pandas as pd
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    x, t_x, T, m = cdnow["x"], cdnow["t_x"], cdnow["T"], cdnow["zbar"]
    gg = GammaGammaModel().fit(x, m)
    theirs_bg, theirs_gg = BetaGeoFitter(), GammaGammaFitter()
    theirs_bg.params_ = pd.Series(bg.params_)
    theirs_bg.predict = theirs_bg.conditional_expected_number_of_purchases_up_to_time  # set by fit
    theirs_gg.params_ = pd.Series({"p": gg.params_["p"], "q": gg.params_["q"],
                                   "v": gg.params_["gamma"]})  # fmt: skip
    series = [pd.Series(v) for v in (x, t_x, T, m)]
    expected = theirs_gg.customer_lifetime_value(
        theirs_bg, *series, time=12, discount_rate=0.01, freq="W"
    ).to_numpy()
    spend = gg.expected_spend(x, m)
    ours = clv(bg, x, t_x, T, spend, months=12, monthly_discount=0.01, month_length=4.345)
    assert ours == pytest.approx(expected, rel=1e-7)
    assert clv(bg, x, t_x, T, spend, margin=0.3).sum() == pytest.approx(
        0.3 * clv(bg, x, t_x, T, spend).sum()
    )


@pytest.mark.parametrize("model_name", ["bg", "pareto"])
def test_p_alive_falls_with_time_since_last_purchase(
    model_name: str, request: pytest.FixtureRequest
) -> None:
    model = request.getfixturevalue(model_name)
    T = np.linspace(11.0, 78.0, 30)
    p = model.p_alive(np.full(30, 3.0), np.full(30, 10.0), T)
    assert np.all(np.diff(p) < 0) and np.all((p > 0) & (p < 1))
    later_last = model.p_alive(np.full(5, 3.0), np.linspace(5.0, 39.0, 5), np.full(5, 39.0))
    assert np.all(np.diff(later_last) > 0)
    frequent = model.p_alive(np.arange(1.0, 8.0), np.full(7, 20.0), np.full(7, 39.0))
    assert np.all(np.diff(frequent) < 0)  # many purchases, then silence: more likely gone


def test_bgnbd_customers_without_repeat_purchases_are_alive(bg: BetaGeoModel) -> None:
    assert bg.p_alive([0.0, 0.0], [0.0, 0.0], [1.0, 50.0]) == pytest.approx([1.0, 1.0])


def test_expected_purchases_grow_with_the_horizon(bg: BetaGeoModel) -> None:
    x, t_x, T = np.array([0.0, 2.0, 7.0]), np.array([0.0, 30.0, 35.0]), np.full(3, 38.86)
    assert bg.expected_purchases(0.0, x, t_x, T) == pytest.approx([0, 0, 0])
    steps = np.array([bg.expected_purchases(t, x, t_x, T) for t in (13, 26, 39, 52)])
    assert np.all(np.diff(steps, axis=0) > 0)


def test_partitions_give_the_same_results_as_one_pass(cdnow: Arrays, bg: BetaGeoModel) -> None:
    x, t_x, T = cdnow["x"], cdnow["t_x"], cdnow["T"]
    small = BetaGeoModel(chunk_size=97).fit(x, t_x, T)
    for name, value in bg.params_.items():
        assert small.params_[name] == pytest.approx(value, rel=1e-6)
    assert small.log_likelihood_ == pytest.approx(bg.log_likelihood_, abs=1e-6)
    small.params_ = bg.params_
    assert np.array_equal(small.p_alive(x, t_x, T), bg.p_alive(x, t_x, T))
    assert np.array_equal(
        small.expected_purchases(39.0, x, t_x, T), bg.expected_purchases(39.0, x, t_x, T)
    )


def test_compress_keeps_every_row_recoverable() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 3, 500).astype(float), rng.integers(0, 4, 500).astype(float)
    (ua, ub), weights, inverse = compress(a, b)
    assert len(ua) == len({(i, j) for i, j in zip(a, b, strict=True)})
    assert weights.sum() == 500
    assert np.array_equal(ua[inverse], a) and np.array_equal(ub[inverse], b)


def test_recovers_the_parameters_it_was_simulated_with() -> None:
    rng = np.random.default_rng(7)
    n, truth = 60_000, (0.5, 6.0, 0.7, 3.0)
    T = rng.integers(7, 365, n) / 7.0
    lam, p = rng.gamma(truth[0], 1 / truth[1], n), rng.beta(truth[2], truth[3], n)
    arrivals = rng.poisson(lam * T)
    x = np.minimum(arrivals, rng.geometric(p)).astype(float)
    k = np.maximum(x, 1)
    t_x = np.where(x > 0, rng.beta(k, np.maximum(arrivals - k + 1, 1)) * T, 0.0)
    fitted = BetaGeoModel().fit(x, t_x, T).params_
    for name, value in zip(("r", "alpha", "a", "b"), truth, strict=True):
        assert fitted[name] == pytest.approx(value, rel=0.15), name


def test_pareto_is_stable_for_heavy_buyers() -> None:
    params = (0.55, 10.6, 0.61, 11.7)
    x, t_x, T = np.array([400.0, 2000.0, 50.0]), np.array([70.0, 78.0, 78.0]), np.full(3, 78.0)
    for fn in (lik.pareto_loglik, lik.pareto_p_alive):
        assert np.all(np.isfinite(fn(params, x, t_x, T)))
    reversed_ = (0.55, 20.0, 0.61, 5.0)  # alpha > beta takes the other branch of A0
    assert np.all(np.isfinite(lik.pareto_loglik(reversed_, x, t_x, T)))
    assert np.all(np.isfinite(lik.bgnbd_expected((0.24, 4.4, 0.79, 2.43), 39.0, x, t_x, T)))


# Heavy buyers, where SciPy's hyp2f1 fails. References: mpmath at 30 digits, from integrals
# independent of the hypergeometric forms (Pareto/NBD's P(alive) by its closed form at high
# precision; BG/NBD's rate of a customer alive as the mean over the posterior beta(a, b+x) of
# (1 - (1 + p t/(alpha+T))^-(r+x)) / p). SciPy's closed forms gave 1.0, 1.0 and 8.6e-135 for
# the three P(alive), and 10.41 and 8.7e13 for the last two rates.
HEAVY_P_ALIVE = [
    ((0.3, 1.0, 2.0, 400.0), 150.0, 50.0, 300.0, 3.5904430776758564e-114),
    ((0.3, 1.0, 2.0, 400.0), 150.0, 290.0, 300.0, 0.5209571427202322),
    ((0.8, 5.0, 0.5, 200.0), 120.0, 30.0, 200.0, 2.1946558788231768e-90),
    ((0.6, 3.0, 0.4, 60.0), 300.0, 40.0, 120.0, 8.608332535012186e-135),
    # beta >> alpha (a fit to Online Retail II 2009-2011): arguments beyond EULER_SLOW
    ((0.74347, 10.74304, 103.45241, 41496.87), 36.0, 44.142857, 78.857143, 3.638175933702155e-6),
    ((0.74347, 10.74304, 103.45241, 41496.87), 2.0, 3.0, 60.0, 0.3491501717323465),
]
HEAVY_ALIVE_RATE = [  # (params, t, x, T, reference)
    ((0.25, 4.0, 0.8, 2.5), 39.0, 2.0, 30.0, 2.07258511136255),  # a CDNOW-like light buyer
    ((0.85, 9.9, 4.4e-7, 33000.0), 23.0, 150.0, 20.0, 116.038461448615),  # Online Retail II
    ((0.06, 1.0, 7.7, 8.8), 52.0, 57.0, 20.7, 10.8115878927847),
    ((0.4, 0.5, 5.4e-7, 50.0), 52.0, 29.0, 20.0, 74.5755945407914),
]


@pytest.mark.parametrize(("params", "x", "t_x", "T", "reference"), HEAVY_P_ALIVE)
def test_pareto_p_alive_of_heavy_buyers_matches_high_precision(
    params: lik.Params4, x: float, t_x: float, T: float, reference: float
) -> None:
    got = lik.pareto_p_alive(params, np.array([x]), np.array([t_x]), np.array([T]))
    assert got[0] == pytest.approx(reference, rel=1e-9)


def test_a0_falls_back_to_the_quadrature_where_the_closed_form_fails(
    cdnow: Arrays, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the hypergeometric terms fail (NaN), each row's A0 comes from the quadrature:
    not -inf, which would make a lapsed customer certainly alive."""
    lived = cdnow["t_x"] < cdnow["T"]
    x, t_x, T = cdnow["x"][lived], cdnow["t_x"][lived], cdnow["T"][lived]
    params = (0.553, 10.578, 0.606, 11.669)
    expected = lik.pareto_log_a0_rows(params, lik.pareto_rows(x, t_x, T))
    monkeypatch.setattr(lik, "_log_a0_term", lambda p, xs, ts: np.full(len(xs), np.nan))
    got = lik.pareto_log_a0_rows(params, lik.pareto_rows(x, t_x, T))
    assert np.all(np.isfinite(got))
    assert got == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(("params", "t", "x", "T", "reference"), HEAVY_ALIVE_RATE)
def test_bgnbd_rate_of_heavy_buyers_matches_high_precision(
    params: lik.Params4, t: float, x: float, T: float, reference: float
) -> None:
    got = lik.bgnbd_alive_rate(params, t, np.array([x]), np.array([T]))
    assert got[0] == pytest.approx(reference, rel=1e-5)


def test_the_quadratures_agree_with_the_closed_forms_where_those_hold(cdnow: Arrays) -> None:
    """On CDNOW's light buyers SciPy's closed forms are right (lifetimes agrees to 1e-7), so
    they check the integrals the heavy buyers fall back to."""
    x, t_x, T = cdnow["x"], cdnow["t_x"], cdnow["T"]
    bg = (0.243, 4.414, 0.793, 2.426)
    for t in (13.0, 39.0, 52.0):
        u = t / (bg[1] + T)
        closed = lik._bgnbd_alive_rate_closed(bg, u, x)
        assert np.all(np.isfinite(closed))
        assert lik._bgnbd_alive_rate_quadrature(bg, u, x) == pytest.approx(closed, rel=2e-5)
    lived = t_x < T
    x, t_x, T = x[lived], t_x[lived], T[lived]
    for pareto in ((0.553, 10.578, 0.606, 11.669), (0.553, 20.0, 0.606, 5.0)):  # both branches
        closed_a0 = lik._pareto_log_a0_closed(pareto, lik.pareto_rows(x, t_x, T))
        assert np.all(np.isfinite(closed_a0))
        quad_a0 = lik._pareto_log_a0_quadrature(pareto, x, t_x, T)
        assert quad_a0 == pytest.approx(closed_a0, rel=1e-9, abs=1e-9)


def test_pareto_likelihood_per_distinct_x_t_equals_lifetimes(cdnow: Arrays) -> None:
    """The (x, t) lookup (ParetoRows) changes the cost, not the numbers: lifetimes computes
    the same per-customer log-likelihood row by row, on both branches of A0."""
    from lifetimes import ParetoNBDFitter

    x, t_x, T = cdnow["x"], cdnow["t_x"], cdnow["T"]
    rows = lik.pareto_rows(x, t_x, T)
    assert len(rows.pair_x) < len(x)  # customers share (x, t) pairs
    for params in ((0.553, 10.578, 0.606, 11.669), (0.553, 10.578, 0.606, 5.0)):
        theirs = ParetoNBDFitter._conditional_log_likelihood(params, x, t_x, T)
        assert lik.pareto_loglik_rows(params, rows) == pytest.approx(theirs, rel=1e-10)


def test_alive_model_ages_one_time_buyers_and_keeps_bgnbd_for_repeat_buyers(
    cdnow: Arrays, bg: BetaGeoModel, pareto: ParetoNBDModel
) -> None:
    x, t_x, T = cdnow["x"], cdnow["t_x"], cdnow["T"]
    alive = AliveModel().fit(x, t_x, T)
    p = alive.p_alive(x, t_x, T)
    repeat = x > 0
    assert p[repeat] == pytest.approx(bg.p_alive(x, t_x, T)[repeat], rel=1e-6)
    assert p[~repeat] == pytest.approx(pareto.p_alive(x, t_x, T)[~repeat], rel=1e-6)
    # one-time buyers are not all alive any more, and an older first purchase is less alive
    once = alive.p_alive(np.zeros(3), np.zeros(3), np.array([5.0, 20.0, 60.0]))
    assert np.all(once < 1) and np.all(np.diff(once) < 0)
    only_repeat = AliveModel().fit(x[repeat], t_x[repeat], T[repeat])
    assert only_repeat.pareto_ is None  # nothing for Pareto/NBD to do


def test_unfitted_models_refuse_to_predict() -> None:
    with pytest.raises(NotFittedError, match="not fitted yet"):
        BetaGeoModel().p_alive([1.0], [1.0], [2.0])
    with pytest.raises(NotFittedError):
        GammaGammaModel().expected_spend([1.0], [10.0])
    with pytest.raises(NotFittedError):
        AliveModel().p_alive([1.0], [1.0], [2.0])


def test_inputs_are_validated() -> None:
    with pytest.raises(ValueError, match="cannot exceed"):
        BetaGeoModel().fit([1.0, 2.0], [3.0, 1.0], [2.0, 2.0])
    with pytest.raises(ValueError, match="no customer has a repeat purchase"):
        ParetoNBDModel().fit([0.0, 0.0], [0.0, 0.0], [2.0, 3.0])
    with pytest.raises(ValueError, match="same length"):
        BetaGeoModel().fit([1.0], [0.5, 0.2], [2.0])


def _simulate_holdout(model: str, params: tuple[float, ...], n: int, t: float, seed: int) -> Arrays:
    """Customers drawn from BG/NBD or Pareto/NBD, event by event, through calibration (age T
    since the first purchase) and a holdout of length t: (x, t_x, T) and whether they bought
    in the holdout."""
    rng = np.random.default_rng(seed)
    T = rng.integers(7, 365, n) / 7.0
    lam = rng.gamma(params[0], 1 / params[1], n)
    if model == "bgnbd":
        p, death = rng.beta(params[2], params[3], n), np.full(n, np.inf)
    else:
        p, death = np.zeros(n), rng.exponential(1 / rng.gamma(params[2], 1 / params[3], n))
    now, active = np.zeros(n), np.ones(n, dtype=bool)
    x, t_x, bought = np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool)
    while active.any():
        now[active] += rng.exponential(1 / lam[active])
        active &= (now <= T + t) & (now <= death)
        in_calibration, in_holdout = active & (now <= T), active & (now > T)
        x[in_calibration] += 1
        t_x[in_calibration] = now[in_calibration]
        bought |= in_holdout
        active &= ~in_holdout & (rng.random(n) >= p)  # BG/NBD: drop out after a purchase
    return {"x": x, "t_x": t_x, "T": T, "bought": bought}


@pytest.mark.parametrize(
    ("kind", "params"),
    [("bgnbd", (0.5, 6.0, 0.7, 3.0)), ("pareto", (0.55, 10.6, 0.6, 11.7))],
)
def test_purchase_probability_is_calibrated_on_the_process_it_models(
    kind: str, params: tuple[float, float, float, float]
) -> None:
    """At the true parameters, P(a purchase in the next 26 weeks) matches how often simulated
    customers did buy then: overall, for one-time and repeat buyers, and per fifth of the
    prediction (churn risk = 1 - this is what omnix shows)."""
    t = 26.0
    sim = _simulate_holdout(kind, params, 60_000, t, seed=5)
    model = BetaGeoModel() if kind == "bgnbd" else ParetoNBDModel()
    model.params_ = dict(zip(model.param_names, params, strict=True))
    predicted = model.p_purchase(t, sim["x"], sim["t_x"], sim["T"])
    bought = sim["bought"]
    for rows in (np.ones(len(bought), dtype=bool), sim["x"] == 0, sim["x"] > 0):
        assert predicted[rows].mean() == pytest.approx(bought[rows].mean(), abs=0.01)
    edges = np.quantile(predicted, [0.2, 0.4, 0.6, 0.8])
    fifth = np.searchsorted(edges, predicted)
    for k in range(5):
        rows = fifth == k
        assert predicted[rows].mean() == pytest.approx(bought[rows].mean(), abs=0.02), k


def test_pareto_purchase_probability_matches_lifetimes(pareto: ParetoNBDModel) -> None:
    """lifetimes' P(no purchase in (T, T+t]) (its own hypergeometric form) at the same
    parameters, heavy buyers included."""
    import pandas as pd
    from lifetimes import ParetoNBDFitter

    rng = np.random.default_rng(1)
    x = rng.choice([0.0, 0.0, 1.0, 2.0, 5.0, 10.0, 30.0], 200)
    T = rng.uniform(1, 78, 200)
    t_x = np.where(x > 0, T * rng.uniform(0, 1, 200), 0.0)
    theirs = ParetoNBDFitter()
    theirs.params_ = pd.Series(pareto.params_)
    none = [theirs.conditional_probability_of_n_purchases_up_to_time(0, 39.0, *row)
            for row in zip(x, t_x, T, strict=True)]  # fmt: skip
    ours = 1.0 - pareto.p_purchase(39.0, x, t_x, T)
    assert ours == pytest.approx(np.ravel(none), abs=1e-6)


def test_pareto_purchase_quadrature_matches_high_precision() -> None:
    """Heavy buyers with a young history: the integrand's mass sits near u = 0, which the
    z substitution spreads out (an adaptive quadrature of the raw integral gave 0.63 here)."""
    import mpmath

    r, alpha, s, beta, x, T, t = 0.17, 0.19, 0.26, 43.5, 600.0, 2.82, 115.5
    k, A, B = r + x, alpha + T, beta + T
    mpmath.mp.dps = 30
    reference = mpmath.quad(lambda u: k / A * (1 + u / A) ** -(k + 1) * (1 + u / B) ** -s,
                            [0, 1e-3, 1e-2, 0.1, 1, t])  # fmt: skip
    got = lik.pareto_purchase_if_alive((r, alpha, s, beta), t, np.array([x]), np.array([T]))
    assert got[0] == pytest.approx(float(reference), rel=1e-9)


def test_purchase_probability_properties(bg: BetaGeoModel, pareto: ParetoNBDModel) -> None:
    x, t_x, T = np.array([0.0, 0.0, 3.0, 3.0]), np.array([0.0, 0.0, 10.0, 50.0]), np.full(4, 60.0)
    for model in (bg, pareto):
        alive = model.p_alive(x, t_x, T)
        horizons = [model.p_purchase(t, x, t_x, T) for t in (0.0, 4.0, 13.0, 52.0)]
        assert horizons[0] == pytest.approx(np.zeros(4))
        assert np.all(np.diff(horizons, axis=0) > 0)  # a longer window, likelier a purchase
        assert np.all(horizons[-1] < alive)  # only the living buy
    # BG/NBD: a customer alive now buys eventually (slowly: the rate's gamma has mass near 0),
    # so the limit is P(alive)
    assert bg.p_purchase(1e40, x, t_x, T) == pytest.approx(bg.p_alive(x, t_x, T), abs=1e-6)
    with pytest.raises(ValueError, match="t must be"):
        bg.p_purchase(-1.0, x, t_x, T)


def test_alive_model_churn_risk_is_no_purchase_by_the_same_split(
    cdnow: Arrays, bg: BetaGeoModel, pareto: ParetoNBDModel
) -> None:
    x, t_x, T = cdnow["x"], cdnow["t_x"], cdnow["T"]
    alive = AliveModel.of(bg, pareto)
    risk = alive.churn_risk(13.0, x, t_x, T)
    repeat = x > 0
    assert risk[repeat] == pytest.approx(1 - bg.p_purchase(13.0, x, t_x, T)[repeat])
    assert risk[~repeat] == pytest.approx(1 - pareto.p_purchase(13.0, x, t_x, T)[~repeat])
    assert np.all(risk >= 1 - alive.p_alive(x, t_x, T))  # no purchase includes being gone
