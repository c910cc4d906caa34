"""Input contracts and loaders: every bad input names file, column, rows and fix; every good one loads clean."""
from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikekit.inputs import contracts as sc
from spikekit.core.errors import ConfigError, InputError

ROOT = Path(__file__).resolve().parents[1]
SIGNALS_HEADER = "keyword,platform,timestamp,value,metric\n"


def write(root: Path, name: str, text: str, encoding: str = "utf-8") -> str:
    (root / name).write_bytes(text.encode(encoding))
    return name


def signals_csv(root: Path, rows: list[str], name: str = "signals.csv", header: str = SIGNALS_HEADER) -> str:
    return write(root, name, header + "".join(r + "\n" for r in rows))


def load(root: Path, name: str, **kw) -> pd.DataFrame:
    return sc.load_signals(name, data_root=root, **kw)


def error_of(func, *args, **kw) -> InputError:
    with pytest.raises(InputError) as info:
        func(*args, **kw)
    return info.value


# ---------------------------------------------------------------------------------------------------- good files


def test_csv_loads_typed_sorted_with_provenance(tmp_path):
    name = signals_csv(
        tmp_path,
        [
            "kw2,douyin,2025-03-01 11:00,7,interactions",
            "kw1,douyin,2025-03-01 10:00,5,interactions",
            "kw1,douyin,2025-03-01 09:00,3,interactions",
        ],
    )
    df = load(tmp_path, name)
    assert list(df.columns) == ["keyword", "platform", "timestamp", "value", "metric"]
    assert list(df["keyword"]) == ["kw1", "kw1", "kw2"]
    assert list(df["value"]) == [3.0, 5.0, 7.0]
    assert list(df.index) == [0, 1, 2]
    for column in ("keyword", "platform", "metric"):
        assert isinstance(df[column].dtype, pd.CategoricalDtype)
    assert df["value"].dtype == np.float64
    assert str(df["timestamp"].dtype) == "datetime64[ns, Asia/Shanghai]"
    assert df["timestamp"].iloc[0] == pd.Timestamp("2025-03-01 09:00", tz="Asia/Shanghai")
    source = df.attrs["source"]
    assert source["sha256"] == hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
    assert source["format"] == "csv" and source["encoding"] == "utf-8" and source["rows"] == 3
    assert source["path"] == str(tmp_path / name)


def test_gbk_file_with_chinese_keywords(tmp_path):
    text = SIGNALS_HEADER + "露营椅,抖音,2025-03-01 10:00,5,interactions\n星空灯,小红书,2025-03-01 10:00,2,interactions\n"
    raw_bytes = text.encode("gbk")
    (tmp_path / "gbk.csv").write_bytes(raw_bytes)
    df = load(tmp_path, "gbk.csv")
    assert set(df["keyword"]) == {"露营椅", "星空灯"}
    assert set(df["platform"]) == {"抖音", "小红书"}
    assert df.attrs["source"]["encoding"] == "gb18030"
    # Latin-1 would "succeed" on these bytes and produce mojibake; the loader must not go there.
    mojibake = "露营椅".encode("gbk").decode("latin-1")
    assert mojibake not in set(df["keyword"])


def test_utf8_bom_header_is_clean(tmp_path):
    (tmp_path / "bom.csv").write_bytes(
        (SIGNALS_HEADER + "露营椅,抖音,2025-03-01 10:00,5,interactions\n").encode("utf-8-sig")
    )
    df = load(tmp_path, "bom.csv")
    assert df.attrs["source"]["encoding"] == "utf-8-sig"
    assert list(df["keyword"]) == ["露营椅"]


@pytest.mark.parametrize("sep", [";", "\t"])
def test_separator_is_sniffed(tmp_path, sep):
    header = SIGNALS_HEADER.replace(",", sep)
    rows = [sep.join(["kw", "weibo", "2025-03-01 10:00", "1.5", "posts"])]
    df = load(tmp_path, signals_csv(tmp_path, rows, header=header))
    assert df.attrs["source"]["separator"] == sep
    assert df["value"].iloc[0] == 1.5


def test_xlsx_first_sheet_datetimes_localized(tmp_path):
    frame = pd.DataFrame(
        {
            "keyword": ["露营椅", "露营椅"],
            "platform": ["抖音", "抖音"],
            "timestamp": pd.to_datetime(["2025-03-01 10:00", "2025-03-01 09:00"]),
            "value": [5, 3],
            "metric": ["interactions", "interactions"],
        }
    )
    with pd.ExcelWriter(tmp_path / "s.xlsx", engine="openpyxl") as writer:
        frame.to_excel(writer, sheet_name="data", index=False)
        frame.head(0).to_excel(writer, sheet_name="other", index=False)
    df = load(tmp_path, "s.xlsx")
    assert df.attrs["source"]["format"] == "xlsx"
    assert list(df["value"]) == [3.0, 5.0]
    assert df["timestamp"].iloc[0] == pd.Timestamp("2025-03-01 09:00", tz="Asia/Shanghai")


def test_xlsx_bad_cell_reports_sheet_row(tmp_path):
    frame = pd.DataFrame(
        {"keyword": ["a", "b", "c"], "platform": ["p"] * 3, "timestamp": ["2025-03-01"] * 3,
         "value": [1, "lots", 2], "metric": ["m"] * 3}
    )
    frame.to_excel(tmp_path / "bad.xlsx", index=False)
    err = error_of(load, tmp_path, "bad.xlsx")
    assert err.column == "value" and err.rows == [3] and "bad.xlsx" in str(err)


def test_parquet_aware_timestamps_converted_and_categories_kept(tmp_path):
    frame = pd.DataFrame(
        {
            "keyword": pd.Categorical(["b", "a", "a"]),
            "platform": ["x", "x", "x"],
            "timestamp": pd.to_datetime(["2025-03-01T02:00Z", "2025-03-01T03:00Z", "2025-03-01T02:00Z"]),
            "value": [1.0, 2.0, 3.0],
            "metric": ["posts"] * 3,
            "note": ["extra"] * 3,
        }
    )
    frame.to_parquet(tmp_path / "s.parquet")
    df = load(tmp_path, "s.parquet")
    assert list(df["keyword"]) == ["a", "a", "b"]
    assert list(df["value"]) == [3.0, 2.0, 1.0]
    assert df["timestamp"].iloc[0] == pd.Timestamp("2025-03-01 10:00", tz="Asia/Shanghai")
    assert str(df["timestamp"].dtype) == "datetime64[ns, Asia/Shanghai]"
    assert df.attrs["source"]["format"] == "parquet"


