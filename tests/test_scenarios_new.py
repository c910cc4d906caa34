"""Scenarios on demand (`python -m spikekit.samples new`): drawn from a seed and a shape, consistent with their
answer key, loadable by the playbook, and refused when they would overwrite something."""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spikekit.inputs import contracts, settings
from spikekit import samples
from spikekit.chapters import early_warning as signals, validation
from spikekit.core.errors import ConfigError

PROJECT = Path(__file__).resolve().parents[1]
SEED = 11


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict:
    """Every shape made once with seed 11 through `create`, into a data root and playbook of its own."""
    root = tmp_path_factory.mktemp("scenarios")
    data, book = root / "data", root / "playbook"
    data.mkdir()
    (book / "spikes").mkdir(parents=True)
    out = {"data": data, "playbook": book}
    for shape in samples.SHAPES:
        folder, spike_file = samples.create(f"gen-{shape}", SEED, shape, data_root=data, playbook=book)
        out[shape] = {"folder": folder, "spike_file": spike_file,
                      "truth": json.loads((folder / "truth.json").read_text(encoding="utf-8"))}
    return out


def _demand(folder: Path) -> pd.Series:
    frame = pd.read_csv(folder / "demand.csv", dtype={"date": str})
    return pd.Series(frame["units"].to_numpy(), index=frame["date"])


def _local_maxima(values: np.ndarray, prominence: float) -> list[int]:
    """Positions of local maxima that stand at least ``prominence`` above the lowest point on each side
    between them and the next higher value (or the series' end)."""
    peaks = []
    for i in range(1, len(values) - 1):
        if not (values[i] > values[i - 1] and values[i] >= values[i + 1]):
            continue
        left, right = values[:i][::-1], values[i + 1:]
        higher_left = np.flatnonzero(left > values[i])
        higher_right = np.flatnonzero(right > values[i])
        low_left = left[: higher_left[0] if len(higher_left) else len(left)].min()
        low_right = right[: higher_right[0] if len(higher_right) else len(right)].min()
        if values[i] - max(low_left, low_right) >= prominence:
            peaks.append(i)
    return peaks


# ------------------------------------------------------------------------------------------------------
# Determinism: stored expectations (a second generation compared with the first could not fail)

# new_scenario("gen-<shape>", 11, shape): drawn parameters, written down once from this code.
EXPECTED_DRAWS = {
    "fast": {"validation_start": "2025-02-28 10:00", "demand_peak_extra_per_day": 283.0, "price": 42.0,
             "stock_on_hand": 40, "cart_lift_24h": 11.77, "winning_design": "夜幕黑"},
    "steady": {"validation_start": "2025-03-04 10:00", "demand_peak_extra_per_day": 0.6, "price": 55.0,
               "stock_on_hand": 48, "cart_lift_24h": 1.06, "winning_design": None},
}
# From the generated files of those scenarios.
EXPECTED_FILES = {
    "fast": {"peak_day": "2025-03-03", "peak_units_per_day": 255.8, "true_demand_total": 1670.7,
             "validation_sales": 236, "sales_orders_total": 1743},
    "steady": {"peak_day": None, "peak_units_per_day": 11.41, "true_demand_total": 837.0,
               "validation_sales": 18, "sales_orders_total": 912},
}


@pytest.mark.parametrize("shape", sorted(EXPECTED_DRAWS))
def test_a_seed_draws_the_stored_parameters(shape):
    scenario = samples.new_scenario(f"gen-{shape}", SEED, shape)
    expected = EXPECTED_DRAWS[shape]
    assert scenario.validation_start == expected["validation_start"]
    assert scenario.price == expected["price"] and scenario.stock_on_hand == expected["stock_on_hand"]
    assert scenario.winning_design == expected["winning_design"]
    assert math.isclose(scenario.demand_peak_extra_per_day, expected["demand_peak_extra_per_day"], abs_tol=1e-9)
    assert math.isclose(scenario.cart_lift_24h, expected["cart_lift_24h"], abs_tol=1e-9)


