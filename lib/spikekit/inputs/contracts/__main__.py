"""``python -m spikekit.inputs.contracts --update-readme [PATH]``: see `docs.main`."""
from .docs import main

raise SystemExit(main())
