"""Chapter results: ``sk.record`` publishes them, ``sk.upstream`` reads an earlier chapter's.

A recorded value travels twice:
- inside the executed notebook, as a display output of MIME type ``application/vnd.spikekit.record+json``,
  so the notebook file alone carries its results (in the spirit of recommenders' ``store_metadata``);
- into the run: after a chapter finishes, the runner reads those outputs back (``read_notebook_records``)
  and writes them to ``results/<chapter>.json`` and ``run.json``.

Values are made JSON-safe by ``to_jsonable`` and come back typed by ``from_jsonable``: DataFrames keep their
columns and dtypes (as records), timestamps stay timestamps, numpy scalars become Python numbers, NaN None.

Where ``upstream`` reads from is decided once per notebook by ``begin`` (see its docstring) and said in the
notebook, so a reader always knows which results a chapter built on.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError, SpikeError
from .paths import check_name, data_root, records_root

RECORD_MIME = "application/vnd.spikekit.record+json"
RESULTS_DIR = "results"
_TYPE = "__spikekit_type__"


# ----------------------------------------------------------------------------------------------------------
# JSON-safe values
# ----------------------------------------------------------------------------------------------------------
def to_jsonable(value: Any) -> Any:
    """Turn a result into plain JSON types, tagging the ones that must come back typed."""
    import pandas as pd

    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, pd.DataFrame):
        frame = value.reset_index(drop=True) if isinstance(value.index, pd.RangeIndex) else value.reset_index()
        return {
            _TYPE: "dataframe",
            "columns": [str(c) for c in frame.columns],
            "dtypes": {str(c): str(t) for c, t in frame.dtypes.items()},
            "records": [
                {str(c): to_jsonable(v) for c, v in zip(frame.columns, row)}
                for row in frame.itertuples(index=False, name=None)
            ],
        }
    if isinstance(value, pd.Series):
        return to_jsonable(value.to_frame(name=value.name if value.name is not None else "value"))
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        if pd.isna(value):
            return None
        return {_TYPE: "timestamp", "value": pd.Timestamp(value).isoformat()}
    if isinstance(value, dt.date):
        return {_TYPE: "date", "value": value.isoformat()}
    if isinstance(value, (pd.Timedelta, dt.timedelta)):
        return {_TYPE: "timedelta", "seconds": pd.Timedelta(value).total_seconds()}
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return to_jsonable(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [to_jsonable(v) for v in items]
    if isinstance(value, Path):
        return str(value)
    raise TypeError(
        f"cannot record a value of type {type(value).__name__}: record numbers, strings, lists, dicts, "
        "DataFrames, timestamps or objects with a to_dict() method"
    )


def from_jsonable(value: Any) -> Any:
    """Inverse of ``to_jsonable``: DataFrames and timestamps come back typed."""
    import pandas as pd

    if isinstance(value, list):
        return [from_jsonable(v) for v in value]
    if not isinstance(value, dict):
        return value
    kind = value.get(_TYPE)
    if kind == "dataframe":
        frame = pd.DataFrame.from_records(value["records"], columns=value["columns"])
        for col, dtype in value.get("dtypes", {}).items():
            if col not in frame:
                continue
            try:
                if dtype.startswith("datetime64"):
                    frame[col] = pd.to_datetime(
                        frame[col].map(lambda v: v["value"] if isinstance(v, dict) else v), format="ISO8601"
                    )
                    if "," in dtype:  # tz-aware: restore the zone the column had
                        tz = dtype.split(",", 1)[1].rstrip("]").strip()
                        frame[col] = frame[col].dt.tz_convert(tz)
                elif dtype in {"object", "str", "string"} or dtype.startswith("category"):
                    frame[col] = frame[col].map(from_jsonable)
                else:
                    frame[col] = frame[col].astype(dtype)
            except (TypeError, ValueError):
                pass  # keep the JSON types rather than fail on a reader
        return frame
    if kind == "timestamp":
        return pd.Timestamp(value["value"])
    if kind == "date":
        return dt.date.fromisoformat(value["value"])
    if kind == "timedelta":
        return pd.Timedelta(seconds=value["seconds"])
    return {k: from_jsonable(v) for k, v in value.items()}


# ----------------------------------------------------------------------------------------------------------
# The chapter context: which chapter runs, as of when, and where upstream results come from
# ----------------------------------------------------------------------------------------------------------
@dataclass
class ChapterContext:
    chapter: str
    spike: str
    as_of: Any  # pandas.Timestamp, tz-aware
    timezone: str
    upstream_run: str = ""
    source: str = ""  # human-readable: where upstream results are read from
    recorded: dict = field(default_factory=dict)
    _source_dir: Path | None = None
    _fixture: dict | None = None

    @property
    def tz(self) -> str:
        return self.timezone


_CONTEXT: ChapterContext | None = None


AS_OF_EARLIEST = "2000-01-01"  # no spike the playbook deals with is older; earlier is a typo in the year
AS_OF_MAX_AHEAD_DAYS = 366     # a plan may look ahead, but not more than about a year


def parse_as_of(as_of: Any, timezone: str, what: str = "as_of"):
    """A moment in the spike's time zone: naive values are local time there, aware ones are converted.

    Refused with a ConfigError (what, why, fix): an unknown zone; text that is not a time; a moment before
    2000-01-01 or more than a year after now (a mistyped year: every chapter would fail or overflow); a local
    time that does not exist in the zone (the hour skipped when daylight saving time starts) and one that
    happens twice (the hour repeated when it ends): the run cannot guess which is meant, so give the offset.
    'now' (or 'today') is the current moment in the zone. ``what`` names the value in errors (e.g. '--as-of').
    """
    import datetime as _dt

    import pandas as pd

    from ..inputs.settings import check_timezone

    check_timezone(timezone, "time zone of the spike")
    if isinstance(as_of, str) and as_of.strip().lower() in {"now", "today"}:
        return pd.Timestamp.now(tz=timezone)
    try:
        ts = pd.Timestamp(as_of)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(f"{what} {as_of!r} is not a date/time ({exc}). Fix: give e.g. '2025-03-09 12:00'") from None
    if ts is pd.NaT:
        raise ConfigError(f"{what} is empty. Fix: give the moment to evaluate the spike at, e.g. '2025-03-09 12:00'")
    if ts.tzinfo is None:
        import zoneinfo

        zone = zoneinfo.ZoneInfo(timezone)
        naive = ts.to_pydatetime(warn=False)
        first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
        if first.utcoffset() != second.utcoffset():
            back = first.astimezone(_dt.timezone.utc).astimezone(zone).replace(tzinfo=None)
            if back != naive:  # the wall clock never shows this time: it is skipped
                raise ConfigError(
                    f"{what} {str(as_of)!r} does not exist in {timezone}: the clocks skip that time when daylight "
                    f"saving time starts. Fix: give a time that exists, e.g. '{back:%Y-%m-%d %H:%M}', or add the "
                    "UTC offset you mean")
            raise ConfigError(
                f"{what} {str(as_of)!r} is ambiguous in {timezone}: that local time happens twice when daylight "
                "saving time ends. Fix: add the UTC offset, e.g. "
                f"'{first.isoformat(sep=' ', timespec='minutes')}' (the first) or "
                f"'{second.isoformat(sep=' ', timespec='minutes')}' (the second)")
        local = ts.tz_localize(timezone)
    else:
        local = ts.tz_convert(timezone)
    earliest = pd.Timestamp(AS_OF_EARLIEST, tz=timezone)
    latest = pd.Timestamp.now(tz=timezone) + pd.Timedelta(days=AS_OF_MAX_AHEAD_DAYS)
    if local < earliest:
        raise ConfigError(f"{what} {str(as_of)!r} is before {AS_OF_EARLIEST}: no spike this playbook handles is that "
                          "old. Fix: check the year, e.g. '2025-03-09 12:00'")
    if local > latest:
        raise ConfigError(f"{what} {str(as_of)!r} is more than a year after now ({latest - pd.Timedelta(days=AS_OF_MAX_AHEAD_DAYS):%Y-%m-%d}): "
                          "no data exists for it. Fix: check the year, or give 'now'")
    return local


def begin(chapter: str, *, spike: str, as_of: Any, timezone: str = "Asia/Shanghai", upstream_run: str = "") -> ChapterContext:
    """Open a chapter: fix ``as_of`` in the spike's zone and decide where ``upstream`` reads from.

    ``upstream_run``:
    - a run folder path or ``<spike>/<run-id>`` or a run id: read that run's recorded results (the runner
      passes the run being built, so chapters of one playbook run hand results to each other);
    - ``"latest"``: the newest successful run of this spike under the records root;
    - ``""`` (standalone default): the sample scenario's fixture ``data/samples/<spike>/upstream.json`` when
      the spike is a sample scenario, else the newest successful run of the spike.
    """
    global _CONTEXT
    check_name(spike)
    ctx = ChapterContext(chapter=str(chapter), spike=spike, as_of=parse_as_of(as_of, timezone), timezone=timezone,
                         upstream_run=upstream_run or "")
    _CONTEXT = ctx
    _resolve_source(ctx)
    _announce(ctx)
    from .tables import install_display

    install_display()  # every table the chapter shows reads the same way (lib/spikekit/core/tables.py)
    return ctx


def _announce(ctx: ChapterContext) -> None:
    """Say in the notebook which spike, which moment, and where upstream results come from."""
    text = (f"**Chapter {ctx.chapter}** · spike `{ctx.spike}` · as of **{ctx.as_of:%Y-%m-%d %H:%M} "
            f"({ctx.timezone})** · upstream results from {ctx.source}")
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display

        if get_ipython() is not None:
            display(Markdown(text))
    except ImportError:
        pass


def current() -> ChapterContext:
    if _CONTEXT is None:
        raise SpikeError("no chapter is open: call sk.begin(chapter, spike=..., as_of=...) after the parameters cell")
    return _CONTEXT


def _find_run(ref: str, spike: str | None = None) -> Path:
    """A run by folder path, '<spike>/<run-id>' or bare run id, always inside the records root.

    Searched under the records root, finished runs first, then the partial area (the runner hands a run
    being built to its own chapters this way). A folder path must resolve (symlinks followed) inside the
    records root; names may not carry '..', other path parts, glob characters or NUL, so a parameter can
    never make a chapter read results from elsewhere on the machine. ``spike``: a bare id is looked up in
    that spike's runs first (two spikes' runs can share an id: same second, same two random bytes), and an id
    that names runs of several other spikes is refused as ambiguous.
    """
    root = records_root()
    if not isinstance(ref, str) or not ref.strip():
        raise ConfigError(f"run reference {ref!r} is empty. Fix: pass a run id from `spike list` (records under {root})")
    if "\x00" in ref:
        raise ConfigError(f"run reference {ref!r} contains a NUL byte; records live under {root}. "
                          "Fix: pass a run id from `spike list`")
    candidate = Path(ref).expanduser()
    if candidate.is_dir() and (candidate / "run.json").exists():
        folder = candidate.resolve()
        if root not in folder.parents:
            raise ConfigError(
                f"run folder {ref!r} resolves to {folder}, outside the records root {root}. "
                "Fix: pass a run id from `spike list`, or point --records at the root that holds the run"
            )
        return folder
    parts = ref.split("/")
    if len(parts) > 2 or not all(_RUN_PART_RE.fullmatch(p) and ".." not in p for p in parts):
        raise ConfigError(
            f"run reference {ref!r} is not a run id, '<spike>/<run-id>' or a run folder under the records root "
            f"{root}. Fix: pass a run id from `spike list`"
        )
    if len(parts) == 1 and spike:
        for base in (root, root / ".partial"):
            if (base / spike / ref / "run.json").exists():
                return (base / spike / ref).resolve()
    for base in (root, root / ".partial"):
        if len(parts) == 2 and (base / parts[0] / parts[1] / "run.json").exists():
            return (base / parts[0] / parts[1]).resolve()
        hits = sorted(base.glob(f"*/{ref}/run.json")) if base.exists() and len(parts) == 1 else []
        hits = [h for h in hits if not h.parts[-3].startswith(".")]  # never read .partial as a spike
        if len(hits) > 1:
            raise ConfigError(
                f"run id {ref!r} names runs of several spikes under {base}: "
                + ", ".join(h.parts[-3] for h in hits) + f". Fix: pass '<spike>/{ref}'"
            )
        if hits:
            return hits[0].parent.resolve()
    raise ConfigError(
        f"run {ref!r} was not found (looked for a run folder path, and under {root} and {root / '.partial'}). "
        "Fix: pass a run id from `spike list`, or leave upstream_run empty to use the sample scenario"
    )


_RUN_PART_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")

# What every run.json the runner writes has; a manifest without them cannot be shown, listed or resumed.
MANIFEST_KEYS = ("run_id", "spike", "as_of", "status", "chapters")


def read_manifest(path: Path | str) -> dict:
    """A run's ``run.json``, checked to be a JSON object with the keys every run manifest has.

    Raises ConfigError naming the file and what is wrong with it (unreadable, not JSON, not an object, keys
    missing), so commands report a damaged record in one line instead of a traceback."""
    path = Path(path)
    fix = ("Fix: run `spike verify` on the run to see what changed; restore the record from a backup or move the "
           "run folder out of the records root")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"run record {path} cannot be read ({exc}). {fix}") from None
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"run record {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                          f"{exc.msg}). {fix}") from None
    if not isinstance(meta, dict):
        raise ConfigError(f"run record {path} holds a JSON {type(meta).__name__}, not the run's manifest "
                          f"(an object). {fix}")
    missing = [k for k in MANIFEST_KEYS if k not in meta]
    if missing or not isinstance(meta.get("chapters"), dict):
        what = f"lacks {', '.join(missing)}" if missing else "has no chapters object"
        raise ConfigError(f"run record {path} is not a run manifest: it {what}. {fix}")
    return meta


def latest_run(spike: str, *, ok_only: bool = True) -> Path | None:
    """The newest finished run of ``spike`` (never one still in the partial area)."""
    folder = records_root() / check_name(spike)
    if not folder.exists():
        return None
    runs = []
    for manifest in folder.glob("*/run.json"):
        try:
            meta = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a damaged record is never anyone's upstream
        if not isinstance(meta, dict):
            continue
        if ok_only and meta.get("status") != "ok":
            continue
        runs.append((meta.get("started", ""), manifest.parent))
    return max(runs)[1] if runs else None


def _resolve_source(ctx: ChapterContext) -> None:
    ref = ctx.upstream_run
    if ref and ref != "latest":
        ctx._source_dir = _find_run(ref, spike=ctx.spike)
        ctx.source = f"run record {ctx._source_dir}"
        return
    if ref == "latest" or not (data_root() / "samples" / ctx.spike / "upstream.json").exists():
        found = latest_run(ctx.spike)
        if found is not None:
            ctx._source_dir = found
            ctx.source = f"the latest successful run of '{ctx.spike}': {found}"
            return
        if ref == "latest":
            raise ConfigError(
                f"no successful run of '{ctx.spike}' under {records_root()}. Fix: run `spike run --spike {ctx.spike} ...` first"
            )
    fixture = data_root() / "samples" / ctx.spike / "upstream.json"
    if fixture.exists():
        ctx._fixture = json.loads(fixture.read_text(encoding="utf-8"))
        ctx.source = f"the sample scenario '{ctx.spike}' ({fixture.relative_to(data_root())} under the data root)"
    else:
        ctx.source = "nothing yet (no run of this spike and no sample fixture)"


def upstream(chapter: str, name: str, default: Any = ...) -> Any:
    """Read result ``name`` recorded by an earlier ``chapter`` (e.g. ``"01"``) from the current source."""
    ctx = current()
    chapter = str(chapter)
    values = None
    if ctx._source_dir is not None:
        path = ctx._source_dir / RESULTS_DIR / f"{chapter}.json"
        if path.exists():
            values = json.loads(path.read_text(encoding="utf-8"))
    elif ctx._fixture is not None:
        values = ctx._fixture.get(chapter)
    if values is None or name not in values:
        if default is not ...:
            return default
        have = sorted(values) if values else []
        raise SpikeError(
            f"chapter {ctx.chapter} needs result '{name}' of chapter {chapter}, but {ctx.source} has "
            + (f"only {have} for chapter {chapter}" if values else f"no results for chapter {chapter}")
            + ". Fix: run chapter " + chapter + " first (spike run includes it), or pass upstream_run=<run id>"
        )
    return from_jsonable(values[name])


def record(name: str, value: Any, *, show: bool = True) -> Any:
    """Publish a chapter result: into the executed notebook (and so the run record). Returns the value."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(f"result name {name!r} must be an identifier like 'first_alert'")
    if name == "headline" and _CONTEXT is not None:
        value = _with_stale_note(_CONTEXT, value)
    payload = {"name": name, "value": to_jsonable(value)}
    json.dumps(payload, allow_nan=False)  # fail here, not in the runner
    if _CONTEXT is not None:
        _CONTEXT.recorded[name] = payload["value"]
    summary = _summary(value)
    try:
        from IPython import get_ipython
        from IPython.display import display

        if get_ipython() is not None:
            display({RECORD_MIME: payload, "text/plain": f"recorded {name}: {summary}"}, raw=True)
    except ImportError:  # plain Python use (tests, scripts): nothing to display into
        pass
    return value


