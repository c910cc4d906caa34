"""Reading input files (CSV/TXT in any of the usual encodings, XLSX, Parquet, Google Trends exports) into raw
text frames, before any contract is applied.
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from pandas.api.types import is_datetime64_any_dtype, is_numeric_dtype

from ...core.errors import InputError

from .columns import TRENDS_INDEX_MAX, _is_known_header, _number_text


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
        raise _split_error(path, exc, first) from None
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


def _split_error(path, exc: Exception, first: int) -> InputError:
    """pandas could not split a row into the header's columns: the file, the row (counted in the whole file) and
    the fix."""
    match = re.search(r"line (\d+)", str(exc))
    return InputError(
        f"cannot split the rows into columns ({exc})".rstrip(),
        file=str(path),
        rows=[int(match[1]) + first] if match else None,
        fix="check that every row has as many separators as the header (quote cells containing them)",
    )
