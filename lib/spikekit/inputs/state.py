"""The spike's state as of a moment: what the shop did and has (the ledger), and where the spike stands (phase).

Chapters used to plan as if nothing had happened yet: every run re-issued the first order, stock on hand was an
undated snapshot and nothing knew what was already on order. This module is the one place that answers, for a
moment T and with nothing recorded after T:

- **the ledger** (``Ledger``): purchase orders placed (with cancellations), goods received, dated stock counts
  and the decisions the team approved (``spike approve`` appends there). Four dated tables a seller can keep or
  export; rows stamped after T are invisible to a run as of T.
- **the position** (``position``): stock on hand (latest count at or before T, plus receipts, minus units sold
  since), units still on order, the customer backlog (sold but not yet shipped), and day by day whether the shop
  was sold out (a sold-out day's sales are censored demand, not low demand).
- **the phase** (``derive_phase``): watching -> validating -> launching -> rising -> peak -> declining -> exited, or
  no-go, from the evidence (alert, validation call, realised sales, approved exit), with the evidence listed.
- **the order increment** (``order_increment``): demand over the supplier lead window plus backlog, minus stock
  and open orders, in the phases where ordering makes sense; in the others only the paid backlog not yet covered.
- **contradictions** (``contradictions``): calls of one run that cannot all be followed (an order on a declining
  day beyond the paid backlog it owes, an order and a production brake at once, hold the price and mark down at once, a kit asked for twice ...).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from . import contracts
from .contracts import Column, Contract
from ..core.errors import ConfigError, InputError

PHASES = ("watching", "validating", "no-go", "launching", "rising", "peak", "declining", "exited")
ORDERING_PHASES = frozenset({"launching", "rising"})  # the only phases in which new production is ordered
APPROVAL_KINDS = ("order", "cancel", "markdown", "budget_move", "content_kit", "financing", "exit")

# ----------------------------------------------------------------------------------------------------------
# The ledger's tables

PURCHASE_ORDERS = Contract(
    name="purchase_orders",
    description="Purchase orders the shop placed: one row per order line (a supplier's units due on one day).",
    columns=(
        Column("po_id", "str", "Order line id, unique (e.g. PO-0311-1)."),
        Column("supplier", "str", "Supplier name, as in the suppliers table."),
        Column("units", "int", "Units ordered on this line.", non_negative=True),
        Column("unit_cost", "float", "Price per unit (yuan).", non_negative=True),
        Column("placed_at", "timestamp", "When the order was placed; a run as of an earlier moment does not see it."),
        Column("expected_arrival", "timestamp", "When the units are expected at our warehouse."),
        Column("cancelled_at", "str", "When the line was cancelled (YYYY-MM-DD HH:MM); empty while it stands.",
               required=False),
        Column("source_run", "str", "Run whose proposal this order follows (written by spike approve); may be empty.",
               required=False),
    ),
    key=("po_id",),
)

RECEIPTS = Contract(
    name="receipts",
    description="Goods received at our warehouse against purchase orders.",
    columns=(
        Column("po_id", "str", "The purchase-order line received against."),
        Column("received_at", "timestamp", "When the goods were booked in."),
        Column("units", "int", "Units received (good units; rejects are not received).", non_negative=True),
    ),
    key=("po_id", "received_at"),
)

STOCK_COUNTS = Contract(
    name="stock_counts",
    description="Dated stock counts: sellable units counted in the warehouse at a moment.",
    columns=(
        Column("counted_at", "timestamp", "When the units were counted."),
        Column("on_hand", "int", "Sellable units counted.", non_negative=True),
    ),
    key=("counted_at",),
)

APPROVALS = Contract(
    name="approvals",
    description="Decisions the team approved (append-only; spike approve writes it).",
    columns=(
        Column("approval_id", "str", "Unique id of the approval line."),
        Column("approved_at", "timestamp", "When it was approved; runs as of an earlier moment do not see it."),
        Column("by", "str", "Who approved it."),
        Column("run_id", "str", "The run whose proposal was approved.", required=False),
        Column("chapter", "str", "Chapter that proposed it (01-12).", required=False),
        Column("kind", "str", "What was approved.", allowed=APPROVAL_KINDS),
        Column("item", "str", "Short description (supplier, platform, discount ...)."),
        Column("units", "int", "Units concerned (0 when none).", non_negative=True),
        Column("amount", "float", "Money committed or given up (yuan; 0 when none).", non_negative=True),
        Column("detail", "str", "Anything else (JSON or text).", required=False),
    ),
    key=("approval_id",),
)

# Kept apart from contracts.CONTRACTS (the playbook's input tables): the ledger is the shop's record, read by the
# state, never a chapter input; data/README.md documents both.
LEDGER_CONTRACTS = {c.name: c for c in (PURCHASE_ORDERS, RECEIPTS, STOCK_COUNTS, APPROVALS)}
LEDGER_FILES = {name: f"{name}.csv" for name in LEDGER_CONTRACTS}


def _empty(contract: Contract, tz: str) -> pd.DataFrame:
    data = {}
    for col in contract.columns:
        if col.dtype == "timestamp":
            data[col.name] = pd.Series([], dtype=f"datetime64[ns, {tz}]")
        elif col.dtype == "int":
            data[col.name] = pd.Series([], dtype="int64")
        elif col.dtype == "float":
            data[col.name] = pd.Series([], dtype="float64")
        else:
            data[col.name] = pd.Series([], dtype="str")
    return pd.DataFrame(data)


def _parse_optional_time(frame: pd.DataFrame, column: str, tz: str, file: str) -> pd.Series:
    """An optional time column kept as text by the contract: empty -> NaT, else a time in the spike's zone."""
    text = frame[column].astype("str").str.strip() if column in frame else pd.Series("", index=frame.index)
    out = pd.Series(pd.NaT, index=frame.index, dtype=f"datetime64[ns, {tz}]")
    filled = text.ne("") & text.ne("nan")
    if filled.any():
        parsed = pd.to_datetime(text[filled], errors="coerce", format="mixed")
        bad = parsed.isna()
        if bad.any():
            rows = [int(i) + 2 for i in np.flatnonzero(filled.to_numpy())[bad.to_numpy()]]
            raise InputError("not a date-time", file=file, column=column, rows=rows,
                             fix="write YYYY-MM-DD HH:MM (local time of the spike), or leave the cell empty")
        if parsed.dt.tz is None:
            parsed = parsed.dt.tz_localize(tz, nonexistent="shift_forward", ambiguous="NaT")
        else:
            parsed = parsed.dt.tz_convert(tz)
        out.loc[filled] = parsed.astype(out.dtype)
    return out


@dataclass
class Ledger:
    """The shop's dated record of what it did: purchase orders, receipts, stock counts, approvals."""

    purchase_orders: pd.DataFrame
    receipts: pd.DataFrame
    stock_counts: pd.DataFrame
    approvals: pd.DataFrame
    tz: str = "Asia/Shanghai"
    source: dict = field(default_factory=dict)  # table -> path (or None when the table is absent)

    @classmethod
    def empty(cls, tz: str = "Asia/Shanghai") -> "Ledger":
        tables = {name: _empty(c, tz) for name, c in LEDGER_CONTRACTS.items()}
        tables["purchase_orders"]["cancelled"] = pd.Series([], dtype=f"datetime64[ns, {tz}]")
        return cls(**tables, tz=tz, source={name: None for name in LEDGER_CONTRACTS})

    def as_of(self, as_of: Any) -> "Ledger":
        """The ledger as a run at ``as_of`` sees it: every row stamped later is dropped, and a cancellation
        stamped later does not count yet."""
        t = _ts(as_of, self.tz)
        po = self.purchase_orders[self.purchase_orders["placed_at"] <= t].copy()
        po.loc[po["cancelled"] > t, "cancelled"] = pd.NaT
        return Ledger(
            purchase_orders=po,
            receipts=self.receipts[self.receipts["received_at"] <= t].copy(),
            stock_counts=self.stock_counts[self.stock_counts["counted_at"] <= t].copy(),
            approvals=self.approvals[self.approvals["approved_at"] <= t].copy(),
            tz=self.tz, source=dict(self.source),
        )

    def approved(self, kind: str) -> pd.DataFrame:
        return self.approvals[self.approvals["kind"] == kind]


def _ts(value: Any, tz: str) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize(tz) if stamp.tzinfo is None else stamp.tz_convert(tz)


def load_ledger(folder: str | Path | None, *, tz: str = "Asia/Shanghai", data_root: str | Path | None = None,
                as_of: Any = None) -> Ledger:
    """Read the ledger tables found in ``folder`` (relative to the data folder, or absolute inside it); a table
    whose file is absent is empty. With ``as_of``, only what was known then."""
    ledger = Ledger.empty(tz)
    if folder is None:
        return ledger.as_of(as_of) if as_of is not None else ledger
    from ..core import paths

    root = paths.data_root() if data_root is None else Path(data_root).resolve()
    base = paths.resolve_under(root, str(folder), what="ledger folder")
    if base.exists() and not base.is_dir():
        raise ConfigError(f"the ledger folder {base} is a file. Fix: point the spike's `ledger:` at a folder")
    tables = {}
    for name, contract in LEDGER_CONTRACTS.items():
        path = base / LEDGER_FILES[name]
        if not path.exists():
            tables[name] = getattr(ledger, name)
            continue
        if path.stat().st_size == 0 or not path.read_text(encoding="utf-8-sig").strip():
            tables[name] = getattr(ledger, name)
            ledger.source[name] = str(path)
            continue
        frame = contracts.load_table(path, contract, tz=tz, data_root=root)
        tables[name] = frame
        ledger.source[name] = str(path)
    po = tables["purchase_orders"].copy()
    po["cancelled"] = _parse_optional_time(po, "cancelled_at", tz, ledger.source.get("purchase_orders") or "purchase_orders.csv")
    tables["purchase_orders"] = po
    receipts = tables["receipts"]
    unknown = ~receipts["po_id"].isin(set(po["po_id"]))
    if len(receipts) and unknown.any():
        rows = [int(i) + 2 for i in np.flatnonzero(unknown.to_numpy())]
        raise InputError("a receipt names a purchase order that is not in purchase_orders.csv", file=ledger.source["receipts"],
                         column="po_id", rows=rows, fix="add the order line to purchase_orders.csv or correct the po_id")
    ledger = Ledger(**tables, tz=tz, source=ledger.source)
    return ledger.as_of(as_of) if as_of is not None else ledger


# ----------------------------------------------------------------------------------------------------------
# Position: stock on hand, on order, backlog


