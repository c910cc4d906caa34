"""`spike scan` streamed in chunks (spikekit.chapters.early_warning_scan): the same table and the same errors as loading the
whole file and scanning it, whatever the chunk size and row order."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from spikekit import cli
from spikekit.inputs import contracts
from spikekit.chapters import early_warning_scan as scanstream, early_warning as signals
from spikekit.core.errors import InputError

TZ = "Asia/Shanghai"


def _signals(days: int = 50, seed: int = 0) -> pd.DataFrame:
    """Hourly counts for 9 series (3 take off at the end), one hourly search index, two weekly series."""
    rng = np.random.default_rng(seed)
    hours = pd.date_range("2025-01-01 01:00", periods=days * 24, freq="h")
    frames = []
    for i in range(9):
        rate = np.full(len(hours), 5.0 + 3 * i)
        if i % 3 == 0:  # a take-off over the last five days
            rate[-120:] *= np.linspace(1, 12, 120)
        frames.append(pd.DataFrame({"keyword": f"kw{i // 3}", "platform": ["douyin", "taobao", "xhs"][i % 3],
                                    "metric": "interactions", "timestamp": hours, "value": rng.poisson(rate)}))
    frames.append(pd.DataFrame({"keyword": "kw0", "platform": "douyin", "metric": "search_index",
                                "timestamp": hours, "value": rng.integers(40, 60, len(hours))}))
    weeks = pd.date_range("2024-06-02", hours[-1], freq="7D")
    frames.append(pd.DataFrame({"keyword": "露营椅", "platform": "google-trends:CN", "metric": "search_index",
                                "timestamp": weeks, "value": rng.integers(10, 30, len(weeks))}))
    # A weekly series with two rows on its day (09:00 and 21:00): in a shuffled file the two land in different
    # chunks, and only their combined day cell (one point at the earlier time) matches the whole-file scan.
    twice = pd.date_range("2024-06-09 09:00", hours[-1], freq="7D").append(
        pd.date_range("2024-06-09 21:00", hours[-1], freq="7D"))
    frames.append(pd.DataFrame({"keyword": "kw1", "platform": "weekly-report", "metric": "posts",
                                "timestamp": twice, "value": rng.integers(100, 130, len(twice))}))
    frame = pd.concat(frames, ignore_index=True)
    frame["timestamp"] = frame["timestamp"].dt.strftime("%Y-%m-%d %H:%M")
    return frame.sort_values(["keyword", "platform", "metric", "timestamp"], kind="stable").reset_index(drop=True)


def _in_memory(path, as_of=None, settings=None) -> pd.DataFrame:
    frame, _ = contracts.read_signals_any(path, tz=TZ)
    return signals.scan_table(frame, as_of=as_of, settings=settings or signals.DetectorSettings(tz=TZ))


def _error(call) -> str:
    with pytest.raises(InputError) as caught:
        call()
    return str(caught.value)


@pytest.fixture(scope="module")
def sorted_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("scan") / "signals.csv"
    _signals().to_csv(path, index=False)
    return path


@pytest.mark.parametrize("chunk_rows", [997, 1200, 5000, 10**7])
def test_streamed_scan_equals_the_in_memory_scan(sorted_csv, chunk_rows):
    expected = _in_memory(sorted_csv)
    # The data has known take-offs: a table of all-quiet series would make the comparison too easy.
    assert (expected["status"] != "quiet").sum() >= 3
    got, info = scanstream.scan_file(sorted_csv, settings=signals.DetectorSettings(tz=TZ), chunk_rows=chunk_rows)
    pdt.assert_frame_equal(got, expected)
    _, whole = contracts.read_signals_any(sorted_csv, tz=TZ)
    assert {k: info[k] for k in ("rows", "first", "last", "step_s")} == \
        {k: whole[k] for k in ("rows", "first", "last", "step_s")}
    assert info["as_of"] == pd.Timestamp(whole["last"])


def test_file_not_grouped_by_series_gives_the_same_table(tmp_path, sorted_csv):
    # Rows in random order: every series is spread over every chunk; per-chunk sums and counts add up to the
    # same day cells, and the first time of a cell is the smallest of its parts.
    shuffled = tmp_path / "shuffled.csv"
    pd.read_csv(sorted_csv, dtype=str).sample(frac=1.0, random_state=3).to_csv(shuffled, index=False)
    expected = _in_memory(sorted_csv)
    for chunk_rows in (1000, 4096):
        got, _ = scanstream.scan_file(shuffled, settings=signals.DetectorSettings(tz=TZ), chunk_rows=chunk_rows)
        pdt.assert_frame_equal(got, expected)


def test_as_of_and_lookback_match_the_in_memory_scan(sorted_csv):
    settings = signals.DetectorSettings(tz=TZ, lookback_days=30)
    as_of = "2025-02-15 12:30"
    got, info = scanstream.scan_file(sorted_csv, as_of=as_of, settings=settings, chunk_rows=1500)
    pdt.assert_frame_equal(got, _in_memory(sorted_csv, as_of=as_of, settings=settings))
    assert info["as_of"] == pd.Timestamp(as_of, tz=TZ)


def test_newest_row_off_the_first_chunks_day_grid(tmp_path):
    # The first chunk's newest row is 23:00; the file's newest row (a later series) is 12:30 the next day, so
    # the first chunk's day bins are not the final ones: the file is read again with as_of known.
    frame = _signals()
    extra = pd.DataFrame({"keyword": "zz", "platform": "douyin", "metric": "interactions",
                          "timestamp": pd.date_range("2025-01-20 12:30", "2025-02-20 12:30", freq="D")
                          .strftime("%Y-%m-%d %H:%M"), "value": 7})
    path = tmp_path / "late.csv"
    pd.concat([frame, extra], ignore_index=True).to_csv(path, index=False)
    got, info = scanstream.scan_file(path, settings=signals.DetectorSettings(tz=TZ), chunk_rows=2000)
    expected = _in_memory(path)
    pdt.assert_frame_equal(got, expected)
    assert info["as_of"] == pd.Timestamp("2025-02-20 12:30", tz=TZ)


def test_parquet_streamed_in_batches(tmp_path):
    frame = _signals()
    frame["timestamp"] = pd.to_datetime(frame["timestamp"]).dt.tz_localize(TZ)
    for column in ("keyword", "platform", "metric"):
        frame[column] = frame[column].astype("category")
    path = tmp_path / "signals.parquet"
    frame.to_parquet(path, row_group_size=3000)
    got, info = scanstream.scan_file(path, settings=signals.DetectorSettings(tz=TZ), chunk_rows=1024)
    pdt.assert_frame_equal(got, _in_memory(path))
    assert info["format"] == "parquet" and info["rows"] == len(frame)


def test_gbk_file_streams_like_the_loader_reads_it(tmp_path, sorted_csv):
    path = tmp_path / "gbk.csv"
    path.write_bytes(sorted_csv.read_text(encoding="utf-8").encode("gbk"))
    got, info = scanstream.scan_file(path, settings=signals.DetectorSettings(tz=TZ), chunk_rows=3000)
    assert info["encoding"] == "gb18030"
    pdt.assert_frame_equal(got, _in_memory(path))
    assert "露营椅" in set(got["keyword"])


def test_bad_value_in_a_late_chunk_names_its_row_in_the_whole_file(tmp_path):
    frame = _signals()
    frame["value"] = frame["value"].astype(object)
    frame.loc[len(frame) - 40, "value"] = "twelve"
    path = tmp_path / "bad.csv"
    lines = frame.to_csv(index=False).splitlines()
    lines.insert(100, "")  # a blank line earlier in the file: row numbers still count it
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    message = _error(lambda: scanstream.scan_file(path, settings=signals.DetectorSettings(tz=TZ), chunk_rows=1000))
    assert message == _error(lambda: contracts.read_signals_any(path, tz=TZ))
    bad_row = len(frame) - 40 + 2 + 1  # header, 1-based, the blank line
    assert f"row {bad_row}" in message and "value" in message and str(path) in message


def test_duplicate_key_across_a_chunk_border(tmp_path):
    frame = _signals()
    # The same hour twice, 1500 rows apart: with 1000-row chunks the two copies are in different chunks.
    twice = pd.concat([frame.iloc[:1500], frame.iloc[[10]], frame.iloc[1500:]], ignore_index=True)
    for name, table in (("sorted.csv", twice), ("shuffled.csv", twice.sample(frac=1.0, random_state=1))):
        path = tmp_path / name
        table.to_csv(path, index=False)
        message = _error(lambda: scanstream.scan_file(path, settings=signals.DetectorSettings(tz=TZ),
                                                      chunk_rows=1000))
        assert message == _error(lambda: contracts.read_signals_any(path, tz=TZ))
        assert "duplicate rows" in message


def test_empty_file_is_the_loaders_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("keyword,platform,metric,timestamp,value\n", encoding="utf-8")
    message = _error(lambda: scanstream.scan_file(path, settings=signals.DetectorSettings(tz=TZ)))
    assert "empty" in message and str(path) in message


def test_cli_scan_reads_through_the_stream(tmp_path, sorted_csv, capsys, monkeypatch):
    calls = []
    real = scanstream.scan_file
    monkeypatch.setattr(scanstream, "scan_file", lambda *a, **k: calls.append(a) or real(*a, **k))
    assert cli.main(["scan", str(sorted_csv), "--json"]) == 0
    assert calls and "spike scan: as of 2025-02-20 00:00 CST (the file's newest row)" in capsys.readouterr().err


def test_detector_batches_and_threads_give_the_same_table(sorted_csv, monkeypatch):
    # Scoring in batches of series on two threads must keep every number and the row order of one pass.
    frame, _ = contracts.read_signals_any(sorted_csv, tz=TZ)
    one_pass = signals.scan_table(frame, settings=signals.DetectorSettings(tz=TZ))
    monkeypatch.setattr(signals, "_DETECT_BATCH", 2)
    batched = signals.scan_table(frame, settings=signals.DetectorSettings(tz=TZ))
    pdt.assert_frame_equal(batched, one_pass)
    # The timeline's p-values and triggers, now made per reported cell, agree with the latest-bin ones.
    evaluations = signals.evaluate(frame, one_pass["eval_end"].max(), signals.DetectorSettings(tz=TZ))
    latest = evaluations[evaluations["eval_end"] == one_pass["eval_end"].max()]
    merged = one_pass.merge(latest, on=["keyword", "platform", "metric", "kind"], suffixes=("", "_timeline"))
    assert len(merged) >= 10
    assert (merged["trigger"] == merged["trigger_timeline"]).all()
    assert np.allclose(merged["p_value"], merged["p_value_timeline"], equal_nan=True)
    assert set(merged["trigger"]) >= {"", "week"}
