"""Standalone notebooks read upstream results from ``data/samples/<spike>/upstream.json``.

Those fixtures are produced by running the playbook on each sample spike, never written by hand; the
end-to-end tests check that a fresh run still records what the fixture says, so they cannot drift.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from .paths import data_root


def sample_spikes() -> list[str]:
    from .settings import list_spikes

    root = data_root() / "samples"
    return [s for s in list_spikes() if (root / s / "truth.json").exists()]


def upstream_fixture(manifest: dict) -> dict:
    """The results of every chapter that other chapters read, from a run manifest."""
    return {cid: ch["results"] for cid, ch in manifest["chapters"].items() if ch["status"] in {"ok", "reused"}}


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
