"""What a spike's data allows: which inputs are there, which chapters can run, which tables are stale.

- ``missing_inputs``: inputs a spike does not name under ``data:``, or names but whose file is not there. Partial
  data is normal: the runner records a chapter that needs one of them as ``skipped`` with the reason, never as
  failed (a named path that is a folder or unreadable is still an error).
- ``skip_plan``: which chapters cannot run for want of data, and why; a chapter whose skipped need is one of its
  ``optional_needs`` (playbook.yaml) still runs and reads that need's results as None.
- ``freshness``: a dated table is stale when its newest row is older than as_of by more than a day (hourly and
  daily tables) or one period of the table (weekly or monthly exports).
- ``check_spike``: every input of every chapter checked in one pass (``spike check``).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path, PurePosixPath
from typing import Any

from ..core.errors import ConfigError, InputError, SpikeError

# Tables that are regular series, so a newest row far behind as_of means the export is old (event logs such as
# orders, tickets or reviews may rightly be quiet for days).
SERIES_TABLES = ("signals", "sales", "traffic", "funnel", "audience")
STALE_FILE = "stale.json"  # in a run's results/: the stale inputs each chapter reads (sk.record adds them to headlines)


def file_label(spike, key: str) -> str:
    """The file name a reason speaks of: the named file's, else the table's usual name."""
    return PurePosixPath(spike.data[key]).name if key in spike.data else f"{key}.csv"


def missing_inputs(spike, keys) -> dict[str, str]:
    """key -> why it is missing, for each of ``keys`` the spike does not name or whose named file does not exist."""
    out = {}
    for key in sorted(set(keys)):
        if key not in spike.data:
            out[key] = f"no `{key}:` under data: in {spike.path}"
            continue
        path = spike.input_path(key)  # refuses paths that leave the data root
        if not path.exists() and not path.is_symlink():
            out[key] = f"not found: {path}"
    return out


def skip_plan(book, spike, order, missing: dict[str, str]) -> dict[str, str]:
    """Chapters of ``order`` that cannot run for want of data: chapter id -> reason ("needs orders.csv")."""
    reasons: dict[str, str] = {}
    wanted: dict[str, list[str]] = {}  # the files each skipped chapter lacks, directly or through its needs
    for cid in order:
        chapter = book.chapters[cid]
        lacking = [file_label(spike, k) for k in chapter.inputs if k in missing]
        if lacking:
            reasons[cid] = "needs " + ", ".join(lacking)
            wanted[cid] = lacking
            continue
        blocked = [n for n in chapter.needs if n in reasons and n not in chapter.optional_needs]
        if blocked:
            files = sorted({f for n in blocked for f in wanted[n]})
            reasons[cid] = f"needs chapter {', '.join(blocked)}, skipped for want of {', '.join(files)}"
            wanted[cid] = files
    return reasons


def freshness(source: dict, key: str, as_of) -> dict | None:
    """Span of a dated table (from its loader's provenance) and whether it is stale at ``as_of``; None if undated."""
    import pandas as pd

    if not source.get("last"):
        return None
    as_of = pd.Timestamp(as_of)
    last = pd.Timestamp(source["last"])
    step = pd.Timedelta(seconds=source["step_s"]) if source.get("step_s") else pd.Timedelta(days=1)
    allowance = max(pd.Timedelta(days=1), step)
    age = as_of - last
    stale = key in SERIES_TABLES and age > allowance
    out = {"first": source.get("first"), "newest": source["last"], "rows": source.get("rows"),
           "period": _period_text(step) if key in SERIES_TABLES else None, "stale": bool(stale)}
    if stale:
        out["note"] = (f"{Path(source.get('path', key)).name}: newest row {last:%Y-%m-%d %H:%M}, "
                       f"{_age_text(age)} before as_of (more than {_age_text(allowance)})")
    return out


def _period_text(step) -> str:
    import pandas as pd

    hours = step / pd.Timedelta(hours=1)
    if hours <= 1:
        return "hourly"
    if hours < 24:
        return f"every {hours:g} h"
    if hours <= 24:
        return "daily"
    if 6 * 24 <= hours <= 8 * 24:
        return "weekly"
    if 28 * 24 <= hours <= 31 * 24:
        return "monthly"
    return f"every {hours / 24:g} days"


def _age_text(age) -> str:
    import pandas as pd

    days = age / pd.Timedelta(days=1)
    return f"{days:.1f} days" if days >= 1 else f"{age / pd.Timedelta(hours=1):.0f} h"


def chapter_stale_notes(book, order, fresh: dict[str, dict]) -> dict[str, list[str]]:
    """chapter id -> notes on the stale inputs it reads."""
    notes = {}
    for cid in order:
        chapter = book.chapters[cid]
        found = [fresh[k]["note"] for k in chapter.inputs + chapter.optional_inputs
                 if fresh.get(k) and fresh[k].get("stale")]
        if found:
            notes[cid] = found
    return notes


def stale_headline(headline: Any, notes: list[str]) -> Any:
    """A chapter's headline with its stale inputs said after it (a headline that is not text is left as is)."""
    if not notes or not isinstance(headline, str):
        return headline
    return headline + " [STALE DATA: " + "; ".join(notes) + "]"


def _problem(exc: SpikeError, key: str, path: str) -> dict:
    """The first problem of a file, in the error's own fields (file, column, rows, fix)."""
    if isinstance(exc, InputError):
        return {"file": exc.file or path, "column": exc.column, "rows": (exc.rows or [])[:5], "problem": exc.problem,
                "fix": exc.fix, "message": str(exc)}
    return {"file": path, "column": None, "rows": [], "problem": str(exc), "fix": None, "message": str(exc)}


def check_spike(name: str, as_of: Any = None) -> dict:
    """Every input of every chapter checked in one pass: per table its file, rows, span, newest row and whether it
    is stale; per chapter ready / missing (which tables) / invalid (the first problem of each bad file)."""
    from . import contracts
    from ..core.record import parse_as_of
    from .settings import load_playbook, load_spike
    from .state import state_inputs

    book = load_playbook()
    spike = load_spike(name, book)
    if as_of is None:
        as_of = spike.default_as_of or "now"
    t = parse_as_of(as_of, spike.timezone)
    order = book.order()
    keys = {k for c in order for k in book.chapters[c].inputs + book.chapters[c].optional_inputs} \
        | set(state_inputs(book, spike))
    missing = missing_inputs(spike, keys)
    tables: dict[str, dict] = {}
    for key in sorted(keys):
        entry: dict[str, Any] = {"file": spike.data.get(key), "status": "missing" if key in missing else "ok"}
        if key in missing:
            entry["why"] = missing[key]
        else:
            try:
                source = contracts.check_inputs({key: spike.data[key]}, tz=spike.timezone)[key]
                entry["rows"] = source.get("rows")
                fresh = freshness(source, key, t)
                if fresh:
                    entry.update({k: v for k, v in fresh.items() if k != "rows"})
                    if fresh["stale"]:
                        entry["status"] = "stale"
            except (InputError, ConfigError) as exc:
                entry.update(status="invalid", problem=_problem(exc, key, spike.data[key]))
        tables[key] = entry
    skipped = skip_plan(book, spike, order, missing)
    chapters = {}
    for cid in order:
        chapter = book.chapters[cid]
        reads = chapter.inputs + chapter.optional_inputs
        bad = [k for k in reads if tables[k]["status"] == "invalid"]
        if bad:
            status, detail = "invalid", [tables[k]["problem"]["message"] for k in bad]
        elif cid in skipped:
            status, detail = "missing", [skipped[cid]]
        else:
            status = "ready"
            detail = [f"without {', '.join(file_label(spike, k) for k in chapter.optional_inputs if k in missing)}"
                      f" (optional)"] if any(k in missing for k in chapter.optional_inputs) else []
            detail += [tables[k]["note"] for k in reads if tables[k].get("stale")]
        chapters[cid] = {"title": chapter.title, "status": status, "detail": detail}
    invalid = sorted(k for k, v in tables.items() if v["status"] == "invalid")
    return {"spike": spike.name, "as_of": t.isoformat(), "spike_file": str(spike.path), "tables": tables,
            "chapters": chapters, "ok": not invalid, "invalid_files": invalid}


def format_report(report: dict) -> str:
    """The check as text: a table per chapter, then one line per input table."""
    lines = [f"spike '{report['spike']}' as of {report['as_of']} ({report['spike_file']})", "", "chapters:"]
    for cid, ch in report["chapters"].items():
        lines.append(f"  {cid} {ch['title']:<34} {ch['status']:<8} {'; '.join(ch['detail'])}".rstrip())
    lines += ["", "tables:"]
    for key, t in report["tables"].items():
        if t["status"] == "missing":
            text = t["why"]
        elif t["status"] == "invalid":
            text = t["problem"]["message"]
        else:
            text = f"{t.get('rows', '?')} rows"
            if t.get("newest"):
                text += (f", {t['first'][:16].replace('T', ' ')} to {t['newest'][:16].replace('T', ' ')}"
                         + (f" ({t['period']})" if t.get("period") else ""))
            if t.get("note"):
                text += f"; STALE: {t['note']}"
        lines.append(f"  {key:<16} {t['status']:<8} {t['file'] or '-'}: {text}")
    bad = report["invalid_files"]
    lines += ["", f"{len(bad)} invalid file(s): {', '.join(bad)}" if bad else
              "every chapter that has its inputs is ready"]
    return "\n".join(lines)


def _json_default(value: Any):
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)


def optional_table(key: str, path: str, tz: str = "Asia/Shanghai"):
    """A table a chapter can go without (an ``optional_inputs`` entry): loaded and checked when the run names a
    file, else an empty frame with the table's columns, so the chapter's calls say there was nothing to go on."""
    from . import contracts
    from .state import _empty

    contract = contracts.CONTRACTS[key]
    if path:
        return contracts.load_table(path, contract, tz=tz)
    return _empty(contract, tz)
