"""Record safety: sealed runs (seal.json, read-only folders, `spike verify`), partial runs (a refused run leaves
nothing, the runner is recorded, dead partials are shown and pruned, a resumed partial is superseded), records
roots that are refused, runs that cannot write their record, damaged run.json files, the data room's cache.

Tests run as root, which ignores file modes: what a mode should stop is checked through the checksums, and a
read-only file system is simulated where the test needs one."""
from __future__ import annotations

import errno
import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from spikekit import cli
from spikekit.engine import runner
from spikekit.core.errors import ConfigError
from spikekit.engine.seal import SEAL_FILE


def _partial_area(records: Path) -> list[str]:
    base = records / ".partial"
    return sorted(p.relative_to(records).as_posix() for p in base.rglob("*")) if base.exists() else []


def _gone_pid() -> int:
    """The pid of a process that has exited (Linux hands out pids in order, so it is not reused at once)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _error_lines(err: str) -> list[str]:
    assert "Traceback" not in err, err
    # "spike: error:" from the command, "spike run: error:" when argparse refuses an option as it is parsed
    return [line for line in err.splitlines() if line.startswith(("spike: error:", "spike run: error:"))]


# ----------------------------------------------------------------------------------------------------------
# Sealing and `spike verify`
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.e2e
def test_a_finished_run_is_sealed_with_checksums_and_verify_finds_every_change(mini_project, capsys):
    records = mini_project["records"]
    outcome = runner.run("mini", None, chapters=["A"], progress=None)
    folder, run_id = outcome.run_dir, outcome.manifest["run_id"]
    # Folders are read-only too, not only files.
    assert stat.S_IMODE(folder.stat().st_mode) == 0o555
    assert stat.S_IMODE((folder / "results").stat().st_mode) == 0o555
    # seal.json lists every other file, run.json included, with its sha256.
    seal = json.loads((folder / SEAL_FILE).read_text(encoding="utf-8"))
    listed = {e["path"] for e in seal["files"]}
    assert listed == {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {SEAL_FILE}
    assert {"run.json", "a.ipynb", "a.html", "results/A.json", "note.md"} <= listed
    assert cli.main(["verify", run_id]) == 0
    assert capsys.readouterr().out.startswith(f"intact: {folder} ({len(listed)} files")

    # Tampering (root may write anyway; a person would chmod first).
    for path in (folder, folder / "results"):
        path.chmod(0o755)
    result = folder / "results" / "A.json"
    result.chmod(0o644)
    result.write_text(result.read_text(encoding="utf-8").replace('"x": 41', '"x": 40'), encoding="utf-8")
    (folder / "a.html").unlink()
    (folder / "extra.txt").write_text("added later", encoding="utf-8")
    assert cli.main(["verify", f"mini/{run_id}", "--records", str(records)]) == 1
    out = capsys.readouterr().out
    assert "missing: a.html" in out and "changed: results/A.json (same size, different sha256)" in out
    assert "extra:   extra.txt" in out and "NOT intact" in out
    # A deleted run.json is found too: the run folder is located without it.
    (folder / "run.json").unlink()
    assert cli.main(["verify", run_id]) == 1
    assert "missing: run.json" in capsys.readouterr().out
    # Usage errors are exit 2, in one line.
    assert cli.main(["verify", "20990101T000000Z-0000"]) == 2
    assert len(_error_lines(capsys.readouterr().err)) == 1


# ----------------------------------------------------------------------------------------------------------
# Refused runs leave nothing; runs that cannot write their record say so
# ----------------------------------------------------------------------------------------------------------
def test_refused_inputs_leave_no_staging_folder(mini_project, capsys):
    records, spike_file = mini_project["records"], mini_project["playbook"] / "spikes" / "mini.yaml"
    original = spike_file.read_text(encoding="utf-8")
    spike_file.write_text(original.replace("mini/numbers.csv", "../../etc/passwd"), encoding="utf-8")
    with pytest.raises(ConfigError, match="outside"):
        runner.run("mini", None, chapters=["A"], progress=None)
    assert _partial_area(records) == []
    (mini_project["data"] / "mini" / "folder.csv").mkdir()
    spike_file.write_text(original.replace("mini/numbers.csv", "mini/folder.csv"), encoding="utf-8")
    assert cli.main(["run", "--spike", "mini", "--chapters", "A"]) == 2
    (line,) = _error_lines(capsys.readouterr().err)
    assert "input 'numbers' of spike 'mini' is a folder:" in line and "folder.csv. Fix: point `numbers:`" in line
    assert _partial_area(records) == []


def test_a_run_that_cannot_write_its_first_record_keeps_nothing(mini_project, monkeypatch, capsys):
    def full_disk(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(runner, "_write_json", full_disk)
    assert cli.main(["run", "--spike", "mini", "--chapters", "A"]) == 2
    (line,) = _error_lines(capsys.readouterr().err)
    assert "could not write its record" in line and "(ENOSPC)" in line and "nothing was kept" in line
    assert "Fix: free disk space" in line
    assert _partial_area(mini_project["records"]) == []


@pytest.mark.e2e
def test_a_run_that_cannot_write_its_record_stays_partial_marked_failed_and_a_resume_supersedes_it(
        mini_project, monkeypatch, capsys):
    records = mini_project["records"]
    write_json = runner._write_json

    def disk_full_at_the_end(path, data):
        if path.name == "run.json" and data.get("status") == "ok" and "record_error" not in data:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        write_json(path, data)

    monkeypatch.setattr(runner, "_write_json", disk_full_at_the_end)
    assert cli.main(["run", "--spike", "mini", "--chapters", "A,B"]) == 2
    (line,) = _error_lines(capsys.readouterr().err)
    assert "No space left on device (ENOSPC)" in line and "marked failed" in line and "--resume" in line
    assert not (records / "mini").exists()
    (partial,) = (records / ".partial" / "mini").iterdir()
    meta = json.loads((partial / "run.json").read_text(encoding="utf-8"))
    assert meta["status"] == "failed" and meta["record_error"]["errno"] == errno.ENOSPC
    assert {c: v["status"] for c, v in meta["chapters"].items()} == {"A": "ok", "B": "ok"}
    # The partial names its runner: this process.
    assert (meta["runner"]["pid"], meta["runner"]["host"]) == (os.getpid(), socket.gethostname())
    assert meta["runner"]["process_start"] == runner.runner_identity()["process_start"]
    monkeypatch.setattr(runner, "_write_json", write_json)
    assert [(r["run_id"], r["status"]) for r in runner.list_runs(records)] == [(partial.name, "partial (failed)")]

    resumed = runner.run("mini", None, resume=partial.name, progress=None)
    assert resumed.ok and {c: v["status"] for c, v in resumed.manifest["chapters"].items()} == \
        {"A": "reused", "B": "reused"}
    meta = json.loads((partial / "run.json").read_text(encoding="utf-8"))
    assert (meta["status"], meta["superseded_by"]) == ("superseded", resumed.manifest["run_id"])
    assert {r["run_id"]: r["status"] for r in runner.list_runs(records)} == \
        {partial.name: "partial (superseded)", resumed.manifest["run_id"]: "ok"}
    assert cli.main(["prune", "--partials"]) == 0
    assert f"removed {partial} (superseded by {resumed.manifest['run_id']})" in capsys.readouterr().out
    assert _partial_area(records) == []
    assert cli.main(["verify", resumed.manifest["run_id"]]) == 0


# ----------------------------------------------------------------------------------------------------------
# Dead partials: shown, pruned; live ones kept
# ----------------------------------------------------------------------------------------------------------
def _fake_partial(records: Path, run_id: str, who: dict | None, status: str = "running") -> Path:
    folder = records / ".partial" / "mini" / run_id
    (folder / "results").mkdir(parents=True)
    manifest = {"run_id": run_id, "spike": "mini", "as_of": "2025-03-01T00:00:00+08:00", "status": status,
                "started": "2025-03-01T00:00:00+00:00", "duration_s": None,
                "chapters": {"A": {"status": "ok", "parameters": {}, "results": {}}}}
    if who is not None:
        manifest["runner"] = who
    (folder / "run.json").write_text(json.dumps(manifest), encoding="utf-8")
    (folder / "results").chmod(0o555)  # as a sealed sub-folder: removal must cope
    return folder


def test_partials_whose_runner_is_gone_show_as_dead_and_prune_removes_only_those(mini_project, capsys):
    records = mini_project["records"]
    me = runner.runner_identity()
    assert me["pid"] == os.getpid() and me["process_start"] is not None
    dead = _fake_partial(records, "20250101T000000Z-dead", dict(me, pid=_gone_pid()))
    reused = _fake_partial(records, "20250101T000000Z-reus", dict(me, process_start=me["process_start"] - 1))
    live = _fake_partial(records, "20250101T000000Z-live", me)
    away = _fake_partial(records, "20250101T000000Z-away", dict(me, host=me["host"] + "-elsewhere"))
    legacy = _fake_partial(records, "20250101T000000Z-old0", None)
    starting = records / ".partial" / "mini" / "20250101T000000Z-new0"  # claimed a moment ago, no run.json yet
    starting.mkdir()
    abandoned = records / ".partial" / "mini" / "20250101T000000Z-emp0"  # an empty leftover of an old refusal
    abandoned.mkdir()
    os.utime(abandoned, (1e9, 1e9))
    statuses = {r["run_id"][-4:]: r["status"] for r in runner.list_runs(records)}
    assert statuses == {"dead": "partial (dead)", "reus": "partial (dead)", "live": "partial (running)",
                        "away": "partial (running)", "old0": "partial (running)"}
    assert cli.main(["list"]) == 0
    assert "partial (dead)" in capsys.readouterr().out
    # A live partial cannot be resumed (nor pruned).
    with pytest.raises(ConfigError, match=f"still being built \\(runner pid {os.getpid()}"):
        runner.run("mini", None, resume=live.name, progress=None)
    assert cli.main(["prune", "--partials", "--spike", "mini"]) == 0
    out, err = capsys.readouterr()
    assert sorted(line.split()[1] for line in out.splitlines()) == sorted(map(str, (dead, reused, abandoned)))
    assert {line.split()[1] for line in err.splitlines()} == set(map(str, (live, away, legacy, starting)))
    assert sorted(p.name for p in (records / ".partial" / "mini").iterdir()) == \
        sorted(p.name for p in (live, away, legacy, starting))
    assert cli.main(["prune", "--partials"]) == 0
    assert capsys.readouterr().out.startswith("nothing to prune")


# ----------------------------------------------------------------------------------------------------------
# Records roots
# ----------------------------------------------------------------------------------------------------------
def test_a_records_root_in_the_projects_own_folders_is_refused(mini_project, monkeypatch, capsys):
    project = mini_project["root"] / "project"
    for name in ("notebooks", "tests", "lib", "playbook", "data"):
        (project / name).mkdir(parents=True)
    monkeypatch.setenv("SPIKE_ROOT", str(project))
    for records, why in ((project / "notebooks", "inside the project's notebooks/ folder"),
                         (project / "tests" / "records", "inside the project's tests/ folder"),
                         (project / "lib", "inside the project's lib/ folder"),
                         (project, "holds the project's")):
        assert cli.main(["run", "--spike", "mini", "--chapters", "A", "--records", str(records)]) == 2
        (line,) = _error_lines(capsys.readouterr().err)
        assert why in line and "Fix: keep records in their own folder" in line, line
    assert not [p for p in project.rglob("*") if p.is_file()]


def test_a_records_root_that_is_a_file_or_read_only_is_an_error_before_anything_starts(
        mini_project, monkeypatch, capsys):
    root = mini_project["root"]
    afile = root / "records-file"
    afile.write_text("not a folder", encoding="utf-8")
    for records, why in ((afile, "is a file, not a folder"), (afile / "records", "cannot be created: ")):
        assert cli.main(["run", "--spike", "mini", "--chapters", "A", "--records", str(records)]) == 2
        (line,) = _error_lines(capsys.readouterr().err)
        assert why in line and "Fix:" in line, line
    assert afile.read_text(encoding="utf-8") == "not a folder"
    # Read-only: root ignores modes, so the file system's answers are simulated.
    records = mini_project["records"]
    records.mkdir()
    access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == records else access(p, mode, **kw))
    assert cli.main(["run", "--spike", "mini", "--chapters", "A"]) == 2
    (line,) = _error_lines(capsys.readouterr().err)
    assert f"records root {records} is read-only" in line
    monkeypatch.setattr(os, "access", access)
    mkdir = Path.mkdir

    def read_only_fs(self, *args, **kwargs):
        if records in self.parents:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        return mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only_fs)
    assert cli.main(["run", "--spike", "mini", "--chapters", "A"]) == 2
    (line,) = _error_lines(capsys.readouterr().err)
    assert "cannot be written" in line and "Read-only file system (EROFS)" in line
    assert list(records.iterdir()) == []


# ----------------------------------------------------------------------------------------------------------
# Damaged run.json
# ----------------------------------------------------------------------------------------------------------
def test_a_damaged_run_json_is_a_clear_error_in_show_and_resume_and_a_warning_in_list(mini_project, capsys):
    records = mini_project["records"]
    damaged = {"20250101T000000Z-list": "[1, 2]", "20250101T000000Z-half": '{"run_id": '}
    for run_id, text in damaged.items():
        (records / "mini" / run_id).mkdir(parents=True)
        (records / "mini" / run_id / "run.json").write_text(text, encoding="utf-8")
    listed, half = (records / "mini" / r / "run.json" for r in damaged)
    assert cli.main(["list"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "no runs yet"
    assert f"spike: warning: skipped: run record {listed} holds a JSON list" in err
    assert f"spike: warning: skipped: run record {half} is not valid JSON (line 1, column 12" in err
    assert cli.main(["show", "20250101T000000Z-list"]) == 2
    assert f"run record {listed} holds a JSON list" in _error_lines(capsys.readouterr().err)[0]
    for args in (["show", "20250101T000000Z-half"], ["run", "--resume", "20250101T000000Z-half"]):
        assert cli.main(args) == 2
        (line,) = _error_lines(capsys.readouterr().err)
        assert f"run record {half} is not valid JSON" in line and "Fix:" in line
    assert cli.main(["verify", "20250101T000000Z-half"]) == 1
    out = capsys.readouterr().out
    assert "not verifiable:" in out and f"damaged: run record {half} is not valid JSON" in out


# ----------------------------------------------------------------------------------------------------------
# The data room's served notebook
# ----------------------------------------------------------------------------------------------------------
def test_the_data_room_notebook_has_one_cache_folder_per_server_and_stopped_servers_folders_go(
        tmp_path, monkeypatch):
    from spikekit.views.dataroom import prepare_notebook

    cache = tmp_path / "cache" / "dataroom"
    monkeypatch.setenv("SPIKE_CACHE", str(tmp_path / "cache"))
    stopped = cache / f"fast-fade-{_gone_pid()}"
    serving = cache / f"fast-fade-{os.getppid()}"  # a live process: its server's notebook stays
    for folder in (stopped, serving):
        folder.mkdir(parents=True)
        (folder / "07_data_room.ipynb").write_text("{}", encoding="utf-8")
    first = prepare_notebook("fast-fade", "2025-03-05 12:00")
    second = prepare_notebook("fast-fade", "2025-03-05 13:00")
    assert first == second == cache / f"fast-fade-{os.getpid()}" / "07_data_room.ipynb"
    assert "2025-03-05T13:00:00+08:00" in second.read_text(encoding="utf-8")
    assert sorted(p.name for p in cache.iterdir()) == sorted([first.parent.name, serving.name])
    assert [p.name for p in first.parent.iterdir()] == ["07_data_room.ipynb"]
