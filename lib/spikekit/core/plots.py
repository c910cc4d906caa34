"""The house plot style: one seaborn theme, Chinese text that renders, a title and units on every figure.

Keywords, platforms and reviews are often Chinese. Matplotlib's default font (DejaVu Sans) has no CJK glyphs
and draws empty boxes, so the theme puts a CJK-capable font behind it in the fallback chain: a system font
when one is installed (Noto Sans CJK, Source Han Sans, WenQuanYi, SimHei ...), else the Noto Sans CJK SC
shipped by the ``mplfonts`` package, which the project installs. Latin text keeps DejaVu Sans.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Iterable

SYSTEM_CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Noto Sans CJK JP",
)
PALETTE = "deep"


@functools.lru_cache(maxsize=1)
def cjk_font() -> str:
    """Name of a CJK-capable font registered with matplotlib (registering the shipped one if needed)."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    for name in SYSTEM_CJK_FONTS:
        if name in installed:
            return name
    try:
        import mplfonts

        shipped = Path(mplfonts.__file__).parent / "fonts" / "NotoSansCJKsc-Regular.otf"
    except ImportError:
        shipped = None
    if shipped is not None and shipped.exists():
        font_manager.fontManager.addfont(str(shipped))
        return font_manager.FontProperties(fname=str(shipped)).get_name()
    raise RuntimeError(
        "no CJK-capable font found: Chinese text would render as empty boxes. "
        "Fix: pip install mplfonts (a project dependency) or install fonts-noto-cjk"
    )


def use_theme(context: str = "notebook") -> str:
    """Apply the house theme; returns the CJK font in use."""
    import matplotlib as mpl
    import seaborn as sns

    import logging

    font = cjk_font()
    # The shipped CJK font has one weight; bold titles fall back to it, which matplotlib logs per figure.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    sns.set_theme(context=context, style="whitegrid", palette=PALETTE)
    mpl.rcParams.update({
        # An explicit family list, not the generic "sans-serif": matplotlib falls back glyph by glyph only
        # across the fonts named in font.family.
        "font.family": ["DejaVu Sans", font],
        "axes.unicode_minus": False,
        "figure.figsize": (9, 4.2),
        "figure.dpi": 100,
        "savefig.dpi": 110,
        "axes.titleweight": "bold",
        "axes.titlesize": 12,
        "legend.frameon": False,
        "figure.constrained_layout.use": True,
    })
    return font


def finish(ax, title: str, xlabel: str, ylabel: str):
    """Every figure states what it shows and in which units."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def missing_glyphs(fig) -> list[str]:
    """Characters in a figure's text that none of its fonts can draw (empty boxes); [] means all render."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    problems = []
    fig.canvas.draw()
    for text in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_fontproperties")):
        content = text.get_text()
        if not content:
            continue
        paths = font_manager.fontManager._find_fonts_by_props(text.get_fontproperties())
        fonts = [FT2Font(str(p)) for p in paths]
        for ch in set(content):
            if ch.isspace() or ch == "$":
                continue
            if not any(f.get_char_index(ord(ch)) for f in fonts):
                problems.append(ch)
    return sorted(set(problems))


def alert_evidence(levels, alerts, *, as_of=None, max_panels: int = 6, value_label: str = "daily level"):
    """Small multiples: each reviewed series' daily level, the week windows compared, and the alert time.

    ``levels``: long frame with columns series, day_end, level (as from the detector's timeline).
    ``alerts``: frame with columns series, first_alert (may be NaT), growth.
    """
    import matplotlib.pyplot as plt
    import pandas as pd

    series = list(alerts["series"])[:max_panels]
    if not series:
        fig, ax = plt.subplots(figsize=(6, 1.6))
        ax.axis("off")
        ax.text(0.5, 0.5, "no series to review as of this moment", ha="center", va="center")
        return fig
    n = len(series)
    cols = 2 if n > 1 else 1
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(11, 2.6 * rows), squeeze=False, sharex=True)
    for ax, name in zip(axes.flat, series):
        part = levels[levels["series"] == name]
        ax.plot(part["day_end"], part["level"], lw=1.6, color="C0")
        row = alerts[alerts["series"] == name].iloc[0]
        if pd.notna(row.get("first_alert")):
            ax.axvline(row["first_alert"], color="C3", ls="--", lw=1.2, label="first alert")
        if as_of is not None:
            ax.axvline(as_of, color="0.4", lw=1, label="as of")
            ax.axvspan(as_of - pd.Timedelta(days=7), as_of, color="C1", alpha=0.12, label="this week")
            ax.axvspan(as_of - pd.Timedelta(days=14), as_of - pd.Timedelta(days=7), color="0.5", alpha=0.10, label="last week")
        growth = row.get("growth")
        label = f"{name}" + (f"  (+{growth:.0%} w/w)" if pd.notna(growth) else "")
        finish(ax, label, "date", value_label)
        ax.tick_params(axis="x", labelrotation=30)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Evidence for the daily review list", fontweight="bold")
    return fig


