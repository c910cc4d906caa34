"""``spike dataroom``: chapter 07 (the hourly data room) served live with Voilà for analysts.

Voilà runs the notebook on request in the ``spikekit`` kernel (named in the notebook's metadata; the language
mapping below makes Voilà fall back to it, never to a bare ``python3``), shows outputs only (no code), and
listens on 127.0.0.1 so the data room is not exposed beyond this machine.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from ..core.errors import ConfigError
from ..core.paths import cache_dir, check_name, notebooks_dir

KERNEL = "spikekit"
NOTEBOOK = "07_data_room.ipynb"
DEFAULT_PORT = 8866
IOPUB_TIMEOUT_S = 120  # the longest wait for a cell's outputs after its reply (see voila_command)


def cache_folder(spike: str, pid: int | None = None) -> Path:
    """Where ``spike dataroom --spike`` writes the notebook it serves: one folder per serving process
    (``<cache>/dataroom/<spike>-<pid>``; voila takes over that process, so the pid is the server's)."""
    return cache_dir() / "dataroom" / f"{check_name(spike)}-{os.getpid() if pid is None else int(pid)}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def clean_cache() -> list[Path]:
    """Remove the served-notebook folders of data room servers that have stopped; returns what was removed."""
    base = cache_dir() / "dataroom"
    removed = []
    for folder in sorted(base.iterdir()) if base.is_dir() else []:
        name, _, pid = folder.name.rpartition("-")
        if not (name and pid.isdigit()) or folder.is_symlink() or not folder.is_dir():
            continue  # not one of ours
        if int(pid) != os.getpid() and not _process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


class RoomTop:
    """The top of the served page: the call (decision box, headline) and the explorer's controls, shown before
    the chapter's story. Both are ipywidgets Output areas the cells further down write into once they have
    run, so a reader sees the call first without the chapter computing anything twice."""

    WAITING = "*Working out the call from the data...*"

    def __init__(self):
        import ipywidgets as widgets

        self.call = widgets.Output()
        self.explorer = widgets.Output()

    @classmethod
    def show(cls) -> "RoomTop":
        from IPython.display import Markdown, display

        top = cls()
        with top.filling("call"):
            display(Markdown(cls.WAITING))
        display(Markdown("## The call"))
        display(top.call)
        display(Markdown("## Explore\nPick a platform, a window and a metric: the table and figures below them "
                         "are redrawn. Exploration only: the call above comes from the chapter's parameters."))
        display(top.explorer)
        return top

    def filling(self, area: str):
        """``with room_top.filling("call"):``: what the block shows replaces that area's content
        (``spikekit.core.show.filling``: captured in the kernel, not by the Output widget's front-end protocol)."""
        from ..core.show import filling

        return filling(getattr(self, area))

    def finish(self) -> None:
        """After the chapter ran: the headline it recorded and the moment the page was computed for."""
        from ..core.errors import SpikeError
        from ..core.record import current

        try:
            ctx = current()
        except SpikeError:  # the chapter stopped before it began: nothing to add
            return
        lines = [f"**Headline:** {ctx.recorded['headline']}"] if ctx.recorded.get("headline") else []
        lines.append(f"Computed from the data as of {ctx.as_of:%Y-%m-%d %H:%M} ({ctx.timezone}); "
                     "reload the page to compute it again from the files.")
        # Set on the widget itself (synced to the page by its comm), not captured: a capture in the notebook's
        # last cell can reach the page after it has read the widget's state.
        self.call.outputs = tuple(self.call.outputs) + tuple(
            {"output_type": "display_data", "metadata": {}, "data": {"text/markdown": line, "text/plain": line}}
            for line in lines)


def _tags(cell) -> list:
    return list(cell.get("metadata", {}).get("tags", []))


def _test_only(cell) -> bool:
    """A check that belongs to the tests (nbval output checks), not to a reader's page."""
    return "NBVAL_" in cell.source or any("test" in str(t) or "nbval" in str(t) for t in _tags(cell))


def serve_layout(nb):
    """Chapter 07 rearranged for the live page: test-only cells dropped; right under the title a cell
    that shows the call area and the explorer area (``RoomTop``); the cell making the call (``decision_box``)
    and the explorer cell (``live_view``) write into those areas instead of their place in the story (their
    section headings go too); a last cell adds the recorded headline to the call."""
    import textwrap

    import nbformat

    cells = [c for c in nb.cells if not _test_only(c)]
    top = 1 if cells and cells[0].cell_type == "markdown" else 0  # under the chapter's title, if it has one
    moved = {"decision_box(": "call", "live_view(": "explorer"}
    out = []
    for i, cell in enumerate(cells):
        area = next((a for key, a in moved.items() if cell.cell_type == "code" and key in cell.source), None)
        if area is not None:
            if out and out[-1].cell_type == "markdown" and out[-1].source.lstrip().startswith("#"):
                out.pop()  # the section heading of what moved to the top
            source = f"with room_top.filling(\"{area}\"):\n" + textwrap.indent(cell.source, "    ")
            cell = nbformat.v4.new_code_cell(source, metadata=cell.metadata)
        if i == top:
            out.append(nbformat.v4.new_code_cell(
                "# Served by `spike dataroom`: the call and the explorer first; the cells below fill them in.\n"
                "from spikekit.views.dataroom import RoomTop\n\nroom_top = RoomTop.show()"))
        out.append(cell)
    out.append(nbformat.v4.new_code_cell("room_top.finish()"))
    nb.cells = out
    return nb


def prepare_notebook(spike: str | None, as_of: str | None = None, folder: Path | None = None) -> Path:
    """Chapter 07 laid out for the live page (``serve_layout``), with a spike's parameters filled in (the
    playbook's defaults, the spike's overrides and input files, ``as_of``: a time in the spike's zone, ``now``,
    or the spike's default; without a spike, the notebook's own defaults), written to ``folder`` for Voilà to
    serve. Not a record: nothing is executed here, and each page view runs it afresh from the files; with
    ``now`` the moment is taken at each page view, not when the server started.

    Default ``folder``: this process's cache folder (``cache_folder``), overwritten on each call; the folders
    of servers that have stopped are removed first, so starts leave nothing behind."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    from ..core.record import parse_as_of
    from ..inputs.settings import chapter_parameters, load_playbook, load_spike

    book = load_playbook()
    chapter = next((c for c in book.chapters.values() if c.notebook.name == NOTEBOOK), None)
    if chapter is None:
        raise ConfigError(f"the playbook has no chapter with notebook {NOTEBOOK}")
    nb = load_notebook_node(str(chapter.notebook))  # papermill's reader: gives every cell the tags it looks for
    if spike is not None:
        settings = load_spike(spike)
        if as_of in (None, ""):
            as_of = settings.default_as_of
            if not as_of:
                raise ConfigError(f"spike '{spike}' has no default_as_of: pass --as-of TIME or --as-of now")
        if str(as_of).strip().lower() == "now":
            when = "now"  # sk.begin reads the clock at each page view
        else:
            when = parse_as_of(as_of, settings.timezone).isoformat()
        params = chapter_parameters(book, settings, chapter.id, as_of=when, upstream_run="")
        nb = parameterize_notebook(nb, params, report_mode=False)
    nb = serve_layout(nb)
    if folder is None:
        clean_cache()
        folder = cache_folder(spike or "defaults")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / NOTEBOOK
    tmp = folder / (NOTEBOOK + ".tmp")
    nbformat.write(nb, str(tmp))
    os.replace(tmp, out)  # a server already reading this folder never sees half a notebook
    return out


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
        raise ConfigError(f"the '{KERNEL}' Jupyter kernel is not registered. Fix: python -m spikekit.engine.kernel install")
    return [
        voila, str(notebook), "--no-browser", f"--port={int(port)}", f"--Voila.ip={ip}",
        f"--VoilaConfiguration.language_kernel_mapping={json.dumps({'python': KERNEL})}",
        # Each page view starts a kernel (it backs the widgets); idle ones are shut down after an hour.
        "--MappingKernelManager.cull_idle_timeout=3600", "--MappingKernelManager.cull_interval=300",
        # After a cell's reply, nbclient (Voila's executor) waits only iopub_timeout (4 s by default) for the rest
        # of its outputs and silently drops what comes later. On a loaded machine the outputs that put the call
        # and the explorer on the page (the top's Output widgets and what is captured into them) came later
        # and the page showed neither. Wait for each cell's outputs to end (the kernel's idle), bounded.
        f"--VoilaExecutor.iopub_timeout={IOPUB_TIMEOUT_S}",
    ] + _ipc_options()


def _ipc_options() -> list[str]:
    """The page kernels talk to Voila over Unix sockets where the platform has them (files only this user can
    open), not plain TCP on localhost, which ipykernel warns about on every page view. One absolute base for all
    of a server's kernels: jupyter_client numbers the sockets after it, kernel by kernel."""
    from ..engine.kernel import ipc_socket_base

    base = ipc_socket_base()
    return [] if base is None else ["--KernelManager.transport=ipc", f"--KernelManager.ip={base}"]
