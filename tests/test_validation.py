"""Chapter 02 (48 小时验证): decisions on hand-built cases whose truth is known, checked by hand."""
from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from scipy import integrate, optimize
from scipy import stats as st

from spikekit.chapters import validation as v
from spikekit.core.errors import ConfigError, InputError

TZ = "Asia/Shanghai"
TEST_START = pd.Timestamp("2025-03-01 00:00", tz=TZ)
FAST = v.ValidationSettings(mc_draws=50_000)


def _row(ts, metric, count, phase, design=""):
    return {"timestamp": ts, "metric": metric, "count": int(count), "phase": phase, "design": design}


def _frame(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["timestamp", "metric", "count", "phase", "design"])
    return frame.astype({"count": "int64"}).sort_values("timestamp", kind="stable").reset_index(drop=True)


def _spread(total: int, hours: int) -> list[int]:
    """Split a total over hours as evenly as whole numbers allow (the first hours get the remainder)."""
    base, extra = divmod(total, hours)
    return [base + (1 if h < extra else 0) for h in range(hours)]


def build_events(
    baseline_per_day=20,
    baseline_days=28,
    test_carts=200,
    test_hours=24,
    presale_orders=36,
    poll=((108, 400), (60, 500)),
    poll_hours=(1, 12),
    votes=None,
):
    """Baseline: one add-to-cart row per past day. Test: hourly add-to-cart and pre-sale rows from
    TEST_START (zero hours included), one poll, design votes."""
    rows = [
        _row(TEST_START - pd.Timedelta(days=baseline_days - d), "add_to_cart", baseline_per_day, "baseline")
        for d in range(baseline_days)
    ]
    for h, (carts, orders) in enumerate(zip(_spread(test_carts, test_hours), _spread(presale_orders, test_hours))):
        stamp = TEST_START + pd.Timedelta(hours=h)
        rows.append(_row(stamp, "add_to_cart", carts, "test"))
        rows.append(_row(stamp, "presale_order", orders, "test"))
    if poll is not None:
        (k1, n1), (k0, n0) = poll
        past = TEST_START - pd.Timedelta(days=60)
        rows += [_row(past, "poll_invited", n0, "baseline"), _row(past, "poll_participated", k0, "baseline")]
        rows += [
            _row(TEST_START + pd.Timedelta(hours=poll_hours[0]), "poll_invited", n1, "test"),
            _row(TEST_START + pd.Timedelta(hours=poll_hours[1]), "poll_participated", k1, "test"),
        ]
    for name, count in (votes or {}).items():
        rows.append(_row(TEST_START + pd.Timedelta(hours=6), "design_vote", count, "test", name))
    return _frame(rows)


def _last_hour(test_hours: int) -> pd.Timestamp:
    return TEST_START + pd.Timedelta(hours=test_hours - 1)


def _exact_rate_ratio_interval(c1, t1, c0, t0, conf):
    """By hand: invert the binomial tails of c1 | c1 + c0 for the share, then map share -> rate ratio."""
    n, tail = c1 + c0, (1 - conf) / 2
    share_low = optimize.brentq(lambda p: st.binom.sf(c1 - 1, n, p) - tail, 1e-12, 1 - 1e-12, xtol=1e-14)
    share_high = optimize.brentq(lambda p: st.binom.cdf(c1, n, p) - tail, 1e-12, 1 - 1e-12, xtol=1e-14)
    to_ratio = lambda s: s / (1 - s) * t0 / t1  # noqa: E731
    return to_ratio(share_low), to_ratio(share_high)


HANDBOOK_VOTES = {"A": 30, "B": 80, "C": 45, "D": 20, "E": 25}


