"""What the shop's suppliers can deliver: each supplier's production window (material on hand, capacity, reserve)
and the soonest a new order's first unit can land (``first_arrival``). Chapter 03 plans orders with it; the
closed-loop replay's handbook policy counts its lead time from it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd


_EPS = 1e-9


def _floor(value: float) -> int:
    # 0.7 * 150 is 104.99999999999999 in floating point; the tolerance keeps it 105.
    return int(math.floor(value + _EPS))


def _ceil(value: float) -> int:
    return int(math.ceil(value - _EPS))


@dataclass(frozen=True)
class _Supplier:
    name: str
    tier: str
    min_order: int
    max_units: int
    material_units: int
    material_ready_day: float
    daily_capacity: int
    daily_limit: int  # after the reserve
    lead: int  # whole days, rounded up
    unit_cost: float
    setup_cost: float
    reliability: float


def _suppliers(frame: pd.DataFrame, reserve_share: float) -> list[_Supplier]:
    out = []
    for row in frame.itertuples(index=False):
        out.append(_Supplier(
            name=str(row.supplier), tier=str(row.tier), min_order=int(row.min_order), max_units=int(row.max_units),
            material_units=int(row.material_units), material_ready_day=float(row.material_ready_day),
            daily_capacity=int(row.daily_capacity), daily_limit=_floor((1 - reserve_share) * int(row.daily_capacity)),
            lead=_ceil(float(row.lead_days)), unit_cost=float(row.unit_cost), setup_cost=float(row.setup_cost),
            reliability=float(row.reliability),
        ))
    return out


def _can_make(sup: _Supplier, days: int, daily_limit: int | None = None) -> tuple[int, str]:
    """Most units ``sup`` can make on days 1..days, and the limit that stops it there (a word)."""
    limit = sup.daily_limit if daily_limit is None else daily_limit
    if days <= 0 or limit <= 0 or sup.max_units <= 0:
        return 0, ("no days" if days <= 0 else ("daily capacity" if limit <= 0 else "max_units"))
    before = sum(1 for d in range(1, days + 1) if d < sup.material_ready_day)
    after = days - before
    by_capacity = limit * days
    by_material = min(sup.material_units, limit * before) + limit * after
    made = min(sup.max_units, by_material)
    if made == sup.max_units and sup.max_units <= by_material:
        why = "max_units"
    elif by_material < by_capacity:
        why = "material"
    else:
        why = "reserve capacity"
    return made, why


def first_arrival(suppliers: pd.DataFrame, reserve_share: float = 0.30, horizon_days: int = 10) -> dict | None:
    """The supplier whose first unit of a new order could be at our warehouse soonest: supplier,
    production_day (day 1 when it has material on hand, else the day its material arrives), lead_days,
    arrival_day. Only suppliers that can make at least their minimum order in the production window count;
    None when none can."""
    best = None
    for sup in _suppliers(suppliers, reserve_share):
        made, _ = _can_make(sup, horizon_days)
        if made <= 0 or made < sup.min_order:
            continue
        start = 1 if sup.material_units > 0 else max(1, _ceil(sup.material_ready_day))
        found = {"supplier": sup.name, "production_day": int(start), "lead_days": int(sup.lead),
                 "arrival_day": int(start + sup.lead)}
        if best is None or found["arrival_day"] < best["arrival_day"]:
            best = found
    return best
