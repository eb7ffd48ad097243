"""Async work handles: issue a collective in two stages (signature, data) and wait by polling."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import numpy as np

from adjit.distributed import failure, signature
from adjit.distributed.failure import DistBackendError
from adjit.distributed.group import ProcessGroup
from adjit.distributed.signature import Signature, disagreement

SPIN_SECONDS = 2e-3  # a wait polls flat out this long, then yields the CPU between polls
YIELD_SECONDS = 2e-2  # ... until this long, then sleeps between polls (growing to 1 ms)
EXIT_GRACE = 1.0  # seconds a wait on a rank that has exited goes on (its data may be in flight)
QUERY_SECONDS = 0.25  # how long a timed-out wait waits for the other ranks' answers


# Note [waiting by polling]
# Every wait tests its MPI request in a loop instead of blocking in MPI_Wait, so that between
# tests it can (a) notice another rank's failure notice (Note [failure propagation]), (b) give up
# at the group's timeout, naming what the other ranks wait in (they answer a query from inside
# their own waits; a rank that answers nothing is computing or gone) and (c) progress the other
# pending collectives of the group in issue order (Note [collective signature]). For SPIN_SECONDS
# the loop polls flat out (what MPI_Wait does), then yields the CPU between turns, then sleeps
# (growing to 1 ms) so that a rank waiting for a slow peer leaves the core to it. A 4-byte
# all_reduce on 2 ranks takes 21-43 us (medians of runs on this shared 2-core machine; MPI's
# own Allreduce 2 us; without the signature exchange 10-20 us); means are several times the
# medians, from a rank descheduled now and then for milliseconds (tests/distributed/ranks_bench.py).
class Work:
    """PyTorch's ``Work``: the handle ``async_op=True`` returns; ``wait()`` completes it."""

    def __init__(
        self,
        pg: ProcessGroup,
        sig: Signature,
        body: Callable[[], Iterator[Any]],
        result: list[Any] | None = None,
    ) -> None:
        self.pg = pg
        self.sig = sig
        self._body = body  # yields MPI requests one after another, then copies results out
        self._steps: Iterator[Any] | None = None
        self._result = result or []
        self._request: Any = None
        self._stage = "signature"  # -> "data" -> "done" | "failed"
        self._error: BaseException | None = None
        self._sigs: np.ndarray | None = None
        self._exited_seen = 0.0  # when a peer's EXITED notice was first seen by a wait

    def _issue(self) -> None:
        """Assign the sequence number and start the signature exchange."""
        pg = self.pg
        pg.seq += 1
        self.sig.seq = pg.seq
        ctl = failure.control()
        if ctl is not None:
            ctl.issued[pg.group_name] = pg.seq
            ctl.pending[pg.group_name] = pg.pending
        pg.pending.append(self)
        if pg.size() == 1 or not signature.CHECK:  # nothing to agree on
            self._stage = "ready"
        else:
            self._sigs = np.empty((pg.size(), self.sig.array.size), np.int64)
            self._request = pg.sig_comm.Iallgather(self.sig.array, self._sigs)
        progress(pg)

    def _advance(self) -> bool:
        """One step if it can; False when this work blocks the works issued after it."""
        if self._stage == "signature":
            if not self._request.Test():
                return False
            assert self._sigs is not None
            problem = disagreement(self._sigs, self.pg)
            if problem is not None:
                self._fail(DistBackendError(f"[rank {self.pg.rank()}]: {problem}"))
                return True
            self._stage = "ready"
        if self._stage == "ready":
            self._steps = self._body()
            self._stage = "data"
            self._request = None
        while self._stage == "data" and (self._request is None or self._request.Test()):
            try:
                self._request = next(self._steps)  # type: ignore[arg-type]
            except StopIteration:
                self._request = None
                self._stage = "done"
                if self in self.pg.pending:
                    self.pg.pending.remove(self)
            except Exception as e:  # raised by wait(), wherever the progress happened
                self._fail(e)
        return True

    def _poll(self) -> None:
        progress(self.pg)

    def _fail(self, error: BaseException) -> None:
        self._error = error
        self._stage = "failed"
        if self in self.pg.pending:
            self.pg.pending.remove(self)

    # ---- PyTorch's Work API -------------------------------------------------------------
    def is_completed(self) -> bool:
        self._poll()
        return self._stage in ("done", "failed")

    def is_success(self) -> bool:
        return self.is_completed() and self._error is None

    def exception(self) -> BaseException | None:
        return self._error

    def result(self) -> list[Any]:
        return list(self._result)

    def source_rank(self) -> int:
        return int(self.sig.root)

    def wait(self, timeout: timedelta | None = None) -> bool:
        """Block until done; raises if the collective failed here or in another rank, or
        timed out (``timeout``, else the group's)."""
        span = (timeout if timeout else self.pg.timeout).total_seconds()
        ctl = failure.control()
        start = time.monotonic()
        deadline = start + span
        naps = 0
        while self._stage not in ("done", "failed"):
            self._poll()
            if self._stage in ("done", "failed"):
                break
            if ctl is not None:
                ctl.waiting_in = self
                ctl.poll()
                if ctl.failed:
                    ctl.raise_if_failed(self.describe())
                if ctl.exited:
                    self._check_exited(ctl)
            now = time.monotonic()
            if now > deadline:
                raise self._timed_out(span, ctl)
            if now - start > YIELD_SECONDS:
                naps += 1
                time.sleep(min(1e-3, 1e-5 * naps))
            elif now - start > SPIN_SECONDS:
                os.sched_yield()
        if ctl is not None:
            ctl.waiting_in = ""
        if self._error is not None:
            raise self._error
        return True

    def describe(self) -> str:
        """The collective in messages: ``all_reduce(float32[4], op=SUM) #3``."""
        return self.sig.describe()

    def get_future(self) -> Future:
        return Future(self)

    def _check_exited(self, ctl: failure.Control) -> None:
        """A rank of the group that exited before issuing this collective never will; one that
        issued it and exited without waiting gets EXIT_GRACE seconds to have done its part."""
        for r in self.pg.ranks:
            issued = ctl.exited.get(r)
            if issued is None:
                continue
            count = issued.get(self.pg.group_name, 0)
            if count < self.sig.seq:
                raise DistBackendError(
                    f"[rank {ctl.rank}]: rank {r} exited without joining {self.describe()} "
                    f"(it issued {count} collectives in this group)"
                )
            now = time.monotonic()
            self._exited_seen = self._exited_seen or now
            if now - self._exited_seen > EXIT_GRACE:
                raise DistBackendError(
                    f"[rank {ctl.rank}]: rank {r} exited without completing {self.describe()} "
                    "(it issued it with async_op=True and never waited for it)"
                )

    def _timed_out(self, span: float, ctl: failure.Control | None) -> DistBackendError:
        me = self.pg.rank()
        text = f"[rank {me}]: {self.describe()} timed out after {span:g} s"
        if ctl is not None:
            answers = ctl.query(QUERY_SECONDS)
            others = [r for r in self.pg.ranks if r != ctl.rank]
            silent = [r for r in others if r not in answers]
            busy = [f"rank {r} waits in {answers[r] or 'nothing'}" for r in others if r in answers]
            if silent:
                text += f"; ranks that have not joined: {silent} (not waiting in any collective)"
            if busy:
                text += "; " + "; ".join(busy)
        return DistBackendError(text)

    def __repr__(self) -> str:
        return f"<adjit.distributed.Work {self.describe()} {self._stage}>"


class Future:
    """``Work.get_future()``: ``wait()`` returns the work's result (its output tensors)."""

    def __init__(self, work: Work) -> None:
        self._work = work

    def wait(self) -> list[Any]:
        self._work.wait()
        return self._work.result()

    def value(self) -> list[Any]:
        return self.wait()

    def done(self) -> bool:
        return self._work.is_completed()

    def then(self, callback: Callable[[Future], Any]) -> Future:
        raise NotImplementedError("adjit.distributed Future.then: not supported (call wait())")


def progress(pg: ProcessGroup) -> None:
    """Advance the group's pending works in issue order (data transfers start in that order
    in every rank: Note [collective signature])."""
    pending = pg.pending
    if len(pending) == 1:  # the common case: one collective in flight
        pending[0]._advance()
        return
    for work in list(pending):
        if not work._advance():
            break


def run(work: Work, async_op: bool) -> Work | None:
    """Issue ``work``; wait for it unless ``async_op``."""
    work._issue()
    if async_op:
        return work
    work.wait()
    return None
