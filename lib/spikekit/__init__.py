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

from .errors import ConfigError, InputError, SpikeError  # noqa: E402
from .record import begin, current, record, spike_state, upstream  # noqa: E402

_SUBMODULES = {
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
