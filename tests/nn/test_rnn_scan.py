"""nn.RNN/LSTM/GRU compiled: each layer's time loop is one adjit.scan (a packed input one masked
scan), so the graph does not grow with T; values and every gradient (input, initial states,
parameters) equal eager adjit's and PyTorch's, in every configuration the modules take."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch
from adjit.ir.graph import Graph
from adjit.ir.ops import Op
from torch.nn.utils import rnn as TU

import adjit
from adjit import nn
from adjit.nn.utils import rnn as AU

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
I, H, B = 3, 4, 3
# compiled vs eager and torch: the same ops, but the compiled backward sums a weight's per-step
# gradients in the scan's order and the BLAS blocks differ (measured: <1e-15 float64, <5e-7
# float32, relative to 1 + |value|)
TOL = {"float64": 1e-12, "float32": 1e-5}


def _modules(cls: str, dtype: str, **kw: Any) -> tuple[Any, Any]:
    """The same module in both libraries from the same seed (our draws are PyTorch's)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dropout with one layer
        torch.manual_seed(0)
        t = getattr(torch.nn, cls)(I, H, **kw, dtype=getattr(torch, dtype))
        adjit.manual_seed(0)
        a = getattr(nn, cls)(I, H, **kw, dtype=getattr(adjit, dtype))
    for p, q in zip(t.parameters(), a.parameters(), strict=True):
        assert np.array_equal(p.detach().numpy(), q.detach().numpy())
    return t, a


def _flat(o: Any) -> list[Any]:
    if isinstance(o, tuple | list):
        return [z for x in o for z in _flat(x)]
    return [o]


def _loss(outs: list[Any], lib: Any) -> Any:
    """Weights every element differently, so that each gradient is checked."""
    total = 0
    for k, o in enumerate(outs):
        w = np.cos(np.arange(o.numel()) * 0.37 + k).reshape(tuple(o.shape))
        total = total + (o * lib.tensor(w, dtype=o.dtype)).sum()
    return total


def count_eqns(g: Graph) -> int:
    """Equations of ``g``, those of the sub-graphs (loop bodies) in its equations included."""
    return sum(
        1 + sum(count_eqns(v) for v in e.attrs.values() if isinstance(v, Graph)) for e in g.eqns
    )


def _has_scan(g: Graph) -> bool:
    return any(e.op is Op.SCAN for e in g.eqns)


# ---- the configurations -------------------------------------------------------------------------
# family, constructor keywords, input kind, initial state given, dtype
ROWS = [
    ("RNN", {}, "padded", False, "float64"),
    (
        "RNN",
        {"nonlinearity": "relu", "num_layers": 2, "bidirectional": True},
        "padded",
        True,
        "float64",
    ),
    ("RNN", {"bias": False, "batch_first": True}, "unbatched", True, "float64"),
    ("GRU", {}, "padded", True, "float64"),
    (
        "GRU",
        {"num_layers": 2, "bidirectional": True, "batch_first": True},
        "padded",
        False,
        "float64",
    ),
    ("GRU", {"num_layers": 2, "bidirectional": True}, "packed", True, "float64"),
    ("GRU", {"num_layers": 2}, "padded", True, "float32"),
    ("LSTM", {}, "padded", False, "float64"),
    (
        "LSTM",
        {"num_layers": 2, "bidirectional": True, "batch_first": True},
        "padded",
        True,
        "float64",
    ),
    ("LSTM", {"proj_size": 2, "num_layers": 2, "bidirectional": True}, "padded", True, "float64"),
    ("LSTM", {"proj_size": 2, "bias": False}, "unbatched", False, "float64"),
    ("LSTM", {"num_layers": 3, "bidirectional": True, "dropout": 0.5}, "padded", True, "float64"),
    (
        "LSTM",
        {"num_layers": 2, "bidirectional": True, "batch_first": True},
        "packed",
        False,
        "float64",
    ),
    ("LSTM", {"proj_size": 2, "num_layers": 2}, "packed_sorted", True, "float64"),
    ("LSTM", {"num_layers": 2, "bidirectional": True}, "padded", True, "float32"),
    ("RNN", {"num_layers": 2, "bidirectional": True}, "packed", True, "float32"),
]
LENGTHS = {"packed": [5, 2, 4], "packed_sorted": [5, 4, 1]}


def _ids(row: Any) -> str:
    cls, kw, kind, with_state, dtype = row
    return "-".join([cls, *(f"{k}={v}" for k, v in kw.items()), kind, f"h0={with_state}", dtype])


def _arrays(row: Any, T: int) -> list[np.ndarray]:
    """The input and the initial states (if given) as NumPy arrays."""
    cls, kw, kind, with_state, dtype = row
    rng = np.random.RandomState(1)
    bf = kw.get("batch_first", False)
    shape = (T, I) if kind == "unbatched" else (B, T, I) if bf else (T, B, I)
    out = [rng.randn(*shape).astype(dtype)]
    if with_state:
        lead = (kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1),)
        lead += () if kind == "unbatched" else (B,)
        out.append(rng.randn(*lead, kw.get("proj_size") or H).astype(dtype))
        if cls == "LSTM":
            out.append(rng.randn(*lead, H).astype(dtype))
    return out


