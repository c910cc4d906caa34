"""What every notebook and chapter uses: errors, paths, the notebook API (sk.begin, sk.record, sk.upstream),
the house plot style, shared statistics, the decisions recorded across runs and the models several chapters
share. Imports nothing outside core.
"""
from .rooms import lazy_submodules

_MODULES = {
    "_common",
    "decisions",
    "errors",
    "lifecycle_fit",
    "paths",
    "patterns",
    "plots",
    "record",
    "sentiment",
    "show",
    "stats",
    "supply",
    "tables",
    "validation_model",
}


__getattr__ = lazy_submodules(__name__, _MODULES)  # spikekit.core.<module>, imported on first use
