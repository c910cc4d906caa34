"""Reuse keys (spikekit.engine.reuse): exactly the chapters whose notebook, library, parameters, inputs as of T or upstream
changed rerun. Unit tests compute the keys of the real playbook on a scratch copy of the starry-mug sample; the
end-to-end tests run the tiny chapters of the ``mini_project`` fixture."""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from spikekit.engine import reuse, runner
from spikekit.core.record import parse_as_of
from spikekit.inputs.settings import chapter_parameters, load_playbook, load_spike
from spikekit.inputs.state import derive_for_run
from tests.conftest import PROJECT

T0 = "2025-03-09 12:00"


@pytest.fixture
def sample(tmp_path, monkeypatch):
    """The starry-mug sample's tables in a scratch data root, and an empty scratch records root."""
    data = tmp_path / "data"
    shutil.copytree(PROJECT / "data" / "samples" / "starry-mug", data / "samples" / "starry-mug")
    monkeypatch.setenv("SPIKE_DATA_ROOT", str(data))
    monkeypatch.setenv("SPIKE_RECORDS", str(tmp_path / "records"))
    return {"data": data / "samples" / "starry-mug", "records": tmp_path / "records", "tmp": tmp_path}


def keys_of(sample, as_of=T0, book=None, spike=None) -> dict[str, dict]:
    book = book or load_playbook()
    spike = spike or load_spike("starry-mug", book)
    t = parse_as_of(as_of, spike.timezone)
    order = book.order(None)
    params = {c: chapter_parameters(book, spike, c, as_of=t.isoformat(), upstream_run="x") for c in order}
    return reuse.chapter_keys(book, spike, order, params, t, derive_for_run(book, spike, t), {}, sample["records"])


def dependents(book, changed: set[str]) -> set[str]:
    """The chapters a change reaches: the changed ones and every chapter that reads one of them, transitively."""
    reads = {c: set(book.chapters[c].needs) | set(reuse._UPSTREAM_RE.findall(reuse._code(book.chapters[c].notebook)))
             for c in book.order(None)}
    reach = set(changed)
    while more := {c for c, r in reads.items() if c not in reach and r & reach}:
        reach |= more
    return reach


def differ(a: dict, b: dict) -> set[str]:
    return {c for c in a if a[c]["key"] != b[c]["key"]}


def test_key_records_its_parts_and_is_stable(sample):
    book = load_playbook()
    first, again = keys_of(sample, book=book), keys_of(sample, book=book)
    assert differ(first, again) == set()
    parts = first["07"]["key_parts"]
    assert set(parts["inputs"]) == {"traffic", "funnel", "audience", "budget"}  # declared inputs only
    assert parts["state"] is None and first["03"]["key_parts"]["state"]  # 07 never calls sk.spike_state()
    # 09 reads chapter 07's conversion without needing it: 07's key is part of 09's.
    assert first["09"]["key_parts"]["upstream"]["07"] == first["07"]["key"]
    assert "records" in first["10"]["key_parts"] and "patterns" in first["06"]["key_parts"]
    assert reuse.digest(first["05"]["key_parts"]) == first["05"]["key"]


def test_editing_a_notebook_cell_changes_that_chapter_and_its_readers_only(sample):
    book = load_playbook()
    before = keys_of(sample, book=book)
    src = book.chapters["05"].notebook
    copy = sample["tmp"] / src.name
    nb = json.loads(src.read_text(encoding="utf-8"))
    code = next(c for c in nb["cells"] if c["cell_type"] == "code" and "parameters" not in c["metadata"].get("tags", []))
    code["source"] = ["".join(code["source"]) + "\n# edited\n"]
    copy.write_text(json.dumps(nb), encoding="utf-8")
    book.chapters["05"] = dataclasses.replace(book.chapters["05"], notebook=copy)
    after = keys_of(sample, book=book)
    assert differ(before, after) == dependents(book, {"05"}) == {"05", "09", "10", "12"}
    assert reuse.changed_parts(after["05"]["key_parts"], before["05"]["key_parts"]) == ["notebook"]
    assert reuse.changed_parts(after["09"]["key_parts"], before["09"]["key_parts"]) == ["upstream.05"]


