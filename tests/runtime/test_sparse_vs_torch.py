"""Sparse COO/CSR tensors side by side with PyTorch: construction, printing, ops, gradients
(sparse gradients of sparse inputs), refusals (Note [sparse tensors] in runtime/sparse.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:.*[Ss]parse:UserWarning")

RNG = np.random.default_rng(0)
IDX = np.array([[1, 0, 1, 2, 0], [2, 0, 2, 1, 3]])  # uncoalesced: (1, 2) twice
VALS = RNG.standard_normal(5).astype(np.float32)
X = RNG.standard_normal((4, 3)).astype(np.float32)
HYB_IDX = np.array([[0, 2, 0]])
HYB_VALS = RNG.standard_normal((3, 2)).astype(np.float32)


def _both(fn: Callable[[Any], Any]) -> tuple[Any, Any]:
    return fn(adjit), fn(torch)


def _as_np(t: Any) -> np.ndarray:
    t = t.detach()
    if t.layout is not (adjit if isinstance(t, adjit.Tensor) else torch).strided:
        t = t.to_dense()
    return np.asarray(t.numpy() if isinstance(t, torch.Tensor) else t.numpy())


def _same(a: Any, t: Any, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Same layout, coalesced flag, indices and values (or dense values)."""
    assert str(a.layout) == str(t.layout)
    assert a.shape == tuple(t.shape) and str(a.dtype) == str(t.dtype)
    if t.layout == torch.sparse_coo:
        assert a.is_coalesced() == t.is_coalesced()
        np.testing.assert_array_equal(a._indices().numpy(), t._indices().numpy())
        np.testing.assert_allclose(a._values().numpy(), t._values().numpy(), rtol, atol)
    else:
        np.testing.assert_allclose(_as_np(a), _as_np(t), rtol, atol)


def _same_grad(a: Any, t: Any) -> None:
    """A sparse gradient: PyTorch's entries (the order and the coalesced flag of PyTorch's
    masked gradients follow its op-by-op backward formulas and may differ)."""
    assert a.layout is adjit.sparse_coo and a.shape == tuple(t.shape)
    _same(a.coalesce(), t.coalesce())


def _coo(
    lib: Any, idx: np.ndarray = IDX, vals: np.ndarray = VALS, size: Any = (3, 4), **kw: Any
) -> Any:
    return lib.sparse_coo_tensor(lib.tensor(idx), lib.tensor(vals.copy()), size, **kw)


# ---- construction and printing ---------------------------------------------------------------
PRINTED = {
    "uncoalesced": lambda lib: _coo(lib),
    "coalesced": lambda lib: _coo(lib).coalesce(),
    "requires_grad": lambda lib: _coo(lib, requires_grad=True),
    "grad_fn": lambda lib: lib.sparse_coo_tensor(
        lib.tensor(IDX), lib.tensor(VALS).requires_grad_(), (3, 4)
    ),
    "inferred_size_ints": lambda lib: lib.sparse_coo_tensor([[0, 1], [1, 0]], [1, 2]),
    "float64": lambda lib: _coo(lib, vals=VALS.astype(np.float64)),
    "hybrid": lambda lib: _coo(lib, HYB_IDX, HYB_VALS, (3, 2)),
    "empty": lambda lib: lib.sparse_coo_tensor(
        lib.zeros(2, 0, dtype=lib.long), lib.zeros(0), (2, 2)
    ),
    "to_sparse": lambda lib: lib.tensor(X).to_sparse(),
    "to_sparse_1": lambda lib: lib.tensor([[0.0, 1.0], [0.0, 0.0], [2.0, 0.0]]).to_sparse(1),
    "csr": lambda lib: lib.tensor([[0.0, 1.0, 0.0], [2.0, 0.0, 3.0]]).to_sparse_csr(),
    "csr_tensor": lambda lib: lib.sparse_csr_tensor(
        lib.tensor([0, 2, 3]), lib.tensor([0, 2, 1]), lib.tensor([1.0, 2.0, 3.0])
    ),
    "transpose": lambda lib: _coo(lib, requires_grad=True).coalesce().t(),
    "mul": lambda lib: _coo(lib).coalesce() * 2,
    "sum_dim": lambda lib: lib.sparse.sum(_coo(lib, requires_grad=True), 0),
    "softmax": lambda lib: lib.sparse.softmax(_coo(lib, requires_grad=True), 1),
}


