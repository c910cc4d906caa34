"""Chapter 11 after-sales: known answers (ISO 2859-1 tables, hand-computed queues and allocations), time discipline."""
import math

import numpy as np
import pandas as pd
import pytest

from spikekit.chapters import aftersales as af
from spikekit.core.errors import ConfigError
from spikekit.core.stats import rate_ratio_ci

T = pd.Timestamp


# ------------------------------------------------------------------------------------------ ISO 2859-1
@pytest.mark.parametrize("lot, aql, letter, n, ac, re", [
    (1000, 1.0, "J", 80, 2, 3),
    (1000, 0.65, "J", 80, 1, 2),
    (1000, 2.5, "J", 80, 5, 6),
    (1000, 4.0, "J", 80, 7, 8),
    (500, 1.0, "H", 50, 1, 2),
    (3201, 1.0, "L", 200, 5, 6),
    (3200, 1.0, "K", 125, 3, 4),     # 1201-3200 is K in Table I
    (10000, 2.5, "L", 200, 10, 11),
])
def test_sampling_plan_known_answers(lot, aql, letter, n, ac, re):
    plan = af.sampling_plan(lot, aql, "II")
    assert (plan.code_letter, plan.sample_size, plan.accept, plan.reject) == (letter, n, ac, re)
    assert plan.note == ""


@pytest.mark.parametrize("lot, level, letter", [
    (1000, "I", "G"), (100, "I", "D"), (20000, "I", "K"), (5, "I", "A"),
    (1000, "S-3", "E"), (100, "S-3", "C"), (600000, "S-3", "H"), (20, "S-3", "B"),
    (1000, "III", "K"), (600000, "III", "R"), (1000, "S-1", "C"), (1000, "S-4", "F"),
])
def test_code_letters_other_levels(lot, level, letter):
    assert af.code_letter(lot, level) == letter


def test_arrow_down_uses_the_plan_below():
    plan = af.sampling_plan(50, 1.0, "II")  # Table I gives D (n=8); the cell is an arrow down
    assert af.code_letter(50, "II") == "D"
    assert (plan.code_letter, plan.sample_size, plan.accept, plan.reject) == ("E", 13, 0, 1)
    assert "arrow down" in plan.note


def test_arrow_up_uses_the_plan_above():
    plan = af.sampling_plan(50, 2.5, "II")  # D at 2.5 points up to C: n=5, Ac 0 Re 1
    assert (plan.code_letter, plan.sample_size, plan.accept, plan.reject) == ("C", 5, 0, 1)
    assert "arrow up" in plan.note
    plan = af.sampling_plan(1000, 0.40, "II")  # J at 0.40 points down to K: n=125, Ac 1 Re 2
    assert (plan.code_letter, plan.sample_size, plan.accept, plan.reject) == ("K", 125, 1, 2)


def test_full_inspection_when_sample_reaches_lot():
    plan = af.sampling_plan(10, 1.0, "II")  # B -> arrow down to E (n=13) > 10 units
    assert plan.sample_size == 10 and (plan.accept, plan.reject) == (0, 1)
    assert "100%" in plan.note


def test_sampling_plan_refuses_bad_settings():
    with pytest.raises(ConfigError):
        af.sampling_plan(1000, 0.7)
    with pytest.raises(ConfigError):
        af.sampling_plan(1000, 1.0, "IV")
    with pytest.raises(ConfigError):
        af.sampling_plan(1, 1.0)


def test_table_is_consistent():
    # every arrow leads to a plan and the sample sizes of plans reached never shrink as the lot grows
    for aql in af.AQLS:
        sizes = [af.sampling_plan(lot, aql).sample_size for lot in (2000, 5000, 20000, 100000, 300000, 600000)]
        assert sizes == sorted(sizes)


