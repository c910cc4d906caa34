"""Synthetic signals table at `spike scan` scale (10,000 series x 90 days hourly = 21.6 M rows).

The file follows the `signals` contract: keyword, platform, metric, timestamp, value; it is written
sorted by that key, with string columns dictionary-encoded and tz-aware timestamps (Asia/Shanghai),
which is how a well-behaved export pipeline would hand it over.

Series ``i`` is keyword ``kw{i // 6 + 1:05d}`` on platform ``PLATFORMS[i % 6]``. Counts are Poisson
around a per-series level with a daily cycle; every ``SPIKE_EVERY``-th series (0, 100, 200, ...) takes
off over the last ``SPIKE_DAYS`` days, so a detector has known positives (see ``spiking_series``).

Usage: python benchmarks/make_signals.py OUT.parquet [--series N] [--days D] [--seed S]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

# Sorted, so rows written keyword-major then platform come out sorted by the contract key.
PLATFORMS = ("bilibili", "douyin", "kuaishou", "taobao", "weibo", "xiaohongshu")
METRIC = "interactions"
TZ = "Asia/Shanghai"
START = np.datetime64("2025-01-01T00:00", "ns") - np.timedelta64(8, "h")  # local midnight, as UTC
SPIKE_EVERY = 100
SPIKE_DAYS = 5
SPIKE_FOLD = 10.0  # level multiplier reached at the last hour of a spiking series
SERIES_PER_ROW_GROUP = 500


def keyword_of(series: int) -> str:
    return f"kw{series // len(PLATFORMS) + 1:05d}"


def platform_of(series: int) -> str:
    return PLATFORMS[series % len(PLATFORMS)]


def spiking_series(n_series: int = 10_000) -> list[tuple[str, str]]:
    """(keyword, platform) of the series that take off at the end of the window."""
    return [(keyword_of(i), platform_of(i)) for i in range(0, n_series, SPIKE_EVERY)]


def _schema() -> pa.Schema:
    dict_str = pa.dictionary(pa.int32(), pa.string())
    return pa.schema(
        [
            ("keyword", dict_str),
            ("platform", dict_str),
            ("metric", dict_str),
            ("timestamp", pa.timestamp("ns", tz=TZ)),
            ("value", pa.float64()),
        ]
    )


def _block(first: int, stop: int, hours: int, levels: np.ndarray, rng: np.random.Generator) -> pa.Table:
    """Rows for series first..stop-1, already in key order."""
    n = stop - first
    series = np.arange(first, stop)
    hour = np.arange(hours)
    # Daily cycle peaking in the evening (local time), same shape for all series.
    daily = 1.0 + 0.6 * np.sin(2 * np.pi * ((hour % 24) - 14) / 24)
    rate = levels[first:stop, None] * daily[None, :]
    spiking = series % SPIKE_EVERY == 0
    if spiking.any():
        ramp_hours = min(SPIKE_DAYS * 24, hours)
        ramp = np.ones(hours)
        ramp[hours - ramp_hours:] = SPIKE_FOLD ** (np.arange(1, ramp_hours + 1) / ramp_hours)
        rate[spiking] *= ramp
    values = rng.poisson(rate).astype(np.float64).ravel()

    # Dictionaries are built per block; readers unify them.
    kw_names = sorted({keyword_of(i) for i in series})
    kw_index = {k: j for j, k in enumerate(kw_names)}
    kw_codes = np.repeat(np.array([kw_index[keyword_of(i)] for i in series], dtype=np.int32), hours)
    pf_codes = np.repeat((series % len(PLATFORMS)).astype(np.int32), hours)
    ts = np.tile(START + hour.astype("timedelta64[h]").astype("timedelta64[ns]"), n)
    return pa.table(
        {
            "keyword": pa.DictionaryArray.from_arrays(pa.array(kw_codes), pa.array(kw_names)),
            "platform": pa.DictionaryArray.from_arrays(pa.array(pf_codes), pa.array(list(PLATFORMS))),
            "metric": pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(n * hours, dtype=np.int32)), pa.array([METRIC])
            ),
            "timestamp": pa.array(ts.view("int64"), type=pa.timestamp("ns", tz=TZ)),
            "value": pa.array(values),
        },
        schema=_schema(),
    )


def make_signals_parquet(path, n_series: int = 10_000, days: int = 90, seed: int = 0) -> Path:
    """Write the synthetic signals file to ``path`` (n_series * days * 24 rows) and return its Path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    hours = days * 24
    # Per-series mean interactions per hour: mostly small, a few large accounts.
    levels = rng.lognormal(mean=np.log(20.0), sigma=1.0, size=n_series)
    with pq.ParquetWriter(path, _schema(), compression="zstd") as writer:
        for first in range(0, n_series, SERIES_PER_ROW_GROUP):
            stop = min(first + SERIES_PER_ROW_GROUP, n_series)
            writer.write_table(_block(first, stop, hours, levels, rng))
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    make_signals_parquet(args.out, n_series=args.series, days=args.days, seed=args.seed)


if __name__ == "__main__":
    main()
