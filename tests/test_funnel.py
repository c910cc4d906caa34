"""Chapter 07 (小时级数据看板): heatmap, funnel, budget moves and audience shift on cases worked out by hand."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from spikekit.inputs import contracts as sc
from spikekit.chapters import data_room as fn
from spikekit.core import stats
from spikekit.core.errors import ConfigError, InputError

TZ = "Asia/Shanghai"
AS_OF = pd.Timestamp("2025-03-09 12:00", tz=TZ)
PLATFORMS = ["小红书", "抖音", "淘宝", "拼多多", "微信", "快手"]
SEGMENTS = ["女 18-24", "女 25-35", "女 36+", "男 18-24", "男 25-35", "男 36+"]
NO_ADJUST = fn.DataRoomSettings(adjust="none")


def spread(total: int, parts: int) -> np.ndarray:
    """``total`` split over ``parts`` whole numbers, the remainder on the first ones (keeps views >= carts >= orders)."""
    q, r = divmod(int(total), parts)
    return np.array([q + (i < r) for i in range(parts)], dtype=np.int64)


def funnel_frame(totals: dict, hours: int = 24, end=AS_OF) -> pd.DataFrame:
    """Hourly funnel rows ending at ``end`` whose per-platform sums are ``totals[p] = (views, carts, orders)``."""
    stamps = pd.date_range(end=end, periods=hours, freq="h")
    parts = []
    for platform, (views, carts, orders) in totals.items():
        parts.append(pd.DataFrame({"timestamp": stamps, "platform": platform, "views": spread(views, hours),
                                   "add_to_cart": spread(carts, hours), "orders": spread(orders, hours)}))
    return pd.concat(parts, ignore_index=True)


def budget_frame(amounts: dict) -> pd.DataFrame:
    return pd.DataFrame({"platform": list(amounts), "daily_budget": [float(v) for v in amounts.values()]})


def handbook_totals(views: int) -> dict:
    """The handbook case: 拼多多 converts 1.2%, 小红书 4.1%, the other four 3% (add-to-cart 12% everywhere)."""
    rate = {"拼多多": 0.012, "小红书": 0.041}
    return {p: (views, round(views * 0.12), round(views * rate.get(p, 0.03))) for p in PLATFORMS}


BUDGET = budget_frame({"小红书": 500, "抖音": 400, "淘宝": 400, "拼多多": 1000, "微信": 400, "快手": 400})


def audience_frame(counts_by_window: list[dict], end=AS_OF, platforms=("小红书", "抖音")) -> pd.DataFrame:
    """12-hour windows ending at ``end`` (last dict = latest window); each segment's visitors split over platforms."""
    ends = pd.date_range(end=end, periods=len(counts_by_window), freq="12h")
    rows = []
    for stamp, counts in zip(ends, counts_by_window):
        for segment, total in counts.items():
            for platform, part in zip(platforms, spread(total, len(platforms))):
                rows.append((stamp, platform, segment, int(part)))
    return pd.DataFrame(rows, columns=["timestamp", "platform", "segment", "visitors"])


def mix(target_share: float, total: int = 200, target: str = "女 25-35") -> dict:
    """``total`` visitors with ``target`` holding ``target_share``, the rest spread evenly over the others."""
    hit = round(total * target_share)
    others = [s for s in SEGMENTS if s != target]
    return {target: hit, **dict(zip(others, spread(total - hit, len(others)).tolist()))}


