"""Chapter 05, 物流弹性: where the spike's orders ship from, which rush orders go to couriers, what it costs.

Handbook rules of thumb, each a setting below:

- split orders over several warehouses (the case: main warehouse 70%, two cloud warehouses 15% each);
- at peak, hand same-city rush orders to crowdsourced couriers (同城众包);
- re-plan routing three times a day;
- spike logistics may cost 15%-20% more per order than normal; past that is the ceiling.

``allocate`` solves the split as a transportation linear programme (scipy ``linprog``, HiGHS): orders per
day on each (warehouse, region) lane, minimising carrier cost + handling + a delivery-time penalty per
order-day, so that every region's orders are shipped and no warehouse packs more than its daily capacity.
Lanes missing from the lanes table are not allowed. The handbook's fixed split (70/15/15) is computed on
the same data as the baseline to compare with.

``courier_rule`` applies the courier rule per re-planning slot; ``cost_vs_normal`` compares the plan's cost
per order with the shop's normal cost per order and raises the ceiling alert.

What is planned: the spike's shared demand forecast (``sk.spike_state()["forecast"]``) at two moments
(``plan_points``): the coming day and the forecast's peak day (and that day at the high end of its interval);
``plan_at_points`` splits and costs each, ``review_points`` makes the call (the peak's cost per order over the
ceiling is the alert).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..core._common import settings_from_mapping
from ..core.errors import ConfigError, InputError

__all__ = [
    "LogisticsSettings",
    "Allocation",
    "CostCheck",
    "planned_orders",
    "allocate",
    "baseline_shares_by_warehouse",
    "courier_rule",
    "cost_vs_normal",
    "review",
    "headline",
    "plot_split",
    "plot_cost",
    "plot_courier_slots",
    "plan_points",
    "PointPlan",
    "plan_at_points",
    "review_points",
    "headline_points",
    "plot_points",
]

MAIN, CLOUD = "main", "cloud"
DEMAND_LEVELS = ("estimate", "low", "high")
_TOL = 1e-7


@dataclass(frozen=True)
class LogisticsSettings:
    """The chapter's parameters (each one a notebook parameter); defaults follow the handbook.

    delivery_day_penalty: yuan charged in the optimisation per order per delivery day, so a cheaper but
        slower lane wins only when it saves more than this per day it adds. It steers the plan; it is not
        money paid, so reported costs leave it out.
    baseline_shares: the handbook's fixed split: the first share goes to the main warehouse, the others to
        the cloud warehouses in name order (when their count differs, the cloud total is split equally).
    demand_level: which figure of chapter 02's daily demand to plan for: "estimate", "low" or "high" (the
        interval's upper end plans for the busy case).
    peak_multiplier: orders per day at peak as a multiple of the validated daily demand.
    slots_per_day: routing re-planned this many times a day; slots start at equal steps from midnight
        unless ``slot_start_hours`` names the start hours (e.g. (0, 8, 16) for 00-08, 08-16, 16-24).
    max_km: a courier takes only orders within this distance (same-city).
    max_extra_cost: a courier takes an order only if its quote exceeds the normal carrier's cost by at most
        this many yuan.
    peak_orders: a slot is at peak when its urgent orders exceed this number; None (default) means above the
        median of the day's slots (slots not yet started at as_of are left out).
    cost_ceiling_warn, cost_ceiling_alert: cost per order above normal by more than these fractions warns,
        then alerts (the handbook: spike logistics may run 15%-20% over normal).
    """

    delivery_day_penalty: float = 1.0
    baseline_shares: tuple = (0.7, 0.15, 0.15)
    demand_level: str = "estimate"
    peak_multiplier: float = 1.0
    slots_per_day: int = 3
    slot_start_hours: tuple | None = None
    max_km: float = 15.0
    max_extra_cost: float = 10.0
    peak_orders: float | None = None
    cost_ceiling_warn: float = 0.15
    cost_ceiling_alert: float = 0.20

    def __post_init__(self):
        def number(name, *, positive=False):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not (
                math.isfinite(value) and (value > 0 if positive else value >= 0)
            ):
                raise ConfigError(f"{name}={value!r} must be a {'positive' if positive else 'non-negative'} number")

        for name in ("delivery_day_penalty", "max_km", "max_extra_cost", "cost_ceiling_warn", "cost_ceiling_alert"):
            number(name)
        number("peak_multiplier", positive=True)
        if self.demand_level not in DEMAND_LEVELS:
            raise ConfigError(f"demand_level={self.demand_level!r} must be one of {', '.join(DEMAND_LEVELS)}")
        if self.peak_orders is not None:
            number("peak_orders")
        if self.cost_ceiling_alert < self.cost_ceiling_warn:
            raise ConfigError(f"cost_ceiling_alert={self.cost_ceiling_alert} must be at least "
                              f"cost_ceiling_warn={self.cost_ceiling_warn}")
        shares = tuple(self.baseline_shares) if isinstance(self.baseline_shares, (list, tuple)) else None
        if not shares or not all(isinstance(s, (int, float)) and not isinstance(s, bool) and 0 <= s <= 1
                                 for s in shares) or abs(sum(shares) - 1) > 1e-6:
            raise ConfigError(f"baseline_shares={self.baseline_shares!r} must be fractions that sum to 1, "
                              "main warehouse first, e.g. [0.7, 0.15, 0.15]")
        object.__setattr__(self, "baseline_shares", tuple(float(s) for s in shares))
        if isinstance(self.slots_per_day, bool) or not isinstance(self.slots_per_day, (int, np.integer)) or not (
            1 <= self.slots_per_day <= 24
        ):
            raise ConfigError(f"slots_per_day={self.slots_per_day!r} must be a whole number from 1 to 24")
        if self.slot_start_hours is not None:
            starts = tuple(self.slot_start_hours)
            if (len(starts) != self.slots_per_day or starts[0] != 0
                    or any(not (0 <= s < 24) for s in starts) or list(starts) != sorted(set(starts))):
                raise ConfigError(f"slot_start_hours={self.slot_start_hours!r} must list {self.slots_per_day} "
                                  "increasing hours from 0 to below 24, starting at 0, e.g. (0, 8, 16)")
            object.__setattr__(self, "slot_start_hours", tuple(float(s) for s in starts))

    @property
    def slot_starts(self) -> tuple:
        """Start hour of each re-planning slot."""
        if self.slot_start_hours is not None:
            return self.slot_start_hours
        return tuple(24.0 * i / self.slots_per_day for i in range(self.slots_per_day))

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any]) -> "LogisticsSettings":
        """Build from notebook parameters; unknown names are refused (papermill itself only warns)."""
        return settings_from_mapping(cls, params, "logistics")


def planned_orders(daily_demand: Mapping[str, Any], settings: LogisticsSettings | None = None) -> float:
    """Orders per day at a flat rate: chapter 02's daily demand (its ``demand_level`` figure) x peak_multiplier.

    Chapter 05 no longer plans this way (the flat pre-sale rate missed the peak); it plans the shared forecast's
    coming day and peak with ``plan_points``. Kept for what-if studies."""
    settings = settings or LogisticsSettings()
    value = (daily_demand or {}).get(settings.demand_level)
    if value is None or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"daily demand has no usable {settings.demand_level!r} figure ({daily_demand!r}). "
                          "Fix: run chapter 02 first, or choose demand_level estimate, low or high")
    return float(value) * settings.peak_multiplier


# ----------------------------------------------------------------------------------------------------------
# The split: a transportation linear programme
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Allocation:
    """The optimal split of a day's orders and the handbook baseline on the same data.

    ``flows``: one row per allowed lane (warehouse, region, orders, baseline_orders, cost_per_order,
    handling_cost, delivery_days). ``split``: one row per warehouse (kind, capacity_per_day, orders, share,
    utilisation, capacity_value, binding, baseline_share, baseline_orders, baseline_utilisation).
    ``capacity_value`` is the dual price: yuan of objective saved per day by one more order of capacity
    (0 unless the warehouse is full). Costs per order are carrier + handling; the delivery-day penalty is in
    ``objective_per_order`` only. When ``feasible`` is False the flows are the plan that ships the most
    orders (cheapest among those), ``shortfall`` orders per day stay unshipped and ``explanation`` says why.
    """

    orders_per_day: float
    feasible: bool
    explanation: str
    shortfall: float
    shortfall_by_region: dict
    flows: pd.DataFrame = field(repr=False)
    split: pd.DataFrame = field(repr=False)
    cost_per_order: float
    mean_delivery_days: float
    objective_per_order: float
    baseline_cost_per_order: float
    baseline_mean_delivery_days: float
    baseline_over_capacity: list
    notes: list

    def to_dict(self) -> dict:
        """The scalar results (flows and split are recorded as tables of their own)."""
        return {
            "orders_per_day": self.orders_per_day,
            "feasible": self.feasible,
            "explanation": self.explanation,
            "shortfall": self.shortfall,
            "shortfall_by_region": dict(self.shortfall_by_region),
            "cost_per_order": self.cost_per_order,
            "mean_delivery_days": self.mean_delivery_days,
            "objective_per_order": self.objective_per_order,
            "baseline_cost_per_order": self.baseline_cost_per_order,
            "baseline_mean_delivery_days": self.baseline_mean_delivery_days,
            "baseline_over_capacity": list(self.baseline_over_capacity),
            "notes": list(self.notes),
        }


def _file_of(frame: pd.DataFrame, default: str) -> str:
    return (frame.attrs.get("source") or {}).get("path", default)


def _check_names(warehouses, lanes, regional_demand) -> list[str]:
    """Lanes must name known warehouses; lanes to regions without demand are ignored (noted)."""
    known = set(warehouses["warehouse"].astype(str))
    unknown = ~lanes["warehouse"].astype(str).isin(known).to_numpy()
    if unknown.any():
        names = sorted(set(lanes["warehouse"].astype(str)[unknown]))
        raise InputError(
            f"lanes from warehouse(s) {', '.join(names)} that are not in the warehouses table",
            file=_file_of(lanes, "lanes.csv"), column="warehouse",
            fix="spell each lane's warehouse exactly as in warehouses, or add the warehouse there",
        )
    regions = set(regional_demand["region"].astype(str))
    stray = sorted(set(lanes["region"].astype(str)) - regions)
    return [f"lanes to region(s) {', '.join(stray)} ignored: no demand share there"] if stray else []


def baseline_shares_by_warehouse(warehouses: pd.DataFrame, shares: Sequence[float]) -> tuple[dict, list]:
    """Each warehouse's share in the handbook split, and notes on how the shares were mapped.

    The first share goes to the main warehouse (split equally among several mains); the others to the cloud
    warehouses in name order when there are as many, else the cloud total is split equally.
    """
    names = warehouses["warehouse"].astype(str).tolist()
    kinds = warehouses["kind"].astype(str).tolist()
    mains = [n for n, k in zip(names, kinds) if k == MAIN]
    clouds = sorted(n for n, k in zip(names, kinds) if k == CLOUD)
    notes = []
    main_share, cloud_shares = shares[0], list(shares[1:])
    if not mains:
        notes.append("no main warehouse: the baseline splits orders equally over the cloud warehouses")
        return {n: 1.0 / len(clouds) for n in clouds}, notes
    if not clouds:
        notes.append("no cloud warehouse: the baseline ships everything from the main warehouse(s)")
        return {n: 1.0 / len(mains) for n in mains}, notes
    out = {n: main_share / len(mains) for n in mains}
    if len(cloud_shares) == len(clouds):
        out.update(dict(zip(clouds, cloud_shares)))
    else:
        notes.append(f"{len(cloud_shares)} cloud shares given for {len(clouds)} cloud warehouses: "
                     f"the cloud total {1 - main_share:.0%} is split equally")
        out.update({n: (1 - main_share) / len(clouds) for n in clouds})
    return out, notes


def _baseline(demand: pd.Series, lanes: pd.DataFrame, shares: dict) -> tuple[pd.Series, list]:
    """Orders per lane under the fixed split: each region's orders in the warehouses' proportions.

    A region a warehouse has no lane to is shared by the others in proportion to their shares.
    """
    notes = []
    lane_share = lanes["warehouse"].astype(str).map(shares).fillna(0.0).to_numpy(dtype=float)
    region = lanes["region"].astype(str).to_numpy()
    orders = np.zeros(len(lanes))
    for name, need in demand.items():
        here = region == name
        total = lane_share[here].sum()
        if need <= 0:
            continue
        if total <= 0:
            notes.append(f"baseline cannot reach region {name}: no lane from a warehouse with a baseline share")
            continue
        if total < 1 - 1e-9:
            notes.append(f"baseline: region {name} lacks lanes from some warehouses; the others take its orders "
                         "in proportion")
        orders[here] = need * lane_share[here] / total
    return pd.Series(orders, index=lanes.index), notes


def _solve(cost: np.ndarray, lane_w: np.ndarray, lane_r: np.ndarray, capacity: np.ndarray, demand: np.ndarray):
    """min cost.x  s.t. sum over a region's lanes = demand, sum over a warehouse's lanes <= capacity, x >= 0."""
    from scipy.optimize import linprog

    n = len(cost)
    a_eq = np.zeros((len(demand), n))
    a_eq[lane_r, np.arange(n)] = 1.0
    a_ub = np.zeros((len(capacity), n))
    a_ub[lane_w, np.arange(n)] = 1.0
    return linprog(cost, A_ub=a_ub, b_ub=capacity, A_eq=a_eq, b_eq=demand, bounds=(0, None), method="highs")


def _most_shipped(lane_w, lane_r, capacity, demand, cost):
    """When the orders cannot all ship: the plan leaving the fewest unshipped, cheapest among those.

    Two stages (lexicographic): first minimise the unshipped orders, then cost with that fixed.
    """
    from scipy.optimize import linprog

    n, m = len(lane_w), len(demand)
    a_eq = np.zeros((m, n + m))
    a_eq[lane_r, np.arange(n)] = 1.0
    a_eq[np.arange(m), n + np.arange(m)] = 1.0  # unshipped orders of each region
    a_ub = np.zeros((len(capacity), n + m))
    a_ub[lane_w, np.arange(n)] = 1.0
    first = linprog(np.r_[np.zeros(n), np.ones(m)], A_ub=a_ub, b_ub=capacity, A_eq=a_eq, b_eq=demand,
                    bounds=(0, None), method="highs")
    least = float(first.fun)
    a_ub2 = np.vstack([a_ub, np.r_[np.zeros(n), np.ones(m)]])
    second = linprog(np.r_[cost, np.zeros(m)], A_ub=a_ub2, b_ub=np.r_[capacity, least + 1e-9 * max(1, least)],
                     A_eq=a_eq, b_eq=demand, bounds=(0, None), method="highs")
    x = second.x if second.status == 0 else first.x
    return x[:n], x[n:]


def allocate(orders_per_day: float, regional_demand: pd.DataFrame, warehouses: pd.DataFrame, lanes: pd.DataFrame,
             settings: LogisticsSettings | None = None) -> Allocation:
    """Split ``orders_per_day`` over warehouses and lanes at least cost; compare with the handbook split.

    Demand of each region = orders_per_day x its share. Cost of a lane per order = cost_per_order +
    the warehouse's handling_cost + delivery_day_penalty x delivery_days.
    """
    settings = settings or LogisticsSettings()
    if isinstance(orders_per_day, bool) or not isinstance(orders_per_day, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(orders_per_day) and orders_per_day >= 0):
        raise ConfigError(f"orders_per_day={orders_per_day!r} must be a non-negative number")
    orders_per_day = float(orders_per_day)
    notes = _check_names(warehouses, lanes, regional_demand)

    # Main warehouse(s) first, then cloud ones by name: the order the handbook's split is read in.
    wh = warehouses.assign(_main=warehouses["kind"].astype(str) != MAIN).sort_values(
        ["_main", "warehouse"], kind="stable").drop(columns="_main").reset_index(drop=True)
    wh_names = wh["warehouse"].astype(str).tolist()
    regions = regional_demand["region"].astype(str).tolist()
    demand = pd.Series(orders_per_day * regional_demand["share"].to_numpy(dtype=float), index=regions)
    ln = lanes[lanes["region"].astype(str).isin(regions)].reset_index(drop=True)
    lane_w = ln["warehouse"].astype(str).map({n: i for i, n in enumerate(wh_names)}).to_numpy(dtype=int)
    lane_r = ln["region"].astype(str).map({n: i for i, n in enumerate(regions)}).to_numpy(dtype=int)
    handling = wh["handling_cost"].to_numpy(dtype=float)[lane_w]
    money = ln["cost_per_order"].to_numpy(dtype=float) + handling
    days = ln["delivery_days"].to_numpy(dtype=float)
    objective = money + settings.delivery_day_penalty * days
    capacity = wh["capacity_per_day"].to_numpy(dtype=float)

    shortfall_by_region: dict = {}
    capacity_value = np.zeros(len(wh))
    unreachable = [r for i, r in enumerate(regions) if demand.iloc[i] > 0 and not (lane_r == i).any()]
    result = _solve(objective, lane_w, lane_r, capacity, demand.to_numpy()) if len(ln) else None
    if result is not None and result.status == 0:
        flow = result.x
        # HiGHS marginals are d(objective)/d(b): <= 0 on a full warehouse. Report the saving as positive.
        capacity_value = np.maximum(-np.asarray(result.ineqlin.marginals, dtype=float), 0.0)
        feasible, explanation = True, (
            f"all {orders_per_day:.1f} orders/day ship within capacity "
            f"({capacity.sum():.0f} orders/day in {len(wh)} warehouses)")
    elif result is not None and result.status != 2:
        raise RuntimeError(f"the transportation programme did not solve: {result.message}")
    else:
        if len(ln):
            flow, unshipped = _most_shipped(lane_w, lane_r, capacity, demand.to_numpy(), objective)
        else:
            flow, unshipped = np.zeros(0), demand.to_numpy()
        # Round away the solver's last digits: orders/day are reported to 0.1 anyway.
        shortfall_by_region = {r: round(float(u), 6) for r, u in zip(regions, unshipped) if u > 1e-6}
        feasible = False
        short = float(sum(shortfall_by_region.values()))
        reasons = []
        if capacity.sum() < orders_per_day - _TOL:
            reasons.append(f"the warehouses can pack {capacity.sum():.0f} orders/day in all but "
                           f"{orders_per_day:.1f} are expected: {orders_per_day - capacity.sum():.1f} short")
        if unreachable:
            reasons.append(f"no lane reaches {', '.join(unreachable)}")
        if not reasons:
            reasons.append("the warehouses with lanes to some regions are full")
        explanation = (f"cannot ship all {orders_per_day:.1f} orders/day: " + "; ".join(reasons)
                       + f". At best {short:.1f} orders/day stay unshipped ("
                       + ", ".join(f"{r} {u:.1f}" for r, u in shortfall_by_region.items())
                       + "). Add cloud-warehouse capacity or lanes, or slow the sales pace")

    shares, share_notes = baseline_shares_by_warehouse(wh, settings.baseline_shares)
    base_flow, base_notes = _baseline(demand, ln, shares)
    notes += share_notes + base_notes

    flows = pd.DataFrame({
        "warehouse": ln["warehouse"].astype(str),
        "region": ln["region"].astype(str),
        "orders": np.where(np.abs(flow) < _TOL, 0.0, flow),
        "baseline_orders": base_flow.to_numpy(),
        "cost_per_order": ln["cost_per_order"].to_numpy(dtype=float),
        "handling_cost": handling,
        "delivery_days": days,
    })
    shipped = float(flows["orders"].sum())

    per_wh = flows.groupby("warehouse", sort=False)[["orders", "baseline_orders"]].sum()
    orders_w = per_wh["orders"].reindex(wh_names, fill_value=0.0).to_numpy()
    base_w = per_wh["baseline_orders"].reindex(wh_names, fill_value=0.0).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        split = pd.DataFrame({
            "warehouse": wh_names,
            "kind": wh["kind"].astype(str).tolist(),
            "capacity_per_day": wh["capacity_per_day"].to_numpy(dtype=np.int64),
            "orders": orders_w,
            "share": orders_w / shipped if shipped > 0 else np.zeros(len(wh)),
            "utilisation": np.where(capacity > 0, orders_w / capacity, np.nan),
            "capacity_value": capacity_value,
            "binding": (capacity_value > 1e-9) | ((capacity > 0) & (orders_w >= capacity - 1e-6) & (orders_w > 0)),
            "baseline_share": [shares.get(n, 0.0) for n in wh_names],
            "baseline_orders": base_w,
            "baseline_utilisation": np.where(capacity > 0, base_w / capacity, np.nan),
        })
    over = [n for n, b, c in zip(wh_names, base_w, capacity) if b > c + 1e-6]
    if over:
        notes.append("the baseline split overloads " + ", ".join(
            f"{n} ({b:.1f} orders/day for capacity {c:.0f})" for n, b, c in zip(wh_names, base_w, capacity) if n in over))

    def per_order(weights, values):
        total = float(np.sum(weights))
        return float(np.dot(weights, values) / total) if total > 0 else float("nan")

    return Allocation(
        orders_per_day=orders_per_day,
        feasible=feasible,
        explanation=explanation,
        shortfall=float(sum(shortfall_by_region.values())),
        shortfall_by_region=shortfall_by_region,
        flows=flows,
        split=split,
        cost_per_order=per_order(flows["orders"], money),
        mean_delivery_days=per_order(flows["orders"], days),
        objective_per_order=per_order(flows["orders"], objective),
        baseline_cost_per_order=per_order(flows["baseline_orders"], money),
        baseline_mean_delivery_days=per_order(flows["baseline_orders"], days),
        baseline_over_capacity=over,
        notes=notes,
    )


# ----------------------------------------------------------------------------------------------------------
# Same-city rush orders: the courier rule, per re-planning slot
# ----------------------------------------------------------------------------------------------------------
DECISION_COLUMNS = ["order_id", "timestamp", "day", "slot", "region", "slot_orders", "peak", "distance_km",
                    "promised_hours", "standard_hours", "extra_cost", "to_courier", "reason"]
SLOT_COLUMNS = ["day", "slot", "orders", "peak", "to_courier", "extra_cost", "promises_kept_by_courier",
                "promises_missed"]


def _slot_label(start: float, end: float) -> str:
    def hhmm(h):
        return f"{int(h):02d}" if float(h).is_integer() else f"{int(h):02d}:{int(round((h % 1) * 60)):02d}"

    return f"{hhmm(start)}-{hhmm(end)}"


def courier_rule(urgent_orders: pd.DataFrame, settings: LogisticsSettings | None = None,
                 as_of: pd.Timestamp | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Which rush orders go to a crowdsourced courier: (per-order decisions, per-slot summary).

    The rule, per re-planning slot of each day: an order goes to a courier when all four hold:
    (1) the slot is at peak: its urgent orders exceed the median of that day's slots (or ``peak_orders``);
    (2) distance_km <= max_km (same city); (3) the normal carrier would miss the promise
    (standard_hours > promised_hours); (4) courier_cost - standard_cost <= max_extra_cost.
    Couriers are assumed to keep the promise on same-city distances. Orders after ``as_of`` are ignored, and
    so are slots that had not started by then.
    """
    settings = settings or LogisticsSettings()
    orders = urgent_orders
    if as_of is not None:
        orders = orders[orders["timestamp"] <= as_of]
    orders = orders.sort_values(["timestamp", "order_id"]).reset_index(drop=True)
    starts = np.asarray(settings.slot_starts, dtype=float)
    labels = [_slot_label(s, e) for s, e in zip(starts, np.r_[starts[1:], 24.0])]
    if len(orders) == 0:
        return pd.DataFrame(columns=DECISION_COLUMNS), pd.DataFrame(columns=SLOT_COLUMNS)

    stamps = pd.DatetimeIndex(orders["timestamp"])
    day = stamps.normalize()
    hour = (stamps - day) / pd.Timedelta(hours=1)
    slot_index = np.searchsorted(starts, np.asarray(hour, dtype=float), side="right") - 1

    # Every slot of each day up to as_of (an empty slot counts as 0 orders in the day's median).
    last = as_of if as_of is not None else stamps.max()
    grid = []
    for d in pd.DatetimeIndex(sorted(set(day))):
        for i, s in enumerate(starts):
            if d + pd.Timedelta(hours=float(s)) <= last:
                grid.append((d, i))
    slots = pd.DataFrame(grid, columns=["day", "slot_index"])
    counts = pd.Series(1, index=pd.MultiIndex.from_arrays([day, slot_index])).groupby(level=[0, 1]).sum()
    slots["orders"] = [int(counts.get((d, i), 0)) for d, i in zip(slots["day"], slots["slot_index"])]
    if settings.peak_orders is None:
        median = slots.groupby("day")["orders"].transform("median")
        slots["peak"] = slots["orders"] > median
    else:
        slots["peak"] = slots["orders"] > settings.peak_orders
    lookup = {(d, i): (n, p) for d, i, n, p in zip(slots["day"], slots["slot_index"], slots["orders"], slots["peak"])}

    slot_orders = np.array([lookup[(d, i)][0] for d, i in zip(day, slot_index)], dtype=np.int64)
    peak = np.array([lookup[(d, i)][1] for d, i in zip(day, slot_index)], dtype=bool)
    distance = orders["distance_km"].to_numpy(dtype=float)
    promised = orders["promised_hours"].to_numpy(dtype=float)
    standard = orders["standard_hours"].to_numpy(dtype=float)
    extra = orders["courier_cost"].to_numpy(dtype=float) - orders["standard_cost"].to_numpy(dtype=float)
    near = distance <= settings.max_km
    misses = standard > promised
    affordable = extra <= settings.max_extra_cost
    to_courier = peak & near & misses & affordable

    reasons = []
    for k in range(len(orders)):
        if to_courier[k]:
            reasons.append(f"courier: peak slot, {distance[k]:g} km, carrier {standard[k]:g} h > promise "
                           f"{promised[k]:g} h, +{extra[k]:.1f} yuan")
        elif not misses[k]:
            reasons.append(f"carrier: keeps the {promised[k]:g} h promise ({standard[k]:g} h)")
        elif not peak[k]:
            reasons.append(f"carrier: not a peak slot ({slot_orders[k]} urgent orders)")
        elif not near[k]:
            reasons.append(f"carrier: {distance[k]:g} km is beyond {settings.max_km:g} km")
        else:
            reasons.append(f"carrier: courier costs {extra[k]:.1f} yuan more (limit {settings.max_extra_cost:g})")

    decisions = pd.DataFrame({
        "order_id": orders["order_id"].astype(str),
        "timestamp": orders["timestamp"],
        "day": [d.date() for d in day],
        "slot": [labels[i] for i in slot_index],
        "region": orders["region"].astype(str),
        "slot_orders": slot_orders,
        "peak": peak,
        "distance_km": distance,
        "promised_hours": promised,
        "standard_hours": standard,
        "extra_cost": extra,
        "to_courier": to_courier,
        "reason": reasons,
    })[DECISION_COLUMNS]

    work = pd.DataFrame({"day": day, "slot_index": slot_index, "to_courier": to_courier,
                         "extra": np.where(to_courier, extra, 0.0), "missed": misses & ~to_courier})
    sums = work.groupby(["day", "slot_index"])[["to_courier", "extra", "missed"]].sum()
    summary = slots.join(sums, on=["day", "slot_index"]).fillna({"to_courier": 0, "extra": 0.0, "missed": 0})
    summary = pd.DataFrame({
        "day": [d.date() for d in summary["day"]],
        "slot": [labels[i] for i in summary["slot_index"]],
        "orders": summary["orders"].astype(np.int64).to_numpy(),
        "peak": summary["peak"].astype(bool).to_numpy(),
        "to_courier": summary["to_courier"].astype(np.int64).to_numpy(),
        "extra_cost": summary["extra"].astype(float).to_numpy(),
        "promises_kept_by_courier": summary["to_courier"].astype(np.int64).to_numpy(),
        "promises_missed": summary["missed"].astype(np.int64).to_numpy(),
    })[SLOT_COLUMNS]
    return decisions, summary


