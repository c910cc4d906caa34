"""Chapter 04 (spikekit.chapters.inventory): known answers for the reorder points, the simulation and the ladder."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from spikekit.chapters import inventory as inv
from spikekit.inputs.contracts import load_stock
from spikekit.core.errors import ConfigError, InputError

DAILY_DEMAND = {"estimate": 66.3, "low": 56.9, "high": 76.8, "conf": 0.9}  # chapter 02's record (starry-mug)


def never_reorder(**kw) -> inv.ReorderPolicy:
    return inv.ReorderPolicy(reorder_point=-1.0, order_up_to=0.0, **kw)


# --------------------------------------------------------------------------------------- handbook rules


def test_first_order_is_half_the_validation_sales_rounded_up():
    assert inv.first_order(127) == 64  # 63.5 units -> 64
    assert inv.first_order(100) == 50
    assert inv.first_order(10, share=0.3) == 3
    with pytest.raises(ConfigError):
        inv.first_order(100, share=0)


def test_reorder_rule_is_seven_days_of_sales():
    assert inv.reorder_point_rule(66.3) == pytest.approx(464.1)
    assert inv.reorder_point_rule(20, days=3) == pytest.approx(60)


# ------------------------------------------------------------------------------ service-level reorder point


def test_standard_example_d100_sd20_lead4():
    # d = 100/day, sd = 20, L = 4 days, fixed lead, 95%: SS = 1.645 * sqrt(4 * 20^2) = 1.645 * 40 = 65.8.
    rop = inv.reorder_point_service(100, 20, 4, 0, 0.95)
    assert rop.sd_lead_time_demand == pytest.approx(40.0)
    assert rop.safety_stock == pytest.approx(65.8, abs=0.05)
    assert rop.reorder_point == pytest.approx(465.8, abs=0.05)


def test_stevenson_operations_management_examples():
    # Stevenson, Operations Management (14th ed.), ch. 12, Example 8: lead-time demand mean 50 t, sd 5 t,
    # 3% stock-out risk -> z = 1.88, safety stock 9.40 t, ROP 59.40 t (written as one "day" of lead time).
    sand = inv.reorder_point_service(50, 5, 1, 0, 0.97)
    assert sand.z == pytest.approx(1.88, abs=0.005)
    assert sand.safety_stock == pytest.approx(9.40, abs=0.01)
    assert sand.reorder_point == pytest.approx(59.40, abs=0.01)
    # Same chapter: 50 jars a week, sd 3 a week, lead 2 weeks, 10% risk -> ROP = 100 + 1.28 * sqrt(2) * 3
    # = 105.43 (table z 1.28; the exact z 1.2816 gives 105.44).
    sauce = inv.reorder_point_service(50, 3, 2, 0, 0.90)
    assert sauce.reorder_point == pytest.approx(105.43, abs=0.01)


def test_lead_time_variance_by_hand():
    # d = 150/day, sd 2, lead 4 days with sd 0.5: sd = sqrt(4 * 2^2 + 150^2 * 0.5^2) = sqrt(5641) = 75.107.
    rop = inv.reorder_point_service(150, 2, 4, 0.5, 0.95)
    assert rop.sd_lead_time_demand == pytest.approx(math.sqrt(5641))
    assert rop.lead_time_demand == pytest.approx(600)
    assert rop.reorder_point == pytest.approx(600 + 1.6448536 * 75.10659, abs=0.01)  # 723.54


# --------------------------------------------------------------------------------------------- forecast


def test_forecast_shape_and_level_uncertainty():
    fc = inv.demand_forecast(DAILY_DEMAND, 14, life_days=9, peak_day=6, spike_day=3)
    # The bell stands at 10% of its peak on day 0 and day 9: widths 6 / sqrt(2 ln 10) and 3 / sqrt(2 ln 10).
    assert fc.shape["rise_width"] == pytest.approx(6 / math.sqrt(2 * math.log(10)))
    assert fc.shape["fall_width"] == pytest.approx(3 / math.sqrt(2 * math.log(10)))
    # Day 3 covers spike days 6..7: the expected peak sits at the start of the horizon's day 3 (and day 4).
    assert int(np.argmax(fc.daily)) + 1 in (3, 4)
    assert fc.daily[-1] < 0.01 * fc.daily.max()  # long after the spike's life: nearly nothing
    # Level sigma: the 90% interval of the lognormal multiplier matches chapter 02's low..high.
    sigma = math.log(76.8 / 56.9) / (2 * 1.6448536)
    assert fc.level_sigma == pytest.approx(sigma, rel=1e-6)
    rng = np.random.default_rng(1)
    level = np.exp(fc.level_sigma * rng.standard_normal(200_000))
    assert np.quantile(level, 0.05) == pytest.approx(math.sqrt(56.9 / 76.8), rel=0.01)


def test_forecast_starts_at_the_validated_rate():
    # With a one-day validation window, the forecast made one spike day earlier predicts for its day 1
    # exactly the window of the later forecast: both shapes agree up to the scale set by the rate.
    later = inv.demand_forecast(30.0, 10, spike_day=3, validation_days=1)
    earlier = inv.demand_forecast(30.0, 10, spike_day=2, validation_days=1)
    np.testing.assert_allclose(later.daily[:8] / later.rate, earlier.daily[1:9] / earlier.daily[0], rtol=1e-9)


def test_forecast_refuses_a_peak_after_the_end_of_life():
    with pytest.raises(ConfigError):
        inv.demand_forecast(DAILY_DEMAND, 14, life_days=5, peak_day=6)


# ------------------------------------------------------------------------------------------- simulation


def test_simulation_is_deterministic_under_a_seed():
    fc = inv.demand_forecast(DAILY_DEMAND, 14)
    policy = inv.make_policy(fc, inv.compare_reorder_points(fc), 5, initial_order=64)
    one = inv.simulate(40, None, fc, policy, runs=500, seed=7, unit_cost=14.5, salvage_value=9)
    two = inv.simulate(40, None, fc, policy, runs=500, seed=7, unit_cost=14.5, salvage_value=9)
    other = inv.simulate(40, None, fc, policy, runs=500, seed=8, unit_cost=14.5, salvage_value=9)
    pd.testing.assert_frame_equal(one.table, two.table)
    assert one.to_dict() == two.to_dict()
    assert not one.table["stock_p95"].equals(other.table["stock_p95"]) or one.fill_rate != other.fill_rate


def _analytic_day2_stockout(stock: int, lam: float) -> float:
    """P(stock-out on day 2) with no replenishment: D2 > max(stock - D1, 0), D1, D2 ~ Poisson(lam)."""
    d1 = np.arange(0, 200)
    remaining = np.maximum(stock - d1, 0)
    return float((sps.poisson.pmf(d1, lam) * sps.poisson.sf(remaining, lam)).sum())


def test_stockout_probability_matches_the_analytic_answer():
    fc = inv.DemandForecast.constant(8.0, 2)
    sim = inv.simulate(10, None, fc, never_reorder(), runs=40_000, seed=3)
    p1, p2 = sim.table["stockout_prob"]
    exact1, exact2 = float(sps.poisson.sf(10, 8.0)), _analytic_day2_stockout(10, 8.0)
    for got, exact in ((p1, exact1), (p2, exact2)):
        assert abs(got - exact) < 4 * math.sqrt(exact * (1 - exact) / 40_000)


def test_stockout_estimate_converges_as_runs_grow():
    fc = inv.DemandForecast.constant(8.0, 2)
    small = inv.simulate(10, None, fc, never_reorder(), runs=4_000, seed=11).table["stockout_prob"].iloc[1]
    large = inv.simulate(10, None, fc, never_reorder(), runs=16_000, seed=12).table["stockout_prob"].iloc[1]
    assert abs(small - large) < 0.03
    assert abs(large - _analytic_day2_stockout(10, 8.0)) < 0.02


def test_deterministic_lead_time_lands_the_first_order_on_day_two():
    fc = inv.DemandForecast.constant(5.0, 3)
    policy = never_reorder(lead_days=2, initial_order=50)
    sim = inv.simulate(0, None, fc, policy, runs=20_000, seed=5)
    # Day 1: nothing on hand, so any demand is a stock-out: P = 1 - e^-5. Day 2: 50 units land first.
    assert sim.table["stockout_prob"].iloc[0] == pytest.approx(1 - math.exp(-5), abs=0.006)
    assert sim.table["stockout_prob"].iloc[1] == 0.0
    assert sim.table["stock_p50"].iloc[1] == 45  # 50 minus the median of Poisson(5)
    schedule = inv.order_schedule(0, None, fc, policy)
    assert schedule.loc[0, "order_units"] == 50 and schedule.loc[0, "lands_on_day"] == 2


def test_order_schedule_by_hand():
    # 10 a day, 30 on hand, reorder at 25 up to 60, lead 2 days: order 40 at the end of day 1 (stock 20)
    # landing on day 3; stock 20 -> 10 -> 40 -> 30 -> 20: order 40 again at the end of day 5, landing day 7.
    fc = inv.DemandForecast.constant(10.0, 8)
    policy = inv.ReorderPolicy(reorder_point=25, order_up_to=60, lead_days=2)
    schedule = inv.order_schedule(30, None, fc, policy)
    orders = schedule.loc[schedule["order_units"] > 0, ["day", "order_units", "lands_on_day"]]
    assert orders.values.tolist() == [[1, 40, 3], [5, 40, 7]]
    assert schedule["stock_end"].tolist() == [30, 20, 10, 40, 30, 20, 10, 40, 30]


def test_scheduled_arrivals_and_overstock_value():
    fc = inv.DemandForecast.constant(0.0, 5)
    arrivals = pd.DataFrame({"day": [2, 9], "date": [None, None], "arrivals": [30, 12]})
    sim = inv.simulate(5, arrivals, fc, never_reorder(), runs=200, seed=1, unit_cost=14, salvage_value=9)
    assert sim.table["stock_p50"].tolist() == [5, 35, 35, 35, 35]
    assert sim.expected_overstock["units"] == 35
    assert sim.expected_overstock["value"] == pytest.approx(35 * 5)
    assert sim.expected_overstock["on_order_after_horizon"] == 12  # day 9 is past the 5-day horizon
    assert sim.fill_rate == 1.0
    with pytest.raises(InputError):
        inv.arrivals_by_day(pd.DataFrame({"day": [0], "arrivals": [5]}), 5)


def test_reorder_choice_takes_the_larger_while_rising_and_the_service_point_after_the_peak():
    fc = inv.demand_forecast(DAILY_DEMAND, 14)
    choice = inv.compare_reorder_points(fc, 7, 4, 1, 0.95)
    t = choice.table
    rising = t["basis"].str.startswith("rising")
    assert rising.iloc[0] and not rising.iloc[-1]
    np.testing.assert_allclose(t.loc[rising, "chosen"], np.maximum(t.loc[rising, "rule"], t.loc[rising, "service"]))
    np.testing.assert_allclose(t.loc[~rising, "chosen"], t.loc[~rising, "service"])
    assert t.loc[0, "rule"] == pytest.approx(7 * fc.daily[0])


# ------------------------------------------------------------------------------------------- promotions


@pytest.mark.parametrize(
    "cover,name",
    [(0, "hold price"), (6.99, "hold price"), (7, "normal"), (14, "normal"), (14.01, "push"), (21, "push"),
     (21.01, "push hard"), (math.inf, "push hard")],
)
def test_ladder_boundaries(cover, name):
    ladder = inv.promotion_ladder()
    stock = 10.0 * cover if math.isfinite(cover) else 100.0
    rate = 10.0 if math.isfinite(cover) else 0.0
    assert inv.promotion_now(stock, rate, ladder)["name"] == name


def test_forward_cover_with_a_fading_forecast():
    ladder = inv.promotion_ladder(discounts=(0, 0, 0.05, 0.1))
    now = inv.promotion_now(25, [10, 10, 10, 10], ladder)
    assert now["days_of_cover"] == pytest.approx(2.5)
    assert inv.promotion_now(45, [10, 10, 10, 10], ladder)["days_of_cover"] == pytest.approx(4.5)
    assert ladder["discount"].tolist() == [0, 0, 0.05, 0.1]
    with pytest.raises(ConfigError):
        inv.promotion_ladder(days_of_cover=(14, 7, 21))


# ------------------------------------------------------------------------------------ stock and settings


def test_stock_contract_and_position(tmp_path):
    folder = tmp_path / "samples"
    folder.mkdir()
    (folder / "stock.csv").write_text(
        "sku,on_hand,unit_cost,price,holding_cost_per_day,salvage_value\n"
        "starry-mug-blue,40,14.5,49,0.05,9\nstarry-mug-purple,10,12.5,49,0.05,8\n", encoding="utf-8")
    stock = load_stock("samples/stock.csv", data_root=tmp_path)
    pooled = inv.stock_position(stock)
    assert pooled["on_hand"] == 50
    assert pooled["unit_cost"] == pytest.approx((40 * 14.5 + 10 * 12.5) / 50)
    assert inv.stock_position(stock, "starry-mug-blue")["salvage_value"] == 9
    with pytest.raises(ConfigError):
        inv.stock_position(stock, "nope")
    (folder / "bad.csv").write_text(
        "sku,on_hand,unit_cost,price,holding_cost_per_day,salvage_value\n"
        "a,1,10,20,0,5\nb,1,10,20,0,25\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_stock("samples/bad.csv", data_root=tmp_path)
    assert err.value.column == "salvage_value" and err.value.rows == [3]


def test_settings_refuse_unknown_and_bad_values():
    with pytest.raises(ConfigError):
        inv.InventorySettings.from_mapping({"reorder_dayz": 7})
    with pytest.raises(ConfigError):
        inv.InventorySettings(service_level=1.0)
    with pytest.raises(ConfigError, match="unknown"):  # the bell's constants are gone: the forecast is the state's
        inv.InventorySettings.from_mapping({"spike_day": 3.0})
    settings = inv.InventorySettings.from_mapping({"cover_thresholds": [7, 14, 21], "runs": 2000})
    assert settings.cover_thresholds == (7.0, 14.0, 21.0)


# ------------------------------------------------------------------------------ on the spike's state


def test_forecast_from_the_spike_state_keeps_its_days_and_interval():
    shared = {"source": "hand case", "peak_date": None, "remaining": {"estimate": 60.0, "conf": 0.9},
              "daily": [{"day": "2025-03-10", "expected": 10, "low": 5, "high": 20},
                        {"day": "2025-03-11", "expected": 20, "low": 10, "high": 40},
                        {"day": "2025-03-12", "expected": 30, "low": 15, "high": 60}]}
    fc = inv.DemandForecast.from_state(shared, 3, start="2025-03-09 12:00")
    assert fc.daily.tolist() == [10, 20, 30]
    assert fc.mean[3:6].tolist() == [30, 30, 30]  # past the forecast's last day: its last day repeated
    # Over the horizon: high 120 / low 30 = 4 = exp(2 z sigma), z the 90% two-sided normal quantile.
    assert fc.level_sigma == pytest.approx(math.log(4) / (2 * sps.norm.ppf(0.95)))
    frame = fc.to_frame()
    assert frame["low"].tolist() == [5, 10, 15] and frame["high"].tolist() == [20, 40, 60]
    assert str(frame["date"].iloc[0]) == "2025-03-10"
    assert fc.shape["peak_day"] == 3 and fc.shape["remaining_units"] == 60.0
    with pytest.raises(ConfigError, match="no daily forecast"):
        inv.DemandForecast.from_state({"daily": []}, 3)


def test_next_order_due_is_the_first_day_the_position_falls_to_the_reorder_point():
    # Position 500, 100 a day, reorder at 250: 500, 400, 300 at the end of days 0-2, then 200 <= 250 on day 3.
    due = inv.next_order_due(500, [100] * 10, [250] * 10, start="2025-03-09 12:00")
    assert (due["day"], str(due["date"]), due["position"]) == (3, "2025-03-12", 200.0)
    assert inv.next_order_due(200, [100] * 10, [250] * 10)["day"] == 0  # already below: due now
    late = inv.next_order_due(5000, [100] * 10, [250] * 10)
    assert late["day"] is None and late["date"] is None and late["horizon_days"] == 10
    # A reorder point that falls with the forecast (the spike fading) is never reached.
    fading = inv.next_order_due(500, [100, 50, 25, 10, 5, 5, 5, 5, 5, 5], [300, 150, 80, 40, 30, 30, 30, 30, 30, 30])
    assert fading["day"] is None  # 500, 400, 350, 325, ... never reaches the fading reorder point
    assert inv.verdict("rising", due) == "covered; next order due 2025-03-12"
    assert inv.verdict("rising", {"day": 0}) == "reorder due now"
    assert inv.verdict("declining", {"day": 0}) == "no reorders: the spike is declining"


def test_backlog_ships_first_from_stock_then_from_the_earliest_arrivals():
    # 100 pre-sold, 30 on hand: the 30 go now, day 2's 50 and 20 of day 3's 40 clear the rest on day 3.
    stock, left, unserved, cleared = inv.net_of_backlog(30, 100, [0, 50, 40, 60])
    assert (stock, unserved, cleared) == (0, 0, 3)
    assert left.tolist() == [0, 0, 20, 60]
    stock, left, unserved, cleared = inv.net_of_backlog(120, 20, [10])
    assert (stock, left.tolist(), cleared) == (100, [10], 0)
    assert inv.net_of_backlog(0, 100, [30])[2:] == (70, None)  # 70 wait beyond every arrival known


def test_arrivals_combine_the_ledger_and_chapter_03():
    open_orders = [
        {"po_id": "PO-1", "supplier": "A", "units_open": 20, "expected_arrival": "2025-03-08T10:00:00+08:00"},  # overdue
        {"po_id": "PO-2", "supplier": "A", "units_open": 30, "expected_arrival": "2025-03-12T10:00:00+08:00"},
        {"po_id": "PO-3", "supplier": "B", "units_open": 15, "expected_arrival": "2025-03-25T10:00:00+08:00"},
    ]
    proposed = pd.DataFrame({"day": [2, 3], "date": [None, None], "arrivals": [40, 5]})
    got = inv.arrivals_from_state(open_orders, pd.Timestamp("2025-03-09 12:00", tz="Asia/Shanghai"), proposed, 14)
    assert len(got) == 16  # the last line lands on day 16, beyond the 14-day horizon: kept as on order
    assert got[:4].tolist() == [20, 40, 35, 0] and got[15] == 15 and got.sum() == 110


def test_promotion_follows_the_phase():
    ladder = inv.promotion_ladder()
    # 300 units at 20 a day: 15 days of cover, the ladder says push.
    assert inv.promotion_for_phase("peak", 300, 20.0, ladder)["name"] == "push"
    assert inv.promotion_for_phase("declining", 120, 20.0, ladder)["name"] == "chapter 06 markdown"
    assert inv.promotion_for_phase("declining", 0, 20.0, ladder)["name"] == "nothing to clear"  # 06: nothing to mark down
    turned_down = inv.promotion_for_phase("no-go", 600, 20.0, ladder)  # 30 days of cover: the ladder says push hard
    assert inv.promotion_for_phase("watching", 600, 20.0, ladder)["name"] == "push hard"
    assert turned_down["name"] == ladder.iloc[1]["name"] and not turned_down["extra_ads"] and "no-go" in turned_down["note"]
    young = inv.promotion_for_phase("rising", 300, 20.0, ladder)
    assert young["name"] == "normal" and young["discount"] == 0 and "no push" in young["note"]
    # Huge cover (30 days, beyond the top threshold of 21): a push even while rising.
    assert inv.promotion_for_phase("launching", 600, 20.0, ladder)["name"] == "push hard"
    # Declining with thin stock (3 days): not "hold price" but chapter 06's markdown.
    fading = inv.promotion_for_phase("declining", 60, 20.0, ladder)
    assert fading["name"] == "chapter 06 markdown" and fading["level"] is None
    from spikekit.inputs import state

    kinds = [p.kind for p in state.proposals_from_results({"04": {"promotion_now": fading}})]
    assert kinds == []  # no hold-price call to contradict the markdown
    assert [p.kind for p in state.proposals_from_results(
        {"04": {"promotion_now": inv.promotion_for_phase("rising", 60, 20.0, ladder)}})] == ["hold_price"]


def test_explanation_names_the_reorder_point_actually_used():
    fc = inv.DemandForecast.constant(100.0, 10)  # flat: not rising, so the service-level point is used
    choice = inv.compare_reorder_points(fc, 7, 4, 1, 0.95)
    assert choice.now["chosen"] == choice.now["service"] < choice.now["rule"]
    assert choice.explain().endswith(f"the service-level point is used, {choice.now['service']:.0f} units.")


def _call_inputs(position: float, rate: float = 20.0):
    """A flat forecast of ``rate`` a day, its reorder point (4-day lead), a short simulation and the ladder."""
    fc = inv.DemandForecast.constant(rate, 10)
    choice = inv.compare_reorder_points(fc, 7, 4, 1, 0.95)
    sim = inv.simulate(max(position, 0.0), [], fc, never_reorder(lead_days=4.0), runs=50, seed=1)
    promo = inv.promotion_for_phase("rising", max(position, 0.0), rate, inv.promotion_ladder())
    return fc, choice, sim, promo


def test_past_the_top_chapter_04_names_chapter_03s_backlog_order():
    # starry-mug as of 03-18: peak, 2,693 pre-sold units, nothing on hand or on order; chapter 03 orders them all.
    order_03 = inv.chapter03_order("order", {"units": 2693, "capped_by": "phase", "backlog_only": True}, None,
                                   units=2693.0)
    assert order_03["units"] == 2693 and order_03["backlog_only"]
    stock = {"on_hand": 0, "on_order": 0, "proposed": 2693.0, "backlog": 2693, "position": 0.0}
    fc, choice, sim, promo = _call_inputs(0.0)
    due = inv.next_order_due(0.0, fc.daily, choice.table["chosen"])
    assert due["day"] == 0  # the position after the backlog order is 0, below any reorder point
    verdict, reasons = inv.decide("peak", stock, due, choice, sim, promo, order_03=order_03)
    assert verdict == "backlog order only: 2693 units (chapter 03); no reorders for new demand while peak"
    assert any(r.startswith("Chapter 03 orders 2693 units today for customers who already paid") for r in reasons)
    assert inv.headline("peak", stock, due, choice, sim, promo, order_03=order_03).startswith(
        "Backlog order only: 2693 units (chapter 03)")
    # The sample's order is capped by the cash rule (383 of the 2,693): the call says so.
    cash = inv.chapter03_order("order", {"units": 383, "capped_by": "cash", "backlog_only": True}, None, units=383.0)
    assert inv.verdict("peak", due, order_03=cash) == (
        "backlog order only: 383 units (chapter 03, capped by the cash rule); no reorders for new demand while peak")
    # Without an order from chapter 03 (backlog covered, or serve_backlog off) the old call stands.
    held = inv.chapter03_order("hold", {"units": 0, "capped_by": "phase"}, "phase")
    assert inv.verdict("peak", due, order_03=held) == "no reorders: the spike is peak"


def test_chapter_04_follows_chapter_03s_capped_first_order():
    # starry-mug as of 03-07: chapter 03 orders 50 (the handbook's first order caps it until sales confirm); the
    # position with those 50 is still below the reorder point of 138. One order, named, not a second one.
    order_03 = inv.chapter03_order("order", {"units": 50, "capped_by": "first order", "backlog_only": False}, None,
                                   units=50.0)
    hand_due = {"day": 0, "date": None, "position": 50.0, "reorder_point": 138.2, "horizon_days": 14}
    assert inv.verdict("launching", hand_due, order_03=order_03) == (
        "chapter 03 orders 50 today (first-order cap until sales confirm); position after it still below the reorder "
        "point 138: next order as soon as the spike is confirmed")
    stock = {"on_hand": 0, "on_order": 0, "proposed": 50.0, "backlog": 0, "position": 50.0}
    fc, choice, sim, promo = _call_inputs(50.0)
    due = inv.next_order_due(50.0, fc.daily, choice.table["chosen"])
    verdict, reasons = inv.decide("launching", stock, due, choice, sim, promo, order_03=order_03)
    assert verdict.startswith("chapter 03 orders 50 today (first-order cap until sales confirm); position after it "
                              "still below the reorder point")
    assert "reorder due now" not in verdict and any("This is not a second order" in r for r in reasons)
    # The sample's own 03-07 run: 50 units cover chapter 03's 4-day window (40 on hand + 50 against 89 of forecast), the
    # 7-day reorder point looks further.
    window = inv.chapter03_order("order", {"units": 50, "capped_by": None}, None, units=50.0, cover_days=4)
    assert inv.verdict("rising", hand_due, order_03=window) == (
        "chapter 03 orders 50 today (covers its 4-day window); position after it still below the reorder point 138: "
        "next order at the next run")
    # An uncapped order that covers the horizon; a hold because the first order is on order already.
    covered = inv.chapter03_order("order", {"units": 400, "capped_by": None}, None, units=400.0)
    assert inv.verdict("rising", {"day": None, "horizon_days": 14}, order_03=covered) == (
        "chapter 03 orders 400 today; covered beyond 14 days")
    waiting = inv.chapter03_order("hold", {"units": 0, "capped_by": "first order"}, "first order")
    assert inv.verdict("launching", hand_due, order_03=waiting).startswith(
        "at the reorder point 138; the handbook's first order is already on order")
    # Read alone (no chapter 03 record) the old call stands.
    assert inv.verdict("rising", {"day": 0}) == "reorder due now"


def test_the_recorded_decision_is_a_label_without_the_days_numbers():
    """The site's timeline shows a row when a chapter's ``decision`` changes: chapter 04's label must not carry the
    units, reorder points and dates of its verdict, which move every day."""
    due_now = {"day": 0, "date": None, "reorder_point": 470.0, "horizon_days": 30}
    due_later = {"day": 5, "date": pd.Timestamp("2025-03-14"), "reorder_point": 200.0, "horizon_days": 30}
    order = inv.chapter03_order("order", {"units": 361}, units=361.0)
    backlog = inv.chapter03_order("order", {"units": 383, "backlog_only": True}, units=383.0)
    hold = inv.chapter03_order("hold", {"units": 0}, hold_reason="covered")
    assert inv.decision_label("rising", due_now, order) == "chapter 03 orders today; below the reorder point"
    assert inv.decision_label("rising", due_later, order) == "chapter 03 orders today"
    assert inv.decision_label("rising", due_now, hold) == "reorder due now"
    assert inv.decision_label("rising", due_later, hold) == "covered"
    assert inv.decision_label("peak", due_now, backlog) == "backlog order only (chapter 03)"
    assert inv.decision_label("declining", due_now, hold) == "no reorders"
    assert inv.decision_label("watching", due_now, None) == "no orders"
    # The verdict keeps the numbers; the label is the same on two days with different ones.
    other = inv.chapter03_order("order", {"units": 175}, units=175.0)
    assert inv.decision_label("rising", due_now, other) == inv.decision_label("rising", due_now, order)
    assert inv.verdict("rising", due_now, order_03=other) != inv.verdict("rising", due_now, order_03=order)
