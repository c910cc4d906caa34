"""Chapter 08, 内容矩阵: the content line, from the first kit to what to make more of tomorrow.

Handbook rules of thumb, each a setting below:

- a level-1 kit within 2 hours of the go decision: 3 cover styles, 5 selling angles, FAQ templates;
- a case matrix of 12 short videos (4 scenario, 4 unboxing, 4 testimonial) over 6 platforms, each adapted to
  its platform;
- phases: days 1-2 ignite, days 3-5 deepen (small creators, challenges, UGC templates), days 6-7 long tail
  (one-week report, comparisons, next-product teaser).

**Plan rule** (``content_plan``), the handbook's day structure. Days 1-2 (ignite): all 12 case videos, in format
order scenario -> unboxing -> testimonial, 6 a day; video i (0-based) leads on ``platforms[i % len(platforms)]``,
so every platform gets two videos of different formats. Days 3-5 (deepen): KOC co-creation and UGC slots; days 6-7
(long tail): the one-week report and comparison content (``slots_per_day`` each). Before any post is published the
slots keep the handbook's formats and platforms, marked "handbook (no posts yet)". Once posts exist, a slot's
format and platform are allocated by the evidence: every format x platform cell gets its shrunk order rate
(below) and, by Monte Carlo from the Beta posteriors with a fixed seed, its probability of being the best tried
cell; the slots are shared in proportion to that probability, so one cell far better takes nearly all of them,
and one slot explores the most promising untried cell. A slot is decided on the posts known at the start of its
day (or at as_of when that is earlier), so past days keep their plan and posts after as_of change nothing.

**Performance rule** (``performance``). Posts published up to ``as_of`` are pooled per format x platform; each
cell's order-per-view and click-per-view rates are shrunk toward the overall rate by an empirical-Bayes
Beta-binomial (``stats.shrink_rates``), so a cell with two lucky posts does not outrank a cell with twenty.
A post's counts are taken as they stand in the file (the table is a snapshot, not a time series).

**Make-more rule** (``make_more``). Only cells with at least ``min_views`` views count as evidence; they are
ranked by shrunk order rate and the best ``top`` are named. A cell whose interval lies wholly above the overall
rate is *credibly better*; the others are the best bets so far.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..core._common import settings_from_mapping
from ..core.errors import ConfigError, InputError
from ..core.stats import shrink_rates

__all__ = [
    "FORMATS",
    "PLATFORMS",
    "PLATFORM_NOTES",
    "ContentSettings",
    "go_moment",
    "kit_deadline",
    "kit_status",
    "level1_kit",
    "content_plan",
    "plan_position",
    "performance",
    "make_more",
    "review",
    "headline",
    "plot_plan",
    "plot_performance",
]

FORMATS = ("scenario", "unboxing", "testimonial")
PLATFORMS = ("小红书", "抖音", "淘宝", "拼多多", "微信", "快手")
PRODUCE, HOLD = "produce", "hold"

# How one master video is cut for each platform (what the editor changes, not a new shoot).
PLATFORM_NOTES = {
    "小红书": "vertical 3:4 cover with a big title, 30-60 s, plus a picture note with the selling points as a list",
    "抖音": "vertical 9:16, hook in the first 3 s, 15 s cut, trending sound, product link in the cart",
    "淘宝": "main-image video 9:16 or 1:1, under 60 s, close-ups and size or capacity on screen, no music cue needed",
    "拼多多": "short 15-30 s, price and the deal in the first frame, subtitles large",
    "微信": "视频号 vertical 30-60 s, story told for sharing in groups, link to the mini-shop",
    "快手": "vertical 9:16, plain talk to camera, 20-40 s, live-room teaser at the end",
}
_DEFAULT_NOTE = "vertical 9:16, hook first, under 60 s, subtitles"

# What each phase adds besides the videos themselves.
PHASE_FOCUS = {
    "ignite": "shop account and 2-3 mid-size creators post; pin the FAQ; reply to every comment in the first hour",
    "deepen": "small creators, a challenge with a UGC template, buyer photos reposted",
    "long tail": "one-week report, comparisons with alternatives, next-product teaser",
}

# The handbook's day structure after the case videos: days 3-5 KOC co-creation and UGC, days 6-7 the one-week
# report and comparison content. SLOT_FORMATS is each slot's format before any post is published.
CASE_VIDEO = "case video"
SLOT_KINDS = {"deepen": ("KOC co-creation", "UGC"), "long tail": ("one-week report", "comparison")}
SLOT_FORMATS = {"KOC co-creation": "scenario", "UGC": "testimonial", "one-week report": "testimonial",
                "comparison": "unboxing"}
SLOT_BRIEFS = {
    "KOC co-creation": "a small creator (KOC) makes it with the shop: the product in their own daily scene",
    "UGC": "a buyer's own post from the challenge template, reposted by the shop",
    "one-week report": "the one-week report: sales, buyers' photos, what people said",
    "comparison": "side by side with the usual alternatives: price, size, design",
}
DEFAULT_SLOTS_PER_DAY = {"deepen": 2, "long tail": 2}
PROB_BEST_DRAWS = 4000
NO_POSTS_BASIS = "handbook (no posts yet)"

FORMAT_BRIEFS = {
    "scenario": "the product in use in the trending scene",
    "unboxing": "unboxing and close-ups, packaging and first impression",
    "testimonial": "a buyer's own words after a few days of use",
}

COVER_STYLES = (
    ("scene cover", "the product in the trending scene, title of 6-10 characters on top"),
    ("close-up cover", "macro shot of the design detail, one selling point as the title"),
    ("compare cover", "before/after or side by side with an ordinary alternative, price on the image"),
)

SELLING_ANGLES = (
    ("mood", "the feeling the trend is about (ritual, gift, treat yourself)"),
    ("design", "the design detail that wins: {design}"),
    ("quality", "material and make: {material}"),
    ("value", "price and what you get: {price}"),
    ("gift", "gift box, card, ships in {ships_in_days} days"),
)

# FAQ drafts: (fact key, question, answer template). Only facts the seller gave are drafted.
FAQ_TEMPLATES = (
    ("material", "What is it made of?", "It is made of {material}."),
    ("capacity", "How big is it?", "It holds {capacity}."),
    ("price", "How much is it and is there a deal?", "It is {price}; the launch deal is on the product page."),
    ("ships_in_days", "When will it ship?", "Orders ship within {ships_in_days} days of payment."),
    ("care", "How do I care for it?", "{care}"),
    ("design", "Which designs are there?", "The most popular design is {design}; all designs are on the product page."),
    ("returns", "Can I return it?", "{returns}"),
)
# Words that tie a customer's question (chapter 11) to a fact, so its answer can be drafted from the facts.
_QUESTION_WORDS = {
    "material": ("material", "made of", "材质", "陶瓷", "glass", "ceramic"),
    "capacity": ("size", "capacity", "big", "ml", "容量", "大小", "多大"),
    "price": ("price", "cost", "deal", "discount", "价格", "多少钱", "优惠"),
    "ships_in_days": ("ship", "deliver", "when", "发货", "快递", "几天"),
    "care": ("wash", "dishwasher", "microwave", "clean", "洗碗机", "微波炉", "清洗"),
    "design": ("design", "colour", "color", "pattern", "颜色", "款式", "图案"),
    "returns": ("return", "refund", "broken", "退", "换", "破损"),
}


@dataclass(frozen=True)
class ContentSettings:
    """The chapter's parameters; defaults follow the handbook.

    deadline_hours: the level-1 kit is due this many hours after the go decision.
    videos_scenario / videos_unboxing / videos_testimonial: videos of each format in the 7-day matrix.
    ignite_days / deepen_days / tail_days: length of each phase in days (day 1 = first day after the go).
    deepen_slots_per_day: KOC co-creation and UGC slots a day in the deepen days.
    tail_slots_per_day: one-week report and comparison slots a day in the long tail.
    min_views: views a format x platform cell needs before it can be named in make-more.
    top: how many cells make-more names at most.
    conf: level of the intervals on the shrunk rates.
    prior_strength: a + b of the Beta prior; None estimates it from the spread of the cells.
    """

    deadline_hours: float = 2.0
    videos_scenario: int = 4
    videos_unboxing: int = 4
    videos_testimonial: int = 4
    ignite_days: int = 2
    deepen_days: int = 3
    tail_days: int = 2
    deepen_slots_per_day: int = 2
    tail_slots_per_day: int = 2
    min_views: float = 500.0
    top: int = 3
    conf: float = 0.95
    prior_strength: float | None = None

    def __post_init__(self):
        if not self.deadline_hours > 0:
            raise ConfigError(f"deadline_hours={self.deadline_hours!r} must be positive (handbook: 2)")
        for name in ("videos_scenario", "videos_unboxing", "videos_testimonial", "ignite_days", "deepen_days",
                     "tail_days", "deepen_slots_per_day", "tail_slots_per_day"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{name}={value!r} must be a whole number >= 0")
        if self.videos_by_format_total() == 0:
            raise ConfigError("all video counts are 0: plan at least one video")
        if self.ignite_days + self.deepen_days + self.tail_days == 0:
            raise ConfigError("ignite_days, deepen_days and tail_days are all 0: the plan needs at least one day")
        if not self.min_views >= 0:
            raise ConfigError(f"min_views={self.min_views!r} must be >= 0")
        if not (isinstance(self.top, (int, np.integer)) and self.top >= 1):
            raise ConfigError(f"top={self.top!r} must be a whole number >= 1")
        if not 0 < self.conf < 1:
            raise ConfigError(f"conf={self.conf!r} must be between 0 and 1, e.g. 0.95")
        if self.prior_strength is not None and not self.prior_strength > 0:
            raise ConfigError(f"prior_strength={self.prior_strength!r} must be positive, or None to estimate it")

    def videos_by_format(self) -> dict[str, int]:
        return {"scenario": int(self.videos_scenario), "unboxing": int(self.videos_unboxing),
                "testimonial": int(self.videos_testimonial)}

    def videos_by_format_total(self) -> int:
        return int(self.videos_scenario) + int(self.videos_unboxing) + int(self.videos_testimonial)

    def slots_per_day(self) -> dict[str, int]:
        return {"deepen": int(self.deepen_slots_per_day), "long tail": int(self.tail_slots_per_day)}

    def phases(self) -> tuple[tuple[str, int], ...]:
        return (("ignite", int(self.ignite_days)), ("deepen", int(self.deepen_days)),
                ("long tail", int(self.tail_days)))

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "ContentSettings":
        return settings_from_mapping(cls, params, "content")


# ----------------------------------------------------------------------------------------------------------
# Level-1 kit
# ----------------------------------------------------------------------------------------------------------
def _timestamp(value, what: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{what} {value!r} is not a date/time ({exc})") from None
    if stamp is pd.NaT or pd.isna(stamp):
        raise ConfigError(f"{what} is empty: give the moment of the go decision, e.g. '2025-03-09 12:00'")
    return stamp


TAKEN_OFF = ("rising", "peak", "declining")  # spike-state phases reached only after sales took off


def go_moment(validation_decision: str | None, state_go_at, spike_phase: str | None, takeoff) -> tuple:
    """When the content line starts, and why: chapter 02's first go (the spike state's ``validation.go_at``); without
    a go, the moment the spike state could see sales take off once its phase is rising, peak or declining. A spike
    that sells is on whatever the validation test still says, and chapters 03 and 04 already order on that state;
    holding the content line then would contradict them on the same morning. ``takeoff`` (``phase_detail.takeoff``)
    is the stamp of the first of two days above the bar; daily sales are stamped at the end of the day counted, so
    the second day is in one day later: that is the moment.
    Returns (moment or None, "chapter 02" | "sales took off" | None)."""
    if validation_decision == "go" and state_go_at:
        return pd.Timestamp(state_go_at), "chapter 02"
    if spike_phase in TAKEN_OFF and takeoff:
        return pd.Timestamp(takeoff) + pd.Timedelta(days=1), "sales took off"
    return None, None


def kit_deadline(go_time, deadline_hours: float = 2.0) -> pd.Timestamp:
    """When the level-1 kit is due: the go decision plus ``deadline_hours``."""
    if not deadline_hours > 0:
        raise ConfigError(f"deadline_hours={deadline_hours!r} must be positive (handbook: 2)")
    return _timestamp(go_time, "go_time") + pd.Timedelta(hours=float(deadline_hours))


def _fill(template: str, facts: Mapping[str, Any]) -> str:
    """Fill ``{name}`` slots from the facts; a missing fact stays visible as ``[name?]`` for the writer."""
    class _Missing(dict):
        def __missing__(self, key):
            return f"[{key}?]"

    return template.format_map(_Missing({k: v for k, v in facts.items() if v is not None and v != ""}))


def _question_texts(top_questions) -> list[str]:
    """Chapter 11's top questions as plain texts: a list of texts, or a table with a ``question`` column."""
    if top_questions is None:
        return []
    if isinstance(top_questions, pd.DataFrame):
        if "question" not in top_questions.columns:
            raise InputError("the top questions table has no 'question' column", column="question",
                             fix="record top_questions as a list of texts or a table with a question column")
        values = top_questions["question"].tolist()
    elif isinstance(top_questions, str):
        values = [top_questions]
    else:
        values = list(top_questions)
    return [str(v).strip() for v in values if v is not None and str(v).strip()]


