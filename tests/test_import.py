"""spike import (platform exports -> the playbook's tables), header aliases and a spike file's columns: mapping."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from spikekit.inputs import contracts as sc
from spikekit.inputs import importers
from spikekit.cli import main
from spikekit.core.errors import ConfigError, InputError
from spikekit.inputs.settings import load_spike

PROJECT = Path(__file__).resolve().parents[1]
EXPORTS = PROJECT / "tests" / "fixtures" / "exports"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A playbook with one empty spike 'demo' over a throwaway data folder."""
    playbook = tmp_path / "playbook"
    (playbook / "spikes").mkdir(parents=True)
    shutil.copy(PROJECT / "playbook" / "playbook.yaml", playbook / "playbook.yaml")
    (playbook / "spikes" / "demo.yaml").write_text("timezone: Asia/Shanghai\ndata: {}\n", encoding="utf-8")
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("SPIKE_PLAYBOOK", str(playbook))
    monkeypatch.setenv("SPIKE_DATA_ROOT", str(data))
    return tmp_path


def run_import(name: str, *extra: str) -> tuple[pd.DataFrame, importers.ImportReport]:
    kind = extra[extra.index("--kind") + 1] if "--kind" in extra else None
    product = extra[extra.index("--product") + 1] if "--product" in extra else None
    return importers.import_file(EXPORTS / name, spike=load_spike("demo"), kind=kind, product=product)


# --------------------------------------------------------------------------------------------- platform orders


def test_shopify_orders_export_becomes_an_orders_table_that_loads(project):
    table, report = run_import("shopify_orders.csv")
    assert report.layout == "shopify-orders" and report.kind == "orders"
    assert report.out == str(project / "data" / "demo" / "orders.csv")
    loaded = sc.load_orders("demo/orders.csv")
    # #1004 is voided and left out; #1003's two line items are one order at its total.
    assert list(loaded["order_id"]) == ["#1001", "#1002", "#1003"]
    assert list(loaded["price"]) == [98.0, 49.0, 128.0]
    assert list(loaded["variant"]) == ["Blue", "Black", "Blue"]
    assert list(loaded["region"]) == ["华东", "华南", "华东"]
    # The +0800 times are read in the spike's zone; ann's second order counts her first.
    assert str(loaded["timestamp"].iloc[0]) == "2025-03-05 09:12:31+08:00"
    assert list(loaded["buyer_prior_orders"]) == [0, 0, 1]
    assert loaded["shipped"].notna().tolist() == [True, False, False]
    assert report.mapped["order_id"] == "Name" and "Created at" in report.mapped["timestamp"]
    assert "Currency" in report.dropped and "Lineitem sku" in report.dropped
    assert any("48 h" in a for a in report.assumed)


def test_woocommerce_orders_export_unpacks_line_items(project):
    table, report = run_import("woocommerce_orders.csv")
    assert report.layout == "woocommerce-orders"
    loaded = sc.load_orders("demo/orders.csv")
    assert list(loaded["order_id"]) == ["201", "202"]  # 203 is cancelled
    assert list(loaded["product"]) == ["Starry Mug", "Starry Mug"]
    assert list(loaded["buyer_id"]) == ["17", "bo@example.test"]  # a guest (customer 0) by e-mail
    assert list(loaded["region"]) == ["华东", "西南"]
    assert "billing_phone" in report.dropped


