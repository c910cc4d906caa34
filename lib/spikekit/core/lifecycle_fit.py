"""The spike's life curve, shared by chapters 06 and 12 and by the spike state: the Bass curve (``bass_cdf``,
``bass_from_shape`` ...), the handbook's life prior (``LifecyclePrior``), the daily series a fit reads and the
fit itself (``fit_bass``, ``fit_path``). Chapter 06's decline signal, brakes and markdowns stay in its module.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import optimize, special

from .errors import ConfigError, InputError


DAY = pd.Timedelta(days=1)


METHODS = ("laplace", "posterior", "bootstrap")


PEAKS = ("sales", "curve")


# Student-t tails for the prior's peak and life terms (degrees of freedom; None: normal, the default). Heavy
# tails let clear data overrule the handbook's "peak on day 5-7"; on the synthetic spikes of
# benchmarks/report_lifecycle.py they changed the peak forecast little once the model-error share below is in.
TAIL_DF = None


# The share of the peak-day draws that take the peak from the rise's own pace (the curve may be wrong), the
# spread of that pace's time to the top (log sd), and the range of the share of its top a still rising series
# may have reached (uniform prior: the fit cannot tell). Chosen on synthetic spikes of three kinds (search, game
# launches, articles; benchmarks/report_lifecycle.py, seeds apart from the report's).
MODEL_ERROR_SHARE = 0.5


MODEL_ERROR_SD = 1.3


SHARE_RANGE = (0.1, 1.0)


GROWTH_DAYS = 4  # days seen that set the recent growth rate


# The pace is only read from at least this many days since the opening (the first day clearly above the baseline;
# the step up to it is never part of the pace); 3 days made articles, which top out a day or two after the step,
# 3.5 days late instead of 1 on the choice seeds. With fewer days, or after a launch (the step up to the opening
# day alone was at least LAUNCH_SHARE of the level now: a game's launch day), the time to the top is drawn from
# the prior's peak day instead, its point the prior's median, with a log model error PRIOR_LOG_SD on the time
# from the takeoff (the interval must hold a launch that climbs for three weeks) and a share RAW_PACE_SHARE of
# those draws from the step's own fast pace (an article tops out soon after it). Chosen on seeds 1000-1089 of
# benchmarks/report_lifecycle.py's synthetic spikes, cut at 40% of their top.
PACE_MIN_DAYS = 2


LAUNCH_SHARE = 0.3


RAW_PACE_SHARE = 0.3


PRIOR_LOG_SD = 0.5


OPENING_SHARE = 0.05  # the opening: the first day after the takeoff above this share of the best excess so far


def _growth_rate(series: pd.Series, baseline: float, days: int | None = None) -> float:
    """The spike's recent log growth rate per day: the median of the pairwise slopes (Theil-Sen) of
    log(sales - baseline) over the last ``days`` days seen; a robust slope shrugs off one odd day."""
    days = GROWTH_DAYS if days is None else days
    tail = series.tail(days)
    if len(tail) < 2:
        return float("nan")
    values = tail.to_numpy(dtype=float) - baseline
    floor = max(0.5, 0.01 * float(np.max(tail.to_numpy(dtype=float))))
    logs = np.log(np.maximum(values, floor))
    x = ((tail.index - tail.index[-1]) / DAY).to_numpy(dtype=float)
    i, j = np.triu_indices(len(x), k=1)
    return float(np.median((logs[j] - logs[i]) / (x[j] - x[i])))


def _opening(series: pd.Series, takeoff: pd.Timestamp, baseline: float) -> tuple[pd.Series, bool]:
    """The days from the opening on (the first day after the takeoff clearly above the baseline), and whether
    the series opened as a launch: one step up from the day before to the opening day of ``LAUNCH_SHARE`` or
    more of the level now (the best of the last three days, so a weekly dip does not hide it)."""
    after = series[series.index > takeoff]
    excess = after.to_numpy(dtype=float) - baseline
    if len(excess) == 0 or np.max(excess) <= 0:
        return after.iloc[0:0], False
    first = int(np.flatnonzero(excess >= OPENING_SHARE * np.max(excess))[0])
    since = after.iloc[first:]
    before = series[series.index < since.index[0]]
    step = excess[first] - (float(before.iloc[-1]) - baseline if len(before) else 0.0)
    level = float(np.max(excess[-3:]))
    return since, bool(level > 0 and step >= LAUNCH_SHARE * level)


def _prior_time_left(prior: "LifecyclePrior", t_last: float, n: int, rng) -> np.ndarray:
    """Days from the last day seen to the top, drawn from the prior's peak day (normal, or Student-t with its
    ``tail_df``) given that the top has not come yet (t > t_last): the handbook's "peak on day 5-7"."""
    if prior.tail_df is None:
        low = special.ndtr((t_last - prior.peak_day) / prior.peak_day_sd)
        u = rng.uniform(min(low, 1.0 - 1e-9), 1.0, size=n)
        z = special.ndtri(np.clip(u, 1e-12, 1.0 - 1e-12))
    else:
        df = prior.tail_df
        low = special.stdtr(df, (t_last - prior.peak_day) / prior.peak_day_sd)
        u = rng.uniform(min(low, 1.0 - 1e-9), 1.0, size=n)
        z = special.stdtrit(df, np.clip(u, 1e-12, 1.0 - 1e-12))
    return np.maximum(prior.peak_day + prior.peak_day_sd * z - t_last, 0.0)


