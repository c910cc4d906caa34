"""The playbook runner: chapters executed with papermill in worker processes, recorded as one immutable run.

How a run is built (and why):
- Chapters run in dependency order; independent ones run at the same time in ``workers`` processes. Each
  chapter gets a fresh Jupyter kernel (no state leaks between chapters). Processes, not threads: papermill
  changes the working directory while it runs.
- Each worker keeps the next kernel started ahead of need, in the project's kernel spec that pre-imports
  pandas, scipy and seaborn, so the ~1.5 s of kernel start and imports is paid while the previous chapter
  runs (measured in benchmarks/results/playbook.md). HTML is exported with the nbconvert API in the
  worker, not the ``jupyter nbconvert`` command.
- On Linux each worker's kernels are forked from a zygote that has already imported those libraries
  (spikekit.engine.kernel.ForkServer): still one brand-new process per chapter, started in ~0.1 s. run.json says
  how (``kernel.launch``: fork / spawn). ``prewarm=False`` or SPIKE_KERNEL_FORK=0 use plain launches.
- The run folder is built aside, in ``<records>/.partial/<spike>/<run-id>/``, and moved into
  ``<records>/<spike>/<run-id>/`` by one rename when the run ends (ok or with failed chapters). A runner
  that dies leaves its work in ``.partial`` and never a half-written folder among the records; finished
  records are sealed (``seal.json`` lists every file's sha256; files and folders read-only, spikekit.engine.seal)
  and never touched again. The partial's run.json names its runner (pid, host, process start), so a partial
  whose runner died shows as dead and ``spike prune --partials`` can remove it.
- A failed chapter keeps its executed notebook (with the error), its dependents are skipped, the rest run.
- ``resume`` makes a new run reusing an earlier run's successful chapters (marked ``reused``); with
  ``reuse_earlier`` (``spike run`` unless --fresh) any earlier run's chapter whose key matches (spikekit.engine.reuse).
- A run is a few named steps: ``_plan`` (check everything, write nothing), ``_claim`` (run id, staging folder,
  first manifest, ``_reuse_by_key``), ``_execute`` (the chapters on a pool) and ``_seal_run``. ``run_many`` plans
  and claims several spikes' runs and executes them on ONE pool (one ``workers`` limit, spikes taking turns);
  each chapter task carries its run's SPIKE_* locations, so runs never share per-run state through the process.
"""
from __future__ import annotations

import datetime as dt
import errno
import json
import multiprocessing.connection as mpc
import os
import pickle
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .. import __version__
from ..core.errors import ConfigError, SpikeError
from ..core.paths import check_name, check_records_root, data_root, project_root, records_root, remove_tree
from ..inputs.check import STALE_FILE
from ..core.record import RESULTS_DIR, _find_run, parse_as_of, read_manifest, read_notebook_records
from .seal import SEAL_FILE, lock
from .seal import seal as seal_folder
from ..inputs.settings import chapter_parameters, load_playbook, load_spike

RUN_FORMAT = "spikekit.run/1"
PARTIAL = ".partial"


# ----------------------------------------------------------------------------------------------------------
# Worker side: runs in a separate process
# ----------------------------------------------------------------------------------------------------------
@dataclass
class ChapterTask:
    chapter: str
    notebook: str          # source notebook path
    output: str            # executed notebook path (in the staging folder)
    parameters: dict
    kernel: str
    timeout_s: float
    cwd: str
    html: bool = True
    warm_next: bool = False  # more chapters will follow on this worker: start their kernel now
    env: dict | None = None  # the run's SPIKE_* locations: several runs' chapters may share one worker