def traffic_frame(hours: int = 72, end=AS_OF, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    stamps = pd.date_range(end=end, periods=hours, freq="h")
    sources = ["推荐", "搜索", "直播", "广告"]
    index = pd.MultiIndex.from_product([stamps, PLATFORMS[:3], sources], names=["timestamp", "platform", "source"])
    return index.to_frame(index=False).assign(visitors=rng.integers(0, 100, len(index)))


# ----------------------------------------------------------------------------------------------------------
# Heatmap
# ----------------------------------------------------------------------------------------------------------
def test_heatmap_sums_equal_the_input_in_the_window():
    traffic = traffic_frame(hours=72)
    heat = fn.heatmap_table(traffic, AS_OF, hours=48)
    used = traffic[(traffic["timestamp"] > AS_OF - pd.Timedelta(hours=48)) & (traffic["timestamp"] <= AS_OF)]
    assert heat.to_numpy().sum() == used["visitors"].sum() == heat.attrs["total"]
    assert heat.sum(axis=1).to_dict() == used.groupby("source")["visitors"].sum().to_dict()
    assert list(heat.columns) == list(range(24))
    # 48 hours = two of each hour of day; each cell sums both days over the three platforms.
    nine = used[used["timestamp"].dt.hour == 10]  # stamped 10:00 = visits 09:00-10:00
    assert heat[9].sum() == nine["visitors"].sum()


def test_heatmap_puts_an_hour_in_the_hour_it_started():
    stamps = pd.to_datetime(["2025-03-09 10:00", "2025-03-09 00:00", "2025-03-09 01:00"]).tz_localize(TZ)
    traffic = pd.DataFrame({"timestamp": stamps, "platform": "抖音", "source": ["直播", "直播", "搜索"],
                            "visitors": [7, 5, 3]})
    heat = fn.heatmap_table(traffic, AS_OF, hours=48)
    assert heat.loc["直播", 9] == 7 and heat.loc["直播", 23] == 5 and heat.loc["搜索", 0] == 3
    assert list(heat.index) == ["直播", "搜索"]  # busiest source first
    assert fn.peak_hours(heat, 2) == [9, 23]


def test_heatmap_timeline_and_platform_filter():
    traffic = traffic_frame(hours=30)
    heat = fn.heatmap_table(traffic, AS_OF, hours=12, layout="timeline", platform="抖音")
    assert heat.shape[1] == 12 and heat.columns[-1] == AS_OF
    used = traffic[(traffic["timestamp"] > AS_OF - pd.Timedelta(hours=12)) & (traffic["platform"] == "抖音")]
    assert heat.to_numpy().sum() == used["visitors"].sum()
    assert heat.loc["直播", AS_OF] == used[(used["timestamp"] == AS_OF) & (used["source"] == "直播")]["visitors"].sum()


# ----------------------------------------------------------------------------------------------------------
# Funnel
# ----------------------------------------------------------------------------------------------------------
def test_funnel_sums_steps_and_drop_offs():
    frame = funnel_frame({"抖音": (1000, 120, 30), "淘宝": (500, 100, 40)})
    table = fn.funnel_table(frame, AS_OF, 24).set_index("platform")
    row = table.loc["淘宝"]
    assert (row["views"], row["add_to_cart"], row["orders"], row["hours"]) == (500, 100, 40, 24)
    assert row["cart_rate"] == pytest.approx(0.2) and row["pay_rate"] == pytest.approx(0.4)
    assert row["conversion"] == pytest.approx(0.08)
    assert row["drop_view_to_cart"] == pytest.approx(0.8) and row["drop_cart_to_pay"] == pytest.approx(0.6)
    assert (row["lost_view_to_cart"], row["lost_cart_to_pay"]) == (400, 60)
    # Consistency: every step at most the one before, and the rates multiply through the funnel.
    assert (table["views"] >= table["add_to_cart"]).all() and (table["add_to_cart"] >= table["orders"]).all()
    assert np.allclose(table["cart_rate"] * table["pay_rate"], table["conversion"])


def test_funnel_intervals_equal_the_stats_module():
    frame = funnel_frame({"抖音": (1000, 120, 30), "淘宝": (37, 5, 0), "快手": (12, 12, 12)})
    for method, reference in (("wilson", stats.wilson), ("jeffreys", stats.jeffreys)):
        table = fn.funnel_table(frame, AS_OF, 24, conf=0.9, interval=method)
        for row in table.itertuples():
            for rate, k, n in (("cart_rate", row.add_to_cart, row.views), ("pay_rate", row.orders, row.add_to_cart),
                               ("conversion", row.orders, row.views)):
                want = reference(k, n, 0.9)
                assert getattr(row, f"{rate}_low") == pytest.approx(want.low, abs=1e-12), (method, rate, row.platform)
                assert getattr(row, f"{rate}_high") == pytest.approx(want.high, abs=1e-12), (method, rate, row.platform)


def test_funnel_refuses_a_broken_in_memory_frame_and_names_the_row():
    frame = funnel_frame({"抖音": (100, 10, 5)}, hours=3)
    frame.loc[1, "orders"] = 50
    with pytest.raises(InputError) as info:
        fn.funnel_table(frame, AS_OF, 24)
    assert info.value.rows == [3]


# ----------------------------------------------------------------------------------------------------------
# Two-proportion test and Holm
# ----------------------------------------------------------------------------------------------------------
def test_two_proportion_z_matches_the_textbook_formula():
    # 120 / 10000 against 1200 / 40000: pooled 1320 / 50000.
    p0 = 1320 / 50000
    z = (0.012 - 0.03) / math.sqrt(p0 * (1 - p0) * (1 / 10000 + 1 / 40000))
    p, method = fn.two_proportion_test(120, 10000, 1200, 40000, "less")
    assert method[0] == "z" and p[0] == pytest.approx(st.norm.cdf(z), rel=1e-12)
    p2, _ = fn.two_proportion_test(120, 10000, 1200, 40000, "two-sided")
    assert p2[0] == pytest.approx(2 * st.norm.cdf(z), rel=1e-12)


def test_two_proportion_uses_fisher_for_small_counts():
    p, method = fn.two_proportion_test(1, 20, 6, 25, "less")
    assert method[0] == "fisher"
    assert p[0] == pytest.approx(st.fisher_exact([[1, 19], [6, 19]], alternative="less").pvalue)


def test_holm_known_answer():
    assert fn.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = fn.holm([0.2, np.nan, 0.01])
    assert adjusted[0] == pytest.approx(0.2) and np.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.02)


