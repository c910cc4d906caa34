"""``spike import``: a platform's back-office export -> the playbook's table, with a report of what was done.

Each importer knows one platform's documented header layout. It is recognised by a few headers that layout always
has, reads the file as it comes (UTF-8 or GBK, ',' or ';', CSV or XLSX, through ``contracts.read_raw``), builds the
playbook's table (orders, daily sales, signals) and says, column by column, which header it came from, which
headers were dropped and what had to be assumed because the export does not carry it (a 48-hour ship promise, no
returns known, ...). The table is checked by the project's own loader before it replaces anything, and written in
one rename, so a failed import leaves the data folder as it was.

A file whose layout is not known can still be imported with ``--kind``: it is then read as that table through the
contracts' header aliases and the spike's ``columns:`` mapping.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import contracts
from ..core import paths
from ..core.errors import ConfigError, InputError

KINDS = ("orders", "sales", "traffic", "reviews", "signals")
SHIP_PROMISE_HOURS = 48  # the handbook's promise when an export carries no promised ship time
CHINA_REGIONS = {  # province (as the first characters of an address or a 省 column) -> the playbook's regions
    "华东": ("上海", "江苏", "浙江", "安徽", "福建", "江西", "山东"),
    "华南": ("广东", "广西", "海南"),
    "华北": ("北京", "天津", "河北", "山西", "内蒙古"),
    "华中": ("河南", "湖北", "湖南"),
    "西南": ("重庆", "四川", "贵州", "云南", "西藏"),
    "西北": ("陕西", "甘肃", "青海", "宁夏", "新疆"),
    "东北": ("辽宁", "吉林", "黑龙江"),
}
_CANCELLED_WORDS = ("cancel", "refunded", "voided", "failed", "关闭", "取消", "退款成功")


@dataclass(frozen=True)
class Layout:
    """One platform export: how it is recognised, what it can become, where its header layout is documented."""

    name: str
    title: str
    platform: str  # written to the orders table's platform column
    signature: tuple[str, ...]  # headers the export always has (compared ignoring case and spaces)
    kinds: tuple[str, ...]  # tables it can become; the first is the default
    source: str


# Layouts. Each names where its headers come from; the fixtures in tests/fixtures/exports/ follow them.
# Shopify: help.shopify.com "Exporting orders" (Orders > Export, "CSV for Excel..."): one row per line item, order
#   fields (Email, Financial Status, Total, addresses) on the order's first row; times like 2025-03-08 10:15:00 +0800.
SHOPIFY = Layout("shopify-orders", "Shopify orders export", "Shopify",
                 ("Name", "Created at", "Lineitem name", "Lineitem quantity", "Financial Status"), ("orders", "sales"),
                 "help.shopify.com, Orders > Export orders (CSV column reference)")
# WooCommerce: the official "Customer / Order / Coupon Export" extension's default order CSV format
#   (woocommerce.com/document/ordercustomer-csv-exporter): one row per order, items packed in line_items as
#   "name:...|quantity:..|total:.." entries separated by ';'.
WOOCOMMERCE = Layout("woocommerce-orders", "WooCommerce orders export", "WooCommerce",
                     ("order_id", "order_date", "status", "order_total", "line_items"), ("orders", "sales"),
                     "woocommerce.com, Customer/Order/Coupon CSV Export, default order format")
# Taobao/Tmall: 千牛卖家中心 > 已卖出的宝贝 > 批量导出 > 订单报表 (GBK CSV, one row per order; 订单编号 often written
#   ="123..." so Excel keeps the digits).
TAOBAO = Layout("taobao-orders", "Taobao/Tmall 订单报表", "淘宝",
                ("订单编号", "买家会员名", "买家实际支付金额", "订单状态", "订单创建时间", "宝贝标题"), ("orders", "sales"),
                "淘宝/天猫 卖家中心 已卖出的宝贝 > 批量导出 > 订单报表 (字段说明)")
# Douyin shop (抖店): 订单管理 > 导出查询订单 > 标准报表, exported by product (商品维度): one row per sub-order.
DOUDIAN = Layout("doudian-orders", "抖店 order export", "抖音",
                 ("主订单编号", "子订单编号", "选购商品", "商品数量", "订单提交时间"), ("orders", "sales"),
                 "抖店 商家后台 订单报表使用说明 (标准报表, 商品维度)")
# A daily product panel, as Trendyol's (BU-IE-360 course data): ';'-separated, dd.mm.yyyy, one row per product-day.
PANEL = Layout("daily-product-panel", "daily product panel (Trendyol-style)", "",
               ("event_date", "product_content_id", "sold_count", "price"), ("sales",),
               "Trendyol product panel as published with BU-IE-360 (price;event_date;product_content_id;sold_count;...)")
LAYOUTS = (SHOPIFY, WOOCOMMERCE, TAOBAO, DOUDIAN, PANEL)


@dataclass
class ImportReport:
    layout: str
    title: str
    kind: str
    file: str
    out: str = ""
    rows_in: int = 0
    rows_out: int = 0
    mapped: dict = field(default_factory=dict)  # table column -> where it came from
    dropped: list = field(default_factory=list)  # headers of the export not used
    assumed: list = field(default_factory=list)  # what the export does not say, and what was taken instead
    next_step: str = ""

    def to_json(self) -> dict:
        return asdict(self)

    def text(self) -> str:
        lines = [f"imported {self.file}", f"  as: {self.title} -> {self.kind} ({self.rows_in} rows in, "
                 f"{self.rows_out} rows out)", f"  wrote: {self.out}", "  mapped:"]
        lines += [f"    {column} <- {source}" for column, source in self.mapped.items()]
        lines.append("  dropped: " + (", ".join(self.dropped) if self.dropped else "nothing"))
        lines.append("  assumed:" + ("" if self.assumed else " nothing"))
        lines += [f"    - {a}" for a in self.assumed]
        if self.next_step:
            lines.append(f"  next: {self.next_step}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------------
# Recognising


def _key(name) -> str:
    return re.sub(r"\s+", " ", str(name)).strip().lower()


def recognise(headers) -> Layout | None:
    """The layout whose signature headers are all present, or None."""
    present = {_key(h) for h in headers}
    for layout in LAYOUTS:
        if all(_key(h) in present for h in layout.signature):
            return layout
    return None


def _unknown_layout(file, headers) -> InputError:
    shown = ", ".join(repr(str(h)) for h in list(headers)[:25]) + (" ..." if len(headers) > 25 else "")
    known = "; ".join(layout.title for layout in LAYOUTS) + "; Google Trends"
    return InputError(f"not a known export layout (headers found: {shown}; layouts known: {known})", file=str(file),
                      rows=[1], fix=f"give --kind {'|'.join(KINDS)} to read it as that playbook table (its headers "
                                    "must then be the table's columns, known aliases, or mapped under columns: in the "
                                    "spike file)")


# ----------------------------------------------------------------------------------------------------------------
# Reading helpers


class _Columns:
    """Header lookup ignoring case and spaces; remembers which headers were used (the rest are 'dropped')."""

    def __init__(self, frame: pd.DataFrame, file: str):
        self.frame = frame
        self.file = file
        self.by_key = {_key(c): c for c in frame.columns}
        self.used: list[str] = []

    def has(self, name: str) -> bool:
        return _key(name) in self.by_key

    def get(self, *names: str, required: bool = True) -> tuple[pd.Series | None, str | None]:
        for name in names:
            actual = self.by_key.get(_key(name))
            if actual is not None:
                if actual not in self.used:
                    self.used.append(actual)
                return self.frame[actual].astype(str).map(_clean_cell), actual
        if required:
            raise InputError(f"missing column {names[0]!r} of this export's layout", file=self.file, rows=[1],
                             fix="export the file again with all default columns")
        return None, None

    def dropped(self) -> list[str]:
        return [str(c) for c in self.frame.columns if c not in self.used]


def _clean_cell(value: str) -> str:
    """Undo spreadsheet-safe wrappings exports use for long numbers: ="123", '123, and trailing tabs."""
    text = str(value).strip().strip("\t")
    match = re.fullmatch(r'="?(.*?)"?', text)
    if match:
        text = match[1]
    return text.lstrip("'") if text.startswith("'") and text[1:].isdigit() else text


