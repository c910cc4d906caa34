"""Chapter 12, 爆款沉淀与复用: what the spike left behind, and what the next spike can reuse.

The handbook asks three questions after a spike: how many customers stay (community join, repurchase, member
activity; case 18% / 12% / 35%), which supply steps become standard (a versioned 5-day SOP), and which content
repeats. It also asks to feed the spike back into the forecasting model and to keep a library of spike patterns,
and it closes with a readiness checklist (SOP version, at least 2 spikes modelled, 2 spikes at once, 30% spare
capacity, cash for +300% orders).

What this module computes:

- ``retention``: the cohort of the spike's first-time buyers and the three rates with Wilson intervals, with the
  definitions fixed in the data README (windows are parameters);
- ``stage_timings``: signal -> confirm -> first shipment -> exit, read from the spike's own run records (which
  run said it), against the 5-day SOP's targets;
- ``what_worked``: orders per 1,000 views by content format, defect and on-time figures by supplier;
- the pattern library: ``spike_shape`` (daily sales from the takeoff divided by the peak), ``pattern_entry``,
  ``load_library`` (seed entries in ``playbook/patterns/`` plus the entries chapter 12 recorded in earlier runs,
  only those known at the time), ``nearest`` (RMS distance over the overlapping days) and
  ``priors_from_library`` (a ``LifecyclePrior`` for chapter 06, shrunk toward the handbook when evidence is thin);
- ``readiness``: the checklist scored from data; ``sop_markdown``: the versioned SOP as Markdown.

Time discipline: every function taking ``as_of`` ignores rows, runs and library entries after it.

The pattern library's reader (``load_library``, ``priors_from_library``) lives in ``patterns`` and the runs' record in
``decisions``, both shared with other chapters; their names still import from here.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..core.errors import ConfigError, InputError
from ..core.lifecycle_fit import LifecyclePrior, bass_cdf, bass_from_shape, bass_life_time, bass_peak_time
from ..core.stats import wilson
from ..core.patterns import (  # noqa: F401  (moved there; old imports keep working)
    PATTERN_KEYS,
    _days_known,
    _entry_ok,
    _plain,
    load_library,
    priors_from_library,
)

__all__ = [
    "RetroSettings", "Retention", "KaplanMeier", "kaplan_meier", "retention", "stage_timings", "content_worked", "supply_worked",
    "what_worked", "spike_shape", "pattern_entry", "is_interim", "library_entry", "seed_entries", "write_seeds",
    "load_library", "nearest",
    "priors_from_library", "prior_dict", "shape_distance", "modelled_spikes", "readiness", "readiness_score", "sop_markdown", "decide", "headline",
    "plot_shapes", "plot_retention", "SPIKE_PRODUCT", "HANDBOOK_RATES",
]

DAY = pd.Timedelta(days=1)
SPIKE_PRODUCT = "星空咖啡杯"
HANDBOOK_RATES = {"community_join": 0.18, "repurchase": 0.12, "member_activity": 0.35}
STAGES = ("signal", "confirm", "first_shipment", "exit")  # plus presale_shipped and the signal-to-shipment total


@dataclass(frozen=True)
class RetroSettings:
    """The chapter's rules of thumb (notebook parameters)."""

    join_window_days: float = 30.0
    repurchase_window_days: float = 60.0
    repurchase_gap_hours: float = 24.0
    activity_window_days: float = 30.0
    sop_days: float = 5.0
    confirm_days: float = 2.0
    ship_days: float = 3.0
    shape_days: int = 21
    nearest_k: int = 3
    elastic_share: float = 0.3
    surge_multiple: float = 4.0
    min_spikes: int = 2


# ------------------------------------------------------------------------------------------------ helpers


def _stamp(value, like: pd.Series | pd.Timestamp | None = None) -> pd.Timestamp:
    """``value`` as a Timestamp comparable with ``like`` (a timestamp column or a stamp): same zone-awareness."""
    stamp = pd.Timestamp(value)
    tz = None
    if isinstance(like, pd.Series):
        tz = getattr(like.dt, "tz", None) if pd.api.types.is_datetime64_any_dtype(like) else None
    elif isinstance(like, pd.Timestamp):
        tz = like.tz
    if tz is not None:
        return stamp.tz_localize(tz) if stamp.tzinfo is None else stamp.tz_convert(tz)
    return stamp.tz_localize(None) if stamp.tzinfo is not None and like is not None else stamp


def _times(frame: pd.DataFrame, column: str, what: str) -> pd.Series:
    if column not in frame.columns:
        raise InputError(f"the {what} table has no '{column}' column", file=frame.attrs.get("file"), column=column,
                         fix=f"give the {what} table its '{column}' column (see data/README.md)")
    return pd.to_datetime(frame[column])


# ------------------------------------------------------------------------------------------------ retention


@dataclass(frozen=True)
class KaplanMeier:
    """The Kaplan-Meier survival at ``at`` days (share who have NOT had the event), with its Greenwood variance.

    ``reachable`` is False when nobody was followed up to ``at``: the curve stops before it, so there is no
    estimate (``survival`` and ``greenwood`` are then NaN). ``events`` counts the events up to ``at``."""

    at: float
    survival: float
    greenwood: float
    greenwood_sum: float
    events: int
    reachable: bool

    def interval(self, conf: float = 0.95) -> tuple[float, float]:
        """Interval of the event share 1 - S(at) from the Greenwood variance on the log(-log S) scale (it stays in
        [0, 1]); NaN where S is 0 or 1 (no spread to transform: the caller says what it uses instead)."""
        from scipy.stats import norm

        s = self.survival
        if not self.reachable or not (0.0 < s < 1.0):
            return math.nan, math.nan
        z = float(norm.ppf(0.5 + conf / 2.0))
        se = math.sqrt(self.greenwood_sum) / abs(math.log(s))
        return 1.0 - s ** math.exp(-z * se), 1.0 - s ** math.exp(z * se)


def kaplan_meier(durations: Sequence[float], events: Sequence[bool], at: float) -> KaplanMeier:
    """Kaplan-Meier estimate of S(``at``) from follow-up ``durations`` (time to the event, or to the end of
    follow-up when ``events`` is False). At a tie an event counts before a censoring (the usual convention).
    Greenwood: var S = S^2 x sum over event times of d / (n (n - d))."""
    time = np.asarray(durations, dtype=float)
    event = np.asarray(events, dtype=bool)
    if len(time) != len(event):
        raise ValueError("durations and events differ in length")
    reachable = bool(len(time) and (time >= at).any())
    survival, total, count = 1.0, 0.0, 0
    for t in np.unique(time[event & (time <= at)]):
        at_risk = int((time >= t).sum())
        died = int(((time == t) & event).sum())
        survival *= 1.0 - died / at_risk
        total += math.inf if at_risk == died else died / (at_risk * (at_risk - died))
        count += died
    if not reachable:
        return KaplanMeier(float(at), math.nan, math.nan, math.nan, count, False)
    return KaplanMeier(float(at), survival, survival ** 2 * total if math.isfinite(total) else math.nan, total,
                       count, True)


