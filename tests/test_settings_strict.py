"""Nothing in a spike file or the playbook is silently ignored, and every time is one that exists.

Each test writes a small settings file into a throwaway playbook folder (the project's own playbook.yaml,
so the chapters and notebooks are the real ones) and checks the error names the file, the key and the fix.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from spikekit.chapters import cash
from spikekit.inputs import contracts
from spikekit.core.errors import ConfigError, InputError
from spikekit.core.record import parse_as_of
from spikekit.inputs.settings import chapter_parameters, load_playbook, load_spike

PROJECT = Path(__file__).resolve().parents[1]
DATA = "data:\n  signals: samples/starry-mug/signals.csv\n"


@pytest.fixture
def playbook(tmp_path, monkeypatch):
    """A copy of the project's playbook folder with an empty spikes/ folder; returns a spike-file writer."""
    folder = tmp_path / "playbook"
    (folder / "spikes").mkdir(parents=True)
    shutil.copyfile(PROJECT / "playbook" / "playbook.yaml", folder / "playbook.yaml")
    monkeypatch.setenv("SPIKE_PLAYBOOK", str(folder))

    def write(text: str, name: str = "probe") -> Path:
        path = folder / "spikes" / f"{name}.yaml"
        path.write_text("timezone: Asia/Shanghai\ndefault_as_of: '2025-03-09 12:00'\n" + text, encoding="utf-8")
        return path

    write.folder = folder
    return write


def _error(name: str = "probe") -> str:
    with pytest.raises(ConfigError) as caught:
        load_spike(name)
    return str(caught.value)


# ----------------------------------------------------------------------------------------------------------
# Chapter keys: 01, "01" and 1 are one chapter
@pytest.mark.parametrize("key", ["01", '"01"', "1", "'1'"])
def test_every_spelling_of_chapter_01_overrides_chapter_01(playbook, key):
    playbook(DATA + f"parameters:\n  {key}:\n    min_score: 2.5\n")
    book, spike = load_playbook(), load_spike("probe")
    assert spike.parameters == {"01": {"min_score": 2.5}}
    params = chapter_parameters(book, spike, "01", as_of="2025-03-09T12:00:00+08:00", upstream_run="x")
    assert params["min_score"] == 2.5  # the playbook default is 1.645


def test_unquoted_and_quoted_spellings_of_one_chapter_together_are_refused(playbook):
    playbook(DATA + "parameters:\n  01: {min_score: 2.5}\n  '01': {min_score: 3.0}\n")
    text = _error()
    assert "chapter '01' is given twice" in text and "probe.yaml" in text


def test_unknown_top_level_key_is_refused_with_a_suggestion(playbook):
    path = playbook(DATA + "timezon: Europe/Berlin\n")
    text = _error()
    assert str(path) in text and "'timezon'" in text and "did you mean 'timezone'?" in text


def test_unknown_data_key_is_refused_with_a_suggestion(playbook):
    playbook("data:\n  signal: samples/starry-mug/signals.csv\n")
    text = _error()
    assert "key 'data'" in text and "'signal'" in text and "did you mean 'signals'?" in text


def test_override_for_a_chapter_the_playbook_does_not_have_is_refused(playbook):
    playbook(DATA + "parameters:\n  '13': {min_score: 2.5}\n")
    text = _error()
    assert "key 'parameters'" in text and "chapter '13'" in text and "Known chapters: 01 early_warning, 02 validation" in text


def test_unknown_parameter_name_names_the_spike_file_and_chapter(playbook):
    path = playbook(DATA + "parameters:\n  '03': {horizon_dayz: 12}\n")
    text = _error()
    assert str(path) in text and "chapter '03'" in text
    assert "'horizon_dayz' (did you mean 'horizon_days'?)" in text


def test_ill_typed_parameter_names_the_spike_file(playbook):
    path = playbook(DATA + "parameters:\n  '03': {horizon_days: ten}\n")
    text = _error()
    assert str(path) in text and "parameter 'horizon_days' of 03_supplier_launch.ipynb must be int" in text


@pytest.mark.parametrize("name, value", [("as_of", "'2025-01-01'"), ("signals_file", "other/signals.csv"),
                                         ("timezone", "UTC")])
def test_overrides_the_run_would_overwrite_are_refused(playbook, name, value):
    playbook(DATA + f"parameters:\n  '01': {{{name}: {value}}}\n")
    text = _error()
    assert f"'{name}' is set by each run" in text


