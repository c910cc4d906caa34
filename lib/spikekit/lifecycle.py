"""Chapter 06, 应急退出: when the spike fades, brake production and clear the stock.

The handbook's rules: a spike now lives about 9 days (it used to be 14) and peaks on days 5-7. The decline
signal is search volume down more than 15% for 3 days in a row. Then brake production (cancel what has not
started, switch to make-to-order; what has started is finished) and, from day 3 of the decline, mark the price
down in steps so that 80% of the stock sells within 7 days. Never commit to long-term volume because of a spike.

What this module adds to the rules of thumb:

- a lifecycle model of the spike (``fit_bass``): the Bass diffusion curve fitted to daily sales by maximum a
  posteriori, with the handbook's life facts as a prior, giving the peak date and the remaining demand with
  intervals; ``fit_path`` refits day by day to show how the estimate moves as data arrives;
- the decline rule on a day-of-week adjusted series (``decline_signal``), using trailing data only;
- the brake list of what is actually open (``brake_open_lines``: the ledger's open order lines and this run's
  chapter 03 proposal), braked only once the spike's phase is declining or exited, or the decline signal fired
  (``braking``); the markdown ladder sized with a constant-elasticity price response (``markdown_ladder``,
  ``estimate_elasticity``) on the stock the spike state's position says is left (``stock_to_clear``), started only
  once the spike is declining or over (``marking_down``); the long-term commitment check
  (``long_term_commitment_risk``).

Why Bass. A spike is a diffusion: early buyers who act on their own (innovation, ``p``) and later buyers who
follow them (imitation, ``q``), out of a pool of ``m`` buyers. The Bass curve has exactly the shape the handbook
describes (slow start, one peak, a tail that fades) with three interpretable numbers, and its peak time
``t* = ln(q/p)/(p+q)`` and life span have closed forms, so the handbook's "peak on day 5-7, life about 9 days"
becomes a prior on those two quantities. With two or three days of data the curve is not identified (a fast
small spike and a slow large one start alike); the prior then carries the shape and the data set the level.
As data arrives the likelihood takes over. Richer curves (gamma-shaped or skewed diffusion, Gompertz) fit
asymmetric tails better but add a parameter the early data cannot pin down; Bass is the usual choice for
short-life products and is enough for a decision made days before the tail.

Time and units. Daily rows are stamped at the END of the day counted (``2025-03-10 00:00`` counts 9 March)
and a row is used once its stamp is <= ``as_of``. Spike time ``t`` is in days since the takeoff: in a playbook
the start of the rise in the sales (``spikekit.state.lifecycle_fit``, the fit the shared forecast uses), not chapter
01's alert; ``fit_bass`` alone detects one when not given. The day ending at stamp ``s`` covers ``(t(s) - 1, t(s)]``. Sales are
modelled as the shop's normal baseline (measured before the takeoff) plus the spike: remaining demand is the
spike's units still to sell, on top of the baseline.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import optimize, special

from .errors import ConfigError, InputError

__all__ = [
    "LifecyclePrior",
    "BassFit",
    "DeclineSignal",
    "Elasticity",
    "MarkdownPlan",
    "bass_cdf",
    "bass_pdf",
    "bass_peak_time",
    "bass_life_time",
    "bass_from_shape",
    "daily_series",
    "daily_search",
    "detect_takeoff",
    "fit_bass",
    "fit_path",
    "decline_signal",
    "brake_list",
    "estimate_elasticity",
    "markdown_ladder",
    "brake_open_lines",
    "stock_to_clear",
    "markdown_start",
    "demand_from",
    "braking",
    "marking_down",
    "long_term_commitment_risk",
    "decide",
    "headline",
    "plot_fit",
    "plot_fit_path",
    "plot_decline",
    "plot_markdown",
]

DAY = pd.Timedelta(days=1)
EXIT_VERDICTS = ("hold course", "brake", "exit")
SMOOTHINGS = ("weekday", "same_weekday", "trailing7", "none")
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


# ------------------------------------------------------------------------------------------- Bass curve


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


# ------------------------------------------------------------------------------------------- settings


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


# ------------------------------------------------------------------------------------------- inputs


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


# ------------------------------------------------------------------------------------------- fitting


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


# ------------------------------------------------------------------------------------------- decline rule


@dataclass
class DeclineSignal:
    """The handbook's decline rule as of ``as_of``: the trigger (or None) and the day-by-day evidence.

    ``trigger_date`` is the calendar day counted by the last of the ``days`` consecutive drops; the signal
    is known at ``trigger_known`` (the end of that day). ``first_drop_date`` is the first day of that streak.
    """

    trigger_date: pd.Timestamp | None
    trigger_known: pd.Timestamp | None
    first_drop_date: pd.Timestamp | None
    evidence: pd.DataFrame
    drop: float
    days: int
    smoothing: str

    @property
    def fired(self) -> bool:
        return self.trigger_date is not None

    def describe(self) -> str:
        if not self.fired:
            latest = self.evidence.dropna(subset=["change"]).tail(1)
            tail = (f"; latest change {latest['change'].iloc[0]:+.0%} on {latest['date'].iloc[0]:%m-%d}"
                    if len(latest) else "")
            return f"no decline signal ({self.days} days in a row down more than {self.drop:.0%}){tail}"
        return (f"decline signal on {self.trigger_date:%Y-%m-%d}: {self.days} days in a row down more than "
                f"{self.drop:.0%} ({self.smoothing} smoothing), from {self.first_drop_date:%Y-%m-%d}")


def _weekday_factors(values: pd.Series, weeks: int) -> np.ndarray:
    """Multiplicative day-of-week factors (mean 1) from the ratio of each day to its centred 7-day mean.

    A centred window is fine here: it only uses days that are already in (all <= as_of). Fewer than two
    ratios for a weekday leave all factors at 1.
    """
    centred = values.rolling(7, center=True, min_periods=7).mean()
    ratio = (values / centred).replace([np.inf, -np.inf], np.nan).dropna()
    ratio = ratio[ratio.index >= values.index[-1] - pd.Timedelta(weeks=weeks)]
    weekday = (ratio.index - DAY).day_of_week  # weekday of the day counted
    factors = np.ones(7)
    for d in range(7):
        sample = ratio[weekday == d]
        if len(sample) < 2:
            return np.ones(7)
        factors[d] = float(np.median(sample))
    return factors / factors.mean()


def decline_signal(series, as_of, drop: float = 0.15, days: int = 3, smoothing: str = "weekday", *,
                   since=None, dow_weeks: int = 8, min_level: float = 0.0, value: str = "orders") -> DeclineSignal:
    """The handbook's decline rule: down more than ``drop`` on ``days`` consecutive days, first time after ``since``.

    Only days that ended by ``as_of`` are read. Smoothing against day-of-week noise, all trailing:
    - ``"weekday"`` (default): each day is divided by its weekday factor (from the last ``dow_weeks`` weeks of
      data up to as_of), then compared with the day before. Fast to react; a weekly pattern alone does not fire.
    - ``"same_weekday"``: each day against the same weekday a week earlier. Immune to weekly patterns by
      construction, but measures a week's fall, so it fires later.
    - ``"trailing7"``: the trailing 7-day mean against the one a day earlier. Very smooth; a day-over-day
      change of a weekly mean rarely reaches 15%, so it fires only on a collapse.
    - ``"none"``: raw day over day.
    ``min_level``: a day is not counted when the reference is below this level (small counts are mostly noise).
    """
    if smoothing not in SMOOTHINGS:
        raise ConfigError(f"smoothing={smoothing!r} must be one of {', '.join(SMOOTHINGS)}")
    drop = _positive("drop", drop)
    if not drop < 1:
        raise ConfigError(f"drop={drop!r} must be below 1 (a share, 0.15 = 15%)")
    if int(days) != days or days < 1:
        raise ConfigError(f"days={days!r} must be a whole number of days, at least 1")
    days = int(days)
    data = daily_series(series, as_of, value=value)
    full = data.asfreq("D") if len(data) > 1 else data
    factors = np.ones(7)
    adjusted = full.copy()
    if smoothing == "weekday" and len(full.dropna()) >= 21:
        factors = _weekday_factors(full, dow_weeks)
    weekday = (full.index - DAY).day_of_week
    factor = factors[weekday] if len(full) else np.array([])
    if smoothing == "weekday":
        adjusted = full / factor
        reference = adjusted.shift(1)
    elif smoothing == "same_weekday":
        reference = full.shift(7)
    elif smoothing == "trailing7":
        adjusted = full.rolling(7, min_periods=7).mean()
        reference = adjusted.shift(1)
    else:
        reference = full.shift(1)
    change = adjusted / reference - 1.0
    evaluable = reference.notna() & adjusted.notna() & (reference > 0) & (reference >= min_level)
    if since is not None:
        evaluable &= full.index > _as_of(since, full.index.tz)
    is_drop = evaluable & (change < -drop - 1e-12)  # "more than": an exact 15% fall does not count
    streak = np.zeros(len(full), dtype=int)
    run = 0
    for i, (ok, down) in enumerate(zip(evaluable.to_numpy(), is_drop.to_numpy())):
        run = run + 1 if down else 0
        streak[i] = run
    evidence = pd.DataFrame({
        "timestamp": full.index, "date": (full.index - DAY).tz_localize(None), "value": full.to_numpy(),
        "weekday_factor": factor, "adjusted": adjusted.to_numpy(), "reference": reference.to_numpy(),
        "change": change.where(evaluable).to_numpy(), "drop": is_drop.to_numpy(), "streak": streak,
    })
    evidence["signal"] = evidence["streak"] >= days
    hits = np.flatnonzero(streak == days)
    if hits.size == 0:
        return DeclineSignal(None, None, None, evidence, drop, days, smoothing)
    i = hits[0]
    stamp = full.index[i]
    return DeclineSignal(
        trigger_date=(stamp - DAY).tz_localize(None), trigger_known=stamp,
        first_drop_date=(full.index[i - days + 1] - DAY).tz_localize(None), evidence=evidence, drop=drop,
        days=days, smoothing=smoothing,
    )


# ------------------------------------------------------------------------------------------- brake list


def _naive_day(stamp) -> pd.Timestamp:
    stamp = pd.Timestamp(stamp)
    return (stamp.tz_localize(None) if stamp.tzinfo is not None else stamp).normalize()


def brake_list(production: pd.DataFrame | None, purchase_orders: pd.DataFrame | None, as_of,
               trigger_date=None) -> pd.DataFrame:
    """Open production per supplier: what to finish and what to cancel (switching to make-to-order).

    A production day before the decision day is made; on the decision day it has started, so it is finished;
    after it, it has not started: cancelled when the decline signal has fired (``trigger_date`` given), else
    listed as "keep" with the money that a brake would save. The decision day is the day of ``as_of`` (the
    signal is known at the end of its trigger day, always at or before ``as_of``).
    """
    columns = ["supplier", "units", "made_units", "started_units", "not_started_units", "first_open_date",
               "unit_cost", "money_finishing", "money_saved", "action"]
    if production is None or len(production) == 0:
        return pd.DataFrame(columns=columns)
    decision_day = _naive_day(as_of)
    dates = pd.to_datetime(production["production_date"])
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    dates = dates.dt.normalize()
    frame = pd.DataFrame({"supplier": production["supplier"].astype(str).to_numpy(),
                          "date": dates.to_numpy(), "units": production["units"].to_numpy(dtype=float)})
    costs = {}
    if purchase_orders is not None and len(purchase_orders):
        costs = dict(zip(purchase_orders["supplier"].astype(str), purchase_orders["unit_cost"].astype(float)))
    rows = []
    for supplier, part in frame.groupby("supplier", sort=True):
        made = float(part.loc[part["date"] < decision_day, "units"].sum())
        started = float(part.loc[part["date"] == decision_day, "units"].sum())
        open_ = part.loc[part["date"] > decision_day]
        not_started = float(open_["units"].sum())
        cost = float(costs.get(supplier, np.nan))
        if not_started == 0:
            action = "finish (all made or in production)"
        elif trigger_date is None:
            action = "keep (no decline signal)"
        elif made + started > 0:
            action = "finish what has started; cancel the rest, switch to make-to-order"
        else:
            action = "cancel; switch to make-to-order"
        rows.append({
            "supplier": supplier, "units": made + started + not_started, "made_units": made,
            "started_units": started, "not_started_units": not_started,
            "first_open_date": open_["date"].min() if len(open_) else pd.NaT, "unit_cost": cost,
            "money_finishing": started * cost, "money_saved": not_started * cost, "action": action,
        })
    return pd.DataFrame(rows, columns=columns)


BRAKE_PHASES = ("declining", "exited")  # the spike's phases in which production is braked and the price marked down
BRAKE_COLUMNS = ["po_id", "supplier", "source", "units_open", "expected_arrival", "made_units", "started_units",
                 "not_started_units", "units", "unit_cost", "money_saved", "action"]


def _line_production(units: float, arrival_day: pd.Timestamp, lead_days: float, daily_capacity: float) -> pd.DataFrame:
    """When an open order line's units are made: full days at ``daily_capacity`` ending ceil(lead_days) days before
    the arrival day (a unit made on day d arrives on d + ceil(lead_days)); the first day takes the remainder."""
    last = arrival_day - math.ceil(max(float(lead_days), 0.0)) * DAY
    capacity = float(daily_capacity) if daily_capacity and daily_capacity > 0 else float(units)
    n = max(1, int(math.ceil(units / capacity - 1e-9))) if units > 0 else 1
    per_day = np.full(n, capacity)
    per_day[0] = units - capacity * (n - 1)
    dates = [last - (n - 1 - i) * DAY for i in range(n)]
    return pd.DataFrame({"date": dates, "units": per_day})


def excess_on_order(*, on_hand: float, on_order: float, backlog: float, remaining_high: float, baseline: float,
                    days_left: float) -> tuple[float, str]:
    """Units the shop has or will receive beyond what the spike can still sell even at the upper end of its
    interval: stock on hand + on order - backlog - (the remaining spike demand's upper bound + normal sales until
    the spike's late end). Past the top such units are leftovers in waiting; not-started production of them is
    worth cancelling before the decline is confirmed. Returns (units >= 0, how)."""
    need = float(remaining_high) + max(float(baseline), 0.0) * max(float(days_left), 0.0)
    have = float(on_hand) + float(on_order) - float(backlog)
    excess = max(0.0, have - need)
    how = (f"{on_hand:,.0f} on hand + {on_order:,.0f} on order - {backlog:,.0f} backlog = {have:,.0f}, against at most "
           f"{remaining_high:,.0f} spike units still to sell + {max(baseline, 0):.1f}/day normal sales for "
           f"{max(days_left, 0):.0f} days = {need:,.0f}")
    return excess, how


def brake_open_lines(open_orders: pd.DataFrame | None, as_of, *, brake: bool, suppliers: pd.DataFrame | None = None,
                     proposal: pd.DataFrame | None = None, limit: float | None = None) -> pd.DataFrame:
    """What is actually open, line by line, and what a brake cancels: the ledger's open order lines (the spike
    state's ``position.open_orders``) and this run's chapter 03 proposal (not placed yet).

    A ledger line's units are made at the supplier's ``daily_capacity`` on the days before its expected arrival less
    the supplier's ``lead_days`` (the suppliers table; without a row: made on the arrival day). Days before the
    decision day (the day of ``as_of``) are made, the decision day's are started: both are finished (the handbook:
    what has started is finished). Later days have not started: with ``brake`` they are cancelled (switch to
    make-to-order), else kept. An overdue line is made. A chapter 03 proposal is not placed at all when braking.
    ``units`` is what the brake cancels (what ``spike approve`` takes off the line); ``money_saved`` its cost.
    ``limit`` (a trim, see ``excess_on_order``): cancel at most that many not-started units, the latest arrivals
    first, and keep the rest.
    """
    decision_day = _naive_day(as_of)
    terms = {}
    if suppliers is not None and len(suppliers):
        terms = {str(r["supplier"]): (float(r.get("lead_days", 0.0) or 0.0), float(r.get("daily_capacity", 0.0) or 0.0))
                 for r in suppliers.to_dict(orient="records")}
    rows = []
    for line in ([] if open_orders is None else pd.DataFrame(open_orders).to_dict(orient="records")):
        units = float(line["units_open"])
        if units <= 0:
            continue
        arrival = _naive_day(line["expected_arrival"])
        lead, capacity = terms.get(str(line["supplier"]), (0.0, 0.0))
        if arrival < decision_day:
            made, started, not_started = units, 0.0, 0.0
        else:
            days = _line_production(units, arrival, lead, capacity)
            made = float(days.loc[days["date"] < decision_day, "units"].sum())
            started = float(days.loc[days["date"] == decision_day, "units"].sum())
            not_started = float(days.loc[days["date"] > decision_day, "units"].sum())
        cancel = not_started if brake else 0.0
        cost = float(line.get("unit_cost", np.nan))
        if not_started == 0:
            action = "finish (made or in production)"
        elif not brake:
            action = "keep (no brake: the spike is not declining)"
        elif made + started > 0:
            action = "finish what has started; cancel the rest, switch to make-to-order"
        else:
            action = "cancel; switch to make-to-order"
        rows.append({"po_id": str(line["po_id"]), "supplier": str(line["supplier"]), "source": "ledger",
                     "units_open": units, "expected_arrival": arrival, "made_units": made, "started_units": started,
                     "not_started_units": not_started, "units": cancel, "unit_cost": cost,
                     "money_saved": cancel * cost, "action": action})
    if proposal is not None and len(proposal):
        for line in proposal.to_dict(orient="records"):
            units = float(line.get("units", 0) or 0)
            if units <= 0:
                continue
            cost = float(line.get("unit_cost", np.nan))
            arrival_day = line.get("last_arrival_day")
            rows.append({"po_id": "", "supplier": str(line.get("supplier", "?")), "source": "chapter 03 proposal",
                         "units_open": units,
                         "expected_arrival": decision_day + int(arrival_day) * DAY if arrival_day is not None else pd.NaT,
                         "made_units": 0.0, "started_units": 0.0, "not_started_units": units,
                         "units": units if brake else 0.0, "unit_cost": cost, "money_saved": (units if brake else 0.0) * cost,
                         "action": "do not place: production is braked" if brake else "proposed by chapter 03, not placed"})
    table = pd.DataFrame(rows, columns=BRAKE_COLUMNS)
    table["expected_arrival"] = pd.to_datetime(table["expected_arrival"])
    if limit is not None and brake and len(table):
        left = max(0.0, float(math.floor(limit)))
        # The latest arrivals are the likeliest leftovers: trim them first.
        for i in table.sort_values("expected_arrival", ascending=False, na_position="first").index:
            take = min(float(table.at[i, "units"]), left)
            left -= take
            if take < float(table.at[i, "units"]):
                table.at[i, "units"] = take
                table.at[i, "money_saved"] = take * float(table.at[i, "unit_cost"])
                table.at[i, "action"] = (f"trim {take:.0f} of {table.at[i, 'not_started_units']:.0f} not-started units "
                                         "(beyond the upper bound of remaining demand)" if take > 0 else
                                         "keep (the trim is covered by later lines)")
            elif take > 0:
                table.at[i, "action"] = "trim: cancel the not-started units (beyond the upper bound of remaining demand)"
    return table


def stock_to_clear(on_hand: float, on_order: float, backlog: float, cancelled: float = 0.0,
                   proposed: float = 0.0) -> tuple[float, str]:
    """Units the markdown must clear, from the spike state's position: on hand plus what still arrives (on order,
    plus what chapter 03 proposes this run, less what the brake cancels) minus the backlog already sold; never
    below 0. Returns (units, how)."""
    arriving = max(float(on_order) + float(proposed) - float(cancelled), 0.0)
    units = max(float(on_hand) + arriving - float(backlog), 0.0)
    parts = [f"{on_order:,.0f} on order"] + ([f"{proposed:,.0f} proposed by chapter 03"] if proposed else []) \
        + ([f"- {cancelled:,.0f} braked"] if cancelled else [])
    how = (f"{on_hand:,.0f} on hand + {arriving:,.0f} arriving"
           + (f" ({' + '.join(parts).replace('+ -', '-')})" if len(parts) > 1 else "")
           + f" - {backlog:,.0f} backlog already sold")
    return units, how


def markdown_start(as_of, decline_from=None, start_day: int = 3) -> pd.Timestamp:
    """First markdown day: day ``start_day`` of the decline (``decline_from`` is its day 1), and never before the
    day after ``as_of`` (prices change at the start of a day). Without a decline, the day after ``as_of``."""
    tomorrow = _naive_day(as_of) + DAY
    if decline_from is None or pd.isna(decline_from):
        return tomorrow
    return max(_naive_day(decline_from) + (int(start_day) - 1) * DAY, tomorrow)


def demand_from(daily: Sequence[Mapping] | pd.DataFrame, start, days: int, level: str = "expected") -> np.ndarray:
    """``days`` days of forecast demand from the date ``start`` out of a daily forecast table (the spike state's
    ``forecast["daily"]``: day, expected, low, high). Days past the table's end hold its last value."""
    table = pd.DataFrame(daily)
    if table.empty:
        return np.zeros(int(days))
    dates = pd.to_datetime(table["day"]).dt.normalize()
    values = table[level].to_numpy(dtype=float)
    first = _naive_day(start)
    out = []
    for k in range(int(days)):
        hit = np.flatnonzero((dates == first + k * DAY).to_numpy())
        if hit.size:
            out.append(values[hit[0]])
        else:
            out.append(values[-1] if first + k * DAY > dates.iloc[-1] else values[0])
    return np.asarray(out, dtype=float)


