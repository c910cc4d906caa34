"""Table family of chapters 03-05: demand.csv (the truth no chapter sees), suppliers, stock, warehouses, lanes,
regional demand, urgent orders, and the cheapest shipping allocation the answer key and the cash story use.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linprog

from ..core.errors import ConfigError

from .shop import (
    COURIER_BASE,
    COURIER_PER_KM,
    DATA_END,
    DATA_START,
    DAY,
    EVENING_SURGE,
    HOUR,
    LANES,
    NORMAL_COST_PER_ORDER,
    REGIONS,
    SHOPPING_HOURS,
    STAMP_SHIFT,
    STOCK_HOLDING_COST_PER_DAY,
    STOCK_SALVAGE_VALUE,
    STOCK_UNIT_COST,
    SUPPLIERS,
    SUPPLIER_COLUMNS,
    URGENT_FAR_KM,
    URGENT_IN_CITY_SHARE,
    URGENT_NEAR_KM,
    URGENT_PROMISES,
    URGENT_SHARE,
    WAREHOUSES,
    WAREHOUSE_REGION,
    _days,
    _hour_parts,
    _stamp_text,
    _when,
)
from .story import Scenario
from .signals import demand_rate


def make_demand(scenario: Scenario, rng: np.random.Generator | None = None) -> pd.DataFrame:
    """demand.csv: date, units: the true expected demand per calendar day (no noise)."""
    dates = np.arange(DATA_START.astype("datetime64[D]"), DATA_END.astype("datetime64[D]") + DAY, DAY)
    mids = _days(dates.astype("datetime64[m]"))[:, None] + (np.arange(24) + 0.5)[None, :] / 24.0
    units = demand_rate(scenario, mids).mean(axis=1)
    return pd.DataFrame({"date": np.datetime_as_string(dates), "units": np.round(units, 2)})


def make_suppliers(scenario: Scenario, rng: np.random.Generator | None = None) -> pd.DataFrame:
    """suppliers.csv: the shop's supplier roster (`SUPPLIERS`) with the scenario's supplier news applied."""
    frame = pd.DataFrame(list(SUPPLIERS), columns=list(SUPPLIER_COLUMNS))
    for supplier, column, value in scenario.supplier_news:
        if column not in SUPPLIER_COLUMNS or not (frame["supplier"] == supplier).any():
            raise ConfigError(f"scenario {scenario.name}: no supplier {supplier!r} or column {column!r} to change")
        frame.loc[frame["supplier"] == supplier, column] = value
    return frame


def make_stock(scenario: Scenario, rng: np.random.Generator | None = None) -> pd.DataFrame:
    """stock.csv: one row, the product's stock line."""
    return pd.DataFrame({
        "sku": [scenario.sku],
        "on_hand": np.array([scenario.stock_on_hand], dtype=np.int64),
        "unit_cost": [STOCK_UNIT_COST],
        "price": [scenario.price],
        "holding_cost_per_day": [STOCK_HOLDING_COST_PER_DAY],
        "salvage_value": [STOCK_SALVAGE_VALUE],
    })


def make_warehouses(scenario: Scenario, rng: np.random.Generator | None = None) -> pd.DataFrame:
    """warehouses.csv: the main warehouse and two cloud warehouses (`WAREHOUSES`)."""
    return pd.DataFrame(list(WAREHOUSES), columns=["warehouse", "kind", "city", "capacity_per_day", "handling_cost"])


def make_lanes(scenario: Scenario, rng: np.random.Generator | None = None) -> pd.DataFrame:
    """lanes.csv: every warehouse x region with its cost per order and delivery days (`LANES`)."""
    rows = [(warehouse, region, *LANES[warehouse][region]) for warehouse, *_ in WAREHOUSES for region in REGIONS]
    return pd.DataFrame(rows, columns=["warehouse", "region", "cost_per_order", "delivery_days"])


def make_regional_demand(scenario: Scenario, rng: np.random.Generator | None = None) -> pd.DataFrame:
    """regional_demand.csv: the scenario's share of orders per region and the normal cost per order."""
    regions = [region for region, _ in scenario.regional_shares]
    shares = [share for _, share in scenario.regional_shares]
    if sorted(regions) != sorted(REGIONS) or round(sum(shares), 6) != 1.0:
        raise ConfigError(f"scenario {scenario.name}: regional shares must cover {REGIONS} and sum to 1")
    return pd.DataFrame({
        "region": regions,
        "share": shares,
        "normal_cost_per_order": [NORMAL_COST_PER_ORDER[region] for region in regions],
    })


