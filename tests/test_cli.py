"""The `spike` command: scan, list, show, errors (exit codes and messages)."""
from __future__ import annotations

import json
import subprocess
import sys

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
    from spikekit import runner

    outcome = runner.run("mini", None, chapters=["B"], progress=None)
    assert cli.main(["list"]) == 0
    listing = capsys.readouterr().out
    assert outcome.manifest["run_id"] in listing and "A:ok B:ok" in listing
    assert cli.main(["show", outcome.manifest["run_id"]]) == 0
    shown = capsys.readouterr().out
    assert "status OK" in shown and "x_plus_one: 42" in shown and "input numbers: mini/numbers.csv" in shown
