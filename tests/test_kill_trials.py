"""kill -9 at chosen moments: the records root never holds a half-written run, and nothing is left running.

Trials of `spike run` on the tiny playbook, one per moment of a run's life (PHASES) and per way of killing:
the runner with everything it started (its process group, plus every kernel, found by a marker in their
environment: kernels run in their own session), or the runner alone (then its workers must die with it and the
kernels follow). Every trial kills a run that is still going: a run that finished before the kill landed is
tried again with an earlier kill, and only kills are counted. After each attempt:
- every folder among the records holds a complete run: run.json with a final status, and the notebook, HTML
  and results file of each chapter that succeeded; files sealed;
- every earlier record is byte-identical;
- no process of the attempt is left;
- later trials resume killed runs that got far enough, and a last, unkilled resume completes one.

A second test kills one chapter's kernel and then another chapter's worker while other chapters run: the run
records those two chapters failed and their dependents skipped, the others ok, and leaves no process behind.
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

from tests.conftest import tree_digest, write_notebook

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")]

SEED = 20251125
FINAL = {"ok", "failed"}
PHASES = ("spawned", "staged", "A running", "A done", "B running")
KILL_MODES = ("whole tree", "runner alone")
TRIALS = len(PHASES) * len(KILL_MODES)  # every moment with both ways of killing: 10 kills, counted exactly
MAX_ATTEMPTS = 6  # a kill at "spawned" with no delay always lands, so the earlier-kill retries end


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


# How long a killed runner's processes may take to be gone. Each dies with its parent (PR_SET_PDEATHSIG), one
# link of the chain at a time; on a 2-core machine busy with other work a chain has taken over 20 s. A liveness
# bound, not a speed goal.
GONE_WITHIN_S = 90


def wait_gone(marker: str, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    left = processes_with(marker)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = processes_with(marker)
    return left


def wait_for_phase(proc: subprocess.Popen, partial: Path, known: set[str], phase: str, timeout: float = 120) -> bool:
    """Wait until the trial's run reaches ``phase`` (read from its staging run.json); False if it ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
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
    """Killed runs that got chapter A done but not B (a resume reuses A and still has B to run), oldest first."""
    out = []
    for manifest in sorted(partial.glob("*/run.json")) if partial.exists() else []:
        try:
            meta = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):  # written atomically: never expected
            pytest.fail(f"{manifest} is not valid JSON")
        status = {c: v["status"] for c, v in meta["chapters"].items()}
        if status.get("A") in {"ok", "reused"} and status.get("B") not in {"ok", "reused"}:
            out.append(manifest.parent)
    return out


def run_dirs(spike_dir: Path) -> set[str]:
    return {p.name for p in spike_dir.iterdir()} if spike_dir.exists() else set()


