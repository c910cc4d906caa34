"""Playbook and spike settings, and the parameters each chapter notebook is run with.

- ``playbook/playbook.yaml``: the chapter graph (which chapter needs which, which inputs it reads) and the
  default thresholds per chapter.
- ``playbook/spikes/<name>.yaml``: one spike's settings: time zone, input files (relative to the data
  root), keyword groups, per-chapter overrides.

Nothing in either file is ignored: an unknown key, an input no chapter reads, a chapter the playbook does not
have, a parameter the notebook does not declare, a value of the wrong shape or type is a ConfigError naming
the file, the key and the fix (with a "did you mean" where a known name is close). Chapter keys may be written
``"01"``, ``01`` or ``1``: YAML reads an unquoted ``01`` as the number 1, and all three mean chapter 01.
Parameters are checked against the notebook's own ``parameters`` cell (papermill alone only warns), so a
typo never silently falls back to a default.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from ..core.errors import ConfigError, closest, did_you_mean
from ..core.paths import check_name, data_root, playbook_dir, project_root, resolve_under

COMMON_PARAMETERS = ("spike", "as_of", "timezone", "upstream_run")
PLAYBOOK_FORMAT = "spikekit.playbook/1"
# Every key the code reads, with what it is for (said in the error when a key is unknown).
PLAYBOOK_KEYS = {
    "format": f"the file's format, {PLAYBOOK_FORMAT}",
    "sop_version": "the version of the response SOP this playbook is",
    "kernel": "the Jupyter kernel papermill uses",
    "timeout_s": "per-chapter execution timeout in seconds",
    "workers": "chapters run at once",
    "timezone": "time zone of spikes that do not name one",
    "chapters": "the list of chapters",
}
CHAPTER_KEYS = ("id", "name", "title", "notebook", "needs", "optional_needs", "inputs", "optional_inputs", "defaults")
SPIKE_KEYS = ("description", "timezone", "default_as_of", "data", "parameters", "ledger", "backorders", "columns")


def _check_keys(mapping: dict, known: Iterable[str], where: str) -> None:
    """Refuse keys the code would never read: a misspelt key must not silently leave a default in force."""
    known = list(known)
    for key in mapping:
        if not isinstance(key, str) or key not in known:
            raise ConfigError(f"{where}: unknown key {key!r}{did_you_mean(key, known)}. Known keys: "
                              f"{', '.join(known)}. Fix: correct or remove it")


def check_timezone(name: Any, where: str = "time zone") -> str:
    """An IANA time zone name, or a ConfigError with the closest known name."""
    import zoneinfo

    if isinstance(name, str) and name.strip() == name and name:
        try:
            zoneinfo.ZoneInfo(name)
            return name
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            pass
    hint = did_you_mean(name, zoneinfo.available_timezones()) if isinstance(name, str) else ""
    raise ConfigError(f"{where}: unknown time zone {name!r}{hint}. "
                      "Fix: use an IANA name such as 'Asia/Shanghai' or 'America/New_York'")


def canonical_chapter_id(raw: Any, known: Iterable[str]) -> str | None:
    """The chapter id ``raw`` means, or None: '01', 01 (YAML's number 1) and '1' all mean chapter '01'."""
    known = list(known)
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        return None
    text = str(raw).strip()
    if text in known:
        return text
    if isinstance(raw, int) or text.isdigit():
        hits = [c for c in known if c.isdigit() and int(c) == int(text)]
        if len(hits) == 1:
            return hits[0]
    return None


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
    # Needs the chapter can go without when they were skipped for missing data (it reads their results with a
    # default); a need that failed still stops it.
    optional_needs: tuple[str, ...] = ()

    @property
    def stem(self) -> str:
        return self.notebook.stem

    @property
    def reserved_parameters(self) -> tuple[str, ...]:
        """Parameters the run sets itself (from the command and the spike's data:), never from overrides."""
        return COMMON_PARAMETERS + tuple(f"{key}_file" for key in self.inputs + self.optional_inputs)


@dataclass
class Playbook:
    path: Path
    chapters: dict[str, Chapter]
    kernel: str = "spikekit"
    timeout_s: float = 600.0
    workers: int = 2
    timezone: str = "Asia/Shanghai"
    sop_version: str | None = None  # the playbook as the shop's versioned response SOP (chapter 12 checks it)

    @property
    def input_names(self) -> list[str]:
        """Every input any chapter reads (the keys a spike's data: may name)."""
        return sorted({k for c in self.chapters.values() for k in c.inputs + c.optional_inputs})

    def chapter_id(self, raw: Any, where: str = "") -> str:
        """The playbook's id for ``raw`` ('1' and 1 find '01'), or a ConfigError with the known ids."""
        cid = canonical_chapter_id(raw, self.chapters)
        if cid is None:
            prefix = f"{where}: " if where else ""
            hint = did_you_mean(raw, self.chapters)
            name = None if hint else closest(raw, [c.name for c in self.chapters.values()])
            if name:  # 'cahs' is closer to a chapter's name (cash) than to any id
                hint = f" (did you mean '{next(c.id for c in self.chapters.values() if c.name == name)}', {name}?)"
            raise ConfigError(f"{prefix}chapter {str(raw)!r} is not in {self.path}{hint}. "
                              f"Known chapters: {', '.join(f'{c.id} {c.name}' for c in self.chapters.values())}")
        return cid

    def order(self, selected: list[str] | None = None, where: str = "") -> list[str]:
        """Chapters in dependency order (stable by id); ``selected`` plus everything it needs."""
        selected = [self.chapter_id(c, where) for c in selected or []]
        wanted = set(self.chapters) if not selected else set()
        stack = list(selected)
        while stack:
            cid = stack.pop()
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
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path} is not UTF-8 text (byte {exc.start}). Fix: save it as UTF-8") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path} is not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path} must be a mapping of keys to values at the top level")
    return data


