"""Table family of chapter 09: cash, settlement, supplier terms, financing, and the expected cash projection.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.errors import ConfigError

from .shop import (
    CASH_HORIZON_DAYS,
    CASH_ITEMS,
    DATA_ROOM_PLATFORMS,
    DAY,
    FINANCING,
    SETTLEMENT,
    SUPPLIERS,
    SUPPLIER_TERMS,
    TRAFFIC_SOURCES,
)
from .story import Scenario
from .signals import expected_presale_per_day
from .supply import cheapest_allocation
from .traffic import default_as_of, expected_traffic, funnel_rates


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