def _numbers(values: pd.Series, header: str, file: str, rows: np.ndarray) -> np.ndarray:
    text = values.str.replace(r"[,¥￥$€£\s]", "", regex=True).str.replace("元", "", regex=False)
    parsed = pd.to_numeric(text.where(text != "", None), errors="coerce")
    bad = parsed.isna().to_numpy() & (text != "").to_numpy()
    if bad.any():
        raise InputError(f"cannot read {values.iloc[int(np.flatnonzero(bad)[0])]!r} as a number", file=file,
                         column=header, rows=rows[bad].tolist(), fix="export the file again without editing it")
    return parsed.to_numpy(dtype=float)


def _times(values: pd.Series, header: str, file: str, rows: np.ndarray, tz: str, *, dayfirst: bool = False,
           required: bool = True) -> pd.Series:
    """Local naive times in the spike's zone; a value with a UTC offset (Shopify's +0800) is converted."""
    text = values.where(values != "", None)
    has_offset = text.fillna("").str.contains(r"(?:[+-]\d{2}:?\d{2}|Z)$", regex=True)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    if has_offset.any():
        aware = pd.to_datetime(text[has_offset], utc=True, errors="coerce", format="mixed")
        out[has_offset] = aware.dt.tz_convert(tz).dt.tz_localize(None).astype("datetime64[ns]")
    plain = ~has_offset & text.notna()
    if plain.any():
        out[plain] = pd.to_datetime(text[plain], errors="coerce", dayfirst=dayfirst, format="mixed").astype(
            "datetime64[ns]")
    bad = (out.isna() & text.notna()).to_numpy().copy()
    if required:
        bad = bad | text.isna().to_numpy()
    if bad.any():
        first = values.iloc[int(np.flatnonzero(bad)[0])]
        raise InputError(f"cannot read {first!r} as a date/time" if first else "empty date/time", file=file,
                         column=header, rows=rows[bad].tolist(), fix="export the file again without editing it")
    return out


