"""Replay: what the playbook would have said, step by step, over a past spike.

``replay`` runs the playbook as of each step (every chapter still in its own fresh kernel, one ordinary run
record per step) on one pool of workers kept warm for the whole replay, then writes a timeline: per step the
decisions each chapter recorded. The replay folder is built aside and appears complete in one rename:

    records/<spike>/replays/<replay-id>/
        replay.json     # spike, steps, chapters, the run id and status of every step
        timeline.csv    # one row per step: every scalar result each chapter recorded (decision, dates ...)
        timeline.png    # the decisions against the demand curve
        index.html      # the same, self-contained, with links to each step's chapter notebooks
"""
from __future__ import annotations

import base64
import datetime as dt
import io
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..core.errors import ConfigError
from ..core.paths import check_name, check_records_root, data_root, project_root, records_root, remove_tree
from ..core.record import _TYPE, parse_as_of
from .runner import PARTIAL, WorkerPool, _seal, _write_json, new_run_id, run, runner_identity
from .seal import lock
from ..inputs.settings import load_playbook, load_spike

REPLAY_FORMAT = "spikekit.engine.replay/1"
# The result that marks a chapter's call, and the values that count as "acting" on the timeline figure.
ACTIONS = {"01": {"alert"}, "02": {"go"}, "03": {"order"}, "06": {"brake", "exit"}}


@dataclass
class ReplayOutcome:
    folder: Path
    manifest: dict
    timeline: Any  # pandas.DataFrame


def _interval(every: str):
    """A positive duration from the usual 1d / 12h / 30min spellings (pandas now wants upper-case D)."""
    import re

    import pandas as pd

    spelled = re.sub(r"(?<=\d)d$", "D", str(every).strip())
    try:
        step = pd.Timedelta(spelled)
    except ValueError:
        raise ConfigError(f"--every {every!r} is not a duration. Fix: use e.g. 1d, 12h, 2d") from None
    if step <= pd.Timedelta(0):
        raise ConfigError("--every must be a positive duration")
    return step


def steps_between(start: Any, end: Any, every: str, timezone: str) -> list:
    import pandas as pd

    first, last = parse_as_of(start, timezone), parse_as_of(end, timezone)
    step = _interval(every)
    if last < first:
        raise ConfigError(f"--to {end} is before --from {start}")
    steps = list(pd.date_range(first, last, freq=step))
    if len(steps) > 400:
        raise ConfigError(f"{len(steps)} steps is more than a replay should take; use a larger --every")
    return steps


def _scalar(value: Any) -> Any:
    if isinstance(value, dict) and value.get(_TYPE) in {"timestamp", "date"}:
        return value["value"]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return ...  # tables and nested values stay in the step's record


def timeline_row(manifest: dict) -> dict:
    row = {"as_of": manifest["as_of"], "run_id": manifest["run_id"], "status": manifest["status"]}
    for cid, chapter in manifest["chapters"].items():
        row[f"{cid}.status"] = chapter["status"]
        for name, value in (chapter.get("results") or {}).items():
            plain = _scalar(value)
            if plain is not ... and name != "headline":
                row[f"{cid}.{name}"] = plain
    return row


def first_action(timeline, chapter: str):
    """The first step at which a chapter made its acting call (alert, go, order, brake/exit), or None."""
    column = f"{chapter}.decision" if f"{chapter}.decision" in timeline else f"{chapter}.exit_decision"
    if column not in timeline:
        return None
    hits = timeline[timeline[column].isin(ACTIONS.get(chapter, set()))]
    return None if hits.empty else hits["as_of"].iloc[0]


def _demand_curve(spike) -> tuple[Any, str] | tuple[None, None]:
    """The true demand of a sample scenario, else the observed sales, for the timeline figure."""
    import pandas as pd

    if "signals" in spike.data:
        truth = data_root() / Path(spike.data["signals"]).parent / "demand.csv"
        if truth.exists():
            frame = pd.read_csv(truth)
            return pd.Series(frame["units"].to_numpy(), index=pd.to_datetime(frame["date"]).dt.tz_localize(spike.timezone)), \
                "true demand (sample truth), units/day"
    if "sales" in spike.data:
        from ..inputs.contracts import load_table, CONTRACTS

        if "sales" in CONTRACTS:
            sales = load_table(spike.data["sales"], CONTRACTS["sales"], tz=spike.timezone)
            return sales.set_index("timestamp")["orders"], "sales, units/day"
    return None, None


