"""Sample scenarios: deterministic files, a consistent answer key, and stories that hold in the data."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spikekit import samples
from spikekit.core.errors import ConfigError

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
#
# Committed files and fresh generations are compared parsed, not byte for byte: the generator's floats go
# through exp/log of the machine's libm before they are rounded to the written decimals, so a value can round
# the other way on another machine, and a checkout may turn line ends into CRLF. Integers, texts and
# timestamps must be equal; a written decimal may differ by one unit in its last digit (a rounding flip).

_CSV_ROW_OFFSET = 2  # file line of a frame's row 0: the header is line 1


def _decimal_places(text: str) -> int | None:
    """Decimal places of a float as written ('12.50' -> 2, '1e-05' -> 5); None if it is not a float literal."""
    from decimal import Decimal, InvalidOperation

    if not any(c in text for c in ".eE") or text.lower() in {"nan", "inf", "-inf"}:
        return None
    try:
        return max(0, -Decimal(text).as_tuple().exponent)
    except (InvalidOperation, TypeError):
        return None


def _same_written_value(committed: str, fresh: str) -> bool:
    if committed == fresh:
        return True
    places = [_decimal_places(committed), _decimal_places(fresh)]
    if None in places:  # integers, texts, timestamps, empty cells: exactly
        return False
    a, b = float(committed), float(fresh)
    unit = 10.0 ** -max(places)  # one unit in the last written digit: a rounding flip
    return abs(a - b) <= max(unit, 1e-9 * max(abs(a), abs(b))) * (1 + 1e-9)


def _csv_differences(committed: Path, fresh: Path) -> list[str]:
    a = pd.read_csv(committed, dtype=str, keep_default_na=False)
    b = pd.read_csv(fresh, dtype=str, keep_default_na=False)
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return [f"{committed}: columns {list(a.columns)} and {len(a)} rows against {list(b.columns)} and {len(b)} rows"]
    problems = []
    for column in a.columns:
        x, y = a[column].to_numpy(), b[column].to_numpy()
        for row in np.flatnonzero(x != y):
            if not _same_written_value(x[row], y[row]):
                problems.append(f"{committed}: column {column!r}, line {row + _CSV_ROW_OFFSET}: {x[row]!r} against {y[row]!r}")
    return problems


def _json_differences(committed, fresh, path: str) -> list[str]:
    """Both parsed with floats kept as written text (json.loads(..., parse_float=str))."""
    if isinstance(committed, dict) and isinstance(fresh, dict):
        if set(committed) != set(fresh):
            return [f"{path}: keys {sorted(set(committed) ^ set(fresh))} in only one"]
        return [d for k in committed for d in _json_differences(committed[k], fresh[k], f"{path}.{k}")]
    if isinstance(committed, list) and isinstance(fresh, list):
        if len(committed) != len(fresh):
            return [f"{path}: {len(committed)} items against {len(fresh)}"]
        return [d for i, (x, y) in enumerate(zip(committed, fresh)) for d in _json_differences(x, y, f"{path}[{i}]")]
    if type(committed) is type(fresh) and committed == fresh:
        return []
    if isinstance(committed, str) and isinstance(fresh, str) and _same_written_value(committed, fresh):
        return []
    return [f"{path}: {committed!r} against {fresh!r}"]


def written_differences(committed: Path, fresh: Path) -> list[str]:
    """How a committed sample file differs from a fresh one, beyond what differs between machines."""
    if not committed.is_file():
        return [f"{committed} missing: run `python -m spikekit.samples`"]
    if committed.suffix == ".json":
        load = lambda path: json.loads(path.read_text("utf-8"), parse_float=str)  # noqa: E731
        return _json_differences(load(committed), load(fresh), str(committed))
    return _csv_differences(committed, fresh)


def assert_committed_equal_fresh(fresh: Path, names, file_names) -> None:
    problems = [d for name in names for file_name in file_names
                for d in written_differences(PROJECT_DATA / "samples" / name / file_name, fresh / name / file_name)]
    assert problems == [], f"committed samples differ from a fresh generation (run `python -m spikekit.samples`): {problems[:10]}"


def differences_from_committed(frame: pd.DataFrame, name: str, table: str, tmp_path: Path) -> list[str]:
    """A table made in the test, written as the generator writes it, against the committed file."""
    path = tmp_path / f"{name}-{table}.csv"
    samples._write_csv(frame, path)
    return written_differences(PROJECT_DATA / "samples" / name / f"{table}.csv", path)


def test_written_comparison_allows_a_rounding_flip_and_nothing_else(tmp_path):
    committed, fresh = tmp_path / "committed.csv", tmp_path / "fresh.csv"
    committed.write_text("timestamp,units,price,name\n2025-03-01 00:00:00,7,12.35,星空\n", encoding="utf-8")
    same = ["timestamp,units,price,name\r\n2025-03-01 00:00:00,7,12.35,星空\r\n",  # CRLF checkout
            "timestamp,units,price,name\n2025-03-01 00:00:00,7,12.34,星空\n",      # 12.345 rounded the other way
            "timestamp,units,price,name\n2025-03-01 00:00:00,7,12.36,星空\n"]
    changed = ["timestamp,units,price,name\n2025-03-01 00:00:00,8,12.35,星空\n",    # a count
               "timestamp,units,price,name\n2025-03-01 00:00:00,7,12.37,星空\n",    # two units
               "timestamp,units,price,name\n2025-03-01 01:00:00,7,12.35,星空\n",    # a time stamp
               "timestamp,units,price,name\n2025-03-01 00:00:00,7,12.35,星光\n",    # a text
               "timestamp,units,price,name\n2025-03-01 00:00:00,7,,星空\n",         # a value lost
               "timestamp,units,price,name\n2025-03-01 00:00:00,7,12.35,星空\n2025-03-01 00:00:00,7,12.35,星空\n"]
    for text in same:
        fresh.write_bytes(text.encode("utf-8"))
        assert written_differences(committed, fresh) == [], text
    for text in changed:
        fresh.write_bytes(text.encode("utf-8"))
        assert len(written_differences(committed, fresh)) == 1, text
    committed, fresh = tmp_path / "committed.json", tmp_path / "fresh.json"
    committed.write_text('{"rate": 0.1956, "units": 9127, "p": 0.012345678901234567, "peak": "2025-03-12"}')
    fresh.write_text('{"rate": 0.1957, "units": 9127, "p": 0.012345678901234566, "peak": "2025-03-12"}')
    assert written_differences(committed, fresh) == []
    for changed_json in ('{"rate": 0.1958, "units": 9127, "p": 0.012345678901234567, "peak": "2025-03-12"}',
                         '{"rate": 0.1956, "units": 9128, "p": 0.012345678901234567, "peak": "2025-03-12"}',
                         '{"rate": 0.1956, "units": 9127.0, "p": 0.012345678901234567, "peak": "2025-03-12"}',
                         '{"rate": 0.1956, "units": 9127, "p": 0.0123457, "peak": "2025-03-12"}',
                         '{"rate": 0.1956, "units": 9127, "p": 0.012345678901234567, "peak": "2025-03-13"}'):
        fresh.write_text(changed_json)
        assert len(written_differences(committed, fresh)) == 1, changed_json


def test_a_generation_in_another_process_equals_the_committed_files(tmp_path):
    """Same seed, another interpreter with another string-hash seed (set and dict order of strings differ
    between processes): every file equals the committed one, the stored expectation."""
    import os
    import subprocess
    import sys

    out = tmp_path / "other"
    code = ("import sys\nfrom spikekit import samples\n"
            "for name in samples.SCENARIOS: samples.generate(name, sys.argv[1] + '/' + name)")
    subprocess.run([sys.executable, "-c", code, str(out)], check=True, timeout=300,
                   env=dict(os.environ, PYTHONHASHSEED="12345"))
    for name in NAMES:
        written = sorted(p.name for p in (out / name).iterdir())
        committed = sorted(p.name for p in (PROJECT_DATA / "samples" / name).iterdir() if p.name != "upstream.json")
        assert written == committed, name
    assert_committed_equal_fresh(out, NAMES, written)


def test_committed_files_equal_a_fresh_generation(fresh):
    assert_committed_equal_fresh(fresh, NAMES, ("signals.csv", "validation.csv", "demand.csv", "truth.json"))


def test_another_seed_changes_the_noise_not_the_story(fresh, tmp_path):
    samples.generate("starry-mug", tmp_path, seed=7)
    assert (tmp_path / "signals.csv").read_bytes() != (fresh / "starry-mug" / "signals.csv").read_bytes()
    # Against this machine's generation with the scenario's seed, not the committed truth: the story's rounded
    # figures pass through libm, and only the seed may differ between the two generations.
    other = json.loads((tmp_path / "truth.json").read_text("utf-8"))
    base = json.loads((fresh / "starry-mug" / "truth.json").read_text("utf-8"))
    assert other["seed"] == 7 and base["seed"] != 7
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
    contracts = pytest.importorskip("spikekit.inputs.contracts")
    if not (hasattr(contracts, "load_signals") and hasattr(contracts, "load_validation")):
        pytest.skip("spikekit.inputs.contracts has no loaders yet")
    for name in NAMES:
        signals = contracts.load_signals(f"samples/{name}/signals.csv", data_root=PROJECT_DATA)
        assert len(signals) == 12 * 1824 and str(signals["timestamp"].dt.tz) == "Asia/Shanghai"
        assert signals["timestamp"].min() == pd.Timestamp("2025-01-15 00:00", tz="Asia/Shanghai")
        events = contracts.load_validation(f"samples/{name}/validation.csv", data_root=PROJECT_DATA)
        assert set(events["phase"]) == {"baseline", "test"}
        assert len(events) == len(_validation(PROJECT_DATA / "samples" / name))


# ------------------------------------------------------------------------------------------------------
# Chapters 03-05: suppliers, stock, warehouses, lanes, regional demand, urgent orders

SUPPLY_TABLES = ("suppliers", "stock", "warehouses", "lanes", "regional_demand", "urgent_orders")


def _table(folder: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{table}.csv", dtype={"supplier": str, "order_id": str, "timestamp": str})


def test_committed_supply_files_equal_a_fresh_generation(fresh):
    assert_committed_equal_fresh(fresh, NAMES, [f"{table}.csv" for table in SUPPLY_TABLES])


def test_supply_tables_have_their_own_random_streams(tmp_path):
    # Validation drawn alone, after a later table drew from its own stream and before the signals drew
    # anything, is still the committed file: each table's draws depend only on the seed and its name.
    scenario = samples.SCENARIOS["starry-mug"]
    samples.make_urgent_orders(scenario, samples._rng(scenario.seed, "urgent_orders"))
    validation = samples.make_validation(scenario, samples._rng(scenario.seed, "validation"))
    assert differences_from_committed(validation, "starry-mug", "validation", tmp_path) == []
    assert set(samples.TABLE_MAKERS) >= {"signals", "validation", "demand", *SUPPLY_TABLES}

@pytest.mark.parametrize("name", NAMES)
def test_supply_tables_are_realistic_and_complete(fresh, name):
    folder = fresh / name
    suppliers = _table(folder, "suppliers")
    tiers = suppliers["tier"].value_counts()
    assert 2 <= tiers["A"] <= 3 and tiers["B"] == 5 and 1 <= tiers.get("C", 0) <= 2
    assert suppliers["unit_cost"].between(8, 20).all() and suppliers["setup_cost"].between(100, 500).all()
    assert suppliers["daily_capacity"].between(30, 150).all() and suppliers["lead_days"].between(1, 3).all()
    assert suppliers["reliability"].between(0.85, 0.98).all()
    assert (suppliers["min_order"] <= suppliers["max_units"]).all() and suppliers["supplier"].is_unique

    stock = _table(folder, "stock")
    assert len(stock) == 1 and stock["price"].between(39, 59).all()
    assert (stock["salvage_value"] < stock["unit_cost"]).all() and (stock["unit_cost"] < stock["price"]).all()

    warehouses = _table(folder, "warehouses")
    assert sorted(warehouses["kind"]) == ["cloud", "cloud", "main"]
    assert warehouses.loc[warehouses["kind"] == "main", "city"].item() == "杭州"

    # Every warehouse x region lane exists exactly once, priced 4-15 yuan and 1-4 days by distance.
    lanes = _table(folder, "lanes")
    regional = _table(folder, "regional_demand")
    pairs = set(zip(lanes["warehouse"], lanes["region"]))
    assert len(pairs) == len(lanes) == len(warehouses) * len(regional)
    assert pairs == {(w, r) for w in warehouses["warehouse"] for r in regional["region"]}
    assert lanes["cost_per_order"].between(4, 15).all() and lanes["delivery_days"].between(1, 4).all()
    for warehouse, home in samples.WAREHOUSE_REGION.items():  # the home region is the cheapest, fastest lane
        own = lanes[lanes["warehouse"] == warehouse].set_index("region")
        assert own["cost_per_order"].idxmin() == home and own.loc[home, "delivery_days"] == 1

    # Shares as written in the file sum to 1 (two decimals, exact in decimal arithmetic).
    text_shares = [line.split(",")[1] for line in (folder / "regional_demand.csv").read_text("utf-8").splitlines()[1:]]
    assert sum(int(round(float(s) * 100)) for s in text_shares) == 100
    assert regional["normal_cost_per_order"].tolist() == [
        lanes.set_index(["warehouse", "region"]).loc[("杭州主仓", r), "cost_per_order"] + 1.5
        for r in regional["region"]]


def test_starry_mug_mirrors_the_handbook_supplier_case(fresh):
    suppliers = _table(fresh / "starry-mug", "suppliers").set_index("supplier")
    best_a = suppliers[suppliers["tier"] == "A"]["max_units"].idxmax()
    assert best_a == "杭州星辰陶瓷"
    assert tuple(suppliers.loc[best_a, ["max_units", "material_units", "material_ready_day"]]) == (300, 0, 3.0)
    tier_b = suppliers[suppliers["tier"] == "B"]
    with_material = tier_b[tier_b["material_units"] > 0]
    assert list(with_material.index) == ["潮州瓷都制品"] and with_material["material_units"].item() == 100
    # fast-fade: the same shop, but the best A supplier waits one day longer for material.
    fade = _table(fresh / "fast-fade", "suppliers").set_index("supplier")
    assert fade.loc["杭州星辰陶瓷", "material_ready_day"] == 4.0


def test_producible_units_by_hand():
    roster = pd.DataFrame(list(samples.SUPPLIERS), columns=list(samples.SUPPLIER_COLUMNS)).set_index("supplier")
    star, chaozhou, jingdezhen = roster.loc["杭州星辰陶瓷"], roster.loc["潮州瓷都制品"], roster.loc["景德镇青花窑"]
    # 杭州星辰陶瓷: 70% of 100 = 70 a day, nothing before material on day 3.
    assert samples.producible_units(star, 2) == 0
    assert samples.producible_units(star, 4) == 140  # days 3 and 4
    assert samples.producible_units(star, 10) == 300  # 8 x 70 = 560, capped at max_units
    # 潮州瓷都制品: 70% of 80 = 56 a day, material for 100 units until day 6.
    assert samples.producible_units(chaozhou, 1) == 56
    assert samples.producible_units(chaozhou, 5) == 100  # 5 x 56 = 280, but only 100 units of material
    assert samples.producible_units(chaozhou, 7) == 100 + 2 * 56
    # 景德镇青花窑: 42 a day from day 5; lead 2 days, so arriving by day 10 means made by day 8.
    assert samples.producible_units(jingdezhen, 8) == 4 * 42
    assert samples.producible_units(jingdezhen, 8, reserve_share=0.0) == 200  # 4 x 60 = 240, capped at 200


@pytest.mark.parametrize("name", NAMES)
def test_supplier_truth_matches_hand_sums(fresh, name):
    truth = json.loads((fresh / name / "truth.json").read_text("utf-8"))
    facts = truth["expected"]["suppliers"]
    # 70% of (100 + 40 + 30 + 80 + 120 + 150 + 100 + 60 + 150) a day = 581 a day, for 10 days.
    assert facts["capacity_at_reserve_over_horizon"] == 5810
    # Arriving by day 10 (caps, material, lead): 300 + 120 + 100 + 250 + 300 + 300 + 280 + 168; the
    # C supplier cannot reach its minimum order (500) in 10 days, so it does not count.
    assert facts["arrivable_by_day_10_total"] == 1818
    assert facts["per_supplier"]["佛山大宗陶瓷"]["min_order_reachable_by_day_10"] is False
    rate = samples.expected_presale_per_day(samples.SCENARIOS[name])
    assert facts["planned_demand_over_horizon"] == pytest.approx(10 * rate, abs=0.05)
    demand = pd.read_csv(fresh / name / "demand.csv").set_index("date")["units"]
    first, last = facts["horizon_dates"]
    assert pd.Timestamp(first) == _local(truth["default_as_of"]).normalize() + pd.Timedelta(days=1)
    assert facts["true_demand_over_horizon"] == pytest.approx(demand.loc[first:last].sum(), abs=0.05)
    assert facts["reserve_capacity_covers_planned_demand"] is True
    # starry-mug: the spike outgrows the validated rate; the reserve capacity cannot follow it alone.
    assert facts["reserve_capacity_covers_true_demand"] is (name != "starry-mug")


def test_planning_rate_is_what_the_validation_sees(fresh):
    # The noise-free pre-sale rate sits near what the generated validation data show (chapter 02).
    for name in NAMES:
        truth = json.loads((fresh / name / "truth.json").read_text("utf-8"))
        rate = truth["expected"]["logistics"]["planning_rate_per_day"]
        observed = truth["observed"]["validation_sales"] / 2
        assert observed == pytest.approx(rate, rel=0.2), name


@pytest.mark.parametrize("name", NAMES)
def test_main_warehouse_alone_and_the_peak(fresh, name):
    truth = json.loads((fresh / name / "truth.json").read_text("utf-8"))
    facts = truth["expected"]["logistics"]
    warehouses = _table(fresh / name, "warehouses")
    main = warehouses.loc[warehouses["kind"] == "main", "capacity_per_day"].item()
    observed_rate = truth["observed"]["validation_sales_at_default_as_of"] / 46 * 24  # chapter 02's view
    spike = name != "false-alarm"
    assert truth["expected"]["main_warehouse_alone_insufficient"] is spike
    assert (facts["planning_rate_per_day"] > main) is spike and (observed_rate > main) is spike
    assert warehouses["capacity_per_day"].sum() >= truth["peak_daily_units"]  # all three carry the peak
    assert facts["baseline_70_15_15_at_planning_rate"]["feasible"] is True
    assert facts["baseline_70_15_15_at_peak"]["feasible"] is (not spike)


def test_cheapest_allocation_by_hand():
    # Cost per order (lane + handling):   华东  华南  华北  华中  西南
    #   杭州主仓 (handling 1.5)            6.0   9.0   9.5   7.5  11.0
    #   广州云仓 (handling 5.0)           12.5   9.5  15.5  11.5  12.5
    #   成都云仓 (handling 5.0)           15.0  13.0  14.0  12.0   9.5
    # 杭州 saves most on 华东 (6.5), then 华北 (4.5), 华中 (4.0), 华南 (0.5); 西南 is cheaper from 成都.
    # At 72.12 a day 杭州 (55) takes all of 华东, 华北, 华中 (0.68 x 72.12 = 49.04) and 5.96 of 华南;
    # the rest of 华南 goes to 广州, 西南 to 成都.
    shares = dict(samples.DEFAULT_REGIONAL_SHARES)
    r = 72.12
    main_south = 55 - 0.68 * r
    hand = (0.38 * r * 6.0 + 0.18 * r * 9.5 + 0.12 * r * 7.5 + main_south * 9.0
            + (0.22 * r - main_south) * 9.5 + 0.10 * r * 9.5) / r
    result = samples.cheapest_allocation(r, shares)
    assert result["cost_per_order"] == pytest.approx(hand, abs=1e-4)
    assert result["orders_per_warehouse"] == {"杭州主仓": 55.0, "广州云仓": round(0.22 * r - main_south, 2),
                                              "成都云仓": round(0.10 * r, 2)}
    normal = 0.38 * 6.0 + 0.22 * 9.0 + 0.18 * 9.5 + 0.12 * 7.5 + 0.10 * 11.0  # 7.97
    assert result["normal_cost_per_order"] == pytest.approx(normal)
    # The handbook's 70/15/15 split, region by region.
    costs = {"华东": (6.0, 12.5, 15.0), "华南": (9.0, 9.5, 13.0), "华北": (9.5, 15.5, 14.0),
             "华中": (7.5, 11.5, 12.0), "西南": (11.0, 12.5, 9.5)}
    baseline = sum(shares[g] * (0.7 * m + 0.15 * gz + 0.15 * cd) for g, (m, gz, cd) in costs.items())
    assert samples.baseline_allocation(r, shares)["cost_per_order"] == pytest.approx(baseline, abs=1e-4)
    # More than the three warehouses can carry (55 + 250 + 200) has no allocation.
    assert samples.cheapest_allocation(506.0, shares) is None


@pytest.mark.parametrize("name", NAMES)
def test_urgent_orders_follow_the_story(fresh, name):
    orders = _table(fresh / name, "urgent_orders")
    truth = json.loads((fresh / name / "truth.json").read_text("utf-8"))
    scenario = samples.SCENARIOS[name]
    times = pd.to_datetime(orders["timestamp"], format="%Y-%m-%d %H:%M:%S")
    start = _local(truth["validation_window"][0])
    assert (times == times.dt.floor("h")).all()  # end-of-hour stamps
    assert times.min() >= start + SHIFT and times.max() <= start + pd.Timedelta(days=scenario.urgent_days)
    assert times.is_monotonic_increasing and orders["order_id"].is_unique
    assert set(orders["region"]) <= set(samples.WAREHOUSE_REGION.values())
    assert orders["distance_km"].between(1, 40).all() and orders["standard_hours"].between(6, 48).all()
    assert set(orders["promised_hours"]) <= {4.0, 6.0, 12.0, 24.0}
    assert (orders["courier_cost"] > 0).all() and orders["standard_cost"].between(5, 7).all()
    placed_day = (times - SHIFT).dt.strftime("%Y%m%d")
    assert (orders["order_id"].str[1:9] == placed_day).all()

    # Volume follows true demand: a few hundred in the two spikes, a handful in the false alarm.
    low, high = {"starry-mug": (200, 500), "fast-fade": (120, 400), "false-alarm": (3, 40)}[name]
    assert low <= len(orders) <= high
    per_day = placed_day.value_counts()
    if name == "starry-mug":
        assert per_day.idxmax() >= "20250312"  # still rising toward the 03-14 peak
    if name == "fast-fade":
        assert per_day.idxmax() in ("20250305", "20250306")

    # Clear cases both ways for the courier rule's default thresholds (15 km, at most 10 yuan more).
    near = orders["distance_km"] <= 15
    late = orders["standard_hours"] > orders["promised_hours"]
    extra = orders["courier_cost"] - orders["standard_cost"]
    clear_courier = near & late & (extra <= 8) & (orders["distance_km"] <= 10)
    clear_standard = (orders["standard_hours"] <= orders["promised_hours"] - 2) | (orders["distance_km"] > 20)
    assert clear_courier.any() and clear_standard.any()

    observed = truth["observed"]["urgent_orders"]
    as_of = _local(truth["default_as_of"])
    assert observed["orders"] == len(orders)
    assert observed["orders_at_default_as_of"] == int((times <= as_of).sum())
    assert observed["courier_candidates"] == int((near & late & (extra <= 10)).sum())
    assert observed["courier_candidates_at_default_as_of"] == int((near & late & (extra <= 10) & (times <= as_of)).sum())


def test_inventory_truth(fresh):
    for name in NAMES:
        truth = json.loads((fresh / name / "truth.json").read_text("utf-8"))
        facts = truth["expected"]["inventory"]
        stock = _table(fresh / name, "stock")
        assert facts["on_hand"] == stock["on_hand"].item() and facts["sku"] == stock["sku"].item()
        assert facts["on_hand_below_7_day_reorder_point"] is (name != "false-alarm")
        assert truth["observed"]["first_order_units_at_half_validation_sales"] == (
            truth["observed"]["validation_sales_at_default_as_of"] / 2)
    assert samples.load_truth("starry-mug")["observed"]["first_order_units_at_half_validation_sales"] == 63.5


def test_spike_files_name_the_supply_tables():
    settings = pytest.importorskip("spikekit.inputs.settings")
    for name in NAMES:
        spike = settings.load_spike(name)
        for table in SUPPLY_TABLES:
            assert spike.data[table] == f"samples/{name}/{table}.csv"
            assert spike.input_path(table).is_file()


@pytest.mark.parametrize("table", SUPPLY_TABLES)
def test_committed_supply_files_load_through_their_contracts(table):
    contracts = pytest.importorskip("spikekit.inputs.contracts")
    if table not in contracts.CONTRACTS:
        pytest.skip(f"no `{table}` contract in spikekit.inputs.contracts yet")
    loader = getattr(contracts, f"load_{table}", None)
    for name in NAMES:
        path = f"samples/{name}/{table}.csv"
        frame = contracts.load_table(path, contracts.CONTRACTS[table], data_root=PROJECT_DATA)
        assert len(frame) == len(_table(PROJECT_DATA / "samples" / name, table))
        if loader is not None:  # the wrapper also runs the cross-row checks (shares sum to 1, ...)
            checked = loader(path, data_root=PROJECT_DATA)
            assert len(checked) == len(frame)
        if table == "urgent_orders":
            assert str(frame["timestamp"].dt.tz) == "Asia/Shanghai"


# ------------------------------------------------------------------------------------------------------
# Chapters 06-07: daily sales with price changes; the hourly data room (traffic, funnel, audience, budget)

DATA_ROOM_TABLES = ("sales", "traffic", "funnel", "audience", "budget")
PLATFORMS6 = ("小红书", "抖音", "淘宝", "拼多多", "微信", "快手")


def _read(folder: Path, table: str) -> pd.DataFrame:
    frame = pd.read_csv(folder / f"{table}.csv", dtype={"timestamp": str, "platform": str, "source": str,
                                                         "segment": str})
    if "timestamp" in frame:
        frame["time"] = pd.to_datetime(frame["timestamp"], format="%Y-%m-%d %H:%M:%S")
    return frame


def _truth(folder: Path) -> dict:
    return json.loads((folder / "truth.json").read_text("utf-8"))


def test_committed_chapter_06_07_files_equal_a_fresh_generation(fresh):
    assert_committed_equal_fresh(fresh, NAMES, [f"{table}.csv" for table in DATA_ROOM_TABLES])


def test_chapter_06_07_tables_have_their_own_random_streams(tmp_path):
    scenario = samples.SCENARIOS["starry-mug"]
    traffic = samples.make_traffic(scenario, samples._rng(scenario.seed, "traffic"))
    funnel = samples.make_funnel(scenario, samples._rng(scenario.seed, "funnel"), traffic)
    samples.make_audience(scenario, samples._rng(scenario.seed, "audience"), traffic)
    # Drawn after tables that come later in the generation, urgent orders are still the committed file.
    urgent = samples.make_urgent_orders(scenario, samples._rng(scenario.seed, "urgent_orders"))
    assert differences_from_committed(urgent, "starry-mug", "urgent_orders", tmp_path) == []
    assert differences_from_committed(funnel, "starry-mug", "funnel", tmp_path) == []
    # Another funnel stream redraws carts and orders but keeps the views, which are the traffic's visitors.
    other = samples.make_funnel(scenario, samples._rng(1, "funnel"), traffic)
    assert (other["views"] == funnel["views"]).all() and not (other["orders"] == funnel["orders"]).all()
    assert list(samples.TABLE_MAKERS)[9:14] == list(DATA_ROOM_TABLES)  # later chapters' tables follow


@pytest.mark.parametrize("name", NAMES)
def test_sales_follow_the_story(fresh, name):
    sales, truth = _read(fresh / name, "sales"), _truth(fresh / name)
    scenario = samples.SCENARIOS[name]
    assert len(sales) == 76 and sales["time"].is_monotonic_increasing
    assert sales["timestamp"].iloc[0] == "2025-01-16 00:00:00"  # end of 01-15, the first day counted
    assert sales["timestamp"].iloc[-1] == "2025-04-01 00:00:00"  # end of 03-31
    assert (sales["time"] == sales["time"].dt.normalize()).all() and (sales["orders"] >= 0).all()
    changes = {c["date"]: c for c in truth["expected"]["exit"]["price_changes"]}
    day = (sales["time"] - pd.Timedelta(days=1)).dt.strftime("%Y-%m-%d")
    assert sorted(day[sales["price"] != scenario.price]) == sorted(changes)
    for date, discount in scenario.price_changes:
        price = sales.loc[day == date, "price"].item()
        assert price == pytest.approx(round(scenario.price * (1 - discount), 2))
        assert changes[date]["orders_factor"] == pytest.approx((1 - discount) ** -2.0, abs=1e-4)
    # Expected orders by hand on one day: true demand x weekday factor x price factor.
    story = samples.expected_sales(scenario).set_index("date")
    demand = pd.read_csv(fresh / name / "demand.csv").set_index("date")["units"]
    assert story["demand"].round(2).to_dict() == demand.to_dict()
    if name == "starry-mug":
        row = story.loc["2025-03-21"]  # a Friday, 20% off
        friday = samples.SHOPPING_WEEKDAYS[4]
        assert row["expected_orders"] == pytest.approx(row["demand"] * friday * 0.8 ** -2.0)
        assert [c["price"] for c in changes.values()] == [44.1, 39.2, 34.3, 39.2, 34.3]
    # Totals within 4 sd of the negative-binomial expectation.
    mean = story["expected_orders"]
    sd = math.sqrt(float((mean + mean**2 / samples.SALES_DAY_SIZE).sum()))
    assert abs(sales["orders"].sum() - mean.sum()) < 4 * sd


def test_decline_rule_by_hand():
    fire = samples.decline_triggers
    assert fire([100, 80, 64, 51, 50]) == [3]  # -20%, -20%, -20.3%: the third drop fires
    assert fire([100, 80, 64, 70, 50, 40, 30]) == [6]  # a rise restarts the count
    assert fire([100, 84, 70, 59]) == [3]  # -16%, -16.7%, -15.7%
    assert fire([100, 86, 73, 62]) == []  # -14%, -15.1%, -15.1%: only two in a row
    assert fire([100, 80, 60, 40, 30, 20]) == [3]  # one run fires once
    weekly = [100, 100, 100, 100, 100, 60, 60] * 4  # a weekend dip repeated, no trend
    assert fire(weekly, window=7) == [] and fire(weekly, window=-7) == []
    assert fire([100] * 7 + [80, 64, 51], window=-7) == [9]
    # Trailing 3-day means of 90, 90, 90, 60, 30, 10, 0: 90, 80, 60, 33.3 -> three drops > 15% end at index 6.
    assert fire([90, 90, 90, 60, 30, 10, 0], window=3) == [6]


def test_decline_truth_matches_the_story(fresh):
    facts = {name: _truth(fresh / name)["expected"]["exit"] for name in NAMES}
    starry, fade, flat = facts["starry-mug"], facts["fast-fade"], facts["false-alarm"]
    assert "2025-03-17" <= starry["decline_trigger_date"] <= "2025-03-20"
    assert starry["decline_trigger_window"] == ["2025-03-17", "2025-03-20"]
    assert "2025-03-07" <= fade["decline_trigger_date"] <= "2025-03-09"
    assert all(v is None for v in flat["decline_trigger_by_smoothing"].values())
    assert flat["decline_trigger_date"] is None and flat["price_changes"] == []
    for fact in (starry, fade):
        assert fact["decline_trigger_on_true_demand"] == fact["decline_trigger_date"]
        assert fact["demand_peak_date"] < fact["decline_trigger_date"]
        # Discounts start after the trigger, so they cannot break the run that fires it.
        assert all(c["date"] > fact["decline_trigger_date"] for c in fact["price_changes"])
        assert fact["price_elasticity"] == -2.0
    # The trigger by hand on the noise-free searches: three drops > 15% in a row, ending on the trigger day.
    searches = samples.expected_daily_searches(samples.SCENARIOS["starry-mug"])
    change = searches / searches.shift(1) - 1
    assert (change.loc["2025-03-16":"2025-03-18"] < -0.15).all() and change.loc["2025-03-15"] >= -0.15
    assert starry["true_demand_until_default_as_of"] + starry["true_demand_after_default_as_of"] == pytest.approx(
        starry["true_demand_total"], abs=0.2)


def test_price_response_can_be_estimated_in_starry_mug(fresh):
    estimate = _truth(fresh / "starry-mug")["observed"]["sales"]["elasticity_oracle_estimate"]
    assert abs(estimate["estimate"] + 2.0) < 3 * estimate["se"] and estimate["se"] < 0.5
    assert _truth(fresh / "false-alarm")["observed"]["sales"]["elasticity_oracle_estimate"] is None


@pytest.mark.parametrize("name", NAMES)
def test_data_room_tables_cover_the_period_and_add_up(fresh, name):
    folder, truth = fresh / name, _truth(fresh / name)
    facts = truth["expected"]["data_room"]
    traffic, funnel, audience = (_read(folder, t) for t in ("traffic", "funnel", "audience"))
    first = _local(truth["validation_window"][0]) + pd.Timedelta(hours=1)
    last = _local(truth["default_as_of"]) + pd.Timedelta(days=7)
    hours = int((last - first) / pd.Timedelta(hours=1)) + 1
    assert hours == 218 == facts["hours"]
    assert traffic["time"].min() == first and traffic["time"].max() == last
    assert len(traffic) == hours * 6 * 4 and len(funnel) == hours * 6
    assert set(traffic["platform"]) == set(PLATFORMS6) == set(funnel["platform"]) == set(audience["platform"])
    assert set(traffic["source"]) == {"推荐", "搜索", "直播", "广告"}
    assert not traffic.duplicated(["timestamp", "platform", "source"]).any()
    # Funnel views are the hour's visitors; each step at most the one before.
    views = traffic.groupby(["timestamp", "platform"])["visitors"].sum()
    assert (funnel.set_index(["timestamp", "platform"])["views"].sort_index() == views.sort_index()).all()
    assert ((funnel["orders"] <= funnel["add_to_cart"]) & (funnel["add_to_cart"] <= funnel["views"])).all()
    # Audience: 12-hour windows stamped 00:00 / 12:00, wholly inside the period, 6 segments each, and a
    # window's visitors are the platform's traffic over its 12 hours.
    assert set(audience["time"].dt.hour) == {0, 12} and set(audience["time"].dt.minute) == {0}
    assert audience["time"].min() - pd.Timedelta(hours=12) >= first - pd.Timedelta(hours=1)
    assert audience["time"].max() == last and len(audience) == 18 * 6 * 6
    stamp = audience["time"].iloc[0]
    in_window = (traffic["time"] > stamp - pd.Timedelta(hours=12)) & (traffic["time"] <= stamp)
    by_platform = traffic[in_window].groupby("platform")["visitors"].sum()
    window = audience[audience["time"] == stamp].groupby("platform")["visitors"].sum()
    assert (window.sort_index() == by_platform.sort_index()).all()
    # Volumes follow the interest waves: each platform's busiest whole day is within a day of its wave's peak
    # (clamped to the period); the spikes fade by the end, the false alarm stays flat.
    day = (traffic["time"] - SHIFT).dt.normalize()
    daily = traffic.groupby([day, "platform"])["visitors"].sum().unstack("platform").iloc[1:-1]  # whole days
    scenario = samples.SCENARIOS[name]
    for platform, wave in facts["traffic_follows"].items() if scenario.real_trend else ():
        pulse = scenario.demand if wave == "demand" else scenario.interest[wave]
        peak = min(max(pd.Timestamp(pulse.peak).normalize(), daily.index[0]), daily.index[-1])
        assert abs(daily[platform].idxmax() - peak) <= pd.Timedelta(days=1), platform
    total = daily.sum(axis=1)
    if name == "false-alarm":
        assert total.max() < 1.6 * total.min()
    else:
        assert total.max() > 1.3 * total.iloc[-1]


def _pooled(rows: pd.DataFrame, platform: str) -> tuple[int, int]:
    mine = rows[rows["platform"] == platform]
    return int(mine["orders"].sum()), int(mine["views"].sum())


@pytest.mark.parametrize("name", NAMES)
def test_conversion_by_platform_matches_the_truth(fresh, name):
    truth = _truth(fresh / name)
    facts = truth["expected"]["data_room"]
    funnel = _read(fresh / name, "funnel")
    for platform, rate in facts["conversion_by_platform"].items():
        orders, views = _pooled(funnel, platform)
        assert abs(orders / views - rate) < 4 * math.sqrt(rate * (1 - rate) / views), platform
    if name == "starry-mug":
        conversion = facts["conversion_by_platform"]
        assert conversion["拼多多"] == 0.012 and conversion["抖音"] == 0.041
        assert 0.028 <= facts["average_conversion_of_the_others"]["拼多多"] <= 0.034
        # 拼多多's order/view over one whole day (03-14, the day 淘宝 interest peaks) is about 1.2%.
        day = funnel[(funnel["time"] - SHIFT).dt.strftime("%Y-%m-%d") == "2025-03-14"]
        orders, views = _pooled(day, "拼多多")
        assert views > 3000 and abs(orders / views - 0.012) < 4 * math.sqrt(0.012 * 0.988 / views)
    # At default as_of the last 24 hours already tell the story: the poor platform is credibly below the
    # pooled rate of the others and the strong one credibly above (two-proportion z); no platform stands out
    # in the false alarm.
    as_of = _local(truth["default_as_of"])
    last = funnel[(funnel["time"] > as_of - pd.Timedelta(hours=24)) & (funnel["time"] <= as_of)]

    def z(platform: str) -> float:
        k1, n1 = _pooled(last, platform)
        others = last[last["platform"] != platform]
        k0, n0 = int(others["orders"].sum()), int(others["views"].sum())
        pooled = (k1 + k0) / (n1 + n0)
        return (k1 / n1 - k0 / n0) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))

    observed = truth["observed"]["data_room"]["funnel_last_24h_at_default_as_of"]
    assert {p: _pooled(last, p) for p in PLATFORMS6} == {p: (v["orders"], v["views"]) for p, v in observed.items()}
    if facts["poor_platform"] is None:
        assert all(abs(z(p)) < 3 for p in PLATFORMS6)
    else:
        assert z(facts["poor_platform"]) < -3 and z(facts["strong_platform"]) > 2.5


@pytest.mark.parametrize("name", NAMES)
def test_audience_shift_holds_in_the_counts(fresh, name):
    truth = _truth(fresh / name)
    shift = truth["expected"]["data_room"]["audience_shift"]
    audience = _read(fresh / name, "audience")
    totals = audience.groupby(["platform", "time"])["visitors"].transform("sum")
    audience["share"] = audience["visitors"] / totals
    # Every other platform x segment holds still: each window's share within 4 binomial sd of the pooled one.
    pooled = audience.groupby(["platform", "segment"])["visitors"].sum()
    pooled = pooled / pooled.groupby(level="platform").transform("sum")
    expected = np.asarray(audience.set_index(["platform", "segment"]).index.map(pooled), dtype=float)
    steady = np.ones(len(audience), dtype=bool) if shift is None else (audience["platform"] != shift["platform"])
    sd = np.sqrt(expected * (1 - expected) / totals)
    assert (abs(audience["share"] - expected) < 4 * sd)[steady].all()
    if shift is None:
        return
    mine = audience[(audience["platform"] == shift["platform"]) & (audience["segment"] == shift["segment"])]
    mine = mine.set_index("time")
    at = _local(shift["at"])
    window_start = mine.index - pd.Timedelta(hours=12)
    before, after = mine[window_start < at], mine[window_start >= at]
    assert len(before) >= 2 and len(after) >= 2
    everyone = audience[audience["platform"] == shift["platform"]].groupby("time")["visitors"].sum()
    share_before = before["visitors"].sum() / everyone[before.index].sum()
    share_after = after["visitors"].sum() / everyone[after.index].sum()
    assert abs(share_before - shift["from_share"]) < 0.02 and abs(share_after - shift["to_share"]) < 0.02
    assert after.index.min() == _local(shift["first_window_showing_it"])
    for part, share in ((before, shift["from_share"]), (after, shift["to_share"])):
        n = everyone[part.index]
        assert (abs(part["share"] - share) < 4 * np.sqrt(share * (1 - share) / n)).all()
    if name == "starry-mug":
        assert (shift["platform"], shift["segment"], shift["from_share"], shift["to_share"]) == (
            "小红书", "女 25-35", 0.40, 0.65)
        # The first shifted window closes at the default as_of: the default run sees 40% -> 65%.
        assert shift["first_window_showing_it"] == truth["default_as_of"]
        by_window = truth["observed"]["data_room"]["audience_share_at_default_as_of"]["by_window"]
        shares = list(by_window.values())
        assert shares[-2]["share"] < 0.45 and shares[-1]["share"] > 0.6


def test_budget_and_the_handbook_move(fresh):
    for name in NAMES:
        budget = _read(fresh / name, "budget")
        assert list(budget["platform"]) == list(PLATFORMS6)
        assert budget["daily_budget"].between(500, 3000).all()
    move = _truth(fresh / "starry-mug")["expected"]["data_room"]["handbook_budget_move"]
    assert move == {"from": "拼多多", "to": "抖音", "share": 0.3, "yuan": 450.0}  # 30% of 1500 yuan
    assert _truth(fresh / "false-alarm")["expected"]["data_room"]["handbook_budget_move"] is None


def test_spike_files_name_the_chapter_06_07_tables():
    settings = pytest.importorskip("spikekit.inputs.settings")
    for name in NAMES:
        spike = settings.load_spike(name)
        for table in DATA_ROOM_TABLES:
            assert spike.data[table] == f"samples/{name}/{table}.csv"
            assert spike.input_path(table).is_file()


@pytest.mark.parametrize("table", DATA_ROOM_TABLES)
def test_committed_chapter_06_07_files_load_through_their_contracts(table):
    contracts = pytest.importorskip("spikekit.inputs.contracts")
    if table not in contracts.CONTRACTS:
        pytest.skip(f"no `{table}` contract in spikekit.inputs.contracts yet")
    loader = getattr(contracts, f"load_{table}", None)
    for name in NAMES:
        path = f"samples/{name}/{table}.csv"
        frame = contracts.load_table(path, contracts.CONTRACTS[table], data_root=PROJECT_DATA)
        assert len(frame) == len(_read(PROJECT_DATA / "samples" / name, table))
        if loader is not None:  # the wrapper also runs the cross-row checks (funnel steps, ...)
            assert len(loader(path, data_root=PROJECT_DATA)) == len(frame)
        if "timestamp" in frame:
            assert str(frame["timestamp"].dt.tz) == "Asia/Shanghai"


# --- chapters 08 (content) and 09 (cash) ----------------------------------------------------------------

MONEY_TABLES = ("posts", "cash", "settlement", "supplier_terms", "financing")


def _read_plain(folder: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{table}.csv", dtype={"timestamp": str, "platform": str, "format": str,
                                                       "supplier": str, "offer": str, "item": str})


def test_committed_chapter_08_09_files_equal_a_fresh_generation(fresh):
    assert_committed_equal_fresh(fresh, NAMES, [f"{table}.csv" for table in MONEY_TABLES])
    assert list(samples.TABLE_MAKERS)[14:19] == list(MONEY_TABLES)  # chapters 11-12 tables follow


def test_posts_have_their_own_random_stream(tmp_path):
    scenario = samples.SCENARIOS["starry-mug"]
    samples.make_traffic(scenario, samples._rng(scenario.seed, "traffic"))  # another table draws first
    posts = samples.make_posts(scenario, samples._rng(scenario.seed, "posts"))
    assert differences_from_committed(posts, "starry-mug", "posts", tmp_path) == []
    other = samples.make_posts(scenario, samples._rng(1, "posts"))
    assert not other["views"].equals(posts["views"])


@pytest.mark.parametrize("name", NAMES)
def test_posts_follow_the_story(fresh, name):
    posts, truth = _read_plain(fresh / name, "posts"), _truth(fresh / name)
    scenario = samples.SCENARIOS[name]
    assert len(posts) == scenario.posts_total and posts["post_id"].is_unique
    assert (posts["views"] >= posts["clicks"]).all() and (posts["clicks"] >= posts["orders"]).all()
    assert set(posts["format"]) == {"scenario", "unboxing", "testimonial"} and set(posts["platform"]) == set(PLATFORMS6)
    stamps = pd.to_datetime(posts["timestamp"], format="%Y-%m-%d %H:%M:%S")
    assert stamps.is_monotonic_increasing
    first, last = (_local(t) for t in (truth["expected"]["data_room"]["first_stamp"],
                                       truth["expected"]["data_room"]["last_stamp"]))
    assert stamps.min() >= first and stamps.max() <= last  # the data room's period
    per_cell = posts.groupby(["format", "platform"]).size()
    lucky = scenario.lucky_cell
    for cell, count in per_cell.items():
        assert count == 1 if cell == lucky else count >= 2, cell  # few posts per cell: shrinkage matters
    assert len(per_cell) == 18
    if lucky is not None:
        row = posts[(posts["format"] == lucky[0]) & (posts["platform"] == lucky[1])].iloc[0]
        assert (row["views"], row["clicks"], row["orders"]) == (150, 9, 4)
    observed = truth["observed"]["content"]
    assert observed["posts"] == len(posts) and observed["orders"] == int(posts["orders"].sum())


def test_testimonials_on_douyin_sell_best_in_starry_mug(fresh):
    truth = _truth(fresh / "starry-mug")
    content = truth["expected"]["content"]
    # By hand: click rate 4.5%, orders per click 0.20 x (抖音's 4.1% / usual 3%) x boost 1.6 -> 1.968% of views.
    assert content["true_rates"]["抖音"]["testimonial"]["order_rate"] == pytest.approx(0.045 * 0.20 * 0.041 / 0.03 * 1.6,
                                                                                    abs=1e-5)
    assert content["best_cell"] == {"format": "testimonial", "platform": "抖音"}
    posts = _read_plain(fresh / "starry-mug", "posts")
    cells = posts.groupby(["format", "platform"])[["views", "orders"]].sum()
    raw = cells["orders"] / cells["views"]
    # The lucky 微信 unboxing post (4 orders from 150 views, 2.7%) tops the raw table; pulled toward the
    # overall rate with a prior worth 2000 views it drops below the true best cell.
    assert raw.idxmax() == ("unboxing", "微信") and raw.max() == pytest.approx(4 / 150)
    overall = posts["orders"].sum() / posts["views"].sum()
    shrunk = (cells["orders"] + 2000 * overall) / (cells["views"] + 2000)
    assert shrunk.idxmax() == ("testimonial", "抖音")
    assert shrunk[("unboxing", "微信")] < shrunk[("testimonial", "抖音")]
    assert truth["observed"]["content"]["shrunk_top_cell"] == {"format": "testimonial", "platform": "抖音"}
    # With plenty of views the best cell's pooled rate sits near its true 1.97%.
    assert cells.loc[("testimonial", "抖音"), "views"] > 5000
    assert raw[("testimonial", "抖音")] == pytest.approx(0.01968, rel=0.25)


@pytest.mark.parametrize("name", NAMES)
def test_money_tables_are_complete(fresh, name):
    folder = fresh / name
    cash = _read_plain(folder, "cash").set_index("item")["amount"]
    assert list(cash.index) == ["cash_on_hand", "cash_floor", "other_products_budget"]
    if name == "starry-mug":
        assert cash.to_dict() == {"cash_on_hand": 20000.0, "cash_floor": 5000.0, "other_products_budget": 8000.0}
    settlement = _read_plain(folder, "settlement").set_index("platform")
    assert sorted(settlement.index) == sorted(PLATFORMS6)
    assert settlement.loc[["淘宝", "抖音", "小红书", "拼多多"], "lag_days"].tolist() == [7, 10, 14, 5]
    assert settlement[["fee_share", "refund_share"]].stack().between(0, 1).all()
    terms = _read_plain(folder, "supplier_terms")
    assert list(terms["supplier"]) == list(_read_plain(folder, "suppliers")["supplier"])  # every supplier, once
    assert terms["deposit_share"].between(0, 1).all() and (terms["balance_days"] >= 0).all()
    financing = _read_plain(folder, "financing")
    assert 3 <= len(financing) <= 4 and set(financing["kind"]) == {"purchase_loan", "receivable_advance", "presale"}
    assert (financing["term_days"] > 0).all() and (financing[["limit", "fee_share", "rate_annual"]] >= 0).all().all()


def test_financing_costs_by_hand(fresh):
    costs = _truth(fresh / "starry-mug")["expected"]["cash"]["financing_effective_annual_cost"]
    # Purchase loan 1.5% a month for 30 days: (1 + 0.18 x 30 / 365) ^ (365 / 30) - 1 = 19.56% a year.
    assert costs["银行采购贷"] == pytest.approx((1 + 0.18 * 30 / 365) ** (365 / 30) - 1, abs=1e-4)
    assert costs["银行采购贷"] == pytest.approx(0.1956, abs=1e-4)
    # Receivable advance 1% per 7 days: 1.01 ^ (365 / 7) - 1 = 68.0% a year.
    assert costs["平台应收提前回款"] == pytest.approx(0.6801, abs=1e-4)
    assert _truth(fresh / "starry-mug")["expected"]["cash"]["cheapest_financing"] == "银行采购贷"


def _hand_projection(folder: Path, facts: dict) -> pd.DataFrame:
    """Recompute the answer key's cash projection from the CSV files and the stated assumptions."""
    cash = _read_plain(folder, "cash").set_index("item")["amount"]
    settlement = _read_plain(folder, "settlement").set_index("platform")
    terms = _read_plain(folder, "supplier_terms").set_index("supplier")
    days = facts["horizon_days"] + 1
    flow = [0.0] * days
    sales_per_day = facts["planning_rate_per_day"] * facts["price"]
    for platform, share in facts["order_mix"].items():
        lag = int(settlement.loc[platform, "lag_days"])
        net = 1 - settlement.loc[platform, "fee_share"] - settlement.loc[platform, "refund_share"]
        for sold in range(1, days - lag):
            flow[sold + lag] += sales_per_day * share * net
    for order in facts["planned_purchases"]:
        deposit = terms.loc[order["supplier"], "deposit_share"]
        flow[0] -= deposit * order["cost"]
        due = order["last_arrival_day"] + int(terms.loc[order["supplier"], "balance_days"])
        if due < days:
            flow[due] -= (1 - deposit) * order["cost"]
    for day in range(1, days):
        flow[day] -= facts["planning_rate_per_day"] * facts["logistics_cost_per_order"] + facts["ad_spend_per_day"]
    closing = cash["cash_on_hand"] + pd.Series(flow).cumsum()
    return pd.DataFrame({"day": range(days), "closing": closing})


