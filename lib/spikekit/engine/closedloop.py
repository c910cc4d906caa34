"""Closed-loop replay: the playbook's calls applied to a simulated shop, day after day, scored against the
handbook's rules of thumb and against hindsight.

An open replay only asks "what would the playbook have said on each day". A closed loop also lets the shop
*do* it: after each step the run's proposals are approved into a ledger of the replay's own (``spike approve``'s
rules), purchase orders arrive on the day chapter 03 planned, stock sells down by the scenario's true demand (one
Poisson draw per day around the truth file's expected demand, the same draws for every policy), sales beyond stock
are lost, and markdowns lift sales by the scenario's price elasticity. The next step's run sees all of it: its
sales table is the simulated sales, its ledger holds what was ordered, received and counted.

Three policies on the same days and draws:

- ``playbook``: what the playbook proposed at each step, approved as is.
- ``handbook``: the seed handbook's rules followed literally: the first order is 50% of the validation-period
  sales, placed when the validation says go; then whenever stock plus what is on order falls below 7 days of the
  last day's sales, order 7 days of sales; stop ordering after sales fall more than 15% three days in a row.
- ``hindsight``: knowing the true demand, order exactly what will sell, as early as the lead time allows after the
  go: the limit no policy can beat.

Each policy is scored by fill rate (the share of the scenario's demand served), lost units (the scenario's demand
not served; extra demand a markdown would draw is not counted), leftover units (stock left, or still arriving, when
the spike is over) and their value, the lowest cash point, gross margin, and the cost of lost plus leftover units
(lost units at the margin, leftover units at their unit cost net of salvage).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ..core.errors import ConfigError

DAY = pd.Timedelta(days=1)
FOLLOW_ROOT = "replays"  # under the data root: each closed-loop replay's simulated sales and ledger


# ----------------------------------------------------------------------------------------------------------
# The world: true demand and the shop's economics


@dataclass
class World:
    spike: str
    tz: str
    days: pd.DatetimeIndex  # the simulated days (day starts, tz-aware)
    demand: np.ndarray  # realised demand per day at the normal price (Poisson around the truth)
    expected: np.ndarray  # the truth file's expected demand per day
    price: float
    unit_cost: float
    salvage: float
    elasticity: float
    start_stock: int
    lead_days: int  # the handbook's and hindsight's lead time (chapter 04's lead_days)
    base: float  # normal demand per day

    @property
    def margin(self) -> float:
        return self.price - self.unit_cost

    def index_of(self, day: pd.Timestamp) -> int | None:
        day = pd.Timestamp(day).tz_convert(self.tz).normalize()
        pos = self.days.get_indexer([day])[0]
        return None if pos < 0 else int(pos)


def _find(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        if key in value:
            return value[key]
        for v in value.values():
            found = _find(v, key)
            if found is not None:
                return found
    elif isinstance(value, list):
        for v in value:
            found = _find(v, key)
            if found is not None:
                return found
    return None


def build_world(spike, start: pd.Timestamp, end: pd.Timestamp, *, seed: int = 20250401, lead_days: int = 4,
                tail_days: int = 7) -> World:
    """The true demand of a sample (or generated) scenario from ``start``'s day until the spike is over (demand
    back within 20% of normal, and at least ``end``) plus ``tail_days``, and the shop's prices and costs."""
    from ..inputs import contracts
    from ..core.paths import data_root

    if "signals" not in spike.data or "stock" not in spike.data:
        raise ConfigError(f"spike '{spike.name}' names no signals or stock file: a closed-loop replay needs a sample "
                          "scenario (its folder holds demand.csv, the true demand)")
    folder = data_root() / Path(spike.data["signals"]).parent
    demand_file, truth_file = folder / "demand.csv", folder / "truth.json"
    if not demand_file.is_file():
        raise ConfigError(f"no true demand for spike '{spike.name}' ({demand_file} is missing): a closed-loop replay "
                          "runs on sample scenarios only. Fix: use a sample or generated scenario "
                          "(python -m spikekit.samples new ...)")
    frame = pd.read_csv(demand_file)
    curve = pd.Series(frame["units"].to_numpy(dtype=float),
                      index=pd.DatetimeIndex(pd.to_datetime(frame["date"])).tz_localize(spike.timezone))
    truth = json.loads(truth_file.read_text(encoding="utf-8")) if truth_file.is_file() else {}
    stock = contracts.load_stock(spike.data["stock"], tz=spike.timezone)
    base = float(curve.iloc[:14].median())
    first = start.tz_convert(spike.timezone).normalize()
    over = curve[(curve.index > curve.idxmax()) & (curve <= 1.2 * base)]
    last = max(end.tz_convert(spike.timezone).normalize(), over.index[0] if len(over) else curve.index[-1])
    last = min(last + tail_days * DAY, curve.index[-1])
    days = curve.index[(curve.index >= first) & (curve.index <= last)]
    expected = curve.loc[days].to_numpy(dtype=float)
    rng = np.random.default_rng(seed)
    elasticity = _find(truth, "price_elasticity")
    return World(spike=spike.name, tz=spike.timezone, days=days, demand=rng.poisson(expected).astype(float),
                 expected=expected, price=float(stock["price"].iloc[0]), unit_cost=float(stock["unit_cost"].iloc[0]),
                 salvage=float(stock["salvage_value"].iloc[0]),
                 elasticity=float(elasticity) if elasticity is not None else -2.0,
                 start_stock=int(stock["on_hand"].sum()), lead_days=int(lead_days), base=base)