DECISION_COLUMNS = ("decision", "verdict", "exit_decision")  # a chapter's call, by the name it recorded it under


def decision_column(timeline, chapter: str) -> str | None:
    """The timeline column holding a chapter's call (``decision`` first), or None when it recorded none."""
    return next((f"{chapter}.{name}" for name in DECISION_COLUMNS if f"{chapter}.{name}" in timeline), None)


def chapters_that_ran(timeline, order: list[str]) -> list[str]:
    """Chapters with a status at some step: each gets a row on the figure, with or without a recorded call."""
    return [cid for cid in order if f"{cid}.status" in timeline]


def _row_label(cid: str, names: dict[str, str] | None, width: int = 14) -> str:
    import textwrap

    name = (names or {}).get(cid, "").replace("_", " ").strip()
    if not name:
        return f"chapter {cid}"
    short = textwrap.shorten(name, width=2 * width, placeholder="…")
    return f"{cid} " + "\n".join(textwrap.wrap(short, width=width))


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and value != value) or str(value) == ""


def timeline_figure(timeline, spike, chapters: list[str], names: dict[str, str] | None = None):
    """The demand curve with each chapter's first acting call, over a strip with one row per chapter that ran.

    Legible at any number of steps: every step is a dot coloured by the call, the call is written only where
    it changes, and a label that would overprint an earlier one in its row is left out (the dot's colour still
    tells); the date axis picks a few ticks whatever the span."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    import pandas as pd

    from ..core.plots import finish, use_theme

    use_theme()
    curve, label = _demand_curve(spike)
    rows = max(1, len(chapters))
    fig, (ax, strip) = plt.subplots(2, 1, figsize=(11, 4.2 + 0.42 * rows), sharex=True,
                                    gridspec_kw={"height_ratios": [3, max(1.4, 0.42 * rows)]})
    steps = pd.to_datetime(timeline["as_of"], format="ISO8601")
    if curve is not None:
        lo, hi = steps.min() - pd.Timedelta(days=14), steps.max() + pd.Timedelta(days=10)
        part = curve[(curve.index >= lo) & (curve.index <= hi)]
        ax.plot(part.index, part.to_numpy(), color="C0", lw=1.8, label=label)
    for i, cid in enumerate(chapters):
        when = first_action(timeline, cid)
        if when is not None:
            ax.axvline(pd.Timestamp(when), color=f"C{i + 1}", ls="--", lw=1.2,
                       label=f"{cid}: first {'/'.join(sorted(ACTIONS.get(cid, {'call'})))}")
    if curve is None:
        ax.text(0.5, 0.5, "no demand or sales table for this spike", transform=ax.transAxes, ha="center",
                color="0.5")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", fontsize=8)
    finish(ax, f"Replay of '{spike.name}': what the playbook said at each step", "", label or "units/day")
    colors = {"alert": "C3", "go": "C2", "order": "C2", "brake": "C1", "exit": "C3", "no-go": "0.3", "hold": "0.6",
              "extend": "C1", "no-alert": "0.75"}
    calls = {}
    for row_i, cid in enumerate(chapters):
        column = decision_column(timeline, cid)
        calls[cid] = timeline[column].tolist() if column else [None] * len(timeline)
        strip.scatter(list(steps), [row_i] * len(steps), s=max(6, min(60, 3000 / max(1, len(steps)))), zorder=3,
                      color=[colors.get(str(v), "0.85") for v in calls[cid]])
    strip.set_yticks(range(len(chapters)), [_row_label(c, names) for c in chapters], fontsize=8)
    strip.set_ylim(-0.6, rows - 0.15)
    strip.invert_yaxis()  # chapter 01 on top, in playbook order
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8, tz=steps.dt.tz)
    strip.xaxis.set_major_locator(locator)
    strip.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=steps.dt.tz))
    finish(strip, "Decision recorded by each chapter at each step (written where it changes)",
           "as of (spike time zone)", "")
    # Lay the figure out once and freeze it: the labels' overlap test below needs the final axes size.
    fig.canvas.draw()
    fig.set_layout_engine("none")
    renderer = fig.canvas.get_renderer()
    left_edge, right_edge = strip.get_window_extent(renderer).x0, strip.get_window_extent(renderer).x1
    gap = 10  # pixels between two labels of a row
    lanes = ((6, "bottom"), (-6, "top"))  # a label above the dots, else below them
    for row_i, cid in enumerate(chapters):
        previous, last_boxes = None, [None] * len(lanes)
        for when, value in zip(steps, calls[cid]):
            if _is_missing(value) or value == previous:
                continue
            previous = value
            # Above, else below; starting at the dot, else (near the right edge) ending at it.
            for lane, (offset, va), ha in ((lane, spec, ha) for lane, spec in enumerate(lanes) for ha in ("left", "right")):
                text = strip.annotate(str(value), (when, row_i), xytext=(0, offset), textcoords="offset points",
                                      ha=ha, va=va, fontsize=7, annotation_clip=True)
                box = text.get_window_extent(renderer)
                last = last_boxes[lane]
                if (last is None or box.x0 >= last.x1 + gap) and left_edge <= box.x0 and box.x1 <= right_edge:
                    last_boxes[lane] = box
                    break
                text.remove()  # would overprint the lane's previous label or leave the axes
            # in neither lane: left out; the dot's colour still says it
    return fig


def _html(manifest: dict, timeline, png: bytes, spike_name: str) -> str:
    import html as h

    cols = [c for c in timeline.columns if c.endswith(".decision") or c.endswith("_decision") or c in {"as_of", "status"}]
    head = "".join(f"<th>{h.escape(c)}</th>" for c in cols) + "<th>chapters</th>"
    body = []
    for _, row in timeline.iterrows():
        links = " ".join(
            f'<a href="../../{h.escape(row["run_id"])}/{h.escape(nb)}">{h.escape(cid)}</a>'
            for cid, nb in manifest["notebooks"].items()
        )
        body.append("<tr>" + "".join(f"<td>{h.escape(str(row.get(c, '')))}</td>" for c in cols) + f"<td>{links}</td></tr>")
    img = base64.b64encode(png).decode("ascii")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Replay {h.escape(manifest['replay_id'])} of {h.escape(spike_name)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;font-size:13px}}th{{background:#f3f3f3}}</style></head><body>
<h1>Replay of {h.escape(spike_name)}</h1>
<p>From {h.escape(manifest['from'])} to {h.escape(manifest['to'])} every {h.escape(manifest['every'])};
chapters {h.escape(', '.join(manifest['chapters']))}; {len(timeline)} steps; replay id {h.escape(manifest['replay_id'])}.</p>
<img alt="timeline" style="max-width:100%" src="data:image/png;base64,{img}">
<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></body></html>"""