@pytest.mark.parametrize("name", NAMES)
def test_cash_gap_by_hand(fresh, name):
    truth = _truth(fresh / name)
    facts = truth["expected"]["cash"]
    projection = _hand_projection(fresh / name, facts)
    # The truth rounds the planning rate, the mix and the cost per order: a few yuan at most.
    assert projection["closing"].tolist() == pytest.approx(facts["closing_by_day"], abs=5.0)
    below = projection[projection["closing"] < facts["cash_floor"]]
    as_of_day = _local(truth["default_as_of"]).normalize()
    if name == "starry-mug":
        assert facts["purchases_total"] == 9127.0 and facts["deposits_day_0"] == pytest.approx(0.3 * 9127.0)
        assert projection["closing"].iloc[0] == pytest.approx(20000 - 0.3 * 9127)  # 17,261.90 after deposits
        gap_day = int(below["day"].iloc[0])
        assert str((as_of_day + pd.Timedelta(days=gap_day)).date()) == facts["gap_date"] == "2025-03-16"
        assert facts["gap_date_window"] == ["2025-03-14", "2025-03-18"]
        assert projection["closing"].iloc[gap_day - 1] >= 5000 > projection["closing"].iloc[gap_day]
        # With an equal split over platforms the gap still comes, two days later: within the tolerance.
        assert facts["gap_with_equal_platform_mix"]["gap_date"] == "2025-03-18"
    else:
        assert below.empty and facts["gap"] is False and facts["gap_date"] is None
    if name == "false-alarm":
        assert facts["planned_purchases"] == [] and facts["ad_spend_per_day"] == 0