# ------------------------------------------------------------------------------------------- price response


@dataclass
class Elasticity:
    """Price elasticity of daily orders: units = base x (price/p0)^estimate."""

    estimate: float
    se: float | None
    n_days: int
    price_levels: int
    source: str  # "data" or "parameter"
    note: str

    def to_dict(self) -> dict:
        return {"estimate": self.estimate, "se": self.se, "n_days": self.n_days, "price_levels": self.price_levels,
                "source": self.source, "note": self.note}


def estimate_elasticity(sales: pd.DataFrame, as_of, *, fallback: float = -2.0, window_days: int = 14,
                        trend: pd.Series | None = None, min_t: float = 2.0) -> Elasticity:
    """Log-log regression of daily orders on price over the last ``window_days`` days up to ``as_of``.

    The lifecycle trend is controlled either by ``trend`` (expected orders per day at the normal price, e.g.
    from the Bass fit, used as an offset) or by a quadratic in time on the log scale. Needs at least two
    price levels (1% apart); the estimate is used only when negative with |t| >= ``min_t``, else ``fallback``.
    """
    orders = daily_series(sales, as_of, value="orders")
    prices = daily_series(sales, as_of, value="price").reindex(orders.index)
    start = orders.index.max() - pd.Timedelta(days=window_days) if len(orders) else None
    keep = (orders.index > start) & (prices > 0).to_numpy() if start is not None else np.zeros(0, bool)
    y, price, stamps = orders[keep].to_numpy(), prices[keep].to_numpy(), orders.index[keep]
    levels = int(len(np.unique(np.round(np.log(price) / 0.01)))) if len(price) else 0
    if levels < 2:
        return Elasticity(fallback, None, int(len(y)), levels, "parameter",
                          "no price variation up to as_of: the elasticity is the parameter")
    log_y = np.log(y + 0.5)
    log_p = np.log(price / np.median(price))
    if trend is not None:
        offset = np.log(np.maximum(trend.reindex(stamps).to_numpy(dtype=float), 1e-9))
        ok = np.isfinite(offset)
        x = np.column_stack([np.ones(ok.sum()), log_p[ok]])
        target = log_y[ok] - offset[ok]
    else:
        tt = ((stamps - stamps[0]) / DAY).to_numpy(dtype=float)
        tt = (tt - tt.mean()) / max(tt.std(), 1.0)
        x = np.column_stack([np.ones_like(tt), log_p, tt, tt ** 2])
        target = log_y
    if len(target) <= x.shape[1]:
        return Elasticity(fallback, None, int(len(target)), levels, "parameter",
                          "too few days to separate price from trend: the elasticity is the parameter")
    coef, *_ = np.linalg.lstsq(x, target, rcond=None)
    resid = target - x @ coef
    sigma2 = float(resid @ resid) / max(len(target) - x.shape[1], 1)
    cov = sigma2 * np.linalg.pinv(x.T @ x)
    est, se = float(coef[1]), float(math.sqrt(max(cov[1, 1], 0.0)))
    if est < 0 and (se == 0 or abs(est) / se >= min_t):
        return Elasticity(est, se, int(len(target)), levels, "data",
                          f"estimated from {levels} price levels over {len(target)} days")
    return Elasticity(fallback, se, int(len(target)), levels, "parameter",
                      f"estimate {est:.2f} (se {se:.2f}) is not clearly negative: the elasticity is the parameter")


