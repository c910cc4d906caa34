# Sourced by the README commands: create or reuse the local virtual environment, install the project
# editable with its dependency floors, and register the named Jupyter kernel papermill always uses.
# Only python3 is needed on the machine. Re-running is cheap: installs are skipped while pyproject.toml
# is unchanged.
# The set-up runs strictly (set -euo pipefail) in a subshell, so the caller's shell keeps its own options:
# a later failing command in an interactive shell must not close the terminal.
SPIKE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! (
  set -euo pipefail
  VENV="${SPIKE_VENV:-$SPIKE_ROOT/.venv}"
  PY="${PYTHON:-python3}"
  if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating virtual environment in $VENV" >&2
    "$PY" -m venv "$VENV"
  fi
  stamp="$VENV/.spikekit-installed"
  want="$(sha256sum < "$SPIKE_ROOT/pyproject.toml" | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "[setup] installing spikekit (editable) and its dependencies" >&2
    "$VENV/bin/python" -m pip install -q --upgrade pip >&2
    "$VENV/bin/python" -m pip install -q -e "$SPIKE_ROOT[dev]" >&2
    "$VENV/bin/python" -m spikekit.engine.kernel install >&2  # the kernel spec "spikekit"
    echo "$want" > "$stamp"
  fi
); then
  echo "[setup] failed: see the messages above" >&2
  return 1 2>/dev/null || exit 1  # sourced: back to the caller's shell; run as a script: exit
fi
export PATH="${SPIKE_VENV:-$SPIKE_ROOT/.venv}/bin:$PATH"
export SPIKE_ROOT
