"""The spike's state as of T: ledger time discipline, stock position, phase, order increment, contradictions."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from spikekit.inputs import state
from spikekit.core.errors import InputError
from spikekit.core.record import to_jsonable

TZ = "Asia/Shanghai"


def _write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.csv").write_text(text.strip() + "\n", encoding="utf-8")


@pytest.fixture()
def ledger_root(tmp_path) -> Path:
    folder = tmp_path / "ledger" / "demo"
    _write(folder, "purchase_orders", """
po_id,supplier,units,unit_cost,placed_at,expected_arrival,cancelled_at,source_run
PO-1,甲厂,100,12,2025-03-09 20:00,2025-03-12 10:00,,
PO-2,乙厂,60,14,2025-03-09 20:00,2025-03-13 10:00,2025-03-11 09:00,
PO-3,甲厂,200,12,2025-03-12 08:00,2025-03-16 10:00,,
""")
    _write(folder, "receipts", """
po_id,received_at,units
PO-1,2025-03-12 11:00,90
""")
    _write(folder, "stock_counts", """
counted_at,on_hand
2025-03-08 00:00,40
2025-03-13 00:00,25
""")
    _write(folder, "approvals", """
approval_id,approved_at,by,run_id,chapter,kind,item,units,amount,detail
A-1,2025-03-09 20:00,ops lead,r1,08,content_kit,level-1 kit,0,0,
A-2,2025-03-20 09:00,ops lead,r9,06,exit,exit,0,0,
""")
    return tmp_path


def _sales(days: dict[str, int]) -> pd.DataFrame:
    """Daily sales rows stamped at the end of the day counted, as the sales table is."""
    stamps = [pd.Timestamp(d, tz=TZ) + pd.Timedelta(days=1) for d in days]
    return pd.DataFrame({"timestamp": pd.DatetimeIndex(stamps), "orders": list(days.values()),
                         "price": [49.0] * len(days)})


def test_ledger_as_of_ignores_later_entries(ledger_root):
    full = state.load_ledger("ledger/demo", tz=TZ, data_root=ledger_root)
    assert len(full.purchase_orders) == 3 and len(full.approvals) == 2
    early = full.as_of("2025-03-10 12:00")
    assert list(early.purchase_orders["po_id"]) == ["PO-1", "PO-2"]  # PO-3 placed on 03-12
    assert early.receipts.empty and list(early.stock_counts["on_hand"]) == [40]
    assert list(early.approvals["kind"]) == ["content_kit"]  # the exit comes on 03-20
    # PO-2's cancellation on 03-11 is not known on 03-10: it still stands then.
    assert early.purchase_orders.set_index("po_id").loc["PO-2", "cancelled"] is pd.NaT
    orders = state.open_orders(full, "2025-03-10 12:00")
    assert dict(zip(orders["po_id"], orders["units_open"])) == {"PO-1": 100, "PO-2": 60}
    later = state.open_orders(full, "2025-03-12 12:00")
    # PO-1 received 90 of 100 (10 still open); PO-2 cancelled; PO-3 placed.
    assert dict(zip(later["po_id"], later["units_open"])) == {"PO-1": 10, "PO-3": 200}
    assert bool(later.set_index("po_id").loc["PO-1", "overdue"])  # its expected day has passed


def test_absent_ledger_is_empty_and_receipt_of_unknown_order_is_refused(tmp_path):
    empty = state.load_ledger("ledger/none", tz=TZ, data_root=tmp_path)
    assert empty.purchase_orders.empty and empty.approvals.empty
    folder = tmp_path / "ledger" / "bad"
    _write(folder, "receipts", "po_id,received_at,units\nPO-9,2025-03-12 11:00,5")
    with pytest.raises(InputError) as err:
        state.load_ledger("ledger/bad", tz=TZ, data_root=tmp_path)
    assert "receipts.csv" in str(err.value) and "po_id" in str(err.value) and "row 2" in str(err.value)


def test_position_hand_case(ledger_root):
    """Count 40 at 03-08 00:00; sales 30, 30, 30 on 03-08..03-10, 10 a day after; 90 received 03-12."""
    ledger = state.load_ledger("ledger/demo", tz=TZ, data_root=ledger_root)
    sales = _sales({"2025-03-08": 30, "2025-03-09": 30, "2025-03-10": 30, "2025-03-11": 10, "2025-03-12": 10})
    pos = state.position(ledger, sales, "2025-03-11 00:00")
    # 40 on hand: 30 ship on 03-08, 10 on 03-09 with 20 waiting, then 30 more wait on 03-10.
    assert (pos.on_hand, pos.backlog, pos.sold_since) == (0, 50, 90)
    assert pos.on_order == 160  # PO-1 100 + PO-2 60 (cancelled only on 03-11 09:00)
    assert pos.available == 110
    assert pos.sold_out_days() == set()  # the shop pre-sells: the sales table is the demand
    # A shop that stops selling at zero: nothing waits, and the days that ended empty are censored demand.
    lost = state.position(ledger, sales, "2025-03-11 00:00", backorders=False)
    assert (lost.on_hand, lost.backlog) == (0, 0)
    assert {d.strftime("%m-%d") for d in lost.sold_out_days()} == {"03-09", "03-10"}
    # On 03-12 at noon the latest count is still 03-08's (the 03-13 count is not known); 03-11 adds 10 to the
    # backlog (60), the 90 received on 03-12 fill it first; 03-12's own row ends at midnight and is not known.
    # On order: PO-1's last 10, PO-3 (placed 08:00); PO-2 was cancelled at 03-11 09:00.
    pos = state.position(ledger, sales, "2025-03-12 12:00")
    assert (pos.on_hand, pos.backlog, pos.on_order) == (30, 0, 210)
    # The 03-13 count restarts the position; no sales row after it is known yet.
    pos = state.position(ledger, sales, "2025-03-14 00:00")
    assert pos.count_at == pd.Timestamp("2025-03-13 00:00", tz=TZ) and pos.counted == 25
    assert pos.sold_since == 0 and pos.on_hand == 25 and pos.on_order == 200 + 10


def test_position_falls_back_to_the_stock_table_when_the_ledger_has_no_count():
    ledger = state.Ledger.empty(TZ)
    sales = _sales({"2025-03-08": 12, "2025-03-09": 12})
    pos = state.position(ledger, sales, "2025-03-10 00:00", fallback_on_hand=40, fallback_at="2025-03-08 12:00")
    # Half of 03-08 (6 units) and all of 03-09 (12) were sold after the count.
    assert pos.sold_since == pytest.approx(18.0)
    assert pos.on_hand == 22 and pos.backlog == 0
    assert any("stock table" in n for n in pos.notes)


def test_order_increment_hand_case():
    inc = state.order_increment(demand_over_window=300, backlog=20, on_hand=80, on_order=150, phase="rising",
                                window_days=5)
    assert (inc.units, inc.need, inc.net) == (90, 320, 90)
    capped = state.order_increment(demand_over_window=300, backlog=20, on_hand=80, on_order=150, phase="launching",
                                   confirmed=False, first_order_cap=33)
    assert capped.units == 33 and capped.capped_by == "first order"
    cash = state.order_increment(demand_over_window=300, backlog=20, on_hand=80, on_order=150, phase="rising",
                                 cash_cap_units=70.4)
    assert cash.units == 70 and cash.capped_by == "cash"
    covered = state.order_increment(demand_over_window=100, backlog=0, on_hand=80, on_order=150, phase="rising")
    assert covered.units == 0 and covered.net == -130
    late = state.order_increment(demand_over_window=300, backlog=0, on_hand=0, on_order=0, phase="declining")
    assert late.units == 0 and late.capped_by == "phase"
    # Past the top only the 20 units customers already paid for, not the forecast's 300.
    owed = state.order_increment(demand_over_window=300, backlog=20, on_hand=0, on_order=0, phase="declining")
    assert owed.units == 20 and owed.backlog_only


def _spike_series(values: list[float], start: str = "2025-03-01") -> pd.Series:
    days = pd.date_range(start, periods=len(values), freq="D", tz=TZ)
    return pd.Series(values, index=days, dtype=float)


BASE = [10.0] * 14
RISE = [20, 40, 80, 120, 160, 200]
TOP = [210, 205, 200]
FALL = [160, 130, 100, 60, 30, 14, 12, 11]


@pytest.mark.parametrize("days_known, expected", [
    (14, "launching"),  # flat sales after a go
    (14 + 4, "rising"),
    (14 + 6 + 2, "rising"),  # the 3-day mean is at its best level today
    (14 + 6 + 3 + 1, "peak"),
    (14 + 6 + 3 + 2, "peak"),  # off the top, the decline not yet confirmed
    (14 + 6 + 3 + 4, "declining"),
    (14 + 6 + 3 + 8, "exited"),
])
def test_phase_follows_the_sales(days_known, expected):
    series = _spike_series(BASE + RISE + TOP + FALL)
    known = series.iloc[:days_known]
    as_of = known.index[-1] + pd.Timedelta(days=1)
    call = state.derive_phase(as_of=as_of, sales=known, first_alert=series.index[12], validation_started=series.index[13],
                              validation_decision="go")
    assert call.phase == expected, call.evidence
    if expected != "launching":
        assert call.takeoff == series.index[16]  # the 3-day mean first reaches 3 x 10 on day 3 of the rise


def test_the_peak_is_named_by_the_days_its_mean_covers():
    """The best 3-day mean (205/day) is the mean of 03-20..03-22; the best single day is 03-21 (210), which chapter 06
    may name as the peak: the evidence says which days the level covers instead of "on 03-22"."""
    series = _spike_series(BASE + RISE + TOP + FALL)
    known = series.iloc[:14 + 6 + 3 + 2]
    call = state.derive_phase(as_of=known.index[-1] + pd.Timedelta(days=1), sales=known, first_alert=series.index[12],
                              validation_started=series.index[13], validation_decision="go")
    assert call.phase == "peak" and call.peak_day == series.index[21]
    assert any("past the top (205/day, the 3-day mean over 03-20 to 03-22)" in e for e in call.evidence), call.evidence
    assert not any("on 03-22" in e for e in call.evidence)


def test_phase_before_and_without_the_spike():
    series = _spike_series(BASE)
    as_of = series.index[-1] + pd.Timedelta(days=1)
    assert state.derive_phase(as_of=as_of, sales=series).phase == "watching"
    assert state.derive_phase(as_of=as_of, sales=series, validation_started=series.index[-1],
                              validation_decision="extend").phase == "validating"
    assert state.derive_phase(as_of=as_of, sales=series, validation_started=series.index[-1],
                              validation_decision="no-go").phase == "no-go"
    assert state.derive_phase(as_of=as_of, sales=series, exit_approved_at=series.index[-1]).phase == "exited"


def test_sold_out_days_are_not_a_decline():
    """Stock ran out at the top: sales sit at the stock level, but that is censored demand."""
    series = _spike_series(BASE + RISE + [210, 150, 120, 110, 100])
    sold_out = series.index[-4:]
    as_of = series.index[-1] + pd.Timedelta(days=1)
    call = state.derive_phase(as_of=as_of, sales=series, first_alert=series.index[12], validation_decision="go",
                              validation_started=series.index[13], sold_out_days=sold_out)
    assert call.phase != "declining" and any("sold out" in e for e in call.evidence)
    uncensored = state.derive_phase(as_of=as_of, sales=series, first_alert=series.index[12],
                                    validation_decision="go", validation_started=series.index[13])
    assert uncensored.phase == "declining"


def test_contradictions_on_crafted_briefs():
    order = state.Proposal("03", "order", 660, 9127.0)
    brake = state.Proposal("06", "brake", 300)
    hold = state.Proposal("04", "hold_price", item="hold price")
    markdown = state.Proposal("06", "markdown", item="to 30% off", starts=pd.Timestamp("2025-03-20"))
    # The exit-day brief the reviewer found: approve an order, brake, hold the price and mark down.
    found = state.contradictions([order, brake, hold, markdown], phase="declining", as_of="2025-03-20 09:00")
    assert len(found) == 3
    assert any("while the spike is declining" in f for f in found)
    assert any("brakes production" in f for f in found)
    assert any("holds the price and marks down" in f for f in found)
    # A coherent rising-day brief: one order within the need.
    assert state.contradictions([order], phase="rising", need_units=700) == []
    # Units already on order bought again.
    found = state.contradictions([order], phase="rising", need_units=100, tolerance_units=50)
    assert found == ["orders 660 units while only 100 are needed net of stock, backlog and units already on order"]
    # The same need ordered by two chapters.
    assert any("two chapters" in f for f in state.contradictions(
        [order, state.Proposal("04", "order", 66)], phase="rising"))


def test_contradiction_kit_twice_and_financing_not_escalated(ledger_root):
    ledger = state.load_ledger("ledger/demo", tz=TZ, data_root=ledger_root).as_of("2025-03-11 09:00")
    kit = state.Proposal("08", "content_kit", item="kit due")
    found = state.contradictions([kit], phase="rising", ledger=ledger)
    assert found and "already approved 2025-03-09 20:00" in found[0]
    loan = state.Proposal("09", "financing", amount=6943.0, item="平台贷")
    assert state.contradictions([loan], phase="rising", authority_limit=5000.0, escalated_amounts=[]) != []
    assert state.contradictions([loan], phase="rising", authority_limit=5000.0, escalated_amounts=[6943.0]) == []
    sells = state.contradictions([], phase="rising", sellable_units=700, projected_sales_units=1386)
    assert sells == ["projects selling 1,386 units while only 700 exist or are on order"]


def test_proposals_read_from_recorded_results():
    results = {
        "03": {"decision": "order", "purchase_orders": pd.DataFrame({"supplier": ["甲"], "units": [38], "cost": [758.0]})},
        "04": {"promotion_now": {"name": "hold price"}},
        "06": {"brake_list": pd.DataFrame({"supplier": ["甲"], "units": [20]}),
               "markdown_plan": pd.DataFrame({"date": ["2025-03-20"], "discount": [0.1]})},
        "09": {"chosen_financing": pd.DataFrame({"offer": ["平台贷"], "use": [6943.0]})},
    }
    kinds = sorted(p.kind for p in state.proposals_from_results(results))
    assert kinds == ["brake", "financing", "hold_price", "markdown", "order"]
    loan = next(p for p in state.proposals_from_results(results) if p.kind == "financing")
    assert loan.amount == 6943.0  # chapter 09 writes the amount drawn as `use`


def _manifest(run_id: str, as_of: str) -> dict:
    orders = pd.DataFrame({"supplier": ["甲厂", "乙厂"], "units": [38, 72], "unit_cost": [16.0, 14.5],
                           "cost": [758.0, 1244.0], "first_arrival_day": [3, 3], "last_arrival_day": [4, 5]})
    return {"run_id": run_id, "spike": "demo", "as_of": as_of, "status": "ok", "chapters": {
        "03": {"status": "ok", "results": {"decision": "order", "purchase_orders": to_jsonable(orders)}},
        "08": {"status": "ok", "results": {"kit": to_jsonable({"items": ["主图"]}), "kit_deadline": "2025-03-09T22:00"}},
        "09": {"status": "ok", "results": {"chosen_financing": to_jsonable(
            pd.DataFrame({"offer": ["平台贷"], "use": [6943.0]}))}},
        "06": {"status": "failed", "results": {"exit_decision": "exit now"}},  # failed chapters are not approved
    }}


def test_approve_appends_once_and_the_next_run_sees_it(tmp_path):
    manifest = _manifest("r1", "2025-03-09T20:00:00+08:00")
    added = state.approve(manifest, "ledger/demo", by="ops lead", data_root=tmp_path, tz=TZ)
    assert added == {"purchase_orders": 2, "approvals": 4}  # two orders, the kit, the loan
    ledger = state.load_ledger("ledger/demo", tz=TZ, data_root=tmp_path)
    po = ledger.purchase_orders.set_index("po_id")
    assert list(po.index) == ["r1-1", "r1-2"] and int(po["units"].sum()) == 110
    assert po.loc["r1-2", "expected_arrival"] == pd.Timestamp("2025-03-14 12:00", tz=TZ)  # as_of day + 5 days
    assert sorted(ledger.approvals["kind"]) == ["content_kit", "financing", "order", "order"]
    assert set(ledger.approvals["by"]) == {"ops lead"}
    # A run as of the morning before the approval does not see it; one after does.
    assert state.open_orders(ledger, "2025-03-09 19:59").empty
    assert int(state.open_orders(ledger, "2025-03-10 09:00")["units_open"].sum()) == 110
    before = (tmp_path / "ledger/demo/approvals.csv").read_bytes()
    with pytest.raises(Exception) as err:
        state.approve(manifest, "ledger/demo", by="ops lead", data_root=tmp_path, tz=TZ)
    assert "already approved" in str(err.value) and "append-only" in str(err.value)
    assert (tmp_path / "ledger/demo/approvals.csv").read_bytes() == before
    # A later run's approval only appends: the earlier bytes stay the file's prefix.
    later = {"run_id": "r2", "spike": "demo", "as_of": "2025-03-11T09:00:00+08:00", "chapters": {
        "06": {"status": "ok", "results": {"brake_list": to_jsonable(pd.DataFrame({"supplier": ["乙厂"], "units": [30]}))}}}}
    state.approve(later, "ledger/demo", by="supply lead", data_root=tmp_path, tz=TZ)
    assert (tmp_path / "ledger/demo/approvals.csv").read_bytes().startswith(before)
    ledger = state.load_ledger("ledger/demo", tz=TZ, data_root=tmp_path)
    open_now = state.open_orders(ledger, "2025-03-11 10:00").set_index("po_id")["units_open"]
    assert open_now.to_dict() == {"r1-1": 38, "r1-2": 42}  # the brake took 30 of 乙厂's 72
    kit_twice = state.contradictions([state.Proposal("08", "content_kit")], phase="rising",
                                     ledger=ledger.as_of("2025-03-11 10:00"))
    assert kit_twice and "already approved 2025-03-09 20:00" in kit_twice[0]


def test_spike_approve_command_appends_to_the_spikes_ledger(tmp_path, monkeypatch, capsys):
    import json
    import shutil

    from spikekit import cli
    from spikekit.core.paths import playbook_dir

    playbook = tmp_path / "playbook"
    shutil.copytree(playbook_dir(), playbook)
    (playbook / "spikes" / "demo.yaml").write_text("timezone: Asia/Shanghai\ndata: {}\n", encoding="utf-8")
    records = tmp_path / "records"
    run = records / "demo" / "r1"
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps(_manifest("r1", "2025-03-09T20:00:00+08:00"), ensure_ascii=False))
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("SPIKE_PLAYBOOK", str(playbook))
    monkeypatch.setenv("SPIKE_DATA_ROOT", str(data))
    monkeypatch.setenv("SPIKE_RECORDS", str(records))
    assert cli.main(["approve", "demo/r1", "--by", "ops lead", "--chapter", "3"]) == 0
    assert capsys.readouterr().out.strip() == "ledger/demo"
    ledger = state.load_ledger("ledger/demo", tz=TZ, data_root=data)
    assert list(ledger.approvals["kind"]) == ["order", "order"]  # --chapter 3 = 03 only
    assert cli.main(["approve", "demo/r1", "--by", "ops lead", "--chapter", "03"]) == 2
    assert "already approved" in capsys.readouterr().err
    assert cli.main(["approve", "demo/r1", "--by", "ops lead", "--chapter", "08"]) == 0  # another chapter: fine
    assert len(state.load_ledger("ledger/demo", tz=TZ, data_root=data).approvals) == 3


def test_selling_out_after_the_go_confirms_the_spike():
    """Stock caps the sales at 12 a day: they never reach 3x the baseline, but two sold-out days after the go
    are the evidence; the forecast then rests on the validated rate, not on the capped sales."""
    series = _spike_series(BASE + [12, 12])
    as_of = series.index[-1] + pd.Timedelta(days=1)
    kwargs = dict(as_of=as_of, sales=series, validation_started=series.index[13], validation_decision="go")
    assert state.derive_phase(**kwargs).phase == "launching"
    call = state.derive_phase(**kwargs, sold_out_days=series.index[-2:])
    assert call.phase == "rising" and call.takeoff is None and "sold out" in call.evidence[-1]
    forecast = state.demand_forecast(as_of=as_of, sales=None, phase=call, validation_started=series.index[13],
                                     validated={"estimate": 60.0, "low": 50.0, "high": 70.0})
    assert forecast["source"].startswith("the life prior")
    assert state.forecast_units(forecast, 3) > 3 * 12


def test_a_brake_list_that_keeps_production_is_no_brake():
    """Chapter 06 lists open production with an action; "keep (no decline signal)" lines brake nothing, so an
    order from chapter 03 beside them is no contradiction, and approving the run cancels nothing."""
    keep = pd.DataFrame({"supplier": ["甲厂"], "units": [383.0], "not_started_units": [300.0],
                         "action": ["keep (no decline signal)"]})
    results = {"03": {"decision": "order", "purchase_orders": pd.DataFrame({"supplier": ["甲厂"], "units": [90],
                                                                             "cost": [900.0]})},
               "06": {"brake_list": keep}}
    assert [p.kind for p in state.proposals_from_results(results)] == ["order"]
    assert state.brief_contradictions(results, {"phase": "rising"}) == []
    cancel = keep.assign(action=["finish what has started; cancel the rest, switch to make-to-order"])
    brake = [p for p in state.proposals_from_results({"06": {"brake_list": cancel}}) if p.kind == "brake"]
    assert len(brake) == 1 and brake[0].units == 300  # the units not yet started
    manifest = {"run_id": "r1", "as_of": "2025-03-14T12:00:00+08:00", "chapters": {
        "06": {"status": "ok", "results": {"brake_list": to_jsonable(keep)}}}}
    assert state.proposals_to_approve(manifest)["approvals"] == []
    manifest["chapters"]["06"]["results"]["brake_list"] = to_jsonable(cancel)
    assert [(a["kind"], a["units"]) for a in state.proposals_to_approve(manifest)["approvals"]] == [("cancel", 300)]


def test_phase_call_round_trips_through_its_record():
    call = state.PhaseCall("declining", ["x"], pd.Timestamp("2025-03-07", tz=TZ), pd.Timestamp("2025-03-15", tz=TZ),
                           pd.Timestamp("2025-03-17", tz=TZ), 14.5, 165.0)
    import json

    back = state.PhaseCall.from_dict(json.loads(json.dumps(call.to_dict())), TZ)  # as state.json holds it
    assert back == call
    assert state.PhaseCall.from_dict({"phase": "watching", "baseline": None}, TZ).takeoff is None


def test_open_order_arrivals_by_day_overdue_lines_tomorrow():
    lines = [{"po_id": "PO-1", "supplier": "甲", "units_open": 100, "unit_cost": 12.0,
              "expected_arrival": "2025-03-12T10:00:00+08:00", "overdue": False},
             {"po_id": "PO-2", "supplier": "乙", "units_open": 40, "unit_cost": 14.0,
              "expected_arrival": "2025-03-09T10:00:00+08:00", "overdue": True},
             {"po_id": "PO-3", "supplier": "甲", "units_open": 5, "unit_cost": 12.0,
              "expected_arrival": "2025-03-10T18:00:00+08:00", "overdue": False}]
    table = state.open_order_arrivals(lines, "2025-03-10 12:00", TZ).set_index("po_id")
    assert table["day"].to_dict() == {"PO-1": 2, "PO-2": 1, "PO-3": 0}
    assert table.loc["PO-1", "date"] == pd.Timestamp("2025-03-12")
    assert table["units"].sum() == 145 and table.loc["PO-2", "overdue"]
    assert state.open_order_arrivals([], "2025-03-10 12:00", TZ).empty


def test_first_go_is_the_first_hour_chapter_02_said_go(records_dir):
    """starry-mug's validation starts 03-07 11:00; its call turns go 26 test hours later, not at the run's as_of."""
    from spikekit.chapters import validation
    from spikekit.inputs.contracts import load_validation
    from spikekit.inputs.settings import load_playbook, load_spike

    spike = load_spike("starry-mug")
    events = load_validation(spike.data["validation"], tz=TZ)
    settings = validation.ValidationSettings(**{k: v for k, v in load_playbook().chapters["02"].defaults.items()
                                                if k in validation.ValidationSettings.__dataclass_fields__})
    go = state.first_go(events, "2025-03-09 12:00", settings)
    assert go == pd.Timestamp("2025-03-08 13:00", tz=TZ)
    assert validation.decide(events, go - pd.Timedelta(hours=1), settings).decision != "go"
    assert state.first_go(events, "2025-03-08 12:00", settings) is None  # not yet
    st = state.derive_for_run(load_playbook(), spike, "2025-03-14 12:00")
    assert st["validation"]["go_at"] == "2025-03-08T13:00:00+08:00"  # the same go, days later


def test_an_approved_order_arrives_as_chapter_03_plans_its_production():
    orders = pd.DataFrame({"supplier": ["甲厂"], "units": [50], "unit_cost": [12.0], "cost": [600.0],
                           "first_arrival_day": [3], "last_arrival_day": [4]})
    production = pd.DataFrame({"supplier": ["甲厂", "甲厂"], "production_date": pd.to_datetime(["2025-03-10", "2025-03-11"]),
                               "units": [30, 20], "arrival_date": pd.to_datetime(["2025-03-12", "2025-03-13"])})
    manifest = {"run_id": "r1", "as_of": "2025-03-09T12:00:00+08:00", "status": "ok", "chapters": {
        "03": {"status": "ok", "results": {"decision": "order", "purchase_orders": to_jsonable(orders),
                                           "production": to_jsonable(production)}}}}
    lines = state.proposals_to_approve(manifest)["purchase_orders"]
    assert [(r["po_id"], r["units"], r["expected_arrival"][:10]) for r in lines] == [
        ("r1-1-1", 30, "2025-03-12"), ("r1-1-2", 20, "2025-03-13")]


def test_a_fit_on_sold_out_days_is_never_below_the_validated_curve():
    """Sales capped by stock at 40 a day after a takeoff: the fit sees a flat spike; with those days sold out,
    the forecast keeps at least the prior's curve scaled to the validated rate."""
    values = BASE + [20, 40, 40, 40, 40, 40]
    days = pd.date_range("2025-03-01", periods=len(values), freq="D", tz=TZ)
    sales = pd.DataFrame({"timestamp": days + pd.Timedelta(days=1), "orders": values, "price": 49.0})
    as_of = days[-1] + pd.Timedelta(days=1, hours=12)
    phase = state.derive_phase(as_of=as_of, sales=state.daily_sales(sales, as_of, TZ), validation_started=days[13],
                               validation_decision="go")
    assert phase.phase in ("rising", "peak") and phase.takeoff is not None
    kwargs = dict(as_of=as_of, sales=sales, phase=phase, validated={"estimate": 150.0, "low": 120.0, "high": 180.0},
                  validation_started=days[16], tz=TZ)
    plain = state.demand_forecast(**kwargs)
    floored = state.demand_forecast(**kwargs, sold_out_days=days[-3:])
    assert "sold out lately" in floored["source"] and "sold out" not in plain["source"]
    prior_only = state.demand_forecast(**{**kwargs, "phase": state.PhaseCall("launching", [], baseline=phase.baseline)})
    for f, p, q in zip(floored["daily"], plain["daily"], prior_only["daily"]):
        assert f["expected"] == pytest.approx(max(p["expected"], q["expected"]), abs=0.01)
    assert any(q["expected"] > p["expected"] + 1 for p, q in zip(plain["daily"], prior_only["daily"]))


