"""Input contracts: the one place that reads and validates every input table.

A ``Contract`` declares a table's columns (type, required or optional, allowed values, plausibility bounds,
a one-line description) and its key. ``load_table`` reads a file (CSV/TXT in UTF-8, UTF-8 with BOM or GBK/GB18030,
XLSX, Parquet, or a Google Trends "interest over time" export), checks it against a contract and returns a
clean frame: typed columns, timestamps in the spike's time zone, sorted by the key, provenance in
``df.attrs["source"]``. Chapter code receives these frames and never re-checks columns.

Every problem in the data raises one ``InputError`` naming the file, the column, the spreadsheet row
numbers (header = row 1) and the fix. Nothing is resolved silently: two headers naming the same column, a
workbook with data on two sheets, a number outside its column's bounds are errors, not guesses. The checks
are vectorised so a 21.6 M-row Parquet file of signals loads in about a second. ``check_inputs`` runs the
same loads for every input of a run before the run starts.
"""
from __future__ import annotations

import csv
import difflib
import hashlib
import io
import os
import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_numeric_dtype,
)

from . import paths
from .errors import ConfigError, InputError

__all__ = [
    "Column",
    "Contract",
    "SIGNALS",
    "VALIDATION",
    "CONTRACTS",
    "read_raw",
    "validate_table",
    "load_table",
    "load_signals",
    "load_validation",
    "read_signals_any",
    "sha256_file",
    "describe_contract",
    "check_inputs",
    "refresh_readme",
]

DTYPES = ("str", "float", "int", "timestamp")
TIMESTAMP_UNIT = "ns"  # every loaded timestamp column is datetime64[ns, <tz>]

# ----------------------------------------------------------------------------------------------------------
# Declarations


@dataclass(frozen=True)
class Column:
    """One column of a contract.

    ``required_when=(other, value)`` makes a text column conditional: it must be non-empty on rows where
    column ``other`` equals ``value`` and empty on all other rows (it may then be left out of the file).
    """

    name: str
    dtype: str
    description: str
    required: bool = True
    allowed: tuple[str, ...] | None = None
    non_negative: bool = False
    categorical: bool = False  # output as pandas ``category`` (text columns repeated over many rows)
    required_when: tuple[str, str] | None = None
    # Plausibility bounds of a number column (inclusive; ``exclusive_minimum`` makes the lower one strict).
    # ``non_negative`` alone means minimum 0. ``bound_fix`` is the advice given with a value out of bounds.
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    bound_fix: str | None = None

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise ConfigError(f"column {self.name!r}: dtype {self.dtype!r} is not one of {', '.join(DTYPES)}")
        if self.allowed is not None and self.dtype != "str":
            raise ConfigError(f"column {self.name!r}: allowed values only apply to str columns")
        if not self.required and self.dtype != "str":
            # An absent text column reads as ""; numbers and times have no such neutral value.
            raise ConfigError(f"column {self.name!r}: only str columns can be optional")
        bounded = self.minimum is not None or self.maximum is not None or self.exclusive_minimum
        if bounded and self.dtype not in ("float", "int"):
            raise ConfigError(f"column {self.name!r}: bounds only apply to number columns")
        if self.non_negative and self.minimum is None:
            object.__setattr__(self, "minimum", 0.0)
        if self.non_negative and self.minimum < 0:
            raise ConfigError(f"column {self.name!r}: non_negative with a negative minimum")
        if self.exclusive_minimum and self.minimum is None:
            raise ConfigError(f"column {self.name!r}: exclusive_minimum needs a minimum")
        if self.minimum is not None and self.maximum is not None and self.minimum >= self.maximum:
            raise ConfigError(f"column {self.name!r}: minimum {self.minimum} is not below maximum {self.maximum}")

    @property
    def bounded(self) -> bool:
        return self.minimum is not None or self.maximum is not None

    def range_text(self) -> str:
        """The allowed range in words, e.g. 'between 0 and 1', 'above 0 and at most 1,000,000'."""
        low, high = self.minimum, self.maximum
        if low is not None and high is not None and not self.exclusive_minimum:
            return f"between {_number_text(low)} and {_number_text(high)}"
        parts = []
        if low is not None:
            parts.append(f"{'above' if self.exclusive_minimum else 'at least'} {_number_text(low)}")
        if high is not None:
            parts.append(f"at most {_number_text(high)}")
        return " and ".join(parts)


def _number_text(value: float) -> str:
    """1000000000.0 -> '1,000,000,000'; 0.5 -> '0.5'; 1e308 -> '1e+308' (readable in an error message)."""
    return format(float(value), ",.15g")


# Plausibility ceilings: far above any real shop's numbers, low enough that a slip (a value pasted into the
# wrong column, a unit mix-up, 1e308) cannot pass as data and silently move a decision.
COUNT_MAX = 1e9  # counts in one row: views, visitors, orders, units
UNIT_MONEY_MAX = 1e6  # yuan per unit or per order: prices, unit and handling costs
MONEY_MAX = 1e10  # yuan in total: cash, budgets, credit limits, set-up costs
DAYS_MAX = 365.0  # lead times, delivery days, payment lags
HOURS_MAX = 24 * DAYS_MAX
DISTANCE_KM_MAX = 20_000.0  # half the Earth's circumference
MATERIAL_NEVER_DAY_MAX = 1e6  # suppliers "use a large number if none is coming"
TRENDS_INDEX_MAX = 100.0  # Google Trends scales each chart to 0-100
SHARE_FIX = "write it as a fraction between 0 and 1 (0.05 = 5%)"


