"""Chapter 08 content line: the plan's assignment rule, the kit deadline, shrinkage known answers, time discipline."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from spikekit.chapters import content
from spikekit.inputs.contracts import load_posts
from spikekit.core.errors import ConfigError, InputError

TZ = "Asia/Shanghai"


def _posts(rows, start="2025-03-08 10:00"):
    """rows: (format, platform, views, clicks, orders); one post per row, an hour apart."""
    frame = pd.DataFrame(rows, columns=["format", "platform", "views", "clicks", "orders"])
    frame.insert(0, "timestamp", pd.date_range(start, periods=len(frame), freq="h", tz=TZ))
    frame.insert(0, "post_id", [f"p{i:03d}" for i in range(len(frame))])
    return frame


# ---------------------------------------------------------------- plan
def test_default_plan_follows_the_handbooks_day_structure():
    plan = content.content_plan("2025-03-10", content.PLATFORMS)
    videos = plan[plan["kind"] == "case video"]
    # Days 1-2 (ignite): all 12 case videos, 6 a day, two per platform of different formats.
    assert len(videos) == 12 and set(videos["day"]) == {1, 2} and videos.groupby("day").size().tolist() == [6, 6]
    assert videos["format"].value_counts().to_dict() == {"scenario": 4, "unboxing": 4, "testimonial": 4}
    assert videos["platform"].value_counts().to_dict() == {p: 2 for p in content.PLATFORMS}
    assert (videos.groupby("platform")["format"].nunique() == 2).all()
    assert not videos.duplicated(["day", "platform"]).any()
    # Days 3-5 (deepen): KOC co-creation and UGC; days 6-7 (long tail): the one-week report and comparisons.
    phase_by_day = plan.drop_duplicates("day").set_index("day")["phase"].to_dict()
    assert phase_by_day == {1: "ignite", 2: "ignite", 3: "deepen", 4: "deepen", 5: "deepen",
                            6: "long tail", 7: "long tail"}
    kinds = plan.groupby("day")["kind"].apply(set).to_dict()
    assert kinds[1] == kinds[2] == {"case video"}
    assert kinds[3] == kinds[4] == kinds[5] == {"KOC co-creation", "UGC"}
    assert kinds[6] == kinds[7] == {"one-week report", "comparison"}
    # Without posts the slots are the handbook's, marked as such.
    slots = plan[plan["kind"] != "case video"]
    assert len(slots) == 10 and (slots["basis"] == "handbook (no posts yet)").all()
    assert plan.attrs["basis"] == "handbook"
    assert (plan["date"] == pd.Timestamp("2025-03-10") + pd.to_timedelta(plan["day"] - 1, unit="D")).all()
    assert plan.loc[plan["platform"] == "抖音", "adaptation"].str.contains("15 s").all()
    pd.testing.assert_frame_equal(plan, content.content_plan("2025-03-10", content.PLATFORMS))


def test_plan_follows_other_counts_and_phase_lengths():
    plan = content.content_plan("2025-03-10", ["小红书", "抖音", "淘宝"],
                                {"scenario": 2, "unboxing": 1, "testimonial": 2},
                                phases=(("ignite", 1), ("deepen", 1), ("long tail", 1)),
                                slots_per_day={"deepen": 3, "long tail": 1})
    videos = plan[plan["kind"] == "case video"]
    assert videos["format"].tolist() == ["scenario", "scenario", "unboxing", "testimonial", "testimonial"]
    assert videos["day"].tolist() == [1] * 5
    assert videos["platform"].tolist() == ["小红书", "抖音", "淘宝", "小红书", "抖音"]
    assert plan.loc[plan["day"] == 2, "kind"].tolist() == ["KOC co-creation", "UGC", "KOC co-creation"]
    assert plan.loc[plan["day"] == 3, "kind"].tolist() == ["one-week report"]
    with pytest.raises(ConfigError):  # the case videos need ignite days
        content.content_plan("2025-03-10", phases=(("ignite", 0), ("deepen", 3)))


def _cells(plan):
    return list(zip(plan["format"], plan["platform"]))


def test_plan_slots_follow_the_posts_explore_once_and_ignore_later_posts():
    start, as_of = "2025-03-10", pd.Timestamp("2025-03-11 20:00", tz=TZ)  # day 2 evening: days 3-7 still ahead
    handbook = content.content_plan(start)
    # One cell far better than the rest: testimonial on 快手 sells 5% of views, the others about 1%.
    rows = [("testimonial", "快手", 4000, 400, 200)] + [
        (f, p, 4000, 200, 40) for f in content.FORMATS for p in ("小红书", "抖音", "淘宝") if (f, p) != ("testimonial", "快手")]
    posts = _posts(rows, start="2025-03-10 08:00")
    plan = content.content_plan(start, posts=posts, as_of=as_of)
    slots = plan[plan["kind"] != "case video"]
    # The days and kinds stay the handbook's; only the cells of the slots change.
    pd.testing.assert_frame_equal(plan[["video", "day", "phase", "kind"]], handbook[["video", "day", "phase", "kind"]])
    assert _cells(slots) != _cells(handbook[handbook["kind"] != "case video"])
    assert plan.attrs["basis"] == "evidence"
    # Exactly one explore slot, first, on a cell without posts; every other slot goes to the far better cell.
    explore = slots[slots["basis"] == "explore: untried cell"]
    assert len(explore) == 1 and explore.index[0] == slots.index[0]
    tried = set(zip(posts["format"], posts["platform"]))
    assert _cells(explore)[0] not in tried
    assert set(_cells(slots.drop(explore.index))) == {("testimonial", "快手")}
    evidence = plan.attrs["evidence"]
    assert evidence.iloc[0][["format", "platform"]].tolist() == ["testimonial", "快手"]
    assert evidence.iloc[0]["p_best"] > 0.99 and evidence["p_best"].sum() == pytest.approx(1.0)
    assert evidence.loc[~evidence["tried"], "p_best"].eq(0).all()
    assert len(evidence) == 18  # 3 formats x 6 platforms
    # Posts after as_of never change the plan.
    late = _posts([("scenario", "微信", 9000, 900, 800)], start="2025-03-11 21:00").assign(post_id="late")
    again = content.content_plan(start, posts=pd.concat([posts, late], ignore_index=True), as_of=as_of)
    pd.testing.assert_frame_equal(plan, again)
    # A later run keeps the slots of a day already begun as decided at its start: a post on day 3 changes day 4 on.
    day3_post = _posts([("scenario", "微信", 9000, 900, 800)], start="2025-03-12 10:00").assign(post_id="d3")
    later = content.content_plan(start, posts=pd.concat([posts, day3_post], ignore_index=True),
                                 as_of=pd.Timestamp("2025-03-13 09:00", tz=TZ))
    day3 = later["day"] == 3
    assert _cells(later[day3]) == _cells(plan[day3])
    assert ("scenario", "微信") in _cells(later[later["day"] >= 5])
    # Two close cells share the slots instead of one taking all.
    close = _posts([("testimonial", "快手", 2000, 100, 40), ("unboxing", "抖音", 2000, 100, 41)], start="2025-03-10 08:00")
    shared = content.content_plan(start, posts=close, as_of=as_of)
    exploit = shared[shared["basis"].str.startswith("shrunk")]
    assert set(_cells(exploit)) == {("testimonial", "快手"), ("unboxing", "抖音")}


def test_allocate_slots_by_hand():
    evidence = pd.DataFrame({"format": ["scenario", "unboxing", "testimonial", "scenario"],
                             "platform": ["抖音", "抖音", "快手", "微信"], "tried": [True, True, True, False],
                             "p_best": [0.6, 0.3, 0.1, 0.0]})
    cells = content.allocate_slots(5, evidence)
    # 1 explore (the untried cell), then 4 shared 0.6 / 0.3 / 0.1 -> 2.4, 1.2, 0.4 -> 2, 1, 1 (largest remainders)
    assert [c["basis"].split(":")[0] for c in cells] == ["explore", "shrunk rates", "shrunk rates", "shrunk rates",
                                                         "shrunk rates"]
    assert [(c["format"], c["platform"]) for c in cells] == [
        ("scenario", "微信"), ("scenario", "抖音"), ("unboxing", "抖音"), ("testimonial", "快手"), ("scenario", "抖音")]
    assert len(content.allocate_slots(1, evidence)) == 1 and content.allocate_slots(1, evidence)[0]["p_best"] == 0.6


def test_plan_refuses_bad_settings():
    with pytest.raises(ConfigError):
        content.content_plan("2025-03-10", content.PLATFORMS, {"livestream": 2})
    with pytest.raises(ConfigError):
        content.content_plan("2025-03-10", ["抖音", "抖音"])
    with pytest.raises(ConfigError):
        content.content_plan("2025-03-10", content.PLATFORMS, phases=(("ignite", 0),))
    with pytest.raises(ConfigError):
        content.ContentSettings(videos_scenario=0, videos_unboxing=0, videos_testimonial=0)
    with pytest.raises(ConfigError):
        content.ContentSettings.from_params({"deadline_hour": 2})


# ---------------------------------------------------------------- kit
def test_kit_is_due_two_hours_after_go_with_three_covers_five_angles_and_fact_faqs():
    go = pd.Timestamp("2025-03-09 12:00", tz=TZ)
    facts = {"name": "星空咖啡杯", "design": "星空蓝", "material": "ceramic", "ships_in_days": 3}
    kit = content.level1_kit(go, facts)
    deadline = pd.Timestamp("2025-03-09 14:00", tz=TZ)
    assert content.kit_deadline(go) == deadline
    assert kit.attrs["deadline"] == deadline
    assert (kit["due"] == deadline).all()
    assert kit["kind"].value_counts().to_dict() == {"cover": 3, "angle": 5, "faq": 3}
    faq = kit[kit["kind"] == "faq"]
    assert set(faq["title"]) == {"What is it made of?", "When will it ship?", "Which designs are there?"}
    assert "ceramic" in faq.set_index("title").loc["What is it made of?", "draft"]
    # a fact not given stays visible for the writer instead of silently empty
    assert kit.loc[kit["title"] == "value", "draft"].iloc[0].endswith("[price?]")
    assert content.kit_deadline("2025-03-09 23:30", 1.5) == pd.Timestamp("2025-03-10 01:00")


def test_kit_puts_chapter_11_questions_first_and_answers_them_from_facts():
    go = pd.Timestamp("2025-03-09 12:00", tz=TZ)
    facts = {"ships_in_days": 3, "material": "ceramic"}
    questions = pd.DataFrame({"question": ["几天发货?", "Is there a blue one?"], "count": [40, 12]})
    kit = content.level1_kit(go, facts, questions)
    faq = kit[kit["kind"] == "faq"].reset_index(drop=True)
    assert faq.loc[0, "title"] == "几天发货?"
    assert faq.loc[0, "draft"] == "Orders ship within 3 days of payment."
    assert faq.loc[1, "draft"].startswith("[answer to write")
    # the shipping template is not repeated after the customer's own question covered it
    assert "When will it ship?" not in set(faq["title"])
    assert faq["source"].tolist()[:2] == ["chapter 11 top questions"] * 2


# ---------------------------------------------------------------- performance
HAND_ROWS = [
    # cell (testimonial, 抖音): 2 posts, 300 views, 12 orders
    ("testimonial", "抖音", 100, 20, 5),
    ("testimonial", "抖音", 200, 25, 7),
    # cell (scenario, 小红书): 100 views, 2 orders
    ("scenario", "小红书", 100, 10, 2),
    # cell (unboxing, 淘宝): 100 views, 6 orders
    ("unboxing", "淘宝", 100, 30, 6),
]


def test_shrunk_rates_match_hand_computed_beta_binomial_posterior():
    perf = content.performance(_posts(HAND_ROWS), "2025-03-09 12:00", prior_strength=50)
    cells = perf.set_index(["format", "platform"])
    # pooled orders per view m = 20 / 500 = 0.04; prior Beta(a = 0.04 * 50 = 2, b = 48)
    assert perf.attrs["overall_order_rate"] == pytest.approx(0.04)
    assert cells.loc[("testimonial", "抖音"), "posts"] == 2
    assert cells.loc[("testimonial", "抖音"), "order_rate"] == pytest.approx((2 + 12) / (50 + 300))  # 0.04
    assert cells.loc[("scenario", "小红书"), "order_rate"] == pytest.approx((2 + 2) / (50 + 100))  # 0.0267
    assert cells.loc[("unboxing", "淘宝"), "order_rate"] == pytest.approx((2 + 6) / (50 + 100))  # 0.0533
    assert cells.loc[("unboxing", "淘宝"), "order_rate_raw"] == pytest.approx(0.06)
    # the interval is the posterior Beta(2 + 6, 48 + 94)
    assert cells.loc[("unboxing", "淘宝"), "order_low"] == pytest.approx(st.beta.ppf(0.025, 8, 142))
    assert cells.loc[("unboxing", "淘宝"), "order_high"] == pytest.approx(st.beta.ppf(0.975, 8, 142))
    # clicks: m = 85 / 500 = 0.17, prior Beta(8.5, 41.5); scenario cell (10 of 100) -> 18.5 / 150
    assert cells.loc[("scenario", "小红书"), "click_rate"] == pytest.approx(18.5 / 150)
    # shrinkage pulls every cell toward the pooled rate, never past it
    raw, shrunk = perf["order_rate_raw"], perf["order_rate"]
    assert ((shrunk - 0.04).abs() <= (raw - 0.04).abs() + 1e-12).all()


def test_make_more_needs_enough_views_and_ranks_by_shrunk_rate():
    rows = HAND_ROWS + [("scenario", "快手", 40, 10, 4)]  # 10% raw but only 40 views
    perf = content.performance(_posts(rows), "2025-03-09 12:00", prior_strength=50)
    more = content.make_more(perf, min_views=100, top=2)
    assert more[["format", "platform"]].values.tolist() == [["unboxing", "淘宝"], ["testimonial", "抖音"]]
    assert more["rank"].tolist() == [1, 2]
    assert (more["evidence"] == "best so far, not yet credibly above").all()
    assert content.make_more(perf, min_views=10_000).empty


def test_make_more_says_credibly_above_when_the_interval_clears_the_overall_rate():
    rows = [("testimonial", "抖音", 5000, 600, 300), ("scenario", "小红书", 5000, 300, 50),
            ("unboxing", "淘宝", 5000, 300, 50)]
    perf = content.performance(_posts(rows), "2025-03-09 12:00")
    more = content.make_more(perf, min_views=500, top=1)
    assert more.loc[0, "platform"] == "抖音"
    assert more.loc[0, "evidence"] == "credibly above the overall rate"
    assert more.loc[0, "lift"] > 1.5


def test_rows_after_as_of_are_ignored():
    as_of = "2025-03-08 14:00"
    base = _posts(HAND_ROWS)  # stamped 10:00 .. 13:00, all <= as_of
    future = _posts([("scenario", "小红书", 9000, 900, 400), ("unboxing", "快手", 800, 80, 1)],
                    start="2025-03-08 15:00")
    future["post_id"] = ["f1", "f2"]
    both = pd.concat([base, future], ignore_index=True)
    for strength in (None, 50):
        a = content.performance(base, as_of, prior_strength=strength)
        b = content.performance(both, as_of, prior_strength=strength)
        pd.testing.assert_frame_equal(a, b)
        assert a.attrs == b.attrs
        pd.testing.assert_frame_equal(content.make_more(a, 100), content.make_more(b, 100))
    # a post stamped exactly at as_of is complete and used
    assert content.performance(base, "2025-03-08 13:00")["posts"].sum() == 4
    assert content.performance(base, "2025-03-08 12:59")["posts"].sum() == 3


def test_no_posts_yet_gives_empty_tables_and_the_call_still_follows_chapter_02():
    empty = _posts(HAND_ROWS, start="2025-03-20 10:00")
    perf = content.performance(empty, "2025-03-09 12:00")
    assert perf.empty and np.isnan(perf.attrs["overall_order_rate"])
    more = content.make_more(perf)
    assert more.empty
    kit = content.level1_kit("2025-03-09 12:00", {"design": "星空蓝"})
    plan = content.content_plan("2025-03-10")
    assert content.review("go", kit, plan, perf, more)[0] == "produce"
    assert content.review("no-go", kit, plan, perf, more)[0] == "hold"
    assert content.review(None, kit, plan, perf, more)[0] == "hold"
    assert content.headline("hold", kit, plan, more) == "HOLD: no go from chapter 02; kit and 12-video plan kept as drafts."
    assert content.headline("produce", kit, plan, more) == (
        "PRODUCE: kit due 03-09 14:00; 12 case videos on days 1-2, 10 slots after; handbook plan, no posts yet.")


# ---------------------------------------------------------------- on the spike state: the kit once, the plan by days since the go
GO = pd.Timestamp("2025-03-08 13:00", tz=TZ)


def test_kit_is_due_two_hours_after_the_go_on_every_run_and_done_once_approved():
    due = pd.Timestamp("2025-03-08 15:00", tz=TZ)
    first = content.kit_status(GO, pd.Timestamp("2025-03-08 14:00", tz=TZ))
    later = content.kit_status(GO, pd.Timestamp("2025-03-09 12:00", tz=TZ))
    assert (first["status"], first["due"]) == ("due", due)
    assert (later["status"], later["due"]) == ("overdue", due)  # the deadline does not move with the run
    approved = [{"kind": "budget_move", "approved_at": "2025-03-08T14:00:00+08:00", "by": "ops"},
                {"kind": "content_kit", "approved_at": "2025-03-08T14:30:00+08:00", "by": "ops lead"}]
    done = content.kit_status(GO, pd.Timestamp("2025-03-09 12:00", tz=TZ), approvals=approved)
    assert done["status"] == "done" and done["approved_at"] == pd.Timestamp("2025-03-08 14:30", tz=TZ)
    assert done["text"] == "level-1 kit already approved 2025-03-08 14:30 by ops lead: no new kit"
    # Never approved and the 7-day plan over (go 03-08, day 7 = 03-15): no longer asked for.
    assert content.kit_status(GO, pd.Timestamp("2025-03-15 20:00", tz=TZ))["status"] == "overdue"
    assert content.kit_status(GO, pd.Timestamp("2025-03-16 09:00", tz=TZ))["status"] == "lapsed"
    assert content.kit_status(None, pd.Timestamp("2025-03-09 12:00", tz=TZ))["status"] == "no go"


def test_plan_position_follows_the_days_since_the_go():
    plan = content.content_plan("2025-03-09")  # day 1 = the first day after the 03-08 go; 6,6,2,2,2,2,2 pieces
    on_go_day, at_go = content.plan_position(plan, pd.Timestamp("2025-03-08 20:00", tz=TZ))
    assert (at_go["day"], at_go["phase"]) == (0, "before day 1") and set(on_go_day["status"]) == {"tomorrow", "later"}
    table, pos = content.plan_position(plan, pd.Timestamp("2025-03-12 12:00", tz=TZ))
    assert (pos["day"], pos["phase"]) == (4, "deepen")
    assert (pos["videos_done"], pos["videos_today"], pos["videos_tomorrow"]) == (14, 2, 2)
    assert table.loc[table["day"] == 4, "status"].eq("today").all()
    assert content.plan_position(plan, pd.Timestamp("2025-03-14 09:00", tz=TZ))[1]["phase"] == "long tail"
    _, after = content.plan_position(plan, pd.Timestamp("2025-03-20 12:00", tz=TZ))
    assert (after["day"], after["phase"], after["videos_done"]) == (12, "complete", 22)
    perf = content.performance(_posts(HAND_ROWS, start="2025-03-20 10:00"), "2025-03-09 12:00")
    more = content.make_more(perf)
    assert content.review("go", None, table, perf, more, position=after)[0] == "done"
    assert content.review("go", None, table, perf, more, position=pos, spike_phase="exited")[0] == "done"
    assert content.review("go", None, table, perf, more, position=pos, spike_phase="no-go")[0] == "hold"
    decision, reasons = content.review("go", None, table, perf, more, position=pos, spike_phase="rising")
    assert decision == "produce" and "today is day 4 of 7: **deepen** (14 pieces done, 2 today, 2 tomorrow)" in reasons
    kit_done = {"status": "done", "text": "kit done"}
    assert content.headline("produce", None, table, more, kit_state=kit_done, position=pos) == \
        "PRODUCE: kit done; day 4 of 7 (deepen); handbook plan, no posts yet."


# ---------------------------------------------------------------- contract
def test_posts_contract_loads_and_names_the_row_where_orders_exceed_clicks(tmp_path):
    good = ("post_id,timestamp,platform,format,views,clicks,orders\n"
            "p2,2025-03-09 11:00:00,小红书,scenario,3100,150,9\n"
            "p1,2025-03-09 10:00:00,抖音,testimonial,5200,310,24\n")
    (tmp_path / "posts.csv").write_text(good, encoding="utf-8")
    posts = load_posts("posts.csv", data_root=tmp_path)
    assert posts["post_id"].tolist() == ["p1", "p2"]
    assert str(posts["timestamp"].dt.tz) == TZ
    bad = good + "p3,2025-03-09 12:00:00,淘宝,unboxing,800,20,21\n"
    (tmp_path / "bad.csv").write_text(bad, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_posts("bad.csv", data_root=tmp_path)
    assert err.value.column == "orders" and err.value.rows == [4]
    (tmp_path / "fmt.csv").write_text(good.replace("scenario", "livestream"), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_posts("fmt.csv", data_root=tmp_path)
    assert err.value.column == "format"


# ---------------------------------------------------------------- sample scenario (truth known by construction)
def test_starry_mug_sample_finds_the_true_best_cell_and_does_not_chase_the_lucky_one():
    import json
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "data" / "samples" / "starry-mug"
    if not (folder / "posts.csv").exists():
        pytest.skip("sample posts not generated")
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8")).get("expected", {}).get("content")
    if truth is None:
        pytest.skip("the sample truth has no content section")
    posts = load_posts("posts.csv", data_root=folder)
    perf = content.performance(posts, "2025-03-16 12:00")
    more = content.make_more(perf, min_views=500, top=3)
    best = truth["best_cell"]
    assert (more.loc[0, "format"], more.loc[0, "platform"]) == (best["format"], best["platform"])
    lucky = truth["lucky_cell"]
    cell = perf[(perf["format"] == lucky["format"]) & (perf["platform"] == lucky["platform"])].iloc[0]
    assert cell["order_rate"] < cell["order_rate_raw"]  # pulled down toward the overall rate
    assert not ((more["format"] == lucky["format"]) & (more["platform"] == lucky["platform"])).any()


def test_sales_that_took_off_start_the_content_line_without_a_go_from_chapter_02():
    """Chapter 02 still says extend, but the spike state sees sales taken off (phase rising): chapters 03 and 04
    order on that state, so the content line produces too, from the takeoff day; before takeoff it holds."""
    assert content.go_moment("go", "2025-03-08 15:00", "rising", "2025-03-05") == (
        pd.Timestamp("2025-03-08 15:00"), "chapter 02")
    # the takeoff's second day above the bar is in at the next stamp
    assert content.go_moment("extend", None, "rising", "2025-03-05") == (pd.Timestamp("2025-03-06"), "sales took off")
    assert content.go_moment("extend", None, "launching", None) == (None, None)
    assert content.go_moment("extend", None, "validating", "2025-03-05") == (None, None)
    assert content.go_moment("no-go", None, "no-go", None) == (None, None)
    perf = content.performance(_posts(HAND_ROWS, start="2025-03-20 10:00"), "2025-03-09 12:00")
    more = content.make_more(perf)
    plan = content.content_plan("2025-03-06")
    decision, reasons = content.review("extend", None, plan, perf, more, spike_phase="rising",
                                       go_source="sales took off")
    assert decision == "produce" and "sales taken off (phase rising)" in reasons[0]
    assert content.review("extend", None, plan, perf, more, spike_phase="launching")[0] == "hold"
    assert content.review("no-go", None, plan, perf, more, spike_phase="no-go", go_source="sales took off")[0] == "hold"
