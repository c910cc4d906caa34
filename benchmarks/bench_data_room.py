"""Chapter 07 reruns every hour: time it on a week of hourly data for 6 platforms (target: 5 s for the chapter).

Generates a seeded week (168 hours x 6 platforms: traffic by 4 sources, funnel, audience every 12 hours,
budget) as CSV files in a temporary data root, then measures
- the library calls the notebook makes (load the four tables, heatmap, funnel, budget moves, audience shift,
  the three figures drawn), median of --repeat runs in this process;
- a papermill run of notebooks/07_data_room.ipynb on those files: whole-process wall time (kernel start
  included) and the sum of the cells' own execution times, median of --repeat runs.

    python benchmarks/bench_data_room.py [--repeat 3] [--no-papermill]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TZ = "Asia/Shanghai"
AS_OF = "2025-03-09 12:00"
PLATFORMS = ["小红书", "抖音", "淘宝", "拼多多", "微信", "快手"]
SOURCES = ["推荐", "搜索", "直播", "广告"]
SEGMENTS = ["女 18-24", "女 25-35", "女 36+", "男 18-24", "男 25-35", "男 36+"]
CONVERSION = {"小红书": 0.03, "抖音": 0.041, "淘宝": 0.033, "拼多多": 0.012, "微信": 0.031, "快手": 0.028}


def generate(folder: Path, hours: int = 168, seed: int = 7) -> dict[str, int]:
    """Write traffic/funnel/audience/budget CSVs for ``hours`` hours ending at AS_OF; returns row counts."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    stamps = pd.date_range(end=AS_OF, periods=hours, freq="h")
    daily = 1 + 0.6 * np.sin((stamps.hour.to_numpy() - 15) / 24 * 2 * np.pi)  # evening peak
    n_t, n_p, n_s = len(stamps), len(PLATFORMS), len(SOURCES)
    visitors = rng.poisson(60 * daily[:, None, None] * np.ones((n_t, n_p, n_s)))
    index = pd.MultiIndex.from_product([stamps, PLATFORMS, SOURCES], names=["timestamp", "platform", "source"])
    traffic = index.to_frame(index=False).assign(visitors=visitors.ravel())
    views = visitors.sum(axis=2)
    carts = rng.binomial(views, 0.11)
    conv = np.array([CONVERSION[p] for p in PLATFORMS])
    orders = rng.binomial(carts, np.minimum(1.0, conv / 0.11))
    f_index = pd.MultiIndex.from_product([stamps, PLATFORMS], names=["timestamp", "platform"])
    funnel = f_index.to_frame(index=False).assign(views=views.ravel(), add_to_cart=carts.ravel(), orders=orders.ravel())
    windows = stamps[(stamps.hour % 12 == 0)]
    shares = np.array([0.2, 0.4, 0.12, 0.1, 0.1, 0.08])
    a_index = pd.MultiIndex.from_product([windows, PLATFORMS, SEGMENTS], names=["timestamp", "platform", "segment"])
    counts = rng.multinomial(1500, shares, size=len(windows) * n_p).ravel()
    audience = a_index.to_frame(index=False).assign(visitors=counts)
    budget = pd.DataFrame({"platform": PLATFORMS, "daily_budget": [2000.0, 3000.0, 2500.0, 1500.0, 500.0, 1000.0]})
    for name, frame in (("traffic", traffic), ("funnel", funnel), ("audience", audience), ("budget", budget)):
        frame.to_csv(folder / f"{name}.csv", index=False, date_format="%Y-%m-%d %H:%M:%S")
    return {"traffic": len(traffic), "funnel": len(funnel), "audience": len(audience), "budget": len(budget)}