def replay(
    spike_name: str,
    start: Any,
    end: Any,
    *,
    every: str = "1d",
    chapters: list[str] | None = None,
    records: Path | str | None = None,
    workers: int | None = None,
    progress: TextIO | None = sys.stderr,
    prewarm: bool = True,
) -> ReplayOutcome:
    import pandas as pd

    spike = load_spike(check_name(spike_name))
    book = load_playbook()
    order = book.order(chapters)
    steps = steps_between(start, end, every, spike.timezone)
    records_dir = check_records_root(Path(records) if records else records_root())
    os.environ["SPIKE_RECORDS"] = str(records_dir)
    replay_id = new_run_id()
    staging = records_dir / PARTIAL / spike.name / f"replay-{replay_id}"
    staging.mkdir(parents=True)
    manifest: dict[str, Any] = {
        "format": REPLAY_FORMAT, "replay_id": replay_id, "spike": spike.name,
        "from": steps[0].isoformat(), "to": steps[-1].isoformat(), "every": every, "chapters": order,
        "notebooks": {cid: book.chapters[cid].notebook.with_suffix(".html").name for cid in order},
        "started": dt.datetime.now(dt.timezone.utc).isoformat(), "steps": [],
        "runner": runner_identity(),  # `spike prune --partials` removes a replay whose runner died
    }
    _write_json(staging / "replay.json", manifest)
    t0 = time.time()
    rows = []
    cwd = str(project_root() / "notebooks")
    with WorkerPool(book.kernel, cwd, prewarm, workers or book.workers) as pool:
        for i, step in enumerate(steps):
            if progress is not None:
                print(f"[replay {i + 1}/{len(steps)}] as of {step:%Y-%m-%d %H:%M}", file=progress, flush=True)
            try:
                outcome = run(spike.name, step.isoformat(), chapters=order, records=records_dir, workers=workers,
                              progress=progress, prewarm=prewarm, pool=pool, more_after=i < len(steps) - 1,
                              tags={"replay": replay_id, "step": i})
            except BaseException:
                if not manifest["steps"]:  # refused before any step ran: leave nothing behind
                    remove_tree(staging)
                    for folder in (staging.parent, staging.parent.parent):
                        try:
                            folder.rmdir()
                        except OSError:
                            pass
                raise
            manifest["steps"].append({"as_of": step.isoformat(), "run_id": outcome.manifest["run_id"],
                                      "status": outcome.manifest["status"]})
            rows.append(timeline_row(outcome.manifest))
            _write_json(staging / "replay.json", manifest)
    timeline = pd.DataFrame(rows)
    manifest["finished"] = dt.datetime.now(dt.timezone.utc).isoformat()
    manifest["duration_s"] = round(time.time() - t0, 3)
    manifest["first_actions"] = {cid: first_action(timeline, cid) for cid in order if cid in ACTIONS}
    timeline.to_csv(staging / "timeline.csv", index=False)
    fig = timeline_figure(timeline, spike, chapters_that_ran(timeline, order),
                          names={cid: book.chapters[cid].name for cid in order})
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    png = buf.getvalue()
    (staging / "timeline.png").write_bytes(png)
    (staging / "index.html").write_text(_html(manifest, timeline, png, spike.name), encoding="utf-8")
    _write_json(staging / "replay.json", manifest)
    return ReplayOutcome(publish(staging, records_dir, spike.name, replay_id), manifest, timeline)


