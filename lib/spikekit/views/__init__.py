"""What shows the records: the record site, the data room, run summaries. Never imports a chapter.
"""
import importlib

_MODULES = {
    "dataroom",
    "recordview",
    "site",
    "summary",
}


def __getattr__(name: str):  # spikekit.views.<module> without importing every module of the room
    if name in _MODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