# ------------------------------------------------------------------------------------------- markdown


@dataclass
class MarkdownPlan:
    """A stepped markdown: per-step table, per-day table, the share of stock cleared and whether it meets the goal."""

    table: pd.DataFrame
    daily: pd.DataFrame
    stock_units: float
    cleared_share: float
    target_share: float
    target_met: bool
    discount_step: float
    elasticity: float

    def describe(self) -> str:
        if self.stock_units <= 0:
            return "no stock to clear"
        if self.discount_step == 0:
            return (f"no markdown needed: expected sales clear {self.cleared_share:.0%} of {self.stock_units:.0f} "
                    "units at the normal price")
        steps = ", ".join(f"{d:.0%}" for d in self.table["discount"])
        met = "meets" if self.target_met else "MISSES"
        return (f"markdown {steps} in {len(self.table)} steps clears {self.cleared_share:.0%} of "
                f"{self.stock_units:.0f} units in {len(self.daily)} days ({met} the {self.target_share:.0%} goal)")


def _play(stock, base, discounts, elasticity):
    left = float(stock)
    sold = np.zeros(len(base))
    for i, (b, d) in enumerate(zip(base, discounts)):
        sold[i] = min(left, b * (1.0 - d) ** elasticity)
        left -= sold[i]
    return sold


