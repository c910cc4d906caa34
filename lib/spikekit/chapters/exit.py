"""Chapter 06, 应急退出: when the spike fades, brake production and clear the stock.

The handbook's rules: a spike now lives about 9 days (it used to be 14) and peaks on days 5-7. The decline
signal is search volume down more than 15% for 3 days in a row. Then brake production (cancel what has not
started, switch to make-to-order; what has started is finished) and, from day 3 of the decline, mark the price
down in steps so that 80% of the stock sells within 7 days. Never commit to long-term volume because of a spike.

What this module adds to the rules of thumb:

- a lifecycle model of the spike (``fit_bass``): the Bass diffusion curve fitted to daily sales by maximum a
  posteriori, with the handbook's life facts as a prior, giving the peak date and the remaining demand with
  intervals; ``fit_path`` refits day by day to show how the estimate moves as data arrives;
- the decline rule on a day-of-week adjusted series (``decline_signal``), using trailing data only;
- the brake list of what is actually open (``brake_open_lines``: the ledger's open order lines and this run's
  chapter 03 proposal), braked only once the spike's phase is declining or exited, or the decline signal fired
  (``braking``); the markdown ladder sized with a constant-elasticity price response (``markdown_ladder``,
  ``estimate_elasticity``) on the stock the spike state's position says is left (``stock_to_clear``), started only
  once the spike is declining or over (``marking_down``); the long-term commitment check
  (``long_term_commitment_risk``).

Why Bass. A spike is a diffusion: early buyers who act on their own (innovation, ``p``) and later buyers who
follow them (imitation, ``q``), out of a pool of ``m`` buyers. The Bass curve has exactly the shape the handbook
describes (slow start, one peak, a tail that fades) with three interpretable numbers, and its peak time
``t* = ln(q/p)/(p+q)`` and life span have closed forms, so the handbook's "peak on day 5-7, life about 9 days"
becomes a prior on those two quantities. With two or three days of data the curve is not identified (a fast
small spike and a slow large one start alike); the prior then carries the shape and the data set the level.
As data arrives the likelihood takes over. Richer curves (gamma-shaped or skewed diffusion, Gompertz) fit
asymmetric tails better but add a parameter the early data cannot pin down; Bass is the usual choice for
short-life products and is enough for a decision made days before the tail.

Time and units. Daily rows are stamped at the END of the day counted (``2025-03-10 00:00`` counts 9 March)
and a row is used once its stamp is <= ``as_of``. Spike time ``t`` is in days since the takeoff: in a playbook
the start of the rise in the sales (``spikekit.inputs.state.lifecycle_fit``, the fit the shared forecast uses), not chapter
01's alert; ``fit_bass`` alone detects one when not given. The day ending at stamp ``s`` covers ``(t(s) - 1, t(s)]``. Sales are
modelled as the shop's normal baseline (measured before the takeoff) plus the spike: remaining demand is the
spike's units still to sell, on top of the baseline.

The life curve and its fit (Bass curve, life prior, ``fit_bass``) live in ``lifecycle_fit``, shared with chapter 12
and the spike state; their names still import from here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from ..core.errors import ConfigError
from ..core.lifecycle_fit import (  # noqa: F401  (moved there; old imports keep working)
    BassFit,
    DAY,
    GROWTH_DAYS,
    LAUNCH_SHARE,
    LifecyclePrior,
    METHODS,
    MODEL_ERROR_SD,
    MODEL_ERROR_SHARE,
    OPENING_SHARE,
    PACE_MIN_DAYS,
    PEAKS,
    PRIOR_LOG_SD,
    RAW_PACE_SHARE,
    SHARE_RANGE,
    TAIL_DF,
    _BOUNDS,
    _PROPOSAL_DF,
    _PROPOSAL_SCALE,
    _as_of,
    _growth_rate,
    _hessian,
    _laplace_cov,
    _laplace_draws,
    _neg_log_lik,
    _objective,
    _objective_many,
    _opening,
    _optimise,
    _peak_days,
    _positive,
    _posterior_draws,
    _prior_time_left,
    _summarise,
    _time_to_peak,
    _window,
    bass_cdf,
    bass_from_shape,
    bass_life_time,
    bass_pdf,
    bass_peak_time,
    daily_search,
    daily_series,
    detect_takeoff,
    fit_bass,
    fit_path,
)

__all__ = [
    "LifecyclePrior",
    "BassFit",
    "DeclineSignal",
    "Elasticity",
    "MarkdownPlan",
    "bass_cdf",
    "bass_pdf",
    "bass_peak_time",
    "bass_life_time",
    "bass_from_shape",
    "daily_series",
    "daily_search",
    "detect_takeoff",
    "fit_bass",
    "fit_path",
    "decline_signal",
    "brake_list",
    "estimate_elasticity",
    "markdown_ladder",
    "brake_open_lines",
    "stock_to_clear",
    "markdown_start",
    "demand_from",
    "braking",
    "marking_down",
    "long_term_commitment_risk",
    "decide",
    "headline",
    "plot_fit",
    "plot_fit_path",
    "plot_decline",
    "plot_markdown",
]

EXIT_VERDICTS = ("hold course", "brake", "exit")
SMOOTHINGS = ("weekday", "same_weekday", "trailing7", "none")


# ------------------------------------------------------------------------------------------- Bass curve


# ------------------------------------------------------------------------------------------- settings


# ------------------------------------------------------------------------------------------- inputs


# ------------------------------------------------------------------------------------------- fitting


# ------------------------------------------------------------------------------------------- decline rule


@dataclass
class DeclineSignal:
    """The handbook's decline rule as of ``as_of``: the trigger (or None) and the day-by-day evidence.

    ``trigger_date`` is the calendar day counted by the last of the ``days`` consecutive drops; the signal
    is known at ``trigger_known`` (the end of that day). ``first_drop_date`` is the first day of that streak.
    """

    trigger_date: pd.Timestamp | None
    trigger_known: pd.Timestamp | None
    first_drop_date: pd.Timestamp | None
    evidence: pd.DataFrame
    drop: float
    days: int
    smoothing: str

    @property
    def fired(self) -> bool:
        return self.trigger_date is not None

    def describe(self) -> str:
        if not self.fired:
            latest = self.evidence.dropna(subset=["change"]).tail(1)
            tail = (f"; latest change {latest['change'].iloc[0]:+.0%} on {latest['date'].iloc[0]:%m-%d}"
                    if len(latest) else "")
            return f"no decline signal ({self.days} days in a row down more than {self.drop:.0%}){tail}"
        return (f"decline signal on {self.trigger_date:%Y-%m-%d}: {self.days} days in a row down more than "
                f"{self.drop:.0%} ({self.smoothing} smoothing), from {self.first_drop_date:%Y-%m-%d}")


def _weekday_factors(values: pd.Series, weeks: int) -> np.ndarray:
    """Multiplicative day-of-week factors (mean 1) from the ratio of each day to its centred 7-day mean.

    A centred window is fine here: it only uses days that are already in (all <= as_of). Fewer than two
    ratios for a weekday leave all factors at 1.
    """
    centred = values.rolling(7, center=True, min_periods=7).mean()
    ratio = (values / centred).replace([np.inf, -np.inf], np.nan).dropna()
    ratio = ratio[ratio.index >= values.index[-1] - pd.Timedelta(weeks=weeks)]
    weekday = (ratio.index - DAY).day_of_week  # weekday of the day counted
    factors = np.ones(7)
    for d in range(7):
        sample = ratio[weekday == d]
        if len(sample) < 2:
            return np.ones(7)
        factors[d] = float(np.median(sample))
    return factors / factors.mean()


def decline_signal(series, as_of, drop: float = 0.15, days: int = 3, smoothing: str = "weekday", *,
                   since=None, dow_weeks: int = 8, min_level: float = 0.0, value: str = "orders") -> DeclineSignal:
    """The handbook's decline rule: down more than ``drop`` on ``days`` consecutive days, first time after ``since``.

    Only days that ended by ``as_of`` are read. Smoothing against day-of-week noise, all trailing:
    - ``"weekday"`` (default): each day is divided by its weekday factor (from the last ``dow_weeks`` weeks of
      data up to as_of), then compared with the day before. Fast to react; a weekly pattern alone does not fire.
    - ``"same_weekday"``: each day against the same weekday a week earlier. Immune to weekly patterns by
      construction, but measures a week's fall, so it fires later.
    - ``"trailing7"``: the trailing 7-day mean against the one a day earlier. Very smooth; a day-over-day
      change of a weekly mean rarely reaches 15%, so it fires only on a collapse.
    - ``"none"``: raw day over day.
    ``min_level``: a day is not counted when the reference is below this level (small counts are mostly noise).
    """
    if smoothing not in SMOOTHINGS:
        raise ConfigError(f"smoothing={smoothing!r} must be one of {', '.join(SMOOTHINGS)}")
    drop = _positive("drop", drop)
    if not drop < 1:
        raise ConfigError(f"drop={drop!r} must be below 1 (a share, 0.15 = 15%)")
    if int(days) != days or days < 1:
        raise ConfigError(f"days={days!r} must be a whole number of days, at least 1")
    days = int(days)
    data = daily_series(series, as_of, value=value)
    full = data.asfreq("D") if len(data) > 1 else data
    factors = np.ones(7)
    adjusted = full.copy()
    if smoothing == "weekday" and len(full.dropna()) >= 21:
        factors = _weekday_factors(full, dow_weeks)
    weekday = (full.index - DAY).day_of_week
    factor = factors[weekday] if len(full) else np.array([])
    if smoothing == "weekday":
        adjusted = full / factor
        reference = adjusted.shift(1)
    elif smoothing == "same_weekday":
        reference = full.shift(7)
    elif smoothing == "trailing7":
        adjusted = full.rolling(7, min_periods=7).mean()
        reference = adjusted.shift(1)
    else:
        reference = full.shift(1)
    change = adjusted / reference - 1.0
    evaluable = reference.notna() & adjusted.notna() & (reference > 0) & (reference >= min_level)
    if since is not None:
        evaluable &= full.index > _as_of(since, full.index.tz)
    is_drop = evaluable & (change < -drop - 1e-12)  # "more than": an exact 15% fall does not count
    streak = np.zeros(len(full), dtype=int)
    run = 0
    for i, (ok, down) in enumerate(zip(evaluable.to_numpy(), is_drop.to_numpy())):
        run = run + 1 if down else 0
        streak[i] = run
    evidence = pd.DataFrame({
        "timestamp": full.index, "date": (full.index - DAY).tz_localize(None), "value": full.to_numpy(),
        "weekday_factor": factor, "adjusted": adjusted.to_numpy(), "reference": reference.to_numpy(),
        "change": change.where(evaluable).to_numpy(), "drop": is_drop.to_numpy(), "streak": streak,
    })
    evidence["signal"] = evidence["streak"] >= days
    hits = np.flatnonzero(streak == days)
    if hits.size == 0:
        return DeclineSignal(None, None, None, evidence, drop, days, smoothing)
    i = hits[0]
    stamp = full.index[i]
    return DeclineSignal(
        trigger_date=(stamp - DAY).tz_localize(None), trigger_known=stamp,
        first_drop_date=(full.index[i - days + 1] - DAY).tz_localize(None), evidence=evidence, drop=drop,
        days=days, smoothing=smoothing,
    )


# ------------------------------------------------------------------------------------------- brake list


def _naive_day(stamp) -> pd.Timestamp:
    stamp = pd.Timestamp(stamp)
    return (stamp.tz_localize(None) if stamp.tzinfo is not None else stamp).normalize()


def brake_list(production: pd.DataFrame | None, purchase_orders: pd.DataFrame | None, as_of,
               trigger_date=None) -> pd.DataFrame:
    """Open production per supplier: what to finish and what to cancel (switching to make-to-order).

    A production day before the decision day is made; on the decision day it has started, so it is finished;
    after it, it has not started: cancelled when the decline signal has fired (``trigger_date`` given), else
    listed as "keep" with the money that a brake would save. The decision day is the day of ``as_of`` (the
    signal is known at the end of its trigger day, always at or before ``as_of``).
    """
    columns = ["supplier", "units", "made_units", "started_units", "not_started_units", "first_open_date",
               "unit_cost", "money_finishing", "money_saved", "action"]
    if production is None or len(production) == 0:
        return pd.DataFrame(columns=columns)
    decision_day = _naive_day(as_of)
    dates = pd.to_datetime(production["production_date"])
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    dates = dates.dt.normalize()
    frame = pd.DataFrame({"supplier": production["supplier"].astype(str).to_numpy(),
                          "date": dates.to_numpy(), "units": production["units"].to_numpy(dtype=float)})
    costs = {}
    if purchase_orders is not None and len(purchase_orders):
        costs = dict(zip(purchase_orders["supplier"].astype(str), purchase_orders["unit_cost"].astype(float)))
    rows = []
    for supplier, part in frame.groupby("supplier", sort=True):
        made = float(part.loc[part["date"] < decision_day, "units"].sum())
        started = float(part.loc[part["date"] == decision_day, "units"].sum())
        open_ = part.loc[part["date"] > decision_day]
        not_started = float(open_["units"].sum())
        cost = float(costs.get(supplier, np.nan))
        if not_started == 0:
            action = "finish (all made or in production)"
        elif trigger_date is None:
            action = "keep (no decline signal)"
        elif made + started > 0:
            action = "finish what has started; cancel the rest, switch to make-to-order"
        else:
            action = "cancel; switch to make-to-order"
        rows.append({
            "supplier": supplier, "units": made + started + not_started, "made_units": made,
            "started_units": started, "not_started_units": not_started,
            "first_open_date": open_["date"].min() if len(open_) else pd.NaT, "unit_cost": cost,
            "money_finishing": started * cost, "money_saved": not_started * cost, "action": action,
        })
    return pd.DataFrame(rows, columns=columns)


BRAKE_PHASES = ("declining", "exited")  # the spike's phases in which production is braked and the price marked down
BRAKE_COLUMNS = ["po_id", "supplier", "source", "units_open", "expected_arrival", "made_units", "started_units",
                 "not_started_units", "units", "unit_cost", "money_saved", "action"]


def _line_production(units: float, arrival_day: pd.Timestamp, lead_days: float, daily_capacity: float) -> pd.DataFrame:
    """When an open order line's units are made: full days at ``daily_capacity`` ending ceil(lead_days) days before
    the arrival day (a unit made on day d arrives on d + ceil(lead_days)); the first day takes the remainder."""
    last = arrival_day - math.ceil(max(float(lead_days), 0.0)) * DAY
    capacity = float(daily_capacity) if daily_capacity and daily_capacity > 0 else float(units)
    n = max(1, int(math.ceil(units / capacity - 1e-9))) if units > 0 else 1
    per_day = np.full(n, capacity)
    per_day[0] = units - capacity * (n - 1)
    dates = [last - (n - 1 - i) * DAY for i in range(n)]
    return pd.DataFrame({"date": dates, "units": per_day})


def excess_on_order(*, on_hand: float, on_order: float, backlog: float, remaining_high: float, baseline: float,
                    days_left: float) -> tuple[float, str]:
    """Units the shop has or will receive beyond what the spike can still sell even at the upper end of its
    interval: stock on hand + on order - backlog - (the remaining spike demand's upper bound + normal sales until
    the spike's late end). Past the top such units are leftovers in waiting; not-started production of them is
    worth cancelling before the decline is confirmed. Returns (units >= 0, how)."""
    need = float(remaining_high) + max(float(baseline), 0.0) * max(float(days_left), 0.0)
    have = float(on_hand) + float(on_order) - float(backlog)
    excess = max(0.0, have - need)
    how = (f"{on_hand:,.0f} on hand + {on_order:,.0f} on order - {backlog:,.0f} backlog = {have:,.0f}, against at most "
           f"{remaining_high:,.0f} spike units still to sell + {max(baseline, 0):.1f}/day normal sales for "
           f"{max(days_left, 0):.0f} days = {need:,.0f}")
    return excess, how


def brake_open_lines(open_orders: pd.DataFrame | None, as_of, *, brake: bool, suppliers: pd.DataFrame | None = None,
                     proposal: pd.DataFrame | None = None, limit: float | None = None,
                     owed_units: float = 0.0) -> pd.DataFrame:
    """What is actually open, line by line, and what a brake cancels: the ledger's open order lines (the spike
    state's ``position.open_orders``) and this run's chapter 03 proposal (not placed yet).

    A ledger line's units are made at the supplier's ``daily_capacity`` on the days before its expected arrival less
    the supplier's ``lead_days`` (the suppliers table; without a row: made on the arrival day). Days before the
    decision day (the day of ``as_of``) are made, the decision day's are started: both are finished (the handbook:
    what has started is finished). Later days have not started: with ``brake`` they are cancelled (switch to
    make-to-order), else kept. An overdue line is made. A chapter 03 proposal is not placed at all when braking.
    ``units`` is what the brake cancels (what ``spike approve`` takes off the line); ``money_saved`` its cost.
    ``limit`` (a trim, see ``excess_on_order``): cancel at most that many not-started units, the latest arrivals
    first, and keep the rest.
    ``owed_units``: the paid backlog that stock on hand does not cover (backlog - on hand). Customers already paid
    for those units, so a brake never cancels them: what is made or started counts first, then the earliest
    not-started units (ledger lines and chapter 03's proposal) up to that many are kept; a proposed line that the
    backlog needs is kept whole (chapter 03 sized it on that backlog, rounded up to the supplier's minimum).
    """
    decision_day = _naive_day(as_of)
    terms = {}
    if suppliers is not None and len(suppliers):
        terms = {str(r["supplier"]): (float(r.get("lead_days", 0.0) or 0.0), float(r.get("daily_capacity", 0.0) or 0.0))
                 for r in suppliers.to_dict(orient="records")}
    rows = []
    for line in ([] if open_orders is None else pd.DataFrame(open_orders).to_dict(orient="records")):
        units = float(line["units_open"])
        if units <= 0:
            continue
        arrival = _naive_day(line["expected_arrival"])
        lead, capacity = terms.get(str(line["supplier"]), (0.0, 0.0))
        if arrival < decision_day:
            made, started, not_started = units, 0.0, 0.0
        else:
            days = _line_production(units, arrival, lead, capacity)
            made = float(days.loc[days["date"] < decision_day, "units"].sum())
            started = float(days.loc[days["date"] == decision_day, "units"].sum())
            not_started = float(days.loc[days["date"] > decision_day, "units"].sum())
        cancel = not_started if brake else 0.0
        cost = float(line.get("unit_cost", np.nan))
        if not_started == 0:
            action = "finish (made or in production)"
        elif not brake:
            action = "keep (no brake: the spike is not declining)"
        elif made + started > 0:
            action = "finish what has started; cancel the rest, switch to make-to-order"
        else:
            action = "cancel; switch to make-to-order"
        rows.append({"po_id": str(line["po_id"]), "supplier": str(line["supplier"]), "source": "ledger",
                     "units_open": units, "expected_arrival": arrival, "made_units": made, "started_units": started,
                     "not_started_units": not_started, "units": cancel, "unit_cost": cost,
                     "money_saved": cancel * cost, "action": action})
    if proposal is not None and len(proposal):
        for line in proposal.to_dict(orient="records"):
            units = float(line.get("units", 0) or 0)
            if units <= 0:
                continue
            cost = float(line.get("unit_cost", np.nan))
            arrival_day = line.get("last_arrival_day")
            rows.append({"po_id": "", "supplier": str(line.get("supplier", "?")), "source": "chapter 03 proposal",
                         "units_open": units,
                         "expected_arrival": decision_day + int(arrival_day) * DAY if arrival_day is not None else pd.NaT,
                         "made_units": 0.0, "started_units": 0.0, "not_started_units": units,
                         "units": units if brake else 0.0, "unit_cost": cost, "money_saved": (units if brake else 0.0) * cost,
                         "action": "do not place: production is braked" if brake else "proposed by chapter 03, not placed"})
    table = pd.DataFrame(rows, columns=BRAKE_COLUMNS)
    table["expected_arrival"] = pd.to_datetime(table["expected_arrival"])
    owed = max(0.0, float(owed_units or 0.0) - float((table["made_units"] + table["started_units"]).sum()))
    if owed > 0 and brake and len(table):
        # The earliest arrivals reach the waiting customers first: keep those.
        for i in table.sort_values("expected_arrival", ascending=True, na_position="last").index:
            cancel = float(table.at[i, "units"])
            keep = min(cancel, owed)
            if keep <= 0:
                continue
            owed -= keep
            if table.at[i, "source"] == "chapter 03 proposal":
                keep = cancel  # a proposed line the backlog needs is placed whole: its supplier's minimum may round it up
            table.at[i, "units"] = cancel - keep
            table.at[i, "money_saved"] = (cancel - keep) * float(table.at[i, "unit_cost"])
            table.at[i, "action"] = (f"keep {keep:.0f} not-started units the paid backlog needs; cancel the other "
                                     f"{cancel - keep:.0f}" if cancel > keep else
                                     "keep: the paid backlog needs these units (customers already paid)")
    if limit is not None and brake and len(table):
        left = max(0.0, float(math.floor(limit)))
        # The latest arrivals are the likeliest leftovers: trim them first.
        for i in table.sort_values("expected_arrival", ascending=False, na_position="first").index:
            take = min(float(table.at[i, "units"]), left)
            left -= take
            if take < float(table.at[i, "units"]):
                table.at[i, "units"] = take
                table.at[i, "money_saved"] = take * float(table.at[i, "unit_cost"])
                table.at[i, "action"] = (f"trim {take:.0f} of {table.at[i, 'not_started_units']:.0f} not-started units "
                                         "(beyond the upper bound of remaining demand)" if take > 0 else
                                         "keep (the trim is covered by later lines)")
            elif take > 0:
                table.at[i, "action"] = "trim: cancel the not-started units (beyond the upper bound of remaining demand)"
    return table


def stock_to_clear(on_hand: float, on_order: float, backlog: float, cancelled: float = 0.0,
                   proposed: float = 0.0) -> tuple[float, str]:
    """Units the markdown must clear, from the spike state's position: on hand plus what still arrives (on order,
    plus what chapter 03 proposes this run, less what the brake cancels) minus the backlog already sold; never
    below 0. Returns (units, how)."""
    arriving = max(float(on_order) + float(proposed) - float(cancelled), 0.0)
    units = max(float(on_hand) + arriving - float(backlog), 0.0)
    parts = [f"{on_order:,.0f} on order"] + ([f"{proposed:,.0f} proposed by chapter 03"] if proposed else []) \
        + ([f"- {cancelled:,.0f} braked"] if cancelled else [])
    how = (f"{on_hand:,.0f} on hand + {arriving:,.0f} arriving"
           + (f" ({' + '.join(parts).replace('+ -', '-')})" if len(parts) > 1 else "")
           + f" - {backlog:,.0f} backlog already sold")
    return units, how


def markdown_start(as_of, decline_from=None, start_day: int = 3) -> pd.Timestamp:
    """First markdown day: day ``start_day`` of the decline (``decline_from`` is its day 1), and never before the
    day after ``as_of`` (prices change at the start of a day). Without a decline, the day after ``as_of``."""
    tomorrow = _naive_day(as_of) + DAY
    if decline_from is None or pd.isna(decline_from):
        return tomorrow
    return max(_naive_day(decline_from) + (int(start_day) - 1) * DAY, tomorrow)


def demand_from(daily: Sequence[Mapping] | pd.DataFrame, start, days: int, level: str = "expected") -> np.ndarray:
    """``days`` days of forecast demand from the date ``start`` out of a daily forecast table (the spike state's
    ``forecast["daily"]``: day, expected, low, high). Days past the table's end hold its last value."""
    table = pd.DataFrame(daily)
    if table.empty:
        return np.zeros(int(days))
    dates = pd.to_datetime(table["day"]).dt.normalize()
    values = table[level].to_numpy(dtype=float)
    first = _naive_day(start)
    out = []
    for k in range(int(days)):
        hit = np.flatnonzero((dates == first + k * DAY).to_numpy())
        if hit.size:
            out.append(values[hit[0]])
        else:
            out.append(values[-1] if first + k * DAY > dates.iloc[-1] else values[0])
    return np.asarray(out, dtype=float)


# ------------------------------------------------------------------------------------------- price response


@dataclass
class Elasticity:
    """Price elasticity of daily orders: units = base x (price/p0)^estimate."""

    estimate: float
    se: float | None
    n_days: int
    price_levels: int
    source: str  # "data" or "parameter"
    note: str

    def to_dict(self) -> dict:
        return {"estimate": self.estimate, "se": self.se, "n_days": self.n_days, "price_levels": self.price_levels,
                "source": self.source, "note": self.note}


def estimate_elasticity(sales: pd.DataFrame, as_of, *, fallback: float = -2.0, window_days: int = 14,
                        trend: pd.Series | None = None, min_t: float = 2.0) -> Elasticity:
    """Log-log regression of daily orders on price over the last ``window_days`` days up to ``as_of``.

    The lifecycle trend is controlled either by ``trend`` (expected orders per day at the normal price, e.g.
    from the Bass fit, used as an offset) or by a quadratic in time on the log scale. Needs at least two
    price levels (1% apart); the estimate is used only when negative with |t| >= ``min_t``, else ``fallback``.
    """
    orders = daily_series(sales, as_of, value="orders")
    prices = daily_series(sales, as_of, value="price").reindex(orders.index)
    start = orders.index.max() - pd.Timedelta(days=window_days) if len(orders) else None
    keep = (orders.index > start) & (prices > 0).to_numpy() if start is not None else np.zeros(0, bool)
    y, price, stamps = orders[keep].to_numpy(), prices[keep].to_numpy(), orders.index[keep]
    levels = int(len(np.unique(np.round(np.log(price) / 0.01)))) if len(price) else 0
    if levels < 2:
        return Elasticity(fallback, None, int(len(y)), levels, "parameter",
                          "no price variation up to as_of: the elasticity is the parameter")
    log_y = np.log(y + 0.5)
    log_p = np.log(price / np.median(price))
    if trend is not None:
        offset = np.log(np.maximum(trend.reindex(stamps).to_numpy(dtype=float), 1e-9))
        ok = np.isfinite(offset)
        x = np.column_stack([np.ones(ok.sum()), log_p[ok]])
        target = log_y[ok] - offset[ok]
    else:
        tt = ((stamps - stamps[0]) / DAY).to_numpy(dtype=float)
        tt = (tt - tt.mean()) / max(tt.std(), 1.0)
        x = np.column_stack([np.ones_like(tt), log_p, tt, tt ** 2])
        target = log_y
    if len(target) <= x.shape[1]:
        return Elasticity(fallback, None, int(len(target)), levels, "parameter",
                          "too few days to separate price from trend: the elasticity is the parameter")
    coef, *_ = np.linalg.lstsq(x, target, rcond=None)
    resid = target - x @ coef
    sigma2 = float(resid @ resid) / max(len(target) - x.shape[1], 1)
    cov = sigma2 * np.linalg.pinv(x.T @ x)
    est, se = float(coef[1]), float(math.sqrt(max(cov[1, 1], 0.0)))
    if est < 0 and (se == 0 or abs(est) / se >= min_t):
        return Elasticity(est, se, int(len(target)), levels, "data",
                          f"estimated from {levels} price levels over {len(target)} days")
    return Elasticity(fallback, se, int(len(target)), levels, "parameter",
                      f"estimate {est:.2f} (se {se:.2f}) is not clearly negative: the elasticity is the parameter")


# ------------------------------------------------------------------------------------------- markdown


@dataclass
class MarkdownPlan:
    """A stepped markdown: per-step table, per-day table, the share of stock cleared and whether it meets the goal."""

    table: pd.DataFrame
    daily: pd.DataFrame
    stock_units: float
    cleared_share: float
    target_share: float
    target_met: bool
    discount_step: float
    elasticity: float

    def describe(self) -> str:
        if self.stock_units <= 0:
            return "no stock to clear"
        if self.discount_step == 0:
            return (f"no markdown needed: expected sales clear {self.cleared_share:.0%} of {self.stock_units:.0f} "
                    "units at the normal price")
        steps = ", ".join(f"{d:.0%}" for d in self.table["discount"])
        met = "meets" if self.target_met else "MISSES"
        return (f"markdown {steps} in {len(self.table)} steps clears {self.cleared_share:.0%} of "
                f"{self.stock_units:.0f} units in {len(self.daily)} days ({met} the {self.target_share:.0%} goal)")


def _play(stock, base, discounts, elasticity):
    left = float(stock)
    sold = np.zeros(len(base))
    for i, (b, d) in enumerate(zip(base, discounts)):
        sold[i] = min(left, b * (1.0 - d) ** elasticity)
        left -= sold[i]
    return sold


def markdown_ladder(stock_units: float, remaining_demand_by_day, price: float, elasticity: float = -2.0,
                    clear_share: float = 0.8, days: int = 7, start_day: int = 3, steps: int = 3, *,
                    grain: float = 0.05, max_discount: float = 0.6, start_date=None) -> MarkdownPlan:
    """Stepped price cuts over ``days`` days, the smallest that sell ``clear_share`` of the stock.

    Demand at the normal price on markdown day k is ``remaining_demand_by_day[k]``; at a discount d it is
    that x (1 - d)^elasticity (constant elasticity). The days are split into ``steps`` near-equal steps whose
    discounts are 1, 2, 3 ... x a common increment (a multiple of ``grain``, each capped at ``max_discount``);
    the smallest increment whose expected sales (never more than the stock left) reach the goal is chosen,
    else the deepest. ``start_date`` labels the first markdown day (the decline's day ``start_day``).
    """
    stock_units = _positive("stock_units", stock_units, allow_zero=True)
    price = _positive("price", price, allow_zero=True)
    if not 0 < clear_share <= 1:
        raise ConfigError(f"clear_share={clear_share!r} must be above 0 and at most 1")
    if elasticity >= 0:
        raise ConfigError(f"elasticity={elasticity!r} must be negative (a lower price sells more)")
    days, steps = int(days), int(steps)
    if days < 1 or steps < 1 or steps > days:
        raise ConfigError(f"days={days!r} and steps={steps!r}: need 1 <= steps <= days")
    if isinstance(remaining_demand_by_day, pd.DataFrame):
        base = remaining_demand_by_day["expected"].to_numpy(dtype=float)
    else:
        base = np.asarray(remaining_demand_by_day, dtype=float)
    if len(base) < days:
        raise ConfigError(f"remaining_demand_by_day has {len(base)} days; the markdown needs {days}")
    base = np.maximum(base[:days], 0.0)
    step_of_day = np.concatenate([np.full(len(chunk), k) for k, chunk in enumerate(np.array_split(np.arange(days), steps))])
    goal = clear_share * stock_units
    chosen = None
    increments = np.arange(0, max_discount / 1 + grain / 2, grain)
    for inc in increments:
        discounts = np.minimum((step_of_day + 1) * inc, max_discount)
        sold = _play(stock_units, base, discounts, elasticity)
        chosen = (inc, discounts, sold)
        if sold.sum() >= goal - 1e-9 or stock_units == 0:
            break
    inc, discounts, sold = chosen
    start = pd.Timestamp(start_date).normalize() if start_date is not None else None
    dates = [start + k * DAY if start is not None else pd.NaT for k in range(days)]
    daily = pd.DataFrame({
        "day": np.arange(1, days + 1), "date": dates, "step": step_of_day + 1, "discount": discounts,
        "price": price * (1 - discounts), "demand_full_price": base, "expected_units": sold,
        "cumulative_units": np.cumsum(sold),
    })
    daily["cleared_share"] = daily["cumulative_units"] / stock_units if stock_units > 0 else 1.0
    table = daily.groupby("step", as_index=False).agg(
        from_day=("day", "first"), from_date=("date", "first"), price=("price", "first"),
        discount=("discount", "first"), expected_units=("expected_units", "sum"),
        cleared_share=("cleared_share", "last"))
    cleared = float(daily["cleared_share"].iloc[-1])
    return MarkdownPlan(table=table, daily=daily, stock_units=stock_units, cleared_share=cleared,
                        target_share=clear_share, target_met=cleared >= clear_share - 1e-9,
                        discount_step=float(inc), elasticity=float(elasticity))


# ------------------------------------------------------------------------------------------- commitments


def long_term_commitment_risk(orders: pd.DataFrame | None, remaining_high: float, spike_end, *,
                              production: pd.DataFrame | None = None, as_of=None,
                              stock_units: float = 0.0) -> pd.DataFrame:
    """Flags volume the spike may not sell: the handbook's "never commit to long-term volume because of a spike".

    ``orders`` is chapter 03's purchase orders, or the suppliers table (``min_order``). Risks flagged:
    - open volume (units not yet arrived, plus ``stock_units``) above ``remaining_high``, the upper bound of
      the spike's remaining demand;
    - a supplier's units arriving after ``spike_end`` (from ``production`` arrival dates);
    - a minimum order above ``remaining_high`` (suppliers table).
    """
    columns = ["supplier", "risk", "units", "detail"]
    rows = []
    if orders is None or len(orders) == 0:
        return pd.DataFrame(columns=columns)
    end_day = _naive_day(spike_end)
    if "min_order" in orders.columns:
        for supplier, minimum in zip(orders["supplier"].astype(str), orders["min_order"].astype(float)):
            if minimum > remaining_high:
                rows.append({"supplier": supplier, "risk": "minimum order above remaining demand", "units": minimum,
                             "detail": f"min order {minimum:.0f} > upper bound of remaining demand {remaining_high:.0f}"})
        return pd.DataFrame(rows, columns=columns)
    open_units = float(orders["units"].sum())
    if production is not None and len(production):
        arrive = pd.to_datetime(production["arrival_date"])
        if getattr(arrive.dt, "tz", None) is not None:
            arrive = arrive.dt.tz_localize(None)
        arrive = arrive.dt.normalize()
        units = production["units"].astype(float)
        if as_of is not None:
            open_units = float(units[arrive > _naive_day(as_of)].sum())
        late = production.assign(_arrive=arrive.to_numpy())[arrive > end_day]
        for supplier, part in late.groupby("supplier", sort=True):
            rows.append({"supplier": str(supplier), "risk": "arrives after the spike ends",
                         "units": float(part["units"].sum()),
                         "detail": f"{part['units'].sum():.0f} units arrive {part['_arrive'].min():%m-%d} to "
                                   f"{part['_arrive'].max():%m-%d}, after the expected end {end_day:%m-%d}"})
    if open_units + stock_units > remaining_high:
        rows.append({"supplier": "(all)", "risk": "volume above remaining demand", "units": open_units + stock_units,
                     "detail": f"{open_units:.0f} units still to arrive + {stock_units:.0f} in stock > upper bound of "
                               f"remaining spike demand {remaining_high:.0f}"})
    return pd.DataFrame(rows, columns=columns)


# ------------------------------------------------------------------------------------------- the call


ORDERING_PHASES = ("launching", "rising")  # chapter 03 orders the increment in these (spikekit.inputs.state)


def braking(phase: str | None, signal: DeclineSignal) -> bool:
    """Brake production once the spike is declining or over (its phase), or when the decline signal has fired past
    the top (phase peak). While the spike is launching or rising the phase rules: it reads the sales and, on sold-out
    days, the demand estimated from the same search series, and chapter 03 orders on it; braking then would cancel
    the order the same brief places. Without a phase (no spike state) the signal alone decides."""
    if phase in BRAKE_PHASES:
        return True
    return signal.fired and phase not in ORDERING_PHASES


def marking_down(phase: str | None, signal: DeclineSignal) -> bool:
    """Mark the price down only once the spike is declining or over; without a phase, once the signal fired. Never
    while it still rises or peaks: 'hold the price' and 'mark down' must not be called on the same day."""
    return phase in BRAKE_PHASES if phase is not None else signal.fired


def decide(fit: BassFit | None, signal: DeclineSignal, brakes: pd.DataFrame, plan: MarkdownPlan | None,
           risks: pd.DataFrame, phase: str | None = None, trim: str | None = None) -> tuple[str, list[str]]:
    """The exit call from the spike's phase and the decline signal. Returns (verdict, reasons).

    - **exit** when the spike is declining or over (``phase``; without one: the signal fired): brake what is open
      and mark down;
    - **brake** when the decline signal fired while the phase does not show the decline yet: brake what is open,
      the markdown waits for the decline;
    - **brake** also past the top (phase peak) when ``trim`` says why: stock and open orders beyond the upper bound
      of the remaining demand (``excess_on_order``), their not-started production cancelled (``brakes``);
    - **hold course** otherwise; past the top (phase peak) nothing is ordered for new demand anyway, and long-term
      commitment risks are warnings.
    """
    reasons = [f"spike phase: {phase}"] if phase is not None else []
    reasons.append(signal.describe())
    if fit is None:
        reasons.append("no lifecycle fit: the spike has not taken off in the sales" if phase is None or phase not in
                       ("exited",) else "the spike is over: no lifecycle fit needed")
    else:
        reasons.append(f"Bass fit on {fit.n_days} days from the start of the rise {fit.takeoff:%m-%d}: peak "
                       f"{fit.peak_date:%m-%d} ({fit.conf:.0%} interval {fit.peak_low:%m-%d} to {fit.peak_high:%m-%d}), "
                       f"remaining spike demand {fit.remaining:.0f} units ({fit.remaining_low:.0f} to "
                       f"{fit.remaining_high:.0f})")
    cancelled = brakes[brakes["units"] > 0] if len(brakes) and "units" in brakes else brakes.iloc[0:0]
    units = float(cancelled["units"].sum()) if len(cancelled) else 0.0
    saved = float(cancelled["money_saved"].fillna(0).sum()) if len(cancelled) else 0.0
    brake_line = (f"brake: cancel {units:.0f} not-started units on {len(cancelled)} line(s) ({saved:,.0f} yuan), "
                  "switch to make-to-order" if len(cancelled) else
                  "brake: nothing open that has not started; switch to make-to-order")
    if marking_down(phase, signal):
        verdict = "exit"
        reasons.append(brake_line)
        if plan is not None:
            reasons.append(plan.describe())
    elif braking(phase, signal):
        verdict = "brake"
        reasons.append(brake_line)
        reasons.append(f"no markdown yet: the sales do not show the decline (phase {phase})")
    elif trim and len(cancelled):
        verdict = "brake"
        reasons.append(f"past the top with more than the spike can sell: {trim}")
        reasons.append(brake_line.replace("brake:", "trim:", 1))
        reasons.append("no markdown yet: the decline is not confirmed")
    else:
        verdict = "hold course"
        if signal.fired and phase in ORDERING_PHASES:
            reasons.append(f"the search decline signal fired, but the spike is still {phase} in the sales and the "
                           "estimated demand: no brake while chapter 03 orders on that phase; watch the next days")
        if phase == "peak":
            reasons.append("past the top: nothing is ordered for new demand (only while launching or rising; chapter 03 "
                           "still orders the paid backlog that stock and open orders do not cover); the brake "
                           "and the markdown wait for the decline")
        elif fit is not None and fit.past_peak:
            reasons.append(f"the fit puts the peak behind us even at its late end ({fit.peak_high:%m-%d}) while the "
                           f"sales still read as {phase or 'rising'}: watch the next days' sales before ordering more")
        if len(risks):
            reasons.append(f"watch {len(risks)} long-term commitment risk(s): " + "; ".join(risks["detail"].head(3)))
        if plan is not None:
            reasons.append("draft for the decline (not started): " + plan.describe())
    return verdict, reasons


def headline(verdict: str, fit: BassFit | None, signal: DeclineSignal, plan: MarkdownPlan | None,
             phase: str | None = None, brakes: pd.DataFrame | None = None) -> str:
    """One line for the run summary."""
    parts = [f"Exit: {verdict}" + (f" (phase {phase})" if phase else "")]
    if signal.fired:
        parts.append(f"decline from {signal.trigger_date:%m-%d}")
    if fit is not None:
        parts.append(f"peak {fit.peak_date:%m-%d} ({fit.peak_low:%m-%d}..{fit.peak_high:%m-%d}), "
                     f"{fit.remaining:.0f} spike units left ({fit.remaining_low:.0f}..{fit.remaining_high:.0f})")
    if brakes is not None and len(brakes) and verdict in ("brake", "exit"):
        parts.append(f"brake {brakes['units'].sum():.0f} units")
    if plan is not None and verdict == "exit":
        parts.append(f"markdown of {plan.stock_units:.0f} units clears {plan.cleared_share:.0%}" if plan.stock_units > 0
                     else "nothing left to mark down")
    return "; ".join(parts)


# ------------------------------------------------------------------------------------------- figures


def plot_fit(fit: BassFit, daily, days_after: int = 7):
    """Daily orders with the fitted curve, the peak date interval and as_of."""
    import matplotlib.pyplot as plt

    from ..core.plots import finish

    series = daily_series(daily, fit.as_of)
    fig, ax = plt.subplots()
    shown = series[series.index >= fit.takeoff - 14 * DAY]
    ax.bar((shown.index - DAY / 2).tz_localize(None), shown.to_numpy(), width=0.8, alpha=0.5,
           label="orders (known by as_of)")
    horizon = max(int(math.ceil((fit.end_high - fit.as_of) / DAY)) + days_after, days_after)
    past = int(math.ceil((fit.as_of - fit.takeoff) / DAY))
    curve = fit.expected_daily(fit.takeoff, past + horizon)
    ax.plot((curve["timestamp"] - DAY / 2).dt.tz_localize(None), curve["expected"], color="tab:red",
            label="Bass fit (baseline + spike)")
    ax.axvspan(fit.peak_low.tz_localize(None), fit.peak_high.tz_localize(None), color="tab:orange", alpha=0.15,
               label=f"peak date, {fit.conf:.0%} interval")
    ax.axvline(fit.as_of.tz_localize(None), color="grey", linestyle="--", label="as_of")
    ax.legend(loc="upper left", fontsize="small")
    fig.autofmt_xdate()
    finish(ax, f"Spike life curve: peak {fit.peak_date:%m-%d}, {fit.remaining:.0f} units to go", "date",
           "orders per day (units)")
    return fig


def plot_fit_path(path: pd.DataFrame):
    """Peak date estimate and interval by as_of: how the fit moves as data arrives."""
    import matplotlib.pyplot as plt

    from ..core.plots import finish

    fig, ax = plt.subplots()
    rows = path.dropna(subset=["peak_date"]) if "peak_date" in path else path.iloc[0:0]
    if len(rows):
        x = pd.DatetimeIndex(rows["as_of"]).tz_localize(None)
        ax.fill_between(x, pd.DatetimeIndex(rows["peak_low"]).tz_localize(None),
                        pd.DatetimeIndex(rows["peak_high"]).tz_localize(None), alpha=0.25, label="peak date interval")
        ax.plot(x, pd.DatetimeIndex(rows["peak_date"]).tz_localize(None), marker="o", label="peak date estimate")
        ax.plot(x, x, color="grey", linestyle=":", label="as_of (the peak is behind below this line)")
        ax.legend(loc="upper left", fontsize="small")
    fig.autofmt_xdate()
    finish(ax, "How the peak estimate moves as data arrives", "as_of (date of the refit)", "estimated peak date")
    return fig


def plot_decline(evidence: pd.DataFrame | DeclineSignal):
    """Day-over-day change of the smoothed series against the drop threshold, drops and the trigger marked."""
    import matplotlib.pyplot as plt

    from ..core.plots import finish

    signal = evidence if isinstance(evidence, DeclineSignal) else None
    table = signal.evidence if signal is not None else evidence
    table = table.dropna(subset=["change"]).tail(42)
    fig, ax = plt.subplots()
    colours = np.where(table["drop"], "tab:red", "tab:blue")
    ax.bar(table["date"], table["change"] * 100, color=colours, alpha=0.7, label="change vs reference (red: a drop)")
    if signal is not None:
        ax.axhline(-signal.drop * 100, color="tab:red", linestyle="--", label=f"-{signal.drop:.0%} threshold")
        if signal.fired:
            ax.axvline(signal.trigger_date, color="black", linestyle=":", label=f"trigger {signal.trigger_date:%m-%d}")
    ax.legend(loc="lower left", fontsize="small")
    fig.autofmt_xdate()
    finish(ax, "Decline signal: daily change of the weekday-adjusted series", "day counted", "change (%)")
    return fig


def plot_markdown(ladder: MarkdownPlan):
    """Price by markdown day (steps) and the cumulative share of stock cleared against the goal."""
    import matplotlib.pyplot as plt

    from ..core.plots import finish

    daily = ladder.daily
    fig, ax = plt.subplots()
    ax.step(daily["day"], daily["price"], where="mid", color="tab:blue", label="price (yuan)")
    ax.set_ylim(bottom=0)
    share = ax.twinx()
    share.plot(daily["day"], daily["cleared_share"] * 100, marker="o", color="tab:green", label="stock cleared (%)")
    share.axhline(ladder.target_share * 100, color="tab:green", linestyle="--", label=f"goal {ladder.target_share:.0%}")
    share.set_ylim(0, 105)
    share.set_ylabel("cumulative share of stock cleared (%)")
    share.grid(False)
    lines, labels = ax.get_legend_handles_labels()
    more, more_labels = share.get_legend_handles_labels()
    ax.legend(lines + more, labels + more_labels, loc="lower left", fontsize="small")
    finish(ax, "Markdown ladder: " + ladder.describe(), "markdown day", "price (yuan)")
    return fig
