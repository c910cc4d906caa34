#!/usr/bin/env bash
# Set up (first time) and run the whole playbook on the sample spike; prints where the record is.
# Usage: bash scripts/run-sample.sh [spike] [extra `spike run` options]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
spike_name="${1:-starry-mug}"
shift || true
cd "$SPIKE_ROOT"
run_dir="$(spike run --spike "$spike_name" "$@")"
echo
spike show "$run_dir"
echo
echo "Record of this run: $run_dir  (open the .html files in a browser; run.json is the manifest)"
