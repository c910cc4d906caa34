"""Chapter 10: stand-up brief, escalations above the authority limit, decision log across runs."""
import json

import pandas as pd
import pytest

from spikekit.chapters import team
from spikekit.core.errors import ConfigError
from spikekit.core.record import to_jsonable

AS_OF = "2025-03-09 12:00+08:00"


def hand_results():
    """Purchase orders of 9,174 and 3,000 yuan, a 450 yuan budget move, a 12,000 yuan loan."""
    return {
        "02": {"decision": "go", "headline": "GO", "daily_demand": {"estimate": 66.0, "low": 57.0, "high": 76.0}},
        "03": {"decision": "order", "headline": "ORDER",
               "purchase_orders": pd.DataFrame({"supplier": ["杭州星辰陶瓷", "德化白瓷坊"], "units": [700, 200],
                                                "cost": [9174.0, 3000.0], "first_arrival_day": [3, 4]})},
        "07": {"verdict": "MOVE BUDGET", "headline": "move",
               "budget_moves": pd.DataFrame({"from_platform": ["拼多多"], "to_platform": ["抖音"], "amount": [450.0]})},
        "09": {"decision": "gap ahead", "headline": "gap",
               "chosen_financing": pd.DataFrame({"offer": ["bank loan"], "kind": ["purchase_loan"], "amount": [12000.0]})},
    }


def test_exactly_the_amounts_above_the_limit_escalate():
    esc = team.escalations(hand_results(), 5000)
    assert sorted(esc["amount"].tolist()) == [9174.0, 12000.0]
    assert dict(zip(esc["amount"], esc["chapter"])) == {9174.0: "03", 12000.0: "09"}
    assert esc["evidence"].str.len().gt(0).all()
    # the brief carries the same escalations and turns them into resource asks
    b = team.brief(hand_results(), AS_OF, authority_limit=5000)
    assert sorted(b.escalations["amount"]) == [9174.0, 12000.0]
    assert sorted(b.asks["amount"]) == [9174.0, 12000.0]


def test_limit_is_inclusive_for_the_front_line():
    # up to the limit the front line decides alone: exactly 5,000 does not escalate, 5,000.01 does
    results = {"07": {"budget_moves": pd.DataFrame({"from_platform": ["a", "b"], "to_platform": ["c", "c"],
                                                     "amount": [5000.0, 5000.01]})}}
    assert team.escalations(results, 5000, combine_split=False)["amount"].tolist() == [5000.01]
    assert team.escalations(hand_results(), 20000).empty


def test_split_orders_escalate_together():
    # four orders of one decision, each within the limit, 9,127 together (chapter 03's sample plan)
    results = {"03": {"purchase_orders": pd.DataFrame({"supplier": list("ABCD"), "units": [38, 72, 300, 250],
                                                       "cost": [758.0, 1244.0, 3900.0, 3225.0]})}}
    esc = team.escalations(results, 5000)
    assert esc["amount"].tolist() == [9127.0]
    assert esc["kind"].iloc[0] == "purchase orders combined"
    assert team.escalations(results, 5000, combine_split=False).empty


def test_purchase_order_cost_rebuilt_from_parts_and_markdown_cost():
    results = {"03": {"purchase_orders": pd.DataFrame({"supplier": ["X"], "units": [400], "unit_cost": [12.0],
                                                       "setup_cost": [300.0]})},
               # normal price 50: 100 units at 40 give up 1,000; 200 units at 25 give up 5,000 -> 6,000
               "06": {"markdown_plan": pd.DataFrame({"price": [40.0, 25.0], "discount": [0.2, 0.5],
                                                     "expected_units": [100.0, 200.0]})}}
    assert team.markdown_revenue_given_up(results["06"]["markdown_plan"]) == pytest.approx(6000.0)
    esc = team.escalations(results, 5000)
    assert dict(zip(esc["chapter"], esc["amount"])) == {"03": 5100.0, "06": pytest.approx(6000.0)}


def test_markdown_has_four_sections_with_time_boxes():
    b = team.brief(hand_results(), AS_OF)
    text = team.brief_markdown(b)
    for heading in ("## 1. Yesterday's numbers (3 min)", "## 2. Today's tasks (5 min)", "## 3. Risks (4 min)",
                    "## 4. Resource asks (3 min)"):
        assert heading in text
    assert "09:00-09:03" in text and "09:12-09:15" in text  # 3+5+4+3 = 15 minutes from 9:00
    assert text.index("Yesterday") < text.index("Today's tasks") < text.index("## 3. Risks") < text.index("Resource asks")
    assert "¥9,174" in text and "¥12,000" in text and "¥450" in text
    for role in team.DEFAULT_ROLES:
        assert f"**{role}**" in text
    assert max(len(line) for line in text.splitlines()) <= team.LINE_WIDTH


