"""Closed-loop replay: the simulated shop and the handbook / hindsight policies on hand-computed worlds."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spikekit.engine import closedloop as cl


def world(demand, stock=10, lead=2, elasticity=-2.0) -> cl.World:
    days = pd.date_range("2025-03-01", periods=len(demand), freq="D", tz="Asia/Shanghai")
    demand = np.asarray(demand, dtype=float)
    return cl.World(spike="demo", tz="Asia/Shanghai", days=days, demand=demand, expected=demand, price=50.0,
                    unit_cost=10.0, salvage=5.0, elasticity=elasticity, start_stock=stock, lead_days=lead, base=5.0)


def test_handbook_rules_on_a_flat_week():
    """First order 50% of 20 validation sales on day 0 (lands day 2); 7 days of sales reordered when stock plus
    what is coming falls below 7 days of yesterday's sales (day 1: 5 + 10 < 35 -> 35; day 5: 30 < 35 -> 35)."""
    shop = cl.handbook_policy(world([5] * 10), go_day=0, validation_sales=20)
    assert [(ln.placed, ln.units, ln.arrival) for ln in shop.lines] == [(0, 10, 2), (1, 35, 3), (5, 35, 7)]
    m = shop.metrics()
    assert (m["lost_units"], m["leftover_units"], m["fill_rate"], m["ordered_units"]) == (0.0, 40.0, 1.0, 80)
    assert m["cost_lost_plus_leftover"] == 40 * (10 - 5)  # leftovers at unit cost net of salvage
    assert m["first_order_at"] == "2025-03-01"


def test_handbook_stops_ordering_after_three_drops():
    demand = [10, 40, 80, 120, 100, 80, 60, 40, 20, 10]
    shop = cl.handbook_policy(world(demand, stock=200, lead=1), go_day=0, validation_sales=40)
    placed = [ln.placed for ln in shop.lines]
    # Sales fall more than 15% on days 4, 5, 6 (120 -> 100 -> 80 -> 60): no order is placed from day 7 on.
    assert placed and max(placed) <= 6


def test_hindsight_loses_only_what_no_order_could_save():
    shop = cl.hindsight_policy(world([5] * 10, stock=4, lead=2), go_day=0)
    m = shop.metrics()
    # Days 0-1 want 10, stock 4: 6 lost whatever anyone orders; from day 2 each day's 5 arrives that day.
    assert (m["lost_units"], m["leftover_units"], m["ordered_units"]) == (6.0, 0.0, 40)
    assert m["cost_lost_plus_leftover"] == pytest.approx(6 * 40)


def test_shop_cancel_and_markdown_lift():
    shop = cl.Shop(world([5] * 5, stock=10))
    shop.order(0, 20, 3, supplier="A")
    assert shop.cancel(1, "A", 5) == 5 and shop.on_order(1) == 15 and shop.spend == 150.0
    assert shop.cancel(4, "A", 0) == 0  # arrived by then: nothing to cancel
    shop.discount[0] = 0.2
    shop.simulate(0)
    # 5 x 0.8^-2 = 7.8 -> 8 units wanted at 20% off, from 10 on hand.
    assert (shop.sold[0], shop.on_hand, shop.revenue) == (8.0, 2.0, 8 * 40.0)
    shop.simulate(1)
    assert (shop.sold[1], shop.lost[1]) == (2.0, 3.0)
    # Sold out at 30% off: 5 x 0.7^-2 = 10.2 -> 10 wanted, none sold; lost is the scenario's 5, not the lifted 10.
    shop.discount[2] = 0.3
    shop.simulate(2)
    assert (shop.sold[2], shop.lost[2]) == (0.0, 5.0)


def test_an_approved_markdown_ladder_holds_each_step_until_the_next():
    shop = cl.Shop(world([5] * 8))
    plan = pd.DataFrame({"step": [1, 2], "from_date": pd.to_datetime(["2025-03-03", "2025-03-06"]),
                         "discount": [0.1, 0.3]})
    cl.apply_markdown(shop, plan, from_day=4)  # approved on day 4: days before it keep the normal price
    assert shop.discount == {4: 0.1, 5: 0.3, 6: 0.3, 7: 0.3}
    cl.apply_markdown(shop, None, from_day=6)  # a later step holds the price: normal from day 6 on
    assert shop.discount == {4: 0.1, 5: 0.3}
