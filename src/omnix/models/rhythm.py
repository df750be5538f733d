"""The consumption-rhythm model: a gamma renewal process per customer x product, shrunk
toward the product's and then the category's population rhythm (empirical Bayes).

Per pair (customer, item), from its purchase days (baskets of one calendar day merged, units
added up):

- the *cycle* is the mean number of days one unit lasts. The pair's own estimate is the ratio
  total days / units consumed ((last day - first day) / units bought before the last day): it
  is robust to missed trips and stock-ups because a skipped trip only moves days from one gap
  into the next, and two packs count as two cycles.
- Its log is shrunk toward the item's prior (itself shrunk toward the category's, then the
  global one) with the normal-normal weight w = tau2 / (tau2 + cv2 / gaps): few purchases or
  erratic gaps lean on the population, a long regular history on the customer.
- The spread of per-unit gaps gives the pair's squared coefficient of variation cv2 (shrunk
  toward the pooled one); the next gap after buying q units is Gamma with mean q * cycle and
  squared CV cv2 + the posterior variance of the log cycle, so thin histories get wide
  intervals.
- P(buy within the next H days | t days already elapsed since the last purchase) is the renewal
  hazard (F(t + H) - F(t)) / (1 - F(t)): conditional on the elapsed time, not a constant rate.
  A renewal process never stops, so these raw probabilities are too high for abandoned items;
  `models/next_need.py` calibrates them on a time split.

Estimators follow scikit-learn conventions; arrays are NumPy, one entry per pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special
from sklearn.exceptions import NotFittedError

from omnix.models.baskets import Baskets, FloatArray, IntArray

MIN_CYCLE_DAYS = 0.25  # a unit lasts at least six hours: same-day repeats are merged anyway
MAX_CV2 = 4.0  # gaps more erratic than this carry no rhythm worth modelling
MIN_CV2 = 0.005  # clockwork, but never a point mass


@dataclass(frozen=True, slots=True)
class PairHistory:
    """Purchase history per (customer, item), sorted by key = customer * n_items + item.

    Days are whole UTC day numbers since 1970-01-01. gap_mean / gap_var describe the per-unit
    gaps between consecutive purchase days (NaN with fewer than 2 / 3 purchase days).
    """

    customer: IntArray
    item: IntArray
    n_baskets: IntArray
    n_days: IntArray
    units: FloatArray
    last_units: FloatArray
    first_day: FloatArray
    last_day: FloatArray
    last_basket: IntArray
    gap_mean: FloatArray
    gap_var: FloatArray

    def __len__(self) -> int:
        return len(self.customer)

    @property
    def ratio_cycle(self) -> FloatArray:
        """The pair's own cycle estimate (days per unit); NaN with one purchase day."""
        consumed = self.units - self.last_units
        with np.errstate(divide="ignore", invalid="ignore"):
            cycle = (self.last_day - self.first_day) / consumed
        ok = (self.n_days >= 2) & (consumed > 0)
        return np.where(ok, np.maximum(cycle, MIN_CYCLE_DAYS), np.nan)

    @property
    def units_per_purchase(self) -> FloatArray:
        """Mean units per purchase day (> 0)."""
        return np.maximum(self.units / np.maximum(self.n_days, 1), 1e-9)

    @property
    def observed_cv2(self) -> FloatArray:
        """Squared coefficient of variation of the per-unit gaps; NaN with < 3 purchase days."""
        with np.errstate(divide="ignore", invalid="ignore"):
            cv2 = self.gap_var / self.gap_mean**2
        return np.where(self.n_days >= 3, np.clip(cv2, MIN_CV2, MAX_CV2), np.nan)


def _order_by(major: IntArray, day: FloatArray) -> IntArray:
    """Row order by (major, day): one int64 key when it cannot overflow (much faster than
    a lexsort at 10M rows), else a lexsort."""
    if major.size == 0:
        return np.zeros(0, dtype=np.int64)
    low = day.min()
    span = int(day.max() - low) + 1
    if float(major.max()) * span < 2**62:
        return np.argsort(major * span + (day - low).astype(np.int64))
    return np.lexsort((day, major))


