"""`spike scan`'s streamed reduction on a Dask cluster, in miniature: a demonstration for the 1M-series plan
in results/scan_scaling.md, run on a distributed LocalCluster.

Each task reads a range of Parquet row groups, checks every batch with the signals contract and reduces it to
series x day segments against one fixed as_of (the file's newest row, found first by one small task per range
reading only the timestamp column). Only the segments travel to the client, which merges them (cells split
across ranges add up), runs the detector and checks the table equals ``scanstream.scan_file`` on the same file.
The file must be in key order (what make_signals.py writes): the border check between ranges is the
duplicate-key check.

Usage: python benchmarks/dask_scan.py FILE.parquet [--workers 2] [--tasks 8]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from spikekit.inputs import contracts
from spikekit.chapters import early_warning_scan as scanstream, early_warning as signals

TZ = "Asia/Shanghai"


def _ranges(path: str, tasks: int) -> list[tuple[list[int], int]]:
    """Row groups split into ``tasks`` contiguous ranges, each with the file row of its first data row."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    starts = np.concatenate([[0], np.cumsum(sizes)])
    groups = np.array_split(np.arange(len(sizes)), min(tasks, len(sizes)))
    return [(g.tolist(), int(starts[g[0]]) + 2) for g in groups if len(g)]


def newest(path: str, groups: list[int]) -> int:
    """Newest timestamp (ns) of some row groups, reading only that column."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    column = pq.ParquetFile(path).read_row_groups(groups, columns=["timestamp"]).column(0)
    return int(pc.max(column).cast("int64").as_py())


def reduce_range(path: str, groups: list[int], first_row: int, as_of_ns: int) -> dict:
    """One task: the contract's checks and the reduction to segments over some row groups."""
    import pyarrow.parquet as pq

    settings = signals.DetectorSettings(tz=TZ)
    state = scanstream._Pass(anchor=as_of_ns, fixed=True)
    offset = 0
    started = time.process_time()
    for batch in pq.ParquetFile(path).iter_batches(batch_size=scanstream.CHUNK_ROWS, row_groups=groups):
        raw = pd.DataFrame({n: scanstream._column(batch.column(i)) for i, n in enumerate(batch.schema.names)})
        info = {"format": "parquet", "first_row": first_row + offset}
        offset += len(raw)
        clean = contracts.validate_table(raw, contracts.SIGNALS, tz=TZ, file=path, info=info)
        first_key = (clean["keyword"].array[0], clean["platform"].array[0], clean["metric"].array[0],
                     int(clean["timestamp"].array.asi8[0]))
        state.first_key = getattr(state, "first_key", None) or first_key
        scanstream._reduce(clean, info, state, settings, path)
    parts = [np.concatenate([p[i] for p in state.parts]) for i in range(5)]
    return {"keys": list(state.keys), "parts": parts, "rows": state.rows, "t_min": state.t_min,
            "t_max": state.t_max, "times": state.times, "first_key": state.first_key, "last_key": state.last_key,
            "cpu_s": time.process_time() - started}


def merge_and_detect(results: list[dict], as_of_ns: int) -> pd.DataFrame:
    """On the client: segments of all ranges under one series numbering, then the detector and ranking."""
    settings = signals.DetectorSettings(tz=TZ)
    state = scanstream._Pass(anchor=as_of_ns, fixed=True)
    previous = None
    for result in results:
        if previous is not None and not result["first_key"] > previous:
            raise SystemExit("the file is not in key order across row groups: this demonstration needs it")
        previous = result["last_key"]
        ids = np.array([state.keys.setdefault(k, len(state.keys)) for k in result["keys"]], dtype=np.int32)
        sid, day, t_ns, total, rows = result["parts"]
        state.parts.append((ids[sid], day, t_ns, total, rows))
    as_of = pd.Timestamp(as_of_ns, tz="UTC").tz_convert(TZ)
    seg = scanstream._segments_of(state, as_of, settings.lookback_days)
    blocks, as_of = signals._blocks_of(seg, settings)
    return signals._scan_ranked(signals._detect_blocks(blocks, as_of, settings), as_of, settings)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=8)
    args = parser.parse_args(argv)
    from distributed import Client, LocalCluster

    path = str(args.file)
    ranges = _ranges(path, args.tasks)
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        started = time.perf_counter()
        as_of_ns = max(client.gather([client.submit(newest, path, g, pure=False) for g, _ in ranges]))
        futures = [client.submit(reduce_range, path, g, first, as_of_ns, pure=False) for g, first in ranges]
        results = client.gather(futures)
        reduced = time.perf_counter()
        table = merge_and_detect(results, as_of_ns)
        done = time.perf_counter()
    expected, _ = scanstream.scan_file(path, settings=signals.DetectorSettings(tz=TZ))
    pd.testing.assert_frame_equal(table, expected)
    task_cpu = [r["cpu_s"] for r in results]
    print(f"{len(ranges)} tasks on {args.workers} workers: read + check + reduce {reduced - started:.1f} s wall "
          f"(task CPU {sum(task_cpu):.1f} s in all, {min(task_cpu):.1f}-{max(task_cpu):.1f} s each); "
          f"merge + detect on the client {done - reduced:.1f} s; {sum(r['rows'] for r in results):,} rows, "
          f"{len(table):,} series, {int((table['status'] != 'quiet').sum())} flagged; same table as spike scan: yes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
