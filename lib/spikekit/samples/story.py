"""A scenario's story: interest pulses and waves, bursts, the `Scenario` record (with its after-sales story),
the three built-in scenarios, the shapes a generated one may take, and the per-table random streams.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.optimize import brentq

from ..core.errors import ConfigError

from .shop import (
    AudienceShift,
    DAY,
    DEFAULT_AD_BUDGET,
    DEFAULT_CASH,
    DEFAULT_FUNNEL_RATES,
    DEFAULT_REGIONAL_SHARES,
    HOUR,
    TAKEOFF_LEVEL,
    _days,
    _when,
)


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



@dataclass(frozen=True)
class AfterSales:
    """Per-scenario after-sales story: community and repurchase behaviour, supplier quality."""

    join_rate: float  # P(a spike buyer joins the community within 30 days of the first order)
    repurchase_rate: float  # P(a spike buyer orders again 1-60 days after the first order)
    active_rate: float  # P(a member keeps being active after the first week)
    defect_rates: tuple[tuple[str, float], ...]  # true defect rate per supplier


GENERATED_DIR = "generated"  # <data root>/generated/<name>/ (ignored by git: reproducible from the seed)
SHAPES: dict[str, str] = {
    "slow": "a long gentle rise over 2-3 weeks and a long tail; validation strong: go",
    "fast": "demand peaks 4-5 days after takeoff and is gone by about day 8; validation strong: go",
    "double": "a first demand bump, then a bigger second wave; validation (in the first bump) strong: go",
    "flop": "interest rises on social platforms but demand never comes; validation weak: no-go",
    "steady": "no spike at all, every series steady (a control); validation weak: no-go",
}
GO_SHAPES = ("slow", "fast", "double")
