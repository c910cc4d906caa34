"""Chapter 05 (物流弹性): the split, the courier rule and the cost ceiling on cases worked out by hand."""
from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from spikekit.inputs import contracts as sc
from spikekit.chapters import logistics as lg
from spikekit.core.errors import ConfigError, InputError

TZ = "Asia/Shanghai"
NO_PENALTY = lg.LogisticsSettings(delivery_day_penalty=0.0)


def warehouses(rows):
    return pd.DataFrame(rows, columns=["warehouse", "kind", "city", "capacity_per_day", "handling_cost"])


def lanes(rows):
    return pd.DataFrame(rows, columns=["warehouse", "region", "cost_per_order", "delivery_days"])


def regions(rows):
    return pd.DataFrame(rows, columns=["region", "share", "normal_cost_per_order"])


def flow(allocation, warehouse, region):
    f = allocation.flows
    hit = f[(f["warehouse"] == warehouse) & (f["region"] == region)]
    assert len(hit) == 1, f"no lane {warehouse}->{region}"
    return hit.iloc[0]


# ----------------------------------------------------------------------------------------------------------
# The transportation programme
# ----------------------------------------------------------------------------------------------------------
def powerco():
    """Winston, Operations Research, sec. 7.1 (Powerco): 3 plants x 4 cities, published optimum $1,020."""
    cost = [[8, 6, 10, 9], [9, 12, 13, 7], [14, 9, 16, 5]]
    supply, demand = [35, 50, 40], [45, 20, 30, 30]
    wh = warehouses([(f"P{i + 1}", "main" if i == 0 else "cloud", "x", s, 0.0) for i, s in enumerate(supply)])
    ln = lanes([(f"P{i + 1}", f"C{j + 1}", float(cost[i][j]), 0.0) for i in range(3) for j in range(4)])
    rd = regions([(f"C{j + 1}", d / 125, 8.0) for j, d in enumerate(demand)])
    return wh, ln, rd


def test_powerco_textbook_optimum_is_1020():
    wh, ln, rd = powerco()
    a = lg.allocate(125, rd, wh, ln, NO_PENALTY)
    assert a.feasible
    assert a.cost_per_order * 125 == pytest.approx(1020.0, abs=1e-6)
    # Supply equals demand, so every plant ships its whole supply; every city gets its demand.
    assert a.split.set_index("warehouse")["orders"].to_dict() == pytest.approx({"P1": 35, "P2": 50, "P3": 40})
    by_city = a.flows.groupby("region")["orders"].sum().to_dict()
    assert by_city == pytest.approx({"C1": 45, "C2": 20, "C3": 30, "C4": 30})
    # The published plan: P3 serves C4 entirely (cheapest lane, 5 per unit), P2 all of C1.
    assert flow(a, "P3", "C4")["orders"] == pytest.approx(30)
    assert flow(a, "P2", "C1")["orders"] == pytest.approx(45)


def test_capacity_dual_and_cost_per_order_by_hand():
    # One region, 30 orders. A: 1 yuan but only 10/day; B: 3 yuan, roomy. A fills, B takes 20.
    wh = warehouses([("A", "main", "x", 10, 0.0), ("B", "cloud", "y", 100, 0.0)])
    ln = lanes([("A", "R", 1.0, 1.0), ("B", "R", 3.0, 1.0)])
    rd = regions([("R", 1.0, 2.0)])
    a = lg.allocate(30, rd, wh, ln, NO_PENALTY)
    split = a.split.set_index("warehouse")
    assert split.loc["A", "orders"] == pytest.approx(10) and split.loc["B", "orders"] == pytest.approx(20)
    # One more order of capacity at A saves 3 - 1 = 2 yuan a day; B has room, so its capacity is worth 0.
    assert split.loc["A", "capacity_value"] == pytest.approx(2.0)
    assert split.loc["B", "capacity_value"] == pytest.approx(0.0)
    assert bool(split.loc["A", "binding"]) and not bool(split.loc["B", "binding"])
    assert a.cost_per_order == pytest.approx((10 * 1 + 20 * 3) / 30)
    assert split.loc["A", "share"] == pytest.approx(1 / 3)


