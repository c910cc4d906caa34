"""The bad-input catalogue through ``spike run``: what a person sees when a spike's input is broken.

Each case breaks the starry-mug signals the way tests/test_bad_inputs.py does (the same catalogue cases, by id)
or points the spike's ``signals`` entry somewhere it must not, then runs ``spike run --spike starry-mug
--chapters 01`` in-process (chapter 01 reads signals only) against a throwaway playbook, data folder and
records root. What must hold: exit 2 with one ``spike: error:`` line naming the file, the column and the
spreadsheet row and saying how to fix it, no Python traceback, no run folder and nothing in ``.partial``, the
earlier record in the same records root byte-identical, the data folder untouched.

The earlier record is a real run of chapter 01 on a GBK export of the same signals, which is itself a case:
a GBK file is fine and must decide exactly what the UTF-8 sample decides.
"""
from __future__ import annotations

import json
import shutil
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from spikekit import cli
from spikekit.inputs import contracts
from tests.conftest import PROJECT, tree_digest
from tests.test_bad_inputs import ALL_CASES, read_table

pytestmark = pytest.mark.e2e

SPIKE = "starry-mug"
AS_OF = "2025-03-09 12:00"
SIGNALS = "samples/starry-mug/signals.csv"
CATALOGUE = {case.id: case for case in ALL_CASES}

# The runner reads every input table (contracts.check_inputs) before it claims a run id: a broken table is one
# error line, exit 2, and nothing is written. The sentinel case checks that once, for a table the first chapter
# reads, with the records of an earlier run in the same root.
SENTINEL = "signals-wrong-type"


@dataclass(frozen=True)
class RunCase:
    id: str
    catalogue: str | None = None  # the test_bad_inputs case that breaks the signals file
    signals: str = SIGNALS  # the spike file's data: signals entry
    spike: str = SPIKE  # the --spike given
    expect: tuple[str, ...] = ()  # further fragments of the error line
    expect_any: tuple[str, ...] = ()  # at least one of these in it too (wordings that mean the same)


def _catalogue(case_id: str) -> pytest.param:
    return pytest.param(RunCase(case_id, catalogue=case_id), id=case_id)


RUN_CASES = [
    _catalogue("signals-missing-column"),
    _catalogue("signals-misnamed-column"),
    _catalogue("signals-wrong-type"),
    _catalogue("signals-negative-count"),
    _catalogue("signals-duplicate-key"),
    _catalogue("signals-mixed-time-zones"),
    _catalogue("signals-empty-file"),
    _catalogue("signals-undecodable-bytes"),
    _catalogue("signals-duplicate-header"),
    _catalogue("signals-1e308-value"),
    pytest.param(RunCase("path-escaping-the-data-folder", signals="../../etc/passwd",
                         expect=("'../../etc/passwd'", "outside", "Fix:")),
                 id="path-escaping-the-data-folder"),
    pytest.param(RunCase("input-path-is-a-folder", signals="samples/starry-mug",
                         expect=("samples/starry-mug", "Fix:"), expect_any=("folder", "directory")),
                 id="input-path-is-a-folder"),
    pytest.param(RunCase("unknown-spike-name", spike="starry-mugg",
                         expect=("unknown spike 'starry-mugg'", "did you mean 'starry-mug'", "Fix:")),
                 id="unknown-spike-name"),
]
CASE_COUNT = 13  # stated, so a case cannot silently drop out


def _spike_file(folder: Path, signals: str) -> None:
    """The real starry-mug spike file, reading only signals (from ``signals``)."""
    real = yaml.safe_load((PROJECT / "playbook" / "spikes" / f"{SPIKE}.yaml").read_text(encoding="utf-8"))
    spike = {"timezone": real["timezone"], "default_as_of": real["default_as_of"], "data": {"signals": signals},
             "parameters": {"01": real["parameters"]["01"]}}
    (folder / "spikes").mkdir(parents=True, exist_ok=True)
    (folder / "spikes" / f"{SPIKE}.yaml").write_text(yaml.safe_dump(spike, allow_unicode=True), encoding="utf-8")


def _playbook(folder: Path, signals: str = SIGNALS) -> Path:
    folder.mkdir(parents=True)
    shutil.copyfile(PROJECT / "playbook" / "playbook.yaml", folder / "playbook.yaml")
    _spike_file(folder, signals)
    return folder


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _spike_run(capfd, spike: str = SPIKE) -> tuple[object, str, str]:
    """``spike run`` in-process: (exit code, stdout, stderr). A traceback is what the user would see: kept."""
    capfd.readouterr()
    try:
        code = cli.main(["run", "--spike", spike, "--chapters", "01", "--as-of", AS_OF])
    except SystemExit as exc:
        code = exc.code
    except Exception:  # noqa: BLE001 - an escaped exception is itself the defect to report
        code = "traceback"
        traceback.print_exc()
    out, err = capfd.readouterr()
    return code, out, err


def _world(root: Path, case: RunCase, earlier_records: Path) -> dict:
    """A data folder with the case's signals file, a playbook whose spike reads it, a copy of the records root."""
    data = root / "data"
    (data / "samples" / SPIKE).mkdir(parents=True)
    rows = None
    if case.catalogue is not None:
        content, rows = CATALOGUE[case.catalogue].mutate(*read_table("signals"))
        (data / SIGNALS).write_bytes(content)
    else:
        shutil.copyfile(PROJECT / "data" / SIGNALS, data / SIGNALS)
    records = root / "records"
    shutil.copytree(earlier_records, records, symlinks=True)
    return {"data": data, "records": records, "playbook": _playbook(root / "playbook", case.signals), "rows": rows,
            "before": (tree_digest(records), tree_digest(data), _listing(records))}


