"""Sample scenarios: deterministic files, a consistent answer key, and stories that hold in the data."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spikekit import samples
from spikekit.errors import ConfigError

PROJECT_DATA = Path(__file__).resolve().parents[1] / "data"
NAMES = list(samples.SCENARIOS)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    """One fresh generation of every scenario (shared by the tests of this module)."""
    root = tmp_path_factory.mktemp("fresh")
    samples.generate_all(root)
    return root / "samples"


def _signals(folder: Path) -> pd.DataFrame:
    frame = pd.read_csv(folder / "signals.csv", dtype={"keyword": str, "platform": str, "timestamp": str})
    frame["time"] = pd.to_datetime(frame["timestamp"], format="%Y-%m-%d %H:%M:%S")
    return frame


def _validation(folder: Path) -> pd.DataFrame:
    frame = pd.read_csv(folder / "validation.csv", dtype={"design": str}, keep_default_na=False)
    frame["time"] = pd.to_datetime(frame["timestamp"], format="%Y-%m-%d %H:%M:%S")
    return frame


def _local(iso: str) -> pd.Timestamp:
    """A truth time (ISO with +08:00) as naive local time, like the CSV stamps."""
    stamp = pd.Timestamp(iso)
    assert stamp.utcoffset() == pd.Timedelta(hours=8)
    return stamp.tz_localize(None)


SHIFT = pd.Timedelta(samples.STAMP_SHIFT)  # stamp minus the start of the hour it counts


def _window_sum(series: pd.DataFrame, start: str, end: str) -> float:
    """Sum of hourly values stamped in (start, end], the detector's view at as_of = end."""
    keep = (series["time"] > pd.Timestamp(start)) & (series["time"] <= pd.Timestamp(end))
    return float(series.loc[keep, "value"].sum())


def _daily(series: pd.DataFrame) -> pd.Series:
    """Daily totals by the calendar day the hours cover (with end stamps, 00:00 counts the day before)."""
    day = (series["time"] - SHIFT).dt.normalize()
    return series.groupby(day)["value"].sum()


def _one(frame: pd.DataFrame, keyword: str, platform: str) -> pd.DataFrame:
    return frame[(frame["keyword"] == keyword) & (frame["platform"] == platform)]


# ------------------------------------------------------------------------------------------------------
# Determinism


def test_same_seed_gives_identical_bytes(fresh, tmp_path):
    for name in NAMES:
        written = samples.generate(name, tmp_path / name)
        for file_name, path in written.items():
            assert path.read_bytes() == (fresh / name / file_name).read_bytes(), (name, file_name)


def test_committed_files_equal_a_fresh_generation(fresh):
    for name in NAMES:
        for file_name in ("signals.csv", "validation.csv", "demand.csv", "truth.json"):
            committed = PROJECT_DATA / "samples" / name / file_name
            assert committed.is_file(), f"{committed} missing: run `python -m spikekit.samples`"
            assert committed.read_bytes() == (fresh / name / file_name).read_bytes(), (
                f"{committed} differs from a fresh generation: run `python -m spikekit.samples`")


def test_another_seed_changes_the_noise_not_the_story(fresh, tmp_path):
    samples.generate("starry-mug", tmp_path, seed=7)
    assert (tmp_path / "signals.csv").read_bytes() != (fresh / "starry-mug" / "signals.csv").read_bytes()
    other, base = json.loads((tmp_path / "truth.json").read_text("utf-8")), samples.load_truth("starry-mug")
    assert other["seed"] == 7
    for key in ("peak_time", "takeoff", "validation_window", "expected", "trending_series"):
        assert other[key] == base[key]


def test_check_cli_passes_on_fresh_files_and_fails_on_a_changed_one(tmp_path):
    samples.generate_all(tmp_path)
    assert samples.main(["--check", "--data-root", str(tmp_path)]) == 0
    path = tmp_path / "samples" / "false-alarm" / "validation.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    problems = samples.check(tmp_path)
    assert problems == [f"{path}: differs from a fresh generation"]
    assert samples.main(["--check", "--data-root", str(tmp_path)]) == 1


# ------------------------------------------------------------------------------------------------------
# File format