def _die_with_parent() -> None:
    """Linux: take this worker down if the runner is killed (-9 included); its kernel follows it."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class _KernelPool:
    """At most one kernel started ahead of need, ready for this worker's next chapter.

    With a fork server (Linux), kernels are forked from a zygote that has already imported the heavy
    libraries: each chapter still gets a brand-new process, in about 0.1 s instead of ~1.5 s.
    """

    def __init__(self, kernel: str, cwd: str, fork: bool = False):
        self.kernel, self.cwd, self.km = kernel, cwd, None
        self.env = _run_env()  # the locations the warm kernel was started with
        self.fork_server = None
        if fork:
            from .kernel import ForkServer

            try:
                self.fork_server = ForkServer(cwd=cwd)
            except OSError:
                self.fork_server = None

    def new_manager(self, kernel: str):
        from .kernel import new_kernel_manager

        if self.fork_server is not None and self.fork_server.alive():
            from .kernel import fork_kernel_manager_class

            km = new_kernel_manager(kernel, fork_kernel_manager_class())
            km.fork_server = self.fork_server
            return km
        return new_kernel_manager(kernel)

    def warm(self) -> None:
        if self.km is not None:
            return
        from jupyter_core.utils import run_sync

        km = self.new_manager(self.kernel)
        try:
            self.env = _run_env()
            run_sync(km.start_kernel)(cwd=self.cwd)
            self.km = km
        except Exception:  # a kernel that cannot start ahead will fail again, visibly, inside papermill
            self.km = None

    def take(self, kernel: str, cwd: str):
        km = self.km if (kernel == self.kernel and cwd == self.cwd) else None
        if km is None and self.km is not None:
            self.shutdown()
        elif km is not None and self.env != _run_env():  # warmed for another run's locations: not for this one
            _shutdown_km(km)  # the fork server stays: a kernel it forks gets the environment of the moment
            km = None
        self.km = None
        return km

    def shutdown(self) -> None:
        if self.km is not None:
            from jupyter_core.utils import run_sync

            try:
                run_sync(self.km.shutdown_kernel)(now=True)
            except Exception:
                pass
            self.km = None
        if self.fork_server is not None:
            self.fork_server.close()  # the zygote kills and reaps any kernel it forked that is still alive
            self.fork_server = None


RUN_ENV = ("SPIKE_ROOT", "SPIKE_DATA_ROOT", "SPIKE_PLAYBOOK", "SPIKE_RECORDS")


def _run_env() -> dict:
    return {k: os.environ.get(k) for k in RUN_ENV}


def _apply_run_env(env: dict | None) -> None:
    """Set this worker's SPIKE_* locations to a task's run (a kernel started after this inherits them)."""
    for key, value in (env or {}).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _shutdown_km(km) -> None:
    from jupyter_core.utils import run_sync

    try:
        if run_sync(km.is_alive)():
            run_sync(km.shutdown_kernel)(now=True)
    except Exception:
        pass


def execute_chapter(task: ChapterTask, km=None) -> dict:
    """Execute one chapter notebook with papermill, export HTML, read back its recorded results."""
    import papermill as pm

    started = time.time()
    error = None
    status = "ok"
    if km is None:  # our own manager rather than papermill's, so the kernel runs over IPC where it can
        from .kernel import new_kernel_manager

        km = new_kernel_manager(task.kernel)
    engine_kwargs = {"km": km}
    launch = getattr(km, "launch_method", "spawn")
    try:
        pm.execute_notebook(
            task.notebook,
            task.output,
            parameters=task.parameters,
            kernel_name=task.kernel,
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=True,
            execution_timeout=task.timeout_s,
            start_timeout=120,
            cwd=task.cwd,
            # Every output is in the notebook when the last cell ends: a graceful kernel shutdown (~0.4 s
            # per chapter on the worker's critical path) buys nothing for a kernel that is thrown away.
            shutdown_kernel="immediate",
            **engine_kwargs,
        )
    except pm.PapermillExecutionError as exc:
        status = "failed"
        error = {
            "cell": exc.cell_index,
            "execution_count": exc.exec_count,
            "ename": exc.ename,
            "evalue": str(exc.evalue)[:20000],  # whole messages (file, column, rows, fix); a bound on runaway text
            "traceback": _strip_ansi("\n".join(exc.traceback[-6:]))[-4000:],
        }
    except Exception as exc:  # kernel died, cell timed out, notebook unreadable ...
        status = "failed"
        error = {"cell": None, "ename": type(exc).__name__, "evalue": str(exc)[:20000],
                 "traceback": traceback.format_exc()[-4000:]}
    finally:
        if km is not None:
            _shutdown_km(km)
    executed = time.time()
    results: dict = {}
    html = None
    if Path(task.output).exists():
        try:
            results = read_notebook_records(task.output)
        except Exception as exc:
            status, error = "failed", error or {"cell": None, "ename": type(exc).__name__, "evalue": str(exc)}
        if task.html:
            try:
                html = _export_html(task.output)
            except Exception as exc:  # the notebook is the record; a missing HTML copy is said, not fatal
                html = None
                error = error or {"cell": None, "ename": "HTMLExportError", "evalue": str(exc)[:500]}
    return {
        "status": status,
        "started": started,
        "finished": time.time(),
        "execute_s": round(executed - started, 3),
        "results": results,
        "error": error,
        "html": html,
        "kernel_launch": launch,
    }


_HTML_EXPORTER = None
_HTML_LOCK = threading.Lock()


def _html_exporter():
    global _HTML_EXPORTER
    with _HTML_LOCK:
        if _HTML_EXPORTER is None:
            from nbconvert import HTMLExporter

            # The lab template minus the require.js / MathJax / Mermaid it loads from a CDN: records and the
            # record site read offline, from disk (lib/spikekit/engine/templates/spikekit_offline).
            _HTML_EXPORTER = HTMLExporter(template_name="spikekit_offline",
                                          extra_template_basedirs=[str(Path(__file__).parent / "templates")])
    return _HTML_EXPORTER


def _export_html(notebook_path: str) -> str:
    """Writes the reader's copy (call first, code folded, no test-only cells) and beside it the seller's copy
    (recordview.seller_copy: no code), each linking the other; returns the reader's copy's file name."""
    import nbformat

    from ..views.recordview import prepare, seller_copy, seller_name

    nb = nbformat.read(notebook_path, as_version=4)
    out = Path(notebook_path).with_suffix(".html")
    seller = out.with_name(seller_name(out.name))
    body, _ = _html_exporter().from_notebook_node(prepare(nb, ("The seller's copy, without code", seller.name)))
    out.write_text(body, encoding="utf-8")
    body, _ = _html_exporter().from_notebook_node(seller_copy(nb, full_copy=out.name))
    seller.write_text(body, encoding="utf-8")
    return out.name


def _strip_ansi(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


# Runner <-> worker messages use the same length-prefixed pickle frames as the kernel fork server.
from .kernel import _recv_msg as _recv  # noqa: E402
from .kernel import _send_msg as _send  # noqa: E402


def fork_kernels_enabled(prewarm: bool) -> bool:
    """Kernels come from a fork server when prewarming is on, on Linux, unless SPIKE_KERNEL_FORK=0."""
    from .kernel import fork_supported

    return bool(prewarm) and fork_supported()


def worker_main(kernel: str, cwd: str, prewarm: bool) -> None:
    """A chapter worker: reads tasks from stdin, answers on the original stdout (everything else -> stderr).

    Started as ``python -m spikekit.engine.runner --worker`` rather than through multiprocessing, so the runner can be
    called from any script or notebook without the ``if __name__ == '__main__'`` guard spawn would need.
    """
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner decides; Ctrl-C reaches it, not us
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints (warnings, libraries) must not corrupt the protocol
    tasks = sys.stdin.buffer
    # The zygote starts first: it imports on the other core while this process imports papermill.
    pool = _KernelPool(kernel, cwd, fork=fork_kernels_enabled(prewarm))
    if prewarm:
        pool.warm()  # first, so the kernel imports on the other core while this process imports papermill
    import papermill  # noqa: F401  (paid once per worker, not per chapter)

    def warm_exporter() -> None:  # the HTML exporter loads while the first chapter runs in its kernel
        try:
            _html_exporter()
        except Exception:
            pass

    threading.Thread(target=warm_exporter, daemon=True).start()
    try:
        while True:
            task = _recv(tasks)
            if task is None:
                break
            _apply_run_env(task.env)  # before taking a warm kernel: one warmed for other locations is not used
            km = pool.take(task.kernel, task.cwd) if prewarm else None
            if km is None and pool.fork_server is not None:
                km = pool.new_manager(task.kernel)  # not warmed ahead: forked now, which is nearly as quick
            if prewarm and task.warm_next:
                pool.warm()  # the next chapter's kernel starts (and imports) while this chapter runs
            _send(answers, execute_chapter(task, km=km))
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        pass
    finally:
        pool.shutdown()


# ----------------------------------------------------------------------------------------------------------
# Runner side
# ----------------------------------------------------------------------------------------------------------
class _Worker:
    def __init__(self, kernel: str, cwd: str, prewarm: bool):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "spikekit.engine.runner", "--worker", kernel, cwd, "1" if prewarm else "0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=cwd,
        )
        self.task: ChapterTask | None = None
        self.since = 0.0
        self.idle_since = time.time()

    def submit(self, task: ChapterTask) -> None:
        self.task, self.since = task, time.time()
        _send(self.proc.stdin, task)

    def receive(self):
        return _recv(self.proc.stdout)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, kill: bool = False) -> None:
        try:
            if kill:
                self.proc.kill()
            else:
                _send(self.proc.stdin, None)
                self.proc.stdin.close()
        except (OSError, BrokenPipeError, ValueError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


class WorkerPool:
    """Chapter workers that outlive one run, so a replay's steps keep warm kernels and loaded imports."""

    def __init__(self, kernel: str, cwd: str, prewarm: bool = True, size: int = 2):
        self.kernel, self.cwd, self.prewarm, self.size = kernel, cwd, prewarm, max(1, int(size))
        self.workers: list[_Worker] = []

    def grow(self, ready: int) -> None:
        idle = sum(1 for w in self.workers if w.task is None)
        while ready > idle and len(self.workers) < self.size:
            self.workers.append(_Worker(self.kernel, self.cwd, self.prewarm))
            idle += 1

    def replace(self, i: int) -> None:
        self.workers[i] = _Worker(self.kernel, self.cwd, self.prewarm)

    def close(self, kill: bool = False) -> None:
        for worker in self.workers:
            worker.stop(kill=kill)
        self.workers = []

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close(kill=exc[0] is not None)


@dataclass
class RunOutcome:
    run_dir: Path | None  # None: the run has no record (``error`` says why; run_many reports it, run raises it)
    manifest: dict | None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.manifest["status"] == "ok"


def _git_state() -> dict:
    root = project_root()
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10)
        if commit.returncode == 0:
            return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        pass
    return {"commit": None, "dirty": None}


def _kernel_info(name: str) -> dict:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        raise ConfigError(
            f"Jupyter kernel '{name}' is not installed in this environment. "
            "Fix: run `python -m spikekit.engine.kernel install` (the README's set-up commands do it)"
        ) from None
    return {"name": name, "argv": spec.argv, "resource_dir": spec.resource_dir,
            "preimports": spec.metadata.get("spikekit_preimports", [])}


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False), encoding="utf-8")
    os.replace(tmp, path)


def _write_documents(folder: Path, results: dict) -> None:
    """A recorded text result named ``<name>_md`` is also saved as ``<name>.md`` beside the notebooks
    (e.g. chapter 10's stand-up brief, readable on a phone without opening a notebook)."""
    for name, value in results.items():
        if name.endswith("_md") and isinstance(value, str) and name[:-3].isidentifier():
            (folder / f"{name[:-3]}.md").write_text(value, encoding="utf-8")


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def new_run_id(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)