# ----------------------------------------------------------------------------------------------------------
# Budget moves
# ----------------------------------------------------------------------------------------------------------
def test_handbook_case_moves_30_percent_from_the_poor_to_the_strong_platform():
    table = fn.funnel_table(funnel_frame(handbook_totals(10_000)), AS_OF, 24)
    plan = fn.budget_moves(table, BUDGET)
    status = plan.platforms.set_index("platform")["status"].to_dict()
    assert status["拼多多"] == "poor" and status["小红书"] == "strong"
    assert {status[p] for p in ("抖音", "淘宝", "微信", "快手")} == {"even"}
    # The average it is compared with is the four ordinary platforms: exactly 3%.
    assert plan.average == pytest.approx(0.03)
    assert len(plan.moves) == 1
    move = plan.moves.iloc[0]
    assert (move["from_platform"], move["to_platform"], move["amount"]) == ("拼多多", "小红书", 300.0)
    after = plan.platforms.set_index("platform")["budget_after"]
    assert after["拼多多"] == pytest.approx(700) and after["小红书"] == pytest.approx(800)
    assert after.sum() == pytest.approx(BUDGET["daily_budget"].sum())  # money conserved
    assert "1.20%" in move["evidence"] and "4.10%" in move["evidence"]


def test_poor_platform_p_value_is_against_the_even_platforms():
    table = fn.funnel_table(funnel_frame(handbook_totals(10_000)), AS_OF, 24)
    plan = fn.budget_moves(table, BUDGET, NO_ADJUST)
    row = plan.platforms.set_index("platform").loc["拼多多"]
    assert row["others_rate"] == pytest.approx(0.03)
    p0 = 1320 / 50000
    z = (0.012 - 0.03) / math.sqrt(p0 * (1 - p0) * (1 / 10000 + 1 / 40000))
    assert row["p_below"] == pytest.approx(st.norm.cdf(z), rel=1e-9)


def test_same_rates_with_tiny_counts_move_nothing():
    totals = {p: (100, 12, 3) for p in PLATFORMS}
    totals["拼多多"], totals["小红书"] = (100, 12, 1), (100, 12, 4)
    plan = fn.budget_moves(fn.funnel_table(funnel_frame(totals), AS_OF, 24), BUDGET)
    assert plan.moves.empty and set(plan.platforms["status"]) == {"even"}
    assert (plan.platforms["budget_after"] == plan.platforms["budget_before"]).all()
    assert "fisher" in set(plan.platforms["test"])


def test_two_strong_platforms_share_pro_rata_to_conversion():
    totals = {p: (20_000, 2400, 600) for p in ("抖音", "淘宝", "快手")}  # 3%
    totals.update({"拼多多": (20_000, 2400, 240), "小红书": (20_000, 2400, 800), "微信": (20_000, 2400, 1200)})
    plan = fn.budget_moves(fn.funnel_table(funnel_frame(totals), AS_OF, 24), BUDGET)
    moves = plan.moves.set_index("to_platform")["amount"]
    # 300 yuan split 4% : 6% -> 120 and 180.
    assert moves.to_dict() == pytest.approx({"小红书": 120.0, "微信": 180.0})
    assert plan.platforms["budget_after"].sum() == pytest.approx(BUDGET["daily_budget"].sum())


