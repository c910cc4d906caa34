"""Chapter 04, 滚动式小批量补货: rolling small-batch replenishment through the spike.

The handbook's rules: first order = 50% of the validation-period sales; the reorder point ("alarm line")
is 7 days of sales and triggers a small batch; promotion depth follows stock depth (deep stock: push; thin
stock: hold the price).

Chapter 04 watches; chapter 03 is the one chapter that orders. On the spike's state (``sk.spike_state()``:
phase, stock position, the shared demand forecast) this module gives:

- the forecast as paths to simulate (``DemandForecast.from_state``): the shared forecast's expected days, its
  interval as a lognormal level uncertainty, Poisson day-to-day counts;
- the classic service-level reorder point next to the 7-day rule (``compare_reorder_points``), per day,
  because in a spike both move with the forecast;
- when the next order is due (``next_order_due``): the first day the inventory position (on hand + on
  order + chapter 03's proposal - backlog), run down by the forecast, falls to the reorder point; the call
  (``verdict``) names chapter 03's order of today (``chapter03_order``), past the top its backlog-only order,
  rather than reading as a second order;
- a seeded Monte Carlo of the stock day by day if nothing more is ordered (``simulate``), vectorised over runs:
  stock bands, the stock-out probability by day, the fill rate and the expected leftover at the end; the
  backlog of pre-sold units is served first (``net_of_backlog``);
- the promotion ladder by days of cover (``promotion_ladder``, ``promotion_now``), gated by the phase
  (``promotion_for_phase``: no push while the spike is young, chapter 06's markdown once it declines).

Day numbering (shared with chapter 03): day d is the d-th day after ``as_of`` (day 1 is the first day after
the order is placed); its ``date`` is that calendar day. Within a day, arrivals due that day land first, then
the day's demand is served (sales = min(stock, demand); the rest is lost), then stock is reviewed and an order
may be placed. An order placed at the end of day d with a lead time of L days (whole days, rounded up) lands
at the start of day d + L. Day 0 is ``as_of`` itself: stock is reviewed once before any demand.

Time discipline: nothing here reads timestamped rows. The state (derived as of ``as_of``), chapter 02's and
chapter 03's results are all known at ``as_of``; ``start`` (= as_of) only labels the days.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from ..core._common import json_safe as _json_safe, settings_from_mapping
from ..core.errors import ConfigError, InputError

__all__ = [
    "InventorySettings",
    "DemandForecast",
    "ReorderPoint",
    "ReorderChoice",
    "ReorderPolicy",
    "SimulationResult",
    "stock_position",
    "first_order",
    "reorder_point_rule",
    "reorder_point_service",
    "demand_forecast",
    "compare_reorder_points",
    "make_policy",
    "arrivals_by_day",
    "simulate",
    "order_schedule",
    "promotion_ladder",
    "promotion_now",
    "promotion_plan",
    "decide",
    "headline",
    "plot_forecast",
    "plot_projection",
    "arrivals_from_state",
    "net_of_backlog",
    "next_order_due",
    "promotion_for_phase",
    "verdict",
    "chapter03_order",
]

LEVEL_NAMES = ("hold price", "normal", "push", "push hard")
LEVEL_ACTIONS = (
    "hold the price: no discount, no extra ads (stock is thin, every unit sells anyway)",
    "normal price and the usual ads",
    "push: discount, coupons and more ads",
    "push hard: deeper discount plus extra ads",
)
_TAIL_DAYS = 60  # forecast kept beyond the horizon, for reorder windows that reach past it


# ------------------------------------------------------------------------------------------- settings


def _number(name, value, *, low=None, high=None, low_open=False, whole=False):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{name}={value!r} must be a number")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(f"{name}={value!r} must be a finite number")
    if whole and value != int(value):
        raise ConfigError(f"{name}={value!r} must be a whole number")
    if low is not None and (value < low or (low_open and value == low)):
        raise ConfigError(f"{name}={value!r} must be {'above' if low_open else 'at least'} {low:g}")
    if high is not None and value > high:
        raise ConfigError(f"{name}={value!r} must be at most {high:g}")
    return value


@dataclass(frozen=True)
class InventorySettings:
    """The chapter's parameters (each a notebook parameter); defaults follow the handbook.

    first_order_share: first order as a share of the validation-period sales (handbook: 50%); reported while
        the spike is launching (chapter 03 places it).
    reorder_days: the handbook's alarm line, in days of the coming day's forecast sales (7).
    service_level: probability of no stock-out during a lead time, for the service-level reorder point.
    lead_days, lead_days_sd: days until a new order lands (0: chapter 03's cover window, the fastest supplier's
        first arrival plus the review period) and its standard deviation.
    dispersion: negative-binomial extra variance of daily demand (0 = Poisson counts).
    horizon_days: days projected.
    runs, seed: Monte Carlo runs and seed (same seed, same record).
    cover_thresholds: days of cover separating the promotion levels hold / normal / push / push hard.
    promo_discounts: discount of each of the four levels (fractions of the price).
    sku: stock row planned; empty means the only row, or every row pooled.
    """

    first_order_share: float = 0.5
    reorder_days: float = 7.0
    service_level: float = 0.95
    lead_days: float = 0.0
    lead_days_sd: float = 1.0
    dispersion: float = 0.0
    horizon_days: int = 14
    runs: int = 2000
    seed: int = 20250304
    cover_thresholds: tuple = (7.0, 14.0, 21.0)
    promo_discounts: tuple = (0.0, 0.0, 0.05, 0.10)
    sku: str = ""

    def __post_init__(self):
        _number("first_order_share", self.first_order_share, low=0, high=1, low_open=True)
        _number("reorder_days", self.reorder_days, low=0)
        _number("service_level", self.service_level, low=0.5, high=0.9999)
        _number("lead_days", self.lead_days, low=0)
        _number("lead_days_sd", self.lead_days_sd, low=0)
        _number("dispersion", self.dispersion, low=0)
        _number("horizon_days", self.horizon_days, low=1, high=365, whole=True)
        _number("runs", self.runs, low=100, high=1_000_000, whole=True)
        _number("seed", self.seed, low=0, whole=True)
        thresholds = tuple(float(_number("cover_thresholds", t, low=0)) for t in self.cover_thresholds)
        if len(thresholds) != 3 or list(thresholds) != sorted(set(thresholds)):
            raise ConfigError(f"cover_thresholds={self.cover_thresholds!r} must be 3 increasing days, e.g. [7, 14, 21]")
        discounts = tuple(float(_number("promo_discounts", d, low=0, high=0.9)) for d in self.promo_discounts)
        if len(discounts) != 4:
            raise ConfigError(f"promo_discounts={self.promo_discounts!r} must give 4 discounts, one per level")
        if not isinstance(self.sku, str):
            raise ConfigError(f"sku={self.sku!r} must be text (empty for the only or all rows)")
        object.__setattr__(self, "cover_thresholds", thresholds)
        object.__setattr__(self, "promo_discounts", discounts)
        object.__setattr__(self, "horizon_days", int(self.horizon_days))
        object.__setattr__(self, "runs", int(self.runs))
        object.__setattr__(self, "seed", int(self.seed))

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any]) -> "InventorySettings":
        """Build from notebook parameters; unknown names are refused (papermill itself only warns)."""
        return settings_from_mapping(cls, params, "inventory")

    def to_dict(self) -> dict:
        return _json_safe(asdict(self))



# ------------------------------------------------------------------------------------------ the stock


def stock_position(stock: pd.DataFrame, sku: str = "") -> dict:
    """The planned product's stock row as a dict (sku, on_hand, unit_cost, price, holding_cost_per_day,
    salvage_value). ``sku`` empty: the only row, or all rows pooled (units summed; money columns weighted
    by units on hand, plain means when nothing is on hand)."""
    if stock is None or len(stock) == 0:
        raise InputError("the stock table has no rows", column="sku", rows=[1],
                         fix="add one row for the spike product with its units on hand and costs")
    money = ["unit_cost", "price", "holding_cost_per_day", "salvage_value"]
    if sku:
        rows = stock.loc[stock["sku"].astype(str) == sku]
        if rows.empty:
            raise ConfigError(f"sku={sku!r} is not in the stock table (it has {sorted(stock['sku'].astype(str))}). "
                              "Fix: name one of them, or leave sku empty to pool every row")
    else:
        rows = stock
    units = rows["on_hand"].to_numpy(dtype=float)
    weights = units if units.sum() > 0 else np.ones_like(units)
    result = {"sku": sku or (str(rows["sku"].iloc[0]) if len(rows) == 1 else "+".join(rows["sku"].astype(str))),
              "on_hand": int(units.sum())}
    for col in money:
        result[col] = float(np.average(rows[col].to_numpy(dtype=float), weights=weights))
    return result


# ------------------------------------------------------------------------------------- the handbook


def first_order(validation_sales: float, share: float = 0.5) -> int:
    """The handbook's first order: ``share`` of the validation-period sales, rounded up to whole units."""
    _number("validation_sales", validation_sales, low=0)
    _number("share", share, low=0, high=1, low_open=True)
    return int(math.ceil(float(validation_sales) * float(share) - 1e-9))