@dataclass
class Retention:
    """The spike's first-time buyers (one row each) and the three rates with intervals.

    ``rates`` columns: metric, status ("measured" / "not measurable yet"), rate, low, high (the estimate: Kaplan-
    Meier with a Greenwood interval for a rate with a per-buyer window, Wilson for member activity; NaN when not
    measurable), method, count and base (the elapsed-only check: buyers whose whole window has passed by as_of,
    and how many of them did it), elapsed_rate, elapsed_low, elapsed_high (Wilson), open (buyers whose window is
    still open), seen (events seen so far in the whole cohort, open windows included), handbook, definition."""

    cohort: pd.DataFrame
    rates: pd.DataFrame
    as_of: pd.Timestamp
    cohort_start: pd.Timestamp
    cohort_end: pd.Timestamp
    conf: float

    def rate(self, metric: str) -> float:
        """The estimate, NaN when it is not measurable yet."""
        return float(self.rates.set_index("metric").loc[metric, "rate"])

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"as_of": self.as_of, "cohort_start": self.cohort_start, "cohort_end": self.cohort_end,
                               "cohort_size": int(len(self.cohort)), "conf": self.conf}
        for row in self.rates.to_dict("records"):
            out[row["metric"]] = {k: _none_if_nan(row.get(k)) for k in
                                  ("status", "rate", "low", "high", "method", "count", "base", "elapsed_rate",
                                   "open", "seen", "handbook")}
        return out


def _none_if_nan(value):
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (float, np.floating)) and not math.isfinite(float(value)):
        return None
    return value.item() if hasattr(value, "item") else value


RATE_COLUMNS = ["metric", "status", "rate", "low", "high", "method", "count", "base", "elapsed_rate", "elapsed_low",
                "elapsed_high", "open", "seen", "handbook", "definition"]


def _windowed_rate(metric: str, follow_days: pd.Series, event_days: pd.Series, window_days: float, conf: float,
                   handbook: float | None, definition: str) -> dict:
    """One windowed rate (the event within ``window_days`` of the first order) that respects censoring.

    ``follow_days``: days from the first order to as_of; ``event_days``: days from it to the event (NaN: none
    seen by as_of). Elapsed-only: buyers followed for the whole window (n = those). Kaplan-Meier: every buyer,
    followed until the event or as_of. Neither measurable when no buyer's window has elapsed."""
    follow = follow_days.to_numpy(dtype=float)
    event_at = event_days.to_numpy(dtype=float)
    in_window = np.isfinite(event_at) & (event_at <= window_days)
    elapsed = follow >= window_days
    n, k = int(elapsed.sum()), int((elapsed & in_window).sum())
    km = kaplan_meier(np.where(in_window, event_at, np.minimum(follow, window_days)), in_window, window_days)
    row = {"metric": metric, "count": k, "base": n, "open": int((~elapsed).sum()), "seen": int(in_window.sum()),
           "handbook": handbook, "definition": definition, "elapsed_rate": math.nan, "elapsed_low": math.nan,
           "elapsed_high": math.nan, "rate": math.nan, "low": math.nan, "high": math.nan}
    if n:
        check = wilson(k, n, conf)
        row.update(elapsed_rate=check.estimate, elapsed_low=check.low, elapsed_high=check.high)
    if not km.reachable:
        if n:  # every buyer followed that long did it: KM's risk set is empty before the window
            row.update(status="measured", rate=row["elapsed_rate"], low=row["elapsed_low"], high=row["elapsed_high"],
                       method=f"elapsed windows only, Wilson interval (Kaplan-Meier does not reach day {window_days:g})")
        else:
            row.update(status="not measurable yet",
                       method=f"no buyer's {window_days:g}-day window has elapsed by as_of ({row['open']} open)")
        return row
    low, high = km.interval(conf)
    method = f"Kaplan-Meier at day {window_days:g}, Greenwood interval"
    if not math.isfinite(low):
        # S is 1 (nobody did it yet) or 0: the log-log interval has no spread; the elapsed windows' Wilson does.
        low, high = row["elapsed_low"], row["elapsed_high"]
        method += " (Wilson on the elapsed windows: S is 0 or 1)"
    row.update(status="measured", rate=1.0 - km.survival, low=low, high=high, method=method)
    return row


def retention(orders: pd.DataFrame, members: pd.DataFrame, member_activity: pd.DataFrame, as_of, cohort_start,
              cohort_end=None, product: str | None = SPIKE_PRODUCT, *, join_window_days: float = 30.0,
              repurchase_window_days: float = 60.0, repurchase_gap_hours: float = 24.0,
              activity_window_days: float = 30.0, conf: float = 0.95) -> Retention:
    """Cohort and retention rates as of ``as_of`` (rows after it are ignored).

    Cohort: buyers whose FIRST order of ``product`` (placed <= as_of) falls in [cohort_start, cohort_end]
    (cohort_end None: as_of); ``product`` empty or None: a buyer's first order of any product (the spike names
    no product). Community join: a members row in [first order, first order + join window].
    Repurchase: another order of any product placed more than ``repurchase_gap_hours`` after the first spike
    order and within ``repurchase_window_days`` of it. Both are censored: a buyer whose window is still open at
    as_of may yet do it, so the rate is the Kaplan-Meier estimate at the window (Greenwood interval), checked by
    the share among the buyers whose whole window has passed; "not measurable yet" while nobody's has.
    Member activity: of the cohort members who joined <= as_of, those with a member_activity day stamped in
    (as_of - activity window, as_of] (a snapshot at as_of, Wilson ``conf`` interval).
    """
    placed = _times(orders, "timestamp", "orders")
    cutoff = _stamp(as_of, placed)
    start = _stamp(cohort_start, placed)
    end = cutoff if cohort_end is None else min(_stamp(cohort_end, placed), cutoff)
    if end < start:
        raise ConfigError(f"cohort_end {end} is before cohort_start {start}")
    known = orders.assign(_placed=placed)[placed <= cutoff]
    spike_orders = known[known["product"].astype(str) == product] if product else known
    first = spike_orders.groupby(spike_orders["buyer_id"].astype(str))["_placed"].min()
    first = first[(first >= start) & (first <= end)].sort_index()
    cohort = pd.DataFrame({"buyer_id": first.index.astype(str), "first_order": first.array})  # .array keeps the zone when empty
    cohort["follow_up_days"] = ((cutoff - cohort["first_order"]) / DAY).astype(float)

    join_times = _times(members, "timestamp", "members")
    joined = (members.assign(_joined=join_times)[join_times <= _stamp(as_of, join_times)]
              .assign(buyer_id=lambda f: f["buyer_id"].astype(str)).groupby("buyer_id")["_joined"].min())
    cohort["joined"] = _lookup(joined, cohort["buyer_id"], cohort["first_order"])
    window = pd.Timedelta(days=float(join_window_days))
    cohort["joined_in_window"] = (cohort["joined"].notna() & (cohort["joined"] >= cohort["first_order"])
                                  & (cohort["joined"] <= cohort["first_order"] + window))
    cohort["join_window_elapsed"] = cohort["follow_up_days"] >= float(join_window_days)

    gap, horizon = pd.Timedelta(hours=float(repurchase_gap_hours)), pd.Timedelta(days=float(repurchase_window_days))
    later = known.assign(buyer_id=known["buyer_id"].astype(str)).merge(cohort[["buyer_id", "first_order"]],
                                                                         on="buyer_id")
    later = later[(later["_placed"] > later["first_order"] + gap) & (later["_placed"] <= later["first_order"] + horizon)]
    repeat = later.groupby("buyer_id")["_placed"].min()
    cohort["repurchase"] = _lookup(repeat, cohort["buyer_id"], cohort["first_order"])
    cohort["repurchased"] = cohort["repurchase"].notna()
    cohort["repurchase_window_elapsed"] = cohort["follow_up_days"] >= float(repurchase_window_days)

    active_times = _times(member_activity, "timestamp", "member_activity")
    act_cut = _stamp(as_of, active_times)
    recent = member_activity[(active_times <= act_cut)
                             & (active_times > act_cut - pd.Timedelta(days=float(activity_window_days)))]
    active_ids = set(recent["buyer_id"].astype(str))
    cohort["member"] = cohort["joined"].notna()
    cohort["active"] = cohort["member"] & cohort["buyer_id"].isin(active_ids)

    def days_to(column: str, hit: pd.Series) -> pd.Series:
        return ((cohort[column] - cohort["first_order"]) / DAY).astype(float).where(hit)

    members_n, active_n = int(cohort["member"].sum()), int(cohort["active"].sum())
    activity = wilson(active_n, members_n, conf)
    rows = [
        _windowed_rate("community_join", cohort["follow_up_days"], days_to("joined", cohort["joined_in_window"]),
                       float(join_window_days), conf, HANDBOOK_RATES["community_join"],
                       f"joined within {join_window_days:g} days of the first order"),
        _windowed_rate("repurchase", cohort["follow_up_days"], days_to("repurchase", cohort["repurchased"]),
                       float(repurchase_window_days), conf, HANDBOOK_RATES["repurchase"],
                       f"another order {repurchase_gap_hours:g} h to {repurchase_window_days:g} days after the first"),
        {"metric": "member_activity", "status": "measured" if members_n else "not measurable yet",
         "rate": activity.estimate if members_n else math.nan, "low": activity.low if members_n else math.nan,
         "high": activity.high if members_n else math.nan,
         "method": "snapshot at as_of, Wilson interval", "count": active_n, "base": members_n,
         "elapsed_rate": math.nan, "elapsed_low": math.nan, "elapsed_high": math.nan, "open": 0, "seen": active_n,
         "handbook": HANDBOOK_RATES["member_activity"],
         "definition": f"active in the {activity_window_days:g} days to as_of / cohort members"},
    ]
    rates = pd.DataFrame(rows, columns=RATE_COLUMNS)
    return Retention(cohort=cohort, rates=rates, as_of=cutoff, cohort_start=start, cohort_end=end, conf=conf)


