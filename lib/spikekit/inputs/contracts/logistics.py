"""Table family of chapter 05: warehouses.csv, lanes.csv, regional_demand.csv, urgent_orders.csv.
"""
from __future__ import annotations

import pandas as pd

from ...core.errors import InputError

from .columns import CONTRACTS, COUNT_MAX, Column, Contract, DAYS_MAX, DISTANCE_KM_MAX, HOURS_MAX, SHARE_FIX, UNIT_MONEY_MAX
from .loading import _file_rows, load_table


# --- warehouses, lanes, regional_demand, urgent_orders (chapter 05) ---

WAREHOUSES = Contract(
    name="warehouses",
    description="Warehouses that can ship the spike's orders: the main warehouse and cloud (third-party) ones.",
    columns=(
        Column("warehouse", "str", "Warehouse name (e.g. 杭州主仓, 云仓-成都)."),
        Column("kind", "str", "main = the shop's own warehouse; cloud = a cloud warehouse paid per order.",
               allowed=("main", "cloud")),
        Column("city", "str", "City the warehouse ships from."),
        Column("capacity_per_day", "int", "Orders it can pack and hand over per day.",
               non_negative=True, maximum=COUNT_MAX),
        Column("handling_cost", "float", "Packing and handling cost per order (yuan).",
               non_negative=True, maximum=UNIT_MONEY_MAX),
    ),
    key=("warehouse",),
)

LANES = Contract(
    name="lanes",
    description="Shipping lanes, one row per warehouse x region that can be served; a missing pair is not allowed.",
    columns=(
        Column("warehouse", "str", "Warehouse name, as in warehouses."),
        Column("region", "str", "Destination region (e.g. 华东, 西南), as in regional_demand."),
        Column("cost_per_order", "float", "Carrier cost per order on this lane (yuan).",
               non_negative=True, maximum=UNIT_MONEY_MAX),
        Column("delivery_days", "float", "Usual days from hand-over to delivery on this lane.",
               non_negative=True, maximum=DAYS_MAX),
    ),
    key=("warehouse", "region"),
)

REGIONAL_DEMAND = Contract(
    name="regional_demand",
    description="Where the orders go: each region's share of orders and the shop's usual logistics cost there.",
    columns=(
        Column("region", "str", "Destination region, as in lanes."),
        Column("share", "float", "Share of orders going to the region, 0 to 1; the shares sum to 1.",
               non_negative=True, maximum=1.0, bound_fix=SHARE_FIX),
        Column("normal_cost_per_order", "float",
               "The shop's usual logistics cost per order to the region before the spike (yuan).",
               non_negative=True, maximum=UNIT_MONEY_MAX),
    ),
    key=("region",),
)

URGENT_ORDERS = Contract(
    name="urgent_orders",
    description="Same-city rush orders with a delivery promise, the normal carrier's expectation and a courier quote.",
    columns=(
        Column("order_id", "str", "Order number."),
        Column("timestamp", "timestamp", "When the order was placed; a run uses a row once this is <= as_of."),
        Column("region", "str", "Destination region or city district."),
        Column("distance_km", "float", "Distance from the shipping warehouse to the customer (km).",
               non_negative=True, maximum=DISTANCE_KM_MAX),
        Column("promised_hours", "float", "Delivery promised within this many hours of the order (> 0).",
               non_negative=True, maximum=HOURS_MAX),
        Column("standard_hours", "float", "Expected delivery time by the normal carrier (hours).",
               non_negative=True, maximum=HOURS_MAX),
        Column("standard_cost", "float", "Normal carrier cost for this order (yuan).",
               non_negative=True, maximum=UNIT_MONEY_MAX),
        Column("courier_cost", "float", "Crowdsourced courier quote for this order (yuan).",
               non_negative=True, maximum=UNIT_MONEY_MAX),
    ),
    key=("order_id",),
)

for _contract in (WAREHOUSES, LANES, REGIONAL_DEMAND, URGENT_ORDERS):
    CONTRACTS[_contract.name] = _contract
del _contract

SHARE_SUM_TOLERANCE = 0.001




def validate_warehouses(frame: pd.DataFrame, file: str = "warehouses.csv") -> pd.DataFrame:
    """Cross-row rules of ``warehouses``: at least one warehouse with capacity."""
    if int(frame["capacity_per_day"].sum()) <= 0:
        raise InputError("every warehouse has capacity_per_day 0: no order could ship", file=file,
                         column="capacity_per_day", rows=list(range(2, len(frame) + 2)),
                         fix="give each warehouse the orders it can pack per day")
    return frame


def validate_lanes(frame: pd.DataFrame, file: str = "lanes.csv") -> pd.DataFrame:
    """Cross-row rules of ``lanes``: none beyond the key (warehouse and region names are checked at allocation)."""
    return frame


def validate_regional_demand(frame: pd.DataFrame, file: str = "regional_demand.csv") -> pd.DataFrame:
    """Cross-row rule of ``regional_demand``: the shares (each 0 to 1, by the contract) sum to 1 (within 0.001)."""
    total = float(frame["share"].sum())
    if abs(total - 1.0) > SHARE_SUM_TOLERANCE:
        raise InputError(f"the shares sum to {total:.4f}, not 1 (within {SHARE_SUM_TOLERANCE})", file=file,
                         column="share", rows=list(range(2, len(frame) + 2)),
                         fix="make the region shares add up to 1, e.g. divide each by their total")
    return frame


def validate_urgent_orders(frame: pd.DataFrame, file: str = "urgent_orders.csv") -> pd.DataFrame:
    """Cross-row rules of ``urgent_orders``: a promise of 0 hours cannot be kept by anyone."""
    zero = frame["promised_hours"].to_numpy(dtype=float) <= 0
    if zero.any():
        raise InputError("promised_hours must be above 0", file=file, column="promised_hours",
                         rows=_file_rows(frame, zero), fix="give the promised delivery time in hours, e.g. 4")
    return frame



def load_warehouses(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the warehouses table (warehouse/kind/city/capacity_per_day/handling_cost)."""
    return load_table(path, CONTRACTS["warehouses"], tz=tz, data_root=data_root)


def load_lanes(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the lanes table (warehouse/region/cost_per_order/delivery_days)."""
    return load_table(path, CONTRACTS["lanes"], tz=tz, data_root=data_root)


def load_regional_demand(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the regional demand table (region/share/normal_cost_per_order); shares must sum to 1."""
    return load_table(path, CONTRACTS["regional_demand"], tz=tz, data_root=data_root)


def load_urgent_orders(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the urgent (same-city rush) orders table."""
    return load_table(path, CONTRACTS["urgent_orders"], tz=tz, data_root=data_root)
