"""Several spikes on one pool: `spike run --spike a,b,c` / `--all` and `runner.run_many`.

One record per spike, each deciding what the spike decides when run alone; never more chapters at once than
--workers; spikes take turns for the pool; a spike that cannot run fails alone while the others seal.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from spikekit import cli
from spikekit.engine import runner
from spikekit.core.errors import ConfigError

pytestmark = pytest.mark.e2e

BASES = {"mini": 41, "other": 7, "third": 3}


def _spike_file(pb: Path, name: str, base: int, numbers: str = "mini/numbers.csv") -> None:
    (pb / "spikes" / f"{name}.yaml").write_text(
        f"timezone: Asia/Shanghai\ndefault_as_of: '2025-03-01 00:00'\ndata:\n  numbers: {numbers}\n"
        f"parameters:\n  A: {{base: {base}}}\n", encoding="utf-8")


@pytest.fixture
def three_spikes(mini_project):
    for name, base in BASES.items():
        _spike_file(mini_project["playbook"], name, base)
    return mini_project


def _decisions(manifest: dict) -> dict:
    """What a run decided, chapter by chapter (not its ids, times or paths)."""
    return {cid: (ch["status"], {k: v for k, v in ch["results"].items() if k != "as_of_seen"})
            for cid, ch in manifest["chapters"].items()}


def _max_overlap(manifests: list[dict]) -> int:
    """The most chapters that ran at the same moment, from the chapters' started/finished stamps."""
    events = []
    for manifest in manifests:
        for chapter in manifest["chapters"].values():
            if chapter["status"] in {"ok", "failed"}:
                events.append((dt.datetime.fromisoformat(chapter["started"]), 1))
                events.append((dt.datetime.fromisoformat(chapter["finished"]), -1))
    running = most = 0
    for _, step in sorted(events):  # at a tie a finish (-1) sorts before a start (+1)
        running += step
        most = max(most, running)
    return most


def test_three_spikes_share_one_pool_take_turns_and_decide_as_alone(three_spikes):
    shown = io.StringIO()
    outcomes = runner.run_many(["mini", "other", "third"], chapters=["A", "B"], workers=2, progress=shown)

    assert [o.manifest["spike"] for o in outcomes] == ["mini", "other", "third"]
    folders = {o.run_dir for o in outcomes}
    assert len(folders) == 3
    records = three_spikes["records"]
    for outcome in outcomes:
        assert outcome.ok and outcome.error is None
        m = outcome.manifest
        assert outcome.run_dir == records / m["spike"] / m["run_id"]
        assert (outcome.run_dir / "seal.json").is_file()
        on_disk = json.loads((outcome.run_dir / "run.json").read_text(encoding="utf-8"))
        # B read A from its own spike's run, never from another run in the same pool.
        assert on_disk["chapters"]["B"]["results"] == {"x_plus_one": BASES[m["spike"]] + 1}
        assert on_disk["chapters"]["B"]["parameters"]["upstream_run"] == m["run_id"]
    assert not (records / ".partial").exists() or not any((records / ".partial").rglob("*"))
    assert _max_overlap([o.manifest for o in outcomes]) <= 2

    # One display: every chapter line names its spike; the spikes take turns (third's A before mini's B).
    lines = shown.getvalue().splitlines()
    started = [line.split("]", 1)[1].split()[:3] for line in lines if " running" in line]
    assert [s[0] for s in started[:3]] == ["mini", "other", "third"] and all(s[2] == "A" for s in started[:3])
    assert sum(1 for line in lines if " ok" in line) == 6

    # Each spike decides what it decides when run alone.
    alone = runner.run("other", chapters=["A", "B"], workers=2, progress=None)
    together = next(o for o in outcomes if o.manifest["spike"] == "other")
    assert _decisions(alone.manifest) == _decisions(together.manifest)


def test_one_worker_runs_one_chapter_at_a_time_across_spikes(three_spikes):
    outcomes = runner.run_many(["mini", "other"], chapters=["A", "B"], workers=1, progress=None)
    assert all(o.ok for o in outcomes)
    assert _max_overlap([o.manifest for o in outcomes]) == 1


