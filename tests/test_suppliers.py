"""Chapter 03 supplier launch: known answers for the order split (MILP), the schedule and the explanations.

Day numbering in every case: the order is placed on as_of (day 0); day 1 is the first day after it; a unit
made on day d arrives on day d + ceil(lead_days).
"""
from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest

from spikekit.chapters import supplier_launch as sp
from spikekit.inputs.contracts import load_suppliers
from spikekit.core.errors import ConfigError, InputError

COLUMNS = ["supplier", "tier", "min_order", "max_units", "material_units", "material_ready_day", "daily_capacity",
           "lead_days", "unit_cost", "setup_cost", "reliability"]
AS_OF = "2025-03-09 12:00"


def table(*rows) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=COLUMNS)


def schedule(cumulative) -> pd.DataFrame:
    """A hand-written demand schedule (cumulative units wanted by each day 1..n)."""
    cumulative = np.asarray(cumulative, dtype=np.int64)
    days = np.arange(1, len(cumulative) + 1)
    return pd.DataFrame({"day": days, "date": pd.Timestamp("2025-03-10") + pd.to_timedelta(days - 1, unit="D"),
                         "demand": np.diff(cumulative, prepend=0), "cumulative_demand": cumulative})


def units_by_supplier(plan) -> dict:
    return dict(zip(plan.purchase_orders["supplier"], plan.purchase_orders["units"]))


# ------------------------------------------------------------------------------------------ demand schedule


def test_demand_schedule_from_chapter_02_record():
    daily = {"estimate": 66.3, "low": 56.9, "high": 76.8, "conf": 0.9}
    frame = sp.demand_schedule(daily, AS_OF, horizon_days=10)
    assert frame["day"].tolist() == list(range(1, 11))
    # ceil(66.3 t): 66.3 -> 67, 132.6 -> 133, ..., 663.0 -> 663
    assert frame["cumulative_demand"].tolist() == [67, 133, 199, 266, 332, 398, 465, 531, 597, 663]
    assert frame["demand"].sum() == 663
    assert frame["date"].iloc[0] == pd.Timestamp("2025-03-10")  # the day after as_of
    assert frame["date"].iloc[-1] == pd.Timestamp("2025-03-19")
    high = sp.demand_schedule(daily, AS_OF, horizon_days=2, level="high")
    assert high["cumulative_demand"].tolist() == [77, 154]  # 76.8 -> 77, 153.6 -> 154


def test_demand_schedule_caps_at_the_first_order_and_puts_a_larger_order_on_the_last_day():
    small = sp.demand_schedule(50, AS_OF, horizon_days=5, first_order_units=120)
    assert small["cumulative_demand"].tolist() == [50, 100, 120, 120, 120]
    large = sp.demand_schedule(50, AS_OF, horizon_days=3, first_order_units=400)
    assert large["cumulative_demand"].tolist() == [50, 100, 400]
    with pytest.raises(ConfigError, match="low"):
        sp.demand_schedule({"estimate": 10}, AS_OF, level="low")


# ------------------------------------------------------------------------------------------ the handbook case


def handbook_suppliers() -> pd.DataFrame:
    """收纳箱: A (东莞) can make 300 but has no material until day 3; B has material for 100 units now.

    A: 100/day (70 at the 30% reserve), lead 2 days, ¥10. B: material 100 and none more in the window,
    150/day (105 under the reserve), lead 3 days, ¥12. C: a backup, ¥15 and 6 days away.
    """
    return table(
        ["A", "A", 0, 300, 0, 3, 100, 2, 10.0, 50.0, 1.0],
        ["B", "B", 0, 300, 100, 99, 150, 3, 12.0, 50.0, 1.0],
        ["C", "C", 0, 1000, 1000, 0, 200, 6, 15.0, 100.0, 1.0],
    )