def test_inspect_batches_verdicts_and_supplier_rates():
    rows = []
    for r in (1, 2, 3):
        rows.append({"batch_id": "B1", "supplier": "good", "timestamp": T("2025-03-12 10:00"), "lot_size": 1000,
                     "round": r, "inspected": 80, "defects": 2})  # Ac 2: accept
    rows.append({"batch_id": "B2", "supplier": "bad", "timestamp": T("2025-03-12 11:00"), "lot_size": 1000,
                 "round": 1, "inspected": 80, "defects": 3})  # Re 3: reject
    qc = af.inspect_batches(pd.DataFrame(rows), aql=1.0, level="II", rounds_per_batch=3)
    verdicts = qc.batches.set_index("batch_id")["verdict"]
    assert verdicts["B1"] == "accept" and verdicts["B2"] == "reject"
    good = qc.suppliers.set_index("supplier").loc["good"]
    assert good["defect_rate"] == pytest.approx(6 / 240)
    assert good["rate_low"] < 6 / 240 < good["rate_high"]
    assert qc.plans.set_index("batch_id").loc["B1", "units_to_inspect"] == 240


def test_spare_stock():
    assert af.spare_stock(1000) == 30
    assert af.spare_stock(1001) == 31
    assert af.spare_stock(0) == 0


# ------------------------------------------------------------------------------------------ tickets
def _tickets():
    rows = []
    # baseline: 14 days from 2025-01-15, 1 delay ticket a day, answered in 1 h
    for d in range(14):
        t = T("2025-01-15 10:00") + pd.Timedelta(days=d)
        rows.append(("b%02d" % d, t, "paid", "delay", "我的杯子什么时候发货", t + pd.Timedelta(hours=1), t + pd.Timedelta(hours=2)))
    # recent 24 h before 2025-03-10 12:00: 12 delay tickets
    for k in range(12):
        t = T("2025-03-09 13:00") + pd.Timedelta(hours=k * 1.5)
        rows.append(("r%02d" % k, t, "paid", "delay", "怎么还没发货", t + pd.Timedelta(hours=3), pd.NaT))
    return pd.DataFrame(rows, columns=["ticket_id", "timestamp", "customer_kind", "type", "text", "first_response", "resolved"])


def test_ticket_surge_rate_ratio_by_hand():
    surge = af.ticket_surge(_tickets(), T("2025-03-10 12:00"), surge_alert=4.0)
    row = surge.set_index("type").loc["delay"]
    assert row["recent"] == 12 and row["baseline"] == 14
    assert row["recent_per_day"] == pytest.approx(12.0) and row["baseline_per_day"] == pytest.approx(1.0)
    assert row["ratio"] == pytest.approx(12.0)
    ci = rate_ratio_ci(12, 1.0, 14, 14.0)
    assert row["ratio_low"] == pytest.approx(ci.low)
    assert bool(row["surge"]) == (ci.low > 4.0)
    assert ci.low > 4.0  # 12 a day against 1 a day is clearly beyond 4x
    quality = surge.set_index("type").loc["quality"]
    assert quality["recent"] == 0 and not quality["surge"]


def test_ticket_surge_with_baseline_end():
    surge = af.ticket_surge(_tickets(), T("2025-03-10 12:00"), baseline_days=7, baseline_end=T("2025-01-25 00:00"))
    # (2025-01-18 00:00, 2025-01-25 00:00]: tickets on 01-18 .. 01-24 at 10:00 = 7
    assert surge.set_index("type").loc["delay", "baseline"] == 7


def test_response_times_with_censored_open_tickets():
    as_of = T("2025-03-10 12:00")
    rows = [
        ("a", as_of - pd.Timedelta(hours=10), "paid", "delay", "x", as_of - pd.Timedelta(hours=9), pd.NaT),   # 1 h
        ("b", as_of - pd.Timedelta(hours=8), "paid", "delay", "x", as_of - pd.Timedelta(hours=5), pd.NaT),    # 3 h
        ("c", as_of - pd.Timedelta(hours=6), "paid", "quality", "x", pd.NaT, pd.NaT),                         # open 6 h
        ("d", as_of - pd.Timedelta(hours=1), "pre_sale", "pre_sale", "x", pd.NaT, pd.NaT),                    # open 1 h
        ("e", as_of - pd.Timedelta(hours=5), "pre_sale", "pre_sale", "x", as_of + pd.Timedelta(hours=1), pd.NaT),  # answered later: open 5 h
    ]
    frame = pd.DataFrame(rows, columns=["ticket_id", "timestamp", "customer_kind", "type", "text", "first_response", "resolved"])
    result = af.response_times(frame, as_of, target_hours=2.0)
    paid = result.table.set_index("customer_kind").loc["paid"]
    assert paid["tickets"] == 3 and paid["answered"] == 2 and paid["open"] == 1
    assert paid["median_hours"] == pytest.approx(3.0)  # waits 1, 3, >=6
    assert paid["open_over_target"] == 1
    assert paid["share_within_target"] == pytest.approx(1 / 3)
    every = result.table.set_index("customer_kind").loc["all"]
    # waits 1, 3, 6, 1, 5: decided = 1 (hit), 3, 6, 5 (misses) -> d (open 1 h) undecided
    assert every["decided"] == 4 and every["within_target"] == 1
    assert every["lower_bound"]
    assert result.censored == 3
    assert set(result.waiting["ticket_id"]) == {"c", "e"}
    status, reasons = af.decide(result, None)
    assert status == "breached"  # median 3 h > 2 h