def test_outputs_do_not_count_but_markdown_does(tmp_path):
    src = PROJECT / "notebooks" / "07_data_room.ipynb"
    nb = json.loads(src.read_text(encoding="utf-8"))
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["outputs"], code["execution_count"] = [{"output_type": "stream", "name": "stdout", "text": ["hi"]}], 7
    (tmp_path / "outputs.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    md = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    md["source"] = ["".join(md["source"]) + " (edited prose)"]
    (tmp_path / "prose.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    assert reuse.notebook_hash(tmp_path / "outputs.ipynb") == reuse.notebook_hash(src)
    assert reuse.notebook_hash(tmp_path / "prose.ipynb") != reuse.notebook_hash(src)


def test_editing_the_library_changes_every_key(sample, tmp_path, monkeypatch):
    package = tmp_path / "spikekit"
    shutil.copytree(PROJECT / "lib" / "spikekit", package, ignore=shutil.ignore_patterns("__pycache__"))
    original = reuse.library_hash(package)
    assert original == reuse.library_hash()  # the scratch copy hashes like the package itself
    with open(package / "chapters" / "data_room.py", "a", encoding="utf-8") as fh:
        fh.write("\n# a comment is an edit too\n")
    edited = reuse.library_hash(package)
    assert edited != original
    book = load_playbook()
    before = keys_of(sample, book=book)
    monkeypatch.setattr(reuse, "library_hash", lambda package_dir=None: edited)
    after = keys_of(sample, book=book)
    assert differ(before, after) == set(book.order(None))


def test_changing_one_input_reruns_exactly_its_readers(sample):
    book = load_playbook()
    before = keys_of(sample, book=book)
    lanes = sample["data"] / "lanes.csv"
    lanes.write_text(lanes.read_text(encoding="utf-8").replace("4.50", "4.60", 1), encoding="utf-8")
    after = keys_of(sample, book=book)
    assert differ(before, after) == dependents(book, {"05"}) == {"05", "09", "10", "12"}
    assert reuse.changed_parts(after["05"]["key_parts"], before["05"]["key_parts"]) == ["inputs.lanes"]


def test_changing_one_parameter_reruns_that_chapter_and_its_readers(sample):
    book = load_playbook()
    before = keys_of(sample, book=book)
    spike = load_spike("starry-mug", book)
    spike.parameters.setdefault("04", {})["reorder_days"] = 8.0
    after = keys_of(sample, book=book, spike=spike)
    assert differ(before, after) == dependents(book, {"04"})
    assert {"04", "06", "11", "08", "10", "12"} <= differ(before, after) and "05" not in differ(before, after)
    assert reuse.changed_parts(after["04"]["key_parts"], before["04"]["key_parts"]) == ["parameters"]


def test_as_of_moved_without_rows_in_between_keeps_the_keys_of_chapters_not_on_the_clock(sample):
    book = load_playbook()
    before, after = keys_of(sample, T0, book=book), keys_of(sample, "2025-03-09 12:20", book=book)
    # Hourly and daily tables have no row in (12:00, 12:20]: chapters over them keep their key.
    assert {"01", "02", "07"}.isdisjoint(differ(before, after))
    assert after["07"]["key_parts"]["clock"]["resolution"] == "hour"
    # Chapter 11 counts the age of unanswered tickets (and reads event tables): as_of itself is in its key.
    assert after["11"]["key_parts"]["clock"]["resolution"] == "exact"
    assert "clock" in reuse.changed_parts(after["11"]["key_parts"], before["11"]["key_parts"])
    assert {"11", "08", "10", "12"} <= differ(before, after)
    # A row in between changes the slice: an hour later, the hourly traffic has new rows.
    later = keys_of(sample, "2025-03-09 13:00", book=book)
    assert "inputs.traffic" in reuse.changed_parts(later["07"]["key_parts"], before["07"]["key_parts"])


def test_a_row_after_as_of_does_not_change_the_slice(sample):
    spike = load_spike("starry-mug")
    t = parse_as_of(T0, spike.timezone)
    before = reuse.input_slice(spike, "traffic", t)
    t_later = parse_as_of("2025-03-30 10:00", spike.timezone)
    later = reuse.input_slice(spike, "traffic", t_later)
    traffic = sample["data"] / "traffic.csv"
    traffic.write_text(traffic.read_text(encoding="utf-8") + "2025-03-30 10:00:00,淘宝,搜索,7\n", encoding="utf-8")
    assert reuse.input_slice(spike, "traffic", t) == before  # the new row is after as_of: not seen
    assert reuse.input_slice(spike, "traffic", t_later) != later  # seen by a run as of its hour
    assert before[1] == "hour"


def test_the_clock_floor_follows_the_data_period_the_chapter_and_its_window_parameters():
    import pandas as pd

    t = pd.Timestamp("2025-03-09 12:20", tz="Asia/Shanghai")
    assert reuse.clock_part("03", ["day", None], t)["value"] == "2025-03-09T00:00:00+08:00"
    assert reuse.clock_part("03", ["day", "hour"], t)["value"] == "2025-03-09T12:00:00+08:00"
    assert reuse.clock_part("03", ["day", "event"], t)["value"] == t.isoformat()
    assert reuse.clock_part("08", ["day"], t)["resolution"] == "exact"  # the kit's deadline: the clock itself
    assert reuse.clock_part("03", ["day"], t, {"window_hours": 36})["resolution"] == "hour"
    assert reuse.clock_part("03", ["day"], t, {"window_hours": 48.0, "horizon_days": 10})["resolution"] == "day"
    assert reuse.clock_part("07", ["hour"], t, {"window_hours": 1.5})["resolution"] == "exact"


# ------------------------------------------------------------------------------------------------ end to end


@pytest.mark.e2e
def test_reuse_by_key_fresh_and_notebook_edit_end_to_end(mini_project):
    first = runner.run("mini", None, chapters=["B"], progress=None, reuse_earlier=True)
    assert {c: e["status"] for c, e in first.manifest["chapters"].items()} == {"A": "ok", "B": "ok"}
    assert first.manifest["chapters"]["A"]["rerun_because"] == ["no earlier run of this chapter with a key"]
    # Same key: both reused, from the first run; the record is self-contained and sealed.
    again = runner.run("mini", None, chapters=["B"], progress=None, reuse_earlier=True)
    chapters = again.manifest["chapters"]
    assert {c: e["status"] for c, e in chapters.items()} == {"A": "reused", "B": "reused"}
    assert chapters["B"]["reused_from"] == first.manifest["run_id"]
    assert chapters["B"]["key"] == first.manifest["chapters"]["B"]["key"]
    assert (again.run_dir / "b.ipynb").is_file() and (again.run_dir / "a.html").is_file()
    assert json.loads((again.run_dir / "results" / "B.json").read_text()) == {"x_plus_one": 42}
    from spikekit.engine.seal import verify

    assert verify(again.run_dir).intact
    # --fresh: nothing reused, and it says so.
    fresh = runner.run("mini", None, chapters=["B"], progress=None, reuse_earlier=False)
    assert {c: e["status"] for c, e in fresh.manifest["chapters"].items()} == {"A": "ok", "B": "ok"}
    assert fresh.manifest["chapters"]["B"]["rerun_because"] == ["--fresh"]
    # An edited cell of B: A is reused (from the newest run with its key), B reruns because of its notebook.
    b = mini_project["notebooks"] / "b.ipynb"
    nb = json.loads(b.read_text(encoding="utf-8"))
    nb["cells"][-1]["source"] = "".join(nb["cells"][-1]["source"]).replace("x + 1", "x + 2")
    b.write_text(json.dumps(nb), encoding="utf-8")
    edited = runner.run("mini", None, chapters=["B"], progress=None, reuse_earlier=True)
    chapters = edited.manifest["chapters"]
    assert (chapters["A"]["status"], chapters["A"]["reused_from"]) == ("reused", fresh.manifest["run_id"])
    assert (chapters["B"]["status"], chapters["B"]["rerun_because"]) == ("ok", ["notebook"])
    assert chapters["B"]["results"] == {"x_plus_one": 43}


@pytest.mark.e2e
def test_resume_reruns_what_read_a_changed_input_instead_of_refusing(mini_project):
    first = runner.run("mini", None, chapters=["B"], progress=None)
    numbers = mini_project["data"] / "mini" / "numbers.csv"
    numbers.write_text("x\n1\n2\n3\n", encoding="utf-8")
    # Before: "inputs ['numbers'] changed since run ...: its chapters cannot be reused" (a ConfigError).
    resumed = runner.run("mini", None, resume=first.manifest["run_id"], progress=None)
    chapters = resumed.manifest["chapters"]
    assert {c: e["status"] for c, e in chapters.items()} == {"A": "ok", "B": "ok"}
    assert chapters["A"]["rerun_because"] == ["inputs.numbers"]
    assert chapters["B"]["rerun_because"] == ["inputs.numbers", "upstream.A"]
    # Resumed with --fresh (reuse_earlier=False): only the resumed run's chapters count, and they still match.
    numbers.write_text("x\n1\n2\n", encoding="utf-8")
    again = runner.run("mini", None, resume=first.manifest["run_id"], progress=None, reuse_earlier=False)
    assert {c: (e["status"], e["reused_from"]) for c, e in again.manifest["chapters"].items()} == \
        {"A": ("reused", first.manifest["run_id"]), "B": ("reused", first.manifest["run_id"])}


@pytest.mark.e2e
def test_cli_run_reuses_by_default_and_fresh_runs_everything(mini_project, capsys):
    from spikekit.cli import main

    assert main(["run", "--spike", "mini", "--chapters", "A"]) == 0
    assert main(["run", "--spike", "mini", "--chapters", "A"]) == 0
    err = capsys.readouterr().err
    assert "A a" in err and " reused " in err.split("rerun")[-1]
    assert main(["run", "--spike", "mini", "--chapters", "A", "--fresh"]) == 0
    err = capsys.readouterr().err
    assert "rerun    (--fresh)" in err and " reused " not in err


def test_runs_started_in_the_same_second_are_ordered_by_their_start_stamps(tmp_path):
    """Run ids hold the start to the second plus a random suffix; two runs in one second used to be ordered by
    the suffix, so reuse could take the older one's chapter."""
    from spikekit.engine import reuse

    def make(name, started):
        folder = tmp_path / "s" / name
        folder.mkdir(parents=True)
        (folder / "run.json").write_text(json.dumps({"run_id": name, "started": started, "chapters": {}}))

    make("20250101T000000Z-ffff", "2025-01-01T00:00:00.100000+00:00")  # first in the second, larger suffix
    make("20250101T000000Z-0000", "2025-01-01T00:00:00.900000+00:00")  # newer
    make("20241231T235959Z-aaaa", "2024-12-31T23:59:59.500000+00:00")
    order = [meta["run_id"] for _, meta in reuse.earlier_runs(tmp_path, "s")]
    assert order == ["20250101T000000Z-0000", "20250101T000000Z-ffff", "20241231T235959Z-aaaa"]
    assert [m["run_id"] for _, m in reuse.earlier_runs(tmp_path, "s", limit=1)] == ["20250101T000000Z-0000"]
