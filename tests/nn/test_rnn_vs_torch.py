"""nn.RNN/LSTM/GRU, the cells and nn.utils.rnn side by side with PyTorch: same seed -> same
weights, then outputs, final states and every gradient; packed, unbatched, dropout; errors;
state_dict keys and reprs; adjit.compile of forward+backward vs eager."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch
from torch.nn.utils import rnn as TU

import adjit
from adjit import nn
from adjit.nn.utils import rnn as AU

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
TOL = {"float64": 1e-12, "float32": 2e-5}
I, H = 4, 5


def _modules(cls: str, dtype: str, **kw: Any) -> tuple[Any, Any]:
    """The same module built in both libraries from the same seed (our draws are PyTorch's)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dropout with one layer
        torch.manual_seed(0)
        t = getattr(torch.nn, cls)(I, H, **kw, dtype=getattr(torch, dtype))
        adjit.manual_seed(0)
        a = getattr(nn, cls)(I, H, **kw, dtype=getattr(adjit, dtype))
    names_t = [n for n, _ in t.named_parameters()]
    assert [n for n, _ in a.named_parameters()] == names_t
    for (n, p), q in zip(t.named_parameters(), a.parameters(), strict=True):
        assert np.array_equal(p.detach().numpy(), q.detach().numpy()), n  # bit for bit
    return t, a


def _flat(o: Any) -> list[Any]:
    if isinstance(o, (tuple, list)):
        return [z for x in o for z in _flat(x)]
    return [o]


def _close(a: Any, t: Any, tol: float, what: str) -> None:
    a, t = np.asarray(a), np.asarray(t)
    assert a.shape == t.shape, what
    np.testing.assert_allclose(a, t, rtol=tol, atol=tol, err_msg=what)


def _loss(outs: list[Any], lib: Any) -> Any:
    """A loss that weights every element differently, so that each gradient is checked."""
    total = 0
    for k, o in enumerate(outs):
        w = np.cos(np.arange(o.numel()) * 0.37 + k).reshape(tuple(o.shape))
        total = total + (o * lib.tensor(w, dtype=o.dtype)).sum()
    return total


# family, constructor keywords
FAMILIES = [
    ("RNN", {}),
    ("RNN", {"nonlinearity": "relu"}),
    ("LSTM", {}),
    ("LSTM", {"proj_size": 3}),
    ("GRU", {}),
]
# layers, bidirectional, batch_first, input kind, dtype, bias, initial state
SETUPS = [
    (1, False, False, "padded", "float64", True, False),
    (2, True, True, "padded", "float64", True, True),
    (2, True, False, "packed", "float64", True, True),
    (3, False, True, "packed_sorted", "float64", False, False),
    (2, True, True, "unbatched", "float64", True, True),
    (1, False, False, "unbatched", "float64", False, False),
    (2, True, False, "padded", "float32", True, True),
    (2, True, True, "packed", "float32", True, False),
]
LENGTHS = [3, 6, 1, 4]  # distinct: PyTorch's unstable sort puts ties in another order


def _inputs(kind: str, batch_first: bool, dtype: str) -> np.ndarray:
    rng = np.random.RandomState(1)
    if kind == "unbatched":
        return rng.randn(6, I).astype(dtype)
    return rng.randn(*((4, 6, I) if batch_first else (6, 4, I))).astype(dtype)


def _states(cls: str, kw: dict[str, Any], layers: int, bi: bool, kind: str, dtype: str) -> Any:
    rng = np.random.RandomState(2)
    lead = (layers * (2 if bi else 1),) + (() if kind == "unbatched" else (4,))
    h = rng.randn(*lead, kw.get("proj_size") or H).astype(dtype)
    return [h, rng.randn(*lead, H).astype(dtype)] if cls == "LSTM" else [h]


def _call(lib: Any, utils: Any, m: Any, x: Any, states: Any, kind: str, bf: bool) -> list[Any]:
    """Run the module; everything comparable comes out padded, in the batch's order."""
    arg = x
    if kind.startswith("packed"):
        lengths = sorted(LENGTHS, reverse=True) if kind == "packed_sorted" else LENGTHS
        arg = utils.pack_padded_sequence(
            x, lib.tensor(lengths), batch_first=bf, enforce_sorted=kind == "packed_sorted"
        )
    hx = None if states is None else (tuple(states) if len(states) == 2 else states[0])
    out, hidden = m(arg) if hx is None else m(arg, hx)
    if kind.startswith("packed"):
        assert isinstance(out, utils.PackedSequence)
        out, lengths = utils.pad_packed_sequence(out, batch_first=bf)
    return [out, *_flat(hidden)]


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f[0] + "".join(f[1]))
@pytest.mark.parametrize("setup", SETUPS, ids=lambda s: "-".join(map(str, s)))
def test_recurrent_layer_matches_torch(family: Any, setup: Any) -> None:
    cls, kw = family
    layers, bi, bf, kind, dtype, bias, with_state = setup
    kw = dict(kw, num_layers=layers, bidirectional=bi, batch_first=bf, bias=bias)
    t, a = _modules(cls, dtype, **kw)
    x = _inputs(kind, bf, dtype)
    states = _states(cls, kw, layers, bi, kind, dtype) if with_state else None
    xt, xa = torch.tensor(x, requires_grad=True), adjit.tensor(x, requires_grad=True)
    st = None if states is None else [torch.tensor(s, requires_grad=True) for s in states]
    sa = None if states is None else [adjit.tensor(s, requires_grad=True) for s in states]
    ot = _call(torch, TU, t, xt, st, kind, bf)
    oa = _call(adjit, AU, a, xa, sa, kind, bf)
    tol = TOL[dtype]
    for k, (p, q) in enumerate(zip(oa, ot, strict=True)):
        _close(p.detach().numpy(), q.detach().numpy(), tol, f"output {k}")
        if dtype == "float64":  # (float32 LSTMs run through oneDNN: other nodes)
            assert type(p.grad_fn).__name__ == type(q.grad_fn).__name__, f"output {k}"
    _loss(ot, torch).backward()
    _loss(oa, adjit).backward()
    _close(xa.grad.numpy(), xt.grad.numpy(), tol, "input grad")
    for p, q in zip(sa or [], st or [], strict=True):
        _close(p.grad.numpy(), q.grad.numpy(), tol, "state grad")
    for (n, p), q in zip(t.named_parameters(), a.parameters(), strict=True):
        _close(q.grad.numpy(), p.grad.numpy(), tol, n)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_dropout_between_layers_draws_as_torch(cls: str, dtype: str) -> None:
    t, a = _modules(cls, dtype, num_layers=3, dropout=0.4, bidirectional=True)
    x = _inputs("padded", False, dtype)
    torch.manual_seed(7)
    adjit.manual_seed(7)
    ot, oa = _flat(t(torch.tensor(x))), _flat(a(adjit.tensor(x)))
    for p, q in zip(oa, ot, strict=True):
        _close(p.detach().numpy(), q.detach().numpy(), TOL[dtype], "dropout output")
    lengths = [6, 2, 5, 3]  # a packed input: PyTorch drops elements of its data
    pt = TU.pack_padded_sequence(torch.tensor(x), lengths, enforce_sorted=False)
    pa = AU.pack_padded_sequence(adjit.tensor(x), lengths, enforce_sorted=False)
    torch.manual_seed(8)
    adjit.manual_seed(8)
    (ot, ht), (oa, ha) = t(pt), a(pa)
    for p, q in zip([oa.data, *_flat(ha)], [ot.data, *_flat(ht)], strict=True):
        _close(p.detach().numpy(), q.detach().numpy(), TOL[dtype], "packed dropout output")
    t.eval()
    a.eval()  # no dropout outside training: equal to a second eval run of torch
    for p, q in zip(_flat(a(adjit.tensor(x))), _flat(t(torch.tensor(x))), strict=True):
        _close(p.detach().numpy(), q.detach().numpy(), TOL[dtype], "eval output")