def test_all_runs_every_spike_file_and_a_broken_spike_fails_alone(three_spikes):
    pb, records = three_spikes["playbook"], three_spikes["records"]
    _spike_file(pb, "broken", 5, numbers="mini")  # a folder, not a table: this spike cannot run
    proc = subprocess.run([sys.executable, "-m", "spikekit.cli", "run", "--all", "--chapters", "A",
                           "--records", str(records)], capture_output=True, text=True, timeout=300)

    assert proc.returncode == 2, proc.stderr  # a spike that could not run is a config error, as for one spike
    assert "spike: error: spike 'broken' did not run: input 'numbers' of spike 'broken' is a folder" in proc.stderr
    printed = [Path(line) for line in proc.stdout.split()]
    assert sorted(p.parent.name for p in printed) == ["mini", "other", "third"]
    for folder in printed:
        manifest = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        assert manifest["status"] == "ok" and manifest["chapters"]["A"]["results"]["x"] == BASES[folder.parent.name]
    assert not (records / "broken").exists()
    assert not (records / ".partial").exists() or not any((records / ".partial").rglob("*"))


def test_run_many_reports_a_spike_that_cannot_run_and_runs_the_rest(three_spikes):
    outcomes = runner.run_many(["mini", "nosuch"], chapters=["A"], progress=None)
    assert outcomes[0].ok
    assert outcomes[1].run_dir is None and not outcomes[1].ok and isinstance(outcomes[1].error, ConfigError)


@pytest.mark.parametrize("argv, says", [
    (["--all", "--spike", "mini"], "--all runs every spike file"),
    (["--spike", "mini,,other"], "has an empty name"),
    (["--spike", "mini,other", "--resume", "20250101T000000Z-abcd"], "--resume is for one spike"),
    (["--spike", "mini,other", "--as-of", "yesterday-ish"], "--as-of"),
])
def test_multi_spike_option_errors_are_one_line(three_spikes, capsys, argv, says):
    assert cli.main(["run", *argv, "--chapters", "A"]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert not three_spikes["records"].exists()


def test_a_worker_takes_a_warm_kernel_only_for_the_locations_it_was_started_with(monkeypatch):
    """Chapters of runs with other SPIKE_* locations may follow each other on one worker: the task's locations
    are set first, and a kernel warmed ahead for other locations is not used (it would read the wrong records)."""
    monkeypatch.setenv("SPIKE_RECORDS", "/records/a")
    pool = runner._KernelPool("spikekit", "/nowhere")
    warm = object()
    pool.km, pool.env = warm, runner._run_env()
    stopped = []
    monkeypatch.setattr(runner, "_shutdown_km", stopped.append)
    runner._apply_run_env({"SPIKE_RECORDS": "/records/a"})
    assert pool.take("spikekit", "/nowhere") is warm

    pool.km = warm
    runner._apply_run_env({"SPIKE_RECORDS": "/records/b"})
    assert runner._run_env()["SPIKE_RECORDS"] == "/records/b"
    assert pool.take("spikekit", "/nowhere") is None and pool.km is None and stopped == [warm]


def test_many_spikes_share_one_dask_pool(three_spikes):
    """`--executor dask` behind the same flag: every spike's chapters go to the one DaskPool given."""
    import os

    distributed = pytest.importorskip("distributed", reason="the 'distributed' package is not installed")
    from spikekit.engine.distributed import pool_for

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=":0", silence_logs=40) as local, \
            distributed.Client(local, set_as_default=False) as client:
        with pool_for(client, size=2) as pool:
            outcomes = runner.run_many(["mini", "other"], chapters=["A", "B"], pool=pool, progress=None,
                                       tags={"executor": "dask"})
            placements = dict(pool.placements)
        worker_pids = set(client.run(os.getpid).values())
    for outcome in outcomes:
        assert outcome.ok and outcome.manifest["tags"] == {"executor": "dask"}
        assert outcome.manifest["chapters"]["B"]["results"] == {"x_plus_one": BASES[outcome.manifest["spike"]] + 1}
    assert placements and {p["pid"] for p in placements.values()} <= worker_pids
    assert _max_overlap([o.manifest for o in outcomes]) <= 2
