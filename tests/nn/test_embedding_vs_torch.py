"""F.embedding / F.embedding_bag and nn.Embedding / nn.EmbeddingBag next to PyTorch: values,
gradients (weights and per-sample weights), errors, reprs, init and compiled programs."""

from __future__ import annotations

import random
import warnings
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")


def _bag_case(seed: int) -> dict[str, Any]:
    """A random embedding_bag call: 1-D input with offsets (some bags empty) or 2-D input."""
    rng = random.Random(seed)
    n, d = rng.randint(2, 7), rng.randint(1, 4)
    mode = rng.choice(["sum", "mean", "max"])
    np_rng = np.random.default_rng(seed)
    case: dict[str, Any] = {"mode": mode, "w": np_rng.standard_normal((n, d))}
    if rng.random() < 0.3:
        case["input"] = np_rng.integers(0, n, (rng.randint(0, 3), rng.randint(1, 4)))
        case["offsets"] = None
    else:
        length = rng.randint(0, 8)
        case["input"] = np_rng.integers(0, n, length)
        cuts = sorted(rng.randint(0, length) for _ in range(rng.randint(1, 4)))
        cuts[0] = 0
        case["include_last_offset"] = rng.random() < 0.5
        if case["include_last_offset"]:
            cuts.append(rng.randint(cuts[-1], length))  # (PyTorch's last bag runs to the end)
        case["offsets"] = np.array(cuts)
    if rng.random() < 0.4:
        case["padding_idx"] = rng.randint(-n, n - 1)
    if mode == "sum" and rng.random() < 0.5:
        case["psw"] = np_rng.standard_normal(case["input"].shape)
    return case


def _run_bag(T: Any, case: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, Any, str]:
    w = T.tensor(case["w"], requires_grad=True)
    psw = case.get("psw")
    p = None if psw is None else T.tensor(psw, requires_grad=True)
    offsets = case["offsets"]
    y = T.nn.functional.embedding_bag(
        T.tensor(case["input"]),
        w,
        None if offsets is None else T.tensor(offsets),
        mode=case["mode"],
        per_sample_weights=p,
        include_last_offset=case.get("include_last_offset", False),
        padding_idx=case.get("padding_idx"),
    )
    g = np.random.default_rng(99).standard_normal(tuple(y.shape))
    (y * T.tensor(g)).sum().backward()
    wg = np.zeros_like(case["w"]) if w.grad is None else w.grad.numpy()
    return y.detach().numpy(), wg, None if p is None else p.grad.numpy(), type(y.grad_fn).__name__


@pytest.mark.parametrize("seed", range(60))
def test_embedding_bag_matches_torch(seed: int) -> None:
    case = _bag_case(seed)
    got, want = _run_bag(adjit, case), _run_bag(torch, case)
    assert got[0].shape == want[0].shape
    np.testing.assert_allclose(got[0], want[0], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-14, atol=1e-15)
    if got[2] is not None:
        np.testing.assert_allclose(got[2], want[2], rtol=1e-14, atol=1e-15)
    assert got[3] == want[3] == "EmbeddingBagBackward0"


def test_embedding_bag_float32_and_module() -> None:
    adjit.manual_seed(0)
    torch.manual_seed(0)
    ma = adjit.nn.EmbeddingBag(6, 3, mode="max", padding_idx=-2)
    mt = torch.nn.EmbeddingBag(6, 3, mode="max", padding_idx=-2)
    assert repr(ma) == repr(mt) == "EmbeddingBag(6, 3, mode='max', padding_idx=4)"
    np.testing.assert_array_equal(ma.weight.detach().numpy(), mt.weight.detach().numpy())
    i, o = np.array([1, 4, 4, 2, 5, 0]), np.array([0, 2, 2, 5])
    ya, yt = ma(adjit.tensor(i), adjit.tensor(o)), mt(torch.tensor(i), torch.tensor(o))
    np.testing.assert_array_equal(ya.detach().numpy(), yt.detach().numpy())
    assert list(dict(ma.named_parameters())) == list(dict(mt.named_parameters())) == ["weight"]


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"max_norm": 1.0, "norm_type": 1.0, "scale_grad_by_freq": True, "mode": "sum"},
        {"mode": "mean", "include_last_offset": True, "padding_idx": 0},
    ],
)
def test_embedding_bag_reprs(kw: dict) -> None:
    assert repr(adjit.nn.EmbeddingBag(10, 3, **kw)) == repr(torch.nn.EmbeddingBag(10, 3, **kw))


