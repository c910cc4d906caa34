"""Run the playbook's chapters on a Dask distributed cluster, behind the same ``spike run`` interface.

An agency running playbooks for many shops outgrows one machine. ``DaskPool`` is a drop-in for the runner's
``WorkerPool``: the runner's loop is unchanged, and each pool slot, instead of a local worker process, submits
one task per chapter (``runner.execute_chapter``) to a ``dask.distributed`` cluster. The Dask worker process
runs papermill, which starts a fresh kernel for the chapter, exactly as a local worker does.

How the slot looks like a local worker to the runner: each slot owns an ``os.pipe``; when the chapter's future
is done, a thread writes the pickled outcome into the pipe with the runner's own framing (``runner._send``), so
``multiprocessing.connection.wait`` on ``slot.proc.stdout`` and ``slot.receive()`` work as they do for a
worker's stdout. A future that errored (the Dask worker died repeatedly, the task could not run) is delivered
as a failed outcome naming the remote error, and ``alive()`` is then False; the runner records the chapter
failed and skips its dependents, as with a dead local worker.

Requirements on the cluster (see the README section "Running on several machines"):
- Each Dask worker has ONE thread (``dask worker --nthreads 1``): papermill changes the process's working
  directory while a chapter runs, so two chapters must never share a process. The pool refuses workers with
  more threads.
- Runner and workers share the filesystem under the same paths (e.g. NFS mounted at the same place): the
  notebooks folder, the data root, the playbook and the records root (the run is staged in
  ``<records>/.partial/...``, which workers write into). The pool checks that every worker sees the notebooks
  folder and the records root before the run starts.
- Workers run the same environment (spikekit installed, the ``spikekit`` Jupyter kernel registered with
  ``python -m spikekit.engine.kernel install``).
The runner's ``SPIKE_*`` location variables travel with each task, so workers read and write the same places
the runner does even when they were started with a different environment.
"""
from __future__ import annotations

import os
import socket
import threading
import time
import traceback
from pathlib import Path
from types import SimpleNamespace

from ..core.errors import ConfigError
from .runner import ChapterTask, _recv, _send, execute_chapter

# The runner and the kernels find the project, the data, the playbook and the records through these.
FORWARDED_ENV = ("SPIKE_ROOT", "SPIKE_DATA_ROOT", "SPIKE_PLAYBOOK", "SPIKE_RECORDS")
SCHEDULER_ENV = "SPIKE_DASK_SCHEDULER"


def run_chapter_on_worker(task: ChapterTask, env: dict) -> dict:
    """The Dask task: ``runner.execute_chapter`` with the runner's locations, plus where it ran.

    Runs in a single-threaded Dask worker, so setting the process environment for the chapter's duration is
    safe; papermill's kernel inherits it.
    """
    saved = {k: os.environ.get(k) for k in FORWARDED_ENV}
    try:
        for key in FORWARDED_ENV:
            if env.get(key) is not None:
                os.environ[key] = env[key]
            else:
                os.environ.pop(key, None)
        outcome = execute_chapter(task)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    outcome["executor"] = {"kind": "dask", "worker": _worker_address(), "host": socket.gethostname(),
                           "pid": os.getpid()}
    return outcome


def _worker_address() -> str | None:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return None


def _warm_worker() -> None:
    """Run on each worker when a pool connects: import papermill and build the HTML exporter in the background,
    once per worker process, instead of on the first chapter's critical path (a local worker does the same)."""
    from .runner import _html_exporter

    def warm() -> None:
        try:
            import papermill  # noqa: F401

            _html_exporter()
        except Exception:  # the chapter will meet the same problem and report it
            pass

    threading.Thread(target=warm, daemon=True).start()


def _sees_paths(paths: list[str]) -> list[str]:
    """Run on each worker: the paths it cannot see (shared-filesystem check)."""
    return [p for p in paths if not os.path.isdir(p)]


