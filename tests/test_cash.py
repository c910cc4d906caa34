"""Chapter 09 cash flow: projections, gaps, order cap, financing and stress on tiny cases computed by hand."""
import pandas as pd
import pytest

from spikekit.chapters import cash as c
from spikekit.inputs.contracts import load_cash, load_financing, load_settlement, load_supplier_terms
from spikekit.core.errors import InputError

AS_OF = pd.Timestamp("2025-03-09 12:00", tz="Asia/Shanghai")


def tiny_inputs(floor=200.0, **over):
    """1000 yuan on hand; one platform (lag 2, fee 10%, refunds 10%); 10 units/day at 10 yuan; one supplier order of
    20 units at 20 + 100 set-up (deposit 40%, balance 1 day after each of two deliveries on days 2 and 4);
    logistics 1 yuan/order; ads 5 yuan/day."""
    inputs = dict(
        cash=pd.DataFrame({"item": ["cash_on_hand", "cash_floor"], "amount": [1000.0, floor]}),
        settlement=pd.DataFrame({"platform": ["A"], "lag_days": [2], "fee_share": [0.1], "refund_share": [0.1]}),
        supplier_terms=pd.DataFrame({"supplier": ["S"], "deposit_share": [0.4], "balance_days": [1]}),
        purchase_orders=pd.DataFrame({"supplier": ["S"], "units": [20], "unit_cost": [20.0], "setup_cost": [100.0],
                                      "last_arrival_day": [4]}),
        production=pd.DataFrame({"supplier": ["S", "S"], "arrival_day": [2, 4], "units": [10, 10]}),
        sales_forecast=10.0, price=10.0, logistics_cost_per_order=1.0, ad_spend_per_day=5.0, as_of=AS_OF,
        horizon_days=5, balance_after="each",
    )
    inputs.update(over)
    return inputs


LOAN = pd.DataFrame({"offer": ["loan"], "amount": [100.0], "day": [1], "fee_share": [0.01], "rate_annual": [0.365],
                     "term_days": [2]})


def test_projection_by_hand_lag_deposit_balance_and_loan():
    p = c.project(**tiny_inputs(draws=LOAN))
    # day0: 1000 - deposit 200; day1: +100 loan -10 logistics -5 ads; day2: -15;
    # day3: +80 sales (day-1 sales after a 2-day lag, net of 20%) -150 balance -101.2 loan (100*(1+0.01+0.365*2/365)) -15
    # day4: +80 -15; day5: +80 -150 balance -15
    assert p["closing"].round(6).tolist() == [800.0, 885.0, 870.0, 683.8, 748.8, 663.8]
    assert p["deposits"].tolist() == [200.0, 0, 0, 0, 0, 0]
    assert p["balances"].tolist() == [0, 0, 0, 150.0, 0, 150.0]
    assert p["repayments"].round(6).tolist() == [0, 0, 0, 101.2, 0, 0]
    assert p["sales_inflow"].round(6).tolist() == [0, 0, 0, 80.0, 80.0, 80.0]
    assert p["date"].iloc[0] == pd.Timestamp("2025-03-09") and p["date"].iloc[5] == pd.Timestamp("2025-03-14")
    assert (p["opening"].iloc[1:].to_numpy() == p["closing"].iloc[:-1].to_numpy()).all()


def test_balance_after_last_delivery_by_default():
    p = c.project(**tiny_inputs(balance_after="last"))
    # the whole 300 balance falls due 1 day after the last arrival (day 4)
    assert p["balances"].tolist() == [0, 0, 0, 0, 0, 300.0]
    assert p["closing"].iloc[-1] == c.project(**tiny_inputs())["closing"].iloc[-1]


def test_missing_supplier_terms_pays_everything_up_front_and_says_so():
    p = c.project(**tiny_inputs(supplier_terms=pd.DataFrame({"supplier": ["X"], "deposit_share": [0.5],
                                                             "balance_days": [3]})))
    assert p["deposits"].iloc[0] == 500.0 and p["balances"].sum() == 0
    assert any("S: no row in supplier_terms" in n for n in p.attrs["notes"])


