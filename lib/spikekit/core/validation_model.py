"""The go / no-go call on a validation test (chapter 02's model): cart and poll lifts against the baseline, the
design ranking, the demand rate and the decision. Shared: the spike state derives its phase from this call and the
closed-loop replay's handbook policy waits for it, so it lives below the chapters; the chapter module adds the
notebook's tables and headline.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ._common import json_safe as _json_safe, settings_from_mapping
from .tables import format_p
from . import stats
from .errors import ConfigError, InputError


ADD_TO_CART = "add_to_cart"


PRESALE_ORDER = "presale_order"


POLL_INVITED = "poll_invited"


POLL_PARTICIPATED = "poll_participated"


DESIGN_VOTE = "design_vote"


BASELINE, TEST = "baseline", "test"


RANKING_COLUMNS = ["design", "votes", "share", "share_low", "share_high", "p_best", "rank"]


@dataclass(frozen=True)
class ValidationSettings:
    """The chapter's parameters (each one a notebook parameter); defaults follow the handbook.

    window_hours: the validation window, the last 48 h of test rows up to ``as_of`` (handbook: 48 小时).
    confidence: two-sided level of every interval used for the call. At 0.90 each bound is a one-sided
        95% bound, so "credibly above / below" means at 95% one-sided.
    cart_lift_go: go needs the add-to-cart lift's LOWER bound at or above this. The handbook's case saw
        10x the normal daily level within 24 h. Asking the pessimistic end of the interval to reach half of
        that keeps the bar exceptional yet leaves room for the noise of one day of counts: at 200 carts in
        24 h against 20 a day over 28 days (the case) the 90% interval is 8.7x to 11.5x, so a 10x bar on
        the lower bound would reject the handbook's own success.
    poll_lift_go: go needs the poll participation lift's lower bound at or above this (the handbook's
        case had 27% of customers take part; compare with the shop's own usual participation).
    require_poll: when False a shop without a customer group may go on add-to-cart alone.
    min_test_hours: before this many test hours the call is "extend" at best (one full daily cycle).
    min_hours_no_go: hours of add-to-cart needed before a credibly-low lift may end the test (default 0:
        at once, as the handbook rule reads). The day rate is hours / 24, which assumes a flat day; a test
        started late at night can look credibly low after a few quiet hours, so a shop with a strong
        daily rhythm may set this to 24 (one full cycle).
    seed: seeds the Monte Carlo draws (poll lift, design ranking), so a rerun gives the same record.
    mc_draws: Monte Carlo draws for the poll lift and design ranking.
    """

    window_hours: float = 48.0
    confidence: float = 0.90
    cart_lift_go: float = 5.0
    poll_lift_go: float = 1.5
    require_poll: bool = False
    min_test_hours: float = 24.0
    min_hours_no_go: float = 0.0
    seed: int = 20250301
    mc_draws: int = 200_000

    def __post_init__(self):
        def positive(name):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                math.isfinite(value) and value > 0
            ):
                raise ConfigError(f"{name}={value!r} must be a positive number")

        for name in ("window_hours", "cart_lift_go", "poll_lift_go"):
            positive(name)
        if not (isinstance(self.confidence, (int, float)) and 0 < self.confidence < 1):
            raise ConfigError(f"confidence={self.confidence!r} must lie strictly between 0 and 1, e.g. 0.90")
        if isinstance(self.min_test_hours, bool) or not isinstance(self.min_test_hours, (int, float)) or not (
            0 <= self.min_test_hours <= self.window_hours
        ):
            raise ConfigError(
                f"min_test_hours={self.min_test_hours!r} must lie between 0 and window_hours ({self.window_hours})"
            )
        if isinstance(self.min_hours_no_go, bool) or not isinstance(self.min_hours_no_go, (int, float)) or not (
            0 <= self.min_hours_no_go <= self.window_hours
        ):
            raise ConfigError(
                f"min_hours_no_go={self.min_hours_no_go!r} must lie between 0 and window_hours ({self.window_hours})"
            )
        if not isinstance(self.require_poll, (bool, np.bool_)):
            raise ConfigError(f"require_poll={self.require_poll!r} must be True or False")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ConfigError(f"seed={self.seed!r} must be a whole number >= 0")
        if isinstance(self.mc_draws, bool) or not isinstance(self.mc_draws, (int, np.integer)) or self.mc_draws < 1000:
            raise ConfigError(f"mc_draws={self.mc_draws!r} must be a whole number >= 1000")

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any]) -> "ValidationSettings":
        """Build from notebook parameters; unknown names are refused (papermill itself only warns)."""
        return settings_from_mapping(cls, params, "validation")

    def to_dict(self) -> dict:
        return _json_safe(asdict(self))


@dataclass(frozen=True)
class CartLift:
    """Add-to-cart per day in the test window against the usual level, as a rate ratio.

    ``p_value`` is the exact one-sided p-value of "the lift is at most ``bar``" (small = credibly above).
    """

    lift: float
    low: float
    high: float
    conf: float
    bar: float
    p_value: float
    test_count: int
    test_hours: int
    test_per_day: float
    baseline_count: int
    baseline_days: int
    baseline_per_day: float

    @property
    def credibly_above(self) -> bool:
        return self.low >= self.bar

    @property
    def credibly_below(self) -> bool:
        return self.high < self.bar

    def to_dict(self) -> dict:
        return _json_safe(asdict(self))


@dataclass(frozen=True)
class PollLift:
    """Poll participation in the test against the shop's usual participation (ratio of proportions).

    ``available`` is False when there is no test poll, or no usual poll to compare with (``note`` says
    which); the numbers are then nan. ``hours_open`` counts hours from the first test invitation to as_of:
    answers arrive over time, so a young poll's low participation is not yet evidence against the product.
    """

    available: bool
    note: str
    test_invited: int
    test_participated: int
    usual_invited: int
    usual_participated: int
    test_rate: float
    usual_rate: float
    lift: float
    low: float
    high: float
    prob_better: float
    conf: float
    bar: float
    hours_open: float

    @property
    def credibly_above(self) -> bool:
        return self.available and self.low >= self.bar

    @property
    def credibly_below(self) -> bool:
        return self.available and self.high < self.bar

    def to_dict(self) -> dict:
        return _json_safe(asdict(self))


@dataclass(frozen=True)
class DemandRate:
    """Pre-sale orders per day in the window with its exact (Garwood) interval; ``orders`` = validation sales."""

    per_day: float
    low: float
    high: float
    conf: float
    orders: int
    hours: int

    @property
    def days(self) -> float:
        return self.hours / 24.0

    @property
    def validation_sales(self) -> int:
        return self.orders

    def to_dict(self) -> dict:
        return _json_safe({**asdict(self), "days": self.days})


@dataclass(frozen=True)
class Decision:
    """The call, the reasons behind it, and everything the later chapters need."""

    decision: str  # "go", "no-go" or "extend"
    reasons: list
    as_of: pd.Timestamp
    hours_observed: int
    window_complete: bool
    daily_demand: DemandRate
    validation_sales: int
    winning_design: str | None
    cart_lift: CartLift
    poll_lift: PollLift
    design_ranking: pd.DataFrame = field(repr=False)
    settings: ValidationSettings = field(repr=False)

    def to_dict(self) -> dict:
        """JSON-safe: plain types only; nan and infinite numbers become None (an unbounded bound)."""
        return _json_safe(
            {
                "decision": self.decision,
                "reasons": list(self.reasons),
                "as_of": self.as_of.isoformat(),
                "hours_observed": self.hours_observed,
                "window_complete": self.window_complete,
                "daily_demand": {
                    "estimate": self.daily_demand.per_day,
                    "low": self.daily_demand.low,
                    "high": self.daily_demand.high,
                    "conf": self.daily_demand.conf,
                },
                "validation_sales": self.validation_sales,
                "winning_design": self.winning_design,
                "cart_lift": self.cart_lift.to_dict(),
                "poll_lift": self.poll_lift.to_dict(),
                "design_ranking": self.design_ranking.to_dict(orient="records"),
                "settings": self.settings.to_dict(),
            }
        )


def _settings(settings: ValidationSettings | Mapping | None) -> ValidationSettings:
    if settings is None:
        return ValidationSettings()
    if isinstance(settings, ValidationSettings):
        return settings
    if isinstance(settings, Mapping):
        return ValidationSettings.from_mapping(settings)
    raise ConfigError(f"settings must be ValidationSettings or a mapping of parameters, not {type(settings).__name__}")


def _as_of(events: pd.DataFrame, as_of) -> pd.Timestamp:
    """as_of as a Timestamp comparable with the events; a naive as_of is read in the events' time zone."""
    try:
        stamp = pd.Timestamp(as_of)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"as_of={as_of!r} is not a date-time ({exc}); use e.g. '2025-03-01 18:00'")
    if stamp is pd.NaT or pd.isna(stamp):
        raise ConfigError("as_of is missing; give the moment the decision is made, e.g. '2025-03-01 18:00'")
    tz = getattr(events["timestamp"].dtype, "tz", None)
    if tz is not None:
        return stamp.tz_localize(tz) if stamp.tzinfo is None else stamp.tz_convert(tz)
    if stamp.tzinfo is not None:
        raise ConfigError(
            f"as_of {stamp} has a time zone but the events' timestamps have none; "
            "load the events through spikekit.inputs.contracts.load_validation (it makes them tz-aware)"
        )
    return stamp


