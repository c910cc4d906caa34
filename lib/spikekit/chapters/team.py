"""Chapter 10: the team's daily stand-up brief and the decision log across runs.

The handbook's rhythm: three roles (operations lead, content, supply chain) meet for 15 minutes at 9:00 —
yesterday's numbers (3 min), today's tasks (5), risks (4), resource asks (3). The front line decides alone up to
an authority limit (5,000 yuan); every money amount above it is escalated, with the chapter whose result it comes
from as evidence, and answered at one of the day's decision points (11:00, 15:00, 20:00).

Nothing here computes a new forecast: the brief only reorganises what chapters 01-09 recorded, so a reader can
trace every line back to a chapter's result.

The decision log across runs (``decision_log``, ``spike_runs``) lives in ``decisions``, shared with chapter 12 and
the record site; its names still import from here.
"""
from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import pandas as pd

from ..core._common import as_table
from ..core.errors import ConfigError
from ..core.decisions import (  # noqa: F401  (moved there; old imports keep working)
    DECISION_NAMES,
    LOG_COLUMNS,
    _plain,
    chapter_decision,
    decision_log,
    spike_runs,
)
from ..inputs.state import (  # noqa: F401  (moved there; old imports keep working)
    markdown_revenue_given_up,
)

CHAPTERS = ("01", "02", "03", "04", "05", "06", "07", "08", "09")

# What the notebook asks each chapter for (sk.upstream(chapter, name, default=None)).
RESULT_NAMES: dict[str, tuple[str, ...]] = {
    "01": ("decision", "headline", "first_alert"),
    "02": ("decision", "headline", "daily_demand", "validation_sales", "winning_design"),
    "03": ("decision", "headline", "purchase_orders", "total_cost", "increment"),  # increment: backlog-only order?
    "04": ("headline", "first_order_units", "promotion_now", "expected_overstock", "fill_rate", "reorder_point"),
    "05": ("verdict", "headline", "cost_per_order", "orders_per_day", "cost_alert", "shortfall"),
    "06": ("exit_decision", "headline", "trigger_date", "markdown_plan", "commitment_risks", "brake_list"),
    "07": ("verdict", "headline", "budget_moves", "conversion_by_platform", "creative_call"),
    "08": ("decision", "headline", "kit", "kit_deadline", "make_more"),
    "09": ("decision", "headline", "gap_date", "gap_size", "order_cap_units", "chosen_financing", "stress_ok",
           "projected_sales_units"),
}

DEFAULT_ROLES = ("operations lead", "content", "supply chain")
DEFAULT_DECISION_POINTS = ("11:00", "15:00", "20:00")
# The stand-up agenda: section title and its time box in minutes (15 minutes in all).
AGENDA = (("Yesterday's numbers", 3), ("Today's tasks", 5), ("Risks", 4), ("Resource asks", 3))

ESCALATION_COLUMNS = ["chapter", "kind", "item", "amount", "limit", "evidence"]

# Which decision point answers what: approvals first (the handbook cut approvals to 2 hours, so the first point
# after the stand-up), traffic and price moves at mid-day when the data room has a morning of data, and stock,
# cash, exit and tomorrow's content in the evening.
_SLOT = {"approval": 0, "traffic": 1, "evening": 2}


# ----------------------------------------------------------------------------------------------------------
# Gathering results
# ----------------------------------------------------------------------------------------------------------
def _chapter_id(key: Any) -> str:
    text = str(key).strip()
    if text.isdigit():
        return f"{int(text):02d}"
    raise ConfigError(f"chapter key {key!r} must be a chapter number like '03'")


def gather(run_results: Mapping[Any, Mapping[str, Any] | None]) -> dict[str, dict[str, Any]]:
    """Chapter results as {"01": {name: value}, ...}: keys normalised, None values (not recorded) dropped,
    chapters with nothing recorded left out so the brief can say which ones are missing."""
    gathered: dict[str, dict[str, Any]] = {}
    for key, values in (run_results or {}).items():
        chapter = _chapter_id(key)
        kept = {str(name): value for name, value in (values or {}).items() if value is not None}
        if kept:
            gathered[chapter] = kept
    return dict(sorted(gathered.items()))