def test_handbook_case_splits_a_200_b_100_and_the_first_100_arrive_on_day_4():
    demand = sp.demand_schedule(50, AS_OF, horizon_days=6, first_order_units=300)
    plan = sp.plan_orders(handbook_suppliers(), demand, {"horizon_days": 6})
    assert units_by_supplier(plan) == {"A": 200, "B": 100}
    arrivals = plan.arrivals.set_index("day")
    assert plan.first_arrival_day == 4
    assert arrivals.loc[4, "arrivals"] == 100  # B's batch made on day 1, lead 3
    assert arrivals.loc[[1, 2, 3], "arrivals"].sum() == 0
    orders = plan.purchase_orders.set_index("supplier")
    assert orders.loc["B", "first_production_day"] == 1
    assert orders.loc["A", "first_production_day"] == 3  # waits for its material
    # A at its 70/day ceiling on days 3 and 4, 60 on day 5: arrivals 70, 70, 60 on days 5, 6, 7
    assert arrivals.loc[[5, 6, 7], "arrivals"].tolist() == [70, 70, 60]
    # costs by hand: 200 x 10 + 100 x 12 + setups 50 + 50
    assert plan.total_cost == pytest.approx(3300.0)
    # backlog: days 1-3 50+100+150, day 4 200-100, day 5 250-170, day 6 300-240
    assert plan.late_unit_days == pytest.approx(540.0)
    assert plan.status == "late" and plan.decision == "order"
    binding = plan.binding.set_index(["constraint", "supplier"])
    assert ("material", "A") in binding.index  # no material before day 3
    assert ("material", "B") in binding.index  # B's 100 units on hand all used
    assert ("reserve capacity", "A") in binding.index
    assert binding.loc[("reserve capacity", "A"), "days"] == "3-4"
    # Shadow prices by hand. One more unit in the order: A makes it on day 5 (60 of its 70), it arrives on
    # day 7, one day after day 6 wants it: 10 + 1 x 5 = 15. One more unit/day of A's ceiling on days 3 and 4:
    # two of A's day-7 units arrive on days 5 and 6 instead, 2 + 1 unit-days earlier: 3 x 5 = 15.
    demand_row = plan.binding.loc[plan.binding["constraint"] == "demand"].iloc[0]
    assert demand_row["shadow_price"] == pytest.approx(15.0, abs=0.01)
    assert binding.loc[("reserve capacity", "A"), "shadow_price"] == pytest.approx(15.0, abs=0.01)
    # The plan is as fast as possible: all the lateness is forced by material and lead times.
    assert any("540 of them are unavoidable" in line for line in plan.explanation)
    assert sp.headline(plan).startswith("ORDER 300 units (A 200 + B 100)")


# ------------------------------------------------------------------------------------------ constraints


def test_no_day_is_planned_above_the_capacity_left_by_the_reserve():
    sups = table(
        ["P", "A", 0, 1000, 1000, 0, 47, 1, 10.0, 0.0, 1.0],
        ["Q", "B", 0, 1000, 1000, 0, 33, 0, 11.0, 0.0, 1.0],
        ["R", "C", 0, 1000, 1000, 0, 101, 2, 14.0, 0.0, 1.0],
    )
    demand = sp.demand_schedule(120, AS_OF, horizon_days=8)
    plan = sp.plan_orders(sups, demand, {"reserve_share": 0.3})
    capacity = sups.set_index("supplier")["daily_capacity"]
    per_day = plan.production.groupby(["supplier", "production_day"])["units"].sum()
    for (name, _day), units in per_day.items():
        assert units <= 0.7 * capacity[name]
    assert per_day.max() > 0
    # limits are floor(0.7 x capacity): 32, 23, 70
    assert plan.production.set_index("supplier")["daily_limit"].groupby(level=0).first().to_dict() == {
        "P": 32, "Q": 23, "R": 70}
    # Without a reserve the same demand is met with fewer late unit-days.
    open_plan = sp.plan_orders(sups, demand, {"reserve_share": 0.0})
    assert open_plan.late_unit_days < plan.late_unit_days


