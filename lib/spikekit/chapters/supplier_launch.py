"""Chapter 03, 微型供应链启动 (72 小时生产响应): who makes how many units, by when.

The plan is a mixed-integer programme solved with ``scipy.optimize.milp`` (HiGHS), not a greedy loop.

Day numbering. The order is placed on ``as_of`` (day 0). Day 1 is the first calendar day after as_of, in the
spike's time zone. Production happens on days 1..H (H = the demand horizon, ``horizon_days``); a unit made on
day d is at our warehouse on day ``d + ceil(lead_days)`` and counts against demand on that day. Demand is a
cumulative schedule over days 1..H; the model follows the days after H until the slowest supplier's last
possible unit has arrived, so a late unit keeps costing lateness until it arrives.

Variables: integer units ``x[s, d]`` made by supplier s on day d; binary ``use[s]`` (the supplier gets an
order); backlog ``b[t] >= 0`` for every day t (units wanted by day t but not yet arrived).

Constraints, per supplier s:
- reserve capacity: ``x[s, d] <= floor((1 - reserve_share) * daily_capacity)`` (handbook checklist: keep 30%
  elastic capacity for surprises);
- material: production on the days before ``material_ready_day`` together is at most ``material_units``
  (from the ready day on, material does not limit);
- quantity: ``min_order * use[s] <= sum_d x[s, d] <= max_units * use[s]``;
- demand: ``arrivals up to t + b[t] >= cumulative demand by t`` for every day t.

Objective (yuan): unit cost x units + setup cost x use + lateness_penalty x unit-days of backlog
+ a reliability charge (below) + a shortage charge on units never delivered, set above the cost of any way of
delivering a unit, so the plan delivers whatever the suppliers can make and only then falls short.

Reliability (my call, kept simple and visible): a unit from a supplier with reliability r arrives late with
probability 1 - r. Assuming a slipped unit is ``slip_days`` late, its expected lateness cost is
``lateness_penalty * slip_days * (1 - r)`` per unit; it is added to the unit's cost. This tilts volume toward
reliable suppliers when prices are close, without a stochastic programme (which the data could not support:
one historical share per supplier). Set ``slip_days`` to 0 to ignore reliability.

Binding constraints are read from the integer solution (slack 0) and priced with the duals of the LP
relaxation with each supplier's on/off choice fixed at the optimum (a MILP has no duals of its own; with the
binaries fixed, what remains is an LP whose duals say what one more unit of a limit is worth).

A supplier's production window and ``first_arrival`` live in ``supply`` (shared with the closed-loop replay),
``open_arrivals`` in ``state``; their names still import from here.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..core._common import json_safe as _json_safe, settings_from_mapping
from ..core.errors import ConfigError
from ..core.supply import (  # noqa: F401  (moved there; old imports keep working)
    _EPS,
    _Supplier,
    _can_make,
    _ceil,
    _floor,
    _suppliers,
    first_arrival,
)
from ..inputs.state import (  # noqa: F401  (moved there; old imports keep working)
    _open_order_rows,
    open_arrivals,
)

__all__ = [
    "SupplySettings",
    "Plan",
    "demand_schedule",
    "plan_orders",
    "hold_plan",
    "supplier_potential",
    "headline",
    "reasons",
    "plot_arrivals",
    "first_arrival",
    "cover_window",
    "forecast_daily",
    "open_arrivals",
    "coverage",
    "covered_until",
    "need_schedule",
    "LaunchCall",
    "launch",
    "launch_headline",
    "plot_coverage",
]

DEMAND_LEVELS = ("estimate", "low", "high")
PURCHASE_ORDER_COLUMNS = [
    "supplier", "tier", "units", "unit_cost", "setup_cost", "cost", "share", "first_production_day",
    "last_production_day", "first_arrival_day", "last_arrival_day", "reliability", "expected_on_time",
]
ARRIVAL_COLUMNS = ["day", "date", "demand", "cumulative_demand", "arrivals", "cumulative_arrivals", "backlog"]
PRODUCTION_COLUMNS = ["supplier", "production_day", "production_date", "units", "daily_limit", "arrival_day",
                      "arrival_date"]
BINDING_COLUMNS = ["constraint", "supplier", "days", "limit", "shadow_price", "detail"]
# Prefer earlier production when two plans cost the same (earlier units are a buffer against slips). Far below
# a fen per unit, so it never changes what a plan costs; the reported costs exclude it.
_EARLIER_TIEBREAK = 1e-5


@dataclass(frozen=True)
class SupplySettings:
    """The chapter's parameters (each one a notebook parameter).

    horizon_days: the production window: production is planned on days 1..horizon_days (day 1 = the first day
        after as_of), and the demand schedule runs over it.
    reserve_share: share of every supplier's daily capacity kept free (handbook checklist: 30% elastic
        capacity), so no day is planned above (1 - reserve_share) of capacity.
    lateness_penalty: yuan per unit per day a unit arrives after the day it is wanted (refunds, coupons and
        lost ranking of a late pre-sale). Raise it to buy speed, lower it to buy cheap.
    slip_days: expected delay of a unit that does not arrive on time; with the supplier's reliability r it adds
        lateness_penalty * slip_days * (1 - r) to each of its units. 0 ignores reliability.
    demand_level: which level of the spike's shared demand forecast to plan for: estimate (its expected
        demand), low or high (the ends of its interval).
    time_limit_s: the solver's time limit; a plan not proven optimal in time is reported as such.
    cover_days: days of forecast demand an order covers (the lead-time window); 0 derives it: the day the
        fastest usable supplier's first unit of a new order can be here, plus ``review_days``.
    review_days: days until the position is reviewed again (the playbook runs daily: 1); only used when
        ``cover_days`` is derived.
    first_order_share: while realised sales have not confirmed the spike (phase launching), everything on order
        stays within this share of the validation-period sales (handbook: the first order is 50% of them).
    max_tie_share: one order costs at most this share of the cash on hand (handbook: 30%).
    confirm_days: days of realised sales since the rise began that the lifecycle fit needs before it sizes orders
        beyond the handbook's first order: a curve through three days of a steep rise can put the peak anywhere
        (its interval spans a hundredfold), so until then the spike counts as unconfirmed.
    serve_backlog: outside the launching/rising phases (peak, declining, exited) still order the units customers
        already paid for (presale backlog) that stock and open orders do not cover, and nothing for new demand;
        False for a shop that refunds such orders instead (then nothing is ordered outside those phases).
    """

    horizon_days: int = 10
    reserve_share: float = 0.30
    lateness_penalty: float = 5.0
    slip_days: float = 2.0
    demand_level: str = "estimate"
    time_limit_s: float = 30.0
    cover_days: int = 0
    review_days: int = 1
    first_order_share: float = 0.5
    max_tie_share: float = 0.3
    confirm_days: int = 5
    serve_backlog: bool = True

    def __post_init__(self):
        def number(name, low, high=math.inf, *, low_open=False, high_open=False, whole=False):
            value = getattr(self, name)
            ok = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
            if ok:
                value = float(value)
                ok = math.isfinite(value) and (value > low if low_open else value >= low) and (
                    value < high if high_open else value <= high)
                ok = ok and (not whole or value == int(value))
            if not ok:
                kind = "a whole number" if whole else "a number"
                span = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
                raise ConfigError(f"{name}={getattr(self, name)!r} must be {kind} in {span}")

        number("horizon_days", 1, 366, whole=True)
        number("reserve_share", 0, 1, high_open=True)
        number("lateness_penalty", 0)
        number("slip_days", 0)
        number("time_limit_s", 0, low_open=True)
        number("cover_days", 0, 366, whole=True)
        number("review_days", 0, 366, whole=True)
        number("first_order_share", 0, 1, low_open=True)
        number("max_tie_share", 0, 1, low_open=True)
        number("confirm_days", 0, 60, whole=True)
        if not isinstance(self.serve_backlog, (bool, np.bool_)):
            raise ConfigError(f"serve_backlog={self.serve_backlog!r} must be true or false")
        if self.demand_level not in DEMAND_LEVELS:
            raise ConfigError(f"demand_level={self.demand_level!r} must be one of {', '.join(DEMAND_LEVELS)}")

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any]) -> "SupplySettings":
        """Build from notebook parameters; unknown names are refused (papermill itself only warns)."""
        return settings_from_mapping(cls, params, "supplier-plan")

    def to_dict(self) -> dict:
        return _json_safe(asdict(self))


@dataclass(frozen=True)
class Plan:
    """The purchase plan: orders per supplier, production and arrivals by day, costs, binding limits, and why.

    status: "ok" (every unit on time), "late" (all delivered, some after the day wanted), "short" (the
    suppliers cannot make the whole order in the production window), "nothing" (no demand to cover) or
    "hold" (chapter 02 did not say go). ``explanation`` says it in words; no solver codes.
    """

    status: str
    purchase_orders: pd.DataFrame = field(repr=False)
    production: pd.DataFrame = field(repr=False)
    arrivals: pd.DataFrame = field(repr=False)
    binding: pd.DataFrame = field(repr=False)
    costs: dict
    explanation: list
    settings: SupplySettings = field(repr=False)
    order_units: int = 0
    optimal: bool = True

    @property
    def decision(self) -> str:
        """"order" when there is something to order, else "hold"."""
        return "order" if self.status in ("ok", "late", "short") and self.units_ordered > 0 else "hold"

    @property
    def units_ordered(self) -> int:
        return int(self.purchase_orders["units"].sum()) if len(self.purchase_orders) else 0

    @property
    def total_cost(self) -> float:
        """Money paid to suppliers: units plus setup costs (penalties are planning weights, not payments)."""
        return float(self.costs.get("purchase", 0.0))

    @property
    def shortage_units(self) -> int:
        return int(self.costs.get("shortage_units", 0))

    @property
    def late_unit_days(self) -> float:
        return float(self.costs.get("late_unit_days", 0.0))

    @property
    def first_arrival_day(self) -> int | None:
        got = self.arrivals.loc[self.arrivals["arrivals"] > 0, "day"] if len(self.arrivals) else []
        return int(got.iloc[0]) if len(got) else None

    def to_dict(self) -> dict:
        """JSON-safe: plain types only (dates as ISO strings, tables as lists of records)."""
        return _json_safe({
            "status": self.status,
            "decision": self.decision,
            "order_units": self.order_units,
            "units_ordered": self.units_ordered,
            "total_cost": self.total_cost,
            "costs": self.costs,
            "optimal": self.optimal,
            "explanation": list(self.explanation),
            "purchase_orders": _records(self.purchase_orders),
            "production": _records(self.production),
            "arrivals": _records(self.arrivals),
            "binding": _records(self.binding),
            "settings": self.settings.to_dict(),
        })


# ------------------------------------------------------------------------------------------ helpers


def _records(frame: pd.DataFrame) -> list:
    return [dict(zip(frame.columns, row)) for row in frame.itertuples(index=False, name=None)]


def _settings(settings) -> SupplySettings:
    if settings is None:
        return SupplySettings()
    if isinstance(settings, SupplySettings):
        return settings
    if isinstance(settings, Mapping):
        return SupplySettings.from_mapping(settings)
    raise ConfigError(f"settings must be SupplySettings or a mapping of parameters, not {type(settings).__name__}")


def _day_span(days) -> str:
    """[1, 2, 3, 5] -> "1-3, 5"."""
    days = sorted(int(d) for d in days)
    if not days:
        return ""
    parts, start, prev = [], days[0], days[0]
    for d in days[1:] + [None]:
        if d is not None and d == prev + 1:
            prev = d
            continue
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
        if d is not None:
            start = prev = d
    return ", ".join(parts)


def _money(value: float) -> str:
    return f"¥{value:,.0f}"


def _date_of_day(day1: pd.Timestamp, day: int) -> pd.Timestamp:
    return day1 + pd.Timedelta(days=int(day) - 1)


# ------------------------------------------------------------------------------------------ demand


def demand_schedule(daily_demand, as_of, horizon_days: int = 10, first_order_units: int = 0,
                    level: str = "estimate") -> pd.DataFrame:
    """A flat-rate demand schedule (hand cases and what-ifs; the chapter plans with ``need_schedule`` from the
    spike's shared forecast).

    ``daily_demand`` is a record like chapter 02's ({"estimate", "low", "high", ...} in units per day) or a
    number. Day 1 is the first calendar day after ``as_of`` (in as_of's own zone); ``date`` is that calendar
    day. The cumulative demand by day t is ceil(rate x t), capped at the order; the order (``first_order_units``,
    0 = the horizon's demand, ceil(rate x horizon)) is wanted in full by the last day, so an order larger than
    the horizon's demand puts the rest on the last day. ``as_of`` only dates the days: the schedule reads no rows.

    Columns: day, date, demand (units wanted that day), cumulative_demand.
    """
    horizon = SupplySettings(horizon_days=horizon_days, demand_level=level)
    if isinstance(first_order_units, bool) or not isinstance(first_order_units, (int, np.integer)) or first_order_units < 0:
        raise ConfigError(f"first_order_units={first_order_units!r} must be a whole number >= 0")
    if isinstance(daily_demand, Mapping):
        if level not in daily_demand or daily_demand[level] is None:
            raise ConfigError(f"daily_demand has no {level!r} figure (it has {sorted(daily_demand)}); "
                              "pass chapter 02's daily_demand record or a number of units per day")
        rate = daily_demand[level]
    else:
        rate = daily_demand
    try:
        rate = float(rate)
    except (TypeError, ValueError):
        raise ConfigError(f"daily demand {rate!r} is not a number of units per day") from None
    if not (math.isfinite(rate) and rate >= 0):
        raise ConfigError(f"daily demand {rate!r} must be a number >= 0 (units per day)")
    day1 = _day_one(as_of)
    days = np.arange(1, horizon.horizon_days + 1)
    order = int(first_order_units) if first_order_units else _ceil(rate * horizon.horizon_days)
    cumulative = np.minimum(np.array([_ceil(rate * d) for d in days], dtype=np.int64), order)
    cumulative[-1] = order
    return pd.DataFrame({
        "day": days.astype(np.int64),
        "date": [_date_of_day(day1, d) for d in days],
        "demand": np.diff(cumulative, prepend=0).astype(np.int64),
        "cumulative_demand": cumulative,
    })


def _day_one(as_of) -> pd.Timestamp:
    """Day 1: the calendar day after ``as_of`` (naive, in as_of's own zone)."""
    stamp = pd.Timestamp(as_of)
    if pd.isna(stamp):
        raise ConfigError("as_of is missing; give the moment the order is placed, e.g. '2025-03-09 12:00'")
    return pd.Timestamp(stamp.date()) + pd.Timedelta(days=1)


# ------------------------------------------------------------------------------------------ capacity


def supplier_potential(suppliers: pd.DataFrame, horizon_days: int, reserve_share: float = 0.30) -> pd.DataFrame:
    """What each supplier could make at most in the production window (days 1..horizon), and what limits it.

    Columns: supplier, daily_limit (units/day after the reserve), potential (units at that limit),
    limited_by (max_units, material, reserve capacity, min_order), potential_no_reserve (using the reserve too).
    A supplier whose min_order exceeds what it can make cannot take an order at all (potential 0).
    """
    rows = []
    for sup in _suppliers(suppliers, reserve_share):
        made, why = _can_make(sup, horizon_days)
        full, _ = _can_make(sup, horizon_days, daily_limit=sup.daily_capacity)
        if made < sup.min_order:
            made, why = 0, "min_order"
        if full < sup.min_order:
            full = 0
        rows.append({"supplier": sup.name, "daily_limit": sup.daily_limit, "potential": made, "limited_by": why,
                     "potential_no_reserve": full})
    return pd.DataFrame(rows, columns=["supplier", "daily_limit", "potential", "limited_by", "potential_no_reserve"])


def _fastest_possible(sups: list[_Supplier], cumulative: np.ndarray, last_day: int) -> np.ndarray:
    """Most units that could have arrived by each day 1..last_day, every supplier at full (reserved) speed."""
    best = np.zeros(last_day, dtype=np.int64)
    for sup in sups:
        whole, _ = _can_make(sup, len(cumulative))
        if whole < sup.min_order:
            continue
        for t in range(1, last_day + 1):
            made, _ = _can_make(sup, min(t - sup.lead, len(cumulative)))
            best[t - 1] += made
    return best


# ------------------------------------------------------------------------------------------ the programme


def _build(sups: list[_Supplier], cumulative: np.ndarray, settings: SupplySettings):
    """Objective, constraint rows (A x <= b, with a label per row), bounds, integrality, sizes."""
    n_sup, horizon = len(sups), len(cumulative)
    last_day = horizon + max([s.lead for s in sups] + [0])
    n_x = n_sup * horizon
    n_var = n_x + n_sup + last_day
    x_at = lambda s, d: s * horizon + (d - 1)  # noqa: E731 (d is 1-based)
    use_at = lambda s: n_x + s  # noqa: E731
    back_at = lambda t: n_x + n_sup + (t - 1)  # noqa: E731
    order = int(cumulative[-1])

    # Shortage weight: more than any way of delivering a unit could cost, so the solver never prefers it.
    worst_unit = max([s.unit_cost + settings.lateness_penalty * settings.slip_days for s in sups] + [0.0])
    shortage_weight = (worst_unit + sum(s.setup_cost for s in sups) + settings.lateness_penalty * last_day) * 10 + 100

    cost = np.zeros(n_var)
    lower, upper = np.zeros(n_var), np.zeros(n_var)
    integrality = np.zeros(n_var)
    for s, sup in enumerate(sups):
        per_unit = sup.unit_cost + settings.lateness_penalty * settings.slip_days * (1 - sup.reliability)
        for d in range(1, horizon + 1):
            cost[x_at(s, d)] = per_unit + _EARLIER_TIEBREAK * d
            upper[x_at(s, d)] = max(sup.daily_limit, 0)
            integrality[x_at(s, d)] = 1
        cost[use_at(s)] = sup.setup_cost
        upper[use_at(s)] = 1
        integrality[use_at(s)] = 1
    for t in range(1, last_day + 1):
        cost[back_at(t)] = settings.lateness_penalty
        upper[back_at(t)] = np.inf
    cost[back_at(last_day)] += shortage_weight

    rows, rhs, labels = [], [], []

    def add(coefs: dict, bound: float, label: tuple):
        row = np.zeros(n_var)
        for j, v in coefs.items():
            row[j] += v
        rows.append(row)
        rhs.append(bound)
        labels.append(label)

    for s, sup in enumerate(sups):
        early = [d for d in range(1, horizon + 1) if d < sup.material_ready_day]
        if early:
            add({x_at(s, d): 1 for d in early}, sup.material_units, ("material", s, None))
        total = {x_at(s, d): 1 for d in range(1, horizon + 1)}
        add({**total, use_at(s): -sup.max_units}, 0, ("max_units", s, None))
        if sup.min_order > 0:
            add({**{j: -1 for j in total}, use_at(s): sup.min_order}, 0, ("min_order", s, None))
    for t in range(1, last_day + 1):
        coefs = {back_at(t): -1}
        for s, sup in enumerate(sups):
            for d in range(1, min(horizon, t - sup.lead) + 1):
                coefs[x_at(s, d)] = -1
        wanted = int(cumulative[min(t, horizon) - 1])
        add(coefs, -wanted, ("demand", None, t))
    a = np.vstack(rows) if rows else np.zeros((0, n_var))
    return {
        "cost": cost, "A": a, "b": np.asarray(rhs, dtype=float), "labels": labels, "lower": lower, "upper": upper,
        "integrality": integrality, "x_at": x_at, "use_at": use_at, "back_at": back_at, "last_day": last_day,
        "order": order, "shortage_weight": shortage_weight,
    }


def _solve(model, settings: SupplySettings):
    from scipy.optimize import Bounds, LinearConstraint, milp

    constraints = [LinearConstraint(model["A"], -np.inf, model["b"])] if len(model["b"]) else []
    result = milp(
        model["cost"], constraints=constraints, integrality=model["integrality"],
        bounds=Bounds(model["lower"], model["upper"]),
        options={"time_limit": float(settings.time_limit_s), "mip_rel_gap": 1e-9, "disp": False},
    )
    return result


def _lp_duals(model, solution: np.ndarray, n_sup: int):
    """Duals of the LP relaxation with the on/off choices fixed at the optimum (None if it does not solve)."""
    from scipy.optimize import linprog

    lower, upper = model["lower"].copy(), model["upper"].copy()
    for s in range(n_sup):
        j = model["use_at"](s)
        lower[j] = upper[j] = round(solution[j])
    bounds = list(zip(lower, [None if not np.isfinite(u) else u for u in upper]))
    res = linprog(model["cost"], A_ub=model["A"], b_ub=model["b"], bounds=bounds, method="highs")
    if res.status != 0:
        return None
    return res.ineqlin.marginals, res.upper.marginals


# ------------------------------------------------------------------------------------------ public API


def _empty_frames():
    return (pd.DataFrame(columns=PURCHASE_ORDER_COLUMNS), pd.DataFrame(columns=PRODUCTION_COLUMNS),
            pd.DataFrame(columns=BINDING_COLUMNS))


def _schedule_arrays(schedule: pd.DataFrame) -> tuple[np.ndarray, pd.Timestamp]:
    frame = schedule.sort_values("day")
    days = frame["day"].to_numpy(dtype=np.int64)
    if len(days) == 0 or not np.array_equal(days, np.arange(1, len(days) + 1)):
        raise ConfigError("the demand schedule must list days 1, 2, ... without gaps; build it with demand_schedule()")
    cumulative = frame["cumulative_demand"].to_numpy(dtype=np.int64)
    if (np.diff(cumulative) < 0).any() or cumulative[0] < 0:
        raise ConfigError("cumulative_demand must never fall from one day to the next")
    day1 = pd.Timestamp(frame["date"].iloc[0]) if "date" in frame else pd.Timestamp("1970-01-01")
    return cumulative, day1


def hold_plan(schedule: pd.DataFrame, settings: SupplySettings | Mapping | None = None, *, reason: str) -> Plan:
    """A plan that orders nothing, with the reason (chapter 02 did not say go): the notebook still records it."""
    settings = _settings(settings)
    cumulative, day1 = _schedule_arrays(schedule)
    orders, production, binding = _empty_frames()
    arrivals = _arrival_frame(cumulative, np.zeros(len(cumulative), dtype=np.int64), day1)
    return Plan(status="hold", purchase_orders=orders, production=production, arrivals=arrivals, binding=binding,
                costs=_costs(0, 0, 0, 0, 0, 0), explanation=[f"No purchase orders: {reason}."], settings=settings,
                order_units=int(cumulative[-1]))


def _costs(units, setup, late_unit_days, lateness, reliability, shortage) -> dict:
    return {
        "units": float(units), "setup": float(setup), "purchase": float(units + setup),
        "late_unit_days": float(late_unit_days), "lateness_penalty": float(lateness),
        "reliability_charge": float(reliability), "shortage_units": int(shortage),
        "objective": float(units + setup + lateness + reliability),
    }


def _arrival_frame(cumulative: np.ndarray, arrivals: np.ndarray, day1: pd.Timestamp) -> pd.DataFrame:
    last_day = len(arrivals)
    wanted = np.array([cumulative[min(t, len(cumulative)) - 1] for t in range(1, last_day + 1)], dtype=np.int64)
    got = np.cumsum(arrivals).astype(np.int64)
    return pd.DataFrame({
        "day": np.arange(1, last_day + 1, dtype=np.int64),
        "date": [_date_of_day(day1, t) for t in range(1, last_day + 1)],
        "demand": np.diff(wanted, prepend=0).astype(np.int64),
        "cumulative_demand": wanted,
        "arrivals": arrivals.astype(np.int64),
        "cumulative_arrivals": got,
        "backlog": np.maximum(wanted - got, 0).astype(np.int64),
    })


def plan_orders(suppliers: pd.DataFrame, schedule: pd.DataFrame,
                settings: SupplySettings | Mapping | None = None) -> Plan:
    """Split the order across suppliers at least cost; production and arrivals by day; what binds, in words.

    ``suppliers``: the clean ``suppliers`` table (``spikekit.inputs.contracts.load_suppliers``). ``schedule``: from
    ``demand_schedule`` (day 1..H, cumulative_demand). See the module docstring for the programme.
    """
    settings = _settings(settings)
    cumulative, day1 = _schedule_arrays(schedule)
    horizon, order = len(cumulative), int(cumulative[-1])
    sups = _suppliers(suppliers, settings.reserve_share)
    if order == 0:
        plan = hold_plan(schedule, settings, reason="the demand schedule asks for 0 units")
        return replace(plan, status="nothing", explanation=["Nothing to order: the demand schedule asks for 0 units."])
    if not sups:
        orders, production, binding = _empty_frames()
        arrivals = _arrival_frame(cumulative, np.zeros(horizon, dtype=np.int64), day1)
        return Plan(status="short", purchase_orders=orders, production=production, arrivals=arrivals, binding=binding,
                    costs=_costs(0, 0, float(arrivals["backlog"].sum()), 0, 0, order),
                    explanation=[f"The supplier table is empty: all {order} units are short. Add suppliers."],
                    settings=settings, order_units=order)

    model = _build(sups, cumulative, settings)
    result = _solve(model, settings)
    if result.x is None:
        # With backlog variables the programme always has a solution (order nothing, all late); only the
        # time limit can leave none.
        raise ConfigError(
            f"no plan found within time_limit_s={settings.time_limit_s:g} s ({len(sups)} suppliers x {horizon} days). "
            "Fix: raise time_limit_s, or shorten horizon_days"
        )
    optimal = bool(result.status == 0)
    x = result.x
    last_day = model["last_day"]
    made = np.array([[round(x[model["x_at"](s, d)]) for d in range(1, horizon + 1)] for s in range(len(sups))],
                    dtype=np.int64)
    used = np.array([round(x[model["use_at"](s)]) for s in range(len(sups))], dtype=bool) & (made.sum(axis=1) > 0)

    arrivals = np.zeros(last_day, dtype=np.int64)
    production_rows = []
    for s, sup in enumerate(sups):
        for d in range(1, horizon + 1):
            if made[s, d - 1] > 0:
                arrivals[d + sup.lead - 1] += made[s, d - 1]
                production_rows.append({
                    "supplier": sup.name, "production_day": d, "production_date": _date_of_day(day1, d),
                    "units": int(made[s, d - 1]), "daily_limit": sup.daily_limit, "arrival_day": d + sup.lead,
                    "arrival_date": _date_of_day(day1, d + sup.lead),
                })
    production = pd.DataFrame(production_rows, columns=PRODUCTION_COLUMNS)
    # Show the days that matter: the horizon, and after it only until the last unit is in.
    busy = np.flatnonzero(arrivals) + 1
    arrival_frame = _arrival_frame(cumulative, arrivals[: max([horizon, *busy.tolist()])], day1)
    shortage = max(order - int(made.sum()), 0)

    order_rows = []
    for s, sup in enumerate(sups):
        if not used[s]:
            continue
        units = int(made[s].sum())
        days = np.flatnonzero(made[s]) + 1
        order_rows.append({
            "supplier": sup.name, "tier": sup.tier, "units": units, "unit_cost": sup.unit_cost,
            "setup_cost": sup.setup_cost, "cost": units * sup.unit_cost + sup.setup_cost,
            "share": units / max(int(made.sum()), 1), "first_production_day": int(days[0]),
            "last_production_day": int(days[-1]), "first_arrival_day": int(days[0]) + sup.lead,
            "last_arrival_day": int(days[-1]) + sup.lead, "reliability": sup.reliability,
            "expected_on_time": units * sup.reliability,
        })
    purchase_orders = pd.DataFrame(order_rows, columns=PURCHASE_ORDER_COLUMNS)

    unit_money = float(sum(made[s].sum() * sup.unit_cost for s, sup in enumerate(sups)))
    setup_money = float(sum(sup.setup_cost for s, sup in enumerate(sups) if used[s]))
    late_unit_days = float(arrival_frame["backlog"].sum())
    reliability_charge = float(sum(made[s].sum() * settings.lateness_penalty * settings.slip_days
                                   * (1 - sup.reliability) for s, sup in enumerate(sups)))
    costs = _costs(unit_money, setup_money, late_unit_days, settings.lateness_penalty * late_unit_days,
                   reliability_charge, shortage)

    duals = _lp_duals(model, x, len(sups))
    binding = _binding(sups, made, used, arrival_frame, model, duals, settings, horizon)
    if shortage:
        status = "short"
    elif late_unit_days > 0:
        status = "late"
    else:
        status = "ok"
    explanation = _explain(status, sups, suppliers, made, arrival_frame, cumulative, settings, costs, shortage,
                           optimal)
    return Plan(status=status, purchase_orders=purchase_orders, production=production, arrivals=arrival_frame,
                binding=binding, costs=costs, explanation=explanation, settings=settings, order_units=order,
                optimal=optimal)


# ------------------------------------------------------------------------------------------ the order, net of the spike's state
#
# Chapter 03 orders the INCREMENT: forecast demand over the lead-time window plus the customer backlog, minus
# stock on hand and units already on order (``spikekit.inputs.state.order_increment``), while the spike is
# launching or rising; past the top only the paid backlog that stock and open orders do not cover (owed now, so
# wanted from day 1). The MILP above then splits that increment among the suppliers, against a schedule
# that follows the shared forecast day by day.

_LEVEL_COLUMN = {"estimate": "expected", "low": "low", "high": "high"}
COVERAGE_COLUMNS = ["day", "date", "demand", "cumulative_need", "open_arrivals", "supply", "shortfall", "wanted"]


def cover_window(suppliers: pd.DataFrame, settings: SupplySettings | Mapping | None = None) -> tuple[int, str]:
    """Days of forecast demand an order placed now must cover, and why.

    An order placed now lands at the earliest on the fastest usable supplier's first-arrival day; the next
    order can only be placed at the next review (the next run), so this one must carry demand until the
    first unit of that next order can land: first arrival + ``review_days``. ``cover_days`` > 0 sets it."""
    settings = _settings(settings)
    if settings.cover_days:
        return int(settings.cover_days), f"cover_days={settings.cover_days} (set for this spike)"
    first = first_arrival(suppliers, settings.reserve_share, settings.horizon_days)
    if first is None:
        return int(settings.horizon_days), (f"no supplier can make its minimum order within the "
                                            f"{settings.horizon_days}-day production window: the whole window")
    days = first["arrival_day"] + settings.review_days
    return int(days), (f"{first['supplier']}, the fastest usable supplier, can land a new order's first unit on day "
                       f"{first['arrival_day']} (production from day {first['production_day']}, "
                       f"{first['lead_days']} day(s) lead time), + {settings.review_days} day(s) until the next review")


def forecast_daily(forecast: Mapping[str, Any], days: int, level: str = "estimate") -> np.ndarray:
    """The shared forecast's daily demand for days 1..``days`` at ``level`` (estimate, low or high); days
    past the forecast's horizon count 0."""
    if level not in _LEVEL_COLUMN:
        raise ConfigError(f"demand_level={level!r} must be one of {', '.join(DEMAND_LEVELS)}")
    rows = list((forecast or {}).get("daily") or [])
    out = np.zeros(int(days))
    for i, row in enumerate(rows[: int(days)]):
        out[i] = max(0.0, float(row[_LEVEL_COLUMN[level]]))
    return out


def coverage(*, as_of, demand: Sequence[float], on_hand: float, backlog: float, open_orders=(),
             units: int = 0) -> pd.DataFrame:
    """Day by day (day 1 = the day after as_of): what must have shipped and what we have to ship it with.

    cumulative_need = backlog + cumulative forecast demand; supply = stock on hand + open orders arrived by
    that day; shortfall = need - supply (negative: covered). ``wanted`` is what a new order of ``units``
    must have delivered by each day: the running maximum of the shortfall (delivered units stay), capped at
    the order and reaching it on the last day.
    """
    demand = np.asarray(demand, dtype=float)
    days = len(demand)
    day1 = _day_one(as_of)
    need = float(backlog) + np.cumsum(demand)
    arriving = open_arrivals(open_orders, as_of, days)
    supply = float(on_hand) + np.cumsum(arriving)
    shortfall = need - supply
    wanted = np.minimum(np.array([_ceil(v) for v in np.maximum.accumulate(np.maximum(shortfall, 0.0))],
                                 dtype=np.int64), int(units))
    if days:
        wanted[-1] = int(units)
    return pd.DataFrame({
        "day": np.arange(1, days + 1, dtype=np.int64),
        "date": [_date_of_day(day1, d) for d in range(1, days + 1)],
        "demand": demand, "cumulative_need": need, "open_arrivals": arriving, "supply": supply,
        "shortfall": shortfall, "wanted": wanted,
    }, columns=COVERAGE_COLUMNS)


def covered_until(*, as_of, demand: Sequence[float], on_hand: float, backlog: float, on_order: float):
    """The last day stock on hand plus everything on order still covers the backlog and the forecast demand
    (whenever the open orders land): a date, None when the backlog alone is more than that, or the last
    forecast day with ``beyond`` True when the forecast never runs past it. Returns (date or None, beyond)."""
    demand = np.asarray(demand, dtype=float)
    have = float(on_hand) + float(on_order)
    need = float(backlog) + np.cumsum(demand)
    short = np.flatnonzero(need > have + 1e-9)
    day1 = _day_one(as_of)
    if float(backlog) > have + 1e-9:
        return None, False
    if len(short) == 0:
        return (_date_of_day(day1, len(demand)) if len(demand) else None), True
    first = int(short[0]) + 1  # the first day 1.. not covered
    return (_date_of_day(day1, first - 1) if first > 1 else pd.Timestamp(pd.Timestamp(as_of).date())), False


def need_schedule(table: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """The MILP's demand schedule from a ``coverage`` table: cumulative units the new order must have delivered
    by each day 1..max(horizon, window); after the window the whole order is wanted."""
    days = max(int(horizon_days), len(table))
    wanted = table["wanted"].to_numpy(dtype=np.int64)
    units = int(wanted[-1]) if len(wanted) else 0
    cumulative = np.concatenate([wanted, np.full(days - len(wanted), units, dtype=np.int64)])
    day1 = pd.Timestamp(table["date"].iloc[0]) if len(table) else pd.Timestamp("1970-01-01")
    return pd.DataFrame({
        "day": np.arange(1, days + 1, dtype=np.int64),
        "date": [_date_of_day(day1, d) for d in range(1, days + 1)],
        "demand": np.diff(cumulative, prepend=0).astype(np.int64),
        "cumulative_demand": cumulative,
    })


@dataclass(frozen=True)
class LaunchCall:
    """Chapter 03's call on the spike's state: order the increment, or hold and why.

    reason: "order" (ordering), "phase" (not launching or rising), "covered" (stock and open orders cover the
    window), "first order" (the unconfirmed spike's first order is already on order), "cash" (the 30% rule
    leaves nothing), "capacity" (no supplier can make anything in the window).
    """

    decision: str
    reason: str
    phase: str
    phase_evidence: list
    increment: Any  # spikekit.inputs.state.Increment
    plan: Plan
    cover_days: int
    window: str
    coverage: pd.DataFrame = field(repr=False)
    covered_until: pd.Timestamp | None
    covered_beyond: bool
    position: dict
    demand_over_window: float
    first_order: int | None
    first_order_cap: float | None
    cash_on_hand: float | None
    cash_limit: float | None
    evidence: list
    serves_from: int = 1  # first forecast day the order can serve (the first landing when sold-out demand is lost)
    sized_on: dict = field(default_factory=dict)  # on_hand / on_order / backlog the increment was sized on

    @property
    def purchase_orders(self) -> pd.DataFrame:
        return self.plan.purchase_orders

    def to_dict(self) -> dict:
        return _json_safe({
            "decision": self.decision, "reason": self.reason, "phase": self.phase,
            "phase_evidence": list(self.phase_evidence),
            "increment": self.increment.to_dict(), "cover_days": self.cover_days, "window": self.window,
            "covered_until": self.covered_until, "covered_beyond": self.covered_beyond,
            "demand_over_window": self.demand_over_window, "first_order": self.first_order,
            "first_order_cap": self.first_order_cap, "cash_on_hand": self.cash_on_hand, "cash_limit": self.cash_limit,
            "evidence": list(self.evidence), "plan": self.plan.to_dict(), "serves_from": self.serves_from,
            "sized_on": dict(self.sized_on),
        })


def _hold(schedule: pd.DataFrame, settings: SupplySettings, reason: str) -> Plan:
    plan = hold_plan(schedule, settings, reason=reason)
    return replace(plan, arrivals=pd.DataFrame(columns=ARRIVAL_COLUMNS), order_units=0)


def launch(suppliers: pd.DataFrame, state: Mapping[str, Any], settings: SupplySettings | Mapping | None = None, *,
           validation_sales: float | None = None, cash_on_hand: float | None = None) -> LaunchCall:
    """Size the order net of the spike's state and split it among the suppliers.

    ``state``: ``sk.spike_state()`` (phase, position, forecast). The increment is
    ``state.order_increment``: forecast demand (``demand_level``) over the cover window (``cover_window``) plus
    the backlog, minus stock on hand and units on order; outside the launching and rising phases only the paid
    backlog that stock and open orders do not cover (``serve_backlog``), due at once.
    While the spike is launching (realised sales have not confirmed it), everything on order stays within the
    handbook's first order, ``first_order_share`` of ``validation_sales``. With ``cash_on_hand`` the order
    costs at most ``max_tie_share`` of it: the order is shrunk until the MILP's plan fits.
    """
    from ..inputs.state import order_increment

    settings = _settings(settings)
    phase = str(state.get("phase") or "watching")
    pos = dict(state.get("position") or {})
    forecast = state.get("forecast") or {}
    as_of = pd.Timestamp(state.get("as_of") or pos.get("as_of"))
    on_hand, backlog, on_order = (float(pos.get(k) or 0) for k in ("on_hand", "backlog", "on_order"))
    open_lines = pos.get("open_orders") or []
    window, window_note = cover_window(suppliers, settings)
    daily = forecast_daily(forecast, window, settings.demand_level)
    demand = float(daily.sum())
    lost_sales = not bool(pos.get("backorders", True))
    size_on_hand, size_on_order, size_backlog = on_hand, on_order, backlog
    label, lands = None, 1
    if lost_sales:
        # Without presale a day's demand beyond stock is lost, not owed: a new order can only serve the days from its
        # first landing on, and the stock until then sells down by the forecast. Sized on days 1..window, it would
        # buy units for days it cannot reach and leave them over.
        landing = first_arrival(suppliers, settings.reserve_share, settings.horizon_days)
        lands = min(int(landing["arrival_day"]), window) if landing is not None else 1
        arriving = open_arrivals(open_lines, as_of, window)
        stock = on_hand
        for d in range(lands - 1):
            stock = max(0.0, stock + float(arriving[d]) - float(daily[d]))
        before = float(arriving[: lands - 1].sum())
        window_note += (f"; no presale (sold-out demand is lost): the order serves days {lands}-{window}, and stock "
                        f"left on day {lands} after the forecast sells {on_hand:.0f} on hand + {before:.0f} arriving "
                        f"down is {stock:.0f}")
        demand = float(daily[lands - 1:].sum())
        size_on_hand, size_on_order, size_backlog = stock, max(0.0, on_order - before), 0.0
        label = f" on days {lands}-{window} (from the first possible landing)"
    confirmed = phase != "launching"
    fit_days = forecast.get("fit_days")
    young = phase == "rising" and (fit_days is None or int(fit_days) < settings.confirm_days)
    if young:
        confirmed = False
    first, cap = None, None
    if validation_sales is not None:
        first = int(math.ceil(float(validation_sales) * settings.first_order_share - 1e-9))
        if not confirmed:
            # The conservative first order limits speculative stock, not what customers already bought: the backlog
            # of pre-sold units is always covered.
            cap = max(0.0, first - on_order, backlog - on_hand - on_order)
    limit = settings.max_tie_share * float(cash_on_hand) if cash_on_hand is not None else None
    horizon_daily = forecast_daily(forecast, len(forecast.get("daily") or []) or window, settings.demand_level)
    until, beyond = covered_until(as_of=as_of, demand=horizon_daily, on_hand=on_hand, backlog=backlog,
                                  on_order=on_order)

    def size(cash_cap=None):
        return order_increment(demand_over_window=demand, backlog=size_backlog, on_hand=size_on_hand,
                               on_order=size_on_order,
                               phase=phase, confirmed=confirmed, first_order_cap=cap, cash_cap_units=cash_cap,
                               window_days=window, window_label=label, serve_backlog=bool(settings.serve_backlog))

    def table(units):
        return coverage(as_of=as_of, demand=daily, on_hand=on_hand, backlog=backlog, open_orders=open_lines,
                        units=units)

    inc = size()
    plan = None
    cash_cap = None
    for _ in range(40):  # each pass shrinks the order by at least one unit; a handful suffice in practice
        if inc.units <= 0:
            break
        plan = plan_orders(suppliers, need_schedule(table(inc.units), settings.horizon_days), settings)
        if limit is None or plan.total_cost <= limit + 1e-6:
            break
        cash_cap = min(inc.units - 1, _floor(inc.units * limit / plan.total_cost))
        inc = size(cash_cap)
        plan = None
    cover = table(inc.units)
    if plan is None or inc.units <= 0:
        reason = {"phase": "phase", "first order": "first order", "cash": "cash"}.get(inc.capped_by, "covered")
        plan = _hold(need_schedule(cover, settings.horizon_days), settings, reason)
    elif plan.decision == "hold":
        reason = "capacity"
    else:
        reason = "order"
    decision = "order" if reason == "order" else "hold"

    evidence = [f"Phase **{phase}**: " + "; ".join(state.get("phase_evidence") or ["no evidence recorded"]) + "."]
    evidence.append(f"Window {window} days: {window_note}.")
    evidence.extend(r if r.endswith(".") else r + "." for r in inc.reasons)
    if first is None and not confirmed:
        evidence.append("No validation-period sales recorded (chapter 02): the first-order cap cannot be applied.")
    if young:
        evidence.append("The spike is rising, but " + (
            f"the lifecycle fit has only {int(fit_days)} day(s) of sales since the rise began (it sizes orders from "
            f"{settings.confirm_days})" if fit_days is not None else "there is no lifecycle fit on realised sales yet")
            + ": it is not confirmed, so the handbook's first order still caps what is on order.")
    if first is not None and not confirmed:
        evidence.append(f"Handbook first order: {settings.first_order_share:.0%} of {float(validation_sales):.0f} "
                        f"validation-period sales = {first} units; {on_order:.0f} already on order, so at most "
                        f"{cap:.0f} more until realised sales confirm the spike"
                        + (f" (never less than the {backlog:.0f} pre-sold units not yet covered)."
                           if cap > first - on_order + 1e-9 else "."))
    if limit is not None:
        evidence.append(f"Cash rule: one order ties up at most {settings.max_tie_share:.0%} of the "
                        f"{_money(float(cash_on_hand))} on hand = {_money(limit)}"
                        + (f"; this order costs {_money(plan.total_cost)}." if decision == "order" else "."))
    if until is not None:
        evidence.append(f"Stock on hand and open orders cover the backlog and forecast demand "
                        + (f"beyond {until:%Y-%m-%d}, the forecast's last day." if beyond else
                           f"until {until:%Y-%m-%d}."))
    else:
        evidence.append(f"Stock on hand and open orders ({on_hand + on_order:.0f} units) do not even cover the "
                        f"backlog of {backlog:.0f} pre-sold units.")
    if decision == "order":
        evidence.extend(reasons(plan))
    return LaunchCall(decision=decision, reason=reason, phase=phase,
                      phase_evidence=list(state.get("phase_evidence") or []), increment=inc, plan=plan, cover_days=window,
                      window=window_note, coverage=cover, covered_until=until, covered_beyond=beyond, position=pos,
                      demand_over_window=demand, first_order=first, first_order_cap=cap,
                      cash_on_hand=None if cash_on_hand is None else float(cash_on_hand), cash_limit=limit,
                      evidence=evidence, serves_from=lands,
                      sized_on={"on_hand": size_on_hand, "on_order": size_on_order, "backlog": size_backlog})


def launch_headline(call: LaunchCall) -> str:
    """One line for `spike show` and the team brief: the order with its sizing, or the hold with its reason."""
    inc, pos = call.increment, call.position
    if inc.backlog_only:  # past the top: only units customers already paid for
        have = f"have {pos.get('on_hand', 0):.0f} on hand + {pos.get('on_order', 0):.0f} on order"
        need = (f"backlog only: {pos.get('backlog', 0):.0f} paid units waiting, no units for new demand while "
                f"{call.phase}")
    elif call.serves_from > 1:  # sold-out demand is lost: sized on what the order can still serve
        sized = call.sized_on
        have = (f"have {sized.get('on_hand', 0):.0f} left on day {call.serves_from} + {sized.get('on_order', 0):.0f} "
                "on order after it")
        need = f"need {inc.need:.0f} = forecast {call.demand_over_window:.0f} on days {call.serves_from}-{call.cover_days}"
    else:
        have = f"have {pos.get('on_hand', 0):.0f} on hand + {pos.get('on_order', 0):.0f} on order"
        need = (f"need {inc.need:.0f} = forecast {call.demand_over_window:.0f} over {call.cover_days} days + backlog "
                f"{pos.get('backlog', 0):.0f}")
    if call.decision == "order":
        plan = call.plan
        split = " + ".join(f"{r.supplier} {r.units}" for r in plan.purchase_orders.itertuples())
        text = f"ORDER {plan.units_ordered} units ({split}) for {_money(plan.total_cost)}"
        got = plan.arrivals.loc[plan.arrivals["arrivals"] > 0]
        if len(got):
            text += f"; first {int(got['arrivals'].iloc[0])} arrive {pd.Timestamp(got['date'].iloc[0]):%m-%d}"
            text += f", all by {pd.Timestamp(got['date'].iloc[-1]):%m-%d}"
        text += f"; {need}, {have}"
        if inc.capped_by == "cash":
            text += f"; capped by the cash rule ({_money(call.cash_limit or 0)})"
        elif inc.capped_by == "first order":
            text += f"; capped at the handbook's first order ({call.first_order} units)"
        if plan.shortage_units:
            text += f"; SHORT {plan.shortage_units}"
        return text
    if call.reason == "phase":
        why = call.phase_evidence[-1] if call.phase_evidence else "no evidence recorded"
        return f"HOLD: the spike is {call.phase}, no new production ({why})"
    if call.reason == "covered":
        until = ("beyond the forecast" if call.covered_beyond else
                 f"until {call.covered_until:%Y-%m-%d}" if call.covered_until is not None else "")
        return f"HOLD: covered {until}; {need}, {have}".replace("covered ;", "covered;")
    if call.reason == "first order":
        return (f"HOLD: the handbook's first order ({call.first_order} units) is already on order; more once realised "
                "sales confirm the spike")
    if call.reason == "cash":
        return f"HOLD: the cash rule ({_money(call.cash_limit or 0)}) leaves no order; {need}, {have}"
    return "HOLD: " + (call.plan.explanation[0] if call.plan.explanation else "no supplier can make the order").rstrip(".")


def plot_coverage(call: LaunchCall, title: str | None = None):
    """Cumulative need (backlog + forecast demand) against stock, open orders and this order's arrivals."""
    import matplotlib.pyplot as plt

    from ..core.plots import finish

    frame = call.coverage
    fig, ax = plt.subplots()
    if len(frame):
        dates = pd.to_datetime(frame["date"])
        ax.step(dates, frame["cumulative_need"], where="post", color="black", lw=2,
                label="backlog + cumulative forecast demand")
        ax.step(dates, frame["supply"], where="post", color="C0", label="stock on hand + open orders arrived")
        if call.decision == "order" and len(call.plan.arrivals):
            arr = call.plan.arrivals
            new = pd.Series(arr["arrivals"].to_numpy(), index=pd.to_datetime(arr["date"])).cumsum()
            new = new.reindex(dates, method="ffill").fillna(0).to_numpy()
            ax.step(dates, frame["supply"].to_numpy() + new, where="post", color="C2", ls="--",
                    label="... + this order's arrivals")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=8)
    finish(ax, title or f"{call.decision.upper()} ({call.reason}): need and supply over the {call.cover_days}-day window",
           "date (end of day)", "units (cumulative)")
    fig.autofmt_xdate()
    return fig


# ------------------------------------------------------------------------------------------ reading the solution


def _binding(sups, made, used, arrivals, model, duals, settings, horizon) -> pd.DataFrame:
    """Limits the optimum presses against (slack 0), each with its LP shadow price in yuan per unit of limit.

    shadow_price = cost saved by one more unit of the limit (material, max_units, one unit/day more under the
    reserve ceiling on the days it binds), or added by one more unit of the order (demand); 0 = binds but
    free (another equally cheap plan exists).
    """
    row_price = {}
    upper_price = None
    if duals is not None:
        row_marg, upper_price = duals
        for label, m in zip(model["labels"], row_marg):
            row_price[label] = -float(m)  # marginal of A x <= b is d(cost)/d(b) <= 0
    rows = []
    pct = f"{1 - settings.reserve_share:.0%}"
    for s, sup in enumerate(sups):
        if not used[s]:
            continue
        total = int(made[s].sum())
        full_days = [d for d in range(1, horizon + 1) if sup.daily_limit > 0 and made[s, d - 1] == sup.daily_limit]
        if full_days:
            price = None
            if upper_price is not None:
                price = -float(sum(upper_price[model["x_at"](s, d)] for d in full_days))
            rows.append({
                "constraint": "reserve capacity", "supplier": sup.name, "days": _day_span(full_days),
                "limit": sup.daily_limit, "shadow_price": price,
                "detail": (f"{sup.name} makes its ceiling of {sup.daily_limit}/day ({pct} of {sup.daily_capacity}) "
                           f"on day(s) {_day_span(full_days)}; the {settings.reserve_share:.0%} reserve stays free"),
            })
        early = [d for d in range(1, horizon + 1) if d < sup.material_ready_day]
        if early and int(made[s, [d - 1 for d in early]].sum()) == sup.material_units:
            ready = _ceil(sup.material_ready_day)
            rows.append({
                "constraint": "material", "supplier": sup.name, "days": _day_span(early),
                "limit": sup.material_units, "shadow_price": row_price.get(("material", s, None)),
                "detail": (f"{sup.name} has no material on hand: it cannot start before day {ready}"
                           if not sup.material_units else
                           f"{sup.name} uses all {sup.material_units} units of material on hand before its material "
                           f"arrives on day {ready}" if ready <= horizon else
                           f"{sup.name} uses all {sup.material_units} units of material on hand (no more arrives "
                           f"within the {horizon}-day window)"),
            })
        if total == sup.max_units:
            rows.append({
                "constraint": "max_units", "supplier": sup.name, "days": "", "limit": sup.max_units,
                "shadow_price": row_price.get(("max_units", s, None)),
                "detail": f"{sup.name} gets its maximum of {sup.max_units} units",
            })
        if sup.min_order > 0 and total == sup.min_order:
            rows.append({
                "constraint": "min_order", "supplier": sup.name, "days": "", "limit": sup.min_order,
                "shadow_price": row_price.get(("min_order", s, None)),
                "detail": f"{sup.name} gets exactly its minimum order of {sup.min_order} units",
            })
    late = arrivals.loc[arrivals["backlog"] > 0, "day"].tolist()
    order = int(model["order"])
    # One more unit in the order raises cumulative demand on the last horizon day and every day after it.
    demand_price = None
    if row_price:
        # row_price is already d(cost)/d(demand): the rows read -arrivals - backlog <= -demand.
        demand_price = sum(row_price.get(("demand", None, t), 0.0) for t in range(horizon, model["last_day"] + 1))
    if late:
        peak = arrivals.loc[arrivals["backlog"].idxmax()]
        detail = (f"arrivals trail cumulative demand on day(s) {_day_span(late)} (at most {int(peak['backlog'])} "
                  f"units behind, on day {int(peak['day'])})")
    else:
        tight = arrivals.loc[(arrivals["cumulative_demand"] > 0)
                             & (arrivals["cumulative_arrivals"] == arrivals["cumulative_demand"]), "day"].tolist()
        detail = (f"arrivals exactly meet cumulative demand on day(s) {_day_span(tight)}" if tight else
                  "arrivals run ahead of demand every day")
    rows.append({
        "constraint": "demand", "supplier": "", "days": _day_span(late), "limit": order,
        "shadow_price": demand_price,
        "detail": detail + (f"; one more unit in the order would cost about {_money(demand_price)}"
                            if demand_price is not None else ""),
    })
    frame = pd.DataFrame(rows, columns=BINDING_COLUMNS)
    frame["shadow_price"] = pd.to_numeric(frame["shadow_price"]).round(2)
    return frame


def _explain(status, sups, suppliers, made, arrivals, cumulative, settings, costs, shortage, optimal) -> list[str]:
    horizon, order = len(cumulative), int(cumulative[-1])
    pct = f"{1 - settings.reserve_share:.0%}"
    lines = []
    used = [(sup, int(made[s].sum())) for s, sup in enumerate(sups) if made[s].sum() > 0]
    split = " + ".join(f"{sup.name} {units}" for sup, units in used) or "nothing"
    lines.append(
        f"Order {int(made.sum())} units" + (f" for an order of {order}" if int(made.sum()) != order else "")
        + f": {split}. Purchase cost "
        f"{_money(costs['purchase'])} (units {_money(costs['units'])}, setup {_money(costs['setup'])})."
    )
    if status == "short":
        potential = supplier_potential(suppliers, horizon, settings.reserve_share)
        total = int(potential["potential"].sum())
        parts = ", ".join(f"{r.supplier} {r.potential} ({r.limited_by})" for r in potential.itertuples())
        lines.append(
            f"Short {shortage} units: total capacity over the {horizon}-day production window at {pct} of daily "
            f"capacity is {total} units ({parts}), demand {order}: short {order - total}."
        )
        no_reserve = int(potential["potential_no_reserve"].sum())
        if settings.reserve_share > 0 and no_reserve > total:
            lines.append(
                f"Using the {settings.reserve_share:.0%} reserve as well would allow {no_reserve} units"
                + (" (enough)" if no_reserve >= order else f" (still short {order - no_reserve})")
                + "; better: add a supplier or order the rest later from chapter 04's replenishment."
            )
    within = arrivals.loc[arrivals["day"] <= horizon]
    late_days = arrivals.loc[arrivals["backlog"] > 0, "day"].tolist()
    if late_days:
        fastest = _fastest_possible(sups, cumulative, len(arrivals))
        unavoidable = float(np.maximum(arrivals["cumulative_demand"].to_numpy() - fastest, 0).sum())
        chosen = costs["late_unit_days"] - unavoidable
        first = next((t for t in range(1, len(fastest) + 1) if fastest[t - 1] > 0), None)
        text = f"Late: {costs['late_unit_days']:.0f} unit-days of backlog on day(s) {_day_span(late_days)}. "
        if unavoidable > 0.5:
            gap = arrivals["cumulative_demand"].to_numpy() - fastest
            worst = int(np.argmax(gap)) + 1
            text += (f"{unavoidable:.0f} of them are unavoidable: even with every supplier at its {pct} ceiling "
                     + (f"the first unit could arrive only on day {first}, and " if first else "nothing could arrive, and ")
                     + f"by day {worst} at most {int(fastest[worst - 1])} of the "
                     f"{int(arrivals['cumulative_demand'].iloc[worst - 1])} units wanted could be in.")
        else:
            text += "None of it is forced by capacity or lead times."
        if chosen > 0.5:
            text += (f" {chosen:.0f} unit-days are accepted because speeding up would cost more than the "
                     f"lateness penalty of {_money(settings.lateness_penalty)} per unit-day.")
        lines.append(text)
    else:
        lines.append(f"On time: cumulative arrivals cover cumulative demand on every day 1-{horizon}.")
    if len(within) and within["arrivals"].sum() > 0:
        first_row = arrivals.loc[arrivals["arrivals"] > 0].iloc[0]
        lines.append(f"First arrival: {int(first_row['arrivals'])} units on day {int(first_row['day'])} "
                     f"({first_row['date']:%Y-%m-%d}).")
    surplus = int(made.sum()) - order
    if surplus > 0:
        lines.append(f"{surplus} units above the order: a supplier's minimum order makes them the cheapest way.")
    if costs["reliability_charge"] > 0:
        lines.append(f"Reliability: expected lateness of unreliable suppliers weighed at "
                     f"{_money(costs['reliability_charge'])} (slip_days={settings.slip_days:g}).")
    if not optimal:
        lines.append(f"The solver stopped at its time limit ({settings.time_limit_s:g} s): the plan is feasible but "
                     "not proven the cheapest.")
    return lines


# ------------------------------------------------------------------------------------------ presentation


def headline(plan: Plan) -> str:
    """One line for `spike show` and the team brief."""
    if plan.decision == "hold":
        why = next((line for line in plan.explanation if line.startswith("Short")), None)
        why = why or (plan.explanation[0] if plan.explanation else "no purchase orders")
        return "HOLD: " + why.rstrip(".")
    split = " + ".join(f"{r.supplier} {r.units}" for r in plan.purchase_orders.itertuples())
    text = f"ORDER {plan.units_ordered} units ({split}) for {_money(plan.total_cost)}"
    first = plan.first_arrival_day
    if first is not None:
        first_units = int(plan.arrivals.loc[plan.arrivals["day"] == first, "arrivals"].iloc[0])
        text += f"; first {first_units} arrive day {first}"
    done = plan.arrivals.loc[plan.arrivals["cumulative_arrivals"] >= min(plan.order_units, plan.units_ordered), "day"]
    if len(done):
        text += f", all by day {int(done.iloc[0])}"
    if plan.shortage_units:
        text += f"; SHORT {plan.shortage_units}"
    elif plan.late_unit_days:
        text += f"; {plan.late_unit_days:.0f} unit-days late"
    return text + f"; {plan.settings.reserve_share:.0%} capacity kept in reserve"


def reasons(plan: Plan) -> list[str]:
    """The evidence for the decision box: the explanation, then each binding limit with its price."""
    lines = list(plan.explanation)
    for row in plan.binding.itertuples(index=False):
        if row.constraint == "demand":
            continue  # already in the explanation
        price = "" if row.shadow_price is None or pd.isna(row.shadow_price) else (
            f" (one more unit of this limit is worth {_money(row.shadow_price)})" if row.shadow_price > 0.005 else
            " (binds, but relaxing it would not lower the cost)")
        lines.append(f"Binding, {row.constraint}: {row.detail}{price}.")
    return lines


def plot_arrivals(plan: Plan, title: str | None = None):
    """Cumulative arrivals stacked by supplier against cumulative demand, by day after the order."""
    import matplotlib.pyplot as plt

    from ..core.plots import finish

    fig, ax = plt.subplots()
    frame = plan.arrivals
    days = frame["day"].to_numpy()
    # Day t is drawn over [t, t + 1): repeat the last value one day on so the last day shows.
    edges = np.append(days, days[-1] + 1) if len(days) else np.array([1, 2])
    if len(plan.production):
        by_supplier = (plan.production.pivot_table(index="arrival_day", columns="supplier", values="units",
                                                   aggfunc="sum")
                       .reindex(days, fill_value=0).fillna(0).cumsum())
        names = list(plan.purchase_orders["supplier"])
        by_supplier = by_supplier[[n for n in names if n in by_supplier.columns]]
        stacked = by_supplier.to_numpy().T
        stacked = np.hstack([stacked, stacked[:, -1:]])
        ax.stackplot(edges, stacked, labels=[f"{n} (arrived)" for n in by_supplier.columns], step="post", alpha=0.75)
    wanted = frame["cumulative_demand"].to_numpy()
    if len(wanted):
        ax.step(edges, np.append(wanted, wanted[-1]), where="post", color="black", lw=2, label="cumulative demand")
        full = frame.loc[frame["cumulative_demand"] >= plan.order_units, "day"]
        if plan.order_units and len(full) and int(full.iloc[0]) + 1 < edges[-1]:  # at the right edge it is hidden
            ax.axvline(int(full.iloc[0]) + 1, color="0.4", ls=":", lw=1.2,
                       label=f"end of day {int(full.iloc[0])}: order wanted in full")
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=8)
    if title is None and plan.decision == "hold":
        title = "No purchase orders (hold): the demand an order would have had to meet"
    finish(ax, title or "Cumulative arrivals by supplier vs cumulative demand",
           "day after the order (day 1 = first day after as_of)", "units (cumulative)")
    return fig