# ----------------------------------------------------------------------------------------------------------
# Cost against normal: the 15%-20% ceiling
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CostCheck:
    """The plan's logistics cost per order against the shop's normal cost (demand-weighted by region).

    ``level`` is "ok", "warn" (overrun above the warn ceiling) or "alert" (above the alert ceiling).
    """

    normal_cost_per_order: float
    cost_per_order: float
    overrun: float
    baseline_cost_per_order: float
    baseline_overrun: float
    warn: float
    alert: float
    level: str
    message: str

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _level(overrun: float, warn: float, alert: float) -> str:
    if math.isnan(overrun):  # no orders shipped: nothing to compare
        return "ok"
    if math.isinf(overrun):  # a cost where normal was free
        return "alert"
    return "alert" if overrun > alert else "warn" if overrun > warn else "ok"


def cost_vs_normal(allocation: Allocation, regional_demand: pd.DataFrame,
                   ceiling: tuple[float, float] = (0.15, 0.20)) -> CostCheck:
    """Cost per order of the plan over the normal cost per order; warn past ceiling[0], alert past ceiling[1]."""
    warn, alert = (float(c) for c in ceiling)
    if not (0 <= warn <= alert):
        raise ConfigError(f"ceiling={ceiling!r} must be (warn, alert) with 0 <= warn <= alert, e.g. (0.15, 0.20)")
    share = regional_demand["share"].to_numpy(dtype=float)
    normal = float(np.dot(share, regional_demand["normal_cost_per_order"].to_numpy(dtype=float)) / share.sum())
    overrun = allocation.cost_per_order / normal - 1 if normal > 0 else float("inf")
    base_overrun = allocation.baseline_cost_per_order / normal - 1 if normal > 0 else float("inf")
    level = _level(overrun, warn, alert)
    verdict = {"ok": f"within the {warn:.0%} ceiling", "warn": f"past the {warn:.0%} warning ceiling",
               "alert": f"past the {alert:.0%} ceiling: act"}[level]
    if math.isfinite(float(allocation.cost_per_order)):
        message = (f"{allocation.cost_per_order:.2f} yuan/order against a normal {normal:.2f}: "
                   f"{overrun:+.1%}, {verdict}")
    else:  # no orders to ship: there is no cost per order to compare (not "nan yuan/order")
        message = f"no orders to ship, no cost per order (normal {normal:.2f} yuan/order)"
    if not allocation.feasible:
        message += " (the plan does not ship every order: see the shortfall)"
    return CostCheck(normal_cost_per_order=normal, cost_per_order=allocation.cost_per_order, overrun=float(overrun),
                     baseline_cost_per_order=allocation.baseline_cost_per_order,
                     baseline_overrun=float(base_overrun), warn=warn, alert=alert, level=level, message=message)