@pytest.mark.parametrize("name", NAMES)
def test_file_format(fresh, name):
    folder = fresh / name
    raw = (folder / "signals.csv").read_bytes()
    assert b"\r" not in raw and not raw.startswith(b"\xef\xbb\xbf")
    assert len(raw) < 1_500_000
    lines = raw.decode("utf-8").splitlines()
    assert lines[0] == "keyword,platform,timestamp,value,metric"
    signals = _signals(folder)
    assert signals["value"].dtype == np.int64 and (signals["value"] >= 0).all()
    hours = int((samples.DATA_END - samples.DATA_START) / samples.HOUR) + 1  # 76 days x 24 = 1824
    assert hours == 1824
    sizes = signals.groupby(["keyword", "platform"]).size()
    assert len(sizes) == 12 and (sizes == hours).all()
    assert signals["timestamp"].iloc[0] == "2025-01-15 00:00:00"
    assert signals["timestamp"].iloc[-1] == "2025-03-31 23:00:00"
    assert set(signals["platform"]) == {"小红书", "抖音", "淘宝"}
    metric = signals.groupby("platform")["metric"].unique()
    assert list(metric["淘宝"]) == ["searches"] and list(metric["抖音"]) == ["interactions"]
    # Sorted by series then time, so rows are stable for diffs.
    keys = list(zip(signals["keyword"], signals["platform"], signals["metric"], signals["timestamp"]))
    assert keys == sorted(keys)
    validation = (folder / "validation.csv").read_text("utf-8").splitlines()
    assert validation[0] == "timestamp,metric,count,phase,design"
    demand = (folder / "demand.csv").read_text("utf-8").splitlines()
    assert demand[0] == "date,units" and demand[1].startswith("2025-01-15,") and len(demand) == 1 + 76


@pytest.mark.parametrize("name", NAMES)
def test_tiny_series_have_many_zeros_and_big_ones_none(fresh, name):
    signals = _signals(fresh / name)
    assert (_one(signals, "办公室仪式感", "淘宝")["value"] == 0).mean() > 0.5
    assert (_one(signals, "马克杯", "小红书")["value"] == 0).mean() < 0.02


# ------------------------------------------------------------------------------------------------------
# The curve that tells the story


