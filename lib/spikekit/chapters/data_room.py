"""Chapter 07, 小时级数据看板: the hourly data room, where traffic comes from, where buyers drop out, who they are.

Handbook rules of thumb, each a setting below:

- an hourly heatmap of visitors by traffic source (推荐, 搜索, 直播, 广告);
- the view -> add-to-cart -> pay funnel per platform, with the drop-off at each step;
- the audience mix refreshed every 12 hours;
- the case: one platform converts 1.2% against a 3% average while another converts 4.1% -> move 30% of the
  weak platform's daily budget to the strong one; women 25-35 go from 40% to 65% of visitors -> change the
  creative.

The chapter reruns every hour, so everything here is a handful of vectorised group-bys over a week of hourly
rows. Every function that takes ``as_of`` ignores rows stamped after it (timestamps are the END of the hour or
12-hour window counted, so a row stamped at ``as_of`` is complete and used).

**Budget rule.** Each platform's conversion (orders / views over the window) is compared with the pooled
conversion of all the other platforms by a one-sided two-proportion test: the pooled z-test when every expected
cell count is at least 5 (Cochran's rule), else Fisher's exact test. A platform is *poor* when its rate is
below the others' with p < ``alpha`` and at least ``margin`` (a fraction) below it, *strong* when above on the
same terms. ``move_share`` of each poor platform's daily budget goes to the strong platforms pro rata to their
conversion. No strong platform, no poor platform, or counts too small to make the gap real: no move.

**Audience rule.** Visitor shares per segment in each 12-hour window (all platforms pooled unless one is named).
The latest window is compared with a baseline (the windows just before it, or the first windows of the spike);
a segment *shifts* when its share moves by at least ``min_shift`` and a two-sided two-proportion test gives
p < ``alpha`` -> "change the creative".

Two tests at alpha 0.05 on each of six platforms every hour will now and then fire on noise; the margin
setting (and reading the evidence column, which states both rates and the p-value) is the guard.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd
from scipy import stats as _st

from ..core._common import settings_from_mapping
from ..core.errors import ConfigError, InputError
from ..core.tables import format_p

__all__ = [
    "DataRoomSettings",
    "BudgetPlan",
    "AudienceShift",
    "heatmap_table",
    "funnel_table",
    "two_proportion_test",
    "budget_moves",
    "audience_shift",
    "review",
    "headline",
    "plot_heatmap",
    "plot_funnel",
    "plot_audience",
    "live_frontend",
    "live_view",
    "explore_table",
]

INTERVALS = ("wilson", "jeffreys")
ADJUSTMENTS = ("holm", "none")
BASELINES = ("previous", "first")
CHANGE_CREATIVE, KEEP_CREATIVE = "change the creative", "keep"
POOR, STRONG, EVEN, NO_DATA = "poor", "strong", "even", "no data"
_HOUR = pd.Timedelta(hours=1)
_COCHRAN_MIN_EXPECTED = 5.0


@dataclass(frozen=True)
class DataRoomSettings:
    """The chapter's parameters (each one a notebook parameter); defaults follow the handbook.

    window_hours: hours of funnel data behind the conversion rates (ending at as_of).
    heatmap_hours: hours of traffic in the heatmap (ending at as_of).
    move_share: share of a poor platform's daily budget moved to the strong platform(s) (handbook 30%).
    alpha: significance level of every test (one-sided for the budget, two-sided for the audience).
    margin: a poor (strong) platform must also convert at least this fraction below (above) the others,
        so a real but tiny gap moves no money; 0 means any credible gap.
    conf: level of the intervals shown for each rate.
    interval: "wilson" (score interval) or "jeffreys" (Beta(1/2, 1/2) posterior tails).
    min_shift: a segment's share must move by at least this much (0.15 = 15 percentage points).
    audience_windows: 12-hour windows in the comparison: the latest one against the pooled
        ``audience_windows - 1`` windows of the baseline.
    audience_baseline: "previous": the windows just before the latest; "first": the first windows of the data
        (the start of the spike).
    adjust: "holm" (default) holds the chance of any false flag among the platforms (or segments) compared
        at ``alpha`` each run, by Holm's step-down adjustment of the p-values; "none" tests each at ``alpha``.
    """

    window_hours: float = 24.0
    heatmap_hours: float = 48.0
    move_share: float = 0.30
    alpha: float = 0.05
    margin: float = 0.0
    conf: float = 0.95
    interval: str = "wilson"
    min_shift: float = 0.15
    audience_windows: int = 2
    audience_baseline: str = "previous"
    adjust: str = "holm"

    def __post_init__(self):
        def number(name, low, high, *, open_low=False, open_high=False):
            value = getattr(self, name)
            ok = (not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
                  and math.isfinite(value)
                  and (value > low if open_low else value >= low) and (value < high if open_high else value <= high))
            if not ok:
                raise ConfigError(f"{name}={value!r} must be a number in {'(' if open_low else '['}{low:g}, "
                                  f"{high:g}{')' if open_high else ']'}")

        number("window_hours", 0, math.inf, open_low=True, open_high=True)
        number("heatmap_hours", 0, math.inf, open_low=True, open_high=True)
        number("move_share", 0, 1)
        number("alpha", 0, 1, open_low=True, open_high=True)
        number("margin", 0, 1, open_high=True)
        number("conf", 0, 1, open_low=True, open_high=True)
        number("min_shift", 0, 1)
        if self.interval not in INTERVALS:
            raise ConfigError(f"interval={self.interval!r} must be one of {', '.join(INTERVALS)}")
        if self.adjust not in ADJUSTMENTS:
            raise ConfigError(f"adjust={self.adjust!r} must be one of {', '.join(ADJUSTMENTS)}")
        if self.audience_baseline not in BASELINES:
            raise ConfigError(f"audience_baseline={self.audience_baseline!r} must be one of {', '.join(BASELINES)}")
        if isinstance(self.audience_windows, bool) or not isinstance(self.audience_windows, (int, np.integer)) \
                or self.audience_windows < 2:
            raise ConfigError(f"audience_windows={self.audience_windows!r} must be a whole number of at least 2 "
                              "(the latest window and at least one to compare it with)")

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any]) -> "DataRoomSettings":
        """Build from notebook parameters; unknown names are refused (papermill itself only warns)."""
        return settings_from_mapping(cls, params, "data-room")


# ----------------------------------------------------------------------------------------------------------
# Time windows
# ----------------------------------------------------------------------------------------------------------
def _cutoff(as_of, stamps: pd.Series) -> pd.Timestamp:
    """``as_of`` in the frame's time zone (a naive as_of is local time there)."""
    try:
        moment = pd.Timestamp(as_of)
    except (TypeError, ValueError):
        raise ConfigError(f"as_of {as_of!r} is not a date/time; give e.g. '2025-03-09 12:00'") from None
    if moment is pd.NaT:
        raise ConfigError("as_of is empty; give the moment to evaluate at, e.g. '2025-03-09 12:00'")
    tz = getattr(stamps.dt, "tz", None)
    if tz is not None:
        return moment.tz_localize(tz) if moment.tzinfo is None else moment.tz_convert(tz)
    return moment.tz_localize(None) if moment.tzinfo is not None else moment


