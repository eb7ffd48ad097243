"""Recurrent layers (nn.RNN tanh/relu, LSTM with or without projections, GRU) vs PyTorch on
random configurations: outputs, final states and gradients of the input, the initial states and
every weight, eager and compiled (each layer's time loop one adjit.scan)."""

# Data: the weights are inputs of the program (set on the module in place of its parameters, so
# their gradients are leaf gradients), uniform in PyTorch's init range 1/sqrt(hidden) or 4x it
# (saturating gates); inputs normal at a random scale. Sizes 1-3 (batch, hidden 2-4, time 1-4),
# 1-2 layers, either direction, batch_first or not, unbatched, or packed with constant lengths
# (ties allowed: the padded result does not depend on the order of equal lengths). The result
# is every output and state element weighted by a random vector. Each step is a few matmuls and
# gates: float32 differs from PyTorch's oneDNN/ATen kernels by rounding over a few steps.

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from . import cases
from .cases import Case

GATES = {"RNN": 1, "RNN-relu": 1, "LSTM": 4, "LSTM-proj": 4, "GRU": 3}


def _param_shapes(
    kind: str, size: int, hidden: int, proj: int, layers: int, dirs: int, bias: bool
) -> list[tuple[str, tuple[int, ...]]]:
    """PyTorch's parameter names and shapes, in registration order."""
    gate, real = GATES[kind] * hidden, proj or hidden
    out = []
    for layer in range(layers):
        for d in range(dirs):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            width = size if layer == 0 else real * dirs
            out += [(f"weight_ih{sfx}", (gate, width)), (f"weight_hh{sfx}", (gate, real))]
            if bias:
                out += [(f"bias_ih{sfx}", (gate,)), (f"bias_hh{sfx}", (gate,))]
            if proj:
                out += [(f"weight_hr{sfx}", (proj, hidden))]
    return out


@st.composite
def recurrent_cases(draw: Callable[..., Any]) -> Case:
    kind = draw(st.sampled_from(sorted(GATES)))
    dtype = draw(st.sampled_from(["float64", "float32"]))
    size, hidden = draw(st.integers(1, 3)), draw(st.integers(2, 4))
    proj = draw(st.integers(1, hidden - 1)) if kind == "LSTM-proj" else 0
    layers, dirs = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    bias, batch_first = draw(st.booleans()), draw(st.booleans())
    steps, batch = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    form = draw(st.sampled_from(["padded", "padded", "unbatched", "packed"]))
    with_state = draw(st.booleans())
    seed = draw(st.integers(0, 2**20))
    cls = kind.split("-")[0]
    options = f"num_layers={layers}, bias={bias}, batch_first={batch_first}"
    options += f", bidirectional={dirs == 2}"
    options += {"RNN-relu": ", nonlinearity='relu'", "LSTM-proj": f", proj_size={proj}"}.get(
        kind, ""
    )
    header = [
        "_MODULES = {}",
        "",
        "",
        "def make(T, dtype):",
        "    key = (T.__name__, str(dtype))",
        "    if key not in _MODULES:",
        f"        _MODULES[key] = T.nn.{cls}({size}, {hidden}, {options}).to(dtype).eval()",
        "    return _MODULES[key]",
        "",
        "",
    ]
    shapes = _param_shapes(kind, size, hidden, proj, layers, dirs, bias)
    x_shape = (steps, size) if form == "unbatched" else (steps, batch, size)
    if batch_first and form != "unbatched":
        x_shape = (batch, steps, size)
    lead = (layers * dirs,) + (() if form == "unbatched" else (batch,))
    state_shapes = [lead + (proj or hidden,)] + ([lead + (hidden,)] if cls == "LSTM" else [])
    scale = draw(st.sampled_from([1.0, 4.0])) / np.sqrt(hidden)
    rng = "np.random.default_rng"
    arrays = [f"{rng}({seed}).standard_normal({x_shape}) * {draw(st.sampled_from([0.5, 2.0]))}"]
    arrays += [
        f"{rng}({seed + 1 + k}).uniform({-scale}, {scale}, {shape})"
        for k, (_, shape) in enumerate(shapes)
    ]
    n_w = len(shapes)
    if with_state:
        arrays += [
            f"{rng}({seed + 99 + k}).standard_normal({s})" for k, s in enumerate(state_shapes)
        ]
    ws = ", ".join(f"x{1 + k}" for k in range(n_w))
    body = [
        "m = make(T, x0.dtype)",
        f"for name, w in zip({[n for n, _ in shapes]}, [{ws}]):",
        "    delattr(m, name)",
        "    setattr(m, name, w)",
    ]
    arg = "x0"
    if form == "packed":
        lengths = [draw(st.integers(1, steps)) for _ in range(batch)]
        lengths[draw(st.integers(0, batch - 1))] = steps  # the padding is exactly the longest
        body.append(
            f"p = T.nn.utils.rnn.pack_padded_sequence(x0, {lengths}, batch_first={batch_first}, "
            "enforce_sorted=False)"
        )
        arg = "p"
    states = [f"x{1 + n_w + k}" for k in range(len(state_shapes))] if with_state else []
    hx = "" if not states else (f", ({', '.join(states)})" if cls == "LSTM" else f", {states[0]}")
    body.append(f"out, hidden = m({arg}{hx})")
    if form == "packed":
        body.append(f"out = T.nn.utils.rnn.pad_packed_sequence(out, batch_first={batch_first})[0]")
    body += [
        "hs = hidden if isinstance(hidden, tuple) else (hidden,)",
        "flat = T.cat([out.flatten()] + [h.flatten() for h in hs])",
        "return flat * T.cos(T.arange(flat.numel(), dtype=flat.dtype) * 0.7)",
    ]
    arrays = [f"({a}).astype(np.{dtype})" for a in arrays]
    grads = [True] * len(arrays)
    tag = f"recurrent {kind} {dtype} {form}"
    return Case(tag, body, arrays, grads, header=header)


def check_recurrent(case: Case) -> None:
    # float64: PyTorch's own kernels, summed in another order (matmul blocking), ~1e-15;
    # float32: up to 4 steps x 2 layers of matmuls and gates, each a few ulp, and oneDNN's
    # LSTM sums its gates in its own order
    dtype = case.kind.split()[2]
    rtol = {"float64": 1e-11, "float32": 2e-4}[dtype]
    cases.check_eager_then_compiled(case, rtol)