def _lookup(times: pd.Series, keys: pd.Series, like: pd.Series) -> pd.Series:
    """``times[key]`` per key (NaT where absent) in ``like``'s dtype. Not ``map``: mapping through an empty
    datetime Series fails on pandas 3, and a cohort with no joiners or repeaters yet is normal early on."""
    if len(times) == 0:
        return pd.Series(pd.NaT, index=range(len(keys)), dtype=like.dtype)
    return times.reindex(keys.to_numpy()).reset_index(drop=True).astype(like.dtype)


def plot_retention(result: Retention, title: str | None = None):
    """Bars of the three rates with their intervals, and the handbook's case as markers; a rate that is not
    measurable yet gets no bar, only the words."""
    import matplotlib.pyplot as plt

    rates = result.rates
    fig, ax = plt.subplots(figsize=(7, 3.2))
    x = np.arange(len(rates))
    value = rates["rate"].astype(float)
    ax.bar(x, value.fillna(0) * 100, color="#4C72B0", label="this spike")
    # Clipped at 0: a rate whose interval comes from another estimator (Kaplan-Meier's point, the elapsed
    # windows' Wilson interval) may sit a rounding step outside it, and matplotlib refuses negative error bars.
    err = np.vstack([(value - rates["low"].astype(float)).fillna(0).clip(lower=0),
                     (rates["high"].astype(float) - value).fillna(0).clip(lower=0)]) * 100
    ax.errorbar(x, value.fillna(0) * 100, yerr=err, fmt="none", color="black", capsize=4,
                label=f"{result.conf:.0%} interval")
    ax.scatter(x, rates["handbook"] * 100, marker="D", color="#C44E52", zorder=3, label="handbook case")
    for i, missing in enumerate(value.isna()):
        if missing:
            ax.text(i, 1, "not measurable yet", ha="center", va="bottom", fontsize=8, rotation=90)
    labels = [f"{m}\n(n = {b}, {o} open)" if o else f"{m}\n(n = {b})"
              for m, b, o in zip(rates["metric"], rates["base"], rates["open"])]
    ax.set_xticks(x, labels)
    ax.set_ylabel("share (%)")
    ax.set_title(title or f"Who stayed: cohort of {len(result.cohort)} first-time buyers")
    ax.legend(loc="upper right", fontsize=8)
    return fig


# ------------------------------------------------------------------------------------------------ stage timings


def _runs(records_root, spike: str, as_of) -> list[dict]:
    """The spike's run manifests evaluated <= as_of, oldest first (unreadable manifests skipped)."""
    from ..core.decisions import spike_runs

    return [] if records_root is None else spike_runs(records_root, spike, as_of)[0]


def _result(run: dict, chapter: str, name: str):
    entry = (run["meta"].get("chapters") or {}).get(chapter) or {}
    if entry.get("status") not in ("ok", "reused"):
        return None
    value = (entry.get("results") or {}).get(name)
    return None if value is None else _plain(value)


def _first_shipped(orders: pd.DataFrame | None, as_of, product: str | None, since=None) -> pd.Timestamp | None:
    """Earliest shipment (<= as_of) of a ``product`` order (empty: any product) placed at or after ``since`` (the
    spike's orders, not the product's normal trickle before it)."""
    if orders is None or "shipped" not in orders.columns or orders.empty:
        return None
    shipped = pd.to_datetime(orders["shipped"])
    mask = shipped.notna() & (shipped <= _stamp(as_of, shipped))
    if product and "product" in orders.columns:
        mask &= orders["product"].astype(str) == product
    if since is not None and "timestamp" in orders.columns:
        placed = pd.to_datetime(orders["timestamp"])
        mask &= placed >= _stamp(since, placed)
    return None if not mask.any() else pd.Timestamp(shipped[mask].min())


def _presale_shipped(orders, as_of, product, signal, confirm):
    """When the last order placed between the signal and the go (the validation's pre-sale) was shipped;
    (None, reason) style evidence when some are still waiting at as_of."""
    if orders is None or signal is None or confirm is None or "shipped" not in orders.columns or orders.empty:
        return None
    placed, shipped = pd.to_datetime(orders["timestamp"]), pd.to_datetime(orders["shipped"])
    mask = (placed >= _stamp(signal, placed)) & (placed < _stamp(confirm, placed))
    if product and "product" in orders.columns:
        mask &= orders["product"].astype(str) == product
    mask &= placed <= _stamp(as_of, placed)
    if not mask.any():
        return None
    done = shipped[mask]
    waiting = int((done.isna() | (done > _stamp(as_of, shipped))).sum())
    if waiting:
        return None, f"orders table: {waiting} of {int(mask.sum())} pre-sale orders not shipped at as_of"
    return pd.Timestamp(done.max()), f"orders table: last of {int(mask.sum())} pre-sale orders shipped"


def _first_arrival(purchase_orders, decided_at) -> pd.Timestamp | None:
    """Chapter 03's first arrival: day d after the order (day 0 = the order's as_of, day 1 the next calendar day)."""
    if purchase_orders is None or decided_at is None or not isinstance(purchase_orders, pd.DataFrame):
        return None
    if "first_arrival_day" not in purchase_orders.columns or purchase_orders.empty:
        return None
    day = float(pd.to_numeric(purchase_orders["first_arrival_day"], errors="coerce").min())
    if not math.isfinite(day):
        return None
    return pd.Timestamp(decided_at).normalize() + math.ceil(day) * DAY


