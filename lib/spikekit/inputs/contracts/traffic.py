"""Table family of chapter 07 (the hourly data room): traffic.csv, funnel.csv, audience.csv, budget.csv.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...core.errors import InputError

from .columns import CONTRACTS, COUNT_MAX, Column, Contract, MONEY_MAX
from .loading import _file_rows, load_table


# --- traffic, funnel, audience, budget (chapter 07) ---

TRAFFIC = Contract(
    name="traffic",
    description="Hourly visitors per platform and traffic source, for the data room's heatmap.",
    columns=(
        Column("timestamp", "timestamp", "END of the hour counted, on the hour: 10:00 counts 09:00-10:00. A run uses "
               "a row once this is <= as_of."),
        Column("platform", "str", "Platform (e.g. 小红书, 抖音, 淘宝, 拼多多, 微信, 快手).", categorical=True),
        Column("source", "str", "Traffic source (e.g. 推荐, 搜索, 直播, 广告).", categorical=True),
        Column("visitors", "int", "Visitors from that source in that hour.", non_negative=True, maximum=COUNT_MAX),
    ),
    key=("timestamp", "platform", "source"),
)

FUNNEL = Contract(
    name="funnel",
    description="Hourly view -> add-to-cart -> order counts per platform; each step at most the one before.",
    columns=(
        Column("timestamp", "timestamp", "END of the hour counted, on the hour: 10:00 counts 09:00-10:00. A run uses "
               "a row once this is <= as_of."),
        Column("platform", "str", "Platform (e.g. 小红书, 抖音).", categorical=True),
        Column("views", "int", "Product page views in that hour.", non_negative=True, maximum=COUNT_MAX),
        Column("add_to_cart", "int", "Add-to-carts in that hour; at most views.",
               non_negative=True, maximum=COUNT_MAX),
        Column("orders", "int", "Paid orders in that hour; at most add_to_cart.",
               non_negative=True, maximum=COUNT_MAX),
    ),
    key=("timestamp", "platform"),
)

AUDIENCE = Contract(
    name="audience",
    description="Visitors per audience segment and platform in each 12-hour window.",
    columns=(
        Column("timestamp", "timestamp", "END of the 12-hour window counted: 00:00 or 12:00 (12:00 counts "
               "00:00-12:00). A run uses a row once this is <= as_of."),
        Column("platform", "str", "Platform (e.g. 小红书, 抖音).", categorical=True),
        Column("segment", "str", "Audience segment (e.g. 女 18-24, 女 25-35, 女 36+, 男 18-24, 男 25-35, 男 36+).",
               categorical=True),
        Column("visitors", "int", "Visitors of that segment in that window.", non_negative=True, maximum=COUNT_MAX),
    ),
    key=("timestamp", "platform", "segment"),
)

BUDGET = Contract(
    name="budget",
    description="Advertising budget per platform now, in yuan per day: what the data room may move.",
    columns=(
        Column("platform", "str", "Platform, as in funnel."),
        Column("daily_budget", "float", "Ad spend per day on that platform now (yuan).",
               non_negative=True, maximum=MONEY_MAX),
    ),
    key=("platform",),
)

for _contract in (TRAFFIC, FUNNEL, AUDIENCE, BUDGET):
    CONTRACTS[_contract.name] = _contract
del _contract




def _off_grid(frame: pd.DataFrame, hours: tuple[int, ...] | None, contract: Contract, file: str, what: str, fix: str):
    """InputError when a timestamp is not on the hour (or, with ``hours``, not at one of those hours)."""
    stamps = frame["timestamp"]
    bad = (stamps != stamps.dt.floor("h")).to_numpy()
    if hours is not None:
        bad = bad | ~np.isin(stamps.dt.hour.to_numpy(), hours)
    if bad.any():
        raise InputError(what, file=file, column="timestamp", rows=_file_rows(frame, bad), fix=fix)


def validate_traffic(frame: pd.DataFrame, file: str = "traffic.csv") -> pd.DataFrame:
    """Cross-row rule of ``traffic``: each row ends an hour, so its timestamp is on the hour."""
    _off_grid(frame, None, TRAFFIC, file, "a timestamp is not on the hour: each row counts one hour, stamped at its end",
              "stamp 09:00-10:00 as 10:00")
    return frame


def validate_funnel(frame: pd.DataFrame, file: str = "funnel.csv") -> pd.DataFrame:
    """Cross-column rules of ``funnel``: timestamps on the hour, and views >= add_to_cart >= orders per row."""
    _off_grid(frame, None, FUNNEL, file, "a timestamp is not on the hour: each row counts one hour, stamped at its end",
              "stamp 09:00-10:00 as 10:00")
    over_views = frame["add_to_cart"].to_numpy() > frame["views"].to_numpy()
    if over_views.any():
        raise InputError("add_to_cart is above views: a visitor must view the product before adding it to the cart",
                         file=file, column="add_to_cart", rows=_file_rows(frame, over_views),
                         fix="check the columns are not swapped and come from the same hour and platform")
    over_cart = frame["orders"].to_numpy() > frame["add_to_cart"].to_numpy()
    if over_cart.any():
        raise InputError("orders is above add_to_cart: the funnel counts orders placed from the cart",
                         file=file, column="orders", rows=_file_rows(frame, over_cart),
                         fix="check the columns are not swapped; count buy-now orders as add-to-carts too")
    return frame


def validate_audience(frame: pd.DataFrame, file: str = "audience.csv") -> pd.DataFrame:
    """Cross-row rule of ``audience``: windows are 12 hours, stamped at their end, 00:00 or 12:00."""
    _off_grid(frame, (0, 12), AUDIENCE, file, "a timestamp is not 00:00 or 12:00: each row counts a 12-hour window "
              "stamped at its end", "stamp 00:00-12:00 as 12:00 and 12:00-24:00 as 00:00 of the next day")
    return frame


def validate_budget(frame: pd.DataFrame, file: str = "budget.csv") -> pd.DataFrame:
    """Cross-row rules of ``budget``: none beyond the key (platforms without funnel data keep their budget)."""
    return frame


def load_traffic(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the hourly traffic table (timestamp/platform/source/visitors)."""
    return load_table(path, CONTRACTS["traffic"], tz=tz, data_root=data_root)


def load_funnel(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the hourly funnel table (timestamp/platform/views/add_to_cart/orders); each step <= the one before."""
    return load_table(path, CONTRACTS["funnel"], tz=tz, data_root=data_root)


def load_audience(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the 12-hourly audience table (timestamp/platform/segment/visitors)."""
    return load_table(path, CONTRACTS["audience"], tz=tz, data_root=data_root)


def load_budget(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the ad budget table (platform/daily_budget)."""
    return load_table(path, CONTRACTS["budget"], tz=tz, data_root=data_root)
