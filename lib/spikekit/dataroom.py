"""``spike dataroom``: chapter 07 (the hourly data room) served live with Voilà for analysts.

Voilà runs the notebook on request in the ``spikekit`` kernel (named in the notebook's metadata; the language
mapping below makes Voilà fall back to it, never to a bare ``python3``), shows outputs only (no code), and
listens on 127.0.0.1 so the data room is not exposed beyond this machine.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from .errors import ConfigError
from .paths import notebooks_dir

KERNEL = "spikekit"
NOTEBOOK = "07_data_room.ipynb"
DEFAULT_PORT = 8866


def voila_command(port: int = DEFAULT_PORT, notebook: Path | None = None, ip: str = "127.0.0.1") -> list[str]:
    """The voila command line serving the data room notebook."""
    notebook = Path(notebook) if notebook else notebooks_dir() / NOTEBOOK
    if not notebook.is_file():
        raise ConfigError(f"data room notebook {notebook} not found")
    if not 0 < int(port) < 65536:
        raise ConfigError(f"--port {port} is not a TCP port (1-65535)")
    voila = shutil.which("voila", path=str(Path(sys.executable).parent)) or shutil.which("voila")
    if voila is None:
        raise ConfigError("voila is not installed in this environment. Fix: bash scripts/env.sh "
                          "(installs the project's dependencies, voila among them)")
    from jupyter_client.kernelspec import KernelSpecManager

    if KERNEL not in KernelSpecManager().find_kernel_specs():
        raise ConfigError(f"the '{KERNEL}' Jupyter kernel is not registered. Fix: python -m spikekit.kernel install")
    return [
        voila, str(notebook), "--no-browser", f"--port={int(port)}", f"--Voila.ip={ip}",
        f"--VoilaConfiguration.language_kernel_mapping={json.dumps({'python': KERNEL})}",
        # Each page view starts a kernel (it backs the widgets); idle ones are shut down after an hour.
        "--MappingKernelManager.cull_idle_timeout=3600", "--MappingKernelManager.cull_interval=300",
    ]
