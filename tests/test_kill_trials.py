"""kill -9 at random moments: the records root never holds a half-written run, and nothing is left running.

Twenty trials of `spike run` on the tiny playbook (seeded moments). Each trial SIGKILLs the runner either with
everything it started (its process group, plus every kernel, found by a marker in their environment: kernels
run in their own session), or alone (then its workers must die with it and the kernels follow). After each:
- every folder among the records holds a complete run: run.json with a final status, and the notebook, HTML
  and results file of each chapter that succeeded; files sealed;
- every earlier record is byte-identical;
- no process of the trial is left;
- the next trial resumes the killed run when it got far enough, and a last, unkilled resume completes it.
"""
from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import tree_digest

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")]

TRIALS = 20
SEED = 20251125
FINAL = {"ok", "failed"}


def processes_with(marker: str) -> list[int]:
    """PIDs of live processes whose environment carries ``marker`` (workers and kernels inherit it)."""
    needle = marker.encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if needle in fh.read():
                    with open(f"/proc/{entry}/stat", "rb") as st:
                        if st.read().rsplit(b")", 1)[1].split()[0] != b"Z":  # zombies are already dead
                            found.append(int(entry))
        except OSError:
            continue
    return found


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def wait_gone(marker: str, timeout: float) -> list[int]:
    deadline = time.time() + timeout
    left = processes_with(marker)
    while left and time.time() < deadline:
        time.sleep(0.1)
        left = processes_with(marker)
    return left


PHASES = ("spawned", "staged", "A running", "A done", "B running")


def wait_for_phase(proc: subprocess.Popen, partial: Path, known: set[str], phase: str, timeout: float = 120) -> bool:
    """Wait until the trial's run reaches ``phase`` (read from its staging run.json); False if it ended first."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if phase == "spawned":
            return True
        new = [p for p in partial.iterdir() if p.name not in known] if partial.exists() else []
        manifest = None
        for folder in new:
            try:
                manifest = json.loads((folder / "run.json").read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
        if manifest is not None:
            status = {c: v["status"] for c, v in manifest["chapters"].items()}
            if (phase == "staged"
                    or (phase == "A running" and status.get("A") in {"running", "ok", "reused"})
                    or (phase == "A done" and status.get("A") in {"ok", "reused"})
                    or (phase == "B running" and status.get("B") in {"running", "ok"})):
                return True
        time.sleep(0.05)
    return False


def check_records(spike_dir: Path) -> None:
    """Every run folder among the records is complete and sealed."""
    for folder in spike_dir.iterdir() if spike_dir.exists() else []:
        manifest_path = folder / "run.json"
        assert manifest_path.exists(), f"{folder} has no run.json"
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        assert manifest["status"] in FINAL and manifest["finished"], folder
        for cid, entry in manifest["chapters"].items():
            assert entry["status"] in {"ok", "reused", "failed", "skipped"}, (folder, cid, entry["status"])
            if entry["status"] in {"ok", "reused"}:
                assert (folder / entry["notebook"]).exists(), (folder, cid)
                assert (folder / "results" / f"{cid}.json").exists(), (folder, cid)
                if entry.get("html"):
                    assert (folder / entry["html"]).exists(), (folder, cid)
        for path in folder.rglob("*"):
            if path.is_file():
                assert not path.stat().st_mode & stat.S_IWUSR, f"{path} is not sealed"


def resumable(partial: Path) -> list[Path]:
    """Killed runs that got chapter A done (resume reuses it), oldest first."""
    out = []
    for manifest in sorted(partial.glob("*/run.json")) if partial.exists() else []:
        try:
            meta = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):  # written atomically: never expected
            pytest.fail(f"{manifest} is not valid JSON")
        if meta["chapters"].get("A", {}).get("status") in {"ok", "reused"}:
            out.append(manifest.parent)
    return out


def test_kill_9_at_random_moments_never_leaves_a_half_written_record(mini_project):
    from spikekit import runner

    rng = random.Random(SEED)
    records = mini_project["records"]
    spike_dir, partial = records / "mini", records / ".partial" / "mini"
    first = runner.run("mini", None, chapters=["A", "B"], workers=1, progress=None)
    assert first.ok
    markers, outcomes = [], []
    resumed_from: set[str] = set()
    for trial in range(TRIALS):
        t_trial = time.time()
        before = tree_digest(spike_dir)
        marker = f"SPIKE_KILL_TRIAL={uuid.uuid4().hex}"
        markers.append(marker)
        env = dict(os.environ, SPIKE_KILL_TRIAL=marker.split("=", 1)[1])
        candidates = [p for p in resumable(partial) if p.name not in resumed_from]
        args = ["run", "--spike", "mini", "--chapters", "A,B", "--workers", "1"]
        if candidates and rng.random() < 0.6:
            resumed_from.add(candidates[-1].name)
            args += ["--resume", candidates[-1].name]
        known = {p.name for p in partial.iterdir()} if partial.exists() else set()
        proc = subprocess.Popen([sys.executable, "-m", "spikekit.cli", *args], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        # The moment: a seeded point in the run's life (so a slow, busy machine still gets kills in every
        # phase), then a seeded extra delay within it.
        phase = rng.choice(PHASES)
        delay = rng.uniform(0.0, 0.8)
        whole_tree = rng.random() < 0.7
        reached = wait_for_phase(proc, partial, known, phase)
        try:
            proc.wait(timeout=delay if reached else 0.01)
            outcomes.append("finished")
        except subprocess.TimeoutExpired:
            if whole_tree:
                # Everything at once, as a power cut or an OOM kill of the group would.
                tree = processes_with(marker)
                os.killpg(proc.pid, signal.SIGKILL)
                kill_all(tree + processes_with(marker))
            else:
                proc.send_signal(signal.SIGKILL)  # the runner alone: what it started must follow it down
            proc.wait(timeout=30)
            outcomes.append("killed-tree" if whole_tree else "killed-runner")
        left = wait_gone(marker, timeout=20)
        kill_all(left)  # do not leak into the next trial, but fail below
        assert not left, f"trial {trial}: processes {left} outlived the killed runner"
        check_records(spike_dir)
        after = tree_digest(spike_dir)
        assert {k: after.get(k) for k in before} == before, f"trial {trial}: an earlier record changed"
        print(f"trial {trial:2d}: {'resume' if '--resume' in args else 'fresh ':6} {phase:<9} +{delay:.2f}s "
              f"{outcomes[-1]:<13} {time.time() - t_trial:5.1f}s")
    assert outcomes.count("finished") < TRIALS // 2, outcomes  # the trials did kill runs mid-way

    # A last resume, not killed, completes the newest killed run that got past chapter A.
    pending = resumable(partial)
    if not pending:  # every killed run died before A finished: make one that gets further
        pytest.fail(f"no killed run reached chapter A in {TRIALS} trials: {outcomes}")
    killed = pending[-1]
    resumed = runner.run("mini", None, resume=killed.name, workers=1, progress=None)
    assert resumed.ok and resumed.manifest["resumed_from"] == killed.name
    assert resumed.manifest["chapters"]["A"]["status"] == "reused"
    assert resumed.manifest["chapters"]["B"]["results"] == {"x_plus_one": 42}
    check_records(spike_dir)
    assert all(not processes_with(m) for m in markers)