def _with_stale_note(ctx: "ChapterContext", headline: Any) -> Any:
    """Inside a playbook run, the headline says which of the chapter's inputs are stale (the runner lists them in
    the run's results/stale.json, for its as_of)."""
    from ..inputs.check import STALE_FILE, stale_headline

    if not ctx.upstream_run or ctx._source_dir is None:
        return headline
    try:
        stale = json.loads((ctx._source_dir / RESULTS_DIR / STALE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return headline
    if parse_as_of(stale.get("as_of"), ctx.timezone) != ctx.as_of:
        return headline
    return stale_headline(headline, stale.get("chapters", {}).get(ctx.chapter, []))


def _summary(value: Any) -> str:
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return f"table of {len(value)} rows x {value.shape[1]} columns"
    text = json.dumps(to_jsonable(value), ensure_ascii=False, default=str)
    return text if len(text) <= 160 else text[:157] + "..."


def read_notebook_records(nb: Any) -> dict:
    """Results recorded in an executed notebook (a path or an nbformat node), in order; later wins."""
    import nbformat

    if not hasattr(nb, "cells"):
        nb = nbformat.read(str(nb), as_version=4)
    results: dict = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            payload = output.get("data", {}).get(RECORD_MIME)
            if payload:
                if isinstance(payload, str):
                    payload = json.loads(payload)
                results[payload["name"]] = payload["value"]
    return results


def spike_state() -> dict:
    """The spike's state as of this chapter's ``as_of`` (phase with its evidence, stock position, ledger): the one
    the runner derived once for this run (``results/state.json``), or, for a notebook stepped through on its own,
    derived now from the spike's files by the same function."""
    ctx = current()
    if ctx._source_dir is not None:
        path = ctx._source_dir / RESULTS_DIR / "state.json"
        if path.exists():
            found = json.loads(path.read_text(encoding="utf-8"))
            if str(found.get("as_of")) == ctx.as_of.isoformat():
                return found
    from ..inputs.settings import load_playbook, load_spike
    from ..inputs.state import derive_for_run

    return derive_for_run(load_playbook(), load_spike(ctx.spike), ctx.as_of)