def _names(value: Any, where: str, what: str) -> tuple[str, ...]:
    """A YAML list of names (chapter inputs)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: {what} must be a list of names, e.g. [signals, sales], got {value!r}")
    return tuple(value)


def _text(value: Any, where: str, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} must be a non-empty text, got {value!r}")
    return value


def load_playbook(path: Path | None = None) -> Playbook:
    path = Path(path or playbook_dir() / "playbook.yaml")
    raw = _read_yaml(path, "playbook file")
    where = f"playbook file {path}"
    _check_keys(raw, PLAYBOOK_KEYS, where)
    if raw.get("format", PLAYBOOK_FORMAT) != PLAYBOOK_FORMAT:
        raise ConfigError(f"{where}, key 'format': {raw['format']!r} is not a format this spikekit reads. "
                          f"Fix: format: {PLAYBOOK_FORMAT}")
    entries = raw.get("chapters")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{where}, key 'chapters': must be a list of chapters (id, name, notebook, ...), "
                          f"got {entries!r}")
    chapters: dict[str, Chapter] = {}
    raw_needs: dict[str, list] = {}
    raw_optional: dict[str, list] = {}
    for position, entry in enumerate(entries, start=1):
        at = f"{where}, chapter #{position}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{at}: must be a mapping (id: ..., name: ..., notebook: ...), got {entry!r}")
        if not isinstance(entry.get("id"), str) or not entry["id"].strip():
            raise ConfigError(f"{at}, key 'id': must be a quoted text such as id: \"01\" (got {entry.get('id')!r}; "
                              "YAML reads an unquoted 01 as the number 1)")
        cid = entry["id"]
        at = f"{where}, chapter '{cid}'"
        _check_keys(entry, CHAPTER_KEYS, at)
        if cid in chapters:
            raise ConfigError(f"{at}: the id '{cid}' is used twice. Fix: give each chapter its own id")
        name = _text(entry.get("name"), f"{at}, key 'name'", required=True)
        notebook = _text(entry.get("notebook"), f"{at}, key 'notebook'", required=True)
        title = _text(entry.get("title"), f"{at}, key 'title'") or name
        needs = entry.get("needs")
        if needs is not None and not isinstance(needs, list):
            raise ConfigError(f"{at}, key 'needs': must be a list of chapter ids, e.g. [\"01\"], got {needs!r}")
        raw_needs[cid] = list(needs or [])
        optional_needs = entry.get("optional_needs")
        if optional_needs is not None and not isinstance(optional_needs, list):
            raise ConfigError(f"{at}, key 'optional_needs': must be a list of chapter ids out of its needs, e.g. "
                              f"[\"02\"], got {optional_needs!r}")
        raw_optional[cid] = list(optional_needs or [])
        defaults = entry.get("defaults")
        if defaults is not None and not isinstance(defaults, dict):
            raise ConfigError(f"{at}, key 'defaults': must map parameter names to values, got {defaults!r}")
        chapter = Chapter(
            id=cid,
            name=name,
            title=title,
            notebook=(project_root() / notebook).resolve(),
            inputs=_names(entry.get("inputs"), at, "'inputs'"),
            optional_inputs=_names(entry.get("optional_inputs"), at, "'optional_inputs'"),
            defaults=dict(defaults or {}),
        )
        reserved = sorted(set(map(str, chapter.defaults)) & set(chapter.reserved_parameters))
        if reserved:
            raise ConfigError(f"{at}, key 'defaults': {', '.join(reserved)} is set by each run (the command, the spike's "
                              "time zone and data: files), so a default would be ignored. Fix: remove it")
        chapters[cid] = chapter
    for cid, needs in raw_needs.items():
        resolved = []
        for need in needs:
            hit = canonical_chapter_id(need, chapters)
            if hit is None:
                raise ConfigError(f"{where}, chapter '{cid}', key 'needs': unknown chapter {str(need)!r}"
                                  f"{did_you_mean(need, chapters)}. Known chapters: {', '.join(chapters)}")
            resolved.append(hit)
        optional = []
        for need in raw_optional[cid]:
            hit = canonical_chapter_id(need, chapters)
            if hit is None or hit not in resolved:
                raise ConfigError(f"{where}, chapter '{cid}', key 'optional_needs': {str(need)!r} is not one of its "
                                  f"needs ({', '.join(resolved) or 'none'}). Fix: list it under needs: too, or remove it")
            optional.append(hit)
        chapters[cid] = dataclasses.replace(chapters[cid], needs=tuple(resolved), optional_needs=tuple(optional))
    timeout_s = raw.get("timeout_s", 600)
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not 0 < timeout_s < float("inf"):
        raise ConfigError(f"{where}, key 'timeout_s': must be a number of seconds above 0, got {timeout_s!r}")
    workers = raw.get("workers", 2)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"{where}, key 'workers': must be a whole number >= 1, got {workers!r}")
    kernel = _text(raw.get("kernel", "spikekit"), f"{where}, key 'kernel'", required=True)
    sop = raw.get("sop_version")
    if sop is not None and (isinstance(sop, bool) or not isinstance(sop, (str, int, float))):
        raise ConfigError(f"{where}, key 'sop_version': must be a version such as \"1.0\", got {sop!r}")
    book = Playbook(
        path=path,
        chapters=chapters,
        kernel=kernel,
        timeout_s=float(timeout_s),
        workers=workers,
        timezone=check_timezone(raw.get("timezone", "Asia/Shanghai"), f"{where}, key 'timezone'"),
        sop_version=None if sop is None else str(sop),
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
    ledger: str | None = None  # the ledger folder under the data root (None: ledger/<name>)
    backorders: bool = True  # the shop keeps taking orders (pre-sale) when stock runs out; False: sales are lost
    columns: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> {file's own header: table column}

    def input_path(self, key: str) -> Path:
        if key not in self.data:
            raise ConfigError(f"spike '{self.name}' ({self.path}) names no '{key}' file under data:. Fix: add `{key}: <path under data/>`")
        return resolve_under(data_root(), self.data[key], what=f"'{key}' file of spike '{self.name}'")


def list_spikes() -> list[str]:
    folder = playbook_dir() / "spikes"
    return sorted(p.stem for p in folder.glob("*.yaml"))


def load_spike(name: str, book: Playbook | None = None) -> Spike:
    """Read and check ``playbook/spikes/<name>.yaml`` against the playbook (default: the project's)."""
    folder = playbook_dir() / "spikes"
    check_name(name, root=folder)
    path = folder / f"{name}.yaml"
    if not path.exists():
        spikes = list_spikes()
        known = ", ".join(spikes) or "none"
        raise ConfigError(f"unknown spike '{name}'{did_you_mean(name, spikes)}: there is no {path}. Known spikes: {known}. "
                          f"Fix: add playbook/spikes/{name}.yaml")
    # A spike file that is a symlink must still lie in the spikes folder once resolved: settings (and the data
    # paths they name) come from the playbook, never from a file elsewhere on the machine.
    path = resolve_under(folder, f"{name}.yaml", what=f"spike file of '{name}'")
    raw = _read_yaml(path, "spike file")
    where = f"spike file {path}"
    _check_keys(raw, SPIKE_KEYS, where)
    book = book or load_playbook()
    timezone = check_timezone(raw.get("timezone", book.timezone), f"{where}, key 'timezone'")

    data = raw.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}, key 'data': must map input names to files under the data folder "
                          f"(e.g. signals: my-spike/signals.csv), got a {type(data).__name__}")
    known_inputs = book.input_names
    for key, value in data.items():
        if key not in known_inputs:
            raise ConfigError(f"{where}, key 'data': unknown input {key!r}{did_you_mean(key, known_inputs)}: no chapter "
                              f"of {book.path} reads it. Inputs the chapters read: {', '.join(known_inputs)}. "
                              "Fix: correct or remove it")
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}, key 'data', input '{key}': must be a file path under the data folder "
                              f"(e.g. {key}: my-spike/{key}.csv), got {value!r}")

    params = raw.get("parameters")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ConfigError(f"{where}, key 'parameters': must map chapter ids to parameter mappings "
                          f"(e.g. \"01\": {{min_score: 2.0}}), got a {type(params).__name__}")
    overrides: dict[str, dict] = {}
    spelled: dict[str, Any] = {}
    for raw_cid, values in params.items():
        cid = book.chapter_id(raw_cid, f"{where}, key 'parameters'")
        if cid in overrides:
            raise ConfigError(f"{where}, key 'parameters': chapter '{cid}' is given twice (as {spelled[cid]!r} and "
                              f"{raw_cid!r}; unquoted 01 and \"01\" are the same chapter). Fix: merge them into one")
        at = f"{where}, key 'parameters', chapter '{cid}'"
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise ConfigError(f"{at}: must map parameter names to values (e.g. {{min_score: 2.0}}), got {values!r}")
        chapter = book.chapters[cid]
        for pname in values:
            if not isinstance(pname, str):
                raise ConfigError(f"{at}: parameter name {pname!r} must be a text")
            if pname in chapter.reserved_parameters:
                how = ("name the file under data:" if pname.endswith("_file") and pname not in COMMON_PARAMETERS
                       else "use --as-of / the spike's timezone: key; the run sets it")
                raise ConfigError(f"{at}: '{pname}' is set by each run, so an override would be ignored. Fix: {how}")
        check_parameters(chapter.notebook, values, where=at)
        overrides[cid] = dict(values)
        spelled[cid] = raw_cid

    default_as_of = raw.get("default_as_of")
    if default_as_of is not None:
        from ..core.record import parse_as_of

        try:
            parse_as_of(default_as_of, timezone)
        except ConfigError as exc:
            raise ConfigError(f"{where}, key 'default_as_of': {exc}") from None
        default_as_of = str(default_as_of)
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        raise ConfigError(f"{where}, key 'description': must be a text, got {description!r}")
    ledger = raw.get("ledger")
    if ledger is not None:
        if not isinstance(ledger, str) or not ledger.strip():
            raise ConfigError(f"{where}, key 'ledger': must be a folder under the data folder (e.g. ledger/{name}), "
                              f"got {ledger!r}")
        resolve_under(data_root(), ledger, what=f"ledger folder of spike '{name}'")
    backorders = raw.get("backorders", True)
    if not isinstance(backorders, bool):
        raise ConfigError(f"{where}, key 'backorders': must be true (the shop keeps taking orders when sold out) or "
                          f"false (sales beyond stock are lost), got {backorders!r}")
    columns = _column_maps(raw.get("columns"), where)
    return Spike(
        name=name,
        path=path,
        columns=columns,
        timezone=timezone,
        data={str(k): str(v) for k, v in data.items()},
        parameters=overrides,
        default_as_of=default_as_of,
        description=description or "",
        ledger=ledger,
        backorders=backorders,
    )