@pytest.mark.parametrize("case", sorted(PRINTED))
def test_printing_matches_torch(case: str) -> None:
    a, t = _both(PRINTED[case])
    assert repr(a) == repr(t)


def test_metadata() -> None:
    a, t = _both(lambda lib: _coo(lib))
    got = (a.is_sparse, a.is_sparse_csr, a.sparse_dim(), a.dense_dim(), a._nnz(), a.is_coalesced())
    assert got == (t.is_sparse, t.is_sparse_csr, t.sparse_dim(), t.dense_dim(), t._nnz(), False)
    assert a.layout is adjit.sparse_coo and a.shape == adjit.Size([3, 4]) and a.ndim == 2
    c = a.coalesce()
    assert c.is_coalesced() and c.coalesce() is c
    c = a.to_sparse_csr()
    assert c.layout is adjit.sparse_csr and c.is_sparse_csr and not c.is_sparse
    np.testing.assert_array_equal(
        c.crow_indices().numpy(), t.to_sparse_csr().crow_indices().numpy()
    )
    np.testing.assert_array_equal(c.col_indices().numpy(), t.to_sparse_csr().col_indices().numpy())
    assert not adjit.ones(2).is_sparse and adjit.ones(2).layout is adjit.strided
    assert (a.stride(), a.is_contiguous()) == (t.stride(), t.is_contiguous())
    f_a, f_t = _both(lambda lib: lib.sparse_coo_tensor(lib.tensor([[0.0, 2.0]]), lib.ones(2)))
    assert repr(f_a) == repr(f_t)  # floating indices: cast, as PyTorch casts them


def test_values_and_indices_share_memory_as_torch() -> None:
    def run(lib: Any) -> str:
        s = _coo(lib).coalesce()
        s.values().mul_(2)
        s._values().add_(1)
        return repr(s)

    a, t = _both(run)
    assert a == t


