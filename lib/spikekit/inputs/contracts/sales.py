"""Table family of chapter 06: sales.csv.
"""
from __future__ import annotations

import pandas as pd

from ...core.errors import InputError

from .columns import CONTRACTS, COUNT_MAX, Column, Contract, UNIT_MONEY_MAX
from .loading import _file_rows, load_table


# --- sales (chapter 06) ---

SALES = Contract(
    name="sales",
    description="Daily sales of the spike product: units sold and the average selling price, one row per day.",
    columns=(
        Column("timestamp", "timestamp", "END of the day counted: 2025-03-10 00:00 counts 2025-03-09. A run uses a "
               "row once this is <= as_of."),
        Column("orders", "int", "Units sold that day.", non_negative=True, maximum=COUNT_MAX),
        Column("price", "float", "Average selling price that day (yuan); its changes let chapter 06 estimate the "
               "price response.", non_negative=True, minimum=0.0, exclusive_minimum=True, maximum=UNIT_MONEY_MAX),
    ),
    key=("timestamp",),
)
CONTRACTS[SALES.name] = SALES


def validate_sales(frame: pd.DataFrame, file: str = "sales.csv") -> pd.DataFrame:
    """Cross-row rule of ``sales``: each row ends a day, so its timestamp is a midnight (the day after the one counted)."""
    stamps = frame["timestamp"]
    off_midnight = (stamps != stamps.dt.normalize()).to_numpy()
    if off_midnight.any():
        raise InputError("a timestamp is not a midnight: each row counts one whole day and is stamped at its end",
                         file=file, column="timestamp", rows=_file_rows(frame, off_midnight),
                         fix="stamp the day 2025-03-09 as 2025-03-10 00:00 (the end of the day counted)")
    return frame


def load_sales(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the daily sales table (timestamp = end of the day counted / orders / price)."""
    return load_table(path, CONTRACTS["sales"], tz=tz, data_root=data_root)