def _column_maps(raw: Any, where: str) -> dict[str, dict[str, str]]:
    """The spike's ``columns:``: per table, the file's own headers -> the table's columns (the loaders apply it)."""
    from .contracts import CONTRACTS, check_column_map

    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}, key 'columns': must map table names to header mappings "
                          f"(e.g. orders: {{下单时间: timestamp}}), got {raw!r}")
    out = {}
    for table, mapping in raw.items():
        if table not in CONTRACTS:
            raise ConfigError(f"{where}, key 'columns': unknown table {table!r}{did_you_mean(table, CONTRACTS)}. "
                              f"Tables: {', '.join(sorted(CONTRACTS))}. Fix: correct or remove it")
        out[table] = check_column_map(mapping, CONTRACTS[table], f"{where}, key 'columns', table '{table}'")
    return out


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


def check_parameters(notebook: Path, params: dict, where: str | None = None) -> dict:
    """Reject unknown or ill-typed parameters (by the type of the notebook's default). Returns ``params``.

    ``where``: the file and key the values come from (a spike file, the playbook), said first in the error.
    """
    declared = notebook_parameters(notebook)
    prefix = f"{where}: " if where else ""
    unknown = sorted(set(params) - set(declared))
    if unknown:
        hints = [f"'{name}'{did_you_mean(name, declared)}" for name in unknown]
        raise ConfigError(
            f"{prefix}unknown parameter(s) {', '.join(hints)} for {Path(notebook).name}. "
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
                f"{prefix}parameter '{name}' of {Path(notebook).name} must be {kind.__name__} "
                f"(its default is {default!r}), got {type(value).__name__} {value!r}"
            )
    return params


