"""Loading: `load_table` (read + check), the spike file's column maps, `check_inputs` for a whole run, and the
loaders of chapters 01-02.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ...core import paths
from ...core.errors import ConfigError, InputError

from .columns import CONTRACTS, Contract, HEADER_ALIASES, column_label
from .signals import SIGNALS, VALIDATION
from .reading import read_raw, sha256_file
from .checking import _check_tz, check_column_map, validate_table


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
    # A table family's cross-row checks are validate_<table> in the package namespace (where the flat module had them).
    cross_rows = getattr(sys.modules[__package__], f"validate_{contract.name}", None)
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