def _fact_for(question: str, facts: Mapping[str, Any]) -> str | None:
    text = question.lower()
    for key, words in _QUESTION_WORDS.items():
        if key in facts and facts[key] not in (None, "") and any(w.lower() in text for w in words):
            return key
    return None


def level1_kit(go_time, product_facts: Mapping[str, Any], top_questions=None,
               deadline_hours: float = 2.0) -> pd.DataFrame:
    """The level-1 content kit as a checklist: 3 cover styles, 5 selling angles and FAQ drafts, all due
    ``deadline_hours`` after the go decision.

    ``product_facts``: what the seller knows, e.g. name, design, material, capacity, price, ships_in_days, care,
    returns. FAQ drafts are written only for the facts given; chapter 11's ``top_questions`` (texts, or a table
    with a ``question`` column; None when not recorded) come first, each answered from the fact it mentions
    when one matches, else marked for the writer. Columns: item, kind, title, draft, source, due, status.
    """
    if not isinstance(product_facts, Mapping):
        raise ConfigError("product_facts must be a mapping of fact name to value, e.g. {'material': 'ceramic'}")
    due = kit_deadline(go_time, deadline_hours)
    facts = dict(product_facts)
    rows: list[dict] = []
    for title, draft in COVER_STYLES:
        rows.append({"kind": "cover", "title": title, "draft": _fill(draft, facts), "source": "handbook"})
    for title, draft in SELLING_ANGLES:
        rows.append({"kind": "angle", "title": title, "draft": _fill(draft, facts), "source": "handbook"})
    answered: set[str] = set()
    for question in _question_texts(top_questions):
        key = _fact_for(question, facts)
        template = next((t for t in FAQ_TEMPLATES if t[0] == key), None)
        draft = _fill(template[2], facts) if template else "[answer to write: no product fact matches]"
        if key:
            answered.add(key)
        rows.append({"kind": "faq", "title": question, "draft": draft, "source": "chapter 11 top questions"})
    for key, question, answer in FAQ_TEMPLATES:
        if key in facts and facts[key] not in (None, "") and key not in answered:
            rows.append({"kind": "faq", "title": question, "draft": _fill(answer, facts), "source": "product facts"})
    kit = pd.DataFrame(rows, columns=["kind", "title", "draft", "source"])
    kit.insert(0, "item", np.arange(1, len(kit) + 1))
    kit["due"] = due
    kit["status"] = "to do"
    kit.attrs["deadline"] = due
    return kit


