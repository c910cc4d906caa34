"""``spike site``: a static, self-contained HTML site of the records, readable from a file:// path.

Pages: an index of spikes; per spike its runs, the decision timeline across runs and replays
(``team.decision_log`` reduced to its changes: each chapter's first call, then a row only when it changed), a page
per replay (its figure, each step's run, decisions and brief) and a diff per pair of consecutive runs (decisions
that flipped first, then parameters and inputs); per run its chapters (status, duration, headline, decision, a
copy of the chapter's HTML notebook), chapter 10's ``brief.md`` rendered as a page, inputs with sha256 and the
parameters each chapter ran with. Links are relative, CSS is inline, there is no script and no external asset, and all text is escaped.

Chapter notebooks are *copied* from the run folders, not linked: the site can then be moved, zipped or served
on its own, and nothing in it points back into the records (which stay read-only and untouched). The cost is
disk space, about one HTML notebook per chapter per run.

The site is built in a temporary folder beside ``out`` and swapped into place in one step (an atomic exchange
of the two folders on Linux, two renames elsewhere), so a reader never sees half a site.

The site deletes only what it wrote. Its default folder is ``<records>/.site``: a spike name never starts with
a dot, so no spike's runs can ever live there (``site`` is a legal spike name). The marker file ``.spike-site``
lists every file a build wrote; a rebuild refuses, rather than deletes, a folder holding anything else, and an
``--out`` that is a spike's folder, inside a run or replay, or that holds the records root or any record.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import datetime as dt
import html
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import quote

from ..core.errors import ConfigError
from ..core.paths import records_root, resolve_under

SITE_MARKER = ".spike-site"
SITE_FORMAT = "spikekit.views.site/1"
SITE_DIR = ".site"  # default folder under the records root: never a spike name (those start with [a-z0-9])
FOLDER_MODE, FILE_MODE = 0o755, 0o644  # a site is for reading and serving: not private like a temp folder
IGNORED_PARAMETERS = {"upstream_run"}  # differs by construction between any two runs
BRIEF_FILE, BRIEF_PAGE = "brief.md", "brief.html"  # chapter 10 writes brief.md into its run folder
_SAFE = re.compile(r"[^A-Za-z0-9._-]")

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;
color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}nav{font-size:.9em;margin-bottom:1em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;
vertical-align:top;text-align:left}th{background:#f3f3f3}
.ok,.reused{color:#176b2c}.failed,.interrupted{color:#b00020;font-weight:bold}.skipped,.pending{color:#8a6d00}
.changed{background:#fff3c4}.muted{color:#777}code{font-size:12px}img{max-width:100%}
"""


@dataclass
class Run:
    spike: str
    run_id: str
    folder: Path
    manifest: dict

    @property
    def slug(self) -> str:
        return _slug(self.run_id)


@dataclass
class SiteOutcome:
    folder: Path
    pages: list[str] = field(default_factory=list)  # relative paths of the HTML pages written
    diff_page: Path | None = None  # the page asked for with ``diff=(A, B)``

    @property
    def index(self) -> Path:
        return self.folder / "index.html"


# ----------------------------------------------------------------------------------------------------------
# Reading the records (read-only)
# ----------------------------------------------------------------------------------------------------------
def _slug(name: str) -> str:
    """A file-name-safe form of a spike or run id (ids are already safe; this guards hand-made folders)."""
    return _SAFE.sub("_", str(name)) or "_"


def _warn(message: str) -> None:
    print(f"spike: warning: {message}", file=sys.stderr)


def read_runs(records: Path, warn=_warn) -> dict[str, list[Run]]:
    """Finished runs per spike (``<records>/<spike>/<run-id>/run.json``), ordered by as_of then start.
    The partial area is left out; a manifest that cannot be read is skipped with a ``warn`` line naming it."""
    from ..core.record import read_manifest

    spikes: dict[str, list[Run]] = {}
    for manifest_path in sorted(records.glob("*/*/run.json")):
        spike_dir = manifest_path.parent.parent
        if spike_dir.name.startswith("."):
            continue
        try:
            manifest = read_manifest(manifest_path)
        except ConfigError as exc:
            if warn is not None:
                warn(f"skipped: {exc}")
            continue
        spike = spike_dir.name
        spikes.setdefault(spike, []).append(
            Run(spike, str(manifest.get("run_id") or manifest_path.parent.name), manifest_path.parent, manifest))
    for runs in spikes.values():
        runs.sort(key=lambda r: (_as_of_key(r.manifest.get("as_of")), str(r.manifest.get("started") or ""), r.run_id))
    return dict(sorted(spikes.items()))


