"""Rank script of test_launcher.py: prints its rank and arguments; rank 1 exits with argv[1]."""

from __future__ import annotations

import sys

import adjit
import adjit.distributed as dist

dist.init_process_group()  # backend None: MPI
rank = dist.get_rank()
x = adjit.ones(1) * (rank + 1)
dist.all_reduce(x)
line = f"rank {rank} of {dist.get_world_size()} sum {x.item():g} args {sys.argv[1:]}\n"
for turn in range(dist.get_world_size()):  # one rank at a time, each line in one write: mpiexec
    if turn == rank:  # forwards the ranks' pipes by chunks, and a line written as text then
        sys.stdout.write(line)  # newline came out split between the two ranks' lines
        sys.stdout.flush()
    dist.barrier()  # (also: both have printed before rank 1 exits and mpiexec ends the job)
dist.destroy_process_group()
sys.exit(int(sys.argv[1]) if rank == 1 else 0)
