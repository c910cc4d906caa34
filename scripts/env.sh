# Sourced by the README commands: create or reuse the local virtual environment, install the project
# editable with its dependency floors, and register the named Jupyter kernel papermill always uses.
# Only python3 is needed on the machine. Re-running is cheap: installs are skipped while pyproject.toml
# is unchanged.
set -euo pipefail
SPIKE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SPIKE_VENV:-$SPIKE_ROOT/.venv}"
KERNEL_NAME="spikekit"
PY="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating virtual environment in $VENV" >&2
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.spikekit-installed"
want="$(cat "$SPIKE_ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] installing spikekit (editable) and its dependencies" >&2
  "$VENV/bin/python" -m pip install -q --upgrade pip >&2
  "$VENV/bin/python" -m pip install -q -e "$SPIKE_ROOT[dev]" >&2
  "$VENV/bin/python" -m spikekit.kernel install >&2
  echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
export SPIKE_ROOT