def read_replays(records: Path, spike: str) -> list[tuple[Path, dict]]:
    out = []
    for path in sorted((records / spike / "replays").glob("*/replay.json")):
        try:
            out.append((path.parent, json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            continue
    return out


def _as_of_key(value: Any) -> str:
    """as_of values carry their offset; compare them in UTC so runs recorded in different zones still sort."""
    try:
        stamp = dt.datetime.fromisoformat(str(value))
        if stamp.tzinfo is not None:
            stamp = stamp.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return stamp.isoformat()
    except ValueError:
        return str(value)


def chapter_decision(entry: dict) -> Any:
    from ..core.decisions import chapter_decision as pick, _plain

    return pick({k: _plain(v) for k, v in (entry.get("results") or {}).items()})


def _spike_timezone(runs: list[Run]) -> str:
    for run in runs:
        for entry in run.manifest["chapters"].values():
            zone = (entry.get("parameters") or {}).get("timezone")
            if isinstance(zone, str) and zone:
                return zone
    return "Asia/Shanghai"


def decision_timeline(records: Path, spike: str, runs: list[Run]):
    """team.decision_log for the spike, with each run's replay tag."""
    from ..core.decisions import decision_log

    log = decision_log(records, spike, timezone=_spike_timezone(runs))
    tags = {r.run_id: r.manifest.get("tags") or {} for r in runs}
    log["replay"] = [_replay_tag(tags.get(run_id, {})) for run_id in log["run_id"]]
    return log


def decision_changes(timeline):
    """The decision timeline reduced to its changes: per chapter, the first decision it recorded and then a row
    only where the decision differs from the chapter's previous one. Evaluations that recorded no decision
    (a failed or skipped chapter) neither make a row nor break a run of equal decisions. Columns: chapter,
    title, as_of (when the decision was first seen), run_id, replay, decision, previous ("" for the first),
    headline (of that first evaluation), held (evaluations in a row with this decision). Rows are ordered by
    chapter, then time."""
    import pandas as pd

    columns = ["chapter", "title", "as_of", "run_id", "replay", "decision", "previous", "headline", "held"]
    rows: list[dict] = []
    last: dict[str, dict] = {}
    for item in timeline.to_dict("records"):
        decision = item.get("decision")
        if decision is None or (isinstance(decision, float) and decision != decision) or str(decision) == "":
            continue
        decision = str(decision)
        current = last.get(item["chapter"])
        if current is not None and current["decision"] == decision:
            current["held"] += 1
            continue
        headline = item.get("headline")
        row = {"chapter": item["chapter"], "title": item.get("title") or "", "as_of": item["as_of"],
               "run_id": item["run_id"], "replay": item.get("replay") or "", "decision": decision,
               "previous": current["decision"] if current else "",
               "headline": "" if headline is None or (isinstance(headline, float) and headline != headline)
               else str(headline), "held": 1}
        rows.append(row)
        last[item["chapter"]] = row
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["chapter", "as_of", "run_id"], kind="stable").reset_index(drop=True) if rows else frame


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M %Z") if hasattr(value, "strftime") else _text(value)


def _replay_tag(tags: dict) -> str:
    if not tags.get("replay"):
        return ""
    return f"replay {tags['replay']} step {tags.get('step', '?')}"


# ----------------------------------------------------------------------------------------------------------
# Comparing two runs
# ----------------------------------------------------------------------------------------------------------
def diff_runs(a: dict, b: dict) -> dict:
    """What differs between two run manifests: per chapter the status, decision and headline; the chapter
    parameters that differ (upstream_run left out, it always differs); inputs whose sha256 differs."""
    chapters = []
    for cid in sorted(set(a["chapters"]) | set(b["chapters"])):
        ea, eb = a["chapters"].get(cid), b["chapters"].get(cid)
        row = {"chapter": cid, "title": (ea or eb or {}).get("title", "")}
        for side, entry in (("a", ea), ("b", eb)):
            row[f"status_{side}"] = entry.get("status") if entry else "(not run)"
            row[f"decision_{side}"] = None if entry is None else chapter_decision(entry)
            row[f"headline_{side}"] = None if entry is None else (entry.get("results") or {}).get("headline")
        row["decision_changed"] = _text(row["decision_a"]) != _text(row["decision_b"])
        row["status_changed"] = row["status_a"] != row["status_b"]
        chapters.append(row)
    parameters = []
    for cid in sorted(set(a["chapters"]) & set(b["chapters"])):
        pa = a["chapters"][cid].get("parameters") or {}
        pb = b["chapters"][cid].get("parameters") or {}
        for name in sorted((set(pa) | set(pb)) - IGNORED_PARAMETERS):
            if pa.get(name, ...) != pb.get(name, ...):
                parameters.append({"chapter": cid, "name": name, "a": pa.get(name, "(unset)"), "b": pb.get(name, "(unset)")})
    inputs = []
    ia, ib = a.get("inputs") or {}, b.get("inputs") or {}
    for key in sorted(set(ia) | set(ib)):
        sa, sb = (ia.get(key) or {}).get("sha256"), (ib.get(key) or {}).get("sha256")
        if sa != sb:
            inputs.append({"input": key, "a": sa, "b": sb})
    return {"chapters": chapters, "parameters": parameters, "inputs": inputs,
            "as_of": (a.get("as_of"), b.get("as_of"))}


# ----------------------------------------------------------------------------------------------------------
# HTML
# ----------------------------------------------------------------------------------------------------------
def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and value.get("__spikekit_type__") in {"timestamp", "date"}:
        return str(value.get("value"))
    if isinstance(value, dict) and value.get("__spikekit_type__") == "dataframe":
        return f"(table, {len(value.get('records') or [])} rows)"
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def e(value: Any) -> str:
    return html.escape(_text(value), quote=True)


def href(*parts: str) -> str:
    return html.escape("/".join(quote(p, safe="._-") for p in parts), quote=True)


def _status(value: Any) -> str:
    text = _text(value)
    return f'<span class="{html.escape(_slug(text))}">{e(text)}</span>'


def _duration(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f} s"


def page(title: str, body: str, crumbs: Iterable[tuple[str, str | None]] = ()) -> str:
    nav = " / ".join(f'<a href="{link}">{e(label)}</a>' if link else e(label) for label, link in crumbs)
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{e(title)}</title><style>{CSS}</style></head><body>"
            f"<nav>{nav}</nav><h1>{e(title)}</h1>\n{body}\n"
            f'<p class="muted">Built by spike site from the run records; the records themselves are unchanged.</p>'
            f"</body></html>\n")


