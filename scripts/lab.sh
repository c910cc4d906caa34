#!/usr/bin/env bash
# Set up (first time) and open JupyterLab on notebooks/ with the project's kernel ("Python (spikekit)").
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$SPIKE_ROOT"
root_flag=()
if [ "$(id -u)" = 0 ]; then
  root_flag=(--allow-root)  # JupyterLab refuses to start as root without it (containers often run as root)
fi
exec jupyter lab --notebook-dir notebooks --MappingKernelManager.default_kernel_name=spikekit "${root_flag[@]}" "$@"