class Progress:
    """One line per state change: chapter, state, elapsed. Plain lines survive logs and CI.

    Several runs on one pool share one display: each line then starts with its spike's name (``prefix``) and
    all count from the same moment (``t0``)."""

    def __init__(self, stream: TextIO | None, titles: dict[str, str], prefix: str = "", t0: float | None = None):
        self.stream, self.titles, self.prefix = stream, titles, prefix
        self.t0 = time.time() if t0 is None else t0

    def __call__(self, chapter: str, state: str, detail: str = "") -> None:
        if self.stream is None:
            return
        line = (f"[{time.time() - self.t0:7.1f}s] {self.prefix}{chapter} {self.titles.get(chapter, ''):<22} "
                f"{state:<8} {detail}")
        print(line.rstrip(), file=self.stream, flush=True)

    def say(self, text: str) -> None:
        if self.stream is not None:
            print(f"{self.prefix}{text}", file=self.stream, flush=True)


@dataclass
class _Run:
    """One run of one spike: what ``_plan`` checked (nothing written yet), then what ``_claim`` made."""

    book: Any
    spike: Any
    records_dir: Path
    as_of_ts: Any
    order: list[str]
    kernel: dict
    workers: int
    timeout_s: float
    prewarm: bool
    inputs: dict
    missing: list
    skips: dict
    params: dict
    fresh: dict
    stale_notes: dict
    spike_state: dict
    earlier: dict | None
    tags: dict | None
    # Set by _claim:
    run_id: str = ""
    staging: Path | None = None
    manifest: dict | None = None
    report: Progress | None = None
    state: dict | None = None
    t0: float = 0.0
    # Set while executing / sealing:
    write_failure: "_WriteFailed | None" = None
    outcome: RunOutcome | None = None

    env: dict | None = None  # the SPIKE_* locations its kernels must see (sent with each chapter task)
    reuse_earlier: bool = False  # reuse chapters of the spike's earlier runs whose key matches (spikekit.engine.reuse)

    @property
    def write_error(self) -> SpikeError:
        return self.write_failure.error(self.records_dir, self.run_id, self.staging)

    def done(self) -> bool:
        return all(s not in {"pending", "running"} for s in self.state.values())


def _put_json(path: Path, data: dict) -> None:
    try:
        _write_json(path, data)
    except OSError as exc:
        raise _WriteFailed(path, exc) from exc


def _put_documents(staging: Path, results: dict) -> None:
    try:
        _write_documents(staging, results)
    except OSError as exc:
        raise _WriteFailed(staging, exc) from exc


def run(
    spike_name: str,
    as_of: Any = None,
    *,
    chapters: list[str] | None = None,
    workers: int | None = None,
    records: Path | str | None = None,
    resume: str | None = None,
    timeout_s: float | None = None,
    progress: TextIO | None = sys.stderr,
    prewarm: bool = True,
    playbook: Path | None = None,
    pool: WorkerPool | None = None,
    more_after: bool = False,
    tags: dict | None = None,
    data_overrides: dict[str, str] | None = None,
    ledger: str | None = None,
    backorders: bool | None = None,
    reuse_earlier: bool = False,
) -> RunOutcome:
    """Run the playbook for a spike as of a moment; returns the finished run folder and its manifest.

    ``pool``: workers to run on and leave running (a replay passes one for all its steps); ``more_after``: more
    runs follow on that pool, so its workers warm a kernel after their last chapter too; ``tags``: recorded
    in the manifest (e.g. which replay a step belongs to). ``data_overrides`` (input key -> path under the data
    root), ``ledger`` (ledger folder under the data root) and ``backorders`` replace the spike file's settings for
    this run only (a closed-loop replay runs on its own simulated sales and ledger); they are recorded in the tags.
    ``reuse_earlier``: reuse every chapter whose key matches one of the spike's earlier runs (``spike run`` does,
    unless --fresh); ``resume`` reuses the resumed run's chapters whose key matches, and with ``reuse_earlier`` the
    other earlier runs' too. Replays and other callers run everything unless they ask.

    Everything that can be checked (settings, parameters, inputs, the records root) is checked before a run id
    is claimed, so a refused run leaves nothing behind. A run that cannot write its record raises SpikeError:
    before its chapters start its staging folder is removed, after that it stays in the partial area marked
    ``failed`` (resume it once the cause is fixed).
    """
    planned = _plan(spike_name, as_of, chapters=chapters, workers=workers, records=records, resume=resume,
                    timeout_s=timeout_s, prewarm=prewarm, playbook=playbook, tags=tags,
                    data_overrides=data_overrides, ledger=ledger, backorders=backorders)
    planned.reuse_earlier = bool(reuse_earlier)
    _claim(planned, progress)
    _execute([planned], pool, more_after=more_after, progress=progress)
    if planned.outcome is None:  # the run could not write its record
        raise planned.write_error from None
    return planned.outcome


def run_many(
    spikes: list[str],
    as_of: Any = None,
    *,
    chapters: list[str] | None = None,
    workers: int | None = None,
    records: Path | str | None = None,
    timeout_s: float | None = None,
    progress: TextIO | None = sys.stderr,
    prewarm: bool = True,
    playbook: Path | None = None,
    pool: WorkerPool | None = None,
    tags: dict | None = None,
    reuse_earlier: bool = False,
) -> list[RunOutcome]:
    """Run several spikes on ONE pool: one limit of ``workers`` chapters at once for all of them, taken in turn
    from each spike (dependency order within a spike), one progress display (lines start with the spike), and
    one sealed record per spike, each sealed as soon as its own chapters are done.

    Returns one RunOutcome per spike, in the order given. A spike that cannot start (a bad setting or input) or
    cannot write its record does not stop the others: its outcome has no ``run_dir`` and carries the ``error``.
    ``as_of`` (None: each spike's default_as_of), ``chapters`` and ``timeout_s`` apply to every spike;
    ``reuse_earlier`` as in ``run``, for each spike from its own earlier runs.
    """
    names = list(dict.fromkeys(spikes))  # a spike named twice runs once
    if not names:
        raise ConfigError("no spike to run. Fix: name one or more with --spike a,b,c, or use --all")
    prefix_width = max(len(n) for n in names)
    t0 = time.time()
    planned: list[_Run] = []
    outcomes: dict[str, RunOutcome] = {}
    for name in names:
        try:
            one = _plan(name, as_of, chapters=chapters, workers=workers, records=records, timeout_s=timeout_s,
                        prewarm=prewarm, playbook=playbook, tags=tags)
            one.reuse_earlier = bool(reuse_earlier)
            _claim(one, progress, prefix=f"{name:<{prefix_width}} | ", t0=t0)
        except Exception as exc:  # a bad setting, input or file: this spike is reported, the others run
            outcomes[name] = RunOutcome(None, {"spike": name, "status": "error"}, error=exc)
            if progress is not None:
                print(f"{name:<{prefix_width}} | not run: {exc}", file=progress, flush=True)
            continue
        planned.append(one)
    _execute(planned, pool, more_after=False, progress=progress)
    for one in planned:
        outcomes[one.spike.name] = one.outcome or RunOutcome(None, one.manifest, error=one.write_error)
    return [outcomes[n] for n in names]