def table(headers: list[str], rows: list[list[str]], row_classes: list[str] | None = None) -> str:
    """Cells are already-escaped HTML; headers are escaped here."""
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _index_page(spikes: dict[str, list[Run]], replay_counts: dict[str, int]) -> str:
    rows = []
    for spike, runs in spikes.items():
        last = runs[-1].manifest
        rows.append([f'<a href="{href("spikes", _slug(spike), "index.html")}">{e(spike)}</a>', e(len(runs)),
                     e(replay_counts.get(spike, 0)), e(last.get("as_of")), _status(last.get("status")),
                     e(last.get("started"))])
    body = (table(["spike", "runs", "replays", "latest as of", "latest status", "latest started"], rows)
            if rows else "<p>No finished runs in these records yet.</p>")
    return page("Spike records", body)


def _spike_page(spike: str, runs: list[Run], timeline, replays: list[tuple[Path, dict]],
                diffs: list[tuple[Run, Run, str]], briefs: set[str] = frozenset()) -> str:
    by_id = {r.run_id: r for r in runs}
    run_rows = []
    for r in runs:
        m = r.manifest
        resumed = m.get("resumed_from")
        resumed_html = (f'<a href="{href("runs", _slug(resumed), "index.html")}">{e(resumed)}</a>'
                        if resumed in by_id else e(resumed))
        run_rows.append([f'<a href="{href("runs", r.slug, "index.html")}">{e(r.run_id)}</a>', _status(m.get("status")),
                         e(m.get("as_of")), e(_duration(m.get("duration_s"))), e(m.get("started")), resumed_html,
                         e(_replay_tag(m.get("tags") or {})),
                         f'<a href="{href("runs", r.slug, BRIEF_PAGE)}">brief</a>' if r.run_id in briefs else ""])
    parts = ["<h2>Runs</h2>",
             table(["run", "status", "as of", "duration", "started", "resumed from", "replay", "brief"], run_rows)]

    parts.append("<h2>Decision timeline</h2>")
    parts.append('<p class="muted">Each chapter\'s call, across runs and replays: its first decision, then a row only '
                 "when the decision changed (held = evaluations in a row with that decision).</p>")
    changes = decision_changes(timeline)
    rows, classes = [], []
    for item in changes.to_dict("records"):
        run_link = (f'<a href="{href("runs", _slug(item["run_id"]), "index.html")}">{e(item["run_id"])}</a>'
                    if item["run_id"] in by_id else e(item["run_id"]))
        rows.append([e(f'{item["chapter"]} {item["title"]}'.strip()), e(_when(item["as_of"])),
                     e(item["previous"] or "–"), f'<b>{e(item["decision"])}</b>', e(item["held"]), run_link,
                     e(item["replay"]), e(item["headline"])])
        classes.append("changed" if item["previous"] else "")
    parts.append(table(["chapter", "since", "was", "decision", "held", "run", "replay", "headline"], rows, classes)
                 if rows else "<p>No chapter has recorded a decision yet.</p>")

    if replays:
        parts.append("<h2>Replays</h2>")
        rep_rows = []
        for folder, rm in replays:
            rid = _slug(rm.get("replay_id", folder.name))
            firsts = ", ".join(f"{c}: {w or '-'}" for c, w in (rm.get("first_actions") or {}).items())
            link = f'<a href="{href("replays", rid, "index.html")}">{e(rm.get("replay_id", folder.name))}</a>'
            img = (f'<a href="{href("replays", rid, "timeline.png")}"><img alt="replay timeline" width="360" '
                   f'src="{href("replays", rid, "timeline.png")}"></a>' if (folder / "timeline.png").is_file() else "")
            rep_rows.append([link, e(rm.get("from")), e(rm.get("to")), e(rm.get("every")),
                             e(len(rm.get("steps") or [])), e(firsts), img])
        parts.append(table(["replay", "from", "to", "every", "steps", "first calls", "timeline"], rep_rows))

    parts.append("<h2>What changed between runs</h2>")
    if diffs:
        parts.append("<ul>" + "".join(
            f'<li><a href="{href("diff", name)}">{e(a.run_id)} &rarr; {e(b.run_id)}</a> '
            f'<span class="muted">(as of {e(a.manifest.get("as_of"))} &rarr; {e(b.manifest.get("as_of"))})</span></li>'
            for a, b, name in diffs) + "</ul>")
    else:
        parts.append("<p>Only one run so far.</p>")
    return page(f"Spike {spike}", "\n".join(parts), [("all spikes", "../../index.html"), (spike, None)])