ERRORS = {
    "bounds": lambda lib: _coo(lib, size=(2, 4), check_invariants=True),
    "negative": lambda lib: _coo(lib, np.array([[-1]]), VALS[:1], (2,), check_invariants=True),
    "ndims": lambda lib: lib.sparse_coo_tensor(lib.tensor(IDX), lib.tensor(VALS), (3, 4, 2)),
    "nnz": lambda lib: lib.sparse_coo_tensor(lib.tensor(IDX), lib.tensor(VALS[:3]), (3, 4)),
    "values_uncoalesced": lambda lib: _coo(lib).values(),
    "indices_uncoalesced": lambda lib: _coo(lib).indices(),
    "dense_indices": lambda lib: lib.ones(2).indices(),
    "dense_values": lambda lib: lib.ones(2).values(),
    "dense_coalesce": lambda lib: lib.ones(2).coalesce(),
    "dense_crow": lambda lib: lib.ones(2, 2).crow_indices(),
    "sparse_plus_dense": lambda lib: _coo(lib) + lib.ones(3, 4),
    "exp": lambda lib: _coo(lib).exp(),
    "view": lambda lib: _coo(lib).view(4, 3),
    "cumsum": lambda lib: lib.cumsum(_coo(lib), 0),
    "numpy": lambda lib: _coo(lib).numpy(),
    "csr_view": lambda lib: lib.ones(2, 2).to_sparse_csr().view(4),
    "mm_vector": lambda lib: lib.sparse.mm(_coo(lib), lib.ones(4)),
    "mm_dtypes": lambda lib: _coo(lib) @ lib.ones(4, 2, dtype=lib.float64),
    "sum_dims_twice": lambda lib: lib.sparse.sum(_coo(lib), (0, 0)),
    "to_dense_dtype": lambda lib: _coo(lib).to_dense(dtype=lib.float64),
    "not_coalesced": lambda lib: _coo(lib, is_coalesced=True, check_invariants=True),
    "mm_reduce": lambda lib: lib.sparse.mm(_coo(lib), lib.ones(4, 2), "mean"),
    "to_sparse_dim": lambda lib: _coo(lib).to_sparse(1),
    "dense_to_sparse_dim": lambda lib: lib.ones(2, 3).to_sparse(3),
    "tolist": lambda lib: _coo(lib).tolist(),
    "reshape": lambda lib: _coo(lib).reshape(12),
    "plus_number": lambda lib: _coo(lib) + 1,
    "eq": lambda lib: _coo(lib) == _coo(lib),
    "bad_indices": lambda lib: lib.sparse_coo_tensor(lib.tensor([0, 1]), lib.tensor([1.0, 2.0])),
    "mm_shapes": lambda lib: lib.sparse.mm(_coo(lib), lib.ones(3, 2)),
    "embedding_freq": lambda lib: (
        lib.nn.functional.embedding(
            lib.tensor([0, 1]),
            lib.ones(3, 2, requires_grad=True),
            scale_grad_by_freq=True,
            sparse=True,
        )
        .sum()
        .backward()
    ),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_errors_match_torch(case: str) -> None:
    with pytest.raises(Exception) as ta:
        ERRORS[case](torch)
    with pytest.raises(type(ta.value)) as aa:
        ERRORS[case](adjit)
    head = str(ta.value).split(" This could be")[0].split("\n")[0]
    assert str(aa.value).startswith(head)


# ---- values and gradients ------------------------------------------------------------------
def _leaf(lib: Any) -> Any:
    return _coo(lib, requires_grad=True)


def _from_values(lib: Any) -> tuple[Any, Any]:
    v = lib.tensor(VALS).requires_grad_()
    return v, lib.sparse_coo_tensor(lib.tensor(IDX), v, (3, 4))


OPS: dict[str, Callable[[Any, Any, Any], Any]] = {  # (lib, sparse input, dense x) -> output
    "sparse_mm": lambda lib, s, x: lib.sparse.mm(s, x),
    "torch_mm": lambda lib, s, x: lib.mm(s, x),
    "matmul_op": lambda lib, s, x: s @ x,
    "dense_at_sparse": lambda lib, s, x: x.t() @ s.t(),
    "vector_at_sparse": lambda lib, s, x: x[:3, 0] @ s,
    "sparse_at_vector": lambda lib, s, x: s @ x[:, 0],
    "mv": lambda lib, s, x: lib.mv(s.coalesce().to_dense(), x[:, 0]) + (s @ x[:, 1]),
    "sparse_addmm": lambda lib, s, x: lib.sparse.addmm(lib.ones(3, 3), s, x, beta=0.5, alpha=2.0),
    "addmm": lambda lib, s, x: lib.addmm(lib.ones(3, 3), s, x, beta=0.5, alpha=2.0),
    "spmm": lambda lib, s, x: lib.spmm(s, x),
    "to_dense": lambda lib, s, x: s.to_dense() * lib.arange(12.0).reshape(3, 4),
    "coalesce_values": lambda lib, s, x: s.coalesce().values() ** 2,
    "add_sparse": lambda lib, s, x: (s + s.coalesce() * 3).to_dense() ** 2,
    "sub_sparse": lambda lib, s, x: (s.coalesce() - s.coalesce().t().t()).to_dense(),
    "dense_plus_sparse": lambda lib, s, x: (lib.ones(3, 4) + s) ** 2,
    "neg_scale": lambda lib, s, x: ((-s) / 4 * 3).to_dense().sin(),
    "mul_dense": lambda lib, s, x: (s.coalesce() * lib.arange(12.0).reshape(3, 4)).to_dense(),
    "mul_sparse": lambda lib, s, x: (s * s.coalesce()).to_dense(),
    "sum": lambda lib, s, x: s.sum() * 2,
    "sparse_sum_dim0": lambda lib, s, x: lib.sparse.sum(s, 0).to_dense() ** 2,
    "sparse_sum_dim1": lambda lib, s, x: lib.sparse.sum(s, 1).to_dense() ** 2,
    "sparse_sum_all": lambda lib, s, x: lib.sparse.sum(s, (0, 1)) ** 2,
    "softmax1": lambda lib, s, x: (
        lib.sparse.softmax(s, 1).to_dense() * lib.arange(12.0).reshape(3, 4)
    ),
    "softmax0": lambda lib, s, x: (
        lib.sparse.softmax(s, 0).to_dense() * lib.arange(12.0).reshape(3, 4)
    ),
    "log_softmax": lambda lib, s, x: lib.sparse.log_softmax(s, 1).to_dense() ** 2,
    "transpose_mm": lambda lib, s, x: lib.sparse.mm(s.transpose(0, 1), x[:3]),
    "relu_abs": lambda lib, s, x: (s.relu().abs() - s.abs()).to_dense(),
    "sparse_mask": lambda lib, s, x: (x.t() * 2).sparse_mask(s.coalesce()).to_dense() + s,
}


def _run(lib: Any, case: str, through_values: bool) -> tuple[Any, list[Any]]:
    x = lib.tensor(X).requires_grad_()
    v, s = _from_values(lib) if through_values else (None, _leaf(lib))
    out = OPS[case](lib, s, x)
    out_d = out.to_dense() if out.layout != lib.strided else out
    out_d.backward(lib.ones(out_d.shape) if out_d.ndim else None)
    leaf = v if through_values else s
    return out, [leaf.grad, x.grad]


@pytest.mark.parametrize("through_values", [False, True], ids=["sparse_leaf", "values_leaf"])
@pytest.mark.parametrize("case", sorted(OPS))
def test_op_and_gradients_match_torch(case: str, through_values: bool) -> None:
    (a, ga), (t, gt) = _run(adjit, case, through_values), _run(torch, case, through_values)
    _same(a, t)
    if a.grad_fn is not None or t.grad_fn is not None:
        assert type(a.grad_fn).__name__ == type(t.grad_fn).__name__
    for g_a, g_t in zip(ga, gt, strict=True):
        assert (g_a is None) == (g_t is None)
        if g_t is not None:
            if g_t.layout == torch.sparse_coo:  # PyTorch's layout, and its entries
                _same_grad(g_a, g_t)
            else:
                assert g_a.layout is adjit.strided
                np.testing.assert_allclose(_as_np(g_a), _as_np(g_t), 1e-5, 1e-5)


@pytest.mark.parametrize("op", ["sparse_mm", "mm", "matmul"])
def test_sparse_times_sparse_matches_torch(op: str) -> None:
    def run(lib: Any) -> list[Any]:
        a = _leaf(lib)
        b = _coo(lib, IDX[::-1].copy(), VALS * 2, (4, 3), requires_grad=True)
        f = {"sparse_mm": lib.sparse.mm, "mm": lib.mm, "matmul": lambda x, y: x @ y}[op]
        c = f(a, b)
        (c.to_dense() * lib.arange(9.0).reshape(3, 3)).sum().backward()
        return [c, a.grad, b.grad, type(c.grad_fn).__name__]

    (c_a, *ga, name_a), (c_t, *gt, name_t) = _both(run)
    _same(c_a, c_t)
    assert name_a == name_t
    for g_a, g_t in zip(ga, gt, strict=True):
        _same_grad(g_a, g_t)


CSR_OPS = {
    "matmul": lambda lib, c, x: c @ x,
    "mm": lambda lib, c, x: lib.mm(c, x),
    "sparse_mm": lambda lib, c, x: lib.sparse.mm(c, x),
    "add": lambda lib, c, x: c + c,
    "scale": lambda lib, c, x: c * 2,
    "sum": lambda lib, c, x: c.sum(),
    "to_sparse": lambda lib, c, x: c.to_sparse(),
    "to_dense": lambda lib, c, x: c.to_dense(),
    "values": lambda lib, c, x: c.values(),
}


@pytest.mark.parametrize("case", sorted(CSR_OPS))
def test_csr_ops_match_torch(case: str) -> None:
    def run(lib: Any) -> tuple[Any, Any]:
        c = lib.tensor([[0.0, 1.0, 0.0], [2.0, 0.0, 3.0]]).to_sparse_csr()
        x = lib.arange(6.0).reshape(3, 2).requires_grad_()
        out = CSR_OPS[case](lib, c, x)
        if out.requires_grad:
            out.sum().backward()
        return out, x.grad

    (a, ga), (t, gt) = _both(run)
    assert repr(a) == repr(t)
    assert (ga is None) == (gt is None)
    if gt is not None:
        np.testing.assert_array_equal(ga.numpy(), gt.numpy())


def test_hybrid_ops_match_torch() -> None:
    def run(lib: Any) -> list[Any]:
        s = _coo(lib, HYB_IDX, HYB_VALS, (3, 2), requires_grad=True)
        outs = [
            s.coalesce(),
            lib.sparse.sum(s, 1),
            lib.sparse.softmax(s, 0),
            lib.sparse.softmax(s.coalesce(), 1),
        ]
        (outs[0].to_dense() ** 2).sum().backward()
        return [*outs, s.grad]

    for a, t in zip(run(adjit), run(torch), strict=True):
        _same(a, t)


def test_grad_accumulates_as_torch() -> None:
    """Two backwards into a sparse leaf: sparse + sparse (PyTorch's merge of the indices)."""

    def run(lib: Any) -> Any:
        s = _leaf(lib)
        x = lib.tensor(X)
        for _ in range(2):
            lib.sparse.mm(s, x).sum().backward()
        lib.mm(s, x).sum().backward()  # a dense gradient into the sparse .grad
        return s.grad

    a, t = run(adjit), run(torch)
    _same(a, t)


# ---- embeddings and optimizers --------------------------------------------------------------
W0 = RNG.standard_normal((6, 3)).astype(np.float32)
EMB_IDX = [[0, 1, 3], [3, 3, 5]]


def _train(
    lib: Any, make_opt: Callable[[Any], Any], padding_idx: Any = None, steps: int = 3
) -> Any:
    emb = lib.nn.Embedding(6, 3, sparse=True, padding_idx=padding_idx)
    with lib.no_grad():
        emb.weight.copy_(lib.tensor(W0))
    opt = make_opt(emb.parameters())
    idx = lib.tensor(EMB_IDX)
    for _ in range(steps):
        opt.zero_grad()
        (emb(idx) ** 2).sum().backward()
        opt.step()
    return emb, opt


@pytest.mark.parametrize(
    "make",
    [
        lambda lib, p: lib.optim.SGD(p, lr=0.1),
        lambda lib, p: lib.optim.SGD(p, lr=0.1, momentum=0.9),
        lambda lib, p: lib.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, dampening=0),
        lambda lib, p: lib.optim.SGD(p, lr=0.1, maximize=True),
        lambda lib, p: lib.optim.SparseAdam(p, lr=0.05),
        lambda lib, p: lib.optim.SparseAdam(p, lr=0.05, maximize=True),
        lambda lib, p: lib.optim.Adagrad(p, lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1),
        lambda lib, p: lib.optim.Adagrad(p, lr=0.1, maximize=True),
    ],
    ids=["sgd", "momentum", "nesterov", "maximize", "sparse_adam", "sparse_adam_max", "adagrad"]
    + ["adagrad_max"],
)
def test_sparse_embedding_training_matches_torch(make: Any) -> None:
    (ea, _), (et, _) = _both(lambda lib: _train(lib, lambda p: make(lib, p), padding_idx=1))
    np.testing.assert_allclose(ea.weight.detach().numpy(), et.weight.detach().numpy(), 1e-5, 1e-6)
    _same(ea.weight.grad, et.weight.grad)