# ----------------------------------------------------------------------------------------------------------
# The steps of a run: plan (check everything, write nothing), claim (run id, staging folder, first manifest,
# reuse), execute (chapters of one or several runs on one pool), seal (one rename into the records).
# ----------------------------------------------------------------------------------------------------------
def _find_earlier(resume: str | None, spike_name: str, as_of: Any, chapters: list[str] | None,
                  records_dir: Path) -> tuple[dict | None, str, Any, list[str] | None]:
    """The run that ``resume`` names, checked; it fixes the spike, the as_of and the chapters of the new run."""
    earlier = None
    if resume:
        earlier_dir = _find_run(resume)
        earlier = read_manifest(earlier_dir / "run.json")
        earlier["_dir"] = earlier_dir
        if _in_partial_area(earlier_dir, records_dir) and partial_state(earlier) == "running" \
                and runner_state(earlier.get("runner")) == "alive":
            who = earlier["runner"]
            raise ConfigError(f"--resume {resume}: that run is still being built (runner pid {who.get('pid')} on "
                              f"{who.get('host')}). Fix: wait for it to finish or stop it, then resume")
        if spike_name and spike_name != earlier["spike"]:
            raise ConfigError(f"--resume {resume} is a run of '{earlier['spike']}', not '{spike_name}'")
        spike_name = earlier["spike"]
        as_of = as_of or earlier["as_of"]
        chapters = chapters or list(earlier["chapters"])
    return earlier, spike_name, as_of, chapters


def _plan(spike_name: str, as_of: Any = None, *, chapters=None, workers=None, records=None, resume=None,
          timeout_s=None, prewarm=True, playbook=None, tags=None, data_overrides=None, ledger=None,
          backorders=None) -> _Run:
    """Load and check the settings, parameters, inputs and records root of one run. Nothing is written."""
    book = load_playbook(playbook)
    records_dir = check_records_root(Path(records) if records else records_root())
    _check_writable(records_dir)
    os.environ["SPIKE_RECORDS"] = str(records_dir)  # kernels inherit it: upstream lookups agree with us
    earlier, spike_name, as_of, chapters = _find_earlier(resume, spike_name, as_of, chapters, records_dir)
    spike = load_spike(check_name(spike_name))
    if data_overrides or ledger or backorders is not None:
        spike.data.update({str(k): str(v) for k, v in (data_overrides or {}).items()})
        if ledger:
            spike.ledger = str(ledger)
        if backorders is not None:
            spike.backorders = bool(backorders)
        tags = dict(tags or {}, overrides={"data": dict(data_overrides or {}), "ledger": ledger, "backorders": backorders})
    if as_of is None:
        if not spike.default_as_of:
            raise ConfigError(f"no --as-of given and spike '{spike.name}' has no default_as_of")
        as_of = spike.default_as_of
    as_of_ts = parse_as_of(as_of, spike.timezone)
    if earlier is not None and parse_as_of(earlier["as_of"], spike.timezone) != as_of_ts:
        raise ConfigError(f"--resume {resume} was as of {earlier['as_of']}; a resumed run keeps that as_of")
    order = book.order(chapters)
    kernel = _kernel_info(book.kernel)
    spike_dir = records_dir / spike.name
    if spike_dir.exists() and not spike_dir.is_dir():
        raise ConfigError(f"{spike_dir} is a file, so runs of '{spike.name}' have no folder to go to. "
                          "Fix: move that file out of the records root")
    from ..inputs.check import chapter_stale_notes, freshness, missing_inputs, skip_plan
    from ..inputs.state import state_inputs

    # What the chapters read, and what the spike's state is derived from (it is part of every run's evidence).
    wanted = ({k for c in order for k in book.chapters[c].inputs + book.chapters[c].optional_inputs}
              | set(state_inputs(book, spike)))
    # Partial data is normal: an input the spike lacks leaves the run (the state and the chapters go without it),
    # and a chapter that cannot do without it is skipped with the reason, before any kernel starts.
    missing = missing_inputs(spike, wanted)
    skips = skip_plan(book, spike, order, missing)
    spike.data = {k: v for k, v in spike.data.items() if k not in missing}
    inputs = _input_files(spike, wanted)
    # A resumed run no longer refuses changed inputs: the reuse keys (spikekit.engine.reuse) rerun exactly what read them.
    # upstream_run is the run being built: filled in once its id is claimed (the parameters' types are checked now).
    params = {cid: chapter_parameters(book, spike, cid, as_of=as_of_ts.isoformat(), upstream_run="",
                                      missing_ok=cid in skips) for cid in order}

    # Every input table is loaded and checked now: a bad file is one clear error before anything is written.
    from ..inputs.contracts import check_inputs

    sources = check_inputs({k: spike.data[k] for k in inputs}, tz=spike.timezone)
    fresh = {k: f for k, src in sources.items() if (f := freshness(src, k, as_of_ts))}
    stale_notes = chapter_stale_notes(book, [c for c in order if c not in skips], fresh)
    # The spike's state as of T (ledger, stock position, phase, demand forecast), derived once for the whole run.
    from ..inputs.state import derive_for_run, ledger_inputs

    spike_state = derive_for_run(book, spike, as_of_ts)
    for key, path in ledger_inputs(spike).items():
        inputs[key] = {"path": str(path.relative_to(data_root())), "sha256": _sha256(path),
                       "bytes": path.stat().st_size}
    env = {k: os.environ.get(k) for k in ("SPIKE_ROOT", "SPIKE_DATA_ROOT", "SPIKE_PLAYBOOK")}
    return _Run(book=book, spike=spike, records_dir=records_dir, as_of_ts=as_of_ts, order=order, kernel=kernel,
                workers=max(1, int(workers or book.workers)), timeout_s=float(timeout_s or book.timeout_s),
                prewarm=prewarm, inputs=inputs, missing=missing, skips=skips, params=params, fresh=fresh,
                stale_notes=stale_notes, spike_state=spike_state, earlier=earlier, tags=tags,
                env=dict(env, SPIKE_RECORDS=str(records_dir)))


def _input_files(spike, wanted: set[str]) -> dict:
    """Path, sha256 and size of each input file the run reads; a missing or unreadable one is a ConfigError."""
    inputs = {}
    for key in sorted(wanted):
        if key in spike.data:
            path = spike.input_path(key)  # refuses paths that leave the data root
            if not path.exists():
                raise ConfigError(f"input '{key}' of spike '{spike.name}' is missing: {path}. "
                                  f"Fix: put the file there or correct `{key}:` under data: in {spike.path}")
            if not path.is_file():
                kind = "a folder" if path.is_dir() else "not a regular file"
                raise ConfigError(f"input '{key}' of spike '{spike.name}' is {kind}: {path}. "
                                  f"Fix: point `{key}:` under data: in {spike.path} at the file itself")
            try:
                inputs[key] = {"path": spike.data[key], "sha256": _sha256(path), "bytes": path.stat().st_size}
            except OSError as exc:
                raise ConfigError(f"input '{key}' of spike '{spike.name}' cannot be read: {path} ({exc.strerror or exc}). "
                                  "Fix: make the file readable") from None
    return inputs


