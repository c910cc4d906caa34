"""A seller's own spike from platform exports only: spike new -> spike import -> spike check -> spike run.

The shop has a Shopify orders export (written here in Shopify's layout, invented rows), a Google Trends export made
in the Chinese interface (`时间,星空杯`, a fixture) and an hourly traffic table. Chapters 01, 06 and 07 run; every
other chapter is skipped with the table it needs; the run exits 0.
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from spikekit import cli
from spikekit.core.paths import project_root

ROOT = project_root()
EXPORTS = ROOT / "tests" / "fixtures" / "exports"
pytestmark = pytest.mark.e2e


def shopify_export(path, product="Starry Mug - Blue", seed=3):
    """Forty days of paid orders in Shopify's orders-export layout: ~3 a day, then a rise peaking on day 33."""
    columns = (EXPORTS / "shopify_orders.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    rng = np.random.default_rng(seed)
    rows, n = [], 0
    for i, day in enumerate(pd.date_range("2025-02-01", periods=40, freq="D")):
        rate = 3.0 + 40.0 * np.exp(-0.5 * ((i - 33) / 4.0) ** 2) * (i >= 25)
        for _ in range(rng.poisson(rate)):
            n += 1
            at = (day + pd.Timedelta(minutes=int(rng.integers(0, 1440)))).strftime("%Y-%m-%d %H:%M:%S +0800")
            row = dict.fromkeys(columns, "")
            row.update({"Name": f"#{1000 + n}", "Email": f"c{int(rng.integers(0, 400))}@example.test",
                        "Financial Status": "paid", "Created at": at, "Paid at": at, "Currency": "CNY",
                        "Subtotal": "49.00", "Total": "49.00", "Lineitem quantity": "1", "Lineitem name": product,
                        "Lineitem price": "49.00", "Id": str(5000 + n)})
            rows.append(row)
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)
    return n


@pytest.fixture
def shop(tmp_path, monkeypatch):
    pb = tmp_path / "playbook"
    (pb / "spikes").mkdir(parents=True)
    shutil.copy(ROOT / "playbook" / "playbook.yaml", pb / "playbook.yaml")
    shutil.copytree(ROOT / "playbook" / "patterns", pb / "patterns")
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("SPIKE_PLAYBOOK", str(pb))
    monkeypatch.setenv("SPIKE_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("SPIKE_RECORDS", str(tmp_path / "records"))
    return tmp_path


def test_a_spike_from_platform_exports_runs_01_06_07_and_skips_the_rest(shop, capsys):
    assert cli.main(["new", "shop", "--product", "Starry Mug", "--keywords", "星空杯",
                     "--search-platform", "google-trends"]) == 0
    folder = shop / "data" / "spikes" / "shop"
    # The seller keeps only what they have: the templates of the other tables go.
    for template in folder.glob("*.csv"):
        template.unlink()
    orders = shopify_export(shop / "orders_export.csv")
    assert orders > 300
    assert cli.main(["import", "--spike", "shop", str(shop / "orders_export.csv"), "--kind", "sales",
                     "--product", "Starry Mug"]) == 0
    assert cli.main(["import", "--spike", "shop", str(EXPORTS / "trends_zh.csv")]) == 0
    shutil.copy(ROOT / "data" / "samples" / "starry-mug" / "traffic.csv", folder / "traffic.csv")
    sales = pd.read_csv(folder / "sales.csv")
    assert int(sales["orders"].sum()) == orders  # every paid order is in the daily table
    capsys.readouterr()

    as_of = "2025-03-10 12:00"
    assert cli.main(["check", "--spike", "shop", "--as-of", as_of, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    ready = {cid for cid, ch in report["chapters"].items() if ch["status"] == "ready"}
    assert ready == {"01", "06", "07"}

    assert cli.main(["run", "--spike", "shop", "--as-of", as_of]) == 0
    run_dir = sorted((shop / "records" / "shop").iterdir())[-1]
    manifest = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    status = {cid: ch["status"] for cid, ch in manifest["chapters"].items()}
    assert {c for c, s in status.items() if s == "ok"} == {"01", "06", "07"}, manifest["chapters"]
    assert {c for c, s in status.items() if s == "skipped"} == set(status) - {"01", "06", "07"}
    assert manifest["status"] == "ok"
    assert manifest["chapters"]["02"]["skip_reason"] == "needs validation.csv"
    assert manifest["chapters"]["03"]["skip_reason"] == "needs suppliers.csv"
    # Chapter 06 read the imported sales: it found the rise and made its call on them.
    exit_results = manifest["chapters"]["06"]["results"]
    assert exit_results["exit_decision"] in ("hold course", "brake", "exit")
    assert "Exit:" in exit_results["headline"]
