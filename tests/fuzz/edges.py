"""Edge programs: indices out of range, empty dims, 0-d constant outputs, ``dim=()``."""

# Each case is one or two statements around an edge PyTorch defines precisely: index_select,
# gather, embedding, advanced indexing and cross_entropy/nll_loss targets drawn from
# [-n-1, n] (negative and out-of-range ones raise in PyTorch, except advanced indexing which
# wraps negatives) plus ignore_index; reductions, softmax and matmul over a dim of size 0;
# F.pad with negative pads (crops) in every mode;
# programs whose output is a 0-d constant; reductions with ``dim=()`` or ``dim=[]`` (all
# dims). PyTorch is the oracle: adjit eager, compiled (first and cached call, then backward)
# and adjit.grad raise where it raises, else give its dtype, shape, values and gradients.

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from . import cases
from .cases import Case
from .gates import gated

Drawn = tuple[list[str], list[np.ndarray], list[bool]]  # body, inputs, requires_grad


def _floats(draw: Callable[..., Any], shape: tuple[int, ...], dtype: str) -> np.ndarray:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return np.round(rng.uniform(-2.0, 2.0, shape), 3).astype(dtype)


def _indices(draw: Callable[..., Any], n: int, count: int) -> list[int]:
    """Mostly valid indices, sometimes a negative or out-of-range one."""
    inside = st.integers(0, max(n - 1, 0))
    edge = st.sampled_from([-1, -n, -n - 1, n, n + 3])
    return [draw(st.one_of(inside, inside, inside, edge)) for _ in range(count)]


def index_select(draw: Callable[..., Any], dtype: str) -> Drawn:
    shape = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    d = draw(st.integers(0, 1))
    idx = _indices(draw, shape[d], draw(st.integers(1, 4)))
    form = draw(st.sampled_from(["T.index_select(x0, {d}, {i})", "x0.index_select({d}, {i})"]))
    body = [f"v0 = {form.format(d=d, i=f'T.tensor({idx})')}", "return v0 * 1.5"]
    return body, [_floats(draw, shape, dtype)], [True]


def gather(draw: Callable[..., Any], dtype: str) -> Drawn:
    shape = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    d = draw(st.integers(0, 1))
    ishape = (draw(st.integers(1, shape[0])), draw(st.integers(1, shape[1])))
    flat = _indices(draw, shape[d], ishape[0] * ishape[1])
    idx = np.array(flat).reshape(ishape).tolist()
    body = [f"return T.gather(x0, {d}, T.tensor({idx}))"]
    return body, [_floats(draw, shape, dtype)], [True]


def advanced_index(draw: Callable[..., Any], dtype: str) -> Drawn:
    shape = (draw(st.integers(1, 4)), draw(st.integers(1, 3)))
    idx = _indices(draw, shape[0], draw(st.integers(1, 4)))
    return [f"return x0[T.tensor({idx})].sin()"], [_floats(draw, shape, dtype)], [True]


def embedding(draw: Callable[..., Any], dtype: str) -> Drawn:
    shape = (draw(st.integers(1, 5)), draw(st.integers(1, 3)))
    idx = _indices(draw, shape[0], draw(st.integers(1, 4)))
    body = [f"return T.nn.functional.embedding(T.tensor({idx}), x0)"]
    return body, [_floats(draw, shape, dtype)], [True]


def loss_targets(draw: Callable[..., Any], dtype: str) -> Drawn:
    n, c = draw(st.integers(1, 4)), draw(st.integers(2, 4))
    targets = _indices(draw, c, n)
    if draw(st.integers(0, 3)) == 0:  # ignore_index: some or all targets ignored
        targets = [draw(st.sampled_from([t, -100])) for t in targets]
    fn = draw(st.sampled_from(["cross_entropy", "nll_loss"]))
    # nll_loss of log-probabilities, as a model would call it
    arg = "x0" if fn == "cross_entropy" else "T.log_softmax(x0, dim=1)"
    red = draw(st.sampled_from(["", ", reduction='sum'", ", reduction='none'"]))
    body = [f"return T.nn.functional.{fn}({arg}, T.tensor({targets}){red})"]
    return body, [_floats(draw, (n, c), dtype)], [True]


