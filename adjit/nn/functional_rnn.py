"""Recurrent cell math and the layer/time loops of RNN, LSTM and GRU, as PyTorch's CPU code."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from adjit.nn import functional as F
from adjit.nn.rnn_scan import packed_scan_layer
from adjit.runtime import autocast, trace_state
from adjit.runtime import functional as R
from adjit.runtime.checks import value_dependent
from adjit.runtime.tensor import Tensor

__all__ = [
    "gru_cell",
    "lstm_cell",
    "rnn_forward",
    "rnn_relu_cell",
    "rnn_tanh_cell",
]

# A cell's state: (h,) for RNN/GRU, (h, c) for LSTM.
State = tuple[Tensor, ...]
# One layer-direction's weights: (w_ih, w_hh, b_ih, b_hh, w_hr), absent ones None.
Weights = tuple[Any, Any, Any, Any, Any]


# Note [recurrent cell math]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~
# As ATen's CPU cells (aten/src/ATen/native/RNN.cpp): the input projection ``gi = x W_ih^T + b_ih``
# of a whole sequence is one matmul before the time loop (pre_compute_input), each step adds
# ``h W_hh^T + b_hh`` to it. Gate order: LSTM chunks (i, f, g, o), ``c' = f c + i g``,
# ``h' = o tanh(c')`` then ``h' W_hr^T`` with projections; GRU chunks (r, z, n),
# ``n = tanh(gi_n + r (h W_hn^T + b_hn))``, ``h' = n + z (h - n)`` (ATen's form of
# ``(1 - z) n + z h``). Everything is ordinary differentiable ops, so eager autograd and the
# tracer both see it; traced, the time loop is one adjit.scan (Note [loops in the IR]).
def _simple_step(act: Callable[[Tensor], Tensor]) -> Callable[[Tensor, State, Weights], State]:
    def step(gi: Tensor, state: State, w: Weights) -> State:
        return (act(F.linear(state[0], w[1], w[3]) + gi),)

    return step


def _lstm_step(gi: Tensor, state: State, w: Weights) -> State:
    h, c = state
    gates = F.linear(h, w[1], w[3]) + gi
    i, f, g, o = R.chunk(gates, 4, 1)
    cy = R.sigmoid(f) * c + R.sigmoid(i) * R.tanh(g)
    hy = R.sigmoid(o) * R.tanh(cy)
    if w[4] is not None:
        hy = R.matmul(hy, R.t(w[4]))
    return hy, cy


def _gru_step(gi: Tensor, state: State, w: Weights) -> State:
    h = state[0]
    ir, iz, in_ = R.chunk(gi, 3, 1)
    hr, hz, hn = R.chunk(F.linear(h, w[1], w[3]), 3, 1)
    r = R.sigmoid(hr + ir)
    z = R.sigmoid(hz + iz)
    n = R.tanh(in_ + hn * r)
    return ((h - n) * z + n,)


STEPS: dict[str, Callable[[Tensor, State, Weights], State]] = {
    "RNN_TANH": _simple_step(R.tanh),
    "RNN_RELU": _simple_step(R.relu),
    "LSTM": _lstm_step,
    "GRU": _gru_step,
}


# ---- cells ------------------------------------------------------------------------------------
def _check_cell(input: Tensor, hx: State, w_ih: Tensor, w_hh: Tensor) -> None:
    """ATen's check_rnn_cell_forward_input / _hidden texts."""
    if input.shape[1] != w_ih.shape[1]:
        raise RuntimeError(
            f"input has inconsistent input_size: got {input.shape[1]} expected {w_ih.shape[1]}"
        )
    for k, h in enumerate(hx):
        if input.shape[0] != h.shape[0]:
            raise RuntimeError(
                f"Input batch size {input.shape[0]} doesn't match hidden{k} batch size {h.shape[0]}"
            )
    hidden = w_hh.shape[1]
    sizes = (hidden,) if len(hx) == 1 else (hidden, w_hh.shape[0] // 4)
    for k, (h, size) in enumerate(zip(hx, sizes, strict=True)):
        if h.shape[1] != size:
            raise RuntimeError(
                f"hidden{k} has inconsistent hidden_size: got {h.shape[1]}, expected {size}"
            )


def _cell(mode: str, input: Tensor, hx: State, w_ih: Tensor, w_hh: Tensor, b_ih: Any, b_hh: Any):
    _check_cell(input, hx, w_ih, w_hh)
    return STEPS[mode](F.linear(input, w_ih, b_ih), hx, (w_ih, w_hh, b_ih, b_hh, None))


def rnn_tanh_cell(
    input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Any = None, b_hh: Any = None
) -> Tensor:
    """``tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` of 2-D ``input`` and ``hx``."""
    return _cell("RNN_TANH", input, (hx,), w_ih, w_hh, b_ih, b_hh)[0]


def rnn_relu_cell(
    input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Any = None, b_hh: Any = None
) -> Tensor:
    """``relu(x W_ih^T + b_ih + h W_hh^T + b_hh)`` of 2-D ``input`` and ``hx``."""
    return _cell("RNN_RELU", input, (hx,), w_ih, w_hh, b_ih, b_hh)[0]


def lstm_cell(
    input: Tensor,
    hx: Sequence[Tensor],
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Any = None,
    b_hh: Any = None,
) -> tuple[Tensor, Tensor]:
    """One LSTM step (gates i, f, g, o) of 2-D ``input`` and ``hx = (h, c)``."""
    h, c = _cell("LSTM", input, tuple(hx), w_ih, w_hh, b_ih, b_hh)
    return h, c


def gru_cell(
    input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Any = None, b_hh: Any = None
) -> Tensor:
    """One GRU step (gates r, z, n) of 2-D ``input`` and ``hx``."""
    return _cell("GRU", input, (hx,), w_ih, w_hh, b_ih, b_hh)[0]


# ---- layers -----------------------------------------------------------------------------------
# Note [slicing a sequence in halves]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# Each piece of an unbind/split is its own autograd node whose backward writes a gradient the
# size of the whole input, so taking T steps out of a (T, B, G) projection costs O(T^2 B G) in
# the backward pass (and in the compiled adjoint). Splitting in halves, recursively, makes
# that O(T log T): a level's pieces together are the size of the input once.
def _pieces(x: Tensor, sizes: list[int]) -> list[Tensor]:
    """``x`` split along dim 0 into consecutive pieces of ``sizes`` (which sum to its length)."""
    if len(sizes) == 1:
        return [x]
    half = len(sizes) // 2
    left = sum(sizes[:half])
    a, b = R.split(x, [left, x.shape[0] - left], 0)
    return _pieces(a, sizes[:half]) + _pieces(b, sizes[half:])


def _full_layer(
    step: Callable[..., State], gi: Tensor, state: State, w: Weights, reverse: bool
) -> tuple[Tensor, State]:
    """The time loop over a (T, B, G) projected input; outputs (T, B, H) in time order.
    Traced, one ``adjit.scan`` (the step traced once: compile time flat in T)."""
    if trace_state.current() is not None:
        from adjit.frontend.control import scan

        def body(s: State, g: Tensor) -> tuple[State, Tensor]:
            new = step(g, s, w)
            return new, new[0]

        state, out = scan(body, state, gi, reverse=reverse)
        return out, state
    steps = [R.squeeze(p, 0) for p in _pieces(gi, [1] * gi.shape[0])]
    order = range(len(steps) - 1, -1, -1) if reverse else range(len(steps))
    outputs: list[Tensor] = [None] * len(steps)  # type: ignore[list-item]
    for t in order:
        state = step(steps[t], state, w)
        outputs[t] = state[0]
    return R.stack(outputs, 0), state


def _packed_layer(
    step: Callable[..., State], gi: Tensor, state: State, w: Weights, sizes: list[int]
) -> tuple[Tensor, State]:
    """ATen's PackedLayer: finished sequences leave the batch; their states are kept aside."""
    steps = _pieces(gi, sizes)
    outputs, done = [], []
    last = sizes[0]
    for x, b in zip(steps, sizes, strict=True):
        if b < last:
            done.append(tuple(R.narrow(s, 0, b, last - b) for s in state))
            state = tuple(R.narrow(s, 0, 0, b) for s in state)
        last = b
        state = step(x, state, w)
        outputs.append(state[0])
    done.append(state)
    done.reverse()
    final = tuple(R.cat([d[k] for d in done], 0) for k in range(len(state)))
    return R.cat(outputs, 0), final


def _reversed_packed_layer(
    step: Callable[..., State], gi: Tensor, state: State, w: Weights, sizes: list[int]
) -> tuple[Tensor, State]:
    """ATen's ReversedPackedLayer: from the last step, sequences join as they begin."""
    steps = _pieces(gi, sizes)
    initial = state
    last = sizes[-1]
    state = tuple(R.narrow(s, 0, 0, last) for s in initial)
    outputs: list[Tensor] = []
    for x, b in zip(reversed(steps), reversed(sizes), strict=True):
        if b > last:
            state = tuple(
                R.cat([s, R.narrow(s0, 0, last, b - last)], 0)
                for s, s0 in zip(state, initial, strict=True)
            )
        last = b
        state = step(x, state, w)
        outputs.append(state[0])
    outputs.reverse()
    return R.cat(outputs, 0), state


def static_sizes(batch_sizes: Tensor) -> list[int]:
    """A PackedSequence's ``batch_sizes`` as Python ints (they fix the shapes of the loop)."""
    message = (
        "a PackedSequence's batch_sizes decide the shapes of every step of a recurrent "
        "layer, which must be known while tracing; pack the sequences with constant "
        "lengths (a Python list) inside the compiled function, or run it eagerly"
    )
    value_dependent(message, "a PackedSequence's batch_sizes (the steps' shapes)", batch_sizes)
    return [int(b) for b in batch_sizes.tolist()]


_ONEDNN_LSTM = autocast.listed("mkldnn_rnn_layer")


def rnn_forward(
    mode: str,
    input: Tensor,
    hx: State,
    weights: Sequence[Weights],
    num_layers: int,
    dropout: float,
    train: bool,
    bidirectional: bool,
    batch_first: bool = False,
    batch_sizes: list[int] | None = None,
) -> tuple[Tensor, State]:
    """``_VF.rnn_tanh / rnn_relu / lstm / gru``: output and final states (each stacked as
    ``(num_layers * num_directions, batch, size)``). ``hx`` holds the same stacked initial
    states; ``weights`` one tuple per layer and direction in PyTorch's order. With
    ``batch_sizes`` the input is a PackedSequence's data."""
    args = (mode, input, hx, weights, num_layers, dropout, train, bidirectional, batch_first)
    if mode == "LSTM" and batch_sizes is None:  # PyTorch's oneDNN LSTM: one listed op
        return autocast.run_as(_ONEDNN_LSTM, _rnn_forward, *args)  # type: ignore[no-any-return]
    return _rnn_forward(*args, batch_sizes)


def _rnn_forward(
    mode: str,
    input: Tensor,
    hx: State,
    weights: Sequence[Weights],
    num_layers: int,
    dropout: float,
    train: bool,
    bidirectional: bool,
    batch_first: bool = False,
    batch_sizes: list[int] | None = None,
) -> tuple[Tensor, State]:
    step = STEPS[mode]
    dirs = 2 if bidirectional else 1
    x = R.transpose(input, 0, 1) if batch_first and batch_sizes is None else input
    if x.shape[0] == 0:
        raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
    finals: list[State] = []
    for layer in range(num_layers):
        outs = []
        for d in range(dirs):
            w = weights[layer * dirs + d]
            state = tuple(R.select(s, 0, layer * dirs + d) for s in hx)
            gi = F.linear(x, w[0], w[2])
            if batch_sizes is None:
                out, state = _full_layer(step, gi, state, w, reverse=d == 1)
            elif trace_state.current() is not None:  # one masked scan: flat in T
                out, state = packed_scan_layer(step, gi, state, w, batch_sizes, reverse=d == 1)
            elif d == 0:
                out, state = _packed_layer(step, gi, state, w, batch_sizes)
            else:
                out, state = _reversed_packed_layer(step, gi, state, w, batch_sizes)
            outs.append(out)
            finals.append(state)
        x = R.cat(outs, -1) if dirs == 2 else outs[0]
        if dropout != 0 and train and layer < num_layers - 1:
            x = F.dropout(x, dropout, True)
    if batch_first and batch_sizes is None:  # (ATen transposes RNN and GRU outputs in place)
        x = R.transpose(x, 0, 1) if mode == "LSTM" else x.transpose_(0, 1)
    hidden = tuple(R.stack([f[k] for f in finals], 0) for k in range(len(hx)))
    return x, hidden