# ---- cells ------------------------------------------------------------------------------------
CELLS = [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("LSTMCell", {}), ("GRUCell", {})]


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c[0] + "".join(c[1].values()))
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_cell_matches_torch(cell: Any, batched: bool, with_state: bool, bias: bool) -> None:
    cls, kw = cell
    t, a = _modules(cls, "float64", bias=bias, **kw)
    rng = np.random.RandomState(3)
    lead = (3,) if batched else ()
    x = rng.randn(*lead, I)
    n_states = 2 if cls == "LSTMCell" else 1
    states = [rng.randn(*lead, H) for _ in range(n_states)]
    xt, xa = torch.tensor(x, requires_grad=True), adjit.tensor(x, requires_grad=True)
    st = [torch.tensor(s, requires_grad=True) for s in states]
    sa = [adjit.tensor(s, requires_grad=True) for s in states]
    hx_t = (tuple(st) if n_states == 2 else st[0]) if with_state else None
    hx_a = (tuple(sa) if n_states == 2 else sa[0]) if with_state else None
    ot, oa = _flat(t(xt, hx_t)), _flat(a(xa, hx_a))
    for p, q in zip(oa, ot, strict=True):
        _close(p.detach().numpy(), q.detach().numpy(), 1e-12, "cell output")
    _loss(ot, torch).backward()
    _loss(oa, adjit).backward()
    _close(xa.grad.numpy(), xt.grad.numpy(), 1e-12, "input grad")
    if with_state:
        for p, q in zip(sa, st, strict=True):
            _close(p.grad.numpy(), q.grad.numpy(), 1e-12, "state grad")
    for (n, p), q in zip(t.named_parameters(), a.parameters(), strict=True):
        _close(q.grad.numpy(), p.grad.numpy(), 1e-12, n)


