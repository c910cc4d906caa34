"""The command fit for daily use: sourcing env.sh leaves the shell as it was, lab.sh as root and as a user, a
closed pipe ends quietly, a run says it started before anything heavy, every subcommand's --help has a purpose
and an example, and kernels run over IPC (no "TCP without encryption" warning)."""
from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from spikekit import cli

ROOT = Path(__file__).resolve().parents[1]


def _fake_venv(tmp_path: Path) -> Path:
    """A venv folder env.sh accepts as set up (its stamp matches pyproject.toml), so it installs nothing."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    (venv / ".spikekit-installed").write_text(want + "\n")
    return venv


def _bash(script: str, env_extra: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPIKE_")}
    env.update(env_extra)
    return subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_sourcing_env_sh_keeps_the_callers_shell_options(tmp_path):
    venv = _fake_venv(tmp_path)
    script = ("set +euo pipefail; before=$(set +o); source scripts/env.sh; after=$(set +o); "
              '[ "$before" = "$after" ] && echo same-options; false; echo still-here; echo "$PATH" | cut -d: -f1')
    done = _bash(script, {"SPIKE_VENV": str(venv)}, tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split()
    assert lines == ["same-options", "still-here", str(venv / "bin")]


def test_env_sh_failure_returns_to_the_shell_instead_of_closing_it(tmp_path):
    venv = tmp_path / "nothing-here"
    done = _bash("source scripts/env.sh; echo rc=$?; echo alive",
                 {"SPIKE_VENV": str(venv), "PYTHON": str(tmp_path / "no-python")}, tmp_path)
    assert done.stdout.split() == ["rc=1", "alive"]
    assert "[setup] failed" in done.stderr


@pytest.mark.parametrize("uid, wants_flag", [("0", True), ("1000", False)])
def test_lab_sh_allows_root_only_as_root(tmp_path, uid, wants_flag):
    venv = _fake_venv(tmp_path)
    bin_dir = venv / "bin"
    (bin_dir / "jupyter").write_text('#!/usr/bin/env bash\necho "jupyter $*"\n')
    (bin_dir / "id").write_text(f'#!/usr/bin/env bash\n[ "$1" = -u ] && echo {uid}\n')
    for name in ("jupyter", "id"):
        (bin_dir / name).chmod(0o755)
    done = _bash("bash scripts/lab.sh --no-browser", {"SPIKE_VENV": str(venv)}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("jupyter lab --notebook-dir notebooks")
    assert ("--allow-root" in done.stdout.split()) is wants_flag
    assert done.stdout.split()[-1] == "--no-browser"


@pytest.mark.parametrize("buffered", [True, False])
def test_a_closed_stdout_ends_quietly(tmp_path, buffered):
    """`spike list | head` where head has gone: exit 141, no traceback, no "Exception ignored" (a buffered
    stdout, the usual case, fails only at the final flush)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen([sys.executable, "-m", "spikekit.cli", "list", "--records", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # the reader went away before the command wrote
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == cli.EXIT_BROKEN_PIPE
    assert err == ""


def test_run_says_it_started_before_the_runner_is_entered(monkeypatch, capsys):
    import spikekit.engine.runner

    def not_yet(*args, **kwargs):
        raise KeyboardInterrupt  # stop where the heavy part (imports, kernels) would begin

    monkeypatch.setattr(spikekit.engine.runner, "run", not_yet)
    assert cli.main(["run", "--spike", "starry-mug", "--chapters", "01"]) == 130
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith("spike: starting a run of spike 'starry-mug'")


def test_every_subcommand_help_has_a_purpose_and_an_example(capsys):
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(cli.EXAMPLES)
    for name in sub.choices:
        with pytest.raises(SystemExit):
            parser.parse_args([name, "--help"])
        text = capsys.readouterr().out
        purpose = text.split("\n\n")[1]
        assert purpose.strip() and "\n" not in purpose.strip().rstrip(), (name, purpose)
        assert f"example:\n  spike {name}" in text, name


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="IPC needs Unix sockets")
def test_kernel_runs_over_ipc_without_the_tcp_warning(tmp_path):
    from jupyter_core.utils import run_sync

    from spikekit.engine.kernel import new_kernel_manager

    km = new_kernel_manager("spikekit")
    assert km.transport == "ipc" and os.path.isabs(km.ip)
    log = tmp_path / "kernel.log"
    with open(log, "wb") as out:
        run_sync(km.start_kernel)(cwd=str(tmp_path), stdout=out, stderr=out)
        try:
            client = km.client()
            client.start_channels()
            run_sync(client.wait_for_ready)(timeout=60)
            reply = run_sync(client.execute_interactive)("print(6 * 7)", timeout=60,
                                                         output_hook=lambda msg: None)
            assert reply["content"]["status"] == "ok"
            client.stop_channels()
        finally:
            run_sync(km.shutdown_kernel)(now=True)
    assert "without encryption" not in log.read_text(errors="replace")
    assert not list(tmp_path.glob("*ipc*"))  # sockets live in the runtime folder, not the kernel's cwd