# ----------------------------------------------------------------------------------------------------------
# Seven-day content plan
# ----------------------------------------------------------------------------------------------------------
def _phase_of_day(phases: Sequence[tuple[str, int]]) -> list[str]:
    days: list[str] = []
    for name, length in phases:
        if int(length) < 0:
            raise ConfigError(f"phase {name!r} has {length} days: give a whole number >= 0")
        days += [str(name)] * int(length)
    if not days:
        raise ConfigError("the phases add up to 0 days: the plan needs at least one day")
    return days


def _spread(n: int, days: int) -> np.ndarray:
    """Day number (1-based) of each of n items spread over ``days`` days, the extra ones on the earliest days."""
    per_day = np.full(days, n // days)
    per_day[: n % days] += 1
    return np.repeat(np.arange(1, days + 1), per_day)


def content_plan(start_date, platforms: Sequence[str] = PLATFORMS,
                 videos_by_format: Mapping[str, int] | None = None,
                 phases: Sequence[tuple[str, int]] = (("ignite", 2), ("deepen", 3), ("long tail", 2)),
                 *, slots_per_day: Mapping[str, int] | None = None, posts: pd.DataFrame | None = None, as_of=None,
                 prior_strength: float | None = None, conf: float = 0.95, draws: int = PROB_BEST_DRAWS,
                 seed: int = 0) -> pd.DataFrame:
    """The seven-day plan in the handbook's day structure, one row per piece of content.

    - **ignite** days (1-2): the case matrix, every video of ``videos_by_format``, in format order scenario ->
      unboxing -> testimonial, spread over the ignite days (extras first); video i leads on
      ``platforms[i % len(platforms)]``.
    - **deepen** days (3-5): ``slots_per_day["deepen"]`` slots a day, alternately KOC co-creation and UGC.
    - **long tail** days (6-7): ``slots_per_day["long tail"]`` slots a day, the one-week report and comparison
      content.

    Each slot's format and lead platform: before any post is published (or without ``posts``/``as_of``) the
    handbook's (``SLOT_FORMATS``, platforms continuing the rotation), basis "handbook"; once posts exist they are
    allocated by the evidence (``allocate_slots``). A slot is decided with the posts known at the start of its day,
    or at ``as_of`` when that is earlier: past days keep the plan they had, posts after ``as_of`` change nothing.
    Columns: video (V01.. the case videos, S01.. the slots), day, date, phase, kind, format, platform, basis,
    p_best, decided_at, format_brief, phase_focus, adaptation. attrs: platforms, days, phases, evidence (the
    evidence behind the slots still ahead at ``as_of``), basis ("handbook" or "evidence").
    """
    videos_by_format = dict(videos_by_format or {"scenario": 4, "unboxing": 4, "testimonial": 4})
    unknown = sorted(set(videos_by_format) - set(FORMATS))
    if unknown:
        raise ConfigError(f"unknown video format(s) {unknown}; known: {list(FORMATS)}")
    counts = {f: int(videos_by_format.get(f, 0)) for f in FORMATS}
    if any(n < 0 for n in counts.values()):
        raise ConfigError(f"video counts must be >= 0, got {counts}")
    platforms = [str(p) for p in platforms]
    if not platforms or len(set(platforms)) != len(platforms):
        raise ConfigError(f"platforms must be a non-empty list without repeats, got {platforms}")
    day_phase = _phase_of_day(phases)
    n_days = len(day_phase)
    sequence = [f for f in FORMATS for _ in range(counts[f])]
    if not sequence:
        raise ConfigError("no videos to plan: every format count is 0")
    ignite_days = [d for d, name in enumerate(day_phase, start=1) if name == "ignite"]
    if not ignite_days:
        raise ConfigError("the plan has no ignite days: the handbook makes the case videos on days 1-2 "
                          "(set ignite_days >= 1)")
    slots = dict(DEFAULT_SLOTS_PER_DAY if slots_per_day is None else slots_per_day)
    for name, value in slots.items():
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"slots_per_day[{name!r}]={value!r} must be a whole number >= 0")
    start = pd.Timestamp(start_date).normalize()
    if start.tzinfo is not None:
        start = start.tz_localize(None)
    rows = []
    for i, (fmt, day) in enumerate(zip(sequence, np.array(ignite_days)[_spread(len(sequence), len(ignite_days)) - 1])):
        rows.append({"video": f"V{i + 1:02d}", "day": int(day), "kind": CASE_VIDEO, "format": fmt,
                     "platform": platforms[i % len(platforms)], "basis": "handbook", "p_best": np.nan})
    j = 0
    for day, phase in enumerate(day_phase, start=1):
        kinds = SLOT_KINDS.get(phase, ())
        for k in range(int(slots.get(phase, 0)) if kinds else 0):
            kind = kinds[k % len(kinds)]
            rows.append({"video": f"S{j + 1:02d}", "day": day, "kind": kind, "format": SLOT_FORMATS[kind],
                         "platform": platforms[(len(sequence) + j) % len(platforms)], "basis": NO_POSTS_BASIS,
                         "p_best": np.nan})
            j += 1
    plan = pd.DataFrame(rows)
    plan["date"] = start + pd.to_timedelta(plan["day"] - 1, unit="D")
    plan["phase"] = [day_phase[d - 1] for d in plan["day"]]
    plan["decided_at"] = pd.NaT
    evidence = None
    if posts is not None and as_of is not None:
        stamp = _timestamp(as_of, "as_of")
        is_slot = plan["kind"] != CASE_VIDEO
        day_start = plan["date"].map(lambda d: d.tz_localize(stamp.tzinfo) if stamp.tzinfo is not None else d)
        decided = day_start.where(day_start < stamp, stamp)
        plan["decided_at"] = decided.where(is_slot)
        for moment in sorted(set(decided[is_slot])):
            group = plan.index[is_slot & (decided == moment)]
            perf = performance(posts, moment, prior_strength, conf)
            if perf.empty or not np.isfinite(perf.attrs.get("overall_order_rate", np.nan)):
                continue  # no posts yet at that moment: the handbook's slots stand
            table = allocation_evidence(perf, platforms, draws=draws, seed=seed)
            cells = allocate_slots(len(group), table)
            plan.loc[group, "format"] = [c["format"] for c in cells]
            plan.loc[group, "platform"] = [c["platform"] for c in cells]
            plan.loc[group, "basis"] = [c["basis"] for c in cells]
            plan.loc[group, "p_best"] = [c["p_best"] for c in cells]
            if moment == stamp:
                evidence = table
        if evidence is None:  # nothing left to decide at as_of: show what the last decision saw
            evidence = allocation_evidence(performance(posts, stamp, prior_strength, conf), platforms, draws=draws,
                                           seed=seed)
    plan["format_brief"] = [SLOT_BRIEFS.get(k, FORMAT_BRIEFS[f]) if k != CASE_VIDEO else FORMAT_BRIEFS[f]
                            for k, f in zip(plan["kind"], plan["format"])]
    plan["phase_focus"] = plan["phase"].map(lambda ph: PHASE_FOCUS.get(ph, ""))
    plan["adaptation"] = plan["platform"].map(lambda pl: PLATFORM_NOTES.get(pl, _DEFAULT_NOTE))
    plan = plan.sort_values(["day", "video"], key=lambda c: c if c.name == "day" else c.str[0].map({"V": "0", "S": "1"}) + c,
                            kind="mergesort").reset_index(drop=True)
    plan = plan[["video", "day", "date", "phase", "kind", "format", "platform", "basis", "p_best", "decided_at",
                 "format_brief", "phase_focus", "adaptation"]]
    plan.attrs["platforms"] = platforms
    plan.attrs["days"] = n_days
    plan.attrs["phases"] = [(str(a), int(b)) for a, b in phases]
    plan.attrs["evidence"] = evidence
    plan.attrs["basis"] = "handbook" if plan["basis"].str.startswith("handbook").all() else "evidence"
    return plan


