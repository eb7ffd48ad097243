"""Rank script of test_failures.py: rank 1 misbehaves as argv[1] says; rank 0 all-reduces."""

from __future__ import annotations

import os
import sys
import time

import adjit
import adjit.distributed as dist

MODE = sys.argv[1]
if MODE == "before-init" and os.environ.get("PMI_RANK") == "1":
    raise ValueError("failed before init_process_group")  # rank 0 must not wait in MPI_Init
if MODE == "init" and os.environ.get("PMI_RANK") == "1":
    os.environ["RANK"] = "5"  # rank 1's init fails its check: rank 0 must not hang
dist.init_process_group("mpi")
rank = dist.get_rank()
print(f"rank {rank} started", flush=True)
if rank == 1:
    if MODE == "raise":
        raise ValueError("boom")
    if MODE == "exit":
        sys.exit(0)
    if MODE == "never":
        time.sleep(60)  # never joins: rank 0's wait times out
if MODE == "async-exit" and rank == 1:
    dist.all_reduce(adjit.ones(4), async_op=True)  # never waited: rank 1 then exits
    sys.exit(0)
if MODE == "deadlock":  # each rank receives from the other first: both time out
    dist.recv(adjit.zeros(2), src=1 - rank)
dist.all_reduce(adjit.ones(4))
print(f"rank {rank} finished", flush=True)