def test_taobao_order_report_in_gbk(project):
    raw = (EXPORTS / "taobao_orders_gbk.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # the fixture really is GBK
    table, report = run_import("taobao_orders_gbk.csv")
    assert report.layout == "taobao-orders"
    loaded = sc.load_orders("demo/orders.csv")
    assert list(loaded["order_id"]) == ["2025030500001", "2025030500002", "2025030700004"]  # ="..." unwrapped
    assert list(loaded["buyer_id"]) == ["星星买家", "月亮买家", "星星买家"]
    assert list(loaded["platform"].astype(str)) == ["淘宝"] * 3
    assert list(loaded["buyer_prior_orders"]) == [0, 0, 1]
    assert loaded["delivered"].notna().tolist() == [True, False, False]
    assert "联系手机" in report.dropped and report.mapped["price"] == "买家实际支付金额"


def test_doudian_export_sums_sub_orders_and_says_buyers_are_unknown(project):
    table, report = run_import("doudian_orders.csv")
    assert report.layout == "doudian-orders"
    loaded = sc.load_orders("demo/orders.csv")
    assert list(loaded["order_id"]) == ["6900000000000001", "6900000000000003"]  # ...006 is 已关闭
    assert list(loaded["price"]) == [49.0, 117.0]
    assert str(loaded["promised_ship"].iloc[0]) == "2025-03-07 10:20:00+08:00"  # 承诺发货时间, not assumed
    assert any("buyer_id" in a for a in report.assumed)
    assert "收件人手机号" in report.dropped


def test_orders_export_as_daily_sales_of_one_product(project):
    with pytest.raises(InputError, match="--product"):
        run_import("shopify_orders.csv", "--kind", "sales")
    table, report = run_import("shopify_orders.csv", "--kind", "sales", "--product", "starry")
    sales = sc.load_sales("demo/sales.csv")
    assert [str(t) for t in sales["timestamp"]] == ["2025-03-06 00:00:00+08:00", "2025-03-07 00:00:00+08:00"]
    assert list(sales["orders"]) == [3, 1]  # 2 + 1 mugs on 03-05, 1 on 03-06 (the coaster and #1004 left out)


# --------------------------------------------------------------------------------------------- trends, panel


@pytest.mark.parametrize("name, keyword, platform", [
    ("trends_zh.csv", "星空杯", "google-trends"),
    ("trends_week_geo.csv", "starry mug", "google-trends:Worldwide"),
    ("trends_id_day.csv", "gelas bintang", "google-trends:Indonesia"),
    ("trends_fr_zh.csv", "starry mug", "google-trends:Japon"),
])
def test_google_trends_in_any_interface_language_becomes_signals(project, name, keyword, platform):
    table, report = run_import(name)
    assert report.kind == "signals" and report.layout == "google-trends"
    signals = sc.load_signals("demo/signals.csv")
    assert set(signals["keyword"].astype(str)) == {keyword}
    assert set(signals["platform"].astype(str)) == {platform}
    assert signals["value"].max() == 100.0


def test_chinese_trends_export_loads_directly_too(tmp_path):
    shutil.copy(EXPORTS / "trends_zh.csv", tmp_path / "t.csv")
    frame = sc.load_signals("t.csv", data_root=tmp_path)
    assert list(frame["value"]) == [3.0, 4.0, 0.5, 12.0, 41.0, 100.0]


def test_a_chinese_sales_file_is_not_taken_for_a_trends_export(tmp_path):
    (tmp_path / "s.csv").write_text("日期,销量,价格\n2025-03-02,5,49\n2025-03-03,7,49\n", encoding="utf-8")
    sales = sc.load_sales("s.csv", data_root=tmp_path)
    assert list(sales["orders"]) == [5, 7]


def test_daily_panel_becomes_sales_of_the_product_asked_for(project):
    with pytest.raises(InputError, match="111.*222"):
        run_import("daily_panel.csv")
    table, report = run_import("daily_panel.csv", "--product", "111")
    assert report.layout == "daily-product-panel"
    sales = sc.load_sales("demo/sales.csv")
    assert list(sales["orders"]) == [10, 12, 0, 20]
    assert list(sales["price"]) == [49.5, 48.0, 48.0, 45.0]  # no price on the day without sales: carried
    assert "visit_count" in report.dropped


# --------------------------------------------------------------------------------------------- the command


def test_cli_import_prints_the_report_and_json(project, capsys):
    assert main(["import", "--spike", "demo", str(EXPORTS / "taobao_orders_gbk.csv")]) == 0
    out = capsys.readouterr().out
    assert "Taobao/Tmall 订单报表 -> orders" in out and "dropped:" in out and "assumed:" in out
    assert "add `orders: demo/orders.csv` under data:" in out
    assert main(["import", "--spike", "demo", str(EXPORTS / "doudian_orders.csv"), "--out", "x/o.csv",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["layout"] == "doudian-orders" and report["rows_out"] == 2
    assert (project / "data" / "x" / "o.csv").is_file()


def test_unknown_layout_names_the_headers_found_and_kind(project, tmp_path, capsys):
    odd = tmp_path / "odd.csv"
    odd.write_text("foo,bar\n1,2\n", encoding="utf-8")
    assert main(["import", "--spike", "demo", str(odd)]) == 2
    err = capsys.readouterr().err
    assert "not a known export layout" in err and "'foo', 'bar'" in err and "--kind" in err
    assert not (project / "data" / "demo").exists()  # nothing written


def test_kind_forces_an_unknown_layout_through_the_aliases(project, tmp_path):
    odd = tmp_path / "评价导出.csv"
    odd.write_text("评价ID,时间,平台,评分,评价内容,备注\nR1,2025-03-05 10:00,淘宝,5,很好看,x\n", encoding="utf-8")
    table, report = importers.import_file(odd, spike=load_spike("demo"), kind="reviews")
    reviews = sc.load_reviews("demo/reviews.csv")
    assert list(reviews["text"]) == ["很好看"] and int(reviews["rating"].iloc[0]) == 5
    assert report.mapped["review_id"] == "评价ID" and report.dropped == ["备注"]


def test_a_failed_import_leaves_the_earlier_table(project):
    target = project / "data" / "demo" / "orders.csv"
    target.parent.mkdir(parents=True)
    target.write_text("earlier\n", encoding="utf-8")
    bad = project / "bad.csv"
    bad.write_text((EXPORTS / "shopify_orders.csv").read_text(encoding="utf-8").replace(
        "2025-03-05 09:12:31 +0800", "yesterday"), encoding="utf-8")
    with pytest.raises(InputError, match="Created at.*yesterday|yesterday"):
        importers.import_file(bad, spike=load_spike("demo"))
    assert target.read_text(encoding="utf-8") == "earlier\n"
    assert [p.name for p in target.parent.iterdir()] == ["orders.csv"]


# --------------------------------------------------------------------------------------------- aliases, mapping


def test_a_chinese_alias_header_loads_and_errors_name_both_headers(tmp_path):
    (tmp_path / "sales.csv").write_text("时间,销量,单价\n2025-03-02 00:00,5,49\n2025-03-03 00:00,x,49\n",
                                        encoding="utf-8")
    with pytest.raises(InputError) as info:
        sc.load_sales("sales.csv", data_root=tmp_path)
    assert "column '销量 (as orders)'" in str(info.value) and "row 3" in str(info.value)
    (tmp_path / "sales.csv").write_text("时间,销量,单价\n2025-03-02 00:00,5,49\n", encoding="utf-8")
    sales = sc.load_sales("sales.csv", data_root=tmp_path)
    assert list(sales["orders"]) == [5]
    assert sales.attrs["source"]["mapped_columns"] == {"时间": "timestamp", "销量": "orders", "单价": "price"}


def test_two_headers_meaning_one_column_are_an_error_not_a_guess(tmp_path):
    (tmp_path / "sales.csv").write_text("时间,日期,销量,单价\n2025-03-02 00:00,2025-03-02,5,49\n", encoding="utf-8")
    with pytest.raises(InputError, match="'时间', '日期' all mean 'timestamp'"):
        sc.load_sales("sales.csv", data_root=tmp_path)


def test_a_mapping_in_the_spike_file_renames_columns(project):
    data = project / "data"
    (data / "demo").mkdir()
    (data / "demo" / "sales.csv").write_text("结算日,件,均价\n2025-03-02 00:00,5,49\n", encoding="utf-8")
    spike_file = project / "playbook" / "spikes" / "demo.yaml"
    with pytest.raises(InputError, match="missing column 'timestamp'"):
        sc.load_sales("demo/sales.csv")  # not an alias: unreadable without the mapping
    spike_file.write_text("timezone: Asia/Shanghai\ndata: {sales: demo/sales.csv}\n"
                          "columns: {sales: {结算日: timestamp, 件: orders, 均价: price}}\n", encoding="utf-8")
    assert load_spike("demo").columns == {"sales": {"结算日": "timestamp", "件": "orders", "均价": "price"}}
    sales = sc.load_sales("demo/sales.csv")
    assert list(sales["orders"]) == [5] and list(sales["price"]) == [49.0]
    assert sc.check_inputs({"sales": "demo/sales.csv"})["sales"]["mapped_columns"]["件"] == "orders"
    # An error in a mapped column names the file's header and the table column.
    (data / "demo" / "sales.csv").write_text("结算日,件,均价\n2025-03-02 00:00,-5,49\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"column '件 \(as orders\)', row 2"):
        sc.load_sales("demo/sales.csv")


@pytest.mark.parametrize("columns, message", [
    ("{sales: {结算日: when}}", "'when', which is not a column of sales"),
    ("{sale: {结算日: timestamp}}", "unknown table 'sale' (did you mean 'sales'?)"),
    ("{sales: {a: orders, b: orders}}", "both 'a' and 'b' are mapped to 'orders'"),
    ("[1]", "must map table names"),
])
def test_bad_columns_in_a_spike_file_are_config_errors(project, columns, message):
    (project / "playbook" / "spikes" / "demo.yaml").write_text(
        f"timezone: Asia/Shanghai\ncolumns: {columns}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_spike("demo")
    assert message in str(info.value) and "key 'columns'" in str(info.value)


def test_a_mapped_header_missing_from_the_file_names_the_headers_found(tmp_path):
    (tmp_path / "sales.csv").write_text("day,n,p\n2025-03-02 00:00,5,49\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"maps the header '结算日'.*headers found: 'day', 'n', 'p'"):
        sc.load_table("sales.csv", sc.CONTRACTS["sales"], data_root=tmp_path,
                      columns={"结算日": "timestamp", "n": "orders", "p": "price"})