def _region(text: str) -> str:
    """A Chinese province or address -> the playbook's region (华东 ...); anything else is kept as written."""
    text = str(text).strip()
    for region, provinces in CHINA_REGIONS.items():
        if any(text.startswith(p) for p in provinces):
            return region
    return text.split()[0] if text else ""


def _cancelled(status: pd.Series) -> np.ndarray:
    lowered = status.str.lower()
    return np.array([any(w in s for w in _CANCELLED_WORDS) for s in lowered], dtype=bool)


# ----------------------------------------------------------------------------------------------------------------
# Per platform: the export -> order lines (one row per line item, with the order's fields)

_LINE_COLUMNS = ("order_id", "placed", "buyer", "product", "variant", "region", "quantity", "amount", "order_total",
                 "shipped", "delivered", "promised", "cancelled")


@dataclass
class _Lines:
    frame: pd.DataFrame  # _LINE_COLUMNS
    mapped: dict
    assumed: list
    dropped: list


def _row_numbers(frame: pd.DataFrame, info: dict) -> np.ndarray:
    numbers = info.get("row_numbers")
    if numbers is not None:
        return np.asarray(numbers)
    return np.arange(len(frame)) + int(info.get("first_row", 2))


def _shopify(frame: pd.DataFrame, info: dict, file: str, tz: str) -> _Lines:
    cols, rows = _Columns(frame, file), _row_numbers(frame, info)
    order_id, h_id = cols.get("Name")
    # Order fields sit on an order's first row only: carry them to its other line items.
    def order_field(*names, required=False):
        values, header = cols.get(*names, required=required)
        if values is None:
            return pd.Series("", index=frame.index), None
        return values.where(values != "").groupby(order_id).transform("first").fillna(""), header

    created, h_created = order_field("Created at", required=True)
    email, h_email = order_field("Email")
    province, h_prov = order_field("Shipping Province", "Shipping Province Name", "Billing Province")
    total, h_total = order_field("Total")
    status, h_status = order_field("Financial Status")
    cancelled_at, h_cancel = order_field("Cancelled at")
    fulfilled, h_ful = order_field("Fulfilled at")
    name, h_name = cols.get("Lineitem name")
    quantity, h_qty = cols.get("Lineitem quantity")
    price, h_price = cols.get("Lineitem price")
    qty = _numbers(quantity, h_qty, file, rows)
    # Shopify names a variant's line "Product - Variant".
    product = name.str.rsplit(" - ", n=1).str[0]
    variant = name.map(lambda n: n.rsplit(" - ", 1)[1] if " - " in n else "default")
    out = pd.DataFrame({
        "order_id": order_id, "placed": _times(created, h_created, file, rows, tz),
        "buyer": email, "product": product, "variant": variant, "region": province.map(_region),
        "quantity": qty, "amount": _numbers(price, h_price, file, rows) * qty,
        "order_total": _numbers(total.where(total != "", "0"), h_total or "Total", file, rows),
        "shipped": _times(fulfilled, h_ful or "Fulfilled at", file, rows, tz, required=False),
        "delivered": pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]"),
        "promised": pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]"),
        "cancelled": _cancelled(status) | (cancelled_at != "").to_numpy(),
    })
    mapped = {"order_id": h_id, "timestamp": f"{h_created} (converted to the spike's time zone)",
              "buyer_id": h_email or "(none)", "product": f"{h_name} (before ' - ')",
              "variant": f"{h_name} (after ' - ', else 'default')", "region": h_prov or "(none)",
              "price": h_total, "shipped": h_ful or "(none)", "units (sales)": h_qty,
              "price (sales)": f"{h_price} x {h_qty}"}
    assumed = ["delivered: the export has no delivery time, left empty (not delivered yet)"]
    if h_cancel or h_status:
        assumed.append(f"orders with {h_cancel or ''}{' set or ' if h_cancel else ''}{h_status} refunded/voided are "
                       "left out as cancelled")
    return _Lines(out, mapped, assumed, cols.dropped())