def test_sold_out_days_after_the_takeoff_keep_the_spike_rising():
    """Stock ran out after the takeoff: sales fall to what arrives, which is no top; the phase stays rising (so
    chapter 03 may order) until uncensored days show the decline."""
    series = _spike_series(BASE + [20, 40, 80, 120, 60, 30, 20, 20])
    as_of = series.index[-1] + pd.Timedelta(days=1)
    kwargs = dict(as_of=as_of, sales=series, first_alert=series.index[12], validation_decision="go",
                  validation_started=series.index[13])
    assert state.derive_phase(**kwargs).phase in ("peak", "declining")
    call = state.derive_phase(**kwargs, sold_out_days=series.index[-2:])
    assert call.phase == "rising" and "sold out the last two days" in call.evidence[-1]


def _days(values: list[float], start: str = "2025-03-01") -> pd.Series:
    return pd.Series([float(v) for v in values],
                     index=pd.date_range(start, periods=len(values), freq="D", tz=TZ), name="units")


def test_sold_out_demand_is_estimated_from_the_search_series():
    # In stock on the first 8 days: units = 0.24 x searches - 16 exactly (five normal days, three spike days pin
    # the slope). Days 9 and 10 sold out at 40 and 30 units with 500 and 250 searches: 0.24 x 500 - 16 = 104 and
    # 0.24 x 250 - 16 = 44. A sold-out day with searches that predict less than it sold keeps its sales (a floor).
    sold = _days([8, 8, 8, 8, 8, 32, 56, 80, 40, 30, 20])
    searches = _days([100, 100, 100, 100, 100, 200, 300, 400, 500, 250, 100])
    out = sold.index[8:]
    est = state.censored_demand(sold, out, searches, signal="淘宝 searches for 星空杯")
    assert est.fit["method"] == "least squares"
    assert est.fit["slope"] == pytest.approx(0.24, abs=1e-6) and est.fit["intercept"] == pytest.approx(-16, abs=1e-3)
    assert est.daily.iloc[8:].tolist() == [104.0, 44.0, 20.0]
    assert est.daily.iloc[:8].tolist() == sold.iloc[:8].tolist()  # days in stock are their sales
    assert est.imputed["estimate"].tolist() == [104, 44, 20] and not est.censored_left and not est.floor_days
    assert "淘宝 searches for 星空杯" in est.evidence[0] and "104 (sold 40)" in est.evidence[0]


