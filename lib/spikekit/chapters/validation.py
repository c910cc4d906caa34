"""Chapter 02, 48 小时验证: go / no-go within 48 hours, before ordering production.

Evidence (one clean frame from ``spikekit.inputs.contracts.load_validation``; columns ``timestamp`` tz-aware,
``metric``, ``count``, ``phase``, ``design``):

- add-to-cart on a pre-sale ("virtual product") link, hourly in the test, against the shop's usual daily
  add-to-cart of a normal new link (baseline, one row per day);
- a poll of existing customers: participation now against the shop's usual participation;
- concept-design votes;
- pre-sale orders, hourly in the test: the demand rate and the validation-period sales handed on.

Time discipline: rows after ``as_of`` are ignored. Test rows count only inside the window
(as_of - window_hours, as_of]; baseline rows count when at or before ``as_of``. A row's timestamp is taken
as the moment its count was known.

Exposure: a test metric's exposure is its number of distinct hours with a row in the window, over 24
(days); zero-count hours are rows, so a missing hour means "not observed". A baseline metric's exposure
is its number of distinct calendar days with a row (days).

The call itself (lifts, ranking, ``decide``) lives in ``validation_model``, shared with the spike state and the
closed-loop replay; its names still import from here.
"""
from __future__ import annotations

import math

import pandas as pd

from ..core.validation_model import (  # noqa: F401  (moved there; old imports keep working)
    ADD_TO_CART,
    BASELINE,
    CartLift,
    DESIGN_VOTE,
    Decision,
    DemandRate,
    POLL_INVITED,
    POLL_PARTICIPATED,
    PRESALE_ORDER,
    PollLift,
    RANKING_COLUMNS,
    TEST,
    ValidationSettings,
    _as_of,
    _distinct_days,
    _distinct_hours,
    _fmt_n,
    _fmt_x,
    _in_scope,
    _rows,
    _settings,
    _total,
    cart_lift,
    decide,
    demand_rate,
    design_ranking,
    poll_lift,
)

__all__ = [
    "ValidationSettings",
    "CartLift",
    "PollLift",
    "DemandRate",
    "Decision",
    "summarize",
    "cart_lift",
    "poll_lift",
    "design_ranking",
    "demand_rate",
    "decide",
]

RATE_METRICS = (ADD_TO_CART, PRESALE_ORDER)


# ------------------------------------------------------------------------------------------ helpers


def _finite(value) -> bool:
    return value is not None and math.isfinite(float(value))


# ------------------------------------------------------------------------------------------- steps


def summarize(events: pd.DataFrame, as_of, settings: ValidationSettings | Mapping | None = None) -> pd.DataFrame:
    """Counts and exposures per phase and metric (test rows in the window, baseline rows up to as_of).

    Columns: phase, metric, rows, count, exposure_days, per_day. Exposure and rate are given only for
    the rate metrics (add_to_cart, presale_order); polls and votes are counts, not rates.
    """
    settings = _settings(settings)
    scope, _ = _in_scope(events, as_of, settings.window_hours)
    records = []
    for (phase, metric), rows in scope.groupby(["phase", "metric"], sort=True):
        exposure = math.nan
        if metric in RATE_METRICS:
            exposure = (
                _distinct_hours(rows["timestamp"]) / 24.0 if phase == TEST else float(_distinct_days(rows["timestamp"]))
            )
        count = _total(rows)
        records.append(
            {
                "phase": str(phase),
                "metric": str(metric),
                "rows": int(len(rows)),
                "count": count,
                "exposure_days": exposure,
                "per_day": count / exposure if exposure and not math.isnan(exposure) else math.nan,
            }
        )
    frame = pd.DataFrame(records, columns=["phase", "metric", "rows", "count", "exposure_days", "per_day"])
    return frame.astype({"rows": "int64", "count": "int64", "exposure_days": "float64", "per_day": "float64"})


# ------------------------------------------------------------------------------------------ presentation


def lift_table(decision: Decision) -> pd.DataFrame:
    """The two lifts side by side, as the notebook shows and plots them (one row per measure)."""
    cart, poll = decision.cart_lift, decision.poll_lift
    rows = [{
        "measure": "add-to-cart vs normal day",
        "test": f"{cart.test_count} in {cart.test_hours} h ({cart.test_per_day:.1f}/day)",
        "usual": f"{cart.baseline_per_day:.1f}/day over {cart.baseline_days} days",
        "lift": cart.lift, "low": cart.low, "high": cart.high, "bar": cart.bar,
    }]
    if poll.available:
        rows.append({
            "measure": "poll participation vs usual",
            "test": f"{poll.test_participated}/{poll.test_invited} ({poll.test_rate:.1%})",
            "usual": f"{poll.usual_participated}/{poll.usual_invited} ({poll.usual_rate:.1%})",
            "lift": poll.lift, "low": poll.low, "high": poll.high, "bar": poll.bar,
        })
    return pd.DataFrame(rows)


def headline(decision: Decision) -> str:
    """One line for `spike show` and the team brief."""
    cart, demand = decision.cart_lift, decision.daily_demand
    # Before the validation has data (a replay step before it starts) the lift and demand are NaN and the
    # upper bounds infinite: say so in words instead of printing "nanx" and "0.0-infx".
    if _finite(cart.lift):
        high = f"{cart.high:.1f}x" if _finite(cart.high) else "unbounded"
        lift = f"add-to-cart {cart.lift:.1f}x normal ({cart.conf:.0%} interval {cart.low:.1f}-{high}, bar {cart.bar:g}x)"
    else:
        lift = f"add-to-cart lift not measurable yet (no validation window with data; bar {cart.bar:g}x)"
    if _finite(demand.per_day):
        high = f"{demand.high:.0f}" if _finite(demand.high) else "unbounded"
        presale = f"pre-sale demand {demand.per_day:.0f}/day ({demand.low:.0f}-{high})"
    else:
        presale = "pre-sale demand not measured yet"
    text = f"{decision.decision.upper()}: {lift}; {presale}, {decision.validation_sales} sold in validation"
    if decision.winning_design:
        text += f"; design {decision.winning_design}"
    return text
