"""Benchmark of the `spike scan` command at 1k / 10k / 100k series: the streamed scan against the old
whole-table scan, side by side in one run, and how the cost grows.

Budgets (on the 2-core machine): 10,000 series x 90 days hourly (21.6 M rows): the `spike scan FILE` command
<= 3 s wall and <= 2 GiB peak RSS; 100,000 series (216 M rows): <= 15 s and <= 2 GiB.

What is measured, per size:
- ``new``: the real ``spike scan FILE`` command (the venv's console script; it reads the file in chunks through
  ``scanstream.scan_file``) in a fresh process, output thrown away; wall time from start to exit, the child's
  CPU time (user + system) and peak RSS (``ru_maxrss`` from ``os.wait4``, so it is that process alone).
  Median of ``--repeat`` runs. One more fresh process times import and scan itself and counts how many of the
  known spiking series were flagged, so a fast but wrong scan shows.
- ``old``: what the command did before, the whole table loaded (``contracts.read_signals_any``) then scanned
  (``signals.scan_table``), in one fresh process timing its phases (import, load, detect); wall, CPU and peak RSS
  of that process. Skipped with ``--no-old``, or when this machine lacks the memory (~30 bytes a row).

Inputs come from ``benchmarks/make_signals.py`` and are written once per size to ``benchmarks/out/``
(git-ignored), then reused. The growth ``time ~ a * n^b`` is fitted by least squares on log-log.

Usage:
    python benchmarks/bench_scan.py --series 1000,10000,100000 [--repeat 3] [--days 90] [--no-old]
        [--out benchmarks/results/scan_scaling.md]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
RESULTS = HERE / "results" / "scan_scaling.md"
GIB = 1024**3
MIB = 1024**2
# Peak RSS per input row of the old whole-table scan, measured at 10k and 100k series (29-37 bytes: timestamp,
# value, codes, Arrow buffers during the read); used only to skip the old scan where this machine cannot hold it.
BYTES_PER_ROW = 40

_FLAGGED = r"""
sys.path.insert(0, {here!r})
from make_signals import spiking_series
positives = set(spiking_series({n_series}))
flagged = alerts[alerts["status"] != "quiet"]
keys = set(zip(flagged["keyword"], flagged["platform"]))
found = {{"series": len(alerts), "positives_flagged": len(keys & positives), "positives": len(positives),
          "others_flagged": len(keys - positives)}}
"""

# The old command: the whole table in memory, then the scan.
OLD_PHASES = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from spikekit import contracts, signals
t1 = time.perf_counter()
frame, info = contracts.read_signals_any({path!r}, tz="Asia/Shanghai")
t2 = time.perf_counter()
alerts = signals.scan_table(frame, settings=signals.DetectorSettings(tz="Asia/Shanghai"))
t3 = time.perf_counter()
text = signals.format_alerts(alerts, limit=20)
t4 = time.perf_counter()
""" + _FLAGGED + r"""
print(json.dumps({{"import_s": t1 - t0, "load_s": t2 - t1, "detect_s": t3 - t2, "format_s": t4 - t3, **found}}))
"""

# The new command's work, timed from inside (the command itself is timed from outside).
NEW_PHASES = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from spikekit import scanstream, signals
t1 = time.perf_counter()
scanstream.keep_freed_memory()
alerts, info = scanstream.scan_file({path!r}, settings=signals.DetectorSettings(tz="Asia/Shanghai"))
t2 = time.perf_counter()
text = signals.format_alerts(alerts, limit=20)
""" + _FLAGGED + r"""
print(json.dumps({{"import_s": t1 - t0, "scan_s": t2 - t1, "rows": info["rows"], **found}}))
"""


def data_file(n_series: int, days: int) -> Path:
    """The input for n_series, generated on first use and reused afterwards."""
    path = OUT / f"signals_{n_series}x{days}d.parquet"
    if not path.exists():
        sys.path.insert(0, str(HERE))
        from make_signals import make_signals_parquet

        started = time.perf_counter()
        make_signals_parquet(path, n_series=n_series, days=days, seed=0)
        print(f"[bench] wrote {path.name} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return path


def spike_command() -> list[str]:
    script = Path(sys.executable).with_name("spike")
    return [str(script)] if script.exists() else [sys.executable, "-m", "spikekit.cli"]


def _timed(argv: list[str], capture: bool) -> tuple[float, float, float, bytes]:
    """Run argv in a fresh process: (wall s, peak RSS MiB, CPU s (user + system) of that process, stdout)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                            stderr=subprocess.PIPE, cwd=str(HERE))
    stdout = proc.stdout.read() if capture else b""
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{argv[0]} failed ({code}): {stderr.decode(errors='replace')[-2000:]}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, stdout  # Linux: maxrss in KiB