def _claim(r: _Run, progress: TextIO | None, prefix: str = "", t0: float | None = None) -> None:
    """Claim a run id and its staging folder, write the first manifest, mark the planned skips and reuse what
    an earlier run finished. Any error here removes the staging folder: nothing is half-left."""
    r.run_id, r.staging = _claim_run_id(r.records_dir, r.spike.name)
    for cid in r.order:
        r.params[cid]["upstream_run"] = r.run_id
    staging = r.staging
    try:
        (staging / RESULTS_DIR).mkdir()
        r.manifest = manifest = _initial_manifest(r)
        _put_json(staging / "run.json", manifest)
        _put_json(staging / RESULTS_DIR / "state.json", r.spike_state)  # what sk.spike_state() reads
        if r.stale_notes:  # sk.record adds these to each chapter's headline
            _put_json(staging / RESULTS_DIR / STALE_FILE, {"as_of": r.as_of_ts.isoformat(), "chapters": r.stale_notes})
        r.report = report = Progress(progress, {cid: r.book.chapters[cid].name for cid in r.order}, prefix, t0)
        report.say(f"spike '{r.spike.name}' as of {r.as_of_ts:%Y-%m-%d %H:%M}: phase {r.spike_state['phase']} ("
                   + "; ".join(r.spike_state["phase_evidence"][-1:]) + ")")
        for key, note in manifest["stale_inputs"].items():
            report.say(f"spike: warning: stale input '{key}': {note}")
        for cid, why in r.skips.items():  # decided before any kernel starts
            if manifest["chapters"][cid]["status"] == "pending":
                manifest["chapters"][cid].update(status="skipped", skip_reason=why,
                                                 error={"ename": "Skipped", "evalue": why})
                report(cid, "skipped", f"({why})")
        _put_json(staging / "run.json", manifest)
        r.t0 = time.time()
        _reuse_by_key(r, report)
    except BaseException as exc:
        _discard_staging(staging, r.records_dir)
        if isinstance(exc, _WriteFailed):
            raise exc.error(r.records_dir, r.run_id, None) from None
        if isinstance(exc, OSError):
            raise _WriteFailed(staging, exc).error(r.records_dir, r.run_id, None) from None
        raise
    r.state = {cid: manifest["chapters"][cid]["status"] for cid in r.order}


def _initial_manifest(r: _Run) -> dict:
    """run.json as written when the run starts: every chapter pending."""
    book, spike, spike_state = r.book, r.spike, r.spike_state
    return {
        "format": RUN_FORMAT,
        "run_id": r.run_id,
        "spike": spike.name,
        "as_of": r.as_of_ts.isoformat(),
        "timezone": spike.timezone,
        "status": "running",
        "started": dt.datetime.now(dt.timezone.utc).isoformat(),
        "finished": None,
        "duration_s": None,
        "command": sys.argv,
        "spikekit_version": __version__,
        "git": _git_state(),
        "python": platform.python_version(),
        "host": socket.gethostname(),
        # Who builds this run: `spike list` / `spike prune` tell a live partial from one whose runner died.
        "runner": runner_identity(),
        "kernel": dict(r.kernel, launch="fork" if fork_kernels_enabled(r.prewarm) else "spawn"),
        "workers": r.workers,
        "timeout_s": r.timeout_s,
        "data_root": str(data_root()),
        "settings": {
            "playbook": {"path": str(book.path.relative_to(project_root()) if book.path.is_relative_to(project_root()) else book.path),
                          "sha256": _sha256(book.path)},
            "spike": {"path": str(spike.path.relative_to(project_root()) if spike.path.is_relative_to(project_root()) else spike.path),
                       "sha256": _sha256(spike.path)},
        },
        "inputs": r.inputs,
        "missing_inputs": r.missing,
        "stale_inputs": {k: f["note"] for k, f in r.fresh.items() if f.get("stale")},
        "state": {"phase": spike_state["phase"], "phase_evidence": spike_state["phase_evidence"],
                  "position": {k: spike_state["position"][k] for k in ("on_hand", "on_order", "backlog", "available")},
                  "forecast": spike_state["forecast"].get("source"), "ledger": spike_state["ledger"]["folder"]},
        "resumed_from": r.earlier["run_id"] if r.earlier else None,
        "tags": dict(r.tags or {}),
        "chapters": {
            cid: {
                "title": book.chapters[cid].title,
                "notebook": book.chapters[cid].notebook.name,
                "html": None,
                "needs": list(book.chapters[cid].needs),
                "status": "pending",
                "parameters": r.params[cid],
                "results": {},
                "error": None,
                "duration_s": None,
                "reused_from": None,
            }
            for cid in r.order
        },
    }


def _reuse_by_key(r: _Run, report: Progress) -> None:
    """Reuse what an earlier run finished: each chapter whose key (spikekit.engine.reuse) matches one of the spike's
    earlier runs, newest first (the resumed run leads); the others rerun, and the key parts that changed say why.
    Without ``reuse_earlier`` (--fresh) a resumed run still takes its own finished chapters, and only those."""
    from . import reuse as _reuse

    manifest, staging, earlier = r.manifest, r.staging, r.earlier
    keys = _reuse.chapter_keys(r.book, r.spike, r.order, r.params, r.as_of_ts, r.spike_state, r.stale_notes,
                               r.records_dir)
    runs = (_reuse.earlier_runs(r.records_dir, r.spike.name, earlier["_dir"] if earlier else None) if r.reuse_earlier
            else [(earlier["_dir"], earlier)] if earlier else [])
    decided = _reuse.plan(keys, runs, reuse=bool(r.reuse_earlier or earlier), skipped=r.skips)
    for cid in r.order:
        entry = manifest["chapters"][cid]
        entry.update(keys[cid])
        if cid not in decided:
            continue
        if decided[cid].get("reuse"):
            src, meta, old = decided[cid]["reuse"]
            for name in (old["notebook"], old.get("html"), old.get("seller_html")):
                if name and (src / name).exists():
                    try:
                        shutil.copyfile(src / name, staging / name)  # content only: the copy is writable
                    except OSError as exc:
                        raise _WriteFailed(staging / name, exc) from exc
            entry.update(status="reused", results=old["results"], html=old.get("html"),
                         seller_html=old.get("seller_html"), duration_s=0.0,
                         reused_from=old.get("reused_from") or meta.get("run_id"), reused_as_of=meta.get("as_of"))
            _put_json(staging / RESULTS_DIR / f"{cid}.json", old["results"])
            _put_documents(staging, old["results"])
            report(cid, "reused", f"from {entry['reused_from']}")
        else:
            entry["rerun_because"] = decided[cid]["because"]
            report(cid, "rerun", "(" + ", ".join(decided[cid]["because"]) + ")")
    _put_json(staging / "run.json", manifest)


def _execute(runs: list[_Run], pool: WorkerPool | None, *, more_after: bool, progress: TextIO | None) -> None:
    """Run the chapters of every planned run on ONE pool (its ``workers`` limit holds for all of them); each run
    is sealed as soon as its own chapters are done. Ctrl-C / SIGTERM stop all of them (SpikeError); a run that
    cannot write its record stops alone (its ``write_failure``)."""
    if not runs:
        return
    book, cwd = runs[0].book, str(project_root() / "notebooks")
    own_pool = pool is None or (pool.kernel, pool.cwd) != (book.kernel, cwd)
    workers_pool = WorkerPool(book.kernel, cwd, runs[0].prewarm, runs[0].workers) if own_pool else pool
    interrupted = False
    previous_handler = signal.getsignal(signal.SIGTERM)

    def on_term(signum, frame):  # treat a polite kill like Ctrl-C: stop, keep the partial area
        raise KeyboardInterrupt

    try:
        if threading_is_main():
            signal.signal(signal.SIGTERM, on_term)
        _schedule(runs, workers_pool, cwd, more_after)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        stop_now = interrupted or any(r.write_failure is not None for r in runs)
        if own_pool or stop_now:
            workers_pool.close(kill=stop_now)
        if threading_is_main():
            signal.signal(signal.SIGTERM, previous_handler)
    stopped = []
    for r in runs:
        if r.outcome is not None:
            continue
        r.manifest["finished"] = dt.datetime.now(dt.timezone.utc).isoformat()
        r.manifest["duration_s"] = round(time.time() - r.t0, 3)
        if r.write_failure is not None:
            if "record_error" not in r.manifest:
                _mark_failed(r.staging, r.manifest, r.write_failure)
        elif interrupted:
            r.manifest["status"] = "interrupted"
            try:
                _write_json(r.staging / "run.json", r.manifest)
            except OSError:
                pass  # the partial then shows as dead once this process is gone
            stopped.append(r)
    if len(stopped) == 1 and len(runs) == 1:
        r = stopped[0]
        raise SpikeError(f"run interrupted; its partial record stays in {r.staging} (resume with --resume {r.run_id})")
    if stopped:
        raise SpikeError("runs interrupted; their partial records stay in the partial area: "
                         + "; ".join(f"'{r.spike.name}' in {r.staging} (resume with --resume {r.run_id})" for r in stopped))


