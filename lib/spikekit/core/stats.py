"""Statistics shared by several chapters: intervals for proportions and rates, ratio tests, shrinkage.

Every function is pure (numbers in, small frozen results out) and has a known-answer test in
tests/test_stats.py. Interval results carry ``estimate``, ``low`` and ``high``; two-sided intervals at
level ``conf`` put (1 - conf) / 2 in each tail, so each bound is also a one-sided bound at level
(1 + conf) / 2.

Arguments that come from data (counts, trials, exposures) raise ``InputError`` when impossible;
arguments that are settings (``conf``, ``draws``, ``method``) raise ``ConfigError``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as _st

from .errors import ConfigError, InputError

__all__ = [
    "Interval",
    "RatioInterval",
    "ProbBest",
    "ShrunkRates",
    "clopper_pearson",
    "wilson",
    "jeffreys",
    "beta_posterior",
    "poisson_rate_ci",
    "rate_ratio_ci",
    "rate_ratio_test",
    "prop_ratio_interval",
    "dirichlet_prob_best",
    "robust_sigma",
    "shrink_rates",
]

# 1 / Phi^-1(3/4): makes the median absolute deviation estimate sigma for normal data.
MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided interval at level ``conf``; ``method`` names how it was made."""

    estimate: float
    low: float
    high: float
    conf: float
    method: str


@dataclass(frozen=True)
class RatioInterval:
    """Ratio of two proportions p1 / p0 with its interval and P(p1 > p0)."""

    estimate: float
    low: float
    high: float
    prob_greater: float
    conf: float
    method: str
    draws: int


@dataclass(frozen=True)
class ProbBest:
    """For each option: observed share, posterior share interval and the probability of being best."""

    labels: tuple
    votes: tuple
    estimate: tuple
    low: tuple
    high: tuple
    p_best: tuple
    conf: float
    draws: int

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "option": list(self.labels),
                "votes": list(self.votes),
                "share": list(self.estimate),
                "share_low": list(self.low),
                "share_high": list(self.high),
                "p_best": list(self.p_best),
            }
        )


@dataclass(frozen=True)
class ShrunkRates:
    """Empirical-Bayes rates: posterior means and intervals per unit, and the Beta prior used."""

    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    raw: np.ndarray
    prior_alpha: float
    prior_beta: float
    conf: float

    @property
    def prior_strength(self) -> float:
        return self.prior_alpha + self.prior_beta

    @property
    def prior_mean(self) -> float:
        return self.prior_alpha / (self.prior_alpha + self.prior_beta)


# ----------------------------------------------------------------------------------------- checks


def _check_conf(conf: float) -> float:
    try:
        conf = float(conf)
    except (TypeError, ValueError):
        raise ConfigError(f"confidence level {conf!r} is not a number; use a value such as 0.90 or 0.95")
    if not 0.0 < conf < 1.0:
        raise ConfigError(f"confidence level {conf} must lie strictly between 0 and 1, e.g. 0.90 or 0.95")
    return conf


def _check_draws(draws: int) -> int:
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 100:
        raise ConfigError(f"draws={draws!r} must be a whole number of at least 100 Monte Carlo draws")
    return int(draws)


def _check_count(value, name: str) -> int:
    number = float(value)
    if not math.isfinite(number) or number < 0 or number != int(number):
        raise InputError(f"{name}={value!r} must be a whole number >= 0")
    return int(number)


def _check_binomial(k, n) -> tuple[int, int]:
    k = _check_count(k, "successes")
    n = _check_count(n, "trials")
    if k > n:
        raise InputError(f"successes ({k}) exceed trials ({n})", fix="check that each count of successes "
                         "belongs to its own number of trials")
    return k, n


def _check_exposure(value, name: str) -> float:
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise InputError(f"{name}={value!r} must be a finite exposure >= 0")
    return number


# ------------------------------------------------------------------------------------ proportions