class _Slot:
    """One chapter at a time on the cluster, looking like runner._Worker to the runner's loop."""

    def __init__(self, pool: "DaskPool"):
        self.pool = pool
        read_fd, write_fd = os.pipe()
        self.proc = SimpleNamespace(stdout=os.fdopen(read_fd, "rb"))  # what the runner waits on
        self._writer = os.fdopen(write_fd, "wb")
        self._lock = threading.Lock()
        self._closed = False
        self.future = None
        self.task: ChapterTask | None = None
        self.since = 0.0
        self.idle_since = time.time()

    def submit(self, task: ChapterTask) -> None:
        self.task, self.since = task, time.time()
        env = dict(task.env) if task.env else {k: os.environ.get(k) for k in FORWARDED_ENV}  # the chapter's run's
        future = self.pool.client.submit(run_chapter_on_worker, task, env, pure=False,
                                         key=f"chapter-{task.chapter}-{os.urandom(4).hex()}")
        self.future = future
        future.add_done_callback(lambda f: threading.Thread(target=self._deliver, args=(f, task),
                                                            daemon=True).start())

    def _deliver(self, future, task: ChapterTask) -> None:
        """Write the chapter's outcome (or a failed one naming the remote error) into this slot's pipe."""
        if future is not self.future or future.status == "cancelled":
            return  # stopped by the runner (timeout, interrupt): nobody reads this any more
        try:
            outcome = future.result()
        except Exception as exc:
            outcome = self._failed_outcome(task, exc)
        else:
            self.pool.placements[task.chapter] = outcome.get("executor")
        with self._lock:
            if self._closed:
                return
            try:
                _send(self._writer, outcome)
            except (OSError, ValueError):
                pass

    def _failed_outcome(self, task: ChapterTask, exc: BaseException) -> dict:
        from ..core.record import read_notebook_records

        results: dict = {}
        if Path(task.output).exists():
            try:
                results = read_notebook_records(task.output)
            except Exception:
                results = {}
        return {
            "status": "failed", "started": self.since, "finished": time.time(), "results": results, "html": None,
            "error": {"cell": None, "ename": type(exc).__name__,
                      "evalue": f"the Dask task failed: {str(exc)[:1500]}",
                      "traceback": "".join(traceback.format_exception(exc))[-4000:]},
        }

    def receive(self):
        return _recv(self.proc.stdout)

    def alive(self) -> bool:
        return self.future is None or self.future.status not in {"error", "cancelled", "lost"}

    def stop(self, kill: bool = False) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self.future is not None and not self.future.done():
            try:
                self.future.cancel()
            except Exception:
                pass
        for stream in (self._writer, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


class DaskPool:
    """A ``runner.WorkerPool`` whose chapters run on a Dask distributed cluster.

    ``scheduler``: a scheduler address (``tcp://HOST:PORT``) or an existing ``distributed.Client``;
    ``kernel``, ``cwd``: the playbook's kernel and the notebooks folder, as the runner computes them (the
    runner uses a pool only when both match; ``pool_for`` builds them); ``size``: chapters at once (default:
    the cluster's worker threads). Close it (or use ``with``) when done: ``runner.run`` leaves a passed pool
    running.
    """

    def __init__(self, scheduler, kernel: str, cwd: str, size: int | None = None, *, check_paths=(),
                 connect_timeout_s: float = 30):
        try:
            from distributed import Client
        except ImportError:
            raise ConfigError("--executor dask needs the 'distributed' package. Fix: pip install 'distributed>=2026.8'") from None
        self.kernel, self.cwd = kernel, cwd
        self.address = scheduler if isinstance(scheduler, str) else scheduler.scheduler.address
        if isinstance(scheduler, str):
            try:
                self.client = Client(scheduler, timeout=connect_timeout_s, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {exc}. Fix: start it with "
                                  "`dask scheduler` and give its address (tcp://HOST:8786)") from None
            self._own_client = True
        else:
            self.client, self._own_client = scheduler, False
        workers = self.client.scheduler_info().get("workers", {})
        if not workers:
            self.close()
            raise ConfigError(f"the Dask cluster at {self.address} has no workers. Fix: start some with "
                              f"`dask worker {self.address} --nthreads 1`")
        threaded = sorted(a for a, w in workers.items() if w.get("nthreads", 1) != 1)
        if threaded:
            self.close()
            raise ConfigError(f"Dask workers {', '.join(threaded)} run more than one thread; papermill changes the "
                              "working directory of its process, so chapters need one thread per worker. Fix: "
                              "`dask worker ADDRESS --nthreads 1` (add --nworkers N for N chapters at once)")
        self.check_paths([cwd, *check_paths])
        self.client.run(_warm_worker)
        self.size = max(1, int(size or len(workers)))
        self.workers: list[_Slot] = []  # the runner keeps a reference to this list: mutate it in place
        self.placements: dict[str, dict | None] = {}  # chapter -> where it last ran (worker, host, pid)

    def check_paths(self, paths) -> None:
        """Refuse to start when a worker cannot see a folder the chapters need (no shared filesystem)."""
        paths = [str(p) for p in paths if p]
        if not paths:
            return
        missing = {w: m for w, m in self.client.run(_sees_paths, paths).items() if m}
        if missing:
            worker, folders = next(iter(missing.items()))
            raise ConfigError(f"Dask worker {worker} cannot see {', '.join(folders)} ({len(missing)} worker(s) "
                              "affected). Fix: share these folders with every worker under the same paths (e.g. "
                              "an NFS mount at the same place)")

    def grow(self, ready: int) -> None:
        idle = sum(1 for w in self.workers if w.task is None)
        while ready > idle and len(self.workers) < self.size:
            self.workers.append(_Slot(self))
            idle += 1

    def replace(self, i: int) -> None:
        self.workers[i].stop(kill=True)
        self.workers[i] = _Slot(self)

    def close(self, kill: bool = False) -> None:
        for slot in getattr(self, "workers", []):
            slot.stop(kill=kill)
        self.workers = []
        if self._own_client:
            try:
                self.client.close()
            except Exception:
                pass

    def __enter__(self) -> "DaskPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close(kill=exc[0] is not None)


def pool_for(scheduler, *, size: int | None = None, playbook=None, records=None) -> DaskPool:
    """A DaskPool the runner will use for this playbook: its kernel and the notebooks folder as ``run`` sees them,
    checking that workers see the notebooks, the data root and the records root."""
    from ..core.paths import data_root, project_root, records_root
    from ..inputs.settings import load_playbook

    book = load_playbook(playbook)
    records_dir = Path(records).resolve() if records else records_root()
    records_dir.mkdir(parents=True, exist_ok=True)
    return DaskPool(scheduler, book.kernel, str(project_root() / "notebooks"), size,
                    check_paths=[data_root(), records_dir])


def scheduler_address(given: str | None) -> str:
    """The scheduler from ``--scheduler`` or $SPIKE_DASK_SCHEDULER."""
    address = given or os.environ.get(SCHEDULER_ENV)
    if not address:
        raise ConfigError(f"--executor dask needs a scheduler address. Fix: --scheduler tcp://HOST:8786 or set "
                          f"{SCHEDULER_ENV}")
    return address