def _phases(template: str, path: Path, n_series: int) -> tuple[dict, float, float, float]:
    code = template.format(path=str(path), here=str(HERE), n_series=n_series)
    wall, rss, cpu, stdout = _timed([sys.executable, "-c", code], capture=True)
    return json.loads(stdout.decode().strip().splitlines()[-1]), wall, rss, cpu


def measure(n_series: int, days: int, repeat: int, old: bool) -> dict:
    path = data_file(n_series, days)
    command = spike_command() + ["scan", str(path)]
    runs = [_timed(command, capture=False)[:3] for _ in range(repeat)]
    new_phases, _, _, _ = _phases(NEW_PHASES, path, n_series)
    row = {
        "series": n_series, "rows": new_phases["rows"], "file_mib": path.stat().st_size / MIB,
        "walls": [w for w, _, _ in runs], "rss_mib": [r for _, r, _ in runs],
        "wall_s": statistics.median(w for w, _, _ in runs), "peak_rss_mib": statistics.median(r for _, r, _ in runs),
        "cpu_s": statistics.median(c for _, _, c in runs), "new": new_phases, "old": None,
    }
    if old:
        phases, wall, rss, cpu = _phases(OLD_PHASES, path, n_series)
        row["old"] = {**phases, "wall_s": wall, "peak_rss_mib": rss, "cpu_s": cpu}
    return row