def _schedule(runs: list[_Run], workers_pool, cwd: str, more_after: bool) -> None:
    """The loop: hand ready chapters to idle workers, taking spikes in turn, until every run is sealed."""
    pool = workers_pool.workers  # Workers start when there is work for them (an idle one only slows 2 cores)
    owner: dict[int, _Run] = {}  # id(task) -> the run it belongs to
    turn = 0

    def live() -> list[_Run]:
        return [r for r in runs if r.outcome is None and r.write_failure is None]

    while True:
        ready: dict[int, list[str]] = {}
        for r in live():
            ready[id(r)] = _skip_blocked_and_ready(r)
            if r.done():
                _seal_run(r)
        workers_pool.grow(sum(len(v) for v in ready.values()))
        # The worker idle the longest has the warmest kernel (started ahead while others worked).
        for worker in sorted(pool, key=lambda w: w.idle_since):
            if worker.task is not None:
                continue
            takers = [runs[(turn + k) % len(runs)] for k in range(len(runs))]
            r = next((t for t in takers if ready.get(id(t))), None)
            if r is None:
                break
            turn = (runs.index(r) + 1) % len(runs)  # the next chapter goes to the next spike that has one
            cid = ready[id(r)].pop(0)
            chapter = r.book.chapters[cid]
            waiting = sum(1 for o in live() for c in o.order if o.state[c] == "pending") - 1
            busy_elsewhere = sum(1 for w in pool if w.task is not None)
            task = ChapterTask(cid, str(chapter.notebook), str(r.staging / chapter.notebook.name),
                               r.params[cid], r.book.kernel, r.timeout_s, cwd,
                               warm_next=waiting > busy_elsewhere or more_after, env=r.env)
            r.state[cid] = "running"
            r.manifest["chapters"][cid]["status"] = "running"
            try:
                _put_json(r.staging / "run.json", r.manifest)
            except _WriteFailed as exc:
                r.write_failure = exc
                ready[id(r)] = []
                continue
            worker.submit(task)
            owner[id(task)] = r
            r.report(cid, "running")
        busy = [w for w in pool if w.task is not None]
        if not busy or not live():
            break
        mpc.wait([w.proc.stdout for w in busy], timeout=1.0)
        for i, worker in enumerate(pool):
            if worker.task is not None:
                _collect(workers_pool, i, worker, owner.pop(id(worker.task)), owner)


def _skip_blocked_and_ready(r: _Run) -> list[str]:
    """Skip the chapters whose upstream failed or was skipped (unless it is an optional need skipped for want of
    data: then the chapter runs and reads that need's results as None); return the chapters ready to run."""
    book, state = r.book, r.state

    def without(cid: str, need: str) -> bool:
        """The chapter may run without this need: optional to it, and skipped for want of data."""
        return need in book.chapters[cid].optional_needs and state[need] == "skipped" and need in r.skips

    for cid in r.order:
        bad = [n for n in book.chapters[cid].needs if state[n] in {"failed", "skipped"} and not without(cid, n)]
        if state[cid] == "pending" and bad:
            state[cid] = "skipped"
            r.manifest["chapters"][cid].update(status="skipped", error={"ename": "Skipped", "evalue": f"needs {', '.join(bad)}, which did not succeed"})
            r.report(cid, "skipped", f"(needs {', '.join(bad)})")
    return [c for c in r.order if state[c] == "pending"
            and all(state[n] in {"ok", "reused"} or without(c, n) for n in book.chapters[c].needs)]


def _collect(workers_pool, i: int, worker, r: _Run, owner: dict) -> None:
    """Take the outcome of worker ``i``'s chapter if it has one (or fail it: worker died, chapter too long)."""
    cid = worker.task.chapter
    outcome = None
    if mpc.wait([worker.proc.stdout], timeout=0):
        try:
            outcome = worker.receive()
        except (EOFError, OSError, pickle.UnpicklingError):
            outcome = None
    if outcome is None and (not worker.alive() or time.time() - worker.since > r.timeout_s + 60):
        why = "worker process died" if not worker.alive() else f"chapter exceeded {r.timeout_s:.0f}s"
        worker.stop(kill=True)
        outcome = {"status": "failed", "started": worker.since, "finished": time.time(), "results": {},
                   "error": {"cell": None, "ename": "ChapterAborted", "evalue": why}, "html": None}
        if Path(worker.task.output).exists():
            outcome["results"] = read_notebook_records(worker.task.output)
        workers_pool.replace(i)
        worker = workers_pool.workers[i]
    if outcome is None:
        owner[id(worker.task)] = r  # still running
        return
    worker.task = None
    worker.idle_since = time.time()
    if r.outcome is not None or r.write_failure is not None:
        return  # its run stopped (it could not write its record): nothing to write the chapter into
    r.state[cid] = outcome["status"]
    try:
        _finish_chapter(r, cid, outcome)
    except _WriteFailed as exc:
        r.write_failure = exc
        return
    detail = f"{outcome['finished'] - outcome['started']:.1f}s"
    if outcome["error"] and outcome["status"] == "failed":
        err = outcome["error"]
        detail += f"  {err.get('ename')}: {str(err.get('evalue'))}" + (f" (cell {err['cell']})" if err.get("cell") is not None else "")
    r.report(cid, outcome["status"], detail)


