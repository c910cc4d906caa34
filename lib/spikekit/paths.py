"""Where things live, and the one place that decides whether a path or a name is allowed."""
from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import ConfigError

# lib/spikekit/paths.py -> project root is two levels above the package folder.
PROJECT_ROOT = Path(__file__).resolve().parents[2]

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def project_root() -> Path:
    return Path(os.environ.get("SPIKE_ROOT", PROJECT_ROOT)).resolve()


def data_root() -> Path:
    return Path(os.environ.get("SPIKE_DATA_ROOT", project_root() / "data")).resolve()


def records_root() -> Path:
    return Path(os.environ.get("SPIKE_RECORDS", project_root() / "records")).resolve()


def playbook_dir() -> Path:
    return Path(os.environ.get("SPIKE_PLAYBOOK", project_root() / "playbook")).resolve()


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def check_name(name: str, what: str = "spike name", root: Path | str | None = None) -> str:
    """A spike or run name becomes a folder name: lower-case letters, digits, '.', '_' and '-' only.

    ``root``: the folder the name lives in, said in the error so the reader knows what it would escape.
    """
    # fullmatch: '$' alone would let a trailing newline through.
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or name in {".", ".."} or ".." in name:
        where = f" under {root}" if root is not None else ""
        raise ConfigError(
            f"{what} {name!r} is not allowed{where}: use 1-64 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (it becomes a folder name, so no '/', '..', NUL or spaces)"
        )
    return name


def resolve_under(root: Path | str, relative: str | os.PathLike, what: str = "data file") -> Path:
    """Resolve ``relative`` inside ``root``; refuse absolute paths, '..' and symlinks that lead outside."""
    root = Path(root).resolve()
    if "\x00" in os.fspath(relative):
        raise ConfigError(f"{what} {str(relative)!r} contains a NUL byte, so it cannot name a file under {root}. "
                          "Fix: give a plain path relative to that folder")
    rel = Path(relative)
    if rel.is_absolute():
        # An absolute path is accepted only when it already lies inside the root.
        candidate = rel.resolve()
    else:
        candidate = (root / rel).resolve()
    if candidate != root and root not in candidate.parents:
        raise ConfigError(
            f"{what} {str(relative)!r} resolves to {candidate}, outside {root}. "
            f"Fix: put the file under {root} and give its path relative to it"
        )
    return candidate


def check_records_root(records: Path | str, data: Path | str | None = None) -> Path:
    """The records root, resolved; refused when it lies inside the data folder (or holds it): chapters read
    inputs from the data folder, so run records there could be read back as inputs, and sealing a run would
    make data files read-only."""
    records = Path(records).resolve()
    data = Path(data).resolve() if data is not None else data_root()
    if records == data or data in records.parents or records in data.parents:
        raise ConfigError(
            f"records root {str(records)!r} overlaps the data folder {data}. "
            "Fix: keep records in their own folder (default records/ beside data/), e.g. --records records"
        )
    return records