def test_embedding_bag_from_pretrained() -> None:
    w = np.random.default_rng(1).standard_normal((4, 2))
    for freeze in (True, False):
        ma = adjit.nn.EmbeddingBag.from_pretrained(adjit.tensor(w), freeze=freeze, mode="sum")
        mt = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(w), freeze=freeze, mode="sum")
        assert ma.weight.requires_grad == mt.weight.requires_grad == (not freeze)
        assert repr(ma) == repr(mt)
        i = np.array([[0, 3], [2, 2]])
        np.testing.assert_array_equal(
            ma(adjit.tensor(i)).detach().numpy(), mt(torch.tensor(i)).detach().numpy()
        )


def test_embedding_bag_scale_grad_by_freq_is_the_documented_one() -> None:
    """Each looked-up row's gradient is divided by its frequency in the mini-batch. PyTorch
    2.13's CPU backward divides row r by the count of the r-th smallest index instead (here
    rows 1 and 2 get 0.5 and 2.0); adjit keeps the documented rule, which F.embedding in
    PyTorch follows."""
    w = np.eye(4)
    i = np.array([1, 2, 2, 3, 0, 0])
    a = adjit.tensor(w, requires_grad=True)
    y = adjit.nn.functional.embedding_bag(
        adjit.tensor(i), a, adjit.tensor(np.array([0])), mode="sum", scale_grad_by_freq=True
    )
    y.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.ones((4, 4)))
    # the same rule as F.embedding, whose PyTorch gradient is the documented one
    b = adjit.tensor(w, requires_grad=True)
    t = torch.tensor(w, requires_grad=True)
    adjit.nn.functional.embedding(adjit.tensor(i), b, scale_grad_by_freq=True).sum().backward()
    torch.nn.functional.embedding(torch.tensor(i), t, scale_grad_by_freq=True).sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), t.grad.numpy())


BAG_ERRORS = [
    ([1, 2], {"offsets": [1]}),
    ([1, 2], {"offsets": [0, 3]}),
    ([1, 7], {"offsets": [0]}),
    ([-1, 2], {"offsets": [0]}),
    ([1, 2], {}),
    ([[1, 2]], {"offsets": [0]}),
    ([1, 2], {"offsets": [[0]]}),
    ([1, 2], {"offsets": [0], "mode": "foo"}),
    ([1, 2], {"offsets": [0], "mode": "max", "scale_grad_by_freq": True}),
    ([1, 2], {"offsets": [0], "mode": "max", "sparse": True}),
    ([1, 2], {"offsets": [0], "mode": "mean", "per_sample_weights": [1.0, 2.0]}),
    ([1, 2], {"offsets": [0], "mode": "sum", "per_sample_weights": [1.0]}),
    ([1, 2], {"offsets": [0], "padding_idx": 7}),
    ([1.0, 2.0], {"offsets": [0]}),
    ([[[1]]], {}),
    ([1, 2], {"offsets": [0], "weight_dtype": "bool"}),
    ([1, 2], {"offsets": [0], "weight_dtype": "int64"}),
    ([1, 7], {"offsets": [0], "weight_dtype": "int64"}),
    ([1, 2], {"offsets": [0], "weight_dtype": "int64", "padding_idx": 7}),
    ([1, 2], {"offsets": [0], "mode": "sum", "per_sample_weights": [1.0, 2.0], "psw": "float64"}),
]


@pytest.mark.parametrize(("input", "kw"), BAG_ERRORS, ids=[str(k) for _, k in BAG_ERRORS])
def test_embedding_bag_errors_match_torch(input: list, kw: dict) -> None:
    # (PyTorch words a bad index differently for float64 weights and for bags after the
    # first; its offsets[0] message ends with a printed 0-d tensor: first lines compared)
    w = np.ones((5, 3), np.float32)

    def call(T: Any) -> Any:
        args = {k: T.tensor(v) if isinstance(v, list) else v for k, v in kw.items()}
        weight = T.tensor(w).to(getattr(T, args.pop("weight_dtype", "float32")))
        psw_dtype = getattr(T, args.pop("psw", "float32"))
        if "per_sample_weights" in args:
            args["per_sample_weights"] = args["per_sample_weights"].to(psw_dtype)
        return T.nn.functional.embedding_bag(T.tensor(input), weight, **args)

    with pytest.raises(Exception) as want:
        call(torch)
    with pytest.raises(type(want.value)) as got:
        call(adjit)
    assert str(got.value).splitlines()[0] == str(want.value).splitlines()[0]