def _stamp(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat()


def _finish_chapter(r: _Run, cid: str, outcome: dict) -> None:
    manifest = r.manifest
    entry = manifest["chapters"][cid]
    entry.update(status=outcome["status"], results=outcome["results"], error=outcome["error"],
                 html=outcome.get("html"), duration_s=round(outcome["finished"] - outcome["started"], 3),
                 started=_stamp(outcome["started"]), finished=_stamp(outcome["finished"]))
    from ..views.recordview import seller_name

    seller = seller_name(outcome["html"]) if outcome.get("html") else None
    entry["seller_html"] = seller if seller and (r.staging / seller).is_file() else None
    if outcome.get("kernel_launch"):
        entry["kernel_launch"] = outcome["kernel_launch"]
        launches = {e.get("kernel_launch") for e in manifest["chapters"].values()} - {None}
        manifest["kernel"]["launch"] = launches.pop() if len(launches) == 1 else "mixed"
    _put_json(r.staging / RESULTS_DIR / f"{cid}.json", outcome["results"])
    _put_documents(r.staging, outcome["results"])
    _put_json(r.staging / "run.json", manifest)


def _seal_run(r: _Run) -> None:
    """Final status, seal.json, and the one rename that puts the run among the records (``r.outcome``). A run
    that cannot write its record stays in the partial area marked failed (``r.write_failure``)."""
    manifest, staging = r.manifest, r.staging
    manifest["finished"] = dt.datetime.now(dt.timezone.utc).isoformat()
    manifest["duration_s"] = round(time.time() - r.t0, 3)
    # Skipped for want of data is not a failure; skipped because an upstream chapter failed comes with that failure.
    statuses = [manifest["chapters"][c]["status"] for c in r.order]
    manifest["status"] = "ok" if all(s in {"ok", "reused", "skipped"} for s in statuses) \
        and "failed" not in statuses else "failed"
    final = r.records_dir / r.spike.name / r.run_id
    try:
        _put_json(staging / "run.json", manifest)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            # seal.json is written last, then files 0444 and sub-folders 0555; the run folder itself is
            # locked after the rename (moving a folder to another parent needs write access to it).
            _seal(staging)
            os.rename(staging, final)  # the one moment the run appears among the records: complete
        except OSError as exc:
            raise _WriteFailed(staging, exc) from exc
    except _WriteFailed as exc:
        r.write_failure = exc
        _mark_failed(staging, manifest, exc)
        return
    try:
        lock(final)
    except OSError:
        pass  # every file is read-only and listed in seal.json already
    _prune_empty(staging.parent)
    if r.earlier is not None and _in_partial_area(r.earlier["_dir"], r.records_dir):
        _mark_superseded(r.earlier["_dir"], r.run_id, r.report.stream)
    r.outcome = RunOutcome(final, manifest)


class _WriteFailed(Exception):
    """The runner could not write (part of) its record: turned into one SpikeError line by ``error``."""

    def __init__(self, path: Path, cause: OSError):
        super().__init__(f"{path}: {cause}")
        self.path, self.cause = path, cause

    def error(self, records_dir: Path, run_id: str, kept: Path | None) -> SpikeError:
        cause = self.cause
        code = errno.errorcode.get(cause.errno or 0, "")
        why = f"{cause.strerror or cause}" + (f" ({code})" if code else "")
        if cause.errno == errno.ENOSPC or cause.errno == errno.EDQUOT:
            fix = f"free disk space for {records_dir}"
        elif cause.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            fix = f"make {records_dir} writable, or give another --records"
        else:
            fix = f"check {records_dir} (a folder, writable, with free space)"
        if kept is not None:
            return SpikeError(f"run {run_id} could not write its record: {self.path}: {why}. Its partial record "
                              f"stays in {kept}, marked failed. Fix: {fix}, then `spike run --resume {run_id}`")
        return SpikeError(f"run {run_id} could not write its record: {self.path}: {why}; nothing was kept. "
                          f"Fix: {fix}, then run again")


def _mark_failed(staging: Path, manifest: dict, failure: _WriteFailed) -> None:
    """Best effort: the partial says it failed, and why (on a full disk this write may fail too; the partial
    then shows as dead in `spike list` once this process has exited)."""
    manifest["status"] = "failed"
    manifest["record_error"] = {"path": str(failure.path), "errno": failure.cause.errno,
                                "error": str(failure.cause.strerror or failure.cause)}
    for entry in manifest["chapters"].values():
        if entry["status"] == "running":
            entry.update(status="failed", error={"cell": None, "ename": "RecordWriteError",
                                                 "evalue": "stopped: the run could not write its record"})
    try:
        (staging / SEAL_FILE).unlink(missing_ok=True)  # a seal of a record that never finished would mislead
        _write_json(staging / "run.json", manifest)
    except OSError:
        pass


def _discard_staging(staging: Path, records_dir: Path) -> None:
    """Remove a staging folder of a run that never started, and the partial-area folders it leaves empty."""
    try:
        remove_tree(staging)
    except OSError:
        pass
    _prune_empty(staging.parent)
    _prune_empty(records_dir / PARTIAL)


def _check_writable(records_dir: Path) -> None:
    """The records root (or the folder it will be created in) must be a writable folder: said before anything
    starts. (Root passes any mode check; the claim of the run folder reports what the file system refuses.)"""
    existing = records_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"records root {records_dir} cannot be created: {existing} is a file, not a folder. "
                          "Fix: give a records folder whose parents are folders, e.g. --records records")
    for folder in (existing, records_dir / PARTIAL):
        if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
            raise ConfigError(f"records root {records_dir} is read-only ({folder} cannot be written). "
                              "Fix: make it writable, or give another --records")


def _in_partial_area(folder: Path, records_dir: Path) -> bool:
    try:
        return Path(folder).resolve().relative_to(records_dir.resolve()).parts[0] == PARTIAL
    except (ValueError, IndexError):
        return False


def _claim_run_id(records_dir: Path, spike: str) -> tuple[str, Path]:
    """A fresh run id and its staging folder, safe against runs starting or finishing at the same moment.

    ``mkdir`` of the staging folder is the atomic claim against a run that is still in .partial; a finished
    run of the same id (it left .partial by one rename) is looked for after the claim, so neither is missed.
    A concurrent run may prune the empty ``.partial/<spike>`` between our two mkdirs: then we just retry.
    A file system that refuses the folder (read-only, full, a file in the way) is a ConfigError.
    """
    for _ in range(100):
        run_id = new_run_id()
        staging = records_dir / PARTIAL / spike / run_id
        claimed = False
        for _attempt in range(20):
            try:
                staging.parent.mkdir(parents=True, exist_ok=True)
            except FileNotFoundError:
                continue  # .partial was pruned under us
            except OSError as exc:
                raise _claim_error(records_dir, staging.parent, exc) from None
            try:
                staging.mkdir()
                claimed = True
                break
            except FileNotFoundError:
                continue  # .partial/<spike> was pruned under us
            except FileExistsError:
                break  # a run with this id is being built
            except OSError as exc:
                raise _claim_error(records_dir, staging, exc) from None
        if not claimed:
            continue
        if (records_dir / spike / run_id).exists():
            staging.rmdir()  # a finished run already has this id
            continue
        return run_id, staging
    raise SpikeError(f"could not claim a free run id under {records_dir / PARTIAL / spike}")


def _claim_error(records_dir: Path, path: Path, exc: OSError) -> ConfigError:
    code = errno.errorcode.get(exc.errno or 0, "")
    return ConfigError(f"records root {records_dir} cannot be written: {path}: {exc.strerror or exc}"
                       + (f" ({code})" if code else "")
                       + ". Fix: make the records root a writable folder with free space, or give another --records")


def _same_parameters(a: dict, b: dict) -> bool:
    strip = lambda d: {k: v for k, v in d.items() if k != "upstream_run"}  # noqa: E731
    return strip(a) == strip(b)


def threading_is_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _seal(folder: Path) -> None:
    """Seal a finished record (seal.json with every file's sha256, files 0444, sub-folders 0555); its top
    folder is locked by the caller after the final rename (see spikekit.engine.seal)."""
    seal_folder(folder)


def _prune_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