def markdown_ladder(stock_units: float, remaining_demand_by_day, price: float, elasticity: float = -2.0,
                    clear_share: float = 0.8, days: int = 7, start_day: int = 3, steps: int = 3, *,
                    grain: float = 0.05, max_discount: float = 0.6, start_date=None) -> MarkdownPlan:
    """Stepped price cuts over ``days`` days, the smallest that sell ``clear_share`` of the stock.

    Demand at the normal price on markdown day k is ``remaining_demand_by_day[k]``; at a discount d it is
    that x (1 - d)^elasticity (constant elasticity). The days are split into ``steps`` near-equal steps whose
    discounts are 1, 2, 3 ... x a common increment (a multiple of ``grain``, each capped at ``max_discount``);
    the smallest increment whose expected sales (never more than the stock left) reach the goal is chosen,
    else the deepest. ``start_date`` labels the first markdown day (the decline's day ``start_day``).
    """
    stock_units = _positive("stock_units", stock_units, allow_zero=True)
    price = _positive("price", price, allow_zero=True)
    if not 0 < clear_share <= 1:
        raise ConfigError(f"clear_share={clear_share!r} must be above 0 and at most 1")
    if elasticity >= 0:
        raise ConfigError(f"elasticity={elasticity!r} must be negative (a lower price sells more)")
    days, steps = int(days), int(steps)
    if days < 1 or steps < 1 or steps > days:
        raise ConfigError(f"days={days!r} and steps={steps!r}: need 1 <= steps <= days")
    if isinstance(remaining_demand_by_day, pd.DataFrame):
        base = remaining_demand_by_day["expected"].to_numpy(dtype=float)
    else:
        base = np.asarray(remaining_demand_by_day, dtype=float)
    if len(base) < days:
        raise ConfigError(f"remaining_demand_by_day has {len(base)} days; the markdown needs {days}")
    base = np.maximum(base[:days], 0.0)
    step_of_day = np.concatenate([np.full(len(chunk), k) for k, chunk in enumerate(np.array_split(np.arange(days), steps))])
    goal = clear_share * stock_units
    chosen = None
    increments = np.arange(0, max_discount / 1 + grain / 2, grain)
    for inc in increments:
        discounts = np.minimum((step_of_day + 1) * inc, max_discount)
        sold = _play(stock_units, base, discounts, elasticity)
        chosen = (inc, discounts, sold)
        if sold.sum() >= goal - 1e-9 or stock_units == 0:
            break
    inc, discounts, sold = chosen
    start = pd.Timestamp(start_date).normalize() if start_date is not None else None
    dates = [start + k * DAY if start is not None else pd.NaT for k in range(days)]
    daily = pd.DataFrame({
        "day": np.arange(1, days + 1), "date": dates, "step": step_of_day + 1, "discount": discounts,
        "price": price * (1 - discounts), "demand_full_price": base, "expected_units": sold,
        "cumulative_units": np.cumsum(sold),
    })
    daily["cleared_share"] = daily["cumulative_units"] / stock_units if stock_units > 0 else 1.0
    table = daily.groupby("step", as_index=False).agg(
        from_day=("day", "first"), from_date=("date", "first"), price=("price", "first"),
        discount=("discount", "first"), expected_units=("expected_units", "sum"),
        cleared_share=("cleared_share", "last"))
    cleared = float(daily["cleared_share"].iloc[-1])
    return MarkdownPlan(table=table, daily=daily, stock_units=stock_units, cleared_share=cleared,
                        target_share=clear_share, target_met=cleared >= clear_share - 1e-9,
                        discount_step=float(inc), elasticity=float(elasticity))