def pair_history(history: Baskets) -> PairHistory:
    """Aggregate a basket history into per-pair purchase statistics (vectorized, no loops)."""
    n_items = history.n_items
    key = history.customer * n_items + history.item
    day = np.floor(history.day)
    units = history.unit_counts()
    order = _order_by(key, day)
    key, day, units, basket = key[order], day[order], units[order], history.basket[order]
    if key.size == 0:
        ei, ef = np.zeros(0, dtype=np.int64), np.zeros(0)
        return PairHistory(ei, ei, ei, ei, ef, ef, ef, ef, ei, ef, ef)
    row_pair_start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    row_pair_end = np.r_[row_pair_start[1:], key.size] - 1
    # purchase days: rows of one pair and one day merged
    new_day = np.r_[True, (key[1:] != key[:-1]) | (day[1:] != day[:-1])]
    d_start = np.flatnonzero(new_day)
    d_key, d_day, d_units = key[d_start], day[d_start], np.add.reduceat(units, d_start)
    new_pair = np.r_[True, d_key[1:] != d_key[:-1]]
    p_start = np.flatnonzero(new_pair)
    p_end = np.r_[p_start[1:], d_key.size] - 1
    pair_of_day = np.cumsum(new_pair) - 1
    same = ~new_pair[1:]
    gap = (d_day[1:] - d_day[:-1])[same] / np.maximum(d_units[:-1][same], 1e-9)
    owner = pair_of_day[1:][same]
    n_pairs = p_start.size
    n_gaps = np.bincount(owner, minlength=n_pairs).astype(np.float64)
    s1 = np.bincount(owner, weights=gap, minlength=n_pairs)
    s2 = np.bincount(owner, weights=gap * gap, minlength=n_pairs)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n_gaps >= 1, s1 / n_gaps, np.nan)
        var = np.where(n_gaps >= 2, (s2 - n_gaps * mean**2) / (n_gaps - 1), np.nan)
    pair_key = d_key[p_start]
    return PairHistory(
        customer=pair_key // n_items,
        item=pair_key % n_items,
        n_baskets=(row_pair_end - row_pair_start + 1).astype(np.int64),
        n_days=(p_end - p_start + 1).astype(np.int64),
        units=np.add.reduceat(d_units, p_start),
        last_units=d_units[p_end],
        first_day=d_day[p_start],
        last_day=d_day[p_end],
        last_basket=np.maximum.reduceat(basket, row_pair_start).astype(np.int64),
        gap_mean=mean,
        gap_var=np.maximum(var, 0.0),
    )


@dataclass(frozen=True, slots=True)
class RhythmEstimates:
    """Per pair, as of a day: the rhythm in days and the conditional probability."""

    cycle_days: FloatArray  # days one unit lasts (posterior mean)
    regularity: FloatArray  # 1 - CV of the gaps, clipped to [0, 1]: 1 = clockwork
    interval_days: FloatArray  # expected gap after the last purchase = cycle * last units
    days_since_last: FloatArray
    days_overdue: FloatArray  # max(0, days since last - interval): past the usual gap
    shrinkage: FloatArray  # weight of the pair's own history in its cycle (0 = all prior)
    probability: FloatArray  # raw renewal P(purchase in [as_of, as_of + H))
    shape: FloatArray  # gamma shape of the next gap (1 / its squared CV)
    survival: FloatArray  # P(next gap > days since last)
    last_day: FloatArray


@dataclass(frozen=True, slots=True)
class RhythmForecast:
    cycle_p10: FloatArray  # 10th / 90th percentile of one unit's cycle (predictive)
    cycle_p90: FloatArray
    expected_next_day: FloatArray  # median next purchase day given none until as_of