def _woo_items(text: str) -> list[dict]:
    items = []
    for entry in filter(None, (e.strip() for e in str(text).split(";"))):
        fields = dict(part.split(":", 1) for part in entry.split("|") if ":" in part)
        items.append({k.strip(): v.strip() for k, v in fields.items()})
    return items


def _woocommerce(frame: pd.DataFrame, info: dict, file: str, tz: str) -> _Lines:
    cols, rows = _Columns(frame, file), _row_numbers(frame, info)
    order_id, h_id = cols.get("order_id")
    date, h_date = cols.get("order_date")
    status, h_status = cols.get("status")
    total, h_total = cols.get("order_total")
    items, h_items = cols.get("line_items")
    customer, h_cust = cols.get("customer_id", required=False)
    email, h_email = cols.get("billing_email", required=False)
    state, h_state = cols.get("shipping_state", "billing_state", required=False)
    completed, h_done = cols.get("completed_date", required=False)
    placed = _times(date, h_date, file, rows, tz)
    done = (_times(completed, h_done, file, rows, tz, required=False) if completed is not None
            else pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]"))
    totals = _numbers(total, h_total, file, rows)
    records = []
    for i in range(len(frame)):
        parsed = _woo_items(items.iloc[i]) or [{}]
        buyer = customer.iloc[i] if customer is not None and customer.iloc[i] not in ("", "0") else ""
        if not buyer and email is not None:
            buyer = email.iloc[i]
        for item in parsed:
            try:
                qty = float(item.get("quantity", "") or "nan")
                amount = float(item.get("total", "") or "nan")
            except ValueError:
                raise InputError(f"cannot read the quantity/total of item {item!r}", file=file, column=h_items,
                                 rows=[int(rows[i])], fix="export the orders again in the default format") from None
            records.append({
                "order_id": order_id.iloc[i], "placed": placed.iloc[i], "buyer": buyer,
                "product": item.get("name", ""), "variant": item.get("meta", "") or "default",
                "region": "" if state is None else _region(state.iloc[i]), "quantity": qty, "amount": amount,
                "order_total": totals[i],
                "shipped": done.iloc[i] if status.iloc[i].lower() == "completed" else pd.NaT,
                "delivered": pd.NaT, "promised": pd.NaT, "cancelled": bool(_cancelled(status.iloc[[i]])[0])})
    out = pd.DataFrame.from_records(records, columns=list(_LINE_COLUMNS))
    for column in ("placed", "shipped", "delivered", "promised"):
        out[column] = pd.to_datetime(out[column]).astype("datetime64[ns]")
    mapped = {"order_id": h_id, "timestamp": h_date, "buyer_id": f"{h_cust} (guests: {h_email})",
              "product": f"{h_items} name:", "variant": f"{h_items} meta: (else 'default')",
              "region": h_state or "(none)", "price": h_total, "shipped": f"{h_done} (completed orders)",
              "units (sales)": f"{h_items} quantity:", "price (sales)": f"{h_items} total:"}
    assumed = ["shipped: a completed order's completed_date (the export has no ship time); others not shipped yet",
               "delivered: not in the export, left empty",
               f"orders whose {h_status} is cancelled, refunded or failed are left out"]
    return _Lines(out, mapped, assumed, cols.dropped())


def _taobao(frame: pd.DataFrame, info: dict, file: str, tz: str) -> _Lines:
    cols, rows = _Columns(frame, file), _row_numbers(frame, info)
    order_id, h_id = cols.get("订单编号")
    buyer, h_buyer = cols.get("买家会员名")
    paid, h_paid = cols.get("买家实际支付金额")
    status, h_status = cols.get("订单状态")
    created, h_created = cols.get("订单创建时间")
    title, h_title = cols.get("宝贝标题")
    address, h_addr = cols.get("收货地址", required=False)
    qty_text, h_qty = cols.get("宝贝总数量", required=False)
    shipped, h_ship = cols.get("发货时间", required=False)
    received, h_recv = cols.get("确认收货时间", required=False)
    qty = np.ones(len(frame)) if qty_text is None else _numbers(qty_text, h_qty, file, rows)
    paid_values = _numbers(paid, h_paid, file, rows)
    none = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    out = pd.DataFrame({
        "order_id": order_id, "placed": _times(created, h_created, file, rows, tz), "buyer": buyer,
        "product": title, "variant": "default",
        "region": (pd.Series("", index=frame.index) if address is None else address.map(_region)),
        "quantity": qty, "amount": paid_values, "order_total": paid_values,
        "shipped": none if shipped is None else _times(shipped, h_ship, file, rows, tz, required=False),
        "delivered": none if received is None else _times(received, h_recv, file, rows, tz, required=False),
        "promised": none, "cancelled": _cancelled(status)})
    mapped = {"order_id": f"{h_id} (=\"...\" unwrapped)", "timestamp": h_created, "buyer_id": h_buyer,
              "product": h_title, "region": f"{h_addr} (province -> 华东/华南/...)" if h_addr else "(none)",
              "price": h_paid, "shipped": h_ship or "(none)", "delivered": h_recv or "(none)",
              "units (sales)": h_qty or "(1 per order)", "price (sales)": f"{h_paid} / units"}
    assumed = ["variant: the 订单报表 has no SKU column ('default'; the 宝贝报表 has it)",
               "platform: 淘宝 (a Tmall shop's report has the same layout)",
               f"orders whose {h_status} is 交易关闭 or 退款成功 are left out"]
    if shipped is None:
        assumed.append("shipped: not in this report, left empty")
    return _Lines(out, mapped, assumed, cols.dropped())