def _run_page(run: Run, chapter_files: dict[str, str], has_brief: bool = False,
              seller_files: dict[str, str] | None = None) -> str:
    m = run.manifest
    git = m.get("git") or {}
    facts = [("status", _status(m.get("status"))), ("as of", e(m.get("as_of"))), ("started", e(m.get("started"))),
             ("finished", e(m.get("finished"))), ("duration", e(_duration(m.get("duration_s")))),
             ("resumed from", e(m.get("resumed_from") or "-")), ("replay", e(_replay_tag(m.get("tags") or {}) or "-")),
             ("spikekit", e(m.get("spikekit_version"))),
             ("commit", e(f"{(git.get('commit') or '?')[:12]}{' (dirty)' if git.get('dirty') else ''}")),
             ("kernel", e(kernel.get("name") if isinstance(kernel := m.get("kernel"), dict) else kernel))]
    parts = ["<table><tbody>" + "".join(f"<tr><th>{e(k)}</th><td>{v}</td></tr>" for k, v in facts) + "</tbody></table>"]
    if has_brief:
        parts.append(f'<p><a href="{href(BRIEF_PAGE)}">The stand-up brief</a> (chapter 10\'s brief.md)</p>')

    parts.append("<h2>Chapters</h2>")
    rows = []
    for cid, ch in m["chapters"].items():
        notebook = (f'<a href="{href("chapters", chapter_files[cid])}">notebook</a>' if cid in chapter_files
                    else '<span class="muted">no HTML copy</span>')
        if cid in (seller_files or {}):
            notebook += f' · <a href="{href("chapters", seller_files[cid])}">seller\'s copy</a>'
        note = ""
        if ch.get("reused_from"):
            note = f"reused from {ch['reused_from']}"
        err = ch.get("error")
        if err and ch.get("status") in {"failed", "skipped", "interrupted"}:
            where = f" in cell {err['cell']}" if err.get("cell") is not None else ""
            note = f"{err.get('ename')}{where}: {str(err.get('evalue'))[:300]}"
        rows.append([e(cid), e(ch.get("title")), _status(ch.get("status")), e(_duration(ch.get("duration_s"))),
                     e(chapter_decision(ch)), e((ch.get("results") or {}).get("headline")), notebook, e(note)])
    parts.append(table(["chapter", "title", "status", "duration", "decision", "headline", "notebook", "note"], rows))

    parts.append("<h2>Inputs</h2>")
    inputs = m.get("inputs") or {}
    parts.append(table(["input", "path", "sha256"],
                       [[e(k), e(v.get("path")), f"<code>{e(v.get('sha256'))}</code>"] for k, v in inputs.items()])
                 if inputs else "<p>None recorded.</p>")
    settings = m.get("settings") or {}
    if settings:
        parts.append(table(["settings file", "path", "sha256"],
                           [[e(k), e(v.get("path")), f"<code>{e(v.get('sha256'))}</code>"] for k, v in settings.items()]))

    parts.append("<h2>Parameters</h2>")
    prow = []
    for cid, ch in m["chapters"].items():
        for name, value in (ch.get("parameters") or {}).items():
            prow.append([e(cid), e(name), f"<code>{e(value)}</code>"])
    parts.append(table(["chapter", "parameter", "value"], prow) if prow else "<p>None recorded.</p>")
    return page(f"Run {run.run_id} of {run.spike}", "\n".join(parts),
                [("all spikes", "../../../../index.html"), (run.spike, "../../index.html"), (run.run_id, None)])