def test_priority_queue_five_tickets():
    as_of = T("2025-03-10 12:00")
    rows = [
        ("p1", as_of - pd.Timedelta(hours=1), "pre_sale", "pre_sale", pd.NaT),
        ("p2", as_of - pd.Timedelta(hours=5), "paid", "other", pd.NaT),
        ("p3", as_of - pd.Timedelta(hours=2), "paid", "delay", pd.NaT),
        ("p4", as_of - pd.Timedelta(hours=4), "paid", "quality", pd.NaT),
        ("p5", as_of - pd.Timedelta(hours=9), "pre_sale", "address", pd.NaT),
        ("done", as_of - pd.Timedelta(hours=9), "paid", "delay", as_of - pd.Timedelta(hours=1)),
    ]
    frame = pd.DataFrame(rows, columns=["ticket_id", "timestamp", "customer_kind", "type", "resolved"])
    frame["first_response"] = pd.NaT
    frame["text"] = "?"
    queue = af.priority_queue(frame, as_of)
    assert queue["ticket_id"].tolist() == ["p4", "p3", "p2", "p5", "p1"]
    assert queue["reason"].iloc[0].startswith("paid customer; quality")


# ------------------------------------------------------------------------------------------ delay notices
def _orders():
    rows = []
    for i in range(6):
        placed = T("2025-03-08 09:00") + pd.Timedelta(hours=i)
        rows.append({"order_id": f"o{i}", "timestamp": placed, "buyer_id": f"u{i}", "product": "星空咖啡杯",
                     "platform": "淘宝", "variant": "星空蓝", "region": "华东", "price": 49.0,
                     "promised_ship": T("2025-03-11 23:59"), "shipped": pd.NaT, "delivered": pd.NaT,
                     "buyer_prior_orders": 0, "buyer_prior_returns": 0})
    return pd.DataFrame(rows)


def test_delay_notices_allocation_by_hand():
    as_of = T("2025-03-10 12:00")
    arrivals = pd.DataFrame({"date": [T("2025-03-12"), T("2025-03-14")], "arrivals": [2, 5]})
    plan = af.delay_notices(_orders(), as_of, arrivals=arrivals, stock_on_hand=1, daily_ship_capacity=2,
                            compensation_per_day=5.0)
    projected = plan.backlog.set_index("order_id")["projected_ship"]
    # o0 ships today from stock; o1, o2 from the 03-12 arrival; o3, o4 on 03-14; o5 on 03-15 (capacity 2)
    assert projected["o0"] == as_of
    assert projected["o1"] == T("2025-03-12") and projected["o2"] == T("2025-03-12")
    assert projected["o3"] == T("2025-03-14") and projected["o4"] == T("2025-03-14")
    assert projected["o5"] == T("2025-03-15")
    late = plan.notices.set_index("order_id")
    assert list(late.index) == ["o1", "o2", "o3", "o4", "o5"]
    assert late.loc["o1", "days_late"] == 1 and late.loc["o5", "days_late"] == 4
    assert late.loc["o5", "compensation"] == pytest.approx(20.0)
    assert "3月15日" in late.loc["o5", "notice"] and "4小时" in late.loc["o5", "notice"]
    assert late.loc["o1", "next_updates"].startswith("03-10 16:00")


def test_delay_notices_without_arrivals_says_so():
    plan = af.delay_notices(_orders(), T("2025-03-10 12:00"), arrivals=None, stock_on_hand=2)
    assert any("stock on hand only" in n for n in plan.notes)
    assert plan.backlog["projected_ship"].isna().sum() == 4
    assert plan.notices["at_risk"].all() and len(plan.notices) == 4