# ----------------------------------------------------------------------------------------------------------
# The shop: stock, orders in the pipeline, sales, cash


@dataclass
class Line:
    key: str
    supplier: str
    units: int
    unit_cost: float
    arrival: int  # index of the day it arrives (may be past the simulated days)
    placed: int


@dataclass
class Shop:
    world: World
    on_hand: float = 0.0
    lines: list[Line] = field(default_factory=list)
    discount: dict[int, float] = field(default_factory=dict)  # day index -> discount
    sold: np.ndarray | None = None
    lost: np.ndarray | None = None
    stock_end: np.ndarray | None = None
    cash: np.ndarray | None = None
    spend: float = 0.0
    revenue: float = 0.0
    first_order: int | None = None
    received: list[tuple[int, str, int]] = field(default_factory=list)  # day, line key, units

    def __post_init__(self):
        n = len(self.world.days)
        self.on_hand = float(self.world.start_stock)
        self.sold, self.lost, self.stock_end, self.cash = (np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n))

    def order(self, day: int, units: float, arrival: int, unit_cost: float | None = None, supplier: str = "",
              key: str | None = None) -> None:
        units = int(round(units))
        if units <= 0:
            return
        cost = self.world.unit_cost if unit_cost is None else float(unit_cost)
        self.lines.append(Line(key or f"L{len(self.lines) + 1}", supplier, units, cost, int(arrival), int(day)))
        self.spend += units * cost
        self.first_order = day if self.first_order is None else self.first_order

    def cancel(self, day: int, target: str, units: int) -> int:
        """Cancel up to ``units`` (0: all) not yet arrived on line ``target`` or the supplier's newest lines;
        the money of a cancelled unit comes back. Returns units cancelled."""
        done = 0
        lines = [ln for ln in self.lines if ln.key == target] or \
            [ln for ln in reversed(self.lines) if ln.supplier == target]
        for ln in lines:
            if ln.arrival <= day or ln.units <= 0:
                continue
            take = ln.units if units <= 0 else min(ln.units, units - done)
            ln.units -= take
            self.spend -= take * ln.unit_cost
            done += take
            if units > 0 and done >= units:
                break
        return done

    def on_order(self, day: int) -> int:
        """Units still to come as the day starts (arriving today or later)."""
        return int(sum(ln.units for ln in self.lines if ln.arrival >= day))

    def simulate(self, day: int) -> None:
        """One day: arrivals first, then the day's demand (lifted by any markdown) sells from stock."""
        w = self.world
        for ln in self.lines:
            if ln.arrival == day and ln.units > 0:
                self.on_hand += ln.units
                self.received.append((day, ln.key, ln.units))
        d = self.discount.get(day, 0.0)
        want = float(np.floor(w.demand[day] * ((1.0 - d) ** w.elasticity if d > 0 else 1.0) + 0.5))
        sell = min(want, self.on_hand)
        self.on_hand -= sell
        # Lost: the scenario's demand that went unserved. Extra demand a markdown would have drawn is not a loss of
        # the spike's demand (and a markdown still in force when demand returns must not count twice).
        lost = max(0.0, float(w.demand[day]) - sell)
        self.sold[day], self.lost[day], self.stock_end[day] = sell, lost, self.on_hand
        self.revenue += sell * w.price * (1.0 - d)
        self.cash[day] = self.revenue - self.spend

    def metrics(self) -> dict:
        w = self.world
        n = len(w.days)
        arriving_later = sum(ln.units for ln in self.lines if ln.arrival >= n)
        leftover = float(self.on_hand + arriving_later)
        demand = float(np.sum(w.demand))
        lost = float(self.lost.sum())
        return {
            "fill_rate": round(float(np.sum(w.demand - self.lost)) / demand, 4) if demand > 0 else 1.0,
            "lost_units": round(lost, 1),
            "leftover_units": round(leftover, 1),
            "leftover_value": round(leftover * w.unit_cost, 2),
            "cash_low": round(float(min(0.0, self.cash.min())), 2),
            "gross_margin": round(self.revenue - self.spend + leftover * w.salvage, 2),
            "ordered_units": int(sum(ln.units for ln in self.lines)),
            "first_order_at": None if self.first_order is None else w.days[self.first_order].strftime("%Y-%m-%d"),
            "cost_lost_plus_leftover": round(lost * w.margin + leftover * (w.unit_cost - w.salvage), 2),
        }