def test_poor_without_strong_and_missing_budgets():
    totals = {p: (20_000, 2400, 600) for p in ("抖音", "淘宝", "快手", "小红书")}
    totals["拼多多"] = (20_000, 2400, 240)
    budget = budget_frame({"拼多多": 1000, "抖音": 300, "B站": 50})
    plan = fn.budget_moves(fn.funnel_table(funnel_frame(totals), AS_OF, 24), budget)
    assert plan.moves.empty
    rows = plan.platforms.set_index("platform")
    assert rows.loc["拼多多", "status"] == "poor" and rows.loc["B站", "status"] == "no data"
    assert rows.loc["淘宝", "budget_before"] == 0 and rows["budget_after"].sum() == pytest.approx(1350)
    assert any("nowhere better" in r for r in plan.reasons)


def test_margin_stops_a_real_but_small_gap():
    totals = {p: (200_000, 24_000, 6000) for p in PLATFORMS}
    totals["拼多多"] = (200_000, 24_000, 5400)  # 2.7% against 3%: 10% below, very credible
    table = fn.funnel_table(funnel_frame(totals), AS_OF, 24)
    assert fn.budget_moves(table, BUDGET).platforms.set_index("platform").loc["拼多多", "status"] == "poor"
    wide = fn.DataRoomSettings(margin=0.2)
    assert fn.budget_moves(table, BUDGET, wide).platforms.set_index("platform").loc["拼多多", "status"] == "even"


# ----------------------------------------------------------------------------------------------------------
# Audience shift
# ----------------------------------------------------------------------------------------------------------
def test_audience_shift_40_to_65_percent_is_flagged():
    audience = audience_frame([mix(0.40), mix(0.40), mix(0.65)])
    shift = fn.audience_shift(audience, AS_OF)
    assert shift.flagged and shift.call == "change the creative"
    assert shift.segment == "女 25-35"
    assert (shift.share_before, shift.share_now) == (pytest.approx(0.40), pytest.approx(0.65))
    assert "女 25-35 40% -> 65%" in shift.message
    assert list(shift.baseline_windows) == [AS_OF - pd.Timedelta(hours=12)]
    # Known answer (no adjustment): two-sided pooled z-test of 130/200 against 80/200.
    raw = fn.audience_shift(audience, AS_OF, settings=NO_ADJUST).comparison
    raw = raw[raw["platform"] == "(all)"].set_index("segment")
    pooled = 210 / 400
    z = 0.25 / math.sqrt(pooled * (1 - pooled) * (2 / 200))
    assert raw.loc["女 25-35", "p_value"] == pytest.approx(2 * st.norm.sf(z), rel=1e-9)


def test_a_shift_on_one_platform_is_found_though_the_pool_hides_it():
    quiet = audience_frame([mix(0.40, total=2000)] * 2, platforms=("抖音",))
    loud = audience_frame([mix(0.40), mix(0.65)], platforms=("小红书",))
    shift = fn.audience_shift(pd.concat([quiet, loud], ignore_index=True), AS_OF)
    pooled = shift.comparison.set_index(["platform", "segment"]).loc[("(all)", "女 25-35")]
    assert pooled["change"] == pytest.approx(50 / 2200) and not pooled["flagged"]
    assert shift.flagged and (shift.platform, shift.segment) == ("小红书", "女 25-35")
    assert shift.message.startswith("小红书: 女 25-35 40% -> 65%")
    only = fn.audience_shift(pd.concat([quiet, loud], ignore_index=True), AS_OF, platform="抖音")
    assert not only.flagged


def test_audience_40_to_45_percent_is_not_a_shift():
    shift = fn.audience_shift(audience_frame([mix(0.40), mix(0.45)]), AS_OF)
    assert not shift.flagged and shift.call == "keep"


def test_big_share_move_on_tiny_counts_is_not_a_shift():
    shift = fn.audience_shift(audience_frame([mix(0.40, total=10), mix(0.70, total=10)]), AS_OF)
    assert not shift.flagged


