"""Kernels forked from a zygote: each chapter still gets its own fresh process (mini notebooks, real kernels)."""
from __future__ import annotations

import json
import os
import sys

import pytest

from spikekit.engine import kernel, runner
from tests.conftest import write_notebook

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kernels are forked on Linux only")]

PARAMS = ('spike = "mini"\nas_of = "2025-03-01 00:00"\ntimezone = "Asia/Shanghai"\nupstream_run = ""\n'
          'numbers_file = "mini/numbers.csv"\n')
BEGIN = "import spikekit as sk\nctx = sk.begin('{cid}', spike=spike, as_of=as_of, timezone=timezone, upstream_run=upstream_run)"


def _probe_playbook(mini_project, extra_cells_b: list | None = None) -> None:
    """Chapters P (sets a global, draws numbers, plots) and Q (needs P, looks for P's global)."""
    nbdir = mini_project["notebooks"]
    write_notebook(nbdir / "p.ipynb", [
        ("code", PARAMS, ["parameters"]),
        ("code", BEGIN.format(cid="P")),
        ("code", "import os, random, numpy as np\nLEAKED_FROM_P = 1\n"
                 "sk.record('pid', os.getpid())\nsk.record('ppid', os.getppid())\n"
                 "sk.record('np_draw', float(np.random.random()))\nsk.record('py_draw', random.random())\n"
                 "sk.record('cwd', os.getcwd())\nsk.record('records_env', os.environ.get('SPIKE_RECORDS', ''))"),
        ("code", "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 2, 3])\nplt.show()"),
    ])
    write_notebook(nbdir / "q.ipynb", [
        ("code", PARAMS, ["parameters"]),
        ("code", BEGIN.format(cid="Q")),
        ("code", "import os, random, numpy as np\n"
                 "sk.record('pid', os.getpid())\nsk.record('ppid', os.getppid())\n"
                 "sk.record('np_draw', float(np.random.random()))\nsk.record('py_draw', random.random())\n"
                 "sk.record('saw_p_global', 'LEAKED_FROM_P' in globals())"),
        *(extra_cells_b or []),
    ])
    (mini_project["playbook"] / "playbook.yaml").write_text(f"""
kernel: spikekit
timeout_s: 120
workers: 1
chapters:
  - {{id: "P", name: p, notebook: {nbdir / 'p.ipynb'}, needs: [], inputs: [numbers]}}
  - {{id: "Q", name: q, notebook: {nbdir / 'q.ipynb'}, needs: ["P"], inputs: [numbers]}}
""", encoding="utf-8")


def _children(pid: int) -> set[int]:
    """Every live descendant of pid (from /proc), zombies included."""
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(entry))
    found, stack = set(), [pid]
    while stack:
        for child in kids.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _image_outputs(notebook_path) -> int:
    nb = json.loads(open(notebook_path, encoding="utf-8").read())
    return sum(1 for cell in nb["cells"] if cell["cell_type"] == "code"
               for out in cell.get("outputs", []) if "image/png" in out.get("data", {}))


@pytest.fixture
def fork_on(monkeypatch):
    monkeypatch.setenv(kernel.FORK_ENV, "1")


def test_forked_chapters_are_fresh_isolated_processes(mini_project, fork_on):
    _probe_playbook(mini_project)
    before = _children(os.getpid())
    outcome = runner.run("mini", None, progress=None)
    m = outcome.manifest
    assert outcome.ok, {c: v["error"] for c, v in m["chapters"].items()}
    assert m["kernel"]["launch"] == "fork"
    assert {c: v["kernel_launch"] for c, v in m["chapters"].items()} == {"P": "fork", "Q": "fork"}
    p, q = m["chapters"]["P"]["results"], m["chapters"]["Q"]["results"]
    # Two different processes, both children of the same zygote (one worker), neither of them the zygote.
    assert p["pid"] != q["pid"]
    assert p["ppid"] == q["ppid"]
    assert p["ppid"] not in (p["pid"], q["pid"], os.getpid())
    # Nothing leaks from P to Q, and the forked RNGs were reseeded (the zygote's state is not shared).
    assert q["saw_p_global"] is False
    assert p["np_draw"] != q["np_draw"]
    assert p["py_draw"] != q["py_draw"]
    # The kernel got the run's working directory and environment, not the zygote's.
    assert p["cwd"] == str(runner.project_root() / "notebooks")
    assert p["records_env"] == str(mini_project["records"].resolve())
    # Inline figures still come out as images.
    assert _image_outputs(outcome.run_dir / "p.ipynb") == 1
    # Worker, zygote and kernels are gone once the run returns.
    assert _children(os.getpid()) - before == set()
    for pid in (p["pid"], q["pid"], p["ppid"]):
        assert not os.path.exists(f"/proc/{pid}")


def test_a_kernel_killed_mid_chapter_fails_the_chapter(mini_project, fork_on):
    _probe_playbook(mini_project, extra_cells_b=[("code", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
                                                 ("code", "sk.record('after_kill', 1)")])
    before = _children(os.getpid())
    outcome = runner.run("mini", None, progress=None)
    chapters = outcome.manifest["chapters"]
    assert chapters["P"]["status"] == "ok"
    assert chapters["Q"]["status"] == "failed"
    assert chapters["Q"]["error"]["ename"] in {"DeadKernelError", "RuntimeError"}
    assert "after_kill" not in chapters["Q"]["results"]
    assert chapters["Q"]["results"]["saw_p_global"] is False  # what Q recorded before dying is kept
    assert _children(os.getpid()) - before == set()


def test_fallback_spawns_kernels_without_a_zygote(mini_project, monkeypatch):
    monkeypatch.setenv(kernel.FORK_ENV, "0")
    _probe_playbook(mini_project)
    outcome = runner.run("mini", None, progress=None)
    m = outcome.manifest
    assert outcome.ok
    assert m["kernel"]["launch"] == "spawn"
    assert {v["kernel_launch"] for v in m["chapters"].values()} == {"spawn"}
    p, q = m["chapters"]["P"]["results"], m["chapters"]["Q"]["results"]
    assert p["pid"] != q["pid"] and q["saw_p_global"] is False
    assert _image_outputs(outcome.run_dir / "p.ipynb") == 1


def test_without_prewarm_kernels_are_spawned(mini_project, fork_on):
    _probe_playbook(mini_project)
    outcome = runner.run("mini", None, chapters=["P"], progress=None, prewarm=False)
    assert outcome.ok
    assert outcome.manifest["kernel"]["launch"] == "spawn"


def test_the_zygote_reports_no_threads_and_stops_its_kernels(tmp_path):
    server = kernel.ForkServer(cwd=str(tmp_path))
    try:
        info = server.request({"op": "info"})
        assert info["threads"] == 1  # forking with threads running would copy held locks
        assert info["pid"] == server.pid
        child = server.spawn(["-c", "import time; time.sleep(60)"], str(tmp_path), dict(os.environ))
        assert child.pid in _children(server.pid)
        assert child.poll() is None
    finally:
        server.close()
    assert child.wait(timeout=10) is not None
    assert not os.path.exists(f"/proc/{child.pid}")


def test_launch_args_are_found_only_in_our_kernel_spec():
    assert kernel._launch_args(["py", "-m", "spikekit.engine.kernel", "launch", "-f", "c.json"]) == ["-f", "c.json"]
    assert kernel._launch_args(["py", "-m", "ipykernel_launcher", "-f", "c.json"]) is None