def chapter_parameters(book: Playbook, spike: Spike, chapter_id: str, *, as_of: str, upstream_run: str,
                       missing_ok: bool = False) -> dict:
    """The exact parameters one chapter runs with: defaults < spike overrides < run context.

    ``missing_ok``: a required input the spike lacks is passed as "" instead of refused (the runner records such a
    chapter as skipped and never runs it; its parameters are still recorded)."""
    chapter = book.chapters[chapter_id]
    check_parameters(chapter.notebook, chapter.defaults, where=f"playbook file {book.path}, chapter '{chapter_id}', key 'defaults'")
    overrides = spike.parameters.get(chapter_id, {})
    check_parameters(chapter.notebook, overrides, where=f"spike file {spike.path}, key 'parameters', chapter '{chapter_id}'")
    params: dict[str, Any] = copy.deepcopy(chapter.defaults)
    params.update(copy.deepcopy(overrides))
    for key in chapter.inputs + chapter.optional_inputs:
        if key in spike.data:
            spike.input_path(key)  # refuses paths outside the data root before anything runs
            params[f"{key}_file"] = spike.data[key]
        elif key in chapter.optional_inputs or missing_ok:
            params[f"{key}_file"] = ""  # absent: the chapter goes without it (never the notebook's sample file)
        elif key in chapter.inputs:
            raise ConfigError(
                f"chapter {chapter_id} reads '{key}' but spike '{spike.name}' ({spike.path}) names no '{key}' file. "
                f"Fix: add `{key}: <path under data/>` under data:"
            )
    params.update(spike=spike.name, as_of=as_of, timezone=spike.timezone, upstream_run=upstream_run)
    check_parameters(chapter.notebook, params)
    try:
        json.dumps(params)  # must be JSON-safe to be recorded
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"spike file {spike.path} or playbook file {book.path}: a parameter of chapter "
                          f"'{chapter_id}' cannot be recorded as JSON ({exc}). Fix: use numbers, texts, lists "
                          "and mappings; quote dates and times") from None
    return params
