"""Failure propagation: a rank that dies tells the others, so no rank waits forever."""

from __future__ import annotations

import atexit
import os
import sys
import sysconfig
import time
import traceback
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any


class DistError(RuntimeError):
    """PyTorch's ``torch.distributed.DistError``: an error in the distributed package."""


class DistBackendError(DistError):
    """PyTorch's ``DistBackendError``: the communication backend failed (here: another rank
    failed or left, or a collective timed out or disagreed between ranks)."""


class DistNetworkError(DistError):
    """PyTorch's ``DistNetworkError``."""


class DistStoreError(DistError):
    """PyTorch's ``DistStoreError``."""


# Note [failure propagation]
# With plain MPI a rank that raises leaves the others spinning inside a collective forever.
# init_process_group duplicates COMM_WORLD into a control communicator and installs two hooks:
# - sys.excepthook: after the usual traceback, the failing rank sends a FAILED notice (its rank,
#   the exception's type and text, the user's file:line) to every other rank, waits until each
#   other rank has answered with its own notice (at most FAILURE_GRACE seconds, or the timeout if
#   shorter) and calls MPI_Abort, so mpiexec exits non-zero. When every other rank has already
#   failed, or exited with none of its collectives unfinished, there is nobody left to stop and
#   the rank exits with status 1 instead: MPI_Abort ends mpiexec's forwarding of output at once,
#   and under load it lost the end of the rank's own traceback (its error line) about once in
#   50 runs. A rank that exited with a collective unfinished (issued with async_op=True, never
#   waited for) still sits in MPI_Finalize waiting for its peers' part: only MPI_Abort ends it.
# - atexit: a rank that exits (normally or by sys.exit), or destroy_process_group, sends an
#   EXITED notice with how many collectives it issued in each group and how many of them it
#   left unfinished.
# Every wait (Work.wait, and so every blocking collective) polls the control communicator
# between tests of its request: a FAILED notice raises DistBackendError "[rank 0]: rank 1
# failed: ValueError: boom (train.py:12)"; an EXITED notice from a rank that never issued the
# awaited collective raises "... exited without joining all_reduce #5". That error is itself
# uncaught in the waiting rank, whose excepthook answers the failed rank: both print and the
# job ends within a fraction of a second instead of hanging. A timeout bounds every wait.
FAILED, EXITED, QUERY, ANSWER = 1, 2, 3, 4
FAILURE_GRACE = 5.0  # seconds a failing rank waits for the others' answers before aborting


@dataclass
class Control:
    """The control communicator and what this rank has heard on it."""

    comm: Any  # a Dup of COMM_WORLD
    rank: int
    size: int
    failed: dict[int, str] = field(default_factory=dict)  # rank -> "ValueError: boom (f.py:3)"
    exited: dict[int, dict[str, int]] = field(default_factory=dict)  # rank -> issued per group
    stuck: set[int] = field(default_factory=set)  # exited ranks with collectives unfinished
    answers: dict[int, str] = field(default_factory=dict)  # rank -> what it is waiting in
    sends: list[Any] = field(default_factory=list)  # outstanding notice requests
    timeout: float = FAILURE_GRACE  # the default group's timeout (bounds the failure grace)
    waiting_in: Any = ""  # what this rank waits in now (its describe() answers a QUERY)
    issued: dict[str, int] = field(default_factory=dict)  # group name -> collectives issued
    pending: dict[str, Any] = field(default_factory=dict)  # group name -> its unfinished Works
    prev_hook: Any = None
    done: bool = False

    def send_all(self, tag: int, payload: Any) -> None:
        """``payload`` to every other rank (a failed one too: it waits for the answer)."""
        others = [r for r in range(self.size) if r != self.rank]
        self.sends += [self.comm.isend(payload, dest=r, tag=tag) for r in others]

    def poll(self) -> None:
        """Receive pending notices; answer queries. Never blocks."""
        MPI = sys.modules["mpi4py.MPI"]
        status = MPI.Status()
        while self.comm.iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=status):
            src, tag = status.Get_source(), status.Get_tag()
            payload = self.comm.recv(source=src, tag=tag)
            if tag == FAILED:
                self.failed[src] = payload
            elif tag == EXITED:
                self.exited[src], unfinished = payload
                if unfinished:
                    self.stuck.add(src)
            elif tag == QUERY:
                what = self.waiting_in.describe() if self.waiting_in else ""
                self.sends.append(self.comm.isend(what, dest=src, tag=ANSWER))
            elif tag == ANSWER:
                self.answers[src] = payload

    def raise_if_failed(self, what: str) -> None:
        """After poll(): DistBackendError if another rank has failed."""
        if self.failed:
            src = min(self.failed)
            raise DistBackendError(
                f"[rank {self.rank}]: rank {src} failed: {self.failed[src]}"
                f" (while rank {self.rank} waited in {what})"
            )

    def exited_notice(self) -> tuple[dict[str, int], int]:
        """What an EXITED notice carries: collectives issued per group, how many unfinished."""
        return dict(self.issued), sum(len(works) for works in self.pending.values())

    def query(self, seconds: float) -> dict[int, str]:
        """Ask every other rank what it is waiting in; the answers within ``seconds``."""
        self.answers = {}
        self.send_all(QUERY, self.rank)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and len(self.answers) < self.size - 1:
            self.poll()
            time.sleep(0.005)
        return dict(self.answers)

    def flush(self, seconds: float) -> None:
        """Complete outstanding notice sends (bounded)."""
        MPI = sys.modules["mpi4py.MPI"]
        deadline = time.monotonic() + seconds
        while self.sends and time.monotonic() < deadline:
            self.sends = [r for r in self.sends if not r.Test()]
            time.sleep(0.001)
        for r in self.sends:
            r.Cancel()
        self.sends = []
        del MPI


