"""Runs at the same time into one records root: two spikes, and two runs of one spike.

Both must finish with distinct run ids, complete and sealed, the partial area cleaned, and each chapter must
have read its upstream results from its own run (never from the other run while that one is in .partial).
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from spikekit.engine import runner

pytestmark = pytest.mark.e2e


def _start(env, spike, records, extra=()):
    return subprocess.Popen([sys.executable, "-m", "spikekit.cli", "run", "--spike", spike, "--chapters", "A,B",
                             "--workers", "1", "--records", str(records), *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _check_record(folder: Path, spike: str, base: int) -> dict:
    manifest = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "ok" and manifest["spike"] == spike and manifest["run_id"] == folder.name
    assert {c: v["status"] for c, v in manifest["chapters"].items()} == {"A": "ok", "B": "ok"}
    # B read A's result from its own run: the two runs use different bases.
    assert manifest["chapters"]["B"]["results"] == {"x_plus_one": base + 1}
    assert manifest["chapters"]["B"]["parameters"]["upstream_run"] == manifest["run_id"]
    for name in ("a.ipynb", "b.ipynb", "a.html", "b.html", "results/A.json", "results/B.json"):
        path = folder / name
        assert path.exists(), name
        assert not path.stat().st_mode & stat.S_IWUSR, f"{name} is not sealed"
    return manifest


def _spike_file(pb: Path, name: str, base: int) -> None:
    (pb / "spikes" / f"{name}.yaml").write_text(
        "timezone: Asia/Shanghai\ndefault_as_of: '2025-03-01 00:00'\ndata:\n  numbers: mini/numbers.csv\n"
        f"parameters:\n  A: {{base: {base}, sleep_s: 0.5}}\n", encoding="utf-8")


@pytest.mark.parametrize("same_spike", [False, True], ids=["two-spikes", "one-spike-twice"])
def test_two_runs_at_once_both_finish_complete_and_sealed(mini_project, same_spike):
    pb, records = mini_project["playbook"], mini_project["records"]
    _spike_file(pb, "mini", 41)
    _spike_file(pb, "other", 7)
    # The second run of one spike differs in nothing but its id: both read from their own run, so both see 41.
    jobs = [("mini", 41), ("mini", 41)] if same_spike else [("mini", 41), ("other", 7)]
    env = dict(os.environ)
    procs = [_start(env, spike, records) for spike, _ in jobs]
    outs = [p.communicate(timeout=240) for p in procs]
    for proc, (out, err) in zip(procs, outs):
        assert proc.returncode == 0, err
    folders = [Path(out.strip().splitlines()[-1]) for out, _ in outs]
    assert folders[0] != folders[1] and folders[0].name != folders[1].name
    for folder, (spike, base) in zip(folders, jobs):
        assert folder.parent == records / spike
        _check_record(folder, spike, base)
    # The partial area is clean: no run left, no empty spike folders left behind by the two prunes.
    partial = records / ".partial"
    assert not partial.exists() or not any(partial.rglob("*"))
    listed = runner.list_runs(records)
    assert sorted(r["run_id"] for r in listed) == sorted(f.name for f in folders)
    assert all(r["status"] == "ok" for r in listed)


def test_a_run_id_collision_gets_a_fresh_id_instead_of_failing_at_the_end(mini_project, monkeypatch):
    # A finished run already holds the id the clock and two random bytes give the next run (1 in 65,536 within
    # one second): the new run must take another id, not fail at its final rename after all its work.
    taken = mini_project["records"] / "mini" / "20250301T000000Z-beef"
    (taken / "results").mkdir(parents=True)
    (taken / "run.json").write_text('{"run_id": "20250301T000000Z-beef", "spike": "mini", "status": "ok"}')
    ids = iter(["20250301T000000Z-beef", "20250301T000000Z-cafe"])
    monkeypatch.setattr(runner, "new_run_id", lambda now=None: next(ids))
    second = runner.run("mini", None, chapters=["A"], progress=None)
    assert second.manifest["run_id"] == "20250301T000000Z-cafe" and second.ok
    assert json.loads((taken / "run.json").read_text())["status"] == "ok"