def test_handbook_case_is_go_with_lift_checked_by_hand():
    events = build_events(votes=HANDBOOK_VOTES)
    decision = v.decide(events, _last_hour(24), FAST)
    assert decision.decision == "go"

    cart = decision.cart_lift
    # 200 carts in 24 hours = 200/day against 560 over 28 days = 20/day.
    assert (cart.test_count, cart.test_hours, cart.baseline_count, cart.baseline_days) == (200, 24, 560, 28)
    assert cart.lift == pytest.approx(10.0)
    low, high = _exact_rate_ratio_interval(200, 1.0, 560, 28.0, 0.90)
    assert cart.low == pytest.approx(low, rel=1e-7) and cart.high == pytest.approx(high, rel=1e-7)
    assert (round(cart.low, 2), round(cart.high, 2)) == (8.69, 11.48)
    # p-value of "lift <= 5": P(X >= 200), X ~ Binomial(760, 5*1 / (5*1 + 28)).
    assert cart.p_value == pytest.approx(st.binom.sf(199, 760, 5 / 33), rel=1e-6)

    poll = decision.poll_lift
    assert (poll.test_rate, poll.usual_rate, poll.lift) == pytest.approx((0.27, 0.12, 2.25))
    # Beta(1 + 108, 1 + 292) vs Beta(1 + 60, 1 + 440): the 5% point of the ratio, by numerical integration.
    ratio_cdf = lambda r: integrate.quad(  # noqa: E731
        lambda y: st.beta.pdf(y, 61, 441) * st.beta.cdf(r * y, 109, 293), 0, 1, limit=200
    )[0]
    assert ratio_cdf(poll.low) == pytest.approx(0.05, abs=0.005)
    assert ratio_cdf(poll.high) == pytest.approx(0.95, abs=0.005)
    assert poll.low > 1.5 and poll.prob_better > 0.999

    assert decision.validation_sales == 36
    assert decision.winning_design == "B"
    assert decision.hours_observed == 24 and not decision.window_complete
    assert any("lower bound >= 5x" in reason and "credibly above" in reason for reason in decision.reasons)


def test_weak_lift_is_no_go():
    # 52 carts in 48 hours = 26/day against 20/day: 1.3x, far below the 5x bar.
    events = build_events(test_carts=52, test_hours=48, poll=None)
    decision = v.decide(events, _last_hour(48), FAST)
    assert decision.cart_lift.lift == pytest.approx(1.3)
    assert decision.cart_lift.high < 5
    assert decision.decision == "no-go"
    assert decision.window_complete
    assert any(reason.startswith("Decision no-go") for reason in decision.reasons)
    # After 6 quiet hours the lift is already credibly low: no-go by default, extend when the shop asks
    # for a full daily cycle before ruling a product out.
    assert v.decide(events, _last_hour(6), FAST).decision == "no-go"
    patient = v.ValidationSettings(min_hours_no_go=24, mc_draws=50_000)
    assert v.decide(events, _last_hour(6), patient).decision == "extend"
    assert v.decide(events, _last_hour(24), patient).decision == "no-go"


def test_borderline_small_counts_extend():
    # Usual 2/day over 7 days; 15 carts in 24 h: 7.5x, but with so few counts the interval straddles 5x.
    events = build_events(baseline_per_day=2, baseline_days=7, test_carts=15, test_hours=24, poll=None)
    decision = v.decide(events, _last_hour(24), FAST)
    low, high = _exact_rate_ratio_interval(15, 1.0, 14, 7.0, 0.90)
    assert (decision.cart_lift.low, decision.cart_lift.high) == pytest.approx((low, high), rel=1e-7)
    assert low < 5 < high
    assert decision.decision == "extend"


def test_strong_lift_before_min_test_hours_is_extend_at_best():
    events = build_events(test_carts=120, test_hours=12, poll_hours=(0, 6))
    decision = v.decide(events, _last_hour(12), FAST)
    assert decision.cart_lift.low >= 5 and decision.poll_lift.low >= 1.5
    assert decision.hours_observed == 12
    assert decision.decision == "extend"
    relaxed = v.decide(events, _last_hour(12), v.ValidationSettings(min_test_hours=12, mc_draws=50_000))
    assert relaxed.decision == "go"