def reorder_point_rule(daily_rate: float, days: float = 7.0) -> float:
    """The handbook's alarm line: ``days`` days of sales at the current daily rate."""
    _number("daily_rate", daily_rate, low=0)
    _number("days", days, low=0)
    return float(daily_rate) * float(days)


@dataclass(frozen=True)
class ReorderPoint:
    """A service-level reorder point and its parts (units)."""

    reorder_point: float
    lead_time_demand: float
    safety_stock: float
    sd_lead_time_demand: float
    z: float
    service_level: float

    def __float__(self) -> float:
        return self.reorder_point

    def to_dict(self) -> dict:
        return _json_safe(asdict(self))


def reorder_point_service(mean_daily: float, sd_daily: float, lead_days: float, sd_lead_days: float,
                          service_level: float) -> ReorderPoint:
    """Classic reorder point for a cycle service level (probability of no stock-out during a lead time).

    Lead-time demand has mean d*L and standard deviation sqrt(L*sd_d^2 + d^2*sd_L^2) (daily demand and
    lead time independent); ROP = d*L + z*sd, z the standard normal quantile of the service level.
    """
    d = _number("mean_daily", mean_daily, low=0)
    sd_d = _number("sd_daily", sd_daily, low=0)
    lead = _number("lead_days", lead_days, low=0)
    sd_l = _number("sd_lead_days", sd_lead_days, low=0)
    level = _number("service_level", service_level, low=0, high=1, low_open=True)
    if level >= 1:
        raise ConfigError("service_level must be below 1 (a 100% service level needs infinite stock)")
    z = float(sps.norm.ppf(level))
    sd = math.sqrt(lead * sd_d**2 + d**2 * sd_l**2)
    return ReorderPoint(reorder_point=d * lead + z * sd, lead_time_demand=d * lead, safety_stock=z * sd,
                        sd_lead_time_demand=sd, z=z, service_level=level)


# -------------------------------------------------------------------------------------- the forecast


@dataclass(frozen=True)
class DemandForecast:
    """Expected demand per day and how to draw demand paths around it.

    ``mean`` holds days 1 .. horizon_days + tail (the tail serves reorder windows reaching past the
    horizon). A path is ``multiplier * mean`` with one lognormal level multiplier per run (median 1,
    log-sd ``level_sigma``: chapter 02's interval), then Poisson counts per day (negative binomial when
    ``dispersion`` > 0: variance m + dispersion*m^2).
    """

    mean: np.ndarray = field(repr=False)
    horizon_days: int
    level_sigma: float = 0.0
    dispersion: float = 0.0
    conf: float = 0.9
    start: pd.Timestamp | None = None
    rate: float = float("nan")
    shape: dict = field(default_factory=dict)
    low: np.ndarray | None = field(default=None, repr=False)  # the source's own interval, days 1..horizon
    high: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def from_state(cls, forecast: Mapping[str, Any], horizon_days: int, *, dispersion: float = 0.0,
                   start=None) -> "DemandForecast":
        """The spike's shared forecast (``state["forecast"]``: daily expected / low / high for the days after
        as_of) as paths to simulate. Days past the forecast's horizon repeat its last day (by then the spike is
        over and sales are back at their normal level). The level uncertainty is the forecast's own interval
        over the horizon: log-sd = ln(sum high / sum low) / (2 z) (or ln(high / expected) / z when the low end
        is 0)."""
        rows = list((forecast or {}).get("daily") or [])
        if not rows:
            raise ConfigError("the spike state has no daily forecast. Fix: run the playbook (the runner derives it) "
                              "or call sk.spike_state()")
        horizon_days = int(_number("horizon_days", horizon_days, low=1, whole=True))

        def column(name):
            values = np.array([max(0.0, float(r[name])) for r in rows], dtype=float)
            size = horizon_days + _TAIL_DAYS
            return np.concatenate([values, np.full(max(0, size - len(values)), values[-1])])[:size]

        mean, low, high = column("expected"), column("low"), column("high")
        conf = float(((forecast.get("remaining") or {}).get("conf")) or forecast.get("conf") or 0.9)
        z = float(sps.norm.ppf(0.5 + conf / 2))
        lo, mid, hi = (float(a[:horizon_days].sum()) for a in (low, mean, high))
        if lo > 0 and hi > lo:
            sigma = math.log(hi / lo) / (2 * z)
        elif hi > mid > 0:
            sigma = math.log(hi / mid) / z
        else:
            sigma = 0.0
        peak = int(np.argmax(mean[:horizon_days]))
        shape = {"kind": "shared forecast", "source": forecast.get("source"), "peak_day": peak + 1,
                 "peak_rate": float(mean[peak]), "peak_date": forecast.get("peak_date"),
                 "remaining_units": float(((forecast.get("remaining") or {}).get("estimate")) or 0.0)}
        return cls(mean=mean, horizon_days=horizon_days, level_sigma=sigma, dispersion=float(dispersion), conf=conf,
                   start=None if start is None else pd.Timestamp(start), rate=float(mean[0]), shape=shape,
                   low=low[:horizon_days], high=high[:horizon_days])

    @classmethod
    def constant(cls, rate: float, horizon_days: int, *, level_sigma: float = 0.0, dispersion: float = 0.0,
                 start=None) -> "DemandForecast":
        """A flat forecast (no lifecycle): for checks and for products past their spike."""
        mean = np.full(int(horizon_days) + _TAIL_DAYS, float(rate))
        return cls(mean=mean, horizon_days=int(horizon_days), level_sigma=level_sigma, dispersion=dispersion,
                   start=None if start is None else pd.Timestamp(start), rate=float(rate), shape={"kind": "flat"})

    @property
    def daily(self) -> np.ndarray:
        """Expected demand on days 1..horizon_days."""
        return self.mean[: self.horizon_days]

    def expected(self, first_day: int, last_day: int) -> float:
        """Expected demand summed over days first_day..last_day (inclusive; days past the tail count 0)."""
        lo, hi = max(int(first_day), 1), min(int(last_day), len(self.mean))
        return float(self.mean[lo - 1: hi].sum()) if hi >= lo else 0.0

    def dates(self, days: Sequence[int]) -> list:
        if self.start is None:
            return [None] * len(days)
        return [(self.start + pd.Timedelta(days=int(d))).date() for d in days]

    def sample(self, runs: int, rng: np.random.Generator, days: int | None = None) -> np.ndarray:
        """Demand paths, runs x days (integer counts)."""
        days = self.horizon_days if days is None else int(days)
        mean = self.mean[:days]
        level = np.exp(self.level_sigma * rng.standard_normal(runs)) if self.level_sigma > 0 else np.ones(runs)
        lam = level[:, None] * mean[None, :]
        if self.dispersion > 0:
            lam = rng.gamma(1.0 / self.dispersion, lam * self.dispersion)
        return rng.poisson(lam).astype(np.float64)

    def to_frame(self) -> pd.DataFrame:
        """Day, date, expected demand and its interval (at ``conf``; the source's own when it gave one, else the
        level interval), without count noise; the spike day too for the handbook's bell."""
        days = np.arange(1, self.horizon_days + 1)
        z = float(sps.norm.ppf(0.5 + self.conf / 2))
        frame = pd.DataFrame({"day": days, "date": self.dates(days)})
        spike_now = self.shape.get("spike_day")
        if spike_now is not None:
            frame["spike_day"] = days + spike_now
        frame["expected"] = self.daily
        frame["low"] = self.low if self.low is not None else self.daily * math.exp(-z * self.level_sigma)
        frame["high"] = self.high if self.high is not None else self.daily * math.exp(z * self.level_sigma)
        return frame

    def to_dict(self) -> dict:
        return _json_safe({"horizon_days": self.horizon_days, "rate": self.rate, "level_sigma": self.level_sigma,
                           "dispersion": self.dispersion, "conf": self.conf, "shape": self.shape,
                           "expected": self.daily, "start": self.start})


