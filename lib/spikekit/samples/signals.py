"""Table family of chapters 01-02: signals.csv and validation.csv, with the expected (noise-free) curves the
tests check them against.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .shop import (
    BASELINE_CART_SIZE,
    BASE_PER_HOUR,
    DAY,
    DESIGNS,
    HOUR,
    METRIC_BY_PLATFORM,
    POLL_OPEN_HOURS,
    POLL_RATE_CONCENTRATION,
    POLL_SENT_AFTER_HOURS,
    SHOPPING_HOURS,
    SHOPPING_WEEKDAYS,
    SIGNAL_DAY_SPREAD,
    SIGNAL_HOUR_SIZE,
    SOCIAL_HOURS,
    SOCIAL_WEEKDAYS,
    STAMP_SHIFT,
    TEST_CART_SIZE,
    _hour_parts,
    _stamp_text,
    _weekday,
    hourly_stamps,
)
from .story import Burst, Scenario, _nb_draw


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