def apply_markdown(shop: Shop, plan: pd.DataFrame | None, from_day: int) -> None:
    """An approved markdown ladder (chapter 06: one row per step, each from ``from_date`` until the next step's)
    sets the shop's discount on every day from ``from_day`` on; the last step holds to the end. Each approval
    replaces the price plan from ``from_day`` on: no ladder (``None`` or empty) is the normal price."""
    w = shop.world
    for d in [d for d in shop.discount if d >= from_day]:
        del shop.discount[d]
    if plan is None or not len(plan):
        return
    col = next((c for c in ("from_date", "date", "start") if c in plan), None)
    if col is None:
        return
    starts = []
    for row in plan.to_dict(orient="records"):
        when = pd.Timestamp(row[col])
        when = when.tz_localize(w.tz) if when.tzinfo is None else when
        starts.append((when.normalize(), float(row["discount"])))
    starts.sort()
    for i, (when, discount) in enumerate(starts):
        first = w.index_of(when)
        first = 0 if first is None and when < w.days[0] else first
        if first is None:
            continue
        stop = w.index_of(starts[i + 1][0]) if i + 1 < len(starts) else None
        for d in range(max(first, from_day), len(w.days) if stop is None else stop):
            shop.discount[d] = discount


# ----------------------------------------------------------------------------------------------------------
# The handbook's rules and hindsight on the same world


def handbook_lead_days(book, spike) -> int:
    """Days from an order to its first units for the handbook's and hindsight's orders: chapter 04's ``lead_days``
    when set, else the day the fastest usable supplier can land a new order (chapter 03's own reckoning)."""
    from ..inputs import contracts
    from ..core.supply import first_arrival

    params = dict(book.chapters["04"].defaults) if "04" in book.chapters else {}
    params.update(spike.parameters.get("04", {}))
    if float(params.get("lead_days", 0) or 0) > 0:
        return int(math.ceil(float(params["lead_days"])))
    if "suppliers" in spike.data:
        p03 = dict(book.chapters["03"].defaults) if "03" in book.chapters else {}
        first = first_arrival(contracts.load_suppliers(spike.data["suppliers"], tz=spike.timezone),
                              float(p03.get("reserve_share", 0.3)), int(p03.get("horizon_days", 10)))
        if first is not None:
            return int(first["arrival_day"])
    return 4


def first_go(spike, days: Iterable[pd.Timestamp], hour: int = 12) -> tuple[pd.Timestamp | None, int]:
    """The first daily moment chapter 02's validation says go, and the validation-period sales then."""
    from ..inputs import contracts
    from ..core import validation_model as v

    if "validation" not in spike.data:
        return None, 0
    events = contracts.load_validation(spike.data["validation"], tz=spike.timezone)
    for day in days:
        moment = day + pd.Timedelta(hours=hour)
        called = v.decide(events, moment, v.ValidationSettings())
        if called.decision == "go":
            return moment, int(called.validation_sales)
        if called.decision == "no-go":
            return None, 0
    return None, 0


