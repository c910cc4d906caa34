"""Chapter 12 retrospective: retention, stage timings, what worked, the pattern library, readiness."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from spikekit.chapters import retrospective as retro
from spikekit.chapters.exit import LifecyclePrior, bass_cdf, bass_from_shape, fit_bass
from spikekit.core.record import to_jsonable
from spikekit.core.stats import wilson

TZ = "Asia/Shanghai"
AS_OF = pd.Timestamp("2025-04-30 12:00", tz=TZ)
MUG = retro.SPIKE_PRODUCT


def ts(text):
    return pd.Timestamp(text, tz=TZ)


def cohort_tables():
    """Ten spike buyers b0..b9 (first orders 03-08 .. 03-17) plus one buyer before the cohort and one after as_of.

    By hand: joins within 30 days: b0, b1, b2 (b3 joins 40 days later: no; b4 joined before the first order: no);
    repurchases 24 h .. 60 days after: b0 (another product, day 10), b5 (mug again, day 30) (b6 reorders after
    12 h: no; b7 after 70 days: outside the window... and after as_of); members: b0, b1, b2, b3, b4 (b3 joined
    04-26 <= as_of); active in the 30 days to as_of: b0, b3 (b1 active 45 days ago: no; b9 active but not a member).
    """
    rows = []
    for i in range(10):
        rows.append({"order_id": f"o{i}", "timestamp": ts(f"2025-03-{8 + i:02d} 10:00"), "buyer_id": f"b{i}",
                     "product": MUG})
    rows += [
        {"order_id": "x1", "timestamp": ts("2025-03-18 10:00"), "buyer_id": "b0", "product": "猫爪杯"},
        {"order_id": "x2", "timestamp": ts("2025-04-12 09:00"), "buyer_id": "b5", "product": MUG},
        {"order_id": "x3", "timestamp": ts("2025-03-14 22:00"), "buyer_id": "b6", "product": "杯垫"},
        {"order_id": "x4", "timestamp": ts("2025-05-26 10:00"), "buyer_id": "b7", "product": "杯垫"},
        {"order_id": "early", "timestamp": ts("2025-02-01 10:00"), "buyer_id": "old", "product": MUG},
        {"order_id": "late", "timestamp": ts("2025-05-02 10:00"), "buyer_id": "new", "product": MUG},
    ]
    orders = pd.DataFrame(rows)
    members = pd.DataFrame({"buyer_id": ["b0", "b1", "b2", "b3", "b4", "old"],
                            "timestamp": [ts("2025-03-09 08:00"), ts("2025-03-09 20:00"), ts("2025-04-08 09:00"),
                                          ts("2025-04-20 10:00"), ts("2025-01-10 10:00"), ts("2025-02-02 10:00")]})
    activity = pd.DataFrame({"buyer_id": ["b0", "b1", "b3", "b9", "old"],
                             "timestamp": [ts("2025-04-25 00:00"), ts("2025-03-16 00:00"), ts("2025-04-28 00:00"),
                                           ts("2025-04-29 00:00"), ts("2025-04-29 00:00")],
                             "actions": [3, 1, 2, 5, 1]})
    return orders, members, activity


def test_retention_by_hand_on_a_ten_buyer_cohort():
    orders, members, activity = cohort_tables()
    kept = retro.retention(orders, members, activity, AS_OF, cohort_start=ts("2025-03-07 12:00"))
    assert list(kept.cohort["buyer_id"]) == [f"b{i}" for i in range(10)]
    rates = kept.rates.set_index("metric")
    # b2 joined 03-10 + 29 days: inside; b3 joined 03-11 + 40 days: outside. Every 30-day window has elapsed
    # (44-53 days of follow-up), so Kaplan-Meier is the plain share and the elapsed-only check agrees.
    assert (rates.loc["community_join", "count"], rates.loc["community_join", "base"]) == (3, 10)
    assert rates.loc["community_join", "rate"] == pytest.approx(0.3) and rates.loc["community_join", "open"] == 0
    expected = wilson(3, 10, 0.95)
    assert rates.loc["community_join", "elapsed_low"] == pytest.approx(expected.low)
    assert rates.loc["community_join", "elapsed_high"] == pytest.approx(expected.high)
    assert rates.loc["community_join", "low"] < 0.3 < rates.loc["community_join", "high"]
    # Two repurchases seen (b0, b5), but no 60-day window has elapsed by 04-30: not a rate yet.
    assert rates.loc["repurchase", "seen"] == 2 and rates.loc["repurchase", "open"] == 10
    assert rates.loc["repurchase", "status"] == "not measurable yet" and rates.loc["repurchase", "base"] == 0
    assert kept.to_dict()["repurchase"]["rate"] is None
    assert (rates.loc["member_activity", "count"], rates.loc["member_activity", "base"]) == (2, 5)


def test_retention_early_in_the_spike_has_no_joiners_or_repeaters_yet():
    """Two days in, nobody has joined or bought again: zero counts, not a crash (pandas 3 map of an empty
    datetime Series used to fail here)."""
    orders, members, activity = cohort_tables()
    early = ts("2025-03-09 07:00")  # b0 bought 03-08 10:00 and joins 03-09 08:00
    kept = retro.retention(orders, members, activity, early, cohort_start=ts("2025-03-07 12:00"))
    rates = kept.rates.set_index("metric")
    assert list(kept.cohort["buyer_id"]) == ["b0"]
    assert (rates.loc["community_join", "count"], rates.loc["repurchase", "count"]) == (0, 0)
    assert rates.loc["member_activity", "base"] == 0
    assert kept.cohort["joined"].isna().all() and str(kept.cohort["joined"].dtype) == str(kept.cohort["first_order"].dtype)
    retro.plot_retention(kept)


def test_retention_ignores_rows_after_as_of():
    orders, members, activity = cohort_tables()
    base = retro.retention(orders, members, activity, AS_OF, cohort_start=ts("2025-03-07 12:00"))
    future_orders = pd.concat([orders, pd.DataFrame([
        {"order_id": "f1", "timestamp": ts("2025-05-01 10:00"), "buyer_id": "b1", "product": "杯垫"},
        {"order_id": "f2", "timestamp": ts("2025-05-03 10:00"), "buyer_id": "zz", "product": MUG}])])
    future_members = pd.concat([members, pd.DataFrame({"buyer_id": ["b8"], "timestamp": [ts("2025-05-01 10:00")]})])
    future_activity = pd.concat([activity, pd.DataFrame({"buyer_id": ["b1"], "timestamp": [ts("2025-05-01 00:00")],
                                                         "actions": [1]})])
    later = retro.retention(future_orders, future_members, future_activity, AS_OF, cohort_start=ts("2025-03-07 12:00"))
    pd.testing.assert_frame_equal(base.rates, later.rates)


def test_retention_cohort_end_limits_the_cohort():
    orders, members, activity = cohort_tables()
    kept = retro.retention(orders, members, activity, AS_OF, ts("2025-03-07"), cohort_end=ts("2025-03-12 12:00"))
    assert list(kept.cohort["buyer_id"]) == ["b0", "b1", "b2", "b3", "b4"]


# ------------------------------------------------------------------------------------------------ stage timings


def write_run(root, spike, run_id, as_of, chapters):
    folder = root / spike / run_id
    folder.mkdir(parents=True)
    manifest = {"run_id": run_id, "spike": spike, "as_of": str(as_of), "status": "ok",
                "chapters": {cid: {"status": "ok", "results": {k: to_jsonable(v) for k, v in res.items()}}
                             for cid, res in chapters.items()}}
    (folder / "run.json").write_text(json.dumps(manifest), encoding="utf-8")
    (folder / "results").mkdir()
    for cid, res in chapters.items():
        (folder / "results" / f"{cid}.json").write_text(json.dumps({k: to_jsonable(v) for k, v in res.items()}))
    return folder


def test_stage_timings_from_two_run_records(tmp_path):
    pos = pd.DataFrame({"supplier": ["A", "B"], "units": [100, 50], "first_arrival_day": [3.0, 2.0]})
    write_run(tmp_path, "mug", "r1", ts("2025-03-08 12:00"),
              {"01": {"first_alert": ts("2025-03-07 12:00")}, "02": {"decision": "extend"}})
    write_run(tmp_path, "mug", "r2", ts("2025-03-09 12:00"),
              {"01": {"first_alert": ts("2025-03-07 12:00")}, "02": {"decision": "go"},
               "03": {"purchase_orders": pos}, "06": {"exit_decision": "hold course", "trigger_date": None}})
    write_run(tmp_path, "mug", "r3", ts("2025-03-25 12:00"),   # after as_of: ignored
              {"06": {"exit_decision": "exit", "trigger_date": ts("2025-03-20 00:00")}})
    table = retro.stage_timings(tmp_path, "mug", ts("2025-03-20 12:00"))
    t = table.set_index("stage")
    assert "r1" in t.loc["signal", "evidence"]
    assert "r2" in t.loc["confirm", "evidence"]
    assert t.loc["confirm", "days"] == pytest.approx(2.0) and t.loc["confirm", "on_time"]
    # Chapter 03's first arrival (day 2 after the 03-09 order) is a plan: not a measured shipment.
    assert t.loc["first_shipment", "status"] == "not measured" and pd.isna(t.loc["first_shipment", "days"])
    assert "2025-03-11" in t.loc["first_shipment", "reason"]
    assert t.loc["signal_to_first_shipment", "status"] == "not measured"
    assert t.loc["exit", "evidence"] == "not yet"
    assert table.attrs["source"] == "records"
    later = retro.stage_timings(tmp_path, "mug", ts("2025-03-26 12:00")).set_index("stage")
    assert "r3" in later.loc["exit", "evidence"] and later.loc["exit", "days"] == pytest.approx(12.5)
    # Orders' first shipped time wins over the chapter 03 arrival.
    # Orders placed before the go (the product's normal trickle, shipped from stock) do not count.
    orders = pd.DataFrame({"product": [MUG, MUG, MUG], "timestamp": [ts("2025-03-09 13:00"), ts("2025-03-10 08:00"),
                                                                     ts("2025-03-08 10:00")],
                           "shipped": [ts("2025-03-13 09:00"), pd.NaT, ts("2025-03-08 11:00")]})
    with_orders = retro.stage_timings(tmp_path, "mug", ts("2025-03-20 12:00"), orders=orders).set_index("stage")
    assert with_orders.loc["first_shipment", "days"] == pytest.approx(3.875, abs=0.01)
    assert with_orders.loc["first_shipment", "on_time"] is False or not with_orders.loc["first_shipment", "on_time"]


def test_stage_timings_fall_back_to_upstream_values(tmp_path):
    fallback = {"first_alert": ts("2025-03-07 12:00"), "decision": "go", "exit_decision": "hold course"}
    table = retro.stage_timings(tmp_path, "none-here", ts("2025-03-20 12:00"), fallback=fallback)
    t = table.set_index("stage")
    assert table.attrs["source"] == "fallback"
    # The signal is shown, the go's time is not assumed: nothing here is timed.
    assert t.loc["signal", "time"].startswith("2025-03-07 12:00") and not t.loc["signal", "measured"]
    assert "standalone" in t.loc["confirm", "evidence"] and t.loc["confirm", "time"] is None
    assert t.loc["confirm", "status"] == "not measured" and "confirm not known" in t.loc["confirm", "reason"]


# ------------------------------------------------------------------------------------------------ what worked


def test_what_worked_by_format_and_supplier():
    posts = pd.DataFrame({"timestamp": [ts("2025-03-09 10:00")] * 3 + [ts("2025-05-09 10:00")],
                          "format": ["scenario", "unboxing", "scenario", "unboxing"],
                          "views": [1000, 2000, 1000, 100000], "orders": [10, 4, 6, 5000]})
    content = retro.content_worked(posts=posts, as_of=ts("2025-04-30 12:00"))
    assert list(content["format"]) == ["scenario", "unboxing"]
    assert content["per_1000"].tolist() == pytest.approx([8.0, 2.0])
    inspections = pd.DataFrame({"supplier": ["A", "A", "B"], "timestamp": [ts("2025-03-12 10:00")] * 3,
                                "inspected": [50, 50, 80], "defects": [1, 1, 8]})
    pos = pd.DataFrame({"supplier": ["A", "B"], "units": [300, 100]})
    supply = retro.supply_worked(pos, inspections, ts("2025-04-30 12:00"),
                                 suppliers=pd.DataFrame({"supplier": ["A", "B"], "reliability": [0.96, 0.8]}))
    assert list(supply["supplier"]) == ["A", "B"]
    assert supply["defect_rate"].tolist() == pytest.approx([0.02, 0.1])
    assert supply["on_time_share"].tolist() == pytest.approx([0.96, 0.8])


# ------------------------------------------------------------------------------------------------ patterns


def bass_sales(takeoff, peak_day, life_days, m=2000.0, days=30, baseline=5.0):
    p, q = bass_from_shape(peak_day, life_days)
    ends = pd.date_range(pd.Timestamp(takeoff).normalize() - pd.Timedelta(days=40), periods=days + 41, freq="D")
    t = ((ends - pd.Timestamp(takeoff)) / pd.Timedelta(days=1)).to_numpy()
    spike = m * (bass_cdf(t, p, q) - bass_cdf(t - 1, p, q))
    return pd.DataFrame({"timestamp": ends, "orders": np.round(baseline + spike), "price": 39.0})


def test_spike_shape_is_normalised_and_padded():
    sales = bass_sales(ts("2025-03-07 12:00"), 6.0, 9.0)
    full = retro.spike_shape(sales, ts("2025-03-07 12:00"), ts("2025-04-30 12:00"), days=21)
    assert len(full) == 21 and np.isfinite(full).all() and full.max() == pytest.approx(1.0)
    assert np.argmax(full) + 1 in (6, 7)
    early = retro.spike_shape(sales, ts("2025-03-07 12:00"), ts("2025-03-12 12:00"), days=21)
    # Days ending 03-08 .. 03-12 are known (the day of the takeoff is day 1).
    assert np.isfinite(early).sum() == 5 and np.isnan(early[5:]).all()


def shape_entry(name, values, as_of="2024-06-01 12:00", peak=6.0, life=9.0):
    return {"spike": name, "as_of": as_of, "takeoff": None, "peak_day": peak, "life_days": life, "m": None,
            "p": None, "q": None, "shape": list(values), "source": "test", "label": name}


def test_nearest_prefers_a_shifted_copy_to_a_different_shape():
    days = np.arange(1, 22)
    base = np.exp(-0.5 * ((days - 6) / 2.0) ** 2)
    shifted = np.exp(-0.5 * ((days - 7) / 2.0) ** 2)
    slow = np.exp(-0.5 * ((days - 12) / 5.0) ** 2)
    library = pd.DataFrame([shape_entry("shifted", shifted), shape_entry("slow", slow)])
    near = retro.nearest(library, base, k=3)
    assert list(near["spike"]) == ["shifted", "slow"]
    assert near["distance"].iloc[0] < near["distance"].iloc[1]
    # RMS over the overlap only: a history of 5 known days compares on 5 days.
    partial = np.where(days <= 5, base, np.nan)
    near5 = retro.nearest(library, partial, k=1)
    assert near5["overlap_days"].iloc[0] == 5
    assert near5["distance"].iloc[0] == pytest.approx(float(np.sqrt(np.mean((base[:5] - shifted[:5]) ** 2))))


def test_library_time_discipline_and_latest_entry(tmp_path):
    seeds = tmp_path / "patterns"
    seeds.mkdir()
    (seeds / "a.json").write_text(json.dumps(shape_entry("a", [0.5, 1.0], "2024-05-01 12:00")))
    (seeds / "b.json").write_text(json.dumps(shape_entry("b", [1.0, 0.5], "2025-06-01 12:00")))
    records = tmp_path / "records"
    for run_id, as_of, peak in (("r1", "2025-03-20 12:00+08:00", 5.0), ("r2", "2025-04-10 12:00+08:00", 7.0),
                                ("r3", "2025-05-20 12:00+08:00", 9.0)):
        write_run(records, "mug", run_id, as_of,
                  {"12": {"pattern_entry": shape_entry("mug", [0.2, 1.0], as_of, peak=peak, life=12.0)}})
    library = retro.load_library(records, seeds, before=ts("2025-04-30 12:00"), min_days=2)
    assert list(library["spike"]) == ["a", "mug"]           # b is later than before: ignored
    assert library.set_index("spike").loc["mug", "peak_day"] == 7.0   # r2, not the later r3
    assert list(retro.load_library(records, seeds, before=ts("2025-04-30 12:00"), exclude_spike="mug",
                                   min_days=2)["spike"]) == ["a"]
    assert len(retro.load_library(records, seeds, min_days=2)) == 3
    # Entries knowing fewer days than min_days (the spike was still rising) are left out.
    assert len(retro.load_library(records, seeds)) == 0


def test_priors_shrink_with_one_spike_and_follow_many():
    default = LifecyclePrior()
    one = pd.DataFrame([shape_entry("x", [1.0], peak=9.0, life=15.0)])
    prior1, evidence = retro.priors_from_library(one, default, min_spikes=2)
    # weight 1/3: 6 + (9 - 6)/3 = 7, 9 + (15 - 9)/3 = 11
    assert prior1.peak_day == pytest.approx(7.0) and prior1.life_days == pytest.approx(11.0)
    assert evidence.attrs["n_spikes"] == 1
    many = pd.DataFrame([shape_entry(f"s{i}", [1.0], peak=9.0 + (i % 2), life=15.0 + (i % 2)) for i in range(40)])
    prior40, _ = retro.priors_from_library(many, default, min_spikes=2)
    assert prior40.peak_day == pytest.approx(9.5, abs=0.2) and prior40.life_days == pytest.approx(15.5, abs=0.4)
    assert prior40.peak_day_sd >= 1.0   # the floor
    empty, _ = retro.priors_from_library(None, default)
    assert (empty.peak_day, empty.life_days) == (default.peak_day, default.life_days)


def test_long_lived_library_moves_the_prior_and_the_fit():
    long_lived = pd.DataFrame([shape_entry(f"long{i}", [1.0], peak=8.0, life=20.0) for i in range(6)])
    prior, _ = retro.priors_from_library(long_lived, LifecyclePrior())
    assert prior.life_days > LifecyclePrior().life_days + 5
    sales = bass_sales(ts("2025-03-07 12:00"), 6.0, 9.0)
    as_of = ts("2025-03-10 12:00")   # three days of data: the prior carries the shape
    handbook_fit = fit_bass(sales, as_of, LifecyclePrior(), takeoff=ts("2025-03-07 12:00"), runs=200)
    library_fit = fit_bass(sales, as_of, prior, takeoff=ts("2025-03-07 12:00"), runs=200)
    assert library_fit.end_date > handbook_fit.end_date
    # The fitted curve's peak moves; the peak-day point of a series still at its best follows the rise's own pace
    # (the same sales give the same point), so it is not asserted here.
    assert library_fit.peak_day > handbook_fit.peak_day


def test_seed_entries_are_synthetic_and_load(tmp_path):
    paths = retro.write_seeds(tmp_path)
    assert len(paths) >= 2
    library = retro.load_library(None, tmp_path, before=ts("2025-03-09 12:00"))
    assert len(library) == len(paths)
    assert all("SYNTHETIC" in label for label in library["label"])
    row = library.set_index("spike").loc["phone-stand-2024"]
    assert row["peak_day"] == pytest.approx(5.0) and row["life_days"] == pytest.approx(8.5)


def test_pattern_entry_without_fit_reads_the_shape():
    entry = retro.pattern_entry("x", [0.2, 0.6, 1.0, 0.5, 0.2, 0.0, float("nan")], None, ts("2025-04-30 12:00"))
    assert entry["peak_day"] == 3.0
    assert entry["shape"][-1] is None
    assert entry["life_days"] == 5.0   # cumulative 0.2 0.8 1.8 2.3 2.5: 95% of 2.5 reached on day 5


# ------------------------------------------------------------------------------------------------ readiness


def test_readiness_on_hand_built_inputs(tmp_path):
    playbook = tmp_path / "playbook.yaml"
    playbook.write_text('format: x\nsop_version: "1.2"\n')
    library = library_rows(("a", "record", True), ("b", "record", True))   # two completed past spikes
    suppliers = pd.DataFrame({"supplier": ["A", "B"], "daily_capacity": [150, 100]})
    warehouses = pd.DataFrame({"warehouse": ["W"], "capacity_per_day": [180]})
    cash = pd.DataFrame({"item": ["cash_on_hand", "cash_floor"], "amount": [50000.0, 5000.0]})
    table = retro.readiness(playbook_file=playbook, library=library, suppliers=suppliers, warehouses=warehouses,
                            peak_daily_orders=100, cash=cash, unit_cost=12.0)
    got = dict(zip(table["item"], table["passed"]))
    # 2 x 100 = 200 > warehouse 180: fails; spare 1 - 100/250 = 0.6 >= 0.3; cash 45,000 vs 4 x 100 x 12 x 7 = 33,600.
    assert got == {"SOP version": True, "spikes modelled": True, "2 spikes at once": False,
                   "elastic capacity": True, "cash for +300% orders": True}
    assert table.set_index("item").loc["elastic capacity", "figure"] == pytest.approx(0.6)
    assert retro.readiness_score(table) == "4/5"
    playbook.write_text("format: x\n")
    missing = retro.readiness(playbook_file=playbook, library=library.head(1), stress_ok=False)
    rows = missing.set_index("item")
    assert not rows.loc["SOP version", "passed"] and "sop_version" in rows.loc["SOP version", "evidence"]
    assert not rows.loc["spikes modelled", "passed"]
    assert not rows.loc["cash for +300% orders", "passed"]


def test_sop_markdown_names_version_and_measured_days(tmp_path):
    write_run(tmp_path, "mug", "r1", ts("2025-03-09 12:00"),
              {"01": {"first_alert": ts("2025-03-07 12:00")}, "02": {"decision": "go"}})
    timings = retro.stage_timings(tmp_path, "mug", ts("2025-03-20 12:00"))
    text = retro.sop_markdown(timings, "1.0", "mug", ts("2025-03-20 12:00"))
    assert text.startswith("# Spike SOP v1.0")
    assert "2.0 days (on time)" in text
    assert "| First shipments out | 3 days after go | not measured |" in text


def test_presale_orders_shipped_and_time_discipline(tmp_path):
    write_run(tmp_path, "mug", "r1", ts("2025-03-09 12:00"),
              {"01": {"first_alert": ts("2025-03-07 12:00")}, "02": {"decision": "go"}})
    fallback = None
    orders = pd.DataFrame({"product": [MUG] * 4 + ["杯垫"],
                           "timestamp": [ts("2025-03-07 13:00"), ts("2025-03-08 09:00"), ts("2025-03-09 13:00"),
                                         ts("2025-03-01 10:00"), ts("2025-03-08 10:00")],
                           "shipped": [ts("2025-03-08 10:00"), ts("2025-03-11 18:00"), ts("2025-03-09 15:00"),
                                       ts("2025-03-01 12:00"), ts("2025-03-20 10:00")]})
    t = retro.stage_timings(tmp_path, "mug", ts("2025-03-20 12:00"), fallback=fallback, orders=orders).set_index("stage")
    # Pre-sale orders: placed 03-07 12:00 .. 03-09 12:00; the last left 03-11 18:00 = 4.25 days after the signal.
    assert t.loc["presale_shipped", "days"] == pytest.approx(4.25) and t.loc["presale_shipped", "on_time"]
    assert t.loc["first_shipment", "days"] == pytest.approx(0.125, abs=0.01)   # go 12:00 -> first shipment 15:00
    # As of 03-10 12:00 one pre-sale order is still waiting: no time, the evidence says so.
    early = retro.stage_timings(tmp_path, "mug", ts("2025-03-10 12:00"), fallback=fallback, orders=orders).set_index("stage")
    assert early.loc["presale_shipped", "time"] is None and "not shipped" in early.loc["presale_shipped", "evidence"]


@pytest.mark.parametrize("scenario", ["starry-mug", "fast-fade", "false-alarm"])
def test_retention_reproduces_the_sample_truth(scenario):
    from spikekit.inputs import contracts
    from spikekit.core.paths import data_root

    truth = json.loads((data_root() / "samples" / scenario / "truth.json").read_text(encoding="utf-8"))["retention"]
    folder = f"samples/{scenario}"
    kept = retro.retention(contracts.load_orders(f"{folder}/orders.csv", tz=TZ),
                           contracts.load_members(f"{folder}/members.csv", tz=TZ),
                           contracts.load_member_activity(f"{folder}/member_activity.csv", tz=TZ),
                           ts(truth["as_of"]), ts(truth["cohort_start"]))
    rates = kept.rates.set_index("metric")
    assert len(kept.cohort) == truth["cohort_size"]
    # The truth counts every join / repurchase seen by as_of over the whole cohort (open windows included).
    for metric in ("community_join", "repurchase"):
        assert (rates.loc[metric, "seen"], len(kept.cohort)) == (truth[metric]["count"], truth[metric]["of"])
    active = truth["member_monthly_activity"]
    assert (rates.loc["member_activity", "count"], rates.loc["member_activity", "base"]) == (active["count"], active["of"])
    # As of 04-30 no buyer of the cohort (from the takeoff in early March) has had 60 days yet.
    assert rates.loc["repurchase", "status"] == "not measurable yet"


def test_cli_lists_the_library(tmp_path, capsys):
    from spikekit import cli

    records = tmp_path / "records"
    write_run(records, "mug", "r1", "2025-04-30 12:00+08:00",
              {"12": {"pattern_entry": shape_entry("mug", [0.2, 1.0] + [0.5] * 12, "2025-04-30 12:00+08:00",
                                                   peak=6.5, life=13.5)}})
    assert cli.main(["patterns", "--records", str(records)]) == 0
    out = capsys.readouterr().out
    assert "mug" in out and "13.5" in out and "phone-stand-2024" in out


def test_stages_missing_from_records_come_from_this_runs_upstream(tmp_path):
    write_run(tmp_path, "mug", "r1", ts("2025-03-09 12:00"),
              {"01": {"first_alert": ts("2025-03-07 12:00")}, "02": {"decision": "go"}})
    fallback = {"first_alert": ts("2025-03-07 12:00"), "decision": "go", "exit_decision": "exit",
                "trigger_date": ts("2025-03-18 00:00")}
    t = retro.stage_timings(tmp_path, "mug", ts("2025-04-30 12:00"), fallback=fallback).set_index("stage")
    assert "r1" in t.loc["confirm", "evidence"] and t.loc["confirm", "measured"]
    # This run's own exit call is shown, but no record holds it yet: not measured.
    assert "this run" in t.loc["exit", "evidence"] and t.loc["exit", "time"].startswith("2025-03-18")
    assert t.loc["exit", "status"] == "not measured" and pd.isna(t.loc["exit", "days"])


def test_committed_seed_files_match_their_generator():
    from spikekit.core.paths import playbook_dir

    for entry in retro.seed_entries():
        stored = json.loads((playbook_dir() / "patterns" / f"{entry['spike']}.json").read_text(encoding="utf-8"))
        assert stored == entry, "regenerate with: python -m spikekit.chapters.retrospective --write-seeds"


def test_retrospective_is_interim_until_the_spike_has_exited(tmp_path):
    entry = retro.pattern_entry("mug", [0.2, 1.0, 0.5], None, ts("2025-03-14 12:00"))
    added, note = retro.library_entry(entry, "rising")
    assert added is None and note.startswith("not added to the pattern library: the spike is rising")
    added, note = retro.library_entry(entry, "exited")
    assert added == entry and note == "added to the pattern library: the spike has exited"
    assert retro.library_entry(None, "exited")[0] is None
    assert retro.library_entry(entry, "no-go")[0] is None  # a no-go is final, but its flat shape teaches nothing
    assert retro.is_interim("declining") and retro.is_interim(None) and not retro.is_interim("exited")
    assert not retro.is_interim("no-go")
    ready = pd.DataFrame({"item": ["SOP version"], "passed": [True], "figure": ["1.0"], "threshold": ["set"]})
    timings = pd.DataFrame({"stage": ["signal"], "on_time": [None]})
    verdict, reasons = retro.decide(ready, timings, "declining")
    assert verdict == "ready for the next spike" and reasons[0].startswith("INTERIM: the spike is declining")
    assert not retro.decide(ready, timings, "exited")[1][0].startswith("INTERIM")
    kept = retro.Retention(cohort=pd.DataFrame(), rates=pd.DataFrame(), as_of=ts("2025-03-14 12:00"),
                           cohort_start=ts("2025-03-07 12:00"), cohort_end=ts("2025-03-14 12:00"), conf=0.95)
    near = pd.DataFrame(columns=["spike"])
    assert retro.headline(verdict, kept, ready, near, "peak").startswith("Retro (INTERIM, spike peak): READY FOR")
    assert "; readiness 1/1" in retro.headline(verdict, kept, ready, near, "peak")
    assert retro.headline(verdict, kept, ready, near, "exited").startswith("Retro: READY FOR")


# ------------------------------------------------------------------------------------------------ issue 14: censoring,
# real spikes only, measured stages only


def censored_cohort():
    """Ten first-time buyers c0..c9, as of AS_OF, 60-day repurchase window.

    Follow-up (days from the first order to as_of): c0 70, c1 65 (both windows elapsed), c2 50, c3 45, c4 40,
    c5 35, c6 28, c7 18, c8 10, c9 5 (still open). Repurchases: c0 on day 20 (elapsed: counts), c2 on day 30
    (open: seen, but its window has not elapsed).
    """
    follow = [70, 65, 50, 45, 40, 35, 28, 18, 10, 5]
    rows = [{"order_id": f"o{i}", "timestamp": AS_OF - pd.Timedelta(days=d), "buyer_id": f"c{i}", "product": MUG}
            for i, d in enumerate(follow)]
    rows += [{"order_id": "r0", "timestamp": AS_OF - pd.Timedelta(days=70 - 20), "buyer_id": "c0", "product": "杯垫"},
             {"order_id": "r2", "timestamp": AS_OF - pd.Timedelta(days=50 - 30), "buyer_id": "c2", "product": "杯垫"}]
    members = pd.DataFrame({"buyer_id": pd.Series([], dtype=str), "timestamp": pd.Series([], dtype=f"datetime64[ns, {TZ}]")})
    activity = pd.DataFrame({"buyer_id": pd.Series([], dtype=str), "timestamp": pd.Series([], dtype=f"datetime64[ns, {TZ}]"),
                             "actions": pd.Series([], dtype=int)})
    return pd.DataFrame(rows), members, activity


def test_repurchase_counts_only_elapsed_windows_and_km_by_hand():
    orders, members, activity = censored_cohort()
    kept = retro.retention(orders, members, activity, AS_OF, cohort_start=AS_OF - pd.Timedelta(days=80))
    row = kept.rates.set_index("metric").loc["repurchase"]
    # Elapsed-only check: c0 and c1 have had their whole 60 days; c0 bought again: 1 of 2, 8 still open.
    assert (row["count"], row["base"], row["open"]) == (1, 2, 8)
    assert row["elapsed_rate"] == pytest.approx(0.5)
    assert row["seen"] == 2   # c2's repurchase is seen, but its window is open: not in the elapsed-only base
    # Kaplan-Meier by hand: at day 20 seven at risk (c0 c1 c2 c3 c4 c5 c6), one event: S = 6/7; at day 30 five at
    # risk (c1 c2 c3 c4 c5; c6 left at 28), one event: S = 6/7 x 4/5 = 24/35; repurchase by day 60 = 11/35.
    assert row["status"] == "measured" and row["method"].startswith("Kaplan-Meier")
    assert row["rate"] == pytest.approx(11 / 35)
    # Greenwood: var S = S^2 (1/(7 x 6) + 1/(5 x 4)); the interval is log(-log S) based, so it stays in [0, 1].
    from scipy.stats import norm

    s, total = 24 / 35, 1 / 42 + 1 / 20
    z = norm.ppf(0.975)
    se = np.sqrt(total) / abs(np.log(s))
    assert row["low"] == pytest.approx(1 - s ** np.exp(-z * se))
    assert row["high"] == pytest.approx(1 - s ** np.exp(z * se))
    assert 0 < row["low"] < row["rate"] < row["high"] < 1
    assert kept.to_dict()["repurchase"]["open"] == 8


def test_km_estimate_by_hand_without_ties():
    km = retro.kaplan_meier([20, 60, 30, 45, 40, 35, 28, 18, 10, 5],
                            [True, False, True, False, False, False, False, False, False, False], at=60)
    assert km.survival == pytest.approx(24 / 35)
    assert km.greenwood == pytest.approx((24 / 35) ** 2 * (1 / 42 + 1 / 20))
    assert km.reachable
    assert not retro.kaplan_meier([5, 10], [True, False], at=60).reachable


def test_rates_with_no_elapsed_window_are_not_measurable_yet():
    """2.5 days after the first orders a 60-day repurchase (and a 30-day join) is not a number."""
    orders, members, activity = censored_cohort()
    early = AS_OF - pd.Timedelta(days=62.5)   # c0 bought 7.5 days before, c1 2.5 days before
    kept = retro.retention(orders, members, activity, early, cohort_start=AS_OF - pd.Timedelta(days=80))
    rates = kept.rates.set_index("metric")
    for metric in ("repurchase", "community_join"):
        assert rates.loc[metric, "status"] == "not measurable yet"
        assert pd.isna(rates.loc[metric, "rate"]) and rates.loc[metric, "base"] == 0
        assert rates.loc[metric, "open"] == 2
    assert kept.to_dict()["repurchase"]["rate"] is None
    ready = pd.DataFrame({"item": ["SOP version"], "passed": [True], "status": ["passed"], "figure": ["1.0"],
                          "threshold": ["set"]})
    text = retro.headline("not ready", kept, ready, pd.DataFrame(columns=["spike"]), "rising")
    assert "repurchase not measurable yet" in text and "INTERIM" in text
    retro.plot_retention(kept)


def library_rows(*rows):
    """Library rows as load_library returns them: (spike, kind, exited)."""
    return pd.DataFrame([{**shape_entry(spike, [1.0]), "kind": kind, "exited": exited} for spike, kind, exited in rows])


READY_TABLES = dict(suppliers=pd.DataFrame({"supplier": ["A", "B"], "daily_capacity": [150, 100]}),
                    warehouses=pd.DataFrame({"warehouse": ["W"], "capacity_per_day": [300]}),
                    cash=pd.DataFrame({"item": ["cash_on_hand", "cash_floor"], "amount": [50000.0, 5000.0]}),
                    unit_cost=12.0)


def test_seed_spikes_and_the_spike_under_review_do_not_count_as_modelled():
    library = library_rows(("phone-stand-2024", "seed", False), ("lip-oil-2024", "seed", False),
                           ("mug", "record", True), ("kettle", "record", False), ("lamp", "record", True))
    table = retro.readiness(sop_version="1.0", library=library, spike="mug", phase="exited",
                            peak_daily_orders=100, **READY_TABLES).set_index("item")
    # Only lamp: a recorded past spike with a completed exit (the seeds are synthetic, kettle never exited, mug
    # is the spike under review).
    assert table.loc["spikes modelled", "figure"] == 1
    assert table.loc["spikes modelled", "status"] == "failed"
    assert "lamp" in table.loc["spikes modelled", "evidence"]
    two = library_rows(("lamp", "record", True), ("desk", "record", True))
    assert retro.readiness(sop_version="1.0", library=two, spike="mug", phase="exited", peak_daily_orders=100,
                           **READY_TABLES).set_index("item").loc["spikes modelled", "status"] == "passed"


def test_spikes_at_once_waits_for_the_realised_peak():
    library = library_rows(("lamp", "record", True), ("desk", "record", True))
    before = retro.readiness(sop_version="1.0", library=library, spike="mug", phase="peak", peak_daily_orders=100,
                             **READY_TABLES).set_index("item")
    assert before.loc["2 spikes at once", "status"] == "not yet known"
    assert before.loc["elastic capacity", "status"] == "not yet known"
    assert not before.loc["2 spikes at once", "passed"]
    after = retro.readiness(sop_version="1.0", library=library, spike="mug", phase="exited", peak_daily_orders=100,
                            **READY_TABLES)
    assert after.set_index("item").loc["2 spikes at once", "status"] == "passed"
    assert retro.readiness_score(after) == "5/5"
    assert retro.readiness_score(before.reset_index()).endswith("not yet known")
    verdict, _ = retro.decide(before.reset_index(), pd.DataFrame({"stage": [], "on_time": []}), "peak")
    assert verdict == "not yet known"


def test_a_no_go_spike_scores_not_applicable():
    library = library_rows(("lamp", "record", True), ("desk", "record", True))
    table = retro.readiness(sop_version="1.0", library=library, spike="mug", phase="no-go", peak_daily_orders=6,
                            **READY_TABLES)
    assert retro.readiness_score(table) == "N/A (no-go)"
    rows = table.set_index("item")
    assert rows.loc["2 spikes at once", "status"] == "n/a" and rows.loc["elastic capacity", "status"] == "n/a"
    assert rows.loc["cash for +300% orders", "status"] == "n/a"
    verdict, reasons = retro.decide(table, pd.DataFrame({"stage": [], "on_time": []}), "no-go")
    assert verdict == "n/a (no-go)" and "5/5" not in " ".join(reasons)
    # Chapter 02's no-go counts even when the phase is not given.
    by_decision = retro.readiness(sop_version="1.0", library=library, spike="mug", validation_decision="no-go",
                                  peak_daily_orders=6, **READY_TABLES)
    assert retro.readiness_score(by_decision) == "N/A (no-go)"


def test_a_stage_with_a_planned_or_assumed_event_is_not_measured(tmp_path):
    pos = pd.DataFrame({"supplier": ["A"], "units": [100], "first_arrival_day": [2.0]})
    write_run(tmp_path, "mug", "r1", ts("2025-03-09 12:00"),
              {"01": {"first_alert": ts("2025-03-07 12:00")}, "02": {"decision": "go"}, "03": {"purchase_orders": pos}})
    t = retro.stage_timings(tmp_path, "mug", ts("2025-03-20 12:00")).set_index("stage")
    assert t.loc["confirm", "status"] == "on time"           # both ends from run records
    # Chapter 03's first arrival is a plan: the first shipment is not measured.
    assert t.loc["first_shipment", "status"] == "not measured" and pd.isna(t.loc["first_shipment", "on_time"])
    assert "planned" in t.loc["first_shipment", "reason"]
    # A go whose time is assumed (no run record says when) is not measured either, nor what starts from it.
    fallback = {"first_alert": ts("2025-03-07 12:00"), "decision": "go"}
    alone = retro.stage_timings(tmp_path / "none", "mug", ts("2025-03-20 12:00"), fallback=fallback).set_index("stage")
    assert alone.loc["confirm", "status"] == "not measured" and pd.isna(alone.loc["confirm", "days"])
    assert pd.isna(alone.loc["confirm", "on_time"])
    # Measured receipts from the ledger time the first shipment when the orders table has no shipped times.
    receipts = pd.DataFrame({"po_id": ["P1"], "received_at": [ts("2025-03-11 10:00")], "units": [100]})
    got = retro.stage_timings(tmp_path, "mug", ts("2025-03-20 12:00"), receipts=receipts).set_index("stage")
    assert got.loc["first_shipment", "status"] == "on time"
    assert got.loc["first_shipment", "days"] == pytest.approx(1.92, abs=0.01)


def test_library_marks_seeds_and_completed_exits(tmp_path):
    seeds = tmp_path / "patterns"
    retro.write_seeds(seeds)
    records = tmp_path / "records"
    long = [0.2, 1.0] + [0.5] * 12
    write_run(records, "lamp", "r1", "2025-01-30 12:00+08:00",
              {"12": {"pattern_entry": shape_entry("lamp", long, "2025-01-30 12:00+08:00"), "phase": "exited",
                      "interim": False}})
    write_run(records, "kettle", "r2", "2025-02-10 12:00+08:00",   # an entry recorded before the exit gate
              {"12": {"pattern_entry": shape_entry("kettle", long, "2025-02-10 12:00+08:00"), "phase": "peak",
                      "interim": True}})
    library = retro.load_library(records, seeds).set_index("spike")
    assert library.loc["phone-stand-2024", "kind"] == "seed" and not library.loc["phone-stand-2024", "exited"]
    assert library.loc["lamp", "kind"] == "record" and library.loc["lamp", "exited"]
    assert not library.loc["kettle", "exited"]
    real, left_out = retro.modelled_spikes(library.reset_index(), spike="lamp")
    assert real.empty and any("lamp" in why for why in left_out)
    assert list(retro.modelled_spikes(library.reset_index(), spike="mug")[0]["spike"]) == ["lamp"]