# ----------------------------------------------------------------------------------------------------------
# Partial runs: who is building them, and which are dead
# ----------------------------------------------------------------------------------------------------------
def _process_start(pid: int) -> int | None:
    """When a process started (clock ticks since boot, Linux /proc); None where that cannot be read.
    With the pid it identifies one process: a pid reused later has another start time."""
    try:
        fields = Path(f"/proc/{int(pid)}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def runner_identity() -> dict:
    """The process building a run: pid, host, start time and boot id (a reboot kills every runner)."""
    pid = os.getpid()
    return {"pid": pid, "host": socket.gethostname(), "process_start": _process_start(pid), "boot_id": _boot_id()}


def runner_state(runner: Any) -> str:
    """'alive', 'dead' or 'unknown' (no runner recorded, or a runner on another host: it cannot be checked)."""
    if not isinstance(runner, dict) or not isinstance(runner.get("pid"), int) or runner.get("host") != socket.gethostname():
        return "unknown"
    if runner.get("boot_id") and _boot_id() and runner["boot_id"] != _boot_id():
        return "dead"
    pid = runner["pid"]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "dead"
    except PermissionError:
        pass  # exists, owned by someone else
    except OSError:
        return "unknown"
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state in {"Z", "X"}:
            return "dead"
    except (OSError, IndexError):
        pass
    started = _process_start(pid)
    if runner.get("process_start") is not None and started is not None and started != runner["process_start"]:
        return "dead"  # the pid now belongs to another process
    return "alive"


def partial_state(meta: dict) -> str:
    """What a partial run is: its recorded status, or 'dead' for a 'running' one whose runner is gone."""
    status = str(meta.get("status"))
    if status == "running" and runner_state(meta.get("runner")) == "dead":
        return "dead"
    return status


def _removable(meta: dict) -> tuple[bool, str]:
    """Whether ``spike prune --partials`` may delete a partial (never one a live runner may still move)."""
    status = str(meta.get("status"))
    state = runner_state(meta.get("runner"))
    runner = meta.get("runner") if isinstance(meta.get("runner"), dict) else {}
    if status == "superseded":  # marked only once its runner was done with it (see _mark_superseded)
        return True, f"superseded by {meta.get('superseded_by')}"
    if status == "interrupted":
        return True, "interrupted"
    if meta.get("record_error"):
        return True, "failed: it could not write its record"
    if state == "dead":
        return True, f"{status}, its runner (pid {runner.get('pid')}) is gone"
    if state == "alive":
        return False, f"its runner (pid {runner.get('pid')}) is still running"
    if runner:
        return False, f"its runner is on host {runner.get('host')}, which cannot be checked from here"
    return False, "it names no runner (made by an older spikekit): delete it by hand if no run is going on"


def _mark_superseded(folder: Path, run_id: str, progress: TextIO | None) -> None:
    """A partial that a successful resume completed: kept (its chapters were copied from it) but marked, once
    its own runner is done with it (interrupted, gave up writing, or gone); `spike prune` then removes it."""
    try:
        meta = read_manifest(folder / "run.json")
        finished = meta.get("status") == "interrupted" or meta.get("record_error")
        if not finished and runner_state(meta.get("runner")) != "dead":
            return
        meta.update(status="superseded", superseded_by=run_id)
        _write_json(folder / "run.json", meta)
    except (OSError, SpikeError) as exc:
        if progress is not None:
            print(f"note: could not mark the partial {folder} superseded ({exc})", file=progress)


def prune_partials(records: Path | str | None = None, spike: str | None = None,
                   stale_after_s: float = 600.0) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]]]:
    """Delete dead partial runs (and replays) under ``<records>/.partial``; returns (removed, kept), each a
    list of (folder, reason). A folder without a manifest is removed only when older than ``stale_after_s``
    (a run writes its manifest right after claiming its folder)."""
    root = Path(records).resolve() if records else records_root()
    base = root / PARTIAL
    spike_dirs = [base / check_name(spike)] if spike else (sorted(base.iterdir()) if base.is_dir() else [])
    removed, kept = [], []
    for spike_dir in spike_dirs:
        if not spike_dir.is_dir() or spike_dir.is_symlink():
            continue
        for folder in sorted(spike_dir.iterdir()):
            if folder.is_symlink() or not folder.is_dir():
                continue
            manifest = folder / ("replay.json" if folder.name.startswith("replay-") else "run.json")
            if not manifest.exists():
                age = time.time() - folder.stat().st_mtime
                ok, why = (age > stale_after_s, "no manifest: a run that never started")
                if not ok:
                    why = "no manifest yet: a run may be starting"
            else:
                try:
                    meta = json.loads(manifest.read_text(encoding="utf-8"))
                    if not isinstance(meta, dict):
                        raise ValueError("not a JSON object")
                except (OSError, ValueError) as exc:
                    kept.append((folder, f"{manifest.name} unreadable ({exc}); left for a person to look at"))
                    continue
                ok, why = _removable(meta)
            if ok:
                remove_tree(folder)
                removed.append((folder, why))
            else:
                kept.append((folder, why))
        _prune_empty(spike_dir)
    _prune_empty(base)
    return removed, kept


# ----------------------------------------------------------------------------------------------------------
# Reading records
# ----------------------------------------------------------------------------------------------------------
def _warn(message: str) -> None:
    print(f"spike: warning: {message}", file=sys.stderr)


def list_runs(records: Path | str | None = None, spike: str | None = None, warn=_warn) -> list[dict]:
    """Finished runs, and runs still (or forever, if their runner died) in the partial area.

    A partial whose runner is gone shows as ``partial (dead)``. A manifest that cannot be read is skipped with
    a ``warn`` line naming it."""
    root = Path(records).resolve() if records else records_root()
    rows = []
    for base, partial in ((root, False), (root / PARTIAL, True)):
        for manifest in sorted(base.glob("*/*/run.json")) if base.exists() else []:
            if not partial and manifest.parts[-3].startswith("."):
                continue
            try:
                meta = read_manifest(manifest)
            except ConfigError as exc:
                if warn is not None:
                    warn(f"skipped: {exc}")
                continue
            if spike and meta.get("spike") != spike:
                continue
            status = partial_state(meta) if partial else str(meta.get("status"))
            rows.append({
                "spike": meta.get("spike"), "run_id": meta.get("run_id"),
                "status": f"partial ({status})" if partial else status,
                "as_of": meta.get("as_of"), "started": meta.get("started"), "duration_s": meta.get("duration_s"),
                "chapters": {c: (v.get("status") if isinstance(v, dict) else None)
                             for c, v in meta.get("chapters", {}).items()},
                "path": str(manifest.parent),
            })
    rows.sort(key=lambda r: (str(r["spike"] or ""), str(r["started"] or "")))
    return rows


def locate_run_folder(ref: str, records: Path | str | None = None) -> Path:
    """A run folder by id, '<spike>/<run id>' or folder path, inside the records root (finished runs first, then
    the partial area). Unlike ``load_run`` it needs no run.json: ``spike verify`` must find a run whose
    run.json was deleted."""
    from ..core.record import _RUN_PART_RE

    root = Path(records).resolve() if records else records_root()
    if not isinstance(ref, str) or not ref.strip() or "\x00" in ref:
        raise ConfigError(f"run reference {ref!r} is empty or not text. Fix: pass a run id from `spike list`")
    candidate = Path(ref).expanduser()
    if candidate.is_dir() and (candidate.is_absolute() or len(candidate.parts) > 2 or ref.startswith(".")):
        folder = candidate.resolve()
        if root not in folder.parents:
            raise ConfigError(f"run folder {ref!r} resolves to {folder}, outside the records root {root}. "
                              "Fix: pass a run id from `spike list`, or --records the root that holds it")
        return folder
    parts = ref.split("/")
    if len(parts) > 2 or not all(_RUN_PART_RE.fullmatch(p) and ".." not in p for p in parts):
        raise ConfigError(f"run reference {ref!r} is not a run id, '<spike>/<run id>' or a run folder under the "
                          f"records root {root}. Fix: pass a run id from `spike list`")
    for base in (root, root / PARTIAL):
        if len(parts) == 2:
            hits = [base / parts[0] / parts[1]] if (base / parts[0] / parts[1]).is_dir() else []
        else:
            hits = [h for h in sorted(base.glob(f"*/{ref}")) if h.is_dir() and not h.parent.name.startswith(".")] \
                if base.is_dir() else []
        if len(hits) > 1:
            raise ConfigError(f"run id {ref!r} names runs of several spikes under {base}: "
                              + ", ".join(h.parent.name for h in hits) + f". Fix: pass '<spike>/{ref}'")
        if hits:
            return hits[0].resolve()
    raise ConfigError(f"run {ref!r} was not found under {root} (nor in {root / PARTIAL}). "
                      "Fix: pass a run id from `spike list`, or --records the root that holds it")


def load_run(ref: str, records: Path | str | None = None) -> tuple[Path, dict]:
    if records:
        os.environ["SPIKE_RECORDS"] = str(Path(records).resolve())
    folder = _find_run(ref)
    return folder, read_manifest(folder / "run.json")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2], sys.argv[3], sys.argv[4] == "1")
    else:
        print("internal: python -m spikekit.engine.runner --worker KERNEL CWD PREWARM(0|1)", file=sys.stderr)
        sys.exit(2)
