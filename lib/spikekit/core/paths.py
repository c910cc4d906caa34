"""Where things live, and the one place that decides whether a path or a name is allowed."""
from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import ConfigError

# lib/spikekit/core/paths.py -> project root is three levels above this folder.
PROJECT_ROOT = Path(__file__).resolve().parents[3]

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


# Project folders a records root must stay out of (and must not hold): chapters read their inputs from data/,
# pytest collects notebooks/ and tests/, and a spike named like one of them would write into it.
PROJECT_FOLDERS = ("notebooks", "tests", "lib", "playbook", "data")


def check_records_root(records: Path | str, data: Path | str | None = None) -> Path:
    """The records root, resolved; refused when it overlaps the data folder or one of the project's own folders
    (notebooks, tests, lib, playbook, data), or when it exists and is not a folder.

    The data folder: chapters read inputs from it, so run records there could be read back as inputs, and
    sealing a run would make data files read-only. notebooks/ and tests/: pytest would collect the executed
    records as tests. A records root that *holds* one of these folders is refused too: a spike of that name
    would then write into it."""
    given = records
    records = Path(records).resolve()
    data = Path(data).resolve() if data is not None else data_root()
    if records == data or data in records.parents or records in data.parents:
        raise ConfigError(
            f"records root {str(records)!r} overlaps the data folder {data}. "
            "Fix: keep records in their own folder (default records/ beside data/), e.g. --records records"
        )
    root = project_root()
    guarded = {root / name for name in PROJECT_FOLDERS} | {playbook_dir(), notebooks_dir()}
    for folder in sorted(guarded):
        if records == folder or folder in records.parents:
            raise ConfigError(
                f"records root {str(records)!r} is inside the project's {folder.name}/ folder {folder}: executed "
                "records there would be mixed with the project's own files (pytest collects notebooks/ and tests/). "
                f"Fix: keep records in their own folder, e.g. --records {root / 'records'}"
            )
        if records in folder.parents:
            raise ConfigError(
                f"records root {str(records)!r} holds the project's {folder.name}/ folder {folder}, so a spike "
                f"named '{folder.name}' would write into it. Fix: keep records in their own folder, "
                f"e.g. --records {root / 'records'}"
            )
    if records.exists() and not records.is_dir():
        raise ConfigError(
            f"records root {str(given)!r} ({records}) is a file, not a folder. "
            "Fix: give a folder for the records (it is created if missing), e.g. --records records"
        )
    return records


def cache_dir() -> Path:
    """Throwaway files spikekit may recreate at any time (e.g. the data room's parameterized notebook):
    $SPIKE_CACHE, else $XDG_CACHE_HOME/spikekit, else ~/.cache/spikekit."""
    if os.environ.get("SPIKE_CACHE"):
        return Path(os.environ["SPIKE_CACHE"]).resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return (Path(base) / "spikekit").resolve()


def remove_tree(path: Path | str) -> None:
    """Delete a folder that may hold sealed (read-only) records: folders are made writable first, since a
    read-only folder's entries cannot be removed by anyone but root. Symlinks are removed, never followed."""
    import shutil
    import stat

    path = Path(path)
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
        return
    for folder, dirs, _files in os.walk(path, followlinks=False):
        try:
            mode = os.lstat(folder).st_mode
            if not stat.S_ISLNK(mode):
                os.chmod(folder, stat.S_IMODE(mode) | stat.S_IRWXU)
        except OSError:
            pass
    shutil.rmtree(path)
