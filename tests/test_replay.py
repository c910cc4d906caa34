"""Replay: the playbook as of each step over a past spike, checked against the scenario's truth."""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from spikekit.engine import runner
from spikekit.core.paths import data_root, playbook_dir
from spikekit.engine.replay import first_action, replay, steps_between

pytestmark = pytest.mark.e2e


def truth(name):
    return json.loads((data_root() / "samples" / name / "truth.json").read_text(encoding="utf-8"))


def test_steps_are_inclusive_and_in_the_spike_zone():
    steps = steps_between("2025-03-05 12:00", "2025-03-07 12:00", "1d", "Asia/Shanghai")
    assert [s.isoformat() for s in steps] == ["2025-03-05T12:00:00+08:00", "2025-03-06T12:00:00+08:00",
                                              "2025-03-07T12:00:00+08:00"]


@pytest.fixture(scope="module")
def starry_replay(tmp_path_factory):
    records = tmp_path_factory.mktemp("records")
    return replay("starry-mug", "2025-03-05 12:00", "2025-03-09 12:00", every="1d", chapters=["02"],
                  records=records, progress=None), records


def test_replay_finds_the_alert_and_the_go_when_the_truth_says(starry_replay):
    outcome, records = starry_replay
    t = truth("starry-mug")
    timeline = outcome.timeline
    assert list(timeline["status"]) == ["ok"] * 5
    alert = pd.Timestamp(first_action(timeline, "01"))
    assert pd.Timestamp(t["expected"]["first_alert_not_before"]) <= alert <= pd.Timestamp(t["expected"]["first_alert_no_later_than"])
    go = pd.Timestamp(first_action(timeline, "02"))
    window_start = pd.Timestamp(t["validation_window"][0])
    assert window_start + pd.Timedelta(hours=24) <= go <= pd.Timestamp(t["default_as_of"])
    # Before the validation window opens there is nothing to decide on: never a go, never a crash.
    before = timeline[pd.to_datetime(timeline["as_of"], format="ISO8601") < window_start]
    assert len(before) >= 2 and set(before["02.decision"]) <= {"extend", "no-go"}
    # The replay folder: manifest, timeline, figure, page; every step is an ordinary, tagged run record.
    for name in ("replay.json", "timeline.csv", "timeline.png", "index.html"):
        assert (outcome.folder / name).exists()
    for step in outcome.manifest["steps"]:
        manifest = json.loads((records / "starry-mug" / step["run_id"] / "run.json").read_text(encoding="utf-8"))
        assert manifest["tags"]["replay"] == outcome.manifest["replay_id"]
    assert 'href="../../' in (outcome.folder / "index.html").read_text(encoding="utf-8")


