"""Timings on N ranks (reported, not asserted): small all_reduce latency, 4 MB bandwidth, and
what the signature exchange costs (Note [collective signature]).

Each call is timed alone and the median reported: on a shared 2-core machine a rank is now
and then descheduled for milliseconds, which dominates means. Run:
``mpiexec -n 2 python tests/distributed/ranks_bench.py``."""

from __future__ import annotations

import statistics
import time

import numpy as np

import adjit
import adjit.distributed as dist
from adjit.distributed import signature

dist.init_process_group("mpi")
from mpi4py import MPI  # noqa: E402  (initialized by init_process_group)

RANK = dist.get_rank()
COMM = MPI.COMM_WORLD.Dup()


def median_call(fn, n: int) -> float:
    """Median seconds of ``n`` calls, each timed alone (after a barrier and a warm-up)."""
    COMM.Barrier()
    for _ in range(max(3, n // 10)):
        fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def raw_polled(buf: np.ndarray) -> None:
    req = COMM.Iallreduce(MPI.IN_PLACE, [buf, MPI.FLOAT], MPI.SUM)
    while not req.Test():
        pass


def unchecked(t: adjit.Tensor) -> None:
    signature.CHECK = False
    try:
        dist.all_reduce(t)
    finally:
        signature.CHECK = True


small, raw = adjit.ones(1), np.ones(1, np.float32)
big, raw_big = adjit.ones(1 << 20), np.ones(1 << 20, np.float32)  # 4 MB of float32
rows = {}
for _ in range(3):  # interleaved repeats; the median of the three medians is reported
    for name, fn, n in [
        ("4 B all_reduce: adjit.distributed", lambda: dist.all_reduce(small), 3000),
        ("4 B all_reduce: adjit.distributed without the signature", lambda: unchecked(small), 3000),
        ("4 B all_reduce: mpi4py Iallreduce + Test loop", lambda: raw_polled(raw), 3000),
        ("4 B all_reduce: mpi4py Allreduce", lambda: COMM.Allreduce(MPI.IN_PLACE, raw), 3000),
        ("4 MB all_reduce: adjit.distributed", lambda: dist.all_reduce(big), 40),
        ("4 MB all_reduce: mpi4py Allreduce", lambda: COMM.Allreduce(MPI.IN_PLACE, raw_big), 40),
    ]:
        rows.setdefault(name, []).append(median_call(fn, n))
if RANK == 0:
    for name, secs in rows.items():
        sec = statistics.median(secs)
        rate = f"  ({4 * (1 << 20) / sec / 1e9:.2f} GB/s)" if "4 MB" in name else ""
        print(f"{name}: {sec * 1e6:.1f} us{rate}", flush=True)
dist.destroy_process_group()