def _group_mean(
    values: FloatArray, groups: IntArray, n_groups: int
) -> tuple[FloatArray, FloatArray]:
    count = np.bincount(groups, minlength=n_groups).astype(np.float64)
    total = np.bincount(groups, weights=values, minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / count, 0.0), count


def _between_within(values: FloatArray, groups: IntArray, n_groups: int) -> float:
    """Pseudo-count k0 = within-group variance / between-group variance (method of moments)."""
    mean, count = _group_mean(values, groups, n_groups)
    within = float(np.mean((values - mean[groups]) ** 2)) if values.size else 1.0
    used = count > 1
    if used.sum() < 2:
        return 10.0
    between = float(np.var(mean[used])) - within / float(np.mean(count[used]))
    return float(np.clip(within / max(between, 1e-6), 1.0, 1000.0))


class RhythmModel:
    """Hierarchical gamma renewal model of per-unit purchase cycles.

    >>> model = RhythmModel().fit(pair_history(history), item_category)   # doctest: +SKIP
    >>> est = model.estimate(pairs, as_of_day=20_000.0, horizon_days=7.0)  # doctest: +SKIP

    Parameters: cv2_pseudo_gaps is how many gaps of evidence the pooled spread counts as when
    a pair's own spread is estimated.
    """

    global_log_cycle_: float
    item_log_cycle_: FloatArray
    item_pairs_: FloatArray
    tau2_: float
    cv2_prior_: float

    def __init__(self, cv2_pseudo_gaps: float = 3.0) -> None:
        self.cv2_pseudo_gaps = cv2_pseudo_gaps

    def fit(
        self, pairs: PairHistory, item_category: IntArray | None = None, n_items: int | None = None
    ) -> RhythmModel:
        """Learn the priors: global, category and item mean log cycles, spread and tau2."""
        n_items = int(n_items if n_items is not None else (pairs.item.max(initial=-1) + 1))
        cycle = pairs.ratio_cycle
        has = np.isfinite(cycle)
        # Priors live in days per *trip* at the pair's usual quantity: "two packs last twice as
        # long" holds within a customer, but a business buying 500 at a time does not make one
        # unit last 500 times longer than a household's.
        log_c = np.log(cycle[has] * pairs.units_per_purchase[has])
        items = pairs.item[has]
        cv2 = pairs.observed_cv2
        self.cv2_prior_ = float(np.nanmedian(cv2)) if np.isfinite(cv2).any() else 0.5
        self.global_log_cycle_ = float(np.median(log_c)) if log_c.size else np.log(30.0)
        categories = np.zeros(n_items, dtype=np.int64) if item_category is None else item_category
        n_cat = int(categories.max(initial=0)) + 1
        cat_of_pair = categories[items]
        k_cat = _between_within(log_c, cat_of_pair, n_cat)
        cat_mean, cat_n = _group_mean(log_c, cat_of_pair, n_cat)
        cat_prior = (cat_n * cat_mean + k_cat * self.global_log_cycle_) / (cat_n + k_cat)
        k_item = _between_within(log_c, items, n_items)
        item_mean, item_n = _group_mean(log_c, items, n_items)
        self.item_log_cycle_ = (item_n * item_mean + k_item * cat_prior[categories]) / (
            item_n + k_item
        )
        self.item_pairs_ = item_n
        # Between-pair variance of log cycles around their item prior, net of sampling noise.
        resid = log_c - self.item_log_cycle_[items]
        sampling = self.cv2_prior_ / np.maximum(pairs.n_days[has] - 1, 1)
        excess = float(np.mean(resid**2) - np.mean(sampling)) if resid.size else 0.25
        self.tau2_ = max(excess, 0.01)
        return self

    def with_items(self, old_code: IntArray) -> RhythmModel:
        """A copy for another item coding: item i takes the priors of `old_code[i]`, an item
        the model never saw (-1) the global prior with no pairs behind it."""
        if not hasattr(self, "item_log_cycle_"):
            raise NotFittedError("This RhythmModel is not fitted yet: call fit(pairs) first.")
        copy = RhythmModel(self.cv2_pseudo_gaps)
        copy.__dict__.update(self.__dict__)
        known = old_code >= 0
        at = np.where(known, old_code, 0)
        copy.item_log_cycle_ = np.where(known, self.item_log_cycle_[at], self.global_log_cycle_)
        copy.item_pairs_ = np.where(known, self.item_pairs_[at], 0.0)
        return copy

    @property
    def prior_regularity_(self) -> float:
        """The regularity (1 - CV of the gaps, 0..1) of a pair without gaps of its own to judge
        by: the pooled spread every pair's own is shrunk toward."""
        if not hasattr(self, "cv2_prior_"):
            raise NotFittedError("This RhythmModel is not fitted yet: call fit(pairs) first.")
        return float(np.clip(1.0 - np.sqrt(np.clip(self.cv2_prior_, MIN_CV2, MAX_CV2)), 0.0, 1.0))

    def estimate(
        self, pairs: PairHistory, as_of_day: float, horizon_days: float
    ) -> RhythmEstimates:
        """Rhythm per pair as of `as_of_day` (day number; history must end before it)."""
        if not hasattr(self, "item_log_cycle_"):
            raise NotFittedError("This RhythmModel is not fitted yet: call fit(pairs) first.")
        prior = self.item_log_cycle_[pairs.item] - np.log(pairs.units_per_purchase)
        own = pairs.ratio_cycle
        gaps = np.maximum(pairs.n_days - 1, 0).astype(np.float64)
        obs_cv2 = pairs.observed_cv2
        m0 = self.cv2_pseudo_gaps
        own_weight = np.maximum(gaps - 1, 0)
        cv2 = (np.nan_to_num(obs_cv2) * own_weight + self.cv2_prior_ * m0) / (own_weight + m0)
        sampling = cv2 / np.maximum(gaps, 1)
        w = np.where(np.isfinite(own), self.tau2_ / (self.tau2_ + sampling), 0.0)
        log_cycle = prior + w * (np.nan_to_num(np.log(own), nan=0.0) - prior)
        post_var = (1 - w) * self.tau2_
        cycle = np.exp(log_cycle + post_var / 2)
        shape = 1.0 / np.clip(cv2 + post_var, MIN_CV2, MAX_CV2)
        interval = cycle * np.maximum(pairs.last_units, 1e-9)
        elapsed = np.maximum(as_of_day - pairs.last_day, 0.0)
        scale = interval / shape
        surv = special.gammaincc(shape, elapsed / scale)
        later = special.gammaincc(shape, (elapsed + horizon_days) / scale)
        with np.errstate(divide="ignore", invalid="ignore"):
            prob = np.where(surv > 1e-12, 1.0 - later / surv, 1.0)
        return RhythmEstimates(
            cycle_days=cycle,
            regularity=np.clip(1.0 - np.sqrt(cv2), 0.0, 1.0),
            interval_days=interval,
            days_since_last=elapsed,
            days_overdue=np.maximum(elapsed - interval, 0.0),
            shrinkage=w,
            probability=np.clip(prob, 0.0, 1.0),
            shape=shape,
            survival=surv,
            last_day=pairs.last_day,
        )