def test_parquet_naive_timestamps_are_local(tmp_path):
    frame = pd.DataFrame(
        {"keyword": ["a"], "platform": ["x"], "timestamp": pd.to_datetime(["2025-03-01 10:00"]),
         "value": [1.0], "metric": ["posts"]}
    )
    frame.to_parquet(tmp_path / "n.parquet")
    df = load(tmp_path, "n.parquet", tz="Europe/Paris")
    assert df["timestamp"].iloc[0] == pd.Timestamp("2025-03-01 09:00", tz="UTC")


def test_parquet_negative_value_row(tmp_path):
    frame = pd.DataFrame(
        {"keyword": ["a", "b", "c"], "platform": ["x"] * 3,
         "timestamp": pd.date_range("2025-03-01", periods=3, freq="h", tz="UTC"),
         "value": [1.0, 2.0, -3.0], "metric": ["posts"] * 3}
    )
    frame.to_parquet(tmp_path / "neg.parquet")
    err = error_of(load, tmp_path, "neg.parquet")
    assert err.column == "value" and err.rows == [4]


def test_extra_columns_ignored_and_reported(tmp_path):
    name = signals_csv(tmp_path, ["kw,douyin,2025-03-01,1,posts,hello"], header=SIGNALS_HEADER.strip() + ",note\n")
    df = load(tmp_path, name)
    assert "note" not in df.columns
    assert df.attrs["source"]["ignored_columns"] == ["note"]


def test_header_case_and_cell_whitespace_tolerated(tmp_path):
    name = signals_csv(
        tmp_path, [" kw ,douyin,2025-03-01,1,posts"], header="Keyword,Platform,Timestamp,Value,Metric\n"
    )
    df = load(tmp_path, name)
    assert list(df["keyword"]) == ["kw"]


def test_blank_rows_skipped_and_row_numbers_kept(tmp_path):
    text = SIGNALS_HEADER + "a,x,2025-03-01 00:00,1,posts\n\n,,,,\na,x,2025-03-01 01:00,oops,posts\n\n"
    err = error_of(load, tmp_path, write(tmp_path, "blank.csv", text))
    assert err.rows == [5] and err.column == "value"


def test_xlsx_blank_row_skipped(tmp_path):
    frame = pd.DataFrame(
        {"keyword": ["a", None, "b"], "platform": ["x", None, "x"], "timestamp": ["2025-03-01", None, "2025-03-01"],
         "value": [1, None, -1], "metric": ["m", None, "m"]}
    )
    frame.to_excel(tmp_path / "gap.xlsx", index=False)
    err = error_of(load, tmp_path, "gap.xlsx")
    assert err.column == "value" and err.rows == [4]


def test_parquet_date_column_and_int_values(tmp_path):
    import datetime

    frame = pd.DataFrame(
        {"keyword": ["a", "a"], "platform": ["x", "x"],
         "timestamp": [datetime.date(2025, 3, 2), datetime.date(2025, 3, 1)],
         "value": pd.array([4, 3], dtype="int32"), "metric": ["posts", "posts"]}
    )
    frame.to_parquet(tmp_path / "d.parquet")
    df = load(tmp_path, "d.parquet")
    assert list(df["value"]) == [3.0, 4.0] and df["value"].dtype == np.float64
    assert df["timestamp"].iloc[0] == pd.Timestamp("2025-03-01", tz="Asia/Shanghai")


def test_validate_table_in_memory_drops_unused_categories():
    raw = pd.DataFrame(
        {
            "keyword": pd.Categorical(["b", "a"], categories=["zzz", "b", "a"]),
            "platform": pd.Categorical(["x", "x"], categories=["x", "unused"]),
            "timestamp": pd.to_datetime(["2025-03-01T00:00Z", "2025-03-01T00:00Z"]),
            "value": [1.0, 2.0],
            "metric": ["posts", "posts"],
        }
    )
    df = sc.validate_table(raw, sc.SIGNALS, file="frame")
    assert list(df["keyword"].cat.categories) == ["a", "b"]
    assert list(df["platform"].cat.categories) == ["x"]
    assert list(df["value"]) == [2.0, 1.0]


def test_sha256_known_answer(tmp_path):
    path = tmp_path / "abc.txt"
    path.write_bytes(b"abc")
    assert sc.sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


# ---------------------------------------------------------------------------------------------------- Google Trends

CLASSIC = (
    "Category: All categories\n"
    "\n"
    "Week,wordle: (Worldwide)\n"
    "2021-12-19,<1\n"
    "2021-12-26,<1\n"
    "2022-01-02,4\n"
    "2022-01-09,15\n"
)


def test_trends_classic_with_below_one(tmp_path):
    df = load(tmp_path, write(tmp_path, "multiTimeline.csv", CLASSIC))
    assert set(df["keyword"]) == {"wordle"}
    assert set(df["platform"]) == {"google-trends:Worldwide"}
    assert set(df["metric"]) == {"search_index"}
    assert list(df["value"]) == [0.5, 0.5, 4.0, 15.0]
    assert df["timestamp"].iloc[2] == pd.Timestamp("2022-01-02", tz="Asia/Shanghai")
    source = df.attrs["source"]
    assert source["format"] == "google-trends" and source["period"] == "week" and source["below_one"] == 2


def test_trends_read_raw_info(tmp_path):
    write(tmp_path, "t.csv", CLASSIC)
    raw, info = sc.read_raw(tmp_path / "t.csv")
    assert info["format"] == "google-trends" and info["period"] == "week" and info["below_one"] == 2
    assert list(raw.columns) == ["keyword", "platform", "timestamp", "value", "metric"]


@pytest.mark.parametrize(
    "category,time_word,geo",
    [("类别：所有类别", "semaine", "Japon"), ("Catégorie : Toutes catégories", "Semaine", "Japon")],
)
def test_trends_localized_header_crlf(tmp_path, category, time_word, geo):
    text = f"{category}\r\n\r\n{time_word},toilet paper: ({geo})\r\n2020-02-16,8\r\n2020-02-23,50\r\n2020-03-01,100\r\n"
    df = load(tmp_path, write(tmp_path, "tp.csv", text))
    assert set(df["keyword"]) == {"toilet paper"}
    assert set(df["platform"]) == {f"google-trends:{geo}"}
    assert list(df["value"]) == [8.0, 50.0, 100.0]
    assert df.attrs["source"]["period"] == "week"


def test_trends_two_terms_header_on_first_line(tmp_path):
    text = "Week,paneer tikka: (India),noodles: (India)\n2019-02-17,7,19\n2019-02-24,6,18\n"
    df = load(tmp_path, write(tmp_path, "two.csv", text))
    assert len(df) == 4
    assert df.groupby("keyword", observed=True)["value"].sum().to_dict() == {"noodles": 37.0, "paneer tikka": 13.0}
    assert set(df["platform"]) == {"google-trends:India"}


