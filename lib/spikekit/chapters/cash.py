"""Chapter 09: cash flow during a spike: will the money last, how big an order it carries, and how to fund a gap.

Conventions (stated once, used everywhere):
- Day 0 is the as_of day: the purchase order goes out then and its supplier deposits are paid then. Day d is the
  d-th calendar day after as_of; the projection covers days 0..horizon_days. Sales are forecast for days 1..H.
- A unit sold on day d is paid by the buyer that day and reaches our account on day d + lag_days of its platform,
  net of the platform fee and of refunds: price * (1 - fee_share - refund_share).
- An order to a supplier costs units * unit_cost + setup_cost. deposit_share of it is paid on day 0; the rest is
  paid balance_days after the order is delivered in full (its last_arrival_day), as suppliers invoice a completed
  order. With ``balance_after="each"`` and chapter 03's production table, the rest is split over the deliveries
  in proportion to the units each brings and paid balance_days after each.
- Logistics (per order) and ads (per day) are paid on the day they are spent.
- A financing draw brings its amount in on its draw day and is repaid as one sum on draw day + term_days:
  amount * (1 + fee_share + rate_annual * term_days / 365). Its effective annual cost (EAC) compounds that
  cost over a year of back-to-back terms: (1 + fee_share + rate_annual * term_days / 365) ** (365 / term_days) - 1.
- Liquid funds are the cash on hand now; the handbook caps one order at max_tie_share (30%) of them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..core.errors import ConfigError, InputError, did_you_mean

__all__ = [
    "CashSettings", "Gap", "cash_items", "project", "capped_sales", "backlog_shipments", "open_order_flows", "first_gap",
    "gap_causes", "order_cost", "order_cap",
    "effective_annual_cost", "financing_options", "choose_financing", "financing_draws", "presale_effect",
    "stress", "ad_spend", "platform_shares", "decide", "describe_causes", "review", "headline", "plot_projection", "plot_financing",
]

CASH_ITEMS = ("cash_on_hand", "cash_floor", "other_products_budget")


@dataclass(frozen=True)
class CashSettings:
    """The handbook's rules of thumb for chapter 09 (see the notebook parameters)."""

    horizon_days: int = 21
    max_tie_share: float = 0.3
    warn_days: int = 7
    presale_days: int = 7
    presale_discount: float = 0.1
    presale_share: float = 0.3
    stress_multiplier: float = 4.0

    def __post_init__(self):
        if int(self.horizon_days) != self.horizon_days or self.horizon_days < 1:
            raise ConfigError(f"horizon_days must be a whole number of days >= 1, got {self.horizon_days!r}")
        for name in ("max_tie_share", "presale_discount", "presale_share"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ConfigError(f"{name} is a share between 0 and 1, got {value!r}")
        if self.warn_days < 0 or self.presale_days < 0:
            raise ConfigError("warn_days and presale_days must be >= 0")
        if self.stress_multiplier < 1:
            raise ConfigError(f"stress_multiplier must be >= 1 (4.0 means orders up 300%), got {self.stress_multiplier!r}")


def cash_items(cash: pd.DataFrame) -> dict[str, float]:
    """The ``cash`` table as {item: amount}; cash_on_hand and cash_floor must be there, other items default to 0."""
    items = {str(k): float(v) for k, v in zip(cash["item"], cash["amount"])}
    missing = [i for i in ("cash_on_hand", "cash_floor") if i not in items]
    if missing:
        raise InputError(f"the cash table has no row for {', '.join(missing)}", file=_file_of(cash, "cash.csv"),
                         column="item", fix="add one row per item: cash_on_hand, cash_floor, other_products_budget")
    items.setdefault("other_products_budget", 0.0)
    return items


def _file_of(frame: pd.DataFrame, default: str) -> str:
    return (frame.attrs.get("source") or {}).get("path", default)


def _day0(as_of) -> pd.Timestamp:
    stamp = pd.Timestamp(as_of)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    return stamp.normalize()


def _per_day(values, horizon: int, what: str) -> np.ndarray:
    """A scalar or a sequence for days 1..H as an array indexed by day 0..H (day 0 gets 0)."""
    out = np.zeros(horizon + 1)
    if np.ndim(values) == 0:
        out[1:] = float(values)
    else:
        seq = np.asarray(list(values), dtype=float)
        n = min(len(seq), horizon)
        out[1:n + 1] = seq[:n]
        if n < horizon and len(seq):
            out[n + 1:] = seq[-1]  # a short forecast holds its last value
    if (out < 0).any() or not np.isfinite(out).all():
        raise ConfigError(f"{what} must be finite and >= 0")
    return out


def _rows_in_file(frame: pd.DataFrame, column: str, values: set[str]) -> list[int]:
    """Spreadsheet rows (header = row 1) of the rows whose ``column`` is one of ``values``.

    A loaded table is sorted by its key, so its order is not the file's: the file is read again as it is.
    A frame built in memory counts its own rows.
    """
    from ..inputs import contracts

    path = (frame.attrs.get("source") or {}).get("path")
    if path:
        try:
            raw, info = contracts.read_raw(path)
            match = [c for c in raw.columns if str(c).strip().lower() == column]
            if match:
                cells = raw[match[0]].astype(str).str.strip()
                first = int(info.get("first_row", 2))
                return [first + i for i, v in enumerate(cells) if v in values]
        except (OSError, ValueError):
            pass  # the table was loaded once; if it cannot be read again, count the frame's own rows
    return [i + 2 for i, v in enumerate(frame[column].astype(str)) if v in values]


def check_supplier_terms(supplier_terms: pd.DataFrame, suppliers: pd.DataFrame) -> pd.DataFrame:
    """Refuse payment terms for a supplier the suppliers table does not have (a misspelt or stale name).

    Such a row would be ignored, and the supplier it was meant for paid entirely up front. A supplier without
    terms is allowed: its orders are paid in full on day 0 and the projection says so in its notes.
    Returns ``supplier_terms``.
    """
    terms_file = (supplier_terms.attrs.get("source") or {}).get("path", "supplier_terms")
    suppliers_file = (suppliers.attrs.get("source") or {}).get("path", "suppliers")
    known = suppliers["supplier"].astype(str).tolist()
    named = supplier_terms["supplier"].astype(str)
    unknown = [s for s in dict.fromkeys(named) if s not in set(known)]
    if unknown:
        listed = ", ".join(f"'{s}'" for s in unknown)
        raise InputError(
            f"supplier {listed} has payment terms but is not in the suppliers table {suppliers_file}"
            f"{did_you_mean(unknown[0], known)}",
            file=terms_file, column="supplier", rows=_rows_in_file(supplier_terms, "supplier", set(unknown)),
            fix=f"spell the supplier as in {suppliers_file} ({', '.join(known)}) or remove the row")
    return supplier_terms


def _terms_for(supplier: str, terms: pd.DataFrame, notes: list[str]) -> tuple[float, int]:
    hit = terms[terms["supplier"].astype(str) == str(supplier)]
    if hit.empty:
        notes.append(f"{supplier}: no row in supplier_terms, so the whole order is paid on day 0")
        return 1.0, 0
    return float(hit["deposit_share"].iloc[0]), int(hit["balance_days"].iloc[0])


def _supplier_payments(purchase_orders: pd.DataFrame | None, production: pd.DataFrame | None,
                       supplier_terms: pd.DataFrame, horizon: int, unit_scale: float, notes: list[str],
                       balance_after: str = "last"):
    """Deposits and balances per day for the purchase orders, units scaled by ``unit_scale``."""
    deposits = np.zeros(horizon + 1)
    balances = np.zeros(horizon + 1)
    if purchase_orders is None or len(purchase_orders) == 0:
        return deposits, balances
    for _, po in purchase_orders.iterrows():
        units = float(po["units"]) * unit_scale
        if units <= 0:
            continue
        cost = units * float(po["unit_cost"]) + float(po.get("setup_cost", 0.0) or 0.0)
        deposit_share, balance_days = _terms_for(po["supplier"], supplier_terms, notes)
        deposits[0] += deposit_share * cost
        rest = (1 - deposit_share) * cost
        batches = None
        if balance_after == "each" and production is not None and len(production):
            mine = production[production["supplier"].astype(str) == str(po["supplier"])]
            if len(mine) and mine["units"].sum() > 0:
                batches = mine.groupby("arrival_day")["units"].sum()
        if batches is None:
            batches = pd.Series([1.0], index=[int(po["last_arrival_day"])])
        for arrival_day, batch_units in batches.items():
            pay_day = int(math.ceil(float(arrival_day))) + balance_days
            if pay_day <= horizon:
                balances[max(pay_day, 0)] += rest * float(batch_units) / float(batches.sum())
    return deposits, balances


def _shares(settlement: pd.DataFrame, platform_shares: Mapping[str, float] | None, notes: list[str]) -> np.ndarray:
    platforms = settlement["platform"].astype(str).tolist()
    if not platform_shares:
        return np.full(len(platforms), 1.0 / len(platforms))
    raw = np.array([float(platform_shares.get(p, 0.0)) for p in platforms])
    unknown = sorted(set(map(str, platform_shares)) - set(platforms))
    if unknown:
        notes.append(f"no settlement terms for {', '.join(unknown)}: their share of sales is spread over the others")
    if raw.sum() <= 0:
        return np.full(len(platforms), 1.0 / len(platforms))
    return raw / raw.sum()


def _proposal_arrivals(purchase_orders: pd.DataFrame | None, production: pd.DataFrame | None, horizon: int,
                       unit_scale: float) -> np.ndarray:
    """Units of this run's purchase order arriving per day 0..H (``production``'s arrival days when given, else
    each order whole on its ``last_arrival_day``), scaled by ``unit_scale``."""
    out = np.zeros(horizon + 1)
    if purchase_orders is None or len(purchase_orders) == 0:
        return out
    if production is not None and len(production) and "arrival_day" in production:
        ordered = set(purchase_orders["supplier"].astype(str))
        rows = production[production["supplier"].astype(str).isin(ordered)]
        pairs = zip(rows["arrival_day"], rows["units"])
    else:
        pairs = zip(purchase_orders.get("last_arrival_day", pd.Series(0, index=purchase_orders.index)),
                    purchase_orders["units"])
    for day, units in pairs:
        d = int(math.ceil(float(day)))
        if 0 <= d <= horizon:
            out[d] += float(units) * unit_scale
    return out


def capped_sales(demand: np.ndarray, stock: float, arrivals: np.ndarray) -> np.ndarray:
    """Units sold per day when a day's sales can never exceed the units there are: each day the day's arrivals come
    in, then sales take ``min(demand, stock left)``. ``stock`` is what is free to sell at the start (on hand minus
    the backlog already sold; below 0, arrivals fill the backlog first)."""
    left = float(stock)
    sold = np.zeros(len(demand))
    for d in range(len(demand)):
        left += float(arrivals[d]) if d < len(arrivals) else 0.0
        sold[d] = min(float(demand[d]), max(left, 0.0))
        left -= sold[d]
    return sold


def backlog_shipments(stock: float, backlog: float, arrivals: np.ndarray, days: int) -> np.ndarray:
    """Units of the backlog shipped per day 0..days-1. The backlog's buyers have paid the platform, which releases
    the money only after shipping (and the settlement lag), so these shipments earn cash like sales. ``stock`` is on
    hand minus backlog (as in ``capped_sales``): what is on hand ships on day 0, then arrivals fill the rest of the
    backlog before any new sale."""
    backlog = max(float(backlog), 0.0)
    unfilled = min(max(-float(stock), 0.0), backlog)  # the part on hand does not cover
    shipped = np.zeros(days)
    if days:
        shipped[0] = backlog - unfilled
    for d in range(days):
        arriving = float(arrivals[d]) if d < len(arrivals) else 0.0
        fill = min(unfilled, arriving)
        shipped[d] += fill
        unfilled -= fill
    return shipped


def open_order_flows(arrivals: pd.DataFrame | None, supplier_terms: pd.DataFrame, horizon: int,
                     notes: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Units arriving and money paid per day 0..H for order lines already placed (the ledger's open lines as
    ``spikekit.inputs.state.open_order_arrivals``): their deposits went out when they were placed (cash on hand already
    shows it), their balance ``(1 - deposit_share) x units x unit_cost`` is paid ``balance_days`` after arrival."""
    units = np.zeros(horizon + 1)
    pay = np.zeros(horizon + 1)
    notes = notes if notes is not None else []
    if arrivals is None or len(arrivals) == 0:
        return units, pay
    for row in arrivals.to_dict(orient="records"):
        day = int(row["day"])
        if 0 <= day <= horizon:
            units[day] += float(row["units"])
        deposit_share, balance_days = _terms_for(row["supplier"], supplier_terms, notes)
        cost = float(row["units"]) * float(row.get("unit_cost") or 0.0)
        due = day + int(balance_days)
        if 0 <= due <= horizon and deposit_share < 1:
            pay[due] += (1 - deposit_share) * cost
    return units, pay


def project(cash: pd.DataFrame, settlement: pd.DataFrame, supplier_terms: pd.DataFrame,
            purchase_orders: pd.DataFrame | None, production: pd.DataFrame | None, sales_forecast, price: float,
            logistics_cost_per_order: float, ad_spend_per_day: float, as_of, horizon_days: int = 21, *,
            platform_shares: Mapping[str, float] | None = None, draws: pd.DataFrame | None = None,
            unit_scale: float = 1.0, sales_scale: float = 1.0, balance_after: str = "last",
            stock_units: float | None = None, open_orders: pd.DataFrame | None = None,
            backlog_units: float = 0.0) -> pd.DataFrame:
    """Day-by-day cash: opening, inflows (settled sales, financing), outflows (deposits, balances, logistics, ads,
    repayments) and closing cash for days 0..horizon_days. ``sales_forecast`` is units/day (a number, or one value
    per day from day 1). ``draws`` (offer, amount, day, fee_share, rate_annual, term_days) are financing draws.
    ``unit_scale`` scales the purchase order units, ``sales_scale`` the sales (for the order cap and the stress
    test). Balances are paid after the last delivery (``balance_after="last"``) or after each delivery in
    ``production`` (``"each"``). Notes on assumptions go to ``attrs["notes"]``.

    With ``stock_units`` (units free to sell now: on hand minus backlog) sales are capped by the units there are:
    that stock, the arrivals of ``open_orders`` (lines already placed, ``spikekit.inputs.state.open_order_arrivals``,
    whose balances are paid too) and of this purchase order (``capped_sales``). ``sales_demand`` keeps the
    uncapped forecast, ``sales_units`` what is sold, ``sales_earned`` its net value on the day of the sale.
    ``backlog_units`` (orders taken but not shipped, already inside ``stock_units``) ship first as stock allows and
    earn like sales (``backlog_shipped``): the platform pays out after shipping, so filling a backlog brings cash."""
    if balance_after not in ("last", "each"):
        raise ConfigError(f"balance_after must be 'last' or 'each', got {balance_after!r}")
    horizon = int(horizon_days)
    if horizon < 1:
        raise ConfigError("horizon_days must be >= 1")
    if len(settlement) == 0:
        raise InputError("the settlement table is empty: sales cannot be turned into cash",
                         file=_file_of(settlement, "settlement.csv"), fix="add one row per platform you sell on")
    notes: list[str] = []
    items = cash_items(cash)
    days = np.arange(horizon + 1)
    demand = _per_day(sales_forecast, horizon, "sales_forecast") * float(sales_scale)
    open_units, open_payments = open_order_flows(open_orders, supplier_terms, horizon, notes)
    if stock_units is None:
        units = demand
    else:
        arrivals = open_units + _proposal_arrivals(purchase_orders, production, horizon, unit_scale)
        units = capped_sales(demand, float(stock_units), arrivals)
        if units.sum() < demand.sum() - 0.5:
            notes.append(f"sales capped by the units there are: {units.sum():,.0f} of {demand.sum():,.0f} forecast "
                         f"units sell ({float(stock_units):,.0f} free now + {arrivals.sum():,.0f} arriving)")
    backlog = np.zeros(horizon + 1)
    if backlog_units > 0 and stock_units is not None:
        backlog = backlog_shipments(float(stock_units), float(backlog_units), arrivals, horizon + 1)
        notes.append(f"backlog: {backlog.sum():,.0f} of {float(backlog_units):,.0f} units already sold ship within the "
                     "horizon (first from stock, then from arrivals); their money settles after shipping")
    units = units + backlog
    gross = units * float(price)

    sales_inflow = np.zeros(horizon + 1)
    earned = np.zeros(horizon + 1)
    for share, (_, terms) in zip(_shares(settlement, platform_shares, notes), settlement.iterrows()):
        net = gross * share * (1 - float(terms["fee_share"]) - float(terms["refund_share"]))
        earned += net
        lag = int(terms["lag_days"])
        if lag <= horizon:
            sales_inflow[lag:] += net[:horizon + 1 - lag]

    deposits, balances = _supplier_payments(purchase_orders, production, supplier_terms, horizon, unit_scale, notes,
                                            balance_after)
    logistics = units * float(logistics_cost_per_order)
    ads = np.where(days >= 1, float(ad_spend_per_day), 0.0)

    financing_in = np.zeros(horizon + 1)
    repayment = np.zeros(horizon + 1)
    if draws is not None:
        for _, d in draws.iterrows():
            day = int(d["day"])
            amount = float(d["amount"])
            if 0 <= day <= horizon:
                financing_in[day] += amount
            due = day + int(d["term_days"])
            if 0 <= due <= horizon:
                repayment[due] += amount * (1 + float(d["fee_share"]) + float(d["rate_annual"]) * int(d["term_days"]) / 365)
            elif due > horizon:
                notes.append(f"{d['offer']}: repaid on day {due}, after the horizon")

    inflow = sales_inflow + financing_in
    outflow = deposits + balances + open_payments + logistics + ads + repayment
    closing = items["cash_on_hand"] + np.cumsum(inflow - outflow)
    opening = np.concatenate([[items["cash_on_hand"]], closing[:-1]])
    day0 = _day0(as_of)
    frame = pd.DataFrame({
        "day": days, "date": [day0 + pd.Timedelta(days=int(d)) for d in days], "opening": opening,
        "sales_demand": demand, "sales_units": units, "backlog_shipped": backlog, "sales_earned": earned, "sales_inflow": sales_inflow,
        "financing_inflow": financing_in, "deposits": deposits, "balances": balances,
        "open_order_payments": open_payments, "logistics": logistics, "ads": ads,
        "repayments": repayment, "inflow": inflow, "outflow": outflow, "closing": closing,
    })
    frame.attrs["notes"] = list(dict.fromkeys(notes))
    frame.attrs["floor"] = items["cash_floor"]
    return frame


@dataclass(frozen=True)
class Gap:
    """The first day closing cash is below the floor (None fields when there is none)."""

    day: int | None
    date: pd.Timestamp | None
    shortfall: float  # floor - closing on that first day
    size: float  # the largest shortfall over the horizon: what financing must cover to keep cash >= floor
    worst_day: int | None
    last_day: int | None  # last day below the floor within the horizon

    @property
    def found(self) -> bool:
        return self.day is not None

    def to_dict(self) -> dict:
        from ..core._common import json_safe
        return json_safe({"day": self.day, "date": self.date, "shortfall": self.shortfall, "size": self.size,
                          "worst_day": self.worst_day, "last_day": self.last_day})


def first_gap(projection: pd.DataFrame, floor: float) -> Gap:
    """Where closing cash first drops below ``floor``, by how much, and the largest shortfall over the horizon."""
    short = float(floor) - projection["closing"].to_numpy(dtype=float)
    below = np.flatnonzero(short > 1e-9)
    if not len(below):
        return Gap(None, None, 0.0, 0.0, None, None)
    first, worst = int(below[0]), int(np.argmax(short))
    return Gap(int(projection["day"].iloc[first]), projection["date"].iloc[first], float(short[first]),
               float(short[worst]), int(projection["day"].iloc[worst]), int(projection["day"].iloc[below[-1]]))


GAP_CAUSES = (("ads", "ads", "ads paid as they run"),
              ("settlement lag", None, "sales made but not yet paid out by the platforms"),
              ("order deposits and balances", ("deposits", "balances"), "this run's purchase order"),
              ("open orders' balances", "open_order_payments", "order lines already placed (ledger)"),
              ("logistics", "logistics", "shipping paid per order"),
              ("repayments", "repayments", "financing repaid"))


def gap_causes(projection: pd.DataFrame, floor: float, day: int | None = None) -> pd.DataFrame:
    """What brought closing cash where it is on ``day`` (default: the day of the lowest closing cash), added up
    from day 0: the cash above the floor at the start plus sales earned (net, on the day of the sale) and financing,
    minus each drain: ads, the settlement lag (sales earned but not paid out yet), the purchase order's deposits and
    balances, open orders' balances, logistics and repayments. The rows add up exactly to closing minus the floor.
    Columns: item, kind (start / in / drain), amount (signed yuan), share_of_drains, note. ``attrs["main_cause"]``
    is the largest drain."""
    closing = projection["closing"].to_numpy(dtype=float)
    w = int(np.argmin(closing)) if day is None else int(day)
    upto = projection.iloc[: w + 1]
    start = float(projection["opening"].iloc[0]) - float(floor)
    earned = float(upto["sales_earned"].sum()) if "sales_earned" in upto else float(upto["sales_inflow"].sum())
    settled = float(upto["sales_inflow"].sum())
    rows = [{"item": "cash above the floor at the start", "kind": "start", "amount": start, "note": ""},
            {"item": "sales earned", "kind": "in", "amount": earned, "note": "net of fees and refunds"},
            {"item": "financing drawn", "kind": "in", "amount": float(upto["financing_inflow"].sum()), "note": ""}]
    for name, columns, note in GAP_CAUSES:
        if columns is None:
            value = earned - settled
        else:
            cols = [columns] if isinstance(columns, str) else list(columns)
            value = float(sum(upto[c].sum() for c in cols if c in upto))
        rows.append({"item": name, "kind": "drain", "amount": -value, "note": note})
    table = pd.DataFrame(rows)
    drains = -table.loc[table["kind"] == "drain", "amount"]
    total = float(drains.sum())
    table["share_of_drains"] = np.where(table["kind"] == "drain", -table["amount"] / total if total > 0 else 0.0, np.nan)
    table.attrs["day"] = int(projection["day"].iloc[w])
    table.attrs["closing_minus_floor"] = float(closing[w] - floor)
    table.attrs["main_cause"] = str(table.loc[drains.idxmax(), "item"]) if total > 0 else None
    return table


def order_cost(purchase_orders: pd.DataFrame | None, unit_scale: float = 1.0) -> float:
    """What the purchase orders cost in total (units scaled by ``unit_scale``, set-up costs once per supplier)."""
    if purchase_orders is None or len(purchase_orders) == 0:
        return 0.0
    units = purchase_orders["units"].to_numpy(dtype=float) * unit_scale
    setup = purchase_orders["setup_cost"].to_numpy(dtype=float) if "setup_cost" in purchase_orders else 0.0
    return float(np.sum(np.where(units > 0, units * purchase_orders["unit_cost"].to_numpy(dtype=float) + setup, 0.0)))


def order_cap(project_inputs: Mapping[str, Any], max_tie_share: float = 0.3) -> dict:
    """The largest order (units, in the purchase orders' proportions) that keeps closing cash >= the floor on
    every day of the horizon AND costs at most ``max_tie_share`` of the cash on hand; the cap is the smaller.
    The tie-up limit falls as the order grows. The cash limit need not: units that fill a paid backlog bring
    money back within the horizon, so a small order can break the floor where a larger one does not. So the
    scale is scanned on a grid up to the first failing doubling, and the last good grid point refined by
    bisection (the same answer as plain bisection when the limit is monotone)."""
    inputs = dict(project_inputs)
    orders = inputs.get("purchase_orders")
    items = cash_items(inputs["cash"])
    floor, liquid = items["cash_floor"], items["cash_on_hand"]
    planned = float(orders["units"].sum()) if orders is not None and len(orders) else 0.0
    if planned <= 0:
        return {"units": 0, "planned_units": 0, "by_cash": 0, "by_tie": 0, "binding": "no order planned",
                "tie_limit": max_tie_share * liquid, "planned_cost": 0.0, "planned_tie_share": 0.0}

    def cash_ok(scale: float) -> bool:
        inputs["unit_scale"] = scale
        return float(project(**inputs)["closing"].min()) >= floor - 1e-9

    def tie_ok(scale: float) -> bool:
        return order_cost(orders, scale) <= max_tie_share * liquid + 1e-9

    def largest(ok, grid: int = 32) -> float:
        high = 1.0
        while ok(high) and high < 1e6:
            high *= 2
        if ok(high):
            return high
        if ok(1e-9):  # the usual case: good from nothing up to one boundary
            low = 0.0 if high == 1.0 else high / 2
        else:  # no order breaks the floor: look for the orders big enough to pay their way
            step = high / grid
            good = [i for i in range(1, grid) if ok(i * step)]
            if not good:
                return 0.0
            low, high = good[-1] * step, (good[-1] + 1) * step
        for _ in range(50):
            mid = (low + high) / 2
            low, high = (mid, high) if ok(mid) else (low, mid)
        return low if ok(low) else 0.0

    by_cash = int(math.floor(largest(cash_ok) * planned + 1e-6))
    by_tie = int(math.floor(largest(tie_ok) * planned + 1e-6))
    cost = order_cost(orders)
    return {"units": min(by_cash, by_tie), "planned_units": int(round(planned)), "by_cash": by_cash, "by_tie": by_tie,
            "binding": "cash floor" if by_cash < by_tie else ("tie-up rule" if by_tie < by_cash else "both"),
            "tie_limit": max_tie_share * liquid, "planned_cost": cost,
            "planned_tie_share": cost / liquid if liquid > 0 else math.inf}


def effective_annual_cost(offer: Mapping[str, Any], amount: float = 1.0) -> float:
    """Effective annual cost of a financing offer: (1 + fee_share + rate_annual * term_days / 365) ** (365 /
    term_days) - 1, i.e. the term's whole cost (fee plus simple interest, paid at the end) compounded over a year
    of back-to-back terms. It is a rate, so it does not depend on ``amount`` (kept for symmetry with cost)."""
    term = float(offer["term_days"])
    if term <= 0:
        raise ConfigError(f"term_days must be > 0, got {term!r}")
    growth = 1 + float(offer["fee_share"]) + float(offer["rate_annual"]) * term / 365
    return float(growth ** (365 / term) - 1)


def presale_effect(sales_forecast, price: float, settings: CashSettings | None = None) -> dict:
    """What a pre-sale brings forward: ``presale_share`` of the gross sales of the next ``presale_days`` days,
    taken now at ``presale_discount`` off. ``amount`` is the cash pulled forward, ``cost`` the discount given."""
    s = settings or CashSettings()
    units = _per_day(sales_forecast, max(int(s.presale_days), 1), "sales_forecast")[1:int(s.presale_days) + 1]
    gross = float(units.sum()) * float(price) * s.presale_share
    return {"days": int(s.presale_days), "share": s.presale_share, "discount": s.presale_discount,
            "gross": gross, "amount": gross * (1 - s.presale_discount), "cost": gross * s.presale_discount,
            "cost_share": s.presale_discount / (1 - s.presale_discount) if s.presale_discount < 1 else math.inf}


def financing_options(financing: pd.DataFrame, cash: pd.DataFrame | None = None, presale: Mapping | None = None
                      ) -> pd.DataFrame:
    """Every way to fund a gap with its limit, cost per yuan over its term and EAC: the financing offers, plus a
    shift of the other products' budget (cost 0: it only delays their spend) when ``cash`` is given and lists one.
    A presale offer's limit is capped at what the pre-sale can bring forward (``presale["amount"]``); its fee_share
    is the discount as the table gives it."""
    rows = []
    for _, offer in financing.iterrows():
        row = {k: offer[k] for k in ("offer", "kind", "limit", "fee_share", "term_days", "rate_annual")}
        row["limit"] = float(row["limit"])
        if row["kind"] == "presale" and presale is not None:
            row["limit"] = min(row["limit"], float(presale["amount"]))
        rows.append(row)
    if cash is not None:
        budget = cash_items(cash)["other_products_budget"]
        if budget > 0:
            rows.append({"offer": "shift other products budget", "kind": "budget_shift", "limit": budget,
                         "fee_share": 0.0, "term_days": 365, "rate_annual": 0.0})
    table = pd.DataFrame(rows, columns=["offer", "kind", "limit", "fee_share", "term_days", "rate_annual"])
    table["term_days"] = table["term_days"].astype(int)
    table["cost_per_yuan"] = table["fee_share"].astype(float) + table["rate_annual"].astype(float) * table["term_days"] / 365
    table["eac"] = [effective_annual_cost(r) for _, r in table.iterrows()]
    return table.sort_values(["cost_per_yuan", "eac", "offer"], kind="stable").reset_index(drop=True)


def choose_financing(gap: Gap | float, options: pd.DataFrame, *, need_days: int = 0) -> pd.DataFrame:
    """The cheapest combination covering the gap. Each option costs a fixed share of what is drawn
    (``cost_per_yuan``) up to its limit, so the problem is a linear programme with one covering constraint
    (a fractional knapsack): taking the cheapest yuan first is optimal, no solver needed. Options whose term is
    shorter than ``need_days`` (they would fall due inside the gap) are used only if the others do not suffice.
    Returns the options with ``use`` (yuan drawn), ``cost`` and ``term_ok``; ``attrs["covered"]`` says whether
    the gap is covered."""
    need = float(gap.size if isinstance(gap, Gap) else gap)
    table = options.copy()
    table["term_ok"] = table["term_days"].astype(int) >= int(need_days)
    order = table.sort_values(["term_ok", "cost_per_yuan", "eac"], ascending=[False, True, True], kind="stable").index
    table["use"] = 0.0
    left = need
    for i in order:
        if left <= 1e-9:
            break
        take = min(float(table.at[i, "limit"]), left)
        table.at[i, "use"] = take
        left -= take
    table["cost"] = table["use"] * table["cost_per_yuan"]
    table.attrs["need"] = need
    table.attrs["covered"] = bool(left <= 1e-6)
    table.attrs["uncovered"] = max(left, 0.0)
    return table


def financing_draws(chosen: pd.DataFrame, day: int) -> pd.DataFrame:
    """The chosen options as draws on ``day`` (for ``project(draws=...)``); budget shifts are repaid never
    within the horizon (term 365)."""
    used = chosen[chosen["use"] > 0]
    return pd.DataFrame({"offer": used["offer"], "amount": used["use"], "day": int(day),
                         "fee_share": used["fee_share"], "rate_annual": used["rate_annual"],
                         "term_days": used["term_days"]}).reset_index(drop=True)


def ad_spend(conversion_by_platform: pd.DataFrame | None, override: float = -1.0) -> tuple[float, str]:
    """Ads per day for this product: ``override`` when >= 0 (0 is a real answer: no ads), else the sum of
    chapter 07's budgets after its moves, else 0."""
    if override is not None and override >= 0:
        return float(override), f"ads {override:,.0f} yuan/day (parameter)"
    if conversion_by_platform is not None and "budget_after" in conversion_by_platform:
        total = float(pd.to_numeric(conversion_by_platform["budget_after"], errors="coerce").fillna(0).sum())
        return total, f"ads {total:,.0f} yuan/day (chapter 07 budgets after its moves)"
    return 0.0, "no ad budget recorded by chapter 07 and none given: planning without ad spend"


def platform_shares(conversion_by_platform: pd.DataFrame | None) -> dict[str, float] | None:
    """Share of orders per platform from chapter 07 (None: sales are spread evenly over the settlement platforms)."""
    if conversion_by_platform is None or "orders" not in conversion_by_platform or len(conversion_by_platform) == 0:
        return None
    orders = pd.to_numeric(conversion_by_platform["orders"], errors="coerce").fillna(0).to_numpy(dtype=float)
    if orders.sum() <= 0:
        return None
    return {str(p): float(o / orders.sum()) for p, o in zip(conversion_by_platform["platform"], orders)}


def stress(project_inputs: Mapping[str, Any], multiplier: float = 4.0) -> dict:
    """Can cash carry orders up to ``multiplier`` times the forecast (4.0 = up 300%)? Sales, logistics and the
    purchase order all scale with the orders (more units sold must be bought); ads stay. ``ok`` means closing
    cash never goes below the floor; ``gap`` says where and how much it would."""
    inputs = dict(project_inputs)
    inputs["sales_scale"] = float(multiplier) * float(inputs.get("sales_scale", 1.0))
    inputs["unit_scale"] = float(multiplier) * float(inputs.get("unit_scale", 1.0))
    projection = project(**inputs)
    gap = first_gap(projection, cash_items(inputs["cash"])["cash_floor"])
    return {"multiplier": float(multiplier), "ok": not gap.found, "gap": gap.to_dict(),
            "min_closing": float(projection["closing"].min()), "projection": projection}


def decide(gap: Gap, warn_days: int) -> str:
    """'gap now' when cash falls below the floor within ``warn_days``, 'gap ahead' later in the horizon, else 'ok'."""
    if not gap.found:
        return "ok"
    return "gap now" if gap.day <= warn_days else "gap ahead"


def describe_causes(causes: pd.DataFrame, top: int = 3) -> str:
    """The drains of ``gap_causes`` in one sentence, largest first."""
    drains = causes[(causes["kind"] == "drain") & (causes["amount"] < -0.5)].sort_values("amount")
    if drains.empty:
        return "nothing drains the cash"
    parts = [f"{r['item']} {-r['amount']:,.0f} ({r['share_of_drains']:.0%})" for _, r in drains.head(top).iterrows()]
    return f"by day {causes.attrs.get('day')}: " + ", ".join(parts)


def review(decision: str, gap: Gap, cap: dict, chosen: pd.DataFrame | None, stress_result: dict,
           floor: float, other_products_budget: float = 0.0, *, causes: pd.DataFrame | None = None,
           stress_financed: dict | None = None, sales: Mapping[str, float] | None = None) -> list[str]:
    """The reasons behind the call, one line each. ``causes``: ``gap_causes`` on the worst day; ``stress_financed``:
    the stress test with the chosen financing drawn; ``sales``: {"units", "demand", "sellable"} of the projection."""
    reasons = []
    if sales is not None:
        backlog = float(sales.get("backlog_shipped", 0.0))
        new_sales = sales["units"] - backlog
        reasons.append(f"sales projected {sales['units']:,.0f} units over the horizon: "
                       + (f"{backlog:,.0f} of the backlog already sold shipped (paid out after shipping), then "
                          if backlog > 0 else "")
                       + f"{new_sales:,.0f} new: the shared forecast ({sales['demand']:,.0f}) capped by the "
                       f"{max(sales['sellable'], 0):,.0f} units that exist or arrive"
                       + (" after the backlog" if backlog > 0 else ""))
    if gap.found:
        reasons.append(f"closing cash first falls below the floor ({floor:,.0f} yuan) on day {gap.day} "
                       f"({gap.date:%m-%d}), short {gap.shortfall:,.0f}; the largest shortfall is {gap.size:,.0f} "
                       f"on day {gap.worst_day}")
    else:
        reasons.append(f"closing cash stays at or above the floor ({floor:,.0f} yuan) every day of the horizon")
    if causes is not None:
        main = causes.attrs.get("main_cause")
        reasons.append((f"the gap's main cause is **{main}**; " if gap.found and main else "what drains cash ")
                       + describe_causes(causes))
    if cap["by_cash"] == 0 and cap["planned_units"] > 0:
        reasons.append("cash falls below the floor even with no new order (sales settle later than ads and logistics "
                       "are paid): any order deepens the gap, so fund the gap before ordering")
    reasons.append(f"order cap {cap['units']} units (cash floor allows {cap['by_cash']}, 30%-of-cash rule "
                   f"{cap['by_tie']}); the planned order is {cap['planned_units']} units costing "
                   f"{cap['planned_cost']:,.0f} yuan = {cap['planned_tie_share']:.0%} of cash on hand")
    if chosen is not None and gap.found:
        used = chosen[chosen["use"] > 0]
        if len(used):
            parts = ", ".join(f"{o} {u:,.0f}" for o, u in zip(used["offer"], used["use"]))
            reasons.append(f"cheapest cover: {parts} (cost {used['cost'].sum():,.0f} yuan)"
                           + ("" if chosen.attrs.get("covered") else
                              f"; {chosen.attrs.get('uncovered', 0):,.0f} yuan stays uncovered"))
        if other_products_budget > 0:
            reasons.append(f"or first shift up to {other_products_budget:,.0f} yuan from other products' budget: no fee, "
                           f"but it delays their spend ({'enough' if other_products_budget >= gap.size else 'not enough'} "
                           "alone for the largest shortfall)")
    reasons.append(f"stress x{stress_result['multiplier']:g} orders without financing: " + _stress_text(stress_result))
    if stress_financed is not None:
        reasons.append(f"stress x{stress_financed['multiplier']:g} orders with the chosen financing: "
                       + _stress_text(stress_financed))
    return reasons


def _stress_text(result: Mapping[str, Any]) -> str:
    return ("cash carries it" if result["ok"] else
            f"cash breaks on day {result['gap']['day']} (short up to {result['gap']['size']:,.0f} yuan)")


def headline(decision: str, gap: Gap, cap: dict, chosen: pd.DataFrame | None, stress_result: dict,
             causes: pd.DataFrame | None = None, stress_financed: dict | None = None,
             cap_financed: dict | None = None) -> str:
    """One line for the run summary. ``cap_financed``: the order cap with the chosen financing drawn, shown beside
    the cap without it when they differ (an order that fits once the gap is funded is not refused)."""
    if gap.found:
        used = chosen[chosen["use"] > 0] if chosen is not None else pd.DataFrame()
        fund = (" fund with " + " + ".join(used["offer"]) if len(used) else " no financing covers it")
        main = causes.attrs.get("main_cause") if causes is not None else None
        text = (f"CASH {decision.upper()}: below floor on {gap.date:%m-%d} (day {gap.day}), up to {gap.size:,.0f} yuan "
                f"short" + (f" (mainly {main})" if main else "") + f";{fund}")
    else:
        text = "CASH OK: stays above the floor for the whole horizon"
    stress_text = f"x{stress_result['multiplier']:g} orders {'carried' if stress_result['ok'] else 'break cash'}"
    if stress_financed is not None and stress_financed["ok"] != stress_result["ok"]:
        stress_text += f" ({'carried' if stress_financed['ok'] else 'break cash'} with financing)"
    cap_text = f"order cap {cap['units']} units ({cap['binding']})"
    if cap_financed is not None and cap_financed["units"] != cap["units"]:
        cap_text = (f"order cap {cap_financed['units']} units with that financing, "
                    f"{cap['units']} without ({cap['binding']})")
    return f"{text}; {cap_text}; {stress_text}"


def plot_projection(projection: pd.DataFrame, floor: float, gap: Gap | None = None,
                    financed: pd.DataFrame | None = None, stressed: pd.DataFrame | None = None):
    """Closing cash per day against the floor, the gap marked; optionally with financing and under stress."""
    import matplotlib.pyplot as plt

    from ..core.plots import finish

    fig, ax = plt.subplots(figsize=(8, 3.8))
    dates = pd.to_datetime(projection["date"])
    ax.plot(dates, projection["closing"], marker="o", ms=3, color="C0", label="closing cash (plan)")
    if financed is not None:
        ax.plot(pd.to_datetime(financed["date"]), financed["closing"], color="C2", ls="-", label="with chosen financing")
    if stressed is not None:
        ax.plot(pd.to_datetime(stressed["date"]), stressed["closing"], color="C1", ls=":", label="orders x stress")
    ax.axhline(floor, color="C3", ls="--", label=f"cash floor {floor:,.0f}")
    if gap is not None and gap.found:
        below = projection["closing"] < floor
        ax.fill_between(dates, projection["closing"], floor, where=below, color="C3", alpha=0.2, label="gap")
        ax.annotate(f"gap from {gap.date:%m-%d}\nup to {gap.size:,.0f}", (pd.Timestamp(gap.date), floor),
                    textcoords="offset points", xytext=(8, 10), fontsize=8, color="C3")
    ax.legend(loc="best", fontsize=8)
    fig.autofmt_xdate()
    finish(ax, "Cash projection by day", "date", "closing cash (yuan)")
    return fig


def plot_financing(chosen: pd.DataFrame):
    """Each way to fund the gap: what its term costs per 100 yuan drawn, with its EAC, limit and the draw chosen."""
    import matplotlib.pyplot as plt

    from ..core.plots import finish

    fig, ax = plt.subplots(figsize=(8, 0.5 * len(chosen) + 1.8))
    y = np.arange(len(chosen))
    use = chosen["use"] if "use" in chosen else pd.Series(0.0, index=chosen.index)
    ax.barh(y, chosen["cost_per_yuan"] * 100, color=["C2" if u > 0 else "0.7" for u in use])
    for i, (_, r) in enumerate(chosen.iterrows()):
        label = (f"{r['cost_per_yuan'] * 100:.2f} per 100 over {int(r['term_days'])} d; EAC {r['eac']:.1%}; "
                 f"limit {r['limit']:,.0f}" + (f"; draw {use.iloc[i]:,.0f}" if use.iloc[i] > 0 else ""))
        ax.annotate(label, (r["cost_per_yuan"] * 100, i), xytext=(4, 0), textcoords="offset points", va="center",
                    fontsize=8)
    ax.set_yticks(y, [f"{o} ({k})" for o, k in zip(chosen["offer"], chosen["kind"])])
    ax.invert_yaxis()
    ax.set_xlim(0, max(float(chosen["cost_per_yuan"].max()) * 100 * 2.2, 1))
    finish(ax, "Financing options (green = chosen)", "cost over the term (yuan per 100 yuan drawn)", "option")
    return fig
