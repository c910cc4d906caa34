"""`spike new`: a spike of the shop's own (spike file, templates, checklist), and per-spike product settings."""
from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from spikekit import cli, samples
from spikekit.inputs import contracts, newspike, settings, state
from spikekit.chapters import retrospective as retro
from spikekit.core.errors import ConfigError

from tests.conftest import tree_digest

PROJECT = Path(__file__).resolve().parents[1]
SAMPLES = ("starry-mug", "fast-fade", "false-alarm")
DAY = dt.date(2025, 6, 2)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """The project's playbook.yaml with an empty spikes folder and an empty data root (nothing of the repository's
    playbook/ or data/ is written)."""
    book = tmp_path / "playbook"
    (book / "spikes").mkdir(parents=True)
    shutil.copyfile(PROJECT / "playbook" / "playbook.yaml", book / "playbook.yaml")
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("SPIKE_PLAYBOOK", str(book))
    monkeypatch.setenv("SPIKE_DATA_ROOT", str(data))
    return {"root": tmp_path, "playbook": book, "data": data}


def _new(*args: str) -> int:
    return cli.main(["new", *args])


def _params(name: str, chapter: str) -> dict:
    book = settings.load_playbook()
    return settings.chapter_parameters(book, settings.load_spike(name, book), chapter, as_of="2025-06-02 12:00",
                                       upstream_run="")


# ---------------------------------------------------------------------------------------------- spike new


def test_spike_new_writes_the_spike_file_a_template_per_table_and_the_readme(project, capsys):
    assert _new("cat-cup", "--product", "猫爪杯", "--keywords", "猫爪杯，猫爪", "--search-platform", "淘宝",
                "--timezone", "Europe/Istanbul") == 0
    out, err = capsys.readouterr()
    folder = project["data"] / "spikes" / "cat-cup"
    assert out.strip() == str(folder) and "spike run --spike cat-cup" in err
    book = settings.load_playbook()
    spike = settings.load_spike("cat-cup", book)
    assert spike.timezone == "Europe/Istanbul" and spike.default_as_of == "now"
    assert sorted(spike.data) == book.input_names  # every table any chapter reads
    assert all(spike.data[key] == f"spikes/cat-cup/{key}.csv" for key in spike.data)
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"{k}.csv" for k in spike.data] + ["README.md"])
    # the options become the chapters' settings
    assert _params("cat-cup", "01")["keyword_groups"] == {"cat-cup": ["猫爪杯", "猫爪"]}
    assert (_params("cat-cup", "06")["search_keyword"], _params("cat-cup", "06")["search_platform"]) == ("猫爪杯", "淘宝")
    assert _params("cat-cup", "08")["product_facts"] == {"name": "猫爪杯"}
    assert _params("cat-cup", "11")["product"] == _params("cat-cup", "12")["product"] == "猫爪杯"
    assert state.demand_signal(book, spike) == ("猫爪杯", "淘宝")


def test_every_template_passes_its_own_contract_and_the_checks_across_tables(project):
    assert newspike.create_spike("cat-cup", product="猫爪杯", search_platform="抖音", today=DAY).name == "cat-cup"
    spike = settings.load_spike("cat-cup")
    loaded = {}
    for key, path in spike.data.items():
        contract = contracts.CONTRACTS[key]
        frame = getattr(contracts, f"load_{key}")(path, tz=spike.timezone)  # the loader the chapter calls
        header = (project["data"] / path).read_text(encoding="utf-8").splitlines()[0]
        assert header.split(",") == contract.names, key
        assert len(frame) == (2 if key == "cash" else 1), key
        loaded[key] = frame
    assert set(contracts.check_inputs(spike.data, tz=spike.timezone)) == set(spike.data)
    # the rows agree with each other, as a chapter joining two tables needs
    from spikekit.chapters.cash import check_supplier_terms

    check_supplier_terms(loaded["supplier_terms"], loaded["suppliers"])
    assert set(loaded["lanes"]["warehouse"]) <= set(loaded["warehouses"]["warehouse"])
    assert set(loaded["lanes"]["region"]) == set(loaded["regional_demand"]["region"])
    assert set(loaded["returns"]["order_id"]) <= set(loaded["orders"]["order_id"])
    assert set(loaded["orders"]["product"]) == {"猫爪杯"} and set(loaded["stock"]["sku"]) == {"猫爪杯"}
    # chapter 06's search series is in the signals template, so the decline rule finds it
    signals = loaded["signals"]
    assert ((signals["keyword"] == "猫爪杯") & (signals["platform"] == "抖音") & (signals["metric"] == "searches")).any()
    # every example row is known by the end of the day it was made: a first run as of now reads them all
    end = pd.Timestamp(DAY, tz=spike.timezone) + pd.Timedelta(days=1)
    assert all((frame["timestamp"] <= end).all() for frame in loaded.values() if "timestamp" in frame)