def test_trends_newer_export_monthly(tmp_path):
    text = '"Time","glazed donut nails"\n"2022-05-01",0\n"2022-06-01",4\n"2022-07-01",54\n"2022-08-01",100\n'
    df = load(tmp_path, write(tmp_path, "gdn.csv", text))
    assert df.attrs["source"]["period"] == "month"
    assert set(df["platform"]) == {"google-trends"}
    assert list(df["value"]) == [0.0, 4.0, 54.0, 100.0]


def test_trends_daily_period(tmp_path):
    text = "Category: All categories\n\nDay,labubu: (China)\n2025-03-01,10\n2025-03-02,12\n2025-03-03,30\n"
    df = load(tmp_path, write(tmp_path, "d.csv", text))
    assert df.attrs["source"]["period"] == "day"


def test_trends_bad_value_names_file_line(tmp_path):
    text = CLASSIC + "2022-01-16,n/a\n"
    err = error_of(load, tmp_path, write(tmp_path, "bad_trends.csv", text))
    assert err.rows == [8] and err.column == "wordle: (Worldwide)" and "bad_trends.csv" in str(err)


def test_trends_bad_date_names_file_line(tmp_path):
    text = CLASSIC.replace("2022-01-02", "soon")
    err = error_of(load, tmp_path, write(tmp_path, "bad_date.csv", text))
    assert err.rows == [6] and err.column == "timestamp"


# ---------------------------------------------------------------------------------------------------- time zones


def test_naive_times_localized_to_spike_zone(tmp_path):
    name = signals_csv(tmp_path, ["kw,douyin,2025-03-01 10:00:00,1,posts"])
    df = load(tmp_path, name, tz="America/New_York")
    assert df["timestamp"].iloc[0] == pd.Timestamp("2025-03-01 15:00", tz="UTC")
    assert str(df["timestamp"].dt.tz) == "America/New_York"


def test_offsets_normalised_to_same_instant(tmp_path):
    name = signals_csv(
        tmp_path,
        [
            "a,douyin,2025-03-01T10:00:00+08:00,1,posts",
            "b,douyin,2025-03-01T02:00:00Z,1,posts",
            "c,douyin,2025-03-01 03:00:00+01:00,1,posts",
            "d,douyin,2025-03-01T02:00:00.000+0000,1,posts",
        ],
    )
    df = load(tmp_path, name)
    assert df["timestamp"].nunique() == 1
    assert df["timestamp"].iloc[0] == pd.Timestamp("2025-03-01 10:00", tz="Asia/Shanghai")


def test_mixed_naive_and_offset_rejected_naming_minority(tmp_path):
    name = signals_csv(
        tmp_path,
        [
            "a,douyin,2025-03-01 10:00,1,posts",
            "a,douyin,2025-03-01 11:00,1,posts",
            "a,douyin,2025-03-01T04:00:00Z,1,posts",
        ],
    )
    err = error_of(load, tmp_path, name)
    assert err.column == "timestamp" and err.rows == [4]
    assert "mixed time zones" in str(err)


@pytest.mark.parametrize("stamp", ["2025-03-30 02:30", "2025-10-26 02:30"])  # skipped / repeated hour
def test_dst_gap_and_overlap_rejected(tmp_path, stamp):
    name = signals_csv(tmp_path, ["a,x,2025-03-29 02:30,1,posts", f"a,x,{stamp},1,posts"])
    err = error_of(load, tmp_path, name, tz="Europe/Berlin")
    assert err.column == "timestamp" and err.rows == [3]


def test_unknown_time_zone_is_config_error(tmp_path):
    name = signals_csv(tmp_path, ["a,x,2025-03-01,1,posts"])
    with pytest.raises(ConfigError):
        load(tmp_path, name, tz="Mars/Olympus")


# ---------------------------------------------------------------------------------------------------- bad input


def test_missing_column_suggests_closest(tmp_path):
    name = signals_csv(
        tmp_path, ["kw,douyin,2025-03-01,1,posts"], header="keyword,platform,timestmp,value,metric\n"
    )
    err = error_of(load, tmp_path, name)
    message = str(err)
    assert err.column == "timestamp" and err.rows == [1]
    assert "found 'timestmp'" in message and "did you mean 'timestamp'" in message
    assert "rename the header" in message and name in message


def test_missing_column_without_close_match(tmp_path):
    name = signals_csv(tmp_path, ["kw,douyin,2025-03-01,1"], header="keyword,platform,timestamp,value\n")
    err = error_of(load, tmp_path, name)
    assert err.column == "metric" and "missing column 'metric'" in str(err)


def test_non_numeric_values_listed(tmp_path):
    name = signals_csv(
        tmp_path,
        [
            "a,x,2025-03-01 00:00,1,posts",
            "a,x,2025-03-01 01:00,12 likes,posts",
            "a,x,2025-03-01 02:00,3,posts",
            "a,x,2025-03-01 03:00,abc,posts",
        ],
    )
    err = error_of(load, tmp_path, name)
    assert err.column == "value" and err.rows == [3, 5]
    assert "not a number" in str(err) and name in str(err) and "Fix:" in str(err)


def test_empty_value_cell(tmp_path):
    name = signals_csv(tmp_path, ["a,x,2025-03-01 00:00,,posts"])
    err = error_of(load, tmp_path, name)
    assert err.column == "value" and err.rows == [2] and "empty" in str(err)


def test_negative_values_listed(tmp_path):
    name = signals_csv(tmp_path, ["a,x,2025-03-01 00:00,1,posts", "a,x,2025-03-01 01:00,-2,posts"])
    err = error_of(load, tmp_path, name)
    assert err.column == "value" and err.rows == [3] and "negative" in str(err)


def test_duplicate_keys_list_every_copy(tmp_path):
    name = signals_csv(
        tmp_path,
        [
            "a,x,2025-03-01 00:00,1,posts",
            "b,x,2025-03-01 00:00,1,posts",
            "a,x,2025-03-01 00:00,2,posts",
            "a,x,2025-03-01 01:00,2,posts",
            "a,x,2025-03-01 00:00,5,posts",
        ],
    )
    err = error_of(load, tmp_path, name)
    assert err.rows == [2, 4, 6]
    assert "duplicate" in str(err) and "keyword" in err.column and "timestamp" in err.column


def test_duplicates_after_whitespace_strip(tmp_path):
    name = signals_csv(tmp_path, ["a,x,2025-03-01 00:00,1,posts", "a ,x,2025-03-01 00:00,1,posts"])
    assert error_of(load, tmp_path, name).rows == [2, 3]