# ------------------------------------------------------------------------------------------ FAQ
FAQ = pd.DataFrame({
    "faq_id": ["f1", "f2", "f3", "f4"], "type": ["delay", "pre_sale", "return", "address"],
    "question": ["我的订单什么时候发货", "可以开发票吗", "怎么申请退货退款", "下单后可以修改收货地址吗"],
    "answer": ["现货48小时内发货", "可以开电子发票", "在订单页申请退货", "发货前可以修改"],
})


def test_faq_matching_obvious_chinese_cases():
    tickets = pd.DataFrame({
        "ticket_id": ["t1", "t2", "t3", "t4", "t5"], "type": ["delay", "pre_sale", "return", "address", "quality"],
        "text": ["请问我的杯子什么时候发货？", "能开发票吗", "我想退货，怎么申请退款", "收货地址写错了，可以修改吗", "收到杯子有裂纹"],
    })
    result = af.answer_from_faq(tickets, FAQ, threshold=0.3)
    best = result.matches.set_index("ticket_id")["faq_id"]
    assert best[["t1", "t2", "t3", "t4"]].tolist() == ["f1", "f2", "f3", "f4"]
    answered = result.matches.set_index("ticket_id")["answered"]
    assert answered[["t1", "t2", "t4"]].all()
    assert not answered["t3"] and not answered["t5"]  # return and quality are not routine: a person answers
    assert result.eligible == 3 and result.share_answered == pytest.approx(1.0)


def test_top_questions_clusters():
    as_of = T("2025-03-10 12:00")
    texts = ["能开发票吗", "可以开发票吗？", "开发票吗", "杯子能用洗碗机吗", "杯子可以放洗碗机吗", "什么时候发货"]
    frame = pd.DataFrame({"ticket_id": [f"t{i}" for i in range(6)], "timestamp": [as_of - pd.Timedelta(hours=i) for i in range(6)],
                          "type": ["pre_sale"] * 6, "text": texts})
    top = af.top_questions(frame, as_of, n=3, faq=FAQ.iloc[[1]], threshold=0.3)
    assert "question" in top.columns
    assert top.iloc[0]["question"] == "可以开发票吗" and top.iloc[0]["tickets"] == 3
    assert top.iloc[1]["tickets"] == 2  # the dishwasher question, grouped by nearest neighbour


# ------------------------------------------------------------------------------------------ return model
def _simulated(n=3000, seed=7):
    rng = np.random.default_rng(seed)
    placed = T("2025-02-01") + pd.to_timedelta(np.sort(rng.uniform(0, 40, n)), unit="D")
    promised = placed + pd.Timedelta(days=2)
    delay = np.round(rng.exponential(1.5, n), 2)
    shipped = promised + pd.to_timedelta(delay, unit="D")
    delivered = shipped + pd.Timedelta(days=2)
    variant = rng.choice(["星空蓝", "月光白"], n, p=[0.7, 0.3])
    region = rng.choice(["华东", "华北", "西南"], n)
    prior = rng.poisson(2, n)
    prior_returns = rng.binomial(prior, 0.2)
    rate = np.where(prior > 0, prior_returns / np.maximum(prior, 1), 0)
    z = -3.0 + 0.5 * delay + 1.0 * (variant == "月光白") + 1.5 * rate
    returned = rng.random(n) < 1 / (1 + np.exp(-z))
    orders = pd.DataFrame({"order_id": [f"o{i}" for i in range(n)], "timestamp": placed, "buyer_id": "u",
                           "product": "星空咖啡杯", "platform": "淘宝", "variant": variant, "region": region, "price": 49.0,
                           "promised_ship": promised, "shipped": shipped, "delivered": delivered,
                           "buyer_prior_orders": prior, "buyer_prior_returns": prior_returns})
    back = orders.loc[returned, ["order_id", "delivered"]].rename(columns={"delivered": "timestamp"})
    back["timestamp"] = back["timestamp"] + pd.Timedelta(days=1)
    back["reason"] = "delay"
    return orders, back.reset_index(drop=True)