@pytest.mark.parametrize("text, key", [
    ("data:\n  - samples/starry-mug/signals.csv\n", "key 'data'"),
    ("data:\n  signals: [a.csv, b.csv]\n", "input 'signals'"),
    (DATA + "parameters: min_score=2\n", "key 'parameters'"),
    (DATA + "parameters:\n  '01': [min_score, 2]\n", "chapter '01'"),
    (DATA + "description: [a, b]\n", "key 'description'"),
])
def test_wrongly_shaped_values_are_clear_errors(playbook, text, key):
    path = playbook(text)
    message = _error()
    assert str(path) in message and key in message


def test_unknown_time_zone_is_refused_with_a_suggestion(playbook):
    path = playbook(DATA)
    path.write_text(path.read_text(encoding="utf-8").replace("Asia/Shanghai", "Asia/Shanghi"), encoding="utf-8")
    text = _error()
    assert "key 'timezone'" in text and "'Asia/Shanghi'" in text and "did you mean 'Asia/Shanghai'?" in text


def test_a_default_as_of_that_is_not_a_time_names_the_key(playbook):
    path = playbook(DATA)
    path.write_text(path.read_text(encoding="utf-8").replace("'2025-03-09 12:00'", "yesterday noon"), encoding="utf-8")
    text = _error()
    assert "key 'default_as_of'" in text and "'yesterday noon' is not a date/time" in text


def test_the_sample_spikes_pass_the_checks():
    for name in ("starry-mug", "fast-fade", "false-alarm"):
        spike = load_spike(name)
        assert set(spike.parameters) == {"01", "06", "08", "09", "11", "12"}  # 06, 08, 11, 12: the sample product


# ----------------------------------------------------------------------------------------------------------
# The playbook itself
def _edit_playbook(playbook, old: str, new: str) -> Path:
    path = playbook.folder / "playbook.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize("old, new, expected", [
    ("workers: 2 ", "worker: 2 ", ["'worker'", "did you mean 'workers'?"]),
    ("    inputs: [signals]", "    input: [signals]", ["chapter '01'", "'input'", "did you mean 'inputs'?"]),
    ('  - id: "01"', "  - id: 01", ["key 'id'", "quoted"]),
    ('needs: ["01"]\n    inputs: [validation]', 'needs: ["00"]\n    inputs: [validation]', ["key 'needs'", "'00'"]),
    ("timezone: Asia/Shanghai", "timezone: Asia/Shanghi", ["key 'timezone'", "did you mean 'Asia/Shanghai'?"]),
    ("timeout_s: 600", "timeout_s: 0", ["key 'timeout_s'"]),
    ("workers: 2 ", "workers: 0 ", ["key 'workers'"]),
])
def test_playbook_keys_and_values_are_checked(playbook, old, new, expected):
    path = _edit_playbook(playbook, old, new)
    with pytest.raises(ConfigError) as caught:
        load_playbook()
    text = str(caught.value)
    assert str(path) in text
    for part in expected:
        assert part in text


def test_needs_written_as_numbers_mean_the_chapters(playbook):
    _edit_playbook(playbook, 'needs: ["01"]\n    inputs: [validation]', "needs: [01]\n    inputs: [validation]")
    assert load_playbook().chapters["02"].needs == ("01",)


def test_an_unknown_playbook_default_names_the_playbook_file(playbook):
    path = _edit_playbook(playbook, "      min_score: 1.645", "      min_scor: 1.645")
    playbook(DATA)
    with pytest.raises(ConfigError) as caught:
        chapter_parameters(load_playbook(), load_spike("probe"), "01", as_of="2025-03-09T12:00:00+08:00", upstream_run="")
    text = str(caught.value)
    assert str(path) in text and "key 'defaults'" in text and "did you mean 'min_score'?" in text


def test_chapter_selection_accepts_1_for_01_and_suggests_for_unknown_ids():
    book = load_playbook()
    assert book.order(["1"]) == ["01"]
    assert book.order([2]) == ["01", "02"]
    with pytest.raises(ConfigError, match=r"--chapters: chapter '01a' is not in .*did you mean '01'\?"):
        book.order(["01a"], where="--chapters")
    with pytest.raises(ConfigError, match=r"chapter 'cahs' is not in .*did you mean '09', cash\?.*09 cash"):
        book.order(["cahs"])


# ----------------------------------------------------------------------------------------------------------
# Times
def test_a_time_skipped_by_daylight_saving_is_called_nonexistent():
    with pytest.raises(ConfigError) as caught:
        parse_as_of("2025-03-09 02:30", "America/New_York")
    text = str(caught.value)
    assert "does not exist in America/New_York" in text and "'2025-03-09 03:30'" in text
    assert "unknown" not in text