def interval_plot(frame, *, label: str, estimate: str, low: str, high: str, title: str, xlabel: str,
                  threshold: float | None = None, threshold_label: str = "threshold"):
    """Point estimates with intervals, one row per item, and the decision threshold as a line."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.55 * len(frame) + 1.4))
    y = range(len(frame))
    ax.errorbar(frame[estimate], list(y), xerr=[frame[estimate] - frame[low], frame[high] - frame[estimate]],
                fmt="o", color="C0", capsize=4)
    ax.set_yticks(list(y), [str(v) for v in frame[label]])
    if threshold is not None:
        ax.axvline(threshold, color="C3", ls="--", label=f"{threshold_label} = {threshold:g}")
        ax.legend(loc="lower right")
    ax.invert_yaxis()
    return finish(ax, title, xlabel, "").figure


def series_lines(frame, *, x: str, y: str, hue: str, title: str, xlabel: str, ylabel: str,
                 marks: Iterable[tuple] = ()):
    """Several series on one axis; ``marks`` are (time, label) vertical lines."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots()
    sns.lineplot(data=frame, x=x, y=y, hue=hue, ax=ax, lw=1.4)
    for i, (when, text) in enumerate(marks):
        ax.axvline(when, color=f"C{3 + i}", ls="--", lw=1, label=text)
    ax.legend(loc="upper left", fontsize=8, ncols=2)
    ax.tick_params(axis="x", labelrotation=30)
    return finish(ax, title, xlabel, ylabel).figure


def _series_label(frame):
    return frame["keyword"].astype(str) + " @ " + frame["platform"].astype(str)


def growth_evidence(detections, *, min_score: float):
    """Every series: growth now against its evidence score, with the band and the evidence bar drawn.

    Alerts sit top-right (fast growth that the series' own noise cannot explain)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    frame = detections.dropna(subset=["growth", "score"]).copy()
    fig, ax = plt.subplots(figsize=(9, 4.6))
    if frame.empty:
        ax.text(0.5, 0.5, "no series with two full weeks of data", ha="center", va="center", transform=ax.transAxes)
        return finish(ax, "Growth and evidence per series", "growth week over week (%)", "evidence score (z)").figure
    frame["growth_pct"] = frame["growth"] * 100
    order = [s for s in ("strong", "alert", "watch", "quiet") if s in set(frame["status"])]
    palette = {"strong": "C3", "alert": "C1", "watch": "C0", "quiet": "0.6"}
    sns.scatterplot(data=frame, x="growth_pct", y="score", hue="status", hue_order=order, palette=palette,
                    style="kind", ax=ax, s=60)
    band = frame["band_low"].median() * 100
    ax.axvline(band, color="C3", ls="--", lw=1, label=f"band low {band:.0f}%")
    ax.axhline(min_score, color="0.3", ls=":", lw=1, label=f"evidence bar z = {min_score:g}")
    top = frame.sort_values("score", ascending=False).head(6)
    for _, row in top.iterrows():
        ax.annotate(f"{row['keyword']} @ {row['platform']}", (row["growth_pct"], row["score"]), fontsize=8,
                    xytext=(4, 4), textcoords="offset points")
    from matplotlib.ticker import FuncFormatter

    ax.set_xscale("symlog", linthresh=100)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+.0f}%"))
    ax.legend(loc="upper left", fontsize=8, ncols=2)
    return finish(ax, "Growth and evidence per series, as of the run", "growth week over week (%, symlog)",
                  "evidence score (z)").figure


def review_evidence(timeline, review, *, as_of, max_panels: int = 6):
    """Small multiples for the review list: each series' weekly level over time, and its first alert."""
    import matplotlib.pyplot as plt
    import pandas as pd

    if len(review) == 0:
        fig, ax = plt.subplots(figsize=(7, 1.6))
        ax.axis("off")
        ax.set_title("Daily review list: nothing to review as of this moment")
        return fig
    rows = review.head(max_panels)
    n = len(rows)
    cols = 2 if n > 1 else 1
    nrows = (n + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(11, 2.8 * nrows), squeeze=False)
    keys = ["keyword", "platform", "metric", "kind"]
    for ax, (_, row) in zip(axes.flat, rows.iterrows()):
        mask = pd.Series(True, index=timeline.index)
        for k in keys:
            mask &= timeline[k].astype(str) == str(row[k])
        part = timeline[mask].sort_values("eval_end")
        ax.plot(part["eval_end"], part["this_week"], color="C0", lw=1.6, label="this week's level")
        ax.plot(part["eval_end"], part["last_week"], color="0.55", lw=1, ls="-", label="last week's level")
        if pd.notna(row.get("first_alert")):
            ax.axvline(row["first_alert"], color="C3", ls="--", lw=1.2, label="first alert")
        ax.axvline(as_of, color="0.3", lw=1, label="as of")
        growth = row.get("growth")
        title = f"#{row.get('rank', '')} {row['keyword']} @ {row['platform']}"
        if pd.notna(growth):
            title += f"  {growth:+.0%} w/w"
        finish(ax, title, "date", f"{row['metric']} per day")
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(loc="upper left", fontsize=7)
    fig.suptitle("Evidence for the daily review list (trimmed weekly level per day)", fontweight="bold")
    return fig


