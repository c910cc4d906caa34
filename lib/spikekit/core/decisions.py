"""The decisions recorded across runs of a spike: its finished runs (``spike_runs``), each chapter's call in a run
(``chapter_decision``) and the decision log (``decision_log``): one row per chapter per run.

Read by chapter 10's brief, chapter 12's retrospective and the record site, so it lives below all of them.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import pandas as pd


# The name under which a chapter states its call (the first one present wins).
DECISION_NAMES = ("decision", "verdict", "exit_decision")


LOG_COLUMNS = ["as_of", "run_id", "run_status", "chapter", "title", "chapter_status", "decision", "headline"]


def chapter_decision(values: Mapping[str, Any]) -> Any:
    for name in DECISION_NAMES:
        if values.get(name) is not None:
            return values[name]
    return None


def _plain(value: Any) -> Any:
    """A recorded value back from its run.json form (tables and timestamps are tagged there)."""
    from .record import from_jsonable

    return from_jsonable(value)


def spike_runs(records_root: str | Path, spike: str, as_of: Any = None) -> tuple[list[dict], list[str]]:
    """The finished runs of ``spike`` (``<records>/<spike>/*/run.json``) evaluated at or before ``as_of`` (all when
    None), oldest first: dicts with run_id, as_of, meta (the manifest) and folder; plus the unreadable manifests.
    Chapters 10 and 12 and the decision log read the record through this one place."""
    folder = Path(records_root) / spike
    runs, skipped = [], []
    cutoff = pd.Timestamp(as_of) if as_of is not None else None
    for manifest in sorted(folder.glob("*/run.json")) if folder.is_dir() else []:
        try:
            meta = json.loads(manifest.read_text(encoding="utf-8"))
            run_as_of = pd.Timestamp(meta["as_of"])
        except (OSError, ValueError, KeyError, TypeError):
            skipped.append(str(manifest))
            continue
        if cutoff is not None and run_as_of > (cutoff if cutoff.tzinfo or run_as_of.tzinfo is None
                                                else cutoff.tz_localize(run_as_of.tzinfo)):
            continue
        runs.append({"run_id": meta.get("run_id", manifest.parent.name), "as_of": run_as_of, "meta": meta,
                     "folder": manifest.parent})
    runs.sort(key=lambda r: (r["as_of"].value, r["run_id"]))
    return runs, skipped


def decision_log(records_root: str | Path, spike: str, as_of: Any = None,
                 timezone: str = "Asia/Shanghai") -> pd.DataFrame:
    """One row per chapter per run of ``spike`` (records/<spike>/*/run.json): when it was evaluated (as_of),
    which run, the chapter's call and headline (as_of shown in ``timezone``). Runs evaluated after ``as_of`` (when given) are left out, so a
    replay of an earlier day does not see later decisions. Unreadable manifests are skipped and listed in
    ``frame.attrs['skipped']``."""
    runs, skipped = spike_runs(records_root, spike, as_of)
    rows = []
    for run in runs:
        meta, run_as_of = run["meta"], run["as_of"]
        for chapter, entry in sorted((meta.get("chapters") or {}).items()):
            values = {k: _plain(v) for k, v in (entry.get("results") or {}).items()}
            decision = chapter_decision(values)
            rows.append({"as_of": run_as_of, "run_id": run["run_id"],
                         "run_status": meta.get("status"), "chapter": chapter, "title": entry.get("title"),
                         "chapter_status": entry.get("status"),
                         "decision": None if decision is None else str(decision),
                         "headline": values.get("headline")})
    frame = pd.DataFrame(rows, columns=LOG_COLUMNS)
    if not frame.empty:
        # One zone for sorting and display (runs may carry different offsets).
        frame["as_of"] = pd.to_datetime(frame["as_of"], utc=True).dt.tz_convert(timezone)
        frame = frame.sort_values(["as_of", "run_id", "chapter"], kind="stable").reset_index(drop=True)
    frame.attrs["skipped"] = skipped
    return frame