def _time_to_peak(growth, share):
    """Days left to the top of a symmetric spike, rate ~ sech^2((t - T) / 2s), now at ``share`` of its top and
    growing at ``growth`` (log per day): with x = arccosh(1 / sqrt(share)), s = tanh(x) / growth and the time
    left is 2 s x (at 40% of the top: 1.6 / growth)."""
    x = np.arccosh(1.0 / np.sqrt(np.asarray(share, dtype=float)))
    return 2.0 * x * np.tanh(x) / growth


def bass_cdf(t, p: float, q: float):
    """Share of the spike's buyers who have bought by time ``t`` (days since takeoff); 0 before the takeoff."""
    t = np.maximum(np.asarray(t, dtype=float), 0.0)
    decay = np.exp(-(p + q) * t)
    return (1.0 - decay) / (1.0 + (q / p) * decay)


def bass_pdf(t, p: float, q: float):
    """Buying rate (share of the spike's buyers per day) at time ``t``; 0 before the takeoff."""
    t = np.asarray(t, dtype=float)
    decay = np.exp(-(p + q) * np.maximum(t, 0.0))
    rate = ((p + q) ** 2 / p) * decay / (1.0 + (q / p) * decay) ** 2
    return np.where(t < 0, 0.0, rate)


def bass_peak_time(p: float, q: float) -> float:
    """Time of the peak buying rate, ``ln(q/p)/(p+q)`` days after takeoff (0 when q <= p: it falls from the start)."""
    return max(math.log(q / p) / (p + q), 0.0)


def bass_life_time(p: float, q: float, share: float = 0.95) -> float:
    """Days after takeoff by which ``share`` of the spike's buyers have bought: ``ln((1+s q/p)/(1-s))/(p+q)``."""
    return math.log((1.0 + share * q / p) / (1.0 - share)) / (p + q)


def bass_from_shape(peak_day: float, life_days: float, share: float = 0.95) -> tuple[float, float]:
    """The (p, q) whose peak is ``peak_day`` after takeoff and which reaches ``share`` of its buyers at ``life_days``."""
    if not 0 < peak_day < life_days:
        raise ConfigError(f"peak day {peak_day!r} must be above 0 and before the end of life {life_days!r}")
    target = life_days / peak_day

    def gap(log_r):
        r = math.exp(log_r)
        return math.log((1.0 + share * r) / (1.0 - share)) / log_r - target

    # The ratio life/peak falls from infinity (q/p -> 1) to 1 (q/p -> infinity): one root. A ratio closer to 1
    # than the sharpest curve allowed (a prior moved late keeps its peak-to-end span: 40 days to peak, 44 to the
    # end) takes that sharpest curve rather than failing.
    low, high = 1e-9, 60.0
    if gap(high) >= 0:
        log_r = high
    elif gap(low) <= 0:
        log_r = low
    else:
        log_r = optimize.brentq(gap, low, high)
    a = log_r / peak_day
    r = math.exp(log_r)
    return a / (1.0 + r), a * r / (1.0 + r)


def _positive(name, value, *, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{name}={value!r} must be a number")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{name}={value!r} must be a {'non-negative' if allow_zero else 'positive'} number")
    return value


@dataclass(frozen=True)
class LifecyclePrior:
    """Prior beliefs about a spike's life, as normal penalties on its peak time and life span (days after takeoff).

    peak_day, peak_day_sd: when the buying rate peaks (handbook: days 5-7, so 6 +- 1.5 puts about 95% on 3-9).
    life_days, life_days_sd: when ``life_share`` of the spike's buyers have bought (handbook: about 9 days).
    life_share: the share that marks the end of life.
    market, market_log_sd: optional lognormal prior on the spike's total buyers ``m`` (None: flat).
    Chapter 12 can learn these from past spikes and pass them in.
    """

    peak_day: float = 6.0
    peak_day_sd: float = 1.5
    life_days: float = 9.0
    life_days_sd: float = 3.0
    life_share: float = 0.95
    market: float | None = None
    market_log_sd: float = 1.0
    tail_df: float | None = TAIL_DF

    def __post_init__(self):
        _positive("peak_day", self.peak_day)
        _positive("peak_day_sd", self.peak_day_sd)
        _positive("life_days", self.life_days)
        _positive("life_days_sd", self.life_days_sd)
        _positive("market_log_sd", self.market_log_sd)
        if not 0 < self.life_share < 1:
            raise ConfigError(f"life_share={self.life_share!r} must be between 0 and 1")
        if self.life_days <= self.peak_day:
            raise ConfigError(f"life_days={self.life_days!r} must be after peak_day={self.peak_day!r}")
        if self.market is not None:
            _positive("market", self.market)
        if self.tail_df is not None:
            _positive("tail_df", self.tail_df)

    def penalty(self, m, p, q):
        """Negative log prior density (up to a constant) of the curve (m, p, q); arrays give one value per curve.

        With ``tail_df`` the peak and life terms are Student-t (that many degrees of freedom) instead of normal.
        """
        a = p + q
        peak = np.log(q / p) / a  # unclipped, so the penalty stays smooth when q < p
        life = np.log((1.0 + self.life_share * q / p) / (1.0 - self.life_share)) / a
        value = self._term((peak - self.peak_day) / self.peak_day_sd)
        value = value + self._term((life - self.life_days) / self.life_days_sd)
        if self.market is not None:
            value = value + 0.5 * ((np.log(m) - math.log(self.market)) / self.market_log_sd) ** 2
        return value

    def _term(self, z):
        if self.tail_df is None:
            return 0.5 * z ** 2
        return 0.5 * (self.tail_df + 1.0) * np.log1p(z ** 2 / self.tail_df)