def test_embedding_bag_swapped_arguments_warn() -> None:
    w, i = np.random.default_rng(2).standard_normal((5, 2)), np.array([[1, 2]])
    for T in (adjit, torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y = T.nn.functional.embedding_bag(T.tensor(w), T.tensor(i))
        assert "Argument order of nn.functional.embedding_bag was changed" in str(caught[0].message)
        assert tuple(y.shape) == (1, 2)


@pytest.mark.parametrize("backend", ["llvm", "interpreter"])
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_compiled(mode: str, backend: str) -> None:
    w = np.random.default_rng(3).standard_normal((5, 3))
    i, o = np.array([1, 2, 2, 4, 0, 3]), np.array([0, 2, 2, 5])

    def f(wt: adjit.Tensor, it: adjit.Tensor, ot: adjit.Tensor) -> adjit.Tensor:
        return adjit.nn.functional.embedding_bag(it, wt, ot, mode=mode, padding_idx=3)

    args = (adjit.tensor(w), adjit.tensor(i), adjit.tensor(o))
    eager = f(*args)
    np.testing.assert_array_equal(adjit.compile(f, backend=backend)(*args).numpy(), eager.numpy())
    wa = adjit.tensor(w, requires_grad=True)
    (f(wa, *args[1:]) ** 2).sum().backward()
    got = adjit.grad(lambda *v: (f(*v) ** 2).sum(), backend=backend)(*args)
    np.testing.assert_allclose(got.numpy(), wa.grad.numpy(), rtol=1e-15)
    # the offsets are read when the program runs: its checks too
    with pytest.raises(RuntimeError, match="offsets\\[0\\] has to be 0"):
        adjit.compile(f, backend=backend)(args[0], args[1], adjit.tensor(np.array([1, 2])))


# ---- embedding -----------------------------------------------------------------------------
EMB = [
    {},
    {"padding_idx": 2},
    {"padding_idx": -1},
    {"scale_grad_by_freq": True},
    {"scale_grad_by_freq": True, "padding_idx": 0},
    {"max_norm": 1.0},
    {"max_norm": 0.5, "norm_type": 1.0},
]


@pytest.mark.parametrize("kw", EMB, ids=str)
def test_embedding_matches_torch(kw: dict) -> None:
    w = np.random.default_rng(4).standard_normal((5, 3))
    i = np.array([[0, 2, 4], [2, 2, 1]])
    a, t = adjit.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    ya = adjit.nn.functional.embedding(adjit.tensor(i), a, **kw)
    yt = torch.nn.functional.embedding(torch.tensor(i), t, **kw)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-15)
    # max_norm rescales the looked-up rows of the weight in place, as PyTorch's
    np.testing.assert_allclose(a.detach().numpy(), t.detach().numpy(), rtol=1e-15)
    assert type(ya.grad_fn).__name__ == type(yt.grad_fn).__name__
    g = np.random.default_rng(5).standard_normal(tuple(yt.shape))
    (ya * adjit.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-15)


def test_embedding_errors_match_torch() -> None:
    w = np.ones((5, 3))
    for i, kw in [
        (np.array([1.0]), {}),
        (np.array([1], np.int16), {}),
        (np.array([True]), {}),
        (np.array([1]), {"padding_idx": 5}),
        (np.array([1]), {"padding_idx": -6}),
        (np.array([7]), {}),
    ]:
        with pytest.raises(Exception) as want:
            torch.nn.functional.embedding(torch.tensor(i), torch.tensor(w), **kw)
        with pytest.raises(type(want.value)) as got:
            adjit.nn.functional.embedding(adjit.tensor(i), adjit.tensor(w), **kw)
        assert str(got.value) == str(want.value)