def test_the_readme_is_derived_from_the_contracts_and_the_chapters_inputs(project):
    # a playbook whose chapter 07 no longer reads `audience` and whose chapter 05 reads `cash` as well
    path = project["playbook"] / "playbook.yaml"
    text = path.read_text(encoding="utf-8")
    assert "optional_inputs: [funnel, audience, budget]" in text
    text = text.replace("optional_inputs: [funnel, audience, budget]", "optional_inputs: [funnel, budget]")
    text = text.replace("inputs: [warehouses, lanes, regional_demand, urgent_orders]",
                        "inputs: [warehouses, lanes, regional_demand, urgent_orders, cash]")
    path.write_text(text, encoding="utf-8")
    made = newspike.create_spike("cat-cup", today=DAY)
    readme = (made.folder / "README.md").read_text(encoding="utf-8")
    book = settings.load_playbook()
    assert "audience" not in readme and not (made.folder / "audience.csv").exists()
    boxes = {m.group(1): m.group(2) for m in re.finditer(r"^- \[ \] \*\*(\d\d) [^*]+\*\*: (.*)$", readme, re.M)}
    assert sorted(boxes) == sorted(book.chapters)
    for cid, chapter in book.chapters.items():
        named = re.findall(r"`(\w+)\.csv`", boxes[cid])
        assert named == list(chapter.inputs + chapter.optional_inputs), cid
    assert "`cash.csv`" in boxes["05"]
    for key in made.tables:
        section = readme.split(f"### `{key}.csv`", 1)[1].split("\n### ", 1)[0]
        for column in contracts.CONTRACTS[key].columns:
            assert f"- `{column.name}` (" in section and column.description in section, (key, column.name)
    assert "Read by chapter(s) 03 (optional), 05, 09, 12." in readme  # cash: who reads it, and how


def test_an_existing_spike_or_data_folder_is_refused_and_left_as_it_was(project, capsys):
    assert _new("cat-cup", "--product", "猫爪杯") == 0
    capsys.readouterr()
    before = tree_digest(project["root"])
    assert _new("cat-cup", "--product", "别的") == 2
    err = capsys.readouterr().err
    assert err.startswith("spike: error: spike 'cat-cup' already exists") and "Fix:" in err and err.count("\n") == 1
    # data of that name without a spike file (e.g. exports copied there by hand) is never written over
    (project["data"] / "spikes" / "lamp").mkdir()
    (project["data"] / "spikes" / "lamp" / "orders.csv").write_text("mine\n", encoding="utf-8")
    before = tree_digest(project["root"])
    assert _new("lamp") == 2
    assert "data folder of spike 'lamp' already exists" in capsys.readouterr().err
    assert tree_digest(project["root"]) == before
    assert not (project["playbook"] / "spikes" / "lamp.yaml").exists()


@pytest.mark.parametrize("args, expect", [
    (["Cat Cup"], "spike name 'Cat Cup' is not allowed"),
    (["../cat"], "is not allowed"),
    (["cat", "--keywords", "猫爪杯,,猫爪"], "--keywords '猫爪杯,,猫爪' has an empty keyword between commas"),
    (["cat", "--search-platform", "淘宝"], "--search-platform '淘宝' needs a keyword"),
    (["cat", "--timezone", "Asia/Shangai"], "did you mean 'Asia/Shanghai'"),
    (["cat", "--product", "猫爪\n杯"], "--product '猫爪\\n杯' holds a line break"),
])
def test_bad_names_and_options_are_one_error_line_and_write_nothing(project, capsys, args, expect):
    assert _new(*args) == 2
    err = capsys.readouterr().err
    assert err.startswith("spike: error: ") and expect in err and err.count("\n") == 1
    assert list(project["data"].rglob("*")) == [] and list((project["playbook"] / "spikes").iterdir()) == []


