"""Checking a raw frame against its contract: columns matched (with aliases), types, bounds, timestamps in the
spike's time zone, the key; every problem is one `InputError` naming file, column, rows and fix.
"""
from __future__ import annotations

import difflib
import re
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

from ...core.errors import ConfigError, InputError

from .columns import Column, Contract, TIMESTAMP_UNIT, _ALIAS_LOOKUP, _number_text, column_label
from .reading import _check_unique_headers, _code_dtype, _empty_file_error


# ----------------------------------------------------------------------------------------------------------
# Validation


class _Context:
    """Where errors point: the file and how frame positions map to spreadsheet rows."""

    def __init__(self, file: str, row_numbers: np.ndarray | None, first_row: int, headers: dict | None = None):
        self.file = file
        self.row_numbers = row_numbers
        self.first_row = first_row
        self.headers = headers or {}  # table column -> the file's own header it was read from (mapping, alias)

    def label(self, column: str | None) -> str | None:
        return column_label(column, self.headers)

    def rows(self, positions) -> list[int]:
        positions = np.unique(np.asarray(positions, dtype=np.int64))
        if self.row_numbers is not None:
            return sorted(int(r) for r in np.unique(self.row_numbers[positions]))
        return [int(p) + self.first_row for p in positions]

    def error(self, problem: str, column: str | None, positions=None, fix: str | None = None) -> InputError:
        rows = self.rows(positions) if positions is not None else [1]
        return InputError(problem, file=self.file, column=self.label(column), rows=rows, fix=fix)


def _match_columns(frame: pd.DataFrame, contract: Contract, ctx: _Context) -> tuple[dict[str, str], list[str]]:
    """Map contract column -> frame column (exact, else ignoring case); list the ignored extra columns."""
    present = list(frame.columns)
    by_lower: dict[str, list[str]] = {}
    for name in present:
        by_lower.setdefault(name.lower(), []).append(name)
    mapping: dict[str, str] = {}
    for col in contract.columns:
        if col.name in present:
            mapping[col.name] = col.name
            continue
        same = by_lower.get(col.name.lower(), [])
        if len(same) == 1:
            mapping[col.name] = same[0]
        elif len(same) > 1:
            raise ctx.error(
                f"columns {', '.join(repr(s) for s in same)} differ only in upper/lower case",
                col.name,
                fix=f"keep one column named '{col.name}'",
            )
    used = set(mapping.values())
    extra = [c for c in present if c not in used]
    for col in contract.columns:
        if col.name in mapping or not col.required:
            continue
        close = difflib.get_close_matches(col.name, extra, n=1, cutoff=0.6) or difflib.get_close_matches(
            col.name.lower(), [e.lower() for e in extra], n=1, cutoff=0.6
        )
        if close:
            found = next(e for e in extra if e.lower() == close[0].lower())
            raise ctx.error(
                f"missing column '{col.name}': found '{found}' — did you mean '{col.name}'? rename the header",
                col.name,
                fix=f"rename the header '{found}' to '{col.name}'",
            )
        shown = ", ".join(repr(c) for c in present) or "none"
        raise ctx.error(
            f"missing column '{col.name}' (columns found: {shown})",
            col.name,
            fix=f"add a '{col.name}' column: {col.description}",
        )
    return mapping, extra


@dataclass
class _Text:
    """A text column as integer codes into sorted, stripped categories (-1 = missing)."""

    codes: np.ndarray
    categories: np.ndarray  # of str, sorted, unique


def _text_column(raw: pd.Series) -> _Text:
    if isinstance(raw.dtype, pd.CategoricalDtype):
        codes = np.asarray(raw.array.codes)  # a view; Series.cat.codes would copy
        categories = raw.array.categories
    else:
        values = raw.to_numpy(dtype=object, na_value=None)
        codes, categories = pd.factorize(values, use_na_sentinel=True)
    labels = np.array([_as_text(c) for c in categories], dtype=object)
    if len(labels) == 0:
        return _Text(codes.astype(np.int32), np.array([], dtype=object))
    new_categories, mapping = np.unique(labels, return_inverse=True)
    if len(new_categories) == len(labels) and np.array_equal(mapping, np.arange(len(labels))):
        return _Text(codes, new_categories)  # already sorted and clean: no pass over the rows
    mapping = mapping.astype(_code_dtype(len(new_categories)))
    remapped = np.where(codes >= 0, mapping.take(np.maximum(codes, 0)), -1).astype(mapping.dtype)
    return _Text(remapped, new_categories)