def test_sold_out_demand_without_a_usable_search_link_stays_a_floor():
    sold = _days([8, 8, 9, 8, 8, 8, 8, 20, 50])
    flat = _days([100, 100, 100, 100, 100, 100, 100, 500, 500])
    # Searches that hardly varied cannot pin a slope: the ratio of totals (57 / 700 per search) gives 500 x
    # 0.0814 = 41 on day 8 (above its 20 sold), and day 9 keeps its 50 (more than the estimate).
    est = state.censored_demand(sold, sold.index[7:], flat)
    assert est.fit["method"] == "ratio"
    assert est.daily.iloc[7:].tolist() == [41.0, 50.0]
    assert est.floor_days == {d.normalize() for d in sold.index[7:]}  # a ratio estimate is still a floor
    # Too few in-stock days, or no search series at all: nothing estimated, the days stay censored.
    few = state.censored_demand(sold.iloc[4:], sold.index[7:], flat)
    assert few.fit is None and few.censored_left == {d.normalize() for d in sold.index[7:]}
    assert state.censored_demand(sold, sold.index[7:], None).censored_left == {d.normalize() for d in sold.index[7:]}


def test_without_in_stock_spike_days_the_validation_sets_the_scale():
    # The shop sold out as the spike began: no in-stock spike day to pin a slope (normal days with searches from
    # 80 to 130 would read noise as one). Chapter 02 validated 60 a day on days 8-9, which had 250 and 350 searches
    # (300 a day): 0.2 units per search, so day 10's 600 searches are 120 units, day 11's 400 are 80.
    sold = _days([8, 9, 8, 10, 8, 9, 8, 20, 25, 30, 30])
    searches = _days([80, 130, 90, 120, 85, 125, 95, 250, 350, 600, 400])
    est = state.censored_demand(sold, sold.index[7:], searches, calibration=(sold.index[7:9], 60.0))
    assert est.fit["method"] == "validation" and est.fit["slope"] == pytest.approx(0.2)
    assert est.daily.iloc[7:].tolist() == [50.0, 70.0, 120.0, 80.0]
    assert not est.floor_days and "validated 60 a day" in est.evidence[0]
    # Without the validation's scale the ratio of normal days is a floor.
    assert state.censored_demand(sold, sold.index[7:], searches).floor_days == {d.normalize() for d in sold.index[7:]}


