"""The project's Jupyter kernel: registration and a launcher that pre-imports the heavy libraries.

Every chapter notebook runs in a fresh kernel (chapters stay isolated), so the import of pandas, scipy,
matplotlib and seaborn is paid once per chapter. Doing it in the launcher, before the kernel announces
itself, lets the runner start the next chapter's kernel while the current chapter still runs and hide
that cost (see ../shared/spec/performance-notes.md and spikekit.runner).
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

KERNEL_NAME = "spikekit"
DISPLAY_NAME = "Python (spikekit)"

PREIMPORTS = (
    "numpy",
    "pandas",
    "scipy.stats",
    "scipy.optimize",
    "matplotlib",
    "matplotlib.pyplot",
    "seaborn",
    "spikekit",
    "spikekit.contracts",
    "spikekit.stats",
    "spikekit.plots",
    "spikekit.signals",
    "spikekit.validation",
    "spikekit.suppliers",
    "spikekit.inventory",
    "spikekit.logistics",
    "spikekit.lifecycle",
    "spikekit.funnel",
    "spikekit.content",
    "spikekit.cash",
    "spikekit.team",
)


def kernel_spec(python: str | None = None) -> dict:
    return {
        "argv": [python or sys.executable, "-m", "spikekit.kernel", "launch", "-f", "{connection_file}"],
        "display_name": DISPLAY_NAME,
        "language": "python",
        "metadata": {"debugger": True, "spikekit_preimports": list(PREIMPORTS)},
    }


def install(prefix: str | None = None) -> str:
    """Register the kernel spec inside this environment (sys.prefix), so papermill finds it by name."""
    from jupyter_client.kernelspec import KernelSpecManager

    with tempfile.TemporaryDirectory() as tmp:
        spec_dir = Path(tmp) / KERNEL_NAME
        spec_dir.mkdir()
        (spec_dir / "kernel.json").write_text(json.dumps(kernel_spec(), indent=1))
        dest = KernelSpecManager().install_kernel_spec(
            str(spec_dir), KERNEL_NAME, prefix=prefix or sys.prefix
        )
    return dest


def launch(argv: list[str]) -> None:
    import importlib
    import os

    # pyplot fixes its backend when first imported: choose the inline one ipykernel would choose, so
    # figures still come out as images in executed notebooks (an Agg backend here would silently drop them).
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")  # see spikekit/__init__.py
    for name in PREIMPORTS:
        try:
            importlib.import_module(name)
        except Exception:  # a broken optional import must not stop the kernel; the notebook will say
            pass
    try:  # register the CJK font once here rather than in the chapter's first figure
        from spikekit.plots import cjk_font

        cjk_font()
    except Exception:
        pass
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=argv)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in {"install", "launch"}:
        print("usage: python -m spikekit.kernel install | launch -f CONNECTION_FILE", file=sys.stderr)
        raise SystemExit(2)
    if argv[0] == "install":
        print(f"[setup] Jupyter kernel '{KERNEL_NAME}' registered in {install()}")
    else:
        launch(argv[1:])


if __name__ == "__main__":
    main()