def test_decision_points_take_the_escalations_first():
    b = team.brief(hand_results(), AS_OF, decision_points=("20:00", "11:00", "15:00"))
    assert list(dict.fromkeys(b.decision_points["time"])) == ["11:00", "15:00", "20:00"]
    first = b.decision_points[b.decision_points["time"] == "11:00"]
    assert first["decide"].str.contains("¥9,174").any() and first["decide"].str.contains("¥12,000").any()
    assert b.decision_points["decide"].str.contains("budget").any()
    with pytest.raises(ConfigError):
        team.brief(hand_results(), AS_OF, decision_points=("noon",))
    with pytest.raises(ConfigError):
        team.brief(hand_results(), AS_OF, roles=("ops", "content"))


def test_tasks_risks_and_missing_chapters():
    b = team.brief(hand_results(), AS_OF)
    ops, supply = team.DEFAULT_ROLES[0], team.DEFAULT_ROLES[2]
    assert b.tasks.loc[b.tasks["role"] == ops, "task"].str.contains("拼多多 -> 抖音").any()
    assert b.tasks.loc[b.tasks["role"] == supply, "chapter"].eq("03").any()
    assert b.risks["risk"].str.contains("cash: gap ahead").any()
    assert b.missing == ["01", "04", "05", "06", "08"]


def test_gather_drops_unrecorded_values_and_normalises_keys():
    got = team.gather({3: {"decision": "order", "purchase_orders": None}, "8": {"decision": None}, "01": None})
    assert got == {"03": {"decision": "order"}}
    with pytest.raises(ConfigError):
        team.gather({"chapter three": {}})


def _write_run(root, spike, run_id, as_of, decisions):
    chapters = {ch: {"title": f"chapter {ch}", "status": "ok",
                     "results": {name: to_jsonable(v) for name, v in results.items()}}
                for ch, results in decisions.items()}
    folder = root / spike / run_id
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"run_id": run_id, "spike": spike, "as_of": as_of, "status": "ok",
                                                 "chapters": chapters}, ensure_ascii=False), encoding="utf-8")


def test_decision_log_from_two_runs(tmp_path):
    _write_run(tmp_path, "mug", "r2", "2025-03-10T12:00:00+08:00",
               {"06": {"exit_decision": "brake", "headline": "Exit: brake"}})
    _write_run(tmp_path, "mug", "r1", "2025-03-09T12:00:00+08:00",
               {"02": {"decision": "go", "headline": "GO"}, "07": {"verdict": "MOVE", "headline": "move ¥450"},
                "03": {"decision": "order", "purchase_orders": pd.DataFrame({"cost": [1.0]})}})
    _write_run(tmp_path, "other", "r9", "2025-03-09T12:00:00+08:00", {"02": {"decision": "no-go"}})
    (tmp_path / "mug" / "broken").mkdir()
    (tmp_path / "mug" / "broken" / "run.json").write_text("{not json", encoding="utf-8")

    log = team.decision_log(tmp_path, "mug")
    assert log[["run_id", "chapter", "decision"]].values.tolist() == [
        ["r1", "02", "go"], ["r1", "03", "order"], ["r1", "07", "MOVE"], ["r2", "06", "brake"]]
    assert log["headline"].isna().tolist() == [False, True, False, False]
    assert log["headline"].dropna().tolist() == ["GO", "move ¥450", "Exit: brake"]
    assert log["as_of"].iloc[0] == pd.Timestamp("2025-03-09 12:00", tz="Asia/Shanghai")
    assert len(log.attrs["skipped"]) == 1

    # time discipline: a run evaluated after as_of is ignored
    assert team.decision_log(tmp_path, "mug", as_of="2025-03-09 23:00+08:00")["run_id"].unique().tolist() == ["r1"]
    assert team.decision_log(tmp_path, "mug", as_of="2025-03-09 23:00")["run_id"].unique().tolist() == ["r1"]
    empty = team.decision_log(tmp_path, "nobody")
    assert empty.empty and list(empty.columns) == team.LOG_COLUMNS


def test_financing_as_chapter_09_records_it_escalates():
    """Chapter 09 records the amount drawn in a column named `use` (with offer, kind, cost, eac): a loan above the
    authority limit must reach the brief (it was read as `used` and silently dropped)."""
    results = {"09": {"decision": "gap ahead",
                      "chosen_financing": pd.DataFrame({"offer": ["平台贷"], "kind": ["platform_loan"], "use": [6943.0],
                                                        "cost": [61.2], "eac": [0.18]})}}
    esc = team.escalations(results, 5000)
    assert esc["amount"].tolist() == [6943.0] and esc["chapter"].tolist() == ["09"]


