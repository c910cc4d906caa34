"""`spike run` against a naive serial loop of `papermill` commands, and against the plain-Python floor.

Both notebook sides do the same work: every chapter executed in its own fresh kernel, an executed notebook
and an HTML copy per chapter. The naive side is what a team writes first: a shell-style loop calling the
`papermill` command and then `jupyter nbconvert --to html` per chapter. The floor is the same chapter code
without Jupyter: each notebook's code cells, its parameters injected, run as a script in a fresh `python`
process, two at a time following the chapter graph (no kernel, no notebook, no HTML). Whole-process wall
times, medians of --repeat runs, measured in one invocation so the ratios compare like with like.

    python benchmarks/bench_playbook.py [--spike starry-mug] [--chapters 01,02,...] [--repeat 3]

--chapters defaults to every chapter of the playbook.
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


def chapter_scripts(out_dir: Path, params: dict[str, dict]) -> dict[str, Path]:
    """Each chapter as a plain script: papermill's parameter injection, then the code cells joined, magics and
    shell escapes left out (they are IPython, not Python)."""
    import nbformat
    from papermill.parameterize import parameterize_notebook

    scripts = {}
    for cid, chapter in params.items():
        nb = nbformat.read(str(ROOT / "notebooks" / chapter["notebook"]), as_version=4)
        nb.metadata.setdefault("papermill", {})
        for cell in nb.cells:
            cell.metadata.setdefault("tags", [])
        nb = parameterize_notebook(nb, dict(chapter["parameters"], upstream_run=""))
        lines = ["from IPython.display import display  # a notebook builtin the chapters call", ""]
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            for line in cell.source.splitlines():
                if line.lstrip().startswith(("%", "!")):
                    continue
                lines.append(line)
            lines.append("")
        path = out_dir / f"{cid}.py"
        path.write_text("\n".join(lines), encoding="utf-8")
        scripts[cid] = path
    return scripts


def floor_run(scripts: dict[str, Path], needs: dict[str, list[str]], workers: int = 2) -> float:
    """The scripts in fresh `python` processes, `workers` at a time, each started once what it needs is done."""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    t0 = time.perf_counter()
    pending, running, done = list(scripts), {}, set()
    while pending or running:
        for cid in [c for c in pending if all(n in done or n not in scripts for n in needs.get(c, []))]:
            if len(running) >= workers:
                break
            log = scripts[cid].with_suffix(".log").open("wb")  # a file, not a pipe nobody drains while it runs
            running[cid] = subprocess.Popen([sys.executable, str(scripts[cid])], cwd=ROOT / "notebooks", env=env,
                                            stdout=subprocess.DEVNULL, stderr=log)
            log.close()
            pending.remove(cid)
        if not running:
            raise RuntimeError(f"chapters {pending} wait for chapters that are not in the run")
        finished = None
        while finished is None:
            for cid, proc in running.items():
                if proc.poll() is not None:
                    finished = cid
                    break
            else:
                time.sleep(0.01)
        proc = running.pop(finished)
        if proc.returncode != 0:
            errors = scripts[finished].with_suffix(".log").read_text(encoding="utf-8", errors="replace")
            raise RuntimeError(f"chapter {finished} failed as a plain script (exit {proc.returncode}):\n{errors[-2000:]}")
        done.add(finished)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spike", default="starry-mug")
    ap.add_argument("--chapters", default=None, help="comma-separated chapter ids (default: all in the playbook)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    if not args.chapters:
        sys.path.insert(0, str(ROOT / "lib"))
        from spikekit.inputs.settings import load_playbook

        args.chapters = ",".join(load_playbook().order(None))
    tmp = Path(tempfile.mkdtemp(prefix="bench-playbook-"))
    try:
        records = tmp / "records"
        # One warm-up run (page cache, .pyc files) that also gives the exact parameters per chapter.
        spike_run(args.spike, args.chapters, records)
        manifest = json.loads(next(records.glob("*/*/run.json")).read_text(encoding="utf-8"))
        params = manifest["chapters"]
        launch = manifest["kernel"].get("launch", "spawn")
        scripts = chapter_scripts(tmp, params)
        needs = {cid: chapter["needs"] for cid, chapter in params.items()}
        floor_run(scripts, needs, manifest["workers"])  # warm-up, and a check that every script runs
        times = {"spike run": [], "naive papermill loop": [], "naive papermill + nbconvert loop": [],
                 "plain Python floor": []}
        for i in range(args.repeat):
            times["spike run"].append(spike_run(args.spike, args.chapters, records))
            for label, html in (("naive papermill loop", False), ("naive papermill + nbconvert loop", True)):
                out = tmp / f"naive-{i}-{html}"
                out.mkdir()
                times[label].append(naive_loop(out, params, html))
            times["plain Python floor"].append(floor_run(scripts, needs, manifest["workers"]))
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"chapters {args.chapters} of '{args.spike}', {args.repeat} runs each, {os.cpu_count()} cores, "
              f"kernels started by {launch}, load average {os.getloadavg()[0]:.1f}; median wall seconds")
        for label, values in times.items():
            print(f"  {label:<34} {med[label]:6.2f} s   runs: {', '.join(f'{v:.2f}' for v in values)}")
        print(f"  ratio spike run / naive loop with HTML   : {med['spike run'] / med['naive papermill + nbconvert loop']:.2f}")
        print(f"  ratio spike run / naive loop without HTML: {med['spike run'] / med['naive papermill loop']:.2f}")
        print(f"  ratio spike run / plain Python floor     : {med['spike run'] / med['plain Python floor']:.2f}")
        print(f"  ratio floor / naive loop with HTML       : {med['plain Python floor'] / med['naive papermill + nbconvert loop']:.2f}")
    finally:
        for folder, _dirs, _files in os.walk(tmp):  # sealed run folders are read-only (0555)
            os.chmod(folder, 0o755)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