def review(allocation: Allocation, check: CostCheck, courier_summary: pd.DataFrame) -> tuple[str, list[str]]:
    """The chapter's call and its reasons.

    ADD CAPACITY when the orders cannot all ship; OVER CEILING when cost per order runs past the alert
    ceiling; WATCH COST past the warning ceiling; else READY.
    """
    if not allocation.feasible:
        verdict = "ADD CAPACITY"
    else:
        verdict = {"alert": "OVER CEILING", "warn": "WATCH COST", "ok": "READY"}[check.level]
    split = ", ".join(f"{w} {s:.0%}" for w, s in zip(allocation.split["warehouse"], allocation.split["share"]))
    reasons = [allocation.explanation[:1].upper() + allocation.explanation[1:] + ".",
               f"Optimal split {split}: {allocation.cost_per_order:.2f} yuan/order, "
               f"{allocation.mean_delivery_days:.1f} delivery days on average; the fixed 70/15/15 split would cost "
               f"{allocation.baseline_cost_per_order:.2f} yuan/order and take {allocation.baseline_mean_delivery_days:.1f} days.",
               f"Cost against normal: {check.message}."]
    full = allocation.split[allocation.split["binding"]]
    if len(full):
        reasons.append("Full warehouses (one more order/day of capacity saves): " + ", ".join(
            f"{w} {v:.2f} yuan/day" for w, v in zip(full["warehouse"], full["capacity_value"])) + ".")
    if allocation.baseline_over_capacity:
        reasons.append("The fixed split would overload " + ", ".join(allocation.baseline_over_capacity) + ".")
    reasons.append(_rush_reason(courier_summary))
    return verdict, reasons