def _diff_page(a: Run, b: Run, depth_to_spike: str = "../") -> str:
    d = diff_runs(a.manifest, b.manifest)
    link_a = f'<a href="{depth_to_spike}{href("runs", a.slug, "index.html")}">{e(a.run_id)}</a>'
    link_b = f'<a href="{depth_to_spike}{href("runs", b.slug, "index.html")}">{e(b.run_id)}</a>'
    parts = [f"<p>A = {link_a} (as of {e(d['as_of'][0])}); B = {link_b} (as of {e(d['as_of'][1])}).</p>"]
    flipped = [c for c in d["chapters"] if c["decision_changed"]]
    parts.append(f"<h2>Decisions that flipped ({len(flipped)})</h2>")
    parts.append(table(["chapter", "decision A", "decision B", "headline B"],
                       [[e(f"{c['chapter']} {c['title'] or ''}".strip()), e(c["decision_a"] or "–"),
                         f'<b>{e(c["decision_b"] or "–")}</b>', e(c["headline_b"])] for c in flipped])
                 if flipped else "<p>None: every chapter made the same call in both runs.</p>")
    parts.append(f"<p>{len(flipped)} chapter decision(s) differ.</p>")
    parts.append("<h2>Parameters that differ</h2>")
    parts.append(table(["chapter", "parameter", "A", "B"],
                       [[e(p["chapter"]), e(p["name"]), f"<code>{e(p['a'])}</code>", f"<code>{e(p['b'])}</code>"]
                        for p in d["parameters"]]) if d["parameters"] else "<p>None: both runs used the same parameters.</p>")
    parts.append("<h2>Inputs that differ</h2>")
    parts.append(table(["input", "sha256 A", "sha256 B"],
                       [[e(i["input"]), f"<code>{e(i['a'])}</code>", f"<code>{e(i['b'])}</code>"] for i in d["inputs"]])
                 if d["inputs"] else "<p>None: the same input files (by sha256).</p>")
    parts.append("<h2>Every chapter</h2>")
    rows, classes = [], []
    for c in d["chapters"]:
        rows.append([e(f"{c['chapter']} {c['title'] or ''}".strip()), _status(c["status_a"]), _status(c["status_b"]),
                     e(c["decision_a"] or "–"), e(c["decision_b"] or "–"), e(c["headline_a"]), e(c["headline_b"])])
        classes.append("changed" if c["decision_changed"] or c["status_changed"] else "")
    parts.append(table(["chapter", "status A", "status B", "decision A", "decision B", "headline A", "headline B"],
                       rows, classes))
    return page(f"{a.spike}: {a.run_id} vs {b.run_id}", "\n".join(parts),
                [("all spikes", "../../../index.html"), (a.spike, "../index.html"), ("diff", None)])