def test_spike_files_name_the_chapter_08_09_tables():
    settings = pytest.importorskip("spikekit.inputs.settings")
    for name in NAMES:
        spike = settings.load_spike(name)
        for table in MONEY_TABLES:
            assert spike.data[table] == f"samples/{name}/{table}.csv"
            assert spike.input_path(table).is_file()


@pytest.mark.parametrize("table", MONEY_TABLES)
def test_committed_chapter_08_09_files_load_through_their_contracts(table):
    contracts = pytest.importorskip("spikekit.inputs.contracts")
    if table not in contracts.CONTRACTS:
        pytest.skip(f"no `{table}` contract in spikekit.inputs.contracts yet")
    loader = getattr(contracts, f"load_{table}", None)
    for name in NAMES:
        path = f"samples/{name}/{table}.csv"
        frame = contracts.load_table(path, contracts.CONTRACTS[table], data_root=PROJECT_DATA)
        assert len(frame) == len(_read_plain(PROJECT_DATA / "samples" / name, table))
        if loader is not None:
            assert len(loader(path, data_root=PROJECT_DATA)) == len(frame)


# --- chapters 11 (after-sales) and 12 (retrospective) ---------------------------------------------------

AFTER_TABLES = ("orders", "returns", "tickets", "faq", "reviews", "inspections", "members", "member_activity")