# ----------------------------------------------------------------------------------------------------------
# Escalations: money amounts above the front line's authority
# ----------------------------------------------------------------------------------------------------------
def _frame(value: Any) -> pd.DataFrame | None:
    """A recorded table back as a frame (``core._common.as_table``)."""
    return as_table(value)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def yuan(amount: float) -> str:
    return f"¥{amount:,.0f}"


def _purchase_order_items(values: Mapping[str, Any]) -> list[dict]:
    orders = _frame(values.get("purchase_orders"))
    if orders is None or orders.empty:
        return []
    items = []
    for row in orders.to_dict(orient="records"):
        cost = _number(row.get("cost"))
        if cost is None:  # older records: rebuild the cost from its parts
            cost = (_number(row.get("units")) or 0) * (_number(row.get("unit_cost")) or 0) + (_number(row.get("setup_cost")) or 0)
        supplier = row.get("supplier", "?")
        units = _number(row.get("units"))
        items.append({"chapter": "03", "kind": "purchase order",
                      "item": f"purchase order {supplier}" + (f" ({units:,.0f} units)" if units is not None else ""),
                      "amount": cost, "evidence": f"03 purchase_orders: {supplier} cost {yuan(cost)}"})
    return items


def _budget_move_items(values: Mapping[str, Any]) -> list[dict]:
    moves = _frame(values.get("budget_moves"))
    if moves is None or moves.empty:
        return []
    items = []
    for row in moves.to_dict(orient="records"):
        amount = _number(row.get("amount")) or 0.0
        source, target = row.get("from_platform", "?"), row.get("to_platform", "?")
        items.append({"chapter": "07", "kind": "budget move", "item": f"move {yuan(amount)}/day {source} -> {target}",
                      "amount": amount, "evidence": f"07 budget_moves: {source} -> {target} {yuan(amount)} a day"})
    return items


def _financing_items(values: Mapping[str, Any]) -> list[dict]:
    chosen = _frame(values.get("chosen_financing"))
    if chosen is None or chosen.empty:
        return []
    items = []
    for row in chosen.to_dict(orient="records"):
        amount = next((_number(row[k]) for k in ("amount", "use", "draw", "used", "value") if _number(row.get(k)) is not None), None)
        if not amount:
            continue
        offer = row.get("offer", row.get("kind", "financing"))
        items.append({"chapter": "09", "kind": "financing", "item": f"financing {offer}",
                      "amount": amount, "evidence": f"09 chosen_financing: {offer} {yuan(amount)}"})
    return items


def _markdown_items(values: Mapping[str, Any]) -> list[dict]:
    plan = values.get("markdown_plan")
    given_up = markdown_revenue_given_up(plan)
    if given_up <= 0:
        return []
    table = _frame(plan)
    deepest = float(pd.to_numeric(table["discount"], errors="coerce").max())
    return [{"chapter": "06", "kind": "markdown", "item": f"markdown ladder (to {deepest:.0%} off)",
             "amount": given_up, "evidence": f"06 markdown_plan: {len(table)} steps give up {yuan(given_up)} of revenue"}]