def test_return_model_recovers_known_coefficients():
    orders, back = _simulated()
    model = af.return_model(orders, back, T("2025-04-01"), penalty=0.1, n_boot=50)
    c = model.coefficients
    assert 0.35 < c["ship_delay_days"] < 0.65
    assert 0.7 < c["variant=月光白"] < 1.3
    assert 0.8 < c["buyer_prior_return_rate"] < 2.2
    assert abs(c["region=华北"]) < 0.3 and abs(c["buyer_prior_orders"]) < 0.15
    assert model.auc > 0.6 and model.auc_low < model.auc < model.auc_high
    assert model.calibration["orders"].sum() == model.n_test
    risky = af.score_orders(model, orders, T("2025-03-05"), n=5)
    assert len(risky) == 5 and risky["probability"].is_monotonic_decreasing


def test_roc_auc_by_hand():
    assert af.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)


# ------------------------------------------------------------------------------------------ sentiment
def _stub_scorer(texts):
    labels = ["negative" if "差" in t or "broken" in t else "positive" for t in texts]
    return pd.DataFrame({"label": labels, "score": [-0.8 if l == "negative" else 0.6 for l in labels],
                         "language": ["en" if t.isascii() else "zh" for t in texts]})


def test_sentiment_trend_with_stub():
    reviews = pd.DataFrame({"review_id": list("abcd"), "timestamp": [T("2025-03-09 10:00"), T("2025-03-09 11:00"),
                                                                       T("2025-03-10 09:00"), T("2025-03-12 09:00")],
                            "platform": "淘宝", "order_id": "", "rating": [1, 5, 5, 1],
                            "text": ["太差了", "很好看", "broken on arrival", "差评"]})
    trend = af.sentiment_trend(reviews, T("2025-03-10 12:00"), scorer=_stub_scorer)
    every = trend[trend["language"] == "all"].set_index("period")
    assert every.loc[T("2025-03-09"), "share_negative"] == pytest.approx(0.5)
    assert every.loc[T("2025-03-10"), "reviews"] == 1
    assert T("2025-03-12") not in every.index


# ------------------------------------------------------------------------------------------ time discipline
def test_future_rows_change_nothing():
    as_of = T("2025-03-10 12:00")
    tickets = _tickets()
    future = tickets.tail(3).copy()
    future["ticket_id"] = future["ticket_id"] + "_f"
    future["timestamp"] = as_of + pd.Timedelta(hours=2)
    more = pd.concat([tickets, future], ignore_index=True)
    pd.testing.assert_frame_equal(af.ticket_surge(tickets, as_of), af.ticket_surge(more, as_of))
    pd.testing.assert_frame_equal(af.response_times(tickets, as_of).table, af.response_times(more, as_of).table)
    pd.testing.assert_frame_equal(af.priority_queue(tickets, as_of), af.priority_queue(more, as_of))
    pd.testing.assert_frame_equal(af.top_questions(tickets, as_of), af.top_questions(more, as_of))

    orders, back = _simulated(n=1500)
    cut = T("2025-03-20")
    late_orders = orders.copy()
    late_orders["order_id"] = late_orders["order_id"] + "_f"
    late_orders["timestamp"] = late_orders["timestamp"] + pd.Timedelta(days=60)
    late_back = back.copy()
    late_back["timestamp"] = cut + pd.Timedelta(days=3)
    late_back["order_id"] = late_orders["order_id"].iloc[: len(late_back)].to_numpy()
    a = af.return_model(orders, back[back["timestamp"] <= cut], cut, n_boot=20)
    b = af.return_model(pd.concat([orders, late_orders]), pd.concat([back, late_back]), cut, n_boot=20)
    assert a.auc == pytest.approx(b.auc)
    pd.testing.assert_series_equal(a.coefficients, b.coefficients)
    plan_a = af.delay_notices(_orders(), as_of, stock_on_hand=3)
    extra = _orders().assign(order_id=lambda f: f["order_id"] + "_f", timestamp=as_of + pd.Timedelta(hours=1))
    plan_b = af.delay_notices(pd.concat([_orders(), extra], ignore_index=True), as_of, stock_on_hand=3)
    pd.testing.assert_frame_equal(plan_a.backlog, plan_b.backlog)