def allocation_evidence(perf: pd.DataFrame, platforms: Sequence[str] = PLATFORMS, *, draws: int = PROB_BEST_DRAWS,
                        seed: int = 0) -> pd.DataFrame:
    """Every format x platform cell the plan can use, with the evidence behind an allocation: posts, views, orders,
    the shrunk order rate with its interval (``performance``), and the posterior probability of being the best of
    the tried cells (Monte Carlo: ``draws`` draws from each cell's Beta posterior, fixed ``seed``). Tried cells are
    ranked by that probability (ties: the higher lower bound); untried cells after them, by a guess from the
    pooled rates of their format and platform (overall x format lift x platform lift), the explore candidates.
    Columns: rank, format, platform, tried, posts, views, orders, order_rate, order_low, order_high, p_best, guess."""
    platforms = [str(p) for p in platforms]
    cells = pd.DataFrame([(f, p) for f in FORMATS for p in platforms], columns=["format", "platform"])
    cols = ["posts", "views", "orders", "order_rate", "order_low", "order_high"]
    if perf.empty:
        table = cells.assign(**{c: np.nan for c in cols})
    else:
        table = cells.merge(perf[["format", "platform"] + cols], on=["format", "platform"], how="left")
    table["tried"] = table["views"].fillna(0).to_numpy(float) > 0
    for c in ("posts", "views", "orders"):
        table[c] = table[c].fillna(0).astype(int)
    overall = float(perf.attrs.get("overall_order_rate", np.nan)) if not perf.empty else np.nan
    table["p_best"] = 0.0
    tried = table.index[table["tried"]]
    if len(tried) and np.isfinite(overall):
        strength = float(perf.attrs["order_prior_strength"])
        a, b = max(overall * strength, 1e-9), max((1 - overall) * strength, 1e-9)
        rng = np.random.default_rng(seed)
        k = table.loc[tried, "orders"].to_numpy(float)
        n = table.loc[tried, "views"].to_numpy(float)
        sample = rng.beta(a + k, b + n - k, size=(int(draws), len(tried)))
        wins = np.bincount(sample.argmax(axis=1), minlength=len(tried))
        table.loc[tried, "p_best"] = wins / float(draws)
    # Explore guess for untried cells: the overall rate scaled by how their format and platform do elsewhere.
    guess = np.full(len(table), np.nan)
    if not perf.empty and np.isfinite(overall) and overall > 0:
        by_format = perf.groupby("format")[["orders", "views"]].sum()
        by_platform = perf.groupby("platform")[["orders", "views"]].sum()
        lift = lambda grouped, key: (float(grouped.loc[key, "orders"] / grouped.loc[key, "views"]) / overall
                                     if key in grouped.index and grouped.loc[key, "views"] > 0 else 1.0)
        guess = np.array([overall * lift(by_format, f) * lift(by_platform, p)
                          for f, p in zip(table["format"], table["platform"])])
    table["guess"] = np.where(table["tried"], np.nan, guess)
    order = _display_order(table["format"]) + _display_order(table["platform"])
    table = table.assign(_tried=~table["tried"], _pb=-table["p_best"], _low=-table["order_low"].fillna(-1),
                         _guess=-table["guess"].fillna(-1), _order=order)
    table = table.sort_values(["_tried", "_pb", "_low", "_guess", "_order"], kind="mergesort")
    table = table.drop(columns=["_tried", "_pb", "_low", "_guess", "_order"]).reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table.attrs.update(overall_order_rate=overall, draws=int(draws), seed=int(seed), as_of=perf.attrs.get("as_of"))
    return table[["rank", "format", "platform", "tried", "posts", "views", "orders", "order_rate", "order_low",
                  "order_high", "p_best", "guess"]]