def test_draws_after_the_horizon_change_nothing():
    base = c.project(**tiny_inputs())
    late = pd.DataFrame({"offer": ["late"], "amount": [500.0], "day": [9], "fee_share": [0.0], "rate_annual": [0.0],
                         "term_days": [5]})
    assert c.project(**tiny_inputs(draws=late))["closing"].tolist() == base["closing"].tolist()


def test_first_gap_finds_first_day_worst_shortfall_and_last_day():
    p = c.project(**tiny_inputs(draws=LOAN))
    gap = c.first_gap(p, 700.0)
    assert (gap.day, gap.worst_day, gap.last_day) == (3, 5, 5)
    assert gap.shortfall == pytest.approx(16.2) and gap.size == pytest.approx(36.2)
    assert gap.date == pd.Timestamp("2025-03-12")
    assert not c.first_gap(p, 600.0).found
    assert c.decide(gap, warn_days=7) == "gap now" and c.decide(gap, warn_days=2) == "gap ahead"
    assert c.decide(c.first_gap(p, 600.0), 7) == "ok"


def test_order_cap_tie_rule_binds():
    # 30% of 1000 = 300 >= 20 U + 100  ->  U <= 10; the cash floor 800 allows 11 (see below)
    cap = c.order_cap(tiny_inputs(floor=800.0), max_tie_share=0.3)
    assert (cap["by_tie"], cap["by_cash"], cap["units"], cap["binding"]) == (10, 11, 10, "tie-up rule")
    assert cap["planned_cost"] == 500.0 and cap["planned_tie_share"] == pytest.approx(0.5)


def test_order_cap_cash_floor_binds():
    # Without the order: day3 closing 1035. With U units (cost 20U+100) day 3 has paid 70% of it:
    # 1035 - 0.7 (20U + 100) >= 800  ->  U <= 11.79; the other days allow more. 50% of cash allows 20.
    cap = c.order_cap(tiny_inputs(floor=800.0), max_tie_share=0.5)
    assert (cap["by_cash"], cap["by_tie"], cap["units"], cap["binding"]) == (11, 20, 11, "cash floor")
    inputs = tiny_inputs(floor=800.0)
    for units, ok in ((11, True), (12, False)):
        inputs["unit_scale"] = units / 20
        assert bool(c.project(**inputs)["closing"].min() >= 800) is ok


def test_effective_annual_cost_by_hand():
    # (1 + 0.01 + 0.12 * 30/365) ** (365/30) - 1 = 1.0198630 ** 12.1667 - 1 = 0.2703
    assert c.effective_annual_cost({"fee_share": 0.01, "rate_annual": 0.12, "term_days": 30}) == pytest.approx(0.2703, abs=1e-4)
    # a one-year loan with no fee costs exactly its rate
    assert c.effective_annual_cost({"fee_share": 0.0, "rate_annual": 0.1, "term_days": 365}) == pytest.approx(0.10)
    # a 2% fee for 14 days: 1.02 ** (365/14) - 1 = exp(26.0714 * 0.0198026) - 1 = 0.6758
    assert c.effective_annual_cost({"fee_share": 0.02, "rate_annual": 0.0, "term_days": 14}) == pytest.approx(0.6758, abs=1e-4)


OPTIONS = pd.DataFrame({"offer": ["A", "B", "C"], "kind": ["purchase_loan", "receivable_advance", "presale"],
                        "limit": [600.0, 1000.0, 500.0], "fee_share": [0.02, 0.01, 0.005], "term_days": [30, 30, 7],
                        "rate_annual": [0.0, 0.0, 0.0]})


def _options():
    frame = OPTIONS.copy()
    frame["cost_per_yuan"] = frame["fee_share"]
    frame["eac"] = [c.effective_annual_cost(r) for _, r in frame.iterrows()]
    return frame


@pytest.mark.parametrize("need, uses, covered", [
    (1000, {"A": 0, "B": 1000, "C": 0}, True),
    (1500, {"A": 500, "B": 1000, "C": 0}, True),
    (2500, {"A": 600, "B": 1000, "C": 500}, False),
])
def test_choose_financing_cheapest_cover_with_terms_long_enough_first(need, uses, covered):
    chosen = c.choose_financing(float(need), _options(), need_days=10)
    assert dict(zip(chosen["offer"], chosen["use"])) == uses
    assert chosen.attrs["covered"] is covered
    assert chosen["cost"].sum() == pytest.approx(sum(u * f for u, f in zip(
        [uses["A"], uses["B"], uses["C"]], [0.02, 0.01, 0.005])))