def _as_of(as_of, tz) -> pd.Timestamp:
    stamp = pd.Timestamp(as_of)
    if tz is not None:
        stamp = stamp.tz_localize(tz) if stamp.tzinfo is None else stamp.tz_convert(tz)
    elif stamp.tzinfo is not None:
        raise ConfigError("as_of has a time zone but the daily series has none")
    return stamp


def daily_series(daily, as_of=None, value: str = "orders") -> pd.Series:
    """The daily counts as a float Series indexed by the END of each day, only rows stamped <= ``as_of``.

    ``daily`` is a sales frame (``timestamp`` plus ``value`` columns) or a Series indexed by timestamps.
    """
    if isinstance(daily, pd.DataFrame):
        if "timestamp" not in daily.columns or value not in daily.columns:
            raise InputError(f"the daily table needs columns 'timestamp' and '{value}'",
                             file=(daily.attrs.get("source") or {}).get("path"),
                             fix="load the file with sk.contracts.load_sales")
        series = pd.Series(daily[value].to_numpy(dtype=float), index=pd.DatetimeIndex(daily["timestamp"]))
    elif isinstance(daily, pd.Series):
        series = pd.Series(daily.to_numpy(dtype=float), index=pd.DatetimeIndex(daily.index))
    else:
        raise ConfigError("daily must be a DataFrame with timestamp/orders columns or a Series indexed by time")
    series = series[~series.index.duplicated(keep="last")].sort_index().dropna()
    if as_of is not None:
        series = series[series.index <= _as_of(as_of, series.index.tz)]
    return series.rename(value)


def daily_search(signals: pd.DataFrame, as_of, keyword: str, platform: str | None = None,
                 metric: str | None = None) -> pd.Series:
    """Daily totals of one keyword's signal (e.g. 淘宝 searches for 星空杯), each day stamped at its end.

    Only whole days that ended by ``as_of`` are kept (a half-counted day would read as a drop).
    """
    rows = signals[signals["keyword"].astype(str) == keyword]
    if platform:
        rows = rows[rows["platform"].astype(str) == platform]
    if metric:
        rows = rows[rows["metric"].astype(str) == metric]
    if rows.empty:
        raise InputError(f"no signal rows for keyword {keyword!r}" + (f" on {platform}" if platform else ""),
                         file=(signals.attrs.get("source") or {}).get("path"), column="keyword",
                         fix="set search_keyword and search_platform to a series in the signals file")
    stamps = pd.DatetimeIndex(rows["timestamp"])
    cutoff = _as_of(as_of, stamps.tz)
    keep = stamps <= cutoff
    # An hour ending at 00:00 belongs to the day before: day end = ceil to midnight.
    day_end = stamps[keep].ceil("D")
    totals = pd.Series(rows["value"].to_numpy(dtype=float)[keep], index=day_end).groupby(level=0).sum()
    return totals[totals.index <= cutoff].rename("searches")


