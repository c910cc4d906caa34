"""Benchmark of `spike scan`: load a signals Parquet file and run the early-warning detector on it.

Budget (10,000 series x 90 days hourly = 21.6 M rows): load + detect <= 3 s wall, <= 2 GiB peak RSS on the
2-core machine. Every measurement runs in its own child process, so its peak RSS (``ru_maxrss`` of that
child, from ``os.wait4``) is real and nothing is shared between runs. The child times its own phases:
import of the libraries, load (``contracts.load_signals``), detect (``signals.scan_table``); the parent
adds the child's whole wall time (Python start-up and imports included).

Data come from ``benchmarks/make_signals.py`` (``make_signals_parquet``) and are written to
``benchmarks/out/`` (git-ignored) once per size.

Usage: python benchmarks/bench_scan.py [--sizes 1000 10000 100000] [--repeat 3] [--days 90]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
GIB = 1024**3
BYTES_PER_ROW_LOADED = 40  # measured peak of the loader per row (timestamp, value, codes, Arrow buffers)

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from spikekit import contracts, signals
sys.path.insert(0, {here!r})
from make_signals import spiking_series
t1 = time.perf_counter()
frame = contracts.load_signals({name!r}, data_root={out!r})
t2 = time.perf_counter()
result = signals.scan_table(frame)
t3 = time.perf_counter()
positives = set(spiking_series({n_series}))
flagged = result[result["status"] != "quiet"]
keys = set(zip(flagged["keyword"], flagged["platform"]))
print(json.dumps({{
    "import_s": t1 - t0, "load_s": t2 - t1, "detect_s": t3 - t2, "rows": len(frame),
    "series": len(result), "statuses": result["status"].value_counts().to_dict(),
    "positives_flagged": len(keys & positives), "positives": len(positives),
    "negatives_flagged": len(keys - positives),
    "maxrss_self_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}}))
"""


def data_file(n_series: int, days: int) -> Path:
    path = OUT / f"signals_{n_series}x{days}d.parquet"
    if not path.exists():
        sys.path.insert(0, str(HERE))
        from make_signals import make_signals_parquet

        started = time.perf_counter()
        make_signals_parquet(path, n_series=n_series, days=days, seed=0)
        print(f"[bench] wrote {path.name} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return path


def run_child(path: Path, n_series: int) -> dict:
    code = CHILD.format(here=str(HERE), name=path.name, out=str(path.parent), n_series=n_series)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({proc.returncode}): {stderr.decode(errors='replace')[-2000:]}")
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    result["process_wall_s"] = wall
    result["peak_rss_mib"] = usage.ru_maxrss / 1024  # Linux reports KiB
    return result


def available_bytes() -> int:
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args(argv)

    print(f"{'series':>8} {'rows':>12} {'load s':>7} {'detect s':>8} {'load+detect s':>13} "
          f"{'process s':>9} {'peak RSS MiB':>12}  flagged (positives / others)")
    verdicts = []
    for n_series in args.sizes:
        rows = n_series * args.days * 24
        need = rows * BYTES_PER_ROW_LOADED
        if need > 0.6 * available_bytes():
            print(f"{n_series:>8} {rows:>12,}  skipped: needs about {need / GIB:.1f} GiB while "
                  f"{available_bytes() / GIB:.1f} GiB are available")
            continue
        path = data_file(n_series, args.days)
        repeat = args.repeat if n_series <= 10_000 else 1
        runs = [run_child(path, n_series) for _ in range(repeat)]
        med = {k: statistics.median(r[k] for r in runs) for k in ("load_s", "detect_s", "process_wall_s", "peak_rss_mib")}
        total = statistics.median(r["load_s"] + r["detect_s"] for r in runs)
        last = runs[-1]
        each = ", ".join("%.2f" % (r["load_s"] + r["detect_s"]) for r in runs)
        print(
            f"{n_series:>8} {rows:>12,} {med['load_s']:>7.2f} {med['detect_s']:>8.2f} {total:>13.2f} "
            f"{med['process_wall_s']:>9.2f} {med['peak_rss_mib']:>12.0f}  "
            f"{last['positives_flagged']}/{last['positives']} / {last['negatives_flagged']}   "
            f"(median of {repeat}; each load+detect: {each})"
        )
        if n_series == 10_000:
            verdicts.append(
                f"10k budget: load+detect {total:.2f} s (<= 3 s: {'yes' if total <= 3 else 'NO'}), "
                f"peak RSS {med['peak_rss_mib'] / 1024:.2f} GiB (<= 2 GiB: {'yes' if med['peak_rss_mib'] <= 2048 else 'NO'}); "
                f"statuses {last['statuses']}"
            )
    for line in verdicts:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