def one_hot(draw: Callable[..., Any], dtype: str) -> Drawn:
    c = draw(st.integers(1, 4))
    idx = _indices(draw, c, draw(st.integers(1, 4)))
    classes = draw(st.sampled_from([str(c), "-1"])) if draw(st.booleans()) else str(c)
    body = [f"return T.nn.functional.one_hot(T.tensor({idx}), {classes}) * x0"]
    return body, [_floats(draw, (1, c), dtype)], [True]


def scatter_add(draw: Callable[..., Any], dtype: str) -> Drawn:
    n, m = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    idx = _indices(draw, n, m)
    body = [f"return T.zeros({n}, dtype=x0.dtype).scatter_add(0, T.tensor({idx}), x0) * 2.0"]
    return body, [_floats(draw, (m,), dtype)], [True]


def setitem(draw: Callable[..., Any], dtype: str) -> Drawn:
    n = draw(st.integers(1, 4))
    idx = _indices(draw, n, draw(st.integers(1, 3)))
    if len(set(i % n for i in idx if -n <= i < n)) != len(idx):  # no repeats: last write wins
        idx = idx[:1]
    body = ["y = x0 * 1.0", f"y[T.tensor({idx})] = 0.5", "return y * x0"]
    return body, [_floats(draw, (n, 2), dtype)], [True]


def bce_ranges(draw: Callable[..., Any], dtype: str) -> Drawn:
    """binary_cross_entropy: probabilities and targets outside [0, 1] raise in PyTorch."""
    n = draw(st.integers(1, 4))
    edge = st.sampled_from([0.0, 1.0, -0.5, 1.5, 0.25])
    p = [draw(st.one_of(st.just(0.5), edge)) for _ in range(n)]
    t = [draw(st.one_of(st.just(1.0), edge)) for _ in range(n)]
    if gated("edges:bce-target"):
        t = [min(max(v, 0.0), 1.0) for v in t]
    body = [
        f"p = T.tensor({p}, dtype=x0.dtype) + x0 * 0.0",
        f"return T.nn.functional.binary_cross_entropy(p, T.tensor({t}, dtype=x0.dtype))",
    ]
    return body, [_floats(draw, (n,), dtype)], [True]


EMPTY_OPS = [
    "x0.sum(dim={d})",
    "x0.mean(dim={d})",
    "x0.amax(dim={d})",
    "x0.max()",
    "x0.sum()",
    "T.softmax(x0, dim={d})",
    "T.log_softmax(x0, dim={d})",
    "T.logsumexp(x0, dim={d})",
    "x0.var(dim={d})",
    "x0 @ x0.mT",
    "x0.mT @ x0",
    "(x0 * 2.0).exp()",
]


def empty_dim(draw: Callable[..., Any], dtype: str) -> Drawn:
    shape = [draw(st.integers(1, 3)), draw(st.integers(1, 3))]
    shape[draw(st.integers(0, 1))] = 0
    op = draw(st.sampled_from(EMPTY_OPS)).format(d=draw(st.integers(-2, 1)))
    return [f"return {op}"], [_floats(draw, tuple(shape), dtype)], [True]


CONSTANTS = [
    "T.zeros([])",
    "T.tensor(2.0).exp()",
    "T.full_like(x0, 2).sum()",
    "T.ones(()) * 3",
    "T.tensor(1.5) + x0.sum() * 0",
    "x0.detach().sum()",
    "T.zeros_like(x0).mean()",
]


def constant_output(draw: Callable[..., Any], dtype: str) -> Drawn:
    shape = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    expr = draw(st.sampled_from(CONSTANTS))
    return [f"return {expr}"], [_floats(draw, shape, dtype)], [True]


def empty_dims_tuple(draw: Callable[..., Any], dtype: str) -> Drawn:
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
    # not var: PyTorch 2.13's var(dim=()) takes all dims forward but counts N = 1 backward
    # (its gradient of var(dim=(), correction=0) is N times the true one)
    op = draw(st.sampled_from(["sum", "mean", "amax"]))
    dims = draw(st.sampled_from(["()", "[]"]))
    keep = draw(st.sampled_from(["", ", keepdim=True"]))
    return [f"return x0.{op}(dim={dims}{keep})"], [_floats(draw, shape, dtype)], [True]