def diff_text(d: dict, name_a: str, name_b: str) -> str:
    """``diff_runs`` as plain text for ``spike diff``: flipped decisions first, then parameters, then inputs."""
    lines = [f"A = {name_a} (as of {d['as_of'][0]})", f"B = {name_b} (as of {d['as_of'][1]})", ""]
    flipped = [c for c in d["chapters"] if c["decision_changed"]]
    lines.append(f"decisions that flipped: {len(flipped)}")
    lines += [f"  {c['chapter']} {c['title'] or ''}: {_text(c['decision_a']) or '–'} -> {_text(c['decision_b']) or '–'}"
              for c in flipped]
    # One line per change, naming every chapter it applies to (as_of changes in each chapter alike).
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for p in d["parameters"]:
        grouped.setdefault((p["name"], _text(p["a"]), _text(p["b"])), []).append(p["chapter"])
    lines.append(f"parameters that differ: {len(grouped)}")
    lines += [f"  {', '.join(chapters)} {name}: {a} -> {b}" for (name, a, b), chapters in grouped.items()]
    lines.append(f"inputs that differ: {len(d['inputs'])}")
    lines += [f"  {i['input']}: {(i['a'] or '(none)')[:12]} -> {(i['b'] or '(none)')[:12]} (sha256)" for i in d["inputs"]]
    return "\n".join(lines)


def _brief_page(run: Run, markdown_text: str) -> str:
    """chapter 10's brief.md as HTML; raw HTML in the text is escaped, not rendered."""
    import mistune

    body = mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])(markdown_text)
    return page(f"Stand-up brief: {run.spike}, run {run.run_id}", body,
                [("all spikes", "../../../../index.html"), (run.spike, "../../index.html"),
                 (run.run_id, "index.html"), ("brief", None)])


def _replay_page(spike: str, folder: Path, rm: dict, by_id: dict[str, Run], briefs: set[str]) -> str:
    """One replay: its figure and, per step, the run, its status, every chapter's decision and the brief."""
    steps = rm.get("steps") or []
    chapters = list(rm.get("chapters") or [])
    rows = []
    for step in steps:
        run = by_id.get(step.get("run_id"))
        cells = [e(step.get("as_of")), _status(step.get("status"))]
        if run is None:
            cells.append(e(step.get("run_id")))
            cells += ["–"] * len(chapters) + [""]
        else:
            cells.append(f'<a href="../../{href("runs", run.slug, "index.html")}">{e(run.run_id)}</a>')
            for cid in chapters:
                entry = run.manifest["chapters"].get(cid)
                cells.append(e("–" if entry is None else _text(chapter_decision(entry)) or "–"))
            cells.append(f'<a href="../../{href("runs", run.slug, BRIEF_PAGE)}">brief</a>'
                         if run.run_id in briefs else "")
        rows.append(cells)
    firsts = ", ".join(f"{c}: {w or '-'}" for c, w in (rm.get("first_actions") or {}).items())
    parts = [f"<p>From {e(rm.get('from'))} to {e(rm.get('to'))} every {e(rm.get('every'))}; "
             f"{len(steps)} steps; chapters {e(', '.join(chapters))}.</p>"]
    if firsts:
        parts.append(f"<p>First calls: {e(firsts)}</p>")
    if (folder / "timeline.png").is_file():
        parts.append(f'<p><a href="timeline.png"><img alt="replay timeline" src="timeline.png"></a></p>')
    parts.append("<h2>Steps</h2>")
    parts.append(table(["as of", "status", "run", *chapters, "brief"], rows) if rows else "<p>No steps.</p>")
    return page(f"Replay {rm.get('replay_id', folder.name)} of {spike}", "\n".join(parts),
                [("all spikes", "../../../../index.html"), (spike, "../../index.html"), ("replay", None)])