def test_estimated_demand_replaces_the_sold_out_days_in_the_sales_table():
    sales = pd.DataFrame({"timestamp": pd.date_range("2025-03-02", periods=3, freq="D", tz=TZ),
                          "orders": [10, 40, 30], "price": [45.0] * 3})
    adjusted = state.with_demand(sales, {"imputed": [{"day": "2025-03-02", "sold": 40, "searches": 500,
                                                       "estimate": 104}]})
    assert adjusted["orders"].tolist() == [10, 104, 30]  # the row stamped 03-03 00:00 counts 03-02
    assert sales["orders"].tolist() == [10, 40, 30]  # the table read is not changed
    assert state.with_demand(sales, None) is sales


def test_a_second_wave_after_the_decline_or_the_exit_is_rising_again():
    # First wave to 210, down to 30 a day (declining), then a second wave: 40, 90, 150, 220 a day. A new wave is
    # the 3-day mean two days running at 2x its lowest since the peak and at 3x the baseline (10).
    lull = [30, 30, 30]
    second = [40, 90, 150, 220]
    series = _spike_series(BASE + RISE + TOP + [160, 130, 100, 60] + lull + second)
    opts = dict(first_alert=series.index[12], validation_started=series.index[13], validation_decision="go")
    before = series.iloc[:-len(second) + 1]  # only the first day of the second wave known
    as_of = before.index[-1] + pd.Timedelta(days=1)
    assert state.derive_phase(as_of=as_of, sales=before, **opts).phase == "declining"
    as_of = series.index[-1] + pd.Timedelta(days=1)
    call = state.derive_phase(as_of=as_of, sales=series, **opts)
    # 3-day means: lull 30, 30 (lowest: 30 on the lull's 3rd day), then 33.3, 53.3, 93.3, 153.3. The first two days
    # running at >= max(3 x 10, 2 x 30) = 60 are 93.3 and 153.3: the wave takes off on the day of 150.
    assert call.phase == "rising" and call.wave_start == series.index[-5] and call.takeoff == series.index[-2]
    assert any("a new wave" in e for e in call.evidence)
    # An approved exit no longer hides it: still rising, and exited without the second wave.
    exited = state.derive_phase(as_of=as_of, sales=series, exit_approved_at=series.index[-6], **opts)
    assert exited.phase == "rising" and exited.wave_start is not None
    flat = state.derive_phase(as_of=before.index[-1] + pd.Timedelta(days=1), sales=before,
                              exit_approved_at=series.index[-6], **opts)
    assert flat.phase == "exited" and flat.evidence[0].startswith("exit approved")
    assert state.PhaseCall.from_dict(call.to_dict(), TZ).wave_start == call.wave_start