def pad(draw: Callable[..., Any], dtype: str) -> Drawn:
    """F.pad over the last one or two dims, negative pads (crops) included, every mode."""
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    rank = 3 if draw(st.booleans()) else 4
    shape = (1, 2) + tuple(draw(st.integers(1, 4)) for _ in range(rank - 2))
    dims = draw(st.integers(1, rank - 2))
    sizes = [shape[-1 - i // 2] for i in range(2 * dims)]
    pads = [draw(st.integers(-2, 3)) for _ in sizes]
    if mode == "circular":
        # no pad wider than what the crops leave: PyTorch 2.13 reads uninitialized memory
        # there (F.pad(x[1, 1, 4], (3, -2), mode='circular') starts with 4.7e-310), adjit
        # refuses with PyTorch's overlapping-copy error
        for i in range(0, len(pads), 2):
            left = sizes[i] + min(pads[i], 0) + min(pads[i + 1], 0)
            pads[i : i + 2] = [min(p, max(left, 0)) for p in pads[i : i + 2]]
    extra = ", value=0.5" if mode == "constant" else ""
    body = [f"return T.nn.functional.pad(x0, {tuple(pads)}, mode={mode!r}{extra})"]
    return body, [_floats(draw, shape, dtype)], [True]


KINDS: dict[str, Callable[[Callable[..., Any], str], Drawn]] = {
    "index_select": index_select,
    "gather": gather,
    "advanced_index": advanced_index,
    "embedding": embedding,
    "loss_targets": loss_targets,
    "empty_dim": empty_dim,
    "constant_output": constant_output,
    "dim=()": empty_dims_tuple,
    "pad": pad,
    "one_hot": one_hot,
    "scatter_add": scatter_add,
    "setitem": setitem,
    "bce_ranges": bce_ranges,
}


@st.composite
def edge_cases(draw: Callable[..., Any], kind: str | None = None) -> Case:
    """A case of ``kind`` (a key of KINDS), or of any kind."""
    kind = kind or draw(st.sampled_from(sorted(KINDS)))
    dtype = draw(st.sampled_from(cases.FLOAT_DTYPES))
    body, arrays, flags = KINDS[kind](draw, dtype)
    return Case(f"edges {kind} {dtype}", body, [cases.literal(a) for a in arrays], flags)


RTOL = {"float32": 1e-5, "float64": 1e-12}


def check_edges(case: Case) -> None:
    import torch

    want = cases.outcome(lambda: cases.leaf_grads(torch, case, case.bind(torch), True))
    tol = _tol(case, want)
    got = cases.outcome(lambda: cases.leaf_grads(cases.adjit, case, case.bind(cases.adjit), True))
    _compare(got, want, tol, "adjit eager")
    fn = cases.compiled(case)
    for call in ("compiled first call", "compiled cached call"):
        _compare(
            cases.outcome(lambda: cases.leaf_grads(cases.adjit, case, fn, True)), want, tol, call
        )
    if isinstance(want, cases.Raised) or not want[0].requires_grad:
        return
    grads, wrt = cases.grad_transform(case)
    assert not isinstance(grads, cases.Raised), f"adjit.grad raised {grads}"
    for i, g in zip(wrt, grads, strict=True):
        w = want[1][i]
        cases.assert_floats(g, np.zeros(g.shape) if w is None else w, tol, f"adjit.grad x{i}")
        assert tuple(g.shape) == tuple(case.numpy_inputs()[i].shape), f"adjit.grad x{i}: shape"


def _tol(case: Case, want: Any) -> float:
    """By the output's dtype (a constant output is float32 in a float64 program)."""
    if isinstance(want, cases.Raised):
        return 0.0
    return RTOL.get(cases.dtype_name(want[0]), RTOL[case.kind.split()[-1]])


def _compare(got: Any, want: Any, tol: float, what: str) -> None:
    if cases.same_raise(got, want, what):
        return
    (out, grads), (t_out, t_grads) = got, want
    assert cases.dtype_name(out) == cases.dtype_name(t_out), f"{what}: dtype differs"
    assert tuple(out.shape) == tuple(t_out.shape), f"{what}: shape {out.shape} != {t_out.shape}"
    cases.assert_floats(out, t_out, tol, f"{what} value")
    cases.assert_same_grads(grads, t_grads, tol, f"{what} backward:")