def _in_window(frame: pd.DataFrame, as_of, hours: float | None) -> tuple[pd.DataFrame, pd.Timestamp, pd.Timestamp | None]:
    """Rows with start < timestamp <= as_of (start = as_of - hours; no start when hours is None)."""
    end = _cutoff(as_of, frame["timestamp"])
    keep = frame["timestamp"] <= end
    start = None
    if hours is not None:
        start = end - pd.Timedelta(hours=float(hours))
        keep &= frame["timestamp"] > start
    return frame.loc[keep], end, start


def _text(values) -> np.ndarray:
    return np.asarray(pd.Series(values).astype(str), dtype=object)


# ----------------------------------------------------------------------------------------------------------
# Heatmap
# ----------------------------------------------------------------------------------------------------------
def heatmap_table(traffic: pd.DataFrame, as_of, hours: float = 48, *, layout: str = "hour_of_day",
                  platform: str | None = None) -> pd.DataFrame:
    """Visitors by traffic source (rows) and hour (columns) over the ``hours`` ending at ``as_of``.

    layout="hour_of_day": columns 0..23, the hour of day the visits STARTED in (a row stamped 10:00 counts
    09:00-10:00, so it lands in column 9), summed over days and platforms. layout="timeline": one column per
    hour, labelled by its end time. ``platform`` keeps one platform only. Sources are ordered by total
    visitors; the table's grand total equals the visitors of the rows used.
    """
    if layout not in ("hour_of_day", "timeline"):
        raise ConfigError(f"layout={layout!r} must be 'hour_of_day' or 'timeline'")
    rows, end, start = _in_window(traffic, as_of, hours)
    if platform is not None:
        rows = rows.loc[_text(rows["platform"]) == str(platform)]
    sources = _text(rows["source"])
    visitors = rows["visitors"].to_numpy(dtype=np.int64)
    if layout == "hour_of_day":
        column = (rows["timestamp"] - _HOUR).dt.hour.to_numpy()
        columns = pd.RangeIndex(24, name="hour of day")
    else:
        column = rows["timestamp"].reset_index(drop=True)
        columns = pd.DatetimeIndex(
            pd.date_range(end=end, periods=int(math.ceil(float(hours))), freq="h"), name="hour ending")
    table = (pd.DataFrame({"source": sources, "column": np.asarray(column) if layout == "hour_of_day" else column,
                           "visitors": visitors})
             .groupby(["source", "column"], sort=False)["visitors"].sum()
             .unstack("column", fill_value=0))
    table = table.reindex(columns=columns, fill_value=0).fillna(0).astype(np.int64)
    table = table.loc[table.sum(axis=1).sort_values(ascending=False, kind="stable").index]
    table.index.name = "source"
    table.attrs.update({"start": start, "end": end, "layout": layout, "platform": platform,
                        "total": int(visitors.sum())})
    return table


def peak_hours(heat: pd.DataFrame, top: int = 3) -> list:
    """The ``top`` columns (hours) with the most visitors over all sources, busiest first."""
    totals = heat.sum(axis=0)
    totals = totals[totals > 0]
    return list(totals.sort_values(ascending=False, kind="stable").index[:top])


