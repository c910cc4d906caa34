"""Table family of chapter 06: daily sales.csv with a few price changes, and the decline rule's triggers.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.errors import ConfigError

from .shop import (
    DATA_END,
    DATA_START,
    DAY,
    DECLINE_DAYS,
    DECLINE_DROP,
    PRODUCT_KEYWORDS,
    SALES_DAY_SIZE,
    SHOPPING_WEEKDAYS,
    _days,
    _hour_parts,
    _stamp_text,
    _weekday,
    hourly_stamps,
)
from .story import Scenario, _nb_draw
from .signals import demand_rate, expected_signals


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