def test_a_failure_after_the_folder_is_in_place_takes_it_back(project, monkeypatch):
    def broken(name, book=None):
        raise ConfigError("simulated: the spike file does not load")

    monkeypatch.setattr(newspike, "load_spike", broken)
    with pytest.raises(ConfigError, match="simulated"):
        newspike.create_spike("cat-cup", product="猫爪杯")
    assert list((project["playbook"] / "spikes").iterdir()) == []
    assert list((project["data"] / "spikes").iterdir()) == []  # no folder, no staging folder


def test_without_product_keywords_or_platform_nothing_is_set(project):
    newspike.create_spike("plain", today=DAY)
    book = settings.load_playbook()
    assert _params("plain", "01")["keyword_groups"] == {}
    assert (_params("plain", "06")["search_keyword"], _params("plain", "06")["search_platform"]) == ("", "")
    assert _params("plain", "08")["product_facts"] == {}
    assert _params("plain", "11")["product"] == _params("plain", "12")["product"] == ""
    assert state.demand_signal(book, settings.load_spike("plain", book)) is None  # chapter 06 watches daily orders


# ---------------------------------------------------------------------------------------------- no sample product


def test_the_playbook_names_no_sample_product():
    text = (PROJECT / "playbook" / "playbook.yaml").read_text(encoding="utf-8")
    for word in ("星空杯", "星空咖啡杯", "淘宝", "starry"):
        assert word not in text, word
    book = settings.load_playbook(PROJECT / "playbook" / "playbook.yaml")
    assert book.chapters["06"].defaults["search_keyword"] == book.chapters["06"].defaults["search_platform"] == ""
    assert book.chapters["08"].defaults["product_facts"] == {}
    assert book.chapters["11"].defaults["product"] == book.chapters["12"].defaults["product"] == ""


@pytest.mark.parametrize("spike", SAMPLES)
def test_the_samples_still_run_with_the_sample_product(spike):
    """The samples' own spike files now carry the sample product: each chapter resolves the values its notebook's
    parameters cell defaults to, which the samples' upstream fixtures were made with."""
    book = settings.load_playbook(PROJECT / "playbook" / "playbook.yaml")
    loaded = settings.load_spike(spike, book)
    for cid, names in {"06": ("search_keyword", "search_platform"), "08": ("product_facts",),
                       "11": ("product",), "12": ("product",)}.items():
        resolved = settings.chapter_parameters(book, loaded, cid, as_of="2025-03-09 12:00", upstream_run="")
        declared = settings.notebook_parameters(book.chapters[cid].notebook)
        for name in names:
            assert resolved[name] == declared[name]["default"], (spike, cid, name)
    assert state.demand_signal(book, loaded) == ("星空杯", "淘宝")
    assert settings.chapter_parameters(book, loaded, "12", as_of="2025-03-09 12:00",
                                       upstream_run="")["product"] == samples.SPIKE_PRODUCT == "星空咖啡杯"


def test_a_generated_scenario_names_the_sample_product_in_its_spike_file():
    text = samples.spike_file_text(samples.new_scenario("mug-x", 3, "fast"))
    parameters = yaml.safe_load(text)["parameters"]
    for cid, values in samples.SAMPLE_PRODUCT_PARAMETERS.items():
        assert parameters[cid] == values
    starry = yaml.safe_load((PROJECT / "playbook" / "spikes" / "starry-mug.yaml").read_text(encoding="utf-8"))
    assert {cid: starry["parameters"][cid] for cid in samples.SAMPLE_PRODUCT_PARAMETERS} == \
        samples.SAMPLE_PRODUCT_PARAMETERS