def test_empty_keyword_rows(tmp_path):
    name = signals_csv(tmp_path, ["a,x,2025-03-01 00:00,1,posts", "  ,x,2025-03-01 00:00,1,posts"])
    err = error_of(load, tmp_path, name)
    assert err.column == "keyword" and err.rows == [3] and "empty" in str(err)


def test_unparseable_timestamps_listed(tmp_path):
    name = signals_csv(
        tmp_path,
        ["a,x,2025-03-01 00:00,1,posts", "a,x,yesterday,1,posts", "a,x,2025-13-45,1,posts"],
    )
    err = error_of(load, tmp_path, name)
    assert err.column == "timestamp" and err.rows == [3, 4]


def test_day_first_dates_are_not_guessed(tmp_path):
    name = signals_csv(tmp_path, ["a,x,01.03.2025,1,posts"])
    assert error_of(load, tmp_path, name).rows == [2]


@pytest.mark.parametrize("content", [b"", b"keyword,platform,timestamp,value,metric\n", b"\n\n"])
def test_empty_file(tmp_path, content):
    (tmp_path / "e.csv").write_bytes(content)
    err = error_of(load, tmp_path, "e.csv")
    assert "file is empty" in str(err) and "e.csv" in str(err) and "export" in err.fix


def test_empty_trends_export(tmp_path):
    err = error_of(load, tmp_path, write(tmp_path, "t.csv", "Category: All categories\n\nWeek,x: (Worldwide)\n"))
    assert "file is empty" in str(err)


def test_header_only_parquet_is_empty(tmp_path):
    pd.DataFrame({"keyword": pd.Series([], dtype=str), "value": pd.Series([], dtype=float)}).to_parquet(
        tmp_path / "e.parquet"
    )
    assert "file is empty" in str(error_of(load, tmp_path, "e.parquet"))


@pytest.mark.parametrize("suffix", [".json", ".xls", ""])
def test_unknown_file_type(tmp_path, suffix):
    (tmp_path / f"data{suffix}").write_text("{}")
    err = error_of(load, tmp_path, f"data{suffix}")
    assert "unknown file type" in str(err) and ".csv" in err.fix


def test_undecodable_bytes(tmp_path):
    (tmp_path / "b.csv").write_bytes(SIGNALS_HEADER.encode() + b"\xff\xff\xff,x,2025-03-01,1,posts\n")
    err = error_of(load, tmp_path, "b.csv")
    assert err.rows == [2] and "UTF-8" in err.fix


def test_missing_file(tmp_path):
    assert "not found" in str(error_of(load, tmp_path, "nope.csv"))


# ---------------------------------------------------------------------------------------------------- paths


def test_default_root_is_data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKE_DATA_ROOT", str(tmp_path))
    signals_csv(tmp_path, ["a,x,2025-03-01,1,posts"], name="in_root.csv")
    assert len(sc.load_signals("in_root.csv")) == 1