@dataclass
class Position:
    """Stock, open orders and backlog as of a moment, with the day-by-day path that led there."""

    as_of: pd.Timestamp
    count_at: pd.Timestamp | None
    counted: int
    received_since: int
    sold_since: float
    on_hand: int
    backlog: int
    on_order: int
    open_orders: pd.DataFrame  # po_id, supplier, units_open, expected_arrival, overdue
    daily: pd.DataFrame  # day, sold, received, on_hand_end, backlog_end, sold_out
    notes: list[str] = field(default_factory=list)
    backorders: bool = True  # the shop takes orders beyond stock (预售); without, a sold-out day's extra demand is lost

    @property
    def available(self) -> int:
        """Units that will be free to sell once everything on order has arrived and the backlog is shipped."""
        return self.on_hand + self.on_order - self.backlog

    def sold_out_days(self) -> set:
        return set(self.daily.loc[self.daily["sold_out"], "day"])

    def to_dict(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(), "count_at": None if self.count_at is None else self.count_at.isoformat(),
            "counted": int(self.counted), "received_since": int(self.received_since),
            "sold_since": round(float(self.sold_since), 1), "on_hand": int(self.on_hand), "backlog": int(self.backlog),
            "on_order": int(self.on_order), "available": int(self.available),
            "open_orders": [
                {"po_id": r["po_id"], "supplier": r["supplier"], "units_open": int(r["units_open"]),
                 "unit_cost": float(r["unit_cost"]), "expected_arrival": r["expected_arrival"].isoformat(),
                 "overdue": bool(r["overdue"])}
                for r in self.open_orders.to_dict(orient="records")
            ],
            "sold_out_days": sorted(d.strftime("%Y-%m-%d") for d in self.sold_out_days()),
            "backorders": bool(self.backorders),
            "notes": list(self.notes),
        }


def open_orders(ledger: Ledger, as_of: Any) -> pd.DataFrame:
    """Purchase-order lines placed by ``as_of``, not cancelled, with units not yet received."""
    t = _ts(as_of, ledger.tz)
    seen = ledger.as_of(t)
    po = seen.purchase_orders
    po = po[po["cancelled"].isna()]
    got = seen.receipts.groupby("po_id")["units"].sum() if len(seen.receipts) else pd.Series(dtype="int64")
    units_open = (po["units"] - po["po_id"].map(got).fillna(0).astype("int64")).clip(lower=0)
    out = pd.DataFrame({"po_id": po["po_id"].astype(str).to_numpy(), "supplier": po["supplier"].astype(str).to_numpy(),
                        "units_open": units_open.to_numpy(dtype="int64"),
                        "unit_cost": po["unit_cost"].to_numpy(dtype=float),
                        "expected_arrival": po["expected_arrival"].to_numpy()})
    out["expected_arrival"] = pd.to_datetime(out["expected_arrival"]).dt.tz_convert(ledger.tz) if len(out) else \
        pd.Series([], dtype=f"datetime64[ns, {ledger.tz}]")
    # Brakes the team approved (kind "cancel") take units off the named line, or off the supplier's newest lines.
    for row in seen.approved("cancel").to_dict(orient="records"):
        target, left = str(row["item"]), int(row["units"])
        lines = out.index[out["po_id"] == target] if (out["po_id"] == target).any() else \
            out.index[out["supplier"] == target][::-1]
        for i in lines:
            take = out.at[i, "units_open"] if left <= 0 else min(left, out.at[i, "units_open"])
            out.at[i, "units_open"] -= take
            left -= take
            if left <= 0 and int(row["units"]) > 0:
                break
    out = out[out["units_open"] > 0].reset_index(drop=True)
    out["overdue"] = out["expected_arrival"] < t
    return out.sort_values(["expected_arrival", "po_id"]).reset_index(drop=True)


def _sales_between(sales: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Daily sales rows (stamped at the end of the day counted) overlapping (start, end], pro rata for partial days.
    Returns day (start of the day), units."""
    if sales is None or sales.empty:
        return pd.DataFrame({"day": pd.Series([], dtype=f"datetime64[ns, {start.tz}]"), "units": []})
    sales = sales[sales["timestamp"] <= end]  # a day's row is known once the day has ended
    ends = sales["timestamp"]
    starts = ends - pd.Timedelta(days=1)
    lo = starts.where(starts > start, start)
    hi = ends.where(ends < end, end)
    share = ((hi - lo) / pd.Timedelta(days=1)).clip(lower=0.0)
    keep = share > 0
    return pd.DataFrame({"day": starts[keep].dt.normalize().to_numpy(),
                         "units": (sales.loc[keep, "orders"].to_numpy(dtype=float) * share[keep].to_numpy())})


def position(ledger: Ledger, sales: pd.DataFrame | None, as_of: Any, *,
             fallback_on_hand: int | None = None, fallback_at: Any = None, backorders: bool = True) -> Position:
    """Stock on hand, on order and backlog at ``as_of`` from the ledger and the daily sales table.

    Stock starts from the latest count at or before ``as_of`` (or ``fallback_on_hand`` at ``fallback_at`` when the
    ledger holds no count yet, e.g. the undated stock table counted when the spike started). Each day, receipts
    come in first and fill the backlog, then the day's sales ship from stock. With ``backorders`` (the shop keeps
    taking orders, 预售, when stock runs out) units sold beyond stock join the backlog and the sales table is the
    demand. Without, the shop stops selling at zero: a day that ends with nothing left is *sold out* and its sales
    are a floor on demand, not the demand (censored)."""
    tz = ledger.tz
    t = _ts(as_of, tz)
    seen = ledger.as_of(t)
    notes: list[str] = []
    counts = seen.stock_counts.sort_values("counted_at")
    if len(counts):
        count_at, counted = counts["counted_at"].iloc[-1], int(counts["on_hand"].iloc[-1])
    elif fallback_on_hand is not None:
        count_at = _ts(fallback_at, tz) if fallback_at is not None else None
        counted = int(fallback_on_hand)
        notes.append("no dated stock count in the ledger: started from the stock table"
                     + (f" as counted at {count_at:%Y-%m-%d %H:%M}" if count_at is not None else ""))
    else:
        count_at, counted = None, 0
        notes.append("no stock count at all: stock starts at 0")
    start = count_at if count_at is not None else t
    sold = _sales_between(sales, start, t) if sales is not None else _sales_between(None, start, t)
    rec = seen.receipts[seen.receipts["received_at"] > start] if count_at is not None else seen.receipts.iloc[0:0]
    rec_days = rec.assign(day=rec["received_at"].dt.normalize()).groupby("day")["units"].sum()
    days = sorted(set(sold["day"]) | set(rec_days.index))
    on_hand, backlog = float(counted), 0.0
    rows = []
    sold_by_day = sold.groupby("day")["units"].sum() if len(sold) else pd.Series(dtype=float)
    for day in days:
        received = float(rec_days.get(day, 0))
        on_hand += received
        filled = min(backlog, on_hand)
        backlog -= filled
        on_hand -= filled
        units = float(sold_by_day.get(day, 0.0))
        ship = min(units, on_hand)
        on_hand -= ship
        backlog += units - ship
        if not backorders:
            backlog = 0.0  # sales beyond stock cannot have happened: the table's figure is what shipped
        rows.append({"day": day, "sold": units, "received": received, "on_hand_end": on_hand,
                     "backlog_end": backlog, "sold_out": (not backorders) and on_hand <= 0.5})
    daily = pd.DataFrame(rows, columns=["day", "sold", "received", "on_hand_end", "backlog_end", "sold_out"])
    orders = open_orders(seen, t)
    overdue = orders[orders["overdue"]]
    if len(overdue):
        notes.append(f"{len(overdue)} order line(s) overdue: " + ", ".join(
            f"{r.po_id} ({r.supplier}, {r.units_open} units due {r.expected_arrival:%m-%d})" for r in overdue.itertuples()))
    return Position(as_of=t, count_at=count_at, counted=counted, received_since=int(rec["units"].sum()),
                    sold_since=float(sold["units"].sum()) if len(sold) else 0.0, on_hand=int(round(on_hand)),
                    backlog=int(round(backlog)), on_order=int(orders["units_open"].sum()), open_orders=orders,
                    daily=daily, notes=notes, backorders=bool(backorders))


# ----------------------------------------------------------------------------------------------------------
# Demand on sold-out days


@dataclass
class DemandEstimate:
    """Daily demand as far as it can be told: the sales on days the shop could sell, and on sold-out days (sales
    capped by stock) the larger of the sales and what the marketplace search series says the demand was."""

    daily: pd.Series  # day start -> units (sales, or the estimate on an imputed day)
    imputed: pd.DataFrame  # day, sold, searches, estimate: the sold-out days whose demand was estimated
    censored_left: set  # sold-out days that could not be estimated (no search count that day): still a floor
    signal: str | None  # what was read, e.g. "淘宝 searches for 星空杯"
    fit: dict | None  # intercept, slope, n_days, r2, method
    evidence: list[str] = field(default_factory=list)

    @property
    def floor_days(self) -> set:
        """Sold-out days whose demand is still only a floor: not estimated, or estimated by the ratio of totals
        (learnt on normal days only, it understates a spike). The forecast keeps the validated curve under them."""
        if self.fit is not None and self.fit.get("method") in ("least squares", "validation"):
            return set(self.censored_left)
        return set(self.censored_left) | {pd.Timestamp(d).normalize() for d in self.imputed["day"]}

    def to_dict(self) -> dict:
        return {"signal": self.signal, "fit": self.fit, "evidence": list(self.evidence),
                "imputed": [{"day": r["day"].strftime("%Y-%m-%d"), "sold": round(float(r["sold"]), 1),
                             "searches": round(float(r["searches"]), 1), "estimate": int(r["estimate"])}
                            for r in self.imputed.to_dict(orient="records")],
                "censored_left": sorted(d.strftime("%Y-%m-%d") for d in self.censored_left)}


def censored_demand(sales: pd.Series, sold_out_days: Iterable, searches: pd.Series | None = None, *,
                    signal: str | None = None, fit_days: int = 42, min_fit_days: int = 7, min_spike_days: int = 3,
                    calibration: tuple[Iterable, float] | None = None) -> DemandEstimate:
    """Demand on sold-out days from a search series that stock does not cap (a marketplace's searches for the
    product move with the wish to buy, in stock or not).

    ``sales``: daily units (``daily_sales``, indexed by day start); ``searches``: daily search counts on the same
    days. The link is a straight line, units = a + b x searches, fitted by least squares on the last ``fit_days``
    days the shop was NOT sold out (at least ``min_fit_days`` of them), when at least ``min_spike_days`` of them are
    spike days (sales at 3x their median or more): they pin the slope, the normal days the level. Without them
    (the shop sold out as the spike began) a line through normal days only would read noise as the slope; then
    ``calibration`` = (the validation's days, chapter 02's validated daily demand) scales the searches so those
    days match the validated demand (units = b x searches: the search series gives the shape, the validation the
    level). Failing both, the ratio of the in-stock totals (a + 0), which understates a spike: a floor
    (``floor_days``). A sold-out day's demand is max(sales, a + b x searches), rounded; days without a search count
    stay censored."""
    censored = {pd.Timestamp(d).normalize() for d in sold_out_days}
    daily = sales.sort_index().astype(float)
    empty = pd.DataFrame({"day": pd.Series([], dtype=object), "sold": [], "searches": [], "estimate": []})
    hit = [d for d in daily.index if d.normalize() in censored]
    if not hit or searches is None or searches.empty:
        why = [] if not hit else [f"sold out on {len(hit)} day(s) and no search series to estimate their demand: "
                                  "their sales are a floor"]
        return DemandEstimate(daily, empty, set(d.normalize() for d in hit), signal, None, why)
    look = pd.Series(searches.to_numpy(dtype=float), index=searches.index.normalize()).groupby(level=0).sum()
    free = daily[[d.normalize() not in censored for d in daily.index]]
    pairs = pd.DataFrame({"units": free, "searches": look.reindex(free.index.normalize()).to_numpy()}, index=free.index)
    pairs = pairs.dropna().tail(int(fit_days))
    ev: list[str] = []
    if len(pairs) < min_fit_days or pairs["searches"].sum() <= 0:
        ev.append(f"sold out on {len(hit)} day(s), but only {len(pairs)} day(s) in stock with a {signal or 'search'} "
                  "count to learn from: their sales stay a floor")
        return DemandEstimate(daily, empty, set(d.normalize() for d in hit), signal, None, ev)
    x, y = pairs["searches"].to_numpy(), pairs["units"].to_numpy()
    spread = float(np.percentile(x, 90) / max(np.percentile(x, 10), 1e-9))
    spike_days = int((y >= 3.0 * max(float(np.median(y)), 1.0)).sum())
    slope, intercept, method, note = None, 0.0, "ratio", ""
    if spread >= 1.5 and spike_days >= min_spike_days:
        slope, intercept = (float(v) for v in np.polyfit(x, y, 1))
        method = "least squares"
        if slope <= 0:
            slope, intercept = None, 0.0
    if slope is None and calibration is not None:
        days, level = calibration
        during = look.reindex(pd.DatetimeIndex([pd.Timestamp(d).normalize() for d in days])).dropna()
        if len(during) and float(during.mean()) > 0 and float(level) > 0:
            slope, method = float(level) / float(during.mean()), "validation"
            note = (f"; scaled so the validation's {len(during)} day(s) ({float(during.mean()):.0f} searches a day) "
                    f"match chapter 02's validated {float(level):.0f} a day")
    if slope is None:
        slope, intercept, method = float(y.sum() / x.sum()), 0.0, "ratio"
    fitted = intercept + slope * x
    ss = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(((y - fitted) ** 2).sum()) / ss if ss > 0 else 0.0
    rows, left = [], set()
    out = daily.copy()
    for day in hit:
        key = day.normalize()
        if key not in look.index:
            left.add(key)
            continue
        estimate = max(float(daily[day]), intercept + slope * float(look[key]))
        out[day] = float(round(estimate))
        rows.append({"day": key, "sold": float(daily[day]), "searches": float(look[key]), "estimate": int(round(estimate))})
    imputed = pd.DataFrame(rows, columns=["day", "sold", "searches", "estimate"]) if rows else empty
    fit = {"intercept": round(intercept, 3), "slope": round(slope, 5), "n_days": int(len(pairs)), "r2": round(r2, 3),
           "method": method}
    if len(imputed):
        days = list(imputed["day"])
        span = ", ".join(d.strftime("%m-%d") for d in days) if len(days) <= 4 else \
            f"{days[0]:%m-%d} to {days[-1]:%m-%d}"
        shown = imputed.tail(4)
        ev.append(f"sold out on {len(imputed)} day(s) ({span}): "
                  f"demand estimated from {signal or 'searches'} as {intercept:.1f} + {slope:.4f} x searches "
                  + (f"({method} on {len(pairs)} in-stock days, R² {r2:.2f}): " if method != "validation" else
                     f"({method}{note}): ")
                  + ("latest " if len(imputed) > len(shown) else "")
                  + ", ".join(f"{r.day:%m-%d} {r.estimate} (sold {r.sold:.0f})" for r in shown.itertuples()))
    if left:
        ev.append(f"{len(left)} sold-out day(s) without a search count: their sales stay a floor")
    return DemandEstimate(out, imputed, left, signal, fit, ev)


def with_demand(sales: pd.DataFrame | None, estimate: "DemandEstimate | Mapping | None") -> pd.DataFrame | None:
    """The sales table with each estimated sold-out day's units replaced by its demand estimate (``censored_demand``,
    or the state's ``demand`` record): what the lifecycle fit reads, so a stock-out is not taken for the fade."""
    if sales is None or estimate is None:
        return sales
    rows = estimate.imputed.to_dict(orient="records") if isinstance(estimate, DemandEstimate) else \
        list((estimate or {}).get("imputed") or [])
    if not rows:
        return sales
    tz = sales["timestamp"].dt.tz
    want = {pd.Timestamp(r["day"]).tz_localize(None).normalize() if pd.Timestamp(r["day"]).tzinfo else
            pd.Timestamp(r["day"]).normalize(): float(r["estimate"]) for r in rows}
    out = sales.copy()
    day = (out["timestamp"] - pd.Timedelta(days=1)).dt.tz_localize(None).dt.normalize() if tz is not None else \
        (out["timestamp"] - pd.Timedelta(days=1)).dt.normalize()
    total = out.groupby(day)["orders"].transform("sum").astype(float)
    count = out.groupby(day)["orders"].transform("size").astype(float)
    hit = day.isin(list(want))
    if not hit.any():
        return sales
    target = day[hit].map(want)
    share = np.where(total[hit] > 0, out.loc[hit, "orders"].astype(float) / total[hit].where(total[hit] > 0, 1.0),
                     1.0 / count[hit])
    out["orders"] = out["orders"].astype(float)
    out.loc[hit, "orders"] = np.round(target.to_numpy() * share)
    return out