# ----------------------------------------------------------------------------------------------------------
# Building
# ----------------------------------------------------------------------------------------------------------
def _check_out(out: Path, records: Path) -> set[str] | None:
    """Refuse an output folder that could hold or become records; returns the files the previous build there
    wrote (None: no previous build).

    Refused: the records root or a folder above it; a folder directly under the records root whose name could
    be a spike's (only dot-folders such as the default ``.site`` are safe), or anything inside one; the partial
    area; a run or replay folder or anything inside one; and an existing folder holding anything a previous
    ``spike site`` build did not write (records, another records root, a person's files)."""
    default = records / SITE_DIR
    if out == records or out in records.parents:
        raise ConfigError(f"--out {out} would replace the records folder {records}; choose a folder of its own, "
                          f"e.g. {default} (the default)")
    for folder in (out, *out.parents):
        if (folder / "run.json").exists() or (folder / "replay.json").exists():
            raise ConfigError(f"--out {out} is inside the run folder {folder}; records are never modified. "
                              f"Fix: choose a folder outside it, e.g. {default}")
        if folder.name == ".partial":
            raise ConfigError(f"--out {out} is inside the partial area {folder}; choose another folder")
    if records in out.parents:
        first = out.relative_to(records).parts[0]
        if first == ".partial":
            raise ConfigError(f"--out {out} is inside the partial area {records / first}, where runs are built. "
                              f"Fix: use the default {default} or a folder outside {records}")
        if not first.startswith("."):
            what = "is the folder" if out == records / first else "is inside the folder"
            raise ConfigError(f"--out {out} {what} of spike '{first}' under the records root (any such name can be "
                              f"a spike's, whose runs would be lost on the next rebuild). "
                              f"Fix: use the default {default} or a folder outside {records}")
    if not out.exists() and not out.is_symlink():
        return None
    if out.is_symlink() or not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a folder; it is left alone. Fix: give a new folder")
    if not any(out.iterdir()):
        return None
    marker = out / SITE_MARKER
    if not marker.is_file():
        raise ConfigError(f"--out {out} exists and is not a site built by `spike site`; it is left alone. "
                          "Fix: give an empty or new folder")
    try:
        listed = json.loads(marker.read_text(encoding="utf-8"))
        written = {str(f) for f in listed["files"]} if listed.get("format") == SITE_FORMAT else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        written = None
    if written is None:
        raise ConfigError(f"--out {out} was built by an older `spike site` that did not list the files it wrote, so "
                          "a rebuild cannot tell them from anything else there; it is left alone. Fix: delete it "
                          "yourself once you have checked it holds only the site, or give a new --out")
    # A build writes plain files and folders only: a symlink is never its own, even where the marker lists it.
    unexpected = [rel for rel in _tree(out) if (out / rel).is_symlink()
                  or (rel not in written and rel != SITE_MARKER and not any(w.startswith(rel + "/") for w in written))]
    if unexpected:
        records_inside = [r for r in unexpected if r.rsplit("/", 1)[-1] in {"run.json", "replay.json"}]
        shown = records_inside or unexpected
        what = "run records" if records_inside else "files the last `spike site` build did not write"
        raise ConfigError(f"--out {out} holds {what}: {', '.join(shown[:5])}"
                          + (f" (+{len(shown) - 5} more)" if len(shown) > 5 else "")
                          + "; a rebuild would delete them, so nothing was changed. "
                          "Fix: move them elsewhere, or give another --out")
    return written


def _tree(folder: Path) -> list[str]:
    """Every file, symlink and folder under ``folder`` (relative, '/'-separated); symlinks are not followed."""
    out = []
    for here, dirs, files in os.walk(folder, followlinks=False):
        base = Path(here)
        out += [(base / name).relative_to(folder).as_posix() for name in dirs + files]
    return sorted(out)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where that is not available."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def _remove_previous(old: Path, written: set[str] | None) -> None:
    """Delete a previous build moved aside: only the files it listed, then the folders they leave empty.
    Anything else (put there during this build) stays, and is said."""
    root = old.resolve()
    for rel in sorted(written or ()):
        path = old / rel
        parent = path.parent.resolve()
        if Path(rel).is_absolute() or ".." in Path(rel).parts or not (parent == root or root in parent.parents):
            continue  # a marker naming a path outside the site (edited by hand?) deletes nothing there
        if path.is_file() and not path.is_symlink():
            path.unlink()
    (old / SITE_MARKER).unlink(missing_ok=True)
    folders = [p for p in old.rglob("*") if p.is_dir() and not p.is_symlink()]
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True) + [old]:
        try:
            folder.rmdir()
        except OSError:
            pass
    if old.exists():
        _warn(f"left {old}: it holds files the previous site build did not write (added during this build)")


def _swap_into_place(staging: Path, out: Path, written: set[str] | None) -> None:
    """Put the new build in place in one step, then delete what the previous build wrote (only that)."""
    try:
        if not out.exists():
            os.rename(staging, out)
            return
        if _exchange(staging, out):
            old = staging  # now holds the previous site
        else:
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.rename(out, old)
            try:
                os.rename(staging, out)
            except OSError:
                os.rename(old, out)
                raise
    except BaseException:
        if staging.exists() and (staging / SITE_MARKER).is_file() and not any(staging.glob("*/run.json")):
            shutil.rmtree(staging, ignore_errors=True)  # the new build, never swapped in: ours alone
        raise
    _remove_previous(old, written)


def _normal_modes(folder: Path) -> None:
    """Folders 0755 and files 0644, whatever the umask or mkdtemp's private 0700."""
    for here, dirs, files in os.walk(folder):
        os.chmod(here, FOLDER_MODE)
        for name in files:
            os.chmod(os.path.join(here, name), FILE_MODE)