def _as_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel hands whole numbers over as floats; 2025.0 was typed as 2025
    return str(value).strip()


def _check_text(col: Column, text: _Text, ctx: _Context, must_be_filled: bool) -> None:
    cats = text.categories
    if must_be_filled:
        blank_codes = np.flatnonzero(cats == "")
        bad = text.codes < 0
        if len(blank_codes):
            bad = bad | np.isin(text.codes, blank_codes)
        if bad.any():
            raise ctx.error(
                "empty value",
                col.name,
                np.flatnonzero(bad),
                fix=f"fill in the {col.name} ({col.description}) or delete the row",
            )
    if col.allowed is not None:
        unknown = [i for i, c in enumerate(cats) if c not in col.allowed and c != ""]
        if unknown:
            bad = np.isin(text.codes, unknown)
            if bad.any():
                first = cats[text.codes[np.flatnonzero(bad)[0]]]
                close = difflib.get_close_matches(str(first), col.allowed, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ctx.error(
                    f"unknown value '{first}'{hint}; allowed: {', '.join(col.allowed)}",
                    col.name,
                    np.flatnonzero(bad),
                    fix=f"use one of: {', '.join(col.allowed)}",
                )


def _numbers(col: Column, raw: pd.Series, ctx: _Context) -> np.ndarray:
    """float64 values of a number column; empty, non-numeric, fractional (int) and negative are errors."""
    if is_numeric_dtype(raw.dtype) and not is_bool_dtype(raw.dtype):
        if raw.dtype == np.float64:
            values = raw.to_numpy()  # a view, not a copy
        else:
            values = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isfinite(values.min(initial=0.0)) and np.isfinite(values.max(initial=0.0)):
            # min/max are NaN or inf when any value is: one cheap pass for the common clean case.
            missing = not_number = np.zeros(1, dtype=bool)
        else:
            missing = np.isnan(values)
            not_number = np.isinf(values)
    else:
        if is_datetime64_any_dtype(raw.dtype) or is_bool_dtype(raw.dtype):
            raise ctx.error(
                f"holds {raw.dtype} values, not numbers", col.name, np.arange(len(raw)), fix="put numbers in this column"
            )
        obj = raw.astype(object)
        as_text = obj.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip())
        missing = (as_text == "").to_numpy()
        values = pd.to_numeric(as_text.where(~missing, None), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        not_number = (np.isnan(values) & ~missing) | np.isinf(values)
    if missing.any():
        raise ctx.error(
            "empty value", col.name, np.flatnonzero(missing), fix=f"fill in the {col.name} or delete the row"
        )
    if not_number.any():
        bad = np.flatnonzero(not_number)
        sample = raw.iloc[bad[0]]
        raise ctx.error(
            f"not a number (e.g. {sample!r})",
            col.name,
            bad,
            fix="write plain numbers such as 12 or 3.5, without units, thousands separators or text",
        )
    if col.dtype == "int":
        fractional = values != np.floor(values)
        if fractional.any():
            raise ctx.error(
                "not a whole number", col.name, np.flatnonzero(fractional), fix="counts must be whole numbers"
            )
    if col.bounded and len(values):
        _check_bounds(col, values, ctx)
    return values


def _check_bounds(col: Column, values: np.ndarray, ctx: _Context) -> None:
    """Values outside the column's plausibility bounds are errors (one min and one max pass when all are in)."""
    low, high = col.minimum, col.maximum
    lowest, highest = values.min(), values.max()
    if col.non_negative and lowest < 0:
        raise ctx.error(
            "negative value", col.name, np.flatnonzero(values < 0), fix=f"{col.name} cannot be below 0; correct it"
        )
    too_low = low is not None and (lowest <= low if col.exclusive_minimum else lowest < low)
    too_high = high is not None and highest > high
    if not (too_low or too_high):
        return
    bad = np.zeros(len(values), dtype=bool)
    if too_low:
        bad |= (values <= low) if col.exclusive_minimum else (values < low)
    if too_high:
        bad |= values > high
    positions = np.flatnonzero(bad)
    raise ctx.error(
        f"value {_number_text(values[positions[0]])} out of range: {col.name} must be {col.range_text()}",
        col.name,
        positions,
        fix=col.bound_fix or "correct the cell (a value this far out is a typo, a unit mix-up or a value from "
        "another column)",
    )


_OFFSET_RE = re.compile(
    r"(?:\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?|T\d{2})\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?|(?:UTC|GMT)[+-]\d{2}(?::?\d{2})?)$",
    re.IGNORECASE,
)
_FALLBACK_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y%m%d")
_TIMESTAMP_FIX = "write times as YYYY-MM-DD HH:MM[:SS] (local time of the spike), optionally with an offset like +08:00"


def _parse_strings(text: pd.Series, aware: bool) -> pd.Series:
    """Parse strings with ISO 8601 first, then a few unambiguous year-first layouts (never day/month guessing)."""
    if aware:
        # "10:00 UTC" -> "10:00+00:00"; "10:00 GMT+08:00" -> "10:00+08:00" (pandas reads the rest as ISO 8601).
        text = text.str.replace(r"\s*(?:UTC|GMT)$", "+00:00", regex=True, flags=re.IGNORECASE)
        text = text.str.replace(r"\s*(?:UTC|GMT)(?=[+-])", "", regex=True, flags=re.IGNORECASE)
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=aware)
    for layout in _FALLBACK_FORMATS:
        left = parsed.isna()
        if not left.any():
            break
        fmt = layout + ("%z" if aware else "")
        retry = pd.to_datetime(text[left], format=fmt, errors="coerce", utc=aware)
        parsed = parsed.where(~left, retry)
    return parsed