# ---- construction: keys, reprs, errors ----------------------------------------------------------
CONSTRUCT = [
    ("RNN", (4, 5), {}),
    ("RNN", (4, 5, 2, "relu", False, True, 0.5, True), {}),
    ("LSTM", (4, 5), {"num_layers": 2, "proj_size": 2, "bidirectional": True}),
    ("LSTM", (4, 5), {"bias": False, "batch_first": True, "proj_size": 3}),
    ("GRU", (4, 5, 3), {"dropout": 0.25, "bidirectional": True}),
    ("RNNCell", (4, 5), {"bias": False, "nonlinearity": "relu"}),
    ("LSTMCell", (4, 5), {}),
    ("GRUCell", (4, 5), {"bias": False}),
]


@pytest.mark.parametrize("cls,args,kw", CONSTRUCT)
def test_keys_repr_and_init_as_torch(cls: str, args: Any, kw: Any) -> None:
    torch.manual_seed(0)
    t = getattr(torch.nn, cls)(*args, **kw)
    adjit.manual_seed(0)
    a = getattr(nn, cls)(*args, **kw)
    assert repr(a) == repr(t)
    assert list(a.state_dict()) == list(t.state_dict())
    for k, v in t.state_dict().items():
        assert np.array_equal(a.state_dict()[k].numpy(), v.numpy()), k
    a.load_state_dict({k: adjit.tensor(v.numpy()) for k, v in t.state_dict().items()})
    if hasattr(t, "all_weights"):
        assert [[w.shape for w in ws] for ws in a.all_weights] == [
            [tuple(w.shape) for w in ws] for ws in t.all_weights
        ]
        a.flatten_parameters()


BAD_CONFIG = [
    ("RNN", (4, 5), {"dropout": 1.5}),
    ("RNN", (4, 5), {"dropout": True}),
    ("RNN", (4, 5), {"nonlinearity": "gelu"}),
    ("RNN", (4, 5), {"proj_size": 2}),
    ("GRU", (4, 5), {"proj_size": 2}),
    ("LSTM", (4, 5), {"proj_size": 5}),
    ("LSTM", (4, 5), {"proj_size": -1}),
    ("LSTM", (4, 0), {}),
    ("LSTM", (0, 5), {}),
    ("LSTM", (4, 5.0), {}),
    ("LSTM", (4, 5), {"num_layers": 0}),
    ("LSTM", (4, 5), {"bias": 1}),
    ("LSTM", (4, 5), {"batch_first": None}),
]


def _same_error(run_a: Any, run_t: Any) -> None:
    with pytest.raises(Exception) as et:
        run_t()
    with pytest.raises(type(et.value)) as ea:
        run_a()
    assert str(ea.value) == str(et.value)


@pytest.mark.parametrize("cls,args,kw", BAD_CONFIG)
def test_constructor_errors_as_torch(cls: str, args: Any, kw: Any) -> None:
    _same_error(lambda: getattr(nn, cls)(*args, **kw), lambda: getattr(torch.nn, cls)(*args, **kw))