def attempt(args: list[str], partial: Path, spike_dir: Path, phase: str, delay: float, mode: str) -> tuple[str, str]:
    """One `spike run` killed at ``phase`` + ``delay`` seconds; returns (outcome, marker), outcome 'killed' when
    the kill landed while the run was still going, 'finished' when the run completed first."""
    marker = uuid.uuid4().hex
    env = dict(os.environ, SPIKE_KILL_TRIAL=marker)
    known = {p.name for p in partial.iterdir()} if partial.exists() else set()
    records_before = run_dirs(spike_dir)
    proc = subprocess.Popen([sys.executable, "-m", "spikekit.cli", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    reached = wait_for_phase(proc, partial, known, phase)
    try:
        proc.wait(timeout=delay if reached else 0.01)
    except subprocess.TimeoutExpired:
        if mode == "whole tree":
            # Everything at once, as a power cut or an OOM kill of the group would.
            tree = processes_with(marker)
            os.killpg(proc.pid, signal.SIGKILL)
            kill_all(tree + processes_with(marker))
        else:
            proc.send_signal(signal.SIGKILL)  # the runner alone: what it started must follow it down
        proc.wait(timeout=30)
    # A kill that landed after the run's folder appeared among the records killed nothing that mattered.
    killed = proc.returncode == -signal.SIGKILL and run_dirs(spike_dir) == records_before
    return ("killed" if killed else "finished"), marker


def test_kill_9_at_every_moment_never_leaves_a_half_written_record(mini_project):
    from spikekit.engine import runner

    rng = random.Random(SEED)
    records = mini_project["records"]
    spike_dir, partial = records / "mini", records / ".partial" / "mini"
    # B takes a moment, so a kill while B runs leaves a run with A done and B not, which a later trial resumes.
    spike_file = mini_project["playbook"] / "spikes" / "mini.yaml"
    spike_file.write_text(spike_file.read_text(encoding="utf-8") + "parameters:\n  B: {sleep_s: 1.5}\n", encoding="utf-8")
    first = runner.run("mini", None, chapters=["A", "B"], workers=1, progress=None)
    assert first.ok
    markers, kills, log = [], 0, []
    resumed_from: set[str] = set()
    resumed_last = False
    plan = [(phase, mode) for phase in PHASES for mode in KILL_MODES]
    rng.shuffle(plan)
    for trial, (phase, mode) in enumerate(plan):
        # --fresh: every trial executes its chapters (a resume takes only the resumed run's finished ones).
        args = ["run", "--spike", "mini", "--chapters", "A,B", "--workers", "1", "--fresh"]
        candidates = [p for p in resumable(partial) if p.name not in resumed_from]
        if candidates and not resumed_last:  # resume a killed run when there is one, fresh runs in between
            resumed_from.add(candidates[-1].name)
            args += ["--resume", candidates[-1].name]
        resumed_last = "--resume" in args
        delay = rng.uniform(0.0, 0.8)
        for tries in range(1, MAX_ATTEMPTS + 1):
            t_attempt = time.monotonic()
            before = tree_digest(spike_dir)
            outcome, marker = attempt(args, partial, spike_dir, phase, delay, mode)
            markers.append(marker)
            left = wait_gone(marker, timeout=GONE_WITHIN_S)
            kill_all(left)  # do not leak into the next attempt, but fail below
            assert not left, f"trial {trial}: processes {left} outlived the killed runner"
            check_records(spike_dir)
            after = tree_digest(spike_dir)
            assert {k: after.get(k) for k in before} == before, f"trial {trial}: an earlier record changed"
            log.append(f"trial {trial:2d}.{tries}: {'resume' if '--resume' in args else 'fresh':6} {phase:<9} "
                       f"+{delay:.2f}s {mode:<12} {outcome:<8} {time.monotonic() - t_attempt:5.1f}s")
            print(log[-1])
            if outcome == "killed":
                kills += 1
                break
            # The run finished before the kill landed: that proved nothing, so kill earlier.
            if delay > 0.05:
                delay /= 4
            else:
                phase, delay = PHASES[max(0, PHASES.index(phase) - 1)], 0.0
        else:
            pytest.fail(f"trial {trial}: no kill landed in {MAX_ATTEMPTS} attempts:\n" + "\n".join(log))
    assert kills == TRIALS, log

    # A last resume, not killed, completes the newest killed run that got past chapter A.
    pending = resumable(partial)
    assert pending, "no killed run reached chapter A:\n" + "\n".join(log)
    killed = pending[-1]
    resumed = runner.run("mini", None, resume=killed.name, workers=1, progress=None)
    assert resumed.ok and resumed.manifest["resumed_from"] == killed.name
    assert resumed.manifest["chapters"]["A"]["status"] == "reused"
    assert resumed.manifest["chapters"]["B"]["results"] == {"x_plus_one": 42}
    check_records(spike_dir)
    assert all(not processes_with(m) for m in markers)


# ------------------------------------------------------------------------------------------------------------
# One kernel and one worker killed while other chapters run


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        return int(fh.read().rsplit(b")", 1)[1].split()[1])


def _cmdline(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as fh:
        return fh.read().replace(b"\0", b" ").decode(errors="replace")


def worker_of(kernel_pid: int) -> int:
    """The runner worker a kernel belongs to: an ancestor (the kernel's parent, or its fork server's parent)."""
    pid = kernel_pid
    for _ in range(4):
        pid = _parent(pid)
        if "spikekit.engine.runner --worker" in _cmdline(pid):
            return pid
    raise AssertionError(f"no runner worker among the ancestors of kernel {kernel_pid}")


def wait_for_file(path: Path, proc: subprocess.Popen, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text(encoding="utf-8").strip():
            return path.read_text(encoding="utf-8").strip()
        if proc.poll() is not None:
            pytest.fail(f"the run ended before {path.name} appeared: {proc.communicate()}")
        time.sleep(0.05)
    pytest.fail(f"{path.name} never appeared")


@pytest.fixture
def victim_project(tmp_path, monkeypatch):
    """Chapters that hold until the test lets them go: K and W (to be killed) and X (released), run in that order
    (ids sort); each has a dependent: KD, WD, XD."""
    pb = tmp_path / "playbook"
    (pb / "spikes").mkdir(parents=True)
    data = tmp_path / "data"
    (data / "mini").mkdir(parents=True)
    (data / "mini" / "numbers.csv").write_text("x\n1\n", encoding="utf-8")
    signals_dir = tmp_path / "signals"
    signals_dir.mkdir()
    nbdir = tmp_path / "nbs"
    params = ('spike = "mini"\nas_of = "2025-03-01 00:00"\ntimezone = "Asia/Shanghai"\nupstream_run = ""\n'
              'numbers_file = "mini/numbers.csv"\n')
    begin = ("import spikekit as sk\n"
             "ctx = sk.begin(chapter, spike=spike, as_of=as_of, timezone=timezone, upstream_run=upstream_run)")
    # The kernel says who it is, then holds until its release file appears (never, for the chapters killed).
    write_notebook(nbdir / "hold.ipynb", [
        ("code", params + f'chapter = ""\nsignals = "{signals_dir}"\nmax_hold_s = 90.0', ["parameters"]),
        ("code", begin),
        ("code", "import os, pathlib, time\n"
                 "pathlib.Path(signals, chapter + '.pid').write_text(str(os.getpid()))\n"
                 "deadline = time.monotonic() + max_hold_s\n"
                 "while not pathlib.Path(signals, chapter + '.release').exists() and time.monotonic() < deadline:\n"
                 "    time.sleep(0.05)\n"
                 "sk.record('held', chapter)"),
    ])
    write_notebook(nbdir / "after.ipynb", [
        ("code", params + 'chapter = ""\nneeds = ""', ["parameters"]),
        ("code", begin),
        ("code", "sk.record('after', sk.upstream(needs, 'held'))"),
    ])
    chapters = []
    for cid in ("K", "W", "X"):
        chapters.append(f'  - {{id: "{cid}", name: {cid.lower()}, notebook: {nbdir / "hold.ipynb"}, needs: [], '
                        f'inputs: [numbers], defaults: {{chapter: "{cid}"}}}}')
    for cid, need in (("KD", "K"), ("WD", "W"), ("XD", "X")):
        chapters.append(f'  - {{id: "{cid}", name: {cid.lower()}, notebook: {nbdir / "after.ipynb"}, '
                        f'needs: ["{need}"], inputs: [numbers], defaults: {{chapter: "{cid}", needs: "{need}"}}}}')
    (pb / "playbook.yaml").write_text("kernel: spikekit\ntimeout_s: 120\nworkers: 2\nchapters:\n"
                                      + "\n".join(chapters) + "\n", encoding="utf-8")
    (pb / "spikes" / "mini.yaml").write_text(
        "timezone: Asia/Shanghai\ndefault_as_of: '2025-03-01 00:00'\ndata:\n  numbers: mini/numbers.csv\n", encoding="utf-8")
    monkeypatch.setenv("SPIKE_PLAYBOOK", str(pb))
    monkeypatch.setenv("SPIKE_DATA_ROOT", str(data))
    monkeypatch.setenv("SPIKE_RECORDS", str(tmp_path / "records"))
    return {"records": tmp_path / "records", "signals": signals_dir}


def test_a_killed_kernel_and_a_killed_worker_fail_only_their_chapters(victim_project):
    from spikekit.engine import runner

    records, signals_dir = victim_project["records"], victim_project["signals"]
    spike_dir = records / "mini"
    # An earlier, complete record: it must come out byte-identical.
    (signals_dir / "X.release").touch()
    first = runner.run("mini", None, chapters=["XD"], workers=1, progress=None)
    assert first.ok
    (signals_dir / "X.release").unlink()
    (signals_dir / "X.pid").unlink()
    before = tree_digest(spike_dir)

    marker = uuid.uuid4().hex
    proc = subprocess.Popen([sys.executable, "-m", "spikekit.cli", "run", "--spike", "mini", "--workers", "2", "--fresh"],
                            env=dict(os.environ, SPIKE_KILL_TRIAL=marker), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, encoding="utf-8", errors="replace", start_new_session=True)
    try:
        # K and W hold on the two workers. Kill K's kernel process while W runs.
        kernel_k = int(wait_for_file(signals_dir / "K.pid", proc))
        kernel_w = int(wait_for_file(signals_dir / "W.pid", proc))
        worker_w = worker_of(kernel_w)
        assert worker_w != worker_of(kernel_k)
        os.kill(kernel_k, signal.SIGKILL)
        # K's worker, free again, takes X; kill W's worker while X runs, then let X finish.
        wait_for_file(signals_dir / "X.pid", proc)
        os.kill(worker_w, signal.SIGKILL)
        (signals_dir / "X.release").touch()
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert proc.returncode == 1, err  # the run reports a failed chapter
    run_dir = Path(out.strip().splitlines()[-1])
    manifest = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    chapters = manifest["chapters"]
    assert {c: v["status"] for c, v in chapters.items()} == {
        "K": "failed", "W": "failed", "X": "ok", "KD": "skipped", "WD": "skipped", "XD": "ok"}, err
    assert manifest["status"] == "failed"
    assert chapters["W"]["error"]["ename"] == "ChapterAborted" and "worker process died" in chapters["W"]["error"]["evalue"]
    assert chapters["K"]["error"]["ename"] == "DeadKernelError"  # the worker survived its kernel and said why
    assert "needs K" in chapters["KD"]["error"]["evalue"] and "needs W" in chapters["WD"]["error"]["evalue"]
    assert chapters["XD"]["results"] == {"after": "X"}
    # Nothing left running; the records complete and sealed; the earlier record untouched; nothing staged.
    left = wait_gone(marker, timeout=GONE_WITHIN_S)
    kill_all(left)
    assert not left, f"processes {left} outlived the run"
    check_records(spike_dir)
    assert run_dirs(spike_dir) == {first.manifest["run_id"], manifest["run_id"]}
    after = tree_digest(spike_dir)
    assert {k: after.get(k) for k in before} == before
    assert not list((records / ".partial").glob("mini/*"))