# ------------------------------------------------------------------------------------------- commitments


def long_term_commitment_risk(orders: pd.DataFrame | None, remaining_high: float, spike_end, *,
                              production: pd.DataFrame | None = None, as_of=None,
                              stock_units: float = 0.0) -> pd.DataFrame:
    """Flags volume the spike may not sell: the handbook's "never commit to long-term volume because of a spike".

    ``orders`` is chapter 03's purchase orders, or the suppliers table (``min_order``). Risks flagged:
    - open volume (units not yet arrived, plus ``stock_units``) above ``remaining_high``, the upper bound of
      the spike's remaining demand;
    - a supplier's units arriving after ``spike_end`` (from ``production`` arrival dates);
    - a minimum order above ``remaining_high`` (suppliers table).
    """
    columns = ["supplier", "risk", "units", "detail"]
    rows = []
    if orders is None or len(orders) == 0:
        return pd.DataFrame(columns=columns)
    end_day = _naive_day(spike_end)
    if "min_order" in orders.columns:
        for supplier, minimum in zip(orders["supplier"].astype(str), orders["min_order"].astype(float)):
            if minimum > remaining_high:
                rows.append({"supplier": supplier, "risk": "minimum order above remaining demand", "units": minimum,
                             "detail": f"min order {minimum:.0f} > upper bound of remaining demand {remaining_high:.0f}"})
        return pd.DataFrame(rows, columns=columns)
    open_units = float(orders["units"].sum())
    if production is not None and len(production):
        arrive = pd.to_datetime(production["arrival_date"])
        if getattr(arrive.dt, "tz", None) is not None:
            arrive = arrive.dt.tz_localize(None)
        arrive = arrive.dt.normalize()
        units = production["units"].astype(float)
        if as_of is not None:
            open_units = float(units[arrive > _naive_day(as_of)].sum())
        late = production.assign(_arrive=arrive.to_numpy())[arrive > end_day]
        for supplier, part in late.groupby("supplier", sort=True):
            rows.append({"supplier": str(supplier), "risk": "arrives after the spike ends",
                         "units": float(part["units"].sum()),
                         "detail": f"{part['units'].sum():.0f} units arrive {part['_arrive'].min():%m-%d} to "
                                   f"{part['_arrive'].max():%m-%d}, after the expected end {end_day:%m-%d}"})
    if open_units + stock_units > remaining_high:
        rows.append({"supplier": "(all)", "risk": "volume above remaining demand", "units": open_units + stock_units,
                     "detail": f"{open_units:.0f} units still to arrive + {stock_units:.0f} in stock > upper bound of "
                               f"remaining spike demand {remaining_high:.0f}"})
    return pd.DataFrame(rows, columns=columns)