def _rush_reason(courier_summary: pd.DataFrame) -> str:
    if not len(courier_summary):
        return "No rush orders up to as_of."
    peaks = int(courier_summary["peak"].sum())
    return (f"Rush orders: {int(courier_summary['to_courier'].sum())} of {int(courier_summary['orders'].sum())} "
            f"go to couriers in {peaks} peak slot(s), for {courier_summary['extra_cost'].sum():.0f} yuan extra; "
            f"{int(courier_summary['promises_missed'].sum())} promise(s) still at risk.")


def _couriers_text(courier_summary: pd.DataFrame) -> str:
    """The rush orders handed to couriers so far, with the days they fell on: the count is cumulative up to as_of,
    and a bare "30 rush orders" read on a later day looked like that day's."""
    if not len(courier_summary) or int(courier_summary["to_courier"].sum()) == 0:
        return "0 rush orders to couriers"
    sent = courier_summary[courier_summary["to_courier"] > 0]
    first, last = pd.Timestamp(sent["day"].min()), pd.Timestamp(sent["day"].max())
    days = f"{first:%m-%d}" if first == last else f"{first:%m-%d} to {last:%m-%d}"
    return f"{int(sent['to_courier'].sum())} rush orders to couriers ({days})"


def headline(allocation: Allocation, check: CostCheck, courier_summary: pd.DataFrame) -> str:
    """One line for `spike show` and the team brief."""
    main = allocation.split.sort_values("orders", ascending=False)
    split_text = " / ".join(f"{w} {s:.0%}" for w, s in zip(main["warehouse"], main["share"]))
    verdict = review(allocation, check, courier_summary)[0]
    if math.isfinite(float(check.cost_per_order)):
        cost = (f"{check.cost_per_order:.2f} yuan/order ({check.overrun:+.0%} vs normal, cost {check.level}; 70/15/15 "
                f"baseline {check.baseline_cost_per_order:.2f})")
    else:
        cost = "nothing to ship, no cost to compare"
    text = f"{verdict}: {allocation.orders_per_day:.0f} orders/day split {split_text}; {cost}; {_couriers_text(courier_summary)}"
    if not allocation.feasible:
        text += f"; SHORT {allocation.shortfall:.1f} orders/day"
    return text