def test_demand_above_capacity_is_explained_with_the_binding_limits_and_the_shortfall():
    sups = table(
        ["P", "A", 0, 1000, 1000, 0, 50, 1, 10.0, 0.0, 1.0],  # 35/day x 10 days = 350 (reserve binds)
        ["Q", "B", 0, 190, 1000, 0, 30, 1, 12.0, 0.0, 1.0],  # 21/day x 10 = 210, but at most 190 units
    )
    demand = sp.demand_schedule(66, AS_OF, horizon_days=10)  # 660 units
    plan = sp.plan_orders(sups, demand)
    assert plan.status == "short"
    assert plan.shortage_units == 120
    assert units_by_supplier(plan) == {"P": 350, "Q": 190}
    text = " ".join(plan.explanation)
    assert "at 70% of daily capacity is 540 units" in text
    assert "demand 660: short 120" in text
    assert "P 350 (reserve capacity)" in text and "Q 190 (max_units)" in text
    assert "would allow 690 units (enough)" in text  # 50 x 10 + 190 without the reserve
    binding = plan.binding.set_index(["constraint", "supplier"])
    assert ("reserve capacity", "P") in binding.index
    assert ("max_units", "Q") in binding.index
    assert "status" not in text.lower()  # words, not solver codes


def test_setup_cost_makes_the_plan_use_fewer_suppliers_when_cheap_enough():
    # 60 units wanted on day 1; two identical suppliers, 30/day each (43 x 0.7 -> 30), ¥10, no lead time.
    demand = schedule([60, 60, 60])

    def pair(setup):
        return table(["S1", "A", 0, 100, 100, 0, 43, 0, 10.0, setup, 1.0],
                     ["S2", "A", 0, 100, 100, 0, 43, 0, 10.0, setup, 1.0])

    # setup 50: both (600 + 100 = 700) beat one (600 + 50 + 30 units x 1 day x ¥5 = 800)
    both = sp.plan_orders(pair(50.0), demand, {"lateness_penalty": 5.0})
    assert len(both.purchase_orders) == 2
    assert both.costs["objective"] == pytest.approx(700.0)
    # setup 200: one (600 + 200 + 150 = 950) beats both (600 + 400 = 1000)
    one = sp.plan_orders(pair(200.0), demand, {"lateness_penalty": 5.0})
    assert len(one.purchase_orders) == 1
    assert one.costs["objective"] == pytest.approx(950.0)
    assert one.late_unit_days == pytest.approx(30.0)
    assert any("accepted because speeding up would cost more" in line for line in one.explanation)


def test_min_order_is_respected_even_when_it_means_ordering_more_than_needed():
    demand = schedule([0, 50])
    cheap_m = table(["M", "B", 80, 300, 300, 0, 200, 0, 5.0, 0.0, 1.0],
                    ["N", "A", 0, 300, 300, 0, 200, 0, 9.0, 0.0, 1.0])
    plan = sp.plan_orders(cheap_m, demand)
    assert units_by_supplier(plan) == {"M": 80}  # 80 x 5 = 400 < 50 x 9 = 450
    assert plan.total_cost == pytest.approx(400.0)
    assert ("min_order", "M") in set(zip(plan.binding["constraint"], plan.binding["supplier"]))
    cheaper_n = cheap_m.assign(unit_cost=[5.0, 7.0])
    plan = sp.plan_orders(cheaper_n, demand)
    assert units_by_supplier(plan) == {"N": 50}  # 50 x 7 = 350 < 400


def test_reliability_steers_volume_to_the_supplier_that_delivers():
    demand = schedule([0, 40])
    sups = table(["Flaky", "A", 0, 100, 100, 0, 100, 0, 10.0, 0.0, 0.8],
                 ["Steady", "A", 0, 100, 100, 0, 100, 0, 10.5, 0.0, 1.0])
    # Flaky: 10 + 5 x 2 days x 0.2 = 12 per unit in expectation; Steady 10.5.
    plan = sp.plan_orders(sups, demand, {"lateness_penalty": 5.0, "slip_days": 2.0})
    assert units_by_supplier(plan) == {"Steady": 40}
    ignore = sp.plan_orders(sups, demand, {"lateness_penalty": 5.0, "slip_days": 0.0})
    assert units_by_supplier(ignore) == {"Flaky": 40}