def test_brief_opens_with_the_phase_and_lists_contradictions():
    """The exit-day brief the reviewer found: an order re-issued, production braked, the price held and a
    markdown, all on a declining day. The brief must say the phase and list what cannot all be done."""
    results = hand_results()
    results["04"] = {"promotion_now": {"name": "hold price", "discount": 0.0}, "headline": "hold"}
    results["06"] = {"exit_decision": "exit", "headline": "exit",
                     "brake_list": pd.DataFrame({"supplier": ["杭州星辰陶瓷"], "units": [300]}),
                     "markdown_plan": pd.DataFrame({"date": ["2025-03-20"], "discount": [0.1], "price": [44.1],
                                                    "expected_units": [100]})}
    state = {"as_of": "2025-03-20T09:00:00+08:00", "phase": "declining",
             "phase_evidence": ["3 days below the peak (402/day, the 3-day mean over 03-13 to 03-15) by more than 15%: latest 165/day"],
             "position": {"on_hand": 120, "on_order": 300, "backlog": 0}}
    b = team.brief(results, "2025-03-20 09:00+08:00", authority_limit=5000, state=state)
    assert b.phase == "declining"
    assert len(b.contradictions) == 3, b.contradictions
    verdict, reasons = team.review(b)
    assert verdict == "contradictions" and reasons[0].startswith("phase: declining")
    md = team.brief_markdown(b)
    assert "**Phase: declining**" in md and "Contradictions" in md
    assert "brake: cancel 300 not-started units on 1 line(s) (chapter 06 brake list)" in " ".join(md.split())
    # An exit with nothing open does not ask supply to brake anything.
    results["06"]["brake_list"] = pd.DataFrame({"supplier": [], "units": []})
    empty = team.brief_markdown(team.brief(results, "2025-03-20 09:00+08:00", authority_limit=5000, state=state))
    assert "brake: nothing open to cancel" in " ".join(empty.split())
    # Without a state the brief is as before (no phase, no check).
    assert team.review(team.brief(results, AS_OF, authority_limit=5000))[0] == "brief ready"


def test_under_phase_peak_a_brake_is_not_called_a_declining_spike_and_a_backlog_order_is_named():
    """03-19 of the sample: the state says peak (decline not yet confirmed) while chapter 06's own decline signal
    fired (brake); chapter 03 orders the paid backlog only. The brief must not say "spike declining" under
    "Phase: peak", and the brake task must not say "make to order" beside chapter 03's order as if it were new."""
    results = hand_results()
    results["03"] = dict(results.get("03", {}), increment={"units": 383, "backlog_only": True})
    results["06"] = {"exit_decision": "brake", "headline": "brake", "brake_list": pd.DataFrame({"supplier": [], "units": []})}
    state = {"as_of": "2025-03-19T12:00:00+08:00", "phase": "peak", "phase_evidence": ["past the top"],
             "position": {"on_hand": 0, "on_order": 0, "backlog": 2814}}
    b = team.brief(results, "2025-03-19 12:00+08:00", authority_limit=5000, state=state)
    risks = list(b.risks["risk"])
    assert not any(r.startswith("spike declining") for r in risks), risks
    assert "past the top (phase peak), chapter 06's decline signal fired: brake" in risks
    md = " ".join(team.brief_markdown(b).split())
    assert "brake: nothing open to cancel; from now on make only what customers already paid for" in md
    declining = team.brief(results, "2025-03-21 12:00+08:00", authority_limit=5000, state=dict(state, phase="declining"))
    assert "spike declining: brake" in list(declining.risks["risk"])
    # Chapter 10's notebook reads only the names in RESULT_NAMES: what the brief needs must be among them.
    read = team.gather({c: {n: results.get(c, {}).get(n) for n in names} for c, names in team.RESULT_NAMES.items()})
    as_read = " ".join(team.brief_markdown(team.brief(read, "2025-03-19 12:00+08:00", authority_limit=5000,
                                                      state=state)).split())
    assert "from now on make only what customers already paid for" in as_read


def test_a_kit_deadline_already_passed_is_marked_overdue():
    """03-15's brief listed "content kit due 03-08 15:00" a week after that deadline, read as if still ahead."""
    results = {"08": {"decision": "produce", "headline": "PRODUCE", "kit": {"items": ["FAQ"]},
                      "kit_deadline": "2025-03-08T15:00:00+08:00"}}
    late = " ".join(team.brief_markdown(team.brief(results, "2025-03-15 12:00+08:00")).split())
    assert "content kit due 03-08 15:00 (overdue)" in late
    ahead = " ".join(team.brief_markdown(team.brief(results, "2025-03-08 09:00+08:00")).split())
    assert "content kit due 03-08 15:00" in ahead and "(overdue)" not in ahead


def test_numbers_survive_a_no_go_without_a_stock_position():
    """A no-go run: chapter 04 records no stock position and a promotion without days of cover."""
    results = {"02": {"decision": "no-go", "headline": "NO-GO"},
               "04": {"promotion_now": {"name": "normal", "stock": 60.0, "days_of_cover": None}, "headline": "x"}}
    numbers = team.brief(results, AS_OF, authority_limit=5000).numbers
    assert "60 units" in numbers.set_index("metric").loc["stock now", "value"]