def _timestamps(col: Column, raw: pd.Series, tz: str, ctx: _Context) -> pd.DatetimeIndex:
    """tz-aware datetime64[ns, tz]: naive values are local times in ``tz``; offsets are converted."""
    if is_datetime64_any_dtype(raw.dtype):
        # Index-level operations share the int64 buffer; Series.dt ones would copy 8 bytes a row.
        stamps = pd.DatetimeIndex(raw.array, copy=False)
        if len(stamps) and stamps.asi8.min() == np.iinfo(np.int64).min:  # NaT, found without a mask
            missing = np.asarray(stamps.isna())
            raise ctx.error("empty timestamp", col.name, np.flatnonzero(missing), fix=_TIMESTAMP_FIX)
        if stamps.tz is None:
            stamps = _localize(stamps, tz, col, ctx)
        else:
            stamps = stamps.tz_convert(tz)
        return _as_unit(stamps)

    def cell_text(v) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
            return ""
        if isinstance(v, (datetime, pd.Timestamp)):
            return v.isoformat()
        if isinstance(v, date):
            return v.isoformat()
        return str(v).strip()

    text = pd.Series(raw.astype(object).map(cell_text).to_numpy(dtype=object), dtype=object)
    missing = (text == "").to_numpy()
    if missing.any():
        raise ctx.error("empty timestamp", col.name, np.flatnonzero(missing), fix=_TIMESTAMP_FIX)
    has_offset = text.str.contains(_OFFSET_RE).to_numpy(dtype=bool)
    n_aware = int(has_offset.sum())
    n_naive = len(text) - n_aware
    if n_aware and n_naive:
        if n_aware <= n_naive:
            minority = has_offset
            kind = f"{n_aware} value(s) carry a UTC offset while the other {n_naive} do not"
        else:
            minority = ~has_offset
            kind = f"{n_naive} value(s) have no UTC offset while the other {n_aware} do"
        raise ctx.error(
            f"mixed time zones: {kind}",
            col.name,
            np.flatnonzero(minority),
            fix="write every time the same way: all local times without offset, or all with an offset like +08:00",
        )
    aware = n_aware > 0
    parsed = _parse_strings(text, aware)
    bad = parsed.isna().to_numpy()
    if bad.any():
        sample = text.iloc[int(np.flatnonzero(bad)[0])]
        raise ctx.error(
            f"cannot read {sample!r} as a date/time", col.name, np.flatnonzero(bad), fix=_TIMESTAMP_FIX
        )
    stamps = pd.DatetimeIndex(parsed)
    if aware:
        stamps = stamps.tz_convert(tz)
    else:
        stamps = _localize(stamps, tz, col, ctx)
    return _as_unit(stamps)


def _as_unit(stamps: pd.DatetimeIndex) -> pd.DatetimeIndex:
    # as_unit copies even when the unit already matches.
    return stamps if stamps.unit == TIMESTAMP_UNIT else stamps.as_unit(TIMESTAMP_UNIT)