def test_audience_baseline_first_window_and_watched_segment():
    windows = [mix(0.40), mix(0.55), mix(0.62), mix(0.65)]
    audience = audience_frame(windows)
    # Against the window before (62% -> 65%) nothing moved; against the spike's first window it did.
    assert not fn.audience_shift(audience, AS_OF).flagged
    first = fn.audience_shift(audience, AS_OF, settings=fn.DataRoomSettings(audience_baseline="first"))
    assert first.flagged and first.share_before == pytest.approx(0.40)
    # Watching only a segment that did not move: no call.
    watched = fn.audience_shift(audience, AS_OF, "男 36+", fn.DataRoomSettings(audience_baseline="first"))
    assert not watched.flagged and watched.segment == "男 36+"
    with pytest.raises(ConfigError):
        fn.audience_shift(audience, AS_OF, "外星人")


def test_audience_with_one_window_has_nothing_to_compare():
    shift = fn.audience_shift(audience_frame([mix(0.65)]), AS_OF)
    assert not shift.flagged and shift.call == "keep" and "nothing to compare" in shift.message


def test_audience_shares_per_window_sum_to_one():
    shift = fn.audience_shift(audience_frame([mix(0.40), mix(0.50), mix(0.65)]), AS_OF)
    sums = shift.shares.groupby(["platform", "window"])["share"].sum()
    assert len(sums) == 3 * 3 and np.allclose(sums, 1.0)  # pooled and two platforms, three windows


# ----------------------------------------------------------------------------------------------------------
# Time discipline
# ----------------------------------------------------------------------------------------------------------
def test_rows_after_as_of_are_ignored():
    traffic = traffic_frame(hours=60)
    funnel = funnel_frame(handbook_totals(10_000))
    audience = audience_frame([mix(0.40), mix(0.40), mix(0.65)])
    later = AS_OF + pd.Timedelta(hours=1)
    future_traffic = traffic_frame(hours=24, end=AS_OF + pd.Timedelta(hours=24)).assign(visitors=10_000)
    future_traffic = future_traffic[future_traffic["timestamp"] > AS_OF]
    future_funnel = funnel_frame({p: (10_000, 10_000, 10_000 if p == "拼多多" else 0) for p in PLATFORMS}, 5,
                                 end=later + pd.Timedelta(hours=4))
    future_audience = audience_frame([mix(0.0, total=5000)], end=AS_OF + pd.Timedelta(hours=12))

    def run(t, f, a):
        plan = fn.budget_moves(fn.funnel_table(f, AS_OF, 24), BUDGET)
        shift = fn.audience_shift(a, AS_OF)
        return fn.heatmap_table(t, AS_OF, 48), fn.funnel_table(f, AS_OF, 24), plan, shift

    base = run(traffic, funnel, audience)
    more = run(pd.concat([traffic, future_traffic], ignore_index=True),
               pd.concat([funnel, future_funnel], ignore_index=True),
               pd.concat([audience, future_audience], ignore_index=True))
    pd.testing.assert_frame_equal(base[0], more[0])
    pd.testing.assert_frame_equal(base[1], more[1])
    pd.testing.assert_frame_equal(base[2].platforms, more[2].platforms)
    pd.testing.assert_frame_equal(base[2].moves, more[2].moves)
    pd.testing.assert_frame_equal(base[3].comparison, more[3].comparison)
    assert base[3].to_dict() == more[3].to_dict()


def test_naive_as_of_is_local_time():
    frame = funnel_frame(handbook_totals(1000))
    pd.testing.assert_frame_equal(fn.funnel_table(frame, "2025-03-09 12:00", 24), fn.funnel_table(frame, AS_OF, 24))


# ----------------------------------------------------------------------------------------------------------
# Settings, contracts, review, figures
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [{"move_share": 1.5}, {"alpha": 0}, {"audience_windows": 1}, {"interval": "wald"},
                                 {"audience_baseline": "last"}, {"adjust": "bonferroni"}, {"window_hours": 0}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ConfigError):
        fn.DataRoomSettings(**bad)


def test_unknown_parameter_is_refused():
    with pytest.raises(ConfigError, match="movee_share"):
        fn.DataRoomSettings.from_mapping({"movee_share": 0.3})


