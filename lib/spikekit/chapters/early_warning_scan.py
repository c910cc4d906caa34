"""``spike scan`` in bounded memory: the signals file is read in chunks and reduced as it streams.

The detector never needs the rows themselves: ``signals`` first reduces them to one segment per series x
as_of-aligned 24-hour bin (sum of values, row count, time of the first row). Those segments are additive,
so each chunk of the file is validated with the contract's own checks (``contracts.validate_table``, row
numbers of the whole file), reduced to segments on its own, and the segments of all chunks are combined:
sums and counts add, first times take the minimum. A series split by a chunk border, or spread over the
whole file when the file is not grouped by series, combines to exactly what one pass over the whole table
gives (bit for bit when the values are whole numbers, as counts and indexes are; otherwise within float
rounding of a different summation order). Memory is O(series x days) plus one chunk, not O(rows); the
detector then runs on batches of series (``signals._DETECT_BATCH``).

Bins are aligned to as_of. Without ``--as-of`` that is the file's newest row, known only at the end: each
chunk is binned against the first chunk's newest row shifted by whole days, and the bins are re-counted from
the real newest row at the end. That is exact when the two differ by whole days (hourly or daily data); when
they do not, the file is read a second time with as_of known.

Duplicate keys (keyword, platform, metric, timestamp) are an error, as in the loader. Inside a chunk the
contract finds them; across chunks a file in key order (how exports and ``contracts`` write it) cannot
repeat a key, which is checked at each border. A file out of key order is read again keeping every row's
key (16 bytes a row: the only case where memory grows with the rows).

Google Trends exports and Excel workbooks are small by nature (at most ~1 M rows): they go through the
in-memory loader unchanged.
"""
from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..inputs import contracts
from . import early_warning as signals
from ..core.errors import InputError

CHUNK_ROWS = 1 << 19  # rows validated and reduced at once: ~0.1 GiB of temporaries
_DAY_NS = signals._DAY_NS
_DISTINCT_TIMES_MAX = 1 << 20  # distinct timestamps kept for the file's step (hourly for 100 years: 876k)


class _Restart(Exception):
    """The pass must be repeated: as_of is off the provisional grid, or the file is out of key order."""

    def __init__(self, as_of=None, unsorted: bool = False):
        super().__init__()
        self.as_of, self.unsorted = as_of, unsorted


@dataclass
class _Pass:
    """What one pass over the file has gathered."""

    anchor: int | None  # ns; bins of each chunk are counted back from anchor + whole days
    fixed: bool  # as_of given: rows after it are dropped in the chunks
    keys: dict = field(default_factory=dict)  # (keyword, platform, metric) -> series id, first-seen order
    parts: list = field(default_factory=list)  # per chunk: (sid, day, t_ns, total, rows)
    rows: int = 0
    t_min: int | None = None
    t_max: int | None = None
    times: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    last_key: tuple | None = None  # the largest key so far (file in key order)
    row_keys: list | None = None  # out-of-order files only: (series id, t_ns, file row) per chunk


# ----------------------------------------------------------------------------------------------------------
# Reading chunks