# ------------------------------------------------------------------------------------------- the call


ORDERING_PHASES = ("launching", "rising")  # chapter 03 orders the increment in these (spikekit.state)


def braking(phase: str | None, signal: DeclineSignal) -> bool:
    """Brake production once the spike is declining or over (its phase), or when the decline signal has fired past
    the top (phase peak). While the spike is launching or rising the phase rules: it reads the sales and, on sold-out
    days, the demand estimated from the same search series, and chapter 03 orders on it; braking then would cancel
    the order the same brief places. Without a phase (no spike state) the signal alone decides."""
    if phase in BRAKE_PHASES:
        return True
    return signal.fired and phase not in ORDERING_PHASES


def marking_down(phase: str | None, signal: DeclineSignal) -> bool:
    """Mark the price down only once the spike is declining or over; without a phase, once the signal fired. Never
    while it still rises or peaks: 'hold the price' and 'mark down' must not be called on the same day."""
    return phase in BRAKE_PHASES if phase is not None else signal.fired


def decide(fit: BassFit | None, signal: DeclineSignal, brakes: pd.DataFrame, plan: MarkdownPlan | None,
           risks: pd.DataFrame, phase: str | None = None, trim: str | None = None) -> tuple[str, list[str]]:
    """The exit call from the spike's phase and the decline signal. Returns (verdict, reasons).

    - **exit** when the spike is declining or over (``phase``; without one: the signal fired): brake what is open
      and mark down;
    - **brake** when the decline signal fired while the phase does not show the decline yet: brake what is open,
      the markdown waits for the decline;
    - **brake** also past the top (phase peak) when ``trim`` says why: stock and open orders beyond the upper bound
      of the remaining demand (``excess_on_order``), their not-started production cancelled (``brakes``);
    - **hold course** otherwise; past the top (phase peak) no new production is ordered anyway, and long-term
      commitment risks are warnings.
    """
    reasons = [f"spike phase: {phase}"] if phase is not None else []
    reasons.append(signal.describe())
    if fit is None:
        reasons.append("no lifecycle fit: the spike has not taken off in the sales" if phase is None or phase not in
                       ("exited",) else "the spike is over: no lifecycle fit needed")
    else:
        reasons.append(f"Bass fit on {fit.n_days} days from the start of the rise {fit.takeoff:%m-%d}: peak "
                       f"{fit.peak_date:%m-%d} ({fit.conf:.0%} interval {fit.peak_low:%m-%d} to {fit.peak_high:%m-%d}), "
                       f"remaining spike demand {fit.remaining:.0f} units ({fit.remaining_low:.0f} to "
                       f"{fit.remaining_high:.0f})")
    cancelled = brakes[brakes["units"] > 0] if len(brakes) and "units" in brakes else brakes.iloc[0:0]
    units = float(cancelled["units"].sum()) if len(cancelled) else 0.0
    saved = float(cancelled["money_saved"].fillna(0).sum()) if len(cancelled) else 0.0
    brake_line = (f"brake: cancel {units:.0f} not-started units on {len(cancelled)} line(s) ({saved:,.0f} yuan), "
                  "switch to make-to-order" if len(cancelled) else
                  "brake: nothing open that has not started; switch to make-to-order")
    if marking_down(phase, signal):
        verdict = "exit"
        reasons.append(brake_line)
        if plan is not None:
            reasons.append(plan.describe())
    elif braking(phase, signal):
        verdict = "brake"
        reasons.append(brake_line)
        reasons.append(f"no markdown yet: the sales do not show the decline (phase {phase})")
    elif trim and len(cancelled):
        verdict = "brake"
        reasons.append(f"past the top with more than the spike can sell: {trim}")
        reasons.append(brake_line.replace("brake:", "trim:", 1))
        reasons.append("no markdown yet: the decline is not confirmed")
    else:
        verdict = "hold course"
        if signal.fired and phase in ORDERING_PHASES:
            reasons.append(f"the search decline signal fired, but the spike is still {phase} in the sales and the "
                           "estimated demand: no brake while chapter 03 orders on that phase; watch the next days")
        if phase == "peak":
            reasons.append("past the top: no new production is ordered (only while launching or rising); the brake "
                           "and the markdown wait for the decline")
        elif fit is not None and fit.past_peak:
            reasons.append(f"the fit puts the peak behind us even at its late end ({fit.peak_high:%m-%d}) while the "
                           f"sales still read as {phase or 'rising'}: watch the next days' sales before ordering more")
        if len(risks):
            reasons.append(f"watch {len(risks)} long-term commitment risk(s): " + "; ".join(risks["detail"].head(3)))
        if plan is not None:
            reasons.append("draft for the decline (not started): " + plan.describe())
    return verdict, reasons


