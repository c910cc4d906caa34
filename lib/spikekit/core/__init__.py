"""What every notebook and chapter uses: errors, paths, the notebook API (sk.begin, sk.record, sk.upstream),
the house plot style, shared statistics, the decisions recorded across runs and the models several chapters
share. Imports nothing outside core.
"""
import importlib

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


def __getattr__(name: str):  # spikekit.core.<module> without importing every module of the room
    if name in _MODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