def _pulse_widths(peak_day: float, life_days: float, life_floor: float) -> tuple[float, float]:
    """Widths (days) of the rising and falling halves of the bell: it stands at ``life_floor`` of its peak
    on day 0 and again on ``life_days``."""
    spread = math.sqrt(2.0 * math.log(1.0 / life_floor))
    return peak_day / spread, (life_days - peak_day) / spread


def _pulse_cumulative(t, peak_day: float, rise: float, fall: float) -> np.ndarray:
    """Integral of the bell from -infinity to spike day t (peak height 1)."""
    t = np.asarray(t, dtype=float)
    root = math.sqrt(2.0 * math.pi)
    before = rise * root * sps.norm.cdf((np.minimum(t, peak_day) - peak_day) / rise)
    after = fall * root * (sps.norm.cdf((np.maximum(t, peak_day) - peak_day) / fall) - 0.5)
    return before + after


def _demand_parts(daily_demand) -> tuple[float, float, float, float]:
    """(estimate, low, high, conf) from chapter 02's dict, or a bare number (no interval)."""
    if isinstance(daily_demand, Mapping):
        try:
            est = float(daily_demand["estimate"])
        except (KeyError, TypeError, ValueError):
            raise ConfigError("daily_demand needs an 'estimate' (units per day), as chapter 02 records it") from None
        low, high = daily_demand.get("low"), daily_demand.get("high")
        conf = float(daily_demand.get("conf") or 0.9)
        low = float(low) if low is not None else float("nan")
        high = float(high) if high is not None else float("nan")
    else:
        est, low, high, conf = float(_number("daily_demand", daily_demand, low=0)), float("nan"), float("nan"), 0.9
    if not (math.isfinite(est) and est >= 0):
        raise ConfigError(f"daily_demand estimate {est!r} must be a number >= 0")
    return est, low, high, conf


def demand_forecast(daily_demand, horizon_days: int, life_days: float = 9.0, peak_day: float = 6.0, *,
                    spike_day: float = 3.0, life_floor: float = 0.1, validation_days: float = 2.0,
                    dispersion: float = 0.0, start=None) -> DemandForecast:
    """The handbook's bell: expected daily demand over the horizon, shaped by an assumed spike life, with
    chapter 02's uncertainty. Chapter 04 no longer plans on it (it assumed where as_of falls in the spike's life
    and never read the sales); it plans on the spike's shared forecast (``DemandForecast.from_state``). Kept for
    what-if studies and as a simple test forecast.

    Shape: a two-sided bell in spike days (a Gaussian curve with a wider rising half and a narrower falling
    half, as the handbook's spikes climb for ``peak_day`` days and are gone ``life_days - peak_day`` days
    later): g(t) = exp(-(t - peak_day)^2 / (2 w^2)), w = the rising width before the peak and the falling
    width after it, chosen so the spike stands at ``life_floor`` of its peak on day 0 and on ``life_days``
    ("a spike lives while it sells at least 10% of its peak day"). A gamma pulse cannot do this: its fall
    is always slower than its rise. ``as_of`` is spike day ``spike_day``.

    Scale: the bell's average over chapter 02's window (spike days spike_day - validation_days ..
    spike_day) equals the validated rate, so the forecast starts where chapter 02 measured. Day d's
    expected demand is the bell's mass over spike days spike_day + d - 1 .. spike_day + d times that scale.

    Uncertainty: one lognormal level multiplier per path, median 1, log-sd such that its ``conf`` interval
    matches chapter 02's low..high (sigma = ln(high/low) / (2 z)); daily counts are Poisson (negative
    binomial with ``dispersion`` > 0).
    """
    horizon_days = int(_number("horizon_days", horizon_days, low=1, whole=True))
    life_days = _number("life_days", life_days, low=0, low_open=True)
    peak_day = _number("peak_day", peak_day, low=0, low_open=True)
    spike_day = _number("spike_day", spike_day, low=0, low_open=True)
    life_floor = _number("life_floor", life_floor, low=0.001, high=0.9)
    window = _number("validation_days", validation_days, low=0, low_open=True)
    dispersion = _number("dispersion", dispersion, low=0)
    if peak_day >= life_days:
        raise ConfigError(f"peak_day={peak_day:g} must come before the end of the spike's life ({life_days:g} days)")
    est, low, high, conf = _demand_parts(daily_demand)
    z = float(sps.norm.ppf(0.5 + conf / 2))
    if math.isfinite(low) and math.isfinite(high) and low > 0 and high > low:
        sigma = math.log(high / low) / (2 * z)
    elif math.isfinite(high) and high > est > 0:
        sigma = math.log(high / est) / z  # no usable lower bound (zero orders): use the upper side
    else:
        sigma = 0.0
    rise, fall = _pulse_widths(peak_day, life_days, life_floor)
    cumulative = lambda t: _pulse_cumulative(t, peak_day, rise, fall)  # noqa: E731
    window_mass = float(cumulative(spike_day) - cumulative(spike_day - window))
    if window_mass <= 1e-12:
        raise ConfigError(f"spike_day={spike_day:g} lies where the spike sells nothing; choose a spike day nearer the peak")
    scale = est * window / window_mass
    edges = spike_day + np.arange(0, horizon_days + _TAIL_DAYS + 1, dtype=float)
    mean = scale * np.diff(cumulative(edges))
    peak_rate = scale * float(cumulative(peak_day + 0.5) - cumulative(peak_day - 0.5))
    total = rise * math.sqrt(2 * math.pi) / 2 + fall * math.sqrt(2 * math.pi) / 2
    shape = {"kind": "two-sided bell", "peak_day": peak_day, "life_days": life_days, "life_floor": life_floor,
             "rise_width": rise, "fall_width": fall, "spike_day": spike_day, "validation_days": window,
             "peak_rate": peak_rate, "peak_multiple": peak_rate / est if est > 0 else float("nan"),
             "remaining_share": float(1.0 - cumulative(spike_day) / total),
             "remaining_units": float(scale * (total - cumulative(spike_day)))}
    return DemandForecast(mean=mean, horizon_days=horizon_days, level_sigma=sigma, dispersion=dispersion, conf=conf,
                          start=None if start is None else pd.Timestamp(start), rate=est, shape=shape)


# -------------------------------------------------------------------------------- reorder points