def test_symmetric_pulse_matches_the_hand_solution():
    # Equal rise and fall times give u = d, and g(x) = 2u / (u e^{-ux} + u e^{ux}) = 1 / cosh(ux).
    # g = 0.05 at x = -5 days means cosh(5u) = 20, so u = arccosh(20) / 5 = 0.737724... per day.
    pulse = samples.Pulse("2025-03-01 00:00", "2025-03-06 00:00", "2025-03-11 00:00")
    up, down = pulse.rates
    assert up == pytest.approx(math.acosh(20) / 5, rel=1e-9)
    assert down == pytest.approx(up, rel=1e-9)
    peak = samples._days(samples._when("2025-03-06 00:00"))
    assert pulse.shape([peak])[0] == pytest.approx(1.0, abs=1e-12)
    assert pulse.shape([peak + 2])[0] == pytest.approx(1 / math.cosh(2 * up), rel=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_pulses_hit_their_dates(name):
    scenario = samples.SCENARIOS[name]
    for pulse in [scenario.demand, *scenario.interest.values(), *(b.pulse for b in scenario.bursts)]:
        at = [float(samples._days(samples._when(t))) for t in (pulse.takeoff, pulse.peak, pulse.fade)]
        assert pulse.shape(at) == pytest.approx([samples.TAKEOFF_LEVEL, 1.0, samples.TAKEOFF_LEVEL], abs=1e-9)
        grid = np.linspace(at[0] - 3, at[2] + 3, 20001)
        assert grid[np.argmax(pulse.shape(grid))] == pytest.approx(at[1], abs=1e-3)


def test_burst_day_is_ten_normal_days_in_expectation():
    scenario = samples.SCENARIOS["false-alarm"]
    mean = samples.expected_signals(scenario)[("星空杯", "抖音")]
    day = (samples.hourly_stamps() - samples.STAMP_SHIFT).astype("datetime64[D]")
    burst_day = mean[day == np.datetime64("2025-03-05")].sum()
    # The same weekday a week earlier and later has no burst: its expected total is the normal day.
    assert burst_day / mean[day == np.datetime64("2025-02-26")].sum() == pytest.approx(10.0, rel=1e-6)
    assert mean[day == np.datetime64("2025-03-12")].sum() == pytest.approx(
        mean[day == np.datetime64("2025-02-26")].sum(), rel=1e-6)


# ------------------------------------------------------------------------------------------------------
# The answer key


@pytest.mark.parametrize("name", NAMES)
def test_truth_is_consistent(fresh, name):
    truth = json.loads((fresh / name / "truth.json").read_text("utf-8"))
    assert truth["scenario"] == name and truth["timezone"] == "Asia/Shanghai"
    data_start, data_end = map(_local, truth["data_range"])
    assert (data_start, data_end) == (pd.Timestamp("2025-01-15 00:00"), pd.Timestamp("2025-03-31 23:00"))

    # peak_time is the argmax of the true demand curve, hour by hour and day by day.
    scenario = samples.SCENARIOS[name]
    hours = np.arange(0, 76 * 24) + 0.5
    curve = samples.demand_rate(scenario, hours / 24)
    peak = _local(truth["peak_time"])
    assert data_start + pd.Timedelta(hours=float(hours[np.argmax(curve)])) - peak <= pd.Timedelta(minutes=30)
    demand = pd.read_csv(fresh / name / "demand.csv")
    assert demand.loc[demand["units"].idxmax(), "date"] == peak.strftime("%Y-%m-%d")
    assert demand["units"].max() == truth["peak_daily_units"]
    assert _local(truth["demand_takeoff"]) < peak < _local(truth["end_time"])

    start, end = map(_local, truth["validation_window"])
    assert data_start <= start < end <= data_end and end - start == pd.Timedelta(hours=48)
    assert _local(truth["validation_as_of"]) == end
    assert _local(truth["default_as_of"]) == end + pd.Timedelta(hours=2)

    expected = truth["expected"]
    assert expected["alert"] == truth["real_trend"]
    if truth["real_trend"]:
        not_before, no_later = _local(expected["first_alert_not_before"]), _local(expected["first_alert_no_later_than"])
        earliest_takeoff = min(_local(t) for t in truth["takeoff"].values())
        assert not_before == earliest_takeoff + pd.Timedelta(days=1)
        possible = _local(expected["first_alert_possible_from"])
        assert not_before <= possible <= no_later  # a perfect detector could meet the bar
        assert set(truth["takeoff"]) == {platform for _, platform in truth["trending_series"]}
    else:
        assert expected["first_alert_no_later_than"] is None and truth["trending_series"] == []
    for keyword, _ in truth["trending_series"]:
        assert keyword not in truth["control_keywords"]


def test_story_dates_in_the_truth():
    starry, fade, alarm = (samples.load_truth(n) for n in ("starry-mug", "fast-fade", "false-alarm"))
    assert starry["takeoff"]["小红书"] == "2025-03-01T00:00:00+08:00"
    assert starry["takeoff"]["抖音"] == "2025-03-04T00:00:00+08:00"
    assert starry["peak_time"].startswith("2025-03-14T")
    # The handbook's case: caught at least 5 days before the peak.
    assert _local(starry["expected"]["first_alert_no_later_than"]) == _local(starry["peak_time"]) - pd.Timedelta(days=5)
    assert starry["validation_window"] == ["2025-03-07T10:00:00+08:00", "2025-03-09T10:00:00+08:00"]
    assert (starry["expected"]["decision"], starry["expected"]["winning_design"]) == ("go", "星空蓝")
    assert fade["peak_time"].startswith("2025-03-06T")
    assert fade["expected"]["first_alert_no_later_than"] == fade["peak_time"]
    assert _local(fade["end_time"]) - _local(fade["demand_takeoff"]) < pd.Timedelta(days=9)
    assert alarm["validation_window"][0] == "2025-03-06T10:00:00+08:00"
    assert (alarm["real_trend"], alarm["expected"]["decision"]) == (False, "no-go")
    assert alarm["bursts"] == [{"keyword": "星空杯", "platform": "抖音", "day": "2025-03-05", "day_ratio": 10.0}]


def test_load_truth_refuses_unknown_and_escaping_names(tmp_path):
    with pytest.raises(ConfigError, match="starry-mug"):
        samples.load_truth("no-such-scenario", data_root=tmp_path)
    with pytest.raises(ConfigError):
        samples.load_truth("../starry-mug")
    with pytest.raises(ConfigError, match="unknown sample scenario"):
        samples.generate("Starry Mug", tmp_path)


# ------------------------------------------------------------------------------------------------------
# The stories hold in the data (hand-checkable sums)


def test_starry_mug_office_ritual_takes_off_on_xiaohongshu(fresh):
    signals = _signals(fresh / "starry-mug")
    ritual = _one(signals, "办公室仪式感", "小红书")
    this_week = _window_sum(ritual, "2025-03-01 00:00", "2025-03-08 00:00")
    last_week = _window_sum(ritual, "2025-02-22 00:00", "2025-03-01 00:00")
    assert this_week > 2.5 * last_week
    # "well over +300%" week over week at the height of the rise
    assert _window_sum(ritual, "2025-03-03 00:00", "2025-03-10 00:00") > 4 * _window_sum(
        ritual, "2025-02-24 00:00", "2025-03-03 00:00")
    # Before the takeoff the same series is flat week over week.
    assert 0.75 < _window_sum(ritual, "2025-02-15 00:00", "2025-02-22 00:00") / _window_sum(
        ritual, "2025-02-08 00:00", "2025-02-15 00:00") < 1.33
    # 抖音 follows later: still flat in the week to 03-04, clearly up in the week to 03-11.
    douyin = _one(signals, "星空杯", "抖音")
    assert _window_sum(douyin, "2025-02-25 00:00", "2025-03-04 00:00") < 1.4 * _window_sum(
        douyin, "2025-02-18 00:00", "2025-02-25 00:00")
    assert _window_sum(douyin, "2025-03-04 00:00", "2025-03-11 00:00") > 2.5 * _window_sum(
        douyin, "2025-02-25 00:00", "2025-03-04 00:00")


@pytest.mark.parametrize("name", NAMES)
def test_control_keyword_stays_steady(fresh, name):
    signals = _signals(fresh / name)
    for platform in samples.PLATFORMS:
        daily = _daily(_one(signals, "马克杯", platform)).loc["2025-01-15":"2025-03-30"]
        weekly = daily.to_numpy()[: len(daily) // 7 * 7].reshape(-1, 7).sum(axis=1)
        assert (np.abs(np.log(weekly[1:] / weekly[:-1])) < np.log(1.4)).all(), platform


def test_false_alarm_is_one_day_only(fresh):
    signals = _signals(fresh / "false-alarm")
    daily = _daily(_one(signals, "星空杯", "抖音")).loc["2025-01-15":"2025-03-30"]
    median = daily.median()
    assert daily.loc["2025-03-05"] > 5 * median
    assert daily.loc["2025-03-06":"2025-03-12"].mean() == pytest.approx(median, rel=0.25)
    assert (daily.drop(pd.Timestamp("2025-03-05")) < 2 * median).all()
    # every other series stays within +-40% week over week
    for (keyword, platform), series in signals.groupby(["keyword", "platform"]):
        if (keyword, platform) == ("星空杯", "抖音") or keyword == "办公室仪式感" and platform == "淘宝":
            continue  # the burst, and a series too tiny for a ratio test
        weekly = _daily(series).loc["2025-01-15":"2025-03-30"].to_numpy()[:10 * 7].reshape(-1, 7).sum(axis=1)
        assert (np.abs(np.log(weekly[1:] / weekly[:-1])) < np.log(1.4)).all(), (keyword, platform)


def test_fast_fade_rises_at_once_and_dies_within_days(fresh):
    signals = _signals(fresh / "fast-fade")
    for platform in ("小红书", "抖音"):
        series = _one(signals, "星空杯", platform)
        assert _window_sum(series, "2025-02-26 00:00", "2025-03-05 00:00") > 2.5 * _window_sum(
            series, "2025-02-19 00:00", "2025-02-26 00:00"), platform
    demand = pd.read_csv(fresh / "fast-fade" / "demand.csv").set_index("date")["units"]
    base = samples.SCENARIOS["fast-fade"].demand_base_per_day
    assert demand["2025-03-09"] - base < 0.05 * (demand.max() - base)
    starry = pd.read_csv(fresh / "starry-mug" / "demand.csv").set_index("date")["units"]
    assert starry["2025-03-23"] - base < 0.10 * (starry.max() - base)


# ------------------------------------------------------------------------------------------------------
# Validation tables near the story

CART_RANGE = {"starry-mug": (7.5, 12.5), "false-alarm": (0.8, 2.0), "fast-fade": (6.0, 10.0)}
POLL_RANGE = {"starry-mug": (0.22, 0.32), "false-alarm": (0.09, 0.17), "fast-fade": (0.21, 0.31)}


@pytest.mark.parametrize("name", NAMES)
def test_validation_numbers_follow_the_story(fresh, name):
    events = _validation(fresh / name)
    truth = json.loads((fresh / name / "truth.json").read_text("utf-8"))
    start, end = map(_local, truth["validation_window"])
    base, test = events[events["phase"] == "baseline"], events[events["phase"] == "test"]

    base_carts = base[base["metric"] == "add_to_cart"]
    assert len(base_carts) == 28 and base_carts["time"].max() < start
    assert (base_carts["time"] == base_carts["time"].dt.normalize()).all()  # one row per calendar day
    assert 15 < base_carts["count"].mean() < 25 and base_carts["count"].var() > base_carts["count"].mean()
    polls = base[base["metric"] == "poll_invited"]
    assert len(polls) == 3 and polls["count"].between(450, 550).all()
    usual = base.loc[base["metric"] == "poll_participated", "count"].sum() / polls["count"].sum()
    assert 0.09 < usual < 0.15

    for metric in ("add_to_cart", "presale_order"):
        hourly = test[test["metric"] == metric]
        expected_stamps = pd.date_range(start, end - pd.Timedelta(hours=1), freq="h") + SHIFT
        assert list(hourly["time"]) == list(expected_stamps)
    carts = test[test["metric"] == "add_to_cart"].set_index("time")["count"]
    orders = test[test["metric"] == "presale_order"].set_index("time")["count"]
    assert (orders <= carts).all() and (orders == 0).any()  # zero-count hours are rows too
    first_day = carts[carts.index - SHIFT < start + pd.Timedelta(hours=24)].sum()
    low, high = CART_RANGE[name]
    assert low < first_day / base_carts["count"].mean() < high

    invited = test.loc[test["metric"] == "poll_invited", "count"]
    participated = test.loc[test["metric"] == "poll_participated", "count"]
    assert len(invited) == len(participated) == 1
    low, high = POLL_RANGE[name]
    assert low < participated.iloc[0] / invited.iloc[0] < high
    votes = test[test["metric"] == "design_vote"].set_index("design")["count"]
    assert sorted(votes.index) == sorted(samples.DESIGNS) and votes.sum() == participated.iloc[0]
    assert (test.loc[test["metric"] == "design_vote", "time"] <= end).all()
    assert (events.loc[events["metric"] != "design_vote", "design"] == "").all()

    winner = truth["expected"]["winning_design"]
    if winner is not None:  # a clear winner: most votes by a wide margin
        assert votes.idxmax() == winner and votes[winner] > 1.3 * votes.drop(winner).max()
    else:  # spread: no design gets even a third of the votes
        assert votes.max() < votes.sum() / 3

    observed = truth["observed"]
    assert observed["test_carts_first_24h"] == first_day
    assert observed["validation_sales"] == orders.sum()
    assert observed["baseline_cart_mean_per_day"] == pytest.approx(base_carts["count"].mean(), abs=1e-4)
    assert observed["votes"] == votes.reindex(list(samples.DESIGNS)).astype(int).to_dict()


# ------------------------------------------------------------------------------------------------------
# The committed files load through the contracts


def test_committed_files_load_through_the_contracts():
    contracts = pytest.importorskip("spikekit.contracts")
    if not (hasattr(contracts, "load_signals") and hasattr(contracts, "load_validation")):
        pytest.skip("spikekit.contracts has no loaders yet")
    for name in NAMES:
        signals = contracts.load_signals(f"samples/{name}/signals.csv", data_root=PROJECT_DATA)
        assert len(signals) == 12 * 1824 and str(signals["timestamp"].dt.tz) == "Asia/Shanghai"
        assert signals["timestamp"].min() == pd.Timestamp("2025-01-15 00:00", tz="Asia/Shanghai")
        events = contracts.load_validation(f"samples/{name}/validation.csv", data_root=PROJECT_DATA)
        assert set(events["phase"]) == {"baseline", "test"}
        assert len(events) == len(_validation(PROJECT_DATA / "samples" / name))
