"""The answer key (truth.json): the dates that matter and the decisions the playbook should reach, per chapter.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .shop import (
    AUDIENCE_SEGMENTS,
    AUDIENCE_WINDOW_HOURS,
    CASH_GAP_TOLERANCE_DAYS,
    CASH_HORIZON_DAYS,
    CONTROL_KEYWORDS,
    DATA_END,
    DATA_ROOM_PLATFORMS,
    DATA_START,
    DAY,
    DECLINE_DAYS,
    DECLINE_DROP,
    DECLINE_SMOOTHINGS,
    DESIGNS,
    FINANCING,
    HANDBOOK_MOVE_SHARE,
    HOUR,
    HOURLY_STAMP_AT_END,
    KEYWORD_GROUPS,
    LUCKY_POST,
    PLATFORMS,
    POSTS_PER_CELL,
    POST_FORMATS,
    PRODUCT_KEYWORDS,
    SALES_DAY_SIZE,
    STAMP_SHIFT,
    SUPPLIER_TERMS,
    SUPPLY_HORIZON_DAYS,
    SUPPLY_RESERVE_SHARE,
    TIMEZONE,
    TRAFFIC_SOURCES,
    WAREHOUSES,
    _days,
    _iso,
    _when,
    hourly_stamps,
)
from .story import SHAPES, Scenario, Waves
from .signals import expected_presale_per_day, expected_signals
from .supply import baseline_allocation, cheapest_allocation
from .sales import decline_triggers, expected_daily_searches, expected_sales
from .traffic import audience_window_stamps, data_room_stamps, default_as_of, funnel_rates, traffic_wave
from .posts import post_rates
from .cash import cash_projection, effective_annual_cost, expected_order_mix
from .aftersales import (
    DELIVERY_DAYS,
    FAQ_ENTRIES,
    FOLLOW_UP_PER_DAY,
    OTHER_PRODUCTS,
    PACK_PER_DAY,
    PROMISE_DAYS,
    RESTOCK_PER_DAY,
    RETRO_AS_OF,
    RETURN_DAYS,
    RETURN_MODEL,
    ROUTINE_TICKET_TYPES,
    SPIKE_PRODUCT,
    TICKET_BASELINE,
    TICKET_LAG_DAYS,
    _aftersales,
    ticket_rates,
)
from .tables import TABLE_MAKERS


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
    from ..core.stats import wilson

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
