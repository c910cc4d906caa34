"""The README is true: its chapter table renders, it names no path of a developer's machine, and every command
of its fenced ``bash`` blocks runs (exit 0) on a scratch copy of the repository.

A README command that cannot run unattended carries a trailing comment with ``not in the README test`` and the
reason (a server for the browser, a command that never ends, the test suite itself); ``<RUN>`` is filled with the
run id the latest earlier command printed.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SKIP_MARK = "not in the README test"
RUN_ID = re.compile(r"\b\d{8}T\d{6}Z-[0-9a-f]{4,}\b")
MACHINE_PATHS = ("/work/", "/root/", "/tmp/", "/home/", "/Users/")


def bash_commands(text: str) -> list[str]:
    """The lines of the fenced ```bash blocks, in order (blank lines left out)."""
    commands, inside = [], False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            inside = line.strip() == "```bash" if not inside else False
            continue
        if inside and line.strip():
            commands.append(line.strip())
    return commands


def table_rows(text: str, header_start: str) -> list[str]:
    """The rows of the Markdown table whose header line starts with ``header_start`` (it ends at the first
    line that is not a row, as a Markdown renderer ends it)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def cells(row: str) -> int:
    return len(re.split(r"(?<!\\)\|", row.strip().strip("|")))


# ------------------------------------------------------------------------------------------------------------
def test_bash_blocks_are_found_and_parsed():
    sample = "text\n```bash\nspike list   # comment\n\nspike show <RUN>\n```\n```python\nx = 1\n```\n"
    assert bash_commands(sample) == ["spike list   # comment", "spike show <RUN>"]
    assert len(bash_commands(README.read_text(encoding="utf-8"))) >= 20


def test_chapter_table_renders_every_chapter():
    text = README.read_text(encoding="utf-8")
    rows = table_rows(text, "| # | chapter")
    assert [cells(r) for r in rows] == [cells(rows[0])] * len(rows)
    ids = [r.split("|")[1].strip() for r in rows[2:]]
    assert ids == [f"{n:02d}" for n in range(1, 13)]  # a blank line inside the table would cut it at row 10


def test_table_check_catches_a_blank_line():
    broken = "| # | a |\n|---|---|\n| 01 | x |\n\n| 02 | y |\n"
    assert len(table_rows(broken, "| # |")) == 3


def test_placeholders_are_run_ids_only():
    """A run id in an example is written <RUN> (a literal id reads like an as-of time); nothing else is a
    placeholder the test cannot fill."""
    for command in bash_commands(README.read_text(encoding="utf-8")):
        code = command.split("  #")[0]
        assert not RUN_ID.search(code), command
        assert set(re.findall(r"<[A-Z_]+>", code)) <= {"<RUN>"}, command
        assert "[--" not in code, f"optional parts in brackets do not run: {command}"


def test_no_path_of_a_developer_machine_in_the_repository():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    found = []
    for name in files:
        if name.startswith("tests/") or name.endswith((".png", ".xlsx", ".parquet", ".gz", ".ico")):
            continue  # tests may need a literal path (e.g. a path that must be refused)
        try:
            text = (ROOT / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if any(p in line for p in MACHINE_PATHS):
                found.append(f"{name}:{n}: {line.strip()[:120]}")
    assert not found, "\n".join(found)


# ------------------------------------------------------------------------------------------------------------
def _scratch_copy(dest: Path) -> Path:
    """The tracked files as they are in this working tree: what a fresh clone of this commit would hold."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


@pytest.mark.e2e
def test_every_readme_command_runs(tmp_path):
    """In the default suite: the README runs the whole playbook once (run-sample.sh); its other examples are
    short (a chapter or two, replays of two or three steps). Each command's time is printed (pytest -s)."""
    venv = Path(sys.prefix)
    stamp = venv / ".spikekit-installed"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.is_file() or stamp.read_text().strip() != want:
        pytest.skip("run inside the project's .venv made by scripts/env.sh (so `source scripts/env.sh` installs nothing)")
    repo = _scratch_copy(tmp_path / "repo")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPIKE_", "PYTEST"))}
    env.update(SPIKE_VENV=str(venv), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", MPLBACKEND="Agg")
    run_id, ran, skipped = None, [], []
    for command in bash_commands(README.read_text(encoding="utf-8")):
        if SKIP_MARK in command:
            skipped.append(command)
            continue
        if "<RUN>" in command:
            assert run_id, f"no earlier README command printed a run id for: {command}"
            command = command.replace("<RUN>", run_id)
        started = time.monotonic()
        done = subprocess.run(["bash", "-c", f"source scripts/env.sh && {command}"], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=900)
        print(f"[{time.monotonic() - started:6.1f}s] {command[:110]}")
        assert done.returncode == 0, (f"README command failed (exit {done.returncode}): {command}\n"
                                      f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}")
        ids = RUN_ID.findall(done.stdout + done.stderr)
        run_id = ids[-1] if ids else run_id
        ran.append(command)
    assert len(ran) >= 15 and len(skipped) <= 5, (ran, skipped)