def _localize(naive: pd.DatetimeIndex, tz: str, col: Column, ctx: _Context) -> pd.DatetimeIndex:
    """Naive local times -> aware; times skipped or repeated by a DST change are errors, not guesses."""
    local = naive.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    bad = np.asarray(local.isna()) & ~np.asarray(naive.isna())
    if bad.any():
        raise ctx.error(
            f"local time does not exist or occurs twice in {tz} (daylight-saving change)",
            col.name,
            np.flatnonzero(bad),
            fix="write these times with their UTC offset (e.g. 2025-03-30T02:30:00+01:00)",
        )
    return local


def _key_arrays(contract: Contract, texts: dict, stamps: dict, numbers: dict) -> list[np.ndarray]:
    """One sortable array per key column: text codes (categories sorted), int64 nanoseconds, numbers."""
    arrays = []
    for name in contract.key:
        if name in texts:
            arrays.append(texts[name].codes)
        elif name in stamps:
            arrays.append(stamps[name].asi8)
        else:
            arrays.append(numbers[name])
    return arrays


def _used_categories(codes: np.ndarray, n_categories: int, starts: np.ndarray | None) -> np.ndarray:
    """Which categories occur. ``starts`` (rows where any text key column changes) suffices for key columns:
    between two starts their values do not change, so only those rows need looking at."""
    used = np.zeros(n_categories, dtype=bool)
    sample = codes if starts is None else codes[starts]
    used[sample[sample >= 0]] = True
    return used


_CHUNK = 1 << 18  # rows per step in whole-column checks: temporaries stay small and in cache


def _strictly_increasing(arrays: list[np.ndarray]) -> bool:
    """True when rows are sorted by the key with no repeat, checked column by column (no overflow)."""
    n = len(arrays[0])
    for lo in range(0, n - 1, _CHUNK):
        hi = min(lo + _CHUNK, n - 1)
        ok = None
        for arr in reversed(arrays):
            after, before = arr[lo + 1 : hi + 1], arr[lo:hi]
            ok = (after > before) if ok is None else (after > before) | ((after == before) & ok)
        if not ok.all():
            return False
    return True


def _run_starts(arrays: list[np.ndarray], n: int) -> np.ndarray:
    """Rows where any of ``arrays`` differs from the row before (row 0 included)."""
    starts = [np.zeros(1, dtype=np.int64)] if n else []
    for lo in range(0, n - 1, _CHUNK):
        hi = min(lo + _CHUNK, n - 1)
        change = np.zeros(hi - lo, dtype=bool)
        for arr in arrays:
            change |= arr[lo + 1 : hi + 1] != arr[lo:hi]
        starts.append(np.flatnonzero(change) + lo + 1)
    return np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)


def _sort_order(arrays: list[np.ndarray]) -> np.ndarray:
    """Row order sorting by the key (stable)."""
    return np.lexsort(tuple(reversed(arrays)))


def check_column_map(mapping, contract: Contract, where: str) -> dict[str, str]:
    """A ``columns:`` entry of a spike file for one table: the file's own header -> a column of the table. Returns it
    as a clean dict, or raises ConfigError naming ``where``."""
    if not isinstance(mapping, dict) or not mapping:
        raise ConfigError(f"{where}: must map the file's own headers to {contract.name} columns "
                          f"(e.g. {{下单时间: timestamp}}), got {mapping!r}")
    clean: dict[str, str] = {}
    by_target: dict[str, str] = {}
    for header, target in mapping.items():
        if not isinstance(header, (str, int)) or isinstance(header, bool) or not str(header).strip():
            raise ConfigError(f"{where}: the header {header!r} must be a text (the column's name in your file)")
        if not isinstance(target, str) or target not in contract.names:
            from ...core.errors import did_you_mean

            raise ConfigError(f"{where}: {header!r} is mapped to {target!r}, which is not a column of "
                              f"{contract.name}{did_you_mean(target, contract.names)}. Its columns: "
                              f"{', '.join(contract.names)}. Fix: map it to one of them")
        if target in by_target:
            raise ConfigError(f"{where}: both {by_target[target]!r} and {header!r} are mapped to {target!r}. "
                              "Fix: map one header to each column")
        by_target[target] = str(header)
        clean[str(header).strip()] = target
    return clean