def _doudian(frame: pd.DataFrame, info: dict, file: str, tz: str) -> _Lines:
    cols, rows = _Columns(frame, file), _row_numbers(frame, info)
    order_id, h_id = cols.get("主订单编号")
    cols.get("子订单编号")
    product, h_prod = cols.get("选购商品")
    spec, h_spec = cols.get("商品规格", required=False)
    quantity, h_qty = cols.get("商品数量")
    payable, h_pay = cols.get("订单应付金额", "商品金额")
    created, h_created = cols.get("订单提交时间")
    province, h_prov = cols.get("省", "收件人省", required=False)
    status, h_status = cols.get("订单状态", required=False)
    after, h_after = cols.get("售后状态", required=False)
    shipped, h_ship = cols.get("发货时间", required=False)
    promised, h_prom = cols.get("承诺发货时间", "预约发货时间", required=False)
    done, h_done = cols.get("订单完成时间", required=False)
    none = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    amount = _numbers(payable, h_pay, file, rows)
    cancelled = np.zeros(len(frame), dtype=bool)
    for text in (status, after):
        if text is not None:
            cancelled |= _cancelled(text)
    out = pd.DataFrame({
        "order_id": order_id, "placed": _times(created, h_created, file, rows, tz),
        "buyer": "", "product": product,
        "variant": pd.Series("default", index=frame.index) if spec is None else spec.where(spec != "", "default"),
        "region": pd.Series("", index=frame.index) if province is None else province.map(_region),
        "quantity": _numbers(quantity, h_qty, file, rows), "amount": amount,
        "order_total": pd.Series(amount, index=frame.index).groupby(order_id).transform("sum").to_numpy(),
        "shipped": none if shipped is None else _times(shipped, h_ship, file, rows, tz, required=False),
        "delivered": none if done is None else _times(done, h_done, file, rows, tz, required=False),
        "promised": none if promised is None else _times(promised, h_prom, file, rows, tz, required=False),
        "cancelled": cancelled})
    mapped = {"order_id": h_id, "timestamp": h_created, "product": h_prod, "variant": h_spec or "(default)",
              "region": f"{h_prov} (province -> 华东/华南/...)" if h_prov else "(none)",
              "price": f"{h_pay} (summed over the order's sub-orders)", "shipped": h_ship or "(none)",
              "delivered": f"{h_done} (order completed)" if h_done else "(none)",
              "promised_ship": h_prom or f"(order time + {SHIP_PROMISE_HOURS} h)",
              "units (sales)": h_qty, "price (sales)": f"{h_pay} / units"}
    assumed = ["buyer_id: the export carries no buyer account (masked phone only): each order is its own buyer, "
               "so chapter 12 sees no repurchases from this file",
               "delivered: 订单完成时间 (the buyer confirmed or the platform closed the order)"]
    if status is not None or after is not None:
        assumed.append(f"sub-orders whose {h_status or ''} {h_after or ''} says 已关闭/已取消/退款成功 are left out")
    return _Lines(out, mapped, assumed, cols.dropped())


_ORDER_READERS = {SHOPIFY.name: _shopify, WOOCOMMERCE.name: _woocommerce, TAOBAO.name: _taobao,
                  DOUDIAN.name: _doudian}


# ----------------------------------------------------------------------------------------------------------------
# Order lines -> the playbook's tables


def _stamp(values: pd.Series) -> pd.Series:
    return values.dt.strftime("%Y-%m-%d %H:%M:%S").fillna("")