def _first_receipt(receipts: pd.DataFrame | None, as_of, since=None) -> pd.Timestamp | None:
    """The first goods booked in (the ledger's receipts, <= as_of) at or after ``since``: a measured arrival."""
    if receipts is None or not isinstance(receipts, pd.DataFrame) or receipts.empty or "received_at" not in receipts:
        return None
    stamps = pd.to_datetime(receipts["received_at"])
    mask = stamps.notna() & (stamps <= _stamp(as_of, stamps))
    if since is not None:
        mask &= stamps >= _stamp(since, stamps)
    return None if not mask.any() else pd.Timestamp(stamps[mask].min())


TIMING_COLUMNS = ["stage", "time", "measured", "evidence", "from_stage", "days", "target_days", "on_time", "status",
                  "reason"]


def stage_timings(records_root, spike: str, as_of, fallback: Mapping[str, Any] | None = None, *,
                  orders: pd.DataFrame | None = None, receipts: pd.DataFrame | None = None,
                  product: str | None = SPIKE_PRODUCT, confirm_days: float = 2.0, ship_days: float = 3.0,
                  sop_days: float = 5.0) -> pd.DataFrame:
    """When each stage happened, with what said it, and the time between stages against the SOP.

    Measured events only are timed: the spike's own run records (runs evaluated <= as_of: signal = chapter 01's
    first_alert, confirm = as_of of the earliest run whose chapter 02 decision is "go", exit = trigger_date of the
    earliest run whose chapter 06 exit_decision is "exit") and the data tables (first shipment = earliest
    ``shipped`` of a ``product`` order (empty: any product) placed after the go, else after the signal, in ``orders``; without one, the
    first goods booked in after the go in the ledger's ``receipts``). ``fallback`` (first_alert, decision,
    decided_at, purchase_orders, exit_decision, trigger_date: the upstream values the notebook has) fills a stage
    the records do not show, for the reader, but such an event is not measured: a go without a recorded time is
    left without one (never assumed), and chapter 03's first arrival is a plan, not an arrival.
    A stage is "on time" / "late" only when both its start and its end are measured; otherwise "not measured",
    with the reason. Targets: confirm within ``confirm_days`` of the signal, first shipment within ``ship_days``
    of the confirm and within ``sop_days`` of the signal, every pre-sale order shipped within ``sop_days``.
    Columns: TIMING_COLUMNS. attrs: source (records|fallback|none), runs.
    """
    runs = _runs(records_root, spike, as_of)
    # stage -> (time, evidence, measured)
    found: dict[str, tuple[Any, str, bool]] = {}
    source = "records" if runs else ("fallback" if fallback else "none")
    planned_arrival = None
    for run in runs:
        rid = run["run_id"]
        alert = _result(run, "01", "first_alert")
        if alert is not None and "signal" not in found:
            found["signal"] = (pd.Timestamp(alert), f"run {rid}: chapter 01 first_alert", True)
        if "confirm" not in found and _result(run, "02", "decision") == "go":
            found["confirm"] = (run["as_of"], f"run {rid}: chapter 02 decision go (its as_of)", True)
        if planned_arrival is None:
            arrival = _first_arrival(_result(run, "03", "purchase_orders"), run["as_of"])
            if arrival is not None:
                planned_arrival = (arrival, f"run {rid}")
        if "exit" not in found and _result(run, "06", "exit_decision") == "exit":
            trigger = _result(run, "06", "trigger_date")
            found["exit"] = (pd.Timestamp(trigger) if trigger is not None else run["as_of"],
                             f"run {rid}: chapter 06 exit_decision exit (trigger_date)", True)
    if fallback:
        # What the records do not show yet, from the upstream values this notebook was given (in a playbook run
        # the current run's own results, standalone the sample's): shown, never timed.
        label = ("upstream value of this run, not in a run record" if runs else
                 "standalone upstream value, no run record of this spike")
        if "signal" not in found and fallback.get("first_alert") is not None:
            found["signal"] = (pd.Timestamp(fallback["first_alert"]), f"{label}: chapter 01 first_alert", False)
        if "confirm" not in found and fallback.get("decision") == "go":
            decided = fallback.get("decided_at")
            found["confirm"] = (None if decided is None else pd.Timestamp(decided),
                                f"{label}: chapter 02 go" + ("" if decided is not None else ", time unknown"), False)
        if planned_arrival is None:
            arrival = _first_arrival(fallback.get("purchase_orders"), found.get("confirm", (None,))[0])
            if arrival is not None:
                planned_arrival = (arrival, label)
        if "exit" not in found and fallback.get("exit_decision") == "exit":
            found["exit"] = (None if fallback.get("trigger_date") is None else pd.Timestamp(fallback["trigger_date"]),
                             f"{label}: chapter 06 exit (trigger_date)", False)
    confirm_known = "confirm" in found and found["confirm"][0] is not None
    since = found["confirm"][0] if confirm_known else found.get("signal", (None,))[0]
    shipped = _first_shipped(orders, as_of, product, since)
    if shipped is not None:
        found["first_shipment"] = (shipped, "orders table: first shipment of an order placed after the "
                                   + ("go" if confirm_known else "signal" if "signal" in found else "start"), True)
    else:
        received = _first_receipt(receipts, as_of, since)
        if received is not None:
            found["first_shipment"] = (received, "ledger receipts: first goods booked in after the "
                                       + ("go" if confirm_known else "signal")
                                       + " (the orders table has no shipment)", True)
    presale = None
    if found.get("signal", (None, "", False))[2] and found.get("confirm", (None, "", False))[2]:
        presale = _presale_shipped(orders, as_of, product, found["signal"][0], found["confirm"][0])

    targets = {"signal": (None, None), "confirm": ("signal", confirm_days),
               "first_shipment": ("confirm", ship_days), "exit": ("signal", None)}
    missing = {"signal": "no record of a chapter 01 alert", "confirm": "no record of a chapter 02 go",
               "first_shipment": "no shipped order in the orders table and no receipt in the ledger",
               "exit": "not yet"}
    if planned_arrival is not None:
        missing["first_shipment"] += (f"; chapter 03's first arrival {planned_arrival[0]:%Y-%m-%d} ({planned_arrival[1]})"
                                      " is planned, not measured")
    rows = []
    for stage in STAGES:
        time, evidence, measured = found.get(stage, (None, missing[stage], False))
        rows.append({"stage": stage, "time": time, "measured": bool(measured and time is not None),
                     "evidence": evidence, "from_stage": targets[stage][0], "target_days": targets[stage][1]})
    if presale is not None:
        rows.append({"stage": "presale_shipped", "time": presale[0], "measured": presale[0] is not None,
                     "evidence": presale[1], "from_stage": "signal", "target_days": sop_days})
    else:
        rows.append({"stage": "presale_shipped", "time": None, "measured": False,
                     "evidence": ("no orders placed between signal and go"
                                  if found.get("signal", (None, "", False))[2] and found.get("confirm", (None, "", False))[2]
                                  else "the pre-sale needs a measured signal and go"),
                     "from_stage": "signal", "target_days": sop_days})
    rows.append({"stage": "signal_to_first_shipment", "time": found.get("first_shipment", (None,))[0],
                 "measured": bool(found.get("first_shipment", (None, "", False))[2]),
                 "evidence": "SOP total", "from_stage": "signal", "target_days": sop_days})
    by_stage = {r["stage"]: r for r in rows}
    for row in rows:
        start = by_stage.get(row["from_stage"]) if row["from_stage"] else None
        row["days"], row["on_time"], row["reason"] = None, None, ""
        if start is None:
            row["status"] = "start" if row["stage"] == "signal" else "no target"
            continue
        gaps = [f"{r['stage']} " + ("not known" if r["time"] is None else "not measured") + f" ({r['evidence']})"
                for r in (start, row) if not r["measured"]]
        if gaps:
            row["status"], row["reason"] = "not measured", "; ".join(gaps)
            continue
        end_t, start_t = pd.Timestamp(row["time"]), pd.Timestamp(start["time"])
        if (end_t.tzinfo is None) != (start_t.tzinfo is None):
            end_t = _stamp(end_t, start_t)
        row["days"] = round(float((end_t - start_t) / DAY), 2)
        if row["target_days"] is None:
            row["status"] = "no target"
        else:
            row["on_time"] = bool(row["days"] <= row["target_days"])
            row["status"] = "on time" if row["on_time"] else "late"
    table = pd.DataFrame(rows, columns=TIMING_COLUMNS)
    table["time"] = pd.Series([None if t is None or pd.isna(t) else str(pd.Timestamp(t)) for t in table["time"]],
                              index=table.index, dtype=object)
    table.attrs["source"] = source
    table.attrs["runs"] = len(runs)
    return table