def publish(staging: Path, records_dir: Path, spike: str, replay_id: str) -> Path:
    """Seal a finished replay folder and move it among the spike's replays in one rename, then lock it."""
    final = records_dir / spike / "replays" / replay_id
    final.parent.mkdir(parents=True, exist_ok=True)
    _seal(staging)
    os.rename(staging, final)
    lock(final)
    return final


def watch(
    spike_name: str,
    *,
    every: str = "1h",
    chapters: list[str] | None = None,
    times: int | None = None,
    as_of: Any = None,
    records: Path | str | None = None,
    workers: int | None = None,
    progress: TextIO | None = sys.stderr,
    sleep=time.sleep,
) -> list[Path]:
    """Rerun chapters on a schedule (the hourly data room) on one warm worker pool; returns the run folders.

    Each run is an ordinary, complete record with every chapter in a fresh kernel; only the workers and the
    next kernel stay warm between runs, so a rerun of chapter 07 costs its own cells, not Python and kernel
    start-up. ``as_of`` None: each run is as of now in the spike's zone. ``as_of`` given: a simulated clock
    starting there and advancing by ``every`` per run without waiting (demos, tests, back-fills).
    """
    spike = load_spike(check_name(spike_name))
    book = load_playbook()
    order = book.order(chapters)
    import pandas as pd

    interval = _interval(every)
    clock = parse_as_of(as_of, spike.timezone) if as_of is not None else None
    folders: list[Path] = []
    started = time.monotonic()
    cwd = str(project_root() / "notebooks")
    with WorkerPool(book.kernel, cwd, True, workers or book.workers) as pool:
        k = 0
        while times is None or k < times:
            moment = clock + k * interval if clock is not None else pd.Timestamp.now(tz=spike.timezone)
            outcome = run(spike.name, moment.isoformat(), chapters=order, records=records, progress=progress,
                          pool=pool, more_after=times is None or k < times - 1, tags={"watch": True, "step": k})
            folders.append(outcome.run_dir)
            if progress is not None:
                print(f"[watch] run {k + 1} as of {moment:%Y-%m-%d %H:%M}: {outcome.manifest['status']} -> "
                      f"{outcome.run_dir}", file=progress, flush=True)
            k += 1
            if clock is None and (times is None or k < times):
                sleep(max(0.0, started + k * interval.total_seconds() - time.monotonic()))
    return folders
