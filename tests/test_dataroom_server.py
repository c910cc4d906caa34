"""The analysts' data room: `bash scripts/dataroom.sh --port P` serves chapter 07 with Voilà on 127.0.0.1; the
page holds the chapter's figures and its call; stopping the server leaves no process behind."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import PROJECT

pytest.importorskip("voila", reason="voila is in the project's dependencies (bash scripts/env.sh)")

OUTPUT_BLOCK = re.compile(r'<script type="application/vnd\.voila\.cell-output\+json">\s*(.*?)\s*</script>', re.S)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return any(_alive(int(p.parent.name)) for p in Path("/proc").glob("[0-9]*/stat")
               if _pgid_of(p) == pgid)


def _pgid_of(stat: Path) -> int | None:
    try:
        return int(stat.read_text().rsplit(")", 1)[1].split()[2])
    except (OSError, IndexError, ValueError):
        return None


def test_dataroom_serves_chapter_07_with_its_figures_and_call_then_stops_cleanly(tmp_path):
    port = _free_port()
    env = dict(os.environ, SPIKE_RECORDS=str(tmp_path / "records"))
    log = (tmp_path / "dataroom.log").open("w")
    proc = subprocess.Popen(["bash", str(PROJECT / "scripts" / "dataroom.sh"), "--port", str(port)], cwd=PROJECT,
                            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    pgid = proc.pid
    kernels: set[int] = set()
    try:
        deadline = time.time() + 120
        while not _answers(port):
            assert proc.poll() is None, (tmp_path / "dataroom.log").read_text()
            assert time.time() < deadline, "the data room never answered: " + (tmp_path / "dataroom.log").read_text()
            time.sleep(0.3)
        # Voilà runs the notebook when the page is asked for: a generous read timeout.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=90) as response:
            assert response.status == 200
            page = response.read().decode("utf-8")
        kernels = _descendants(proc.pid)
        assert kernels, "Voila should have started a kernel for the page"
    finally:
        if proc.poll() is None:
            os.killpg(pgid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            proc.wait(timeout=10)
            pytest.fail("the data room did not stop on SIGTERM within 30 s")
        log.close()

    outputs = [json.loads(block) for block in OUTPUT_BLOCK.findall(page)]
    figures = [o for o in outputs if "image/png" in (o.get("data") or {})]
    assert len(figures) >= 3, "heatmap, funnel and audience figures"
    text = json.dumps(outputs, ensure_ascii=False)
    assert "Busiest hours of day" in text
    assert "Hourly data room: **" in text  # the decision box
    assert "headline" in text and "Data room: " in text  # the recorded headline
    assert "Traceback" not in text and '"output_type": "error"' not in text
    assert "07_data_room" in page or "Hourly data room" in page
    # The server, its shell and the kernel(s) it started are all gone.
    deadline = time.time() + 20
    while (_group_exists(pgid) or any(_alive(k) for k in kernels)) and time.time() < deadline:
        time.sleep(0.2)
    assert not _group_exists(pgid)
    assert not [k for k in kernels if _alive(k)], "kernel processes left running"


def test_a_spikes_data_room_is_chapter_07_with_that_spikes_parameters_injected(tmp_path):
    import nbformat

    from spikekit.dataroom import prepare_notebook
    from spikekit.errors import ConfigError

    out = prepare_notebook("fast-fade", "2025-03-06 12:00", folder=tmp_path)
    nb = nbformat.read(out, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    source = injected[0].source
    assert "spike = \"fast-fade\"" in source and "2025-03-06T12:00:00+08:00" in source
    assert "samples/fast-fade/traffic.csv" in source  # the spike's own inputs, not the notebook's defaults
    assert nb.metadata["kernelspec"]["name"] == "spikekit"
    with pytest.raises(ConfigError, match="did you mean 'fast-fade'"):
        prepare_notebook("fast-fad", None, folder=tmp_path / "x")