def test_compiled_sparse_gradients_are_refused_clearly() -> None:
    """Eager embedding(sparse=True) gives sparse gradients (tests/runtime/
    test_sparse_vs_torch.py); compiled ones are refused."""
    w = adjit.ones(5, 3, requires_grad=True)
    embed = adjit.compile(lambda i: adjit.nn.functional.embedding(i, w, sparse=True))
    with pytest.raises(NotImplementedError, match="sparse=True"):
        embed(adjit.tensor([1]))
    bags = adjit.compile(lambda i: adjit.nn.functional.embedding_bag(i, w, sparse=True))
    with pytest.raises(NotImplementedError, match="sparse=True"):
        bags(adjit.tensor([[1, 2]]))
    adjit.nn.functional.embedding(adjit.tensor([1]), w, sparse=True).sum().backward()
    assert w.grad.is_sparse
    with adjit.no_grad():  # no gradient, no sparse gradient: the values
        assert adjit.nn.functional.embedding(adjit.tensor([1]), w, sparse=True).shape == (1, 3)


def test_embedding_module_passes_every_option() -> None:
    adjit.manual_seed(0)
    torch.manual_seed(0)
    kw = {"padding_idx": 1, "max_norm": 1.0, "scale_grad_by_freq": True}
    ma, mt = adjit.nn.Embedding(6, 3, **kw), torch.nn.Embedding(6, 3, **kw)
    assert repr(ma) == repr(mt)
    np.testing.assert_array_equal(ma.weight.detach().numpy(), mt.weight.detach().numpy())
    i = np.array([1, 3, 3, 5])
    ya, yt = ma(adjit.tensor(i)), mt(torch.tensor(i))
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-6)
    ya.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(ma.weight.grad.numpy(), mt.weight.grad.numpy(), rtol=1e-6)


def test_embedding_from_pretrained() -> None:
    w = np.random.default_rng(6).standard_normal((4, 2))
    ma = adjit.nn.Embedding.from_pretrained(adjit.tensor(w), freeze=False, padding_idx=1)
    mt = torch.nn.Embedding.from_pretrained(torch.tensor(w), freeze=False, padding_idx=1)
    assert repr(ma) == repr(mt)
    assert ma.weight.requires_grad and mt.weight.requires_grad
    with pytest.raises(AssertionError, match="Shape of weight does not match"):
        adjit.nn.Embedding(3, 2, _weight=adjit.tensor(w))


def test_max_norm_renormalizes_in_place_and_refuses_compiling() -> None:
    w = np.random.default_rng(11).standard_normal((5, 3)) * 2
    i, o = np.array([1, 2, 2, 4]), np.array([0, 2])
    a, t = adjit.tensor(w), torch.tensor(w)
    ya = adjit.nn.functional.embedding_bag(adjit.tensor(i), a, adjit.tensor(o), max_norm=1.5)
    yt = torch.nn.functional.embedding_bag(torch.tensor(i), t, torch.tensor(o), max_norm=1.5)
    np.testing.assert_allclose(ya.numpy(), yt.numpy(), rtol=1e-15)
    np.testing.assert_allclose(a.numpy(), t.numpy(), rtol=1e-15)  # the rows rescaled in place
    for f in (
        lambda wt, it: adjit.nn.functional.embedding(it, wt, max_norm=1.0),
        lambda wt, it: adjit.nn.functional.embedding_bag(it, wt, adjit.tensor([0]), max_norm=1.0),
    ):
        with pytest.raises(adjit.TracingError, match="max_norm rescales weight rows"):
            adjit.compile(f, fullgraph=True)(adjit.tensor(w), adjit.tensor(i))
        wc, we = adjit.tensor(w), adjit.tensor(w)  # by default a graph break: as eagerly
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (the warning that the function was split)
            got = adjit.compile(f)(wc, adjit.tensor(i))
        np.testing.assert_array_equal(got.numpy(), f(we, adjit.tensor(i)).numpy())
        np.testing.assert_array_equal(wc.numpy(), we.numpy())  # rescaled in place as eagerly


def test_max_mode_ties_go_to_the_first_maximum() -> None:
    """Equal values in a bag: PyTorch's kernel keeps (and sends the gradient to) the first."""
    w = np.array([[1.0, 2.0], [1.0, 3.0], [0.0, 3.0]])
    i, o = np.array([0, 1, 2, 1, 1]), np.array([0, 3, 3])
    got = _run_bag(adjit, {"w": w, "input": i, "offsets": o, "mode": "max"})
    want = _run_bag(torch, {"w": w, "input": i, "offsets": o, "mode": "max"})
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
