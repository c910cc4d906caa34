"""`spike run` against a naive serial loop of `papermill` commands over the same notebooks and parameters.

Both sides do the same work: every chapter executed in its own fresh kernel, an executed notebook and an
HTML copy per chapter. The naive side is what a team writes first: a shell-style loop calling the
`papermill` command and then `jupyter nbconvert --to html` per chapter. Whole-process wall times, medians of
--repeat runs, measured in one invocation so the ratio compares like with like.

    python benchmarks/bench_playbook.py [--spike starry-mug] [--chapters 01,02] [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def spike_run(spike: str, chapters: str, records: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([str(BIN / "spike"), "run", "--spike", spike, "--chapters", chapters, "--records", str(records)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def naive_loop(run_dir: Path, params: dict[str, dict], html: bool) -> float:
    """The same chapters, one `papermill` command each (parameters from the manifest), then nbconvert."""
    t0 = time.perf_counter()
    for cid, chapter in params.items():
        out = run_dir / chapter["notebook"]
        pfile = run_dir / f"{cid}.params.yaml"
        parameters = dict(chapter["parameters"], upstream_run="")  # standalone: the sample fixture upstream
        pfile.write_text(yaml.safe_dump(parameters, allow_unicode=True), encoding="utf-8")
        subprocess.run([str(BIN / "papermill"), str(ROOT / "notebooks" / chapter["notebook"]), str(out),
                        "-k", "spikekit", "-f", str(pfile), "--cwd", str(ROOT / "notebooks")],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if html:
            subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "html", str(out)],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spike", default="starry-mug")
    ap.add_argument("--chapters", default="01,02")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-playbook-"))
    try:
        records = tmp / "records"
        # One warm-up run (page cache, .pyc files) that also gives the exact parameters per chapter.
        spike_run(args.spike, args.chapters, records)
        manifest = json.loads(next(records.glob("*/*/run.json")).read_text(encoding="utf-8"))
        params = manifest["chapters"]
        times = {"spike run": [], "naive papermill loop": [], "naive papermill + nbconvert loop": []}
        for i in range(args.repeat):
            times["spike run"].append(spike_run(args.spike, args.chapters, records))
            for label, html in (("naive papermill loop", False), ("naive papermill + nbconvert loop", True)):
                out = tmp / f"naive-{i}-{html}"
                out.mkdir()
                times[label].append(naive_loop(out, params, html))
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"chapters {args.chapters} of '{args.spike}', {args.repeat} runs each, {os.cpu_count()} cores; median wall seconds")
        for label, values in times.items():
            print(f"  {label:<34} {med[label]:6.2f} s   runs: {', '.join(f'{v:.2f}' for v in values)}")
        print(f"  ratio spike run / naive loop with HTML   : {med['spike run'] / med['naive papermill + nbconvert loop']:.2f}")
        print(f"  ratio spike run / naive loop without HTML: {med['spike run'] / med['naive papermill loop']:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