def handbook_policy(world: World, go_day: int | None, validation_sales: int, *, first_share: float = 0.5,
                    reorder_days: float = 7.0, drop: float = 0.15, drop_days: int = 3) -> Shop:
    shop = Shop(world)
    exited, drops = False, 0
    for day in range(len(world.days)):
        if go_day is not None and day == go_day:
            shop.order(day, first_share * validation_sales, day + world.lead_days)
        if go_day is not None and day > go_day and not exited:
            last = shop.sold[day - 1]
            if day >= 2 and shop.sold[day - 2] > 0 and last < (1 - drop) * shop.sold[day - 2]:
                drops += 1
            else:
                drops = 0
            if drops >= drop_days:
                exited = True
            elif shop.on_hand + shop.on_order(day) < reorder_days * last:
                shop.order(day, reorder_days * last, day + world.lead_days)
        shop.simulate(day)
    return shop


def hindsight_policy(world: World, go_day: int | None) -> Shop:
    """Order at the go exactly the demand that stock on hand cannot meet from the first day an order can arrive,
    each day's units arriving that day: nothing lost that an order could have saved, nothing left over."""
    shop = Shop(world)
    if go_day is None:
        for day in range(len(world.days)):
            shop.simulate(day)
        return shop
    first = go_day + world.lead_days
    stock = float(world.start_stock) - float(world.demand[:first].sum())  # what is left when orders can land
    for day in range(first, len(world.days)):
        need = world.demand[day] - max(0.0, stock)
        stock = max(0.0, stock - world.demand[day])
        if need > 0:
            shop.order(go_day, math.ceil(need - 1e-9), day, key=f"H{day}")
    for day in range(len(world.days)):
        shop.simulate(day)
    return shop


# ----------------------------------------------------------------------------------------------------------
# The playbook in the loop


FOLLOW_CHAPTERS = ["10"]  # the stand-up and everything it reads (01-11): every call the team would approve


@dataclass
class FollowOutcome:
    folder: Path
    outcome: dict
    shops: dict


