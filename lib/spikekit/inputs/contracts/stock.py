"""Table family of chapter 04: stock.csv.
"""
from __future__ import annotations

import pandas as pd

from ...core.errors import InputError

from .columns import CONTRACTS, COUNT_MAX, Column, Contract, UNIT_MONEY_MAX
from .loading import _file_rows, load_table


# --- stock (chapter 04) ---

STOCK = Contract(
    name="stock",
    description="Stock of the spike product now: units on hand, what a unit costs and sells for, and what a leftover is worth.",
    columns=(
        Column("sku", "str", "Stock-keeping unit (e.g. starry-mug-blue)."),
        Column("on_hand", "int", "Units in the warehouse now, sellable.", non_negative=True, maximum=COUNT_MAX),
        Column("unit_cost", "float", "Purchase cost per unit (yuan).", non_negative=True, maximum=UNIT_MONEY_MAX),
        Column("price", "float", "Normal selling price per unit (yuan).",
               non_negative=True, minimum=0.0, exclusive_minimum=True, maximum=UNIT_MONEY_MAX),
        Column("holding_cost_per_day", "float", "Cost of keeping one unit in stock for one day (yuan).",
               non_negative=True, maximum=UNIT_MONEY_MAX),
        Column("salvage_value", "float", "What one unit left over at the end fetches (clearance, yuan).",
               non_negative=True, maximum=UNIT_MONEY_MAX),
    ),
    key=("sku",),
)
CONTRACTS[STOCK.name] = STOCK


def validate_stock(frame: pd.DataFrame, file: str = "stock.csv") -> pd.DataFrame:
    """Cross-column rule of ``stock``: a leftover cannot fetch more than the normal price."""
    above = frame["salvage_value"].to_numpy(dtype=float) > frame["price"].to_numpy(dtype=float)
    if above.any():
        raise InputError("salvage_value is above price: a leftover unit cannot fetch more than a sold one",
                         file=file, column="salvage_value", rows=_file_rows(frame, above),
                         fix="check the two columns are not swapped; salvage_value is the clearance value per unit")
    return frame


def load_stock(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the stock table (sku/on_hand/unit_cost/price/holding_cost_per_day/salvage_value)."""
    return load_table(path, CONTRACTS["stock"], tz=tz, data_root=data_root)