BAGS = {  # embedding_bag(sparse=True): (input, offsets, keywords)
    "sum": ([1, 2, 4, 5, 4, 3, 2], [0, 2, 2, 5], {"mode": "sum"}),
    "mean": ([1, 2, 4, 5, 4, 3, 2], [0, 2, 2, 5], {"mode": "mean"}),
    "mean_padding": ([1, 2, 4, 5, 4, 3, 2], [0, 2, 2, 5], {"mode": "mean", "padding_idx": 4}),
    "weights": ([1, 2, 4, 5, 4, 3, 2], [0, 2, 2, 5], {"mode": "sum", "psw": True}),
    "2d": ([[1, 2], [3, 1]], None, {"mode": "mean"}),
}


@pytest.mark.parametrize("case", sorted(BAGS))
def test_embedding_bag_sparse_grads_match_torch(case: str) -> None:
    inp, offsets, kw = BAGS[case]

    def run(lib: Any) -> tuple[Any, ...]:
        w = lib.tensor(W0).requires_grad_()
        psw = lib.arange(7.0).requires_grad_() if kw.get("psw") else None
        off = None if offsets is None else lib.tensor(offsets)
        args = {k: v for k, v in kw.items() if k != "psw"}
        out = lib.nn.functional.embedding_bag(
            lib.tensor(inp), w, off, sparse=True, per_sample_weights=psw, **args
        )
        (out * lib.arange(float(out.numel())).reshape(out.shape)).sum().backward()
        return out, w.grad, None if psw is None else psw.grad

    (oa, ga, pa), (ot, gt, pt) = _both(run)
    np.testing.assert_allclose(oa.detach().numpy(), ot.detach().numpy(), 1e-6)
    assert type(oa.grad_fn).__name__ == type(ot.grad_fn).__name__
    assert repr(ga) == repr(gt)
    if pt is not None:
        np.testing.assert_allclose(pa.numpy(), pt.numpy(), 1e-6)


