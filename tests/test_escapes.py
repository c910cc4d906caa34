"""Names and paths that try to leave the records root, the data folder or the playbook are refused.

Each refusal is a ConfigError naming the value and the root it would have escaped. Symlinks are resolved
before the containment check, so a link inside a root pointing outside is as refused as '../'.
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from spikekit.inputs import contracts
from spikekit.core import paths
from spikekit.core.errors import ConfigError
from spikekit.inputs.settings import load_spike

record = importlib.import_module("spikekit.core.record")  # the package exports a function of that name

BAD_NAMES = ["../x", "..", ".", "/etc", "a/b", "mini\x00", "Mini", "mini\n", ".partial", "x" * 65, "", "mini/../mini"]


@pytest.mark.parametrize("name", BAD_NAMES, ids=[repr(n)[:20] for n in BAD_NAMES])
def test_spike_names_that_are_not_plain_folder_names_are_refused(name, mini_project):
    with pytest.raises(ConfigError) as caught:
        load_spike(name)
    text = str(caught.value)
    assert repr(name) in text and "not allowed" in text
    assert str(mini_project["playbook"] / "spikes") in text


@pytest.mark.parametrize("ref", ["../../etc/passwd", "/etc/passwd", "mini/../../../etc/passwd", "mini/numbers.csv\x00.txt"])
def test_data_paths_outside_the_data_root_are_refused(ref, mini_project):
    with pytest.raises(ConfigError) as caught:
        contracts.load_budget(ref)
    text = str(caught.value)
    assert repr(ref)[1:-1] in text or ref in text
    assert str(mini_project["data"].resolve()) in text


def test_a_symlink_inside_the_data_folder_pointing_outside_is_refused(mini_project, tmp_path):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "budget.csv").write_text("platform,daily_budget\nx,1\n", encoding="utf-8")
    (mini_project["data"] / "linked.csv").symlink_to(secret / "budget.csv")
    (mini_project["data"] / "linked_dir").symlink_to(secret, target_is_directory=True)
    for ref in ("linked.csv", "linked_dir/budget.csv"):
        with pytest.raises(ConfigError) as caught:
            contracts.load_budget(ref)
        assert ref in str(caught.value) and str(mini_project["data"].resolve()) in str(caught.value)
    # A link that stays inside the data folder is fine.
    (mini_project["data"] / "inside.csv").write_text("platform,daily_budget\nx,1\n", encoding="utf-8")
    (mini_project["data"] / "alias.csv").symlink_to(mini_project["data"] / "inside.csv")
    assert len(contracts.load_budget("alias.csv")) == 1


def test_a_spike_data_entry_through_an_outside_symlink_stops_the_run_before_anything_is_written(mini_project, tmp_path):
    from spikekit.engine import runner

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "numbers.csv").write_text("x\n1\n", encoding="utf-8")
    (mini_project["data"] / "mini" / "numbers.csv").unlink()
    (mini_project["data"] / "mini" / "numbers.csv").symlink_to(outside / "numbers.csv")
    with pytest.raises(ConfigError, match="outside"):
        runner.run("mini", None, chapters=["A"], progress=None)
    assert not list(mini_project["records"].rglob("run.json"))


def test_a_symlinked_spike_file_pointing_outside_the_playbook_is_refused(mini_project, tmp_path):
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text("timezone: Asia/Shanghai\ndata:\n  numbers: mini/numbers.csv\n", encoding="utf-8")
    spikes = mini_project["playbook"] / "spikes"
    (spikes / "evil.yaml").symlink_to(elsewhere)
    with pytest.raises(ConfigError) as caught:
        load_spike("evil")
    assert "evil.yaml" in str(caught.value) and str(spikes.resolve()) in str(caught.value)
    # A link within the spikes folder (an alias) still works.
    (spikes / "alias.yaml").symlink_to(spikes / "mini.yaml")
    assert load_spike("alias").data == {"numbers": "mini/numbers.csv"}


def _fake_run(root: Path, spike: str, run_id: str) -> Path:
    folder = root / spike / run_id
    (folder / "results").mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"run_id": run_id, "spike": spike, "status": "ok", "started": "x"}))
    return folder


BAD_REFS = ["../../etc", "../outside/20250101T000000Z-0001", "/etc", "*", "mini/*", "a/b/c", "..", "x\x00y",
            "mini/../../outside/20250101T000000Z-0001", ""]


@pytest.mark.parametrize("ref", BAD_REFS, ids=[repr(r)[:24] for r in BAD_REFS])
def test_run_references_with_path_parts_or_globs_are_refused(ref, mini_project, tmp_path):
    # A run folder that exists outside the records root: no reference may reach it.
    outside = _fake_run(tmp_path, "outside", "20250101T000000Z-0001")
    _fake_run(mini_project["records"], "mini", "20250101T000000Z-0002")
    with pytest.raises(ConfigError) as caught:
        record._find_run(ref)
    text = str(caught.value)
    assert repr(ref) in text and str(mini_project["records"].resolve()) in text
    assert outside.exists()


def test_a_run_folder_path_outside_the_records_root_is_refused_even_through_a_symlink(mini_project, tmp_path):
    outside = _fake_run(tmp_path / "elsewhere", "mini", "20250101T000000Z-0003")
    with pytest.raises(ConfigError, match="outside the records root"):
        record._find_run(str(outside))
    mini_project["records"].mkdir(parents=True, exist_ok=True)
    (mini_project["records"] / "mini").mkdir()
    (mini_project["records"] / "mini" / "linked").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ConfigError, match="outside the records root"):
        record._find_run(str(mini_project["records"] / "mini" / "linked"))
    # Inside the root, the three spellings find the same run.
    inside = _fake_run(mini_project["records"], "mini", "20250101T000000Z-0004")
    for ref in ("20250101T000000Z-0004", "mini/20250101T000000Z-0004", str(inside)):
        assert record._find_run(ref) == inside.resolve()


def test_resume_and_upstream_refs_with_path_parts_are_refused_before_anything_is_written(mini_project, tmp_path):
    from spikekit.engine import runner

    _fake_run(tmp_path / "elsewhere", "mini", "20250101T000000Z-0005")
    with pytest.raises(ConfigError, match="not a run id"):
        runner.run("mini", None, resume="../elsewhere/mini/20250101T000000Z-0005", progress=None)
    with pytest.raises(ConfigError, match="not a run id"):
        record.begin("A", spike="mini", as_of="2025-03-01", upstream_run="../../etc")
    assert not mini_project["records"].exists() or not list(mini_project["records"].rglob("run.json"))


def test_a_partial_run_is_never_the_latest_run(mini_project):
    partial = _fake_run(mini_project["records"] / ".partial", "mini", "20990101T000000Z-ffff")
    assert record.latest_run("mini") is None
    done = _fake_run(mini_project["records"], "mini", "20250101T000000Z-0006")
    assert record.latest_run("mini") == done
    # A bare id still reaches the run being built (the runner hands its own run to its chapters this way).
    assert record._find_run(partial.name) == partial.resolve()
    with pytest.raises(ConfigError, match="not allowed"):
        record.latest_run("../mini")


def test_a_records_root_overlapping_the_data_folder_is_refused(mini_project):
    data = mini_project["data"]
    for bad in (data, data / "records", data.parent):
        with pytest.raises(ConfigError) as caught:
            paths.check_records_root(bad, data)
        assert str(data.resolve()) in str(caught.value)
    assert paths.check_records_root(mini_project["records"], data) == mini_project["records"].resolve()


def test_the_runner_refuses_a_records_root_inside_the_data_folder(mini_project, monkeypatch):
    from spikekit.engine import runner

    def no_kernels(name):  # without the check the run would go on: stop it before any kernel starts
        raise RuntimeError("the runner went past the records-root check")

    monkeypatch.setattr(runner, "_kernel_info", no_kernels)
    with pytest.raises(ConfigError, match="overlaps the data folder"):
        runner.run("mini", None, chapters=["A"], records=mini_project["data"] / "records", progress=None)
    assert not (mini_project["data"] / "records").exists()


def test_a_bare_run_id_shared_by_two_spikes_reads_the_chapters_own_spike(mini_project):
    # Two spikes' runs with one id (same second, same two random bytes): a chapter of 'other' that is handed
    # its own run id must read its own run in .partial, not the finished run of 'mini'.
    run_id = "20250301T000000Z-beef"
    _fake_run(mini_project["records"], "mini", run_id)
    own = _fake_run(mini_project["records"] / ".partial", "other", run_id)
    assert record._find_run(run_id, spike="other") == own.resolve()
    ctx = record.begin("B", spike="other", as_of="2025-03-01 00:00", upstream_run=run_id)
    assert ctx._source_dir == own.resolve()
    with pytest.raises(ConfigError, match="several spikes"):
        _fake_run(mini_project["records"], "third", run_id)
        record._find_run(run_id)