# ------------------------------------------------------------------------------------------ optimality


def brute_force(sups: pd.DataFrame, cumulative, settings: sp.SupplySettings) -> float:
    """Cheapest plan by enumerating every integer production schedule (tiny instances only)."""
    horizon = len(cumulative)
    rows = list(sups.itertuples(index=False))
    limits = [math.floor((1 - settings.reserve_share) * r.daily_capacity + 1e-9) for r in rows]
    leads = [math.ceil(r.lead_days - 1e-9) for r in rows]
    last_day = horizon + max(leads)
    best = math.inf
    ranges = [range(limits[s] + 1) for s in range(len(rows)) for _ in range(horizon)]
    for flat in itertools.product(*ranges):
        x = np.array(flat).reshape(len(rows), horizon)
        cost, arrivals, ok = 0.0, np.zeros(last_day + 1), True
        for s, r in enumerate(rows):
            total = x[s].sum()
            early = sum(x[s, d - 1] for d in range(1, horizon + 1) if d < r.material_ready_day)
            if total > r.max_units or early > r.material_units or (0 < total < r.min_order):
                ok = False
                break
            per_unit = r.unit_cost + settings.lateness_penalty * settings.slip_days * (1 - r.reliability)
            cost += per_unit * total + (r.setup_cost if total else 0)
            for d in range(1, horizon + 1):
                arrivals[d + leads[s]] += x[s, d - 1]
        if not ok or x.sum() < cumulative[-1]:
            continue
        got = np.cumsum(arrivals)[1:]
        wanted = np.array([cumulative[min(t, horizon) - 1] for t in range(1, last_day + 1)])
        cost += settings.lateness_penalty * np.maximum(wanted - got, 0).sum()
        best = min(best, cost)
    return best


@pytest.mark.parametrize("seed", range(1, 9))
def test_milp_optimum_equals_brute_force_enumeration(seed):
    rng = np.random.default_rng(seed)
    sups = table(
        ["U", "A", int(rng.integers(0, 4)), int(rng.integers(3, 9)), int(rng.integers(0, 4)),
         float(rng.integers(1, 4)), int(rng.integers(3, 6)), float(rng.choice([0, 0.5, 1])),
         float(rng.integers(8, 13)), float(rng.integers(0, 30)), float(rng.choice([0.9, 1.0]))],
        ["V", "B", 0, int(rng.integers(3, 9)), int(rng.integers(2, 9)), float(rng.integers(1, 4)),
         int(rng.integers(3, 5)), float(rng.integers(0, 3)), float(rng.integers(8, 13)),
         float(rng.integers(0, 30)), float(rng.choice([0.8, 1.0]))],
    )
    demand = np.cumsum(rng.integers(1, 5, size=3))
    settings = sp.SupplySettings(horizon_days=3, lateness_penalty=float(rng.integers(1, 8)), slip_days=1.0)
    expected = brute_force(sups, demand, settings)
    plan = sp.plan_orders(sups, schedule(demand), settings)
    if math.isinf(expected):  # no schedule delivers everything: the plan must say it is short
        assert plan.status == "short"
        return
    assert plan.shortage_units == 0
    assert plan.costs["objective"] == pytest.approx(expected, abs=1e-6)


# ------------------------------------------------------------------------------------------ records and views


def test_plan_to_dict_is_json_safe_and_hold_plan_orders_nothing():
    demand = sp.demand_schedule(50, AS_OF, horizon_days=6, first_order_units=300)
    plan = sp.plan_orders(handbook_suppliers(), demand)
    data = json.loads(json.dumps(plan.to_dict(), allow_nan=False))
    assert data["purchase_orders"][0]["supplier"] in {"A", "B"}
    assert data["arrivals"][0]["date"] == "2025-03-10T00:00:00"
    held = sp.hold_plan(demand, reason="chapter 02 decided 'no-go'")
    assert held.decision == "hold" and held.units_ordered == 0 and held.total_cost == 0
    assert sp.headline(held).startswith("HOLD")
    json.dumps(held.to_dict(), allow_nan=False)