def forecast(est: RhythmEstimates, rows: IntArray | None = None) -> RhythmForecast:
    """The usual range of one unit's cycle and the next purchase day, for `rows` (all pairs
    when None). Kept out of `estimate` because the model's features do not need them and the
    inverse incomplete gamma function is the slowest step at millions of pairs."""
    pick = slice(None) if rows is None else rows
    shape, cycle = est.shape[pick], est.cycle_days[pick]
    return RhythmForecast(
        cycle_p10=special.gammaincinv(shape, 0.1) * cycle / shape,
        cycle_p90=special.gammaincinv(shape, 0.9) * cycle / shape,
        expected_next_day=next_purchase_day(est, rows),
    )


def next_purchase_day(est: RhythmEstimates, rows: IntArray | None = None) -> FloatArray:
    """The forecast's next purchase day (day number) alone, for `rows` (all when None): a
    third of `forecast`'s cost, for callers that need no usual range."""
    pick = slice(None) if rows is None else rows
    shape, surv = est.shape[pick], est.survival[pick]
    scale = est.interval_days[pick] / shape
    # The next purchase has not happened by as_of: forecast the median of the gap given
    # G > t (the point forecast that minimises absolute error in days), S(g) = S(t) / 2.
    # Far in the tail S(t) underflows; a gamma's tail is then about exponential.
    with np.errstate(invalid="ignore"):
        median_gap = special.gammainccinv(shape, surv / 2) * scale
    tail = np.isfinite(median_gap) & (surv > 1e-12)
    gap = np.where(tail, median_gap, est.days_since_last[pick] + scale * np.log(2))
    day: FloatArray = est.last_day[pick] + gap
    return day