# ----------------------------------------------------------------------------------------------------------
# Planning the spike's forecast: the coming day and the peak
# ----------------------------------------------------------------------------------------------------------
POINT_COLUMNS = ["point", "day", "date", "orders_per_day", "feasible", "shortfall", "cost_per_order", "overrun",
                 "level", "main_share"]


def plan_points(forecast: Mapping[str, Any]) -> pd.DataFrame:
    """The moments chapter 05 plans, from the spike's shared forecast (``state["forecast"]``):

    - ``now``: the coming day (forecast day 1, the day after as_of): what the warehouses pack next;
    - ``peak``: the forecast's busiest day (the highest expected day over its horizon);
    - ``peak high``: that same day at the high end of the forecast's interval (the busy case).

    Columns: point, day (1 = the day after as_of), date, orders_per_day.
    """
    rows = list((forecast or {}).get("daily") or [])
    if not rows:
        raise ConfigError("the spike state has no daily forecast to plan. Fix: run the playbook (the runner derives "
                          "it) or call sk.spike_state()")
    expected = np.array([float(r["expected"]) for r in rows])
    high = np.array([float(r.get("high", r["expected"])) for r in rows])
    if not np.isfinite(expected).all() or (expected < 0).any():
        raise ConfigError("the forecast's daily expected demand must be numbers >= 0")
    top = int(np.argmax(expected))
    return pd.DataFrame({
        "point": ["now", "peak", "peak high"],
        "day": [1, top + 1, top + 1],
        "date": [str(rows[0]["day"]), str(rows[top]["day"]), str(rows[top]["day"])],
        "orders_per_day": [float(expected[0]), float(expected[top]), float(max(high[top], expected[top]))],
    })