def make_urgent_orders(scenario: Scenario, rng: np.random.Generator) -> pd.DataFrame:
    """urgent_orders.csv: promised-time orders near a warehouse, from the validation start on.

    Orders per hour are Poisson around URGENT_SHARE x true demand x shopping hours; each order is stamped
    at the end of the hour it was placed in. Its region is where one of the three warehouses stands
    (weighted by the regional shares); 60% are in the city (1-15 km), the rest in nearby towns (15-40 km).
    The standard carrier takes 6 h + 0.4 h per km + a gamma delay (mean 6 h), costs 5 yuan + 0.04 per km;
    the courier quotes 6 yuan + 1 per km, times a mean-one noise, 20% more from 18:00 to 22:00.
    """
    start = _when(scenario.validation_start)
    stamps = np.arange(start, start + scenario.urgent_days * DAY, HOUR) + STAMP_SHIFT
    mid, hour_of_day, _, dates = _hour_parts(stamps)
    hourly_mean = URGENT_SHARE * demand_rate(scenario, mid) * SHOPPING_HOURS[hour_of_day] / 24.0
    counts = rng.poisson(hourly_mean)
    total = int(counts.sum())
    placed = np.repeat(stamps, counts)
    placed_hour = np.repeat(hour_of_day, counts)

    share = dict(scenario.regional_shares)
    near_regions = [WAREHOUSE_REGION[warehouse] for warehouse, *_ in WAREHOUSES]
    weights = np.array([share[r] for r in near_regions])
    region = np.array(near_regions)[rng.choice(len(near_regions), size=total, p=weights / weights.sum())]
    in_city = rng.random(total) < URGENT_IN_CITY_SHARE
    distance = np.where(in_city, rng.uniform(*URGENT_NEAR_KM, total), rng.uniform(*URGENT_FAR_KM, total))
    distance = np.round(distance, 1)
    promised = np.array([h for h, _ in URGENT_PROMISES])[
        rng.choice(len(URGENT_PROMISES), size=total, p=[p for _, p in URGENT_PROMISES])]
    standard_hours = np.clip(np.round((6.0 + 0.4 * distance + rng.gamma(2.0, 3.0, total)) * 2) / 2, 6.0, 48.0)
    standard_cost = np.round(5.0 + 0.04 * distance, 1)
    surge = np.where((placed_hour >= 18) & (placed_hour < 22), EVENING_SURGE, 1.0)
    quote = (COURIER_BASE + COURIER_PER_KM * distance) * surge * np.exp(rng.normal(-0.005, 0.1, total))
    courier_cost = np.round(quote * 2) / 2  # quotes come in half yuan

    day_text = np.datetime_as_string((placed - STAMP_SHIFT).astype("datetime64[D]"))
    sequence = np.zeros(total, dtype=np.int64)
    for day in np.unique(day_text):
        on_day = day_text == day
        sequence[on_day] = np.arange(1, on_day.sum() + 1)
    order_id = [f"U{day.replace('-', '')}-{n:03d}" for day, n in zip(day_text, sequence)]
    return pd.DataFrame({
        "order_id": order_id,
        "timestamp": _stamp_text(placed),
        "region": region,
        "distance_km": distance,
        "promised_hours": promised,
        "standard_hours": standard_hours,
        "standard_cost": standard_cost,
        "courier_cost": courier_cost,
    })


def cheapest_allocation(orders_per_day: float, shares: dict[str, float]) -> dict | None:
    """Least-cost orders per warehouse x region (lane + handling, no delivery-time penalty) within each
    warehouse's daily capacity; None when the capacities cannot carry the orders. A small transportation
    programme solved with linprog (HiGHS), as an independent answer key for chapter 05."""
    names = [w for w, *_ in WAREHOUSES]
    handling = {w: h for w, _, _, _, h in WAREHOUSES}
    capacity = {w: c for w, _, _, c, _ in WAREHOUSES}
    pairs = [(w, r) for w in names for r in REGIONS]
    cost = np.array([LANES[w][r][0] + handling[w] for w, r in pairs])
    demand_rows = np.array([[1.0 if r == region else 0.0 for _, r in pairs] for region in REGIONS])
    capacity_rows = np.array([[1.0 if w == name else 0.0 for w, _ in pairs] for name in names])
    result = linprog(cost, A_ub=capacity_rows, b_ub=[capacity[w] for w in names], A_eq=demand_rows,
                     b_eq=[orders_per_day * shares[r] for r in REGIONS], bounds=(0, None), method="highs")
    if result.status != 0:
        return None
    flows = dict(zip(pairs, result.x))
    normal = sum(shares[r] * NORMAL_COST_PER_ORDER[r] for r in REGIONS)
    per_order = float(result.fun) / orders_per_day
    return {
        "orders_per_day": round(orders_per_day, 2),
        "cost_per_order": round(per_order, 4),
        "normal_cost_per_order": round(normal, 4),
        "cost_vs_normal": round(per_order / normal - 1, 4),
        "orders_per_warehouse": {w: round(sum(flows[(w, r)] for r in REGIONS), 2) for w in names},
    }


def baseline_allocation(orders_per_day: float, shares: dict[str, float], main_share: float = 0.7) -> dict:
    """The handbook's split: main gets main_share of every region's orders, the cloud warehouses share the
    rest equally. Feasible when no warehouse gets more than its capacity."""
    clouds = [w for w, kind, *_ in WAREHOUSES if kind == "cloud"]
    split = {w: (main_share if kind == "main" else (1 - main_share) / len(clouds)) for w, kind, *_ in WAREHOUSES}
    handling = {w: h for w, _, _, _, h in WAREHOUSES}
    cost = sum(orders_per_day * shares[r] * split[w] * (LANES[w][r][0] + handling[w]) for w in split for r in REGIONS)
    return {
        "cost_per_order": round(cost / orders_per_day, 4),
        "orders_per_warehouse": {w: round(orders_per_day * s, 2) for w, s in split.items()},
        "feasible": all(orders_per_day * split[w] <= c + 1e-9 for w, _, _, c, _ in WAREHOUSES),
    }