def _orders_table(lines: _Lines, layout: Layout, report: ImportReport) -> pd.DataFrame:
    frame = lines.frame
    kept = frame[~frame["cancelled"]]
    n_cancelled = frame.loc[frame["cancelled"], "order_id"].nunique()
    if n_cancelled:
        report.assumed.append(f"{n_cancelled} cancelled/closed order(s) left out")
    orders = kept.groupby("order_id", sort=False).agg(
        placed=("placed", "first"), buyer=("buyer", "first"), product=("product", "first"),
        variant=("variant", "first"), region=("region", "first"), order_total=("order_total", "first"),
        amount=("amount", "sum"), lines=("product", "size"), shipped=("shipped", "first"),
        delivered=("delivered", "first"), promised=("promised", "first")).reset_index()
    several = int((orders["lines"] > 1).sum())
    if several:
        report.assumed.append(f"{several} order(s) with several lines: product and variant of the first line, "
                              "price the order's total")
    price = orders["order_total"].where(orders["order_total"].notna() & (orders["order_total"] > 0), orders["amount"])
    buyer = orders["buyer"].where(orders["buyer"] != "", "order-" + orders["order_id"].astype(str))
    promised = orders["promised"].fillna(orders["placed"] + pd.Timedelta(hours=SHIP_PROMISE_HOURS))
    if orders["promised"].isna().any():
        report.assumed.append(f"promised_ship: order time + {SHIP_PROMISE_HOURS} h (the handbook's 48-hour promise) "
                              "where the export has no promised ship time")
    orders = orders.assign(price=price, buyer=buyer, promised=promised).sort_values(["placed", "order_id"],
                                                                                    kind="stable")
    prior = orders.groupby("buyer", sort=False).cumcount()
    report.assumed.append("buyer_prior_orders: counted from this file's own earlier orders of the buyer "
                          "(orders before the export's window are not seen)")
    report.assumed.append("buyer_prior_returns: 0 (an orders export does not say which earlier orders came back)")
    blank_region = int((orders["region"] == "").sum())
    if blank_region:
        report.assumed.append(f"region: {blank_region} order(s) without a shipping province read as 'unknown'")
    return pd.DataFrame({
        "order_id": orders["order_id"].astype(str), "timestamp": _stamp(orders["placed"]),
        "buyer_id": orders["buyer"].astype(str), "product": orders["product"], "platform": layout.platform,
        "variant": orders["variant"].where(orders["variant"] != "", "default"),
        "region": orders["region"].where(orders["region"] != "", "unknown"),
        "price": orders["price"].round(2), "promised_ship": _stamp(orders["promised"]),
        "shipped": _stamp(orders["shipped"]), "delivered": _stamp(orders["delivered"].where(orders["shipped"].notna())),
        "buyer_prior_orders": prior.astype(int).to_numpy(), "buyer_prior_returns": 0})


def _pick_product(names: pd.Series, product: str | None, file: str, what: str) -> np.ndarray:
    distinct = sorted(set(names.astype(str)))
    if product is None:
        if len(distinct) == 1:
            return np.ones(len(names), dtype=bool)
        shown = ", ".join(repr(d) for d in distinct[:12]) + (" ..." if len(distinct) > 12 else "")
        raise InputError(f"the file holds {len(distinct)} {what}s ({shown}): daily sales are one product's",
                         file=file, fix=f"give --product with one of them (part of the name is enough)")
    wanted = names.astype(str).str.contains(re.escape(product), case=False, regex=True).to_numpy()
    if not wanted.any():
        shown = ", ".join(repr(d) for d in distinct[:12])
        raise InputError(f"no {what} matches --product {product!r} ({what}s found: {shown})", file=file,
                         fix="give --product with one of them (part of the name is enough)")
    return wanted


def _daily_sales(days: pd.Series, units: np.ndarray, revenue: np.ndarray, report: ImportReport) -> pd.DataFrame:
    """Per local day: units and the average price; stamped at the day's end (the sales table's rule)."""
    frame = pd.DataFrame({"day": days.dt.normalize(), "units": units, "revenue": revenue})
    daily = frame.groupby("day").sum()
    full = pd.date_range(daily.index.min(), daily.index.max(), freq="D")
    daily = daily.reindex(full, fill_value=0.0)
    price = (daily["revenue"] / daily["units"].where(daily["units"] > 0)).ffill().bfill()
    if (daily["units"] == 0).any():
        report.assumed.append(f"{int((daily['units'] == 0).sum())} day(s) without sales: 0 units at the last "
                              "known price")
    return pd.DataFrame({"timestamp": _stamp(pd.Series(full + pd.Timedelta(days=1))).to_numpy(),
                         "orders": daily["units"].round().astype(int).to_numpy(),
                         "price": price.round(2).to_numpy()})