def _header_renames(present: list, contract: Contract, explicit: dict[str, str], file: str) -> dict[str, str]:
    """The file's own header -> table column: the mapping given first, then the known aliases for the columns
    still absent. A header mapped but not in the file, or two headers landing on one column, is an InputError."""
    by_key = {str(h).strip().lower(): h for h in present}
    own = {c.name.lower() for c in contract.columns}
    renames: dict[str, str] = {}
    shown = ", ".join(repr(str(h)) for h in present) or "none"
    for header, target in explicit.items():
        actual = by_key.get(str(header).strip().lower())
        if actual is None:
            if target.lower() in by_key:
                continue  # the file already uses the table's own name: the mapping has nothing to do
            raise InputError(f"the spike file maps the header {header!r} to '{target}', but the file has no such "
                             f"header (headers found: {shown})", file=file, column=target, rows=[1],
                             fix="correct the header under columns: in the spike file, or rename the file's header")
        if target.lower() in by_key and by_key[target.lower()] != actual:
            raise InputError(f"both {str(actual)!r} (mapped to '{target}') and {str(by_key[target.lower()])!r} "
                             f"would be column '{target}'", file=file, column=target, rows=[1],
                             fix="delete one of the two columns, or drop the mapping")
        renames[actual] = target
    targets = set(renames.values()) | (own & set(by_key))
    for col in contract.columns:
        if col.name.lower() in targets:
            continue
        found = [h for h in present if h not in renames and _ALIAS_LOOKUP.get(str(h).strip().lower()) == col.name
                 and str(h).strip().lower() not in own]
        if len(found) > 1:
            raise InputError(f"the headers {', '.join(repr(str(h)) for h in found)} all mean '{col.name}'",
                             file=file, column=col.name, rows=[1],
                             fix=f"delete or rename all but one, or say which one under columns: in the spike file "
                                 f"(e.g. columns: {{{contract.name}: {{{found[0]}: {col.name}}}}})")
        if found:
            renames[found[0]] = col.name
            targets.add(col.name)
    return renames