def test_choose_financing_uses_cheapest_when_terms_do_not_matter():
    chosen = c.choose_financing(800.0, _options(), need_days=0)
    assert dict(zip(chosen["offer"], chosen["use"])) == {"A": 0, "B": 300, "C": 500}


def test_financing_options_add_budget_shift_and_cap_presale():
    cash = pd.DataFrame({"item": ["cash_on_hand", "cash_floor", "other_products_budget"], "amount": [1000.0, 0, 300.0]})
    presale = c.presale_effect(10.0, 10.0, c.CashSettings(presale_days=7, presale_share=0.3, presale_discount=0.1))
    assert (presale["gross"], presale["amount"], presale["cost"]) == pytest.approx((210.0, 189.0, 21.0))
    table = c.financing_options(OPTIONS, cash, presale)
    assert table["offer"].iloc[0] == "shift other products budget" and table["limit"].iloc[0] == 300.0
    row = table.set_index("offer").loc["C"]
    assert row["limit"] == pytest.approx(189.0) and row["fee_share"] == pytest.approx(0.005)


def test_stress_scales_orders_and_purchases():
    inputs = tiny_inputs(floor=200.0)
    assert c.stress(inputs, 1.0)["ok"]
    result = c.stress(inputs, 4.0)
    # 4x: 40 units/day, 80 units bought for 1700 (deposit 680, balance 510 on days 3 and 5), logistics 40/day,
    # net sales 320/day from day 3: 1000-680 = 320; 275; 230; 230+320-510-45 = -5; 270; 270+320-510-45 = 35
    p = result["projection"]
    assert p["closing"].round(6).tolist() == [320.0, 275.0, 230.0, -5.0, 270.0, 35.0]
    assert p["sales_units"].iloc[1] == 40.0 and p["logistics"].iloc[1] == 40.0
    assert not result["ok"] and result["gap"]["day"] == 3 and result["gap"]["size"] == pytest.approx(205.0)
    assert not c.stress(tiny_inputs(floor=400.0), 4.0)["ok"]


def test_contracts_load_and_reject(tmp_path):
    (tmp_path / "cash.csv").write_text("item,amount\ncash_on_hand,1000\ncash_floor,200\n", encoding="utf-8")
    (tmp_path / "settlement.csv").write_text("platform,lag_days,fee_share,refund_share\n淘宝,7,0.05,0.03\n抖音,10,1.5,0\n",
                                             encoding="utf-8")
    (tmp_path / "terms.csv").write_text("supplier,deposit_share,balance_days\nS,0.3,7\n", encoding="utf-8")
    (tmp_path / "fin.csv").write_text("offer,kind,limit,fee_share,term_days,rate_annual\nL,purchase_loan,5000,0.01,0,0.1\n",
                                      encoding="utf-8")
    assert c.cash_items(load_cash("cash.csv", data_root=tmp_path)) == {"cash_on_hand": 1000.0, "cash_floor": 200.0,
                                                                      "other_products_budget": 0.0}
    assert load_supplier_terms("terms.csv", data_root=tmp_path)["deposit_share"].tolist() == [0.3]
    with pytest.raises(InputError) as err:
        load_settlement("settlement.csv", data_root=tmp_path)
    assert err.value.column == "fee_share" and err.value.rows == [3]
    with pytest.raises(InputError) as err:
        load_financing("fin.csv", data_root=tmp_path)
    assert err.value.column == "term_days"
    (tmp_path / "cash2.csv").write_text("item,amount\ncash_on_hand,1000\n", encoding="utf-8")
    with pytest.raises(InputError, match="cash_floor"):
        load_cash("cash2.csv", data_root=tmp_path)


