"""The package's rooms and the one direction of imports between them (issue 17).

Rooms: ``core`` (what every notebook and chapter uses), ``inputs`` (contracts, loaders, importers, the spike's
files and state), ``chapters`` (one module per chapter), ``engine`` (runs notebooks), ``views`` (record site, data
room, summaries), ``samples`` (the scenario generator) and ``cli`` on top. Allowed:

    cli -> all but chapters;  views, engine -> views, engine, inputs, core;  chapters -> inputs, core;
    samples -> samples, inputs, core;  inputs -> inputs, core;  core -> core.

Nothing but notebooks imports a chapter. Every import is checked, module-level and inside functions. A module still
in the flat package (``spikekit/<name>.py``) counts in the room ``FLAT_ROOMS`` gives it; one inside a room folder
(``spikekit/core/...``) counts in that room.
"""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import spikekit

PACKAGE = Path(spikekit.__file__).resolve().parent
ROOMS = ("core", "inputs", "chapters", "engine", "views", "samples")

# The room of each module while it is still flat (scripts outside the repository move them into the folders).
FLAT_ROOMS = {
    # core: used by every notebook and chapter
    "errors": "core", "paths": "core", "_common": "core", "stats": "core", "plots": "core", "tables": "core",
    "show": "core", "record": "core", "decisions": "core", "lifecycle_fit": "core", "patterns": "core",
    "supply": "core", "validation_model": "core", "sentiment": "core",
    # inputs: the input tables and the spike's own files
    "contracts": "inputs", "importers": "inputs", "settings": "inputs", "state": "inputs", "check": "inputs",
    "newspike": "inputs",
    # chapters, one module each
    "signals": "chapters", "validation": "chapters", "suppliers": "chapters", "inventory": "chapters",
    "logistics": "chapters", "lifecycle": "chapters", "funnel": "chapters", "content": "chapters",
    "cash": "chapters", "team": "chapters", "aftersales": "chapters", "retro": "chapters",
    # engine: runs notebooks
    "runner": "engine", "kernel": "engine", "replay": "engine", "distributed": "engine", "closedloop": "engine",
    "fixtures": "engine", "seal": "engine", "reuse": "engine", "scanstream": "chapters",
    # views
    "site": "views", "dataroom": "views", "recordview": "views", "summary": "views",
    "cli": "cli",
}

ALLOWED = {
    "core": {"core"},
    "inputs": {"core", "inputs"},
    "chapters": {"core", "inputs"},
    "samples": {"core", "inputs", "samples"},
    "engine": {"core", "inputs", "engine", "views"},
    "views": {"core", "inputs", "engine", "views"},
    "cli": {"core", "inputs", "engine", "views", "samples", "cli"},
}