def fit_power(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least squares of log y = log a + b log x: returns (a, b)."""
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    b = sum((x - mx) * (y - my) for x, y in zip(lx, ly)) / sum((x - mx) ** 2 for x in lx)
    return math.exp(my - b * mx), b


def available_bytes() -> int:
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def _flag_text(found: dict) -> str:
    return f"{found['positives_flagged']}/{found['positives']} / {found['others_flagged']}"


def report(rows: list[dict], skipped: list[str], argv: list[str], repeat: int, load_before: str,
           load_after: str) -> str:
    lines = [
        "# `spike scan` scaling (series x 90 days hourly): streamed scan vs the old whole-table scan",
        "",
        f"Measured {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} on {platform.node()} "
        f"({os.cpu_count()} cores, Python {platform.python_version()}; this machine is shared with other jobs: "
        f"load average before the run {load_before}, after {load_after}).",
        "",
        "Command:",
        "",
        "```",
        "python benchmarks/bench_scan.py " + " ".join(argv),
        "```",
        "",
        f"`new` = the `spike scan FILE` command as it is now (file read in chunks, `scanstream.scan_file`) in a fresh "
        f"process, Python start-up and imports included: median of {repeat} runs, its CPU time (user + system) and "
        "peak RSS. `scan s` = the scan alone, timed inside one more fresh process. `old` = what the command did "
        "before, in one fresh process: the whole table loaded (`contracts.read_signals_any`, `load s`) then "
        "scanned (`signals.scan_table`, `detect s`). Flagged = known spiking series flagged / of them / other "
        "series flagged.",
        "",
        "| series | rows | file MiB | new: command s (median) | each run s | new: CPU s | new: peak RSS MiB "
        "| new: scan s | old: wall s | old: CPU s | old: peak RSS MiB | old: load s | old: detect s "
        "| flagged new | flagged old |",
        "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        o = r["old"]
        old_cells = (f"{o['wall_s']:.2f} | {o['cpu_s']:.2f} | {o['peak_rss_mib']:.0f} | {o['load_s']:.2f} | "
                     f"{o['detect_s']:.2f} | " if o else "not run | | | | | ")
        lines.append(
            f"| {r['series']:,} | {r['rows']:,} | {r['file_mib']:.0f} | {r['wall_s']:.2f} | "
            + ", ".join(f"{w:.2f}" for w in r["walls"])
            + f" | {r['cpu_s']:.2f} | {r['peak_rss_mib']:.0f} | {r['new']['scan_s']:.2f} | " + old_cells
            + f"{_flag_text(r['new'])} | {_flag_text(o) if o else ''} |"
        )
    for line in skipped:
        lines.append(f"| {line} |")
    lines.append("")
    for n, wall_budget in ((10_000, 3), (100_000, 15)):
        for r in (r for r in rows if r["series"] == n):
            lines.append(
                f"{n // 1000}k budget: command {r['wall_s']:.2f} s wall, {r['cpu_s']:.2f} s CPU "
                f"(<= {wall_budget} s: wall {'yes' if r['wall_s'] <= wall_budget else 'NO'}, "
                f"CPU {'yes' if r['cpu_s'] <= wall_budget else 'NO'}), peak RSS {r['peak_rss_mib'] / 1024:.2f} GiB "
                f"(<= 2 GiB: {'yes' if r['peak_rss_mib'] <= 2048 else 'NO'})."
            )
            lines.append("")
    if len(rows) >= 2:
        xs = [r["series"] for r in rows]
        a, b = fit_power(xs, [r["wall_s"] for r in rows])
        a2, b2 = fit_power(xs, [r["new"]["scan_s"] for r in rows])
        a3, b3 = fit_power(xs, [r["peak_rss_mib"] for r in rows])
        a4, b4 = fit_power(xs, [r["cpu_s"] for r in rows])
        lines += [
            "Growth of the new command, least squares on log-log over the sizes above:",
            "",
            f"- command wall: time ~ {a:.3g} * n^{b:.2f} s (the fixed ~1 s of start-up and imports pulls b below 1 "
            "at small n)",
            f"- command CPU (user + system; less sensitive to other load on the machine): ~ {a4:.3g} * n^{b4:.2f} s",
            f"- scan alone: time ~ {a2:.3g} * n^{b2:.2f} s",
            f"- peak RSS: ~ {a3:.3g} * n^{b3:.2f} MiB",
            "",
        ]
        big = max(rows, key=lambda r: r["series"])
        small = min(rows, key=lambda r: r["series"])
        if big["series"] > small["series"]:
            per_series = (big["cpu_s"] - small["cpu_s"]) / (big["series"] - small["series"])
            lines += [
                f"Marginal cost between {small['series']:,} and {big['series']:,} series: {per_series * 1e3:.3f} ms CPU "
                f"per series (90 days hourly), so 1,000,000 series ~ {per_series * 1e6:.0f} CPU s "
                "(the basis of the Dask estimate below).",
                "",
            ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", default="1000,10000,100000", help="comma-separated series counts")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--out", default=str(RESULTS), help="Markdown file for the table ('-': none)")
    parser.add_argument("--no-old", action="store_true", help="skip the old whole-table scan")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.series.split(",") if s.strip()]
    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])

    rows, skipped = [], []
    for n_series in sizes:
        rows_in = n_series * args.days * 24
        need = rows_in * BYTES_PER_ROW
        old = not args.no_old
        if old and need > 0.8 * available_bytes():
            note = (f"{n_series:,} | {rows_in:,} | old scan skipped: needs about {need / GIB:.1f} GiB, "
                    f"{available_bytes() / GIB:.1f} GiB available")
            print(note, file=sys.stderr)
            skipped.append(note)
            old = False
        row = measure(n_series, args.days, args.repeat, old)
        rows.append(row)
        o = row["old"]
        print(f"[bench] {n_series:>7} series: new command {row['wall_s']:.2f} s, CPU {row['cpu_s']:.2f} s "
              f"({', '.join(f'{w:.2f}' for w in row['walls'])}), peak RSS {row['peak_rss_mib']:.0f} MiB, "
              f"flagged {_flag_text(row['new'])}"
              + (f"; old {o['wall_s']:.2f} s, CPU {o['cpu_s']:.2f} s, peak RSS {o['peak_rss_mib']:.0f} MiB" if o else ""),
              file=sys.stderr)
    load_after = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    text = report(rows, skipped, argv, args.repeat, load_before, load_after)
    print(text)
    if args.out != "-":
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        old = out.read_text(encoding="utf-8") if out.exists() else ""
        notes = old[old.index("\n## Notes"):] if "\n## Notes" in old else ""  # hand-written reading, kept
        out.write_text(text + notes, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