def test_ad_spend_and_platform_shares_from_chapter_07():
    conv = pd.DataFrame({"platform": ["A", "B"], "orders": [30, 10], "budget_after": [600.0, 400.0]})
    assert c.ad_spend(conv, -1.0)[0] == 1000.0 and c.ad_spend(conv, 250.0)[0] == 250.0
    assert c.ad_spend(conv, 0.0)[0] == 0.0  # zero is an answer (no ads), not "ask chapter 07"
    assert c.ad_spend(None, -1.0)[0] == 0.0
    assert c.platform_shares(conv) == {"A": 0.75, "B": 0.25} and c.platform_shares(None) is None
    # a platform without settlement terms: its share is spread over the others, and the projection says so
    p = c.project(**tiny_inputs(platform_shares={"A": 0.5, "Z": 0.5}))
    assert p["sales_inflow"].iloc[3] == pytest.approx(80.0) and any("Z" in n for n in p.attrs["notes"])


# ------------------------------------------------------------------ on the spike state: only units that exist sell


def test_capped_sales_by_hand():
    # Free stock -5 (a backlog of 5 beyond what is on hand): day 2's 20 arrivals fill it, then sales take what is left.
    sold = c.capped_sales([0, 10, 10, 10, 10], -5, [0, 0, 20, 0, 10])
    assert sold.tolist() == [0, 0, 10, 5, 10]


def test_projection_sells_only_units_that_exist_and_pays_open_lines():
    """5 units free now, an open line of 8 arriving day 3 (deposit paid when placed: its balance 60% x 8 x 20 = 96 is
    due day 4), chapter 03's order of 10 + 10 on days 2 and 4; 10 a day forecast: 5, 10, 8, 10, 0 sell."""
    open_line = pd.DataFrame({"po_id": ["PO-1"], "supplier": ["S"], "day": [3], "units": [8.0], "unit_cost": [20.0]})
    p = c.project(**tiny_inputs(stock_units=5, open_orders=open_line))
    assert p["sales_demand"].tolist() == [0, 10, 10, 10, 10, 10]
    assert p["sales_units"].tolist() == [0, 5, 10, 8, 10, 0]
    assert p["sales_units"].sum() == 5 + 8 + 20  # never more than exists or arrives
    assert p["open_order_payments"].tolist() == [0, 0, 0, 0, 96.0, 0]
    assert p["sales_earned"].tolist() == [0, 40.0, 80.0, 64.0, 80.0, 0]  # price 10 less 20% fees and refunds
    assert any("capped by the units there are: 33 of 50" in n for n in p.attrs["notes"])
    # The stress test scales chapter 03's order with the sales: 4 x (10 + 10) more units can sell.
    stressed = c.stress(tiny_inputs(stock_units=5, open_orders=open_line), 4.0)["projection"]
    assert stressed["sales_units"].tolist() == [0, 5, 40, 8, 40, 0]


def test_backlog_ships_first_and_earns_like_sales():
    """3 on hand, 8 already sold and waiting (free stock -5): the 3 ship on day 0, day 2's 10 arrivals fill the other
    5 before 5 new sales, day 4's 10 sell. The platform pays the backlog out after shipping (lag 2), so the shop is
    paid for 3 + 5 backlog units too; before, a backlog earned nothing and a first order looked unaffordable."""
    p = c.project(**tiny_inputs(stock_units=-5, backlog_units=8))
    assert p["backlog_shipped"].tolist() == [3, 0, 5, 0, 0, 0]
    assert p["sales_units"].tolist() == [3, 0, 10, 0, 10, 0]
    assert p["sales_inflow"].round(6).tolist() == [0, 0, 24.0, 0, 80.0, 0]  # 3 x 10 x 0.8 two days later, ...
    assert p["logistics"].tolist() == [3.0, 0, 10.0, 0, 10.0, 0]  # each shipped parcel costs its logistics
    assert any("8 of 8 units already sold ship" in n for n in p.attrs["notes"])
    without = c.project(**tiny_inputs(stock_units=-5))  # the backlog's cash left out: 3 + 5 units fewer paid
    assert p["closing"].iloc[-1] - without["closing"].iloc[-1] == pytest.approx(8 * 10 * 0.8 - 8 * 1.0)
    assert c.backlog_shipments(-20, 8, [0, 30], 3).tolist() == [0, 8, 0]  # none on hand: the arrival fills all 8