def test_load_funnel_names_the_broken_row(tmp_path):
    path = tmp_path / "funnel.csv"
    path.write_text("timestamp,platform,views,add_to_cart,orders\n"
                    "2025-03-09 11:00:00,抖音,100,10,3\n"
                    "2025-03-09 10:00:00,抖音,100,10,30\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        sc.load_funnel(path, data_root=tmp_path)
    assert info.value.column == "orders" and info.value.rows == [3]


def test_load_contracts_round_trip_and_grid_rules(tmp_path):
    (tmp_path / "audience.csv").write_text("timestamp,platform,segment,visitors\n"
                                           "2025-03-09 12:00:00,抖音,女 25-35,5\n", encoding="utf-8")
    (tmp_path / "budget.csv").write_text("platform,daily_budget\n抖音,800\n拼多多,1200\n", encoding="utf-8")
    (tmp_path / "traffic.csv").write_text("timestamp,platform,source,visitors\n"
                                          "2025-03-09 10:30:00,抖音,直播,5\n", encoding="utf-8")
    audience = sc.load_audience(tmp_path / "audience.csv", data_root=tmp_path)
    assert audience["timestamp"].iloc[0] == AS_OF
    assert sc.load_budget(tmp_path / "budget.csv", data_root=tmp_path)["daily_budget"].sum() == 2000
    with pytest.raises(InputError) as info:
        sc.load_traffic(tmp_path / "traffic.csv", data_root=tmp_path)
    assert info.value.rows == [2] and info.value.column == "timestamp"
    (tmp_path / "audience.csv").write_text("timestamp,platform,segment,visitors\n"
                                           "2025-03-09 06:00:00,抖音,女 25-35,5\n", encoding="utf-8")
    with pytest.raises(InputError):
        sc.load_audience(tmp_path / "audience.csv", data_root=tmp_path)
    for name in ("traffic", "funnel", "audience", "budget"):
        assert name in sc.CONTRACTS


def test_review_and_headline():
    plan = fn.budget_moves(fn.funnel_table(funnel_frame(handbook_totals(10_000)), AS_OF, 24), BUDGET)
    shift = fn.audience_shift(audience_frame([mix(0.40), mix(0.65)]), AS_OF)
    verdict, reasons = fn.review(plan, shift)
    assert verdict == "MOVE BUDGET + CHANGE CREATIVE" and any("女 25-35" in r for r in reasons)
    line = fn.headline(plan, shift)
    assert "¥300/day from 拼多多 to 小红书" in line and "change the creative" in line


def test_figures_have_titles_units_and_render_chinese():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import spikekit as sk
    from spikekit.core.plots import missing_glyphs

    sk.use_theme()
    table = fn.funnel_table(funnel_frame(handbook_totals(10_000)), AS_OF, 24)
    figures = [fn.plot_heatmap(fn.heatmap_table(traffic_frame(), AS_OF, 48)),
               fn.plot_funnel(table, fn.budget_moves(table, BUDGET)),
               fn.plot_audience(fn.audience_shift(audience_frame([mix(0.4), mix(0.65)]), AS_OF))]
    for fig in figures:
        assert missing_glyphs(fig) == []
        assert any(ax.get_title() for ax in fig.axes) and any(ax.get_xlabel() for ax in fig.axes)
        plt.close(fig)


def test_live_view_is_optional_and_off_in_tests():
    assert fn.live_frontend() is False
    pytest.importorskip("ipywidgets")
    import matplotlib

    matplotlib.use("Agg")
    view = fn.live_view(traffic_frame(hours=30), funnel_frame(handbook_totals(1000)),
                        audience_frame([mix(0.4), mix(0.65)]), AS_OF)
    assert type(view).__name__ == "VBox"


def test_explore_table_follows_platform_window_and_metric_with_a_pooled_row_for_people():
    rows = funnel_frame({"拼多多": (10_000, 1_200, 120), "抖音": (2_000, 240, 82)})
    every = fn.explore_table(rows, AS_OF, 24, "conversion")
    assert list(every["platform"]) == ["抖音", "拼多多", "all platforms"]
    assert list(every["views"]) == ["2,000", "10,000", "12,000"]
    assert list(every["conversion (view -> pay)"]) == ["4.10%", "1.20%", "1.68%"]  # 82/2000, 120/10000, 202/12000
    assert "95% interval" in every.columns
    one = fn.explore_table(rows, AS_OF, 6, "orders", platform="抖音")
    assert list(one["platform"]) == ["抖音", "this platform"]
    assert "95% interval" not in one.columns  # a count has no interval
    assert int(one["orders"].iloc[0].replace(",", "")) < 82  # 6 of the 24 hours
    with pytest.raises(fn.ConfigError, match="metric='margin' must be one of conversion"):
        fn.explore_table(rows, AS_OF, 24, "margin")