def detect_takeoff(daily, as_of, multiple: float = 3.0, window: int = 7,
                   baseline_days: int = 28) -> tuple[pd.Timestamp | None, float]:
    """First day whose trailing ``window``-day mean exceeds ``multiple`` x the baseline, and that baseline.

    The baseline of a day is the median of the ``baseline_days`` days that end ``window`` days before it, so
    the rise itself does not lift it. Returns (end of that day, baseline), or (None, latest baseline).
    """
    series = daily_series(daily, as_of)
    if series.empty:
        return None, 0.0
    full = series.asfreq("D") if len(series) > 1 else series
    values = full.to_numpy(dtype=float)
    level = pd.Series(values).rolling(window, min_periods=max(1, window // 2 + 1)).mean().to_numpy()
    shifted = pd.Series(values).shift(window)
    base = shifted.rolling(baseline_days, min_periods=7).median().to_numpy()
    floor = 1.0  # a shop with ~0 normal sales still needs a few units a day to call a takeoff
    hit = np.flatnonzero((level > multiple * np.maximum(base, floor)) & np.isfinite(base))
    last_base = base[np.isfinite(base)]
    if hit.size == 0:
        return None, float(last_base[-1]) if last_base.size else float(np.median(values))
    return full.index[hit[0]], float(base[hit[0]])


@dataclass
class BassFit:
    """A Bass curve fitted as of ``as_of`` (``t`` in days since ``takeoff``) with its intervals.

    Intervals (``conf``) cover parameter uncertainty only; daily sales scatter around the curve on top.
    """

    m: float
    p: float
    q: float
    takeoff: pd.Timestamp
    as_of: pd.Timestamp
    baseline: float
    dispersion: float
    conf: float
    method: str
    n_days: int
    t_now: float
    peak_day: float
    peak_date: pd.Timestamp
    peak_low: pd.Timestamp
    peak_high: pd.Timestamp
    remaining: float
    remaining_low: float
    remaining_high: float
    end_date: pd.Timestamp
    end_high: pd.Timestamp
    sold_excess: float
    life_share: float
    converged: bool
    observed: pd.DataFrame = field(repr=False)
    draws: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 3)))
    peak_from: str = "curve"  # "sales": peak_date is the day with the most sales; "curve": the fitted rate's peak

    @property
    def past_peak(self) -> bool:
        return self.peak_high < self.as_of

    def t_of(self, stamps) -> np.ndarray:
        return (pd.DatetimeIndex(stamps) - self.takeoff) / DAY

    def expected_daily(self, start, days: int) -> pd.DataFrame:
        """Expected orders (baseline + spike) for ``days`` days from the day ending one day after ``start``."""
        first = _as_of(start, self.takeoff.tz).normalize() + DAY
        ends = pd.date_range(first, periods=int(days), freq="D")
        t = self.t_of(ends)
        spike = self.m * (bass_cdf(t, self.p, self.q) - bass_cdf(t - 1, self.p, self.q))
        return pd.DataFrame({"timestamp": ends, "date": (ends - DAY).tz_localize(None),
                             "expected": self.baseline + spike, "spike": spike})

    def expected_at(self, stamps) -> pd.Series:
        """Expected orders (baseline + spike) of the days ending at ``stamps``: the trend for ``estimate_elasticity``."""
        index = pd.DatetimeIndex(stamps)
        t = self.t_of(index)
        spike = self.m * (bass_cdf(t, self.p, self.q) - bass_cdf(t - 1, self.p, self.q))
        return pd.Series(self.baseline + spike, index=index)

    def to_dict(self) -> dict:
        return {
            "m": self.m, "p": self.p, "q": self.q, "takeoff": self.takeoff, "baseline": self.baseline,
            "dispersion": self.dispersion, "method": self.method, "conf": self.conf, "days_of_data": self.n_days,
            "peak_day": self.peak_day, "life_share": self.life_share, "converged": self.converged,
        }

    def interval(self, what: str) -> dict:
        """``peak_date`` or ``remaining_demand`` as {estimate, low, high, conf} for the record."""
        if what == "peak_date":
            return {"estimate": self.peak_date, "low": self.peak_low, "high": self.peak_high, "conf": self.conf}
        if what == "remaining_demand":
            return {"estimate": self.remaining, "low": self.remaining_low, "high": self.remaining_high,
                    "conf": self.conf, "sold_excess": self.sold_excess, "baseline_per_day": self.baseline}
        raise ConfigError(f"interval of {what!r}: use 'peak_date' or 'remaining_demand'")


def _window(t: np.ndarray):
    return np.maximum(t - 1.0, 0.0)


def _neg_log_lik(theta, t, y, baseline, dispersion):
    m, p, q = np.exp(theta)
    mu = baseline + m * (bass_cdf(t, p, q) - bass_cdf(_window(t), p, q))
    mu = np.maximum(mu, 1e-9)
    if dispersion <= 0:
        return float(np.sum(mu - y * np.log(mu)))
    r = 1.0 / dispersion
    return float(-np.sum(special.gammaln(y + r) - special.gammaln(r) + r * np.log(r / (r + mu))
                         + y * np.log(mu / (r + mu))))


def _objective(theta, t, y, baseline, dispersion, prior):
    if not np.all(np.isfinite(theta)):
        return 1e300
    value = _neg_log_lik(theta, t, y, baseline, dispersion)
    if prior is not None:
        m, p, q = np.exp(theta)
        value += prior.penalty(m, p, q)
    return value


_BOUNDS = [(0.0, 20.0), (-14.0, 1.5), (-6.0, 2.5)]  # log m, log p, log q