def _write_rows(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    new = not path.exists()
    with path.open("a", encoding="utf-8", newline="") as handle:
        if new:
            handle.write(",".join(header) + "\n")
        for row in rows:
            handle.write(",".join(str(v) for v in row) + "\n")


def _live(shop: Shop, first: int, stop: int, sim: Path) -> int:
    """Simulate days ``first`` .. ``stop - 1`` and write what the shop's own exports would show: a sales row per day
    (stamped at the day's end) and a receipt per delivery (10:00 that day). Returns the next day to simulate."""
    from ..inputs.state import LEDGER_FILES

    w = shop.world
    sales_rows, receipt_rows = [], []
    for d in range(first, stop):
        before = len(shop.received)
        shop.simulate(d)
        sales_rows.append([_stamp((w.days[d] + DAY).tz_localize(None)), int(shop.sold[d]),
                           f"{w.price * (1 - shop.discount.get(d, 0.0)):.2f}"])
        receipt_rows += [[key, _stamp((w.days[d] + pd.Timedelta(hours=10)).tz_localize(None)), units]
                         for _, key, units in shop.received[before:]]
    _write_rows(sim / "sales.csv", ["timestamp", "orders", "price"], sales_rows)
    if receipt_rows:
        _write_rows(sim / "ledger" / LEDGER_FILES["receipts"], ["po_id", "received_at", "units"], receipt_rows)
    return max(first, stop)


def _stamp(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S")


def follow_replay(spike_name: str, start: Any, end: Any, *, every: str = "1d", chapters: list[str] | None = None,
                  records: Path | str | None = None, workers: int | None = None, progress=None, seed: int = 20250401,
                  prewarm: bool = True) -> FollowOutcome:
    """Run the playbook as of each step on a simulated shop that does what it proposes (see the module doc);
    write ``outcome.json``, ``stock.png`` and ``index.html`` beside the usual replay files."""
    import datetime as dt
    import os
    import sys
    import time

    from ..inputs import contracts
    from ..core.paths import check_name, check_records_root, data_root, project_root, records_root
    from ..core.record import parse_as_of
    from .replay import steps_between, timeline_row
    from .replay import publish
    from .runner import PARTIAL, WorkerPool, _write_json, new_run_id, run, runner_identity
    from ..inputs.settings import load_playbook, load_spike
    from ..inputs.state import LEDGER_FILES, approve, brief_contradictions, load_ledger

    progress = sys.stderr if progress is None else progress
    spike = load_spike(check_name(spike_name))
    book = load_playbook()
    order = book.order(chapters or FOLLOW_CHAPTERS)
    steps = steps_between(start, end, every, spike.timezone)
    lead = handbook_lead_days(book, spike)
    world = build_world(spike, steps[0], steps[-1], seed=seed, lead_days=lead)
    records_dir = check_records_root(Path(records) if records else records_root())
    os.environ["SPIKE_RECORDS"] = str(records_dir)
    replay_id = new_run_id()
    rel = f"{FOLLOW_ROOT}/{spike.name}/{replay_id}"
    sim = data_root() / rel
    (sim / "ledger").mkdir(parents=True)
    ledger_rel = f"{rel}/ledger"
    # The shop as the replay's first day starts (the simulation counts whole days): stock counted, the sales known so
    # far, nothing on order.
    (sim / "ledger" / LEDGER_FILES["stock_counts"]).write_text(
        f"counted_at,on_hand\n{_stamp(world.days[0].tz_localize(None))},{world.start_stock}\n", encoding="utf-8")
    history = contracts.load_sales(spike.data["sales"], tz=spike.timezone)
    history = history[history["timestamp"] <= world.days[0]]
    _write_rows(sim / "sales.csv", ["timestamp", "orders", "price"],
                [[_stamp(t.tz_localize(None)), int(o), f"{p:.2f}"] for t, o, p in
                 zip(history["timestamp"], history["orders"], history["price"])])
    staging = records_dir / PARTIAL / spike.name / f"replay-{replay_id}"
    staging.mkdir(parents=True)
    shop = Shop(world)
    manifest: dict[str, Any] = {
        "format": "spikekit.engine.replay/1", "replay_id": replay_id, "spike": spike.name, "follow": True,
        "from": steps[0].isoformat(), "to": steps[-1].isoformat(), "every": every, "chapters": order,
        "notebooks": {cid: book.chapters[cid].notebook.with_suffix(".html").name for cid in order},
        "simulation": {"data": rel, "seed": seed, "lead_days": lead},
        "runner": runner_identity(),  # `spike prune --partials` removes a replay whose runner died
        "started": dt.datetime.now(dt.timezone.utc).isoformat(), "steps": [],
    }
    contradictions, rows, simulated = [], [], 0
    t0 = time.time()
    cwd = str(project_root() / "notebooks")
    with WorkerPool(book.kernel, cwd, prewarm, workers or book.workers) as pool:
        for i, step in enumerate(steps):
            print(f"[follow {i + 1}/{len(steps)}] as of {step:%Y-%m-%d %H:%M}", file=progress, flush=True)
            day = world.index_of(step)
            if day is None:
                raise ConfigError(f"step {step} is outside the scenario's true demand ({world.days[0]:%Y-%m-%d} to "
                                  f"{world.days[-1]:%Y-%m-%d})")
            outcome = run(spike.name, step.isoformat(), chapters=order, records=records_dir, workers=workers,
                          progress=progress, prewarm=prewarm, pool=pool, more_after=i < len(steps) - 1,
                          tags={"replay": replay_id, "step": i, "follow": True},
                          data_overrides={"sales": f"{rel}/sales.csv"}, ledger=ledger_rel, backorders=False)
            m = outcome.manifest
            state_file = outcome.run_dir / "results" / "state.json"
            run_state = json.loads(state_file.read_text(encoding="utf-8")) if state_file.exists() else {}
            from ..core.record import from_jsonable

            results = {cid: {k: from_jsonable(v) for k, v in (e.get("results") or {}).items()}
                       for cid, e in m["chapters"].items() if e.get("status") in ("ok", "reused")}
            found = results.get("10", {}).get("contradictions")
            if found is None:
                found = brief_contradictions(results, run_state)
            contradictions += [{"as_of": m["as_of"], "run_id": m["run_id"], "text": text} for text in found]
            added = approve(m, ledger_rel, by="closed-loop replay", at=step, tz=spike.timezone)
            ledger = load_ledger(ledger_rel, tz=spike.timezone)
            mine = ledger.purchase_orders[ledger.purchase_orders["source_run"].astype(str) == m["run_id"]]
            for po in mine.to_dict(orient="records"):
                arrival = world.index_of(po["expected_arrival"])
                if arrival is None:
                    arrival = len(world.days) + int((po["expected_arrival"].normalize() - world.days[-1]) / DAY)
                shop.order(day, po["units"], max(arrival, day + 1), po["unit_cost"], po["supplier"], key=po["po_id"])
            for cancel in ledger.approvals[(ledger.approvals["run_id"].astype(str) == m["run_id"])
                                           & (ledger.approvals["kind"] == "cancel")].to_dict(orient="records"):
                shop.cancel(day, str(cancel["item"]), int(cancel["units"]))
            plan = results.get("06", {}).get("markdown_plan")
            if isinstance(plan, pd.DataFrame) and len(plan) and "discount" in plan and \
                    (ledger.approvals["run_id"].astype(str).eq(m["run_id"]) & ledger.approvals["kind"].eq("markdown")).any():
                apply_markdown(shop, plan, from_day=day)
            elif "06" in results:
                # Chapter 06 holds the price this step (no live ladder): the price plan from tomorrow is the normal price.
                apply_markdown(shop, None, from_day=day + 1)
            until = world.index_of(steps[i + 1]) if i + 1 < len(steps) else day + 1
            simulated = _live(shop, simulated, min(until, len(world.days)), sim)
            manifest["steps"].append({"as_of": step.isoformat(), "run_id": m["run_id"], "status": m["status"],
                                      "phase": run_state.get("phase"), "approved": added,
                                      "on_hand": round(float(shop.on_hand), 1), "on_order": shop.on_order(day)})
            rows.append(timeline_row(m))
            _write_json(staging / "replay.json", manifest)
    # The rest of the spike: no more calls, orders still arrive. Its days are written too, so a later run in this
    # replay's world (`spike run --replay ID`) sees how the spike ended.
    _live(shop, simulated, len(world.days), sim)
    go_moment, validation_sales = first_go(spike, world.days)
    go_day = world.index_of(go_moment) if go_moment is not None else None
    shops = {"playbook": shop, "handbook": handbook_policy(world, go_day, validation_sales),
             "hindsight": hindsight_policy(world, go_day)}
    result = {name: s.metrics() for name, s in shops.items()}
    result["contradictions"] = contradictions
    result["world"] = {"days": [world.days[0].strftime("%Y-%m-%d"), world.days[-1].strftime("%Y-%m-%d")],
                       "true_demand_units": round(float(world.demand.sum()), 1), "price": world.price,
                       "unit_cost": world.unit_cost, "salvage": world.salvage, "elasticity": world.elasticity,
                       "start_stock": world.start_stock, "lead_days": world.lead_days, "seed": seed,
                       "go": None if go_moment is None else go_moment.isoformat(), "validation_sales": validation_sales}
    _write_json(staging / "outcome.json", result)
    timeline = pd.DataFrame(rows)
    timeline.to_csv(staging / "timeline.csv", index=False)
    png = _stock_figure(world, shops)
    (staging / "stock.png").write_bytes(png)
    (staging / "index.html").write_text(_outcome_html(manifest, result, png, spike.name), encoding="utf-8")
    manifest["finished"] = dt.datetime.now(dt.timezone.utc).isoformat()
    manifest["duration_s"] = round(time.time() - t0, 3)
    manifest["first_actions"] = {}
    _write_json(staging / "replay.json", manifest)
    return FollowOutcome(publish(staging, records_dir, spike.name, replay_id), result, shops)


def _stock_figure(world: World, shops: dict) -> bytes:
    import io

    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..core.plots import finish, use_theme

    use_theme()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6), sharex=True, gridspec_kw={"height_ratios": [1.2, 1]})
    days = world.days.tz_localize(None)
    top.plot(days, world.demand, color="0.3", lw=1.6, label="true demand (units/day)")
    for i, (name, shop) in enumerate(shops.items()):
        top.plot(days, shop.sold, lw=1.2, color=f"C{i}", label=f"{name}: sold")
        bottom.plot(days, shop.stock_end, lw=1.6, color=f"C{i}", label=f"{name}: stock at day end")
    top.legend(fontsize=8, loc="upper right")
    bottom.legend(fontsize=8, loc="upper right")
    finish(top, f"Closed-loop replay of '{world.spike}': demand and sales by policy", "", "units/day")
    finish(bottom, "Stock on hand", "day", "units")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _outcome_html(manifest: dict, result: dict, png: bytes, spike_name: str) -> str:
    import base64
    import html as h

    names = ["playbook", "handbook", "hindsight"]
    metrics = ["cost_lost_plus_leftover", "fill_rate", "lost_units", "leftover_units", "leftover_value", "cash_low",
               "gross_margin", "ordered_units", "first_order_at"]
    head = "<tr><th>measure</th>" + "".join(f"<th>{n}</th>" for n in names) + "</tr>"
    body = "".join("<tr><td>" + h.escape(k) + "</td>" + "".join(
        f"<td>{h.escape(str(result[n].get(k)))}</td>" for n in names) + "</tr>" for k in metrics)
    contra = "".join(f"<li>{h.escape(c['as_of'][:16])}: {h.escape(c['text'])}</li>" for c in result["contradictions"])
    steps = "".join(f"<tr><td>{h.escape(s['as_of'][:16])}</td><td>{h.escape(str(s.get('phase')))}</td>"
                    f"<td>{h.escape(str(s.get('approved')))}</td><td>{s.get('on_hand')}</td><td>{s.get('on_order')}</td>"
                    f"<td><a href=\"../../{h.escape(s['run_id'])}/\">{h.escape(s['run_id'])}</a></td></tr>"
                    for s in manifest["steps"])
    img = base64.b64encode(png).decode("ascii")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Closed-loop replay {h.escape(manifest['replay_id'])} of {h.escape(spike_name)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;font-size:13px}}th{{background:#f3f3f3}}</style></head><body>
<h1>Closed-loop replay of {h.escape(spike_name)}</h1>
<p>From {h.escape(manifest['from'][:16])} to {h.escape(manifest['to'][:16])} every {h.escape(manifest['every'])}: each
step's proposals approved and applied to a simulated shop; the same true demand for all three policies.</p>
<table>{head}{body}</table>
<h2>Contradictions ({len(result['contradictions'])})</h2><ul>{contra or '<li>none</li>'}</ul>
<img alt="stock by policy" style="max-width:100%" src="data:image/png;base64,{img}">
<h2>Steps</h2><table><tr><th>as of</th><th>phase</th><th>approved</th><th>on hand</th><th>on order</th><th>run</th></tr>
{steps}</table></body></html>"""


def replay_world(spike_name: str, replay_id: str, records: Path | str | None = None) -> dict:
    """The overrides that run a spike in a closed-loop replay's simulated world (its sales and ledger), for
    ``spike run --replay ID``: reviewers can look at any other moment of that world."""
    from ..core.paths import check_name, records_root

    root = Path(records).resolve() if records else records_root()
    import re

    if not isinstance(replay_id, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}", replay_id):
        raise ConfigError(f"replay id {replay_id!r} is not a replay id (letters, digits, '.', '_', '-'). "
                          "Fix: pass the id `spike replay --follow` printed")
    folder = root / check_name(spike_name) / "replays" / replay_id
    manifest_file = folder / "replay.json"
    if not manifest_file.is_file():
        raise ConfigError(f"no replay {replay_id!r} of '{spike_name}' under {root / spike_name / 'replays'}. "
                          "Fix: pass a replay id printed by `spike replay --follow`")
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    sim = (manifest.get("simulation") or {}).get("data")
    if not manifest.get("follow") or not sim:
        raise ConfigError(f"replay {replay_id} is not a closed-loop (--follow) replay: it has no simulated world")
    return {"data_overrides": {"sales": f"{sim}/sales.csv"}, "ledger": f"{sim}/ledger", "backorders": False}