# ----------------------------------------------------------------------------------------------------------
# Funnel
# ----------------------------------------------------------------------------------------------------------
def _wilson_arrays(k: np.ndarray, n: np.ndarray, conf: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised ``stats.wilson`` (same formula; n = 0 gives nan, [0, 1])."""
    z = float(_st.norm.ppf(1 - (1 - conf) / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    empty = n == 0
    low = np.where(empty, 0.0, np.maximum(0.0, centre - half))
    high = np.where(empty, 1.0, np.minimum(1.0, centre + half))
    return np.where(empty, np.nan, p), low, high


def _jeffreys_arrays(k: np.ndarray, n: np.ndarray, conf: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised ``stats.jeffreys`` (0 lower bound at k = 0, 1 upper bound at k = n)."""
    tail = (1 - conf) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        low = _st.beta.ppf(tail, k + 0.5, n - k + 0.5)
        high = _st.beta.ppf(1 - tail, k + 0.5, n - k + 0.5)
    empty = n == 0
    low = np.where(empty | (k == 0), 0.0, low)
    high = np.where(empty | (k == n), 1.0, high)
    return np.where(empty, np.nan, p), low, high


def _interval_arrays(k, n, conf: float, method: str):
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    return (_wilson_arrays if method == "wilson" else _jeffreys_arrays)(k, n, conf)


FUNNEL_STEPS = (
    # (rate column, successes, trials, drop column, lost column)
    ("cart_rate", "add_to_cart", "views", "drop_view_to_cart", "lost_view_to_cart"),
    ("pay_rate", "orders", "add_to_cart", "drop_cart_to_pay", "lost_cart_to_pay"),
    ("conversion", "orders", "views", None, None),
)


def funnel_table(funnel: pd.DataFrame, as_of, window_hours: float = 24, *, conf: float = 0.95,
                 interval: str = "wilson") -> pd.DataFrame:
    """Per platform over the ``window_hours`` ending at ``as_of``: the view -> cart -> pay funnel.

    Columns: platform, hours (hours of data), views, add_to_cart, orders; for each step rate
    (cart_rate = add_to_cart / views, pay_rate = orders / add_to_cart, conversion = orders / views) the rate
    with its ``_low`` / ``_high`` interval at level ``conf`` (Wilson score, or Jeffreys); drop-offs
    (drop_view_to_cart = 1 - cart_rate, drop_cart_to_pay = 1 - pay_rate) and the people lost at each step
    (lost_view_to_cart, lost_cart_to_pay). A platform with no views has nan rates and [0, 1] intervals.
    """
    if interval not in INTERVALS:
        raise ConfigError(f"interval={interval!r} must be one of {', '.join(INTERVALS)}")
    if not 0 < float(conf) < 1:
        raise ConfigError(f"conf={conf!r} must lie strictly between 0 and 1, e.g. 0.95")
    rows, end, start = _in_window(funnel, as_of, window_hours)
    counts = (pd.DataFrame({"platform": _text(rows["platform"]),
                            "views": rows["views"].to_numpy(dtype=np.int64),
                            "add_to_cart": rows["add_to_cart"].to_numpy(dtype=np.int64),
                            "orders": rows["orders"].to_numpy(dtype=np.int64),
                            "hours": np.ones(len(rows), dtype=np.int64)})
              .groupby("platform", sort=True)[["hours", "views", "add_to_cart", "orders"]].sum()
              .reset_index())
    # The contract checks views >= add_to_cart >= orders when loading; a frame built in memory may not hold.
    broken = ((rows["add_to_cart"].to_numpy() > rows["views"].to_numpy())
              | (rows["orders"].to_numpy() > rows["add_to_cart"].to_numpy()))
    if broken.any():
        raise InputError("more add-to-carts than views, or more orders than add-to-carts in an hour",
                         file=(funnel.attrs.get("source") or {}).get("path"), column="add_to_cart",
                         rows=[int(i) + 2 for i in np.sort(funnel.index.get_indexer(rows.index[broken]))],
                         fix="each hour needs views >= add_to_cart >= orders; load the file with "
                             "sk.contracts.load_funnel, which names the rows in the file")
    table = counts.copy()
    for rate, k, n, drop, lost in FUNNEL_STEPS:
        est, low, high = _interval_arrays(counts[k], counts[n], float(conf), interval)
        table[rate], table[f"{rate}_low"], table[f"{rate}_high"] = est, low, high
        if drop:
            table[drop] = 1.0 - est
            table[lost] = counts[n] - counts[k]
    table.attrs.update({"start": start, "end": end, "conf": float(conf), "interval": interval,
                        "window_hours": float(window_hours)})
    return table


# ----------------------------------------------------------------------------------------------------------
# Budget moves
# ----------------------------------------------------------------------------------------------------------
def two_proportion_test(k1, n1, k0, n0, alternative: str = "two-sided") -> tuple[np.ndarray, np.ndarray]:
    """p-values of H0: p1 = p0 for arrays of counts, and the test used per row ("z" or "fisher").

    The pooled two-proportion z-test when every expected cell (n p and n (1 - p) in both groups, p pooled)
    is at least 5; Fisher's exact test on the 2 x 2 table otherwise. ``alternative``: "less" (p1 < p0),
    "greater" (p1 > p0) or "two-sided". Rows with no trials in a group get p = 1 (no evidence).
    """
    if alternative not in ("less", "greater", "two-sided"):
        raise ConfigError(f"alternative={alternative!r}: use 'less', 'greater' or 'two-sided'")
    k1, n1, k0, n0 = (np.atleast_1d(np.asarray(a, dtype=float)) for a in (k1, n1, k0, n0))
    if np.any((k1 < 0) | (k0 < 0) | (k1 > n1) | (k0 > n0)):
        raise InputError("a count of successes is negative or exceeds its trials")
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (k1 + k0) / (n1 + n0)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
        z = (k1 / n1 - k0 / n0) / se
    expected = np.minimum.reduce([n1 * pooled, n0 * pooled, n1 * (1 - pooled), n0 * (1 - pooled)])
    use_z = (n1 > 0) & (n0 > 0) & (expected >= _COCHRAN_MIN_EXPECTED) & (se > 0)
    if alternative == "less":
        p = _st.norm.cdf(z)
    elif alternative == "greater":
        p = _st.norm.sf(z)
    else:
        p = 2 * _st.norm.sf(np.abs(z))
    p = np.where(use_z, p, 1.0)
    method = np.where(use_z, "z", "fisher").astype(object)
    for i in np.flatnonzero(~use_z):
        if n1[i] == 0 or n0[i] == 0:
            method[i] = "none"
            continue
        table = [[int(k1[i]), int(n1[i] - k1[i])], [int(k0[i]), int(n0[i] - k0[i])]]
        p[i] = _st.fisher_exact(table, alternative=alternative).pvalue
    return np.minimum(p, 1.0), method


def holm(p_values) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values: the k-th smallest of m is multiplied by (m - k + 1), running
    maximum, capped at 1. Comparing them with alpha keeps the family-wise error rate at alpha. nan stays nan."""
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = len(finite)
    if m == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    scaled = p[order] * (m - np.arange(m))
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def _adjusted(p: np.ndarray, usable: np.ndarray, settings: "DataRoomSettings") -> np.ndarray:
    """p-values adjusted over the usable rows (the others get 1)."""
    p = np.where(usable, p, np.nan)
    if settings.adjust == "holm":
        p = holm(p)
    return np.where(usable, p, 1.0)


@dataclass(frozen=True)
class BudgetPlan:
    """Budget moves and the evidence behind them.

    ``platforms``: one row per platform: views, orders, conversion with its interval, others_rate (pooled
    conversion of the other platforms it was compared with), ratio to it, p_below / p_above (one-sided
    p-values, Holm-adjusted over the platforms unless ``adjust="none"``), test used,
    status (poor | strong | even | no data), budget_before, moved_out, moved_in, budget_after.
    ``moves``: one row per (from, to) pair: from_platform, to_platform, amount (yuan per day), both
    conversions, the others' rates they were compared with, both p-values, and an evidence sentence.
    """

    platforms: pd.DataFrame = field(repr=False)
    moves: pd.DataFrame = field(repr=False)
    average: float
    rule: str
    reasons: list

    @property
    def moved(self) -> float:
        return float(self.moves["amount"].sum()) if len(self.moves) else 0.0

    def to_dict(self) -> dict:
        return {"average": self.average, "moved": self.moved, "rule": self.rule, "reasons": list(self.reasons),
                "moves": self.moves}


def _against(views, orders, reference, settings):
    """Each platform's conversion tested against the pooled conversion of the reference platforms other than
    itself (all other platforms when it is the only reference). Returns status, the others' views and orders,
    and the adjusted one-sided p-values."""
    ref_views, ref_orders = views[reference].sum(), orders[reference].sum()
    others_views = ref_views - np.where(reference, views, 0.0)
    others_orders = ref_orders - np.where(reference, orders, 0.0)
    lonely = others_views == 0
    others_views = np.where(lonely, views.sum() - views, others_views)
    others_orders = np.where(lonely, orders.sum() - orders, others_orders)
    p_below, test = two_proportion_test(orders, views, others_orders, others_views, "less")
    p_above, _ = two_proportion_test(orders, views, others_orders, others_views, "greater")
    usable = (views > 0) & (others_views > 0)
    p_below, p_above = _adjusted(p_below, usable, settings), _adjusted(p_above, usable, settings)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate, others = orders / views, others_orders / others_views
    status = np.full(len(views), EVEN, dtype=object)
    status[(p_below < settings.alpha) & (rate <= others * (1 - settings.margin))] = POOR
    status[(p_above < settings.alpha) & (rate >= others * (1 + settings.margin))] = STRONG
    status[~usable] = NO_DATA
    return status, others_views, others_orders, p_below, p_above, test


def _classify(views: np.ndarray, orders: np.ndarray, settings: DataRoomSettings):
    """Status per platform against the pooled conversion of the ordinary platforms.

    One far-off platform drags a plain average, so ordinary platforms would look strong (or weak) beside it.
    The reference set starts as every platform with views; while some member is credibly off the pooled rate
    of the other members, the most extreme one (smallest p-value) leaves the set. Every platform is then
    tested against the pooled rate of the remaining set (without itself).
    """
    reference = views > 0
    while reference.sum() > 2:
        status, _, _, p_below, p_above, _ = _against(views, orders, reference, settings)
        off = reference & np.isin(status, (POOR, STRONG))
        if not off.any():
            break
        extreme = np.where(off, np.minimum(p_below, p_above), np.inf)
        reference[int(np.argmin(extreme))] = False
    return (*_against(views, orders, reference, settings), reference)


MOVE_COLUMNS = ["from_platform", "to_platform", "amount", "from_conversion", "to_conversion", "from_others_rate",
                "to_others_rate", "from_p_value", "to_p_value", "evidence"]


def _budget_rule(settings: DataRoomSettings) -> str:
    margin = f" and at least {settings.margin:.0%} below (above) it" if settings.margin > 0 else ""
    adjust = " (Holm-adjusted over the platforms)" if settings.adjust == "holm" else ""
    return (f"poor (strong): conversion below (above) the pooled conversion of the other ordinary platforms "
            f"(the most extreme platform is left out of the average while any is credibly off it) with one-sided "
            f"p{adjust} < {settings.alpha:g}{margin} (z-test, Fisher exact for small counts); move "
            f"{settings.move_share:.0%} of each poor platform's budget to the strong ones pro rata to conversion")


def _split_cents(amount: float, weights: np.ndarray) -> np.ndarray:
    """``amount`` split pro rata to ``weights`` in whole cents, the rounding remainder to the largest share,
    so the parts add up to the amount exactly (to the cent)."""
    cents = int(round(amount * 100))
    parts = np.floor(cents * weights / weights.sum()).astype(np.int64)
    parts[int(np.argmax(weights))] += cents - int(parts.sum())
    return parts / 100.0


def budget_moves(funnel_table: pd.DataFrame, budget: pd.DataFrame,
                 settings: DataRoomSettings | None = None) -> BudgetPlan:
    """Which platforms convert credibly worse or better than the rest, and the budget moves that follow.

    ``funnel_table`` is ``funnel_table()``'s output; ``budget`` has platform, daily_budget. A platform
    without a budget row has budget 0 (it can receive money but has none to give); a budget row without
    funnel data keeps its budget ("no data"). Total budget is conserved to the cent.
    """
    settings = settings or DataRoomSettings()
    rule = _budget_rule(settings)
    ft = funnel_table
    views = ft["views"].to_numpy(dtype=float)
    orders = ft["orders"].to_numpy(dtype=float)
    status, others_views, others_orders, p_below, p_above, test, reference = _classify(views, orders, settings)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = orders / views
        others = others_orders / others_views
        ratio = rate / others

    platforms = pd.DataFrame({
        "platform": _text(ft["platform"]),
        "views": ft["views"].to_numpy(), "orders": ft["orders"].to_numpy(),
        "conversion": ft["conversion"].to_numpy(dtype=float),
        "conversion_low": ft["conversion_low"].to_numpy(dtype=float),
        "conversion_high": ft["conversion_high"].to_numpy(dtype=float),
        "others_rate": others, "ratio": ratio, "p_below": p_below, "p_above": p_above, "test": test,
        "status": status, "in_average": reference,
    })
    budgets = pd.DataFrame({"platform": _text(budget["platform"]),
                            "budget_before": budget["daily_budget"].to_numpy(dtype=float)})
    platforms = platforms.merge(budgets, on="platform", how="outer", sort=True)
    platforms["status"] = platforms["status"].fillna(NO_DATA)
    platforms["in_average"] = platforms["in_average"].astype(object).fillna(False).astype(bool)
    platforms["test"] = platforms["test"].fillna("none")
    platforms[["views", "orders"]] = platforms[["views", "orders"]].fillna(0).astype(np.int64)
    platforms["budget_before"] = platforms["budget_before"].fillna(0.0)

    poor = platforms[platforms["status"] == POOR]
    strong = platforms[platforms["status"] == STRONG]
    moves = []
    ref_views, ref_orders = views[reference].sum(), orders[reference].sum()
    pooled = float(ref_orders / ref_views) if ref_views > 0 else math.nan
    reasons = [f"Average conversion ({int(reference.sum())} ordinary platforms, {int(ref_views):,} views): "
               f"{pooled:.2%}; "
               f"all platforms {orders.sum() / views.sum():.2%}." if views.sum() > 0
               else "No views in the window: no conversion to compare."]
    if len(poor) and len(strong):
        weights = strong["conversion"].to_numpy(dtype=float)
        for _, src in poor.iterrows():
            amount = settings.move_share * float(src["budget_before"])
            if amount <= 0:
                reasons.append(f"{src['platform']} converts poorly but has no budget to move.")
                continue
            for (_, dst), part in zip(strong.iterrows(), _split_cents(amount, weights)):
                evidence = (f"{src['platform']} {src['conversion']:.2%} vs others {src['others_rate']:.2%} "
                            f"(p {format_p(src['p_below'])}, {src['test']}); {dst['platform']} {dst['conversion']:.2%} "
                            f"vs others {dst['others_rate']:.2%} (p {format_p(dst['p_above'])}, {dst['test']})")
                moves.append((src["platform"], dst["platform"], float(part), src["conversion"], dst["conversion"],
                              src["others_rate"], dst["others_rate"], src["p_below"], dst["p_above"], evidence))
    elif len(poor):
        reasons.append("Poor: " + ", ".join(poor["platform"]) + "; no platform converts credibly better, so "
                       "there is nowhere better to move money: hold the budget and review that platform's page.")
    elif len(strong):
        reasons.append("Strong: " + ", ".join(strong["platform"]) + "; no platform converts credibly worse, so "
                       "no budget is taken from anyone.")
    else:
        reasons.append("No platform converts credibly differently from the others given the counts: no move.")
    moves = pd.DataFrame(moves, columns=MOVE_COLUMNS)
    out = moves.groupby("from_platform")["amount"].sum()
    into = moves.groupby("to_platform")["amount"].sum()
    platforms["moved_out"] = platforms["platform"].map(out).fillna(0.0).astype(float)
    platforms["moved_in"] = platforms["platform"].map(into).fillna(0.0).astype(float)
    platforms["budget_after"] = (platforms["budget_before"] - platforms["moved_out"] + platforms["moved_in"]).round(2)
    for _, m in moves.groupby("from_platform", sort=False):
        first = m.iloc[0]
        reasons.append(f"Move ¥{m['amount'].sum():,.2f}/day ({settings.move_share:.0%} of its budget) from "
                       f"{first['from_platform']} ({first['from_conversion']:.2%}, others {first['from_others_rate']:.2%}, "
                       f"p {format_p(first['from_p_value'])}) to " + ", ".join(
                           f"{r.to_platform} ¥{r.amount:,.2f} ({r.to_conversion:.2%})" for r in m.itertuples()) + ".")
    return BudgetPlan(platforms=platforms, moves=moves, average=pooled, rule=rule, reasons=reasons)


# ----------------------------------------------------------------------------------------------------------
# Audience shift
# ----------------------------------------------------------------------------------------------------------
ALL_PLATFORMS = "(all)"
COMPARISON_COLUMNS = ["platform", "segment", "visitors_before", "share_before", "visitors_now", "share_now", "change",
                      "p_value", "test", "flagged"]


@dataclass(frozen=True)
class AudienceShift:
    """Segment shares per 12-hour window and the latest window tested against its baseline.

    ``shares``: platform ("(all)" = pooled), window, segment, visitors, share, for every window up to as_of.
    ``comparison``: one row per platform x segment: visitors_before, share_before, visitors_now, share_now,
    change, p_value (two-sided, Holm-adjusted over all rows watched unless ``adjust="none"``), test, flagged.
    ``chi2_p``: p-value of the chi-square test that the pooled mix is unchanged. ``flagged``: some segment
    moved by >= min_shift with p < alpha; ``platform`` and ``segment`` name the largest such move (or, when
    nothing is flagged, the largest move seen).
    """

    shares: pd.DataFrame = field(repr=False)
    comparison: pd.DataFrame = field(repr=False)
    window_now: pd.Timestamp | None
    baseline_windows: list
    chi2: float
    chi2_p: float
    flagged: bool
    platform: str | None
    segment: str | None
    share_before: float
    share_now: float
    call: str
    message: str

    def to_dict(self) -> dict:
        known = self.segment is not None and not math.isnan(self.share_now)
        return {"flagged": self.flagged, "call": self.call, "platform": self.platform, "segment": self.segment,
                "share_before": self.share_before, "share_now": self.share_now,
                "change": self.share_now - self.share_before if known else None,
                "window_now": self.window_now, "baseline_windows": list(self.baseline_windows),
                "chi2": self.chi2, "chi2_p": self.chi2_p, "message": self.message}


def _segment_counts(rows: pd.DataFrame, by_platform: bool) -> pd.DataFrame:
    """Visitors with index (platform, window) and one column per segment."""
    platform = _text(rows["platform"]) if by_platform else np.full(len(rows), ALL_PLATFORMS, dtype=object)
    return (pd.DataFrame({"platform": platform, "window": rows["timestamp"].reset_index(drop=True),
                          "segment": _text(rows["segment"]), "visitors": rows["visitors"].to_numpy(dtype=np.int64)})
            .groupby(["platform", "window", "segment"], sort=True)["visitors"].sum()
            .unstack("segment", fill_value=0))


def audience_shift(audience: pd.DataFrame, as_of, segment: str | None = None,
                   settings: DataRoomSettings | None = None, *, platform: str | None = None) -> AudienceShift:
    """Visitor mix per 12-hour window up to ``as_of``; is the latest window's mix a real shift?

    The mix is tested for all platforms pooled and for each platform on its own (a shift on one platform is
    diluted in the pool); ``platform`` tests that platform only. ``segment`` watches one segment (e.g.
    "女 25-35"); None watches all. The windows compared are the latest one with visitors and, as baseline,
    the ``audience_windows - 1`` windows before it ("previous") or the first ones of the data ("first").
    With fewer windows there is nothing to compare: not flagged.
    """
    settings = settings or DataRoomSettings()
    rows, end, _ = _in_window(audience, as_of, None)
    if platform is not None:
        rows = rows.loc[_text(rows["platform"]) == str(platform)]
        counts = _segment_counts(rows, True)
    else:
        counts = pd.concat([_segment_counts(rows, False), _segment_counts(rows, True)]).fillna(0).astype(np.int64)
    segments = [str(c) for c in counts.columns]
    if segment is not None and segment not in segments:
        raise ConfigError(f"segment {segment!r} is not in the audience data; segments: {sorted(segments)}")
    totals = counts.sum(axis=1)
    shares = (counts.div(totals.where(totals > 0), axis=0).stack().rename("share").to_frame()
              .join(counts.stack().rename("visitors")).reset_index()[["platform", "window", "segment", "visitors", "share"]]
              if len(counts) else pd.DataFrame(columns=["platform", "window", "segment", "visitors", "share"]))
    # Windows are shared by all platforms: those with any visitors up to as_of.
    windows = sorted(set(totals[totals > 0].index.get_level_values("window")))
    n_base = settings.audience_windows - 1
    if len(windows) < settings.audience_windows:
        return AudienceShift(shares, pd.DataFrame(columns=COMPARISON_COLUMNS), windows[-1] if windows else None, [],
                             math.nan, math.nan, False, platform, segment, math.nan, math.nan, KEEP_CREATIVE,
                             f"only {len(windows)} 12-hour window(s) of audience data up to as_of: nothing to compare")
    now = windows[-1]
    base = windows[-1 - n_base:-1] if settings.audience_baseline == "previous" else windows[:n_base]
    parts = []
    for name, group in counts.groupby(level="platform", sort=False):
        group = group.droplevel("platform")
        before = group.reindex(base, fill_value=0).sum(axis=0).to_numpy(dtype=float)
        current = group.reindex([now], fill_value=0).iloc[0].to_numpy(dtype=float)
        n_before, n_now = before.sum(), current.sum()
        p_value, test = two_proportion_test(current, np.full(len(current), n_now), before,
                                            np.full(len(before), n_before), "two-sided")
        with np.errstate(divide="ignore", invalid="ignore"):
            parts.append(pd.DataFrame({"platform": name, "segment": segments, "visitors_before": before,
                                       "share_before": before / n_before, "visitors_now": current,
                                       "share_now": current / n_now, "p_value": p_value, "test": test}))
    cmp = pd.concat(parts, ignore_index=True)
    cmp["change"] = cmp["share_now"] - cmp["share_before"]
    watched = cmp["change"].notna().to_numpy().copy()
    if segment is not None:
        watched &= (cmp["segment"] == segment).to_numpy()
    cmp["p_value"] = _adjusted(cmp["p_value"].to_numpy(dtype=float), watched, settings)
    cmp["flagged"] = watched & (cmp["change"].abs().to_numpy() >= settings.min_shift - 1e-12) \
        & (cmp["p_value"].to_numpy() < settings.alpha)
    cmp = cmp[COMPARISON_COLUMNS]
    pooled = cmp[cmp["platform"] == (ALL_PLATFORMS if platform is None else str(platform))]
    contingency = pooled[["visitors_before", "visitors_now"]].to_numpy().T
    contingency = contingency[:, contingency.sum(axis=0) > 0]
    if contingency.shape[1] >= 2 and (contingency.sum(axis=1) > 0).all():
        chi2, chi2_p, _, _ = _st.chi2_contingency(contingency, correction=False)
    else:
        chi2, chi2_p = 0.0, 1.0
    flagged = bool(cmp["flagged"].any())
    pool = cmp[cmp["flagged"]] if flagged else cmp[watched]
    when = "the first windows of the spike" if settings.audience_baseline == "first" else "the window(s) before"
    if pool.empty:
        return AudienceShift(shares, cmp, now, base, float(chi2), float(chi2_p), False, platform, segment,
                             math.nan, math.nan, KEEP_CREATIVE, "no visitors to compare in the latest window")
    top = pool.loc[pool["change"].abs().idxmax()]
    where = "all platforms" if top["platform"] == ALL_PLATFORMS else str(top["platform"])
    message = (f"{where}: {top['segment']} {top['share_before']:.0%} -> {top['share_now']:.0%} of visitors "
               f"(window ending {now:%m-%d %H:%M} against {when}, p {format_p(top['p_value'])}, {top['test']})")
    return AudienceShift(shares, cmp, now, base, float(chi2), float(chi2_p), flagged, str(top["platform"]),
                         str(top["segment"]), float(top["share_before"]), float(top["share_now"]),
                         CHANGE_CREATIVE if flagged else KEEP_CREATIVE, message)


# ----------------------------------------------------------------------------------------------------------
# The call
# ----------------------------------------------------------------------------------------------------------
def review(plan: BudgetPlan, shift: AudienceShift, settings: DataRoomSettings | None = None) -> tuple[str, list]:
    """The verdict (MOVE BUDGET / CHANGE CREATIVE / both / HOLD) and the reasons, for ``sk.decision_box``."""
    settings = settings or DataRoomSettings()
    parts = []
    if len(plan.moves):
        parts.append("MOVE BUDGET")
    if shift.flagged:
        parts.append("CHANGE CREATIVE")
    verdict = " + ".join(parts) or "HOLD"
    reasons = list(plan.reasons) + [f"Rule: {plan.rule}."]
    if shift.flagged:
        reasons.append(f"Audience shift: {shift.message}; the creative was made for the old mix: change it.")
    else:
        reasons.append(f"Audience: no segment moved by {settings.min_shift:.0%} or more with p < {settings.alpha:g}"
                       + (f"; largest move {shift.message}." if shift.segment is not None and
                          not math.isnan(shift.share_now) else f"; {shift.message}."))
    return verdict, reasons


def headline(plan: BudgetPlan, shift: AudienceShift) -> str:
    """One line for the run summary."""
    if len(plan.moves):
        src = ", ".join(dict.fromkeys(plan.moves["from_platform"]))
        dst = ", ".join(dict.fromkeys(plan.moves["to_platform"]))
        budget = f"move ¥{plan.moved:,.0f}/day from {src} to {dst}"
    else:
        budget = "budget unchanged"
    where = "" if shift.platform in (None, ALL_PLATFORMS) else f"{shift.platform} "
    audience = f"change the creative ({where}{shift.segment} {shift.share_before:.0%} -> {shift.share_now:.0%})" \
        if shift.flagged else "creative kept"
    return f"Data room: {budget}; {audience}."


# ----------------------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------------------
def plot_heatmap(heat: pd.DataFrame, title: str | None = None):
    """Visitors by source and hour as a heatmap (darker = more visitors)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from ..core.plots import finish

    fig, ax = plt.subplots(figsize=(11, 0.55 * max(len(heat), 1) + 1.8))
    start, end = heat.attrs.get("start"), heat.attrs.get("end")
    span = f" ({start:%m-%d %H:%M} to {end:%m-%d %H:%M})" if start is not None and end is not None else ""
    title = title or f"Visitors by traffic source and hour{span}"
    if heat.empty or heat.to_numpy().sum() == 0:
        ax.text(0.5, 0.5, "no traffic in the window", ha="center", va="center", transform=ax.transAxes)
        return finish(ax, title, "hour", "traffic source").figure
    data = heat
    if heat.attrs.get("layout") == "timeline":
        data = heat.copy()
        data.columns = [f"{c:%d %H}" for c in heat.columns]
    sns.heatmap(data, ax=ax, cmap="rocket_r", cbar_kws={"label": "visitors"}, linewidths=0.2)
    xlabel = ("hour of day the visits started (0 = 00:00-01:00)" if heat.attrs.get("layout") == "hour_of_day"
              else "hour ending (day hour)")
    ax.tick_params(axis="y", labelrotation=0)
    return finish(ax, title, xlabel, "traffic source").figure


def plot_funnel(table: pd.DataFrame, plan: BudgetPlan | None = None):
    """Each step's rate per platform with its interval, and the pooled rate of all platforms as a line.

    With a budget plan, poor platforms are drawn red and strong ones green."""
    import matplotlib.pyplot as plt

    from ..core.plots import finish

    steps = [("cart_rate", "add_to_cart", "views", "view -> add to cart"),
             ("pay_rate", "orders", "add_to_cart", "add to cart -> pay"),
             ("conversion", "orders", "views", "view -> pay (conversion)")]
    colour = {POOR: "C3", STRONG: "C2", EVEN: "C0", NO_DATA: "0.6"}
    status = {}
    if plan is not None:
        status = dict(zip(plan.platforms["platform"], plan.platforms["status"]))
    fig, axes = plt.subplots(1, 3, figsize=(12, 0.45 * max(len(table), 1) + 2.2), sharey=True)
    y = np.arange(len(table))
    names = [str(p) for p in table["platform"]]
    conf = table.attrs.get("conf", 0.95)
    for ax, (rate, k, n, label) in zip(axes, steps):
        est = table[rate].to_numpy(dtype=float) * 100
        low = table[f"{rate}_low"].to_numpy(dtype=float) * 100
        high = table[f"{rate}_high"].to_numpy(dtype=float) * 100
        for i, name in enumerate(names):
            c = colour.get(status.get(name, EVEN), "C0")
            if np.isfinite(est[i]):
                ax.errorbar(est[i], y[i], xerr=[[est[i] - low[i]], [high[i] - est[i]]], fmt="o", color=c, capsize=3)
        total_n = table[n].sum()
        if total_n > 0:
            avg = 100 * table[k].sum() / total_n
            ax.axvline(avg, color="0.3", ls="--", lw=1, label=f"all platforms {avg:.2f}%")
        if rate == "conversion" and plan is not None and np.isfinite(plan.average):
            ax.axvline(100 * plan.average, color="C1", ls=":", lw=1.5,
                       label=f"average compared with {100 * plan.average:.2f}%")
        if total_n > 0:
            ax.legend(loc="best", fontsize=8)
        finish(ax, label, "rate (%)", "")
    axes[0].set_yticks(y, names)
    axes[0].invert_yaxis()
    axes[0].set_ylabel("platform")
    hours = table.attrs.get("window_hours")
    fig.suptitle(f"Funnel per platform, last {hours:g} h, {conf:.0%} intervals" if hours else "Funnel per platform",
                 fontweight="bold")
    return fig


def plot_audience(shift: AudienceShift, platform: str | None = None):
    """Stacked visitor shares per 12-hour window of one platform (default: the one where the shift was found,
    else all platforms pooled); the segment that moved is outlined and named in the title."""
    import matplotlib.pyplot as plt

    from ..core.plots import finish

    fig, ax = plt.subplots(figsize=(11, 4.2))
    shown = platform or shift.platform or ALL_PLATFORMS
    shares = shift.shares
    if not shares.empty:
        shares = shares[shares["platform"] == shown]
    if shares.empty:
        ax.text(0.5, 0.5, "no audience data up to as_of", ha="center", va="center", transform=ax.transAxes)
        return finish(ax, "Audience mix per 12-hour window", "window ending", "share of visitors (%)").figure
    wide = shares.pivot(index="window", columns="segment", values="share").fillna(0) * 100
    labels = [f"{w:%m-%d %H:%M}" for w in wide.index]
    bottom = np.zeros(len(wide))
    for j, seg in enumerate(wide.columns):
        highlight = shift.flagged and seg == shift.segment and shown == shift.platform
        ax.bar(labels, wide[seg], bottom=bottom, label=seg, color=f"C{j % 10}",
               edgecolor="black" if highlight else "white", linewidth=1.5 if highlight else 0.5)
        bottom += wide[seg].to_numpy()
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, title="segment")
    ax.set_ylim(0, 100)
    ax.tick_params(axis="x", labelrotation=45)
    title = f"Audience mix per 12-hour window, {'all platforms' if shown == ALL_PLATFORMS else shown}"
    if shift.segment is not None and np.isfinite(shift.share_now) and shown == (shift.platform or ALL_PLATFORMS):
        title += (f": {shift.segment} {shift.share_before:.0%} -> {shift.share_now:.0%}"
                  + (" (shift)" if shift.flagged else " (no shift)"))
    return finish(ax, title, "window ending", "share of visitors (%)").figure