# ------------------------------------------------------------------------------------------------ what worked


def content_worked(performance: pd.DataFrame | None = None, posts: pd.DataFrame | None = None, as_of=None,
                   conf: float = 0.95) -> pd.DataFrame:
    """Orders per 1,000 views by content format, with Wilson ``conf`` intervals, best first.

    From chapter 08's ``performance`` table (summed over platforms) when given, else from the posts table up to
    ``as_of``. Columns: format, posts, views, orders, per_1000, low, high, source.
    """
    columns = ["format", "posts", "views", "orders", "per_1000", "low", "high", "source"]
    if performance is not None and isinstance(performance, pd.DataFrame) and not performance.empty:
        frame, source = performance, "chapter 08 performance"
    elif posts is not None and not posts.empty:
        stamps = pd.to_datetime(posts["timestamp"])
        frame = posts[stamps <= _stamp(as_of, stamps)] if as_of is not None else posts
        frame, source = frame.assign(posts=1), "posts table"
    else:
        return pd.DataFrame(columns=columns)
    if "posts" not in frame.columns:
        frame = frame.assign(posts=1)
    grouped = frame.groupby(frame["format"].astype(str))[["posts", "views", "orders"]].sum()
    rows = []
    for fmt, row in grouped.iterrows():
        views, orders = int(row["views"]), int(row["orders"])
        ci = wilson(orders, views, conf) if views > 0 else None
        rows.append({"format": fmt, "posts": int(row["posts"]), "views": views, "orders": orders,
                     "per_1000": ci.estimate * 1000 if ci else math.nan, "low": ci.low * 1000 if ci else math.nan,
                     "high": ci.high * 1000 if ci else math.nan, "source": source})
    return (pd.DataFrame(rows, columns=columns).sort_values("per_1000", ascending=False, kind="stable")
            .reset_index(drop=True))


def supply_worked(purchase_orders: pd.DataFrame | None, inspections: pd.DataFrame | None, as_of=None,
                  suppliers: pd.DataFrame | None = None, conf: float = 0.95) -> pd.DataFrame:
    """Per supplier: units ordered (chapter 03), defect rate over inspected units (Wilson interval) and the
    historical on-time share (suppliers.reliability) where known. Inspections after ``as_of`` are ignored.
    Columns: supplier, units_ordered, inspected, defects, defect_rate, defect_low, defect_high, on_time_share;
    ranked by defect_high (lowest first).
    """
    columns = ["supplier", "units_ordered", "inspected", "defects", "defect_rate", "defect_low", "defect_high",
               "on_time_share"]
    names: list[str] = []
    ordered: dict[str, float] = {}
    if isinstance(purchase_orders, pd.DataFrame) and not purchase_orders.empty:
        for name, units in purchase_orders.groupby(purchase_orders["supplier"].astype(str))["units"].sum().items():
            ordered[name] = float(units)
            names.append(name)
    checked: dict[str, tuple[int, int]] = {}
    if inspections is not None and not inspections.empty:
        stamps = pd.to_datetime(inspections["timestamp"])
        used = inspections[stamps <= _stamp(as_of, stamps)] if as_of is not None else inspections
        for name, part in used.groupby(used["supplier"].astype(str)):
            checked[name] = (int(part["inspected"].sum()), int(part["defects"].sum()))
            if name not in names:
                names.append(name)
    reliability = {}
    if suppliers is not None and "reliability" in suppliers.columns:
        reliability = dict(zip(suppliers["supplier"].astype(str), suppliers["reliability"].astype(float)))
    rows = []
    for name in names:
        n, k = checked.get(name, (0, 0))
        ci = wilson(k, n, conf) if n > 0 else None
        rows.append({"supplier": name, "units_ordered": ordered.get(name, 0.0), "inspected": n, "defects": k,
                     "defect_rate": ci.estimate if ci else math.nan, "defect_low": ci.low if ci else math.nan,
                     "defect_high": ci.high if ci else math.nan, "on_time_share": reliability.get(name, math.nan)})
    # Ranked by the upper bound: a supplier with few inspected units has not yet shown it is good.
    return (pd.DataFrame(rows, columns=columns).sort_values(["defect_high", "supplier"], kind="stable",
                                                           na_position="last").reset_index(drop=True))


def what_worked(performance=None, posts=None, purchase_orders=None, inspections=None, as_of=None, suppliers=None,
                conf: float = 0.95) -> dict[str, pd.DataFrame]:
    """Both tables: {"content": content_worked(...), "supply": supply_worked(...)}."""
    return {"content": content_worked(performance, posts, as_of, conf),
            "supply": supply_worked(purchase_orders, inspections, as_of, suppliers, conf)}


# ------------------------------------------------------------------------------------------------ patterns


def spike_shape(sales, takeoff, as_of, days: int = 21, value: str = "orders",
                baseline: float | None = None) -> np.ndarray:
    """Daily sales of days 1..``days`` after the takeoff (rows stamped <= as_of), minus the pre-takeoff baseline
    (median of the 28 days ending 7 days before the takeoff, unless given), divided by their peak.

    Fixed length ``days``; days not known yet are NaN (comparisons use the overlap). Known days are never NaN
    (a missing day counts as 0 sales). All zeros when the spike never rose above the baseline.
    """
    if isinstance(sales, pd.Series):
        series = sales.astype(float)
    else:
        series = pd.Series(sales[value].to_numpy(dtype=float), index=pd.DatetimeIndex(pd.to_datetime(sales["timestamp"])))
    series = series.sort_index()
    start = _stamp(takeoff, pd.Timestamp(series.index[0])) if len(series) else pd.Timestamp(takeoff)
    cutoff = _stamp(as_of, pd.Timestamp(series.index[0])) if len(series) else pd.Timestamp(as_of)
    if baseline is None:
        before = series[(series.index <= start - 7 * DAY) & (series.index > start - 35 * DAY)]
        baseline = float(before.median()) if len(before) else 0.0
    shape = np.full(int(days), np.nan)
    day0 = start.normalize()
    for i in range(int(days)):
        end = day0 + (i + 1) * DAY  # day i+1 after the takeoff, stamped at its end
        if end > cutoff:
            break
        hit = series[(series.index > end - DAY) & (series.index <= end)]
        shape[i] = max(float(hit.sum()) - baseline, 0.0) if len(hit) else 0.0
    peak = np.nanmax(shape) if np.isfinite(shape).any() else 0.0
    if peak > 0:
        shape = shape / peak
    return shape