def _in_scope(events: pd.DataFrame, as_of, window_hours: float) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Baseline rows up to as_of and the last ``window_hours`` of test rows up to as_of; nothing after as_of.

    The window ends at the latest test row known at as_of, so once a test has finished its verdict stands
    (a run days later still sees the whole test), while during the test it is (as_of - window, as_of].
    """
    stamp = _as_of(events, as_of)
    ts = events["timestamp"]
    phase = events["phase"]
    known_test = ts[(phase == TEST) & (ts <= stamp)]
    end = known_test.max() if len(known_test) else stamp
    start = end - pd.Timedelta(hours=float(window_hours))
    keep = (ts <= stamp) & ((phase == BASELINE) | ((phase == TEST) & (ts > start)))
    return events.loc[keep], stamp


def _distinct_hours(ts: pd.Series) -> int:
    # Floor in UTC: flooring local wall time can fail on a daylight-saving change.
    if getattr(ts.dtype, "tz", None) is not None:
        ts = ts.dt.tz_convert("UTC")
    return int(ts.dt.floor("h").nunique())


def _distinct_days(ts: pd.Series) -> int:
    return int(ts.dt.date.nunique())  # calendar days in the shop's own time zone


def _rows(scope: pd.DataFrame, metric: str, phase: str) -> pd.DataFrame:
    return scope.loc[(scope["metric"] == metric) & (scope["phase"] == phase)]


def _total(rows: pd.DataFrame) -> int:
    return int(rows["count"].sum())


def _fmt_x(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return "unbounded"
    return f"{value:.2f}x"


def _fmt_n(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return "unbounded"
    return f"{value:.{digits}f}"


def cart_lift(events: pd.DataFrame, as_of, settings: ValidationSettings | Mapping | None = None) -> CartLift:
    """Add-to-cart lift: test per day over usual per day, exact conditional interval and p-value vs the bar.

    Raises InputError when there is no baseline (usual) add-to-cart at all: without it no lift exists.
    """
    settings = _settings(settings)
    scope, stamp = _in_scope(events, as_of, settings.window_hours)
    test = _rows(scope, ADD_TO_CART, TEST)
    base = _rows(scope, ADD_TO_CART, BASELINE)
    if base.empty:
        raise InputError(
            f"no baseline add_to_cart rows at or before as_of ({stamp}), so there is no usual level to compare with",
            column="phase",
            fix="add one row per past day with the daily add-to-cart of a normal new product link, phase 'baseline'",
        )
    c1, hours = _total(test), _distinct_hours(test["timestamp"])
    c0, days = _total(base), _distinct_days(base["timestamp"])
    t1 = hours / 24.0
    interval = stats.rate_ratio_ci(c1, t1, c0, days, settings.confidence)
    p_value = stats.rate_ratio_test(c1, t1, c0, days, settings.cart_lift_go, alternative="greater")
    return CartLift(
        lift=interval.estimate,
        low=interval.low,
        high=interval.high,
        conf=settings.confidence,
        bar=settings.cart_lift_go,
        p_value=p_value,
        test_count=c1,
        test_hours=hours,
        test_per_day=c1 / t1 if t1 else math.nan,
        baseline_count=c0,
        baseline_days=days,
        baseline_per_day=c0 / days,
    )


def poll_lift(events: pd.DataFrame, as_of, settings: ValidationSettings | Mapping | None = None) -> PollLift:
    """Poll participation now (test window) against the usual participation (baseline polls).

    Beta(1, 1) posteriors for both shares; the lift interval and P(better than usual) come from
    ``stats.prop_ratio_interval`` with the settings' seed, so they are reproducible.
    """
    settings = _settings(settings)
    scope, stamp = _in_scope(events, as_of, settings.window_hours)
    invited = _rows(scope, POLL_INVITED, TEST)
    n1 = _total(invited)
    hours_open = (
        (stamp - invited["timestamp"].min()) / pd.Timedelta(hours=1) if not invited.empty else 0.0
    )
    k1 = _total(_rows(scope, POLL_PARTICIPATED, TEST))
    n0 = _total(_rows(scope, POLL_INVITED, BASELINE))
    k0 = _total(_rows(scope, POLL_PARTICIPATED, BASELINE))
    for phase, k, n in ((TEST, k1, n1), (BASELINE, k0, n0)):
        if k > n:
            raise InputError(
                f"{phase} polls: {k} participated but only {n} were invited",
                column="count",
                fix="check the poll_invited and poll_participated rows of that phase",
            )
    nan = math.nan
    common = dict(test_invited=n1, test_participated=k1, usual_invited=n0, usual_participated=k0,
                  conf=settings.confidence, bar=settings.poll_lift_go, hours_open=float(hours_open))
    if n1 == 0 or n0 == 0:
        note = "no poll in the test window" if n1 == 0 else "no usual (baseline) poll to compare with"
        return PollLift(available=False, note=note, test_rate=k1 / n1 if n1 else nan, usual_rate=k0 / n0 if n0 else nan,
                        lift=nan, low=nan, high=nan, prob_better=nan, **common)
    ratio = stats.prop_ratio_interval(
        k1, n1, k0, n0, conf=settings.confidence, method="bayes", draws=settings.mc_draws, seed=settings.seed
    )
    return PollLift(available=True, note="", test_rate=k1 / n1, usual_rate=k0 / n0, lift=ratio.estimate,
                    low=ratio.low, high=ratio.high, prob_better=ratio.prob_greater, **common)


def design_ranking(events: pd.DataFrame, as_of, settings: ValidationSettings | Mapping | None = None) -> pd.DataFrame:
    """Concept designs ranked by votes in the window, with share intervals and P(best) (Dirichlet).

    Columns: design, votes, share, share_low, share_high, p_best, rank (1 = most votes; ties share a
    rank). Empty frame when no design votes were cast.
    """
    settings = _settings(settings)
    scope, _ = _in_scope(events, as_of, settings.window_hours)
    votes = _rows(scope, DESIGN_VOTE, TEST)
    if votes.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in RANKING_COLUMNS}).astype(
            {"design": "object", "votes": "int64", "rank": "int64"}
        )
    per_design = votes.groupby(votes["design"].astype(str), sort=True)["count"].sum()
    best = stats.dirichlet_prob_best(
        per_design, draws=settings.mc_draws, seed=settings.seed, conf=settings.confidence
    )
    frame = best.to_frame().rename(columns={"option": "design"})
    frame["design"] = frame["design"].astype(object)
    frame["votes"] = frame["votes"].astype("int64")
    frame["rank"] = frame["votes"].rank(method="min", ascending=False).astype("int64")
    frame = frame.sort_values(["rank", "design"], kind="stable").reset_index(drop=True)
    return frame[RANKING_COLUMNS]


def demand_rate(events: pd.DataFrame, as_of, settings: ValidationSettings | Mapping | None = None) -> DemandRate:
    """Pre-sale orders per day in the window (exact Garwood interval) and the validation-period sales."""
    settings = _settings(settings)
    scope, _ = _in_scope(events, as_of, settings.window_hours)
    rows = _rows(scope, PRESALE_ORDER, TEST)
    orders, hours = _total(rows), _distinct_hours(rows["timestamp"])
    interval = stats.poisson_rate_ci(orders, hours / 24.0, settings.confidence)
    return DemandRate(interval.estimate, interval.low, interval.high, settings.confidence, orders, hours)


def decide(events: pd.DataFrame, as_of, settings: ValidationSettings | Mapping | None = None) -> Decision:
    """Go / no-go / extend, with the evidence quoted in plain-English reasons.

    Rule (thresholds are settings; intervals are two-sided at ``confidence``):
    - "no-go" when the evidence is credibly below a bar: the add-to-cart lift's UPPER bound is below
      ``cart_lift_go`` (once ``min_hours_no_go`` hours are observed; default 0), or a poll was run and its lift's upper bound is below ``poll_lift_go`` once the
      poll has been open ``min_test_hours`` (answers trickle in, so a young poll's low share only delays);
    - "go" when the add-to-cart lift's LOWER bound is at least ``cart_lift_go``, and the poll's lower bound
      is at least ``poll_lift_go`` (or there is no poll and ``require_poll`` is False), and at least
      ``min_test_hours`` hours of add-to-cart have been observed;
    - otherwise "extend": inconclusive, keep the test running up to ``window_hours``. When the whole window
      has been observed and it is still inconclusive, the reasons say so (``window_complete``).
    Handed on whatever the call: daily demand (pre-sale orders per day with interval), validation-period
    sales (pre-sale orders in the window) and the winning design (most votes; None when tied or no votes).
    """
    settings = _settings(settings)
    stamp = _as_of(events, as_of)
    cart = cart_lift(events, stamp, settings)
    poll = poll_lift(events, stamp, settings)
    ranking = design_ranking(events, stamp, settings)
    demand = demand_rate(events, stamp, settings)
    level = f"{settings.confidence:.0%}"
    hours = cart.test_hours
    enough_time = hours >= settings.min_test_hours
    window_complete = hours >= settings.window_hours
    poll_young = poll.available and poll.hours_open < settings.min_test_hours
    poll_rules_out = poll.credibly_below and not poll_young
    cart_rules_out = cart.credibly_below and hours >= settings.min_hours_no_go

    reasons: list[str] = []
    cart_state = "credibly above" if cart.credibly_above else ("credibly below" if cart.credibly_below else "not yet clear")
    reasons.append(
        f"Add-to-cart: {cart.test_count} in {hours} test hours = {_fmt_n(cart.test_per_day)}/day vs usual "
        f"{_fmt_n(cart.baseline_per_day)}/day over {cart.baseline_days} days; lift {_fmt_x(cart.lift)} "
        f"({level} interval {_fmt_x(cart.low)} to {_fmt_x(cart.high)}). Bar: lower bound >= "
        f"{settings.cart_lift_go:g}x -> the lift is {cart_state} (one-sided exact p-value for 'lift <= "
        f"{settings.cart_lift_go:g}x': {format_p(cart.p_value)})"
        + (f"; only {hours} h observed, under min_hours_no_go={settings.min_hours_no_go:g}, so it cannot end "
           "the test yet." if cart.credibly_below and not cart_rules_out else ".")
    )
    if poll.available:
        poll_state = "credibly above" if poll.credibly_above else ("credibly below" if poll.credibly_below else "not yet clear")
        reasons.append(
            f"Poll: {poll.test_participated} of {poll.test_invited} took part ({poll.test_rate:.1%}) vs usual "
            f"{poll.usual_participated} of {poll.usual_invited} ({poll.usual_rate:.1%}); lift {_fmt_x(poll.lift)} "
            f"({level} interval {_fmt_x(poll.low)} to {_fmt_x(poll.high)}), P(better than usual) = "
            f"{poll.prob_better:.3f}. Bar: lower bound >= {settings.poll_lift_go:g}x -> the lift is {poll_state}"
            + (f" (poll open {poll.hours_open:.0f} h, under {settings.min_test_hours:g} h: answers still "
               "coming in, so it cannot rule the product out yet)." if poll_young else ".")
        )
    else:
        reasons.append(
            f"Poll: {poll.note}; "
            + ("a poll is required (require_poll=True), so the call cannot be go."
               if settings.require_poll else "not required (require_poll=False), so add-to-cart decides.")
        )
    reasons.append(
        f"Time: {hours} of the {settings.window_hours:g} window hours observed (minimum {settings.min_test_hours:g} "
        f"before a go) -> {'enough' if enough_time else 'not enough yet'}."
    )

    if cart_rules_out or poll_rules_out:
        call = "no-go"
        what = []
        if cart_rules_out:
            what.append(f"add-to-cart lift is credibly below {settings.cart_lift_go:g}x "
                        f"(upper bound {_fmt_x(cart.high)})")
        if poll_rules_out:
            what.append(f"poll lift is credibly below {settings.poll_lift_go:g}x (upper bound {_fmt_x(poll.high)})")
        reasons.append("Decision no-go: " + " and ".join(what) + ".")
    elif cart.credibly_above and (poll.credibly_above or (not poll.available and not settings.require_poll)) and enough_time:
        call = "go"
        reasons.append("Decision go: every bar is credibly met and enough hours were observed.")
    else:
        call = "extend"
        missing = []
        if not cart.credibly_above:
            missing.append("the add-to-cart lift is not yet credibly above its bar")
        if poll.available and not poll.credibly_above:
            missing.append("the poll lift is not yet credibly above its bar")
        if not poll.available and settings.require_poll:
            missing.append("the required poll is missing")
        if not enough_time:
            missing.append(f"fewer than {settings.min_test_hours:g} test hours observed")
        text = "Decision extend (inconclusive): " + "; ".join(missing) + "."
        if window_complete:
            text += (f" The full {settings.window_hours:g} h window is already observed: treat a longer test or a "
                     "smaller first batch as the options, not a full production order.")
        else:
            text += f" Keep the test running, up to {settings.window_hours:g} h."
        reasons.append(text)

    reasons.append(
        f"Demand handed on: {demand.orders} pre-sale orders in {demand.hours} hours = {_fmt_n(demand.per_day)}/day "
        f"({level} exact interval {_fmt_n(demand.low)} to {_fmt_n(demand.high)}/day)."
    )
    winning = None
    if ranking.empty:
        reasons.append("Designs: no design votes in the window.")
    else:
        top = ranking.iloc[0]
        total_votes = int(ranking["votes"].sum())
        tied = int((ranking["rank"] == 1).sum()) > 1
        if tied:
            names = ", ".join(repr(d) for d in ranking.loc[ranking["rank"] == 1, "design"])
            reasons.append(f"Designs: tie at the top between {names} with {int(top['votes'])} votes each; no winner.")
        else:
            winning = str(top["design"])
            reasons.append(
                f"Designs: {winning!r} leads with {int(top['votes'])} of {total_votes} votes "
                f"({top['share']:.0%}), P(best) = {top['p_best']:.3f}."
            )

    return Decision(
        decision=call,
        reasons=reasons,
        as_of=stamp,
        hours_observed=hours,
        window_complete=window_complete,
        daily_demand=demand,
        validation_sales=demand.orders,
        winning_design=winning,
        cart_lift=cart,
        poll_lift=poll,
        design_ranking=ranking,
        settings=settings,
    )
