"""Known-answer tests for spikekit.core.stats: textbook values, closed forms and independent computations."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize
from scipy import stats as st

from spikekit.core import stats
from spikekit.core.errors import ConfigError, InputError

# Newcombe RG (1998), "Two-sided confidence intervals for the single proportion: comparison of seven
# methods", Statistics in Medicine 17:857-872, Table II: 95% intervals for four example proportions.
# Columns: k, n, Wilson score (method 3) low/high, Clopper-Pearson exact (method 5) low/high.
NEWCOMBE_1998 = [
    (81, 263, 0.2553, 0.3662, 0.2527, 0.3676),
    (15, 148, 0.0624, 0.1605, 0.0578, 0.1617),
    (0, 20, 0.0000, 0.1611, 0.0000, 0.1684),
    (1, 29, 0.0061, 0.1718, 0.0009, 0.1776),
]


@pytest.mark.parametrize("k,n,w_low,w_high,cp_low,cp_high", NEWCOMBE_1998)
def test_wilson_and_clopper_pearson_match_newcombe_1998(k, n, w_low, w_high, cp_low, cp_high):
    w = stats.wilson(k, n, 0.95)
    cp = stats.clopper_pearson(k, n, 0.95)
    assert (round(w.low, 4), round(w.high, 4)) == (w_low, w_high)
    assert (round(cp.low, 4), round(cp.high, 4)) == (cp_low, cp_high)
    assert w.estimate == cp.estimate == k / n


def test_clopper_pearson_closed_forms_at_the_boundaries():
    # With k = 0 the upper bound solves (1 - p)^n = alpha/2; with k = n the lower bound solves p^n = alpha/2.
    n, alpha = 10, 0.05
    zero = stats.clopper_pearson(0, n, 0.95)
    full = stats.clopper_pearson(n, n, 0.95)
    assert zero.low == 0.0 and zero.high == pytest.approx(1 - (alpha / 2) ** (1 / n), abs=1e-12)
    assert full.high == 1.0 and full.low == pytest.approx((alpha / 2) ** (1 / n), abs=1e-12)
    assert zero.high == pytest.approx(0.30850, abs=1e-5)


@pytest.mark.parametrize("k,n", [(0, 1), (1, 1), (3, 7), (12, 40), (250, 1000), (999, 1000)])
@pytest.mark.parametrize("conf", [0.8, 0.9, 0.95, 0.99])
def test_clopper_pearson_and_wilson_agree_with_scipy_binomtest(k, n, conf):
    ref = st.binomtest(k, n).proportion_ci(confidence_level=conf, method="exact")
    cp = stats.clopper_pearson(k, n, conf)
    assert cp.low == pytest.approx(ref.low, abs=1e-10) and cp.high == pytest.approx(ref.high, abs=1e-10)
    ref_w = st.binomtest(k, n).proportion_ci(confidence_level=conf, method="wilson")
    w = stats.wilson(k, n, conf)
    assert w.low == pytest.approx(ref_w.low, abs=1e-10) and w.high == pytest.approx(ref_w.high, abs=1e-10)


def test_beta_posterior_closed_forms():
    # Uniform prior, 0 of 9: posterior Beta(1, 10), whose quantile q is 1 - (1 - q)^(1/10).
    post = stats.beta_posterior(0, 9, (1, 1), 0.95)
    assert post.estimate == pytest.approx(1 / 11)
    assert post.low == pytest.approx(1 - 0.975 ** 0.1, abs=1e-12)
    assert post.high == pytest.approx(1 - 0.025 ** 0.1, abs=1e-12)
    # Jeffreys prior with no data is the arcsine law, CDF (2/pi) asin(sqrt x): quartiles sin^2(pi/8), sin^2(3pi/8).
    arcsine = stats.beta_posterior(0, 0, (0.5, 0.5), 0.5)
    assert arcsine.low == pytest.approx(math.sin(math.pi / 8) ** 2, abs=1e-12)
    assert arcsine.high == pytest.approx(math.sin(3 * math.pi / 8) ** 2, abs=1e-12)


def test_jeffreys_is_the_half_half_posterior_with_boundary_rule():
    inner = stats.jeffreys(81, 263, 0.95)
    post = stats.beta_posterior(81, 263, (0.5, 0.5), 0.95)
    assert (inner.low, inner.high) == (post.low, post.high)
    assert inner.estimate == 81 / 263
    # Brown, Cai & DasGupta (2001): lower bound 0 at k = 0, upper bound 1 at k = n.
    assert stats.jeffreys(0, 20).low == 0.0
    assert stats.jeffreys(0, 20).high == pytest.approx(st.beta.ppf(0.975, 0.5, 20.5))
    assert stats.jeffreys(20, 20).high == 1.0


def test_garwood_poisson_interval_known_values():
    # Garwood (1936) exact interval; the 95% interval for a count of 10 is 4.795 to 18.39 (standard tables).
    ten = stats.poisson_rate_ci(10, 1.0, 0.95)
    assert (round(ten.low, 3), round(ten.high, 2)) == (4.795, 18.39)
    # Closed forms: count 0 -> upper = -ln(alpha/2); count 1 -> lower = -ln(1 - alpha/2).
    zero = stats.poisson_rate_ci(0, 1.0, 0.95)
    assert zero.low == 0.0 and zero.high == pytest.approx(-math.log(0.025), abs=1e-9)
    assert stats.poisson_rate_ci(1, 1.0, 0.95).low == pytest.approx(-math.log(0.975), abs=1e-9)
    # Exposure divides the whole interval: 10 events in 2 days.
    two_days = stats.poisson_rate_ci(10, 2.0, 0.95)
    assert (two_days.estimate, two_days.low, two_days.high) == pytest.approx((5.0, ten.low / 2, ten.high / 2))


def _invert_binomial_tails(c1: int, n: int, conf: float) -> tuple[float, float]:
    """Clopper-Pearson by its definition: the shares at which each one-sided tail equals (1 - conf) / 2."""
    tail = (1 - conf) / 2
    low = optimize.brentq(lambda p: st.binom.sf(c1 - 1, n, p) - tail, 1e-12, 1 - 1e-12, xtol=1e-14)
    high = optimize.brentq(lambda p: st.binom.cdf(c1, n, p) - tail, 1e-12, 1 - 1e-12, xtol=1e-14)
    return low, high


def test_rate_ratio_ci_by_hand_on_a_small_case():
    # 4 events in 2 days vs 2 events in 4 days: ratio (4/2)/(2/4) = 4. Given 6 events, group 1's share is
    # R*2 / (R*2 + 4); invert the binomial tails for the share, then R = share/(1 - share) * 4/2.
    got = stats.rate_ratio_ci(4, 2.0, 2, 4.0, 0.95)
    share_low, share_high = _invert_binomial_tails(4, 6, 0.95)
    assert got.estimate == pytest.approx(4.0)
    assert got.low == pytest.approx(share_low / (1 - share_low) * 2, rel=1e-8)
    assert got.high == pytest.approx(share_high / (1 - share_high) * 2, rel=1e-8)


def test_rate_ratio_edge_cases():
    no_control = stats.rate_ratio_ci(5, 1.0, 0, 1.0, 0.95)
    assert no_control.estimate == math.inf and no_control.high == math.inf and no_control.low > 0
    nothing = stats.rate_ratio_ci(0, 1.0, 0, 1.0, 0.95)
    assert math.isnan(nothing.estimate) and (nothing.low, nothing.high) == (0.0, math.inf)
    assert stats.rate_ratio_ci(0, 1.0, 3, 1.0).low == 0.0


def test_rate_ratio_test_known_values_and_duality_with_interval():
    # Equal exposures, 5 events vs 0, H0 ratio 1: P(all 5 land in group 1) = 0.5^5.
    assert stats.rate_ratio_test(5, 1.0, 0, 1.0, 1.0, "greater") == pytest.approx(0.5 ** 5)
    # The exact interval's lower bound is where the one-sided "greater" p-value equals (1 - conf)/2.
    ci = stats.rate_ratio_ci(30, 2.0, 40, 10.0, 0.90)
    assert stats.rate_ratio_test(30, 2.0, 40, 10.0, ci.low, "greater") == pytest.approx(0.05, rel=1e-6)
    assert stats.rate_ratio_test(30, 2.0, 40, 10.0, ci.high, "less") == pytest.approx(0.05, rel=1e-6)
    assert stats.rate_ratio_test(0, 1.0, 0, 1.0, 2.0) == 1.0
    with pytest.raises(ConfigError):
        stats.rate_ratio_test(1, 1.0, 1, 1.0, 1.0, alternative="bigger")


def _prob_beta_greater(a1, b1, a0, b0) -> float:
    """P(X1 > X0) for independent Betas, by numerical integration of f1(x) * F0(x)."""
    value, _ = integrate.quad(lambda x: st.beta.pdf(x, a1, b1) * st.beta.cdf(x, a0, b0), 0, 1, limit=200)
    return value


def _ratio_cdf(r, a1, b1, a0, b0) -> float:
    """P(X1 / X0 <= r) = integral of f0(y) * F1(r y) dy, by numerical integration."""
    value, _ = integrate.quad(lambda y: st.beta.pdf(y, a0, b0) * st.beta.cdf(r * y, a1, b1), 0, 1, limit=200)
    return value


def test_prop_ratio_bayes_is_deterministic_for_a_seed():
    one = stats.prop_ratio_interval(30, 100, 20, 100, 0.9, draws=20_000, seed=7)
    two = stats.prop_ratio_interval(30, 100, 20, 100, 0.9, draws=20_000, seed=7)
    other = stats.prop_ratio_interval(30, 100, 20, 100, 0.9, draws=20_000, seed=8)
    assert one == two
    assert one != other
    assert one.estimate == pytest.approx(1.5)


def test_prop_ratio_bayes_converges_to_numerical_integration():
    k1, n1, k0, n0 = 12, 60, 7, 55
    a1, b1, a0, b0 = 1 + k1, 1 + n1 - k1, 1 + k0, 1 + n0 - k0
    exact = _prob_beta_greater(a1, b1, a0, b0)
    for draws in (1_000, 10_000, 100_000, 400_000):
        got = stats.prop_ratio_interval(k1, n1, k0, n0, 0.9, draws=draws, seed=3)
        # Within four Monte Carlo standard errors (deterministic: the seed is fixed).
        assert abs(got.prob_greater - exact) < 4 * math.sqrt(exact * (1 - exact) / draws)
    # The interval bounds sit at the 5% and 95% points of the exact ratio distribution.
    big = stats.prop_ratio_interval(k1, n1, k0, n0, 0.9, draws=400_000, seed=3)
    assert _ratio_cdf(big.low, a1, b1, a0, b0) == pytest.approx(0.05, abs=0.003)
    assert _ratio_cdf(big.high, a1, b1, a0, b0) == pytest.approx(0.95, abs=0.003)


def test_prop_ratio_katz_by_hand():
    # 20/100 vs 10/100: RR 2, se^2 = 1/20 - 1/100 + 1/10 - 1/100 = 0.13.
    got = stats.prop_ratio_interval(20, 100, 10, 100, 0.95, method="katz")
    z = st.norm.ppf(0.975)
    assert got.estimate == pytest.approx(2.0)
    assert got.low == pytest.approx(2 * math.exp(-z * math.sqrt(0.13)))
    assert got.high == pytest.approx(2 * math.exp(z * math.sqrt(0.13)))
    assert (round(got.low, 3), round(got.high, 3)) == (0.987, 4.054)
    with pytest.raises(InputError):
        stats.prop_ratio_interval(0, 100, 10, 100, method="katz")
    with pytest.raises(ConfigError):
        stats.prop_ratio_interval(1, 100, 10, 100, method="wald")


def test_dirichlet_two_options_match_beta_and_sum_to_one():
    # With two options the share of option A is Beta(1 + 30, 1 + 20): P(A best) = P(share > 1/2).
    best = stats.dirichlet_prob_best({"A": 30, "B": 20}, draws=200_000, seed=11)
    exact = st.beta.sf(0.5, 31, 21)
    assert best.p_best[0] == pytest.approx(exact, abs=4 * math.sqrt(exact * (1 - exact) / 200_000))
    assert sum(best.p_best) == pytest.approx(1.0)
    assert best.low[0] == pytest.approx(st.beta.ppf(0.025, 31, 21))
    assert best.high[1] == pytest.approx(st.beta.ppf(0.975, 21, 31))
    assert best.estimate == (0.6, 0.4)
    assert best.labels == ("A", "B")


def test_dirichlet_symmetric_options_and_determinism():
    best = stats.dirichlet_prob_best([10, 10, 10], draws=90_000, seed=1)
    assert best.p_best == pytest.approx((1 / 3, 1 / 3, 1 / 3), abs=0.01)
    assert best == stats.dirichlet_prob_best([10, 10, 10], draws=90_000, seed=1)
    frame = stats.dirichlet_prob_best({"x": 5, "y": 1}, draws=1_000, seed=0).to_frame()
    assert list(frame.columns) == ["option", "votes", "share", "share_low", "share_high", "p_best"]


def test_robust_sigma_known_answers():
    # median 3, absolute deviations 2, 1, 0, 1, 97 -> MAD 1.
    assert stats.robust_sigma([1, 2, 3, 4, 100]) == pytest.approx(1.4826)
    assert stats.robust_sigma([1, 2, np.nan, 3, 4, 100]) == pytest.approx(1.4826)
    assert stats.robust_sigma([5, 5, 5]) == 0.0
    assert math.isnan(stats.robust_sigma([np.nan]))
    assert math.isnan(stats.robust_sigma([]))
    normal = np.random.default_rng(0).normal(0, 2.0, 200_000)
    assert stats.robust_sigma(normal) == pytest.approx(2.0, rel=0.01)


def test_shrink_rates_method_of_moments_by_hand():
    # Four units of 100 trials, 10/20/30/40 successes: pooled mean 0.25; sample variance of the rates
    # (0.15^2 + 0.05^2 + 0.05^2 + 0.15^2) / 3 = 0.05/3; v / (m(1-m)) = (0.05/3) / 0.1875 = 4/45;
    # rho = (4/45 - 1/100) / (1 - 1/100) = 71/891; prior strength = 1/rho - 1 = 820/71 (about 11.55).
    got = stats.shrink_rates([10, 20, 30, 40], [100, 100, 100, 100])
    strength = 820 / 71
    assert got.prior_strength == pytest.approx(strength)
    assert got.prior_mean == pytest.approx(0.25)
    a, b = 0.25 * strength, 0.75 * strength
    assert got.estimate[0] == pytest.approx((10 + a) / (100 + strength))
    assert got.low[3] == pytest.approx(st.beta.ppf(0.025, 40 + a, 60 + b))
    # Shrinkage pulls every raw rate toward the pooled mean, never past it.
    assert np.all(np.abs(got.estimate - 0.25) < np.abs(got.raw - 0.25))


def test_shrink_rates_given_strength_and_no_extra_variation():
    given = stats.shrink_rates([1, 9], [10, 10], prior_strength=10)
    assert given.estimate == pytest.approx([(1 + 5) / 20, (9 + 5) / 20])
    # Identical rates: no variation beyond binomial noise, so the strength is capped at all trials (400).
    flat = stats.shrink_rates([25, 25, 25, 25], [100, 100, 100, 100])
    assert flat.prior_strength == pytest.approx(400)
    assert flat.estimate == pytest.approx([0.25] * 4)
    # A unit with no trials gets the prior mean.
    with_empty = stats.shrink_rates([10, 30, 0], [100, 100, 0])
    assert with_empty.estimate[2] == pytest.approx(with_empty.prior_mean)
    with pytest.raises(InputError):
        stats.shrink_rates([5], [3])


def test_bad_arguments_are_refused_with_the_right_error():
    with pytest.raises(InputError):
        stats.clopper_pearson(5, 3)
    with pytest.raises(InputError):
        stats.poisson_rate_ci(-1, 1.0)
    with pytest.raises(InputError):
        stats.wilson(1.5, 3)
    with pytest.raises(ConfigError):
        stats.wilson(1, 3, conf=95)
    with pytest.raises(ConfigError):
        stats.prop_ratio_interval(1, 3, 1, 3, draws=10)