def pattern_entry(spike: str, shape: Sequence[float], fit_params: Mapping[str, Any] | None, as_of, *,
                  takeoff=None, source: str = "run", life_share: float = 0.95, label: str | None = None) -> dict:
    """The library entry of one spike: its normalised shape plus the lifecycle facts (from chapter 06's Bass
    fit when given, else from the shape: peak day = the day of the maximum, life = the day by which 95% of the
    shape's area has passed). Keys: spike, as_of, takeoff, peak_day, life_days, m, p, q, shape, source, label."""
    values = np.asarray(shape, dtype=float)
    params = dict(fit_params or {})
    m, p, q = params.get("m"), params.get("p"), params.get("q")
    if p and q and float(p) > 0 and float(q) > 0:
        peak_day = bass_peak_time(float(p), float(q))
        life_days = bass_life_time(float(p), float(q), life_share)
    else:
        known = np.nan_to_num(values, nan=0.0)
        peak_day = float(np.argmax(known) + 1) if known.any() else math.nan
        area = np.cumsum(known)
        life_days = float(np.searchsorted(area, life_share * area[-1]) + 1) if area[-1] > 0 else math.nan
    if takeoff is None:
        takeoff = params.get("takeoff")
    return {
        "spike": spike, "as_of": str(pd.Timestamp(as_of)), "takeoff": None if takeoff is None else str(pd.Timestamp(takeoff)),
        "peak_day": None if not math.isfinite(peak_day) else round(float(peak_day), 3),
        "life_days": None if not math.isfinite(life_days) else round(float(life_days), 3),
        "m": None if m is None else float(m), "p": None if p is None else float(p), "q": None if q is None else float(q),
        "shape": [None if not math.isfinite(v) else round(float(v), 4) for v in values],
        "source": source, "label": label or spike,
    }


# Synthetic past spikes for the seed library: (file name, label, as_of, takeoff, peak_day, life_days, m).
SEED_SPIKES = (
    ("phone-stand-2024", "SYNTHETIC: folding phone stand, spring 2024 (fast rise, short life)",
     "2024-04-20 12:00", "2024-03-28 12:00", 5.0, 8.5, 1800.0),
    ("lip-oil-2024", "SYNTHETIC: tinted lip oil, autumn 2024 (slower rise, long tail)",
     "2024-10-30 12:00", "2024-10-02 12:00", 7.0, 11.0, 3200.0),
)


def seed_entries(days: int = 21) -> list[dict]:
    """The seed library: synthetic past spikes whose daily sales are the Bass curve with the listed peak day and
    life span, so the entries are exactly reproducible (no noise). Clearly labelled SYNTHETIC."""
    entries = []
    for name, label, as_of, takeoff, peak_day, life_days, m in SEED_SPIKES:
        p, q = bass_from_shape(peak_day, life_days)
        t = np.arange(1, days + 1, dtype=float)
        daily = m * (bass_cdf(t, p, q) - bass_cdf(t - 1, p, q))
        entries.append(pattern_entry(name, daily / daily.max(), {"m": m, "p": p, "q": q}, as_of, takeoff=takeoff,
                                     source="seed (synthetic)", label=label))
    return entries