@pytest.mark.parametrize("shape", sorted(EXPECTED_FILES))
def test_a_seed_generates_the_stored_key_numbers(made, shape):
    truth, folder = made[shape]["truth"], made[shape]["folder"]
    expected = EXPECTED_FILES[shape]
    replay = truth["replay"]
    assert replay["peak_day"] == expected["peak_day"]
    assert math.isclose(replay["peak_units_per_day"], expected["peak_units_per_day"], abs_tol=0.02)
    assert math.isclose(replay["true_demand_total"], expected["true_demand_total"], abs_tol=0.5)
    assert truth["observed"]["validation_sales"] == expected["validation_sales"]
    assert int(pd.read_csv(folder / "sales.csv")["orders"].sum()) == expected["sales_orders_total"]


def test_other_seeds_make_other_scenarios(made, tmp_path):
    first = made["fast"]
    other = samples.new_scenario("gen-fast", SEED + 1, "fast")
    assert dict(other.draws) != dict(samples.new_scenario("gen-fast", SEED, "fast").draws)
    samples.generate_scenario(other, tmp_path / "other")
    for file_name in ("signals.csv", "validation.csv", "demand.csv", "orders.csv"):
        assert (tmp_path / "other" / file_name).read_bytes() != (first["folder"] / file_name).read_bytes(), file_name


def test_built_in_samples_are_unchanged_by_the_generator():
    # The built-ins keep their own after-sales stories, a single demand pulse and no replay block.
    for name, scenario in samples.SCENARIOS.items():
        assert scenario.shape is None and scenario.aftersales is None and isinstance(scenario.demand, samples.Pulse)
        truth = samples.load_truth(name, PROJECT / "data")
        assert "replay" not in truth


# ------------------------------------------------------------------------------------------------------
# Each shape's truth holds in its data


def test_the_truth_carries_what_a_replay_needs(made):
    for shape in samples.SHAPES:
        truth, folder = made[shape]["truth"], made[shape]["folder"]
        replay = truth["replay"]
        demand = _demand(folder)
        # The true daily demand of the truth is demand.csv, day by day.
        assert list(replay["true_demand_units_per_day"]) == list(demand.index), shape
        assert np.allclose(list(replay["true_demand_units_per_day"].values()), demand.to_numpy(), atol=0.005), shape
        assert math.isclose(replay["true_demand_total"], float(demand.sum()), abs_tol=0.1), shape
        stock = pd.read_csv(folder / "stock.csv").iloc[0]
        assert (replay["unit_cost"], replay["price"], replay["salvage_value"], replay["stock_on_hand"]) == (
            stock["unit_cost"], stock["price"], stock["salvage_value"], stock["on_hand"]), shape
        suppliers = pd.read_csv(folder / "suppliers.csv")
        assert replay["supplier_lead_days"] == dict(zip(suppliers["supplier"], suppliers["lead_days"])), shape
        assert replay["price_elasticity"] == truth["expected"]["exit"]["price_elasticity"] < 0, shape
        assert replay["decision"] == truth["expected"]["decision"] == ("go" if shape in samples.GO_SHAPES else "no-go")
        if replay["peak_day"] is not None:
            assert replay["peak_day"] == demand.idxmax(), shape
        # An alert is expected exactly where interest really moves, and it is possible (noise-free) in time.
        expected = truth["expected"]
        assert expected["alert"] == (shape != "steady"), shape
        if expected["alert"]:
            assert expected["first_alert_not_before"] <= expected["first_alert_possible_from"] \
                <= expected["first_alert_no_later_than"], shape


def test_double_has_two_demand_waves_the_second_bigger(made):
    demand = _demand(made["double"]["folder"]).to_numpy()
    base = made["double"]["truth"]["replay"]["base_units_per_day"]
    peaks = _local_maxima(demand, prominence=0.2 * (demand.max() - base))
    assert len(peaks) == 2, peaks
    first, second = demand[peaks[0]], demand[peaks[1]]
    assert base < first < second
    assert demand[peaks[0]:peaks[1]].min() < 0.5 * first  # a real lull between the waves
    assert len(made["double"]["truth"]["replay"]["demand_waves"]) == 2