def allocate_slots(n: int, evidence: pd.DataFrame) -> list[dict]:
    """``n`` slots over the cells of ``allocation_evidence``, in slot order.

    One explore slot (the first, so the team learns soonest) goes to the best-guessed untried cell when there is one
    and ``n >= 2``. The others are shared among the tried cells in proportion to their probability of being best
    (largest remainders, ties to the higher rank), then handed out round-robin in rank order, so a cell that is
    almost surely best takes nearly every slot and close cells share them.
    Each item: format, platform, basis, p_best."""
    if n <= 0:
        return []
    tried = evidence[evidence["tried"]]
    untried = evidence[~evidence["tried"]]
    out: list[dict] = []
    if len(untried) and (n >= 2 or tried.empty):
        cell = untried.iloc[0]
        out.append({"format": cell["format"], "platform": cell["platform"], "basis": "explore: untried cell",
                    "p_best": np.nan})
    exploit = n - len(out)
    if exploit and len(tried):
        share = tried["p_best"].to_numpy(float) * exploit
        counts = np.floor(share).astype(int)
        left = exploit - int(counts.sum())
        remainder = share - counts
        for idx in sorted(range(len(tried)), key=lambda i: (-remainder[i], i))[:left]:
            counts[idx] += 1
        queue = []
        while len(queue) < exploit:
            for i in range(len(tried)):
                if counts[i] > 0:
                    counts[i] -= 1
                    queue.append(i)
        for i in queue:
            cell = tried.iloc[i]
            out.append({"format": cell["format"], "platform": cell["platform"],
                        "basis": f"shrunk rates: P(best) {cell['p_best']:.0%}", "p_best": float(cell["p_best"])})
    while len(out) < n:  # no tried cell to share out (cannot happen with posts): the next untried cells
        cell = untried.iloc[(len(out)) % len(untried)]
        out.append({"format": cell["format"], "platform": cell["platform"], "basis": "explore: untried cell",
                    "p_best": np.nan})
    return out


# ----------------------------------------------------------------------------------------------------------
# Performance and make-more
# ----------------------------------------------------------------------------------------------------------
def _posts_up_to(posts: pd.DataFrame, as_of) -> tuple[pd.DataFrame, pd.Timestamp]:
    missing = [c for c in ("timestamp", "platform", "format", "views", "clicks", "orders") if c not in posts.columns]
    if missing:
        raise InputError(f"the posts table lacks column(s) {missing}", column=missing[0],
                         fix="load it with spikekit.inputs.contracts.load_posts")
    stamps = posts["timestamp"]
    cutoff = _timestamp(as_of, "as_of")
    tz = getattr(stamps.dt, "tz", None)
    if tz is not None and cutoff.tzinfo is None:
        cutoff = cutoff.tz_localize(tz)
    elif tz is None and cutoff.tzinfo is not None:
        cutoff = cutoff.tz_localize(None)
    return posts.loc[(stamps <= cutoff).to_numpy()], cutoff


def _display_order(column: pd.Series) -> pd.Series:
    known = FORMATS if column.name == "format" else PLATFORMS
    rank = {name: f"{i:02d}" for i, name in enumerate(known)}
    return column.map(lambda v: rank.get(v, f"99{v}"))


