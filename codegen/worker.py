"""The compile worker: LLVM's part of cold kernel compiles runs in a process of its own.

Note [compile worker]: what a cold compile leaves in a process is mostly LLVM's (llvmlite
0.50's pass pipeline keeps ~65 KiB per kernel optimized, Note [unloading kernels] in
``jit.py``), and importing ``llvmlite.binding`` maps ~45 MB of LLVM (measured: RSS 11 -> 57 MB,
+106 mappings). So the user's process only writes each kernel's LLVM IR text (pure Python,
``llvmlite.ir``) and loads the finished shared library (``shlib.load``, as a disk-cache hit
does); everything that goes through ``llvmlite.binding`` (parsing, optimizing, emitting,
linking with ``ld``, the host's CPU name and features, the assembly ``explain`` shows) runs in
one worker process per user process:
  - started lazily by the first request (a warm process, every kernel on disk, never starts
    one), as a fresh interpreter (``sys.executable -I -c``, never a fork: the parent has
    threads and BLAS state) that imports only ``llvmlite`` and the few codegen modules LLVM's
    part needs (``llvm_compile``, ``llvm_host``, ``shlib``, ``vecmath_rare``; never ``adjit``'s
    ``__init__``), talking over its stdin/stdout pipes in length-prefixed pickles;
  - it runs the same functions as the in-process path (``llvm_compile.build``, the same target
    machine options of ``llvm_host``), so its bytes are the in-process bytes and disk entries
    are interchangeable;
  - recycled after ``RECYCLE_AFTER`` kernels (what LLVM keeps lives and dies with it), when it
    dies, and it exits by itself after ``IDLE_SECONDS`` without requests (the parent starts a
    new one ``IDLE_MARGIN`` seconds before, so it never sends to a worker about to quit) or
    when its parent's end of the pipe closes;
  - every read and write has a deadline (``TIMEOUT`` seconds a request, ``START_TIMEOUT`` to
    start): a worker that crashes or hangs while compiling a kernel is killed and raises a
    ``CodegenError`` naming the kernel and the worker's last stderr lines (kept in a
    temporary file), never a hang, so the executor runs that kernel on the NumPy reference
    (or names it, ``strict``); the next request starts a fresh worker. A worker found gone
    (or quit idle) before it read a request is replaced silently (the request sent again);
  - one request at a time (a lock), from any thread; a forked child never uses its parent's
    worker (``os.register_at_fork``): it starts its own;
  - off with ``ADJIT_COMPILE_WORKER=0`` (or ``worker.ENABLED = False``), and off where kernels
    are not shared libraries (no linker: MCJIT needs ``llvmlite.binding`` in the process
    anyway) or when a worker cannot be started (then for the rest of the process): LLVM runs
    in the user's process as before (``jit``).
Measured (llvmlite 0.50, 2 cores): a round trip costs ~0.9 ms a kernel against ~37 ms of
compiling it (median of 40 small kernels), starting a worker ~0.2 s (paid by the first cold
compile and every RECYCLE_AFTER kernels); a worker holds ~100 MB while it lives. 5,000 cold
signatures (``python -m adjit.benchmarks.compile_cache --modes cold``) take the user's process
from 65.9 to 68.6 MB (0.6 KiB each; in-process: 184.7 to 562.6 MB, 86 KiB each) in the same
time (148 s; in-process 152 s). Kernels are compiled one round trip each: batching a program's
kernels would save ~1 ms of 37 each, not worth its complexity.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import struct
import sys
import threading
import time
from typing import Any

ENABLED = True  # False: LLVM runs in this process (also ADJIT_COMPILE_WORKER=0)
RECYCLE_AFTER = 500  # kernels a worker compiles before it is replaced (~65 KiB kept each)
IDLE_SECONDS = 120.0  # a worker without requests this long exits
IDLE_MARGIN = 10.0  # the parent replaces a worker idle longer than IDLE_SECONDS - this
TIMEOUT = 600.0  # seconds a request may take before its worker counts as hung
START_TIMEOUT = 60.0  # seconds a new worker may take to answer its first request
FAULT: str | None = None  # test hook: "crash" or "hang" sent with the next compile requests
IN_WORKER = False  # set in the worker process itself
STATS = {"starts": 0, "compiles": 0, "requests": 0, "failures": 0}
_OFF = ("0", "off", "false", "no")
_LEN = struct.Struct("<Q")


class Unavailable(RuntimeError):
    """No worker could be started: LLVM runs in this process."""


def enabled() -> bool:
    """Whether cold compiles go to the worker now (Note [compile worker])."""
    if IN_WORKER or not ENABLED or _BROKEN[0]:
        return False
    if os.environ.get("ADJIT_COMPILE_WORKER", "1").strip().lower() in _OFF:
        return False
    from . import shlib

    return shlib.linker() is not None


def _codegen_error(message: str) -> Exception:
    from .lower import CodegenError

    return CodegenError(message)


# ---- framing (both sides) ----------------------------------------------------------------------
def _write_all(fd: int, data: bytes, deadline: float | None) -> None:
    view = memoryview(data)
    while view:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [fd], [], left)[1]:
                raise TimeoutError
        n = os.write(fd, view[: 1 << 16])
        view = view[n:]


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, left_bytes = [], n
    while left_bytes:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(left_bytes, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left_bytes -= len(chunk)
    return b"".join(chunks)


def _send(fd: int, message: Any, deadline: float | None) -> None:
    data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    _write_all(fd, _LEN.pack(len(data)) + data, deadline)


def _receive(fd: int, deadline: float | None) -> Any:
    (n,) = _LEN.unpack(_read_exact(fd, _LEN.size, deadline))
    return pickle.loads(_read_exact(fd, n, deadline))


# ---- the parent's side -------------------------------------------------------------------------
_BOOT = """
import json, sys, types
spec = json.loads(sys.argv[1])
sys.path[:0] = spec["path"]
for name, where in spec["packages"]:
    m = types.ModuleType(name); m.__path__ = where; m.__package__ = name; sys.modules[name] = m
