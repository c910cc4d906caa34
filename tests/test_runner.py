"""The runner and the record, on a throwaway playbook of tiny chapters (real papermill, real kernels)."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spikekit.engine import runner
from spikekit.core.errors import ConfigError
from tests.conftest import tree_digest

pytestmark = pytest.mark.e2e


def test_results_hand_on_failures_skip_dependents_and_the_rest_still_runs(mini_project):
    outcome = runner.run("mini", None, progress=None)
    m = outcome.manifest
    assert outcome.run_dir == mini_project["records"] / "mini" / m["run_id"]
    status = {c: v["status"] for c, v in m["chapters"].items()}
    assert status == {"A": "ok", "B": "ok", "F": "failed", "G": "skipped"}
    assert m["status"] == "failed"
    # A's result reached B through the run record.
    assert m["chapters"]["A"]["results"]["x"] == 41
    assert m["chapters"]["B"]["results"]["x_plus_one"] == 42
    # as_of is read in the spike's zone and recorded typed.
    assert m["chapters"]["A"]["results"]["as_of_seen"]["value"] == "2025-03-01T00:00:00+08:00"
    # The failing chapter keeps its notebook, names the failing cell, keeps what it recorded before the error.
    err = m["chapters"]["F"]["error"]
    assert err["ename"] == "ValueError" and "deliberate failure" in err["evalue"]
    assert err["cell"] is not None
    assert m["chapters"]["F"]["results"] == {"before_error": 1}
    assert (outcome.run_dir / "fails.ipynb").exists()
    assert "needs F" in m["chapters"]["G"]["error"]["evalue"]
    # Every executed notebook has an HTML copy; the manifest has checksums and parameters.
    assert (outcome.run_dir / "a.html").read_text(encoding="utf-8").count("<html") == 1
    # ... and the seller's copy beside it (no code), named in the manifest and covered by the seal.
    assert m["chapters"]["A"]["seller_html"] == "a.seller.html" and m["chapters"]["G"].get("seller_html") is None
    assert "a.seller.html" in (outcome.run_dir / "seal.json").read_text(encoding="utf-8")
    assert len(m["inputs"]["numbers"]["sha256"]) == 64
    assert m["chapters"]["A"]["parameters"]["base"] == 41
    assert m["chapters"]["A"]["parameters"]["upstream_run"] == m["run_id"]
    # Sealed: files are read-only; nothing is left in the partial area.
    assert not (outcome.run_dir / "run.json").stat().st_mode & stat.S_IWUSR
    assert not list((mini_project["records"] / ".partial").rglob("run.json"))
    # A text result named *_md is also a Markdown file in the record.
    assert (outcome.run_dir / "note.md").read_text(encoding="utf-8") == "# Note\nx is 41"
    # results/ has one JSON per chapter that ran, equal to the manifest's.
    assert json.loads((outcome.run_dir / "results" / "B.json").read_text()) == {"x_plus_one": 42}


def test_unknown_and_ill_typed_parameters_are_errors(mini_project):
    spike_file = mini_project["playbook"] / "spikes" / "mini.yaml"
    spike_file.write_text(spike_file.read_text() + "parameters:\n  A: {bse: 3}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown parameter.*'bse' \(did you mean 'base'\?\)"):
        runner.run("mini", None, chapters=["A"], progress=None)
    spike_file.write_text(spike_file.read_text().replace("{bse: 3}", "{base: 'many'}"), encoding="utf-8")
    with pytest.raises(ConfigError, match="parameter 'base' of a.ipynb must be int"):
        runner.run("mini", None, chapters=["A"], progress=None)
    # Nothing was written for refused runs.
    assert not list(mini_project["records"].rglob("run.json"))


def test_paths_escaping_the_data_root_and_unknown_spikes_are_refused(mini_project):
    spike_file = mini_project["playbook"] / "spikes" / "mini.yaml"
    spike_file.write_text(spike_file.read_text().replace("mini/numbers.csv", "../../etc/passwd"), encoding="utf-8")
    with pytest.raises(ConfigError, match="outside"):
        runner.run("mini", None, chapters=["A"], progress=None)
    with pytest.raises(ConfigError, match="unknown spike 'nope'.*Known spikes: mini"):
        runner.run("nope", None, progress=None)
    with pytest.raises(ConfigError, match="not allowed"):
        runner.run("../mini", None, progress=None)


def test_chapter_selection_adds_what_it_needs(mini_project):
    outcome = runner.run("mini", None, chapters=["B"], progress=None)
    assert list(outcome.manifest["chapters"]) == ["A", "B"]
    assert outcome.ok


def _spike_cli(env, *args, **kw):
    return subprocess.Popen([sys.executable, "-m", "spikekit.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_killed_run_leaves_no_record_and_resume_completes_it(mini_project):
    env = dict(os.environ)
    # A first, complete run: its bytes must survive what follows.
    first = runner.run("mini", None, chapters=["A", "B"], progress=None)
    before = tree_digest(mini_project["records"] / "mini")
    # Make B slow, start a run in a subprocess and kill -9 it while B is running (A done).
    spike_file = mini_project["playbook"] / "spikes" / "mini.yaml"
    spike_file.write_text(spike_file.read_text() + "parameters:\n  B: {sleep_s: 60.0}\n", encoding="utf-8")
    # --fresh: A executes in the run that is killed (by default A would be reused from the first run).
    proc = _spike_cli(env, "run", "--spike", "mini", "--chapters", "A,B", "--fresh")
    deadline = time.time() + 90
    partial = mini_project["records"] / ".partial" / "mini"
    manifests = []
    while time.time() < deadline:
        manifests = list(partial.glob("*/run.json")) if partial.exists() else []
        if manifests and json.loads(manifests[0].read_text())["chapters"]["B"]["status"] == "running":
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the run never reached chapter B")
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    # No new folder among the records; the earlier record is byte-identical; the partial run is aside.
    assert sorted(p.name for p in (mini_project["records"] / "mini").iterdir()) == [first.manifest["run_id"]]
    assert tree_digest(mini_project["records"] / "mini") == before
    killed = manifests[0].parent
    killed_manifest = json.loads((killed / "run.json").read_text())
    assert killed_manifest["chapters"]["A"]["status"] == "ok"
    # Resume with the same settings: A is reused from the killed run, B runs again; a complete record appears.
    spike_file.write_text(spike_file.read_text().replace("{sleep_s: 60.0}", "{sleep_s: 0.5}"), encoding="utf-8")
    resumed = runner.run("mini", None, resume=killed.name, progress=None)
    status = {c: v["status"] for c, v in resumed.manifest["chapters"].items()}
    assert status == {"A": "reused", "B": "ok"}
    assert resumed.manifest["chapters"]["A"]["reused_from"] == killed.name
    for cid in ("A", "B"):  # a reused chapter brings its seller's copy along
        assert (resumed.run_dir / resumed.manifest["chapters"][cid]["seller_html"]).is_file()
    assert resumed.manifest["chapters"]["B"]["results"] == {"x_plus_one": 42}
    assert resumed.manifest["resumed_from"] == killed.name
    assert tree_digest(first.run_dir) == {k.split("/", 1)[1]: v for k, v in before.items()}


def test_resume_reruns_a_chapter_whose_parameters_changed(mini_project):
    first = runner.run("mini", None, chapters=["A", "B"], progress=None)
    spike_file = mini_project["playbook"] / "spikes" / "mini.yaml"
    spike_file.write_text(spike_file.read_text() + "parameters:\n  A: {base: 9}\n", encoding="utf-8")
    again = runner.run("mini", None, resume=first.manifest["run_id"], progress=None)
    status = {c: v["status"] for c, v in again.manifest["chapters"].items()}
    assert status == {"A": "ok", "B": "ok"}
    assert again.manifest["chapters"]["B"]["results"] == {"x_plus_one": 10}