# ----------------------------------------------------------------------------------------------------------
# Phase


@dataclass(frozen=True)
class PhaseSettings:
    takeoff_multiple: float = 3.0  # sales (3-day mean) at this multiple of the baseline = takeoff
    baseline_days: int = 14  # normal days before the alert (or before the data's first rise) set the baseline
    smooth_days: int = 3  # trailing mean that tames day-of-week and one-off days
    decline_drop: float = 0.15  # handbook: down more than 15% ...
    decline_days: int = 3  # ... for 3 days in a row (here: below the peak by that much, uncensored days)
    exit_multiple: float = 1.5  # after the decline, back under 1.5x the baseline = the spike is over
    peak_share: float = 0.9  # within 10% of the highest level so far and no longer climbing = peak
    rerise_multiple: float = 2.0  # after the decline or exit: back at 2x the lowest level since = a new wave


@dataclass
class PhaseCall:
    phase: str
    evidence: list[str]
    takeoff: pd.Timestamp | None = None
    peak_day: pd.Timestamp | None = None
    decline_from: pd.Timestamp | None = None
    baseline: float | None = None
    level: float | None = None  # latest smoothed daily sales
    wave_start: pd.Timestamp | None = None  # a later wave's lowest day before it: its curve starts there

    @classmethod
    def from_dict(cls, detail: Mapping[str, Any], tz: str = "Asia/Shanghai") -> "PhaseCall":
        """The call back from its recorded form (``to_dict``, the state's ``phase_detail``)."""
        stamp = lambda v: None if v is None else _ts(v, tz)  # noqa: E731
        number = lambda v: None if v is None else float(v)  # noqa: E731
        return cls(str(detail.get("phase")), list(detail.get("evidence") or []), stamp(detail.get("takeoff")),
                   stamp(detail.get("peak_day")), stamp(detail.get("decline_from")), number(detail.get("baseline")),
                   number(detail.get("level")), stamp(detail.get("wave_start")))

    def to_dict(self) -> dict:
        iso = lambda v: None if v is None else pd.Timestamp(v).isoformat()  # noqa: E731
        return {"phase": self.phase, "evidence": list(self.evidence), "takeoff": iso(self.takeoff),
                "peak_day": iso(self.peak_day), "decline_from": iso(self.decline_from),
                "baseline": None if self.baseline is None else round(float(self.baseline), 2),
                "level": None if self.level is None else round(float(self.level), 2),
                "wave_start": iso(self.wave_start)}


def daily_sales(sales: pd.DataFrame | None, as_of: Any, tz: str = "Asia/Shanghai") -> pd.Series:
    """Units sold per whole day known at ``as_of``, indexed by the day counted (its start)."""
    if sales is None or sales.empty:
        return pd.Series([], dtype=float, index=pd.DatetimeIndex([], tz=tz), name="units")
    t = _ts(as_of, tz)
    known = sales[sales["timestamp"] <= t]
    days = (known["timestamp"] - pd.Timedelta(days=1)).dt.normalize()
    return pd.Series(known["orders"].to_numpy(dtype=float), index=pd.DatetimeIndex(days), name="units")


