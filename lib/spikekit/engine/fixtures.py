"""Standalone notebooks read upstream results from ``data/samples/<spike>/upstream.json``.

Those fixtures are produced by running the playbook on each sample spike, never written by hand; the
end-to-end tests check that a fresh run still records what the fixture says, so they cannot drift.
"""
from __future__ import annotations

import json
import math
import re
import tempfile
from pathlib import Path

from ..core.paths import data_root


def sample_spikes() -> list[str]:
    from ..inputs.settings import list_spikes

    root = data_root() / "samples"
    return [s for s in list_spikes() if (root / s / "truth.json").exists()]


def upstream_fixture(manifest: dict) -> dict:
    """The results of every chapter that other chapters read, from a run manifest."""
    return {cid: ch["results"] for cid, ch in manifest["chapters"].items() if ch["status"] in {"ok", "reused"}}


# Fitted, optimised and simulated numbers (Bass fits, LP/MIP solutions, logistic regressions) differ in about
# the 7th significant digit between CPUs and BLAS builds; no decision turns on a difference of 0.1%.
FLOAT_REL_TOL = 1e-3
FLOAT_ABS_TOL = 1e-9  # values that are zero in exact arithmetic come out as 1e-18 on some machines

# Early in a spike the Bass fit hardly sees its market size m (fast-fade at its default as_of has three days of
# rise): the likelihood is nearly flat along m, and where the optimiser stops differs by about 2% between machines
# (m = 115.3 on one, 117.0 on another, the same call). m and what is computed from it get a looser tolerance.
LOOSE_REL_TOL = 0.05
LOOSE_RESULTS = {("06", "fit_params"), ("06", "remaining_demand"), ("06", "markdown_plan"), ("06", "headline"),
                 ("12", "pattern_entry")}

# A number printed in a text (headline, brief), whole: not part of a longer number, a date or a clock time
# (2025-03-12, 03-12, 12:00, 57-76 stay text and compare exactly). "8.26:" and "-1.0%" are numbers.
_PRINTED_NUMBER = re.compile(r"(?<![\d.])(?<!\d[:-])(\d+(?:,\d{3})*(?:\.\d+)?)(?!\d|[.,:-]\d)")


def _printed_numbers_agree(a: str, b: str, rel_tol: float) -> bool:
    """Texts equal except for printed numbers within ``rel_tol`` or one unit apart in their last digit (a
    rounding flip of a fitted value: 1791.4192 prints 1791 here and a value a hair above 1791.5 prints 1792
    elsewhere)."""
    parts_a, parts_b = _PRINTED_NUMBER.split(a), _PRINTED_NUMBER.split(b)
    if len(parts_a) != len(parts_b):
        return False
    for i, (x, y) in enumerate(zip(parts_a, parts_b)):
        if i % 2 == 0:  # text between numbers
            if x != y:
                return False
            continue
        decimals = max(len(t.partition(".")[2]) for t in (x, y))
        u, v = float(x.replace(",", "")), float(y.replace(",", ""))
        if abs(u - v) > max(10.0 ** -decimals, rel_tol * max(abs(u), abs(v))) * (1 + 1e-9):
            return False
    return True


def fixture_differences(fresh, stored, path: str = "", rel_tol: float = FLOAT_REL_TOL) -> list[str]:
    """Where two recorded results (JSON-like: dicts, lists, str, int, float, bool, None) disagree.

    Decisions compare exactly: strings, booleans, integers (counts, units, ranks), timestamps (stored as
    strings) and which keys and rows exist. Floats compare within ``rel_tol`` (default: the cross-machine
    tolerance of fitted numbers), and numbers printed inside texts may differ by a rounding flip.
    """
    if isinstance(fresh, bool) or isinstance(stored, bool):
        same = type(fresh) is type(stored) and fresh == stored
    elif isinstance(fresh, float) or isinstance(stored, float):
        same = (isinstance(fresh, (int, float)) and isinstance(stored, (int, float))
                and (math.isclose(fresh, stored, rel_tol=rel_tol, abs_tol=FLOAT_ABS_TOL)
                     or (math.isnan(fresh) and math.isnan(stored))))
    elif isinstance(fresh, dict) and isinstance(stored, dict):
        if set(fresh) != set(stored):
            return [f"{path}: keys {sorted(set(fresh) ^ set(stored))} are in only one of them"]
        return [d for key in fresh for d in fixture_differences(fresh[key], stored[key], f"{path}.{key}", rel_tol)]
    elif isinstance(fresh, list) and isinstance(stored, list):
        if len(fresh) != len(stored):
            return [f"{path}: {len(fresh)} items against {len(stored)}"]
        return [d for i, (x, y) in enumerate(zip(fresh, stored))
                for d in fixture_differences(x, y, f"{path}[{i}]", rel_tol)]
    elif isinstance(fresh, str) and isinstance(stored, str):
        same = fresh == stored or _printed_numbers_agree(fresh, stored, rel_tol)
    else:
        same = type(fresh) is type(stored) and fresh == stored
    return [] if same else [f"{path}: {fresh!r} against {stored!r}"]


def upstream_differences(fresh: dict, stored: dict, name: str = "") -> list[str]:
    """Where a fresh run's upstream fixture (``upstream_fixture``) disagrees with a stored one, beyond what
    differs between machines: ``fixture_differences`` per recorded result, the Bass fit's results (LOOSE_RESULTS)
    within LOOSE_REL_TOL."""
    if set(fresh) != set(stored):
        return [f"{name}: chapters {sorted(set(fresh) ^ set(stored))} are in only one of them"]
    out = []
    for cid in sorted(fresh):
        if set(fresh[cid]) != set(stored[cid]):
            out.append(f"{name}.{cid}: results {sorted(set(fresh[cid]) ^ set(stored[cid]))} are in only one of them")
            continue
        for key in sorted(fresh[cid]):
            tol = LOOSE_REL_TOL if (cid, key) in LOOSE_RESULTS else FLOAT_REL_TOL
            out += fixture_differences(fresh[cid][key], stored[cid][key], f"{name}.{cid}.{key}", rel_tol=tol)
    return out


def refresh_upstream_fixtures(spikes: list[str] | None = None) -> list[Path]:
    from .runner import run

    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for spike in spikes or sample_spikes():
            outcome = run(spike, None, records=tmp)
            if not outcome.ok:
                raise RuntimeError(f"the playbook failed on sample '{spike}'; see {outcome.run_dir}")
            path = data_root() / "samples" / spike / "upstream.json"
            path.write_text(json.dumps(upstream_fixture(outcome.manifest), ensure_ascii=False, indent=1,
                                       sort_keys=True) + "\n", encoding="utf-8")
            written.append(path)
    return written
