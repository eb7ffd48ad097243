"""Contenders in processes of their own, driven by the harness through a pipe (Note [one process a
contender])."""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from .harness import Outputs, Setup, Unavailable, sample, settle, to_numpy

# Note [one process a contender]
# Timed in one process at 2 threads, the libraries' thread pools fought: PyTorch's OpenMP
# workers, OpenBLAS's (NumPy), XLA's and adjit's all lived there, and whoever ran found the
# others' threads spinning or asleep on the core it wanted (W2 batch 128 at 2 threads: PyTorch
# eager 7.3-13.1 ms against 1.8 at 1 thread; its MKL GEMM floor 5.5 against 0.8). Loading
# PyTorch also binds the OpenMP symbols every later library resolves. So at more than one
# thread each contender of a case (and each GEMM floor) runs in a process of its own, spawned
# (not forked: no library's threads or state cross over) with the thread settings of
# harness.thread_env. The child rebuilds the case from (workload, preset, size index), sets up
# its contender, and answers the parent: the first call's outputs (NumPy arrays, checked in
# the parent as before), then samples of n calls, timed in the child (wall and CPU seconds).
# After each sample the child waits until its own threads are quiet (harness.settle) before it
# answers, so the next contender starts on a quiet machine; the rounds stay interleaved. Only
# adjit's children skip importing PyTorch (Note [torch before MKL] in peers.py concerns
# processes that load both).


class ChildFailed(Exception):
    """A contender's process failed; the message names the child's exception type."""


class RemoteStep:
    """The parent's handle on a contender running in its own process."""

    def __init__(self, process: Any, conn: Connection) -> None:
        self.process, self.conn = process, conn
        self.called = False

    def _ask(self, *message: Any) -> Any:
        self.conn.send(message)
        reply = self.conn.recv()
        if reply[0] == "failed":
            raise _failure(reply[1], reply[2])
        return reply[1:]

    def __call__(self) -> Outputs:
        """The first call: the child's outputs; later ones: one call, no outputs."""
        if self.called:
            self.sample(1)
            return ()
        self.called = True
        (outputs,) = self._ask("first")
        return tuple(outputs)

    def sample(self, n: int) -> tuple[float, float]:
        """``n`` calls in the child: (wall seconds, CPU seconds), measured there."""
        wall, cpu = self._ask("run", n)
        return float(wall), float(cpu)

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):  # (a child that exited)
            self.conn.send(("stop",))
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def _failure(kind: str, text: str) -> Exception:
    """The child's exception, named by its type (harness._first_line prints the name)."""
    return type(kind, (ChildFailed,), {})(text)


def remote(origin: tuple[str, str, int], name: str, threads: int, opened: list[Any]) -> Setup:
    """A Setup starting contender (or floor) ``name`` of the case ``origin`` (workload, preset,
    size index) in a process of its own with ``threads`` threads; its step is added to
    ``opened`` (the caller stops them all)."""

    def setup() -> RemoteStep:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        process = ctx.Process(target=_child, args=(child, origin, name, threads), daemon=True)
        process.start()
        child.close()
        try:
            reply = parent.recv()
        except EOFError:
            process.join()
            raise ChildFailed(f"the process of {name!r} exited ({process.exitcode})") from None
        step = RemoteStep(process, parent)
        opened.append(step)
        if reply[0] != "ready":
            if reply[0] == "unavailable":
                raise Unavailable(reply[1])
            raise _failure(reply[1], reply[2])
        return step

    return setup  # type: ignore[return-value]


def _child(conn: Connection, origin: tuple[str, str, int], name: str, threads: int) -> None:
    """A contender's process: set the threads, build its case and step, answer the parent."""
    from . import peers

    peers.set_threads(threads, load_torch=not name.startswith("adjit"))
    try:
        step = _setup(origin, name)()
    except Unavailable as e:
        conn.send(("unavailable", str(e)))
        return
    except Exception as e:  # noqa: BLE001 -- reported to the parent, which marks it failed
        conn.send(("failed", type(e).__name__, str(e)))
        return
    conn.send(("ready",))
    _serve(conn, step)


def _setup(origin: tuple[str, str, int], name: str) -> Setup:
    from .suite import WORKLOADS

    workload, preset, index = origin
    w = WORKLOADS[workload]
    assert w.build is not None
    case = w.build(w.sizes[preset][index])
    return case.contenders.get(name) or case.floors[name]


def _serve(conn: Connection, step: Callable[[], Outputs]) -> None:
    while True:
        message = conn.recv()
        try:
            if message[0] == "stop":
                return
            if message[0] == "first":
                reply: tuple[Any, ...] = ("out", tuple(to_numpy(v) for v in step()))
            else:
                reply = ("ran", *sample(step, message[1]))
        except Exception as e:  # noqa: BLE001 -- reported to the parent
            reply = ("failed", type(e).__name__, str(e))
        settle()  # quiet before the next contender runs (Note [one process a contender])
        conn.send(reply)
