"""``python -m spikekit.samples [--check | new NAME --seed N --shape S]``."""
from . import main

raise SystemExit(main())
