"""spikekit: the helper library behind Spike Playbook's chapter notebooks (``import spikekit as sk``).

The spine is imported eagerly and is light: ``sk.begin``, ``sk.record``, ``sk.upstream``. Chapter modules
(``sk.signals``, ``sk.validation`` ...), loaders and plots are imported on first use, so the ``spike``
command starts fast.
"""
from __future__ import annotations

import importlib
import os

# Large arrays (a 21.6 M-row signals scan) stall for up to a second while the kernel assembles transparent huge
# pages; without numpy's huge-page hint the same load is steady (measured 1.4-3.1 s -> 1.5-1.8 s for
# `spike scan` on 10,000 series; benchmarks/bench_scan.py). numpy reads this once, when first imported.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

__version__ = "0.1.0"

# --- rooms: old flat module names (written by rooms.py; keep the table in step with it) ---
import importlib.abc as _abc  # noqa: E402
import importlib.util as _util  # noqa: E402
import sys as _sys  # noqa: E402

# The modules lived flat in spikekit/ until they moved into rooms; the old names stay importable and are the SAME
# module objects (a test that patches the module under its old name patches the moved one), `python -m spikekit.<old>`
# still runs, and sk.<old> attributes keep working.
_MOVED = {
    'errors': 'core.errors',
    'paths': 'core.paths',
    '_common': 'core._common',
    'record': 'core.record',
    'plots': 'core.plots',
    'tables': 'core.tables',
    'show': 'core.show',
    'stats': 'core.stats',
    'decisions': 'core.decisions',
    'lifecycle_fit': 'core.lifecycle_fit',
    'validation_model': 'core.validation_model',
    'patterns': 'core.patterns',
    'supply': 'core.supply',
    'sentiment': 'core.sentiment',
    'contracts': 'inputs.contracts',
    'importers': 'inputs.importers',
    'settings': 'inputs.settings',
    'state': 'inputs.state',
    'check': 'inputs.check',
    'newspike': 'inputs.newspike',
    'signals': 'chapters.early_warning',
    'validation': 'chapters.validation',
    'suppliers': 'chapters.supplier_launch',
    'inventory': 'chapters.inventory',
    'logistics': 'chapters.logistics',
    'lifecycle': 'chapters.exit',
    'funnel': 'chapters.data_room',
    'content': 'chapters.content',
    'cash': 'chapters.cash',
    'team': 'chapters.team',
    'aftersales': 'chapters.aftersales',
    'retro': 'chapters.retrospective',
    'runner': 'engine.runner',
    'kernel': 'engine.kernel',
    'replay': 'engine.replay',
    'distributed': 'engine.distributed',
    'closedloop': 'engine.closedloop',
    'fixtures': 'engine.fixtures',
    'seal': 'engine.seal',
    'reuse': 'engine.reuse',
    'scanstream': 'chapters.early_warning_scan',
    'site': 'views.site',
    'dataroom': 'views.dataroom',
    'recordview': 'views.recordview',
    'summary': 'views.summary',
}


class _MovedModules(_abc.MetaPathFinder, _abc.Loader):
    """Resolves spikekit.<old>[.sub] to the module at its new place."""

    def __init__(self):
        self._specs = {}

    def _target(self, fullname: str) -> str | None:
        parts = fullname.split(".")
        if len(parts) > 1 and parts[0] == __name__ and parts[1] in _MOVED:
            return ".".join([__name__, _MOVED[parts[1]], *parts[2:]])
        return None

    def find_spec(self, fullname, path=None, target=None):
        new = self._target(fullname)
        if new is None:
            return None
        real = _util.find_spec(new)
        if real is None:
            return None
        # origin: `python -m spikekit.<old>` puts it in sys.argv[0] (argparse in the kernel needs a path there)
        spec = _util.spec_from_loader(fullname, self, origin=real.origin,
                                      is_package=real.submodule_search_locations is not None)
        spec.has_location = real.has_location
        return spec

    def create_module(self, spec):
        module = importlib.import_module(self._target(spec.name))
        self._specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module):
        # the import system stamped the alias' spec on the real module: give it back its own
        module.__spec__ = self._specs.pop(module.__spec__.name, module.__spec__)

    def get_filename(self, fullname):
        return _util.find_spec(self._target(fullname)).origin

    def get_code(self, fullname):  # python -m spikekit.<old> (modules run that way import absolutely)
        return _util.find_spec(self._target(fullname)).loader.get_code(self._target(fullname))


if not any(isinstance(f, _MovedModules) for f in _sys.meta_path):
    _sys.meta_path.insert(0, _MovedModules())
# --- end of rooms ---

from .core.errors import ConfigError, InputError, SpikeError  # noqa: E402
from .core.record import begin, current, record, spike_state, upstream  # noqa: E402

_SUBMODULES = {
    "chapters", "core", "engine", "inputs", "views",
    "contracts", "signals", "validation", "stats", "samples", "plots", "settings", "runner", "paths",
    "record", "errors", "kernel", "cli", "show", "suppliers", "inventory", "logistics", "summary", "fixtures", "replay", "lifecycle", "funnel", "team", "content", "cash", "_common",
    "aftersales", "sentiment", "retro", "site", "dataroom", "distributed", "tables", "recordview",
}
_LAZY = {
    "load_signals": "contracts",
    "load_suppliers": "contracts",
    "load_sales": "contracts",
    "load_posts": "contracts",
    "load_traffic": "contracts",
    "load_funnel": "contracts",
    "load_audience": "contracts",
    "load_budget": "contracts",
    "load_stock": "contracts",
    "load_warehouses": "contracts",
    "load_lanes": "contracts",
    "load_regional_demand": "contracts",
    "load_urgent_orders": "contracts",
    "load_validation": "contracts",
    "load_table": "contracts",
    "read_raw": "contracts",
    "use_theme": "plots",
    "say": "show",
    "decision_box": "show",
    "table": "tables",
}


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'spikekit' has no attribute {name!r}")


__all__ = ["__version__", "begin", "current", "record", "spike_state", "upstream", "ConfigError", "InputError", "SpikeError",
           *sorted(_SUBMODULES), *sorted(_LAZY)]


# --- rooms: old names the package binds to something else (written by rooms.py) ---
# sk.record is the notebook API's function. Importing the old module name through the alias would rebind the
# package attribute to the module (the import system sets it on first load), so such names are loaded here.
for _old, _new in _MOVED.items():
    if _old in globals() and not isinstance(globals()[_old], type(_sys)):
        _sys.modules.setdefault(f"{__name__}.{_old}", importlib.import_module(f"{__name__}.{_new}"))
# --- end of rooms ---
