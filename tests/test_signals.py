"""Known-answer tests for the early-warning detector (spikekit.chapters.early_warning).

Every expected number is derived by hand in the test from the method's definition (see the module
docstring): winsorized weekly level, growth = this / last - 1, z = (log ratio - log(1 + band_low)) / sd.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from spikekit.core.errors import ConfigError
from spikekit.chapters import early_warning as sg

TZ = "Asia/Shanghai"
START = pd.Timestamp("2025-01-01", tz=TZ)
LN25 = math.log(2.5)


def daily_frame(series: dict, start=START, metric="interactions") -> pd.DataFrame:
    """Long signals frame from {(keyword, platform): daily values}, one row per local midnight."""
    parts = []
    for (keyword, platform), values in series.items():
        values = np.asarray(values, dtype=float)
        parts.append(
            pd.DataFrame(
                {
                    "keyword": keyword,
                    "platform": platform,
                    "metric": metric,
                    "timestamp": pd.date_range(start, periods=len(values), freq="D"),
                    "value": values,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def day(i: int) -> pd.Timestamp:
    return START + pd.Timedelta(days=i)


def settings(**kw) -> sg.DetectorSettings:
    return sg.DetectorSettings(**kw)


# ----------------------------------------------------------------------------------------------------------
# Levels and growth


def test_growth_of_flat_weeks_is_exact():
    frame = daily_frame({("杯子", "xiaohongshu"): [10] * 7 + [30] * 7})
    ev = sg.evaluate(frame, day(13), settings())
    row = ev.iloc[-1]
    assert row["eval_end"] == day(13)
    assert row["this_week"] == 30 and row["last_week"] == 10
    assert row["growth"] == 2.0
    # Only two weeks of data: no past ratios, so default_log_sd (0.25) is the spread; Poisson on the weekly
    # totals sqrt(1/210 + 1/70) = 0.138 and min_log_sd 0.05 are smaller.
    sd = 0.25
    assert row["score"] == pytest.approx((math.log(3.0) - LN25) / sd, rel=1e-12)
    assert row["growth_low"] == pytest.approx(math.exp(math.log(3.0) - 1.645 * sd) - 1, rel=1e-12)
    assert row["growth_high"] == pytest.approx(math.exp(math.log(3.0) + 1.645 * sd) - 1, rel=1e-12)
    assert not row["condition"]  # z = 0.73 < 1.645
    assert len(ev) == 1  # the only bin with two complete weeks behind it


def test_winsorized_week_replaces_the_largest_day_by_the_second():
    last = [20] * 7
    this = [10, 12, 50, 11, 9, 10, 13]  # the 50 counts as 13, the second largest
    frame = daily_frame({("k", "p"): last + this})
    row = sg.evaluate(frame, day(13)).iloc[-1]
    expected = (10 + 12 + 13 + 11 + 9 + 10 + 13) / 7
    assert row["this_week"] == pytest.approx(expected)
    assert row["growth"] == pytest.approx(expected / 20 - 1)


def test_poisson_floor_sets_the_spread_of_small_counts():
    # 50 days flat at 4/day (past ratios all 0: MAD 0), then a week at 12/day.
    frame = daily_frame({("k", "p"): [4] * 50 + [12] * 7})
    row = sg.evaluate(frame, day(56), settings(min_log_sd=0.01)).iloc[-1]
    sd = math.sqrt(1 / (7 * 12) + 1 / (7 * 4))  # weekly totals 84 and 28
    assert row["growth"] == pytest.approx(2.0)
    assert row["score"] == pytest.approx((math.log(3) - LN25) / sd, rel=1e-9)


# ----------------------------------------------------------------------------------------------------------
# Decisions on series whose truth is known


def test_day_of_week_seasonal_steady_series_never_alerts():
    rng = np.random.default_rng(7)
    weekday_shape = np.array([1.0, 1.0, 1.1, 1.2, 1.6, 2.4, 2.0])  # weekend peaks, every week the same
    rate = 200 * np.tile(weekday_shape, 12)
    frame = daily_frame({("露营椅", "douyin"): rng.poisson(rate)})
    ev = sg.evaluate(frame, day(83))
    assert len(ev) > 50
    assert not ev["alert"].any()
    assert ev["growth"].abs().max() < 0.2
    det = sg.detect(frame, day(83))
    assert det.loc[0, "status"] == "quiet" and pd.isna(det.loc[0, "first_alert"])


def test_one_day_ten_fold_burst_does_not_alert():
    values = [100] * 60
    values[45] = 1000
    frame = daily_frame({("k", "p"): values})
    ev = sg.evaluate(frame, day(59))
    assert not ev["alert"].any()
    assert not ev["condition"].any()
    # the burst is replaced by the second-largest day: the week reads 100, not (6*100+1000)/7
    assert ev["this_week"].max() == pytest.approx(100)


def test_sustained_tripling_alerts_at_the_hand_derived_bin():
    # 42 days at 100, then 300 from day 42 on. With min_log_sd 0.1 (past ratios are all 0, Poisson ~0.04):
    #  k-th day of 300 (k=1 is day 42): this week = winsorized mean, last week = 100.
    #  k=6: (6*300 + 100)/7 = 271.4 -> z = (ln 2.714 - ln 2.5)/0.1 = 0.82  (no)
    #  k=7: 300/100 -> z = (ln 3 - ln 2.5)/0.1 = 1.82                       (condition 1)
    #  k=8: last week's one 300-day is winsorized to 100 -> ratio 3 again   (condition 2 -> alert)
    #  k=9: last week has two 300-days (a tie, kept): 1100/7 -> ratio 1.91  (no)
    frame = daily_frame({("星空杯", "xiaohongshu"): [100] * 42 + [300] * 14})
    s = settings(min_log_sd=0.1)
    ev = sg.evaluate(frame, day(55), s).set_index("eval_end")
    assert ev.loc[day(47), "this_week"] == pytest.approx(1900 / 7)
    assert ev.loc[day(47), "score"] == pytest.approx((math.log(1900 / 700) - LN25) / 0.1)
    assert list(ev.index[ev["condition"]]) == [day(48), day(49)]
    assert list(ev.index[ev["alert"]]) == [day(49)]
    det = sg.detect(frame, day(55), s).iloc[0]
    assert det["first_alert"] == day(49)
    assert det["n_episodes"] == 1
    # As of the alert bin itself the series is a strong alert (growth 2.0 reaches band_high 2.0).
    now = sg.detect(frame, day(49), s).iloc[0]
    assert now["status"] == "strong"
    assert now["growth"] == pytest.approx(2.0)
    assert now["first_alert"] == day(49)
    # One day earlier: condition met once, persistence not yet -> watch.
    assert sg.detect(frame, day(48), s).iloc[0]["status"] == "watch"


def test_tiny_counts_zero_to_two_do_not_alert():
    frame = daily_frame({("k", "p"): [0] * 40 + [2] * 14, ("k2", "p"): [0] * 40 + [1] * 14})
    ev = sg.evaluate(frame, day(53))
    assert not ev["alert"].any() and not ev["condition"].any()
    g = ev.groupby("keyword")["growth"].max()
    assert g["k"] == pytest.approx(1.0)  # 2 / max(0, min_level=1) - 1: never infinite
    assert g["k2"] == pytest.approx(0.0)
    assert np.isfinite(ev["score"]).all()


# ----------------------------------------------------------------------------------------------------------
# Groups, time discipline, alignment


def test_group_series_sum_their_members_per_platform_and_over_all():
    frame = daily_frame(
        {
            ("办公室仪式感", "xiaohongshu"): [10] * 7 + [20] * 7,
            ("星空杯", "xiaohongshu"): [5] * 7 + [40] * 7,
            ("星空杯", "douyin"): [8] * 7 + [8] * 7,
            ("无关词", "xiaohongshu"): [1000] * 14,
        }
    )
    s = settings(keyword_groups={"office-ritual-starry": ["办公室仪式感", "星空杯", "星空咖啡杯"]})
    ev = sg.evaluate(frame, day(13), s)
    groups = ev[ev["kind"] == "group"].set_index("platform")
    assert set(groups.index) == {"xiaohongshu", "douyin", "all"}
    assert groups.loc["xiaohongshu", "this_week"] == 60 and groups.loc["xiaohongshu", "last_week"] == 15
    assert groups.loc["xiaohongshu", "growth"] == pytest.approx(3.0)
    assert groups.loc["douyin", "this_week"] == 8
    assert groups.loc["all", "this_week"] == 68 and groups.loc["all", "last_week"] == 23
    assert (groups["keyword"] == "office-ritual-starry").all()
    assert len(ev[ev["kind"] == "keyword"]) == 4


def test_rows_after_as_of_change_nothing():
    rng = np.random.default_rng(3)
    base = {("k1", "p"): rng.poisson(50, 70), ("k2", "p"): np.r_[rng.poisson(20, 60), rng.poisson(90, 10)]}
    frame = daily_frame(base)
    as_of = day(69)
    future = daily_frame({key: np.full(30, 5000.0) for key in base}, start=day(70))
    # A row one second after as_of must be ignored too.
    late = daily_frame({("k1", "p"): [1e6]}, start=as_of + pd.Timedelta(seconds=1))
    longer = pd.concat([frame, future, late], ignore_index=True)
    s = settings(keyword_groups={"g": ["k1", "k2"]})
    pd.testing.assert_frame_equal(sg.evaluate(frame, as_of, s), sg.evaluate(longer, as_of, s))
    pd.testing.assert_frame_equal(sg.detect(frame, as_of, s), sg.detect(longer, as_of, s))


def test_bins_are_24h_ending_at_as_of():
    as_of = pd.Timestamp("2025-01-10 15:00", tz=TZ)
    stamps = [
        "2025-01-10 15:00",  # = as_of: last bin
        "2025-01-10 14:00",  # last bin
        "2025-01-09 15:01",  # last bin (just inside its start)
        "2025-01-09 15:00",  # exactly 24 h before: the bin before
        "2025-01-08 16:00",  # the bin before
        "2025-01-10 15:30",  # after as_of: dropped
    ]
    frame = pd.DataFrame(
        {
            "keyword": "k",
            "platform": "p",
            "metric": "interactions",
            "timestamp": pd.DatetimeIndex(stamps).tz_localize(TZ),
            "value": [1.0, 2.0, 4.0, 8.0, 16.0, 1000.0],
        }
    )
    m = sg.daily_levels(frame, as_of, tz=TZ)
    assert list(m.bin_end) == [as_of - pd.Timedelta(days=1), as_of]
    assert m.values.tolist() == [[24.0, 7.0]]
    assert m.rows.tolist() == [[2, 3]]
    # A naive as_of is read in tz; the same answer.
    m2 = sg.daily_levels(frame, "2025-01-10 15:00", tz=TZ)
    assert m2.values.tolist() == [[24.0, 7.0]]


def test_row_order_and_text_dtype_do_not_matter():
    rng = np.random.default_rng(11)
    frame = daily_frame(
        {(f"k{i}", p): rng.poisson(30 + 10 * i, 60) * np.r_[np.ones(50), np.full(10, 1 + i)] for i in range(4) for p in ("a", "b")}
    )
    as_of = day(59)
    s = settings(keyword_groups={"g": ["k1", "k3"]})
    expected = sg.detect(frame, as_of, s)
    shuffled = frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
    pd.testing.assert_frame_equal(sg.detect(shuffled, as_of, s), expected)
    categorical = frame.astype({"keyword": "category", "platform": "category", "metric": "category"})
    pd.testing.assert_frame_equal(sg.detect(categorical, as_of, s), expected)
    for unit in ("s", "ms", "us"):  # pandas 3 parses strings to microseconds; any unit gives the same bins
        other = frame.assign(timestamp=frame["timestamp"].dt.as_unit(unit))
        pd.testing.assert_frame_equal(sg.detect(other, as_of, s), expected)


def test_tables_in_time_order_take_the_any_order_path_with_the_same_answer(monkeypatch):
    rng = np.random.default_rng(5)
    hours = pd.date_range(START, periods=24 * 40, freq="h")
    parts = [
        pd.DataFrame({"keyword": f"k{i}", "platform": "p", "metric": "interactions", "timestamp": hours,
                      "value": rng.poisson(5 + i, len(hours)).astype(float) * np.where(np.arange(len(hours)) > 24 * 30, 1 + i, 1)})
        for i in range(3)
    ]
    weeks = pd.date_range(START - pd.Timedelta(days=70), periods=16, freq="7D")
    parts.append(pd.DataFrame({"keyword": "trend", "platform": "g", "metric": "search_index", "timestamp": weeks,
                               "value": np.r_[np.full(12, 10.0), [30.0, 60, 80, 90]]}))
    frame = pd.concat(parts, ignore_index=True)
    as_of = hours[-1] - pd.Timedelta(hours=5)
    s = settings(keyword_groups={"g": ["k0", "k2"]})
    grouped = sg.evaluate(frame, as_of, s)
    time_major = frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
    monkeypatch.setattr(sg, "_UNSORTED_MIN_ROWS", 0)
    assert sg._segment_starts(
        time_major["timestamp"].array.asi8, 0, 1, [pd.factorize(time_major["keyword"])[0]], time_major["value"].to_numpy()
    ) is None
    pd.testing.assert_frame_equal(sg.evaluate(time_major, as_of, s), grouped)


def test_hourly_rows_sum_into_days():
    hours = pd.date_range(START, periods=24 * 28, freq="h")
    values = np.where(np.arange(len(hours)) < 24 * 14, 1.0, 3.0)  # 24/day then 72/day
    frame = pd.DataFrame({"keyword": "k", "platform": "p", "metric": "interactions", "timestamp": hours, "value": values})
    as_of = hours[-1]
    row = sg.evaluate(frame, as_of).iloc[-1]
    assert row["eval_end"] == as_of
    assert row["this_week"] == 72 and row["last_week"] == 72
    row7 = sg.evaluate(frame, as_of - pd.Timedelta(days=7)).iloc[-1]
    assert row7["this_week"] == 72 and row7["last_week"] == 24 and row7["growth"] == pytest.approx(2.0)


# ----------------------------------------------------------------------------------------------------------
# Review list


def test_review_list_is_short_and_ranked_by_score():
    # Seven series jump from 100 to m*100 on day 42 (m = 3..9); as of day 49 all alert (see the tripling
    # test), with z = (ln m - ln 2.5) / 0.1 increasing in m. One steady series stays quiet.
    series = {(f"kw{m}", "p"): [100] * 42 + [100 * m] * 8 for m in range(3, 10)}
    series[("steady", "p")] = [100] * 50
    frame = daily_frame(series)
    s = settings(min_log_sd=0.1)
    det = sg.detect(frame, day(49), s)
    assert set(det.loc[det["status"] == "strong", "keyword"]) == {f"kw{m}" for m in range(3, 10)}
    review = sg.review_list(det, day(49), s)
    assert len(review) == 5
    assert list(review["keyword"]) == ["kw9", "kw8", "kw7", "kw6", "kw5"]
    assert list(review["rank"]) == [1, 2, 3, 4, 5]
    assert review["score"].iloc[0] == pytest.approx((math.log(9) - LN25) / 0.1)
    table = sg.scan_table(frame, day(49), s)
    assert list(table["keyword"].iloc[:5]) == ["kw9", "kw8", "kw7", "kw6", "kw5"]
    assert table["review_rank"].iloc[:5].tolist() == [1, 2, 3, 4, 5]
    assert table["review_rank"].isna().sum() == len(table) - 5


def test_review_keeps_recent_episodes_and_drops_old_ones():
    # Alert at day 49 only (tripling test). As of day 51 it began 2 days ago: still on the list;
    # as of day 53 (4 days later) it is off.
    frame = daily_frame({("k", "p"): [100] * 42 + [300] * 14})
    s = settings(min_log_sd=0.1)
    assert list(sg.review_list(sg.detect(frame, day(51), s), day(51), s)["keyword"]) == ["k"]
    assert len(sg.review_list(sg.detect(frame, day(53), s), day(53), s)) == 0


# ----------------------------------------------------------------------------------------------------------
# Weekly (Google Trends-like) series


def weekly_frame(values, start="2021-01-03"):
    weeks = pd.date_range(start, periods=len(values), freq="7D", tz="UTC")
    return pd.DataFrame(
        {"keyword": "wordle", "platform": "google-trends:Worldwide", "metric": "search_index", "timestamp": weeks, "value": values}
    ), weeks


def test_weekly_series_are_scored_per_week_with_their_own_noise():
    values = [11.0, 10.0] * 10 + [40.0]  # last pre-jump week reads 10
    frame, weeks = weekly_frame(values)
    s = settings(tz="UTC", history_weeks=8)  # the hand computation below uses the last 8 ratios
    jump = weeks[-1]
    # As of the start of the jump week the week is not over: the jump is not used yet.
    det = sg.detect(frame, jump, s).iloc[0]
    assert det["period"] == "week" and det["status"] == "quiet"
    assert det["eval_end"] == jump  # the previous week, which ended when the jump week began
    # A week later it is complete: one point is a "week", persistence 1 for weekly data.
    as_of = jump + pd.Timedelta(days=7)
    det = sg.detect(frame, as_of, s).iloc[0]
    # Past 8 weekly log ratios alternate +-ln 1.1: median 0, MAD ln 1.1; small-sample factor 8 / 7.2.
    spread = 1.4826 * math.log(1.1) * 8 / 7.2
    assert det["growth"] == pytest.approx(3.0)
    assert det["score"] == pytest.approx((math.log(4.0) - LN25) / spread, rel=1e-9)
    assert det["status"] == "strong"
    assert det["first_alert"] == as_of  # the end of the jump week
    ev = sg.evaluate(frame, as_of, s)
    assert ev["alert"].sum() == 1 and (ev["period"] == "week").all()


def test_monthly_series_are_inferred_and_use_whole_months():
    months = pd.date_range("2021-01-01", periods=20, freq="MS", tz="UTC")
    values = [4.0, 5.0] * 9 + [5.0, 60.0]
    frame = pd.DataFrame({"keyword": "nails", "platform": "google-trends", "metric": "search_index", "timestamp": months, "value": values})
    det = sg.detect(frame, pd.Timestamp("2022-09-01", tz="UTC"), settings(tz="UTC")).iloc[0]
    assert det["period"] == "month"
    assert det["eval_end"] == pd.Timestamp("2022-09-01", tz="UTC")  # August 2022 complete
    assert det["growth"] == pytest.approx(11.0)
    assert det["status"] == "strong"


def test_lead_time_counts_days_before_the_peak_and_false_alerts():
    values = [10.0, 11.0] * 10 + [40.0, 80.0, 100.0, 60.0]
    frame, weeks = weekly_frame(values)
    control = frame.assign(keyword="costco", value=[50.0, 52.0] * 12)
    both = pd.concat([frame, control], ignore_index=True)
    s = settings(tz="UTC")
    as_of = weeks[-1] + pd.Timedelta(days=7)
    det = sg.detect(both, as_of, s)
    peak = weeks[22] + pd.Timedelta(days=7)  # end of the 100 week
    result = sg.lead_time(det, {"wordle": peak}, ["wordle"])
    per = result["per_series"].set_index("label")
    assert per.loc["wordle", "alert_time"] == weeks[20] + pd.Timedelta(days=7)
    assert per.loc["wordle", "lead_days"] == 14.0
    assert result["caught"] == 1 and result["missed"] == 0
    assert result["false_alert_episodes"] == 0
    episodes = sg.alert_episodes(sg.evaluate(both, as_of, s))
    assert sg.lead_time(det, peak, ["wordle"], episodes=episodes)["per_series"].set_index("label").loc["wordle", "lead_days"] == 14.0


# ----------------------------------------------------------------------------------------------------------
# Settings and output


def test_settings_reject_bad_values():
    with pytest.raises(ConfigError, match="band_by_category"):
        sg.DetectorSettings(band_by_category={"default": (2.0, 1.5)})
    with pytest.raises(ConfigError, match="categories"):
        sg.DetectorSettings(keyword_category={"杯子": "home"})
    with pytest.raises(ConfigError, match="unknown detector setting"):
        sg.DetectorSettings.from_dict({"min_scor": 2})
    with pytest.raises(ConfigError, match="persistence"):
        sg.DetectorSettings(persistence=0)
    s = sg.DetectorSettings.from_dict({"band_by_category": {"home": [1.0, 1.5]}, "keyword_category": {"杯子": "home"}})
    assert s.band(s.category_of("杯子")) == (1.0, 1.5) and s.band("default") == (1.5, 2.0)


def test_category_band_changes_the_decision():
    # 100 -> 220 on day 42. Home band +80%: z = (ln 2.2 - ln 1.8) / 0.1 = 2.0 on days 48 and 49 -> alert,
    # and growth +120% reaches the home band's high end (+100%): strong.
    frame = daily_frame({("杯子", "p"): [100] * 42 + [220] * 10, ("灯", "p"): [100] * 42 + [220] * 10})
    s = settings(band_by_category={"home": (0.8, 1.0)}, keyword_category={"杯子": "home"}, min_log_sd=0.1)
    det = sg.detect(frame, day(49), s).set_index("keyword")
    assert det.loc["杯子", "status"] == "strong" and det.loc["杯子", "band_low"] == 0.8
    assert det.loc["灯", "status"] == "quiet"  # +120% is under the default +150%


def test_format_and_json_outputs():
    frame = daily_frame({("星空杯", "xiaohongshu"): [100] * 42 + [400] * 8, ("steady", "p"): [100] * 50})
    table = sg.scan_table(frame, None, settings(min_log_sd=0.1))
    text = sg.format_alerts(table, limit=10)
    assert "星空杯" in text and "strong" in text and "+300%" in text
    assert "2 series scanned: 1 strong, 0 alert, 0 watch, 1 quiet" in text
    # 400 from day 42: day 46 is the 5th such day, week (5*400 + 200)/7 -> z = (ln 3.14 - ln 2.5)/0.1 = 2.3,
    # day 47 again -> first alert at the end of day 47's bin, 2025-02-17 00:00 local.
    records = sg.alerts_to_json(table)
    assert json.loads(json.dumps(records, ensure_ascii=False))[0]["keyword"] == "星空杯"
    assert records[0]["first_alert"] == day(47).isoformat() == "2025-02-17T00:00:00+08:00"
    assert records[1]["first_alert"] is None


def test_as_of_before_any_data_gives_empty_results():
    frame = daily_frame({("k", "p"): [1.0] * 20})
    assert len(sg.evaluate(frame, day(-5))) == 0
    assert len(sg.detect(frame, day(-5))) == 0


def test_daily_and_weekly_series_in_one_table_are_scored_independently():
    daily = daily_frame({("星空杯", "xiaohongshu"): [100] * 42 + [300] * 14})
    weeks = pd.date_range(START - pd.Timedelta(days=7 * 100), periods=108, freq="7D")
    weekly = pd.DataFrame(
        {"keyword": "starry cup", "platform": "google-trends:CN", "metric": "search_index", "timestamp": weeks,
         "value": np.r_[np.full(100, 10.0), np.full(8, 35.0)]}
    )
    s = settings(min_log_sd=0.1)
    both = sg.detect(pd.concat([daily, weekly], ignore_index=True), day(55), s).set_index("keyword")
    alone_daily = sg.detect(daily, day(55), s).set_index("keyword")
    alone_weekly = sg.detect(weekly, day(55), s).set_index("keyword")
    assert both.loc["星空杯", "period"] == "day" and both.loc["starry cup", "period"] == "week"
    pd.testing.assert_series_equal(both.loc["星空杯"], alone_daily.loc["星空杯"])
    pd.testing.assert_series_equal(both.loc["starry cup"], alone_weekly.loc["starry cup"])
    assert both.loc["starry cup", "first_alert"] == weeks[100] + pd.Timedelta(days=7)


def test_handed_on_first_alert_is_the_earliest_of_every_alerting_series_not_only_the_review_list():
    """Seven series alert; the review list shows the top five by score. The earliest alert belongs to the
    sixth: the first alert handed on to the other chapters must still be its, whatever the list shows."""
    tz = "Asia/Shanghai"
    firsts = ["2025-03-05", "2025-03-06", "2025-03-05", "2025-03-07", "2025-03-06", "2025-03-02", "2025-03-04"]
    det = pd.DataFrame({
        "keyword": [f"k{i}" for i in range(7)], "platform": ["小红书"] * 7, "kind": ["interactions"] * 7,
        "metric": ["interactions"] * 7, "status": ["strong"] * 3 + ["alert"] * 4,
        "growth": [3.0, 2.9, 2.8, 2.7, 2.6, 1.9, 1.8], "growth_low": [2.0] * 7, "growth_high": [4.0] * 7,
        "score": [9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0], "band_low": [1.5] * 7,
        "first_alert": pd.to_datetime(firsts).tz_localize(tz),
        "episode_start": pd.to_datetime(firsts).tz_localize(tz), "eval_end": pd.Timestamp("2025-03-09", tz=tz),
    })
    s = sg.DetectorSettings(review_size=5)
    review = sg.review_list(det, pd.Timestamp("2025-03-09 12:00", tz=tz), s)
    assert "k5" not in set(review["keyword"])
    called = sg.call(det, review, pd.Timestamp("2025-03-09 12:00", tz=tz), s)
    assert called["first_alert"] == pd.Timestamp("2025-03-02", tz=tz)
    assert called["chosen_trend"]["keyword"] == "k0"


def test_the_spikes_first_alert_stays_put_when_the_early_series_fall_quiet():
    """The spike moves from 小红书 (alerts 03-06..03-16) to 抖音 (03-10..03-17) to 淘宝 (03-12..03-19); on 03-19 only
    淘宝 alerts. Its first alert is still 03-06 (each series' alerts reach the next one's), not 淘宝's 03-12; a blip
    in January (last alert 01-12, long before the chain) is not part of the spike."""
    tz = "Asia/Shanghai"
    t = lambda d: pd.Timestamp(f"2025-{d} 12:00", tz=tz)  # noqa: E731
    det = pd.DataFrame({
        "keyword": ["k"] * 4, "platform": ["小红书", "抖音", "淘宝", "快手"],
        "first_alert": [t("03-06"), t("03-10"), t("03-12"), t("01-10")],
        "last_alert": [t("03-16"), t("03-17"), t("03-19"), t("01-12")],
    })
    gap = pd.Timedelta(days=3)
    assert sg.spike_first_alert(det, t("03-12"), gap) == t("03-06")
    # Alone, 淘宝's alerts do not reach a series whose last alert was more than the gap before 淘宝's first.
    far = det.assign(first_alert=[t("03-05"), t("03-07"), t("03-12"), t("01-10")],
                     last_alert=[t("03-08"), t("03-08"), t("03-19"), t("01-12")])
    assert sg.spike_first_alert(far, t("03-12"), gap) == t("03-12")
    assert sg.spike_first_alert(det, None, gap) is None


# ----------------------------------------------------------------------------------------------------------
# Issue 14: persistence waiver, sustained rises, noise robust to a bump, free review places


def test_persistence_is_waived_when_the_growth_interval_is_above_the_band():
    # 100 a day, then 1000 from day 42. Day 43 (two days at 1000): this week (2*1000 + 5*100)/7 = 357.1,
    # ratio 3.571, z = (ln 3.571 - ln 2.5)/0.1 = 3.57 -> condition; growth interval low end
    # 3.571 * exp(-1.645*0.1) - 1 = 2.03 >= band_high 2.0: the alert stands on day 43 without a second day.
    frame = daily_frame({("k", "p"): [100] * 42 + [1000] * 10})
    waived = sg.detect(frame, day(51), settings(min_log_sd=0.1)).iloc[0]
    assert waived["first_alert"] == day(43)
    held = sg.detect(frame, day(51), settings(min_log_sd=0.1, waive_persistence=False)).iloc[0]
    assert held["first_alert"] == day(44)
    # A tripling (interval low end +154% < +200%) still waits for its second day (see the tripling test).
    tripling = daily_frame({("k", "p"): [100] * 42 + [300] * 14})
    assert sg.detect(tripling, day(55), settings(min_log_sd=0.1)).iloc[0]["first_alert"] == day(49)


def _ramp(weeks_flat, start=10.0, rate=0.3, weeks=9):
    return [start] * weeks_flat + [start * (1 + rate) ** j for j in range(1, weeks + 1)]


def test_slow_ramp_alerts_on_the_sustained_rise_test_at_the_hand_derived_week():
    # 60 flat weeks at 10, then +30% a week. Past ratios are all 0, so sd = sqrt(k) * min_log_sd (0.05).
    # Week j of the ramp: one-week growth +30% (never the +150% band); 4-week growth 1.3^4 = 2.86,
    # z = (ln 2.86 - ln 2.5)/0.1 = 1.33 (no); 8-week growth from the flat 10: 1.3^j,
    # j=4: z = (ln 2.86 - ln 2.5)/0.141 = 0.94 (no); j=5: 3.71, z = 2.8, novelty 3.71 >= 3 (a year seen) -> alert.
    values = _ramp(60)
    frame, weeks = weekly_frame(values)
    as_of = weeks[-1] + pd.Timedelta(days=7)
    ev = sg.evaluate(frame, as_of, settings(tz="UTC")).set_index("eval_end")
    first = ev.index[ev["alert"]][0]
    assert first == weeks[60 + 4] + pd.Timedelta(days=7)  # the end of ramp week j=5
    row = ev.loc[first]
    assert row["trigger"] == "ramp 8w"
    assert row["ramp_growth"] == pytest.approx(1.3**5 - 1)
    assert row["ramp_score"] == pytest.approx((5 * math.log(1.3) - LN25) / (0.05 * math.sqrt(8)), rel=1e-6)
    assert row["novelty"] == pytest.approx(1.3**5)
    assert row["growth"] == pytest.approx(0.3)  # the week-over-week test alone would never fire
    assert not ev["alert"].loc[: weeks[60 + 3] + pd.Timedelta(days=7)].any()
    # Without the sustained-rise test the ramp is never called.
    assert not sg.evaluate(frame, as_of, settings(tz="UTC", ramp_weeks=()))["alert"].any()
    det = sg.detect(frame, as_of, settings(tz="UTC")).iloc[0]
    review = sg.review_list(det.to_frame().T, as_of, settings(tz="UTC"))
    call = sg.call(det.to_frame().T, review, as_of, settings(tz="UTC"))
    assert call["decision"] == "alert" and "over 8 weeks" in call["headline"]


def test_a_seasonal_swing_seen_a_year_earlier_is_not_new():
    # The same +30%-a-week swing twice, a year apart: the second reaches only the first one's height
    # (novelty 1), and the first, with only 20 weeks seen, needs 6x (it reaches 3.7x).
    swing = [10.0 * 1.3**j for j in range(1, 6)]
    values = [10.0] * 20 + swing + [10.0] * 32 + swing
    frame, weeks = weekly_frame(values)
    ev = sg.evaluate(frame, weeks[-1] + pd.Timedelta(days=7), settings(tz="UTC"))
    assert not ev["alert"].any()
    assert ev["novelty"].max() == pytest.approx(1.3**5)  # the first swing: 3.7x, below the 6x bar
    # With less than a year seen, the bar is novelty_short_history: 20 flat weeks then the ramp alerts at
    # j=7 (1.3^7 = 6.27 >= 6), not at j=5.
    frame, weeks = weekly_frame(_ramp(20))
    ev = sg.evaluate(frame, weeks[-1] + pd.Timedelta(days=7), settings(tz="UTC")).set_index("eval_end")
    assert ev.index[ev["alert"]][0] == weeks[20 + 6] + pd.Timedelta(days=7)


def test_an_earlier_bump_does_not_hide_a_jump():
    # Flat 5, a bump (12, 14, 7), back to 5, then +100% and +340%. With 8 past ratios half of them are the
    # bump's: MAD spread 0.40, z = (ln 4.4 - ln 2.5)/0.40 = 1.40: missed. With 26, the bump is 5 of 26:
    # MAD 0, sd = min_log_sd -> z = 11: alert. (The sustained-rise test is off to isolate the noise estimate.)
    values = [5.0] * 30 + [12.0, 14.0, 7.0, 5.0, 10.0, 44.0]
    frame, weeks = weekly_frame(values)
    as_of = weeks[-1] + pd.Timedelta(days=7)
    long = sg.detect(frame, as_of, settings(tz="UTC", ramp_weeks=())).iloc[0]
    assert long["status"] == "strong"
    assert long["score"] == pytest.approx((math.log(4.4) - LN25) / 0.05)
    short = sg.detect(frame, as_of, settings(tz="UTC", ramp_weeks=(), history_weeks=8)).iloc[0]
    assert short["status"] == "watch"
    assert short["score"] == pytest.approx(1.40, abs=0.01)


def test_free_review_places_go_to_credibly_rising_watch_series():
    # kw9 jumps 9x (alert); riser grows 2.6x (+160% > band, z 0.39: watch, interval low end +120% > 0);
    # slow grows 1.5x (quiet): not listed.
    frame = daily_frame({("kw9", "p"): [100] * 42 + [900] * 8, ("riser", "p"): [100] * 42 + [260] * 8,
                         ("slow", "p"): [100] * 42 + [150] * 8})
    s = settings(min_log_sd=0.1)
    det = sg.detect(frame, day(49), s)
    assert dict(zip(det["keyword"], det["status"])) == {"kw9": "strong", "riser": "watch", "slow": "quiet"}
    review = sg.review_list(det, day(49), s)
    assert list(review["keyword"]) == ["kw9", "riser"]
    assert list(review["listed_as"]) == ["alert", "watch (free place)"]
    assert list(review["rank"]) == [1, 2]
    call = sg.call(det, review, day(49), s)
    assert call["decision"] == "alert" and call["chosen_trend"]["keyword"] == "kw9"
    assert any("riser" in r and "free place" in r and "no alert now" in r for r in call["reasons"])
    off = sg.review_list(det, day(49), settings(min_log_sd=0.1, fill_review=False))
    assert list(off["keyword"]) == ["kw9"]