def test_dropout_warning_as_torch() -> None:
    with pytest.warns(UserWarning) as wt:
        torch.nn.GRU(4, 5, dropout=0.5)
    with pytest.warns(UserWarning) as wa:
        nn.GRU(4, 5, dropout=0.5)
    assert str(wa[0].message) == str(wt[0].message)


def _np(shape: tuple[int, ...], dtype: str = "float64") -> np.ndarray:
    return np.random.RandomState(0).randn(*shape).astype(dtype)


BAD_CALLS = [
    ("LSTM", {}, [(6, 3, 3)], None),
    ("LSTM", {}, [(0, 3, 4)], None),
    ("GRU", {"batch_first": True}, [(3, 0, 4)], None),
    ("LSTM", {}, [(6, 3, 4, 1)], None),
    ("RNN", {}, [(6, 3, 4, 1)], None),
    ("GRU", {}, [(6,)], None),
    ("GRU", {}, [(6, 3, 4)], [(1, 2, 5)]),
    ("RNN", {}, [(6, 3, 4)], [(2, 3, 5)]),
    ("RNN", {}, [(6, 3, 4)], [(3, 5)]),
    ("RNN", {}, [(6, 4)], [(1, 3, 5)]),
    ("LSTM", {}, [(6, 3, 4)], [(1, 3, 5), (1, 3, 4)]),
    ("LSTM", {"proj_size": 2}, [(6, 3, 4)], [(1, 3, 5), (1, 3, 5)]),
    ("LSTM", {}, [(6, 3, 4)], [(3, 5), (1, 3, 5)]),
    ("LSTM", {}, [(6, 4)], [(1, 3, 5), (1, 5)]),
    ("RNNCell", {}, [(3, 3)], None),
    ("RNNCell", {}, [(2, 3, 4)], None),
    ("RNNCell", {}, [(3, 4)], [(2, 5)]),
    ("RNNCell", {}, [(3, 4)], [(1, 3, 5)]),
    ("GRUCell", {}, [(3, 4)], [(3, 6)]),
    ("LSTMCell", {}, [(3, 4)], [(3, 5), (3, 4)]),
    ("LSTMCell", {}, [(3, 4)], [(3, 5), (1, 3, 5)]),
    ("LSTMCell", {}, [(3, 4)], [(2, 5), (3, 5)]),
]


@pytest.mark.parametrize("cls,kw,xs,hs", BAD_CALLS)
def test_call_errors_as_torch(cls: str, kw: Any, xs: Any, hs: Any) -> None:
    t, a = _modules(cls, "float64", **kw)

    def run(lib: Any, m: Any) -> Any:
        x = lib.tensor(_np(xs[0]))
        if hs is None:
            return m(x)
        h = [lib.tensor(_np(s)) for s in hs]
        return m(x, tuple(h) if cls.startswith("LSTM") else h[0])

    _same_error(lambda: run(adjit, a), lambda: run(torch, t))


def test_dtype_mismatch_error_as_torch() -> None:
    t, a = _modules("GRU", "float32")
    _same_error(lambda: a(adjit.tensor(_np((6, 3, 4)))), lambda: t(torch.tensor(_np((6, 3, 4)))))


# ---- nn.utils.rnn ------------------------------------------------------------------------------
LIBS = ((adjit, AU), (torch, TU))


def _both(fn: Any) -> tuple[Any, Any]:
    return fn(adjit, AU), fn(torch, TU)