_control: Control | None = None


def control() -> Control | None:
    return _control


def _library_dirs() -> tuple[str, ...]:
    """adjit's folders (adjit/ and the compiler folders mapped into it), the standard library
    and site-packages: frames there are not the user's."""
    names = (
        "adjit",
        "adjit.runtime",
        "adjit.frontend",
        "adjit.ir",
        "adjit.passes",
        "adjit.codegen",
    )
    dirs = [os.path.dirname(m.__file__) for n in names if (m := sys.modules.get(n)) and m.__file__]
    paths = sysconfig.get_paths()
    dirs += [paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths]
    return tuple(os.path.join(os.path.abspath(d), "") for d in dirs)


def where(tb: TracebackType | None) -> str:
    """file:line of the innermost frame of the user's code, else the innermost frame."""
    frames = traceback.extract_tb(tb)
    library = _library_dirs()
    user = [f for f in frames if not os.path.abspath(f.filename).startswith(library)]
    chosen = user or list(frames)
    if not chosen:
        return ""
    return f" ({os.path.basename(chosen[-1].filename)}:{chosen[-1].lineno})"


def _excepthook(etype: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    ctl = _control
    prev = ctl.prev_hook if ctl is not None else sys.__excepthook__
    prev(etype, value, tb)
    if ctl is None or ctl.done:
        return
    sys.stderr.flush()
    ctl.done = True
    text = str(value).split("\n")[0]
    ctl.send_all(FAILED, f"{etype.__name__}: {text}{where(tb)}")
    deadline = time.monotonic() + min(FAILURE_GRACE, ctl.timeout)
    others = set(range(ctl.size)) - {ctl.rank}
    while time.monotonic() < deadline and not others <= set(ctl.failed) | set(ctl.exited):
        ctl.poll()
        time.sleep(0.002)
    ctl.flush(0.5)
    if others <= set(ctl.failed) | (set(ctl.exited) - ctl.stuck):  # nobody to stop (the Note)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
    sys.modules["mpi4py.MPI"].COMM_WORLD.Abort(1)


def _atexit() -> None:
    ctl = _control
    if ctl is None or ctl.done:
        return
    ctl.done = True
    ctl.send_all(EXITED, ctl.exited_notice())
    ctl.flush(1.0)


def install(comm: Any, timeout: float) -> Control:
    """Start listening for notices on a Dup of ``comm`` (COMM_WORLD); install the hooks."""
    global _control
    ctl = Control(comm.Dup(), comm.Get_rank(), comm.Get_size(), timeout=timeout)
    ctl.prev_hook = sys.excepthook
    _control = ctl
    if ctl.size > 1:
        sys.excepthook = _excepthook
        atexit.register(_atexit)
    return ctl


def uninstall() -> None:
    """destroy_process_group: stop listening; the hooks go."""
    global _control
    ctl = _control
    if ctl is None:
        return
    if sys.excepthook is _excepthook:
        sys.excepthook = ctl.prev_hook
    atexit.unregister(_atexit)
    if ctl.size > 1 and not ctl.done:  # a peer still waiting for this rank hears it left
        ctl.done = True
        ctl.send_all(EXITED, ctl.exited_notice())
    ctl.flush(1.0)
    ctl.comm.Free()
    _control = None
