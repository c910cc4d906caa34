"""Which chapters a run may reuse from the spike's earlier runs: one key per chapter execution.

A chapter's key is the sha256 of a canonical JSON of its parts (``key_parts`` in run.json, next to ``key``):

- ``notebook``: every cell's type and source, not outputs, counts or metadata. Markdown is hashed too: the prose
  is part of the record, and a reused record with old prose after the prose was edited would be wrong.
- ``library``: the whole ``spikekit`` package: every file under it (modules, the sentiment weights, the HTML
  templates), ``__pycache__`` left out. Per-module hashing would need the import graph of each chapter; the
  package is small, so hashing all of it is exact and costs milliseconds. ``environment``: the Python version and
  the versions of the numerical libraries the chapters compute with.
- ``parameters``: the chapter's parameters minus ``as_of`` (the clock rule below decides what of it counts) and
  ``upstream_run`` (the run being built, different every time).
- ``inputs``: per input the chapter declares in playbook.yaml (``inputs`` + ``optional_inputs``, present ones):
  for a table with a ``timestamp`` column, the sha256 of a canonical CSV of its rows stamped <= as_of, loaded
  through the project's contract (so a new as_of with no rows in between keeps it); otherwise the file's sha256.
- ``ledger``: the spike's approved-actions ledger as of T (rows stamped later are dropped, ``Ledger.as_of``).
- ``state``: for chapters whose code calls ``sk.spike_state()``: the sha256 of the state the run derived
  (results/state.json, its ``as_of`` field left out). The state is derived from the sales, validation, stock (and
  signals) tables, the ledger and the pattern library as of T, so hashing what was derived covers all of them.
- ``upstream``: the keys of the chapters it reads: its ``needs`` and every ``sk.upstream("NN", ...)`` in its code
  (chapter 09 reads 07's conversion without needing it). A chapter not in this run counts as absent.
- ``records``: chapters that read the spike's own earlier records (``decision_log``, ``stage_timings``: 10, 12):
  the list of finished runs of the spike evaluated <= as_of and the sha256 of each one's run.json.
- ``patterns``: chapters that read the pattern library (``load_library``: 06, 12): the library's entries as
  that chapter loads them (seed files, other spikes' chapter-12 records known at as_of).
- ``stale``: the stale-data note the run adds to the chapter's headline (it names the data's age).
- ``clock``: what of as_of itself the chapter's result depends on, see ``clock_part``.

The clock rule. Every chapter looks back over windows that end at as_of (chapter 01's daily bins, 02's test
window, 07's last 24 hours, 11's SLA window, 12's activity window ...), so moving as_of can move old rows out of a
window even when no row was added. Windows are whole hours or days, and table rows are stamped on their period's
boundary (hourly tables on the hour, daily ones at midnight: the contracts check it), so the result can only change
when as_of crosses a boundary of the finest period among the chapter's dated inputs. The clock part is therefore as_of
floored to that period (an hour or a day, in the spike's time zone); an input without a regular period (orders,
tickets, posts: events at any minute) makes it as_of itself, and so does a window parameter (``*_hours``,
``*_days``) that is not a whole number (one in hours that is not whole days allows an hourly floor at most). Some chapters judge the clock itself and get a floor
of their own (``CLOCK_FLOOR``):

- 02 validation: hours since the test began (no call before ``min_test_hours``, no no-go before
  ``min_hours_no_go``): at least hourly.
- 04 inventory: when the next order is due and stock-out days are counted from the as_of day: at least daily.
- 08 content: the level-1 kit is due ``deadline_hours`` after the go, and whether it is overdue depends on the
  clock: as_of itself.
- 10 team: the stand-up's next decision point (11:00, 15:00, 20:00) and the brief's date: at least hourly.
- 11 after-sales: unanswered tickets count as waiting their age at as_of (censored SLA waits): as_of itself.
- 12 retrospective: stage timings and member activity windows, ages of cohorts: as_of itself (orders are events).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import platform
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import numpy as np

KEY_FORMAT = "spikekit.engine.reuse/1"
# Chapter id -> (the finest the clock may be floored to, why). "exact": as_of itself.
CLOCK_FLOOR: dict[str, tuple[str, str]] = {
    "02": ("hour", "hours since the validation test began decide when a go / no-go may be called"),
    "04": ("day", "the next order's due day and stock-out days are counted from the as_of day"),
    "08": ("exact", "the level-1 kit is due hours after the go: whether it is overdue depends on the clock"),
    "10": ("hour", "the stand-up's next decision point (11:00, 15:00, 20:00) and the brief's date"),
    "11": ("exact", "unanswered tickets count as waiting their age at as_of (censored SLA waits)"),
    "12": ("exact", "stage timings, cohort and member-activity windows are measured up to as_of"),
}
_RANK = {"day": 0, "hour": 1, "exact": 2}
_ENV_PACKAGES = ("numpy", "pandas", "scipy", "statsmodels", "scikit-learn", "nbformat", "papermill")
_UPSTREAM_RE = re.compile(r"""sk\.upstream\(\s*["'](\w+)["']""")


def digest(value: Any) -> str:
    """sha256 of a canonical JSON of ``value`` (sorted keys, no spaces, non-ASCII kept)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def library_hash(package_dir: Path | None = None) -> str:
    """sha256 over every file of the spikekit package (relative path and content), caches left out.

    Kernels import the package afresh for every chapter, so an edit made while a long-lived process (``spike
    watch``, a replay) runs must change the key: the content hash is remembered only while every file's size
    and modification time stay the same."""
    base = Path(package_dir or _PACKAGE_DIR)
    files = sorted(p for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                   and p.suffix not in {".pyc", ".pyo"})
    stamp = tuple((p.relative_to(base).as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    cached = _LIBRARY_HASHES.get(str(base))
    if cached is None or cached[0] != stamp:
        cached = (stamp, digest([[p.relative_to(base).as_posix(), _file_sha256(p)] for p in files]))
        _LIBRARY_HASHES[str(base)] = cached
    return cached[1]


_LIBRARY_HASHES: dict[str, tuple[tuple, str]] = {}
_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # spikekit/, not this module's room: every room counts


@lru_cache(maxsize=1)
def environment() -> dict:
    from importlib import metadata

    versions = {}
    for name in _ENV_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"python": platform.python_version(), **versions}


def notebook_cells(path: Path) -> list[dict]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return [{"type": c.get("cell_type"), "source": "".join(c.get("source", []))
             if isinstance(c.get("source"), list) else str(c.get("source", ""))} for c in data.get("cells", [])]


def notebook_hash(path: Path) -> str:
    """Cell types and sources only: outputs, execution counts and metadata do not change what a chapter does."""
    return digest(notebook_cells(path))


def _code(path: Path) -> str:
    return "\n".join(c["source"] for c in notebook_cells(path) if c["type"] == "code")


def parameters_hash(params: Mapping[str, Any]) -> str:
    return digest({k: v for k, v in params.items() if k not in {"as_of", "upstream_run"}})


def _frame_hash(frame) -> str:
    return hashlib.sha256(frame.to_csv(index=False, lineterminator="\n").encode("utf-8")).hexdigest()


def input_slice(spike, key: str, as_of) -> tuple[str, str | None]:
    """(sha256 of what a chapter can see of input ``key`` as of T, its period: "hour", "day", "event" or None).

    A contract table with a ``timestamp`` column: its rows stamped <= as_of, as a canonical CSV (a new as_of with no
    rows in between keeps the hash); anything else: the file's sha256."""
    from ..inputs import contracts
    from ..core.paths import data_root

    path = spike.input_path(key) if hasattr(spike, "input_path") else data_root() / spike.data[key]
    if key not in contracts.CONTRACTS:
        return _file_sha256(path), None
    table = _table_rows(spike, key, path)
    if table.stamps is None:
        return table.whole, None
    import pandas as pd

    seen = int(np.searchsorted(table.stamps, pd.Timestamp(as_of).as_unit("ns").value, side="right"))
    return hashlib.sha256(str(seen).encode() + table.row_hashes[:seen].tobytes()).hexdigest(), table.period


@dataclass(frozen=True)
class _Rows:
    """A contract table reduced to what slice hashes need: its rows' hashes in time order (rows without a time are
    never seen), their stamps (UTC ns, sorted), its period; or one hash of the whole table without a time column."""

    stamps: Any
    row_hashes: Any
    period: str | None
    whole: str | None


_ROWS: dict[tuple, _Rows] = {}  # per process: a replay or `spike watch` loads each unchanged file once


def _table_rows(spike, key: str, path: Path) -> _Rows:
    """The table behind input ``key`` through its contract, cached by file identity (path, size, mtime) and zone.
    The rows seen as of T are the prefix of the time-sorted rows up to T, so a slice's hash is the hash of a prefix
    of the rows' hashes (and the prefix length): what a chapter sees, without re-reading the file per as_of."""
    import pandas as pd

    from ..inputs import contracts

    stat = path.stat()
    ident = (str(path), stat.st_size, stat.st_mtime_ns, spike.timezone, key, str(spike.data[key]))
    cached = _ROWS.get(ident)
    if cached is not None:
        return cached
    frame = contracts.load_table(spike.data[key], contracts.CONTRACTS[key], tz=spike.timezone)
    if "timestamp" not in frame.columns:
        rows = _Rows(None, None, None, _frame_hash(frame))
    else:
        frame = frame.loc[frame["timestamp"].notna()]
        order = np.argsort(pd.DatetimeIndex(frame["timestamp"]).as_unit("ns").asi8, kind="stable")
        frame = frame.iloc[order].reset_index(drop=True)
        stamps = pd.DatetimeIndex(frame["timestamp"]).as_unit("ns").asi8
        hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
        rows = _Rows(stamps, hashes, _period(frame["timestamp"]), None)
    if len(_ROWS) > 256:
        _ROWS.clear()
    _ROWS[ident] = rows
    return rows


def _period(stamps) -> str:
    """The table's period from its stamps: "hour" (all on the hour), "day" (all at midnight), else "event"."""
    import pandas as pd

    stamps = stamps.dropna()
    if stamps.empty:
        return "day"
    if (stamps == stamps.dt.normalize()).all():
        return "day"
    if (stamps == stamps.dt.floor("h")).all():
        return "hour"
    return "event"


def _window_floor(params: Mapping[str, Any]) -> tuple[str, str] | None:
    """The floor the chapter's own window parameters allow: a ``*_hours`` window that is not whole days only an
    hourly floor, a fractional ``*_hours`` or ``*_days`` one none (the floors assume whole-period windows)."""
    floor = None
    for name, value in params.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not name.endswith(("_hours", "_days")):
            continue
        if float(value) != int(value):
            return "exact", f"parameter {name} = {value} is not a whole number of periods"
        if name.endswith("_hours") and int(value) % 24:
            floor = ("hour", f"parameter {name} = {value} is not a whole number of days")
    return floor


def clock_part(chapter_id: str, periods: Iterable[str | None], as_of, params: Mapping[str, Any] | None = None) -> dict:
    """as_of floored to the finest period the chapter's result can change at (see the module docstring)."""
    finest, why = "day", "windows of whole days over daily tables"
    for period in periods:
        if period == "event" and _RANK[finest] < _RANK["exact"]:
            finest, why = "exact", "an input of events at any minute: its windows move with as_of"
        elif period == "hour" and _RANK[finest] < _RANK["hour"]:
            finest, why = "hour", "an hourly input: its windows move each hour"
    for floor, reason in (CLOCK_FLOOR.get(chapter_id, ("day", "")), _window_floor(params or {}) or ("day", "")):
        if _RANK[floor] > _RANK[finest]:
            finest, why = floor, reason
    value = as_of if finest == "exact" else (as_of.floor("h") if finest == "hour" else as_of.normalize())
    return {"resolution": finest, "value": value.isoformat(), "why": why}


def ledger_hash(spike, as_of) -> str:
    from ..inputs.state import load_ledger, ledger_folder

    ledger = load_ledger(ledger_folder(spike), tz=spike.timezone, as_of=as_of)
    tables = {name: _frame_hash(getattr(ledger, name)) for name in sorted(vars(ledger))
              if hasattr(getattr(ledger, name), "to_csv")}
    return digest(tables)


def state_hash(spike_state: Mapping[str, Any]) -> str:
    return digest({k: v for k, v in spike_state.items() if k != "as_of"})


def records_hash(records_dir: Path, spike: str, as_of) -> str:
    """The spike's finished runs evaluated <= as_of, each with its run.json's sha256 (what chapters 10 and 12 read)."""
    from ..core.decisions import spike_runs

    runs, _ = spike_runs(records_dir, spike, as_of)
    return digest([[r["run_id"], _file_sha256(Path(r["folder"]) / "run.json")] for r in runs])


def patterns_hash(records_dir: Path, spike: str, as_of, patterns_dir: str) -> str:
    from ..core import paths
    from ..core.patterns import load_library

    folder = paths.resolve_under(paths.playbook_dir(), patterns_dir or "patterns", "patterns folder")
    library = load_library(records_dir, folder, before=as_of, exclude_spike=spike)
    library = library.drop(columns=[c for c in ("origin",) if c in library.columns])
    return hashlib.sha256(library.to_json(orient="records", date_format="iso").encode("utf-8")).hexdigest()


def chapter_keys(book, spike, order: list[str], params: Mapping[str, dict], as_of, spike_state: Mapping[str, Any],
                 stale_notes: Mapping[str, Any], records_dir: Path) -> dict[str, dict]:
    """{chapter: {"key": sha256, "key_parts": {...}}} for the chapters of a run, in dependency order."""
    lib, env = library_hash(), environment()
    ledger = ledger_hash(spike, as_of)
    state = state_hash(spike_state)
    slices: dict[str, tuple[str, str | None]] = {}
    records = patterns = None
    out: dict[str, dict] = {}
    for cid in order:
        chapter = book.chapters[cid]
        code = _code(chapter.notebook)
        reads = sorted(set(chapter.needs) | {m for m in _UPSTREAM_RE.findall(code) if m in book.chapters})
        keys = [k for k in chapter.inputs + chapter.optional_inputs if k in spike.data]
        for k in keys:
            if k not in slices:
                slices[k] = input_slice(spike, k, as_of)
        parts: dict[str, Any] = {
            "format": KEY_FORMAT,
            "notebook": notebook_hash(chapter.notebook),
            "library": lib,
            "environment": env,
            "parameters": parameters_hash(params[cid]),
            "inputs": {k: slices[k][0] for k in keys},
            "ledger": ledger,
            "state": state if "spike_state(" in code else None,
            "upstream": {n: out[n]["key"] if n in out else None for n in reads},
            "stale": stale_notes.get(cid),
            "clock": clock_part(cid, [slices[k][1] for k in keys], as_of, params[cid]),
        }
        if "decision_log(" in code or "stage_timings(" in code:
            records = records if records is not None else records_hash(records_dir, spike.name, as_of)
            parts["records"] = records
        if "load_library(" in code:
            patterns = patterns or patterns_hash(records_dir, spike.name, as_of, params[cid].get("patterns_dir", ""))
            parts["patterns"] = patterns
        out[cid] = {"key": digest(parts), "key_parts": parts}
    return out


def changed_parts(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[str]:
    """Names of the key parts that differ (``inputs.sales``, ``upstream.02``, ``clock`` ...)."""
    if not old:
        return ["no earlier run of this chapter with a key"]
    changed = []
    for name in sorted(set(new) | set(old)):
        a, b = new.get(name), old.get(name)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict) and name in {"inputs", "upstream"}:
            changed += [f"{name}.{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        else:
            changed.append(name)
    return changed


LOOKBACK_RUNS = 100  # earlier runs a chapter's key is looked for in, newest first (bounds the manifests read)


def earlier_runs(records_dir: Path, spike: str, first: Path | None = None,
                 limit: int = LOOKBACK_RUNS) -> Iterator[tuple[Path, dict]]:
    """The spike's finished runs, newest first, read lazily (run ids begin with their UTC start, so the folder
    names sort by age); ``first``, a resumed run that may still be a partial, leads. At most ``limit`` runs."""
    seen = 0
    if first is not None:
        meta = _manifest(Path(first))
        if meta is not None:
            seen += 1
            yield Path(first), meta
    folder = Path(records_dir) / spike
    names = sorted((p.name for p in folder.iterdir() if not p.name.startswith(".")), reverse=True) \
        if folder.is_dir() else []
    # A run id holds its start to the second, then a random suffix: runs started within one second are ordered
    # by their manifests' start stamps (microseconds), so "newest first" holds for them too.
    for _, group in itertools.groupby(names, key=lambda n: n.split("-", 1)[0]):
        found = []
        for name in group:
            run_dir = folder / name
            if first is not None and run_dir.resolve() == Path(first).resolve():
                continue
            meta = _manifest(run_dir)
            if meta is not None:
                found.append((run_dir, meta))
        found.sort(key=lambda item: str(item[1].get("started") or ""), reverse=True)
        for run_dir, meta in found:
            if seen >= limit:
                return
            seen += 1
            yield run_dir, meta


def _manifest(folder: Path) -> dict | None:
    try:
        meta = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and isinstance(meta.get("chapters"), dict) else None


def plan(keys: Mapping[str, dict], runs: Iterable[tuple[Path, dict]], *, reuse: bool,
         skipped: Iterable[str] = ()) -> dict[str, dict]:
    """Per chapter either {"reuse": (folder, meta, entry)} - an ok or reused chapter with the same key, newest run
    first, whose executed notebook is still there - or {"because": [changed key parts]} against the newest earlier
    run that had the chapter with a key (["--fresh"] when ``reuse`` is off). Runs are read only until every
    chapter is decided."""
    wanted = {cid for cid in keys if cid not in set(skipped)}
    newest: dict[str, dict] = {}
    hits: dict[str, tuple] = {}
    for folder, meta in runs:
        for cid in wanted - set(hits):
            entry = meta["chapters"].get(cid)
            if not isinstance(entry, dict) or not entry.get("key"):
                continue
            newest.setdefault(cid, entry)
            if (reuse and entry["key"] == keys[cid]["key"] and entry.get("status") in {"ok", "reused"}
                    and entry.get("notebook") and (folder / entry["notebook"]).is_file()):
                hits[cid] = (folder, meta, entry)
        if set(hits) | set(newest) >= wanted and (not reuse or set(hits) >= wanted):
            break
    out: dict[str, dict] = {}
    for cid in keys:
        if cid not in wanted:
            continue
        if cid in hits:
            out[cid] = {"reuse": hits[cid]}
        elif not reuse:
            out[cid] = {"because": ["--fresh"]}
        else:
            old = newest.get(cid)
            out[cid] = {"because": changed_parts(keys[cid]["key_parts"], old.get("key_parts") if old else None)
                        or ["its earlier result is gone"]}
    return out