def validate_table(
    raw: pd.DataFrame,
    contract: Contract,
    *,
    tz: str = "Asia/Shanghai",
    file: str = "<table>",
    info: dict | None = None,
    columns: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Check ``raw`` against ``contract``; return the clean frame (typed, in ``tz``, sorted by key).

    Raises InputError naming ``file``, the column, the spreadsheet rows and the fix. ``info`` (from
    ``read_raw``) tells how frame positions map to file rows; it gains ``ignored_columns`` and ``mapped_columns``
    (the file's own header -> table column, from ``columns`` or a known alias). ``columns`` maps the file's own
    headers to the table's columns (a spike file's ``columns:``); errors then name both.
    """
    _check_tz(tz)
    info = {} if info is None else info
    if len(raw) == 0:
        raise _empty_file_error(file)
    if not raw.columns.is_unique or len({str(c).strip().lower() for c in raw.columns}) < raw.shape[1]:
        _check_unique_headers(list(raw.columns), file, spreadsheet=False, header_row=None)
    renames = _header_renames(list(raw.columns), contract, columns or {}, str(file))
    if renames:
        raw = raw.rename(columns=renames)
    headers = {column: header for header, column in renames.items()}
    info["mapped_columns"] = dict(renames)
    ctx = _Context(str(file), info.get("row_numbers"), int(info.get("first_row", 2)), headers)
    mapping, extra = _match_columns(raw, contract, ctx)
    info["ignored_columns"] = extra

    texts: dict[str, _Text] = {}
    numbers: dict[str, np.ndarray] = {}
    stamps: dict[str, pd.DatetimeIndex] = {}
    n = len(raw)
    for col in contract.columns:
        source = mapping.get(col.name)
        if col.dtype == "str":
            if source is None:
                text = _Text(np.zeros(n, dtype=np.int8), np.array([""], dtype=object))
            else:
                text = _text_column(raw[source])
            must_fill = col.required and col.required_when is None
            _check_text(col, text, ctx, must_fill)
            if col.required_when is None and not col.required:
                # Optional free text: missing cells read as "".
                text = _fill_missing(text)
            texts[col.name] = text
        elif col.dtype in ("float", "int"):
            if source is None:
                continue
            numbers[col.name] = _numbers(col, raw[source], ctx)
        else:
            if source is None:
                continue
            stamps[col.name] = _timestamps(col, raw[source], tz, ctx)

    for col in contract.columns:
        if col.required_when is not None:
            texts[col.name] = _check_conditional(col, texts, ctx)

    arrays = _key_arrays(contract, texts, stamps, numbers)
    order = None
    if not _strictly_increasing(arrays):
        order = _sort_order(arrays)
        del arrays
        # Permute every column once; the key check then runs on neighbours in sorted order.
        texts = {name: _Text(t.codes[order], t.categories) for name, t in texts.items()}
        numbers = {name: values[order] for name, values in numbers.items()}
        stamps = {name: index.take(order) for name, index in stamps.items()}
        same = np.ones(n - 1, dtype=bool)
        for array in _key_arrays(contract, texts, stamps, numbers):
            same &= array[1:] == array[:-1]
        if same.any():
            idx = np.flatnonzero(same)
            positions = np.concatenate([order[idx], order[idx + 1]])
            raise ctx.error(
                f"duplicate rows: the same {', '.join(contract.key)} appears more than once",
                ", ".join(contract.key),
                positions,
                fix="keep one row per combination (sum the counts if they are parts of one period)",
            )
    if info is not None and info.get("want_file_rows"):
        # The file row of each output row, for cross-row rules that must point at rows after the sort.
        positions = order if order is not None else np.arange(n)
        info["file_rows"] = (np.asarray(ctx.row_numbers)[positions] if ctx.row_numbers is not None
                             else positions + ctx.first_row).tolist()
    del order

    codes = {name: t.codes for name, t in texts.items()}
    key_texts = [name for name in contract.key if name in texts]
    starts = _run_starts([codes[name] for name in key_texts], n) if key_texts else None

    out = {}
    for col in contract.columns:
        if col.name in texts:
            text = texts[col.name]
            col_codes = codes[col.name]
            if col.categorical:
                used = _used_categories(col_codes, len(text.categories), starts if col.name in key_texts else None)
                cats, col_codes = _drop_unused(text.categories, col_codes, used)
                dtype = pd.CategoricalDtype(pd.Index(cats.tolist(), dtype=str))
                out[col.name] = pd.Categorical.from_codes(col_codes, dtype=dtype, validate=False)
            else:
                values = np.where(col_codes >= 0, text.categories.take(np.maximum(col_codes, 0)), "")
                out[col.name] = pd.array(values.astype(object), dtype=str)
        elif col.name in numbers:
            values = numbers[col.name]
            out[col.name] = values.astype(np.int64) if col.dtype == "int" else values
        elif col.name in stamps:
            out[col.name] = stamps[col.name].array
    return pd.DataFrame(out, copy=False)


def _fill_missing(text: _Text) -> _Text:
    if not (text.codes < 0).any():
        return text
    cats = text.categories
    if "" in set(cats.tolist()):
        blank = int(np.flatnonzero(cats == "")[0])
        return _Text(np.where(text.codes < 0, blank, text.codes).astype(text.codes.dtype), cats)
    new_cats = np.concatenate([np.array([""], dtype=object), cats])  # "" sorts first
    codes = np.where(text.codes < 0, 0, text.codes.astype(np.int64) + 1)
    return _Text(codes.astype(np.int32), new_cats)


def _check_conditional(col: Column, texts: dict[str, _Text], ctx: _Context) -> _Text:
    """Text filled exactly on rows where ``required_when`` holds, empty elsewhere."""
    other, wanted = col.required_when
    this = _fill_missing(texts[col.name])
    gate = texts[other]
    wanted_codes = np.flatnonzero(gate.categories == wanted)
    needs = np.isin(gate.codes, wanted_codes)
    blank_codes = np.flatnonzero(this.categories == "")
    empty = np.isin(this.codes, blank_codes)
    missing = needs & empty
    if missing.any():
        raise ctx.error(
            f"empty value: {other} '{wanted}' rows must name the {col.name}",
            col.name,
            np.flatnonzero(missing),
            fix=f"fill in the {col.name} on each {wanted} row",
        )
    stray = ~needs & ~empty
    if stray.any():
        raise ctx.error(
            f"only {other} '{wanted}' rows may have a {col.name}",
            col.name,
            np.flatnonzero(stray),
            fix=f"leave {col.name} empty on rows whose {other} is not {wanted}",
        )
    return this


def _drop_unused(categories: np.ndarray, codes: np.ndarray, used: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if used.all():
        return categories, codes
    new_code = (np.cumsum(used) - 1).astype(codes.dtype)
    return categories[used], np.where(codes >= 0, new_code.take(np.maximum(codes, 0)), -1).astype(codes.dtype)


def _check_tz(tz: str) -> None:
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise ConfigError(f"unknown time zone {tz!r}. Fix: use an IANA name such as 'Asia/Shanghai'") from None
