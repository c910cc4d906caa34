"""The project's Jupyter kernel: registration and a launcher that pre-imports the heavy libraries.

Every chapter notebook runs in a fresh kernel (chapters stay isolated), so the import of pandas, scipy,
matplotlib and seaborn is paid once per chapter. Doing it in the launcher, before the kernel announces
itself, lets the runner start the next chapter's kernel while the current chapter still runs and hide
that cost (see spikekit.engine.runner and benchmarks/results/playbook.md).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import uuid
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
    "spikekit.inputs.contracts",
    "spikekit.core.stats",
    "spikekit.core.plots",
    "spikekit.chapters.early_warning",
    "spikekit.chapters.validation",
    "spikekit.chapters.supplier_launch",
    "spikekit.chapters.inventory",
    "spikekit.chapters.logistics",
    "spikekit.chapters.exit",
    "spikekit.chapters.data_room",
    "spikekit.chapters.content",
    "spikekit.chapters.cash",
    "spikekit.chapters.team",
)


def kernel_spec(python: str | None = None) -> dict:
    return {
        "argv": [python or sys.executable, "-m", "spikekit.engine.kernel", "launch", "-f", "{connection_file}"],
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


INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def _preimport() -> None:
    import importlib
    import os

    # pyplot fixes its backend when first imported: choose the inline one ipykernel would choose, so
    # figures still come out as images in executed notebooks (an Agg backend here would silently drop them).
    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")  # see spikekit/__init__.py
    for name in PREIMPORTS:
        try:
            importlib.import_module(name)
        except Exception:  # a broken optional import must not stop the kernel; the notebook will say
            pass
    try:  # register the CJK font once here rather than in the chapter's first figure
        from spikekit.core.plots import cjk_font

        cjk_font()
    except Exception:
        pass


def launch(argv: list[str]) -> None:
    _preimport()
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=argv)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in {"install", "launch", "zygote"}:
        print("usage: python -m spikekit.engine.kernel install | launch -f CONNECTION_FILE | zygote", file=sys.stderr)
        raise SystemExit(2)
    if argv[0] == "install":
        print(f"[setup] Jupyter kernel '{KERNEL_NAME}' registered in {install()}")
    elif argv[0] == "zygote":
        zygote_main()
    else:
        launch(argv[1:])


# ----------------------------------------------------------------------------------------------------------
# Fork server ("zygote"): a fresh kernel per chapter without paying the interpreter start and imports again.
#
# One zygote per runner worker imports ipykernel and PREIMPORTS once (imports only: no zmq context, no event
# loop, no threads), then forks a brand-new kernel process per request. Each child reseeds the RNGs, applies
# the kernel's env and cwd, and runs ipykernel on its own connection file; the zygote never runs user code,
# so no chapter sees another's state. Linux only (fork after heavy imports is unsafe on macOS, absent on
# Windows); SPIKE_KERNEL_FORK=0 switches it off.
# ----------------------------------------------------------------------------------------------------------
FORK_ENV = "SPIKE_KERNEL_FORK"


def fork_supported() -> bool:
    import os

    return (sys.platform.startswith("linux") and hasattr(os, "fork") and hasattr(os, "pidfd_open")
            and os.environ.get(FORK_ENV, "1").strip().lower() not in {"0", "false", "no", "off"})


def _send_msg(stream, obj) -> None:
    import pickle
    import struct

    blob = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("!Q", len(blob)) + blob)
    stream.flush()


def _recv_msg(stream):
    import pickle
    import struct

    head = stream.read(8)
    if len(head) < 8:
        raise EOFError
    (size,) = struct.unpack("!Q", head)
    blob = stream.read(size)
    if len(blob) < size:
        raise EOFError
    return pickle.loads(blob)


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent dies (a runner killed with -9 takes everything along)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _status_code(status: int) -> int:
    """waitpid status as a Popen returncode (negative signal number when killed)."""
    import os

    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def zygote_main() -> None:
    """The fork server: requests on stdin, answers on the original stdout, everything else to stderr."""
    import os
    import signal
    import threading

    parent = os.getppid()
    _die_with_parent()
    if os.getppid() != parent:  # the worker died before prctl took effect
        os._exit(1)
    requests = os.fdopen(os.dup(0), "rb")
    answers = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)  # library prints must not corrupt the protocol
    _preimport()
    from ipykernel import kernelapp  # noqa: F401  (import only: the app is created in each child)

    finished: dict[int, int] = {}
    live: set[int] = set()

    def reap(*_):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            finished[pid] = _status_code(status)
            live.discard(pid)

    signal.signal(signal.SIGCHLD, reap)
    threads = threading.active_count()
    try:
        while True:
            try:
                req = _recv_msg(requests)
            except EOFError:
                break
            if req is None:
                break
            op = req.get("op")
            if op == "spawn":
                if threading.active_count() != 1:  # never fork with threads running (locks held mid-flight)
                    _send_msg(answers, {"error": f"zygote has {threading.active_count()} threads"})
                    continue
                pid = os.fork()
                if pid == 0:
                    _become_kernel(req, (requests, answers), parent_pid=os.getppid())
                try:  # set the group on both sides of the fork, so it is certain before we answer
                    os.setpgid(pid, pid)
                except OSError:
                    pass
                live.add(pid)
                _send_msg(answers, {"pid": pid})
            elif op == "status":
                reap()
                pid = req["pid"]
                if pid in finished:
                    _send_msg(answers, {"returncode": finished[pid]})
                elif pid in live:
                    _send_msg(answers, {"returncode": None})
                else:
                    _send_msg(answers, {"returncode": None, "unknown": True})
            elif op == "info":
                _send_msg(answers, {"pid": os.getpid(), "threads": threads, "live": sorted(live)})
            else:
                _send_msg(answers, {"error": f"unknown op {op!r}"})
    finally:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for pid in list(live):  # kernels never outlive their zygote
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        for pid in list(live):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
    os._exit(0)


def _become_kernel(req: dict, inherited: tuple, parent_pid: int) -> None:
    """In the forked child: become a fresh kernel process, then exit (never return into the zygote loop)."""
    import os
    import random
    import signal
    import traceback

    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # interrupts reach the kernel's cells
        try:
            os.setpgid(0, 0)
        except OSError:
            pass
        _die_with_parent()
        if os.getppid() != parent_pid:
            os._exit(1)
        for stream in inherited:
            try:
                os.close(stream.fileno())
            except OSError:
                pass
        os.environ.clear()
        os.environ.update(req.get("env") or {})
        os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
        os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
        os.chdir(req.get("cwd") or os.getcwd())
        random.seed()  # from os.urandom: no two kernels share the zygote's RNG state
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()
        argv = list(req["argv"])
        # ipykernel read JPY_PARENT_PID when the zygote imported it; the parent to watch is the zygote, and
        # saying there is one also keeps the `ipython kernel` console banner out of the logs.
        argv.append(f"--IPKernelApp.parent_handle={parent_pid}")
        sys.argv = [sys.executable, "-m", "spikekit.engine.kernel", "launch", *argv]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance(argv=argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            import atexit

            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass
        os._exit(code)


class ForkServer:
    """Runner-worker side of a zygote: start it, ask it for kernels, stop it (and every kernel it forked)."""

    def __init__(self, cwd: str | None = None, python: str | None = None):
        import subprocess
        import threading

        self.proc = subprocess.Popen([python or sys.executable, "-m", "spikekit.engine.kernel", "zygote"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=cwd)
        self.lock = threading.Lock()
        self.failed: str | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def request(self, msg: dict) -> dict:
        with self.lock:
            if self.failed:
                raise RuntimeError(self.failed)
            try:
                _send_msg(self.proc.stdin, msg)
                answer = _recv_msg(self.proc.stdout)
            except (EOFError, OSError, ValueError) as exc:
                self.failed = f"kernel fork server stopped ({type(exc).__name__})"
                raise RuntimeError(self.failed) from None
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def alive(self) -> bool:
        return self.proc.poll() is None and not self.failed

    def spawn(self, argv: list[str], cwd: str, env: dict) -> "ForkedKernel":
        answer = self.request({"op": "spawn", "argv": list(argv), "cwd": cwd, "env": dict(env)})
        return ForkedKernel(self, answer["pid"])

    def close(self) -> None:
        import subprocess

        try:
            with self.lock:
                _send_msg(self.proc.stdin, None)
                self.proc.stdin.close()
        except (OSError, ValueError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for stream in (self.proc.stdout,):
            try:
                stream.close()
            except OSError:
                pass


class ForkedKernel:
    """A Popen look-alike for a kernel forked by the zygote (not our child: watched through a pidfd)."""

    stdin = stdout = stderr = None

    def __init__(self, server: ForkServer, pid: int):
        import os

        self.server, self.pid, self.returncode = server, pid, None
        self.pidfd = os.pidfd_open(pid)

    def _exited(self, timeout: float = 0) -> bool:
        import select

        if self.pidfd is None:
            return True
        readable, _, _ = select.select([self.pidfd], [], [], timeout)
        return bool(readable)

    def poll(self) -> int | None:
        if self.returncode is None and self._exited():
            try:
                code = self.server.request({"op": "status", "pid": self.pid}).get("returncode")
            except RuntimeError:
                code = None
            self.returncode = code if code is not None else -9  # gone, status unknown: say killed
            self._close()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        import subprocess

        if self.returncode is None and not self._exited(timeout):
            raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
        return self.poll()

    def send_signal(self, signum: int) -> None:
        import signal

        if self.returncode is None and self.pidfd is not None:
            signal.pidfd_send_signal(self.pidfd, signum)

    def kill(self) -> None:
        import signal

        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        import signal

        self.send_signal(signal.SIGTERM)

    def _close(self) -> None:
        import os

        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


IPC_PATH_MAX = 100  # a Unix socket path holds about 104-108 bytes; the kernel appends "-<port>"


def ipc_socket_base() -> str | None:
    """Where a kernel's Unix sockets go ("<base>-<n>"), or None where the platform has no Unix sockets.

    Over IPC a kernel talks through files only its user can open, instead of plain TCP on localhost, which
    ipykernel rightly warns about on every start. The base is absolute: kernel and client have different cwds.
    """
    import socket

    if not hasattr(socket, "AF_UNIX") or os.name == "nt":
        return None
    from jupyter_core.paths import jupyter_runtime_dir

    folder = jupyter_runtime_dir()
    base = os.path.join(folder, f"spk-{uuid.uuid4().hex[:12]}-ipc")
    if len(base) + 6 > IPC_PATH_MAX:  # a deep home folder: fall back to the short temp folder
        folder = tempfile.gettempdir()
        base = os.path.join(folder, f"spk-{uuid.uuid4().hex[:12]}-ipc")
        if len(base) + 6 > IPC_PATH_MAX:
            return None
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return base


def new_kernel_manager(kernel_name: str, cls=None):
    """A kernel manager (``cls``, default AsyncKernelManager) whose kernel runs over IPC where it can."""
    if cls is None:
        from jupyter_client.manager import AsyncKernelManager as cls
    base = ipc_socket_base()
    if base is None:
        return cls(kernel_name=kernel_name)
    return cls(kernel_name=kernel_name, transport="ipc", ip=base)


def fork_kernel_manager_class():
    """An AsyncKernelManager whose kernels come from a ForkServer (set ``fork_server`` before starting)."""
    global _FORK_KM
    if _FORK_KM is not None:
        return _FORK_KM
    import os
    import uuid

    from jupyter_client.manager import AsyncKernelManager
    from jupyter_client.provisioning import LocalProvisioner

    class ForkProvisioner(LocalProvisioner):
        fork_server: ForkServer | None = None

        async def launch_kernel(self, cmd: list[str], **kwargs):
            # Only our own kernel spec is forked: its argv is `... -m spikekit.engine.kernel launch <args>`.
            tail = _launch_args(cmd)
            if self.fork_server is None or tail is None:
                return await super().launch_kernel(cmd, **kwargs)
            env = kwargs.get("env") or dict(os.environ)
            cwd = str(kwargs.get("cwd") or os.getcwd())
            self.process = self.fork_server.spawn(tail, cwd, env)
            self.pid = self.pgid = self.process.pid
            self.cwd = cwd
            return self.connection_info

    class ForkKernelManager(AsyncKernelManager):
        fork_server: ForkServer | None = None

        @property
        def launch_method(self) -> str:
            process = getattr(self.provisioner, "process", None)
            return "fork" if isinstance(process, ForkedKernel) else "spawn"

        async def _async_pre_start_kernel(self, **kw):
            if self.provisioner is None and self.fork_server is not None:
                self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
                provisioner = ForkProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
                provisioner.fork_server = self.fork_server
                self.provisioner = provisioner
            return await super()._async_pre_start_kernel(**kw)

    _FORK_KM = ForkKernelManager
    return _FORK_KM


_FORK_KM = None


def _launch_args(cmd: list[str]) -> list[str] | None:
    for i in range(len(cmd) - 2):
        if cmd[i] == "-m" and cmd[i + 1].startswith("spikekit.") and cmd[i + 1].endswith(".kernel") and cmd[i + 2] == "launch":
            return list(cmd[i + 3:])
    return None


if __name__ == "__main__":
    main()