def headline(verdict: str, fit: BassFit | None, signal: DeclineSignal, plan: MarkdownPlan | None,
             phase: str | None = None, brakes: pd.DataFrame | None = None) -> str:
    """One line for the run summary."""
    parts = [f"Exit: {verdict}" + (f" (phase {phase})" if phase else "")]
    if signal.fired:
        parts.append(f"decline from {signal.trigger_date:%m-%d}")
    if fit is not None:
        parts.append(f"peak {fit.peak_date:%m-%d} ({fit.peak_low:%m-%d}..{fit.peak_high:%m-%d}), "
                     f"{fit.remaining:.0f} spike units left ({fit.remaining_low:.0f}..{fit.remaining_high:.0f})")
    if brakes is not None and len(brakes) and verdict in ("brake", "exit"):
        parts.append(f"brake {brakes['units'].sum():.0f} units")
    if plan is not None and verdict == "exit":
        parts.append(f"markdown of {plan.stock_units:.0f} units clears {plan.cleared_share:.0%}" if plan.stock_units > 0
                     else "nothing left to mark down")
    return "; ".join(parts)


# ------------------------------------------------------------------------------------------- figures


def plot_fit(fit: BassFit, daily, days_after: int = 7):
    """Daily orders with the fitted curve, the peak date interval and as_of."""
    import matplotlib.pyplot as plt

    from .plots import finish

    series = daily_series(daily, fit.as_of)
    fig, ax = plt.subplots()
    shown = series[series.index >= fit.takeoff - 14 * DAY]
    ax.bar((shown.index - DAY / 2).tz_localize(None), shown.to_numpy(), width=0.8, alpha=0.5,
           label="orders (known by as_of)")
    horizon = max(int(math.ceil((fit.end_high - fit.as_of) / DAY)) + days_after, days_after)
    past = int(math.ceil((fit.as_of - fit.takeoff) / DAY))
    curve = fit.expected_daily(fit.takeoff, past + horizon)
    ax.plot((curve["timestamp"] - DAY / 2).dt.tz_localize(None), curve["expected"], color="tab:red",
            label="Bass fit (baseline + spike)")
    ax.axvspan(fit.peak_low.tz_localize(None), fit.peak_high.tz_localize(None), color="tab:orange", alpha=0.15,
               label=f"peak date, {fit.conf:.0%} interval")
    ax.axvline(fit.as_of.tz_localize(None), color="grey", linestyle="--", label="as_of")
    ax.legend(loc="upper left", fontsize="small")
    fig.autofmt_xdate()
    finish(ax, f"Spike life curve: peak {fit.peak_date:%m-%d}, {fit.remaining:.0f} units to go", "date",
           "orders per day (units)")
    return fig