def _loaded(folder: Path, table: str) -> pd.DataFrame:
    from spikekit.inputs import contracts
    return getattr(contracts, f"load_{table}")(folder / f"{table}.csv", data_root=folder.parents[1])


def test_committed_chapter_11_12_files_equal_a_fresh_generation(fresh):
    assert_committed_equal_fresh(fresh, NAMES, [f"{table}.csv" for table in AFTER_TABLES])
    assert list(samples.TABLE_MAKERS)[-8:] == list(AFTER_TABLES)


@pytest.mark.parametrize("name", NAMES)
def test_chapter_11_12_files_load_and_span_the_after_sales_period(fresh, name):
    folder = fresh / name
    for table in AFTER_TABLES:
        frame = _loaded(folder, table)
        assert len(frame) > 0, table  # even false-alarm: the shop's usual business fills every table
        if "timestamp" in frame:
            stamps = frame["timestamp"].dt.tz_localize(None)
            assert stamps.min() >= pd.Timestamp("2025-01-15") and stamps.max() <= pd.Timestamp("2025-05-16"), table
    assert sum((folder / f"{t}.csv").stat().st_size for t in AFTER_TABLES) < 3e6


def test_orders_and_returns_draw_from_their_own_stream(tmp_path):
    scenario = samples.SCENARIOS["fast-fade"]
    samples.make_posts(scenario, samples._rng(scenario.seed, "posts"))  # a table in between draws first
    sales = samples.make_sales(scenario, samples._rng(scenario.seed, "sales"))
    orders = samples.make_orders(scenario, samples._rng(scenario.seed, "orders"), sales=sales)
    returns = samples.make_returns(scenario, samples._rng(scenario.seed, "returns"), orders=orders)
    assert differences_from_committed(orders, "fast-fade", "orders", tmp_path) == []
    assert differences_from_committed(returns, "fast-fade", "returns", tmp_path) == []
    # Another returns stream picks other orders from the same orders.
    other = samples.make_returns(scenario, samples._rng(1, "returns"), orders=orders)
    assert differences_from_committed(other, "fast-fade", "returns", tmp_path) != []