def _forward(lib: Any, utils: Any, m: Any, row: Any, x: Any, *states: Any) -> list[Any]:
    """The module on ``x`` (packed first if the row says so); outputs padded, in batch order."""
    cls, kw, kind, _, _ = row
    bf = kw.get("batch_first", False)
    arg = x
    if kind.startswith("packed"):
        arg = utils.pack_padded_sequence(
            x, LENGTHS[kind], batch_first=bf, enforce_sorted=kind == "packed_sorted"
        )
    hx = None if not states else tuple(states) if cls == "LSTM" else states[0]
    out, hidden = m(arg) if hx is None else m(arg, hx)
    if kind.startswith("packed"):
        out, _ = utils.pad_packed_sequence(
            out, batch_first=bf, total_length=x.shape[1 if bf else 0]
        )
    return [out, *_flat(hidden)]


def _run(
    lib: Any, utils: Any, m: Any, row: Any, arrays: list[np.ndarray], compile: str | None
) -> list[np.ndarray]:
    """Loss, outputs and gradients (inputs, states, parameters) of one call, eager or
    compiled with the backend ``compile``."""
    ins = [lib.tensor(a, requires_grad=True) for a in arrays]

    def step(*args: Any) -> Any:
        outs = _forward(lib, utils, m, row, *args)
        return [_loss(outs, lib), *outs]

    fn = adjit.compile(step, backend=compile) if compile else step
    seeded = row[1].get("dropout", 0) > 0
    if seeded:
        lib.manual_seed(5)
    res = fn(*ins)
    m.zero_grad()
    res[0].backward()
    grads = [t.grad for t in ins] + [p.grad for p in m.parameters()]
    return [r.detach().numpy() for r in res] + [g.numpy() for g in grads]


def _close(got: list[np.ndarray], want: list[np.ndarray], tol: float, what: str) -> None:
    assert len(got) == len(want)
    for k, (p, q) in enumerate(zip(got, want, strict=True)):
        assert p.shape == q.shape, f"{what} {k}"
        np.testing.assert_allclose(p, q, rtol=tol, atol=tol, err_msg=f"{what} {k}")


@pytest.mark.parametrize("row", ROWS, ids=_ids)
def test_compiled_module_equals_eager_and_torch(row: Any) -> None:
    cls, kw, kind, _, dtype = row
    t, a = _modules(cls, dtype, **kw)
    arrays = _arrays(row, 5)
    eager = _run(adjit, AU, a, row, arrays, compile=None)
    compiled = _run(adjit, AU, a, row, arrays, compile="llvm")
    want = _run(torch, TU, t, row, arrays, compile=None)
    _close(compiled, eager, TOL[dtype], "compiled vs eager")
    _close(compiled, want, TOL[dtype], "compiled vs torch")


@pytest.mark.parametrize("row", ROWS, ids=_ids)
def test_graph_size_is_flat_in_T(row: Any) -> None:
    """Forward graph, and the training plan's forward and backward, count the same equations
    (loop bodies included) at T=8 and T=64; every layer is a scan."""
    cls, kw, kind, _, dtype = row
    _, a = _modules(cls, dtype, **kw)
    sizes = []
    for T in (8, 64):
        ins = [adjit.tensor(x, requires_grad=True) for x in _arrays(row, T)]
        ex = adjit.explain(lambda *args: _loss(_forward(adjit, AU, a, row, *args), adjit), *ins)
        assert _has_scan(ex.graph)
        plan = ex.plan.split
        sizes.append(tuple(count_eqns(g) for g in (ex.graph, plan.forward, plan.backward)))
    assert sizes[0] == sizes[1]
    layers = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    assert sum(e.op is Op.SCAN for e in ex.graph.eqns) == layers