def test_handling_cost_and_delivery_penalty_trade_off():
    # A: 4 + handling 1 = 5 yuan, 3 days; B: 6 + 0 = 6 yuan, 1 day.
    wh = warehouses([("A", "main", "x", 100, 1.0), ("B", "cloud", "y", 100, 0.0)])
    ln = lanes([("A", "R", 4.0, 3.0), ("B", "R", 6.0, 1.0)])
    rd = regions([("R", 1.0, 5.0)])
    cheap = lg.allocate(10, rd, wh, ln, lg.LogisticsSettings(delivery_day_penalty=0.4))  # 6.2 vs 6.4: A
    assert flow(cheap, "A", "R")["orders"] == pytest.approx(10)
    assert cheap.cost_per_order == pytest.approx(5.0) and cheap.mean_delivery_days == pytest.approx(3.0)
    fast = lg.allocate(10, rd, wh, ln, lg.LogisticsSettings(delivery_day_penalty=1.0))  # 8 vs 7: B
    assert flow(fast, "B", "R")["orders"] == pytest.approx(10)
    # The penalty steers the plan but is not money: the cost reported is B's 6 yuan.
    assert fast.cost_per_order == pytest.approx(6.0)
    assert fast.objective_per_order == pytest.approx(7.0)


def test_missing_lane_is_not_used():
    # A is cheapest everywhere but has no lane to R2: R2 must come from B.
    wh = warehouses([("A", "main", "x", 100, 0.0), ("B", "cloud", "y", 100, 0.0)])
    ln = lanes([("A", "R1", 1.0, 1.0), ("B", "R1", 5.0, 1.0), ("B", "R2", 5.0, 1.0)])
    rd = regions([("R1", 0.5, 3.0), ("R2", 0.5, 3.0)])
    a = lg.allocate(20, rd, wh, ln, NO_PENALTY)
    assert len(a.flows) == 3
    assert flow(a, "A", "R1")["orders"] == pytest.approx(10)
    assert flow(a, "B", "R2")["orders"] == pytest.approx(10)
    assert a.cost_per_order == pytest.approx((10 * 1 + 10 * 5) / 20)


def test_baseline_70_15_15_by_hand():
    wh = warehouses([("Main", "main", "杭州", 500, 1.0), ("Cloud-B", "cloud", "成都", 500, 2.0),
                     ("Cloud-A", "cloud", "广州", 500, 2.0)])
    ln = lanes([(w, r, c, d) for w, r, c, d in [
        ("Main", "华东", 4.0, 1.0), ("Main", "西南", 8.0, 3.0),
        ("Cloud-A", "华东", 6.0, 2.0), ("Cloud-A", "西南", 6.0, 2.0),
        ("Cloud-B", "华东", 7.0, 2.0), ("Cloud-B", "西南", 4.0, 1.0)]])
    rd = regions([("华东", 0.6, 5.0), ("西南", 0.4, 6.0)])
    a = lg.allocate(100, rd, wh, ln, lg.LogisticsSettings(baseline_shares=(0.7, 0.1, 0.2)))
    # Cloud shares go to cloud warehouses in name order: Cloud-A 0.1, Cloud-B 0.2.
    assert flow(a, "Main", "华东")["baseline_orders"] == pytest.approx(42)
    assert flow(a, "Cloud-A", "华东")["baseline_orders"] == pytest.approx(6)
    assert flow(a, "Cloud-B", "华东")["baseline_orders"] == pytest.approx(12)
    assert flow(a, "Main", "西南")["baseline_orders"] == pytest.approx(28)
    assert flow(a, "Cloud-A", "西南")["baseline_orders"] == pytest.approx(4)
    assert flow(a, "Cloud-B", "西南")["baseline_orders"] == pytest.approx(8)
    # Money per order (lane + handling): 42*5 + 6*8 + 12*9 + 28*9 + 4*8 + 8*6 = 698 over 100 orders.
    assert a.baseline_cost_per_order == pytest.approx(6.98)
    # Days: 42*1 + 6*2 + 12*2 + 28*3 + 4*2 + 8*1 = 178.
    assert a.baseline_mean_delivery_days == pytest.approx(1.78)
    # The optimum (no penalty): 华东 from Main (5), 西南 from Cloud-B (6): (60*5 + 40*6) / 100.
    assert a.cost_per_order == pytest.approx(5.4)
    assert a.cost_per_order < a.baseline_cost_per_order
    base = a.split.set_index("warehouse")["baseline_share"].to_dict()
    assert base == pytest.approx({"Main": 0.7, "Cloud-A": 0.1, "Cloud-B": 0.2})