@pytest.mark.parametrize("name", NAMES)
def test_spike_orders_follow_sales_and_queue_at_the_peak(fresh, name):
    folder, truth = fresh / name, _truth(fresh / name)
    orders, sales = _loaded(folder, "orders"), _read_plain(folder, "sales")
    spike = orders[orders["product"] == samples.SPIKE_PRODUCT]
    per_day = spike["timestamp"].dt.tz_localize(None).dt.normalize().value_counts()
    days = pd.to_datetime(sales["timestamp"]) - pd.Timedelta(days=1)  # sales rows are stamped at the day's end
    assert per_day.reindex(days, fill_value=0).tolist() == sales["orders"].tolist()
    assert (orders["buyer_prior_returns"] <= orders["buyer_prior_orders"]).all()
    transit = (orders["delivered"] - orders["shipped"]).dt.total_seconds() / 86400
    assert transit.dropna().between(1, 4).all()
    late = (orders["shipped"] > orders["promised_ship"]).to_numpy()
    before = (orders["timestamp"] < pd.Timestamp(truth["demand_takeoff"])).to_numpy()
    assert not late[before].any()  # no queue before the spike
    as_of = pd.Timestamp(truth["default_as_of"])
    open_now = (orders["timestamp"] <= as_of) & (orders["shipped"].isna() | (orders["shipped"] > as_of))
    assert int(open_now.sum()) == truth["orders"]["unshipped_at_default_as_of"] > 0
    if name == "starry-mug":
        near_peak = (orders["timestamp"] - pd.Timestamp(truth["peak_time"])).abs() <= pd.Timedelta(days=3)
        assert late[near_peak.to_numpy()].mean() > 0.5 and truth["orders"]["max_delay_days"] > 2