def test_a_replay_step_equals_a_run_on_data_cut_at_that_step(starry_replay, tmp_path, monkeypatch):
    outcome, records = starry_replay
    step = outcome.manifest["steps"][2]
    as_of = pd.Timestamp(step["as_of"])
    recorded = json.loads((records / "starry-mug" / step["run_id"] / "run.json").read_text(encoding="utf-8"))
    data = tmp_path / "data"
    for key, info in recorded["inputs"].items():
        target = data / info["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        frame = pd.read_csv(data_root() / info["path"], dtype=str, keep_default_na=False)
        if "timestamp" not in frame:  # an undated table (the stock snapshot): nothing in it lies after as_of
            frame.to_csv(target, index=False)
            continue
        stamps = pd.to_datetime(frame["timestamp"]).dt.tz_localize("Asia/Shanghai")
        frame[stamps <= as_of].to_csv(target, index=False)
    shutil.copytree(playbook_dir(), tmp_path / "playbook")
    monkeypatch.setenv("SPIKE_DATA_ROOT", str(data))
    monkeypatch.setenv("SPIKE_PLAYBOOK", str(tmp_path / "playbook"))
    again = runner.run("starry-mug", step["as_of"], chapters=["02"], records=tmp_path / "records", progress=None)
    for cid in ("01", "02"):
        assert again.manifest["chapters"][cid]["results"] == recorded["chapters"][cid]["results"], cid


def test_replay_over_the_decline_calls_exit_within_the_truth_window(tmp_path):
    """starry-mug's decline starts after the 03-14 peak; the rule must trigger inside the truth's window."""
    t = truth("starry-mug")["expected"]["exit"]
    outcome = replay("starry-mug", "2025-03-16 12:00", "2025-03-22 12:00", every="2d", chapters=["06"],
                     records=tmp_path, progress=None)
    timeline = outcome.timeline
    assert list(timeline["status"]) == ["ok"] * len(timeline)
    low, high = (pd.Timestamp(d).tz_localize("Asia/Shanghai") for d in t["decline_trigger_window"])
    # Before the window no step may have called exit; the trigger date the chapter reports lies in the window.
    early = timeline[pd.to_datetime(timeline["as_of"], format="ISO8601") < low]
    assert "exit" not in set(early["06.exit_decision"])
    exits = timeline[timeline["06.exit_decision"] == "exit"]
    assert len(exits) >= 1
    trigger = pd.Timestamp(exits["06.trigger_date"].iloc[0])
    trigger = trigger.tz_localize("Asia/Shanghai") if trigger.tzinfo is None else trigger
    assert low <= trigger <= high + pd.Timedelta(days=1)
    # The first brake-or-exit call comes after the true peak, never before it.
    assert pd.Timestamp(first_action(timeline, "06")) >= pd.Timestamp(truth("starry-mug")["peak_time"])


def test_watch_reruns_the_data_room_on_a_simulated_clock(tmp_path):
    from spikekit.engine.replay import watch

    folders = watch("starry-mug", every="1h", chapters=["07"], times=2, as_of="2025-03-09 11:00",
                    records=tmp_path, progress=None)
    manifests = [json.loads((f / "run.json").read_text(encoding="utf-8")) for f in folders]
    assert [m["as_of"] for m in manifests] == ["2025-03-09T11:00:00+08:00", "2025-03-09T12:00:00+08:00"]
    assert all(m["status"] == "ok" and list(m["chapters"]) == ["07"] for m in manifests)
    assert [m["tags"]["step"] for m in manifests] == [0, 1]
    # At 12:00 the 小红书 audience shift of the truth file is visible; an hour earlier the window had not closed.
    calls = [m["chapters"]["07"]["results"]["creative_call"] for m in manifests]
    assert calls == ["keep", "change the creative"]


def test_a_closed_loop_replay_applies_each_steps_orders_and_scores_three_policies(tmp_path, monkeypatch):
    """Two steps on fast-fade around its go, running chapters 01-03: the go step's purchase orders are approved into
    the replay's own ledger, the next step sees them as open orders, and outcome.json scores the policies."""
    from spikekit.engine.closedloop import follow_replay
    from spikekit.inputs.state import load_ledger

    data = tmp_path / "data"
    shutil.copytree(data_root(), data, ignore=shutil.ignore_patterns("ledger", "replays", "generated"))
    monkeypatch.setenv("SPIKE_DATA_ROOT", str(data))
    records = tmp_path / "records"
    done = follow_replay("fast-fade", "2025-03-05 12:00", "2025-03-06 12:00", chapters=["03"], records=records,
                         progress=open("/dev/null", "w"))
    out = json.loads((done.folder / "outcome.json").read_text(encoding="utf-8"))
    assert set(out) >= {"playbook", "handbook", "hindsight", "contradictions", "world"}
    for policy in ("playbook", "handbook", "hindsight"):
        assert set(out[policy]) >= {"fill_rate", "lost_units", "leftover_units", "leftover_value", "cash_low",
                                    "gross_margin", "first_order_at"}
    # The same true demand for every policy: sold + lost is the same units.
    totals = {p: round(float(s.sold.sum() + s.lost.sum())) for p, s in done.shops.items()}
    assert len(set(totals.values())) == 1, totals
    # Hindsight is the limit: no policy loses plus leaves over less.
    costs = {p: out[p]["cost_lost_plus_leftover"] for p in ("playbook", "handbook", "hindsight")}
    assert costs["hindsight"] <= min(costs["playbook"], costs["handbook"]) + 1e-6
    sim = json.loads((done.folder / "replay.json").read_text())["simulation"]["data"]
    ledger = load_ledger(f"{sim}/ledger", tz="Asia/Shanghai", data_root=data)
    steps = json.loads((done.folder / "replay.json").read_text())["steps"]
    first = json.loads((records / "fast-fade" / steps[0]["run_id"] / "run.json").read_text())
    second = json.loads((records / "fast-fade" / steps[1]["run_id"] / "run.json").read_text())
    ordered = int(ledger.purchase_orders.loc[ledger.purchase_orders["source_run"] == first["run_id"], "units"].sum())
    # What the first step ordered (and nothing arrived yet) is on order when the second step runs.
    assert second["state"]["position"]["on_order"] >= ordered - int(
        ledger.approvals.loc[(ledger.approvals["run_id"] == first["run_id"]) & (ledger.approvals["kind"] == "cancel"),
                             "units"].sum())
    assert second["tags"]["overrides"]["ledger"] == f"{sim}/ledger"