def test_steady_never_rises_above_twice_its_base(made):
    truth = made["steady"]["truth"]
    demand = _demand(made["steady"]["folder"])
    assert demand.max() <= 2 * truth["replay"]["base_units_per_day"]
    assert truth["replay"]["peak_day"] is None and not truth["real_trend"] and truth["trending_series"] == []
    # Interest stays where it was: the product words' weekly totals on every platform within +-40% of each other.
    frame = pd.read_csv(made["steady"]["folder"] / "signals.csv", dtype={"timestamp": str})
    weekly = frame.groupby(["keyword", "platform", frame["timestamp"].str[:10].map(
        lambda day: pd.Timestamp(day).isocalendar().week)])["value"].sum()
    for (keyword, platform), series in weekly.groupby(level=[0, 1]):
        inner = series.to_numpy()[1:-1]  # whole weeks only
        if inner.mean() > 50:
            assert inner.max() < 1.4 * inner.min(), (keyword, platform)


def test_flop_talks_but_does_not_sell(made):
    truth = made["flop"]["truth"]
    demand = _demand(made["flop"]["folder"])
    base = truth["replay"]["base_units_per_day"]
    assert truth["expected"]["decision"] == "no-go" and truth["expected"]["winning_design"] is None
    assert demand.max() <= 3 * base  # demand never comes
    assert any(platform in ("小红书", "抖音") for _, platform in truth["trending_series"])  # talk does
    assert truth["observed"]["cart_ratio_first_24h"] < 3.0


def test_fast_peaks_within_days_and_slow_rises_for_weeks(made):
    for shape, (rise_low, rise_high), fall_max in (("fast", (3.0, 5.5), 4.0), ("slow", (11.0, 21.0), None)):
        wave = made[shape]["truth"]["replay"]["demand_waves"][0]
        takeoff, peak, fade = (pd.Timestamp(wave[k]) for k in ("takeoff", "peak", "fade"))
        rise = (peak - takeoff) / pd.Timedelta(days=1)
        fall = (fade - peak) / pd.Timedelta(days=1)
        assert rise_low <= rise <= rise_high, (shape, rise)
        if fall_max is not None:
            assert fall <= fall_max, (shape, fall)
        else:
            assert fall >= 12.0, (shape, fall)  # a long tail
        # The daily demand follows: peak day within a day of the wave's peak, back near base after the fade.
        demand = _demand(made[shape]["folder"])
        assert abs((pd.Timestamp(demand.idxmax()) - peak.tz_localize(None).normalize()).days) <= 1
        after = demand[demand.index > (fade + pd.Timedelta(days=2)).strftime("%Y-%m-%d")]
        assert after.max() < made[shape]["truth"]["replay"]["base_units_per_day"] + 0.1 * demand.max()


# ------------------------------------------------------------------------------------------------------
# The playbook can read them


def test_spike_files_load_and_every_table_passes_its_contract(made, monkeypatch):
    monkeypatch.setenv("SPIKE_DATA_ROOT", str(made["data"]))
    monkeypatch.setenv("SPIKE_PLAYBOOK", str(made["playbook"]))
    book = settings.load_playbook(PROJECT / "playbook" / "playbook.yaml")
    for shape in ("fast", "double", "steady"):
        name = f"gen-{shape}"
        spike = settings.load_spike(name, book)  # checked against the project's playbook (the temporary one has none)
        truth = made[shape]["truth"]
        assert pd.Timestamp(spike.default_as_of).tz_localize("Asia/Shanghai") == pd.Timestamp(truth["default_as_of"])
        for chapter in book.chapters:  # every chapter's parameters check against its notebook
            settings.chapter_parameters(book, spike, chapter, as_of=spike.default_as_of, upstream_run="")
        for table, relative in spike.data.items():
            assert spike.input_path(table).is_file(), relative
            loader = getattr(contracts, f"load_{table}", None)
            if loader is not None:
                assert len(loader(relative, data_root=made["data"])) > 0, (shape, table)
            elif table in contracts.CONTRACTS:
                assert len(contracts.load_table(relative, contracts.CONTRACTS[table], data_root=made["data"])) > 0


