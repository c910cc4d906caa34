"""Sealing a finished record, and checking later that it is still what was sealed.

A run folder (and a replay folder) is sealed once, when it is complete:

- ``seal.json`` is written last. It lists every other file of the folder (``run.json`` included) with its
  size and sha256, and every sub-folder, so a file or folder that goes missing, changes or appears later is
  found by ``verify`` (``spike verify RUN``).
- Files become read-only (0444) and folders too (0555), so ``run.json`` cannot be replaced or deleted by
  accident. The top folder is locked only after the run was renamed into place: moving a folder to another
  parent needs write permission on the folder itself (its ``..`` entry changes).

The modes keep honest mistakes out; root ignores them, which is why ``verify`` trusts the checksums, never
the modes. Someone who rewrites ``seal.json`` together with the files is not detected: the seal is a record of
what the run wrote, not a signature.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import SpikeError

SEAL_FILE = "seal.json"
SEAL_FORMAT = "spikekit.engine.seal/1"
FILE_MODE = 0o444
FOLDER_MODE = 0o555


def sha256_file(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _entries(folder: Path) -> tuple[dict[str, Path], list[str], list[str]]:
    """Files (relative path -> path), sub-folders and symlinks under ``folder``; symlinks are never followed."""
    files: dict[str, Path] = {}
    folders: list[str] = []
    links: list[str] = []
    for here, dirs, names in os.walk(folder, followlinks=False):
        base = Path(here)
        for name in list(dirs):
            path = base / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                links.append(rel)
                dirs.remove(name)
            else:
                folders.append(rel)
        for name in names:
            path = base / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink() or not path.is_file():
                links.append(rel)  # a symlink, fifo or socket: nothing a run writes
            else:
                files[rel] = path
    return files, sorted(folders), sorted(links)


def write_seal(folder: Path) -> dict:
    """Write ``seal.json`` listing every other file (size, sha256) and sub-folder of ``folder``; returns it."""
    folder = Path(folder)
    files, folders, links = _entries(folder)
    if links:
        raise SpikeError(f"cannot seal {folder}: {', '.join(links)} is not a regular file (a symlink?); "
                         "a record holds plain files only. Fix: remove it and run again")
    files.pop(SEAL_FILE, None)
    seal = {
        "format": SEAL_FORMAT,
        "sealed": dt.datetime.now(dt.timezone.utc).isoformat(),
        "files": [{"path": rel, "bytes": path.stat().st_size, "sha256": sha256_file(path)}
                  for rel, path in sorted(files.items())],
        "folders": folders,
    }
    tmp = folder / (SEAL_FILE + ".tmp")
    tmp.write_text(json.dumps(seal, indent=1), encoding="utf-8")
    os.replace(tmp, folder / SEAL_FILE)
    return seal


def seal(folder: Path, *, lock_top: bool = False) -> dict:
    """Seal a finished folder: ``seal.json`` last, then files 0444 and sub-folders 0555 (the folder itself
    too when ``lock_top``; leave it writable while it still has to be renamed into place)."""
    folder = Path(folder)
    manifest = write_seal(folder)
    for rel in [e["path"] for e in manifest["files"]] + [SEAL_FILE]:
        (folder / rel).chmod(FILE_MODE)
    for rel in sorted(manifest["folders"], key=lambda r: r.count("/"), reverse=True):
        (folder / rel).chmod(FOLDER_MODE)
    if lock_top:
        folder.chmod(FOLDER_MODE)
    return manifest


def lock(folder: Path) -> None:
    """Make a sealed folder itself read-only (after its final rename)."""
    Path(folder).chmod(FOLDER_MODE)


@dataclass
class Verification:
    folder: Path
    files: int = 0                                    # files the seal lists
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # "path: what differs"
    extra: list[str] = field(default_factory=list)
    problem: str | None = None                         # no seal, or a seal that cannot be read

    @property
    def intact(self) -> bool:
        return self.problem is None and not (self.missing or self.changed or self.extra)

    def lines(self) -> list[str]:
        out = [f"missing: {p}" for p in self.missing] + [f"changed: {p}" for p in self.changed]
        out += [f"extra:   {p}" for p in self.extra]
        if self.problem:
            out.append(f"not verifiable: {self.problem}")
        return out


def verify(folder: Path) -> Verification:
    """Re-hash a sealed folder against its ``seal.json``: missing, changed and extra files and folders."""
    folder = Path(folder)
    report = Verification(folder)
    seal_path = folder / SEAL_FILE
    if not seal_path.is_file() or seal_path.is_symlink():
        report.problem = (f"{seal_path} is missing: the folder was never sealed (a partial run, or a record from "
                          "before spikekit wrote seals) or its seal was deleted")
        return report
    try:
        seal_data = json.loads(seal_path.read_text(encoding="utf-8"))
        listed = {str(e["path"]): e for e in seal_data["files"]}
        listed_folders = {str(f) for f in seal_data.get("folders", [])}
        for entry in listed.values():
            int(entry["bytes"]), str(entry["sha256"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        report.problem = f"{seal_path} cannot be read as a seal ({type(exc).__name__}: {exc})"
        return report
    report.files = len(listed)
    files, folders, links = _entries(folder)
    files.pop(SEAL_FILE, None)
    for rel in sorted(listed):
        entry = listed[rel]
        path = files.get(rel)
        if path is None:
            (report.changed if rel in links else report.missing).append(
                f"{rel} (now a symlink or special file)" if rel in links else rel)
            continue
        size = path.stat().st_size
        if size != int(entry["bytes"]):
            report.changed.append(f"{rel} (size {entry['bytes']} -> {size} bytes)")
        elif sha256_file(path) != entry["sha256"]:
            report.changed.append(f"{rel} (same size, different sha256)")
    report.extra += sorted(rel for rel in files if rel not in listed)
    report.extra += sorted(rel for rel in links if rel not in listed)
    report.missing += sorted(f"{rel}/" for rel in listed_folders if rel not in folders)
    report.extra += sorted(f"{rel}/" for rel in folders if rel not in listed_folders)
    return report