def test_embedding_sparse_grad_prints_as_torch() -> None:
    def run(lib: Any) -> Any:
        w = lib.tensor(W0).requires_grad_()
        lib.nn.functional.embedding(
            lib.tensor(EMB_IDX), w, padding_idx=3, sparse=True
        ).sum().backward()
        return w.grad

    a, t = _both(run)
    assert repr(a) == repr(t)


REFUSED_STEPS = {
    "adam": lambda lib, p: lib.optim.Adam(p),
    "adamw": lambda lib, p: lib.optim.AdamW(p),
    "rmsprop": lambda lib, p: lib.optim.RMSprop(p),
    "sgd_weight_decay": lambda lib, p: lib.optim.SGD(p, lr=0.1, weight_decay=0.1),
    "adagrad_weight_decay": lambda lib, p: lib.optim.Adagrad(p, weight_decay=0.1),
    "clip_grad_norm": lambda lib, p: _Clip(lib, p),
}


class _Clip:
    """clip_grad_norm_ as a step: PyTorch has no norm of sparse gradients."""

    def __init__(self, lib: Any, params: Any) -> None:
        self.lib, self.params = lib, list(params)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        self.lib.nn.utils.clip_grad_norm_(self.params, 1.0)


@pytest.mark.parametrize("case", sorted(REFUSED_STEPS))
def test_refused_steps_match_torch(case: str) -> None:
    with pytest.raises(Exception) as want:
        _train(torch, lambda p: REFUSED_STEPS[case](torch, p), steps=1)
    with pytest.raises(type(want.value)) as got:
        _train(adjit, lambda p: REFUSED_STEPS[case](adjit, p), steps=1)
    assert str(got.value).startswith(str(want.value).split(" This could be")[0])