def test_value_and_grad_through_a_module_equals_torch() -> None:
    """adjit.value_and_grad (a traced function, not adjit.compile) of an LSTM's loss."""
    row = ("LSTM", {"num_layers": 2, "bidirectional": True}, "padded", True, "float64")
    t, a = _modules("LSTM", "float64", **row[1])
    arrays = _arrays(row, 6)

    def loss(x: Any, h: Any, c: Any) -> Any:
        return _loss(_forward(adjit, AU, a, row, x, h, c), adjit)

    value, grads = adjit.value_and_grad(loss, argnums=(0, 1, 2))(*(adjit.tensor(x) for x in arrays))
    want = _run(torch, TU, t, row, arrays, compile=None)
    _close(
        [value.detach().numpy(), *(g.detach().numpy() for g in grads)],
        [want[0], *want[4:7]],
        1e-11,
        "vg",
    )


def test_dropout_in_training_draws_as_eager() -> None:
    """Dropout between layers runs between the scans: compiled draws eager's numbers."""
    row = ("GRU", {"num_layers": 3, "dropout": 0.5}, "padded", False, "float64")
    t, a = _modules("GRU", "float64", **row[1])
    arrays = _arrays(row, 5)
    compiled = _run(adjit, AU, a, row, arrays, compile="llvm")
    eager = _run(adjit, AU, a, row, arrays, compile=None)
    _close(compiled, eager, TOL["float64"], "dropout")
    a.eval()  # and the eval graph has no dropout
    assert not np.allclose(_run(adjit, AU, a, row, arrays, compile="llvm")[0], compiled[0])


def test_interpreter_backend_runs_the_scans() -> None:
    row = ROWS[12]  # a packed bidirectional LSTM
    _, a = _modules(row[0], row[4], **row[1])
    arrays = _arrays(row, 5)
    got = _run(adjit, AU, a, row, arrays, compile="interpreter")
    _close(got, _run(adjit, AU, a, row, arrays, compile=None), TOL["float64"], "interpreter")


# ---- hand-written cell loops ----------------------------------------------------------------
@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_loop_through_scan_equals_torch_and_is_flat(cls: str) -> None:
    """A user's loop of nn cells written with adjit.scan: compiled equals eager adjit and a
    PyTorch Python loop (values, gradients of inputs, states and weights); graph flat in T."""
    t, a = _modules(cls, "float64")
    n = 2 if cls == "LSTMCell" else 1

    def adjit_loss(xs: Any, *states: Any) -> Any:
        def body(carry: Any, x: Any) -> Any:
            new = a(x, carry if n == 2 else carry[0])
            new = tuple(new) if n == 2 else (new,)
            return new, new[0]

        final, ys = adjit.scan(body, tuple(states), xs)
        return _loss([ys, *final], adjit)

    def torch_loss(xs: Any, *states: Any) -> Any:
        carry, ys = tuple(states), []
        for x in xs:
            new = t(x, carry if n == 2 else carry[0])
            carry = tuple(new) if n == 2 else (new,)
            ys.append(carry[0])
        return _loss([torch.stack(ys), *carry], torch)

    rng = np.random.RandomState(4)
    arrays = [rng.randn(6, B, I)] + [rng.randn(B, H) for _ in range(n)]

    def run(lib: Any, m: Any, fn: Any) -> list[np.ndarray]:
        ins = [lib.tensor(x, requires_grad=True) for x in arrays]
        m.zero_grad()
        value = fn(*ins)
        value.backward()
        grads = [x.grad for x in ins] + [p.grad for p in m.parameters()]
        return [value.detach().numpy()] + [g.numpy() for g in grads]

    compiled = run(adjit, a, adjit.compile(adjit_loss))
    _close(compiled, run(adjit, a, adjit_loss), TOL["float64"], "cell loop vs eager")
    _close(compiled, run(torch, t, torch_loss), TOL["float64"], "cell loop vs torch")
    sizes = []
    for T in (8, 64):
        ins = [adjit.tensor(rng.randn(T, B, I), requires_grad=True)]
        ins += [adjit.tensor(rng.randn(B, H), requires_grad=True) for _ in range(n)]
        ex = adjit.explain(adjit_loss, *ins)
        plan = ex.plan.split
        sizes.append(tuple(count_eqns(g) for g in (ex.graph, plan.forward, plan.backward)))
    assert sizes[0] == sizes[1]
