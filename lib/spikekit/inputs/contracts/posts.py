"""Table family of chapter 08: posts.csv.
"""
from __future__ import annotations

import pandas as pd

from ...core.errors import InputError

from .columns import CONTRACTS, COUNT_MAX, Column, Contract
from .loading import _file_rows, load_table


# --- posts (chapter 08) ---

POSTS = Contract(
    name="posts",
    description="One row per published content post (short video or note): where, what format, and how it did.",
    columns=(
        Column("post_id", "str", "Unique id of the post (as the platform or the content sheet names it)."),
        Column("timestamp", "timestamp", "END of the hour the post went out: 10:00 = published 09:00-10:00. A run uses "
               "a post once this is <= as_of (its counts are then taken as they stand in the file)."),
        Column("platform", "str", "Platform (e.g. 小红书, 抖音, 淘宝, 拼多多, 微信, 快手).", categorical=True),
        Column("format", "str", "Content format: scenario (the product in use), unboxing, testimonial.",
               allowed=("scenario", "unboxing", "testimonial"), categorical=True),
        Column("views", "int", "Views of the post so far.", non_negative=True, maximum=COUNT_MAX),
        Column("clicks", "int", "Clicks from the post to the product page; at most views.",
               non_negative=True, maximum=COUNT_MAX),
        Column("orders", "int", "Orders attributed to the post; at most clicks.",
               non_negative=True, maximum=COUNT_MAX),
    ),
    key=("post_id",),
)
CONTRACTS[POSTS.name] = POSTS


def validate_posts(frame: pd.DataFrame, file: str = "posts.csv") -> pd.DataFrame:
    """Cross-column rules of ``posts``: clicks <= views and orders <= clicks on every row."""
    over_views = frame["clicks"].to_numpy() > frame["views"].to_numpy()
    if over_views.any():
        raise InputError("clicks is above views: a click comes from someone who saw the post",
                         file=file, column="clicks", rows=_file_rows(frame, over_views),
                         fix="check the columns are not swapped and count views and clicks over the same period")
    over_clicks = frame["orders"].to_numpy() > frame["clicks"].to_numpy()
    if over_clicks.any():
        raise InputError("orders is above clicks: an attributed order comes through a click on the post",
                         file=file, column="orders", rows=_file_rows(frame, over_clicks),
                         fix="check the columns are not swapped; count only orders attributed to the post")
    return frame


def load_posts(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the content posts table (post_id/timestamp/platform/format/views/clicks/orders)."""
    return load_table(path, CONTRACTS["posts"], tz=tz, data_root=data_root)