import importlib
importlib.import_module(spec["module"]).serve(spec["idle"])
"""


class _Worker:
    """One worker process and its pipes."""

    def __init__(self) -> None:
        import subprocess
        import tempfile

        import llvmlite  # its location (the package only: not ``llvmlite.binding``)

        from .. import passes

        codegen = sys.modules[__package__]
        top = sys.modules[__package__.rpartition(".")[0]]
        spec = {
            "path": [os.path.dirname(os.path.dirname(llvmlite.__file__ or ""))],
            "packages": [
                (top.__name__, list(top.__path__)),
                (codegen.__name__, list(codegen.__path__)),
                (passes.__name__, list(passes.__path__)),
            ],
            "module": __name__,
            "idle": IDLE_SECONDS,
        }
        import json

        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT, json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.to, self.frm = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        os.set_blocking(self.to, False)
        self.compiled = 0
        self.owner = os.getpid()
        STATS["starts"] += 1
        try:  # it says so once LLVM is loaded
            ready = _receive(self.frm, time.monotonic() + START_TIMEOUT)
        except (EOFError, TimeoutError, OSError, pickle.UnpicklingError) as e:
            why = self.why() if not isinstance(e, TimeoutError) else "did not start in time"
            self.close(kill=True)
            raise Unavailable(f"the compile worker {why}") from e
        if ready != ("ready", self.proc.pid):
            self.close(kill=True)
            raise Unavailable(f"the compile worker said {ready!r} on starting")
        self.last_used = time.monotonic()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stale(self) -> bool:
        idle = time.monotonic() - self.last_used
        return self.compiled >= RECYCLE_AFTER or idle > IDLE_SECONDS - IDLE_MARGIN

    def ask(self, message: Any, timeout: float) -> Any:
        """Send ``message``, return the answer; EOFError/BrokenPipeError if the worker is gone,
        TimeoutError past the deadline."""
        deadline = time.monotonic() + timeout
        _send(self.to, message, deadline)
        answer = _receive(self.frm, deadline)
        self.last_used = time.monotonic()
        return answer

    def settle(self) -> None:
        """Wait briefly for a worker that closed its pipe to exit (so ``why`` can say how)."""
        import subprocess

        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)

    def why(self) -> str:
        """How the worker ended and the end of what it wrote to stderr."""
        code = self.proc.poll()
        if code is None:
            state = "was killed after not answering"
        elif code < 0:
            import signal

            try:
                state = f"died of {signal.Signals(-code).name}"
            except ValueError:
                state = f"died of signal {-code}"
        else:
            state = f"exited with status {code}"
        try:
            self.stderr.seek(0)
            tail = self.stderr.read()[-2000:].decode(errors="replace").strip()
        except OSError:
            tail = ""
        return f"{state}{': ' + tail if tail else ''}"

    def close(self, kill: bool = False) -> None:
        import subprocess

        if kill and self.proc.poll() is None:
            self.proc.kill()
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)  # it exits on end of input
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


_LOCK = threading.Lock()
_CURRENT: list[_Worker | None] = [None]
_EXIT_HOOK: list[bool] = []  # atexit registered
_BROKEN = [False]  # a worker could not be started: LLVM runs in this process from now on
_HOST: list[dict[str, str] | None] = [None]


def _worker() -> _Worker:
    """The live worker, started (or replaced) as needed; Unavailable if none can start."""
    w = _CURRENT[0]
    if w is not None and (not w.alive() or w.stale()):
        _CURRENT[0] = None
        w.close()
        w = None
    if w is None:
        try:
            w = _Worker()
        except Unavailable:
            _BROKEN[0] = True
            raise
        except (OSError, ImportError, ValueError) as e:
            _BROKEN[0] = True
            raise Unavailable(f"cannot start the compile worker: {e}") from e
        _CURRENT[0] = w
        if not _EXIT_HOOK:
            import atexit

            atexit.register(shutdown)
            os.register_at_fork(after_in_child=_forget_after_fork)
            _EXIT_HOOK.append(True)
    return w


def _forget_after_fork() -> None:
    """A forked child never talks to its parent's worker: it starts its own if it needs one
    (its copies of the pipes closed, so the parent's worker still sees the end of input)."""
    global _LOCK
    _LOCK = threading.Lock()  # it may have been held by another thread when forked
    w, _CURRENT[0] = _CURRENT[0], None
    if w is not None:
        for pipe in (w.proc.stdin, w.proc.stdout):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()


def _request(message: dict[str, Any], what: str) -> Any:
    """The worker's answer to ``message``; a CodegenError naming ``what`` if it crashes or
    hangs on it (the next request starts a fresh worker)."""
    with _LOCK:
        STATS["requests"] += 1
        for attempt in (0, 1):
            w = _worker()
            try:
                answer = w.ask(message, TIMEOUT)
            except (EOFError, TimeoutError, OSError, pickle.UnpicklingError) as e:
                _CURRENT[0] = None
                if isinstance(e, TimeoutError):
                    why = f"did not answer in {TIMEOUT:g} s (killed)"
                else:
                    w.settle()
                    why = w.why()
                w.close(kill=True)
                quit_first = isinstance(e, BrokenPipeError) or w.proc.returncode == 0
                if quit_first and attempt == 0:
                    continue  # it was gone (or quit idle) before it read it: a fresh one
                STATS["failures"] += 1
                raise _codegen_error(f"{what}: the compile worker {why}") from None
            if answer[0] == "ok":
                return answer[1]
            if answer[0] == "build":  # LLVM refused the kernel: the same error as in-process
                raise _codegen_error(answer[1])
            STATS["failures"] += 1
            raise _codegen_error(f"{what}: the compile worker failed: {answer[1]}")
        raise AssertionError("unreachable")


def host_info() -> dict[str, str] | None:
    """The host as the worker's LLVM sees it (``host``: the full host key, ``features``), or
    None where no worker can run (then ``llvm_host`` asks LLVM in this process)."""
    if _HOST[0] is None:
        try:
            _HOST[0] = _request({"op": "host"}, "the host key")
        except Exception:  # Unavailable, or it crashed (a CodegenError): ask LLVM here
            return None
    return _HOST[0]


def compile_kernel(
    ir_text: str, name: str, symbol: str, shared: bool = True
) -> tuple[str, str, bytes]:
    """``llvm_compile.build`` in the worker: (kind, optimized IR, code)."""
    message = {"op": "build", "args": (ir_text, name, symbol, shared), "fault": FAULT}
    result = _request(message, f"kernel {name}")
    with _LOCK:
        w = _CURRENT[0]
        if w is not None:
            w.compiled += 1
        STATS["compiles"] += 1
    return result  # type: ignore[no-any-return]


def assembly(optimized_ir: str, name: str) -> str:
    """``llvm_compile.assembly`` in the worker."""
    return _request({"op": "asm", "args": (optimized_ir,)}, f"kernel {name}")  # type: ignore[no-any-return]


def shutdown() -> None:
    """Stop the worker (at exit; tests)."""
    with _LOCK:
        w, _CURRENT[0] = _CURRENT[0], None
    if w is not None:
        w.close()


def current_pid() -> int | None:
    """The running worker's process id (tests, benchmarks)."""
    w = _CURRENT[0]
    return w.proc.pid if w is not None and w.alive() else None


# ---- the worker's side -------------------------------------------------------------------------
def _handle(message: dict[str, Any]) -> Any:
    from . import llvm_compile, llvm_host

    op = message["op"]
    if op == "host":
        return {"host": llvm_host._llvm_host_key(), "features": llvm_host.features()}
    if op == "build":
        fault = message.get("fault")
        if fault == "crash":
            os.abort()
        if fault == "hang":
            time.sleep(3600)
        return llvm_compile.build(*message["args"])
    if op == "asm":
        return llvm_compile.assembly(*message["args"])
    raise ValueError(f"unknown request {op!r}")


def serve(idle: float = IDLE_SECONDS) -> None:
    """The worker's loop: answer requests until end of input or ``idle`` seconds without one."""
    global IN_WORKER
    IN_WORKER = True
    import signal
    import traceback

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent's Ctrl-C is the parent's
    out = os.dup(1)
    os.dup2(2, 1)  # anything printed goes to stderr, never into the answers
    from . import llvm_compile

    llvm_compile.llvm()  # LLVM loaded before saying ready (an import error: no worker)
    _send(out, ("ready", os.getpid()), None)
    while True:
        if not select.select([0], [], [], idle)[0]:
            return  # idle: the parent starts a new one when it needs one
        try:
            message = _receive(0, None)
        except EOFError:
            return
        try:
            answer: tuple[Any, ...] = ("ok", _handle(message))
        except llvm_compile.BuildError as e:
            answer = ("build", str(e))
        except Exception as e:  # anything else: reported, the worker stays usable
            answer = ("error", f"{e!r}\n{traceback.format_exc(limit=5)}")
        _send(out, answer, None)