def test_baseline_without_a_lane_and_equal_cloud_split():
    wh = warehouses([("M", "main", "x", 500, 0.0), ("C1", "cloud", "y", 500, 0.0), ("C2", "cloud", "z", 500, 0.0)])
    ln = lanes([("M", "R", 1.0, 1.0), ("C1", "R", 1.0, 1.0)])  # C2 has no lane to R
    rd = regions([("R", 1.0, 1.0)])
    a = lg.allocate(100, rd, wh, ln, lg.LogisticsSettings(baseline_shares=(0.7, 0.3)))  # 1 cloud share, 2 clouds
    # Cloud total 0.3 split equally (0.15 each); C2's part is shared by M and C1 in proportion 0.7 : 0.15.
    assert flow(a, "M", "R")["baseline_orders"] == pytest.approx(100 * 0.7 / 0.85)
    assert flow(a, "C1", "R")["baseline_orders"] == pytest.approx(100 * 0.15 / 0.85)
    assert any("split equally" in n for n in a.notes) and any("lacks lanes" in n for n in a.notes)


def test_baseline_over_capacity_is_reported():
    wh = warehouses([("M", "main", "x", 50, 0.0), ("C1", "cloud", "y", 50, 0.0), ("C2", "cloud", "z", 50, 0.0)])
    ln = lanes([(w, "R", 1.0, 1.0) for w in ("M", "C1", "C2")])
    a = lg.allocate(100, regions([("R", 1.0, 1.0)]), wh, ln)
    assert a.feasible and a.baseline_over_capacity == ["M"]
    assert a.split.set_index("warehouse").loc["M", "baseline_utilisation"] == pytest.approx(70 / 50)


def test_infeasible_total_capacity_explains_shortfall():
    wh = warehouses([("M", "main", "x", 50, 0.0), ("C", "cloud", "y", 30, 0.0)])
    ln = lanes([("M", "R1", 1.0, 1.0), ("C", "R1", 2.0, 1.0), ("M", "R2", 1.0, 1.0), ("C", "R2", 1.5, 1.0)])
    a = lg.allocate(100, regions([("R1", 0.5, 1.0), ("R2", 0.5, 1.0)]), wh, ln)
    assert not a.feasible
    assert a.shortfall == pytest.approx(20)
    assert "80 orders/day" in a.explanation and "20.0 short" in a.explanation
    assert a.flows["orders"].sum() == pytest.approx(80)  # the plan still ships what it can


def test_infeasible_unreachable_region_and_local_bottleneck():
    # Enough capacity in total (200), but R2 is reachable only from C (capacity 10) and R3 not at all.
    wh = warehouses([("M", "main", "x", 190, 0.0), ("C", "cloud", "y", 10, 0.0)])
    ln = lanes([("M", "R1", 1.0, 1.0), ("C", "R2", 1.0, 1.0)])
    rd = regions([("R1", 0.5, 1.0), ("R2", 0.3, 1.0), ("R3", 0.2, 1.0)])
    a = lg.allocate(100, rd, wh, ln)
    assert not a.feasible
    assert a.shortfall_by_region == pytest.approx({"R2": 20.0, "R3": 20.0})
    assert "no lane reaches R3" in a.explanation and "40.0 orders/day stay unshipped" in a.explanation


def test_unknown_warehouse_in_lanes_is_an_input_error():
    wh = warehouses([("M", "main", "x", 10, 0.0)])
    ln = lanes([("M", "R", 1.0, 1.0), ("Ghost", "R", 1.0, 1.0)])
    with pytest.raises(InputError) as err:
        lg.allocate(5, regions([("R", 1.0, 1.0)]), wh, ln)
    assert err.value.column == "warehouse" and "Ghost" in err.value.problem