def test_settings_refuse_bad_values():
    with pytest.raises(ConfigError):
        af.AftersalesSettings(aql=0.7)
    with pytest.raises(ConfigError):
        af.AftersalesSettings(inspection_level="X")
    assert af.AftersalesSettings().surge_alert == 1.0


# ------------------------------------------------------------------ on the spike state: supply and spare stock


def test_supply_arrivals_merge_open_lines_and_the_proposal():
    as_of = T("2025-03-10 12:00")
    open_lines = pd.DataFrame({"po_id": ["PO-1", "PO-2"], "day": [0, 2], "units": [5.0, 100.0]})  # PO-1 due later today
    proposal = pd.DataFrame({"date": [pd.Timestamp("2025-03-12"), pd.Timestamp("2025-03-13")], "arrivals": [50, 0],
                             "demand": [66, 66]})
    table = af.supply_arrivals(open_lines, proposal, as_of)
    assert table[["date", "arrivals", "source"]].values.tolist() == [
        [pd.Timestamp("2025-03-11"), 5, "ledger open lines"],  # booked in later today: ships from tomorrow
        [pd.Timestamp("2025-03-12"), 50, "chapter 03 proposal"],
        [pd.Timestamp("2025-03-12"), 100, "ledger open lines"]]
    assert af.supply_arrivals(None, None, as_of) is None
    # The delay notices ship the backlog from them: 6 unshipped orders, nothing on hand; 5 arrive 03-11, the rest 03-12.
    plan = af.delay_notices(_orders(), as_of, arrivals=table, stock_on_hand=0)
    projected = plan.backlog.set_index("order_id")["projected_ship"]
    assert (projected[["o0", "o1", "o2", "o3", "o4"]] == T("2025-03-11")).all() and projected["o5"] == T("2025-03-12")
    assert any(n.startswith("arrivals (chapter 03 proposal, ledger open lines): 155 units") for n in plan.notes)


def test_spare_stock_sized_on_the_units_to_ship():
    forecast = {"daily": [{"day": "2025-03-11", "expected": 10.0}, {"day": "2025-03-12", "expected": 20.5},
                          {"day": "2025-03-13", "expected": 30.0}]}
    assert af.units_to_ship(forecast, backlog=5) == 65.5
    assert af.units_to_ship(forecast, backlog=5, days=2) == 35.5
    assert af.spare_stock(af.units_to_ship(forecast, backlog=5), 0.03) == 2  # ceil(1.965)
    assert af.units_to_ship(None) == 0.0


# ------------------------------------------------------------------------------------------ issue 14
def test_oc_of_the_plan_as_applied_matches_the_hand_check():
    # n = 50, Ac = 1 at p = 1%: 0.99^50 + 50 * 0.01 * 0.99^49 = 0.9106
    one = 0.99 ** 50 + 50 * 0.01 * 0.99 ** 49
    assert af.acceptance_probability(0.01, 50, 1) == pytest.approx(one)
    assert af.acceptance_probability(0.01, 50, 1, rounds=3) == pytest.approx(one ** 3)
    risks = af.plan_risks(50, 1, rounds=3, aql=1.0, ltpd=5.0)
    assert risks.producer_risk_one == pytest.approx(0.0894, abs=5e-4)  # 8.9%
    assert risks.producer_risk == pytest.approx(0.2450, abs=5e-4)      # 1 - 0.9106^3 = 24.5%
    at_ltpd = 0.95 ** 50 + 50 * 0.05 * 0.95 ** 49
    assert risks.consumer_risk_one == pytest.approx(at_ltpd)
    assert risks.consumer_risk == pytest.approx(at_ltpd ** 3)
    plans = pd.DataFrame({"sample_size": [50, 50, 80], "accept": [1, 1, 2]})
    curve, table = af.operating_characteristic(plans, rounds=3, aql=1.0, ltpd=5.0)
    assert table["plan"].tolist() == ["n=50, Ac=1", "n=80, Ac=2"]
    at_one = curve[(curve["plan"] == "n=50, Ac=1") & np.isclose(curve["defect_percent"], 1.0)].iloc[0]
    assert at_one["accept_one_round"] == pytest.approx(one) and at_one["accept_as_applied"] == pytest.approx(one ** 3)
    assert (curve["accept_as_applied"] <= curve["accept_one_round"] + 1e-12).all()
    with pytest.raises(ConfigError):
        af.plan_risks(50, 1, aql=5.0, ltpd=1.0)
    with pytest.raises(ConfigError):
        af.acceptance_probability(1.5, 50, 1)