def _sales_from_lines(lines: _Lines, product: str | None, file: str, report: ImportReport) -> pd.DataFrame:
    frame = lines.frame[~lines.frame["cancelled"]]
    if frame.empty:
        raise InputError("every order in the file is cancelled or closed: no sales to import", file=file,
                         fix="export a period with paid orders")
    frame = frame[_pick_product(frame["product"], product, file, "product")]
    report.assumed.append("cancelled/closed orders left out; days are the spike's local days")
    amount = frame["amount"].where(frame["amount"].notna(), frame["order_total"]).to_numpy(dtype=float)
    return _daily_sales(frame["placed"], frame["quantity"].to_numpy(dtype=float), amount, report)


def _sales_from_panel(frame: pd.DataFrame, info: dict, file: str, product: str | None,
                      report: ImportReport) -> pd.DataFrame:
    cols, rows = _Columns(frame, file), _row_numbers(frame, info)
    ids, h_id = cols.get("product_content_id")
    date, h_date = cols.get("event_date")
    sold, h_sold = cols.get("sold_count")
    price, h_price = cols.get("price")
    pick = _pick_product(ids, product, file, "product_content_id") if product is None else (ids == product).to_numpy()
    if not pick.any():
        shown = ", ".join(sorted(set(ids))[:12])
        raise InputError(f"no product_content_id is {product!r} (found: {shown})", file=file, column=h_id,
                         fix="give --product with one of the ids")
    frame, rows = frame[pick], rows[pick]
    days = _times(date[pick], h_date, file, rows, "UTC", dayfirst=True)
    if days.duplicated().any():
        dup = days.duplicated(keep=False).to_numpy()
        raise InputError("the same day appears twice for this product", file=file, column=h_date,
                         rows=rows[dup].tolist(), fix="keep one row per product and day")
    units = _numbers(sold[pick], h_sold, file, rows)
    prices = _numbers(price[pick], h_price, file, rows)
    known = ~np.isnan(prices) & (prices > 0)
    report.mapped.update({"timestamp": f"{h_date} (dd.mm.yyyy; stamped at the day's end)", "orders": h_sold,
                          "price": f"{h_price} (the day's average)"})
    if (~known).any():
        report.assumed.append(f"{h_price}: {int((~known).sum())} day(s) without a price (no sales) take the last "
                              "known price (the first known one before any)")
    order = np.argsort(days.to_numpy(), kind="stable")
    days, units, prices, known = days.iloc[order], units[order], prices[order], known[order]
    filled = pd.Series(np.where(known, prices, np.nan)).ffill().bfill().to_numpy()
    if np.isnan(filled).all():
        raise InputError("the product has no price on any day", file=file, column=h_price,
                         fix="pick a product that sold at least once")
    out = _daily_sales(days.reset_index(drop=True), units, filled * units, ImportReport("", "", "", ""))
    # Days without sales keep their own (carried) price rather than a revenue-weighted one.
    full = pd.date_range(days.min().normalize(), days.max().normalize(), freq="D")
    carried = pd.Series(filled, index=days.dt.normalize().to_numpy()).reindex(full).ffill().bfill()
    out["price"] = carried.round(4).to_numpy()
    missing = len(full) - len(days)
    if missing:
        report.assumed.append(f"{missing} day(s) absent from the panel: 0 units")
    report.dropped = cols.dropped()
    return out


def _signals_from_trends(frame: pd.DataFrame, info: dict, report: ImportReport) -> pd.DataFrame:
    report.mapped.update({"keyword": "the term in each column header", "platform": "google-trends:<geo in the header>",
                          "timestamp": "the first column (the period's date, as the loader reads a Trends export)",
                          "value": "the term's column", "metric": "search_index"})
    if info.get("below_one"):
        report.assumed.append(f"{info['below_one']} value(s) written '<1' read as 0.5")
    report.assumed.append(f"period: {info.get('period') or 'unknown'} (from the spacing of the dates)")
    return frame[["keyword", "platform", "timestamp", "value", "metric"]].astype({"keyword": str, "platform": str})


def _generic(frame: pd.DataFrame, info: dict, kind: str, file: str, tz: str, columns: dict,
             report: ImportReport) -> pd.DataFrame:
    """--kind on an unknown layout: the table's own columns, its aliases or the spike's columns: mapping."""
    contract = contracts.CONTRACTS[kind]
    clean = contracts.validate_table(frame, contract, tz=tz, file=file, info=info, columns=columns)
    renamed = info.get("mapped_columns", {})
    for header, column in renamed.items():
        report.mapped[column] = header
    for column in contract.names:
        report.mapped.setdefault(column, column if column in frame.columns or column.lower() in
                                 {str(c).lower() for c in frame.columns} else "(empty: optional)")
    report.dropped = list(info.get("ignored_columns", []))
    out = clean.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype):
            out[column] = out[column].dt.tz_localize(None).dt.strftime("%Y-%m-%d %H:%M:%S")
    return out