def _optimise(start, t, y, baseline, dispersion, prior):
    result = optimize.minimize(_objective, start, args=(t, y, baseline, dispersion, prior),
                               method="L-BFGS-B", bounds=_BOUNDS)
    best = result
    polish = optimize.minimize(_objective, result.x, args=(t, y, baseline, dispersion, prior), method="Nelder-Mead",
                               options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 4000})
    if polish.fun < best.fun and all(lo <= v <= hi for v, (lo, hi) in zip(polish.x, _BOUNDS)):
        best = polish
    return np.asarray(best.x, dtype=float), bool(result.success or polish.success)


def _hessian(func, x, step=1e-3):
    n = len(x)
    h = np.zeros((n, n))
    f0 = func(x)
    for i in range(n):
        for j in range(i, n):
            ei = np.eye(n)[i] * step
            ej = np.eye(n)[j] * step
            if i == j:
                h[i, i] = (func(x + ei) - 2 * f0 + func(x - ei)) / step ** 2
            else:
                h[i, j] = h[j, i] = (func(x + ei + ej) - func(x + ei - ej) - func(x - ei + ej)
                                     + func(x - ei - ej)) / (4 * step ** 2)
    return h


def _laplace_cov(theta, t, y, baseline, dispersion, prior):
    h = _hessian(lambda x: _objective(x, t, y, baseline, dispersion, prior), theta)
    values, vectors = np.linalg.eigh((h + h.T) / 2)
    # A flat direction (no data, no prior on it) would give an infinite variance: cap it at a wide one.
    values = np.maximum(values, 1.0 / 4.0)
    return (vectors / values) @ vectors.T


def _laplace_draws(theta, t, y, baseline, dispersion, prior, runs, rng):
    cov = _laplace_cov(theta, t, y, baseline, dispersion, prior)
    return rng.multivariate_normal(theta, cov, size=runs, method="cholesky")


def _objective_many(thetas, t, y, baseline, dispersion, prior) -> np.ndarray:
    """``_objective`` of many curves at once (rows of log m, log p, log q)."""
    m, p, q = (np.exp(thetas[:, k])[:, None] for k in range(3))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        mu = np.maximum(baseline + m * (bass_cdf(t, p, q) - bass_cdf(_window(t), p, q)), 1e-9)
        if dispersion <= 0:
            value = np.sum(mu - y * np.log(mu), axis=1)
        else:
            r = 1.0 / dispersion
            value = -np.sum(special.gammaln(y + r) - special.gammaln(r) + r * np.log(r / (r + mu))
                            + y * np.log(mu / (r + mu)), axis=1)
        if prior is not None:
            value = value + prior.penalty(m[:, 0], p[:, 0], q[:, 0])
    return np.where(np.isfinite(value), value, np.inf)


_PROPOSAL_DF = 4.0  # heavy tails so the proposal covers a posterior that is skewed or wider than the Laplace one


_PROPOSAL_SCALE = 2.0  # the proposal's spread is this many times the Laplace spread


def _posterior_draws(theta, t, y, baseline, dispersion, prior, runs, rng):
    """Draws from the posterior itself: importance sampling from a wide Student-t around the optimum, resampled.

    The normal (Laplace) approximation around one optimum is too narrow with 5-15 days of data: the posterior of a
    young spike is strongly skewed (a later, larger spike fits the rise almost as well), and its curvature at the
    optimum says little about that tail. Weighting draws from a wide proposal by the exact posterior keeps the tail.
    """
    cov = _laplace_cov(theta, t, y, baseline, dispersion, prior) * _PROPOSAL_SCALE ** 2
    n = max(int(runs), 1) * 2
    chol = np.linalg.cholesky(cov + 1e-12 * np.eye(3))
    z = rng.standard_normal((n, 3))
    scale = np.sqrt(_PROPOSAL_DF / rng.chisquare(_PROPOSAL_DF, size=n))
    proposal = theta + (z @ chol.T) * scale[:, None]
    # log density of the multivariate t proposal, up to a constant
    maha = np.sum(z ** 2, axis=1) * scale ** 2
    log_proposal = -0.5 * (_PROPOSAL_DF + 3.0) * np.log1p(maha / _PROPOSAL_DF)
    inside = np.all([(proposal[:, k] >= lo) & (proposal[:, k] <= hi) for k, (lo, hi) in enumerate(_BOUNDS)], axis=0)
    log_target = -_objective_many(proposal, t, y, baseline, dispersion, prior)
    log_weight = np.where(inside, log_target - log_proposal, -np.inf)
    if not np.isfinite(log_weight).any():
        return _laplace_draws(theta, t, y, baseline, dispersion, prior, runs, rng)
    weight = np.exp(log_weight - np.max(log_weight))
    weight /= weight.sum()
    # Systematic resampling: each draw appears about weight x runs times.
    positions = (rng.random() + np.arange(int(runs))) / int(runs)
    index = np.minimum(np.searchsorted(np.cumsum(weight), positions), n - 1)
    return proposal[index]