def clopper_pearson(k: int, n: int, conf: float = 0.95) -> Interval:
    """Exact (Clopper-Pearson 1934) interval for a binomial proportion, from Beta quantiles.

    Guaranteed coverage of at least ``conf``; conservative. With no trials the interval is [0, 1].
    """
    k, n = _check_binomial(k, n)
    conf = _check_conf(conf)
    alpha = 1.0 - conf
    if n == 0:
        return Interval(math.nan, 0.0, 1.0, conf, "clopper-pearson")
    low = 0.0 if k == 0 else float(_st.beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(_st.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return Interval(k / n, low, high, conf, "clopper-pearson")


def wilson(k: int, n: int, conf: float = 0.95) -> Interval:
    """Wilson (1927) score interval, without continuity correction (Newcombe 1998, method 3)."""
    k, n = _check_binomial(k, n)
    conf = _check_conf(conf)
    if n == 0:
        return Interval(math.nan, 0.0, 1.0, conf, "wilson")
    z = float(_st.norm.ppf(1 - (1 - conf) / 2))
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At k = 0 the lower bound is exactly 0 and at k = n the upper bound exactly 1; computed, they can miss by
    # one rounding step (k = n = 10 gives 0.9999999999999999), which puts the estimate outside its interval and
    # makes error bars negative (matplotlib refuses them).
    low = 0.0 if k == 0 else min(p, max(0.0, centre - half))
    high = 1.0 if k == n else max(p, min(1.0, centre + half))
    return Interval(p, low, high, conf, "wilson")


def beta_posterior(k: int, n: int, prior: tuple[float, float] = (1.0, 1.0), conf: float = 0.95) -> Interval:
    """Equal-tailed interval of the Beta(a + k, b + n - k) posterior; ``estimate`` is the posterior mean."""
    k, n = _check_binomial(k, n)
    conf = _check_conf(conf)
    a, b = (float(v) for v in prior)
    if not (a > 0 and b > 0):
        raise ConfigError(f"Beta prior {prior!r} needs two positive numbers (a, b), e.g. (1, 1) or (0.5, 0.5)")
    post_a, post_b = a + k, b + n - k
    alpha = 1.0 - conf
    low, high = _st.beta.ppf([alpha / 2, 1 - alpha / 2], post_a, post_b)
    return Interval(post_a / (post_a + post_b), float(low), float(high), conf, f"beta-posterior({a:g},{b:g})")


def jeffreys(k: int, n: int, conf: float = 0.95) -> Interval:
    """Jeffreys interval (Brown, Cai & DasGupta 2001): the Beta(0.5, 0.5) posterior's equal tails.

    As in that paper, the lower bound is 0 when k = 0 and the upper bound is 1 when k = n (otherwise
    the interval would exclude the observed boundary value). ``estimate`` is the observed share k / n.
    """
    k, n = _check_binomial(k, n)
    conf = _check_conf(conf)
    if n == 0:
        return Interval(math.nan, 0.0, 1.0, conf, "jeffreys")
    post = beta_posterior(k, n, (0.5, 0.5), conf)
    low = 0.0 if k == 0 else post.low
    high = 1.0 if k == n else post.high
    return Interval(k / n, low, high, conf, "jeffreys")


# ------------------------------------------------------------------------------------------ rates


def poisson_rate_ci(count: int, exposure: float = 1.0, conf: float = 0.95) -> Interval:
    """Exact (Garwood 1936) interval for a Poisson rate: count events over ``exposure`` units of time.

    Bounds are chi-square quantiles: low = chi2(alpha/2; 2k) / 2, high = chi2(1 - alpha/2; 2k + 2) / 2,
    both divided by the exposure. With zero exposure nothing is known: estimate nan, interval [0, inf).
    """
    count = _check_count(count, "count")
    exposure = _check_exposure(exposure, "exposure")
    conf = _check_conf(conf)
    alpha = 1.0 - conf
    if exposure == 0:
        return Interval(math.nan, 0.0, math.inf, conf, "garwood")
    low = 0.0 if count == 0 else float(_st.chi2.ppf(alpha / 2, 2 * count)) / 2
    high = float(_st.chi2.ppf(1 - alpha / 2, 2 * count + 2)) / 2
    return Interval(count / exposure, low / exposure, high / exposure, conf, "garwood")


def _share_to_ratio(share: float, t1: float, t0: float) -> float:
    """Invert share = R t1 / (R t1 + t0), the expected fraction of all events that fall in group 1."""
    if share >= 1.0:
        return math.inf
    return share / (1.0 - share) * t0 / t1


def rate_ratio_ci(c1: int, t1: float, c0: int, t0: float, conf: float = 0.95) -> Interval:
    """Exact conditional interval for the ratio of two Poisson rates (c1/t1) / (c0/t0).

    Given the total c1 + c0, c1 is binomial with share R t1 / (R t1 + t0); a Clopper-Pearson interval on
    that share, mapped back through R = share / (1 - share) * t0 / t1, is the exact interval for R
    (the classical conditional method for comparing two Poisson counts).
    """
    c1 = _check_count(c1, "c1")
    c0 = _check_count(c0, "c0")
    t1 = _check_exposure(t1, "t1")
    t0 = _check_exposure(t0, "t0")
    conf = _check_conf(conf)
    n = c1 + c0
    if t1 == 0 or t0 == 0 or n == 0:
        return Interval(math.nan, 0.0, math.inf, conf, "exact-conditional")
    estimate = math.inf if c0 == 0 else (c1 / t1) / (c0 / t0)
    share = clopper_pearson(c1, n, conf)
    return Interval(
        estimate, _share_to_ratio(share.low, t1, t0), _share_to_ratio(share.high, t1, t0), conf,
        "exact-conditional",
    )


def rate_ratio_test(
    c1: int, t1: float, c0: int, t0: float, ratio0: float = 1.0, alternative: str = "greater"
) -> float:
    """Exact conditional p-value for H0: rate ratio = ``ratio0`` (binomial test on c1 out of c1 + c0).

    ``alternative="greater"`` tests whether group 1's rate is more than ``ratio0`` times group 0's:
    p = P(X >= c1) with X ~ Binomial(c1 + c0, ratio0 t1 / (ratio0 t1 + t0)). "less" and "two-sided"
    are also accepted. With no events or no exposure there is no evidence: p = 1.
    """
    c1 = _check_count(c1, "c1")
    c0 = _check_count(c0, "c0")
    t1 = _check_exposure(t1, "t1")
    t0 = _check_exposure(t0, "t0")
    if alternative not in {"greater", "less", "two-sided"}:
        raise ConfigError(f"alternative={alternative!r}: use 'greater', 'less' or 'two-sided'")
    ratio0 = float(ratio0)
    if not (ratio0 > 0 and math.isfinite(ratio0)):
        raise ConfigError(f"ratio0={ratio0!r} must be a positive finite rate ratio")
    n = c1 + c0
    if n == 0 or t1 == 0 or t0 == 0:
        return 1.0
    share0 = ratio0 * t1 / (ratio0 * t1 + t0)
    return float(_st.binomtest(c1, n, share0, alternative=alternative).pvalue)


# --------------------------------------------------------------------------- Bayesian comparisons


def prop_ratio_interval(
    k1: int,
    n1: int,
    k0: int,
    n0: int,
    conf: float = 0.95,
    method: str = "bayes",
    draws: int = 200_000,
    seed: int = 0,
    prior: tuple[float, float] = (1.0, 1.0),
) -> RatioInterval:
    """Ratio of two proportions p1 / p0 (e.g. poll participation now vs usual) and P(p1 > p0).

    method="bayes": independent Beta(prior + successes, prior + failures) posteriors, ``draws`` seeded
    Monte Carlo draws; the interval is the equal-tailed quantiles of p1 / p0 and ``prob_greater`` the
    share of draws with p1 > p0. Same seed, same answer.
    method="katz": the log-normal (Katz et al. 1978) interval exp(log RR +/- z se), se^2 = 1/k1 - 1/n1 +
    1/k0 - 1/n0; needs k1, k0 > 0; ``prob_greater`` is Phi(log RR / se), its normal-theory analogue.
    ``estimate`` is always the observed ratio (k1/n1) / (k0/n0).
    """
    k1, n1 = _check_binomial(k1, n1)
    k0, n0 = _check_binomial(k0, n0)
    conf = _check_conf(conf)
    alpha = 1.0 - conf
    if n1 == 0 or n0 == 0:
        raise InputError(f"a proportion needs trials: got n1={n1}, n0={n0}",
                         fix="give at least one trial (e.g. one customer invited) in each group")
    observed = math.inf if k0 == 0 and k1 > 0 else (math.nan if k0 == 0 else (k1 / n1) / (k0 / n0))

    if method == "bayes":
        draws = _check_draws(draws)
        a, b = (float(v) for v in prior)
        if not (a > 0 and b > 0):
            raise ConfigError(f"Beta prior {prior!r} needs two positive numbers (a, b)")
        rng = np.random.default_rng(seed)
        p1 = rng.beta(a + k1, b + n1 - k1, size=draws)
        p0 = rng.beta(a + k0, b + n0 - k0, size=draws)
        ratio = p1 / p0
        low, high = np.quantile(ratio, [alpha / 2, 1 - alpha / 2])
        return RatioInterval(observed, float(low), float(high), float(np.mean(p1 > p0)), conf, "bayes", draws)

    if method == "katz":
        if k1 == 0 or k0 == 0:
            raise InputError("the Katz log interval needs at least one success in each group",
                             fix="use method='bayes', which handles zero counts")
        se = math.sqrt(1 / k1 - 1 / n1 + 1 / k0 - 1 / n0)
        z = float(_st.norm.ppf(1 - alpha / 2))
        log_rr = math.log(observed)
        prob = float(_st.norm.cdf(log_rr / se)) if se > 0 else float(log_rr > 0)
        return RatioInterval(observed, math.exp(log_rr - z * se), math.exp(log_rr + z * se), prob, conf, "katz", 0)

    raise ConfigError(f"method={method!r}: use 'bayes' or 'katz'")


def dirichlet_prob_best(
    counts: Mapping | pd.Series | Sequence[int],
    draws: int = 100_000,
    seed: int = 0,
    prior: float = 1.0,
    conf: float = 0.95,
) -> ProbBest:
    """Which option (e.g. concept design) is most popular: P(best) and share intervals from votes.

    Shares get a Dirichlet(prior + votes) posterior. ``p_best`` is the share of seeded posterior draws in
    which an option has the largest share (sums to 1). Share intervals are exact: each marginal of the
    Dirichlet is Beta(prior + v_i, sum of the others). ``estimate`` is the observed vote share.
    """
    if isinstance(counts, pd.Series):
        labels, votes = tuple(counts.index), counts.to_numpy()
    elif isinstance(counts, Mapping):
        labels, votes = tuple(counts.keys()), np.asarray(list(counts.values()))
    else:
        votes = np.asarray(list(counts))
        labels = tuple(range(len(votes)))
    votes = tuple(_check_count(v, "votes") for v in votes)
    if len(votes) == 0:
        raise InputError("no options to compare", fix="give at least one option with its vote count")
    conf = _check_conf(conf)
    draws = _check_draws(draws)
    prior = float(prior)
    if not prior > 0:
        raise ConfigError(f"Dirichlet prior {prior!r} must be positive, e.g. 1.0")

    shape = np.asarray(votes, dtype=float) + prior
    total_votes = sum(votes)
    alpha = 1.0 - conf
    low = _st.beta.ppf(alpha / 2, shape, shape.sum() - shape) if len(votes) > 1 else np.ones(1)
    high = _st.beta.ppf(1 - alpha / 2, shape, shape.sum() - shape) if len(votes) > 1 else np.ones(1)

    # Draw in chunks so memory stays bounded however many options there are.
    rng = np.random.default_rng(seed)
    wins = np.zeros(len(votes), dtype=np.int64)
    chunk = max(1, min(draws, 2_000_000 // len(votes)))
    done = 0
    while done < draws:
        size = min(chunk, draws - done)
        # Gamma draws normalised per row are Dirichlet; the argmax does not need the normalisation.
        sample = rng.standard_gamma(shape, size=(size, len(votes)))
        wins += np.bincount(sample.argmax(axis=1), minlength=len(votes))
        done += size
    share = tuple(v / total_votes if total_votes else math.nan for v in votes)
    return ProbBest(
        labels, votes, share, tuple(float(x) for x in low), tuple(float(x) for x in high),
        tuple(float(w) / draws for w in wins), conf, draws,
    )


# ------------------------------------------------------------------------------ robust + shrinkage


def robust_sigma(x) -> float:
    """Robust standard deviation: 1.4826 * median absolute deviation; NaNs ignored, nan if no data."""
    values = np.asarray(x, dtype=float).ravel()
    values = values[~np.isnan(values)]
    if values.size == 0:
        return math.nan
    return float(MAD_TO_SIGMA * np.median(np.abs(values - np.median(values))))


def shrink_rates(
    successes, trials, prior_strength: float | None = None, conf: float = 0.95
) -> ShrunkRates:
    """Empirical-Bayes shrinkage of many small-sample rates toward their pooled rate (Beta-binomial).

    Prior mean m = sum(successes) / sum(trials). Prior strength s = a + b is either given, or estimated
    by the method of moments: under the Beta-binomial model Var(k_i/n_i) = m(1-m) [rho + (1-rho)/n_i]
    with rho = 1 / (s + 1); equating the sample variance of the raw rates (ddof=1) with its average
    gives rho = (v / (m(1-m)) - mean(1/n)) / (1 - mean(1/n)). When the raw rates vary no more than
    binomial noise alone would (rho <= 0) the estimate says "pool completely"; the strength is then
    capped at the total number of trials, so the prior never outweighs all the data put together.
    Each unit gets the Beta(a + k_i, b + n_i - k_i) posterior mean and equal-tailed interval.
    Units with zero trials get the prior.
    """
    k = np.asarray(successes, dtype=float).ravel()
    n = np.asarray(trials, dtype=float).ravel()
    if k.shape != n.shape:
        raise InputError(f"successes ({k.size}) and trials ({n.size}) differ in length")
    if k.size == 0:
        raise InputError("no rates to shrink", fix="give at least one unit with its trials")
    if np.any(~np.isfinite(k)) or np.any(~np.isfinite(n)) or np.any(k < 0) or np.any(k > n):
        bad = np.flatnonzero(~np.isfinite(k) | ~np.isfinite(n) | (k < 0) | (k > n))
        raise InputError(f"successes must be finite, >= 0 and <= trials; fails at positions {bad[:5].tolist()}")
    conf = _check_conf(conf)
    total_n = float(n.sum())
    if total_n == 0:
        raise InputError("all trials are zero, so there is no rate to shrink toward")
    mean = float(k.sum()) / total_n
    raw = np.divide(k, n, out=np.full_like(k, np.nan), where=n > 0)

    if prior_strength is not None:
        strength = float(prior_strength)
        if not strength > 0:
            raise ConfigError(f"prior_strength={prior_strength!r} must be positive (a + b of the Beta prior)")
    else:
        observed = n > 0
        strength = total_n
        if observed.sum() >= 2 and 0 < mean < 1:
            variance = float(np.var(raw[observed], ddof=1))
            mean_inv_n = float(np.mean(1.0 / n[observed]))
            rho = (variance / (mean * (1 - mean)) - mean_inv_n) / (1 - mean_inv_n) if mean_inv_n < 1 else 0.0
            if rho > 0:
                strength = min(1.0 / rho - 1.0, total_n) if rho < 1 else 1e-6
    # Degenerate pooled rates (0 or 1) keep a tiny positive parameter so the Beta stays proper.
    a = max(mean * strength, 1e-9)
    b = max((1 - mean) * strength, 1e-9)
    post_a, post_b = a + k, b + n - k
    alpha = 1.0 - conf
    return ShrunkRates(
        estimate=post_a / (post_a + post_b),
        low=_st.beta.ppf(alpha / 2, post_a, post_b),
        high=_st.beta.ppf(1 - alpha / 2, post_a, post_b),
        raw=raw,
        prior_alpha=float(a),
        prior_beta=float(b),
        conf=conf,
    )
