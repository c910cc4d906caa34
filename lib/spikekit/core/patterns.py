"""The pattern library: past spikes' life curves (recorded runs plus the seed files in the playbook's patterns folder)
and the life prior drawn from them. Written by chapter 12, read by chapter 06's prior through the spike state
and by `spike library`, so it lives below the chapters.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from .lifecycle_fit import LifecyclePrior


PATTERN_KEYS = ("spike", "as_of", "takeoff", "peak_day", "life_days", "m", "p", "q", "shape", "source")


def _plain(value):
    from .record import from_jsonable

    return from_jsonable(value)


def _entry_ok(entry: Any) -> bool:
    return isinstance(entry, dict) and entry.get("spike") and entry.get("as_of") and isinstance(entry.get("shape"), list)


def _days_known(entry: Mapping[str, Any]) -> int:
    return int(sum(v is not None and math.isfinite(float(v)) for v in entry.get("shape") or []))


def load_library(records_root=None, seeds_dir="patterns", before=None,
                 exclude_spike: str | None = None, min_days: int = 10) -> pd.DataFrame:
    """The pattern library: seed entries (``seeds_dir``/*.json) plus the ``pattern_entry`` chapter 12 recorded in
    earlier runs under ``records_root`` (``<records>/<spike>/<run>/results/12.json``).

    Time discipline: only entries with as_of <= ``before`` (when given); the latest such entry per spike wins.
    ``exclude_spike`` leaves out the spike being planned. Column ``kind`` says where an entry comes from ("seed":
    the synthetic seed files; "record": a chapter-12 run) and ``exited`` whether that run saw the spike exited
    (a completed past spike; seeds never are). Entries whose shape knows fewer than ``min_days`` days
    after the takeoff (a retrospective run while the spike was still rising) are skipped: their peak and life
    would be the prior talking, not the spike. Nothing is written: the records root is the library's growing part. One row per spike with the PATTERN_KEYS columns (shape is a list), sorted by spike.
    """
    entries: list[dict] = []
    if seeds_dir is not None and not Path(seeds_dir).is_absolute():  # relative to the playbook folder, not the cwd
        from .paths import playbook_dir

        seeds_dir = playbook_dir() / seeds_dir
    if seeds_dir is not None and Path(seeds_dir).is_dir():
        for path in sorted(Path(seeds_dir).glob("*.json")):
            try:
                entry = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
            if _entry_ok(entry) and _days_known(entry) >= min_days:
                entries.append({**entry, "origin": str(path), "kind": "seed", "exited": False})
    if records_root is not None and Path(records_root).is_dir():
        for results in sorted(Path(records_root).glob("*/*/results/12.json")):
            try:
                data = json.loads(results.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
            entry = _plain(data.get("pattern_entry")) if isinstance(data, dict) else None
            if _entry_ok(entry) and _days_known(entry) >= min_days:
                # A completed exit: the chapter-12 run that recorded the entry saw the spike exited.
                exited = _plain(data.get("phase")) == "exited" and not _plain(data.get("interim"))
                entries.append({**entry, "origin": str(results.parent.parent), "kind": "record", "exited": exited})
    columns = list(PATTERN_KEYS) + ["label", "origin", "kind", "exited"]
    if not entries:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(entries).reindex(columns=columns)
    stamps = pd.to_datetime(frame["as_of"], utc=True, format="ISO8601")
    if before is not None:
        cut = pd.Timestamp(before)
        cut = cut.tz_localize("Asia/Shanghai") if cut.tzinfo is None else cut
        frame, stamps = frame[stamps <= cut], stamps[stamps <= cut]
    if exclude_spike is not None:
        keep = frame["spike"] != exclude_spike
        frame, stamps = frame[keep], stamps[keep]
    frame = frame.assign(_t=stamps).sort_values(["spike", "_t"], kind="stable").groupby("spike").tail(1)
    return frame.drop(columns="_t").sort_values("spike").reset_index(drop=True)


def priors_from_library(library: pd.DataFrame | None, default: LifecyclePrior = LifecyclePrior(),
                        min_spikes: int = 2, sd_floor: float = 1.0) -> tuple[LifecyclePrior, pd.DataFrame]:
    """A lifecycle prior for the next spike learned from the library, and the evidence table.

    With n usable spikes (peak_day and life_days known), each mean is shrunk toward the handbook default with
    weight n / (n + min_spikes): one spike moves the prior a third of the way, many spikes take it over. The sd
    is the library's spread (sample sd; the handbook's sd when n < 2), blended the same way, never below
    ``sd_floor`` days. The life span is kept after the peak. Evidence: one row per spike, then the handbook and
    the resulting prior.
    """
    columns = ["row", "spike", "peak_day", "life_days", "weight"]
    usable = pd.DataFrame(columns=["spike", "peak_day", "life_days"])
    if library is not None and len(library):
        usable = library[["spike", "peak_day", "life_days"]].dropna()
        usable = usable[(usable["peak_day"].astype(float) > 0)
                        & (usable["life_days"].astype(float) > usable["peak_day"].astype(float))]
    n = len(usable)
    weight = n / (n + max(float(min_spikes), 0.0)) if n else 0.0
    peaks, lives = usable["peak_day"].astype(float).to_numpy(), usable["life_days"].astype(float).to_numpy()

    def blend(values, prior_mean, prior_sd):
        if n == 0:
            return prior_mean, prior_sd
        mean = weight * float(values.mean()) + (1 - weight) * prior_mean
        spread = float(values.std(ddof=1)) if n >= 2 else prior_sd
        return mean, max(weight * spread + (1 - weight) * prior_sd, sd_floor)

    peak, peak_sd = blend(peaks, default.peak_day, default.peak_day_sd)
    life, life_sd = blend(lives, default.life_days, default.life_days_sd)
    life = max(life, peak + 1.0)
    prior = LifecyclePrior(peak_day=round(peak, 3), peak_day_sd=round(peak_sd, 3), life_days=round(life, 3),
                           life_days_sd=round(life_sd, 3), life_share=default.life_share, market=default.market,
                           market_log_sd=default.market_log_sd)
    rows = [{"row": "library spike", "spike": s, "peak_day": float(pk), "life_days": float(lf),
             "weight": weight / n} for s, pk, lf in zip(usable["spike"], peaks, lives)]
    rows.append({"row": "handbook default", "spike": None, "peak_day": default.peak_day,
                 "life_days": default.life_days, "weight": 1 - weight})
    rows.append({"row": "prior used", "spike": None, "peak_day": prior.peak_day, "life_days": prior.life_days,
                 "weight": 1.0})
    evidence = pd.DataFrame(rows, columns=columns)
    evidence.attrs.update(n_spikes=n, library_weight=weight)
    return prior, evidence