def test_order_cap_finds_orders_that_pay_their_way_through_a_backlog():
    """20 units already sold, none on hand, ads 150 a day, price 100, paid out a day after shipping. With no order the
    ads take cash to 150, below the 400 floor; the order's units fill the backlog and bring money back in time, so
    cash stays above the floor for orders from about 5 up to 30 units (1.5x the plan: 405 at its lowest; 2x: 320).
    A search that starts from 'no order' saw a broken floor and capped the order at 0."""
    settle = pd.DataFrame({"platform": ["A"], "lag_days": [1], "fee_share": [0.1], "refund_share": [0.1]})
    inputs = tiny_inputs(floor=400.0, stock_units=-20, backlog_units=20, price=100.0, ad_spend_per_day=150.0,
                         settlement=settle)
    assert c.project(**{**inputs, "unit_scale": 1e-9})["closing"].min() == pytest.approx(150.0)
    assert c.project(**{**inputs, "unit_scale": 1.5})["closing"].min() == pytest.approx(405.0)
    assert c.project(**{**inputs, "unit_scale": 2.0})["closing"].min() == pytest.approx(320.0)
    cap = c.order_cap(inputs, max_tie_share=0.3)
    assert cap["by_cash"] == 30 and cap["by_tie"] == 10 and cap["units"] == 10


def test_headline_shows_the_order_cap_with_financing_beside_the_cap_without():
    cap = {"units": 0, "binding": "cash floor"}
    gap = c.first_gap(c.project(**tiny_inputs(floor=5000.0)), 5000.0)
    chosen = pd.DataFrame({"offer": ["loan"], "use": [1.0]})
    stressed = {"multiplier": 4.0, "ok": False}
    line = c.headline("gap ahead", gap, cap, chosen, stressed, cap_financed={"units": 383, "binding": "tie-up rule"})
    assert "order cap 383 units with that financing, 0 without (cash floor)" in line
    assert "order cap 0 units (cash floor)" in c.headline("gap ahead", gap, cap, chosen, stressed,
                                                          cap_financed={"units": 0, "binding": "cash floor"})


def test_gap_causes_add_up_to_closing_minus_floor():
    p = c.project(**tiny_inputs())
    causes = c.gap_causes(p, 200.0, day=5).set_index("item")["amount"]
    # By day 5: start 1000 - 200 floor; 50 units sold earn 400 net, of which days 1-3 (240) are paid out after the
    # 2-day lag: 160 waits in settlement; the order's deposit 200 + two balances of 150; ads 25; logistics 50.
    assert causes.to_dict() == {"cash above the floor at the start": 800.0, "sales earned": 400.0, "financing drawn": 0.0,
                                "ads": -25.0, "settlement lag": -160.0, "order deposits and balances": -500.0,
                                "open orders' balances": 0.0, "logistics": -50.0, "repayments": 0.0}
    assert causes.sum() == pytest.approx(p["closing"].iloc[5] - 200.0)
    table = c.gap_causes(p, 200.0, day=5)
    assert table.attrs["main_cause"] == "order deposits and balances"
    assert c.describe_causes(table) == ("by day 5: order deposits and balances 500 (68%), settlement lag 160 (22%), "
                                        "logistics 50 (7%)")
    assert c.gap_causes(p, 200.0).attrs["day"] == int(p["closing"].idxmin())  # default: the lowest day


def test_review_reports_sales_cap_causes_and_stress_with_and_without_financing():
    inputs = tiny_inputs(floor=900.0)
    p = c.project(**inputs)
    gap = c.first_gap(p, 900.0)
    chosen = c.choose_financing(gap, c.financing_options(pd.DataFrame({
        "offer": ["loan"], "kind": ["purchase_loan"], "limit": [1000.0], "fee_share": [0.0], "term_days": [30],
        "rate_annual": [0.0]})))
    draws = c.financing_draws(chosen, gap.day)
    plain, financed = c.stress(inputs, 4.0), c.stress({**inputs, "draws": draws}, 4.0)
    assert not plain["ok"] and plain["min_closing"] < financed["min_closing"]
    reasons = c.review("gap now", gap, c.order_cap(inputs), chosen, plain, 900.0, causes=c.gap_causes(p, 900.0),
                       stress_financed=financed, sales={"units": 50, "demand": 50, "sellable": 70})
    text = "\n".join(reasons)
    assert "sales projected 50 units over the horizon" in text
    assert "the gap's main cause is **order deposits and balances**" in text
    assert "stress x4 orders without financing: cash breaks" in text and "stress x4 orders with the chosen financing" in text