def test_settings_refuse_bad_values_and_unknown_names():
    with pytest.raises(ConfigError, match="reserve_share"):
        sp.SupplySettings(reserve_share=1.0)
    with pytest.raises(ConfigError, match="horizon_days"):
        sp.SupplySettings(horizon_days=2.5)
    with pytest.raises(ConfigError, match="unknown"):
        sp.SupplySettings.from_mapping({"reserve": 0.3})


def test_plot_arrivals_has_title_units_and_renders_chinese_names():
    from spikekit.core.plots import missing_glyphs, use_theme
    import matplotlib.pyplot as plt

    use_theme()
    sups = handbook_suppliers().assign(supplier=["东莞工厂A", "义乌工厂B", "备用工厂C"])
    plan = sp.plan_orders(sups, sp.demand_schedule(50, AS_OF, horizon_days=6, first_order_units=300))
    fig = sp.plot_arrivals(plan)
    ax = fig.axes[0]
    assert ax.get_title() and "units" in ax.get_ylabel() and "day" in ax.get_xlabel()
    assert missing_glyphs(fig) == []
    plt.close(fig)


# ------------------------------------------------------------------------------------------ the contract


def write_suppliers(tmp_path, rows) -> str:
    path = tmp_path / "suppliers.csv"
    lines = [",".join(COLUMNS)] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return "suppliers.csv"


def test_load_suppliers_reads_a_clean_table(tmp_path):
    rel = write_suppliers(tmp_path, [["义乌B", "B", 0, 300, 100, 99, 150, 3, 12, 50, 0.9],
                                     ["东莞A", "A", 0, 300, 0, 3, 100, 2, 10, 50, 0.95]])
    frame = load_suppliers(rel, data_root=tmp_path)
    assert set(frame["supplier"]) == {"义乌B", "东莞A"}
    assert frame["max_units"].dtype == np.int64 and frame["lead_days"].dtype == np.float64


def test_load_suppliers_names_file_column_and_spreadsheet_row_of_min_order_above_max(tmp_path):
    # Row 3 (the second data row) is wrong; the loader sorts by name, the error must still say row 3.
    rel = write_suppliers(tmp_path, [["Zeta", "A", 0, 300, 0, 3, 100, 2, 10, 50, 0.95],
                                     ["Alpha", "B", 400, 300, 100, 99, 150, 3, 12, 50, 0.9]])
    with pytest.raises(InputError) as err:
        load_suppliers(rel, data_root=tmp_path)
    assert err.value.column == "min_order" and err.value.rows == [3]
    assert "suppliers.csv" in str(err.value.file)


def test_load_suppliers_refuses_reliability_above_one_and_unknown_tier(tmp_path):
    rel = write_suppliers(tmp_path, [["A1", "A", 0, 300, 0, 3, 100, 2, 10, 50, 95]])
    with pytest.raises(InputError) as err:
        load_suppliers(rel, data_root=tmp_path)
    assert err.value.column == "reliability" and err.value.rows == [2]
    rel = write_suppliers(tmp_path, [["A1", "D", 0, 300, 0, 3, 100, 2, 10, 50, 0.9]])
    with pytest.raises(InputError) as err:
        load_suppliers(rel, data_root=tmp_path)
    assert err.value.column == "tier"


# ------------------------------------------------------------------------------------------ the order, net of the state
#
# A hand case shared by the tests below (as of 2025-03-09 12:00): one supplier with material on hand and a
# 2-day lead time, so a new order's first unit lands on day 3 and the cover window is 3 + 1 review day = 4
# days. The forecast says 75 units a day.