# ----------------------------------------------------------------------------------------------------------
# Optional live view
# ----------------------------------------------------------------------------------------------------------
def live_frontend() -> bool:
    """True in a Jupyter kernel with a front end to draw widgets: started by a Jupyter server (JupyterLab,
    Notebook 7), by VS Code, or by Voilà serving a page (``spike dataroom``); False under papermill / nbclient,
    in plain Python and in tests."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or type(shell).__name__ != "ZMQInteractiveShell":
        return False
    # A Jupyter server names the session in the kernel's environment; Voilà gives the kernels it starts for a
    # page their base URL; papermill's kernels get neither.
    return bool(os.environ.get("JPY_SESSION_NAME") or os.environ.get("VSCODE_PID")
                or os.environ.get("VOILA_BASE_URL"))


# What the explorer's metric selector offers: (label, funnel_table column, successes, trials); counts have no
# successes/trials pair.
LIVE_METRICS = (
    ("conversion (view -> pay)", "conversion", "orders", "views"),
    ("add to cart (view -> cart)", "cart_rate", "add_to_cart", "views"),
    ("pay (cart -> pay)", "pay_rate", "orders", "add_to_cart"),
    ("views", "views", None, None),
    ("orders", "orders", None, None),
)


def explore_table(funnel: pd.DataFrame, as_of, window_hours: float, metric: str = "conversion",
                  platform: str | None = None, settings: DataRoomSettings | None = None) -> pd.DataFrame:
    """The explorer's table: per platform (one, or all) over the window, the counts and the chosen ``metric``
    (a ``LIVE_METRICS`` column) with its interval for a rate, then a pooled "all platforms" row; values are
    text for people (thousands separators, rates in %, "–" where there is no data)."""
    settings = settings or DataRoomSettings()
    spec = next((m for m in LIVE_METRICS if m[1] == metric), None)
    if spec is None:
        raise ConfigError(f"metric={metric!r} must be one of {', '.join(m[1] for m in LIVE_METRICS)}")
    label, column, k, n = spec
    table = funnel_table(funnel, as_of, window_hours, conf=settings.conf, interval=settings.interval)
    if platform not in (None, ALL_PLATFORMS):
        table = table[table["platform"] == platform]
    counts = ["views", "add_to_cart", "orders"]
    pooled = {c: int(table[c].sum()) for c in counts}
    rows = [{"platform": str(r["platform"]), **{c: int(r[c]) for c in counts}} for _, r in table.iterrows()]
    rows.append({"platform": "all platforms" if platform in (None, ALL_PLATFORMS) else "this platform", **pooled})
    shown = pd.DataFrame(rows, columns=["platform"] + counts)
    if k is not None:
        est, low, high = _interval_arrays(shown[k], shown[n], settings.conf, settings.interval)
        pct = lambda v: "–" if not np.isfinite(v) else f"{100 * v:.2f}%"  # noqa: E731
        shown[label] = [pct(v) for v in est]
        shown[f"{settings.conf:.0%} interval"] = ["–" if not np.isfinite(e) else f"{pct(lo)} to {pct(hi)}"
                                                  for e, lo, hi in zip(est, low, high)]
    for c in counts:
        shown[c] = [f"{v:,}" for v in shown[c]]
    shown = shown.rename(columns={"add_to_cart": "add to cart"})
    shown.attrs.update({"metric": label, "column": column, "start": table.attrs.get("start"),
                        "end": table.attrs.get("end")})
    return shown


def _plot_metric(funnel_rows: pd.DataFrame, metric: str):
    """One platform per row: the chosen rate with its interval, or the chosen count as a bar."""
    import matplotlib.pyplot as plt

    from ..core.plots import finish

    label, column, k, _ = next(m for m in LIVE_METRICS if m[1] == metric)
    fig, ax = plt.subplots(figsize=(11, 0.45 * max(len(funnel_rows), 1) + 1.8))
    names = [str(p) for p in funnel_rows["platform"]]
    y = np.arange(len(names))
    hours = funnel_rows.attrs.get("window_hours")
    title = f"{label} per platform, last {hours:g} h" if hours else f"{label} per platform"
    if not names:
        ax.text(0.5, 0.5, "no funnel data in the window", ha="center", va="center", transform=ax.transAxes)
        return finish(ax, title, label, "platform").figure
    if k is None:
        ax.barh(y, funnel_rows[column].to_numpy(dtype=float), color="C0")
        unit = label
    else:
        est = funnel_rows[column].to_numpy(dtype=float) * 100
        low = funnel_rows[f"{column}_low"].to_numpy(dtype=float) * 100
        high = funnel_rows[f"{column}_high"].to_numpy(dtype=float) * 100
        ok = np.isfinite(est)
        ax.errorbar(est[ok], y[ok], xerr=[est[ok] - low[ok], high[ok] - est[ok]], fmt="o", color="C0", capsize=3)
        unit = f"{label} (%)"
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    return finish(ax, title, unit, "platform").figure


def live_view(traffic: pd.DataFrame, funnel: pd.DataFrame, audience: pd.DataFrame, as_of,
              settings: DataRoomSettings | None = None, window_choices=(6, 12, 24, 48, 72)):
    """An ipywidgets explorer: pick a platform, a window and a metric; the summary line, the table and the
    figures below them are redrawn on each change.

    Exploration only: the chapter's calls come from the parameters. ipywidgets is imported here, lazily.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import HTML, display

    from ..core.show import filling

    def show(fig):
        display(fig)
        plt.close(fig)  # drawn once in the output area, not again by the inline backend

    settings = settings or DataRoomSettings()
    names = sorted(set(_text(funnel["platform"])) | set(_text(traffic["platform"])))
    platform = widgets.Dropdown(options=[ALL_PLATFORMS] + names, value=ALL_PLATFORMS, description="platform")
    window = widgets.Dropdown(options=list(window_choices), value=int(settings.window_hours)
                              if int(settings.window_hours) in window_choices else window_choices[0],
                              description="hours")
    metric = widgets.Dropdown(options=[(m[0], m[1]) for m in LIVE_METRICS], value="conversion",
                              description="metric")
    out = widgets.Output()

    def draw(*_):
        chosen = None if platform.value == ALL_PLATFORMS else platform.value
        with filling(out):  # one update of the whole area, no flicker; safe under a server-side runner too
            shown = explore_table(funnel, as_of, window.value, metric.value, chosen, settings)
            end = shown.attrs.get("end")
            value = shown.iloc[-1].get(shown.attrs["metric"], "–")  # the pooled row
            display(HTML(f"<p class='spike-explore-summary'><b>{shown.attrs['metric']}</b>, last {window.value} h"
                         + (f" to {end:%Y-%m-%d %H:%M}" if end is not None else "")
                         + f", {chosen or 'all platforms'}: <b>{value}</b></p>"))
            display(HTML(shown.to_html(index=False, classes="spike-explore-table", border=0)))
            rows = funnel_table(funnel, as_of, window.value, conf=settings.conf, interval=settings.interval)
            if chosen is not None:
                rows = rows[rows["platform"] == chosen]
            show(_plot_metric(rows, metric.value))
            show(plot_heatmap(heatmap_table(traffic, as_of, window.value, platform=chosen)))
            show(plot_audience(audience_shift(audience, as_of, None, settings, platform=chosen)))

    for control in (platform, window, metric):
        control.observe(draw, names="value")
    draw()
    return widgets.VBox([widgets.HBox([platform, window, metric]), out], layout={"width": "100%"})
