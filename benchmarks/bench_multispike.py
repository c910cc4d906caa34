"""Many spikes on one pool: one `spike run --spike a,b,c` against the same spikes run one after another.

Generated scenarios (``spike samples new``-style: seeds and shapes in turn) are written into a temporary data root
and playbook, so the project's own folders are not touched. For each count of spikes (default 1, 5 and 20) the
same spikes and chapters are run both ways, in one invocation, with the same --workers; whole-command wall times,
and throughput in chapters executed per minute.

    python benchmarks/bench_multispike.py --counts 1,5,20 --chapters 01,02,07
    python benchmarks/bench_multispike.py --counts 1 --chapters 01 --out benchmarks/out/quick.md      # a quick look

``--baseline-lib DIR`` also times a full single-spike `spike run --spike starry-mug` (every chapter) ``--repeat``
times with this checkout's code and with the spikekit package in DIR/spikekit (e.g. an older commit's ``lib``
exported with ``git archive``), alternating, on this checkout's notebooks, playbook and data.

Writes benchmarks/results/multispike.md (and .json).
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

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SHAPES = ("fast", "slow", "double", "flop", "steady")


def spike_cmd(args: list[str], env: dict, records: Path) -> tuple[float, int]:
    t0 = time.perf_counter()
    proc = subprocess.run([str(BIN / "spike"), "run", *args, "--records", str(records)], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return time.perf_counter() - t0, proc.returncode


def executed_chapters(records: Path) -> tuple[int, int]:
    """(chapters executed, of which failed) over every run record under ``records``."""
    done = failed = 0
    for manifest in records.glob("*/*/run.json"):
        for chapter in json.loads(manifest.read_text(encoding="utf-8"))["chapters"].values():
            done += chapter["status"] in {"ok", "failed"}
            failed += chapter["status"] == "failed"
    return done, failed


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,5,20", help="how many spikes per comparison")
    parser.add_argument("--chapters", default="01,02,07", help="chapters each spike runs (upstream ones are added)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--baseline-lib", default=None, help="a folder holding an older spikekit package")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side of the --baseline-lib comparison")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "multispike.md"))
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.counts.split(",") if c]

    work = Path(tempfile.mkdtemp(prefix="spike-multispike-"))
    data, playbook = work / "data", work / "playbook"
    shutil.copytree(ROOT / "data", data, ignore=shutil.ignore_patterns("ledger", "replays", "generated"))
    shutil.copytree(ROOT / "playbook", playbook)
    env = dict(os.environ, SPIKE_DATA_ROOT=str(data), SPIKE_PLAYBOOK=str(playbook))
    names = []
    for i in range(max(counts, default=0)):
        shape, seed = SHAPES[i % len(SHAPES)], args.first_seed + i
        name = f"gen-{shape}-{seed}"
        subprocess.run([sys.executable, "-m", "spikekit.samples", "new", name, "--seed", str(seed), "--shape", shape,
                        "--data-root", str(data), "--playbook", str(playbook)], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        names.append(name)

    rows, loads = [], [load_average()]
    common = ["--chapters", args.chapters, "--workers", str(args.workers)]
    for n in counts:
        spikes = names[:n]
        together_dir, serial_dir = work / f"together-{n}", work / f"serial-{n}"
        together_s, code = spike_cmd(["--spike", ",".join(spikes), *common], env, together_dir)
        serial_s, serial_codes = 0.0, []
        for name in spikes:
            seconds, one_code = spike_cmd(["--spike", name, *common], env, serial_dir)
            serial_s += seconds
            serial_codes.append(one_code)
        (t_done, t_failed), (s_done, s_failed) = executed_chapters(together_dir), executed_chapters(serial_dir)
        rows.append({"spikes": n, "together_s": round(together_s, 1), "together_exit": code,
                     "together_chapters": t_done, "together_failed": t_failed,
                     "serial_s": round(serial_s, 1), "serial_exit": max(serial_codes),
                     "serial_chapters": s_done, "serial_failed": s_failed})
        loads.append(load_average())
        print(f"{n} spikes: one pool {together_s:.1f} s ({t_done} chapters), one after another {serial_s:.1f} s "
              f"({s_done} chapters)", file=sys.stderr, flush=True)

    single = None
    if args.baseline_lib:
        single = {"this": [], "baseline": []}
        full_env = dict(os.environ)
        base_env = dict(full_env, PYTHONPATH=os.pathsep.join([str(Path(args.baseline_lib).resolve()),
                                                               full_env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
                        SPIKE_ROOT=str(ROOT))
        for i in range(args.repeat):
            for side, side_env in (("baseline", base_env), ("this", full_env)) if i % 2 else \
                    (("this", full_env), ("baseline", base_env)):
                seconds, one_code = spike_cmd(["--spike", "starry-mug"], side_env, work / f"single-{side}-{i}")
                if one_code != 0:
                    print(f"single-spike run ({side}) exited {one_code}", file=sys.stderr)
                single[side].append(round(seconds, 2))
        loads.append(load_average())

    command = (f"python benchmarks/bench_multispike.py --counts {args.counts} --chapters {args.chapters} "
               f"--workers {args.workers} --first-seed {args.first_seed}"
               + (f" --baseline-lib DIR --repeat {args.repeat}" if args.baseline_lib else ""))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"command": command, "spikes": names, "rows": rows,
                                                    "single_spike": single, "load_averages": loads}, indent=1),
                                        encoding="utf-8")
    write_report(out, command, args, names, rows, single, loads)
    shutil.rmtree(work, ignore_errors=True)
    print(out)
    return 0


def write_report(out: Path, command: str, args, names, rows, single, loads) -> None:
    per_min = lambda chapters, seconds: chapters / seconds * 60 if seconds else 0.0  # noqa: E731
    lines = [
        "# Many spikes on one pool vs one after another",
        "",
        f"Command: `{command}`",
        "",
        f"Generated scenarios {', '.join(names)} (shapes in turn, seeds from {args.first_seed}); chapters "
        f"{args.chapters} per spike (upstream chapters added), --workers {args.workers} both ways. Whole-command "
        "wall seconds, measured side by side in one invocation. This machine has 2 cores and is shared with "
        f"other people's work: load averages (1, 5, 15 min) at the start and after each comparison: {'; '.join(loads)}.",
        "",
        "| spikes | one pool (`--spike a,b,...`) | one after another | speed-up | chapters | chapters/min one pool | "
        "chapters/min one after another | exit codes (pool / serial) |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(f"| {r['spikes']} | {r['together_s']:.1f} s | {r['serial_s']:.1f} s | "
                     f"{r['serial_s'] / r['together_s']:.2f}x | {r['together_chapters']} / {r['serial_chapters']} | "
                     f"{per_min(r['together_chapters'], r['together_s']):.1f} | "
                     f"{per_min(r['serial_chapters'], r['serial_s']):.1f} | {r['together_exit']} / {r['serial_exit']} |")
    if single:
        med = {k: statistics.median(v) for k, v in single.items()}
        lines += [
            "",
            "## Full single-spike run before and after the runner's refactor",
            "",
            f"`spike run --spike starry-mug` (every chapter), {len(single['this'])} runs per side, alternating; "
            "baseline = the spikekit package given by --baseline-lib, on the same notebooks, playbook and data.",
            "",
            "| code | median | runs |",
            "|---|---:|---|",
            f"| this checkout | {med['this']:.1f} s | {', '.join(f'{s:.1f}' for s in single['this'])} |",
            f"| baseline | {med['baseline']:.1f} s | {', '.join(f'{s:.1f}' for s in single['baseline'])} |",
            "",
            f"Ratio this / baseline: {med['this'] / med['baseline']:.2f}.",
        ]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
