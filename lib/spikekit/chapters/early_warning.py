"""Early warning (chapter 01, 预警系统): which keyword x platform series are taking off, with evidence.

The handbook's rule: alert when interaction volume grows 150%-200% week over week (周环比增长, by
category), watch "scene + emotion" keyword groups, and keep the daily review list short (15 minutes a
day). This module turns that rule into a statistical detector that runs over thousands of series at once.

Method (every number below is a ``DetectorSettings`` field):

1. Bins. Rows after ``as_of`` are dropped first. Hourly or daily rows are summed (count metrics) or
   averaged (index metrics such as ``search_index``) into 24-hour bins aligned to ``as_of``: bin ``k``
   holds rows with ``as_of - (k+1)*24h < timestamp <= as_of - k*24h``, so there is never a partial last
   day. Series recorded natively per week or month (Google Trends) keep their own points instead, and
   only points whose period has ended by ``as_of`` are used (the running week of an export reads low).
   A series is taken as weekly (monthly) when its observed days are never closer than 6 (27) days;
   ``period`` forces one reading for all. For daily-binned count series, a day without rows after the
   series' first row counts as 0; an index series' empty day stays missing.
2. Weekly level. Daily series: the mean of the last 7 bins with the largest day replaced by the second
   largest (a winsorized mean): a one-day burst cannot make a week, while a real rise keeps its newest
   days (dropping the largest day instead, a trimmed mean, lags a fast rise by about a day). Comparing
   whole weeks cancels day-of-week seasonality.
   Native series: the point itself (a "week" is one point, a "month" is one month; ``period`` says so).
3. Growth. ``growth = this / last - 1`` with both levels floored at ``min_level`` (a 0 -> 1 change is
   not infinite growth).
4. Evidence. On the log scale, ``z = (log(this/last) - log(1 + band_low)) / sd``: a one-sided test that
   growth exceeds the category's alert band. ``sd`` is the largest of
   - the robust spread of the series' own past week-over-week log ratios: 1.4826 x MAD of the
     ``history_weeks`` ratios ending 1..history_weeks weeks earlier (small-sample factor n/(n-0.8));
     with fewer than ``min_history_weeks`` of them, ``default_log_sd`` stands in;
   - measurement noise: Poisson sqrt(1/C + 1/P) on the weekly counts for count metrics,
     rounding noise of an integer index for index metrics;
   - ``min_log_sd``.
   The interval ``growth_low .. growth_high`` is exp(log ratio -/+ min_score x sd) - 1, so
   ``growth_low > band_low`` is the same statement as ``z >= min_score`` (90% two-sided by default).
5. Alert. The condition (``z >= min_score``) must hold on ``persistence`` consecutive daily evaluations
   (``persistence_native`` for weekly/monthly series). An alert whose growth reaches ``band_high`` is
   "strong". Every bin up to ``as_of`` is evaluated, so each series has a timeline and a first-alert time
   (the end of the first bin where the alert held).
6. Groups. Each keyword group ("scene + emotion") is also scored as the sum of its member keywords per
   platform, and over all platforms (platform "all") when its members appear on two or more. A member
   without data yet adds 0, so start tracking all members of a group together.
7. Review. The daily review list holds at most ``review_size`` series that alert now or whose latest
   alert episode began within ``review_window_days``, ranked by score then growth.

Everything here is pure: frames and settings in, frames out. The work is vectorised over series: the
rows are reduced once to series x day sums (a few passes, fastest on a table sorted by series and time, as
``contracts.load_signals`` returns it), then every step runs on (series x bins) arrays.
"""
from __future__ import annotations

import dataclasses
import math
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ..core.errors import ConfigError, InputError
from ..core.tables import format_value
# Same constant as stats.MAD_TO_SIGMA (a test checks): importing spikekit.core.stats would load scipy.stats,
# ~0.3-0.4 s of the `spike scan` command's start-up for one number.
MAD_TO_SIGMA = 1.4826

__all__ = [
    "DetectorSettings",
    "LevelMatrix",
    "daily_levels",
    "evaluate",
    "detect",
    "spike_first_alert",
    "review_list",
    "scan_table",
    "alert_episodes",
    "format_alerts",
    "alerts_to_json",
    "lead_time",
    "STATUSES",
]

STATUSES = ("strong", "alert", "watch", "quiet")
PERIODS = ("auto", "day", "week", "month")
KEY_COLUMNS = ("keyword", "platform", "metric")
REQUIRED_COLUMNS = ("keyword", "platform", "metric", "timestamp", "value")
ALL_PLATFORMS = "all"
DAY_WINDOW = 7  # daily bins per week

_NS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_DAY_NS = 86_400 * 1_000_000_000


# ----------------------------------------------------------------------------------------------------------
# Settings