def money_items(results: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Every money amount a chapter asks the team to commit (one row each), before the authority check."""
    results = gather(results)
    items = (_purchase_order_items(results.get("03", {})) + _markdown_items(results.get("06", {}))
             + _budget_move_items(results.get("07", {})) + _financing_items(results.get("09", {})))
    return pd.DataFrame(items, columns=["chapter", "kind", "item", "amount", "evidence"])


def escalations(results: Mapping[str, Mapping[str, Any]], authority_limit: float = 5000.0, *,
                combine_split: bool = True) -> pd.DataFrame:
    """Money amounts strictly above ``authority_limit`` (the front line decides alone up to it).

    With ``combine_split``, amounts of one chapter and kind that are each within the limit but together above it
    escalate as one combined row: splitting one decision into small orders does not lower what it commits.
    """
    limit = _number(authority_limit)
    if limit is None or limit < 0:
        raise ConfigError(f"authority_limit must be a number >= 0 (yuan), got {authority_limit!r}")
    items = money_items(results)
    above = items[items["amount"] > limit]
    rows = above.to_dict(orient="records")
    if combine_split:
        within = items[items["amount"] <= limit]
        for (chapter, kind), group in within.groupby(["chapter", "kind"], sort=True):
            total = float(group["amount"].sum())
            if len(group) > 1 and total > limit:
                rows.append({"chapter": chapter, "kind": kind + "s combined",
                             "item": f"{len(group)} {kind}s together", "amount": total,
                             "evidence": f"{chapter}: " + " + ".join(yuan(a) for a in group["amount"])
                                         + f" = {yuan(total)}, each within the limit"})
    frame = pd.DataFrame(rows, columns=["chapter", "kind", "item", "amount", "evidence"])
    frame.insert(4, "limit", limit)
    return frame.sort_values(["chapter", "amount"], ascending=[True, False], kind="stable").reset_index(drop=True)[ESCALATION_COLUMNS]


# ----------------------------------------------------------------------------------------------------------
# The brief
# ----------------------------------------------------------------------------------------------------------
@dataclass
class Brief:
    as_of: pd.Timestamp
    authority_limit: float
    roles: tuple[str, ...]
    numbers: pd.DataFrame        # metric, value, chapter
    tasks: pd.DataFrame          # role, task, chapter, due
    risks: pd.DataFrame          # risk, chapter
    asks: pd.DataFrame           # ask, amount, chapter
    escalations: pd.DataFrame    # ESCALATION_COLUMNS
    decision_points: pd.DataFrame  # time, decide, chapter
    missing: list[str] = field(default_factory=list)
    headlines: dict[str, str] = field(default_factory=dict)
    phase: str | None = None                 # where the spike stands (spikekit.inputs.state), None when not derived
    phase_evidence: list[str] = field(default_factory=list)
    position: dict = field(default_factory=dict)   # on hand, backlog, on order as of the brief
    contradictions: list[str] = field(default_factory=list)  # calls of this run that cannot all be followed

    def to_dict(self) -> dict:
        from ..core._common import json_safe

        return json_safe({"as_of": self.as_of, "authority_limit": self.authority_limit, "roles": list(self.roles),
                          "numbers": self.numbers, "tasks": self.tasks, "risks": self.risks, "asks": self.asks,
                          "escalations": self.escalations, "decision_points": self.decision_points,
                          "missing": self.missing})


def _numbers(results: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    r = results
    if "01" in r and r["01"].get("first_alert") is not None:
        rows.append(("first alert", f"{pd.Timestamp(r['01']['first_alert']):%m-%d %H:%M}", "01"))
    if "02" in r:
        demand = r["02"].get("daily_demand") or {}
        if demand.get("estimate") is not None:
            rows.append(("demand (units/day)", f"{demand['estimate']:.0f} ({demand.get('low', float('nan')):.0f}-"
                                              f"{demand.get('high', float('nan')):.0f})", "02"))
        if r["02"].get("validation_sales") is not None:
            rows.append(("validation sales", f"{r['02']['validation_sales']:,.0f} units", "02"))
    conversion = _frame(r.get("07", {}).get("conversion_by_platform"))
    if conversion is not None and {"views", "orders"} <= set(conversion.columns) and conversion["views"].sum() > 0:
        views, orders = float(conversion["views"].sum()), float(conversion["orders"].sum())
        rows.append(("orders, last 24 h", f"{orders:,.0f} of {views:,.0f} views ({orders / views:.1%})", "07"))
        best = conversion.sort_values("conversion", ascending=False).iloc[0] if "conversion" in conversion else None
        if best is not None:
            rows.append(("best platform", f"{best['platform']} {best['conversion']:.1%}", "07"))
    if "03" in r and r["03"].get("total_cost") is not None:
        rows.append(("ordered from suppliers", yuan(float(r["03"]["total_cost"])), "03"))
    promo = r.get("04", {}).get("promotion_now")
    position = r.get("04", {}).get("stock_position")
    if isinstance(position, Mapping) and position.get("on_hand") is not None:
        cover = promo.get("days_of_cover") if isinstance(promo, Mapping) else None
        rows.append(("stock", f"{_number(position['on_hand']) or 0:,.0f} on hand, {_number(position.get('backlog')) or 0:,.0f} "
                     f"sold and waiting; position {_number(position.get('position')) or 0:,.0f} with orders"
                     + (f" ({float(cover):.1f} days of cover)" if _number(cover) is not None else ""), "04"))
    elif isinstance(promo, Mapping) and _number(promo.get("stock")) is not None:
        cover = _number(promo.get("days_of_cover"))
        rows.append(("stock now", f"{_number(promo['stock']):,.0f} units"
                     + (f", {cover:.1f} days of cover" if cover is not None else ""), "04"))
    if r.get("04", {}).get("fill_rate") is not None and _number(r["04"]["fill_rate"]) is not None:
        rows.append(("expected fill rate", f"{float(r['04']['fill_rate']):.0%}", "04"))
    if "05" in r and r["05"].get("cost_per_order") is not None:
        rows.append(("logistics cost/order", f"¥{float(r['05']['cost_per_order']):.2f} ({r['05'].get('cost_alert', '?')})", "05"))
    if "09" in r and r["09"].get("decision") is not None:
        rows.append(("cash", str(r["09"]["decision"]), "09"))
    return rows


def _tasks(results: Mapping[str, Mapping[str, Any]], as_of: Any = None) -> list[tuple[int, str, str]]:
    """(role index 0 ops / 1 content / 2 supply, task, chapter); ``as_of`` marks a deadline already passed."""
    r, tasks = results, []
    moves = _frame(r.get("07", {}).get("budget_moves"))
    for row in ([] if moves is None else moves.to_dict(orient="records")):
        tasks.append((0, f"move {yuan(row['amount'])}/day of ads {row['from_platform']} -> {row['to_platform']}", "07"))
    promo = r.get("04", {}).get("promotion_now")
    if isinstance(promo, Mapping) and promo.get("name"):
        tasks.append((0, f"promotion: {promo['name']}", "04"))
    if r.get("05", {}).get("orders_per_day") is not None:
        tasks.append((0, f"ship ~{float(r['05']['orders_per_day']):.0f} orders/day on the chapter 05 split", "05"))
    exit_call = r.get("06", {}).get("exit_decision")
    if exit_call and exit_call != "hold course":
        tasks.append((0, f"exit: {exit_call} (see the markdown ladder)", "06"))
    creative = r.get("07", {}).get("creative_call")
    if creative and "change" in str(creative):
        tasks.append((1, f"creative: {creative} (audience moved)", "07"))
    if r.get("08", {}).get("decision") == "produce" and r["08"].get("kit") is not None:  # no kit: approved already
        deadline = None if r["08"].get("kit_deadline") is None else pd.Timestamp(r["08"]["kit_deadline"])
        late = deadline is not None and as_of is not None and _passed(deadline, pd.Timestamp(as_of))
        tasks.append((1, "content kit" + (f" due {deadline:%m-%d %H:%M}" + (" (overdue)" if late else "")
                                          if deadline is not None else ""), "08"))
    more = _frame(r.get("08", {}).get("make_more"))
    if more is not None and not more.empty:
        label = " / ".join(str(v) for v in more.iloc[0][[c for c in ("format", "platform") if c in more.columns]])
        tasks.append((1, f"make more: {label}" if label else "make more of the top cell", "08"))
    orders = _frame(r.get("03", {}).get("purchase_orders"))
    if orders is not None and not orders.empty:
        first = orders["first_arrival_day"].min() if "first_arrival_day" in orders else None
        tasks.append((2, f"confirm {len(orders)} purchase orders ({orders['units'].sum():,.0f} units)"
                         + (f", first arrival day {first:.0f}" if first is not None else ""), "03"))
    if r.get("04", {}).get("first_order_units") is not None:
        tasks.append((2, f"first batch {float(r['04']['first_order_units']):,.0f} units; watch the reorder point", "04"))
    if exit_call in {"brake", "exit"}:
        brakes = _frame(r.get("06", {}).get("brake_list"))
        units = float(brakes["units"].sum()) if brakes is not None and "units" in brakes and len(brakes) else 0.0
        increment = r.get("03", {}).get("increment")
        backlog_only = isinstance(increment, Mapping) and bool(increment.get("backlog_only"))
        rest = ("from now on make only what customers already paid for (chapter 03's backlog order)" if backlog_only
                else "make to order from now on")
        tasks.append((2, (f"brake: cancel {units:,.0f} not-started units on {len(brakes)} line(s) (chapter 06 brake list)"
                          if units > 0 else f"brake: nothing open to cancel; {rest}"), "06"))
    return tasks


def _passed(deadline: pd.Timestamp, as_of: pd.Timestamp) -> bool:
    """``deadline`` is before ``as_of``; a naive stamp is read in the other's zone."""
    if (deadline.tzinfo is None) != (as_of.tzinfo is None):
        deadline = deadline.tz_localize(as_of.tzinfo) if deadline.tzinfo is None else deadline.tz_localize(None)
    return deadline < as_of


def _risks(results: Mapping[str, Mapping[str, Any]], phase: str | None = None) -> list[tuple[str, str]]:
    """``phase``: the spike state's, shown at the top of the brief; chapter 06's own decline signal can fire a day or
    two before the state confirms a decline, and the risk must not call the spike declining under "Phase: peak"."""
    r, risks = results, []
    if r.get("02", {}).get("decision") in {"no-go", "extend"}:
        risks.append((f"validation says {r['02']['decision']}", "02"))
    fill = _number(r.get("04", {}).get("fill_rate"))
    if fill is not None and fill < 0.95:
        risks.append((f"stock-outs: expected fill rate {fill:.0%}", "04"))
    over = r.get("04", {}).get("expected_overstock")
    if isinstance(over, Mapping) and (_number(over.get("value")) or 0) > 0:
        risks.append((f"leftover ~{over.get('units', 0):,.0f} units ({yuan(float(over['value']))}) after the horizon", "04"))
    alert = r.get("05", {}).get("cost_alert")
    if alert and alert != "ok":
        risks.append((f"logistics cost {alert}", "05"))
    shortfall = _number(r.get("05", {}).get("shortfall"))
    if shortfall:
        risks.append((f"warehouses short {shortfall:,.0f} orders/day", "05"))
    exit_call = r.get("06", {}).get("exit_decision")
    if exit_call and exit_call != "hold course":
        if phase in (None, "declining", "exited"):
            risks.append((f"spike declining: {exit_call}", "06"))
        else:
            risks.append((f"past the top (phase {phase}), chapter 06's decline signal fired: {exit_call}", "06"))
    commitments = _frame(r.get("06", {}).get("commitment_risks"))
    if commitments is not None and not commitments.empty:
        risks.append((f"{len(commitments)} long-term commitment risks", "06"))
    cash = r.get("09", {}).get("decision")
    if cash and cash != "ok":
        gap_date, gap = r["09"].get("gap_date"), _number(r["09"].get("gap_size"))
        risks.append((f"cash: {cash}" + (f" on {pd.Timestamp(gap_date):%m-%d}" if gap_date is not None else "")
                      + (f", {yuan(gap)} short" if gap else ""), "09"))
    if r.get("09", {}).get("stress_ok") is False:
        risks.append(("cash cannot carry orders up 300%", "09"))
    return risks


def _decision_points(results: Mapping[str, Mapping[str, Any]], escalated: pd.DataFrame,
                     points: tuple[str, ...]) -> list[tuple[str, str, str]]:
    r, rows = results, []

    def at(slot: str) -> str:
        return points[min(_SLOT[slot], len(points) - 1)]

    for row in escalated.to_dict(orient="records"):
        rows.append((at("approval"), f"approve {row['item']} {yuan(row['amount'])}", row["chapter"]))
    if r.get("02", {}).get("decision") == "extend":
        rows.append((at("approval"), "validation extended: go or no-go", "02"))
    if "07" in r:
        rows.append((at("traffic"), "budget and creative: keep or reverse this morning's moves", "07"))
    if "05" in r:
        rows.append((at("traffic"), "logistics: split and courier rush orders for the evening peak", "05"))
    if "04" in r:
        rows.append((at("traffic"), "price/promotion level for the rest of the day", "04"))
    if "06" in r:
        rows.append((at("evening"), "exit: hold course, brake or mark down tomorrow", "06"))
    if "03" in r or "04" in r:
        rows.append((at("evening"), "tomorrow's reorder and production", "03" if "03" in r else "04"))
    if "09" in r:
        rows.append((at("evening"), "cash: order cap and financing for tomorrow", "09"))
    if "08" in r:
        rows.append((at("evening"), "tomorrow's content: what to make more of", "08"))
    for point in points:  # a point with nothing pending still happens: the team confirms the numbers
        if not any(p == point for p, _, _ in rows):
            rows.append((point, "nothing pending: confirm the numbers", ""))
    order = {p: i for i, p in enumerate(points)}
    return sorted(rows, key=lambda row: order[row[0]])


def _check_points(decision_points: Iterable[str]) -> tuple[str, ...]:
    points = tuple(str(p) for p in decision_points)
    if not points:
        raise ConfigError("decision_points must name at least one time like '11:00'")
    for p in points:
        try:
            pd.Timestamp(f"2000-01-01 {p}")
        except (ValueError, TypeError):
            raise ConfigError(f"decision point {p!r} is not a time of day like '15:00'") from None
    return tuple(sorted(points, key=lambda p: pd.Timestamp(f"2000-01-01 {p}")))


def brief(results: Mapping[str, Mapping[str, Any]], as_of: Any, authority_limit: float = 5000.0,
          decision_points: Iterable[str] = DEFAULT_DECISION_POINTS, roles: Iterable[str] = DEFAULT_ROLES, *,
          combine_split: bool = True, state: Mapping[str, Any] | None = None) -> Brief:
    """The 9:00 stand-up brief built from chapter results (see ``gather``). ``state``: the run's spike state
    (``sk.spike_state()``): the brief then opens with the phase and the stock position, and lists every pair of
    calls that contradict each other (``spikekit.inputs.state.brief_contradictions``)."""
    results = gather(results)
    roles = tuple(str(x) for x in roles)
    if len(roles) != 3:
        raise ConfigError(f"roles must name three roles (operations, content, supply chain), got {list(roles)}")
    points = _check_points(decision_points)
    escalated = escalations(results, authority_limit, combine_split=combine_split)
    numbers = pd.DataFrame(_numbers(results), columns=["metric", "value", "chapter"])
    tasks = pd.DataFrame([(roles[i], task, ch) for i, task, ch in _tasks(results, as_of)], columns=["role", "task", "chapter"])
    phase = None if state is None else state.get("phase")
    risks = pd.DataFrame(_risks(results, phase) + [(f"no result from chapter {c}", c) for c in CHAPTERS if c not in results],
                         columns=["risk", "chapter"])
    asks = pd.DataFrame([(f"approval: {row['item']}", row["amount"], row["chapter"])
                         for row in escalated.to_dict(orient="records")], columns=["ask", "amount", "chapter"])
    return Brief(
        as_of=pd.Timestamp(as_of), authority_limit=float(authority_limit), roles=roles, numbers=numbers,
        tasks=tasks, risks=risks, asks=asks, escalations=escalated,
        decision_points=pd.DataFrame(_decision_points(results, escalated, points), columns=["time", "decide", "chapter"]),
        missing=[c for c in CHAPTERS if c not in results],
        headlines={c: str(v["headline"]) for c, v in results.items() if v.get("headline")},
        phase=None if state is None else state.get("phase"),
        phase_evidence=[] if state is None else list(state.get("phase_evidence") or []),
        position={} if state is None else dict(state.get("position") or {}),
        contradictions=([] if state is None else
                        _contradictions(results, state, authority_limit, escalated["amount"].tolist())),
    )


def _contradictions(results, state, authority_limit, escalated_amounts) -> list[str]:
    from ..inputs.state import brief_contradictions

    return brief_contradictions(results, state, authority_limit=authority_limit, escalated_amounts=escalated_amounts)


# ----------------------------------------------------------------------------------------------------------
# Markdown for a phone
# ----------------------------------------------------------------------------------------------------------
LINE_WIDTH = 48  # characters; a phone screen in portrait shows about this many


def _bullet(text: str, width: int = LINE_WIDTH) -> list[str]:
    return textwrap.wrap(text, width=width, initial_indent="- ", subsequent_indent="  ", break_long_words=True) or ["-"]


def brief_markdown(b: Brief, width: int = LINE_WIDTH) -> str:
    """The brief as Markdown that reads on a phone: a heading per agenda item with its time box, short lines."""
    start = pd.Timestamp("2000-01-01 09:00")
    lines = ["# Stand-up 9:00 · 15 min", f"data to {b.as_of:%Y-%m-%d %H:%M}", f"own limit {yuan(b.authority_limit)}", ""]
    if b.phase:
        lines += [f"**Phase: {b.phase}**"] + [line for e in b.phase_evidence for line in _bullet(e, width)]
        if b.position:
            p = b.position
            lines += _bullet(f"stock {p.get('on_hand', 0):,} on hand, {p.get('on_order', 0):,} on order, "
                             f"{p.get('backlog', 0):,} sold and waiting", width)
        lines.append("")
    if b.contradictions:
        lines += ["**Contradictions: settle these first**"]
        for text in b.contradictions:
            lines += _bullet(text, width)
        lines.append("")
    sections = {
        "Yesterday's numbers": [f"{m}: {v} [{c}]" for m, v, c in b.numbers.itertuples(index=False)]
                               or ["no numbers recorded yet"],
        "Today's tasks": None,
        "Risks": [f"{risk} [{c}]" for risk, c in b.risks.itertuples(index=False)] or ["none flagged"],
        "Resource asks": [f"{ask}: {yuan(a)} [{c}]" for ask, a, c in b.asks.itertuples(index=False)]
                         or [f"none above {yuan(b.authority_limit)}"],
    }
    for number, (title, minutes) in enumerate(AGENDA, start=1):
        end = start + pd.Timedelta(minutes=minutes)
        lines += [f"## {number}. {title} ({minutes} min)", f"{start:%H:%M}-{end:%H:%M}", ""]
        start = end
        if title == "Today's tasks":
            for role in b.roles:
                lines.append(f"**{role}**")
                own = b.tasks[b.tasks["role"] == role]
                for task, chapter in zip(own["task"], own["chapter"]):
                    lines += _bullet(f"{task} [{chapter}]", width)
                if own.empty:
                    lines += _bullet("no chapter task: support", width)
                lines.append("")
            continue
        for text in sections[title]:
            lines += _bullet(text, width)
        lines.append("")
    lines += ["## Escalations", ""]
    for row in b.escalations.to_dict(orient="records"):
        lines += _bullet(f"{yuan(row['amount'])} {row['item']} [{row['chapter']}]", width)
    if b.escalations.empty:
        lines += _bullet(f"nothing above {yuan(b.authority_limit)}", width)
    lines += ["", "## Decision points", ""]
    for time, group in b.decision_points.groupby("time", sort=False):
        lines.append(f"**{time}**")
        for decide, chapter in zip(group["decide"], group["chapter"]):
            lines += _bullet(decide + (f" [{chapter}]" if chapter else ""), width)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def headline(b: Brief) -> str:
    total = float(b.escalations["amount"].sum()) if not b.escalations.empty else 0.0
    return (f"Stand-up {b.as_of:%m-%d}" + (f" ({b.phase})" if b.phase else "") + f": {len(b.tasks)} tasks, {len(b.risks)} risks, "
            + (f"{len(b.contradictions)} contradiction(s) to settle, " if b.contradictions else "")
            + (f"{len(b.escalations)} escalation{'s' if len(b.escalations) > 1 else ''} ({yuan(total)}) above "
               f"{yuan(b.authority_limit)}"
               if len(b.escalations) else f"nothing above {yuan(b.authority_limit)}")
            + f"; decide at {', '.join(dict.fromkeys(b.decision_points['time']))}")


# ----------------------------------------------------------------------------------------------------------
# Decision log across runs
# ----------------------------------------------------------------------------------------------------------


def review(b: Brief) -> tuple[str, list[str]]:
    """Verdict and reasons for the decision box."""
    reasons = [f"{len(b.escalations)} money amount(s) above the {yuan(b.authority_limit)} authority limit go to the "
               f"{b.decision_points['time'].iloc[0]} decision point" if len(b.escalations)
               else f"nothing above {yuan(b.authority_limit)}: the front line decides alone"]
    reasons += [f"{len(b.tasks)} tasks for {', '.join(b.roles)}", f"{len(b.risks)} risks flagged"]
    if b.missing:
        reasons.append(f"no results yet from chapters {', '.join(b.missing)}")
    if b.phase:
        reasons.insert(0, f"phase: {b.phase}" + (f" ({b.phase_evidence[-1]})" if b.phase_evidence else ""))
    if b.contradictions:
        reasons += [f"contradiction: {text}" for text in b.contradictions]
        return "contradictions", reasons
    return "brief ready", reasons