def expected_day(expected_next_day: FloatArray) -> FloatArray:
    """The whole day a forecast falls on (nearest day number): the date a person is told, and
    the one "due within N days" compares."""
    return np.floor(expected_next_day + 0.5)


@dataclass(frozen=True, slots=True)
class CustomerRhythms:
    """Per customer code: how much of their shopping has a rhythm, and what is due."""

    products: FloatArray  # products bought on >= 2 days (with a rhythm)
    regular_products: FloatArray  # products bought on >= 3 days: their gaps show a spread
    regularity: FloatArray  # 0..1, see customer_rhythms
    due: FloatArray  # products expected before as_of + due_days
    next_due_day: FloatArray  # earliest expected next purchase day (NaN without a rhythm)


def customer_rhythms(
    pairs: PairHistory,
    est: RhythmEstimates,
    next_day: FloatArray,
    n_customers: int,
    as_of_day: float,
    due_days: float,
    default_regularity: float,
) -> CustomerRhythms:
    """Summarise the pair rhythms per customer (for profiles, clusters and snapshots).

    `regularity` is the mean of the pairs' regularity over the products bought on >= 3 days,
    weighted by purchase days, so the customer's steadiest staples count most. A customer with
    no such product has no spread of their own to judge by and gets `default_regularity`
    (RhythmModel.prior_regularity_: what the model assumes for any pair without its own
    gaps), never 0, which would call them erratic; `regular_products` = 0 tells them apart.
    `next_day`: every pair's `next_purchase_day` (only those bought on >= 2 days are read).
    """
    rows = np.flatnonzero(pairs.n_days >= 2)
    who = pairs.customer[rows]
    expected = next_day[rows]
    day = expected_day(expected)
    weight = np.where(pairs.n_days[rows] >= 3, pairs.n_days[rows], 0).astype(np.float64)
    weighted = np.bincount(who, weights=weight * est.regularity[rows], minlength=n_customers)
    total = np.bincount(who, weights=weight, minlength=n_customers)
    nxt = np.full(n_customers, np.inf)
    np.minimum.at(nxt, who, expected)
    with np.errstate(divide="ignore", invalid="ignore"):
        regularity = np.where(total > 0, weighted / total, default_regularity)
    return CustomerRhythms(
        products=np.bincount(who, minlength=n_customers).astype(np.float64),
        regular_products=np.bincount(who, weights=weight > 0, minlength=n_customers).astype(
            np.float64
        ),
        regularity=regularity,
        due=np.bincount(who, weights=day < as_of_day + due_days, minlength=n_customers).astype(
            np.float64
        ),
        next_due_day=np.where(np.isfinite(nxt), nxt, np.nan),
    )
