"""A run's decisions as a short text (``spike show``): what was decided, on what data, with which settings."""
from __future__ import annotations

import json
from pathlib import Path

from ..core.record import _TYPE


def _plain(value):
    """Typed JSON (timestamps, tables) as a reader wants to see it."""
    if isinstance(value, dict):
        if value.get(_TYPE) in {"timestamp", "date"}:
            return value["value"]
        if value.get(_TYPE) == "dataframe":
            return f"(table, {len(value['records'])} rows)"
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _short(value) -> str:
    value = _plain(value)
    if isinstance(value, dict) and value.get(_TYPE) == "dataframe":
        return f"(table, {len(value['records'])} rows)"
    if isinstance(value, dict) and value.get(_TYPE) in {"timestamp", "date"}:
        return value["value"]
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 100 else text[:97] + "..."


def describe_run(manifest: dict, folder: Path | None = None) -> str:
    m = manifest
    git = m.get("git") or {}
    lines = [
        f"run {m['run_id']}  spike {m['spike']}  as of {m['as_of']}  status {m['status'].upper()}",
        f"  started {m.get('started')}  took {m.get('duration_s')}s  spikekit {m.get('spikekit_version')}"
        f"  commit {(git.get('commit') or '?')[:10]}{' (dirty)' if git.get('dirty') else ''}",
    ]
    if m.get("resumed_from"):
        lines.append(f"  resumed from {m['resumed_from']}")
    if folder is not None:
        lines.append(f"  folder {folder}")
    for key, info in (m.get("inputs") or {}).items():
        lines.append(f"  input {key}: {info['path']} sha256 {info['sha256'][:12]}")
    for cid, ch in m.get("chapters", {}).items():
        dur = f"{ch['duration_s']:.1f}s" if ch.get("duration_s") is not None else "-"
        lines.append("")
        lines.append(f"{cid} {ch.get('title', '')}: {ch['status']} ({dur})"
                     + (f", reused from {ch['reused_from']}" if ch.get("reused_from") else ""))
        params = {k: v for k, v in (ch.get("parameters") or {}).items()
                  if k not in {"spike", "as_of", "timezone", "upstream_run"}}
        if params:
            text = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in params.items())
            lines.append(f"  settings: {text if len(text) <= 300 else text[:297] + '...'}")
        results = ch.get("results") or {}
        if "headline" in results:
            lines.append(f"  => {results['headline']}")
        for name, value in results.items():
            if name != "headline":
                lines.append(f"  {name}: {_short(value)}")
        err = ch.get("error")
        if err and ch["status"] in {"failed", "skipped"}:
            where = f" in cell {err['cell']}" if err.get("cell") is not None else ""
            lines.append(f"  error{where}: {err.get('ename')}: {str(err.get('evalue'))[:300]}")
    return "\n".join(lines)
