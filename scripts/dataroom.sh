#!/usr/bin/env bash
# Serve chapter 07, the hourly data room, as a live Voilà page for analysts on http://127.0.0.1:PORT/
# (default 8866; outputs only, no code; run in the project's `spikekit` kernel). Ctrl-C stops it.
# Usage: bash scripts/dataroom.sh [--port P] [--spike NAME [--as-of TIME|now]]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$SPIKE_ROOT"
exec spike dataroom "$@"
