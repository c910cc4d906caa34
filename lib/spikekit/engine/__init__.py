"""What runs the notebooks: runner, kernels, replay, distributed execution, sealing. Never imports a chapter.
"""
import importlib

_MODULES = {
    "closedloop",
    "distributed",
    "fixtures",
    "kernel",
    "replay",
    "reuse",
    "runner",
    "seal",
}


def __getattr__(name: str):  # spikekit.engine.<module> without importing every module of the room
    if name in _MODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
