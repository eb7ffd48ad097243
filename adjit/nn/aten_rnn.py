"""``torch.lstm``, ``torch.gru``, ``torch.rnn_tanh``/``rnn_relu`` and their cells: ATen's flat
positional signatures over nn's recurrent code (adjit/nn/functional_rnn.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adjit.nn.functional_rnn import (
    Weights,
    gru_cell,
    lstm_cell,
    rnn_forward,
    rnn_relu_cell,
    rnn_tanh_cell,
    static_sizes,
)
from adjit.runtime.tensor import Tensor

__all__ = ["lstm", "gru", "rnn_tanh", "rnn_relu"]
__all__ += ["lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell"]

# Note [ATen's recurrent functions]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# ``torch.lstm(input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
# batch_first)`` is what nn.LSTM calls: ``params`` is the flat list of every layer and
# direction's (w_ih, w_hh[, b_ih, b_hh][, w_hr]) in nn's order (``module._flat_weights``), an
# LSTM has projections when h and c differ in size. The PackedSequence overload takes
# ``(data, batch_sizes, hx, params, has_biases, num_layers, dropout, train, bidirectional)``:
# the two are told apart as ATen's parser does, by the fourth argument (a bool, or the params).
# gru / rnn_tanh / rnn_relu are the same with one hidden tensor.


def _weights(params: Sequence[Tensor], has_biases: bool, proj: bool) -> list[Weights]:
    stride = 2 + 2 * has_biases + proj
    if len(params) % stride:
        raise RuntimeError("got an incorrect number of RNN parameters")
    groups = []
    for k in range(0, len(params), stride):
        p = list(params[k : k + stride])
        w_ih, w_hh = p[0], p[1]
        b_ih, b_hh = (p[2], p[3]) if has_biases else (None, None)
        groups.append((w_ih, w_hh, b_ih, b_hh, p[-1] if proj else None))
    return groups


def _run(mode: str, args: tuple[Any, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
    packed = not isinstance(args[3], bool)
    if packed:
        data, batch_sizes, hx, params, has_biases, layers, dropout, train, bidir = args
        batch_first, sizes = False, static_sizes(batch_sizes)
    else:
        data, hx, params, has_biases, layers, dropout, train, bidir, batch_first = args
        sizes = None
    states = tuple(hx) if mode == "LSTM" else (hx,)
    proj = mode == "LSTM" and states[0].shape[2] != states[1].shape[2]
    weights = _weights(params, has_biases, proj)
    dirs = 2 if bidir else 1
    if states[0].shape[0] != layers * dirs or len(weights) != layers * dirs:
        raise RuntimeError("Expected more hidden states in stacked_rnn")
    return rnn_forward(
        mode, data, states, weights, layers, dropout, train, bidir, batch_first, sizes
    )


def lstm(*args: Any) -> tuple[Tensor, Tensor, Tensor]:
    """``(output, h_n, c_n)`` of a stacked LSTM (Note [ATen's recurrent functions])."""
    out, (h, c) = _run("LSTM", args)
    return out, h, c


def gru(*args: Any) -> tuple[Tensor, Tensor]:
    """``(output, h_n)`` of a stacked GRU (Note [ATen's recurrent functions])."""
    out, (h,) = _run("GRU", args)
    return out, h


def rnn_tanh(*args: Any) -> tuple[Tensor, Tensor]:
    """``(output, h_n)`` of a stacked tanh RNN (Note [ATen's recurrent functions])."""
    out, (h,) = _run("RNN_TANH", args)
    return out, h


def rnn_relu(*args: Any) -> tuple[Tensor, Tensor]:
    """``(output, h_n)`` of a stacked ReLU RNN (Note [ATen's recurrent functions])."""
    out, (h,) = _run("RNN_RELU", args)
    return out, h