def _peak_days(draws, series, takeoff, baseline, dispersion, rng, life_share=0.95, prior=None):
    """The end stamp of the day with the most sales, one per draw: the days seen plus simulated days to come.

    The peak day is what the seller means by "the peak": it is either the best day already seen or a later day
    whose sales beat it. Simulating the days to come from each draw's curve with the same overdispersed noise
    the fit assumes gives its distribution, and a peak before the best day seen (of a still rising series) is
    impossible by construction.
    """
    values = series.to_numpy(dtype=float)
    best_seen = float(np.max(values))
    best_stamp = series.index[int(np.argmax(values))]
    last = series.index[-1]
    t_last = float((last - takeoff) / DAY)
    m, p, q = (np.exp(draws[:, k])[:, None] for k in range(3))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        lives = np.log((1.0 + life_share * q / p) / (1.0 - life_share)) / (p + q)
    horizon = float(np.nanquantile(lives, 0.99)) - t_last if np.isfinite(lives).any() else 30.0
    days = int(np.clip(math.ceil(horizon) + 7, 7, 400))
    t = t_last + np.arange(1, days + 1, dtype=float)
    mu = np.maximum(baseline + m * (bass_cdf(t, p, q) - bass_cdf(_window(t), p, q)), 1e-9)
    if dispersion > 0:
        r = 1.0 / dispersion
        future = rng.negative_binomial(r, np.clip(r / (r + mu), 1e-12, 1.0)).astype(float)
    else:
        future = rng.poisson(mu).astype(float)
    ahead = np.argmax(future, axis=1)
    beats = future[np.arange(len(future)), ahead] > best_seen  # a tie stays with the earlier day
    offsets = np.where(beats, ahead + 1, 0)
    # The curve itself may be wrong: a rise that slows is read as a peak, a plateau keeps climbing. While the
    # series is still at its best, a share of the draws takes its peak from the rise's own pace instead: the
    # time a symmetric spike growing at the recent rate still needs to reach its top (``_time_to_peak``); where
    # that pace cannot be read, from the prior's peak day.
    recent = values[-3:].mean()
    still_at_best = best_stamp >= last - 2 * DAY or recent >= 0.75 * best_seen
    point = None
    if still_at_best and MODEL_ERROR_SHARE > 0:
        n = len(offsets)
        since, launch = _opening(series, takeoff, baseline)
        since_days = float((last - since.index[0]) / DAY) + 1.0 if len(since) else 0.0
        # The pace counts from the opening day on, never the step up to it from the level before.
        growth = _growth_rate(since, baseline) if since_days >= PACE_MIN_DAYS else float("nan")
        if launch or not growth > 0:
            # No pace to read (too few days, or a launch whose opening step says nothing about the top): the
            # prior's peak day, counted from the takeoff, sets the time to the top.
            left = _prior_time_left(prior or LifecyclePrior(), t_last, n, rng)
            # The top at t falls in the day ending at ceil(t); the point is the prior's own median day.
            point = int(np.quantile(np.ceil(left - 1e-9), 0.5, method="inverted_cdf"))
            # The draws add a model error on the time from the takeoff to the top (the handbook's "day 5-7" is a
            # rule of thumb: a game's launch may climb for three weeks), so the interval holds late tops too.
            top = (t_last + left) * np.exp(PRIOR_LOG_SD * rng.standard_normal(n))
            by_pace = np.ceil(np.maximum(top - t_last, 0.0) - 1e-9)
            raw = _growth_rate(series, baseline)
            if RAW_PACE_SHARE > 0 and raw > 0:
                # The interval keeps the fast reading of the step (an article tops out a day or two after it).
                fast = _time_to_peak(raw, rng.uniform(SHARE_RANGE[0], SHARE_RANGE[1], size=n))
                fast = np.minimum(fast * np.exp(MODEL_ERROR_SD * rng.standard_normal(n)), max(2.0 * t_last, 14.0))
                fast = np.rint(fast - float((last - best_stamp) / DAY))
                by_pace = np.where(rng.random(n) < RAW_PACE_SHARE, fast, by_pace)
        else:
            # The fit's own share (rate now / rate at its peak) was tried: it inherits the curve's "the top is
            # near" and gave worse errors and coverage on the synthetic spikes than this prior.
            share = rng.uniform(SHARE_RANGE[0], SHARE_RANGE[1], size=n)
            left = _time_to_peak(growth, share) * np.exp(MODEL_ERROR_SD * rng.standard_normal(n))
            # A slow crawl would put the top months away: a spike does not rise much longer than twice what it
            # has risen.
            left = np.minimum(left, max(2.0 * t_last, 14.0))
            # The nearest day (not the one holding the top): with noise, a top under half a day away is often today.
            by_pace = np.rint(left - float((last - best_stamp) / DAY))
        by_pace = np.maximum(by_pace, 0).astype(int)
        # The point is the pace's (or the prior's) own median: the mixture's median is pulled to "the peak is
        # today" by the curve draws whose top is near (on synthetic spikes cut at 40% of their top: median error
        # 2 days against 3).
        if point is None:
            point = int(np.quantile(by_pace, 0.5, method="inverted_cdf"))
        swap = rng.random(n) < MODEL_ERROR_SHARE
        offsets = np.where(swap, by_pace, offsets)
    return best_stamp, last, offsets, point