# ----------------------------------------------------------------------------------------------------------
# The courier rule
# ----------------------------------------------------------------------------------------------------------
def urgent(rows):
    frame = pd.DataFrame(rows, columns=["order_id", "timestamp", "region", "distance_km", "promised_hours",
                                        "standard_hours", "standard_cost", "courier_cost"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"]).dt.tz_localize(TZ)
    return frame


DAY = [
    # slot 00-08: one order (would qualify except for peak)
    ("n1", "2025-03-09 03:00", "西湖", 5.0, 4, 20, 6.0, 12.0),
    # slot 08-16: four orders -> peak (4 > median 2)
    ("p1", "2025-03-09 09:00", "西湖", 15.0, 4, 20, 6.0, 16.0),   # qualifies at the limits (15 km, +10 yuan)
    ("p2", "2025-03-09 10:00", "余杭", 15.5, 4, 20, 6.0, 12.0),   # too far
    ("p3", "2025-03-09 11:00", "西湖", 3.0, 4, 4, 6.0, 12.0),     # carrier keeps the promise (4 h <= 4 h)
    ("p4", "2025-03-09 15:59", "滨江", 8.0, 4, 20, 6.0, 16.5),    # courier 10.5 yuan dearer
    # slot 16-24: two orders -> not peak (2 is not above the median 2)
    ("e1", "2025-03-09 16:00", "西湖", 5.0, 4, 20, 6.0, 12.0),
    ("e2", "2025-03-09 23:30", "西湖", 5.0, 6, 5, 6.0, 12.0),
]


def test_courier_rule_per_slot_by_hand():
    decisions, summary = lg.courier_rule(urgent(DAY), lg.LogisticsSettings())
    chosen = decisions.set_index("order_id")["to_courier"].to_dict()
    assert chosen == {"n1": False, "p1": True, "p2": False, "p3": False, "p4": False, "e1": False, "e2": False}
    reason = decisions.set_index("order_id")["reason"]
    assert "beyond 15 km" in reason["p2"] and "keeps the 4 h promise" in reason["p3"]
    assert "10.5 yuan more" in reason["p4"] and "not a peak slot" in reason["e1"]
    assert summary["slot"].tolist() == ["00-08", "08-16", "16-24"]
    assert summary["orders"].tolist() == [1, 4, 2]
    assert summary["peak"].tolist() == [False, True, False]
    assert summary["to_courier"].tolist() == [0, 1, 0]
    assert summary["extra_cost"].tolist() == pytest.approx([0.0, 10.0, 0.0])
    # Promises the carrier will miss and no courier takes: n1, p2, p4, e1.
    assert summary["promises_missed"].tolist() == [1, 2, 1]


def test_courier_rule_fixed_peak_and_custom_slots():
    fixed = lg.LogisticsSettings(peak_orders=1)  # any slot with 2+ urgent orders is peak
    decisions, _ = lg.courier_rule(urgent(DAY), fixed)
    assert decisions.set_index("order_id")["to_courier"].to_dict()["e1"] is True
    # Slots 00-10, 10-18, 18-24: orders 2 / 4 / 1 -> median 2, only 10-18 is peak; p1 (09:00) is not in it.
    custom = lg.LogisticsSettings(slots_per_day=3, slot_start_hours=(0, 10, 18))
    decisions, summary = lg.courier_rule(urgent(DAY), custom)
    assert summary["slot"].tolist() == ["00-10", "10-18", "18-24"]
    assert summary["orders"].tolist() == [2, 4, 1]
    chosen = decisions.set_index("order_id")["to_courier"]
    assert chosen["e1"] and not chosen["p1"] and int(chosen.sum()) == 1


def test_courier_rule_ignores_rows_after_as_of():
    as_of = pd.Timestamp("2025-03-09 15:00", tz=TZ)
    base = urgent(DAY)
    future = urgent([
        ("f1", "2025-03-09 15:30", "西湖", 5.0, 4, 20, 6.0, 12.0),
        ("f2", "2025-03-09 20:00", "西湖", 5.0, 4, 20, 6.0, 12.0),
        ("f3", "2025-03-10 09:00", "西湖", 5.0, 4, 20, 6.0, 12.0),
    ])
    d1, s1 = lg.courier_rule(base, lg.LogisticsSettings(), as_of=as_of)
    d2, s2 = lg.courier_rule(pd.concat([base, future], ignore_index=True), lg.LogisticsSettings(), as_of=as_of)
    pd.testing.assert_frame_equal(d1, d2)
    pd.testing.assert_frame_equal(s1, s2)
    # At 15:00 the 16-24 slot has not started: two slots, 08-16 (3 orders so far) above the median 2.
    assert s1["slot"].tolist() == ["00-08", "08-16"] and s1["orders"].tolist() == [1, 3]


# ----------------------------------------------------------------------------------------------------------
# Cost against normal
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cost, level", [(11.4, "ok"), (11.6, "warn"), (11.99, "warn"), (12.1, "alert")])
def test_cost_ceiling_levels(cost, level):
    wh = warehouses([("M", "main", "x", 100, 0.0)])
    a = lg.allocate(10, regions([("R1", 0.75, 8.0), ("R2", 0.25, 16.0)]), wh,
                    lanes([("M", "R1", 1.0, 1.0), ("M", "R2", 1.0, 1.0)]))
    a = dataclasses.replace(a, cost_per_order=cost)
    check = lg.cost_vs_normal(a, regions([("R1", 0.75, 8.0), ("R2", 0.25, 16.0)]))
    assert check.normal_cost_per_order == pytest.approx(10.0)  # 0.75 * 8 + 0.25 * 16
    assert check.overrun == pytest.approx(cost / 10 - 1)
    assert check.level == level


def test_cost_ceiling_custom_and_invalid():
    wh = warehouses([("M", "main", "x", 100, 0.0)])
    rd = regions([("R", 1.0, 10.0)])
    a = lg.allocate(10, rd, wh, lanes([("M", "R", 10.5, 1.0)]))
    assert lg.cost_vs_normal(a, rd).level == "ok"
    assert lg.cost_vs_normal(a, rd, ceiling=(0.02, 0.04)).level == "alert"
    assert lg.cost_vs_normal(a, rd, ceiling=(0.02, 0.10)).level == "warn"
    with pytest.raises(ConfigError):
        lg.cost_vs_normal(a, rd, ceiling=(0.2, 0.1))


# ----------------------------------------------------------------------------------------------------------
# Settings, loaders, figures
# ----------------------------------------------------------------------------------------------------------
def test_settings_refuse_bad_values():
    with pytest.raises(ConfigError, match="unknown logistics parameter"):
        lg.LogisticsSettings.from_mapping({"max_kms": 10})
    with pytest.raises(ConfigError, match="baseline_shares"):
        lg.LogisticsSettings(baseline_shares=[0.7, 0.2])
    with pytest.raises(ConfigError, match="slot_start_hours"):
        lg.LogisticsSettings(slot_start_hours=(0, 12))
    assert lg.LogisticsSettings(slots_per_day=4).slot_starts == (0.0, 6.0, 12.0, 18.0)


def test_loaders_check_cross_row_rules(tmp_path):
    (tmp_path / "rd.csv").write_text("region,share,normal_cost_per_order\n华东,0.5,5\n西南,0.4,6\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        sc.load_regional_demand("rd.csv", data_root=tmp_path)
    assert err.value.column == "share" and err.value.file.endswith("rd.csv") and "0.9000" in err.value.problem
    # Rows are file rows, not the key-sorted positions: Z-east is row 2 but sorts last.
    (tmp_path / "rd2.csv").write_text("region,share,normal_cost_per_order\nZ-east,1.5,5\nA-west,0.0,6\n",
                                      encoding="utf-8")
    with pytest.raises(InputError) as err:
        sc.load_regional_demand("rd2.csv", data_root=tmp_path)
    assert err.value.rows == [2]
    (tmp_path / "u.csv").write_text(
        "order_id,timestamp,region,distance_km,promised_hours,standard_hours,standard_cost,courier_cost\n"
        "U9,2025-03-09 10:00,西湖,5,4,20,6,12\nU1,2025-03-09 11:00,西湖,5,0,20,6,12\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        sc.load_urgent_orders("u.csv", data_root=tmp_path)
    assert err.value.column == "promised_hours" and err.value.rows == [3]
    (tmp_path / "w.csv").write_text("warehouse,kind,city,capacity_per_day,handling_cost\nM,main,杭州,60,1.2\n"
                                    "C,cloud,成都,20,2\n", encoding="utf-8")
    frame = sc.load_warehouses("w.csv", data_root=tmp_path)
    assert frame["capacity_per_day"].tolist() == [20, 60]  # sorted by the key
    (tmp_path / "bad_kind.csv").write_text("warehouse,kind,city,capacity_per_day,handling_cost\nM,depot,杭州,6,1\n",
                                           encoding="utf-8")
    with pytest.raises(InputError) as err:
        sc.load_warehouses("bad_kind.csv", data_root=tmp_path)
    assert err.value.column == "kind"


def test_figures_have_titles_and_render_chinese():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spikekit.core import plots

    plots.use_theme()
    wh = warehouses([("杭州主仓", "main", "杭州", 60, 1.0), ("云仓-成都", "cloud", "成都", 30, 2.0),
                     ("云仓-广州", "cloud", "广州", 30, 2.0)])
    ln = lanes([(w, r, 5.0, 2.0) for w in wh["warehouse"] for r in ("华东", "西南")])
    rd = regions([("华东", 0.6, 5.0), ("西南", 0.4, 6.0)])
    a = lg.allocate(80, rd, wh, ln)
    _, summary = lg.courier_rule(urgent(DAY))
    for fig in (lg.plot_split(a), lg.plot_cost(a, lg.cost_vs_normal(a, rd)), lg.plot_courier_slots(summary)):
        ax = fig.axes[0]
        assert ax.get_title() and ax.get_ylabel()
        assert plots.missing_glyphs(fig) == []
        plt.close(fig)
    assert lg.headline(a, lg.cost_vs_normal(a, rd), summary).startswith(("READY", "WATCH COST", "OVER CEILING", "ADD CAPACITY"))


def test_planned_orders_and_review():
    demand = {"estimate": 66.3, "low": 56.9, "high": 76.8, "conf": 0.9}
    assert lg.planned_orders(demand) == pytest.approx(66.3)
    assert lg.planned_orders(demand, lg.LogisticsSettings(demand_level="high", peak_multiplier=1.5)) == \
        pytest.approx(115.2)
    with pytest.raises(ConfigError):
        lg.planned_orders({}, lg.LogisticsSettings())
    with pytest.raises(ConfigError):
        lg.LogisticsSettings(demand_level="median")

    wh = warehouses([("M", "main", "x", 50, 0.0), ("C", "cloud", "y", 30, 0.0)])
    ln = lanes([("M", "R", 5.0, 1.0), ("C", "R", 5.0, 1.0)])
    rd = regions([("R", 1.0, 5.0)])
    _, summary = lg.courier_rule(urgent(DAY))
    ok = lg.allocate(60, rd, wh, ln)
    assert lg.review(ok, lg.cost_vs_normal(ok, rd), summary)[0] == "READY"
    dear = dataclasses.replace(ok, cost_per_order=6.5)  # +30% over normal 5
    verdict, reasons = lg.review(dear, lg.cost_vs_normal(dear, rd), summary)
    assert verdict == "OVER CEILING" and any("1 of 7 go to couriers" in r for r in reasons)
    short = lg.allocate(100, rd, wh, ln)
    assert lg.review(short, lg.cost_vs_normal(short, rd), summary)[0] == "ADD CAPACITY"
    assert "SHORT 20.0" in lg.headline(short, lg.cost_vs_normal(short, rd), summary)


def test_no_orders_to_ship_reads_as_such_not_nan():
    """A day with no orders (the false-alarm sample): no cost per order exists; the headline and the cost check say
    so instead of 'nan yuan/order (+nan% vs normal)'."""
    wh = warehouses([("M", "main", "x", 50, 0.0), ("C", "cloud", "y", 30, 0.0)])
    ln = lanes([("M", "R", 5.0, 1.0), ("C", "R", 5.0, 1.0)])
    rd = regions([("R", 1.0, 5.0)])
    idle = lg.allocate(0, rd, wh, ln)
    check = lg.cost_vs_normal(idle, rd)
    _, summary = lg.courier_rule(urgent(DAY))
    text = lg.headline(idle, check, summary) + " " + check.message
    assert "nan" not in text.lower() and "nothing to ship" in text and "no cost per order" in check.message


def test_headline_dates_the_rush_orders_it_counts():
    """The courier count is cumulative up to as_of: the headline names the days it fell on, so a later day's brief
    does not read "30 rush orders" as that day's."""
    tz = "Asia/Shanghai"
    summary = pd.DataFrame({"day": pd.to_datetime(["2025-03-08", "2025-03-08", "2025-03-10", "2025-03-13"]).tz_localize(tz),
                            "slot": ["10-14", "18-22", "10-14", "18-22"], "orders": [9, 12, 4, 15],
                            "peak": [True, True, False, True], "to_courier": [3, 5, 0, 2],
                            "extra_cost": [12.0, 20.0, 0.0, 8.0], "promises_kept_by_courier": [3, 5, 0, 2],
                            "promises_missed": [0, 1, 2, 0]})
    assert lg._couriers_text(summary) == "10 rush orders to couriers (03-08 to 03-13)"
    assert lg._couriers_text(summary.iloc[:2]) == "8 rush orders to couriers (03-08)"
    assert lg._couriers_text(summary.iloc[2:3]) == "0 rush orders to couriers"
    assert lg._couriers_text(summary.iloc[0:0]) == "0 rush orders to couriers"


def test_split_lists_main_warehouse_first_and_records_as_json():
    from spikekit.core.record import from_jsonable, to_jsonable
    import json

    wh = warehouses([("A-cloud", "cloud", "y", 30, 0.0), ("Z-main", "main", "x", 50, 0.0)])
    ln = lanes([("Z-main", "R", 5.0, 1.0), ("A-cloud", "R", 5.0, 1.0)])
    a = lg.allocate(40, regions([("R", 1.0, 5.0)]), wh, ln)
    assert a.split["warehouse"].tolist() == ["Z-main", "A-cloud"]
    back = from_jsonable(json.loads(json.dumps(to_jsonable(a.split))))
    assert back["orders"].sum() == pytest.approx(40)
    json.dumps(to_jsonable(a), allow_nan=False)
    _, summary = lg.courier_rule(urgent(DAY))
    assert from_jsonable(json.loads(json.dumps(to_jsonable(summary))))["to_courier"].tolist() == [0, 1, 0]


# ----------------------------------------------------------------------------------------------------------
# Planning the spike's forecast: the coming day and the peak
# ----------------------------------------------------------------------------------------------------------
def forecast(expected, high):
    days = pd.date_range("2025-03-10", periods=len(expected), freq="D")
    return {"source": "hand case", "daily": [{"day": f"{d:%Y-%m-%d}", "expected": e, "low": e / 2, "high": h}
                                             for d, e, h in zip(days, expected, high)]}


def test_chapter_05_plans_the_forecasts_peak_not_the_coming_day_alone():
    # One region, normal cost 5. The main warehouse ships at 5 but packs only 50 a day; the cloud one ships at 8.
    wh = warehouses([("M", "main", "x", 50, 0.0), ("C", "cloud", "y", 200, 0.0)])
    ln = lanes([("M", "R", 5.0, 1.0), ("C", "R", 8.0, 1.0)])
    rd = regions([("R", 1.0, 5.0)])
    points = lg.plan_points(forecast([40, 60, 100, 80], [50, 80, 150, 100]))
    assert points["point"].tolist() == ["now", "peak", "peak high"]
    assert points["day"].tolist() == [1, 3, 3] and points["date"].tolist() == ["2025-03-10", "2025-03-12", "2025-03-12"]
    assert points["orders_per_day"].tolist() == [40, 100, 150]
    plan = lg.plan_at_points(points, rd, wh, ln, NO_PENALTY)
    # Now: all 40 from M at 5 (+0%). Peak: 50 at 5 + 50 at 8 = 6.50 (+30%, past the 20% ceiling).
    # Busy case: 50 at 5 + 100 at 8 = 7.00 (+40%).
    assert plan.points["cost_per_order"].tolist() == pytest.approx([5.0, 6.5, 7.0])
    assert plan.points["level"].tolist() == ["ok", "alert", "alert"]
    _, summary = lg.courier_rule(urgent(DAY))
    verdict, reasons = lg.review_points(plan, summary)
    assert verdict == "OVER CEILING"  # the coming day alone would say READY
    assert any(r.startswith("The forecast's peak (2025-03-12, day 3): 100 orders") for r in reasons)
    assert lg.headline_points(plan, summary).startswith("OVER CEILING: now 40 orders/day")
    assert "peak 2025-03-12 100 orders/day" in lg.headline_points(plan, summary)
    # A cloud warehouse too small for the peak: add capacity before it, though the coming day ships fine.
    small = warehouses([("M", "main", "x", 50, 0.0), ("C", "cloud", "y", 40, 0.0)])
    tight = lg.plan_at_points(points, rd, small, ln, NO_PENALTY)
    assert tight["now"][0].feasible and not tight["peak"][0].feasible
    assert lg.review_points(tight, summary)[0] == "ADD CAPACITY"
    with pytest.raises(ConfigError, match="no daily forecast"):
        lg.plan_points({"daily": []})
