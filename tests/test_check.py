"""Partial and stale data: `spike check`, chapters skipped for want of data, stale inputs, scan's as-of."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from spikekit.inputs import check
from spikekit import cli
from spikekit.engine import runner
from spikekit.core.errors import ConfigError
from spikekit.core.paths import project_root
from spikekit.inputs.settings import load_playbook

SAMPLE = project_root() / "data" / "samples" / "starry-mug"


@pytest.fixture
def own_spike(tmp_path, monkeypatch):
    """The project's playbook in a temporary folder, a data root with copies of three sample tables, and a spike
    file naming only those (sales, traffic, signals): a product already on sale."""
    pb = tmp_path / "playbook"
    (pb / "spikes").mkdir(parents=True)
    shutil.copy(project_root() / "playbook" / "playbook.yaml", pb / "playbook.yaml")
    shutil.copytree(project_root() / "playbook" / "patterns", pb / "patterns")
    data = tmp_path / "data" / "shop"
    data.mkdir(parents=True)
    for name in ("sales", "traffic", "signals"):
        shutil.copy(SAMPLE / f"{name}.csv", data / f"{name}.csv")
    (pb / "spikes" / "shop.yaml").write_text(
        "timezone: Asia/Shanghai\ndefault_as_of: '2025-03-12 12:00'\n"
        "data:\n  sales: shop/sales.csv\n  traffic: shop/traffic.csv\n  signals: shop/signals.csv\n"
        "  orders: shop/orders.csv\n"  # named but not there yet: missing, not an error
        "parameters:\n  '06': {search_keyword: 星空杯, search_platform: 淘宝}\n", encoding="utf-8")
    monkeypatch.setenv("SPIKE_PLAYBOOK", str(pb))
    monkeypatch.setenv("SPIKE_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("SPIKE_RECORDS", str(tmp_path / "records"))
    return {"playbook": pb, "data": data, "records": tmp_path / "records"}


def test_check_says_per_chapter_what_is_ready_and_what_is_missing(own_spike, capsys):
    assert cli.main(["check", "--spike", "shop"]) == 0
    out = capsys.readouterr().out
    report = check.check_spike("shop")
    status = {cid: ch["status"] for cid, ch in report["chapters"].items()}
    assert {c for c, s in status.items() if s == "ready"} == {"01", "06", "07"}
    assert status["11"] == "missing" and "orders.csv" in report["chapters"]["11"]["detail"][0]
    assert report["tables"]["orders"]["why"].startswith("not found: ")
    assert report["tables"]["sales"]["rows"] == 76 and report["tables"]["sales"]["period"] == "daily"
    assert report["tables"]["sales"]["newest"].startswith("2025-04-01T00:00")
    assert "02 48 小时验证 · 48-hour validation" in out and "needs validation.csv" in out


def test_check_reports_three_broken_files_in_one_pass(own_spike, capsys):
    data = own_spike["data"]
    sales = (data / "sales.csv").read_text(encoding="utf-8").splitlines()
    head = sales[0].split(",")
    row = sales[3].split(",")
    row[head.index("orders")] = "many"
    sales[3] = ",".join(row)
    (data / "sales.csv").write_text("\n".join(sales) + "\n", encoding="utf-8")
    traffic = (data / "traffic.csv").read_text(encoding="utf-8").splitlines()
    (data / "traffic.csv").write_text("\n".join([traffic[0].replace("visitors", "visits")] + traffic[1:]) + "\n",
                                      encoding="utf-8")
    (data / "signals.csv").write_bytes(b"\xff\xfe\x00garbage\x00\n")
    assert cli.main(["check", "--spike", "shop", "--json"]) == 2
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["invalid_files"] == ["sales", "signals", "traffic"]
    sales_problem = report["tables"]["sales"]["problem"]
    assert sales_problem["column"] == "orders" and sales_problem["rows"] == [4]  # header is row 1
    assert report["tables"]["traffic"]["problem"]["column"] in (None, "visitors")
    assert {report["chapters"][c]["status"] for c in ("01", "06", "07")} == {"invalid"}
    # One error line naming all three files, exit 2.
    error = [line for line in captured.err.splitlines() if line.startswith("spike: error:")]
    assert len(error) == 1 and all(f"shop/{n}.csv" in error[0] or f"{n}.csv" in error[0]
                                   for n in ("sales", "traffic", "signals"))


def test_stale_tables_on_a_hand_case():
    daily = {"path": "x/sales.csv", "rows": 10, "first": "2025-02-20T00:00:00+08:00",
             "last": "2025-03-01T00:00:00+08:00", "step_s": 86400.0}
    at = lambda text: pd.Timestamp(text, tz="Asia/Shanghai")  # noqa: E731
    assert not check.freshness(daily, "sales", at("2025-03-01 23:00"))["stale"]
    late = check.freshness(daily, "sales", at("2025-03-02 01:00"))
    assert late["stale"] and "sales.csv: newest row 2025-03-01 00:00, 1.0 days before as_of" in late["note"]
    weekly = dict(daily, path="x/trends.csv", step_s=7 * 86400.0)
    assert check.freshness(weekly, "signals", at("2025-03-07 12:00"))["period"] == "weekly"
    assert not check.freshness(weekly, "signals", at("2025-03-07 12:00"))["stale"]  # within one week
    assert check.freshness(weekly, "signals", at("2025-03-08 01:00"))["stale"]
    # An event log may be quiet for days: never stale; an undated table has no span.
    assert not check.freshness(dict(daily, path="x/orders.csv"), "orders", at("2025-04-01"))["stale"]
    assert check.freshness({"path": "x/suppliers.csv", "rows": 3}, "suppliers", at("2025-04-01")) is None
    assert check.stale_headline("Exit: HOLD.", ["sales.csv: old"]) == "Exit: HOLD. [STALE DATA: sales.csv: old]"


def test_check_flags_a_stale_table_and_warns(own_spike, capsys):
    assert cli.main(["check", "--spike", "shop", "--as-of", "2025-04-05 12:00"]) == 0
    captured = capsys.readouterr()
    assert "spike: warning: stale input 'traffic': traffic.csv: newest row 2025-03-16 12:00" in captured.err
    assert "stale input 'sales'" in captured.err  # its newest row ends 03-31, 4.5 days before
    report = check.check_spike("shop", "2025-04-05 12:00")
    assert report["tables"]["traffic"]["status"] == "stale"
    assert any("STALE" not in d and "traffic.csv" in d for d in report["chapters"]["07"]["detail"])


def test_scan_prints_the_as_of_it_used(tmp_path, capsys):
    assert cli.main(["scan", str(SAMPLE / "signals.csv"), "--limit", "1"]) == 0
    assert "spike scan: as of 2025-03-31 23:00 CST (the file's newest row)" in capsys.readouterr().err
    assert cli.main(["scan", str(SAMPLE / "signals.csv"), "--as-of", "2025-03-09 12:00", "--limit", "1"]) == 0
    assert "spike scan: as of 2025-03-09 12:00 CST" in capsys.readouterr().err


def test_an_optional_need_must_be_one_of_the_needs(tmp_path):
    text = (project_root() / "playbook" / "playbook.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "playbook.yaml"
    bad.write_text(text.replace('optional_needs: ["02"]       #', 'optional_needs: ["05"]       #', 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"chapter '03', key 'optional_needs': '05' is not one of its needs \(02\)"):
        load_playbook(bad)
    assert load_playbook().chapters["06"].optional_needs == ("01", "03", "04")


@pytest.mark.e2e
def test_a_spike_with_sales_traffic_and_signals_runs_01_06_07_and_skips_the_rest(own_spike, capsys):
    outcome = runner.run("shop", None, progress=None)
    m = outcome.manifest
    status = {c: v["status"] for c, v in m["chapters"].items()}
    assert {c for c, s in status.items() if s == "ok"} == {"01", "06", "07"}, m["chapters"]
    assert {c for c, s in status.items() if s == "skipped"} == set(m["chapters"]) - {"01", "06", "07"}
    assert m["status"] == "ok"
    assert m["chapters"]["02"]["skip_reason"] == "needs validation.csv"
    assert m["chapters"]["11"]["skip_reason"].startswith("needs orders.csv, returns.csv")
    assert m["chapters"]["10"]["skip_reason"].startswith("needs chapter 02, 03, 04, 05, 08, 09, skipped for want of")
    assert m["missing_inputs"]["orders"].startswith("not found: ")
    assert not (outcome.run_dir / "02_validation.ipynb").exists()  # decided before any kernel started
    # 07 says it ran without its optional tables; 06 ran without chapter 03 and 04.
    assert "(no funnel, audience, budget table: not judged)" in m["chapters"]["07"]["results"]["headline"]
    assert m["chapters"]["06"]["results"]["exit_decision"]