def one_supplier(setup_cost: float = 0.0, min_order: int = 0) -> pd.DataFrame:
    return table(["A", "A", min_order, 1000, 1000, 0, 200, 2, 10.0, setup_cost, 1.0])


def spike_state(phase="rising", on_hand=80, backlog=20, open_orders=((150, "2025-03-11T10:00:00+08:00"),),
                per_day=75.0, fit_days=8) -> dict:
    lines = [{"po_id": f"PO-{i}", "supplier": "A", "units_open": units, "expected_arrival": due, "overdue": False}
             for i, (units, due) in enumerate(open_orders, start=1)]
    days = pd.date_range("2025-03-10", periods=21, freq="D")
    return {
        "as_of": "2025-03-09T12:00:00+08:00", "phase": phase, "phase_evidence": [f"evidence for {phase}"],
        "position": {"on_hand": on_hand, "backlog": backlog, "on_order": sum(u for u, _ in open_orders),
                     "open_orders": lines},
        "forecast": {"source": "hand case", "fit_days": fit_days, "daily": [{"day": f"{d:%Y-%m-%d}", "expected": per_day,
                                                        "low": per_day * 0.8, "high": per_day * 1.2} for d in days]},
    }


def test_cover_window_is_the_fastest_first_arrival_plus_the_review():
    # 收纳箱 suppliers: A has no material before day 3 (arrives day 5), B has material now and a 3-day lead
    # (day 4), C is 6 days away (day 7): B is the fastest, so the window is 4 + 1 days.
    first = sp.first_arrival(handbook_suppliers(), 0.3, horizon_days=10)
    assert first == {"supplier": "B", "production_day": 1, "lead_days": 3, "arrival_day": 4}
    assert sp.cover_window(handbook_suppliers(), {"horizon_days": 10})[0] == 5
    assert sp.cover_window(handbook_suppliers(), {"review_days": 2})[0] == 6
    assert sp.cover_window(handbook_suppliers(), {"cover_days": 9}) == (9, "cover_days=9 (set for this spike)")


def test_launch_orders_the_increment_net_of_stock_backlog_and_open_orders():
    call = sp.launch(one_supplier(), spike_state())
    assert call.cover_days == 4
    # need 320 = 4 days x 75 + backlog 20; have 80 on hand + 150 on order -> 90 more.
    assert (call.increment.units, call.increment.need) == (90, 320)
    assert call.decision == "order" and call.plan.units_ordered == 90
    assert call.plan.total_cost == pytest.approx(900.0)
    # Day by day: need 95, 170, 245, 320 against 80, 230 (the open line lands on day 2), 230, 230: short 15,
    # covered, short 15, short 90. Delivered units stay, so the order must have brought 15 by day 1 and all by day 4.
    assert call.coverage["shortfall"].tolist() == [15, -60, 15, 90]
    assert call.coverage["wanted"].tolist() == [15, 15, 15, 90]
    assert sp.launch_headline(call).startswith("ORDER 90 units (A 90) for ¥900")
    assert "need 320 = forecast 300 over 4 days + backlog 20, have 80 on hand + 150 on order" in sp.launch_headline(call)


def test_without_presale_the_order_serves_only_the_days_it_can_reach():
    # No stock, nothing on order, 75 a day: with presale the days before the first landing (day 3) are owed and
    # the order covers days 1-4 (300). Without presale those days' demand is lost, so only days 3-4 count: 150.
    owed = sp.launch(one_supplier(), spike_state(on_hand=0, backlog=0, open_orders=()))
    assert owed.increment.units == 300 and owed.serves_from == 1
    lost_state = spike_state(on_hand=0, backlog=0, open_orders=())
    lost_state["position"]["backorders"] = False
    lost = sp.launch(one_supplier(), lost_state)
    assert (lost.increment.units, lost.serves_from, lost.demand_over_window) == (150, 3, 150)
    assert "need 150 = forecast 150 on days 3-4, have 0 left on day 3 + 0 on order after it" in sp.launch_headline(lost)
    # 100 on hand: 75 sell on day 1, 25 of day 2's 75 (50 lost); the line of 150 due on day 2 lands first, so
    # day 2 ends with 100 left, which serves day 3; 50 more for day 4.
    stocked = spike_state(on_hand=100, backlog=0)
    stocked["position"]["backorders"] = False
    call = sp.launch(one_supplier(), stocked)
    assert call.sized_on == {"on_hand": 100.0, "on_order": 0.0, "backlog": 0.0}
    assert call.increment.units == 50


