"""A packed sequence's recurrent layer traced as one masked ``adjit.scan`` (compile time flat in T).

Note [a packed layer as a masked scan]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
Eagerly a packed layer runs ATen's PackedLayer / ReversedPackedLayer loops (functional_rnn.py):
the batch shrinks as sequences end (forward) or grows as they begin (reverse). Traced, that loop
would unroll, T steps of equations. Instead the packed projection ``gi`` (N rows, in the packed
order) is gathered into a padded (T, B, G) block with constant indices, and one scan runs every
row at every step; a constant (T, B, 1) mask says which rows are live at each step, and a row
that is not keeps its state (``where(live, new, old)``). Forward, a finished sequence's state
is thereby frozen at its last step, which is what PackedLayer sets aside and concatenates back
in batch order; reverse, a sequence that has not begun keeps its initial state until it does,
which is what ReversedPackedLayer's joins give. The outputs at live positions are gathered back
into the packed order. Dead positions compute a step on padding whose result no value reads, so
their cotangents are zeros (``where``'s and the gather's adjoints) and every gradient equals the
unrolled loop's. Only constants (the gather indices and the mask, O(T B) elements) grow with T;
the equations do not.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from adjit.runtime import functional as R
from adjit.runtime.creation import tensor
from adjit.runtime.tensor import Tensor

__all__ = ["packed_scan_layer"]

State = tuple[Tensor, ...]


def _layout(sizes: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a packed sequence of ``sizes`` (the batch size at each step, non-increasing): the
    packed row of each padded position (0 where dead), the live mask (T, B, 1), and the padded
    position (t * B + b) of each packed row."""
    steps, batch = len(sizes), sizes[0]
    live = np.arange(batch)[None, :] < np.asarray(sizes)[:, None]  # (T, B)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rows = np.where(live, offsets[:, None] + np.arange(batch)[None, :], 0)
    positions = np.flatnonzero(live)  # row-major over (t, b): the packed order
    assert positions.size == sum(sizes) and rows.shape == (steps, batch)
    return rows.reshape(-1), live[..., None], positions


def packed_scan_layer(
    step: Callable[..., State],
    gi: Tensor,
    state: State,
    w: tuple,
    sizes: list[int],
    reverse: bool,
) -> tuple[Tensor, State]:
    """One direction of a packed layer (Note [a packed layer as a masked scan]): outputs in the
    packed order (N, H) and the final states (B, ...), as ATen's PackedLayer (``reverse``:
    ReversedPackedLayer)."""
    from adjit.frontend.control import scan  # (adjit.frontend imports adjit.nn)

    rows, live, positions = _layout(sizes)
    steps, batch = len(sizes), sizes[0]
    padded = R.index_select(gi, 0, tensor(rows)).reshape(steps, batch, gi.shape[-1])
    mask = tensor(live)

    def body(s: State, xs: tuple[Tensor, Tensor]) -> tuple[State, Tensor]:
        g, m = xs
        new = step(g, s, w)
        return tuple(R.where(m, n, o) for n, o in zip(new, s, strict=True)), new[0]

    final, out = scan(body, state, (padded, mask), reverse=reverse)
    flat = out.reshape(steps * batch, out.shape[-1])
    return R.index_select(flat, 0, tensor(positions)), final
