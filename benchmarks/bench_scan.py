"""Benchmark of the `spike scan` command at 1k / 10k / 100k series, and how its cost grows.

Budget (10,000 series x 90 days hourly = 21.6 M rows): the `spike scan FILE` command <= 3 s wall and <= 2 GiB
peak RSS on the 2-core machine.

What is measured, per size:
- ``command``: the real ``spike scan FILE`` command (the venv's console script) in a fresh process, output
  thrown away; wall time from start to exit and the child's peak RSS (``ru_maxrss`` from ``os.wait4``, so it
  is that process alone). Median of ``--repeat`` runs.
- ``phases``: one more fresh process doing what the command does, timing its phases itself: import of the
  libraries, load (``contracts.read_signals_any``), detect (``signals.scan_table``) and formatting. It also
  counts how many of the known spiking series were flagged, so a fast but wrong scan shows.

Inputs come from ``benchmarks/make_signals.py`` and are written once per size to ``benchmarks/out/``
(git-ignored), then reused. The growth ``time ~ a * n^b`` is fitted by least squares on log-log.

Usage:
    python benchmarks/bench_scan.py --series 1000,10000,100000 [--repeat 3] [--days 90]
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
# Peak RSS per input row of a whole scan, measured at 10k and 100k series (29-37 bytes: timestamp, value,
# codes, Arrow buffers during the read); used only to skip a size this machine cannot hold.
BYTES_PER_ROW = 40

PHASES = r"""
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
sys.path.insert(0, {here!r})
from make_signals import spiking_series
positives = set(spiking_series({n_series}))
flagged = alerts[alerts["status"] != "quiet"]
keys = set(zip(flagged["keyword"], flagged["platform"]))
print(json.dumps({{
    "import_s": t1 - t0, "load_s": t2 - t1, "detect_s": t3 - t2, "format_s": t4 - t3, "rows": len(frame),
    "series": len(alerts), "positives_flagged": len(keys & positives), "positives": len(positives),
    "others_flagged": len(keys - positives),
}}))
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


def measure(n_series: int, days: int, repeat: int) -> dict:
    path = data_file(n_series, days)
    command = spike_command() + ["scan", str(path)]
    runs = [_timed(command, capture=False)[:3] for _ in range(repeat)]
    code = PHASES.format(path=str(path), here=str(HERE), n_series=n_series)
    _, phase_rss, _, stdout = _timed([sys.executable, "-c", code], capture=True)
    phases = json.loads(stdout.decode().strip().splitlines()[-1])
    return {
        "series": n_series, "rows": n_series * days * 24, "file_mib": path.stat().st_size / MIB,
        "walls": [w for w, _, _ in runs], "rss_mib": [r for _, r, _ in runs],
        "wall_s": statistics.median(w for w, _, _ in runs), "peak_rss_mib": statistics.median(r for _, r, _ in runs),
        "cpu_s": statistics.median(c for _, _, c in runs),
        **phases, "phases_rss_mib": phase_rss,
    }


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


def report(rows: list[dict], skipped: list[str], argv: list[str], repeat: int, load_before: str) -> str:
    lines = [
        "# `spike scan` scaling (series x 90 days hourly)",
        "",
        f"Measured {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} on {platform.node()} "
        f"({os.cpu_count()} cores, {platform.python_version()}, load average before the run: {load_before}).",
        "",
        "Command:",
        "",
        "```",
        "python benchmarks/bench_scan.py " + " ".join(argv),
        "```",
        "",
        f"`command` = the `spike scan FILE` command in a fresh process (Python start-up and imports included), "
        f"median of {repeat}, with its peak RSS. `import`, `load`, `detect` = the same work timed inside one more "
        "fresh process (contracts.read_signals_any, signals.scan_table).",
        "",
        "| series | rows | file MiB | command s (median) | each run s | command CPU s | peak RSS MiB | import s "
        "| load s | detect s | load+detect s | flagged: known positives / others |",
        "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['series']:,} | {r['rows']:,} | {r['file_mib']:.0f} | {r['wall_s']:.2f} | "
            + ", ".join(f"{w:.2f}" for w in r["walls"])
            + f" | {r['cpu_s']:.2f} | {r['peak_rss_mib']:.0f} | {r['import_s']:.2f} | {r['load_s']:.2f} | {r['detect_s']:.2f} | "
            f"{r['load_s'] + r['detect_s']:.2f} | {r['positives_flagged']}/{r['positives']} / {r['others_flagged']} |"
        )
    for line in skipped:
        lines.append(f"| {line} |")
    lines.append("")
    ten_k = [r for r in rows if r["series"] == 10_000]
    if ten_k:
        r = ten_k[0]
        lines.append(
            f"10k budget: command {r['wall_s']:.2f} s (<= 3 s: {'yes' if r['wall_s'] <= 3 else 'NO'}), peak RSS "
            f"{r['peak_rss_mib'] / 1024:.2f} GiB (<= 2 GiB: {'yes' if r['peak_rss_mib'] <= 2048 else 'NO'})."
        )
        lines.append("")
    if len(rows) >= 2:
        xs = [r["series"] for r in rows]
        a, b = fit_power(xs, [r["wall_s"] for r in rows])
        a2, b2 = fit_power(xs, [r["load_s"] + r["detect_s"] for r in rows])
        a3, b3 = fit_power(xs, [r["peak_rss_mib"] for r in rows])
        a4, b4 = fit_power(xs, [r["cpu_s"] for r in rows])
        lines += [
            "Growth, least squares on log-log over the sizes above:",
            "",
            f"- command wall: time ~ {a:.3g} * n^{b:.2f} s (the fixed ~1 s of start-up and imports pulls b below 1 "
            "at small n)",
            f"- command CPU (user + system; less sensitive to other load on the machine): ~ {a4:.3g} * n^{b4:.2f} s",
            f"- load+detect: time ~ {a2:.3g} * n^{b2:.2f} s",
            f"- peak RSS: ~ {a3:.3g} * n^{b3:.2f} MiB",
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
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.series.split(",") if s.strip()]
    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])

    rows, skipped = [], []
    for n_series in sizes:
        rows_in = n_series * args.days * 24
        need = rows_in * BYTES_PER_ROW
        if need > 0.8 * available_bytes():
            note = (f"{n_series:,} | {rows_in:,} | skipped: needs about {need / GIB:.1f} GiB, "
                    f"{available_bytes() / GIB:.1f} GiB available")
            print(note, file=sys.stderr)
            skipped.append(note)
            continue
        row = measure(n_series, args.days, args.repeat)
        rows.append(row)
        print(f"[bench] {n_series:>7} series: command {row['wall_s']:.2f} s, CPU {row['cpu_s']:.2f} s "
              f"({', '.join(f'{w:.2f}' for w in row['walls'])}), peak RSS {row['peak_rss_mib']:.0f} MiB; "
              f"import {row['import_s']:.2f} load {row['load_s']:.2f} detect {row['detect_s']:.2f} s; "
              f"flagged {row['positives_flagged']}/{row['positives']} positives, {row['others_flagged']} others",
              file=sys.stderr)
    text = report(rows, skipped, argv, args.repeat, load_before)
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
