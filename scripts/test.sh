#!/usr/bin/env bash
# Set up (first time) and run the whole test suite: library unit tests, notebook checks (nbval, lax),
# end-to-end playbook runs on the sample scenarios. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$SPIKE_ROOT"
# Headless Chromium for the record-site browser test (Debian packages; quiet no-op when present).
bash scripts/system-deps.sh
# Screenshots the browser tests take (a chapter record and its seller's copy, the record site, the data room).
export SPIKE_TEST_ARTIFACTS="${SPIKE_TEST_ARTIFACTS:-$SPIKE_ROOT/test-artifacts}"
# On every core (pytest-xdist), a whole file per worker: a notebook's cells share one kernel and run in order, and a
# file's session fixtures (the sample runs) are made once.
# nbval's 60 s wait for a notebook's kernel once ran out in a parallel run (cause not pinned down; tests/conftest.py
# now starts those kernels over Unix sockets): 300 s is a bound on a hang, not a speed goal.
exec python -m pytest tests notebooks --nbval-lax --nbval-kernel-name spikekit \
  --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-kernel-startup-timeout 300 -p no:cacheprovider \
  -n "${SPIKE_TEST_WORKERS:-auto}" --dist loadfile "$@"