def test_the_return_model_is_recoverable_from_the_files(fresh):
    from scipy.optimize import minimize

    folder, truth = fresh / "starry-mug", _truth(fresh / "starry-mug")
    orders, returns = _loaded(folder, "orders"), _loaded(folder, "returns")
    assert returns["order_id"].isin(orders["order_id"]).all()
    known = orders[orders["delivered"].notna()]
    y = known["order_id"].isin(returns["order_id"]).to_numpy(dtype=float)
    delay = ((known["shipped"] - known["promised_ship"]).dt.total_seconds() / 86400).clip(lower=0).to_numpy()
    prior = known["buyer_prior_orders"].to_numpy()
    rate = np.divide(known["buyer_prior_returns"].to_numpy(), prior, out=np.zeros(len(known)), where=prior > 0)
    x = np.column_stack([np.ones(len(known)), delay, (known["variant"] == "夜幕黑").to_numpy(),
                         (known["region"] == "西南").to_numpy(), rate]).astype(float)

    def loss(beta):
        z = x @ beta
        return np.sum(np.logaddexp(0, z) - y * z), x.T @ (1 / (1 + np.exp(-z)) - y)

    beta = minimize(loss, np.zeros(5), jac=True, method="BFGS").x
    model = truth["return_model"]
    assert abs(beta[0] - model["intercept"]) < 0.4
    assert abs(beta[1] - model["delay_days"]) < 0.12
    assert abs(beta[2] - model["variant"]["夜幕黑"]) < 0.5 and abs(beta[3] - model["region"]["西南"]) < 0.4
    assert beta[4] > 0