def test_sparse_adam_refuses_dense_grads() -> None:
    w = adjit.ones(2, requires_grad=True)
    (w * 2).sum().backward()
    with pytest.raises(RuntimeError, match="SparseAdam does not support dense gradients"):
        adjit.optim.SparseAdam([w]).step()


# ---- compile ----------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:.*graph break:UserWarning")
def test_compile_breaks_around_sparse_ops() -> None:
    """Sparse ops inside adjit.compile run eagerly between compiled segments (graph breaks),
    a sparse argument is passed as an object; fullgraph=True refuses, naming sparse tensors."""
    s = _coo(adjit).coalesce()

    def f(x: Any) -> Any:
        return adjit.sparse.mm(s, x * 2) + 1

    def g(a: Any, x: Any) -> Any:
        return ((a @ x).sum() + (x.t() @ a.t()).sum()) * 3

    x = adjit.tensor(X, requires_grad=True)
    want_f, want_g = f(x), g(s, x)
    (want_f.sum() + want_g).backward()
    want_grad = x.grad.numpy().copy()
    cf, cg = adjit.compile(f), adjit.compile(g)
    for _ in range(2):
        x.grad = None
        got_f, got_g = cf(x), cg(s, x)
        (got_f.sum() + got_g).backward()
        np.testing.assert_array_equal(got_f.detach().numpy(), want_f.detach().numpy())
        # (the compiled sums may round differently: float32 ulps)
        np.testing.assert_allclose(got_g.detach().numpy(), want_g.detach().numpy(), 1e-6)
        np.testing.assert_allclose(x.grad.numpy(), want_grad, 1e-6)
    other = s * 2  # another sparse argument: never the first one's result
    np.testing.assert_allclose(cg(other, x).detach().numpy(), g(other, x).detach().numpy(), 1e-6)
    with pytest.raises(RuntimeError, match="sparse tensors are not supported in compiled code"):
        adjit.compile(f, fullgraph=True)(x)


