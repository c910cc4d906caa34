"""One formatter for every table a person reads in a record.

``format_frame`` turns a DataFrame into text cells: thousands separators, a number of decimals chosen per
column from its magnitude (never scientific notation), dates without times when every value in a column falls
on midnight, missing values as "–", infinities as "∞". ``frame_html`` renders that without the index column.
``install_display`` makes it the way every DataFrame a chapter shows is rendered (``sk.begin`` calls it).
The recorded values are untouched: only what is displayed is formatted.
"""
from __future__ import annotations

import math
from typing import Any

MISSING = "–"


def _is_missing(value: Any) -> bool:
    import pandas as pd

    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists, arrays: not a single missing value
        return False


def _decimals(values) -> int:
    """Decimals for a float column: none for whole numbers or large magnitudes, more for small ones."""
    finite = [abs(float(v)) for v in values if not _is_missing(v) and math.isfinite(float(v))]
    if not finite or all(float(v).is_integer() for v in finite):
        return 0
    largest = max(finite)
    if largest >= 1000:
        return 0
    if largest >= 10:
        return 1
    if largest >= 1:
        return 2
    return 3


def format_number(value: Any, decimals: int = 2) -> str:
    if _is_missing(value):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    number = float(value)
    if math.isinf(number):
        return "∞" if number > 0 else "−∞"
    text = f"{number:,.{decimals}f}"
    return "0" if text.strip("-0.,") == "" else text  # "-0.000" reads as a number that is not there


def format_p(p: Any) -> str:
    """A p-value as a reader takes it in: two significant digits, and "< 0.0001" below that (never 1.5e-79)."""
    if _is_missing(p):
        return MISSING
    p = float(p)
    if p < 0.0001:
        return "< 0.0001"
    return f"{p:.2g}" if p >= 0.001 else f"{p:.4f}".rstrip("0")


def _format_time(value: Any, day_only: bool) -> str:
    if _is_missing(value):
        return MISSING
    return f"{value:%Y-%m-%d}" if day_only else f"{value:%Y-%m-%d %H:%M}"


def _format_duration(value: Any) -> str:
    import pandas as pd

    if _is_missing(value):
        return MISSING
    delta = pd.Timedelta(value)
    days, rest = delta.days, delta - pd.Timedelta(days=delta.days)
    hours = rest.total_seconds() / 3600
    if hours == 0:
        return f"{days:,} d"
    return f"{days:,} d {hours:.0f} h" if days else f"{hours:.1f} h"


def format_value(value: Any) -> str:
    """A single value as a person reads it (the same rules as a one-row column)."""
    import datetime as dt

    import pandas as pd

    if _is_missing(value):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int,)) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in "iu"):
        return f"{int(value):,}"
    if isinstance(value, float) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "f"):
        return format_number(value, _decimals([value]))
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        ts = pd.Timestamp(value)
        return _format_time(ts, ts == ts.normalize())
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (pd.Timedelta, dt.timedelta)):
        return _format_duration(value)
    if isinstance(value, (list, tuple, set)):
        return ", ".join(format_value(v) for v in value) or MISSING
    if isinstance(value, dict):
        return "; ".join(f"{k}: {format_value(v)}" for k, v in value.items()) or MISSING
    return str(value)


def format_column(column) -> list[str]:
    import pandas as pd

    kind = column.dtype.kind
    values = list(column)
    if kind == "b":
        return [format_value(v) for v in values]
    if kind in "iu":
        return [f"{int(v):,}" for v in values]
    if kind == "f":
        decimals = _decimals(values)
        return [format_number(v, decimals) for v in values]
    if kind == "M":
        present = column.dropna()
        day_only = bool(len(present)) and bool((present == present.dt.normalize()).all())
        return [_format_time(v, day_only) for v in values]
    if kind == "m":
        return [_format_duration(v) for v in values]
    numeric = [v for v in values if not _is_missing(v)]
    if numeric and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numeric):
        return format_column(pd.Series(values, dtype="float64"))  # an object column holding numbers and None
    return [format_value(v) for v in values]


def format_frame(frame) -> "Any":
    """A copy of ``frame`` with every cell as display text; a meaningful (non-range) index becomes columns."""
    import pandas as pd

    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    columns = [" ".join(str(p) for p in c if str(p)) if isinstance(c, tuple) else str(c) for c in frame.columns]
    return pd.DataFrame({name: format_column(frame.iloc[:, i]) for i, name in enumerate(columns)},
                        columns=columns, index=range(len(frame)))


def frame_html(frame, max_rows: int = 60) -> str:
    """The table as HTML for a record: formatted cells, no index column."""
    shown = frame if len(frame) <= max_rows else frame.head(max_rows)
    body = format_frame(shown).to_html(index=False, escape=True, border=0, classes="spikekit-table")
    if len(frame) > max_rows:
        body += f"<p><em>first {max_rows:,} of {len(frame):,} rows</em></p>"
    return body


class _Table:
    """What ``sk.table`` returns: shown as the formatted HTML table, readable as text elsewhere."""

    def __init__(self, frame, max_rows: int):
        self.frame, self.max_rows = frame, max_rows

    def _repr_html_(self) -> str:
        return frame_html(self.frame, self.max_rows)

    def __repr__(self) -> str:
        return format_frame(self.frame.head(self.max_rows)).to_string(index=False)


def table(frame, max_rows: int = 60) -> _Table:
    """``sk.table(frame)``: show a table the people's way, also outside a chapter (where ``sk.begin`` has not
    installed the formatter for every DataFrame)."""
    return _Table(frame, max_rows)


def install_display() -> bool:
    """Render every DataFrame a notebook displays through ``frame_html``. False outside IPython."""
    try:
        import pandas as pd
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, frame_html)
    return True