def _environment(mp: pytest.MonkeyPatch, world: dict) -> None:
    for name, key in (("SPIKE_PLAYBOOK", "playbook"), ("SPIKE_DATA_ROOT", "data"), ("SPIKE_RECORDS", "records")):
        mp.setenv(name, str(world[key]))


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    """A records root holding one real run of chapter 01 on a GBK export of the sample signals."""
    root = tmp_path_factory.mktemp("earlier")
    data = root / "data"
    (data / "samples" / SPIKE).mkdir(parents=True)
    utf8 = (PROJECT / "data" / SIGNALS).read_text(encoding="utf-8")
    (data / SIGNALS).write_bytes(utf8.encode("gbk"))
    world = {"playbook": _playbook(root / "playbook"), "data": data, "records": root / "records"}
    with pytest.MonkeyPatch.context() as mp:
        _environment(mp, world)
        code = cli.main(["run", "--spike", SPIKE, "--chapters", "01", "--as-of", AS_OF])
    return dict(world, code=code, runs=sorted((root / "records" / SPIKE).glob("*/run.json")))


def test_a_gbk_export_runs_and_decides_like_the_utf8_sample(earlier):
    assert earlier["code"] == 0 and len(earlier["runs"]) == 1
    manifest = json.loads(earlier["runs"][0].read_text(encoding="utf-8"))
    assert manifest["status"] == "ok" and manifest["chapters"]["01"]["status"] == "ok"
    assert manifest["inputs"]["signals"]["sha256"] == contracts.sha256_file(earlier["data"] / SIGNALS)
    results = manifest["chapters"]["01"]["results"]
    sample = json.loads((PROJECT / "data" / "samples" / SPIKE / "upstream.json").read_text(encoding="utf-8"))["01"]
    assert results["decision"] == sample["decision"]
    assert results["first_alert"] == sample["first_alert"]
    assert results["chosen_trend"]["label"] == sample["chosen_trend"]["label"]


@pytest.fixture(scope="module")
def checked_up_front(earlier, tmp_path_factory) -> dict:
    """The sentinel: one broken table through spike run. Does the run stop before it starts (exit 2, nothing new)?"""
    world = _world(tmp_path_factory.mktemp("sentinel"), RunCase(SENTINEL, catalogue=SENTINEL), earlier["records"])
    with pytest.MonkeyPatch.context() as mp:
        _environment(mp, world)
        try:
            code = cli.main(["run", "--spike", SPIKE, "--chapters", "01", "--as-of", AS_OF])
        except Exception as exc:  # noqa: BLE001 - reported by the sentinel test
            code = repr(exc)
    return {"code": code, "unchanged": _listing(world["records"]) == world["before"][2]}


def test_a_broken_table_is_refused_before_the_run_starts(checked_up_front):
    assert checked_up_front == {"code": 2, "unchanged": True}


def test_the_run_catalogue_has_every_stated_case():
    assert len(RUN_CASES) == CASE_COUNT
    assert len({p.values[0].id for p in RUN_CASES}) == CASE_COUNT
    for param in RUN_CASES:
        case = param.values[0]
        assert case.catalogue is None or case.catalogue in CATALOGUE  # a renamed catalogue case fails here


@pytest.mark.parametrize("case", RUN_CASES)
def test_a_bad_input_stops_spike_run_with_one_line_and_writes_nothing(case, earlier, checked_up_front, tmp_path,
                                                                      monkeypatch, capfd):
    assert checked_up_front["code"] == 2, "the runner no longer checks input tables before it starts"
    world = _world(tmp_path, case, earlier["records"])
    _environment(monkeypatch, world)
    data, records = world["data"], world["records"]

    code, out, err = _spike_run(capfd, case.spike)

    flat = " ".join(err.split())  # the CLI may wrap a long message for the terminal
    assert code == 2, err[-3000:]
    assert "Traceback" not in err and flat.count("spike: error:") == 1, err[-3000:]
    message = flat.split("spike: error:", 1)[1]
    if case.catalogue is not None:
        broken, rows = CATALOGUE[case.catalogue], world["rows"]
        assert f"file {data / SIGNALS}".replace(" ", "") in message.replace(" ", "")
        assert broken.message in message
        if broken.column is not None:
            assert f"column '{broken.column}'" in message
        if rows:
            assert ("row " if len(rows) == 1 else "rows ") + ", ".join(map(str, rows[:5])) in message
        assert "Fix: " in message
    for fragment in case.expect:
        assert fragment in message
    assert not case.expect_any or any(fragment in message for fragment in case.expect_any), message
    assert out.strip() == ""  # no run folder to point at
    partial = records / ".partial"
    assert (sorted(partial.rglob("*")) if partial.exists() else []) == []
    before_records, before_data, before_listing = world["before"]
    assert _listing(records) == before_listing  # no new folder, not even an empty one
    assert tree_digest(records) == before_records  # the earlier record byte-identical
    assert tree_digest(data) == before_data
