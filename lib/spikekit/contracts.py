"""The old flat name of the input contracts, now the package `spikekit.inputs.contracts`.

``import spikekit.contracts`` gives the package itself (the same module object), so names read, set or
monkeypatched through either name are one and the same.
"""
import importlib
import sys

if __name__ == "__main__":  # python -m spikekit.contracts --update-readme [PATH]
    from spikekit.inputs.contracts.docs import main

    raise SystemExit(main())

sys.modules[__name__] = importlib.import_module("spikekit.inputs.contracts")