def library_once(folder: Path, data_root: Path) -> dict[str, float]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import spikekit as sk
    from spikekit.inputs import contracts as sc
    from spikekit.chapters import data_room as fn

    sk.use_theme()
    times = {}
    t0 = time.perf_counter()
    traffic = sc.load_traffic(folder / "traffic.csv", tz=TZ, data_root=data_root)
    rows = sc.load_funnel(folder / "funnel.csv", tz=TZ, data_root=data_root)
    audience = sc.load_audience(folder / "audience.csv", tz=TZ, data_root=data_root)
    budget = sc.load_budget(folder / "budget.csv", tz=TZ, data_root=data_root)
    times["load"] = time.perf_counter() - t0
    as_of = pd.Timestamp(AS_OF, tz=TZ)
    settings = fn.DataRoomSettings()
    t0 = time.perf_counter()
    heat = fn.heatmap_table(traffic, as_of, settings.heatmap_hours)
    table = fn.funnel_table(rows, as_of, settings.window_hours, conf=settings.conf, interval=settings.interval)
    plan = fn.budget_moves(table, budget, settings)
    shift = fn.audience_shift(audience, as_of, None, settings)
    fn.review(plan, shift, settings)
    times["compute"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for fig in (fn.plot_heatmap(heat), fn.plot_funnel(table, plan), fn.plot_audience(shift)):
        fig.canvas.draw()
        plt.close(fig)
    times["figures"] = time.perf_counter() - t0
    times["total"] = sum(times.values())
    return times


def papermill_template(out: Path) -> float:
    """Wall time of papermill on the house template (kernel start, imports, sk.begin): the fixed cost."""
    t0 = time.perf_counter()
    subprocess.run([str(BIN / "papermill"), str(ROOT / "notebooks" / "template.ipynb"), str(out), "-k", "spikekit",
                    "--cwd", str(ROOT / "notebooks")], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def papermill_once(folder: Path, data_root: Path, out: Path) -> tuple[float, float]:
    rel = folder.relative_to(data_root)
    params = ["-p", "spike", "bench-week", "-p", "as_of", AS_OF]
    for name in ("traffic", "funnel", "audience", "budget"):
        params += ["-p", f"{name}_file", str(rel / f"{name}.csv")]
    env = dict(os.environ, SPIKE_DATA_ROOT=str(data_root), SPIKE_RECORDS=str(data_root.parent / "records"))  # beside the data, never inside it
    t0 = time.perf_counter()
    subprocess.run([str(BIN / "papermill"), str(ROOT / "notebooks" / "07_data_room.ipynb"), str(out), "-k", "spikekit",
                    "--cwd", str(ROOT / "notebooks"), *params], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    book = json.loads(out.read_text(encoding="utf-8"))
    cells = sum(float(c.get("metadata", {}).get("papermill", {}).get("duration") or 0) for c in book["cells"])
    return wall, cells


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-papermill", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-data-room-") as tmp:
        data_root = Path(tmp)
        folder = data_root / "week"
        rows = generate(folder)
        print(f"data: a week ending {AS_OF}, 6 platforms: " + ", ".join(f"{k} {v:,} rows" for k, v in rows.items()))
        library_once(folder, data_root)  # warm-up: imports, font cache
        runs = [library_once(folder, data_root) for _ in range(args.repeat)]
        for key in ("load", "compute", "figures", "total"):
            print(f"library {key:8s}: median {statistics.median(r[key] for r in runs):.3f} s over {args.repeat} runs")
        if not args.no_papermill:
            results = [papermill_once(folder, data_root, data_root / f"out{i}.ipynb") for i in range(args.repeat)]
            wall = statistics.median(r[0] for r in results)
            cells = statistics.median(r[1] for r in results)
            print(f"papermill 07 (whole process, kernel start included): median {wall:.2f} s over {args.repeat} runs")
            print(f"papermill 07 (sum of cell execution times):          median {cells:.2f} s")
            fixed = statistics.median(papermill_template(data_root / f"template{i}.ipynb") for i in range(args.repeat))
            print(f"papermill template (kernel start + sk.begin only):   median {fixed:.2f} s")
            print(f"chapter 07 above the fixed cost:                     {wall - fixed:.2f} s")
            print(f"target 5 s: {'met' if wall <= 5 else 'NOT met'} for the whole process, "
                  f"{'met' if cells <= 5 else 'NOT met'} for the chapter's cells")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