def _text_encoding(path: Path) -> str | None:
    """utf-8-sig / utf-8 / gb18030 as the loader would choose it, checked block by block; None if neither."""
    for encoding in ("utf-8", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with open(path, "rb") as handle:
                head = handle.read(3)
                handle.seek(0)
                while block := handle.read(1 << 22):
                    decoder.decode(block)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return "utf-8-sig" if encoding == "utf-8" and head == b"\xef\xbb\xbf" else encoding
    return None


def _text_chunks(path: Path, encoding: str, chunk_rows: int):
    """(raw string frame, info with file row numbers) per chunk of a CSV/TSV/TXT signals file. Yields only
    "whole" for a Google Trends export or a file without a header in its first 64 KiB (loaded whole instead)."""
    with open(path, encoding=encoding, newline="") as handle:
        head = handle.read(1 << 16)
    lines = head.splitlines()
    if not head.endswith(("\n", "\r")) and len(head) == 1 << 16:
        lines = lines[:-1]  # the last line may be cut
    if not any(not contracts._is_blank(line) for line in lines):
        yield "whole"  # empty, or a header beyond the first 64 KiB: let the loader say which
        return
    if contracts._trends_header(lines) is not None:
        yield "whole"
        return
    first = next(i for i, line in enumerate(lines) if not contracts._is_blank(line))
    sep = contracts._sniff_separator([line for line in lines[first : first + 50] if line.strip()])
    import csv

    contracts._check_unique_headers(next(csv.reader([lines[first]], delimiter=sep)), path, spreadsheet=True,
                                    header_row=first + 1)
    reader = pd.read_csv(path, sep=sep, dtype=str, na_filter=False, skiprows=first, skip_blank_lines=False,
                         encoding=encoding, chunksize=chunk_rows)
    offset = 0
    try:
        for raw in reader:
            raw.columns = [str(c).strip() for c in raw.columns]
            info = {"format": "csv", "encoding": encoding, "separator": sep, "first_row": first + 2 + offset}
            offset += len(raw)
            raw, info = contracts._drop_blank_rows(raw, info)
            yield raw, info
    except pd.errors.EmptyDataError:
        raise contracts._empty_file_error(path) from None
    except pd.errors.ParserError as exc:
        raise contracts._split_error(path, exc, first) from None


def _parquet_chunks(path: Path, chunk_rows: int):
    """(raw typed frame, info) per batch of a Parquet file: text as categoricals, times as they are stored."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
        contracts._check_unique_headers(schema.names, path, spreadsheet=False, header_row=None)
        names = contracts.SIGNALS.names
        lowered = {c.lower() for c in names + [a for c in names for a in contracts.HEADER_ALIASES.get(c, ())]}
        wanted = [raw for raw in schema.names if str(raw).strip().lower() in lowered]
        text = [n for n in wanted if pa.types.is_string(schema.field(n).type)
                or pa.types.is_large_string(schema.field(n).type)]
        reader = pq.ParquetFile(path, read_dictionary=text)
        offset = 0
        for batch in reader.iter_batches(batch_size=chunk_rows, columns=wanted, use_threads=True):
            raw = pd.DataFrame({name: _column(batch.column(i)) for i, name in enumerate(batch.schema.names)},
                               copy=False)
            raw.columns = [str(c).strip() for c in raw.columns]
            info = {"format": "parquet", "encoding": None, "first_row": 2 + offset}
            offset += len(raw)
            yield raw, info
    except (OSError, pa.ArrowException) as exc:
        raise InputError(
            f"cannot read the Parquet file ({type(exc).__name__}: {exc})",
            file=str(path),
            fix="write the file again (pandas: df.to_parquet(path))",
        ) from None


def _column(array) -> pd.Series:
    """One Arrow column as pandas without per-row Python work: dictionary text as a categorical on the batch's
    own codes, times as datetime64 (Arrow's generic to_pandas spent ~4x the read itself here)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_dictionary(kind) and (pa.types.is_string(kind.value_type) or pa.types.is_large_string(kind.value_type)):
        labels = array.dictionary.to_pylist()
        if None not in labels and len(set(labels)) == len(labels):
            indices = pc.fill_null(array.indices, -1) if array.null_count else array.indices
            codes = indices.to_numpy(zero_copy_only=False)
            dtype = pd.CategoricalDtype(pd.Index(labels, dtype=object))
            return pd.Series(pd.Categorical.from_codes(codes, dtype=dtype, validate=False), copy=False)
    if pa.types.is_timestamp(kind) and not array.null_count:
        stamps = pd.DatetimeIndex(array.to_numpy(zero_copy_only=False), copy=False)
        if kind.tz is not None:
            stamps = stamps.tz_localize("UTC").tz_convert(kind.tz)  # Arrow stores UTC instants
        return pd.Series(stamps, copy=False)
    return array.to_pandas()


# ----------------------------------------------------------------------------------------------------------
# Reducing chunks


def _reduce(clean: pd.DataFrame, info: dict, state: _Pass, settings: signals.DetectorSettings, file: str) -> None:
    """Add one validated chunk (sorted by key) to the pass: its segments, its span, the key-order check."""
    stamps = clean["timestamp"].array
    t = np.asarray(stamps.asi8)  # ns: the contract returns datetime64[ns, tz]
    n = len(t)
    state.rows += n
    lo, hi = int(t.min()), int(t.max())
    state.t_min = lo if state.t_min is None else min(state.t_min, lo)
    state.t_max = hi if state.t_max is None else max(state.t_max, hi)
    if len(state.times) <= _DISTINCT_TIMES_MAX:
        state.times = np.union1d(state.times, _distinct(t, lo, hi))

    keyword, platform, metric = (clean[c].array for c in signals.KEY_COLUMNS)
    first_key = (keyword[0], platform[0], metric[0], int(t[0]))
    last_key = (keyword[-1], platform[-1], metric[-1], int(t[-1]))
    if state.last_key is not None and not first_key > state.last_key and state.row_keys is None:
        raise _Restart(unsorted=True)  # a key could repeat across chunks: read again keeping every key
    state.last_key = last_key if state.last_key is None else max(state.last_key, last_key)

    if state.anchor is None:
        state.anchor = hi  # the first chunk's newest row: the provisional grid
    # This chunk's bins are counted back from a point on the grid at or after its newest row.
    shift = 0 if state.fixed else max(0, -((state.anchor - hi) // _DAY_NS))
    chunk_as_of = pd.Timestamp(state.anchor + shift * _DAY_NS, tz="UTC").tz_convert(settings.tz)
    seg = signals._segments(clean, chunk_as_of, settings.tz, None)
    local = [state.keys.setdefault(key, len(state.keys)) for key in seg.keys.itertuples(index=False, name=None)]
    gid = np.asarray(local, dtype=np.int64)
    state.parts.append((gid[seg.sid].astype(np.int32), (seg.back - shift).astype(np.int32), seg.t_ns, seg.total,
                        seg.rows.astype(np.int32)))
    if state.row_keys is not None:
        state.row_keys.append((_row_series(clean, state), t, np.asarray(info["file_rows"], dtype=np.int64)))


def _distinct(t: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Sorted distinct times of a chunk: by counting on the coarsest whole unit that fits (hourly or daily
    data: a few thousand bins), a hash of every row (np.unique) only for irregular times."""
    offset = t - lo
    for unit in (3_600_000_000_000, 60_000_000_000, 1_000_000_000):
        if (hi - lo) // unit < (1 << 22) and not (offset % unit).any():
            return np.flatnonzero(np.bincount(offset // unit)) * unit + lo
    return np.unique(t)


def _row_series(clean: pd.DataFrame, state: _Pass) -> np.ndarray:
    """The series id of every row of a chunk (out-of-order files only)."""
    arrays = [clean[c].array for c in signals.KEY_COLUMNS]
    cats = [np.asarray(a.categories.astype(object)) for a in arrays]
    sizes = [max(len(c), 1) for c in cats]
    combined = signals._combine([np.asarray(a.codes, dtype=np.int64) for a in arrays], sizes)
    unique, inverse = np.unique(combined, return_inverse=True)
    ids = [state.keys.setdefault((str(cats[0][u // (sizes[1] * sizes[2])]), str(cats[1][(u // sizes[2]) % sizes[1]]),
                                  str(cats[2][u % sizes[2]])), len(state.keys)) for u in unique]
    return np.asarray(ids, dtype=np.int32)[inverse.reshape(-1)]


def _check_keys_unique(state: _Pass, file: str) -> None:
    """Out-of-order files: no (series, timestamp) twice in the whole file."""
    sid = np.concatenate([k[0] for k in state.row_keys])
    t = np.concatenate([k[1] for k in state.row_keys])
    rows = np.concatenate([k[2] for k in state.row_keys])
    order = np.lexsort((t, sid))
    same = (sid[order][1:] == sid[order][:-1]) & (t[order][1:] == t[order][:-1])
    if same.any():
        i = np.flatnonzero(same)
        hit = sorted({int(rows[order][j]) for j in np.concatenate([i, i + 1])})
        raise InputError(
            f"duplicate rows: the same {', '.join(contracts.SIGNALS.key)} appears more than once",
            file=file,
            column=", ".join(contracts.SIGNALS.key),
            rows=hit,
            fix="keep one row per combination (sum the counts if they are parts of one period)",
        )


def _segments_of(state: _Pass, as_of: pd.Timestamp, lookback_days: int | None) -> signals._Segments:
    """All chunks' segments, cells split by chunk borders combined, bins counted back from as_of."""
    parts, state.parts = state.parts, []

    def gather(i, dtype):
        out = np.concatenate([p[i] for p in parts]) if parts else np.zeros(0, dtype=dtype)
        for p in parts:  # free each chunk's piece as soon as it is copied: one copy of the segments at a time
            p[i] = None
        return out.astype(dtype, copy=False)

    parts = [list(p) for p in parts]
    sid, back = gather(0, np.int32), gather(1, np.int32)
    # as_of lies whole days after the grid (checked by the caller).
    back += np.int32((as_of.value - state.anchor) // _DAY_NS)
    t_ns, total, rows = gather(2, np.int64), gather(3, np.float64), gather(4, np.int32)
    del parts
    keep = back >= 0
    if lookback_days is not None:
        keep &= back < lookback_days
    if not keep.all():
        sid, back, t_ns, total, rows = sid[keep], back[keep], t_ns[keep], total[keep], rows[keep]
    del keep
    n_back = int(back.max()) + 1 if len(back) else 1
    cell = sid.astype(np.int64) * n_back + back
    space = len(state.keys) * n_back
    counts = np.bincount(cell, minlength=space) if len(cell) else np.zeros(space, dtype=np.int64)
    if len(cell) and counts.max() > 1:  # a cell split across chunks: add the parts
        used = np.flatnonzero(counts)
        total = np.bincount(cell, weights=total, minlength=space)[used]
        rows = np.bincount(cell, weights=rows, minlength=space)[used].astype(np.int64)
        first = np.full(space, np.iinfo(np.int64).max)
        np.minimum.at(first, cell, t_ns)
        t_ns, sid, back = first[used], used // n_back, used % n_back
        del first, used
    del counts, cell
    keys = pd.DataFrame(list(state.keys), columns=list(signals.KEY_COLUMNS), dtype=object)
    present = np.zeros(len(keys), dtype=bool)
    present[sid] = True
    # Series in key order, as signals._segments gives them; a series with no row up to as_of is left out.
    keys = keys.iloc[np.flatnonzero(present)]
    order = keys.sort_values(list(signals.KEY_COLUMNS), kind="stable").index.to_numpy()
    rank = np.full(len(present), -1, dtype=np.int64)
    rank[order] = np.arange(len(order))
    keys = keys.loc[order].reset_index(drop=True).astype(str)
    return signals._Segments(sid=rank[sid], back=back.astype(np.int64), t_ns=t_ns, total=total,
                             rows=rows.astype(np.int64), keys=keys, as_of=as_of)


def _prefetched(chunks):
    """The chunks, the next one read by a second thread while this one is checked and reduced: Arrow's Parquet
    decoding and pandas' CSV parser release the GIL, so reading overlaps the numpy work on two cores."""
    import queue
    import threading

    handoff: queue.Queue = queue.Queue(maxsize=1)  # one chunk ahead: memory stays at two chunks
    stop = threading.Event()

    def hand(message) -> bool:
        """Put one message, giving up once the consumer has stopped (it never takes it)."""
        while not stop.is_set():
            try:
                handoff.put(message, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def read():
        try:
            for item in chunks:
                if not hand(("chunk", item)):
                    return
            hand(("end", None))
        except BaseException as exc:  # handed to the consumer, raised there
            hand(("error", exc))

    reader = threading.Thread(target=read, name="scan-reader", daemon=True)
    reader.start()
    try:
        while True:
            kind, item = handoff.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        reader.join()
        chunks.close()


def _one_pass(chunks, path: Path, state: _Pass, settings: signals.DetectorSettings) -> None:
    file = str(path)
    for raw, info in _prefetched(chunks):
        if len(raw) == 0:
            continue  # only blank rows in this chunk
        info["want_file_rows"] = state.row_keys is not None
        clean = contracts.validate_table(raw, contracts.SIGNALS, tz=settings.tz, file=file, info=info)
        del raw
        _reduce(clean, info, state, settings, file)


# ----------------------------------------------------------------------------------------------------------
# The command


def _source(path: Path, state: _Pass, fmt: str, encoding: str | None, tz: str) -> dict:
    stamp = lambda ns: pd.Timestamp(ns, tz="UTC").tz_convert(tz)  # noqa: E731
    steps = np.diff(state.times)
    return {
        "path": str(path), "encoding": encoding, "format": fmt, "rows": int(state.rows),
        "first": stamp(state.t_min).isoformat(), "last": stamp(state.t_max).isoformat(),
        "step_s": float(np.median(steps) / 1e9) if len(steps) else None,
    }


def keep_freed_memory() -> None:
    """For the one-shot ``spike scan`` process: glibc keeps freed chunk buffers for reuse instead of unmapping
    them and faulting fresh pages in for the next chunk (a third of the command's CPU was system time). The
    peak is unchanged; nothing happens where glibc's mallopt is not available."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: return freed heap to the system only above 1 GiB
        libc.mallopt(-3, 1 << 25)  # M_MMAP_THRESHOLD: buffers up to 32 MiB come from the reusable heap
    except (OSError, AttributeError):
        pass


def scan_file(path, *, as_of=None, settings: signals.DetectorSettings | None = None,
              chunk_rows: int = CHUNK_ROWS) -> tuple[pd.DataFrame, dict]:
    """``signals.scan_table`` of a signals or Google Trends file, read in chunks of ``chunk_rows`` rows.

    Returns (the scan table, the file's source info as ``contracts.read_signals_any`` gives it, without the
    sha256, plus ``as_of``: the moment judged at). Same table, same errors (file, column, whole-file row, fix)
    as loading the file whole and scanning it.
    """
    settings = signals.DetectorSettings() if settings is None else settings
    contracts._check_tz(settings.tz)
    path = Path(path).expanduser().resolve()
    suffix = path.suffix.lower()
    if not path.is_file() or suffix not in contracts._TEXT_SUFFIXES | contracts._PARQUET_SUFFIXES \
            or path.stat().st_size == 0:
        return _whole(path, as_of, settings)  # Excel, or the loader's own error for a bad path
    encoding = None
    if suffix in contracts._TEXT_SUFFIXES:
        encoding = _text_encoding(path)
        if encoding is None:
            return _whole(path, as_of, settings)  # the loader names the line that breaks both encodings
        probe = _text_chunks(path, encoding, 1)
        if next(probe) == "whole":
            return _whole(path, as_of, settings)
        probe.close()

    fixed = as_of is not None
    target = signals._as_timestamp(as_of, settings.tz) if fixed else None
    collect = False
    while True:
        state = _Pass(anchor=target.value if fixed else None, fixed=fixed,
                      row_keys=[] if collect else None)
        chunks = (_text_chunks(path, encoding, chunk_rows) if encoding is not None
                  else _parquet_chunks(path, chunk_rows))
        try:
            _one_pass(chunks, path, state, settings)
        except _Restart as again:
            collect = collect or again.unsorted
            continue
        finally:
            chunks.close()
        _release_arrow_pool()
        if state.rows == 0:
            raise contracts._empty_file_error(path)
        if collect:
            _check_keys_unique(state, str(path))
        if fixed:
            used = target
        else:
            used = pd.Timestamp(state.t_max, tz="UTC").tz_convert(settings.tz)
            if (state.t_max - state.anchor) % _DAY_NS:
                # The newest row is off the first chunk's daily grid: read again with as_of known.
                fixed, target = True, used
                continue
        break
    seg = _segments_of(state, used, settings.lookback_days)
    blocks, used = signals._blocks_of(seg, settings)
    del seg
    table = signals._scan_ranked(signals._detect_blocks(blocks, used, settings), used, settings)
    info = _source(path, state, "parquet" if encoding is None else "csv", encoding, settings.tz)
    info["as_of"] = used
    return table, info


def _release_arrow_pool() -> None:
    """Hand the Parquet reader's cached buffers back before the detector's arrays are made."""
    import sys

    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()


def _whole(path: Path, as_of, settings: signals.DetectorSettings) -> tuple[pd.DataFrame, dict]:
    frame, info = contracts.read_signals_any(path, tz=settings.tz)
    table = signals.scan_table(frame, as_of=as_of, settings=settings)
    info["as_of"] = (signals._as_timestamp(as_of, settings.tz) if as_of is not None
                     else frame["timestamp"].max())
    return table, info