def _seqs(lib: Any, lengths: list[int], dtype: str = "float64") -> list[Any]:
    return [lib.tensor(_np((n, 2, 3), dtype) + k) for k, n in enumerate(lengths)]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_as_torch(batch_first: bool, side: str) -> None:
    a, t = _both(lambda lib, u: u.pad_sequence(_seqs(lib, [2, 5, 1]), batch_first, -1.5, side))
    _close(a.numpy(), t.numpy(), 0, "pad_sequence")
    assert a.dtype == adjit.float64
    seqs = [adjit.tensor(_np((n, 3)), requires_grad=True) for n in (2, 4)]
    out = AU.pad_sequence(seqs, batch_first, padding_side=side)
    assert type(out.grad_fn).__name__ == "CopySlices"
    (out * out).sum().backward()
    _close(seqs[1].grad.numpy(), 2 * seqs[1].detach().numpy(), 0, "pad_sequence grad")


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths", [[5, 3, 3, 1], [2, 5, 1, 4], [1, 1, 1, 1]])
@pytest.mark.parametrize("as_tensor", [False, True])
def test_pack_and_pad_packed_round_trip_as_torch(
    batch_first: bool, lengths: list[int], as_tensor: bool
) -> None:
    sorted_ = lengths == sorted(lengths, reverse=True)
    x = _np((4, 6, 3) if batch_first else (6, 4, 3))

    def pack(lib: Any, u: Any) -> Any:
        n = lib.tensor(lengths) if as_tensor else lengths
        return u.pack_padded_sequence(lib.tensor(x), n, batch_first, enforce_sorted=sorted_)

    pa, pt = _both(pack)
    assert pa.batch_sizes.tolist() == pt.batch_sizes.tolist()
    assert pa.batch_sizes.dtype == adjit.int64
    if len(set(lengths)) == len(lengths) or sorted_:  # ties: PyTorch's sort is unstable
        _close(pa.data.numpy(), pt.data.numpy(), 0, "packed data")
        for k in ("sorted_indices", "unsorted_indices"):
            got, want = getattr(pa, k), getattr(pt, k)
            assert (got is None) == (want is None)
            if want is not None:
                assert got.tolist() == want.tolist()
    for total in (None, 8):
        (ya, la), (yt, lt) = (
            u.pad_packed_sequence(p, batch_first, 0.5, total) for u, p in ((AU, pa), (TU, pt))
        )
        _close(ya.numpy(), yt.numpy(), 0, "padded")
        assert la.tolist() == lt.tolist() and la.dtype == adjit.int64
    ua, ut = AU.unpack_sequence(pa), TU.unpack_sequence(pt)
    for p, q in zip(ua, ut, strict=True):
        _close(p.numpy(), q.numpy(), 0, "unpack_sequence")


def test_pack_gradients_and_grad_fn_names() -> None:
    x = adjit.tensor(_np((5, 3, 2)), requires_grad=True)
    packed = AU.pack_padded_sequence(x, [5, 2, 1])
    assert type(packed.data.grad_fn).__name__ == "PackPaddedSequenceBackward0"
    padded, _ = AU.pad_packed_sequence(packed, padding_value=3.0)
    (padded * padded).sum().backward()
    mask = (np.arange(5)[:, None] < np.array([5, 2, 1])[None, :])[..., None]
    _close(x.grad.numpy(), 2 * x.detach().numpy() * mask, 0, "pack/pad grad")


def test_pack_sequence_and_unpad_sequence_as_torch() -> None:
    for enforce in (True, False):
        lengths = [4, 2, 1] if enforce else [2, 4, 1]
        pa, pt = (u.pack_sequence(_seqs(lib, lengths), enforce) for lib, u in LIBS)
        _close(pa.data.numpy(), pt.data.numpy(), 0, "pack_sequence")
        assert pa.batch_sizes.tolist() == pt.batch_sizes.tolist()
    for bf in (False, True):
        shape = (3, 5, 2) if bf else (5, 3, 2)
        xa, xt = adjit.tensor(_np(shape)), torch.tensor(_np(shape))
        ua = AU.unpad_sequence(xa, adjit.tensor([5, 2, 3]), bf)
        ut = TU.unpad_sequence(xt, torch.tensor([5, 2, 3]), bf)
        for p, q in zip(ua, ut, strict=True):
            _close(p.numpy(), q.numpy(), 0, "unpad_sequence")
        assert xa.shape == tuple(xt.shape)  # PyTorch transposes the argument in place


def test_packed_sequence_is_a_namedtuple_as_torch() -> None:
    p = AU.pack_sequence([adjit.ones(3, 2), adjit.ones(2, 2)])
    data, batch_sizes, sorted_indices, unsorted_indices = p
    assert p._fields == TU.PackedSequence._fields
    assert sorted_indices is None and unsorted_indices is None and data is p.data
    q = AU.PackedSequence(p.data, p.batch_sizes, adjit.tensor([1, 0]))
    assert q.unsorted_indices.tolist() == [1, 0]
    assert p.double().data.dtype == adjit.float64
    assert AU.invert_permutation(adjit.tensor([2, 0, 1])).tolist() == [1, 2, 0]