@dataclass
class DetectorSettings:
    """Every field is a notebook parameter; the defaults are the handbook's rules of thumb."""

    # category -> (band_low, band_high) as growth fractions: 1.5 = +150% week over week (ratio 2.5).
    band_by_category: dict = field(default_factory=lambda: {"default": (1.5, 2.0)})
    keyword_category: dict = field(default_factory=dict)  # keyword or group name -> category
    keyword_groups: dict = field(default_factory=dict)  # group name -> member keywords ("scene + emotion")
    min_score: float = 1.645  # one-sided z for "growth exceeds band_low" (95%)
    persistence: int = 2  # consecutive daily evaluations the condition must hold
    persistence_native: int = 1  # the same for weekly / monthly series
    # An evaluation whose whole growth interval lies above the band's high end alerts at once: waiting a
    # second day for such evidence only delays the alert (the winsorized week already ignores one-day bursts).
    waive_persistence: bool = True
    # Sustained rise: growth over ramp_weeks beats ramp_band with evidence and the level is a new high,
    # at least `novelty` times anything seen before the rise (a seasonal or a shock bump is not new).
    ramp_weeks: tuple = (4, 8)  # horizons tried (weeks); () switches the test off
    ramp_band: float = 1.5  # the handbook's +150%, reached over a horizon instead of one week
    novelty: float = 3.0
    # With less than a year seen before the rise a season's first swing also looks new: ask for more.
    novelty_short_history: float = 6.0
    novelty_history_weeks: int = 52
    review_size: int = 5  # 15 minutes of review a day, about 3 minutes per alert
    review_window_days: int = 3  # alerts that began this recently stay on the review list
    fill_review: bool = True  # free places on the review list go to the best-evidenced watch series
    history_weeks: int = 26  # noise estimated from this many past weekly ratios (robust to a bump or two)
    min_history_weeks: int = 3  # fewer past ratios than this: default_log_sd stands in
    default_log_sd: float = 0.25  # spread of weekly log ratios assumed for a series without history
    min_log_sd: float = 0.05  # no series is trusted to be steadier than +/-5% a week
    min_level: float = 1.0  # levels (per day, or per native period) are floored here before dividing
    level_metrics: tuple = ("search_index",)  # averaged per bin, rounding noise; other metrics are counts
    period: str = "auto"  # "auto" infers per series; or force "day" | "week" | "month"
    lookback_days: int | None = None  # ignore rows older than this many days before as_of (None: all)
    tz: str = "Asia/Shanghai"  # time zone of a naive as_of or naive timestamps

    def __post_init__(self):
        bands = dict(self.band_by_category or {})
        bands.setdefault("default", (1.5, 2.0))
        clean = {}
        for category, band in bands.items():
            try:
                low, high = (float(x) for x in band)
            except (TypeError, ValueError):
                raise ConfigError(
                    f"band_by_category[{category!r}] must be two numbers (low, high), got {band!r}"
                ) from None
            if not (low > -1 and high >= low) or not (math.isfinite(low) and math.isfinite(high)):
                raise ConfigError(
                    f"band_by_category[{category!r}] = {band!r}: need -1 < low <= high "
                    "(growth fractions: 1.5 means +150%)"
                )
            clean[str(category)] = (low, high)
        self.band_by_category = clean
        self.keyword_category = {str(k): str(v) for k, v in dict(self.keyword_category or {}).items()}
        unknown = sorted({c for c in self.keyword_category.values() if c not in clean})
        if unknown:
            raise ConfigError(
                f"keyword_category uses categories {unknown} that band_by_category does not define. "
                f"Defined: {sorted(clean)}"
            )
        groups = {}
        for name, members in dict(self.keyword_groups or {}).items():
            if isinstance(members, str) or not isinstance(members, Iterable):
                raise ConfigError(f"keyword_groups[{name!r}] must be a list of keywords, got {members!r}")
            members = [str(m) for m in members]
            if not members:
                raise ConfigError(f"keyword_groups[{name!r}] is empty")
            groups[str(name)] = members
        self.keyword_groups = groups
        for name in ("persistence", "persistence_native", "history_weeks", "min_history_weeks"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigError(f"{name} must be a whole number >= 1, got {value!r}")
        ramp = self.ramp_weeks
        ramp = () if ramp in (None, 0) else ((ramp,) if isinstance(ramp, (int, np.integer)) else ramp)
        try:
            ramp = tuple(sorted({int(w) for w in ramp}))
            if any(w < 1 for w in ramp) or any(isinstance(w, bool) for w in self.ramp_weeks or ()):
                raise ValueError
        except (TypeError, ValueError):
            raise ConfigError(f"ramp_weeks must be whole numbers of weeks >= 1 (or empty), got {self.ramp_weeks!r}") from None
        self.ramp_weeks = ramp
        for name in ("review_size", "review_window_days", "novelty_history_weeks"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ConfigError(f"{name} must be a whole number >= 0, got {value!r}")
        if self.min_history_weeks > self.history_weeks:
            raise ConfigError(
                f"min_history_weeks ({self.min_history_weeks}) cannot exceed history_weeks ({self.history_weeks})"
            )
        for name in ("min_score", "default_log_sd", "min_log_sd", "min_level", "ramp_band", "novelty",
                     "novelty_short_history"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not math.isfinite(value):
                raise ConfigError(f"{name} must be a number, got {value!r}")
        if self.ramp_band <= -1 or self.novelty <= 0 or self.novelty_short_history <= 0:
            raise ConfigError(
                f"ramp_band must be > -1 (a growth fraction: 1.5 means +150%) and novelty > 0, "
                f"got {self.ramp_band!r} and {self.novelty!r}"
            )
        for name in ("waive_persistence", "fill_review"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.min_level <= 0 or self.min_log_sd <= 0 or self.default_log_sd <= 0:
            raise ConfigError("min_level, min_log_sd and default_log_sd must be > 0 (they keep ratios finite)")
        if self.period not in PERIODS:
            raise ConfigError(f"period must be one of {', '.join(PERIODS)}, got {self.period!r}")
        if self.lookback_days is not None and (
            isinstance(self.lookback_days, bool) or not isinstance(self.lookback_days, (int, np.integer))
            or self.lookback_days < 1
        ):
            raise ConfigError(f"lookback_days must be None or a whole number >= 1, got {self.lookback_days!r}")
        if isinstance(self.level_metrics, str):
            self.level_metrics = (self.level_metrics,)
        self.level_metrics = tuple(str(m) for m in self.level_metrics)

    @classmethod
    def from_dict(cls, params: Mapping[str, Any] | None) -> "DetectorSettings":
        """Settings from notebook parameters; an unknown name is an error, not a silent default."""
        params = dict(params or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ConfigError(f"unknown detector setting(s) {unknown}. Known: {', '.join(sorted(known))}")
        return cls(**params)

    def category_of(self, name: str) -> str:
        return self.keyword_category.get(name, "default")

    def band(self, category: str) -> tuple[float, float]:
        return self.band_by_category.get(category, self.band_by_category["default"])


# ----------------------------------------------------------------------------------------------------------
# Time helpers


def _as_timestamp(value, tz: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ConfigError(f"as_of {value!r} is not a date/time (e.g. '2025-03-01 09:00')") from None
    if stamp is pd.NaT:
        raise ConfigError("as_of is empty (NaT)")
    if stamp.tzinfo is None:
        try:
            stamp = stamp.tz_localize(tz)
        except Exception as exc:  # unknown zone or a local time that does not exist
            raise ConfigError(f"cannot read as_of {value!r} in time zone {tz!r}: {exc}") from None
    return stamp


def _timestamp_i8(column: pd.Series, tz: str) -> tuple[np.ndarray, int]:
    """Epoch integers of a timestamp column (no copy when already tz-aware) and nanoseconds per unit."""
    if not isinstance(column.dtype, pd.DatetimeTZDtype):
        if not pd.api.types.is_datetime64_dtype(column.dtype):
            column = pd.to_datetime(column, format="ISO8601")
        column = column.dt.tz_localize(tz) if column.dt.tz is None else column
    unit = column.dtype.unit
    return np.asarray(column.array.asi8), _NS_PER_UNIT[unit]


def _stamps(i8_ns: np.ndarray, tz) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(np.asarray(i8_ns, dtype=np.int64), unit="ns", utc=True)).tz_convert(tz)


# ----------------------------------------------------------------------------------------------------------
# From rows to segments


def _column_codes(column: pd.Series, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (no copy for categorical columns) and the values they stand for."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = np.asarray(column.array.codes)
        categories = np.asarray(column.cat.categories.astype(object))
    else:
        codes, uniques = pd.factorize(column, sort=False)
        categories = np.asarray(pd.Index(uniques).astype(object))
    if len(codes) and codes.min() < 0:
        raise InputError(
            "empty value where every row needs one",
            column=name,
            rows=(np.flatnonzero(codes < 0)[:5] + 2).tolist(),
            fix=f"fill in the {name} on every row",
        )
    return codes, categories


@dataclass
class _Segments:
    """The input reduced to runs of rows of one series in one 24-hour bin (as_of-aligned).

    A table sorted by series and time (what ``contracts.load_signals`` returns) has one segment per
    series x day, so everything after this step works on thousands of numbers instead of millions of
    rows. Any other row order is still correct, only slower (more, shorter segments).
    """

    sid: np.ndarray  # series of the segment (index into keys)
    back: np.ndarray  # whole days back from as_of: 0 = the bin (as_of - 24h, as_of]
    t_ns: np.ndarray  # time of the segment's first row (ns since epoch)
    total: np.ndarray  # sum of its values
    rows: np.ndarray  # number of rows
    keys: pd.DataFrame  # keyword, platform, metric per series
    as_of: pd.Timestamp


def _check_columns(signals: pd.DataFrame) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in signals.columns]
    if missing:
        raise InputError(
            f"the signals table lacks column(s) {missing}",
            fix="load it with spikekit.inputs.contracts.load_signals (columns keyword, platform, metric, timestamp, value)",
        )


_CHUNK_ROWS = 1 << 20
_UNSORTED_SHARE = 0.25  # more segments than this share of rows: the table is not grouped by series
_UNSORTED_MIN_ROWS = 1 << 16  # ... judged on the first chunk once it is at least this long


def _segment_starts(t_raw, as_of_units, day_units, codes, value):
    """Row positions where a new series x day segment starts, its days back from as_of, any NaN value.

    Works through the rows in chunks with reused buffers: a few small arrays instead of several
    row-sized temporaries (fresh 100+ MB arrays are slow to map on some machines and raise peak memory).
    Returns None when the first large chunk shows the rows are not grouped by series (time-major order).
    """
    n = len(t_raw)
    size = min(n, _CHUNK_ROWS)
    back_buf = np.empty(size, dtype=np.int64)
    flag_buf = np.empty(size, dtype=bool)
    diff_buf = np.empty(size, dtype=bool)
    starts, backs = [], []
    has_nan = False
    previous_back = None
    for lo in range(0, n, size):
        hi = min(lo + size, n)
        m = hi - lo
        back = back_buf[:m]
        # Days back from as_of, floored: rows after as_of get negative values and are dropped later.
        np.subtract(as_of_units, t_raw[lo:hi], out=back)
        np.floor_divide(back, day_units, out=back)
        flags = flag_buf[:m]
        np.not_equal(back[1:], back[:-1], out=flags[1:])
        diff = diff_buf[: m - 1]
        for code in codes:
            np.not_equal(code[lo + 1 : hi], code[lo : hi - 1], out=diff)
            flags[1:] |= diff
        flags[0] = lo == 0 or back[0] != previous_back or any(code[lo] != code[lo - 1] for code in codes)
        previous_back = back[-1]
        where = np.flatnonzero(flags)
        if lo == 0 and m >= _UNSORTED_MIN_ROWS and len(where) > _UNSORTED_SHARE * m:
            return None
        starts.append(where + lo)
        backs.append(back[where])
        has_nan = has_nan or bool(np.isnan(value[lo:hi]).any())
    return np.concatenate(starts), np.concatenate(backs), has_nan


def _combine(codes: list[np.ndarray], sizes: list[int]) -> np.ndarray:
    """One int64 per element naming the keyword x platform x metric combination."""
    combined = codes[0].astype(np.int64) * (sizes[1] * sizes[2])
    combined += codes[1].astype(np.int64) * sizes[2]
    combined += codes[2]
    return combined


def _dense_codes(combined: np.ndarray, space: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values ascending, position of each element among them)."""
    if combined.size and space <= max(4 * combined.size, 1 << 20):
        used = np.bincount(combined, minlength=space) > 0  # counting, no sort
        return np.flatnonzero(used), (np.cumsum(used) - 1)[combined]
    unique, inverse = np.unique(combined, return_inverse=True)
    return unique, inverse.reshape(-1)


def _cells_any_order(t_raw, as_of_units, day_units, codes, sizes, value, lookback_days):
    """The segments of a table in any row order: one counting pass per series x day cell.

    Uses a few row-sized arrays (more memory than the grouped path) but no sort.
    """
    back = np.subtract(as_of_units, t_raw)
    np.floor_divide(back, day_units, out=back)
    keep = (back >= 0) & ~np.isnan(value)
    if lookback_days is not None:
        keep &= back < lookback_days
    combined = _combine(codes, sizes)
    t_kept = t_raw
    if not keep.all():
        combined, back, value, t_kept = combined[keep], back[keep], value[keep], t_raw[keep]
    if len(back) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, np.zeros(0), empty
    series, sid = _dense_codes(combined, sizes[0] * sizes[1] * sizes[2])
    del combined
    n_bins = int(back.max()) + 1
    cell = sid.astype(np.int64) * n_bins
    cell += back
    del back, sid
    size = len(series) * n_bins
    rows = np.bincount(cell, minlength=size)
    total = np.bincount(cell, weights=value, minlength=size)
    first = np.full(size, np.iinfo(np.int64).max)
    np.minimum.at(first, cell, t_kept)
    used = np.flatnonzero(rows)
    return series[used // n_bins], used % n_bins, first[used], total[used], rows[used]


def _segments(signals: pd.DataFrame, as_of, tz: str, lookback_days: int | None) -> _Segments:
    """Rows after as_of (and before the lookback) dropped; rows summed per series x as_of-aligned day."""
    _check_columns(signals)
    as_of = _as_timestamp(as_of, tz)
    t_raw, ns_per_unit = _timestamp_i8(signals["timestamp"], tz)
    value = np.asarray(signals["value"], dtype=np.float64)
    columns = [_column_codes(signals[name], name) for name in KEY_COLUMNS]
    codes = [code for code, _ in columns]
    sizes = [max(len(cats), 1) for _, cats in columns]
    n = len(value)
    as_of_units, day_units = as_of.value // ns_per_unit, _DAY_NS // ns_per_unit
    found = _segment_starts(t_raw, as_of_units, day_units, codes, value) if n else None
    if found is None:
        seg_combined, seg_back, seg_t, total, rows = _cells_any_order(
            t_raw, as_of_units, day_units, codes, sizes, value, lookback_days
        )
    else:
        starts, seg_back, has_nan = found
        if has_nan:  # contracts never let NaN through; keep the arithmetic right if a caller does
            missing = np.isnan(value)
            total = np.add.reduceat(np.where(missing, 0.0, value), starts)
            rows = np.add.reduceat((~missing).astype(np.int64), starts)
        else:
            total = np.add.reduceat(value, starts)
            rows = np.diff(starts, append=n)
        keep = (seg_back >= 0) & (rows > 0)
        if lookback_days is not None:
            keep &= seg_back < lookback_days
        starts, seg_back, total, rows = starts[keep], seg_back[keep], total[keep], rows[keep]
        seg_combined = _combine([code[starts] for code in codes], sizes)
        seg_t = t_raw[starts]
    unique, sid = _dense_codes(seg_combined, sizes[0] * sizes[1] * sizes[2])
    cats = [c for _, c in columns]
    keys = pd.DataFrame(
        {
            "keyword": cats[0][unique // (sizes[1] * sizes[2])].astype(str),
            "platform": cats[1][(unique // sizes[2]) % sizes[1]].astype(str),
            "metric": cats[2][unique % sizes[2]].astype(str),
        }
    )
    # Series in key order whatever the row order or category order of the input.
    order = keys.sort_values(list(KEY_COLUMNS), kind="stable").index.to_numpy()
    if not (order == np.arange(len(order))).all():
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        sid = rank[sid]
        keys = keys.iloc[order].reset_index(drop=True)
    return _Segments(
        sid=np.asarray(sid, dtype=np.int64),
        back=np.asarray(seg_back, dtype=np.int64),
        t_ns=np.asarray(seg_t, dtype=np.int64) * ns_per_unit,
        total=np.asarray(total, dtype=np.float64),
        rows=np.asarray(rows, dtype=np.int64),
        keys=keys,
        as_of=as_of,
    )


# ----------------------------------------------------------------------------------------------------------
# Binning


@dataclass
class LevelMatrix:
    """Series binned onto one time axis: one row per series, one column per bin (oldest first).

    ``values`` is the level per bin (sum of a count metric, mean of an index metric; NaN = no data);
    ``rows`` counts the input rows in each bin; ``bin_end`` is the (inclusive) end of each bin.
    """

    keys: pd.DataFrame
    values: np.ndarray
    rows: np.ndarray
    bin_end: pd.DatetimeIndex
    period: str
    is_level: np.ndarray  # per series: index metric (averaged) rather than a count (summed)


def _level_flags(keys: pd.DataFrame, level_metrics: Iterable[str]) -> np.ndarray:
    return keys["metric"].isin(list(level_metrics)).to_numpy()


def _bin_daily(seg: _Segments, is_level: np.ndarray) -> LevelMatrix:
    """24-hour bins aligned to as_of: bin k (counted back from as_of) is (as_of-(k+1)d, as_of-k*d]."""
    n_series = len(seg.keys)
    tz = seg.as_of.tz
    if len(seg.sid) == 0:
        empty = np.zeros((n_series, 0))
        return LevelMatrix(seg.keys, empty, empty.astype(np.int64), pd.DatetimeIndex([], tz=tz), "day", is_level)
    n_bins = int(seg.back.max()) + 1
    flat = seg.sid.astype(np.int64) * n_bins + (n_bins - 1 - seg.back)  # columns run oldest to newest
    size = n_series * n_bins
    sums = np.bincount(flat, weights=seg.total, minlength=size).reshape(n_series, n_bins)
    counts = np.bincount(flat, weights=seg.rows, minlength=size).reshape(n_series, n_bins).astype(np.int64)
    observed = counts > 0
    values = np.where(is_level[:, None], sums / np.maximum(counts, 1), sums)
    # Before a series' first row there is no data; after it a count series' empty day is a zero day,
    # while an index series' empty day stays missing.
    first = np.argmax(observed, axis=1)
    before = np.arange(n_bins)[None, :] < first[:, None]
    values[before | (is_level[:, None] & ~observed)] = np.nan
    ends = seg.as_of.value - (n_bins - 1 - np.arange(n_bins, dtype=np.int64)) * _DAY_NS
    return LevelMatrix(seg.keys, values, counts, _stamps(ends, tz), "day", is_level)


def daily_levels(signals: pd.DataFrame, as_of, tz: str = "Asia/Shanghai", level_metrics=("search_index",)) -> LevelMatrix:
    """Every series of ``signals`` in 24-hour bins aligned to ``as_of`` (rows after as_of ignored).

    Count metrics are summed per bin, ``level_metrics`` averaged. Vectorised: a few passes over the
    rows whatever the number of series.
    """
    seg = _segments(signals, as_of, tz, None)
    return _bin_daily(seg, _level_flags(seg.keys, level_metrics))


def _infer_periods(observed: np.ndarray) -> np.ndarray:
    """'week' or 'month' for series whose observed days are never closer than a week / a month apart."""
    n_series = observed.shape[0]
    min_gap = np.full(n_series, np.iinfo(np.int64).max)
    r, c = np.nonzero(observed)
    if len(r) > 1:
        same = r[1:] == r[:-1]
        np.minimum.at(min_gap, r[1:][same], np.diff(c)[same])
    periods = np.full(n_series, "day", dtype=object)
    periods[(min_gap >= 6) & (min_gap <= 8)] = "week"
    periods[(min_gap >= 27) & (min_gap <= 32)] = "month"
    return periods


def _period_end_ns(t_ns: np.ndarray, period: str, tz) -> np.ndarray:
    """End of the week / month starting at each time, in local calendar terms (daylight saving safe)."""
    step = pd.DateOffset(weeks=1) if period == "week" else pd.DateOffset(months=1)
    return (_stamps(t_ns, tz) + step).as_unit("ns").asi8


def _bin_native(seg: _Segments, series: np.ndarray, period: str, is_level: np.ndarray) -> LevelMatrix:
    """Weekly/monthly series at their own points; only points whose period has ended by as_of."""
    tz = seg.as_of.tz
    lookup = np.full(len(seg.keys), -1, dtype=np.int64)
    lookup[series] = np.arange(len(series))
    local = lookup[seg.sid]
    mine = local >= 0
    local, t_ns, total, rows = local[mine], seg.t_ns[mine], seg.total[mine], seg.rows[mine]
    complete = _period_end_ns(t_ns, period, tz) <= seg.as_of.value
    local, t_ns, total, rows = local[complete], t_ns[complete], total[complete], rows[complete]
    axis = np.unique(t_ns)
    n_series, n_bins = len(series), len(axis)
    flat = local * n_bins + np.searchsorted(axis, t_ns)
    size = n_series * n_bins
    sums = np.bincount(flat, weights=total, minlength=size).reshape(n_series, n_bins)
    counts = np.bincount(flat, weights=rows, minlength=size).reshape(n_series, n_bins).astype(np.int64)
    flags = is_level[series]
    values = np.where(flags[:, None], sums / np.maximum(counts, 1), sums)
    values[counts == 0] = np.nan  # a missing week is missing, not zero
    keys = seg.keys.iloc[series].reset_index(drop=True)
    return LevelMatrix(keys, values, counts, _stamps(_period_end_ns(axis, period, tz), tz), period, flags)


def _add_groups(block: LevelMatrix, groups: Mapping[str, list[str]]) -> LevelMatrix:
    """Append one summed series per keyword group x platform (and x all platforms) x metric."""
    keys = block.keys.assign(kind="keyword")
    if not groups or len(keys) == 0:
        return dataclasses.replace(block, keys=keys)
    new_keys, new_values, new_rows, new_flags = [], [], [], []

    def add(name, platform, metric, members_idx):
        stack = block.values[members_idx]
        missing = np.isnan(stack).all(axis=0)
        total = np.nansum(stack, axis=0)
        total[missing] = np.nan
        new_keys.append((name, platform, metric))
        new_values.append(total)
        new_rows.append(block.rows[members_idx].sum(axis=0))
        new_flags.append(bool(block.is_level[members_idx[0]]))

    keyword = keys["keyword"].to_numpy()
    for name, members in groups.items():
        in_group = np.isin(keyword, members)
        if not in_group.any():
            continue
        part = keys[in_group]
        for metric, by_metric in part.groupby("metric", sort=True):
            for platform, by_platform in by_metric.groupby("platform", sort=True):
                add(name, platform, metric, by_platform.index.to_numpy())
            if by_metric["platform"].nunique() > 1:
                add(name, ALL_PLATFORMS, metric, by_metric.index.to_numpy())
    if not new_keys:
        return dataclasses.replace(block, keys=keys)
    extra = pd.DataFrame(new_keys, columns=list(KEY_COLUMNS)).assign(kind="group")
    return LevelMatrix(
        keys=pd.concat([keys, extra], ignore_index=True),
        values=np.vstack([block.values, np.vstack(new_values)]),
        rows=np.vstack([block.rows, np.vstack(new_rows)]),
        bin_end=block.bin_end,
        period=block.period,
        is_level=np.concatenate([block.is_level, np.array(new_flags, dtype=bool)]),
    )


def _blocks(signals: pd.DataFrame, as_of, settings: DetectorSettings) -> tuple[list[LevelMatrix], pd.Timestamp]:
    """The input as one matrix per period kind (day / week / month), keyword groups included."""
    return _blocks_of(_segments(signals, as_of, settings.tz, settings.lookback_days), settings)


def _blocks_of(seg: _Segments, settings: DetectorSettings) -> tuple[list[LevelMatrix], pd.Timestamp]:
    """``_blocks`` from segments already made (by ``_segments``, or merged from chunks of a file)."""
    is_level = _level_flags(seg.keys, settings.level_metrics)
    daily = _bin_daily(seg, is_level)
    if settings.period == "auto":
        periods = _infer_periods(daily.rows > 0)
    else:
        periods = np.full(len(seg.keys), settings.period, dtype=object)
    blocks = []
    day_series = np.flatnonzero(periods == "day")
    if len(day_series) == len(seg.keys):
        blocks.append(daily)
    elif len(day_series):
        values, counts = daily.values[day_series], daily.rows[day_series]
        # The shared axis reaches back to the oldest native point; keep only what daily series cover.
        start = int(np.argmax((counts > 0).any(axis=0)))
        blocks.append(
            LevelMatrix(
                daily.keys.iloc[day_series].reset_index(drop=True),
                values[:, start:],
                counts[:, start:],
                daily.bin_end[start:],
                "day",
                is_level[day_series],
            )
        )
    del daily
    for period in ("week", "month"):
        series = np.flatnonzero(periods == period)
        if len(series):
            blocks.append(_bin_native(seg, series, period, is_level))
    return [_add_groups(b, settings.keyword_groups) for b in blocks], seg.as_of


# ----------------------------------------------------------------------------------------------------------
# Scoring


def _shift(a: np.ndarray, lag: int) -> np.ndarray:
    """a[:, e - lag] at column e (NaN where that is before the start)."""
    out = np.full(a.shape, np.nan)
    if lag < a.shape[1]:
        out[:, lag:] = a[:, : a.shape[1] - lag]
    return out


def _sort_columns(arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Element-wise ascending sort across a list of equal-shape arrays (odd-even transposition network).

    For the handful of weekly ratios per evaluation this is a few dozen 2-D min/max passes, far cheaper
    than sorting millions of tiny rows one by one. Sorts in place (one spare buffer); NaN must have been
    replaced (by +inf) beforehand.
    """
    out = list(arrays)
    if len(out) < 2:
        return out
    spare = np.empty_like(out[0])
    for step in range(len(out)):
        for i in range(step % 2, len(out) - 1, 2):
            np.minimum(out[i], out[i + 1], out=spare)
            np.maximum(out[i], out[i + 1], out=out[i + 1])
            out[i], spare = spare, out[i]
    return out


def _median_of_sorted(sorted_arrays: list[np.ndarray], n: np.ndarray) -> np.ndarray:
    """Median of the first n (per element) of the sorted arrays; NaN where n == 0."""
    lo = np.maximum((n - 1) // 2, 0)
    hi = np.maximum(n // 2, 0)
    med = np.choose(lo, sorted_arrays)
    med += np.choose(hi, sorted_arrays)
    med *= 0.5
    med[n == 0] = np.nan
    return med


def _winsorized_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean over each run of ``window`` bins with its largest value replaced by the second largest.

    A one-day burst cannot lift the week, yet a real rise keeps most of its newest, largest days (leaving
    the largest day out altogether, a trimmed mean, lags a fast rise by about a day). Column j of the
    result is the window ending at column j + window - 1. NaN anywhere in a window gives NaN.
    """
    width = values.shape[1] - window + 1
    top = np.full((values.shape[0], width), -np.inf)
    second = top.copy()
    total = np.zeros_like(top)
    for offset in range(window):  # running top two: a handful of 2-D passes, no 3-D temporaries
        x = values[:, offset : offset + width]
        total += x
        np.maximum(second, np.minimum(top, x), out=second)
        np.maximum(top, x, out=top)
    return (total - top + second) / window


def _robust_spread(log_ratio: np.ndarray, lag: int, history: int, first_col: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """1.4826 x MAD of the past ratios ending lag, 2*lag, ..., history*lag bins earlier, and their count.

    Columns before ``first_col`` (where too few past ratios can exist) are left NaN with count 0.
    """
    n_series, n_bins = log_ratio.shape
    spread = np.full((n_series, n_bins), np.nan)
    count = np.zeros((n_series, n_bins), dtype=np.int64)
    if first_col >= n_bins:
        return spread, count
    # Only as many past ratios as the series can have: the sorting network costs history^2 passes.
    history = max(1, min(history, (n_bins - 1) // max(lag, 1)))
    reach = lag * history
    padded = np.full((n_series, reach + n_bins), np.nan)
    padded[:, reach:] = log_ratio
    # past[j-1][:, e] is the ratio j weeks (j*lag bins) before column e: a view, no copy.
    past = [padded[:, reach - lag * j + first_col : reach - lag * j + n_bins] for j in range(1, history + 1)]
    n = np.zeros(past[0].shape, dtype=np.int64)
    for p in past:
        n += ~np.isnan(p)
    work = []
    for p in past:
        w = p.copy()
        w[np.isnan(w)] = np.inf
        work.append(w)
    med = _median_of_sorted(_sort_columns(work), n)
    for w, p in zip(work, past):  # reuse the buffers for the absolute deviations
        np.subtract(p, med, out=w)
        np.abs(w, out=w)
        w[np.isnan(w)] = np.inf
    mad = _median_of_sorted(_sort_columns(work), n)
    with np.errstate(invalid="ignore", divide="ignore"):
        spread[:, first_col:] = MAD_TO_SIGMA * mad * n / (n - 0.8)  # small-sample correction
    count[:, first_col:] = n
    return spread, count


@dataclass
class _Scores:
    block: LevelMatrix
    category: np.ndarray
    band_low: np.ndarray
    band_high: np.ndarray
    this: np.ndarray
    last: np.ndarray
    growth: np.ndarray
    growth_low: np.ndarray
    growth_high: np.ndarray
    score: np.ndarray
    sd: np.ndarray
    condition: np.ndarray
    alert: np.ndarray
    ramp_weeks: np.ndarray  # horizon of the sustained-rise test per series x bin
    ramp_growth: np.ndarray
    ramp_low: np.ndarray
    ramp_score: np.ndarray
    novelty: np.ndarray
    week_condition: np.ndarray
    ramp_condition: np.ndarray

    # p-values and trigger texts are made only for the cells shown (the latest bin, or the timeline's valid
    # cells): over every series x bin they were a fifth of the scoring time at 100k series.
    def p_value_at(self, rows, cols) -> np.ndarray:
        return _upper_tail(self.score[rows, cols])

    def trigger_at(self, rows, cols) -> np.ndarray:
        """"week", "ramp Nw", "week+ramp Nw" or "" per cell: why the condition holds."""
        week, ramp = self.week_condition[rows, cols], self.ramp_condition[rows, cols]
        label = np.char.add("ramp ", np.char.add(self.ramp_weeks[rows, cols].astype(int).astype(str), "w"))
        trigger = np.where(week, "week", "")
        return np.where(ramp, np.char.add(np.where(week, "week+", ""), label), trigger)


_ERFC = np.frompyfunc(math.erfc, 1, 1)


def _upper_tail(score) -> np.ndarray:
    """P(Z > score) for a standard normal, elementwise. math.erfc rather than scipy.special.ndtr: importing
    scipy.special costs ~0.16 s of the ``spike scan`` command's ~3 s budget, for 10k calls that take 3 ms."""
    return (0.5 * _ERFC(np.asarray(score, dtype=float) / math.sqrt(2.0))).astype(float)


def _measurement_var(this_f: np.ndarray, then_f: np.ndarray, is_level: np.ndarray, n_points: int) -> np.ndarray:
    """Measurement variance of log(this / then): rounding of an integer index for index metrics, Poisson on the
    weekly totals for counts (levels already floored, so both are finite)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rounding = (1.0 / 12.0) / n_points * (this_f**-2 + then_f**-2)
        poisson = (1.0 / this_f + 1.0 / then_f) / n_points
    return np.where(is_level, rounding, poisson)


def _score_block(block: LevelMatrix, settings: DetectorSettings) -> _Scores:
    native = block.period != "day"
    window = 1 if native else DAY_WINDOW
    persistence = settings.persistence_native if native else settings.persistence
    values = block.values
    n_series, n_bins = values.shape
    if window > 1:
        level = np.full((n_series, n_bins), np.nan)
        if n_bins >= window:
            level[:, window - 1 :] = _winsorized_mean(values, window)
    else:
        level = values.astype(np.float64, copy=True)
    n_points = window
    last = _shift(level, window)
    this_f = np.maximum(level, settings.min_level)
    last_f = np.maximum(last, settings.min_level)
    ratio = this_f / last_f
    log_ratio = np.log(ratio)
    is_level = block.is_level[:, None]
    measurement = _measurement_var(this_f, last_f, is_level, n_points)
    # The first ratio exists at column 2*window - 1; min_history_weeks more are needed before a spread.
    first_col = 2 * window - 1 + window * settings.min_history_weeks
    spread, n_past = _robust_spread(log_ratio, window, settings.history_weeks, first_col)
    spread = np.where(n_past >= settings.min_history_weeks, spread, settings.default_log_sd)
    sd = np.sqrt(np.fmax(np.fmax(spread**2, measurement), settings.min_log_sd**2))
    sd[np.isnan(log_ratio)] = np.nan

    categories = np.array([settings.category_of(k) for k in block.keys["keyword"]], dtype=object)
    bands = np.array([settings.band(c) for c in categories], dtype=np.float64).reshape(-1, 2)
    band_low, band_high = bands[:, 0], bands[:, 1]
    score = (log_ratio - np.log1p(band_low)[:, None]) / sd
    week_condition = np.nan_to_num(score, nan=-np.inf) >= settings.min_score
    half = settings.min_score * sd

    # Sustained rise over ramp_weeks: the noise of a k-week log ratio is sqrt(k) times the weekly one
    # (independent weekly steps), never below the measurement noise of its two ends.
    ramp = _best_ramp(level, spread, is_level, window, n_points, settings, block.period)
    ramp_condition = ramp["condition"] & (np.nan_to_num(ratio, nan=0.0) > 1.0)  # still rising this week
    condition = week_condition | ramp_condition
    alert = condition.copy()
    for lag in range(1, persistence):
        held = np.zeros_like(condition)
        held[:, lag:] = condition[:, :-lag]
        alert &= held
    if settings.waive_persistence and persistence > 1:
        # The whole interval above the band's high end: evidence that a second day cannot add to.
        alert |= week_condition & (np.exp(log_ratio - half) - 1.0 >= band_high[:, None])
    return _Scores(
        block=block,
        category=categories,
        band_low=band_low,
        band_high=band_high,
        this=level,
        last=last,
        growth=ratio - 1.0,
        growth_low=np.exp(log_ratio - half) - 1.0,
        growth_high=np.exp(log_ratio + half) - 1.0,
        score=score,
        sd=sd,
        condition=condition,
        alert=alert,
        ramp_weeks=ramp["weeks"],
        ramp_growth=ramp["growth"],
        ramp_low=ramp["low"],
        ramp_score=ramp["score"],
        novelty=ramp["novelty"],
        week_condition=week_condition,
        ramp_condition=ramp_condition,
    )


_WEEKS_PER_BIN = {"day": 1.0 / 7.0, "week": 1.0, "month": 365.25 / 12.0 / 7.0}


def _best_ramp(level, spread, is_level, window, n_points, settings: DetectorSettings, period: str) -> dict:
    """The sustained-rise test at each horizon in ramp_weeks; per bin the horizon that passes with the
    highest score (else the highest score of all), so slow ramps are judged over long enough a stretch."""
    shape = level.shape
    best = {"growth": np.full(shape, np.nan), "low": np.full(shape, np.nan), "score": np.full(shape, np.nan),
            "novelty": np.full(shape, np.nan), "condition": np.zeros(shape, dtype=bool),
            "weeks": np.zeros(shape, dtype=np.int64)}
    if shape[1] == 0:
        return best
    key = np.full(shape, -np.inf)
    for weeks in settings.ramp_weeks:
        one = _ramp(level, spread, is_level, window, n_points, settings, weeks, _WEEKS_PER_BIN[period])
        # Passing beats failing; then the stronger evidence.
        rank = np.nan_to_num(one["score"], nan=-1e9) + np.where(one["condition"], 1e6, 0.0)
        better = rank > key
        key = np.where(better, rank, key)
        for name in best:
            best[name] = np.where(better, one[name] if name != "weeks" else weeks, best[name])
    return best


def _ramp(level: np.ndarray, spread: np.ndarray, is_level: np.ndarray, window: int, n_points: int,
          settings: DetectorSettings, weeks: int, weeks_per_bin: float) -> dict:
    """The sustained-rise test on weekly levels (one column per bin) over ``weeks``: growth, its evidence
    and interval, and novelty = level / the highest level before the rise began."""
    shape = level.shape
    lag = window * weeks
    start = _shift(level, lag)
    this_f = np.maximum(level, settings.min_level)
    start_f = np.maximum(start, settings.min_level)
    log_ratio = np.log(this_f / start_f)
    measurement = _measurement_var(this_f, start_f, is_level, n_points)
    sd = np.sqrt(np.fmax(np.fmax(weeks * spread**2, measurement), weeks * settings.min_log_sd**2))
    score = (log_ratio - math.log1p(settings.ramp_band)) / sd
    # Highest level up to the start of the rise (inclusive), and how many levels that history holds.
    filled = np.where(np.isnan(level), -np.inf, level)
    running_max = np.maximum.accumulate(filled, axis=1) if shape[1] else filled
    history_max = _shift(running_max, lag)
    seen = _shift(np.cumsum(~np.isnan(level), axis=1).astype(float), lag)
    seen = np.nan_to_num(seen, nan=0.0)
    enough = seen >= window  # at least one weekly level before the rise
    novelty = this_f / np.maximum(np.where(np.isfinite(history_max), history_max, np.nan), settings.min_level)
    novelty[~enough] = np.nan
    year_seen = seen * weeks_per_bin >= settings.novelty_history_weeks
    needed = np.where(year_seen, settings.novelty, settings.novelty_short_history)
    condition = (np.nan_to_num(score, nan=-np.inf) >= settings.min_score) & (np.nan_to_num(novelty, nan=0.0) >= needed)
    return {
        "growth": np.exp(log_ratio) - 1.0,
        "low": np.exp(log_ratio - settings.min_score * sd) - 1.0,
        "score": score,
        "novelty": novelty,
        "condition": condition,
    }


def _scored(signals: pd.DataFrame, as_of, settings: DetectorSettings | None):
    settings = DetectorSettings() if settings is None else settings
    blocks, as_of = _blocks(signals, as_of, settings)
    return [_score_block(b, settings) for b in blocks], as_of, settings


# Series scored at once by ``detect``: scoring makes a few dozen (series x bins) float arrays, so at 100k
# series x 90 daily bins one pass over all of them would hold ~2-3 GiB; each series is scored on its own
# row, so batches give the same numbers with a bounded peak.
_DETECT_BATCH = 4096
_DETECT_THREADS = 2


def _block_rows(block: LevelMatrix, lo: int, hi: int) -> LevelMatrix:
    return LevelMatrix(block.keys.iloc[lo:hi].reset_index(drop=True), block.values[lo:hi], block.rows[lo:hi],
                       block.bin_end, block.period, block.is_level[lo:hi])


_EVAL_COLUMNS = [
    "keyword", "platform", "metric", "kind", "period", "category", "eval_end", "this_week", "last_week",
    "growth", "growth_low", "growth_high", "score", "p_value", "band_low", "band_high", "condition", "alert",
    "trigger", "ramp_growth", "ramp_low", "ramp_score", "novelty",
]


def evaluate(signals: pd.DataFrame, as_of, settings: DetectorSettings | None = None) -> pd.DataFrame:
    """The timeline: one row per series x evaluation bin up to as_of (bins where both weeks have data).

    ``this_week`` / ``last_week`` are the weekly levels compared (trimmed daily mean, or the native point),
    ``growth`` their ratio minus 1, ``growth_low .. growth_high`` its interval, ``score`` the z of
    "growth > band_low", ``condition`` the evidence test and ``alert`` the test held ``persistence`` times.
    """
    scored, as_of, settings = _scored(signals, as_of, settings)
    frames = []
    for s in scored:
        valid = ~np.isnan(s.growth)
        r, c = np.nonzero(valid)
        keys = s.block.keys.iloc[r].reset_index(drop=True)
        frames.append(
            pd.DataFrame(
                {
                    "keyword": keys["keyword"],
                    "platform": keys["platform"],
                    "metric": keys["metric"],
                    "kind": keys["kind"],
                    "period": s.block.period,
                    "category": s.category[r],
                    "eval_end": s.block.bin_end[c],
                    "this_week": s.this[r, c],
                    "last_week": s.last[r, c],
                    "growth": s.growth[r, c],
                    "growth_low": s.growth_low[r, c],
                    "growth_high": s.growth_high[r, c],
                    "score": s.score[r, c],
                    "p_value": s.p_value_at(r, c),
                    "band_low": s.band_low[r],
                    "band_high": s.band_high[r],
                    "condition": s.condition[r, c],
                    "alert": s.alert[r, c],
                    "trigger": s.trigger_at(r, c),
                    "ramp_growth": s.ramp_growth[r, c],
                    "ramp_low": s.ramp_low[r, c],
                    "ramp_score": s.ramp_score[r, c],
                    "novelty": s.novelty[r, c],
                }
            )
        )
    if not frames:
        return _empty_frame(_EVAL_COLUMNS, as_of.tz, ("eval_end",))
    return pd.concat(frames, ignore_index=True)[_EVAL_COLUMNS]


_DETECT_COLUMNS = [
    "keyword", "platform", "metric", "kind", "period", "category", "status", "eval_end", "first_alert",
    "episode_start", "last_alert", "n_episodes", "growth", "growth_low", "growth_high", "score", "p_value",
    "band_low", "band_high", "level", "last_week", "trigger", "ramp_growth", "ramp_low", "ramp_score", "novelty",
]


def _empty_frame(columns, tz, time_columns) -> pd.DataFrame:
    data = {c: pd.Series(dtype=f"datetime64[ns, {tz}]" if c in time_columns else object) for c in columns}
    return pd.DataFrame(data)


def _index_time(idx: np.ndarray, ok: np.ndarray, bin_end: pd.DatetimeIndex) -> pd.DatetimeIndex:
    if len(bin_end) == 0:
        return pd.DatetimeIndex([pd.NaT] * len(idx), tz=bin_end.tz)
    out = bin_end[np.clip(idx, 0, len(bin_end) - 1)]
    return out.where(ok, pd.NaT)


def detect(signals: pd.DataFrame, as_of, settings: DetectorSettings | None = None) -> pd.DataFrame:
    """One row per series (keywords and keyword groups): its state at as_of and its alert history.

    ``status``: "strong" (alerting, growth >= band_high), "alert" (alerting), "watch" (growth above
    band_low without enough evidence or persistence yet, or alerted within review_window_days), "quiet".
    ``first_alert`` is the end of the first bin where the alert held; ``episode_start`` the start of the
    latest alert episode; ``level`` / ``last_week`` the weekly levels now and a week ago.
    """
    settings = DetectorSettings() if settings is None else settings
    blocks, as_of = _blocks(signals, as_of, settings)
    return _detect_blocks(blocks, as_of, settings)


def _detect_blocks(blocks: list[LevelMatrix], as_of: pd.Timestamp, settings: DetectorSettings) -> pd.DataFrame:
    """``detect`` on binned series, scored ``_DETECT_BATCH`` series at a time (rows come out in block order)."""
    def one(part: LevelMatrix) -> pd.DataFrame | None:
        return _detect_scored(_score_block(part, settings), as_of, settings)

    parts = [_block_rows(block, lo, lo + _DETECT_BATCH) for block in blocks
             for lo in range(0, len(block.keys), _DETECT_BATCH)]
    if len(parts) > 1:
        # numpy releases the GIL in the array passes: two batches at once use both cores; map keeps the order.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=_DETECT_THREADS, thread_name_prefix="detect") as pool:
            results = list(pool.map(one, parts))
    else:
        results = [one(part) for part in parts]
    frames = [frame for frame in results if frame is not None]
    if not frames:
        return _empty_frame(_DETECT_COLUMNS, as_of.tz, ("eval_end", "first_alert", "episode_start", "last_alert"))
    return pd.concat(frames, ignore_index=True)[_DETECT_COLUMNS]


def spike_first_alert(detections: pd.DataFrame, start, gap: pd.Timedelta):
    """The spike's first alert: the earliest alert of the series alerting now (``start``), moved earlier through
    every series whose alerts reach within ``gap`` of it, repeatedly. Series take turns as the spike moves between
    platforms (小红书 first, 淘宝 last): the first alert must not move later when the early ones fall quiet, and
    an unrelated blip long before the spike (its last alert more than ``gap`` before the chain) is not part of it."""
    if start is None or pd.isna(start) or not len(detections) or "last_alert" not in detections:
        return start
    spans = detections.dropna(subset=["first_alert", "last_alert"])[["first_alert", "last_alert"]]
    first = pd.Timestamp(start)
    while True:
        reach = spans[spans["last_alert"] >= first - gap]
        earlier = reach["first_alert"].min() if len(reach) else first
        if pd.isna(earlier) or earlier >= first:
            return first
        first = earlier


def _detect_scored(s: _Scores, as_of: pd.Timestamp, settings: DetectorSettings) -> pd.DataFrame | None:
    """One row per series of one scored block (None for a block without bins)."""
    window = pd.Timedelta(days=settings.review_window_days)
    n_series, n_bins = s.alert.shape
    keys = s.block.keys
    if n_bins == 0:
        return None
    alert = s.alert
    any_alert = alert.any(axis=1)
    first = np.argmax(alert, axis=1)
    last_idx = n_bins - 1 - np.argmax(alert[:, ::-1], axis=1)
    starts = alert.copy()
    starts[:, 1:] &= ~alert[:, :-1]
    latest_start = n_bins - 1 - np.argmax(starts[:, ::-1], axis=1)
    now = n_bins - 1
    growth = s.growth[:, now]
    last_alert = _index_time(last_idx, any_alert, s.block.bin_end)
    recent = np.asarray(last_alert > (as_of - window)) & any_alert
    alerting = alert[:, now]
    strong = alerting & (growth >= s.band_high)
    watch = ~alerting & ((np.nan_to_num(growth, nan=-1.0) >= s.band_low) | s.condition[:, now] | recent)
    status = np.select([strong, alerting, watch], ["strong", "alert", "watch"], default="quiet")
    return pd.DataFrame(
        {
            "keyword": keys["keyword"].to_numpy(),
            "platform": keys["platform"].to_numpy(),
            "metric": keys["metric"].to_numpy(),
            "kind": keys["kind"].to_numpy(),
            "period": s.block.period,
            "category": s.category,
            "status": status,
            "eval_end": s.block.bin_end[now],
            "first_alert": _index_time(first, any_alert, s.block.bin_end),
            "episode_start": _index_time(latest_start, any_alert, s.block.bin_end),
            "last_alert": last_alert,
            "n_episodes": starts.sum(axis=1),
            "growth": growth,
            "growth_low": s.growth_low[:, now],
            "growth_high": s.growth_high[:, now],
            "score": s.score[:, now],
            "p_value": s.p_value_at(slice(None), now),
            "band_low": s.band_low,
            "band_high": s.band_high,
            "level": s.this[:, now],
            "last_week": s.last[:, now],
            "trigger": s.trigger_at(slice(None), now),
            "ramp_growth": s.ramp_growth[:, now],
            "ramp_low": s.ramp_low[:, now],
            "ramp_score": s.ramp_score[:, now],
            "novelty": s.novelty[:, now],
        }
    )


def review_list(detections: pd.DataFrame, as_of=None, settings: DetectorSettings | None = None) -> pd.DataFrame:
    """The short daily review list: series alerting now or whose latest alert began within
    review_window_days, ranked by score then growth, at most review_size rows, with ``rank`` 1..n.

    Free places (``fill_review``) go to "watch" series whose growth interval lies above zero (credibly
    growing, not yet past the band with evidence), best evidence first; ``listed_as`` tells them apart.
    """
    settings = DetectorSettings() if settings is None else settings
    if len(detections) == 0:
        return detections.assign(rank=pd.Series(dtype="int64"), listed_as=pd.Series(dtype=object)).iloc[:0]
    if as_of is None:
        as_of = detections["eval_end"].max()
    as_of = _as_timestamp(as_of, settings.tz)
    since = as_of - pd.Timedelta(days=settings.review_window_days)
    started_recently = (detections["episode_start"] > since).fillna(False).to_numpy(dtype=bool)
    alerting = detections["status"].isin(["alert", "strong"]).to_numpy()
    active = detections[alerting | started_recently]
    ranked = active.sort_values(["score", "growth"], ascending=False, kind="stable", na_position="last")
    ranked = ranked.head(settings.review_size).assign(listed_as="alert")
    free = settings.review_size - len(ranked)
    if settings.fill_review and free > 0:
        rising = (detections["growth_low"] > 0).fillna(False).to_numpy(dtype=bool)
        watch = detections[(detections["status"] == "watch").to_numpy() & rising & ~(alerting | started_recently)]
        # Evidence on either test: the week-over-week z or the sustained-rise z, whichever is stronger.
        best = watch[["score", "ramp_score"]].max(axis=1) if "ramp_score" in watch else watch["score"]
        watch = watch.assign(_best=best).sort_values(["_best", "growth"], ascending=False, kind="stable")
        extra = watch.head(free).drop(columns="_best").assign(listed_as="watch (free place)")
        ranked = pd.concat([ranked, extra]) if len(extra) else ranked
    ranked = ranked.copy()
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    return ranked


def scan_table(frame: pd.DataFrame, as_of=None, settings: DetectorSettings | None = None) -> pd.DataFrame:
    """``spike scan``: detect on every series at as_of (None: the last timestamp in the table).

    All series come back, the daily review list first (``review_rank`` 1..n), then the others by status
    and score.
    """
    settings = DetectorSettings() if settings is None else settings
    if as_of is None:
        _check_columns(frame)
        if len(frame) == 0:
            raise InputError("the signals table has no rows", fix="give a table with at least two weeks of data")
        t_raw, ns_per_unit = _timestamp_i8(frame["timestamp"], settings.tz)
        as_of = _stamps(np.array([t_raw.max() * ns_per_unit]), settings.tz)[0]
        if isinstance(frame["timestamp"].dtype, pd.DatetimeTZDtype):
            as_of = as_of.tz_convert(frame["timestamp"].dtype.tz)
    return _scan_ranked(detect(frame, as_of, settings), as_of, settings)


def _scan_ranked(detections: pd.DataFrame, as_of, settings: DetectorSettings) -> pd.DataFrame:
    """``scan_table``'s ordering of ``detect`` output: the review list first, then status, then score."""
    review = review_list(detections, as_of, settings)
    rank = pd.Series(pd.NA, index=detections.index, dtype="Int64")
    rank.loc[review.index] = review["rank"].to_numpy()
    out = detections.assign(review_rank=rank)
    order = out["status"].map({s: i for i, s in enumerate(STATUSES)})
    out = out.assign(_r=out["review_rank"].fillna(10**9).astype("int64"), _s=order, _z=-out["score"].fillna(-np.inf))
    out = out.sort_values(["_r", "_s", "_z"], kind="stable").drop(columns=["_r", "_s", "_z"])
    cols = ["review_rank"] + [c for c in out.columns if c != "review_rank"]
    return out[cols].reset_index(drop=True)


# ----------------------------------------------------------------------------------------------------------
# Episodes and lead time


def alert_episodes(evaluations: pd.DataFrame) -> pd.DataFrame:
    """Runs of consecutive alerting evaluations per series (from ``evaluate``): start, end, length, peaks."""
    keys = ["keyword", "platform", "metric", "kind", "period"]
    columns = keys + ["start", "end", "evaluations", "max_growth", "max_score"]
    if len(evaluations) == 0:
        return pd.DataFrame(columns=columns)
    ev = evaluations.sort_values(keys + ["eval_end"], kind="stable").reset_index(drop=True)
    series_id = ev.groupby(keys, sort=False).ngroup().to_numpy()
    alert = ev["alert"].to_numpy(dtype=bool)
    new_series = np.r_[True, series_id[1:] != series_id[:-1]]
    prev_alert = np.r_[False, alert[:-1]] & ~new_series
    episode = np.cumsum(alert & ~prev_alert)
    on = ev[alert].assign(_episode=episode[alert])
    if len(on) == 0:
        return pd.DataFrame(columns=columns)
    out = on.groupby("_episode", sort=True).agg(
        **{k: (k, "first") for k in keys},
        start=("eval_end", "min"),
        end=("eval_end", "max"),
        evaluations=("eval_end", "size"),
        max_growth=("growth", "max"),
        max_score=("score", "max"),
    )
    return out.reset_index(drop=True)[columns]


def _label_of(row, label) -> Any:
    return row["keyword"] if isinstance(label, str) else tuple(row[k] for k in ("keyword", "platform")[: len(label)])


def lead_time(detections: pd.DataFrame, peak_time, real_series, *, episodes: pd.DataFrame | None = None) -> dict:
    """How early real spikes were caught and how many false alerts controls raised.

    ``detections``: ``detect`` output (one row per series). ``real_series``: labels of the series that are
    real spikes (a keyword, or a (keyword, platform) tuple); every other series is a control.
    ``peak_time``: one time for all real series, or a mapping label -> time. With ``episodes``
    (``alert_episodes`` output) a real series is "caught" by its latest episode starting at or before the
    peak, earlier episodes on it count as false alerts, and every episode on a control is a false alert;
    without, ``first_alert`` and ``n_episodes`` are used. Lead = peak - alert, in days (positive = early).
    """
    real = list(real_series)
    real_set = set(real)
    peaks = peak_time if isinstance(peak_time, Mapping) else {label: peak_time for label in real}
    template = real[0] if real else ""
    rows = []
    for _, row in detections.iterrows():
        label = _label_of(row, template)
        is_real = label in real_set
        if episodes is not None:
            mine = episodes[
                (episodes["keyword"] == row["keyword"])
                & (episodes["platform"] == row["platform"])
                & (episodes["metric"] == row["metric"])
                & (episodes["kind"] == row["kind"])
            ]
            starts = list(mine["start"])
        else:
            starts = [row["first_alert"]] * int(row["n_episodes"]) if pd.notna(row["first_alert"]) else []
        alert_time, false_count, peak = pd.NaT, len(starts), pd.NaT
        if is_real:
            peak = pd.Timestamp(peaks[label])
            if peak.tzinfo is None and starts:
                peak = peak.tz_localize(pd.Timestamp(starts[0]).tz)
            before = [t for t in starts if t <= peak]
            if before:
                alert_time = max(before) if episodes is not None else min(before)
                false_count = sum(1 for t in starts if t < alert_time)
            else:
                false_count = 0
        lead = (peak - alert_time) / pd.Timedelta(days=1) if is_real and pd.notna(alert_time) else math.nan
        rows.append(
            {
                "label": label,
                "real": is_real,
                "alert_time": alert_time,
                "peak_time": peak,
                "lead_days": lead,
                "alert_episodes": len(starts),
                "false_alert_episodes": false_count,
            }
        )
    table = pd.DataFrame(rows)
    real_rows = table[table["real"]] if len(table) else table
    caught = real_rows["lead_days"].notna() if len(real_rows) else pd.Series(dtype=bool)
    return {
        "per_series": table,
        "caught": int(caught.sum()),
        "missed": int(len(real_rows) - caught.sum()),
        "median_lead_days": float(real_rows["lead_days"].median()) if caught.any() else math.nan,
        "false_alert_episodes": int(table["false_alert_episodes"].sum()) if len(table) else 0,
        "controls_with_false_alerts": int(((~table["real"]) & (table["false_alert_episodes"] > 0)).sum())
        if len(table)
        else 0,
    }


# ----------------------------------------------------------------------------------------------------------
# Output for people and machines


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    gap = " " * max(width - _width(text), 0)
    return gap + text if right else text + gap


def _pct(x) -> str:
    return "" if x is None or pd.isna(x) else f"{x * 100:+.0f}%"


def _when(t, period: str) -> str:
    if t is None or pd.isna(t):
        return ""
    return t.strftime("%Y-%m-%d" if period != "day" or (t.hour == 0 and t.minute == 0) else "%Y-%m-%d %H:%M")


def _why(row) -> str:
    """Which test holds now: "w/w" (the band), or the sustained rise "8w +271%, 3.7x high"."""
    trigger = str(row.get("trigger", "") or "")
    parts = ["w/w"] if trigger.startswith("week") else []
    if "ramp" in trigger:
        parts.append(f"{trigger.split('ramp ')[-1]} {_pct(row['ramp_growth'])}, {row['novelty']:.1f}x high")
    return " + ".join(parts)


def format_alerts(alerts: pd.DataFrame, limit: int = 20) -> str:
    """A text table of the non-quiet series (review list first), at most ``limit`` rows, and a tally."""
    total = len(alerts)
    tally = alerts["status"].value_counts() if total else pd.Series(dtype=int)
    summary = f"{total} series scanned: " + ", ".join(f"{int(tally.get(s, 0))} {s}" for s in STATUSES)
    shown = alerts[alerts["status"] != "quiet"].head(limit) if total else alerts
    if len(shown) == 0:
        return summary + "\nNo series is growing past its alert band."
    header = ["#", "status", "keyword", "platform", "metric", "period", "growth", "interval", "z", "level",
              "first alert", "band", "why"]
    lines = []
    for _, row in shown.iterrows():
        rank = row.get("review_rank", pd.NA)
        lines.append(
            [
                "" if pd.isna(rank) else str(int(rank)),
                str(row["status"]),
                str(row["keyword"]) + (" (group)" if row["kind"] == "group" else ""),
                str(row["platform"]),
                str(row["metric"]),
                str(row["period"]),
                _pct(row["growth"]),
                f"{_pct(row['growth_low'])}..{_pct(row['growth_high'])}" if pd.notna(row["growth_low"]) else "",
                "" if pd.isna(row["score"]) else f"{row['score']:.1f}",
                "" if pd.isna(row["level"]) else format_value(row["level"]),  # never 1.235e+04
                _when(row["first_alert"], row["period"]),
                f"{_pct(row['band_low'])}/{_pct(row['band_high'])}",
                _why(row),
            ]
        )
    numeric = {"#", "growth", "z", "level"}
    widths = [max(_width(h), *(_width(line[i]) for line in lines)) for i, h in enumerate(header)]
    out = ["  ".join(_pad(h, w, h in numeric) for h, w in zip(header, widths))]
    out.append("  ".join("-" * w for w in widths))
    for line in lines:
        out.append("  ".join(_pad(v, w, h in numeric) for v, h, w in zip(line, header, widths)))
    more = len(alerts[alerts["status"] != "quiet"]) - len(shown)
    footer = [summary] + ([f"({more} more not shown)"] if more > 0 else [])
    footer.append("# = place on today's review list; growth = weekly level / last week - 1; "
                  "interval at the detector's evidence level; z = evidence that growth exceeds the band's low end; "
                  "why = the test that holds: w/w (the band) or a sustained rise over N weeks to a new high.")
    return "\n".join(out + [""] + footer)


def _jsonable(value):
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(value) else float(value)
    return value


def alerts_to_json(alerts: pd.DataFrame) -> list[dict]:
    """Rows as JSON-safe dicts: times in ISO 8601 with offset, NaN/NaT as None."""
    return [{k: _jsonable(v) for k, v in rec.items()} for rec in alerts.to_dict(orient="records")]


# ----------------------------------------------------------------------------------------------------------
# Chapter 01 presentation: what the notebook shows and records


def coverage(signals: pd.DataFrame, as_of) -> pd.DataFrame:
    """Per keyword x platform x metric: rows and span up to as_of, and how many later rows are ignored."""
    as_of = pd.Timestamp(as_of)
    keys = ["keyword", "platform", "metric"]
    ts = signals["timestamp"]
    if ts.dt.tz is not None and as_of.tzinfo is None:
        as_of = as_of.tz_localize(ts.dt.tz)
    used = ts <= as_of
    frame = signals.assign(_used=used, _later=~used)
    out = frame.groupby(keys, observed=True, sort=True).agg(
        rows_used=("_used", "sum"), rows_after_as_of=("_later", "sum"),
        first=("timestamp", "min"), total_used=("value", lambda v: v[used.loc[v.index]].sum()),
    )
    last_used = frame[used].groupby(keys, observed=True, sort=True)["timestamp"].max().rename("last_used")
    return out.join(last_used).reset_index()


_SHOW_COLUMNS = ["rank", "listed_as", "keyword", "platform", "metric", "kind", "status", "trigger", "growth",
                 "growth_low", "growth_high", "score", "band_low", "ramp_growth", "ramp_score", "novelty",
                 "first_alert", "level", "last_week"]


def detections_table(detections: pd.DataFrame) -> pd.DataFrame:
    """The columns a reviewer reads, most urgent first (status, then evidence)."""
    cols = [c for c in _SHOW_COLUMNS if c in detections.columns]
    order = detections["status"].map({s: i for i, s in enumerate(STATUSES)}) if "rank" not in detections else None
    frame = detections if order is None else detections.assign(_o=order).sort_values(
        ["_o", "score"], ascending=[True, False], kind="stable").drop(columns="_o")
    return frame[cols].reset_index(drop=True)


def _evidence_text(row, settings: DetectorSettings) -> str:
    """Why a series alerts, in the words of the test that fired (week over week, sustained rise, or both)."""
    trigger = str(row.get("trigger", "") or "week")
    parts = []
    if trigger.startswith("week"):
        parts.append(
            f"{row['growth']:+.0%} week over week (interval {row['growth_low']:+.0%} to {row['growth_high']:+.0%}), "
            f"evidence z = {row['score']:.1f} >= {settings.min_score:g} against band +{row['band_low']:.0%}"
        )
    if "ramp" in trigger:
        weeks = trigger.split("ramp ")[-1].rstrip("w")
        parts.append(
            f"sustained rise {row['ramp_growth']:+.0%} over {weeks} weeks (low end {row['ramp_low']:+.0%}, "
            f"z = {row['ramp_score']:.1f} against +{settings.ramp_band:.0%}), {row['novelty']:.1f}x its previous high"
        )
    return "; ".join(parts)


def call(detections: pd.DataFrame, review: pd.DataFrame, as_of, settings: DetectorSettings) -> dict:
    """Chapter 01's decision: "alert" when the review list holds a series alerting now, else "no-alert".

    The chosen trend is the top of the review list (highest evidence); its first alert and growth are handed
    on, with every alerting series quoted as evidence.
    """
    alerting = review[review["status"].isin(["alert", "strong"])] if len(review) else review
    reasons = []
    for _, row in alerting.iterrows():
        first = row["first_alert"]
        reasons.append(
            f"{row['keyword']} @ {row['platform']} ({row['kind']}): " + _evidence_text(row, settings) + "; first alert "
            + (f"{first:%Y-%m-%d %H:%M}" if pd.notna(first) else "-")
        )
    watching = review[~review.index.isin(alerting.index)] if len(review) else review
    for _, row in watching.iterrows():
        how = " (on the list in a free place)" if str(row.get("listed_as", "")).startswith("watch") else ""
        reasons.append(f"{row['keyword']} @ {row['platform']}: {row['status']}{how} ({row['growth']:+.0%} w/w, "
                       f"interval {row['growth_low']:+.0%} to {row['growth_high']:+.0%}, z = {row['score']:.1f}); "
                       "no alert now")
    if len(alerting) == 0:
        n = len(detections)
        reasons.append(f"No series of {n} beats its band with evidence as of {pd.Timestamp(as_of):%Y-%m-%d %H:%M}.")
        return {"decision": "no-alert", "reasons": reasons, "chosen_trend": None, "first_alert": None,
                "headline": f"NO ALERT: none of {n} series beats its band with evidence"}
    top = alerting.iloc[0]
    # The handed-on first alert is a fact about every series alerting now, not only the few shown for review:
    # taken from the truncated list it moved between runs as series took turns in the top places.
    alerting_all = detections[detections["status"].isin(["alert", "strong"])] if len(detections) else alerting
    firsts = pd.concat([alerting_all["first_alert"], alerting["first_alert"]]).dropna()
    first_alert = spike_first_alert(detections, firsts.min() if len(firsts) else None,
                                    pd.Timedelta(days=settings.review_window_days))
    trend = {
        "label": f"{top['keyword']} @ {top['platform']}",
        "keyword": str(top["keyword"]), "platform": str(top["platform"]), "kind": str(top["kind"]),
        "metric": str(top["metric"]), "growth": float(top["growth"]), "score": float(top["score"]),
        "first_alert": top["first_alert"] if pd.notna(top["first_alert"]) else None,
        "trigger": str(top.get("trigger", "") or "week"),
    }
    trigger = str(top.get("trigger", "") or "week")
    what = (f"{trend['growth']:+.0%} w/w (z = {trend['score']:.1f})" if trigger.startswith("week") else
            f"{float(top['ramp_growth']):+.0%} over {trigger.split('ramp ')[-1].rstrip('w')} weeks, "
            f"{float(top['novelty']):.1f}x its previous high")
    headline = (f"ALERT: {trend['label']} {what}; "
                f"{len(alerting)} series alerting, first alert "
                + (f"{first_alert:%Y-%m-%d %H:%M}" if first_alert is not None else "-"))
    return {"decision": "alert", "reasons": reasons, "chosen_trend": trend, "first_alert": first_alert,
            "headline": headline}