def test_poll_credibly_below_is_no_go_and_required_missing_poll_blocks_go():
    # 10% took part vs usual 12%; invited at hour 1, judged at hour 29 (open 28 h >= min_test_hours).
    weak_poll = build_events(test_carts=300, test_hours=30, poll=((40, 400), (60, 500)))
    decision = v.decide(weak_poll, _last_hour(30), FAST)
    assert decision.cart_lift.low >= 5 and decision.poll_lift.high < 1.5
    assert decision.decision == "no-go"

    no_poll = build_events(poll=None)
    assert v.decide(no_poll, _last_hour(24), FAST).decision == "go"
    required = v.ValidationSettings(require_poll=True, mc_draws=50_000)
    blocked = v.decide(no_poll, _last_hour(24), required)
    assert blocked.decision == "extend"
    assert not blocked.poll_lift.available
    assert any("required" in reason for reason in blocked.reasons)


def test_a_young_poll_cannot_rule_the_product_out():
    # Ten test hours in (as_of 09:00), invitations went out at 01:00 but the answers (recorded at 12:00) are
    # not in yet: 0 of 400 so far.
    events = build_events(poll_hours=(1, 12))
    early = v.decide(events, _last_hour(10), FAST)
    assert early.poll_lift.credibly_below and early.poll_lift.hours_open == 8
    assert early.decision == "extend"
    assert any("answers still coming in" in reason for reason in early.reasons)
    # Once the poll has been open min_test_hours, the same low share does rule it out.
    late = v.decide(events, _last_hour(10), v.ValidationSettings(min_test_hours=8, mc_draws=50_000))
    assert late.decision == "no-go"


def test_design_ranking_order_and_p_best_sum_to_one():
    events = build_events(votes=HANDBOOK_VOTES)
    ranking = v.design_ranking(events, _last_hour(24), FAST)
    assert list(ranking["design"]) == ["B", "C", "A", "E", "D"]
    assert list(ranking["rank"]) == [1, 2, 3, 4, 5]
    assert list(ranking.columns) == ["design", "votes", "share", "share_low", "share_high", "p_best", "rank"]
    assert ranking["p_best"].sum() == pytest.approx(1.0)
    assert ranking["p_best"].is_monotonic_decreasing
    assert ranking.loc[0, "share"] == pytest.approx(80 / 200)
    # Marginal share of B is Beta(1 + 80, 5 + 200 - 81) under the Dirichlet(1 + votes) posterior.
    assert ranking.loc[0, "share_low"] == pytest.approx(st.beta.ppf(0.05, 81, 124))

    tied = build_events(votes={"A": 40, "B": 40, "C": 5})
    decision = v.decide(tied, _last_hour(24), FAST)
    assert decision.winning_design is None
    assert list(decision.design_ranking["rank"]) == [1, 1, 3]

    assert v.design_ranking(build_events(), _last_hour(24), FAST).empty


def test_demand_rate_interval_is_garwood():
    events = build_events(presale_orders=36, test_hours=24)
    demand = v.demand_rate(events, _last_hour(24), FAST)
    # 36 orders in 1 day; Garwood 90%: chi2(0.05; 72)/2 and chi2(0.95; 74)/2.
    assert (demand.orders, demand.hours, demand.per_day) == (36, 24, pytest.approx(36.0))
    assert demand.low == pytest.approx(st.chi2.ppf(0.05, 72) / 2)
    assert demand.high == pytest.approx(st.chi2.ppf(0.95, 74) / 2)
    # Over 48 hours the same count is half the daily rate.
    two_days = v.demand_rate(build_events(presale_orders=36, test_hours=48), _last_hour(48), FAST)
    assert two_days.per_day == pytest.approx(18.0)
    assert two_days.high == pytest.approx(st.chi2.ppf(0.95, 74) / 4)


