"""Sample scenarios whose truth is known: seeded, realistic input tables plus the answer key.

Every scenario tells one story about the same small shop and its 星空杯 (starry mug) idea, and writes
into ``data/samples/<name>/``:

- ``signals.csv``    hourly interaction / search counts per keyword x platform (the chapter 01 input);
- ``validation.csv`` the 48-hour validation test and the shop's usual baseline (the chapter 02 input);
- ``demand.csv``     the true demand curve in units per day (what no chapter can see directly);
- ``suppliers.csv``, ``stock.csv``, ``warehouses.csv``, ``lanes.csv``, ``regional_demand.csv``
  the shop's supply side (chapters 03-05): fixed, hand-checkable tables, plus the story's changes;
- ``urgent_orders.csv`` promised-time orders near a warehouse, drawn around true demand (chapter 05);
- ``sales.csv``      daily orders around true demand with a few discount days (chapter 06: decline, price response);
- ``traffic.csv``, ``funnel.csv``, ``audience.csv``, ``budget.csv`` the hourly data room (chapter 07): visitors
  per platform x source, the view -> cart -> order funnel built on those visitors, 12-hour audience mix, ad budget;
- ``posts.csv``      content posts per format x platform with views, clicks and orders (chapter 08);
- ``cash.csv``, ``settlement.csv``, ``supplier_terms.csv``, ``financing.csv`` the shop's money, the platforms'
  settlement terms, the suppliers' payment terms and the financing offers (chapter 09);
- ``orders.csv``, ``returns.csv``, ``tickets.csv``, ``faq.csv``, ``reviews.csv``, ``inspections.csv``,
  ``members.csv``, ``member_activity.csv`` after-sales and retention (chapters 11-12), 2025-01-15 to 2025-05-15:
  the spike product's orders (sales.csv's daily counts) and the shop's other products, shipping through a
  stock queue, returns from a logistic truth, tickets surging with the spike, reviews, QC rounds per batch,
  the community and its activity;
- ``truth.json``     the story, the dates that matter and the decisions the playbook should reach.

How the data are made, so a reader can check a test's expectation by hand:

- Interest on each platform follows a smooth rise-and-fall pulse (see `Pulse`) that leads true demand
  by a lag; 淘宝 searches move with demand itself. A series' expected hourly count is
  ``base level x hour-of-day profile x day-of-week profile x (1 + amplitude x pulse)``, times a
  mean-one day-to-day factor; counts are negative-binomial draws around it (overdispersed).
- Hourly rows are stamped at the END of the hour they count (the row ``10:00:00`` counts 09:00-10:00),
  so a row with timestamp <= as_of is complete at as_of. Daily baseline rows carry the date they
  count; poll invitations are stamped when sent, answers and design votes when the poll closed.
- Each table draws from its own random stream (scenario seed + table name), so adding a table later
  leaves the existing files byte-identical. To extend a scenario: add a ``make_<table>`` function,
  register it in `TABLE_MAKERS`, and add any story parameters to `Scenario`.

``python -m spikekit.samples`` regenerates the committed files; ``--check`` regenerates them into a
temporary folder and fails if anything differs. ``python -m spikekit.samples new NAME --seed N --shape S``
makes a further scenario of the same shop from a seed and a shape (`SHAPES`) under
``data/generated/<name>/``, with a spike file (see `new_scenario` and `create`). Output is byte-identical for the same seed on the same
numpy / scipy versions (numpy does not promise identical random streams across its releases: after an
upgrade that changes them, regenerate and commit).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import zlib
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from scipy.optimize import brentq, linprog

from .errors import ConfigError, SpikeError
from .paths import check_name, data_root as default_data_root, playbook_dir as default_playbook_dir, resolve_under

TIMEZONE = "Asia/Shanghai"
UTC_OFFSET = "+08:00"  # Asia/Shanghai has no daylight saving time, so one fixed offset is exact
SAMPLES_DIR = "samples"

# First and last hourly stamp of every signals.csv (local time, end-of-hour stamps).
DATA_START = np.datetime64("2025-01-15T00:00", "m")
DATA_END = np.datetime64("2025-03-31T23:00", "m")
HOUR = np.timedelta64(1, "h")
DAY = np.timedelta64(1, "D")

# Hourly rows are stamped at the END of the hour they count, so a row stamped at or before as_of is
# complete at as_of (time discipline), and the window (as_of - 48 h, as_of] holds exactly 48 rows.
# Set to False to stamp the start of the hour instead (then regenerate the files).
HOURLY_STAMP_AT_END = True
STAMP_SHIFT = HOUR if HOURLY_STAMP_AT_END else np.timedelta64(0, "h")  # stamp - start of counted hour

# A pulse "takes off" and "has faded" where it is at 5% of its peak.
TAKEOFF_LEVEL = 0.05

PLATFORMS = ("小红书", "抖音", "淘宝")
METRIC_BY_PLATFORM = {"小红书": "interactions", "抖音": "interactions", "淘宝": "searches"}
PRODUCT_KEYWORDS = ("星空杯", "星空咖啡杯")
SCENE_KEYWORDS = ("办公室仪式感",)  # scene + emotion words
CONTROL_KEYWORDS = ("马克杯",)  # steady everywhere, in every scenario
KEYWORD_GROUPS = {"office-ritual-starry": ["办公室仪式感", "星空杯", "星空咖啡杯"]}
DESIGNS = ("星空蓝", "银河紫", "极光绿", "晨曦粉", "夜幕黑")

# Normal hourly level of each series (same shop, same market in every scenario). 淘宝 办公室仪式感 is
# tiny on purpose: people search products on 淘宝, not moods, so most of its hours are zero.
BASE_PER_HOUR: dict[tuple[str, str], float] = {
    ("办公室仪式感", "小红书"): 25.0,
    ("办公室仪式感", "抖音"): 18.0,
    ("办公室仪式感", "淘宝"): 0.4,
    ("星空杯", "小红书"): 6.0,
    ("星空杯", "抖音"): 8.0,
    ("星空杯", "淘宝"): 4.0,
    ("星空咖啡杯", "小红书"): 2.5,
    ("星空咖啡杯", "抖音"): 2.0,
    ("星空咖啡杯", "淘宝"): 2.0,
    ("马克杯", "小红书"): 40.0,
    ("马克杯", "抖音"): 35.0,
    ("马克杯", "淘宝"): 30.0,
}


def _mean_one(values: tuple[float, ...]) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    return array / array.mean()


# Hour-of-day profiles (index = hour the count covers, 0 = 00:00-01:00). Social apps: quiet nights,
# a lunch bump and a late-evening peak; shopping: flatter daytime, evening peak.
SOCIAL_HOURS = _mean_one((0.45, 0.3, 0.2, 0.15, 0.12, 0.15, 0.3, 0.6, 0.9, 1.0, 1.0, 1.1,
                          1.35, 1.3, 1.0, 0.95, 1.0, 1.1, 1.3, 1.5, 1.75, 1.9, 1.75, 1.1))
SHOPPING_HOURS = _mean_one((0.5, 0.3, 0.18, 0.12, 0.1, 0.12, 0.25, 0.5, 0.8, 1.0, 1.15, 1.2,
                            1.1, 1.05, 1.1, 1.1, 1.05, 1.0, 1.05, 1.3, 1.6, 1.8, 1.7, 1.1))
# Day-of-week profiles, Monday first.
SOCIAL_WEEKDAYS = _mean_one((0.95, 0.93, 0.95, 0.97, 1.02, 1.12, 1.08))
SHOPPING_WEEKDAYS = _mean_one((1.0, 0.98, 0.98, 1.0, 1.02, 1.04, 1.0))

SIGNAL_DAY_SPREAD = 0.10  # sd of the log day-to-day factor of a series
SIGNAL_HOUR_SIZE = 6.0  # negative-binomial size of hourly signal counts (variance = m + m^2/size)
BASELINE_CART_SIZE = 8.0  # daily add-to-cart of a normal link: mean 20 -> sd about 8
TEST_CART_SIZE = 10.0  # hourly add-to-cart during the test
POLL_RATE_CONCENTRATION = 300.0  # past polls' participation varies around the usual rate (Beta)
POLL_SENT_AFTER_HOURS = 3  # the poll goes to the customer group at lunchtime, 3 h after the link is up
POLL_OPEN_HOURS = 24

# --------------------------------------------------------------------------------------------------
# The shop's supply side (chapters 03-05). The same shop in every scenario, so these tables are fixed
# and hand-checkable; a scenario changes only what its story needs (Scenario.supplier_news, stock,
# regional shares). Only urgent_orders is drawn at random.

SUPPLIER_COLUMNS = ("supplier", "tier", "min_order", "max_units", "material_units", "material_ready_day",
                    "daily_capacity", "lead_days", "unit_cost", "setup_cost", "reliability")
# Day numbers count from the order: day 1 = the first day after it. Material on hand limits cumulative
# production until material_ready_day (0 = material never limits).
SUPPLIERS: tuple[tuple, ...] = (
    # The handbook's tier A: small, fast orders. 杭州星辰陶瓷 is the best one: it takes up to 300 units
    # but its raw material arrives only on day 3.
    ("杭州星辰陶瓷", "A", 50, 300, 0, 3.0, 100, 1.0, 12.0, 300.0, 0.96),
    ("德化白瓷坊", "A", 30, 120, 120, 0.0, 40, 2.0, 14.5, 200.0, 0.94),
    ("宜兴陶艺工作室", "A", 20, 100, 100, 0.0, 30, 2.0, 16.0, 150.0, 0.97),
    # Tier B: larger orders, cheaper, slower. 潮州瓷都制品 has material for 100 units on hand now.
    ("潮州瓷都制品", "B", 100, 250, 100, 6.0, 80, 2.0, 11.5, 350.0, 0.91),
    ("醴陵釉下彩厂", "B", 100, 300, 0, 4.0, 120, 3.0, 10.5, 400.0, 0.89),
    ("淄博日用瓷", "B", 150, 300, 0, 5.0, 150, 3.0, 9.8, 450.0, 0.87),
    ("唐山骨瓷", "B", 100, 280, 0, 4.0, 100, 3.0, 11.0, 380.0, 0.90),
    ("景德镇青花窑", "B", 80, 200, 0, 5.0, 60, 2.0, 12.8, 300.0, 0.92),
    # Tier C: the regular bulk factory, a backup (its minimum order is more than it can make in 10 days).
    ("佛山大宗陶瓷", "C", 500, 3000, 0, 7.0, 150, 3.0, 8.2, 500.0, 0.85),
)
SUPPLY_RESERVE_SHARE = 0.30  # handbook checklist: keep 30% of capacity elastic
SUPPLY_HORIZON_DAYS = 10

REGIONS = ("华东", "华南", "华北", "华中", "西南")
# The shop's own warehouse ships 55 orders a day (two packers and a helper); the cloud warehouses are large but
# charge more per order (inbound transfer + fulfilment fee).
WAREHOUSES: tuple[tuple[str, str, str, int, float], ...] = (
    ("杭州主仓", "main", "杭州", 55, 1.5),
    ("广州云仓", "cloud", "广州", 250, 5.0),
    ("成都云仓", "cloud", "成都", 200, 5.0),
)
WAREHOUSE_REGION = {"杭州主仓": "华东", "广州云仓": "华南", "成都云仓": "西南"}  # where each one is
# (cost per order in yuan, delivery days) by warehouse and region: by distance.
LANES: dict[str, dict[str, tuple[float, float]]] = {
    "杭州主仓": {"华东": (4.5, 1.0), "华中": (6.0, 2.0), "华南": (7.5, 2.0), "华北": (8.0, 2.0), "西南": (9.5, 3.0)},
    "广州云仓": {"华南": (4.5, 1.0), "华中": (6.5, 2.0), "华东": (7.5, 2.0), "西南": (7.5, 2.0), "华北": (10.5, 3.0)},
    "成都云仓": {"西南": (4.5, 1.0), "华中": (7.0, 2.0), "华南": (8.0, 2.0), "华北": (9.0, 3.0), "华东": (10.0, 3.0)},
}
# Before the spike everything shipped from 杭州: its lane cost plus its handling cost.
NORMAL_COST_PER_ORDER = {region: LANES["杭州主仓"][region][0] + WAREHOUSES[0][4] for region in REGIONS}
DEFAULT_REGIONAL_SHARES = (("华东", 0.38), ("华南", 0.22), ("华北", 0.18), ("华中", 0.12), ("西南", 0.10))

STOCK_UNIT_COST = 12.0  # yuan, what the best A supplier charges
STOCK_HOLDING_COST_PER_DAY = 0.05  # yuan per unit per day (shelf space, capital)
STOCK_SALVAGE_VALUE = 6.0  # yuan per unit cleared after the spike

# Urgent orders: orders from the three warehouse cities and their surroundings that carry a delivery
# promise (当日达 / 次日达). They follow true demand and the shopping hours.
URGENT_SHARE = 0.30  # share of all orders
URGENT_NEAR_KM = (1.0, 15.0)  # in the city
URGENT_FAR_KM = (15.0, 40.0)  # nearby towns
URGENT_IN_CITY_SHARE = 0.6
URGENT_PROMISES = ((4.0, 0.2), (6.0, 0.3), (12.0, 0.3), (24.0, 0.2))  # promised hours, probability
COURIER_BASE, COURIER_PER_KM = 6.0, 1.0  # crowdsourced courier quote, yuan, before surge
EVENING_SURGE = 1.2  # courier quotes rise 20% from 18:00 to 22:00

# --------------------------------------------------------------------------------------------------
# Chapters 06 (exit) and 07 (hourly data room)

# sales.csv: one row per calendar day of the data range, stamped at the END of the day it counts
# (`2025-03-10 00:00:00` counts 03-09). Orders are negative-binomial around
# true demand x shopping weekday x (price / base price) ^ elasticity.
SALES_DAY_SIZE = 50.0  # negative-binomial size of daily orders: 100 a day -> sd about 17
DECLINE_DROP, DECLINE_DAYS = 0.15, 3  # handbook: search volume down more than 15% for 3 days in a row
DECLINE_SMOOTHINGS = {  # name -> trailing window in days (0 = the plain daily total)
    "none": 0, "trailing_3_day_mean": 3, "trailing_7_day_mean": 7, "same_weekday_last_week": -7}

# The data room's six platforms, each with its hourly visitors before the spike, the interest wave it
# follows (a platform without a wave in the scenario follows true demand), its hour-of-day profile and the
# share of visitors from each traffic source (推荐 recommendation feed, 搜索 search, 直播 live, 广告 ads).
DATA_ROOM_PLATFORMS = ("小红书", "抖音", "淘宝", "拼多多", "微信", "快手")
TRAFFIC_SOURCES = ("推荐", "搜索", "直播", "广告")
TRAFFIC_PLATFORMS: dict[str, tuple[float, str, str, tuple[float, float, float, float]]] = {
    "小红书": (20.0, "小红书", "social", (0.55, 0.30, 0.05, 0.10)),
    "抖音": (25.0, "抖音", "social", (0.45, 0.10, 0.30, 0.15)),
    "淘宝": (20.0, "淘宝", "shopping", (0.25, 0.50, 0.10, 0.15)),
    "拼多多": (12.0, "淘宝", "shopping", (0.35, 0.40, 0.05, 0.20)),
    "微信": (6.0, "小红书", "social", (0.70, 0.10, 0.10, 0.10)),
    "快手": (10.0, "抖音", "social", (0.45, 0.10, 0.35, 0.10)),
}
# Live streams run in the evening whatever the platform.
LIVE_HOURS = _mean_one((0.3, 0.15, 0.05, 0.03, 0.03, 0.03, 0.05, 0.1, 0.3, 0.6, 0.8, 0.8,
                        0.7, 0.7, 0.8, 0.9, 1.0, 1.1, 1.4, 2.0, 2.6, 2.8, 2.4, 1.1))
TRAFFIC_HOUR_SIZE = 20.0  # negative-binomial size of hourly visitors per platform x source
DATA_ROOM_DAYS_AFTER_AS_OF = 7  # the data room runs from the validation start to default_as_of + 7 days
# (cart / view, order / view) per platform when a scenario does not say otherwise: all alike.
DEFAULT_FUNNEL_RATES = tuple((platform, 0.10, 0.030) for platform in DATA_ROOM_PLATFORMS)
AUDIENCE_SEGMENTS = ("女 18-24", "女 25-35", "女 36+", "男 18-24", "男 25-35", "男 36+")
AUDIENCE_WINDOW_HOURS = 12  # audience rows are stamped at 00:00 and 12:00, each counting the 12 h before
AUDIENCE_MIX: dict[str, tuple[float, ...]] = {  # share of visitors per segment, AUDIENCE_SEGMENTS order
    "小红书": (0.25, 0.40, 0.12, 0.08, 0.10, 0.05),
    "抖音": (0.30, 0.25, 0.10, 0.15, 0.12, 0.08),
    "淘宝": (0.20, 0.30, 0.15, 0.10, 0.15, 0.10),
    "拼多多": (0.15, 0.25, 0.20, 0.10, 0.12, 0.18),
    "微信": (0.15, 0.30, 0.20, 0.10, 0.12, 0.13),
    "快手": (0.18, 0.22, 0.15, 0.15, 0.15, 0.15),
}
DEFAULT_AD_BUDGET = (("小红书", 2000.0), ("抖音", 3000.0), ("淘宝", 2500.0), ("拼多多", 1500.0),
                     ("微信", 500.0), ("快手", 1000.0))  # yuan of ads per day
HANDBOOK_MOVE_SHARE = 0.30  # handbook: move 30% of the poor platform's budget

# --------------------------------------------------------------------------------------------------
# Chapters 08 (content line) and 09 (cash flow)

# posts.csv: content posts from the validation start to default_as_of + 7 days (the data room's period).
POST_FORMATS = ("scenario", "unboxing", "testimonial")
# A post's expected views: the platform's usual post size x (1 + POST_WAVE_SHARE x traffic_amplitude x the
# platform's traffic pulse at the hour it went out); actual views are log-normal around that.
POST_BASE_VIEWS = {"小红书": 1500.0, "抖音": 4000.0, "淘宝": 1000.0, "拼多多": 700.0, "微信": 500.0, "快手": 2000.0}
POST_WAVE_SHARE = 0.2
POST_VIEW_SPREAD = 0.5  # sd of log views
POST_CLICK_RATE = {"scenario": 0.030, "unboxing": 0.040, "testimonial": 0.045}  # clicks / view by format
# Orders / click on a platform whose funnel converts the data room's usual 3% of views; other platforms in
# proportion to their funnel conversion (so 拼多多 stays poor in starry-mug).
POST_ORDERS_PER_CLICK = 0.20
POST_USUAL_CONVERSION = 0.030
POSTS_PER_CELL = 2  # every format x platform cell gets two posts; the rest fall on cells by chance
LUCKY_POST = (150, 9, 4)  # views, clicks, orders of the one small post in the scenario's lucky cell

# cash.csv / settlement.csv / supplier_terms.csv / financing.csv: the same shop in every scenario unless a
# story says otherwise.
CASH_ITEMS = ("cash_on_hand", "cash_floor", "other_products_budget")
DEFAULT_CASH = (("cash_on_hand", 20000.0), ("cash_floor", 5000.0), ("other_products_budget", 8000.0))
# platform -> (lag_days from sale to cash, fee_share, refund_share)
SETTLEMENT: dict[str, tuple[int, float, float]] = {
    "小红书": (14, 0.05, 0.05), "抖音": (10, 0.05, 0.06), "淘宝": (7, 0.05, 0.04),
    "拼多多": (5, 0.01, 0.08), "微信": (7, 0.01, 0.03), "快手": (10, 0.05, 0.06),
}
# supplier -> (deposit_share paid with the order, balance_days after delivery). The handbook's terms (30%
# down, balance 7 days after delivery) for the A suppliers and the B supplier chapter 03 uses; the others vary.
SUPPLIER_TERMS: dict[str, tuple[float, int]] = {
    "杭州星辰陶瓷": (0.30, 7), "德化白瓷坊": (0.30, 7), "宜兴陶艺工作室": (0.30, 7), "潮州瓷都制品": (0.30, 7),
    "醴陵釉下彩厂": (0.40, 10), "淄博日用瓷": (0.30, 15), "唐山骨瓷": (0.50, 7), "景德镇青花窑": (0.30, 10),
    "佛山大宗陶瓷": (0.20, 30),
}
# offer, kind, limit (yuan), fee_share, term_days, rate_annual
FINANCING: tuple[tuple[str, str, float, float, int, float], ...] = (
    ("银行采购贷", "purchase_loan", 15000.0, 0.0, 30, 0.18),  # 1.5% a month on confirmed purchase orders
    ("平台应收提前回款", "receivable_advance", 10000.0, 0.01, 7, 0.0),  # 1% fee per 7 days advanced
    ("预售7天9折", "presale", 6000.0, 0.10, 7, 0.0),  # 10% off for customers who pay 7 days ahead
    ("网贷周转", "purchase_loan", 8000.0, 0.01, 30, 0.30),  # fast online credit: dearer
)
CASH_HORIZON_DAYS = 21
CASH_GAP_TOLERANCE_DAYS = 2


@dataclass(frozen=True)
class AudienceShift:
    """From ``at`` on (local 'YYYY-MM-DD HH:MM', a 00:00 or 12:00 window start), ``segment`` makes up
    ``to_share`` of ``platform``'s visitors instead of ``from_share``; the other segments shrink in
    proportion."""

    platform: str
    segment: str
    from_share: float
    to_share: float
    at: str


# --------------------------------------------------------------------------------------------------
# Time helpers (naive local time in Asia/Shanghai, minute resolution)


def _when(text: str) -> np.datetime64:
    return np.datetime64(text.replace(" ", "T"), "m")


def _days(when) -> np.ndarray | float:
    """Days since DATA_START (float), for arrays or scalars."""
    return (np.asarray(when, dtype="datetime64[m]") - DATA_START) / DAY


def _iso(when: np.datetime64) -> str:
    return str(np.datetime64(when, "s")) + UTC_OFFSET


def _stamp_text(stamps: np.ndarray) -> list[str]:
    return [text.replace("T", " ") for text in np.datetime_as_string(stamps.astype("datetime64[s]"))]


def _weekday(dates: np.ndarray) -> np.ndarray:
    """Monday = 0 (1970-01-01 was a Thursday)."""
    return (dates.astype("datetime64[D]").astype(np.int64) + 3) % 7


def hourly_stamps() -> np.ndarray:
    """The hourly stamps of signals.csv (end of each counted hour)."""
    return np.arange(DATA_START, DATA_END + HOUR, HOUR)


def _hour_parts(stamps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For hourly stamps: (mid-hour in days, hour of day, weekday, date) of the counted hour."""
    covered = stamps - STAMP_SHIFT
    dates = covered.astype("datetime64[D]")
    hour_of_day = ((covered - dates) // HOUR).astype(np.int64)
    return _days(covered) + 1.0 / 48.0, hour_of_day, _weekday(dates), dates


# --------------------------------------------------------------------------------------------------
# The story's building blocks


def _pulse_shape(delta_days, up: float, down: float):
    log_value = math.log(up + down) - np.logaddexp(math.log(down) - up * np.asarray(delta_days),
                                                   math.log(up) + down * np.asarray(delta_days))
    return np.exp(log_value)


@dataclass(frozen=True)
class Pulse:
    """A smooth rise and fall, like the adoption rate of a diffusion (Bass-type) curve.

    g(t) = (u + d) / (d * exp(-u * x) + u * exp(d * x)),  x = days since ``peak``;
    g rises like exp(u * x), has a rounded top g(peak) = 1 and decays like exp(-d * x). The rates u and
    d are solved so that g = TAKEOFF_LEVEL (5% of the peak) exactly at ``takeoff`` and at ``fade``:
    the story is told in dates, the curve follows. Times are local 'YYYY-MM-DD HH:MM'.
    """

    takeoff: str
    peak: str
    fade: str

    @cached_property
    def rates(self) -> tuple[float, float]:
        rise = float((_when(self.peak) - _when(self.takeoff)) / DAY)
        fall = float((_when(self.fade) - _when(self.peak)) / DAY)
        if rise <= 0 or fall <= 0:
            raise ConfigError(f"pulse needs takeoff < peak < fade, got {self}")
        up = down = math.log(1 / TAKEOFF_LEVEL)
        up, down = up / rise, down / fall
        for _ in range(200):  # alternate two 1-D solves; converges in a few rounds
            new_up = brentq(lambda u: _pulse_shape(-rise, u, down) - TAKEOFF_LEVEL, 1e-6, 100.0, xtol=1e-14)
            new_down = brentq(lambda d: _pulse_shape(fall, new_up, d) - TAKEOFF_LEVEL, 1e-6, 100.0, xtol=1e-14)
            done = abs(new_up - up) < 1e-13 and abs(new_down - down) < 1e-13
            up, down = new_up, new_down
            if done:
                break
        return up, down

    def shape(self, days) -> np.ndarray:
        """g at times given in days since DATA_START."""
        up, down = self.rates
        return _pulse_shape(np.asarray(days, dtype=float) - float(_days(_when(self.peak))), up, down)


@dataclass(frozen=True)
class Waves:
    """Several pulses added up: shape = sum of height x pulse. A scenario's ``demand`` (or a platform's
    interest) may be a Waves where its story has more than one wave (the ``double`` shape: a first bump,
    then a bigger second wave). Heights are relative: the scenario's peak extra is the height-1 wave's.

    ``takeoff`` is the earliest wave's, ``fade`` the latest's and ``peak`` the tallest wave's, so code that
    reads a single pulse's dates reads the story's whole span and its main peak.
    """

    pulses: tuple[Pulse, ...]
    heights: tuple[float, ...]

    def __post_init__(self):
        if not self.pulses or len(self.pulses) != len(self.heights) or min(self.heights) <= 0:
            raise ConfigError(f"waves need one positive height per pulse, got {self.heights} for "
                              f"{len(self.pulses)} pulses")

    @property
    def takeoff(self) -> str:
        return min(pulse.takeoff for pulse in self.pulses)

    @property
    def peak(self) -> str:
        return self.pulses[int(np.argmax(self.heights))].peak

    @property
    def fade(self) -> str:
        return max(pulse.fade for pulse in self.pulses)

    def shape(self, days) -> np.ndarray:
        total = np.zeros(np.shape(days))
        for pulse, height in zip(self.pulses, self.heights):
            total = total + height * pulse.shape(days)
        return total


@dataclass(frozen=True)
class Burst:
    """A one-off jump of one series (a single viral post): the calendar day ``day`` totals
    ``day_ratio`` times its normal level; the jump's hourly shape is ``pulse``."""

    keyword: str
    platform: str
    day: str
    day_ratio: float
    pulse: Pulse


@dataclass(frozen=True)
class Scenario:
    """The story parameters of one scenario (all times local Asia/Shanghai, 'YYYY-MM-DD HH:MM')."""

    name: str
    story: str
    seed: int
    real_trend: bool
    # Chapter 01: interest. Timing of the interest wave per platform, and the size of the wave per
    # series (trend part at its peak, as a multiple of the series' base level; absent = steady).
    interest: dict[str, Pulse | Waves]
    amplitude: dict[tuple[str, str], float]
    bursts: tuple[Burst, ...]
    # True demand (units/day) = base + extra at peak x demand pulse (a Waves for a second demand wave).
    demand: Pulse | Waves
    demand_peak_extra_per_day: float
    # Chapter 02: the 48-hour validation.
    validation_start: str
    cart_lift_24h: float  # expected add-to-cart in the first 24 h / usual daily add-to-cart
    poll_rate: float  # participation in the validation poll
    design_preference: dict[str, float]  # share of voters preferring each design
    # What the playbook should conclude.
    decision: str
    winning_design: str | None
    first_alert_not_before: str | None
    first_alert_no_later_than: str | None
    # Shop constants (same in every scenario unless a story says otherwise).
    demand_base_per_day: float = 8.0
    validation_hours: int = 48
    baseline_days: int = 28
    baseline_cart_mean: float = 20.0
    usual_poll_rate: float = 0.12
    poll_invited: int = 500
    past_poll_days_before: tuple[int, ...] = (52, 31, 10)
    presale_share: float = 0.3  # share of add-to-carts that become pre-sale orders
    # Chapters 03-05: the product's stock line, where buyers are, supplier news, urgent-order days.
    sku: str = "starry-mug"
    price: float = 49.0
    stock_on_hand: int = 40
    regional_shares: tuple[tuple[str, float], ...] = DEFAULT_REGIONAL_SHARES
    supplier_news: tuple[tuple[str, str, float], ...] = ()  # (supplier, column, new value)
    urgent_days: int = 6  # urgent orders from the validation start for this many days
    # Chapter 06: price changes in sales.csv (date, discount off the base price) and the true price response.
    price_changes: tuple[tuple[str, float], ...] = ()
    price_elasticity: float = -2.0
    # Chapter 07: size of the traffic wave (at a pulse's peak, as a multiple of the normal level), the funnel
    # per platform (platform, cart / view, order / view), which platforms convert credibly worse / better,
    # the audience shift and the ad budget.
    traffic_amplitude: float = 15.0
    funnel_rates: tuple[tuple[str, float, float], ...] = DEFAULT_FUNNEL_RATES
    poor_platform: str | None = None
    strong_platform: str | None = None
    audience_shift: AudienceShift | None = None
    ad_budget: tuple[tuple[str, float], ...] = DEFAULT_AD_BUDGET
    # Chapter 08: number of posts, the best format x platform cell (order / click x content_best_boost) and the
    # lucky cell, which holds only LUCKY_POST (a high raw rate on few views; its true rate is ordinary).
    posts_total: int = 60
    content_best: tuple[str, str] | None = None  # (format, platform)
    content_best_boost: float = 1.6
    lucky_cell: tuple[str, str] | None = None  # (format, platform)
    # Chapter 09: the shop's money, the purchase orders chapter 03 places at default as_of (supplier, units, cost
    # in yuan, last arrival day), and what the product's ads cost per day in the cash projection.
    cash: tuple[tuple[str, float], ...] = DEFAULT_CASH
    planned_purchases: tuple[tuple[str, int, float, int], ...] = ()
    product_ad_spend_per_day: float = 0.0
    # Scenarios made on demand (`new_scenario`): the shape they were drawn from, the drawn parameters (for
    # the answer key) and their after-sales story (the built-in samples keep theirs in AFTERSALES).
    shape: str | None = None
    draws: tuple[tuple[str, object], ...] = ()
    aftersales: AfterSales | None = None

    @property
    def validation_window(self) -> tuple[np.datetime64, np.datetime64]:
        start = _when(self.validation_start)
        return start, start + self.validation_hours * HOUR

    @property
    def trending_series(self) -> list[tuple[str, str]]:
        return [key for key, size in self.amplitude.items() if size > 0]


# --------------------------------------------------------------------------------------------------
# The three scenarios

_SPREAD_VOTES = {"星空蓝": 0.21, "银河紫": 0.20, "极光绿": 0.20, "晨曦粉": 0.20, "夜幕黑": 0.19}

SCENARIOS: dict[str, Scenario] = {
    "starry-mug": Scenario(
        name="starry-mug",
        story=(
            "The handbook's 星空咖啡杯 case. From 2025-03-01 小红书 posts about 办公室仪式感 (office "
            "ritual) with starry mugs take off and grow several-fold week over week; 抖音 follows from "
            "2025-03-04; 淘宝 searches for 星空杯 / 星空咖啡杯 move with sales. True demand peaks on "
            "2025-03-14 and has faded by 2025-03-23. The 48-hour validation from 2025-03-07 10:00 sees "
            "add-to-cart about 10x the usual daily level in its first 24 hours, 27% poll participation "
            "against the usual 12%, and 星空蓝 winning the design vote clearly: go. The early warning "
            "must fire by 2025-03-09, five days before the peak."
        ),
        seed=20250301,
        real_trend=True,
        interest={
            "小红书": Pulse("2025-03-01 00:00", "2025-03-09 12:00", "2025-03-19 00:00"),
            "抖音": Pulse("2025-03-04 00:00", "2025-03-11 12:00", "2025-03-20 00:00"),
            "淘宝": Pulse("2025-03-05 00:00", "2025-03-14 12:00", "2025-03-23 00:00"),
        },
        amplitude={
            ("办公室仪式感", "小红书"): 18.0,
            ("星空杯", "小红书"): 20.0,
            ("星空咖啡杯", "小红书"): 16.0,
            ("星空杯", "抖音"): 12.0,
            ("办公室仪式感", "抖音"): 6.0,
            ("星空咖啡杯", "抖音"): 10.0,
            ("星空杯", "淘宝"): 14.0,
            ("星空咖啡杯", "淘宝"): 16.0,
        },
        bursts=(),
        demand=Pulse("2025-03-05 00:00", "2025-03-14 12:00", "2025-03-23 00:00"),
        demand_peak_extra_per_day=420.0,
        validation_start="2025-03-07 10:00",
        cart_lift_24h=10.0,
        poll_rate=0.27,
        design_preference={"星空蓝": 0.44, "银河紫": 0.19, "极光绿": 0.14, "晨曦粉": 0.13, "夜幕黑": 0.10},
        decision="go",
        winning_design="星空蓝",
        first_alert_not_before="2025-03-02 00:00",  # one day after the first takeoff
        first_alert_no_later_than="2025-03-09 12:00",  # peak - 5 days
        sku="starry-mug-blue",  # 星空蓝 won the vote
        price=49.0,
        stock_on_hand=40,
        # Once the decline is clear (noise-free trigger 2025-03-18) the shop tries discounts on every other
        # day, so the price response can be told apart from the falling trend.
        price_changes=(("2025-03-19", 0.10), ("2025-03-21", 0.20), ("2025-03-23", 0.30), ("2025-03-25", 0.20),
                       ("2025-03-27", 0.30)),
        # The handbook's data-room case: 拼多多 converts 1.2% against about 3% elsewhere, 抖音 4.1%.
        funnel_rates=(("小红书", 0.10, 0.030), ("抖音", 0.12, 0.041), ("淘宝", 0.11, 0.033),
                      ("拼多多", 0.10, 0.012), ("微信", 0.09, 0.031), ("快手", 0.10, 0.028)),
        poor_platform="拼多多",
        strong_platform="抖音",
        # Office workers find the mug: 女 25-35 on 小红书 from 40% to 65%, first seen in the window that
        # closes at the default as_of.
        audience_shift=AudienceShift("小红书", "女 25-35", 0.40, 0.65, "2025-03-09 00:00"),
        # Testimonials on 抖音 sell best; one small 微信 unboxing post got lucky (4 orders from 150 views).
        posts_total=66,
        content_best=("testimonial", "抖音"),
        lucky_cell=("unboxing", "微信"),
        # Chapter 03's order at default as_of (9,127 yuan) and 1,300 yuan of ads a day for the product: with
        # 30% deposits and the platforms' settlement lags, cash falls below the floor about a week later.
        planned_purchases=(("宜兴陶艺工作室", 38, 758.0, 4), ("德化白瓷坊", 72, 1244.0, 5),
                           ("杭州星辰陶瓷", 300, 3900.0, 8), ("潮州瓷都制品", 250, 3225.0, 10)),
        product_ad_spend_per_day=1300.0,
    ),
    "false-alarm": Scenario(
        name="false-alarm",
        story=(
            "Nothing is really happening. Every series is steady except 抖音 星空杯, where a single viral "
            "post makes 2025-03-05 about 10 times a normal day; the next day it is back to normal. "
            "Demand barely moves. The validation from 2025-03-06 10:00 sees add-to-cart about 1.3x the "
            "usual level, 13% poll participation against 12%, and votes spread over the five designs: "
            "no-go. A good early warning raises no alert."
        ),
        seed=20250305,
        real_trend=False,
        interest={},
        amplitude={},
        bursts=(
            Burst("星空杯", "抖音", day="2025-03-05", day_ratio=10.0,
                  pulse=Pulse("2025-03-05 07:00", "2025-03-05 13:00", "2025-03-05 23:30")),
        ),
        demand=Pulse("2025-03-05 10:00", "2025-03-06 08:00", "2025-03-07 18:00"),
        demand_peak_extra_per_day=4.0,
        validation_start="2025-03-06 10:00",
        cart_lift_24h=1.3,
        poll_rate=0.13,
        design_preference=_SPREAD_VOTES,
        decision="no-go",
        winning_design=None,
        first_alert_not_before=None,
        first_alert_no_later_than=None,
        sku="starry-mug-classic",  # no design won
        price=49.0,
        stock_on_hand=60,
        regional_shares=(("华东", 0.34), ("华南", 0.20), ("华北", 0.20), ("华中", 0.14), ("西南", 0.12)),
        # Traffic barely moves (like demand: +50% at the top of the small bump); the price never changes,
        # every platform converts alike and the audience holds still.
        traffic_amplitude=0.5,
        # Few posts, every format alike; no purchase orders (no-go) and no product ads: no cash gap.
        posts_total=40,
    ),
    "fast-fade": Scenario(
        name="fast-fade",
        story=(
            "A real but short spike. From 2025-03-01 interest rises steeply on 小红书 and 抖音 at once; "
            "true demand peaks on 2025-03-06 and is gone by 2025-03-09 (a life under 9 days). The "
            "validation from 2025-03-03 10:00 is strong (about 8x add-to-cart in 24 hours, 26% poll "
            "participation, 银河紫 ahead): go. The early warning must fire between 2025-03-02 and the "
            "peak; the later chapters must get out in time."
        ),
        seed=20250306,
        real_trend=True,
        interest={
            "小红书": Pulse("2025-03-01 00:00", "2025-03-04 00:00", "2025-03-07 00:00"),
            "抖音": Pulse("2025-03-01 00:00", "2025-03-04 06:00", "2025-03-07 06:00"),
            "淘宝": Pulse("2025-03-02 00:00", "2025-03-06 12:00", "2025-03-09 00:00"),
        },
        amplitude={
            ("星空杯", "小红书"): 22.0,
            ("办公室仪式感", "小红书"): 12.0,
            ("星空咖啡杯", "小红书"): 16.0,
            ("星空杯", "抖音"): 22.0,
            ("星空咖啡杯", "抖音"): 16.0,
            ("办公室仪式感", "抖音"): 8.0,
            ("星空杯", "淘宝"): 12.0,
            ("星空咖啡杯", "淘宝"): 14.0,
        },
        bursts=(),
        demand=Pulse("2025-03-02 00:00", "2025-03-06 12:00", "2025-03-09 00:00"),
        demand_peak_extra_per_day=260.0,
        validation_start="2025-03-03 10:00",
        cart_lift_24h=8.0,
        poll_rate=0.26,
        design_preference={"银河紫": 0.45, "星空蓝": 0.22, "极光绿": 0.12, "晨曦粉": 0.11, "夜幕黑": 0.10},
        decision="go",
        winning_design="银河紫",
        first_alert_not_before="2025-03-02 00:00",
        first_alert_no_later_than="2025-03-06 12:00",  # the demand peak
        sku="starry-mug-purple",  # 银河紫 won the vote
        price=45.0,
        stock_on_hand=30,
        # 抖音 spreads the spike more evenly over the country.
        regional_shares=(("华东", 0.30), ("华南", 0.25), ("华北", 0.17), ("华中", 0.14), ("西南", 0.14)),
        # Everyone chases the same trend: glaze material is scarce, the best A supplier waits a day longer,
        # while 潮州瓷都制品 happens to hold more.
        supplier_news=(("杭州星辰陶瓷", "material_ready_day", 4.0), ("潮州瓷都制品", "material_units", 150)),
        # Discounts after the decline (noise-free trigger 2025-03-09), when only base demand is left.
        price_changes=(("2025-03-10", 0.10), ("2025-03-12", 0.20), ("2025-03-15", 0.10), ("2025-03-17", 0.20)),
        # 快手 converts poorly (1.5%), 小红书 well (4.0%).
        funnel_rates=(("小红书", 0.11, 0.040), ("抖音", 0.10, 0.030), ("淘宝", 0.10, 0.032),
                      ("拼多多", 0.10, 0.028), ("微信", 0.10, 0.030), ("快手", 0.09, 0.015)),
        poor_platform="快手",
        strong_platform="小红书",
        # Students pile in from 抖音: 女 18-24 from 30% to 50%.
        audience_shift=AudienceShift("抖音", "女 18-24", 0.30, 0.50, "2025-03-05 00:00"),
        # Unboxings on 小红书 sell best; one small 快手 scenario post got lucky on the poorly converting platform.
        posts_total=54,
        content_best=("unboxing", "小红书"),
        lucky_cell=("scenario", "快手"),
        # Chapter 03's order (8,563 yuan) and only 800 yuan of ads a day for a short spike: no cash gap.
        planned_purchases=(("宜兴陶艺工作室", 42, 822.0, 4), ("德化白瓷坊", 56, 1012.0, 4),
                           ("杭州星辰陶瓷", 267, 3504.0, 8), ("潮州瓷都制品", 250, 3225.0, 9)),
        product_ad_spend_per_day=800.0,
    ),
}


def get_scenario(name: str) -> Scenario:
    if name not in SCENARIOS:
        raise ConfigError(f"unknown sample scenario {name!r}. Fix: use one of {', '.join(SCENARIOS)}")
    return SCENARIOS[name]


def _rng(seed: int, table: str) -> np.random.Generator:
    """One random stream per table, so adding a table never changes the others' draws."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(zlib.crc32(table.encode()),)))


def _nb_draw(rng: np.random.Generator, mean: np.ndarray, size: float) -> np.ndarray:
    """Negative-binomial counts with the given means (variance = mean + mean^2 / size)."""
    mean = np.asarray(mean, dtype=float)
    return rng.negative_binomial(size, size / (size + mean)).astype(np.int64)


# --------------------------------------------------------------------------------------------------
# Expected curves (no noise): also what the tests check the data against


def expected_signals(scenario: Scenario) -> dict[tuple[str, str], np.ndarray]:
    """Expected hourly count of every series at `hourly_stamps()`, before day-to-day noise."""
    stamps = hourly_stamps()
    mid, hour_of_day, weekday, dates = _hour_parts(stamps)
    means: dict[tuple[str, str], np.ndarray] = {}
    for (keyword, platform), base in BASE_PER_HOUR.items():
        shopping = platform == "淘宝"
        hours = SHOPPING_HOURS if shopping else SOCIAL_HOURS
        weekdays = SHOPPING_WEEKDAYS if shopping else SOCIAL_WEEKDAYS
        mean = base * hours[hour_of_day] * weekdays[weekday]
        size = scenario.amplitude.get((keyword, platform), 0.0)
        if size > 0:
            mean = mean * (1.0 + size * scenario.interest[platform].shape(mid))
        for burst in scenario.bursts:
            if (burst.keyword, burst.platform) == (keyword, platform):
                mean = mean * (1.0 + _burst_size(burst, mean, mid, dates) * burst.pulse.shape(mid))
        means[(keyword, platform)] = mean
    return means


def _burst_size(burst: Burst, mean: np.ndarray, mid: np.ndarray, dates: np.ndarray) -> float:
    """Peak size of the burst so that its day totals ``day_ratio`` times the day without it."""
    on_day = dates == np.datetime64(burst.day, "D")
    normal = mean[on_day].sum()
    extra = (mean[on_day] * burst.pulse.shape(mid[on_day])).sum()
    return (burst.day_ratio - 1.0) * normal / extra


def demand_rate(scenario: Scenario, days) -> np.ndarray:
    """True demand rate (units per day) at times given in days since DATA_START."""
    return scenario.demand_base_per_day + scenario.demand_peak_extra_per_day * scenario.demand.shape(days)


# --------------------------------------------------------------------------------------------------
# Tables (one function per table; each returns the frame exactly as written)


def make_signals(scenario: Scenario, rng: np.random.Generator) -> pd.DataFrame:
    """signals.csv: keyword, platform, timestamp, value, metric; hourly, sorted by series then time."""
    stamps = hourly_stamps()
    _, _, _, dates = _hour_parts(stamps)
    day_index = (dates - dates[0]).astype(np.int64)
    stamp_text = _stamp_text(stamps)
    means = expected_signals(scenario)
    frames = []
    # Draw in the fixed BASE_PER_HOUR order (the random stream), write in sorted order.
    drawn = {}
    for key, mean in means.items():
        day_factor = np.exp(rng.normal(-SIGNAL_DAY_SPREAD**2 / 2, SIGNAL_DAY_SPREAD, day_index[-1] + 1))
        drawn[key] = _nb_draw(rng, mean * day_factor[day_index], SIGNAL_HOUR_SIZE)
    for keyword, platform in sorted(drawn):
        frames.append(pd.DataFrame({
            "keyword": keyword,
            "platform": platform,
            "timestamp": stamp_text,
            "value": drawn[(keyword, platform)],
            "metric": METRIC_BY_PLATFORM[platform],
        }))
    return pd.concat(frames, ignore_index=True)


def make_validation(scenario: Scenario, rng: np.random.Generator) -> pd.DataFrame:
    """validation.csv: timestamp, metric, count, phase, design (see the module docstring for stamps)."""
    rows: list[tuple[np.datetime64, str, int, str, str]] = []
    start, end = scenario.validation_window
    start_day = start.astype("datetime64[D]")

    # Baseline: daily add-to-cart of a normal new product link over the days before the test.
    days = start_day - np.arange(scenario.baseline_days, 0, -1) * DAY
    day_means = scenario.baseline_cart_mean * SHOPPING_WEEKDAYS[_weekday(days)]
    for day, count in zip(days, _nb_draw(rng, day_means, BASELINE_CART_SIZE)):
        rows.append((day.astype("datetime64[m]"), "add_to_cart", int(count), "baseline", ""))
    # Baseline: past polls of the customer group (participation varies a little around the usual rate).
    for days_before in scenario.past_poll_days_before:
        sent = (start_day - days_before * DAY).astype("datetime64[m]") + 13 * HOUR
        invited = scenario.poll_invited + int(rng.integers(-30, 31))
        rate = rng.beta(scenario.usual_poll_rate * POLL_RATE_CONCENTRATION,
                        (1 - scenario.usual_poll_rate) * POLL_RATE_CONCENTRATION)
        rows.append((sent, "poll_invited", invited, "baseline", ""))
        rows.append((sent + POLL_OPEN_HOURS * HOUR, "poll_participated", int(rng.binomial(invited, rate)),
                     "baseline", ""))

    # Test: hourly add-to-cart and pre-sale orders (zero hours kept), shaped by true demand and the
    # shopping hours, scaled so the first 24 h hold cart_lift_24h x the usual daily add-to-cart.
    stamps, cart_means = expected_test_carts(scenario)
    carts = _nb_draw(rng, cart_means, TEST_CART_SIZE)
    orders = rng.binomial(carts, scenario.presale_share)
    for stamp, cart, order in zip(stamps, carts, orders):
        rows.append((stamp, "add_to_cart", int(cart), "test", ""))
        rows.append((stamp, "presale_order", int(order), "test", ""))
    # Test: the poll goes out a few hours after the link and stays open 24 h; every participant votes
    # for one design. (Invitations are stamped when sent, answers and votes when the poll closes.)
    sent = start + POLL_SENT_AFTER_HOURS * HOUR
    closed = sent + POLL_OPEN_HOURS * HOUR
    invited = scenario.poll_invited + int(rng.integers(-20, 21))
    participated = int(rng.binomial(invited, scenario.poll_rate))
    rows.append((sent, "poll_invited", invited, "test", ""))
    rows.append((closed, "poll_participated", participated, "test", ""))
    preference = np.array([scenario.design_preference[d] for d in DESIGNS], dtype=float)
    votes = rng.multinomial(participated, preference / preference.sum())
    for design, count in zip(DESIGNS, votes):
        rows.append((closed, "design_vote", int(count), "test", design))

    rows.sort(key=lambda row: (row[0], row[3], row[1], row[4]))
    return pd.DataFrame({
        "timestamp": _stamp_text(np.array([row[0] for row in rows], dtype="datetime64[m]")),
        "metric": [row[1] for row in rows],
        "count": np.array([row[2] for row in rows], dtype=np.int64),
        "phase": [row[3] for row in rows],
        "design": [row[4] for row in rows],
    })


def expected_test_carts(scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """(stamps, expected add-to-cart) of the hourly test rows: true demand x shopping hours, scaled so
    the first 24 h hold cart_lift_24h x the usual daily add-to-cart."""
    start, end = scenario.validation_window
    stamps = np.arange(start, end, HOUR) + STAMP_SHIFT
    mid, hour_of_day, _, _ = _hour_parts(stamps)
    shape = demand_rate(scenario, mid) * SHOPPING_HOURS[hour_of_day]
    return stamps, shape * (scenario.cart_lift_24h * scenario.baseline_cart_mean / shape[:24].sum())


def expected_presale_per_day(scenario: Scenario) -> float:
    """Noise-free pre-sale orders per day over the validation window: the rate chapter 02 should
    validate, and what chapters 03-05 plan for (seed-independent, so it can sit in the answer key)."""
    _, cart_means = expected_test_carts(scenario)
    return float(cart_means.sum() * scenario.presale_share / (scenario.validation_hours / 24))


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


# --- Chapter 06: daily sales with a few price changes ---------------------------------------------------


def daily_demand(scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """(calendar days, true expected units per day) over the data range: demand.csv before rounding."""
    dates = np.arange(DATA_START.astype("datetime64[D]"), DATA_END.astype("datetime64[D]") + DAY, DAY)
    mids = _days(dates.astype("datetime64[m]"))[:, None] + (np.arange(24) + 0.5)[None, :] / 24.0
    return dates, demand_rate(scenario, mids).mean(axis=1)


def expected_sales(scenario: Scenario) -> pd.DataFrame:
    """The noise-free sales story per calendar day: date, stamp (end of the day), demand (true units per
    day), weekday_factor, price, price_factor = (price / base price) ^ elasticity, and
    expected_orders = demand x weekday_factor x price_factor."""
    dates, units = daily_demand(scenario)
    day_text = np.datetime_as_string(dates)
    discounts = dict(scenario.price_changes)
    unknown = sorted(set(discounts) - set(day_text))
    if unknown or len(discounts) != len(scenario.price_changes):
        raise ConfigError(f"scenario {scenario.name}: price changes must be distinct days in the data range, "
                          f"got {unknown or 'a repeated day'}")
    price = np.array([round(scenario.price * (1 - discounts.get(day, 0.0)), 2) for day in day_text])
    price_factor = (price / scenario.price) ** scenario.price_elasticity
    weekday_factor = SHOPPING_WEEKDAYS[_weekday(dates)]
    return pd.DataFrame({
        "date": day_text,
        "stamp": _stamp_text((dates + DAY).astype("datetime64[m]")),
        "demand": units,
        "weekday_factor": weekday_factor,
        "price": price,
        "price_factor": price_factor,
        "expected_orders": units * weekday_factor * price_factor,
    })


def make_sales(scenario: Scenario, rng: np.random.Generator) -> pd.DataFrame:
    """sales.csv: timestamp (end of the day counted), orders, price; one row per day of the data range.
    Orders are negative-binomial (size SALES_DAY_SIZE) around `expected_sales`' expected_orders."""
    story = expected_sales(scenario)
    return pd.DataFrame({
        "timestamp": story["stamp"],
        "orders": _nb_draw(rng, story["expected_orders"].to_numpy(), SALES_DAY_SIZE),
        "price": story["price"],
    })


def decline_triggers(values, drop: float = DECLINE_DROP, days: int = DECLINE_DAYS, window: int = 0) -> list[int]:
    """Positions where the handbook's decline rule fires: the day-over-day change is below -drop on
    `days` days in a row, and this is the last of them (later days of the same run do not fire again).
    window 0 compares daily totals, k > 0 the trailing k-day means (each uses only days up to it),
    -7 each day against the same weekday a week before."""
    x = np.asarray(values, dtype=float)
    change = np.full(len(x), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):  # a day after a zero day is no drop (inf / NaN)
        if window < 0:
            lag = -window
            change[lag:] = x[lag:] / x[:-lag] - 1
        else:
            level = x if window <= 1 else pd.Series(x).rolling(window).mean().to_numpy()
            change[1:] = level[1:] / level[:-1] - 1
    fired, run = [], 0
    for position, value in enumerate(change):
        run = run + 1 if value < -drop else 0  # NaN (not enough history) breaks a run
        if run == days:
            fired.append(position)
    return fired


def expected_daily_searches(scenario: Scenario) -> pd.Series:
    """Noise-free 淘宝 searches for the product words (星空杯 + 星空咖啡杯) per calendar day."""
    means = expected_signals(scenario)
    _, _, _, dates = _hour_parts(hourly_stamps())
    total = sum(means[(keyword, "淘宝")] for keyword in PRODUCT_KEYWORDS)
    frame = pd.DataFrame({"date": np.datetime_as_string(dates), "searches": total})
    return frame.groupby("date", sort=True)["searches"].sum()


# --- Chapter 07: the hourly data room -------------------------------------------------------------------


def default_as_of(scenario: Scenario) -> np.datetime64:
    """Two hours after the validation window closes: the spike file's default as_of."""
    return scenario.validation_window[1] + 2 * HOUR


def data_room_stamps(scenario: Scenario) -> np.ndarray:
    """Hourly end-of-hour stamps of the data room: from the validation start (first stamp one hour later)
    to default_as_of + DATA_ROOM_DAYS_AFTER_AS_OF days (inclusive)."""
    start = _when(scenario.validation_start)
    end = default_as_of(scenario) + DATA_ROOM_DAYS_AFTER_AS_OF * DAY
    return np.arange(start, end, HOUR) + STAMP_SHIFT


def traffic_wave(scenario: Scenario, platform: str) -> tuple[str, Pulse]:
    """The pulse a platform's traffic follows: its interest wave, or true demand when the scenario has none."""
    wave = TRAFFIC_PLATFORMS[platform][1]
    return (wave, scenario.interest[wave]) if wave in scenario.interest else ("demand", scenario.demand)


def expected_traffic(scenario: Scenario) -> dict[tuple[str, str], np.ndarray]:
    """Expected hourly visitors per (platform, source) at `data_room_stamps`:
    base x weekday x (1 + traffic_amplitude x pulse) x source share x hour-of-day profile."""
    mid, hour_of_day, weekday, _ = _hour_parts(data_room_stamps(scenario))
    means = {}
    for platform in DATA_ROOM_PLATFORMS:
        base, _, kind, shares = TRAFFIC_PLATFORMS[platform]
        hours = SHOPPING_HOURS if kind == "shopping" else SOCIAL_HOURS
        weekdays = SHOPPING_WEEKDAYS if kind == "shopping" else SOCIAL_WEEKDAYS
        pulse = traffic_wave(scenario, platform)[1]
        level = base * weekdays[weekday] * (1.0 + scenario.traffic_amplitude * pulse.shape(mid))
        for source, share in zip(TRAFFIC_SOURCES, shares):
            profile = LIVE_HOURS if source == "直播" else hours
            means[(platform, source)] = level * share * profile[hour_of_day]
    return means


def make_traffic(scenario: Scenario, rng: np.random.Generator) -> pd.DataFrame:
    """traffic.csv: timestamp, platform, source, visitors; hourly, every platform x source (zero hours
    kept), sorted by time then DATA_ROOM_PLATFORMS / TRAFFIC_SOURCES order."""
    stamps = data_room_stamps(scenario)
    drawn = {key: _nb_draw(rng, mean, TRAFFIC_HOUR_SIZE) for key, mean in expected_traffic(scenario).items()}
    keys = list(drawn)
    return pd.DataFrame({
        "timestamp": np.repeat(_stamp_text(stamps), len(keys)),
        "platform": [platform for _ in stamps for platform, _ in keys],
        "source": [source for _ in stamps for _, source in keys],
        "visitors": np.stack([drawn[key] for key in keys], axis=1).reshape(-1),
    })


def funnel_rates(scenario: Scenario) -> dict[str, tuple[float, float]]:
    """platform -> (cart / view, order / view), checked: 0 <= order rate <= cart rate <= 1."""
    rates = {platform: (cart, order) for platform, cart, order in scenario.funnel_rates}
    if sorted(rates) != sorted(DATA_ROOM_PLATFORMS) or not all(0 <= o <= c <= 1 for c, o in rates.values()):
        raise ConfigError(f"scenario {scenario.name}: funnel rates must cover {DATA_ROOM_PLATFORMS} "
                          "with 0 <= order/view <= cart/view <= 1")
    return rates


def make_funnel(scenario: Scenario, rng: np.random.Generator, traffic: pd.DataFrame) -> pd.DataFrame:
    """funnel.csv: timestamp, platform, views, add_to_cart, orders. Views are the hour's visitors of the
    platform in traffic.csv (all sources); carts are binomial(views, cart / view) and orders
    binomial(carts, order rate / cart rate), so orders / views averages the platform's order / view."""
    rates = funnel_rates(scenario)
    views = traffic.groupby(["timestamp", "platform"], sort=False)["visitors"].sum()
    platform = views.index.get_level_values("platform")
    cart_rate = np.array([rates[p][0] for p in platform])
    pay_rate = np.array([rates[p][1] / rates[p][0] if rates[p][0] > 0 else 0.0 for p in platform])
    carts = rng.binomial(views.to_numpy(), cart_rate)
    orders = rng.binomial(carts, pay_rate)
    return pd.DataFrame({
        "timestamp": views.index.get_level_values("timestamp"),
        "platform": platform,
        "views": views.to_numpy(),
        "add_to_cart": carts,
        "orders": orders,
    })


def audience_mix(scenario: Scenario, platform: str, window_start: np.datetime64) -> np.ndarray:
    """Segment shares (AUDIENCE_SEGMENTS order) of a platform's visitors in the window starting then."""
    mix = np.array(AUDIENCE_MIX[platform], dtype=float)
    shift = scenario.audience_shift
    if shift is None or shift.platform != platform or window_start < _when(shift.at):
        return mix
    at = AUDIENCE_SEGMENTS.index(shift.segment)
    if abs(mix[at] - shift.from_share) > 1e-9:
        raise ConfigError(f"scenario {scenario.name}: {shift.segment} on {platform} is {mix[at]:.2f} "
                          f"of visitors, not {shift.from_share}")
    shifted = mix * (1 - shift.to_share) / (1 - shift.from_share)
    shifted[at] = shift.to_share
    return shifted


def audience_window_stamps(scenario: Scenario) -> np.ndarray:
    """Stamps (00:00 and 12:00) of the 12-hour audience windows lying wholly inside the data room."""
    stamps = data_room_stamps(scenario)
    first_hour = stamps[0] - STAMP_SHIFT
    window = AUDIENCE_WINDOW_HOURS * HOUR
    day = first_hour.astype("datetime64[D]").astype("datetime64[m]")
    opens = day + math.ceil((first_hour - day) / window) * window  # first window start in the data room
    return np.arange(opens + window, stamps[-1] + HOUR, window)


def make_audience(scenario: Scenario, rng: np.random.Generator, traffic: pd.DataFrame) -> pd.DataFrame:
    """audience.csv: timestamp, platform, segment, visitors. Each 12-hour window's visitors of a platform
    (the sum of its traffic.csv visitors over the window's hours) split multinomially by segment shares
    (`audience_mix`, with the scenario's shift)."""
    hourly = traffic.groupby(["timestamp", "platform"], sort=False)["visitors"].sum().unstack("platform")
    hour_stamps = pd.to_datetime(hourly.index, format="%Y-%m-%d %H:%M:%S").to_numpy().astype("datetime64[m]")
    windows = audience_window_stamps(scenario)
    rows = []
    for stamp in windows:
        inside = (hour_stamps > stamp - AUDIENCE_WINDOW_HOURS * HOUR) & (hour_stamps <= stamp)
        for platform in DATA_ROOM_PLATFORMS:
            total = int(hourly.loc[inside, platform].sum())
            counts = rng.multinomial(total, audience_mix(scenario, platform, stamp - AUDIENCE_WINDOW_HOURS * HOUR))
            rows.extend((stamp, platform, segment, int(n)) for segment, n in zip(AUDIENCE_SEGMENTS, counts))
    return pd.DataFrame({
        "timestamp": _stamp_text(np.array([row[0] for row in rows], dtype="datetime64[m]")),
        "platform": [row[1] for row in rows],
        "segment": [row[2] for row in rows],
        "visitors": np.array([row[3] for row in rows], dtype=np.int64),
    })


def make_budget(scenario: Scenario, rng: np.random.Generator | None = None) -> pd.DataFrame:
    """budget.csv: platform, daily_budget (yuan of ads per day now)."""
    return pd.DataFrame(list(scenario.ad_budget), columns=["platform", "daily_budget"])


# --- Chapter 08: content posts ---------------------------------------------------------------------------


def post_rates(scenario: Scenario) -> dict[tuple[str, str], tuple[float, float]]:
    """(format, platform) -> (true clicks / view, true orders / view) of a post in that cell."""
    rates = funnel_rates(scenario)
    out = {}
    for fmt in POST_FORMATS:
        for platform in DATA_ROOM_PLATFORMS:
            per_click = POST_ORDERS_PER_CLICK * rates[platform][1] / POST_USUAL_CONVERSION
            if scenario.content_best == (fmt, platform):
                per_click *= scenario.content_best_boost
            click = POST_CLICK_RATE[fmt]
            out[(fmt, platform)] = (click, click * min(per_click, 1.0))
    return out


def make_posts(scenario: Scenario, rng: np.random.Generator) -> pd.DataFrame:
    """posts.csv: post_id, timestamp (end of the hour published), platform, format, views, clicks, orders.

    Every format x platform cell gets POSTS_PER_CELL posts (the lucky cell only LUCKY_POST); the rest of
    posts_total fall on the other cells uniformly. Publication hours are drawn over the data room's period by
    the social hour-of-day profile; views are log-normal around the platform's post size times its traffic
    wave; clicks ~ Binomial(views, click rate), orders ~ Binomial(clicks, order rate / click rate)."""
    rates = post_rates(scenario)
    cells = [(fmt, platform) for fmt in POST_FORMATS for platform in DATA_ROOM_PLATFORMS]
    drawn_cells = [cell for cell in cells if cell != scenario.lucky_cell]
    fixed = [cell for cell in drawn_cells for _ in range(POSTS_PER_CELL)]
    extra = scenario.posts_total - len(fixed) - (scenario.lucky_cell is not None)
    if extra < 0:
        raise ConfigError(f"scenario {scenario.name}: posts_total is below {len(fixed) + 1} posts")
    chosen = fixed + [drawn_cells[i] for i in rng.choice(len(drawn_cells), size=extra)]
    stamps = data_room_stamps(scenario)
    mid, hour_of_day, _, _ = _hour_parts(stamps)
    weight = SOCIAL_HOURS[hour_of_day]
    at = rng.choice(len(stamps), size=len(chosen), p=weight / weight.sum())
    rows = []
    for (fmt, platform), where in zip(chosen, at):
        pulse = traffic_wave(scenario, platform)[1].shape(mid[where])
        size = POST_BASE_VIEWS[platform] * (1.0 + POST_WAVE_SHARE * scenario.traffic_amplitude * pulse)
        views = int(round(size * math.exp(rng.normal(-POST_VIEW_SPREAD**2 / 2, POST_VIEW_SPREAD))))
        click, order = rates[(fmt, platform)]
        clicks = int(rng.binomial(views, click))
        orders = int(rng.binomial(clicks, order / click))
        rows.append((stamps[where], platform, fmt, views, clicks, orders))
    if scenario.lucky_cell is not None:
        lucky_at = len(stamps) // 3  # a third into the period
        rows.append((stamps[lucky_at], scenario.lucky_cell[1], scenario.lucky_cell[0], *LUCKY_POST))
    rows.sort(key=lambda row: (row[0], DATA_ROOM_PLATFORMS.index(row[1]), POST_FORMATS.index(row[2])))
    return pd.DataFrame({
        "post_id": [f"P{n:03d}" for n in range(1, len(rows) + 1)],
        "timestamp": _stamp_text(np.array([row[0] for row in rows], dtype="datetime64[m]")),
        "platform": [row[1] for row in rows],
        "format": [row[2] for row in rows],
        "views": np.array([row[3] for row in rows], dtype=np.int64),
        "clicks": np.array([row[4] for row in rows], dtype=np.int64),
        "orders": np.array([row[5] for row in rows], dtype=np.int64),
    })


# --- Chapter 09: the shop's money -----------------------------------------------------------------------


def make_cash(scenario: Scenario, rng: np.random.Generator | None = None) -> pd.DataFrame:
    """cash.csv: item, amount (yuan): cash_on_hand, cash_floor, other_products_budget."""
    if [item for item, _ in scenario.cash] != list(CASH_ITEMS):
        raise ConfigError(f"scenario {scenario.name}: cash items must be {CASH_ITEMS} in this order")
    return pd.DataFrame(list(scenario.cash), columns=["item", "amount"])


def make_settlement(scenario: Scenario, rng: np.random.Generator | None = None) -> pd.DataFrame:
    """settlement.csv: platform, lag_days, fee_share, refund_share (`SETTLEMENT`)."""
    rows = [(platform, *SETTLEMENT[platform]) for platform in DATA_ROOM_PLATFORMS]
    frame = pd.DataFrame(rows, columns=["platform", "lag_days", "fee_share", "refund_share"])
    frame["lag_days"] = frame["lag_days"].astype(np.int64)
    return frame


def make_supplier_terms(scenario: Scenario, rng: np.random.Generator | None = None,
                        suppliers: pd.DataFrame | None = None) -> pd.DataFrame:
    """supplier_terms.csv: supplier, deposit_share, balance_days; one row per supplier in suppliers.csv."""
    names = list(suppliers["supplier"]) if suppliers is not None else [row[0] for row in SUPPLIERS]
    missing = [name for name in names if name not in SUPPLIER_TERMS]
    if missing:
        raise ConfigError(f"scenario {scenario.name}: no supplier terms for {missing}")
    return pd.DataFrame({
        "supplier": names,
        "deposit_share": [SUPPLIER_TERMS[name][0] for name in names],
        "balance_days": np.array([SUPPLIER_TERMS[name][1] for name in names], dtype=np.int64),
    })


def make_financing(scenario: Scenario, rng: np.random.Generator | None = None) -> pd.DataFrame:
    """financing.csv: offer, kind, limit, fee_share, term_days, rate_annual (`FINANCING`)."""
    frame = pd.DataFrame(list(FINANCING), columns=["offer", "kind", "limit", "fee_share", "term_days", "rate_annual"])
    frame["term_days"] = frame["term_days"].astype(np.int64)
    return frame


def effective_annual_cost(fee_share: float, term_days: int, rate_annual: float) -> float:
    """Cost of one financing offer per year if rolled over: (1 + fee + rate x term / 365) ^ (365 / term) - 1."""
    return (1.0 + fee_share + rate_annual * term_days / 365.0) ** (365.0 / term_days) - 1.0


def expected_order_mix(scenario: Scenario) -> dict[str, float]:
    """Share of orders per platform over the data room, noise-free: expected visitors x order / view."""
    rates = funnel_rates(scenario)
    traffic = expected_traffic(scenario)
    orders = {p: sum(float(traffic[(p, src)].sum()) for src in TRAFFIC_SOURCES) * rates[p][1]
              for p in DATA_ROOM_PLATFORMS}
    total = sum(orders.values())
    return {p: n / total for p, n in orders.items()}


def cash_projection(scenario: Scenario, order_mix: dict[str, float] | None = None) -> pd.DataFrame:
    """The answer key's own simple day-by-day cash projection (seed-independent) for chapter 09.

    Day 0 = the date of default as_of; days 1..CASH_HORIZON_DAYS follow. Assumptions: the shop opens day 0
    with cash_on_hand; from day 1 it sells the planning rate (`expected_presale_per_day`) at the stock price
    every day, split over platforms by `expected_order_mix` (or ``order_mix``); a day's sales reach the bank
    lag_days later, net of fee_share and refund_share. Each planned purchase pays deposit_share x cost on
    day 0 and the balance balance_days after its last arrival day. Logistics cost the cheapest warehouse
    split's cost per order at the planning rate on every day with sales; the product's ads cost
    product_ad_spend_per_day from day 1. other_products_budget is not spent here (it is a lever)."""
    rate = expected_presale_per_day(scenario)
    mix = expected_order_mix(scenario) if order_mix is None else order_mix
    cash = dict(scenario.cash)
    days = np.arange(CASH_HORIZON_DAYS + 1)
    revenue = np.where(days >= 1, rate * scenario.price, 0.0)
    sales_in = np.zeros(len(days))
    for platform, share in mix.items():
        lag, fee, refund = SETTLEMENT[platform]
        net = revenue * share * (1.0 - fee - refund)
        sales_in[lag:] += net[:len(days) - lag]
    deposits, balances = np.zeros(len(days)), np.zeros(len(days))
    for supplier, _, cost, last_arrival in scenario.planned_purchases:
        deposit_share, balance_days = SUPPLIER_TERMS[supplier]
        deposits[0] += deposit_share * cost
        due = last_arrival + balance_days
        if due < len(days):
            balances[due] += (1.0 - deposit_share) * cost
    allocation = cheapest_allocation(rate, dict(scenario.regional_shares))
    per_order = allocation["cost_per_order"] if allocation else 0.0
    logistics = np.where(days >= 1, rate * per_order, 0.0)
    ads = np.where(days >= 1, scenario.product_ad_spend_per_day, 0.0)
    flow = sales_in - deposits - balances - logistics - ads
    first_date = default_as_of(scenario).astype("datetime64[D]")
    return pd.DataFrame({
        "day": days,
        "date": np.datetime_as_string(first_date + days * DAY),
        "sales_in": sales_in, "deposits": deposits, "balances": balances, "logistics": logistics, "ads": ads,
        "closing": cash["cash_on_hand"] + np.cumsum(flow),
    })


# --- Chapters 11-12: orders, returns, tickets, faq, reviews, inspections, members, member_activity ----------
# The after-sales period runs to AFTER_END, so a retrospective as of 2025-04-30 12:00 has data. Every table
# draws from its own stream; returns are decided inside make_orders (a buyer's earlier returns feed the
# buyer_prior_returns of their later orders) and handed to make_returns through ``orders.attrs``.

AFTER_START = np.datetime64("2025-01-15T00:00", "m")
AFTER_END = np.datetime64("2025-05-15T23:59", "m")  # last minute covered by the chapter 11-12 tables
RETRO_AS_OF = "2025-04-30 12:00"  # the as_of the retention truth is computed at
SPIKE_PRODUCT = "星空咖啡杯"
# The shop's other products (name, price, orders per day): a small steady stream, so repurchases exist.
OTHER_PRODUCTS = (("经典马克杯", 35.0, 1.6), ("陶瓷杯垫", 19.0, 1.0), ("挂耳咖啡礼盒", 39.0, 1.2),
                  ("手冲咖啡壶", 89.0, 0.5), ("桌面收纳盒", 29.0, 0.7))
ORDER_PLATFORMS = (("淘宝", 0.30), ("抖音", 0.25), ("小红书", 0.20), ("拼多多", 0.10), ("微信", 0.10), ("快手", 0.05))
OTHER_VARIANT = "标准款"
OLD_CUSTOMERS = 900  # buyers known from before the sample window (ids C0001..)
OLD_CUSTOMER_SHARE = 0.45  # share of other-product orders placed by old customers (the rest: new buyers)
SPIKE_OLD_CUSTOMER_SHARE = 0.04  # share of spike-product orders placed by old customers
# Buyer history before the window (old customers only): prior orders 1 + Poisson(2.5), each returned with
# probability 0.12 (binomial). New buyers start with no history.
HISTORY_ORDERS_MEAN = 2.5
HISTORY_RETURN_SHARE = 0.12
# Shipping. The shop ships the spike product first come, first served from units on hand. Units arrive from
# the usual restock (RESTOCK_PER_DAY) and, in a spike, from the scenario's planned purchases (arriving
# evenly from day 3 to their last arrival day after default as_of) and then from follow-up orders (FOLLOW_UP_PER_DAY
# from the last planned arrival day to a week after demand fades). The warehouse packs at most PACK_PER_DAY a day.
RESTOCK_PER_DAY = 12
FOLLOW_UP_PER_DAY = 350
PACK_PER_DAY = 400
PROMISE_DAYS = 3  # promised_ship = 18:00 on the day placed + 3 days
OTHER_SHIP_DAYS = 1  # other products ship the next day
DELIVERY_DAYS = {"华东": 1.0, "华南": 2.0, "华北": 2.0, "华中": 2.0, "西南": 3.0}  # + uniform 0-1 day
# The true return model (logistic): logit p = intercept + delay x days late (shipped - promised_ship, >= 0)
# + variant effect + region effect + prior_rate x buyer_prior_returns / buyer_prior_orders (0 without history).
RETURN_MODEL = {"intercept": -3.0, "delay_days": 0.30, "variant": {"夜幕黑": 0.8}, "region": {"西南": 0.6},
                "prior_return_rate": 2.0}
RETURN_DAYS = (1.0, 7.0)  # requested uniformly 1-7 days after delivery


@dataclass(frozen=True)
class AfterSales:
    """Per-scenario after-sales story: community and repurchase behaviour, supplier quality."""

    join_rate: float  # P(a spike buyer joins the community within 30 days of the first order)
    repurchase_rate: float  # P(a spike buyer orders again 1-60 days after the first order)
    active_rate: float  # P(a member keeps being active after the first week)
    defect_rates: tuple[tuple[str, float], ...]  # true defect rate per supplier


_DEFECTS = (("杭州星辰陶瓷", 0.010), ("德化白瓷坊", 0.015), ("宜兴陶艺工作室", 0.020), ("潮州瓷都制品", 0.060))
AFTERSALES = {
    "starry-mug": AfterSales(join_rate=0.18, repurchase_rate=0.145, active_rate=0.16, defect_rates=_DEFECTS),
    "false-alarm": AfterSales(join_rate=0.12, repurchase_rate=0.10, active_rate=0.30, defect_rates=_DEFECTS),
    "fast-fade": AfterSales(join_rate=0.10, repurchase_rate=0.08, active_rate=0.18, defect_rates=_DEFECTS),
}
REGULAR_SUPPLIER = "杭州星辰陶瓷"  # the usual restock batches (one inspection round each)
REGULAR_BATCH_UNITS = 360
REGULAR_BATCH_DAYS = ("2025-01-20", "2025-02-18", "2025-03-20", "2025-04-18")
FOLLOW_UP_SUPPLIERS = ("杭州星辰陶瓷", "潮州瓷都制品")  # follow-up orders alternate between these
SPIKE_ROUNDS = 3
# Samples per inspection round by lot size (close to ISO 2859-1 general level II): (largest lot, sample).
INSPECTION_SAMPLES = ((50, 8), (90, 13), (150, 20), (280, 32), (500, 50), (1200, 80), (3200, 125), (10**9, 200))


def _aftersales(scenario: Scenario) -> AfterSales:
    """The scenario's after-sales story: its own (scenarios made on demand) or the built-in sample's."""
    if scenario.aftersales is not None:
        return scenario.aftersales
    if scenario.name not in AFTERSALES:
        raise ConfigError(f"scenario {scenario.name}: no after-sales story. Fix: give Scenario(aftersales=...)")
    return AFTERSALES[scenario.name]


def _minute_text(stamps: np.ndarray) -> list[str]:
    """'YYYY-MM-DD HH:MM:00' (empty string for NaT)."""
    out = []
    for s in np.asarray(stamps, dtype="datetime64[m]"):
        out.append("" if np.isnat(s) else str(s).replace("T", " ") + ":00")
    return out


def _spike_shape(scenario: Scenario, days) -> np.ndarray:
    """0..1: the demand pulse scaled by how big the spike is (420 extra units a day = a full spike)."""
    return scenario.demand.shape(days) * min(1.0, scenario.demand_peak_extra_per_day / 420.0)


def _spike_daily_units(scenario: Scenario, sales: pd.DataFrame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dates, units, price): sales.csv's days, then Poisson around true demand to AFTER_END at the base price."""
    stamps = pd.to_datetime(sales["timestamp"]).to_numpy().astype("datetime64[D]") - DAY
    units = sales["orders"].to_numpy(dtype=np.int64)
    price = sales["price"].to_numpy(dtype=float)
    extra_days = np.arange(stamps[-1] + DAY, AFTER_END.astype("datetime64[D]") + DAY, DAY)
    mids = _days(extra_days.astype("datetime64[m]")) + 0.5
    extra_units = rng.poisson(demand_rate(scenario, mids) * SHOPPING_WEEKDAYS[_weekday(extra_days)])
    return (np.concatenate([stamps, extra_days]), np.concatenate([units, extra_units]),
            np.concatenate([price, np.full(len(extra_days), scenario.price)]))


def _times_in_days(rng: np.random.Generator, dates: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """One minute stamp per unit: the day's units spread over hours by the shopping profile."""
    days = np.repeat(dates.astype("datetime64[m]"), counts)
    hours = rng.choice(24, size=len(days), p=SHOPPING_HOURS / SHOPPING_HOURS.sum())
    minutes = rng.integers(0, 60, size=len(days))
    return days + hours * HOUR + minutes * np.timedelta64(1, "m")


def _supply_schedule(scenario: Scenario, dates: np.ndarray) -> np.ndarray:
    """Units of the spike product that become available each day (restock + planned + follow-up)."""
    units = np.full(len(dates), RESTOCK_PER_DAY, dtype=float)
    units[0] += scenario.stock_on_hand
    if scenario.planned_purchases:
        order_day = default_as_of(scenario).astype("datetime64[D]")
        last = 0
        for _, n, _, last_day in scenario.planned_purchases:
            span = np.arange(order_day + 3 * DAY, order_day + (max(last_day, 3) + 1) * DAY, DAY)
            units[np.isin(dates, span)] += n / len(span)
            last = max(last, last_day)
        follow_from = order_day + last * DAY
        fade = _when(scenario.demand.fade).astype("datetime64[D]") + 7 * DAY
        units[(dates >= follow_from) & (dates <= fade)] += FOLLOW_UP_PER_DAY
    return units


def _inspection_batches(scenario: Scenario) -> list[tuple[str, str, int, np.datetime64, int]]:
    """(batch_id, supplier, lot_size, arrival, rounds): regular restocks and the spike's purchase batches."""
    batches = [(f"R{i + 1:02d}", REGULAR_SUPPLIER, REGULAR_BATCH_UNITS, _when(day + " 09:00"), 1)
               for i, day in enumerate(REGULAR_BATCH_DAYS)]
    if scenario.planned_purchases:
        order_day = default_as_of(scenario).astype("datetime64[D]").astype("datetime64[m]")
        last = 0
        for i, (supplier, n, _, last_day) in enumerate(scenario.planned_purchases):
            batches.append((f"P{i + 1:02d}", supplier, int(n), order_day + last_day * DAY + 9 * HOUR, SPIKE_ROUNDS))
            last = max(last, last_day)
        fade = _when(scenario.demand.fade).astype("datetime64[D]").astype("datetime64[m]") + 7 * DAY
        day, i = order_day + last * DAY + 9 * HOUR, 0
        while day <= fade:  # follow-up orders: one lot of two days' units every two days
            batches.append((f"F{i + 1:02d}", FOLLOW_UP_SUPPLIERS[i % 2], 2 * FOLLOW_UP_PER_DAY, day, SPIKE_ROUNDS))
            day, i = day + 2 * DAY, i + 1
    return sorted(batches, key=lambda b: b[3])


def _logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def return_probability(delay_days, variant, region, prior_orders, prior_returns) -> np.ndarray:
    """The true return probability of orders (RETURN_MODEL), vectorised."""
    delay = np.maximum(np.asarray(delay_days, dtype=float), 0.0)
    variant_effect = np.array([RETURN_MODEL["variant"].get(v, 0.0) for v in variant])
    region_effect = np.array([RETURN_MODEL["region"].get(r, 0.0) for r in region])
    prior_orders = np.asarray(prior_orders, dtype=float)
    rate = np.divide(np.asarray(prior_returns, dtype=float), prior_orders, out=np.zeros_like(prior_orders),
                     where=prior_orders > 0)
    return _logistic(RETURN_MODEL["intercept"] + RETURN_MODEL["delay_days"] * delay + variant_effect
                     + region_effect + RETURN_MODEL["prior_return_rate"] * rate)


def make_orders(scenario: Scenario, rng: np.random.Generator, sales: pd.DataFrame) -> pd.DataFrame:
    """orders.csv: the spike product's orders (one unit each, sales.csv's daily counts, then true demand to
    AFTER_END), the other products' steady stream, repeat purchases of spike buyers and shipping through a
    first-come-first-served queue. The drawn returns travel in ``attrs["returns"]`` to make_returns."""
    story = _aftersales(scenario)
    dates, units, prices = _spike_daily_units(scenario, sales, rng)
    spike_times = _times_in_days(rng, dates, units)
    spike_price = np.repeat(prices, units)
    designs = list(scenario.design_preference)
    weights = np.array([scenario.design_preference[d] for d in designs])
    spike_variant = rng.choice(designs, size=len(spike_times), p=weights / weights.sum())
    # Other products: Poisson per day and product.
    other = []
    for product, price, per_day in OTHER_PRODUCTS:
        counts = rng.poisson(per_day, size=len(dates))
        times = _times_in_days(rng, dates, counts)
        other.append(pd.DataFrame({"timestamp": times, "product": product, "variant": OTHER_VARIANT, "price": price}))
    other = pd.concat(other, ignore_index=True)
    old_ids = np.array([f"C{i + 1:04d}" for i in range(OLD_CUSTOMERS)])
    new_counter = iter(range(1, 10**7))

    def buyers(n: int, old_share: float) -> np.ndarray:
        old = rng.random(n) < old_share
        out = np.empty(n, dtype=object)
        out[old] = rng.choice(old_ids, size=int(old.sum()))
        out[~old] = [f"B{next(new_counter):05d}" for _ in range(int((~old).sum()))]
        return out

    spike = pd.DataFrame({"timestamp": spike_times, "product": SPIKE_PRODUCT, "variant": spike_variant,
                          "price": spike_price})
    spike = spike.sort_values("timestamp", kind="stable").reset_index(drop=True)
    spike["buyer_id"] = buyers(len(spike), SPIKE_OLD_CUSTOMER_SHARE)
    other = other.sort_values("timestamp", kind="stable").reset_index(drop=True)
    other["buyer_id"] = buyers(len(other), OLD_CUSTOMER_SHARE)
    # Repeat purchases: each buyer's first spike order is followed, with probability repurchase_rate, by an
    # order of another product 1.1-60 days later, and with probability 0.04 by a late one (61-90 days). (Spike-
    # product repurchases would add to sales.csv's daily counts, which orders.csv reproduces exactly.)
    first = spike.drop_duplicates("buyer_id")
    again = rng.random(len(first)) < story.repurchase_rate
    late = (rng.random(len(first)) < 0.04) & ~again
    gap_days = np.where(again, rng.uniform(1.1, 60.0, len(first)), rng.uniform(61.0, 90.0, len(first)))
    pick = again | late
    repeat_times = (first["timestamp"].to_numpy()[pick]
                    + np.round(gap_days[pick] * 24 * 60).astype(np.int64) * np.timedelta64(1, "m"))
    n_repeat = int(pick.sum())
    own = np.zeros(n_repeat, dtype=bool)
    catalogue = rng.integers(0, len(OTHER_PRODUCTS), n_repeat)
    repeat = pd.DataFrame({
        "timestamp": repeat_times,
        "product": np.where(own, SPIKE_PRODUCT, [OTHER_PRODUCTS[i][0] for i in catalogue]),
        "variant": np.where(own, first["variant"].to_numpy()[pick], OTHER_VARIANT),
        "price": np.where(own, scenario.price, [OTHER_PRODUCTS[i][1] for i in catalogue]),
        "buyer_id": first["buyer_id"].to_numpy()[pick],
    })
    repeat = repeat[repeat["timestamp"].to_numpy() <= AFTER_END]
    orders = pd.concat([spike, other, repeat], ignore_index=True)
    orders = orders.sort_values(["timestamp", "product"], kind="stable").reset_index(drop=True)
    n = len(orders)
    names, shares = zip(*ORDER_PLATFORMS)
    orders["platform"] = rng.choice(names, size=n, p=np.array(shares) / sum(shares))
    regions, region_shares = zip(*scenario.regional_shares)
    orders["region"] = rng.choice(regions, size=n, p=np.array(region_shares) / sum(region_shares))
    placed = orders["timestamp"].to_numpy().astype("datetime64[m]")
    placed_day = placed.astype("datetime64[D]")
    orders["promised_ship"] = (placed_day + PROMISE_DAYS * DAY).astype("datetime64[m]") + 18 * HOUR
    # Shipping: the spike product through the queue, other products the next day.
    ship_day = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    is_spike = (orders["product"] == SPIKE_PRODUCT).to_numpy()
    spike_idx = np.flatnonzero(is_spike)
    supply = _supply_schedule(scenario, dates)
    on_hand, queue_at = 0.0, 0
    for d, day in enumerate(dates):
        on_hand += supply[d]
        # Orders placed before 16:00 can leave the same day; later ones wait for the next day.
        cutoff = day.astype("datetime64[m]") + 16 * HOUR
        waiting_end = queue_at + int(np.searchsorted(placed[spike_idx[queue_at:]], cutoff, side="left"))
        can = int(min(on_hand, PACK_PER_DAY, waiting_end - queue_at))
        ship_day[spike_idx[queue_at:queue_at + can]] = day
        queue_at += can
        on_hand -= can
    ship_day[~is_spike] = placed_day[~is_spike] + OTHER_SHIP_DAYS * DAY
    ship_minutes = rng.integers(10 * 60, 20 * 60, n) * np.timedelta64(1, "m")
    shipped = ship_day.astype("datetime64[m]") + ship_minutes
    shipped = np.where(shipped < placed, placed + 30 * np.timedelta64(1, "m"), shipped)
    shipped[shipped > AFTER_END] = np.datetime64("NaT")
    transit = np.array([DELIVERY_DAYS[r] for r in orders["region"]]) + rng.uniform(0.0, 1.0, n)
    delivered = shipped + np.round(transit * 24 * 60).astype(np.int64) * np.timedelta64(1, "m")
    delivered[np.isnat(shipped) | (delivered > AFTER_END)] = np.datetime64("NaT")
    # Buyer history and returns, in time order (a return counts for the buyer's orders placed after it).
    history_orders = {b: 1 + int(k) for b, k in zip(old_ids, rng.poisson(HISTORY_ORDERS_MEAN, len(old_ids)))}
    history_returns = {b: int(rng.binomial(history_orders[b], HISTORY_RETURN_SHARE)) for b in old_ids}
    delay = np.where(np.isnat(shipped), 0.0,
                     (shipped - orders["promised_ship"].to_numpy().astype("datetime64[m]")) / DAY)
    draw = rng.random(n)
    request_after = rng.uniform(*RETURN_DAYS, n)
    prior_orders = np.zeros(n, dtype=np.int64)
    prior_returns = np.zeros(n, dtype=np.int64)
    returned_at = np.full(n, np.datetime64("NaT"), dtype="datetime64[m]")
    seen: dict[str, int] = {}
    returns_of: dict[str, list] = {}
    buyer_ids = orders["buyer_id"].to_numpy()
    variants = orders["variant"].to_numpy()
    regions_arr = orders["region"].to_numpy()
    for i in range(n):
        b = buyer_ids[i]
        prior_orders[i] = history_orders.get(b, 0) + seen.get(b, 0)
        prior_returns[i] = history_returns.get(b, 0) + sum(1 for t in returns_of.get(b, ()) if t < placed[i])
        seen[b] = seen.get(b, 0) + 1
        if np.isnat(delivered[i]):
            continue
        p = return_probability([delay[i]], [variants[i]], [regions_arr[i]], [prior_orders[i]], [prior_returns[i]])[0]
        if draw[i] < p:
            when = delivered[i] + np.int64(round(request_after[i] * 24 * 60)) * np.timedelta64(1, "m")
            if when <= AFTER_END:
                returned_at[i] = when
                returns_of.setdefault(b, []).append(when)
    orders["order_id"] = [f"O{i + 1:06d}" for i in range(n)]
    out = pd.DataFrame({
        "order_id": orders["order_id"],
        "timestamp": _minute_text(placed),
        "buyer_id": orders["buyer_id"].astype(str),
        "product": orders["product"],
        "platform": orders["platform"],
        "variant": orders["variant"],
        "region": orders["region"],
        "price": orders["price"].astype(float),
        "promised_ship": _minute_text(orders["promised_ship"].to_numpy()),
        "shipped": _minute_text(shipped),
        "delivered": _minute_text(delivered),
        "buyer_prior_orders": prior_orders,
        "buyer_prior_returns": prior_returns,
    })
    out.attrs["returns"] = pd.DataFrame({"order_id": out["order_id"], "returned_at": returned_at,
                                         "delay_days": delay, "variant": variants, "region": regions_arr})
    return out


def make_returns(scenario: Scenario, rng: np.random.Generator, orders: pd.DataFrame) -> pd.DataFrame:
    """returns.csv: the returns make_orders drew from RETURN_MODEL, with a reason that follows the driver:
    late orders mostly 'delay', 夜幕黑 mostly 'not_as_described', 西南 more 'damaged'."""
    drawn = orders.attrs.get("returns")
    if drawn is None:
        raise ConfigError("make_returns needs the orders frame made by make_orders in the same run")
    drawn = drawn[~np.isnat(drawn["returned_at"].to_numpy())].reset_index(drop=True)
    reasons = ("quality", "delay", "not_as_described", "changed_mind", "damaged")
    picked = []
    for delay, variant, region in zip(drawn["delay_days"], drawn["variant"], drawn["region"]):
        w = np.array([0.30, 0.05, 0.15, 0.35, 0.15])
        if delay > 1:
            w[1] += 1.5
        if variant in RETURN_MODEL["variant"]:
            w[2] += 0.8
        if region in RETURN_MODEL["region"]:
            w[4] += 0.5
        picked.append(reasons[int(rng.choice(5, p=w / w.sum()))])
    out = pd.DataFrame({"order_id": drawn["order_id"], "timestamp": _minute_text(drawn["returned_at"].to_numpy()),
                        "reason": picked})
    return out.sort_values(["timestamp", "order_id"], kind="stable").reset_index(drop=True)

# The shop's knowledge base: (faq_id, type, question, answer).
FAQ_ENTRIES = (
    ("F01", "delay", "现在下单多久发货？", "现货48小时内发货；预售款按页面标注的最晚日期发货，发货后会推送物流单号。"),
    ("F02", "delay", "我的订单为什么还没发货？", "爆款期间订单多，仓库按下单顺序发货；订单页可看预计发货日，超过承诺时间我们会主动联系并补偿。"),
    ("F03", "delay", "怎么查看物流信息？", "发货后在订单详情点“查看物流”，物流信息每4小时更新一次。"),
    ("F04", "delay", "快递几天能到？", "江浙沪一般1-2天，其他地区2-4天，偏远地区稍慢。"),
    ("F05", "pre_sale", "可以开发票吗？", "可以，下单时填写发票抬头和税号，或收货后在订单页申请电子发票。"),
    ("F06", "pre_sale", "杯子容量多大？", "星空咖啡杯容量约350毫升，杯高10厘米，口径8.5厘米。"),
    ("F07", "pre_sale", "可以放洗碗机和微波炉吗？", "可以放洗碗机；星空釉面含金属光泽，不建议放微波炉。"),
    ("F08", "pre_sale", "有哪些颜色可选？", "有星空蓝、银河紫、极光绿、晨曦粉、夜幕黑五款，实物与图片可能略有色差。"),
    ("F09", "pre_sale", "可以礼盒包装吗？", "可以，下单时选“礼盒装”，加5元，可附手写贺卡。"),
    ("F10", "pre_sale", "买两个有优惠吗？", "两件及以上享9折，活动期间以页面价格为准。"),
    ("F11", "pre_sale", "是预售还是现货？", "页面标“预售”的是预售款，写明了最晚发货日期；其余为现货。"),
    ("F12", "address", "下单后怎么修改收货地址？", "未发货前可在订单页自己修改地址；已发货请联系客服协助改派。"),
    ("F13", "address", "可以改寄到公司或者驿站吗？", "可以，未发货前改地址即可；暂不支持到付。"),
    ("F14", "return", "怎么申请退货？", "收货7天内在订单页点“申请售后”选择退货，寄回时请保留原包装。"),
    ("F15", "return", "退货运费谁出？", "质量问题和破损由我们承担运费；无理由退货运费由买家承担，有运费险的自动理赔。"),
    ("F16", "return", "退款多久到账？", "收到退货后24小时内退款，原路返回，一般1-3个工作日到账。"),
    ("F17", "quality", "收到的杯子破了怎么办？", "请拍照或视频（含外包装）发给客服，我们免费补发或退款。"),
    ("F18", "quality", "杯子有色差或小瑕疵正常吗？", "手工釉面会有轻微色差和小气泡，不影响使用；明显裂纹或掉釉请联系客服处理。"),
    ("F19", "other", "杯子怎么清洗保养？", "首次使用前用温水清洗，不要用钢丝球，星空釉面用软布擦干即可。"),
    ("F20", "other", "可以定制刻字吗？", "支持杯底刻字，最多8个字，定制款需要多3天制作时间。"),
    ("F21", "other", "有会员群或者售后群吗？", "有的，订单页扫码即可加入会员群，群里有新品预告和专属优惠。"),
)
ROUTINE_TICKET_TYPES = ("delay", "pre_sale", "address", "other")  # eligible for answers from the FAQ

# Customer messages per ticket type: (text, the FAQ entry that answers it or None). Each ticket takes one and
# gets small edits (greeting, ending, a synonym), so matching is not an exact lookup.
TICKET_TEXTS = {
    "delay": (
        ("我的杯子什么时候发货？", "F02"), ("下单三天了还没发货，怎么回事", "F02"), ("为什么我的订单一直显示待发货", "F02"),
        ("说好48小时发货的，现在还没动静", "F02"), ("到底什么时候能发货啊", "F02"), ("现在下单大概多久能发？", "F01"),
        ("预售的什么时候发出", "F01"), ("今天拍的明天能发吗", "F01"), ("物流怎么一直不更新", "F03"),
        ("在哪里看快递到哪了", "F03"), ("单号查不到物流信息", "F03"), ("寄到北京要几天", "F04"),
        ("快递一般几天能到广东", "F04"), ("能不能加急发货，周末要送人", None), ("等太久了，可以先发其他颜色吗", None),
        ("快递员说地址找不到，东西退回去了", None), ("显示已签收但我没收到", None), ("别家都发货了你们怎么还没发", "F02"),
    ),
    "quality": (
        ("收到杯子有裂纹", "F17"), ("杯子碎了，外包装也压扁了", "F17"), ("打开发现杯口有个缺口", "F17"),
        ("杯把断了", "F17"), ("杯子颜色和图片差好多", "F18"), ("釉面有好几个小气泡正常吗", "F18"),
        ("星空的亮片很少，跟视频里不一样", "F18"), ("杯底有黑点", "F18"), ("杯子掉釉了，用了两次", None),
        ("倒热水后杯身有细纹", None), ("杯子有很重的味道", None), ("盖子盖不严", None), ("杯垫尺寸不对", None),
        ("收到的是晨曦粉，我买的是星空蓝", None), ("少发了一个杯子", None), ("底部不平，放桌上会晃", None),
    ),
    "return": (
        ("怎么退货", "F14"), ("不想要了可以退吗", "F14"), ("我要申请退货退款", "F14"), ("七天无理由怎么操作", "F14"),
        ("退货的运费谁出", "F15"), ("破损退货要我自己付运费吗", "F15"), ("有运费险吗", "F15"), ("退款什么时候到账", "F16"),
        ("退货寄回去好几天了还没退款", "F16"), ("退款退到哪里", "F16"), ("可以换个颜色吗", None),
        ("包装丢了还能退吗", None), ("已经用过一次了能退吗", None), ("退货地址是哪里", None), ("买贵了能退差价吗", None),
        ("送人的不喜欢，能换成别的款吗", None),
    ),
    "pre_sale": (
        ("可以开发票吗", "F05"), ("能开公司抬头的专票吗", "F05"), ("发票怎么开", "F05"), ("杯子容量多大", "F06"),
        ("能装多少毫升", "F06"), ("杯子有多高", "F06"), ("可以放洗碗机吗", "F07"), ("能放微波炉加热吗", "F07"),
        ("有哪些颜色", "F08"), ("夜幕黑实物是什么样的，会很暗吗", "F08"), ("可以包装成礼物吗", "F09"),
        ("有礼盒吗，想送同事", "F09"), ("买两个有优惠吗", "F10"), ("多买能便宜点吗", "F10"), ("现在是现货还是预售", "F11"),
        ("能不能便宜一点", None), ("你们从哪里发货", None), ("和别家的星空杯有什么区别", None), ("是陶瓷的还是玻璃的", None),
        ("杯子重不重", None),
    ),
    "address": (
        ("地址写错了怎么改", "F12"), ("下单后还能改地址吗", "F12"), ("帮我改一下收货地址", "F12"), ("电话号码填错了", "F12"),
        ("可以寄到公司吗", "F13"), ("能寄到菜鸟驿站吗", "F13"), ("能改成到付吗", "F13"), ("收件人名字写错了怎么办", "F12"),
        ("已经发货了还能改地址吗", "F12"), ("能不能寄到香港", None), ("可以分两个地址寄吗", None),
        ("我搬家了，原地址没人收", "F12"), ("能不能指定顺丰", None), ("周末家里没人，能周一再送吗", None),
        ("门牌号漏写了", "F12"),
    ),
    "other": (
        ("杯子怎么清洗", "F19"), ("第一次用需要煮一下吗", "F19"), ("星空面怎么保养不掉色", "F19"), ("可以刻字吗", "F20"),
        ("能定制名字吗", "F20"), ("杯底能刻日期吗", "F20"), ("有会员群吗", "F21"), ("怎么加你们的粉丝群", "F21"),
        ("有售后群吗", "F21"), ("你们招代理吗", None), ("可以合作拍视频吗", None), ("下次上新是什么时候", None),
        ("积分怎么用", None), ("直播间的优惠券领不到", None), ("店铺有实体店吗", None),
    ),
}
TICKET_GREETINGS = ("", "", "", "你好，", "您好，", "亲，", "在吗？", "客服你好，", "hello，", "麻烦问下，")
TICKET_ENDINGS = ("", "", "", "谢谢", "谢谢！", "急", "？", "，麻烦尽快回复", "～", "！！")
TICKET_SYNONYMS = (("杯子", ("杯子", "星空杯", "咖啡杯", "马克杯")), ("怎么", ("怎么", "咋", "如何")),
                   ("什么时候", ("什么时候", "啥时候", "几时")))
# Tickets per day before the spike and the multiple at a full spike's peak (handbook: +300% delay complaints),
# and how many days after the demand peak each type's surge peaks.
TICKET_BASELINE = {"delay": 2.5, "quality": 0.8, "return": 1.0, "pre_sale": 4.0, "address": 0.6, "other": 0.8}
TICKET_PEAK_MULTIPLE = {"delay": 4.0, "quality": 3.0, "return": 2.5, "pre_sale": 3.5, "address": 2.5, "other": 2.0}
TICKET_LAG_DAYS = {"delay": 2.0, "quality": 4.0, "return": 5.0, "pre_sale": 0.0, "address": 0.5, "other": 0.0}
RESPONSE_MEDIAN_HOURS = 1.0  # lognormal, sigma 0.5, answered from 09:00 to 22:00
SLOW_RESPONSE_SHARE_AT_PEAK = 0.6  # share of tickets waiting 6-30 h at the peak of the surge
SLOW_RESPONSE_HOURS = (6.0, 30.0)
RESOLVE_MEDIAN_HOURS = 5.0  # after the first response; lognormal, sigma 0.8


def _ticket_text(rng: np.random.Generator, text: str) -> str:
    for word, options in TICKET_SYNONYMS:
        if word in text and rng.random() < 0.4:
            text = text.replace(word, options[int(rng.integers(len(options)))], 1)
    text = text.rstrip("？?")
    ending = TICKET_ENDINGS[int(rng.integers(len(TICKET_ENDINGS)))]
    if "？" in ending or not ending:
        ending = ending or ("？" if rng.random() < 0.6 else "")
    return TICKET_GREETINGS[int(rng.integers(len(TICKET_GREETINGS)))] + text + ending


def ticket_rates(scenario: Scenario, days) -> dict[str, np.ndarray]:
    """Expected tickets per day of each type at times given in days since DATA_START."""
    return {kind: TICKET_BASELINE[kind] * (1 + (TICKET_PEAK_MULTIPLE[kind] - 1)
                                           * _spike_shape(scenario, np.asarray(days) - TICKET_LAG_DAYS[kind]))
            for kind in TICKET_BASELINE}


def _service_start(stamps: np.ndarray) -> np.ndarray:
    """Tickets opened at night wait for the service desk to open at 09:00 (it closes at 22:00)."""
    day = stamps.astype("datetime64[D]").astype("datetime64[m]")
    hour = (stamps - day) / HOUR
    return np.where(hour < 9, day + 9 * HOUR, np.where(hour >= 22, day + DAY + 9 * HOUR, stamps))


def make_faq(scenario: Scenario, rng: np.random.Generator | None = None) -> pd.DataFrame:
    """faq.csv: the shop's knowledge base (FAQ_ENTRIES), the same in every scenario."""
    return pd.DataFrame(FAQ_ENTRIES, columns=["faq_id", "type", "question", "answer"])


def make_tickets(scenario: Scenario, rng: np.random.Generator, orders: pd.DataFrame) -> pd.DataFrame:
    """tickets.csv: Poisson tickets per hour and type at `ticket_rates` x the shopping hour profile; paid types
    point at a fitting order (delay: one not yet shipped if any; quality and return: one delivered);
    first responses slow down for a share of tickets as the surge peaks."""
    hours = np.arange(AFTER_START, AFTER_END, HOUR)
    mids = _days(hours) + 0.5 / 24
    profile = SHOPPING_HOURS[(hours - hours.astype("datetime64[D]")) // HOUR]
    rates = ticket_rates(scenario, mids)
    placed = pd.to_datetime(orders["timestamp"]).to_numpy().astype("datetime64[m]")
    shipped = pd.to_datetime(orders["shipped"].replace("", None)).to_numpy().astype("datetime64[m]")
    delivered = pd.to_datetime(orders["delivered"].replace("", None)).to_numpy().astype("datetime64[m]")
    order_ids = orders["order_id"].to_numpy()
    rows = []
    for kind in TICKET_BASELINE:
        counts = rng.poisson(rates[kind] / 24 * profile)
        stamps = np.repeat(hours, counts) + rng.integers(0, 60, int(counts.sum())) * np.timedelta64(1, "m")
        for stamp in stamps:
            text, faq = TICKET_TEXTS[kind][int(rng.integers(len(TICKET_TEXTS[kind])))]
            paid = kind in ("delay", "quality", "return", "address") or (kind == "other" and rng.random() < 0.5)
            order_id = ""
            if paid:
                recent = (placed < stamp) & (placed > stamp - 14 * DAY)
                if kind == "delay":
                    fitting = recent & ((np.isnat(shipped)) | (shipped > stamp))
                elif kind in ("quality", "return"):
                    fitting = recent & ~np.isnat(delivered) & (delivered < stamp)
                else:
                    fitting = recent
                pool = np.flatnonzero(fitting if fitting.any() else (placed < stamp))
                if len(pool):
                    order_id = str(order_ids[pool[int(rng.integers(len(pool)))]])
            rows.append((stamp, order_id, "paid" if order_id else "pre_sale", kind, _ticket_text(rng, text), faq))
    rows.sort(key=lambda r: (r[0], r[3]))
    stamps = np.array([r[0] for r in rows], dtype="datetime64[m]")
    n = len(rows)
    surge = _spike_shape(scenario, _days(stamps) - 1.0)
    slow = rng.random(n) < SLOW_RESPONSE_SHARE_AT_PEAK * surge  # surge is 1 at a full spike's peak
    wait_hours = np.where(slow, rng.uniform(*SLOW_RESPONSE_HOURS, n),
                          RESPONSE_MEDIAN_HOURS * np.exp(0.5 * rng.standard_normal(n)))
    start = np.where(slow, stamps, _service_start(stamps))
    first_response = start + np.round(wait_hours * 60).astype(np.int64) * np.timedelta64(1, "m")
    resolved = first_response + np.round(RESOLVE_MEDIAN_HOURS * np.exp(0.8 * rng.standard_normal(n)) * 60
                                         ).astype(np.int64) * np.timedelta64(1, "m")
    first_response[first_response > AFTER_END] = np.datetime64("NaT")
    resolved[np.isnat(first_response) | (resolved > AFTER_END)] = np.datetime64("NaT")
    out = pd.DataFrame({
        "ticket_id": [f"T{i + 1:05d}" for i in range(n)],
        "timestamp": _minute_text(stamps),
        "order_id": [r[1] for r in rows],
        "customer_kind": [r[2] for r in rows],
        "type": [r[3] for r in rows],
        "text": [r[4] for r in rows],
        "first_response": _minute_text(first_response),
        "resolved": _minute_text(resolved),
    })
    out.attrs["faq_id"] = [r[5] for r in rows]  # the FAQ entry that answers each ticket (None: none does)
    return out


# Reviews: (text, label, language). Ratings follow the label: positive 4-5, neutral 3, negative 1-2.
REVIEW_TEXTS = {
    ("positive", "zh"): ("杯子很好看，星空的感觉很梦幻", "颜值超高，办公室同事都问链接", "质量不错，釉面很细腻",
                         "包装很用心，一点没磕碰", "用来喝咖啡很有仪式感，喜欢", "比图片还好看，已经回购送朋友了",
                         "容量刚好，拿着手感很舒服", "发货快，杯子很漂亮", "送女朋友的，她很喜欢", "颜色很正，星空蓝绝了"),
    ("neutral", "zh"): ("杯子还行，就是比想象中小一点", "好看是好看，就是发货有点慢", "一般般吧，颜色有点偏差",
                        "杯子不错，包装简陋了点", "还可以，等了好几天才到", "东西挺好，客服回复太慢"),
    ("negative", "zh"): ("等了一个多星期才发货，太慢了", "收到就是裂的，很失望", "颜色和图片完全不一样",
                         "催了好几次都不发货，客服也不回", "杯口有缺口，差评", "物流慢，杯子还有瑕疵，不推荐",
                         "说好48小时发货，结果拖了五天", "掉漆了，用了两次就这样"),
    ("positive", "en"): ("Beautiful mug, the starry glaze looks amazing.", "Love it, my coffee break feels special now.",
                         "Great quality and well packed.", "Even prettier than the photos!", "Perfect gift, she loved it."),
    ("neutral", "en"): ("Nice mug but smaller than I expected.", "Looks good, shipping took a while though.",
                        "It's okay, colour is a bit different from the pictures."),
    ("negative", "en"): ("Took forever to ship, very disappointed.", "Arrived cracked. Not happy.",
                         "Colour is nothing like the photos.", "Waited over a week and support never replied."),
}
REVIEW_SHARE = {"spike": 0.06, "other": 0.03}  # share of delivered orders reviewed
REVIEW_UNLINKED_PER_DAY = 0.3  # reviews on the platform without an order link
REVIEW_ENGLISH_SHARE = 0.25
REVIEW_NEGATIVE_BASE = 0.06  # P(negative) = base + per day late x delay days (max 0.6), + 0.3 if returned
REVIEW_NEGATIVE_PER_DAY_LATE = 0.08
REVIEW_NEUTRAL = 0.15


def make_reviews(scenario: Scenario, rng: np.random.Generator, orders: pd.DataFrame) -> pd.DataFrame:
    """reviews.csv: some delivered orders are reviewed 0.3-5 days after delivery; the chance of a negative review
    rises with the order's delay (and its return); a few reviews carry no order link."""
    delivered = pd.to_datetime(orders["delivered"].replace("", None)).to_numpy().astype("datetime64[m]")
    shipped = pd.to_datetime(orders["shipped"].replace("", None)).to_numpy().astype("datetime64[m]")
    promised = pd.to_datetime(orders["promised_ship"]).to_numpy().astype("datetime64[m]")
    delay = np.where(np.isnat(shipped), 0.0, np.maximum((shipped - promised) / DAY, 0.0))
    returned = np.zeros(len(orders), dtype=bool)
    drawn = orders.attrs.get("returns")
    if drawn is not None:
        returned = ~np.isnat(drawn["returned_at"].to_numpy())
    is_spike = (orders["product"] == SPIKE_PRODUCT).to_numpy()
    share = np.where(is_spike, REVIEW_SHARE["spike"], REVIEW_SHARE["other"])
    picked = np.flatnonzero(~np.isnat(delivered) & (rng.random(len(orders)) < share))
    when = delivered[picked] + np.round(rng.uniform(0.3, 5.0, len(picked)) * 24 * 60).astype(np.int64) * np.timedelta64(1, "m")
    p_negative = np.minimum(REVIEW_NEGATIVE_BASE + REVIEW_NEGATIVE_PER_DAY_LATE * delay[picked], 0.6) + 0.3 * returned[picked]
    # Unlinked reviews: a steady trickle with the base negative share.
    days = np.arange(AFTER_START, AFTER_END, DAY)
    per_day = rng.poisson(REVIEW_UNLINKED_PER_DAY, len(days))
    unlinked = np.repeat(days, per_day) + rng.integers(8 * 60, 23 * 60, int(per_day.sum())) * np.timedelta64(1, "m")
    when = np.concatenate([when, unlinked])
    p_negative = np.concatenate([p_negative, np.full(len(unlinked), REVIEW_NEGATIVE_BASE)])
    order_id = np.concatenate([orders["order_id"].to_numpy()[picked], np.full(len(unlinked), "", dtype=object)])
    platform = np.concatenate([orders["platform"].to_numpy()[picked],
                               rng.choice([p for p, _ in ORDER_PLATFORMS], len(unlinked))])
    keep = when <= AFTER_END
    when, p_negative, order_id, platform = when[keep], p_negative[keep], order_id[keep], platform[keep]
    u = rng.random(len(when))
    label = np.where(u < p_negative, "negative", np.where(u < p_negative + REVIEW_NEUTRAL, "neutral", "positive"))
    language = np.where(rng.random(len(when)) < REVIEW_ENGLISH_SHARE, "en", "zh")
    texts = [REVIEW_TEXTS[(lab, lang)][int(rng.integers(len(REVIEW_TEXTS[(lab, lang)])))] for lab, lang in zip(label, language)]
    rating = np.where(label == "positive", rng.choice([4, 5], len(when), p=[0.3, 0.7]),
                      np.where(label == "neutral", 3, rng.choice([1, 2], len(when), p=[0.6, 0.4])))
    rating_text = [str(r) if rng.random() > 0.05 else "" for r in rating]  # a few reviews carry no star rating
    order = np.argsort(when, kind="stable")
    out = pd.DataFrame({
        "review_id": "",
        "timestamp": np.array(_minute_text(when), dtype=object)[order],
        "platform": platform[order],
        "order_id": order_id[order],
        "rating": np.array(rating_text, dtype=object)[order],
        "text": np.array(texts, dtype=object)[order],
    })
    out["review_id"] = [f"V{i + 1:05d}" for i in range(len(out))]
    out.attrs["labels"] = label[order]
    return out


def make_inspections(scenario: Scenario, rng: np.random.Generator) -> pd.DataFrame:
    """inspections.csv: each batch (`_inspection_batches`) inspected in 1 round (regular restocks) or 3 rounds
    (the spike's purchase batches) 2 h, 6 h and 24 h after arrival; defects are binomial at the supplier's
    true defect rate (AfterSales.defect_rates)."""
    rates = dict(_aftersales(scenario).defect_rates)
    rows = []
    for batch_id, supplier, lot, arrival, rounds in _inspection_batches(scenario):
        sample = next(n for top, n in INSPECTION_SAMPLES if lot <= top)
        inspected = min(sample, lot)
        for r in range(rounds):
            rows.append((batch_id, supplier, arrival + (2, 6, 24)[r] * HOUR, lot, r + 1, inspected,
                         int(rng.binomial(inspected, rates[supplier]))))
    frame = pd.DataFrame(rows, columns=["batch_id", "supplier", "timestamp", "lot_size", "round", "inspected", "defects"])
    frame["timestamp"] = _minute_text(frame["timestamp"].to_numpy())
    return frame


MEMBER_JOIN_MEAN_DAYS = 4.0  # exponential wait from the first order to joining (cut at 29.5 days)
MEMBER_LATE_JOIN_SHARE = 0.02  # spike buyers joining 31-80 days after the first order
MEMBER_OTHER_JOIN_SHARE = 0.08  # other buyers joining after their first order
MEMBER_OLD_SHARE = 0.25  # old customers in the community from the window's start
ACTIVE_FIRST_WEEK_PER_DAY = 0.35
ACTIVE_LATER_PER_DAY = 0.12  # members who stay active
INACTIVE_LATER_PER_DAY = 0.002


def make_members(scenario: Scenario, rng: np.random.Generator, orders: pd.DataFrame) -> pd.DataFrame:
    """members.csv: spike buyers join the community with probability join_rate within 30 days of their first
    spike order (a few later); other buyers at MEMBER_OTHER_JOIN_SHARE; a quarter of old customers are members
    from the window's start."""
    story = _aftersales(scenario)
    placed = pd.to_datetime(orders["timestamp"]).to_numpy().astype("datetime64[m]")
    frame = pd.DataFrame({"buyer_id": orders["buyer_id"].to_numpy(), "placed": placed,
                          "spike": (orders["product"] == SPIKE_PRODUCT).to_numpy()})
    joined: dict[str, np.datetime64] = {}
    old = np.array([f"C{i + 1:04d}" for i in range(OLD_CUSTOMERS)])
    old_members = old[rng.random(len(old)) < MEMBER_OLD_SHARE]
    for b, offset in zip(old_members, rng.integers(0, 45 * 24 * 60, len(old_members))):
        joined[str(b)] = AFTER_START + offset * np.timedelta64(1, "m")
    spike_first = frame[frame["spike"]].drop_duplicates("buyer_id")
    u, wait = rng.random(len(spike_first)), np.minimum(rng.exponential(MEMBER_JOIN_MEAN_DAYS, len(spike_first)), 29.5)
    late = rng.uniform(31.0, 80.0, len(spike_first))
    for b, t, ui, w, lt in zip(spike_first["buyer_id"], spike_first["placed"], u, wait, late):
        if b in joined:
            continue
        days = w if ui < story.join_rate else (lt if ui < story.join_rate + MEMBER_LATE_JOIN_SHARE else None)
        if days is not None:
            joined[b] = t + np.int64(round(days * 24 * 60)) * np.timedelta64(1, "m")
    other_first = frame[~frame["spike"]].drop_duplicates("buyer_id")
    u, wait = rng.random(len(other_first)), rng.exponential(MEMBER_JOIN_MEAN_DAYS, len(other_first))
    for b, t, ui, w in zip(other_first["buyer_id"], other_first["placed"], u, wait):
        if b not in joined and ui < MEMBER_OTHER_JOIN_SHARE:
            joined[b] = t + np.int64(round(w * 24 * 60)) * np.timedelta64(1, "m")
    members = sorted((t, b) for b, t in joined.items() if t <= AFTER_END)
    return pd.DataFrame({"buyer_id": [b for _, b in members],
                         "timestamp": _minute_text(np.array([t for t, _ in members], dtype="datetime64[m]"))})


def make_member_activity(scenario: Scenario, rng: np.random.Generator, members: pd.DataFrame) -> pd.DataFrame:
    """member_activity.csv: one row per member and day active (stamped at the end of the day). Active on each
    day of the first week with probability ACTIVE_FIRST_WEEK_PER_DAY; after it, members who stay active
    (active_rate) at ACTIVE_LATER_PER_DAY, the rest at INACTIVE_LATER_PER_DAY; 1 + Poisson(1.5) actions."""
    story = _aftersales(scenario)
    last_day = AFTER_END.astype("datetime64[D]")
    rows = []
    joined = pd.to_datetime(members["timestamp"]).to_numpy().astype("datetime64[m]")
    stays = rng.random(len(members)) < story.active_rate
    for b, t, stay in zip(members["buyer_id"], joined, stays):
        days = np.arange(t.astype("datetime64[D]"), last_day + DAY, DAY)
        since = (days - t.astype("datetime64[D]")) / DAY
        p = np.where(since < 7, ACTIVE_FIRST_WEEK_PER_DAY, ACTIVE_LATER_PER_DAY if stay else INACTIVE_LATER_PER_DAY)
        active = days[rng.random(len(days)) < p]
        for day, actions in zip(active, 1 + rng.poisson(1.5, len(active))):
            rows.append((b, (day + DAY).astype("datetime64[m]"), int(actions)))
    rows.sort(key=lambda r: (r[1], r[0]))
    return pd.DataFrame({"buyer_id": [r[0] for r in rows],
                         "timestamp": _minute_text(np.array([r[1] for r in rows], dtype="datetime64[m]")),
                         "actions": np.array([r[2] for r in rows], dtype=np.int64)})

# Table name -> (file name, maker). Add later chapters' tables here.
TABLE_MAKERS: dict[str, tuple[str, Callable[..., pd.DataFrame]]] = {
    "signals": ("signals.csv", make_signals),
    "validation": ("validation.csv", make_validation),
    "demand": ("demand.csv", make_demand),
    "suppliers": ("suppliers.csv", make_suppliers),
    "stock": ("stock.csv", make_stock),
    "warehouses": ("warehouses.csv", make_warehouses),
    "lanes": ("lanes.csv", make_lanes),
    "regional_demand": ("regional_demand.csv", make_regional_demand),
    "urgent_orders": ("urgent_orders.csv", make_urgent_orders),
    "sales": ("sales.csv", make_sales),
    "traffic": ("traffic.csv", make_traffic),
    "funnel": ("funnel.csv", make_funnel),
    "audience": ("audience.csv", make_audience),
    "budget": ("budget.csv", make_budget),
    "posts": ("posts.csv", make_posts),
    "cash": ("cash.csv", make_cash),
    "settlement": ("settlement.csv", make_settlement),
    "supplier_terms": ("supplier_terms.csv", make_supplier_terms),
    "financing": ("financing.csv", make_financing),
    "orders": ("orders.csv", make_orders),
    "returns": ("returns.csv", make_returns),
    "tickets": ("tickets.csv", make_tickets),
    "faq": ("faq.csv", make_faq),
    "reviews": ("reviews.csv", make_reviews),
    "inspections": ("inspections.csv", make_inspections),
    "members": ("members.csv", make_members),
    "member_activity": ("member_activity.csv", make_member_activity),
}
# Tables made from earlier ones (passed to the maker by name): the funnel's views and the audience's
# visitors are the traffic's visitors, so the data room's tables add up.
TABLE_INPUTS: dict[str, tuple[str, ...]] = {"funnel": ("traffic",), "audience": ("traffic",),
                                           "supplier_terms": ("suppliers",), "orders": ("sales",),
                                           "returns": ("orders",), "tickets": ("orders",), "reviews": ("orders",),
                                           "members": ("orders",), "member_activity": ("members",)}


# --------------------------------------------------------------------------------------------------
# Truth


def _noise_free_alert_from(scenario: Scenario, band_low: float = 1.5) -> str | None:
    """First midnight at which a trending series' expected 7-day total exceeds (1 + band_low) x the 7
    days before: when an alert first becomes possible, even with perfect data."""
    if not scenario.trending_series:
        return None
    stamps = hourly_stamps()
    means = expected_signals(scenario)
    first = None
    for key in scenario.trending_series:
        cumulative = np.concatenate([[0.0], np.cumsum(means[key])])
        for as_of in np.arange(DATA_START + 14 * DAY, DATA_END, DAY):
            upto = int(np.searchsorted(stamps, as_of, side="right"))  # rows <= as_of
            this_week = cumulative[upto] - cumulative[upto - 168]
            last_week = cumulative[upto - 168] - cumulative[upto - 336]
            if this_week > (1 + band_low) * last_week:
                first = as_of if first is None else min(first, as_of)
                break
    return None if first is None else _iso(first)


def producible_units(supplier: pd.Series, days: int, reserve_share: float = SUPPLY_RESERVE_SHARE) -> int:
    """Units one supplier can finish on days 1..days (day 1 = the first day after the order) making at
    most floor((1 - reserve_share) x daily_capacity) a day, with cumulative output before
    material_ready_day limited to material_units, and the total to max_units."""
    if days <= 0:
        return 0
    per_day = math.floor((1 - reserve_share) * supplier["daily_capacity"] + 1e-9)
    ready = max(1, math.ceil(supplier["material_ready_day"]))  # first day material does not limit
    before = min(ready - 1, days)
    made = min(int(supplier["material_units"]), per_day * before) + per_day * (days - before)
    return int(min(made, supplier["max_units"]))


def _supplier_facts(scenario: Scenario, suppliers: pd.DataFrame, demand: pd.DataFrame) -> dict:
    """Seed-independent capacity facts over the planning horizon (starting the day after default_as_of)."""
    horizon = SUPPLY_HORIZON_DAYS
    rate = expected_presale_per_day(scenario)
    first_day = (_when(scenario.validation_start) + scenario.validation_hours * HOUR + 2 * HOUR).astype(
        "datetime64[D]") + DAY
    days = np.datetime_as_string(first_day + np.arange(horizon) * DAY)
    true_demand = float(demand.set_index("date").loc[list(days), "units"].sum())
    per_supplier = {}
    for _, row in suppliers.iterrows():
        made = producible_units(row, horizon)
        arrived = producible_units(row, horizon - math.ceil(row["lead_days"]))
        per_supplier[row["supplier"]] = {
            "producible_by_day_10": made,
            "arrivable_by_day_10": arrived,
            "min_order_reachable_by_day_10": bool(made >= row["min_order"]),
        }
    usable = [f for f in per_supplier.values() if f["min_order_reachable_by_day_10"]]
    arrivable = sum(f["arrivable_by_day_10"] for f in usable)
    best_a = suppliers[suppliers["tier"] == "A"].sort_values("max_units", ascending=False).iloc[0]
    on_hand = suppliers[(suppliers["material_units"] > 0) & (suppliers["material_ready_day"] > 0)]
    return {
        "horizon_days": horizon,
        "horizon_dates": [str(days[0]), str(days[-1])],
        "reserve_share": SUPPLY_RESERVE_SHARE,
        # The plainest sum: every supplier at 70% of its daily capacity for 10 days, ignoring material,
        # caps and minimum orders.
        "capacity_at_reserve_over_horizon": int(sum(
            math.floor((1 - SUPPLY_RESERVE_SHARE) * c + 1e-9) for c in suppliers["daily_capacity"]) * horizon),
        "planning_rate_per_day": round(rate, 2),
        "planned_demand_over_horizon": round(rate * horizon, 1),
        "true_demand_over_horizon": round(true_demand, 1),
        "tier_counts": {t: int((suppliers["tier"] == t).sum()) for t in ("A", "B", "C")},
        "best_tier_a": {"supplier": best_a["supplier"], "max_units": int(best_a["max_units"]),
                        "material_units": int(best_a["material_units"]),
                        "material_ready_day": float(best_a["material_ready_day"])},
        "tier_b_with_material_on_hand": sorted(on_hand.loc[on_hand["tier"] == "B", "supplier"]),
        "per_supplier": per_supplier,
        "producible_by_day_10_total": sum(f["producible_by_day_10"] for f in usable),
        "arrivable_by_day_10_total": arrivable,
        "reserve_capacity_covers_planned_demand": bool(arrivable >= rate * horizon),
        "reserve_capacity_covers_true_demand": bool(arrivable >= true_demand),
    }


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


def _logistics_facts(scenario: Scenario, peak_daily_units: float) -> dict:
    shares = dict(scenario.regional_shares)
    rate = expected_presale_per_day(scenario)
    main_capacity = next(c for _, kind, _, c, _ in WAREHOUSES if kind == "main")
    total_capacity = sum(c for *_, c, _ in WAREHOUSES)
    return {
        "main_capacity_per_day": main_capacity,
        "total_capacity_per_day": total_capacity,
        "planning_rate_per_day": round(rate, 2),
        "peak_daily_units": peak_daily_units,
        "main_alone_insufficient_at_planning_rate": bool(rate > main_capacity),
        "main_alone_insufficient_at_peak": bool(peak_daily_units > main_capacity),
        "all_warehouses_carry_peak": bool(peak_daily_units <= total_capacity),
        "cheapest_at_planning_rate": cheapest_allocation(rate, shares),
        "cheapest_at_peak": cheapest_allocation(peak_daily_units, shares),
        "baseline_70_15_15_at_planning_rate": baseline_allocation(rate, shares),
        "baseline_70_15_15_at_peak": baseline_allocation(peak_daily_units, shares),
    }


def _inventory_facts(scenario: Scenario, stock: pd.DataFrame) -> dict:
    rate = expected_presale_per_day(scenario)
    on_hand = int(stock["on_hand"].iloc[0])
    return {
        "sku": str(stock["sku"].iloc[0]),
        "on_hand": on_hand,
        "planning_rate_per_day": round(rate, 2),
        "days_of_cover_at_planning_rate": round(on_hand / rate, 2),
        "first_order_units_at_half_expected_validation_sales": round(0.5 * rate * scenario.validation_hours / 24, 1),
        "reorder_point_7_days_at_planning_rate": round(7 * rate, 1),
        "on_hand_below_7_day_reorder_point": bool(on_hand < 7 * rate),
    }


def _urgent_observed(orders: pd.DataFrame, as_of: np.datetime64, max_km: float = 15.0,
                     max_extra_cost: float = 10.0) -> dict:
    """Counts of urgent orders, and how many pass each part of the courier rule's default thresholds
    (distance <= 15 km, standard carrier misses the promise, courier costs at most 10 yuan more),
    before any peak-slot condition."""
    near = orders["distance_km"] <= max_km
    late = orders["standard_hours"] > orders["promised_hours"]
    affordable = orders["courier_cost"] - orders["standard_cost"] <= max_extra_cost + 1e-9
    seen = pd.to_datetime(orders["timestamp"]).to_numpy() <= as_of.astype("datetime64[ns]")
    return {
        "orders": len(orders),
        "orders_at_default_as_of": int(seen.sum()),
        "by_region": {r: int(n) for r, n in orders["region"].value_counts().sort_index().items()},
        "within_max_km": int(near.sum()),
        "standard_misses_promise": int(late.sum()),
        "courier_extra_within_max": int(affordable.sum()),
        "courier_candidates": int((near & late & affordable).sum()),
        "courier_candidates_at_default_as_of": int((near & late & affordable & seen).sum()),
        "rule_thresholds": {"max_km": max_km, "max_extra_cost": max_extra_cost},
    }


# --- Truth for chapters 06 and 07 -----------------------------------------------------------------------


def _day_after(day: str, days: int) -> str:
    return str(np.datetime64(day, "D") + days * DAY)


def _exit_facts(scenario: Scenario) -> dict:
    """Seed-independent facts for chapter 06: the noise-free decline trigger, the price story, true demand."""
    searches = expected_daily_searches(scenario)
    by_smoothing = {}
    for name, window in DECLINE_SMOOTHINGS.items():
        fired = decline_triggers(searches.to_numpy(), window=window)
        by_smoothing[name] = str(searches.index[fired[0]]) if fired else None
    trigger = by_smoothing["none"]
    story = expected_sales(scenario)
    on_demand = decline_triggers(story["demand"].to_numpy())
    as_of = default_as_of(scenario)
    counted = story["stamp"].to_numpy().astype("datetime64[m]") <= as_of  # days complete at default as_of
    peak_day = int(story["demand"].to_numpy().argmax())
    changes = story[story["price"] != scenario.price]
    return {
        "decline_series": ("noise-free 淘宝 searches for the product words (星空杯 + 星空咖啡杯), totals per "
                           "calendar day; true demand gives the same dates"),
        "decline_rule": (f"day-over-day change below -{DECLINE_DROP:.0%} on {DECLINE_DAYS} days in a row; the "
                         "trigger is the last of them"),
        "decline_trigger_date": trigger,
        # Noisy data and other smoothings move the date: accept a day earlier to two days later.
        "decline_trigger_window": None if trigger is None else [_day_after(trigger, -1), _day_after(trigger, 2)],
        "decline_trigger_by_smoothing": by_smoothing,
        "decline_trigger_on_true_demand": str(story["date"].iloc[on_demand[0]]) if on_demand else None,
        "demand_peak_date": str(story["date"].iloc[peak_day]),
        "base_price": scenario.price,
        "price_elasticity": scenario.price_elasticity,
        "price_changes": [{"date": row.date, "price": round(float(row.price), 2),
                           "discount": round(1 - float(row.price) / scenario.price, 4),
                           "orders_factor": round(float(row.price_factor), 4)} for row in changes.itertuples()],
        "sales_rule": (f"orders ~ NB(true demand x shopping weekday x (price / base price) ^ elasticity, size "
                       f"{SALES_DAY_SIZE:g})"),
        "true_demand_total": round(float(story["demand"].sum()), 1),
        "spike_units_total": round(float((story["demand"] - scenario.demand_base_per_day).sum()), 1),
        "true_demand_until_default_as_of": round(float(story.loc[counted, "demand"].sum()), 1),
        "true_demand_after_default_as_of": round(float(story.loc[~counted, "demand"].sum()), 1),
    }


def _exit_observed(scenario: Scenario, sales: pd.DataFrame, signals: pd.DataFrame) -> dict:
    """Counted from sales.csv and signals.csv: totals, discount days, an oracle elasticity estimate and where
    the decline rule fires on the noisy data (from the validation start on)."""
    story = expected_sales(scenario)
    orders = sales["orders"].to_numpy()
    as_of = default_as_of(scenario)
    counted = story["stamp"].to_numpy().astype("datetime64[m]") <= as_of
    # Oracle check of the price story (it knows true demand, no chapter does): weighted least squares of
    # log(orders / demand x weekday) on log(price / base price), weights 1 / (1 / mean + 1 / size), the
    # inverse variance of a log negative-binomial count; se from the model variance.
    used = orders > 0
    y = np.log(orders[used] / (story["demand"] * story["weekday_factor"]).to_numpy()[used])
    x = np.log(story["price"].to_numpy()[used] / scenario.price)
    weight = 1.0 / (1.0 / story["expected_orders"].to_numpy()[used] + 1.0 / SALES_DAY_SIZE)
    elasticity = None
    if np.ptp(x) > 0:
        design = np.column_stack([np.ones_like(x), x])
        information = design.T @ (design * weight[:, None])
        coef = np.linalg.solve(information, design.T @ (weight * y))
        se = math.sqrt(np.linalg.inv(information)[1, 1])
        elasticity = {"estimate": round(float(coef[1]), 3), "se": round(se, 3), "days": int(used.sum())}
    start = str(_when(scenario.validation_start).astype("datetime64[D]"))
    searches = signals[(signals["platform"] == "淘宝") & signals["keyword"].isin(PRODUCT_KEYWORDS)]
    search_day = (pd.to_datetime(searches["timestamp"], format="%Y-%m-%d %H:%M:%S") - pd.Timedelta(STAMP_SHIFT))
    daily_searches = searches.groupby(search_day.dt.strftime("%Y-%m-%d"))["value"].sum()

    def fired_from_start(values: np.ndarray, days: list[str]) -> dict:
        out = {}
        for name, window in DECLINE_SMOOTHINGS.items():
            out[name] = [days[i] for i in decline_triggers(values, window=window) if days[i] >= start]
        return out

    return {
        "orders_total": int(orders.sum()),
        "orders_until_default_as_of": int(orders[counted].sum()),
        "orders_on_price_change_days": {row.date: int(n) for row, n in zip(story.itertuples(), orders)
                                        if row.price != scenario.price},
        "elasticity_oracle_estimate": elasticity,
        "decline_triggers_on_sales_from_validation_start": fired_from_start(orders.astype(float),
                                                                            list(story["date"])),
        "decline_triggers_on_searches_from_validation_start": fired_from_start(
            daily_searches.to_numpy(dtype=float), list(daily_searches.index)),
    }


def _data_room_facts(scenario: Scenario) -> dict:
    """Seed-independent facts for chapter 07: the period, conversion by platform, the platforms that convert
    worse / better, the handbook's budget move and the audience shift."""
    rates = funnel_rates(scenario)
    conversion = {p: rates[p][1] for p in DATA_ROOM_PLATFORMS}
    stamps, windows = data_room_stamps(scenario), audience_window_stamps(scenario)
    budget = dict(scenario.ad_budget)
    poor, strong = scenario.poor_platform, scenario.strong_platform
    shift = scenario.audience_shift
    first_shifted = None
    if shift is not None:
        first_shifted = next(w for w in windows if w - AUDIENCE_WINDOW_HOURS * HOUR >= _when(shift.at))
    return {
        "platforms": list(DATA_ROOM_PLATFORMS),
        "sources": list(TRAFFIC_SOURCES),
        "segments": list(AUDIENCE_SEGMENTS),
        "first_stamp": _iso(stamps[0]),
        "last_stamp": _iso(stamps[-1]),
        "hours": len(stamps),
        "audience_windows": [_iso(windows[0]), _iso(windows[-1]), len(windows)],
        "traffic_follows": {p: traffic_wave(scenario, p)[0] for p in DATA_ROOM_PLATFORMS},
        "traffic_amplitude": scenario.traffic_amplitude,
        "funnel_rule": ("views = the hour's traffic visitors of the platform; add_to_cart ~ Binomial(views, "
                        "cart rate); orders ~ Binomial(add_to_cart, conversion / cart rate)"),
        "cart_rate_by_platform": {p: rates[p][0] for p in DATA_ROOM_PLATFORMS},
        "conversion_by_platform": conversion,
        "average_conversion": round(float(np.mean(list(conversion.values()))), 4),
        "average_conversion_of_the_others": {
            p: round(float(np.mean([c for q, c in conversion.items() if q != p])), 4) for p in DATA_ROOM_PLATFORMS},
        "poor_platform": poor,
        "strong_platform": strong,
        "budget": budget,
        "budget_total": round(sum(budget.values()), 2),
        "handbook_budget_move": (None if poor is None or strong is None else {
            "from": poor, "to": strong, "share": HANDBOOK_MOVE_SHARE,
            "yuan": round(HANDBOOK_MOVE_SHARE * budget[poor], 2)}),
        "audience_shift": None if shift is None else {
            "platform": shift.platform, "segment": shift.segment, "from_share": shift.from_share,
            "to_share": shift.to_share, "at": _iso(_when(shift.at)),
            "first_window_showing_it": _iso(first_shifted)},
        "audience_rule": ("a window's visitors of a platform = its traffic visitors over the window's 12 hours, "
                          "split multinomially by segment shares"),
    }


def _data_room_observed(scenario: Scenario, tables: dict[str, pd.DataFrame]) -> dict:
    """Counted from the data-room files: sizes, the last 24 h of the funnel at default as_of, and the shift
    segment's share in the last four audience windows at default as_of."""
    as_of = default_as_of(scenario).astype("datetime64[s]")
    funnel, audience = tables["funnel"], tables["audience"]
    funnel_time = pd.to_datetime(funnel["timestamp"], format="%Y-%m-%d %H:%M:%S").to_numpy().astype("datetime64[s]")
    last_day = funnel[(funnel_time > as_of - 24 * HOUR) & (funnel_time <= as_of)]
    sums = last_day.groupby("platform")[["views", "add_to_cart", "orders"]].sum()
    shift = scenario.audience_shift
    platform, segment = (shift.platform, shift.segment) if shift else ("小红书", "女 25-35")
    mine = audience[audience["platform"] == platform]
    mine_time = pd.to_datetime(mine["timestamp"], format="%Y-%m-%d %H:%M:%S").to_numpy().astype("datetime64[s]")
    seen = mine[mine_time <= as_of]
    totals = seen.groupby("timestamp")["visitors"].sum()
    chosen = seen[seen["segment"] == segment].set_index("timestamp")["visitors"]
    shares = (chosen / totals).sort_index().tail(4)
    return {
        "traffic_rows": len(tables["traffic"]),
        "funnel_rows": len(funnel),
        "audience_rows": len(audience),
        "visitors_total": int(tables["traffic"]["visitors"].sum()),
        "funnel_last_24h_at_default_as_of": {
            p: {"views": int(sums.loc[p, "views"]), "add_to_cart": int(sums.loc[p, "add_to_cart"]),
                "orders": int(sums.loc[p, "orders"]),
                "conversion": round(float(sums.loc[p, "orders"] / sums.loc[p, "views"]), 4)}
            for p in DATA_ROOM_PLATFORMS},
        "audience_share_at_default_as_of": {
            "platform": platform, "segment": segment,
            "by_window": {stamp: {"visitors": int(totals[stamp]), "share": round(float(share), 4)}
                          for stamp, share in shares.items()}},
    }


# --- Truth for chapters 08 and 09 -----------------------------------------------------------------------

CONTENT_PRIOR_VIEWS = 2000.0  # the answer key's own shrinkage: (orders + m x overall rate) / (views + m)


def _cell_name(cell: tuple[str, str] | None) -> dict | None:
    return None if cell is None else {"format": cell[0], "platform": cell[1]}


def _content_facts(scenario: Scenario) -> dict:
    """Seed-independent facts for chapter 08: the true rates per format x platform and the best cells."""
    rates = post_rates(scenario)
    best = max(rates, key=lambda cell: rates[cell][1])
    return {
        "formats": list(POST_FORMATS),
        "posts_total": scenario.posts_total,
        "posts_rule": (f"every format x platform cell gets {POSTS_PER_CELL} posts (the lucky cell only its one "
                       "small post), the rest fall on cells uniformly; views log-normal around the platform's "
                       "post size x its traffic wave; clicks ~ Binomial(views, click rate); orders ~ "
                       "Binomial(clicks, order rate / click rate)"),
        "true_rates": {platform: {fmt: {"click_rate": round(rates[(fmt, platform)][0], 5),
                                        "order_rate": round(rates[(fmt, platform)][1], 5)}
                                  for fmt in POST_FORMATS} for platform in DATA_ROOM_PLATFORMS},
        "best_cell": _cell_name(best) if scenario.content_best is not None else None,
        "best_format_by_platform": {platform: max(POST_FORMATS, key=lambda fmt: rates[(fmt, platform)][1])
                                    for platform in DATA_ROOM_PLATFORMS},
        "lucky_cell": (None if scenario.lucky_cell is None else {
            **_cell_name(scenario.lucky_cell), "views": LUCKY_POST[0], "clicks": LUCKY_POST[1],
            "orders": LUCKY_POST[2], "true_order_rate": round(rates[scenario.lucky_cell][1], 5)}),
    }


def _content_observed(scenario: Scenario, posts: pd.DataFrame) -> dict:
    """Counted from posts.csv: totals, posts per cell, the raw top cell and the top cell after a simple
    shrinkage toward the overall rate (prior worth CONTENT_PRIOR_VIEWS views)."""
    cells = posts.groupby(["format", "platform"])[["views", "clicks", "orders"]].sum()
    counts = posts.groupby(["format", "platform"]).size()
    overall = float(posts["orders"].sum() / posts["views"].sum())
    raw = cells["orders"] / cells["views"]
    shrunk = (cells["orders"] + CONTENT_PRIOR_VIEWS * overall) / (cells["views"] + CONTENT_PRIOR_VIEWS)
    as_of = default_as_of(scenario).astype("datetime64[s]")
    seen = pd.to_datetime(posts["timestamp"], format="%Y-%m-%d %H:%M:%S").to_numpy().astype("datetime64[s]") <= as_of
    return {
        "posts": len(posts),
        "posts_at_default_as_of": int(seen.sum()),
        "views": int(posts["views"].sum()),
        "clicks": int(posts["clicks"].sum()),
        "orders": int(posts["orders"].sum()),
        "overall_order_rate": round(overall, 5),
        "posts_per_cell": {platform: {fmt: int(counts.get((fmt, platform), 0)) for fmt in POST_FORMATS}
                           for platform in DATA_ROOM_PLATFORMS},
        "raw_top_cell": _cell_name(raw.idxmax()),
        "raw_top_rate": round(float(raw.max()), 5),
        "shrunk_top_cell": _cell_name(shrunk.idxmax()),
        "shrunk_top_rate": round(float(shrunk.max()), 5),
        "shrinkage_rule": f"(orders + {CONTENT_PRIOR_VIEWS:g} x overall rate) / (views + {CONTENT_PRIOR_VIEWS:g})",
    }


def _first_gap(projection: pd.DataFrame, floor: float) -> dict | None:
    below = projection[projection["closing"] < floor - 1e-9]
    if below.empty:
        return None
    lowest = projection.loc[projection["closing"].idxmin()]
    return {"gap_date": str(below["date"].iloc[0]), "gap_day": int(below["day"].iloc[0]),
            "first_shortfall": round(float(floor - below["closing"].iloc[0]), 2),
            "lowest_cash": round(float(lowest["closing"]), 2), "lowest_date": str(lowest["date"]),
            "largest_shortfall": round(float(floor - lowest["closing"]), 2)}


def _cash_facts(scenario: Scenario) -> dict:
    """Seed-independent facts for chapter 09 from `cash_projection` (its docstring states the assumptions)."""
    cash = dict(scenario.cash)
    projection = cash_projection(scenario)
    gap = _first_gap(projection, cash["cash_floor"])
    equal_mix = _first_gap(cash_projection(scenario, {p: 1 / len(DATA_ROOM_PLATFORMS) for p in DATA_ROOM_PLATFORMS}),
                           cash["cash_floor"])
    rate = expected_presale_per_day(scenario)
    allocation = cheapest_allocation(rate, dict(scenario.regional_shares))
    offers = {offer: round(effective_annual_cost(fee, term, annual), 4) for offer, _, _, fee, term, annual in FINANCING}
    return {
        "projection_assumptions": (
            "day 0 = the date of default as_of, horizon days 1..21; opening cash = cash_on_hand; from day 1 the "
            "planning rate is sold every day at the stock price, split over platforms by the data room's "
            "noise-free order mix; each day's sales reach the bank lag_days later, net of fee_share and "
            "refund_share; each planned purchase pays deposit_share x cost on day 0 and the balance "
            "balance_days after its last arrival day; logistics = cheapest warehouse split's cost per order x "
            "planning rate from day 1; the product's ads cost product_ad_spend_per_day from day 1; "
            "other_products_budget is not spent (a lever); no financing"),
        "horizon_days": CASH_HORIZON_DAYS,
        "cash_on_hand": cash["cash_on_hand"],
        "cash_floor": cash["cash_floor"],
        "other_products_budget": cash["other_products_budget"],
        "planning_rate_per_day": round(rate, 4),
        "price": scenario.price,
        "order_mix": {p: round(share, 6) for p, share in expected_order_mix(scenario).items()},
        "logistics_cost_per_order": None if allocation is None else allocation["cost_per_order"],
        "ad_spend_per_day": scenario.product_ad_spend_per_day,
        "planned_purchases": [{"supplier": sup, "units": units, "cost": cost, "last_arrival_day": last,
                               "deposit": round(SUPPLIER_TERMS[sup][0] * cost, 2),
                               "balance_day": last + SUPPLIER_TERMS[sup][1]}
                              for sup, units, cost, last in scenario.planned_purchases],
        "purchases_total": round(sum(cost for _, _, cost, _ in scenario.planned_purchases), 2),
        "deposits_day_0": round(float(projection["deposits"].iloc[0]), 2),
        "closing_by_day": [round(float(v), 2) for v in projection["closing"]],
        "gap": gap is not None,
        "gap_date": None if gap is None else gap["gap_date"],
        "gap_tolerance_days": CASH_GAP_TOLERANCE_DAYS,
        "gap_date_window": None if gap is None else [_day_after(gap["gap_date"], -CASH_GAP_TOLERANCE_DAYS),
                                                     _day_after(gap["gap_date"], CASH_GAP_TOLERANCE_DAYS)],
        "gap_detail": gap,
        "gap_with_equal_platform_mix": equal_mix,
        "lowest_cash": round(float(projection["closing"].min()), 2),
        "financing_eac_convention": "(1 + fee_share + rate_annual x term_days / 365) ^ (365 / term_days) - 1",
        "financing_effective_annual_cost": offers,
        "cheapest_financing": min(offers, key=offers.get),
        "financing_limit_total": round(sum(limit for _, _, limit, *_ in FINANCING), 2),
    }


def make_truth(scenario: Scenario, tables: dict[str, pd.DataFrame], seed: int) -> dict:
    """The answer key, from the story and from the generated tables (observed figures)."""
    start, end = scenario.validation_window
    validation = tables["validation"]
    test = validation[validation["phase"] == "test"]
    base = validation[validation["phase"] == "baseline"]
    after_first_day = (start + 24 * HOUR + STAMP_SHIFT).astype("datetime64[s]")  # first stamp after 24 h
    test_times = pd.to_datetime(test["timestamp"]).to_numpy().astype("datetime64[s]")

    def total(frame: pd.DataFrame, metric: str, mask=None) -> int:
        rows = frame["metric"] == metric
        if mask is not None:
            rows &= mask
        return int(frame.loc[rows, "count"].sum())

    base_cart_days = int((base["metric"] == "add_to_cart").sum())
    base_cart_mean = total(base, "add_to_cart") / base_cart_days
    carts_24h = total(test, "add_to_cart", pd.Series(test_times < after_first_day, index=test.index))
    default_as_of = end + 2 * HOUR
    # What chapter 02 sees at default_as_of: test rows stamped in (as_of - 48 h, as_of].
    window_opens = (default_as_of - scenario.validation_hours * HOUR).astype("datetime64[s]")
    in_default_window = (test_times > window_opens) & (test_times <= default_as_of.astype("datetime64[s]"))
    vote_rows = test[test["metric"] == "design_vote"]
    votes = {design: int(vote_rows.loc[vote_rows["design"] == design, "count"].sum()) for design in DESIGNS}
    top = max(votes.values())
    top_designs = [d for d, n in votes.items() if n == top]
    demand = tables["demand"]
    logistics = _logistics_facts(scenario, float(demand["units"].max()))

    return {
        "scenario": scenario.name,
        "story": scenario.story,
        "seed": seed,
        "timezone": TIMEZONE,
        "files": {name: file for name, (file, _) in TABLE_MAKERS.items()},
        "stamps": (
            f"hourly rows are stamped at the {'end' if HOURLY_STAMP_AT_END else 'start'} of the hour they "
            "count; daily baseline rows carry the "
            "date they count; poll invitations are stamped when sent, answers and design votes when the "
            "poll closed"
        ),
        "data_range": [_iso(DATA_START), _iso(DATA_END)],
        "real_trend": scenario.real_trend,
        "trending_series": [list(key) for key in sorted(scenario.trending_series)],
        "control_keywords": list(CONTROL_KEYWORDS),
        "keyword_groups": KEYWORD_GROUPS,
        "takeoff": {p: _iso(_when(scenario.interest[p].takeoff)) for p in PLATFORMS
                    if any(pf == p for _, pf in scenario.trending_series)},
        "interest_peak": {p: _iso(_when(scenario.interest[p].peak)) for p in PLATFORMS
                          if any(pf == p for _, pf in scenario.trending_series)},
        "bursts": [{"keyword": b.keyword, "platform": b.platform, "day": b.day, "day_ratio": b.day_ratio}
                   for b in scenario.bursts],
        "demand_takeoff": _iso(_when(scenario.demand.takeoff)),
        "peak_time": _iso(_when(scenario.demand.peak)),
        "end_time": _iso(_when(scenario.demand.fade)),
        "peak_daily_units": float(demand["units"].max()),
        "validation_window": [_iso(start), _iso(end)],
        "validation_as_of": _iso(end),
        "default_as_of": _iso(default_as_of),
        "expected": {
            "alert": scenario.real_trend,
            "first_alert_not_before": (None if scenario.first_alert_not_before is None
                                       else _iso(_when(scenario.first_alert_not_before))),
            "first_alert_no_later_than": (None if scenario.first_alert_no_later_than is None
                                          else _iso(_when(scenario.first_alert_no_later_than))),
            "first_alert_possible_from": _noise_free_alert_from(scenario),
            "decision": scenario.decision,
            "winning_design": scenario.winning_design,
            "main_warehouse_alone_insufficient": logistics["main_alone_insufficient_at_planning_rate"],
            "suppliers": _supplier_facts(scenario, tables["suppliers"], demand),
            "inventory": _inventory_facts(scenario, tables["stock"]),
            "logistics": logistics,
            "exit": _exit_facts(scenario),
            "data_room": _data_room_facts(scenario),
            "content": _content_facts(scenario),
            "cash": _cash_facts(scenario),
        },
        "observed": {
            "baseline_cart_days": base_cart_days,
            "baseline_cart_mean_per_day": round(base_cart_mean, 4),
            "test_carts_first_24h": carts_24h,
            "cart_ratio_first_24h": round(carts_24h / base_cart_mean, 4),
            "test_carts_window": total(test, "add_to_cart"),
            "validation_sales": total(test, "presale_order"),
            "validation_sales_at_default_as_of": total(
                test, "presale_order", pd.Series(in_default_window, index=test.index)),
            "usual_poll_rate": round(total(base, "poll_participated") / total(base, "poll_invited"), 4),
            "test_poll_rate": round(total(test, "poll_participated") / total(test, "poll_invited"), 4),
            "votes": votes,
            "top_voted_design": top_designs[0] if len(top_designs) == 1 else None,
            "first_order_units_at_half_validation_sales": total(
                test, "presale_order", pd.Series(in_default_window, index=test.index)) / 2,
            "urgent_orders": _urgent_observed(tables["urgent_orders"], default_as_of),
            "sales": _exit_observed(scenario, tables["sales"], tables["signals"]),
            "data_room": _data_room_observed(scenario, tables),
            "content": _content_observed(scenario, tables["posts"]),
        },
        **_aftersales_truth(scenario, tables),
        # Scenarios made on demand also carry what a closed-loop replay needs to score lost and leftover units.
        **({"replay": _replay_facts(scenario, tables)} if scenario.shape is not None else {}),
    }


# --- Truth for chapters 11 and 12 -----------------------------------------------------------------------


def _stamps_of(column: pd.Series) -> np.ndarray:
    return pd.to_datetime(column.replace("", None)).to_numpy().astype("datetime64[m]")


def retention_observed(orders: pd.DataFrame, members: pd.DataFrame, activity: pd.DataFrame, as_of: str,
                       cohort_start: str, cohort_end: str | None = None, join_days: int = 30,
                       repurchase_days: int = 60, activity_days: int = 30) -> dict:
    """The three retention rates with the definitions of issue 7 (cohort = buyers whose first spike-product
    order lies in [cohort_start, cohort_end], placed <= as_of), with counts and Wilson 95% intervals."""
    from .stats import wilson

    at = _when(as_of)
    end = at if cohort_end is None else min(_when(cohort_end), at)
    placed = _stamps_of(orders["timestamp"])
    known = placed <= at
    spike = known & (orders["product"] == SPIKE_PRODUCT).to_numpy()
    first = (pd.DataFrame({"buyer_id": orders["buyer_id"].to_numpy()[spike], "first": placed[spike]})
             .groupby("buyer_id")["first"].min())
    first_values = first.to_numpy().astype("datetime64[m]")
    in_cohort = (first_values >= _when(cohort_start)) & (first_values <= end)
    cohort = pd.Series(first_values[in_cohort], index=first.index[in_cohort])
    joined = pd.Series(_stamps_of(members["timestamp"]), index=members["buyer_id"].to_numpy())
    join_at = joined.reindex(cohort.index).to_numpy().astype("datetime64[m]")
    first_at = cohort.to_numpy().astype("datetime64[m]")
    joins = (~np.isnat(join_at)) & (join_at >= first_at) & (join_at <= first_at + join_days * DAY) & (join_at <= at)
    later = pd.DataFrame({"buyer_id": orders["buyer_id"].to_numpy()[known], "t": placed[known]})
    later = later[later["buyer_id"].isin(cohort.index)]
    later_first = cohort.reindex(later["buyer_id"]).to_numpy().astype("datetime64[m]")
    gap = later["t"].to_numpy().astype("datetime64[m]") - later_first
    repeat_buyers = set(later["buyer_id"][(gap > 24 * HOUR) & (gap <= repurchase_days * DAY)])
    members_at = (~np.isnat(join_at)) & (join_at <= at)
    member_ids = set(cohort.index[members_at])
    act_at = _stamps_of(activity["timestamp"])
    recent = (act_at > at - activity_days * DAY) & (act_at <= at)
    active_ids = set(activity["buyer_id"][recent]) & member_ids
    n = int(len(cohort))

    def rate(k: int, total: int) -> dict:
        interval = wilson(k, total)
        return {"count": int(k), "of": int(total), "rate": None if total == 0 else round(k / total, 4),
                "low": round(float(interval.low), 4), "high": round(float(interval.high), 4)}

    return {
        "as_of": as_of, "cohort_start": cohort_start, "cohort_end": str(end).replace("T", " "), "cohort_size": n,
        "join_window_days": join_days, "repurchase_window_days": repurchase_days,
        "activity_window_days": activity_days,
        "community_join": rate(int(joins.sum()), n),
        "repurchase": rate(len(repeat_buyers), n),
        "member_monthly_activity": rate(len(active_ids), len(member_ids)),
    }


def _aftersales_truth(scenario: Scenario, tables: dict[str, pd.DataFrame]) -> dict:
    orders, returns, tickets = tables["orders"], tables["returns"], tables["tickets"]
    reviews, inspections = tables["reviews"], tables["inspections"]
    at = default_as_of(scenario)
    placed, shipped = _stamps_of(orders["timestamp"]), _stamps_of(orders["shipped"])
    promised = _stamps_of(orders["promised_ship"])
    spike = (orders["product"] == SPIKE_PRODUCT).to_numpy()
    late = ~np.isnat(shipped) & (shipped > promised)
    delay_days = np.where(late, (shipped - promised) / DAY, 0.0)
    unshipped_at = (placed <= at) & (np.isnat(shipped) | (shipped > at))
    peak_mid = _days(_when(scenario.demand.peak))
    story = _aftersales(scenario)
    # Tickets: which texts the FAQ answers (by construction), the share among routine types.
    routine = tickets["type"].isin(ROUTINE_TICKET_TYPES).to_numpy()
    has_faq = np.array([f is not None for f in tickets.attrs.get("faq_id", [None] * len(tickets))], dtype=bool)
    opened = _stamps_of(tickets["timestamp"])
    responded = _stamps_of(tickets["first_response"])
    wait_h = (responded - opened) / HOUR
    before = opened < _when(scenario.demand.takeoff)
    peak_week = np.abs(_days(opened) - peak_mid) <= 3.5
    rates_at_peak = ticket_rates(scenario, [peak_mid + TICKET_LAG_DAYS[k] for k in TICKET_BASELINE])
    labels = tables["reviews"].attrs.get("labels")
    review_days = pd.Series(_stamps_of(reviews["timestamp"])).dt.strftime("%Y-%m-%d")
    daily = (pd.DataFrame({"day": review_days, "negative": labels == "negative"})
             .groupby("day")["negative"].agg(["size", "sum"]))
    insp = inspections.groupby("supplier")[["inspected", "defects"]].sum()
    return {
        "orders": {
            "spike_product": SPIKE_PRODUCT,
            "other_products": [p for p, _, _ in OTHER_PRODUCTS],
            "rows": int(len(orders)), "spike_orders": int(spike.sum()),
            "buyers": int(orders["buyer_id"].nunique()),
            "shipping_model": {"restock_per_day": RESTOCK_PER_DAY, "follow_up_per_day": FOLLOW_UP_PER_DAY,
                               "pack_per_day": PACK_PER_DAY, "promise_days": PROMISE_DAYS,
                               "stock_on_hand": scenario.stock_on_hand,
                               "planned_purchases": [[s, n, d] for s, n, _, d in scenario.planned_purchases]},
            "late_shipped": int(late.sum()),
            "late_share_spike": round(float(late[spike].mean()), 4) if spike.any() else 0.0,
            "max_delay_days": round(float(delay_days.max()), 2),
            "unshipped_at_default_as_of": int(unshipped_at.sum()),
            "default_as_of": _iso(at),
            "delivery_days": DELIVERY_DAYS,
        },
        "return_model": {**RETURN_MODEL, "delay_days_definition": "max(0, shipped - promised_ship) in days",
                         "prior_return_rate_definition": "buyer_prior_returns / buyer_prior_orders (0 if none)",
                         "request_days_after_delivery": list(RETURN_DAYS),
                         "returns": int(len(returns)),
                         "return_share_of_delivered": round(len(returns) / max(1, int((orders["delivered"] != "").sum())), 4),
                         "reasons": {k: int(v) for k, v in returns["reason"].value_counts().sort_index().items()}},
        "tickets": {
            "rows": int(len(tickets)),
            "by_type": {kind: {"baseline_per_day": TICKET_BASELINE[kind],
                               "peak_per_day": round(float(rates_at_peak[kind][i]), 3),
                               "peak_multiple": round(float(rates_at_peak[kind][i]) / TICKET_BASELINE[kind], 3),
                               "peak_day": _iso((_when(scenario.demand.peak) + np.int64(round(TICKET_LAG_DAYS[kind] * 24)) * HOUR)),
                               "count": int((tickets["type"] == kind).sum())}
                        for i, kind in enumerate(TICKET_BASELINE)},
            "routine_types": list(ROUTINE_TICKET_TYPES),
            "routine_with_faq_answer_share": round(float(np.mean(has_faq[routine])), 4) if routine.any() else None,
            "first_response_median_hours_before_spike": round(float(np.nanmedian(wait_h[before])), 2),
            "first_response_median_hours_peak_week": (round(float(np.nanmedian(wait_h[peak_week])), 2)
                                                      if peak_week.any() else None),
            "share_within_2h_peak_week": (round(float(np.mean(wait_h[peak_week] <= 2.0)), 4)
                                          if peak_week.any() else None),
            "open_at_default_as_of": int(((opened <= at) & (np.isnat(responded) | (responded > at))).sum()),
        },
        "faq": {"entries": len(FAQ_ENTRIES)},
        "reviews": {
            "rows": int(len(reviews)),
            "english_share": round(float(reviews["text"].str.match(r"^[A-Za-z]").mean()), 4) if len(reviews) else 0.0,
            "negative_share": round(float(np.mean(labels == "negative")), 4) if len(reviews) else 0.0,
            "daily_negative": {day: [int(row["size"]), int(row["sum"]), round(row["sum"] / row["size"], 4)]
                               for day, row in daily.iterrows()},
            "daily_negative_columns": ["reviews", "negative", "share"],
        },
        "inspections": {
            "defect_rates": dict(story.defect_rates),
            "worst_supplier": max(story.defect_rates, key=lambda x: x[1])[0],
            "observed": {s: [int(r["defects"]), int(r["inspected"])] for s, r in insp.iterrows()},
            "batches": int(inspections["batch_id"].nunique()),
        },
        "retention": retention_observed(orders, tables["members"], tables["member_activity"], RETRO_AS_OF,
                                        cohort_start=scenario.demand.takeoff[:10] + " 00:00"),
        "retention_story": {"join_rate": story.join_rate, "repurchase_rate": story.repurchase_rate,
                            "active_rate": story.active_rate},
    }

# --------------------------------------------------------------------------------------------------
# Writing, loading, checking


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    # Fixed text: UTF-8 without BOM, '\n' line ends, integers as integers, two-decimal floats.
    path.write_bytes(frame.to_csv(index=False, lineterminator="\n", float_format="%.2f").encode("utf-8"))


def _json_text(value, indent: int = 0) -> str:
    """Indented JSON with short lists of plain values kept on one line (easier to read and diff)."""
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(str(k), ensure_ascii=False)}: {_json_text(v, indent + 2)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and value and any(isinstance(v, (dict, list)) for v in value):
        return "[\n" + ",\n".join(inner + _json_text(v, indent + 2) for v in value) + "\n" + pad + "]"
    return json.dumps(value, ensure_ascii=False)


def generate(name: str, out_dir: Path | str, seed: int | None = None) -> dict[str, Path]:
    """Write one built-in scenario's files into ``out_dir`` (created if needed); returns {file name: path}.
    The same name and seed always give byte-identical files."""
    return generate_scenario(get_scenario(name), out_dir, seed)


def generate_scenario(scenario: Scenario, out_dir: Path | str, seed: int | None = None) -> dict[str, Path]:
    """Write any scenario's tables and truth.json into ``out_dir`` (created if needed); returns {file name:
    path}. ``seed`` defaults to the scenario's own; the same scenario and seed give byte-identical files."""
    seed = scenario.seed if seed is None else int(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables: dict[str, pd.DataFrame] = {}
    for table, (_, maker) in TABLE_MAKERS.items():
        inputs = {name: tables[name] for name in TABLE_INPUTS.get(table, ())}
        tables[table] = maker(scenario, _rng(seed, table), **inputs)
    written = {}
    for table, (file_name, _) in TABLE_MAKERS.items():
        _write_csv(tables[table], out / file_name)
        written[file_name] = out / file_name
    truth = make_truth(scenario, tables, seed)
    (out / "truth.json").write_bytes((_json_text(truth) + "\n").encode("utf-8"))
    written["truth.json"] = out / "truth.json"
    return written


def samples_dir(data_root: Path | str | None = None) -> Path:
    root = default_data_root() if data_root is None else Path(data_root).resolve()
    return resolve_under(root, SAMPLES_DIR, "samples folder")


def generate_all(data_root: Path | str | None = None) -> dict[str, dict[str, Path]]:
    """Regenerate every scenario under ``<data_root>/samples/<name>/`` (default: the project's data/)."""
    base = samples_dir(data_root)
    return {name: generate(name, base / name) for name in SCENARIOS}


def load_truth(name: str, data_root: Path | str | None = None) -> dict:
    """The answer key of a generated scenario (``<data_root>/samples/<name>/truth.json``)."""
    check_name(name, "sample scenario")
    folder = resolve_under(samples_dir(data_root), name, "sample scenario")
    path = folder / "truth.json"
    if not path.is_file():
        known = ", ".join(SCENARIOS)
        raise ConfigError(
            f"no sample scenario {name!r} under {folder.parent}. Fix: use one of {known}, or run "
            "`python -m spikekit.samples` to (re)generate them"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def check(data_root: Path | str | None = None) -> list[str]:
    """Regenerate into a temporary folder and list every committed file that differs or is missing."""
    base = samples_dir(data_root)
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in SCENARIOS:
            for file_name, fresh in generate(name, Path(tmp) / name).items():
                committed = base / name / file_name
                if not committed.is_file():
                    problems.append(f"{committed}: missing")
                elif committed.read_bytes() != fresh.read_bytes():
                    problems.append(f"{committed}: differs from a fresh generation")
    return problems


# --------------------------------------------------------------------------------------------------
# Scenarios on demand: a shape's template, its parameters drawn from a seed
#
# `new_scenario(name, seed, shape)` builds a Scenario of the same shop from one of SHAPES; `create` writes its
# tables and truth.json into <data root>/generated/<name>/ and a spike file <playbook>/spikes/<name>.yaml.
# Every draw comes from one stream of its own (seed + "scenario:<shape>"), the tables from their usual streams,
# so the same name, seed and shape give the same files.

GENERATED_DIR = "generated"  # <data root>/generated/<name>/ (ignored by git: reproducible from the seed)
SHAPES: dict[str, str] = {
    "slow": "a long gentle rise over 2-3 weeks and a long tail; validation strong: go",
    "fast": "demand peaks 4-5 days after takeoff and is gone by about day 8; validation strong: go",
    "double": "a first demand bump, then a bigger second wave; validation (in the first bump) strong: go",
    "flop": "interest rises on social platforms but demand never comes; validation weak: no-go",
    "steady": "no spike at all, every series steady (a control); validation weak: no-go",
}
GO_SHAPES = ("slow", "fast", "double")
GENERATED_SPIKE_MARKER = "# Generated by `python -m spikekit.samples new`"
DESIGN_SKU = {"星空蓝": "blue", "银河紫": "purple", "极光绿": "green", "晨曦粉": "pink", "夜幕黑": "black"}
PRICES = (39.0, 42.0, 45.0, 49.0, 52.0, 55.0, 59.0)
# Supplier news a generated story may carry: (supplier, column, new value), one of them or two.
SUPPLIER_NEWS_OPTIONS: tuple[tuple[str, str, float | int], ...] = (
    ("杭州星辰陶瓷", "material_ready_day", 4.0),  # glaze material is scarce: the best A supplier waits a day longer
    ("杭州星辰陶瓷", "material_ready_day", 5.0),
    ("潮州瓷都制品", "material_units", 150),  # holds more material than usual
    ("德化白瓷坊", "daily_capacity", 30),  # a kiln is down
    ("醴陵釉下彩厂", "lead_days", 4.0),  # its courier is slower
    ("宜兴陶艺工作室", "unit_cost", 17.5),  # raises its price
)
# Generated stories use every supplier, so each needs a true defect rate (chapter 11's inspections).
GENERATED_DEFECTS = _DEFECTS + (("醴陵釉下彩厂", 0.030), ("淄博日用瓷", 0.040), ("唐山骨瓷", 0.025),
                                ("景德镇青花窑", 0.020), ("佛山大宗陶瓷", 0.050))
SOCIAL_PLATFORMS = ("小红书", "抖音")


class _Draws:
    """The seed's parameter draws, each remembered (as used) for the answer key."""

    def __init__(self, seed: int, shape: str):
        self.rng = _rng(seed, f"scenario:{shape}")
        self.drawn: dict[str, object] = {}

    def uniform(self, key: str, low: float, high: float, digits: int = 2) -> float:
        value = round(float(self.rng.uniform(low, high)), digits)
        self.drawn[key] = value
        return value

    def integer(self, key: str, low: int, high: int) -> int:
        """A whole number in [low, high], both included."""
        value = int(self.rng.integers(low, high + 1))
        self.drawn[key] = value
        return value

    def choice(self, key: str, options):
        value = options[int(self.rng.integers(len(options)))]
        self.drawn[key] = value
        return value


def _text_at(start: np.datetime64, days: float) -> str:
    """'YYYY-MM-DD HH:MM' of start + days, to the whole hour."""
    when = start + np.int64(round(days * 24)) * HOUR
    return str(when.astype("datetime64[m]")).replace("T", " ")


def _day_text(day: np.datetime64) -> str:
    return str(np.datetime64(day, "D"))


def _pulse_after(start: np.datetime64, takeoff: float, rise: float, fall: float) -> Pulse:
    """A pulse taking off ``takeoff`` days after start, peaking ``rise`` days later, fading ``fall`` after that."""
    return Pulse(_text_at(start, takeoff), _text_at(start, takeoff + rise), _text_at(start, takeoff + rise + fall))


def _shifted(pulse: Pulse, days: float) -> Pulse:
    shift = np.int64(round(days * 24)) * HOUR
    return Pulse(*(str((_when(t) + shift).astype("datetime64[m]")).replace("T", " ")
                   for t in (pulse.takeoff, pulse.peak, pulse.fade)))


def _story_draws(draws: _Draws, shape: str) -> dict:
    """Timing, wave sizes and validation strength of one shape, in days after t0 (the first takeoff).

    Shapes with an interest wave start their validation on the day an alert first becomes possible with
    noise-free data (`_noise_free_alert_from`), at 10:00, as the samples do (``validation_wait_days`` later
    for a slow rise): `new_scenario` sets it once the waves are known. ``alert_by`` is the latest acceptable
    first alert."""
    d = draws
    if shape == "fast":  # like fast-fade: interest up on 小红书 and 抖音 at once, demand peaks 4.5-5.5 days in
        t0 = np.datetime64("2025-02-20T00:00") + d.integer("t0_days_after_2025_02_20", 0, 22) * DAY
        xhs = _pulse_after(t0, 0.0, d.uniform("interest_rise_days", 2.5, 3.5, 1),
                           d.uniform("interest_fall_days", 2.5, 3.5, 1))
        demand = _pulse_after(t0, 1.0, d.uniform("demand_rise_days", 3.5, 4.5, 1),
                              d.uniform("demand_fall_days", 2.5, 3.5, 1))
        return dict(t0=t0, interest={"小红书": xhs, "抖音": _shifted(xhs, 0.25), "淘宝": demand}, demand=demand,
                    extra=d.uniform("demand_peak_extra_per_day", 180, 360, 0), social_amp=(18, 26),
                    taobao_amp=(10, 16), cart_lift=d.uniform("cart_lift_24h", 8.0, 12.0),
                    poll=d.uniform("poll_rate", 0.25, 0.31, 3), traffic=d.uniform("traffic_amplitude", 10.0, 16.0, 1),
                    alert_by=demand.peak)
    if shape == "slow":  # a gentle rise over 2-3 weeks and a long tail; demand lags interest by a few days
        t0 = np.datetime64("2025-02-10T00:00") + d.integer("t0_days_after_2025_02_10", 0, 8) * DAY
        xhs = _pulse_after(t0, 0.0, d.uniform("interest_rise_days", 11.0, 14.0, 1),
                           d.uniform("interest_fall_days", 10.0, 14.0, 1))
        dy = _pulse_after(t0, d.uniform("douyin_lag_days", 1.0, 3.0, 1), d.uniform("douyin_rise_days", 11.0, 14.0, 1),
                          d.uniform("douyin_fall_days", 10.0, 14.0, 1))
        demand = _pulse_after(t0, d.uniform("demand_lag_days", 3.0, 5.0, 1), d.uniform("demand_rise_days", 12.0, 15.0, 1),
                              d.uniform("demand_fall_days", 12.0, 16.0, 1))
        return dict(t0=t0, interest={"小红书": xhs, "抖音": dy, "淘宝": demand}, demand=demand,
                    extra=d.uniform("demand_peak_extra_per_day", 220, 420, 0), social_amp=(24, 34),
                    taobao_amp=(14, 20), cart_lift=d.uniform("cart_lift_24h", 8.0, 11.0),
                    poll=d.uniform("poll_rate", 0.25, 0.30, 3), traffic=d.uniform("traffic_amplitude", 10.0, 16.0, 1),
                    alert_by=_text_at(_when(demand.peak), -5.0),
                    validation_wait_days=3)  # a gentle rise takes longer to stand out of the noise
    if shape == "double":  # a first bump, a lull, then a bigger second wave (interest and demand alike)
        t0 = np.datetime64("2025-02-12T00:00") + d.integer("t0_days_after_2025_02_12", 0, 12) * DAY
        first = _pulse_after(t0, 0.0, d.uniform("first_rise_days", 2.5, 3.5, 1), d.uniform("first_fall_days", 3.0, 4.0, 1))
        second = _pulse_after(t0, d.uniform("second_takeoff_days", 9.5, 11.0, 1), d.uniform("second_rise_days", 4.0, 6.0, 1),
                              d.uniform("second_fall_days", 4.0, 6.0, 1))
        # Talk of the first bump is nearly as loud as of the second; its sales are a fraction of the second's.
        loud = d.uniform("first_interest_height", 0.6, 0.8)
        height = d.uniform("first_demand_height", 0.3, 0.5)
        demand_first = _pulse_after(t0, 1.0, d.uniform("first_demand_rise_days", 3.5, 4.5, 1),
                                    d.uniform("first_demand_fall_days", 3.0, 4.0, 1))
        demand = Waves((demand_first, _shifted(second, 1.0)), (height, 1.0))
        interest = {"小红书": Waves((first, second), (loud, 1.0)),
                    "抖音": Waves((_shifted(first, 0.25), _shifted(second, 0.5)), (loud, 1.0)), "淘宝": demand}
        return dict(t0=t0, interest=interest, demand=demand,
                    extra=d.uniform("demand_peak_extra_per_day", 250, 420, 0), social_amp=(20, 28),
                    taobao_amp=(10, 16), cart_lift=d.uniform("cart_lift_24h", 8.0, 12.0),
                    poll=d.uniform("poll_rate", 0.25, 0.31, 3), traffic=d.uniform("traffic_amplitude", 10.0, 16.0, 1),
                    alert_by=demand_first.peak)
    if shape == "flop":  # people talk about it on social platforms, nobody buys: demand a few units a day
        t0 = np.datetime64("2025-02-18T00:00") + d.integer("t0_days_after_2025_02_18", 0, 20) * DAY
        xhs = _pulse_after(t0, 0.0, d.uniform("interest_rise_days", 4.0, 6.0, 1), d.uniform("interest_fall_days", 4.0, 7.0, 1))
        demand = _pulse_after(t0, 1.0, d.uniform("demand_rise_days", 4.0, 6.0, 1), d.uniform("demand_fall_days", 4.0, 6.0, 1))
        return dict(t0=t0, interest={"小红书": xhs, "抖音": _shifted(xhs, 0.5)}, demand=demand,
                    extra=d.uniform("demand_peak_extra_per_day", 3, 15, 1), social_amp=(16, 24), taobao_amp=None,
                    cart_lift=d.uniform("cart_lift_24h", 1.0, 2.2), poll=d.uniform("poll_rate", 0.10, 0.15, 3),
                    traffic=d.uniform("traffic_amplitude", 1.0, 3.0, 1), alert_by=_text_at(_when(xhs.peak), 1.0))
    if shape == "steady":  # no wave anywhere; demand wobbles by at most a few units around its base
        t0 = np.datetime64("2025-02-25T00:00") + d.integer("t0_days_after_2025_02_25", 0, 18) * DAY
        return dict(t0=t0, interest={}, demand=_pulse_after(t0, 0.0, 2.0, 2.0),
                    extra=d.uniform("demand_peak_extra_per_day", 0.0, 2.0, 1), social_amp=None, taobao_amp=None,
                    cart_lift=d.uniform("cart_lift_24h", 0.9, 1.4), poll=d.uniform("poll_rate", 0.10, 0.14, 3),
                    traffic=d.uniform("traffic_amplitude", 0.0, 0.3, 2), alert_by=None)
    raise ConfigError(f"unknown shape {shape!r}. Fix: use one of {', '.join(SHAPES)}")


def _amplitudes(draws: _Draws, social: tuple[float, float] | None,
                taobao: tuple[float, float] | None) -> dict[tuple[str, str], float]:
    """Wave size per trending series: product words and the scene word on the social platforms, product words
    on 淘宝; the scene word moves about half as much as the product words."""
    sizes: dict[tuple[str, str], float] = {}
    for platform in SOCIAL_PLATFORMS if social else ():
        for keyword in PRODUCT_KEYWORDS:
            sizes[(keyword, platform)] = draws.uniform(f"amplitude {keyword}@{platform}", *social, 1)
        sizes[(SCENE_KEYWORDS[0], platform)] = draws.uniform(f"amplitude {SCENE_KEYWORDS[0]}@{platform}",
                                                             social[0] / 2, social[1] / 2, 1)
    for keyword in PRODUCT_KEYWORDS if taobao else ():
        sizes[(keyword, "淘宝")] = draws.uniform(f"amplitude {keyword}@淘宝", *taobao, 1)
    return sizes


def _regional_shares(draws: _Draws) -> tuple[tuple[str, float], ...]:
    """The usual regional split, perturbed (Dirichlet), in whole percent summing to 100."""
    base = np.array([share for _, share in DEFAULT_REGIONAL_SHARES])
    drawn = draws.rng.dirichlet(base * 150.0)
    percent = np.maximum(np.round(drawn * 100), 3).astype(int)
    percent[0] += 100 - percent.sum()  # 华东, the largest, takes the rounding
    shares = tuple((region, int(p) / 100) for (region, _), p in zip(DEFAULT_REGIONAL_SHARES, percent))
    draws.drawn["regional_shares"] = dict(shares)
    return shares


def _design_preference(draws: _Draws, go: bool) -> tuple[dict[str, float], str | None]:
    """Go: one design wins clearly (38-48% of the votes, every other at most 22%). No-go: votes spread."""
    if not go:
        spread = draws.rng.dirichlet(np.full(len(DESIGNS), 200.0))
        draws.drawn["design_preference"] = {design: round(float(share), 3) for design, share in zip(DESIGNS, spread)}
        return draws.drawn["design_preference"], None
    winner = draws.choice("winning_design", DESIGNS)
    top = draws.uniform("winning_share", 0.38, 0.48)
    others = [design for design in DESIGNS if design != winner]
    rest = draws.rng.dirichlet(np.full(len(others), 30.0)) * (1.0 - top)
    rest = np.minimum(rest, 0.22)
    preference = {winner: top, **{design: round(float(share), 3) for design, share in zip(others, rest)}}
    draws.drawn["design_preference"] = {design: preference[design] for design in DESIGNS}
    return draws.drawn["design_preference"], winner


def _funnel(draws: _Draws, with_poor_and_strong: bool):
    """(funnel rates, poor platform, strong platform): alike everywhere, or one platform converting credibly
    worse (1.0-1.5% of views) and one better (3.8-4.5%) than the others (2.6-3.4%)."""
    if not with_poor_and_strong:
        return DEFAULT_FUNNEL_RATES, None, None
    poor = draws.choice("poor_platform", DATA_ROOM_PLATFORMS)
    strong = draws.choice("strong_platform", tuple(p for p in DATA_ROOM_PLATFORMS if p != poor))
    rates = []
    for platform in DATA_ROOM_PLATFORMS:
        cart = round(float(draws.rng.uniform(0.09, 0.12)), 2)
        low, high = (0.010, 0.015) if platform == poor else (0.038, 0.045) if platform == strong else (0.026, 0.034)
        rates.append((platform, cart, round(float(draws.rng.uniform(low, high)), 3)))
    draws.drawn["funnel_rates"] = {p: [c, o] for p, c, o in rates}
    return tuple(rates), poor, strong


def _audience_shift(draws: _Draws, validation_start: np.datetime64) -> AudienceShift:
    """One segment grows on one platform from a window start a day or two into the validation."""
    platform = draws.choice("audience_shift_platform", ("小红书", "抖音", "快手"))
    segment = draws.choice("audience_shift_segment", AUDIENCE_SEGMENTS[:3])
    from_share = AUDIENCE_MIX[platform][AUDIENCE_SEGMENTS.index(segment)]
    to_share = round(from_share + draws.uniform("audience_shift_gain", 0.15, 0.25), 2)
    at = validation_start.astype("datetime64[D]") + draws.integer("audience_shift_days_after_validation", 1, 2) * DAY
    return AudienceShift(platform, segment, from_share, to_share, _text_at(at.astype("datetime64[m]"), 0.0))


def _price_changes(draws: _Draws, fade: str) -> tuple[tuple[str, float], ...]:
    """Discounts on every other day after demand has faded (so the price response can be told from the trend),
    within the data range."""
    first = _when(fade).astype("datetime64[D]") + DAY
    last = DATA_END.astype("datetime64[D]")
    discounts = (0.10, 0.20, 0.30, 0.20, 0.10)
    changes = tuple((_day_text(first + 2 * i * DAY), discounts[i]) for i in range(len(discounts))
                    if first + 2 * i * DAY <= last)
    draws.drawn["price_changes"] = dict(changes)
    return changes


def greedy_purchases(scenario: Scenario) -> tuple[tuple[str, int, float, int], ...]:
    """The generator's stand-in for chapter 03's order at default as_of (not its optimum): cover the planning
    rate over the horizon, less the stock on hand, from tier A then tier B suppliers, cheapest first within a
    tier, each up to what it can deliver in the horizon at 70% of capacity (minimum orders respected).
    Returns (supplier, units, cost = units x unit_cost + setup_cost, last arrival day)."""
    suppliers = make_suppliers(scenario)
    rate = expected_presale_per_day(scenario)
    remaining = max(0, round(rate * SUPPLY_HORIZON_DAYS) - scenario.stock_on_hand)
    plan = []
    for _, row in suppliers[suppliers["tier"].isin(["A", "B"])].sort_values(["tier", "unit_cost"]).iterrows():
        if remaining <= 0:
            break
        lead = math.ceil(row["lead_days"])
        units = min(remaining, producible_units(row, SUPPLY_HORIZON_DAYS - lead))
        if units < row["min_order"]:
            continue
        making = next(day for day in range(1, SUPPLY_HORIZON_DAYS + 1) if producible_units(row, day) >= units)
        cost = round(units * float(row["unit_cost"]) + float(row["setup_cost"]), 2)
        plan.append((str(row["supplier"]), int(units), cost, int(making + lead)))
        remaining -= units
    return tuple(plan)


def new_scenario(name: str, seed: int, shape: str) -> Scenario:
    """A new scenario of the same shop: the template of ``shape`` (see SHAPES) with its parameters (timing, wave
    sizes, validation strength, price, stock, supplier news, funnel, ...) drawn from ``seed``."""
    check_name(name, "scenario name")
    if name in SCENARIOS:
        raise ConfigError(f"scenario name {name!r} is a built-in sample scenario. Fix: choose another name")
    if shape not in SHAPES:
        raise ConfigError(f"unknown shape {shape!r}. Fix: use one of {', '.join(SHAPES)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed {seed!r} must be a whole number >= 0")
    seed = int(seed)
    draws = _Draws(seed, shape)
    go = shape in GO_SHAPES
    story = _story_draws(draws, shape)
    demand = story["demand"]
    t0 = story["t0"]
    validation_start = t0 + DAY + 10 * HOUR  # without an interest wave; else set from the waves below
    base = draws.uniform("demand_base_per_day", 6.0, 12.0, 1)
    price = draws.choice("price", PRICES)
    preference, winner = _design_preference(draws, go)
    funnel, poor, strong = _funnel(draws, shape != "steady")
    news_count = draws.integer("supplier_news_count", 0, 2)
    picks = draws.rng.choice(len(SUPPLIER_NEWS_OPTIONS), size=news_count, replace=False)
    news: dict[tuple[str, str], float | int] = {}
    for i in sorted(int(k) for k in picks):  # one value per supplier x column
        supplier, column, value = SUPPLIER_NEWS_OPTIONS[i]
        news.setdefault((supplier, column), value)
    supplier_news = tuple((supplier, column, value) for (supplier, column), value in news.items())
    draws.drawn["supplier_news"] = [list(item) for item in supplier_news]
    formats_cells = [(fmt, platform) for fmt in POST_FORMATS for platform in DATA_ROOM_PLATFORMS]
    content_best = lucky = None
    if shape != "steady":
        content_best = draws.choice("content_best", formats_cells)
        lucky = draws.choice("lucky_cell", [cell for cell in formats_cells if cell != content_best])
    cash_on_hand = float(draws.integer("cash_on_hand_thousands", 14, 30) * 1000)
    stock = draws.integer("stock_on_hand", 20, 80)
    scenario = Scenario(
        name=name,
        story="",  # written below, once every number is known
        seed=seed,
        real_trend=shape != "steady",
        interest=story["interest"],
        amplitude=_amplitudes(draws, story["social_amp"], story["taobao_amp"]),
        bursts=(),
        demand=demand,
        demand_peak_extra_per_day=story["extra"],
        validation_start=_text_at(validation_start, 0.0),
        cart_lift_24h=story["cart_lift"],
        poll_rate=story["poll"],
        design_preference=preference,
        decision="go" if go else "no-go",
        winning_design=winner,
        first_alert_not_before=None if story["alert_by"] is None else _text_at(t0, 1.0),
        first_alert_no_later_than=story["alert_by"],
        demand_base_per_day=base,
        sku="starry-mug-" + (DESIGN_SKU[winner] if winner else "classic"),
        price=price,
        stock_on_hand=stock,
        regional_shares=_regional_shares(draws),
        supplier_news=supplier_news,
        price_changes=_price_changes(draws, demand.fade),
        price_elasticity=-draws.uniform("price_elasticity_magnitude", 1.5, 2.8),
        traffic_amplitude=story["traffic"],
        funnel_rates=funnel,
        poor_platform=poor,
        strong_platform=strong,
        posts_total=draws.integer("posts_total", 48, 70) if shape != "steady" else draws.integer("posts_total", 36, 44),
        content_best=content_best,
        content_best_boost=draws.uniform("content_best_boost", 1.4, 1.8) if content_best else 1.6,
        lucky_cell=lucky,
        cash=(("cash_on_hand", cash_on_hand), ("cash_floor", 5000.0), ("other_products_budget", 8000.0)),
        product_ad_spend_per_day=float(draws.integer("ad_spend_per_day_hundreds", 5, 15) * 100) if go else 0.0,
        shape=shape,
        aftersales=AfterSales(join_rate=draws.uniform("join_rate", 0.08, 0.20),
                              repurchase_rate=draws.uniform("repurchase_rate", 0.06, 0.15),
                              active_rate=draws.uniform("active_rate", 0.12, 0.30),
                              defect_rates=GENERATED_DEFECTS),
    )
    possible = _noise_free_alert_from(scenario)
    if possible is not None:  # the shop validates on the day an alert becomes possible, as in the samples
        validation_start = (np.datetime64(possible[:10], "D") + story.get("validation_wait_days", 0) * DAY
                            ).astype("datetime64[m]") + 10 * HOUR
        scenario = replace(scenario, validation_start=_text_at(validation_start, 0.0))
    if go:
        scenario = replace(scenario, audience_shift=_audience_shift(draws, validation_start))
        scenario = replace(scenario, planned_purchases=greedy_purchases(scenario))
    scenario = replace(scenario, draws=tuple(draws.drawn.items()))
    return replace(scenario, story=_generated_story(scenario))


def _generated_story(scenario: Scenario) -> str:
    dates, units = daily_demand(scenario)
    peak = int(units.argmax())
    waves = scenario.interest
    interest = ("no interest wave on any platform" if not waves else "interest takes off on "
                + ", ".join(f"{platform} from {waves[platform].takeoff}" for platform in waves))
    demand = (f"true demand stays near its base of {scenario.demand_base_per_day:g} units a day (at most "
              f"{units.max():.1f})" if scenario.shape in ("steady", "flop") else
              f"true demand peaks on {_day_text(dates[peak])} at {units[peak]:.0f} units a day and fades by "
              f"{scenario.demand.fade[:10]}")
    if isinstance(scenario.demand, Waves):
        first = scenario.demand.pulses[0]
        demand += f", after a first bump that peaks on {first.peak[:10]}"
    votes = (f"{scenario.winning_design} wins the design vote" if scenario.winning_design
             else "votes spread over the five designs")
    return (f"Generated '{scenario.shape}' scenario, seed {scenario.seed}: {SHAPES[scenario.shape]}. "
            f"{interest[0].upper() + interest[1:]}; {demand}. The validation from {scenario.validation_start} "
            f"sees add-to-cart about {scenario.cart_lift_24h:g}x the usual daily level in its first 24 hours, "
            f"{scenario.poll_rate:.0%} poll participation against the usual {scenario.usual_poll_rate:.0%}, and "
            f"{votes}: {scenario.decision}.")


def _replay_facts(scenario: Scenario, tables: dict[str, pd.DataFrame]) -> dict:
    """What a closed-loop replay needs to score lost and leftover units: the true demand per day (demand.csv's
    days and values), the decision, the peak, unit economics, the price response and the suppliers' lead times."""
    demand = tables["demand"]
    units = demand["units"].to_numpy(dtype=float)
    peak = int(units.argmax())
    pulses = scenario.demand.pulses if isinstance(scenario.demand, Waves) else (scenario.demand,)
    heights = scenario.demand.heights if isinstance(scenario.demand, Waves) else (1.0,)
    stock = tables["stock"].iloc[0]
    suppliers = tables["suppliers"]
    spike = scenario.shape != "steady"
    return {
        "shape": scenario.shape,
        "shape_description": SHAPES[scenario.shape],
        "decision": scenario.decision,
        "peak_day": str(demand["date"].iloc[peak]) if spike else None,
        "peak_units_per_day": round(float(units[peak]), 2),
        "base_units_per_day": scenario.demand_base_per_day,
        "demand_waves": [{"takeoff": _iso(_when(p.takeoff)), "peak": _iso(_when(p.peak)), "fade": _iso(_when(p.fade)),
                          "peak_extra_per_day": round(h * scenario.demand_peak_extra_per_day, 2)}
                         for p, h in zip(pulses, heights)],
        "demand_rule": ("true demand (units/day) = base + the sum over waves of peak_extra_per_day x the wave's "
                        "pulse (5% of its peak at takeoff and fade); after the last date it stays at the base"),
        "true_demand_units_per_day": {str(day): round(float(u), 2) for day, u in zip(demand["date"], units)},
        "true_demand_total": round(float(units.sum()), 1),
        "unit_cost": float(stock["unit_cost"]),
        "price": float(stock["price"]),
        "price_elasticity": scenario.price_elasticity,
        "price_rule": "orders = true demand x weekday factor x (price / base price) ^ price_elasticity",
        "salvage_value": float(stock["salvage_value"]),
        "holding_cost_per_day": float(stock["holding_cost_per_day"]),
        "stock_on_hand": int(stock["on_hand"]),
        "supplier_lead_days": {str(row.supplier): float(row.lead_days) for row in suppliers.itertuples()},
        "supplier_unit_cost": {str(row.supplier): float(row.unit_cost) for row in suppliers.itertuples()},
        "planned_purchases": [{"supplier": s, "units": n, "cost": c, "last_arrival_day": d}
                              for s, n, c, d in scenario.planned_purchases],
        "drawn_parameters": {key: value for key, value in scenario.draws},
    }


def generated_dir(data_root: Path | str | None = None) -> Path:
    root = default_data_root() if data_root is None else Path(data_root).resolve()
    return resolve_under(root, GENERATED_DIR, "generated scenarios folder")


# The sample shop's product as the chapters are told it (playbook.yaml names no product): the search series the
# decline rule watches, the facts the content kit is drafted from, the product in the orders table. The samples'
# spike files set the same values.
SAMPLE_PRODUCT_PARAMETERS = {
    "06": {"search_keyword": "星空杯", "search_platform": "淘宝"},
    "08": {"product_facts": {"name": SPIKE_PRODUCT, "material": "ceramic with a glazed starry pattern",
                             "capacity": "350 ml", "price": "49 yuan", "ships_in_days": 3,
                             "care": "Dishwasher safe; not for the microwave because of the metallic glaze."}},
    "11": {"product": SPIKE_PRODUCT},
    "12": {"product": SPIKE_PRODUCT},
}


def spike_file_text(scenario: Scenario) -> str:
    """The spike file of a generated scenario, like the samples' (data paths under the data root)."""
    folder = f"{GENERATED_DIR}/{scenario.name}"
    groups = "\n".join(f"      {group}: [{', '.join(words)}]" for group, words in KEYWORD_GROUPS.items())
    as_of = str(default_as_of(scenario)).replace("T", " ")
    summary = (f"generated {scenario.shape} scenario, seed {scenario.seed}: {SHAPES[scenario.shape]}")
    data = "\n".join(f"  {table}: {folder}/{file}" for table, (file, _) in TABLE_MAKERS.items() if table != "demand")
    return (f"{GENERATED_SPIKE_MARKER} --seed {scenario.seed} --shape {scenario.shape}.\n"
            f"# Reproducible from the seed; the answer key is {folder}/truth.json under the data root.\n"
            f"description: {json.dumps(summary, ensure_ascii=False)}\n"
            f"timezone: {TIMEZONE}\n"
            f'default_as_of: "{as_of}"\n'
            f"data:\n{data}\n"
            "parameters:\n"
            '  "01":\n'
            "    keyword_groups:\n"
            f"{groups}\n"
            '  "09":\n'
            f"    ad_spend_per_day: {scenario.product_ad_spend_per_day:.1f}     # this product's own ad spend\n"
            + "".join(f'  "{chapter}":\n' + "".join(f"    {key}: {json.dumps(value, ensure_ascii=False)}\n"
                                                   for key, value in values.items())
                      for chapter, values in SAMPLE_PRODUCT_PARAMETERS.items()))


def _ignore_generated_spike(spikes: Path, file_name: str) -> None:
    """List a generated spike file in ``<spikes>/.gitignore`` (which ignores itself), so a scenario made on demand
    is never committed by accident: like its data under ``generated/``, it is reproducible from its seed."""
    ignore = spikes / ".gitignore"
    lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.is_file() else []
    if not lines:
        lines = ["# Spike files written by `python -m spikekit.samples new` (reproducible from their seed)", ".gitignore"]
    if file_name not in lines:
        lines.append(file_name)
        ignore.write_text("\n".join(lines) + "\n", encoding="utf-8")


def create(name: str, seed: int, shape: str, data_root: Path | str | None = None,
           playbook: Path | str | None = None, force: bool = False) -> tuple[Path, Path]:
    """Make scenario ``name`` from ``seed`` and ``shape``: its files under <data root>/generated/<name>/ and
    its spike file <playbook>/spikes/<name>.yaml. Refuses an existing folder or spike file unless ``force``
    (and even then a spike file this command did not write). Built aside and moved in, so a failure leaves
    nothing half-written. Returns (data folder, spike file)."""
    scenario = new_scenario(name, seed, shape)  # checks name, shape and seed first
    root = default_data_root() if data_root is None else Path(data_root).resolve()
    book = default_playbook_dir() if playbook is None else Path(playbook).resolve()
    for folder, what, option in ((root, "data root", "--data-root"), (book, "playbook folder", "--playbook")):
        if not folder.is_dir():
            raise ConfigError(f"{what} {folder} does not exist. Fix: give an existing folder with {option}")
    base = generated_dir(root)
    target = resolve_under(base, name, "scenario folder")
    spikes = book / "spikes"
    spike_file = spikes / f"{name}.yaml"
    existing = [str(p) for p in (target, spike_file) if p.exists() or p.is_symlink()]
    if existing and not force:
        raise ConfigError(f"scenario {name!r} exists already ({', '.join(existing)}). "
                          "Fix: choose another name, or pass --force to replace it")
    if spike_file.is_file():
        with spike_file.open(encoding="utf-8", errors="replace") as handle:
            first_line = handle.readline()
        if not first_line.startswith(GENERATED_SPIKE_MARKER):
            raise ConfigError(f"spike file {spike_file} was not written by `python -m spikekit.samples new`, "
                              "so --force does not replace it. Fix: choose another name")
    base.mkdir(parents=True, exist_ok=True)
    spikes.mkdir(exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=base))
    spike_staging = spikes / f".{name}.yaml.partial"
    old = None
    moved_in = False
    try:
        generate_scenario(scenario, staging)
        spike_staging.write_text(spike_file_text(scenario), encoding="utf-8")
        if target.exists() or target.is_symlink():
            old = base / f".{name}.old.{os.getpid()}"
            os.replace(target, old)
        os.replace(staging, target)
        moved_in = True
        os.replace(spike_staging, spike_file)
        _ignore_generated_spike(spikes, spike_file.name)
    except BaseException:
        shutil.rmtree(target if moved_in else staging, ignore_errors=True)
        spike_staging.unlink(missing_ok=True)
        if old is not None:
            os.replace(old, target)  # put the earlier scenario back
            old = None
        raise
    finally:
        if old is not None:
            if old.is_symlink() or old.is_file():
                old.unlink()
            else:
                shutil.rmtree(old, ignore_errors=True)
    return target, spike_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spikekit.samples", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="regenerate into a temporary folder and fail if the committed files differ")
    parser.add_argument("--data-root", default=None, help="data folder (default: the project's data/)")
    commands = parser.add_subparsers(dest="command", metavar="new")
    new = commands.add_parser(
        "new", help="make a new scenario from a seed and a shape",
        description="Make a new scenario from a seed and a shape: its tables and truth.json under "
                    "<data root>/generated/NAME/ and the spike file <playbook>/spikes/NAME.yaml. Shapes: "
                    + "; ".join(f"{shape}: {text}" for shape, text in SHAPES.items()) + ".")
    new.add_argument("name", help="scenario and spike name (lower-case letters, digits, '.', '_', '-')")
    new.add_argument("--seed", type=int, required=True, help="whole number >= 0; the same seed gives the same files")
    new.add_argument("--shape", choices=list(SHAPES), required=True, help="the story's template")
    new.add_argument("--data-root", dest="new_data_root", default=None, metavar="DIR",
                     help="data folder (default: the project's data/); files go to <it>/generated/NAME/")
    new.add_argument("--playbook", default=None, metavar="DIR", help="playbook folder (default: the project's playbook/)")
    new.add_argument("--force", action="store_true", help="replace an earlier generated scenario of that name")
    args = parser.parse_args(argv)
    try:
        if args.command == "new":
            return _main_new(args)
        if args.check:
            problems = check(args.data_root)
            for problem in problems:
                print(problem, file=sys.stderr)
            print("samples: OK, committed files match a fresh generation" if not problems
                  else f"samples: {len(problems)} file(s) differ; run `python -m spikekit.samples` and commit")
            return 1 if problems else 0
        for name, files in generate_all(args.data_root).items():
            sizes = ", ".join(f"{f} {p.stat().st_size / 1e6:.2f} MB" for f, p in files.items())
            print(f"{name}: {sizes}")
        return 0
    except SpikeError as exc:
        print(f"samples: error: {exc}", file=sys.stderr)
        return 2


def _main_new(args) -> int:
    folder, spike_file = create(args.name, args.seed, args.shape, data_root=args.new_data_root,
                                playbook=args.playbook, force=args.force)
    replay = json.loads((folder / "truth.json").read_text(encoding="utf-8"))["replay"]
    peak = "no peak" if replay["peak_day"] is None else (
        f"true demand peaks {replay['peak_day']} at {replay['peak_units_per_day']:g} units/day")
    print(f"scenario {args.name} ({args.shape}, seed {args.seed}): {peak}; the playbook should say "
          f"{replay['decision']}")
    print(f"data: {folder}")
    print(f"spike file: {spike_file}")
    print(f"next: spike run --spike {args.name} --chapters 01,02")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
