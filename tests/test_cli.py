"""The `spike` command: scan, list, show, errors (exit codes and messages)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spikekit import cli


def _trends_export(path, values, start="2024-01-07"):
    weeks = pd.date_range(start, periods=len(values), freq="7D")
    lines = ["Category: All categories", "", "Week,mug craze: (Worldwide)"]
    lines += [f"{d:%Y-%m-%d},{'<1' if v < 1 else int(v)}" for d, v in zip(weeks, values)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return weeks


def test_scan_finds_the_fad_in_a_google_trends_export(tmp_path, capsys):
    rng = np.random.default_rng(3)
    values = list(rng.integers(8, 12, size=30)) + [40, 100, 95, 90, 88]
    weeks = _trends_export(tmp_path / "multiTimeline.csv", values)
    assert cli.main(["scan", str(tmp_path / "multiTimeline.csv"), "--json"]) == 0
    alerts = json.loads(capsys.readouterr().out)
    top = alerts[0]
    assert top["keyword"] == "mug craze" and top["n_episodes"] == 1
    # The first alert is the week the value quadrupled (40 vs ~10), known when that week ended.
    first = pd.Timestamp(top["first_alert"])
    assert first.tz_localize(None) == weeks[31]


def test_scan_of_a_steady_series_raises_no_alert(tmp_path, capsys):
    rng = np.random.default_rng(4)
    _trends_export(tmp_path / "steady.csv", list(rng.integers(40, 60, size=60)))
    assert cli.main(["scan", str(tmp_path / "steady.csv"), "--json"]) == 0
    assert all(a["status"] in {"quiet", "watch"} for a in json.loads(capsys.readouterr().out))


def test_bad_input_is_a_clear_error_and_exit_code_2(tmp_path, capsys):
    bad = tmp_path / "signals.csv"
    bad.write_text("keyword,platform,timestmp,value,metric\n星空杯,小红书,2025-03-01 10:00,3,interactions\n", encoding="utf-8")
    assert cli.main(["scan", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "signals.csv" in err and "timestamp" in err and "timestmp" in err


def test_unknown_spike_is_refused_with_the_known_ones(capsys):
    assert cli.main(["run", "--spike", "no-such-spike"]) == 2
    err = capsys.readouterr().err
    assert "unknown spike 'no-such-spike'" in err and "starry-mug" in err


@pytest.mark.e2e
def test_list_and_show_read_a_run(mini_project, capsys):
    from spikekit.engine import runner

    outcome = runner.run("mini", None, chapters=["B"], progress=None)
    assert cli.main(["list"]) == 0
    listing = capsys.readouterr().out
    assert outcome.manifest["run_id"] in listing and "A:ok B:ok" in listing
    assert cli.main(["show", outcome.manifest["run_id"]]) == 0
    shown = capsys.readouterr().out
    assert "status OK" in shown and "x_plus_one: 42" in shown and "input numbers: mini/numbers.csv" in shown


# ----------------------------------------------------------------------------------------------------------
# Options are checked where they are parsed: one error line, exit 2, nothing run or written.
def _refused(argv, capsys, *parts):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for part in parts:
        assert part in err, (part, err)
    return err


BAD_OPTIONS = [
    (["run", "--spike", "mini", "--timeout", "0.5"], ["--timeout", "5 to"]),
    (["run", "--spike", "mini", "--timeout", "0"], ["--timeout", "does not turn the timeout off"]),
    (["run", "--spike", "mini", "--timeout=-1"], ["--timeout"]),
    (["run", "--spike", "mini", "--timeout", "nan"], ["--timeout", "finite"]),
    (["run", "--spike", "mini", "--workers", "0"], ["--workers", "1 to 64"]),
    (["run", "--spike", "mini", "--workers=-1"], ["--workers", "1 to 64"]),
    (["run", "--spike", "mini", "--chapters", ","], ["--chapters", "names no chapter"]),
    (["run", "--spike", "mini", "--chapters", "A,,B"], ["--chapters", "empty chapter id"]),
    (["run", "--spike", "mini", "--chapters", "Z"], ["--chapters", "chapter 'Z'", "Known chapters: A a, B b"]),
    (["run", "--spike", "mini", "--as-of", "1900-01-01"], ["--as-of '1900-01-01'", "before 2000-01-01"]),
    (["run", "--spike", "mini", "--as-of", "3000-01-01"], ["--as-of '3000-01-01'", "more than a year after now"]),
    (["run", "--spike", "mini", "--executor", "local", "--scheduler", "tcp://h:8786"], ["--scheduler"]),
    (["watch", "--spike", "mini", "--chapters", "A", "--times", "0"], ["--times", "1 or more"]),
    (["watch", "--spike", "mini", "--chapters", "A", "--times=-1"], ["--times", "1 or more"]),
    (["replay", "--spike", "mini", "--from", "2025-03-01", "--to", "2025-03-02", "--every", "0"], ["--every", "'0'"]),
    (["replay", "--spike", "mini", "--from", "2025-03-01", "--to", "2025-03-02", "--every", "soon"], ["--every"]),
    (["replay", "--spike", "mini", "--from", "2025-03-01", "--to", "2025-03-02", "--every=-1d"], ["--every"]),
    (["replay", "--spike", "mini", "--from", "1900-01-01", "--to", "2025-03-02"], ["--from '1900-01-01'"]),
    (["dataroom", "--port", "0"], ["--port", "1 to 65535"]),
    (["dataroom", "--port", "70000"], ["--port", "1 to 65535"]),
    (["dataroom", "--as-of", "2025-03-01"], ["--as-of needs --spike"]),
    (["patterns", "--before", "garbage"], ["--before", "'garbage' is not a date/time"]),
    (["scan", "signals.csv", "--limit", "0"], ["--limit", "1 or more"]),
    (["scan", "signals.csv", "--limit=-1"], ["--limit", "1 or more"]),
    (["scan", "signals.csv", "--timezone", "Asia/Shanghi"], ["--timezone", "did you mean 'Asia/Shanghai'?"]),
    (["samples", "--check", "--refresh-upstream"], ["--check", "--refresh-upstream"]),
]


@pytest.mark.parametrize("argv, parts", BAD_OPTIONS, ids=[" ".join(argv) for argv, _ in BAD_OPTIONS])
def test_bad_options_are_refused_before_anything_runs(argv, parts, mini_project, capsys, monkeypatch):
    import os

    def no_server(*args):  # were `dataroom` to get through, it would replace this process with a server
        raise AssertionError(f"dataroom started {args}")

    monkeypatch.setattr(os, "execv", no_server)
    _refused(argv, capsys, *parts)
    assert not mini_project["records"].exists() or not list(mini_project["records"].rglob("run.json"))


def test_an_as_of_in_the_daylight_saving_gap_is_called_nonexistent(mini_project, capsys):
    spike_file = mini_project["playbook"] / "spikes" / "mini.yaml"
    spike_file.write_text(spike_file.read_text().replace("Asia/Shanghai", "America/New_York"), encoding="utf-8")
    err = _refused(["run", "--spike", "mini", "--as-of", "2025-03-09 02:30"], capsys,
                   "does not exist in America/New_York", "2025-03-09 03:30")
    assert "unknown" not in err and "not known" not in err


def test_chapter_ids_may_be_written_without_the_leading_zero():
    assert cli._resolve_chapters(["1", "09"]) == ["01", "09"]


# ----------------------------------------------------------------------------------------------------------
# Messages are printed whole; a failed run says the whole error and where its record is.
def test_a_long_error_is_printed_whole_and_wrapped_at_words_on_a_terminal(monkeypatch, capsys):
    import io
    import os

    words = " ".join(f"word{i}" for i in range(80)) + ". Fix: the very end"

    def fail(args):
        raise cli.SpikeError(words)

    monkeypatch.setattr(cli, "_cmd_list", fail)
    assert cli.main(["list"]) == 2
    assert capsys.readouterr().err.strip() == f"spike: error: {words}"  # not a terminal: one line, whole

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(cli.sys, "stderr", terminal)
    monkeypatch.setattr("shutil.get_terminal_size", lambda *a, **k: os.terminal_size((61, 24)))
    assert cli.main(["list"]) == 2
    lines = terminal.getvalue().splitlines()
    assert len(lines) > 1 and all(len(line) <= 60 for line in lines)
    assert " ".join(line.strip() for line in lines) == f"spike: error: {words}"


@pytest.mark.e2e
def test_a_failed_run_prints_the_whole_error_and_where_the_record_is(mini_project, capsys):
    from tests.conftest import write_notebook

    tail = "Fix: this sentence comes after the first 120 characters of the error and must reach the user"
    long_error = "file numbers.csv, column 'x', row 7: " + "the value is not what the chapter needs; " * 4 + tail
    params = ('spike = "mini"\nas_of = "2025-03-01 00:00"\ntimezone = "Asia/Shanghai"\nupstream_run = ""\n'
              'numbers_file = "mini/numbers.csv"\n')
    write_notebook(mini_project["notebooks"] / "fails.ipynb", [
        ("code", params, ["parameters"]),
        ("code", f"raise ValueError({long_error!r})"),
    ])
    assert cli.main(["run", "--spike", "mini", "--chapters", "F"]) == 1
    captured = capsys.readouterr()
    run_dir = Path(captured.out.strip().splitlines()[-1])
    assert run_dir.parent == mini_project["records"].resolve() / "mini"
    assert "spike: chapter F failed in cell " in captured.err and f": ValueError: {long_error}\n" in captured.err
    assert str(run_dir / "fails.ipynb") in captured.err
    assert f"the failed run's record: {run_dir}" in captured.err


# ----------------------------------------------------------------------------------------------------------
# Exceptions at the edge: one line with what, where and the fix; bugs say so; no tracebacks.
def _raising(monkeypatch, exc):
    def command(args):
        raise exc

    monkeypatch.setattr(cli, "_cmd_list", command)


@pytest.mark.parametrize("errno_name, fix", [("ENOSPC", "disk is full"), ("EACCES", "ls -l"), ("EROFS", "read-only"),
                                             ("ENOTDIR", "not a folder"), ("EISDIR", "give a file")])
def test_os_errors_name_the_path_and_the_fix(errno_name, fix, monkeypatch, capsys):
    import errno
    import os

    code = getattr(errno, errno_name)
    _raising(monkeypatch, OSError(code, os.strerror(code), "/srv/records/starry-mug/run.json"))
    _refused(["list"], capsys, os.strerror(code), "/srv/records/starry-mug/run.json", fix)


def test_records_root_that_is_a_file_is_a_clear_error(mini_project, tmp_path, capsys):
    not_a_folder = tmp_path / "records-file"
    not_a_folder.write_text("x", encoding="utf-8")
    _refused(["run", "--spike", "mini", "--chapters", "A", "--records", str(not_a_folder / "sub")], capsys,
             str(not_a_folder), "Fix:")


def _fake_run(records: Path, body: bytes) -> Path:
    folder = records / "mini" / "20250101T000000Z-0001"
    folder.mkdir(parents=True)
    (folder / "run.json").write_bytes(body)
    return folder


@pytest.mark.parametrize("command", [["list"], ["site"], ["patterns"], ["show", "x"]])
def test_a_records_root_that_is_a_file_is_refused(command, mini_project, tmp_path, capsys):
    a_file = tmp_path / "records.txt"
    a_file.write_text("x", encoding="utf-8")
    _refused([*command, "--records", str(a_file)], capsys, "--records", "is a file, not a folder")


def test_a_run_json_that_is_not_utf8_or_not_json_names_the_file(mini_project, capsys):
    folder = _fake_run(mini_project["records"], b'{"run_id": "\xff\xfe"}')
    _refused(["show", "mini/20250101T000000Z-0001"], capsys, str(folder / "run.json"), "cannot be read", "utf-8",
             "Fix:")
    (folder / "run.json").write_text('{"run_id": ', encoding="utf-8")
    _refused(["show", "mini/20250101T000000Z-0001"], capsys, str(folder / "run.json"), "not valid JSON", "line 1")


def test_an_unexpected_exception_says_it_is_a_bug_and_shows_the_traceback_only_when_asked(monkeypatch, capsys):
    _raising(monkeypatch, RuntimeError("boom"))
    monkeypatch.delenv("SPIKE_DEBUG", raising=False)
    assert cli.main(["list"]) == cli.EXIT_BUG
    err = capsys.readouterr().err
    assert "RuntimeError: boom" in err and "bug" in err and "SPIKE_DEBUG=1" in err and "Traceback" not in err
    monkeypatch.setenv("SPIKE_DEBUG", "1")
    assert cli.main(["list"]) == cli.EXIT_BUG
    assert "Traceback" in capsys.readouterr().err


def test_a_closed_stdout_ends_quietly(monkeypatch, capsys):
    _raising(monkeypatch, BrokenPipeError(32, "Broken pipe"))
    assert cli.main(["list"]) == cli.EXIT_BROKEN_PIPE
    assert capsys.readouterr().err == ""


def test_spike_show_into_a_pipe_closed_early_ends_without_a_traceback(mini_project):
    import os

    manifest = {"run_id": "20250101T000000Z-0001", "spike": "mini", "status": "ok", "as_of": "2025-01-01T00:00:00+08:00",
                "chapters": {}, "padding": ["x" * 100] * 5000}  # ~0.5 MB: more than a pipe holds
    _fake_run(mini_project["records"], json.dumps(manifest).encode())
    proc = subprocess.Popen([sys.executable, "-m", "spikekit.cli", "show", "--json", "mini/20250101T000000Z-0001"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    proc.stdout.readline()  # like `| head -1`: read a little, then go away
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == cli.EXIT_BROKEN_PIPE
    assert "Traceback" not in err and "BrokenPipe" not in err and err == ""


def test_an_option_error_in_a_subprocess_is_one_line_without_usage(mini_project):
    import os

    result = subprocess.run([sys.executable, "-m", "spikekit.cli", "run", "--spike", "mini", "--timeout", "0.5"],
                            capture_output=True, text=True, env=dict(os.environ), timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("spike run: error: argument --timeout:")