UTIL_ERRORS = [
    lambda lib, u: u.pack_padded_sequence(lib.tensor(_np((4, 3, 2))), [4, 3]),
    lambda lib, u: u.pack_padded_sequence(lib.tensor(_np((4, 3, 2))), [4, 3, 0]),
    lambda lib, u: u.pack_padded_sequence(lib.tensor(_np((4, 3, 2))), [3, 4, 1]),
    lambda lib, u: u.pack_padded_sequence(lib.tensor(_np((4, 3, 2))), lib.tensor([[4, 3, 1]])),
    lambda lib, u: u.pack_padded_sequence(lib.tensor(_np((0, 3, 2))), [1, 1, 1]),
    lambda lib, u: u.pack_padded_sequence(lib.tensor(_np((4, 3, 2))), [4, 3, -1], False, False),
    lambda lib, u: u.pad_sequence([]),
    lambda lib, u: u.pad_sequence(3),
    lambda lib, u: u.pad_sequence([lib.ones(2, 3), lib.ones(3, 2)]),
    lambda lib, u: u.pad_sequence([lib.ones(2)], padding_side="middle"),
    lambda lib, u: u.pack_sequence([lib.ones(2), lib.ones(3)]),
    lambda lib, u: u.pad_packed_sequence(
        u.pack_padded_sequence(lib.tensor(_np((4, 3, 2))), [4, 3, 1]), total_length=3
    ),
]


@pytest.mark.parametrize("case", range(len(UTIL_ERRORS)))
def test_utils_errors_as_torch(case: int) -> None:
    fn = UTIL_ERRORS[case]
    _same_error(lambda: fn(adjit, AU), lambda: fn(torch, TU))


def test_pack_refuses_lengths_beyond_the_input() -> None:
    """PyTorch reads past the input (a garbage result); we refuse."""
    with pytest.raises(RuntimeError, match="exceeds the padded input's 4 time steps"):
        AU.pack_padded_sequence(adjit.tensor(_np((4, 3, 2))), [5, 3, 1])


# ---- compiled forward + backward -----------------------------------------------------------------
@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_compiled_forward_backward_matches_eager(cls: str) -> None:
    kw = {"proj_size": 2} if cls == "LSTM" else {}
    _, m = _modules(cls, "float64", num_layers=2, bidirectional=True, **kw)
    x = adjit.tensor(_inputs("padded", False, "float64")[:2])  # unrolled: ~0.3 s a step to build

    def step(x: Any) -> Any:
        out, hidden = m(x)
        return _loss([out, *_flat(hidden)], adjit)

    def grads(fn: Any) -> list[np.ndarray]:
        m.zero_grad()
        loss = fn(x)
        loss.backward()
        return [loss.detach().numpy()] + [p.grad.numpy() for p in m.parameters()]

    want, got = grads(step), grads(adjit.compile(step))
    for p, q in zip(got, want, strict=True):
        _close(p, q, 1e-12, "compiled")


def test_double_backward_and_packed_repr_as_torch() -> None:
    """Gradients of gradients (create_graph) through a 2-layer GRU; PackedSequence prints as
    PyTorch's namedtuple does."""
    x = _np((3, 2, 4))
    grads = []
    for lib in (torch, adjit):
        lib.manual_seed(0)
        m = lib.nn.GRU(I, H, num_layers=2).double()
        xx = lib.tensor(x, requires_grad=True)
        (g,) = lib.autograd.grad((m(xx)[0] ** 2).sum(), xx, create_graph=True)
        (g * g).sum().backward()
        grads.append([p.grad.numpy() for p in m.parameters()])
    for p, q in zip(*grads, strict=True):
        _close(p, q, 1e-12, "double backward")
    for enforce in (True, False):
        xs = np.arange(6.0).reshape(3, 2, 1)
        lengths = [3, 1] if enforce else [1, 3]
        ra = repr(AU.pack_padded_sequence(adjit.tensor(xs), lengths, enforce_sorted=enforce))
        rt = repr(TU.pack_padded_sequence(torch.tensor(xs), lengths, enforce_sorted=enforce))
        assert ra == rt
