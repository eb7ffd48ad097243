"""F.layer_norm's eager array path (Note [eager layer norm]): the composite's values bit for
bit, PyTorch's gradients, nodes, second derivatives and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import adjit
import adjit.nn.functional as F

CASES = [((6, 5), 1), ((3, 4, 8), 1), ((3, 4, 8), 2), ((7,), 1), ((2, 1, 3), 1)]


def _tensors(lib: object, shape: tuple[int, ...], n: int, dtype: str, affine: str,
             grads: bool = True) -> tuple:  # fmt: skip
    rng = np.random.default_rng(len(shape) * 10 + n)
    norm = shape[len(shape) - n :]
    x = lib.tensor(rng.standard_normal(shape).astype(dtype) * 2 + 1, requires_grad=grads)  # type: ignore[attr-defined]
    w = lib.tensor(rng.standard_normal(norm).astype(dtype), requires_grad=True)  # type: ignore[attr-defined]
    b = lib.tensor(rng.standard_normal(norm).astype(dtype), requires_grad=True)  # type: ignore[attr-defined]
    return x, (w if "w" in affine else None), (b if "b" in affine else None), norm


@pytest.mark.parametrize(("shape", "n"), CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("affine", ["wb", "w", ""])
def test_values_bit_for_bit_the_composite(monkeypatch: pytest.MonkeyPatch,
                                          shape: tuple[int, ...], n: int, dtype: str,
                                          affine: str) -> None:  # fmt: skip
    x, w, b, norm = _tensors(adjit, shape, n, dtype, affine)
    fast = F.layer_norm(x, norm, w, b)
    monkeypatch.setattr(F, "_eager_layer_norm", lambda *a: None)
    slow = F.layer_norm(x, norm, w, b)
    assert fast.dtype == slow.dtype and fast.shape == slow.shape
    np.testing.assert_array_equal(fast.detach().numpy(), slow.detach().numpy())


@pytest.mark.parametrize(("shape", "n"), CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("affine", ["wb", "w", ""])
def test_gradients_match_torch(shape: tuple[int, ...], n: int, dtype: str, affine: str) -> None:
    found = []
    for lib in (adjit, torch):
        x, w, b, norm = _tensors(lib, shape, n, dtype, affine)
        y = lib.nn.functional.layer_norm(x * 1, norm, w, b)  # (a non-leaf input)
        (y.sin() * y).sum().backward()
        found.append([t.grad.numpy() for t in (x, w, b) if t is not None] + [y.grad_fn.name()])
    tol = 2e-5 if dtype == "float32" else 1e-12
    for a, e in zip(*found, strict=True):
        if isinstance(a, str):
            assert a == e == "NativeLayerNormBackward0"
        else:
            np.testing.assert_allclose(a, e, rtol=tol, atol=tol * max(1.0, np.abs(e).max()))


def test_nodes_as_pytorch_makes_them() -> None:
    found = []
    for lib in (adjit, torch):
        m = lib.nn.LayerNorm(3)
        m.weight.requires_grad_(False)
        x = lib.ones(2, 3, requires_grad=True)
        plain = lib.nn.functional.layer_norm(x, (3,))
        found.append(
            [
                [f is None for f, _ in y.grad_fn.next_functions]
                for y in (m(x), plain, lib.nn.LayerNorm(3)(x))
            ]
        )
    assert found[0] == found[1] == [[False, True, False], [False, True, True], [False] * 3]


def test_double_backward_matches_torch() -> None:
    found = []
    for lib in (adjit, torch):
        x, w, b, norm = _tensors(lib, (3, 4, 8), 1, "float64", "wb")
        y = lib.nn.functional.layer_norm(x, norm, w, b)
        gx, gw = lib.autograd.grad((y**3).sum(), (x, w), create_graph=True)
        ((gx**2).sum() + (gw**2).sum()).backward()
        found.append([t.detach().numpy() for t in (gx, gw, x.grad, w.grad, b.grad)])
    for a, e in zip(*found, strict=True):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-12)


def test_node_hooks_take_the_general_path_to_the_same_gradients() -> None:
    got = []
    for hooked in (False, True):
        x, w, b, norm = _tensors(adjit, (5, 6), 1, "float64", "wb")
        y = F.layer_norm(x, norm, w, b)
        if hooked:
            y.grad_fn.register_hook(lambda gi, go: None)
        (y**2).sum().backward()
        got.append([t.grad.numpy() for t in (x, w, b)])
    for a, e in zip(*got, strict=True):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-14)


def test_input_changed_in_place_and_second_backward_are_refused() -> None:
    x = adjit.randn(4, 3, requires_grad=True) * 1
    y = F.layer_norm(x, (3,))
    x.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    z = F.layer_norm(adjit.randn(4, 3, requires_grad=True), (3,)).pow(2).sum()
    z.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        z.backward()


def test_other_cases_take_the_composite() -> None:
    x = adjit.randn(4, 3)
    for dt in (adjit.float16, adjit.bfloat16):
        got = F.layer_norm(x.to(dt), (3,)).float().numpy()
        want = torch.nn.functional.layer_norm(
            torch.tensor(x.numpy()).to(getattr(torch, str(dt).split(".")[-1])), (3,)
        )
        np.testing.assert_allclose(got, want.float().numpy(), rtol=1e-2, atol=1e-2)
    with adjit.no_grad():
        assert F.layer_norm(x.requires_grad_(), (3,)).grad_fn is None
    cf = adjit.compile(lambda t: F.layer_norm(t, (3,)).pow(2).sum())
    t = adjit.randn(4, 3, requires_grad=True)
    cf(t).backward()
    want = torch.tensor(t.detach().numpy(), requires_grad=True)
    torch.nn.functional.layer_norm(want, (3,)).pow(2).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), want.grad.numpy(), rtol=1e-4, atol=1e-5)
