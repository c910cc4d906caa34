"""The hourly refresh of the whole playbook with reuse by key, against a full run, side by side in one invocation.

A scratch data root holds the starry-mug sample cut at as_of T (every dated table keeps its rows stamped <= T;
the hourly traffic and funnel tables stop an hour earlier). Each repeat, on an empty scratch records root:

1. full run at T (`spike run --fresh`): every chapter executes;
2. the hour T-1h..T of traffic and funnel arrives late (only those two tables change), rerun at the same T:
   reuse by key (`spike run`);
3. the next hour T..T+1h of traffic and funnel arrives, the hourly refresh as of T+1h (`spike run`).

Whole-process wall times of the `spike` command, medians of --repeat, and for the last repeat which chapters
reran and why (the ``rerun_because`` key parts of run.json).

    python benchmarks/bench_refresh.py [--repeat 3] [--as-of "2025-03-09 12:00"]
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
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
SPIKE = "starry-mug"
HOURLY = ("traffic", "funnel")


def stamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.strip())


def cut(src: Path, dst: Path, lo: dt.datetime | None, hi: dt.datetime, append: bool = False) -> int:
    """Copy the rows of a CSV whose ``timestamp`` is in (lo, hi] (every row when the table has no such column)."""
    with open(src, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    if "timestamp" in header:
        i = header.index("timestamp")
        body = [r for r in body if (lo is None or stamp(r[i]) > lo) and stamp(r[i]) <= hi]
    with open(dst, "a" if append else "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        if not append:
            out.writerow(header)
        out.writerows(body)
    return len(body)


def spike_run(env: dict, as_of: dt.datetime, records: Path, fresh: bool) -> tuple[float, dict]:
    t0 = time.perf_counter()
    proc = subprocess.run([str(BIN / "spike"), "run", "--spike", SPIKE, "--as-of", f"{as_of:%Y-%m-%d %H:%M}",
                           "--records", str(records)] + (["--fresh"] if fresh else []),
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"spike run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return took, json.loads((Path(proc.stdout.strip().splitlines()[-1]) / "run.json").read_text(encoding="utf-8"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--as-of", default="2025-03-09 12:00")
    args = ap.parse_args()
    t = dt.datetime.fromisoformat(args.as_of)
    hour = dt.timedelta(hours=1)
    load_before = os.getloadavg()
    sample = ROOT / "data" / "samples" / SPIKE
    names = {"full": "full run as of T (--fresh)",
             "late": "same T, the last hour of traffic + funnel arrives",
             "hourly": "hourly refresh as of T+1h, traffic + funnel +1 h"}
    times: dict[str, list[float]] = {k: [] for k in names}
    last: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-refresh-") as tmp:
        data = Path(tmp) / "data" / "samples" / SPIKE
        env = dict(os.environ, SPIKE_DATA_ROOT=str(Path(tmp) / "data"))
        for i in range(args.repeat):
            shutil.rmtree(Path(tmp) / "data", ignore_errors=True)
            data.mkdir(parents=True)
            for src in sample.glob("*.csv"):
                cut(src, data / src.name, None, t - hour if src.stem in HOURLY else t)
            records = Path(tmp) / f"records-{i}"
            times["full"].append((r := spike_run(env, t, records, fresh=True))[0])
            last["full"] = r[1]
            for table in HOURLY:
                cut(sample / f"{table}.csv", data / f"{table}.csv", t - hour, t, append=True)
            times["late"].append((r := spike_run(env, t, records, fresh=False))[0])
            last["late"] = r[1]
            for table in HOURLY:
                cut(sample / f"{table}.csv", data / f"{table}.csv", t, t + hour, append=True)
            times["hourly"].append((r := spike_run(env, t + hour, records, fresh=False))[0])
            last["hourly"] = r[1]
            print(f"repeat {i + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()), file=sys.stderr)
    load_after = os.getloadavg()
    full = statistics.median(times["full"])
    lines = [f"'{SPIKE}', all {len(last['full']['chapters'])} chapters, T = {args.as_of}, {args.repeat} repeats, "
             f"load average {load_before[0]:.1f} before / {load_after[0]:.1f} after (shared 2-core machine); "
             "median wall seconds of the whole `spike run` process"]
    for k, label in names.items():
        m = statistics.median(times[k])
        lines.append(f"  {label:<52} {m:6.1f} s  ({m / full:4.0%} of full)   runs: "
                     + ", ".join(f"{x:.1f}" for x in times[k]))
    lines.append("")
    for k in ("late", "hourly"):
        chapters = last[k]["chapters"]
        reused = [c for c, e in chapters.items() if e["status"] == "reused"]
        lines.append(f"{names[k]}: reused {len(reused)} ({', '.join(reused) or 'none'}); reran:")
        for c, e in chapters.items():
            if e["status"] != "reused":
                lines.append(f"  {c} {e['status']:<7} because {', '.join(e.get('rerun_because') or ['?'])}")
    report = "\n".join(lines)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
