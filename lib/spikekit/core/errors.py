"""The error types users see. Every message says what is wrong, where, and how to fix it."""
from __future__ import annotations

from typing import Iterable, Sequence


class SpikeError(Exception):
    """Base for every error spikekit raises on purpose (the CLI prints these without a traceback)."""


def _rows_text(rows: Sequence[int] | None, limit: int = 5) -> str:
    if not rows:
        return ""
    rows = list(rows)
    shown = ", ".join(str(r) for r in rows[:limit])
    more = f" (+{len(rows) - limit} more)" if len(rows) > limit else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


class InputError(SpikeError, ValueError):
    """Bad input data: names the file, the column, the row(s) and the fix.

    Rows are numbered as a person sees them in a spreadsheet of the file: the header is row 1, so the first
    data row is row 2 (for Google Trends exports, the line number in the file).
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | None = None,
        column: str | None = None,
        rows: Iterable[int] | None = None,
        fix: str | None = None,
    ):
        self.problem = problem
        self.file = None if file is None else str(file)
        self.column = column
        self.rows = None if rows is None else [int(r) for r in rows]
        self.fix = fix
        super().__init__(self._message())

    def _message(self) -> str:
        where = []
        if self.file:
            where.append(f"file {self.file}")
        if self.column:
            where.append(f"column '{self.column}'")
        rows = _rows_text(self.rows)
        if rows:
            where.append(rows)
        text = (", ".join(where) + ": " if where else "") + self.problem
        if self.fix:
            text += f". Fix: {self.fix}"
        return text


class ConfigError(SpikeError, ValueError):
    """Bad settings: unknown spike, unknown or ill-typed parameter, a path outside its root, a bad graph."""


def closest(name: object, candidates: Iterable[object]) -> str | None:
    """The candidate closest to a mistyped name, or None when none is close; case is ignored for the comparison
    ('asia/shanghai' finds 'Asia/Shanghai'), the candidate keeps its own spelling."""
    import difflib

    by_lower: dict[str, str] = {}
    for candidate in candidates:
        by_lower.setdefault(str(candidate).lower(), str(candidate))
    close = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1)
    return by_lower[close[0]] if close else None


def did_you_mean(name: object, candidates: Iterable[object]) -> str:
    """' (did you mean 'x'?)' for the closest candidate to a mistyped name, or '' when none is close."""
    hit = closest(name, candidates)
    return f" (did you mean '{hit}'?)" if hit else ""
