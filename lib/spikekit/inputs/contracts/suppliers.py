"""Table family of chapter 03: suppliers.csv.
"""
from __future__ import annotations

import pandas as pd

from ...core.errors import InputError

from .columns import CONTRACTS, COUNT_MAX, Column, Contract, DAYS_MAX, MATERIAL_NEVER_DAY_MAX, MONEY_MAX, SHARE_FIX, UNIT_MONEY_MAX
from .loading import _file_rows, load_table


# --- suppliers (chapter 03) ---

SUPPLIERS = Contract(
    name="suppliers",
    description="Suppliers who could make the spike product: quantity limits, material on hand, capacity, lead time, cost.",
    columns=(
        Column("supplier", "str", "Supplier name (e.g. 东莞工厂A)."),
        Column("tier", "str", "A = small orders fast (under 100 units, within 7 days); B = under 300 units, within "
               "10 days; C = regular supplier kept as backup.", allowed=("A", "B", "C")),
        Column("min_order", "int", "Smallest order it accepts (units); 0 = none.",
               non_negative=True, maximum=COUNT_MAX),
        Column("max_units", "int", "Most units it will take in this order; at least min_order.",
               non_negative=True, maximum=COUNT_MAX),
        Column("material_units", "int", "Units it can make from the material on hand now.",
               non_negative=True, maximum=COUNT_MAX),
        Column("material_ready_day", "float", "Day more material arrives (day 1 = first day after the order); from "
               "then on material does not limit. Use a large number if none is coming.",
               non_negative=True, maximum=MATERIAL_NEVER_DAY_MAX),
        Column("daily_capacity", "int", "Units it can make per day at full capacity.",
               non_negative=True, maximum=COUNT_MAX),
        Column("lead_days", "float", "Days from a unit finished to it arriving at our warehouse (rounded up).",
               non_negative=True, maximum=DAYS_MAX),
        Column("unit_cost", "float", "Price per unit (yuan).", non_negative=True, maximum=UNIT_MONEY_MAX),
        Column("setup_cost", "float", "Fixed cost if it gets any order: samples, moulds, set-up (yuan).",
               non_negative=True, maximum=MONEY_MAX),
        Column("reliability", "float", "Share of promised units that arrived on time in the past, 0 to 1.",
               non_negative=True, maximum=1.0, bound_fix=SHARE_FIX),
    ),
    key=("supplier",),
)
CONTRACTS[SUPPLIERS.name] = SUPPLIERS




def validate_suppliers(frame: pd.DataFrame, file: str = "suppliers.csv") -> pd.DataFrame:
    """Cross-row rule of ``suppliers``: min_order <= max_units on every row (reliability 0-1 is a contract bound)."""
    inverted = frame["min_order"].to_numpy() > frame["max_units"].to_numpy()
    if inverted.any():
        raise InputError("min_order is above max_units: no order could satisfy this supplier", file=file,
                         column="min_order", rows=_file_rows(frame, inverted),
                         fix="make min_order at most max_units (or max_units 0 to leave the supplier out)")
    return frame


def load_suppliers(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the suppliers table (supplier/tier/min_order/max_units/material/capacity/lead/cost/reliability)."""
    return load_table(path, CONTRACTS["suppliers"], tz=tz, data_root=data_root)