def test_delay_tickets_surge_about_fourfold_at_the_peak(fresh):
    folder, truth = fresh / "starry-mug", _truth(fresh / "starry-mug")
    tickets = _loaded(folder, "tickets")
    delay = tickets[tickets["type"] == "delay"]["timestamp"].dt.tz_localize(None)
    rates = truth["tickets"]["by_type"]["delay"]
    assert rates["peak_multiple"] == pytest.approx(4.0)
    baseline = (delay < pd.Timestamp("2025-03-01")).sum() / 45  # 01-15 .. 02-28
    assert baseline == pytest.approx(rates["baseline_per_day"], rel=0.25)
    peak = pd.Timestamp(rates["peak_day"][:19])
    hours = pd.date_range(peak - pd.Timedelta(days=3), peak + pd.Timedelta(days=3), freq="h", inclusive="left")
    mids = samples._days(hours.to_numpy().astype("datetime64[m]")) + 0.5 / 24
    expected = samples.ticket_rates(samples.SCENARIOS["starry-mug"], mids)["delay"].sum() / 24
    observed = ((delay >= hours[0]) & (delay < hours[-1] + pd.Timedelta(hours=1))).sum()
    assert abs(observed - expected) < 4 * np.sqrt(expected)  # Poisson around the truth
    assert expected / 6 > 3 * rates["baseline_per_day"]  # the week around the peak runs at over 3x normal
    answered = tickets["first_response"] - tickets["timestamp"]
    quiet = tickets["timestamp"].dt.tz_localize(None) < pd.Timestamp("2025-03-01")
    assert answered[quiet].median() < pd.Timedelta(hours=2) < answered[~quiet & (answered > pd.Timedelta(0))].quantile(0.9)


@pytest.mark.parametrize("name", NAMES)
def test_ticket_texts_vary_and_most_routine_questions_have_an_faq_entry(fresh, name):
    tickets, truth = _loaded(fresh / name, "tickets"), _truth(fresh / name)
    faq = _loaded(fresh / name, "faq")
    assert len(faq) >= 20 and set(faq["type"]) == set(samples.TICKET_TEXTS)
    assert all(len(texts) >= 15 for texts in samples.TICKET_TEXTS.values())
    assert {f for texts in samples.TICKET_TEXTS.values() for _, f in texts if f} <= set(faq["faq_id"])
    assert tickets["text"].nunique() > 0.4 * len(tickets)
    assert 0.62 < truth["tickets"]["routine_with_faq_answer_share"] < 0.8
    assert ((tickets["customer_kind"] == "paid") == (tickets["order_id"] != "")).all()


def test_reviews_turn_negative_when_delays_peak(fresh):
    reviews, truth = _loaded(fresh / "starry-mug", "reviews"), _truth(fresh / "starry-mug")
    daily = pd.DataFrame(truth["reviews"]["daily_negative"], index=["reviews", "negative", "share"]).T
    daily.index = pd.to_datetime(daily.index)
    calm = daily[daily.index < pd.Timestamp("2025-03-01")]
    delayed = daily[(daily.index >= pd.Timestamp("2025-03-15")) & (daily.index <= pd.Timestamp("2025-03-28"))]
    assert delayed["negative"].sum() / delayed["reviews"].sum() > 2 * calm["negative"].sum() / calm["reviews"].sum()
    assert int(daily["reviews"].sum()) == len(reviews)
    english = reviews["text"].str.match(r"^[A-Za-z]")
    assert 0.15 < english.mean() < 0.35
    # ratings follow the text: every negative template is rated 1-2, every positive one 4-5
    negative = {t for (label, _), texts in samples.REVIEW_TEXTS.items() if label == "negative" for t in texts}
    rated = reviews.dropna(subset=["rating"])
    assert rated.loc[rated["text"].isin(negative), "rating"].le(2).all()