def fit_bass(daily, as_of, prior: LifecyclePrior | None = LifecyclePrior(), *, takeoff=None,
             baseline: float | None = None, takeoff_multiple: float = 3.0, dispersion: float | None = None,
             conf: float = 0.9, method: str = "laplace", runs: int = 2000, seed: int = 0,
             start: Sequence[float] | None = None, peak: str = "sales") -> BassFit | None:
    """Fit a Bass curve (m, p, q) to daily counts up to ``as_of`` by maximum a posteriori, with intervals.

    Likelihood: negative binomial on the daily counts (Poisson when ``dispersion`` is 0); the mean of a day
    is ``baseline + m (F(t) - F(t-1))``. ``dispersion`` None estimates it from the residuals of a Poisson fit
    once there are 6 days of data (0.05 before). ``prior`` (None: plain maximum likelihood) penalises the
    curve's peak time and life span. ``takeoff`` is t = 0 (chapter 01's first alert); None detects it
    (``detect_takeoff``). Intervals (``conf``) come from ``runs`` draws of the curve: ``"laplace"`` (default)
    the normal approximation of the posterior, ``"posterior"`` the posterior itself (importance sampling around
    the optimum; skewed and wider when data are short), ``"bootstrap"`` refits simulated series (the sampling
    spread of the estimate; narrow when the prior dominates).

    ``peak``: ``"sales"`` (default) forecasts the day with the most sales: the best day seen or a later day that
    beats it, from each draw's curve plus the noise of the days to come; ``peak_date`` is the middle of that day
    (the median over the draws) and the interval runs from the start of its earliest day to the end of its
    latest. ``"curve"`` reports the peak of the fitted buying rate instead (it can fall before the best day
    seen). ``peak_day`` is always the fitted curve's peak, in days after the takeoff. Returns None before a takeoff.
    """
    series = daily_series(daily, as_of)
    if series.empty:
        return None
    tz = series.index.tz
    cutoff = _as_of(as_of, tz)
    if method not in METHODS:
        raise ConfigError(f"method={method!r} must be one of {', '.join(METHODS)}")
    if peak not in PEAKS:
        raise ConfigError(f"peak={peak!r} must be one of {', '.join(PEAKS)}")
    if not 0 < conf < 1:
        raise ConfigError(f"conf={conf!r} must be between 0 and 1")
    if takeoff is None:
        takeoff, detected_base = detect_takeoff(series, cutoff, multiple=takeoff_multiple)
        if takeoff is None:
            return None
        if baseline is None:
            baseline = detected_base
    takeoff = _as_of(takeoff, tz)
    if takeoff > cutoff:
        return None
    if baseline is None:
        before = series[series.index <= takeoff - 7 * DAY].tail(28)
        baseline = float(before.median()) if len(before) else 0.0
    t_all = ((series.index - takeoff) / DAY).to_numpy(dtype=float)
    used = t_all > 0
    t, y = t_all[used], series.to_numpy(dtype=float)[used]
    t_now = float((cutoff - takeoff) / DAY)
    excess = float(np.sum(y - baseline))

    # Starting point: the prior's shape, scaled to the sales so far.
    if start is not None:
        theta0 = np.log(np.asarray(start, dtype=float))
    else:
        shape = prior if prior is not None else LifecyclePrior()
        p0, q0 = bass_from_shape(shape.peak_day, shape.life_days, shape.life_share)
        share_so_far = float(bass_cdf(t[-1], p0, q0)) if len(t) else 0.0
        m0 = max(excess, 1.0) / max(share_so_far, 0.02) if len(t) else (shape.market or 100.0)
        theta0 = np.log([min(max(m0, 2.0), 1e8), p0, q0])
    theta0 = np.clip(theta0, [lo for lo, _ in _BOUNDS], [hi for _, hi in _BOUNDS])

    if dispersion is None:
        if len(t) >= 6:
            theta_p, _ = _optimise(theta0, t, y, baseline, 0.0, prior)
            m, p, q = np.exp(theta_p)
            mu = baseline + m * (bass_cdf(t, p, q) - bass_cdf(_window(t), p, q))
            dispersion = float(np.clip(np.mean(((y - mu) ** 2 - mu) / np.maximum(mu, 1e-9) ** 2), 0.0, 1.0))
            theta0 = theta_p
        else:
            dispersion = 0.05
    dispersion = float(dispersion)
    theta, converged = _optimise(theta0, t, y, baseline, dispersion, prior)

    rng = np.random.default_rng(seed)
    if len(t) == 0 and prior is None:
        raise ConfigError("no days of data after the takeoff and no prior: nothing to fit")
    if method == "laplace":
        draws = _laplace_draws(theta, t, y, baseline, dispersion, prior, int(runs), rng)
    elif method == "posterior":
        draws = _posterior_draws(theta, t, y, baseline, dispersion, prior, int(runs), rng)
    else:
        m, p, q = np.exp(theta)
        mu = baseline + m * (bass_cdf(t, p, q) - bass_cdf(_window(t), p, q))
        draws = np.empty((int(runs), 3))
        for i in range(int(runs)):
            if dispersion > 0:
                r = 1.0 / dispersion
                y_sim = rng.negative_binomial(r, r / (r + mu)).astype(float)
            else:
                y_sim = rng.poisson(mu).astype(float)
            draws[i], _ = _optimise(theta, t, y_sim, baseline, dispersion, prior)
    life_share = prior.life_share if prior is not None else 0.95
    fit = _summarise(theta, draws, series, used, takeoff, cutoff, baseline, dispersion, conf, method,
                     converged, life_share, t_now, excess)
    if peak == "sales":
        best_stamp, last, offsets, point = _peak_days(draws, series, takeoff, baseline, dispersion, rng, life_share,
                                                            prior)
        lo, hi = (1 - conf) / 2, 1 - (1 - conf) / 2
        # Whole days: offset 0 is the best day seen, k > 0 the k-th day after the last one seen.
        chosen = [int(np.quantile(offsets, share, method="inverted_cdf")) for share in (0.5, lo, hi)]
        if point is not None:
            chosen[0] = min(max(point, chosen[1]), chosen[2])
        ends = [best_stamp if k == 0 else last + k * DAY for k in chosen]
        fit.peak_date, fit.peak_low, fit.peak_high = ends[0] - DAY / 2, ends[1] - DAY, ends[2]
        fit.peak_from = "sales"
    return fit