def lift_evidence(lifts):
    """The validation lifts with their intervals against each bar (log scale: lifts are ratios)."""
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import FuncFormatter

    fig, axes = plt.subplots(1, len(lifts), figsize=(5.2 * len(lifts), 2.4), squeeze=False)
    for ax, (_, row) in zip(axes.flat, lifts.iterrows()):
        if not np.isfinite(row["lift"]):  # before any test data (e.g. a replay step before the window opens)
            ax.text(0.5, 0.5, "no test data yet", ha="center", va="center", transform=ax.transAxes)
            ax.set_yticks([])
            finish(ax, row["measure"], "lift (x usual)", "")
            continue
        low = row["low"] if np.isfinite(row["low"]) else row["lift"]
        high = row["high"] if np.isfinite(row["high"]) else row["lift"]
        # A point estimate can sit outside a posterior interval (e.g. 0 answers yet): clip, never a negative bar.
        ax.errorbar([row["lift"]], [0], xerr=[[max(row["lift"] - low, 0)], [max(high - row["lift"], 0)]], fmt="o", color="C0",
                    capsize=6, label="lift and interval")
        ax.axvline(row["bar"], color="C3", ls="--", label=f"bar {row['bar']:g}x")
        ax.axvline(1, color="0.6", lw=1, label="no change (1x)")
        ax.set_xscale("log")
        times = FuncFormatter(lambda v, _: f"{v:g}x")
        ax.xaxis.set_major_formatter(times)
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}x" if str(f"{v:g}")[0] in "25" else ""))
        ax.set_yticks([])
        lo = min(0.8, low * 0.8)
        ax.set_xlim(lo if lo > 0 else 0.1, max(high, row["bar"], row["lift"]) * 1.3)
        ax.legend(loc="upper left", fontsize=7)
        finish(ax, row["measure"], "lift (x usual, log scale)", "")
    return fig


def design_evidence(ranking):
    """Design vote shares with intervals, and each design's probability of being the best."""
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 0.5 * max(len(ranking), 2) + 1.8))
    if len(ranking) == 0:
        for ax in (ax1, ax2):
            ax.axis("off")
        fig.suptitle("No design votes in the window")
        return fig
    y = list(range(len(ranking)))
    ax1.errorbar(ranking["share"] * 100, y, xerr=[((ranking["share"] - ranking["share_low"]) * 100).clip(lower=0),
                                                  ((ranking["share_high"] - ranking["share"]) * 100).clip(lower=0)],
                 fmt="o", capsize=4, color="C0")
    ax1.set_yticks(y, list(ranking["design"]))
    ax1.invert_yaxis()
    finish(ax1, "Share of votes", "share of votes (%)", "design")
    ax2.barh(y, ranking["p_best"] * 100, color="C2")
    ax2.set_yticks(y, list(ranking["design"]))
    ax2.invert_yaxis()
    ax2.set_xlim(0, 100)
    finish(ax2, "Probability of being the best design", "P(best) (%)", "")
    return fig