def test_the_retention_cohort_without_a_product_is_every_products_first_time_buyers():
    tz = "Asia/Shanghai"
    ts = lambda text: pd.Timestamp(text, tz=tz)  # noqa: E731
    orders = pd.DataFrame({
        "order_id": ["a", "b", "c", "d"],
        "timestamp": [ts("2025-03-02 10:00"), ts("2025-03-03 10:00"), ts("2025-03-04 10:00"), ts("2025-02-01 10:00")],
        "buyer_id": ["u1", "u2", "u3", "u4"],
        "product": ["猫爪杯", "杯垫", "猫爪杯", "杯垫"],
    })
    members = pd.DataFrame({"buyer_id": ["u1"], "timestamp": [ts("2025-03-05 10:00")]})
    activity = pd.DataFrame({"buyer_id": ["u1"], "timestamp": [ts("2025-03-06 00:00")], "actions": [1]})
    args = (orders, members, activity, ts("2025-03-10 12:00"), ts("2025-03-01 00:00"))
    assert sorted(retro.retention(*args, product="猫爪杯").cohort["buyer_id"]) == ["u1", "u3"]
    assert sorted(retro.retention(*args, product="").cohort["buyer_id"]) == ["u1", "u2", "u3"]
    assert sorted(retro.retention(*args, product=None).cohort["buyer_id"]) == ["u1", "u2", "u3"]
    # a product the orders do not name (a typo, or nothing sold yet) is an empty cohort, not a crash
    nobody = retro.retention(*args, product="台灯")
    assert nobody.cohort.empty and set(nobody.rates["status"]) == {"not measurable yet"}


def test_a_column_added_to_a_contract_is_in_the_template_and_the_template_still_passes(project, monkeypatch):
    sales = contracts.CONTRACTS["sales"]
    grown = contracts.Contract(name="sales", description=sales.description, key=sales.key, columns=sales.columns + (
        contracts.Column("channel", "str", "Sales channel.", allowed=("shop", "live")),
        contracts.Column("returned", "int", "Units returned that day.", non_negative=True, maximum=1e6),
        contracts.Column("margin", "float", "Margin per unit.", minimum=-100.0, maximum=0.5),
        contracts.Column("ad_cost", "float", "Ad cost that day, above 0.", minimum=5.0, exclusive_minimum=True),
    ))
    monkeypatch.setitem(contracts.CONTRACTS, "sales", grown)
    made = newspike.create_spike("cat-cup", today=DAY)
    header = (made.folder / "sales.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "timestamp,orders,price,channel,returned,margin,ad_cost"
    frame = contracts.load_table("spikes/cat-cup/sales.csv", grown)
    assert frame[["channel", "returned", "margin"]].iloc[0].tolist() == ["shop", 1, 0.5] and frame["ad_cost"].iloc[0] > 5
    assert "- `channel` (text, required; one of `shop`, `live`): Sales channel." in \
        (made.folder / "README.md").read_text(encoding="utf-8")


def test_spike_check_on_untouched_templates_then_on_three_broken_files(project, capsys):
    """`spike new` then `spike check`: the example rows suffice for every chapter (all ready, exit 0); three files
    broken three different ways are all reported in one pass (exit 2, one error line naming the three)."""
    import json

    from spikekit import cli

    assert _new("cat-cup", "--product", "猫爪杯") == 0
    capsys.readouterr()
    assert cli.main(["check", "--spike", "cat-cup", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {ch["status"] for ch in report["chapters"].values()} == {"ready"}, report["chapters"]
    folder = project["data"] / "spikes" / "cat-cup"
    # 1. a negative price in orders.csv's first row; 2. traffic.csv loses a column; 3. reviews.csv is empty.
    orders = pd.read_csv(folder / "orders.csv", dtype=str)
    orders.loc[0, "price"] = "-2"
    orders.to_csv(folder / "orders.csv", index=False)
    traffic = pd.read_csv(folder / "traffic.csv", dtype=str)
    traffic.drop(columns=[traffic.columns[-1]]).to_csv(folder / "traffic.csv", index=False)
    (folder / "reviews.csv").write_text("", encoding="utf-8")
    assert cli.main(["check", "--spike", "cat-cup", "--json"]) == 2
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert set(report["invalid_files"]) == {"orders", "traffic", "reviews"}
    assert report["tables"]["orders"]["problem"]["column"] == "price"
    error = [line for line in captured.err.splitlines() if line.startswith("spike: error:")]
    assert len(error) == 1 and all(f"{name}.csv" in error[0] for name in ("orders", "traffic", "reviews"))
