"""Playbook and spike settings, and the parameters each chapter notebook is run with.

- ``playbook/playbook.yaml``: the chapter graph (which chapter needs which, which inputs it reads) and the
  default thresholds per chapter.
- ``playbook/spikes/<name>.yaml``: one spike's settings: time zone, input files (relative to the data
  root), keyword groups, per-chapter overrides.

Parameters are checked against the notebook's own ``parameters`` cell: an unknown name or a value of the
wrong type is an error (papermill alone only warns), so a typo never silently falls back to a default.
"""
from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .paths import check_name, data_root, playbook_dir, project_root, resolve_under

COMMON_PARAMETERS = ("spike", "as_of", "timezone", "upstream_run")


@dataclass(frozen=True)
class Chapter:
    id: str
    name: str
    title: str
    notebook: Path
    needs: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    optional_inputs: tuple[str, ...] = ()
    defaults: dict = field(default_factory=dict)

    @property
    def stem(self) -> str:
        return self.notebook.stem


@dataclass
class Playbook:
    path: Path
    chapters: dict[str, Chapter]
    kernel: str = "spikekit"
    timeout_s: float = 600.0
    workers: int = 2
    timezone: str = "Asia/Shanghai"
    sop_version: str | None = None  # the playbook as the shop's versioned response SOP (chapter 12 checks it)

    def order(self, selected: list[str] | None = None) -> list[str]:
        """Chapters in dependency order (stable by id); ``selected`` plus everything it needs."""
        wanted = set(self.chapters) if not selected else set()
        stack = list(selected or [])
        while stack:
            cid = stack.pop()
            if cid not in self.chapters:
                raise ConfigError(f"chapter {cid!r} is not in {self.path}. Known chapters: {', '.join(self.chapters)}")
            if cid not in wanted:
                wanted.add(cid)
                stack.extend(self.chapters[cid].needs)
        done: list[str] = []
        remaining = sorted(wanted)
        while remaining:
            ready = [c for c in remaining if all(n in done for n in self.chapters[c].needs)]
            if not ready:
                raise ConfigError(f"the chapter graph in {self.path} has a cycle among {remaining}")
            done.append(ready[0])
            remaining.remove(ready[0])
        return done


def _read_yaml(path: Path, what: str) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path} must be a mapping at the top level")
    return data


def load_playbook(path: Path | None = None) -> Playbook:
    path = Path(path or playbook_dir() / "playbook.yaml")
    raw = _read_yaml(path, "playbook file")
    chapters: dict[str, Chapter] = {}
    for entry in raw.get("chapters", []):
        cid = str(entry["id"])
        chapters[cid] = Chapter(
            id=cid,
            name=entry["name"],
            title=entry.get("title", entry["name"]),
            notebook=(project_root() / entry["notebook"]).resolve(),
            needs=tuple(str(n) for n in entry.get("needs", [])),
            inputs=tuple(entry.get("inputs", [])),
            optional_inputs=tuple(entry.get("optional_inputs", [])),
            defaults=dict(entry.get("defaults") or {}),
        )
    for chapter in chapters.values():
        unknown = [n for n in chapter.needs if n not in chapters]
        if unknown:
            raise ConfigError(f"chapter {chapter.id} in {path} needs unknown chapter(s) {unknown}")
    book = Playbook(
        path=path,
        chapters=chapters,
        kernel=raw.get("kernel", "spikekit"),
        timeout_s=float(raw.get("timeout_s", 600)),
        workers=int(raw.get("workers", 2)),
        timezone=raw.get("timezone", "Asia/Shanghai"),
        sop_version=None if raw.get("sop_version") is None else str(raw["sop_version"]),
    )
    book.order()  # rejects cycles early
    return book


@dataclass
class Spike:
    name: str
    path: Path
    timezone: str
    data: dict[str, str]
    parameters: dict[str, dict]
    default_as_of: str | None = None
    description: str = ""

    def input_path(self, key: str) -> Path:
        if key not in self.data:
            raise ConfigError(f"spike '{self.name}' ({self.path}) names no '{key}' file under data:. Fix: add `{key}: <path under data/>`")
        return resolve_under(data_root(), self.data[key], what=f"'{key}' file of spike '{self.name}'")


def list_spikes() -> list[str]:
    folder = playbook_dir() / "spikes"
    return sorted(p.stem for p in folder.glob("*.yaml"))