def _find_run(spikes: dict[str, list[Run]], ref: str) -> Run:
    spike, _, run_id = ref.rpartition("/")
    matches = [r for name, runs in spikes.items() if not spike or name == spike for r in runs
               if r.run_id == run_id or r.folder.name == run_id]
    if len(matches) != 1:
        known = ", ".join(f"{r.spike}/{r.run_id}" for runs in spikes.values() for r in runs[-5:])
        raise ConfigError(f"run {ref!r} {'is ambiguous' if matches else 'not found'} in the records; "
                          f"give <spike>/<run id> (recent: {known or 'none'})")
    return matches[0]


def build_site(records: Path | str | None = None, out: Path | str | None = None,
               diff: tuple[str, str] | None = None) -> SiteOutcome:
    """Build the site of ``records`` (default: the records root) into ``out`` (default ``<records>/.site``),
    replacing an earlier site there in one step. ``diff``: two run refs (run id or <spike>/<run id>) whose
    diff page is added besides the consecutive ones. Reads the records only; deletes only what an earlier
    build listed in its marker file."""
    records = Path(records).resolve() if records else records_root()
    out = Path(out).resolve() if out else records / SITE_DIR
    written_before = _check_out(out, records)
    spikes = read_runs(records)
    pair = None
    if diff:
        pair = (_find_run(spikes, diff[0]), _find_run(spikes, diff[1]))
        if pair[0].spike != pair[1].spike:
            raise ConfigError(f"--diff compares two runs of one spike; {diff[0]} is {pair[0].spike}, "
                              f"{diff[1]} is {pair[1].spike}")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    outcome = SiteOutcome(out)
    try:

        def write(rel: str, text: str) -> None:
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            outcome.pages.append(rel)

        replay_counts = {}
        for spike, runs in spikes.items():
            base = f"spikes/{_slug(spike)}"
            replays = read_replays(records, spike)
            replay_counts[spike] = len(replays)
            by_id = {r.run_id: r for r in runs}
            briefs = set()
            for run in runs:
                brief = run.folder / BRIEF_FILE
                if brief.is_file() and not brief.is_symlink():
                    write(f"{base}/runs/{run.slug}/{BRIEF_PAGE}",
                          _brief_page(run, brief.read_text(encoding="utf-8", errors="replace")))
                    briefs.add(run.run_id)
            for folder, rm in replays:
                rid = _slug(rm.get("replay_id", folder.name))
                png = folder / "timeline.png"
                if png.is_file():
                    (staging / base / "replays" / rid).mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(png, staging / base / "replays" / rid / "timeline.png")
                write(f"{base}/replays/{rid}/index.html", _replay_page(spike, folder, rm, by_id, briefs))
            for run in runs:
                files, seller_files = {}, {}
                for cid, ch in run.manifest["chapters"].items():
                    # The full copy and the seller's copy beside it (each links the other by file name).
                    for key, found in (("html", files), ("seller_html", seller_files)):
                        name = ch.get(key)
                        if not name:
                            continue
                        try:
                            source = resolve_under(run.folder, name, "chapter HTML")
                        except ConfigError:
                            continue
                        if source.is_file():
                            target = staging / base / "runs" / run.slug / "chapters" / _slug(Path(name).name)
                            target.parent.mkdir(parents=True, exist_ok=True)
                            shutil.copyfile(source, target)  # content only: not read-only like the record
                            found[cid] = target.name
                write(f"{base}/runs/{run.slug}/index.html",
                      _run_page(run, files, run.run_id in briefs, seller_files))
            diffs = []
            pairs = list(zip(runs, runs[1:]))
            if pair and pair[0].spike == spike and pair not in pairs:
                pairs.append(pair)
            for a, b in pairs:
                name = f"{a.slug}__{b.slug}.html"
                write(f"{base}/diff/{name}", _diff_page(a, b))
                diffs.append((a, b, name))
                if pair and (a, b) == pair:
                    outcome.diff_page = out / base / "diff" / name
            timeline = decision_timeline(records, spike, runs)
            write(f"{base}/index.html", _spike_page(spike, runs, timeline, replays, diffs, briefs))
        write("index.html", _index_page(spikes, replay_counts))
        # The marker lists every file this build wrote: the next rebuild deletes those and nothing else.
        (staging / SITE_MARKER).write_text(json.dumps({
            "format": SITE_FORMAT, "note": "built by spike site; rebuilt from the records on every `spike site`",
            "records": str(records), "files": [rel for rel in _tree(staging) if (staging / rel).is_file()],
        }, indent=1), encoding="utf-8")
        _normal_modes(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # the unfinished new build, nothing else
        raise
    _swap_into_place(staging, out, written_before)
    return outcome
