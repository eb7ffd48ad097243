"""torch.grid_sampler (2d, 3d), affine_grid_generator, embedding_renorm_ and as_strided_ as
top-level functions, side by side with PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")


def _both(fn: Any) -> tuple[Any, Any]:
    return fn(adjit), fn(torch)


def _outcome(T: Any, fn: Any) -> tuple[str, str]:
    try:
        return "ok", str(tuple(fn(T).shape))
    except Exception as e:  # noqa: BLE001 - the type and text are what is compared
        return type(e).__name__, str(e)


RNG = np.random.default_rng(7)
X4, G4 = RNG.standard_normal((2, 3, 5, 4)), RNG.uniform(-1.2, 1.2, (2, 4, 3, 2))
X5, G5 = RNG.standard_normal((2, 2, 3, 4, 5)), RNG.uniform(-1.2, 1.2, (2, 2, 3, 2, 3))


@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("padding", [0, 1, 2])
@pytest.mark.parametrize("align", [False, True])
def test_grid_sampler_codes_as_pytorch(mode: int, padding: int, align: bool) -> None:
    cases = [("grid_sampler", X4, G4), ("grid_sampler_2d", X4, G4)]
    if mode != 2:  # (bicubic: 4-D only)
        cases += [("grid_sampler", X5, G5), ("grid_sampler_3d", X5, G5)]
    for name, x, g in cases:
        outs, grads = [], []
        for T in (adjit, torch):
            xt = T.tensor(x, requires_grad=True)
            gt = T.tensor(g, requires_grad=True)
            y = getattr(T, name)(xt, gt, mode, padding, align)
            (y * T.tensor(np.arange(y.numel()).reshape(y.shape) % 5)).sum().backward()
            outs.append(y.detach().numpy())
            grads.append((xt.grad.numpy(), gt.grad.numpy()))
            assert type(y.grad_fn).__name__ == f"GridSampler{x.ndim - 2}DBackward0"
        np.testing.assert_allclose(outs[0], outs[1], rtol=1e-12, atol=1e-12)
        for a, b in zip(grads[0], grads[1], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_grid_sampler_matches_grid_sample() -> None:
    x, g = adjit.tensor(X4), adjit.tensor(G4)
    for mode, name in enumerate(("bilinear", "nearest", "bicubic")):
        for padding, pname in enumerate(("zeros", "border", "reflection")):
            want = adjit.nn.functional.grid_sample(x, g, name, pname, align_corners=True)
            assert adjit.equal(adjit.grid_sampler(x, g, mode, padding, True), want)


GRID_ERRORS = [
    lambda T: T.grid_sampler_2d(T.tensor(X5), T.tensor(G5), 0, 0, False),
    lambda T: T.grid_sampler_3d(T.tensor(X4), T.tensor(G4), 0, 0, False),
    lambda T: T.grid_sampler_3d(T.tensor(X5), T.tensor(G5), 2, 0, False),
    lambda T: T.grid_sampler(T.tensor(X4)[0], T.tensor(G4)[1], 0, 0, False),
    lambda T: T.grid_sampler(T.tensor(X4), T.tensor(G4).float(), 0, 0, False),
    lambda T: T.grid_sampler(T.tensor(X4), T.tensor(G4), "bilinear", 0, False),
    lambda T: T.grid_sampler(T.tensor(X4), T.tensor(G4), True, 0, False),
    lambda T: T.grid_sampler(T.tensor(X4), T.tensor(G4), 1.0, 0, False),
    lambda T: T.grid_sampler(T.tensor(X4), T.tensor(G4), 0, None, False),
    lambda T: T.grid_sampler(T.tensor(X4), T.tensor(G4), 0, 0, 1),
    lambda T: T.grid_sampler(T.tensor(X4), T.tensor(G4), 0, 0, None),
    lambda T: T.grid_sampler(T.tensor(X4), T.tensor(G4), np.int64(1), 0, False),
    lambda T: T.affine_grid_generator(T.randn(2, 2, 3), [2, 2, 4], False),
    lambda T: T.affine_grid_generator(T.randn(2, 2, 3), [1, 2, 4, 4], False),
    lambda T: T.affine_grid_generator(T.randn(2, 2, 3), [2, 2, 4, 4, 4], False),
    lambda T: T.affine_grid_generator(T.randn(2, 2, 4), [2, 2, 4, 4], False),
    lambda T: T.affine_grid_generator(T.randn(2, 3, 3), [2, 2, 4, 4], False),
    lambda T: T.affine_grid_generator(T.randn(2, 3), [2, 2, 4, 4], False),
    lambda T: T.affine_grid_generator(T.randn(2, 2, 3), [2, 2, -1, 4], False),
    lambda T: T.affine_grid_generator(T.randn(2, 2, 3), [2, 2, 4, 4], 1),
    lambda T: T.affine_grid_generator(T.randn(2, 2, 3), [2, 2, 1, 4], True),
    lambda T: T.affine_grid_generator(T.randn(2, 3, 4), (2, 2, 3, 4, 5), False),
]


@pytest.mark.parametrize("case", range(len(GRID_ERRORS)))
def test_grid_ops_errors_as_pytorch(case: int) -> None:
    ours, theirs = _both(lambda T: _outcome(T, GRID_ERRORS[case]))
    assert ours == theirs


def test_grid_sampler_refuses_codes_pytorch_reads_as_garbage() -> None:
    x, g = adjit.tensor(X4), adjit.tensor(G4)
    with pytest.raises(RuntimeError, match=r"interpolation_mode must be one of 0 \(bilinear\)"):
        adjit.grid_sampler(x, g, 3, 0, False)
    with pytest.raises(RuntimeError, match=r"padding_mode must be one of .* but got -1"):
        adjit.grid_sampler(x, g, 0, -1, False)


@pytest.mark.parametrize("size", [[2, 3, 4, 5], [2, 1, 3, 4, 5], [2, 1, 1, 3]])
@pytest.mark.parametrize("align", [False, True])
def test_affine_grid_generator_as_pytorch(size: list[int], align: bool) -> None:
    theta = RNG.standard_normal((2, len(size) - 2, len(size) - 1))
    outs = []
    for T in (adjit, torch):
        t = T.tensor(theta, requires_grad=True)
        y = T.affine_grid_generator(t, size, align)
        (y**2).sum().backward()
        assert type(y.grad_fn).__name__ == "AffineGridGeneratorBackward0"
        outs.append((y.detach().numpy(), t.grad.numpy()))
    for a, b in zip(*outs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, float("inf"), 0.0])
def test_embedding_renorm_as_pytorch(norm_type: float) -> None:
    w = RNG.standard_normal((6, 4)).astype(np.float32) * 2
    idx = np.array([[0, 2], [2, -1]])
    outs = []
    for T in (adjit, torch):
        wt = T.tensor(w)
        before = wt._version
        assert T.embedding_renorm_(wt, T.tensor(idx), 1.5, norm_type) is wt
        assert wt._version > before
        outs.append(wt.numpy())
    np.testing.assert_array_equal(outs[0], outs[1])


def test_embedding_max_norm_inf_as_pytorch() -> None:
    w = RNG.standard_normal((6, 4)) * 3
    outs = []
    for T in (adjit, torch):
        wt = T.tensor(w)
        y = T.nn.functional.embedding(T.tensor([1, 3]), wt, max_norm=1.0, norm_type=float("inf"))
        outs.append((y.numpy(), wt.numpy()))
    for a, b in zip(*outs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-15)


RENORM_ERRORS = [
    lambda T: T.embedding_renorm_(T.ones(5, 3), T.tensor([0.0]), 1.0, 2.0),
    lambda T: T.embedding_renorm_(T.ones(5, 3), T.tensor([7]), 1.0, 2.0),
    lambda T: T.embedding_renorm_(T.ones(5, 3), T.tensor([2, -6, 9]), 1.0, 2.0),
    lambda T: T.embedding_renorm_(T.ones(3), T.tensor([0]), 1.0, 2.0),
    lambda T: T.embedding_renorm_(T.ones(5, 3, dtype=T.int64), T.tensor([0]), 1.0, 2.0),
    lambda T: T.embedding_renorm_(T.ones(5, 3, requires_grad=True), T.tensor([0]), 1.0, 2.0),
    lambda T: T.embedding_renorm_(T.ones(5, 3), T.tensor([0], dtype=T.int32), 1.0, 2.0),
]


@pytest.mark.parametrize("case", range(len(RENORM_ERRORS)))
def test_embedding_renorm_errors_as_pytorch(case: int) -> None:
    ours, theirs = _both(lambda T: _outcome(T, RENORM_ERRORS[case]))
    assert ours == theirs


def test_embedding_renorm_has_no_derivative_as_pytorch() -> None:
    for T in (adjit, torch):
        w = T.ones(4, 3, requires_grad=True) * 2
        y = T.embedding_renorm_(w, T.tensor([1]), 1.0, 2.0)
        assert y is w and type(y.grad_fn).__name__ == "EmbeddingRenormBackward0"
        with pytest.raises(
            NotImplementedError, match="the derivative for 'embedding_renorm' is not implemented."
        ):
            y.sum().backward()


def test_as_strided_function_as_pytorch() -> None:
    outs = []
    for T in (adjit, torch):
        x = T.arange(6.0)
        assert T.as_strided_(x, (2, 2), (1, 2), 1) is x
        outs.append((x.tolist(), x.stride(), x.storage_offset()))
    assert outs[0] == outs[1]
