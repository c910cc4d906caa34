"""One module per chapter, named after its notebook (01 early_warning ... 12 retrospective). Imports only core
and inputs; nothing but the notebooks imports a chapter.
"""
import importlib

_MODULES = {
    "aftersales",
    "cash",
    "content",
    "data_room",
    "early_warning",
    "early_warning_scan",
    "exit",
    "inventory",
    "logistics",
    "retrospective",
    "supplier_launch",
    "team",
    "validation",
}


def __getattr__(name: str):  # spikekit.chapters.<module> without importing every module of the room
    if name in _MODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