def performance(posts: pd.DataFrame, as_of, prior_strength: float | None = None,
                conf: float = 0.95) -> pd.DataFrame:
    """Order-per-view and click-per-view rates by format x platform, raw and shrunk, with ``conf`` intervals.

    Posts stamped after ``as_of`` are ignored. Each rate is shrunk toward the pooled rate of all cells by the
    Beta-binomial of ``stats.shrink_rates`` (``prior_strength`` = a + b of the prior, or None to estimate it).
    Columns: format, platform, posts, views, clicks, orders, click_rate_raw, click_rate, click_low, click_high,
    order_rate_raw, order_rate, order_low, order_high. attrs: overall order/click rate, prior strengths, as_of.
    """
    used, cutoff = _posts_up_to(posts, as_of)
    columns = ["format", "platform", "posts", "views", "clicks", "orders", "click_rate_raw", "click_rate",
               "click_low", "click_high", "order_rate_raw", "order_rate", "order_low", "order_high"]
    table = (used.assign(format=used["format"].astype(str), platform=used["platform"].astype(str), posts=1)
             .groupby(["format", "platform"], sort=True, observed=True)[["posts", "views", "clicks", "orders"]]
             .sum().reset_index())
    table.attrs.update(as_of=cutoff, conf=conf, n_posts=int(len(used)))
    if table.empty or table["views"].sum() == 0:
        table = table.reindex(columns=columns)
        table.attrs.update(overall_order_rate=float("nan"), overall_click_rate=float("nan"))
        return table
    views = table["views"].to_numpy(dtype=float)
    orders = shrink_rates(table["orders"].to_numpy(), views, prior_strength=prior_strength, conf=conf)
    clicks = shrink_rates(table["clicks"].to_numpy(), views, prior_strength=prior_strength, conf=conf)
    table["click_rate_raw"], table["click_rate"] = clicks.raw, clicks.estimate
    table["click_low"], table["click_high"] = clicks.low, clicks.high
    table["order_rate_raw"], table["order_rate"] = orders.raw, orders.estimate
    table["order_low"], table["order_high"] = orders.low, orders.high
    table = table[columns]
    # Formats in plan order, platforms in the usual order (others after, by name): the table reads the same every run.
    table = table.sort_values(["format", "platform"], key=_display_order, kind="mergesort").reset_index(drop=True)
    table.attrs.update(
        as_of=cutoff, conf=conf, n_posts=int(len(used)),
        overall_order_rate=float(table["orders"].sum() / views.sum()),
        overall_click_rate=float(table["clicks"].sum() / views.sum()),
        order_prior_strength=float(orders.prior_alpha + orders.prior_beta),
        click_prior_strength=float(clicks.prior_alpha + clicks.prior_beta),
    )
    return table


def make_more(perf: pd.DataFrame, min_views: float = 500.0, top: int = 3) -> pd.DataFrame:
    """What to make more of tomorrow: the ``top`` format x platform cells by shrunk order rate among those with
    at least ``min_views`` views. ``evidence`` says whether the cell's interval lies wholly above the overall rate.
    Columns: rank, format, platform, posts, views, orders, order_rate, order_low, order_high, lift, evidence,
    action."""
    columns = ["rank", "format", "platform", "posts", "views", "orders", "order_rate", "order_low", "order_high",
               "lift", "evidence", "action"]
    overall = float(perf.attrs.get("overall_order_rate", float("nan")))
    if perf.empty or not np.isfinite(overall):
        out = pd.DataFrame(columns=columns)
        out.attrs.update(min_views=min_views, overall_order_rate=overall)
        return out
    eligible = perf[perf["views"].to_numpy(dtype=float) >= float(min_views)]
    ranked = eligible.sort_values(["order_rate", "views"], ascending=[False, False], kind="mergesort").head(int(top))
    out = ranked[["format", "platform", "posts", "views", "orders", "order_rate", "order_low", "order_high"]].copy()
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    out["lift"] = out["order_rate"] / overall if overall > 0 else np.nan
    above = out["order_low"].to_numpy(dtype=float) > overall
    out["evidence"] = np.where(above, "credibly above the overall rate", "best so far, not yet credibly above")
    out["action"] = [f"make more {f} videos for {p}" for f, p in zip(out["format"], out["platform"])]
    out = out.reset_index(drop=True)[columns]
    out.attrs.update(min_views=min_views, overall_order_rate=overall)
    return out


# ----------------------------------------------------------------------------------------------------------
# Where the spike's content stands: the kit once, the plan by days since the go
# ----------------------------------------------------------------------------------------------------------
def _local(stamp, like=None) -> pd.Timestamp:
    stamp = pd.Timestamp(stamp)
    if like is not None and getattr(like, "tzinfo", None) is not None:
        return stamp.tz_localize(like.tzinfo) if stamp.tzinfo is None else stamp.tz_convert(like.tzinfo)
    return stamp


def _day(stamp: pd.Timestamp) -> pd.Timestamp:
    """The calendar day of a moment, in its own zone (naive)."""
    return (stamp.tz_localize(None) if stamp.tzinfo is not None else stamp).normalize()


def kit_status(go_at, as_of, deadline_hours: float = 2.0, approvals=None, plan_days: int = 7) -> dict:
    """Whether the level-1 kit is still to be made, once per spike.

    ``go_at``: the first moment chapter 02 said go (the spike state's ``validation.go_at``; None: no go yet).
    ``approvals``: the ledger's approvals (the spike state's ``ledger.approvals``, dicts with kind, approved_at,
    by); an approved ``content_kit`` means the kit is done. The kit is due ``deadline_hours`` after the go, whatever
    the day the chapter runs; once the ``plan_days``-day plan is over a kit never made is not asked for any more.
    Returns {status, due, approved_at, by, text}; status is one of "no go", "due", "overdue", "done", "lapsed".
    """
    done = [a for a in (approvals or []) if str(a.get("kind")) == "content_kit"]
    stamp = _timestamp(as_of, "as_of")
    if done:
        first = min(done, key=lambda a: pd.Timestamp(a["approved_at"]))
        when = _local(first["approved_at"], stamp)
        due = kit_deadline(_local(go_at, stamp), deadline_hours) if go_at is not None else None
        return {"status": "done", "due": due, "approved_at": when, "by": first.get("by"),
                "text": f"level-1 kit already approved {when:%Y-%m-%d %H:%M} by {first.get('by')}: no new kit"}
    if go_at is None or pd.isna(go_at):
        return {"status": "no go", "due": None, "approved_at": None, "by": None,
                "text": "no go from chapter 02 yet: the kit stays a draft"}
    go = _local(go_at, stamp)
    due = kit_deadline(go, deadline_hours)
    if _day(stamp) > _day(go) + pd.Timedelta(days=int(plan_days)):
        return {"status": "lapsed", "due": due, "approved_at": None, "by": None,
                "text": f"the kit was due {due:%Y-%m-%d %H:%M} and never approved; the {plan_days}-day plan is over, "
                        "so it is not asked for any more"}
    status = "overdue" if stamp > due else "due"
    return {"status": status, "due": due, "approved_at": None, "by": None,
            "text": f"level-1 kit due {due:%Y-%m-%d %H:%M} ({deadline_hours:g} h after the go {go:%Y-%m-%d %H:%M})"
                    + (", OVERDUE" if status == "overdue" else "")}