def load_spike(name: str) -> Spike:
    folder = playbook_dir() / "spikes"
    check_name(name, root=folder)
    path = folder / f"{name}.yaml"
    if not path.exists():
        import difflib

        spikes = list_spikes()
        close = difflib.get_close_matches(name, spikes, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        known = ", ".join(spikes) or "none"
        raise ConfigError(f"unknown spike '{name}'{hint}: there is no {path}. Known spikes: {known}. "
                          f"Fix: add playbook/spikes/{name}.yaml")
    # A spike file that is a symlink must still lie in the spikes folder once resolved: settings (and the data
    # paths they name) come from the playbook, never from a file elsewhere on the machine.
    path = resolve_under(folder, f"{name}.yaml", what=f"spike file of '{name}'")
    raw = _read_yaml(path, "spike file")
    params = raw.get("parameters") or {}
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: 'parameters' must map chapter ids to parameter mappings")
    return Spike(
        name=name,
        path=path,
        timezone=raw.get("timezone", "Asia/Shanghai"),
        data={str(k): str(v) for k, v in (raw.get("data") or {}).items()},
        parameters={str(k): dict(v or {}) for k, v in params.items()},
        default_as_of=raw.get("default_as_of"),
        description=raw.get("description", ""),
    )


@functools.lru_cache(maxsize=64)
def _notebook_parameters_cached(path: str, mtime: float) -> dict:
    """Parse the parameters cell with ``ast`` (the runner must not pay papermill's import just to check)."""
    import ast

    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    tagged = [c for c in nb.get("cells", []) if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not tagged:
        return {}
    source = "".join(tagged[0]["source"]) if isinstance(tagged[0]["source"], list) else tagged[0]["source"]
    lines = source.splitlines()
    out = {}
    for node in ast.parse(source).body:
        if not isinstance(node, (ast.Assign, ast.AnnAssign)):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        try:
            default = ast.literal_eval(node.value) if node.value is not None else None
        except ValueError:
            raise ConfigError(f"notebook {path}: parameter on line {node.lineno} must have a literal default "
                              "(derived values go in the cell after the parameters cell)") from None
        comment = lines[node.end_lineno - 1].split("#", 1)[1].strip() if "#" in lines[node.end_lineno - 1] else ""
        for target in targets:
            if isinstance(target, ast.Name):
                out[target.id] = {"default": default, "type": type(default).__name__, "help": comment}
    return out


def notebook_parameters(notebook: Path) -> dict:
    """Parameters declared in the notebook's ``parameters`` cell: name -> {default, type, help}."""
    notebook = Path(notebook)
    if not notebook.exists():
        raise ConfigError(f"notebook {notebook} does not exist")
    declared = _notebook_parameters_cached(str(notebook), notebook.stat().st_mtime)
    if not declared:
        raise ConfigError(f"notebook {notebook} has no cell tagged 'parameters'")
    return declared


_TYPE_OK = {
    bool: (bool,),
    int: (int,),
    float: (int, float),
    str: (str,),
    list: (list, tuple),
    dict: (dict,),
}


def check_parameters(notebook: Path, params: dict) -> dict:
    """Reject unknown or ill-typed parameters (by the type of the notebook's default). Returns ``params``."""
    declared = notebook_parameters(notebook)
    unknown = sorted(set(params) - set(declared))
    if unknown:
        import difflib

        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, declared, n=1)
            hints.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        raise ConfigError(
            f"unknown parameter(s) {', '.join(hints)} for {Path(notebook).name}. "
            f"Its parameters are: {', '.join(declared)}"
        )
    for name, value in params.items():
        default = declared[name]["default"]
        if default is None or value is None:
            continue
        kind = type(default)
        allowed = _TYPE_OK.get(kind)
        if allowed is None:
            continue
        if isinstance(value, bool) and kind is not bool:
            ok = False
        else:
            ok = isinstance(value, allowed)
        if not ok:
            raise ConfigError(
                f"parameter '{name}' of {Path(notebook).name} must be {kind.__name__} "
                f"(its default is {default!r}), got {type(value).__name__} {value!r}"
            )
    return params


def chapter_parameters(book: Playbook, spike: Spike, chapter_id: str, *, as_of: str, upstream_run: str) -> dict:
    """The exact parameters one chapter runs with: defaults < spike overrides < run context."""
    chapter = book.chapters[chapter_id]
    params: dict[str, Any] = copy.deepcopy(chapter.defaults)
    params.update(copy.deepcopy(spike.parameters.get(chapter_id, {})))
    for key in chapter.inputs + chapter.optional_inputs:
        if key in spike.data:
            spike.input_path(key)  # refuses paths outside the data root before anything runs
            params[f"{key}_file"] = spike.data[key]
        elif key in chapter.optional_inputs:
            params[f"{key}_file"] = ""  # absent: the chapter goes without it (never the notebook's sample file)
        elif key in chapter.inputs:
            raise ConfigError(
                f"chapter {chapter_id} reads '{key}' but spike '{spike.name}' ({spike.path}) names no '{key}' file. "
                f"Fix: add `{key}: <path under data/>` under data:"
            )
    params.update(spike=spike.name, as_of=as_of, timezone=spike.timezone, upstream_run=upstream_run)
    check_parameters(chapter.notebook, params)
    json.dumps(params)  # must be JSON-safe to be recorded
    return params