def write_seeds(seeds_dir="playbook/patterns", days: int = 21) -> list[Path]:
    """Write ``seed_entries`` as one JSON file per spike into ``seeds_dir`` (``python -m spikekit.chapters.retrospective --write-seeds``)."""
    folder = Path(seeds_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for entry in seed_entries(days):
        path = folder / f"{entry['spike']}.json"
        path.write_text(json.dumps(entry, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def _as_shape(value) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in value], dtype=float)


def shape_distance(a, b) -> tuple[float, int]:
    """RMS difference of two normalised shapes over the days both know; (nan, 0) without overlap."""
    a, b = _as_shape(a), _as_shape(b)
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    both = np.isfinite(a) & np.isfinite(b)
    if not both.any():
        return math.nan, 0
    return float(np.sqrt(np.mean((a[both] - b[both]) ** 2))), int(both.sum())


def nearest(library: pd.DataFrame, shape, k: int = 3) -> pd.DataFrame:
    """The ``k`` library spikes whose shapes are nearest to ``shape``: distance = root mean square difference of
    the peak-normalised daily sales over the days both shapes know (day 1 = first day after the takeoff).
    Columns: spike, label, distance, overlap_days, peak_day, life_days, as_of, source."""
    columns = ["spike", "label", "distance", "overlap_days", "peak_day", "life_days", "as_of", "source"]
    rows = []
    for entry in library.to_dict("records") if library is not None else []:
        dist, overlap = shape_distance(shape, entry["shape"])
        if overlap == 0:
            continue
        rows.append({"spike": entry["spike"], "label": entry.get("label"), "distance": dist, "overlap_days": overlap,
                     "peak_day": entry.get("peak_day"), "life_days": entry.get("life_days"),
                     "as_of": entry.get("as_of"), "source": entry.get("source")})
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(["distance", "spike"], kind="stable").head(int(k)).reset_index(drop=True)


def prior_dict(prior: LifecyclePrior) -> dict:
    return {"peak_day": prior.peak_day, "peak_day_sd": prior.peak_day_sd, "life_days": prior.life_days,
            "life_days_sd": prior.life_days_sd, "life_share": prior.life_share}


def plot_shapes(shape, library: pd.DataFrame | None = None, near: pd.DataFrame | None = None, title: str | None = None):
    """This spike's shape against its nearest past spikes (days after takeoff, share of the peak)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.6))
    values = _as_shape(shape)
    days = np.arange(1, len(values) + 1)
    if library is not None and near is not None and len(near):
        by_spike = library.set_index("spike")
        for _, row in near.iterrows():
            other = _as_shape(by_spike.loc[row["spike"], "shape"])
            ax.plot(np.arange(1, len(other) + 1), other, linestyle="--", alpha=0.8,
                    label=f"{row['spike']} (RMS {row['distance']:.2f})")
    ax.plot(days, values, color="black", linewidth=2.2, marker="o", markersize=3, label="this spike")
    ax.set_xlabel("days after takeoff")
    ax.set_ylabel("daily spike sales / peak")
    ax.set_ylim(-0.05, 1.1)
    ax.set_title(title or "Spike shape vs the nearest past spikes")
    ax.legend(fontsize=8)
    return fig


# ------------------------------------------------------------------------------------------------ readiness


def _read_sop_version(playbook_file) -> str | None:
    path = Path(playbook_file) if playbook_file is not None else None
    if path is None or not path.is_file():
        return None
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        return None
    value = data.get("sop_version") if isinstance(data, dict) else None
    return None if value in (None, "") else str(value)


READY_STATUSES = ("passed", "failed", "not yet known", "n/a")


def modelled_spikes(library: pd.DataFrame | None, spike: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """The library's real completed spikes: entries recorded by a chapter-12 run that saw the spike exited, with
    peak and life known; never a seed entry, never ``spike`` (the one under review). Also the reasons the other
    entries were left out."""
    if library is None or not len(library):
        return pd.DataFrame(columns=["spike"]), []
    frame = library.reset_index(drop=True)
    kind = frame["kind"] if "kind" in frame else pd.Series("unknown", index=frame.index)
    exited = frame["exited"].fillna(False).astype(bool) if "exited" in frame else pd.Series(False, index=frame.index)
    known = frame[["peak_day", "life_days"]].notna().all(axis=1)
    keep = (kind == "record") & exited & known & (frame["spike"] != spike)
    left_out = []
    for label, mask in (("seed (synthetic)", kind == "seed"), ("the spike under review", frame["spike"] == spike),
                        ("not exited", (kind == "record") & ~exited & (frame["spike"] != spike)),
                        ("of unknown origin", ~kind.isin(["seed", "record"]))):
        if mask.any():
            left_out.append(f"{label}: " + ", ".join(map(str, frame.loc[mask, "spike"])))
    return frame[keep], left_out


def readiness(*, playbook_file=None, sop_version: str | None = None, library: pd.DataFrame | None = None,
              suppliers: pd.DataFrame | None = None, warehouses: pd.DataFrame | None = None,
              peak_daily_orders: float | None = None, cash: pd.DataFrame | None = None,
              stress_ok: bool | None = None, cash_needed: float | None = None, unit_cost: float | None = None,
              cover_days: float = 7.0, min_spikes: int = 2, spikes_at_once: int = 2, elastic_share: float = 0.3,
              surge_multiple: float = 4.0, used_capacity: float | None = None, spike: str | None = None,
              phase: str | None = "exited", validation_decision: str | None = None) -> pd.DataFrame:
    """The handbook's readiness checklist scored from data. One row per item: item, status (passed / failed /
    not yet known / n/a), passed (status is passed), figure, threshold, evidence (and the fix when it fails).

    - SOP version: ``sop_version`` in playbook.yaml (or given);
    - spikes modelled: real completed past spikes in the library (``modelled_spikes``: recorded by a chapter-12
      run after their exit; never the seed entries, never ``spike``) >= ``min_spikes``;
    - two spikes at once: supplier daily capacity and warehouse capacity each >= ``spikes_at_once`` x this
      spike's realised peak daily orders;
    - elastic capacity: spare supplier capacity share (1 - peak daily orders / capacity, or 1 - used_capacity /
      capacity when given) >= ``elastic_share``;
    - cash for +300%: chapter 09's stress test when given (``stress_ok``), else cash on hand minus the cash floor
      against ``cash_needed`` (default: surge_multiple x peak daily orders x unit cost x ``cover_days``).

    The peak is realised only once the spike has exited (``phase``): before that the items sized on it are
    "not yet known". A no-go (``phase`` or chapter 02's ``validation_decision``) had no spike to size them on:
    those items are "n/a" and the score is N/A.
    """
    no_go = phase == "no-go" or validation_decision == "no-go"
    peak_known = phase == "exited" and not no_go
    rows = []

    def add(item, status, figure, threshold, evidence):
        rows.append({"item": item, "status": status, "passed": status == "passed", "figure": figure,
                     "threshold": threshold, "evidence": evidence})

    def unsized(item, threshold) -> bool:
        """Rows of the items sized on this spike's peak when it is not known: a no-go, or not exited yet."""
        if no_go:
            add(item, "n/a", None, threshold, "chapter 02 said no-go: there was no spike to size this on")
        elif not peak_known:
            add(item, "not yet known", None, threshold,
                f"the spike is {phase or 'of unknown phase'}: its realised peak is known once it has exited")
        return no_go or not peak_known

    version = sop_version if sop_version else _read_sop_version(playbook_file)
    add("SOP version", "passed" if version is not None else "failed", version or "missing",
        "a sop_version in playbook.yaml",
        f"playbook.yaml sop_version {version}" if version else
        "no sop_version in playbook.yaml. Fix: add sop_version: \"1.0\" to playbook/playbook.yaml")
    real, left_out = modelled_spikes(library, spike)
    n = len(real)
    add("spikes modelled", "passed" if n >= min_spikes else "failed", n, f">= {min_spikes} completed past spikes",
        ("counted: " + ", ".join(map(str, real["spike"])) if n else "no completed past spike in the library")
        + "".join(f"; not counted, {why}" for why in left_out)
        + ("" if n >= min_spikes else ". Fix: run chapter 12 after each spike has exited"))
    peak = None if peak_daily_orders is None or not math.isfinite(float(peak_daily_orders)) else float(peak_daily_orders)
    supply_cap = (float(suppliers["daily_capacity"].sum()) if suppliers is not None and "daily_capacity" in suppliers
                  else None)
    ware_cap = (float(warehouses["capacity_per_day"].sum()) if warehouses is not None
                and "capacity_per_day" in warehouses else None)
    need = None if peak is None else spikes_at_once * peak
    item = f"{spikes_at_once} spikes at once"
    if not unsized(item, f"capacity >= {spikes_at_once} x the realised peak daily orders"):
        if need is None or supply_cap is None or ware_cap is None:
            add(item, "failed", None, f"capacity >= {spikes_at_once} x peak daily orders",
                "missing peak orders, suppliers or warehouses table: cannot score")
        else:
            add(item, "passed" if supply_cap >= need and ware_cap >= need else "failed",
                f"supply {supply_cap:.0f}/day, warehouses {ware_cap:.0f}/day",
                f">= {need:.0f}/day ({spikes_at_once} x realised peak {peak:.0f})",
                "suppliers.daily_capacity and warehouses.capacity_per_day summed")
    if not unsized("elastic capacity", f">= {elastic_share:.0%} spare at the realised peak"):
        if supply_cap is None or supply_cap <= 0 or (peak is None and used_capacity is None):
            add("elastic capacity", "failed", None, f">= {elastic_share:.0%}",
                "missing supplier capacity or peak orders: cannot score")
        else:
            used = float(used_capacity) if used_capacity is not None else peak
            spare = 1.0 - used / supply_cap
            add("elastic capacity", "passed" if spare >= elastic_share else "failed", round(spare, 3),
                f">= {elastic_share:.0%} spare", f"1 - {used:.0f} used / {supply_cap:.0f} supplier units per day at the peak")
    item = f"cash for +{(surge_multiple - 1):.0%} orders"
    if no_go:
        unsized(item, f"x{surge_multiple:g} orders")
    elif stress_ok is not None:
        # Chapter 09's stress test stands on its own projection: it counts before the exit too.
        add(item, "passed" if stress_ok else "failed", "holds" if stress_ok else "breaks", f"x{surge_multiple:g} orders",
            "chapter 09 stress test (stress_ok)")
    elif not unsized(item, f"x{surge_multiple:g} the realised peak orders"):
        available = None
        if cash is not None and {"item", "amount"} <= set(cash.columns):
            items = dict(zip(cash["item"].astype(str), cash["amount"].astype(float)))
            available = items.get("cash_on_hand", 0.0) - items.get("cash_floor", 0.0)
        if cash_needed is None and peak is not None and unit_cost is not None:
            cash_needed = surge_multiple * peak * float(unit_cost) * cover_days
        if available is None or cash_needed is None:
            add(item, "failed", None, f"x{surge_multiple:g} orders", "no stress test or cash table: cannot score")
        else:
            add(item, "passed" if available >= cash_needed else "failed", round(available, 2),
                f">= {cash_needed:,.0f} yuan",
                f"cash_on_hand - cash_floor vs stock for x{surge_multiple:g} peak orders over {cover_days:g} days")
    columns = ["item", "status", "passed", "figure", "threshold", "evidence"]
    return pd.DataFrame(rows, columns=columns).astype({"figure": object})


def _statuses(table: pd.DataFrame) -> pd.Series:
    if "status" in table:
        return table["status"].astype(str)
    return table["passed"].astype(bool).map({True: "passed", False: "failed"})


def readiness_score(table: pd.DataFrame) -> str:
    """"passed/items", with how many are not yet known; "N/A (no-go)" when the spike was a no-go."""
    status = _statuses(table)
    if (status == "n/a").any():
        return "N/A (no-go)"
    unknown = int((status == "not yet known").sum())
    return f"{int((status == 'passed').sum())}/{len(table)}" + (f", {unknown} not yet known" if unknown else "")


# ------------------------------------------------------------------------------------------------ SOP and call


def sop_markdown(timings: pd.DataFrame, version: str | None, spike: str, as_of, *, settings: RetroSettings = RetroSettings(),
                 worked: Mapping[str, pd.DataFrame] | None = None, prior: LifecyclePrior | None = None) -> str:
    """The versioned 5-day SOP as Markdown: day-by-day steps with this spike's measured times as evidence."""
    t = timings.set_index("stage")

    def measured(stage):
        if stage not in t.index or pd.isna(t.loc[stage, "days"]):
            return "not measured"
        flag = t.loc[stage, "on_time"]
        return f"{float(t.loc[stage, 'days']):.1f} days" + ("" if pd.isna(flag) else (" (on time)" if flag else " (LATE)"))

    def when(stage, missing):
        value = t.loc[stage, "time"] if stage in t.index else None
        return missing if value is None or pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d %H:%M}"

    lines = [f"# Spike SOP v{version or '?'} (5-day response)", "",
             f"Reviewed after spike `{spike}` as of {pd.Timestamp(as_of):%Y-%m-%d %H:%M}.", "",
             "| day | step | target | this spike |", "|---|---|---|---|",
             f"| 0 | Early warning fires (chapter 01); 15-minute review | - | signal {when('signal', 'none')} |",
             f"| 0-2 | 48-hour validation (chapter 02): go / no-go | {settings.confirm_days:g} days | {measured('confirm')} |",
             "| 2 | Order from the supplier split (03), first batch (04), warehouse split (05), content kit within 2 h (08) | - | - |",
             f"| 2-{settings.sop_days:g} | First shipments out | {settings.ship_days:g} days after go | {measured('first_shipment')} |",
             f"| 0-{settings.sop_days:g} | Signal to first shipment | {settings.sop_days:g} days | {measured('signal_to_first_shipment')} |",
             f"| 0-{settings.sop_days:g} | Every pre-sale order (placed before the go) shipped | {settings.sop_days:g} days | {measured('presale_shipped')} |",
             "| daily | Hourly data room (07), cash (09), 9:00 stand-up (10), after-sales (11) | - | - |",
             f"| decline | Exit (06): brake, markdown from day 3 of the decline | - | exit {when('exit', 'not yet')} |",
             ""]
    if prior is not None:
        lines += [f"Lifecycle prior for the next spike: peak day {prior.peak_day:.1f} (sd {prior.peak_day_sd:.1f}), "
                  f"life {prior.life_days:.1f} days (sd {prior.life_days_sd:.1f}).", ""]
    if worked:
        content, supply = worked.get("content"), worked.get("supply")
        if content is not None and len(content):
            best = content.iloc[0]
            lines.append(f"Content that repeats: **{best['format']}** ({best['per_1000']:.2f} orders per 1,000 views).")
        if supply is not None and len(supply.dropna(subset=["defect_rate"])):
            good = supply.dropna(subset=["defect_rate"]).iloc[0]
            lines.append(f"Supplier to standardise on: **{good['supplier']}** (defect rate {good['defect_rate']:.1%}, "
                         f"at most {good['defect_high']:.1%} at 95%, {good['inspected']} units inspected).")
    return "\n".join(lines).rstrip() + "\n"