def _sla_tickets(recent_hit: int, recent_miss: int, as_of=T("2025-03-10 12:00"), base_hit: int = 9, days: int = 14):
    """A baseline of ``days`` days, 10 tickets a day of which ``base_hit`` answered in 1 h and the rest in 5 h,
    then the last 24 h: ``recent_hit`` answered in 1 h and ``recent_miss`` in 5 h."""
    rows = []
    start = as_of - pd.Timedelta(hours=24) - pd.Timedelta(days=days)
    for d in range(days):
        for k in range(10):
            t = start + pd.Timedelta(days=d, hours=1 + 2 * k)
            wait = 1 if k < base_hit else 5
            rows.append((f"b{d:02d}{k}", t, "paid", "other", "x", t + pd.Timedelta(hours=wait), pd.NaT))
    for k in range(recent_hit + recent_miss):
        t = as_of - pd.Timedelta(hours=23) + pd.Timedelta(minutes=40 * k)
        wait = 1 if k < recent_hit else 5
        answer = t + pd.Timedelta(hours=wait)
        rows.append((f"r{k:02d}", t, "paid", "other", "x", answer if answer <= as_of else pd.NaT, pd.NaT))
    return pd.DataFrame(rows, columns=["ticket_id", "timestamp", "customer_kind", "type", "text", "first_response",
                                       "resolved"])


def test_sla_is_judged_against_the_shops_own_baseline():
    as_of = T("2025-03-10 12:00")
    # The shop's normal level: 70% within 2 h (its own, below the old fixed 90% bar). Today it holds that level.
    normal = _sla_tickets(14, 6, base_hit=7)
    base = af.response_baseline(normal, as_of, 2.0, baseline_days=14, window_hours=24)
    assert (base.decided, base.within_target) == (140, 98)
    response = af.response_times(normal, as_of, 2.0, 24.0)
    call = af.assess_sla(response, af.ticket_surge(normal, as_of, 14, 24.0), baseline=base)
    assert call.status == "ok"
    assert af.decide(response, None)[0] == "at risk"  # without a baseline: the 90% aimed for, 70% is credibly below
    # The same shop when replies slip to 4 of 20 within 2 h: credibly below its 70%, under one half: breached.
    slipped = _sla_tickets(4, 16, base_hit=7)
    response = af.response_times(slipped, as_of, 2.0, 24.0)
    call = af.assess_sla(response, None, baseline=af.response_baseline(slipped, as_of, 2.0))
    assert call.status == "breached"
    assert call.trigger == "reply within 2 h: 20% of 20 tickets in the last 24 h vs 70% baseline"
    assert af.headline(call.status, response, sla=call).startswith(
        "SLA breached: reply within 2 h: 20% of 20 tickets in the last 24 h vs 70% baseline")
    # Slipping to 11 of 20 (55%) against a 95% normal: credibly below but most still answered in time: at risk.
    dipped = _sla_tickets(11, 9, base_hit=9)
    call = af.assess_sla(af.response_times(dipped, as_of, 2.0, 24.0), None,
                         baseline=af.response_baseline(dipped, as_of, 2.0))
    assert call.status == "at risk" and "55% of 20 tickets" in call.trigger and "90% baseline" in call.trigger
    # The baseline ends at chapter 01's first alert when there is one, never inside the recent window.
    alert = as_of - pd.Timedelta(days=3)
    early = af.response_baseline(normal, as_of, 2.0, baseline_end=alert)
    assert early.end == alert and early.decided == 10 * 12  # the 12 data days before the alert only
    late = af.response_baseline(normal, as_of, 2.0, baseline_end=as_of)
    assert late.end == as_of - pd.Timedelta(hours=24)