def plan_position(plan: pd.DataFrame, as_of) -> tuple[pd.DataFrame, dict]:
    """Where today falls in the plan (day 1 = the first calendar day after the go): each video gets a ``status``
    (done = its day has passed, today, tomorrow, later), and the position says the day number and the content
    phase (ignite / deepen / long tail; "before day 1" on the go's own day, "complete" after the last day)."""
    today = _day(_timestamp(as_of, "as_of"))
    dates = pd.to_datetime(plan["date"]).dt.normalize()
    out = plan.copy()
    out["status"] = np.select([dates < today, dates == today, dates == today + pd.Timedelta(days=1)],
                              ["done", "today", "tomorrow"], "later")
    first = dates.min() if len(dates) else today
    day = int((today - first) / pd.Timedelta(days=1)) + 1
    days = int(plan.attrs.get("days", plan["day"].max() if len(plan) else 0))
    phases = dict(zip(plan["day"], plan["phase"]))
    if day < 1:
        phase = "before day 1"
    elif day > days:
        phase = "complete"
    else:
        lengths = [(name, n) for name, n in plan.attrs.get("phases", [])]
        phase = phases.get(day) or (_phase_of_day(lengths)[day - 1] if lengths else "")
    position = {"day": day, "days": days, "phase": phase, "first_day": first,
                "videos_done": int((out["status"] == "done").sum()),
                "videos_today": int((out["status"] == "today").sum()),
                "videos_tomorrow": int((out["status"] == "tomorrow").sum())}
    out.attrs.update(plan.attrs)
    return out, position


# ----------------------------------------------------------------------------------------------------------
# The call
# ----------------------------------------------------------------------------------------------------------
DONE = "done"


def review(validation_decision: str | None, kit: pd.DataFrame | None, plan: pd.DataFrame, perf: pd.DataFrame,
           more: pd.DataFrame, *, kit_state: Mapping[str, Any] | None = None, position: Mapping[str, Any] | None = None,
           spike_phase: str | None = None, go_source: str | None = None) -> tuple[str, list[str]]:
    """The chapter's call with the evidence behind it: ``hold`` without a go (chapter 02's, or ``go_source`` "sales
    took off" from ``go_moment``) or when the spike is no-go, ``done`` once the plan's days are over or the spike has exited (no new matrix; make-more still names
    what works), else ``produce``. ``kit_state`` (``kit_status``) and ``position`` (``plan_position``) say whether
    the kit is still to make and which day of the plan it is."""
    sales_go = go_source == "sales took off"
    if (validation_decision != "go" and not sales_go) or spike_phase == "no-go":
        decision = HOLD
    elif (position and position.get("phase") == "complete") or spike_phase == "exited":
        decision = DONE
    else:
        decision = PRODUCE
    reasons = []
    if sales_go and decision != HOLD:
        reasons.append(f"chapter 02 decided **{validation_decision or 'nothing'}**, but the spike state sees sales taken "
                       f"off (phase {spike_phase}): produce, as chapters 03 and 04 order on the same state")
    elif validation_decision is None:
        reasons.append("chapter 02 has not recorded a decision: hold production, keep the kit as a draft")
    else:
        reasons.append(f"chapter 02 decided **{validation_decision}**"
                       + ("" if decision != HOLD else ": hold production")
                       + (f"; the spike is {spike_phase}" if spike_phase else ""))
    if kit_state is not None:
        reasons.append(kit_state["text"])
    if kit is not None:
        counts = kit["kind"].value_counts()
        deadline = kit.attrs.get("deadline")
        reasons.append(f"level-1 kit: {counts.get('cover', 0)} covers, {counts.get('angle', 0)} angles, "
                       f"{counts.get('faq', 0)} FAQ drafts" + (f", due {deadline:%m-%d %H:%M}" if deadline is not None else ""))
    reasons.append(_plan_text(plan))
    reasons.append(_allocation_text(plan))
    if position is not None and decision != HOLD:
        if position["phase"] == "complete":
            reasons.append(f"the {position['days']}-day plan is complete (today is day {position['day']} after the go): "
                           "no new matrix")
        elif position["phase"] == "before day 1":
            reasons.append("today is the go's own day: the kit first, the matrix starts tomorrow")
        else:
            reasons.append(f"today is day {position['day']} of {position['days']}: **{position['phase']}** "
                           f"({position['videos_done']} pieces done, {position['videos_today']} today, "
                           f"{position['videos_tomorrow']} tomorrow)")
    overall = perf.attrs.get("overall_order_rate", float("nan"))
    if perf.empty or not np.isfinite(overall):
        reasons.append("no posts published up to as_of: nothing to compare yet")
    else:
        reasons.append(f"{perf.attrs.get('n_posts', int(perf['posts'].sum()))} posts so far, overall "
                       f"{overall:.2%} orders per view")
        if more.empty:
            reasons.append(f"no format x platform cell has {more.attrs.get('min_views', 0):g}+ views yet: "
                           "keep to the plan")
        else:
            best = more.iloc[0]
            reasons.append(f"make more: {best['format']} on {best['platform']} at {best['order_rate']:.2%} "
                           f"(shrunk, {best['order_low']:.2%}-{best['order_high']:.2%}), {best['evidence']}")
    return decision, reasons


def _case_videos(plan: pd.DataFrame) -> pd.DataFrame:
    return plan[plan["kind"] == CASE_VIDEO] if "kind" in plan.columns else plan


def _day_span(days) -> str:
    days = sorted(set(int(d) for d in days))
    if not days:
        return "no days"
    return f"day {days[0]}" if len(days) == 1 else f"days {days[0]}-{days[-1]}"


def _plan_text(plan: pd.DataFrame) -> str:
    videos = _case_videos(plan)
    slots = plan[plan["kind"] != CASE_VIDEO] if "kind" in plan.columns else plan.iloc[0:0]
    by_format = videos["format"].value_counts()
    text = (f"matrix: {len(videos)} case videos ({', '.join(f'{by_format.get(f, 0)} {f}' for f in FORMATS)}) over "
            f"{videos['platform'].nunique()} platforms on {_day_span(videos['day'])}")
    for phase in ("deepen", "long tail"):
        part = slots[slots["phase"] == phase]
        if len(part):
            kinds = " and ".join(dict.fromkeys(part["kind"]))
            text += f"; {kinds}: {len(part)} slots on {_day_span(part['day'])}"
    return text


