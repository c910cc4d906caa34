"""One module per chapter, named after its notebook (01 early_warning ... 12 retrospective). Imports only core
and inputs; nothing but the notebooks imports a chapter.
"""
from ..core.rooms import lazy_submodules

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


__getattr__ = lazy_submodules(__name__, _MODULES)  # spikekit.chapters.<module>, imported on first use