def test_a_time_repeated_when_daylight_saving_ends_is_refused_with_both_offsets():
    with pytest.raises(ConfigError) as caught:
        parse_as_of("2025-11-02 01:30", "America/New_York")
    text = str(caught.value)
    assert "ambiguous" in text and "01:30-04:00" in text and "01:30-05:00" in text
    # With the offset it is one moment, either of the two.
    first = parse_as_of("2025-11-02 01:30-04:00", "America/New_York")
    second = parse_as_of("2025-11-02 01:30-05:00", "America/New_York")
    assert second - first == pd.Timedelta(hours=1)


@pytest.mark.parametrize("as_of, part", [("1900-01-01", "before 2000-01-01"), ("3000-01-01", "more than a year after now")])
def test_implausible_years_are_refused(as_of, part):
    with pytest.raises(ConfigError, match=part):
        parse_as_of(as_of, "Asia/Shanghai")


def test_ordinary_times_are_read_in_the_zone():
    assert parse_as_of("2025-03-09 12:00", "Asia/Shanghai").isoformat() == "2025-03-09T12:00:00+08:00"
    assert parse_as_of("2025-03-09T04:00:00Z", "Asia/Shanghai").isoformat() == "2025-03-09T12:00:00+08:00"


# ----------------------------------------------------------------------------------------------------------
# Supplier terms must name suppliers of the suppliers table (chapter 09)
def _supplier_tables(tmp_path, terms: str):
    shutil.copyfile(PROJECT / "data" / "samples" / "starry-mug" / "suppliers.csv", tmp_path / "suppliers.csv")
    (tmp_path / "terms.csv").write_text(terms, encoding="utf-8")
    return (contracts.load_supplier_terms("terms.csv", data_root=tmp_path),
            contracts.load_suppliers("suppliers.csv", data_root=tmp_path))


def test_terms_for_a_supplier_not_in_the_suppliers_table_name_both_files_the_supplier_and_the_row(tmp_path):
    # Sorted by supplier the misspelt name moves, so the row named must be the file's row 3, not its sorted place.
    terms, suppliers = _supplier_tables(tmp_path, "supplier,deposit_share,balance_days\n"
                                                  "杭州星辰陶瓷,0.3,7\n德化白瓷访,0.3,7\n唐山骨瓷,0.5,7\n")
    with pytest.raises(InputError) as caught:
        cash.check_supplier_terms(terms, suppliers)
    text = str(caught.value)
    assert str(tmp_path / "terms.csv") in text and str(tmp_path / "suppliers.csv") in text
    assert "'德化白瓷访'" in text and "row 3" in text and "did you mean '德化白瓷坊'?" in text
    assert caught.value.rows == [3]


def test_terms_for_known_suppliers_pass_and_a_supplier_may_have_none(tmp_path):
    terms, suppliers = _supplier_tables(tmp_path, "supplier,deposit_share,balance_days\n唐山骨瓷,0.5,7\n")
    assert cash.check_supplier_terms(terms, suppliers) is terms


def test_chapter_09_is_given_the_spikes_suppliers_table():
    book, spike = load_playbook(), load_spike("starry-mug")
    params = chapter_parameters(book, spike, "09", as_of="2025-03-09T12:00:00+08:00", upstream_run="")
    assert params["suppliers_file"] == spike.data["suppliers"]


def test_the_ledger_folder_and_backorders_are_spike_settings(tmp_path, monkeypatch):
    import shutil

    from spikekit.core.paths import playbook_dir
    from spikekit.inputs.settings import load_spike

    playbook = tmp_path / "playbook"
    shutil.copytree(playbook_dir(), playbook)
    monkeypatch.setenv("SPIKE_PLAYBOOK", str(playbook))
    spikes = playbook / "spikes"
    (spikes / "a.yaml").write_text("ledger: shop/ledger\nbackorders: false\n", encoding="utf-8")
    spike = load_spike("a")
    assert (spike.ledger, spike.backorders) == ("shop/ledger", False)
    assert (load_spike("starry-mug").ledger, load_spike("starry-mug").backorders) == (None, True)
    (spikes / "b.yaml").write_text("backorders: sometimes\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="backorders"):
        load_spike("b")
    (spikes / "c.yaml").write_text("ledger: ../../etc\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_spike("c")
    (spikes / "d.yaml").write_text("ledgr: x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="did you mean 'ledger'"):
        load_spike("d")