def derive_phase(*, as_of: Any, sales: pd.Series, first_alert: Any = None, validation_started: Any = None,
                 validation_decision: str | None = None, sold_out_days: Iterable = (), exit_approved_at: Any = None,
                 settings: PhaseSettings = PhaseSettings()) -> PhaseCall:
    """Where the spike stands at ``as_of``, from the evidence only. ``sales``: daily units (``daily_sales``);
    ``sold_out_days``: days whose sales were capped by stock (they cannot show a decline)."""
    ev: list[str] = []
    s = settings
    if validation_decision == "no-go" and (exit_approved_at is None or pd.isna(exit_approved_at)):
        return PhaseCall("no-go", ["chapter 02's validation said no-go"])
    censored = {pd.Timestamp(d).normalize() for d in sold_out_days}
    sales = sales.sort_index().astype(float)
    # Baseline: the days before the first alert (or before the validation, or the start of the data).
    anchor = None
    for cand in (first_alert, validation_started):
        if cand is not None and not pd.isna(cand):
            anchor = pd.Timestamp(cand)
            break
    if anchor is not None:
        # Normal days end a week before the alert or validation: a rise that started before them (the alert is
        # late, or the validation began mid-rise) must not lift the baseline and hide the takeoff.
        before = sales[sales.index < anchor.normalize() - pd.Timedelta(days=7)].tail(s.baseline_days)
        if len(before) < 7:
            before = sales[sales.index < anchor.normalize()].tail(s.baseline_days)
    else:  # no alert or validation to anchor on: the days before the last two weeks are the normal ones
        before = sales[sales.index <= sales.index.max() - pd.Timedelta(days=s.baseline_days)].tail(2 * s.baseline_days) \
            if len(sales) else sales
    baseline = float(before.median()) if len(before) else (float(sales.iloc[: s.baseline_days].median()) if len(sales) else 0.0)
    baseline = max(baseline, 1.0)  # a product that sold nothing still needs a finite multiple
    smooth = sales.rolling(s.smooth_days, min_periods=1).mean()
    # The rise may start before the alert or the validation (both can come late): search from a week before.
    after = smooth[smooth.index >= anchor.normalize() - pd.Timedelta(days=7)] if anchor is not None else smooth
    above = after >= s.takeoff_multiple * baseline
    # Takeoff: the first of two days in a row above the multiple (one loud day is not a spike).
    held = above & above.shift(-1, fill_value=False)
    took_off = after[held]
    level = float(smooth.iloc[-1]) if len(smooth) else None
    if took_off.empty and exit_approved_at is not None and not pd.isna(exit_approved_at):
        return PhaseCall("exited", [f"exit approved {pd.Timestamp(exit_approved_at):%Y-%m-%d %H:%M}"],
                         baseline=baseline, level=level)
    if took_off.empty:
        if first_alert is not None and not pd.isna(first_alert):
            ev.append(f"alert {pd.Timestamp(first_alert):%Y-%m-%d %H:%M}")
        if len(above) and bool(above.iloc[-1]):
            ev.append(f"sales {level:.0f}/day passed {s.takeoff_multiple:g}x the baseline yesterday; one more day "
                      "confirms a takeoff")
        if validation_started is None or pd.isna(validation_started):
            ev.append("no validation started yet" + (f"; sales {level:.0f}/day against a baseline of {baseline:.0f}"
                                                      if level is not None else ""))
            return PhaseCall("watching", ev, baseline=baseline, level=level)
        if validation_decision != "go":
            ev.append(f"validation since {pd.Timestamp(validation_started):%Y-%m-%d %H:%M}, call so far: "
                      f"{validation_decision or 'none'}")
            return PhaseCall("validating", ev, baseline=baseline, level=level)
        recent = list(sales.index[-2:])
        if len(recent) == 2 and all(d.normalize() in censored for d in recent):
            # Selling out is itself the evidence: the stock, not the demand, caps what the table shows.
            ev.append(f"validation said go and the shop sold out on {', '.join(f'{d:%m-%d}' for d in recent)}: "
                      "demand exceeds stock (sales are only a floor), the spike is confirmed")
            return PhaseCall("rising", ev, baseline=baseline, level=level)
        ev.append(f"validation said go; sales {level:.0f}/day, not yet {s.takeoff_multiple:g}x the baseline of "
                  f"{baseline:.0f}/day for two days")
        return PhaseCall("launching", ev, baseline=baseline, level=level)
    takeoff = took_off.index[0]
    ev.append(f"sales took off {takeoff:%Y-%m-%d} ({s.smooth_days}-day mean {took_off.iloc[0]:.0f}/day, "
              f"{took_off.iloc[0] / baseline:.1f}x the baseline {baseline:.0f}/day)")
    if validation_decision not in (None, "go"):
        ev.append(f"validation call {validation_decision}, but the sales have taken off")
    call = _after_takeoff(smooth, takeoff, censored, baseline, level, ev, s)
    exited_at = None if exit_approved_at is None or pd.isna(exit_approved_at) else pd.Timestamp(exit_approved_at)
    # A later wave: once the spike is declining, over, or its exit approved, demand that climbs again well above
    # its lowest level since (and above the takeoff level) is a new wave, evaluated from its own takeoff.
    for _ in range(3):
        if call.phase not in ("declining", "exited") and exited_at is None:
            break
        since = exited_at.normalize() if exited_at is not None else call.peak_day
        wave = _next_wave(smooth, since, baseline, s)
        if wave is None:
            break
        trough_day, wave_takeoff = wave
        wave_ev = [f"a new wave: after the {'approved exit' if exited_at is not None else 'decline'}, demand fell to "
                   f"{smooth[trough_day]:.0f}/day on {trough_day:%m-%d} and climbed to {smooth[wave_takeoff]:.0f}/day by "
                   f"{wave_takeoff:%m-%d} ({s.rerise_multiple:g}x that low, two days running)"]
        call = _after_takeoff(smooth, wave_takeoff, censored, baseline, level, wave_ev, s)
        call.wave_start, call.evidence = trough_day, ev + call.evidence
        exited_at = None
    if exited_at is not None:
        return PhaseCall("exited", [f"exit approved {exited_at:%Y-%m-%d %H:%M}"] + ev, call.takeoff, call.peak_day,
                         call.decline_from, baseline, level)
    return call


def _next_wave(smooth: pd.Series, since: pd.Timestamp, baseline: float,
               s: PhaseSettings) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """(lowest day, takeoff day) of a new rise after ``since``: the smoothed level two days running at
    ``rerise_multiple`` x its lowest since then and at ``takeoff_multiple`` x the baseline; None without one."""
    tail = smooth[smooth.index > since]
    low, low_day = math.inf, None
    values, days = tail.to_numpy(dtype=float), list(tail.index)
    for i in range(len(values) - 1):
        if values[i] < low:
            low, low_day = values[i], days[i]
        bar = max(s.takeoff_multiple * baseline, s.rerise_multiple * max(low, 1.0))
        if low_day is not None and days[i] > low_day and values[i] >= bar and values[i + 1] >= bar:
            return low_day, days[i]
    return None


def _mean_to(level: float, day: pd.Timestamp, s: PhaseSettings) -> str:
    """A smoothed level with the days it averages: the trailing mean to day D describes days D-n+1..D, so a bare
    "on D" would put the peak up to n-1 days after the best day (chapter 06 dates the peak itself)."""
    if s.smooth_days <= 1:
        return f"{level:.0f}/day on {day:%m-%d}"
    start = day - pd.Timedelta(days=s.smooth_days - 1)
    return f"{level:.0f}/day, the {s.smooth_days}-day mean over {start:%m-%d} to {day:%m-%d}"


def _after_takeoff(smooth: pd.Series, takeoff: pd.Timestamp, censored: set, baseline: float, level: float | None,
                   ev: list[str], s: PhaseSettings) -> PhaseCall:
    """Rising, peak, declining or exited from the smoothed sales since ``takeoff`` (see ``derive_phase``)."""
    ev = list(ev)
    spike = smooth[smooth.index >= takeoff]
    uncensored = spike[[d not in censored for d in spike.index]]
    peak_day = spike.idxmax()
    peak = float(spike.max())
    best = _mean_to(peak, peak_day, s)
    sold_out_recent = [d for d in spike.index[-s.decline_days:] if d in censored]
    if sold_out_recent:
        ev.append(f"sold out on {', '.join(f'{d:%m-%d}' for d in sold_out_recent)}: those days' sales are a floor "
                  "on demand")
    if peak_day >= spike.index[-1] - pd.Timedelta(days=1):
        ev.append(f"still climbing: {level:.0f}/day, the best level so far")
        return PhaseCall("rising", ev, takeoff, peak_day, None, baseline, level)
    # Decline: the last `decline_days` uncensored days all more than `decline_drop` below the peak.
    tail = uncensored[uncensored.index > peak_day].tail(s.decline_days)
    declining_now = len(tail) == s.decline_days and bool((tail < (1 - s.decline_drop) * peak).all())
    if not declining_now and len(spike) >= 2 and all(d in censored for d in spike.index[-2:]):
        # Sold out the last two days: the sales show the stock, not the demand, so a lower level is no sign of the
        # top; until uncensored days show a decline the spike is taken as still rising.
        ev.append("sold out the last two days: demand is at least what sold, the top cannot be told yet")
        return PhaseCall("rising", ev, takeoff, peak_day, None, baseline, level)
    if declining_now:
        decline_from = tail.index[0]
        ev.append(f"{s.decline_days} days below the peak ({best}) by more than "
                  f"{s.decline_drop:.0%}: latest {level:.0f}/day")
        if level is not None and level <= s.exit_multiple * baseline:
            ev.append(f"back under {s.exit_multiple:g}x the baseline: the spike is over")
            return PhaseCall("exited", ev, takeoff, peak_day, decline_from, baseline, level)
        return PhaseCall("declining", ev, takeoff, peak_day, decline_from, baseline, level)
    if level >= s.peak_share * peak:
        ev.append(f"at the top: {level:.0f}/day, within {1 - s.peak_share:.0%} of the best level ({best}) and no "
                  "longer climbing")
    else:
        ev.append(f"past the top ({best}), {level:.0f}/day now; the decline is not yet "
                  f"confirmed ({s.decline_days} days more than {s.decline_drop:.0%} below the peak)")
    return PhaseCall("peak", ev, takeoff, peak_day, None, baseline, level)


# ----------------------------------------------------------------------------------------------------------
# Orders net of state


@dataclass
class Increment:
    units: int
    need: float
    net: float
    capped_by: str | None
    reasons: list[str]
    backlog_only: bool = False  # outside the ordering phases: only the paid backlog not covered by stock or orders

    def to_dict(self) -> dict:
        return {"units": int(self.units), "need": round(float(self.need), 1), "net": round(float(self.net), 1),
                "capped_by": self.capped_by, "reasons": list(self.reasons), "backlog_only": bool(self.backlog_only)}


def uncovered_backlog(backlog: float, on_hand: float, on_order: float) -> float:
    """Units customers already paid for that neither stock on hand nor units on order will cover (never below 0)."""
    return max(0.0, float(backlog) - float(on_hand) - float(on_order))


def order_increment(*, demand_over_window: float, backlog: float, on_hand: float, on_order: float, phase: str,
                    confirmed: bool = True, first_order_cap: float | None = None, cash_cap_units: float | None = None,
                    window_days: float | None = None, window_label: str | None = None,
                    serve_backlog: bool = True) -> Increment:
    """Units to order now: forecast demand over the supplier lead-time window plus the backlog, minus stock on
    hand and units already on order. While the spike is not yet confirmed by realised sales, at most
    ``first_order_cap`` (the handbook's conservative first order); never more than ``cash_cap_units`` (chapter 09's
    cap / the 30% cash rule).

    Outside the launching/rising phases no production is ordered for new demand, but units customers already paid
    for (presale, 预售) are owed: with ``serve_backlog`` the order is the uncovered backlog only (backlog minus on hand
    minus on order), still within the cash cap; without it (a shop that refunds instead) nothing."""
    need = float(demand_over_window) + float(backlog)
    net = need - float(on_hand) - float(on_order)
    window = window_label if window_label else (f" over the next {window_days:g} days" if window_days else "")
    reasons = [f"need {need:.0f} = forecast demand{window} {demand_over_window:.0f} + backlog {backlog:.0f}; "
               f"have {on_hand:.0f} {'left then' if window_label else 'on hand'} + {on_order:.0f} on order"]
    if phase not in ORDERING_PHASES:
        owed = uncovered_backlog(backlog, on_hand, on_order)
        units = max(0, math.ceil(owed - 1e-9))
        if units == 0 or not serve_backlog:
            reasons.append(f"phase is {phase}: no new production is ordered"
                           + (f" (serve_backlog is off: the {units} paid units not covered are not made)"
                              if units and not serve_backlog else
                              "; stock and open orders cover the paid backlog" if float(backlog) > 0 else ""))
            return Increment(0, need, net, "phase", reasons)
        reasons.append(f"{units} units customers already paid for are not covered by stock or open orders: ordered "
                       f"although the spike is {phase}; no units for new demand")
        capped_by = "phase"  # the phase leaves out the forecast demand: the order is the paid backlog only
        if cash_cap_units is not None and units > cash_cap_units:
            units, capped_by = int(max(0, math.floor(cash_cap_units))), "cash"
            reasons.append(f"cash caps the order at {cash_cap_units:.0f} units")
        return Increment(int(units), need, net, capped_by, reasons, backlog_only=True)
    units = max(0, math.ceil(net - 1e-9))
    capped_by = None
    if units == 0:
        reasons.append("stock and open orders already cover the need")
    if not confirmed and first_order_cap is not None and units > first_order_cap:
        units, capped_by = int(math.floor(first_order_cap)), "first order"
        reasons.append(f"realised sales have not confirmed the spike yet: at most the handbook's first order, "
                       f"{first_order_cap:.0f} units")
    if cash_cap_units is not None and units > cash_cap_units:
        units, capped_by = int(max(0, math.floor(cash_cap_units))), "cash"
        reasons.append(f"cash caps the order at {cash_cap_units:.0f} units")
    return Increment(int(units), need, net, capped_by, reasons)


