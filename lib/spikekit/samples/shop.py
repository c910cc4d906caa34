"""The sample shop, the same in every scenario: its platforms, keywords, hour and weekday profiles, suppliers,
warehouses, lanes, money and the time helpers every table uses (naive local time in Asia/Shanghai).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