def test_launch_orders_nothing_while_the_spike_declines():
    call = sp.launch(one_supplier(), spike_state(phase="declining", on_hand=0, backlog=0, open_orders=()))
    assert call.increment.net > 0  # there would be a need ...
    assert call.decision == "hold" and call.reason == "phase"  # ... but no production is ordered after the peak
    assert call.plan.purchase_orders.empty and call.plan.arrivals.empty and call.plan.total_cost == 0
    assert sp.launch_headline(call) == "HOLD: the spike is declining, no new production (evidence for declining)"
    assert call.to_dict()["plan"]["purchase_orders"] == []


def test_past_the_top_launch_orders_the_uncovered_paid_backlog_at_once():
    # Peak, 500 pre-sold units, 80 on hand, 150 on order: 270 are owed and nobody makes them. The forecast (300 over
    # the window) is left out; the 270 are wanted from day 1 (the backlog is owed now).
    call = sp.launch(one_supplier(), spike_state(phase="peak", on_hand=80, backlog=500))
    assert call.decision == "order" and call.increment.units == 270 and call.increment.backlog_only
    assert call.plan.units_ordered == 270
    assert call.coverage["wanted"].tolist() == [270, 270, 270, 270]
    # As fast as the supplier can: 140 a day (70% of 200, the rest in reserve) made from day 1, landing from day 3.
    assert call.plan.arrivals["arrivals"].tolist()[:5] == [0, 0, 140, 130, 0]
    headline = sp.launch_headline(call)
    assert headline.startswith("ORDER 270 units (A 270) for ¥2,700")
    assert "backlog only: 500 paid units waiting, no units for new demand while peak" in headline
    assert any("270 units customers already paid for are not covered" in e for e in call.evidence)
    # A shop that refunds instead turns it off; a covered backlog orders nothing either.
    refunds = sp.launch(one_supplier(), spike_state(phase="peak", on_hand=80, backlog=500),
                        sp.SupplySettings(serve_backlog=False))
    assert refunds.decision == "hold" and refunds.reason == "phase"
    covered = sp.launch(one_supplier(), spike_state(phase="declining", on_hand=80, backlog=200))
    assert covered.decision == "hold" and covered.reason == "phase"
    with pytest.raises(ConfigError, match="serve_backlog"):
        sp.SupplySettings(serve_backlog="yes")


