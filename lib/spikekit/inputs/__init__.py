"""What the playbook reads: the input contracts (one module per table family), loaders, importers, the
playbook and spike files, the spike's ledger and state. Imports only core and inputs.
"""
from ..core.rooms import lazy_submodules

_MODULES = {
    "check",
    "contracts",
    "importers",
    "newspike",
    "settings",
    "state",
}


__getattr__ = lazy_submodules(__name__, _MODULES)  # spikekit.inputs.<module>, imported on first use