def _summarise(theta, draws, series, used, takeoff, cutoff, baseline, dispersion, conf, method, converged,
               life_share, t_now, excess) -> BassFit:
    m, p, q = (float(v) for v in np.exp(theta))
    dm, dp, dq = np.exp(draws).T
    a = dp + dq
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        peaks = np.maximum(np.log(dq / dp) / a, 0.0)
        remaining = dm * (1.0 - bass_cdf(t_now, dp, dq))
        lives = np.log((1.0 + life_share * dq / dp) / (1.0 - life_share)) / a
    lo, hi = (1 - conf) / 2, 1 - (1 - conf) / 2
    peak_day = bass_peak_time(p, q)
    life = bass_life_time(p, q, life_share)
    t_used = ((series.index[used] - takeoff) / DAY).to_numpy(dtype=float)
    fitted = baseline + m * (bass_cdf(t_used, p, q) - bass_cdf(_window(t_used), p, q))
    observed = pd.DataFrame({"timestamp": series.index, "orders": series.to_numpy(dtype=float),
                             "t": ((series.index - takeoff) / DAY).to_numpy(dtype=float), "used": used})
    observed["fitted"] = np.nan
    observed.loc[used, "fitted"] = fitted
    return BassFit(
        m=m, p=p, q=q, takeoff=takeoff, as_of=cutoff, baseline=float(baseline), dispersion=dispersion, conf=conf,
        method=method, n_days=int(used.sum()), t_now=t_now, peak_day=peak_day,
        peak_date=(takeoff + peak_day * DAY).round("h"),
        peak_low=(takeoff + float(np.quantile(peaks, lo)) * DAY).round("h"),
        peak_high=(takeoff + float(np.quantile(peaks, hi)) * DAY).round("h"),
        remaining=float(m * (1.0 - bass_cdf(t_now, p, q))),
        remaining_low=float(np.quantile(remaining, lo)), remaining_high=float(np.quantile(remaining, hi)),
        end_date=takeoff + life * DAY, end_high=takeoff + float(np.quantile(lives, hi)) * DAY,
        sold_excess=excess, life_share=life_share, converged=converged, observed=observed, draws=draws,
    )


def fit_path(daily, as_of_list, prior: LifecyclePrior | None = LifecyclePrior(), **fit_options) -> pd.DataFrame:
    """Refit at each ``as_of`` in the list: how the peak date and remaining demand estimates move with data.

    Each refit sees only the rows up to its own ``as_of``. Rows before a takeoff carry no estimate.
    """
    rows = []
    for when in as_of_list:
        fit = fit_bass(daily, when, prior, **fit_options)
        if fit is None:
            rows.append({"as_of": pd.Timestamp(when), "days_of_data": 0})
            continue
        rows.append({
            "as_of": fit.as_of, "days_of_data": fit.n_days, "peak_date": fit.peak_date, "peak_low": fit.peak_low,
            "peak_high": fit.peak_high, "remaining": fit.remaining, "remaining_low": fit.remaining_low,
            "remaining_high": fit.remaining_high, "m": fit.m, "p": fit.p, "q": fit.q,
        })
    return pd.DataFrame(rows)