def test_the_signals_table_is_a_state_input_only_when_a_sold_out_day_can_be_estimated():
    from types import SimpleNamespace

    from spikekit.inputs.settings import load_playbook, load_spike

    book, spike = load_playbook(), load_spike("starry-mug")
    assert spike.backorders and state.state_inputs(book, spike) == ("sales", "validation", "stock")
    no_presale = SimpleNamespace(backorders=False, parameters=spike.parameters)
    assert state.state_inputs(book, no_presale) == ("sales", "validation", "stock", "signals")
    assert state.demand_signal(book, no_presale) == ("星空杯", "淘宝")
    orders_only = SimpleNamespace(backorders=False, parameters={"06": {"search_keyword": ""}})
    assert state.state_inputs(book, orders_only) == ("sales", "validation", "stock")


def test_past_the_top_only_the_uncovered_paid_backlog_is_ordered():
    # starry-mug as of 03-18: peak, 2,693 pre-sold units, nothing on hand or on order: all of them are owed.
    owed = state.order_increment(demand_over_window=1200, backlog=2693, on_hand=0, on_order=0, phase="peak")
    assert owed.units == 2693 and owed.backlog_only and owed.capped_by == "phase"
    assert owed.reasons[-1] == ("2693 units customers already paid for are not covered by stock or open orders: "
                                "ordered although the spike is peak; no units for new demand")
    # 300 waiting - 100 on hand - 150 on order = 50; the forecast demand (1200) is left out.
    assert state.order_increment(demand_over_window=1200, backlog=300, on_hand=100, on_order=150,
                                 phase="peak").units == 50
    covered = state.order_increment(demand_over_window=1200, backlog=100, on_hand=150, on_order=0, phase="peak")
    assert covered.units == 0 and not covered.backlog_only and covered.capped_by == "phase"
    # 300 - 100 = 200 owed, the cash rule allows 120.7 units: 120.
    cash = state.order_increment(demand_over_window=500, backlog=300, on_hand=100, on_order=0, phase="declining",
                                 cash_cap_units=120.7)
    assert (cash.units, cash.capped_by, cash.backlog_only) == (120, "cash", True)
    assert state.order_increment(demand_over_window=0, backlog=40, on_hand=0, on_order=0, phase="exited").units == 40
    refunds = state.order_increment(demand_over_window=1200, backlog=2693, on_hand=0, on_order=0, phase="peak",
                                    serve_backlog=False)
    assert refunds.units == 0 and refunds.capped_by == "phase" and "serve_backlog is off" in refunds.reasons[-1]
    # While rising nothing changes: forecast + backlog - stock - on order (300 + 20 - 80 - 150).
    rising = state.order_increment(demand_over_window=300, backlog=20, on_hand=80, on_order=150, phase="rising",
                                   serve_backlog=False)
    assert (rising.units, rising.backlog_only) == (90, False)