@pytest.mark.parametrize("name", NAMES)
def test_inspections_cover_every_batch(fresh, name):
    inspections, truth = _loaded(fresh / name, "inspections"), _truth(fresh / name)
    rounds = inspections.groupby("batch_id")["round"].max()
    spike_batches = [b for b in rounds.index if not b.startswith("R")]
    assert all(rounds[b] == 3 for b in spike_batches) and all(rounds[b] == 1 for b in rounds.index if b.startswith("R"))
    assert (len(spike_batches) > 0) == bool(samples.SCENARIOS[name].planned_purchases)
    assert truth["inspections"]["worst_supplier"] == "潮州瓷都制品"


def test_retention_truth_matches_the_definitions_on_a_hand_made_cohort():
    spike, other = samples.SPIKE_PRODUCT, "陶瓷杯垫"
    rows = [  # buyer, placed, product
        ("a", "2025-03-05 10:00", spike), ("a", "2025-03-05 20:00", other),  # within 24 h: not a repurchase
        ("b", "2025-03-06 10:00", spike), ("b", "2025-03-08 10:00", other),  # repurchase
        ("c", "2025-03-06 10:00", spike), ("c", "2025-05-10 10:00", other),  # after 60 days: no
        ("d", "2025-02-01 10:00", spike), ("d", "2025-03-07 10:00", spike),  # first order before the cohort
        ("e", "2025-04-29 10:00", spike), ("e", "2025-04-30 09:00", spike),  # within 24 h
        ("f", "2025-03-20 10:00", spike), ("f", "2025-04-20 10:00", spike),  # repurchase
        ("g", "2025-05-01 10:00", spike),  # after as_of: not in the cohort
    ]
    orders = pd.DataFrame(rows, columns=["buyer_id", "timestamp", "product"])
    members = pd.DataFrame({"buyer_id": ["a", "b", "c", "f"],
                            "timestamp": ["2025-03-06 10:00", "2025-04-30 11:00", "2025-05-01 10:00", "2025-03-21 09:00"]})
    activity = pd.DataFrame({"buyer_id": ["a", "b", "f"],
                             "timestamp": ["2025-04-10 00:00", "2025-03-31 00:00", "2025-04-30 00:00"]})
    out = samples.retention_observed(orders, members, activity, "2025-04-30 12:00", "2025-03-01 00:00")
    assert out["cohort_size"] == 5  # a b c e f
    assert (out["community_join"]["count"], out["repurchase"]["count"]) == (2, 2)  # a f ; b f
    # b joined 55 days after its first order (not a join within 30 days) but is a member: a b f; active a f
    assert (out["member_monthly_activity"]["count"], out["member_monthly_activity"]["of"]) == (2, 3)


@pytest.mark.parametrize("name", NAMES)
def test_retention_truth_recomputes_from_the_files(fresh, name):
    folder, truth = fresh / name, _truth(fresh / name)
    plain = {t: pd.read_csv(folder / f"{t}.csv", dtype=str, keep_default_na=False)
             for t in ("orders", "members", "member_activity")}
    kept = truth["retention"]
    again = samples.retention_observed(plain["orders"], plain["members"], plain["member_activity"], kept["as_of"],
                                       kept["cohort_start"])
    assert again == kept
    if name == "starry-mug":  # the handbook's case: 18% join, 12% repurchase, 35% monthly activity
        assert kept["community_join"]["rate"] == pytest.approx(0.18, abs=0.02)
        assert kept["repurchase"]["rate"] == pytest.approx(0.12, abs=0.02)
        assert kept["member_monthly_activity"]["rate"] == pytest.approx(0.35, abs=0.04)


# ------------------------------------------------------------------------------------------------------
# Upstream fixtures (data/samples/<spike>/upstream.json) against a fresh run: what counts as the same


def _stored_upstream(name: str) -> dict:
    return json.loads((PROJECT_DATA / "samples" / name / "upstream.json").read_text("utf-8"))


def test_fixture_comparison_tolerates_machine_noise_in_fitted_numbers():
    from spikekit.engine.fixtures import fixture_differences, upstream_differences

    stored = _stored_upstream("starry-mug")
    fresh = json.loads(json.dumps(stored))
    # Another machine's optimiser: chapter 06's Bass fit lands differently in the 7th digit elsewhere (issue 12).
    estimate = stored["06"]["remaining_demand"]["estimate"]
    fresh["06"]["remaining_demand"]["estimate"] = estimate * (1 - 3e-7)
    fresh["06"]["fit_params"]["q"] *= 1 + 3e-7
    # A rounding flip of a fitted number printed in a text.
    printed = f"{estimate:.0f} spike units"
    assert printed in stored["06"]["headline"]
    fresh["06"]["headline"] = fresh["06"]["headline"].replace(printed, f"{round(estimate) + 1} spike units")
    assert upstream_differences(fresh, stored) == []
    # The old tolerance (rel 1e-9) called both fitted numbers a failure.
    assert sorted(d.split(":")[0] for d in fixture_differences(fresh, stored, rel_tol=1e-9)) == [
        ".06.fit_params.q", ".06.remaining_demand.estimate"]


def test_fixture_comparison_allows_the_early_bass_fit_its_spread_and_nothing_else():
    """fast-fade as of its default moment has a few days of rise: the fit's market size m is loosely pinned (it
    came out 117.01 on one machine and 115.26 on another with the same call and peak window), so chapter 06's
    fit compares within 5%; the same spread anywhere else, or in a call, is a change."""
    from spikekit.engine.fixtures import upstream_differences

    stored = _stored_upstream("fast-fade")
    fresh = json.loads(json.dumps(stored))
    r6 = fresh["06"]
    m = stored["06"]["fit_params"]["m"]
    r6["fit_params"]["m"] = m * 0.985
    for key in ("estimate", "low", "high"):
        r6["remaining_demand"][key] *= 0.97
    printed = f"{stored['06']['remaining_demand']['estimate']:.0f} spike units"
    assert printed in r6["headline"]
    r6["headline"] = r6["headline"].replace(printed, f"{r6['remaining_demand']['estimate']:.0f} spike units")
    assert upstream_differences(fresh, stored) == []
    peak = stored["06"]["headline"].split("peak ", 1)[1][:5]  # MM-DD
    for chapter, change in (("02", lambda r: r["daily_demand"].__setitem__("estimate", r["daily_demand"]["estimate"] * 1.015)),
                            ("06", lambda r: r["fit_params"].__setitem__("m", m * 1.06)),
                            ("06", lambda r: r.__setitem__("exit_decision", "brake")),
                            ("06", lambda r: r.__setitem__("headline", r["headline"].replace(f"peak {peak}", "peak 12-31")))):
        changed = json.loads(json.dumps(stored))
        change(changed[chapter])
        assert len(upstream_differences(changed, stored)) == 1, chapter


def _replace_once(text: str, old: str, new: str) -> str:
    assert old in text, (old, text)
    return text.replace(old, new, 1)


def _peak_in_headline(r: dict) -> str:
    return r["headline"].split("peak ", 1)[1][:5]


def _cost_in_headline(r: dict) -> str:
    return r["headline"].split(" yuan/order", 1)[0].rsplit(" ", 1)[1]


@pytest.mark.parametrize("change, where", [
    (lambda r: r["02"].__setitem__("decision", "no-go"), ".02.decision"),
    (lambda r: r["02"].__setitem__("validation_sales", 133), ".02.validation_sales"),
    (lambda r: r["02"]["poll_lift"].__setitem__("available", 1), ".02.poll_lift.available"),
    (lambda r: r["03"]["purchase_orders"]["records"][0].__setitem__("units", 39), ".03.purchase_orders.records[0].units"),
    (lambda r: r["11"]["return_model"].__setitem__("intercept", r["11"]["return_model"]["intercept"] * 1.002),
     ".11.return_model.intercept"),
    (lambda r: r["06"]["remaining_demand"].__setitem__("estimate", None), ".06.remaining_demand.estimate"),
    (lambda r: r["01"]["first_alert"].__setitem__("value", "2025-03-08T12:00:00+08:00"), ".01.first_alert.value"),
    (lambda r: r["06"].__setitem__("headline", _replace_once(r["06"]["headline"], f"peak {_peak_in_headline(r['06'])}",
                                                            "peak 12-31")), ".06.headline"),
    (lambda r: r["05"].__setitem__("headline", _replace_once(
        r["05"]["headline"], f"{_cost_in_headline(r['05'])} yuan", f"{float(_cost_in_headline(r['05'])) + 0.02:.2f} yuan")),
     ".05.headline"),
    (lambda r: r["06"].__setitem__("headline", r["06"]["headline"].replace("hold course", "exit")), ".06.headline"),
    (lambda r: r["03"]["purchase_orders"]["records"].pop(), ".03.purchase_orders.records"),
    (lambda r: r["12"].pop("readiness_score"), ".12"),
], ids=["decision", "count", "bool-vs-int", "ordered-units", "fitted-0.2%", "fitted-lost", "timestamp",
        "date-in-text", "two-units-in-text", "word-in-text", "row-lost", "key-lost"])
def test_fixture_comparison_catches_a_changed_decision(change, where):
    from spikekit.engine.fixtures import upstream_differences

    stored = _stored_upstream("starry-mug")
    fresh = json.loads(json.dumps(stored))
    change(fresh)
    differences = upstream_differences(fresh, stored)
    assert len(differences) == 1 and differences[0].startswith(where + ":"), differences