@pytest.mark.parametrize("shape", ["fast", "flop"])
def test_chapters_01_and_02_reach_the_truth(made, shape):
    """The library calls chapters 01 and 02 make, at the spike's default as_of (the notebooks run them too)."""
    truth, data = made[shape]["truth"], made["data"]
    relative = f"{samples.GENERATED_DIR}/gen-{shape}"
    as_of = pd.Timestamp(truth["default_as_of"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        events = contracts.load_validation(f"{relative}/validation.csv", data_root=data)
        assert validation.decide(events, as_of).decision == truth["expected"]["decision"]
        rows = contracts.load_signals(f"{relative}/signals.csv", data_root=data)
    detector = signals.DetectorSettings(keyword_groups=samples.KEYWORD_GROUPS)
    found = signals.detect(rows, as_of, detector)
    call = signals.call(found, signals.review_list(found, as_of, detector), as_of, detector)
    assert call["decision"] == "alert"
    expected = truth["expected"]
    assert pd.Timestamp(expected["first_alert_not_before"]) <= call["first_alert"] \
        <= pd.Timestamp(expected["first_alert_no_later_than"])


# ------------------------------------------------------------------------------------------------------
# Refusals: one clear error, nothing written, nothing earlier damaged


def _folders(data: Path, book: Path) -> list[str]:
    found = sorted(str(p.relative_to(data)) for p in (data / samples.GENERATED_DIR).glob("*")) if (
        data / samples.GENERATED_DIR).exists() else []
    # The spikes folder's .gitignore (listing generated spike files) is meant to stay; anything else is checked.
    return found + sorted(str(p.relative_to(book)) for p in (book / "spikes").glob("*") if p.name != ".gitignore")


@pytest.fixture()
def roots(tmp_path) -> tuple[Path, Path]:
    data, book = tmp_path / "data", tmp_path / "playbook"
    data.mkdir()
    (book / "spikes").mkdir(parents=True)
    return data, book


@pytest.mark.parametrize("name, message", [
    ("Bad-Name", "is not allowed"), ("../escape", "is not allowed"), ("a b", "is not allowed"),
    ("starry-mug", "built-in sample scenario"), ("fast-fade", "built-in sample scenario"),
])
def test_bad_and_built_in_names_are_refused(roots, capsys, name, message):
    data, book = roots
    code = samples.main(["new", name, "--seed", "1", "--shape", "fast", "--data-root", str(data),
                         "--playbook", str(book)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("samples: error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert _folders(data, book) == []


def test_bad_seed_shape_and_folders_are_refused(roots, tmp_path):
    data, book = roots
    with pytest.raises(ConfigError, match="seed -1 must be a whole number >= 0"):
        samples.create("x", -1, "fast", data_root=data, playbook=book)
    with pytest.raises(ConfigError, match="unknown shape 'spiky'.*slow, fast, double, flop, steady"):
        samples.create("x", 1, "spiky", data_root=data, playbook=book)
    with pytest.raises(ConfigError, match="playbook folder .*nowhere does not exist.*--playbook"):
        samples.create("x", 1, "fast", data_root=data, playbook=tmp_path / "nowhere")
    assert _folders(data, book) == []


def test_an_existing_scenario_is_kept_unless_forced(roots):
    data, book = roots
    folder, spike_file = samples.create("mine", 3, "steady", data_root=data, playbook=book)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(ConfigError, match=r"scenario 'mine' exists already .*--force"):
        samples.create("mine", 4, "flop", data_root=data, playbook=book)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert "--seed 3 --shape steady" in spike_file.read_text(encoding="utf-8")
    # With --force the new one replaces it, and only it is left.
    samples.create("mine", 4, "flop", data_root=data, playbook=book, force=True)
    assert json.loads((folder / "truth.json").read_text(encoding="utf-8"))["replay"]["shape"] == "flop"
    assert "--seed 4 --shape flop" in spike_file.read_text(encoding="utf-8")
    assert _folders(data, book) == ["generated/mine", "spikes/mine.yaml"]


def test_force_never_replaces_a_spike_file_written_by_hand(roots):
    data, book = roots
    hand = book / "spikes" / "real-spike.yaml"
    hand.write_text("description: a real spike\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="was not written by `python -m spikekit.samples new`"):
        samples.create("real-spike", 1, "fast", data_root=data, playbook=book, force=True)
    assert hand.read_text(encoding="utf-8") == "description: a real spike\n"
    assert _folders(data, book) == ["spikes/real-spike.yaml"]


def test_a_failure_half_way_leaves_the_earlier_scenario_intact(roots, monkeypatch):
    data, book = roots
    folder, spike_file = samples.create("mine", 3, "steady", data_root=data, playbook=book)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    spike_text = spike_file.read_text(encoding="utf-8")
    real_write = samples._write_csv
    written = []

    def failing_write(frame, path):
        written.append(path)
        if len(written) == 5:
            raise OSError("disk full")
        real_write(frame, path)

    monkeypatch.setattr(samples, "_write_csv", failing_write)
    with pytest.raises(OSError, match="disk full"):
        samples.create("mine", 4, "fast", data_root=data, playbook=book, force=True)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert spike_file.read_text(encoding="utf-8") == spike_text
    assert _folders(data, book) == ["generated/mine", "spikes/mine.yaml"]  # no staging folder or file left


def test_a_failure_while_swapping_puts_the_earlier_scenario_back(roots, monkeypatch):
    data, book = roots
    folder, spike_file = samples.create("mine", 3, "steady", data_root=data, playbook=book)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    spike_text = spike_file.read_text(encoding="utf-8")
    real_replace = samples.os.replace

    def failing_replace(source, target):
        if Path(target) == spike_file:  # the last step: the new data folder is already in place
            raise OSError("spikes folder is read-only")
        real_replace(source, target)

    monkeypatch.setattr(samples.os, "replace", failing_replace)
    with pytest.raises(OSError, match="read-only"):
        samples.create("mine", 4, "flop", data_root=data, playbook=book, force=True)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert spike_file.read_text(encoding="utf-8") == spike_text
    assert _folders(data, book) == ["generated/mine", "spikes/mine.yaml"]


def test_cli_makes_a_scenario_and_says_where(roots, capsys):
    data, book = roots
    assert samples.main(["new", "cli-fast", "--seed", "5", "--shape", "fast", "--data-root", str(data),
                         "--playbook", str(book)]) == 0
    out = capsys.readouterr().out
    assert f"data: {data / 'generated' / 'cli-fast'}" in out and f"spike file: {book / 'spikes' / 'cli-fast.yaml'}" in out
    assert "should say go" in out
    text = (book / "spikes" / "cli-fast.yaml").read_text(encoding="utf-8")
    assert text.startswith(samples.GENERATED_SPIKE_MARKER)
    assert "  signals: generated/cli-fast/signals.csv\n" in text
    assert (data / "generated" / "cli-fast" / "truth.json").is_file()


def test_generated_scenarios_are_kept_out_of_git():
    ignored = (PROJECT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert f"data/{samples.GENERATED_DIR}/" in ignored


def test_a_generated_spike_file_is_git_ignored_once(roots):
    data, book = roots
    samples.create("mine", 3, "steady", data_root=data, playbook=book)
    samples.create("mine", 4, "flop", data_root=data, playbook=book, force=True)
    samples.create("other", 5, "steady", data_root=data, playbook=book)
    lines = (book / "spikes" / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert lines[1:] == [".gitignore", "mine.yaml", "other.yaml"]