def _random_returns(n=1500, seed=3, signal=0.0):
    """Orders whose returns are pure noise (signal 0) or driven by the ship delay (signal > 0)."""
    rng = np.random.default_rng(seed)
    placed = T("2025-01-01") + pd.to_timedelta(np.sort(rng.uniform(0, 60, n)), unit="D")
    promised = placed + pd.Timedelta(days=2)
    delay = np.round(rng.exponential(1.5, n), 2)
    shipped = promised + pd.to_timedelta(delay, unit="D")
    delivered = shipped + pd.Timedelta(days=2)
    z = -2.5 + signal * (delay - 1.5)
    returned = rng.random(n) < 1 / (1 + np.exp(-z))
    orders = pd.DataFrame({"order_id": [f"o{i}" for i in range(n)], "timestamp": placed, "buyer_id": "u",
                           "product": "星空咖啡杯", "platform": "淘宝", "variant": rng.choice(["星空蓝", "月光白"], n),
                           "region": rng.choice(["华东", "华北"], n), "price": 49.0, "promised_ship": promised,
                           "shipped": shipped, "delivered": delivered, "buyer_prior_orders": rng.poisson(1, n),
                           "buyer_prior_returns": 0})
    back = orders.loc[returned, ["order_id", "delivered"]].rename(columns={"delivered": "timestamp"})
    back["timestamp"] = back["timestamp"] + pd.Timedelta(days=1)
    back["reason"] = "delay"
    return orders, back.reset_index(drop=True)


def test_a_return_model_without_skill_is_not_used_and_rules_rank_instead():
    as_of = T("2025-03-20")
    orders, back = _random_returns(signal=0.0)
    risk = af.return_risk(orders, back, as_of, n_boot=100)
    assert risk.method == "rules" and not risk.enough_outcomes
    assert risk.model is not None and not risk.model.skill()[0]
    assert risk.verdict.startswith("not enough outcomes yet")
    assert "points" in risk.ranked.columns and "probability" not in risk.ranked.columns
    assert "not enough outcomes yet" in af.headline("ok", af.response_times(_tickets(), as_of), risk=risk)
    # A real signal (returns rise with the ship delay) beats the base rate credibly: the model ranks.
    orders, back = _random_returns(signal=1.2)
    risk = af.return_risk(orders, back, as_of, n_boot=100)
    assert risk.method == "model" and risk.model.auc_low > 0.5 and risk.model.brier < risk.model.brier_base
    assert risk.ranked["probability"].is_monotonic_decreasing
    assert risk.model.to_dict()["used"] is True
    # Too few outcomes to fit at all: the rules, with the reason.
    few = af.return_risk(orders, back, T("2025-01-06"))
    assert few.method == "rules" and few.model is None and few.verdict.startswith("not enough outcomes yet: only")


def test_rule_ranking_by_hand():
    as_of = T("2025-03-10 12:00")
    base = dict(buyer_id="u", product="星空咖啡杯", platform="淘宝", region="华东", price=49.0,
                promised_ship=T("2025-03-08 18:00"), delivered=pd.NaT)
    orders = pd.DataFrame([
        {**base, "order_id": "late", "timestamp": T("2025-03-07"), "variant": "A", "shipped": T("2025-03-10 09:00"),
         "buyer_prior_orders": 2, "buyer_prior_returns": 0},                       # 1.6 d late: 2 (+1 delay reason)
        {**base, "order_id": "new", "timestamp": T("2025-03-07"), "variant": "A", "shipped": T("2025-03-08 09:00"),
         "buyer_prior_orders": 0, "buyer_prior_returns": 0},                       # first-time buyer: 1
        {**base, "order_id": "back", "timestamp": T("2025-03-06"), "variant": "A", "shipped": T("2025-03-08 09:00"),
         "buyer_prior_orders": 3, "buyer_prior_returns": 1},                       # returned before: 2
        {**base, "order_id": "old", "timestamp": T("2025-02-01"), "variant": "A", "shipped": T("2025-02-02"),
         "delivered": T("2025-02-03"), "buyer_prior_orders": 1, "buyer_prior_returns": 0},  # window closed
    ])
    returns = pd.DataFrame({"order_id": ["old"], "timestamp": [T("2025-02-05")], "reason": ["delay"]})
    ranked = af.rule_scores(orders, returns, as_of)
    assert ranked["order_id"].tolist() == ["late", "back", "new"]
    assert ranked["points"].tolist() == [3, 2, 1]  # late counts 3: delay is the product's top return reason
    assert ranked.loc[0, "reasons"] == "late 1.6 d"
    returns["reason"] = "quality"
    assert af.rule_scores(orders, returns, as_of)["points"].tolist() == [2, 2, 1]