def plot_fit_path(path: pd.DataFrame):
    """Peak date estimate and interval by as_of: how the fit moves as data arrives."""
    import matplotlib.pyplot as plt

    from .plots import finish

    fig, ax = plt.subplots()
    rows = path.dropna(subset=["peak_date"]) if "peak_date" in path else path.iloc[0:0]
    if len(rows):
        x = pd.DatetimeIndex(rows["as_of"]).tz_localize(None)
        ax.fill_between(x, pd.DatetimeIndex(rows["peak_low"]).tz_localize(None),
                        pd.DatetimeIndex(rows["peak_high"]).tz_localize(None), alpha=0.25, label="peak date interval")
        ax.plot(x, pd.DatetimeIndex(rows["peak_date"]).tz_localize(None), marker="o", label="peak date estimate")
        ax.plot(x, x, color="grey", linestyle=":", label="as_of (the peak is behind below this line)")
        ax.legend(loc="upper left", fontsize="small")
    fig.autofmt_xdate()
    finish(ax, "How the peak estimate moves as data arrives", "as_of (date of the refit)", "estimated peak date")
    return fig


def plot_decline(evidence: pd.DataFrame | DeclineSignal):
    """Day-over-day change of the smoothed series against the drop threshold, drops and the trigger marked."""
    import matplotlib.pyplot as plt

    from .plots import finish

    signal = evidence if isinstance(evidence, DeclineSignal) else None
    table = signal.evidence if signal is not None else evidence
    table = table.dropna(subset=["change"]).tail(42)
    fig, ax = plt.subplots()
    colours = np.where(table["drop"], "tab:red", "tab:blue")
    ax.bar(table["date"], table["change"] * 100, color=colours, alpha=0.7, label="change vs reference (red: a drop)")
    if signal is not None:
        ax.axhline(-signal.drop * 100, color="tab:red", linestyle="--", label=f"-{signal.drop:.0%} threshold")
        if signal.fired:
            ax.axvline(signal.trigger_date, color="black", linestyle=":", label=f"trigger {signal.trigger_date:%m-%d}")
    ax.legend(loc="lower left", fontsize="small")
    fig.autofmt_xdate()
    finish(ax, "Decline signal: daily change of the weekday-adjusted series", "day counted", "change (%)")
    return fig


def plot_markdown(ladder: MarkdownPlan):
    """Price by markdown day (steps) and the cumulative share of stock cleared against the goal."""
    import matplotlib.pyplot as plt

    from .plots import finish

    daily = ladder.daily
    fig, ax = plt.subplots()
    ax.step(daily["day"], daily["price"], where="mid", color="tab:blue", label="price (yuan)")
    ax.set_ylim(bottom=0)
    share = ax.twinx()
    share.plot(daily["day"], daily["cleared_share"] * 100, marker="o", color="tab:green", label="stock cleared (%)")
    share.axhline(ladder.target_share * 100, color="tab:green", linestyle="--", label=f"goal {ladder.target_share:.0%}")
    share.set_ylim(0, 105)
    share.set_ylabel("cumulative share of stock cleared (%)")
    share.grid(False)
    lines, labels = ax.get_legend_handles_labels()
    more, more_labels = share.get_legend_handles_labels()
    ax.legend(lines + more, labels + more_labels, loc="lower left", fontsize="small")
    finish(ax, "Markdown ladder: " + ladder.describe(), "markdown day", "price (yuan)")
    return fig