@dataclass(frozen=True)
class PointPlan:
    """The split and the cost check at each planned point (``plan_points``), and the summary table."""

    points: pd.DataFrame
    allocations: dict = field(repr=False)  # point -> Allocation
    checks: dict = field(repr=False)  # point -> CostCheck

    def __getitem__(self, point: str) -> tuple["Allocation", "CostCheck"]:
        return self.allocations[point], self.checks[point]


def plan_at_points(points: pd.DataFrame, regional_demand: pd.DataFrame, warehouses: pd.DataFrame, lanes: pd.DataFrame,
                   settings: LogisticsSettings | None = None) -> PointPlan:
    """``allocate`` and ``cost_vs_normal`` at each point's orders per day."""
    settings = settings or LogisticsSettings()
    allocations, checks, rows = {}, {}, []
    for row in points.to_dict(orient="records"):
        alloc = allocate(float(row["orders_per_day"]), regional_demand, warehouses, lanes, settings)
        check = cost_vs_normal(alloc, regional_demand, ceiling=(settings.cost_ceiling_warn, settings.cost_ceiling_alert))
        allocations[row["point"]], checks[row["point"]] = alloc, check
        main = alloc.split.loc[alloc.split["kind"] == MAIN, "share"].sum()
        rows.append({**row, "feasible": alloc.feasible, "shortfall": alloc.shortfall,
                     "cost_per_order": alloc.cost_per_order, "overrun": check.overrun, "level": check.level,
                     "main_share": float(main)})
    return PointPlan(points=pd.DataFrame(rows, columns=POINT_COLUMNS), allocations=allocations, checks=checks)