def test_a_backlog_order_past_the_top_is_no_contradiction_but_more_is():
    backlog_order = state.Proposal("03", "order", 2693, 40000.0)
    assert state.contradictions([backlog_order], phase="peak", backlog_units=2693) == []
    too_many = state.contradictions([state.Proposal("03", "order", 3193, 47000.0)], phase="peak", backlog_units=2693)
    assert too_many == ["asks to order 3,193 units (chapter 03) while the spike is peak, more than the 2,693 paid "
                        "backlog units not covered by stock or open orders"]
    # Without a backlog any order past the top is one.
    assert state.contradictions([backlog_order], phase="declining") == [
        "asks to order 2,693 units (chapter 03) while the spike is declining"]
    # The brief's check reads the uncovered backlog from the state's position (300 - 100 on hand - 150 on order).
    results = {"03": {"decision": "order", "increment": {"units": 50, "backlog_only": True},
                      "purchase_orders": pd.DataFrame({"supplier": ["甲"], "units": [50], "cost": [600.0]})}}
    st = {"phase": "peak", "position": {"on_hand": 100, "on_order": 150, "backlog": 300}}
    assert state.brief_contradictions(results, st) == []
    results["03"]["purchase_orders"] = pd.DataFrame({"supplier": ["甲"], "units": [550], "cost": [6600.0]})
    results["03"]["increment"] = {"units": 550, "backlog_only": True}
    assert state.brief_contradictions(results, st) == [
        "asks to order 550 units (chapter 03) while the spike is peak, more than the 50 paid backlog units not "
        "covered by stock or open orders"]
    # A supplier's minimum order (60 for an increment of 50) is tolerated.
    results["03"]["purchase_orders"] = pd.DataFrame({"supplier": ["甲"], "units": [60], "cost": [720.0]})
    results["03"]["increment"] = {"units": 50, "backlog_only": True}
    assert state.brief_contradictions(results, st) == []