@dataclass(frozen=True)
class ReorderChoice:
    """Both reorder points for each review day and the one used, with the reason.

    ``table`` columns: day (review at the end of it; 0 = as_of), date, rate (expected sales on the next
    day), rule (reorder_days x rate), lead_time_demand, safety_stock, service (service-level ROP), chosen,
    basis. Choice: while the forecast still rises the LARGER of the two (a stock-out at the start of a
    spike loses the sales that make it; the 7-day rule looks back at today's rate, the service formula
    looks forward over the lead time); after the peak the service-level point (the 7-day rule, anchored on
    today's higher rate, would keep buying into the decline).
    """

    table: pd.DataFrame
    reorder_days: float
    lead_days: float
    lead_days_sd: float
    service_level: float

    @property
    def now(self) -> dict:
        row = self.table.iloc[0]
        return {"chosen": float(row["chosen"]), "rule": float(row["rule"]), "service": float(row["service"]),
                "safety_stock": float(row["safety_stock"]), "lead_time_demand": float(row["lead_time_demand"]),
                "basis": str(row["basis"]), "reorder_days": self.reorder_days, "lead_days": self.lead_days,
                "lead_days_sd": self.lead_days_sd, "service_level": self.service_level}

    def explain(self) -> str:
        now = self.now
        which = "the service-level point" if now["chosen"] == now["service"] else "the 7-day rule"
        return (f"Now: the {self.reorder_days:g}-day rule says {now['rule']:.0f} units, the {self.service_level:.0%} "
                f"service-level point says {now['service']:.0f} (lead-time demand {now['lead_time_demand']:.0f} + "
                f"safety stock {now['safety_stock']:.0f}, lead {self.lead_days:g} +- {self.lead_days_sd:g} days). "
                f"{now['basis'].split(':')[0].capitalize()}: {which} is used, {now['chosen']:.0f} units.")

    def to_dict(self) -> dict:
        return _json_safe({**self.now, "table": self.table})


def compare_reorder_points(forecast: DemandForecast, reorder_days: float = 7.0, lead_days: float = 4.0,
                           lead_days_sd: float = 1.0, service_level: float = 0.95) -> ReorderChoice:
    """The 7-day rule and the service-level reorder point for each review day of the horizon.

    Service-level inputs per review day r: d = mean expected demand over the lead time after r;
    sd_daily^2 = count variance (d + dispersion*d^2) + L*(d*level_sigma)^2. The level term is the demand
    forecast's own uncertainty; it is the same on every day of a lead time, so its lead-time variance is
    (L*d*sigma)^2, which L*sd_daily^2 then reproduces exactly.
    """
    _number("reorder_days", reorder_days, low=0)
    lead = _number("lead_days", lead_days, low=0)
    _number("lead_days_sd", lead_days_sd, low=0)
    whole_lead = max(1, int(math.ceil(lead - 1e-9)))
    records = []
    review_days = np.arange(0, forecast.horizon_days)
    for r in review_days:
        rate = float(forecast.mean[r])  # expected sales on day r + 1
        rule = reorder_point_rule(rate, reorder_days)
        d = forecast.expected(r + 1, r + whole_lead) / whole_lead
        sd_daily = math.sqrt(d + forecast.dispersion * d**2 + lead * (d * forecast.level_sigma) ** 2)
        service = reorder_point_service(d, sd_daily, lead, lead_days_sd, service_level)
        rising = forecast.mean[r + 1] > forecast.mean[r]
        chosen = max(rule, service.reorder_point) if rising else service.reorder_point
        basis = ("rising forecast: the larger of the two" if rising else
                 "forecast past its peak: the service-level point")
        records.append({"day": int(r), "rate": rate, "rule": rule, "lead_time_demand": service.lead_time_demand,
                        "safety_stock": service.safety_stock, "service": service.reorder_point, "chosen": chosen,
                        "basis": basis})
    table = pd.DataFrame.from_records(records)
    table.insert(1, "date", forecast.dates(list(table["day"])) if forecast.start is not None else None)
    return ReorderChoice(table=table, reorder_days=float(reorder_days), lead_days=lead,
                         lead_days_sd=float(lead_days_sd), service_level=float(service_level))