# ---- a graph network, end to end ---------------------------------------------------------------
EDGES = np.array([[0, 1, 1, 2, 2, 3, 3, 4, 4, 0, 0, 2], [1, 0, 2, 1, 3, 2, 4, 3, 0, 4, 2, 0]])
FEATS = RNG.standard_normal((5, 4)).astype(np.float32)
W1 = (RNG.standard_normal((4, 8)) * 0.5).astype(np.float32)
W2 = (RNG.standard_normal((8, 3)) * 0.5).astype(np.float32)
ATT = RNG.standard_normal(12).astype(np.float32)


def _gcn_losses(lib: Any, steps: int = 5) -> tuple[list[float], Any]:
    """A two-layer GCN (normalized sparse adjacency with self loops, torch.sparse.mm) and an
    attention-weighted layer (sparse softmax of learned edge scores), trained with Adam."""
    n = 5
    loops = np.stack([np.arange(n), np.arange(n)])
    idx = lib.tensor(np.concatenate([EDGES, loops], axis=1))
    adj = lib.sparse_coo_tensor(idx, lib.ones(idx.shape[1]), (n, n)).coalesce()
    deg = lib.sparse.sum(adj, 1).to_dense()
    d = deg.pow(-0.5)
    row, col = adj.indices()
    norm = lib.sparse_coo_tensor(adj.indices(), d[row] * adj.values() * d[col], (n, n))
    w1, w2 = lib.tensor(W1).requires_grad_(), lib.tensor(W2).requires_grad_()
    att = lib.tensor(ATT).requires_grad_()
    x, target = lib.tensor(FEATS), lib.tensor([0, 1, 2, 1, 0])
    opt = lib.optim.Adam([w1, w2, att], lr=0.05)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        h = lib.relu(lib.sparse.mm(norm, x @ w1))
        scores = lib.sparse_coo_tensor(lib.tensor(EDGES), att, (n, n))
        alpha = lib.sparse.softmax(scores, 1)
        h = h + lib.sparse.mm(alpha, h)
        out = lib.spmm(norm, h @ w2)
        loss = lib.nn.functional.cross_entropy(out, target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, (w1, w2, att)


def test_gcn_training_matches_torch() -> None:
    (la, pa), (lt, pt) = _both(_gcn_losses)
    np.testing.assert_allclose(la, lt, rtol=1e-5)
    for a, t in zip(pa, pt, strict=True):
        np.testing.assert_allclose(a.detach().numpy(), t.detach().numpy(), rtol=1e-5, atol=1e-6)
