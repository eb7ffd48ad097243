"""The fixed-size signature every rank exchanges before a collective's data."""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np

from adjit.distributed.dtypes import DTYPE_CODES, DTYPE_NAMES, RedOpType

# Note [collective signature]
# MPI trusts every rank to call the same collective with the same counts and types; when they
# differ it hangs, truncates or writes past a buffer. Before each collective's data, the ranks
# all-gather a signature of 16 int64 (128 bytes): sequence number, collective, reduce op, root,
# dtype, numel, ndim, the first 8 dims and a CRC of the rest; every rank compares all of them and
# on a difference raises DistBackendError naming each rank's call, in every rank (all see the
# same gathered table), and the data transfer is never started. Signatures go on their own
# communicator (a Dup), in issue order; data transfers start in issue order too, when their
# signature has arrived, so async collectives can be outstanding together. Cost: one small
# allgather per collective (measured in tests/distributed/test_collectives.py's report).
KINDS = (
    "barrier", "all_reduce", "broadcast", "reduce", "all_gather", "all_gather_into_tensor",
    "reduce_scatter_tensor", "gather", "scatter", "all_to_all_single", "all_gather_object",
    "broadcast_object_list", "gather_object", "scatter_object_list", "send", "recv", "all_to_all",
    "reduce_scatter",
)  # fmt: skip
KIND_CODES = {name: k for k, name in enumerate(KINDS)}
SLOTS, DIMS = 16, 8
CHECK = True  # False skips the exchange: only tests/distributed/ranks_bench.py, to measure it
NO_ROOT, NO_OP = -1, -1


class Signature:
    """What a rank calls: collective, op, root, dtype, shape (and the sequence number)."""

    def __init__(
        self,
        kind: str,
        dtype: str = "",
        shape: tuple[int, ...] = (),
        op: RedOpType | None = None,
        root: int = NO_ROOT,
    ) -> None:
        self.kind, self.dtype, self.shape, self.op, self.root = kind, dtype, shape, op, root
        self.seq = 0
        self._array: np.ndarray | None = None

    @property
    def array(self) -> np.ndarray:
        if self._array is None:  # (a list, then one array: this runs once per collective)
            shape = self.shape
            dims = list(shape[:DIMS])
            self._array = np.array(
                [
                    self.seq,
                    KIND_CODES[self.kind],
                    NO_OP if self.op is None else self.op.value,
                    self.root,
                    DTYPE_CODES.get(self.dtype, -1),
                    math.prod(shape) if self.dtype else 0,
                    len(shape),
                    zlib.crc32(repr(shape).encode()) if len(shape) > DIMS else 0,
                    *dims,
                    *[0] * (DIMS - len(dims)),
                ],
                np.int64,
            )
        return self._array

    def describe(self) -> str:
        return f"{describe_row(self.array)} #{self.seq}"


def describe_row(row: Any) -> str:
    """One rank's call from its signature row: ``float32[4, 3], op=SUM, src=0``."""
    kind = KINDS[int(row[1])] if 0 <= int(row[1]) < len(KINDS) else "?"
    parts = [aval_text(row)] if int(row[4]) >= 0 else []
    if int(row[2]) != NO_OP:
        parts.append(f"op={RedOpType(int(row[2])).name}")
    if int(row[3]) != NO_ROOT:
        parts.append(f"root={int(row[3])}")
    return f"{kind}({', '.join(parts)})"


def aval_text(row: Any) -> str:
    """The dtype and shape of a signature row: ``float32[4, 3]``."""
    ndim = int(row[6])
    dims = [str(int(d)) for d in row[8 : 8 + min(ndim, DIMS)]]
    if ndim > DIMS:
        dims.append("...")
    return f"{DTYPE_NAMES[int(row[4])]}[{', '.join(dims)}]"


def disagreement(sigs: np.ndarray, pg: Any) -> str | None:
    """None when every rank's row equals; else the text naming each rank's call."""
    first = sigs[0].tobytes()
    if sigs.tobytes() == first * len(sigs):
        return None
    same_seq = (sigs[:, 0] == sigs[0, 0]).all()
    calls = ", ".join(
        f"rank {pg.global_rank(r)} called {describe_row(row)}"
        + ("" if same_seq else f" as its collective #{int(row[0])}")
        for r, row in enumerate(sigs)
    )
    return f"ranks disagree on collective #{int(sigs[pg.rank(), 0])}: {calls}"
