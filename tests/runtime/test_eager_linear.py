"""F.linear's eager array path (Note [eager linear]): bit for bit the composite's values and
gradients, PyTorch's node structure, errors and hooks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from adjit.runtime import eager_linear

import adjit
import adjit.nn.functional as F

SHAPES = [((5, 3), 4), ((2, 5, 3), 4), ((2, 3, 5, 3), 1), ((7, 1), 2), ((0, 3), 2)]


def _run(xs: tuple[int, ...], out: int, bias: bool, dtype: str, grads: tuple[bool, bool],
         fast: bool, monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:  # fmt: skip
    """The output and the gradients of (x, w, b) of ``F.linear``, by the array path or the
    composite (the array path turned off)."""
    if not fast:
        monkeypatch.setattr(F, "_eager_linear", lambda *a: None)
    rng = np.random.default_rng(0)
    x = adjit.tensor(rng.standard_normal(xs).astype(dtype), requires_grad=grads[0])
    w = adjit.tensor(rng.standard_normal((out, xs[-1])).astype(dtype), requires_grad=grads[1])
    b = adjit.tensor(rng.standard_normal(out).astype(dtype), requires_grad=True) if bias else None
    y = F.linear(x * 1 if grads[0] else x, w, b)  # (x * 1: a non-leaf input too)
    g = adjit.tensor(rng.standard_normal(tuple(y.shape)).astype(dtype))
    y.backward(g)
    monkeypatch.undo()
    found = [y.detach().numpy()]
    for t in (x, w, b):
        found.append(None if t is None or t.grad is None else t.grad.numpy())
    return found


@pytest.mark.parametrize(("xs", "out"), SHAPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("grads", [(True, True), (False, True), (True, False)])
def test_bit_for_bit_the_composite(monkeypatch: pytest.MonkeyPatch, xs: tuple[int, ...],
                                   out: int, bias: bool, dtype: str,
                                   grads: tuple[bool, bool]) -> None:  # fmt: skip
    fast = _run(xs, out, bias, dtype, grads, True, monkeypatch)
    slow = _run(xs, out, bias, dtype, grads, False, monkeypatch)
    for a, b in zip(fast, slow, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert a.dtype == b.dtype and a.shape == b.shape
            assert np.array_equal(a, b)


@pytest.mark.parametrize(("xs", "out"), SHAPES[:3])
@pytest.mark.parametrize("bias", [True, False])
def test_values_and_gradients_match_torch(xs: tuple[int, ...], out: int, bias: bool) -> None:
    rng = np.random.default_rng(1)
    xn = rng.standard_normal(xs).astype(np.float32)
    wn = rng.standard_normal((out, xs[-1])).astype(np.float32)
    bn = rng.standard_normal(out).astype(np.float32)
    got, want = [], []
    for lib, found in ((adjit, got), (torch, want)):
        x, w = lib.tensor(xn, requires_grad=True), lib.tensor(wn, requires_grad=True)
        b = lib.tensor(bn, requires_grad=True) if bias else None
        y = lib.nn.functional.linear(x, w, b)
        (y.sin().sum()).backward()
        found += [y.detach().numpy(), x.grad.numpy(), w.grad.numpy()]
        found += [b.grad.numpy()] if bias else []
        found.append(y.grad_fn.name())
    for a, b in zip(got[:-1], want[:-1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(b).max()))
    if len(xs) == 2:  # (PyTorch flattens a batch: its ViewBackward0 before the addmm)
        assert got[-1] == want[-1]


def test_nodes_as_pytorch_makes_them() -> None:
    for lib in (adjit, torch):
        m = lib.nn.Linear(3, 2)
        x = lib.ones(4, 3, requires_grad=True)
        y = m(x)
        names = [type(f).__name__ if f is not None else None for f, _ in y.grad_fn.next_functions]
        t_node = y.grad_fn.next_functions[2][0]
        found = (
            y.grad_fn.name(),
            names,
            type(t_node.next_functions[0][0]).__name__,
            t_node.next_functions[0][0].variable is m.weight,
        )
        if lib is adjit:
            got = found
    assert got == found == ("AddmmBackward0", ["AccumulateGrad"] * 2 + ["TBackward0"],
                            "AccumulateGrad", True)  # fmt: skip
    frozen = []
    for lib in (adjit, torch):
        m = lib.nn.Linear(3, 2, bias=False)
        m.weight.requires_grad_(False)
        y = m(lib.ones(4, 3, requires_grad=True))
        frozen.append([f is None for f, _ in y.grad_fn.next_functions] + [y.grad_fn.name()])
    assert frozen[0] == frozen[1] == [False, True, "MmBackward0"]


def test_node_hooks_see_pytorchs_gradient_count() -> None:
    seen = []
    for lib in (adjit, torch):
        y = lib.nn.Linear(3, 2)(lib.ones(2, 3))
        y.grad_fn.register_hook(lambda gi, go: seen.append((len(gi), len(go), gi[1] is None)))
        y.sum().backward()
    assert seen[0] == seen[1] == (3, 1, True)


def test_double_backward_matches_torch() -> None:
    rng = np.random.default_rng(2)
    xn, wn = rng.standard_normal((4, 3)), rng.standard_normal((2, 3))
    found = []
    for lib in (adjit, torch):
        x = lib.tensor(xn, requires_grad=True)
        w = lib.tensor(wn, requires_grad=True)
        y = lib.nn.functional.linear(x, w, lib.zeros(2, dtype=lib.float64))
        (g,) = lib.autograd.grad(y.pow(3).sum(), x, create_graph=True)
        g.pow(2).sum().backward()
        found.append((x.grad.numpy(), w.grad.numpy()))
    for a, b in zip(*found, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_input_changed_in_place_is_refused() -> None:
    messages = []
    for lib in (adjit, torch):
        x = lib.ones(4, 3, requires_grad=True) * 1
        y = lib.nn.Linear(3, 2)(x)
        x.add_(1)
        with pytest.raises(RuntimeError) as e:
            y.sum().backward()
        messages.append(str(e.value).split(":")[0])
    assert (
        messages[0]
        == messages[1]
        == (
            "one of the variables needed for gradient computation has been modified by an "
            "inplace operation"
        )
    )


def test_second_backward_refused_unless_retained() -> None:
    m = adjit.nn.Linear(3, 2)
    y = m(adjit.ones(2, 3)).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(m.weight.grad.numpy(), np.full((2, 3), 4.0, np.float32))
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()


def test_saved_tensor_hooks_pack_what_pytorch_packs() -> None:
    packed = []
    for lib in (adjit, torch):
        shapes: list[tuple[int, ...]] = []

        def pack(t: object, shapes: list = shapes) -> object:
            shapes.append(tuple(t.shape))  # type: ignore[attr-defined]
            return t

        m = lib.nn.Linear(3, 2)
        with lib.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            y = m(lib.ones(4, 3, requires_grad=True))
        y.sum().backward()
        packed.append(sorted(shapes))
    assert packed[0] == packed[1] == [(3, 2), (4, 3)]


def test_other_dtypes_and_modes_take_the_composite() -> None:
    calls = []
    real = eager_linear.linear

    def spy(*args: object) -> object:
        got = real(*args)  # type: ignore[arg-type]
        calls.append(got is not None)
        return got

    rng = np.random.default_rng(3)
    xn, wn = rng.standard_normal((4, 3)), rng.standard_normal((2, 3))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(F, "_eager_linear", spy)
        for dt in ("float16", "bfloat16"):
            x = adjit.tensor(xn).to(getattr(adjit, dt))
            y = F.linear(x, adjit.tensor(wn).to(getattr(adjit, dt)))
            want = torch.nn.functional.linear(
                torch.tensor(xn).to(getattr(torch, dt)), torch.tensor(wn).to(getattr(torch, dt))
            )
            np.testing.assert_array_equal(y.float().numpy(), want.float().numpy())
        cf = adjit.compile(lambda x, w: F.linear(x, w).sum())
        x, w = adjit.tensor(xn, requires_grad=True), adjit.tensor(wn, requires_grad=True)
        cf(x, w).backward()
        np.testing.assert_allclose(w.grad.numpy(), np.broadcast_to(xn.sum(0), (2, 3)))
    assert calls[:2] == [False, False]
    with pytest.raises(RuntimeError):
        F.linear(adjit.ones(4, 5), adjit.ones(2, 3))


def test_no_grad_and_inference_results_have_no_history() -> None:
    m = adjit.nn.Linear(3, 2)
    with adjit.no_grad():
        y = m(adjit.ones(2, 3))
    assert y.grad_fn is None and not y.requires_grad
    with adjit.inference_mode():
        z = m(adjit.ones(2, 3))
    assert z.is_inference() and z.grad_fn is None
    np.testing.assert_array_equal(y.numpy(), z.numpy())


@pytest.mark.parametrize("frozen", ["weight", "input"])
def test_create_graph_with_one_operand_frozen(frozen: str) -> None:
    rng = np.random.default_rng(4)
    xn, wn = rng.standard_normal((4, 3)), rng.standard_normal((2, 3))
    found = []
    for lib in (adjit, torch):
        x = lib.tensor(xn, requires_grad=frozen != "input")
        w = lib.tensor(wn, requires_grad=frozen != "weight")
        wrt = x if frozen == "weight" else w
        (g,) = lib.autograd.grad(lib.nn.functional.linear(x, w).pow(3).sum(), wrt,
                                 create_graph=True)  # fmt: skip
        g.pow(2).sum().backward()
        found.append((g.detach().numpy(), wrt.grad.numpy()))
    for a, b in zip(*found, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def _error(lib: object, xs: tuple[int, ...], dts: tuple[str, str, str | None],
           bias_shape: tuple[int, ...] = (4,)) -> str:  # fmt: skip
    x = lib.ones(*xs, dtype=getattr(lib, dts[0]))  # type: ignore[attr-defined]
    w = lib.ones(4, 3, dtype=getattr(lib, dts[1]))  # type: ignore[attr-defined]
    b = None if dts[2] is None else lib.ones(*bias_shape, dtype=getattr(lib, dts[2]))  # type: ignore[attr-defined]
    try:
        lib.nn.functional.linear(x, w, b)  # type: ignore[attr-defined]
    except RuntimeError as e:
        return str(e)
    return "ok"


@pytest.mark.parametrize("xs", [(2, 3), (5, 2, 3), (3,)])
@pytest.mark.parametrize(
    "dts",
    [("float32", "float32", "float64"), ("float32", "float64", "float32"),
     ("float32", "float64", None), ("float32", "float64", "float64"),
     ("float64", "float32", "float32"), ("float64", "float32", "float64")],
)  # fmt: skip
def test_dtype_errors_as_torch(xs: tuple[int, ...], dts: tuple[str, str, str | None]) -> None:
    assert _error(adjit, xs, dts) == _error(torch, xs, dts) != "ok"


@pytest.mark.parametrize(("xs", "bias"), [((2, 3), (5,)), ((5, 2, 3), (5,)), ((3,), (5,)),
                                          ((2, 3), (1,)), ((2, 3), (2, 4))])  # fmt: skip
def test_bias_size_errors_as_torch(xs: tuple[int, ...], bias: tuple[int, ...]) -> None:
    dts = ("float32", "float32", "float32")
    assert _error(adjit, xs, dts, bias) == _error(torch, xs, dts, bias)