@dataclass(frozen=True)
class ReorderPolicy:
    """Reorder policy by review day r (reviews at the end of days ``first_review_day`` .. horizon - 1).

    Trigger: the stock position (on hand + on order) is at or below ``reorder_point[r]``.
    Quantity (lost sales, not back orders: a unit of demand not served is gone, so stock cannot be owed):
    ``order_up_to[r]`` minus what is expected to be there when the order lands, i.e.
    max(0, on hand + arrivals before landing - ``demand_before_landing[r]``) + arrivals landing later,
    rounded up to whole units. With ``demand_before_landing`` = 0 this is the classic order-up-to (s, S).

    Lead time per order: max(1, ceil(lead_days + lead_days_sd * Z)) days, Z standard normal; a unit lands
    on the first whole day after its lead time has passed. ``initial_order`` units are ordered at day 0
    (the handbook's first order, when chapter 03 placed none).
    """

    reorder_point: np.ndarray
    order_up_to: np.ndarray
    lead_days: float = 4.0
    lead_days_sd: float = 0.0
    initial_order: int = 0
    demand_before_landing: np.ndarray | float = 0.0
    first_review_day: int = 0

    def __post_init__(self):
        for name in ("reorder_point", "order_up_to", "demand_before_landing"):
            object.__setattr__(self, name, np.atleast_1d(np.asarray(getattr(self, name), dtype=float)))
        _number("lead_days", self.lead_days, low=0)
        _number("lead_days_sd", self.lead_days_sd, low=0)
        _number("initial_order", self.initial_order, low=0, whole=True)
        _number("first_review_day", self.first_review_day, low=0, whole=True)

    def levels(self, review_days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(reorder_point, order_up_to, demand_before_landing) spread over review days 0..review_days-1."""
        def spread(values):
            if values.size == 1:
                return np.full(review_days, float(values[0]))
            if values.size < review_days:
                return np.concatenate([values, np.full(review_days - values.size, values[-1])])
            return values[:review_days]

        return spread(self.reorder_point), spread(self.order_up_to), spread(self.demand_before_landing)

    def mean_lead(self) -> int:
        """The lead time in whole days when it does not vary."""
        return max(1, int(math.ceil(self.lead_days - 1e-9)))

    def max_lead(self) -> int:
        return max(1, int(math.ceil(self.lead_days + 5 * self.lead_days_sd)))

    def draw_leads(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.lead_days_sd > 0:
            raw = self.lead_days + self.lead_days_sd * rng.standard_normal(n)
        else:
            raw = np.full(n, float(self.lead_days))
        return np.clip(np.ceil(raw - 1e-9), 1, self.max_lead()).astype(np.int64)

    def to_dict(self) -> dict:
        return _json_safe(asdict(self))


def make_policy(forecast: DemandForecast, choice: ReorderChoice, batch_days: float = 5.0, *,
                initial_order: int = 0) -> ReorderPolicy:
    """Reorder at the chosen point, in small batches sized to the forecast.

    Each order aims to have, on the day it lands, the expected sales of the ``batch_days`` days from
    landing plus a safety stock for those days (z of the service level times their demand's standard
    deviation: count noise plus the forecast's level uncertainty); sales expected before it lands are taken off what is on
    hand first (they will be sold or lost by then). Batches shrink by themselves as the forecast fades.
    When ``initial_order`` (the handbook's first order) is placed at day 0, the alarm line is watched from
    day 1, so the first order is not topped up before a day of sales is seen.
    """
    _number("batch_days", batch_days, low=0)
    whole_lead = max(1, int(math.ceil(choice.lead_days - 1e-9)))
    whole_batch = int(math.ceil(batch_days - 1e-9))
    review = choice.table["day"].to_numpy()
    rop = choice.table["chosen"].to_numpy(dtype=float)
    z = float(sps.norm.ppf(choice.service_level))
    windows = [forecast.mean[max(r + whole_lead - 1, 0): r + whole_lead - 1 + whole_batch] for r in review]
    cover = np.array([w.sum() for w in windows])
    # Safety stock of the batch itself: its days' count noise plus the level uncertainty (shared by the days).
    safety = np.array([z * math.sqrt(float((w + forecast.dispersion * w**2).sum()) + (w.sum() * forecast.level_sigma) ** 2)
                       for w in windows])
    before = np.array([forecast.expected(r + 1, r + whole_lead - 1) for r in review])
    return ReorderPolicy(reorder_point=rop, order_up_to=safety + cover, lead_days=choice.lead_days,
                         lead_days_sd=choice.lead_days_sd, initial_order=int(initial_order),
                         demand_before_landing=before, first_review_day=1 if initial_order > 0 else 0)


# ------------------------------------------------------------------------------------- simulation


def arrivals_by_day(arrivals, horizon_days: int) -> np.ndarray:
    """Scheduled arrivals (chapter 03) as units per day 1..N (N >= horizon_days; later days kept: on order).

    ``arrivals``: None (no purchase orders), a DataFrame with columns ``day`` and ``arrivals``, a mapping
    day -> units, or a sequence of units for days 1, 2, ...
    """
    horizon_days = int(horizon_days)
    if arrivals is None:
        return np.zeros(horizon_days)
    if isinstance(arrivals, pd.DataFrame):
        missing = [c for c in ("day", "arrivals") if c not in arrivals.columns]
        if missing:
            raise InputError(f"the arrival schedule lacks column(s) {missing} (has {list(arrivals.columns)})",
                             column=missing[0], fix="pass chapter 03's arrivals table (day, date, arrivals, ...)")
        days = pd.to_numeric(arrivals["day"], errors="coerce").to_numpy(dtype=float)
        units = pd.to_numeric(arrivals["arrivals"], errors="coerce").to_numpy(dtype=float)
    elif isinstance(arrivals, Mapping):
        days = np.array([float(k) for k in arrivals], dtype=float)
        units = np.array([float(v) for v in arrivals.values()], dtype=float)
    else:
        units = np.asarray(list(arrivals), dtype=float)
        days = np.arange(1, len(units) + 1, dtype=float)
    bad = ~np.isfinite(days) | ~np.isfinite(units) | (units < 0) | (days < 1) | (days != np.round(days))
    if bad.any():
        raise InputError("arrival schedule: every day must be a whole number >= 1 and every arrival >= 0 units",
                         column="day", rows=[int(i) + 2 for i in np.flatnonzero(bad)],
                         fix="day 1 is the first day after as_of; stock already received belongs in on_hand")
    size = max(horizon_days, int(days.max()) if len(days) else 0)
    out = np.zeros(size)
    np.add.at(out, days.astype(np.int64) - 1, units)
    return out


@dataclass(frozen=True)
class SimulationResult:
    """Monte Carlo projection of the stock.

    ``table`` (one row per day): day, date, expected_demand, scheduled_arrivals, reorder_point,
    stock_p5 / stock_p50 / stock_p95 (end of day, after sales), stockout_prob (share of runs where the
    day's demand exceeded the stock), lost_mean, order_prob (share of runs ordering at the end of the day),
    order_units_mean. Summary: fill_rate (expected sales / expected demand), prob_any_stockout,
    expected_overstock (units left at the end of the horizon, its p95, value at unit_cost - salvage_value,
    units still on order after the horizon), orders_mean (orders per run), ordered_units_mean.
    """

    table: pd.DataFrame
    fill_rate: float
    prob_any_stockout: float
    expected_overstock: dict
    orders_mean: float
    ordered_units_mean: float
    lost_units_mean: float
    runs: int
    seed: int | None
    horizon_days: int

    def quantiles(self) -> pd.DataFrame:
        return self.table[["day", "date", "stock_p5", "stock_p50", "stock_p95"]].copy()

    def stockout_by_day(self) -> pd.DataFrame:
        return self.table[["day", "date", "stockout_prob", "lost_mean"]].copy()

    def to_dict(self) -> dict:
        return _json_safe({"fill_rate": self.fill_rate, "prob_any_stockout": self.prob_any_stockout,
                           "expected_overstock": self.expected_overstock, "orders_mean": self.orders_mean,
                           "ordered_units_mean": self.ordered_units_mean, "lost_units_mean": self.lost_units_mean,
                           "runs": self.runs, "seed": self.seed, "horizon_days": self.horizon_days})


def _run(on_hand: float, scheduled: np.ndarray, demand: np.ndarray, policy: ReorderPolicy,
         rng: np.random.Generator | None) -> dict:
    """The day loop, vectorised over runs (rows of ``demand``). Leads are drawn from ``rng`` (None: mean)."""
    runs, horizon = demand.shape
    rop, upto, before = policy.levels(horizon)
    width = max(horizon, len(scheduled)) + policy.max_lead() + 2
    pipeline = np.zeros((runs, width))
    pipeline[:, 1: len(scheduled) + 1] += scheduled[None, :]
    rows = np.arange(runs)
    landing = policy.mean_lead()

    def place(day, quantity, who):
        if who.size:
            leads = np.full(who.size, landing) if rng is None else policy.draw_leads(rng, who.size)
            np.add.at(pipeline, (who, day + leads), quantity[who])

    ordered = np.zeros((runs, horizon + 1))
    if policy.initial_order > 0:
        ordered[:, 0] = policy.initial_order
        place(0, ordered[:, 0], rows)
    stock = np.full(runs, float(on_hand))

    def review(day):
        if day < policy.first_review_day:
            return
        on_order = pipeline[:, day + 1:]
        position = stock + on_order.sum(axis=1)
        arriving_first = on_order[:, : landing - 1].sum(axis=1)
        expected_then = np.maximum(stock + arriving_first - before[day], 0.0) + on_order[:, landing - 1:].sum(axis=1)
        quantity = np.where(position <= rop[day], np.ceil(np.maximum(upto[day] - expected_then, 0.0) - 1e-9), 0.0)
        who = np.flatnonzero(quantity > 0)
        ordered[who, day] += quantity[who]
        place(day, quantity, who)

    review(0)
    stock_end = np.empty((runs, horizon))
    sales = np.empty((runs, horizon))
    for day in range(1, horizon + 1):
        stock += pipeline[:, day]
        sold = np.minimum(stock, demand[:, day - 1])
        stock -= sold
        sales[:, day - 1] = sold
        stock_end[:, day - 1] = stock
        if day < horizon:
            review(day)
    return {"stock_end": stock_end, "sales": sales, "ordered": ordered,
            "on_order_after": pipeline[:, horizon + 1:].sum(axis=1), "rop": rop}


def simulate(stock_on_hand: float, arrivals, forecast: DemandForecast, policy: ReorderPolicy, runs: int = 2000,
             seed: int | None = 20250304, *, unit_cost: float = 0.0, salvage_value: float = 0.0) -> SimulationResult:
    """Seeded Monte Carlo of the stock day by day over the forecast's horizon (see the module docstring).

    Demand paths come from ``forecast.sample``; arrivals from chapter 03's schedule (``arrivals``, see
    ``arrivals_by_day``) plus the policy's own orders, each with its drawn lead time. Same seed, same result.
    """
    on_hand = _number("stock_on_hand", stock_on_hand, low=0)
    runs = int(_number("runs", runs, low=1, whole=True))
    horizon = forecast.horizon_days
    scheduled = arrivals_by_day(arrivals, horizon)
    rng = np.random.default_rng(seed)
    demand = forecast.sample(runs, rng)
    out = _run(on_hand, scheduled, demand, policy, rng)
    stock_end, sales, ordered = out["stock_end"], out["sales"], out["ordered"]
    lost = demand - sales
    p5, p50, p95 = np.percentile(stock_end, [5, 50, 95], axis=0)
    days = np.arange(1, horizon + 1)
    table = pd.DataFrame({
        "day": days,
        "date": forecast.dates(days),
        "expected_demand": forecast.daily,
        "scheduled_arrivals": scheduled[:horizon],
        "reorder_point": out["rop"],
        "stock_p5": p5,
        "stock_p50": p50,
        "stock_p95": p95,
        "stockout_prob": (lost > 0).mean(axis=0),
        "lost_mean": lost.mean(axis=0),
        "order_prob": (ordered[:, 1: horizon + 1] > 0).mean(axis=0),
        "order_units_mean": ordered[:, 1: horizon + 1].mean(axis=0),
    })
    left = stock_end[:, -1]
    margin = float(unit_cost) - float(salvage_value)
    total_demand = float(demand.sum())
    overstock = {"units": float(left.mean()), "units_p95": float(np.percentile(left, 95)),
                 "value": float(left.mean()) * margin, "unit_loss": margin,
                 "on_order_after_horizon": float(out["on_order_after"].mean()),
                 "prob_any_left": float((left > 0).mean())}
    return SimulationResult(
        table=table,
        fill_rate=float(sales.sum() / total_demand) if total_demand > 0 else 1.0,
        prob_any_stockout=float((lost > 0).any(axis=1).mean()),
        expected_overstock=overstock,
        orders_mean=float((ordered > 0).sum(axis=1).mean()),
        ordered_units_mean=float(ordered.sum(axis=1).mean()),
        lost_units_mean=float(lost.sum(axis=1).mean()),
        runs=runs,
        seed=seed,
        horizon_days=horizon,
    )


def order_schedule(stock_on_hand: float, arrivals, forecast: DemandForecast, policy: ReorderPolicy) -> pd.DataFrame:
    """The orders the policy would place if demand came exactly as expected and lead times were their mean.

    One row per day 0..horizon (0 = as_of): day, date, expected_demand, scheduled_arrivals (chapter 03),
    order_units (placed at the end of the day), lands_on_day, reorder_point, stock_end (expected, after sales).
    """
    on_hand = _number("stock_on_hand", stock_on_hand, low=0)
    horizon = forecast.horizon_days
    scheduled = arrivals_by_day(arrivals, horizon)
    out = _run(on_hand, scheduled, forecast.daily[None, :].astype(float), policy, None)
    lead = policy.mean_lead()
    days = np.arange(0, horizon + 1)
    ordered = out["ordered"][0]
    frame = pd.DataFrame({
        "day": days,
        "date": forecast.dates(days),
        "expected_demand": np.concatenate([[0.0], forecast.daily]),
        "scheduled_arrivals": np.concatenate([[0.0], scheduled[:horizon]]),
        "order_units": ordered.astype(np.int64),
        "lands_on_day": np.where(ordered > 0, days + lead, 0).astype(np.int64),
        "reorder_point": np.concatenate([out["rop"], [np.nan]]),
        "stock_end": np.concatenate([[on_hand], out["stock_end"][0]]),
    })
    return frame


# --------------------------------------------------------------------------------------- promotion


def promotion_ladder(days_of_cover: Sequence[float] = (7.0, 14.0, 21.0),
                     discounts: Sequence[float] = (0.0, 0.0, 0.05, 0.10)) -> pd.DataFrame:
    """Price / promotion level by days of stock cover (promotion depth follows stock depth).

    With thresholds (a, b, c): cover < a -> hold price; a <= cover <= b -> normal; b < cover <= c -> push;
    cover > c -> push hard. Columns: level (0-3), name, from_days, to_days, discount, extra_ads, action.
    """
    thresholds = [float(_number("days_of_cover", t, low=0)) for t in days_of_cover]
    if len(thresholds) != 3 or thresholds != sorted(set(thresholds)):
        raise ConfigError(f"days_of_cover={list(days_of_cover)!r} must be 3 increasing numbers, e.g. [7, 14, 21]")
    discounts = [float(_number("discounts", d, low=0, high=0.9)) for d in discounts]
    if len(discounts) != 4:
        raise ConfigError(f"discounts={list(discounts)!r} must give one discount per level (4)")
    edges = [0.0, *thresholds, math.inf]
    return pd.DataFrame({
        "level": np.arange(4, dtype=np.int64),
        "name": list(LEVEL_NAMES),
        "from_days": edges[:-1],
        "to_days": edges[1:],
        "discount": discounts,
        "extra_ads": [False, False, True, True],
        "action": [f"{a} ({d:.0%} off)" if d > 0 else a for a, d in zip(LEVEL_ACTIONS, discounts)],
    })


def _days_of_cover(stock: float, daily_rate) -> float:
    """Days the stock lasts. A scalar rate: stock / rate. A sequence of future daily rates: forward cover,
    the (fractional) day on which cumulative expected sales reach the stock."""
    stock = max(float(stock), 0.0)
    rates = np.atleast_1d(np.asarray(daily_rate, dtype=float))
    if (rates < 0).any() or not np.isfinite(rates).all():
        raise ConfigError("daily_rate must be >= 0 units per day")
    if stock == 0:
        return 0.0
    if rates.size == 1:
        return stock / rates[0] if rates[0] > 0 else math.inf
    cum = np.cumsum(rates)
    hit = int(np.searchsorted(cum, stock, side="left"))
    if hit >= rates.size:
        return rates.size + (stock - cum[-1]) / rates[-1] if rates[-1] > 0 else math.inf
    before = cum[hit - 1] if hit > 0 else 0.0
    return hit + (stock - before) / rates[hit]


def _ladder_level(cover: float, ladder: pd.DataFrame) -> int:
    a, b, c = ladder["to_days"].iloc[:3].to_numpy(dtype=float)
    return int(cover >= a) + int(cover > b) + int(cover > c)


def promotion_now(stock: float, daily_rate, ladder: pd.DataFrame) -> dict:
    """The ladder's level for this stock: days_of_cover, level, name, discount, extra_ads, action.

    ``daily_rate`` a number (stock / rate), or the expected sales of the coming days (forward cover: a
    fading spike makes the same stock last longer).
    """
    cover = _days_of_cover(stock, daily_rate)
    row = ladder.iloc[_ladder_level(cover, ladder)]
    return {"stock": float(stock), "days_of_cover": cover, "level": int(row["level"]), "name": str(row["name"]),
            "discount": float(row["discount"]), "extra_ads": bool(row["extra_ads"]), "action": str(row["action"])}


def promotion_plan(sim: SimulationResult, forecast: DemandForecast, ladder: pd.DataFrame) -> pd.DataFrame:
    """The ladder applied to the median projected stock of each day (forward cover from the next day)."""
    records = []
    for _, row in sim.table.iterrows():
        day = int(row["day"])
        future = forecast.mean[day: day + 60]
        level = promotion_now(row["stock_p50"], future, ladder)
        records.append({"day": day, "date": row["date"], "stock_p50": float(row["stock_p50"]),
                        "days_of_cover": level["days_of_cover"], "name": level["name"],
                        "discount": level["discount"]})
    return pd.DataFrame.from_records(records)


# ------------------------------------------------------------------------------------- the spike's state


def arrivals_from_state(open_orders, as_of, proposed=None, horizon_days: int = 14) -> np.ndarray:
    """Units expected per day 1..N: the open purchase orders of the ledger (an overdue line counts on day 1)
    plus chapter 03's proposed arrivals (its ``arrivals`` table: day, arrivals). N covers the horizon and the
    latest arrival (later days stay on order)."""
    from ..inputs.state import open_arrivals

    rows = [dict(r) for r in (open_orders.to_dict(orient="records") if isinstance(open_orders, pd.DataFrame)
                              else (open_orders or []))]
    today = pd.Timestamp(pd.Timestamp(as_of).date())
    last = horizon_days
    for row in rows:
        due = pd.Timestamp(row["expected_arrival"])
        if due.tzinfo is not None and pd.Timestamp(as_of).tzinfo is not None:
            due = due.tz_convert(pd.Timestamp(as_of).tz)
        last = max(last, (pd.Timestamp(due.date()) - today).days)
    ledger = open_arrivals(rows, as_of, last)
    new = arrivals_by_day(proposed if proposed is not None and len(proposed) else None, last)
    size = max(len(ledger), len(new))
    return np.pad(ledger, (0, size - len(ledger))) + np.pad(new, (0, size - len(new)))


def net_of_backlog(on_hand: float, backlog: float, arrivals) -> tuple[float, np.ndarray, float, int | None]:
    """Pre-sold units (the backlog) ship first: from stock on hand, then from the earliest arrivals.

    Returns (stock left for new demand, arrivals left for new demand, backlog still unserved after every
    arrival, the day the backlog is cleared: 0 = from stock now, None = not by the last arrival)."""
    on_hand = _number("on_hand", on_hand, low=0)
    left = _number("backlog", backlog, low=0)
    arrivals = np.asarray(arrivals, dtype=float).copy()
    take = min(on_hand, left)
    stock, left = on_hand - take, left - take
    cleared = 0 if left <= 0 else None
    for i in range(len(arrivals)):
        if left <= 0:
            break
        take = min(arrivals[i], left)
        arrivals[i] -= take
        left -= take
        if left <= 0:
            cleared = i + 1
    return stock, arrivals, left, cleared


def next_order_due(position: float, demand, reorder_point, start=None) -> dict:
    """The first review day on which the inventory position falls to the reorder point.

    ``position``: units on hand + on order (+ proposed) - backlog now; ``demand``: expected demand of days 1..H;
    ``reorder_point``: the reorder point of review days 0..H-1 (day 0 = as_of). The position at the end of day r
    is position - demand of days 1..r; the order is due on the first r with position(r) <= reorder_point[r].
    Returns day (None when not within the horizon), date, position and reorder_point on that day.
    """
    demand = np.asarray(demand, dtype=float)
    rop = np.asarray(reorder_point, dtype=float)
    days = min(len(demand), len(rop))
    run_down = float(position) - np.concatenate([[0.0], np.cumsum(demand)])[:days]
    hit = np.flatnonzero(run_down <= rop[:days] + 1e-9)
    if len(hit) == 0:
        return {"day": None, "date": None, "position": float(run_down[-1]) if days else float(position),
                "reorder_point": float(rop[days - 1]) if days else float("nan"), "horizon_days": int(days)}
    r = int(hit[0])
    when = None if start is None else (pd.Timestamp(start) + pd.Timedelta(days=r)).date()
    return {"day": r, "date": when, "position": float(run_down[r]), "reorder_point": float(rop[r]),
            "horizon_days": int(days)}


def promotion_for_phase(phase: str, stock: float, daily_rate, ladder: pd.DataFrame) -> dict:
    """The ladder's level (``promotion_now``), gated by where the spike stands.

    - launching / rising: the spike sells by itself; no push unless the stock would last beyond the ladder's
      top threshold (days of cover "huge"), else at most the normal level;
    - declining / exited: chapter 06's markdown plan sets the price (no "hold price" call from here); with no stock
      left to sell, nothing to clear;
    - no-go: at most the normal level (no push on a product the validation turned down);
    - otherwise (watching, validating, peak): the ladder as it stands.
    Adds ``phase`` and ``note`` to the level's dict.
    """
    level = {**promotion_now(stock, daily_rate, ladder),
             "basis": "position: on hand + on order + chapter 03's proposal - backlog"}
    top = float(ladder["to_days"].iloc[2])
    if phase in ("declining", "exited") and float(stock) <= 0:
        # Nothing on hand or coming that customers have not already bought: no clearance to price (chapter 06
        # says "nothing left to mark down" the same day).
        return {**level, "level": None, "name": "nothing to clear", "discount": None, "extra_ads": False,
                "action": "no promotion: no stock to sell beyond what customers already bought",
                "phase": phase, "note": f"the spike is {phase} and nothing is left to sell"}
    if phase in ("declining", "exited"):
        return {**level, "level": None, "name": "chapter 06 markdown", "discount": None, "extra_ads": False,
                "action": "hand over to chapter 06: its markdown plan sets the price while the spike fades",
                "phase": phase, "note": f"the spike is {phase}: chapter 06 prices the clearance"}
    def normal_level(note: str) -> dict:
        normal = ladder.iloc[1]
        return {**level, "level": int(normal["level"]), "name": str(normal["name"]),
                "discount": float(normal["discount"]), "extra_ads": bool(normal["extra_ads"]),
                "action": str(normal["action"]), "phase": phase, "note": note}

    if phase == "no-go" and level["level"] >= 2:
        # The validation turned the product down: no discount or ad push on it, whatever its days of cover (chapters
        # 07 and 08 hold their spend the same day); its stock sells at the normal level.
        return normal_level("chapter 02 said no-go: no push on this product; its stock sells at the normal level")
    if phase in ("launching", "rising") and level["level"] >= 2 and not level["days_of_cover"] > top:
        return normal_level(f"the spike is {phase}: no push with {level['days_of_cover']:.1f} days of cover "
                            f"(only beyond {top:g})")
    return {**level, "phase": phase, "note": ""}


def chapter03_order(decision: str | None, increment: Mapping[str, Any] | None = None, hold_reason: str | None = None,
                    units: float | None = None, cover_days: float | None = None) -> dict:
    """Chapter 03's call of this run as chapter 04 reads it: decision, the units it orders today (``units``: its
    proposed arrivals; else the increment's units), what capped the order (``capped_by``), whether it is the paid
    backlog only (``backlog_only``), why it holds (``hold_reason``) and the days its order covers (``cover_days``)."""
    inc = dict(increment or {})
    ordering = decision == "order"
    if units is None:
        units = float(inc.get("units") or 0.0)
    return {"decision": decision, "units": float(units) if ordering else 0.0, "capped_by": inc.get("capped_by"),
            "backlog_only": bool(inc.get("backlog_only", False)), "hold_reason": None if ordering else hold_reason,
            "cover_days": cover_days}


_CAP_NOTE = {"first order": " (first-order cap until sales confirm)", "cash": " (capped by the cash rule)"}
_NEXT_AFTER_CAP = {"first order": "next order as soon as the spike is confirmed",
                   "cash": "next order as soon as cash allows"}
_HOLD_NOTE = {"first order": "the handbook's first order is already on order: next order as soon as the spike is "
                             "confirmed",
              "cash": "the cash rule leaves no order today (chapter 03)",
              "capacity": "no supplier can make more within chapter 03's window",
              "covered": "chapter 03 finds its cover window covered: next order at the next run"}


def verdict(phase: str, due: Mapping[str, Any], *, backlog_left: float = 0.0,
            order_03: Mapping[str, Any] | None = None) -> str:
    """Chapter 04's call in a few words (chapter 03 places the orders). With ``order_03`` (``chapter03_order``) the
    call names chapter 03's order of today rather than reading as a second one: the backlog-only order past the top,
    or today's order and what the position after it still needs."""
    from ..inputs.state import ORDERING_PHASES

    o = dict(order_03 or {})
    units = float(o.get("units") or 0.0)
    if phase not in ORDERING_PHASES:
        if units > 0:
            by = "chapter 03, capped by the cash rule" if o.get("capped_by") == "cash" else "chapter 03"
            return f"backlog order only: {units:.0f} units ({by}); no reorders for new demand while {phase}"
        if phase in ("peak", "declining", "exited"):
            return f"no reorders: the spike is {phase}"
        return f"no orders while {phase}"
    if units > 0:
        capped = o.get("capped_by")
        note = _CAP_NOTE.get(capped, f" (covers its {float(o['cover_days']):g}-day window)" if o.get("cover_days") else "")
        head = f"chapter 03 orders {units:.0f} today{note}"
        if due.get("day") == 0:
            return (f"{head}; position after it still below the reorder point {float(due['reorder_point']):.0f}: "
                    f"{_NEXT_AFTER_CAP.get(capped, 'next order at the next run')}")
        if due.get("day") is None:
            return f"{head}; covered beyond {due.get('horizon_days')} days"
        return f"{head}; covered; next order due {pd.Timestamp(due['date']):%Y-%m-%d}"
    if due.get("day") == 0:
        held = _HOLD_NOTE.get(o.get("hold_reason")) if o.get("decision") == "hold" else None
        if held:
            return f"at the reorder point {float(due['reorder_point']):.0f}; {held}"
        return "reorder due now"
    if due.get("day") is None:
        return f"covered beyond {due.get('horizon_days')} days"
    return f"covered; next order due {pd.Timestamp(due['date']):%Y-%m-%d}"


def decision_label(phase: str, due: Mapping[str, Any], order_03: Mapping[str, Any] | None = None) -> str:
    """The call as a short label for the record's ``decision`` (the site's timeline and run-to-run diff show a row
    when it changes): the words of ``verdict`` without its numbers and dates, which move every day."""
    from ..inputs.state import ORDERING_PHASES

    ordering = float((order_03 or {}).get("units") or 0.0) > 0
    if phase not in ORDERING_PHASES:
        if ordering:
            return "backlog order only (chapter 03)"
        return "no reorders" if phase in ("peak", "declining", "exited") else "no orders"
    if ordering:
        return "chapter 03 orders today" + ("; below the reorder point" if due.get("day") == 0 else "")
    if due.get("day") == 0:
        return "reorder due now"
    return "covered"


# ---------------------------------------------------------------------------------------- headline


def decide(phase: str, stock: Mapping[str, Any], due: Mapping[str, Any], choice: ReorderChoice,
           sim: SimulationResult, promo: dict, *, phase_evidence: Sequence[str] = (),
           order_03: Mapping[str, Any] | None = None) -> tuple[str, list[str]]:
    """The chapter's call in words: (verdict, reasons). ``stock``: on_hand, on_order, proposed, backlog,
    position. Chapter 04 never orders; it says when chapter 03's next order is due, and names chapter 03's order
    of today (``order_03``, see ``chapter03_order``) instead of sizing a second one."""
    from ..inputs.state import ORDERING_PHASES

    t = sim.table
    worst = t.loc[t["stockout_prob"].idxmax()]
    when = worst["date"] if worst["date"] is not None else f"day {int(worst['day'])}"
    over = sim.expected_overstock
    reasons = [f"Phase {phase}" + (": " + "; ".join(phase_evidence) if phase_evidence else "") + "."]
    reasons.append(f"Position {stock['position']:.0f} = {stock['on_hand']:.0f} on hand + {stock['on_order']:.0f} on "
                   f"order (ledger) + {stock['proposed']:.0f} proposed by chapter 03 today - {stock['backlog']:.0f} "
                   "pre-sold units waiting (backlog).")
    reasons.append(choice.explain())
    o = dict(order_03 or {})
    ordered = float(o.get("units") or 0.0)
    if phase not in ORDERING_PHASES:
        if ordered > 0:
            reasons.append(f"Chapter 03 orders {ordered:.0f} units today for customers who already paid (the backlog "
                           f"not covered by stock or open orders); no reorders for new demand while the spike is "
                           f"{phase}, so the reorder point does not apply.")
        else:
            reasons.append(f"No reorders while the spike is {phase}"
                           + (": chapter 06 brakes what is not yet made and clears the stock." if phase in
                              ("peak", "declining", "exited") else "."))
    elif ordered > 0 and due.get("day") == 0:
        capped = o.get("capped_by")
        reasons.append(f"Chapter 03 orders {ordered:.0f} units today{_CAP_NOTE.get(capped, '')}; the position with it "
                       f"({due['position']:.0f}) is still at or below the reorder point ({due['reorder_point']:.0f}): "
                       f"{_NEXT_AFTER_CAP.get(capped, 'next order at the next run')}. This is not a second order: "
                       "chapter 03 sizes every order.")
    elif ordered > 0:
        reasons.append(f"Chapter 03 orders {ordered:.0f} units today"
                       + (f"; with it the position stays above the reorder point for all {due['horizon_days']} days "
                          "projected." if due.get("day") is None else
                          f"; with it the next order is due {pd.Timestamp(due['date']):%Y-%m-%d} (day {due['day']}): "
                          f"the position runs down to {due['position']:.0f} against a reorder point of "
                          f"{due['reorder_point']:.0f}."))
    elif due.get("day") is None:
        reasons.append(f"The position stays above the reorder point for all {due['horizon_days']} days projected: "
                       "no order due.")
    elif due["day"] == 0:
        held = _HOLD_NOTE.get(o.get("hold_reason")) if o.get("decision") == "hold" else None
        reasons.append(f"The position ({due['position']:.0f}) is already at or below the reorder point "
                       f"({due['reorder_point']:.0f}): " + (f"{held}." if held else
                                                            "the next order is due now; chapter 03 sizes and places it."))
    else:
        reasons.append(f"Next order due {pd.Timestamp(due['date']):%Y-%m-%d} (day {due['day']}): the position runs "
                       f"down to {due['position']:.0f} against a reorder point of {due['reorder_point']:.0f}; chapter "
                       "03 places it at that day's run.")
    risky = t.loc[t["stockout_prob"] >= 0.5, "date"].tolist()
    reasons.append(f"If nothing more is ordered ({sim.runs} runs): fill rate {sim.fill_rate:.0%}; stock-out risk "
                   f"peaks at {worst['stockout_prob']:.0%} ({when})"
                   + (f"; risk of 50% or more on {len(risky)} day(s) from {risky[0]}" if risky else "") + ".")
    reasons.append(f"Leftover: {over['units']:.0f} units expected after {sim.horizon_days} days (95% of runs at most "
                   f"{over['units_p95']:.0f}), worth {over['value']:.0f} yuan at cost minus salvage; "
                   f"{over['on_order_after_horizon']:.0f} more still on order.")
    cover = promo["days_of_cover"]
    reasons.append(f"Promotion now: {promo['name']} ({'unlimited' if not math.isfinite(cover) else f'{cover:.1f}'} "
                   f"days of cover): {promo['action']}" + (f" ({promo['note']})" if promo.get("note") else "") + ".")
    return verdict(phase, due, order_03=order_03), reasons


def headline(phase: str, stock: Mapping[str, Any], due: Mapping[str, Any], choice: ReorderChoice,
             sim: SimulationResult, promo: dict, *, order_03: Mapping[str, Any] | None = None) -> str:
    """One line for the run summary."""
    table = sim.table
    worst = table.loc[table["stockout_prob"].idxmax()]
    when = worst["date"] if worst["date"] is not None else f"day {int(worst['day'])}"
    call = verdict(phase, due, order_03=order_03)
    return (f"{call[:1].upper() + call[1:]}; position {stock['position']:.0f} ({stock['on_hand']:.0f} on hand + "
            f"{stock['on_order']:.0f} on order + {stock['proposed']:.0f} proposed - {stock['backlog']:.0f} backlog), "
            f"reorder point {choice.now['chosen']:.0f}; if nothing more is ordered stock-out risk peaks at "
            f"{worst['stockout_prob']:.0%} ({when}), fill rate {sim.fill_rate:.0%}; promotion now: {promo['name']}.")


# ------------------------------------------------------------------------------------------ figures


def plot_forecast(forecast: DemandForecast):
    """Expected demand per day with the level interval (chapter 02's uncertainty)."""
    import matplotlib.pyplot as plt

    from ..core.plots import finish

    frame = forecast.to_frame()
    fig, ax = plt.subplots()
    ax.fill_between(frame["day"], frame["low"], frame["high"], alpha=0.25, label=f"{forecast.conf:.0%} level interval")
    ax.plot(frame["day"], frame["expected"], marker="o", label="expected demand")
    if forecast.shape.get("kind") == "two-sided bell":
        ax.axhline(forecast.rate, color="grey", linestyle=":", label="validated rate (chapter 02)")
    ax.legend(loc="upper right")
    finish(ax, "Demand forecast (the spike's shared forecast)", "day after as_of", "units per day")
    return fig


def plot_projection(sim: SimulationResult):
    """Median projected stock with its 5-95% band, the reorder point, and P(stock-out) on a twin axis."""
    import matplotlib.pyplot as plt

    from ..core.plots import finish

    t = sim.table
    fig, ax = plt.subplots()
    ax.fill_between(t["day"], t["stock_p5"], t["stock_p95"], alpha=0.25, label="stock, 5-95% of runs")
    ax.plot(t["day"], t["stock_p50"], marker="o", label="stock, median")
    if (t["reorder_point"] >= 0).any():  # a projection without reorders has none to draw
        ax.step(t["day"], t["reorder_point"], where="mid", color="tab:red", linestyle="--",
                label="reorder point (stock position)")
    ax.set_ylim(bottom=0)
    risk = ax.twinx()
    risk.bar(t["day"], t["stockout_prob"] * 100, width=0.5, alpha=0.3, color="tab:orange", label="P(stock-out)")
    risk.set_ylim(0, 100)
    risk.set_ylabel("P(stock-out) that day (%)")
    risk.grid(False)
    risk.set_zorder(ax.get_zorder() - 1)  # bars behind the stock lines
    ax.patch.set_visible(False)
    lines, labels = ax.get_legend_handles_labels()
    more, more_labels = risk.get_legend_handles_labels()
    ax.legend(lines + more, labels + more_labels, loc="upper right", fontsize="small", framealpha=0.8)
    finish(ax, f"Projected stock at day end ({sim.runs} runs)", "day after as_of", "units in stock")
    return fig