# ----------------------------------------------------------------------------------------------------------------
# Entry point


def default_out(spike, kind: str) -> tuple[str, bool]:
    """(path under the data folder, whether the spike already names it): the spike's data: file for the table, else
    <spike>/<table>.csv."""
    if kind in spike.data:
        return spike.data[kind], True
    return f"{spike.name}/{kind}.csv", False


def import_file(path, *, spike, kind: str | None = None, out: str | None = None, product: str | None = None,
                write: bool = True) -> tuple[pd.DataFrame, ImportReport]:
    """Recognise ``path``'s layout, build the ``kind`` table, check it with the project's loader and write it
    (atomically) into the spike's data folder. Returns (table, report)."""
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"--kind {kind!r} is not one of {', '.join(KINDS)}")
    path = Path(path).expanduser()
    file = str(path)
    tz = spike.timezone
    frame, info = contracts.read_raw(path)
    layout = None
    if info.get("format") == "google-trends":
        title, name = "Google Trends export", "google-trends"
        if kind not in (None, "signals"):
            raise InputError(f"a Google Trends export becomes the signals table, not {kind}", file=file,
                             fix="use --kind signals (or leave --kind out)")
        kind = "signals"
    else:
        layout = recognise(frame.columns)
        if layout is None and kind is None:
            raise _unknown_layout(file, list(frame.columns))
        if layout is not None and kind is not None and kind not in layout.kinds:
            raise InputError(f"a {layout.title} becomes {' or '.join(layout.kinds)}, not {kind}", file=file,
                             fix=f"use --kind {layout.kinds[0]}")
        if layout is not None:
            kind = kind or layout.kinds[0]
            title, name = layout.title, layout.name
        else:
            title, name = f"{kind} table (its own columns, aliases or the spike's columns: mapping)", "table"
    report = ImportReport(layout=name, title=title, kind=kind, file=file, rows_in=int(len(frame)))
    if name == "google-trends":
        table = _signals_from_trends(frame, info, report)
    elif layout is PANEL:
        table = _sales_from_panel(frame, info, file, product, report)
    elif layout is not None:
        lines = _ORDER_READERS[layout.name](frame, info, file, tz)
        report.mapped.update(lines.mapped)
        report.dropped = lines.dropped
        report.assumed.extend(lines.assumed)
        if kind == "orders":
            table = _orders_table(lines, layout, report)
        else:
            table = _sales_from_lines(lines, product, file, report)
    else:
        table = _generic(frame, info, kind, file, tz, spike.columns.get(kind, {}), report)
    report.rows_out = int(len(table))
    relative, named = (out, kind in spike.data and spike.data[kind] == out) if out else default_out(spike, kind)
    if not named:
        report.next_step = (f"add `{kind}: {relative}` under data: in {spike.path}" if not out or
                            not Path(out).is_absolute() else f"name the file under data: in {spike.path}")
    if write:
        report.out = str(write_table(table, relative, kind, tz))
    return table, report


def write_table(table: pd.DataFrame, relative: str, kind: str, tz: str) -> Path:
    """Write ``table`` as CSV under the data folder in one rename, after the project's loader has read it back."""
    target = paths.resolve_under(paths.data_root(), relative, what=f"{kind} output")
    if target.suffix.lower() != ".csv":
        raise ConfigError(f"--out {relative}: the imported table is written as CSV. Fix: give a path ending in .csv")
    if target.is_dir():
        raise ConfigError(f"--out {target} is a folder. Fix: give the table file's path, e.g. .../{kind}.csv")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the folder {target.parent} ({exc.strerror or exc}). Fix: check the path "
                          "and its permissions") from None
    partial = target.with_name(f".{target.stem}.import-{os.getpid()}.csv")
    try:
        table.to_csv(partial, index=False, encoding="utf-8", lineterminator="\n")
        # The project's own loader must read what was written, before it replaces anything.
        contracts._load_resolved(partial.resolve(), contracts.CONTRACTS[kind], tz=tz, sheet=None, columns={})
        os.replace(partial, target)
    except OSError as exc:
        raise ConfigError(f"cannot write {target} ({exc.strerror or exc}). Fix: check the disk and the folder's "
                          "permissions") from None
    finally:
        if partial.exists():
            partial.unlink()
    return target


def run_cli(args) -> int:
    """``spike import --spike NAME FILE [--kind K] [--out PATH] [--product P] [--json]``."""
    from .settings import load_spike

    spike = load_spike(args.spike)
    _, report = import_file(args.file, spike=spike, kind=args.kind, out=args.out, product=args.product)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=1))
    else:
        print(report.text())
    return 0