# ----------------------------------------------------------------------------------------------------------
# Contradictions


@dataclass(frozen=True)
class Proposal:
    chapter: str
    kind: str  # order, brake, hold_price, markdown, content_kit, financing, budget_move, sell
    units: float = 0.0
    amount: float = 0.0
    item: str = ""
    starts: pd.Timestamp | None = None


def _frame(value: Any) -> pd.DataFrame | None:
    if value is None:
        return None
    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, list):
        return pd.DataFrame(value)
    if isinstance(value, Mapping) and "records" in value:
        return pd.DataFrame(value["records"])
    return None


def _num(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def _brakes(value: Any) -> pd.DataFrame:
    """The rows of chapter 06's brake list that cancel something, with the units they cancel: the units not yet
    started where the list says so (rows that only "keep" or "finish" cancel nothing)."""
    frame = _frame(value)
    if frame is None or not len(frame):
        return pd.DataFrame({"supplier": [], "cancel_units": []})
    frame = frame.copy()
    if "action" in frame:
        frame = frame[frame["action"].astype(str).str.contains("cancel")]
    source = "not_started_units" if "not_started_units" in frame else "units"
    frame["cancel_units"] = pd.to_numeric(frame.get(source, pd.Series(0.0, index=frame.index)),
                                          errors="coerce").fillna(0.0)
    return frame[frame["cancel_units"] > 0]


def proposals_from_results(results: Mapping[str, Mapping[str, Any]]) -> list[Proposal]:
    """The actionable calls of one run, read from each chapter's recorded results."""
    out: list[Proposal] = []
    r03 = results.get("03", {}) or {}
    orders = _frame(r03.get("purchase_orders"))
    if r03.get("decision") not in (None, "hold") and orders is not None and len(orders) and "units" in orders:
        units = float(pd.to_numeric(orders["units"], errors="coerce").fillna(0).sum())
        cost = float(pd.to_numeric(orders.get("cost", pd.Series(dtype=float)), errors="coerce").fillna(0).sum())
        if units > 0:
            out.append(Proposal("03", "order", units, cost, f"{len(orders)} purchase order(s)"))
    r04 = results.get("04", {}) or {}
    sched = _frame(r04.get("order_schedule"))
    if sched is not None and len(sched) and "units" in sched:
        units = float(pd.to_numeric(sched["units"], errors="coerce").fillna(0).iloc[0]) if "day" not in sched else \
            float(pd.to_numeric(sched.loc[pd.to_numeric(sched["day"], errors="coerce") <= 1, "units"],
                                errors="coerce").fillna(0).sum())
        if units > 0:
            out.append(Proposal("04", "order", units, 0.0, "order now (inventory)"))
    promo = r04.get("promotion_now")
    if isinstance(promo, Mapping) and str(promo.get("name", "")).startswith("hold"):
        out.append(Proposal("04", "hold_price", item=str(promo.get("name"))))
    r06 = results.get("06", {}) or {}
    brakes = _brakes(r06.get("brake_list"))
    if len(brakes):
        out.append(Proposal("06", "brake", float(brakes["cancel_units"].sum()), 0.0,
                            f"{len(brakes)} production line(s) to brake"))
    markdown = _frame(r06.get("markdown_plan"))
    if markdown is not None and len(markdown) and "discount" in markdown:
        disc = pd.to_numeric(markdown["discount"], errors="coerce").fillna(0)
        if (disc > 0).any():
            start = None
            for col in ("from_date", "start", "date", "day"):
                if col in markdown:
                    start = pd.to_datetime(markdown.loc[disc > 0, col].iloc[0], errors="coerce")
                    break
            out.append(Proposal("06", "markdown", item=f"to {disc.max():.0%} off", starts=start))
    r08 = results.get("08", {}) or {}
    if r08.get("kit") is not None and r08.get("decision") not in (None, "wait", "hold", "no kit"):
        out.append(Proposal("08", "content_kit", item=str(r08.get("decision"))))
    r09 = results.get("09", {}) or {}
    fin = _frame(r09.get("chosen_financing"))
    if fin is not None and len(fin):
        for row in fin.to_dict(orient="records"):
            amount = next((_num(row[k]) for k in ("amount", "use", "draw", "used") if _num(row.get(k)) > 0), 0.0)
            if amount > 0:
                out.append(Proposal("09", "financing", 0.0, amount, str(row.get("offer", "financing"))))
    return out


def contradictions(proposals: Iterable[Proposal], *, phase: str, as_of: Any = None, need_units: float | None = None,
                   tolerance_units: float = 0.0, ledger: Ledger | None = None, escalated_amounts: Iterable[float] = (),
                   authority_limit: float | None = None, sellable_units: float | None = None,
                   projected_sales_units: float | None = None, backlog_units: float | None = None) -> list[str]:
    """Calls of one run that cannot all be followed, each as one sentence (empty list: the brief is coherent).

    ``need_units``: units still needed net of stock, backlog and open orders (``order_increment``'s net); an order
    above it by more than ``tolerance_units`` (e.g. a supplier's minimum order) buys units already on order.
    ``backlog_units``: the paid backlog not covered by stock or open orders (``uncovered_backlog``); outside the
    launching/rising phases an order of up to that many units (+ ``tolerance_units``) serves customers who already
    paid and is no contradiction; anything more is.
    """
    props = list(proposals)
    kinds = {p.kind for p in props}
    out: list[str] = []
    orders = [p for p in props if p.kind == "order"]
    owed = max(0.0, float(backlog_units or 0.0))
    ordered = sum(p.units for p in orders)
    if orders and phase not in ORDERING_PHASES and ordered > owed + tolerance_units + 0.5:
        out.append(f"asks to order {ordered:,.0f} units (chapter "
                   f"{', '.join(sorted({p.chapter for p in orders}))}) while the spike is {phase}"
                   + (f", more than the {owed:,.0f} paid backlog units not covered by stock or open orders"
                      if owed > 0 else ""))
    if orders and "brake" in kinds:
        out.append("orders new production and brakes production in the same brief")
    order_chapters = {p.chapter for p in orders}
    if len(order_chapters) > 1:
        out.append(f"two chapters each propose an order ({', '.join(sorted(order_chapters))}): the same need is bought twice")
    if need_units is not None:
        total = sum(p.units for p in orders)
        if total > max(0.0, need_units) + tolerance_units + 0.5:
            out.append(f"orders {total:,.0f} units while only {max(0.0, need_units):,.0f} are needed net of stock, "
                       "backlog and units already on order")
    if "hold_price" in kinds and "markdown" in kinds:
        md = next(p for p in props if p.kind == "markdown")
        soon = md.starts is None or as_of is None or pd.isna(md.starts) or \
            pd.Timestamp(md.starts).tz_localize(None) <= _ts(as_of, "UTC").tz_localize(None) + pd.Timedelta(days=1)
        if soon:
            out.append("holds the price and marks down at the same time")
    if "content_kit" in kinds and ledger is not None and len(ledger.approved("content_kit")):
        when = ledger.approved("content_kit")["approved_at"].iloc[0]
        out.append(f"asks for the level-1 content kit again (already approved {when:%Y-%m-%d %H:%M})")
    if "markdown" in kinds and phase in ("launching", "rising", "validating", "watching"):
        out.append(f"plans a markdown to clear stock while the spike is {phase}")
    if authority_limit is not None:
        escalated = [float(a) for a in escalated_amounts]
        for p in props:
            if p.kind == "financing" and p.amount > authority_limit and not any(abs(a - p.amount) < 0.5 or a >= p.amount
                                                                                for a in escalated):
                out.append(f"financing {p.item} of ¥{p.amount:,.0f} is above the ¥{authority_limit:,.0f} authority "
                           "limit but not escalated")
    if sellable_units is not None and projected_sales_units is not None and projected_sales_units > sellable_units + 0.5:
        out.append(f"projects selling {projected_sales_units:,.0f} units while only {sellable_units:,.0f} exist or are "
                   "on order")
    return out


# ----------------------------------------------------------------------------------------------------------
# Approving a run's proposals: the ledger grows, append-only


def ledger_folder(spike) -> str:
    """The spike's ledger folder under the data root: its ``ledger:`` setting, else ``ledger/<spike>``."""
    folder = getattr(spike, "ledger", None)
    return str(folder) if folder else f"ledger/{spike.name}"


def _csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    if any(ch in text for ch in ',"\n\r'):
        text = '"' + text.replace('"', '""') + '"'
    return text


def _append_rows(path: Path, contract: Contract, rows: list[dict]) -> None:
    """Append rows to a ledger table without ever rewriting what is there: the new file is the old bytes plus
    the new lines, written aside and renamed into place in one step (a crash leaves the old file whole)."""
    import os
    import tempfile

    header = ",".join(contract.names)
    old = path.read_bytes() if path.exists() else b""
    text = old.decode("utf-8-sig") if old else ""
    if text.strip():
        first = text.splitlines()[0].strip()
        if first != header:
            raise InputError(f"the ledger table's header is not the one spike approve writes ({header})", file=str(path),
                             rows=[1], fix="keep the ledger tables' columns in this order, or fix the header by hand")
        prefix = old if old.endswith(b"\n") else old + b"\n"
    else:
        prefix = (header + "\n").encode("utf-8")
    lines = "".join(",".join(_csv_cell(r.get(c)) for c in contract.names) + "\n" for r in rows).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(prefix + lines)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _stamp(value: pd.Timestamp) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S%z")[:-2] + ":" + value.strftime("%z")[-2:] if value.tzinfo else \
        value.strftime("%Y-%m-%d %H:%M:%S")


def proposals_to_approve(manifest: Mapping[str, Any], chapters: Iterable[str] | None = None) -> dict[str, list[dict]]:
    """What approving a run appends: purchase-order lines (chapter 03), and one approval line per proposal
    (orders, brakes as cancellations of open lines, markdown, budget moves, the content kit, financing, exit)."""
    from ..core.record import from_jsonable

    run_id = str(manifest.get("run_id"))
    as_of = pd.Timestamp(manifest["as_of"])
    wanted = {str(c).zfill(2) for c in chapters} if chapters else None
    results = {cid: {k: from_jsonable(v) for k, v in (entry.get("results") or {}).items()}
               for cid, entry in (manifest.get("chapters") or {}).items()
               if entry.get("status") in ("ok", "reused") and (wanted is None or cid in wanted)}
    po_rows, approvals = [], []

    def approval(chapter: str, kind: str, item: str, units: float = 0, amount: float = 0.0, detail: str = "") -> None:
        approvals.append({"approval_id": f"{run_id}-{chapter}-{len(approvals) + 1}", "run_id": run_id,
                          "chapter": chapter, "kind": kind, "item": item, "units": int(round(units)),
                          "amount": round(float(amount), 2), "detail": detail})

    r03 = results.get("03", {})
    orders = _frame(r03.get("purchase_orders"))
    production = _frame(r03.get("production"))
    if r03.get("decision") not in (None, "hold") and orders is not None and len(orders):
        for i, row in enumerate(orders.to_dict(orient="records"), start=1):
            units = int(_num(row.get("units")))
            if units <= 0:
                continue
            supplier = row.get("supplier", "?")
            # One order line per arrival day of chapter 03's production plan (units come in as they are made);
            # without the plan, the whole order on its last arrival day.
            dated = []
            if production is not None and len(production) and {"supplier", "arrival_date", "units"} <= set(production):
                mine = production[production["supplier"].astype(str) == str(supplier)]
                for when, part in mine.groupby(pd.to_datetime(mine["arrival_date"]), sort=True):
                    when = pd.Timestamp(when)
                    when = when.tz_localize(as_of.tz) if when.tzinfo is None else when.tz_convert(as_of.tz)
                    dated.append((when.normalize() + pd.Timedelta(hours=12), int(round(float(part["units"].sum())))))
            if sum(n for _, n in dated) != units:
                last_day = int(_num(row.get("last_arrival_day")) or _num(row.get("first_arrival_day")) or 0)
                dated = [(as_of.normalize() + pd.Timedelta(days=last_day, hours=12), units)]
            for k, (arrival, n) in enumerate(dated, start=1):
                po_rows.append({"po_id": f"{run_id}-{i}" + (f"-{k}" if len(dated) > 1 else ""), "supplier": supplier,
                                "units": n, "unit_cost": round(_num(row.get("unit_cost")), 4),
                                "expected_arrival": _stamp(arrival), "cancelled_at": "", "source_run": run_id})
            approval("03", "order", f"{supplier}", units, _num(row.get("cost")),
                     f"po {run_id}-{i}, {len(dated)} delivery day(s), last {dated[-1][0]:%Y-%m-%d}")
    r06 = results.get("06", {})
    for row in _brakes(r06.get("brake_list")).to_dict(orient="records"):
        target = row.get("po_id") or row.get("supplier", "?")
        approval("06", "cancel", str(target), row["cancel_units"], 0.0, "brake production not yet started")
    markdown = _frame(r06.get("markdown_plan"))
    if markdown is not None and len(markdown) and "discount" in markdown and \
            (pd.to_numeric(markdown["discount"], errors="coerce").fillna(0) > 0).any():
        deepest = float(pd.to_numeric(markdown["discount"], errors="coerce").max())
        approval("06", "markdown", f"markdown to {deepest:.0%} off", 0, markdown_revenue_given_up(markdown))
    if str(r06.get("exit_decision", "")).lower().startswith("exit"):
        approval("06", "exit", str(r06.get("exit_decision")))
    moves = _frame(results.get("07", {}).get("budget_moves"))
    if moves is not None and len(moves):
        for row in moves.to_dict(orient="records"):
            approval("07", "budget_move", f"{row.get('from_platform', '?')} -> {row.get('to_platform', '?')}", 0,
                     _num(row.get("amount")))
    r08 = results.get("08", {})
    if r08.get("kit") is not None:
        approval("08", "content_kit", "level-1 content kit", 0, 0.0, str(r08.get("kit_deadline") or ""))
    fin = _frame(results.get("09", {}).get("chosen_financing"))
    if fin is not None and len(fin):
        for row in fin.to_dict(orient="records"):
            amount = next((_num(row[k]) for k in ("amount", "use", "draw") if _num(row.get(k)) > 0), 0.0)
            if amount > 0:
                approval("09", "financing", str(row.get("offer", "financing")), 0, amount)
    return {"purchase_orders": po_rows, "approvals": approvals}


def approve(manifest: Mapping[str, Any], folder: str | Path, *, by: str, at: Any = None,
            chapters: Iterable[str] | None = None, tz: str = "Asia/Shanghai",
            data_root: str | Path | None = None) -> dict[str, int]:
    """Append a run's proposals to the spike's ledger, stamped ``at`` (default: the run's as_of, the moment the
    run stands for) and signed ``by``. Append-only: a run's proposals are approved once (a second approval of the
    same run and chapters is refused), earlier lines are never rewritten. Returns lines added per table."""
    from ..core import paths

    if not str(by).strip():
        raise ConfigError("say who approves: --by NAME")
    root = paths.data_root() if data_root is None else Path(data_root).resolve()
    base = paths.resolve_under(root, str(folder), what="ledger folder")
    when = _ts(at if at is not None else manifest["as_of"], tz)
    current = load_ledger(base, tz=tz, data_root=root)
    run_id = str(manifest.get("run_id"))
    rows = proposals_to_approve(manifest, chapters)
    done = current.approvals[current.approvals["run_id"].astype(str) == run_id]
    again = sorted(set(done["chapter"].astype(str)) & {a["chapter"] for a in rows["approvals"]})
    if again:
        first = done["approved_at"].min()
        raise ConfigError(f"run {run_id} was already approved for chapter(s) {', '.join(again)} at "
                          f"{first:%Y-%m-%d %H:%M} (ledger {base}); the ledger is append-only. Fix: approve a newer run")
    stamp = _stamp(when)
    for row in rows["purchase_orders"]:
        row["placed_at"] = stamp
    for row in rows["approvals"]:
        row.update(approved_at=stamp, by=str(by).strip())
    if rows["purchase_orders"]:
        _append_rows(base / LEDGER_FILES["purchase_orders"], PURCHASE_ORDERS, rows["purchase_orders"])
    if rows["approvals"]:
        _append_rows(base / LEDGER_FILES["approvals"], APPROVALS, rows["approvals"])
    return {"purchase_orders": len(rows["purchase_orders"]), "approvals": len(rows["approvals"])}


# ----------------------------------------------------------------------------------------------------------
# The state of one spike as of T, derived once per run (the runner records it; chapters read it)

STATE_FILE = "state.json"
STATE_INPUTS = ("sales", "validation", "stock")  # the spike's tables the state always reads (besides its ledger)


def demand_signal(book, spike) -> tuple[str, str | None] | None:
    """(keyword, platform) of the search series chapter 06 watches, which estimates demand on sold-out days; None
    when chapter 06 watches daily orders instead."""
    params = dict(book.chapters["06"].defaults) if "06" in book.chapters else {}
    params.update(spike.parameters.get("06", {}))
    keyword = str(params.get("search_keyword") or "")
    return (keyword, str(params.get("search_platform") or "") or None) if keyword else None


def state_inputs(book, spike) -> tuple[str, ...]:
    """The spike's tables its state reads: ``STATE_INPUTS``, and the signals table only when a sold-out day can
    happen (a shop without presale, ``backorders: false``) and a search series can estimate its demand. A shop
    with presale never reads it here, so an hourly data-room run does not load a large signals file for nothing."""
    if getattr(spike, "backorders", True) or demand_signal(book, spike) is None:
        return STATE_INPUTS
    return STATE_INPUTS + ("signals",)


def estimate_demand(spike, sales: pd.DataFrame | None, pos: "Position", as_of: pd.Timestamp,
                    demand_signal: tuple[str, str | None] | None, *, data_root=None,
                    calibration: tuple[Iterable, float] | None = None) -> DemandEstimate:
    """``censored_demand`` on the spike's own files: its daily sales, the position's sold-out days, and the search
    series ``demand_signal`` names in its signals table (when it has one and the series is there)."""
    from . import contracts as c
    from ..core.lifecycle_fit import daily_search

    tz = spike.timezone
    daily = daily_sales(sales, as_of, tz)
    sold_out = pos.sold_out_days()
    searches, name = None, None
    if sold_out and demand_signal and demand_signal[0] and "signals" in spike.data:
        keyword, platform = demand_signal
        name = f"{platform + ' ' if platform else ''}searches for {keyword}"
        signals = c.load_signals(spike.data["signals"], tz=tz, data_root=data_root)
        try:
            by_end = daily_search(signals, as_of, keyword, platform or None)
        except InputError:
            by_end = None
        if by_end is not None and len(by_end):
            # daily_search stamps a day at its end; the sales days are keyed by their start.
            searches = pd.Series(by_end.to_numpy(dtype=float), index=(by_end.index - pd.Timedelta(days=1)).normalize())
    return censored_demand(daily, sold_out, searches, signal=name, calibration=calibration)


def spike_state(spike, as_of: Any, *, validation_parameters: Mapping[str, Any] | None = None,
                phase_settings: PhaseSettings = PhaseSettings(), data_root: str | Path | None = None,
                backorders: bool = True, prior=None, fit_settings: "FitSettings | None" = None,
                demand_signal: tuple[str, str | None] | None = None) -> dict:
    """The spike's state at ``as_of`` from its own files: the ledger (as of T), the stock position, and the phase
    with its evidence. ``validation_parameters``: chapter 02's parameters, so the validation call here is the
    one chapter 02 makes (and ``validation.go_at``, the first moment it said go); ``fit_settings``: chapter 06's,
    so the shared forecast is chapter 06's fit; ``demand_signal``: (keyword, platform) of the marketplace search
    series (chapter 06's ``search_keyword`` / ``search_platform``) that estimates demand on sold-out days
    (``censored_demand``). Nothing stamped after ``as_of`` is read."""
    from . import contracts as c
    from ..core.record import parse_as_of

    tz = spike.timezone
    t = parse_as_of(as_of, tz)
    fit_settings = fit_settings or FitSettings()
    ledger = load_ledger(ledger_folder(spike), tz=tz, data_root=data_root, as_of=t)
    sales = c.load_sales(spike.data["sales"], tz=tz, data_root=data_root) if "sales" in spike.data else None
    validation_started, decision, validated, go_at = None, None, None, None
    if "validation" in spike.data:
        from ..core import validation_model as v

        events = c.load_validation(spike.data["validation"], tz=tz, data_root=data_root)
        test = events.loc[(events["phase"] == v.TEST) & (events["timestamp"] <= t), "timestamp"]
        if len(test):
            validation_started = test.min()
            known = {k: val for k, val in (validation_parameters or {}).items()
                     if k in v.ValidationSettings.__dataclass_fields__}
            called = v.decide(events, t, v.ValidationSettings(**known))
            decision = called.decision
            validated = called.to_dict().get("daily_demand")
            if decision == "go":
                go_at = first_go(events, t, v.ValidationSettings(**known))
    fallback = None
    if "stock" in spike.data:
        stock = c.load_stock(spike.data["stock"], tz=tz, data_root=data_root)
        fallback = int(stock["on_hand"].sum())
    # Without dated counts the stock table is taken as counted when the validation began (the moment the shop
    # starts managing the spike), or at as_of when there is no validation.
    pos = position(ledger, sales, t, fallback_on_hand=fallback, fallback_at=validation_started or t,
                   backorders=backorders)
    exits = ledger.approved("exit")
    calibration = None
    if validated and validation_started is not None and validated.get("estimate"):
        # The 48-hour validation measured demand: its days give the search series its scale.
        first_day = validation_started.normalize()
        calibration = ([first_day, first_day + pd.Timedelta(days=1)], float(validated["estimate"]))
    demand = estimate_demand(spike, sales, pos, t, demand_signal, data_root=data_root, calibration=calibration)
    call = derive_phase(as_of=t, sales=demand.daily, validation_started=validation_started,
                        validation_decision=decision, sold_out_days=demand.censored_left,
                        exit_approved_at=exits["approved_at"].min() if len(exits) else None,
                        settings=phase_settings)
    if demand.evidence:
        call.evidence.extend(demand.evidence)
    forecast = demand_forecast(as_of=t, sales=with_demand(sales, demand), phase=call, validated=validated, prior=prior,
                               validation_started=validation_started, tz=tz, conf=fit_settings.conf,
                               runs=fit_settings.runs, seed=fit_settings.seed, method=fit_settings.method,
                               sold_out_days=demand.floor_days)
    approvals = ledger.approvals
    return {
        "as_of": t.isoformat(),
        "phase": call.phase,
        "phase_evidence": call.evidence,
        "phase_detail": call.to_dict(),
        "validation": {"started": None if validation_started is None else validation_started.isoformat(),
                       "decision": decision, "go_at": None if go_at is None else go_at.isoformat()},
        "position": pos.to_dict(),
        "demand": demand.to_dict(),
        "forecast": forecast,
        "ledger": {"folder": ledger_folder(spike),
                   "tables": {k: v for k, v in ledger.source.items() if v},
                   "purchase_orders": int(len(ledger.purchase_orders)),
                   "approvals": [{"approved_at": r["approved_at"].isoformat(), "by": r["by"], "kind": r["kind"],
                                  "item": r["item"], "units": int(r["units"]), "amount": float(r["amount"]),
                                  "run_id": r["run_id"]} for r in approvals.to_dict(orient="records")]},
    }


def brief_contradictions(results: Mapping[str, Mapping[str, Any]], spike_state_: Mapping[str, Any] | None,
                         authority_limit: float | None = None, escalated_amounts: Iterable[float] = ()) -> list[str]:
    """The contradiction check on one run's recorded results and its state (chapter 10, tests and replay)."""
    props = proposals_from_results(results)
    st = spike_state_ or {}
    phase = st.get("phase", "rising")
    pos = st.get("position") or {}
    ledger = None
    kits = [a for a in (st.get("ledger") or {}).get("approvals", []) if a.get("kind") == "content_kit"]
    if kits:
        ledger = Ledger.empty()
        ledger.approvals = pd.DataFrame({"kind": ["content_kit"] * len(kits),
                                         "approved_at": pd.to_datetime([k["approved_at"] for k in kits], utc=True)})
    sellable = None
    owed, rounding = None, 0.0
    if pos:
        ordered = sum(p.units for p in props if p.kind == "order")
        sellable = float(pos.get("on_hand", 0)) + float(pos.get("on_order", 0)) + ordered
        owed = uncovered_backlog(_num(pos.get("backlog")), _num(pos.get("on_hand")), _num(pos.get("on_order")))
        # A supplier's minimum order can make chapter 03's plan a little larger than the increment it sized.
        r03 = results.get("03", {}) or {}
        inc = r03.get("increment") if isinstance(r03.get("increment"), Mapping) else {}
        if inc.get("backlog_only") and _num(inc.get("units")) > 0:
            rounding = max(0.0, sum(p.units for p in props if p.kind == "order" and p.chapter == "03")
                           - _num(inc.get("units")))
    r09 = results.get("09", {}) or {}
    projected = _num(r09.get("projected_sales_units")) if r09.get("projected_sales_units") is not None else None
    return contradictions(props, phase=phase, as_of=st.get("as_of"), ledger=ledger, authority_limit=authority_limit,
                          escalated_amounts=escalated_amounts, sellable_units=sellable if projected else None,
                          projected_sales_units=projected, backlog_units=owed, tolerance_units=rounding)


def derive_for_run(book, spike, as_of: Any) -> dict:
    """``spike_state`` with chapter 02's parameters as the run (or a standalone notebook) would use them."""
    params: dict = {}
    if "02" in book.chapters:
        params.update(book.chapters["02"].defaults)
        params.update(spike.parameters.get("02", {}))
    fit = dict(book.chapters["06"].defaults) if "06" in book.chapters else {}
    fit.update(spike.parameters.get("06", {}))
    return spike_state(spike, as_of, validation_parameters=params, prior=life_prior(book, spike, as_of),
                       fit_settings=FitSettings.from_chapter(fit), backorders=bool(getattr(spike, "backorders", True)),
                       demand_signal=demand_signal(book, spike))


def first_go(events: pd.DataFrame, as_of: Any, settings=None, step_hours: float = 1.0) -> pd.Timestamp | None:
    """The first moment (on the hour, at or before ``as_of``) at which chapter 02's call on ``events`` was go: the
    go decision every later chapter counts from (chapter 08's kit is due 2 h after it). None when it has not said
    go by ``as_of``. No go can come before ``min_test_hours`` of testing, so the search starts there."""
    from ..core import validation_model as v

    settings = settings or v.ValidationSettings()
    tz = events["timestamp"].dt.tz
    t = _ts(as_of, str(tz)) if tz is not None else pd.Timestamp(as_of)
    test = events.loc[(events["phase"] == v.TEST) & (events["timestamp"] <= t), "timestamp"]
    if test.empty:
        return None
    step = pd.Timedelta(hours=float(step_hours))
    moment = test.min().ceil("h") + pd.Timedelta(hours=math.ceil(float(settings.min_test_hours)))
    while moment < t:
        if v.decide(events, moment, settings).decision == "go":
            return moment
        moment += step
    return t if v.decide(events, t, settings).decision == "go" else None


def life_prior(book, spike, as_of: Any):
    """Chapter 06's life prior: the pattern library's spikes known at ``as_of`` (never this spike) shrunk toward
    the handbook's, with chapter 06's settings; the handbook's alone when the library is off or empty."""
    from ..core import paths
    from ..core.lifecycle_fit import LifecyclePrior
    from ..core.patterns import load_library, priors_from_library

    p = dict(book.chapters["06"].defaults) if "06" in book.chapters else {}
    p.update(spike.parameters.get("06", {}))
    handbook = LifecyclePrior(peak_day=float(p.get("peak_day_prior", 6.0)), peak_day_sd=float(p.get("peak_day_prior_sd", 1.5)),
                              life_days=float(p.get("life_days_prior", 9.0)), life_days_sd=float(p.get("life_days_prior_sd", 3.0)))
    if not p.get("pattern_priors", True):
        return handbook
    folder = paths.resolve_under(paths.playbook_dir(), str(p.get("patterns_dir", "patterns")), "patterns folder")
    library = load_library(paths.records_root(), folder, before=as_of, exclude_spike=spike.name)
    prior, _ = priors_from_library(library, handbook)
    return prior


def ledger_inputs(spike) -> dict[str, Path]:
    """The ledger files a run reads (for the record's input checksums): table name -> path, present ones only."""
    from ..core import paths

    base = paths.resolve_under(paths.data_root(), ledger_folder(spike), what="ledger folder")
    return {f"ledger.{name}": base / file for name, file in LEDGER_FILES.items() if (base / file).is_file()}


# ----------------------------------------------------------------------------------------------------------
# One demand forecast for every chapter that plans (03, 04, 05, 09, 11)


def rise_start(sales: pd.Series, takeoff: pd.Timestamp, baseline: float, multiple: float = 1.5) -> pd.Timestamp:
    """The first day of the rise that ends in ``takeoff``: walking back from the takeoff day while sales stay
    above ``multiple`` x the baseline. The Bass curve's t = 0 belongs there: a takeoff found when the level
    passes 3x the baseline is already days into the spike, and a curve started there sees a spike too young."""
    days = sales[sales.index <= takeoff].sort_index()
    start = takeoff
    for day, value in zip(days.index[::-1], days.to_numpy()[::-1]):
        if value <= multiple * baseline:
            break
        start = day
    return start


def _prior_shape_daily(prior, days_from_takeoff: np.ndarray, m: float) -> np.ndarray:
    from ..core.lifecycle_fit import bass_cdf, bass_from_shape

    p, q = bass_from_shape(prior.peak_day, prior.life_days, prior.life_share)
    return m * (bass_cdf(days_from_takeoff, p, q) - bass_cdf(np.maximum(days_from_takeoff - 1, 0), p, q))


FIT_PHASES = ("rising", "peak", "declining")  # the phases in which the lifecycle curve is fitted to realised sales


@dataclass(frozen=True)
class FitSettings:
    """How the lifecycle curve is fitted: chapter 06's settings (``confidence``, ``interval_runs``, ``seed``,
    ``interval_method``), so the shared forecast and chapter 06 make the same fit."""

    conf: float = 0.9
    runs: int = 500
    seed: int = 20250306
    method: str = "laplace"

    @classmethod
    def from_chapter(cls, params: Mapping[str, Any]) -> "FitSettings":
        d = cls()
        return cls(conf=float(params.get("confidence", d.conf)), runs=int(params.get("interval_runs", d.runs)),
                   seed=int(params.get("seed", d.seed)), method=str(params.get("interval_method", d.method)))

    def to_dict(self) -> dict:
        return {"conf": self.conf, "runs": self.runs, "seed": self.seed, "method": self.method}


@dataclass
class LifecycleFit:
    """The lifecycle (Bass) fit the shared forecast uses, with where its t = 0 came from."""

    fit: Any  # lifecycle.BassFit
    rise_start: pd.Timestamp
    takeoff: pd.Timestamp
    baseline: float
    prior: Any  # the prior actually used (moved later when the sales still climb)
    notes: list[str]


def lifecycle_fit(sales: pd.DataFrame | None, as_of: Any, phase: PhaseCall, prior=None,
                  settings: FitSettings = FitSettings(), tz: str = "Asia/Shanghai") -> LifecycleFit | None:
    """The spike's lifecycle (Bass) fit on realised sales, as the shared forecast and chapter 06 make it; None
    before the takeoff (or outside the rising / peak / declining phases).

    t = 0 is the start of the rise that ends in the phase's takeoff (``rise_start``), not chapter 01's alert: the
    alert only bounds where the takeoff is searched. The baseline is the phase's. While the sales still climb
    (phase rising) a curve that has already peaked is refitted with the prior's peak moved to tomorrow at the
    earliest."""
    import dataclasses

    from ..core.lifecycle_fit import LifecyclePrior, fit_bass

    if phase.phase not in FIT_PHASES or phase.takeoff is None or sales is None:
        return None
    prior = prior or LifecyclePrior()
    t = _ts(as_of, tz)
    baseline = float(phase.baseline or 0.0)
    known = daily_sales(sales, t, tz)
    # A later wave's curve starts at its lowest day: walking back from its takeoff would run into the wave before.
    start = phase.wave_start if phase.wave_start is not None else rise_start(known, phase.takeoff, baseline)
    options = dict(takeoff=start, baseline=baseline, conf=settings.conf, runs=settings.runs, seed=settings.seed,
                   method=settings.method)
    fit = fit_bass(sales, t, prior, **options)
    notes = [f"t = 0 on {start:%Y-%m-%d}: the start of the rise that took off on {phase.takeoff:%Y-%m-%d} "
             f"(sales above 1.5x the baseline of {baseline:.1f}/day)"]
    used = prior
    climbing_until = phase.peak_day if phase.phase == "rising" else None
    # The fitted curve's own peak (fit.peak_date is the forecast day of most sales, never before the best day).
    curve_peak = fit.takeoff + fit.peak_day * pd.Timedelta(days=1) if fit is not None else None
    if fit is not None and climbing_until is not None and curve_peak < climbing_until:
        # The sales are still at their best level: the curve cannot have peaked already. Move the prior's peak
        # to no earlier than tomorrow (keeping its spread and its peak-to-end span) and refit.
        t_peak = float((climbing_until - start) / pd.Timedelta(days=1)) + 1.0
        shift = max(0.0, t_peak - prior.peak_day)
        moved = dataclasses.replace(prior, peak_day=prior.peak_day + shift, life_days=prior.life_days + shift)
        refit = fit_bass(sales, t, moved, **options)
        if refit is not None:
            fit, used = refit, moved
            notes.append(f"sales still climbing: the prior's peak moved {shift:.1f} days later and the curve refitted")
    if fit is None:
        return None
    return LifecycleFit(fit, start, phase.takeoff, baseline, used, notes)


def demand_forecast(*, as_of: Any, sales: pd.DataFrame | None, phase: PhaseCall, validated: Mapping[str, Any] | None,
                    validation_started: Any = None, prior=None, horizon_days: int = 21, conf: float = 0.9,
                    runs: int = 500, seed: int = 20250306, tz: str = "Asia/Shanghai",
                    method: str = "laplace", sold_out_days: Iterable = ()) -> dict:
    """Expected daily demand for the ``horizon_days`` days after ``as_of`` (day 1 = the day after as_of), with a
    ``conf`` interval, and the spike's remaining demand.

    - After the takeoff: the lifecycle (Bass) fit on realised sales, its t = 0 at the start of the rise
      (``rise_start``), the life prior (pattern library, else the handbook) penalising its shape.
    - Before it (validating / launching): the prior's shape, its takeoff at the validation start, scaled so its
      first two days match chapter 02's validated daily demand (its interval scales the level).
    - Watching, no-go, exited: the baseline (normal sales), no spike.
    """
    from ..core.lifecycle_fit import LifecyclePrior

    prior = prior or LifecyclePrior()
    settings = FitSettings(conf=conf, runs=int(runs), seed=int(seed), method=method)
    t = _ts(as_of, tz)
    first = t.normalize() + pd.Timedelta(days=1)
    days = pd.date_range(first, periods=int(horizon_days), freq="D")
    baseline = float(phase.baseline or 0.0)
    out = {"as_of": t.isoformat(), "horizon_days": int(horizon_days), "conf": conf, "takeoff": None,
           "peak_date": None, "remaining": None, "fit_settings": settings.to_dict()}

    def table(expected, low, high) -> list[dict]:
        return [{"day": d.strftime("%Y-%m-%d"), "expected": round(float(e), 2), "low": round(float(lo), 2),
                 "high": round(float(h), 2)} for d, e, lo, h in zip(days, expected, low, high)]

    def prior_curves():
        """The prior's curve scaled to chapter 02's validated rate: (curves, totals, takeoff), or None."""
        if not (validated and validation_started is not None):
            return None
        # Where the 48-hour window sits on the spike's curve: the handbook's alert comes about 5 days before the
        # peak and the validation follows it, so the window covers the days (peak - 4, peak - 2]. Scaling the curve
        # so those days match the validated rate puts the peak at about 3.5x it (the handbook's +300% stress);
        # putting the window at the very start of the curve would claim 17x.
        lead_in = max(0.0, float(prior.peak_day) - 4.0)
        takeoff = _ts(validation_started, tz).normalize() - pd.Timedelta(days=lead_in)
        level = {k: float(validated.get(k) or 0.0) for k in ("estimate", "low", "high")}
        unit = _prior_shape_daily(prior, np.array([lead_in + 1.0, lead_in + 2.0]), 1.0).mean()
        t_days = ((days - takeoff) / pd.Timedelta(days=1)).to_numpy(dtype=float) + 1.0
        curves = {k: _prior_shape_daily(prior, t_days, v / unit if unit > 0 else 0.0) for k, v in level.items()}
        later = np.arange(1.0, 200.0)
        total = {k: float(_prior_shape_daily(prior, later, v / unit if unit > 0 else 0.0)
                           [later > float((first - takeoff) / pd.Timedelta(days=1))].sum()) for k, v in level.items()}
        return curves, total, takeoff, level

    found = lifecycle_fit(sales, t, phase, prior, settings, tz)
    if found is not None:
        fit, start = found.fit, found.rise_start
        exp = fit.expected_daily(t, horizon_days)
        spike = exp["spike"].to_numpy(dtype=float)
        ratio_low = fit.remaining_low / fit.remaining if fit.remaining > 0 else 1.0
        ratio_high = fit.remaining_high / fit.remaining if fit.remaining > 0 else 1.0
        curves = {"estimate": spike, "low": spike * ratio_low, "high": spike * ratio_high}
        remaining = {"estimate": fit.remaining, "low": fit.remaining_low, "high": fit.remaining_high}
        source = f"lifecycle fit on realised sales (takeoff {start:%Y-%m-%d}, {fit.n_days} days of data)"
        recent = daily_sales(sales, t, tz).index[-3:]
        censored = {pd.Timestamp(d).normalize() for d in sold_out_days}
        scaled = prior_curves() if any(d.normalize() in censored for d in recent) else None
        if scaled is not None:
            # Sold out lately: the sales the curve was fitted on are a floor on demand, so the forecast is never
            # below the validated curve.
            curves = {k: np.maximum(curves[k], scaled[0][k]) for k in curves}
            remaining = {k: max(remaining[k], scaled[1][k]) for k in remaining}
            source += "; sold out lately, so never below the prior scaled to the validated rate"
        out.update(source=source, takeoff=start.isoformat(), peak_date=fit.peak_date.isoformat(), fit_days=int(fit.n_days),
                   remaining={**{k: round(float(v), 1) for k, v in remaining.items()}, "conf": conf},
                   daily=table(baseline + curves["estimate"], baseline + curves["low"], baseline + curves["high"]))
        return out
    prior_path = phase.phase in ("validating", "launching") or (phase.phase == "rising" and phase.takeoff is None)
    scaled = prior_curves() if prior_path else None
    if scaled is not None:
        curves, total, takeoff, level = scaled
        out.update(source=(f"the life prior (peak day {prior.peak_day:g}, life {prior.life_days:g} days) scaled to "
                           f"chapter 02's validated {level['estimate']:.0f}/day"),
                   takeoff=takeoff.isoformat(),
                   peak_date=(takeoff + pd.Timedelta(days=prior.peak_day)).isoformat(),
                   remaining={"estimate": round(total["estimate"], 1), "low": round(total["low"], 1),
                              "high": round(total["high"], 1), "conf": validated.get("conf", conf)},
                   daily=table(baseline + curves["estimate"], baseline + curves["low"], baseline + curves["high"]))
        return out
    flat = np.full(len(days), baseline)
    out.update(source=f"normal sales ({baseline:.0f}/day): no spike to plan for while {phase.phase}",
               remaining={"estimate": 0.0, "low": 0.0, "high": 0.0, "conf": conf}, daily=table(flat, flat, flat))
    return out


def open_order_arrivals(open_orders: Iterable[Mapping[str, Any]] | pd.DataFrame | None, as_of: Any,
                        tz: str = "Asia/Shanghai") -> pd.DataFrame:
    """The open order lines (the state's ``position["open_orders"]``) as arrivals by day: day 0 is the day of
    ``as_of``, day d the d-th calendar day after. A line already overdue is expected tomorrow (day 1): it is late,
    not lost. Columns: po_id, supplier, day, date, units, unit_cost, overdue."""
    columns = ["po_id", "supplier", "day", "date", "units", "unit_cost", "overdue"]
    rows = pd.DataFrame(open_orders if open_orders is not None else [])
    if rows.empty:
        return pd.DataFrame(columns=columns)
    day0 = _ts(as_of, tz).tz_localize(None).normalize()
    arrive = pd.to_datetime(rows["expected_arrival"], utc=True, format="ISO8601").dt.tz_convert(tz).dt.tz_localize(None)
    day = ((arrive.dt.normalize() - day0) / pd.Timedelta(days=1)).astype(int)
    overdue = (day < 0) | rows.get("overdue", pd.Series(False, index=rows.index)).astype(bool)
    day = day.where(~overdue, 1).clip(lower=0)
    return pd.DataFrame({"po_id": rows["po_id"].astype(str), "supplier": rows["supplier"].astype(str), "day": day,
                         "date": day0 + pd.to_timedelta(day, unit="D"),
                         "units": pd.to_numeric(rows["units_open"]).astype(float),
                         "unit_cost": pd.to_numeric(rows.get("unit_cost", pd.Series(np.nan, index=rows.index))).astype(float),
                         "overdue": overdue})[columns].reset_index(drop=True)


def forecast_units(forecast: Mapping[str, Any], days: float, level: str = "expected", start_day: int = 1) -> float:
    """Units of forecast demand over ``days`` days starting at forecast day ``start_day`` (1 = the day after as_of);
    a fractional last day counts in part."""
    rows = forecast.get("daily") or []
    total, left = 0.0, float(days)
    for row in rows[max(0, start_day - 1):]:
        if left <= 0:
            break
        take = min(1.0, left)
        total += take * float(row[level])
        left -= take
    return total


def _plan_table(value: Any) -> pd.DataFrame | None:
    """A recorded plan as a table: a frame, one row (mapping) or a list of rows."""
    from ..core._common import as_table

    return as_table(value)


def markdown_revenue_given_up(plan: Any) -> float:
    """Money a markdown ladder gives away: for each step, expected units x (normal price - marked-down price),
    the normal price being price / (1 - discount). Chapter 10 escalates it; approving a markdown books it."""
    table = _plan_table(plan)
    if table is None or table.empty or not {"price", "discount", "expected_units"} <= set(table.columns):
        return 0.0
    discount = pd.to_numeric(table["discount"], errors="coerce").fillna(0.0).clip(0.0, 0.999)
    price = pd.to_numeric(table["price"], errors="coerce").fillna(0.0)
    units = pd.to_numeric(table["expected_units"], errors="coerce").fillna(0.0)
    return float((units * price * discount / (1.0 - discount)).sum())


def _open_order_rows(open_orders) -> list[dict]:
    if open_orders is None:
        return []
    if isinstance(open_orders, pd.DataFrame):
        return open_orders.to_dict(orient="records")
    return [dict(r) for r in open_orders]


def open_arrivals(open_orders, as_of, days: int) -> np.ndarray:
    """Units of the open purchase orders expected on each day 1..``days`` (an overdue line, or one due on the
    as_of day itself, counts on day 1; lines due after the last day are left out)."""
    out = np.zeros(int(days))
    today = pd.Timestamp(pd.Timestamp(as_of).date())
    for row in _open_order_rows(open_orders):
        due = pd.Timestamp(row["expected_arrival"])
        if due.tzinfo is not None and pd.Timestamp(as_of).tzinfo is not None:
            due = due.tz_convert(pd.Timestamp(as_of).tz)
        offset = max(1, (pd.Timestamp(due.date()) - today).days)
        if offset <= days:
            out[offset - 1] += float(row["units_open"])
    return out
