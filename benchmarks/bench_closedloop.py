"""Closed-loop replays scored: the playbook against the handbook's rules and against hindsight.

For each scenario (the sample spikes, plus scenarios generated from seeds and mixed shapes) a `spike replay
--follow` runs from the day before the validation starts to a few days after the true spike ends, approving every
step's proposals into a simulated shop. The table reports each policy's cost of lost plus leftover units (lost at
the margin, leftovers at unit cost net of salvage), fill rate, lost and leftover units, and the contradictions the
playbook's briefs contained; then the medians over the generated scenarios.

    python benchmarks/bench_closedloop.py --samples starry-mug,fast-fade --generated 20 --every 1d
    python benchmarks/bench_closedloop.py --generated 0 --samples fast-fade --chapters 03,06   # a quick look

On a 2-core machine the 20 generated scenarios take about an hour; they can run as two halves side by side and be
combined into one report:

    python benchmarks/bench_closedloop.py --samples "" --generated 10 --chapters 03,06 --out OUT_A.md &
    python benchmarks/bench_closedloop.py --samples "" --generated 10 --first-seed 11 --chapters 03,06 --out OUT_B.md
    python benchmarks/bench_closedloop.py --combine OUT_A.json,OUT_B.json --out benchmarks/results/closedloop_generated.md

Writes benchmarks/results/closedloop.md (and closedloop.json). Generated scenarios go to a temporary data root and
playbook, so the project's own folders are not touched.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHAPES = ("fast", "slow", "double", "flop", "steady")


def window(truth: dict) -> tuple[str, str]:
    """From the day before the validation starts to two days after the true spike ends (noon, spike time)."""
    import pandas as pd

    start = pd.Timestamp(truth["validation_window"][0]).normalize() - pd.Timedelta(days=1) + pd.Timedelta(hours=12)
    end = pd.Timestamp(truth.get("end_time") or truth["validation_window"][1]).normalize() + pd.Timedelta(days=2, hours=12)
    return start.tz_localize(None).isoformat(sep=" "), end.tz_localize(None).isoformat(sep=" ")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", default="starry-mug,fast-fade")
    parser.add_argument("--generated", type=int, default=20, help="how many generated scenarios (shapes in turn)")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--every", default="1d")
    parser.add_argument("--chapters", default=None, help="chapters each step runs (default: the follow default)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "closedloop.md"))
    parser.add_argument("--combine", default=None, help="comma-separated .json results of earlier runs: only write "
                                                        "their combined report")
    args = parser.parse_args(argv)
    if args.combine:
        rows, commands = [], []
        for path in args.combine.split(","):
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            rows += data["rows"] if isinstance(data, dict) else data
            commands += (data.get("commands") or [data["command"]]) if isinstance(data, dict) else []
        write_report(Path(args.out), rows, commands)
        print(args.out)
        return 0

    work = Path(tempfile.mkdtemp(prefix="spike-closedloop-"))
    data, playbook, records = work / "data", work / "playbook", work / "records"
    shutil.copytree(ROOT / "data", data, ignore=shutil.ignore_patterns("ledger", "replays", "generated"))
    shutil.copytree(ROOT / "playbook", playbook)
    os.environ.update(SPIKE_DATA_ROOT=str(data), SPIKE_PLAYBOOK=str(playbook), SPIKE_RECORDS=str(records))
    from spikekit import samples
    from spikekit.engine.closedloop import follow_replay

    scenarios = [(name, "sample", json.loads((data / "samples" / name / "truth.json").read_text(encoding="utf-8")))
                 for name in [s for s in args.samples.split(",") if s]]
    for i in range(args.generated):
        shape = SHAPES[i % len(SHAPES)]
        seed = args.first_seed + i
        name = f"gen-{shape}-{seed}"
        samples.main(["new", name, "--seed", str(seed), "--shape", shape, "--data-root", str(data),
                      "--playbook", str(playbook)])
        truth = json.loads((data / "generated" / name / "truth.json").read_text(encoding="utf-8"))
        scenarios.append((name, shape, truth))
    rows = []
    chapters = args.chapters.split(",") if args.chapters else None
    for name, kind, truth in scenarios:
        start, end = window(truth)
        t0 = time.time()
        done = follow_replay(name, start, end, every=args.every, chapters=chapters, records=records,
                             progress=open(os.devnull, "w"))
        o = done.outcome
        rows.append({"scenario": name, "kind": kind, "from": start, "to": end, "seconds": round(time.time() - t0, 1),
                     **{f"{p}.{k}": o[p][k] for p in ("playbook", "handbook", "hindsight")
                        for k in ("cost_lost_plus_leftover", "fill_rate", "lost_units", "leftover_units",
                                  "first_order_at")},
                     "contradictions": len(o["contradictions"]),
                     "contradiction_texts": sorted({c["text"] for c in o["contradictions"]})})
        print(f"{name}: playbook {o['playbook']['cost_lost_plus_leftover']:,.0f} handbook "
              f"{o['handbook']['cost_lost_plus_leftover']:,.0f} hindsight {o['hindsight']['cost_lost_plus_leftover']:,.0f}"
              f" contradictions {len(o['contradictions'])} ({rows[-1]['seconds']} s)", file=sys.stderr, flush=True)
    command = (f"python benchmarks/bench_closedloop.py --samples '{args.samples}' --generated {args.generated} "
               f"--first-seed {args.first_seed} --every {args.every}" +
               (f" --chapters {args.chapters}" if args.chapters else ""))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"command": command, "rows": rows}, ensure_ascii=False, indent=1),
                                        encoding="utf-8")
    write_report(out, rows, [command])
    print(out)
    shutil.rmtree(work, ignore_errors=True)
    return 0


def write_report(out: Path, rows: list[dict], commands: list[str]) -> None:
    lines = ["# Closed-loop replays: playbook vs handbook vs hindsight", "",
             "Command(s): " + "; ".join(f"`{c}`" for c in commands), "",
             "Cost = lost units x margin + leftover units x (unit cost - salvage); lower is better. Lost = the "
             "scenario's demand not served; fill = share of that demand served.", "",
             "| scenario | kind | playbook cost | handbook cost | hindsight cost | fill (p / h / hs) | lost (p / h) | "
             "leftover (p / h) | contradictions |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['scenario']} | {r['kind']} | {r['playbook.cost_lost_plus_leftover']:,.0f} | "
                     f"{r['handbook.cost_lost_plus_leftover']:,.0f} | {r['hindsight.cost_lost_plus_leftover']:,.0f} | "
                     f"{r['playbook.fill_rate']:.2f} / {r['handbook.fill_rate']:.2f} / {r['hindsight.fill_rate']:.2f} | "
                     f"{r['playbook.lost_units']:,.0f} / {r['handbook.lost_units']:,.0f} | "
                     f"{r['playbook.leftover_units']:,.0f} / {r['handbook.leftover_units']:,.0f} | {r['contradictions']} |")
    for kind, label in ((lambda r: r["kind"] == "sample", "sample"), (lambda r: r["kind"] != "sample", "generated")):
        chosen = [r for r in rows if kind(r)]
        if not chosen:
            continue
        med = {p: statistics.median(r[f"{p}.cost_lost_plus_leftover"] for r in chosen)
               for p in ("playbook", "handbook", "hindsight")}
        wins = sum(r["playbook.cost_lost_plus_leftover"] < r["handbook.cost_lost_plus_leftover"] for r in chosen)
        ties = sum(r["playbook.cost_lost_plus_leftover"] == r["handbook.cost_lost_plus_leftover"] for r in chosen)
        lines += ["", f"Median over {len(chosen)} {label} scenario(s): playbook {med['playbook']:,.0f}, handbook "
                      f"{med['handbook']:,.0f}, hindsight {med['hindsight']:,.0f}; the playbook costs less than the "
                      f"handbook on {wins} of {len(chosen)}, the same on {ties}."]
    texts = sorted({t for r in rows for t in r["contradiction_texts"]})
    lines += ["", "Contradictions seen: " + ("none" if not texts else "; ".join(texts))]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