def _allocation_text(plan: pd.DataFrame) -> str:
    """How the slots were filled: the handbook's plan before any post, else the evidence behind the slots ahead."""
    if plan.attrs.get("basis", "handbook") == "handbook":
        return "the handbook's plan: no posts published yet, so the slots keep the handbook's formats and platforms"
    evidence = plan.attrs.get("evidence")
    text = "slots allocated by the shrunk order rates (probability of being best, Monte Carlo)"
    if evidence is not None and len(evidence) and bool(evidence["tried"].any()):
        best = evidence.iloc[0]
        text += (f": best so far {best['format']} on {best['platform']} at {best['order_rate']:.2%} "
                 f"(shrunk, {best['order_low']:.2%}-{best['order_high']:.2%}), P(best) {best['p_best']:.0%}")
    explore = plan[plan["basis"].astype(str).str.startswith("explore")]
    if len(explore):
        row = explore.iloc[-1]
        text += f"; explore slot: {row['format']} on {row['platform']} (untried) on day {int(row['day'])}"
    return text


def headline(decision: str, kit: pd.DataFrame | None, plan: pd.DataFrame, more: pd.DataFrame, *,
             kit_state: Mapping[str, Any] | None = None, position: Mapping[str, Any] | None = None) -> str:
    """One line for the run summary."""
    days = plan.attrs.get("days", plan["day"].max())
    if decision == PRODUCE:
        if kit is not None:
            deadline = kit.attrs.get("deadline")
            kit_text = f"kit due {deadline:%m-%d %H:%M}" + (" (overdue)" if kit_state and kit_state.get("status") == "overdue" else "")
        else:
            kit_text = "kit done" if kit_state and kit_state.get("status") == "done" else "no kit"
        videos = _case_videos(plan)
        where = (f"day {position['day']} of {days} ({position['phase']})" if position and position["phase"] not in
                 ("before day 1", "complete") else f"{len(videos)} case videos on {_day_span(videos['day'])}, "
                 f"{len(plan) - len(videos)} slots after")
        basis = "slots by shrunk rates" if plan.attrs.get("basis") == "evidence" else "handbook plan, no posts yet"
        text = f"PRODUCE: {kit_text}; {where}; {basis}"
    elif decision == DONE:
        text = f"DONE: the {days}-day plan is over" + ("; kit done" if kit_state and kit_state.get("status") == "done" else "")
    else:
        text = f"{decision.upper()}: no go from chapter 02; kit and {len(_case_videos(plan))}-video plan kept as drafts"
    if not more.empty:
        best = more.iloc[0]
        text += f"; make more {best['format']} on {best['platform']} ({best['order_rate']:.2%} orders/view)"
    return text + "."


# ----------------------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------------------
def plot_plan(plan: pd.DataFrame, title: str | None = None):
    """The matrix as a day x platform grid: each cell coloured by the format of the video leading there."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    from ..core.plots import finish

    platforms = plan.attrs.get("platforms") or sorted(plan["platform"].unique())
    days = int(plan.attrs.get("days", plan["day"].max()))
    grid = np.full((days, len(platforms)), np.nan)
    labels = [["" for _ in platforms] for _ in range(days)]
    code = {f: i for i, f in enumerate(FORMATS)}
    for row in plan.itertuples(index=False):
        d, p = int(row.day) - 1, platforms.index(row.platform)
        grid[d, p] = code[row.format]
        labels[d][p] = (labels[d][p] + "\n" if labels[d][p] else "") + str(row.video)
    fig, ax = plt.subplots(figsize=(1.5 * len(platforms) + 2.5, 0.55 * days + 1.8))
    colours = ["#4C72B0", "#DD8452", "#55A868"]
    ax.imshow(np.ma.masked_invalid(grid), cmap=ListedColormap(colours), vmin=-0.5, vmax=2.5, aspect="auto")
    for d in range(days):
        for p in range(len(platforms)):
            if labels[d][p]:
                ax.text(p, d, labels[d][p], ha="center", va="center", color="white", fontsize=9)
    phase_of = dict(zip(plan["day"], plan["phase"]))
    ax.set_xticks(range(len(platforms)), platforms)
    ax.set_yticks(range(days), [f"day {d + 1} ({phase_of.get(d + 1, '')})" for d in range(days)])
    ax.legend(handles=[Patch(color=c, label=f) for c, f in zip(colours, FORMATS)], loc="upper left",
              bbox_to_anchor=(1.0, 1.0), title="format")
    ax.grid(False)
    title = title or f"Content matrix: {len(plan)} videos by day and lead platform"
    return finish(ax, title, "lead platform", "day after the go (phase)").figure


def plot_performance(perf: pd.DataFrame, title: str | None = None):
    """Orders per view for each format x platform cell: raw rate (hollow) and shrunk rate with its interval
    (filled), the overall rate as a dashed line."""
    import matplotlib.pyplot as plt

    from ..core.plots import finish

    fig, ax = plt.subplots(figsize=(10, 0.38 * max(len(perf), 1) + 1.8))
    if perf.empty or not np.isfinite(perf.attrs.get("overall_order_rate", float("nan"))):
        ax.text(0.5, 0.5, "no posts up to as_of", ha="center", va="center", transform=ax.transAxes)
        return finish(ax, title or "Orders per view by format and platform", "orders per view (%)", "").figure
    y = np.arange(len(perf))
    est = perf["order_rate"].to_numpy(dtype=float) * 100
    low = perf["order_low"].to_numpy(dtype=float) * 100
    high = perf["order_high"].to_numpy(dtype=float) * 100
    raw = perf["order_rate_raw"].to_numpy(dtype=float) * 100
    colour = {f: f"C{i}" for i, f in enumerate(FORMATS)}
    for i, fmt in enumerate(perf["format"]):
        ax.errorbar(est[i], y[i], xerr=[[est[i] - low[i]], [high[i] - est[i]]], fmt="o", color=colour[fmt], capsize=3)
    ax.scatter(raw, y, facecolors="none", edgecolors="0.2", zorder=3, label="raw (this cell only)")
    overall = 100 * perf.attrs["overall_order_rate"]
    ax.axvline(overall, color="0.3", ls="--", lw=1, label=f"overall {overall:.2f}%")
    ax.scatter([], [], color="0.5", label=f"shrunk, {perf.attrs.get('conf', 0.95):.0%} interval")
    names = [f"{f} · {p} ({v:,} views)" for f, p, v in zip(perf["format"], perf["platform"], perf["views"])]
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    title = title or "Orders per view by format and platform: raw vs shrunk toward the overall rate"
    return finish(ax, title, "orders per view (%)", "format · platform").figure