def test_launch_keeps_the_first_order_while_the_spike_is_unconfirmed():
    # Launching: 50% of 132 validation-period sales = 66 units, although the forecast needs 300.
    call = sp.launch(one_supplier(), spike_state(phase="launching", on_hand=0, backlog=0, open_orders=()),
                     validation_sales=132)
    assert call.increment.units == 66 and call.increment.capped_by == "first order"
    assert call.plan.units_ordered == 66
    assert "capped at the handbook's first order (66 units)" in sp.launch_headline(call)
    # 40 already on order: 26 more at most; 70 on order: nothing more until sales confirm the spike.
    more = sp.launch(one_supplier(), spike_state(phase="launching", on_hand=0, backlog=0,
                                                 open_orders=((40, "2025-03-12T10:00:00+08:00"),)),
                     validation_sales=132)
    assert more.plan.units_ordered == 26
    done = sp.launch(one_supplier(), spike_state(phase="launching", on_hand=0, backlog=0,
                                                 open_orders=((70, "2025-03-12T10:00:00+08:00"),)),
                     validation_sales=132)
    assert done.decision == "hold" and done.reason == "first order"
    # Once realised sales confirm the spike (rising) the forecast sizes the order: 300 - 70.
    rising = sp.launch(one_supplier(), spike_state(phase="rising", on_hand=0, backlog=0,
                                                   open_orders=((70, "2025-03-12T10:00:00+08:00"),)),
                       validation_sales=132)
    assert rising.plan.units_ordered == 230
    # Pre-sold units are owed whatever the spike does: a backlog of 95 lifts the cap of 66 to 95.
    owed = sp.launch(one_supplier(), spike_state(phase="launching", on_hand=0, backlog=95, open_orders=()),
                     validation_sales=132)
    assert owed.increment.units == 95 and any("never less than the 95 pre-sold units" in e for e in owed.evidence)
    # Rising on a fit through only 3 days of sales since the rise began: not confirmed yet, the first order caps it.
    young = sp.launch(one_supplier(), spike_state(phase="rising", on_hand=0, backlog=0, fit_days=3,
                                                  open_orders=((40, "2025-03-12T10:00:00+08:00"),)),
                      validation_sales=132)
    assert young.plan.units_ordered == 26 and young.increment.capped_by == "first order"
    assert any("only 3 day(s) of sales since the rise began" in e for e in young.evidence)
    assert sp.launch(one_supplier(), spike_state(phase="rising", on_hand=0, backlog=0, fit_days=5, open_orders=()),
                     validation_sales=132).plan.units_ordered == 300


def test_launch_holds_when_stock_and_open_orders_cover_the_window_and_says_until_when():
    call = sp.launch(one_supplier(), spike_state(on_hand=200, backlog=0))  # 200 + 150 on order >= 300 needed
    assert call.decision == "hold" and call.reason == "covered" and call.increment.units == 0
    # 350 units last 4 days of 75 (300), not 5 (375): covered until the end of 2025-03-13.
    assert call.covered_until == pd.Timestamp("2025-03-13") and not call.covered_beyond
    assert sp.launch_headline(call).startswith("HOLD: covered until 2025-03-13; need 300")


def test_launch_shrinks_the_order_until_it_fits_the_cash_rule():
    # 30% of ¥2,000 = ¥600; each unit costs ¥10 plus a ¥100 setup: 50 units (¥600), not the 90 needed.
    call = sp.launch(one_supplier(setup_cost=100.0), spike_state(), cash_on_hand=2000.0)
    assert call.plan.units_ordered == 50 and call.plan.total_cost == pytest.approx(600.0)
    assert call.increment.capped_by == "cash" and call.cash_limit == pytest.approx(600.0)
    assert "capped by the cash rule (¥600)" in sp.launch_headline(call)
    # Too little cash for even the setup: hold, and say why.
    broke = sp.launch(one_supplier(setup_cost=100.0), spike_state(), cash_on_hand=300.0)
    assert broke.decision == "hold" and broke.reason == "cash"


def test_cash_is_an_optional_input_of_chapter_03(tmp_path, monkeypatch):
    """A spike without a cash table runs chapter 03 without the cash rule, never on the notebook's sample cash."""
    import shutil

    from spikekit.core.paths import playbook_dir
    from spikekit.inputs.settings import chapter_parameters, load_playbook, load_spike

    playbook = tmp_path / "playbook"
    shutil.copytree(playbook_dir(), playbook)
    (playbook / "spikes" / "demo.yaml").write_text(
        "timezone: Asia/Shanghai\ndata:\n  suppliers: samples/starry-mug/suppliers.csv\n", encoding="utf-8")
    monkeypatch.setenv("SPIKE_PLAYBOOK", str(playbook))
    book = load_playbook()
    as_of = "2025-03-09T12:00:00+08:00"
    assert chapter_parameters(book, load_spike("demo"), "03", as_of=as_of, upstream_run="r")["cash_file"] == ""
    named = chapter_parameters(book, load_spike("starry-mug"), "03", as_of=as_of, upstream_run="r")
    assert named["cash_file"] == "samples/starry-mug/cash.csv"