FINAL_PHASES = ("exited", "no-go")  # phases after which a spike's figures no longer move


def is_interim(phase: str | None) -> bool:
    """A retrospective is interim until the spike has exited (the spike state's phase): its retention, timings and
    shape are still moving. A no-go is final too: there was no spike to wait for."""
    return phase not in FINAL_PHASES


def library_entry(entry: Mapping[str, Any] | None, phase: str | None) -> tuple[dict | None, str]:
    """The pattern entry this run adds to the library, and why: only once the spike has exited, so the next spike's
    prior never learns from a spike still under way (its peak and life would be partly the prior talking)."""
    if entry is None:
        return None, "no spike: nothing to add to the pattern library"
    if phase == "no-go":
        return None, "not added to the pattern library: chapter 02 said no-go, there was no spike to learn from"
    if is_interim(phase):
        return None, (f"not added to the pattern library: the spike is {phase or 'of unknown phase'}, not exited; "
                      "its shape and life are not final")
    return dict(entry), "added to the pattern library: the spike has exited"


def decide(ready: pd.DataFrame, timings: pd.DataFrame, phase: str | None = "exited") -> tuple[str, list[str]]:
    """``ready for the next spike`` when every checklist item passes, ``not ready`` when one fails, ``not yet
    known`` when none fails but some wait for the exit, ``n/a (no-go)`` for a no-go; reasons list the gaps.
    Before the spike has exited (``phase``) the first reason says the retrospective is INTERIM."""
    status = _statuses(ready)
    failed, unknown = ready[status == "failed"], ready[status == "not yet known"]
    late = timings[timings["on_time"].eq(False)] if "on_time" in timings else timings.iloc[0:0]
    if (status == "n/a").any():
        verdict = "n/a (no-go)"
    else:
        verdict = "not ready" if len(failed) else "not yet known" if len(unknown) else "ready for the next spike"
    reasons = ([f"INTERIM: the spike is {phase}, not exited; retention, timings and shape are still moving"]
               if is_interim(phase) else [])
    if verdict == "n/a (no-go)":
        reasons += ["checklist N/A: chapter 02 said no-go, there was no spike to size it on"]
    else:
        reasons += [f"checklist {int((status == 'passed').sum())}/{len(ready)} passed"
                    + (f", {len(unknown)} not yet known" if len(unknown) else "")]
    reasons += [f"{r['item']}: {r['figure']} vs {r['threshold']}" for _, r in failed.iterrows()]
    reasons += [f"{r['item']}: not yet known ({r['evidence']})" for _, r in unknown.iterrows()]
    reasons += [f"{r['stage']} took {r['days']:.1f} days (target {r['target_days']:g})" for _, r in late.iterrows()]
    return verdict, reasons


def headline(verdict: str, kept: Retention, ready: pd.DataFrame, near: pd.DataFrame, phase: str | None = "exited") -> str:
    score = readiness_score(ready)
    parts = [("Retro (INTERIM, spike " + str(phase) + ")" if is_interim(phase) else "Retro") + f": {verdict.upper()}"
             + ("" if score.startswith("N/A") else f"; readiness {score}")]
    if len(kept.cohort):
        def said(metric: str, word: str) -> str:
            value = kept.rate(metric)
            return f"{word} not measurable yet" if not math.isfinite(value) else f"{word} {value:.0%}"

        parts.append(f"cohort {len(kept.cohort)}: " + ", ".join(
            [said("community_join", "join"), said("repurchase", "repurchase"), said("member_activity", "active")]))
    if len(near):
        parts.append(f"nearest past spike {near['spike'].iloc[0]}")
    return "; ".join(parts)


def _main(argv: Sequence[str] | None = None) -> int:
    import argparse

    from ..core.paths import playbook_dir

    parser = argparse.ArgumentParser(prog="python -m spikekit.chapters.retrospective")
    parser.add_argument("--write-seeds", action="store_true", help="write the synthetic seed spikes")
    parser.add_argument("--dir", default=None, help="seed folder (default playbook/patterns)")
    args = parser.parse_args(argv)
    if not args.write_seeds:
        parser.print_help()
        return 0
    for path in write_seeds(args.dir or playbook_dir() / "patterns"):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
