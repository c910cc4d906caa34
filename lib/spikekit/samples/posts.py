"""Table family of chapter 08: content posts per format x platform.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..core.errors import ConfigError

from .shop import (
    DATA_ROOM_PLATFORMS,
    LUCKY_POST,
    POSTS_PER_CELL,
    POST_BASE_VIEWS,
    POST_CLICK_RATE,
    POST_FORMATS,
    POST_ORDERS_PER_CLICK,
    POST_USUAL_CONVERSION,
    POST_VIEW_SPREAD,
    POST_WAVE_SHARE,
    SOCIAL_HOURS,
    _hour_parts,
    _stamp_text,
)
from .story import Scenario
from .traffic import data_room_stamps, funnel_rates, traffic_wave


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