# Imports that break the direction today, each with why it is still there. An entry that no longer matches an
# import fails the test, so the list only shrinks.
KNOWN_EXCEPTIONS = {
    ("record", "settings"): "sk.begin checks the spike's time zone and reads its settings",
    ("record", "check"): "sk.record adds the runner's stale-input notes (results/stale.json) to a headline",
    ("record", "state"): "sk.spike_state() derives the state for a notebook stepped through on its own",
    ("sentiment", "contracts"): "`spike sentiment FILE` reads the file through the contracts' reader",
    ("cli", "signals"): "`spike scan` runs chapter 01's detector over many series (its settings and report)",
    ("cli", "scanstream"): "`spike scan` streams a whole signals file through chapter 01's detector",
    ("scanstream", "signals"): "one chapter (01) in two modules: the detector, and its front that streams a file",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _room(module: str) -> str | None:
    """The room of ``spikekit.x.y`` (None: the package front, which only maps names lazily)."""
    parts = module.split(".")[1:]
    if not parts:
        return None
    if parts[0] in ROOMS:
        return parts[0]
    if parts[0] == "cli":
        return "cli"
    if parts[0] in FLAT_ROOMS:
        return FLAT_ROOMS[parts[0]]
    raise AssertionError(f"spikekit.{parts[0]} has no room: move it into one of {', '.join(ROOMS)} "
                         f"(or add it to FLAT_ROOMS in {Path(__file__).name})")


# Old flat name -> place in its room, once the modules have moved (spikekit/__init__.py keeps the old names working).
MOVED = dict(getattr(spikekit, "_MOVED", {}))


def _short(module: str) -> str:
    """The key KNOWN_EXCEPTIONS uses: the module's old flat name (spikekit.core.record and spikekit.record -> record;
    spikekit.inputs.contracts.reading -> contracts)."""
    for old, new in MOVED.items():
        if module == f"spikekit.{new}" or module.startswith(f"spikekit.{new}."):
            return old
    parts = module.split(".")[1:]
    return parts[1] if parts[0] in ROOMS and len(parts) > 1 else parts[0]


def _is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:]) if "." in name else Path()
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def _imports(code: str, module: str, is_package: bool, is_module=_is_module) -> list[tuple[int, str]]:
    """(line, absolute module) for every import of a spikekit module in ``code`` (the source of ``module``), at any
    depth: module level, inside functions, relative or absolute."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "spikekit"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "spikekit":
                continue
            # `from . import x` imports the module x when there is one, else a name of the package.
            subs = [f"{target}.{a.name}" for a in node.names if is_module(f"{target}.{a.name}")]
            found += [(node.lineno, s) for s in subs] or [(node.lineno, target)]
    return sorted(found)


def _edges():
    for path in sorted(PACKAGE.rglob("*.py")):
        if "templates" in path.parts or path.name == "__main__.py":
            continue
        module = _module_name(path)
        for line, target in _imports(path.read_text(encoding="utf-8"), module, path.name == "__init__.py"):
            yield path, line, module, target


def test_every_module_has_a_room():
    for path in sorted(PACKAGE.rglob("*.py")):
        if "templates" not in path.parts:
            _room(_module_name(path))


def test_imports_go_one_direction_only():
    broken, excused = [], set()
    for path, line, module, target in _edges():
        source, dest = _room(module), _room(target)
        if source is None or dest is None or dest in ALLOWED[source]:
            continue
        key = (_short(module), _short(target))
        if key in KNOWN_EXCEPTIONS:
            excused.add(key)
            continue
        broken.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {source} module {module} imports {dest} "
                      f"module {target}")
    assert not broken, "imports against the direction (" + "; ".join(
        f"{s} -> {', '.join(sorted(d))}" for s, d in ALLOWED.items()) + "):\n" + "\n".join(broken)
    stale = sorted(set(KNOWN_EXCEPTIONS) - excused)
    assert not stale, f"KNOWN_EXCEPTIONS no longer needed (remove them): {stale}"


def test_the_checker_sees_function_level_and_relative_imports():
    """Imports inside functions, relative ones at any depth and `from . import module` are all seen (else the test
    above could pass on code that breaks the direction)."""
    code = ("from ..core import record\n"
            "def f():\n"
            "    from ..chapters.team import brief\n"
            "    if True:\n"
            "        from . import retro, helper_name\n"
            "import spikekit.engine.runner as r\n"
            "from pandas import DataFrame\n")
    modules = {"spikekit.chapters.retro"}
    found = _imports(code, "spikekit.chapters.lifecycle", False, is_module=modules.__contains__)
    assert found == [(1, "spikekit.core"), (3, "spikekit.chapters.team"), (5, "spikekit.chapters.retro"),
                     (6, "spikekit.engine.runner")]
    assert [_room(t) for _, t in found] == ["core", "chapters", "chapters", "engine"]


@pytest.mark.parametrize("old", sorted(n for n in FLAT_ROOMS if n != "cli"))
def test_old_flat_names_still_import(old):
    module = importlib.import_module(f"spikekit.{old}")
    if old in MOVED:
        assert module is importlib.import_module(f"spikekit.{MOVED[old]}"), f"spikekit.{old} is another module object"
        assert FLAT_ROOMS[old] == MOVED[old].split(".")[0], f"{old}: FLAT_ROOMS and spikekit._MOVED disagree"
    if old == "record":  # sk.record is the notebook API's function, as it always was
        assert spikekit.record is module.record
    else:
        assert getattr(spikekit, old) is module, f"sk.{old} is not the module spikekit.{old}"


def test_the_contracts_are_one_module_under_both_names():
    import spikekit.contracts as flat
    import spikekit.inputs.contracts as room

    assert flat is room
    from spikekit.contracts import load_orders

    assert load_orders is room.aftersales.load_orders


def test_python_dash_m_under_an_old_name_runs_with_a_path_in_argv0():
    """Kernel specs registered before the move say `python -m spikekit.kernel launch ...`; ipykernel's argument
    parser takes its program name from sys.argv[0], which runpy fills from the module's origin (it was None, and
    every kernel started from an old spec died)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "spikekit.kernel", "launch", "--help"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "TypeError" not in done.stderr and "IPython" in done.stdout