def test_relative_escape_refused(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    signals_csv(tmp_path, ["a,x,2025-03-01,1,posts"], name="x.csv")
    with pytest.raises(ConfigError):
        load(root, "../x.csv")


def test_absolute_outside_refused_inside_ok(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    signals_csv(tmp_path, ["a,x,2025-03-01,1,posts"], name="x.csv")
    signals_csv(root, ["a,x,2025-03-01,1,posts"], name="y.csv")
    with pytest.raises(ConfigError):
        load(root, str(tmp_path / "x.csv"))
    assert len(load(root, str(root / "y.csv"))) == 1


def test_symlink_pointing_outside_refused(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    signals_csv(tmp_path, ["a,x,2025-03-01,1,posts"], name="secret.csv")
    os.symlink(tmp_path / "secret.csv", root / "link.csv")
    with pytest.raises(ConfigError):
        load(root, "link.csv")


def test_read_signals_any_for_the_cli(tmp_path):
    path = tmp_path / "anywhere" / "multiTimeline.csv"
    path.parent.mkdir()
    path.write_text(CLASSIC, encoding="utf-8")
    frame, info = sc.read_signals_any(path)
    assert len(frame) == 4 and info["period"] == "week" and info["path"] == str(path)


# ---------------------------------------------------------------------------------------------------- validation table

VALIDATION_HEADER = "timestamp,metric,count,phase,design\n"


def validation_csv(root: Path, rows: list[str], header: str = VALIDATION_HEADER) -> str:
    return write(root, "validation.csv", header + "".join(r + "\n" for r in rows))


def test_validation_loads(tmp_path):
    name = validation_csv(
        tmp_path,
        [
            "2025-03-02 10:00,design_vote,12,test,B",
            "2025-03-02 10:00,design_vote,30,test,A",
            "2025-03-02 10:00,add_to_cart,55,test,",
            "2025-03-01 10:00,add_to_cart,5,baseline,",
        ],
    )
    df = sc.load_validation(name, data_root=tmp_path)
    assert df["count"].dtype == np.int64
    assert list(df["metric"]) == ["add_to_cart", "add_to_cart", "design_vote", "design_vote"]
    assert list(df["design"]) == ["", "", "A", "B"]
    assert list(df["count"]) == [5, 55, 30, 12]
    assert pd.api.types.is_string_dtype(df["design"])


def test_validation_design_column_may_be_absent(tmp_path):
    name = validation_csv(tmp_path, ["2025-03-01 10:00,add_to_cart,5,baseline"], header="timestamp,metric,count,phase\n")
    df = sc.load_validation(name, data_root=tmp_path)
    assert list(df["design"]) == [""]


def test_validation_unknown_metric_lists_allowed(tmp_path):
    name = validation_csv(
        tmp_path, ["2025-03-01 10:00,add_to_cart,5,test,", "2025-03-01 11:00,add_cart,5,test,"]
    )
    err = error_of(sc.load_validation, name, data_root=tmp_path)
    assert err.column == "metric" and err.rows == [3]
    assert "poll_participated" in str(err) and "did you mean 'add_to_cart'" in str(err)


def test_validation_unknown_phase(tmp_path):
    name = validation_csv(tmp_path, ["2025-03-01 10:00,add_to_cart,5,during,"])
    err = error_of(sc.load_validation, name, data_root=tmp_path)
    assert err.column == "phase" and err.rows == [2] and "baseline, test" in str(err)


def test_validation_design_required_on_votes_only(tmp_path):
    name = validation_csv(tmp_path, ["2025-03-01 10:00,add_to_cart,5,test,", "2025-03-01 10:00,design_vote,5,test,"])
    err = error_of(sc.load_validation, name, data_root=tmp_path)
    assert err.column == "design" and err.rows == [3]
    name = validation_csv(tmp_path, ["2025-03-01 10:00,add_to_cart,5,test,A"])
    err = error_of(sc.load_validation, name, data_root=tmp_path)
    assert err.column == "design" and err.rows == [2]


def test_validation_fractional_and_negative_counts(tmp_path):
    name = validation_csv(tmp_path, ["2025-03-01 10:00,add_to_cart,5.5,test,"])
    err = error_of(sc.load_validation, name, data_root=tmp_path)
    assert err.column == "count" and "whole" in str(err)
    name = validation_csv(tmp_path, ["2025-03-01 10:00,add_to_cart,2,test,", "2025-03-01 11:00,add_to_cart,-1,test,"])
    err = error_of(sc.load_validation, name, data_root=tmp_path)
    assert err.column == "count" and err.rows == [3]


def test_validation_duplicate_key(tmp_path):
    name = validation_csv(
        tmp_path,
        ["2025-03-01 10:00,design_vote,5,test,A", "2025-03-01 10:00,design_vote,6,test,B",
         "2025-03-01 10:00,design_vote,7,test,A"],
    )
    assert error_of(sc.load_validation, name, data_root=tmp_path).rows == [2, 4]


# ---------------------------------------------------------------------------------------------------- docs


def test_readme_shows_current_contracts():
    from spikekit.inputs.state import LEDGER_CONTRACTS  # the ledger's tables are documented there too

    readme = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    for contract in [*sc.CONTRACTS.values(), *LEDGER_CONTRACTS.values()]:
        assert sc.describe_contract(contract) in readme, f"data/README.md is out of date for {contract.name}"


def test_readme_examples_load(tmp_path):
    readme = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    for name, loader in (("signals.csv", sc.load_signals), ("validation.csv", sc.load_validation)):
        block = readme.split(f"Example (`{name}`):", 1)[1].split("```", 2)[1]
        write(tmp_path, name, block.lstrip("\n"))
        assert len(loader(name, data_root=tmp_path)) == block.strip().count("\n")


def test_describe_contract_rules():
    text = sc.describe_contract(sc.VALIDATION)
    assert "| `design` | text | when metric=design_vote |" in text
    assert "`presale_order`" in text and ">= 0" in text
    assert "Key (each combination at most once): `timestamp`, `metric`, `phase`, `design`." in text


def test_adding_a_contract_is_declarative(tmp_path):
    orders = sc.Contract(
        name="orders",
        description="Orders per day.",
        columns=(sc.Column("day", "timestamp", "Day."), sc.Column("orders", "int", "Orders.", non_negative=True)),
        key=("day",),
    )
    write(tmp_path, "o.csv", "day,orders\n2025-03-02,4\n2025-03-01,3\n")
    df = sc.load_table("o.csv", orders, data_root=tmp_path)
    assert list(df["orders"]) == [3, 4]


# ---------------------------------------------------------------------------------------------------- scale path


def test_unsorted_parquet_with_duplicate_found_by_key(tmp_path):
    rng = np.random.default_rng(1)
    n_kw, hours = 40, 50
    frame = pd.DataFrame(
        {
            "keyword": np.repeat([f"kw{i:03d}" for i in range(n_kw)], hours),
            "platform": "douyin",
            "metric": "interactions",
            "timestamp": np.tile(pd.date_range("2025-01-01", periods=hours, freq="h", tz="Asia/Shanghai"), n_kw),
            "value": rng.poisson(5, n_kw * hours).astype(float),
        }
    )
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    shuffled.to_parquet(tmp_path / "ok.parquet", row_group_size=300)
    df = load(tmp_path, "ok.parquet")
    pd.testing.assert_frame_equal(
        df[["keyword", "platform", "metric", "timestamp", "value"]].astype({c: str for c in ("keyword", "platform", "metric")}),
        frame.astype({c: str for c in ("keyword", "platform", "metric")}),
        check_dtype=False,
    )
    broken = pd.concat([shuffled, shuffled.iloc[[7]]], ignore_index=True)
    broken.to_parquet(tmp_path / "dup.parquet", row_group_size=300)
    err = error_of(load, tmp_path, "dup.parquet")
    assert err.rows == [7 + 2, len(broken) + 1]


def test_benchmark_generator_small(tmp_path):
    spec = importlib.util.spec_from_file_location("make_signals", ROOT / "benchmarks" / "make_signals.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.make_signals_parquet(tmp_path / "s.parquet", n_series=14, days=2, seed=0)
    df = load(tmp_path, "s.parquet")
    assert len(df) == 14 * 2 * 24
    assert df["keyword"].nunique() == 3 and df["platform"].nunique() == 6
    assert df["timestamp"].min() == pd.Timestamp("2025-01-01 00:00", tz="Asia/Shanghai")
    assert module.spiking_series(14) == [("kw00001", "bilibili")]


# ---------------------------------------------------------------------------------------------------- property

_keywords = st.sampled_from(["露营椅", "星空灯", "kw1", "kw 2", "a,b"])
_platforms = st.sampled_from(["抖音", "小红书", "weibo"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    series=st.lists(st.tuples(_keywords, _platforms), min_size=1, max_size=6, unique=True),
    hours=st.integers(min_value=1, max_value=6),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_property_shuffled_csv_round_trips_to_sorted_frame(tmp_path, series, hours, seed):
    rng = np.random.default_rng(seed)
    stamps = pd.date_range("2025-03-01 08:00", periods=hours, freq="h", tz="Asia/Shanghai")
    rows = [
        {"keyword": k, "platform": p, "timestamp": t, "value": float(rng.integers(0, 1000)) / 4, "metric": "posts"}
        for k, p in series
        for t in stamps
    ]
    frame = pd.DataFrame(rows)
    shuffled = frame.sample(frac=1.0, random_state=int(rng.integers(0, 2**31)))
    out = shuffled.assign(timestamp=shuffled["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S"))
    out.to_csv(tmp_path / "p.csv", index=False, encoding="utf-8")
    loaded = load(tmp_path, "p.csv")
    expected = frame.sort_values(["keyword", "platform", "metric", "timestamp"]).reset_index(drop=True)
    assert list(loaded["keyword"].astype(str)) == list(expected["keyword"])
    assert list(loaded["platform"].astype(str)) == list(expected["platform"])
    assert (loaded["timestamp"].to_numpy() == expected["timestamp"].to_numpy()).all()
    assert np.array_equal(loaded["value"].to_numpy(), expected["value"].to_numpy())


# ------------------------------------------------------------------------------ chapters 11-12 tables

ORDERS_HEADER = ("order_id,timestamp,buyer_id,product,platform,variant,region,price,promised_ship,shipped,delivered,"
                 "buyer_prior_orders,buyer_prior_returns")


def _order(order_id="O1", placed="2025-03-10 09:00", shipped="2025-03-11 10:00", delivered="2025-03-12 15:00",
           prior=(0, 0)) -> str:
    return (f"{order_id},{placed},B1,星空咖啡杯,淘宝,星空蓝,华东,49,2025-03-13 18:00,{shipped},{delivered},"
            f"{prior[0]},{prior[1]}")


def test_orders_read_empty_ship_and_delivery_times_as_not_yet(tmp_path):
    name = write(tmp_path, "orders.csv", "\n".join([
        ORDERS_HEADER, _order("O2", shipped="", delivered=""), _order("O1"),
        _order("O3", shipped="2025-03-11 10:00", delivered="")]) + "\n")
    df = sc.load_orders(name, data_root=tmp_path)
    assert list(df["order_id"]) == ["O1", "O2", "O3"]
    assert str(df["shipped"].dt.tz) == "Asia/Shanghai"
    assert df["shipped"].isna().tolist() == [False, True, False]
    assert df["delivered"].isna().tolist() == [False, True, True]
    assert df["shipped"].iloc[0] == pd.Timestamp("2025-03-11 10:00", tz="Asia/Shanghai")
    # times with an offset are converted to the spike's time zone
    name = write(tmp_path, "utc.csv", "\n".join([
        ORDERS_HEADER, _order("O1", shipped="2025-03-11T02:00:00+00:00", delivered="")]) + "\n")
    assert sc.load_orders(name, data_root=tmp_path)["shipped"].iloc[0] == pd.Timestamp("2025-03-11 10:00",
                                                                                         tz="Asia/Shanghai")


def test_orders_read_mixed_offsets_in_one_optional_column_as_an_error(tmp_path):
    name = write(tmp_path, "orders.csv", "\n".join([
        ORDERS_HEADER, _order("O1"), _order("O2", shipped="2025-03-11T02:00:00+00:00"), _order("O3")]) + "\n")
    err = error_of(sc.load_orders, name, data_root=tmp_path)
    assert err.column == "shipped" and err.rows == [3]


@pytest.mark.parametrize("row, column", [
    (_order("O9", placed="2025-03-10 09:00", shipped="2025-03-10 08:00", delivered=""), "shipped"),
    (_order("O9", shipped="2025-03-11 10:00", delivered="2025-03-11 09:00"), "delivered"),
    (_order("O9", shipped="", delivered="2025-03-12 09:00"), "shipped"),
    (_order("O9", prior=(1, 2)), "buyer_prior_returns"),
    (_order("O9", shipped="next week"), "shipped"),
], ids=["shipped-before-placed", "delivered-before-shipped", "delivered-not-shipped", "returns-above-orders",
        "unreadable"])
def test_orders_cross_row_rules_name_the_row(tmp_path, row, column):
    # the bad row is first in the file but sorts last by order_id: the error must still name file row 2
    name = write(tmp_path, "orders.csv", "\n".join([ORDERS_HEADER, row, _order("O1"), _order("O2")]) + "\n")
    err = error_of(sc.load_orders, name, data_root=tmp_path)
    assert err.column == column and err.rows == [2]
    assert "orders.csv" in str(err)


def test_tickets_responses_not_before_opening(tmp_path):
    header = "ticket_id,timestamp,order_id,customer_kind,type,text,first_response,resolved"
    good = "T1,2025-03-10 09:00,O1,paid,delay,我的杯子什么时候发货？,2025-03-10 10:00,"
    name = write(tmp_path, "tickets.csv", f"{header}\n{good}\nT2,2025-03-10 09:00,,pre_sale,pre_sale,可以开发票吗,,\n")
    df = sc.load_tickets(name, data_root=tmp_path)
    assert df["first_response"].isna().tolist() == [False, True] and df["resolved"].isna().all()
    assert df["order_id"].tolist() == ["O1", ""]
    bad = write(tmp_path, "bad.csv", f"{header}\n{good}\nT2,2025-03-10 09:00,,pre_sale,pre_sale,x,2025-03-10 08:59,\n")
    err = error_of(sc.load_tickets, bad, data_root=tmp_path)
    assert err.column == "first_response" and err.rows == [3]
    bad = write(tmp_path, "bad2.csv", f"{header}\n{good}\nT2,2025-03-10 09:00,,pre_sale,refund,x,,\n")
    assert error_of(sc.load_tickets, bad, data_root=tmp_path).column == "type"


def test_reviews_rating_is_a_nullable_whole_number(tmp_path):
    header = "review_id,timestamp,platform,order_id,rating,text"
    name = write(tmp_path, "reviews.csv", f"{header}\nV1,2025-03-10 09:00,淘宝,O1,5,很好\n"
                                          f'V2,2025-03-10 10:00,淘宝,,,"Nice mug, small."\n')
    df = sc.load_reviews(name, data_root=tmp_path)
    assert str(df["rating"].dtype) == "Int64" and df["rating"].iloc[0] == 5 and df["rating"].isna().iloc[1]
    bad = write(tmp_path, "bad.csv", f"{header}\nV1,2025-03-10 09:00,淘宝,O1,6,很好\n")
    assert error_of(sc.load_reviews, bad, data_root=tmp_path).column == "rating"


@pytest.mark.parametrize("row, column", [
    ("B1,杭州星辰陶瓷,2025-03-17 11:00,300,1,50,51", "defects"),
    ("B1,杭州星辰陶瓷,2025-03-17 11:00,30,1,50,0", "inspected"),
    ("B1,杭州星辰陶瓷,2025-03-17 11:00,300,4,50,0", "round"),
    ("B1,杭州星辰陶瓷,2025-03-17 11:00,0,1,0,0", "lot_size"),
])
def test_inspections_rules(tmp_path, row, column):
    header = "batch_id,supplier,timestamp,lot_size,round,inspected,defects"
    name = write(tmp_path, "inspections.csv", f"{header}\nA1,德化白瓷坊,2025-03-17 11:00,72,1,13,0\n{row}\n")
    err = error_of(sc.load_inspections, name, data_root=tmp_path)
    assert err.column == column and err.rows == [3]


def test_member_activity_needs_an_action(tmp_path):
    name = write(tmp_path, "member_activity.csv", "buyer_id,timestamp,actions\nB1,2025-04-02 00:00,0\n")
    assert error_of(sc.load_member_activity, name, data_root=tmp_path).rows == [2]


def test_chapter_11_12_readme_examples_load(tmp_path):
    readme = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    for table in ("orders", "returns", "tickets", "faq", "reviews", "inspections", "members", "member_activity"):
        block = readme.split(f"Example (`{table}.csv`):", 1)[1].split("```", 2)[1]
        write(tmp_path, f"{table}.csv", block.lstrip("\n"))
        assert len(getattr(sc, f"load_{table}")(f"{table}.csv", data_root=tmp_path)) == 2, table


# ------------------------------------------------------------------------------ repeated headers

SIGNALS_ROW = "kw,douyin,2025-03-01 10:00,1,posts"


@pytest.mark.parametrize("second, problem", [
    ("value", "the header 'value' appears twice"),
    (" value", "the headers 'value' and ' value' name the same column"),
    ("VALUE ", "the headers 'value' and 'VALUE ' name the same column"),
])
@pytest.mark.parametrize("encoding, sep", [("utf-8", ","), ("utf-8-sig", ","), ("gbk", ","), ("utf-8", ";"),
                                           ("utf-8", "\t")])
def test_a_repeated_csv_header_names_both_columns(tmp_path, second, problem, encoding, sep):
    # Before: pandas renamed the second 'value' to 'value.1' and it was dropped without a word; ' value'
    # ended in an AttributeError.
    header = sep.join(["keyword", "platform", "timestamp", "value", "metric", second]) + "\n"
    row = sep.join(["露营椅", "抖音", "2025-03-01 10:00", "1", "posts", "2"]) + "\n"
    (tmp_path / "dup.csv").write_bytes(("\n" + header + row).encode(encoding))  # header on file row 2
    err = error_of(load, tmp_path, "dup.csv")
    assert problem in str(err)
    assert "columns D and F (positions 4 and 6)" in str(err)
    assert err.column == "value" and err.rows == [2] and "dup.csv" in str(err) and "delete one" in err.fix


def test_a_repeated_xlsx_header_names_both_columns(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["keyword", "platform", "timestamp", "value", "metric", "Value"])
    sheet.append(["kw", "douyin", "2025-03-01 10:00", 1, "posts", 2])
    book.save(tmp_path / "dup.xlsx")
    err = error_of(load, tmp_path, "dup.xlsx")
    assert "the headers 'value' and 'Value' name the same column" in str(err)
    assert "columns D and F" in str(err) and err.column == "value" and err.rows == [1]


def test_a_repeated_parquet_column_names_both_positions(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {"keyword": ["kw"], "platform": ["x"], "timestamp": ["2025-03-01"], "value": [1.0], "metric": ["m"]}
    table = pa.table(list(map(pa.array, columns.values())) + [pa.array([2.0])], names=[*columns, "value"])
    pq.write_table(table, tmp_path / "dup.parquet")
    err = error_of(load, tmp_path, "dup.parquet")
    assert "the header 'value' appears twice: columns 4 and 6 of the file" in str(err) and err.column == "value"


def test_a_frame_with_repeated_columns_is_refused_in_memory():
    raw = pd.DataFrame([["a", "x", "2025-03-01", 1.0, "m", 2.0]],
                       columns=["keyword", "platform", "timestamp", "value", "metric", "value"])
    err = error_of(sc.validate_table, raw, sc.SIGNALS, file="frame")
    assert "appears twice" in str(err) and err.column == "value"


def test_unnamed_columns_are_not_taken_for_repeated_headers(tmp_path):
    name = write(tmp_path, "s.csv", SIGNALS_HEADER.strip() + ",,\n" + SIGNALS_ROW + ",,\n")
    assert list(load(tmp_path, name)["value"]) == [1.0]


# ------------------------------------------------------------------------------ workbooks with several sheets


def _workbook(path: Path, sheets: dict[str, list[list]]) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)


HEADER_CELLS = ["keyword", "platform", "timestamp", "value", "metric"]


def test_two_sheets_with_data_are_refused_naming_them(tmp_path):
    # Before: the first sheet was read and the second ignored without a word.
    _workbook(tmp_path / "two.xlsx", {
        "3月": [HEADER_CELLS, ["a", "x", "2025-03-01", 1, "m"]],
        "notes": [["what"], ["made by hand"]],
        "4月": [HEADER_CELLS, ["a", "x", "2025-04-01", 9, "m"]],
    })
    err = error_of(load, tmp_path, "two.xlsx")
    assert "3 sheets with data ('3月', 'notes', '4月')" in str(err) and "two.xlsx" in str(err)
    assert "keep the table on one sheet" in err.fix and "sheet='3月'" in err.fix
    assert list(load(tmp_path, "two.xlsx", sheet="4月")["value"]) == [9.0]  # a named sheet is read as asked


def test_empty_and_header_only_sheets_are_passed_over(tmp_path):
    _workbook(tmp_path / "one.xlsx", {
        "empty": [],
        "template": [HEADER_CELLS],
        "data": [HEADER_CELLS, ["a", "x", "2025-03-01", 1, "m"], ["a", "x", "2025-03-02", -1, "m"]],
    })
    err = error_of(load, tmp_path, "one.xlsx")
    assert err.column == "value" and err.rows == [3]  # read from the sheet with data, rows as on that sheet
    _workbook(tmp_path / "none.xlsx", {"empty": [], "template": [HEADER_CELLS]})
    assert "file is empty" in str(error_of(load, tmp_path, "none.xlsx"))


def test_an_unknown_sheet_lists_the_sheets(tmp_path):
    _workbook(tmp_path / "s.xlsx", {"data": [HEADER_CELLS, ["a", "x", "2025-03-01", 1, "m"]]})
    err = error_of(load, tmp_path, "s.xlsx", sheet="Sheet1")
    assert "no sheet 'Sheet1' in the workbook (its sheets: 'data')" in str(err)


# ------------------------------------------------------------------------------ plausibility bounds


@pytest.mark.parametrize("cell, shown", [("1e308", "1e+308"), ("1000000001", "1,000,000,001")])
def test_a_value_above_the_ceiling_is_refused(tmp_path, cell, shown):
    # Before: a 1e308 cell loaded as data.
    name = signals_csv(tmp_path, ["a,x,2025-03-01 00:00,1,posts", f"a,x,2025-03-01 01:00,{cell},posts",
                                  "a,x,2025-03-01 02:00,1000000000,posts"])
    err = error_of(load, tmp_path, name)
    assert err.column == "value" and err.rows == [3]  # the ceiling itself (row 4) is allowed
    assert f"value {shown} out of range: value must be between 0 and 1,000,000,000" in str(err)
    assert "typo" in err.fix


def test_a_parquet_value_above_the_ceiling_is_refused(tmp_path):
    pd.DataFrame({"keyword": ["a", "a"], "platform": ["x", "x"],
                  "timestamp": pd.to_datetime(["2025-03-01", "2025-03-02"]), "value": [1.0, 1e308],
                  "metric": ["m", "m"]}).to_parquet(tmp_path / "big.parquet")
    err = error_of(load, tmp_path, "big.parquet")
    assert err.column == "value" and err.rows == [3] and "out of range" in str(err)


@pytest.mark.parametrize("cells", [["inf", "1"], ["-inf", "1"], ["NaN", "1"], ["1", "Infinity"]])
def test_infinite_and_nan_numbers_are_refused(tmp_path, cells):
    name = signals_csv(tmp_path, [f"a,x,2025-03-01 0{i}:00,{c},posts" for i, c in enumerate(cells)])
    err = error_of(load, tmp_path, name)
    bad = next(i for i, c in enumerate(cells) if c != "1")
    assert err.column == "value" and err.rows == [bad + 2] and "not a number" in str(err)


@pytest.mark.parametrize("value, problem", [(np.inf, "not a number"), (np.nan, "empty value")])
def test_infinite_and_nan_parquet_numbers_are_refused(tmp_path, value, problem):
    pd.DataFrame({"keyword": ["a", "a"], "platform": ["x", "x"],
                  "timestamp": pd.to_datetime(["2025-03-01", "2025-03-02"]), "value": [1.0, value],
                  "metric": ["m", "m"]}).to_parquet(tmp_path / "odd.parquet")
    err = error_of(load, tmp_path, "odd.parquet")
    assert err.column == "value" and err.rows == [3] and problem in str(err)


@pytest.mark.parametrize("table, column, bad, good, rule", [
    ("supplier_terms", "deposit_share", "1.01", "1", "between 0 and 1"),
    ("stock", "price", "0", "6", "above 0 and at most 1,000,000"),  # salvage_value is 6
    ("sales", "price", "0", "0.5", "above 0 and at most 1,000,000"),
    ("suppliers", "lead_days", "366", "365", "between 0 and 365"),
    ("financing", "rate_annual", "12", "0.12", "between 0 and 1"),
    ("cash", "amount", "-20000000000", "-5000", "between -10,000,000,000 and 10,000,000,000"),
    ("budget", "daily_budget", "1e11", "1e10", "between 0 and 10,000,000,000"),
    ("urgent_orders", "distance_km", "40000", "20000", "between 0 and 20,000"),
])
def test_bounds_refuse_just_outside_and_accept_the_edge(tmp_path, table, column, bad, good, rule):
    path = ROOT / "data" / "samples" / "starry-mug" / f"{table}.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for value, ok in ((good, True), (bad, False)):
        frame.loc[0, column] = value
        frame.to_csv(tmp_path / f"{table}.csv", index=False)
        loader = getattr(sc, f"load_{table}")
        if ok:
            loader(f"{table}.csv", data_root=tmp_path)
            continue
        err = error_of(loader, f"{table}.csv", data_root=tmp_path)
        assert err.column == column and err.rows == [2]
        assert f"out of range: {column} must be {rule}" in str(err)


def test_a_trends_index_above_100_is_refused(tmp_path):
    err = error_of(load, tmp_path, write(tmp_path, "t.csv", CLASSIC.replace("2022-01-09,15", "2022-01-09,150")))
    assert err.column == "wordle: (Worldwide)" and err.rows == [7]
    assert "value 150 out of range: a Google Trends index is between 0 and 100" in str(err)


@pytest.mark.parametrize("scenario", ["starry-mug", "fast-fade", "false-alarm"])
def test_every_sample_file_loads_within_the_bounds(scenario):
    for name, contract in sc.CONTRACTS.items():
        frame = sc.load_table(f"samples/{scenario}/{name}.csv", contract, data_root=ROOT / "data")
        assert len(frame) > 0, name


def test_bounds_are_declared_on_numbers_only_and_in_order():
    with pytest.raises(ConfigError, match="bounds only apply to number columns"):
        sc.Column("name", "str", "x", maximum=3)
    with pytest.raises(ConfigError, match="not below maximum"):
        sc.Column("n", "float", "x", minimum=2, maximum=1)
    with pytest.raises(ConfigError, match="exclusive_minimum needs a minimum"):
        sc.Column("n", "float", "x", exclusive_minimum=True)
    assert sc.Column("n", "int", "x", non_negative=True).minimum == 0


def test_the_readme_shows_the_bounds_and_is_regenerated_from_the_contracts():
    readme = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    assert "| `share` | number | yes | >= 0; <= 1 |" in readme
    assert "| `price` | number | yes | > 0; <= 1,000,000 | Normal selling price per unit (yuan). |" in readme
    assert sc.refresh_readme(readme) == readme
    stale = readme.replace("| `share` | number | yes | >= 0; <= 1 |", "| `share` | number | yes | >= 0 |")
    assert stale != readme and sc.refresh_readme(stale) == readme


# ------------------------------------------------------------------------------ checking a run's inputs up front


def _copy_samples(tmp_path: Path, tables) -> Path:
    folder = tmp_path / "s"
    folder.mkdir()
    for table in tables:
        (folder / f"{table}.csv").write_bytes((ROOT / "data" / "samples" / "starry-mug" / f"{table}.csv").read_bytes())
    return folder


def test_check_inputs_loads_every_table_and_returns_its_provenance(tmp_path):
    folder = _copy_samples(tmp_path, ["signals", "budget"])
    (folder / "notes.txt").write_text("anything", encoding="utf-8")
    sources = sc.check_inputs({"signals": "s/signals.csv", "budget": "s/budget.csv", "notes": "s/notes.txt"},
                              data_root=tmp_path)
    assert sources["signals"]["sha256"] == sc.sha256_file(folder / "signals.csv")
    assert sources["signals"]["rows"] == len(sc.load_signals("s/signals.csv", data_root=tmp_path))
    assert sources["notes"]["sha256"] == sc.sha256_file(folder / "notes.txt")


def test_check_inputs_raises_what_the_chapter_would(tmp_path):
    folder = _copy_samples(tmp_path, ["signals", "budget"])
    text = (folder / "budget.csv").read_text(encoding="utf-8").splitlines()
    text[2] = text[2].rsplit(",", 1)[0] + ",-5"
    (folder / "budget.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    err = error_of(sc.check_inputs, {"signals": "s/signals.csv", "budget": "s/budget.csv"}, data_root=tmp_path)
    assert err.column == "daily_budget" and err.rows == [3] and "budget.csv" in str(err)
    (folder / "dir.csv").mkdir()
    err = error_of(sc.check_inputs, {"signals": "s/dir.csv"}, data_root=tmp_path)
    assert "a folder, not a file" in str(err) and "dir.csv" in str(err)
    err = error_of(sc.check_inputs, {"notes": "s/missing.txt"}, data_root=tmp_path)
    assert "file not found" in str(err)
    with pytest.raises(ConfigError, match="outside"):
        sc.check_inputs({"signals": "../signals.csv"}, data_root=tmp_path)
