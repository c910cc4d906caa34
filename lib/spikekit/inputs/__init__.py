"""What the playbook reads: the input contracts (one module per table family), loaders, importers, the
playbook and spike files, the spike's ledger and state. Imports only core and inputs.
"""
import importlib

_MODULES = {
    "check",
    "contracts",
    "importers",
    "newspike",
    "settings",
    "state",
}


def __getattr__(name: str):  # spikekit.inputs.<module> without importing every module of the room
    if name in _MODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