def test_rows_after_as_of_change_nothing():
    events = build_events(votes=HANDBOOK_VOTES)
    as_of = _last_hour(20)
    future = TEST_START + pd.Timedelta(hours=30)
    extra = _frame(
        [
            _row(future, "add_to_cart", 5000, "test"),
            _row(future, "presale_order", 900, "test"),
            _row(future, "poll_invited", 100, "test"),
            _row(future, "poll_participated", 1, "test"),
            _row(future, "design_vote", 999, "test", "D"),
            _row(future, "design_vote", 50, "test", "Z"),
            _row(future, "add_to_cart", 1, "baseline"),
            _row(future, "poll_invited", 1000, "baseline"),
            _row(as_of + pd.Timedelta(seconds=1), "add_to_cart", 7, "test"),
        ]
    )
    with_future = pd.concat([events, extra], ignore_index=True)
    before = v.decide(events, as_of, FAST)
    after = v.decide(with_future, as_of, FAST)
    assert before.to_dict() == after.to_dict()
    pd.testing.assert_frame_equal(v.summarize(events, as_of, FAST), v.summarize(with_future, as_of, FAST))
    assert before.hours_observed == 20


def test_window_keeps_only_the_last_window_hours():
    # 72 test hours; at the last one only hours 25..72 (48 of them) fall in (as_of - 48 h, as_of].
    events = build_events(test_carts=720, test_hours=72, presale_orders=72, poll=None)
    summary = v.summarize(events, _last_hour(72), FAST).set_index(["phase", "metric"])
    assert summary.loc[("test", "add_to_cart"), "count"] == 480
    assert summary.loc[("test", "add_to_cart"), "exposure_days"] == 2.0
    assert summary.loc[("baseline", "add_to_cart"), "exposure_days"] == 28.0
    assert summary.loc[("test", "presale_order"), "per_day"] == pytest.approx(24.0)


def test_decision_to_dict_is_strict_json_even_with_unbounded_intervals():
    events = build_events(baseline_per_day=0, votes={"A": 3})
    decision = v.decide(events, _last_hour(24), FAST)
    assert math.isinf(decision.cart_lift.lift) and math.isinf(decision.cart_lift.high)
    record = decision.to_dict()
    text = json.dumps(record, ensure_ascii=False, allow_nan=False)
    assert json.loads(text)["cart_lift"]["high"] is None
    assert record["daily_demand"] == {
        "estimate": pytest.approx(36.0), "low": pytest.approx(decision.daily_demand.low),
        "high": pytest.approx(decision.daily_demand.high), "conf": 0.9,
    }
    assert record["validation_sales"] == 36 and record["winning_design"] == "A"
    assert record["as_of"].startswith("2025-03-01T23:00:00+08:00")


def test_naive_as_of_is_read_in_the_events_time_zone():
    events = build_events()
    aware = v.decide(events, _last_hour(24), FAST).to_dict()
    naive = v.decide(events, "2025-03-01 23:00", FAST).to_dict()
    assert aware == naive


def test_bad_settings_and_missing_baseline_are_refused_clearly():
    with pytest.raises(ConfigError, match="unknown validation parameter"):
        v.ValidationSettings.from_mapping({"window_hour": 48})
    with pytest.raises(ConfigError):
        v.ValidationSettings(confidence=90)
    with pytest.raises(ConfigError):
        v.ValidationSettings(min_test_hours=72)
    assert v.ValidationSettings.from_mapping({"cart_lift_go": 4}).cart_lift_go == 4
    events = build_events()
    no_baseline = events.loc[~((events["metric"] == "add_to_cart") & (events["phase"] == "baseline"))]
    with pytest.raises(InputError, match="no baseline add_to_cart"):
        v.decide(no_baseline, _last_hour(24), FAST)


def test_a_finished_test_keeps_its_verdict_in_later_runs():
    """Runs days after the 48 hours (exit, replay) must still see the whole test, and only it."""
    import json

    from spikekit.inputs.contracts import load_validation
    from spikekit.core.paths import data_root

    truth = json.loads((data_root() / "samples" / "starry-mug" / "truth.json").read_text(encoding="utf-8"))
    events = load_validation("samples/starry-mug/validation.csv")
    at_end = v.decide(events, truth["validation_as_of"]).to_dict()
    week_later = v.decide(events, pd.Timestamp(truth["validation_as_of"]) + pd.Timedelta(days=7)).to_dict()
    for key in ("decision", "validation_sales", "winning_design", "cart_lift", "daily_demand"):
        assert week_later[key] == at_end[key], key
    assert at_end["validation_sales"] == truth["observed"]["validation_sales"]