_LEVEL_RANK = {"ok": 0, "warn": 1, "alert": 2}


def review_points(plan: PointPlan, courier_summary: pd.DataFrame) -> tuple[str, list[str]]:
    """The chapter's call on the coming day and the forecast's peak, and its reasons.

    ADD CAPACITY when the orders of the coming day or of the peak cannot all ship; OVER CEILING when the cost
    per order at either runs past the alert ceiling (the peak usually decides); WATCH COST past the warning
    ceiling; else READY. The peak's high end is reported as the busy case, not the call.
    """
    now_alloc, now_check = plan["now"]
    peak_alloc, peak_check = plan["peak"]
    high_alloc, high_check = plan["peak high"]
    pts = plan.points.set_index("point")
    peak_date = pts.loc["peak", "date"]
    if not now_alloc.feasible or not peak_alloc.feasible:
        verdict = "ADD CAPACITY"
    else:
        worst = max(now_check.level, peak_check.level, key=_LEVEL_RANK.get)
        verdict = {"alert": "OVER CEILING", "warn": "WATCH COST", "ok": "READY"}[worst]

    def split_text(alloc):
        return ", ".join(f"{w} {s:.0%}" for w, s in zip(alloc.split["warehouse"], alloc.split["share"]))

    same_day = int(pts.loc["peak", "day"]) == 1
    reasons = [f"The coming day ({pts.loc['now', 'date']}): {now_alloc.orders_per_day:.0f} orders; "
               + now_alloc.explanation + f"; split {split_text(now_alloc)}; cost {now_check.message}.",
               ("The forecast puts its peak on the coming day itself." if same_day else
                f"The forecast's peak ({peak_date}, day {int(pts.loc['peak', 'day'])}): "
                f"{peak_alloc.orders_per_day:.0f} orders; " + peak_alloc.explanation
                + f"; split {split_text(peak_alloc)}; cost {peak_check.message}."),
               f"At the high end of the forecast on that day, {high_alloc.orders_per_day:.0f} orders: "
               + ("all ship" if high_alloc.feasible else f"{high_alloc.shortfall:.1f} orders/day cannot ship")
               + f"; cost {high_check.message}.",
               f"The fixed 70/15/15 split would cost {peak_alloc.baseline_cost_per_order:.2f} yuan/order at the peak"
               + (" and overload " + ", ".join(peak_alloc.baseline_over_capacity) if peak_alloc.baseline_over_capacity
                  else "") + "."]
    full = peak_alloc.split[peak_alloc.split["binding"]]
    if len(full):
        reasons.append("Full at the peak (one more order/day of capacity saves): " + ", ".join(
            f"{w} {v:.2f} yuan/day" for w, v in zip(full["warehouse"], full["capacity_value"])) + ".")
    reasons.append(_rush_reason(courier_summary))
    return verdict, reasons


