"""Table family of chapter 07 (the hourly data room): traffic, funnel, audience, budget.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..core.errors import ConfigError

from .shop import (
    AUDIENCE_MIX,
    AUDIENCE_SEGMENTS,
    AUDIENCE_WINDOW_HOURS,
    DATA_ROOM_DAYS_AFTER_AS_OF,
    DATA_ROOM_PLATFORMS,
    DAY,
    HOUR,
    LIVE_HOURS,
    SHOPPING_HOURS,
    SHOPPING_WEEKDAYS,
    SOCIAL_HOURS,
    SOCIAL_WEEKDAYS,
    STAMP_SHIFT,
    TRAFFIC_HOUR_SIZE,
    TRAFFIC_PLATFORMS,
    TRAFFIC_SOURCES,
    _hour_parts,
    _stamp_text,
    _when,
)
from .story import Pulse, Scenario, _nb_draw


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
