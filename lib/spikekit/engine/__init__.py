"""What runs the notebooks: runner, kernels, replay, distributed execution, sealing. Never imports a chapter.
"""
from ..core.rooms import lazy_submodules

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


__getattr__ = lazy_submodules(__name__, _MODULES)  # spikekit.engine.<module>, imported on first use