def headline_points(plan: PointPlan, courier_summary: pd.DataFrame) -> str:
    """One line for `spike show` and the team brief: the call, the coming day and the peak."""
    verdict = review_points(plan, courier_summary)[0]
    now_alloc, now_check = plan["now"]
    peak_alloc, peak_check = plan["peak"]
    pts = plan.points.set_index("point")

    def part(alloc, check):
        if not alloc.orders_per_day > 0 or not math.isfinite(float(check.cost_per_order)):
            return f"{alloc.orders_per_day:.0f} orders/day (nothing to ship, no cost to compare)"
        main = alloc.split.sort_values("orders", ascending=False)
        split = " / ".join(f"{w} {s:.0%}" for w, s in zip(main["warehouse"], main["share"]))
        return (f"{alloc.orders_per_day:.0f} orders/day split {split}, {check.cost_per_order:.2f} yuan/order "
                f"({check.overrun:+.0%} vs normal, {check.level})"
                + (f", SHORT {alloc.shortfall:.1f}/day" if not alloc.feasible else ""))

    high_alloc, high_check = plan["peak high"]
    busy = (f"busy case {high_alloc.orders_per_day:.0f}/day "
            + (f"{high_check.overrun:+.0%}" if math.isfinite(float(high_check.overrun)) else "at no extra cost")
            + ("" if high_alloc.feasible else f", SHORT {high_alloc.shortfall:.1f}/day"))
    peak = ("the forecast's peak is the coming day" if int(pts.loc["peak", "day"]) == 1 else
            f"peak {pts.loc['peak', 'date']} {part(peak_alloc, peak_check)}")
    return f"{verdict}: now {part(now_alloc, now_check)}; {peak} ({busy}); {_couriers_text(courier_summary)}"


def plot_points(plan: PointPlan):
    """Cost per order at the coming day, the peak and its high end against the warn and alert ceilings."""
    import matplotlib.pyplot as plt

    from ..core.plots import finish

    pts = plan.points
    normal = next(iter(plan.checks.values())).normal_cost_per_order
    warn, alert = next(iter(plan.checks.values())).warn, next(iter(plan.checks.values())).alert
    labels = [f"{p}\n{d}\n{o:.0f} orders/day" for p, d, o in zip(pts["point"], pts["date"], pts["orders_per_day"])]
    colors = [{"ok": "C2", "warn": "C1", "alert": "C3"}[lv] for lv in pts["level"]]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.bar(labels, pts["cost_per_order"], color=colors)
    for i, v in enumerate(pts["cost_per_order"]):
        if np.isfinite(v):
            ax.annotate(f"{v:.2f}", (i, v), ha="center", va="bottom", fontsize=9)
    ax.axhline(normal, color="0.5", ls=":", label=f"normal {normal:.2f}")
    ax.axhline(normal * (1 + warn), color="C1", ls="--", label=f"warn: normal +{warn:.0%}")
    ax.axhline(normal * (1 + alert), color="C3", ls="--", label=f"alert: normal +{alert:.0%}")
    finite = [v for v in pts["cost_per_order"] if np.isfinite(v)]
    ax.set_ylim(0, max(finite + [normal * (1 + alert)]) * 1.25)
    ax.legend(loc="upper left", fontsize=8)
    finish(ax, "Logistics cost per order: the coming day and the forecast's peak", "", "cost per order (yuan)")
    return fig


# ----------------------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------------------
def plot_split(allocation: Allocation):
    """Share of orders per warehouse: the optimal plan against the handbook's fixed split, with utilisation."""
    import matplotlib.pyplot as plt

    from ..core.plots import finish

    split = allocation.split
    x = np.arange(len(split))
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(split) + 2), 3.6))
    ax.bar(x - 0.2, split["share"] * 100, width=0.4, label="optimal plan", color="C0")
    ax.bar(x + 0.2, split["baseline_share"] * 100, width=0.4, label="handbook split (70/15/15)", color="0.7")
    for i, (share, util) in enumerate(zip(split["share"], split["utilisation"])):
        if np.isfinite(util):
            ax.annotate(f"{util:.0%} full", (i - 0.2, share * 100), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, [f"{w}\n({k})" for w, k in zip(split["warehouse"], split["kind"])])
    ax.set_ylim(0, max(100 * max(split["share"].max(), split["baseline_share"].max()) * 1.35, 10))
    ax.legend(loc="upper right")
    finish(ax, f"Order split per warehouse at {allocation.orders_per_day:.0f} orders/day",
           "warehouse", "share of orders (%)")
    return fig


def plot_cost(allocation: Allocation, check: CostCheck):
    """Cost per order: normal, handbook split and optimal plan, against the warn and alert ceilings."""
    import matplotlib.pyplot as plt

    from ..core.plots import finish

    labels = ["normal (before spike)", "handbook split", "optimal plan"]
    values = [check.normal_cost_per_order, check.baseline_cost_per_order, check.cost_per_order]
    colors = ["0.6", "0.8", {"ok": "C2", "warn": "C1", "alert": "C3"}[check.level]]
    fig, ax = plt.subplots(figsize=(7, 3.4))
    ax.bar(labels, values, color=colors)
    for i, v in enumerate(values):
        if np.isfinite(v):
            ax.annotate(f"{v:.2f}", (i, v), ha="center", va="bottom", fontsize=9)
    normal = check.normal_cost_per_order
    ax.axhline(normal * (1 + check.warn), color="C1", ls="--", label=f"warn: normal +{check.warn:.0%}")
    ax.axhline(normal * (1 + check.alert), color="C3", ls="--", label=f"alert: normal +{check.alert:.0%}")
    finite = [v for v in values if np.isfinite(v)]
    ax.set_ylim(0, max(finite + [normal * (1 + check.alert)]) * 1.25)
    ax.legend(loc="upper left", fontsize=8)
    finish(ax, "Logistics cost per order against the ceiling", "", "cost per order (yuan)")
    return fig


def plot_courier_slots(summary: pd.DataFrame):
    """Urgent orders per re-planning slot, the ones handed to couriers, and the peak slots."""
    import matplotlib.pyplot as plt

    from ..core.plots import finish

    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(summary) + 2), 3.4))
    if len(summary) == 0:
        ax.axis("off")
        ax.set_title("No urgent orders up to as_of")
        return fig
    x = np.arange(len(summary))
    ax.bar(x, summary["orders"], color=np.where(summary["peak"], "C1", "0.75"), label="urgent orders (orange: peak)")
    ax.bar(x, summary["to_courier"], width=0.4, color="C0", label="to couriers")
    ax.set_xticks(x, [f"{d:%m-%d}\n{s}" for d, s in zip(summary["day"], summary["slot"])], fontsize=7)
    ax.legend(loc="upper left", fontsize=8)
    finish(ax, "Rush orders per re-planning slot", "day and slot (local time)", "orders")
    return fig
