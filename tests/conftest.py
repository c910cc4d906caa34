"""Shared fixtures. Tests never write into the project's records/ folder: each gets its own records root."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture
def records_dir(tmp_path, monkeypatch):
    root = tmp_path / "records"
    monkeypatch.setenv("SPIKE_RECORDS", str(root))
    return root


def write_notebook(path: Path, cells: list[tuple[str, str] | tuple[str, str, list]]) -> Path:
    """A tiny notebook: cells are (kind, source[, tags]); kind is 'code' or 'markdown'."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "spikekit", "display_name": "Python (spikekit)", "language": "python"}
    for cell in cells:
        kind, source = cell[0], cell[1]
        tags = cell[2] if len(cell) > 2 else []
        new = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
        if tags:
            new.metadata["tags"] = tags
        nb.cells.append(new)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def mini_project(tmp_path, monkeypatch):
    """A throwaway playbook of tiny chapters (ok / fails / depends / independent / slow) over a tiny data root."""
    pb = tmp_path / "playbook"
    (pb / "spikes").mkdir(parents=True)
    data = tmp_path / "data"
    (data / "mini").mkdir(parents=True)
    (data / "mini" / "numbers.csv").write_text("x\n1\n2\n", encoding="utf-8")
    nbdir = tmp_path / "nbs"
    params = ('spike = "mini"\nas_of = "2025-03-01 00:00"\ntimezone = "Asia/Shanghai"\nupstream_run = ""\n'
              'numbers_file = "mini/numbers.csv"\n')
    begin = "import spikekit as sk\nctx = sk.begin('{cid}', spike=spike, as_of=as_of, timezone=timezone, upstream_run=upstream_run)"
    write_notebook(nbdir / "a.ipynb", [
        ("markdown", "# A"),
        ("code", params + "base = 41\nsleep_s = 0.0", ["parameters"]),
        ("code", begin.format(cid="A")),
        ("code", "import time; time.sleep(sleep_s)\nsk.record('x', base)\nsk.record('as_of_seen', ctx.as_of)\n"
                 "sk.record('note_md', f'# Note\\nx is {base}')"),
    ])
    write_notebook(nbdir / "b.ipynb", [
        ("code", params + "sleep_s = 0.0", ["parameters"]),
        ("code", begin.format(cid="B")),
        ("code", "import time; time.sleep(sleep_s)\nx = sk.upstream('A', 'x')\nsk.record('x_plus_one', x + 1)"),
    ])
    write_notebook(nbdir / "fails.ipynb", [
        ("code", params, ["parameters"]),
        ("code", begin.format(cid="F")),
        ("code", "sk.record('before_error', 1)"),
        ("code", "raise ValueError('deliberate failure for the test')"),
    ])
    write_notebook(nbdir / "after_fail.ipynb", [
        ("code", params, ["parameters"]),
        ("code", "print('should never run')"),
    ])
    (pb / "playbook.yaml").write_text(f"""
kernel: spikekit
timeout_s: 120
workers: 2
chapters:
  - {{id: "A", name: a, notebook: {nbdir / 'a.ipynb'}, needs: [], inputs: [numbers], defaults: {{base: 41}}}}
  - {{id: "B", name: b, notebook: {nbdir / 'b.ipynb'}, needs: ["A"], inputs: [numbers]}}
  - {{id: "F", name: fails, notebook: {nbdir / 'fails.ipynb'}, needs: [], inputs: [numbers]}}
  - {{id: "G", name: after_fail, notebook: {nbdir / 'after_fail.ipynb'}, needs: ["F"], inputs: [numbers]}}
""", encoding="utf-8")
    (pb / "spikes" / "mini.yaml").write_text(
        "timezone: Asia/Shanghai\ndefault_as_of: '2025-03-01 00:00'\ndata:\n  numbers: mini/numbers.csv\n", encoding="utf-8")
    monkeypatch.setenv("SPIKE_PLAYBOOK", str(pb))
    monkeypatch.setenv("SPIKE_DATA_ROOT", str(data))
    monkeypatch.setenv("SPIKE_RECORDS", str(tmp_path / "records"))
    return {"root": tmp_path, "playbook": pb, "data": data, "records": tmp_path / "records", "notebooks": nbdir}


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under root (for 'byte-identical' checks)."""
    import hashlib

    out = {}
    for path in sorted(Path(root).rglob("*")):
        if path.is_file():
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


# The suite runs one file per worker (scripts/test.sh: pytest-xdist --dist loadfile), handed out in collection order:
# the longest files go first so that no worker starts a minutes-long file when the others are nearly done.
LONGEST_FIRST = ("test_readme.py", "test_playbook_e2e.py", "test_replay.py", "test_kill_trials.py", "test_reuse.py",
                 "test_runner.py", "test_multi_spike.py", "test_concurrency.py", "test_distributed.py")


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the order within a file is kept


def pytest_configure(config):
    """nbval's kernels (the notebook checks) run over Unix sockets like the playbook's own (spikekit.engine.kernel):
    with the suite on two workers, TCP ports picked free by one process can be taken by another before the kernel
    binds them (a likely cause, not a proven one, of a notebook kernel that once did not answer for 60 s)."""
    try:
        import nbval.kernel as nbval_kernel
    except ImportError:
        return
    from spikekit.engine.kernel import ipc_socket_base

    base_class = nbval_kernel.KernelManager
    if getattr(base_class, "_spikekit_ipc", False):
        return

    class IPCKernelManager(base_class):
        _spikekit_ipc = True

        def __init__(self, **kwargs):
            base = ipc_socket_base()
            if base is not None:
                kwargs.setdefault("transport", "ipc")
                kwargs.setdefault("ip", base)
            super().__init__(**kwargs)

    nbval_kernel.KernelManager = IPCKernelManager