@dataclass(frozen=True)
class Contract:
    """A table: its columns, the columns that must be unique together, and what it is for."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    _by_name: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ConfigError(f"contract {self.name!r} names a column twice")
        by_name = {c.name: c for c in self.columns}
        for k in self.key:
            if k not in by_name:
                raise ConfigError(f"contract {self.name!r}: key column {k!r} is not a column")
        for c in self.columns:
            if c.required_when and c.required_when[0] not in by_name:
                raise ConfigError(f"contract {self.name!r}: {c.name!r} depends on unknown column")
        object.__setattr__(self, "_by_name", by_name)

    def column(self, name: str) -> Column:
        return self._by_name[name]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


SIGNALS = Contract(
    name="signals",
    description="Interaction or search-interest time series, one row per keyword x platform x metric x time.",
    columns=(
        Column("keyword", "str", "The keyword or topic watched (e.g. 露营椅).", categorical=True),
        Column(
            "platform",
            "str",
            "Where it was measured (e.g. 抖音, xiaohongshu, google-trends:Worldwide).",
            categorical=True,
        ),
        Column("timestamp", "timestamp", "When the value was known: the END of the hour/day/week it counts (10:00 = 09:00-10:00). A run uses a row once this is <= as_of."),
        Column("value", "float", "The measured amount for that period.", non_negative=True, maximum=COUNT_MAX),
        Column(
            "metric",
            "str",
            "What was counted: interactions, search_index, posts, searches, ...",
            categorical=True,
        ),
    ),
    key=("keyword", "platform", "metric", "timestamp"),
)

VALIDATION = Contract(
    name="validation",
    description="Counts from the 48-hour validation: polls, pre-sale add-to-carts and orders, design votes.",
    columns=(
        Column("timestamp", "timestamp", "When the count was known: the END of the period counted (10:00 = 09:00-10:00); a run uses a row once this is <= as_of."),
        Column(
            "metric",
            "str",
            "What was counted.",
            allowed=("poll_invited", "poll_participated", "add_to_cart", "presale_order", "design_vote"),
        ),
        Column("count", "int", "How many in that period.", non_negative=True, maximum=COUNT_MAX),
        Column(
            "phase",
            "str",
            "baseline = normal days before the test; test = during the validation.",
            allowed=("baseline", "test"),
        ),
        Column(
            "design",
            "str",
            "Concept design voted for (design_vote rows only).",
            required=False,
            required_when=("metric", "design_vote"),
        ),
    ),
    key=("timestamp", "metric", "phase", "design"),
)

CONTRACTS: dict[str, Contract] = {c.name: c for c in (SIGNALS, VALIDATION)}

# ----------------------------------------------------------------------------------------------------------
# Reading files

_TEXT_SUFFIXES = {".csv", ".txt", ".tsv"}
_EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_SEPARATORS = (",", ";", "\t")
_TRENDS_TERM_RE = re.compile(r"^(?P<term>.*?)\s*:\s*\((?P<geo>[^()]*)\)\s*$")
_TRENDS_METRIC = "search_index"
_TRENDS_BELOW_ONE = 0.5  # Google writes "<1" for "present but under 1"
# The first header of the newer Google Trends export (no "term: (geo)" columns) is "Time" in the interface language
# ("Time","term" in English, 时间,星空杯 in Chinese). Only words for "time": the older form's Day/Week/Month headers
# come with "term: (geo)" columns and are recognised by those. Confirmed by the first data row (a date, then 0-100
# or '<1') and by no other header naming a playbook column, so a table of the playbook's own is never taken for one.
_TRENDS_TIME_WORDS = frozenset({
    "time", "时间", "時間", "temps", "waktu", "zeit", "tiempo", "tempo", "tijd", "czas", "время", "zaman", "시간",
})


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks so large files never sit in memory whole."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _empty_file_error(path) -> InputError:
    return InputError(
        "file is empty (no data rows)",
        file=str(path),
        rows=[1],
        fix="export the table again, with the header and at least one data row",
    )


def _decode(data: bytes, path) -> tuple[str, str]:
    """Text and the encoding used. UTF-8 is tried strictly first, so GBK bytes are never mis-read."""
    try:
        text = data.decode("utf-8-sig")
        return text, ("utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8")
    except UnicodeDecodeError as exc:
        utf8_stop = exc.start
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        # The decoder that got further is the file's real encoding: point at the bytes that broke it
        # (a UTF-8 file with one bad byte would otherwise be blamed on its first Chinese character).
        line = data[: max(exc.start, utf8_stop)].count(b"\n") + 1
        raise InputError(
            "the text is neither UTF-8 nor GBK/GB18030",
            file=str(path),
            rows=[line],
            fix="save the file as CSV UTF-8 (Excel: Save As > CSV UTF-8)",
        ) from None


def _sniff_separator(lines: Sequence[str]) -> str:
    """The separator giving the same number (>1) of fields on the first lines; ',' when unsure."""
    best, best_fields = ",", 1
    for sep in _SEPARATORS:
        counts = [len(row) for row in csv.reader(lines, delimiter=sep)]
        if not counts or counts[0] < 2:
            continue
        if all(c == counts[0] for c in counts) and counts[0] > best_fields:
            best, best_fields = sep, counts[0]
    if best_fields == 1 and lines:
        # No separator is consistent (ragged rows): go by the header line alone.
        header_counts = {sep: lines[0].count(sep) for sep in _SEPARATORS}
        sep = max(header_counts, key=header_counts.get)
        if header_counts[sep] > 0:
            best = sep
    return best


def _is_blank(line: str) -> bool:
    return not line.strip().strip(",;\t\"")


def _looks_like_category_line(line: str) -> bool:
    stripped = line.strip().strip('"')
    return bool(stripped) and (":" in stripped or "：" in stripped)


def _column_letters(position: int) -> str:
    """1 -> 'A', 26 -> 'Z', 27 -> 'AA': how a spreadsheet names the column at a 1-based position."""
    letters = ""
    while position:
        position, rest = divmod(position - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _check_unique_headers(names: Sequence, file, *, spreadsheet: bool, header_row: int | None) -> None:
    """Two headers that name the same column once the loader has normalised them (spaces stripped, upper/lower
    case ignored) are an error: otherwise one of the two columns would be read and the other silently dropped."""
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        key = "" if name is None else str(name).strip().lower()
        if not key:
            continue  # an unnamed column is never read
        if key not in seen:
            seen[key] = position
            continue
        first = seen[key]
        before, again = str(names[first - 1]), str(name)
        if spreadsheet:
            letters = f"{_column_letters(first)} and {_column_letters(position)}"
            where = f"columns {letters} (positions {first} and {position})"
        else:
            where = f"columns {first} and {position} of the file"
        same = (f"the header {before!r} appears twice" if before == again else
                f"the headers {before!r} and {again!r} name the same column (spaces and upper/lower case are ignored)")
        raise InputError(
            f"{same}: {where}",
            file=str(file),
            column=before.strip(),
            rows=None if header_row is None else [header_row],
            fix="delete one of the two columns, or rename one if both are needed (each header must appear once)",
        )


def _trends_header(lines: list[str]) -> tuple[int, list[str]] | None:
    """(index of the header line, header fields) when the text is a Google Trends export, else None."""
    nonblank = [i for i, line in enumerate(lines) if not _is_blank(line)]
    if len(nonblank) < 1:
        return None
    first = nonblank[0]
    has_category = _looks_like_category_line(lines[first]) and first + 1 < len(lines) and _is_blank(
        lines[first + 1]
    )
    header_at = nonblank[1] if has_category and len(nonblank) > 1 else first
    if has_category and len(nonblank) < 2:
        return None
    header = next(csv.reader([lines[header_at]]))
    header = [h.strip() for h in header]
    if len(header) < 2:
        return None
    terms = header[1:]
    if has_category:
        return header_at, header
    if all(_TRENDS_TERM_RE.match(t) for t in terms):
        return header_at, header
    if header[0].lower() in _TRENDS_TIME_WORDS and not any(_is_known_header(t) for t in terms):
        # Newer export: "Time","term" (or 时间,星空杯 ...). Confirm from the first data row: a date, then index numbers.
        data_at = next((i for i in nonblank if i > header_at), None)
        if data_at is None:
            return header_at, header
        row = next(csv.reader([lines[data_at]]))
        values_ok = all(re.fullmatch(r"\s*(<1|\d+(\.\d+)?)\s*", v) for v in row[1:])
        date_ok = not pd.isna(pd.to_datetime(row[0].strip(), format="ISO8601", errors="coerce"))
        if values_ok and date_ok and len(row) == len(header):
            return header_at, header
    return None


def _infer_period(timestamps: pd.Series) -> str | None:
    """'hour', 'day', 'week' or 'month' from the median spacing of the distinct timestamps."""
    stamps = pd.to_datetime(pd.Series(pd.unique(timestamps)), format="ISO8601", errors="coerce").dropna()
    if len(stamps) < 2:
        return None
    median_days = stamps.sort_values().diff().dropna().median() / pd.Timedelta(days=1)
    if median_days < 0.5:
        return "hour"
    if median_days < 3:
        return "day"
    if median_days < 15:
        return "week"
    if median_days < 45:
        return "month"
    return "irregular"


def _read_trends(text: str, header_at: int, header: list[str], path) -> tuple[pd.DataFrame, dict]:
    """Google Trends wide export -> signals long format (keyword, platform, timestamp, value, metric)."""
    lines = text.splitlines()
    terms = []
    for name in header[1:]:
        match = _TRENDS_TERM_RE.match(name)
        if match:
            term, geo = match["term"].strip(), match["geo"].strip()
            terms.append((term, f"google-trends:{geo}" if geo else "google-trends"))
        else:
            terms.append((name.strip(), "google-trends"))
    stamps, values, line_numbers = [], [], []
    below_one = 0
    for index in range(header_at + 1, len(lines)):
        if _is_blank(lines[index]):
            continue
        line_no = index + 1
        row = next(csv.reader([lines[index]]))
        if len(row) != len(header):
            raise InputError(
                f"expected {len(header)} fields like the header, found {len(row)}",
                file=str(path),
                rows=[line_no],
                fix="export the Google Trends chart again without editing it",
            )
        parsed = []
        for column, cell in zip(header[1:], row[1:]):
            cell = cell.strip()
            if cell == "<1":
                below_one += 1
                parsed.append(_TRENDS_BELOW_ONE)
                continue
            try:
                parsed.append(float(cell))
            except ValueError:
                raise InputError(
                    f"value {cell!r} is not a number",
                    file=str(path),
                    column=column,
                    rows=[line_no],
                    fix="Google Trends values are numbers 0-100 or '<1'; export the chart again",
                ) from None
        stamps.append(row[0].strip())
        values.append(parsed)
        line_numbers.append(line_no)
    if not stamps:
        raise _empty_file_error(path)
    n_rows, n_terms = len(stamps), len(terms)
    value_matrix = np.asarray(values, dtype=np.float64)  # rows x terms
    over = value_matrix > TRENDS_INDEX_MAX
    if over.any():
        row, term = (int(i) for i in np.argwhere(over)[0])
        raise InputError(
            f"value {_number_text(value_matrix[row, term])} out of range: a Google Trends index is between 0 and "
            f"{_number_text(TRENDS_INDEX_MAX)}",
            file=str(path),
            column=header[1 + term],
            rows=[line_numbers[i] for i in np.flatnonzero(over[:, term])],
            fix="export the Google Trends chart again without editing it",
        )
    frame = pd.DataFrame(
        {
            "keyword": np.repeat([t for t, _ in terms], n_rows),
            "platform": np.repeat([p for _, p in terms], n_rows),
            "timestamp": np.tile(np.asarray(stamps, dtype=object), n_terms),
            "value": value_matrix.T.ravel(),
            "metric": _TRENDS_METRIC,
        }
    )
    info = {
        "format": "google-trends",
        "period": _infer_period(pd.Series(stamps)),
        "below_one": below_one,
        "terms": [t for t, _ in terms],
        "row_numbers": np.tile(np.asarray(line_numbers, dtype=np.int64), n_terms),
    }
    if below_one:
        info["note"] = f"{below_one} value(s) written '<1' were read as {_TRENDS_BELOW_ONE}"
    return frame, info


def _read_text(path: Path) -> tuple[pd.DataFrame, dict]:
    data = path.read_bytes()
    text, encoding = _decode(data, path)
    lines = text.splitlines()
    if not any(not _is_blank(line) for line in lines):
        raise _empty_file_error(path)
    trends = _trends_header(lines)
    if trends is not None:
        frame, info = _read_trends(text, trends[0], trends[1], path)
        info["encoding"] = encoding
        return frame, info
    first = next(i for i, line in enumerate(lines) if not _is_blank(line))
    sample = [line for line in lines[first : first + 50] if line.strip()]
    sep = _sniff_separator(sample)
    # pandas would rename a repeated header ('value' -> 'value.1'): check the header as written.
    _check_unique_headers(next(csv.reader([lines[first]], delimiter=sep)), path, spreadsheet=True,
                          header_row=first + 1)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            dtype=str,
            na_filter=False,  # keep empty cells as "" so they can be reported, not silently NaN
            skiprows=first,
            skip_blank_lines=False,  # dropped below, keeping track of row numbers
        )
    except pd.errors.EmptyDataError:
        raise _empty_file_error(path) from None
    except pd.errors.ParserError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise InputError(
            f"cannot split the rows into columns ({exc})".rstrip(),
            file=str(path),
            rows=[int(match[1]) + first] if match else None,
            fix="check that every row has as many separators as the header (quote cells containing them)",
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    info = {"format": "csv", "encoding": encoding, "separator": sep, "first_row": first + 2}
    return _drop_blank_rows(frame, info)


def _first_rows(sheet, limit: int = 2) -> list[tuple[int, list]]:
    """The first ``limit`` non-blank rows of a worksheet as (spreadsheet row number, cell values)."""
    found = []
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        if any(v is not None and not (isinstance(v, str) and not v.strip()) for v in values):
            found.append((number, list(values)))
            if len(found) == limit:
                break
    return found


def _read_excel(path: Path, sheet) -> tuple[pd.DataFrame, dict]:
    """One worksheet of a workbook. Unnamed, the workbook must hold data rows on one sheet only: sheets that are
    empty or hold a header alone are passed over, two sheets with data are an error (never a silent pick)."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises assorted types for corrupt files
        raise InputError(
            f"cannot read the workbook ({type(exc).__name__}: {exc})",
            file=str(path),
            fix="open it in Excel/WPS and save it again as .xlsx",
        ) from None
    try:
        titles = [ws.title for ws in book.worksheets]
        if sheet is None:
            with_data = [(ws.title, rows) for ws in book.worksheets if len(rows := _first_rows(ws)) == 2]
            if len(with_data) > 1:
                shown = ", ".join(repr(title) for title, _ in with_data)
                raise InputError(
                    f"the workbook has {len(with_data)} sheets with data ({shown}); the loader reads one table and "
                    "will not guess which sheet holds it",
                    file=str(path),
                    fix="keep the table on one sheet and delete the other sheets or save them as separate files "
                    f"(in a notebook you may instead pass sheet={with_data[0][0]!r} to the loader)",
                )
            if not with_data:
                raise _empty_file_error(path)
            name, rows = with_data[0]
        else:
            if isinstance(sheet, int) and 0 <= sheet < len(titles):
                name = titles[sheet]
            elif isinstance(sheet, str) and sheet in titles:
                name = sheet
            else:
                raise InputError(
                    f"no sheet {sheet!r} in the workbook (its sheets: {', '.join(repr(t) for t in titles)})",
                    file=str(path),
                    fix="name an existing sheet",
                )
            rows = _first_rows(book[name], limit=1)
    finally:
        book.close()
    if rows and rows[0][0] == 1:  # pandas takes row 1 as the header (a blank row 1 gives 'Unnamed' columns)
        _check_unique_headers(rows[0][1], path, spreadsheet=True, header_row=1)
    try:
        frame = pd.read_excel(path, sheet_name=name, engine="openpyxl")
    except Exception as exc:
        raise InputError(
            f"cannot read sheet {name!r} of the workbook ({type(exc).__name__}: {exc})",
            file=str(path),
            fix="open it in Excel/WPS and save it again as .xlsx",
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    info = {"format": "xlsx", "encoding": None, "sheet": name, "first_row": 2}
    return _drop_blank_rows(frame, info)


def _blank_strings(column: pd.Series) -> np.ndarray:
    """True where the cell is a string of only spaces (or empty)."""
    try:
        return column.str.strip().eq("").to_numpy(dtype=bool, na_value=False)
    except AttributeError:  # mixed cell types (spreadsheets): go cell by cell
        return column.astype(object).map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(dtype=bool)


def _drop_blank_rows(frame: pd.DataFrame, info: dict) -> tuple[pd.DataFrame, dict]:
    """Drop rows with every cell empty (spreadsheets leave them); remember the file row of each kept row."""
    blank = np.ones(len(frame), dtype=bool)
    for name in frame.columns:
        column = frame[name]
        empty = column.isna().to_numpy()
        if not is_numeric_dtype(column.dtype) and not is_datetime64_any_dtype(column.dtype):
            empty = empty | _blank_strings(column)
        blank &= empty
        if not blank.any():
            return frame, info  # usual case: decided after the first column
    kept = np.flatnonzero(~blank)
    info["row_numbers"] = kept + int(info["first_row"])
    return frame.iloc[kept].reset_index(drop=True), info


def _code_dtype(n_categories: int) -> type:
    # pandas' own thresholds, so Categorical.from_codes keeps our array instead of converting it.
    return np.int8 if n_categories < 127 else np.int16 if n_categories < 32767 else np.int32


class _CodesBuilder:
    """Text column from dictionary-encoded batches -> int codes into one growing list of labels.

    Codes start as int8 and widen only when the labels outgrow it, so 21.6 M keyword cells cost 2 bytes
    each, and no Python string is made per row.
    """

    def __init__(self, n: int):
        self.codes = np.empty(n, dtype=np.int8)
        self.labels: list = []
        self._index: dict = {}
        self._last_dictionary = None
        self._last_map = None

    def _widen(self, filled: int) -> None:
        need = _code_dtype(len(self.labels))
        if np.dtype(need).itemsize > self.codes.dtype.itemsize:
            wider = np.empty(len(self.codes), dtype=need)
            wider[:filled] = self.codes[:filled]  # only the filled part: untouched pages stay untouched
            self.codes = wider

    def add(self, array, start: int) -> None:
        import pyarrow.compute as pc

        dictionary = array.dictionary
        if self._last_dictionary is None or not dictionary.equals(self._last_dictionary):
            local = []
            for value in dictionary.to_pylist():
                if value is None:
                    local.append(-1)
                    continue
                code = self._index.get(value)
                if code is None:
                    code = self._index[value] = len(self.labels)
                    self.labels.append(value)
                local.append(code)
            self._widen(start)
            # The trailing -1 is where a null index (-1 after fill_null) lands.
            self._last_map = np.array(local + [-1], dtype=self.codes.dtype)
            self._last_dictionary = dictionary
        indices = array.indices
        if array.null_count:
            indices = pc.fill_null(indices, -1)
        positions = indices.to_numpy(zero_copy_only=False)
        np.take(self._last_map, positions, out=self.codes[start : start + len(positions)])

    def series(self) -> pd.Series:
        categorical = pd.Categorical.from_codes(self.codes, categories=pd.Index(self.labels, dtype=object), validate=False)
        return pd.Series(categorical, copy=False)


def _read_parquet(path: Path, columns: Sequence[str] | None) -> tuple[pd.DataFrame, dict]:
    """Read Parquet batch by batch into preallocated numpy arrays.

    Peak memory is the output plus one batch: text columns become small int codes, numbers float64,
    times int64 nanoseconds wrapped without a copy.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
        _check_unique_headers(schema.names, path, spreadsheet=False, header_row=None)
        names = [str(n).strip() for n in schema.names]
        wanted = list(schema.names)
        if columns is not None:
            lowered = {c.lower() for c in columns}
            wanted = [raw for raw, n in zip(schema.names, names) if n.lower() in lowered]
        fields = {name: schema.field(name) for name in wanted}

        def is_text(t) -> bool:
            if pa.types.is_dictionary(t):
                return pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type)
            return pa.types.is_string(t) or pa.types.is_large_string(t)

        text_cols = [n for n, f in fields.items() if is_text(f.type)]
        reader = pq.ParquetFile(path, read_dictionary=[n for n in text_cols if not pa.types.is_dictionary(fields[n].type)])
        n_rows = reader.metadata.num_rows
        builders: dict = {}
        for name, f in fields.items():
            t = f.type
            if name in text_cols:
                builders[name] = _CodesBuilder(n_rows)
            elif pa.types.is_timestamp(t) or pa.types.is_date(t):
                builders[name] = ("time", np.empty(n_rows, dtype=np.int64), getattr(t, "tz", None))
            elif (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)):
                builders[name] = ("number", np.empty(n_rows, dtype=np.float64))
            else:
                builders[name] = ("other", [])
        start = 0
        for batch in reader.iter_batches(batch_size=1 << 18, columns=wanted, use_threads=True):
            stop = start + batch.num_rows
            for name in wanted:
                array = batch.column(batch.schema.get_field_index(name))
                builder = builders[name]
                if isinstance(builder, _CodesBuilder):
                    if not pa.types.is_dictionary(array.type):
                        array = array.dictionary_encode()
                    builder.add(array, start)
                elif builder[0] == "time":
                    if not (pa.types.is_timestamp(array.type) and array.type.unit == "ns"):
                        array = array.cast(pa.timestamp("ns", tz=builder[2]))
                    builder[1][start:stop] = array.to_numpy(zero_copy_only=False).view(np.int64)
                elif builder[0] == "number":
                    if pa.types.is_decimal(array.type):
                        array = array.cast(pa.float64())
                    builder[1][start:stop] = array.to_numpy(zero_copy_only=False)
                else:
                    builder[1].append(array.to_pandas())
            start = stop
    except (OSError, pa.ArrowException) as exc:
        raise InputError(
            f"cannot read the Parquet file ({type(exc).__name__}: {exc})",
            file=str(path),
            fix="write the file again (pandas: df.to_parquet(path))",
        ) from None
    data = {}
    for name in wanted:
        builder = builders[name]
        if isinstance(builder, _CodesBuilder):
            data[name] = builder.series()
        elif builder[0] == "time":
            if builder[2] is None:
                data[name] = pd.Series(builder[1].view("M8[ns]"), copy=False)
            else:
                # Through a one-column Arrow table: pandas gets the tz-aware column without copying 8 bytes/row.
                wrapped = pa.table({"t": pa.array(builder[1], type=pa.timestamp("ns", tz=builder[2]))})
                data[name] = wrapped.to_pandas(split_blocks=True)["t"]
        elif builder[0] == "number":
            data[name] = pd.Series(builder[1], copy=False)
        else:
            data[name] = pd.concat(builder[1], ignore_index=True) if builder[1] else pd.Series([], dtype=object)
    frame = pd.DataFrame(data, copy=False)
    frame.columns = [str(c).strip() for c in frame.columns]
    info = {"format": "parquet", "encoding": None, "first_row": 2, "available_columns": names}
    return frame, info


def read_raw(
    path: str | os.PathLike, *, sheet: str | int | None = None, columns: Sequence[str] | None = None
) -> tuple[pd.DataFrame, dict]:
    """Read a CSV/TXT, XLSX, Parquet or Google Trends file as it is; return (frame, info).

    ``info`` says how it was read: format (csv|xlsx|parquet|google-trends), encoding, separator, sheet,
    for Trends the period (hour/day/week/month) and how many '<1' values were read as 0.5. ``columns``
    is a hint: Parquet reads only those (matched ignoring case); other formats read everything.
    """
    path = Path(path)
    if not path.is_file():
        if path.is_dir():
            raise InputError("this is a folder, not a file", file=str(path),
                             fix="give the path of the table file inside it (e.g. .../signals.csv)")
        raise InputError(
            "file not found" if not path.exists() else "not a regular file",
            file=str(path),
            fix="check the path (relative paths are taken inside the data folder)",
        )
    suffix = path.suffix.lower()
    if suffix not in _TEXT_SUFFIXES | _EXCEL_SUFFIXES | _PARQUET_SUFFIXES:
        raise InputError(
            f"unknown file type {suffix or '(no extension)'!r}",
            file=str(path),
            fix="save the table as .csv (UTF-8 or GBK), .xlsx or .parquet",
        )
    if path.stat().st_size == 0:
        raise _empty_file_error(path)
    if suffix in _TEXT_SUFFIXES:
        frame, info = _read_text(path)
    elif suffix in _EXCEL_SUFFIXES:
        frame, info = _read_excel(path, sheet)
    else:
        frame, info = _read_parquet(path, columns)
    if len(frame) == 0:
        raise _empty_file_error(path)
    return frame, info


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


# Headers sellers' files and platform exports use for the playbook's columns, known out of the box (matched ignoring
# case and surrounding spaces). An alias is used only when the table's own column name is absent, and two headers of
# one file naming the same column are an error, never a guess. Keyed by column name: the same alias serves every
# table with that column.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "order_id": ("订单编号", "订单号", "主订单编号", "订单ID", "Order ID", "Order Number", "Order No"),
    "timestamp": ("下单时间", "创建时间", "订单创建时间", "订单提交时间", "时间", "日期", "Created at", "Created",
                  "Order Date", "Date", "Time", "Datetime"),
    "buyer_id": ("买家会员名", "买家昵称", "买家ID", "买家", "客户ID", "用户ID", "Customer ID", "Customer", "Buyer",
                 "Buyer ID"),
    "product": ("商品名称", "宝贝标题", "商品标题", "选购商品", "商品", "Lineitem name", "Product", "Product Name",
                "Item Name"),
    "platform": ("平台", "渠道", "销售平台", "Platform", "Channel", "Sales Channel"),
    "variant": ("规格", "商品规格", "颜色分类", "款式", "SKU属性", "Variant", "Variation", "Lineitem variant"),
    "region": ("地区", "区域", "大区", "省份", "收货省份", "Region", "Province", "Shipping Province"),
    "price": ("价格", "单价", "售价", "实付金额", "买家实际支付金额", "成交价", "Price", "Unit Price", "Amount Paid"),
    "promised_ship": ("承诺发货时间", "最晚发货时间", "Promised Ship", "Ship By"),
    "shipped": ("发货时间", "Shipped at", "Fulfilled at", "Shipped"),
    "delivered": ("签收时间", "确认收货时间", "Delivered at", "Delivered"),
    "units": ("数量", "件数", "商品数量", "宝贝总数量", "Quantity", "Qty", "Lineitem quantity", "Units"),
    "orders": ("销量", "销售件数", "成交件数", "Units Sold", "Units sold", "Sold"),
    "visitors": ("访客数", "访客", "Visitors", "Sessions"),
    "source": ("流量来源", "来源", "Traffic Source", "Source"),
    "keyword": ("关键词", "搜索词", "Keyword", "Term", "Search Term"),
    "value": ("数值", "指数", "Value", "Index"),
    "review_id": ("评价ID", "评论ID", "Review ID"),
    "rating": ("评分", "星级", "Rating", "Stars"),
    "text": ("评价内容", "评论内容", "评价", "评论", "内容", "Review", "Review Text", "Comment", "Body"),
}
_ALIAS_LOOKUP: dict[str, str] = {}
for _column, _aliases in HEADER_ALIASES.items():
    for _alias in _aliases:
        _ALIAS_LOOKUP.setdefault(_alias.strip().lower(), _column)
del _column, _aliases, _alias


def _is_known_header(name: str) -> bool:
    """A header that names a playbook column (a table's own name, or an alias of one)."""
    key = str(name).strip().lower()
    return key in _ALIAS_LOOKUP or any(key == c.name for t in CONTRACTS.values() for c in t.columns)


def column_label(column: str | None, headers: dict[str, str]) -> str | None:
    """How an error names a column read under another header: "下单时间 (as timestamp)"."""
    if column in headers:
        return f"{headers[column]} (as {column})"
    return column


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
            from .errors import did_you_mean

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


# ----------------------------------------------------------------------------------------------------------
# Loading


def load_table(
    path: str | os.PathLike,
    contract: Contract,
    *,
    tz: str = "Asia/Shanghai",
    data_root: str | os.PathLike | None = None,
    sheet: str | int | None = None,
    columns: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Read ``path`` (relative to the data folder, or absolute inside it) and validate it against ``contract``.

    Returns the clean frame sorted by the contract key; ``df.attrs["source"]`` holds path, sha256,
    encoding, format, rows, ignored and mapped columns and (Google Trends) the period. ``columns`` maps the
    file's own headers to the table's columns; without it, the ``columns:`` of the spike files that name this
    file under ``data:`` apply (so every loader, in a run or in JupyterLab, reads the file the same way).
    """
    _check_tz(tz)
    root = paths.data_root() if data_root is None else Path(data_root)
    resolved = paths.resolve_under(root, path, what=f"{contract.name} file")
    if columns is None:
        columns = spike_column_map(contract, resolved, root)
    return _load_resolved(resolved, contract, tz=tz, sheet=sheet, columns=columns)


_SPIKE_YAML_CACHE: dict[str, tuple[tuple, object]] = {}


def _spike_yaml(path: Path):
    """A spike file's YAML (cached while the file is unchanged); None when it cannot be read (load_spike reports
    that, with the file's name, when the spike is used)."""
    import yaml

    try:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        hit = _SPIKE_YAML_CACHE.get(str(path))
        if hit and hit[0] == stamp:
            return hit[1]
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    _SPIKE_YAML_CACHE[str(path)] = (stamp, data)
    return data


def spike_column_map(contract: Contract, resolved: Path, root: Path) -> dict[str, str]:
    """The ``columns: {<table>: {header: column}}`` mapping of the spike files whose ``data: {<table>: ...}`` is this
    file. Two spikes naming the same file with different mappings is a ConfigError (the file would read two ways)."""
    folder = paths.playbook_dir() / "spikes"
    found: dict[str, tuple[Path, dict]] = {}
    for spike_file in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        raw = _spike_yaml(spike_file)
        if not isinstance(raw, dict) or not isinstance(raw.get("columns"), dict):
            continue
        data = raw.get("data")
        mapping = raw["columns"].get(contract.name)
        if mapping is None or not isinstance(data, dict) or not isinstance(data.get(contract.name), str):
            continue
        try:
            named = (Path(root) / data[contract.name]).resolve()
        except (OSError, ValueError):
            continue
        if named != resolved:
            continue
        clean = check_column_map(mapping, contract, f"spike file {spike_file}, key 'columns', table '{contract.name}'")
        key = repr(sorted(clean.items()))
        found.setdefault(key, (spike_file, clean))
    if len(found) > 1:
        (first, _), (second, _) = list(found.values())[:2]
        raise ConfigError(f"spike files {first} and {second} name the same {contract.name} file {resolved} with "
                          f"different columns: mappings. Fix: give both the same mapping, or one file each")
    return next(iter(found.values()))[1] if found else {}


def _load_resolved(resolved: Path, contract: Contract, *, tz: str, sheet, columns: dict | None = None) -> pd.DataFrame:
    # Parquet reads only the columns named: the table's own, their known aliases and the mapped headers.
    wanted = contract.names + [a for c in contract.names for a in HEADER_ALIASES.get(c, ())] + list(columns or {})
    raw, info = read_raw(resolved, sheet=sheet, columns=wanted)
    cross_rows = globals().get(f"validate_{contract.name}")
    info["want_file_rows"] = callable(cross_rows)
    frame = validate_table(raw, contract, tz=tz, file=str(resolved), info=info, columns=columns)
    del raw
    source = {
        "path": str(resolved),
        "sha256": sha256_file(resolved),
        "encoding": info.get("encoding"),
        "format": info["format"],
        "rows": int(len(frame)),
        "ignored_columns": list(info.get("ignored_columns", [])),
    }
    if info.get("mapped_columns"):
        source["mapped_columns"] = dict(info["mapped_columns"])
    for extra in ("period", "below_one", "separator", "sheet"):
        if extra in info:
            source[extra] = info[extra]
    if "timestamp" in frame.columns and len(frame):
        # The span and spacing of a dated table: `spike check` and the runner flag stale data from them.
        stamps = frame["timestamp"].drop_duplicates().sort_values()
        steps = stamps.diff().dropna()
        source["first"] = stamps.iloc[0].isoformat()
        source["last"] = stamps.iloc[-1].isoformat()
        source["step_s"] = float(steps.median() / pd.Timedelta(seconds=1)) if len(steps) else None
    frame.attrs["source"] = source
    # Rules across rows (shares summing to 1, min_order <= max_units ...) live beside each table's contract
    # as validate_<table>(frame, file); every load goes through them, whichever loader was called.
    if callable(cross_rows):
        frame.attrs["file_rows"] = info["file_rows"]
        try:
            frame = cross_rows(frame, str(resolved))
        except InputError as exc:
            headers = {column: header for header, column in info.get("mapped_columns", {}).items()}
            if exc.column in headers:  # name the file's own header too, as the column checks do
                raise InputError(exc.problem, file=exc.file, column=column_label(exc.column, headers), rows=exc.rows,
                                 fix=exc.fix) from None
            raise
        finally:
            frame.attrs.pop("file_rows", None)
    return frame


def check_inputs(
    files: dict[str, str], *, tz: str = "Asia/Shanghai", data_root: str | os.PathLike | None = None
) -> dict[str, dict]:
    """Load and check every input a run will read, before the run writes anything.

    ``files`` maps an input key (a spike file's ``data:`` key, which is its table's contract name) to its path
    under the data folder. Raises the first problem as the loader would in the chapter: ConfigError for a path
    outside the data folder, InputError for a missing file, a folder, or a table breaking its contract. A key
    without a contract only has to be a readable file. Returns each key's provenance (``df.attrs["source"]``).
    """
    _check_tz(tz)
    root = paths.data_root() if data_root is None else Path(data_root)
    sources = {}
    for key, path in files.items():
        resolved = paths.resolve_under(root, path, what=f"'{key}' input")
        if key in CONTRACTS:
            columns = spike_column_map(CONTRACTS[key], resolved, root)
            sources[key] = dict(_load_resolved(resolved, CONTRACTS[key], tz=tz, sheet=None,
                                               columns=columns).attrs["source"])
        else:
            if not resolved.is_file():
                read_raw(resolved)  # raises the loader's own error for a missing path or a folder
            sources[key] = {"path": str(resolved), "sha256": sha256_file(resolved)}
    return sources


def _file_rows(frame: pd.DataFrame, mask) -> list[int]:
    """Spreadsheet rows of the flagged rows of a frame: from the loader's record of where each sorted row
    stood in the file, or, for a frame built in memory, its own order (row = position + 2)."""
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))
    rows = frame.attrs.get("file_rows")
    if rows is not None and len(rows) == len(frame):
        return sorted(int(rows[p]) for p in positions)
    return [int(p) + 2 for p in positions]


def read_signals_any(path: str | os.PathLike, *, tz: str = "Asia/Shanghai") -> tuple[pd.DataFrame, dict]:
    """For the ``spike scan FILE`` command: a signals or Google Trends file anywhere the user points.

    Same checks as ``load_signals`` but no data-folder restriction (a person at the command line names
    the file themselves; notebook parameters go through ``load_signals``). Returns (frame, source info).
    """
    _check_tz(tz)
    frame = _load_resolved(Path(path).expanduser().resolve(), SIGNALS, tz=tz, sheet=None)
    return frame, dict(frame.attrs["source"])


def load_signals(
    path: str | os.PathLike,
    tz: str = "Asia/Shanghai",
    data_root: str | os.PathLike | None = None,
    *,
    sheet: str | int | None = None,
) -> pd.DataFrame:
    """Load a signals table (or a Google Trends export) as keyword/platform/timestamp/value/metric."""
    return load_table(path, SIGNALS, tz=tz, data_root=data_root, sheet=sheet)


def load_validation(
    path: str | os.PathLike,
    tz: str = "Asia/Shanghai",
    data_root: str | os.PathLike | None = None,
    *,
    sheet: str | int | None = None,
) -> pd.DataFrame:
    """Load the 48-hour validation counts (timestamp/metric/count/phase/design)."""
    return load_table(path, VALIDATION, tz=tz, data_root=data_root, sheet=sheet)


# ----------------------------------------------------------------------------------------------------------
# Documentation

_TYPE_NAMES = {"str": "text", "float": "number", "int": "whole number", "timestamp": "date-time"}


def _rule_text(col: Column) -> str:
    rules = []
    if col.dtype == "str":
        if col.required_when:
            other, value = col.required_when
            rules.append(f"non-empty when {other} = `{value}`, empty otherwise")
        elif col.required:
            rules.append("non-empty")
        if col.allowed:
            rules.append("one of " + ", ".join(f"`{a}`" for a in col.allowed))
    if col.minimum is not None:
        rules.append(f"{'>' if col.exclusive_minimum else '>='} {_number_text(col.minimum)}")
    if col.maximum is not None:
        rules.append(f"<= {_number_text(col.maximum)}")
    if col.dtype == "timestamp":
        rules.append("local time of the spike, or with a UTC offset (not both in one file)")
    return "; ".join(rules) or "-"


def describe_contract(contract: Contract) -> str:
    """Markdown: the table's purpose, one row per column (type, required, rule, description) and its key."""
    lines = [
        contract.description,
        "",
        "| column | type | required | rule | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for col in contract.columns:
        required = "yes" if col.required else ("when " + "=".join(col.required_when) if col.required_when else "no")
        lines.append(
            f"| `{col.name}` | {_TYPE_NAMES[col.dtype]} | {required} | {_rule_text(col)} | {col.description} |"
        )
    lines.append("")
    lines.append("Key (each combination at most once): " + ", ".join(f"`{k}`" for k in contract.key) + ".")
    return "\n".join(lines) + "\n"


_README_KEY_LINE = "Key (each combination at most once): "


def refresh_readme(text: str) -> str:
    """``text`` (data/README.md) with each ``### Table `<name>``` section's generated part (description, column
    table, key line) replaced by ``describe_contract``; the hand-written example after it is kept."""
    from .state import LEDGER_CONTRACTS  # the ledger's tables are documented in the same README

    for contract in [*CONTRACTS.values(), *LEDGER_CONTRACTS.values()]:
        heading = f"### Table `{contract.name}`\n\n"
        start = text.find(heading)
        if start < 0:
            raise ConfigError(f"the data README has no section '### Table `{contract.name}`'. "
                              "Fix: add the heading (with an example) and run this again")
        begin = start + len(heading)
        key_at = text.index(_README_KEY_LINE, begin)
        end = text.index("\n", key_at) + 1
        text = text[:begin] + describe_contract(contract) + text[end:]
    return text


def main(argv: list[str] | None = None) -> int:
    """``python -m spikekit.contracts --update-readme [PATH]``: regenerate the table sections of data/README.md."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m spikekit.contracts", description=main.__doc__)
    parser.add_argument("--update-readme", nargs="?", const=str(paths.PROJECT_ROOT / "data" / "README.md"),
                        metavar="PATH", required=True, help="the README to rewrite (default: data/README.md)")
    args = parser.parse_args(argv)
    readme = Path(args.update_readme)
    old = readme.read_text(encoding="utf-8")
    new = refresh_readme(old)
    if new != old:
        readme.write_text(new, encoding="utf-8")
    print(f"{readme}: {'updated' if new != old else 'already up to date'}")
    return 0


# --- warehouses, lanes, regional_demand, urgent_orders (chapter 05) ---

WAREHOUSES = Contract(
    name="warehouses",
    description="Warehouses that can ship the spike's orders: the main warehouse and cloud (third-party) ones.",
    columns=(
        Column("warehouse", "str", "Warehouse name (e.g. 杭州主仓, 云仓-成都)."),
        Column("kind", "str", "main = the shop's own warehouse; cloud = a cloud warehouse paid per order.",
               allowed=("main", "cloud")),
        Column("city", "str", "City the warehouse ships from."),
        Column("capacity_per_day", "int", "Orders it can pack and hand over per day.",
               non_negative=True, maximum=COUNT_MAX),
        Column("handling_cost", "float", "Packing and handling cost per order (yuan).",
               non_negative=True, maximum=UNIT_MONEY_MAX),
    ),
    key=("warehouse",),
)

LANES = Contract(
    name="lanes",
    description="Shipping lanes, one row per warehouse x region that can be served; a missing pair is not allowed.",
    columns=(
        Column("warehouse", "str", "Warehouse name, as in warehouses."),
        Column("region", "str", "Destination region (e.g. 华东, 西南), as in regional_demand."),
        Column("cost_per_order", "float", "Carrier cost per order on this lane (yuan).",
               non_negative=True, maximum=UNIT_MONEY_MAX),
        Column("delivery_days", "float", "Usual days from hand-over to delivery on this lane.",
               non_negative=True, maximum=DAYS_MAX),
    ),
    key=("warehouse", "region"),
)

REGIONAL_DEMAND = Contract(
    name="regional_demand",
    description="Where the orders go: each region's share of orders and the shop's usual logistics cost there.",
    columns=(
        Column("region", "str", "Destination region, as in lanes."),
        Column("share", "float", "Share of orders going to the region, 0 to 1; the shares sum to 1.",
               non_negative=True, maximum=1.0, bound_fix=SHARE_FIX),
        Column("normal_cost_per_order", "float",
               "The shop's usual logistics cost per order to the region before the spike (yuan).",
               non_negative=True, maximum=UNIT_MONEY_MAX),
    ),
    key=("region",),
)

URGENT_ORDERS = Contract(
    name="urgent_orders",
    description="Same-city rush orders with a delivery promise, the normal carrier's expectation and a courier quote.",
    columns=(
        Column("order_id", "str", "Order number."),
        Column("timestamp", "timestamp", "When the order was placed; a run uses a row once this is <= as_of."),
        Column("region", "str", "Destination region or city district."),
        Column("distance_km", "float", "Distance from the shipping warehouse to the customer (km).",
               non_negative=True, maximum=DISTANCE_KM_MAX),
        Column("promised_hours", "float", "Delivery promised within this many hours of the order (> 0).",
               non_negative=True, maximum=HOURS_MAX),
        Column("standard_hours", "float", "Expected delivery time by the normal carrier (hours).",
               non_negative=True, maximum=HOURS_MAX),
        Column("standard_cost", "float", "Normal carrier cost for this order (yuan).",
               non_negative=True, maximum=UNIT_MONEY_MAX),
        Column("courier_cost", "float", "Crowdsourced courier quote for this order (yuan).",
               non_negative=True, maximum=UNIT_MONEY_MAX),
    ),
    key=("order_id",),
)

for _contract in (WAREHOUSES, LANES, REGIONAL_DEMAND, URGENT_ORDERS):
    CONTRACTS[_contract.name] = _contract
del _contract

SHARE_SUM_TOLERANCE = 0.001




def validate_warehouses(frame: pd.DataFrame, file: str = "warehouses.csv") -> pd.DataFrame:
    """Cross-row rules of ``warehouses``: at least one warehouse with capacity."""
    if int(frame["capacity_per_day"].sum()) <= 0:
        raise InputError("every warehouse has capacity_per_day 0: no order could ship", file=file,
                         column="capacity_per_day", rows=list(range(2, len(frame) + 2)),
                         fix="give each warehouse the orders it can pack per day")
    return frame


def validate_lanes(frame: pd.DataFrame, file: str = "lanes.csv") -> pd.DataFrame:
    """Cross-row rules of ``lanes``: none beyond the key (warehouse and region names are checked at allocation)."""
    return frame


def validate_regional_demand(frame: pd.DataFrame, file: str = "regional_demand.csv") -> pd.DataFrame:
    """Cross-row rule of ``regional_demand``: the shares (each 0 to 1, by the contract) sum to 1 (within 0.001)."""
    total = float(frame["share"].sum())
    if abs(total - 1.0) > SHARE_SUM_TOLERANCE:
        raise InputError(f"the shares sum to {total:.4f}, not 1 (within {SHARE_SUM_TOLERANCE})", file=file,
                         column="share", rows=list(range(2, len(frame) + 2)),
                         fix="make the region shares add up to 1, e.g. divide each by their total")
    return frame


def validate_urgent_orders(frame: pd.DataFrame, file: str = "urgent_orders.csv") -> pd.DataFrame:
    """Cross-row rules of ``urgent_orders``: a promise of 0 hours cannot be kept by anyone."""
    zero = frame["promised_hours"].to_numpy(dtype=float) <= 0
    if zero.any():
        raise InputError("promised_hours must be above 0", file=file, column="promised_hours",
                         rows=_file_rows(frame, zero), fix="give the promised delivery time in hours, e.g. 4")
    return frame



def load_warehouses(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the warehouses table (warehouse/kind/city/capacity_per_day/handling_cost)."""
    return load_table(path, CONTRACTS["warehouses"], tz=tz, data_root=data_root)


def load_lanes(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the lanes table (warehouse/region/cost_per_order/delivery_days)."""
    return load_table(path, CONTRACTS["lanes"], tz=tz, data_root=data_root)


def load_regional_demand(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the regional demand table (region/share/normal_cost_per_order); shares must sum to 1."""
    return load_table(path, CONTRACTS["regional_demand"], tz=tz, data_root=data_root)


def load_urgent_orders(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the urgent (same-city rush) orders table."""
    return load_table(path, CONTRACTS["urgent_orders"], tz=tz, data_root=data_root)


# --- stock (chapter 04) ---

STOCK = Contract(
    name="stock",
    description="Stock of the spike product now: units on hand, what a unit costs and sells for, and what a leftover is worth.",
    columns=(
        Column("sku", "str", "Stock-keeping unit (e.g. starry-mug-blue)."),
        Column("on_hand", "int", "Units in the warehouse now, sellable.", non_negative=True, maximum=COUNT_MAX),
        Column("unit_cost", "float", "Purchase cost per unit (yuan).", non_negative=True, maximum=UNIT_MONEY_MAX),
        Column("price", "float", "Normal selling price per unit (yuan).",
               non_negative=True, minimum=0.0, exclusive_minimum=True, maximum=UNIT_MONEY_MAX),
        Column("holding_cost_per_day", "float", "Cost of keeping one unit in stock for one day (yuan).",
               non_negative=True, maximum=UNIT_MONEY_MAX),
        Column("salvage_value", "float", "What one unit left over at the end fetches (clearance, yuan).",
               non_negative=True, maximum=UNIT_MONEY_MAX),
    ),
    key=("sku",),
)
CONTRACTS[STOCK.name] = STOCK


def validate_stock(frame: pd.DataFrame, file: str = "stock.csv") -> pd.DataFrame:
    """Cross-column rule of ``stock``: a leftover cannot fetch more than the normal price."""
    above = frame["salvage_value"].to_numpy(dtype=float) > frame["price"].to_numpy(dtype=float)
    if above.any():
        raise InputError("salvage_value is above price: a leftover unit cannot fetch more than a sold one",
                         file=file, column="salvage_value", rows=_file_rows(frame, above),
                         fix="check the two columns are not swapped; salvage_value is the clearance value per unit")
    return frame


def load_stock(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the stock table (sku/on_hand/unit_cost/price/holding_cost_per_day/salvage_value)."""
    return load_table(path, CONTRACTS["stock"], tz=tz, data_root=data_root)


# --- suppliers (chapter 03) ---

SUPPLIERS = Contract(
    name="suppliers",
    description="Suppliers who could make the spike product: quantity limits, material on hand, capacity, lead time, cost.",
    columns=(
        Column("supplier", "str", "Supplier name (e.g. 东莞工厂A)."),
        Column("tier", "str", "A = small orders fast (under 100 units, within 7 days); B = under 300 units, within "
               "10 days; C = regular supplier kept as backup.", allowed=("A", "B", "C")),
        Column("min_order", "int", "Smallest order it accepts (units); 0 = none.",
               non_negative=True, maximum=COUNT_MAX),
        Column("max_units", "int", "Most units it will take in this order; at least min_order.",
               non_negative=True, maximum=COUNT_MAX),
        Column("material_units", "int", "Units it can make from the material on hand now.",
               non_negative=True, maximum=COUNT_MAX),
        Column("material_ready_day", "float", "Day more material arrives (day 1 = first day after the order); from "
               "then on material does not limit. Use a large number if none is coming.",
               non_negative=True, maximum=MATERIAL_NEVER_DAY_MAX),
        Column("daily_capacity", "int", "Units it can make per day at full capacity.",
               non_negative=True, maximum=COUNT_MAX),
        Column("lead_days", "float", "Days from a unit finished to it arriving at our warehouse (rounded up).",
               non_negative=True, maximum=DAYS_MAX),
        Column("unit_cost", "float", "Price per unit (yuan).", non_negative=True, maximum=UNIT_MONEY_MAX),
        Column("setup_cost", "float", "Fixed cost if it gets any order: samples, moulds, set-up (yuan).",
               non_negative=True, maximum=MONEY_MAX),
        Column("reliability", "float", "Share of promised units that arrived on time in the past, 0 to 1.",
               non_negative=True, maximum=1.0, bound_fix=SHARE_FIX),
    ),
    key=("supplier",),
)
CONTRACTS[SUPPLIERS.name] = SUPPLIERS




def validate_suppliers(frame: pd.DataFrame, file: str = "suppliers.csv") -> pd.DataFrame:
    """Cross-row rule of ``suppliers``: min_order <= max_units on every row (reliability 0-1 is a contract bound)."""
    inverted = frame["min_order"].to_numpy() > frame["max_units"].to_numpy()
    if inverted.any():
        raise InputError("min_order is above max_units: no order could satisfy this supplier", file=file,
                         column="min_order", rows=_file_rows(frame, inverted),
                         fix="make min_order at most max_units (or max_units 0 to leave the supplier out)")
    return frame


def load_suppliers(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the suppliers table (supplier/tier/min_order/max_units/material/capacity/lead/cost/reliability)."""
    return load_table(path, CONTRACTS["suppliers"], tz=tz, data_root=data_root)


# --- sales (chapter 06) ---

SALES = Contract(
    name="sales",
    description="Daily sales of the spike product: units sold and the average selling price, one row per day.",
    columns=(
        Column("timestamp", "timestamp", "END of the day counted: 2025-03-10 00:00 counts 2025-03-09. A run uses a "
               "row once this is <= as_of."),
        Column("orders", "int", "Units sold that day.", non_negative=True, maximum=COUNT_MAX),
        Column("price", "float", "Average selling price that day (yuan); its changes let chapter 06 estimate the "
               "price response.", non_negative=True, minimum=0.0, exclusive_minimum=True, maximum=UNIT_MONEY_MAX),
    ),
    key=("timestamp",),
)
CONTRACTS[SALES.name] = SALES


def validate_sales(frame: pd.DataFrame, file: str = "sales.csv") -> pd.DataFrame:
    """Cross-row rule of ``sales``: each row ends a day, so its timestamp is a midnight (the day after the one counted)."""
    stamps = frame["timestamp"]
    off_midnight = (stamps != stamps.dt.normalize()).to_numpy()
    if off_midnight.any():
        raise InputError("a timestamp is not a midnight: each row counts one whole day and is stamped at its end",
                         file=file, column="timestamp", rows=_file_rows(frame, off_midnight),
                         fix="stamp the day 2025-03-09 as 2025-03-10 00:00 (the end of the day counted)")
    return frame


def load_sales(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the daily sales table (timestamp = end of the day counted / orders / price)."""
    return load_table(path, CONTRACTS["sales"], tz=tz, data_root=data_root)


# --- traffic, funnel, audience, budget (chapter 07) ---

TRAFFIC = Contract(
    name="traffic",
    description="Hourly visitors per platform and traffic source, for the data room's heatmap.",
    columns=(
        Column("timestamp", "timestamp", "END of the hour counted, on the hour: 10:00 counts 09:00-10:00. A run uses "
               "a row once this is <= as_of."),
        Column("platform", "str", "Platform (e.g. 小红书, 抖音, 淘宝, 拼多多, 微信, 快手).", categorical=True),
        Column("source", "str", "Traffic source (e.g. 推荐, 搜索, 直播, 广告).", categorical=True),
        Column("visitors", "int", "Visitors from that source in that hour.", non_negative=True, maximum=COUNT_MAX),
    ),
    key=("timestamp", "platform", "source"),
)

FUNNEL = Contract(
    name="funnel",
    description="Hourly view -> add-to-cart -> order counts per platform; each step at most the one before.",
    columns=(
        Column("timestamp", "timestamp", "END of the hour counted, on the hour: 10:00 counts 09:00-10:00. A run uses "
               "a row once this is <= as_of."),
        Column("platform", "str", "Platform (e.g. 小红书, 抖音).", categorical=True),
        Column("views", "int", "Product page views in that hour.", non_negative=True, maximum=COUNT_MAX),
        Column("add_to_cart", "int", "Add-to-carts in that hour; at most views.",
               non_negative=True, maximum=COUNT_MAX),
        Column("orders", "int", "Paid orders in that hour; at most add_to_cart.",
               non_negative=True, maximum=COUNT_MAX),
    ),
    key=("timestamp", "platform"),
)

AUDIENCE = Contract(
    name="audience",
    description="Visitors per audience segment and platform in each 12-hour window.",
    columns=(
        Column("timestamp", "timestamp", "END of the 12-hour window counted: 00:00 or 12:00 (12:00 counts "
               "00:00-12:00). A run uses a row once this is <= as_of."),
        Column("platform", "str", "Platform (e.g. 小红书, 抖音).", categorical=True),
        Column("segment", "str", "Audience segment (e.g. 女 18-24, 女 25-35, 女 36+, 男 18-24, 男 25-35, 男 36+).",
               categorical=True),
        Column("visitors", "int", "Visitors of that segment in that window.", non_negative=True, maximum=COUNT_MAX),
    ),
    key=("timestamp", "platform", "segment"),
)

BUDGET = Contract(
    name="budget",
    description="Advertising budget per platform now, in yuan per day: what the data room may move.",
    columns=(
        Column("platform", "str", "Platform, as in funnel."),
        Column("daily_budget", "float", "Ad spend per day on that platform now (yuan).",
               non_negative=True, maximum=MONEY_MAX),
    ),
    key=("platform",),
)

for _contract in (TRAFFIC, FUNNEL, AUDIENCE, BUDGET):
    CONTRACTS[_contract.name] = _contract
del _contract




def _off_grid(frame: pd.DataFrame, hours: tuple[int, ...] | None, contract: Contract, file: str, what: str, fix: str):
    """InputError when a timestamp is not on the hour (or, with ``hours``, not at one of those hours)."""
    stamps = frame["timestamp"]
    bad = (stamps != stamps.dt.floor("h")).to_numpy()
    if hours is not None:
        bad = bad | ~np.isin(stamps.dt.hour.to_numpy(), hours)
    if bad.any():
        raise InputError(what, file=file, column="timestamp", rows=_file_rows(frame, bad), fix=fix)


def validate_traffic(frame: pd.DataFrame, file: str = "traffic.csv") -> pd.DataFrame:
    """Cross-row rule of ``traffic``: each row ends an hour, so its timestamp is on the hour."""
    _off_grid(frame, None, TRAFFIC, file, "a timestamp is not on the hour: each row counts one hour, stamped at its end",
              "stamp 09:00-10:00 as 10:00")
    return frame


def validate_funnel(frame: pd.DataFrame, file: str = "funnel.csv") -> pd.DataFrame:
    """Cross-column rules of ``funnel``: timestamps on the hour, and views >= add_to_cart >= orders per row."""
    _off_grid(frame, None, FUNNEL, file, "a timestamp is not on the hour: each row counts one hour, stamped at its end",
              "stamp 09:00-10:00 as 10:00")
    over_views = frame["add_to_cart"].to_numpy() > frame["views"].to_numpy()
    if over_views.any():
        raise InputError("add_to_cart is above views: a visitor must view the product before adding it to the cart",
                         file=file, column="add_to_cart", rows=_file_rows(frame, over_views),
                         fix="check the columns are not swapped and come from the same hour and platform")
    over_cart = frame["orders"].to_numpy() > frame["add_to_cart"].to_numpy()
    if over_cart.any():
        raise InputError("orders is above add_to_cart: the funnel counts orders placed from the cart",
                         file=file, column="orders", rows=_file_rows(frame, over_cart),
                         fix="check the columns are not swapped; count buy-now orders as add-to-carts too")
    return frame


def validate_audience(frame: pd.DataFrame, file: str = "audience.csv") -> pd.DataFrame:
    """Cross-row rule of ``audience``: windows are 12 hours, stamped at their end, 00:00 or 12:00."""
    _off_grid(frame, (0, 12), AUDIENCE, file, "a timestamp is not 00:00 or 12:00: each row counts a 12-hour window "
              "stamped at its end", "stamp 00:00-12:00 as 12:00 and 12:00-24:00 as 00:00 of the next day")
    return frame


def validate_budget(frame: pd.DataFrame, file: str = "budget.csv") -> pd.DataFrame:
    """Cross-row rules of ``budget``: none beyond the key (platforms without funnel data keep their budget)."""
    return frame


def load_traffic(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the hourly traffic table (timestamp/platform/source/visitors)."""
    return load_table(path, CONTRACTS["traffic"], tz=tz, data_root=data_root)


def load_funnel(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the hourly funnel table (timestamp/platform/views/add_to_cart/orders); each step <= the one before."""
    return load_table(path, CONTRACTS["funnel"], tz=tz, data_root=data_root)


def load_audience(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the 12-hourly audience table (timestamp/platform/segment/visitors)."""
    return load_table(path, CONTRACTS["audience"], tz=tz, data_root=data_root)


def load_budget(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the ad budget table (platform/daily_budget)."""
    return load_table(path, CONTRACTS["budget"], tz=tz, data_root=data_root)


# --- posts (chapter 08) ---

POSTS = Contract(
    name="posts",
    description="One row per published content post (short video or note): where, what format, and how it did.",
    columns=(
        Column("post_id", "str", "Unique id of the post (as the platform or the content sheet names it)."),
        Column("timestamp", "timestamp", "END of the hour the post went out: 10:00 = published 09:00-10:00. A run uses "
               "a post once this is <= as_of (its counts are then taken as they stand in the file)."),
        Column("platform", "str", "Platform (e.g. 小红书, 抖音, 淘宝, 拼多多, 微信, 快手).", categorical=True),
        Column("format", "str", "Content format: scenario (the product in use), unboxing, testimonial.",
               allowed=("scenario", "unboxing", "testimonial"), categorical=True),
        Column("views", "int", "Views of the post so far.", non_negative=True, maximum=COUNT_MAX),
        Column("clicks", "int", "Clicks from the post to the product page; at most views.",
               non_negative=True, maximum=COUNT_MAX),
        Column("orders", "int", "Orders attributed to the post; at most clicks.",
               non_negative=True, maximum=COUNT_MAX),
    ),
    key=("post_id",),
)
CONTRACTS[POSTS.name] = POSTS


def validate_posts(frame: pd.DataFrame, file: str = "posts.csv") -> pd.DataFrame:
    """Cross-column rules of ``posts``: clicks <= views and orders <= clicks on every row."""
    over_views = frame["clicks"].to_numpy() > frame["views"].to_numpy()
    if over_views.any():
        raise InputError("clicks is above views: a click comes from someone who saw the post",
                         file=file, column="clicks", rows=_file_rows(frame, over_views),
                         fix="check the columns are not swapped and count views and clicks over the same period")
    over_clicks = frame["orders"].to_numpy() > frame["clicks"].to_numpy()
    if over_clicks.any():
        raise InputError("orders is above clicks: an attributed order comes through a click on the post",
                         file=file, column="orders", rows=_file_rows(frame, over_clicks),
                         fix="check the columns are not swapped; count only orders attributed to the post")
    return frame


def load_posts(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the content posts table (post_id/timestamp/platform/format/views/clicks/orders)."""
    return load_table(path, CONTRACTS["posts"], tz=tz, data_root=data_root)


# --- cash, settlement, supplier_terms, financing (chapter 09) ---

CASH = Contract(
    name="cash",
    description="A snapshot of the shop's money now, one row per item: cash_on_hand, cash_floor, other_products_budget.",
    columns=(
        Column("item", "str", "What the amount is: cash_on_hand (liquid funds now), cash_floor (never go below), "
               "other_products_budget (spend planned for other products that could be shifted).",
               allowed=("cash_on_hand", "cash_floor", "other_products_budget")),
        Column("amount", "float", "Amount in yuan.", minimum=-MONEY_MAX, maximum=MONEY_MAX),
    ),
    key=("item",),
)
SETTLEMENT = Contract(
    name="settlement",
    description="How each platform pays out: days from a sale to cash in the account, platform fee and refunds.",
    columns=(
        Column("platform", "str", "Sales platform (e.g. 淘宝, 抖音)."),
        Column("lag_days", "int", "Days from a sale to the money reaching the shop's account.",
               non_negative=True, maximum=DAYS_MAX),
        Column("fee_share", "float", "Platform fee as a share of sales, 0 to 1.",
               non_negative=True, maximum=1.0, bound_fix=SHARE_FIX),
        Column("refund_share", "float", "Share of sales refunded, 0 to 1.",
               non_negative=True, maximum=1.0, bound_fix=SHARE_FIX),
    ),
    key=("platform",),
)
SUPPLIER_TERMS = Contract(
    name="supplier_terms",
    description="Payment terms per supplier: deposit when the order is placed, balance some days after delivery.",
    columns=(
        Column("supplier", "str", "Supplier name, as in the suppliers table."),
        Column("deposit_share", "float", "Share of the order paid when it is placed, 0 to 1.",
               non_negative=True, maximum=1.0, bound_fix=SHARE_FIX),
        Column("balance_days", "int", "Days after delivery that the balance is paid.",
               non_negative=True, maximum=DAYS_MAX),
    ),
    key=("supplier",),
)
FINANCING = Contract(
    name="financing",
    description="Financing offers that could cover a cash gap: limit, fee, term and interest.",
    columns=(
        Column("offer", "str", "Name of the offer (e.g. 网商贷 purchase loan)."),
        Column("kind", "str", "purchase_loan (on confirmed orders), receivable_advance (platform pays receivables "
               "early) or presale (customers pay ahead at a discount).",
               allowed=("purchase_loan", "receivable_advance", "presale")),
        Column("limit", "float", "Most it will provide (yuan).", non_negative=True, maximum=MONEY_MAX),
        Column("fee_share", "float", "One-off fee as a share of the amount drawn (for a presale: the discount).",
               non_negative=True, maximum=1.0, bound_fix=SHARE_FIX),
        Column("term_days", "int", "Days until it is repaid; must be above 0.",
               non_negative=True, maximum=10 * DAYS_MAX),
        Column("rate_annual", "float", "Simple interest per year on the amount drawn (0.12 = 12%).",
               non_negative=True, maximum=1.0, bound_fix="write the yearly rate as a fraction (0.12 = 12%)"),
    ),
    key=("offer",),
)
for _contract in (CASH, SETTLEMENT, SUPPLIER_TERMS, FINANCING):
    CONTRACTS[_contract.name] = _contract
del _contract


def validate_cash(frame: pd.DataFrame, file: str = "cash.csv") -> pd.DataFrame:
    """Cross-row rules of ``cash``: cash_on_hand and cash_floor are present; the floor and budget are not negative."""
    items = set(frame["item"].astype(str))
    missing = [i for i in ("cash_on_hand", "cash_floor") if i not in items]
    if missing:
        raise InputError(f"no row for {', '.join(missing)}: the projection needs the cash now and the floor",
                         file=file, column="item", fix="add rows item,amount for cash_on_hand and cash_floor")
    negative = (frame["item"].astype(str) != "cash_on_hand").to_numpy() & (frame["amount"].to_numpy(dtype=float) < 0)
    if negative.any():
        raise InputError("cash_floor and other_products_budget cannot be negative", file=file, column="amount",
                         rows=_file_rows(frame, negative), fix="give them as amounts >= 0 in yuan")
    return frame


def validate_settlement(frame: pd.DataFrame, file: str = "settlement.csv") -> pd.DataFrame:
    """Cross-column rule of ``settlement``: fee plus refunds at most the whole sale (each share 0-1 by the contract)."""
    over = (frame["fee_share"].to_numpy(dtype=float) + frame["refund_share"].to_numpy(dtype=float)) > 1
    if over.any():
        raise InputError("fee_share + refund_share is above 1: the platform would pay out less than nothing",
                         file=file, column="refund_share", rows=_file_rows(frame, over),
                         fix="check both are fractions of sales (0.05 = 5%)")
    return frame


def validate_supplier_terms(frame: pd.DataFrame, file: str = "supplier_terms.csv") -> pd.DataFrame:
    """Cross-row rules of ``supplier_terms``: none beyond the contract (deposit_share 0-1 is a column bound)."""
    return frame


def validate_financing(frame: pd.DataFrame, file: str = "financing.csv") -> pd.DataFrame:
    """Cross-row rule of ``financing``: a term of at least one day."""
    zero = frame["term_days"].to_numpy() <= 0
    if zero.any():
        raise InputError("term_days is 0: an offer must run at least one day", file=file, column="term_days",
                         rows=_file_rows(frame, zero), fix="give the days until repayment (e.g. 30)")
    return frame


def load_cash(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the cash snapshot (item/amount); load_table applies validate_cash."""
    return load_table(path, CONTRACTS["cash"], tz=tz, data_root=data_root)


def load_settlement(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the settlement terms per platform (platform/lag_days/fee_share/refund_share)."""
    return load_table(path, CONTRACTS["settlement"], tz=tz, data_root=data_root)


def load_supplier_terms(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the payment terms per supplier (supplier/deposit_share/balance_days)."""
    return load_table(path, CONTRACTS["supplier_terms"], tz=tz, data_root=data_root)


def load_financing(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the financing offers (offer/kind/limit/fee_share/term_days/rate_annual)."""
    return load_table(path, CONTRACTS["financing"], tz=tz, data_root=data_root)


# --- orders, returns, tickets, faq, reviews, inspections, members, member_activity (chapters 11-12) ---
# Cells that may be empty (not shipped yet, no answer yet, no star rating) are read as text by the contract and
# typed by validate_<table>: empty -> NaT / <NA>, anything else must parse like the other columns of its kind.

TICKET_TYPES = ("delay", "quality", "return", "pre_sale", "address", "other")
ORDERS = Contract(
    name="orders",
    description="One row per order of the shop (the spike product and its other products): when, who, what, "
                "where to, and when it was promised, shipped and delivered.",
    columns=(
        Column("order_id", "str", "Unique order id."),
        Column("timestamp", "timestamp", "When the order was placed (local time, minute precision)."),
        Column("buyer_id", "str", "The buyer (the same id for every order of one buyer)."),
        Column("product", "str", "Product name (e.g. 星空咖啡杯); any later order of a buyer is a repurchase."),
        Column("platform", "str", "Where it was sold (e.g. 淘宝, 抖音)."),
        Column("variant", "str", "Design or colour variant (e.g. 星空蓝)."),
        Column("region", "str", "Delivery region, as in regional_demand (e.g. 华东)."),
        Column("price", "float", "Price paid (yuan).", non_negative=True, maximum=UNIT_MONEY_MAX),
        Column("promised_ship", "timestamp", "Latest ship time promised at checkout."),
        Column("shipped", "str", "Date-time it was shipped; empty = not shipped yet. A run treats a time after "
               "as_of as not shipped yet. At or after timestamp.", required=False),
        Column("delivered", "str", "Date-time it was delivered; empty = not delivered yet. At or after shipped.",
               required=False),
        Column("buyer_prior_orders", "int", "Orders of this buyer before this one (shop history).",
               non_negative=True, maximum=COUNT_MAX),
        Column("buyer_prior_returns", "int", "Returns of this buyer before this order; at most buyer_prior_orders.",
               non_negative=True, maximum=COUNT_MAX),
    ),
    key=("order_id",),
)
RETURNS = Contract(
    name="returns",
    description="One row per return request: the order, when it was requested and why.",
    columns=(
        Column("order_id", "str", "The returned order (an order_id of orders; the chapter checks it)."),
        Column("timestamp", "timestamp", "When the return was requested."),
        Column("reason", "str", "Why: quality, delay, not_as_described, changed_mind or damaged.",
               allowed=("quality", "delay", "not_as_described", "changed_mind", "damaged")),
    ),
    key=("order_id",),
)
TICKETS = Contract(
    name="tickets",
    description="One row per customer-service ticket: when it was opened, by whom, about what, the message, and "
                "when it was first answered and resolved.",
    columns=(
        Column("ticket_id", "str", "Unique ticket id."),
        Column("timestamp", "timestamp", "When the ticket was opened."),
        Column("order_id", "str", "The order it is about; empty for questions before buying.", required=False),
        Column("customer_kind", "str", "paid (has an order) or pre_sale (asking before buying).",
               allowed=("paid", "pre_sale")),
        Column("type", "str", "delay, quality, return, pre_sale, address or other.", allowed=TICKET_TYPES),
        Column("text", "str", "The customer's message."),
        Column("first_response", "str", "Date-time of the first answer; empty = not answered yet. At or after "
               "timestamp.", required=False),
        Column("resolved", "str", "Date-time the ticket was closed; empty = still open. At or after timestamp.",
               required=False),
    ),
    key=("ticket_id",),
)
FAQ = Contract(
    name="faq",
    description="The shop's knowledge base: one question and its answer per row.",
    columns=(
        Column("faq_id", "str", "Unique id of the entry."),
        Column("type", "str", "Ticket type it answers (as in tickets).", allowed=TICKET_TYPES),
        Column("question", "str", "The question as customers ask it."),
        Column("answer", "str", "The answer to send."),
    ),
    key=("faq_id",),
)
REVIEWS = Contract(
    name="reviews",
    description="One row per product review: when, where, for which order, stars and text (Chinese or English).",
    columns=(
        Column("review_id", "str", "Unique review id."),
        Column("timestamp", "timestamp", "When the review was posted."),
        Column("platform", "str", "Where it was posted (e.g. 淘宝)."),
        Column("order_id", "str", "The reviewed order; empty if unknown.", required=False),
        Column("rating", "str", "Stars, a whole number 1 to 5; empty if none given.", required=False,
               allowed=("1", "2", "3", "4", "5")),
        Column("text", "str", "The review text."),
    ),
    key=("review_id",),
)
INSPECTIONS = Contract(
    name="inspections",
    description="Quality inspections: one row per inspection round of a delivered batch.",
    columns=(
        Column("batch_id", "str", "The batch (purchase-order delivery) inspected."),
        Column("supplier", "str", "Supplier of the batch, as in suppliers."),
        Column("timestamp", "timestamp", "When the round was inspected."),
        Column("lot_size", "int", "Units in the batch; above 0.", non_negative=True, maximum=COUNT_MAX),
        Column("round", "int", "Inspection round, 1 to 3.", non_negative=True),
        Column("inspected", "int", "Units inspected in this round; above 0 and at most lot_size.",
               non_negative=True, maximum=COUNT_MAX),
        Column("defects", "int", "Defective units found; at most inspected.", non_negative=True, maximum=COUNT_MAX),
    ),
    key=("batch_id", "round"),
)
MEMBERS = Contract(
    name="members",
    description="Buyers in the shop's community (e.g. the WeChat group) and when they joined.",
    columns=(
        Column("buyer_id", "str", "The buyer, as in orders."),
        Column("timestamp", "timestamp", "When the buyer joined the community."),
    ),
    key=("buyer_id",),
)
MEMBER_ACTIVITY = Contract(
    name="member_activity",
    description="Community activity: one row per member and day with at least one action.",
    columns=(
        Column("buyer_id", "str", "The member, as in members."),
        Column("timestamp", "timestamp", "END of the day active (2025-04-02 00:00 = active on 04-01)."),
        Column("actions", "int", "Actions that day (messages, likes, ...); at least 1.",
               non_negative=True, maximum=COUNT_MAX),
    ),
    key=("buyer_id", "timestamp"),
)
for _contract in (ORDERS, RETURNS, TICKETS, FAQ, REVIEWS, INSPECTIONS, MEMBERS, MEMBER_ACTIVITY):
    CONTRACTS[_contract.name] = _contract
del _contract


def _optional_stamps(frame: pd.DataFrame, column: str, file: str) -> pd.Series:
    """A text column of date-times that may be empty -> datetime64[ns, tz] with NaT, in the time zone of the
    table's timestamp column (naive values are local times; offsets are converted)."""
    tz = frame["timestamp"].dt.tz
    text = pd.Series(frame[column].astype(str).str.strip().to_numpy(dtype=object), dtype=object)
    filled = (text != "").to_numpy()
    stamps = pd.Series(pd.NaT, index=range(len(frame)), dtype=f"datetime64[{TIMESTAMP_UNIT}, {tz}]")
    if not filled.any():
        return pd.Series(stamps.array, index=frame.index)
    values = text[filled]
    has_offset = values.str.contains(_OFFSET_RE).to_numpy(dtype=bool)
    if has_offset.any() and not has_offset.all():
        mask = np.zeros(len(frame), dtype=bool)
        mask[np.flatnonzero(filled)[~has_offset if has_offset.sum() > len(values) / 2 else has_offset]] = True
        raise InputError("mixed time zones: some values carry a UTC offset and others do not", file=file,
                         column=column, rows=_file_rows(frame, mask),
                         fix="write every time the same way: all local times, or all with an offset like +08:00")
    aware = bool(has_offset.any())
    parsed = _parse_strings(values.reset_index(drop=True), aware)
    bad = parsed.isna().to_numpy()
    if bad.any():
        mask = np.zeros(len(frame), dtype=bool)
        mask[np.flatnonzero(filled)[bad]] = True
        raise InputError(f"cannot read {values.iloc[int(np.flatnonzero(bad)[0])]!r} as a date/time (empty = not yet)",
                         file=file, column=column, rows=_file_rows(frame, mask), fix=_TIMESTAMP_FIX)
    index = pd.DatetimeIndex(parsed)
    index = index.tz_convert(tz) if aware else index.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    stamps.iloc[np.flatnonzero(filled)] = index.as_unit(TIMESTAMP_UNIT)
    return pd.Series(stamps.array, index=frame.index)


def _other_table(frame: pd.DataFrame, contract: Contract) -> bool:
    """load_table finds validate_<name> by the contract's name: a caller's own contract that reuses one of these
    names (with other columns) must not get these rules."""
    return not set(contract.names) <= set(frame.columns)


def _not_before(frame: pd.DataFrame, later: str, earlier: str, file: str, what: str) -> None:
    bad = (frame[later] < frame[earlier]).fillna(False).to_numpy(dtype=bool)
    if bad.any():
        raise InputError(f"{later} is before {earlier}: {what}", file=file, column=later,
                         rows=_file_rows(frame, bad), fix=f"check the dates; {later} cannot come before {earlier}")


def validate_orders(frame: pd.DataFrame, file: str = "orders.csv") -> pd.DataFrame:
    """Types shipped/delivered (empty = not yet); shipped >= timestamp, delivered >= shipped, nothing delivered
    that was not shipped, buyer_prior_returns <= buyer_prior_orders."""
    if _other_table(frame, ORDERS):
        return frame
    frame["shipped"] = _optional_stamps(frame, "shipped", file)
    frame["delivered"] = _optional_stamps(frame, "delivered", file)
    _not_before(frame, "shipped", "timestamp", file, "an order ships after it is placed")
    unshipped = (frame["shipped"].isna() & frame["delivered"].notna()).to_numpy(dtype=bool)
    if unshipped.any():
        raise InputError("delivered but not shipped", file=file, column="shipped", rows=_file_rows(frame, unshipped),
                         fix="fill in when the order was shipped")
    _not_before(frame, "delivered", "shipped", file, "an order is delivered after it ships")
    over = frame["buyer_prior_returns"].to_numpy() > frame["buyer_prior_orders"].to_numpy()
    if over.any():
        raise InputError("buyer_prior_returns is above buyer_prior_orders: a buyer returns only what they ordered",
                         file=file, column="buyer_prior_returns", rows=_file_rows(frame, over),
                         fix="check the two columns are not swapped")
    return frame


def validate_tickets(frame: pd.DataFrame, file: str = "tickets.csv") -> pd.DataFrame:
    """Types first_response/resolved (empty = not yet); both at or after the ticket was opened."""
    if _other_table(frame, TICKETS):
        return frame
    frame["first_response"] = _optional_stamps(frame, "first_response", file)
    frame["resolved"] = _optional_stamps(frame, "resolved", file)
    _not_before(frame, "first_response", "timestamp", file, "a ticket is answered after it is opened")
    _not_before(frame, "resolved", "timestamp", file, "a ticket is closed after it is opened")
    return frame


def validate_reviews(frame: pd.DataFrame, file: str = "reviews.csv") -> pd.DataFrame:
    """Types rating as a nullable whole number 1-5 (<NA> = no stars given)."""
    if _other_table(frame, REVIEWS):
        return frame
    text = frame["rating"].astype(str).str.strip()
    frame["rating"] = pd.array(pd.to_numeric(text.where(text != "", None)), dtype="Int64")
    return frame


def validate_inspections(frame: pd.DataFrame, file: str = "inspections.csv") -> pd.DataFrame:
    """lot_size > 0, round 1-3, 0 < inspected <= lot_size, defects <= inspected."""
    if _other_table(frame, INSPECTIONS):
        return frame
    lot, rnd = frame["lot_size"].to_numpy(), frame["round"].to_numpy()
    inspected, defects = frame["inspected"].to_numpy(), frame["defects"].to_numpy()
    for bad, column, problem, fix in (
        (lot <= 0, "lot_size", "lot_size is 0", "give the units in the batch"),
        ((rnd < 1) | (rnd > 3), "round", "round outside 1-3", "number the rounds of a batch 1, 2, 3"),
        (inspected <= 0, "inspected", "inspected is 0: a round inspects at least one unit", "give the sample size"),
        (inspected > lot, "inspected", "inspected is above lot_size", "check the columns are not swapped"),
        (defects > inspected, "defects", "defects is above inspected", "count defects among the inspected units"),
    ):
        if bad.any():
            raise InputError(problem, file=file, column=column, rows=_file_rows(frame, bad), fix=fix)
    return frame


def validate_member_activity(frame: pd.DataFrame, file: str = "member_activity.csv") -> pd.DataFrame:
    """actions >= 1 (a day without actions has no row)."""
    if _other_table(frame, MEMBER_ACTIVITY):
        return frame
    zero = frame["actions"].to_numpy() < 1
    if zero.any():
        raise InputError("actions is 0: only days with activity have a row", file=file, column="actions",
                         rows=_file_rows(frame, zero), fix="delete rows without actions")
    return frame


def load_orders(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the orders table; load_table applies validate_orders (shipped/delivered typed, NaT = not yet)."""
    return load_table(path, CONTRACTS["orders"], tz=tz, data_root=data_root)


def load_returns(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the returns table (order_id/timestamp/reason)."""
    return load_table(path, CONTRACTS["returns"], tz=tz, data_root=data_root)


def load_tickets(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the tickets table; load_table applies validate_tickets (first_response/resolved typed, NaT = not yet)."""
    return load_table(path, CONTRACTS["tickets"], tz=tz, data_root=data_root)


def load_faq(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the FAQ knowledge base (faq_id/type/question/answer)."""
    return load_table(path, CONTRACTS["faq"], tz=tz, data_root=data_root)


def load_reviews(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the reviews table; load_table applies validate_reviews (rating as Int64, <NA> = no stars)."""
    return load_table(path, CONTRACTS["reviews"], tz=tz, data_root=data_root)


def load_inspections(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the inspection rounds; load_table applies validate_inspections."""
    return load_table(path, CONTRACTS["inspections"], tz=tz, data_root=data_root)


def load_members(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the community members (buyer_id/timestamp joined)."""
    return load_table(path, CONTRACTS["members"], tz=tz, data_root=data_root)


def load_member_activity(path, tz: str = "Asia/Shanghai", data_root=None) -> pd.DataFrame:
    """Load the members' active days; load_table applies validate_member_activity."""
    return load_table(path, CONTRACTS["member_activity"], tz=tz, data_root=data_root)


if __name__ == "__main__":
    raise SystemExit(main())
