"""What shows the records: the record site, the data room, run summaries. Never imports a chapter.
"""
from ..core.rooms import lazy_submodules

_MODULES = {
    "dataroom",
    "recordview",
    "site",
    "summary",
}


__getattr__ = lazy_submodules(__name__, _MODULES)  # spikekit.views.<module>, imported on first use
